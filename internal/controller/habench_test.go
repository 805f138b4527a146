//go:build habench

package controller

import (
	"context"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opennebulav1alpha1 "github.com/opennebula-operator/opennebula-operator/api/v1alpha1"
	"github.com/opennebula-operator/opennebula-operator/internal/benchfmt"
	"github.com/opennebula-operator/opennebula-operator/internal/builder"
	"github.com/opennebula-operator/opennebula-operator/internal/oned/onedtest"
	"github.com/opennebula-operator/opennebula-operator/internal/status"
)

// The HA benchmark (`make bench-ha`; hack/bench -ha renders docs/benchmarks-ha.md): N
// frontends of 3 replicas in envtest, the reconciler with the operator's own timings
// (one.zone.raftstatus every raftPoll, 4 workers), each server a double oned that the fake
// kubelet starts as the pod's start wrapper would. kwok's pods run no oned, so the local
// cluster of `make bench` cannot host a zone; the Kubernetes side here is a real API
// server, the requests are the manager's own, counted on its transport.
//
// It measures what a formed zone costs at rest (Kubernetes writes, which must be 0, and
// reads; oned calls; reconciles, per zone and minute) and a failover: every zone's leader
// stops at once, the doubles elect another after oned's ELECTION_TIMEOUT_MS, and the time
// until the new leader's pod carries the leader label (what the external Service selects)
// is taken per zone.
func init() {
	suiteTimings = reconcilerTimings{workers: 4} // zero durations: the operator's defaults
}

type benchZone struct {
	ns      string
	kubelet *fakeKubelet
}

func envInt(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q: want a positive number", name, v)
	}
	return n
}

func TestHABench(t *testing.T) {
	RegisterTestingT(t)
	n := envInt(t, "HA_BENCH_ZONES", 3)
	rest := time.Duration(envInt(t, "HA_BENCH_REST_SECONDS", 60)) * time.Second
	election := time.Duration(builder.DefaultRaftTiming.ElectionTimeoutMS) * time.Millisecond
	r := benchfmt.HAResult{Zones: n, ServersPerZone: 3, RaftPollSeconds: raftPoll.Seconds(),
		ElectionDelaySeconds: election.Seconds(), RestSeconds: rest.Seconds()}

	start := time.Now()
	zones := make([]benchZone, n)
	for i := range zones {
		zones[i].ns, zones[i].kubelet = createZoneOfThree(t, onedtest.WithElectionDelay(election))
	}
	// Formation: the fake kubelet plays each zone's pods, and the StatefulSet controller
	// (envtest runs none) reports the pods the StatefulSet asks for ready.
	Eventually(func() int {
		ready := 0
		for _, z := range zones {
			if attempt(func(g Gomega) {
				z.kubelet.sync(g)
				reportStatefulSetReady(g, z.ns)
				fe := get(g, z.ns, "one", &opennebulav1alpha1.OpenNebulaFrontend{})
				g.Expect(condition(g, fe, opennebulav1alpha1.ConditionReady).Status).To(Equal(metav1.ConditionTrue))
				g.Expect(leaderPods(g, z)).To(HaveLen(1))
				// Ready needs a quorum; formed is every server leading or following.
				g.Expect(fe.Status.Raft).NotTo(BeNil())
				g.Expect(fe.Status.Raft.Servers).To(HaveLen(3))
				for _, srv := range fe.Status.Raft.Servers {
					g.Expect(srv.State).To(BeElementOf(status.RaftStateLeader, status.RaftStateFollower))
				}
			}) {
				ready++
			}
		}
		return ready
	}, time.Duration(n)*time.Minute, 200*time.Millisecond).Should(Equal(n), "every zone Ready, its three servers leading or following")
	r.FormationSeconds = time.Since(start).Seconds()
	t.Logf("%d zones of 3 Ready in %.1f s", n, r.FormationSeconds)

	// At rest: once a raft poll's worth of time passes without a write, count a window.
	quiesce(2 * raftPoll)
	writes0, reads0, reconciles0, calls0 := len(writes.snapshot()), len(writes.readSnapshot()), reconcileCount(), onedCalls(zones)
	time.Sleep(rest)
	minutes := rest.Minutes() * float64(n)
	restWrites := writes.snapshot()[writes0:]
	if len(restWrites) > 0 {
		logEvents(t, zones)
	}
	Expect(restWrites).To(BeEmpty(), "a zone at rest is polled and nothing is written")
	r.RestKubernetesWrites = float64(len(restWrites)) / minutes
	restReads := writes.readSnapshot()[reads0:]
	r.RestKubernetesReads = benchfmt.Round2(float64(len(restReads)) / minutes)
	if len(restReads) > 0 {
		t.Logf("reads at rest: %v", restReads[:min(len(restReads), 10)])
	}
	r.RestReconciles = benchfmt.Round2((reconcileCount() - reconciles0) / minutes)
	r.RestOnedCalls = map[string]float64{}
	for method, c := range onedCalls(zones) {
		if d := c - calls0[method]; d > 0 {
			r.RestOnedCalls[method] = benchfmt.Round2(float64(d) / minutes)
		}
	}

	// Failover: every zone's leader stops at once.
	writes0 = len(writes.snapshot())
	stopped := make([]time.Time, n)
	old := make([]string, n)
	for i, z := range zones {
		leader := z.kubelet.zone.Leader()
		Expect(leader).NotTo(BeNil())
		old[i] = leader.Name
		stopped[i] = time.Now()
		leader.Stop(t)
	}
	r.FailoverSeconds = make([]float64, n)
	Eventually(func() int {
		done := 0
		for i, z := range zones {
			if r.FailoverSeconds[i] > 0 {
				done++
				continue
			}
			if attempt(func(g Gomega) {
				g.Expect(leaderPods(g, z)).To(ConsistOf(Not(Equal(old[i]))))
			}) {
				r.FailoverSeconds[i] = benchfmt.Round2(time.Since(stopped[i]).Seconds())
				done++
			}
		}
		return done
	}, 2*time.Minute, 50*time.Millisecond).Should(Equal(n), "every zone's new leader labelled")
	quiesce(2 * raftPoll)
	r.FailoverWritesPerZone = benchfmt.Round2(float64(len(writes.snapshot())-writes0) / float64(n))
	sorted := slices.Sorted(slices.Values(r.FailoverSeconds))
	r.FailoverP50Seconds, r.FailoverMaxSeconds = sorted[(len(sorted)-1)/2], sorted[len(sorted)-1]
	t.Logf("at rest per zone and minute: %.2f reconciles, %.2f writes, %.2f reads, oned %v; failover p50 %.2f s max %.2f s, %.2f writes per zone",
		r.RestReconciles, r.RestKubernetesWrites, r.RestKubernetesReads, r.RestOnedCalls,
		r.FailoverP50Seconds, r.FailoverMaxSeconds, r.FailoverWritesPerZone)

	if out := os.Getenv("HA_BENCH_OUT"); out != "" {
		Expect(benchfmt.WriteJSON(out, r)).To(Succeed())
	}
}

// attempt runs f with a Gomega whose first failed assertion ends f, and reports whether
// none failed.
func attempt(f func(g Gomega)) (ok bool) {
	type failed struct{}
	defer func() {
		if p := recover(); p != nil {
			if _, is := p.(failed); !is {
				panic(p)
			}
			ok = false
		}
	}()
	f(NewGomega(func(string, ...int) { panic(failed{}) }))
	return true
}

// leaderPods are the zone's pods labelled leader.
func leaderPods(g Gomega, z benchZone) []string {
	var out []string
	for pod, role := range z.kubelet.roles(g) {
		if role == builder.RaftRoleLeader {
			out = append(out, pod)
		}
	}
	return out
}

// onedCalls sums the calls every zone's servers received, by method.
func onedCalls(zones []benchZone) map[string]int {
	out := map[string]int{}
	for _, z := range zones {
		for _, srv := range z.kubelet.servers {
			for method, c := range srv.CallCounts() {
				out[method] += c
			}
		}
	}
	return out
}

// quiesce waits until the manager has written nothing for d (at most five minutes).
func quiesce(d time.Duration) {
	Eventually(func() bool {
		before := len(writes.snapshot())
		time.Sleep(d)
		return len(writes.snapshot()) == before
	}, 5*time.Minute, time.Millisecond).Should(BeTrue(), "the manager settles")
}

// logEvents logs the zones' Events (what a write at rest said).
func logEvents(t *testing.T, zones []benchZone) {
	for _, z := range zones {
		events := &corev1.EventList{}
		if err := k8sClient.List(context.Background(), events, client.InNamespace(z.ns)); err != nil {
			t.Log(err)
			continue
		}
		for _, e := range events.Items {
			t.Logf("%s %s %s %s: %s", e.LastTimestamp.Format(time.RFC3339), z.ns, e.Type, e.Reason, e.Message)
		}
	}
}
