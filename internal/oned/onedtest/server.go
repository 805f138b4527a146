// Package onedtest is an in-process double of oned's XML-RPC API for the calls the
// operator makes, on 127.0.0.1: a solo server (NewServer) or a Raft zone of several
// (NewZone). It answers as OpenNebula 7.2 does, following its sources (each behaviour
// names the file it comes from), and is trusted only for what the conformance suite
// (internal/oned/conformance) shows real oned also does. On top of that it provokes what
// real processes make hard to: two servers claiming leadership, a follower lagging, a
// server that accepts connections and never answers, a slow answer, a host with VMs, a
// reachable hypervisor.
package onedtest

import (
	"context"
	"fmt"
	"maps"
	"net"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/opennebula-operator/opennebula-operator/internal/oned"
)

// Password is oneadmin's password on the double's servers.
const Password = "conformance-Secret-1"

// Version is what one.system.version answers (Nebula::code_version of the 7.2.0 release).
const Version = "7.2.0"

// Zone is a Raft zone of double servers sharing one database. A solo server is a zone of
// one whose server has SERVER_ID -1.
type Zone struct {
	mu      sync.Mutex
	db      *db
	servers []*Server
	// term is the zone's current Raft term; leader the index of its leader (-1: none).
	term   int64
	leader int
	// hypervisors are the host names whose monitoring succeeds.
	hypervisors map[string]*Hypervisor
	// timings.
	electionDelay   time.Duration
	monitorInterval time.Duration
	election        *time.Timer
	solo            bool
}

// Server is one double oned on its own loopback port.
type Server struct {
	Name string
	zone *Zone
	idx  int
	id   int // SERVER_ID (-1 solo)

	addr     string
	listener net.Listener
	http     *http.Server

	// guarded by zone.mu
	running  bool
	state    oned.RaftState
	term     int64
	hang     chan struct{}
	delay    time.Duration
	lagged   *db
	lagIndex int64
	// noDB: a pod whose volume holds no database yet (NewPod, Wipe) until SeedFrom.
	noDB bool
	// oneKey is the server's var/.one/one_key, generated at its first start.
	oneKey string
	// calls counts the calls received, by method.
	calls map[string]int
}

// Calls is how many calls of method the server has received.
func (s *Server) Calls(method string) int {
	s.zone.mu.Lock()
	defer s.zone.mu.Unlock()
	return s.calls[method]
}

// CallCounts are the calls the server has received, by method.
func (s *Server) CallCounts() map[string]int {
	s.zone.mu.Lock()
	defer s.zone.mu.Unlock()
	return maps.Clone(s.calls)
}

// Option sets a double's timing.
type Option func(*Zone)

// WithElectionDelay is how long after its leader stops a zone elects another (real
// oned: ELECTION_TIMEOUT_MS 5000 plus a random part, src/raft/RaftManager.cc).
func WithElectionDelay(d time.Duration) Option { return func(z *Zone) { z.electionDelay = d } }

// WithMonitorInterval is how long after allocate (and between attempts) a host is
// monitored; real oned with its drivers takes about a second to fail a host.
func WithMonitorInterval(d time.Duration) Option { return func(z *Zone) { z.monitorInterval = d } }

func newZone(opts []Option) *Zone {
	z := &Zone{db: newDB(), leader: -1, hypervisors: map[string]*Hypervisor{},
		electionDelay: 300 * time.Millisecond, monitorInterval: 500 * time.Millisecond}
	for _, o := range opts {
		o(z)
	}
	return z
}

// NewServer starts a solo double (SERVER_ID -1, Raft state SOLO), stopped when the test ends.
func NewServer(t testing.TB, opts ...Option) *Server {
	t.Helper()
	z := newZone(opts)
	z.solo = true
	s := z.addServer(t, "solo")
	s.id, s.state = -1, oned.RaftSolo
	s.start()
	return s
}

// Start starts a solo double outside a test (the benchmark's): the caller stops it with
// the returned function.
func Start(opts ...Option) (*Server, func(), error) {
	z := newZone(opts)
	z.solo = true
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	s := z.newServer("solo", l)
	s.id, s.state = -1, oned.RaftSolo
	s.start()
	return s, s.shutdown, nil
}

// NewZone starts a Raft zone of n double servers named s0..s(n-1), whose zone 0 lists
// them with IDs 0..n-1 as the join procedure leaves them; s0 leads term 1.
func NewZone(t testing.TB, n int, opts ...Option) *Zone {
	t.Helper()
	z := newZone(opts)
	for i := range n {
		s := z.addServer(t, fmt.Sprintf("s%d", i))
		s.id = i
		s.start()
		z.db.zoneServers = append(z.db.zoneServers, zoneServer{id: i, name: s.Name, endpoint: s.Endpoint()})
		z.db.logIndex++
	}
	z.mu.Lock()
	z.term = 1
	z.setLeaderLocked(0)
	z.mu.Unlock()
	return z
}

// NewPods makes a zone with no server yet: servers are added as pods (NewPod), each
// started with the SERVER_ID its start wrapper found (StartAs), and the zone is formed from
// outside with one.zone.addserver, as the operator does: the first server solo, adding
// itself, restarted with its ID; the others added on the leader, then started. Elections
// count the zone's members (its SERVER_POOL), not the pods.
func NewPods(t testing.TB, opts ...Option) *Zone {
	t.Helper()
	return newZone(opts)
}

// NewPod adds a stopped server with no database yet on its own loopback port.
func (z *Zone) NewPod(t testing.TB, name string) *Server {
	t.Helper()
	s := z.addServer(t, name)
	_ = s.listener.Close()
	s.listener = nil
	s.id, s.state, s.noDB = -1, oned.RaftSolo, true
	return s
}

// StartAs starts a pod's server with SERVER_ID id (-1: solo). A server with an ID is a
// follower until the zone's members elect a leader.
func (s *Server) StartAs(t testing.TB, id int) {
	t.Helper()
	l, err := net.Listen("tcp", s.addr)
	if err != nil {
		t.Fatalf("listening again on %s: %v", s.addr, err)
	}
	s.listener = l
	z := s.zone
	z.mu.Lock()
	s.id, s.noDB = id, false
	if id < 0 {
		s.state, s.term = oned.RaftSolo, 0
	} else {
		s.state, s.term = oned.RaftFollower, z.term
		z.scheduleElectionLocked()
	}
	z.mu.Unlock()
	s.start()
}

// UseOneKey gives the stopped pod's server the one_key it starts with, as the operator's
// start wrapper puts the zone's in var/.one.
func (s *Server) UseOneKey(key string) {
	s.zone.mu.Lock()
	defer s.zone.mu.Unlock()
	s.oneKey = key
}

// HasDatabase reports whether the pod's volume holds a database.
func (s *Server) HasDatabase() bool {
	s.zone.mu.Lock()
	defer s.zone.mu.Unlock()
	return !s.noDB
}

// Wipe loses the stopped pod's database, as a lost volume would.
func (s *Server) Wipe() {
	s.zone.mu.Lock()
	defer s.zone.mu.Unlock()
	s.noDB = true
}

// SeedFrom gives the stopped pod a copy of the leader's database (the double's servers
// share one database, so the copy is the zone's).
func (s *Server) SeedFrom(*Server) {
	s.zone.mu.Lock()
	defer s.zone.mu.Unlock()
	s.noDB = false
}

func (z *Zone) addServer(t testing.TB, name string) *Server {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := z.newServer(name, l)
	t.Cleanup(func() { s.shutdown() })
	return s
}

func (z *Zone) newServer(name string, l net.Listener) *Server {
	s := &Server{Name: name, zone: z, idx: len(z.servers), addr: l.Addr().String(), listener: l, oneKey: randomHex(), calls: map[string]int{}}
	z.servers = append(z.servers, s)
	return s
}

// Servers are the zone's servers in the order they were created.
func (z *Zone) Servers() []*Server { return z.servers }

// Endpoint is the server's XML-RPC URL.
func (s *Server) Endpoint() string { return oned.Endpoint(s.addr) }

// Credentials are oneadmin's.
func (s *Server) Credentials() oned.Credentials { return oned.Admin(Password) }

// Client is an oneadmin client of this server.
func (s *Server) Client(t testing.TB, opts ...oned.Option) *oned.Client {
	t.Helper()
	c, err := oned.New(s.Endpoint(), s.Credentials(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// ID is the server's SERVER_ID in its zone (-1 solo).
func (s *Server) ID() int { return s.id }

func (s *Server) start() {
	s.zone.mu.Lock()
	s.running = true
	s.zone.mu.Unlock()
	mux := http.NewServeMux()
	mux.HandleFunc("/RPC2", s.serveHTTP)
	s.http = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	l := s.listener
	go func() { _ = s.http.Serve(l) }()
}

func (s *Server) shutdown() {
	s.zone.mu.Lock()
	if s.hang != nil {
		close(s.hang)
		s.hang = nil
	}
	s.running = false
	if s.zone.election != nil {
		s.zone.election.Stop()
	}
	s.zone.mu.Unlock()
	if s.http != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = s.http.Shutdown(ctx)
		cancel()
		_ = s.http.Close()
	}
}

// Stop stops the server as a process that exits would: its port refuses connections.
// Stopping the leader makes the zone elect another after the election delay when a
// majority is left; without a majority the servers left become candidates.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	s.shutdown()
	s.zone.mu.Lock()
	defer s.zone.mu.Unlock()
	s.zone.scheduleElectionLocked()
}

// Start starts a stopped server again on the same port; it rejoins as a follower.
func (s *Server) Start(t testing.TB) {
	t.Helper()
	l, err := net.Listen("tcp", s.addr)
	if err != nil {
		t.Fatalf("listening again on %s: %v", s.addr, err)
	}
	s.listener = l
	s.zone.mu.Lock()
	if !s.zone.solo {
		s.state, s.term = oned.RaftFollower, s.zone.term
		if s.zone.leader < 0 {
			s.zone.scheduleElectionLocked()
		}
	}
	s.zone.mu.Unlock()
	s.start()
}

// Hang makes the server accept connections and never answer, as a process that is stopped
// (SIGSTOP) or a network that drops packets would, until Release.
func (s *Server) Hang() {
	s.zone.mu.Lock()
	defer s.zone.mu.Unlock()
	if s.hang == nil {
		s.hang = make(chan struct{})
	}
}

// Release ends Hang.
func (s *Server) Release() {
	s.zone.mu.Lock()
	defer s.zone.mu.Unlock()
	if s.hang != nil {
		close(s.hang)
		s.hang = nil
	}
}

// Slow delays every answer of this server by d (0: no delay).
func (s *Server) Slow(d time.Duration) {
	s.zone.mu.Lock()
	defer s.zone.mu.Unlock()
	s.delay = d
}

// Lag freezes this follower's copy of the database and its log where they are: its
// answers to local reads (one.hostpool.info, one.host.info, one.zone.info) and its
// raftstatus LOG_INDEX/COMMIT stay behind the leader's until CatchUp.
func (s *Server) Lag() {
	s.zone.mu.Lock()
	defer s.zone.mu.Unlock()
	s.lagged, s.lagIndex = s.zone.db.clone(), s.zone.db.logIndex
}

// CatchUp ends Lag: the follower has applied the leader's log.
func (s *Server) CatchUp() {
	s.zone.mu.Lock()
	defer s.zone.mu.Unlock()
	s.lagged = nil
}

// ClaimLeadership makes this server answer raftstatus as LEADER of term, while the zone's
// real leader keeps leading: a stale leader cut off from the others that has not learned
// of the newer term yet (or, with a higher term, one that has just won an election the old
// leader has not heard of). Writes sent to it are still served by the zone's leader.
func (s *Server) ClaimLeadership(term int64) {
	s.zone.mu.Lock()
	defer s.zone.mu.Unlock()
	s.state, s.term = oned.RaftLeader, term
}

// Leader is the zone's leader (nil while it has none).
func (z *Zone) Leader() *Server {
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.leader < 0 {
		return nil
	}
	return z.servers[z.leader]
}

// Term is the zone's current Raft term.
func (z *Zone) Term() int64 {
	z.mu.Lock()
	defer z.mu.Unlock()
	return z.term
}

// SetHypervisor makes the monitoring of host name succeed with this capacity (nil: fail).
func (z *Zone) SetHypervisor(name string, hv *Hypervisor) {
	z.mu.Lock()
	defer z.mu.Unlock()
	if hv == nil {
		delete(z.hypervisors, name)
		return
	}
	z.hypervisors[name] = hv
}

// AddVM places a running VM (its ID) on a host: one.host.delete is then refused.
func (z *Zone) AddVM(hostID, vmID int) error {
	z.mu.Lock()
	defer z.mu.Unlock()
	h := z.db.hosts[hostID]
	if h == nil {
		return fmt.Errorf("no host %d", hostID)
	}
	h.vms = append(h.vms, vmID)
	h.share.RunningVMs = int64(len(h.vms))
	return nil
}

// AddVNet makes a virtual network and returns its ID (a fresh oned has none; the
// operator only adds and removes networks from clusters).
func (z *Zone) AddVNet() int {
	z.mu.Lock()
	defer z.mu.Unlock()
	id := len(z.db.vnets)
	z.db.vnets = append(z.db.vnets, id)
	return id
}

// RemoveVMs takes every VM off a host.
func (z *Zone) RemoveVMs(hostID int) {
	z.mu.Lock()
	defer z.mu.Unlock()
	if h := z.db.hosts[hostID]; h != nil {
		h.vms, h.share.RunningVMs = nil, 0
	}
}

// Zone is the zone a server belongs to (a solo server's zone of one).
func (s *Server) Zone() *Zone { return s.zone }

func (z *Zone) setLeaderLocked(idx int) {
	z.leader = idx
	for i, s := range z.servers {
		if !s.running || s.id < 0 {
			continue
		}
		s.term = z.term
		if i == idx {
			s.state = oned.RaftLeader
		} else {
			s.state = oned.RaftFollower
		}
	}
}

// membersLocked are the zone's members: the IDs its SERVER_POOL lists.
func (z *Zone) membersLocked() map[int]bool {
	m := map[int]bool{}
	for _, zs := range z.db.zoneServers {
		m[zs.id] = true
	}
	return m
}

// scheduleElectionLocked holds an election after the delay when the zone has no running
// leader. With a majority of the zone's members running (with their SERVER_ID), the one
// with the lowest ID wins at the next term (real Raft: whoever times out first and has
// the longest log); without one, every running member is a CANDIDATE and bumps its term
// at each timeout (RaftManager::timer_action, src/raft/RaftManager.cc). Solo servers
// (SERVER_ID -1) take no part.
func (z *Zone) scheduleElectionLocked() {
	if z.solo || (z.leader >= 0 && z.servers[z.leader].running) {
		return
	}
	z.leader = -1
	if z.election != nil {
		z.election.Stop()
	}
	z.election = time.AfterFunc(z.electionDelay, func() {
		z.mu.Lock()
		defer z.mu.Unlock()
		members := z.membersLocked()
		var up []int
		for i, s := range z.servers {
			if s.running && s.id >= 0 && members[s.id] {
				up = append(up, i)
			}
		}
		if len(up) == 0 {
			return
		}
		slices.SortFunc(up, func(a, b int) int { return z.servers[a].id - z.servers[b].id })
		z.term++
		if len(up)*2 > len(members) {
			z.setLeaderLocked(up[0])
			return
		}
		for _, i := range up {
			z.servers[i].state, z.servers[i].term = oned.RaftCandidate, z.term
		}
		z.scheduleElectionLocked()
	})
}

// Running reports whether the server answers (not stopped).
func (s *Server) Running() bool {
	s.zone.mu.Lock()
	defer s.zone.mu.Unlock()
	return s.running
}
