package onedproc

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/opennebula-operator/opennebula-operator/internal/oned"
)

// StartSolo starts one solo server (SERVER_ID -1) in a directory of the test's.
func StartSolo(t testing.TB, name string) *Server {
	t.Helper()
	s := New(t, Prefix(t), workDir(t), name)
	s.Start(t)
	return s
}

// Zone is a Raft zone of real servers on loopback.
type Zone struct {
	Servers []*Server
}

// StartZone forms a Raft zone of n servers following OpenNebula's procedure (the HA guide,
// docs/opennebula.md for what running it here taught):
//  1. the first server starts solo and is added to zone 0 with one.zone.addserver under
//     its own name and endpoint; its ID is read back from one.zone.info, not assumed;
//  2. it restarts with that SERVER_ID and becomes leader once its first election is held;
//  3. every further server, one at a time: one.zone.addserver on the leader, its database
//     seeded from the leader's (online backup) with the leader's keys, then started with
//     the ID the leader gave it, and waited for as a follower of the leader's term before
//     the next is added (a second addserver blocks while the first new server is down).
func StartZone(t testing.TB, n int) *Zone {
	t.Helper()
	prefix, dir := Prefix(t), workDir(t)
	ctx := context.Background()
	first := New(t, prefix, dir, "s0")
	first.Start(t)
	id, _, err := first.Client(t).AddServerID(ctx, 0, oned.ServerSpec{Name: first.Name, Endpoint: first.Endpoint()})
	if err != nil {
		t.Fatalf("adding %s to zone 0: %v", first.Name, err)
	}
	first.Stop(t)
	if err := first.SetServerID(id); err != nil {
		t.Fatal(err)
	}
	first.Start(t)
	z := &Zone{Servers: []*Server{first}}
	leader := z.WaitLeader(t, electionTimeout)

	for i := 1; i < n; i++ {
		s := New(t, prefix, dir, fmt.Sprintf("s%d", i))
		id, _, err := leader.Client(t).AddServerID(ctx, 0, oned.ServerSpec{Name: s.Name, Endpoint: s.Endpoint()})
		if err != nil {
			t.Fatalf("adding %s to zone 0 on leader %s: %v", s.Name, leader.Name, err)
		}
		if err := s.SeedFrom(leader); err != nil {
			t.Fatalf("seeding %s from %s: %v", s.Name, leader.Name, err)
		}
		if err := s.SetServerID(id); err != nil {
			t.Fatal(err)
		}
		s.Start(t)
		z.Servers = append(z.Servers, s)
		leader = z.WaitLeader(t, electionTimeout)
	}
	return z
}

// Status is one server's answer to one.zone.raftstatus (Err when it did not answer).
type Status struct {
	Server *Server
	Raft   *oned.RaftStatus
	Err    error
}

// Statuses asks every running server of the zone for its Raft status.
func (z *Zone) Statuses(t testing.TB) []Status {
	t.Helper()
	var out []Status
	for _, s := range z.Servers {
		if !s.Running() {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		r, err := s.Client(t).RaftStatus(ctx)
		cancel()
		out = append(out, Status{Server: s, Raft: r, Err: err})
	}
	return out
}

// WaitLeader waits until exactly one running server is LEADER and every other running
// server is a FOLLOWER of the same term whose log has reached the leader's commit, and
// returns the leader.
func (z *Zone) WaitLeader(t testing.TB, timeout time.Duration) *Server {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for {
		if l := settledLeader(z.Statuses(t)); l != nil {
			return l
		}
		last = describe(z.Statuses(t))
		if time.Now().After(deadline) {
			var msg strings.Builder
			for _, s := range z.Servers {
				msg.WriteString(s.LogTail())
			}
			// The logs first: CI shows a failure's last lines, which must say what failed.
			fmt.Fprintf(&msg, "\nno settled leader within %s: %s", timeout, last)
			t.Fatal(msg.String())
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func settledLeader(sts []Status) *Server {
	raft := make([]*oned.RaftStatus, len(sts))
	for i, st := range sts {
		raft[i] = st.Raft
	}
	if i := oned.Settled(raft); i >= 0 {
		return sts[i].Server
	}
	return nil
}

func describe(sts []Status) string {
	var out strings.Builder
	for _, st := range sts {
		if st.Err != nil {
			fmt.Fprintf(&out, "[%s: %v] ", st.Server.Name, st.Err)
			continue
		}
		fmt.Fprintf(&out, "[%s: %s] ", st.Server.Name, st.Raft)
	}
	return out.String()
}

// KeepEnv names a directory under which the servers' directories (logs, databases) are
// kept after the test, for debugging; by default they live in the test's temporary
// directory and are removed with it.
const KeepEnv = "ONEDPROC_KEEP"

func workDir(t testing.TB) string {
	if keep := os.Getenv(KeepEnv); keep != "" {
		dir, err := os.MkdirTemp(keep, "oned-")
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("keeping oned directories in %s", dir)
		return dir
	}
	return t.TempDir()
}
