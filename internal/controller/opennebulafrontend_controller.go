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
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	ctrlbuilder "sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	opennebulav1alpha1 "github.com/opennebula-operator/opennebula-operator/api/v1alpha1"
	"github.com/opennebula-operator/opennebula-operator/internal/apply"
	"github.com/opennebula-operator/opennebula-operator/internal/builder"
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
	// OnedRecheck overrides onedRecheck, how often a ready frontend's oned is called
	// (tests shorten it).
	OnedRecheck time.Duration
	// ProblemRecheck overrides DefaultProblemRecheck (tests shorten it).
	ProblemRecheck time.Duration
	// onedChecks remembers the last dial per frontend (types.NamespacedName → timedCheck).
	onedChecks sync.Map
	// APIReader reads past the cache, for the rare child that is not in it.
	APIReader client.Reader
	Scheme    *runtime.Scheme
	Recorder  record.EventRecorder
	Options   builder.Options
}

// Event reasons; like condition reasons they are stable.
const (
	EventReasonCreated     = "Created"
	EventReasonUpdated     = "Updated"
	EventReasonReplaced    = "Replaced"
	EventReasonExpanded    = "Expanded"
	EventReasonApplyFailed = "ApplyFailed"
)

// +kubebuilder:rbac:groups=opennebula.io,resources=opennebulafrontends,verbs=get;list;watch
// +kubebuilder:rbac:groups=opennebula.io,resources=opennebulafrontends/status,verbs=patch
// +kubebuilder:rbac:groups=opennebula.io,resources=opennebulafrontends/finalizers,verbs=update
// +kubebuilder:rbac:groups=apps,resources=statefulsets,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=services;configmaps,verbs=get;list;watch;create;update;patch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create;patch
// +kubebuilder:rbac:groups="",resources=persistentvolumeclaims,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=networking.k8s.io,resources=ingresses,verbs=get;list;watch;create;update;patch
// +kubebuilder:rbac:groups=storage.k8s.io,resources=storageclasses,verbs=get
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch

// Reconcile brings one frontend's children to their desired state and updates its status.
func (r *OpenNebulaFrontendReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	fe := &opennebulav1alpha1.OpenNebulaFrontend{}
	if err := r.Get(ctx, req.NamespacedName, fe); err != nil {
		if apierrors.IsNotFound(err) {
			r.onedChecks.Delete(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !fe.DeletionTimestamp.IsZero() {
		// Children carry owner references; the garbage collector removes them.
		return ctrl.Result{}, nil
	}

	if fe.Annotations[opennebulav1alpha1.AnnotationPaused] == "true" {
		return ctrl.Result{}, r.reportPaused(ctx, fe)
	}

	obs := observation{}
	obs.problem, obs.err = r.ensureGeneratedSecrets(ctx, fe, &obs.changes)
	if obs.problem == nil && obs.err == nil {
		obs.problem, obs.err = r.observeInputs(ctx, fe, &obs)
	}
	if obs.problem == nil && obs.err == nil {
		obs.problem, obs.err = r.checkStorageClasses(ctx, fe)
	}
	if obs.problem == nil && obs.err == nil {
		obs.problem = r.checkDowngrade(fe)
	}
	if obs.err == nil {
		r.applyChildren(ctx, fe, &obs)
	}
	if apierrors.IsConflict(obs.err) {
		// Someone wrote the object between our read and our write: not a failure, and
		// not worth a Degraded flap or a Warning. Try again with the object as it now is.
		obs.changes.record(r.Recorder, fe)
		return ctrl.Result{RequeueAfter: conflictRetry}, nil
	}
	if obs.sts == nil {
		// Also after an error: Ready says whether the pods serve, which a failed write
		// to some child does not change.
		obs.sts = r.cachedStatefulSet(ctx, fe)
	}
	if obs.err == nil {
		obs.growing, obs.err = r.claimsStillGrowing(ctx, fe)
	}
	obs.oned = r.checkOned(ctx, fe, obs.sts)

	obs.changes.record(r.Recorder, fe)
	if p := obs.problem; p != nil {
		// One Event per new problem, not one per recheck.
		if prev := meta.FindStatusCondition(fe.Status.Conditions, opennebulav1alpha1.ConditionDegraded); prev == nil ||
			prev.Status != metav1.ConditionTrue || prev.Message != p.message {
			r.Recorder.Eventf(fe, corev1.EventTypeWarning, p.reason, "%s", p.message)
		}
	}
	status := computeStatus(fe, obs, r.Options)
	if err := r.updateStatus(ctx, fe, status); err != nil && obs.err == nil {
		obs.err = err
	}
	if obs.err != nil {
		return ctrl.Result{}, obs.err
	}
	if obs.problem != nil {
		// Nothing to retry at once: the user must act. Look again with a backoff-like delay,
		// as a referenced Secret or StorageClass is not watched.
		return ctrl.Result{RequeueAfter: cmp.Or(r.ProblemRecheck, DefaultProblemRecheck)}, nil
	}
	return ctrl.Result{RequeueAfter: r.recheck(obs)}, nil
}

// applyChildren brings every child to its desired state, in Build order, recording what
// it saw in obs. It stops at the first error.
func (r *OpenNebulaFrontendReconciler) applyChildren(ctx context.Context, fe *opennebulav1alpha1.OpenNebulaFrontend, obs *observation) {
	for _, desired := range builder.Build(fe, r.Options, obs.inputs) {
		if _, isSTS := desired.(*appsv1.StatefulSet); isSTS && obs.problem != nil {
			// A pod that cannot start must not replace one that runs: the StatefulSets
			// wait until the problem is fixed.
			continue
		}
		live, err := r.reconcileChild(ctx, fe, desired, obs)
		if errors.As(err, new(*notOwnedError)) {
			obs.problem = &problem{reason: opennebulav1alpha1.ReasonChildNotOwned, message: err.Error()}
			continue
		}
		if err != nil {
			obs.err = err
			return
		}
		if s, ok := live.(*appsv1.StatefulSet); ok && s.Name == builder.NamesFor(fe.Name).StatefulSet {
			obs.sts = s
		}
	}
}

// recheck is when a frontend with nothing left to do is looked at again (0: at its next
// event): to dial oned again, to follow a StatefulSet being replaced, and to read the
// Secrets no watch reports.
func (r *OpenNebulaFrontendReconciler) recheck(obs observation) time.Duration {
	var recheck time.Duration
	if obs.oned.checked {
		recheck = r.onedRecheck()
	}
	if len(obs.replacing) > 0 {
		// The StatefulSet's deletion wakes the controller; this is a safety net.
		recheck = replaceRecheck
	}
	if obs.unwatchedSecrets {
		recheck = min(cmp.Or(recheck, SecretRecheck), SecretRecheck)
	}
	return recheck
}

// reportPaused writes nothing but the status: which children differ from the spec, so
// the user knows what resuming will change.
func (r *OpenNebulaFrontendReconciler) reportPaused(ctx context.Context, fe *opennebulav1alpha1.OpenNebulaFrontend) error {
	obs := observation{sts: r.cachedStatefulSet(ctx, fe), paused: &pauseState{}}
	if _, err := r.observeInputs(ctx, fe, &obs); err != nil {
		return err
	}
	for _, desired := range builder.Build(fe, r.Options, obs.inputs) {
		differs, err := r.differs(ctx, fe, desired)
		if err != nil {
			obs.err = err
			break
		}
		if differs {
			gvk, err := apiutil.GVKForObject(desired, r.Scheme)
			if err != nil {
				obs.err = err
				break
			}
			obs.paused.pending = append(obs.paused.pending, gvk.Kind+" "+desired.GetName())
		}
	}
	if err := r.updateStatus(ctx, fe, computeStatus(fe, obs, r.Options)); err != nil {
		return err
	}
	return obs.err
}

// differs reports whether applying desired would change the cluster.
func (r *OpenNebulaFrontendReconciler) differs(ctx context.Context, fe *opennebulav1alpha1.OpenNebulaFrontend, desired client.Object) (bool, error) {
	_, norm, live, err := r.prepare(fe, desired)
	if err != nil {
		return false, err
	}
	if err := r.Get(ctx, client.ObjectKeyFromObject(desired), live); err != nil {
		return true, client.IgnoreNotFound(err)
	}
	upToDate, err := apply.UpToDate(norm, live)
	return !upToDate, err
}

// cachedStatefulSet reads the frontend's StatefulSet when this reconcile did not touch it.
func (r *OpenNebulaFrontendReconciler) cachedStatefulSet(ctx context.Context, fe *opennebulav1alpha1.OpenNebulaFrontend) *appsv1.StatefulSet {
	sts := &appsv1.StatefulSet{}
	key := client.ObjectKey{Namespace: fe.Namespace, Name: builder.NamesFor(fe.Name).StatefulSet}
	if err := r.Get(ctx, key, sts); err != nil || !metav1.IsControlledBy(sts, fe) {
		return nil
	}
	return sts
}

// observeInputs gathers what the desired state depends on besides the spec: the load
// balancer's address and the values of the Secrets the pod reads. A Secret or key the
// pod needs that does not exist is returned as a problem.
func (r *OpenNebulaFrontendReconciler) observeInputs(ctx context.Context, fe *opennebulav1alpha1.OpenNebulaFrontend, obs *observation) (*problem, error) {
	svc := &corev1.Service{}
	key := client.ObjectKey{Namespace: fe.Namespace, Name: builder.NamesFor(fe.Name).ExternalService}
	if err := r.Get(ctx, key, svc); err == nil && metav1.IsControlledBy(svc, fe) {
		for _, ing := range svc.Status.LoadBalancer.Ingress {
			if addr := cmp.Or(ing.IP, ing.Hostname); addr != "" {
				obs.inputs.LoadBalancerAddress = addr
				break
			}
		}
	}
	hash, unwatched, p, err := r.readPodSecrets(ctx, fe)
	obs.inputs.SecretsHash, obs.unwatchedSecrets = hash, unwatched
	return p, err
}

// reconcileChild makes one child match desired and returns the child as it now is.
// It writes only when the live object differs from desired. What it changed goes to
// obs.changes; a StatefulSet whose immutable fields differ is replaced (replaceStatefulSet).
func (r *OpenNebulaFrontendReconciler) reconcileChild(ctx context.Context, fe *opennebulav1alpha1.OpenNebulaFrontend, desired client.Object, obs *observation) (client.Object, error) {
	gvk, norm, live, err := r.prepare(fe, desired)
	if err != nil {
		return nil, err
	}
	ref := fmt.Sprintf("%s %s", gvk.Kind, desired.GetName())
	applyOpts := []client.ApplyOption{client.FieldOwner(apply.FieldManager)}
	reason := EventReasonCreated
	switch err := r.getLive(ctx, client.ObjectKeyFromObject(desired), live); {
	case apierrors.IsNotFound(err):
		// Create it, without forcing ownership.
	case err != nil:
		return nil, err
	case !metav1.IsControlledBy(live, fe):
		// Reported as a Degraded problem (and its Event) by the caller.
		return nil, &notOwnedError{ref: ref}
	default:
		if sts, ok := live.(*appsv1.StatefulSet); ok {
			if held, err := r.replaceStatefulSet(ctx, desired.(*appsv1.StatefulSet), norm, sts, obs); held || err != nil {
				return sts, err
			}
		}
		upToDate, err := apply.UpToDate(norm, live)
		if err != nil {
			return nil, err
		}
		if upToDate {
			return live, nil
		}
		// The operator owns these fields: take them back from whoever edited them.
		reason = EventReasonUpdated
		applyOpts = append(applyOpts, client.ForceOwnership)
	}

	err = r.Apply(ctx, client.ApplyConfigurationFromUnstructured(norm.Object), applyOpts...)
	if apierrors.IsInvalid(err) && reason == EventReasonUpdated {
		// Someone's edit made our apply invalid (a re-keyed list item): replace instead.
		err = r.replace(ctx, live, norm)
	}
	if err != nil {
		if !apierrors.IsConflict(err) {
			r.Recorder.Eventf(fe, corev1.EventTypeWarning, EventReasonApplyFailed, "applying %s: %v", ref, err)
		}
		return nil, fmt.Errorf("applying %s: %w", ref, err)
	}
	obs.changes.add(reason, ref)

	applied, _ := r.Scheme.New(gvk)
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(norm.Object.Object, applied); err != nil {
		return nil, err
	}
	return applied.(client.Object), nil
}

// prepare gives desired its owner reference and its applied form, and returns an empty
// object of its kind to read the live one into.
func (r *OpenNebulaFrontendReconciler) prepare(fe *opennebulav1alpha1.OpenNebulaFrontend, desired client.Object) (schema.GroupVersionKind, *apply.Desired, client.Object, error) {
	gvk, err := apiutil.GVKForObject(desired, r.Scheme)
	if err != nil {
		return gvk, nil, nil, err
	}
	if err := controllerutil.SetControllerReference(fe, desired, r.Scheme); err != nil {
		return gvk, nil, nil, err
	}
	norm, err := apply.Normalize(desired, gvk)
	if err != nil {
		return gvk, nil, nil, err
	}
	obj, err := r.Scheme.New(gvk)
	if err != nil {
		return gvk, nil, nil, err
	}
	return gvk, norm, obj.(client.Object), nil
}

// getLive reads an object from the cache and, when the cache does not have it, from the
// API server: the cache holds only objects labelled as the operator's, and an object of
// that name that is not (or no longer) labelled must be seen, never created over.
func (r *OpenNebulaFrontendReconciler) getLive(ctx context.Context, key client.ObjectKey, obj client.Object) error {
	err := r.Get(ctx, key, obj)
	if apierrors.IsNotFound(err) {
		err = r.APIReader.Get(ctx, key, obj)
	}
	return err
}

// changeLog collects what one reconcile created, updated, replaced and expanded, so
// that it is reported in one Event per kind of change ("Created ConfigMap one-config,
// Service one, ...") instead of one Event (one API write) per child.
type changeLog struct{ byReason map[string][]string }

// changeReasons is the order in which a reconcile's changes are reported.
var changeReasons = []string{EventReasonCreated, EventReasonUpdated, EventReasonExpanded, EventReasonReplaced}

func (c *changeLog) add(reason, ref string) {
	if c.byReason == nil {
		c.byReason = map[string][]string{}
	}
	c.byReason[reason] = append(c.byReason[reason], ref)
}

func (c *changeLog) record(rec record.EventRecorder, fe *opennebulav1alpha1.OpenNebulaFrontend) {
	for _, reason := range changeReasons {
		if refs := c.byReason[reason]; len(refs) > 0 {
			rec.Eventf(fe, corev1.EventTypeNormal, reason, "%s %s", reason, strings.Join(refs, ", "))
		}
	}
}

// notOwnedError: an object of a child's name exists that the frontend does not control.
type notOwnedError struct{ ref string }

func (e *notOwnedError) Error() string {
	return e.ref + " exists and is not controlled by this OpenNebulaFrontend; rename or delete it"
}

// replace writes desired over live with an update (guarded by live's resourceVersion),
// dropping the list items of others that made server-side apply fail. norm.Object
// receives the result.
func (r *OpenNebulaFrontendReconciler) replace(ctx context.Context, live client.Object, norm *apply.Desired) error {
	l, err := runtime.DefaultUnstructuredConverter.ToUnstructured(live)
	if err != nil {
		return err
	}
	merged := &unstructured.Unstructured{Object: apply.Overlay(l, norm.Object.Object)}
	merged.SetResourceVersion(live.GetResourceVersion())
	if err := r.Update(ctx, merged, client.FieldOwner(apply.FieldManager)); err != nil {
		return err
	}
	norm.Object = merged
	return nil
}

// updateStatus writes status, and only when it changed.
func (r *OpenNebulaFrontendReconciler) updateStatus(ctx context.Context, fe *opennebulav1alpha1.OpenNebulaFrontend, status opennebulav1alpha1.OpenNebulaFrontendStatus) error {
	if equality.Semantic.DeepEqual(fe.Status, status) {
		return nil
	}
	patch := client.MergeFrom(fe.DeepCopy())
	fe.Status = status
	if err := r.Status().Patch(ctx, fe, patch, client.FieldOwner(apply.FieldManager)); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("updating status: %w", err)
	}
	return nil
}

// SetupWithManager sets up the controller with the Manager.
func (r *OpenNebulaFrontendReconciler) SetupWithManager(mgr ctrl.Manager, maxConcurrentReconciles int) error {
	return ctrl.NewControllerManagedBy(mgr).
		// The operator's own status writes change neither generation, labels nor
		// annotations: they do not wake the controller up again.
		For(&opennebulav1alpha1.OpenNebulaFrontend{}, builderWithPredicates()).
		Owns(&appsv1.StatefulSet{}).
		Owns(&corev1.Service{}).
		Owns(&corev1.ConfigMap{}).
		Owns(&networkingv1.Ingress{}).
		// Generated Secrets are retained by default, so they have no owner reference:
		// they name their frontend in an annotation. A user's watched Secret wakes
		// every frontend whose pod reads it.
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.secretToFrontends)).
		// The claims belong to the StatefulSets; their growth is reported on the frontend.
		Watches(&corev1.PersistentVolumeClaim{}, handler.EnqueueRequestsFromMapFunc(r.claimToFrontend)).
		Named("opennebulafrontend").
		WithOptions(controller.Options{MaxConcurrentReconciles: maxConcurrentReconciles}).
		Complete(r)
}

// secretToFrontends wakes the frontend a generated Secret names, and every frontend in
// the Secret's namespace whose pod reads it. Only watched Secrets come here (labelled
// opennebula.io/watch), so listing the namespace's frontends is rare and cheap.
func (r *OpenNebulaFrontendReconciler) secretToFrontends(ctx context.Context, obj client.Object) []reconcile.Request {
	generatedFor := obj.GetAnnotations()[builder.AnnotationFrontendOf]
	list := &opennebulav1alpha1.OpenNebulaFrontendList{}
	if err := r.List(ctx, list, client.InNamespace(obj.GetNamespace())); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "listing the frontends that read a Secret", "secret", obj.GetName())
		return nil
	}
	var out []reconcile.Request
	for _, fe := range list.Items {
		reads := slices.ContainsFunc(builder.PodSecretRefs(&fe, r.Options), func(ref builder.SecretKeyRef) bool {
			return ref.Name == obj.GetName()
		})
		if reads || fe.Name == generatedFor {
			out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&fe)})
		}
	}
	return out
}

// claimToFrontend finds the frontend whose label the claim carries (the label value may
// be a shortened name, so it is compared with each frontend's).
func (r *OpenNebulaFrontendReconciler) claimToFrontend(ctx context.Context, obj client.Object) []reconcile.Request {
	label := obj.GetLabels()[builder.LabelFrontend]
	if label == "" {
		return nil
	}
	list := &opennebulav1alpha1.OpenNebulaFrontendList{}
	if err := r.List(ctx, list, client.InNamespace(obj.GetNamespace())); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "listing the frontends of a claim", "claim", obj.GetName())
		return nil
	}
	for _, fe := range list.Items {
		if builder.NamesFor(fe.Name).FrontendLabel == label {
			return []reconcile.Request{{NamespacedName: client.ObjectKeyFromObject(&fe)}}
		}
	}
	return nil
}

func builderWithPredicates() ctrlbuilder.Predicates {
	return ctrlbuilder.WithPredicates(predicate.Or(
		predicate.GenerationChangedPredicate{},
		predicate.LabelChangedPredicate{},
		predicate.AnnotationChangedPredicate{},
	))
}
