package raft_test

import (
	"context"
	"errors"
	"testing"

	"github.com/opennebula-operator/opennebula-operator/internal/oned"
	"github.com/opennebula-operator/opennebula-operator/internal/oned/onedtest"
	"github.com/opennebula-operator/opennebula-operator/internal/raft"
)

// lostRuntime is an operator that stops right after its oned calls: nothing it would
// keep in Kubernetes is kept (the pass dies, the process restarts).
type lostRuntime struct{ records int }

var errStopped = errors.New("the operator stopped")

func (r *lostRuntime) Record(context.Context, string, int) error { r.records++; return errStopped }
func (*lostRuntime) SeedFrom(context.Context, string) error      { return errStopped }
func (*lostRuntime) Forget(context.Context, string) error        { return errStopped }
func (*lostRuntime) Restart(context.Context, string) error       { return errStopped }
func (*lostRuntime) Reseeded(context.Context, string) error      { return errStopped }
func (*lostRuntime) ShareKeys(context.Context, string) (string, error) {
	return "", errStopped
}

// keptRuntime keeps the record, as the ConfigMap does.
type keptRuntime struct {
	lostRuntime
	record map[string]int
}

func (r *keptRuntime) Record(_ context.Context, server string, id int) error {
	r.record[server] = id
	return nil
}

// An operator restarted between a join's addserver and the record of the ID resumes from
// what the zone lists: the next pass records the ID oned gave, and never sends a second
// addserver (real oned would add the NAME twice).
func TestOperatorRestartedMidJoinResumesWithoutASecondAddserver(t *testing.T) {
	zone := onedtest.NewZone(t, 1)
	leader := zone.Servers()[0]
	joining := zone.NewPod(t, "s1")
	clients := func(name string) (*oned.Client, error) {
		for _, s := range zone.Servers() {
			if s.Name == name {
				return s.Client(t), nil
			}
		}
		return nil, errors.New("no server " + name)
	}
	view := func(record map[string]int) raft.View {
		ctx := context.Background()
		v := raft.Observe(ctx, raft.View{Replicas: 2, Recorded: record, SeedFrom: leader.Name, Servers: []raft.Server{
			{Name: leader.Name, Endpoint: leader.Endpoint()},
			{Name: joining.Name, Endpoint: joining.Endpoint(), Waiting: true},
		}}, clients)
		return v
	}
	ctx := context.Background()
	record := map[string]int{leader.Name: 0}

	v := view(record)
	p := raft.Decide(v)
	if p.Step.Action != raft.Add || p.Step.Server != joining.Name {
		t.Fatalf("first pass: %s, want Add %s", p.Step, joining.Name)
	}
	lost := &lostRuntime{}
	if err := raft.Execute(ctx, p, v, clients, lost); !errors.Is(err, errStopped) || lost.records != 1 {
		t.Fatalf("the pass should die recording the ID: %v (records %d)", err, lost.records)
	}

	// A new operator: the record still lacks the ID.
	kept := &keptRuntime{record: record}
	v = view(record)
	p = raft.Decide(v)
	if p.Step.Action != raft.Record || p.Step.Server != joining.Name {
		t.Fatalf("after the restart: %s, want Record %s (the zone lists it)", p.Step, joining.Name)
	}
	if err := raft.Execute(ctx, p, v, clients, kept); err != nil {
		t.Fatal(err)
	}
	z, err := leader.Client(t).ZoneInfo(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	srv, n := z.ServerByName(joining.Name)
	if n != 1 || record[joining.Name] != srv.ID {
		t.Fatalf("the zone lists %s %d times (ID %d), record %v: want once, recorded", joining.Name, n, srv.ID, record)
	}
}
