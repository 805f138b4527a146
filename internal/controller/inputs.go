package controller

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opennebulav1alpha1 "github.com/opennebula-operator/opennebula-operator/api/v1alpha1"
	"github.com/opennebula-operator/opennebula-operator/internal/builder"
	"github.com/opennebula-operator/opennebula-operator/internal/status"
)

// observeInputs gathers what the desired state depends on besides the spec: the load
// balancer's address and the values of the Secrets the pod reads. A Secret or key the
// pod needs that does not exist is a problem.
func (r *OpenNebulaFrontendReconciler) observeInputs(ctx context.Context, fe *opennebulav1alpha1.OpenNebulaFrontend, st *reconcileState) error {
	if err := r.countHosts(ctx, fe, st); err != nil {
		return err
	}
	svc := &corev1.Service{}
	key := client.ObjectKey{Namespace: fe.Namespace, Name: builder.NamesFor(fe.Name).ExternalService}
	if err := r.applier.Get(ctx, key, svc); err == nil && metav1.IsControlledBy(svc, fe) {
		for _, ing := range svc.Status.LoadBalancer.Ingress {
			if addr := cmp.Or(ing.IP, ing.Hostname); addr != "" {
				st.Inputs.LoadBalancerAddress = addr
				break
			}
		}
	}
	hash, unwatched, p, err := r.readPodSecrets(ctx, fe)
	st.Inputs.SecretsHash, st.unwatchedSecrets = hash, unwatched
	st.Report(p)
	return err
}

// readPodSecrets reads the values of every Secret key the frontend pod reads, for the
// pod template's inputs hash, and finds what admission cannot: a Secret or key the pod
// needs that does not exist. A user's Secret not labelled opennebula.io/watch is not
// cached and is read past the cache; unwatched reports that one was.
func (r *OpenNebulaFrontendReconciler) readPodSecrets(ctx context.Context, fe *opennebulav1alpha1.OpenNebulaFrontend) (hash string, unwatched bool, p *status.Problem, err error) {
	values := map[string]map[string][]byte{}
	read := map[string]*corev1.Secret{}
	// The operator's own Secrets are read from the cache only: a new frontend's kept keys
	// do not exist yet, and reading past the cache for them cost every reconcile of a new
	// frontend a GET (the bench saw 5 per frontend).
	ours := builder.OperatorSecrets(fe)
	for _, ref := range r.podSecretRefs.of(fe, r.Options) {
		s, seen := read[ref.Name]
		if !seen {
			s = &corev1.Secret{}
			key := client.ObjectKey{Namespace: fe.Namespace, Name: ref.Name}
			get := func() error { return r.applier.GetOrReadFor(ctx, key, s, fe.ResourceVersion) }
			if ours[ref.Name] {
				get = func() error { return r.applier.Get(ctx, key, s) }
			}
			switch err := get(); {
			case apierrors.IsNotFound(err):
				s = nil
			case err != nil:
				return "", false, nil, err
			case s.Labels[builder.LabelWatch] != builder.ValueWatch:
				unwatched = true
			}
			read[ref.Name] = s
		}
		switch {
		case s == nil && ref.Optional:
		case s == nil:
			return "", unwatched, &status.Problem{Reason: opennebulav1alpha1.ReasonSecretMissing,
				Message: fieldPrefix(builder.SecretRefField(fe, ref.Name)) + fmt.Sprintf("Secret %s does not exist", ref.Name)}, nil
		case ref.Key == "":
			values[ref.Name] = mergeBytes(values[ref.Name], s.Data)
		default:
			v, ok := s.Data[ref.Key]
			if !ok && !ref.Optional {
				return "", unwatched, &status.Problem{Reason: opennebulav1alpha1.ReasonSecretKeyMissing,
					Message: fieldPrefix(builder.SecretRefField(fe, ref.Name)) + fmt.Sprintf("Secret %s has no key %q", ref.Name, ref.Key)}, nil
			}
			if ok {
				values[ref.Name] = mergeBytes(values[ref.Name], map[string][]byte{ref.Key: v})
			}
		}
	}
	return builder.HashSecretValues(values), unwatched, nil, nil
}

func mergeBytes(into, from map[string][]byte) map[string][]byte {
	if into == nil {
		into = make(map[string][]byte, len(from))
	}
	maps.Copy(into, from)
	return into
}

// fieldPrefix starts a problem's message with the frontend's field it is about, the way
// the API server names fields in its refusals ("spec.pod.priorityClassName: ...").
func fieldPrefix(field string) string {
	if field == "" {
		return ""
	}
	return field + ": "
}

// countHosts counts the frontend's OpenNebulaHosts by the state their status gives (the
// fleet controller's last read of oned), for status.hosts.
func (r *OpenNebulaFrontendReconciler) countHosts(ctx context.Context, fe *opennebulav1alpha1.OpenNebulaFrontend, st *reconcileState) error {
	var hosts opennebulav1alpha1.OpenNebulaHostList
	if err := r.List(ctx, &hosts, client.InNamespace(fe.Namespace), client.MatchingFields{indexFrontendRef: fe.Name}); err != nil {
		return err
	}
	if len(hosts.Items) == 0 {
		return nil
	}
	counts := &opennebulav1alpha1.HostCounts{Total: int32(len(hosts.Items)), ByState: map[string]int32{}}
	for _, h := range hosts.Items {
		counts.ByState[cmp.Or(h.Status.State, HostStatePending)]++
	}
	st.Hosts = counts
	return nil
}

// HostStatePending is how status.hosts counts a host that is not in OpenNebula yet.
const HostStatePending = "PENDING"

// podSecretRefsMemo remembers each frontend's builder.PodSecretRefs for the version of
// the frontend it was listed from. Listing them builds the whole pod spec, and it was
// asked for at every reconcile (readPodSecrets) and at every event of the frontend (the
// indexPodSecret index, once for the old object and once for the new): 5 % of what the
// manager allocated while 300 frontends were created (hack/bench -cpu-profiles,
// readPodSecrets and the index together), for an answer that changes only with the
// frontend. A resourceVersion names one content of the object, so an entry is right for
// as long as its version is the one asked about (the other input, the reconciler's
// Options, is set once at start); the entry of a deleted frontend is forgotten when its
// reconcile finds it gone.
type podSecretRefsMemo struct {
	mu      sync.Mutex
	entries map[types.NamespacedName]podSecretRefsEntry
}

type podSecretRefsEntry struct {
	uid     types.UID
	version string
	refs    []builder.SecretKeyRef
}

// of returns fe's refs, shared with other callers: they must not be changed.
func (m *podSecretRefsMemo) of(fe *opennebulav1alpha1.OpenNebulaFrontend, opts builder.Options) []builder.SecretKeyRef {
	if fe.ResourceVersion == "" {
		// Not read from the API server (a test's object): no version names its content.
		return builder.PodSecretRefs(fe, opts)
	}
	key := client.ObjectKeyFromObject(fe)
	m.mu.Lock()
	e, ok := m.entries[key]
	m.mu.Unlock()
	if ok && e.uid == fe.UID && e.version == fe.ResourceVersion {
		return e.refs
	}
	refs := builder.PodSecretRefs(fe, opts)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.entries == nil {
		m.entries = map[types.NamespacedName]podSecretRefsEntry{}
	}
	m.entries[key] = podSecretRefsEntry{uid: fe.UID, version: fe.ResourceVersion, refs: refs}
	return refs
}

// forget drops a deleted frontend's entry.
func (m *podSecretRefsMemo) forget(key types.NamespacedName) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.entries, key)
}
