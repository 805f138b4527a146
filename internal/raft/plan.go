// Package raft decides, one step at a time, how a frontend's servers become and stay a Raft
// zone of the size the user asked for, following OpenNebula's HA procedure
// (docs/opennebula.md, "Raft HA"):
//
//   - the first server starts solo, is added to zone 0 under its own NAME and ENDPOINT
//     (one.zone.addserver on itself) and restarts with the SERVER_ID oned gave it;
//   - every further server joins one at a time: its pod starts and waits; one.zone.addserver
//     on the leader, and the ID read back from one.zone.info by NAME is recorded where the
//     pod reads it; the pod then copies the leader's database and starts oned with that
//     ID. The copy is taken after addserver, as OpenNebula's HA guide orders it, because
//     RaftManager::add_server (src/raft/RaftManager.cc) starts the new follower at the
//     leader's last index + 1 and a replica thread only sends on a new write: a copy taken
//     before addserver lacks the addserver's own log entry and the follower stays one entry
//     behind until the zone's next write (seen on real oned 7.2);
//   - a server whose data was lost is reseeded by its pod, then one.zone.resetserver;
//   - scaling down removes the highest ordinals with one.zone.delserver before their pods
//     go, and never the leader: a leader that must go is restarted first so that another
//     server is elected.
//
// The package is pure: Plan takes what one pass observed and returns the one next step
// and how many pods the StatefulSet should run; Execute performs a step's oned calls and
// hands the rest (recording IDs, restarting pods) to a Runtime: Kubernetes in the operator,
// processes in the tests against real oned.
package raft

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/opennebula-operator/opennebula-operator/internal/oned"
)

// ZoneID is the zone every frontend's servers belong to: a frontend is one zone, not a
// federation (FEDERATION MODE STANDALONE, ZONE_ID 0).
const ZoneID = 0

// Server is one frontend pod as a pass observed it. Its index in View.Servers is its
// StatefulSet ordinal.
type Server struct {
	// Name is the pod's name: the NAME it has in the zone.
	Name string
	// Endpoint is its XML-RPC endpoint through the headless Service: the ENDPOINT it has
	// in the zone, which the other servers replicate to.
	Endpoint string
	// Status is its answer to one.zone.raftstatus; nil when it did not answer (no pod, oned
	// not started yet, or down).
	Status *oned.RaftStatus
	// Waiting: the pod of a server that joins runs and waits for the server's ID, to copy
	// the leader's database and start oned with it.
	Waiting bool
	// Reseeded: the pod found its database lost and seeded it again from the leader's
	// while keeping its recorded ID; the leader must be told (one.zone.resetserver).
	Reseeded bool
	// Outdated: the pod runs an older pod template than the one asked for. A zone's
	// StatefulSet updates OnDelete: the operator restarts such pods one at a time.
	Outdated bool
}

// View is what one pass observed.
type View struct {
	// Replicas is how many servers the user asks for (1, 3 or 5).
	Replicas int
	// Servers are the frontend's pods by ordinal, at least max(Replicas, pods that exist).
	Servers []Server
	// Zone is the zone's server pool as the leader lists it (or the solo server, before
	// the zone is formed); nil when no such server answered.
	Zone *oned.Zone
	// Recorded are the server IDs kept where the pods read them at start, by pod name.
	// Empty until the zone is formed: a pod with no recorded ID then starts solo.
	Recorded map[string]int
	// SeedFrom is the recorded server whose database seeding pods copy.
	SeedFrom string
}

// Action is what a Step does.
type Action string

// The actions, in the order of the HA procedure.
const (
	// Wait: nothing can be done now; Reason says what is awaited.
	Wait Action = "Wait"
	// AddSelf shares the solo server's keys with the zone (its one_key, serveradmin's
	// password) and adds it to its own zone (one.zone.addserver on itself): the first
	// step of forming the zone.
	AddSelf Action = "AddSelf"
	// Add adds a joining server on the leader (one.zone.addserver).
	Add Action = "Add"
	// Record keeps Server's ID where its pod reads it at start.
	Record Action = "Record"
	// Restart restarts Server's pod so that oned starts with its recorded ID.
	Restart Action = "Restart"
	// Reset tells the leader that Server's database was reseeded (one.zone.resetserver).
	Reset Action = "Reset"
	// StepDown restarts the leader's pod because it must leave the zone: the others elect
	// a new leader, and the server is then removed as a follower.
	StepDown Action = "StepDown"
	// Delete removes Server from the zone on the leader (one.zone.delserver) before its
	// pod goes.
	Delete Action = "Delete"
	// Forget drops the recorded ID of a server no longer in the zone.
	Forget Action = "Forget"
	// SeedFrom records Server, the leader, as the server whose database a pod copies
	// when it joins or lost its own: never a server that left or fell behind.
	SeedFrom Action = "SeedFrom"
	// Roll restarts Server's pod, which runs an older pod template, so that it comes back
	// with the new one: one server at a time, in a settled zone, the followers first
	// (the highest ordinal first) and the leader last.
	Roll Action = "Roll"
)

// Step is the one next thing to do.
type Step struct {
	Action Action
	// Server is the pod the step is about, Endpoint its endpoint, ID its server ID (for
	// Record, Reset, Delete, Forget).
	Server   string
	Endpoint string
	ID       int
	// Reason explains the step, or what a Wait waits for.
	Reason string
}

func (s Step) String() string {
	if s.Server == "" {
		return string(s.Action) + ": " + s.Reason
	}
	return fmt.Sprintf("%s %s: %s", s.Action, s.Server, s.Reason)
}

// Plan is the outcome of one pass.
type Plan struct {
	Step Step
	// StatefulSetReplicas is how many pods should run now: the members of the zone, plus
	// the one server joining, and the servers not yet removed.
	StatefulSetReplicas int
	// Leader is the ordinal of the leader, -1 when there is none.
	Leader int
}

// Done reports whether the zone is as asked: nothing to do and nothing awaited.
func (p Plan) Done() bool { return p.Step.Action == Wait && p.Step.Reason == reasonDone }

const reasonDone = "the zone is as asked"

// Decide plans the next step from one observation.
func Decide(v View) Plan {
	p := Plan{Leader: oned.Leader(statuses(v.Servers))}
	members := v.members()
	// Every pod the zone or the record knows keeps running until it is removed from both.
	p.StatefulSetReplicas = max(1, highest(v.known())+1)

	if len(v.Recorded) == 0 {
		p.Step = v.bootstrap()
		return p
	}
	if v.Zone == nil {
		p.Step = Step{Action: Wait, Reason: "no leader answers one.zone.info: " + v.describe(members)}
		return p
	}
	if s, ok := v.syncRecord(); ok {
		p.Step = s
		return p
	}
	for _, i := range members {
		s := v.Servers[i]
		if s.Status != nil && s.Status.State == oned.RaftSolo {
			p.Step = Step{Action: Restart, Server: s.Name,
				Reason: "it runs solo but has server ID " + strconv.Itoa(v.Recorded[s.Name]) + ": restarting it with its ID"}
			return p
		}
	}
	if p.Leader < 0 || !slices.Contains(members, p.Leader) {
		p.Step = Step{Action: Wait, Reason: "no leader among the members: " + v.describe(members)}
		return p
	}
	leader := v.Servers[p.Leader]
	if v.SeedFrom != leader.Name {
		p.Step = Step{Action: SeedFrom, Server: leader.Name, Reason: "joining and reseeded servers copy the leader's database"}
		return p
	}
	for _, i := range members {
		s := v.Servers[i]
		if s.Reseeded && s.Status != nil {
			p.Step = Step{Action: Reset, Server: s.Name, ID: v.Recorded[s.Name],
				Reason: "its database was reseeded from leader " + leader.Name}
			return p
		}
	}
	if excess := membersFrom(members, v.Replicas); len(excess) > 0 {
		p.Step = v.scaleDown(excess, p.Leader)
		return p
	}
	// A new server joins only a settled zone: every member answers, follows the leader's
	// term and has its log up to the leader's commit (a join while a member lags would
	// leave the enlarged zone without a quorum that can commit).
	if !settled(v.Servers, members) {
		p.Step = Step{Action: Wait, Reason: "the zone is not settled: " + v.describe(members)}
		return p
	}
	joining := firstMissing(members, v.Replicas)
	if joining < 0 {
		p.Step = v.roll(members, p.Leader)
		return p
	}
	p.StatefulSetReplicas = max(p.StatefulSetReplicas, joining+1)
	if joining >= len(v.Servers) {
		p.Step = Step{Action: Wait, Reason: fmt.Sprintf("pod %d does not exist yet", joining)}
		return p
	}
	s := v.Servers[joining]
	if !s.Waiting {
		p.Step = Step{Action: Wait, Server: s.Name, Reason: "its pod starts and waits to be added to the zone"}
		return p
	}
	p.Step = Step{Action: Add, Server: s.Name, Endpoint: s.Endpoint, Reason: "it joins the zone through leader " + leader.Name}
	return p
}

// roll restarts the first outdated pod of a settled, complete zone: followers from the
// highest ordinal down, the leader last (its restart costs an election: one, at the end).
func (v View) roll(members []int, leader int) Step {
	order := slices.Clone(members)
	slices.SortFunc(order, func(a, b int) int {
		if (a == leader) != (b == leader) {
			if a == leader {
				return 1
			}
			return -1
		}
		return b - a
	})
	for _, i := range order {
		if s := v.Servers[i]; s.Outdated {
			role := "a follower"
			if i == leader {
				role = "the leader, last"
			}
			return Step{Action: Roll, Server: s.Name, ID: v.Recorded[s.Name],
				Reason: "its pod runs an older template; restarting " + role + ", one server at a time"}
		}
	}
	return Step{Action: Wait, Reason: reasonDone}
}

// bootstrap forms the zone from the first server, started solo.
func (v View) bootstrap() Step {
	if v.Replicas <= 1 {
		return Step{Action: Wait, Reason: reasonDone}
	}
	first := v.Servers[0]
	if v.Zone != nil {
		if srv, n := v.Zone.ServerByName(first.Name); n > 0 {
			return Step{Action: Record, Server: first.Name, ID: srv.ID, Reason: "the zone lists it with this ID"}
		}
	}
	if first.Status == nil || first.Status.State != oned.RaftSolo {
		return Step{Action: Wait, Server: first.Name, Reason: "the first server must run solo before it forms the zone"}
	}
	return Step{Action: AddSelf, Server: first.Name, Endpoint: first.Endpoint, Reason: "the first server shares its keys and adds itself to zone 0"}
}

// syncRecord keeps the record equal to the zone for the frontend's pods: an ID the zone
// gave and the record lacks is recorded; a recorded server the zone no longer lists is
// forgotten (its pod would otherwise start with an ID the zone does not know).
func (v View) syncRecord() (Step, bool) {
	for _, s := range v.Servers {
		srv, n := v.Zone.ServerByName(s.Name)
		id, recorded := v.Recorded[s.Name]
		switch {
		case n > 0 && (!recorded || id != srv.ID):
			return Step{Action: Record, Server: s.Name, ID: srv.ID, Reason: "the zone lists it with this ID"}, true
		case n == 0 && recorded:
			return Step{Action: Forget, Server: s.Name, ID: id, Reason: "the zone no longer lists it"}, true
		}
	}
	return Step{}, false
}

// scaleDown removes the highest ordinal first (its pod goes with the StatefulSet's next
// scale-down, so a removed server never lingers and calls elections); the leader is never
// removed: when it is the highest, it is restarted so that another server is elected, and
// removed as a follower afterwards. Stepping down only the highest ordinal bounds the
// restarts: were the leader stepped down while a higher excess server ran, that server
// could win the election and be stepped down in turn (seen on real oned: 3 → 1 took three
// restarts); this way, when the new leader is excess too, the highest goes as a follower
// and the second step-down leaves only kept servers to elect.
func (v View) scaleDown(excess []int, leader int) Step {
	if excess[len(excess)-1] == leader {
		s := v.Servers[leader]
		// Restarting the leader is safe only when the others make a quorum without it.
		if !settled(v.Servers, v.members()) {
			return Step{Action: Wait, Server: s.Name, Reason: "the leader must leave the zone, once every member follows it: " + v.describe(v.members())}
		}
		return Step{Action: StepDown, Server: s.Name, ID: v.Recorded[s.Name],
			Reason: "the leader must leave the zone: restarting it so that another server is elected first"}
	}
	s := v.Servers[excess[len(excess)-1]]
	return Step{Action: Delete, Server: s.Name, ID: v.Recorded[s.Name],
		Reason: fmt.Sprintf("%d servers are asked for", v.Replicas)}
}

// members are the ordinals of the pods the record and the zone both hold.
func (v View) members() []int {
	var out []int
	for i, s := range v.Servers {
		if _, ok := v.Recorded[s.Name]; !ok {
			continue
		}
		if v.Zone != nil {
			if _, n := v.Zone.ServerByName(s.Name); n == 0 {
				continue
			}
		}
		out = append(out, i)
	}
	return out
}

// known are the ordinals of the pods the record or the zone holds.
func (v View) known() []int {
	var out []int
	for i, s := range v.Servers {
		_, recorded := v.Recorded[s.Name]
		listed := 0
		if v.Zone != nil {
			_, listed = v.Zone.ServerByName(s.Name)
		}
		if recorded || listed > 0 {
			out = append(out, i)
		}
	}
	return out
}

func (v View) describe(members []int) string {
	var parts []string
	for _, i := range members {
		s := v.Servers[i]
		if s.Status == nil {
			parts = append(parts, s.Name+" does not answer")
			continue
		}
		parts = append(parts, s.Name+" "+s.Status.String())
	}
	if len(parts) == 0 {
		return "no members"
	}
	return strings.Join(parts, "; ")
}

func settled(servers []Server, members []int) bool {
	sub := make([]Server, len(members))
	for j, i := range members {
		sub[j] = servers[i]
	}
	return oned.Settled(statuses(sub)) >= 0
}

// statuses are the servers' answers, in their order (nil: no answer).
func statuses(servers []Server) []*oned.RaftStatus {
	out := make([]*oned.RaftStatus, len(servers))
	for i, s := range servers {
		out[i] = s.Status
	}
	return out
}

func highest(ordinals []int) int {
	if len(ordinals) == 0 {
		return -1
	}
	return slices.Max(ordinals)
}

func membersFrom(members []int, from int) []int {
	var out []int
	for _, i := range members {
		if i >= from {
			out = append(out, i)
		}
	}
	return out
}

// firstMissing is the lowest ordinal below replicas that is not a member, or -1.
func firstMissing(members []int, replicas int) int {
	for i := range replicas {
		if !slices.Contains(members, i) {
			return i
		}
	}
	return -1
}
