/*
Copyright 2026.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package main

import (
	"crypto/tls"
	"flag"
	"os"
	"time"

	// Import all Kubernetes client auth plugins (e.g. Azure, GCP, OIDC, etc.)
	// to ensure that exec-entrypoint and run can make use of them.
	_ "k8s.io/client-go/plugin/pkg/client/auth"

	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	opennebulav1alpha1 "github.com/opennebula-operator/opennebula-operator/api/v1alpha1"
	"github.com/opennebula-operator/opennebula-operator/internal/builder"
	"github.com/opennebula-operator/opennebula-operator/internal/controller"
	operatormetrics "github.com/opennebula-operator/opennebula-operator/internal/metrics"
	"github.com/opennebula-operator/opennebula-operator/internal/metricsauth"
	// +kubebuilder:scaffold:imports
)

var (
	scheme   = runtime.NewScheme()
	setupLog = ctrl.Log.WithName("setup")
)

func init() {
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))

	utilruntime.Must(opennebulav1alpha1.AddToScheme(scheme))
	// +kubebuilder:scaffold:scheme
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "render" {
		os.Exit(runRender(os.Args[2:], os.Stdin, os.Stdout, os.Stderr))
	}
	runManager()
}

// nolint:gocyclo
func runManager() {
	var metricsAddr string
	var metricsCertPath, metricsCertName, metricsCertKey string
	var pprofAddr string
	var enableLeaderElection bool
	var probeAddr string
	var secureMetrics bool
	var enableHTTP2 bool
	var tlsOpts []func(*tls.Config)
	flag.StringVar(&metricsAddr, "metrics-bind-address", "0", "The address the metrics endpoint binds to. "+
		"Use :8443 for HTTPS or :8080 for HTTP, or leave as 0 to disable the metrics service.")
	flag.StringVar(&probeAddr, "health-probe-bind-address", ":8081", "The address the probe endpoint binds to.")
	flag.BoolVar(&enableLeaderElection, "leader-elect", false,
		"Enable leader election for controller manager. "+
			"Enabling this will ensure there is only one active controller manager.")
	flag.BoolVar(&secureMetrics, "metrics-secure", true,
		"If set, the metrics endpoint is served securely via HTTPS. Use --metrics-secure=false to use HTTP instead.")
	flag.StringVar(&pprofAddr, "pprof-bind-address", "",
		"The address of Go's pprof endpoints (/debug/pprof), for profiling; empty (the default) turns them off.")
	flag.StringVar(&metricsCertPath, "metrics-cert-path", "",
		"The directory that contains the metrics server certificate.")
	flag.StringVar(&metricsCertName, "metrics-cert-name", "tls.crt", "The name of the metrics server certificate file.")
	flag.StringVar(&metricsCertKey, "metrics-cert-key", "tls.key", "The name of the metrics server key file.")
	flag.BoolVar(&enableHTTP2, "enable-http2", false,
		"If set, HTTP/2 will be enabled for the metrics server")
	var clusterDomain, leaderElectionNamespace string
	var checkOned bool
	flag.BoolVar(&checkOned, "check-oned", os.Getenv("KUBERNETES_SERVICE_HOST") != "",
		"Call each ready frontend's oned (one.system.version as oneadmin) and dial its SSH port for the "+
			"OnedReachable and SSHReachable conditions (default: in a cluster, where Service names resolve).")
	var onedAddress string
	flag.StringVar(&onedAddress, "oned-address", "",
		"Call oned at this host:port for every frontend, instead of through its in-cluster Service: for a manager "+
			"run outside the cluster against `kubectl port-forward svc/<frontend> 2633`. Hosts, clusters and the "+
			"OnedReachable condition then work; Raft zones are not driven (that needs each pod: use --check-oned "+
			"with HTTP_PROXY set to a proxy into the cluster network instead).")
	flag.StringVar(&leaderElectionNamespace, "leader-election-namespace", "",
		"Namespace of the leader election lease; defaults to the pod's namespace (required outside a cluster).")
	var maxConcurrentReconciles int
	var hostPoll time.Duration
	var qps float64
	var burst int
	flag.Float64Var(&qps, "kube-api-qps", 50, "Requests per second the manager may send to the API server.")
	flag.IntVar(&burst, "kube-api-burst", 100, "Burst of requests the manager may send to the API server.")
	flag.StringVar(&clusterDomain, "cluster-domain", builder.DefaultClusterDomain,
		"The cluster's DNS domain, used in the frontends' stable DNS names.")
	flag.DurationVar(&hostPoll, "host-poll-interval", controller.DefaultHostPoll,
		"How often each frontend's host and cluster pools are read from oned (two calls per frontend), "+
			"so that OpenNebulaHost statuses follow oned's monitoring.")
	flag.IntVar(&maxConcurrentReconciles, "max-concurrent-reconciles", 4,
		"How many frontends are reconciled in parallel.")
	opts := zap.Options{}
	opts.BindFlags(flag.CommandLine)
	flag.Parse()

	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&opts)))
	if soft, err := setMemoryLimit(); err != nil {
		setupLog.Error(err, "ignoring the memory limit")
	} else if soft > 0 {
		setupLog.Info("Go heap kept under the container's memory limit", "softLimitBytes", soft)
	}

	// if the enable-http2 flag is false (the default), http/2 should be disabled
	// due to its vulnerabilities. More specifically, disabling http/2 will
	// prevent from being vulnerable to the HTTP/2 Stream Cancellation and
	// Rapid Reset CVEs. For more information see:
	// - https://github.com/advisories/GHSA-qppj-fm5r-hxr3
	// - https://github.com/advisories/GHSA-4374-p667-p6c8
	disableHTTP2 := func(c *tls.Config) {
		setupLog.Info("Disabling HTTP/2")
		c.NextProtos = []string{"http/1.1"}
	}

	if !enableHTTP2 {
		tlsOpts = append(tlsOpts, disableHTTP2)
	}

	// Metrics endpoint is enabled in 'config/default/kustomization.yaml'. The Metrics options configure the server.
	// More info:
	// - https://pkg.go.dev/sigs.k8s.io/controller-runtime@v0.25.0/pkg/metrics/server
	// - https://book.kubebuilder.io/reference/metrics.html
	metricsServerOptions := metricsserver.Options{
		BindAddress:   metricsAddr,
		SecureServing: secureMetrics,
		TLSOpts:       tlsOpts,
	}

	if secureMetrics {
		// Only callers the API server authenticates and authorises (TokenReview,
		// SubjectAccessReview; the RBAC is in config/rbac) read the metrics. metricsauth
		// does what controller-runtime's metrics/filters does without linking
		// k8s.io/apiserver, which would add 19 MB of pages to the manager's RSS.
		metricsServerOptions.FilterProvider = metricsauth.New
	}

	// If the certificate is not specified, controller-runtime will automatically
	// generate self-signed certificates for the metrics server. While convenient for development and testing,
	// this setup is not recommended for production.
	//
	// TODO(user): If you enable certManager, uncomment the following lines:
	// - [METRICS-WITH-CERTS] at config/default/kustomization.yaml to generate and use certificates
	// managed by cert-manager for the metrics server.
	// - [PROMETHEUS-WITH-CERTS] at config/prometheus/kustomization.yaml for TLS certification.
	if len(metricsCertPath) > 0 {
		setupLog.Info("Initializing metrics certificate watcher using provided certificates",
			"metrics-cert-path", metricsCertPath, "metrics-cert-name", metricsCertName, "metrics-cert-key", metricsCertKey)

		metricsServerOptions.CertDir = metricsCertPath
		metricsServerOptions.CertName = metricsCertName
		metricsServerOptions.KeyName = metricsCertKey
	}

	restConfig := ctrl.GetConfigOrDie()
	restConfig.QPS, restConfig.Burst = float32(qps), burst
	// Every request is counted by verb and resource (opennebula_operator_api_requests_total).
	restConfig.Wrap(operatormetrics.CountRequests)
	mgr, err := ctrl.NewManager(restConfig, ctrl.Options{
		Scheme:                  scheme,
		Metrics:                 metricsServerOptions,
		PprofBindAddress:        pprofAddr,
		HealthProbeBindAddress:  probeAddr,
		Cache:                   controller.CacheOptions(controller.WatchNamespaces(os.Getenv(controller.EnvWatchNamespace))),
		LeaderElection:          enableLeaderElection,
		LeaderElectionID:        "opennebula-operator.opennebula.io",
		LeaderElectionNamespace: leaderElectionNamespace,
		// Step down at once on shutdown so that a replacement does not wait out the lease:
		// safe because the process exits as soon as the manager stops.
		LeaderElectionReleaseOnCancel: true,
	})
	if err != nil {
		setupLog.Error(err, "Failed to start manager")
		os.Exit(1)
	}

	recorder, stopEvents, err := controller.NewEventRecorder(mgr.GetConfig(), mgr.GetScheme())
	if err != nil {
		setupLog.Error(err, "Failed to create the event recorder")
		os.Exit(1)
	}
	builderOpts := controller.BuilderOptionsFromEnv()
	builderOpts.ClusterDomain = clusterDomain
	var serviceAddress func(*opennebulav1alpha1.OpenNebulaFrontend, int32) string
	var podEndpoint func(*opennebulav1alpha1.OpenNebulaFrontend, string) string
	if checkOned {
		serviceAddress = controller.InClusterServiceAddress
		podEndpoint = controller.InClusterPodEndpoint
	}
	if onedAddress != "" {
		serviceAddress = controller.FixedOnedAddress(onedAddress)
	}
	if err := (&controller.OpenNebulaFrontendReconciler{
		Client:         mgr.GetClient(),
		ServiceAddress: serviceAddress,
		PodEndpoint:    podEndpoint,
		APIReader:      mgr.GetAPIReader(),
		Scheme:         mgr.GetScheme(),
		Recorder:       recorder,
		Options:        builderOpts,
	}).SetupWithManager(mgr, maxConcurrentReconciles); err != nil {
		setupLog.Error(err, "Failed to create controller", "controller", "opennebulafrontend")
		os.Exit(1)
	}
	if err := (&controller.FleetReconciler{
		Client:         mgr.GetClient(),
		APIReader:      mgr.GetAPIReader(),
		Recorder:       recorder,
		ServiceAddress: serviceAddress,
		Poll:           hostPoll,
	}).SetupWithManager(mgr); err != nil {
		setupLog.Error(err, "Failed to create controller", "controller", "opennebulafleet")
		os.Exit(1)
	}
	// +kubebuilder:scaffold:builder

	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		setupLog.Error(err, "Failed to set up health check")
		os.Exit(1)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		setupLog.Error(err, "Failed to set up ready check")
		os.Exit(1)
	}

	setupLog.Info("Starting manager")
	err = mgr.Start(ctrl.SetupSignalHandler())
	stopEvents() // flushes Events still queued
	if err != nil {
		setupLog.Error(err, "Failed to run manager")
		os.Exit(1)
	}
}
