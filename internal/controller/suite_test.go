package controller

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/discovery"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	opennebulav1alpha1 "github.com/opennebula-operator/opennebula-operator/api/v1alpha1"
	"github.com/opennebula-operator/opennebula-operator/internal/builder"
	"github.com/opennebula-operator/opennebula-operator/internal/testenv"
)

// The integration tests run the reconciler in a real manager against a real API server
// (envtest: etcd + kube-apiserver, no controller-manager, so StatefulSets get no pods and
// the tests play the StatefulSet controller by writing its status).
var (
	// routes points the frontends of a test's namespace at a local oned (or double) and
	// SSH listener instead of their Service's DNS name; other namespaces are not checked.
	routes     = &serviceRoutes{}
	testScheme = runtime.NewScheme()
	k8sClient  client.Client
	// testConfig reaches the suite's API server as an admin.
	testConfig *rest.Config
	writes     = &writeCounter{}
)

// writeCounter counts the write requests the manager sends to the API server, by
// method and path, so that tests can prove a reconcile that finds nothing to do writes
// nothing; and its reads (GETs and lists, watches left out), for the HA benchmark.
type writeCounter struct {
	mu    sync.Mutex
	calls []string
	reads []string
}

func (w *writeCounter) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(req *http.Request) (*http.Response, error) {
		switch {
		case req.Method != http.MethodGet && req.Method != http.MethodHead && req.Method != http.MethodOptions:
			w.mu.Lock()
			w.calls = append(w.calls, req.Method+" "+req.URL.Path)
			w.mu.Unlock()
		case req.Method == http.MethodGet && req.URL.Query().Get("watch") != "true":
			w.mu.Lock()
			w.reads = append(w.reads, req.URL.Path)
			w.mu.Unlock()
		}
		return rt.RoundTrip(req)
	})
}

// readSnapshot are the paths the manager has read so far.
func (w *writeCounter) readSnapshot() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.reads)
}

func (w *writeCounter) snapshot() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.calls...)
}

// serviceRoutes maps a namespace to the address of each port of its frontends' Service.
type serviceRoutes struct{ byNamespace sync.Map }

func (r *serviceRoutes) route(ns string, ports map[int32]string) { r.byNamespace.Store(ns, ports) }

func (r *serviceRoutes) address(fe *opennebulav1alpha1.OpenNebulaFrontend, port int32) string {
	ports, ok := r.byNamespace.Load(fe.Namespace)
	if !ok {
		return ""
	}
	return ports.(map[int32]string)[port]
}

// podEndpoints maps a frontend pod (namespace/name) to the double answering for it.
type podEndpoints struct{ byPod sync.Map }

var podRoutes podEndpoints

func (p *podEndpoints) route(ns, pod, endpoint string) { p.byPod.Store(ns+"/"+pod, endpoint) }

func (p *podEndpoints) endpoint(fe *opennebulav1alpha1.OpenNebulaFrontend, pod string) string {
	e, ok := p.byPod.Load(fe.Namespace + "/" + pod)
	if !ok {
		return "http://127.0.0.1:1/RPC2" // nothing listens: the server does not answer
	}
	return e.(string)
}

// reconcilerTimings are the frontend reconciler's timings in the suite.
type reconcilerTimings struct {
	// recheck is ProblemRecheck and OnedRecheck; zero values are the operator's defaults.
	recheck, raftPoll, raftLagGrace time.Duration
	workers                         int
}

// suiteTimings are short, so that tests see polls and rechecks within seconds. The HA
// benchmark (habench_test.go, build tag habench) runs with the operator's own.
var suiteTimings = reconcilerTimings{recheck: 300 * time.Millisecond, raftPoll: 300 * time.Millisecond,
	raftLagGrace: time.Second, workers: 2}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestMain(m *testing.M) {
	os.Exit(runSuite(m))
}

func runSuite(m *testing.M) int {
	ctrl.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.UseDevMode(true)))
	utilruntime.Must(clientgoscheme.AddToScheme(testScheme))
	utilruntime.Must(opennebulav1alpha1.AddToScheme(testScheme))

	env, err := testenv.Start(os.Getenv("KUBEBUILDER_ASSETS"))
	defer func() { _ = env.Stop() }()
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting envtest:", err)
		return 1
	}
	cfg := env.Config
	testConfig = cfg

	k8sClient, err = client.New(cfg, client.Options{Scheme: testScheme})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// CI runs this suite on the oldest and the newest supported Kubernetes (hack/versions.sh).
	if dc, err := discovery.NewDiscoveryClientForConfig(cfg); err == nil {
		if v, err := dc.ServerVersion(); err == nil {
			fmt.Fprintf(os.Stderr, "envtest: Kubernetes %s\n", v.GitVersion)
		}
	}

	mgrCfg := rest.CopyConfig(cfg)
	mgrCfg.Wrap(writes.wrap)
	mgr, err := ctrl.NewManager(mgrCfg, ctrl.Options{
		Scheme:                 testScheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Cache:                  CacheOptions(nil),
		Controller:             config.Controller{SkipNameValidation: ptrTrue()},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	recorder, stopEvents, err := NewEventRecorder(mgrCfg, testScheme)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer stopEvents()
	if err := (&OpenNebulaFrontendReconciler{
		Client:         mgr.GetClient(),
		APIReader:      mgr.GetAPIReader(),
		Scheme:         mgr.GetScheme(),
		ProblemRecheck: suiteTimings.recheck,
		ServiceAddress: routes.address,
		PodEndpoint:    podRoutes.endpoint,
		RaftPoll:       suiteTimings.raftPoll,
		RaftLagGrace:   suiteTimings.raftLagGrace,
		OnedRecheck:    suiteTimings.recheck,
		Recorder:       recorder,
		Options:        builder.Options{DefaultImage: "registry.test/opennebula:7.2.0"},
	}).SetupWithManager(mgr, suiteTimings.workers); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := (&FleetReconciler{
		Client:         mgr.GetClient(),
		APIReader:      mgr.GetAPIReader(),
		Recorder:       recorder,
		ServiceAddress: routes.address,
		Poll:           fleetPoll,
		Timeout:        2 * time.Second,
	}).SetupWithManager(mgr); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	code := m.Run()
	cancel()
	if err := <-done; err != nil {
		fmt.Fprintln(os.Stderr, "manager:", err)
		return 1
	}
	return code
}

// fleetPoll is the host pools' read interval in the suite.
const fleetPoll = 500 * time.Millisecond

func ptrTrue() *bool { b := true; return &b }
