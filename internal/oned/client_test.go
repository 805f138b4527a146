package oned

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// The answers in testdata/ are real oned 7.2.0's, recorded by `make record-oned`
// (record_test.go): the client must decode exactly what oned sends.

const testPassword = "s3cret-Pass"

// replay serves testdata/name to every call and records the calls' bodies.
func replay(t *testing.T, name string) (*Client, *[]string) {
	t.Helper()
	answer, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var calls []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		calls = append(calls, string(b))
		w.Header().Set("Content-Type", "text/xml")
		_, _ = w.Write(answer)
	}))
	t.Cleanup(srv.Close)
	c, err := New(srv.URL+"/RPC2", Admin(testPassword))
	if err != nil {
		t.Fatal(err)
	}
	return c, &calls
}

func TestDecodeVersion(t *testing.T) {
	c, calls := replay(t, "system_version.xml")
	v, err := c.Version(context.Background())
	if err != nil || v != "7.2.0" {
		t.Fatalf("Version = %q, %v", v, err)
	}
	// The session is the first parameter, the method named as oned registers it.
	if !strings.Contains((*calls)[0], "<methodName>one.system.version</methodName>") ||
		!strings.Contains((*calls)[0], "<string>oneadmin:"+testPassword+"</string>") {
		t.Fatalf("request %s", (*calls)[0])
	}
}

// A failed answer carries five values ([false, message, code, resource ID, i8]).
func TestDecodeFailures(t *testing.T) {
	cases := []struct {
		file       string
		call       func(c *Client) error
		code       ErrorCode
		message    string
		resourceID int
		is         func(error) bool
	}{
		{"authentication_failed.xml", func(c *Client) error { _, err := c.Version(context.Background()); return err },
			CodeAuthentication, "[one.system.version] User couldn't be authenticated, aborting call.", -1, IsAuthentication},
		{"zone_info_not_found.xml", func(c *Client) error { _, err := c.ZoneInfo(context.Background(), 100); return err },
			CodeNoExists, "[one.zone.info] Error getting zone [100].", 100, IsNotFound},
		{"host_info_not_found.xml", func(c *Client) error { _, err := c.HostInfo(context.Background(), 4242); return err },
			CodeNoExists, "[one.host.info] Error getting host [4242].", 4242, IsNotFound},
		{"host_allocate_taken.xml", func(c *Client) error {
			_, err := c.HostAllocate(context.Background(), "127.0.20.1", "kvm", "kvm", -1)
			return err
		}, CodeAllocate, "[one.host.allocate] Error allocating a new host. NAME is already taken by HOST 0.", -1, IsAllocate},
		{"cluster_delete_not_empty.xml", func(c *Client) error { return c.ClusterDelete(context.Background(), 100) },
			CodeAction, "[one.cluster.delete] Cannot delete cluster. Cluster 100 is not empty, it contains 1 hosts.", -1, IsAction},
		{"zone_addserver_no_name.xml", func(c *Client) error {
			return c.AddServer(context.Background(), 0, ServerSpec{Endpoint: "http://127.0.0.1:1/RPC2"})
		}, CodeAction, "[one.zone.addserver] Missing NAME in SERVER", -1, IsAction},
		{"host_status_wrong.xml", func(c *Client) error { return c.HostStatus(context.Background(), 0, HostStatus(7)) },
			CodeInternal, "[one.host.status] Wrong status code", -1, func(error) bool { return true }},
		{"candidate_refuses.xml", func(c *Client) error {
			_, err := c.HostAllocate(context.Background(), "127.0.20.9", "kvm", "kvm", -1)
			return err
		}, CodeInternal, "[one.host.allocate] Cannot process request, oned cluster in election mode", -1, IsNoLeader},
		{"fault_wrong_type.xml", func(c *Client) error { _, err := c.HostInfo(context.Background(), 1); return err },
			CodeRPCFault, "Parameter that is supposed to be integer is not", -1, func(error) bool { return true }},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			c, _ := replay(t, tc.file)
			err := tc.call(c)
			e, ok := errors.AsType[*Error](err)
			if !ok {
				t.Fatalf("want *Error, got %T %v", err, err)
			}
			if e.Code != tc.code || e.Message != tc.message || e.ResourceID != tc.resourceID || !tc.is(err) {
				t.Fatalf("got code %s message %q resource %d (is %v)", e.Code, e.Message, e.ResourceID, tc.is(err))
			}
			if IsUnreachable(err) {
				t.Fatal("an answer from oned is not a transport failure")
			}
		})
	}
	c, _ := replay(t, "host_allocate_taken.xml")
	_, err := c.HostAllocate(context.Background(), "127.0.20.1", "kvm", "kvm", -1)
	if kind, id, ok := AlreadyTaken(err); !ok || kind != "HOST" || id != 0 {
		t.Fatalf("AlreadyTaken = %s %d %v", kind, id, ok)
	}
	c, _ = replay(t, "zone_addserver_no_name.xml")
	if _, _, ok := AlreadyTaken(c.AddServer(context.Background(), 0, ServerSpec{})); ok {
		t.Fatal("an ACTION error is not AlreadyTaken")
	}
}

func TestDecodeIDs(t *testing.T) {
	c, calls := replay(t, "host_allocate.xml")
	id, err := c.HostAllocate(context.Background(), "127.0.20.1", "kvm", "kvm", -1)
	if err != nil || id != 0 {
		t.Fatalf("HostAllocate = %d, %v", id, err)
	}
	for _, want := range []string{"<string>127.0.20.1</string>", "<string>kvm</string>", "<int>-1</int>"} {
		if !strings.Contains((*calls)[0], want) {
			t.Fatalf("request lacks %s: %s", want, (*calls)[0])
		}
	}
	c, _ = replay(t, "cluster_allocate.xml")
	if id, err := c.ClusterAllocate(context.Background(), "production"); err != nil || id != 100 {
		t.Fatalf("ClusterAllocate = %d, %v", id, err)
	}
	c, _ = replay(t, "cluster_addhost.xml")
	if err := c.ClusterAddHost(context.Background(), 100, 0); err != nil {
		t.Fatal(err)
	}
}

func TestDecodeHost(t *testing.T) {
	c, _ := replay(t, "host_info_error.xml")
	h, err := c.HostInfo(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if h.ID != 0 || h.Name != "127.0.20.1" || h.State != HostError || h.State.String() != "ERROR" ||
		h.IMMad != "kvm" || h.VMMad != "kvm" || h.ClusterID != 0 || h.Cluster != "default" ||
		h.Share.MaxCPU != -100 || len(h.VMs) != 0 || h.Monitoring.Timestamp != 0 {
		t.Fatalf("host %+v", h)
	}
	msg, at := h.ErrorMessage()
	if msg != "Error monitoring Host 127.0.20.1 (0): " || at.IsZero() {
		t.Fatalf("ErrorMessage = %q at %s", msg, at)
	}
	if v, ok := h.Template.Get("RESERVED_CPU"); !ok || v != "100" {
		t.Fatalf("RESERVED_CPU = %q %v", v, ok)
	}
	if v, ok := h.Template.Get("RESERVED_MEM"); !ok || v != "" {
		t.Fatalf("RESERVED_MEM = %q %v", v, ok)
	}

	c, _ = replay(t, "hostpool_info.xml")
	hosts, err := c.HostPool(context.Background())
	if err != nil || len(hosts) != 1 || hosts[0].ClusterID != 100 || hosts[0].Cluster != "production" {
		t.Fatalf("HostPool = %+v, %v", hosts, err)
	}
}

func TestDecodeClusters(t *testing.T) {
	c, _ := replay(t, "clusterpool_info.xml")
	cl, err := c.ClusterPool(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// oned lists pools by descending ID.
	if len(cl) != 2 || cl[0].ID != 100 || cl[0].Name != "production" || !slices.Equal(cl[0].Hosts, []int{0}) ||
		cl[1].ID != 0 || !slices.Equal(cl[1].Datastores, []int{0, 1, 2}) || len(cl[1].Hosts) != 0 {
		t.Fatalf("clusters %+v", cl)
	}
}

func TestDecodeZoneAndRaft(t *testing.T) {
	c, _ := replay(t, "zone_info_raft.xml")
	z, err := c.ZoneInfo(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if z.ID != 0 || z.Name != "OpenNebula" || len(z.Servers) != 3 {
		t.Fatalf("zone %+v", z)
	}
	for i, s := range z.Servers {
		if s.ID != i || s.Name != fmt.Sprintf("s%d", i) || !strings.HasPrefix(s.Endpoint, "http://127.0.0.1:") {
			t.Fatalf("server %d: %+v", i, s)
		}
	}
	if s, n := z.ServerByName("s1"); n != 1 || s.ID != 1 {
		t.Fatalf("ServerByName(s1) = %+v, %d", s, n)
	}

	want := map[string]RaftStatus{
		"raftstatus_solo.xml":     {ServerID: -1, State: RaftSolo, Term: 0, VotedFor: -1, LogIndex: -1, LogTerm: -1, FedLogIndex: -1},
		"raftstatus_leader.xml":   {ServerID: 0, State: RaftLeader, Term: 1, VotedFor: 0, Commit: 2, LogIndex: 2, LogTerm: 1, FedLogIndex: -1},
		"raftstatus_follower.xml": {ServerID: 1, State: RaftFollower, Term: 1, VotedFor: 0, Commit: 2, LogIndex: 2, LogTerm: 1, FedLogIndex: -1},
	}
	files := []string{"raftstatus_solo.xml", "raftstatus_leader.xml", "raftstatus_follower.xml"}
	statuses := make([]*RaftStatus, 0, len(files))
	for _, file := range files {
		c, _ := replay(t, file)
		r, err := c.RaftStatus(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		r.XMLName = want[file].XMLName
		if *r != want[file] {
			t.Fatalf("%s: %+v, want %+v", file, *r, want[file])
		}
		statuses = append(statuses, r)
	}
	if Leader(statuses[1:]) != 0 || Settled(statuses[1:]) != 0 {
		t.Fatalf("leader %d settled %d", Leader(statuses[1:]), Settled(statuses[1:]))
	}
	if Leader([]*RaftStatus{statuses[2], nil}) != -1 || Settled([]*RaftStatus{statuses[1], nil}) != -1 {
		t.Fatal("no leader among followers; an unanswering server is not settled")
	}
}

// The password appears in no error, whatever goes wrong, and in no printed client.
func TestPasswordNeverShown(t *testing.T) {
	stopped := httptest.NewServer(http.NotFoundHandler())
	stopped.Close()
	garbage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "<html>") }))
	defer garbage.Close()
	status := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusBadGateway) }))
	defer status.Close()
	for _, url := range []string{stopped.URL, garbage.URL, status.URL} {
		c, err := New(url+"/RPC2", Admin(testPassword), WithTimeout(2*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Version(context.Background())
		if !IsUnreachable(err) {
			t.Fatalf("%s: want a transport error, got %v", url, err)
		}
		for _, shown := range []string{err.Error(), fmt.Sprintf("%v %+v %#v %s", c, c, c, Admin(testPassword)), fmt.Sprintf("%#v", Admin(testPassword))} {
			if strings.Contains(shown, testPassword) {
				t.Fatalf("password shown: %s", shown)
			}
		}
	}
	if _, err := New("http://oneadmin:"+testPassword+"@127.0.0.1:2633/RPC2", Admin(testPassword)); err == nil ||
		strings.Contains(err.Error(), testPassword) {
		t.Fatalf("an endpoint with credentials must be refused without showing them: %v", err)
	}
	if _, err := New("ftp://127.0.0.1/RPC2", Admin(testPassword)); err == nil {
		t.Fatal("a non-HTTP endpoint must be refused")
	}
}

func TestEndpoint(t *testing.T) {
	for host, want := range map[string]string{
		"one.ns.svc": "http://one.ns.svc:2633/RPC2",
		"127.0.0.1":  "http://127.0.0.1:2633/RPC2",
		"::1":        "http://[::1]:2633/RPC2",
	} {
		if got := Endpoint(net.JoinHostPort(host, "2633")); got != want {
			t.Errorf("Endpoint(%q) = %q, want %q", host, got, want)
		}
	}
}

func TestTemplateXMLEscapes(t *testing.T) {
	got := templateXML(map[string]string{"B": `a<b & "c"`, "A": "1"})
	if got != `<TEMPLATE><A>1</A><B>a&lt;b &amp; &#34;c&#34;</B></TEMPLATE>` {
		t.Fatalf("templateXML = %s", got)
	}
}
