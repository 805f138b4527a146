package controller

// The phase "keep keys": a solo frontend on MySQL gets its keys kept, as a zone's first
// server does when it joins its zone (internal/raft ShareKeys).

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opennebulav1alpha1 "github.com/opennebula-operator/opennebula-operator/api/v1alpha1"
	"github.com/opennebula-operator/opennebula-operator/internal/builder"
	"github.com/opennebula-operator/opennebula-operator/internal/raft"
)

// EventReasonKeysKept: the operator kept the frontend's keys and restarted its server once
// to run with them.
const EventReasonKeysKept = "KeysKept"

// keepKeys keeps the keys of a solo frontend on MySQL once its oned runs: the seed image's
// entry point takes every start on MySQL for a first boot and removes one_key,
// fireedge_key and the services' auth files (builder.StartWrapper, serverKeys), so
// without them a restart would leave oned's encrypted attributes unreadable and OneFlow
// and OneGate locked out. raft.ShareKeys reads oned's one_key, keeps it with a FireEdge
// key and a serveradmin secret in the Keys Secret, and sets serveradmin's password; the
// pod is then restarted once, for its start wrapper to put them in var/.one.
//
// A pod whose frontend container started before the Secret was made runs without them:
// it is restarted, which covers an operator that stopped between the two steps
// (ShareKeys then reuses what it kept). Both times have a resolution of a second; a
// first boot takes several, so the pod that ran without keys started in an earlier
// second than the Secret, and the one restarted after it does not. Only once the frontend's oned answered through its
// Service (checkReachability) is its pod asked: a frontend that does not run yet costs
// no call.
func (r *OpenNebulaFrontendReconciler) keepKeys(ctx context.Context, fe *opennebulav1alpha1.OpenNebulaFrontend, st *reconcileState) error {
	if r.PodEndpoint == nil || builder.HighAvailability(fe, st.Inputs) || !builder.UsesStartWrapper(fe, st.Inputs) ||
		!st.Oned.Checked || st.Oned.Err != nil {
		return nil
	}
	pod := &corev1.Pod{}
	podName := builder.NamesFor(fe.Name).StatefulSet + "-0"
	if err := r.Get(ctx, client.ObjectKey{Namespace: fe.Namespace, Name: podName}, pod); err != nil {
		return client.IgnoreNotFound(err)
	}
	started := containerStarted(pod, builder.ContainerName)
	if started == nil || pod.DeletionTimestamp != nil {
		return nil
	}
	keys := &corev1.Secret{}
	switch err := r.applier.Get(ctx, client.ObjectKey{Namespace: fe.Namespace, Name: builder.NamesFor(fe.Name).Keys}, keys); {
	case err == nil && !started.Before(keys.CreationTimestamp.Time):
		return nil
	case err != nil && !apierrors.IsNotFound(err):
		return err
	}
	c, err := adminClient(ctx, r.applier, fe, r.PodEndpoint(fe, podName), onedCallTimeout)
	if err != nil {
		return err
	}
	rt := &kubeRuntime{r: r, fe: fe}
	if err := raft.ShareKeys(ctx, c, rt); err != nil {
		return err
	}
	if err := rt.restartPod(ctx, pod); err != nil {
		return err
	}
	r.Recorder.Eventf(fe, corev1.EventTypeNormal, EventReasonKeysKept,
		"oned's one_key, a FireEdge key and serveradmin's secret are kept in Secret %s; pod %s restarts once to run with them",
		builder.NamesFor(fe.Name).Keys, podName)
	return nil
}

// containerStarted is when the pod's container of that name started running (nil while
// it does not run).
func containerStarted(pod *corev1.Pod, name string) *time.Time {
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.Name == name && cs.State.Running != nil {
			return &cs.State.Running.StartedAt.Time
		}
	}
	return nil
}
