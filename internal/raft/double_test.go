package raft_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opennebula-operator/opennebula-operator/internal/builder"
	"github.com/opennebula-operator/opennebula-operator/internal/oned/onedtest"
	"github.com/opennebula-operator/opennebula-operator/internal/raft"
)

// TestDoubleZoneLifecycle runs the real-oned scenario against the double (make test).
func TestDoubleZoneLifecycle(t *testing.T) {
	t.Parallel()
	zoneLifecycle(t, &doubleBackend{})
}

type doubleBackend struct{ zone *onedtest.Zone }

func (b *doubleBackend) NewServer(t *testing.T, _, name string) server {
	if b.zone == nil {
		b.zone = onedtest.NewPods(t, onedtest.WithElectionDelay(300*time.Millisecond))
	}
	return doubleServer{b.zone.NewPod(t, name)}
}

// CheckConfiguration: the double has no oned.conf and runs no hooks.
func (*doubleBackend) CheckConfiguration(*testing.T, *cluster, raft.View) {}

// Within: the double elects in 300 ms and starts at once.
func (*doubleBackend) Within(real time.Duration) time.Duration { return real / 4 }

type doubleServer struct{ *onedtest.Server }

func (s doubleServer) Name() string { return s.Server.Name }

// Start does what the start wrapper decides: the recorded ID, or solo when none is.
func (s doubleServer) Start(t *testing.T, c *cluster) {
	id := -1
	if b, err := os.ReadFile(filepath.Join(c.servers, s.Server.Name)); err == nil {
		if id, err = strconv.Atoi(strings.TrimSpace(string(b))); err != nil {
			t.Fatal(err)
		}
	}
	// A zone server's wrapper puts the zone's one_key in place.
	if key, err := os.ReadFile(filepath.Join(c.keys, builder.OneKeyKey)); err == nil && id >= 0 {
		s.UseOneKey(string(key))
	}
	s.StartAs(t, id)
}

func (s doubleServer) SeedSource() string { return s.Server.Name }
func (s doubleServer) Alive() bool        { return s.Running() }
func (s doubleServer) Kill(t testing.TB)  { s.Stop(t) }
func (s doubleServer) Wipe() error        { s.Server.Wipe(); return nil }
func (s doubleServer) SeedFrom(leader server) error {
	s.Server.SeedFrom(leader.(doubleServer).Server)
	return nil
}
