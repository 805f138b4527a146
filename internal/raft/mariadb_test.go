//go:build oned

package raft_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/opennebula-operator/opennebula-operator/internal/builder"
	"github.com/opennebula-operator/opennebula-operator/internal/oned"
	"github.com/opennebula-operator/opennebula-operator/internal/oned/onedproc"
	"github.com/opennebula-operator/opennebula-operator/internal/raft"
)

// TestRealOnedMariaDBZoneLifecycle runs the zone lifecycle on real oned 7.2 with a MariaDB
// per server (Debian's mariadb-server), each pod's database seeded by the operator's own
// seed init container script (builder.SeedDatabase: mariadb-dump of the leader's while it
// serves), as a frontend with the managed MariaDB runs it.
func TestRealOnedMariaDBZoneLifecycle(t *testing.T) {
	zoneLifecycle(t, mariadbBackend{realBackend{prefix: onedproc.Prefix(t)}})
}

// TestRealOnedSoloMariaDBKeepsItsKeys: a frontend of one replica on MariaDB, started as
// its pod starts it (the start wrapper, then the image's entry point, which takes every
// start on MySQL for a first boot and removes var/.one's keys). oned bootstraps its
// database; a restart without kept keys shows what the operator prevents (a new
// one_key: what oned encrypted is lost); once the operator has kept the keys
// (raft.ShareKeys, as its "keep keys" phase does) and restarted the server, every restart
// runs with them: the same one_key, var/.one holding them, the services' serveradmin
// login let in.
func TestRealOnedSoloMariaDBKeepsItsKeys(t *testing.T) {
	c := newCluster(t, mariadbBackend{realBackend{prefix: onedproc.Prefix(t)}})
	ctx := context.Background()
	restart := func() *oned.Client {
		t.Helper()
		if err := c.Restart(ctx, name(0)); err != nil {
			t.Fatal(err)
		}
		v := c.converge(1, 2*time.Minute)
		if st := v.Servers[0].Status; st.State != oned.RaftSolo || len(v.Recorded) != 0 {
			t.Fatalf("one replica runs solo with nothing recorded, got %s, record %v", st, v.Recorded)
		}
		cl, _ := c.clients(name(0))
		return cl
	}
	oneKey := func(cl *oned.Client) string {
		t.Helper()
		k, err := cl.OneKey(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}

	c.converge(1, 2*time.Minute)
	cl, _ := c.clients(name(0))
	first := oneKey(cl)
	if again := oneKey(restart()); again == first {
		t.Fatalf("without kept keys a restart keeps one_key %q: the image's entry point no longer removes it, and this test shows nothing", first)
	}
	cl, _ = c.clients(name(0))
	kept := oneKey(cl)
	if err := raft.ShareKeys(ctx, cl, c); err != nil {
		t.Fatal(err)
	}
	if got := c.sharedKey(builder.OneKeyKey); got != kept {
		t.Fatalf("kept one_key %q, want the running server's %q", got, kept)
	}
	for range 2 {
		cl = restart()
		if got := oneKey(cl); got != kept {
			t.Errorf("after a restart one_key is %q, want the kept %q", got, kept)
		}
		keysInVarOne(t, c, 0)
		serverAdminLogsIn(t, c, 0)
	}
}

type mariadbBackend struct{ realBackend }

func (b mariadbBackend) NewServer(t *testing.T, dir, name string) server {
	s := onedproc.New(t, b.prefix, dir, name)
	db := onedproc.StartMariaDB(t, filepath.Join(dir, name+"-mariadb"))
	if err := s.UseMariaDB(db); err != nil {
		t.Fatal(err)
	}
	return &mariadbServer{realServer: realServer{s}, db: db}
}

// mariadbServer is a pod of oned on its own MariaDB; its seed init container is the
// operator's script.
type mariadbServer struct {
	realServer
	db *onedproc.MariaDB

	mu       sync.Mutex
	init     *exec.Cmd
	initDone chan struct{}
	initOut  bytes.Buffer
}

func (s *mariadbServer) termination() string { return filepath.Join(s.Dir, "termination-log") }

// StartInit runs builder.SeedDatabase with the environment the init container gets.
func (s *mariadbServer) StartInit(t *testing.T, c *cluster) {
	_ = os.Remove(s.termination())
	cmd := exec.Command("sh", filepath.Join(c.files, builder.SeedDatabaseKey))
	cmd.Env = append(os.Environ(),
		"RAFT_SERVERS_DIR="+c.servers, "POD_NAME="+s.Name(), "TERMINATION_LOG="+s.termination(), "SEED_WORK_DIR="+s.Dir,
		"DB_HOST=127.0.0.1", "DB_PORT="+strconv.Itoa(s.db.Port), "DB_NAME="+onedproc.MariaDBDatabase,
		"DB_USER="+onedproc.MariaDBUser, "DB_PASSWORD="+onedproc.MariaDBPassword)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.initOut.Reset()
	cmd.Stdout, cmd.Stderr = &s.initOut, &s.initOut
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	s.init, s.initDone = cmd, done
	t.Cleanup(func() { s.stopInit() })
}

// InitDone reports the script's end; a failure fails the test with its output.
func (s *mariadbServer) InitDone(t *testing.T) (bool, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.initDone:
	default:
		return false, ""
	}
	out := s.initOut.String()
	if !s.init.ProcessState.Success() {
		t.Fatalf("%s: seed init container failed (%s): %s", s.Name(), s.init.ProcessState, out)
	}
	t.Logf("%s: seed init container: %s", s.Name(), strings.TrimSpace(out))
	msg, _ := os.ReadFile(s.termination())
	return true, string(msg)
}

func (s *mariadbServer) stopInit() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.init != nil && s.init.Process != nil {
		select {
		case <-s.initDone:
		default:
			_ = syscall.Kill(-s.init.Process.Pid, syscall.SIGKILL)
			<-s.initDone
		}
	}
}

func (s *mariadbServer) Stop(t testing.TB) { s.stopInit(); s.realServer.Stop(t) }
func (s *mariadbServer) Kill(t testing.TB) { s.stopInit(); s.realServer.Kill(t) }

// Wipe empties the server's database and removes its keys, as a lost volume would.
func (s *mariadbServer) Wipe() error {
	if err := s.db.Empty(); err != nil {
		return err
	}
	return os.RemoveAll(filepath.Join(s.Dir, "var", ".one"))
}

func (s *mariadbServer) HasDatabase() bool {
	n, err := s.db.Tables()
	return err == nil && n > 0
}

func (s *mariadbServer) SeedFrom(server) error {
	return fmt.Errorf("%s: the seed init container copies the database", s.Name())
}

// SeedSource is the leader's database as the seed script reads it: "host port name".
func (s *mariadbServer) SeedSource() string {
	return fmt.Sprintf("127.0.0.1 %d %s", s.db.Port, onedproc.MariaDBDatabase)
}
