package raft

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/opennebula-operator/opennebula-operator/internal/oned"
)

// StatusTimeout bounds each server's answer to one.zone.raftstatus: answered from the
// server's memory (RaftManager::to_xml), so a server that takes longer is as good as down
// for deciding who leads.
const StatusTimeout = 2 * time.Second

// Observe asks every server for its Raft status, in parallel, and the leader (or, while
// the zone is being formed, the solo server) for the zone's server pool. Servers whose
// client cannot be made or that do not answer keep a nil Status.
func Observe(ctx context.Context, v View, clients Clients) View {
	v.Servers = slices.Clone(v.Servers)
	var wg sync.WaitGroup
	for i := range v.Servers {
		wg.Go(func() {
			c, err := clients(v.Servers[i].Name)
			if err != nil {
				return
			}
			sctx, cancel := context.WithTimeout(ctx, StatusTimeout)
			defer cancel()
			if st, err := c.RaftStatus(sctx); err == nil {
				v.Servers[i].Status = st
			}
		})
	}
	wg.Wait()
	v.Zone = nil
	from := oned.Leader(statuses(v.Servers))
	if from < 0 {
		// A solo server's zone is its own: the first server lists itself there between
		// adding itself and its restart with its ID.
		from = slices.IndexFunc(v.Servers, func(s Server) bool { return s.Status != nil && s.Status.State == oned.RaftSolo })
	}
	if from < 0 {
		return v
	}
	c, err := clients(v.Servers[from].Name)
	if err != nil {
		return v
	}
	zctx, cancel := context.WithTimeout(ctx, StatusTimeout)
	defer cancel()
	if z, err := c.ZoneInfo(zctx, ZoneID); err == nil {
		v.Zone = z
	}
	return v
}
