package controller

import (
	"cmp"
	"context"
	"reflect"
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	ctrlbuilder "sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	opennebulav1alpha1 "github.com/opennebula-operator/opennebula-operator/api/v1alpha1"
	"github.com/opennebula-operator/opennebula-operator/internal/apply"
	"github.com/opennebula-operator/opennebula-operator/internal/builder"
)

// Cache indexes of the frontends, so that mapping a Secret or claim event to its
// frontends reads only those: listing every frontend of the namespace per event (and
// building each one's pod spec to find the Secrets it reads) made the event storm of
// creating N frontends cost O(N²); at N=1000 it did not converge in 10 minutes.
const (
	// indexFrontendLabel: the opennebula.io/frontend label value of the frontend's children;
	// on claims and pods, the value of that label (so that a reconcile reads its own
	// claims and pods through the index: a label-selected list scans every cached object of
	// the namespace, which made each reconcile O(N) and a creation of N frontends O(N²)).
	indexFrontendLabel = "opennebula.io/frontend-label"
	// indexPodSecret: the names of the Secrets the frontend's pod reads.
	indexPodSecret = "opennebula.io/pod-secret"
)

// SetupWithManager sets up the controller with the Manager: the write engine over the
// manager's cache and API reader, the cache indexes, and what wakes a frontend up.
func (r *OpenNebulaFrontendReconciler) SetupWithManager(mgr ctrl.Manager, maxConcurrentReconciles int) error {
	indexer := namespacedIndexer{mgr.GetCache()}
	if err := indexer.IndexField(context.Background(), &opennebulav1alpha1.OpenNebulaFrontend{}, indexFrontendLabel,
		func(o client.Object) []string { return []string{builder.NamesFor(o.GetName()).FrontendLabel} }); err != nil {
		return err
	}
	for _, obj := range []client.Object{&corev1.PersistentVolumeClaim{}, &corev1.Pod{}} {
		if err := indexer.IndexField(context.Background(), obj, indexFrontendLabel, func(o client.Object) []string {
			if v := o.GetLabels()[builder.LabelFrontend]; v != "" {
				return []string{v}
			}
			return nil
		}); err != nil {
			return err
		}
	}
	if err := indexer.IndexField(context.Background(), &opennebulav1alpha1.OpenNebulaFrontend{}, indexPodSecret, func(o client.Object) []string {
		var names []string
		for _, ref := range r.podSecretRefs.of(o.(*opennebulav1alpha1.OpenNebulaFrontend), r.Options) {
			if !slices.Contains(names, ref.Name) {
				names = append(names, ref.Name)
			}
		}
		return names
	}); err != nil {
		return err
	}
	r.applier = &apply.Applier{
		Client:    r.Client,
		APIReader: r.APIReader,
		Scheme:    r.Scheme,
		Immutable: map[schema.GroupKind][]string{{Group: appsv1.GroupName, Kind: "StatefulSet"}: immutableStatefulSetFields},
		// A user's Secret not labelled for the watch is read past the cache, and the Raft
		// poll reconciles a zone every 5 s: that read is reused while the frontend is
		// unchanged, for as long as a blocked frontend waits before looking again. Any
		// change to the frontend reads it anew, as the README promises.
		PastCacheReuse: cmp.Or(r.ProblemRecheck, DefaultProblemRecheck),
	}
	// The hosts and clusters of a frontend, for the fleet controller and status.hosts.
	for _, obj := range []client.Object{&opennebulav1alpha1.OpenNebulaHost{}, &opennebulav1alpha1.OpenNebulaCluster{}} {
		if err := indexer.IndexField(context.Background(), obj, indexFrontendRef, func(o client.Object) []string {
			return []string{frontendOf(context.Background(), o)[0].Name}
		}); err != nil {
			return err
		}
	}
	return ctrl.NewControllerManagedBy(mgr).
		// The operator's own status writes change neither generation, labels nor
		// annotations: they do not wake the controller up again.
		For(&opennebulav1alpha1.OpenNebulaFrontend{}, builderWithPredicates()).
		Watches(&appsv1.StatefulSet{}, toControllingFrontend).
		Watches(&corev1.Service{}, toControllingFrontend).
		Watches(&corev1.ConfigMap{}, toControllingFrontend).
		Watches(&networkingv1.Ingress{}, toControllingFrontend).
		Watches(&policyv1.PodDisruptionBudget{}, toControllingFrontend).
		// Generated Secrets are retained by default, so they have no owner reference:
		// they name their frontend in an annotation. A user's watched Secret wakes
		// every frontend whose pod reads it.
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.secretToFrontends)).
		// The claims belong to the StatefulSets; their growth is reported on the frontend.
		Watches(&corev1.PersistentVolumeClaim{}, handler.EnqueueRequestsFromMapFunc(r.claimToFrontend)).
		// status.hosts counts the hosts by the state their own status shows; a burst of
		// host changes (a fleet converging) is one recount.
		Watches(&opennebulav1alpha1.OpenNebulaHost{}, recountHosts(), ctrlbuilder.WithPredicates(hostCounted{})).
		Named("opennebulafrontend").
		WithOptions(controller.Options{MaxConcurrentReconciles: maxConcurrentReconciles}).
		Complete(r)
}

// toControllingFrontend wakes the frontend that controls a child (its controller owner
// reference), as Owns does, but matching the reference's group and kind as strings:
// Owns resolves the owner's kind through the REST mapper at every event of every child,
// which was 2 % of the manager's CPU and 3.5 % of what it allocated while 300 frontends
// were created (hack/bench -cpu-profiles).
var toControllingFrontend = handler.EnqueueRequestsFromMapFunc(func(_ context.Context, obj client.Object) []reconcile.Request {
	ref := metav1.GetControllerOfNoCopy(obj)
	if ref == nil || ref.Kind != frontendKind {
		return nil
	}
	if group, _, _ := strings.Cut(ref.APIVersion, "/"); group != opennebulav1alpha1.GroupVersion.Group {
		return nil
	}
	return []reconcile.Request{{NamespacedName: client.ObjectKey{Namespace: obj.GetNamespace(), Name: ref.Name}}}
})

// frontendKind is the kind of the frontends' owner references (SetControllerReference
// takes it from the scheme, which registers the type under its Go name).
var frontendKind = reflect.TypeFor[opennebulav1alpha1.OpenNebulaFrontend]().Name()

// secretToFrontends wakes the frontend a generated Secret names, and every frontend in
// the Secret's namespace whose pod reads it (the indexPodSecret index). Only watched
// Secrets come here (labelled opennebula.io/watch).
func (r *OpenNebulaFrontendReconciler) secretToFrontends(ctx context.Context, obj client.Object) []reconcile.Request {
	var out []reconcile.Request
	if generatedFor := obj.GetAnnotations()[builder.AnnotationFrontendOf]; generatedFor != "" {
		out = append(out, reconcile.Request{NamespacedName: client.ObjectKey{Namespace: obj.GetNamespace(), Name: generatedFor}})
	}
	readers, err := r.frontendsBy(ctx, obj.GetNamespace(), indexPodSecret, obj.GetName())
	if err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "listing the frontends that read a Secret", "secret", obj.GetName())
		return out
	}
	for _, req := range readers {
		if !slices.Contains(out, req) {
			out = append(out, req)
		}
	}
	return out
}

// claimToFrontend finds the frontend whose label the claim carries (the label value may
// be a shortened name: the indexFrontendLabel index maps it back).
func (r *OpenNebulaFrontendReconciler) claimToFrontend(ctx context.Context, obj client.Object) []reconcile.Request {
	label := obj.GetLabels()[builder.LabelFrontend]
	if label == "" {
		return nil
	}
	out, err := r.frontendsBy(ctx, obj.GetNamespace(), indexFrontendLabel, label)
	if err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "listing the frontends of a claim", "claim", obj.GetName())
	}
	return out
}

// frontendsBy lists the frontends of a namespace whose index holds value, from the cache
// and without copying them (only their names are read).
func (r *OpenNebulaFrontendReconciler) frontendsBy(ctx context.Context, namespace, index, value string) ([]reconcile.Request, error) {
	list := &opennebulav1alpha1.OpenNebulaFrontendList{}
	if err := r.List(ctx, list, client.InNamespace(namespace), client.MatchingFields{index: value}, client.UnsafeDisableDeepCopy); err != nil {
		return nil, err
	}
	out := make([]reconcile.Request, 0, len(list.Items))
	for i := range list.Items {
		out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
	}
	return out, nil
}

func builderWithPredicates() ctrlbuilder.Predicates {
	return ctrlbuilder.WithPredicates(predicate.Or(
		predicate.GenerationChangedPredicate{},
		predicate.LabelChangedPredicate{},
		predicate.AnnotationChangedPredicate{},
	))
}

// hostRecountDelay is how long a host's change waits before its frontend recounts: the
// workqueue keeps one request per frontend, so the changes of that window are one status
// write instead of one each.
const hostRecountDelay = 2 * time.Second

// recountHosts enqueues a host's frontend after hostRecountDelay.
func recountHosts() handler.EventHandler {
	enqueue := func(o client.Object, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
		for _, req := range frontendOf(context.Background(), o) {
			q.AddAfter(req, hostRecountDelay)
		}
	}
	return handler.Funcs{
		CreateFunc: func(_ context.Context, e event.CreateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			enqueue(e.Object, q)
		},
		UpdateFunc: func(_ context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			enqueue(e.ObjectNew, q)
		},
		DeleteFunc: func(_ context.Context, e event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			enqueue(e.Object, q)
		},
	}
}

// hostCounted passes what changes a frontend's status.hosts: a host made, deleted, or
// whose state changed.
type hostCounted struct{ predicate.Funcs }

func (hostCounted) Update(e event.UpdateEvent) bool {
	return e.ObjectOld.(*opennebulav1alpha1.OpenNebulaHost).Status.State != e.ObjectNew.(*opennebulav1alpha1.OpenNebulaHost).Status.State
}

func (hostCounted) Create(event.CreateEvent) bool   { return true }
func (hostCounted) Delete(event.DeleteEvent) bool   { return true }
func (hostCounted) Generic(event.GenericEvent) bool { return false }
