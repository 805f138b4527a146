package controller

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	opennebulav1alpha1 "github.com/opennebula-operator/opennebula-operator/api/v1alpha1"
	"github.com/opennebula-operator/opennebula-operator/internal/builder"
)

const (
	timeout = 20 * time.Second
	poll    = 50 * time.Millisecond
)

var nsCounter int

func newNamespace(t *testing.T) string {
	t.Helper()
	nsCounter++
	name := fmt.Sprintf("t%d-%s", nsCounter, strings.ToLower(strings.ReplaceAll(t.Name(), "_", "-")))
	if len(name) > 63 {
		name = name[:63]
	}
	name = strings.TrimRight(name, "-")
	if err := k8sClient.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
		t.Fatal(err)
	}
	return name
}

func createFrontend(t *testing.T, ns, name string) *opennebulav1alpha1.OpenNebulaFrontend {
	t.Helper()
	fe := &opennebulav1alpha1.OpenNebulaFrontend{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
	if err := k8sClient.Create(context.Background(), fe); err != nil {
		t.Fatal(err)
	}
	return fe
}

func get[T client.Object](g Gomega, ns, name string, obj T) T {
	g.Expect(k8sClient.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, obj)).To(Succeed())
	return obj
}

type port struct {
	name   string
	number int32
	proto  corev1.Protocol
}

func servicePortsOf(svc *corev1.Service) []port {
	out := make([]port, 0, len(svc.Spec.Ports))
	for _, p := range svc.Spec.Ports {
		target := p.Name
		if p.Name == builder.PortFireEdge {
			target = builder.PortFireEdgeProxy // the FireEdge proxy is on by default
		}
		Expect(p.TargetPort).To(Equal(intstr.FromString(target)), "Service %s port %s must target the container port by name", svc.Name, p.Name)
		out = append(out, port{p.Name, p.Port, p.Protocol})
	}
	return out
}

var (
	headlessPorts = []port{{"oned", 2633, "TCP"}, {"monitord-tcp", 4124, "TCP"}, {"monitord-udp", 4124, "UDP"}, {"ssh", 22, "TCP"}}
	allPorts      = []port{{"oned", 2633, "TCP"}, {"fireedge", 2616, "TCP"}, {"oneflow", 2474, "TCP"}, {"onegate", 5030, "TCP"},
		{"monitord-tcp", 4124, "TCP"}, {"monitord-udp", 4124, "UDP"}, {"ssh", 22, "TCP"}}
)

func TestChildrenAreCreatedWithEveryPort(t *testing.T) {
	RegisterTestingT(t)
	ns := newNamespace(t)
	fe := createFrontend(t, ns, "one")

	var sts *appsv1.StatefulSet
	Eventually(func(g Gomega) { sts = get(g, ns, "one", &appsv1.StatefulSet{}) }, timeout, poll).Should(Succeed())
	headless := get(Default, ns, "one-headless", &corev1.Service{})
	external := get(Default, ns, "one", &corev1.Service{})

	Expect(headless.Spec.ClusterIP).To(Equal(corev1.ClusterIPNone))
	Expect(headless.Spec.PublishNotReadyAddresses).To(BeTrue())
	Expect(servicePortsOf(headless)).To(Equal(headlessPorts))
	Expect(servicePortsOf(external)).To(Equal(allPorts))
	Expect(external.Spec.Type).To(Equal(corev1.ServiceTypeClusterIP))

	c := sts.Spec.Template.Spec.Containers[0]
	var cports []port
	for _, ctr := range sts.Spec.Template.Spec.Containers {
		for _, p := range ctr.Ports {
			if p.Name != builder.PortFireEdgeProxy {
				cports = append(cports, port{p.Name, p.ContainerPort, p.Protocol})
			}
		}
	}
	Expect(cports).To(ConsistOf(allPorts))
	Expect(c.Image).To(Equal("registry.test/opennebula:7.2.0"), "the operator's RELATED_IMAGE_OPENNEBULA default")
	Expect(*sts.Spec.Template.Spec.SecurityContext.FSGroup).To(Equal(int64(9869)))
	Expect(sts.Spec.ServiceName).To(Equal("one-headless"))
	Expect(sts.Spec.VolumeClaimTemplates[0].Spec.Resources.Requests.Storage().String()).To(Equal("20Gi"))

	get(Default, ns, "one", fe)
	for _, obj := range []client.Object{sts, headless, external} {
		ref := metav1.GetControllerOf(obj)
		Expect(ref).NotTo(BeNil(), "%T %s has no controller reference", obj, obj.GetName())
		Expect(ref.UID).To(Equal(fe.UID))
		Expect(ref.Kind).To(Equal("OpenNebulaFrontend"))
		Expect(obj.GetLabels()).To(HaveKeyWithValue(builder.LabelManagedBy, builder.ValueManagedBy))
		Expect(obj.GetLabels()).NotTo(HaveKey("app.kubernetes.io/instance"))
	}
	// Each creation is recorded as an Event on the frontend, with the child's name.
	Eventually(func(g Gomega) {
		events := &corev1.EventList{}
		g.Expect(k8sClient.List(context.Background(), events, client.InNamespace(ns))).To(Succeed())
		var created []string
		for _, e := range events.Items {
			if e.InvolvedObject.UID == fe.UID && e.Reason == EventReasonCreated {
				created = append(created, e.Message)
			}
		}
		// One Event for the whole creation, naming every child.
		g.Expect(created).To(HaveLen(1))
		for _, child := range []string{"Service one-headless", "Service one,", "StatefulSet one", "StatefulSet one-mariadb",
			"Service one-mariadb", "ConfigMap one-config", "Secret one-oneadmin", "Secret one-ssh", "Secret one-mariadb"} {
			g.Expect(created[0]).To(ContainSubstring(child))
		}
	}, timeout, poll).Should(Succeed())

	// The defaults of the CRD schema are applied at admission and never written back.
	Expect(fe.Spec.Service.Type).To(Equal(corev1.ServiceTypeClusterIP))
	Expect(fe.Spec.Persistence.Size.String()).To(Equal("20Gi"))
	Expect(fe.Spec.Image).To(BeEmpty())
}

func TestDeletedChildIsRecreated(t *testing.T) {
	RegisterTestingT(t)
	ns := newNamespace(t)
	createFrontend(t, ns, "one")
	var old *corev1.Service
	var oldSts *appsv1.StatefulSet
	Eventually(func(g Gomega) {
		old = get(g, ns, "one-headless", &corev1.Service{})
		oldSts = get(g, ns, "one", &appsv1.StatefulSet{})
	}, timeout, poll).Should(Succeed())

	Expect(k8sClient.Delete(context.Background(), old)).To(Succeed())
	Expect(k8sClient.Delete(context.Background(), oldSts)).To(Succeed())
	Eventually(func(g Gomega) {
		svc := get(g, ns, "one-headless", &corev1.Service{})
		g.Expect(svc.UID).NotTo(Equal(old.UID))
		g.Expect(servicePortsOf(svc)).To(Equal(headlessPorts))
		sts := get(g, ns, "one", &appsv1.StatefulSet{})
		g.Expect(sts.UID).NotTo(Equal(oldSts.UID))
	}, timeout, poll).Should(Succeed())
}

func TestEditedChildIsRestored(t *testing.T) {
	RegisterTestingT(t)
	ns := newNamespace(t)
	createFrontend(t, ns, "one")
	var svc *corev1.Service
	Eventually(func(g Gomega) {
		svc = get(g, ns, "one", &corev1.Service{})
		get(g, ns, "one", &appsv1.StatefulSet{})
	}, timeout, poll).Should(Succeed())
	clusterIP := svc.Spec.ClusterIP

	// What a `kubectl edit` would do: renumber monitord's UDP port, drop SSH, and change
	// the container's ports on the StatefulSet.
	for i := range svc.Spec.Ports {
		if svc.Spec.Ports[i].Name == "monitord-udp" {
			svc.Spec.Ports[i].Port = 4125
		}
	}
	svc.Spec.Ports = svc.Spec.Ports[:len(svc.Spec.Ports)-1]
	svc.Labels["someone-elses"] = "label"
	Expect(k8sClient.Update(context.Background(), svc)).To(Succeed())
	sts := get(Default, ns, "one", &appsv1.StatefulSet{})
	sts.Spec.Template.Spec.Containers[0].Ports = sts.Spec.Template.Spec.Containers[0].Ports[:2]
	Expect(k8sClient.Update(context.Background(), sts)).To(Succeed())

	Eventually(func(g Gomega) {
		svc := get(g, ns, "one", &corev1.Service{})
		g.Expect(servicePortsOf(svc)).To(ConsistOf(allPorts))
		g.Expect(svc.Spec.ClusterIP).To(Equal(clusterIP), "the allocated clusterIP is left alone")
		g.Expect(svc.Labels).To(HaveKeyWithValue("someone-elses", "label"), "labels of others are left alone")
		sts := get(g, ns, "one", &appsv1.StatefulSet{})
		g.Expect(sts.Spec.Template.Spec.Containers[0].Ports).To(HaveLen(len(allPorts)-1), "every port but SSH (the sshd sidecar's)")
	}, timeout, poll).Should(Succeed())
}

// setStatefulSetReady plays the StatefulSet controller, which envtest does not run.
func setStatefulSetReady(g Gomega, ns string, ready int32) {
	const name = "one"
	sts := get(g, ns, name, &appsv1.StatefulSet{})
	sts.Status = appsv1.StatefulSetStatus{
		ObservedGeneration: sts.Generation, Replicas: 1, ReadyReplicas: ready, AvailableReplicas: ready,
		CurrentReplicas: 1, UpdatedReplicas: 1, CurrentRevision: name + "-r1", UpdateRevision: name + "-r1",
	}
	g.Expect(k8sClient.Status().Update(context.Background(), sts)).To(Succeed())
}

// makeReady plays the StatefulSet controller for frontend "one" and waits for Ready.
func makeReady(ns string) {
	Eventually(func(g Gomega) { setStatefulSetReady(g, ns, 1) }, timeout, poll).Should(Succeed())
	Eventually(func(g Gomega) {
		fe := get(g, ns, "one", &opennebulav1alpha1.OpenNebulaFrontend{})
		g.Expect(condition(g, fe, opennebulav1alpha1.ConditionReady).Status).To(Equal(metav1.ConditionTrue))
	}, timeout, poll).Should(Succeed())
}

func condition(g Gomega, fe *opennebulav1alpha1.OpenNebulaFrontend, typ string) *metav1.Condition {
	c := meta.FindStatusCondition(fe.Status.Conditions, typ)
	g.Expect(c).NotTo(BeNil(), "condition %s missing from %+v", typ, fe.Status.Conditions)
	return c
}

func TestStatusFollowsTheStatefulSet(t *testing.T) {
	RegisterTestingT(t)
	ns := newNamespace(t)
	createFrontend(t, ns, "one")

	Eventually(func(g Gomega) {
		fe := get(g, ns, "one", &opennebulav1alpha1.OpenNebulaFrontend{})
		g.Expect(fe.Status.ObservedGeneration).To(Equal(fe.Generation))
		g.Expect(condition(g, fe, opennebulav1alpha1.ConditionReady).Status).To(Equal(metav1.ConditionFalse))
		g.Expect(condition(g, fe, opennebulav1alpha1.ConditionProgressing).Status).To(Equal(metav1.ConditionTrue))
		g.Expect(condition(g, fe, opennebulav1alpha1.ConditionReady).ObservedGeneration).To(Equal(fe.Generation))
	}, timeout, poll).Should(Succeed())

	Eventually(func(g Gomega) { setStatefulSetReady(g, ns, 1) }, timeout, poll).Should(Succeed())
	Eventually(func(g Gomega) {
		fe := get(g, ns, "one", &opennebulav1alpha1.OpenNebulaFrontend{})
		ready := condition(g, fe, opennebulav1alpha1.ConditionReady)
		g.Expect(ready.Status).To(Equal(metav1.ConditionTrue))
		g.Expect(ready.Reason).To(Equal(opennebulav1alpha1.ReasonAllReplicasReady))
		progressing := condition(g, fe, opennebulav1alpha1.ConditionProgressing)
		g.Expect(progressing.Status).To(Equal(metav1.ConditionFalse))
		g.Expect(progressing.Reason).To(Equal(opennebulav1alpha1.ReasonRolloutComplete))
		g.Expect(fe.Status.ReadyReplicas).To(Equal(int32(1)))
		g.Expect(fe.Status.Image).To(Equal("registry.test/opennebula:7.2.0"))
	}, timeout, poll).Should(Succeed())

	// A pod that stops being ready turns Ready False again.
	Eventually(func(g Gomega) { setStatefulSetReady(g, ns, 0) }, timeout, poll).Should(Succeed())
	Eventually(func(g Gomega) {
		fe := get(g, ns, "one", &opennebulav1alpha1.OpenNebulaFrontend{})
		g.Expect(condition(g, fe, opennebulav1alpha1.ConditionReady).Status).To(Equal(metav1.ConditionFalse))
	}, timeout, poll).Should(Succeed())
}

func TestSpecChangesReachTheChildren(t *testing.T) {
	RegisterTestingT(t)
	ns := newNamespace(t)
	createFrontend(t, ns, "one")
	Eventually(func(g Gomega) { get(g, ns, "one", &appsv1.StatefulSet{}) }, timeout, poll).Should(Succeed())

	editFrontend(ns, func(fe *opennebulav1alpha1.OpenNebulaFrontend) {
		fe.Spec.Image = "registry.test/opennebula:7.2.1"
		fe.Spec.Service.Type = corev1.ServiceTypeNodePort
	})
	Eventually(func(g Gomega) {
		sts := get(g, ns, "one", &appsv1.StatefulSet{})
		g.Expect(sts.Spec.Template.Spec.Containers[0].Image).To(Equal("registry.test/opennebula:7.2.1"))
		svc := get(g, ns, "one", &corev1.Service{})
		g.Expect(svc.Spec.Type).To(Equal(corev1.ServiceTypeNodePort))
		for _, p := range svc.Spec.Ports {
			g.Expect(p.NodePort).NotTo(BeZero())
		}
	}, timeout, poll).Should(Succeed())

	// Back to ClusterIP: the allocated node ports must go with the type.
	editFrontend(ns, func(fe *opennebulav1alpha1.OpenNebulaFrontend) {
		fe.Spec.Service.Type = corev1.ServiceTypeClusterIP
	})
	Eventually(func(g Gomega) {
		svc := get(g, ns, "one", &corev1.Service{})
		g.Expect(svc.Spec.Type).To(Equal(corev1.ServiceTypeClusterIP))
		for _, p := range svc.Spec.Ports {
			g.Expect(p.NodePort).To(BeZero())
		}
	}, timeout, poll).Should(Succeed())
}

func reconcileCount() float64 {
	families, err := ctrlmetrics.Registry.Gather()
	Expect(err).NotTo(HaveOccurred())
	var total float64
	for _, f := range families {
		if f.GetName() != "controller_runtime_reconcile_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "controller" && l.GetValue() == "opennebulafrontend" {
					total += m.GetCounter().GetValue()
				}
			}
		}
	}
	return total
}

func writesIn(ns string) []string {
	var out []string
	for _, w := range writes.snapshot() {
		if strings.Contains(w, "/namespaces/"+ns+"/") {
			out = append(out, w)
		}
	}
	return out
}

// A reconcile that finds everything as it should be writes nothing: no apply, no status
// patch, no Event. Proven by counting the manager's own write requests.
func TestSteadyStateWritesNothing(t *testing.T) {
	RegisterTestingT(t)
	ns := newNamespace(t)
	createFrontend(t, ns, "one")
	makeReady(ns)
	// Let the reconciles queued by the creation drain.
	Consistently(func() []string { return writesIn(ns) }, time.Second, poll).Should(Equal(writesIn(ns)))

	before := writesIn(ns)
	Expect(before).NotTo(BeEmpty(), "the write counter sees the manager's writes")
	for i := range 3 {
		count := reconcileCount()
		// An unrelated annotation wakes the controller up without changing what it wants.
		Eventually(func(g Gomega) {
			fe := get(g, ns, "one", &opennebulav1alpha1.OpenNebulaFrontend{})
			if fe.Annotations == nil {
				fe.Annotations = map[string]string{}
			}
			fe.Annotations["example.org/poke"] = fmt.Sprint(i)
			g.Expect(k8sClient.Update(context.Background(), fe)).To(Succeed())
		}, timeout, poll).Should(Succeed())
		Eventually(reconcileCount, timeout, poll).Should(BeNumerically(">", count))
	}
	Consistently(func() []string { return writesIn(ns) }, time.Second, poll).Should(Equal(before))
}

// An object of a child's name that the operator did not create is never taken over.
func TestForeignObjectIsNotTakenOver(t *testing.T) {
	RegisterTestingT(t)
	ns := newNamespace(t)
	foreign := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "taken", Namespace: ns},
		Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80}}},
	}
	Expect(k8sClient.Create(context.Background(), foreign)).To(Succeed())
	createFrontend(t, ns, "taken")

	Eventually(func(g Gomega) {
		fe := get(g, ns, "taken", &opennebulav1alpha1.OpenNebulaFrontend{})
		d := condition(g, fe, opennebulav1alpha1.ConditionDegraded)
		g.Expect(d.Status).To(Equal(metav1.ConditionTrue))
		g.Expect(d.Reason).To(Equal(opennebulav1alpha1.ReasonChildNotOwned))
		g.Expect(d.Message).To(ContainSubstring("Service taken exists and is not controlled by this OpenNebulaFrontend"))
	}, timeout, poll).Should(Succeed())
	svc := get(Default, ns, "taken", &corev1.Service{})
	Expect(svc.Spec.Ports).To(HaveLen(1))
	Expect(svc.OwnerReferences).To(BeEmpty())
	Expect(svc.Labels).To(BeEmpty())
}

// editFrontend changes the spec of the frontend "one", retrying on conflicts with the
// operator's own writes.
func editFrontend(ns string, edit func(fe *opennebulav1alpha1.OpenNebulaFrontend)) {
	Eventually(func(g Gomega) {
		fe := get(g, ns, "one", &opennebulav1alpha1.OpenNebulaFrontend{})
		edit(fe)
		g.Expect(k8sClient.Update(context.Background(), fe)).To(Succeed())
	}, timeout, poll).Should(Succeed())
}

// A new frontend is made from the cache alone: none of its reconciles, until it is Ready,
// reads past the cache. (The bench once saw 5 GETs per new frontend: every reconcile read
// the kept keys Secret, which does not exist yet, past the cache.)
func TestNewFrontendReadsNothingPastTheCache(t *testing.T) {
	RegisterTestingT(t)
	ns := newNamespace(t)
	reads0 := len(writes.readSnapshot())
	createFrontend(t, ns, "one")
	makeReady(ns)
	var past []string
	for _, path := range writes.readSnapshot()[reads0:] {
		if strings.Contains(path, "/namespaces/"+ns+"/") {
			past = append(past, path)
		}
	}
	Expect(past).To(BeEmpty(), "reads past the cache for a new frontend")
}
