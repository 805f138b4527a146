package controller

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opennebulav1alpha1 "github.com/opennebula-operator/opennebula-operator/api/v1alpha1"
	"github.com/opennebula-operator/opennebula-operator/internal/builder"
)

// eventsWith lists the Events with reason in ns.
func eventsWith(g Gomega, ns, reason string) []corev1.Event {
	list := &corev1.EventList{}
	g.Expect(k8sClient.List(context.Background(), list, client.InNamespace(ns))).To(Succeed())
	var out []corev1.Event
	for _, e := range list.Items {
		if e.Reason == reason {
			out = append(out, e)
		}
	}
	return out
}

// occurrences sums the count of the events that match (a repeated Event is one object
// with a count).
func occurrences(events []corev1.Event, match func(corev1.Event) bool) int32 {
	var n int32
	for _, e := range events {
		if match(e) {
			n += max(e.Count, 1)
		}
	}
	return n
}

// eventCount sums the count of the Events with reason about the named object in ns.
func eventCount(g Gomega, ns, name, reason string) int32 {
	return occurrences(eventsWith(g, ns, reason), func(e corev1.Event) bool { return e.InvolvedObject.Name == name })
}

// holdNodePort creates a Service of someone else's holding nodePort, so that a frontend
// asking for it cannot have it.
func holdNodePort(ns string, nodePort int32) *corev1.Service {
	blocker := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "blocker", Namespace: ns},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Selector: map[string]string{"app": "none"},
			Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(80), NodePort: nodePort}}},
	}
	Expect(k8sClient.Create(context.Background(), blocker)).To(Succeed())
	return blocker
}

// refuseServices makes the API server forbid (403, not Invalid: not the spec's fault)
// every Service created in namespace, with a ValidatingAdmissionPolicy, until the returned
// function (also run at cleanup) removes it.
func refuseServices(t *testing.T, namespace string) (unblock func()) {
	t.Helper()
	ctx := context.Background()
	policy := &admissionregistrationv1.ValidatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "refuse-services-" + namespace},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicySpec{
			MatchConstraints: &admissionregistrationv1.MatchResources{ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{{
				RuleWithOperations: admissionregistrationv1.RuleWithOperations{
					Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update},
					Rule:       admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"services"}},
				},
			}}},
			Validations: []admissionregistrationv1.Validation{{Expression: "false", Message: "no Services here", Reason: ptr.To(metav1.StatusReasonForbidden)}},
		},
	}
	binding := &admissionregistrationv1.ValidatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: policy.Name},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec{
			PolicyName:        policy.Name,
			ValidationActions: []admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny},
			MatchResources: &admissionregistrationv1.MatchResources{NamespaceSelector: &metav1.LabelSelector{
				MatchLabels: map[string]string{corev1.LabelMetadataName: namespace},
			}},
		},
	}
	Expect(k8sClient.Create(ctx, policy)).To(Succeed())
	Expect(k8sClient.Create(ctx, binding)).To(Succeed())
	// The policy takes effect once the API server has compiled it.
	Eventually(func() bool {
		probe := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "probe", Namespace: namespace},
			Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}}}
		return apierrors.IsForbidden(k8sClient.Create(ctx, probe, client.DryRunAll))
	}, timeout, poll).Should(BeTrue())
	unblock = func() {
		_ = k8sClient.Delete(ctx, binding)
		_ = k8sClient.Delete(ctx, policy)
	}
	t.Cleanup(unblock)
	return unblock
}

// A frontend whose apply always fails for a reason that is not its spec (an admission
// policy forbids every Service in its namespace) is retried
// with a per-item exponential backoff, says why in Degraded, and does not keep the others
// from converging.
func TestPoisonedFrontendDoesNotStallOthers(t *testing.T) {
	RegisterTestingT(t)
	ns, poisonedNS := newNamespace(t), newNamespace(t)
	ctx := context.Background()
	unblock := refuseServices(t, poisonedNS)
	poisoned := &opennebulav1alpha1.OpenNebulaFrontend{ObjectMeta: metav1.ObjectMeta{Name: "poisoned", Namespace: poisonedNS}}
	Expect(k8sClient.Create(ctx, poisoned)).To(Succeed())
	started := time.Now()
	healthy := []string{"h1", "h2", "h3"}
	for _, n := range healthy {
		createFrontend(t, ns, n)
	}
	Eventually(func(g Gomega) {
		for _, n := range healthy {
			get(g, ns, n, &appsv1.StatefulSet{})
		}
	}, timeout, poll).Should(Succeed(), "the healthy frontends converge next to the poisoned one")
	Eventually(func(g Gomega) {
		fe := get(g, poisonedNS, "poisoned", &opennebulav1alpha1.OpenNebulaFrontend{})
		d := condition(g, fe, opennebulav1alpha1.ConditionDegraded)
		g.Expect(d.Reason).To(Equal(opennebulav1alpha1.ReasonReconcileFailed))
		g.Expect(d.Message).To(ContainSubstring("applying Service poisoned"))
		g.Expect(d.Message).To(ContainSubstring("no Services here"))
	}, timeout, poll).Should(Succeed())

	// Exponential backoff from 5 ms: about 11 attempts in the first 10 s, where a fixed
	// retry every second would make 10 and one every 300 ms 33.
	time.Sleep(10*time.Second - time.Since(started))
	attempts := eventCount(Default, poisonedNS, "poisoned", EventReasonApplyFailed)
	Expect(attempts).To(BeNumerically(">=", 3), "the poisoned frontend is retried")
	Expect(attempts).To(BeNumerically("<=", 16), "retries back off")
	seen := attempts
	time.Sleep(5 * time.Second)
	later := eventCount(Default, poisonedNS, "poisoned", EventReasonApplyFailed)
	Expect(later-seen).To(BeNumerically("<=", 2), "after 10 s, retries are seconds apart")
	t.Logf("poisoned frontend: %d attempts in the first 10 s, %d in the next 5 s", seen, later-seen)

	// Freed, it recovers on its next retry.
	unblock()
	Eventually(func(g Gomega) {
		fe := get(g, poisonedNS, "poisoned", &opennebulav1alpha1.OpenNebulaFrontend{})
		g.Expect(condition(g, fe, opennebulav1alpha1.ConditionDegraded).Status).To(Equal(metav1.ConditionFalse))
	}, time.Minute, poll).Should(Succeed())
}

// A tight loop of edits that re-key a port of a Service the operator owns (the operator
// answers with resourceVersion-guarded updates, so edits between its read and its write
// make conflicts): the operator restores the Service once the edits stop, without
// Degraded flapping or Warning Events.
func TestEditStormIsAbsorbed(t *testing.T) {
	RegisterTestingT(t)
	ns := newNamespace(t)
	ctx := context.Background()
	createFrontend(t, ns, "one")
	makeReady(ns)
	edits := 0
	for i := range 40 {
		svc := &corev1.Service{}
		if err := k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "one"}, svc); err != nil {
			continue
		}
		for j := range svc.Spec.Ports {
			if svc.Spec.Ports[j].Name == builder.PortOned {
				svc.Spec.Ports[j].Port = int32(10000 + i)
			}
		}
		if k8sClient.Update(ctx, svc) == nil {
			edits++
		}
		time.Sleep(25 * time.Millisecond)
	}
	Expect(edits).To(BeNumerically(">", 10))
	Eventually(func(g Gomega) {
		svc := get(g, ns, "one", &corev1.Service{})
		g.Expect(servicePortsOf(svc)).To(ContainElement(port{builder.PortOned, builder.PortNumber(builder.PortOned), corev1.ProtocolTCP}))
		g.Expect(svc.Spec.Ports).To(HaveLen(len(servicePortsOf(svc))))
		g.Expect(degraded(g, ns).Status).To(Equal(metav1.ConditionFalse))
	}, timeout, poll).Should(Succeed())
	Expect(eventCount(Default, ns, "one", EventReasonApplyFailed)).To(BeZero(), "conflicts are retried, not reported")
	fe := get(Default, ns, "one", &opennebulav1alpha1.OpenNebulaFrontend{})
	Expect(condition(Default, fe, opennebulav1alpha1.ConditionReady).Status).To(Equal(metav1.ConditionTrue))
	t.Logf("%d edits absorbed", edits)
}

// A child that cannot be written (here the external Service: the node port the spec
// now pins belongs to another Service) makes the frontend Degraded InvalidSpec, naming
// its field, not un-Ready: its pods still serve, and nothing of the change is written.
func TestFailedApplyKeepsReady(t *testing.T) {
	RegisterTestingT(t)
	ns := newNamespace(t)
	createFrontend(t, ns, "one")
	makeReady(ns)
	holdNodePort(ns, 30998)
	editFrontend(ns, func(fe *opennebulav1alpha1.OpenNebulaFrontend) {
		fe.Spec.Service.Type = corev1.ServiceTypeNodePort
		fe.Spec.Service.NodePorts = map[string]int32{builder.PortOned: 30998}
	})
	Eventually(func(g Gomega) {
		d := degraded(g, ns)
		g.Expect(d.Reason).To(Equal(opennebulav1alpha1.ReasonInvalidSpec))
		g.Expect(d.Message).To(HavePrefix("spec.service.nodePorts.oned: Invalid value: 30998: provided port is already allocated"))
	}, timeout, poll).Should(Succeed())
	svc := get(Default, ns, "one", &corev1.Service{})
	Expect(svc.Spec.Type).To(Equal(corev1.ServiceTypeClusterIP), "nothing of the refused change is written")
	Consistently(func(g Gomega) metav1.ConditionStatus {
		fe := get(g, ns, "one", &opennebulav1alpha1.OpenNebulaFrontend{})
		return condition(g, fe, opennebulav1alpha1.ConditionReady).Status
	}, "1s", poll).Should(Equal(metav1.ConditionTrue))
}
