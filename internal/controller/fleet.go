package controller

// The fleet controller keeps a frontend's OpenNebulaClusters and OpenNebulaHosts as their
// specs say, through its oned (internal/fleet). It reconciles per frontend: one pass reads
// the cluster and host pools once and syncs every object of that frontend against them,
// so oned sees two reads per frontend per pass however many hosts there are.

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	ctrlbuilder "sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	opennebulav1alpha1 "github.com/opennebula-operator/opennebula-operator/api/v1alpha1"
	"github.com/opennebula-operator/opennebula-operator/internal/apply"
	"github.com/opennebula-operator/opennebula-operator/internal/builder"
	"github.com/opennebula-operator/opennebula-operator/internal/fleet"
	"github.com/opennebula-operator/opennebula-operator/internal/oned"
	"github.com/opennebula-operator/opennebula-operator/internal/status"
)

// DefaultHostPoll is how often a frontend's host and cluster pools are read when nothing
// changes: a host's state (MONITORED, ERROR, ...) reaches its object within this.
const DefaultHostPoll = 30 * time.Second

// fleetSettle is how soon a pass that changed OpenNebula is followed by one that reads
// the result back.
const fleetSettle = time.Second

// indexFrontendRef indexes OpenNebulaHosts and OpenNebulaClusters by spec.frontendRef.name.
const indexFrontendRef = "opennebula.io/frontend-ref"

// EventReasonDeletedInOpenNebula and EventReasonLeftInOpenNebula: what happened in
// OpenNebula when an OpenNebulaHost or OpenNebulaCluster was deleted.
const (
	EventReasonDeletedInOpenNebula = "DeletedInOpenNebula"
	EventReasonLeftInOpenNebula    = "LeftInOpenNebula"
)

// +kubebuilder:rbac:groups=opennebula.io,resources=opennebulahosts;opennebulaclusters,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=opennebula.io,resources=opennebulahosts/status;opennebulaclusters/status,verbs=patch
// +kubebuilder:rbac:groups=opennebula.io,resources=opennebulahosts/finalizers;opennebulaclusters/finalizers,verbs=update

// FleetReconciler reconciles the OpenNebulaHosts and OpenNebulaClusters of one frontend.
type FleetReconciler struct {
	client.Client
	// APIReader reads the oneadmin password Secret when it is not in the cache.
	APIReader client.Reader
	Recorder  record.EventRecorder
	// ServiceAddress reaches a frontend's port from the operator (its external Service:
	// the leader in a zone); nil when the operator does not call oned.
	ServiceAddress func(fe *opennebulav1alpha1.OpenNebulaFrontend, port int32) string
	// Poll is how often the pools are read at rest (DefaultHostPoll when zero).
	Poll time.Duration
	// Timeout bounds each oned call (onedCallTimeout when zero).
	Timeout time.Duration

	// applier reads the oneadmin password Secret: from the cache, or past it (reused
	// between polls like the frontend controller's reads).
	applier *apply.Applier
}

// fleetObjects are a frontend's hosts and clusters, from the cache.
type fleetObjects struct {
	hosts    []opennebulav1alpha1.OpenNebulaHost
	clusters []opennebulav1alpha1.OpenNebulaCluster
}

// Reconcile syncs every host and cluster of the frontend req names.
func (r *FleetReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	objs, err := r.objectsOf(ctx, req.Namespace, req.Name)
	if err != nil || len(objs.hosts)+len(objs.clusters) == 0 {
		return ctrl.Result{}, err
	}
	poll := cmp.Or(r.Poll, DefaultHostPoll)
	if err := r.alignFinalizers(ctx, objs); err != nil {
		return ctrl.Result{}, err
	}
	fe := &opennebulav1alpha1.OpenNebulaFrontend{}
	if err := r.Get(ctx, req.NamespacedName, fe); err != nil {
		if client.IgnoreNotFound(err) != nil {
			return ctrl.Result{}, err
		}
		return ctrl.Result{RequeueAfter: poll}, r.frontendMissing(ctx, req.Name, objs)
	}
	c, problem := r.onedClient(ctx, fe)
	var pools *fleet.Pools
	if problem == nil {
		if pools, err = fleet.Read(ctx, c); err != nil {
			problem = onedProblem(err)
		}
	}
	if problem != nil {
		// Nothing can be synced: every object says why, deletions wait (nothing is
		// deleted in OpenNebula by a guess), and the pass is retried.
		return ctrl.Result{RequeueAfter: min(poll, 10*time.Second)}, r.reportAll(ctx, objs, problem)
	}
	changed, err := r.sync(ctx, c, pools, objs)
	if err != nil {
		return ctrl.Result{}, err
	}
	switch {
	case changed:
		return ctrl.Result{RequeueAfter: fleetSettle}, nil
	case monitoring(pools):
		// A host oned is monitoring for the first time, or again after enable, settles
		// within seconds: read it sooner than the poll.
		return ctrl.Result{RequeueAfter: min(poll, fleetTransition)}, nil
	}
	return ctrl.Result{RequeueAfter: poll}, nil
}

// fleetTransition is how soon the pools are read again while a host is in a transient
// state.
const fleetTransition = 5 * time.Second

// monitoring reports whether a host of the operator's (one carrying its record) is in a
// transient state (INIT or one of the MONITORING_* states, Host::HostState in
// include/Host.h): a host made by hand that stays in INIT does not speed the polls up.
func monitoring(p *fleet.Pools) bool {
	return slices.ContainsFunc(p.Hosts, func(h oned.Host) bool {
		if _, ours := h.Template.Get(fleet.AttrObject); !ours {
			return false
		}
		switch h.State {
		case oned.HostInit, oned.HostMonitoringMonitored, oned.HostMonitoringError, oned.HostMonitoringInit, oned.HostMonitoringDisabled:
			return true
		}
		return false
	})
}

func (r *FleetReconciler) objectsOf(ctx context.Context, ns, frontend string) (fleetObjects, error) {
	var objs fleetObjects
	var hosts opennebulav1alpha1.OpenNebulaHostList
	if err := r.List(ctx, &hosts, client.InNamespace(ns), client.MatchingFields{indexFrontendRef: frontend}); err != nil {
		return objs, err
	}
	var clusters opennebulav1alpha1.OpenNebulaClusterList
	if err := r.List(ctx, &clusters, client.InNamespace(ns), client.MatchingFields{indexFrontendRef: frontend}); err != nil {
		return objs, err
	}
	// A stable order: clusters before the hosts that need them, each by name.
	objs.hosts, objs.clusters = hosts.Items, clusters.Items
	slices.SortFunc(objs.hosts, func(a, b opennebulav1alpha1.OpenNebulaHost) int { return cmp.Compare(a.Name, b.Name) })
	slices.SortFunc(objs.clusters, func(a, b opennebulav1alpha1.OpenNebulaCluster) int { return cmp.Compare(a.Name, b.Name) })
	return objs, nil
}

// alignFinalizers puts the finalizer on objects whose deletionPolicy is Delete (before
// anything is made in OpenNebula for them) and takes it off the others.
func (r *FleetReconciler) alignFinalizers(ctx context.Context, objs fleetObjects) error {
	for _, o := range objs.all() {
		if err := r.alignFinalizer(ctx, o, deletionPolicy(o)); err != nil {
			return err
		}
	}
	return nil
}

// deletionPolicy is a host's or cluster's spec.deletionPolicy.
func deletionPolicy(o client.Object) opennebulav1alpha1.DeletionPolicy {
	switch o := o.(type) {
	case *opennebulav1alpha1.OpenNebulaHost:
		return o.Spec.DeletionPolicy
	case *opennebulav1alpha1.OpenNebulaCluster:
		return o.Spec.DeletionPolicy
	}
	return ""
}

func (r *FleetReconciler) alignFinalizer(ctx context.Context, o client.Object, policy opennebulav1alpha1.DeletionPolicy) error {
	want := policy != opennebulav1alpha1.DeletionPolicyRetain && o.GetDeletionTimestamp() == nil
	has := controllerutil.ContainsFinalizer(o, opennebulav1alpha1.FinalizerOpenNebulaObject)
	if want == has || (has && o.GetDeletionTimestamp() != nil && policy != opennebulav1alpha1.DeletionPolicyRetain) {
		return nil // a Delete object being deleted keeps it until OpenNebula's is gone
	}
	patch := client.MergeFrom(o.DeepCopyObject().(client.Object))
	if want {
		controllerutil.AddFinalizer(o, opennebulav1alpha1.FinalizerOpenNebulaObject)
	} else {
		controllerutil.RemoveFinalizer(o, opennebulav1alpha1.FinalizerOpenNebulaObject)
	}
	return client.IgnoreNotFound(r.Patch(ctx, o, patch))
}

// onedClient is an oneadmin client of the frontend's oned, through its external Service
// (the leader in a zone), or the problem that prevents one.
func (r *FleetReconciler) onedClient(ctx context.Context, fe *opennebulav1alpha1.OpenNebulaFrontend) (*oned.Client, *fleet.Problem) {
	if r.ServiceAddress == nil {
		return nil, &fleet.Problem{Reason: opennebulav1alpha1.ReasonFrontendNotReady,
			Message: "the operator runs with --check-oned=false: it calls no oned, so it cannot register hosts"}
	}
	addr := r.ServiceAddress(fe, builder.PortNumber(builder.PortOned))
	if addr == "" {
		return nil, &fleet.Problem{Reason: opennebulav1alpha1.ReasonFrontendNotReady, Message: "frontend " + fe.Name + " has no oned address yet"}
	}
	c, err := adminClient(ctx, r.applier, fe, oned.Endpoint(addr), cmp.Or(r.Timeout, onedCallTimeout))
	if err != nil {
		return nil, onedProblem(err)
	}
	return c, nil
}

// onedProblem is how a failed call to oned shows on every object of its frontend.
func onedProblem(err error) *fleet.Problem {
	reason := opennebulav1alpha1.ReasonOnedUnreachable
	switch {
	case oned.IsAuthentication(err):
		reason = opennebulav1alpha1.ReasonOnedAuthenticationFailed
	case isAdminPasswordError(err):
		reason = opennebulav1alpha1.ReasonSecretMissing
	}
	return &fleet.Problem{Reason: reason, Message: "the frontend's oned cannot be used: " + err.Error()}
}

func isAdminPasswordError(err error) bool {
	_, ok := errors.AsType[status.AdminPasswordError](err)
	return ok
}

// frontendMissing: the objects say so; one being deleted goes without anything deleted
// in OpenNebula (there is no oned to ask, and the cloud may still run elsewhere).
func (r *FleetReconciler) frontendMissing(ctx context.Context, frontend string, objs fleetObjects) error {
	p := &fleet.Problem{Reason: opennebulav1alpha1.ReasonFrontendNotFound,
		Message: fmt.Sprintf("OpenNebulaFrontend %s does not exist in this namespace; nothing is changed in OpenNebula until it does", frontend)}
	for _, o := range objs.all() {
		if o.GetDeletionTimestamp() != nil {
			if err := r.release(ctx, o, EventReasonLeftInOpenNebula,
				"frontend "+frontend+" does not exist: nothing was deleted in OpenNebula"); err != nil {
				return err
			}
		}
	}
	return r.reportAll(ctx, objs, p)
}

func (o fleetObjects) all() []client.Object {
	out := make([]client.Object, 0, len(o.clusters)+len(o.hosts))
	for i := range o.clusters {
		out = append(out, &o.clusters[i])
	}
	for i := range o.hosts {
		out = append(out, &o.hosts[i])
	}
	return out
}

// release takes the finalizer off an object being deleted, saying what happened in
// OpenNebula.
func (r *FleetReconciler) release(ctx context.Context, o client.Object, reason, message string) error {
	if !controllerutil.ContainsFinalizer(o, opennebulav1alpha1.FinalizerOpenNebulaObject) {
		return nil
	}
	patch := client.MergeFrom(o.DeepCopyObject().(client.Object))
	controllerutil.RemoveFinalizer(o, opennebulav1alpha1.FinalizerOpenNebulaObject)
	if err := r.Patch(ctx, o, patch); err != nil {
		return client.IgnoreNotFound(err)
	}
	r.Recorder.Event(o, corev1.EventTypeNormal, reason, message)
	return nil
}

// reportAll gives every object the same problem, keeping what else its status says.
func (r *FleetReconciler) reportAll(ctx context.Context, objs fleetObjects, p *fleet.Problem) error {
	for i := range objs.clusters {
		o := &objs.clusters[i]
		st := o.Status.DeepCopy()
		setProblem(&st.Conditions, o.Generation, p)
		if err := r.writeStatus(ctx, o, &o.Status, st); err != nil {
			return err
		}
	}
	for i := range objs.hosts {
		o := &objs.hosts[i]
		st := o.Status.DeepCopy()
		setProblem(&st.Conditions, o.Generation, p)
		if err := r.writeStatus(ctx, o, &o.Status, st); err != nil {
			return err
		}
	}
	return nil
}

// sync syncs the clusters, then the hosts (which name their cluster), and writes the
// statuses that changed. It reports whether OpenNebula was changed.
func (r *FleetReconciler) sync(ctx context.Context, c *oned.Client, pools *fleet.Pools, objs fleetObjects) (bool, error) {
	changed := false
	clusterNames := map[string]string{} // OpenNebulaCluster name → OpenNebula NAME
	for i := range objs.clusters {
		o := &objs.clusters[i]
		clusterNames[o.Name] = cmp.Or(o.Spec.Name, o.Name)
		res, err := fleet.SyncCluster(ctx, c, pools, desiredCluster(o))
		if err != nil {
			return changed, err
		}
		changed = changed || res.Changed
		if err := r.report(ctx, o, o.Spec.DeletionPolicy, res, &o.Status, func() any {
			return clusterStatus(o, pools.Cluster(clusterNames[o.Name]), res.Problem)
		}); err != nil {
			return changed, err
		}
	}
	for i := range objs.hosts {
		o := &objs.hosts[i]
		want := desiredHost(o)
		var missing *fleet.Problem
		if ref := o.Spec.ClusterRef; ref != nil {
			name, ok := clusterNames[ref.Name]
			if !ok {
				missing = &fleet.Problem{Reason: opennebulav1alpha1.ReasonClusterNotFound,
					Message: "clusterRef names OpenNebulaCluster " + ref.Name + ", which does not exist in this namespace for this frontend"}
			}
			want.Cluster = name
		}
		res := fleet.Result{ID: -1, Problem: missing}
		if missing == nil || want.Delete {
			var err error
			if res, err = fleet.SyncHost(ctx, c, pools, want); err != nil {
				return changed, err
			}
		}
		changed = changed || res.Changed
		if err := r.report(ctx, o, o.Spec.DeletionPolicy, res, &o.Status, func() any {
			return hostStatus(o, pools.Host(o.Spec.Hostname), res.Problem)
		}); err != nil {
			return changed, err
		}
	}
	return changed, nil
}

// report finishes an object's sync: one being deleted goes once OpenNebula's has, and
// the status of one that changed nothing is written when it differs (desired makes it
// from the pools; after a change they are stale, and the next pass, a second later,
// reports).
func (r *FleetReconciler) report(ctx context.Context, o client.Object, policy opennebulav1alpha1.DeletionPolicy,
	res fleet.Result, live any, desired func() any) error {
	if err := r.finish(ctx, o, policy, res); err != nil || res.Changed || res.Gone {
		return err
	}
	return r.writeStatus(ctx, o, live, desired())
}

// finish lets an object being deleted go once OpenNebula's is gone (or it is Retain).
func (r *FleetReconciler) finish(ctx context.Context, o client.Object, policy opennebulav1alpha1.DeletionPolicy, res fleet.Result) error {
	if o.GetDeletionTimestamp() == nil {
		return nil
	}
	if policy == opennebulav1alpha1.DeletionPolicyRetain {
		return r.release(ctx, o, EventReasonLeftInOpenNebula, "deletionPolicy is Retain: it stays in OpenNebula")
	}
	if res.Gone {
		return r.release(ctx, o, EventReasonDeletedInOpenNebula, "deleted in OpenNebula")
	}
	return nil
}

func desiredObject(o metav1.Object, name string, template map[string]string, id *int32) fleet.Object {
	known := -1
	if id != nil {
		known = int(*id)
	}
	return fleet.Object{Key: o.GetNamespace() + "/" + o.GetName(), Name: name, Template: template,
		Adopt: annotationTrue(o, opennebulav1alpha1.AnnotationAdopt), KnownID: known}
}

// annotationTrue: the annotation is set to "true", the API's way to switch a behaviour on.
func annotationTrue(o metav1.Object, key string) bool {
	return o.GetAnnotations()[key] == "true"
}

func deleting(o client.Object, policy opennebulav1alpha1.DeletionPolicy) bool {
	return o.GetDeletionTimestamp() != nil && policy != opennebulav1alpha1.DeletionPolicyRetain
}

func desiredCluster(o *opennebulav1alpha1.OpenNebulaCluster) *fleet.Cluster {
	return &fleet.Cluster{
		Object:     desiredObject(o, cmp.Or(o.Spec.Name, o.Name), o.Spec.Template, o.Status.ID),
		Datastores: ints(o.Spec.Datastores), VNets: ints(o.Spec.VNets),
		Delete: deleting(o, o.Spec.DeletionPolicy),
	}
}

func desiredHost(o *opennebulav1alpha1.OpenNebulaHost) *fleet.Host {
	statuses := map[opennebulav1alpha1.HostDesiredState]oned.HostStatus{
		opennebulav1alpha1.HostDisabled: oned.HostStatusDisabled, opennebulav1alpha1.HostOffline: oned.HostStatusOffline,
	}
	return &fleet.Host{
		Object: desiredObject(o, o.Spec.Hostname, o.Spec.Template, o.Status.ID),
		IMMad:  cmp.Or(o.Spec.IMMad, "kvm"), VMMad: cmp.Or(o.Spec.VMMad, "kvm"),
		Status: statuses[o.Spec.State], // Enabled (the zero value) otherwise
		Delete: deleting(o, o.Spec.DeletionPolicy),
	}
}

// ints keeps nil (not managed) apart from empty (none).
func ints(in []int32) []int {
	if in == nil {
		return nil
	}
	out := make([]int, 0, len(in))
	for _, v := range in {
		out = append(out, int(v))
	}
	return out
}

func int32s(in []int) []int32 {
	out := make([]int32, 0, len(in))
	for _, v := range in {
		out = append(out, int32(v))
	}
	return out
}

// setProblem sets Degraded (and Ready False) for p; nil clears Degraded.
func setProblem(conds *[]metav1.Condition, gen int64, p *fleet.Problem) {
	if p == nil {
		meta.SetStatusCondition(conds, metav1.Condition{Type: opennebulav1alpha1.ConditionDegraded, Status: metav1.ConditionFalse,
			Reason: opennebulav1alpha1.ReasonAsExpected, Message: "as its spec says", ObservedGeneration: gen})
		return
	}
	meta.SetStatusCondition(conds, metav1.Condition{Type: opennebulav1alpha1.ConditionDegraded, Status: metav1.ConditionTrue,
		Reason: p.Reason, Message: p.Message, ObservedGeneration: gen})
	if c := meta.FindStatusCondition(*conds, opennebulav1alpha1.ConditionReady); c == nil || c.Status == metav1.ConditionTrue || c.ObservedGeneration != gen {
		meta.SetStatusCondition(conds, metav1.Condition{Type: opennebulav1alpha1.ConditionReady, Status: metav1.ConditionFalse,
			Reason: p.Reason, Message: p.Message, ObservedGeneration: gen})
	}
}

// clusterStatus is the cluster as the pool shows it.
func clusterStatus(o *opennebulav1alpha1.OpenNebulaCluster, live *oned.Cluster, p *fleet.Problem) *opennebulav1alpha1.OpenNebulaClusterStatus {
	st := o.Status.DeepCopy()
	st.ObservedGeneration = o.Generation
	if live != nil && p == nil {
		st.ID = new(int32(live.ID))
		st.Hosts = int32(len(live.Hosts))
		st.Datastores, st.VNets = int32s(live.Datastores), int32s(live.VNets)
		meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: opennebulav1alpha1.ConditionReady, Status: metav1.ConditionTrue,
			Reason: opennebulav1alpha1.ReasonInSync, Message: fmt.Sprintf("cluster %d in OpenNebula as its spec says", live.ID), ObservedGeneration: o.Generation})
	}
	setProblem(&st.Conditions, o.Generation, p)
	return st
}

// hostStatus is the host as the pool shows it: oned's state, capacity and error.
func hostStatus(o *opennebulav1alpha1.OpenNebulaHost, live *oned.Host, p *fleet.Problem) *opennebulav1alpha1.OpenNebulaHostStatus {
	st := o.Status.DeepCopy()
	st.ObservedGeneration = o.Generation
	if live == nil || (p != nil && p.Reason == fleet.ReasonNameTaken) {
		setProblem(&st.Conditions, o.Generation, p)
		return st
	}
	st.ID = new(int32(live.ID))
	st.State = live.State.String()
	st.Cluster = live.Cluster
	st.Error = ""
	if live.State == oned.HostError || live.State == oned.HostMonitoringError {
		st.Error, _ = live.ErrorMessage()
	}
	st.CPU = opennebulav1alpha1.ResourceUsage{
		// Hundredths of a core: 100 is one core, 1 is 10m.
		Total: resource.NewMilliQuantity(live.Share.TotalCPU*10, resource.DecimalSI),
		Used:  resource.NewMilliQuantity(live.Share.CPUUsage*10, resource.DecimalSI),
	}
	st.Memory = opennebulav1alpha1.ResourceUsage{
		Total: resource.NewQuantity(live.Share.TotalMem*1024, resource.BinarySI),
		Used:  resource.NewQuantity(live.Share.MemUsage*1024, resource.BinarySI),
	}
	st.RunningVMs = int32(live.Share.RunningVMs)
	meta.SetStatusCondition(&st.Conditions, hostReady(o, live.State))
	if p == nil && st.Error != "" {
		p = &fleet.Problem{Reason: opennebulav1alpha1.ReasonHostError, Message: st.Error}
	}
	setProblem(&st.Conditions, o.Generation, p)
	// The monitoring time moves at every monitoring: written with another change, or
	// once it lags by lastMonitoredLag.
	if ts := live.Monitoring.Timestamp; ts > 0 {
		at := metav1.NewTime(time.Unix(ts, 0))
		if prev := o.Status.LastMonitored; prev == nil || !equality.Semantic.DeepEqual(&o.Status, st) || at.Sub(prev.Time) > lastMonitoredLag {
			st.LastMonitored = &at
		}
	}
	return st
}

// hostReady: an enabled host is ready once oned monitors it (MONITORED); a disabled or
// offline one once it is in that state, as asked (GitOps tools wait for Ready).
func hostReady(o *opennebulav1alpha1.OpenNebulaHost, state oned.HostState) metav1.Condition {
	c := metav1.Condition{Type: opennebulav1alpha1.ConditionReady, Status: metav1.ConditionFalse,
		Reason: opennebulav1alpha1.ReasonNotMonitored, Message: "STATE is " + state.String(), ObservedGeneration: o.Generation}
	switch o.Spec.State {
	case opennebulav1alpha1.HostDisabled, opennebulav1alpha1.HostOffline:
		want := map[opennebulav1alpha1.HostDesiredState][]oned.HostState{
			opennebulav1alpha1.HostDisabled: {oned.HostDisabled, oned.HostMonitoringDisabled},
			opennebulav1alpha1.HostOffline:  {oned.HostOffline},
		}[o.Spec.State]
		if slices.Contains(want, state) {
			c.Status, c.Reason, c.Message = metav1.ConditionTrue, opennebulav1alpha1.ReasonInSync,
				"STATE is "+state.String()+", as spec.state asks"
		}
	default:
		if state == oned.HostMonitored {
			c.Status, c.Reason, c.Message = metav1.ConditionTrue, opennebulav1alpha1.ReasonMonitored, "oned monitors the host"
		}
	}
	return c
}

// lastMonitoredLag is how far behind oned's last monitoring an otherwise unchanged host's
// status.lastMonitored may be.
const lastMonitoredLag = 10 * time.Minute

// writeStatus patches the status when it differs from what the object has: a pass at
// rest writes nothing.
func (r *FleetReconciler) writeStatus(ctx context.Context, o client.Object, live, want any) error {
	if equality.Semantic.DeepEqual(live, want) {
		return nil
	}
	patch := client.MergeFrom(o.DeepCopyObject().(client.Object))
	switch o := o.(type) {
	case *opennebulav1alpha1.OpenNebulaHost:
		o.Status = *want.(*opennebulav1alpha1.OpenNebulaHostStatus)
	case *opennebulav1alpha1.OpenNebulaCluster:
		o.Status = *want.(*opennebulav1alpha1.OpenNebulaClusterStatus)
	}
	return client.IgnoreNotFound(r.Status().Patch(ctx, o, patch))
}

// frontendOf maps a host or cluster to its frontend's fleet pass.
func frontendOf(_ context.Context, o client.Object) []ctrl.Request {
	var name string
	switch o := o.(type) {
	case *opennebulav1alpha1.OpenNebulaHost:
		name = o.Spec.FrontendRef.Name
	case *opennebulav1alpha1.OpenNebulaCluster:
		name = o.Spec.FrontendRef.Name
	}
	return []ctrl.Request{{NamespacedName: types.NamespacedName{Namespace: o.GetNamespace(), Name: name}}}
}

// SetupWithManager registers the fleet controller: a pass per frontend, woken by its
// hosts' and clusters' changes (not by the operator's own status writes), by the frontend
// appearing, going or becoming ready, and by its poll.
func (r *FleetReconciler) SetupWithManager(mgr ctrl.Manager) error {
	r.applier = &apply.Applier{Client: r.Client, APIReader: r.APIReader, Scheme: mgr.GetScheme(), PastCacheReuse: DefaultProblemRecheck}
	// indexFrontendRef is registered by the frontend controller's setup, which runs first.
	wake := ctrlbuilder.WithPredicates(predicate.Or(
		predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{},
	))
	return ctrl.NewControllerManagedBy(mgr).
		For(&opennebulav1alpha1.OpenNebulaFrontend{}, ctrlbuilder.WithPredicates(frontendReadyChanged{})).
		Watches(&opennebulav1alpha1.OpenNebulaHost{}, handler.EnqueueRequestsFromMapFunc(frontendOf), wake).
		Watches(&opennebulav1alpha1.OpenNebulaCluster{}, handler.EnqueueRequestsFromMapFunc(frontendOf), wake).
		Named("opennebulafleet").
		Complete(r)
}

// frontendReadyChanged passes a frontend's creation, deletion and Ready changes: what
// decides whether its hosts can be synced.
type frontendReadyChanged struct{ predicate.Funcs }

func (frontendReadyChanged) Update(e event.UpdateEvent) bool {
	ready := func(o client.Object) metav1.ConditionStatus {
		if c := meta.FindStatusCondition(o.(*opennebulav1alpha1.OpenNebulaFrontend).Status.Conditions, opennebulav1alpha1.ConditionReady); c != nil {
			return c.Status
		}
		return metav1.ConditionUnknown
	}
	return ready(e.ObjectOld) != ready(e.ObjectNew)
}

func (frontendReadyChanged) Create(event.CreateEvent) bool   { return true }
func (frontendReadyChanged) Delete(event.DeleteEvent) bool   { return true }
func (frontendReadyChanged) Generic(event.GenericEvent) bool { return true }
