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

// imageEntrypoint stands for the seed image's entry point: what it does to var/.one
// (the start wrapper's unit tests run it too).
var imageEntrypoint, _ = filepath.Abs(filepath.Join("..", "builder", "testdata", "raft", "entrypoint.sh"))

// Start runs the operator's start wrapper as the pod does, before the image's entry point:
// it runs oned once it knows the server's ID, with the zone's keys. supervisorctl, which
// the Raft hooks call, is a script that notes each call.
func (s realServer) Start(t *testing.T, c *cluster) {
	s.StartWrapped(t, []string{"sh", filepath.Join(c.files, builder.StartWrapperKey), imageEntrypoint}, c.servers,
		"PATH="+c.bin+":"+filepath.Join(s.Dir, "bin")+":"+os.Getenv("PATH"), "HOOK_LOG="+c.hookLog,
		"KEYS_DIR="+c.keys, "ONEADMIN_PASSWORD="+onedproc.Password)
}

// OnedConf is the server's oned.conf, as the start wrapper left it.
func (s realServer) OnedConf() string { return filepath.Join(s.Dir, "etc", "oned.conf") }

func (s realServer) SeedSource() string { return s.Server.Name }
func (s realServer) Alive() bool        { return s.Running() && !s.Exited() }

// SeedFrom copies the leader's database only: the keys come from the start wrapper.
func (s realServer) SeedFrom(leader server) error {
	return s.SeedDatabaseFrom(leader.(realServer).Server)
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
	// Every server's var/.one holds the zone's keys, put there by the start wrapper after
	// the image's entry point rewrote it.
	for i := range 3 {
		keysInVarOne(t, c, i)
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

// keysInVarOne checks that pod i's var/.one holds the kept keys.
func keysInVarOne(t *testing.T, c *cluster, i int) {
	t.Helper()
	dir := filepath.Join(c.pods[i].srv.(interface{ OnedConf() string }).OnedConf(), "..", "..", "var", ".one")
	want := map[string]string{"one_key": c.sharedKey(builder.OneKeyKey), "fireedge_key": c.sharedKey(builder.FireEdgeKeyKey)}
	for _, f := range []string{"sunstone_auth", "onegate_auth", "oneflow_auth", "oneform_auth"} {
		want[f] = "serveradmin:" + c.sharedKey(builder.ServerAdminKey) + "\n"
	}
	for f, content := range want {
		if got, err := os.ReadFile(filepath.Join(dir, f)); err != nil || string(got) != content {
			t.Errorf("%s's var/.one/%s = %q (%v), want %q", name(i), f, got, err, content)
		}
	}
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
