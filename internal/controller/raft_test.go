package controller

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	opennebulav1alpha1 "github.com/opennebula-operator/opennebula-operator/api/v1alpha1"
	"github.com/opennebula-operator/opennebula-operator/internal/builder"
)

func TestRaftViewFromPods(t *testing.T) {
	fe := &opennebulav1alpha1.OpenNebulaFrontend{ObjectMeta: metav1.ObjectMeta{Name: "one", Namespace: "ns"}}
	fe.Spec.Replicas = new(int32(3))
	seed := func(name, uid string, st corev1.ContainerState, ann map[string]string) corev1.Pod {
		return corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID(uid), Annotations: ann},
			Status: corev1.PodStatus{InitContainerStatuses: []corev1.ContainerStatus{{Name: builder.SeedInitContainer, State: st}}}}
	}
	running := corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
	reseeded := corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Message: builder.ReseededMessage + "\n"}}
	pods := []corev1.Pod{
		seed("one-0", "u0", reseeded, map[string]string{AnnotationRaftReset: "u0"}), // reset already
		seed("one-1", "u1", reseeded, nil),
		seed("one-2", "u2", running, nil),
	}
	ids, from, err := builder.RaftRecord(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "one-raft-servers"},
		Data: map[string]string{"one-0": "0", "one-1": "4", builder.SeedFromKey: "one-mariadb-0 3306 opennebula"}})
	if err != nil {
		t.Fatal(err)
	}
	v := raftView(fe, pods, ids, from, statefulSetState{replicas: 3}, func(pod string) string { return "http://" + pod })
	if len(v.Servers) != 3 || v.Servers[2].Name != "one-2" || v.Servers[1].Endpoint != "http://one-1" {
		t.Fatalf("servers by ordinal: %+v", v.Servers)
	}
	if v.Servers[0].Reseeded || !v.Servers[1].Reseeded {
		t.Errorf("one reset per reseeded pod: %+v", v.Servers)
	}
	if !v.Servers[2].Waiting || v.Servers[1].Waiting {
		t.Errorf("a pod whose seed container runs and has no ID waits: %+v", v.Servers)
	}
	if v.SeedFrom != "one-0" || v.Recorded["one-1"] != 4 {
		t.Errorf("record: %v, seed source %q (want the pod whose database it is, one-0)", v.Recorded, v.SeedFrom)
	}
	if _, _, err := builder.RaftRecord(&corev1.ConfigMap{Data: map[string]string{"one-0": "zero"}}); err == nil {
		t.Error("a bad ID in the record is an error naming it")
	}
}
