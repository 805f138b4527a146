//go:build e2e

package e2e

import (
	"context"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opennebulav1alpha1 "github.com/opennebula-operator/opennebula-operator/api/v1alpha1"
	"github.com/opennebula-operator/opennebula-operator/internal/oned/onedtest"
)

// The host and cluster samples, applied with kubectl, are registered by the real manager
// binary in the frontend's oned (here the double, reached with --oned-address as a manager
// outside the cluster reaches a port-forwarded oned): the host reaches MONITORED with its
// capacity, the frontend counts it, and deleting it deletes it in OpenNebula.
func TestHostsOnTheLocalCluster(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := "e2e-hosts"
	createNamespace(t, ns)
	double := onedtest.NewServer(t)
	double.Zone().SetHypervisor("kvm-1.example.org", &onedtest.Hypervisor{TotalCPU: 3200, TotalMemory: 128 << 20})
	u, err := url.Parse(double.Endpoint())
	g.Expect(err).NotTo(HaveOccurred())
	m, err := startManagerProcess(kubeconfig, []string{"WATCH_NAMESPACE=" + ns}, filepath.Join(t.TempDir(), "manager.log"),
		"--oned-address="+u.Host, "--host-poll-interval=1s")
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(m.stop)

	g.Expect(k8sClient.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "oneadmin", Namespace: ns},
		StringData: map[string]string{"password": onedtest.Password},
	})).To(Succeed())
	fe := &opennebulav1alpha1.OpenNebulaFrontend{ObjectMeta: metav1.ObjectMeta{Name: "opennebula", Namespace: ns}}
	fe.Spec.Admin.PasswordSecretRef = &opennebulav1alpha1.SecretKeySelector{Name: "oneadmin", Key: "password"}
	g.Expect(k8sClient.Create(ctx, fe)).To(Succeed())
	for _, sample := range []string{"opennebula_v1alpha1_opennebulacluster.yaml", "opennebula_v1alpha1_opennebulahost.yaml"} {
		g.Eventually(func() error {
			_, err := kubectl("apply", "-n", ns, "-f", filepath.Join(rootDir, "config", "samples", sample))
			return err
		}, time.Minute, time.Second).Should(Succeed(), sample)
	}

	g.Eventually(func(g Gomega) {
		h := &opennebulav1alpha1.OpenNebulaHost{}
		g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "kvm-1"}, h)).To(Succeed())
		g.Expect(h.Status.State).To(Equal("MONITORED"))
		g.Expect(h.Status.Cluster).To(Equal("rack-1"))
		g.Expect(h.Status.CPU.Total.String()).To(Equal("32"))
		g.Expect(h.Status.Memory.Total.String()).To(Equal("128Gi"))
		ready := meta.FindStatusCondition(h.Status.Conditions, opennebulav1alpha1.ConditionReady)
		g.Expect(ready).NotTo(BeNil())
		g.Expect(ready.Status).To(Equal(metav1.ConditionTrue))
		c := &opennebulav1alpha1.OpenNebulaCluster{}
		g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "rack-1"}, c)).To(Succeed())
		g.Expect(c.Status.Hosts).To(BeNumerically("==", 1))
		g.Expect(c.Status.Datastores).To(Equal([]int32{0, 1, 2}))
		f := &opennebulav1alpha1.OpenNebulaFrontend{}
		g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "opennebula"}, f)).To(Succeed())
		g.Expect(f.Status.Hosts).NotTo(BeNil())
		g.Expect(f.Status.Hosts.ByState).To(Equal(map[string]int32{"MONITORED": 1}))
	}, 2*time.Minute, time.Second).Should(Succeed())
	out, err := kubectl("get", "onehost", "-n", ns)
	g.Expect(err).NotTo(HaveOccurred(), out)
	g.Expect(out).To(MatchRegexp(`kvm-1\s+kvm-1.example.org\s+MONITORED\s+rack-1\s+0\s+32\s+128Gi`))
	t.Logf("kubectl get onehost:\n%s", out)

	pool, err := double.Client(t).HostPool(ctx)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(pool).To(HaveLen(1))
	out, err = kubectl("delete", "-n", ns, "onehost", "kvm-1", "--wait=true", "--timeout=1m")
	g.Expect(err).NotTo(HaveOccurred(), out)
	pool, err = double.Client(t).HostPool(ctx)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(pool).To(BeEmpty(), "the host is deleted in OpenNebula before its object goes")
	// The cluster's datastores (its spec's) leave it, then it is deleted.
	out, err = kubectl("delete", "-n", ns, "onecluster", "rack-1", "--wait=true", "--timeout=1m")
	g.Expect(err).NotTo(HaveOccurred(), out)
	clusters, err := double.Client(t).ClusterPool(ctx)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(clusters).To(HaveLen(1), "only the default cluster is left")
	assertNoSecretLeak(t, g, ns, m.log)
}
