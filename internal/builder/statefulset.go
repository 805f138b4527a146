package builder

import (
	"cmp"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	opennebulav1alpha1 "github.com/opennebula-operator/opennebula-operator/api/v1alpha1"
)

// The image contract (shared/DOMAIN.md): files under /var/lib/one belong to oneadmin.
const (
	// ContainerName is the frontend container's name.
	ContainerName = "opennebula"
	// DataMountPath holds one_auth, one_key, datastores, remotes, .ssh and the SQLite DB.
	DataMountPath = "/var/lib/one"
	// OneadminGID owns the files under /var/lib/one.
	OneadminGID int64 = 9869
)

// StatefulSet runs the frontend pod with /var/lib/one on a volume from a
// volumeClaimTemplate, so the data follows the pod across restarts and reschedules.
func StatefulSet(fe *opennebulav1alpha1.OpenNebulaFrontend, opts Options) *appsv1.StatefulSet {
	names := NamesFor(fe.Name)
	return &appsv1.StatefulSet{
		TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "StatefulSet"},
		ObjectMeta: metav1.ObjectMeta{
			Name:      names.StatefulSet,
			Namespace: fe.Namespace,
			Labels:    Labels(fe),
		},
		Spec: appsv1.StatefulSetSpec{
			// One server today; Raft HA (3 or 5) will set this from the spec.
			Replicas:    ptr.To[int32](1),
			ServiceName: names.HeadlessService,
			Selector:    &metav1.LabelSelector{MatchLabels: SelectorLabels(fe)},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: Labels(fe)},
				Spec:       podSpec(fe, opts),
			},
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{dataVolumeClaim(fe)},
		},
	}
}

func podSpec(fe *opennebulav1alpha1.OpenNebulaFrontend, opts Options) corev1.PodSpec {
	return corev1.PodSpec{
		// The frontend does not talk to the Kubernetes API.
		AutomountServiceAccountToken: new(false),
		SecurityContext: &corev1.PodSecurityContext{
			FSGroup: new(OneadminGID),
			// Re-chowning a large datastore on every start would delay it for minutes.
			FSGroupChangePolicy: ptr.To(corev1.FSGroupChangeOnRootMismatch),
		},
		Containers: []corev1.Container{frontendContainer(fe, opts)},
	}
}

func frontendContainer(fe *opennebulav1alpha1.OpenNebulaFrontend, opts Options) corev1.Container {
	return corev1.Container{
		Name:  ContainerName,
		Image: Image(fe, opts),
		Ports: containerPorts(),
		Env: []corev1.EnvVar{
			{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{
				FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.name"},
			}},
			// oned's HOSTNAME: the pod's stable DNS name, unique per replica.
			{Name: "OPENNEBULA_HOSTNAME", Value: stableHostname(fe, opts)},
		},
		VolumeMounts: []corev1.VolumeMount{{Name: NamesFor(fe.Name).DataVolume, MountPath: DataMountPath}},
		// First boot bootstraps the database: allow oned up to 15 minutes to listen.
		StartupProbe: &corev1.Probe{
			ProbeHandler:     corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromString(PortOned)}},
			PeriodSeconds:    10,
			FailureThreshold: 90,
		},
		LivenessProbe: &corev1.Probe{
			ProbeHandler:     corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromString(PortOned)}},
			PeriodSeconds:    20,
			TimeoutSeconds:   5,
			FailureThreshold: 6,
		},
		// Ready means oned answers an authenticated call, as the seed chart checks.
		ReadinessProbe: &corev1.Probe{
			ProbeHandler:     corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"oneuser", "show", "0"}}},
			PeriodSeconds:    10,
			TimeoutSeconds:   10,
			FailureThreshold: 3,
		},
	}
}

// stableHostname is <pod>.<headless>.<namespace>.svc.<domain>; POD_NAME is expanded by
// the kubelet, so every replica advertises its own name.
func stableHostname(fe *opennebulav1alpha1.OpenNebulaFrontend, opts Options) string {
	return fmt.Sprintf("$(POD_NAME).%s.%s.svc.%s", NamesFor(fe.Name).HeadlessService, fe.Namespace,
		cmp.Or(opts.ClusterDomain, DefaultClusterDomain))
}

func dataVolumeClaim(fe *opennebulav1alpha1.OpenNebulaFrontend) corev1.PersistentVolumeClaim {
	return corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: NamesFor(fe.Name).DataVolume, Labels: Labels(fe)},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources: corev1.VolumeResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceStorage: persistenceSize(fe)},
			},
		},
	}
}
