// Command crd-tidy removes the defaults that controller-gen copies from Kubernetes' own
// types into list items of the CRD schema (for example the "" default of
// imagePullSecrets[].name). A default inside a list item is applied to every item the
// API server stores but not to the manifest in Git, so Argo CD would report the
// frontend out of sync forever. Usage: crd-tidy FILE...
package main

import (
	"fmt"
	"os"

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
