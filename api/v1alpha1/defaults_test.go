package v1alpha1

import (
	"os"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"
)

// The builders fall back to the Go constants when a field is empty (render sees objects
// that never passed the API server); the CRD schema applies its own defaults at
// admission. Both must say the same thing.
func TestCRDDefaultsMatchConstants(t *testing.T) {
	b, err := os.ReadFile("../../config/crd/bases/opennebula.io_opennebulafrontends.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.Unmarshal(b, &crd); err != nil {
		t.Fatal(err)
	}
	spec := crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"]
	for path, want := range map[string]string{
		"service.type":     string(DefaultServiceType),
		"persistence.size": DefaultPersistenceSize,
	} {
		parent, field, _ := strings.Cut(path, ".")
		prop := spec.Properties[parent].Properties[field]
		if prop.Default == nil {
			t.Errorf("spec.%s has no default in the CRD", path)
			continue
		}
		var got string
		if err := yaml.Unmarshal(prop.Default.Raw, &got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("spec.%s: CRD default %q, Go constant %q", path, got, want)
		}
	}
	if _, ok := spec.Properties["image"]; !ok || spec.Properties["image"].Default != nil {
		t.Error("spec.image must exist and have no schema default (the operator's RELATED_IMAGE_OPENNEBULA applies)")
	}
}
