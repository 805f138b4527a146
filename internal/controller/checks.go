package controller

import (
	"context"
	"fmt"

	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	utilversion "k8s.io/apimachinery/pkg/util/version"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opennebulav1alpha1 "github.com/opennebula-operator/opennebula-operator/api/v1alpha1"
	"github.com/opennebula-operator/opennebula-operator/internal/builder"
	"github.com/opennebula-operator/opennebula-operator/internal/status"
)

// clusterReference is a cluster-scoped object the spec names, which admission cannot
// check exists.
type clusterReference struct {
	field, kind, name string
	obj               client.Object
	reason            string
}

// checkClusterReferences finds a StorageClass or PriorityClass the spec names that does
// not exist (read past the cache: neither kind is watched; the problem recheck finds it
// once it is created). Its children wait: a claim without its class stays Pending forever
// and a pod without its PriorityClass is never created, with nothing on the frontend to
// say why.
func (r *OpenNebulaFrontendReconciler) checkClusterReferences(ctx context.Context, fe *opennebulav1alpha1.OpenNebulaFrontend, st *reconcileState) error {
	var refs []clusterReference
	if name := fe.Spec.Persistence.StorageClassName; name != nil && *name != "" {
		refs = append(refs, clusterReference{"spec.persistence.storageClassName", "StorageClass", *name, &storagev1.StorageClass{}, opennebulav1alpha1.ReasonStorageClassMissing})
	}
	if m := fe.Spec.Database.MariaDB; m != nil && builder.DatabaseBackend(fe) == opennebulav1alpha1.DatabaseMariaDB && m.StorageClassName != nil && *m.StorageClassName != "" {
		refs = append(refs, clusterReference{"spec.database.mariadb.storageClassName", "StorageClass", *m.StorageClassName, &storagev1.StorageClass{}, opennebulav1alpha1.ReasonStorageClassMissing})
	}
	if name := fe.Spec.Pod.PriorityClassName; name != "" {
		refs = append(refs, clusterReference{"spec.pod.priorityClassName", "PriorityClass", name, &schedulingv1.PriorityClass{}, opennebulav1alpha1.ReasonPriorityClassMissing})
	}
	for _, ref := range refs {
		err := r.APIReader.Get(ctx, client.ObjectKey{Name: ref.name}, ref.obj)
		if apierrors.IsNotFound(err) {
			st.Report(&status.Problem{Reason: ref.reason, Message: fmt.Sprintf("%s: %s %s does not exist", ref.field, ref.kind, ref.name)})
			return nil
		}
		if apierrors.IsForbidden(err) {
			// A namespaced install (config/namespaced: the rules granted by a RoleBinding)
			// cannot read cluster-scoped kinds: the check is skipped, as it cannot be made.
			ctrl.LoggerFrom(ctx).V(1).Info("cannot check a cluster-scoped reference", "field", ref.field, "error", err.Error())
			continue
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// checkVersion refuses an image whose OpenNebula version is lower than the running
// one, unless the allow-downgrade annotation says so: oned's database schema only moves
// forward (`onedb upgrade`).
func (r *OpenNebulaFrontendReconciler) checkVersion(_ context.Context, fe *opennebulav1alpha1.OpenNebulaFrontend, st *reconcileState) error {
	running, target := fe.Status.Version, builder.Version(builder.Image(fe, r.Options))
	if running != "" && target != running && zoneOfSeveral(fe, st) {
		st.Report(&status.Problem{Reason: opennebulav1alpha1.ReasonZoneUpgradeRefused, Message: fmt.Sprintf(
			"changing OpenNebula from %s to %s in a Raft zone of several servers is refused: OpenNebula's HA upgrade "+
				"stops every server, upgrades the leader's database and gives the followers copies of it, which "+
				"a rolling restart cannot do. Put the image back to %s, set replicas to 1 and wait for Ready (the "+
				"zone shrinks to its first server), change the image (that server restarts and upgrades its "+
				"database), then set replicas back (the others join with copies of the upgraded database)",
			running, target, running)})
		return nil
	}
	if running == "" || annotationTrue(fe, opennebulav1alpha1.AnnotationAllowDowngrade) {
		return nil
	}
	from, err1 := utilversion.ParseGeneric(running)
	to, err2 := utilversion.ParseGeneric(target)
	if err1 != nil || err2 != nil || !to.LessThan(from) {
		return nil
	}
	st.Report(&status.Problem{Reason: opennebulav1alpha1.ReasonDowngradeRefused, Message: fmt.Sprintf(
		"downgrade from OpenNebula %s to %s refused: its database cannot be downgraded; to restore an older backup, "+
			"annotate the frontend %s=true", running, target, opennebulav1alpha1.AnnotationAllowDowngrade)})
	return nil
}

// zoneOfSeveral: the frontend is a Raft zone with, or heading for, more than one server.
func zoneOfSeveral(fe *opennebulav1alpha1.OpenNebulaFrontend, st *reconcileState) bool {
	return builder.HighAvailability(fe, st.Inputs) && (ptr.Deref(fe.Spec.Replicas, 1) > 1 || st.Inputs.Raft.StatefulSetReplicas > 1)
}
