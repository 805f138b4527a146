// Package intern makes the equal strings of cached objects share one copy.
package intern

import (
	"hash/maphash"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Interning the strings of cached objects. The informers decode every object anew, one
// allocation per string field, yet most of those strings repeat: every frontend's two
// StatefulSets carry the same images, commands, env names, mount paths, port names and
// probe scripts, every child the same label values, its frontend's name and
// uid (labels, selectors, owner references), and the ConfigMaps the same nginx and sshd
// configuration. A cache transform makes each string the one canonical copy of a table,
// so equal strings share one backing array (docs/tuning.md has what it saves: about 10 KB of
// live heap per frontend). Map keys are left alone (see internValue), but equal string
// maps (labels, selectors, annotations) share one map: each child of a frontend carries
// the same labels, and a map costs far more than its strings (a small map is a group of
// eight slots).
//
// The table is the operator's own, not package unique: unique.Make's canonical copy is
// dropped as soon as no Handle refers to it (it holds a weak pointer), and the cache
// keeps strings, not handles, so two objects decoded a minute apart would not share.
// The table is bounded: past maxEntries strings and maps or maxBytes bytes it starts
// afresh (the cached objects keep the strings they point to), so the names and uids of
// deleted frontends cannot accumulate.
const (
	maxEntries = 1 << 16
	maxBytes   = 16 << 20
	// maxLen: longer strings (a user's large ConfigMap value) are left alone; they
	// rarely repeat and would fill the table.
	maxLen = 64 << 10
	// maxSharedMapLen: larger string maps (a user's ConfigMap data) are not shared.
	maxSharedMapLen = 16
	// smallMapBytes is what a map of strings costs besides its keys for each group of
	// eight entries: its header and one group of eight key and value slots (a map of
	// 9-16 entries has two groups).
	smallMapBytes = 320
)

type stringTable struct {
	mu      sync.Mutex
	strings map[string]string
	// maps holds the canonical copy of each string map (labels, annotations, selectors),
	// keyed by a hash of its content (mapSum).
	maps map[uint64]map[string]string
	// lists holds the canonical copy of each resource list (claims' requests and
	// capacity, the claim templates' requests, containers' requests and limits), keyed by
	// resourceListKey.
	lists map[string]corev1.ResourceList
	bytes int
}

// canonical returns the table's copy of s, adding s when it has none. The caller holds mu.
func (t *stringTable) canonical(s string) string {
	if c, ok := t.strings[s]; ok { // the hot path, without remember's indirect calls
		return c
	}
	return remember(t, func(t *stringTable) map[string]string { return t.strings }, s, s, len(s))
}

// remember returns what the table of t that in picks holds under key, adding v (n bytes
// of the table's budget) when it holds nothing. The caller holds mu.
func remember[K comparable, V any](t *stringTable, in func(*stringTable) map[K]V, key K, v V, n int) V {
	if c, ok := in(t)[key]; ok {
		return c
	}
	t.makeRoom(n) // may replace the tables: in(t) is asked again
	in(t)[key] = v
	t.bytes += n
	return v
}

// canonicalMap returns the table's map equal to m, adding m when it has none; m's values
// are already canonical. The caller holds mu.
func (t *stringTable) canonicalMap(m map[string]string) map[string]string {
	sum := mapSum(m)
	if c, ok := t.maps[sum]; ok {
		if maps.Equal(c, m) {
			return c
		}
		// Two maps with one sum: rare; the second is not shared.
		return m
	}
	// A map the table holds counts against its byte budget, so that the maps of deleted
	// objects (most annotations are unique to their object) cannot pile up to
	// maxEntries of them before the table starts afresh.
	n := smallMapBytes * max(1, (len(m)+7)/8)
	for k := range m {
		n += len(k)
	}
	t.makeRoom(n)
	t.maps[sum] = m
	t.bytes += n
	return m
}

// makeRoom starts the table afresh when adding n bytes would pass its bounds.
func (t *stringTable) makeRoom(n int) {
	if t.strings == nil || len(t.strings)+len(t.maps)+len(t.lists) >= maxEntries || t.bytes+n > maxBytes {
		t.strings, t.bytes = make(map[string]string, 1024), 0
		t.maps, t.lists = make(map[uint64]map[string]string, 256), make(map[string]corev1.ResourceList, 16)
	}
}

var mapSeed = maphash.MakeSeed()

// mapSum hashes m's content whatever its iteration order: the sum of a hash per entry.
// No string is kept per map (a map unique to its object, as the applied-hash annotation
// makes most annotations, costs the table one entry).
func mapSum(m map[string]string) uint64 {
	var sum uint64
	var h maphash.Hash
	h.SetSeed(mapSeed)
	for k, v := range m {
		h.Reset()
		h.WriteString(k)
		h.WriteByte(0)
		h.WriteString(v)
		sum += h.Sum64()
	}
	return sum
}

// canonicalResourceList returns the table's resource list equal to l, adding l when it
// has none. The caller holds mu.
func (t *stringTable) canonicalResourceList(l corev1.ResourceList) corev1.ResourceList {
	key := resourceListKey(l)
	return remember(t, func(t *stringTable) map[string]corev1.ResourceList { return t.lists }, key, l, len(key))
}

// resourceListKey is l's content as one string: each resource name in order and its
// quantity in canonical form (Quantity.String: "10Gi", "500m"), NUL-separated. Two lists
// with one key hold the same amounts in the same formats.
func resourceListKey(l corev1.ResourceList) string {
	var b strings.Builder
	for _, name := range slices.Sorted(maps.Keys(l)) {
		q := l[name]
		b.WriteString(string(name))
		b.WriteByte(0)
		b.WriteString(q.String())
		b.WriteByte(0)
	}
	return b.String()
}

var table stringTable

var (
	objectMetaType   = reflect.TypeFor[metav1.ObjectMeta]()
	stringMapType    = reflect.TypeFor[map[string]string]()
	resourceListType = reflect.TypeFor[corev1.ResourceList]()
	// fieldsByType caches, per struct type, the indexes of the fields the walk visits;
	// typesWithStrings, per type, whether it can hold a string at all. Reflecting on a
	// type's fields at every object made the walk three times slower.
	fieldsByType     sync.Map // reflect.Type → []int
	typesWithStrings sync.Map // reflect.Type → bool
)

// Strings replaces every string reachable from obj through exported fields, slice
// and array items, and map values by the table's canonical copy. It leaves out
// byte slices (Secret data: not strings, and not to be kept in a table) and each object's
// own uid and resourceVersion (unique to it, the version new at every write). Values behind
// interfaces are left alone (runtime.RawExtension's object: not in the operator's kinds).
func Strings(obj any) {
	table.mu.Lock()
	defer table.mu.Unlock()
	if v := reflect.ValueOf(obj); v.IsValid() && holdsStrings(v.Type()) {
		internValue(&table, v)
	}
}

// internValue interns what v holds; v's type holds strings (holdsStrings).
func internValue(t *stringTable, v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		if n := v.Len(); n > 0 && n <= maxLen && v.CanSet() {
			v.SetString(t.canonical(v.String()))
		}
	case reflect.Pointer:
		if !v.IsNil() {
			internValue(t, v.Elem())
		}
	case reflect.Struct:
		for _, i := range fieldsToVisit(v.Type()) {
			internValue(t, v.Field(i))
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			internValue(t, v.Index(i))
		}
	case reflect.Map:
		if v.Len() == 0 || !v.CanSet() {
			return
		}
		// Values are interned in place (setting the value of a key a range is at is
		// allowed); keys are left as they are: rebuilding each map to intern its keys
		// allocated as much as it saved (the first N=1000 run: live heap 59.9 MiB against
		// 61.4 MiB without interning, the rebuilt maps 15 MB of it).
		if typ := v.Type(); typ == stringMapType {
			m := v.Interface().(map[string]string)
			for k, e := range m {
				if n := len(e); n > 0 && n <= maxLen {
					m[k] = t.canonical(e)
				}
			}
			// Equal maps share one: every child of a frontend carries the same labels,
			// its StatefulSets' selectors and pod templates the same again. Safe because
			// cached objects are never written to (the client deep-copies what it returns).
			if len(m) <= maxSharedMapLen {
				v.Set(reflect.ValueOf(t.canonicalMap(m)))
			}
		} else {
			elem := reflect.New(typ.Elem()).Elem()
			for it := v.MapRange(); it.Next(); {
				elem.Set(it.Value())
				internValue(t, elem)
				v.SetMapIndex(it.Key(), elem)
			}
			// Claims of one size share their requests and capacity, containers of one
			// class their requests and limits (a map of one quantity takes ~700 bytes).
			if typ == resourceListType {
				v.Set(reflect.ValueOf(t.canonicalResourceList(v.Interface().(corev1.ResourceList))))
			}
		}
	}
}

// holdsStrings reports whether a value of typ can hold a string Strings interns: the
// walk skips the rest (numbers, times, quantities' internals, byte slices) without
// looking inside.
func holdsStrings(typ reflect.Type) bool {
	if v, ok := typesWithStrings.Load(typ); ok {
		return v.(bool)
	}
	// A recursive type is taken to hold strings while it is being looked at.
	typesWithStrings.Store(typ, true)
	var holds bool
	switch typ.Kind() {
	case reflect.String:
		holds = true
	case reflect.Pointer:
		holds = holdsStrings(typ.Elem())
	case reflect.Slice, reflect.Array:
		holds = typ.Elem().Kind() != reflect.Uint8 && holdsStrings(typ.Elem())
	case reflect.Map:
		// Only values are interned (internValue).
		holds = holdsStrings(typ.Elem())
	case reflect.Struct:
		for f := range typ.Fields() {
			if f.IsExported() && holdsStrings(f.Type) {
				holds = true
				break
			}
		}
	}
	typesWithStrings.Store(typ, holds)
	return holds
}

// fieldsToVisit lists the fields of the struct type typ that the walk visits: exported,
// able to hold a string, and not an object's own uid or resourceVersion.
func fieldsToVisit(typ reflect.Type) []int {
	if v, ok := fieldsByType.Load(typ); ok {
		return v.([]int)
	}
	var out []int
	for i := range typ.NumField() {
		f := typ.Field(i)
		if !f.IsExported() || !holdsStrings(f.Type) ||
			typ == objectMetaType && (f.Name == "UID" || f.Name == "ResourceVersion") {
			continue
		}
		out = append(out, i)
	}
	fieldsByType.Store(typ, out)
	return out
}
