package controller

import (
	"context"
	"maps"
	"strconv"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opennebulav1alpha1 "github.com/opennebula-operator/opennebula-operator/api/v1alpha1"
	"github.com/opennebula-operator/opennebula-operator/internal/builder"
	"github.com/opennebula-operator/opennebula-operator/internal/oned"
	"github.com/opennebula-operator/opennebula-operator/internal/oned/onedtest"
	"github.com/opennebula-operator/opennebula-operator/internal/testenv"
)

// fakeKubelet plays the StatefulSet controller and the kubelet for a frontend's pods in
// envtest (no pods run there): it keeps a pod per ordinal below the StatefulSet's
// replicas, starts a double oned for it the way the pod's start wrapper and seed init
// container would (testenv.RunFrontendPod, shared with the e2e test's kubelet), and
// points the operator at it. A pod the operator deletes is made again, its server
// restarted.
type fakeKubelet struct {
	t       *testing.T
	ns      string
	fe      string
	zone    *onedtest.Zone
	servers map[string]*onedtest.Server
	// revision is the StatefulSet revision a new pod is made from (the label the
	// StatefulSet controller gives it); made lists the pods made again after a deletion,
	// in order.
	revision string
	made     []string
}

// newFakeKubelet plays the kubelet for the frontend "one" of namespace ns; opts set its
// double servers' timing.
func newFakeKubelet(t *testing.T, ns string, opts ...onedtest.Option) *fakeKubelet {
	const fe = "one"
	return &fakeKubelet{t: t, ns: ns, fe: fe, zone: onedtest.NewPods(t, opts...), servers: map[string]*onedtest.Server{}, revision: fe + "-r1"}
}

func (k *fakeKubelet) sync(g Gomega) {
	ctx := context.Background()
	names := builder.NamesFor(k.fe)
	sts := get(g, k.ns, names.StatefulSet, &appsv1.StatefulSet{})
	replicas := int(ptr.Deref(sts.Spec.Replicas, 0))
	ids := map[string]int{}
	record := &corev1.ConfigMap{}
	if err := k8sClient.Get(ctx, client.ObjectKey{Namespace: k.ns, Name: names.RaftServers}, record); err == nil {
		ids, _, _ = builder.RaftRecord(record)
	}
	for i := range max(replicas, len(k.servers)) {
		name := names.StatefulSet + "-" + strconv.Itoa(i)
		srv := k.servers[name]
		if srv == nil {
			srv = k.zone.NewPod(k.t, name)
			k.servers[name] = srv
			podRoutes.route(k.ns, name, srv.Endpoint())
		}
		pod := &corev1.Pod{}
		err := k8sClient.Get(ctx, client.ObjectKey{Namespace: k.ns, Name: name}, pod)
		if i >= replicas {
			if err == nil {
				g.Expect(k8sClient.Delete(ctx, pod)).To(Succeed())
			}
			if srv.Running() {
				srv.Stop(k.t)
			}
			continue
		}
		if apierrors.IsNotFound(err) || (err == nil && pod.DeletionTimestamp != nil) {
			// A new pod: its containers start from nothing.
			if srv.Running() {
				srv.Stop(k.t)
			}
			labels := maps.Clone(sts.Spec.Template.Labels)
			labels[appsv1.ControllerRevisionHashLabelKey] = k.revision
			pod = &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: k.ns, Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: builder.ContainerName, Image: "registry.test/opennebula:7.2.0"}}},
			}
			err := k8sClient.Create(ctx, pod)
			if err != nil && !apierrors.IsAlreadyExists(err) {
				g.Expect(err).NotTo(HaveOccurred())
			}
			// Counted once the new pod exists: a create that failed (an API server slow
			// under the whole suite's load) is retried by the next sync, which finds
			// the pod missing again and must not count the same restart twice.
			if err == nil && srv.HasDatabase() {
				k.made = append(k.made, name) // made before, deleted since
			}
			continue
		} else {
			g.Expect(err).NotTo(HaveOccurred())
		}
		ok, err := testenv.RunFrontendPod(ctx, k.t, k8sClient, k.fe, srv, pod, ids)
		g.Expect(err).NotTo(HaveOccurred())
		if !ok {
			continue
		}
		g.Expect(k8sClient.Status().Update(ctx, pod)).To(Succeed())
	}
}

func (k *fakeKubelet) roles(g Gomega) map[string]string {
	var pods corev1.PodList
	g.Expect(k8sClient.List(context.Background(), &pods, client.InNamespace(k.ns))).To(Succeed())
	out := map[string]string{}
	for _, p := range pods.Items {
		out[p.Name] = p.Labels[builder.LabelRaftRole]
	}
	return out
}

// createZoneOfThree creates the frontend "one" of 3 replicas in a new namespace, with its
// oneadmin password in a Secret of its own, and the fake kubelet that runs its pods.
func createZoneOfThree(t *testing.T, opts ...onedtest.Option) (string, *fakeKubelet) {
	ns := newNamespace(t)
	kubelet := newFakeKubelet(t, ns, opts...)
	Expect(k8sClient.Create(context.Background(), &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "oneadmin", Namespace: ns},
		StringData: map[string]string{"pw": onedtest.Password},
	})).To(Succeed())
	fe := &opennebulav1alpha1.OpenNebulaFrontend{ObjectMeta: metav1.ObjectMeta{Name: "one", Namespace: ns}}
	fe.Spec.Replicas = new(int32(3))
	fe.Spec.Admin.PasswordSecretRef = &opennebulav1alpha1.SecretKeySelector{Name: "oneadmin", Key: "pw"}
	Expect(k8sClient.Create(context.Background(), fe)).To(Succeed())
	return ns, kubelet
}

func TestRaftZoneFollowsTheLeader(t *testing.T) {
	RegisterTestingT(t)
	ns, kubelet := createZoneOfThree(t)

	// The zone forms: three servers recorded with the IDs the zone gave, one leader label.
	Eventually(func(g Gomega) {
		kubelet.sync(g)
		record := get(g, ns, builder.NamesFor("one").RaftServers, &corev1.ConfigMap{})
		ids, _, err := builder.RaftRecord(record)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(ids).To(HaveLen(3))
		roles := kubelet.roles(g)
		g.Expect(roles).To(Equal(map[string]string{"one-0": "leader", "one-1": "follower", "one-2": "follower"}))
		fe := get(g, ns, "one", &opennebulav1alpha1.OpenNebulaFrontend{})
		g.Expect(fe.Status.Raft).NotTo(BeNil())
		g.Expect(fe.Status.Raft.Leader).To(Equal("one-0"))
		g.Expect(fe.Status.Raft.Servers).To(HaveLen(3))
		for _, srv := range fe.Status.Raft.Servers {
			g.Expect(srv.ID).NotTo(BeNil())
			g.Expect(*srv.ID).To(BeNumerically("==", ids[srv.Name]), "status shows the ID the zone gave")
		}
	}, 60*time.Second, 300*time.Millisecond).Should(Succeed())

	// A pod is ready only as a member: its readiness gate says what its server is.
	Expect(get(Default, ns, "one", &appsv1.StatefulSet{}).Spec.Template.Spec.ReadinessGates).To(Equal(
		[]corev1.PodReadinessGate{{ConditionType: builder.ConditionRaftMember}}))
	Eventually(func(g Gomega) {
		g.Expect(memberGates(g, ns)).To(Equal(map[string]string{"one-0": "True/Leader", "one-1": "True/Follower", "one-2": "True/Follower"}))
	}, timeout, poll).Should(Succeed())

	// The zone runs with the first server's one_key and a serveradmin secret, kept in a
	// Secret made once: every server lets the services' login in.
	keys := get(Default, ns, builder.NamesFor("one").Keys, &corev1.Secret{})
	Expect(keys.Annotations).To(HaveKeyWithValue(builder.AnnotationFrontendOf, "one"))
	Expect(keys.Labels).To(HaveKeyWithValue(builder.LabelWatch, builder.ValueWatch))
	oneKey, err := kubelet.servers["one-1"].Client(t).OneKey(context.Background())
	Expect(err).NotTo(HaveOccurred())
	Expect(string(keys.Data[builder.OneKeyKey])).To(Equal(oneKey))
	for _, name := range []string{"one-0", "one-1", "one-2"} {
		creds, err := oned.ServerAdmin(string(keys.Data[builder.ServerAdminKey]), time.Now().Add(time.Hour))
		Expect(err).NotTo(HaveOccurred())
		sc, err := oned.New(kubelet.servers[name].Endpoint(), creds)
		Expect(err).NotTo(HaveOccurred())
		_, err = sc.RaftStatus(context.Background())
		Expect(err).NotTo(HaveOccurred(), "serveradmin's login on %s", name)
	}

	// At rest the servers are polled (every 300 ms here) and nothing is written: a 2 s
	// window without a single write of this namespace's objects comes.
	Eventually(func() []string {
		before := len(writes.snapshot())
		time.Sleep(2 * time.Second)
		var ours []string
		for _, w := range writes.snapshot()[before:] {
			if strings.Contains(w, "/namespaces/"+ns+"/") {
				ours = append(ours, w)
			}
		}
		return ours
	}, 30*time.Second, 10*time.Millisecond).Should(BeEmpty())

	svc := get(Default, ns, builder.NamesFor("one").ExternalService, &corev1.Service{})
	Expect(svc.Spec.Selector).To(HaveKeyWithValue(builder.LabelRaftRole, builder.RaftRoleLeader))

	// Ready says who leads and how many follow.
	Eventually(func(g Gomega) { reportStatefulSetReady(g, ns) }, timeout, poll).Should(Succeed())
	Eventually(func(g Gomega) {
		fe := get(g, ns, "one", &opennebulav1alpha1.OpenNebulaFrontend{})
		c := condition(g, fe, opennebulav1alpha1.ConditionReady)
		g.Expect(c.Status).To(Equal(metav1.ConditionTrue), c.Message)
		g.Expect(c.Message).To(ContainSubstring("one-0 leads term"))
		g.Expect(c.Message).To(ContainSubstring("followed by 3 of 3 servers"))
	}, timeout, poll).Should(Succeed())
	get(Default, ns, builder.NamesFor("one").PodDisruptionBudget, &policyv1.PodDisruptionBudget{})

	// The zone's keys deleted: Degraded says to restore them (they cannot be read back
	// from oned); restored, it clears.
	Expect(k8sClient.Delete(context.Background(), keys)).To(Succeed())
	Eventually(func(g Gomega) {
		fe := get(g, ns, "one", &opennebulav1alpha1.OpenNebulaFrontend{})
		c := condition(g, fe, opennebulav1alpha1.ConditionDegraded)
		g.Expect(c.Reason).To(Equal(opennebulav1alpha1.ReasonKeysMissing), c.Message)
		g.Expect(c.Message).To(ContainSubstring("Secret " + builder.NamesFor("one").Keys + ", which every server"))
	}, timeout, poll).Should(Succeed())
	restored := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: keys.Name, Namespace: ns, Labels: keys.Labels, Annotations: keys.Annotations}, Data: keys.Data}
	Expect(k8sClient.Create(context.Background(), restored)).To(Succeed())
	Eventually(func(g Gomega) {
		fe := get(g, ns, "one", &opennebulav1alpha1.OpenNebulaFrontend{})
		g.Expect(condition(g, fe, opennebulav1alpha1.ConditionDegraded).Status).To(Equal(metav1.ConditionFalse))
	}, timeout, poll).Should(Succeed())

	// A follower lags: Degraded names it once it has lasted, and clears when it catches up.
	kubelet.servers["one-2"].Lag()
	_, err = kubelet.zone.Leader().Client(t).HostAllocate(context.Background(), "lag.example", "kvm", "kvm", -1)
	Expect(err).NotTo(HaveOccurred())
	Eventually(func(g Gomega) {
		fe := get(g, ns, "one", &opennebulav1alpha1.OpenNebulaFrontend{})
		c := condition(g, fe, opennebulav1alpha1.ConditionDegraded)
		g.Expect(c.Status).To(Equal(metav1.ConditionTrue))
		g.Expect(c.Reason).To(Equal(opennebulav1alpha1.ReasonRaftServerLagging))
		g.Expect(c.Message).To(ContainSubstring("(pod one-2) is behind the leader"))
	}, 30*time.Second, 300*time.Millisecond).Should(Succeed())
	kubelet.servers["one-2"].CatchUp()
	Eventually(func(g Gomega) {
		fe := get(g, ns, "one", &opennebulav1alpha1.OpenNebulaFrontend{})
		g.Expect(condition(g, fe, opennebulav1alpha1.ConditionDegraded).Status).To(Equal(metav1.ConditionFalse))
	}, 30*time.Second, 300*time.Millisecond).Should(Succeed())

	// The leader goes: the label follows the new one, the old one loses it first.
	kubelet.servers["one-0"].Stop(t)
	Eventually(func(g Gomega) {
		roles := kubelet.roles(g)
		g.Expect(roles["one-0"]).To(BeEmpty())
		g.Expect(roles["one-1"]).To(Equal(builder.RaftRoleLeader))
		fe := get(g, ns, "one", &opennebulav1alpha1.OpenNebulaFrontend{})
		g.Expect(fe.Status.Raft.Leader).To(Equal("one-1"))
		g.Expect(fe.Status.Raft.Servers[0].State).To(Equal("Unreachable"))
		c := condition(g, fe, opennebulav1alpha1.ConditionDegraded)
		g.Expect(c.Reason).To(Equal(opennebulav1alpha1.ReasonRaftServerUnreachable), c.Message)
		g.Expect(c.Message).To(ContainSubstring("(pod one-0) does not answer"))
		g.Expect(events(ns, EventReasonRaftLeaderChanged)).To(ContainElement(ContainSubstring("Raft leader is now one-1 (term 2), was one-0")))
		// The gone leader's pod is no longer ready: its readiness gate is False.
		g.Expect(memberGates(g, ns)).To(Equal(map[string]string{"one-0": "False/Unreachable", "one-1": "True/Leader", "one-2": "True/Follower"}))
	}, 30*time.Second, 300*time.Millisecond).Should(Succeed())
	leader := kubelet.zone.Leader()
	Expect(leader).NotTo(BeNil())
	c := leader.Client(t)
	st, err := c.RaftStatus(context.Background())
	Expect(err).NotTo(HaveOccurred())
	Expect(st.State).To(Equal(oned.RaftLeader))

	// A second server goes: no quorum, no leader. The pods still run, but the frontend is
	// not Ready, and says why.
	kubelet.servers["one-1"].Stop(t)
	Eventually(func(g Gomega) {
		fe := get(g, ns, "one", &opennebulav1alpha1.OpenNebulaFrontend{})
		c := condition(g, fe, opennebulav1alpha1.ConditionReady)
		g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
		g.Expect(c.Reason).To(Equal(opennebulav1alpha1.ReasonRaftNoQuorum))
		g.Expect(c.Message).To(ContainSubstring("no server leads the zone (3 members)"))
	}, 30*time.Second, 300*time.Millisecond).Should(Succeed())
}

// memberGates are the pods' readiness gate conditions, as "Status/Reason" by pod.
func memberGates(g Gomega, ns string) map[string]string {
	var pods corev1.PodList
	g.Expect(k8sClient.List(context.Background(), &pods, client.InNamespace(ns))).To(Succeed())
	out := map[string]string{}
	for _, p := range pods.Items {
		if c := podCondition(&p, builder.ConditionRaftMember); c != nil {
			out[p.Name] = string(c.Status) + "/" + c.Reason
		}
	}
	return out
}

// zoneOf waits until the record holds exactly the given pods and only they run.
func (k *fakeKubelet) waitZone(pods ...string) {
	k.t.Helper()
	Eventually(func(g Gomega) {
		k.sync(g)
		record := get(g, k.ns, builder.NamesFor(k.fe).RaftServers, &corev1.ConfigMap{})
		ids, _, err := builder.RaftRecord(record)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(ids).To(HaveLen(len(pods)))
		for _, p := range pods {
			g.Expect(ids).To(HaveKey(p))
		}
		roles := k.roles(g)
		g.Expect(roles).To(HaveLen(len(pods)))
		leaders := 0
		for _, p := range pods {
			g.Expect(roles[p]).NotTo(BeEmpty(), "pod %s has a role", p)
			if roles[p] == builder.RaftRoleLeader {
				leaders++
			}
		}
		g.Expect(leaders).To(Equal(1))
	}, 90*time.Second, 300*time.Millisecond).Should(Succeed())
}

// A changed pod template reaches a zone's pods one at a time (the StatefulSet updates
// OnDelete): the operator restarts the followers, highest ordinal first, then the leader.
func TestRaftZoneRollsFollowersFirst(t *testing.T) {
	RegisterTestingT(t)
	ns, kubelet := createZoneOfThree(t)
	kubelet.waitZone("one-0", "one-1", "one-2")
	Expect(kubelet.roles(Default)).To(HaveKeyWithValue("one-0", builder.RaftRoleLeader))
	sts := get(Default, ns, "one", &appsv1.StatefulSet{})
	Expect(sts.Spec.UpdateStrategy.Type).To(Equal(appsv1.OnDeleteStatefulSetStrategyType))

	// The StatefulSet controller has a new revision: pods of the old one are outdated.
	kubelet.made = nil
	kubelet.revision = "one-r2"
	Eventually(func(g Gomega) {
		sts := get(g, ns, "one", &appsv1.StatefulSet{})
		sts.Status = appsv1.StatefulSetStatus{ObservedGeneration: sts.Generation, Replicas: 3, CurrentRevision: "one-r1", UpdateRevision: "one-r2"}
		g.Expect(k8sClient.Status().Update(context.Background(), sts)).To(Succeed())
	}, timeout, poll).Should(Succeed())
	Eventually(func(g Gomega) {
		kubelet.sync(g)
		var pods corev1.PodList
		g.Expect(k8sClient.List(context.Background(), &pods, client.InNamespace(ns))).To(Succeed())
		g.Expect(pods.Items).To(HaveLen(3))
		for _, p := range pods.Items {
			g.Expect(p.Labels).To(HaveKeyWithValue(appsv1.ControllerRevisionHashLabelKey, "one-r2"), "pod %s", p.Name)
		}
		// Until the last pod is made again (a deleted pod is missing from the list above).
		g.Expect(kubelet.made).To(HaveLen(3))
	}, 90*time.Second, 300*time.Millisecond).Should(Succeed())
	Expect(kubelet.made).To(Equal([]string{"one-2", "one-1", "one-0"}), "followers first, highest ordinal first, the leader last")
	kubelet.waitZone("one-0", "one-1", "one-2")

	// A new OpenNebula version is not rolled: the zone's upgrade needs the steps the
	// message gives, and the StatefulSet keeps its image meanwhile. (The operator learns
	// the running version from oned once the pods are ready.)
	Eventually(func(g Gomega) {
		sts := get(g, ns, "one", &appsv1.StatefulSet{})
		sts.Status = appsv1.StatefulSetStatus{ObservedGeneration: sts.Generation, Replicas: 3, ReadyReplicas: 3, AvailableReplicas: 3,
			CurrentReplicas: 3, UpdatedReplicas: 3, CurrentRevision: "one-r2", UpdateRevision: "one-r2"}
		g.Expect(k8sClient.Status().Update(context.Background(), sts)).To(Succeed())
	}, timeout, poll).Should(Succeed())
	Eventually(func(g Gomega) {
		g.Expect(get(g, ns, "one", &opennebulav1alpha1.OpenNebulaFrontend{}).Status.Version).To(Equal(onedtest.Version))
	}, timeout, poll).Should(Succeed())
	image := get(Default, ns, "one", &appsv1.StatefulSet{}).Spec.Template.Spec.Containers[0].Image
	editFrontend(ns, func(fe *opennebulav1alpha1.OpenNebulaFrontend) {
		fe.Spec.Image = "registry.test/opennebula:7.4.0"
	})
	Eventually(func(g Gomega) {
		kubelet.sync(g)
		fe := get(g, ns, "one", &opennebulav1alpha1.OpenNebulaFrontend{})
		c := condition(g, fe, opennebulav1alpha1.ConditionDegraded)
		g.Expect(c.Reason).To(Equal(opennebulav1alpha1.ReasonZoneUpgradeRefused))
		g.Expect(c.Message).To(ContainSubstring("set replicas to 1"))
	}, 30*time.Second, 300*time.Millisecond).Should(Succeed())
	Consistently(func(g Gomega) {
		g.Expect(get(g, ns, "one", &appsv1.StatefulSet{}).Spec.Template.Spec.Containers[0].Image).To(Equal(image))
	}, 2*time.Second, 300*time.Millisecond).Should(Succeed())
}

func TestRaftZoneScales(t *testing.T) {
	RegisterTestingT(t)
	ns, kubelet := createZoneOfThree(t)
	kubelet.waitZone("one-0", "one-1", "one-2")

	scale := func(n int32) {
		editFrontend(ns, func(fe *opennebulav1alpha1.OpenNebulaFrontend) {
			fe.Spec.Replicas = new(n)
		})
	}
	scale(5)
	kubelet.waitZone("one-0", "one-1", "one-2", "one-3", "one-4")
	scale(3)
	kubelet.waitZone("one-0", "one-1", "one-2")
	// The zone itself lists the three left: they were removed with delserver.
	z, err := kubelet.zone.Leader().Client(t).ZoneInfo(context.Background(), 0)
	Expect(err).NotTo(HaveOccurred())
	Expect(z.Servers).To(HaveLen(3))
	scale(1)
	kubelet.waitZone("one-0")
	Expect(get(Default, ns, builder.NamesFor("one").StatefulSet, &appsv1.StatefulSet{}).Spec.Replicas).To(HaveValue(BeNumerically("==", 1)))
}

// Two servers claiming leadership: the higher term gets the label. A pod whose volume was
// lost is reseeded by its init container, and the leader is told once (resetserver), the
// pod marked so that the next passes do not tell it again.
func TestRaftZoneClaimsAndReseed(t *testing.T) {
	RegisterTestingT(t)
	ns, kubelet := createZoneOfThree(t)
	kubelet.waitZone("one-0", "one-1", "one-2")

	// one-2 claims a newer term than the zone's leader (one-0) has: it leads.
	kubelet.servers["one-2"].ClaimLeadership(kubelet.zone.Term() + 1)
	Eventually(func(g Gomega) {
		roles := kubelet.roles(g)
		g.Expect(roles["one-2"]).To(Equal(builder.RaftRoleLeader))
		g.Expect(roles["one-0"]).NotTo(Equal(builder.RaftRoleLeader))
	}, 30*time.Second, 300*time.Millisecond).Should(Succeed())
	kubelet.servers["one-2"].Stop(t)
	kubelet.servers["one-2"].StartAs(t, kubelet.servers["one-2"].ID()) // back as a follower

	// one-1 loses its volume: its pod is made again and reseeds.
	kubelet.servers["one-1"].Stop(t)
	kubelet.servers["one-1"].Wipe()
	pod := get(Default, ns, "one-1", &corev1.Pod{})
	Expect(k8sClient.Delete(context.Background(), pod)).To(Succeed())
	Eventually(func(g Gomega) {
		kubelet.sync(g)
		p := get(g, ns, "one-1", &corev1.Pod{})
		g.Expect(p.UID).NotTo(Equal(pod.UID))
		g.Expect(p.Annotations).To(HaveKeyWithValue(AnnotationRaftReset, string(p.UID)), "the leader was told of the reseed")
	}, 30*time.Second, 300*time.Millisecond).Should(Succeed())
}

// reportStatefulSetReady plays the StatefulSet controller: every pod the zone's
// StatefulSet asks for is ready (written only when its status says otherwise).
func reportStatefulSetReady(g Gomega, ns string) {
	sts := get(g, ns, "one", &appsv1.StatefulSet{})
	n := ptr.Deref(sts.Spec.Replicas, 1)
	want := appsv1.StatefulSetStatus{ObservedGeneration: sts.Generation, Replicas: n, ReadyReplicas: n, AvailableReplicas: n,
		CurrentReplicas: n, UpdatedReplicas: n, CurrentRevision: "one-r1", UpdateRevision: "one-r1"}
	if equality.Semantic.DeepEqual(sts.Status, want) {
		return
	}
	sts.Status = want
	g.Expect(k8sClient.Status().Update(context.Background(), sts)).To(Succeed())
}
