//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opennebulav1alpha1 "github.com/opennebula-operator/opennebula-operator/api/v1alpha1"
	"github.com/opennebula-operator/opennebula-operator/internal/builder"
)

// childCounts counts what the operator keeps in ns, to show that nothing was duplicated
// or lost: StatefulSets, Services, ConfigMaps, claims and generated Secrets.
func childCounts(g Gomega, ns string) map[string]int {
	ctx := context.Background()
	in, ours := client.InNamespace(ns), client.MatchingLabels{builder.LabelManagedBy: builder.ValueManagedBy}
	sts, svcs, cms, pvcs, secrets := &appsv1.StatefulSetList{}, &corev1.ServiceList{}, &corev1.ConfigMapList{},
		&corev1.PersistentVolumeClaimList{}, &corev1.SecretList{}
	g.Expect(k8sClient.List(ctx, sts, in, ours)).To(Succeed())
	g.Expect(k8sClient.List(ctx, svcs, in, ours)).To(Succeed())
	g.Expect(k8sClient.List(ctx, cms, in, ours)).To(Succeed())
	g.Expect(k8sClient.List(ctx, pvcs, in)).To(Succeed())
	g.Expect(k8sClient.List(ctx, secrets, in, ours)).To(Succeed())
	return map[string]int{"StatefulSets": len(sts.Items), "Services": len(svcs.Items), "ConfigMaps": len(cms.Items),
		"PersistentVolumeClaims": len(pvcs.Items), "Secrets": len(secrets.Items)}
}

// perFrontend is what one default frontend (MariaDB) has.
func perFrontend(n int) map[string]int {
	return map[string]int{"StatefulSets": 2 * n, "Services": 3 * n, "ConfigMaps": n, "PersistentVolumeClaims": 2 * n, "Secrets": 3 * n}
}

func secretData(g Gomega, ns string) map[string]map[string][]byte {
	list := &corev1.SecretList{}
	g.Expect(k8sClient.List(context.Background(), list, client.InNamespace(ns),
		client.MatchingLabels{builder.LabelManagedBy: builder.ValueManagedBy})).To(Succeed())
	out := map[string]map[string][]byte{}
	for _, s := range list.Items {
		out[s.Name] = s.Data
	}
	return out
}

func allReady(g Gomega, ns string, names ...string) {
	for _, n := range names {
		fe := &opennebulav1alpha1.OpenNebulaFrontend{}
		g.Expect(k8sClient.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: n}, fe)).To(Succeed())
		g.Expect(meta.IsStatusConditionTrue(fe.Status.Conditions, opennebulav1alpha1.ConditionReady)).To(BeTrue(), "%s: %+v", n, fe.Status.Conditions)
	}
}

// The API server and etcd (the whole control plane) stop for 20 s while frontends are
// being created, and come back: the manager keeps running, converges, applies the
// changes made after the outage, and nothing is duplicated, lost or regenerated.
func TestControlPlaneOutage(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	const ns = "e2e-outage"
	m := managerIn(t, g, ns)
	names := []string{"fe-a", "fe-b", "fe-c"}
	for _, n := range names {
		g.Expect(k8sClient.Create(ctx, frontendIn(ns, n))).To(Succeed())
	}
	// The generated Secrets come first in a reconcile; stop the control plane as soon as
	// they exist, while the rest is being created.
	var before map[string]map[string][]byte
	g.Eventually(func(g Gomega) {
		before = secretData(g, ns)
		g.Expect(before).To(HaveLen(3 * len(names)))
	}, time.Minute, 50*time.Millisecond).Should(Succeed())

	stopped := time.Now()
	out, err := sh("hack/local-cluster.sh", "stop", clusterName)
	g.Expect(err).NotTo(HaveOccurred(), out)
	time.Sleep(20 * time.Second)
	g.Expect(m.alive()).To(BeTrue(), "the manager exited while the API server was down")
	out, err = sh("hack/local-cluster.sh", "start", clusterName)
	g.Expect(err).NotTo(HaveOccurred(), out)
	back := time.Now()

	// A change made right after the outage is applied too.
	for _, n := range names {
		g.Eventually(func(g Gomega) {
			fe := &opennebulav1alpha1.OpenNebulaFrontend{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: n}, fe)).To(Succeed())
			fe.Spec.Pod.Annotations = map[string]string{"e2e/after-outage": "1"}
			g.Expect(k8sClient.Update(ctx, fe)).To(Succeed())
		}, 2*time.Minute, time.Second).Should(Succeed())
	}
	g.Eventually(func(g Gomega) {
		allReady(g, ns, names...)
		for _, n := range names {
			sts := &appsv1.StatefulSet{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: n}, sts)).To(Succeed())
			g.Expect(sts.Spec.Template.Annotations).To(HaveKeyWithValue("e2e/after-outage", "1"))
		}
	}, 3*time.Minute, time.Second).Should(Succeed())
	converged := time.Since(back)
	g.Expect(m.alive()).To(BeTrue())
	g.Expect(childCounts(g, ns)).To(Equal(perFrontend(len(names))), "children duplicated or lost")
	g.Expect(secretData(g, ns)).To(Equal(before), "generated credentials changed")
	assertNoSecretLeak(t, g, ns, m.log)
	t.Logf("control plane down %s; all %d frontends Ready with the post-outage change %s after it returned",
		back.Sub(stopped).Round(time.Second), len(names), converged.Round(time.Second))
}

// managerIn creates ns and runs a manager that watches it until the test ends.
func managerIn(t *testing.T, g Gomega, ns string) *managerProcess {
	createNamespace(t, ns)
	m, err := startManagerProcess(kubeconfig, []string{"WATCH_NAMESPACE=" + ns}, filepath.Join(t.TempDir(), "manager.log"))
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(m.stop)
	return m
}

// freePort returns a loopback port nothing listens on.
func freePort(g Gomega) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	g.Expect(err).NotTo(HaveOccurred())
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port
}

// childWrites sums the manager's opennebula_operator_api_requests_total for the write
// verbs, leases (leader election's own traffic) aside.
func childWrites(port int) (int, error) {
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
	if err != nil {
		return 0, err
	}
	defer func() { _ = resp.Body.Close() }()
	total := 0
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "opennebula_operator_api_requests_total{") || strings.Contains(line, `resource="leases"`) {
			continue
		}
		for _, verb := range []string{"create", "update", "patch", "delete"} {
			if strings.Contains(line, `verb="`+verb+`"`) {
				f := strings.Fields(line)
				n, _ := strconv.ParseFloat(f[len(f)-1], 64)
				total += int(n)
			}
		}
	}
	return total, sc.Err()
}

// leads reports whether the manager logging to path has acquired the leader lease.
func leads(path string) bool {
	b, err := os.ReadFile(path)
	return err == nil && strings.Contains(string(b), "Successfully acquired lease")
}

// Two managers with leader election: only the leader writes; killing it (SIGKILL, no
// lease release) mid-reconcile hands over to the other within the lease settings
// (15 s lease, 2 s retry), which finishes the work.
func TestLeaderFailover(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	const ns = "e2e-leader"
	createNamespace(t, ns)
	start := func(name string) (*managerProcess, int) {
		port := freePort(g)
		m, err := startManagerProcess(kubeconfig, []string{"WATCH_NAMESPACE=" + ns}, filepath.Join(t.TempDir(), name+".log"),
			"--leader-elect", "--leader-election-namespace="+ns, "--metrics-secure=false",
			fmt.Sprintf("--metrics-bind-address=127.0.0.1:%d", port))
		g.Expect(err).NotTo(HaveOccurred())
		t.Cleanup(m.stop)
		return m, port
	}
	a, portA := start("a")
	b, portB := start("b")
	var leader, standby *managerProcess
	var standbyPort int
	g.Eventually(func() bool {
		switch {
		case leads(a.log):
			leader, standby, standbyPort = a, b, portB
		case leads(b.log):
			leader, standby, standbyPort = b, a, portA
		}
		return leader != nil
	}, time.Minute, 100*time.Millisecond).Should(BeTrue())

	names := []string{"fe-a", "fe-b", "fe-c", "fe-d"}
	for _, n := range names {
		g.Expect(k8sClient.Create(ctx, frontendIn(ns, n))).To(Succeed())
	}
	// Mid-reconcile: the leader has begun creating children.
	g.Eventually(func(g Gomega) {
		g.Expect(childCounts(g, ns)["Secrets"]).To(BeNumerically(">", 0))
	}, time.Minute, 20*time.Millisecond).Should(Succeed())
	g.Expect(leads(standby.log)).To(BeFalse())
	g.Expect(childWrites(standbyPort)).To(BeZero(), "the standby wrote while the other manager led")
	killed := time.Now()
	g.Expect(leader.cmd.Process.Kill()).To(Succeed())

	g.Eventually(func() bool { return leads(standby.log) }, time.Minute, 100*time.Millisecond).Should(BeTrue())
	takeover := time.Since(killed)
	// The standby counts the 15 s lease from when it last saw the record change, and it
	// looks every 2 s with a jitter of up to 1.2 of it (client-go): it may see the last
	// renewal up to 4.4 s late and the expiry up to 4.4 s late, so at worst
	// 15 + 2×4.4 = 23.8 s; 3 s of slack.
	g.Expect(takeover).To(BeNumerically("<", 15*time.Second+2*(2*time.Second*22/10)+3*time.Second),
		"takeover must come within the lease duration and a jittered retry period")
	g.Eventually(func(g Gomega) { allReady(g, ns, names...) }, 3*time.Minute, time.Second).Should(Succeed())
	g.Expect(childCounts(g, ns)).To(Equal(perFrontend(len(names))), "children duplicated or lost")
	g.Expect(childWrites(standbyPort)).To(BeNumerically(">", 0), "the new leader did the rest")
	t.Logf("leader killed; standby took over after %s; all %d frontends Ready", takeover.Round(100*time.Millisecond), len(names))
}

// A deleted claim is created again empty by the StatefulSet controller (the user asked
// to drop the data) while the credentials stay the same; a deleted generated Secret is
// not generated again while its volume holds data initialised with it.
func TestDeletedClaimAndSecret(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	const ns = "e2e-deleted"
	managerIn(t, g, ns)
	fe := frontendIn(ns, "fe")
	g.Expect(k8sClient.Create(ctx, fe)).To(Succeed())
	waitReady(g, fe)
	before := secretData(g, ns)
	pvc := &corev1.PersistentVolumeClaim{}
	g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "data-fe-0"}, pvc)).To(Succeed())
	oldClaim := pvc.UID

	// The claim is protected while the pod uses it: delete both, as a user dropping the data would.
	out, err := kubectl("delete", "-n", ns, "pvc", "data-fe-0", "--wait=false")
	g.Expect(err).NotTo(HaveOccurred(), out)
	out, err = kubectl("delete", "-n", ns, "pod", "fe-0", "--wait=false")
	g.Expect(err).NotTo(HaveOccurred(), out)
	g.Eventually(func(g Gomega) {
		g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "data-fe-0"}, pvc)).To(Succeed())
		g.Expect(pvc.UID).NotTo(Equal(oldClaim))
		g.Expect(pvc.Status.Phase).To(Equal(corev1.ClaimBound))
		allReady(g, ns, "fe")
	}, 3*time.Minute, time.Second).Should(Succeed())
	g.Expect(secretData(g, ns)).To(Equal(before), "credentials changed with the volume")

	// The oneadmin Secret deleted while the volume exists: Degraded, never regenerated.
	admin := &corev1.Secret{}
	g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "fe-oneadmin"}, admin)).To(Succeed())
	g.Expect(k8sClient.Delete(ctx, admin)).To(Succeed())
	g.Eventually(func(g Gomega) {
		g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(fe), fe)).To(Succeed())
		d := meta.FindStatusCondition(fe.Status.Conditions, opennebulav1alpha1.ConditionDegraded)
		g.Expect(d).NotTo(BeNil())
		g.Expect(d.Reason).To(Equal(opennebulav1alpha1.ReasonSecretMissing))
	}, time.Minute, time.Second).Should(Succeed())
	g.Consistently(func() bool {
		err := k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "fe-oneadmin"}, &corev1.Secret{})
		return err != nil
	}, 3*time.Second, 200*time.Millisecond).Should(BeTrue(), "the Secret was regenerated over live data")

	// Restoring it (from a backup) recovers.
	restored := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: admin.Name, Namespace: ns, Labels: admin.Labels,
		Annotations: admin.Annotations}, Data: admin.Data, Type: admin.Type}
	g.Expect(k8sClient.Create(ctx, restored)).To(Succeed())
	g.Eventually(func(g Gomega) {
		g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(fe), fe)).To(Succeed())
		g.Expect(meta.IsStatusConditionTrue(fe.Status.Conditions, opennebulav1alpha1.ConditionDegraded)).To(BeFalse())
	}, time.Minute, time.Second).Should(Succeed())
}

// assertNoSecretLeak fails when a generated credential of ns appears in the manager's
// log or in an Event: they live in their Secrets only.
func assertNoSecretLeak(t *testing.T, g Gomega, ns, logPath string) {
	t.Helper()
	logBytes, err := os.ReadFile(logPath)
	g.Expect(err).NotTo(HaveOccurred())
	events := &corev1.EventList{}
	g.Expect(k8sClient.List(context.Background(), events, client.InNamespace(ns))).To(Succeed())
	var messages strings.Builder
	for _, e := range events.Items {
		messages.WriteString(e.Message + "\n")
	}
	checked := 0
	for name, data := range secretData(g, ns) {
		for key, v := range data {
			if len(v) < 8 || key == builder.SSHPublicKeyKey {
				continue // public keys are public
			}
			checked++
			for _, where := range []struct{ what, text string }{{"manager log", string(logBytes)}, {"Events", messages.String()}} {
				if strings.Contains(where.text, string(v)) || strings.Contains(where.text, base64.StdEncoding.EncodeToString(v)) {
					t.Errorf("Secret %s key %s appears in the %s", name, key, where.what)
				}
			}
		}
	}
	g.Expect(checked).To(BeNumerically(">", 0))
}
