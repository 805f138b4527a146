package oned

// Leader picks the leader among the servers' own Raft statuses (nil: the server did not
// answer): the server saying LEADER with the highest term. A leader cut off from the
// others keeps saying LEADER at its old term until it hears of the new one (Raft's stale
// leader; RaftManager only steps down on a higher term), so the highest term wins; two
// servers claiming the same term (which Raft forbids) give no leader. It returns the
// index of the leader, or -1.
func Leader(statuses []*RaftStatus) int {
	leader := -1
	tie := false
	for i, st := range statuses {
		if st == nil || st.State != RaftLeader {
			continue
		}
		switch {
		case leader < 0 || st.Term > statuses[leader].Term:
			leader, tie = i, false
		case st.Term == statuses[leader].Term:
			tie = true
		}
	}
	if tie {
		return -1
	}
	return leader
}

// Settled reports the leader of a zone at rest: every server answered, exactly one is
// LEADER, and every other is a FOLLOWER of the leader's term whose log has reached the
// leader's commit index. It returns the leader's index, or -1.
func Settled(statuses []*RaftStatus) int {
	leader := -1
	for i, st := range statuses {
		if st == nil {
			return -1
		}
		if st.State == RaftLeader {
			if leader >= 0 {
				return -1
			}
			leader = i
		}
	}
	if leader < 0 {
		return -1
	}
	l := statuses[leader]
	for i, st := range statuses {
		if i == leader {
			continue
		}
		if st.State != RaftFollower || st.Term != l.Term || st.LogIndex < l.Commit {
			return -1
		}
	}
	return leader
}
