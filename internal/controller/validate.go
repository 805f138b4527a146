package controller

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opennebulav1alpha1 "github.com/opennebula-operator/opennebula-operator/api/v1alpha1"
	"github.com/opennebula-operator/opennebula-operator/internal/apply"
	"github.com/opennebula-operator/opennebula-operator/internal/builder"
	"github.com/opennebula-operator/opennebula-operator/internal/status"
)

// validateChildren asks the API server, with server-side dry runs, whether it would accept
// the children the spec renders, before anything is written, when the spec sets fields
// whose validity the CRD cannot express (builder.UncheckedFields): the frontend is then
// InvalidSpec, naming its own field, and nothing is written (but for the one exception
// below). It costs requests only for a new generation of such a spec (or while it is
// invalid), and only for children that would be written.
func (r *OpenNebulaFrontendReconciler) validateChildren(ctx context.Context, fe *opennebulav1alpha1.OpenNebulaFrontend, st *reconcileState) error {
	if len(builder.UncheckedFields(fe)) == 0 {
		return nil
	}
	degraded := meta.FindStatusCondition(fe.Status.Conditions, opennebulav1alpha1.ConditionDegraded)
	if fe.Status.ObservedGeneration == fe.Generation && (degraded == nil || degraded.Reason != opennebulav1alpha1.ReasonInvalidSpec) {
		return nil
	}
	for _, desired := range builder.Build(fe, r.Options, builder.Inputs{}) {
		if !builder.ValidatedKind(desired) {
			continue
		}
		var err error
		if svc, ok := desired.(*corev1.Service); ok && pinsNodePorts(svc) {
			// A dry run does not check a node port against the cluster's range, only that
			// it is free (k8s.io/kubernetes pkg/registry/core/service/portallocator,
			// PortAllocationOperation.Allocate): this Service is applied for real, first,
			// as its own validation. It depends on nothing; refused, it is the only write.
			var res apply.Result
			if res, err = r.applier.Apply(ctx, fe, desired, nil); err == nil {
				st.record(res)
			}
		} else {
			err = r.applier.Validate(ctx, fe, desired)
		}
		if p := invalidSpec(fe, desired, err); p != nil {
			st.reportInvalid(p)
			return nil
		}
		if err != nil {
			return fmt.Errorf("validating %T %s: %w", desired, desired.GetName(), err)
		}
		if sts, ok := desired.(*appsv1.StatefulSet); ok {
			if p := r.validatePod(ctx, fe, sts); p != nil {
				st.reportInvalid(p)
				return nil
			}
		}
	}
	return nil
}

// validatePod dry-runs the creation of the pod the StatefulSet controller would make:
// the only validation of a pod template that is complete on every supported Kubernetes.
// Only a refusal of the pod's content (Invalid) is the spec's problem; any other answer
// (admission that needs objects not yet there, such as the ServiceAccount) is left to the
// StatefulSet controller, as it would be without this check.
func (r *OpenNebulaFrontendReconciler) validatePod(ctx context.Context, fe *opennebulav1alpha1.OpenNebulaFrontend, sts *appsv1.StatefulSet) *status.Problem {
	pod := builder.ValidationPod(sts)
	err := r.Create(ctx, pod, client.DryRunAll)
	p := invalidSpec(fe, pod, err)
	if err != nil && p == nil {
		// Rare (a new generation of a spec with unchecked fields) and worth seeing: the
		// e2e tests fail on a "forbidden" here, so a missing RBAC verb cannot hide.
		ctrl.LoggerFrom(ctx).Info("the dry run of the frontend's pod was not answered; its StatefulSet will say", "statefulSet", sts.Name, "error", err.Error())
	}
	return p
}

// reportInvalid reports an InvalidSpec problem and stops every write of this reconcile.
func (st *reconcileState) reportInvalid(p *status.Problem) {
	st.Report(p)
	st.invalidSpec = true
}

func pinsNodePorts(svc *corev1.Service) bool {
	for _, p := range svc.Spec.Ports {
		if p.NodePort != 0 {
			return true
		}
	}
	return false
}

// invalidSpec turns the API server's refusal of a child (Invalid) into the frontend's
// problem, naming the frontend's field; nil for any other error.
func invalidSpec(fe *opennebulav1alpha1.OpenNebulaFrontend, child client.Object, err error) *status.Problem {
	var apiErr apierrors.APIStatus
	if !apierrors.IsInvalid(err) || !errors.As(err, &apiErr) {
		return nil
	}
	refused := fmt.Sprintf("the API server refuses %s %s", reflect.TypeOf(child).Elem().Name(), child.GetName())
	var details []string
	if d := apiErr.Status().Details; d != nil {
		for _, c := range d.Causes {
			if field := builder.SpecField(fe, child, c.Field); field != "" {
				details = append(details, field+": "+c.Message)
			}
		}
	}
	if len(details) == 0 {
		// No cause maps to a field the user sets: say which child and why, as the API
		// server did.
		return &status.Problem{Reason: opennebulav1alpha1.ReasonInvalidSpec, Message: fmt.Sprintf("spec: %s: %s", refused, apiErr.Status().Message)}
	}
	return &status.Problem{Reason: opennebulav1alpha1.ReasonInvalidSpec, Message: strings.Join(details, "; ") + " (" + refused + ")"}
}
