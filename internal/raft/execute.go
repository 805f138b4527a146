package raft

import (
	"context"
	"fmt"

	"github.com/opennebula-operator/opennebula-operator/internal/oned"
)

// Runtime acts on the pods: the operator's is Kubernetes (a ConfigMap the pods read their
// IDs from, pod deletion), the tests' runs oned processes.
type Runtime interface {
	// Record keeps server's ID where its pod reads it at start.
	Record(ctx context.Context, server string, id int) error
	// SeedFrom keeps the name of the server whose database a seeding pod copies: the
	// leader.
	SeedFrom(ctx context.Context, server string) error
	// Forget drops server's recorded ID.
	Forget(ctx context.Context, server string) error
	// Restart stops server's oned and starts it again with what is recorded for it.
	Restart(ctx context.Context, server string) error
	// Reseeded clears server's Reseeded report once the leader was told: one reset per
	// reseed.
	Reseeded(ctx context.Context, server string) error
	// ShareKeys keeps the keys every server of the frontend runs with where the pods read
	// them at start: oneKey, the first server's one_key, with a FireEdge key and a
	// serveradmin secret made once. Keys kept already are never replaced (oneKey is then
	// ignored). It returns the serveradmin secret.
	ShareKeys(ctx context.Context, oneKey string) (serverAdminSecret string, err error)
}

// Clients gives an oneadmin client of a server by name (its endpoint on the headless
// Service).
type Clients func(server string) (*oned.Client, error)

// Execute performs one step: its oned calls on the leader (or, for AddSelf, on the solo
// server itself) and its Runtime actions. Every step is safe to repeat: a pass that dies
// half-way is completed by the next pass, which plans from what oned then lists (an Add
// is never sent twice: AddServerID finds the NAME in the zone first).
func Execute(ctx context.Context, p Plan, v View, clients Clients, rt Runtime) error {
	s := p.Step
	leader := func() (*oned.Client, error) {
		if p.Leader < 0 {
			return nil, fmt.Errorf("%s needs a leader", s.Action)
		}
		return clients(v.Servers[p.Leader].Name)
	}
	switch s.Action {
	case Wait:
		return nil
	case AddSelf, Add:
		var c *oned.Client
		var err error
		if s.Action == AddSelf {
			// The solo server is asked itself, and shares its keys first.
			if c, err = clients(s.Server); err == nil {
				err = ShareKeys(ctx, c, rt)
			}
		} else {
			c, err = leader()
		}
		if err != nil {
			return err
		}
		id, _, err := c.AddServerID(ctx, ZoneID, oned.ServerSpec{Name: s.Server, Endpoint: s.Endpoint})
		if err != nil {
			return fmt.Errorf("adding %s to zone %d: %w", s.Server, ZoneID, err)
		}
		return rt.Record(ctx, s.Server, id)
	case Record:
		return rt.Record(ctx, s.Server, s.ID)
	case SeedFrom:
		return rt.SeedFrom(ctx, s.Server)
	case Forget:
		return rt.Forget(ctx, s.Server)
	case Restart, StepDown, Roll:
		return rt.Restart(ctx, s.Server)
	case Reset, Delete:
		c, err := leader()
		if err != nil {
			return err
		}
		if s.Action == Reset {
			err = c.ResetServer(ctx, ZoneID, s.ID)
		} else {
			err = c.DelServer(ctx, ZoneID, s.ID)
		}
		if err != nil {
			return fmt.Errorf("%s of server %d (%s): %w", s.Action, s.ID, s.Server, err)
		}
		if s.Action == Delete {
			return rt.Forget(ctx, s.Server)
		}
		return rt.Reseeded(ctx, s.Server)
	}
	return fmt.Errorf("unknown action %q", s.Action)
}

// ShareKeys keeps a frontend's keys, read from its first server while it runs: its
// one_key, read with one.system.config, is kept with a FireEdge key and a serveradmin
// secret (rt.ShareKeys); serveradmin's password becomes the one the services' auth files
// will hold (one.user.passwd, which a zone replicates). The servers then run with them
// from their next start (builder.StartWrapper): a zone's first server before it joins
// its own zone, so that every server that joins later has them too (OpenNebula's HA
// guide copies var/.one to every server); a solo frontend on MySQL, whose image's entry
// point would otherwise lose them at each restart. Between this and that restart the
// server's services, still started with the auth files oned made, cannot log in: a few
// seconds. Done again when what follows failed: the kept keys are reused.
func ShareKeys(ctx context.Context, c *oned.Client, rt Runtime) error {
	oneKey, err := c.OneKey(ctx)
	if err == nil {
		var secret string
		if secret, err = rt.ShareKeys(ctx, oneKey); err == nil {
			err = c.UserPasswd(ctx, oned.ServerAdminID, oned.ServerAdminPassword(secret))
		}
	}
	if err != nil {
		return fmt.Errorf("keeping the first server's keys: %w", err)
	}
	return nil
}
