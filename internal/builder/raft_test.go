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
	return dir, conf, servers, supervisor
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// runWrapper runs the start wrapper as the image's entry point would, with `echo started`
// in place of supervisord.
func runWrapper(dir, conf, servers, supervisor, pod string) *exec.Cmd {
	cmd := exec.Command("sh", filepath.Join(dir, StartWrapperKey), "echo", "started")
	cmd.Env = append(os.Environ(), "ONED_CONF="+conf, "RAFT_SERVERS_DIR="+servers, "POD_NAME="+pod, "SUPERVISOR_CONF_DIR="+supervisor)
	return cmd
}

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
	cmd := runWrapper(dir, conf, servers, supervisor, "one-1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		t.Fatalf("a server joining a formed zone must wait for its ID, it ran: %v: %s", err, out.String())
	case <-time.After(2 * time.Second):
	}
	if err := os.WriteFile(filepath.Join(servers, "one-1"), []byte("7"), 0o644); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("wrapper: %v: %s", err, out.String())
		}
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("the wrapper did not go on once its ID was recorded: %s", out.String())
	}
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
