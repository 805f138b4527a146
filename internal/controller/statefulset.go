package controller

import (
	"context"
	"fmt"
	"slices"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opennebulav1alpha1 "github.com/opennebula-operator/opennebula-operator/api/v1alpha1"
	"github.com/opennebula-operator/opennebula-operator/internal/apply"
	"github.com/opennebula-operator/opennebula-operator/internal/builder"
	"github.com/opennebula-operator/opennebula-operator/internal/status"
)

// immutableStatefulSetFields are the StatefulSet spec fields the API server refuses to
// update in place: a change to one (a volume size in the volumeClaimTemplates) makes the
// write engine delete the StatefulSet with orphan propagation, so its pods and claims
// stay; its deletion wakes the controller, which creates it again with the new spec, and
// the new StatefulSet adopts the running pods without restarting them (their template
// did not change).
var immutableStatefulSetFields = []string{
	"spec.selector", "spec.serviceName", "spec.podManagementPolicy", "spec.volumeClaimTemplates",
}

// growClaims runs before a StatefulSet is replaced: it raises the storage request of its
// existing claims to what its new volumeClaimTemplates ask for. It changes nothing unless
// every claim that must grow can: a StorageClass without allowVolumeExpansion is a
// problem the user must fix, and holds the replacement back (apply.ErrHeld).
func (r *OpenNebulaFrontendReconciler) growClaims(ctx context.Context, desired, live *appsv1.StatefulSet, st *reconcileState) error {
	type growth struct {
		pvc  *corev1.PersistentVolumeClaim
		size resource.Quantity
	}
	var grow []growth
	classes := map[string]bool{}
	for _, tmpl := range desired.Spec.VolumeClaimTemplates {
		want, ok := tmpl.Spec.Resources.Requests[corev1.ResourceStorage]
		if !ok {
			continue
		}
		for i := range max(ptr.Deref(live.Spec.Replicas, 1), live.Status.Replicas) {
			pvc := &corev1.PersistentVolumeClaim{}
			key := client.ObjectKey{Namespace: live.Namespace, Name: fmt.Sprintf("%s-%s-%d", tmpl.Name, live.Name, i)}
			// Past the cache when it misses: a rare path (a volume resize), and a claim
			// without the operator's labels must grow too.
			err := r.applier.GetOrRead(ctx, key, pvc)
			if apierrors.IsNotFound(err) {
				continue // created from the new template when its pod starts
			} else if err != nil {
				return err
			}
			if have := pvc.Spec.Resources.Requests[corev1.ResourceStorage]; have.Cmp(want) >= 0 {
				continue
			}
			class := ptr.Deref(pvc.Spec.StorageClassName, "")
			expandable, seen := classes[class]
			if !seen {
				var err error
				if expandable, err = r.allowsExpansion(ctx, class); err != nil {
					return err
				}
				classes[class] = expandable
			}
			if !expandable {
				st.Report(&status.Problem{Reason: opennebulav1alpha1.ReasonVolumeExpansionNotSupported, Message: fmt.Sprintf(
					"PersistentVolumeClaim %s cannot grow to %s: StorageClass %q does not allow volume expansion; "+
						"set allowVolumeExpansion: true on it (if its driver supports expansion) or move the data to a larger volume",
					pvc.Name, want.String(), class)})
				return apply.ErrHeld
			}
			grow = append(grow, growth{pvc, want})
		}
	}
	for _, g := range grow {
		patch := client.MergeFrom(g.pvc.DeepCopy())
		g.pvc.Spec.Resources.Requests[corev1.ResourceStorage] = g.size
		if err := r.Patch(ctx, g.pvc, patch, client.FieldOwner(apply.FieldManager)); err != nil {
			return fmt.Errorf("growing PersistentVolumeClaim %s: %w", g.pvc.Name, err)
		}
		st.changes.add(EventReasonExpanded, fmt.Sprintf("PersistentVolumeClaim %s to %s", g.pvc.Name, g.size.String()))
	}
	return nil
}

// allowsExpansion reads the StorageClass past the cache (StorageClasses are not watched).
func (r *OpenNebulaFrontendReconciler) allowsExpansion(ctx context.Context, class string) (bool, error) {
	if class == "" {
		return false, nil
	}
	sc := &storagev1.StorageClass{}
	if err := r.APIReader.Get(ctx, client.ObjectKey{Name: class}, sc); err != nil {
		return false, client.IgnoreNotFound(err)
	}
	return ptr.Deref(sc.AllowVolumeExpansion, false), nil
}

// observeGrowth lists the frontend's claims (from the cache) whose capacity has not
// reached their request yet: the volume driver is still expanding them, or the file
// system waits for the pod to restart.
func (r *OpenNebulaFrontendReconciler) observeGrowth(ctx context.Context, fe *opennebulav1alpha1.OpenNebulaFrontend, st *reconcileState) error {
	list := &corev1.PersistentVolumeClaimList{}
	if err := r.List(ctx, list, client.InNamespace(fe.Namespace),
		client.MatchingFields{indexFrontendLabel: builder.NamesFor(fe.Name).FrontendLabel}); err != nil {
		return err
	}
	for _, pvc := range list.Items {
		want, have := pvc.Spec.Resources.Requests[corev1.ResourceStorage], pvc.Status.Capacity[corev1.ResourceStorage]
		if pvc.Status.Phase != corev1.ClaimBound || have.Cmp(want) >= 0 {
			continue
		}
		msg := fmt.Sprintf("PersistentVolumeClaim %s has %s of %s", pvc.Name, have.String(), want.String())
		if slices.ContainsFunc(pvc.Status.Conditions, func(c corev1.PersistentVolumeClaimCondition) bool {
			return c.Type == corev1.PersistentVolumeClaimFileSystemResizePending && c.Status == corev1.ConditionTrue
		}) {
			msg += " (file system resize pending: it completes when the pod restarts; annotate " +
				opennebulav1alpha1.AnnotationRestartedAt + " to restart it now)"
		}
		st.Growing = append(st.Growing, msg)
	}
	slices.Sort(st.Growing)
	return nil
}
