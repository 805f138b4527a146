package builder

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	opennebulav1alpha1 "github.com/opennebula-operator/opennebula-operator/api/v1alpha1"
)

// The image contract (docs/opennebula.md): files under /var/lib/one belong to oneadmin.
const (
	// ContainerName is the frontend container's name.
	ContainerName = "opennebula"
	// SSHDContainerName is the SSH server sidecar's name.
	SSHDContainerName = "sshd"
	// ProxyContainerName is the FireEdge proxy sidecar's name.
	ProxyContainerName = "fireedge-proxy"
	// DataMountPath holds one_auth, one_key, datastores, remotes, .ssh and the SQLite DB.
	DataMountPath = "/var/lib/one"
	// OneadminUID and OneadminGID own the files under /var/lib/one.
	OneadminUID int64 = 9869
	OneadminGID int64 = 9869

	configVolume = "config"
	// raftServersVolume mounts the recorded Raft server IDs at RaftServersDir.
	raftServersVolume = "raft-servers"
	keysVolume        = "keys"
	sshKeysVolume     = "ssh-keys"
	sshKeysMount      = "/etc/opennebula-ssh-keys"
)

// StatefulSet runs the frontend pod with /var/lib/one on a volume from a
// volumeClaimTemplate, so the data follows the pod across restarts and reschedules.
func StatefulSet(fe *opennebulav1alpha1.OpenNebulaFrontend, opts Options, in Inputs) *appsv1.StatefulSet {
	names := NamesFor(fe.Name)
	pod := fe.Spec.Pod
	return &appsv1.StatefulSet{
		TypeMeta: statefulSetType,
		ObjectMeta: metav1.ObjectMeta{
			Name:      names.StatefulSet,
			Namespace: fe.Namespace,
			Labels:    Labels(fe),
		},
		Spec: appsv1.StatefulSetSpec{
			Replicas:    new(statefulSetReplicas(fe, in)),
			ServiceName: names.HeadlessService,
			Selector:    &metav1.LabelSelector{MatchLabels: SelectorLabels(fe)},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: mergeMaps(pod.Labels, Labels(fe)), Annotations: podAnnotations(fe, in)},
				Spec:       podSpec(fe, opts, in),
			},
			VolumeClaimTemplates:                 []corev1.PersistentVolumeClaim{dataVolumeClaim(fe)},
			PersistentVolumeClaimRetentionPolicy: pvcRetention(fe),
			UpdateStrategy:                       updateStrategy(fe, in),
			PodManagementPolicy:                  podManagementPolicy(fe, in),
		},
	}
}

// updateStrategy: in a Raft zone the operator replaces the pods itself (OnDelete), one at
// a time while the others keep a quorum, followers first and the leader last, so that a
// rollout costs at most one election; a solo frontend rolls as StatefulSets do.
func updateStrategy(fe *opennebulav1alpha1.OpenNebulaFrontend, in Inputs) appsv1.StatefulSetUpdateStrategy {
	if HighAvailability(fe, in) {
		return appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType}
	}
	// Unset: the API server's default, RollingUpdate.
	return appsv1.StatefulSetUpdateStrategy{}
}

// podManagementPolicy: in a Raft zone the StatefulSet controller must not hold a pod back
// for another's readiness, as OrderedReady does: a member that is down (not ready by its
// readiness gate) would keep a server removed on scale-down running (it calls elections
// until its pod goes) and keep a restarted higher pod from being made again. The operator
// orders the joins itself (replicas grow one server at a time). A solo frontend keeps the
// API server's default, written out so that a change between the two is seen: the field
// is immutable, so a solo frontend's scale-up to a zone replaces the StatefulSet (orphan:
// pods and claims kept; a zone scaled back to 1 stays one, see HighAvailability). The
// replacement also carries the switch from RollingUpdate to OnDelete: updated in place, the API server refused it (the e2e zone test found it),
// the defaulted rollingUpdate block being "only allowed for updateStrategy RollingUpdate".
func podManagementPolicy(fe *opennebulav1alpha1.OpenNebulaFrontend, in Inputs) appsv1.PodManagementPolicyType {
	if HighAvailability(fe, in) {
		return appsv1.ParallelPodManagement
	}
	return appsv1.OrderedReadyPodManagement
}

// pvcRetention is the user's policy, or Retain for both cases (the volumes hold the
// cloud's state: never deleted unless asked).
func pvcRetention(fe *opennebulav1alpha1.OpenNebulaFrontend) *appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy {
	p := ptr.Deref(fe.Spec.PersistentVolumeClaimRetentionPolicy, appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{})
	return &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{
		WhenDeleted: cmp.Or(p.WhenDeleted, appsv1.RetainPersistentVolumeClaimRetentionPolicyType),
		WhenScaled:  cmp.Or(p.WhenScaled, appsv1.RetainPersistentVolumeClaimRetentionPolicyType),
	}
}

// podAnnotations are the user's, plus the hash of the pod's inputs and the restart
// request: a new value of either rolls the pod.
func podAnnotations(fe *opennebulav1alpha1.OpenNebulaFrontend, in Inputs) map[string]string {
	ours := map[string]string{AnnotationInputsHash: inputsHash(fe, in)}
	if restart, ok := fe.Annotations[opennebulav1alpha1.AnnotationRestartedAt]; ok {
		ours[opennebulav1alpha1.AnnotationRestartedAt] = restart
	}
	return mergeMaps(fe.Spec.Pod.Annotations, ours)
}

func podSpec(fe *opennebulav1alpha1.OpenNebulaFrontend, opts Options, in Inputs) corev1.PodSpec {
	pod := fe.Spec.Pod
	image := Image(fe, opts)
	containers := []corev1.Container{frontendContainer(fe, opts, in), sshdContainer(fe, opts)}
	if ProxyEnabled(fe) {
		containers = append(containers, proxyContainer(fe))
	}
	return corev1.PodSpec{
		// The frontend does not talk to the Kubernetes API unless the user gives it an
		// identity to do so.
		AutomountServiceAccountToken: new(pod.ServiceAccountName != ""),
		ServiceAccountName:           pod.ServiceAccountName,
		SecurityContext:              podSecurityContext(pod.SecurityContext),
		ImagePullSecrets:             fe.Spec.ImagePullSecrets,
		NodeSelector:                 pod.NodeSelector,
		Tolerations:                  pod.Tolerations,
		Affinity:                     podAffinity(fe, in),
		ReadinessGates:               readinessGates(fe, in),
		TopologySpreadConstraints:    pod.TopologySpreadConstraints,
		PriorityClassName:            pod.PriorityClassName,
		InitContainers:               slices.Concat(waitForDatabase(fe, in, image), seedDatabase(fe, in), []corev1.Container{installSSHKeys(fe, image)}),
		Containers:                   containers,
		Volumes:                      append(frontendVolumes(fe, in), pod.Volumes...),
	}
}

// frontendVolumes are the operator's volumes of the frontend pod. In a Raft zone the
// ConfigMap's scripts are executable (oned runs the hook with execvp, ExecuteHook in
// src/hm/ExecuteHook.cc) and the recorded server IDs are mounted; the ConfigMap of IDs is
// optional: a pod started before the operator records any runs solo.
func frontendVolumes(fe *opennebulav1alpha1.OpenNebulaFrontend, in Inputs) []corev1.Volume {
	names := NamesFor(fe.Name)
	config := &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: names.Config}}
	vols := []corev1.Volume{
		{Name: configVolume, VolumeSource: corev1.VolumeSource{ConfigMap: config}},
		{Name: sshKeysVolume, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
			SecretName: SSHKeySecretName(fe), DefaultMode: new(int32(0o400)),
		}}},
	}
	if UsesStartWrapper(fe, in) {
		config.DefaultMode = new(int32(0o555))
		vols = append(vols, corev1.Volume{Name: keysVolume, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
			// Optional: the first server starts before its keys are kept.
			SecretName: names.Keys, Optional: new(true), DefaultMode: new(int32(0o400)),
		}}})
	}
	if HighAvailability(fe, in) {
		vols = append(vols, corev1.Volume{Name: raftServersVolume, VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: names.RaftServers}, Optional: new(true),
		}}})
	}
	return vols
}

// podSecurityContext is the user's, with oneadmin's fsGroup when it sets none, and the
// sysctl that lets the non-root SSH server bind port 22 (UnprivilegedPortStart).
func podSecurityContext(user *corev1.PodSecurityContext) *corev1.PodSecurityContext {
	sc := &corev1.PodSecurityContext{
		// Re-chowning a large datastore on every start would delay it for minutes.
		FSGroupChangePolicy: new(corev1.FSGroupChangeOnRootMismatch),
	}
	if user != nil {
		sc = user.DeepCopy()
	}
	if sc.FSGroup == nil {
		sc.FSGroup = new(OneadminGID)
	}
	if !slices.ContainsFunc(sc.Sysctls, func(s corev1.Sysctl) bool { return s.Name == UnprivilegedPortStart }) {
		sc.Sysctls = append(sc.Sysctls, corev1.Sysctl{Name: UnprivilegedPortStart, Value: strconv.Itoa(int(PortNumber(PortSSH)))})
	}
	return sc
}

func dataMount(fe *opennebulav1alpha1.OpenNebulaFrontend) corev1.VolumeMount {
	return corev1.VolumeMount{Name: NamesFor(fe.Name).DataVolume, MountPath: DataMountPath}
}

func frontendContainer(fe *opennebulav1alpha1.OpenNebulaFrontend, opts Options, in Inputs) corev1.Container {
	env := []corev1.EnvVar{
		fieldEnv("POD_NAME", "metadata.name"),
		// oned's HOSTNAME: the pod's stable DNS name (unique per replica) unless overridden;
		// in a zone the external Service's, which follows the leader: the hypervisors
		// must never be told a follower's name.
		{Name: "OPENNEBULA_HOSTNAME", Value: cmp.Or(fe.Spec.Hostname, advertisedHostname(fe, opts, in))},
		secretKeyEnv("ONEADMIN_PASSWORD", AdminPasswordRef(fe)),
	}
	if addr := cmp.Or(MonitorAddress(fe, in), zoneMonitorAddress(fe, opts, in)); addr != "" {
		env = append(env, corev1.EnvVar{Name: "OPENNEBULA_MONITOR_ADDRESS", Value: addr})
	}
	env = append(env, databaseEnv(fe, in)...)
	mounts := []corev1.VolumeMount{dataMount(fe)}
	var command, args []string
	if UsesStartWrapper(fe, in) {
		// The start wrapper gives oned its Raft ID and settings, then runs the image's
		// entry point with, as its command, the wrapper's second stage (the keys), which
		// runs the image's command (docs/opennebula.md, the image contract).
		command = []string{"sh", configMountDir + "/" + StartWrapperKey}
		args = append([]string{ImageEntrypoint}, ImageCommand...)
		mounts = append(mounts, corev1.VolumeMount{Name: configVolume, MountPath: configMountDir, ReadOnly: true},
			corev1.VolumeMount{Name: keysVolume, MountPath: KeysDir, ReadOnly: true})
	}
	if HighAvailability(fe, in) {
		mounts = append(mounts, raftServersMount)
	}
	probes := fe.Spec.Probes
	return corev1.Container{
		Name:            ContainerName,
		Image:           Image(fe, opts),
		ImagePullPolicy: fe.Spec.ImagePullPolicy,
		Command:         command,
		Args:            args,
		Ports:           containerPorts(ContainerName),
		Env:             append(env, fe.Spec.Pod.Env...),
		EnvFrom:         fe.Spec.Pod.EnvFrom,
		Resources:       fe.Spec.Pod.Resources,
		SecurityContext: fe.Spec.Pod.ContainerSecurityContext,
		VolumeMounts:    append(mounts, fe.Spec.Pod.VolumeMounts...),
		// First boot bootstraps the database: allow oned up to 15 minutes to listen.
		StartupProbe: cmp.Or(probes.Startup, &corev1.Probe{
			ProbeHandler:     corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromString(PortOned)}},
			PeriodSeconds:    10,
			FailureThreshold: 90,
		}),
		LivenessProbe: cmp.Or(probes.Liveness, &corev1.Probe{
			ProbeHandler:     corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromString(PortOned)}},
			PeriodSeconds:    20,
			TimeoutSeconds:   5,
			FailureThreshold: 6,
		}),
		// Ready means oned answers an authenticated call, as the seed chart checks.
		ReadinessProbe: cmp.Or(probes.Readiness, &corev1.Probe{
			ProbeHandler:     corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"oneuser", "show", "0"}}},
			PeriodSeconds:    10,
			TimeoutSeconds:   10,
			FailureThreshold: 3,
		}),
	}
}

// MonitorAddress is what hypervisors are told to send monitoring data to: the explicit
// address, the LoadBalancer's for "auto" once it has one, or nothing (the image's default).
func MonitorAddress(fe *opennebulav1alpha1.OpenNebulaFrontend, in Inputs) string {
	if fe.Spec.MonitorAddress == opennebulav1alpha1.MonitorAddressAuto {
		return in.LoadBalancerAddress
	}
	return fe.Spec.MonitorAddress
}

// Hostname is oned's HOSTNAME for the first replica.
func Hostname(fe *opennebulav1alpha1.OpenNebulaFrontend, opts Options) string {
	if fe.Spec.Hostname != "" {
		return fe.Spec.Hostname
	}
	return podDNSName(fe, opts, NamesFor(fe.Name).StatefulSet+"-0")
}

// fieldEnv is an environment variable the kubelet fills from the pod's own fields.
func fieldEnv(name, path string) corev1.EnvVar {
	return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{
		FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: path},
	}}
}

// raftServersMount is where a zone's containers read the recorded server IDs.
var raftServersMount = corev1.VolumeMount{Name: raftServersVolume, MountPath: RaftServersDir, ReadOnly: true}

// raftMounts are what a zone's seed init container reads: the ConfigMap's scripts and
// the recorded server IDs.
func raftMounts() []corev1.VolumeMount {
	return []corev1.VolumeMount{{Name: configVolume, MountPath: configMountDir, ReadOnly: true}, raftServersMount}
}

// advertisedHostname is what oned's HOSTNAME defaults to: the pod's stable name for a solo
// server, the external Service's in a zone.
func advertisedHostname(fe *opennebulav1alpha1.OpenNebulaFrontend, opts Options, in Inputs) string {
	if HighAvailability(fe, in) {
		return externalServiceDNSName(fe, opts)
	}
	return stableHostname(fe, opts)
}

// zoneMonitorAddress: in a zone monitord's MONITOR_ADDRESS defaults to spec.hostname (the
// name the hypervisors reach the frontend by) or the external Service's name: both reach
// the leader, the only monitord that keeps what it gets. Never a pod's.
func zoneMonitorAddress(fe *opennebulav1alpha1.OpenNebulaFrontend, opts Options, in Inputs) string {
	if HighAvailability(fe, in) {
		return cmp.Or(fe.Spec.Hostname, externalServiceDNSName(fe, opts))
	}
	return ""
}

func externalServiceDNSName(fe *opennebulav1alpha1.OpenNebulaFrontend, opts Options) string {
	return fmt.Sprintf("%s.%s.svc.%s", NamesFor(fe.Name).ExternalService, fe.Namespace, cmp.Or(opts.ClusterDomain, DefaultClusterDomain))
}

// stableHostname is <pod>.<headless>.<namespace>.svc.<domain>; POD_NAME is expanded by
// the kubelet, so every replica advertises its own name.
func stableHostname(fe *opennebulav1alpha1.OpenNebulaFrontend, opts Options) string {
	return podDNSName(fe, opts, "$(POD_NAME)")
}

// podDNSName is a pod's name under the headless Service.
func podDNSName(fe *opennebulav1alpha1.OpenNebulaFrontend, opts Options, pod string) string {
	return fmt.Sprintf("%s.%s.%s.svc.%s", pod, NamesFor(fe.Name).HeadlessService, fe.Namespace,
		cmp.Or(opts.ClusterDomain, DefaultClusterDomain))
}

// installSSHKeys puts oneadmin's key pair where OpenSSH looks for it (id_ed25519,
// id_ecdsa or id_rsa after the key's type) and authorises the public key for the SSH
// server. The image's entry point adds an id_rsa of its own when there is none; the
// hypervisors trust only this one, which ssh tries next.
func installSSHKeys(fe *opennebulav1alpha1.OpenNebulaFrontend, image string) corev1.Container {
	script := fmt.Sprintf(`set -eu
d=%[1]s/.ssh
pub=%[4]s/%[6]s
case "$(cut -d' ' -f1 "$pub")" in
  ssh-ed25519) name=id_ed25519 ;;
  ecdsa-*) name=id_ecdsa ;;
  *) name=id_rsa ;;
esac
install -d -m 700 -o %[2]d -g %[3]d "$d"
install -m 600 -o %[2]d -g %[3]d %[4]s/%[5]s "$d/$name"
install -m 644 -o %[2]d -g %[3]d "$pub" "$d/$name.pub"
# Host keys made by an older, root sidecar become oneadmin's, who runs sshd now.
[ ! -d %[7]s ] || chown -R %[2]d:%[3]d %[7]s
touch "$d/authorized_keys"
grep -qxF "$(cat "$pub")" "$d/authorized_keys" || cat "$pub" >> "$d/authorized_keys"
chown %[2]d:%[3]d "$d/authorized_keys"; chmod 600 "$d/authorized_keys"
`, DataMountPath, OneadminUID, OneadminGID, sshKeysMount, SSHPrivateKeyKey, SSHPublicKeyKey, sshHostKeyDir)
	return corev1.Container{
		Name:            "install-ssh-keys",
		Image:           image,
		ImagePullPolicy: fe.Spec.ImagePullPolicy,
		Command:         []string{"sh", "-c", script},
		VolumeMounts: []corev1.VolumeMount{
			dataMount(fe),
			{Name: sshKeysVolume, MountPath: sshKeysMount, ReadOnly: true},
		},
	}
}

// sshdContainer serves port 22 for the hypervisors (the frontend image runs no sshd),
// as oneadmin only, with host keys kept on the data volume. It runs as oneadmin itself,
// with the restricted Pod Security profile's settings: a non-root sshd can only let in
// the user it runs as, which is all it must do; the pod's sysctl lets it bind 22.
func sshdContainer(fe *opennebulav1alpha1.OpenNebulaFrontend, opts Options) corev1.Container {
	return corev1.Container{
		Name:            SSHDContainerName,
		Image:           cmp.Or(fe.Spec.SSH.Image, opts.SSHDImage, opennebulav1alpha1.DefaultSSHDImage),
		ImagePullPolicy: fe.Spec.ImagePullPolicy,
		Command:         []string{"sh", "-c", SSHDScript(sshHostKeyDir, configMountDir+"/"+SSHDConfigKey)},
		Ports:           containerPorts(SSHDContainerName),
		VolumeMounts: []corev1.VolumeMount{
			dataMount(fe),
			{Name: configVolume, MountPath: configMountDir, ReadOnly: true},
		},
		SecurityContext: &corev1.SecurityContext{
			RunAsUser:                new(OneadminUID),
			RunAsGroup:               new(OneadminGID),
			RunAsNonRoot:             new(true),
			AllowPrivilegeEscalation: new(false),
			ReadOnlyRootFilesystem:   new(true),
			Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
			SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		},
		// No readiness probe: the frontend serves its users without SSH; whether port 22
		// answers is the SSHReachable condition.
	}
}

// SSHDScript is the SSH server sidecar's command: host keys made once into keyDir (on the
// data volume), then sshd with config, in the foreground.
func SSHDScript(keyDir, config string) string {
	return fmt.Sprintf(`set -eu
if [ ! -x /usr/sbin/sshd ]; then
  # Not fatal: oned serves without it. The SSHReachable condition reports port 22 closed.
  echo "this image has no /usr/sbin/sshd: set spec.ssh.image to an image with openssh-server and a oneadmin user" >&2
  exec sleep infinity
fi
mkdir -p %[1]s
for t in rsa ecdsa ed25519; do
  [ -f "%[1]s/ssh_host_${t}_key" ] || ssh-keygen -q -N "" -t "$t" -f "%[1]s/ssh_host_${t}_key"
done
chmod 600 %[1]s/*_key
exec /usr/sbin/sshd -D -e -f %[2]s
`, keyDir, config)
}

// UnprivilegedPortStart is the safe sysctl (allowed by every kubelet since Kubernetes
// 1.22) that lets the non-root SSH server bind port 22.
const UnprivilegedPortStart = "net.ipv4.ip_unprivileged_port_start"

// proxyContainer is nginx in front of FireEdge, rewriting __HOST__.
func proxyContainer(fe *opennebulav1alpha1.OpenNebulaFrontend) corev1.Container {
	spec := fe.Spec.FireEdgeProxy
	return corev1.Container{
		Name:            ProxyContainerName,
		Image:           cmp.Or(spec.Image, opennebulav1alpha1.DefaultProxyImage),
		ImagePullPolicy: fe.Spec.ImagePullPolicy,
		Ports: []corev1.ContainerPort{{
			Name: PortFireEdgeProxy, ContainerPort: FireEdgeProxyPort, Protocol: corev1.ProtocolTCP,
		}},
		Resources: spec.Resources,
		VolumeMounts: []corev1.VolumeMount{{
			Name: configVolume, MountPath: "/etc/nginx/nginx.conf", SubPath: NginxConfKey, ReadOnly: true,
		}},
		ReadinessProbe: &corev1.Probe{
			ProbeHandler:  corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromString(PortFireEdgeProxy)}},
			PeriodSeconds: 10,
		},
	}
}

func dataVolumeClaim(fe *opennebulav1alpha1.OpenNebulaFrontend) corev1.PersistentVolumeClaim {
	p := fe.Spec.Persistence
	return corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: NamesFor(fe.Name).DataVolume, Labels: Labels(fe)},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{cmp.Or(p.AccessMode, corev1.ReadWriteOnce)},
			StorageClassName: p.StorageClassName,
			Resources: corev1.VolumeResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceStorage: quantityOr(p.Size, opennebulav1alpha1.DefaultPersistenceSize)},
			},
		},
	}
}
