/*
Copyright 2026.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// Defaults that the CRD schema applies at admission. The builders fall back to the same
// constants so that `render` (which has no API server) produces what the cluster would;
// a unit test checks that the generated CRD carries exactly these values.
const (
	// DefaultImage is the OpenNebula frontend image when neither spec.image nor the
	// operator's RELATED_IMAGE_OPENNEBULA environment variable says otherwise.
	DefaultImage = "docker.io/pablodelarco/opennebula:7.2.0"
	// DefaultServiceType is the external Service's type.
	DefaultServiceType = corev1.ServiceTypeClusterIP
	// DefaultPersistenceSize is the size of the /var/lib/one volume.
	DefaultPersistenceSize = "20Gi"
)

// OpenNebulaFrontendSpec is the desired state of one OpenNebula frontend: oned, monitord,
// FireEdge, OneFlow, OneGate and SSH in one pod, with /var/lib/one on a persistent volume.
type OpenNebulaFrontendSpec struct {
	// image is the frontend container image. When empty the operator uses its
	// RELATED_IMAGE_OPENNEBULA environment variable (the OLM convention for disconnected
	// installs), or docker.io/pablodelarco/opennebula:7.2.0. Left empty on purpose in the
	// schema so that an operator upgrade can move unpinned frontends to a new default.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:XValidation:rule="!self.contains(' ')",message="image must not contain spaces"
	Image string `json:"image,omitempty"`

	// service configures the external Service that exposes every frontend port (oned,
	// FireEdge, OneFlow, OneGate, monitord TCP+UDP, SSH) to users and hypervisors.
	// +optional
	// +kubebuilder:default={}
	Service ExternalServiceSpec `json:"service,omitempty"`

	// persistence configures the volume mounted at /var/lib/one (credentials, datastores,
	// SSH keys, the SQLite database). It is created from the StatefulSet's
	// volumeClaimTemplate and is never deleted by the operator.
	// +optional
	// +kubebuilder:default={}
	Persistence PersistenceSpec `json:"persistence,omitempty"`
}

// ExternalServiceSpec configures the Service that users and hypervisors connect to.
type ExternalServiceSpec struct {
	// type is the Kubernetes Service type: ClusterIP (in-cluster only), NodePort or
	// LoadBalancer. Hypervisors outside the cluster need NodePort or LoadBalancer; note that
	// a NodePort remaps 4124, which monitoring requires to be unchanged.
	// +optional
	// +kubebuilder:default=ClusterIP
	// +kubebuilder:validation:Enum=ClusterIP;NodePort;LoadBalancer
	Type corev1.ServiceType `json:"type,omitempty"`
}

// PersistenceSpec configures the persistent volume for /var/lib/one.
type PersistenceSpec struct {
	// size of the /var/lib/one volume.
	// +optional
	// +kubebuilder:default="20Gi"
	// +kubebuilder:validation:XValidation:rule="quantity(self).isGreaterThan(quantity('0'))",message="size must be greater than zero"
	Size *resource.Quantity `json:"size,omitempty"`
}

// Condition types reported in status.conditions. They are an API: users and Argo CD
// health checks script against them, so they never change meaning.
const (
	// ConditionReady is True when every frontend pod is ready and runs the current spec.
	ConditionReady = "Ready"
	// ConditionProgressing is True while the children are being created or rolled out.
	ConditionProgressing = "Progressing"
)

// Condition reasons. Stable, CamelCase, part of the API like the types.
const (
	ReasonAllReplicasReady   = "AllReplicasReady"
	ReasonReplicasNotReady   = "ReplicasNotReady"
	ReasonRolloutInProgress  = "RolloutInProgress"
	ReasonRolloutComplete    = "RolloutComplete"
	ReasonReconcileFailed    = "ReconcileFailed"
	ReasonStatefulSetMissing = "StatefulSetMissing"
)

// OpenNebulaFrontendStatus is the observed state of the frontend.
type OpenNebulaFrontendStatus struct {
	// observedGeneration is the metadata.generation this status describes. A status whose
	// observedGeneration is lower than metadata.generation is stale.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions: Ready and Progressing, each with the generation it observed.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// replicas is the number of frontend pods that exist.
	// +optional
	Replicas int32 `json:"replicas,omitempty"`

	// readyReplicas is the number of frontend pods that are ready.
	// +optional
	ReadyReplicas int32 `json:"readyReplicas,omitempty"`

	// image is the image the StatefulSet's pod template runs.
	// +optional
	Image string `json:"image,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=onefe,categories=opennebula
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Replicas",type=integer,JSONPath=`.status.readyReplicas`
// +kubebuilder:printcolumn:name="Service",type=string,JSONPath=`.spec.service.type`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$') && self.metadata.name.size() <= 63",message="metadata.name must be a DNS-1035 label (lowercase letters, digits and '-', starting with a letter, at most 63 characters): it names the frontend's Services"

// OpenNebulaFrontend runs an OpenNebula frontend (the control plane of an OpenNebula
// cloud) as a StatefulSet with a headless Service and an external Service.
type OpenNebulaFrontend struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is a standard object metadata
	// +optional
	metav1.ObjectMeta `json:"metadata,omitzero"`

	// spec defines the desired state of OpenNebulaFrontend; every field is optional.
	// +optional
	// +kubebuilder:default={}
	Spec OpenNebulaFrontendSpec `json:"spec"`

	// status defines the observed state of OpenNebulaFrontend
	// +optional
	Status OpenNebulaFrontendStatus `json:"status,omitzero"`
}

// +kubebuilder:object:root=true

// OpenNebulaFrontendList contains a list of OpenNebulaFrontend
type OpenNebulaFrontendList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []OpenNebulaFrontend `json:"items"`
}

func init() {
	SchemeBuilder.Register(func(s *runtime.Scheme) error {
		s.AddKnownTypes(SchemeGroupVersion, &OpenNebulaFrontend{}, &OpenNebulaFrontendList{})
		return nil
	})
}
