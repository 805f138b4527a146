package controller

import (
	"context"
	"slices"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	ctrl "sigs.k8s.io/controller-runtime"
	ctrlbuilder "sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	opennebulav1alpha1 "github.com/opennebula-operator/opennebula-operator/api/v1alpha1"
	"github.com/opennebula-operator/opennebula-operator/internal/apply"
	"github.com/opennebula-operator/opennebula-operator/internal/builder"
)

// SetupWithManager sets up the controller with the Manager: the write engine over the
// manager's cache and API reader, and what wakes a frontend up.
func (r *OpenNebulaFrontendReconciler) SetupWithManager(mgr ctrl.Manager, maxConcurrentReconciles int) error {
	r.applier = &apply.Applier{
		Client:    r.Client,
		APIReader: r.APIReader,
		Scheme:    r.Scheme,
		Immutable: map[schema.GroupKind][]string{{Group: appsv1.GroupName, Kind: "StatefulSet"}: immutableStatefulSetFields},
	}
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
