//go:build oned

package raft_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opennebula-operator/opennebula-operator/internal/builder"
	"github.com/opennebula-operator/opennebula-operator/internal/oned/onedproc"
	"github.com/opennebula-operator/opennebula-operator/internal/raft"
)

// TestRealOnedZoneLifecycle proves the design on real oned 7.2 (make test-oned).
func TestRealOnedZoneLifecycle(t *testing.T) {
	zoneLifecycle(t, realBackend{prefix: onedproc.Prefix(t)})
}

type realBackend struct{ prefix string }

func (b realBackend) NewServer(t *testing.T, dir, name string) server {
	return realServer{onedproc.New(t, b.prefix, dir, name)}
}
func (realBackend) Within(real time.Duration) time.Duration { return real }

type realServer struct{ *onedproc.Server }

func (s realServer) Name() string { return s.Server.Name }

// Start runs the operator's start wrapper, which runs oned once it knows the server's ID;
// supervisorctl, which the Raft hooks call, is a script that notes each call.
func (s realServer) Start(t *testing.T, c *cluster) {
	s.StartWrapped(t, filepath.Join(c.files, builder.StartWrapperKey), c.servers,
		"PATH="+c.bin+":"+filepath.Join(s.Dir, "bin")+":"+os.Getenv("PATH"), "HOOK_LOG="+c.hookLog)
}

// OnedConf is the server's oned.conf, as the start wrapper left it.
func (s realServer) OnedConf() string { return filepath.Join(s.Dir, "etc", "oned.conf") }

func (s realServer) SeedSource() string { return s.Server.Name }
func (s realServer) Alive() bool        { return s.Running() && !s.Exited() }

func (s realServer) SeedFrom(leader server) error {
	return s.Server.SeedFrom(leader.(realServer).Server)
}

// CheckConfiguration: every server runs with the oned.conf the wrapper wrote (its
// recorded SERVER_ID), and oned ran the operator's hooks: the leader's started OneFlow
// and OneGate, every follower's stopped them.
func (realBackend) CheckConfiguration(t *testing.T, c *cluster, v raft.View) {
	t.Helper()
	for i := range 3 {
		conf, _ := os.ReadFile(c.pods[i].srv.(interface{ OnedConf() string }).OnedConf())
		if !strings.Contains(string(conf), fmt.Sprintf("SERVER_ID        = %d,", v.Recorded[name(i)])) {
			t.Errorf("%s's oned.conf does not carry its recorded SERVER_ID %d", name(i), v.Recorded[name(i)])
		}
	}
	waitHooks(t, c, func(log string) error {
		leader := v.Servers[mustLeader(t, v)].Name
		if !strings.Contains(log, leader+" start oneflow onegate") {
			return fmt.Errorf("the leader %s did not run the leader hook", leader)
		}
		for i := range 3 {
			if n := name(i); n != leader && !strings.Contains(log, n+" stop oneflow onegate") {
				return fmt.Errorf("follower %s did not run the follower hook", n)
			}
		}
		return nil
	})
}

func waitHooks(t *testing.T, c *cluster, check func(log string) error) {
	t.Helper()
	deadline := time.Now().Add(c.b.Within(30 * time.Second))
	for {
		b, _ := os.ReadFile(c.hookLog)
		err := check(string(b))
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("hooks: %v; log:\n%s", err, b)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
