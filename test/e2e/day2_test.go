//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opennebulav1alpha1 "github.com/opennebula-operator/opennebula-operator/api/v1alpha1"
)

// Growing both volumes (frontend and MariaDB) with the real StatefulSet controller and
// garbage collector: the claims grow, both StatefulSets are replaced with orphan
// propagation and adopt the running pods, which are never restarted, and the frontend
// stays Ready throughout.
func TestVolumeGrowthKeepsThePodsRunning(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	const ns = "e2e-grow"
	createNamespace(t, ns)
	fe := frontendIn(ns, "fe")
	g.Expect(k8sClient.Create(ctx, fe)).To(Succeed())
	waitReady(g, fe)

	type child struct{ sts, pod, pvc string }
	children := []child{{"fe", "fe-0", "data-fe-0"}, {"fe-mariadb", "fe-mariadb-0", "data-fe-mariadb-0"}}
	stsUIDs, podUIDs := map[string]types.UID{}, map[string]types.UID{}
	for _, c := range children {
		sts, pod := &appsv1.StatefulSet{}, &corev1.Pod{}
		g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: c.sts}, sts)).To(Succeed())
		g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: c.pod}, pod)).To(Succeed())
		stsUIDs[c.sts], podUIDs[c.pod] = sts.UID, pod.UID
	}

	// Watch Ready while the volumes grow.
	var notReady atomic.Int32
	var lastNotReady atomic.Value
	stopWatch := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for {
			select {
			case <-stopWatch:
				return
			case <-time.After(100 * time.Millisecond):
			}
			f := &opennebulav1alpha1.OpenNebulaFrontend{}
			if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(fe), f); err == nil &&
				!meta.IsStatusConditionTrue(f.Status.Conditions, opennebulav1alpha1.ConditionReady) {
				notReady.Add(1)
				lastNotReady.Store(fmt.Sprintf("%+v", meta.FindStatusCondition(f.Status.Conditions, opennebulav1alpha1.ConditionReady)))
			}
		}
	}()

	g.Eventually(func(g Gomega) {
		g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(fe), fe)).To(Succeed())
		fe.Spec.Persistence.Size = new(resource.MustParse("30Gi"))
		fe.Spec.Database.MariaDB = &opennebulav1alpha1.ManagedMariaDBSpec{Size: new(resource.MustParse("12Gi"))}
		g.Expect(k8sClient.Update(ctx, fe)).To(Succeed())
	}, time.Minute, time.Second).Should(Succeed())

	want := map[string]string{"fe": "30Gi", "fe-mariadb": "12Gi"}
	g.Eventually(func(g Gomega) {
		for _, c := range children {
			pvc, sts, pod := &corev1.PersistentVolumeClaim{}, &appsv1.StatefulSet{}, &corev1.Pod{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: c.pvc}, pvc)).To(Succeed())
			g.Expect(pvc.Spec.Resources.Requests.Storage().String()).To(Equal(want[c.sts]), "claim %s", c.pvc)
			// The local provisioner plays the resizer: the capacity follows.
			g.Expect(pvc.Status.Capacity.Storage().String()).To(Equal(want[c.sts]), "claim %s capacity", c.pvc)
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: c.sts}, sts)).To(Succeed())
			g.Expect(sts.UID).NotTo(Equal(stsUIDs[c.sts]), "StatefulSet %s not replaced", c.sts)
			g.Expect(sts.Spec.VolumeClaimTemplates[0].Spec.Resources.Requests.Storage().String()).To(Equal(want[c.sts]))
			g.Expect(sts.Status.ReadyReplicas).To(Equal(int32(1)))
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: c.pod}, pod)).To(Succeed())
			g.Expect(pod.UID).To(Equal(podUIDs[c.pod]), "pod %s was restarted", c.pod)
			g.Expect(metav1.IsControlledBy(pod, sts)).To(BeTrue(), "pod %s not adopted by the new StatefulSet", c.pod)
		}
		g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(fe), fe)).To(Succeed())
		p := meta.FindStatusCondition(fe.Status.Conditions, opennebulav1alpha1.ConditionProgressing)
		g.Expect(p).NotTo(BeNil())
		g.Expect(p.Reason).To(Equal(opennebulav1alpha1.ReasonRolloutComplete))
	}, 3*time.Minute, time.Second).Should(Succeed())
	close(stopWatch)
	<-watched
	g.Expect(notReady.Load()).To(BeZero(), "Ready was not True %d times (polled every 100ms) while the pods kept running; last: %v",
		notReady.Load(), lastNotReady.Load())
}
