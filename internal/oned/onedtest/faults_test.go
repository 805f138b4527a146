package onedtest

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opennebula-operator/opennebula-operator/internal/oned"
)

// What only the double can provoke (conformance.DoubleOnly lists it): each test here
// checks the double's behaviour and what the client and oned.Leader/Settled make of it.

func bg(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func raftStatuses(t *testing.T, z *Zone) []*oned.RaftStatus {
	out := make([]*oned.RaftStatus, 0, len(z.Servers()))
	for _, s := range z.Servers() {
		st, err := s.Client(t).RaftStatus(bg(t))
		if err != nil {
			st = nil
		}
		out = append(out, st)
	}
	return out
}

// A stale leader (cut off, still at its old term) and the new leader both say LEADER:
// oned.Leader picks the higher term; Settled sees no settled zone; a tie gives no leader.
func TestTwoServersClaimLeadership(t *testing.T) {
	z := NewZone(t, 3, WithElectionDelay(50*time.Millisecond))
	old := z.Leader()
	old.Stop(t)
	waitFor(t, func() bool { l := z.Leader(); return l != nil && l != old })
	newLeader := z.Leader()
	old.Start(t)
	old.ClaimLeadership(1)
	st := raftStatuses(t, z)
	leaders := 0
	for _, s := range st {
		if s.State == oned.RaftLeader {
			leaders++
		}
	}
	if leaders != 2 {
		t.Fatalf("want two servers saying LEADER, got %d: %+v", leaders, st)
	}
	if i := oned.Leader(st); i < 0 || z.Servers()[i] != newLeader {
		t.Fatalf("oned.Leader = %d, want the higher term's %s", i, newLeader.Name)
	}
	if i := oned.Settled(st); i >= 0 {
		t.Fatalf("Settled = %d with two leaders", i)
	}
	old.ClaimLeadership(z.Term())
	if i := oned.Leader(raftStatuses(t, z)); i >= 0 {
		t.Fatalf("two leaders of one term: oned.Leader = %d, want none", i)
	}
}

// A lagging follower serves stale local reads and reports a log behind the leader's
// commit; Settled waits for it.
func TestFollowerLagging(t *testing.T) {
	z := NewZone(t, 3)
	leader, follower := z.Servers()[0], z.Servers()[1]
	follower.Lag()
	id, err := leader.Client(t).HostAllocate(bg(t), "kvm-lag", "kvm", "kvm", -1)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := follower.Client(t).HostPool(bg(t))
	if err != nil {
		t.Fatal(err)
	}
	if slices.ContainsFunc(pool, func(h oned.Host) bool { return h.ID == id }) {
		t.Fatal("a lagging follower lists the new host")
	}
	st := raftStatuses(t, z)
	if st[1].LogIndex >= st[0].Commit {
		t.Fatalf("follower log %d, leader commit %d", st[1].LogIndex, st[0].Commit)
	}
	if oned.Settled(st) >= 0 {
		t.Fatal("Settled with a lagging follower")
	}
	// Writes through the lagging follower are still forwarded to the leader.
	if _, err := follower.Client(t).HostAllocate(bg(t), "kvm-lag-2", "kvm", "kvm", -1); err != nil {
		t.Fatal(err)
	}
	follower.CatchUp()
	pool, _ = follower.Client(t).HostPool(bg(t))
	if !slices.ContainsFunc(pool, func(h oned.Host) bool { return h.ID == id }) {
		t.Fatal("caught-up follower misses the host")
	}
	if oned.Settled(raftStatuses(t, z)) != 0 {
		t.Fatal("not settled after catching up")
	}
}

// A server that never answers: the client's timeout ends the call, and so does the
// caller's context; both are TransportErrors that unwrap to the context's error.
func TestServerHangs(t *testing.T) {
	s := NewServer(t)
	s.Hang()
	c := s.Client(t, oned.WithTimeout(200*time.Millisecond))
	start := time.Now()
	_, err := c.Version(context.Background())
	if !oned.IsUnreachable(err) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("hanging server: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("the timeout did not end the call: %s", d)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(100 * time.Millisecond); cancel() }()
	_, err = s.Client(t, oned.WithTimeout(0)).Version(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled call: %v", err)
	}
	s.Release()
	if _, err := c.Version(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// A slow server is waited for within the timeout, and abandoned past it.
func TestSlowAnswer(t *testing.T) {
	s := NewServer(t)
	s.Slow(300 * time.Millisecond)
	start := time.Now()
	if _, err := s.Client(t, oned.WithTimeout(5*time.Second)).Version(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Fatalf("answered in %s, the delay is 300ms", d)
	}
	_, err := s.Client(t, oned.WithTimeout(50*time.Millisecond)).Version(context.Background())
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want deadline exceeded, got %v", err)
	}
}

// A stopped server refuses connections: unreachable, and the message names the endpoint
// but never the password.
func TestStoppedServer(t *testing.T) {
	s := NewServer(t)
	s.Stop(t)
	_, err := s.Client(t).Version(bg(t))
	if !oned.IsUnreachable(err) || !strings.Contains(err.Error(), s.Endpoint()) || strings.Contains(err.Error(), Password) {
		t.Fatalf("stopped server: %v", err)
	}
}

// HostAPI::drop refuses a host with running VMs.
func TestHostWithVMsIsNotDeleted(t *testing.T) {
	s := NewServer(t)
	c := s.Client(t)
	id, err := c.HostAllocate(bg(t), "kvm-vms", "kvm", "kvm", -1)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Zone().AddVM(id, 7); err != nil {
		t.Fatal(err)
	}
	h, _ := c.HostInfo(bg(t), id)
	if !slices.Equal(h.VMs, []int{7}) || h.Share.RunningVMs != 1 {
		t.Fatalf("host VMs %v running %d", h.VMs, h.Share.RunningVMs)
	}
	err = c.HostDelete(bg(t), id)
	if !oned.IsAction(err) || !strings.HasSuffix(err.Error(), "[one.host.delete] Cannot delete host. Can not remove a host with running VMs (ACTION)") {
		t.Fatalf("delete of a host with VMs: %v", err)
	}
	s.Zone().RemoveVMs(id)
	if err := c.HostDelete(bg(t), id); err != nil {
		t.Fatal(err)
	}
}

// A reachable hypervisor: the host goes MONITORED with its capacity and a monitoring
// time, and its error is cleared (Host::update_info).
func TestReachableHypervisor(t *testing.T) {
	s := NewServer(t, WithMonitorInterval(50*time.Millisecond))
	c := s.Client(t)
	id, err := c.HostAllocate(bg(t), "kvm-up", "kvm", "kvm", -1)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { h, _ := c.HostInfo(bg(t), id); return h.State == oned.HostError })
	s.Zone().SetHypervisor("kvm-up", &Hypervisor{TotalCPU: 400, TotalMemory: 8 << 20, UsedCPU: 50, UsedMemory: 1 << 20})
	waitFor(t, func() bool { h, _ := c.HostInfo(bg(t), id); return h.State == oned.HostMonitored })
	h, _ := c.HostInfo(bg(t), id)
	if h.Share.TotalCPU != 400 || h.Share.TotalMem != 8<<20 || h.Monitoring.Timestamp == 0 || msgOf(h) != "" {
		t.Fatalf("monitored host %+v", h)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func msgOf(h *oned.Host) string { m, _ := h.ErrorMessage(); return m }
