package status

import (
	"fmt"
	"strings"

	opennebulav1alpha1 "github.com/opennebula-operator/opennebula-operator/api/v1alpha1"
)

// paused says whether the operator reconciles the frontend, and what resuming will change.
func (c *conditions) paused(p *Pause) {
	if p == nil {
		c.setBool(opennebulav1alpha1.ConditionPaused, false, opennebulav1alpha1.ReasonNotPaused, "the operator reconciles the frontend")
		return
	}
	c.setBool(opennebulav1alpha1.ConditionPaused, true, opennebulav1alpha1.ReasonPaused, p.message())
}

func (p *Pause) message() string {
	if len(p.Pending) == 0 {
		return "paused by the " + opennebulav1alpha1.AnnotationPaused + " annotation; no changes pending"
	}
	return fmt.Sprintf("paused by the %s annotation; %d changes pending: %s", opennebulav1alpha1.AnnotationPaused,
		len(p.Pending), strings.Join(p.Pending, ", "))
}
