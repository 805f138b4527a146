package status

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	opennebulav1alpha1 "github.com/opennebula-operator/opennebula-operator/api/v1alpha1"
	"github.com/opennebula-operator/opennebula-operator/internal/builder"
)

// rollout sets Ready (do the pods serve?) and Progressing (is a change still being
// rolled out?) from the frontend's StatefulSet, and the version fields.
func (c *conditions) rollout(fe *opennebulav1alpha1.OpenNebulaFrontend, obs Observation, opts builder.Options) {
	status := &c.status
	sts := obs.StatefulSet
	if sts == nil {
		status.Replicas, status.ReadyReplicas = 0, 0
		reason, msg := opennebulav1alpha1.ReasonStatefulSetMissing, "the StatefulSet does not exist yet"
		switch {
		case obs.Err != nil:
			reason, msg = opennebulav1alpha1.ReasonReconcileFailed, obs.Err.Error()
		case obs.Problem != nil:
			reason, msg = obs.Problem.Reason, "waiting: "+obs.Problem.Message
		}
		c.setBool(opennebulav1alpha1.ConditionReady, false, reason, msg)
		c.setBool(opennebulav1alpha1.ConditionProgressing, obs.Err == nil && obs.Problem == nil, reason, msg)
		return
	}

	want := ptr.Deref(sts.Spec.Replicas, 1)
	st := sts.Status
	status.Replicas = st.Replicas
	status.ReadyReplicas = st.ReadyReplicas
	for _, ctr := range sts.Spec.Template.Spec.Containers {
		if ctr.Name == builder.ContainerName {
			status.Image = ctr.Image
		}
	}
	status.TargetVersion = builder.Version(builder.Image(fe, opts))

	observed := st.ObservedGeneration >= sts.Generation
	updated := observed && st.UpdatedReplicas == want &&
		(st.UpdateRevision == "" || st.CurrentRevision == st.UpdateRevision)
	// Ready says whether the pods serve, whichever revision they run.
	serving := st.ReadyReplicas >= want
	if updated && serving && status.Image != "" {
		// The pods run the template's image: that is the running version now.
		status.Version = builder.Version(status.Image)
	}

	// A replaced StatefulSet counts no replicas until the StatefulSet controller has adopted
	// the running pods (its pod informer may still show them owned by the old one): until
	// then its status says nothing about the pods, and the replacement is still under way.
	prevProgressing := meta.FindStatusCondition(status.Conditions, opennebulav1alpha1.ConditionProgressing)
	adopting := prevProgressing != nil && prevProgressing.Status == metav1.ConditionTrue &&
		prevProgressing.Reason == opennebulav1alpha1.ReasonReplacingStatefulSet && (st.ObservedGeneration == 0 || st.Replicas < want)

	switch {
	case obs.Err != nil:
		c.setBool(opennebulav1alpha1.ConditionProgressing, false, opennebulav1alpha1.ReasonReconcileFailed, obs.Err.Error())
	case len(obs.Replacing) > 0:
		c.setBool(opennebulav1alpha1.ConditionProgressing, true, opennebulav1alpha1.ReasonReplacingStatefulSet, strings.Join(obs.Replacing, "; "))
	case adopting:
		c.setBool(opennebulav1alpha1.ConditionProgressing, true, opennebulav1alpha1.ReasonReplacingStatefulSet,
			fmt.Sprintf("StatefulSet %s was replaced; waiting for it to adopt the running pods", sts.Name))
	case len(obs.Growing) > 0:
		c.setBool(opennebulav1alpha1.ConditionProgressing, true, opennebulav1alpha1.ReasonVolumesGrowing, strings.Join(obs.Growing, "; "))
	case !updated || !serving:
		c.setBool(opennebulav1alpha1.ConditionProgressing, true, opennebulav1alpha1.ReasonRolloutInProgress,
			fmt.Sprintf("StatefulSet %s: %d of %d replicas updated, %d ready (revision %s, target %s)",
				sts.Name, st.UpdatedReplicas, want, st.ReadyReplicas, st.CurrentRevision, st.UpdateRevision))
	default:
		c.setBool(opennebulav1alpha1.ConditionProgressing, false, opennebulav1alpha1.ReasonRolloutComplete,
			fmt.Sprintf("StatefulSet %s runs revision %s", sts.Name, st.CurrentRevision))
	}

	switch {
	case (st.ObservedGeneration == 0 || adopting) && meta.FindStatusCondition(status.Conditions, opennebulav1alpha1.ConditionReady) != nil:
		// A StatefulSet the StatefulSet controller has not looked at yet, or that has not
		// adopted its pods yet (just replaced), says nothing about them: keep what was last seen.
	case serving && obs.Raft == nil && ptr.Deref(fe.Spec.Replicas, 1) > 1:
		// Several servers asked for, and none of them read: whether a zone serves is unknown.
		c.setBool(opennebulav1alpha1.ConditionReady, false, opennebulav1alpha1.ReasonRaftNotDriven,
			fmt.Sprintf("%d of %d replicas ready, but %d servers are asked for and the operator has not read the zone's servers (one.zone.raftstatus)",
				st.ReadyReplicas, want, ptr.Deref(fe.Spec.Replicas, 1)))
	case serving:
		c.zoneReady(obs.Raft, fmt.Sprintf("%d of %d replicas ready", st.ReadyReplicas, want))
	default:
		c.setBool(opennebulav1alpha1.ConditionReady, false, opennebulav1alpha1.ReasonReplicasNotReady,
			fmt.Sprintf("%d of %d replicas ready", st.ReadyReplicas, want))
	}
}

// zoneReady sets Ready for pods that serve: in a Raft zone only when a leader is followed
// by a majority of the members (the zone can write), saying who leads.
func (c *conditions) zoneReady(z *RaftObservation, replicas string) {
	switch {
	case z == nil:
		c.setBool(opennebulav1alpha1.ConditionReady, true, opennebulav1alpha1.ReasonAllReplicasReady, replicas)
	case !zoneServes(z):
		c.setBool(opennebulav1alpha1.ConditionReady, false, opennebulav1alpha1.ReasonRaftNoQuorum, replicas+", but "+describeZone(z))
	default:
		c.setBool(opennebulav1alpha1.ConditionReady, true, opennebulav1alpha1.ReasonAllReplicasReady, replicas+"; "+describeZone(z))
	}
}
