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
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// FrontendReference names an OpenNebulaFrontend of the object's own namespace: the
// OpenNebula cloud the object lives in. A reference has no namespace field, so it
// cannot reach another namespace.
type FrontendReference struct {
	// name is the OpenNebulaFrontend's name.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Name string `json:"name"`
}

// ClusterReference names an OpenNebulaCluster of the object's own namespace.
type ClusterReference struct {
	// name is the OpenNebulaCluster's name.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// DeletionPolicy says what happens in OpenNebula when the Kubernetes object is deleted.
// +kubebuilder:validation:Enum=Delete;Retain
type DeletionPolicy string

const (
	// DeletionPolicyDelete removes the object from OpenNebula (one.host.delete,
	// one.cluster.delete) before the Kubernetes object goes.
	DeletionPolicyDelete DeletionPolicy = "Delete"
	// DeletionPolicyRetain leaves it in OpenNebula.
	DeletionPolicyRetain DeletionPolicy = "Retain"
)

// HostDesiredState is what one.host.status sets.
// +kubebuilder:validation:Enum=Enabled;Disabled;Offline
type HostDesiredState string

const (
	// HostEnabled: oned monitors the host and the scheduler places VMs on it.
	HostEnabled HostDesiredState = "Enabled"
	// HostDisabled: monitored, but no new VM is placed on it.
	HostDisabled HostDesiredState = "Disabled"
	// HostOffline: neither monitored nor used (maintenance).
	HostOffline HostDesiredState = "Offline"
)

// Annotations of OpenNebulaHost and OpenNebulaCluster objects.
const (
	// AnnotationAdopt, set to "true", lets the operator take over a host or cluster of the
	// same name that exists in OpenNebula and that it did not create (made by hand with
	// onehost create, or by another tool). Without it such an object is reported
	// (Degraded NameTaken) and left alone.
	AnnotationAdopt = "opennebula.io/adopt"
)

// Finalizer the operator puts on an OpenNebulaHost or OpenNebulaCluster whose
// deletionPolicy is Delete: the object goes only once OpenNebula's has.
const FinalizerOpenNebulaObject = "opennebula.io/delete-in-opennebula"

// Condition reasons of OpenNebulaHost and OpenNebulaCluster (with ReasonAsExpected,
// ReasonOnedUnreachable, ReasonOnedAuthenticationFailed and ReasonOnedRefused).
const (
	// ReasonMonitored: oned monitors the enabled host successfully (STATE MONITORED).
	ReasonMonitored = "Monitored"
	// ReasonNotMonitored: the host is in OpenNebula but not monitored (yet): INIT, being
	// monitored, DISABLED or OFFLINE; the message says which.
	ReasonNotMonitored = "NotMonitored"
	// ReasonHostError: oned's monitoring of the host fails (STATE ERROR); the message is
	// oned's.
	ReasonHostError = "HostError"
	// ReasonFrontendNotFound: frontendRef names no OpenNebulaFrontend.
	ReasonFrontendNotFound = "FrontendNotFound"
	// ReasonFrontendNotReady: the frontend exists but its oned cannot be called yet.
	ReasonFrontendNotReady = "FrontendNotReady"
	// ReasonClusterNotFound: clusterRef names no OpenNebulaCluster, or one that is not in
	// OpenNebula yet.
	ReasonClusterNotFound = "ClusterNotFound"
	// ReasonNameTaken: OpenNebula has an object of that name that the operator did not
	// create; annotate opennebula.io/adopt: "true" to take it over.
	ReasonNameTaken = "NameTaken"
	// ReasonDeleteRefused: oned refuses to delete the object (a host running VMs, a
	// cluster that is not empty); the finalizer stays until it can, or until
	// deletionPolicy is Retain.
	ReasonDeleteRefused = "DeleteRefused"
	// ReasonInSync: the object is in OpenNebula as its spec says.
	ReasonInSync = "InSync"
	// ReasonSyncing: a change was just sent to oned; the next read confirms it.
	ReasonSyncing = "Syncing"
)

// OpenNebulaHostSpec is a hypervisor registered in an OpenNebula frontend (onehost create).
type OpenNebulaHostSpec struct {
	// frontendRef names the OpenNebulaFrontend (in this namespace) whose oned registers
	// the host. Immutable: a host cannot move to another cloud.
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="frontendRef is immutable: delete the host and create it in the other frontend"
	FrontendRef FrontendReference `json:"frontendRef"`

	// hostname is what oned connects to (SSH and the monitoring probes): a DNS name or an
	// IP address, the host's NAME in OpenNebula. Immutable.
	// +kubebuilder:validation:MinLength=2
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9]([-A-Za-z0-9.:]*[A-Za-z0-9])?$`
	// +kubebuilder:validation:XValidation:rule="!self.contains(':') || isIP(self)",message="hostname must be a DNS name or an IP address, without a port (oned reaches hosts on SSH's port 22)"
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="hostname is immutable: it is the host's NAME in OpenNebula; create another OpenNebulaHost"
	Hostname string `json:"hostname"`

	// clusterRef names the OpenNebulaCluster (in this namespace) the host belongs to;
	// unset: OpenNebula's default cluster.
	// +optional
	ClusterRef *ClusterReference `json:"clusterRef,omitempty"`

	// imMad is the information (monitoring) driver: kvm, qemu or lxc, as OpenNebula 7.2
	// ships them; dummy is OpenNebula's testing driver (it must be enabled in oned.conf).
	// Immutable, as in OpenNebula.
	// +kubebuilder:default=kvm
	// +kubebuilder:validation:Enum=kvm;qemu;lxc;dummy
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="imMad is immutable: OpenNebula sets it when the host is created"
	// +optional
	IMMad string `json:"imMad,omitempty"`

	// vmMad is the virtualization driver: kvm, qemu, lxc or dummy. Immutable.
	// +kubebuilder:default=kvm
	// +kubebuilder:validation:Enum=kvm;qemu;lxc;dummy
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="vmMad is immutable: OpenNebula sets it when the host is created"
	// +optional
	VMMad string `json:"vmMad,omitempty"`

	// state is what one.host.status keeps the host in: Enabled, Disabled (no new VMs) or
	// Offline (not monitored, for maintenance).
	// +kubebuilder:default=Enabled
	// +optional
	State HostDesiredState `json:"state,omitempty"`

	// template holds attributes of the host's template (RESERVED_CPU, RESERVED_MEM, ...),
	// merged into what oned and its probes keep there; an attribute removed from here is
	// removed from the host. Names are upper case, as OpenNebula's.
	// +kubebuilder:validation:MaxProperties=64
	// +kubebuilder:validation:XValidation:rule="self.all(k, k.matches('^[A-Z][A-Z0-9_]{0,63}$'))",message="template attribute names must be upper case letters, digits and '_' (OpenNebula's), at most 64 characters"
	// +kubebuilder:validation:XValidation:rule="self.all(k, !(k in ['KUBERNETES_OBJECT', 'KUBERNETES_ATTRIBUTES', 'ERROR']))",message="template must not set KUBERNETES_OBJECT or KUBERNETES_ATTRIBUTES (the operator's record) or ERROR (oned's monitoring message)"
	// +optional
	Template map[string]string `json:"template,omitempty"`

	// deletionPolicy: Delete (default) removes the host from OpenNebula when this object is
	// deleted (refused by oned while VMs run on it: the object then waits, and says so);
	// Retain leaves it there.
	// +kubebuilder:default=Delete
	// +optional
	DeletionPolicy DeletionPolicy `json:"deletionPolicy,omitempty"`
}

// ResourceUsage is a capacity and how much of it is allocated.
type ResourceUsage struct {
	// total is what the host offers (HOST_SHARE TOTAL_CPU / TOTAL_MEM).
	// +optional
	Total *resource.Quantity `json:"total,omitempty"`
	// used is what VMs are allocated (HOST_SHARE CPU_USAGE / MEM_USAGE).
	// +optional
	Used *resource.Quantity `json:"used,omitempty"`
}

// OpenNebulaHostStatus is the host as oned last described it.
type OpenNebulaHostStatus struct {
	// observedGeneration is the metadata.generation this status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions: Ready (the host is as spec.state asks: monitored when Enabled, DISABLED or
	// OFFLINE otherwise) and Degraded (monitoring fails, or the operator cannot make the
	// host as asked: the reason says why).
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// id is the host's ID in OpenNebula.
	// +optional
	ID *int32 `json:"id,omitempty"`

	// state is oned's STATE of the host: INIT, MONITORING_MONITORED, MONITORED, ERROR,
	// DISABLED, MONITORING_ERROR, MONITORING_INIT, MONITORING_DISABLED or OFFLINE.
	// +optional
	State string `json:"state,omitempty"`

	// error is oned's monitoring error while the host is in ERROR.
	// +optional
	Error string `json:"error,omitempty"`

	// cluster is the name of the OpenNebula cluster the host is in.
	// +optional
	Cluster string `json:"cluster,omitempty"`

	// cpu is in cores (OpenNebula counts hundredths: 100 is one core).
	// +optional
	CPU ResourceUsage `json:"cpu,omitzero"`

	// memory is in bytes (OpenNebula counts KiB).
	// +optional
	Memory ResourceUsage `json:"memory,omitzero"`

	// runningVMs is the number of VMs running on the host.
	// +optional
	RunningVMs int32 `json:"runningVMs"`

	// lastMonitored is when oned last monitored the host successfully. oned does so every
	// few minutes: to spare the API server a write per host per monitoring, it is
	// refreshed with the status's other changes, or once it is more than 10 minutes behind.
	// +optional
	LastMonitored *metav1.Time `json:"lastMonitored,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=onehost,categories=opennebula
// +kubebuilder:printcolumn:name="Hostname",type=string,JSONPath=`.spec.hostname`
// +kubebuilder:printcolumn:name="State",type=string,JSONPath=`.status.state`
// +kubebuilder:printcolumn:name="Cluster",type=string,JSONPath=`.status.cluster`
// +kubebuilder:printcolumn:name="VMs",type=integer,JSONPath=`.status.runningVMs`
// +kubebuilder:printcolumn:name="CPU",type=string,JSONPath=`.status.cpu.total`
// +kubebuilder:printcolumn:name="Memory",type=string,JSONPath=`.status.memory.total`
// +kubebuilder:printcolumn:name="CPU-Used",type=string,JSONPath=`.status.cpu.used`,priority=1
// +kubebuilder:printcolumn:name="Memory-Used",type=string,JSONPath=`.status.memory.used`,priority=1
// +kubebuilder:printcolumn:name="ID",type=integer,JSONPath=`.status.id`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// OpenNebulaHost is a hypervisor of an OpenNebula cloud, registered in its frontend's oned
// and kept as its spec says; its status is the host as oned sees it.
type OpenNebulaHost struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is a standard object metadata
	// +optional
	metav1.ObjectMeta `json:"metadata,omitzero"`

	// spec is the host as it must be in OpenNebula.
	Spec OpenNebulaHostSpec `json:"spec"`

	// status is the host as oned last described it.
	// +optional
	Status OpenNebulaHostStatus `json:"status,omitzero"`
}

// +kubebuilder:object:root=true

// OpenNebulaHostList contains a list of OpenNebulaHost
type OpenNebulaHostList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []OpenNebulaHost `json:"items"`
}

func init() {
	SchemeBuilder.Register(func(s *runtime.Scheme) error {
		s.AddKnownTypes(SchemeGroupVersion, &OpenNebulaHost{}, &OpenNebulaHostList{})
		return nil
	})
}
