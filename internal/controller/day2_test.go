package controller

import (
	"context"
	"testing"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opennebulav1alpha1 "github.com/opennebula-operator/opennebula-operator/api/v1alpha1"
	"github.com/opennebula-operator/opennebula-operator/internal/builder"
)

func inputsHash(g Gomega, ns string) string {
	return get(g, ns, "one", &appsv1.StatefulSet{}).Spec.Template.Annotations[builder.AnnotationInputsHash]
}

// A change to a Secret value the pod reads rolls the pod (through the inputs hash on its
// template): at once for watched Secrets (generated ones, and the user's labelled
// opennebula.io/watch=true), at the next reconcile for the others. A key the pod does not
// read changes nothing.
func TestSecretChangesRollThePod(t *testing.T) {
	RegisterTestingT(t)
	ns := newNamespace(t)
	ctx := context.Background()
	admin := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "admin", Namespace: ns, Labels: map[string]string{builder.LabelWatch: builder.ValueWatch}},
		StringData: map[string]string{"pw": "first", "unused": "x"},
	}
	token := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "token", Namespace: ns}, StringData: map[string]string{"t": "1"}}
	Expect(k8sClient.Create(ctx, admin)).To(Succeed())
	Expect(k8sClient.Create(ctx, token)).To(Succeed())
	fe := &opennebulav1alpha1.OpenNebulaFrontend{ObjectMeta: metav1.ObjectMeta{Name: "one", Namespace: ns}}
	fe.Spec.Admin.PasswordSecretRef = &opennebulav1alpha1.SecretKeySelector{Name: "admin", Key: "pw"}
	fe.Spec.Pod.Env = []corev1.EnvVar{{Name: "TOKEN", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: "token"}, Key: "t"}}}}
	Expect(k8sClient.Create(ctx, fe)).To(Succeed())

	var hash string
	Eventually(func(g Gomega) { hash = inputsHash(g, ns); g.Expect(hash).NotTo(BeEmpty()) }, timeout, poll).Should(Succeed())
	next := func(what string) {
		prev := hash
		Eventually(func(g Gomega) {
			hash = inputsHash(g, ns)
			g.Expect(hash).NotTo(Equal(prev), what)
		}, timeout, poll).Should(Succeed())
	}
	update := func(s *corev1.Secret, key, value string) {
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(s), s)).To(Succeed())
			s.Data[key] = []byte(value)
			g.Expect(k8sClient.Update(ctx, s)).To(Succeed())
		}, timeout, poll).Should(Succeed())
	}

	update(admin, "pw", "second")
	next("a new oneadmin password in a watched Secret rolls the pod")

	update(admin, "unused", "y")
	Consistently(func(g Gomega) string { return inputsHash(g, ns) }, "1s", poll).Should(Equal(hash),
		"a key the pod does not read must not roll it")

	generated := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: builder.NamesFor("one").MariaDB, Namespace: ns}}
	update(generated, builder.MariaDBPasswordKey, "rotated")
	next("a new database password in the generated Secret rolls the pod")

	// An unlabelled Secret is not watched: its change is read at the next reconcile
	// (any change to the frontend, or SecretRecheck).
	update(token, "t", "2")
	editFrontend(ns, func(fe *opennebulav1alpha1.OpenNebulaFrontend) {
		fe.Annotations = map[string]string{"example.org/touch": "1"}
	})
	next("a new value in an unwatched Secret rolls the pod at the next reconcile")

	// The user's Secrets are read, never written.
	Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(token), token)).To(Succeed())
	Expect(token.OwnerReferences).To(BeEmpty())
	Expect(token.Labels).To(BeEmpty())
}

// bindClaim creates the claim the StatefulSet controller would, bound as the PV
// controller would leave it (only bound claims can grow).
func bindClaim(t *testing.T, ns, name, class string, size string) *corev1.PersistentVolumeClaim {
	t.Helper()
	ctx := context.Background()
	fe := &opennebulav1alpha1.OpenNebulaFrontend{ObjectMeta: metav1.ObjectMeta{Name: "one", Namespace: ns}}
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: builder.Labels(fe)},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			StorageClassName: &class,
			VolumeName:       "pv-" + ns,
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(size)}},
		},
	}
	Expect(k8sClient.Create(ctx, pvc)).To(Succeed())
	pvc.Status = corev1.PersistentVolumeClaimStatus{
		Phase: corev1.ClaimBound, AccessModes: pvc.Spec.AccessModes,
		Capacity: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(size)},
	}
	Expect(k8sClient.Status().Update(ctx, pvc)).To(Succeed())
	return pvc
}

// Growing persistence.size grows the existing claim and replaces the StatefulSet with
// orphan propagation (volumeClaimTemplates are immutable), once the StorageClass allows
// expansion; until then the frontend is Degraded and its StatefulSet untouched, while
// the other children still follow the spec.
func TestVolumeGrowth(t *testing.T) {
	RegisterTestingT(t)
	ns := newNamespace(t)
	ctx := context.Background()
	sc := &storageClass{ObjectMeta: metav1.ObjectMeta{Name: "grow-" + ns}, Provisioner: "example.org/disk"}
	Expect(k8sClient.Create(ctx, sc)).To(Succeed())
	t.Cleanup(func() { _ = k8sClient.Delete(ctx, sc) })
	fe := &opennebulav1alpha1.OpenNebulaFrontend{ObjectMeta: metav1.ObjectMeta{Name: "one", Namespace: ns}}
	fe.Spec.Persistence.StorageClassName = &sc.Name
	fe.Spec.Persistence.Size = new(resource.MustParse("10Gi"))
	Expect(k8sClient.Create(ctx, fe)).To(Succeed())
	makeReady(ns)
	pvc := bindClaim(t, ns, "data-one-0", sc.Name, "10Gi")
	original := get(Default, ns, "one", &appsv1.StatefulSet{})

	editFrontend(ns, func(fe *opennebulav1alpha1.OpenNebulaFrontend) {
		fe.Spec.Persistence.Size = new(resource.MustParse("30Gi"))
		fe.Spec.Ingress.Enabled = true
	})
	Eventually(func(g Gomega) {
		d := degraded(g, ns)
		g.Expect(d.Reason).To(Equal(opennebulav1alpha1.ReasonVolumeExpansionNotSupported))
		g.Expect(d.Message).To(HavePrefix("PersistentVolumeClaim data-one-0 cannot grow to 30Gi: StorageClass \"" + sc.Name + "\" does not allow volume expansion"))
		get(g, ns, "one", &ingress{}) // children after the StatefulSet are still applied
	}, timeout, poll).Should(Succeed())
	Consistently(func(g Gomega) string {
		return get(g, ns, "one", &appsv1.StatefulSet{}).ResourceVersion
	}, "1s", poll).Should(Equal(original.ResourceVersion), "the StatefulSet must stay as it is")
	Expect(get(Default, ns, pvc.Name, &corev1.PersistentVolumeClaim{}).Spec.Resources.Requests.Storage().String()).To(Equal("10Gi"))
	fe = get(Default, ns, "one", &opennebulav1alpha1.OpenNebulaFrontend{})
	Expect(condition(Default, fe, opennebulav1alpha1.ConditionReady).Status).To(Equal(metav1.ConditionTrue), "the pod still serves")

	// The StorageClass now allows expansion: the claim grows, the StatefulSet is deleted
	// leaving its pods (orphan) — envtest has no garbage collector, so the orphan
	// finalizer stays until the test plays the collector.
	Eventually(func(g Gomega) {
		g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(sc), sc)).To(Succeed())
		sc.AllowVolumeExpansion = new(true)
		g.Expect(k8sClient.Update(ctx, sc)).To(Succeed())
	}, timeout, poll).Should(Succeed())
	var deleting *appsv1.StatefulSet
	Eventually(func(g Gomega) {
		g.Expect(get(g, ns, pvc.Name, &corev1.PersistentVolumeClaim{}).Spec.Resources.Requests.Storage().String()).To(Equal("30Gi"))
		deleting = get(g, ns, "one", &appsv1.StatefulSet{})
		g.Expect(deleting.DeletionTimestamp).NotTo(BeNil())
		g.Expect(deleting.Finalizers).To(ContainElement(metav1.FinalizerOrphanDependents))
		fe := get(g, ns, "one", &opennebulav1alpha1.OpenNebulaFrontend{})
		p := condition(g, fe, opennebulav1alpha1.ConditionProgressing)
		g.Expect(p.Reason).To(Equal(opennebulav1alpha1.ReasonReplacingStatefulSet))
		g.Expect(condition(g, fe, opennebulav1alpha1.ConditionReady).Status).To(Equal(metav1.ConditionTrue))
		g.Expect(degraded(g, ns).Status).To(Equal(metav1.ConditionFalse))
	}, timeout, poll).Should(Succeed())
	Eventually(func() []string { return events(ns, EventReasonExpanded) }, timeout, poll).Should(
		ContainElement("Expanded PersistentVolumeClaim data-one-0 to 30Gi"))
	Eventually(func() []string { return events(ns, EventReasonReplaced) }, timeout, poll).Should(
		ContainElement("Replaced StatefulSet one (changed spec.volumeClaimTemplates; pods and volumes kept)"))

	// The garbage collector orphans the pods and lets the StatefulSet go; the operator
	// creates it again with the new template.
	deleting.Finalizers = nil
	Expect(k8sClient.Update(ctx, deleting)).To(Succeed())
	Eventually(func(g Gomega) {
		sts := get(g, ns, "one", &appsv1.StatefulSet{})
		g.Expect(sts.UID).NotTo(Equal(original.UID))
		g.Expect(sts.Spec.VolumeClaimTemplates[0].Spec.Resources.Requests.Storage().String()).To(Equal("30Gi"))
		g.Expect(sts.Spec.Template).To(Equal(original.Spec.Template), "same pod template: the adopted pods are not restarted")
	}, timeout, poll).Should(Succeed())
	makeReady(ns)

	// Until the driver has grown the volume, Progressing says so; a file system that
	// grows only when the pod restarts is named.
	progressing := func(g Gomega) *metav1.Condition {
		return condition(g, get(g, ns, "one", &opennebulav1alpha1.OpenNebulaFrontend{}), opennebulav1alpha1.ConditionProgressing)
	}
	Eventually(func(g Gomega) {
		p := progressing(g)
		g.Expect(p.Reason).To(Equal(opennebulav1alpha1.ReasonVolumesGrowing))
		g.Expect(p.Message).To(Equal("PersistentVolumeClaim data-one-0 has 10Gi of 30Gi"))
	}, timeout, poll).Should(Succeed())
	setClaimStatus := func(capacity string, conditions []corev1.PersistentVolumeClaimCondition) {
		Eventually(func(g Gomega) {
			c := get(g, ns, pvc.Name, &corev1.PersistentVolumeClaim{})
			c.Status.Capacity[corev1.ResourceStorage] = resource.MustParse(capacity)
			c.Status.Conditions = conditions
			g.Expect(k8sClient.Status().Update(ctx, c)).To(Succeed())
		}, timeout, poll).Should(Succeed())
	}
	setClaimStatus("10Gi", []corev1.PersistentVolumeClaimCondition{{
		Type: corev1.PersistentVolumeClaimFileSystemResizePending, Status: corev1.ConditionTrue}})
	Eventually(func(g Gomega) string { return progressing(g).Message }, timeout, poll).Should(
		ContainSubstring("file system resize pending: it completes when the pod restarts"))
	setClaimStatus("30Gi", nil)
	Eventually(func(g Gomega) string { return progressing(g).Reason }, timeout, poll).Should(Equal(opennebulav1alpha1.ReasonRolloutComplete))
}

// events lists the messages of the Events with reason in ns.
func events(ns, reason string) []string {
	matching := eventsWith(Default, ns, reason)
	out := make([]string, 0, len(matching))
	for _, e := range matching {
		out = append(out, e.Message)
	}
	return out
}
