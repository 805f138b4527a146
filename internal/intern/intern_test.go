package intern

import (
	"fmt"
	"maps"
	"reflect"
	"runtime"
	"testing"
	"unsafe"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opennebulav1alpha1 "github.com/opennebula-operator/opennebula-operator/api/v1alpha1"
	"github.com/opennebula-operator/opennebula-operator/internal/builder"
)

// protoObject is what the informers decode built-in kinds from.
type protoObject interface {
	client.Object
	Marshal() ([]byte, error)
	Unmarshal([]byte) error
}

// children returns frontend i's children as the cache would hold them: the builders'
// output with a uid, a resourceVersion and an owner reference, each decoded from its
// protobuf form (one allocation per string, as an informer makes).
func children(t testing.TB, i int) []client.Object {
	fe := &opennebulav1alpha1.OpenNebulaFrontend{ObjectMeta: metav1.ObjectMeta{
		Name: fmt.Sprintf("one-%d", i), Namespace: "cloud", UID: types.UID(fmt.Sprintf("00000000-0000-0000-0000-%012d", i))}}
	objs, err := builder.WithGeneratedSecrets(fe, builder.Build(fe, builder.Options{}, builder.Inputs{}), true, "test")
	if err != nil {
		t.Fatal(err)
	}
	out := make([]client.Object, 0, len(objs))
	for k, o := range objs {
		o.SetUID(types.UID(fmt.Sprintf("%08d-0000-0000-0000-%012d", k, i)))
		o.SetResourceVersion(fmt.Sprint(1000 + i*len(objs) + k))
		o.SetOwnerReferences([]metav1.OwnerReference{{APIVersion: opennebulav1alpha1.GroupVersion.String(),
			Kind: "OpenNebulaFrontend", Name: fe.Name, UID: fe.UID, Controller: new(true), BlockOwnerDeletion: new(true)}})
		p, ok := o.(protoObject)
		if !ok {
			t.Fatalf("%T has no protobuf form", o)
		}
		b, err := p.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		decoded := reflect.New(reflect.TypeOf(o).Elem()).Interface().(protoObject)
		if err := decoded.Unmarshal(b); err != nil {
			t.Fatal(err)
		}
		out = append(out, decoded)
	}
	return out
}

func TestStringsKeepsValues(t *testing.T) {
	for _, o := range children(t, 1) {
		before := o.DeepCopyObject()
		Strings(o)
		if !reflect.DeepEqual(before, o) {
			t.Errorf("%T %s changed by interning", o, o.GetName())
		}
	}
	// Kinds with maps of structs, IntOrString, quantities and byte slices.
	q := resource.MustParse("10Gi")
	svc := &corev1.Service{Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "x", TargetPort: intstr.FromString("y")}}}}
	pvc := &corev1.PersistentVolumeClaim{Spec: corev1.PersistentVolumeClaimSpec{
		Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: q}}}}
	sec := &corev1.Secret{Data: map[string][]byte{"k": []byte("v")}, StringData: map[string]string{"a": "b"}}
	for _, o := range []client.Object{svc, pvc, sec} {
		before := o.DeepCopyObject()
		Strings(o)
		if !reflect.DeepEqual(before, o) {
			t.Errorf("%T changed by interning", o)
		}
	}
}

func TestStringsShareEqualStrings(t *testing.T) {
	a, b := children(t, 1)[0], children(t, 1)[0]
	if unsafe.StringData(a.GetName()) == unsafe.StringData(b.GetName()) {
		t.Fatal("decoded objects already share their strings: the test proves nothing")
	}
	Strings(a)
	Strings(b)
	if unsafe.StringData(a.GetName()) != unsafe.StringData(b.GetName()) {
		t.Error("metadata.name not shared")
	}
	if unsafe.StringData(a.GetLabels()[builder.LabelManagedBy]) != unsafe.StringData(b.GetLabels()[builder.LabelManagedBy]) {
		t.Error("a label value is not shared")
	}
	if unsafe.StringData(a.GetOwnerReferences()[0].Name) != unsafe.StringData(b.GetOwnerReferences()[0].Name) {
		t.Error("the owner reference's name is not shared")
	}
	// Unique to each object, new at every write: never in the table.
	if unsafe.StringData(a.GetResourceVersion()) == unsafe.StringData(b.GetResourceVersion()) {
		t.Error("metadata.resourceVersion was interned")
	}
	if unsafe.StringData(string(a.GetUID())) == unsafe.StringData(string(b.GetUID())) {
		t.Error("metadata.uid was interned")
	}
}

func TestStringsSharesContainerStrings(t *testing.T) {
	var sets []*appsv1.StatefulSet
	for i := range 2 {
		for _, o := range children(t, i) {
			if s, ok := o.(*appsv1.StatefulSet); ok && s.Name == builder.NamesFor(s.OwnerReferences[0].Name).StatefulSet {
				Strings(s)
				sets = append(sets, s)
			}
		}
	}
	if len(sets) != 2 {
		t.Fatalf("%d frontend StatefulSets", len(sets))
	}
	a, b := sets[0].Spec.Template.Spec.Containers[0], sets[1].Spec.Template.Spec.Containers[0]
	if unsafe.StringData(a.Image) != unsafe.StringData(b.Image) {
		t.Error("two frontends' images are not shared")
	}
}

func TestTableStartsAfreshWhenFull(t *testing.T) {
	var tab stringTable
	first := tab.canonical(string([]byte("first")))
	for i := range maxEntries {
		tab.canonical(fmt.Sprint(i))
	}
	if len(tab.strings) > maxEntries {
		t.Fatalf("table holds %d strings, bound %d", len(tab.strings), maxEntries)
	}
	again := tab.canonical(string([]byte("first")))
	if again != first {
		t.Fatal("interning changed a value")
	}
	if unsafe.StringData(again) == unsafe.StringData(first) {
		t.Error("the table kept its first string past its bound")
	}
}

// BenchmarkCachedChildren measures the heap that frontends' children hold as the cache
// keeps them, decoded as they are, and interned (the cache transform): B/frontend.
func BenchmarkCachedChildren(b *testing.B) {
	const frontends = 200
	for _, interned := range []bool{false, true} {
		name := "decoded"
		if interned {
			name = "interned"
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				table = stringTable{}
				before := liveHeap()
				held := make([][]client.Object, 0, frontends)
				for i := range frontends {
					objs := children(b, i)
					if interned {
						for _, o := range objs {
							Strings(o)
						}
					}
					held = append(held, objs)
				}
				b.ReportMetric(float64(liveHeap()-before)/frontends, "B/frontend")
				runtime.KeepAlive(held)
			}
		})
	}
}

func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkStrings is the transform's cost per cached child (the mean over one
// frontend's children, the StatefulSets included).
func BenchmarkStrings(b *testing.B) {
	objs := children(b, 1)
	for b.Loop() {
		for _, o := range objs {
			Strings(o)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(objs)), "ns/child")
}

func TestStringsShareEqualMaps(t *testing.T) {
	a, b := children(t, 1), children(t, 1)
	other := children(t, 2)
	for i := range a {
		Strings(a[i])
		Strings(b[i])
		Strings(other[i])
		if mapData(a[i].GetLabels()) != mapData(b[i].GetLabels()) {
			t.Errorf("%T %s: equal label maps not shared", a[i], a[i].GetName())
		}
		if mapData(a[i].GetLabels()) == mapData(other[i].GetLabels()) {
			t.Errorf("%T %s: another frontend's labels share its map", a[i], a[i].GetName())
		}
		if !reflect.DeepEqual(a[i].GetLabels(), b[i].GetLabels()) {
			t.Errorf("%T %s: labels changed", a[i], a[i].GetName())
		}
	}
}

func TestCanonicalMapKeepsAMapWhoseSumIsTaken(t *testing.T) {
	var tab stringTable
	m := map[string]string{"a": "1"}
	taken := map[string]string{"b": "2"}
	tab.makeRoom(0)
	tab.maps[mapSum(m)] = taken
	if got := tab.canonicalMap(m); mapData(got) != mapData(m) || !maps.Equal(got, m) {
		t.Fatalf("a map whose sum another map holds became %v", got)
	}
	first := tab.canonicalMap(map[string]string{"c": "3"})
	if got := tab.canonicalMap(map[string]string{"c": "3"}); mapData(got) != mapData(first) {
		t.Error("an equal map was not shared")
	}
}

// mapData identifies a map (two variables holding one map give the same pointer).
func mapData(m map[string]string) unsafe.Pointer { return reflect.ValueOf(m).UnsafePointer() }

func TestStringsShareEqualResourceLists(t *testing.T) {
	claim := func(size string) *corev1.PersistentVolumeClaim {
		c := &corev1.PersistentVolumeClaim{
			Spec: corev1.PersistentVolumeClaimSpec{Resources: corev1.VolumeResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(size)}}},
			Status: corev1.PersistentVolumeClaimStatus{Capacity: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(size)}}}
		b, err := c.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		decoded := &corev1.PersistentVolumeClaim{}
		if err := decoded.Unmarshal(b); err != nil {
			t.Fatal(err)
		}
		Strings(decoded)
		return decoded
	}
	a, b, bigger := claim("10Gi"), claim("10Gi"), claim("20Gi")
	same := func(x, y corev1.ResourceList) bool {
		return reflect.ValueOf(x).UnsafePointer() == reflect.ValueOf(y).UnsafePointer()
	}
	if !same(a.Spec.Resources.Requests, b.Spec.Resources.Requests) || !same(a.Spec.Resources.Requests, b.Status.Capacity) {
		t.Error("equal resource lists not shared")
	}
	if same(a.Spec.Resources.Requests, bigger.Spec.Resources.Requests) {
		t.Error("10Gi and 20Gi share a list")
	}
	if q := bigger.Status.Capacity[corev1.ResourceStorage]; q.String() != "20Gi" {
		t.Errorf("capacity became %s", q.String())
	}
}

func TestTableCountsMapsInItsBudget(t *testing.T) {
	var tab stringTable
	first := map[string]string{"a": "1"}
	tab.canonicalMap(first)
	if tab.bytes < smallMapBytes {
		t.Fatalf("a map held costs the budget %d bytes", tab.bytes)
	}
	for i := range maxBytes / smallMapBytes {
		tab.canonicalMap(map[string]string{"k": fmt.Sprint(i)})
	}
	if tab.bytes > maxBytes {
		t.Fatalf("table holds %d bytes, bound %d", tab.bytes, maxBytes)
	}
	if got := tab.canonicalMap(map[string]string{"a": "1"}); mapData(got) == mapData(first) {
		t.Error("the table kept its first map past its byte budget")
	}
}
