package fleet

import (
	"context"

	"github.com/opennebula-operator/opennebula-operator/internal/oned"
)

// Host is an OpenNebulaHost as the sync needs it.
type Host struct {
	Object
	IMMad, VMMad string
	// Cluster is the OpenNebula cluster's NAME ("": the default cluster).
	Cluster string
	// Status is what one.host.status keeps it in.
	Status oned.HostStatus
	// Delete: the Kubernetes object is being deleted and its policy is Delete.
	Delete bool
}

// SyncHost makes the host as asked, or deletes it, from what the pools said. A host whose
// cluster is not in the pools waits (ClusterNotFound): clusters are synced first.
func SyncHost(ctx context.Context, c *oned.Client, p *Pools, want *Host) (Result, error) {
	live := p.Host(want.Name)
	if want.Delete {
		return deleteObject(live != nil && want.ours(live.ID, live.Template), func() (int, error) {
			return live.ID, c.HostDelete(ctx, live.ID)
		})
	}
	r := Result{ID: -1}
	clusterID := oned.DefaultClusterID
	if want.Cluster != "" {
		cl := p.Cluster(want.Cluster)
		if cl == nil {
			r.Problem = &Problem{Reason: ReasonClusterNotFound, Message: "cluster " + want.Cluster + " is not in OpenNebula yet"}
			if live != nil {
				r.ID = live.ID
			}
			return r, nil
		}
		clusterID = cl.ID
	}
	var t oned.Template
	if live == nil {
		var err error
		if r, err = allocate("HOST", "create host "+want.Name, func() (int, error) {
			return c.HostAllocate(ctx, want.Name, want.IMMad, want.VMMad, clusterID)
		}); err != nil || r.Problem != nil {
			return r, err
		}
	} else {
		if !want.ours(live.ID, live.Template) {
			r.Problem = want.nameTaken("host", live.ID, live.Template)
			return r, nil
		}
		r.ID, t = live.ID, live.Template
		if live.ClusterID != clusterID {
			r.Changed = true
			if err := c.ClusterAddHost(ctx, clusterID, live.ID); err != nil {
				p, err := refused(err, "move host "+want.Name+" to its cluster")
				r.Problem = p
				return r, err
			}
		}
	}
	changed, err := want.syncTemplate(t,
		func(m map[string]string) error { return c.HostUpdate(ctx, r.ID, m, oned.UpdateMerge) },
		func(t oned.Template) error { return c.HostReplace(ctx, r.ID, t) })
	r.Changed = r.Changed || changed
	if err != nil {
		p, err := refused(err, "update the template of host "+want.Name)
		r.Problem = p
		return r, err
	}
	// A new host starts enabled (INIT).
	state := oned.HostInit
	if live != nil {
		state = live.State
	}
	if status := statusOf(state); status != want.Status {
		r.Changed = true
		if err := c.HostStatus(ctx, r.ID, want.Status); err != nil {
			p, err := refused(err, "set the status of host "+want.Name)
			r.Problem = p
			return r, err
		}
	}
	return r, nil
}

// statusOf is the one.host.status a STATE stands for (Host::enable, disable and offline,
// src/host/Host.cc: DISABLED keeps being monitored, through MONITORING_DISABLED).
func statusOf(s oned.HostState) oned.HostStatus {
	switch s {
	case oned.HostDisabled, oned.HostMonitoringDisabled:
		return oned.HostStatusDisabled
	case oned.HostOffline:
		return oned.HostStatusOffline
	}
	return oned.HostStatusEnabled
}
