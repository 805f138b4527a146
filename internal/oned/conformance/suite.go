package conformance

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opennebula-operator/opennebula-operator/internal/oned"
)

// hostSeq makes host names unique within a run. Every host name is a loopback address, so
// that real oned's monitoring (SSH to the host) never leaves the machine: nothing listens
// on port 22 there and the host fails as an unreachable hypervisor does.
var hostSeq atomic.Int32

func hostName() string {
	n := hostSeq.Add(1)
	return fmt.Sprintf("127.0.%d.%d", 10+n/250, 1+n%250)
}

// Run runs the whole suite against b.
func Run(t *testing.T, b Backend) {
	t.Run("Solo", func(t *testing.T) {
		s := b.Solo(t)
		t.Run("Version", guard(func(t *testing.T) { testVersion(t, s) }))
		t.Run("WrongPassword", guard(func(t *testing.T) { testWrongPassword(t, s) }))
		t.Run("RaftStatusSolo", guard(func(t *testing.T) { testRaftStatusSolo(t, s) }))
		t.Run("OneKey", guard(func(t *testing.T) { testOneKey(t, s) }))
		t.Run("ServerAdminPassword", guard(func(t *testing.T) { testServerAdminPassword(t, s) }))
		t.Run("ZoneInfo", guard(func(t *testing.T) { testZoneInfo(t, s) }))
		t.Run("HostLifecycle", guard(func(t *testing.T) { testHostLifecycle(t, s) }))
		t.Run("HostAllocateRefusals", guard(func(t *testing.T) { testHostAllocateRefusals(t, s) }))
		t.Run("HostNotFound", guard(func(t *testing.T) { testHostNotFound(t, s) }))
		t.Run("HostTemplate", guard(func(t *testing.T) { testHostTemplate(t, s) }))
		t.Run("HostStatus", guard(func(t *testing.T) { testHostStatus(t, s) }))
		t.Run("HostMonitoringError", guard(func(t *testing.T) { testHostMonitoringError(t, s, b) }))
		t.Run("HostIDsNotReused", guard(func(t *testing.T) { testHostIDsNotReused(t, s) }))
		t.Run("Clusters", guard(func(t *testing.T) { testClusters(t, s) }))
		t.Run("ClusterRefusals", guard(func(t *testing.T) { testClusterRefusals(t, s) }))
		t.Run("ClusterTemplate", guard(func(t *testing.T) { testClusterTemplate(t, s) }))
		t.Run("ClusterMembers", guard(func(t *testing.T) { testClusterMembers(t, s) }))
		// Last on this server: it changes zone 0's server list (harmless while solo).
		t.Run("ZoneServers", guard(func(t *testing.T) { testZoneServers(t, s) }))
	})
	t.Run("Raft", func(t *testing.T) {
		servers := b.Zone(t, 3)
		t.Run("ZoneOfThree", guard(func(t *testing.T) { testZoneOfThree(t, servers, b) }))
		t.Run("FollowerForwardsWrites", guard(func(t *testing.T) { testFollowerForwards(t, servers, b) }))
		t.Run("ServerAdminOnEveryServer", guard(func(t *testing.T) { testServerAdminOnEveryServer(t, servers, b) }))
		t.Run("LeaderFailover", guard(func(t *testing.T) { testLeaderFailover(t, servers, b) }))
		t.Run("NoQuorum", guard(func(t *testing.T) { testNoQuorum(t, servers, b) }))
	})
}

func wantCode(t testing.TB, err error, code oned.ErrorCode, message string) oned.Error {
	t.Helper()
	var e *oned.Error
	if !errors.As(err, &e) {
		t.Fatalf("want oned error %s %q, got %v", code, message, err)
	}
	if e.Code != code {
		t.Fatalf("want code %s, got %s (%q)", code, e.Code, e.Message)
	}
	if message != "" && e.Message != message {
		t.Fatalf("want message %q, got %q", message, e.Message)
	}
	return *e
}

// must returns v, or ends the test (through guard's recover) when err is set: it keeps
// the many calls whose failure is not the point of a test on one line.
func must[T any](v T, err error) T {
	if err != nil {
		panic(mustFailed{err})
	}
	return v
}

type mustFailed struct{ err error }

// guard runs a subtest body, turning must's panic into t.Fatal.
func guard(body func(t *testing.T)) func(t *testing.T) {
	return func(t *testing.T) {
		t.Helper()
		defer func() {
			if r := recover(); r != nil {
				if m, ok := r.(mustFailed); ok {
					t.Fatal(m.err)
				}
				panic(r)
			}
		}()
		body(t)
	}
}

func testVersion(t *testing.T, s Server) {
	v := must(s.Client(t).Version(ctx(t)))
	if v != "7.2.0" {
		t.Fatalf("one.system.version = %q, want 7.2.0", v)
	}
}

// A wrong password is AUTHENTICATION (256) with oned's fixed text; the password is in
// neither the error nor its message.
func testWrongPassword(t *testing.T, s Server) {
	const wrong = "not-the-Password-42"
	c, err := oned.New(s.Endpoint(), oned.Credentials{User: oned.AdminUser, Password: wrong})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Version(ctx(t))
	e := wantCode(t, err, oned.CodeAuthentication, "[one.system.version] User couldn't be authenticated, aborting call.")
	if !oned.IsAuthentication(err) || e.ResourceID != -1 {
		t.Fatalf("IsAuthentication %v, resource ID %d", oned.IsAuthentication(err), e.ResourceID)
	}
	if strings.Contains(err.Error(), wrong) || strings.Contains(fmt.Sprintf("%+v %#v", err, c), wrong) {
		t.Fatalf("the password leaks: %v", err)
	}
}

// one.system.config shows oneadmin the server's one_key (the operator shares it with the
// servers a zone adds): the same at every read.
func testOneKey(t *testing.T, s Server) {
	k := must(s.Client(t).OneKey(ctx(t)))
	if len(k) < 32 || strings.ContainsAny(k, " \n") {
		t.Fatalf("ONE_KEY %q", k)
	}
	if again := must(s.Client(t).OneKey(ctx(t))); again != k {
		t.Fatalf("ONE_KEY changed between reads: %q, %q", k, again)
	}
}

// serveradmin's password set with one.user.passwd to ServerAdminPassword(secret) lets the
// services' login made from the secret in (the server_cipher driver decrypts it); a login
// made from another secret is refused as a wrong password is.
func testServerAdminPassword(t *testing.T, s Server) {
	const secret = "operator-Serveradmin-1"
	must(0, s.Client(t).UserPasswd(ctx(t), oned.ServerAdminID, oned.ServerAdminPassword(secret)))
	wantServerAdmin(t, s, secret)
	creds := must(oned.ServerAdmin("another-secret", time.Now().Add(time.Hour)))
	c := must(oned.New(s.Endpoint(), creds))
	_, err := c.RaftStatus(ctx(t))
	wantCode(t, err, oned.CodeAuthentication, "[one.zone.raftstatus] User couldn't be authenticated, aborting call.")
}

// wantServerAdmin: serveradmin's login made from secret is answered by the server itself
// (raftstatus is not forwarded: the server checks it against its own database).
func wantServerAdmin(t *testing.T, s Server, secret string) {
	t.Helper()
	creds := must(oned.ServerAdmin(secret, time.Now().Add(time.Hour)))
	c := must(oned.New(s.Endpoint(), creds))
	if _, err := c.RaftStatus(ctx(t)); err != nil {
		t.Fatalf("%s: serveradmin's login: %v", s.Name(), err)
	}
}

func testRaftStatusSolo(t *testing.T, s Server) {
	r := must(s.Client(t).RaftStatus(ctx(t)))
	if r.State != oned.RaftSolo || r.ServerID != -1 || r.LogIndex != -1 || r.LogTerm != -1 || r.FedLogIndex != -1 {
		t.Fatalf("solo raftstatus = %+v", r)
	}
}

func testZoneInfo(t *testing.T, s Server) {
	c := s.Client(t)
	z := must(c.ZoneInfo(ctx(t), 0))
	if z.ID != 0 || z.Name != "OpenNebula" {
		t.Fatalf("zone 0 = %+v", z)
	}
	_, err := c.ZoneInfo(ctx(t), 100)
	e := wantCode(t, err, oned.CodeNoExists, "[one.zone.info] Error getting zone [100].")
	if !oned.IsNotFound(err) || e.ResourceID != 100 {
		t.Fatalf("IsNotFound %v, resource ID %d", oned.IsNotFound(err), e.ResourceID)
	}
}

// Allocate, read, find in the pool, delete: what the host reconciler does.
func testHostLifecycle(t *testing.T, s Server) {
	c := s.Client(t)
	name := hostName()
	id := must(c.HostAllocate(ctx(t), name, "kvm", "kvm", -1))
	h := must(c.HostInfo(ctx(t), id))
	if h.ID != id || h.Name != name || h.IMMad != "kvm" || h.VMMad != "kvm" ||
		h.ClusterID != oned.DefaultClusterID || h.Cluster != "default" || len(h.VMs) != 0 {
		t.Fatalf("host.info = %+v", h)
	}
	pool := must(c.HostPool(ctx(t)))
	i := slices.IndexFunc(pool, func(p oned.Host) bool { return p.ID == id })
	if i < 0 || pool[i].Name != name || pool[i].ClusterID != oned.DefaultClusterID {
		t.Fatalf("hostpool.info has no host %d %s: %+v", id, name, pool)
	}
	// The same name again: ALLOCATE, naming the holder, recognised by AlreadyTaken.
	_, err := c.HostAllocate(ctx(t), name, "kvm", "kvm", -1)
	wantCode(t, err, oned.CodeAllocate, fmt.Sprintf("[one.host.allocate] Error allocating a new host. NAME is already taken by HOST %d.", id))
	if kind, holder, ok := oned.AlreadyTaken(err); !ok || kind != "HOST" || holder != id {
		t.Fatalf("AlreadyTaken = %s %d %v", kind, holder, ok)
	}
	if err := c.HostDelete(ctx(t), id); err != nil {
		t.Fatal(err)
	}
	_, err = c.HostInfo(ctx(t), id)
	wantCode(t, err, oned.CodeNoExists, fmt.Sprintf("[one.host.info] Error getting host [%d].", id))
	pool = must(c.HostPool(ctx(t)))
	if slices.ContainsFunc(pool, func(p oned.Host) bool { return p.ID == id }) {
		t.Fatalf("deleted host %d still in the pool", id)
	}
}

func testHostAllocateRefusals(t *testing.T, s Server) {
	c := s.Client(t)
	_, err := c.HostAllocate(ctx(t), hostName(), "kvm", "kvm", 9999)
	e := wantCode(t, err, oned.CodeNoExists, "[one.host.allocate] Error getting cluster [9999].")
	if e.ResourceID != 9999 {
		t.Fatalf("resource ID %d", e.ResourceID)
	}
	for name, msg := range map[string]string{
		"a":        "Invalid HOSTNAME, HOSTNAME length should be greater than 1, but smaller than 64 characters",
		"-kvm":     "Invalid HOSTNAME, first character can't be '-'",
		"kvm a":    "Invalid HOSTNAME, ' ' is invalid character for a HOSTNAME",
		"kvm:2633": "Invalid HOSTNAME, ':' is invalid character for a HOSTNAME",
	} {
		_, err := c.HostAllocate(ctx(t), name, "kvm", "kvm", -1)
		wantCode(t, err, oned.CodeAllocate, "[one.host.allocate] Error allocating a new host. "+msg)
		if _, _, taken := oned.AlreadyTaken(err); taken {
			t.Fatalf("%q: an invalid name is not a taken one", name)
		}
	}
	_, err = c.HostAllocate(ctx(t), hostName(), "", "kvm", -1)
	wantCode(t, err, oned.CodeAllocate, "[one.host.allocate] Error allocating a new host. IM_MAD_NAME cannot be empty.")
}

func testHostNotFound(t *testing.T, s Server) {
	c := s.Client(t)
	const missing = 987654
	for name, call := range map[string]func() error{
		"one.host.info":   func() error { _, err := c.HostInfo(ctx(t), missing); return err },
		"one.host.delete": func() error { return c.HostDelete(ctx(t), missing) },
		"one.host.status": func() error { return c.HostStatus(ctx(t), missing, oned.HostStatusDisabled) },
		"one.host.update": func() error {
			return c.HostUpdate(ctx(t), missing, map[string]string{"A": "b"}, oned.UpdateMerge)
		},
	} {
		e := wantCode(t, call(), oned.CodeNoExists, fmt.Sprintf("[%s] Error getting host [%d].", name, missing))
		if e.ResourceID != missing {
			t.Fatalf("%s: resource ID %d", name, e.ResourceID)
		}
	}
}

// Merge adds and replaces the attributes sent; replace leaves exactly what is sent.
// Values travel as XML: quotes, brackets and newlines arrive unchanged.
func testHostTemplate(t *testing.T, s Server) {
	c := s.Client(t)
	id := must(c.HostAllocate(ctx(t), hostName(), "kvm", "kvm", -1))
	const note, reservedMem, reservedCPU = "NOTE", "RESERVED_MEM", "RESERVED_CPU"
	tricky := `say "hi" <b>&amp; [x] = y` + "\nline two"
	if err := c.HostUpdate(ctx(t), id, map[string]string{reservedCPU: "100", note: tricky}, oned.UpdateMerge); err != nil {
		t.Fatal(err)
	}
	if err := c.HostUpdate(ctx(t), id, map[string]string{reservedMem: "1048576"}, oned.UpdateMerge); err != nil {
		t.Fatal(err)
	}
	h := must(c.HostInfo(ctx(t), id))
	for k, want := range map[string]string{reservedCPU: "100", reservedMem: "1048576", note: tricky} {
		if got, ok := h.Template.Get(k); !ok || got != want {
			t.Fatalf("after merge %s = %q (%v), want %q; template %+v", k, got, ok, want, h.Template)
		}
	}
	if err := c.HostUpdate(ctx(t), id, map[string]string{reservedCPU: "200"}, oned.UpdateReplace); err != nil {
		t.Fatal(err)
	}
	h = must(c.HostInfo(ctx(t), id))
	if v, _ := h.Template.Get(reservedCPU); v != "200" {
		t.Fatalf("after replace RESERVED_CPU = %q", v)
	}
	for _, gone := range []string{reservedMem, note} {
		if _, ok := h.Template.Get(gone); ok {
			t.Fatalf("replace kept %s: %+v", gone, h.Template)
		}
	}
	err := c.HostUpdate(ctx(t), id, map[string]string{"lower": "x"}, oned.UpdateMerge)
	if err == nil || !strings.Contains(err.Error(), "upper-case") {
		t.Fatalf("a lower-case attribute name must be refused by the client, got %v", err)
	}
	// A whole template, vector attributes included, replaces what is there and reads back
	// as sent: how attributes are removed without losing the others.
	whole := oned.Template{Attributes: []oned.Attribute{
		{Name: reservedCPU, Value: "300"},
		{Name: reservedMem, Value: ""},
		{Name: "PINNED", Vector: map[string]string{"NODE": "0", note: tricky}},
	}}
	if err := c.HostReplace(ctx(t), id, whole); err != nil {
		t.Fatal(err)
	}
	h = must(c.HostInfo(ctx(t), id))
	if v, _ := h.Template.Get(reservedCPU); v != "300" {
		t.Fatalf("after a whole replace RESERVED_CPU = %q: %+v", v, h.Template)
	}
	if v, ok := h.Template.Get(reservedMem); !ok || v != "" {
		t.Fatalf("an empty attribute sent is kept empty, got %q (%v): %+v", v, ok, h.Template)
	}
	i := slices.IndexFunc(h.Template.Attributes, func(a oned.Attribute) bool { return a.Name == "PINNED" })
	if i < 0 || !maps.Equal(h.Template.Attributes[i].Vector, whole.Attributes[2].Vector) {
		t.Fatalf("vector attribute PINNED after replace: %q", h.Template.Attributes)
	}
}

// one.host.status: disabled and offline are set at once and kept whatever monitoring
// finds; enabled goes back to INIT (no capacity known) and monitoring starts again.
func testHostStatus(t *testing.T, s Server) {
	c := s.Client(t)
	id := must(c.HostAllocate(ctx(t), hostName(), "kvm", "kvm", -1))
	for _, step := range []struct {
		status oned.HostStatus
		want   []oned.HostState
	}{
		{oned.HostStatusDisabled, []oned.HostState{oned.HostDisabled}},
		{oned.HostStatusOffline, []oned.HostState{oned.HostOffline}},
		// INIT until the next monitoring fails it (no hypervisor answers here).
		{oned.HostStatusEnabled, []oned.HostState{oned.HostInit, oned.HostMonitoringInit, oned.HostError}},
		{oned.HostStatusOffline, []oned.HostState{oned.HostOffline}},
	} {
		if err := c.HostStatus(ctx(t), id, step.status); err != nil {
			t.Fatal(err)
		}
		h := must(c.HostInfo(ctx(t), id))
		if !slices.Contains(step.want, h.State) {
			t.Fatalf("after status %d: STATE %s, want one of %v", step.status, h.State, step.want)
		}
		if step.status == oned.HostStatusOffline && (h.Share.TotalCPU != 0 || h.Share.TotalMem != 0) {
			t.Fatalf("offline host keeps capacity %+v", h.Share)
		}
	}
	err := c.HostStatus(ctx(t), id, oned.HostStatus(7))
	wantCode(t, err, oned.CodeInternal, "[one.host.status] Wrong status code")
}

// A host whose hypervisor does not answer goes to ERROR with the monitoring message that
// names it (Host::error); a disabled host keeps DISABLED with the message.
func testHostMonitoringError(t *testing.T, s Server, b Backend) {
	c := s.Client(t)
	name := hostName()
	id := must(c.HostAllocate(ctx(t), name, "kvm", "kvm", -1))
	prefix := fmt.Sprintf("Error monitoring Host %s (%d): ", name, id)
	eventually(t, b.MonitorWithin(), "host in ERROR", func() error {
		h, err := c.HostInfo(ctx(t), id)
		if err != nil {
			return err
		}
		msg, at := h.ErrorMessage()
		if h.State != oned.HostError || !strings.HasPrefix(msg, prefix) {
			return fmt.Errorf("STATE %s, ERROR %q", h.State, msg)
		}
		if time.Since(at) > time.Hour || time.Until(at) > time.Minute {
			return fmt.Errorf("ERROR time %s is not now", at)
		}
		return nil
	})
	if err := c.HostStatus(ctx(t), id, oned.HostStatusDisabled); err != nil {
		t.Fatal(err)
	}
	h := must(c.HostInfo(ctx(t), id))
	if h.State != oned.HostDisabled {
		t.Fatalf("disabled host in ERROR: STATE %s", h.State)
	}
}

// IDs are handed out last+1 and never reused after a delete (PoolSQL's last OID), so a
// host ID recorded in a status never names a different host later.
func testHostIDsNotReused(t *testing.T, s Server) {
	c := s.Client(t)
	first := must(c.HostAllocate(ctx(t), hostName(), "kvm", "kvm", -1))
	if err := c.HostDelete(ctx(t), first); err != nil {
		t.Fatal(err)
	}
	second := must(c.HostAllocate(ctx(t), hostName(), "kvm", "kvm", -1))
	if second != first+1 {
		t.Fatalf("after deleting host %d the next host got %d, want %d", first, second, first+1)
	}
}

func testClusters(t *testing.T, s Server) {
	c := s.Client(t)
	pool := must(c.ClusterPool(ctx(t)))
	if i := slices.IndexFunc(pool, func(p oned.Cluster) bool { return p.ID == oned.DefaultClusterID }); i < 0 || pool[i].Name != "default" {
		t.Fatalf("clusterpool.info has no cluster 0 default: %+v", pool)
	}
	name := "conformance-" + strings.ReplaceAll(hostName(), ".", "-")
	cid := must(c.ClusterAllocate(ctx(t), name))
	if cid < 100 {
		t.Fatalf("user cluster ID %d, want >= 100", cid)
	}
	_, err := c.ClusterAllocate(ctx(t), name)
	wantCode(t, err, oned.CodeAllocate, fmt.Sprintf("[one.cluster.allocate] Error allocating a new cluster. NAME is already taken by CLUSTER %d.", cid))
	if kind, holder, ok := oned.AlreadyTaken(err); !ok || kind != "CLUSTER" || holder != cid {
		t.Fatalf("AlreadyTaken = %s %d %v", kind, holder, ok)
	}

	wantDescending(t, ids(must(c.ClusterPool(ctx(t))), func(p oned.Cluster) int { return p.ID }))
	hid := must(c.HostAllocate(ctx(t), hostName(), "kvm", "kvm", -1))
	wantDescending(t, ids(must(c.HostPool(ctx(t))), func(p oned.Host) int { return p.ID }))
	if err := c.ClusterAddHost(ctx(t), cid, hid); err != nil {
		t.Fatal(err)
	}
	// Adding it again is a success that changes nothing.
	if err := c.ClusterAddHost(ctx(t), cid, hid); err != nil {
		t.Fatal(err)
	}
	h := must(c.HostInfo(ctx(t), hid))
	if h.ClusterID != cid || h.Cluster != name {
		t.Fatalf("host after addhost: cluster %d %q, want %d %q", h.ClusterID, h.Cluster, cid, name)
	}
	cl := must(c.ClusterInfo(ctx(t), cid))
	if !slices.Equal(cl.Hosts, []int{hid}) {
		t.Fatalf("cluster %d hosts %v, want [%d]", cid, cl.Hosts, hid)
	}
	def := must(c.ClusterInfo(ctx(t), oned.DefaultClusterID))
	if slices.Contains(def.Hosts, hid) {
		t.Fatalf("host %d still in the default cluster", hid)
	}
	err = c.ClusterDelete(ctx(t), cid)
	wantCode(t, err, oned.CodeAction, fmt.Sprintf("[one.cluster.delete] Cannot delete cluster. Cluster %d is not empty, it contains 1 hosts.", cid))
	if !oned.IsAction(err) {
		t.Fatal("IsAction")
	}
	if err := c.ClusterAddHost(ctx(t), oned.DefaultClusterID, hid); err != nil {
		t.Fatal(err)
	}
	if err := c.ClusterDelete(ctx(t), cid); err != nil {
		t.Fatal(err)
	}
	_, err = c.ClusterInfo(ctx(t), cid)
	wantCode(t, err, oned.CodeNoExists, fmt.Sprintf("[one.cluster.info] Error getting cluster [%d].", cid))
	if slices.ContainsFunc(must(c.ClusterPool(ctx(t))), func(p oned.Cluster) bool { return p.ID == cid }) {
		t.Fatalf("deleted cluster %d still in the pool", cid)
	}
}

// Pools come by descending ID (PoolSharedAPI::dump with API_LIST_ORDER DESC): callers must
// not take the first element for the oldest.
func wantDescending(t testing.TB, got []int) {
	t.Helper()
	if len(got) < 2 || !slices.IsSortedFunc(got, func(a, b int) int { return b - a }) {
		t.Fatalf("pool IDs %v, want at least two in descending order", got)
	}
}

func ids[T any](pool []T, id func(T) int) []int {
	out := make([]int, 0, len(pool))
	for _, p := range pool {
		out = append(out, id(p))
	}
	return out
}

func testClusterRefusals(t *testing.T, s Server) {
	c := s.Client(t)
	err := c.ClusterDelete(ctx(t), oned.DefaultClusterID)
	wantCode(t, err, oned.CodeAction, "[one.cluster.delete] Cannot delete cluster. System Clusters (ID < 100) cannot be deleted.")
	_, err = c.ClusterAllocate(ctx(t), "bad;name")
	wantCode(t, err, oned.CodeAllocate, "[one.cluster.allocate] Error allocating a new cluster. Invalid NAME, char ';' is not allowed")
	hid := must(c.HostAllocate(ctx(t), hostName(), "kvm", "kvm", -1))
	err = c.ClusterAddHost(ctx(t), 9999, hid)
	wantCode(t, err, oned.CodeNoExists, "[one.cluster.addhost] Error getting cluster [9999].")
	err = c.ClusterAddHost(ctx(t), oned.DefaultClusterID, 987654)
	wantCode(t, err, oned.CodeNoExists, "[one.cluster.addhost] Error getting host [987654].")
	err = c.ClusterDelete(ctx(t), 9999)
	wantCode(t, err, oned.CodeNoExists, "[one.cluster.delete] Error getting cluster [9999].")
}

// A cluster's template merges and replaces as a host's does; a user cluster starts with
// oned's reserved attributes only (RESERVED_CPU, RESERVED_MEM).
func testClusterTemplate(t *testing.T, s Server) {
	c := s.Client(t)
	cid := must(c.ClusterAllocate(ctx(t), "tmpl-"+strings.ReplaceAll(hostName(), ".", "-")))
	if err := c.ClusterUpdate(ctx(t), cid, map[string]string{"RESERVED_CPU": "100", "NOTE": "rack 1"}, oned.UpdateMerge); err != nil {
		t.Fatal(err)
	}
	cl := must(c.ClusterInfo(ctx(t), cid))
	for k, want := range map[string]string{"RESERVED_CPU": "100", "NOTE": "rack 1"} {
		if got, ok := cl.Template.Get(k); !ok || got != want {
			t.Fatalf("after merge %s = %q (%v), want %q; template %+v", k, got, ok, want, cl.Template)
		}
	}
	if err := c.ClusterUpdate(ctx(t), cid, map[string]string{"RESERVED_MEM": "0"}, oned.UpdateReplace); err != nil {
		t.Fatal(err)
	}
	cl = must(c.ClusterInfo(ctx(t), cid))
	if _, ok := cl.Template.Get("NOTE"); ok {
		t.Fatalf("replace kept NOTE: %+v", cl.Template)
	}
	err := c.ClusterUpdate(ctx(t), 9999, map[string]string{"A": "b"}, oned.UpdateMerge)
	wantCode(t, err, oned.CodeNoExists, "[one.cluster.update] Error getting cluster [9999].")
	if err := c.ClusterDelete(ctx(t), cid); err != nil {
		t.Fatal(err)
	}
}

// Datastores and virtual networks join and leave clusters by ID: a datastore may be in
// several clusters, adding one already there or removing one that is not succeeds, a
// missing one is NO_EXISTS naming it (ClusterAPI::action_generic), and a cluster holding
// one cannot be deleted (Cluster::check_drop).
func testClusterMembers(t *testing.T, s Server) {
	c := s.Client(t)
	cid := must(c.ClusterAllocate(ctx(t), "members-"+strings.ReplaceAll(hostName(), ".", "-")))
	if cl := must(c.ClusterInfo(ctx(t), cid)); len(cl.Datastores) != 0 || len(cl.VNets) != 0 {
		t.Fatalf("a new cluster holds datastores %v, vnets %v", cl.Datastores, cl.VNets)
	}
	for range 2 {
		for _, ds := range []int{1, 2} {
			if err := c.ClusterAddDatastore(ctx(t), cid, ds); err != nil {
				t.Fatal(err)
			}
		}
	}
	if cl := must(c.ClusterInfo(ctx(t), cid)); !slices.Equal(cl.Datastores, []int{1, 2}) {
		t.Fatalf("cluster datastores %v, want [1 2]", cl.Datastores)
	}
	if def := must(c.ClusterInfo(ctx(t), oned.DefaultClusterID)); !slices.Contains(def.Datastores, 1) {
		t.Fatalf("datastore 1 left the default cluster: %v", def.Datastores)
	}
	err := c.ClusterDelete(ctx(t), cid)
	wantCode(t, err, oned.CodeAction, fmt.Sprintf("[one.cluster.delete] Cannot delete cluster. Cluster %d is not empty, it contains 2 datastores.", cid))
	err = c.ClusterAddDatastore(ctx(t), cid, 9999)
	wantCode(t, err, oned.CodeNoExists, "[one.cluster.adddatastore] Error getting datastore [9999].")
	err = c.ClusterAddDatastore(ctx(t), 9999, 1)
	wantCode(t, err, oned.CodeNoExists, "[one.cluster.adddatastore] Error getting cluster [9999].")
	// OpenNebula 7.2 names these two calls addhost and delhost in its messages
	// (ClusterAddVNetXRPC, ClusterDelVNetXRPC in src/rm/xml-rpc/ClusterXRPC.h).
	err = c.ClusterAddVNet(ctx(t), cid, 9999)
	wantCode(t, err, oned.CodeNoExists, "[one.cluster.addhost] Error getting virtual network [9999].")
	err = c.ClusterDelVNet(ctx(t), cid, 9999)
	wantCode(t, err, oned.CodeNoExists, "[one.cluster.delhost] Error getting virtual network [9999].")
	for range 2 {
		for _, ds := range []int{1, 2} {
			if err := c.ClusterDelDatastore(ctx(t), cid, ds); err != nil {
				t.Fatal(err)
			}
		}
	}
	if cl := must(c.ClusterInfo(ctx(t), cid)); len(cl.Datastores) != 0 {
		t.Fatalf("cluster datastores %v after removing them", cl.Datastores)
	}
	if err := c.ClusterDelete(ctx(t), cid); err != nil {
		t.Fatal(err)
	}
}

// Zone membership as the HA code drives it: IDs are given by oned (highest + 1) and read
// back by name; oned does not refuse a second server of the same name; a missing server
// or zone is an ACTION error.
func testZoneServers(t *testing.T, s Server) {
	c := s.Client(t)
	before := must(c.ZoneInfo(ctx(t), 0))
	next := 0
	for _, zs := range before.Servers {
		next = max(next, zs.ID+1)
	}
	a := oned.ServerSpec{Name: "conf-a", Endpoint: "http://127.0.0.1:1/RPC2"}
	id, added, err := c.AddServerID(ctx(t), 0, a)
	if err != nil || !added || id != next {
		t.Fatalf("AddServerID = %d %v %v, want %d added", id, added, err, next)
	}
	again, added, err := c.AddServerID(ctx(t), 0, a)
	if err != nil || added || again != id {
		t.Fatalf("AddServerID of a present name = %d %v %v, want %d not added", again, added, err, id)
	}
	// The raw call does add a duplicate.
	if err := c.AddServer(ctx(t), 0, a); err != nil {
		t.Fatal(err)
	}
	z := must(c.ZoneInfo(ctx(t), 0))
	if srv, n := z.ServerByName("conf-a"); n != 2 || srv.ID != id || srv.Endpoint != a.Endpoint {
		t.Fatalf("two servers named conf-a expected, lowest %d: got %d, %+v", id, n, srv)
	}
	for _, zs := range z.Servers {
		if zs.Name == "conf-a" {
			if err := c.DelServer(ctx(t), 0, zs.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	err = c.DelServer(ctx(t), 0, id)
	wantCode(t, err, oned.CodeAction, "[one.zone.delserver] SERVER not found in zone")
	err = c.AddServer(ctx(t), 0, oned.ServerSpec{Name: "conf-b"})
	wantCode(t, err, oned.CodeAction, "[one.zone.addserver] Missing ENDPOINT or ENDPOINT_GRPC in SERVER")
	err = c.AddServer(ctx(t), 0, oned.ServerSpec{Endpoint: "http://127.0.0.1:1/RPC2"})
	wantCode(t, err, oned.CodeAction, "[one.zone.addserver] Missing NAME in SERVER")
	err = c.AddServer(ctx(t), 1, a)
	wantCode(t, err, oned.CodeAction, "[one.zone.addserver] Servers have to be added through the target zone endpoints")
	err = c.DelServer(ctx(t), 1, 0)
	wantCode(t, err, oned.CodeAction, "[one.zone.delserver] Servers have to be deleted through the target zone endpoints")
	err = c.ResetServer(ctx(t), 1, 0)
	wantCode(t, err, oned.CodeAction, "[one.zone.resetserver] Servers have to be deleted through the target zone endpoints")
	// With the duplicates gone the next ID is the highest left + 1 again.
	after := must(c.ZoneInfo(ctx(t), 0))
	if len(after.Servers) != len(before.Servers) {
		t.Fatalf("servers after cleanup %+v, before %+v", after.Servers, before.Servers)
	}
}

func leaderOf(t *testing.T, servers []Server, b Backend) Server {
	return settledLeader(t, servers, b.ElectionWithin())
}

// A zone formed by the procedure: three servers s0..s2 in zone 0, each knowing its own
// SERVER_ID (the one zone.info lists under its name), one LEADER, two FOLLOWERs of the
// same term; raftstatus is each server's own view.
func testZoneOfThree(t *testing.T, servers []Server, b Backend) {
	leader := leaderOf(t, servers, b)
	z := must(leader.Client(t).ZoneInfo(ctx(t), 0))
	if len(z.Servers) != 3 {
		t.Fatalf("zone 0 servers %+v", z.Servers)
	}
	st := statuses(t, servers)
	for i, s := range servers {
		zs, n := z.ServerByName(s.Name())
		if n != 1 || zs.Endpoint != s.Endpoint() {
			t.Fatalf("zone lists %s %d times (%+v), endpoint want %s", s.Name(), n, zs, s.Endpoint())
		}
		if st[i] == nil || st[i].ServerID != zs.ID {
			t.Fatalf("%s raftstatus %+v, want SERVER_ID %d", s.Name(), st[i], zs.ID)
		}
		// Every server answers zone.info itself, with the same servers.
		zi := must(s.Client(t).ZoneInfo(ctx(t), 0))
		if len(zi.Servers) != 3 {
			t.Fatalf("%s zone.info servers %+v", s.Name(), zi.Servers)
		}
	}
	if i := oned.Leader(st); i < 0 || servers[i] != leader {
		t.Fatalf("oned.Leader = %d, want %s", i, leader.Name())
	}
}

// serveradmin's password set on the leader is replicated: every server lets the services'
// login in from its own copy of the database.
func testServerAdminOnEveryServer(t *testing.T, servers []Server, b Backend) {
	const secret = "operator-Zone-Serveradmin-2"
	leader := leaderOf(t, servers, b)
	must(0, leader.Client(t).UserPasswd(ctx(t), oned.ServerAdminID, oned.ServerAdminPassword(secret)))
	deadline := time.Now().Add(b.ElectionWithin())
	for _, s := range servers {
		for {
			creds := must(oned.ServerAdmin(secret, time.Now().Add(time.Hour)))
			_, err := must(oned.New(s.Endpoint(), creds)).RaftStatus(ctx(t))
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: serveradmin's login after the leader's passwd: %v", s.Name(), err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
}

// A write sent to a follower is forwarded to the leader and answered as the leader
// answers it; every server then lists the host. one.system.version is forwarded too.
func testFollowerForwards(t *testing.T, servers []Server, b Backend) {
	leader := leaderOf(t, servers, b)
	var follower Server
	for _, s := range servers {
		if s != leader {
			follower = s
			break
		}
	}
	fc := follower.Client(t)
	if v := must(fc.Version(ctx(t))); v != "7.2.0" {
		t.Fatalf("version through follower %q", v)
	}
	name := hostName()
	id := must(fc.HostAllocate(ctx(t), name, "kvm", "kvm", -1))
	h := must(leader.Client(t).HostInfo(ctx(t), id))
	if h.Name != name {
		t.Fatalf("leader's host %d is %q, want %q", id, h.Name, name)
	}
	for _, s := range servers {
		eventually(t, b.ElectionWithin(), s.Name()+" lists the forwarded host", func() error {
			pool, err := s.Client(t).HostPool(ctx(t))
			if err != nil {
				return err
			}
			if !slices.ContainsFunc(pool, func(p oned.Host) bool { return p.ID == id && p.Name == name }) {
				return fmt.Errorf("no host %d in %d hosts", id, len(pool))
			}
			return nil
		})
	}
	_, err := fc.HostAllocate(ctx(t), name, "kvm", "kvm", -1)
	if kind, holder, ok := oned.AlreadyTaken(err); !ok || kind != "HOST" || holder != id {
		t.Fatalf("duplicate through follower: %v", err)
	}
}

// The leader stops: another server leads at a higher term, and every running server says
// so (LEADER, or FOLLOWER of that term).
//
// What the suite does NOT assert, and why: that writes then go on. Real oned 7.2.0 (SQLite,
// XML-RPC replication) was seen, in 3 of 8 failovers run here, to elect the new leader at
// once (term 2) and then replicate to the remaining follower so slowly that a write through
// either server timed out for minutes: the follower's LOG_INDEX stayed behind the leader's
// COMMIT, each replicate call ending in "RPC call timed out and aborted" (XMLRPC_TIMEOUT_MS
// 1000). Neither one.zone.resetserver on the leader nor restarting that follower nor starting
// the stopped server again brought it back within 90 s. In the other 5 the zone settled
// within a second and writes went on; those elections had split votes (terms 3 to 5), the
// failing ones were won at the first round (term 2). With XMLRPC_TIMEOUT_MS 5000 instead of
// 1000 it failed 6 times in 6 (follower LOG_INDEX 2, leader COMMIT 3, LOG_INDEX 5). Right after an election a follower that voted also
// answers "no leader found" until the new leader's first heartbeat (RaftManager::follower
// clears leader_id): callers retry IsNoLeader. The HA code must watch for a follower whose
// log stays behind the commit index (oned.Settled) rather than assume a failover heals.
func testLeaderFailover(t *testing.T, servers []Server, b Backend) {
	leader := leaderOf(t, servers, b)
	before := must(leader.Client(t).RaftStatus(ctx(t)))
	leader.Stop(t)
	next := electedLeader(t, servers, b.ElectionWithin(), before.Term)
	if next == leader {
		t.Fatal("the stopped server is still the leader")
	}
}

// electedLeader waits until a running server leads at a term above minTerm and every other
// running server is a FOLLOWER of that term, and returns the leader.
func electedLeader(t testing.TB, servers []Server, within time.Duration, minTerm int64) Server {
	t.Helper()
	var leader Server
	eventually(t, within, "a leader elected after term "+fmt.Sprint(minTerm), func() error {
		var running []Server
		for _, s := range servers {
			if s.Running() {
				running = append(running, s)
			}
		}
		st := statuses(t, running)
		i := oned.Leader(st)
		if i < 0 || st[i].Term <= minTerm {
			return fmt.Errorf("statuses %s", describe(running, st))
		}
		for j, other := range st {
			if j != i && (other == nil || other.State != oned.RaftFollower || other.Term != st[i].Term) {
				return fmt.Errorf("statuses %s", describe(running, st))
			}
		}
		leader = running[i]
		return nil
	})
	return leader
}

// Only one server of three left: it cannot be elected and refuses leader-only calls with
// the candidate's answer, while it still answers its own raftstatus and local reads.
func testNoQuorum(t *testing.T, servers []Server, b Backend) {
	leader := electedLeader(t, servers, b.ElectionWithin(), 0)
	leader.Stop(t)
	var last Server
	for _, s := range servers {
		if s.Running() {
			last = s
		}
	}
	if last == nil {
		t.Fatal("no server left running")
	}
	c := last.Client(t)
	eventually(t, b.ElectionWithin(), "the last server is a candidate", func() error {
		r, err := c.RaftStatus(ctx(t))
		if err != nil {
			return err
		}
		if r.State != oned.RaftCandidate {
			return fmt.Errorf("state %s", r.State)
		}
		return nil
	})
	_, err := c.HostAllocate(ctx(t), hostName(), "kvm", "kvm", -1)
	wantCode(t, err, oned.CodeInternal, "[one.host.allocate] Cannot process request, oned cluster in election mode")
	if !oned.IsNoLeader(err) {
		t.Fatal("IsNoLeader")
	}
	_, err = c.Version(ctx(t))
	if !oned.IsNoLeader(err) {
		t.Fatalf("version on a candidate: %v", err)
	}
	must(c.HostPool(ctx(t)))
}
