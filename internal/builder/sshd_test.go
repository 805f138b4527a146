package builder

import (
	"testing"

	corev1 "k8s.io/api/core/v1"

	opennebulav1alpha1 "github.com/opennebula-operator/opennebula-operator/api/v1alpha1"
)

func sshdOf(t *testing.T, pod corev1.PodSpec) corev1.Container {
	t.Helper()
	for _, c := range pod.Containers {
		if c.Name == SSHDContainerName {
			return c
		}
	}
	t.Fatal("no sshd container")
	return corev1.Container{}
}

// The SSH server sidecar runs the repository's image as oneadmin with the restricted
// profile's settings, and the pod lets it bind port 22 with the safe sysctl.
func TestSSHDSidecarRunsAsOneadmin(t *testing.T) {
	fe := frontend()
	pod := StatefulSet(fe, Options{}, Inputs{}).Spec.Template.Spec
	c := sshdOf(t, pod)
	if c.Image != opennebulav1alpha1.DefaultSSHDImage {
		t.Errorf("image %q, want the repository's %q", c.Image, opennebulav1alpha1.DefaultSSHDImage)
	}
	sc := c.SecurityContext
	if sc == nil || *sc.RunAsUser != OneadminUID || *sc.RunAsGroup != OneadminGID || !*sc.RunAsNonRoot || *sc.AllowPrivilegeEscalation ||
		!*sc.ReadOnlyRootFilesystem || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" ||
		sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("sshd securityContext is not the restricted profile's as oneadmin: %+v", sc)
	}
	if got := pod.SecurityContext.Sysctls; len(got) != 1 || got[0] != (corev1.Sysctl{Name: UnprivilegedPortStart, Value: "22"}) {
		t.Errorf("pod sysctls %v, want %s=22", got, UnprivilegedPortStart)
	}

	// The operator's RELATED_IMAGE_SSHD, then spec.ssh.image, win; a user's own value of
	// the sysctl is kept, and so are their other settings.
	if c := sshdOf(t, StatefulSet(fe, Options{SSHDImage: "mirror.example/sshd:1"}, Inputs{}).Spec.Template.Spec); c.Image != "mirror.example/sshd:1" {
		t.Errorf("RELATED_IMAGE_SSHD ignored: %q", c.Image)
	}
	fe.Spec.SSH.Image = "own/sshd:2"
	fe.Spec.Pod.SecurityContext = &corev1.PodSecurityContext{
		RunAsNonRoot: new(false),
		Sysctls:      []corev1.Sysctl{{Name: UnprivilegedPortStart, Value: "0"}, {Name: "net.ipv4.ping_group_range", Value: "0 1"}},
	}
	pod = StatefulSet(fe, Options{SSHDImage: "mirror.example/sshd:1"}, Inputs{}).Spec.Template.Spec
	if c := sshdOf(t, pod); c.Image != "own/sshd:2" {
		t.Errorf("spec.ssh.image ignored: %q", c.Image)
	}
	if got := pod.SecurityContext.Sysctls; len(got) != 2 || got[0].Value != "0" {
		t.Errorf("the user's sysctls %v were changed", got)
	}
	if *pod.SecurityContext.FSGroup != OneadminGID {
		t.Errorf("fsGroup %d", *pod.SecurityContext.FSGroup)
	}
}
