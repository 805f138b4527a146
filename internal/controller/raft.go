package controller

// WORK IN PROGRESS (branch wip/raft-controller, issue 12): the Kubernetes side of the
// Raft membership (internal/raft). Not wired into the phases yet: see the notes.

import (
	"fmt"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	opennebulav1alpha1 "github.com/opennebula-operator/opennebula-operator/api/v1alpha1"
	"github.com/opennebula-operator/opennebula-operator/internal/builder"
	"github.com/opennebula-operator/opennebula-operator/internal/raft"
)

// AnnotationRaftReset, on a frontend pod, records the pod UID whose reseeded database the
// leader was told of (one.zone.resetserver): one reset per reseed.
const AnnotationRaftReset = "opennebula.io/raft-reset"

// seedInitContainer is the name of the seed init container (builder.seedDatabase).
const seedInitContainer = "seed-database"

// raftRecord reads the record ConfigMap: the server IDs by pod name and the seed source.
func raftRecord(cm *corev1.ConfigMap) (ids map[string]int, seedFrom string, err error) {
	ids = map[string]int{}
	if cm == nil {
		return ids, "", nil
	}
	for k, v := range cm.Data {
		if k == builder.SeedFromKey {
			seedFrom = v
			continue
		}
		id, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return nil, "", fmt.Errorf("ConfigMap %s: %s holds %q, not a server ID", cm.Name, k, v)
		}
		ids[k] = id
	}
	return ids, seedFrom, nil
}

// raftView is what the planner needs from the pods, before the servers are asked
// (raft.Observe fills their statuses): names and endpoints by ordinal, which pods wait
// for their ID in their seed init container, which copied a lost database and were not
// reset yet. endpoint gives a pod's XML-RPC endpoint.
// seedFrom is the recorded seed source ("host port name"), mapped back to the pod whose
// database it is.
func raftView(fe *opennebulav1alpha1.OpenNebulaFrontend, pods []corev1.Pod, ids map[string]int, seedFrom string,
	stsReplicas int32, endpoint func(pod string) string) raft.View {
	byName := map[string]*corev1.Pod{}
	for i := range pods {
		byName[pods[i].Name] = &pods[i]
	}
	n := max(int(ptr.Deref(fe.Spec.Replicas, 1)), int(stsReplicas), len(pods))
	v := raft.View{Replicas: int(ptr.Deref(fe.Spec.Replicas, 1)), Recorded: ids}
	sts := builder.NamesFor(fe.Name).StatefulSet
	for k := range n {
		name := sts + "-" + strconv.Itoa(k)
		if seedFrom != "" && builder.SeedSource(fe, k) == strings.TrimSpace(seedFrom) {
			v.SeedFrom = name
		}
		s := raft.Server{Name: name, Endpoint: endpoint(name)}
		if pod := byName[name]; pod != nil && pod.DeletionTimestamp == nil {
			_, recorded := ids[name]
			init := initContainerState(pod, seedInitContainer)
			s.Waiting = !recorded && init != nil && init.Running != nil
			s.Reseeded = init != nil && init.Terminated != nil &&
				strings.TrimSpace(init.Terminated.Message) == builder.ReseededMessage &&
				pod.Annotations[AnnotationRaftReset] != string(pod.UID)
		}
		v.Servers = append(v.Servers, s)
	}
	return v
}

func initContainerState(pod *corev1.Pod, name string) *corev1.ContainerState {
	for _, cs := range pod.Status.InitContainerStatuses {
		if cs.Name == name {
			return &cs.State
		}
	}
	return nil
}

// raftRole is the label a pod's server gets from its own answer: the leader (or a solo
// server: it serves everything) "leader", a member following "follower", nothing while
// it does not answer or stands as a candidate.
func raftRole(st *raft.Server, leader bool) string {
	switch {
	case st.Status == nil:
		return ""
	case leader:
		return builder.RaftRoleLeader
	case st.Status.State.String() == "FOLLOWER":
		return builder.RaftRoleFollower
	}
	return ""
}
