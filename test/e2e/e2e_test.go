//go:build e2e

// Package e2e runs the real manager binary against the local cluster (real etcd,
// kube-apiserver, kube-controller-manager and scheduler, kwok nodes, a hostPath
// provisioner): what envtest cannot show, such as pods becoming Running on nodes and the
// garbage collector removing children.
package e2e

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/discovery"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opennebulav1alpha1 "github.com/opennebula-operator/opennebula-operator/api/v1alpha1"
)

// clusterName is the local cluster the e2e tests create (and remove at the end unless
// E2E_KEEP_CLUSTER is set); E2E_CLUSTER chooses another, to run two suites side by side.
var clusterName = cmp.Or(os.Getenv("E2E_CLUSTER"), "opennebula-operator-e2e")

var (
	rootDir    string
	kubeconfig string
	kubectlBin string
	k8sClient  client.Client
	managerLog string
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	var err error
	rootDir, err = filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		return fail(err)
	}
	if out, err := sh("hack/local-cluster.sh", "up", clusterName); err != nil {
		return fail(fmt.Errorf("starting the local cluster: %v\n%s", err, out))
	}
	if os.Getenv("E2E_KEEP_CLUSTER") == "" {
		defer func() { _, _ = sh("hack/local-cluster.sh", "down", clusterName) }()
	}
	out, err := sh("hack/local-cluster.sh", "kubeconfig", clusterName)
	if err != nil {
		return fail(err)
	}
	kubeconfig = strings.TrimSpace(out)
	out, err = sh("bash", "-c", "source hack/versions.sh && echo $K8S_BIN_DIR/kubectl $K8S_VERSION")
	if err != nil {
		return fail(err)
	}
	var wantVersion string
	if _, err := fmt.Sscan(out, &kubectlBin, &wantVersion); err != nil {
		return fail(fmt.Errorf("hack/versions.sh: %q: %w", out, err))
	}

	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(opennebulav1alpha1.AddToScheme(scheme))
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return fail(err)
	}
	if k8sClient, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
		return fail(err)
	}
	// CI runs this suite on the oldest and the newest supported Kubernetes (K8S_VERSION):
	// a cluster left over from another version must not pass for the one asked for.
	if err := checkServerVersion(cfg, wantVersion); err != nil {
		return fail(err)
	}

	if out, err := kubectl("apply", "--server-side", "-f", filepath.Join(rootDir, "config", "crd", "bases")); err != nil {
		return fail(fmt.Errorf("installing the CRD: %v\n%s", err, out))
	}
	// kubectl wait fails instead of waiting while a brand-new CRD has no conditions yet.
	var waitErr error
	for range 120 {
		var out string
		if out, waitErr = kubectl("wait", "--for=condition=Established", "crd/opennebulafrontends.opennebula.io", "--timeout=1m"); waitErr == nil {
			break
		} else {
			waitErr = fmt.Errorf("%v\n%s", waitErr, out)
		}
		time.Sleep(500 * time.Millisecond)
	}
	if waitErr != nil {
		return fail(waitErr)
	}
	// Established is not yet served: the API server's discovery can lag behind it, and
	// a client (the tests' or a manager's) that looks the kind up then finds no match.
	for range 120 {
		if waitErr = k8sClient.List(context.Background(), &opennebulav1alpha1.OpenNebulaFrontendList{}); waitErr == nil {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if waitErr != nil {
		return fail(fmt.Errorf("the OpenNebulaFrontend kind is not served: %w", waitErr))
	}

	// The real manager binary, built by `make test-e2e` (make build). It serves the tests
	// of this file only; the install tests run their own, with each install's permissions.
	managerLog = filepath.Join(os.TempDir(), clusterName+"-manager.log")
	stop, err := launchManager(kubeconfig, []string{"WATCH_NAMESPACE=e2e-sample,e2e-recreate,e2e-production,e2e-grow,e2e-ha"}, managerLog)
	if err != nil {
		return fail(err)
	}
	defer stop()

	code := m.Run()
	if code != 0 {
		if b, err := os.ReadFile(managerLog); err == nil {
			fmt.Fprintf(os.Stderr, "---- manager log (last 4KiB) ----\n%s\n", tail(b, 4096))
		}
	}
	return code
}

// launchManager starts bin/manager against kcfg with env added, logging to logPath; the
// returned function stops it (SIGINT, then SIGKILL after 10s).
func launchManager(kcfg string, env []string, logPath string, args ...string) (func(), error) {
	m, err := startManagerProcess(kcfg, env, logPath, args...)
	if err != nil {
		return nil, err
	}
	return m.stop, nil
}

// managerProcess is a running bin/manager.
type managerProcess struct {
	cmd    *exec.Cmd
	log    string
	exited chan struct{}
	stop   func()
}

// alive reports whether the process has not exited.
func (m *managerProcess) alive() bool {
	select {
	case <-m.exited:
		return false
	default:
		return true
	}
}

func startManagerProcess(kcfg string, env []string, logPath string, args ...string) (*managerProcess, error) {
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(filepath.Join(rootDir, "bin", "manager"),
		append([]string{"--metrics-bind-address=0", "--health-probe-bind-address=127.0.0.1:0"}, args...)...)
	cmd.Env = append(append(os.Environ(), "KUBECONFIG="+kcfg), env...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("starting bin/manager (run `make build`): %w", err)
	}
	m := &managerProcess{cmd: cmd, log: logPath, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(m.exited) }()
	m.stop = func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-m.exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-m.exited
		}
		_ = f.Close()
	}
	return m, nil
}

func fail(err error) int {
	fmt.Fprintln(os.Stderr, "e2e setup:", err)
	return 1
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

func sh(name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = rootDir
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	err := cmd.Run()
	return buf.String(), err
}

func kubectl(args ...string) (string, error) {
	return sh(kubectlBin, append([]string{"--kubeconfig", kubeconfig}, args...)...)
}

// checkServerVersion fails unless the API server is the Kubernetes version hack/versions.sh
// resolved (K8S_VERSION), and says which one the suite runs on.
func checkServerVersion(cfg *rest.Config, want string) error {
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return err
	}
	v, err := dc.ServerVersion()
	if err != nil {
		return err
	}
	if v.GitVersion != want {
		return fmt.Errorf("the local cluster runs Kubernetes %s, K8S_VERSION asks for %s: remove it (hack/local-cluster.sh down %s)", v.GitVersion, want, clusterName)
	}
	fmt.Fprintf(os.Stderr, "e2e: Kubernetes %s\n", v.GitVersion)
	return nil
}

func createNamespace(t *testing.T, name string) {
	t.Helper()
	err := k8sClient.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

// The sample applied with plain kubectl reaches Ready with its pod Running on a kwok
// node, its volume bound, and every port of the table on both Services.
func TestSampleReachesReadyAndIsGarbageCollected(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := "e2e-sample"
	createNamespace(t, ns)
	sample := filepath.Join(rootDir, "config", "samples", "opennebula_v1alpha1_opennebulafrontend.yaml")
	out, err := kubectl("apply", "-n", ns, "-f", sample)
	g.Expect(err).NotTo(HaveOccurred(), out)

	fe := &opennebulav1alpha1.OpenNebulaFrontend{}
	g.Eventually(func(g Gomega) {
		g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "opennebula"}, fe)).To(Succeed())
		g.Expect(fe.Status.ObservedGeneration).To(Equal(fe.Generation))
		g.Expect(meta.IsStatusConditionTrue(fe.Status.Conditions, opennebulav1alpha1.ConditionReady)).To(BeTrue(), "%+v", fe.Status.Conditions)
	}, 3*time.Minute, time.Second).Should(Succeed())
	g.Expect(fe.Status.ReadyReplicas).To(Equal(int32(1)))

	pod := &corev1.Pod{}
	g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "opennebula-0"}, pod)).To(Succeed())
	g.Expect(pod.Status.Phase).To(Equal(corev1.PodRunning))
	g.Expect(pod.Spec.NodeName).NotTo(BeEmpty())
	pvc := &corev1.PersistentVolumeClaim{}
	g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "data-opennebula-0"}, pvc)).To(Succeed())
	g.Expect(pvc.Status.Phase).To(Equal(corev1.ClaimBound))

	out, err = kubectl("get", "-n", ns, "service", "opennebula", "opennebula-headless", "-o",
		`jsonpath={range .items[*]}{.metadata.name}:{range .spec.ports[*]} {.name}={.port}/{.protocol}{end}{"\n"}{end}`)
	g.Expect(err).NotTo(HaveOccurred(), out)
	g.Expect(out).To(ContainSubstring("opennebula: oned=2633/TCP fireedge=2616/TCP oneflow=2474/TCP onegate=5030/TCP monitord-tcp=4124/TCP monitord-udp=4124/UDP ssh=22/TCP"))
	g.Expect(out).To(ContainSubstring("opennebula-headless: oned=2633/TCP monitord-tcp=4124/TCP monitord-udp=4124/UDP ssh=22/TCP"))

	// Deleting the frontend lets the garbage collector remove its children; the data
	// volume stays (the operator never deletes user data unless asked).
	out, err = kubectl("delete", "-n", ns, "-f", sample, "--wait=true", "--timeout=1m")
	g.Expect(err).NotTo(HaveOccurred(), out)
	g.Eventually(func(g Gomega) {
		for name, obj := range map[string]client.Object{
			"opennebula": &appsv1.StatefulSet{}, "opennebula-mariadb": &appsv1.StatefulSet{},
			"opennebula-0": &corev1.Pod{}, "opennebula-mariadb-0": &corev1.Pod{},
			"opennebula-headless": &corev1.Service{}, "opennebula-config": &corev1.ConfigMap{},
		} {
			err := k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, obj)
			g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "%T %s still exists", obj, name)
		}
	}, 3*time.Minute, time.Second).Should(Succeed())
	for _, name := range []string{"data-opennebula-0", "data-opennebula-mariadb-0"} {
		g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, pvc)).To(Succeed(),
			"the data volume %s must survive the frontend's deletion", name)
	}
	for _, name := range []string{"opennebula-oneadmin", "opennebula-mariadb", "opennebula-ssh"} {
		g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &corev1.Secret{})).To(Succeed(),
			"the generated Secret %s must survive the frontend's deletion (secretRetentionPolicy Retain)", name)
	}
}

// The production sample (external database, LoadBalancer with monitorAddress auto,
// Ingress with TLS, provided SSH keys) reaches Ready once its Secrets exist.
func TestProductionSampleReachesReady(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := "e2e-production"
	createNamespace(t, ns)
	out, err := sampleSecrets(ns)
	g.Expect(err).NotTo(HaveOccurred(), out)
	sample := filepath.Join(rootDir, "config", "samples", "opennebula_v1alpha1_opennebulafrontend_production.yaml")
	out, err = kubectl("apply", "-n", ns, "-f", sample)
	g.Expect(err).NotTo(HaveOccurred(), out)
	fe := &opennebulav1alpha1.OpenNebulaFrontend{}
	g.Eventually(func(g Gomega) {
		g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "opennebula-production"}, fe)).To(Succeed())
		g.Expect(meta.IsStatusConditionTrue(fe.Status.Conditions, opennebulav1alpha1.ConditionReady)).To(BeTrue(), "%+v", fe.Status.Conditions)
		g.Expect(meta.IsStatusConditionFalse(fe.Status.Conditions, opennebulav1alpha1.ConditionDegraded)).To(BeTrue(), "%+v", fe.Status.Conditions)
	}, 3*time.Minute, time.Second).Should(Succeed())
	g.Expect(fe.Status.Endpoints.FireEdge).To(Equal("https://opennebula.example.org/fireedge/sunstone"))
	g.Expect(fe.Status.SSHKeySecret).To(Equal("opennebula-ssh-keys"))
	// The local cluster has no load balancer: the address to advertise is still pending.
	g.Expect(fe.Status.MonitorAddress).To(BeEmpty())
	g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "opennebula-production-mariadb"}, &appsv1.StatefulSet{})).NotTo(Succeed(),
		"an external database means no managed MariaDB")
}

// sampleSecrets creates the Secrets the production sample references.
func sampleSecrets(ns string) (string, error) {
	cmd := exec.Command(filepath.Join(rootDir, "hack", "sample-secrets.sh"), ns)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig, "KUBECTL="+kubectlBin)
	b, err := cmd.CombinedOutput()
	return string(b), err
}

// A child deleted on the real cluster is put back, and the pod comes back Running.
func TestDeletedStatefulSetComesBack(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := "e2e-recreate"
	createNamespace(t, ns)
	fe := &opennebulav1alpha1.OpenNebulaFrontend{ObjectMeta: metav1.ObjectMeta{Name: "fe", Namespace: ns}}
	g.Expect(k8sClient.Create(ctx, fe)).To(Succeed())
	ready := func(g Gomega) {
		g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(fe), fe)).To(Succeed())
		g.Expect(meta.IsStatusConditionTrue(fe.Status.Conditions, opennebulav1alpha1.ConditionReady)).To(BeTrue())
	}
	g.Eventually(ready, 3*time.Minute, time.Second).Should(Succeed())

	sts := &appsv1.StatefulSet{}
	g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "fe"}, sts)).To(Succeed())
	oldUID := sts.UID
	out, err := kubectl("delete", "-n", ns, "statefulset", "fe", "--wait=true")
	g.Expect(err).NotTo(HaveOccurred(), out)
	g.Eventually(func(g Gomega) {
		g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "fe"}, sts)).To(Succeed())
		g.Expect(sts.UID).NotTo(Equal(oldUID))
		g.Expect(sts.Status.ReadyReplicas).To(Equal(int32(1)))
	}, 3*time.Minute, time.Second).Should(Succeed())
	g.Eventually(ready, 3*time.Minute, time.Second).Should(Succeed())
}
