// Command bundle writes the OLM bundle (bundle/manifests, bundle/metadata,
// bundle/tests/scorecard, bundle.Dockerfile) from the output of `kustomize build
// config/default` on standard input, the hand-written CSV base and the samples. It does
// what `operator-sdk generate bundle` does, which is not available here: the Deployment
// becomes the CSV's install strategy, the (Cluster)Roles bound to its ServiceAccount become
// its (cluster)permissions, the samples become alm-examples, and every other object is
// written to bundle/manifests as it is.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/blang/semver/v4"
	opversion "github.com/operator-framework/api/pkg/lib/version"
	operatorsv1alpha1 "github.com/operator-framework/api/pkg/operators/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

const (
	packageName    = "opennebula-operator"
	channel        = "candidate"
	relatedImageEv = "RELATED_IMAGE_OPENNEBULA"
	relatedSSHDEv  = "RELATED_IMAGE_SSHD"
	watchNSEnv     = "WATCH_NAMESPACE"
	scorecardImage = "quay.io/operator-framework/scorecard-test:v1.42.0"
)

func main() {
	base := flag.String("base", "config/manifests/bases/opennebula-operator.clusterserviceversion.yaml", "hand-written CSV base")
	samples := flag.String("samples", "config/samples", "directory of sample CRs (alm-examples)")
	out := flag.String("out", "bundle", "bundle directory to write")
	ver := flag.String("version", "0.1.0", "operator version (semver, no v)")
	image := flag.String("image", "", "operator image")
	minKube := flag.String("min-kube-version", "", "the CSV's minKubeVersion: the oldest supported Kubernetes (hack/versions.sh K8S_MIN_KUBE_VERSION)")
	flag.Parse()
	if err := run(os.Stdin, *base, *samples, *out, *ver, *image, *minKube); err != nil {
		fmt.Fprintln(os.Stderr, "bundle:", err)
		os.Exit(1)
	}
}

func run(in io.Reader, basePath, samplesDir, outDir, ver, image, minKube string) error {
	// The supported range is stated once, in hack/versions.sh; the base CSV does not repeat it.
	if _, err := parseSemver(minKube); err != nil {
		return fmt.Errorf("--min-kube-version (from hack/versions.sh): %w", err)
	}
	objs, err := decodeAll(in)
	if err != nil {
		return err
	}
	csv := &operatorsv1alpha1.ClusterServiceVersion{}
	if err := readYAML(basePath, csv); err != nil {
		return err
	}
	manifestsDir := filepath.Join(outDir, "manifests")
	if err := os.RemoveAll(outDir); err != nil {
		return err
	}
	if err := os.MkdirAll(manifestsDir, 0o755); err != nil {
		return err
	}

	dep, sa, err := findDeployment(objs)
	if err != nil {
		return err
	}
	strategy, boundRoles, err := permissions(objs, sa)
	if err != nil {
		return err
	}

	spec := dep.Spec.DeepCopy()
	var relatedImages []operatorsv1alpha1.RelatedImage
	for i := range spec.Template.Spec.Containers {
		c := &spec.Template.Spec.Containers[i]
		if image != "" && c.Name == "manager" {
			c.Image = image
		}
		relatedImages = append(relatedImages, operatorsv1alpha1.RelatedImage{Name: c.Name, Image: c.Image})
		for j := range c.Env {
			switch c.Env[j].Name {
			case watchNSEnv:
				// OLM writes the OperatorGroup's target namespaces on the Deployment.
				c.Env[j] = corev1.EnvVar{Name: watchNSEnv, ValueFrom: &corev1.EnvVarSource{
					FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.annotations['olm.targetNamespaces']"},
				}}
			case relatedImageEv:
				relatedImages = append(relatedImages, operatorsv1alpha1.RelatedImage{Name: "opennebula", Image: c.Env[j].Value})
			case relatedSSHDEv:
				relatedImages = append(relatedImages, operatorsv1alpha1.RelatedImage{Name: "sshd", Image: c.Env[j].Value})
			}
		}
	}
	strategy.DeploymentSpecs = []operatorsv1alpha1.StrategyDeploymentSpec{{Name: dep.Name, Label: dep.Labels, Spec: *spec}}
	csv.Spec.InstallStrategy = operatorsv1alpha1.NamedInstallStrategy{
		StrategyName: operatorsv1alpha1.InstallStrategyNameDeployment, StrategySpec: strategy,
	}
	csv.Spec.RelatedImages = relatedImages

	v, err := parseSemver(ver)
	if err != nil {
		return err
	}
	csv.Spec.Version = v
	csv.Spec.MinKubeVersion = minKube
	csv.Name = packageName + ".v" + ver
	csv.Annotations["containerImage"] = relatedImages[0].Image
	examples, err := almExamples(samplesDir)
	if err != nil {
		return err
	}
	csv.Annotations["alm-examples"] = examples

	if err := writeManifests(objs, csv, boundRoles, manifestsDir); err != nil {
		return err
	}

	csvMap, err := runtime.DefaultUnstructuredConverter.ToUnstructured(csv)
	if err != nil {
		return err
	}
	delete(csvMap, "status")
	unstructured.RemoveNestedField(csvMap, "metadata", "creationTimestamp")
	unstructured.RemoveNestedField(csvMap, "spec", "cleanup")
	if err := writeYAML(filepath.Join(manifestsDir, packageName+".clusterserviceversion.yaml"), csvMap); err != nil {
		return err
	}
	return writeMetadata(outDir)
}

// permissions turns the (Cluster)Roles bound to the ServiceAccount into the CSV's
// (cluster)permissions, and reports which roles it used.
func permissions(objs []*unstructured.Unstructured, sa string) (operatorsv1alpha1.StrategyDetailsDeployment, map[string]bool, error) {
	roles := map[string]*unstructured.Unstructured{}
	for _, o := range objs {
		if k := o.GetKind(); k == "Role" || k == "ClusterRole" {
			roles[k+"/"+o.GetName()] = o
		}
	}
	strategy := operatorsv1alpha1.StrategyDetailsDeployment{}
	boundRoles := map[string]bool{}
	for _, o := range objs {
		kind := o.GetKind()
		if kind != "RoleBinding" && kind != "ClusterRoleBinding" {
			continue
		}
		var b rbacv1.RoleBinding // ClusterRoleBinding has the same roleRef and subjects
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &b); err != nil {
			return strategy, nil, err
		}
		if !slices.ContainsFunc(b.Subjects, func(s rbacv1.Subject) bool { return s.Kind == "ServiceAccount" && s.Name == sa }) {
			continue
		}
		role, ok := roles[b.RoleRef.Kind+"/"+b.RoleRef.Name]
		if !ok {
			return strategy, nil, fmt.Errorf("%s %s binds %s %s, which is not in the input", kind, b.Name, b.RoleRef.Kind, b.RoleRef.Name)
		}
		boundRoles[b.RoleRef.Kind+"/"+b.RoleRef.Name] = true
		var r rbacv1.ClusterRole
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(role.Object, &r); err != nil {
			return strategy, nil, err
		}
		perm := operatorsv1alpha1.StrategyDeploymentPermissions{ServiceAccountName: sa, Rules: r.Rules}
		if kind == "ClusterRoleBinding" {
			strategy.ClusterPermissions = append(strategy.ClusterPermissions, perm)
		} else {
			strategy.Permissions = append(strategy.Permissions, perm)
		}
	}
	strategy.ClusterPermissions = mergePermissions(strategy.ClusterPermissions)
	strategy.Permissions = mergePermissions(strategy.Permissions)

	return strategy, boundRoles, nil
}

// writeManifests writes every object that is not part of the CSV to bundle/manifests,
// and records the CRDs' storage versions in the CSV.
func writeManifests(objs []*unstructured.Unstructured, csv *operatorsv1alpha1.ClusterServiceVersion, boundRoles map[string]bool, manifestsDir string) error {
	for _, o := range objs {
		kind := o.GetKind()
		switch {
		case kind == "Deployment" || kind == "Namespace" || kind == "ServiceAccount" ||
			kind == "RoleBinding" || kind == "ClusterRoleBinding" || boundRoles[kind+"/"+o.GetName()]:
			continue // part of the CSV, or created by OLM
		case kind == "CustomResourceDefinition":
			if err := ownCRDVersion(csv, o); err != nil {
				return err
			}
			var crd apiextensionsv1.CustomResourceDefinition
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &crd); err != nil {
				return err
			}
			name := fmt.Sprintf("%s_%s.yaml", crd.Spec.Group, crd.Spec.Names.Plural)
			if err := writeYAML(filepath.Join(manifestsDir, name), o.Object); err != nil {
				return err
			}
		default:
			o.SetNamespace("")
			gv := strings.ReplaceAll(o.GetAPIVersion(), "/", "_")
			name := fmt.Sprintf("%s_%s_%s.yaml", o.GetName(), gv, strings.ToLower(kind))
			if err := writeYAML(filepath.Join(manifestsDir, name), o.Object); err != nil {
				return err
			}
		}
	}

	return nil
}

func findDeployment(objs []*unstructured.Unstructured) (*appsv1.Deployment, string, error) {
	var found *appsv1.Deployment
	for _, o := range objs {
		if o.GetKind() != "Deployment" {
			continue
		}
		if found != nil {
			return nil, "", errors.New("more than one Deployment in the input")
		}
		found = &appsv1.Deployment{}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, found); err != nil {
			return nil, "", err
		}
	}
	if found == nil {
		return nil, "", errors.New("no Deployment in the input")
	}
	sa := found.Spec.Template.Spec.ServiceAccountName
	if sa == "" {
		return nil, "", fmt.Errorf("deployment %s has no serviceAccountName", found.Name)
	}
	return found, sa, nil
}

// mergePermissions folds the rules of several roles bound to the same ServiceAccount
// into one entry, as OLM needs one per ServiceAccount.
func mergePermissions(perms []operatorsv1alpha1.StrategyDeploymentPermissions) []operatorsv1alpha1.StrategyDeploymentPermissions {
	if len(perms) <= 1 {
		return perms
	}
	out := perms[:1]
	for _, p := range perms[1:] {
		out[0].Rules = append(out[0].Rules, p.Rules...)
	}
	return out
}

func ownCRDVersion(csv *operatorsv1alpha1.ClusterServiceVersion, o *unstructured.Unstructured) error {
	var crd apiextensionsv1.CustomResourceDefinition
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &crd); err != nil {
		return err
	}
	for i := range csv.Spec.CustomResourceDefinitions.Owned {
		owned := &csv.Spec.CustomResourceDefinitions.Owned[i]
		if owned.Name != crd.Name {
			continue
		}
		for _, v := range crd.Spec.Versions {
			if v.Storage {
				owned.Version = v.Name
			}
		}
		return nil
	}
	return fmt.Errorf("CRD %s is not listed in the CSV base's owned CRDs", crd.Name)
}

func almExamples(dir string) (string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return "", err
	}
	slices.Sort(files)
	examples := []map[string]any{}
	for _, f := range files {
		if filepath.Base(f) == "kustomization.yaml" {
			continue
		}
		fh, err := os.Open(f)
		if err != nil {
			return "", err
		}
		objs, err := decodeAll(fh)
		_ = fh.Close()
		if err != nil {
			return "", fmt.Errorf("%s: %w", f, err)
		}
		for _, o := range objs {
			examples = append(examples, o.Object)
		}
	}
	b, err := json.MarshalIndent(examples, "", "  ")
	return string(b), err
}

func writeMetadata(outDir string) error {
	annotations := map[string]string{
		"operators.operatorframework.io.bundle.mediatype.v1":       "registry+v1",
		"operators.operatorframework.io.bundle.manifests.v1":       "manifests/",
		"operators.operatorframework.io.bundle.metadata.v1":        "metadata/",
		"operators.operatorframework.io.bundle.package.v1":         packageName,
		"operators.operatorframework.io.bundle.channels.v1":        channel,
		"operators.operatorframework.io.bundle.channel.default.v1": channel,
		"operators.operatorframework.io.test.mediatype.v1":         "scorecard+v1",
		"operators.operatorframework.io.test.config.v1":            "tests/scorecard/",
	}
	if err := os.MkdirAll(filepath.Join(outDir, "metadata"), 0o755); err != nil {
		return err
	}
	if err := writeYAML(filepath.Join(outDir, "metadata", "annotations.yaml"), map[string]any{"annotations": annotations}); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(outDir, "tests", "scorecard"), 0o755); err != nil {
		return err
	}
	test := func(name, suite string) map[string]any {
		return map[string]any{
			"entrypoint": []string{"scorecard-test", name},
			"image":      scorecardImage,
			"labels":     map[string]string{"suite": suite, "test": name + "-test"},
		}
	}
	scorecard := map[string]any{
		"apiVersion": "scorecard.operatorframework.io/v1alpha3",
		"kind":       "Configuration",
		"metadata":   map[string]any{"name": "config"},
		"stages": []any{map[string]any{"parallel": true, "tests": []any{
			test("basic-check-spec", "basic"),
			test("olm-bundle-validation", "olm"),
			test("olm-crds-have-validation", "olm"),
			test("olm-crds-have-resources", "olm"),
			test("olm-spec-descriptors", "olm"),
			test("olm-status-descriptors", "olm"),
		}}},
	}
	if err := writeYAML(filepath.Join(outDir, "tests", "scorecard", "config.yaml"), scorecard); err != nil {
		return err
	}
	var df strings.Builder
	df.WriteString("FROM scratch\n\n")
	keys := make([]string, 0, len(annotations))
	for k := range annotations {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(&df, "LABEL %s=%s\n", k, annotations[k])
	}
	df.WriteString("\nCOPY bundle/manifests /manifests/\nCOPY bundle/metadata /metadata/\nCOPY bundle/tests/scorecard /tests/scorecard/\n")
	return os.WriteFile(filepath.Join(filepath.Dir(filepath.Clean(outDir)), "bundle.Dockerfile"), []byte(df.String()), 0o644)
}

func decodeAll(in io.Reader) ([]*unstructured.Unstructured, error) {
	reader := utilyaml.NewYAMLReader(bufio.NewReader(in))
	var out []*unstructured.Unstructured
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		m := map[string]any{}
		if err := yaml.Unmarshal(doc, &m); err != nil {
			return nil, err
		}
		if len(m) == 0 {
			continue
		}
		out = append(out, &unstructured.Unstructured{Object: m})
	}
}

func readYAML(path string, into any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return yaml.UnmarshalStrict(b, into)
}

func writeYAML(path string, obj any) error {
	b, err := yaml.Marshal(obj)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

func parseSemver(v string) (opversion.OperatorVersion, error) {
	sv, err := semver.Parse(v)
	if err != nil {
		return opversion.OperatorVersion{}, fmt.Errorf("version %q: %w", v, err)
	}
	return opversion.OperatorVersion{Version: sv}, nil
}
