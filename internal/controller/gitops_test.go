package controller

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	opennebulav1alpha1 "github.com/opennebula-operator/opennebula-operator/api/v1alpha1"
	"github.com/opennebula-operator/opennebula-operator/internal/apply"
)

// GitOps tools own the CR's spec, labels and annotations; the operator must only ever
// write its status. Proven from managedFields after a full reconcile cycle.
func TestControllerWritesOnlyTheStatus(t *testing.T) {
	RegisterTestingT(t)
	ns := newNamespace(t)
	createFrontend(t, ns, "one")
	makeReady(ns)

	fe := get(Default, ns, "one", &opennebulav1alpha1.OpenNebulaFrontend{})
	ours := 0
	for _, mf := range fe.ManagedFields {
		if mf.Manager != apply.FieldManager {
			continue
		}
		ours++
		Expect(mf.Subresource).To(Equal("status"), "the operator wrote %s outside the status subresource: %s", mf.Operation, mf.FieldsV1.GetRawString())
		Expect(mf.FieldsV1.GetRawString()).NotTo(ContainSubstring(`"f:spec"`))
		Expect(mf.FieldsV1.GetRawString()).NotTo(ContainSubstring(`"f:metadata"`))
	}
	Expect(ours).To(BeNumerically(">", 0), "the operator's status writes carry its field manager")
}

func sampleFrontend(ns string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("opennebula.io/v1alpha1")
	u.SetKind("OpenNebulaFrontend")
	u.SetName("gitops")
	u.SetNamespace(ns)
	u.SetLabels(map[string]string{"app.kubernetes.io/instance": "my-argo-app"})
	u.Object["spec"] = map[string]any{"service": map[string]any{"type": "NodePort"}}
	return u
}

// What Argo CD does on every sync with ServerSideApply: apply the same manifest again.
// Once the operator has reacted to the first apply, the second must change nothing.
func TestReapplyingTheSameFrontendChangesNothing(t *testing.T) {
	RegisterTestingT(t)
	ns := newNamespace(t)
	ctx := context.Background()
	applyCR := func() {
		Expect(k8sClient.Apply(ctx, client.ApplyConfigurationFromUnstructured(sampleFrontend(ns)),
			client.FieldOwner("argocd-controller"), client.ForceOwnership)).To(Succeed())
	}
	applyCR()
	Eventually(func(g Gomega) {
		fe := get(g, ns, "gitops", &opennebulav1alpha1.OpenNebulaFrontend{})
		g.Expect(fe.Status.ObservedGeneration).To(Equal(fe.Generation))
	}, timeout, poll).Should(Succeed())
	// The operator reacts to the first apply; wait until the CR stops changing.
	var rv string
	Eventually(func(g Gomega) {
		before := get(g, ns, "gitops", &opennebulav1alpha1.OpenNebulaFrontend{}).ResourceVersion
		time.Sleep(500 * time.Millisecond)
		rv = get(g, ns, "gitops", &opennebulav1alpha1.OpenNebulaFrontend{}).ResourceVersion
		g.Expect(rv).To(Equal(before))
	}, timeout, poll).Should(Succeed())
	stsRV := get(Default, ns, "gitops", &appsv1.StatefulSet{}).ResourceVersion

	applyCR()
	Consistently(func(g Gomega) {
		g.Expect(get(g, ns, "gitops", &opennebulav1alpha1.OpenNebulaFrontend{}).ResourceVersion).To(Equal(rv))
		g.Expect(get(g, ns, "gitops", &appsv1.StatefulSet{}).ResourceVersion).To(Equal(stsRV))
	}, time.Second, poll).Should(Succeed())

	// The CR's Argo CD tracking label is not copied onto the children.
	Expect(get(Default, ns, "gitops", &appsv1.StatefulSet{}).Labels).NotTo(HaveKey("app.kubernetes.io/instance"))
}

func loadCRD(t *testing.T) *apiextensionsv1.CustomResourceDefinition {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "config", "crd", "bases", "opennebula.io_opennebulafrontends.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := yaml.UnmarshalStrict(b, crd); err != nil {
		t.Fatal(err)
	}
	return crd
}

// A default inside a list item is applied to every item the API server stores, which the
// manifest in Git does not have: Argo CD would show the CR out of sync forever.
func TestCRDHasNoDefaultsInsideLists(t *testing.T) {
	crd := loadCRD(t)
	var walk func(path string, s apiextensionsv1.JSONSchemaProps, inList bool)
	walk = func(path string, s apiextensionsv1.JSONSchemaProps, inList bool) {
		if inList && s.Default != nil {
			t.Errorf("%s has a default inside a list item", path)
		}
		for name, p := range s.Properties {
			walk(path+"."+name, p, inList)
		}
		if s.Items != nil && s.Items.Schema != nil {
			walk(path+"[]", *s.Items.Schema, true)
		}
		if s.AdditionalProperties != nil && s.AdditionalProperties.Schema != nil {
			walk(path+"{}", *s.AdditionalProperties.Schema, inList)
		}
	}
	for _, v := range crd.Spec.Versions {
		walk(v.Name, *v.Schema.OpenAPIV3Schema, false)
	}
}

// The CRD applied with server-side apply a second time changes nothing.
func TestCRDServerSideApplyIsIdempotent(t *testing.T) {
	RegisterTestingT(t)
	ctx := context.Background()
	b, err := os.ReadFile(filepath.Join("..", "..", "config", "crd", "bases", "opennebula.io_opennebulafrontends.yaml"))
	Expect(err).NotTo(HaveOccurred())
	applyCRD := func() string {
		u := &unstructured.Unstructured{}
		Expect(yaml.Unmarshal(b, &u.Object)).To(Succeed())
		Expect(k8sClient.Apply(ctx, client.ApplyConfigurationFromUnstructured(u),
			client.FieldOwner("gitops-test"), client.ForceOwnership)).To(Succeed())
		return u.GetResourceVersion()
	}
	first := applyCRD()
	second := applyCRD()
	Expect(second).To(Equal(first), "the second server-side apply of the CRD changed it")
	Expect(strings.TrimSpace(first)).NotTo(BeEmpty())
}
