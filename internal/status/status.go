package status

import (
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	opennebulav1alpha1 "github.com/opennebula-operator/opennebula-operator/api/v1alpha1"
	"github.com/opennebula-operator/opennebula-operator/internal/builder"
)

// Compute derives the frontend's status from what one reconcile observed. Conditions
// keep their lastTransitionTime unless their status changes.
func Compute(fe *opennebulav1alpha1.OpenNebulaFrontend, obs Observation, opts builder.Options) opennebulav1alpha1.OpenNebulaFrontendStatus {
	s := conditions{status: *fe.Status.DeepCopy(), gen: fe.Generation}
	s.status.ObservedGeneration = fe.Generation
	reportFacts(&s.status, fe, obs, opts)
	reportRaft(&s.status, obs.Raft)
	s.status.Hosts = obs.Hosts
	s.paused(obs.Paused)
	s.degraded(obs)
	s.reachability(fe, obs.Oned)
	s.rollout(fe, obs, opts)
	return s.status
}

// conditions sets the conditions of one status.
type conditions struct {
	status opennebulav1alpha1.OpenNebulaFrontendStatus
	gen    int64
}

func (c *conditions) set(condType string, s metav1.ConditionStatus, reason, msg string) {
	meta.SetStatusCondition(&c.status.Conditions, metav1.Condition{
		Type: condType, Status: s, Reason: reason, Message: msg, ObservedGeneration: c.gen,
	})
}

func (c *conditions) setBool(condType string, ok bool, reason, msg string) {
	s := metav1.ConditionFalse
	if ok {
		s = metav1.ConditionTrue
	}
	c.set(condType, s, reason, msg)
}
