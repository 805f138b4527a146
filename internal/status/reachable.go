package status

import (
	"errors"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	opennebulav1alpha1 "github.com/opennebula-operator/opennebula-operator/api/v1alpha1"
	"github.com/opennebula-operator/opennebula-operator/internal/builder"
	"github.com/opennebula-operator/opennebula-operator/internal/oned"
)

// reachability sets OnedReachable and SSHReachable (and onedVersion) from the last call
// to oned and dial of port 22.
func (c *conditions) reachability(fe *opennebulav1alpha1.OpenNebulaFrontend, check OnedCheck) {
	err := check.Err
	_, noPassword := errors.AsType[AdminPasswordError](err)
	// answered: oned itself refused the call; any other error means it was not reached.
	_, answered := errors.AsType[*oned.Error](err)
	switch {
	case !check.Checked:
		c.set(opennebulav1alpha1.ConditionOnedReachable, metav1.ConditionUnknown, opennebulav1alpha1.ReasonNotChecked,
			"oned is called when the frontend is ready and the operator runs inside the cluster")
	case noPassword:
		c.set(opennebulav1alpha1.ConditionOnedReachable, metav1.ConditionUnknown, opennebulav1alpha1.ReasonNotChecked, err.Error())
	case oned.IsAuthentication(err):
		ref := builder.AdminPasswordRef(fe)
		c.setBool(opennebulav1alpha1.ConditionOnedReachable, false, opennebulav1alpha1.ReasonOnedAuthenticationFailed, fmt.Sprintf(
			"oned refused the oneadmin password of Secret %s key %q (changed in OpenNebula, or the Secret replaced after the first boot): %v",
			ref.Name, ref.Key, err))
	case err != nil && !answered:
		c.setBool(opennebulav1alpha1.ConditionOnedReachable, false, opennebulav1alpha1.ReasonOnedUnreachable, err.Error())
	case err != nil:
		c.setBool(opennebulav1alpha1.ConditionOnedReachable, false, opennebulav1alpha1.ReasonOnedRefused, err.Error())
	default:
		c.status.OnedVersion = check.Version
		c.setBool(opennebulav1alpha1.ConditionOnedReachable, true, opennebulav1alpha1.ReasonOnedAnswers, fmt.Sprintf(
			"oned %s answers one.system.version as %s on port %d", check.Version, oned.AdminUser, builder.PortNumber(builder.PortOned)))
	}
	switch {
	case !check.Checked:
		c.set(opennebulav1alpha1.ConditionSSHReachable, metav1.ConditionUnknown, opennebulav1alpha1.ReasonNotChecked,
			"port 22 is dialled when the frontend is ready and the operator runs inside the cluster")
	case check.SSHErr != nil:
		c.setBool(opennebulav1alpha1.ConditionSSHReachable, false, opennebulav1alpha1.ReasonSSHUnreachable,
			check.SSHErr.Error()+"; the sshd sidecar needs an image with /usr/sbin/sshd (spec.ssh.image)")
	default:
		c.setBool(opennebulav1alpha1.ConditionSSHReachable, true, opennebulav1alpha1.ReasonSSHAnswers, "sshd accepts connections on 22")
	}
}
