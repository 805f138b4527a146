// Package intern makes the equal strings of cached objects share one copy.
package intern

import (
	"reflect"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Interning the strings of cached objects. The informers decode every object anew, one
// allocation per string field, yet most of those strings repeat: every frontend's two
// StatefulSets carry the same images, commands, env names, mount paths, port names and
// probe scripts, every child the same label values, its frontend's name and
// uid (labels, selectors, owner references), and the ConfigMaps the same nginx and sshd
// configuration. A cache transform makes each string the one canonical copy of a table,
// so equal strings share one backing array (docs/tuning.md has what it saves: about 10 KB of
// live heap per frontend). Map keys are left alone (see internValue).
//
// The table is the operator's own, not package unique: unique.Make's canonical copy is
// dropped as soon as no Handle refers to it (it holds a weak pointer), and the cache
// keeps strings, not handles, so two objects decoded a minute apart would not share.
// The table is bounded: past maxEntries strings or maxBytes bytes it starts
// afresh (the cached objects keep the strings they point to), so the names and uids of
// deleted frontends cannot accumulate.
const (
	maxEntries = 1 << 16
	maxBytes   = 16 << 20
	// maxLen: longer strings (a user's large ConfigMap value) are left alone; they
	// rarely repeat and would fill the table.
	maxLen = 64 << 10
)

type stringTable struct {
	mu      sync.Mutex
	strings map[string]string
	bytes   int
}

// canonical returns the table's copy of s, adding s when it has none. The caller holds mu.
func (t *stringTable) canonical(s string) string {
	if c, ok := t.strings[s]; ok {
		return c
	}
	if t.strings == nil || len(t.strings) >= maxEntries || t.bytes+len(s) > maxBytes {
		t.strings, t.bytes = make(map[string]string, 1024), 0
	}
	t.strings[s] = s
	t.bytes += len(s)
	return s
}

var table stringTable

var (
	objectMetaType = reflect.TypeFor[metav1.ObjectMeta]()
	stringMapType  = reflect.TypeFor[map[string]string]()
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
		} else {
			elem := reflect.New(typ.Elem()).Elem()
			for it := v.MapRange(); it.Next(); {
				elem.Set(it.Value())
				internValue(t, elem)
				v.SetMapIndex(it.Key(), elem)
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
