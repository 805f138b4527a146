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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// OpenNebulaClusterSpec is a cluster of an OpenNebula frontend (onecluster create): a group
// of hosts sharing datastores and virtual networks.
type OpenNebulaClusterSpec struct {
	// frontendRef names the OpenNebulaFrontend (in this namespace) the cluster is made in.
	// Immutable.
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="frontendRef is immutable: delete the cluster and create it in the other frontend"
	FrontendRef FrontendReference `json:"frontendRef"`

	// name is the cluster's NAME in OpenNebula; default: this object's name. Immutable.
	// oned refuses the characters & | : \ " ; / ' # { } $ < > and whitespace other than a
	// space (PoolObjectSQL::name_is_valid).
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:Pattern=`^[^&|:\\";/'#{}$<>\t\n\v\f\r]+$`
	// +optional
	Name string `json:"name,omitempty"`

	// template holds attributes of the cluster's template (RESERVED_CPU, RESERVED_MEM,
	// ...), merged into it; an attribute removed from here is removed from the cluster.
	// +kubebuilder:validation:MaxProperties=64
	// +kubebuilder:validation:XValidation:rule="self.all(k, k.matches('^[A-Z][A-Z0-9_]{0,63}$'))",message="template attribute names must be upper case letters, digits and '_' (OpenNebula's), at most 64 characters"
	// +kubebuilder:validation:XValidation:rule="self.all(k, !(k in ['KUBERNETES_OBJECT', 'KUBERNETES_ATTRIBUTES']))",message="template must not set KUBERNETES_OBJECT or KUBERNETES_ATTRIBUTES (the operator's record)"
	// +optional
	Template map[string]string `json:"template,omitempty"`

	// datastores are the IDs of the datastores the cluster holds, exactly; unset: left as
	// they are in OpenNebula.
	// +kubebuilder:validation:MaxItems=256
	// +kubebuilder:validation:items:Minimum=0
	// +listType=set
	// +optional
	Datastores []int32 `json:"datastores,omitempty"`

	// vnets are the IDs of the virtual networks the cluster holds, exactly; unset: left as
	// they are in OpenNebula.
	// +kubebuilder:validation:MaxItems=256
	// +kubebuilder:validation:items:Minimum=0
	// +listType=set
	// +optional
	VNets []int32 `json:"vnets,omitempty"`

	// deletionPolicy: Delete (default) removes the cluster from OpenNebula when this object
	// is deleted (refused by oned while it holds hosts, datastores or networks: the object
	// then waits, and says so); Retain leaves it there.
	// +kubebuilder:default=Delete
	// +optional
	DeletionPolicy DeletionPolicy `json:"deletionPolicy,omitempty"`
}

// OpenNebulaClusterStatus is the cluster as oned last described it.
type OpenNebulaClusterStatus struct {
	// observedGeneration is the metadata.generation this status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions: Ready (the cluster is in OpenNebula as asked) and Degraded (the operator
	// cannot make it so: the reason says why).
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// id is the cluster's ID in OpenNebula.
	// +optional
	ID *int32 `json:"id,omitempty"`

	// hosts is the number of hosts in the cluster.
	// +optional
	Hosts int32 `json:"hosts,omitempty"`

	// datastores are the IDs of the cluster's datastores.
	// +optional
	Datastores []int32 `json:"datastores,omitempty"`

	// vnets are the IDs of the cluster's virtual networks.
	// +optional
	VNets []int32 `json:"vnets,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=onecluster,categories=opennebula
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="ID",type=integer,JSONPath=`.status.id`
// +kubebuilder:printcolumn:name="Hosts",type=integer,JSONPath=`.status.hosts`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="(has(self.spec.name) ? self.spec.name : self.metadata.name) == (has(oldSelf.spec.name) ? oldSelf.spec.name : oldSelf.metadata.name)",message="spec.name is immutable (unset means the object's name): it is the cluster's NAME in OpenNebula; create another OpenNebulaCluster"

// OpenNebulaCluster is a cluster of an OpenNebula cloud, made in its frontend's oned and
// kept as its spec says.
type OpenNebulaCluster struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is a standard object metadata
	// +optional
	metav1.ObjectMeta `json:"metadata,omitzero"`

	// spec is the cluster as it must be in OpenNebula.
	Spec OpenNebulaClusterSpec `json:"spec"`

	// status is the cluster as oned last described it.
	// +optional
	Status OpenNebulaClusterStatus `json:"status,omitzero"`
}

// +kubebuilder:object:root=true

// OpenNebulaClusterList contains a list of OpenNebulaCluster
type OpenNebulaClusterList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []OpenNebulaCluster `json:"items"`
}

func init() {
	SchemeBuilder.Register(func(s *runtime.Scheme) error {
		s.AddKnownTypes(SchemeGroupVersion, &OpenNebulaCluster{}, &OpenNebulaClusterList{})
		return nil
	})
}
