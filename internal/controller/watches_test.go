package controller

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	opennebulav1alpha1 "github.com/opennebula-operator/opennebula-operator/api/v1alpha1"
)

// A child's events wake the frontend its controller reference names, and only a
// frontend: the reference SetControllerReference writes (from the scheme) matches.
func TestToControllingFrontend(t *testing.T) {
	fe := &opennebulav1alpha1.OpenNebulaFrontend{ObjectMeta: metav1.ObjectMeta{Name: "one", Namespace: "ns", UID: "u1"}}
	owned := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "one-oned", Namespace: "ns"}}
	if err := controllerutil.SetControllerReference(fe, owned, k8sClient.Scheme()); err != nil {
		t.Fatal(err)
	}
	notController := owned.DeepCopy()
	notController.OwnerReferences[0].Controller = nil
	otherKind := owned.DeepCopy()
	otherKind.OwnerReferences[0].Kind = "OpenNebulaHost"
	otherGroup := owned.DeepCopy()
	otherGroup.OwnerReferences[0].APIVersion = "example.com/v1alpha1"
	coreGroup := owned.DeepCopy()
	coreGroup.OwnerReferences[0].APIVersion = "v1"
	for name, tc := range map[string]struct {
		obj  *corev1.Service
		want int
	}{
		"controlled by a frontend": {owned, 1},
		"owned, not controlled":    {notController, 0},
		"another kind":             {otherKind, 0},
		"another group":            {otherGroup, 0},
		"the core group":           {coreGroup, 0},
		"no owner":                 {&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "ns"}}, 0},
	} {
		q := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[reconcile.Request]())
		toControllingFrontend.Create(context.Background(), event.CreateEvent{Object: tc.obj}, q)
		if q.Len() != tc.want {
			t.Errorf("%s: %d requests, want %d", name, q.Len(), tc.want)
		}
		if tc.want == 1 {
			req, _ := q.Get()
			if req.Namespace != "ns" || req.Name != "one" {
				t.Errorf("%s: request %v", name, req)
			}
		}
		q.ShutDown()
	}
}
