package controller

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// TestNamespacedIndex: a List through the client finds an object by a namespacedIndexer
// index in its namespace only, and the index holds one key per value (none of
// controller-runtime's cluster-wide copies).
func TestNamespacedIndex(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	c, err := cache.New(testConfig, cache.Options{Scheme: testScheme})
	if err != nil {
		t.Fatal(err)
	}
	const field = "test/colour"
	if err := (namespacedIndexer{c}).IndexField(ctx, &corev1.ConfigMap{}, field,
		func(o client.Object) []string { return []string{o.GetLabels()["colour"]} }); err != nil {
		t.Fatal(err)
	}
	stopped := make(chan error, 1)
	go func() { stopped <- c.Start(ctx) }()
	defer func() {
		cancel()
		if err := <-stopped; err != nil {
			t.Error(err)
		}
	}()

	a, b := newNamespace(t), newNamespace(t)
	for _, cm := range []struct{ ns, name, colour string }{{a, "red", "red"}, {a, "blue", "blue"}, {b, "red", "red"}} {
		if err := k8sClient.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: cm.ns, Name: cm.name,
			Labels: map[string]string{"colour": cm.colour}}}); err != nil {
			t.Fatal(err)
		}
	}
	// The cache catches up with the three creates: poll until b's red one is listed too.
	var inA, inB corev1.ConfigMapList
	deadline := time.Now().Add(timeout)
	for {
		if err := c.List(ctx, &inA, client.InNamespace(a), client.MatchingFields{field: "red"}); err != nil {
			t.Fatal(err)
		}
		if err := c.List(ctx, &inB, client.InNamespace(b), client.MatchingFields{field: "red"}); err != nil {
			t.Fatal(err)
		}
		if len(inA.Items) > 0 && len(inB.Items) > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(poll)
	}
	for ns, list := range map[string]corev1.ConfigMapList{a: inA, b: inB} {
		if len(list.Items) != 1 || list.Items[0].Namespace != ns || list.Items[0].Name != "red" {
			t.Fatalf("listing red in %s found %v", ns, list.Items)
		}
	}
	informer, err := c.GetInformer(ctx, &corev1.ConfigMap{})
	if err != nil {
		t.Fatal(err)
	}
	keys := informer.(toolscache.SharedIndexInformer).GetIndexer().ListIndexFuncValues(fieldIndexName(field))
	if !slices.Contains(keys, a+"/red") || !slices.Contains(keys, b+"/red") {
		t.Errorf("index keys %v lack %s/red or %s/red", keys, a, b)
	}
	for _, k := range keys {
		if strings.HasPrefix(k, "__all_namespaces/") {
			t.Errorf("cluster-wide index key %q", k)
		}
	}
}
