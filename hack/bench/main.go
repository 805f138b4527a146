// Command bench measures what the operator costs the cluster, on the local cluster (real
// etcd, kube-apiserver, controller-manager, scheduler, kwok nodes) with the real manager
// binary, side by side with the raw limit: the same children created directly by one
// client. It writes docs/benchmarks.md and docs/benchmarks.json (see `make bench`); with
// -smoke it only checks correctness (every frontend Ready, zero steady-state writes).
// -hosts runs the hosts benchmark (hosts.go), -ha the Raft zones' (ha.go).
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/yaml"

	opennebulav1alpha1 "github.com/opennebula-operator/opennebula-operator/api/v1alpha1"
	"github.com/opennebula-operator/opennebula-operator/internal/apply"
	"github.com/opennebula-operator/opennebula-operator/internal/benchfmt"
	"github.com/opennebula-operator/opennebula-operator/internal/builder"
)

// Result holds the figures of one N.
type Result struct {
	N                    int                `json:"n"`
	Nodes                int                `json:"nodes"`
	RawSeconds           float64            `json:"rawConvergenceSeconds"`
	OperatorSeconds      float64            `json:"operatorConvergenceSeconds"`
	Ratio                float64            `json:"operatorOverRaw"`
	RequestsPerFrontend  map[string]float64 `json:"requestsPerFrontendByVerbResource"`
	WritesPerFrontend    float64            `json:"writesPerFrontend"`
	MinWritesPerFrontend float64            `json:"minimumWritesPerFrontend"`
	ExtraGets            float64            `json:"getsDuringCreation"`
	Conflicts            float64            `json:"conflicts"`
	ReconcileErrors      float64            `json:"reconcileErrors"`
	Reconciles           float64            `json:"reconciles"`
	RestartWrites        float64            `json:"writesAfterRestart"`
	NoopWrites           float64            `json:"writesAfterNoopChange"`
	RSSBytes             float64            `json:"managerRSSBytes"`
	// RSSAnonBytes and RSSFileBytes are RSS by kind at the same time: anonymous (what the
	// Go runtime holds) and file-backed (the binary's pages).
	RSSAnonBytes float64 `json:"managerRSSAnonBytes"`
	RSSFileBytes float64 `json:"managerRSSFileBytes"`
	HeapBytes    float64 `json:"managerHeapInuseBytes"`
	// HeapProfile is the top of the manager's heap profile with N frontends Ready.
	HeapProfile string `json:"heapProfileTop,omitempty"`
	// LiveHeapBytes is the heap in use right after a collection (the profile's total).
	LiveHeapBytes      float64 `json:"liveHeapBytes,omitempty"`
	BytesPerFrontend   float64 `json:"heapBytesPerFrontend"`
	RSSUnrelatedBytes  float64 `json:"managerRSSWithUnrelatedBytes"`
	HeapUnrelatedBytes float64 `json:"managerHeapWithUnrelatedBytes"`
	Unrelated          int     `json:"unrelatedSecretsAndConfigMaps"`
	UpdateP50Millis    float64 `json:"updateLatencyP50Millis"`
	UpdateP99Millis    float64 `json:"updateLatencyP99Millis"`
	Updates            int     `json:"updates"`
	StartupMillis      float64 `json:"startupToFirstReconcileMillis"`
	// CPU seconds by process while each side converged (cpu.go).
	CPURaw      map[string]float64 `json:"cpuSecondsRawSide,omitempty"`
	CPUOperator map[string]float64 `json:"cpuSecondsOperatorSide,omitempty"`
}

// Report is the JSON file.
type Report struct {
	Command      string   `json:"command"`
	Date         string   `json:"date"`
	Machine      string   `json:"machine"`
	BinaryBytes  int64    `json:"managerBinaryBytes"`
	ManagerFlags []string `json:"managerFlags"`
	Results      []Result `json:"results"`
}

var (
	rootDir  string
	kubectl  string
	scheme   = runtime.NewScheme()
	mgrFlags = []string{"--kube-api-qps=50", "--kube-api-burst=100", "--max-concurrent-reconciles=4"}
	// cpuProfileDir is -cpu-profiles (profile.go).
	cpuProfileDir string
)

func main() {
	ns := flag.String("n", "10,100,500", "comma list of frontend counts")
	smoke := flag.Bool("smoke", false, "check correctness only (all Ready, zero steady-state writes); write no report")
	out := flag.String("out", "docs/benchmarks", "report path without extension (.md and .json are written)")
	updates := flag.Int("updates", 20, "image changes timed for the update latency")
	unrelated := flag.Int("unrelated", 1000, "unrelated Secrets and ConfigMaps each, for the memory check")
	extra := flag.String("manager-flags", "", "extra manager flags, space separated (tuning experiments)")
	hosts := flag.Int("hosts", 0, "run the hosts benchmark instead: this many OpenNebulaHosts of one frontend")
	ha := flag.String("ha", "", "run the HA benchmark instead: comma list of zone counts (frontends of 3 replicas, envtest)")
	flag.StringVar(&cpuProfileDir, "cpu-profiles", "", "directory: CPU profiles of kube-apiserver (both sides) and the manager while each side converges, and what the manager allocated")
	flag.Parse()
	handleInterrupts()
	if cpuProfileDir != "" {
		if err := os.MkdirAll(cpuProfileDir, 0o755); err != nil {
			fatal(err)
		}
	}
	if *extra != "" {
		mgrFlags = append(mgrFlags, strings.Fields(*extra)...)
	}
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(opennebulav1alpha1.AddToScheme(scheme))
	ctrl.SetLogger(logr.Discard())
	var err error
	if rootDir, err = os.Getwd(); err != nil {
		fatal(err)
	}
	if *ha != "" {
		if err := runHA(*ha, *out, *smoke); err != nil {
			fatal(err)
		}
		return
	}
	kubectl = strings.TrimSpace(mustRun("bash", "-c", "source hack/versions.sh && echo $K8S_BIN_DIR/kubectl"))
	if *hosts > 0 {
		if err := runHosts(*hosts, *out, *smoke); err != nil {
			fatal(err)
		}
		return
	}

	report := Report{
		Command:      "make bench BENCH_N=" + *ns,
		Date:         time.Now().UTC().Format(time.RFC3339),
		Machine:      machine(),
		ManagerFlags: mgrFlags,
	}
	if fi, err := os.Stat(filepath.Join(rootDir, "bin", "manager")); err == nil {
		report.BinaryBytes = fi.Size()
	}
	var failures []string
	for s := range strings.SplitSeq(*ns, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			fatal(fmt.Errorf("bad N %q", s))
		}
		r, err := runOne(n, min(*updates, n), *unrelated)
		if err != nil {
			fatal(fmt.Errorf("n=%d: %w", n, err))
		}
		report.Results = append(report.Results, r)
		if !*smoke {
			// After each N, so that a long run that fails later keeps what it measured.
			if err := writeReport(*out, report); err != nil {
				fatal(err)
			}
		}
		fmt.Printf("N=%d raw %.1fs operator %.1fs (x%.2f) writes/frontend %.1f (min %.0f) restart writes %.0f no-op writes %.0f heap %.1f MiB rss %.1f MiB update p50 %.0fms p99 %.0fms\n",
			n, r.RawSeconds, r.OperatorSeconds, r.Ratio, r.WritesPerFrontend, r.MinWritesPerFrontend, r.RestartWrites, r.NoopWrites,
			r.HeapBytes/(1<<20), r.RSSBytes/(1<<20), r.UpdateP50Millis, r.UpdateP99Millis)
		fmt.Printf("  CPU seconds, raw side %v; operator side %v\n", r.CPURaw, r.CPUOperator)
		if r.RestartWrites != 0 || r.NoopWrites != 0 {
			failures = append(failures, fmt.Sprintf("n=%d: steady state issued writes (restart %.0f, no-op change %.0f)", n, r.RestartWrites, r.NoopWrites))
		}
	}
	if len(failures) > 0 {
		fatal(errors.New(strings.Join(failures, "; ")))
	}
	fmt.Println("bench: all frontends Ready; steady-state writes: 0")
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}

func mustRun(name string, args ...string) string {
	out, err := run(name, args...)
	if err != nil {
		fatal(fmt.Errorf("%s %v: %v\n%s", name, args, err, out))
	}
	return out
}

func run(name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = rootDir
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	err := cmd.Run()
	return buf.String(), err
}

func machine() string {
	out, _ := run("bash", "-c", "echo \"$(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(go version | cut -d' ' -f3-)\"")
	return strings.TrimSpace(out)
}

// run holds one N's cluster, client and manager while it is measured.
type benchRun struct {
	ctx     context.Context
	cluster string
	c       client.Client
	cfg     *rest.Config
	kcfg    string
	n       int
	r       *Result
	manager *manager
}

// runOne measures one N: each side on a fresh cluster of its own, so that neither pays
// for what came before it. Deleting the raw side's children in the cluster the operator
// then ran on was not enough: at N=1000, kube-controller-manager's StatefulSet controller
// was still working through the raw side's deleted keys four minutes into the operator's
// run, long after the namespace and the volumes were gone.
func runOne(n, updates, unrelated int) (Result, error) {
	fe := frontend("x", 0)
	// The minimum: one create per child and per generated Secret, one status write.
	everything, err := builder.WithGeneratedSecrets(fe, builder.Build(fe, builder.Options{}, builder.Inputs{}), false, "")
	if err != nil {
		return Result{}, err
	}
	minWrites := len(everything) + 1
	r := Result{N: n, Nodes: n/50 + 2, Updates: updates, Unrelated: unrelated, MinWritesPerFrontend: float64(minWrites)}
	for _, side := range []struct {
		name   string
		phases func(b *benchRun) []func() error
	}{
		{"raw", func(b *benchRun) []func() error { return []func() error{b.setup, b.raw} }},
		{"op", func(b *benchRun) []func() error {
			return []func() error{b.setup, b.operator, b.steadyState, func() error { return b.updates(updates) },
				func() error { return b.unrelated(unrelated) }}
		}},
	} {
		if err := onFreshCluster(fmt.Sprintf("bench-%s-%d", side.name, n), &r, side.phases); err != nil {
			return r, err
		}
	}
	return r, nil
}

// onFreshCluster runs phases on a new local cluster of r.Nodes kwok nodes, and removes
// it (and the manager, if a phase started one) afterwards.
func onFreshCluster(name string, r *Result, phases func(b *benchRun) []func() error) error {
	kcfg, down, err := localCluster(name, []string{"NODES=" + strconv.Itoa(r.Nodes),
		"KWOK_EXTRA_ARGS=--disable-qps-limits --extra-args kube-apiserver=service-cluster-ip-range=10.96.0.0/16"})
	if err != nil {
		return err
	}
	defer down()
	b := &benchRun{ctx: context.Background(), cluster: name, kcfg: kcfg, n: r.N, r: r}
	defer func() {
		if b.manager != nil {
			b.manager.stop()
		}
	}()
	for _, phase := range phases(b) {
		if err := phase(); err != nil {
			return err
		}
	}
	return nil
}

func (b *benchRun) setup() error {
	cfg, err := clientcmd.BuildConfigFromFlags("", b.kcfg)
	if err != nil {
		return err
	}
	cfg.QPS, cfg.Burst = managerRate() // the same rate limit as the manager
	b.cfg = cfg
	if b.c, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
		return err
	}
	if out, err := run(kubectl, "--kubeconfig", b.kcfg, "apply", "--server-side", "-f", "config/crd/bases"); err != nil {
		return fmt.Errorf("CRD: %v\n%s", err, out)
	}
	for _, ns := range []string{"raw", "op", "unrelated"} {
		if err := b.c.Create(b.ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			return err
		}
	}
	// Warm the cluster up (scheduler, controllers, kwok) so that neither side pays it.
	watch, stopWatch, err := namespaceCache(b.ctx, cfg, "unrelated", &appsv1.StatefulSet{})
	if err != nil {
		return err
	}
	defer stopWatch()
	if err := createRaw(b.ctx, b.c, "unrelated", "warmup", 3); err != nil {
		return err
	}
	if err := waitStatefulSetsReady(b.ctx, watch, "unrelated", 3*statefulSetsPerFrontend()); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	for _, kind := range []client.Object{&appsv1.StatefulSet{}, &corev1.Service{}} {
		if err := b.c.DeleteAllOf(b.ctx, kind, client.InNamespace("unrelated")); err != nil {
			return err
		}
	}
	return nil
}

// raw measures the raw limit: the children from the builders, created directly, waited
// on the same way.
func (b *benchRun) raw() error {
	watch, stopWatch, err := namespaceCache(b.ctx, b.cfg, "raw", &appsv1.StatefulSet{})
	if err != nil {
		return err
	}
	defer stopWatch() // also on a failed wait; stopped below once the side is measured
	cpu := cpuSeconds(b.cluster, 0)
	stopProfiles := b.profiles("raw")
	start := time.Now()
	if err := createRaw(b.ctx, b.c, "raw", "fe", b.n); err != nil {
		return err
	}
	if err := waitStatefulSetsReady(b.ctx, watch, "raw", b.n*statefulSetsPerFrontend()); err != nil {
		return fmt.Errorf("raw: %w", err)
	}
	b.r.RawSeconds = time.Since(start).Seconds()
	b.r.CPURaw = cpuSince(cpu, cpuSeconds(b.cluster, 0))
	stopWatch()
	if err := stopProfiles(); err != nil {
		return err
	}
	fmt.Printf("  raw limit: %d frontends' children ready in %.1f s\n", b.n, b.r.RawSeconds)
	return nil
}

// wrap says which wait failed.
func wrap(what string, err error) error {
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// restartManager stops the manager (if running) and starts a new one.
func (b *benchRun) restartManager() error {
	if b.manager != nil {
		b.manager.stop()
	}
	var err error
	b.manager, err = startManager(b.kcfg)
	return err
}

// settle waits for at least n reconciles in total and then for silence, and scrapes.
func (b *benchRun) settle(reconciles float64) (scraped, error) {
	if err := b.manager.waitReconciles(reconciles); err != nil {
		return scraped{}, err
	}
	if err := b.manager.quiesce(); err != nil {
		return scraped{}, err
	}
	return b.manager.scrape()
}

// operator measures N frontends to Ready, and what it cost.
func (b *benchRun) operator() error {
	if err := b.restartManager(); err != nil {
		return err
	}
	watch, stopWatch, err := namespaceCache(b.ctx, b.cfg, "op", &opennebulav1alpha1.OpenNebulaFrontend{})
	if err != nil {
		return err
	}
	defer stopWatch()
	cpu := cpuSeconds(b.cluster, b.manager.cmd.Process.Pid)
	stopProfiles := b.profiles("operator")
	start := time.Now()
	for i := range b.n {
		if err := b.c.Create(b.ctx, frontend("op", i)); err != nil {
			return err
		}
	}
	if err := waitFrontendsReady(b.ctx, watch, "op", b.n); err != nil {
		return fmt.Errorf("operator: %w", err)
	}
	r := b.r
	r.OperatorSeconds = time.Since(start).Seconds()
	r.CPUOperator = cpuSince(cpu, cpuSeconds(b.cluster, b.manager.cmd.Process.Pid))
	if err := stopProfiles(); err != nil {
		return err
	}
	r.Ratio = benchfmt.Round2(r.OperatorSeconds / r.RawSeconds)
	ms, err := b.settle(float64(b.n))
	if err != nil {
		return err
	}
	r.RequestsPerFrontend = map[string]float64{}
	for k, v := range ms.requests {
		if !strings.HasPrefix(k, "watch ") && !strings.HasPrefix(k, "list ") {
			r.RequestsPerFrontend[k] = benchfmt.Round2(v / float64(b.n))
		}
	}
	r.WritesPerFrontend = benchfmt.Round2(ms.writes / float64(b.n))
	r.ExtraGets, r.Conflicts, r.ReconcileErrors, r.Reconciles = ms.gets, ms.conflicts, ms.reconcileErrors, ms.reconciles
	r.RSSBytes, r.HeapBytes = ms.rss, ms.heap
	r.BytesPerFrontend = math.Round(ms.heap / float64(b.n))
	if r.RSSAnonBytes, r.RSSFileBytes, err = rssByKind(b.manager.cmd.Process.Pid); err != nil {
		return err
	}
	fmt.Printf("  operator: %d frontends Ready in %.1f s; manager RSS %s anonymous, %s file-backed\n", b.n, r.OperatorSeconds,
		mib(r.RSSAnonBytes), mib(r.RSSFileBytes))
	r.HeapProfile, r.LiveHeapBytes, err = b.manager.heapProfile(b.n)
	return err
}

// steadyState counts the writes of a restart (full resync), then of a no-op change
// (an unrelated annotation) on every frontend. Both must be zero.
func (b *benchRun) steadyState() error {
	if err := b.restartManager(); err != nil {
		return err
	}
	var err error
	if b.r.StartupMillis, err = b.manager.waitFirstReconcile(); err != nil {
		return err
	}
	before, err := b.settle(float64(b.n))
	if err != nil {
		return err
	}
	b.r.RestartWrites = before.writes
	for i := range b.n {
		patch := []byte(`{"metadata":{"annotations":{"bench.example.org/noop":"1"}}}`)
		if err := b.c.Patch(b.ctx, frontend("op", i), client.RawPatch("application/merge-patch+json", patch)); err != nil {
			return err
		}
	}
	after, err := b.settle(before.reconciles + float64(b.n))
	if err != nil {
		return err
	}
	b.r.NoopWrites = after.writes - before.writes
	return nil
}

// updates times image changes on single frontends until their StatefulSet has them.
func (b *benchRun) updates(count int) error {
	var lat []float64
	for i := range count {
		fe := frontend("op", i)
		img := fmt.Sprintf("registry.example.org/opennebula:7.2.%d", 100+i)
		patch := []byte(`{"spec":{"image":"` + img + `"}}`)
		t0 := time.Now()
		if err := b.c.Patch(b.ctx, fe, client.RawPatch("application/merge-patch+json", patch)); err != nil {
			return err
		}
		for {
			sts := &appsv1.StatefulSet{}
			err := b.c.Get(b.ctx, client.ObjectKey{Namespace: "op", Name: fe.Name}, sts)
			if err == nil && sts.Spec.Template.Spec.Containers[0].Image == img {
				break
			}
			if time.Since(t0) > time.Minute {
				return fmt.Errorf("update of %s not applied within a minute", fe.Name)
			}
			time.Sleep(5 * time.Millisecond)
		}
		lat = append(lat, float64(time.Since(t0).Microseconds())/1000)
	}
	b.r.UpdateP50Millis, b.r.UpdateP99Millis = percentile(lat, 50), percentile(lat, 99)
	return nil
}

// unrelated measures memory again with unrelated Secrets and ConfigMaps in the cluster:
// the cache holds only the operator's own objects, so it must not grow.
func (b *benchRun) unrelated(count int) error {
	for i := range count {
		name := fmt.Sprintf("unrelated-%d", i)
		data := map[string]string{"payload": strings.Repeat("x", 1024)}
		om := metav1.ObjectMeta{Name: name, Namespace: "unrelated"}
		if err := b.c.Create(b.ctx, &corev1.ConfigMap{ObjectMeta: om, Data: data}); err != nil {
			return err
		}
		if err := b.c.Create(b.ctx, &corev1.Secret{ObjectMeta: om, StringData: data}); err != nil {
			return err
		}
	}
	if err := b.restartManager(); err != nil {
		return err
	}
	ms, err := b.settle(float64(b.n))
	if err != nil {
		return err
	}
	b.r.RSSUnrelatedBytes, b.r.HeapUnrelatedBytes = ms.rss, ms.heap
	return nil
}

// deploymentMemoryLimit is the manager container's memory limit in bytes as
// config/manager/manager.yaml sets it: the bench runs the manager with the MEMORY_LIMIT
// the Deployment gives it from the downward API, so that its Go heap is bounded alike.
func deploymentMemoryLimit() (int64, error) {
	b, err := os.ReadFile(filepath.Join(rootDir, "config", "manager", "manager.yaml"))
	if err != nil {
		return 0, err
	}
	for doc := range bytes.SplitSeq(b, []byte("\n---")) {
		d := &appsv1.Deployment{}
		if err := yaml.Unmarshal(doc, d); err != nil || d.Kind != "Deployment" {
			continue
		}
		for _, c := range d.Spec.Template.Spec.Containers {
			if q, ok := c.Resources.Limits[corev1.ResourceMemory]; ok {
				return q.Value(), nil
			}
		}
	}
	return 0, errors.New("config/manager/manager.yaml: no memory limit on the manager container")
}

// statefulSetsPerFrontend counts the StatefulSets one default frontend has (the
// frontend's, and the managed database's).
func statefulSetsPerFrontend() int {
	n := 0
	for _, o := range builder.Build(frontend("x", 0), builder.Options{}, builder.Inputs{}) {
		if _, ok := o.(*appsv1.StatefulSet); ok {
			n++
		}
	}
	return n
}

// managerRate is the manager's --kube-api-qps and --kube-api-burst, which the raw side
// uses too so that the two are limited alike.
func managerRate() (float32, int) {
	qps, burst := float32(50), 100
	for _, f := range mgrFlags {
		if v, ok := strings.CutPrefix(f, "--kube-api-qps="); ok {
			if q, err := strconv.ParseFloat(v, 32); err == nil {
				qps = float32(q)
			}
		}
		if v, ok := strings.CutPrefix(f, "--kube-api-burst="); ok {
			if b, err := strconv.Atoi(v); err == nil {
				burst = b
			}
		}
	}
	return qps, burst
}

// createRaw creates the children of n frontends straight from the builders.
func createRaw(ctx context.Context, c client.Client, ns, prefix string, n int) error {
	for i := range n {
		fe := &opennebulav1alpha1.OpenNebulaFrontend{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%d", prefix, i), Namespace: ns}}
		// The generated Secrets too, generated the same way (the SSH key costs the same).
		children, err := builder.WithGeneratedSecrets(fe, builder.Build(fe, builder.Options{}, builder.Inputs{}), true, "bench")
		if err != nil {
			return err
		}
		for _, child := range children {
			gvk, err := apiutil.GVKForObject(child, scheme)
			if err != nil {
				return err
			}
			norm, err := apply.Normalize(child, gvk)
			if err != nil {
				return err
			}
			if err := c.Create(ctx, norm.Object); err != nil {
				return err
			}
		}
	}
	return nil
}

func runEnv(env []string, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = rootDir
	cmd.Env = append(os.Environ(), env...)
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	err := cmd.Run()
	return buf.String(), err
}

func frontend(ns string, i int) *opennebulav1alpha1.OpenNebulaFrontend {
	return &opennebulav1alpha1.OpenNebulaFrontend{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("fe-%d", i), Namespace: ns}}
}

// waitTimeout bounds a wait for N frontends: generous, as 1000 take minutes on 2 cores.
func waitTimeout(n int) time.Duration {
	return max(10*time.Minute, time.Duration(n)*1200*time.Millisecond)
}

// progress prints a wait's count at most every 30 s, so a slow run shows where it is.
func progress(what string) func(done, of int) {
	last := time.Now()
	return func(done, of int) {
		if time.Since(last) >= 30*time.Second {
			fmt.Printf("  %s: %d of %d\n", what, done, of)
			last = time.Now()
		}
	}
}

// namespaceCache is an informer cache of one namespace, started: the waits below count
// from it what is ready. Polling with full lists (every 200 ms, as the bench first did)
// made the API server encode every StatefulSet or frontend of the side five times a
// second, a cost of the measurement that differed between the sides; a watch sends
// each change once, as the manager's own informers do.
func namespaceCache(ctx context.Context, cfg *rest.Config, ns string, kind client.Object) (client.Reader, func(), error) {
	c, err := cache.New(rest.CopyConfig(cfg), cache.Options{Scheme: scheme, DefaultNamespaces: map[string]cache.Config{ns: {}}})
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = c.Start(ctx)
	}()
	// Started now (informers start at their first use), so that it watches the creations.
	if _, err := c.GetInformer(ctx, kind); err != nil {
		cancel()
		return nil, nil, fmt.Errorf("namespace cache %s: %w", ns, err)
	}
	stop := func() {
		cancel()
		<-done
	}
	return c, sync.OnceFunc(stop), nil
}

func waitStatefulSetsReady(ctx context.Context, c client.Reader, ns string, n int) error {
	report := progress(ns + ": StatefulSets ready")
	return poll(waitTimeout(n), func() (bool, error) {
		list := &appsv1.StatefulSetList{}
		if err := c.List(ctx, list, client.InNamespace(ns)); err != nil {
			return false, err
		}
		ready := 0
		for _, s := range list.Items {
			if s.Status.ReadyReplicas == 1 {
				ready++
			}
		}
		report(ready, n)
		return ready == n, nil
	})
}

func waitFrontendsReady(ctx context.Context, c client.Reader, ns string, n int) error {
	report := progress(ns + ": frontends Ready")
	return poll(waitTimeout(n), func() (bool, error) {
		list := &opennebulav1alpha1.OpenNebulaFrontendList{}
		if err := c.List(ctx, list, client.InNamespace(ns)); err != nil {
			return false, err
		}
		ready := 0
		for _, fe := range list.Items {
			if fe.Status.ObservedGeneration == fe.Generation &&
				meta.IsStatusConditionTrue(fe.Status.Conditions, opennebulav1alpha1.ConditionReady) {
				ready++
			}
		}
		report(ready, n)
		return ready == n, nil
	})
}

func poll(timeout time.Duration, f func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := f()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not done within %s", timeout)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

type manager struct {
	cmd      *exec.Cmd
	url      string
	pprofURL string
	started  time.Time
	log      *os.File
	// uninterruptible unregisters the kill that runs if the bench is interrupted.
	uninterruptible func()
}

// freeAddresses are n loopback addresses with ports free right now, all different (the
// listeners are held until all are chosen: one closed first may be handed out again).
func freeAddresses(n int) ([]string, error) {
	var out []string
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer func() { _ = l.Close() }()
		out = append(out, l.Addr().String())
	}
	return out, nil
}

func startManager(kcfg string) (*manager, error) {
	addrs, err := freeAddresses(2)
	if err != nil {
		return nil, err
	}
	addr, pprofAddr := addrs[0], addrs[1]
	logf, err := os.CreateTemp("", "bench-manager-*.log")
	if err != nil {
		return nil, err
	}
	args := append([]string{"--metrics-bind-address=" + addr, "--metrics-secure=false", "--health-probe-bind-address=127.0.0.1:0",
		"--pprof-bind-address=" + pprofAddr}, mgrFlags...)
	cmd := exec.Command(filepath.Join(rootDir, "bin", "manager"), args...)
	limit, err := deploymentMemoryLimit()
	if err != nil {
		return nil, err
	}
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kcfg, "MEMORY_LIMIT="+strconv.FormatInt(limit, 10))
	cmd.Stdout, cmd.Stderr = logf, logf
	m := &manager{cmd: cmd, url: "http://" + addr + "/metrics", pprofURL: "http://" + pprofAddr + "/debug/pprof", started: time.Now(), log: logf}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	m.uninterruptible = onInterrupt(func() { _ = cmd.Process.Kill() })
	return m, poll(time.Minute, func() (bool, error) {
		resp, err := http.Get(m.url)
		if err != nil {
			return false, nil
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
}

// heapProfile is where the manager's live heap goes: the top of `go tool pprof -top`
// over a heap profile taken after a GC (inuse_space).
// With -cpu-profiles the profile is kept there (manager-heap-N.pb.gz), for -peek.
func (m *manager) heapProfile(n int) (string, float64, error) {
	resp, err := http.Get(m.pprofURL + "/heap?gc=1")
	if err != nil {
		return "", 0, err
	}
	defer func() { _ = resp.Body.Close() }()
	var f *os.File
	if cpuProfileDir != "" {
		f, err = os.Create(filepath.Join(cpuProfileDir, fmt.Sprintf("manager-heap-%d.pb.gz", n)))
	} else if f, err = os.CreateTemp("", "bench-heap-*.pb.gz"); err == nil {
		defer func() { _ = os.Remove(f.Name()) }()
	}
	if err != nil {
		return "", 0, err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		return "", 0, err
	}
	_ = f.Close()
	out, err := run("go", "tool", "pprof", "-top", "-sample_index=inuse_space", "-nodecount=25", m.cmd.Path, f.Name())
	if err != nil {
		return "", 0, fmt.Errorf("pprof: %v\n%s", err, out)
	}
	// "Showing nodes accounting for 14166.39kB, 100% of 14166.39kB total"
	var live float64
	if m := regexp.MustCompile(`of ([0-9.]+)([kMG]B) total`).FindStringSubmatch(out); m != nil {
		v, _ := strconv.ParseFloat(m[1], 64)
		live = v * map[string]float64{"kB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30}[m[2]]
	}
	return out, live, nil
}

func (m *manager) stop() {
	if m.cmd.ProcessState != nil {
		return
	}
	m.uninterruptible()
	_ = m.cmd.Process.Signal(os.Interrupt)
	_ = m.cmd.Wait()
	_ = m.log.Close()
}

type scraped struct {
	requests                                                        map[string]float64
	writes, gets, conflicts, reconciles, reconcileErrors, rss, heap float64
	fleetReconciles                                                 float64
}

func (m *manager) scrape() (scraped, error) {
	s := scraped{requests: map[string]float64{}}
	resp, err := http.Get(m.url)
	if err != nil {
		return s, err
	}
	defer func() { _ = resp.Body.Close() }()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return s, err
	}
	for name, f := range families {
		for _, mt := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range mt.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			var v float64
			switch {
			case mt.GetCounter() != nil:
				v = mt.GetCounter().GetValue()
			case mt.GetGauge() != nil:
				v = mt.GetGauge().GetValue()
			}
			switch name {
			case "opennebula_operator_api_requests_total":
				key := labels["verb"] + " " + labels["resource"]
				s.requests[key] += v
				switch labels["verb"] {
				case "create", "update", "patch", "delete":
					s.writes += v
				case "get":
					s.gets += v
				}
				if labels["code"] == "conflict" {
					s.conflicts += v
				}
			case "controller_runtime_reconcile_total":
				switch labels["controller"] {
				case "opennebulafrontend":
					s.reconciles += v
				case "opennebulafleet":
					s.fleetReconciles += v
				}
			case "controller_runtime_reconcile_errors_total":
				if labels["controller"] == "opennebulafrontend" {
					s.reconcileErrors += v
				}
			case "process_resident_memory_bytes":
				s.rss = v
			case "go_memstats_heap_inuse_bytes":
				s.heap = v
			}
		}
	}
	return s, nil
}

func (m *manager) waitFirstReconcile() (float64, error) {
	err := poll(time.Minute, func() (bool, error) {
		s, err := m.scrape()
		return err == nil && s.reconciles > 0, nil
	})
	return float64(time.Since(m.started).Milliseconds()), err
}

func (m *manager) waitReconciles(atLeast float64) error {
	return poll(10*time.Minute, func() (bool, error) {
		s, err := m.scrape()
		return err == nil && s.reconciles >= atLeast, nil
	})
}

// quiesce waits until the manager has issued no request for two seconds.
func (m *manager) quiesce() error {
	var last float64 = -1
	stableSince := time.Now()
	return poll(5*time.Minute, func() (bool, error) {
		s, err := m.scrape()
		if err != nil {
			return false, err
		}
		total := s.reconciles
		for _, v := range s.requests {
			total += v
		}
		if total != last {
			last, stableSince = total, time.Now()
			return false, nil
		}
		return time.Since(stableSince) > 2*time.Second, nil
	})
}

func percentile(v []float64, p float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return benchfmt.Round2(s[max(0, min(i, len(s)-1))])
}

func writeReport(out string, rep Report) error {
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	if err := benchfmt.WriteJSON(out+".json", rep); err != nil {
		return err
	}
	var md strings.Builder
	fmt.Fprintf(&md, "# Benchmarks\n\nGenerated by `%s` on %s (%s). Raw figures: [benchmarks.json](benchmarks.json).\n\n",
		rep.Command, rep.Date, rep.Machine)
	md.WriteString("Each side of each N (raw limit, operator) runs on a fresh local cluster of its own (real etcd, kube-apiserver, kube-controller-manager and " +
		"kube-scheduler with QPS limits off and a /16 Service range, kwok nodes, 50 frontends per node) with the real manager binary (" +
		strings.Join(rep.ManagerFlags, " ") + fmt.Sprintf("), %.1f MiB. ", float64(rep.BinaryBytes)/(1<<20)) +
		"The **raw limit** creates the same children (the builders' output) directly with one client at the " +
		"manager's QPS/burst and waits for the same thing: every StatefulSet's pod ready. The machine is noisy: " +
		"read ratios, not absolute times. What each tuning change did: [tuning.md](tuning.md). Raft HA zones (what " +
		"a zone of 3 costs at rest, failover time): [benchmarks-ha.md](benchmarks-ha.md); hosts: " +
		"[benchmarks-hosts.md](benchmarks-hosts.md).\n\n")
	chart := filepath.Base(out) + "-convergence.svg"
	if err := os.WriteFile(filepath.Join(filepath.Dir(out), chart), convergenceChart(rep.Results), 0o644); err != nil {
		return err
	}
	md.WriteString("## Convergence and cost\n\n![Time until every frontend is Ready, against N: operator and raw limit](" + chart + ")\n\n" +
		"| N | raw limit | operator | operator / raw | writes per frontend (minimum) | GETs per frontend | conflicts | reconcile errors | reconciles |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range rep.Results {
		fmt.Fprintf(&md, "| %d | %.1f s | %.1f s | %.2f | %.2f (%.0f) | %.2f | %.0f | %.0f | %.0f |\n", r.N, r.RawSeconds, r.OperatorSeconds,
			r.Ratio, r.WritesPerFrontend, r.MinWritesPerFrontend, r.ExtraGets/float64(r.N), r.Conflicts, r.ReconcileErrors, r.Reconciles)
	}
	md.WriteString("\nThe minimum is one create per child (ConfigMap, MariaDB Service and StatefulSet, headless and external " +
		"Services, frontend StatefulSet), one per generated Secret (oneadmin password, MariaDB credentials, SSH key pair) " +
		"and one status write. Above it: one Event listing what the creation made, and a status write per further step of the " +
		"rollout the status shows (pods starting, ready). GETs are reads past the cache: a new frontend needs none (a child " +
		"is created by a create-only apply; the rare `get nonresource` is discovery). Requests per frontend during creation, " +
		"by verb and resource (watches and lists excluded):\n\n")
	for _, r := range rep.Results {
		keys := make([]string, 0, len(r.RequestsPerFrontend))
		for k := range r.RequestsPerFrontend {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		parts := make([]string, 0, len(keys))
		for _, k := range keys {
			parts = append(parts, fmt.Sprintf("%s %.2f", k, r.RequestsPerFrontend[k]))
		}
		fmt.Fprintf(&md, "- N=%d: %s\n", r.N, strings.Join(parts, ", "))
	}
	md.WriteString("\n## CPU time by process\n\nCPU seconds (user + system, from /proc) each process used while each side " +
		"converged: the machine has 2 cores, so the sum over a side divided by its time says how busy they were.\n\n" +
		"| N | process | raw side | operator side |\n|---|---|---|---|\n")
	for _, r := range rep.Results {
		names := slices.Sorted(maps.Keys(r.CPUOperator))
		for name := range r.CPURaw {
			if !slices.Contains(names, name) {
				names = append(names, name)
			}
		}
		var rawSum, opSum float64
		for _, name := range names {
			rawSum, opSum = rawSum+r.CPURaw[name], opSum+r.CPUOperator[name]
			fmt.Fprintf(&md, "| %d | %s | %.1f s | %.1f s |\n", r.N, name, r.CPURaw[name], r.CPUOperator[name])
		}
		fmt.Fprintf(&md, "| %d | **all** (per second of convergence) | %.1f s (%.2f) | %.1f s (%.2f) |\n", r.N, rawSum,
			rawSum/r.RawSeconds, opSum, opSum/r.OperatorSeconds)
	}
	md.WriteString("\n## Steady state\n\n| N | writes after a restart (full resync) | writes after a no-op change on every frontend |\n|---|---|---|\n")
	for _, r := range rep.Results {
		fmt.Fprintf(&md, "| %d | %.0f | %.0f |\n", r.N, r.RestartWrites, r.NoopWrites)
	}
	md.WriteString("\n## Memory\n\nThe manager runs with the Deployment's memory limit (MEMORY_LIMIT, from " +
		"config/manager/manager.yaml: its Go heap is kept under 90 % of it, cmd/memlimit.go). " +
		"RSS is anonymous memory (what the Go runtime holds) plus file-backed pages (the binary's). *Live heap* is the heap right after a " +
		"collection (the heap profile's total); *heap in use* is what the runtime holds at the scrape, garbage included.\n\n" +
		"| N | RSS (anonymous + file) | live heap | live heap / N | heap in use | heap in use / N | RSS with unrelated objects | heap with unrelated objects |\n|---|---|---|---|---|---|---|---|\n")
	for _, r := range rep.Results {
		fmt.Fprintf(&md, "| %d | %s (%s + %s) | %s | %.1f KiB | %s | %.1f KiB | %s | %s (%d Secrets + %d ConfigMaps of 1 KiB) |\n", r.N,
			mib(r.RSSBytes), mib(r.RSSAnonBytes), mib(r.RSSFileBytes),
			mib(r.LiveHeapBytes), r.LiveHeapBytes/float64(r.N)/1024, mib(r.HeapBytes),
			r.BytesPerFrontend/1024, mib(r.RSSUnrelatedBytes), mib(r.HeapUnrelatedBytes), r.Unrelated, r.Unrelated)
	}
	if last := rep.Results[len(rep.Results)-1]; last.HeapProfile != "" {
		fmt.Fprintf(&md, "\nWhere the heap goes with %d frontends Ready (`go tool pprof -top -sample_index=inuse_space` of the "+
			"manager's /debug/pprof/heap after a GC):\n\n```\n%s```\n", last.N, last.HeapProfile)
	}
	md.WriteString("\n## Latency and startup\n\n| N | image change to StatefulSet updated, p50 | p99 | changes timed | process start to first reconcile |\n|---|---|---|---|---|\n")
	for _, r := range rep.Results {
		fmt.Fprintf(&md, "| %d | %.0f ms | %.0f ms | %d | %.0f ms |\n", r.N, r.UpdateP50Millis, r.UpdateP99Millis, r.Updates, r.StartupMillis)
	}
	return os.WriteFile(out+".md", []byte(md.String()), 0o644)
}

// convergenceChart draws the time until every frontend is Ready against N, for the
// operator and the raw limit, as an SVG line chart.
func convergenceChart(results []Result) []byte {
	const w, h, left, right, top, bottom = 640.0, 360.0, 60.0, 20.0, 20.0, 50.0
	maxN, maxT := 1.0, 1.0
	for _, r := range results {
		maxN = max(maxN, float64(r.N))
		maxT = max(maxT, r.OperatorSeconds, r.RawSeconds)
	}
	x := func(n float64) float64 { return left + n/maxN*(w-left-right) }
	y := func(t float64) float64 { return h - bottom - t/maxT*(h-top-bottom) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" font-family="sans-serif" font-size="12">`+"\n", w, h)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/><line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="black"/>`+
		`<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="black"/>`+"\n", left, h-bottom, w-right, h-bottom, left, top, left, h-bottom)
	for i := 0; i <= 4; i++ {
		t := maxT * float64(i) / 4
		fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" text-anchor="end">%.0f s</text>`+"\n", left-6, y(t)+4, t)
	}
	for _, r := range results {
		fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" text-anchor="middle">%d</text>`+"\n", x(float64(r.N)), h-bottom+16, r.N)
	}
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" text-anchor="middle">frontends (N)</text>`+"\n", (left+w-right)/2, h-8)
	for _, s := range []struct {
		name, color string
		t           func(Result) float64
	}{{"operator", "#d62728", func(r Result) float64 { return r.OperatorSeconds }}, {"raw limit", "#1f77b4", func(r Result) float64 { return r.RawSeconds }}} {
		pts := make([]string, 0, 1+len(results))
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(0), y(0)))
		for _, r := range results {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(float64(r.N)), y(s.t(r))))
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", s.color, strings.Join(pts, " "))
	}
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" fill="#d62728">operator</text><text x="%.0f" y="%.0f" fill="#1f77b4">raw limit</text>`+"\n",
		left+10, top+12, left+10, top+28)
	b.WriteString("</svg>\n")
	return []byte(b.String())
}

// mib formats bytes in MiB.
func mib(v float64) string { return fmt.Sprintf("%.1f MiB", v/(1<<20)) }
