package render

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"

	opennebulav1alpha1 "github.com/opennebula-operator/opennebula-operator/api/v1alpha1"
	"github.com/opennebula-operator/opennebula-operator/internal/builder"
)

var update = flag.Bool("update", false, "rewrite the golden files from the current builders")

func testScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(opennebulav1alpha1.AddToScheme(s))
	return s
}

// The golden files are what reviewers read: any change to a builder shows up as a diff
// of them. Regenerate with: go test ./internal/render -update
func TestRenderGolden(t *testing.T) {
	forEachSample(t, func(t *testing.T, in string, out []byte) {
		golden := strings.TrimSuffix(in, ".yaml") + ".golden.yaml"
		if *update {
			if err := os.WriteFile(golden, out, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (run go test ./internal/render -update)", err)
		}
		if !bytes.Equal(out, want) {
			t.Errorf("render of %s differs from %s; run go test ./internal/render -update and review the diff\n%s", in, golden, out)
		}
	})
}

// forEachSample renders every sample frontend of testdata (the inputs, not the golden
// files) with the current builders and hands the result to check.
func forEachSample(t *testing.T, check func(t *testing.T, in string, out []byte)) {
	inputs, err := filepath.Glob("testdata/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range inputs {
		if strings.HasSuffix(in, ".golden.yaml") {
			continue
		}
		t.Run(filepath.Base(in), func(t *testing.T) {
			f, err := os.Open(in)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = f.Close() }()
			var out bytes.Buffer
			if err := Render(f, &out, testScheme(), builder.Options{}); err != nil {
				t.Fatal(err)
			}
			check(t, in, out.Bytes())
		})
	}
}

func TestRenderShowsMonitoringAndSSHEverywhere(t *testing.T) {
	var out bytes.Buffer
	if err := Render(strings.NewReader("apiVersion: opennebula.io/v1alpha1\nkind: OpenNebulaFrontend\nmetadata: {name: x}\n"), &out, testScheme(), builder.Options{}); err != nil {
		t.Fatal(err)
	}
	docs := strings.Split(out.String(), "\n---\n")
	var checked int
	for _, doc := range docs {
		isPortCarrier := (strings.Contains(doc, "kind: Service\n") && !strings.Contains(doc, "name: x-mariadb\n")) ||
			(strings.Contains(doc, "kind: StatefulSet\n") && strings.Contains(doc, "\n  name: x\n"))
		if !isPortCarrier {
			continue
		}
		checked++
		for _, want := range []string{"name: monitord-tcp", "name: monitord-udp", "protocol: UDP", "name: ssh", "port: 22", "4124"} {
			if !strings.Contains(strings.ToLower(doc), strings.ToLower(want)) {
				t.Errorf("document lacks %q:\n%s", want, doc)
			}
		}
	}
	if checked != 3 {
		t.Errorf("found %d of the 3 objects that carry the ports (headless Service, external Service, StatefulSet)", checked)
	}
}

func TestRenderErrors(t *testing.T) {
	for name, in := range map[string]string{
		"not a frontend": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
		"unknown field":  "apiVersion: opennebula.io/v1alpha1\nkind: OpenNebulaFrontend\nmetadata: {name: x}\nspec: {replica: 3}\n",
		"unknown kind":   "apiVersion: example.org/v1\nkind: Nope\n",
		"bad yaml":       "apiVersion: [\n",
	} {
		t.Run(name, func(t *testing.T) {
			if err := Render(strings.NewReader(in), &bytes.Buffer{}, testScheme(), builder.Options{}); err == nil {
				t.Error("expected an error")
			}
		})
	}
	var out bytes.Buffer
	if err := Render(strings.NewReader("# only a comment\n---\n"), &out, testScheme(), builder.Options{}); err != nil || out.Len() != 0 {
		t.Errorf("empty stream: err %v, output %q", err, out.String())
	}
}
