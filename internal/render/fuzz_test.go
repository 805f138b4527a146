package render

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/opennebula-operator/opennebula-operator/internal/builder"
)

// FuzzRender feeds arbitrary bytes to the YAML reader of `manager render`: it never
// panics, it either refuses the input with an error or renders documents that parse
// back, each with a kind and a valid name, and the same input always renders the same.
// Seeds: the samples in testdata and the corpus committed in testdata/fuzz/FuzzRender.
// Run longer with: go test ./internal/render -run '^$' -fuzz FuzzRender -fuzztime 1m
func FuzzRender(f *testing.F) {
	samples, _ := filepath.Glob("testdata/*.yaml")
	for _, s := range samples {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("apiVersion: opennebula.io/v1alpha1\nkind: OpenNebulaFrontend\nmetadata: {name: x}\n---\n# only a comment\n"))
	f.Add([]byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"))
	f.Add([]byte("{\"apiVersion\":\"opennebula.io/v1alpha1\",\"kind\":\"OpenNebulaFrontend\",\"metadata\":{\"name\":\"j\"},\"spec\":{\"replicas\":1}}"))
	scheme := testScheme()
	f.Fuzz(func(t *testing.T, in []byte) {
		var out bytes.Buffer
		if err := Render(bytes.NewReader(in), &out, scheme, builder.Options{}); err != nil {
			return // refused with an error: fine
		}
		var again bytes.Buffer
		if err := Render(bytes.NewReader(in), &again, scheme, builder.Options{}); err != nil || !bytes.Equal(out.Bytes(), again.Bytes()) {
			t.Fatalf("rendering the same input twice differs (err %v)", err)
		}
		for _, u := range decodeDocuments(t, out.Bytes()) {
			if u.GetKind() == "" || len(validation.IsDNS1123Subdomain(u.GetName())) > 0 {
				t.Fatalf("rendered %q named %q", u.GetKind(), u.GetName())
			}
		}
	})
}
