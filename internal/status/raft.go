package status

import (
	"fmt"
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

// zoneServes: a leader leads and a majority of the zone's members (the servers with an ID)
// follow its term, so the zone can commit writes.
func zoneServes(z *RaftObservation) bool {
	members, following := zoneQuorum(z)
	return z.Leader != "" && following*2 > members
}

// zoneQuorum counts the zone's members and those following the leader's term.
func zoneQuorum(z *RaftObservation) (members, following int) {
	for _, s := range z.Servers {
		if s.ID == nil {
			continue
		}
		members++
		if (s.State == RaftStateLeader || s.State == RaftStateFollower) && s.Term == z.Term {
			following++
		}
	}
	return members, following
}

func describeZone(z *RaftObservation) string {
	members, following := zoneQuorum(z)
	if z.Leader == "" {
		return fmt.Sprintf("no server leads the zone (%d members)", members)
	}
	return fmt.Sprintf("%s leads term %d, followed by %d of %d servers", z.Leader, z.Term, following, members)
}
