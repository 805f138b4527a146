//go:build oned

package oned_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kolo/xmlrpc"

	"github.com/opennebula-operator/opennebula-operator/internal/oned"
	"github.com/opennebula-operator/opennebula-operator/internal/oned/onedproc"
)

// RecordEnv, when set to a directory, makes TestRecordAnswers write real oned's answers
// there (make record-oned writes testdata/): the bodies client_test.go decodes.
const RecordEnv = "ONED_RECORD"

type recorder struct {
	t   *testing.T
	dir string
}

// record sends one raw call and writes oned's raw answer to name.
func (r recorder) record(name, endpoint, session, method string, args ...any) {
	r.t.Helper()
	body, err := xmlrpc.EncodeMethodCall(method, append([]any{session}, args...)...)
	if err != nil {
		r.t.Fatal(err)
	}
	resp, err := http.Post(endpoint, "text/xml", bytes.NewReader(body))
	if err != nil {
		r.t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		r.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(r.dir, name), raw, 0o644); err != nil {
		r.t.Fatal(err)
	}
}

func TestRecordAnswers(t *testing.T) {
	dir := os.Getenv(RecordEnv)
	if dir == "" {
		t.Fatalf("%s names the directory to write the answers to (make record-oned)", RecordEnv)
	}
	r := recorder{t: t, dir: dir}
	session := oned.AdminUser + ":" + onedproc.Password
	ctx := context.Background()

	solo := onedproc.StartSolo(t, "solo")
	ep := solo.Endpoint()
	c := solo.Client(t)
	r.record("system_version.xml", ep, session, "one.system.version")
	r.record("authentication_failed.xml", ep, oned.AdminUser+":wrong-password", "one.system.version")
	r.record("raftstatus_solo.xml", ep, session, "one.zone.raftstatus")
	r.record("zone_info_not_found.xml", ep, session, "one.zone.info", 100, false)
	r.record("host_allocate.xml", ep, session, "one.host.allocate", "127.0.20.1", "kvm", "kvm", -1)
	r.record("host_allocate_taken.xml", ep, session, "one.host.allocate", "127.0.20.1", "kvm", "kvm", -1)
	r.record("host_info_not_found.xml", ep, session, "one.host.info", 4242, false)
	if err := c.HostUpdate(ctx, 0, map[string]string{"RESERVED_CPU": "100"}, oned.UpdateMerge); err != nil {
		t.Fatal(err)
	}
	// Wait for the monitoring of a hypervisor that does not answer to fail the host.
	deadline := time.Now().Add(90 * time.Second)
	for {
		h, err := c.HostInfo(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		if h.State == oned.HostError {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("host 0 still %s", h.State)
		}
		time.Sleep(250 * time.Millisecond)
	}
	r.record("host_info_error.xml", ep, session, "one.host.info", 0, false)
	r.record("cluster_allocate.xml", ep, session, "one.cluster.allocate", "production")
	r.record("cluster_addhost.xml", ep, session, "one.cluster.addhost", 100, 0)
	r.record("cluster_delete_not_empty.xml", ep, session, "one.cluster.delete", 100)
	r.record("hostpool_info.xml", ep, session, "one.hostpool.info")
	r.record("clusterpool_info.xml", ep, session, "one.clusterpool.info")
	r.record("zone_addserver_no_name.xml", ep, session, "one.zone.addserver", 0, "SERVER=[ENDPOINT=\"http://127.0.0.1:1/RPC2\"]")
	r.record("host_status_wrong.xml", ep, session, "one.host.status", 0, 7)
	r.record("fault_wrong_type.xml", ep, session, "one.host.info", "not-an-int")
	solo.Stop(t)

	z := onedproc.StartZone(t, 3)
	leader := z.WaitLeader(t, 90*time.Second)
	var follower *onedproc.Server
	for _, s := range z.Servers {
		if s != leader {
			follower = s
			break
		}
	}
	r.record("zone_info_raft.xml", leader.Endpoint(), session, "one.zone.info", 0, false)
	r.record("raftstatus_leader.xml", leader.Endpoint(), session, "one.zone.raftstatus")
	r.record("raftstatus_follower.xml", follower.Endpoint(), session, "one.zone.raftstatus")
	leader.Stop(t)
	follower.Stop(t)
	var last *onedproc.Server
	for _, s := range z.Servers {
		if s.Running() {
			last = s
		}
	}
	deadline = time.Now().Add(90 * time.Second)
	for {
		st, err := last.Client(t).RaftStatus(ctx)
		if err == nil && st.State == oned.RaftCandidate {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no candidate: %+v %v", st, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
	r.record("candidate_refuses.xml", last.Endpoint(), session, "one.host.allocate", "127.0.20.9", "kvm", "kvm", -1)
}
