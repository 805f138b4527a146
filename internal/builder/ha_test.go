package builder

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/utils/ptr"
)

// A zone scaled back to one server is still a zone: its server keeps its Raft ID, the
// external Service keeps following the leader, and the pods keep the start wrapper.
func TestAZoneOfOneStaysAZone(t *testing.T) {
	fe := frontend()
	solo, zone := Inputs{}, Inputs{Raft: RaftInputs{Formed: true, StatefulSetReplicas: 3}}
	if HighAvailability(fe, solo) {
		t.Fatal("one replica and no zone formed: solo")
	}
	if sel := ExternalService(fe, solo).Spec.Selector; sel[LabelRaftRole] != "" {
		t.Errorf("a solo frontend's external Service selects its pod whatever its role: %v", sel)
	}
	sel := ExternalService(fe, zone).Spec.Selector
	if sel[LabelRaftRole] != RaftRoleLeader {
		t.Errorf("a zone's external Service selects the leader: %v", sel)
	}
	sts := StatefulSet(fe, Options{}, zone)
	if got := ptr.Deref(sts.Spec.Replicas, 0); got != 3 {
		t.Errorf("StatefulSet replicas = %d, want the plan's 3 (servers leave one at a time)", got)
	}
	if sts.Spec.UpdateStrategy.Type != appsv1.OnDeleteStatefulSetStrategyType {
		t.Errorf("a zone's pods are replaced by the operator, followers first: %v", sts.Spec.UpdateStrategy)
	}
	if c := sts.Spec.Template.Spec.Containers[0]; len(c.Command) != 2 || c.Command[1] != configMountDir+"/"+StartWrapperKey {
		t.Errorf("the zone's pods start through the wrapper: %v", c.Command)
	}
	if _, ok := ConfigMap(fe, zone).Data[StartWrapperKey]; !ok {
		t.Error("the ConfigMap carries the start wrapper")
	}
	if _, ok := ConfigMap(fe, solo).Data[StartWrapperKey]; ok {
		t.Error("a solo frontend's ConfigMap is unchanged")
	}
	for _, o := range Build(fe, Options{}, zone) {
		if _, ok := o.(*policyv1.PodDisruptionBudget); ok {
			t.Error("a zone of one has no disruption budget: it could never be drained")
		}
	}
}

func TestHighAvailabilityDefaults(t *testing.T) {
	fe := frontend()
	fe.Spec.Replicas = new(int32(3))
	sts := StatefulSet(fe, Options{}, Inputs{})
	aff := sts.Spec.Template.Spec.Affinity
	if aff == nil || aff.PodAntiAffinity == nil || len(aff.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution) != 1 {
		t.Fatalf("servers spread over nodes by default: %+v", aff)
	}
	var budget *policyv1.PodDisruptionBudget
	for _, o := range Build(fe, Options{}, Inputs{}) {
		if p, ok := o.(*policyv1.PodDisruptionBudget); ok {
			budget = p
		}
	}
	if budget == nil || budget.Spec.MaxUnavailable.IntValue() != 1 {
		t.Fatalf("at most one server of three disrupted: %+v", budget)
	}
	env := map[string]string{}
	for _, e := range sts.Spec.Template.Spec.Containers[0].Env {
		env[e.Name] = e.Value
	}
	want := "opennebula.default.svc.cluster.local"
	if fe.Namespace != "default" || fe.Name != "opennebula" {
		want = fe.Name + "." + fe.Namespace + ".svc.cluster.local"
	}
	if env["OPENNEBULA_HOSTNAME"] != want || env["OPENNEBULA_MONITOR_ADDRESS"] != want {
		t.Errorf("hypervisors are told the external Service's name, never a pod's: HOSTNAME %q, MONITOR_ADDRESS %q, want %q",
			env["OPENNEBULA_HOSTNAME"], env["OPENNEBULA_MONITOR_ADDRESS"], want)
	}
}
