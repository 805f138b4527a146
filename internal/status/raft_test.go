package status

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	opennebulav1alpha1 "github.com/opennebula-operator/opennebula-operator/api/v1alpha1"
	"github.com/opennebula-operator/opennebula-operator/internal/builder"
)

func TestRaftStatusIsWrittenOnlyWhenItMatters(t *testing.T) {
	obs := func(leader string, commit int64, at time.Time) *RaftObservation {
		return &RaftObservation{Leader: leader, Term: 3, At: metav1.NewTime(at), Servers: []opennebulav1alpha1.RaftServerStatus{
			{Name: "one-0", ID: new(int32(0)), State: RaftStateLeader, Term: 3, Commit: commit, LogIndex: commit},
			{Name: "one-1", ID: new(int32(1)), State: RaftStateFollower, Term: 3, Commit: commit, LogIndex: commit},
		}}
	}
	t0 := time.Now()
	var s opennebulav1alpha1.OpenNebulaFrontendStatus
	reportRaft(&s, obs("one-0", 10, t0))
	if s.Raft == nil || s.Raft.Leader != "one-0" || s.Raft.Servers[1].Commit != 10 {
		t.Fatalf("first report: %+v", s.Raft)
	}
	first := s.Raft.DeepCopy()
	// Writes to oned move the indexes: nothing to write.
	reportRaft(&s, obs("one-0", 57, t0.Add(5*time.Second)))
	if s.Raft.Servers[1].Commit != 10 || !s.Raft.LastRead.Equal(first.LastRead) {
		t.Errorf("indexes alone changed: the status must stay as written, got %+v", s.Raft)
	}
	// A new leader: written, with the indexes of that read.
	next := obs("one-1", 60, t0.Add(10*time.Second))
	next.Servers[0].State, next.Servers[1].State = RaftStateUnreachable, RaftStateLeader
	reportRaft(&s, next)
	if s.Raft.Leader != "one-1" || s.Raft.Servers[1].Commit != 60 || s.Raft.Servers[0].State != RaftStateUnreachable {
		t.Errorf("a leader change is written with its read: %+v", s.Raft)
	}
	// A solo frontend has no zone.
	var solo opennebulav1alpha1.OpenNebulaFrontendStatus
	reportRaft(&solo, nil)
	if solo.Raft != nil {
		t.Error("no zone, no status.raft")
	}
}

func TestZoneServesWithAQuorum(t *testing.T) {
	z := &RaftObservation{Leader: "one-0", Term: 4, Servers: []opennebulav1alpha1.RaftServerStatus{
		{Name: "one-0", ID: new(int32(0)), State: RaftStateLeader, Term: 4},
		{Name: "one-1", ID: new(int32(1)), State: RaftStateFollower, Term: 4},
		{Name: "one-2", ID: new(int32(2)), State: RaftStateUnreachable},
		{Name: "one-3", State: RaftStateJoining},
	}}
	if !zoneServes(z) {
		t.Errorf("2 of 3 members follow the leader: it serves (%s)", describeZone(z))
	}
	z.Servers[1].Term = 3
	if zoneServes(z) {
		t.Errorf("1 of 3 follows the leader's term: no quorum (%s)", describeZone(z))
	}
	if got := describeZone(&RaftObservation{Servers: z.Servers}); got != "no server leads the zone (3 members)" {
		t.Errorf("describe: %q", got)
	}
}

// A frontend of several servers whose zone was not read (an operator that calls no oned)
// is not Ready, whatever its pods say; read, it is Ready when a quorum follows a leader.
func TestReadyOfAZoneNeedsItsServersRead(t *testing.T) {
	fe := &opennebulav1alpha1.OpenNebulaFrontend{ObjectMeta: metav1.ObjectMeta{Generation: 2}}
	fe.Spec.Replicas = new(int32(3))
	sts := statefulSet(2, 1, 1, 1, "r1", "r1")
	st := Compute(fe, Observation{StatefulSet: sts}, builder.Options{})
	r := meta.FindStatusCondition(st.Conditions, opennebulav1alpha1.ConditionReady)
	if r == nil || r.Status != metav1.ConditionFalse || r.Reason != opennebulav1alpha1.ReasonRaftNotDriven {
		t.Fatalf("Ready = %+v, want False/RaftNotDriven", r)
	}
	st = Compute(fe, Observation{StatefulSet: sts, Raft: &RaftObservation{Leader: "one-0", Term: 2, Servers: []opennebulav1alpha1.RaftServerStatus{
		{Name: "one-0", ID: new(int32(0)), State: RaftStateLeader, Term: 2},
	}}}, builder.Options{})
	if r := meta.FindStatusCondition(st.Conditions, opennebulav1alpha1.ConditionReady); r == nil || r.Status != metav1.ConditionTrue {
		t.Fatalf("Ready = %+v, want True", r)
	}
}
