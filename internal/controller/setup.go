package controller

import (
	"os"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/labels"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opennebulav1alpha1 "github.com/opennebula-operator/opennebula-operator/api/v1alpha1"
	"github.com/opennebula-operator/opennebula-operator/internal/builder"
	"github.com/opennebula-operator/opennebula-operator/internal/intern"
)

// EnvRelatedImage overrides the default frontend image (OLM's relatedImages convention,
// so that disconnected installs can mirror it).
const EnvRelatedImage = "RELATED_IMAGE_OPENNEBULA"

// EnvRelatedImageSSHD is the SSH server sidecar's image when spec.ssh.image is empty.
const EnvRelatedImageSSHD = "RELATED_IMAGE_SSHD"

// EnvWatchNamespace restricts the operator to namespaces: empty for all, or a comma list.
const EnvWatchNamespace = "WATCH_NAMESPACE"

// BuilderOptionsFromEnv reads the operator-level builder options from the environment.
func BuilderOptionsFromEnv() builder.Options {
	return builder.Options{DefaultImage: os.Getenv(EnvRelatedImage), SSHDImage: os.Getenv(EnvRelatedImageSSHD)}
}

// lastAppliedAnnotation is kubectl's client-side apply record.
const lastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration"

// stripLastApplied drops managedFields and kubectl's last-applied copy of the object
// from a cached frontend (a ByObject transform replaces the default one).
func stripLastApplied(obj any) (any, error) {
	obj, err := cache.TransformStripManagedFields()(obj)
	if o, ok := obj.(client.Object); ok && err == nil {
		if ann := o.GetAnnotations(); ann[lastAppliedAnnotation] != "" {
			delete(ann, lastAppliedAnnotation)
			o.SetAnnotations(ann)
		}
	}
	return obj, err
}

// stripPod drops managedFields, the spec and most of the status from a cached pod. The
// operator reads a pod's labels, annotations, phase and conditions, the state of its seed
// init container (builder.SeedState) and of its opennebula container (keys.go's
// containerStarted), and writes to it only by patches computed from those (a copy
// without the rest patches nothing else). The spec is most of a pod's size; the other
// containers' statuses (image, ids, volume mounts, resources) most of what is left.
func stripPod(obj any) (any, error) {
	obj, err := cache.TransformStripManagedFields()(obj)
	if p, ok := obj.(*corev1.Pod); ok && err == nil {
		p.Spec = corev1.PodSpec{}
		p.Status = corev1.PodStatus{Phase: p.Status.Phase, Conditions: p.Status.Conditions, StartTime: p.Status.StartTime,
			InitContainerStatuses: containerStates(p.Status.InitContainerStatuses, builder.SeedInitContainer),
			ContainerStatuses:     containerStates(p.Status.ContainerStatuses, builder.ContainerName)}
	}
	return obj, err
}

// containerStates keeps the name and state of the named container's status, if listed.
func containerStates(statuses []corev1.ContainerStatus, name string) []corev1.ContainerStatus {
	for _, cs := range statuses {
		if cs.Name == name {
			return []corev1.ContainerStatus{{Name: cs.Name, State: cs.State}}
		}
	}
	return nil
}

// interned is a cache transform: trim, then make the object's strings share one copy
// with the equal strings of every other cached object (package intern: about 10 KB less
// live heap per frontend).
func interned(trim toolscache.TransformFunc) toolscache.TransformFunc {
	return func(obj any) (any, error) {
		obj, err := trim(obj)
		if err == nil {
			intern.Strings(obj)
		}
		return obj, err
	}
}

// WatchNamespaces parses WATCH_NAMESPACE; nil means every namespace.
func WatchNamespaces(v string) []string {
	var out []string
	for ns := range strings.SplitSeq(v, ",") {
		if ns = strings.TrimSpace(ns); ns != "" {
			out = append(out, ns)
		}
	}
	return out
}

// CacheOptions makes the informers hold only what the operator needs: its own children
// (selected by the managed-by label, so unrelated StatefulSets and Services in the
// cluster cost no memory), without managedFields (the operator compares with its own
// hash, not with field ownership), their equal strings shared (interned), in the
// watched namespaces only.
func CacheOptions(namespaces []string) cache.Options {
	owned := cache.ByObject{Label: labels.SelectorFromSet(labels.Set{builder.LabelManagedBy: builder.ValueManagedBy})}
	opts := cache.Options{
		DefaultTransform: interned(cache.TransformStripManagedFields()),
		ByObject: map[client.Object]cache.ByObject{
			&appsv1.StatefulSet{}: owned,
			&corev1.Service{}:     owned,
			&corev1.ConfigMap{}:   owned,
			// Generated Secrets and the user's Secrets labelled opennebula.io/watch=true.
			&corev1.Secret{}:        {Label: labels.SelectorFromSet(labels.Set{builder.LabelWatch: builder.ValueWatch})},
			&networkingv1.Ingress{}: owned,
			// A Raft zone's disruption budget.
			&policyv1.PodDisruptionBudget{}: owned,
			// The claims made from the volumeClaimTemplates carry the operator's labels.
			&corev1.PersistentVolumeClaim{}: owned,
			// The frontend pods (not the MariaDB pods: never read): a zone's seed init
			// container states and role labels, a solo MySQL frontend's start time (keys).
			// Only their metadata and the status read are kept (stripPod).
			&corev1.Pod{}: {Label: labels.SelectorFromSet(labels.Set{builder.LabelManagedBy: builder.ValueManagedBy,
				builder.LabelComponent: builder.ValueComponent}), Transform: interned(stripPod)},
			// kubectl's client-side apply (and Argo CD's default sync) keeps a copy of the
			// whole frontend in an annotation the operator never reads.
			&opennebulav1alpha1.OpenNebulaFrontend{}: {Transform: interned(stripLastApplied)},
		},
	}
	if len(namespaces) > 0 {
		opts.DefaultNamespaces = map[string]cache.Config{}
		for _, ns := range namespaces {
			opts.DefaultNamespaces[ns] = cache.Config{}
		}
	}
	return opts
}
