// Package builder holds the pure functions that turn an OpenNebulaFrontend into the
// objects the operator keeps in the cluster. They read nothing but their arguments, so
// the reconciler, `manager render` and the tests all see the same desired state.
package builder

import (
	"cmp"

	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opennebulav1alpha1 "github.com/opennebula-operator/opennebula-operator/api/v1alpha1"
)

// Options are operator-level settings that shape every frontend.
type Options struct {
	// DefaultImage is used when spec.image is empty; it comes from the operator's
	// RELATED_IMAGE_OPENNEBULA environment variable. Empty means v1alpha1.DefaultImage.
	DefaultImage string
	// ClusterDomain is the cluster's DNS domain, used for the pods' stable DNS names.
	// Empty means "cluster.local".
	ClusterDomain string
}

// DefaultClusterDomain is the DNS domain of nearly every Kubernetes cluster.
const DefaultClusterDomain = "cluster.local"

// Build returns every child of the frontend, in the order they are applied: the
// Services first (so the pods' DNS names exist when they start), then the StatefulSet.
func Build(fe *opennebulav1alpha1.OpenNebulaFrontend, opts Options) []client.Object {
	return []client.Object{
		HeadlessService(fe),
		ExternalService(fe),
		StatefulSet(fe, opts),
	}
}

// Image is the frontend image the pods run.
func Image(fe *opennebulav1alpha1.OpenNebulaFrontend, opts Options) string {
	return cmp.Or(fe.Spec.Image, opts.DefaultImage, opennebulav1alpha1.DefaultImage)
}

// persistenceSize is spec.persistence.size, or the schema's default when the object did
// not pass through the API server (render).
func persistenceSize(fe *opennebulav1alpha1.OpenNebulaFrontend) resource.Quantity {
	if fe.Spec.Persistence.Size != nil {
		return *fe.Spec.Persistence.Size
	}
	return resource.MustParse(opennebulav1alpha1.DefaultPersistenceSize)
}
