package testenv

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/opennebula-operator/opennebula-operator/internal/builder"
	"github.com/opennebula-operator/opennebula-operator/internal/oned/onedtest"
)

// RunFrontendPod plays, for a frontend pod whose oned is the double srv, what the pod's
// start wrapper and seed init container do when the kubelet runs them (builder/raft.go):
// before the zone is formed (no server recorded) the server starts solo; once it is, a
// pod without an ID waits in its seed init container until the operator records one,
// then starts with it on a database seeded from the leader's; a recorded server whose
// database was lost gets the leader's and says so in the init container's message
// (builder.ReseededMessage); every server of a zone waits for the keys Secret and uses
// its one_key. ids is the record (builder.RaftRecord); fe the frontend's name.
//
// It sets the pod's seed init container and main container states. ok is false when
// the pod's containers wait (a recorded server whose keys Secret is missing): its status
// is then left as it was.
func RunFrontendPod(ctx context.Context, t testing.TB, c client.Reader, fe string, srv *onedtest.Server,
	pod *corev1.Pod, ids map[string]int) (ok bool, err error) {
	t.Helper()
	id, recorded := ids[pod.Name]
	starting := !srv.Running()
	if starting {
		keys := &corev1.Secret{}
		switch err := c.Get(ctx, client.ObjectKey{Namespace: pod.Namespace, Name: builder.NamesFor(fe).Keys}, keys); {
		case err == nil:
			srv.UseOneKey(string(keys.Data[builder.OneKeyKey]))
		case !apierrors.IsNotFound(err):
			return false, err
		case recorded:
			return false, nil
		}
	}
	seed := corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0}}
	prev := builder.SeedState(pod)
	if prev != nil && prev.Terminated != nil {
		seed = *prev // a pod's init container ran once
	}
	joined := prev != nil && prev.Running != nil // it waited for its ID: a join, not a loss
	switch {
	case srv.Running():
	case len(ids) > 0 && !recorded:
		seed = corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
	case recorded && joined:
		srv.SeedFrom(nil)
		srv.StartAs(t, id)
	case recorded:
		if !srv.HasDatabase() {
			// The seed script copied the leader's database over a lost one, and says so.
			srv.SeedFrom(nil)
			seed = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Message: builder.ReseededMessage + "\n"}}
		}
		srv.StartAs(t, id)
	default:
		srv.StartAs(t, -1)
	}
	pod.Status.InitContainerStatuses = []corev1.ContainerStatus{{Name: builder.SeedInitContainer, State: seed}}
	if starting && srv.Running() {
		pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: builder.ContainerName,
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}}}}
	}
	return true, nil
}

// EventMessages are the messages of the namespace's Events of reason.
func EventMessages(ctx context.Context, c client.Reader, ns, reason string) ([]string, error) {
	var events corev1.EventList
	if err := c.List(ctx, &events, client.InNamespace(ns)); err != nil {
		return nil, err
	}
	var out []string
	for _, e := range events.Items {
		if e.Reason == reason {
			out = append(out, e.Message)
		}
	}
	return out, nil
}
