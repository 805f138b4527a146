package status

import (
	"errors"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	opennebulav1alpha1 "github.com/opennebula-operator/opennebula-operator/api/v1alpha1"
	"github.com/opennebula-operator/opennebula-operator/internal/builder"
	"github.com/opennebula-operator/opennebula-operator/internal/oned"
)

func statefulSet(gen, observed int64, ready, updated int32, current, update string) *appsv1.StatefulSet {
	return &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "one", Generation: gen},
		Spec:       appsv1.StatefulSetSpec{Replicas: ptr.To[int32](1)},
		Status: appsv1.StatefulSetStatus{
			ObservedGeneration: observed, Replicas: 1, ReadyReplicas: ready, UpdatedReplicas: updated,
			CurrentRevision: current, UpdateRevision: update,
		},
	}
}

func TestComputeStatus(t *testing.T) {
	cases := []struct {
		name                        string
		sts                         *appsv1.StatefulSet
		err                         error
		ready, progressing          metav1.ConditionStatus
		readyReason, progressReason string
	}{
		{"not created yet", nil, nil, metav1.ConditionFalse, metav1.ConditionTrue,
			opennebulav1alpha1.ReasonStatefulSetMissing, opennebulav1alpha1.ReasonStatefulSetMissing},
		{"apply failed", nil, errors.New("boom"), metav1.ConditionFalse, metav1.ConditionFalse,
			opennebulav1alpha1.ReasonReconcileFailed, opennebulav1alpha1.ReasonReconcileFailed},
		{"spec not observed by the StatefulSet controller, the pod still serves", statefulSet(2, 1, 1, 1, "r1", "r1"), nil,
			metav1.ConditionTrue, metav1.ConditionTrue, opennebulav1alpha1.ReasonAllReplicasReady, opennebulav1alpha1.ReasonRolloutInProgress},
		{"new StatefulSet never observed", statefulSet(1, 0, 0, 0, "", ""), nil,
			metav1.ConditionFalse, metav1.ConditionTrue, opennebulav1alpha1.ReasonReplicasNotReady, opennebulav1alpha1.ReasonRolloutInProgress},
		{"pod starting", statefulSet(1, 1, 0, 1, "r1", "r1"), nil,
			metav1.ConditionFalse, metav1.ConditionTrue, opennebulav1alpha1.ReasonReplicasNotReady, opennebulav1alpha1.ReasonRolloutInProgress},
		{"rolling to a new revision, the old pod still serves", statefulSet(2, 2, 1, 0, "r1", "r2"), nil,
			metav1.ConditionTrue, metav1.ConditionTrue, opennebulav1alpha1.ReasonAllReplicasReady, opennebulav1alpha1.ReasonRolloutInProgress},
		{"rolling to a new revision, the pod is replaced", statefulSet(2, 2, 0, 0, "r1", "r2"), nil,
			metav1.ConditionFalse, metav1.ConditionTrue, opennebulav1alpha1.ReasonReplicasNotReady, opennebulav1alpha1.ReasonRolloutInProgress},
		{"ready", statefulSet(2, 2, 1, 1, "r2", "r2"), nil,
			metav1.ConditionTrue, metav1.ConditionFalse, opennebulav1alpha1.ReasonAllReplicasReady, opennebulav1alpha1.ReasonRolloutComplete},
		{"ready but a later child failed", statefulSet(2, 2, 1, 1, "r2", "r2"), errors.New("boom"),
			metav1.ConditionTrue, metav1.ConditionFalse, opennebulav1alpha1.ReasonAllReplicasReady, opennebulav1alpha1.ReasonReconcileFailed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fe := &opennebulav1alpha1.OpenNebulaFrontend{ObjectMeta: metav1.ObjectMeta{Generation: 5}}
			st := Compute(fe, Observation{StatefulSet: tc.sts, Err: tc.err}, builder.Options{})
			if st.ObservedGeneration != 5 {
				t.Errorf("observedGeneration %d", st.ObservedGeneration)
			}
			r := meta.FindStatusCondition(st.Conditions, opennebulav1alpha1.ConditionReady)
			p := meta.FindStatusCondition(st.Conditions, opennebulav1alpha1.ConditionProgressing)
			if r == nil || p == nil {
				t.Fatalf("conditions %+v", st.Conditions)
			}
			if r.Status != tc.ready || r.Reason != tc.readyReason || r.ObservedGeneration != 5 {
				t.Errorf("Ready = %s/%s (gen %d), want %s/%s", r.Status, r.Reason, r.ObservedGeneration, tc.ready, tc.readyReason)
			}
			if p.Status != tc.progressing || p.Reason != tc.progressReason {
				t.Errorf("Progressing = %s/%s, want %s/%s", p.Status, p.Reason, tc.progressing, tc.progressReason)
			}
		})
	}
}

// A StatefulSet replaced to grow its volumes starts with an empty status although its
// adopted pod serves: Ready keeps what was last seen until the controller reports.
func TestComputeStatusAcrossAReplacedStatefulSet(t *testing.T) {
	fe := &opennebulav1alpha1.OpenNebulaFrontend{ObjectMeta: metav1.ObjectMeta{Generation: 1}}
	fe.Status = Compute(fe, Observation{StatefulSet: statefulSet(3, 3, 1, 1, "r", "r")}, builder.Options{})
	replacing := Compute(fe, Observation{StatefulSet: statefulSet(3, 3, 1, 1, "r", "r"), Replacing: []string{"replacing StatefulSet one"}}, builder.Options{})
	if p := meta.FindStatusCondition(replacing.Conditions, opennebulav1alpha1.ConditionProgressing); p.Reason != opennebulav1alpha1.ReasonReplacingStatefulSet {
		t.Errorf("Progressing while replacing = %s", p.Reason)
	}
	fe.Status = replacing
	fresh := Compute(fe, Observation{StatefulSet: statefulSet(1, 0, 0, 0, "", "")}, builder.Options{})
	if r := meta.FindStatusCondition(fresh.Conditions, opennebulav1alpha1.ConditionReady); r.Status != metav1.ConditionTrue {
		t.Errorf("Ready = %s/%s right after the StatefulSet was recreated, want True kept", r.Status, r.Reason)
	}
	// Observed, but the pods not adopted yet: no replicas counted.
	fe.Status = fresh
	notAdopted := statefulSet(1, 1, 0, 0, "r", "r")
	notAdopted.Status.Replicas = 0
	adopting := Compute(fe, Observation{StatefulSet: notAdopted}, builder.Options{})
	if r := meta.FindStatusCondition(adopting.Conditions, opennebulav1alpha1.ConditionReady); r.Status != metav1.ConditionTrue {
		t.Errorf("Ready = %s/%s before the new StatefulSet adopted the running pod, want True kept", r.Status, r.Reason)
	}
	if p := meta.FindStatusCondition(adopting.Conditions, opennebulav1alpha1.ConditionProgressing); p.Reason != opennebulav1alpha1.ReasonReplacingStatefulSet {
		t.Errorf("Progressing = %s while adopting", p.Reason)
	}
	// Adopted: the StatefulSet's own figures count again (here: the pod is not ready).
	fe.Status = adopting
	adopted := Compute(fe, Observation{StatefulSet: statefulSet(1, 1, 0, 1, "r", "r")}, builder.Options{})
	if r := meta.FindStatusCondition(adopted.Conditions, opennebulav1alpha1.ConditionReady); r.Status != metav1.ConditionFalse {
		t.Errorf("Ready = %s once the StatefulSet counts its pod again (not ready), want False", r.Status)
	}
	// A frontend never replaced with no replicas yet is simply not ready.
	brandNew := &opennebulav1alpha1.OpenNebulaFrontend{ObjectMeta: metav1.ObjectMeta{Generation: 1}}
	if r := meta.FindStatusCondition(Compute(brandNew, Observation{StatefulSet: notAdopted}, builder.Options{}).Conditions,
		opennebulav1alpha1.ConditionReady); r.Status != metav1.ConditionFalse {
		t.Errorf("Ready = %s for a new frontend without pods", r.Status)
	}
}

func TestComputeStatusKeepsTransitionTime(t *testing.T) {
	fe := &opennebulav1alpha1.OpenNebulaFrontend{ObjectMeta: metav1.ObjectMeta{Generation: 1}}
	fe.Status = Compute(fe, Observation{StatefulSet: statefulSet(1, 1, 1, 1, "r", "r")}, builder.Options{})
	before := meta.FindStatusCondition(fe.Status.Conditions, opennebulav1alpha1.ConditionReady).LastTransitionTime
	again := Compute(fe, Observation{StatefulSet: statefulSet(1, 1, 1, 1, "r", "r")}, builder.Options{})
	if after := meta.FindStatusCondition(again.Conditions, opennebulav1alpha1.ConditionReady).LastTransitionTime; !after.Equal(&before) {
		t.Errorf("lastTransitionTime moved from %v to %v without a change", before, after)
	}
}

func TestComputeStatusDegradedAndOned(t *testing.T) {
	fe := &opennebulav1alpha1.OpenNebulaFrontend{ObjectMeta: metav1.ObjectMeta{Name: "one", Namespace: "ns", Generation: 2}}
	ready := statefulSet(1, 1, 1, 1, "r", "r")
	cases := []struct {
		name                       string
		obs                        Observation
		degraded, oned             metav1.ConditionStatus
		degradedReason, onedReason string
	}{
		{"healthy, oned not checked", Observation{StatefulSet: ready},
			metav1.ConditionFalse, metav1.ConditionUnknown, opennebulav1alpha1.ReasonAsExpected, opennebulav1alpha1.ReasonNotChecked},
		{"oned answers", Observation{StatefulSet: ready, Oned: OnedCheck{Checked: true, Version: "7.2.0"}},
			metav1.ConditionFalse, metav1.ConditionTrue, opennebulav1alpha1.ReasonAsExpected, opennebulav1alpha1.ReasonOnedAnswers},
		{"oned unreachable", Observation{StatefulSet: ready, Oned: OnedCheck{Checked: true,
			Err: &oned.TransportError{Method: "one.system.version", Err: errors.New("connection refused")}, SSHErr: errors.New("refused")}},
			metav1.ConditionFalse, metav1.ConditionFalse, opennebulav1alpha1.ReasonAsExpected, opennebulav1alpha1.ReasonOnedUnreachable},
		{"oned refuses the password", Observation{StatefulSet: ready, Oned: OnedCheck{Checked: true,
			Err: &oned.Error{Method: "one.system.version", Code: oned.CodeAuthentication, Message: "[one.system.version] User couldn't be authenticated, aborting call."}}},
			metav1.ConditionFalse, metav1.ConditionFalse, opennebulav1alpha1.ReasonAsExpected, opennebulav1alpha1.ReasonOnedAuthenticationFailed},
		{"oned has no leader", Observation{StatefulSet: ready, Oned: OnedCheck{Checked: true,
			Err: &oned.Error{Method: "one.system.version", Code: oned.CodeInternal, Message: "[one.system.version] Cannot process request, oned cluster in election mode"}}},
			metav1.ConditionFalse, metav1.ConditionFalse, opennebulav1alpha1.ReasonAsExpected, opennebulav1alpha1.ReasonOnedRefused},
		{"password unreadable", Observation{StatefulSet: ready, Oned: OnedCheck{Checked: true, Err: AdminPasswordError{opennebulav1alpha1.SecretKeySelector{Name: "one-admin", Key: "password"}}}},
			metav1.ConditionFalse, metav1.ConditionUnknown, opennebulav1alpha1.ReasonAsExpected, opennebulav1alpha1.ReasonNotChecked},
		{"missing secret", Observation{Problem: &Problem{opennebulav1alpha1.ReasonSecretMissing, "Secret x does not exist"}},
			metav1.ConditionTrue, metav1.ConditionUnknown, opennebulav1alpha1.ReasonSecretMissing, opennebulav1alpha1.ReasonNotChecked},
		{"apply error", Observation{StatefulSet: ready, Err: errors.New("boom")},
			metav1.ConditionTrue, metav1.ConditionUnknown, opennebulav1alpha1.ReasonReconcileFailed, opennebulav1alpha1.ReasonNotChecked},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := Compute(fe, tc.obs, builder.Options{})
			d := meta.FindStatusCondition(st.Conditions, opennebulav1alpha1.ConditionDegraded)
			o := meta.FindStatusCondition(st.Conditions, opennebulav1alpha1.ConditionOnedReachable)
			if d.Status != tc.degraded || d.Reason != tc.degradedReason {
				t.Errorf("Degraded %s/%s, want %s/%s", d.Status, d.Reason, tc.degraded, tc.degradedReason)
			}
			if o.Status != tc.oned || o.Reason != tc.onedReason {
				t.Errorf("OnedReachable %s/%s, want %s/%s", o.Status, o.Reason, tc.oned, tc.onedReason)
			}
			if wantVersion := map[bool]string{true: "7.2.0"}[o.Status == metav1.ConditionTrue]; st.OnedVersion != wantVersion {
				t.Errorf("onedVersion %q, want %q", st.OnedVersion, wantVersion)
			}
			s := meta.FindStatusCondition(st.Conditions, opennebulav1alpha1.ConditionSSHReachable)
			wantSSH := map[bool]metav1.ConditionStatus{true: metav1.ConditionTrue, false: metav1.ConditionFalse}[tc.obs.Oned.SSHErr == nil]
			if !tc.obs.Oned.Checked {
				wantSSH = metav1.ConditionUnknown
			}
			if s.Status != wantSSH {
				t.Errorf("SSHReachable %s, want %s", s.Status, wantSSH)
			}
			if tc.obs.Problem != nil {
				r := meta.FindStatusCondition(st.Conditions, opennebulav1alpha1.ConditionReady)
				if r.Status != metav1.ConditionFalse || r.Message != "waiting: "+tc.obs.Problem.Message {
					t.Errorf("Ready %s %q", r.Status, r.Message)
				}
			}
		})
	}
	st := Compute(fe, Observation{StatefulSet: ready, Inputs: builder.Inputs{LoadBalancerAddress: "192.0.2.1"}}, builder.Options{ClusterDomain: "corp"})
	if st.Endpoints.Oned != "http://one.ns.svc.corp:2633/RPC2" || st.Endpoints.OnedExternal != "http://192.0.2.1:2633/RPC2" ||
		st.Hostname != "one-0.one-headless.ns.svc.corp" || st.Version != "" {
		t.Errorf("facts %+v", st)
	}
}
