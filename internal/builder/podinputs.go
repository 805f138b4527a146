package builder

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"

	opennebulav1alpha1 "github.com/opennebula-operator/opennebula-operator/api/v1alpha1"
)

// AnnotationInputsHash, on the frontend's pod template, is the hash of what the pod
// reads when it starts besides its own spec: the generated configuration and the values
// of the Secret keys its containers consume. Such a change reaches a running pod only
// when it restarts (oned reads its environment and configuration once), so a new value
// rolls the pod.
const AnnotationInputsHash = "opennebula.io/inputs-hash"

// LabelWatch on a Secret makes the operator watch it: a change rolls the frontends that
// read it at once. Generated Secrets carry it; a user's referenced Secret is read anyway
// and its changes reach the pods at the latest after SecretRecheck.
const (
	LabelWatch = "opennebula.io/watch"
	ValueWatch = "true"
)

// SecretKeyRef is a Secret key a frontend pod reads; an empty Key means every key (a
// Secret volume or envFrom).
type SecretKeyRef struct {
	Name, Key string
	// Optional references do not keep the pod from starting when missing.
	Optional bool
}

// PodSecretRefs lists every Secret key the frontend pod reads, the operator's own
// references and the user's (pod.env, pod.envFrom, pod.volumes) alike, taken from the
// pod spec itself so the list cannot drift from what the pod mounts.
func PodSecretRefs(fe *opennebulav1alpha1.OpenNebulaFrontend, opts Options) []SecretKeyRef {
	spec := podSpec(fe, opts, Inputs{})
	var out []SecretKeyRef
	for _, c := range slices.Concat(spec.InitContainers, spec.Containers) {
		for _, e := range c.Env {
			if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
				s := e.ValueFrom.SecretKeyRef
				out = append(out, SecretKeyRef{s.Name, s.Key, derefBool(s.Optional)})
			}
		}
		for _, e := range c.EnvFrom {
			if e.SecretRef != nil {
				out = append(out, SecretKeyRef{e.SecretRef.Name, "", derefBool(e.SecretRef.Optional)})
			}
		}
	}
	for _, v := range spec.Volumes {
		if s := v.Secret; s != nil {
			out = append(out, secretVolumeRefs(s.SecretName, s.Items, derefBool(s.Optional))...)
		}
		if p := v.Projected; p != nil {
			for _, src := range p.Sources {
				if s := src.Secret; s != nil {
					out = append(out, secretVolumeRefs(s.Name, s.Items, derefBool(s.Optional))...)
				}
			}
		}
	}
	return out
}

// SecretRefField is the frontend's field that names Secret name, for messages that must
// say what to fix ("spec.pod.env[2]"); "" for a Secret the operator generates.
func SecretRefField(fe *opennebulav1alpha1.OpenNebulaFrontend, name string) string {
	spec := fe.Spec
	switch {
	case spec.Admin.PasswordSecretRef != nil && spec.Admin.PasswordSecretRef.Name == name:
		return "spec.admin.passwordSecretRef"
	case spec.Database.External != nil && spec.Database.External.PasswordSecretRef.Name == name:
		return "spec.database.external.passwordSecretRef"
	case spec.SSH.KeySecretRef != nil && spec.SSH.KeySecretRef.Name == name:
		return "spec.ssh.keySecretRef"
	}
	for i, e := range spec.Pod.Env {
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil && e.ValueFrom.SecretKeyRef.Name == name {
			return fmt.Sprintf("spec.pod.env[%d]", i)
		}
	}
	for i, e := range spec.Pod.EnvFrom {
		if e.SecretRef != nil && e.SecretRef.Name == name {
			return fmt.Sprintf("spec.pod.envFrom[%d]", i)
		}
	}
	for i, v := range spec.Pod.Volumes {
		if v.Secret != nil && v.Secret.SecretName == name {
			return fmt.Sprintf("spec.pod.volumes[%d]", i)
		}
		if v.Projected != nil {
			for _, src := range v.Projected.Sources {
				if src.Secret != nil && src.Secret.Name == name {
					return fmt.Sprintf("spec.pod.volumes[%d]", i)
				}
			}
		}
	}
	return ""
}

func secretVolumeRefs(name string, items []corev1.KeyToPath, optional bool) []SecretKeyRef {
	if len(items) == 0 {
		return []SecretKeyRef{{Name: name, Optional: optional}}
	}
	out := make([]SecretKeyRef, 0, len(items))
	for _, it := range items {
		out = append(out, SecretKeyRef{name, it.Key, optional})
	}
	return out
}

func derefBool(b *bool) bool { return b != nil && *b }

// HashSecretValues is the hash of the Secret values a pod reads (Secret name → key →
// value), independent of map order.
func HashSecretValues(values map[string]map[string][]byte) string {
	h := sha256.New()
	for _, name := range slices.Sorted(maps.Keys(values)) {
		for _, key := range slices.Sorted(maps.Keys(values[name])) {
			for _, part := range [][]byte{[]byte(name), []byte(key), values[name][key]} {
				h.Write(part)
				h.Write([]byte{0})
			}
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// inputsHash combines the ConfigMap's data with the hash of the Secret values.
func inputsHash(fe *opennebulav1alpha1.OpenNebulaFrontend, in Inputs) string {
	data := ConfigMap(fe, in).Data
	h := sha256.New()
	for _, k := range slices.Sorted(maps.Keys(data)) {
		h.Write([]byte(k))
		h.Write([]byte{0})
		h.Write([]byte(data[k]))
		h.Write([]byte{0})
	}
	h.Write([]byte(in.SecretsHash))
	return hex.EncodeToString(h.Sum(nil))[:16]
}
