package raft

import (
	"fmt"
	"strings"
	"testing"

	"github.com/opennebula-operator/opennebula-operator/internal/oned"
)

func pod(i int) string      { return fmt.Sprintf("one-%d", i) }
func endpoint(i int) string { return fmt.Sprintf("http://one-%d.one-headless:2633/RPC2", i) }

func leaderAt(id int, term int64) *oned.RaftStatus {
	return &oned.RaftStatus{ServerID: id, State: oned.RaftLeader, Term: term, Commit: 10, LogIndex: 10}
}

func followerAt(id int, term int64) *oned.RaftStatus {
	return &oned.RaftStatus{ServerID: id, State: oned.RaftFollower, Term: term, Commit: 10, LogIndex: 10}
}

var solo = &oned.RaftStatus{ServerID: -1, State: oned.RaftSolo, LogIndex: -1, LogTerm: -1}

// zoneOf lists the given ordinals with IDs equal to ordinal+10 (never the ordinal: IDs
// are oned's, the planner must not assume them).
func zoneOf(ordinals ...int) *oned.Zone {
	z := &oned.Zone{}
	for _, i := range ordinals {
		z.Servers = append(z.Servers, oned.ZoneServer{ID: i + 10, Name: pod(i), Endpoint: endpoint(i)})
	}
	return z
}

func recordOf(ordinals ...int) map[string]int {
	r := map[string]int{}
	for _, i := range ordinals {
		r[pod(i)] = i + 10
	}
	return r
}

func servers(n int, status map[int]*oned.RaftStatus) []Server {
	out := make([]Server, n)
	for i := range out {
		out[i] = Server{Name: pod(i), Endpoint: endpoint(i), Status: status[i]}
	}
	return out
}

func TestDecide(t *testing.T) {
	three := map[int]*oned.RaftStatus{0: leaderAt(10, 3), 1: followerAt(11, 3), 2: followerAt(12, 3)}
	leaderLast := map[int]*oned.RaftStatus{0: followerAt(10, 4), 1: followerAt(11, 4), 2: followerAt(12, 4), 3: followerAt(13, 4), 4: leaderAt(14, 4)}
	tests := []struct {
		name     string
		view     View
		want     Step
		replicas int
	}{{
		name:     "one replica stays solo",
		view:     View{Replicas: 1, Servers: servers(1, map[int]*oned.RaftStatus{0: solo}), Zone: &oned.Zone{}},
		want:     Step{Action: Wait, Reason: reasonDone},
		replicas: 1,
	}, {
		name:     "the first server adds itself while solo",
		view:     View{Replicas: 3, Servers: servers(3, map[int]*oned.RaftStatus{0: solo}), Zone: &oned.Zone{}},
		want:     Step{Action: AddSelf, Server: pod(0), Endpoint: endpoint(0)},
		replicas: 1,
	}, {
		name:     "the first server waits to answer solo",
		view:     View{Replicas: 3, Servers: servers(3, nil)},
		want:     Step{Action: Wait, Server: pod(0)},
		replicas: 1,
	}, {
		name:     "an operator restarted after addserver records the ID the zone gave, without adding again",
		view:     View{Replicas: 3, Servers: servers(3, map[int]*oned.RaftStatus{0: solo}), Zone: zoneOf(0)},
		want:     Step{Action: Record, Server: pod(0), ID: 10},
		replicas: 1,
	}, {
		name:     "a recorded server still solo restarts with its ID",
		view:     View{Replicas: 3, Servers: servers(3, map[int]*oned.RaftStatus{0: solo}), Zone: zoneOf(0), Recorded: recordOf(0)},
		want:     Step{Action: Restart, Server: pod(0)},
		replicas: 1,
	}, {
		name:     "no leader yet: wait",
		view:     View{Replicas: 3, Servers: servers(3, map[int]*oned.RaftStatus{0: {ServerID: 10, State: oned.RaftFollower}}), Recorded: recordOf(0)},
		want:     Step{Action: Wait},
		replicas: 1,
	}, {
		name:     "the next pod is started and waits to be seeded",
		view:     View{Replicas: 3, Servers: servers(3, map[int]*oned.RaftStatus{0: leaderAt(10, 2)}), Zone: zoneOf(0), Recorded: recordOf(0)},
		want:     Step{Action: Wait, Server: pod(1)},
		replicas: 2,
	}, {
		name: "a seeded pod waiting for its ID is added on the leader",
		view: func() View {
			v := View{Replicas: 3, Servers: servers(3, map[int]*oned.RaftStatus{0: leaderAt(10, 2)}), Zone: zoneOf(0), Recorded: recordOf(0)}
			v.Servers[1].Waiting = true
			return v
		}(),
		want:     Step{Action: Add, Server: pod(1), Endpoint: endpoint(1)},
		replicas: 2,
	}, {
		name: "an added server is recorded by the ID oned gave, not its ordinal",
		view: View{Replicas: 3, Servers: servers(3, map[int]*oned.RaftStatus{0: leaderAt(10, 2)}), Zone: zoneOf(0, 1),
			Recorded: recordOf(0)},
		want:     Step{Action: Record, Server: pod(1), ID: 11},
		replicas: 2,
	}, {
		name: "no second join while a member lags",
		view: View{Replicas: 3, Servers: servers(3, map[int]*oned.RaftStatus{
			0: leaderAt(10, 2), 1: {ServerID: 11, State: oned.RaftFollower, Term: 2, Commit: 4, LogIndex: 4},
		}), Zone: zoneOf(0, 1), Recorded: recordOf(0, 1)},
		want:     Step{Action: Wait},
		replicas: 2,
	}, {
		name:     "three settled servers of three: done",
		view:     View{Replicas: 3, Servers: servers(3, three), Zone: zoneOf(0, 1, 2), Recorded: recordOf(0, 1, 2)},
		want:     Step{Action: Wait, Reason: reasonDone},
		replicas: 3,
	}, {
		name:     "scaling down removes the highest follower first, and keeps its pod until then",
		view:     View{Replicas: 1, Servers: servers(3, three), Zone: zoneOf(0, 1, 2), Recorded: recordOf(0, 1, 2)},
		want:     Step{Action: Delete, Server: pod(2), ID: 12},
		replicas: 3,
	}, {
		name:     "the leader is never removed: it steps down first",
		view:     View{Replicas: 3, Servers: servers(5, leaderLast), Zone: zoneOf(0, 1, 2, 3, 4), Recorded: recordOf(0, 1, 2, 3, 4)},
		want:     Step{Action: StepDown, Server: pod(4), ID: 14},
		replicas: 5,
	}, {
		name: "a leader below the highest excess ordinal stays while the highest goes",
		view: View{Replicas: 1, Servers: servers(3, map[int]*oned.RaftStatus{0: followerAt(10, 4), 1: leaderAt(11, 4), 2: followerAt(12, 4)}),
			Zone: zoneOf(0, 1, 2), Recorded: recordOf(0, 1, 2)},
		want:     Step{Action: Delete, Server: pod(2), ID: 12},
		replicas: 3,
	}, {
		name: "the last excess server, leading, steps down",
		view: View{Replicas: 1, Servers: servers(2, map[int]*oned.RaftStatus{0: followerAt(10, 4), 1: leaderAt(11, 4)}),
			Zone: zoneOf(0, 1), Recorded: recordOf(0, 1)},
		want:     Step{Action: StepDown, Server: pod(1), ID: 11},
		replicas: 2,
	}, {
		name: "an outdated pod is rolled: followers first, the highest ordinal first",
		view: func() View {
			v := seedFromLeader(View{Replicas: 3, Servers: servers(3, three), Zone: zoneOf(0, 1, 2), Recorded: recordOf(0, 1, 2)})
			v.Servers[0].Outdated, v.Servers[1].Outdated, v.Servers[2].Outdated = true, true, true
			return v
		}(),
		want:     Step{Action: Roll, Server: pod(2), ID: 12},
		replicas: 3,
	}, {
		name: "the leader is rolled last",
		view: func() View {
			v := seedFromLeader(View{Replicas: 3, Servers: servers(3, three), Zone: zoneOf(0, 1, 2), Recorded: recordOf(0, 1, 2)})
			v.Servers[0].Outdated = true
			return v
		}(),
		want:     Step{Action: Roll, Server: pod(0), ID: 10},
		replicas: 3,
	}, {
		name: "no roll while the zone is not settled",
		view: func() View {
			v := seedFromLeader(View{Replicas: 3, Servers: servers(3, map[int]*oned.RaftStatus{0: leaderAt(10, 3), 1: followerAt(11, 3)}),
				Zone: zoneOf(0, 1, 2), Recorded: recordOf(0, 1, 2)})
			v.Servers[1].Outdated = true
			return v
		}(),
		want:     Step{Action: Wait},
		replicas: 3,
	}, {
		name: "the leader does not step down while another member is down",
		view: View{Replicas: 3, Servers: servers(5, map[int]*oned.RaftStatus{0: followerAt(10, 4), 1: followerAt(11, 4), 3: followerAt(13, 4), 4: leaderAt(14, 4)}),
			Zone: zoneOf(0, 1, 2, 3, 4), Recorded: recordOf(0, 1, 2, 3, 4)},
		want:     Step{Action: Wait, Server: pod(4)},
		replicas: 5,
	}, {
		name:     "a deleted server's record is forgotten before its pod goes",
		view:     View{Replicas: 3, Servers: servers(4, three), Zone: zoneOf(0, 1, 2), Recorded: recordOf(0, 1, 2, 3)},
		want:     Step{Action: Forget, Server: pod(3), ID: 13},
		replicas: 4,
	}, {
		name: "a reseeded server is reset on the leader once it runs",
		view: func() View {
			v := View{Replicas: 3, Servers: servers(3, three), Zone: zoneOf(0, 1, 2), Recorded: recordOf(0, 1, 2)}
			v.Servers[2].Reseeded = true
			return v
		}(),
		want:     Step{Action: Reset, Server: pod(2), ID: 12},
		replicas: 3,
	}, {
		name: "two leaders claimed: the higher term leads",
		view: View{Replicas: 3, Servers: servers(3, map[int]*oned.RaftStatus{0: leaderAt(10, 3), 1: leaderAt(11, 4), 2: followerAt(12, 4)}),
			Zone: zoneOf(0, 1, 2), Recorded: recordOf(0, 1, 2)},
		want:     Step{Action: Wait},
		replicas: 3,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := Decide(seedFromLeader(tc.view))
			got := p.Step
			if got.Action != tc.want.Action || got.Server != tc.want.Server || got.Endpoint != tc.want.Endpoint || got.ID != tc.want.ID {
				t.Errorf("step = %s (id %d endpoint %q), want %s %s (id %d endpoint %q)", got, got.ID, got.Endpoint, tc.want.Action, tc.want.Server, tc.want.ID, tc.want.Endpoint)
			}
			if tc.want.Reason != "" && got.Reason != tc.want.Reason {
				t.Errorf("reason = %q, want %q", got.Reason, tc.want.Reason)
			}
			if p.StatefulSetReplicas != tc.replicas {
				t.Errorf("StatefulSet replicas = %d, want %d", p.StatefulSetReplicas, tc.replicas)
			}
			if got.Reason == "" {
				t.Error("every step says why")
			}
		})
	}
}

// seedFromLeader records the view's leader as the seed source, as an earlier pass has.
func seedFromLeader(v View) View {
	st := make([]*oned.RaftStatus, len(v.Servers))
	for i, s := range v.Servers {
		st[i] = s.Status
	}
	if l := oned.Leader(st); l >= 0 && v.SeedFrom == "" {
		v.SeedFrom = v.Servers[l].Name
	}
	return v
}

func TestDecideRecordsTheLeaderAsSeedSource(t *testing.T) {
	v := View{Replicas: 3, Servers: servers(3, map[int]*oned.RaftStatus{0: followerAt(10, 4), 1: leaderAt(11, 4), 2: followerAt(12, 4)}),
		Zone: zoneOf(0, 1, 2), Recorded: recordOf(0, 1, 2), SeedFrom: pod(0)}
	if p := Decide(v); p.Step.Action != SeedFrom || p.Step.Server != pod(1) {
		t.Fatalf("after a leader change the new leader is the seed source, got %s", p.Step)
	}
}

func TestDecideTwoLeadersHigherTermWins(t *testing.T) {
	v := seedFromLeader(View{Replicas: 3, Servers: servers(3, map[int]*oned.RaftStatus{0: leaderAt(10, 3), 1: leaderAt(11, 4), 2: followerAt(12, 4)}),
		Zone: zoneOf(0, 1, 2), Recorded: recordOf(0, 1, 2)})
	if p := Decide(v); p.Leader != 1 {
		t.Fatalf("leader = %d, want 1 (term 4 beats the stale leader of term 3)", p.Leader)
	}
	if p := Decide(v); !strings.Contains(p.Step.Reason, "not settled") {
		t.Fatalf("two claimants: the zone is not settled, got %s", p.Step)
	}
}
