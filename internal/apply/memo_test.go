package apply

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	opennebulav1alpha1 "github.com/opennebula-operator/opennebula-operator/api/v1alpha1"
	"github.com/opennebula-operator/opennebula-operator/internal/builder"
)

// An entry used within a lifetime stays; one unused for two lifetimes is forgotten
// (the children of a deleted frontend), and a forgotten child is compared in full again.
func TestMemoForgetsUnusedEntries(t *testing.T) {
	var m upToDateMemo
	used, unused := memoEntry{desired: digest{1}}, memoEntry{desired: digest{2}}
	m.record("used", used)
	m.record("unused", unused)
	if !m.holds("used", used) || m.holds("used", unused) {
		t.Fatal("a recorded entry is not held, or another one is")
	}
	for range 2 {
		m.rotated = m.rotated.Add(-memoLifetime) // a lifetime passes
		if !m.holds("used", used) {
			t.Fatal("an entry used in every lifetime was forgotten")
		}
	}
	if m.holds("unused", unused) {
		t.Error("an entry unused for two lifetimes is still held")
	}
	if _, kept := m.prev["unused"]; kept {
		t.Error("the unused entry is still kept")
	}
}

// The digest covers every field, map keys in a stable order; a kind without a protobuf
// encoding has none (compared in full every time).
func TestDigestOf(t *testing.T) {
	a := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"a": "1", "b": "2", "c": "3"}}}
	da, _ := digestOf(a)
	for range 20 {
		if d, _ := digestOf(a.DeepCopy()); d != da {
			t.Fatal("the digest of an equal object differs")
		}
	}
	b := a.DeepCopy()
	b.Spec.Template.Spec.Containers = []corev1.Container{{Name: "x"}}
	if db, _ := digestOf(b); db == da {
		t.Error("a changed spec has the same digest")
	}
	if _, ok := digestOf(&opennebulav1alpha1.OpenNebulaFrontend{}); ok {
		t.Error("a kind without a protobuf encoding has a digest")
	}
}

// BenchmarkUpToDateDecision: deciding that a frontend's children need no write, by the
// comparison in full (Normalize, FieldsDiffer on a StatefulSet's immutable fields,
// UpToDate) and by the memo (a digest of each desired child and its live version). The
// live children here are the desired ones with the hash annotation; real ones also carry
// the API server's defaults and a status, which make the comparison in full dearer.
func BenchmarkUpToDateDecision(b *testing.B) {
	fe := &opennebulav1alpha1.OpenNebulaFrontend{ObjectMeta: metav1.ObjectMeta{Name: "one", Namespace: "cloud", UID: "u"}}
	desired := builder.Build(fe, builder.Options{}, builder.Inputs{})
	type child struct {
		gvk           schema.GroupVersionKind
		desired, live client.Object
	}
	children := make([]child, 0, len(desired))
	for _, d := range desired {
		gvk, err := apiutil.GVKForObject(d, scheme.Scheme)
		if err != nil {
			b.Fatal(err)
		}
		norm, err := Normalize(d, gvk)
		if err != nil {
			b.Fatal(err)
		}
		live := d.DeepCopyObject().(client.Object)
		live.SetAnnotations(norm.Object.GetAnnotations())
		live.SetResourceVersion("12345")
		live.SetGeneration(1)
		children = append(children, child{gvk, d, live})
	}
	b.Run("compare", func(b *testing.B) {
		for b.Loop() {
			for _, c := range children {
				norm, err := Normalize(c.desired, c.gvk)
				if err != nil {
					b.Fatal(err)
				}
				if c.gvk.Kind == "StatefulSet" {
					if _, err := FieldsDiffer(norm, c.live, "spec.volumeClaimTemplates"); err != nil {
						b.Fatal(err)
					}
				}
				if ok, err := UpToDate(norm, c.live); err != nil || !ok {
					b.Fatalf("%s not up to date: %v", c.gvk.Kind, err)
				}
			}
		}
	})
	b.Run("memo", func(b *testing.B) {
		var m upToDateMemo
		a := &Applier{}
		for _, c := range children {
			s := a.memoFor(c.gvk, c.desired, c.live)
			m.record(s.key, s.entry)
		}
		for b.Loop() {
			for _, c := range children {
				if s := a.memoFor(c.gvk, c.desired, c.live); !s.ok || !m.holds(s.key, s.entry) {
					b.Fatalf("%s not remembered", c.gvk.Kind)
				}
			}
		}
	})
}
