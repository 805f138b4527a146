package controller

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	opennebulav1alpha1 "github.com/opennebula-operator/opennebula-operator/api/v1alpha1"
	"github.com/opennebula-operator/opennebula-operator/internal/builder"
)

// computeStatus derives the frontend's status from its StatefulSet (nil when it could
// not be read or applied) and the error of this reconcile, if any. It is a pure
// function: conditions keep their lastTransitionTime unless their status changes.
func computeStatus(fe *opennebulav1alpha1.OpenNebulaFrontend, sts *appsv1.StatefulSet, reconcileErr error) opennebulav1alpha1.OpenNebulaFrontendStatus {
	status := *fe.Status.DeepCopy()
	status.ObservedGeneration = fe.Generation
	gen := fe.Generation
	set := func(condType string, ok bool, reason, msg string) {
		s := metav1.ConditionFalse
		if ok {
			s = metav1.ConditionTrue
		}
		meta.SetStatusCondition(&status.Conditions, metav1.Condition{
			Type: condType, Status: s, Reason: reason, Message: msg, ObservedGeneration: gen,
		})
	}

	if sts == nil {
		status.Replicas, status.ReadyReplicas = 0, 0
		reason, msg := opennebulav1alpha1.ReasonStatefulSetMissing, "the StatefulSet does not exist yet"
		if reconcileErr != nil {
			reason, msg = opennebulav1alpha1.ReasonReconcileFailed, reconcileErr.Error()
		}
		set(opennebulav1alpha1.ConditionReady, false, reason, msg)
		set(opennebulav1alpha1.ConditionProgressing, reconcileErr == nil, reason, msg)
		return status
	}

	want := ptr.Deref(sts.Spec.Replicas, 1)
	st := sts.Status
	status.Replicas = st.Replicas
	status.ReadyReplicas = st.ReadyReplicas
	for _, c := range sts.Spec.Template.Spec.Containers {
		if c.Name == builder.ContainerName {
			status.Image = c.Image
		}
	}

	observed := st.ObservedGeneration >= sts.Generation
	updated := observed && st.UpdatedReplicas == want &&
		(st.UpdateRevision == "" || st.CurrentRevision == st.UpdateRevision)
	ready := observed && st.ReadyReplicas == want && st.UpdatedReplicas == want

	switch {
	case reconcileErr != nil:
		set(opennebulav1alpha1.ConditionProgressing, false, opennebulav1alpha1.ReasonReconcileFailed, reconcileErr.Error())
	case !updated || !ready:
		set(opennebulav1alpha1.ConditionProgressing, true, opennebulav1alpha1.ReasonRolloutInProgress,
			fmt.Sprintf("StatefulSet %s: %d of %d replicas updated, %d ready (revision %s, target %s)",
				sts.Name, st.UpdatedReplicas, want, st.ReadyReplicas, st.CurrentRevision, st.UpdateRevision))
	default:
		set(opennebulav1alpha1.ConditionProgressing, false, opennebulav1alpha1.ReasonRolloutComplete,
			fmt.Sprintf("StatefulSet %s runs revision %s", sts.Name, st.CurrentRevision))
	}

	if ready {
		set(opennebulav1alpha1.ConditionReady, true, opennebulav1alpha1.ReasonAllReplicasReady,
			fmt.Sprintf("%d of %d replicas ready", st.ReadyReplicas, want))
	} else {
		set(opennebulav1alpha1.ConditionReady, false, opennebulav1alpha1.ReasonReplicasNotReady,
			fmt.Sprintf("%d of %d replicas ready and updated", min(st.ReadyReplicas, st.UpdatedReplicas), want))
	}
	return status
}
