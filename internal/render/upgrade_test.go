package render

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

var updateBaseline = flag.Bool("update-baseline", false,
	"rewrite testdata/baseline from the current builders (only when cutting a release)")

// baselineRelease is the release whose builders rendered testdata/baseline.
const baselineRelease = "v0.1.0"

// newSinceBaseline are samples the baseline release could not run (Raft HA: its
// admission refused more than one replica), so there is nothing they could restart.
var newSinceBaseline = map[string]bool{"ha-3.yaml": true, "ha-5.yaml": true}

// podAffecting are the StatefulSet fields whose change restarts the pods (the template)
// or forces the StatefulSet to be replaced (the immutable fields).
var podAffecting = [][]string{
	{"spec", "template"}, {"spec", "selector"}, {"spec", "serviceName"}, {"spec", "volumeClaimTemplates"},
}

// Upgrading the operator must not restart a frontend: the current builders render every
// sample's StatefulSets with the pod template and immutable fields the previous release
// rendered, and still render every child it did (the operator never prunes a child it
// no longer builds). A change here is a rollout of every frontend in every cluster on
// upgrade: if it is intended, say so in the release notes and refresh the baseline when
// cutting the release: go test ./internal/render -run TestUpgradeKeepsPods -update-baseline
func TestUpgradeKeepsPods(t *testing.T) {
	forEachSample(t, func(t *testing.T, in string, out []byte) {
		baseline := filepath.Join("testdata", "baseline", filepath.Base(in))
		if *updateBaseline {
			header := "# Rendered by the " + baselineRelease + " builders; see TestUpgradeKeepsPods.\n"
			if err := os.WriteFile(baseline, append([]byte(header), out...), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		prev, err := os.ReadFile(baseline)
		if errors.Is(err, os.ErrNotExist) && newSinceBaseline[filepath.Base(in)] {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		current := byKindAndName(t, out)
		for key, old := range byKindAndName(t, prev) {
			now, ok := current[key]
			if !ok {
				t.Errorf("%s (rendered by %s) is no longer rendered: it would be left behind in every cluster", key, baselineRelease)
				continue
			}
			if old.GetKind() != "StatefulSet" {
				continue
			}
			for _, path := range podAffecting {
				was, _, _ := unstructured.NestedFieldNoCopy(old.Object, path...)
				is, _, _ := unstructured.NestedFieldNoCopy(now.Object, path...)
				if !reflect.DeepEqual(was, is) {
					t.Errorf("%s: %s differs from what %s rendered: upgrading the operator would restart or replace "+
						"every such frontend", key, strings.Join(path, "."), baselineRelease)
				}
			}
		}
	})
}

// byKindAndName indexes rendered objects by "Kind name".
func byKindAndName(t *testing.T, doc []byte) map[string]*unstructured.Unstructured {
	t.Helper()
	out := map[string]*unstructured.Unstructured{}
	for _, u := range decodeDocuments(t, doc) {
		out[u.GetKind()+" "+u.GetName()] = u
	}
	return out
}

// decodeDocuments parses a rendered YAML stream into its objects, failing the test when
// it does not parse.
func decodeDocuments(t *testing.T, doc []byte) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(doc), 4096)
	for {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(&u.Object); errors.Is(err, io.EOF) {
			return out
		} else if err != nil {
			t.Fatalf("rendered output does not parse: %v\n%s", err, doc)
		}
		if len(u.Object) > 0 {
			out = append(out, u)
		}
	}
}
