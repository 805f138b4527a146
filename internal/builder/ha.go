package builder

import (
	"fmt"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	opennebulav1alpha1 "github.com/opennebula-operator/opennebula-operator/api/v1alpha1"
	"github.com/opennebula-operator/opennebula-operator/internal/secrets"
)

// LabelRaftRole, on a frontend pod of a Raft zone, says whether its server leads (or runs
// solo, before the zone is formed) or follows. The operator sets it from the servers'
// own one.zone.raftstatus; the external Service selects the leader.
const (
	LabelRaftRole    = "opennebula.io/raft-role"
	RaftRoleLeader   = "leader"
	RaftRoleFollower = "follower"
)

// RaftInputs are what the reconciler observed of a frontend's Raft zone.
type RaftInputs struct {
	// Formed: the operator has recorded server IDs, so the zone exists. A zone scaled
	// back to one server stays a zone of one: its server keeps its ID (OpenNebula has no
	// way back to solo but a new database).
	Formed bool
	// StatefulSetReplicas is how many pods the zone's membership plan runs now
	// (raft.Plan): one more than the members while a server joins, the members until a
	// server leaving is removed from the zone. 0: no plan yet.
	StatefulSetReplicas int32
}

// HighAvailability reports whether the frontend runs as a Raft zone: more than one
// server asked for, or a zone formed earlier.
func HighAvailability(fe *opennebulav1alpha1.OpenNebulaFrontend, in Inputs) bool {
	return ptr.Deref(fe.Spec.Replicas, 1) > 1 || in.Raft.Formed
}

// UsesStartWrapper reports whether the frontend container runs the start wrapper
// (StartWrapper) before the image's entry point: in a Raft zone, and on MySQL, where the
// seed image's entry point takes every start for a first boot and oned would lose its
// keys at each restart (serverKeys). The operator keeps the keys of such a frontend in
// its Keys Secret. SQLite needs neither: the entry point sees its database.
func UsesStartWrapper(fe *opennebulav1alpha1.OpenNebulaFrontend, in Inputs) bool {
	return HighAvailability(fe, in) || DatabaseBackend(fe) != opennebulav1alpha1.DatabaseSQLite
}

// statefulSetReplicas is the number of frontend pods: the user's, or in a zone the
// membership plan's (servers join and leave one at a time).
func statefulSetReplicas(fe *opennebulav1alpha1.OpenNebulaFrontend, in Inputs) int32 {
	if HighAvailability(fe, in) && in.Raft.StatefulSetReplicas > 0 {
		return in.Raft.StatefulSetReplicas
	}
	return ptr.Deref(fe.Spec.Replicas, 1)
}

// externalSelector selects the pods the external Service sends traffic to. In a zone,
// the leader only, on every port: monitord drops the hypervisors' messages anywhere else
// (docs/opennebula.md), followers forward API calls to the leader anyway, and OneFlow
// and OneGate run on the leader only.
func externalSelector(fe *opennebulav1alpha1.OpenNebulaFrontend, in Inputs) map[string]string {
	sel := SelectorLabels(fe)
	if HighAvailability(fe, in) {
		sel[LabelRaftRole] = RaftRoleLeader
	}
	return sel
}

// PodDisruptionBudget lets at most one server of a zone of 3 or 5 be evicted at a time:
// a majority, hence a leader, always remains.
func PodDisruptionBudget(fe *opennebulav1alpha1.OpenNebulaFrontend) *policyv1.PodDisruptionBudget {
	return &policyv1.PodDisruptionBudget{
		TypeMeta:   metav1.TypeMeta{APIVersion: "policy/v1", Kind: "PodDisruptionBudget"},
		ObjectMeta: metav1.ObjectMeta{Name: NamesFor(fe.Name).PodDisruptionBudget, Namespace: fe.Namespace, Labels: Labels(fe)},
		Spec: policyv1.PodDisruptionBudgetSpec{
			MaxUnavailable: new(intstr.FromInt32(1)),
			Selector:       &metav1.LabelSelector{MatchLabels: SelectorLabels(fe)},
		},
	}
}

// RaftServersConfigMap records each server's Raft ID under its pod's name, where the pod
// reads it at start (RaftServersDir): the IDs oned gave (one.zone.info, by NAME), never
// the ordinals.
func RaftServersConfigMap(fe *opennebulav1alpha1.OpenNebulaFrontend, ids map[string]int, seedFrom string) *corev1.ConfigMap {
	data := make(map[string]string, len(ids)+1)
	for name, id := range ids {
		data[name] = strconv.Itoa(id)
	}
	if seedFrom != "" {
		data[SeedFromKey] = seedFrom
	}
	return &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: NamesFor(fe.Name).RaftServers, Namespace: fe.Namespace, Labels: Labels(fe)},
		Data:       data,
	}
}

// KeysSecret is the zone's keys (KeysDir): oneKey, the first server's one_key as
// read from it when the zone is formed (what its database was encrypted with stays
// readable), with FireEdge's key and serveradmin's secret made now. The operator creates
// it once, before the first server joins its own zone, and never changes it: every server
// of the zone runs with these keys.
func KeysSecret(fe *opennebulav1alpha1.OpenNebulaFrontend, oneKey string) (*corev1.Secret, error) {
	data := map[string][]byte{OneKeyKey: []byte(oneKey)}
	for _, key := range []string{FireEdgeKeyKey, ServerAdminKey} {
		p, err := secrets.Password()
		if err != nil {
			return nil, fmt.Errorf("making the zone's %s: %w", key, err)
		}
		data[key] = p
	}
	secret := operatorSecret(fe, NamesFor(fe.Name).Keys, corev1.SecretTypeOpaque)
	secret.Data = data
	return secret, nil
}

// ConditionRaftMember is the readiness gate of a zone's pods: the operator sets it True
// while the pod's server leads or follows, so that Ready means a member serving, not a
// process that answers (a candidate, a server waiting to join).
const ConditionRaftMember corev1.PodConditionType = "opennebula.io/raft-member"

// readinessGates: a zone's pods are ready only as members (ConditionRaftMember).
func readinessGates(fe *opennebulav1alpha1.OpenNebulaFrontend, in Inputs) []corev1.PodReadinessGate {
	if !HighAvailability(fe, in) {
		return nil
	}
	return []corev1.PodReadinessGate{{ConditionType: ConditionRaftMember}}
}

// podAffinity is the user's affinity, or in a zone a preference for one server per
// node: a node's loss then takes one server, not the quorum.
func podAffinity(fe *opennebulav1alpha1.OpenNebulaFrontend, in Inputs) *corev1.Affinity {
	if fe.Spec.Pod.Affinity != nil || !HighAvailability(fe, in) {
		return fe.Spec.Pod.Affinity
	}
	return &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
		PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{
			Weight: 100,
			PodAffinityTerm: corev1.PodAffinityTerm{
				LabelSelector: &metav1.LabelSelector{MatchLabels: SelectorLabels(fe)},
				TopologyKey:   corev1.LabelHostname,
			},
		}},
	}}
}
