package controller

import (
	"context"
	"fmt"

	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// namespacedIndexer adds field indexes to the cache's informers as controller-runtime's
// IndexField does, without the second, cluster-wide key it stores for every value.
//
// controller-runtime (pkg/cache/informer_cache.go, indexByField, v0.25) indexes each
// value of a namespaced object twice: under "<namespace>/<value>" and under
// "__all_namespaces/<value>", so that a List with a field selector and no namespace
// finds it too. Every list the operator makes by an index names the namespace, so the
// second key only cost memory: an index set and its key per value and object, about a
// tenth of the live heap at N=1000 (docs/tuning.md). Lists read these indexes through the
// client unchanged: the cache reader (pkg/cache/internal/cache_reader.go, byIndexes) looks
// up the index named "field:<field>" under "<namespace>/<value>". A List by one of these
// fields without a namespace finds nothing.
type namespacedIndexer struct {
	informers cache.Informers
}

// IndexField indexes obj's kind by field: the values extract returns, each under its
// object's namespace.
func (n namespacedIndexer) IndexField(ctx context.Context, obj client.Object, field string, extract client.IndexerFunc) error {
	informer, err := n.informers.GetInformer(ctx, obj, cache.BlockUntilSynced(false))
	if err != nil {
		return err
	}
	return informer.AddIndexers(toolscache.Indexers{fieldIndexName(field): func(raw any) ([]string, error) {
		o, ok := raw.(client.Object)
		if !ok {
			return nil, fmt.Errorf("object of type %T is not an Object", raw)
		}
		values := extract(o)
		keys := make([]string, len(values))
		for i, v := range values {
			keys[i] = namespacedIndexKey(o.GetNamespace(), v)
		}
		return keys, nil
	}})
}

// fieldIndexName and namespacedIndexKey are the index name and key controller-runtime's
// cache reader looks up (pkg/cache/internal/cache_reader.go: FieldIndexName,
// KeyToNamespacedKey; a cluster-scoped object's values go under "__all_namespaces").
func fieldIndexName(field string) string { return "field:" + field }

func namespacedIndexKey(namespace, value string) string {
	if namespace == "" {
		namespace = "__all_namespaces"
	}
	return namespace + "/" + value
}
