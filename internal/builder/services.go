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
		TypeMeta: serviceType,
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
			Ports:                    servicePorts(false, func(p FrontendPort) bool { return p.Headless }),
		},
	}
}

// ExternalService exposes every port of the table: the UI and APIs to users, monitord
// and SSH to hypervisors, with what load balancers need; in a Raft zone, on the leader.
func ExternalService(fe *opennebulav1alpha1.OpenNebulaFrontend, in Inputs) *corev1.Service {
	spec := fe.Spec.Service
	ports := servicePorts(ProxyEnabled(fe), func(FrontendPort) bool { return true })
	for i := range ports {
		ports[i].NodePort = spec.NodePorts[ports[i].Name]
	}
	return &corev1.Service{
		TypeMeta: serviceType,
		ObjectMeta: metav1.ObjectMeta{
			Name:        NamesFor(fe.Name).ExternalService,
			Namespace:   fe.Namespace,
			Labels:      mergeMaps(spec.Labels, Labels(fe)),
			Annotations: spec.Annotations,
		},
		Spec: corev1.ServiceSpec{
			Type:                     cmp.Or(spec.Type, opennebulav1alpha1.DefaultServiceType),
			Selector:                 externalSelector(fe, in),
			Ports:                    ports,
			LoadBalancerClass:        spec.LoadBalancerClass,
			LoadBalancerSourceRanges: spec.LoadBalancerSourceRanges,
			ExternalTrafficPolicy:    spec.ExternalTrafficPolicy,
		},
	}
}
