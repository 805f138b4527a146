// Command crd-tidy post-processes the CRD controller-gen writes, where markers cannot reach:
// inside the fields embedded from Kubernetes' own types. Usage: crd-tidy FILE...
//
//   - It removes the defaults that controller-gen copies from Kubernetes' types into list
//     items (for example the "" default of imagePullSecrets[].name). A default inside a
//     list item is applied to every item the API server stores but not to the manifest in
//     Git, so Argo CD would report the frontend out of sync forever.
//   - It adds the bounds of the table below (maxLength, maxItems, maxProperties), which let
//     the CEL rules on those fields fit the API server's cost budget.
package main

import (
	"fmt"
	"os"
	"strings"

	"sigs.k8s.io/yaml"
)

func main() {
	for _, path := range os.Args[1:] {
		if err := tidy(path); err != nil {
			fmt.Fprintln(os.Stderr, "crd-tidy:", path+":", err)
			os.Exit(1)
		}
	}
}

// bound is a schema keyword set at a path below spec of a kind's CRD: property names
// separated by dots, "[]" for a list's items and "*" for a map's values.
type bound struct {
	kind    string
	path    string
	keyword string
	value   int
}

// bounds: an API server estimates a CEL rule's cost from the largest value the schema
// allows, so a rule over an unbounded string or map is refused at install ("estimated rule
// cost exceeds budget"). Each bound is what Kubernetes itself accepts for that field, or
// far above what a frontend needs where Kubernetes sets none.
var bounds = []bound{
	// Label values: 63 characters (Kubernetes' own limit).
	{"OpenNebulaFrontend", "pod.labels.*", "maxLength", 63},
	{"OpenNebulaFrontend", "pod.nodeSelector.*", "maxLength", 63},
	{"OpenNebulaFrontend", "service.labels.*", "maxLength", 63},
	// Names Kubernetes requires to be DNS labels or label keys (253 + "/" + 63).
	{"OpenNebulaFrontend", "pod.volumes[].name", "maxLength", 63},
	{"OpenNebulaFrontend", "pod.volumeMounts[].name", "maxLength", 63},
	{"OpenNebulaFrontend", "pod.volumeMounts[].mountPath", "maxLength", 4096},
	{"OpenNebulaFrontend", "pod.tolerations[].key", "maxLength", 317},
	{"OpenNebulaFrontend", "pod.tolerations[].operator", "maxLength", 16},
	{"OpenNebulaFrontend", "pod.tolerations[].effect", "maxLength", 16},
	{"OpenNebulaFrontend", "pod.tolerations[].value", "maxLength", 63},
	{"OpenNebulaFrontend", "pod.topologySpreadConstraints[].topologyKey", "maxLength", 317},
	{"OpenNebulaFrontend", "pod.topologySpreadConstraints[].whenUnsatisfiable", "maxLength", 16},
	// Kubernetes sets no length on environment variable names; 256 is far beyond any.
	{"OpenNebulaFrontend", "pod.env[].name", "maxLength", 256},
	// Template attribute values: OpenNebula keeps them in its database as text; 4096 is
	// far beyond a host's or cluster's settings.
	{"OpenNebulaHost", "template.*", "maxLength", 4096},
	{"OpenNebulaCluster", "template.*", "maxLength", 4096},
}

func tidy(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var crd map[string]any
	if err := yaml.Unmarshal(b, &crd); err != nil {
		return err
	}
	walk(crd, false)
	if err := addBounds(crd); err != nil {
		return err
	}
	out, err := yaml.Marshal(crd)
	if err != nil {
		return err
	}
	return os.WriteFile(path, append([]byte("---\n"), out...), 0o644)
}

// walk removes "default" from every schema below an "items" schema.
func walk(v any, inItems bool) {
	switch t := v.(type) {
	case map[string]any:
		if inItems {
			delete(t, "default")
		}
		for k, child := range t {
			walk(child, inItems || k == "items")
		}
	case []any:
		for _, child := range t {
			walk(child, inItems)
		}
	}
}

// addBounds sets the table's bounds in every version's schema of the CRD; a path the
// schema does not have is an error, so the table cannot silently go stale.
func addBounds(crd map[string]any) error {
	spec, _ := crd["spec"].(map[string]any)
	kind, _ := dig(spec, "names", "kind").(string)
	versions, _ := spec["versions"].([]any)
	for _, v := range versions {
		schema := dig(v, "schema", "openAPIV3Schema", "properties", "spec")
		if schema == nil {
			continue
		}
		for _, b := range bounds {
			if b.kind != kind {
				continue
			}
			node := schema
			for step := range strings.SplitSeq(b.path, ".") {
				name, isList := strings.CutSuffix(step, "[]")
				if name == "*" {
					node = dig(node, "additionalProperties")
				} else {
					node = dig(node, "properties", name)
				}
				if isList {
					node = dig(node, "items")
				}
				if node == nil {
					return fmt.Errorf("bound %s: no such field in the schema", b.path)
				}
			}
			node.(map[string]any)[b.keyword] = b.value
		}
	}
	return nil
}

// dig follows map keys; nil when one is missing.
func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		if v, ok = m[k]; !ok {
			return nil
		}
	}
	return v
}
