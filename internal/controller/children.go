package controller

import (
	"context"
	"errors"
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/record"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opennebulav1alpha1 "github.com/opennebula-operator/opennebula-operator/api/v1alpha1"
	"github.com/opennebula-operator/opennebula-operator/internal/apply"
	"github.com/opennebula-operator/opennebula-operator/internal/builder"
	"github.com/opennebula-operator/opennebula-operator/internal/status"
)

// applyChildren brings every child to its desired state, in Build order, through the
// one write engine. A StatefulSet waits while there is a problem: a pod that cannot
// start must not replace one that runs. It stops at the first error.
func (r *OpenNebulaFrontendReconciler) applyChildren(ctx context.Context, fe *opennebulav1alpha1.OpenNebulaFrontend, st *reconcileState) error {
	for _, desired := range builder.Build(fe, r.Options, st.Inputs) {
		sts, isSTS := desired.(*appsv1.StatefulSet)
		if isSTS && st.Problem != nil {
			continue
		}
		var before apply.BeforeRecreate
		if isSTS {
			before = func(ctx context.Context, live client.Object, _ []string) error {
				return r.growClaims(ctx, sts, live.(*appsv1.StatefulSet), st)
			}
		}
		res, err := r.applier.Apply(ctx, fe, desired, before)
		if notOwned, ok := errors.AsType[*apply.NotOwnedError](err); ok {
			// Nothing was written to it; the user must rename or delete it.
			st.Report(&status.Problem{Reason: opennebulav1alpha1.ReasonChildNotOwned, Message: notOwned.Error()})
			continue
		}
		if p := invalidSpec(fe, desired, err); p != nil {
			// A refusal the dry run did not foresee (a child recreated since, or a spec
			// with no unchecked field): the spec must change, not worth retrying.
			st.reportInvalid(p)
			return nil
		}
		if err != nil {
			if !apierrors.IsConflict(err) {
				r.Recorder.Eventf(fe, corev1.EventTypeWarning, EventReasonApplyFailed, "%v", err)
			}
			return err
		}
		st.record(res)
		if isSTS && desired.GetName() == builder.NamesFor(fe.Name).StatefulSet {
			st.StatefulSet = res.Live.(*appsv1.StatefulSet)
			st.statefulSetCreated = res.Change == apply.Created
		}
	}
	return nil
}

// record notes what the engine did to a child, for the Events and the status.
func (st *reconcileState) record(res apply.Result) {
	switch res.Change {
	case apply.Created:
		st.changes.add(EventReasonCreated, res.Ref)
	case apply.Updated:
		st.changes.add(EventReasonUpdated, res.Ref)
	case apply.Recreated:
		msg := fmt.Sprintf("%s (changed %s; pods and volumes kept)", res.Ref, strings.Join(res.Changed, ", "))
		st.changes.add(EventReasonReplaced, msg)
		st.Replacing = append(st.Replacing, "replacing "+msg)
	case apply.Terminating:
		st.Replacing = append(st.Replacing, res.Ref+" is being replaced; its pods keep running")
	}
}

// changeLog collects what one reconcile created, updated, replaced and expanded, so
// that it is reported in one Event per kind of change ("Created ConfigMap one-config,
// Service one, ...") instead of one Event (one API write) per child.
type changeLog struct{ byReason map[string][]string }

// changeReasons is the order in which a reconcile's changes are reported.
var changeReasons = []string{EventReasonCreated, EventReasonUpdated, EventReasonExpanded, EventReasonReplaced}

func (c *changeLog) add(reason, ref string) {
	if c.byReason == nil {
		c.byReason = map[string][]string{}
	}
	c.byReason[reason] = append(c.byReason[reason], ref)
}

func (c *changeLog) record(rec record.EventRecorder, fe *opennebulav1alpha1.OpenNebulaFrontend) {
	for _, reason := range changeReasons {
		if refs := c.byReason[reason]; len(refs) > 0 {
			rec.Eventf(fe, corev1.EventTypeNormal, reason, "%s %s", reason, strings.Join(refs, ", "))
		}
	}
}
