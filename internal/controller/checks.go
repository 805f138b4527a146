package controller

import (
	"context"
	"fmt"

	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	utilversion "k8s.io/apimachinery/pkg/util/version"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opennebulav1alpha1 "github.com/opennebula-operator/opennebula-operator/api/v1alpha1"
	"github.com/opennebula-operator/opennebula-operator/internal/builder"
	"github.com/opennebula-operator/opennebula-operator/internal/status"
)

// checkStorageClasses finds a StorageClass the spec names that does not exist (read
// past the cache: StorageClasses are not watched).
func (r *OpenNebulaFrontendReconciler) checkStorageClasses(ctx context.Context, fe *opennebulav1alpha1.OpenNebulaFrontend, st *reconcileState) error {
	classes := []*string{fe.Spec.Persistence.StorageClassName}
	if m := fe.Spec.Database.MariaDB; m != nil && builder.DatabaseBackend(fe) == opennebulav1alpha1.DatabaseMariaDB {
		classes = append(classes, m.StorageClassName)
	}
	for _, name := range classes {
		if name == nil || *name == "" {
			continue
		}
		err := r.APIReader.Get(ctx, client.ObjectKey{Name: *name}, &storagev1.StorageClass{})
		if apierrors.IsNotFound(err) {
			st.Report(&status.Problem{Reason: opennebulav1alpha1.ReasonStorageClassMissing, Message: fmt.Sprintf("StorageClass %s does not exist", *name)})
			return nil
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
	if running == "" || fe.Annotations[opennebulav1alpha1.AnnotationAllowDowngrade] == "true" {
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
