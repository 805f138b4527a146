package builder

import (
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	opennebulav1alpha1 "github.com/opennebula-operator/opennebula-operator/api/v1alpha1"
)

// Ingress publishes FireEdge (Sunstone at /fireedge/sunstone) over HTTP(S).
func Ingress(fe *opennebulav1alpha1.OpenNebulaFrontend) *networkingv1.Ingress {
	spec := fe.Spec.Ingress
	names := NamesFor(fe.Name)
	rule := networkingv1.IngressRule{
		Host: spec.Host,
		IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
			Paths: []networkingv1.HTTPIngressPath{{
				Path:     "/",
				PathType: new(networkingv1.PathTypePrefix),
				Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
					Name: names.ExternalService, Port: networkingv1.ServiceBackendPort{Name: PortFireEdge},
				}},
			}},
		}},
	}
	ing := &networkingv1.Ingress{
		TypeMeta: metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "Ingress"},
		ObjectMeta: metav1.ObjectMeta{
			Name: names.Ingress, Namespace: fe.Namespace, Labels: Labels(fe), Annotations: spec.Annotations,
		},
		Spec: networkingv1.IngressSpec{IngressClassName: spec.ClassName, Rules: []networkingv1.IngressRule{rule}},
	}
	if spec.TLSSecretName != "" {
		ing.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{spec.Host}, SecretName: spec.TLSSecretName}}
	}
	return ing
}
