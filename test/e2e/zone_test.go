//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opennebulav1alpha1 "github.com/opennebula-operator/opennebula-operator/api/v1alpha1"
	"github.com/opennebula-operator/opennebula-operator/internal/builder"
	"github.com/opennebula-operator/opennebula-operator/internal/oned/onedtest"
	"github.com/opennebula-operator/opennebula-operator/internal/testenv"
)

// A Raft zone on the local cluster, driven by the real manager binary: a solo frontend
// scaled to 3 becomes a Ready zone whose leader's pod is the only endpoint of the
// external Service; when that server dies the label, the endpoint and status.raft follow
// the new leader; 3 → 5 → 3 with a lower server down removes the right pods.
//
// kwok runs no process, so the test registers a node of its own (kwok plays only the
// nodes kwokctl made, hack/local-cluster.sh) and plays that node's kubelet: each frontend
// pod bound to it runs a double oned as its start wrapper and seed init container would
// (testenv.RunFrontendPod, as in envtest), and its status (phase, IP, containers, and
// Ready from the readiness gate the operator sets) is what the kubelet would report. The
// manager runs outside the cluster and reaches the pods' and the Service's DNS names
// through an HTTP proxy (Go's standard HTTP_PROXY) that stands for the cluster network:
// a pod's name goes to that pod's double, the Service's to the pod its EndpointSlice
// names, as kube-proxy would. Everything else is the real cluster: the StatefulSet,
// EndpointSlice, disruption and garbage collection controllers, the scheduler.
func TestRaftZoneBecomesReadyOnTheLocalCluster(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := "e2e-zone"
	createNamespace(t, ns)
	// The election delay of the double is the default of oned's RAFT block
	// (builder.DefaultRaftTiming): the failover time measured here is the one users see.
	election := time.Duration(builder.DefaultRaftTiming.ElectionTimeoutMS) * time.Millisecond
	kubelet := startTestKubelet(t, ns, "zone", onedtest.WithElectionDelay(election))
	network := startClusterNetwork(t, kubelet)

	logPath := filepath.Join(t.TempDir(), "manager.log")
	m, err := startManagerProcess(kubeconfig, []string{"WATCH_NAMESPACE=" + ns,
		"HTTP_PROXY=http://" + network, "http_proxy=", "NO_PROXY=", "no_proxy="}, logPath, "--check-oned=true")
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() {
		m.stop()
		if t.Failed() {
			if b, err := os.ReadFile(logPath); err == nil {
				t.Logf("manager log (last 8KiB):\n%s", tail(b, 8192))
			}
		}
	})
	kubelet.run(t)

	g.Expect(k8sClient.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "oneadmin", Namespace: ns},
		StringData: map[string]string{"password": onedtest.Password}})).To(Succeed())
	fe := &opennebulav1alpha1.OpenNebulaFrontend{ObjectMeta: metav1.ObjectMeta{Name: "zone", Namespace: ns}}
	fe.Spec.Replicas = new(int32(1))
	fe.Spec.Admin.PasswordSecretRef = &opennebulav1alpha1.SecretKeySelector{Name: "oneadmin", Key: "password"}
	fe.Spec.Pod.NodeSelector = map[string]string{corev1.LabelHostname: kubelet.node}
	fe.Spec.Pod.Tolerations = []corev1.Toleration{{Key: testKubeletTaint, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}}
	g.Expect(k8sClient.Create(ctx, fe)).To(Succeed())
	names := builder.NamesFor(fe.Name)
	scale := func(n int32) {
		g.Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(fe), fe)).To(Succeed())
			fe.Spec.Replicas = new(n)
			g.Expect(k8sClient.Update(ctx, fe)).To(Succeed())
		}, 30*time.Second, time.Second).Should(Succeed())
	}
	// zoneReady waits until the frontend is Ready with n servers led by one of them, the
	// pods labelled so, the external Service on the leader alone, and the budget counting
	// n healthy pods; it returns the leader.
	zoneReady := func(n int, timeout time.Duration) string {
		var leader string
		g.Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(fe), fe)).To(Succeed())
			ready := meta.FindStatusCondition(fe.Status.Conditions, opennebulav1alpha1.ConditionReady)
			g.Expect(ready).NotTo(BeNil())
			g.Expect(ready.Status).To(Equal(metav1.ConditionTrue), "%s: %s", ready.Reason, ready.Message)
			g.Expect(fe.Status.Raft).NotTo(BeNil())
			g.Expect(fe.Status.Raft.Servers).To(HaveLen(n), "%+v", fe.Status.Raft.Servers)
			leader = fe.Status.Raft.Leader
			g.Expect(kubelet.roles(g)).To(Equal(rolesWithLeader(names.StatefulSet, n, leader)))
			g.Expect(serviceEndpoints(g, ns, names.ExternalService)).To(ConsistOf(leader), "every port goes to the leader only")
			g.Expect(serviceEndpoints(g, ns, names.HeadlessService)).To(HaveLen(n), "the headless Service keeps every server")
			onedReachable := meta.FindStatusCondition(fe.Status.Conditions, opennebulav1alpha1.ConditionOnedReachable)
			g.Expect(onedReachable).NotTo(BeNil())
			g.Expect(onedReachable.Status).To(Equal(metav1.ConditionTrue), "oned answers through the external Service: %s", onedReachable.Message)

			pdb := &policyv1.PodDisruptionBudget{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: names.StatefulSet}, pdb)).To(Succeed())
			g.Expect(pdb.Spec.MaxUnavailable).To(Equal(new(intstr.FromInt32(1))))
			g.Expect(pdb.Status.CurrentHealthy).To(Equal(int32(n)), "the disruption controller counts the ready servers")
			g.Expect(pdb.Status.DisruptionsAllowed).To(Equal(int32(1)))
		}, timeout, time.Second).Should(Succeed())
		return leader
	}

	// A solo frontend first: its StatefulSet keeps the default pod management.
	solo := &appsv1.StatefulSet{}
	claim := &corev1.PersistentVolumeClaim{}
	g.Eventually(func(g Gomega) {
		g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(fe), fe)).To(Succeed())
		ready := meta.FindStatusCondition(fe.Status.Conditions, opennebulav1alpha1.ConditionReady)
		g.Expect(ready).NotTo(BeNil())
		g.Expect(ready.Status).To(Equal(metav1.ConditionTrue), "%s: %s", ready.Reason, ready.Message)
		g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: names.StatefulSet}, solo)).To(Succeed())
		g.Expect(solo.Spec.PodManagementPolicy).To(Equal(appsv1.OrderedReadyPodManagement))
		g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "data-" + names.StatefulSet + "-0"}, claim)).To(Succeed())
	}, 2*time.Minute, time.Second).Should(Succeed())

	// 1 → 3: the zone's StatefulSet manages its pods in parallel (an immutable field: it
	// is replaced, the garbage collector orphaning the pod and claim), and the zone forms
	// around the running server.
	scaled := time.Now()
	scale(3)
	leader := zoneReady(3, 4*time.Minute)
	g.Expect(fe.Status.Raft.Leader).To(Equal(leader))
	servers := make([]string, 0, len(fe.Status.Raft.Servers))
	for _, s := range fe.Status.Raft.Servers {
		g.Expect(s.ID).NotTo(BeNil(), "server %s has the ID oned gave it", s.Name)
		servers = append(servers, fmt.Sprintf("%s (ID %d, %s)", s.Name, *s.ID, s.State))
	}
	t.Logf("zone formed from the solo frontend in %.0f s: %s", time.Since(scaled).Seconds(), strings.Join(servers, ", "))
	zoneSet := &appsv1.StatefulSet{}
	g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: names.StatefulSet}, zoneSet)).To(Succeed())
	g.Expect(zoneSet.UID).NotTo(Equal(solo.UID))
	g.Expect(zoneSet.Spec.PodManagementPolicy).To(Equal(appsv1.ParallelPodManagement))
	kept := &corev1.PersistentVolumeClaim{}
	g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(claim), kept)).To(Succeed())
	g.Expect(kept.UID).To(Equal(claim.UID), "the first server's volume is kept")
	replaced, err := testenv.EventMessages(ctx, k8sClient, ns, "Replaced")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(replaced).To(ContainElement(ContainSubstring("spec.podManagementPolicy")))

	// The leader's oned dies and stays down (its container crash-loops): the two others
	// elect a new leader, the operator labels it, and the external Service follows.
	killed := time.Now()
	kubelet.hold(leader)
	var newLeader string
	g.Eventually(func(g Gomega) {
		roles := kubelet.roles(g)
		g.Expect(roles[leader]).NotTo(Equal(builder.RaftRoleLeader), "the dead leader's label is removed")
		newLeader = ""
		for pod, role := range roles {
			if role == builder.RaftRoleLeader {
				newLeader = pod
			}
		}
		g.Expect(newLeader).NotTo(BeEmpty(), "a new leader is labelled: %v", roles)
		g.Expect(serviceEndpoints(g, ns, names.ExternalService)).To(ConsistOf(newLeader))
	}, 2*time.Minute, 100*time.Millisecond).Should(Succeed())
	t.Logf("failover: %s leads %.1f s after %s died (election delay %s)", newLeader, time.Since(killed).Seconds(),
		leader, election)
	g.Eventually(func(g Gomega) {
		g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(fe), fe)).To(Succeed())
		g.Expect(fe.Status.Raft.Leader).To(Equal(newLeader))
		changes, err := testenv.EventMessages(ctx, k8sClient, ns, "RaftLeaderChanged")
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(changes).To(ContainElement(ContainSubstring("is now " + newLeader + " ")))
	}, time.Minute, time.Second).Should(Succeed())

	// The old leader comes back: it rejoins as a follower and the zone is whole again.
	kubelet.release(leader)
	g.Expect(zoneReady(3, 2*time.Minute)).To(Equal(newLeader))

	// 3 → 5, then 5 → 3 while a lower server is down: the StatefulSet controller deletes
	// the removed servers' pods without waiting for it (OrderedReady would wait, and keep
	// the servers removed with delserver running).
	scale(5)
	leader = zoneReady(5, 3*time.Minute)
	down := ""
	for i := range 3 {
		if pod := names.StatefulSet + "-" + strconv.Itoa(i); pod != leader && down == "" {
			down = pod
		}
	}
	kubelet.hold(down)
	scale(3)
	g.Eventually(func(g Gomega) {
		for _, pod := range []string{names.StatefulSet + "-3", names.StatefulSet + "-4"} {
			err := k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: pod}, &corev1.Pod{})
			g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "pod %s of a removed server is deleted (%v)", pod, err)
		}
		g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(fe), fe)).To(Succeed())
		listed := make([]string, 0, len(fe.Status.Raft.Servers))
		for _, s := range fe.Status.Raft.Servers {
			listed = append(listed, s.Name)
		}
		g.Expect(listed).To(ConsistOf(names.StatefulSet+"-0", names.StatefulSet+"-1", names.StatefulSet+"-2"))
	}, 2*time.Minute, time.Second).Should(Succeed())
	kubelet.release(down)
	zoneReady(3, 2*time.Minute)
}

// rolesWithLeader is the role label of every pod of a zone of n led by leader.
func rolesWithLeader(prefix string, n int, leader string) map[string]string {
	roles := map[string]string{}
	for i := range n {
		pod := prefix + "-" + strconv.Itoa(i)
		roles[pod] = builder.RaftRoleFollower
		if pod == leader {
			roles[pod] = builder.RaftRoleLeader
		}
	}
	return roles
}

// serviceEndpoints names the pods the Service's EndpointSlices list as ready.
func serviceEndpoints(g Gomega, ns, service string) []string {
	pods, err := readyEndpoints(context.Background(), ns, service)
	g.Expect(err).NotTo(HaveOccurred())
	return pods
}

// readyEndpoints names the pods the Service's EndpointSlices list as ready (a nil Ready
// condition counts as ready, as the EndpointSlice API says).
func readyEndpoints(ctx context.Context, ns, service string) ([]string, error) {
	var slices discoveryv1.EndpointSliceList
	if err := k8sClient.List(ctx, &slices, client.InNamespace(ns), client.MatchingLabels{discoveryv1.LabelServiceName: service}); err != nil {
		return nil, err
	}
	var pods []string
	for _, s := range slices.Items {
		for _, ep := range s.Endpoints {
			if ep.TargetRef != nil && ep.TargetRef.Kind == "Pod" && (ep.Conditions.Ready == nil || *ep.Conditions.Ready) {
				pods = append(pods, ep.TargetRef.Name)
			}
		}
	}
	return pods, nil
}

// testKubeletTaint keeps every other pod off the test's node.
const testKubeletTaint = "opennebula.io/e2e-kubelet"

// testKubelet is the kubelet of a node the test registers: for the pods of frontend fe
// bound to it, it runs a double oned per pod (the zone's doubles know each other by pod
// name, as the servers of a zone do by their headless DNS names) and reports their
// status; it renews the node's lease so that the node lifecycle controller keeps it
// Ready.
type testKubelet struct {
	node, ns, fe string
	zone         *onedtest.Zone

	mu      sync.Mutex
	servers map[string]*onedtest.Server
	uids    map[string]types.UID
	held    map[string]bool
}

// startTestKubelet registers the node and makes the doubles of the frontend's first
// five pods (made here, so that they stop when the test ends, after the manager).
func startTestKubelet(t *testing.T, ns, fe string, opts ...onedtest.Option) *testKubelet {
	t.Helper()
	ctx := context.Background()
	k := &testKubelet{node: ns + "-kubelet", ns: ns, fe: fe, zone: onedtest.NewPods(t, opts...),
		servers: map[string]*onedtest.Server{}, uids: map[string]types.UID{}, held: map[string]bool{}}
	for i := range 5 {
		pod := builder.NamesFor(fe).StatefulSet + "-" + strconv.Itoa(i)
		k.servers[pod] = k.zone.NewPod(t, pod)
	}
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: k.node, Labels: map[string]string{corev1.LabelHostname: k.node, corev1.LabelOSStable: "linux"}},
		Spec:       corev1.NodeSpec{Taints: []corev1.Taint{{Key: testKubeletTaint, Value: "true", Effect: corev1.TaintEffectNoSchedule}}},
	}
	if err := k8sClient.Create(ctx, node); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// The node's pods go with it (the pod garbage collector deletes pods bound to a
		// node that is gone); its lease is owned by it.
		if err := k8sClient.Delete(context.Background(), node); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("deleting node %s: %v", k.node, err)
		}
	})
	capacity := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("32"),
		corev1.ResourceMemory: resource.MustParse("128Gi"), corev1.ResourcePods: resource.MustParse("110")}
	// The node lifecycle controller may write the new node first: retry on conflict.
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(node), node); err != nil {
			return err
		}
		node.Status = corev1.NodeStatus{
			Capacity: capacity, Allocatable: capacity,
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady",
				Message: "the e2e test plays this node's kubelet", LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}},
			Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "10.99.0.1"}, {Type: corev1.NodeHostName, Address: k.node}},
		}
		return k8sClient.Status().Update(ctx, node)
	})
	if err != nil {
		t.Fatal(err)
	}
	lease := &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: k.node, Namespace: corev1.NamespaceNodeLease, OwnerReferences: []metav1.OwnerReference{{
			APIVersion: "v1", Kind: "Node", Name: k.node, UID: node.UID}}},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: &k.node, LeaseDurationSeconds: new(int32(40)), RenewTime: &metav1.MicroTime{Time: time.Now()}},
	}
	if err := k8sClient.Create(ctx, lease); err != nil {
		t.Fatal(err)
	}
	return k
}

// run plays the kubelet until the test ends (stopped first of what the test started).
func (k *testKubelet) run(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		var renewed time.Time
		for {
			if time.Since(renewed) > 5*time.Second {
				if err := k.renewLease(ctx); err == nil {
					renewed = time.Now()
				}
			}
			if err := k.sync(ctx, t); err != nil && ctx.Err() == nil && !apierrors.IsConflict(err) {
				t.Logf("test kubelet: %v", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
}

func (k *testKubelet) renewLease(ctx context.Context) error {
	lease := &coordinationv1.Lease{}
	if err := k8sClient.Get(ctx, client.ObjectKey{Namespace: corev1.NamespaceNodeLease, Name: k.node}, lease); err != nil {
		return err
	}
	lease.Spec.RenewTime = &metav1.MicroTime{Time: time.Now()}
	return k8sClient.Update(ctx, lease)
}

// hold stops pod's oned and keeps it down (a crash-looping container) until release.
func (k *testKubelet) hold(pod string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.held[pod] = true
}

func (k *testKubelet) release(pod string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.held, pod)
}

// endpoint is the XML-RPC endpoint of pod's double ("" for a pod the kubelet has none of).
func (k *testKubelet) endpoint(pod string) string {
	k.mu.Lock()
	defer k.mu.Unlock()
	if s := k.servers[pod]; s != nil {
		return s.Endpoint()
	}
	return ""
}

func (k *testKubelet) roles(g Gomega) map[string]string {
	var pods corev1.PodList
	g.Expect(k8sClient.List(context.Background(), &pods, client.InNamespace(k.ns),
		client.MatchingLabels{builder.LabelComponent: builder.ValueComponent})).To(Succeed())
	out := map[string]string{}
	for _, p := range pods.Items {
		out[p.Name] = p.Labels[builder.LabelRaftRole]
	}
	return out
}

// sync does one pass of the kubelet over the pods bound to the node.
func (k *testKubelet) sync(ctx context.Context, t *testing.T) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	var pods corev1.PodList
	if err := k8sClient.List(ctx, &pods, client.InNamespace(k.ns), client.MatchingFields{"spec.nodeName": k.node}); err != nil {
		return err
	}
	ids := map[string]int{}
	record := &corev1.ConfigMap{}
	switch err := k8sClient.Get(ctx, client.ObjectKey{Namespace: k.ns, Name: builder.NamesFor(k.fe).RaftServers}, record); {
	case err == nil:
		var rerr error
		if ids, _, rerr = builder.RaftRecord(record); rerr != nil {
			return rerr
		}
	case !apierrors.IsNotFound(err):
		return err
	}
	var errs []error
	for i := range pods.Items {
		errs = append(errs, k.syncPod(ctx, t, &pods.Items[i], ids))
	}
	return errors.Join(errs...)
}

func (k *testKubelet) syncPod(ctx context.Context, t *testing.T, pod *corev1.Pod, ids map[string]int) error {
	srv := k.servers[pod.Name]
	if srv == nil {
		return fmt.Errorf("pod %s: the test kubelet runs only %s's first pods", pod.Name, k.fe)
	}
	if pod.DeletionTimestamp != nil {
		// Its containers are killed, then the kubelet removes the pod for good.
		if srv.Running() {
			srv.Stop(t)
		}
		return client.IgnoreNotFound(k8sClient.Delete(ctx, pod, client.GracePeriodSeconds(0),
			client.Preconditions{UID: &pod.UID}))
	}
	if k.uids[pod.Name] != pod.UID {
		// A new pod of that name: its containers start from nothing, its volume is kept.
		if srv.Running() {
			srv.Stop(t)
		}
		k.uids[pod.Name] = pod.UID
	}
	before := pod.Status.DeepCopy()
	if k.held[pod.Name] {
		if srv.Running() {
			srv.Stop(t)
		}
		pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: builder.ContainerName, RestartCount: 1,
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}}}
	} else {
		ok, err := testenv.RunFrontendPod(ctx, t, k8sClient, k.fe, srv, pod, ids)
		if err != nil || !ok {
			return err
		}
	}
	k.reportPod(pod, srv.Running())
	if equality.Semantic.DeepEqual(before, &pod.Status) {
		return nil
	}
	return k8sClient.Status().Update(ctx, pod)
}

// reportPod sets the pod's phase, addresses and conditions as the kubelet computes them:
// Ready when its containers run and every readiness gate's condition (the operator's
// opennebula.io/raft-member) is true.
func (k *testKubelet) reportPod(pod *corev1.Pod, running bool) {
	ordinal := pod.Name[strings.LastIndex(pod.Name, "-")+1:]
	pod.Status.HostIP = "10.99.0.1"
	pod.Status.HostIPs = []corev1.HostIP{{IP: pod.Status.HostIP}}
	n, _ := strconv.Atoi(ordinal)
	pod.Status.PodIP = "10.99.1." + strconv.Itoa(10+n)
	pod.Status.PodIPs = []corev1.PodIP{{IP: pod.Status.PodIP}}
	seed := builder.SeedState(pod)
	initialized := seed != nil && seed.Terminated != nil
	pod.Status.Phase = corev1.PodPending
	if initialized {
		pod.Status.Phase = corev1.PodRunning
	}
	if pod.Status.StartTime == nil {
		pod.Status.StartTime = new(metav1.Now())
	}
	// The sidecars run; the main container is as RunFrontendPod (or hold) left it.
	statuses := make([]corev1.ContainerStatus, 0, len(pod.Spec.Containers))
	for _, c := range pod.Spec.Containers {
		cs := corev1.ContainerStatus{Name: c.Name, Ready: initialized,
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "PodInitializing"}}}
		if initialized {
			cs.State = corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: *pod.Status.StartTime}}
		}
		if c.Name == builder.ContainerName {
			cs.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "PodInitializing"}}
			for _, main := range pod.Status.ContainerStatuses {
				if main.Name == c.Name {
					cs = main
				}
			}
			cs.Ready = initialized && running
		}
		statuses = append(statuses, cs)
	}
	pod.Status.ContainerStatuses = statuses
	gates := true
	for _, gate := range pod.Spec.ReadinessGates {
		c := podCondition(pod, gate.ConditionType)
		gates = gates && c != nil && c.Status == corev1.ConditionTrue
	}
	setPodCondition(pod, corev1.PodScheduled, true)
	setPodCondition(pod, corev1.PodInitialized, initialized)
	setPodCondition(pod, corev1.ContainersReady, initialized && running)
	setPodCondition(pod, corev1.PodReady, initialized && running && gates)
}

func podCondition(pod *corev1.Pod, t corev1.PodConditionType) *corev1.PodCondition {
	for i := range pod.Status.Conditions {
		if pod.Status.Conditions[i].Type == t {
			return &pod.Status.Conditions[i]
		}
	}
	return nil
}

func setPodCondition(pod *corev1.Pod, t corev1.PodConditionType, ok bool) {
	status := corev1.ConditionFalse
	if ok {
		status = corev1.ConditionTrue
	}
	if c := podCondition(pod, t); c != nil {
		if c.Status != status {
			c.Status, c.LastTransitionTime = status, metav1.Now()
		}
		return
	}
	pod.Status.Conditions = append(pod.Status.Conditions, corev1.PodCondition{Type: t, Status: status, LastTransitionTime: metav1.Now()})
}

// startClusterNetwork serves an HTTP proxy on loopback that stands for the cluster's
// network and DNS for the manager outside it: "<pod>.<headless service>.<ns>.svc" is
// that pod's double; "<service>.<ns>.svc" the double of the ready pod the Service's
// EndpointSlices name (kube-proxy's choice). Any other name fails as DNS would.
func startClusterNetwork(t *testing.T, k *testKubelet) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		target, err := k.resolve(r.Context(), r.URL.Hostname())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		proxy := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme, pr.Out.URL.Host, pr.Out.Host = target.Scheme, target.Host, target.Host
		}, ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			// A stopped server refuses connections: the manager sees a failed call.
			http.Error(w, err.Error(), http.StatusBadGateway)
		}}
		proxy.ServeHTTP(w, r)
	}), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return l.Addr().String()
}

func (k *testKubelet) resolve(ctx context.Context, host string) (*url.URL, error) {
	parts := strings.Split(host, ".")
	var pod string
	switch {
	case len(parts) == 4 && parts[1] == builder.NamesFor(k.fe).HeadlessService && parts[2] == k.ns && parts[3] == "svc":
		pod = parts[0]
	case len(parts) == 3 && parts[1] == k.ns && parts[2] == "svc":
		pods, err := readyEndpoints(ctx, k.ns, parts[0])
		if err != nil {
			return nil, err
		}
		if len(pods) == 0 {
			return nil, fmt.Errorf("service %s has no ready endpoint", host)
		}
		pod = pods[0]
	}
	endpoint := k.endpoint(pod)
	if endpoint == "" {
		return nil, fmt.Errorf("no such host: %s", host)
	}
	return url.Parse(endpoint)
}
