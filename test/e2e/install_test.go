//go:build e2e

package e2e

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"github.com/operator-framework/api/pkg/manifests"
	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opennebulav1alpha1 "github.com/opennebula-operator/opennebula-operator/api/v1alpha1"
	"github.com/opennebula-operator/opennebula-operator/test/admission"
)

// kubeconfigFor writes a kubeconfig that authenticates as the ServiceAccount, so the
// manager runs with exactly the permissions an install grants it.
func kubeconfigFor(t *testing.T, ns, sa string) string {
	t.Helper()
	token := saToken(t, ns, sa)
	raw, err := clientcmd.LoadFromFile(kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	ctx := raw.Contexts[raw.CurrentContext]
	for name, ai := range raw.AuthInfos {
		if name == ctx.AuthInfo {
			ai.ClientCertificate, ai.ClientKey, ai.ClientCertificateData, ai.ClientKeyData = "", "", nil, nil
			ai.Token = token
		}
	}
	path := filepath.Join(t.TempDir(), "sa.kubeconfig")
	if err := clientcmd.WriteToFile(*raw, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// startManager runs bin/manager with the given kubeconfig and environment until the test ends.
func startManager(t *testing.T, kcfg string, env []string, args ...string) (logPath string) {
	t.Helper()
	logPath = filepath.Join(t.TempDir(), "manager.log")
	stop, err := launchManager(kcfg, env, logPath, args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("manager log:\n%s", tail(b, 4096))
		}
	})
	return logPath
}

// assertNoForbidden fails when the manager was refused anything by RBAC.
func assertNoForbidden(t *testing.T, logPath string) {
	t.Helper()
	b, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if strings.Contains(strings.ToLower(line), "forbidden") {
			t.Errorf("the manager was refused a request: %s", line)
		}
	}
}

func frontendIn(ns, name string) *opennebulav1alpha1.OpenNebulaFrontend {
	return &opennebulav1alpha1.OpenNebulaFrontend{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
}

func waitReady(g Gomega, fe *opennebulav1alpha1.OpenNebulaFrontend) {
	g.Eventually(func(g Gomega) {
		g.Expect(k8sClient.Get(context.Background(), client.ObjectKeyFromObject(fe), fe)).To(Succeed())
		g.Expect(meta.IsStatusConditionTrue(fe.Status.Conditions, opennebulav1alpha1.ConditionReady)).To(BeTrue(), "%+v", fe.Status)
	}, 3*time.Minute, time.Second).Should(Succeed())
}

func resourceVersions(g Gomega, file string) string {
	out, err := kubectl("get", "-f", file, "-o", `jsonpath={range .items[*]}{.kind}/{.metadata.name}={.metadata.resourceVersion}{"\n"}{end}`)
	g.Expect(err).NotTo(HaveOccurred(), out)
	return out
}

// dist/install.yaml applies with server-side apply, a second apply changes nothing, the
// manager Deployment becomes Available, and the manager running as the install's
// ServiceAccount (exactly its RBAC) brings a frontend to Ready.
func TestInstallYAML(t *testing.T) {
	g := NewWithT(t)
	install := filepath.Join(rootDir, "dist", "install.yaml")
	out, err := kubectl("apply", "--server-side", "-f", install)
	g.Expect(err).NotTo(HaveOccurred(), out)
	before := resourceVersions(g, install)
	out, err = kubectl("apply", "--server-side", "-f", install)
	g.Expect(err).NotTo(HaveOccurred(), out)
	g.Expect(resourceVersions(g, install)).To(Equal(before), "the second apply of dist/install.yaml changed objects")
	out, err = kubectl("wait", "-n", "opennebula-operator-system", "--for=condition=Available",
		"deployment/opennebula-operator-controller-manager", "--timeout=2m")
	g.Expect(err).NotTo(HaveOccurred(), out)

	// What the installed CRD admits and refuses, on whichever Kubernetes the cluster runs
	// (CI: the oldest and the newest supported): every sample (two frontends, a cluster, a
	// host) is admitted, and every case of the bad-input table is refused with the message
	// the envtest suite asserts.
	createNamespace(t, "e2e-admission")
	out, err = kubectl("apply", "--dry-run=server", "-n", "e2e-admission", "-k", filepath.Join(rootDir, "config", "samples"))
	g.Expect(err).NotTo(HaveOccurred(), out)
	g.Expect(strings.Count(out, "(server dry run)")).To(Equal(4), out)
	for _, err := range admission.Check(context.Background(), k8sClient, "e2e-admission") {
		t.Error(err)
	}

	metricsPort := freePort(g)
	log := startManager(t, kubeconfigFor(t, "opennebula-operator-system", "opennebula-operator-controller-manager"), nil,
		"--leader-elect", "--leader-election-namespace=opennebula-operator-system",
		fmt.Sprintf("--metrics-bind-address=127.0.0.1:%d", metricsPort))
	createNamespace(t, "e2e-install")
	fe := frontendIn("e2e-install", "fe")
	// A field the CRD cannot fully check: the manager validates the children with server-side
	// dry runs (a pod among them) before writing, with exactly the install's permissions.
	fe.Spec.Pod.Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}
	g.Expect(k8sClient.Create(context.Background(), fe)).To(Succeed())
	waitReady(g, fe)

	// Metrics: HTTPS, and only for callers the API server authenticates and authorises
	// (the install's metrics-reader ClusterRole), with the install's own permissions.
	g.Expect(metricsStatus(g, metricsPort, "")).To(Equal(http.StatusUnauthorized))
	g.Expect(metricsStatus(g, metricsPort, saToken(t, "opennebula-operator-system", "opennebula-operator-controller-manager"))).
		To(Equal(http.StatusForbidden), "a ServiceAccount without metrics-reader is refused")
	createNamespace(t, "e2e-metrics")
	g.Expect(k8sClient.Create(context.Background(), &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "scraper", Namespace: "e2e-metrics"}})).To(Succeed())
	g.Expect(k8sClient.Create(context.Background(), &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "e2e-metrics-scraper"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "opennebula-operator-metrics-reader"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "scraper", Namespace: "e2e-metrics"}},
	})).To(Succeed())
	g.Eventually(func() int { return metricsStatus(g, metricsPort, saToken(t, "e2e-metrics", "scraper")) },
		time.Minute, time.Second).Should(Equal(http.StatusOK))
	assertNoForbidden(t, log)
}

// saToken is a short-lived token of the ServiceAccount.
func saToken(t *testing.T, ns, sa string) string {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := kubernetes.NewForConfigOrDie(cfg).CoreV1().ServiceAccounts(ns).CreateToken(context.Background(), sa,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)}},
		metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("token for %s/%s: %v", ns, sa, err)
	}
	return tok.Status.Token
}

// metricsStatus GETs the manager's /metrics over HTTPS (its certificate is self-signed)
// with the bearer token, and returns the HTTP status (0 until the server listens).
func metricsStatus(g Gomega, port int, token string) int {
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // a self-signed test server
	req, err := http.NewRequest(http.MethodGet, fmt.Sprintf("https://127.0.0.1:%d/metrics", port), nil)
	g.Expect(err).NotTo(HaveOccurred())
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	var resp *http.Response
	g.Eventually(func() error { resp, err = c.Do(req); return err }, time.Minute, 500*time.Millisecond).Should(Succeed())
	defer func() { _ = resp.Body.Close() }()
	return resp.StatusCode
}

// The namespaced overlay (config/namespaced) grants the manager's rules in one namespace
// only, and WATCH_NAMESPACE keeps it there: a frontend in that namespace becomes Ready, one
// elsewhere is left alone.
func TestNamespacedInstall(t *testing.T) {
	g := NewWithT(t)
	out, err := kubectl("kustomize", filepath.Join(rootDir, "config", "namespaced"))
	g.Expect(err).NotTo(HaveOccurred(), out)
	manifest := filepath.Join(t.TempDir(), "namespaced.yaml")
	// The overlay's namespace is "opennebula"; the test uses its own.
	g.Expect(os.WriteFile(manifest, []byte(strings.ReplaceAll(out, "namespace: opennebula\n", "namespace: e2e-watched\n")+
		""), 0o644)).To(Succeed())
	createNamespace(t, "e2e-watched")
	createNamespace(t, "e2e-unwatched")
	out, err = kubectl("apply", "--server-side", "--force-conflicts", "-f", manifest)
	g.Expect(err).NotTo(HaveOccurred(), out)
	// The namespaced install has no cluster-wide binding of the manager's rules.
	out, err = kubectl("get", "clusterrolebinding", "opennebula-operator-manager-rolebinding", "--ignore-not-found", "-o", "name")
	g.Expect(err).NotTo(HaveOccurred(), out)
	if strings.TrimSpace(out) != "" {
		// dist/install.yaml (another test) created it; remove it so only the RoleBinding grants access.
		_, err = kubectl("delete", "clusterrolebinding", "opennebula-operator-manager-rolebinding")
		g.Expect(err).NotTo(HaveOccurred())
	}

	log := startManager(t, kubeconfigFor(t, "opennebula-operator-system", "opennebula-operator-controller-manager"),
		[]string{"WATCH_NAMESPACE=e2e-watched"}, "--leader-elect", "--leader-election-namespace=opennebula-operator-system")
	watched := frontendIn("e2e-watched", "fe")
	// A StorageClass by name: the namespaced install cannot read cluster-scoped kinds, so
	// the manager skips that check instead of failing the frontend.
	watched.Spec.Persistence.StorageClassName = new("local-hostpath")
	unwatched := frontendIn("e2e-unwatched", "fe")
	g.Expect(k8sClient.Create(context.Background(), watched)).To(Succeed())
	g.Expect(k8sClient.Create(context.Background(), unwatched)).To(Succeed())
	waitReady(g, watched)
	g.Consistently(func(g Gomega) {
		g.Expect(k8sClient.Get(context.Background(), client.ObjectKeyFromObject(unwatched), unwatched)).To(Succeed())
		g.Expect(unwatched.Status.Conditions).To(BeEmpty())
	}, 5*time.Second, time.Second).Should(Succeed())
	assertNoForbidden(t, log)
}

// The CSV's install strategy, installed the way OLM does it (ServiceAccount, Roles and
// ClusterRoles from permissions and clusterPermissions, bindings, WATCH_NAMESPACE from
// olm.targetNamespaces), is enough for the manager to bring every frontend alm-example to
// Ready and to handle the hosts and clusters.
func TestOLMInstallStrategy(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	bundle, err := manifests.GetBundleFromDir(filepath.Join(rootDir, "bundle"))
	g.Expect(err).NotTo(HaveOccurred())
	strategy := bundle.CSV.Spec.InstallStrategy.StrategySpec
	const opNS, targetNS = "e2e-olm-operators", "e2e-olm-target"
	createNamespace(t, opNS)
	createNamespace(t, targetNS)

	sa := strategy.DeploymentSpecs[0].Spec.Template.Spec.ServiceAccountName
	g.Expect(k8sClient.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa, Namespace: opNS}})).To(Succeed())
	subject := []rbacv1.Subject{{Kind: "ServiceAccount", Name: sa, Namespace: opNS}}
	for i, p := range strategy.ClusterPermissions {
		name := fmt.Sprintf("%s-cluster-%d", bundle.CSV.Name, i)
		g.Expect(k8sClient.Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: p.Rules})).To(Succeed())
		g.Expect(k8sClient.Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name},
			RoleRef: rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: name}, Subjects: subject})).To(Succeed())
	}
	for i, p := range strategy.Permissions {
		name := fmt.Sprintf("%s-%d", bundle.CSV.Name, i)
		g.Expect(k8sClient.Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: opNS}, Rules: p.Rules})).To(Succeed())
		g.Expect(k8sClient.Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: opNS},
			RoleRef: rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: name}, Subjects: subject})).To(Succeed())
	}

	// The CSV's container arguments and environment, with OLM's values filled in.
	c := strategy.DeploymentSpecs[0].Spec.Template.Spec.Containers[0]
	var env []string
	for _, e := range c.Env {
		switch {
		case e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && strings.Contains(e.ValueFrom.FieldRef.FieldPath, "olm.targetNamespaces"):
			env = append(env, e.Name+"="+targetNS) // a SingleNamespace OperatorGroup
		case e.ValueFrom == nil:
			env = append(env, e.Name+"="+e.Value)
		}
	}
	var args []string
	for _, a := range c.Args {
		if !strings.HasPrefix(a, "--metrics-bind-address") && !strings.HasPrefix(a, "--health-probe-bind-address") {
			args = append(args, a)
		}
	}
	args = append(args, "--leader-election-namespace="+opNS)
	log := startManager(t, kubeconfigFor(t, opNS, sa), env, args...)

	out, err := sampleSecrets(targetNS)
	g.Expect(err).NotTo(HaveOccurred(), out)
	var examples []map[string]any
	g.Expect(json.Unmarshal([]byte(bundle.CSV.Annotations["alm-examples"]), &examples)).To(Succeed())
	kinds := map[string]int{}
	for _, ex := range examples {
		u := &unstructured.Unstructured{Object: ex}
		u.SetNamespace(targetNS)
		g.Expect(k8sClient.Create(ctx, u)).To(Succeed())
		kinds[u.GetKind()]++
		if u.GetKind() == "OpenNebulaFrontend" {
			waitReady(g, frontendIn(targetNS, u.GetName()))
		}
	}
	// Every kind has an example; the hosts' and clusters' controller, running with the
	// CSV's permissions, reads and reports on them (kwok runs no oned to register them in).
	g.Expect(kinds).To(HaveKey("OpenNebulaHost"))
	g.Expect(kinds).To(HaveKey("OpenNebulaCluster"))
	g.Eventually(func(g Gomega) {
		h := &opennebulav1alpha1.OpenNebulaHost{}
		g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: targetNS, Name: "kvm-1"}, h)).To(Succeed())
		g.Expect(meta.FindStatusCondition(h.Status.Conditions, opennebulav1alpha1.ConditionDegraded)).NotTo(BeNil())
		g.Expect(h.Finalizers).To(ContainElement(opennebulav1alpha1.FinalizerOpenNebulaObject))
	}, time.Minute, time.Second).Should(Succeed())
	assertNoForbidden(t, log)
}

// Restarting the manager changes nothing: the StatefulSet keeps its generation and
// resourceVersion, and the pod is not restarted.
func TestManagerRestartChangesNothing(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	const ns = "e2e-restart"
	createNamespace(t, ns)
	logPath := filepath.Join(t.TempDir(), "manager.log")
	stop, err := launchManager(kubeconfig, []string{"WATCH_NAMESPACE=" + ns}, logPath)
	g.Expect(err).NotTo(HaveOccurred())
	fe := frontendIn(ns, "fe")
	g.Expect(k8sClient.Create(ctx, fe)).To(Succeed())
	waitReady(g, fe)

	sts := &appsv1.StatefulSet{}
	pod := &corev1.Pod{}
	g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "fe"}, sts)).To(Succeed())
	g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "fe-0"}, pod)).To(Succeed())
	gen, rv, podUID := sts.Generation, sts.ResourceVersion, pod.UID
	stop()

	logPath2 := filepath.Join(t.TempDir(), "manager-restarted.log")
	stop2, err := launchManager(kubeconfig, []string{"WATCH_NAMESPACE=" + ns}, logPath2)
	g.Expect(err).NotTo(HaveOccurred())
	defer stop2()
	// The restarted manager resyncs every frontend at start; give it time to do so.
	g.Eventually(func() (string, error) {
		b, err := os.ReadFile(logPath2)
		return string(b), err
	}, time.Minute, time.Second).Should(ContainSubstring("Starting workers"))
	g.Consistently(func(g Gomega) {
		g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "fe"}, sts)).To(Succeed())
		g.Expect(sts.Generation).To(Equal(gen))
		g.Expect(sts.ResourceVersion).To(Equal(rv), "the restarted manager wrote the StatefulSet")
		g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "fe-0"}, pod)).To(Succeed())
		g.Expect(pod.UID).To(Equal(podUID), "the pod was restarted")
	}, 5*time.Second, 500*time.Millisecond).Should(Succeed())
}
