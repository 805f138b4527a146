// Package conformance is the one suite of oned's behaviour that the operator relies on,
// run against two backends: the in-process double (internal/oned/onedtest, in `make test`)
// and real oned 7.2 processes built from source (internal/oned/onedproc, in
// `make test-oned`). The double is trusted only for what this suite shows real oned does
// too; what only the double can provoke is tested in onedtest's own tests and listed in
// DoubleOnly below.
package conformance

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/opennebula-operator/opennebula-operator/internal/oned"
	"github.com/opennebula-operator/opennebula-operator/internal/oned/onedproc"
	"github.com/opennebula-operator/opennebula-operator/internal/oned/onedtest"
)

// DoubleOnly lists what the suite cannot make real processes do, and where the double's
// behaviour for it is tested instead (internal/oned/onedtest/faults_test.go):
var DoubleOnly = []string{
	"two servers claiming leadership at once (a stale leader of an older term): oned.Leader picks the highest term",
	"a follower lagging behind the leader's log: its local reads (hostpool.info) are stale, its LOG_INDEX behind COMMIT",
	"a server that accepts connections and never answers: the client's timeout and the caller's context end the call",
	"a slow answer: the client waits within its timeout",
	"a host running VMs: one.host.delete is refused (ACTION)",
	"a reachable hypervisor: a host goes MONITORED with its capacity",
}

// Server is one oned of a backend.
type Server interface {
	Name() string
	Endpoint() string
	Client(t testing.TB) *oned.Client
	// Stop stops the server as its process exiting would.
	Stop(t testing.TB)
	Running() bool
}

// Backend starts oned servers for the suite.
type Backend interface {
	// Solo starts a fresh solo server.
	Solo(t *testing.T) Server
	// Zone forms a Raft zone of n servers with a settled leader.
	Zone(t *testing.T, n int) []Server
	// Timing: how long the backend may take to fail a host whose hypervisor does not
	// answer, and to elect a new leader.
	MonitorWithin() time.Duration
	ElectionWithin() time.Duration
}

// Real is the backend of real oned processes ($ONED_PREFIX, built by hack/build-oned.sh).
type Real struct{}

type realServer struct{ *onedproc.Server }

func (s realServer) Name() string { return s.Server.Name }

// Solo implements Backend.
func (Real) Solo(t *testing.T) Server { return realServer{onedproc.StartSolo(t, "solo")} }

// Zone implements Backend.
func (Real) Zone(t *testing.T, n int) []Server {
	z := onedproc.StartZone(t, n)
	out := make([]Server, len(z.Servers))
	for i, s := range z.Servers {
		out[i] = realServer{s}
	}
	return out
}

// MonitorWithin implements Backend: with the real drivers a host whose name answers no
// SSH goes to ERROR about a second after allocate; the monitor retries on its interval.
func (Real) MonitorWithin() time.Duration { return 90 * time.Second }

// ElectionWithin implements Backend: ELECTION_TIMEOUT_MS 5000 plus its random part, and a
// restarted server waits before its first election (src/raft/RaftManager.cc).
func (Real) ElectionWithin() time.Duration { return 90 * time.Second }

// Double is the backend of the in-process double.
type Double struct{}

type doubleServer struct{ *onedtest.Server }

func (s doubleServer) Name() string                     { return s.Server.Name }
func (s doubleServer) Client(t testing.TB) *oned.Client { return s.Server.Client(t) }

// Solo implements Backend.
func (Double) Solo(t *testing.T) Server { return doubleServer{onedtest.NewServer(t)} }

// Zone implements Backend.
func (Double) Zone(t *testing.T, n int) []Server {
	z := onedtest.NewZone(t, n)
	out := make([]Server, len(z.Servers()))
	for i, s := range z.Servers() {
		out[i] = doubleServer{s}
	}
	return out
}

// MonitorWithin implements Backend.
func (Double) MonitorWithin() time.Duration { return 10 * time.Second }

// ElectionWithin implements Backend.
func (Double) ElectionWithin() time.Duration { return 10 * time.Second }

// eventually retries check until it returns nil or the timeout passes.
func eventually(t testing.TB, timeout time.Duration, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s: %v", what, timeout, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return c
}

// statuses asks every running server for its Raft status (nil: not running or no answer).
func statuses(t testing.TB, servers []Server) []*oned.RaftStatus {
	out := make([]*oned.RaftStatus, len(servers))
	for i, s := range servers {
		if !s.Running() {
			continue
		}
		c, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		out[i], _ = s.Client(t).RaftStatus(c)
		cancel()
	}
	return out
}

// settledLeader waits until the running servers have a settled leader and returns it.
func settledLeader(t testing.TB, servers []Server, within time.Duration) Server {
	t.Helper()
	var leader Server
	eventually(t, within, "a settled leader", func() error {
		var running []Server
		for _, s := range servers {
			if s.Running() {
				running = append(running, s)
			}
		}
		st := statuses(t, running)
		if i := oned.Settled(st); i >= 0 {
			leader = running[i]
			return nil
		}
		return fmt.Errorf("statuses %s", describe(running, st))
	})
	return leader
}

func describe(servers []Server, st []*oned.RaftStatus) string {
	var out strings.Builder
	for i, s := range servers {
		if st[i] == nil {
			fmt.Fprintf(&out, "[%s: no answer] ", s.Name())
			continue
		}
		fmt.Fprintf(&out, "[%s: %s] ", s.Name(), st[i])
	}
	return out.String()
}
