package builder

import (
	"cmp"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	opennebulav1alpha1 "github.com/opennebula-operator/opennebula-operator/api/v1alpha1"
)

// HeadlessService gives each frontend pod a stable DNS name
// (<pod>.<headless>.<namespace>.svc) and publishes the per-pod ports: oned for peers,
// monitord TCP+UDP and SSH for hypervisors. Addresses are published before the pods are
// ready, because oned's first boot (and, later, Raft peers) must resolve them.
func HeadlessService(fe *opennebulav1alpha1.OpenNebulaFrontend) *corev1.Service {
	return &corev1.Service{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{
			Name:      NamesFor(fe.Name).HeadlessService,
			Namespace: fe.Namespace,
			Labels:    Labels(fe),
		},
		Spec: corev1.ServiceSpec{
			Type:                     corev1.ServiceTypeClusterIP,
			ClusterIP:                corev1.ClusterIPNone,
			PublishNotReadyAddresses: true,
			Selector:                 SelectorLabels(fe),
			Ports:                    servicePorts(func(p FrontendPort) bool { return p.Headless }),
		},
	}
}

// ExternalService exposes every port of the table: the UI and APIs to users, monitord
// and SSH to hypervisors.
func ExternalService(fe *opennebulav1alpha1.OpenNebulaFrontend) *corev1.Service {
	return &corev1.Service{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{
			Name:      NamesFor(fe.Name).ExternalService,
			Namespace: fe.Namespace,
			Labels:    Labels(fe),
		},
		Spec: corev1.ServiceSpec{
			Type:     cmp.Or(fe.Spec.Service.Type, opennebulav1alpha1.DefaultServiceType),
			Selector: SelectorLabels(fe),
			Ports:    servicePorts(func(FrontendPort) bool { return true }),
		},
	}
}
