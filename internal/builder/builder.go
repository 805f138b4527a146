// Package builder holds the pure functions that turn an OpenNebulaFrontend into the
// objects the operator keeps in the cluster. They read nothing but their arguments, so
// the reconciler, `manager render` and the tests all see the same desired state.
package builder

import (
	"cmp"
	"maps"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opennebulav1alpha1 "github.com/opennebula-operator/opennebula-operator/api/v1alpha1"
)

// Options are operator-level settings that shape every frontend.
type Options struct {
	// DefaultImage is used when spec.image is empty; it comes from the operator's
	// RELATED_IMAGE_OPENNEBULA environment variable. Empty means v1alpha1.DefaultImage.
	DefaultImage string
	// SSHDImage is the SSH server sidecar's image when spec.ssh.image is empty; it comes
	// from the operator's RELATED_IMAGE_SSHD. Empty means v1alpha1.DefaultSSHDImage.
	SSHDImage string
	// ClusterDomain is the cluster's DNS domain, used for the pods' stable DNS names.
	// Empty means "cluster.local".
	ClusterDomain string
}

// Inputs are facts the reconciler observed in the cluster that the desired state
// depends on. Render passes the zero value.
type Inputs struct {
	// LoadBalancerAddress is the external Service's LoadBalancer ingress IP or hostname,
	// for monitorAddress "auto"; empty until the load balancer assigns one.
	LoadBalancerAddress string
	// SecretsHash is HashSecretValues of the values of PodSecretRefs: a change rolls the pod.
	SecretsHash string
	// Raft is what was observed of the frontend's Raft zone.
	Raft RaftInputs
}

// TypeMeta of the kinds the builders produce.
var (
	serviceType     = metav1.TypeMeta{APIVersion: "v1", Kind: "Service"}
	statefulSetType = metav1.TypeMeta{APIVersion: "apps/v1", Kind: "StatefulSet"}
)

// DefaultClusterDomain is the DNS domain of nearly every Kubernetes cluster.
const DefaultClusterDomain = "cluster.local"

// Build returns every child of the frontend, in the order they are applied: the
// configuration and the database first, the Services (so the pods' DNS names exist when
// they start), then the StatefulSet and the Ingress. The generated Secrets are not among
// them: they are created once by the reconciler (see GeneratedSecrets), never applied.
func Build(fe *opennebulav1alpha1.OpenNebulaFrontend, opts Options, in Inputs) []client.Object {
	var out []client.Object
	out = append(out, ConfigMap(fe, in))
	if DatabaseBackend(fe) == opennebulav1alpha1.DatabaseMariaDB {
		out = append(out, MariaDBService(fe))
		for _, svc := range MariaDBServerServices(fe, in) {
			out = append(out, svc)
		}
		out = append(out, MariaDBStatefulSet(fe, in))
	}
	out = append(out, HeadlessService(fe), ExternalService(fe, in), StatefulSet(fe, opts, in))
	if ptr.Deref(fe.Spec.Replicas, 1) > 1 {
		out = append(out, PodDisruptionBudget(fe))
	}
	if fe.Spec.Ingress.Enabled {
		out = append(out, Ingress(fe))
	}
	return out
}

// Image is the frontend image the pods run.
func Image(fe *opennebulav1alpha1.OpenNebulaFrontend, opts Options) string {
	return cmp.Or(fe.Spec.Image, opts.DefaultImage, opennebulav1alpha1.DefaultImage)
}

// Version is the OpenNebula version an image runs: its tag, without a digest.
func Version(image string) string {
	if i := strings.Index(image, "@"); i >= 0 {
		image = image[:i]
	}
	if i := strings.LastIndex(image, ":"); i > strings.LastIndex(image, "/") {
		return image[i+1:]
	}
	return "latest"
}

// DatabaseBackend is spec.database.backend, or the schema's default.
func DatabaseBackend(fe *opennebulav1alpha1.OpenNebulaFrontend) opennebulav1alpha1.DatabaseBackend {
	return cmp.Or(fe.Spec.Database.Backend, opennebulav1alpha1.DatabaseMariaDB)
}

// ProxyEnabled reports whether the FireEdge proxy sidecar runs (the schema's default: yes).
func ProxyEnabled(fe *opennebulav1alpha1.OpenNebulaFrontend) bool {
	return fe.Spec.FireEdgeProxy.Enabled == nil || *fe.Spec.FireEdgeProxy.Enabled
}

// quantityOr is q, or def when q is unset (the object did not pass the API server).
func quantityOr(q *resource.Quantity, def string) resource.Quantity {
	if q != nil {
		return *q
	}
	return resource.MustParse(def)
}

// mergeMaps returns extra with ours laid over it: the operator's keys win.
func mergeMaps(extra, ours map[string]string) map[string]string {
	out := make(map[string]string, len(extra)+len(ours))
	maps.Copy(out, extra)
	maps.Copy(out, ours)
	return out
}
