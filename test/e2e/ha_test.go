//go:build e2e

package e2e

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opennebulav1alpha1 "github.com/opennebula-operator/opennebula-operator/api/v1alpha1"
)

// A frontend of 3 replicas on the local cluster, with the real manager binary run with
// --check-oned=false (the default outside a cluster): it calls no oned, so it cannot form
// the zone, says so, and runs only the first server, while every object of a zone is made
// as specified. TestRaftZoneBecomesReadyOnTheLocalCluster forms one.
func TestRaftZoneObjectsOnTheLocalCluster(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := "e2e-ha"
	createNamespace(t, ns)
	fe := &opennebulav1alpha1.OpenNebulaFrontend{ObjectMeta: metav1.ObjectMeta{Name: "ha", Namespace: ns}}
	fe.Spec.Replicas = new(int32(3))
	g.Expect(k8sClient.Create(ctx, fe)).To(Succeed())

	g.Eventually(func(g Gomega) {
		g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(fe), fe)).To(Succeed())
		c := meta.FindStatusCondition(fe.Status.Conditions, opennebulav1alpha1.ConditionDegraded)
		g.Expect(c).NotTo(BeNil(), "conditions %+v", fe.Status.Conditions)
		g.Expect(c.Reason).To(Equal(opennebulav1alpha1.ReasonRaftNotDriven), c.Message)
		g.Expect(c.Message).To(ContainSubstring("--check-oned"))
		ready := meta.FindStatusCondition(fe.Status.Conditions, opennebulav1alpha1.ConditionReady)
		g.Expect(ready).NotTo(BeNil())
		g.Expect(ready.Status).To(Equal(metav1.ConditionFalse), "a zone whose servers were not read is not Ready: %s", ready.Message)

		sts := &appsv1.StatefulSet{}
		g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "ha"}, sts)).To(Succeed())
		g.Expect(*sts.Spec.Replicas).To(Equal(int32(1)), "only the first server runs until the zone is formed")
		g.Expect(sts.Spec.UpdateStrategy.Type).To(Equal(appsv1.OnDeleteStatefulSetStrategyType))
		g.Expect(sts.Spec.Template.Spec.ReadinessGates).To(ContainElement(corev1.PodReadinessGate{ConditionType: "opennebula.io/raft-member"}))

		db := &appsv1.StatefulSet{}
		g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "ha-mariadb"}, db)).To(Succeed())
		g.Expect(*db.Spec.Replicas).To(Equal(int32(1)), "one MariaDB per server that runs")

		pdb := &policyv1.PodDisruptionBudget{}
		g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "ha"}, pdb)).To(Succeed())
		g.Expect(pdb.Spec.MaxUnavailable).To(Equal(new(intstr.FromInt32(1))))

		external := &corev1.Service{}
		g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "ha"}, external)).To(Succeed())
		g.Expect(external.Spec.Selector).To(HaveKeyWithValue("opennebula.io/raft-role", "leader"))
		g.Expect(external.Spec.Ports).To(HaveLen(7), "every port goes to the leader")
		headless := &corev1.Service{}
		g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "ha-headless"}, headless)).To(Succeed())
		g.Expect(headless.Spec.PublishNotReadyAddresses).To(BeTrue())
		g.Expect(headless.Spec.Selector).NotTo(HaveKey("opennebula.io/raft-role"))

		// The first server's pod runs on a node (kwok plays its containers).
		pod := &corev1.Pod{}
		g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "ha-0"}, pod)).To(Succeed())
		g.Expect(pod.Status.Phase).To(Equal(corev1.PodRunning))
	}, 3*time.Minute, time.Second).Should(Succeed())
	g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "ha-1"}, &corev1.Pod{})).NotTo(Succeed(),
		"a second server would bootstrap a database of its own")
}
