package controller

import (
	"context"
	"errors"
	"net"
	"net/url"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	opennebulav1alpha1 "github.com/opennebula-operator/opennebula-operator/api/v1alpha1"
	"github.com/opennebula-operator/opennebula-operator/internal/builder"
	"github.com/opennebula-operator/opennebula-operator/internal/oned/onedtest"
	"github.com/opennebula-operator/opennebula-operator/internal/status"
)

// sshListener accepts and closes connections on loopback, as sshd's port would answer.
func sshListener(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
		}
	}()
	return l.Addr().String()
}

// OnedReachable is a real one.system.version call with the oneadmin password of the
// frontend's Secret: a password oned does not know is reported as such (naming the
// Secret, never the value), the right one gives True with oned's version in
// status.onedVersion, and an oned that stops answering turns it False.
func TestOnedReachableCallsOned(t *testing.T) {
	RegisterTestingT(t)
	ns := newNamespace(t)
	double := onedtest.NewServer(t)
	u, err := url.Parse(double.Endpoint())
	Expect(err).NotTo(HaveOccurred())
	routes.route(ns, map[int32]string{
		builder.PortNumber(builder.PortOned): u.Host,
		builder.PortNumber(builder.PortSSH):  sshListener(t),
	})

	// The generated password is not the one this oned was bootstrapped with.
	createFrontend(t, ns, "one")
	makeReady(ns)
	var generated string
	Eventually(func(g Gomega) {
		fe := get(g, ns, "one", &opennebulav1alpha1.OpenNebulaFrontend{})
		c := condition(g, fe, opennebulav1alpha1.ConditionOnedReachable)
		g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
		g.Expect(c.Reason).To(Equal(opennebulav1alpha1.ReasonOnedAuthenticationFailed))
		g.Expect(c.Message).To(ContainSubstring("Secret " + builder.NamesFor("one").AdminSecret + " key \"password\""))
		g.Expect(fe.Status.OnedVersion).To(BeEmpty())
		secret := get(g, ns, builder.NamesFor("one").AdminSecret, &corev1.Secret{})
		generated = string(secret.Data[builder.AdminPasswordKey])
		g.Expect(generated).NotTo(BeEmpty())
		g.Expect(c.Message).NotTo(ContainSubstring(generated))
	}, timeout, poll).Should(Succeed())

	// The password oned knows, referenced from the user's Secret.
	Expect(k8sClient.Create(context.Background(), &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "oneadmin", Namespace: ns},
		StringData: map[string]string{"pw": onedtest.Password},
	})).To(Succeed())
	editFrontend(ns, func(fe *opennebulav1alpha1.OpenNebulaFrontend) {
		fe.Spec.Admin.PasswordSecretRef = &opennebulav1alpha1.SecretKeySelector{Name: "oneadmin", Key: "pw"}
	})
	Eventually(func(g Gomega) {
		fe := get(g, ns, "one", &opennebulav1alpha1.OpenNebulaFrontend{})
		c := condition(g, fe, opennebulav1alpha1.ConditionOnedReachable)
		g.Expect(c.Status).To(Equal(metav1.ConditionTrue), c.Message)
		g.Expect(c.Reason).To(Equal(opennebulav1alpha1.ReasonOnedAnswers))
		g.Expect(c.Message).To(ContainSubstring("oned 7.2.0 answers one.system.version as oneadmin"))
		g.Expect(fe.Status.OnedVersion).To(Equal("7.2.0"))
		g.Expect(condition(g, fe, opennebulav1alpha1.ConditionSSHReachable).Status).To(Equal(metav1.ConditionTrue))
	}, timeout, poll).Should(Succeed())

	// oned stops: unreachable, the last answered version kept for the record.
	double.Stop(t)
	Eventually(func(g Gomega) {
		fe := get(g, ns, "one", &opennebulav1alpha1.OpenNebulaFrontend{})
		c := condition(g, fe, opennebulav1alpha1.ConditionOnedReachable)
		g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
		g.Expect(c.Reason).To(Equal(opennebulav1alpha1.ReasonOnedUnreachable))
		g.Expect(c.Message).To(ContainSubstring("one.system.version"))
		g.Expect(fe.Status.OnedVersion).To(Equal("7.2.0"))
	}, timeout, poll).Should(Succeed())

	// No Event or condition ever carries a password.
	list := &corev1.EventList{}
	Expect(k8sClient.List(context.Background(), list)).To(Succeed())
	for _, e := range list.Items {
		Expect(e.Message).NotTo(ContainSubstring(onedtest.Password))
		Expect(e.Message).NotTo(ContainSubstring(generated))
	}
	fe := get(Default, ns, "one", &opennebulav1alpha1.OpenNebulaFrontend{})
	for _, c := range fe.Status.Conditions {
		Expect(c.Message).NotTo(ContainSubstring(onedtest.Password))
	}
}

// A failed check of oned stands onedRetry, an answer onedRecheck: the first call to a
// zone goes through the external Service before it lists the leader, and must not leave
// OnedUnreachable on a healthy zone for 5 minutes (seen in the e2e zone test).
func TestOnedRecheckRetriesFailuresSooner(t *testing.T) {
	failed := errors.New("HTTP 502 Bad Gateway")
	for _, tc := range []struct {
		name     string
		override time.Duration
		check    status.OnedCheck
		want     time.Duration
	}{
		{"answer", 0, status.OnedCheck{Checked: true, Version: onedtest.Version}, onedRecheck},
		{"oned failed", 0, status.OnedCheck{Checked: true, Err: failed}, onedRetry},
		{"ssh failed", 0, status.OnedCheck{Checked: true, Version: onedtest.Version, SSHErr: failed}, onedRetry},
		{"shorter override", time.Second, status.OnedCheck{Checked: true, Err: failed}, time.Second},
		{"longer override", time.Hour, status.OnedCheck{Checked: true, Err: failed}, onedRetry},
	} {
		r := &OpenNebulaFrontendReconciler{OnedRecheck: tc.override}
		if got := r.onedRecheck(tc.check); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}
