package render

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"maps"
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
	// undo takes the change out of the pod template spec of a frontend's StatefulSet the
	// current builders rendered (now), given the baseline's (was).
	undo func(now, was map[string]any)
	// undoConfig takes the change out of the frontend's ConfigMap data: the pod's inputs
	// hash covers it, and is the baseline's when the data is.
	undoConfig func(data map[string]string)
}{{
	changelog: "every frontend on MySQL/MariaDB restarts once after the upgrade: its pod now starts through the start wrapper",
	undo:      withoutStartWrapper,
	undoConfig: func(data map[string]string) {
		maps.DeleteFunc(data, func(k, _ string) bool { return builder.RaftFiles()[k] != "" })
	},
}, {
	changelog: "every frontend restarts once after the upgrade: the SSH server sidecar runs the repository's sshd image as oneadmin",
	undo:      withBaselineSSHD,
	undoConfig: func(data map[string]string) {
		data[builder.SSHDConfigKey] = strings.Replace(data[builder.SSHDConfigKey], "PidFile none\n", "PidFile /run/sshd.pid\n", 1)
	},
}}

// withoutStartWrapper takes the start wrapper out of a frontend on MySQL's pod template:
// the frontend container's command and arguments and its mounts of the ConfigMap and the
// Keys Secret, the keys volume and the ConfigMap volume's mode.
func withoutStartWrapper(spec, _ map[string]any) {
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
		return
	}
	var volumes []any
	for _, v := range spec["volumes"].([]any) {
		v := v.(map[string]any)
		switch v["name"] {
		case "keys":
			continue
		case "config":
			delete(v["configMap"].(map[string]any), "defaultMode")
		}
		volumes = append(volumes, v)
	}
	spec["volumes"] = volumes
}

// withBaselineSSHD puts back the baseline's SSH server sidecar and SSH keys init container
// (the sidecar now runs the repository's image as oneadmin; the init container hands
// older host keys to oneadmin) and takes out the pod's sysctl that lets it bind 22.
func withBaselineSSHD(spec, was map[string]any) {
	for _, list := range []string{"containers", "initContainers"} {
		now, _ := spec[list].([]any)
		for i, c := range now {
			name := c.(map[string]any)["name"]
			if name != builder.SSHDContainerName && name != "install-ssh-keys" {
				continue
			}
			for _, old := range was[list].([]any) {
				if old.(map[string]any)["name"] == name {
					now[i] = old
				}
			}
		}
	}
	if sc, ok := spec["securityContext"].(map[string]any); ok {
		delete(sc, "sysctls")
	}
}

// undoIntended takes the intended changes out of a frontend's StatefulSet rendered now,
// given the baseline's (was) and both renders (for the ConfigMap).
func undoIntended(t *testing.T, now, was *unstructured.Unstructured, before, after map[string]*unstructured.Unstructured) {
	t.Helper()
	spec, _, _ := unstructured.NestedMap(now.Object, "spec", "template", "spec")
	wasSpec, _, _ := unstructured.NestedMap(was.Object, "spec", "template", "spec")
	if spec == nil || wasSpec == nil {
		return
	}
	config := ""
	vols, _ := spec["volumes"].([]any)
	for _, v := range vols {
		if cm, ok := v.(map[string]any)["configMap"].(map[string]any); ok && v.(map[string]any)["name"] == "config" {
			config = "ConfigMap " + cm["name"].(string)
		}
	}
	if config == "" {
		return // not a frontend's StatefulSet
	}
	if before[config] == nil || after[config] == nil {
		t.Fatalf("%s is not rendered", config)
	}
	oldData, _, _ := unstructured.NestedStringMap(before[config].Object, "data")
	newData, _, _ := unstructured.NestedStringMap(after[config].Object, "data")
	for _, change := range intendedSinceBaseline {
		change.undo(spec, wasSpec)
		change.undoConfig(newData)
	}
	if err := unstructured.SetNestedMap(now.Object, spec, "spec", "template", "spec"); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(oldData, newData) {
		return // the inputs changed otherwise: the hash differs, and the test says so
	}
	hashPath := []string{"spec", "template", "metadata", "annotations", builder.AnnotationInputsHash}
	hash, _, _ := unstructured.NestedString(was.Object, hashPath...)
	if err := unstructured.SetNestedField(now.Object, hash, hashPath...); err != nil {
		t.Fatal(err)
	}
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
			}
			undoIntended(t, now, old, previous, current)
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
