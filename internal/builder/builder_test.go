package builder

import (
	"maps"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	opennebulav1alpha1 "github.com/opennebula-operator/opennebula-operator/api/v1alpha1"
)

func frontend() *opennebulav1alpha1.OpenNebulaFrontend {
	return &opennebulav1alpha1.OpenNebulaFrontend{ObjectMeta: metav1.ObjectMeta{Name: "one", Namespace: "cloud"}}
}

func TestPortTable(t *testing.T) {
	seen := map[string]bool{}
	for _, p := range Ports {
		if seen[p.Name] {
			t.Errorf("port name %q appears twice", p.Name)
		}
		seen[p.Name] = true
		if errs := validation.IsValidPortName(p.Name); len(errs) > 0 {
			t.Errorf("port name %q: %v", p.Name, errs)
		}
	}
	// The ports the Helm chart forgot: monitoring pushes and SSH copy-back.
	for _, want := range []struct {
		port  int32
		proto corev1.Protocol
	}{{4124, corev1.ProtocolTCP}, {4124, corev1.ProtocolUDP}, {22, corev1.ProtocolTCP}, {2633, corev1.ProtocolTCP}} {
		found := false
		for _, p := range Ports {
			found = found || (p.Port == want.port && p.Protocol == want.proto && p.Headless)
		}
		if !found {
			t.Errorf("%d/%s is missing from the port table or not published on the headless Service", want.port, want.proto)
		}
	}
}

// Every Service port must target, by name, a container port of the pod with the same
// protocol (and, but for the FireEdge proxy, the same number): a port cannot be exposed by
// one object and missing from another.
func TestServicePortsTargetContainerPortsByName(t *testing.T) {
	for _, proxy := range []bool{true, false} {
		fe := frontend()
		fe.Spec.FireEdgeProxy.Enabled = new(proxy)
		var sts *appsv1.StatefulSet
		var services []*corev1.Service
		for _, o := range Build(fe, Options{}, Inputs{}) {
			switch v := o.(type) {
			case *appsv1.StatefulSet:
				if v.Name == "one" {
					sts = v
				}
			case *corev1.Service:
				if v.Name == "one" || v.Name == "one-headless" {
					services = append(services, v)
				}
			}
		}
		if sts == nil || len(services) != 2 {
			t.Fatalf("Build lacks the frontend StatefulSet or its two Services")
		}
		containerPorts := map[string]corev1.ContainerPort{}
		for _, c := range sts.Spec.Template.Spec.Containers {
			for _, p := range c.Ports {
				if _, dup := containerPorts[p.Name]; dup {
					t.Errorf("container port name %s used twice in the pod", p.Name)
				}
				containerPorts[p.Name] = p
			}
		}
		for _, p := range Ports {
			if _, ok := containerPorts[p.Name]; !ok {
				t.Errorf("no container declares port %s of the table", p.Name)
			}
		}
		for _, svc := range services {
			for _, sp := range svc.Spec.Ports {
				cp, ok := containerPorts[sp.TargetPort.StrVal]
				if !ok {
					t.Errorf("Service %s port %s targets %q, which no container declares", svc.Name, sp.Name, sp.TargetPort.String())
					continue
				}
				proxied := proxy && sp.Name == PortFireEdge
				if cp.Protocol != sp.Protocol || (!proxied && (cp.ContainerPort != sp.Port || sp.Name != cp.Name)) {
					t.Errorf("Service %s port %s (%d/%s) targets container port %s (%d/%s)", svc.Name, sp.Name, sp.Port, sp.Protocol, cp.Name, cp.ContainerPort, cp.Protocol)
				}
				if proxied && cp.Name != PortFireEdgeProxy {
					t.Errorf("with the proxy on, fireedge must target the proxy, not %s", cp.Name)
				}
			}
			if !maps.Equal(svc.Spec.Selector, sts.Spec.Selector.MatchLabels) {
				t.Errorf("Service %s selector %v differs from the StatefulSet's %v", svc.Name, svc.Spec.Selector, sts.Spec.Selector.MatchLabels)
			}
		}
	}
}

func TestHeadlessService(t *testing.T) {
	svc := HeadlessService(frontend())
	if svc.Name != "one-headless" || svc.Spec.ClusterIP != corev1.ClusterIPNone || !svc.Spec.PublishNotReadyAddresses {
		t.Fatalf("headless Service: name %q clusterIP %q publishNotReadyAddresses %v", svc.Name, svc.Spec.ClusterIP, svc.Spec.PublishNotReadyAddresses)
	}
	if got, want := portNames(svc), "oned,monitord-tcp,monitord-udp,ssh"; got != want {
		t.Errorf("headless ports = %s, want %s", got, want)
	}
	if sts := StatefulSet(frontend(), Options{}, Inputs{}); sts.Spec.ServiceName != svc.Name {
		t.Errorf("StatefulSet serviceName %q, want the headless Service %q", sts.Spec.ServiceName, svc.Name)
	}
}

func TestExternalService(t *testing.T) {
	for _, typ := range []corev1.ServiceType{"", corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort, corev1.ServiceTypeLoadBalancer} {
		fe := frontend()
		fe.Spec.Service.Type = typ
		svc := ExternalService(fe, Inputs{})
		want := typ
		if want == "" {
			want = corev1.ServiceTypeClusterIP
		}
		if svc.Spec.Type != want {
			t.Errorf("type %q: Service type %q, want %q", typ, svc.Spec.Type, want)
		}
		if got, want := portNames(svc), "oned,fireedge,oneflow,onegate,monitord-tcp,monitord-udp,ssh"; got != want {
			t.Errorf("external ports = %s, want %s", got, want)
		}
	}
}

func TestImage(t *testing.T) {
	fe := frontend()
	if got := Image(fe, Options{}); got != opennebulav1alpha1.DefaultImage {
		t.Errorf("default image %q", got)
	}
	if got := Image(fe, Options{DefaultImage: "mirror.local/one:7.2.0"}); got != "mirror.local/one:7.2.0" {
		t.Errorf("RELATED_IMAGE_OPENNEBULA not used: %q", got)
	}
	fe.Spec.Image = "example.org/one:7.4.0"
	if got := Image(fe, Options{DefaultImage: "mirror.local/one:7.2.0"}); got != "example.org/one:7.4.0" {
		t.Errorf("spec.image not used: %q", got)
	}
}

func TestStatefulSetPersistenceAndSecurity(t *testing.T) {
	fe := frontend()
	sts := StatefulSet(fe, Options{}, Inputs{})
	if got := sts.Spec.VolumeClaimTemplates[0].Spec.Resources.Requests[corev1.ResourceStorage]; got.String() != "20Gi" {
		t.Errorf("default size %s, want 20Gi", got.String())
	}
	q := resource.MustParse("100Gi")
	fe.Spec.Persistence.Size = &q
	sts = StatefulSet(fe, Options{ClusterDomain: "example.internal"}, Inputs{})
	if got := sts.Spec.VolumeClaimTemplates[0].Spec.Resources.Requests[corev1.ResourceStorage]; got.String() != "100Gi" {
		t.Errorf("size %s, want 100Gi", got.String())
	}
	if fs := sts.Spec.Template.Spec.SecurityContext.FSGroup; fs == nil || *fs != 9869 {
		t.Errorf("fsGroup %v, want 9869", fs)
	}
	c := sts.Spec.Template.Spec.Containers[0]
	if c.Name != ContainerName || c.VolumeMounts[0].MountPath != "/var/lib/one" || c.VolumeMounts[0].Name != sts.Spec.VolumeClaimTemplates[0].Name {
		t.Errorf("data volume mount %+v", c.VolumeMounts)
	}
	var hostname string
	for _, e := range c.Env {
		if e.Name == "OPENNEBULA_HOSTNAME" {
			hostname = e.Value
		}
	}
	if hostname != "$(POD_NAME).one-headless.cloud.svc.example.internal" {
		t.Errorf("OPENNEBULA_HOSTNAME %q", hostname)
	}
}

func TestNamesStayValidAndDistinct(t *testing.T) {
	long := strings.Repeat("a", 63)
	other := strings.Repeat("a", 62) + "b"
	for _, name := range []string{"one", strings.Repeat("x", 52), strings.Repeat("x", 53), long, other, "a-" + strings.Repeat("b", 61)} {
		n := NamesFor(name)
		for what, v := range map[string]string{"statefulset": n.StatefulSet, "headless": n.HeadlessService, "external": n.ExternalService} {
			if errs := validation.IsDNS1035Label(v); len(errs) > 0 {
				t.Errorf("%s name for %q: %q: %v", what, name, v, errs)
			}
		}
		if len(n.StatefulSet) > 52 {
			t.Errorf("StatefulSet name %q longer than 52", n.StatefulSet)
		}
		if errs := validation.IsValidLabelValue(n.FrontendLabel); len(errs) > 0 {
			t.Errorf("label value %q: %v", n.FrontendLabel, errs)
		}
	}
	if a, b := NamesFor(long), NamesFor(other); a.StatefulSet == b.StatefulSet || a.HeadlessService == b.HeadlessService {
		t.Errorf("two long names sharing a prefix got the same children: %+v", a)
	}
	if n := NamesFor("one"); n.StatefulSet != "one" || n.HeadlessService != "one-headless" || n.ExternalService != "one" {
		t.Errorf("short names must be used as they are: %+v", n)
	}
}

func TestNoArgoCDTrackingLabel(t *testing.T) {
	for _, o := range Build(frontend(), Options{}, Inputs{}) {
		if _, ok := o.GetLabels()["app.kubernetes.io/instance"]; ok {
			t.Errorf("%T carries app.kubernetes.io/instance, Argo CD's tracking label", o)
		}
	}
}

func portNames(svc *corev1.Service) string {
	names := make([]string, 0, len(svc.Spec.Ports))
	for _, p := range svc.Spec.Ports {
		names = append(names, p.Name)
	}
	return strings.Join(names, ",")
}

func TestVersion(t *testing.T) {
	for image, want := range map[string]string{
		"docker.io/pablodelarco/opennebula:7.2.0":          "7.2.0",
		"registry.local:5000/opennebula:7.4.1":             "7.4.1",
		"registry.local:5000/opennebula":                   "latest",
		"opennebula:7.0@sha256:0123456789abcdef0123456789": "7.0",
	} {
		if got := Version(image); got != want {
			t.Errorf("Version(%q) = %q, want %q", image, got, want)
		}
	}
}

func TestGeneratedSecretsFollowTheSpec(t *testing.T) {
	fe := frontend()
	kinds := func() []SecretKind {
		out := make([]SecretKind, 0, 3)
		for _, g := range GeneratedSecrets(fe) {
			out = append(out, g.Kind)
		}
		return out
	}
	if got := kinds(); len(got) != 3 {
		t.Errorf("default frontend generates %v, want the admin password, MariaDB credentials and SSH keys", got)
	}
	fe.Spec.Admin.PasswordSecretRef = &opennebulav1alpha1.SecretKeySelector{Name: "a", Key: "k"}
	fe.Spec.SSH.KeySecretRef = &corev1.LocalObjectReference{Name: "s"}
	fe.Spec.Database.Backend = opennebulav1alpha1.DatabaseSQLite
	if got := kinds(); len(got) != 0 {
		t.Errorf("with references and SQLite nothing is generated, got %v", got)
	}
}

func TestPodSecretRefsFollowThePodSpec(t *testing.T) {
	fe := frontend()
	fe.Spec.Admin.PasswordSecretRef = &opennebulav1alpha1.SecretKeySelector{Name: "admin", Key: "pw"}
	fe.Spec.SSH.KeySecretRef = &corev1.LocalObjectReference{Name: "keys"}
	fe.Spec.Pod.Env = []corev1.EnvVar{{Name: "TOKEN", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: "user-env"}, Key: "token", Optional: new(true)}}}}
	fe.Spec.Pod.EnvFrom = []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "user-envfrom"}}}}
	fe.Spec.Pod.Volumes = []corev1.Volume{{Name: "extra", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
		Sources: []corev1.VolumeProjection{{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "user-vol"},
			Items: []corev1.KeyToPath{{Key: "a", Path: "a"}}}}}}}}}
	got := map[SecretKeyRef]bool{}
	for _, r := range PodSecretRefs(fe, Options{}) {
		got[r] = true
	}
	for _, want := range []SecretKeyRef{
		{Name: "admin", Key: "pw"},
		{Name: "keys"}, // the SSH key volume
		{Name: NamesFor(fe.Name).MariaDB, Key: MariaDBPasswordKey},
		{Name: "user-env", Key: "token", Optional: true},
		{Name: "user-envfrom"},
		{Name: "user-vol", Key: "a"},
	} {
		if !got[want] {
			t.Errorf("PodSecretRefs lacks %+v; got %v", want, got)
		}
	}
}

func TestInputsHashRollsThePod(t *testing.T) {
	fe := frontend()
	hash := func(fe *opennebulav1alpha1.OpenNebulaFrontend, in Inputs) string {
		return StatefulSet(fe, Options{}, in).Spec.Template.Annotations[AnnotationInputsHash]
	}
	base := hash(fe, Inputs{SecretsHash: HashSecretValues(map[string]map[string][]byte{"s": {"k": []byte("v1")}})})
	if base == "" {
		t.Fatal("no inputs hash on the pod template")
	}
	if same := hash(fe, Inputs{SecretsHash: HashSecretValues(map[string]map[string][]byte{"s": {"k": []byte("v1")}})}); same != base {
		t.Errorf("equal inputs hash differently: %s, %s", base, same)
	}
	if h := hash(fe, Inputs{SecretsHash: HashSecretValues(map[string]map[string][]byte{"s": {"k": []byte("v2")}})}); h == base {
		t.Error("a new Secret value does not change the inputs hash")
	}
	changed := fe.DeepCopy()
	changed.Spec.FireEdgeProxy.PublicURL = "https://cloud.example.com"
	if h := hash(changed, Inputs{SecretsHash: HashSecretValues(map[string]map[string][]byte{"s": {"k": []byte("v1")}})}); h == base {
		t.Error("a new nginx.conf does not change the inputs hash")
	}
	// Keys and values are delimited: moving bytes between them is a different input.
	if HashSecretValues(map[string]map[string][]byte{"s": {"ab": []byte("c")}}) == HashSecretValues(map[string]map[string][]byte{"s": {"a": []byte("bc")}}) {
		t.Error("HashSecretValues does not delimit keys from values")
	}
}

func TestPVCRetention(t *testing.T) {
	fe := frontend()
	sts := StatefulSet(fe, Options{}, Inputs{})
	if p := sts.Spec.PersistentVolumeClaimRetentionPolicy; p.WhenDeleted != appsv1.RetainPersistentVolumeClaimRetentionPolicyType ||
		p.WhenScaled != appsv1.RetainPersistentVolumeClaimRetentionPolicyType {
		t.Errorf("default retention %+v, want Retain/Retain", p)
	}
	fe.Spec.PersistentVolumeClaimRetentionPolicy = &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{
		WhenDeleted: appsv1.DeletePersistentVolumeClaimRetentionPolicyType,
	}
	for _, s := range []*appsv1.StatefulSet{StatefulSet(fe, Options{}, Inputs{}), MariaDBStatefulSet(fe, Inputs{})} {
		if p := s.Spec.PersistentVolumeClaimRetentionPolicy; p.WhenDeleted != appsv1.DeletePersistentVolumeClaimRetentionPolicyType ||
			p.WhenScaled != appsv1.RetainPersistentVolumeClaimRetentionPolicyType {
			t.Errorf("%s retention %+v, want Delete/Retain", s.Name, p)
		}
	}
}

// The frontend pods run with defaults that work with the image and grant nothing more:
// oneadmin's fsGroup, no API token unless the user gives the pod an identity, no
// privileged container, no host namespaces, unless the user asks for them.
func TestPodSecurityDefaults(t *testing.T) {
	fe := frontend()
	for _, sts := range []*appsv1.StatefulSet{StatefulSet(fe, Options{}, Inputs{}), MariaDBStatefulSet(fe, Inputs{})} {
		spec := sts.Spec.Template.Spec
		if sts.Name == NamesFor(fe.Name).StatefulSet {
			if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
				t.Errorf("%s mounts a service account token it does not need", sts.Name)
			}
			if spec.SecurityContext == nil || spec.SecurityContext.FSGroup == nil || *spec.SecurityContext.FSGroup != OneadminGID {
				t.Errorf("%s fsGroup %+v, want %d", sts.Name, spec.SecurityContext, OneadminGID)
			}
		}
		if spec.HostNetwork || spec.HostPID || spec.HostIPC {
			t.Errorf("%s uses a host namespace", sts.Name)
		}
		for _, c := range append(spec.InitContainers, spec.Containers...) {
			if sc := c.SecurityContext; sc != nil && sc.Privileged != nil && *sc.Privileged {
				t.Errorf("%s container %s is privileged", sts.Name, c.Name)
			}
		}
	}
	fe.Spec.Pod.ServiceAccountName = "oned-api"
	if a := StatefulSet(fe, Options{}, Inputs{}).Spec.Template.Spec.AutomountServiceAccountToken; a == nil || !*a {
		t.Error("a pod given a ServiceAccount must get its token")
	}
}
