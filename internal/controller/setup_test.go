package controller

import (
	"fmt"
	"slices"
	"testing"
	"unsafe"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/opennebula-operator/opennebula-operator/internal/builder"

	opennebulav1alpha1 "github.com/opennebula-operator/opennebula-operator/api/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

func TestWatchNamespaces(t *testing.T) {
	for in, want := range map[string][]string{
		"":              nil,
		" ":             nil,
		"one":           {"one"},
		"one,two":       {"one", "two"},
		" one , ,two, ": {"one", "two"},
	} {
		if got := WatchNamespaces(in); !slices.Equal(got, want) {
			t.Errorf("WatchNamespaces(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestCacheOptions(t *testing.T) {
	all := CacheOptions(nil)
	if all.DefaultNamespaces != nil {
		t.Errorf("no namespaces must mean all: %v", all.DefaultNamespaces)
	}
	if all.DefaultTransform == nil {
		t.Error("managedFields are not stripped")
	}
	// Every kind the operator reads through the cache is label-selected: an informer
	// over all the cluster's objects of a kind would cost memory in proportion to the cluster.
	owned := "app.kubernetes.io/managed-by=opennebula-operator"
	for obj, selector := range map[client.Object]string{
		&appsv1.StatefulSet{}: owned, &corev1.Service{}: owned, &corev1.ConfigMap{}: owned,
		&networkingv1.Ingress{}: owned, &corev1.PersistentVolumeClaim{}: owned,
		&corev1.Secret{}: "opennebula.io/watch=true",
		&corev1.Pod{}:    "app.kubernetes.io/component=frontend," + owned,
	} {
		var found bool
		for k, v := range all.ByObject {
			if fmt.Sprintf("%T", k) == fmt.Sprintf("%T", obj) && v.Label != nil {
				found = found || v.Label.String() == selector
			}
		}
		if !found {
			t.Errorf("%T is not selected by %s in the cache", obj, selector)
		}
	}
	// Cached pods keep their metadata and the status the operator reads, not their spec
	// nor the other containers' statuses.
	started := metav1.Now()
	running := corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: started}}
	seed := corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Message: "reseeded"}}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "one-0", Labels: map[string]string{"opennebula.io/raft-role": "leader"},
		ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubelet"}}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "opennebula"}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.0.0.1", StartTime: &started,
			Conditions: []corev1.PodCondition{{Type: builder.ConditionRaftMember, Status: corev1.ConditionTrue}},
			InitContainerStatuses: []corev1.ContainerStatus{{Name: "install-ssh-keys", Image: "x"},
				{Name: builder.SeedInitContainer, State: seed, ContainerID: "containerd://1", RestartCount: 2}},
			ContainerStatuses: []corev1.ContainerStatus{{Name: builder.SSHDContainerName, State: running},
				{Name: builder.ContainerName, State: running, Image: "opennebula:7.2", ImageID: "sha256:1",
					VolumeMounts: []corev1.VolumeMountStatus{{Name: "data", MountPath: "/var/lib/one"}}}}}}
	for k, v := range all.ByObject {
		if _, ok := k.(*corev1.Pod); ok {
			out, err := v.Transform(pod.DeepCopy())
			got := out.(*corev1.Pod)
			want := corev1.PodStatus{Phase: corev1.PodRunning, StartTime: &started, Conditions: pod.Status.Conditions,
				InitContainerStatuses: []corev1.ContainerStatus{{Name: builder.SeedInitContainer, State: seed}},
				ContainerStatuses:     []corev1.ContainerStatus{{Name: builder.ContainerName, State: running}}}
			if err != nil || got.Spec.Containers != nil || got.ManagedFields != nil || got.Labels["opennebula.io/raft-role"] != "leader" ||
				!equality.Semantic.DeepEqual(got.Status, want) {
				t.Errorf("transformed pod %+v, %v", got, err)
			}
			if s := builder.SeedState(got); s == nil || s.Terminated == nil || s.Terminated.Message != "reseeded" {
				t.Errorf("seed state lost: %+v", s)
			}
			if at := containerStarted(got, builder.ContainerName); at == nil || !at.Equal(started.Time) {
				t.Errorf("container start lost: %v", at)
			}
		}
	}
	// The frontends lose kubectl's last-applied copy (and managedFields) in the cache.
	fe := &opennebulav1alpha1.OpenNebulaFrontend{ObjectMeta: metav1.ObjectMeta{Name: "one", Annotations: map[string]string{
		lastAppliedAnnotation: `{"spec":{}}`, "kept": "yes"}, ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}}}
	var transformed bool
	for k, v := range all.ByObject {
		if _, ok := k.(*opennebulav1alpha1.OpenNebulaFrontend); ok && v.Transform != nil {
			out, err := v.Transform(fe)
			got := out.(*opennebulav1alpha1.OpenNebulaFrontend)
			if err != nil || got.Annotations[lastAppliedAnnotation] != "" || got.Annotations["kept"] != "yes" || got.ManagedFields != nil {
				t.Errorf("transformed frontend %+v, %v", got.ObjectMeta, err)
			}
			transformed = true
		}
	}
	if !transformed {
		t.Error("the frontends have no cache transform")
	}
	some := CacheOptions([]string{"a", "b"})
	if len(some.DefaultNamespaces) != 2 {
		t.Errorf("namespaces %v", some.DefaultNamespaces)
	}
}

// Every cache transform shares equal strings between cached objects (package intern).
func TestCacheTransformsIntern(t *testing.T) {
	all := CacheOptions(nil)
	transforms := map[string]toolscache.TransformFunc{"default": all.DefaultTransform}
	for k, v := range all.ByObject {
		if v.Transform != nil {
			transforms[fmt.Sprintf("%T", k)] = v.Transform
		}
	}
	for kind, transform := range transforms {
		names := make([]string, 0, 2)
		for range 2 {
			var obj client.Object = &corev1.Pod{}
			if kind == "*v1alpha1.OpenNebulaFrontend" {
				obj = &opennebulav1alpha1.OpenNebulaFrontend{}
			}
			obj.SetName(string([]byte("one-0"))) // a string of its own, as a decoder makes
			_, _ = transform(obj)
			names = append(names, obj.GetName())
		}
		if unsafe.StringData(names[0]) != unsafe.StringData(names[1]) {
			t.Errorf("the %s cache transform does not intern strings", kind)
		}
	}
}
