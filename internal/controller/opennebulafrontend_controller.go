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

package controller

import (
	"cmp"
	"context"
	"fmt"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	opennebulav1alpha1 "github.com/opennebula-operator/opennebula-operator/api/v1alpha1"
	"github.com/opennebula-operator/opennebula-operator/internal/apply"
	"github.com/opennebula-operator/opennebula-operator/internal/builder"
	"github.com/opennebula-operator/opennebula-operator/internal/status"
)

// OpenNebulaFrontendReconciler keeps a frontend's children as its spec says and reports
// what it sees in the frontend's status. It only fetches, compares, applies and
// reports: the desired objects come from package builder.
type OpenNebulaFrontendReconciler struct {
	client.Client
	// ServiceAddress says where the operator reaches a port of a frontend's external
	// Service ("host:port"), to call oned (one.system.version) and dial SSH for
	// OnedReachable and SSHReachable; "" for a frontend it cannot reach. nil turns the
	// checks off: main sets InClusterServiceAddress when the operator runs inside the
	// cluster, where Service names resolve; tests point it at a local oned or double.
	ServiceAddress func(fe *opennebulav1alpha1.OpenNebulaFrontend, port int32) string
	// PodEndpoint says where the operator reaches a frontend pod's oned (its XML-RPC
	// endpoint), to drive a Raft zone; nil turns Raft membership off. main sets
	// InClusterPodEndpoint; tests point pods at doubles.
	PodEndpoint func(fe *opennebulav1alpha1.OpenNebulaFrontend, pod string) string
	// OnedRecheck overrides onedRecheck, how often a ready frontend's oned is called
	// (tests shorten it).
	OnedRecheck time.Duration
	// ProblemRecheck overrides DefaultProblemRecheck (tests shorten it).
	ProblemRecheck time.Duration
	// RaftPoll overrides raftPoll, how often a zone's servers are asked who leads (tests
	// shorten it).
	RaftPoll time.Duration
	// RaftLagGrace overrides raftLagGrace (tests shorten it).
	RaftLagGrace time.Duration
	// raftLeaders remembers each zone's last leader (namespace/name → pod), for the
	// leader-change Event.
	raftLeaders sync.Map
	// raftSince remembers since when a zone's server is unreachable or behind
	// (namespace/pod → time.Time).
	raftSince sync.Map
	// onedChecks remembers the last dial per frontend (types.NamespacedName → timedCheck).
	onedChecks sync.Map
	// podSecretRefs remembers each frontend's pod Secret references (podSecretRefsMemo).
	podSecretRefs podSecretRefsMemo
	// APIReader reads past the cache: a name taken by an object the cache does not hold,
	// a user's Secret not labelled for the watch, a StorageClass.
	APIReader client.Reader
	Scheme    *runtime.Scheme
	Recorder  record.EventRecorder
	Options   builder.Options
	// applier is the one write path of the children (SetupWithManager makes it).
	applier *apply.Applier
}

// Event reasons; like condition reasons they are stable.
const (
	EventReasonCreated = "Created"
	// EventReasonRaftLeaderChanged: another server of the frontend's zone leads.
	EventReasonRaftLeaderChanged = "RaftLeaderChanged"
	EventReasonUpdated           = "Updated"
	EventReasonReplaced          = "Replaced"
	EventReasonExpanded          = "Expanded"
	EventReasonApplyFailed       = "ApplyFailed"
)

// +kubebuilder:rbac:groups=opennebula.io,resources=opennebulafrontends,verbs=get;list;watch
// +kubebuilder:rbac:groups=opennebula.io,resources=opennebulafrontends/status,verbs=patch
// +kubebuilder:rbac:groups=opennebula.io,resources=opennebulafrontends/finalizers,verbs=update
// +kubebuilder:rbac:groups=apps,resources=statefulsets,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=services;configmaps,verbs=get;list;watch;create;update;patch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create;patch
// +kubebuilder:rbac:groups="",resources=persistentvolumeclaims,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=networking.k8s.io,resources=ingresses,verbs=get;list;watch;create;update;patch
// +kubebuilder:rbac:groups=policy,resources=poddisruptionbudgets,verbs=get;list;watch;create;update;patch
// +kubebuilder:rbac:groups=storage.k8s.io,resources=storageclasses,verbs=get
// +kubebuilder:rbac:groups=scheduling.k8s.io,resources=priorityclasses,verbs=get
// Pods are only created as server-side dry runs (validateChildren: the one complete
// validation of a pod template); the StatefulSets the operator may create run pods anyway.
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups="",resources=pods/status,verbs=patch
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch

// reconcileState is what one reconcile observed (the status is computed from it) and
// what it did.
type reconcileState struct {
	status.Observation
	// changes lists what this reconcile created, updated, replaced and expanded.
	changes changeLog
	// unwatchedSecrets: the pod reads a Secret the operator does not watch.
	unwatchedSecrets bool
	// statefulSetCreated: this reconcile created the frontend's StatefulSet.
	statefulSetCreated bool
	// invalidSpec: the API server refused a child the spec renders (InvalidSpec).
	invalidSpec bool
	// raft: a Raft zone's record, pods, servers' answers and plan (nil: solo).
	raft *raftState
	// raftPoll: the zone is polled again after raftPoll.
	raftPoll bool
	// raftUndriven: a zone the operator cannot drive (it does not call oned).
	raftUndriven *status.Problem
}

// phase is one named step of a reconcile. All have one signature: they read and write
// through the reconciler, record what they saw in the state, report a problem the user
// must fix with st.Report (the first one reported is the one Degraded shows), and return
// an error only for a failure worth retrying.
type phase struct {
	name string
	run  func(r *OpenNebulaFrontendReconciler, ctx context.Context, fe *opennebulav1alpha1.OpenNebulaFrontend, st *reconcileState) error
	// check: skipped once a problem is known (its finding would not be shown, and it costs a read).
	check bool
	// always: runs after a failed phase too (it only observes).
	always bool
	// writes: skipped while the spec is invalid (nothing is written for a spec the API
	// server would refuse in part).
	writes bool
}

// phases are a reconcile's steps, in the order their fixes must be made.
var phases = []phase{
	{name: "validate children", run: (*OpenNebulaFrontendReconciler).validateChildren},
	{name: "ensure generated Secrets", run: (*OpenNebulaFrontendReconciler).ensureGeneratedSecrets, writes: true},
	{name: "observe inputs", run: (*OpenNebulaFrontendReconciler).observeInputs},
	{name: "observe Raft zone", run: (*OpenNebulaFrontendReconciler).observeRaft},
	{name: "check cluster references", run: (*OpenNebulaFrontendReconciler).checkClusterReferences, check: true},
	{name: "check version", run: (*OpenNebulaFrontendReconciler).checkVersion, check: true},
	{name: "apply children", run: (*OpenNebulaFrontendReconciler).applyChildren, writes: true},
	{name: "drive Raft zone", run: (*OpenNebulaFrontendReconciler).driveZone, writes: true},
	{name: "observe StatefulSet", run: (*OpenNebulaFrontendReconciler).observeStatefulSet, always: true},
	{name: "observe growth", run: (*OpenNebulaFrontendReconciler).observeGrowth},
	{name: "check reachability", run: (*OpenNebulaFrontendReconciler).checkReachability, always: true},
	{name: "keep keys", run: (*OpenNebulaFrontendReconciler).keepKeys, writes: true},
}

// Reconcile brings one frontend's children to their desired state and updates its status.
func (r *OpenNebulaFrontendReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	fe := &opennebulav1alpha1.OpenNebulaFrontend{}
	if err := r.Get(ctx, req.NamespacedName, fe); err != nil {
		if apierrors.IsNotFound(err) {
			r.onedChecks.Delete(req.NamespacedName)
			r.podSecretRefs.forget(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !fe.DeletionTimestamp.IsZero() {
		// Children carry owner references; the garbage collector removes them.
		return ctrl.Result{}, nil
	}
	if annotationTrue(fe, opennebulav1alpha1.AnnotationPaused) {
		return ctrl.Result{}, r.reportPaused(ctx, fe)
	}

	st := &reconcileState{}
	for _, ph := range phases {
		if (st.Err != nil && !ph.always) || (ph.check && st.Problem != nil) || (ph.writes && st.invalidSpec) {
			continue
		}
		if err := ph.run(r, ctx, fe, st); err != nil && st.Err == nil {
			st.Err = err
			ctrl.LoggerFrom(ctx).V(1).Info("reconcile phase failed", "phase", ph.name, "error", err.Error())
		}
	}
	st.changes.record(r.Recorder, fe)
	if apierrors.IsConflict(st.Err) {
		// Someone wrote the object between our read and our write: not a failure, and
		// not worth a Degraded flap or a Warning. Try again with the object as it now is.
		return ctrl.Result{RequeueAfter: conflictRetry}, nil
	}
	return r.report(ctx, fe, st)
}

// report writes the status (and an Event for a new problem) and says when to look again.
func (r *OpenNebulaFrontendReconciler) report(ctx context.Context, fe *opennebulav1alpha1.OpenNebulaFrontend, st *reconcileState) (ctrl.Result, error) {
	if p := st.Problem; p != nil {
		// One Event per new problem, not one per recheck.
		if prev := meta.FindStatusCondition(fe.Status.Conditions, opennebulav1alpha1.ConditionDegraded); prev == nil ||
			prev.Status != metav1.ConditionTrue || prev.Message != p.Message {
			r.Recorder.Eventf(fe, corev1.EventTypeWarning, p.Reason, "%s", p.Message)
		}
	}
	if wait := statusDeferred(fe, st); wait > 0 {
		return ctrl.Result{RequeueAfter: wait}, nil
	}
	if err := r.updateStatus(ctx, fe, status.Compute(fe, st.Observation, r.Options)); err != nil && st.Err == nil {
		st.Err = err
	}
	if st.Err != nil {
		return ctrl.Result{}, st.Err
	}
	if st.Problem != nil {
		// Nothing to retry at once: the user must act. Look again with a backoff-like delay,
		// as a referenced Secret or StorageClass is not watched.
		return ctrl.Result{RequeueAfter: cmp.Or(r.ProblemRecheck, DefaultProblemRecheck)}, nil
	}
	return ctrl.Result{RequeueAfter: r.recheck(st)}, nil
}

// statusDeferred says how long the first status write of a new frontend waits: while its
// StatefulSet, just created, has not been looked at by the StatefulSet controller, a
// status would say "0 replicas" and be overwritten within milliseconds, when that
// controller's own status update wakes this one. Waiting folds the two writes into one;
// statusDeferral bounds the wait (no StatefulSet controller, or a slow one).
func statusDeferred(fe *opennebulav1alpha1.OpenNebulaFrontend, st *reconcileState) time.Duration {
	sts := st.StatefulSet
	if st.Err != nil || st.Problem != nil || sts == nil || sts.Status.ObservedGeneration != 0 ||
		fe.Status.ObservedGeneration != 0 || len(fe.Status.Conditions) > 0 {
		return 0
	}
	return time.Until(sts.CreationTimestamp.Add(statusDeferral))
}

// observeStatefulSet reads the frontend's StatefulSet when this reconcile did not apply
// it (a problem held it back, or a write failed before it): Ready says whether the pods
// serve, which neither changes.
func (r *OpenNebulaFrontendReconciler) observeStatefulSet(ctx context.Context, fe *opennebulav1alpha1.OpenNebulaFrontend, st *reconcileState) error {
	if st.StatefulSet == nil {
		st.StatefulSet = r.cachedStatefulSet(ctx, fe)
	}
	return nil
}

// recheck is when a frontend with nothing left to do is looked at again (0: at its next
// event): to dial oned again, to follow a StatefulSet being replaced, and to read the
// Secrets no watch reports.
func (r *OpenNebulaFrontendReconciler) recheck(st *reconcileState) time.Duration {
	var recheck time.Duration
	if st.Oned.Checked {
		recheck = r.onedRecheck(st.Oned)
	}
	if len(st.Replacing) > 0 {
		// The StatefulSet's deletion wakes the controller; this is a safety net.
		recheck = replaceRecheck
	}
	if st.unwatchedSecrets {
		recheck = min(cmp.Or(recheck, SecretRecheck), SecretRecheck)
	}
	if st.raftPoll {
		poll := cmp.Or(r.RaftPoll, raftPoll)
		if st.raft != nil && st.raft.plan.Leader < 0 {
			poll = min(poll, raftPollLeaderless)
		}
		recheck = min(cmp.Or(recheck, poll), poll)
	}
	return recheck
}

// reportPaused writes nothing but the status: which children differ from the spec, so
// the user knows what resuming will change.
func (r *OpenNebulaFrontendReconciler) reportPaused(ctx context.Context, fe *opennebulav1alpha1.OpenNebulaFrontend) error {
	st := &reconcileState{}
	st.StatefulSet = r.cachedStatefulSet(ctx, fe)
	st.Paused = &status.Pause{}
	if err := r.observeInputs(ctx, fe, st); err != nil {
		return err
	}
	st.Problem = nil // reported when resumed; paused says nothing about problems
	for _, desired := range builder.Build(fe, r.Options, st.Inputs) {
		differs, err := r.applier.Differs(ctx, fe, desired)
		if err != nil {
			st.Err = err
			break
		}
		if differs {
			gvk, err := apiutil.GVKForObject(desired, r.Scheme)
			if err != nil {
				st.Err = err
				break
			}
			st.Paused.Pending = append(st.Paused.Pending, gvk.Kind+" "+desired.GetName())
		}
	}
	if err := r.updateStatus(ctx, fe, status.Compute(fe, st.Observation, r.Options)); err != nil {
		return err
	}
	return st.Err
}

// cachedStatefulSet reads the frontend's StatefulSet from the cache.
func (r *OpenNebulaFrontendReconciler) cachedStatefulSet(ctx context.Context, fe *opennebulav1alpha1.OpenNebulaFrontend) *appsv1.StatefulSet {
	sts := &appsv1.StatefulSet{}
	key := client.ObjectKey{Namespace: fe.Namespace, Name: builder.NamesFor(fe.Name).StatefulSet}
	if err := r.applier.Get(ctx, key, sts); err != nil || !metav1.IsControlledBy(sts, fe) {
		return nil
	}
	return sts
}

// updateStatus writes the status, and only when it changed.
func (r *OpenNebulaFrontendReconciler) updateStatus(ctx context.Context, fe *opennebulav1alpha1.OpenNebulaFrontend, want opennebulav1alpha1.OpenNebulaFrontendStatus) error {
	if equality.Semantic.DeepEqual(fe.Status, want) {
		return nil
	}
	patch := client.MergeFrom(fe.DeepCopy())
	fe.Status = want
	if err := r.Status().Patch(ctx, fe, patch, client.FieldOwner(apply.FieldManager)); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("updating status: %w", err)
	}
	return nil
}
