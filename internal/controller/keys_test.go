package controller

import (
	"context"
	"fmt"
	"net/url"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opennebulav1alpha1 "github.com/opennebula-operator/opennebula-operator/api/v1alpha1"
	"github.com/opennebula-operator/opennebula-operator/internal/builder"
	"github.com/opennebula-operator/opennebula-operator/internal/oned"
	"github.com/opennebula-operator/opennebula-operator/internal/oned/onedtest"
)

// A frontend of one replica on MySQL (the managed MariaDB, the default) gets its keys kept
// once its oned answers: its one_key, a FireEdge key and a serveradmin secret in the Keys
// Secret, serveradmin's password set to match, and its pod restarted once to run with
// them (the start wrapper puts them in var/.one). Later passes restart nothing.
func TestSoloFrontendOnMySQLKeepsItsKeys(t *testing.T) {
	RegisterTestingT(t)
	ns := newNamespace(t)
	kubelet := newFakeKubelet(t, ns)
	ctx := context.Background()
	Expect(k8sClient.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "oneadmin", Namespace: ns},
		StringData: map[string]string{"pw": onedtest.Password},
	})).To(Succeed())
	fe := &opennebulav1alpha1.OpenNebulaFrontend{ObjectMeta: metav1.ObjectMeta{Name: "one", Namespace: ns}}
	fe.Spec.Admin.PasswordSecretRef = &opennebulav1alpha1.SecretKeySelector{Name: "oneadmin", Key: "pw"}
	Expect(k8sClient.Create(ctx, fe)).To(Succeed())

	// The pod runs; its oned answers through the Service once the StatefulSet is ready.
	Eventually(func(g Gomega) {
		kubelet.sync(g)
		g.Expect(kubelet.servers).To(HaveKey("one-0"))
		g.Expect(kubelet.servers["one-0"].Running()).To(BeTrue())
	}, timeout, poll).Should(Succeed())
	u, err := url.Parse(kubelet.servers["one-0"].Endpoint())
	Expect(err).NotTo(HaveOccurred())
	routes.route(ns, map[int32]string{builder.PortNumber(builder.PortOned): u.Host})
	Eventually(func(g Gomega) { setStatefulSetReady(g, ns, 1) }, timeout, poll).Should(Succeed())
	oneKey, err := kubelet.servers["one-0"].Client(t).OneKey(ctx)
	Expect(err).NotTo(HaveOccurred())

	keys := &corev1.Secret{}
	Eventually(func(g Gomega) {
		kubelet.sync(g)
		keys = get(g, ns, builder.NamesFor("one").Keys, &corev1.Secret{})
		g.Expect(kubelet.made).To(Equal([]string{"one-0"}), func() string {
			// Whether the operator restarted twice or the pod was counted twice.
			var events corev1.EventList
			err := k8sClient.List(ctx, &events, client.InNamespace(ns))
			var kept []string
			for _, e := range events.Items {
				if e.Reason == EventReasonKeysKept {
					kept = append(kept, fmt.Sprintf("count %d, series %v, last %s", e.Count, e.Series, e.LastTimestamp))
				}
			}
			return fmt.Sprintf("the pod is restarted once, after the keys are kept (KeysKept Events: %q, %v)", kept, err)
		})
		g.Expect(kubelet.servers["one-0"].Running()).To(BeTrue())
	}, timeout, poll).Should(Succeed())
	Expect(string(keys.Data[builder.OneKeyKey])).To(Equal(oneKey), "the one_key oned ran with")
	Expect(keys.Data[builder.FireEdgeKeyKey]).NotTo(BeEmpty())
	Expect(keys.Annotations).To(HaveKeyWithValue(builder.AnnotationFrontendOf, "one"))
	Expect(keys.OwnerReferences).To(BeEmpty(), "kept with the default secretRetentionPolicy Retain")

	// The restarted server runs with the kept one_key and lets the services' login in.
	Expect(kubelet.servers["one-0"].Client(t).OneKey(ctx)).To(Equal(oneKey))
	creds, err := oned.ServerAdmin(string(keys.Data[builder.ServerAdminKey]), time.Now().Add(time.Hour))
	Expect(err).NotTo(HaveOccurred())
	sc, err := oned.New(kubelet.servers["one-0"].Endpoint(), creds)
	Expect(err).NotTo(HaveOccurred())
	_, err = sc.Version(ctx)
	Expect(err).NotTo(HaveOccurred(), "serveradmin's login with the kept secret")
	Eventually(func(g Gomega) {
		var events corev1.EventList
		g.Expect(k8sClient.List(ctx, &events)).To(Succeed())
		var reasons []string
		for _, e := range events.Items {
			if e.InvolvedObject.Namespace == ns && e.InvolvedObject.Name == "one" {
				reasons = append(reasons, e.Reason)
			}
		}
		g.Expect(reasons).To(ContainElement(EventReasonKeysKept))
	}, timeout, poll).Should(Succeed())

	// Later passes (the oned check runs every 300 ms here) restart nothing more.
	Consistently(func(g Gomega) {
		kubelet.sync(g)
		g.Expect(kubelet.made).To(Equal([]string{"one-0"}))
	}, 3*time.Second, 300*time.Millisecond).Should(Succeed())

	// The kept keys follow secretRetentionPolicy, as the generated Secrets do.
	editFrontend(ns, func(fe *opennebulav1alpha1.OpenNebulaFrontend) {
		fe.Spec.SecretRetentionPolicy = opennebulav1alpha1.SecretRetentionDelete
	})
	Eventually(func(g Gomega) {
		keys := get(g, ns, builder.NamesFor("one").Keys, &corev1.Secret{})
		g.Expect(keys.OwnerReferences).To(HaveLen(1))
		g.Expect(keys.OwnerReferences[0].Name).To(Equal("one"))
	}, timeout, poll).Should(Succeed())
}
