package controller

// The Kubernetes side of a Raft zone (internal/raft plans and makes oned's calls): the
// phases "observe Raft zone" and "drive Raft zone", the pods' role labels and readiness
// gate, and the Runtime that keeps the record and the zone's keys.

import (
	"cmp"
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	opennebulav1alpha1 "github.com/opennebula-operator/opennebula-operator/api/v1alpha1"
	"github.com/opennebula-operator/opennebula-operator/internal/builder"
	"github.com/opennebula-operator/opennebula-operator/internal/oned"
	"github.com/opennebula-operator/opennebula-operator/internal/raft"
	"github.com/opennebula-operator/opennebula-operator/internal/status"
)

// AnnotationRaftReset, on a frontend pod, records the pod UID whose reseeded database the
// leader was told of (one.zone.resetserver): one reset per reseed.
const AnnotationRaftReset = "opennebula.io/raft-reset"

// raftView is what the planner needs from the pods, before the servers are asked
// (raft.Observe fills their statuses): names and endpoints by ordinal, which pods wait
// for their ID in their seed init container, which copied a lost database and were not
// reset yet. endpoint gives a pod's XML-RPC endpoint.
// seedFrom is the recorded seed source ("host port name"), mapped back to the pod whose
// database it is.
func raftView(fe *opennebulav1alpha1.OpenNebulaFrontend, pods []corev1.Pod, ids map[string]int, seedFrom string,
	sts statefulSetState, endpoint func(pod string) string) raft.View {
	byName := map[string]*corev1.Pod{}
	for i := range pods {
		byName[pods[i].Name] = &pods[i]
	}
	n := max(int(ptr.Deref(fe.Spec.Replicas, 1)), int(sts.replicas), len(pods))
	v := raft.View{Replicas: int(ptr.Deref(fe.Spec.Replicas, 1)), Recorded: ids}
	prefix := builder.NamesFor(fe.Name).StatefulSet
	for k := range n {
		name := prefix + "-" + strconv.Itoa(k)
		if seedFrom != "" && builder.SeedSource(fe, k) == strings.TrimSpace(seedFrom) {
			v.SeedFrom = name
		}
		s := raft.Server{Name: name, Endpoint: endpoint(name)}
		if pod := byName[name]; pod != nil && pod.DeletionTimestamp == nil {
			_, recorded := ids[name]
			init := builder.SeedState(pod)
			s.Waiting = !recorded && init != nil && init.Running != nil
			s.Reseeded = init != nil && init.Terminated != nil &&
				strings.TrimSpace(init.Terminated.Message) == builder.ReseededMessage &&
				pod.Annotations[AnnotationRaftReset] != string(pod.UID)
			// The StatefulSet updates OnDelete in a zone: a pod of an older revision is
			// restarted by the operator, in the planner's order.
			s.Outdated = sts.updateRevision != "" && pod.Labels[appsv1.ControllerRevisionHashLabelKey] != sts.updateRevision
		}
		v.Servers = append(v.Servers, s)
	}
	return v
}

// statefulSetState is what the planner reads of the frontend's StatefulSet: how many pods
// it keeps, and the revision of its current template.
type statefulSetState struct {
	replicas       int32
	updateRevision string
}

// raftTrouble names the first member that has been unreachable (its pod running) or
// behind the leader's commit for longer than raftLagGrace. The reconciler remembers since
// when, per server; a restarted operator starts counting again.
func (r *OpenNebulaFrontendReconciler) raftTrouble(fe *opennebulav1alpha1.OpenNebulaFrontend, rs *raftState, now time.Time) *status.Problem {
	grace := cmp.Or(r.RaftLagGrace, raftLagGrace)
	var leaderCommit int64 = -1
	if rs.plan.Leader >= 0 {
		leaderCommit = rs.view.Servers[rs.plan.Leader].Status.Commit
	}
	var first *status.Problem
	for _, s := range rs.view.Servers {
		key := fe.Namespace + "/" + s.Name
		_, member := rs.record[s.Name]
		pod := rs.pods[s.Name]
		var trouble *status.Problem
		switch {
		case !member || pod == nil || pod.DeletionTimestamp != nil:
		case s.Status == nil:
			trouble = &status.Problem{Reason: opennebulav1alpha1.ReasonRaftServerUnreachable,
				Message: fmt.Sprintf("Raft server %d (pod %s) does not answer one.zone.raftstatus", rs.record[s.Name], s.Name)}
		case leaderCommit >= 0 && s.Status.State == oned.RaftFollower && s.Status.LogIndex < leaderCommit:
			trouble = &status.Problem{Reason: opennebulav1alpha1.ReasonRaftServerLagging,
				Message: fmt.Sprintf("Raft server %d (pod %s) is behind the leader: log index %d, leader's commit %d",
					rs.record[s.Name], s.Name, s.Status.LogIndex, leaderCommit)}
		}
		if trouble == nil {
			r.raftSince.Delete(key)
			continue
		}
		since, _ := r.raftSince.LoadOrStore(key, now)
		if now.Sub(since.(time.Time)) >= grace && first == nil {
			first = trouble
		}
	}
	return first
}

// raftObservation is what status.raft reports of the servers: every pod recorded,
// answering or waiting to join.
func raftObservation(v raft.View, p raft.Plan, at time.Time) *status.RaftObservation {
	o := &status.RaftObservation{At: metav1.NewTime(at)}
	if p.Leader >= 0 {
		o.Leader, o.Term = v.Servers[p.Leader].Name, v.Servers[p.Leader].Status.Term
	}
	for _, s := range v.Servers {
		srv := opennebulav1alpha1.RaftServerStatus{Name: s.Name}
		id, recorded := v.Recorded[s.Name]
		if recorded {
			srv.ID = new(int32(id))
		}
		if srv.State = serverState(s, recorded); srv.State == "" {
			continue
		}
		if s.Status != nil {
			srv.Term, srv.Commit, srv.LogIndex = s.Status.Term, s.Status.Commit, s.Status.LogIndex
		}
		o.Servers = append(o.Servers, srv)
	}
	return o
}

// serverState is how status.raft names a server's state ("" for a pod that is neither
// answering, joining nor recorded).
func serverState(s raft.Server, recorded bool) string {
	switch {
	case s.Status != nil:
		return map[oned.RaftState]string{oned.RaftLeader: status.RaftStateLeader, oned.RaftFollower: status.RaftStateFollower,
			oned.RaftCandidate: status.RaftStateCandidate, oned.RaftSolo: status.RaftStateSolo}[s.Status.State]
	case s.Waiting:
		return status.RaftStateJoining
	case recorded:
		return status.RaftStateUnreachable
	}
	return ""
}

// raftRole is the label a pod's server gets from its own answer: the leader (or a solo
// server: it serves everything) "leader", a member following "follower", nothing while
// it does not answer or stands as a candidate.
func raftRole(st *raft.Server, leader bool) string {
	switch {
	case st.Status == nil:
		return ""
	case leader:
		return builder.RaftRoleLeader
	case st.Status.State == oned.RaftFollower:
		return builder.RaftRoleFollower
	}
	return ""
}

// raftLagGrace is how long a member may answer behind (unreachable, or its log behind
// the leader's commit) before Degraded names it: a member restarts, a follower trails a
// burst of writes for moments; only what lasts is a problem.
const raftLagGrace = 30 * time.Second

// raftPoll is how often the servers of a zone are asked who leads (one.zone.raftstatus):
// a leader change must reach the external Service's selector within seconds.
const raftPoll = 5 * time.Second

// raftPollLeaderless is how often a zone without a leader is asked: oned elects one
// ELECTION_TIMEOUT_MS (5 s) after its leader goes, and the new leader must reach the
// external Service within a second of winning, not up to a raftPoll later (the HA
// benchmark measured 9.7 s from the leader's stop to the new label with raftPoll alone).
const raftPollLeaderless = time.Second

// raftState is what the raft phases saw and decided in one reconcile.
type raftState struct {
	view raft.View
	plan raft.Plan
	// trouble is a server unreachable or lagging for too long: Degraded shows it unless
	// another problem comes first, but it holds nothing back (the StatefulSet's changes,
	// the plan's steps are how the zone recovers).
	trouble *status.Problem
	record  map[string]int
	seed    string
	pods    map[string]*corev1.Pod
	clients raft.Clients
}

// InClusterPodEndpoint is a frontend pod's XML-RPC endpoint through the headless Service,
// as the other servers of its zone reach it.
func InClusterPodEndpoint(fe *opennebulav1alpha1.OpenNebulaFrontend, pod string) string {
	host := fmt.Sprintf("%s.%s.%s.svc", pod, builder.NamesFor(fe.Name).HeadlessService, fe.Namespace)
	return oned.Endpoint(net.JoinHostPort(host, strconv.Itoa(int(builder.PortNumber(builder.PortOned)))))
}

// observeRaft reads a zone's record and pods, asks every server for its Raft status and
// plans the next membership step; the plan's pod count goes to the StatefulSet.
func (r *OpenNebulaFrontendReconciler) observeRaft(ctx context.Context, fe *opennebulav1alpha1.OpenNebulaFrontend, st *reconcileState) error {
	record := &corev1.ConfigMap{}
	key := client.ObjectKey{Namespace: fe.Namespace, Name: builder.NamesFor(fe.Name).RaftServers}
	switch err := r.applier.Get(ctx, key, record); {
	case apierrors.IsNotFound(err):
		record = nil
	case err != nil:
		return err
	}
	ids, seed, err := builder.RaftRecord(record)
	if err != nil {
		return err
	}
	st.Inputs.Raft.Formed = len(ids) > 0
	if !builder.HighAvailability(fe, st.Inputs) {
		return nil
	}
	if r.PodEndpoint == nil {
		// Nothing changes the membership without oned's API: a formed zone keeps the pods
		// it has; before one is formed only the first server runs (several would each
		// bootstrap a database of their own).
		st.Inputs.Raft.StatefulSetReplicas = 1
		if sts := r.cachedStatefulSet(ctx, fe); sts != nil && len(ids) > 0 {
			st.Inputs.Raft.StatefulSetReplicas = ptr.Deref(sts.Spec.Replicas, 1)
		}
		st.raftUndriven = &status.Problem{Reason: opennebulav1alpha1.ReasonRaftNotDriven, Message: fmt.Sprintf(
			"%d servers are asked for, but the operator runs with --check-oned=false: it forms and drives a Raft zone "+
				"through oned's API only, so the first server runs alone; run the operator with --check-oned "+
				"(the default in a cluster) or set replicas to 1", ptr.Deref(fe.Spec.Replicas, 1))}
		return nil
	}
	var pods corev1.PodList
	if err := r.List(ctx, &pods, client.InNamespace(fe.Namespace), client.MatchingFields{indexFrontendLabel: builder.NamesFor(fe.Name).FrontendLabel},
		client.MatchingLabels(builder.SelectorLabels(fe))); err != nil {
		return err
	}
	var stsState statefulSetState
	if sts := r.cachedStatefulSet(ctx, fe); sts != nil {
		stsState.replicas = ptr.Deref(sts.Spec.Replicas, 0)
		// The revision the pods should run, once the StatefulSet controller has seen the
		// latest template.
		if sts.Status.ObservedGeneration == sts.Generation {
			stsState.updateRevision = sts.Status.UpdateRevision
		}
	}
	password, err := r.adminPassword(ctx, fe)
	if err != nil {
		return err
	}
	rs := &raftState{record: ids, seed: seed, pods: map[string]*corev1.Pod{}}
	for i := range pods.Items {
		rs.pods[pods.Items[i].Name] = &pods.Items[i]
	}
	rs.clients = func(pod string) (*oned.Client, error) {
		return oned.New(r.PodEndpoint(fe, pod), oned.Admin(password), oned.WithTimeout(onedCallTimeout))
	}
	rs.view = raft.Observe(ctx, raftView(fe, pods.Items, ids, seed, stsState, func(pod string) string { return r.PodEndpoint(fe, pod) }), rs.clients)
	rs.plan = raft.Decide(rs.view)
	st.raft = rs
	now := time.Now()
	st.Raft = raftObservation(rs.view, rs.plan, now)
	rs.trouble = r.raftTrouble(fe, rs, now)
	st.Inputs.Raft.StatefulSetReplicas = int32(rs.plan.StatefulSetReplicas)
	return nil
}

// driveZone performs the plan's step and labels the pods with their servers' roles: the
// external Service follows the leader label. A label is removed before another pod gets
// "leader", so that the Service never selects two leaders.
func (r *OpenNebulaFrontendReconciler) driveZone(ctx context.Context, fe *opennebulav1alpha1.OpenNebulaFrontend, st *reconcileState) error {
	// The zone's problems are reported after the children were applied: they hold back
	// neither the StatefulSet nor the Services and budget (see raftState.trouble).
	st.Report(st.raftUndriven)
	rs := st.raft
	if rs == nil {
		return nil
	}
	st.raftPoll = true
	if err := r.checkZoneKeys(ctx, fe, st); err != nil {
		return err
	}
	st.Report(rs.trouble)
	if rs.plan.Step.Action != raft.Wait {
		ctrl.LoggerFrom(ctx).Info("Raft zone step", "step", rs.plan.Step.String())
		if err := raft.Execute(ctx, rs.plan, rs.view, rs.clients, &kubeRuntime{r: r, fe: fe, rs: rs}); err != nil {
			return err
		}
	}
	want := map[string]string{}
	for i := range rs.view.Servers {
		s := &rs.view.Servers[i]
		want[s.Name] = raftRole(s, i == rs.plan.Leader)
	}
	if rs.plan.Leader >= 0 {
		// The last leader this operator saw (the label may have gone in a pass without a
		// leader); after a restart of the operator, the pod labelled leader.
		now := rs.view.Servers[rs.plan.Leader]
		was := "unknown"
		if prev, ok := r.raftLeaders.Load(fe.Namespace + "/" + fe.Name); ok {
			was = prev.(string)
		} else {
			for name, pod := range rs.pods {
				if pod.Labels[builder.LabelRaftRole] == builder.RaftRoleLeader {
					was = name
				}
			}
		}
		r.raftLeaders.Store(fe.Namespace+"/"+fe.Name, now.Name)
		if now.Name != was {
			r.Recorder.Eventf(fe, corev1.EventTypeNormal, EventReasonRaftLeaderChanged,
				"Raft leader is now %s (term %d), was %s: the external Service follows it", now.Name, now.Status.Term, was)
		}
	}
	// Followers and the unlabelled first, the leader last.
	for pass := range 2 {
		for name, role := range want {
			pod := rs.pods[name]
			if pod == nil || (role == builder.RaftRoleLeader) != (pass == 1) || pod.Labels[builder.LabelRaftRole] == role {
				continue
			}
			patch := client.MergeFrom(pod.DeepCopy())
			if role == "" {
				delete(pod.Labels, builder.LabelRaftRole)
			} else {
				if pod.Labels == nil {
					pod.Labels = map[string]string{}
				}
				pod.Labels[builder.LabelRaftRole] = role
			}
			if err := r.Patch(ctx, pod, patch); err != nil && !apierrors.IsNotFound(err) {
				return err
			}
		}
	}
	return r.markMembers(ctx, rs, want)
}

// checkZoneKeys reports a formed zone whose Keys Secret is gone: its servers start only
// with it (the start wrapper waits), and it cannot be made again from oned alone (the
// serveradmin secret is not readable back), so the user must restore it.
func (r *OpenNebulaFrontendReconciler) checkZoneKeys(ctx context.Context, fe *opennebulav1alpha1.OpenNebulaFrontend, st *reconcileState) error {
	if len(st.raft.record) == 0 {
		return nil
	}
	name := builder.NamesFor(fe.Name).Keys
	err := r.applier.Get(ctx, client.ObjectKey{Namespace: fe.Namespace, Name: name}, &corev1.Secret{})
	if !apierrors.IsNotFound(err) {
		return err
	}
	st.Report(&status.Problem{Reason: opennebulav1alpha1.ReasonKeysMissing, Message: fmt.Sprintf(
		"Secret %s, which every server of the Raft zone starts with (one_key, fireedge_key, serveradmin), is missing: "+
			"restore it from a backup; a server that restarts waits for it", name)})
	return nil
}

// markMembers sets each pod's readiness gate (builder.ConditionRaftMember): a pod is
// ready only while its server leads or follows, not while it runs as a candidate, is
// unreachable, or waits to join. Written only when it changes.
func (r *OpenNebulaFrontendReconciler) markMembers(ctx context.Context, rs *raftState, roles map[string]string) error {
	for i := range rs.view.Servers {
		s := &rs.view.Servers[i]
		pod := rs.pods[s.Name]
		if pod == nil {
			continue
		}
		_, recorded := rs.view.Recorded[s.Name]
		cond := corev1.PodCondition{Type: builder.ConditionRaftMember, Status: corev1.ConditionFalse,
			Reason: cmp.Or(serverState(*s, recorded), status.RaftStateUnreachable)}
		if roles[s.Name] != "" {
			cond.Status = corev1.ConditionTrue
		}
		if live := podCondition(pod, builder.ConditionRaftMember); live != nil && live.Status == cond.Status && live.Reason == cond.Reason {
			continue
		}
		cond.LastTransitionTime = metav1.Now()
		cond.Message = "the server's Raft state, as the operator last read it (one.zone.raftstatus)"
		patch := client.StrategicMergeFrom(pod.DeepCopy())
		pod.Status.Conditions = append(slices.DeleteFunc(pod.Status.Conditions, func(c corev1.PodCondition) bool {
			return c.Type == builder.ConditionRaftMember
		}), cond)
		if err := r.Status().Patch(ctx, pod, patch); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	return nil
}

func podCondition(pod *corev1.Pod, t corev1.PodConditionType) *corev1.PodCondition {
	for i := range pod.Status.Conditions {
		if pod.Status.Conditions[i].Type == t {
			return &pod.Status.Conditions[i]
		}
	}
	return nil
}

// kubeRuntime carries out a plan's steps on Kubernetes: the record is a ConfigMap the
// pods read at start, a restart is a pod deletion (the StatefulSet makes it again).
type kubeRuntime struct {
	r  *OpenNebulaFrontendReconciler
	fe *opennebulav1alpha1.OpenNebulaFrontend
	rs *raftState
}

func (k *kubeRuntime) applyRecord(ctx context.Context) error {
	_, err := k.r.applier.Apply(ctx, k.fe, builder.RaftServersConfigMap(k.fe, k.rs.record, k.rs.seed), nil)
	return err
}

// Record implements raft.Runtime.
func (k *kubeRuntime) Record(ctx context.Context, server string, id int) error {
	k.rs.record[server] = id
	return k.applyRecord(ctx)
}

// Forget implements raft.Runtime.
func (k *kubeRuntime) Forget(ctx context.Context, server string) error {
	delete(k.rs.record, server)
	return k.applyRecord(ctx)
}

// SeedFrom implements raft.Runtime: the leader's database, as the seed script reads it.
func (k *kubeRuntime) SeedFrom(ctx context.Context, server string) error {
	ordinal, err := strconv.Atoi(server[strings.LastIndex(server, "-")+1:])
	if err != nil {
		return fmt.Errorf("pod %s has no ordinal", server)
	}
	k.rs.seed = builder.SeedSource(k.fe, ordinal)
	return k.applyRecord(ctx)
}

// Restart implements raft.Runtime: the pod is deleted, only if it is still the one seen.
func (k *kubeRuntime) Restart(ctx context.Context, server string) error {
	pod := k.rs.pods[server]
	if pod == nil {
		return nil
	}
	return k.restartPod(ctx, pod)
}

// restartPod deletes pod, only if it is still the one seen: its StatefulSet makes it
// again.
func (k *kubeRuntime) restartPod(ctx context.Context, pod *corev1.Pod) error {
	err := k.r.Delete(ctx, pod, client.Preconditions{UID: &pod.UID})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil
	}
	return err
}

// ShareKeys implements raft.Runtime: the Keys Secret is created once, owned by the
// frontend only when its secretRetentionPolicy is Delete (as the generated Secrets are),
// and never changed: an existing one is reused, whatever oneKey says.
func (k *kubeRuntime) ShareKeys(ctx context.Context, oneKey string) (string, error) {
	keys, err := builder.KeysSecret(k.fe, oneKey)
	if err != nil {
		return "", err
	}
	live := &corev1.Secret{}
	switch err := k.r.applier.Get(ctx, client.ObjectKeyFromObject(keys), live); {
	case err == nil:
		keys = live
	case !apierrors.IsNotFound(err):
		return "", err
	default:
		if k.fe.Spec.SecretRetentionPolicy == opennebulav1alpha1.SecretRetentionDelete {
			if err := controllerutil.SetControllerReference(k.fe, keys, k.r.Scheme); err != nil {
				return "", err
			}
		}
		// Taken: keys now holds the object in the way, checked below.
		if _, err := k.r.applier.Create(ctx, keys); err != nil {
			return "", fmt.Errorf("creating Secret %s: %w", keys.Name, err)
		}
	}
	if keys.Annotations[builder.AnnotationFrontendOf] != k.fe.Name {
		return "", fmt.Errorf("secret %s exists and was not made for this frontend: its keys cannot be kept there", keys.Name)
	}
	secret := keys.Data[builder.ServerAdminKey]
	if len(secret) == 0 {
		return "", fmt.Errorf("secret %s has no %s key", keys.Name, builder.ServerAdminKey)
	}
	return string(secret), nil
}

// Reseeded implements raft.Runtime: the pod is marked so that its reseed is told once.
func (k *kubeRuntime) Reseeded(ctx context.Context, server string) error {
	pod := k.rs.pods[server]
	if pod == nil {
		return nil
	}
	patch := client.MergeFrom(pod.DeepCopy())
	if pod.Annotations == nil {
		pod.Annotations = map[string]string{}
	}
	pod.Annotations[AnnotationRaftReset] = string(pod.UID)
	return k.r.Patch(ctx, pod, patch)
}
