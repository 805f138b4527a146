package builder

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var updateRaft = flag.Bool("update", false, "rewrite the start wrapper's golden files")

// wrapperDir lays out the ConfigMap's Raft files as the pod mounts them, a copy of
// oned.conf and of supervisord's configuration, and the servers directory.
func wrapperDir(t *testing.T) (dir, conf, servers, supervisor string) {
	t.Helper()
	dir = t.TempDir()
	for key, content := range RaftFiles() {
		if err := os.WriteFile(filepath.Join(dir, key), []byte(content), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	conf = filepath.Join(dir, "oned.conf")
	copyFile(t, filepath.Join("testdata", "raft", "oned.conf"), conf)
	supervisor = filepath.Join(dir, "supervisor")
	copyFile(t, filepath.Join("testdata", "raft", "supervisor", "supervisord.conf"), filepath.Join(supervisor, "supervisord.conf"))
	copyFile(t, filepath.Join("testdata", "raft", "supervisor", "conf.d", "opennebula.conf"), filepath.Join(supervisor, "conf.d", "opennebula.conf"))
	servers = filepath.Join(dir, "raft-servers")
	if err := os.MkdirAll(servers, 0o755); err != nil {
		t.Fatal(err)
	}
	// The zone's keys, as the Keys Secret's volume holds them once the zone is formed.
	for key, value := range testKeys {
		copyContent(t, filepath.Join(dir, "keys", key), value)
	}
	return dir, conf, servers, supervisor
}

var testKeys = map[string]string{OneKeyKey: "0123456789abcdef0123456789abcdef", FireEdgeKeyKey: "fireedge-Key-1", ServerAdminKey: "serveradmin-Secret-1"}

func copyContent(t *testing.T, to, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	copyContent(t, to, string(b))
}

// testEntrypoint stands for the seed image's entry point: what it does to var/.one.
var testEntrypoint, _ = filepath.Abs(filepath.Join("testdata", "raft", "entrypoint.sh"))

// runWrapper runs the start wrapper as the pod does, with the image's entry point
// (testEntrypoint) and `echo started` in place of supervisord. ONE_LOCATION (dir) holds
// var/.one; the zone's keys are read from dir/keys.
func runWrapper(dir, conf, servers, supervisor, pod string, args ...string) *exec.Cmd {
	if len(args) == 0 {
		args = []string{"echo", "started"}
	}
	cmd := exec.Command("sh", append([]string{filepath.Join(dir, StartWrapperKey), testEntrypoint}, args...)...)
	cmd.Env = append(os.Environ(), "ONED_CONF="+conf, "RAFT_SERVERS_DIR="+servers, "POD_NAME="+pod, "SUPERVISOR_CONF_DIR="+supervisor,
		"ONE_LOCATION="+dir, "KEYS_DIR="+filepath.Join(dir, "keys"), "ONEADMIN_PASSWORD="+testAdminPassword)
	return cmd
}

const testAdminPassword = "admin-Password-1"

func golden(t *testing.T, got []byte, dir, name string) {
	t.Helper()
	// The directory the wrapper ran from is a test's temporary one: the golden files say
	// CONFIG_DIR instead.
	got = bytes.ReplaceAll(got, []byte(dir), []byte("CONFIG_DIR"))
	path := filepath.Join("testdata", "raft", name)
	if *updateRaft {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test ./internal/builder -run TestStartWrapper -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test ./internal/builder -run TestStartWrapper -update, and review the diff):\n%s", path, got)
	}
}

func TestStartWrapperRecordedServer(t *testing.T) {
	dir, conf, servers, supervisor := wrapperDir(t)
	if err := os.WriteFile(filepath.Join(servers, "one-1"), []byte("3"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := runWrapper(dir, conf, servers, supervisor, "one-1").CombinedOutput()
	if err != nil {
		t.Fatalf("wrapper: %v: %s", err, out)
	}
	if !strings.Contains(string(out), "SERVER_ID 3") || !strings.HasSuffix(string(out), "started\n") {
		t.Errorf("the wrapper says which ID it starts with, then runs its arguments: %s", out)
	}
	b, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, b, dir, "oned.conf.server-3")
	// A second start (the container restarted) gives the same file.
	if out, err := runWrapper(dir, conf, servers, supervisor, "one-1").CombinedOutput(); err != nil {
		t.Fatalf("wrapper, second run: %v: %s", err, out)
	}
	again, _ := os.ReadFile(conf)
	if !bytes.Equal(again, b) {
		t.Errorf("the wrapper is not idempotent:\n%s", again)
	}
	sup, _ := os.ReadFile(filepath.Join(supervisor, "conf.d", "opennebula.conf"))
	golden(t, sup, dir, "supervisor-opennebula.conf.ha")
	sd, _ := os.ReadFile(filepath.Join(supervisor, "supervisord.conf"))
	golden(t, sd, dir, "supervisord.conf.ha")
}

func TestStartWrapperSolo(t *testing.T) {
	dir, conf, servers, supervisor := wrapperDir(t)
	out, err := runWrapper(dir, conf, servers, supervisor, "one-0").CombinedOutput()
	if err != nil {
		t.Fatalf("wrapper: %v: %s", err, out)
	}
	b, _ := os.ReadFile(conf)
	if !strings.Contains(string(b), "SERVER_ID        = -1,") {
		t.Errorf("no zone formed: the server starts solo:\n%s", b)
	}
	// A solo server has no hooks run: OneFlow and OneGate start with supervisord.
	sup, _ := os.ReadFile(filepath.Join(supervisor, "conf.d", "opennebula.conf"))
	if strings.Contains(string(sup), "autostart=false") {
		t.Errorf("a solo server keeps OneFlow and OneGate started:\n%s", sup)
	}
}

func TestStartWrapperJoiningServerWaitsForItsID(t *testing.T) {
	dir, conf, servers, supervisor := wrapperDir(t)
	if err := os.WriteFile(filepath.Join(servers, "one-0"), []byte("0"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitsFor(t, runWrapper(dir, conf, servers, supervisor, "one-1"), "its ID", func() {
		copyContent(t, filepath.Join(servers, "one-1"), "7")
	})
	b, _ := os.ReadFile(conf)
	if !strings.Contains(string(b), "SERVER_ID        = 7,") {
		t.Errorf("started with the recorded ID 7:\n%s", b)
	}
}

func TestStartWrapperRefusesABadID(t *testing.T) {
	dir, conf, servers, supervisor := wrapperDir(t)
	if err := os.WriteFile(filepath.Join(servers, "one-0"), []byte("zero"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := runWrapper(dir, conf, servers, supervisor, "one-0").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "not a server ID") || strings.Contains(string(out), "started") {
		t.Fatalf("a bad ID stops the start with a message, got %v: %s", err, out)
	}
}

// A server of the zone runs with the zone's keys, whatever its volume held and whatever
// the image's entry point did to var/.one.
func TestStartWrapperGivesAZoneServerTheZonesKeys(t *testing.T) {
	dir, conf, servers, supervisor := wrapperDir(t)
	copyContent(t, filepath.Join(servers, "one-1"), "3")
	startsWithTheKeys(t, dir, conf, servers, supervisor, "one-1")
}

// A solo frontend on MySQL restarts with the keys the operator kept after its first
// start: the image's entry point removed them from var/.one.
func TestStartWrapperGivesASoloServerItsKeptKeys(t *testing.T) {
	dir, conf, servers, supervisor := wrapperDir(t)
	startsWithTheKeys(t, dir, conf, servers, supervisor, "one-0")
	if b, _ := os.ReadFile(conf); !strings.Contains(string(b), "SERVER_ID        = -1,") {
		t.Errorf("the server still runs solo:\n%s", b)
	}
}

// startsWithTheKeys runs the wrapper for pod over a var/.one of its own and checks that
// oned would start with the kept keys.
func startsWithTheKeys(t *testing.T, dir, conf, servers, supervisor, pod string) {
	t.Helper()
	one := filepath.Join(dir, "var", ".one")
	copyContent(t, filepath.Join(one, "one_key"), "a-key-of-its-own")
	copyContent(t, filepath.Join(one, "sunstone_auth"), "serveradmin:stale\n")
	out, err := runWrapper(dir, conf, servers, supervisor, pod).CombinedOutput()
	if err != nil {
		t.Fatalf("wrapper: %v: %s", err, out)
	}
	want := map[string]string{"one_key": testKeys[OneKeyKey], "fireedge_key": testKeys[FireEdgeKeyKey]}
	for _, f := range []string{"sunstone_auth", "onegate_auth", "oneflow_auth", "oneform_auth"} {
		want[f] = "serveradmin:" + testKeys[ServerAdminKey] + "\n"
	}
	for f, content := range want {
		got, err := os.ReadFile(filepath.Join(one, f))
		if err != nil || string(got) != content {
			t.Errorf("var/.one/%s = %q (%v), want %q", f, got, err, content)
		}
		if fi, err := os.Stat(filepath.Join(one, f)); err == nil && fi.Mode().Perm() != 0o600 {
			t.Errorf("var/.one/%s mode %v, want 0600", f, fi.Mode().Perm())
		}
	}
	if got, _ := os.ReadFile(filepath.Join(one, "one_auth")); string(got) != "oneadmin:"+testAdminPassword+"\n" {
		t.Errorf("one_auth is the entry point's: %q", got)
	}
}

// A zone server whose keys' volume is still empty (the Secret made after the pod
// started) waits for them: it must never start oned with keys of its own.
func TestStartWrapperWaitsForTheZonesKeys(t *testing.T) {
	dir, conf, servers, supervisor := wrapperDir(t)
	copyContent(t, filepath.Join(servers, "one-0"), "0")
	keys := filepath.Join(dir, "keys")
	if err := os.RemoveAll(keys); err != nil {
		t.Fatal(err)
	}
	out := waitsFor(t, runWrapper(dir, conf, servers, supervisor, "one-0"), "the zone's keys", func() {
		for key, value := range testKeys {
			copyContent(t, filepath.Join(keys, key), value)
		}
	})
	if !strings.Contains(out, "waiting for the zone's keys") || !strings.HasSuffix(out, "started\n") {
		t.Fatalf("wrapper: %s", out)
	}
}

// waitsFor runs the wrapper, checks that it waits (for what), calls release, and returns
// its output once it has gone on and ended.
func waitsFor(t *testing.T, cmd *exec.Cmd, what string, release func()) string {
	t.Helper()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		t.Fatalf("the wrapper must wait for %s, it ran: %v: %s", what, err, out.String())
	case <-time.After(1500 * time.Millisecond):
	}
	release()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("wrapper: %v: %s", err, out.String())
		}
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("the wrapper did not go on once %s came: %s", what, out.String())
	}
	return out.String()
}

// Before the zone is formed the first server may bootstrap its database: the auth files
// the image's entry point wrote from the oneadmin password go (oned refuses to bootstrap
// over them); an auth file oned wrote stays.
func TestStartWrapperLetsASoloServerBootstrap(t *testing.T) {
	dir, conf, servers, supervisor := wrapperDir(t)
	// Its first start: the operator keeps the keys once oned runs.
	if err := os.RemoveAll(filepath.Join(dir, "keys")); err != nil {
		t.Fatal(err)
	}
	one := filepath.Join(dir, "var", ".one")
	copyContent(t, filepath.Join(one, "oneform_auth"), "serveradmin:made-by-oned\n")
	out, err := runWrapper(dir, conf, servers, supervisor, "one-0").CombinedOutput()
	if err != nil {
		t.Fatalf("wrapper: %v: %s", err, out)
	}
	for _, f := range []string{"oneflow_auth", "onegate_auth", "oneform_auth"} {
		_, err := os.Stat(filepath.Join(one, f))
		if f == "oneform_auth" && err != nil {
			t.Errorf("an auth file oned wrote was removed")
		}
		if f != "oneform_auth" && !os.IsNotExist(err) {
			t.Errorf("var/.one/%s, written by the entry point from the oneadmin password, is still there (%v)", f, err)
		}
	}
}
