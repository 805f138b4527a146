package raft_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opennebula-operator/opennebula-operator/internal/builder"
	"github.com/opennebula-operator/opennebula-operator/internal/oned"
	"github.com/opennebula-operator/opennebula-operator/internal/oned/onedproc"
	"github.com/opennebula-operator/opennebula-operator/internal/raft"
)

// The zone lifecycle is one scenario run against real oned processes (realoned_test.go,
// make test-oned) and against the double (double_test.go, make test): the double is
// trusted for the operator's Kubernetes tests because it passes what real oned passes.

// server is one pod's oned, of either backend.
type server interface {
	Name() string
	Endpoint() string
	// Start runs the pod's container: the start wrapper, which reads the server's
	// recorded ID from the cluster's directory, then oned.
	Start(t *testing.T, c *cluster)
	Stop(t testing.TB)
	Kill(t testing.TB)
	// Alive: the container runs (a process that exited by itself is not alive).
	Alive() bool
	Wipe() error
	HasDatabase() bool
	SeedFrom(leader server) error
	// SeedSource is what the operator records for servers to copy this one's database
	// from (the seed-from key).
	SeedSource() string
}

// initContainer is a backend whose pods run the operator's own seed init container
// script (builder.SeedDatabase) instead of the harness's copy.
type initContainer interface {
	// StartInit starts the pod's seed init container.
	StartInit(t *testing.T, c *cluster)
	// InitDone reports whether it has finished, and its termination message.
	InitDone(t *testing.T) (done bool, message string)
}

// backend makes a pod's server.
type backend interface {
	NewServer(t *testing.T, dir, name string) server
	// CheckConfiguration checks what the servers of a zone of 3 run with, where the
	// backend has it: the oned.conf the start wrapper wrote, the hooks oned ran.
	CheckConfiguration(t *testing.T, c *cluster, v raft.View)
	// Within scales the scenario's timeouts.
	Within(real time.Duration) time.Duration
}

// cluster plays Kubernetes for a backend's servers: a StatefulSet of "pods" (their data
// kept when the pod goes, as a PersistentVolumeClaim is), each started through the
// operator's own start wrapper and Raft files (builder.RaftFiles) with the recorded server
// IDs in a directory, as the pod reads them from its ConfigMap. What a pod's seed init
// container does (wait for the server's ID when it joins, then copy the leader's
// database; copy it too when the server lost its data) is done by the backend. The
// operator's part is raft.Observe, raft.Decide and raft.Execute, unchanged.
type cluster struct {
	t                            *testing.T
	b                            backend
	dir                          string
	files, servers, hookLog, bin string
	// keys holds the zone's keys as the Keys Secret's volume does (ShareKeys).
	keys     string
	pods     []*pod
	replicas int
	steps    []raft.Step
	// seedFrom is the pod recorded as the seed source.
	seedFrom string
}

type pod struct {
	srv server
	// joining: the pod's seed init container waits for the server's ID.
	joining     bool
	reseeded    bool
	initRunning bool
	// outdated: the pod runs an older template; a restart gives it the new one.
	outdated bool
}

func newCluster(t *testing.T, b backend) *cluster {
	c := &cluster{t: t, b: b, dir: t.TempDir(), replicas: 1}
	if keep := os.Getenv(onedproc.KeepEnv); keep != "" {
		var err error
		if c.dir, err = os.MkdirTemp(keep, "raft-"); err != nil {
			t.Fatal(err)
		}
	}
	c.files = filepath.Join(c.dir, "configmap")
	c.servers = filepath.Join(c.dir, "configmap", "raft-servers")
	c.bin = filepath.Join(c.dir, "fake-bin")
	c.hookLog = filepath.Join(c.dir, "hooks.log")
	c.keys = filepath.Join(c.dir, "keys")
	for _, d := range []string{c.servers, c.bin} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for key, content := range builder.RaftFiles() {
		write(t, filepath.Join(c.files, key), content, 0o755)
	}
	// The hooks call supervisorctl: here it notes who called it with what.
	write(t, filepath.Join(c.bin, "supervisorctl"), "#!/bin/sh\necho \"$POD_NAME $*\" >> \"$HOOK_LOG\"\n", 0o755)
	return c
}

func write(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

func name(i int) string { return fmt.Sprintf("one-%d", i) }

func (c *cluster) pod(i int) *pod {
	for len(c.pods) <= i {
		c.pods = append(c.pods, &pod{srv: c.b.NewServer(c.t, c.dir, name(len(c.pods)))})
	}
	return c.pods[i]
}

func (c *cluster) recorded() map[string]int {
	entries, err := os.ReadDir(c.servers)
	if err != nil {
		c.t.Fatal(err)
	}
	out := map[string]int{}
	for _, e := range entries {
		if e.Name() == builder.SeedFromKey {
			continue
		}
		b, err := os.ReadFile(filepath.Join(c.servers, e.Name()))
		if err != nil {
			c.t.Fatal(err)
		}
		id, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil {
			c.t.Fatalf("recorded ID of %s: %v", e.Name(), err)
		}
		out[e.Name()] = id
	}
	return out
}

// Record implements raft.Runtime: the file is replaced at once, as a ConfigMap volume's
// content is.
func (c *cluster) Record(_ context.Context, server string, id int) error {
	return c.replace(server, strconv.Itoa(id))
}

// SeedFrom implements raft.Runtime: the seed-from key holds what the pods' seed script
// reads (the leader's database address); the harness keeps the leader's name.
func (c *cluster) SeedFrom(_ context.Context, server string) error {
	for _, p := range c.pods {
		if p.srv.Name() == server {
			c.seedFrom = server
			return c.replace(builder.SeedFromKey, p.srv.SeedSource())
		}
	}
	return fmt.Errorf("no pod %s", server)
}

func (c *cluster) replace(key, content string) error {
	tmp := filepath.Join(c.dir, "record.tmp")
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(c.servers, key))
}

// ShareKeys implements raft.Runtime: the keys are written once, as the operator creates
// the Secret once; the FireEdge key and the serveradmin secret are made here.
func (c *cluster) ShareKeys(_ context.Context, oneKey string) (string, error) {
	if b, err := os.ReadFile(filepath.Join(c.keys, builder.ServerAdminKey)); err == nil {
		return string(b), nil
	}
	if err := os.MkdirAll(c.keys, 0o700); err != nil {
		return "", err
	}
	secret := fmt.Sprintf("serveradmin-%d", time.Now().UnixNano())
	// The secret last: a reader that finds it finds the others.
	for _, kv := range [][2]string{{builder.OneKeyKey, oneKey}, {builder.FireEdgeKeyKey, "fireedge-" + secret}, {builder.ServerAdminKey, secret}} {
		if err := os.WriteFile(filepath.Join(c.keys, kv[0]), []byte(kv[1]), 0o600); err != nil {
			return "", err
		}
	}
	return secret, nil
}

// sharedKey is one of the zone's keys, as ShareKeys kept it ("" before).
func (c *cluster) sharedKey(key string) string {
	b, _ := os.ReadFile(filepath.Join(c.keys, key))
	return string(b)
}

// Forget implements raft.Runtime.
func (c *cluster) Forget(_ context.Context, server string) error {
	err := os.Remove(filepath.Join(c.servers, server))
	if os.IsNotExist(err) {
		return nil
	}
	return err
}

// Restart implements raft.Runtime: the pod is deleted; syncPods starts it again, with
// the current template.
func (c *cluster) Restart(_ context.Context, server string) error {
	for _, p := range c.pods {
		if p.srv.Name() == server {
			p.srv.Stop(c.t)
			p.outdated = false
			return nil
		}
	}
	return fmt.Errorf("no pod %s", server)
}

// Reseeded implements raft.Runtime.
func (c *cluster) Reseeded(_ context.Context, server string) error {
	for _, p := range c.pods {
		if p.srv.Name() == server {
			p.reseeded = false
		}
	}
	return nil
}

func (c *cluster) clients(server string) (*oned.Client, error) {
	for _, p := range c.pods {
		if p.srv.Name() == server {
			return oned.New(p.srv.Endpoint(), oned.Admin(onedproc.Password), oned.WithTimeout(30*time.Second))
		}
	}
	return nil, fmt.Errorf("no pod %s", server)
}

// syncPods is the StatefulSet controller and the kubelet: pods below the replica count
// run (a stopped or killed one is started again, after its seed init container), those
// above are stopped with their data kept.
func (c *cluster) syncPods(leader server) {
	rec := c.recorded()
	formed := len(rec) > 0
	for i := 0; i < c.replicas; i++ {
		p := c.pod(i)
		if ic, ok := p.srv.(initContainer); ok && p.initRunning {
			// The operator's seed script runs as the pod's init container would: it waits
			// for the server's ID when it joins, then copies the leader's database.
			_, recorded := rec[p.srv.Name()]
			p.joining = formed && !recorded
			done, message := ic.InitDone(c.t)
			if !done {
				continue
			}
			p.initRunning, p.joining = false, false
			p.reseeded = strings.TrimSpace(message) == builder.ReseededMessage
			p.srv.Start(c.t, c)
			continue
		}
		if p.srv.Alive() {
			continue
		}
		p.srv.Kill(c.t) // reap a container that exited: the kubelet starts it again
		if ic, ok := p.srv.(initContainer); ok {
			ic.StartInit(c.t, c)
			p.initRunning = true
			continue
		}
		_, recorded := rec[p.srv.Name()]
		// The seed init container: a server joining a formed zone waits until the
		// operator has added it and recorded its ID, then copies the leader's database
		// (which then holds its own addserver); a server whose database is gone copies it
		// too, and reports it (Reseeded) so that the leader is told.
		if formed && !recorded {
			p.joining = true
			continue
		}
		if formed && (p.joining || !p.srv.HasDatabase()) {
			if leader == nil || leader == p.srv {
				continue
			}
			if err := p.srv.Wipe(); err != nil {
				c.t.Fatal(err)
			}
			if err := p.srv.SeedFrom(leader); err != nil {
				c.t.Fatalf("seeding %s from %s: %v", p.srv.Name(), leader.Name(), err)
			}
			p.reseeded = !p.joining
			p.joining = false
		}
		p.srv.Start(c.t, c)
	}
	for i := c.replicas; i < len(c.pods); i++ {
		c.pods[i].joining, c.pods[i].initRunning = false, false
		c.pods[i].srv.Stop(c.t)
	}
}

// view is what the operator observes of the pods: names and endpoints by ordinal, which
// pods wait for their ID, which were reseeded.
func (c *cluster) view(replicas int) raft.View {
	rec := c.recorded()
	v := raft.View{Replicas: replicas, Recorded: rec, SeedFrom: c.seedFrom}
	for i := range max(replicas, c.replicas, len(c.pods)) {
		s := raft.Server{Name: name(i)}
		if i < len(c.pods) {
			p := c.pods[i]
			s.Endpoint = p.srv.Endpoint()
			s.Waiting = p.joining && i < c.replicas
			s.Reseeded = p.reseeded
			s.Outdated = p.outdated
		}
		v.Servers = append(v.Servers, s)
	}
	return v
}

func (c *cluster) leaderServer(p raft.Plan) server {
	if p.Leader < 0 || p.Leader >= len(c.pods) {
		return nil
	}
	return c.pods[p.Leader].srv
}

// converge runs the operator's passes until the zone is as asked and every pod answers.
func (c *cluster) converge(replicas int, within time.Duration) raft.View {
	c.t.Helper()
	start := time.Now()
	deadline := start.Add(within)
	var last raft.Plan
	var leader server
	for {
		c.syncPods(leader)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		v := raft.Observe(ctx, c.view(replicas), c.clients)
		last = raft.Decide(v)
		leader = c.leaderServer(last)
		c.replicas = last.StatefulSetReplicas
		if last.Done() && c.allAnswer(v) {
			cancel()
			c.t.Logf("%d servers in %s", replicas, time.Since(start).Round(time.Second))
			return v
		}
		if last.Step.Action != raft.Wait {
			c.t.Logf("step: %s", last.Step)
			c.steps = append(c.steps, last.Step)
			if err := raft.Execute(ctx, last, v, c.clients, c); err != nil {
				c.t.Logf("step %s failed (retried next pass): %v", last.Step, err)
			}
		}
		cancel()
		if time.Now().After(deadline) {
			var tails strings.Builder
			for _, p := range c.pods {
				if r, ok := p.srv.(interface{ LogTail() string }); ok {
					tails.WriteString(r.LogTail())
				}
			}
			// The logs first: CI shows a failure's last lines, which must say what failed.
			c.t.Fatalf("%s\nthe zone did not reach %d servers within %s; last plan: %s (StatefulSet %d)", tails.String(), replicas, within, last.Step, last.StatefulSetReplicas)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func (c *cluster) allAnswer(v raft.View) bool {
	for i := range c.replicas {
		if v.Servers[i].Status == nil {
			return false
		}
	}
	for i := c.replicas; i < len(c.pods); i++ {
		if c.pods[i].srv.Alive() {
			return false
		}
	}
	return true
}

func (c *cluster) actions(from int) []string {
	out := make([]string, 0, len(c.steps)-from)
	for _, s := range c.steps[from:] {
		out = append(out, string(s.Action)+" "+s.Server)
	}
	return out
}

// wantZone checks the zone the leader lists and the IDs recorded for the pods agree, and
// every server runs with its recorded ID.
func wantZone(t *testing.T, v raft.View, names ...string) {
	t.Helper()
	if v.Zone == nil {
		t.Fatal("no zone read")
	}
	listed := make([]string, 0, len(v.Zone.Servers))
	for _, s := range v.Zone.Servers {
		listed = append(listed, s.Name)
		if id, ok := v.Recorded[s.Name]; !ok || id != s.ID {
			t.Errorf("the zone lists %s with ID %d, the record says %d (present %v)", s.Name, s.ID, id, ok)
		}
	}
	slices.Sort(listed)
	if !slices.Equal(listed, names) {
		t.Errorf("zone servers = %v, want %v", listed, names)
	}
	for _, s := range v.Servers[:len(names)] {
		if s.Status == nil || s.Status.ServerID != v.Recorded[s.Name] {
			t.Errorf("%s runs with %v, want its recorded ID %d", s.Name, s.Status, v.Recorded[s.Name])
		}
	}
}

// keptHost is made on the solo server before the zone is formed: every server must keep it.
const keptHost = "kept-before-ha.example"

// keptHostOnAll: each server of the zone of three lists keptHost, from its own database.
func keptHostOnAll(t *testing.T, c *cluster) {
	t.Helper()
	deadline := time.Now().Add(c.b.Within(60 * time.Second))
	for i := range 3 {
		cl, _ := c.clients(name(i))
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			pool, err := cl.HostPool(ctx)
			cancel()
			if err == nil && slices.ContainsFunc(pool, func(h oned.Host) bool { return h.Name == keptHost }) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s does not list host %s (err %v)", name(i), keptHost, err)
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
}

// zoneLifecycle: the operator's planner, executor and rendered files take a running solo
// frontend to a zone of 3 (its data kept), grow it to 5, shrink it to 3 with delserver,
// reseed and reset a server whose data was lost, shrink it to 1, grow it to 3 again with
// servers that were members before, and follow a leader's death.
func zoneLifecycle(t *testing.T, b backend) {
	c := newCluster(t, b)
	ctx := context.Background()
	within := b.Within

	// A frontend of one replica: solo, with data.
	v := c.converge(1, within(2*time.Minute))
	if st := v.Servers[0].Status; st.State != oned.RaftSolo || len(v.Recorded) != 0 {
		t.Fatalf("one replica runs solo with nothing recorded, got %s, record %v", st, v.Recorded)
	}
	cl, _ := c.clients(name(0))
	hostID, err := cl.HostAllocate(ctx, keptHost, "dummy", "dummy", -1)
	if err != nil {
		t.Fatal(err)
	}
	soloKey, err := cl.OneKey(ctx)
	if err != nil {
		t.Fatal(err)
	}

	// 1 → 3: the zone is formed from the running server and two joins.
	start, from := time.Now(), len(c.steps)
	v = c.converge(3, within(6*time.Minute))
	t.Logf("1 → 3 in %s: %v", time.Since(start).Round(time.Second), c.actions(from))
	wantZone(t, v, name(0), name(1), name(2))
	if got, want := c.actions(from), []string{"AddSelf one-0", "Restart one-0", "SeedFrom one-0", "Add one-1", "Add one-2"}; !slices.Equal(got, want) {
		t.Errorf("steps = %v, want %v (one addserver per server, the first on itself)", got, want)
	}
	keptHostOnAll(t, c)
	if got := c.sharedKey(builder.OneKeyKey); got != soloKey {
		t.Errorf("the zone's one_key is %q, want the first server's %q", got, soloKey)
	}
	serverAdminEverywhere(t, c)
	if cl, _ := c.clients(name(2)); cl != nil {
		h, err := cl.HostInfo(ctx, hostID)
		if err != nil || h.Name != keptHost {
			t.Errorf("the host made before HA keeps its ID %d on a joined server: %v %v", hostID, h, err)
		}
	}
	b.CheckConfiguration(t, c, v)

	// 3 → 5.
	from = len(c.steps)
	v = c.converge(5, within(6*time.Minute))
	wantZone(t, v, name(0), name(1), name(2), name(3), name(4))
	if got, want := c.actions(from), []string{"Add one-3", "Add one-4"}; !slices.Equal(got, want) {
		t.Errorf("steps = %v, want %v", got, want)
	}

	// 5 → 3: the two highest ordinals leave with delserver, the leader never.
	from = len(c.steps)
	v = c.converge(3, within(6*time.Minute))
	wantZone(t, v, name(0), name(1), name(2))
	var deleted []string
	for _, s := range c.steps[from:] {
		switch s.Action {
		case raft.Delete:
			deleted = append(deleted, s.Server)
		case raft.StepDown, raft.Forget, raft.SeedFrom:
		default:
			t.Errorf("unexpected step while scaling down: %s", s)
		}
	}
	if !slices.Equal(deleted, []string{name(4), name(3)}) {
		t.Errorf("delserver for %v, want one-4 then one-3", deleted)
	}
	if len(c.recorded()) != 3 {
		t.Errorf("record after 5 → 3: %v", c.recorded())
	}

	// A follower's volume is lost: its pod reseeds it from the leader and the leader is
	// told with resetserver.
	lost := (mustLeader(t, v) + 1) % 3
	c.pods[lost].srv.Stop(t)
	if err := c.pods[lost].srv.Wipe(); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.HostAllocate(ctx, "while-"+name(lost)+"-was-down.example", "dummy", "dummy", -1); err != nil {
		// cl is one-0's client: it forwards to the leader when it follows.
		t.Logf("allocate while %s is down: %v", name(lost), err)
	}
	from = len(c.steps)
	v = c.converge(3, within(4*time.Minute))
	wantZone(t, v, name(0), name(1), name(2))
	if got, want := c.actions(from), []string{"Reset " + name(lost)}; !slices.Equal(got, want) {
		t.Errorf("steps = %v, want %v", got, want)
	}
	keptHostOnAll(t, c)

	// 3 → 1.
	from = len(c.steps)
	v = c.converge(1, within(4*time.Minute))
	wantZone(t, v, name(0))
	for _, s := range c.steps[from:] {
		if s.Action == raft.Delete && s.Server == name(0) {
			t.Errorf("one-0 was deleted from the zone")
		}
	}

	// 1 → 3 again: the two servers deleted above rejoin; their volumes still hold the
	// database of their earlier membership, which their pods replace with the leader's.
	from = len(c.steps)
	v = c.converge(3, within(6*time.Minute))
	wantZone(t, v, name(0), name(1), name(2))
	if got, want := c.actions(from), []string{"Add one-1", "Add one-2"}; !slices.Equal(got, want) {
		t.Errorf("steps = %v, want %v", got, want)
	}
	keptHostOnAll(t, c)

	// The pod template changes (the StatefulSet updates OnDelete): each pod is restarted
	// in turn, the followers first, the leader last.
	leader := mustLeader(t, v)
	for _, p := range c.pods[:3] {
		p.outdated = true
	}
	from = len(c.steps)
	v = c.converge(3, within(6*time.Minute))
	var rolled []string
	for _, s := range c.steps[from:] {
		if s.Action == raft.Roll {
			rolled = append(rolled, s.Server)
		}
	}
	if len(rolled) != 3 || rolled[2] != name(leader) || slices.Contains(rolled[:2], name(leader)) {
		t.Errorf("rolled %v, want the two followers then the leader %s", rolled, name(leader))
	}
	keptHostOnAll(t, c)

	failover(t, c, v, soloKey)
}

// failover: the leader dies; the operator's poller names the new one, the killed server
// follows it once started again, and the new leader runs with the zone's keys.
func failover(t *testing.T, c *cluster, v raft.View, soloKey string) {
	ctx := context.Background()
	within := c.b.Within
	old := mustLeader(t, v)
	oldTerm := v.Servers[old].Status.Term
	// The clock starts when the signal goes: Kill returns only once the process group is
	// gone.
	killed := time.Now()
	c.pods[old].srv.Kill(t)
	var elected time.Duration
	for {
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		pv := raft.Observe(pctx, c.view(3), c.clients)
		cancel()
		if p := raft.Decide(pv); p.Leader >= 0 && p.Leader != old && pv.Servers[p.Leader].Status.Term > oldTerm {
			elected = time.Since(killed)
			t.Logf("leader %s killed; the poller names %s (term %d) after %s", name(old), name(p.Leader), pv.Servers[p.Leader].Status.Term, elected.Round(10*time.Millisecond))
			break
		}
		if time.Since(killed) > within(2*time.Minute) {
			t.Fatalf("no new leader named within 2 minutes of killing %s", name(old))
		}
		time.Sleep(500 * time.Millisecond)
	}
	// The killed pod is started again and follows the new leader's term. (Its log may
	// stay behind until the zone's next writes: after a leader change oned 7.2's replica
	// threads were seen to send only on new writes, RaftManager::replicate_success.)
	eventually(t, within(2*time.Minute), name(old)+" follows the new leader", func() error {
		c.syncPods(nil) // the kubelet: the pod's init container, then oned
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		pv := raft.Observe(pctx, c.view(3), c.clients)
		p := raft.Decide(pv)
		if st := pv.Servers[old].Status; p.Leader < 0 || st == nil || st.State != oned.RaftFollower || st.Term != pv.Servers[p.Leader].Status.Term {
			return fmt.Errorf("%s: %v", name(old), st)
		}
		return nil
	})
	t.Logf("failover: a new leader named %s after the leader was killed", elected.Round(10*time.Millisecond))
	// The new leader runs with the zone's one_key (one.system.config is answered by the
	// leader) and lets the services' serveradmin login in.
	serverAdminEverywhere(t, c)
	if cl, _ := c.clients(name(old)); cl != nil {
		if k, err := cl.OneKey(ctx); err != nil || k != soloKey {
			t.Errorf("after the failover the leader's one_key is %q (%v), want the first server's %q", k, err, soloKey)
		}
	}

}

// serverAdminEverywhere: the services' serveradmin login made from the zone's secret is
// let in by each server of the zone of three, each checking it against its own database.
func serverAdminEverywhere(t *testing.T, c *cluster) {
	t.Helper()
	for i := range 3 {
		serverAdminLogsIn(t, c, i)
	}
}

// serverAdminLogsIn: pod i's server lets in the services' serveradmin login made from
// the kept secret.
func serverAdminLogsIn(t *testing.T, c *cluster, i int) {
	t.Helper()
	secret := c.sharedKey(builder.ServerAdminKey)
	eventually(t, c.b.Within(time.Minute), name(i)+" lets serveradmin in", func() error {
		creds, err := oned.ServerAdmin(secret, time.Now().Add(time.Hour))
		if err != nil {
			return err
		}
		sc, err := oned.New(c.pods[i].srv.Endpoint(), creds, oned.WithTimeout(10*time.Second))
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err = sc.RaftStatus(ctx)
		return err
	})
}

func eventually(t *testing.T, within time.Duration, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s: %v", what, within, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func mustLeader(t *testing.T, v raft.View) int {
	t.Helper()
	st := make([]*oned.RaftStatus, len(v.Servers))
	for i, s := range v.Servers {
		st[i] = s.Status
	}
	l := oned.Leader(st)
	if l < 0 {
		t.Fatal("no leader")
	}
	return l
}
