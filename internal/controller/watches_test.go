package controller

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/controller/priorityqueue"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	opennebulav1alpha1 "github.com/opennebula-operator/opennebula-operator/api/v1alpha1"
)

// TestEditsFirst: a frontend whose spec was edited leaves the queue before the frontends
// queued earlier by their children's status changes; a status-only change does not jump
// the queue. Pure: a real priority queue, no API server.
func TestEditsFirst(t *testing.T) {
	fe := func(name string, generation int64) *opennebulav1alpha1.OpenNebulaFrontend {
		return &opennebulav1alpha1.OpenNebulaFrontend{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, Generation: generation}}
	}
	key := func(name string) reconcile.Request {
		r := reconcile.Request{}
		r.Namespace, r.Name = "ns", name
		return r
	}

	q := priorityqueue.New[reconcile.Request]("edits-first-test")
	defer q.ShutDown()
	h := editsFirst()
	ctx := context.Background()
	// Rollout rechecks queued by the For and Owns watches, at the default priority.
	q.Add(key("rolling-a"))
	q.Add(key("rolling-b"))
	// A status-only change (same generation) is not raised.
	h.Update(ctx, event.UpdateEvent{ObjectOld: fe("status-only", 3), ObjectNew: fe("status-only", 3)}, q)
	q.Add(key("status-only"))
	// A spec edit: the For watch adds it at the default priority, editsFirst raises it.
	q.Add(key("edited"))
	h.Update(ctx, event.UpdateEvent{ObjectOld: fe("edited", 1), ObjectNew: fe("edited", 2)}, q)
	// Raised before the For watch adds it (the two handlers' order is not promised): the
	// later default-priority Add does not lower it.
	h.Update(ctx, event.UpdateEvent{ObjectOld: fe("edited-first", 4), ObjectNew: fe("edited-first", 5)}, q)
	q.Add(key("edited-first"))

	type got struct {
		name     string
		priority int
	}
	want := []got{{"edited", specEditPriority}, {"edited-first", specEditPriority}, {"rolling-a", 0}, {"rolling-b", 0}, {"status-only", 0}}
	for i, w := range want {
		item, priority, shutdown := q.GetWithPriority()
		if shutdown {
			t.Fatal("queue shut down")
		}
		if (got{item.Name, priority}) != w {
			t.Errorf("item %d: got %s at priority %d, want %s at %d", i, item.Name, priority, w.name, w.priority)
		}
		q.Done(item)
	}
	if n := q.Len(); n != 0 {
		t.Errorf("%d items left in the queue, want 0 (one item per frontend)", n)
	}

	// Without a priority queue an edit is a plain Add.
	plain := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[reconcile.Request]())
	defer plain.ShutDown()
	h.Update(ctx, event.UpdateEvent{ObjectOld: fe("edited", 1), ObjectNew: fe("edited", 2)}, plain)
	if item, _ := plain.Get(); item != key("edited") {
		t.Errorf("plain queue: got %v, want ns/edited", item)
	}
}
