package fleet

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/opennebula-operator/opennebula-operator/internal/oned"
)

// Cluster is an OpenNebulaCluster as the sync needs it.
type Cluster struct {
	Object
	// Datastores and VNets are the IDs the cluster must hold exactly; nil: left alone.
	Datastores, VNets []int
	// Delete: the Kubernetes object is being deleted and its policy is Delete.
	Delete bool
}

// SyncCluster makes the cluster as asked, or deletes it, from what the pools said.
func SyncCluster(ctx context.Context, c *oned.Client, p *Pools, want *Cluster) (Result, error) {
	live := p.Cluster(want.Name)
	if want.Delete {
		// The datastores and networks the spec gave it leave it first (they stay in
		// OpenNebula), once it has no host; hosts, and members it does not manage, make
		// oned refuse.
		return deleteObject(live != nil && want.ours(live.ID, live.Template), func() (int, error) {
			for _, m := range []struct {
				managed, has []int
				del          func(context.Context, int, int) error
			}{{want.Datastores, live.Datastores, c.ClusterDelDatastore}, {want.VNets, live.VNets, c.ClusterDelVNet}} {
				for _, id := range m.has {
					if len(live.Hosts) == 0 && slices.Contains(m.managed, id) {
						if err := m.del(ctx, live.ID, id); err != nil {
							return live.ID, err
						}
					}
				}
			}
			return live.ID, c.ClusterDelete(ctx, live.ID)
		})
	}
	r := Result{ID: -1}
	var t oned.Template
	var datastores, vnets []int
	if live == nil {
		var err error
		if r, err = allocate("CLUSTER", "create cluster "+want.Name, func() (int, error) {
			return c.ClusterAllocate(ctx, want.Name)
		}); err != nil || r.Problem != nil {
			return r, err
		}
	} else {
		if !want.ours(live.ID, live.Template) {
			r.Problem = want.nameTaken("cluster", live.ID, live.Template)
			return r, nil
		}
		r.ID, t, datastores, vnets = live.ID, live.Template, live.Datastores, live.VNets
	}
	changed, err := want.syncTemplate(t,
		func(m map[string]string) error { return c.ClusterUpdate(ctx, r.ID, m, oned.UpdateMerge) },
		func(t oned.Template) error { return c.ClusterReplace(ctx, r.ID, t) })
	r.Changed = r.Changed || changed
	if err != nil {
		p, err := refused(err, "update the template of cluster "+want.Name)
		r.Problem = p
		return r, err
	}
	for _, m := range []struct {
		kind      string
		want, has []int
		add, del  func(context.Context, int, int) error
	}{
		{"datastore", want.Datastores, datastores, c.ClusterAddDatastore, c.ClusterDelDatastore},
		{"virtual network", want.VNets, vnets, c.ClusterAddVNet, c.ClusterDelVNet},
	} {
		if m.want == nil {
			continue
		}
		for _, id := range m.want {
			if !slices.Contains(m.has, id) {
				r.Changed = true
				if err := m.add(ctx, r.ID, id); err != nil {
					p, err := refused(err, fmt.Sprintf("add %s %d to cluster %s", m.kind, id, want.Name))
					r.Problem = p
					return r, err
				}
			}
		}
		for _, id := range m.has {
			if !slices.Contains(m.want, id) {
				r.Changed = true
				if err := m.del(ctx, r.ID, id); err != nil {
					p, err := refused(err, fmt.Sprintf("remove %s %d from cluster %s", m.kind, id, want.Name))
					r.Problem = p
					return r, err
				}
			}
		}
	}
	return r, nil
}

// deleteObject deletes an object of the operator's (ours), or lets the Kubernetes object
// go when there is nothing of its own to delete: never one it did not make or adopt. A
// refusal (a host running VMs, a cluster that is not empty) is DeleteRefused, with
// oned's reason.
func deleteObject(ours bool, del func() (int, error)) (Result, error) {
	if !ours {
		return Result{ID: -1, Gone: true}, nil
	}
	id, err := del()
	switch {
	case err == nil, oned.IsNotFound(err):
		return Result{ID: id, Changed: err == nil, Gone: true}, nil
	case oned.IsAction(err):
		msg := err.Error()
		if e, ok := errors.AsType[*oned.Error](err); ok {
			msg = e.Message
		}
		return Result{ID: id, Problem: &Problem{Reason: ReasonDeleteRefused, Message: fmt.Sprintf(
			"oned refuses to delete it (%s); it is deleted once it can be, or set deletionPolicy: Retain to leave it in OpenNebula", msg)}}, nil
	}
	p, err := refused(err, "delete it")
	return Result{ID: id, Problem: p}, err
}
