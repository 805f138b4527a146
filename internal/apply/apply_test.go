package apply

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

var serviceGVK = corev1.SchemeGroupVersion.WithKind("Service")

func desiredService() *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "one", Namespace: "ns", Labels: map[string]string{"a": "b"}},
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeNodePort,
			Selector: map[string]string{"a": "b"},
			Ports: []corev1.ServicePort{
				{Name: "oned", Port: 2633, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromString("oned")},
				{Name: "monitord-udp", Port: 4124, Protocol: corev1.ProtocolUDP, TargetPort: intstr.FromString("monitord-udp")},
			},
		},
	}
}

// live returns what the API server would hold after applying desired: the hash
// annotation plus fields it fills in itself.
func live(t *testing.T) *corev1.Service {
	t.Helper()
	d, err := Normalize(desiredService(), serviceGVK)
	if err != nil {
		t.Fatal(err)
	}
	s := desiredService()
	s.Annotations = map[string]string{HashAnnotation: d.Hash, "other.example/annotation": "kept"}
	s.Labels["added-by-someone"] = "x"
	s.UID = "1234"
	s.ResourceVersion = "7"
	s.Spec.ClusterIP = "10.0.0.7"
	s.Spec.ClusterIPs = []string{"10.0.0.7"}
	s.Spec.SessionAffinity = corev1.ServiceAffinityNone
	s.Spec.Ports[0].NodePort = 30001
	s.Spec.Ports[1].NodePort = 30002
	// Another manager's port, listed first.
	s.Spec.Ports = append([]corev1.ServicePort{{Name: "extra", Port: 9, Protocol: corev1.ProtocolTCP}}, s.Spec.Ports...)
	return s
}

func TestNormalizeDropsEmptyAndStatus(t *testing.T) {
	d, err := Normalize(desiredService(), serviceGVK)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := d.Object.Object["status"]; ok {
		t.Error("status kept")
	}
	meta := d.Object.Object["metadata"].(map[string]any)
	if _, ok := meta["creationTimestamp"]; ok {
		t.Error("creationTimestamp: null kept")
	}
	if d.Object.GetAnnotations()[HashAnnotation] != d.Hash || len(d.Hash) != 16 {
		t.Errorf("hash annotation %v, hash %q", d.Object.GetAnnotations(), d.Hash)
	}
	if d.Object.GetKind() != "Service" || d.Object.GetAPIVersion() != "v1" {
		t.Errorf("GVK %s", d.Object.GroupVersionKind())
	}
	d2, _ := Normalize(desiredService(), serviceGVK)
	if d2.Hash != d.Hash {
		t.Error("hash is not stable")
	}
}

func TestUpToDate(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*corev1.Service)
		want   bool
	}{
		{"fields set by others are ignored", func(*corev1.Service) {}, true},
		{"a port number edited", func(s *corev1.Service) { s.Spec.Ports[1].Port = 2634 }, false},
		{"a port removed", func(s *corev1.Service) { s.Spec.Ports = s.Spec.Ports[:2] }, false},
		{"ports reordered by the server", func(s *corev1.Service) {
			s.Spec.Ports[1], s.Spec.Ports[2] = s.Spec.Ports[2], s.Spec.Ports[1]
		}, true},
		{"type changed", func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeClusterIP }, false},
		{"our label removed", func(s *corev1.Service) { delete(s.Labels, "a") }, false},
		{"hash of an older desired state", func(s *corev1.Service) { s.Annotations[HashAnnotation] = "0000000000000000" }, false},
		{"hash missing", func(s *corev1.Service) { delete(s.Annotations, HashAnnotation) }, false},
		{"selector widened", func(s *corev1.Service) { s.Spec.Selector["c"] = "d" }, true},
		{"selector value changed", func(s *corev1.Service) { s.Spec.Selector["a"] = "z" }, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, err := Normalize(desiredService(), serviceGVK)
			if err != nil {
				t.Fatal(err)
			}
			l := live(t)
			tc.mutate(l)
			got, err := UpToDate(d, l)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("UpToDate = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestContainsScalarListsAreAtomic(t *testing.T) {
	d := map[string]any{"args": []any{"a", "b"}}
	for _, tc := range []struct {
		live any
		want bool
	}{
		{map[string]any{"args": []any{"a", "b"}}, true},
		{map[string]any{"args": []any{"b", "a"}}, false},
		{map[string]any{"args": []any{"a", "b", "c"}}, false},
		{map[string]any{"args": "a b"}, false},
	} {
		if got := contains(tc.live, d); got != tc.want {
			t.Errorf("contains(%v, %v) = %v, want %v", tc.live, d, got, tc.want)
		}
	}
}

func TestOverlayReplacesReKeyedListItems(t *testing.T) {
	live := map[string]any{
		"metadata": map[string]any{"labels": map[string]any{"theirs": "x", "a": "old"}},
		"spec": map[string]any{
			"clusterIP": "10.0.0.7",
			"ports": []any{
				map[string]any{"name": "oned", "port": int64(2633), "nodePort": int64(30001)},
				map[string]any{"name": "monitord-udp", "port": int64(4125), "nodePort": int64(30002)},
				map[string]any{"name": "extra", "port": int64(9)},
			},
		},
	}
	desired := map[string]any{
		"metadata": map[string]any{"labels": map[string]any{"a": "b"}},
		"spec": map[string]any{"ports": []any{
			map[string]any{"name": "oned", "port": int64(2633)},
			map[string]any{"name": "monitord-udp", "port": int64(4124)},
			map[string]any{"name": "ssh", "port": int64(22)},
		}},
	}
	got := Overlay(live, desired)
	if !contains(got, desired) {
		t.Fatalf("overlay does not hold desired: %v", got)
	}
	spec := got["spec"].(map[string]any)
	if spec["clusterIP"] != "10.0.0.7" {
		t.Error("server-set clusterIP lost")
	}
	ports := spec["ports"].([]any)
	if len(ports) != 3 {
		t.Fatalf("ports %v: the foreign item must be dropped", ports)
	}
	if ports[1].(map[string]any)["nodePort"] != int64(30002) {
		t.Error("allocated nodePort of a matched item lost")
	}
	if got["metadata"].(map[string]any)["labels"].(map[string]any)["theirs"] != "x" {
		t.Error("foreign label lost")
	}
}

// FieldsDiffer finds a change to the fields the API server refuses to update in place,
// and ignores the defaults and additions of the API server in them.
func TestFieldsDiffer(t *testing.T) {
	gvk := appsv1.SchemeGroupVersion.WithKind("StatefulSet")
	desired := func() *appsv1.StatefulSet {
		return &appsv1.StatefulSet{
			ObjectMeta: metav1.ObjectMeta{Name: "one"},
			Spec: appsv1.StatefulSetSpec{
				ServiceName: "one-headless",
				Selector:    &metav1.LabelSelector{MatchLabels: map[string]string{"a": "b"}},
				VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{
					ObjectMeta: metav1.ObjectMeta{Name: "data"},
					Spec: corev1.PersistentVolumeClaimSpec{Resources: corev1.VolumeResourceRequirements{
						Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("20Gi")}}},
				}},
			},
		}
	}
	paths := []string{"spec.selector", "spec.serviceName", "spec.podManagementPolicy", "spec.volumeClaimTemplates"}
	live := desired()
	// What the API server adds: defaults and status.
	live.Spec.PodManagementPolicy = appsv1.OrderedReadyPodManagement
	live.Spec.VolumeClaimTemplates[0].Spec.VolumeMode = new(corev1.PersistentVolumeFilesystem)
	live.Spec.VolumeClaimTemplates[0].Status.Phase = corev1.ClaimPending

	cases := []struct {
		name string
		edit func(*appsv1.StatefulSet)
		want []string
	}{
		{"unchanged", func(*appsv1.StatefulSet) {}, nil},
		{"volume grows", func(s *appsv1.StatefulSet) {
			s.Spec.VolumeClaimTemplates[0].Spec.Resources.Requests[corev1.ResourceStorage] = resource.MustParse("30Gi")
		}, []string{"spec.volumeClaimTemplates"}},
		{"template added", func(s *appsv1.StatefulSet) {
			s.Spec.VolumeClaimTemplates = append(s.Spec.VolumeClaimTemplates, corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "more"}})
		}, []string{"spec.volumeClaimTemplates"}},
		{"templates removed", func(s *appsv1.StatefulSet) { s.Spec.VolumeClaimTemplates = nil }, []string{"spec.volumeClaimTemplates"}},
		{"service renamed", func(s *appsv1.StatefulSet) { s.Spec.ServiceName = "other" }, []string{"spec.serviceName"}},
		{"selector changed", func(s *appsv1.StatefulSet) { s.Spec.Selector.MatchLabels["c"] = "d" }, []string{"spec.selector"}},
		{"policy set", func(s *appsv1.StatefulSet) { s.Spec.PodManagementPolicy = appsv1.ParallelPodManagement },
			[]string{"spec.podManagementPolicy"}},
	}
	for _, tc := range cases {
		d := desired()
		tc.edit(d)
		norm, err := Normalize(d, gvk)
		if err != nil {
			t.Fatal(err)
		}
		got, err := FieldsDiffer(norm, live, paths...)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(tc.want) || (len(got) > 0 && got[0] != tc.want[0]) {
			t.Errorf("%s: FieldsDiffer = %v, want %v", tc.name, got, tc.want)
		}
	}
}
