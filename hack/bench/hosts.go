package main

// The hosts benchmark: N OpenNebulaHosts of one frontend, registered by the real manager
// binary in an in-process oned double (reached with --oned-address, as a manager outside
// the cluster reaches a port-forwarded oned), side by side with the raw limit: the same
// hosts registered by a plain loop of the calls the operator makes, on a second double.

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opennebulav1alpha1 "github.com/opennebula-operator/opennebula-operator/api/v1alpha1"
	"github.com/opennebula-operator/opennebula-operator/internal/fleet"
	"github.com/opennebula-operator/opennebula-operator/internal/oned"
	"github.com/opennebula-operator/opennebula-operator/internal/oned/onedtest"
)

// hostPoll is the manager's --host-poll-interval in the benchmark: short, so that the
// window at rest holds several passes.
const hostPoll = 5 * time.Second

// HostsResult is what the hosts benchmark measured.
type HostsResult struct {
	Hosts           int     `json:"hosts"`
	RawSeconds      float64 `json:"rawSeconds"`
	OperatorSeconds float64 `json:"operatorSeconds"`
	Ratio           float64 `json:"operatorOverRaw"`
	// Passes and pool reads in a window at rest, and the writes in it.
	RestWindowSeconds float64 `json:"restWindowSeconds"`
	RestPasses        float64 `json:"restPasses"`
	RestPoolReads     int     `json:"restHostPoolReads"`
	RestHostInfo      int     `json:"restHostInfoCalls"`
	RestWrites        float64 `json:"restKubernetesWrites"`
	WritesPerHost     float64 `json:"kubernetesWritesPerHost"`
	OnedCallsPerHost  float64 `json:"onedCallsPerHostToConverge"`
	RSSBytes          float64 `json:"managerRSSBytes"`
	HeapBytes         float64 `json:"managerHeapInuseBytes"`
}

func runHosts(n int, out string, smoke bool) error {
	name := "bench-hosts"
	kcfg, down, err := localCluster(name, []string{"NODES=2", "KWOK_EXTRA_ARGS=--disable-qps-limits"})
	if err != nil {
		return err
	}
	defer down()
	r := HostsResult{Hosts: n}
	ctx := context.Background()

	double, stop, err := onedtest.Start()
	if err != nil {
		return err
	}
	defer stop()
	for i := range n {
		double.Zone().SetHypervisor(hostName(i), &onedtest.Hypervisor{TotalCPU: 800, TotalMemory: 32 << 20})
	}
	u, err := url.Parse(double.Endpoint())
	if err != nil {
		return err
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kcfg)
	if err != nil {
		return err
	}
	cfg.QPS, cfg.Burst = managerRate()
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return err
	}
	if out, err := run(kubectl, "--kubeconfig", kcfg, "apply", "--server-side", "-f", "config/crd/bases"); err != nil {
		return fmt.Errorf("CRD: %v\n%s", err, out)
	}
	// A CRD just applied is served a moment later: the manager must find the kinds.
	if err := poll(time.Minute, func() (bool, error) {
		return c.List(ctx, &opennebulav1alpha1.OpenNebulaHostList{}) == nil &&
			c.List(ctx, &opennebulav1alpha1.OpenNebulaFrontendList{}) == nil, nil
	}); err != nil {
		return fmt.Errorf("the CRDs are not served: %w", err)
	}
	if r.RawSeconds, err = rawHosts(ctx, c, n); err != nil {
		return err
	}
	const ns = "hosts"
	for _, o := range []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "oneadmin", Namespace: ns}, StringData: map[string]string{"password": onedtest.Password}},
	} {
		if err := c.Create(ctx, o); err != nil {
			return err
		}
	}
	saved := mgrFlags
	mgrFlags = append(slices.Clone(mgrFlags), "--oned-address="+u.Host, "--host-poll-interval="+hostPoll.String())
	// The manager watches the operator's namespace only, not the raw side's.
	if err := os.Setenv("WATCH_NAMESPACE", ns); err != nil {
		return err
	}
	m, err := startManager(kcfg)
	mgrFlags = saved
	if err != nil {
		return err
	}
	defer m.stop()
	fe := &opennebulav1alpha1.OpenNebulaFrontend{ObjectMeta: metav1.ObjectMeta{Name: "one", Namespace: ns}}
	fe.Spec.Admin.PasswordSecretRef = &opennebulav1alpha1.SecretKeySelector{Name: "oneadmin", Key: "password"}
	if err := c.Create(ctx, fe); err != nil {
		return err
	}
	before, err := m.scrape()
	if err != nil {
		return err
	}
	start := time.Now()
	for i := range n {
		h := &opennebulav1alpha1.OpenNebulaHost{ObjectMeta: metav1.ObjectMeta{Name: hostName(i), Namespace: ns}}
		h.Spec.FrontendRef.Name = "one"
		h.Spec.Hostname = hostName(i)
		if err := c.Create(ctx, h); err != nil {
			return err
		}
	}
	if err := waitHostsMonitored(ctx, c, ns, n); err != nil {
		return err
	}
	r.OperatorSeconds = time.Since(start).Seconds()
	r.Ratio = r.OperatorSeconds / r.RawSeconds
	if err := m.quiesce(); err != nil {
		return err
	}
	converged, err := m.scrape()
	if err != nil {
		return err
	}
	r.WritesPerHost = (converged.writes - before.writes) / float64(n)
	calls := 0
	for _, method := range []string{"one.host.allocate", "one.host.update", "one.host.status", "one.cluster.addhost", "one.host.info"} {
		calls += double.Calls(method)
	}
	r.OnedCallsPerHost = float64(calls) / float64(n)

	if err := atRest(&r, m, double, converged); err != nil {
		return err
	}
	fmt.Printf("hosts=%d raw %.1fs operator %.1fs (x%.2f) writes/host %.2f oned calls/host %.2f; at rest in %.0fs: %.0f passes, %d hostpool reads, %d host.info, %.0f writes; rss %.1f MiB heap %.1f MiB\n",
		n, r.RawSeconds, r.OperatorSeconds, r.Ratio, r.WritesPerHost, r.OnedCallsPerHost, r.RestWindowSeconds, r.RestPasses,
		r.RestPoolReads, r.RestHostInfo, r.RestWrites, r.RSSBytes/(1<<20), r.HeapBytes/(1<<20))
	if r.RestWrites != 0 || r.RestHostInfo != 0 || float64(r.RestPoolReads) > r.RestPasses+1 {
		return fmt.Errorf("at rest: %.0f writes, %d host.info calls, %d pool reads for %.0f passes", r.RestWrites, r.RestHostInfo, r.RestPoolReads, r.RestPasses)
	}
	if smoke {
		return nil
	}
	return writeHostsReport(out, r)
}

// waitHostsMonitored waits until the n hosts of ns show MONITORED.
func waitHostsMonitored(ctx context.Context, c client.Client, ns string, n int) error {
	done := progress("hosts MONITORED")
	return wrap("hosts", poll(waitTimeout(n), func() (bool, error) {
		var hosts opennebulav1alpha1.OpenNebulaHostList
		if err := c.List(ctx, &hosts, client.InNamespace(ns)); err != nil {
			return false, err
		}
		monitored := 0
		for _, h := range hosts.Items {
			if h.Status.State == "MONITORED" {
				monitored++
			}
		}
		done(monitored, n)
		return monitored == n, nil
	}))
}

// rawHosts is the raw limit: what a host costs at least, done by a plain loop at the
// manager's request rate: its object created (as the operator's side is, by the same
// client), one status write, and the oned calls of a new host (allocate, the template
// with the operator's record), against a double of its own. No manager watches the
// namespace "raw".
func rawHosts(ctx context.Context, c client.Client, n int) (float64, error) {
	raw, stop, err := onedtest.Start()
	if err != nil {
		return 0, err
	}
	defer stop()
	oc, err := oned.New(raw.Endpoint(), raw.Credentials())
	if err != nil {
		return 0, err
	}
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "raw"}}); err != nil {
		return 0, err
	}
	start := time.Now()
	for i := range n {
		h := &opennebulav1alpha1.OpenNebulaHost{ObjectMeta: metav1.ObjectMeta{Name: hostName(i), Namespace: "raw"}}
		h.Spec.FrontendRef.Name = "one"
		h.Spec.Hostname = hostName(i)
		if err := c.Create(ctx, h); err != nil {
			return 0, err
		}
		id, err := oc.HostAllocate(ctx, hostName(i), "kvm", "kvm", -1)
		if err != nil {
			return 0, err
		}
		if err := oc.HostUpdate(ctx, id, map[string]string{fleet.AttrObject: "raw/" + hostName(i), fleet.AttrAttributes: ""}, oned.UpdateMerge); err != nil {
			return 0, err
		}
		patch := client.MergeFrom(h.DeepCopy())
		h.Status.ID, h.Status.State = new(int32(id)), "MONITORED"
		if err := c.Status().Patch(ctx, h, patch); err != nil {
			return 0, err
		}
	}
	return time.Since(start).Seconds(), nil
}

// atRest measures a window of several polls after convergence: passes, pool reads, host
// reads and Kubernetes writes, and the manager's memory.
func atRest(r *HostsResult, m *manager, double *onedtest.Server, converged scraped) error {
	reads, info := double.Calls("one.hostpool.info"), double.Calls("one.host.info")
	window := 4 * hostPoll
	time.Sleep(window)
	rest, err := m.scrape()
	if err != nil {
		return err
	}
	r.RestWindowSeconds = window.Seconds()
	r.RestPasses = rest.fleetReconciles - converged.fleetReconciles
	r.RestPoolReads = double.Calls("one.hostpool.info") - reads
	r.RestHostInfo = double.Calls("one.host.info") - info
	r.RestWrites = rest.writes - converged.writes
	r.RSSBytes, r.HeapBytes = rest.rss, rest.heap
	return nil
}

func hostName(i int) string { return fmt.Sprintf("kvm-%04d", i) }

func writeHostsReport(out string, r HostsResult) error {
	var b strings.Builder
	fmt.Fprintf(&b, `# Hosts benchmark

`+"`make bench-hosts`"+` on %s, %s: %d OpenNebulaHosts of one frontend, registered by the real
manager binary in an in-process oned double (every hypervisor answers), against the raw
limit: a plain loop, at the manager's request rate, of what a host costs at least (its
object created, one status write, the oned calls of a new host: allocate, then the
template with the operator's record) on a second double.

| figure | value |
|---|---|
| raw limit (create, oned calls, one status write per host) | %.1f s |
| operator: created to all MONITORED | %.1f s (x%.2f the raw limit) |
| Kubernetes writes per host to converge | %.2f (finalizer, status) |
| oned writes per host to converge | %.2f |
| at rest, %.0f s (--host-poll-interval %s) | %.0f passes, %d one.hostpool.info, %d one.host.info, %.0f Kubernetes writes |
| manager RSS / Go heap in use | %.1f MiB / %.1f MiB |
`, time.Now().UTC().Format("2006-01-02"), machine(), r.Hosts, r.RawSeconds, r.OperatorSeconds, r.Ratio, r.WritesPerHost,
		r.OnedCallsPerHost, r.RestWindowSeconds, hostPoll, r.RestPasses, r.RestPoolReads, r.RestHostInfo, r.RestWrites,
		r.RSSBytes/(1<<20), r.HeapBytes/(1<<20))
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	return os.WriteFile(out+".md", []byte(b.String()), 0o644)
}
