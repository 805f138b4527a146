package builder

import (
	"fmt"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opennebulav1alpha1 "github.com/opennebula-operator/opennebula-operator/api/v1alpha1"
)

// FuzzBuild: any frontend the API server admits builds children the API server accepts:
// valid names within their limits, valid label values, unique port names per object.
// Run longer with: go test ./internal/builder -run '^$' -fuzz FuzzBuild -fuzztime 1m
func FuzzBuild(f *testing.F) {
	f.Add("one", "cloud", "ClusterIP", int64(20), "", true, "MariaDB", "")
	f.Add(strings.Repeat("a", 63), strings.Repeat("n", 63), "LoadBalancer", int64(1), "registry:5000/one:7.4.0", false, "External", "auto")
	f.Add("a-b-c", "default", "NodePort", int64(100000), "one@sha256:00", true, "SQLite", "198.51.100.1")
	f.Fuzz(func(t *testing.T, name, ns, svcType string, sizeGi int64, image string, proxy bool, backend, monitor string) {
		// Only what admission lets through (the CRD's rules): anything else never reaches a builder.
		if len(validation.IsDNS1035Label(name)) > 0 || len(validation.IsDNS1123Label(ns)) > 0 || sizeGi <= 0 || sizeGi > 1<<40 {
			return
		}
		fe := &opennebulav1alpha1.OpenNebulaFrontend{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
		fe.Spec.Service.Type = corev1.ServiceType(svcType)
		q := resource.MustParse(fmt.Sprintf("%dGi", sizeGi))
		fe.Spec.Persistence.Size = &q
		fe.Spec.Image = image
		fe.Spec.FireEdgeProxy.Enabled = &proxy
		fe.Spec.Database.Backend = opennebulav1alpha1.DatabaseBackend(backend)
		if fe.Spec.Database.Backend == opennebulav1alpha1.DatabaseExternal {
			fe.Spec.Database.External = &opennebulav1alpha1.ExternalDatabaseSpec{Host: "db",
				PasswordSecretRef: opennebulav1alpha1.SecretKeySelector{Name: "db", Key: "pw"}}
		}
		fe.Spec.MonitorAddress = monitor

		// The frontend alone, and as a Raft zone of 5 (with every server's objects).
		zone := fe.DeepCopy()
		zone.Spec.Replicas = new(int32(5))
		for _, objs := range [][]client.Object{
			Build(fe, Options{}, Inputs{LoadBalancerAddress: "192.0.2.1"}),
			Build(zone, Options{}, Inputs{LoadBalancerAddress: "192.0.2.1", Raft: RaftInputs{Formed: true, StatefulSetReplicas: 5}}),
		} {
			checkBuilt(t, fe, objs)
		}
	})
}

// checkBuilt: every object's name and labels are valid, no two objects or ports share a
// name.
func checkBuilt(t *testing.T, fe *opennebulav1alpha1.OpenNebulaFrontend, objs []client.Object) {
	for _, g := range GeneratedSecrets(fe) {
		objs = append(objs, g.Secret)
	}
	{
		seen := map[string]bool{}
		for _, o := range objs {
			kind := fmt.Sprintf("%T", o)
			key := kind + "/" + o.GetName()
			if seen[key] {
				t.Fatalf("two %s named %s", kind, o.GetName())
			}
			seen[key] = true
			if errs := validation.IsDNS1123Subdomain(o.GetName()); len(errs) > 0 {
				t.Fatalf("%s name %q: %v", kind, o.GetName(), errs)
			}
			for k, v := range o.GetLabels() {
				if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
					t.Fatalf("%s label %s=%q: %v", kind, k, v, errs)
				}
			}
			switch v := o.(type) {
			case *corev1.Service:
				if errs := validation.IsDNS1035Label(v.Name); len(errs) > 0 {
					t.Fatalf("Service name %q: %v", v.Name, errs)
				}
				names := map[string]bool{}
				for _, p := range v.Spec.Ports {
					if names[p.Name] {
						t.Fatalf("Service %s: port name %s twice", v.Name, p.Name)
					}
					names[p.Name] = true
				}
			case *appsv1.StatefulSet:
				if len(v.Name) > maxStatefulSetName {
					t.Fatalf("StatefulSet name %q longer than %d", v.Name, maxStatefulSetName)
				}
				names := map[string]bool{}
				for _, c := range v.Spec.Template.Spec.Containers {
					for _, p := range c.Ports {
						if names[p.Name] || len(validation.IsValidPortName(p.Name)) > 0 {
							t.Fatalf("StatefulSet %s: port name %q twice or invalid", v.Name, p.Name)
						}
						names[p.Name] = true
					}
				}
			}
		}
	}
}
