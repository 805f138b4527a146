// Package render prints, without a cluster, every object the operator would apply for
// the OpenNebulaFrontends in a YAML stream, from the same builders the controller uses.
package render

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/util/validation"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/yaml"

	opennebulav1alpha1 "github.com/opennebula-operator/opennebula-operator/api/v1alpha1"
	"github.com/opennebula-operator/opennebula-operator/internal/apply"
	"github.com/opennebula-operator/opennebula-operator/internal/builder"
)

// DefaultNamespace is used for a frontend without metadata.namespace, as kubectl would.
const DefaultNamespace = "default"

// Render reads OpenNebulaFrontend documents from in and writes the children of each to
// out as a YAML stream, in the order the operator applies them. The objects are in the
// exact form the operator applies (server-side apply), owner references aside: those
// need the frontend's UID, which only the API server assigns.
func Render(in io.Reader, out io.Writer, scheme *runtime.Scheme, opts builder.Options) error {
	decoder := serializer.NewCodecFactory(scheme, serializer.EnableStrict).UniversalDeserializer()
	reader := utilyaml.NewYAMLReader(bufio.NewReader(in))
	first := true
	for n := 1; ; n++ {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("reading document %d: %w", n, err)
		}
		if isBlank(doc) {
			continue
		}
		obj, gvk, err := decoder.Decode(doc, nil, nil)
		if err != nil {
			return fmt.Errorf("document %d: %w", n, err)
		}
		fe, ok := obj.(*opennebulav1alpha1.OpenNebulaFrontend)
		if !ok {
			return fmt.Errorf("document %d: %s is not an OpenNebulaFrontend", n, gvk.Kind)
		}
		// The CRD's name rule: what the API server refuses must not render either.
		if errs := validation.IsDNS1035Label(fe.Name); len(errs) > 0 {
			return fmt.Errorf("document %d: metadata.name %q: %s", n, fe.Name, strings.Join(errs, "; "))
		}
		if fe.Namespace == "" {
			fe.Namespace = DefaultNamespace
		} else if errs := validation.IsDNS1123Label(fe.Namespace); len(errs) > 0 {
			return fmt.Errorf("document %d: metadata.namespace %q: %s", n, fe.Namespace, strings.Join(errs, "; "))
		}
		children, err := builder.WithGeneratedSecrets(fe, builder.Build(fe, opts, builder.Inputs{}), false, "")
		if err != nil {
			return err
		}
		for _, child := range children {
			childGVK, err := apiutil.GVKForObject(child, scheme)
			if err != nil {
				return err
			}
			norm, err := apply.Normalize(child, childGVK)
			if err != nil {
				return err
			}
			b, err := yaml.Marshal(norm.Object.Object)
			if err != nil {
				return err
			}
			if !first {
				if _, err := io.WriteString(out, "---\n"); err != nil {
					return err
				}
			}
			first = false
			if _, err := out.Write(b); err != nil {
				return err
			}
		}
	}
	return nil
}

// isBlank reports whether a document holds nothing but blank lines and comments.
func isBlank(doc []byte) bool {
	for line := range strings.SplitSeq(string(doc), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			return false
		}
	}
	return true
}
