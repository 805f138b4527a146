package controller

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opennebulav1alpha1 "github.com/opennebula-operator/opennebula-operator/api/v1alpha1"
	"github.com/opennebula-operator/opennebula-operator/internal/builder"
	"github.com/opennebula-operator/opennebula-operator/internal/oned"
	"github.com/opennebula-operator/opennebula-operator/internal/oned/onedtest"
)

// fleetFrontend creates the frontend "one" whose oned is a double reached through its
// Service's route, with the double's oneadmin password in a Secret of its own.
func fleetFrontend(t *testing.T) (string, *onedtest.Server) {
	t.Helper()
	ns := newNamespace(t)
	double := onedtest.NewServer(t)
	u, err := url.Parse(double.Endpoint())
	Expect(err).NotTo(HaveOccurred())
	routes.route(ns, map[int32]string{builder.PortNumber(builder.PortOned): u.Host})
	Expect(k8sClient.Create(context.Background(), &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "oneadmin", Namespace: ns},
		StringData: map[string]string{"pw": onedtest.Password},
	})).To(Succeed())
	fe := &opennebulav1alpha1.OpenNebulaFrontend{ObjectMeta: metav1.ObjectMeta{Name: "one", Namespace: ns}}
	fe.Spec.Admin.PasswordSecretRef = &opennebulav1alpha1.SecretKeySelector{Name: "oneadmin", Key: "pw"}
	Expect(k8sClient.Create(context.Background(), fe)).To(Succeed())
	// The hosts and clusters go with the test (their finalizers dropped by the test's
	// client): left behind, each would be polled and reported on by the manager for the
	// rest of the suite, sharing its request budget with the tests that follow.
	t.Cleanup(func() { removeFleet(ns) })
	return ns, double
}

func removeFleet(ns string) {
	ctx := context.Background()
	var hosts opennebulav1alpha1.OpenNebulaHostList
	var clusters opennebulav1alpha1.OpenNebulaClusterList
	_ = k8sClient.List(ctx, &hosts, client.InNamespace(ns))
	_ = k8sClient.List(ctx, &clusters, client.InNamespace(ns))
	objs := make([]client.Object, 0, len(hosts.Items)+len(clusters.Items))
	for i := range hosts.Items {
		objs = append(objs, &hosts.Items[i])
	}
	for i := range clusters.Items {
		objs = append(objs, &clusters.Items[i])
	}
	for _, o := range objs {
		_ = k8sClient.Patch(ctx, o, client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`)))
		_ = k8sClient.Delete(ctx, o)
	}
}

func newHost(ns, name, hostname string, edit ...func(*opennebulav1alpha1.OpenNebulaHost)) {
	h := &opennebulav1alpha1.OpenNebulaHost{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
	h.Spec.FrontendRef.Name = "one"
	h.Spec.Hostname = hostname
	for _, e := range edit {
		e(h)
	}
	Expect(k8sClient.Create(context.Background(), h)).To(Succeed())
}

func fleetCondition(g Gomega, conds []metav1.Condition, typ string) metav1.Condition {
	c := meta.FindStatusCondition(conds, typ)
	g.Expect(c).NotTo(BeNil(), "condition %s missing from %+v", typ, conds)
	return *c
}

// namespaceWrites are the writes of ns's objects in the last window.
func namespaceWrites(ns string, window time.Duration) []string {
	before := len(writes.snapshot())
	time.Sleep(window)
	var ours []string
	for _, w := range writes.snapshot()[before:] {
		if strings.Contains(w, "/namespaces/"+ns+"/") {
			ours = append(ours, w)
		}
	}
	return ours
}

// 50 hosts across 3 clusters reach the state oned gives them, with their capacity and
// oned's own monitoring message; the pools are read once per pass for all of them, never
// a call per host; at rest nothing is written; the frontend counts its hosts by state.
func TestFleetReconcilesHostsThroughOned(t *testing.T) {
	RegisterTestingT(t)
	ns, double := fleetFrontend(t)
	ctx := context.Background()
	for i := range 3 {
		c := &opennebulav1alpha1.OpenNebulaCluster{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("rack-%d", i), Namespace: ns}}
		c.Spec.FrontendRef.Name = "one"
		c.Spec.Template = map[string]string{"RESERVED_CPU": "50"}
		Expect(k8sClient.Create(ctx, c)).To(Succeed())
	}
	const n = 50
	for i := range n {
		hostname := fmt.Sprintf("kvm-%02d.test", i)
		if i%2 == 0 {
			// Half the hosts have a hypervisor that answers: 8 cores, 32 GiB, some used.
			double.Zone().SetHypervisor(hostname, &onedtest.Hypervisor{TotalCPU: 800, TotalMemory: 32 << 20, UsedCPU: 150, UsedMemory: 4 << 20})
		}
		newHost(ns, fmt.Sprintf("kvm-%02d", i), hostname, func(h *opennebulav1alpha1.OpenNebulaHost) {
			h.Spec.ClusterRef = &opennebulav1alpha1.ClusterReference{Name: fmt.Sprintf("rack-%d", i%3)}
			h.Spec.Template = map[string]string{"RESERVED_MEM": "1048576"}
		})
	}

	Eventually(func(g Gomega) {
		var hosts opennebulav1alpha1.OpenNebulaHostList
		g.Expect(k8sClient.List(ctx, &hosts, client.InNamespace(ns))).To(Succeed())
		g.Expect(hosts.Items).To(HaveLen(n))
		for _, h := range hosts.Items {
			g.Expect(h.Status.ID).NotTo(BeNil(), h.Name)
			g.Expect(h.Finalizers).To(ContainElement(opennebulav1alpha1.FinalizerOpenNebulaObject))
			want := "ERROR"
			if strings.TrimPrefix(h.Name, "kvm-")[1]%2 == 0 {
				want = "MONITORED"
			}
			g.Expect(h.Status.State).To(Equal(want), h.Name)
		}
	}, 60*time.Second, poll).Should(Succeed())

	// A monitored host: its capacity, cluster and Ready; a failing one: oned's message.
	ok := get(Default, ns, "kvm-00", &opennebulav1alpha1.OpenNebulaHost{})
	Expect(ok.Status.Cluster).To(Equal("rack-0"))
	Expect(ok.Status.CPU.Total.String()).To(Equal("8"))
	// Used is what VMs are allocated (HOST_SHARE CPU_USAGE): none run here.
	Expect(ok.Status.CPU.Used.String()).To(Equal("0"))
	Expect(ok.Status.Memory.Total.String()).To(Equal("32Gi"))
	Expect(ok.Status.LastMonitored).NotTo(BeNil())
	Expect(fleetCondition(Default, ok.Status.Conditions, opennebulav1alpha1.ConditionReady).Status).To(Equal(metav1.ConditionTrue))
	Expect(fleetCondition(Default, ok.Status.Conditions, opennebulav1alpha1.ConditionDegraded).Status).To(Equal(metav1.ConditionFalse))
	bad := get(Default, ns, "kvm-01", &opennebulav1alpha1.OpenNebulaHost{})
	degraded := fleetCondition(Default, bad.Status.Conditions, opennebulav1alpha1.ConditionDegraded)
	Expect(degraded.Status).To(Equal(metav1.ConditionTrue))
	Expect(degraded.Reason).To(Equal(opennebulav1alpha1.ReasonHostError))
	Expect(degraded.Message).To(HavePrefix("Error monitoring Host kvm-01.test ("))
	Expect(bad.Status.Error).To(Equal(degraded.Message))
	Expect(fleetCondition(Default, bad.Status.Conditions, opennebulav1alpha1.ConditionReady).Reason).To(Equal(opennebulav1alpha1.ReasonNotMonitored))

	// In oned: the hosts in their clusters, with the attribute and the operator's record.
	pool, err := double.Client(t).HostPool(ctx)
	Expect(err).NotTo(HaveOccurred())
	Expect(pool).To(HaveLen(n))
	for _, h := range pool {
		mem, _ := h.Template.Get("RESERVED_MEM")
		Expect(mem).To(Equal("1048576"))
		key, _ := h.Template.Get("KUBERNETES_OBJECT")
		Expect(key).To(HavePrefix(ns + "/kvm-"))
		Expect(h.Cluster).To(HavePrefix("rack-"))
	}
	Eventually(func(g Gomega) {
		c := get(g, ns, "rack-1", &opennebulav1alpha1.OpenNebulaCluster{})
		g.Expect(c.Status.Hosts).To(BeNumerically("==", 17))
		g.Expect(fleetCondition(g, c.Status.Conditions, opennebulav1alpha1.ConditionReady).Status).To(Equal(metav1.ConditionTrue))
	}, timeout, poll).Should(Succeed())

	// The frontend counts its hosts by state.
	Eventually(func(g Gomega) {
		fe := get(g, ns, "one", &opennebulav1alpha1.OpenNebulaFrontend{})
		g.Expect(fe.Status.Hosts).NotTo(BeNil())
		g.Expect(fe.Status.Hosts.Total).To(BeNumerically("==", n))
		g.Expect(fe.Status.Hosts.ByState).To(Equal(map[string]int32{"MONITORED": 25, "ERROR": 25}))
	}, timeout, poll).Should(Succeed())

	// At rest: the pools are read about once per poll (500 ms here) for all 50 hosts,
	// never a host at a time, and nothing is written.
	Expect(double.Calls("one.host.info")).To(BeZero())
	reads := double.Calls("one.hostpool.info")
	window := namespaceWrites(ns, 3*time.Second)
	Expect(window).To(BeEmpty(), "writes at rest")
	perPass := double.Calls("one.hostpool.info") - reads
	Expect(perPass).To(BeNumerically(">=", 3), "the pools are polled")
	Expect(perPass).To(BeNumerically("<=", 8), "one pool read per frontend per pass, about 6 passes in 3 s")
	Expect(double.Calls("one.clusterpool.info")).To(BeNumerically("<=", double.Calls("one.hostpool.info")))

	// A hypervisor starts answering: the next poll shows it, and only that host's status
	// is written.
	double.Zone().SetHypervisor("kvm-01.test", &onedtest.Hypervisor{TotalCPU: 400, TotalMemory: 16 << 20})
	Eventually(func(g Gomega) {
		h := get(g, ns, "kvm-01", &opennebulav1alpha1.OpenNebulaHost{})
		g.Expect(h.Status.State).To(Equal("MONITORED"))
		g.Expect(h.Status.Error).To(BeEmpty())
		g.Expect(fleetCondition(g, h.Status.Conditions, opennebulav1alpha1.ConditionDegraded).Status).To(Equal(metav1.ConditionFalse))
	}, 30*time.Second, poll).Should(Succeed())
}

// Deletion follows deletionPolicy; a host running VMs keeps its finalizer and says why;
// a host made by hand is reported until the user asks to adopt it; an unreachable oned
// degrades every object without a write loop, and they recover; a host of a frontend
// that does not exist says so and goes without anything deleted in OpenNebula.
func TestFleetDeletionAdoptionAndFailures(t *testing.T) {
	RegisterTestingT(t)
	ns, double := fleetFrontend(t)
	ctx := context.Background()
	c := double.Client(t)
	inOned := func(name string) *oned.Host {
		pool, err := c.HostPool(ctx)
		Expect(err).NotTo(HaveOccurred())
		for i := range pool {
			if pool[i].Name == name {
				return &pool[i]
			}
		}
		return nil
	}
	gone := func(name string) {
		Eventually(func() bool {
			err := k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &opennebulav1alpha1.OpenNebulaHost{})
			return apierrors.IsNotFound(err)
		}, timeout, poll).Should(BeTrue(), name+" is deleted")
	}
	hostID := func(name string) int {
		var id int
		Eventually(func(g Gomega) {
			h := get(g, ns, name, &opennebulav1alpha1.OpenNebulaHost{})
			g.Expect(h.Status.ID).NotTo(BeNil(), "%+v %+v", h.ObjectMeta.Finalizers, h.Status)
			id = int(*h.Status.ID)
		}, timeout, poll).Should(Succeed())
		return id
	}

	newHost(ns, "del", "del.test")
	newHost(ns, "vms", "vms.test")
	newHost(ns, "keep", "keep.test", func(h *opennebulav1alpha1.OpenNebulaHost) {
		h.Spec.DeletionPolicy = opennebulav1alpha1.DeletionPolicyRetain
	})
	hostID("del")
	vmsID := hostID("vms")
	hostID("keep")
	Expect(double.Zone().AddVM(vmsID, 7)).To(Succeed())

	// Delete: gone from OpenNebula, then the object goes.
	Expect(k8sClient.Delete(ctx, get(Default, ns, "del", &opennebulav1alpha1.OpenNebulaHost{}))).To(Succeed())
	gone("del")
	Expect(inOned("del.test")).To(BeNil())
	// Retain: the object goes, the host stays.
	Expect(k8sClient.Delete(ctx, get(Default, ns, "keep", &opennebulav1alpha1.OpenNebulaHost{}))).To(Succeed())
	gone("keep")
	Expect(inOned("keep.test")).NotTo(BeNil())
	// A host running VMs: oned refuses, the object waits and says why.
	Expect(k8sClient.Delete(ctx, get(Default, ns, "vms", &opennebulav1alpha1.OpenNebulaHost{}))).To(Succeed())
	Eventually(func(g Gomega) {
		h := get(g, ns, "vms", &opennebulav1alpha1.OpenNebulaHost{})
		c := fleetCondition(g, h.Status.Conditions, opennebulav1alpha1.ConditionDegraded)
		g.Expect(c.Reason).To(Equal(opennebulav1alpha1.ReasonDeleteRefused))
		g.Expect(c.Message).To(ContainSubstring("Can not remove a host with running VMs"))
		g.Expect(c.Message).To(ContainSubstring("deletionPolicy: Retain"))
	}, timeout, poll).Should(Succeed())
	Expect(inOned("vms.test")).NotTo(BeNil())
	double.Zone().RemoveVMs(vmsID)
	gone("vms")
	Expect(inOned("vms.test")).To(BeNil())

	// A host made by hand: reported, untouched, until adopted.
	handID, err := c.HostAllocate(ctx, "hand.test", "kvm", "kvm", -1)
	Expect(err).NotTo(HaveOccurred())
	newHost(ns, "hand", "hand.test", func(h *opennebulav1alpha1.OpenNebulaHost) { h.Spec.State = opennebulav1alpha1.HostDisabled })
	Eventually(func(g Gomega) {
		h := get(g, ns, "hand", &opennebulav1alpha1.OpenNebulaHost{})
		c := fleetCondition(g, h.Status.Conditions, opennebulav1alpha1.ConditionDegraded)
		g.Expect(c.Reason).To(Equal(opennebulav1alpha1.ReasonNameTaken))
		g.Expect(c.Message).To(ContainSubstring(fmt.Sprintf("a host named \"hand.test\" (ID %d)", handID)))
		g.Expect(c.Message).To(ContainSubstring(`opennebula.io/adopt: "true"`))
	}, timeout, poll).Should(Succeed())
	Expect(inOned("hand.test").State).NotTo(Equal(oned.HostDisabled))
	Eventually(func(g Gomega) {
		h := get(g, ns, "hand", &opennebulav1alpha1.OpenNebulaHost{})
		h.Annotations = map[string]string{opennebulav1alpha1.AnnotationAdopt: "true"}
		g.Expect(k8sClient.Update(ctx, h)).To(Succeed())
	}, timeout, poll).Should(Succeed())
	Eventually(func(g Gomega) {
		h := get(g, ns, "hand", &opennebulav1alpha1.OpenNebulaHost{})
		g.Expect(h.Status.ID).To(Equal(new(int32(handID))))
		g.Expect(h.Status.State).To(Equal("DISABLED"))
		ready := fleetCondition(g, h.Status.Conditions, opennebulav1alpha1.ConditionReady)
		g.Expect(ready.Status).To(Equal(metav1.ConditionTrue), "disabled, as asked")
		g.Expect(ready.Message).To(Equal("STATE is DISABLED, as spec.state asks"))
	}, timeout, poll).Should(Succeed())

	// oned stops answering: every object says so; no write loop; recovery.
	double.Stop(t)
	Eventually(func(g Gomega) {
		h := get(g, ns, "hand", &opennebulav1alpha1.OpenNebulaHost{})
		g.Expect(fleetCondition(g, h.Status.Conditions, opennebulav1alpha1.ConditionDegraded).Reason).To(Equal(opennebulav1alpha1.ReasonOnedUnreachable))
	}, timeout, poll).Should(Succeed())
	// Polled every 500 ms: a quiet window of 2 s comes (the first failures' wording may
	// change once, from a reset connection to a refused one).
	Eventually(func() []string { return namespaceWrites(ns, 2*time.Second) }, 15*time.Second, 10*time.Millisecond).Should(BeEmpty(),
		"an unreachable oned is reported, not rewritten every pass")
	double.Start(t)
	Eventually(func(g Gomega) {
		h := get(g, ns, "hand", &opennebulav1alpha1.OpenNebulaHost{})
		g.Expect(fleetCondition(g, h.Status.Conditions, opennebulav1alpha1.ConditionDegraded).Status).To(Equal(metav1.ConditionFalse))
	}, 30*time.Second, poll).Should(Succeed())

	// A host of a frontend that does not exist: reported; deleting it deletes nothing in
	// OpenNebula.
	newHost(ns, "orphan", "orphan.test", func(h *opennebulav1alpha1.OpenNebulaHost) { h.Spec.FrontendRef.Name = "nope" })
	Eventually(func(g Gomega) {
		h := get(g, ns, "orphan", &opennebulav1alpha1.OpenNebulaHost{})
		g.Expect(fleetCondition(g, h.Status.Conditions, opennebulav1alpha1.ConditionDegraded).Reason).To(Equal(opennebulav1alpha1.ReasonFrontendNotFound))
	}, timeout, poll).Should(Succeed())
	Expect(k8sClient.Delete(ctx, get(Default, ns, "orphan", &opennebulav1alpha1.OpenNebulaHost{}))).To(Succeed())
	gone("orphan")
}
