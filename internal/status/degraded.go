package status

import opennebulav1alpha1 "github.com/opennebula-operator/opennebula-operator/api/v1alpha1"

// degraded: a problem the user must fix comes first (it is why a write failed, if one
// did), then the reconcile's own failure.
func (c *conditions) degraded(obs Observation) {
	switch {
	case obs.Problem != nil:
		c.setBool(opennebulav1alpha1.ConditionDegraded, true, obs.Problem.Reason, obs.Problem.Message)
	case obs.Err != nil:
		c.setBool(opennebulav1alpha1.ConditionDegraded, true, opennebulav1alpha1.ReasonReconcileFailed, obs.Err.Error())
	default:
		c.setBool(opennebulav1alpha1.ConditionDegraded, false, opennebulav1alpha1.ReasonAsExpected, "every child matches the spec")
	}
}
