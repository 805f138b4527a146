package render

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/opennebula-operator/opennebula-operator/internal/builder"
)

var updateBaseline = flag.Bool("update-baseline", false,
	"rewrite testdata/baseline from the current builders (only when cutting a release)")

// baselineRelease is the release whose builders rendered testdata/baseline.
const baselineRelease = "v0.1.0"

// newSinceBaseline are samples the baseline release could not run (Raft HA: its
// admission refused more than one replica), so there is nothing they could restart.
var newSinceBaseline = map[string]bool{"ha-3.yaml": true, "ha-5.yaml": true}

// intendedSinceBaseline are pod template changes made since the baseline release on
// purpose, each announced in CHANGELOG.md: the test takes each out of what the current
// builders render before comparing, so that any other change still fails.
var intendedSinceBaseline = []struct {
	// changelog is the CHANGELOG.md text that announces the rollout.
	changelog string
	// undo takes the change out of a StatefulSet the current builders rendered (now);
	// was and is index the whole renders, the baseline's and the current one.
	undo func(now *unstructured.Unstructured, was, is map[string]*unstructured.Unstructured) error
}{{
	changelog: "every frontend on MySQL/MariaDB restarts once after the upgrade: its pod now starts through the start wrapper",
	undo:      withoutStartWrapper,
}}

// withoutStartWrapper takes the start wrapper out of a frontend on MySQL's pod template:
// the frontend container's command and arguments and its mounts of the ConfigMap and the
// Keys Secret, the keys volume and the ConfigMap volume's mode. The pod's inputs hash
// covers the ConfigMap, which now carries the wrapper's files: it is the baseline's
// when the ConfigMap's other entries are.
func withoutStartWrapper(sts *unstructured.Unstructured, was, is map[string]*unstructured.Unstructured) error {
	spec, _, _ := unstructured.NestedMap(sts.Object, "spec", "template", "spec")
	containers, _ := spec["containers"].([]any)
	wrapped := false
	for _, c := range containers {
		c := c.(map[string]any)
		if c["name"] != builder.ContainerName || c["command"] == nil {
			continue
		}
		wrapped = true
		delete(c, "command")
		delete(c, "args")
		var mounts []any
		for _, m := range c["volumeMounts"].([]any) {
			if n := m.(map[string]any)["name"]; n != "config" && n != "keys" {
				mounts = append(mounts, m)
			}
		}
		c["volumeMounts"] = mounts
	}
	if !wrapped {
		return nil
	}
	var volumes []any
	config := ""
	for _, v := range spec["volumes"].([]any) {
		v := v.(map[string]any)
		switch v["name"] {
		case "keys":
			continue
		case "config":
			delete(v["configMap"].(map[string]any), "defaultMode")
			config = "ConfigMap " + v["configMap"].(map[string]any)["name"].(string)
		}
		volumes = append(volumes, v)
	}
	spec["volumes"] = volumes
	if err := unstructured.SetNestedMap(sts.Object, spec, "spec", "template", "spec"); err != nil {
		return err
	}
	if was[config] == nil || is[config] == nil {
		return fmt.Errorf("%s is not rendered", config)
	}
	before, _, _ := unstructured.NestedStringMap(was[config].Object, "data")
	after, _, _ := unstructured.NestedStringMap(is[config].Object, "data")
	for key := range builder.RaftFiles() {
		delete(after, key)
	}
	if !reflect.DeepEqual(before, after) {
		return nil // the inputs changed otherwise: the hash differs, and the test says so
	}
	hashPath := []string{"spec", "template", "metadata", "annotations", builder.AnnotationInputsHash}
	hash, _, _ := unstructured.NestedString(was["StatefulSet "+sts.GetName()].Object, hashPath...)
	return unstructured.SetNestedField(sts.Object, hash, hashPath...)
}

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
	changelog, err := os.ReadFile(filepath.Join("..", "..", "CHANGELOG.md"))
	if err != nil {
		t.Fatal(err)
	}
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
		previous := byKindAndName(t, prev)
		for key, old := range previous {
			now, ok := current[key]
			if !ok {
				t.Errorf("%s (rendered by %s) is no longer rendered: it would be left behind in every cluster", key, baselineRelease)
				continue
			}
			if old.GetKind() != "StatefulSet" {
				continue
			}
			for _, change := range intendedSinceBaseline {
				if !strings.Contains(string(changelog), change.changelog) {
					t.Errorf("CHANGELOG.md does not announce: %s", change.changelog)
				}
				if err := change.undo(now, previous, current); err != nil {
					t.Fatal(err)
				}
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
