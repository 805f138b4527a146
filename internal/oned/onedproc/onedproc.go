// Package onedproc runs real oned processes (OpenNebula 7.2, built by hack/build-oned.sh)
// on loopback for tests: a solo server, or a Raft zone of several servers formed the way
// OpenNebula documents it (start solo, add itself to zone 0, restart with its SERVER_ID;
// each further server: add it on the leader, seed its database from the leader's, start it
// with its SERVER_ID).
//
// Every server lives in its own directory (its own etc/ and var/, the install's bin, lib and
// share linked), listens on 127.0.0.1 only on ports picked free, runs in its own process
// group, and is stopped by that group's PID when the test ends, whether it passed or not.
// The facts each step follows are in docs/opennebula.md (built and run here).
package onedproc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/opennebula-operator/opennebula-operator/internal/oned"
)

// PrefixEnv names the install prefix hack/build-oned.sh prints.
const PrefixEnv = "ONED_PREFIX"

// Password is oneadmin's password on every server these tests start.
const Password = "conformance-Secret-1"

// Timeouts of the steps, from what a real oned 7.2 takes on a 2-core machine: first
// answer 5.5-6.6 s with the Ruby drivers, a leader elected 14-20 s after the restart with
// a SERVER_ID (RaftManager waits before its first election), SIGTERM shutdown 5-8 s.
const (
	startTimeout    = 60 * time.Second
	electionTimeout = 90 * time.Second
	stopTimeout     = 20 * time.Second
)

// Server is one oned process and its directory.
type Server struct {
	Name string
	// Dir is its ONE_LOCATION.
	Dir  string
	Port int
	// ServerID is its FEDERATION SERVER_ID (-1: solo).
	ServerID int

	prefix string
	ports  ports
	logf   func(format string, args ...any)

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

type ports struct{ oned, grpc, hookPub, hookPull, monitord int }

// Prefix is the oned install to run: $ONED_PREFIX. The suite that needs it fails (never
// skips) when it is not set: `make test-oned` builds and sets it.
func Prefix(t testing.TB) string {
	t.Helper()
	p := os.Getenv(PrefixEnv)
	if p == "" {
		t.Fatalf("%s is not set: run `make test-oned` (it builds oned with hack/build-oned.sh and sets it)", PrefixEnv)
	}
	if _, err := os.Stat(filepath.Join(p, "bin", "oned")); err != nil {
		t.Fatalf("%s=%s holds no bin/oned: %v", PrefixEnv, p, err)
	}
	return p
}

// Endpoint is the server's XML-RPC URL.
func (s *Server) Endpoint() string {
	return oned.Endpoint(net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port)))
}

// Client is an oneadmin client of this server.
func (s *Server) Client(t testing.TB) *oned.Client {
	t.Helper()
	c, err := oned.New(s.Endpoint(), oned.Admin(Password), oned.WithTimeout(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// New lays out a server's directory under parent and picks its ports; it does not start it.
func New(t testing.TB, prefix, parent, name string) *Server {
	t.Helper()
	s := &Server{Name: name, Dir: filepath.Join(parent, name), prefix: prefix, ServerID: -1, logf: t.Logf}
	var err error
	if s.ports, err = freePorts(); err != nil {
		t.Fatal(err)
	}
	s.Port = s.ports.oned
	if err := s.layout(); err != nil {
		t.Fatalf("laying out %s: %v", s.Dir, err)
	}
	if err := s.configure(); err != nil {
		t.Fatalf("configuring %s: %v", name, err)
	}
	t.Cleanup(func() { s.kill() })
	return s
}

// layout gives the server its own etc/ and var/ (copied from the install), and links the
// read-only parts (bin, lib, share, var/remotes) to the install.
func (s *Server) layout() error {
	if err := os.MkdirAll(filepath.Join(s.Dir, "var"), 0o755); err != nil {
		return err
	}
	for _, d := range []string{"bin", "lib", "share", "include"} {
		if _, err := os.Stat(filepath.Join(s.prefix, d)); err == nil {
			if err := os.Symlink(filepath.Join(s.prefix, d), filepath.Join(s.Dir, d)); err != nil {
				return err
			}
		}
	}
	if out, err := exec.Command("cp", "-a", filepath.Join(s.prefix, "etc"), filepath.Join(s.Dir, "etc")).CombinedOutput(); err != nil {
		return fmt.Errorf("cp etc: %v: %s", err, out)
	}
	entries, err := os.ReadDir(filepath.Join(s.prefix, "var"))
	if err != nil {
		return err
	}
	for _, e := range entries {
		// remotes (driver scripts) is read-only for oned; anything else is per server.
		if e.Name() == "remotes" {
			if err := os.Symlink(filepath.Join(s.prefix, "var", e.Name()), filepath.Join(s.Dir, "var", e.Name())); err != nil {
				return err
			}
			continue
		}
		if out, err := exec.Command("cp", "-a", filepath.Join(s.prefix, "var", e.Name()), filepath.Join(s.Dir, "var")).CombinedOutput(); err != nil {
			return fmt.Errorf("cp var/%s: %v: %s", e.Name(), err, out)
		}
	}
	if err := os.WriteFile(filepath.Join(s.Dir, "offline-driver"), []byte(offlineDriver), 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(s.Dir, "one_auth"), []byte(oned.AdminUser+":"+Password+"\n"), 0o600)
}

// offlineDriver speaks oned's driver protocol (include/Driver.h: INIT, then
// "ACTION SUCCESS|FAILURE ID INFO" answers, FINALIZE) without doing anything.
const offlineDriver = `#!/bin/sh
while read -r action id rest; do
  case "$action" in
    INIT) echo "INIT SUCCESS" ;;
    FINALIZE) echo "FINALIZE SUCCESS"; exit 0 ;;
    *) echo "$action FAILURE $id offline-driver: no network in tests" ;;
  esac
done
`

// configure (idempotent: SetServerID runs it again) binds every listener to 127.0.0.1 on the server's own ports (oned.conf PORT,
// LISTEN_ADDRESS, GRPC_PORT, the hook manager's -p/-l, monitord.conf NETWORK) and sets its
// SERVER_ID.
func (s *Server) configure() error {
	conf := filepath.Join(s.Dir, "etc", "oned.conf")
	b, err := os.ReadFile(conf)
	if err != nil {
		return err
	}
	edits := []struct{ re, repl string }{
		{`(?m)^PORT = \d+`, "PORT = " + strconv.Itoa(s.ports.oned)},
		{`(?m)^LISTEN_ADDRESS = ".*"`, `LISTEN_ADDRESS = "127.0.0.1"`},
		{`(?m)^GRPC_PORT = \d+`, "GRPC_PORT = " + strconv.Itoa(s.ports.grpc)},
		{`(?m)^GRPC_LISTEN_ADDRESS = ".*"`, `GRPC_LISTEN_ADDRESS = "127.0.0.1"`},
		{`-p \d+ -l \d+ -b 127\.0\.0\.1`, fmt.Sprintf("-p %d -l %d -b 127.0.0.1", s.ports.hookPub, s.ports.hookPull)},
		{`(?m)^(\s*SERVER_ID\s*=\s*)-?\d+`, "${1}" + strconv.Itoa(s.ServerID)},
		// oned runs the monitoring probes of localhost hosts under this directory.
		{`(?m)^SCRIPTS_REMOTE_DIR=.*`, "SCRIPTS_REMOTE_DIR=" + filepath.Join(s.Dir, "var", "tmp-remote")},
		// The marketplace driver monitors the public marketplaces (HTTPS to the
		// internet) as soon as oned starts: tests send nothing past loopback, so it is
		// replaced by a driver that answers INIT and fails every action.
		{`EXECUTABLE = "(one_market|[^"]*offline-driver)"`, `EXECUTABLE = "` + filepath.Join(s.Dir, "offline-driver") + `"`},
	}
	if b, err = applyEdits(b, edits); err != nil {
		return fmt.Errorf("oned.conf: %w", err)
	}
	if err := os.WriteFile(conf, b, 0o644); err != nil {
		return err
	}
	mconf := filepath.Join(s.Dir, "etc", "monitord.conf")
	m, err := os.ReadFile(mconf)
	if err != nil {
		return err
	}
	if m, err = applyEdits(m, []struct{ re, repl string }{
		{`(?m)^(\s*ADDRESS\s*=\s*)".*"`, `${1}"127.0.0.1"`},
		{`(?m)^(\s*MONITOR_ADDRESS\s*=\s*)".*"`, `${1}"127.0.0.1"`},
		{`(?m)^(\s*PORT\s*=\s*)\d+`, "${1}" + strconv.Itoa(s.ports.monitord)},
	}); err != nil {
		return fmt.Errorf("monitord.conf: %w", err)
	}
	return os.WriteFile(mconf, m, 0o644)
}

func applyEdits(b []byte, edits []struct{ re, repl string }) ([]byte, error) {
	for _, e := range edits {
		re := regexp.MustCompile(e.re)
		if !re.Match(b) {
			return nil, fmt.Errorf("no line matches %s", e.re)
		}
		b = re.ReplaceAll(b, []byte(e.repl))
	}
	return b, nil
}

// SetServerID writes the server's FEDERATION SERVER_ID; it takes effect at the next start.
func (s *Server) SetServerID(id int) error {
	s.ServerID = id
	return s.configure()
}

// Start starts oned in the foreground in its own process group and waits until it answers
// one.zone.raftstatus (answered locally by every server, leader or not).
func (s *Server) Start(t testing.TB) {
	t.Helper()
	if err := s.start(nil, nil); err != nil {
		t.Fatal(err)
	}
	s.WaitAnswer(t)
}

// StartWrapped starts oned behind command, the way a frontend pod does: command is the
// operator's start wrapper (start-oned.sh) and what stands for the image's entry point;
// the wrapper gets the server's oned.conf, its name and the directory of recorded server
// IDs, and runs oned last. It does not wait for an answer: a joining server's wrapper
// waits for its ID first.
func (s *Server) StartWrapped(t testing.TB, command []string, serversDir string, env ...string) {
	t.Helper()
	env = append(env, "ONED_CONF="+filepath.Join(s.Dir, "etc", "oned.conf"), "RAFT_SERVERS_DIR="+serversDir, "POD_NAME="+s.Name,
		// No supervisord on this machine: the wrapper leaves its configuration alone.
		"SUPERVISOR_CONF_DIR="+filepath.Join(s.Dir, "no-supervisor"))
	if err := s.start(command, env); err != nil {
		t.Fatal(err)
	}
}

// start runs oned -f, behind the given command prefix, with extra environment.
func (s *Server) start(prefix, env []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return fmt.Errorf("%s already runs (pid %d)", s.Name, s.cmd.Process.Pid)
	}
	logFile, err := os.OpenFile(filepath.Join(s.Dir, "oned.stdout"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	args := append(append([]string(nil), prefix...), filepath.Join(s.Dir, "bin", "oned"), "-f")
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = s.Dir
	cmd.Env = append(append(os.Environ(),
		"ONE_LOCATION="+s.Dir,
		"ONE_AUTH="+filepath.Join(s.Dir, "one_auth"),
		"RUBYLIB="+filepath.Join(s.Dir, "lib", "ruby"),
		"PATH="+filepath.Join(s.Dir, "bin")+":"+os.Getenv("PATH"),
	), env...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Its own process group: the drivers and monitord oned forks are stopped with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return fmt.Errorf("starting %s: %w", s.Name, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); _ = logFile.Close(); close(done) }()
	s.cmd, s.done = cmd, done
	s.logf("%s: oned pid %d on %s (%s)", s.Name, cmd.Process.Pid, s.Endpoint(), strings.Join(args[:len(args)-2], " "))
	return nil
}

// WaitAnswer waits until the started server answers one.zone.raftstatus.
func (s *Server) WaitAnswer(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	done := s.done
	s.mu.Unlock()
	c := s.Client(t)
	deadline := time.Now().Add(startTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := c.RaftStatus(ctx)
		cancel()
		if err == nil {
			return
		}
		select {
		case <-done:
			t.Fatalf("%s\n%s: oned exited during start", s.LogTail(), s.Name)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s\n%s: oned did not answer within %s (last: %v)", s.LogTail(), s.Name, startTimeout, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// Exited reports whether the server's process was started and has exited by itself.
func (s *Server) Exited() bool {
	s.mu.Lock()
	done := s.done
	s.mu.Unlock()
	if done == nil {
		return false
	}
	select {
	case <-done:
		return true
	default:
		return false
	}
}

// Running reports whether the server's process is running.
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cmd != nil
}

// Stop sends SIGTERM to oned and waits for it; a server that does not stop in time (a
// follower that lost quorum ignores SIGTERM) is killed with its process group.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(stopTimeout):
		s.logf("%s: oned did not stop on SIGTERM within %s: killing its process group", s.Name, stopTimeout)
	}
	s.kill()
}

// Kill stops the server at once (SIGKILL to its process group), as a crash would.
func (s *Server) Kill(t testing.TB) {
	t.Helper()
	s.kill()
}

func (s *Server) kill() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd, s.done = nil, nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	// The whole group: oned's drivers and monitord do not outlive it.
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	<-done
	// oned is reaped; the rest of its group may still be going. Wait until none is left,
	// so that nothing writes under the server's directory once it is removed (a test's
	// TempDir cleanup failed with "directory not empty" otherwise).
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if err := syscall.Kill(-cmd.Process.Pid, 0); errors.Is(err, syscall.ESRCH) {
			break
		}
	}
	// A killed oned leaves its lock behind and the next start would refuse to run.
	_ = os.Remove(filepath.Join(s.Dir, "var", "lock", ".lock"))
	_ = os.Remove(filepath.Join(s.Dir, "var", ".lock"))
}

// LogTail is the end of oned's log, for failure messages.
func (s *Server) LogTail() string {
	var out bytes.Buffer
	for _, f := range []string{"oned.stdout", filepath.Join("var", "oned.log")} {
		b, err := os.ReadFile(filepath.Join(s.Dir, f))
		if err != nil {
			continue
		}
		lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
		if len(lines) > 25 {
			lines = lines[len(lines)-25:]
		}
		fmt.Fprintf(&out, "\n--- %s/%s ---\n%s", s.Name, f, strings.Join(lines, "\n"))
	}
	return out.String()
}

// SeedFrom copies a running leader's database (sqlite3's online .backup: consistent while
// the leader writes) and its keys (var/.one) into this stopped server, as a joining server's
// database is seeded from the leader's.
func (s *Server) SeedFrom(leader *Server) error {
	if err := s.SeedDatabaseFrom(leader); err != nil {
		return err
	}
	return s.CopyKeys(leader)
}

// SeedDatabaseFrom replaces the stopped server's SQLite database with a consistent copy of
// the leader's (sqlite3 .backup, taken while the leader serves); its keys stay.
func (s *Server) SeedDatabaseFrom(leader *Server) error {
	if s.Running() {
		return errors.New("refusing to replace the database under a running oned")
	}
	src, dst := filepath.Join(leader.Dir, "var", "one.db"), filepath.Join(s.Dir, "var", "one.db")
	_ = os.Remove(dst)
	if out, err := exec.Command("sqlite3", src, ".backup '"+dst+"'").CombinedOutput(); err != nil {
		return fmt.Errorf("sqlite3 .backup: %v: %s", err, out)
	}
	return nil
}

func freePorts() (ports, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	var nums []int
	for range 5 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return ports{}, err
		}
		ls = append(ls, l)
		nums = append(nums, l.Addr().(*net.TCPAddr).Port)
	}
	return ports{nums[0], nums[1], nums[2], nums[3], nums[4]}, nil
}

// Wipe removes the stopped server's database and keys, as a lost volume would.
func (s *Server) Wipe() error {
	if s.Running() {
		return errors.New("refusing to wipe the database under a running oned")
	}
	for _, p := range []string{filepath.Join("var", "one.db"), filepath.Join("var", ".one")} {
		if err := os.RemoveAll(filepath.Join(s.Dir, p)); err != nil {
			return err
		}
	}
	return nil
}

// HasDatabase reports whether the server has a database (a volume that was seeded or
// bootstrapped).
func (s *Server) HasDatabase() bool {
	_, err := os.Stat(filepath.Join(s.Dir, "var", "one.db"))
	return err == nil
}
