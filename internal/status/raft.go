package status

import (
	"slices"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	opennebulav1alpha1 "github.com/opennebula-operator/opennebula-operator/api/v1alpha1"
)

// The states a zone's server is reported in.
const (
	RaftStateLeader      = "Leader"
	RaftStateFollower    = "Follower"
	RaftStateCandidate   = "Candidate"
	RaftStateSolo        = "Solo"
	RaftStateJoining     = "Joining"
	RaftStateUnreachable = "Unreachable"
)

// RaftObservation is what the servers of a zone answered in one reconcile.
type RaftObservation struct {
	Leader  string
	Term    int64
	Servers []opennebulav1alpha1.RaftServerStatus
	At      metav1.Time
}

// reportRaft writes status.raft. Commit and log indexes move with every write to oned: a
// status that differs from the current one only there (and in when it was read) is not
// written, so that polling the servers every few seconds writes nothing at rest.
func reportRaft(s *opennebulav1alpha1.OpenNebulaFrontendStatus, obs *RaftObservation) {
	if obs == nil {
		return
	}
	want := &opennebulav1alpha1.RaftStatus{Leader: obs.Leader, Term: obs.Term,
		Servers: slices.Clone(obs.Servers), LastRead: new(obs.At)}
	if s.Raft != nil && equality.Semantic.DeepEqual(withoutVolatile(s.Raft), withoutVolatile(want)) {
		return
	}
	s.Raft = want
}

// withoutVolatile is a zone's status without what moves at every write to oned.
func withoutVolatile(r *opennebulav1alpha1.RaftStatus) *opennebulav1alpha1.RaftStatus {
	c := r.DeepCopy()
	c.LastRead = nil
	for i := range c.Servers {
		c.Servers[i].Commit, c.Servers[i].LogIndex = 0, 0
	}
	return c
}
