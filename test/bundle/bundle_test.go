// Package bundle checks the committed OLM bundle the way OperatorHub's pipeline does, and
// proves its alm-examples pass the CRD's validation on a real API server.
package bundle

import (
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/operator-framework/api/pkg/manifests"
	"github.com/operator-framework/api/pkg/validation"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	opennebulav1alpha1 "github.com/opennebula-operator/opennebula-operator/api/v1alpha1"
)

var bundleDir = filepath.Join("..", "..", "bundle")

// knownFalseWarning: the deprecated-APIs validator warns about any RBAC rule on
// policy/poddisruptionbudgets, since a rule names no version (operator-framework/api
// removed_apis.go, "*may* have a deprecated API"). The operator writes policy/v1 only
// (builder.PodDisruptionBudget's apiVersion); the bundle itself holds no PodDisruptionBudget.
func knownFalseWarning(msg string) bool {
	return strings.Contains(msg, "Migrate the API(s) for poddisruptionbudgets") &&
		strings.Contains(msg, "StrategySpec.ClusterPermissions") &&
		!strings.Contains(msg, "v1beta1")
}

// The validators `operator-sdk bundle validate --select-optional suite=operatorframework`
// runs, plus the default bundle validators; none may report an error or a warning.
func TestBundleValidates(t *testing.T) {
	bundle, err := manifests.GetBundleFromDir(bundleDir)
	if err != nil {
		t.Fatal(err)
	}
	validators := validation.DefaultBundleValidators.WithValidators(
		validation.OperatorHubV2Validator,
		validation.StandardCapabilitiesValidator,
		validation.StandardCategoriesValidator,
		validation.GoodPracticesValidator,
		validation.AlphaDeprecatedAPIsValidator,
		validation.ObjectValidator,
	)
	results := validators.Validate(bundle, map[string]string{"k8s-version": "1.37"})
	var problems int
	for _, r := range results {
		for _, e := range r.Errors {
			problems++
			t.Errorf("error (%s): %s", r.Name, e.Error())
		}
		for _, w := range r.Warnings {
			if knownFalseWarning(w.Error()) {
				t.Logf("known false warning (%s): %s", r.Name, w.Error())
				continue
			}
			problems++
			t.Errorf("warning (%s): %s", r.Name, w.Error())
		}
	}
	if len(results) == 0 {
		t.Fatal("no validator ran")
	}
	t.Logf("%d validator results, %d errors or warnings", len(results), problems)

	csv := bundle.CSV
	if csv.Spec.InstallStrategy.StrategySpec.DeploymentSpecs[0].Spec.Template.Spec.Containers[0].Image == "" {
		t.Error("the CSV's Deployment has no image")
	}
	related := make([]string, 0, len(csv.Spec.RelatedImages))
	for _, ri := range csv.Spec.RelatedImages {
		related = append(related, ri.Name+"="+ri.Image)
	}
	// The images the operator's pods run, for OLM to mirror (disconnected installs).
	for _, want := range []string{"opennebula=" + opennebulav1alpha1.DefaultImage, "sshd=" + opennebulav1alpha1.DefaultSSHDImage} {
		if !slices.Contains(related, want) {
			t.Errorf("relatedImages %v lack %s", related, want)
		}
	}
	for _, owned := range csv.Spec.CustomResourceDefinitions.Owned {
		if len(owned.SpecDescriptors) == 0 || len(owned.StatusDescriptors) == 0 {
			t.Errorf("the owned CRD %s has no spec or status descriptors", owned.Name)
		}
	}
	if len(csv.Spec.CustomResourceDefinitions.Owned) != 3 {
		t.Errorf("owned CRDs %v, want the frontend's, the hosts' and the clusters'", csv.Spec.CustomResourceDefinitions.Owned)
	}
}

// Every alm-example is created on a real API server that has the bundle's CRD.
func TestALMExamplesPassTheCRD(t *testing.T) {
	bundle, err := manifests.GetBundleFromDir(bundleDir)
	if err != nil {
		t.Fatal(err)
	}
	var examples []map[string]any
	if err := json.Unmarshal([]byte(bundle.CSV.Annotations["alm-examples"]), &examples); err != nil {
		t.Fatalf("alm-examples: %v", err)
	}
	if len(examples) == 0 {
		t.Fatal("no alm-examples")
	}
	env := &envtest.Environment{CRDDirectoryPaths: []string{filepath.Join(bundleDir, "manifests")}, ErrorIfCRDPathMissing: true}
	// Stopped also when Start fails: it fails after starting etcd and the API server
	// when a CRD is refused.
	defer func() { _ = env.Stop() }()
	cfg, err := env.Start()
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "examples"}}); err != nil {
		t.Fatal(err)
	}
	for _, ex := range examples {
		u := &unstructured.Unstructured{Object: ex}
		u.SetNamespace("examples")
		if err := c.Create(ctx, u); err != nil {
			t.Errorf("alm-example %s: %v", u.GetName(), err)
		}
	}
}
