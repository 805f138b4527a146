package onedproc

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// MariaDB credentials of the databases these tests start: oned's user has every right on
// its database and none elsewhere, as the managed MariaDB's image gives MARIADB_USER on
// MARIADB_DATABASE.
const (
	MariaDBUser     = "oneadmin"
	MariaDBPassword = "conformance-Db-1"
	MariaDBDatabase = "opennebula"
)

// MariaDB is one mariadbd (Debian's mariadb-server) on loopback with its own data
// directory, in its own process group, stopped by its PID when the test ends.
type MariaDB struct {
	Dir  string
	Port int
	cmd  *exec.Cmd
	done chan struct{}
}

// StartMariaDB initialises a data directory under dir and starts mariadbd on a free port
// of 127.0.0.1 with oned's settings (READ COMMITTED, docs/opennebula.md), then creates
// oned's database and user.
func StartMariaDB(t testing.TB, dir string) *MariaDB {
	t.Helper()
	m := &MariaDB{Dir: dir}
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	// mariadbd runs as the test's own user (as root only when told so by name).
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	username := me.Username
	if out, err := exec.Command("mariadb-install-db", "--no-defaults", "--datadir="+data, "--user="+username,
		"--auth-root-authentication-method=socket", "--skip-test-db").CombinedOutput(); err != nil {
		t.Fatalf("mariadb-install-db (Debian's mariadb-server; make test-oned installs it): %v: %s", err, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m.Port = l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	log, err := os.Create(filepath.Join(dir, "mariadbd.log"))
	if err != nil {
		t.Fatal(err)
	}
	m.cmd = exec.Command("mariadbd", "--no-defaults", "--datadir="+data, "--user="+username,
		"--bind-address=127.0.0.1", "--port="+strconv.Itoa(m.Port), "--socket="+m.socket(),
		"--pid-file="+filepath.Join(dir, "mariadbd.pid"), "--skip-name-resolve", "--skip-log-bin",
		"--transaction-isolation=READ-COMMITTED", "--max-connections=200", "--innodb-buffer-pool-size=32M",
		"--log-error="+filepath.Join(dir, "mariadbd.err"))
	m.cmd.Stdout, m.cmd.Stderr = log, log
	m.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := m.cmd.Start(); err != nil {
		t.Fatalf("starting mariadbd: %v", err)
	}
	m.done = make(chan struct{})
	go func() { _ = m.cmd.Wait(); _ = log.Close(); close(m.done) }()
	t.Cleanup(m.stop)
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := m.Root("SELECT 1"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(filepath.Join(dir, "mariadbd.err"))
			t.Fatalf("mariadbd on %d did not answer within a minute: %s", m.Port, b)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if out, err := m.Root(fmt.Sprintf("CREATE DATABASE %s; CREATE USER '%s'@'127.0.0.1' IDENTIFIED BY '%s'; GRANT ALL ON %s.* TO '%s'@'127.0.0.1';",
		MariaDBDatabase, MariaDBUser, MariaDBPassword, MariaDBDatabase, MariaDBUser)); err != nil {
		t.Fatalf("creating oned's database: %v: %s", err, out)
	}
	return m
}

func (m *MariaDB) socket() string { return filepath.Join(m.Dir, "mariadbd.sock") }

// Root runs SQL as MariaDB's root, over the socket.
func (m *MariaDB) Root(sql string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "mariadb", "--no-defaults", "-S", m.socket(), "-u", "root", "-N", "-B", "-e", sql).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// Tables is how many tables oned's database holds.
func (m *MariaDB) Tables() (int, error) {
	out, err := m.Root("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = '" + MariaDBDatabase + "'")
	if err != nil {
		return 0, fmt.Errorf("%w: %s", err, out)
	}
	return strconv.Atoi(out)
}

// Empty replaces oned's database with an empty one, as a lost volume would leave it.
func (m *MariaDB) Empty() error {
	out, err := m.Root(fmt.Sprintf("DROP DATABASE %[1]s; CREATE DATABASE %[1]s;", MariaDBDatabase))
	if err != nil {
		return fmt.Errorf("%w: %s", err, out)
	}
	return nil
}

func (m *MariaDB) stop() {
	if m.cmd == nil || m.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-m.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-m.done:
	case <-time.After(20 * time.Second):
		_ = syscall.Kill(-m.cmd.Process.Pid, syscall.SIGKILL)
		<-m.done
	}
}

// UseMariaDB points the server's oned.conf at a MariaDB database (its DB block, as the
// image's entry point writes it for DB_BACKEND mysql); it takes effect at the next start.
func (s *Server) UseMariaDB(m *MariaDB) error {
	conf := filepath.Join(s.Dir, "etc", "oned.conf")
	b, err := os.ReadFile(conf)
	if err != nil {
		return err
	}
	re := regexp.MustCompile(`(?ms)^DB = \[.*?\]`)
	if !re.Match(b) {
		return fmt.Errorf("%s has no DB block", conf)
	}
	block := fmt.Sprintf(`DB = [ BACKEND = "mysql", SERVER = "127.0.0.1", PORT = %d, USER = "%s", PASSWD = "%s", DB_NAME = "%s", CONNECTIONS = 25, COMPARE_BINARY = "no" ]`,
		m.Port, MariaDBUser, MariaDBPassword, MariaDBDatabase)
	return os.WriteFile(conf, re.ReplaceAll(b, []byte(block)), 0o644)
}

// CopyKeys copies the leader's var/.one (one_key and the service credentials, which
// OpenNebula's HA guide copies with the database) into this stopped server.
func (s *Server) CopyKeys(leader *Server) error {
	if s.Running() {
		return fmt.Errorf("refusing to replace the keys under a running oned")
	}
	_ = os.RemoveAll(filepath.Join(s.Dir, "var", ".one"))
	if out, err := exec.Command("cp", "-a", filepath.Join(leader.Dir, "var", ".one"), filepath.Join(s.Dir, "var", ".one")).CombinedOutput(); err != nil {
		return fmt.Errorf("cp var/.one: %v: %s", err, out)
	}
	return nil
}
