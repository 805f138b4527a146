package fleet_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opennebula-operator/opennebula-operator/internal/fleet"
	"github.com/opennebula-operator/opennebula-operator/internal/oned"
	"github.com/opennebula-operator/opennebula-operator/internal/oned/conformance"
)

// The sync is one scenario run against the double (make test) and real oned 7.2
// (realoned_test.go, make test-oned): hosts and clusters created, moved, disabled, set
// offline, edited and deleted by hand and put back, adopted only when asked, and deleted.

func TestSyncDouble(t *testing.T) {
	t.Parallel()
	syncScenario(t, conformance.Double{})
}

type pass struct {
	t *testing.T
	c *oned.Client
	b conformance.Backend
}

// read is a pass's pool read.
func (p pass) read() *fleet.Pools {
	p.t.Helper()
	pools, err := fleet.Read(context.Background(), p.c)
	if err != nil {
		p.t.Fatal(err)
	}
	return pools
}

func (p pass) cluster(want *fleet.Cluster) fleet.Result {
	p.t.Helper()
	r, err := fleet.SyncCluster(context.Background(), p.c, p.read(), want)
	if err != nil {
		p.t.Fatalf("cluster %s: %v", want.Name, err)
	}
	return r
}

func (p pass) host(want *fleet.Host) fleet.Result {
	p.t.Helper()
	r, err := fleet.SyncHost(context.Background(), p.c, p.read(), want)
	if err != nil {
		p.t.Fatalf("host %s: %v", want.Name, err)
	}
	return r
}

// settled: a second sync of the same object changes nothing (a pass at rest writes
// nothing to oned).
func (p pass) settledHost(want *fleet.Host) oned.Host {
	p.t.Helper()
	if r := p.host(want); r.Changed || r.Problem != nil {
		p.t.Fatalf("host %s not settled: %+v", want.Name, r)
	}
	h := p.read().Host(want.Name)
	if h == nil {
		p.t.Fatalf("host %s is not in the pool", want.Name)
	}
	return *h
}

func (p pass) settledCluster(want *fleet.Cluster) oned.Cluster {
	p.t.Helper()
	if r := p.cluster(want); r.Changed || r.Problem != nil {
		p.t.Fatalf("cluster %s not settled: %+v", want.Name, r)
	}
	cl := p.read().Cluster(want.Name)
	if cl == nil {
		p.t.Fatalf("cluster %s is not in the pool", want.Name)
	}
	return *cl
}

func attr(t oned.Template, name string) string {
	v, _ := t.Get(name)
	return v
}

func syncScenario(t *testing.T, b conformance.Backend) {
	p := pass{t: t, c: b.Solo(t).Client(t), b: b}
	rack, cl := clusterLifecycle(p)
	kvm, h := hostLifecycle(p, cl)
	handEdits(p, kvm, h, cl)
	adoption(p)
	deletion(p, rack, kvm)
}

// clusterLifecycle: a cluster with attributes and two datastores; an attribute and a
// datastore leave the spec and leave OpenNebula, the rest stays.
func clusterLifecycle(p pass) (*fleet.Cluster, oned.Cluster) {
	t := p.t
	rack := &fleet.Cluster{Object: fleet.Object{Key: "ns/rack", Name: "rack-1", KnownID: -1,
		Template: map[string]string{"RESERVED_CPU": "100", "NOTE": "row 4"}}, Datastores: []int{1, 2}}
	if r := p.cluster(rack); !r.Changed || r.Problem != nil || r.ID < 100 {
		t.Fatalf("cluster created: %+v", r)
	}
	cl := p.settledCluster(rack)
	if attr(cl.Template, "NOTE") != "row 4" || attr(cl.Template, fleet.AttrObject) != "ns/rack" ||
		attr(cl.Template, fleet.AttrAttributes) != "NOTE RESERVED_CPU" || !slices.Equal(cl.Datastores, []int{1, 2}) {
		t.Fatalf("cluster %+v", cl)
	}
	rack.Template = map[string]string{"RESERVED_CPU": "200"}
	rack.Datastores = []int{2}
	if r := p.cluster(rack); !r.Changed {
		t.Fatalf("cluster change: %+v", r)
	}
	cl = p.settledCluster(rack)
	if _, ok := cl.Template.Get("NOTE"); ok || attr(cl.Template, "RESERVED_CPU") != "200" || !slices.Equal(cl.Datastores, []int{2}) {
		t.Fatalf("cluster after removing NOTE and datastore 1: %+v", cl)
	}
	if _, ok := cl.Template.Get("RESERVED_MEM"); !ok {
		t.Fatalf("oned's own RESERVED_MEM was removed: %+v", cl.Template)
	}
	return rack, cl
}

// hostLifecycle: a host in that cluster; moved to the default cluster, disabled, set
// offline and enabled again.
func hostLifecycle(p pass, cl oned.Cluster) (*fleet.Host, oned.Host) {
	t := p.t
	kvm := &fleet.Host{Object: fleet.Object{Key: "ns/kvm1", Name: "kvm1.test", KnownID: -1,
		Template: map[string]string{"RESERVED_MEM": "1048576"}}, IMMad: "kvm", VMMad: "kvm", Cluster: "rack-1"}
	r := p.host(kvm)
	if !r.Changed || r.Problem != nil || r.ID < 0 {
		t.Fatalf("host created: %+v", r)
	}
	h := p.settledHost(kvm)
	if h.ID != r.ID || h.ClusterID != cl.ID || attr(h.Template, "RESERVED_MEM") != "1048576" || attr(h.Template, fleet.AttrObject) != "ns/kvm1" {
		t.Fatalf("host %+v", h)
	}
	kvm.KnownID = h.ID
	// No hypervisor answers at that name: oned's monitoring puts it in ERROR with its
	// own message, which the object's status shows (Host.ErrorMessage).
	deadline := time.Now().Add(p.b.MonitorWithin())
	for {
		live := p.read().Host(kvm.Name)
		msg, _ := live.ErrorMessage()
		if live.State == oned.HostError && strings.HasPrefix(msg, fmt.Sprintf("Error monitoring Host %s (%d): ", kvm.Name, h.ID)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("host not in ERROR with oned's message: STATE %s, %q", live.State, msg)
		}
		time.Sleep(500 * time.Millisecond)
	}
	kvm.Cluster = ""
	p.host(kvm)
	if h = p.settledHost(kvm); h.ClusterID != oned.DefaultClusterID {
		t.Fatalf("host not moved to the default cluster: %+v", h)
	}
	for _, step := range []struct {
		status oned.HostStatus
		states []oned.HostState
	}{
		{oned.HostStatusDisabled, []oned.HostState{oned.HostDisabled, oned.HostMonitoringDisabled}},
		{oned.HostStatusOffline, []oned.HostState{oned.HostOffline}},
		{oned.HostStatusEnabled, []oned.HostState{oned.HostInit, oned.HostMonitoringInit, oned.HostError, oned.HostMonitoringError}},
	} {
		kvm.Status = step.status
		if r := p.host(kvm); !r.Changed {
			t.Fatalf("status %d: nothing sent", step.status)
		}
		if h = p.settledHost(kvm); !slices.Contains(step.states, h.State) {
			t.Fatalf("after status %d: STATE %s", step.status, h.State)
		}
	}
	kvm.Cluster = "rack-1"
	p.host(kvm)
	return kvm, p.settledHost(kvm)
}

// handEdits: template, cluster and status edited by hand are put back in one pass, an
// attribute the operator never set is kept; a host deleted by hand is made again.
func handEdits(p pass, kvm *fleet.Host, h oned.Host, cl oned.Cluster) {
	t := p.t
	ctx := context.Background()
	for _, edit := range []error{
		p.c.HostUpdate(ctx, h.ID, map[string]string{"RESERVED_MEM": "0", "HAND": "made"}, oned.UpdateMerge),
		p.c.ClusterAddHost(ctx, oned.DefaultClusterID, h.ID),
		p.c.HostStatus(ctx, h.ID, oned.HostStatusOffline),
	} {
		if edit != nil {
			t.Fatal(edit)
		}
	}
	if r := p.host(kvm); !r.Changed {
		t.Fatalf("hand edits not put back: %+v", r)
	}
	h = p.settledHost(kvm)
	if h.ClusterID != cl.ID || attr(h.Template, "RESERVED_MEM") != "1048576" || h.State == oned.HostOffline {
		t.Fatalf("after the hand edits: %+v", h)
	}
	if attr(h.Template, "HAND") != "made" {
		t.Fatalf("an attribute the operator never set was removed: %+v", h.Template)
	}
	if err := p.c.HostDelete(ctx, h.ID); err != nil {
		t.Fatal(err)
	}
	r := p.host(kvm)
	if !r.Changed || r.ID == h.ID {
		t.Fatalf("host deleted by hand not made again: %+v (was %d)", r, h.ID)
	}
	kvm.KnownID = r.ID
	p.settledHost(kvm)
}

// adoption: a host made by hand with the same name as a new object is reported and left
// alone (deleting the object deletes nothing), and adopted once the user says so.
func adoption(p pass) {
	t := p.t
	handID, err := p.c.HostAllocate(context.Background(), "hand.test", "kvm", "kvm", -1)
	if err != nil {
		t.Fatal(err)
	}
	hand := &fleet.Host{Object: fleet.Object{Key: "ns/hand", Name: "hand.test", KnownID: -1}, IMMad: "kvm", VMMad: "kvm", Status: oned.HostStatusDisabled}
	if r := p.host(hand); r.Changed || r.Problem == nil || r.Problem.Reason != fleet.ReasonNameTaken {
		t.Fatalf("a host made by hand: %+v", r)
	}
	hand.Delete = true
	if r := p.host(hand); !r.Gone || r.Changed {
		t.Fatalf("deleting the object of a host it did not make: %+v", r)
	}
	if p.read().Host("hand.test") == nil {
		t.Fatal("the operator deleted a host it did not make")
	}
	hand.Delete, hand.Adopt = false, true
	if r := p.host(hand); !r.Changed || r.ID != handID {
		t.Fatalf("adopting: %+v", r)
	}
	if h := p.settledHost(hand); attr(h.Template, fleet.AttrObject) != "ns/hand" || h.State != oned.HostDisabled {
		t.Fatalf("adopted host %+v", h)
	}
}

// deletion: a cluster holding a host, then a datastore, is refused with oned's reason;
// once empty it is deleted. A host whose cluster is not in OpenNebula waits.
func deletion(p pass, rack *fleet.Cluster, kvm *fleet.Host) {
	t := p.t
	rack.Delete = true
	if r := p.cluster(rack); r.Gone || r.Problem == nil || r.Problem.Reason != fleet.ReasonDeleteRefused {
		t.Fatalf("deleting a cluster with a host: %+v", r)
	}
	kvm.Delete = true
	if r := p.host(kvm); !r.Gone || !r.Changed {
		t.Fatalf("host delete: %+v", r)
	}
	if r := p.host(kvm); !r.Gone || r.Changed {
		t.Fatalf("host delete again: %+v", r)
	}
	// A datastore the spec does not manage keeps it; one it manages leaves it first.
	rack.Datastores = nil
	if r := p.cluster(rack); r.Problem == nil || r.Problem.Reason != fleet.ReasonDeleteRefused {
		t.Fatalf("a cluster still holding datastore 2: %+v", r)
	}
	rack.Datastores = []int{2}
	if r := p.cluster(rack); !r.Gone {
		t.Fatalf("cluster delete: %+v", r)
	}
	if def := p.read().Cluster("default"); def == nil || !slices.Contains(def.Datastores, 2) {
		t.Fatalf("datastore 2 is still in the default cluster: %+v", def)
	}
	if p.read().Cluster("rack-1") != nil {
		t.Fatal("cluster still in the pool")
	}
	orphan := &fleet.Host{Object: fleet.Object{Key: "ns/orphan", Name: "orphan.test", KnownID: -1}, IMMad: "kvm", VMMad: "kvm", Cluster: "nowhere"}
	if r := p.host(orphan); r.Changed || r.Problem == nil || r.Problem.Reason != fleet.ReasonClusterNotFound {
		t.Fatalf("host of a missing cluster: %+v", r)
	}
}
