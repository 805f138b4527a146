// Package status computes an OpenNebulaFrontend's status from what one reconcile
// observed. It is pure: no client, no clock but the conditions' transition times, so its
// tests run with plain `go test ./internal/status`. One file per condition.
package status

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"

	opennebulav1alpha1 "github.com/opennebula-operator/opennebula-operator/api/v1alpha1"
	"github.com/opennebula-operator/opennebula-operator/internal/builder"
)

// Problem is something the user must fix; it becomes the Degraded condition.
type Problem struct{ Reason, Message string }

// Observation is what one reconcile saw.
type Observation struct {
	// StatefulSet is the frontend's StatefulSet as it now is; nil when it does not exist.
	StatefulSet *appsv1.StatefulSet
	// Err is the reconcile's failure (a write the API server refused, a read that failed).
	Err error
	// Problem is the first problem the reconcile's phases found (Degraded shows it).
	Problem *Problem
	// Inputs are what the desired state depends on besides the spec.
	Inputs builder.Inputs
	// Growing lists the claims whose capacity has not reached their request.
	Growing []string
	// Replacing says which StatefulSets are being replaced (orphan and recreate).
	Replacing []string
	// Oned is what the last call to the frontend's oned found.
	Oned OnedCheck
	// Paused is set while the paused annotation stops writes.
	Paused *Pause
	// Raft is what a zone's servers answered (nil: solo).
	Raft *RaftObservation
	// Hosts counts the frontend's OpenNebulaHosts by state (nil: none).
	Hosts *opennebulav1alpha1.HostCounts
}

// Report records p unless a problem was found before: the first phase to find one is
// the one Degraded shows (phases run in the order their fixes must be made).
func (o *Observation) Report(p *Problem) {
	if o.Problem == nil {
		o.Problem = p
	}
}

// OnedCheck is what the last call to a frontend's oned found.
type OnedCheck struct {
	Checked bool
	// Err is the call's failure: a *oned.TransportError (unreachable), an *oned.Error
	// (answered and refused), or an AdminPasswordError.
	Err error
	// Version is what one.system.version answered.
	Version string
	// SSHErr is the result of dialling port 22 in the same check.
	SSHErr error
}

// AdminPasswordError says the oneadmin password could not be read; the Degraded
// condition says why (the Secret or key is missing).
type AdminPasswordError struct {
	Ref opennebulav1alpha1.SecretKeySelector
}

func (e AdminPasswordError) Error() string {
	return fmt.Sprintf("the oneadmin password (Secret %s key %q) cannot be read", e.Ref.Name, e.Ref.Key)
}

// Pause is what a paused frontend would change when resumed.
type Pause struct {
	// Pending lists the children that differ from the spec ("StatefulSet one").
	Pending []string
}
