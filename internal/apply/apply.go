// Package apply decides whether a desired child object differs from the one in the
// cluster and writes it with server-side apply when, and only when, it does.
//
// Two checks together make "nothing changed" exact without keeping managedFields in the
// cache (the informers strip them to save memory):
//   - every field of the desired object is present in the live object with the same
//     value (drift: someone edited or removed a field the operator sets);
//   - the live object carries the hash of the desired object that was last applied
//     (change: the operator wants to set a different set of fields, including removing one).
//
// Fields that the API server or other controllers add (clusterIP, allocated nodePorts,
// defaults, foreign labels and annotations) are not in the desired object, so they never
// cause a write, and server-side apply leaves them alone when the operator does write.
package apply

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// HashAnnotation records, on each child, the hash of the desired state last applied.
const HashAnnotation = "opennebula.io/applied-hash"

// FieldManager is the server-side apply field manager of every write of the operator.
const FieldManager = "opennebula-operator"

// Desired is a child object normalised for applying and comparing: an unstructured form
// holding only the fields the operator sets, with the hash annotation filled in.
type Desired struct {
	Object *unstructured.Unstructured
	Hash   string
}

// Normalize turns a typed desired object into the form that is applied: nil, empty maps
// and empty lists are dropped (a typed object cannot tell "unset" from "empty", and
// applying an empty value would claim ownership of a field the operator does not set),
// status is dropped, and the hash of the result is recorded in an annotation.
func Normalize(obj runtime.Object, gvk schema.GroupVersionKind) (*Desired, error) {
	raw, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, fmt.Errorf("converting %s to unstructured: %w", gvk.Kind, err)
	}
	delete(raw, "status")
	pruned, _ := prune(raw).(map[string]any)
	if pruned == nil {
		pruned = map[string]any{}
	}
	u := &unstructured.Unstructured{Object: pruned}
	u.SetGroupVersionKind(gvk)

	// encoding/json sorts map keys, so the hash is stable across runs and processes.
	b, err := json.Marshal(u.Object)
	if err != nil {
		return nil, fmt.Errorf("hashing %s: %w", gvk.Kind, err)
	}
	sum := sha256.Sum256(b)
	hash := hex.EncodeToString(sum[:])[:16]
	ann := u.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	ann[HashAnnotation] = hash
	u.SetAnnotations(ann)
	return &Desired{Object: u, Hash: hash}, nil
}

// UpToDate reports whether live already holds everything desired sets: the same hash
// of the last applied state and every desired field with the same value.
func UpToDate(d *Desired, live runtime.Object) (bool, error) {
	l, err := runtime.DefaultUnstructuredConverter.ToUnstructured(live)
	if err != nil {
		return false, fmt.Errorf("converting live object to unstructured: %w", err)
	}
	// Typed objects read from the cache do not reliably carry apiVersion and kind; the
	// caller fetched live by the desired object's kind, so they are equal by construction.
	want := make(map[string]any, len(d.Object.Object))
	for k, v := range d.Object.Object {
		if k != "apiVersion" && k != "kind" {
			want[k] = v
		}
	}
	return contains(l, want), nil
}

// prune drops nil values, empty maps and empty lists, recursively.
func prune(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, val := range t {
			if p := prune(val); p != nil {
				out[k] = p
			}
		}
		if len(out) == 0 {
			return nil
		}
		return out
	case []any:
		out := make([]any, 0, len(t))
		for _, val := range t {
			if p := prune(val); p != nil {
				out = append(out, p)
			}
		}
		if len(out) == 0 {
			return nil
		}
		return out
	default:
		return v
	}
}

// contains reports whether live holds every field of desired with the same value.
// Lists of objects are matched item by item regardless of position, because server-side
// apply merges keyed lists (ports, containers, env) and others may add items to them;
// lists of scalars (command, args, access modes) are atomic and must match exactly.
func contains(live, desired any) bool {
	switch d := desired.(type) {
	case map[string]any:
		l, ok := live.(map[string]any)
		if !ok {
			return false
		}
		for k, dv := range d {
			lv, ok := l[k]
			if !ok || !contains(lv, dv) {
				return false
			}
		}
		return true
	case []any:
		l, ok := live.([]any)
		if !ok || len(l) < len(d) {
			return false
		}
		if !isObjectList(d) {
			return reflect.DeepEqual(l, d)
		}
		used := make([]bool, len(l))
	next:
		for _, dv := range d {
			for i, lv := range l {
				if !used[i] && contains(lv, dv) {
					used[i] = true
					continue next
				}
			}
			return false
		}
		return true
	default:
		return reflect.DeepEqual(live, desired)
	}
}

func isObjectList(l []any) bool {
	for _, v := range l {
		if _, ok := v.(map[string]any); !ok {
			return false
		}
	}
	return true
}

// Overlay returns live with every field of desired written over it, for the rare drift
// that server-side apply cannot undo: someone re-keyed an item of a keyed list (changed
// a Service port's number), so the item now belongs to them and applying ours next to it
// makes a duplicate the API server rejects. Lists of objects in desired replace the live
// ones: each desired item is laid over the live item of the same identity (so
// server-set fields such as an allocated nodePort survive) and live items that desired
// does not have are dropped. Everything desired does not mention is kept.
func Overlay(live, desired map[string]any) map[string]any {
	out, _ := overlay(live, desired).(map[string]any)
	return out
}

func overlay(live, desired any) any {
	switch d := desired.(type) {
	case map[string]any:
		l, _ := live.(map[string]any)
		out := make(map[string]any, len(l)+len(d))
		maps.Copy(out, l)
		for k, v := range d {
			out[k] = overlay(l[k], v)
		}
		return out
	case []any:
		l, _ := live.([]any)
		if !isObjectList(d) {
			return d
		}
		out := make([]any, 0, len(d))
		for i, dv := range d {
			out = append(out, overlay(sameItem(l, dv, i), dv))
		}
		return out
	default:
		return desired
	}
}

// sameItem finds the live list item that desired item i stands for: the one with the
// same name when items are named, otherwise the one at the same position.
func sameItem(live []any, desired any, i int) any {
	dm, _ := desired.(map[string]any)
	if name, ok := dm["name"]; ok {
		for _, lv := range live {
			if lm, ok := lv.(map[string]any); ok && reflect.DeepEqual(lm["name"], name) {
				return lm
			}
		}
		return nil
	}
	if i < len(live) {
		return live[i]
	}
	return nil
}

// FieldsDiffer returns the paths (dotted, such as "spec.volumeClaimTemplates") at which
// live lacks a value of desired, or holds a list of another length: the fields that
// applying desired would change. It is how the caller finds a change to fields the API
// server refuses to update in place.
func FieldsDiffer(d *Desired, live runtime.Object, paths ...string) ([]string, error) {
	l, err := runtime.DefaultUnstructuredConverter.ToUnstructured(live)
	if err != nil {
		return nil, fmt.Errorf("converting live object to unstructured: %w", err)
	}
	var out []string
	for _, path := range paths {
		fields := strings.Split(path, ".")
		dv, dok, _ := unstructured.NestedFieldNoCopy(d.Object.Object, fields...)
		lv, lok, _ := unstructured.NestedFieldNoCopy(l, fields...)
		dl, dIsList := dv.([]any)
		ll, lIsList := lv.([]any)
		switch {
		case !dok && lIsList && len(ll) > 0:
			// Lists are not defaulted: the operator dropped them.
			out = append(out, path)
		case !dok:
			// Not set by the operator: the API server's default stands.
		case !lok, !contains(lv, dv), dIsList && lIsList && len(dl) != len(ll):
			out = append(out, path)
		}
	}
	return out, nil
}
