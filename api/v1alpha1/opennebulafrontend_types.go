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
	appsv1 "k8s.io/api/apps/v1"
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
	// DefaultMariaDBImage is the managed database's image (the official image).
	DefaultMariaDBImage = "docker.io/library/mariadb:11.4"
	// DefaultMariaDBSize is the size of the managed database's volume.
	DefaultMariaDBSize = "8Gi"
	// DefaultDatabaseName, DefaultDatabaseUser and DefaultDatabasePort are the chart's.
	DefaultDatabaseName = "opennebula"
	DefaultDatabaseUser = "oneadmin"
	DefaultDatabasePort = 3306
	// DefaultSSHDImage is the SSH server sidecar's image, built from this repository's
	// images/sshd (make docker-build-sshd), unless spec.ssh.image or the operator's
	// RELATED_IMAGE_SSHD says otherwise.
	DefaultSSHDImage = "ghcr.io/opennebula-operator/opennebula-sshd:v0.1.0"
	// DefaultProxyImage is the FireEdge proxy sidecar's image (the chart's).
	DefaultProxyImage = "docker.io/library/nginx:1.27-alpine"
	// MonitorAddressAuto asks the operator to advertise the external Service's
	// LoadBalancer address to the hypervisors once it is assigned.
	MonitorAddressAuto = "auto"
)

// OpenNebulaFrontendSpec is the desired state of one OpenNebula frontend: oned, monitord,
// FireEdge, OneFlow, OneGate and SSH in one pod, with /var/lib/one on a persistent volume.
// +kubebuilder:validation:XValidation:rule="!has(self.monitorAddress) || self.monitorAddress != 'auto' || self.service.type == 'LoadBalancer'",message="monitorAddress: auto needs service.type LoadBalancer (it advertises the LoadBalancer's address); set an explicit address otherwise"
// +kubebuilder:validation:XValidation:rule="!has(self.replicas) || self.replicas == 1 || !has(self.database) || !has(self.database.backend) || self.database.backend != 'SQLite'",message="replicas 3 and 5 (Raft HA) need database.backend MariaDB or External: every server keeps its own copy of the database, copied from the leader's while it serves, which SQLite cannot give",fieldPath=".replicas"
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

	// replicas is the number of frontend servers: 1, or 3 or 5 for OpenNebula's Raft HA
	// (an odd number, for a quorum; each server on its own database, MariaDB or External).
	// +optional
	// +kubebuilder:default=1
	// +kubebuilder:validation:XValidation:rule="self in [1, 3, 5]",message="replicas must be 1, 3 or 5: OpenNebula's Raft HA needs an odd number of servers"
	Replicas *int32 `json:"replicas,omitempty"`

	// imagePullPolicy of every container of the frontend pod; Kubernetes' default when empty.
	// +optional
	// +kubebuilder:validation:Enum=Always;IfNotPresent;Never
	ImagePullPolicy corev1.PullPolicy `json:"imagePullPolicy,omitempty"`

	// imagePullSecrets for the frontend's and the managed database's images.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:XValidation:rule="self.all(s, has(s.name) && s.name != '')",message="imagePullSecrets entries must name a Secret"
	ImagePullSecrets []corev1.LocalObjectReference `json:"imagePullSecrets,omitempty"`

	// admin configures the oneadmin account.
	// +optional
	Admin AdminSpec `json:"admin,omitempty"`

	// database is where oned keeps its state: a MariaDB the operator runs (default), an
	// external MySQL/MariaDB, or SQLite (evaluation only). The backend cannot be changed
	// after creation: OpenNebula cannot move its data between backends.
	// +optional
	// +kubebuilder:default={backend: "MariaDB"}
	Database DatabaseSpec `json:"database,omitempty"`

	// hostname is oned's HOSTNAME, the name hypervisors use to reach the frontend for
	// driver operations. Default: the pod's stable DNS name
	// <name>-0.<name>-headless.<namespace>.svc.cluster.local, which only resolves inside the
	// cluster: set it when the hypervisors are outside.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9]([-A-Za-z0-9.:]*[A-Za-z0-9])?$`
	// +kubebuilder:validation:XValidation:rule="!self.contains(':') || isIP(self)",message="hostname must be a DNS name or an IP address, without a port (oned's ports are fixed)"
	Hostname string `json:"hostname,omitempty"`

	// monitorAddress is monitord's MONITOR_ADDRESS, where hypervisor probes send their
	// data: an IP address or DNS name, or "auto" for the external Service's LoadBalancer
	// address (needs service.type LoadBalancer; the pod is rolled once when the address is
	// assigned). Empty keeps the image's default, which inside Kubernetes usually
	// advertises a node address after SNAT: wrong for hypervisors outside the cluster.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^(auto|[A-Za-z0-9]([-A-Za-z0-9.:]*[A-Za-z0-9])?)$`
	// +kubebuilder:validation:XValidation:rule="!self.contains(':') || isIP(self)",message="monitorAddress must be a DNS name or an IP address, without a port (hypervisors send monitoring to 4124)"
	MonitorAddress string `json:"monitorAddress,omitempty"`

	// service configures the external Service that exposes every frontend port (oned,
	// FireEdge, OneFlow, OneGate, monitord TCP+UDP, SSH) to users and hypervisors.
	// +optional
	// +kubebuilder:default={type: "ClusterIP"}
	Service ExternalServiceSpec `json:"service,omitempty"`

	// persistence configures the volume mounted at /var/lib/one (datastores, remotes,
	// SSH keys, the SQLite database). It is created from the StatefulSet's
	// volumeClaimTemplate and is never deleted by the operator.
	// +optional
	// +kubebuilder:default={}
	Persistence PersistenceSpec `json:"persistence,omitempty"`

	// ssh configures oneadmin's SSH key pair and the SSH server hypervisors copy data
	// back to (port 22).
	// +optional
	SSH SSHSpec `json:"ssh,omitempty"`

	// fireEdgeProxy runs an nginx sidecar in front of FireEdge that rewrites FireEdge's
	// __HOST__ placeholder to the address users browse to; the external Service's
	// fireedge port then targets the proxy.
	// +optional
	// +kubebuilder:default={}
	FireEdgeProxy FireEdgeProxySpec `json:"fireEdgeProxy,omitempty"`

	// ingress publishes FireEdge (Sunstone at /fireedge/sunstone) through an Ingress.
	// +optional
	Ingress IngressSpec `json:"ingress,omitempty"`

	// pod customises the frontend pod.
	// +optional
	Pod PodSpec `json:"pod,omitempty"`

	// probes replace the frontend container's default probes (startup: oned listening,
	// up to 15 minutes for the first boot; liveness: oned listening; readiness: `oneuser
	// show 0` answers). A probe given here replaces the default one as a whole.
	// +optional
	Probes ProbesSpec `json:"probes,omitempty"`

	// secretRetentionPolicy says what happens to the Secrets the operator generated
	// (oneadmin and database passwords, SSH key pair) when the frontend is deleted:
	// Retain (default) keeps them, so a frontend re-created with the same name finds the
	// credentials its retained volume was initialised with; Delete removes them with it.
	// +optional
	// +kubebuilder:default=Retain
	// +kubebuilder:validation:Enum=Retain;Delete
	SecretRetentionPolicy SecretRetentionPolicy `json:"secretRetentionPolicy,omitempty"`

	// persistentVolumeClaimRetentionPolicy of the frontend's and the managed database's
	// StatefulSets: Retain (the default, for both whenDeleted and whenScaled) keeps the
	// volumes when the frontend is deleted; Delete removes them with it.
	// +optional
	// +kubebuilder:validation:XValidation:rule="(!has(self.whenDeleted) || self.whenDeleted in ['Retain', 'Delete']) && (!has(self.whenScaled) || self.whenScaled in ['Retain', 'Delete'])",message="persistentVolumeClaimRetentionPolicy whenDeleted and whenScaled must be Retain or Delete"
	PersistentVolumeClaimRetentionPolicy *appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy `json:"persistentVolumeClaimRetentionPolicy,omitempty"`
}

// SecretRetentionPolicy is Retain or Delete.
type SecretRetentionPolicy string

// The secret retention policies.
const (
	SecretRetentionRetain SecretRetentionPolicy = "Retain"
	SecretRetentionDelete SecretRetentionPolicy = "Delete"
)

// SecretKeySelector names a key of a Secret in the frontend's namespace.
type SecretKeySelector struct {
	// name of the Secret.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
	// key in the Secret's data.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	Key string `json:"key"`
}

// AdminSpec configures the oneadmin account.
type AdminSpec struct {
	// passwordSecretRef points at the initial oneadmin password (used on the first boot
	// only, as OpenNebula writes it to one_auth then). When empty the operator generates
	// one in the Secret <name>-oneadmin (key "password"), once, and never regenerates it.
	// +optional
	PasswordSecretRef *SecretKeySelector `json:"passwordSecretRef,omitempty"`
}

// DatabaseBackend is MariaDB, External or SQLite.
type DatabaseBackend string

// The database backends.
const (
	DatabaseMariaDB  DatabaseBackend = "MariaDB"
	DatabaseExternal DatabaseBackend = "External"
	DatabaseSQLite   DatabaseBackend = "SQLite"
)

// DatabaseSpec chooses and configures oned's database.
// +kubebuilder:validation:XValidation:rule="self.backend != 'External' || has(self.external)",message="database.external is required when database.backend is External"
// +kubebuilder:validation:XValidation:rule="self.backend == 'External' || !has(self.external)",message="database.external is only valid when database.backend is External"
// +kubebuilder:validation:XValidation:rule="self.backend == 'MariaDB' || !has(self.mariadb)",message="database.mariadb is only valid when database.backend is MariaDB"
// +kubebuilder:validation:XValidation:rule="(has(self.mariadb) && has(self.mariadb.storageClassName)) == (has(oldSelf.mariadb) && has(oldSelf.mariadb.storageClassName)) && (!has(self.mariadb) || !has(self.mariadb.storageClassName) || self.mariadb.storageClassName == oldSelf.mariadb.storageClassName)",message="database.mariadb.storageClassName is immutable: an existing volume cannot move to another StorageClass"
type DatabaseSpec struct {
	// backend: MariaDB (default: a MariaDB the operator runs next to the frontend, as the
	// Helm chart did), External (a MySQL/MariaDB you run), or SQLite (evaluation only).
	// Immutable.
	// +optional
	// +kubebuilder:default=MariaDB
	// +kubebuilder:validation:Enum=MariaDB;External;SQLite
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="database.backend is immutable: OpenNebula cannot move its data to another backend"
	Backend DatabaseBackend `json:"backend,omitempty"`

	// mariadb configures the managed MariaDB (backend MariaDB).
	// +optional
	MariaDB *ManagedMariaDBSpec `json:"mariadb,omitempty"`

	// external is the MySQL/MariaDB to connect to (backend External).
	// +optional
	External *ExternalDatabaseSpec `json:"external,omitempty"`
}

// ManagedMariaDBSpec configures the MariaDB the operator runs. Its credentials are
// generated into the Secret <name>-mariadb.
type ManagedMariaDBSpec struct {
	// image of MariaDB. Default docker.io/library/mariadb:11.4.
	// +optional
	// +kubebuilder:validation:MaxLength=512
	Image string `json:"image,omitempty"`
	// size of the database volume. Default 8Gi. It can grow but never shrink.
	// +optional
	// +kubebuilder:validation:XValidation:rule="quantity(self).isGreaterThan(quantity('0'))",message="size must be greater than zero"
	// +kubebuilder:validation:XValidation:rule="!quantity(self).isLessThan(quantity(oldSelf))",message="database.mariadb.size cannot shrink: Kubernetes cannot shrink a volume"
	Size *resource.Quantity `json:"size,omitempty"`
	// storageClassName of the database volume; the cluster's default when empty.
	// +optional
	StorageClassName *string `json:"storageClassName,omitempty"`
	// resources of the MariaDB container.
	// +optional
	// +kubebuilder:validation:XValidation:rule="!has(self.limits) || !has(self.requests) || ['cpu', 'memory', 'ephemeral-storage'].all(k, !(k in self.limits) || !(k in self.requests) || !quantity(string(self.limits[k])).isLessThan(quantity(string(self.requests[k]))))",message="database.mariadb.resources.limits must not be below database.mariadb.resources.requests (cpu, memory, ephemeral-storage)"
	Resources corev1.ResourceRequirements `json:"resources,omitempty"`
}

// ExternalDatabaseSpec is a MySQL/MariaDB the user runs. oned wants READ COMMITTED
// isolation and about 40 connections (25 for oned, 15 for monitord).
type ExternalDatabaseSpec struct {
	// host name or address of the database server (its port goes in port).
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="!self.contains(':') || isIP(self)",message="database.external.host must be a DNS name or an IP address, without a port (set database.external.port)"
	Host string `json:"host"`
	// port of the database server. Default 3306.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	Port int32 `json:"port,omitempty"`
	// name of the database. Default opennebula.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	Name string `json:"name,omitempty"`
	// user to connect as. Default oneadmin.
	// +optional
	// +kubebuilder:validation:MaxLength=80
	User string `json:"user,omitempty"`
	// passwordSecretRef points at the user's password.
	// +required
	PasswordSecretRef SecretKeySelector `json:"passwordSecretRef"`
}

// ExternalServiceSpec configures the Service that users and hypervisors connect to.
// +kubebuilder:validation:XValidation:rule="!has(self.nodePorts) || self.type != 'ClusterIP'",message="service.nodePorts needs service.type NodePort or LoadBalancer"
// +kubebuilder:validation:XValidation:rule="self.type == 'LoadBalancer' || (!has(self.loadBalancerClass) && !has(self.loadBalancerSourceRanges))",message="service.loadBalancerClass and service.loadBalancerSourceRanges need service.type LoadBalancer"
// +kubebuilder:validation:XValidation:rule="!has(self.externalTrafficPolicy) || self.type != 'ClusterIP'",message="service.externalTrafficPolicy needs service.type NodePort or LoadBalancer"
type ExternalServiceSpec struct {
	// type is the Kubernetes Service type: ClusterIP (in-cluster only), NodePort or
	// LoadBalancer. Hypervisors outside the cluster need NodePort or LoadBalancer; note that
	// a NodePort remaps 4124, which monitoring requires to be unchanged.
	// +optional
	// +kubebuilder:default=ClusterIP
	// +kubebuilder:validation:Enum=ClusterIP;NodePort;LoadBalancer
	Type corev1.ServiceType `json:"type,omitempty"`
	// annotations of the Service (load balancer settings of your cloud, for example).
	// +optional
	// +kubebuilder:validation:MaxProperties=64
	// +kubebuilder:validation:XValidation:rule="self.all(k, !format.qualifiedName().validate(k.lowerAscii()).hasValue())",message="service.annotations keys must be annotation keys: an optional DNS subdomain prefix and '/', then a name of up to 63 characters (letters, digits, '-', '_', '.'), starting and ending with a letter or digit"
	Annotations map[string]string `json:"annotations,omitempty"`
	// labels of the Service, added to the operator's own.
	// +optional
	// +kubebuilder:validation:MaxProperties=64
	// +kubebuilder:validation:XValidation:rule="self.all(k, !format.qualifiedName().validate(k).hasValue())",message="service.labels keys must be label keys: an optional DNS subdomain prefix and '/', then a name of up to 63 characters (letters, digits, '-', '_', '.'), starting and ending with a letter or digit"
	// +kubebuilder:validation:XValidation:rule="self.all(k, !format.labelValue().validate(self[k]).hasValue())",message="service.labels values must be label values: up to 63 characters (letters, digits, '-', '_', '.'), starting and ending with a letter or digit, or empty"
	Labels map[string]string `json:"labels,omitempty"`
	// loadBalancerClass selects a load balancer implementation. Immutable once set, as
	// Kubernetes makes it.
	// +optional
	LoadBalancerClass *string `json:"loadBalancerClass,omitempty"`
	// loadBalancerSourceRanges restricts the client addresses (CIDRs) the load balancer
	// accepts.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self.all(r, isCIDR(r))",message="service.loadBalancerSourceRanges must be CIDRs, such as 203.0.113.0/24 or 2001:db8::/32"
	// +kubebuilder:validation:XValidation:rule="self.all(r, !isCIDR(r) || cidr(r) == cidr(r).masked())",message="service.loadBalancerSourceRanges must have no bits set beyond the prefix length: 10.0.0.0/8, not 10.0.0.1/8 (Kubernetes 1.36 and later refuse the Service)"
	LoadBalancerSourceRanges []string `json:"loadBalancerSourceRanges,omitempty"`
	// externalTrafficPolicy: Cluster or Local (keeps client addresses; monitord and SSH
	// see the hypervisors' real addresses).
	// +optional
	// +kubebuilder:validation:Enum=Cluster;Local
	ExternalTrafficPolicy corev1.ServiceExternalTrafficPolicy `json:"externalTrafficPolicy,omitempty"`
	// nodePorts pins node ports by port name (oned, fireedge, oneflow, onegate,
	// monitord-tcp, monitord-udp, ssh); unlisted ports get one allocated. Hypervisors learn
	// monitord's port from the frontend's configuration, which says 4124: a node port
	// other than 4124 for monitord breaks monitoring.
	// +optional
	// +kubebuilder:validation:MaxProperties=7
	// +kubebuilder:validation:XValidation:rule="self.all(k, k in ['oned', 'fireedge', 'oneflow', 'onegate', 'monitord-tcp', 'monitord-udp', 'ssh'])",message="service.nodePorts keys must be port names: oned, fireedge, oneflow, onegate, monitord-tcp, monitord-udp, ssh"
	// +kubebuilder:validation:XValidation:rule="self.all(k, self[k] >= 1 && self[k] <= 65535)",message="service.nodePorts values must be ports (1-65535)"
	// +kubebuilder:validation:XValidation:rule="self.all(k, self.all(j, j == k || self[j] != self[k] || j == 'monitord-udp' || k == 'monitord-udp'))",message="service.nodePorts values must be distinct: a node port serves one port of a protocol (only monitord-udp, the one UDP port, may share monitord-tcp's)"
	NodePorts map[string]int32 `json:"nodePorts,omitempty"`
}

// PersistenceSpec configures the persistent volume for /var/lib/one.
// +kubebuilder:validation:XValidation:rule="has(self.storageClassName) == has(oldSelf.storageClassName) && (!has(self.storageClassName) || self.storageClassName == oldSelf.storageClassName)",message="persistence.storageClassName is immutable: an existing volume cannot move to another StorageClass"
// +kubebuilder:validation:XValidation:rule="(has(self.accessMode) ? self.accessMode : 'ReadWriteOnce') == (has(oldSelf.accessMode) ? oldSelf.accessMode : 'ReadWriteOnce')",message="persistence.accessMode is immutable: an existing volume keeps its access mode"
type PersistenceSpec struct {
	// size of the /var/lib/one volume. It can grow (where the StorageClass allows
	// expansion) but never shrink: Kubernetes cannot shrink a volume.
	// +optional
	// +kubebuilder:default="20Gi"
	// +kubebuilder:validation:XValidation:rule="quantity(self).isGreaterThan(quantity('0'))",message="size must be greater than zero"
	// +kubebuilder:validation:XValidation:rule="!quantity(self).isLessThan(quantity(oldSelf))",message="persistence.size cannot shrink: Kubernetes cannot shrink a volume"
	Size *resource.Quantity `json:"size,omitempty"`
	// storageClassName of the volume; the cluster's default StorageClass when empty.
	// +optional
	StorageClassName *string `json:"storageClassName,omitempty"`
	// accessMode of the volume. Default ReadWriteOnce.
	// +optional
	// +kubebuilder:validation:Enum=ReadWriteOnce;ReadWriteOncePod;ReadWriteMany
	AccessMode corev1.PersistentVolumeAccessMode `json:"accessMode,omitempty"`
}

// SSHSpec configures oneadmin's key pair and the SSH server.
type SSHSpec struct {
	// keySecretRef names a Secret holding oneadmin's key pair under the keys
	// ssh-privatekey and ssh-publickey. When empty the operator generates a pair into the
	// Secret <name>-ssh, once, and never regenerates it. The public key is what the
	// hypervisors' oneadmin must authorise.
	// +optional
	// +kubebuilder:validation:XValidation:rule="has(self.name) && self.name != ''",message="ssh.keySecretRef.name must name a Secret"
	KeySecretRef *corev1.LocalObjectReference `json:"keySecretRef,omitempty"`
	// image of the SSH server sidecar, which must contain /usr/sbin/sshd and a oneadmin
	// user (UID 9869, home /var/lib/one). Default: the operator's RELATED_IMAGE_SSHD, or
	// ghcr.io/opennebula-operator/opennebula-sshd (images/sshd of this repository: Debian's
	// openssh-server). The sidecar runs as oneadmin, not root, with the restricted Pod
	// Security profile's settings; the pod's safe sysctl net.ipv4.ip_unprivileged_port_start
	// lets it listen on 22. Its host keys are kept on the /var/lib/one volume, so
	// hypervisors' known_hosts stay valid across restarts.
	// +optional
	// +kubebuilder:validation:MaxLength=512
	Image string `json:"image,omitempty"`
}

// FireEdgeProxySpec configures the nginx sidecar in front of FireEdge.
type FireEdgeProxySpec struct {
	// enabled runs the proxy (the Helm chart's default).
	// +optional
	// +kubebuilder:default=true
	Enabled *bool `json:"enabled,omitempty"`
	// publicURL replaces __HOST__ in FireEdge's responses; empty uses the scheme and host
	// of each request, which is right unless a proxy in front rewrites them.
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="isURL(self)",message="fireEdgeProxy.publicURL must be a URL"
	// +kubebuilder:validation:XValidation:rule="!isURL(self) || url(self).getScheme() in ['http', 'https']",message="fireEdgeProxy.publicURL must be an http or https URL"
	PublicURL string `json:"publicURL,omitempty"`
	// image of nginx. Default docker.io/library/nginx:1.27-alpine.
	// +optional
	// +kubebuilder:validation:MaxLength=512
	Image string `json:"image,omitempty"`
	// resources of the proxy container.
	// +optional
	// +kubebuilder:validation:XValidation:rule="!has(self.limits) || !has(self.requests) || ['cpu', 'memory', 'ephemeral-storage'].all(k, !(k in self.limits) || !(k in self.requests) || !quantity(string(self.limits[k])).isLessThan(quantity(string(self.requests[k]))))",message="fireEdgeProxy.resources.limits must not be below fireEdgeProxy.resources.requests (cpu, memory, ephemeral-storage)"
	Resources corev1.ResourceRequirements `json:"resources,omitempty"`
}

// IngressSpec publishes FireEdge through an Ingress.
// +kubebuilder:validation:XValidation:rule="!has(self.tlsSecretName) || has(self.host)",message="ingress.tlsSecretName needs ingress.host"
type IngressSpec struct {
	// host the Ingress answers for; every host when empty.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^(\*\.)?[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`
	Host string `json:"host,omitempty"`
	// className of the IngressClass; the cluster's default when unset.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="!format.dns1123Subdomain().validate(self).hasValue()",message="ingress.className must name an IngressClass (a DNS subdomain: lowercase letters, digits, '-' and '.')"
	ClassName *string `json:"className,omitempty"`
	// annotations of the Ingress (for the controller and cert-manager, for example).
	// +optional
	// +kubebuilder:validation:MaxProperties=64
	// +kubebuilder:validation:XValidation:rule="self.all(k, !format.qualifiedName().validate(k.lowerAscii()).hasValue())",message="ingress.annotations keys must be annotation keys: an optional DNS subdomain prefix and '/', then a name of up to 63 characters (letters, digits, '-', '_', '.'), starting and ending with a letter or digit"
	Annotations map[string]string `json:"annotations,omitempty"`
	// tlsSecretName names the Secret with the TLS certificate for host; plain HTTP when empty.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="!format.dns1123Subdomain().validate(self).hasValue()",message="ingress.tlsSecretName must name a Secret (a DNS subdomain: lowercase letters, digits, '-' and '.')"
	TLSSecretName string `json:"tlsSecretName,omitempty"`
	// enabled creates the Ingress.
	// +optional
	Enabled bool `json:"enabled,omitempty"`
}

// PodSpec customises the frontend pod. Lists are used as given (no defaults inside).
// +kubebuilder:validation:XValidation:rule="!has(self.volumeMounts) || self.volumeMounts.all(m, has(self.volumes) && self.volumes.exists(v, v.name == m.name))",message="pod.volumeMounts must each name a volume of pod.volumes"
type PodSpec struct {
	// labels added to the pod (the operator's own labels win on conflict).
	// +optional
	// +kubebuilder:validation:MaxProperties=64
	// +kubebuilder:validation:XValidation:rule="self.all(k, !format.qualifiedName().validate(k).hasValue())",message="pod.labels keys must be label keys: an optional DNS subdomain prefix and '/', then a name of up to 63 characters (letters, digits, '-', '_', '.'), starting and ending with a letter or digit"
	// +kubebuilder:validation:XValidation:rule="self.all(k, !format.labelValue().validate(self[k]).hasValue())",message="pod.labels values must be label values: up to 63 characters (letters, digits, '-', '_', '.'), starting and ending with a letter or digit, or empty"
	Labels map[string]string `json:"labels,omitempty"`
	// annotations added to the pod.
	// +optional
	// +kubebuilder:validation:MaxProperties=64
	// +kubebuilder:validation:XValidation:rule="self.all(k, !format.qualifiedName().validate(k.lowerAscii()).hasValue())",message="pod.annotations keys must be annotation keys: an optional DNS subdomain prefix and '/', then a name of up to 63 characters (letters, digits, '-', '_', '.'), starting and ending with a letter or digit"
	Annotations map[string]string `json:"annotations,omitempty"`
	// resources of the frontend container.
	// +optional
	// +kubebuilder:validation:XValidation:rule="!has(self.limits) || !has(self.requests) || ['cpu', 'memory', 'ephemeral-storage'].all(k, !(k in self.limits) || !(k in self.requests) || !quantity(string(self.limits[k])).isLessThan(quantity(string(self.requests[k]))))",message="pod.resources.limits must not be below pod.resources.requests (cpu, memory, ephemeral-storage)"
	Resources corev1.ResourceRequirements `json:"resources,omitempty"`
	// securityContext of the pod. Default: fsGroup 9869 (oneadmin), fsGroupChangePolicy
	// OnRootMismatch; a securityContext given here replaces it, with fsGroup 9869 added
	// when it has none.
	// +optional
	SecurityContext *corev1.PodSecurityContext `json:"securityContext,omitempty"`
	// containerSecurityContext of the frontend container.
	// +optional
	ContainerSecurityContext *corev1.SecurityContext `json:"containerSecurityContext,omitempty"`
	// nodeSelector of the pod.
	// +optional
	// +kubebuilder:validation:MaxProperties=64
	// +kubebuilder:validation:XValidation:rule="self.all(k, !format.qualifiedName().validate(k).hasValue())",message="pod.nodeSelector keys must be label keys: an optional DNS subdomain prefix and '/', then a name of up to 63 characters (letters, digits, '-', '_', '.'), starting and ending with a letter or digit"
	// +kubebuilder:validation:XValidation:rule="self.all(k, !format.labelValue().validate(self[k]).hasValue())",message="pod.nodeSelector values must be label values: up to 63 characters (letters, digits, '-', '_', '.'), starting and ending with a letter or digit, or empty"
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`
	// tolerations of the pod.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:XValidation:rule="self.all(t, !has(t.operator) || t.operator in ['Exists', 'Equal'])",message="pod.tolerations operator must be Exists or Equal"
	// +kubebuilder:validation:XValidation:rule="self.all(t, !has(t.effect) || t.effect in ['NoSchedule', 'PreferNoSchedule', 'NoExecute'])",message="pod.tolerations effect must be NoSchedule, PreferNoSchedule or NoExecute (empty: all)"
	// +kubebuilder:validation:XValidation:rule="self.all(t, (has(t.key) && t.key != '') ? !format.qualifiedName().validate(t.key).hasValue() : (has(t.operator) && t.operator == 'Exists'))",message="pod.tolerations key must be a label key; a toleration without a key needs operator Exists"
	// +kubebuilder:validation:XValidation:rule="self.all(t, !has(t.operator) || t.operator != 'Exists' || !has(t.value) || t.value == '')",message="pod.tolerations value must be empty with operator Exists"
	// +kubebuilder:validation:XValidation:rule="self.all(t, !has(t.tolerationSeconds) || (has(t.effect) && t.effect == 'NoExecute'))",message="pod.tolerations tolerationSeconds needs effect NoExecute"
	Tolerations []corev1.Toleration `json:"tolerations,omitempty"`
	// affinity of the pod.
	// +optional
	Affinity *corev1.Affinity `json:"affinity,omitempty"`
	// topologySpreadConstraints of the pod.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:XValidation:rule="self.all(c, c.maxSkew >= 1)",message="pod.topologySpreadConstraints maxSkew must be at least 1"
	// +kubebuilder:validation:XValidation:rule="self.all(c, c.whenUnsatisfiable in ['DoNotSchedule', 'ScheduleAnyway'])",message="pod.topologySpreadConstraints whenUnsatisfiable must be DoNotSchedule or ScheduleAnyway"
	// +kubebuilder:validation:XValidation:rule="self.all(c, !format.qualifiedName().validate(c.topologyKey).hasValue())",message="pod.topologySpreadConstraints topologyKey must be a label key, such as topology.kubernetes.io/zone"
	TopologySpreadConstraints []corev1.TopologySpreadConstraint `json:"topologySpreadConstraints,omitempty"`
	// priorityClassName of the pod. A PriorityClass that does not exist makes the frontend
	// Degraded (PriorityClassMissing) and holds its StatefulSet until it exists.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self == '' || !format.dns1123Subdomain().validate(self).hasValue()",message="pod.priorityClassName must name a PriorityClass (a DNS subdomain: lowercase letters, digits, '-' and '.')"
	PriorityClassName string `json:"priorityClassName,omitempty"`
	// serviceAccountName of the pod; its token is mounted only when this is set.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self == '' || !format.dns1123Subdomain().validate(self).hasValue()",message="pod.serviceAccountName must name a ServiceAccount (a DNS subdomain: lowercase letters, digits, '-' and '.')"
	ServiceAccountName string `json:"serviceAccountName,omitempty"`
	// env added to the frontend container (after the operator's, so it can override them).
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=128
	// +kubebuilder:validation:XValidation:rule="self.all(e, e.name.matches('^[-._a-zA-Z][-._a-zA-Z0-9]*$'))",message="pod.env names must be letters, digits, '_', '-' and '.', not starting with a digit"
	Env []corev1.EnvVar `json:"env,omitempty"`
	// envFrom of the frontend container.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:XValidation:rule="self.all(e, (!has(e.secretRef) || (has(e.secretRef.name) && e.secretRef.name != '')) && (!has(e.configMapRef) || (has(e.configMapRef.name) && e.configMapRef.name != '')))",message="pod.envFrom secretRef.name and configMapRef.name must not be empty"
	EnvFrom []corev1.EnvFromSource `json:"envFrom,omitempty"`
	// volumes added to the pod, by unique name. The names data, config and ssh-keys are the
	// operator's.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:XValidation:rule="self.all(v, !format.dns1123Label().validate(v.name).hasValue())",message="pod.volumes names must be DNS labels: lowercase letters, digits and '-', at most 63"
	// +kubebuilder:validation:XValidation:rule="self.all(v, !(v.name in ['data', 'config', 'ssh-keys']))",message="pod.volumes cannot be named data, config or ssh-keys: the operator's volumes have these names"
	// +kubebuilder:validation:XValidation:rule="self.all(v, (!has(v.configMap) || (has(v.configMap.name) && v.configMap.name != '')) && (!has(v.secret) || (has(v.secret.secretName) && v.secret.secretName != '')))",message="pod.volumes configMap.name and secret.secretName must not be empty"
	Volumes []corev1.Volume `json:"volumes,omitempty"`
	// volumeMounts added to the frontend container, by unique mountPath; each names one of
	// pod.volumes.
	// /var/lib/one is the operator's (the frontend's volume); mounts inside it are allowed.
	// +optional
	// +listType=map
	// +listMapKey=mountPath
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:XValidation:rule="self.all(m, !(m.mountPath in ['/var/lib/one', '/var/lib/one/']))",message="pod.volumeMounts cannot mount at /var/lib/one: the frontend's volume is mounted there"
	VolumeMounts []corev1.VolumeMount `json:"volumeMounts,omitempty"`
}

// ProbesSpec replaces the frontend container's probes.
type ProbesSpec struct {
	// startup probe.
	// +optional
	// +kubebuilder:validation:XValidation:rule="[has(self.exec), has(self.httpGet), has(self.tcpSocket), has(self.grpc)].filter(x, x).size() == 1",message="probes.startup needs exactly one of exec, httpGet, tcpSocket and grpc"
	// +kubebuilder:validation:XValidation:rule="(!has(self.periodSeconds) || self.periodSeconds >= 1) && (!has(self.timeoutSeconds) || self.timeoutSeconds >= 1) && (!has(self.failureThreshold) || self.failureThreshold >= 1) && (!has(self.initialDelaySeconds) || self.initialDelaySeconds >= 0) && (!has(self.terminationGracePeriodSeconds) || self.terminationGracePeriodSeconds >= 1)",message="probes.startup: periodSeconds, timeoutSeconds, failureThreshold and terminationGracePeriodSeconds must be at least 1, initialDelaySeconds at least 0"
	// +kubebuilder:validation:XValidation:rule="!has(self.successThreshold) || self.successThreshold == 1",message="probes.startup.successThreshold must be 1 (Kubernetes allows more only for readiness)"
	Startup *corev1.Probe `json:"startup,omitempty"`
	// liveness probe.
	// +optional
	// +kubebuilder:validation:XValidation:rule="[has(self.exec), has(self.httpGet), has(self.tcpSocket), has(self.grpc)].filter(x, x).size() == 1",message="probes.liveness needs exactly one of exec, httpGet, tcpSocket and grpc"
	// +kubebuilder:validation:XValidation:rule="(!has(self.periodSeconds) || self.periodSeconds >= 1) && (!has(self.timeoutSeconds) || self.timeoutSeconds >= 1) && (!has(self.failureThreshold) || self.failureThreshold >= 1) && (!has(self.initialDelaySeconds) || self.initialDelaySeconds >= 0) && (!has(self.terminationGracePeriodSeconds) || self.terminationGracePeriodSeconds >= 1)",message="probes.liveness: periodSeconds, timeoutSeconds, failureThreshold and terminationGracePeriodSeconds must be at least 1, initialDelaySeconds at least 0"
	// +kubebuilder:validation:XValidation:rule="!has(self.successThreshold) || self.successThreshold == 1",message="probes.liveness.successThreshold must be 1 (Kubernetes allows more only for readiness)"
	Liveness *corev1.Probe `json:"liveness,omitempty"`
	// readiness probe.
	// +optional
	// +kubebuilder:validation:XValidation:rule="[has(self.exec), has(self.httpGet), has(self.tcpSocket), has(self.grpc)].filter(x, x).size() == 1",message="probes.readiness needs exactly one of exec, httpGet, tcpSocket and grpc"
	// +kubebuilder:validation:XValidation:rule="(!has(self.periodSeconds) || self.periodSeconds >= 1) && (!has(self.timeoutSeconds) || self.timeoutSeconds >= 1) && (!has(self.failureThreshold) || self.failureThreshold >= 1) && (!has(self.initialDelaySeconds) || self.initialDelaySeconds >= 0) && (!has(self.terminationGracePeriodSeconds) || self.terminationGracePeriodSeconds >= 1)",message="probes.readiness: periodSeconds, timeoutSeconds, failureThreshold and terminationGracePeriodSeconds must be at least 1, initialDelaySeconds at least 0"
	// +kubebuilder:validation:XValidation:rule="!has(self.successThreshold) || self.successThreshold >= 1",message="probes.readiness.successThreshold must be at least 1"
	Readiness *corev1.Probe `json:"readiness,omitempty"`
}

// Annotations users put on a frontend to drive it.
const (
	// AnnotationPaused "true" stops every write to the frontend's children; the Paused
	// condition says so and whether changes are pending. Removing it resumes.
	AnnotationPaused = "opennebula.io/paused"
	// AnnotationRestartedAt, set to any new value (a timestamp, by convention), restarts
	// the frontend's pods: it is copied to the pod template.
	AnnotationRestartedAt = "opennebula.io/restartedAt"
	// AnnotationAllowDowngrade "true" lets an image with a lower OpenNebula version than
	// the running one roll out. OpenNebula cannot downgrade its database, so this is for
	// restoring a backup taken with that version.
	AnnotationAllowDowngrade = "opennebula.io/allow-downgrade"
)

// Condition types reported in status.conditions. They are an API: users and Argo CD
// health checks script against them, so they never change meaning.
const (
	// ConditionReady is True when every frontend pod is ready and runs the current spec.
	ConditionReady = "Ready"
	// ConditionProgressing is True while the children are being created or rolled out.
	ConditionProgressing = "Progressing"
	// ConditionDegraded is True when the operator cannot make the children match the spec
	// for a reason the user must fix (a missing Secret or key, a missing StorageClass, an
	// object in the way); the reason and message say which.
	ConditionDegraded = "Degraded"
	// ConditionSSHReachable says whether port 22 answers through the external Service
	// (hypervisors copy data back over it), when the operator can reach it.
	ConditionSSHReachable = "SSHReachable"
	// ConditionPaused is True while the paused annotation stops writes to the children.
	ConditionPaused = "Paused"
	// ConditionOnedReachable says whether oned answers one.system.version, called on 2633
	// through the external Service with the oneadmin password, when the operator can reach
	// it (Unknown otherwise): reachable, authenticated, and its version.
	ConditionOnedReachable = "OnedReachable"
)

// Condition reasons. Stable, CamelCase, part of the API like the types.
const (
	ReasonAllReplicasReady = "AllReplicasReady"
	ReasonReplicasNotReady = "ReplicasNotReady"
	// ReasonRaftNoQuorum: the pods run, but the zone has no leader that a majority of its
	// servers follow, so it cannot write.
	ReasonRaftNoQuorum        = "RaftNoQuorum"
	ReasonRolloutInProgress   = "RolloutInProgress"
	ReasonRolloutComplete     = "RolloutComplete"
	ReasonReconcileFailed     = "ReconcileFailed"
	ReasonStatefulSetMissing  = "StatefulSetMissing"
	ReasonAsExpected          = "AsExpected"
	ReasonSecretMissing       = "SecretMissing"
	ReasonSecretKeyMissing    = "SecretKeyMissing"
	ReasonStorageClassMissing = "StorageClassMissing"
	// ReasonPriorityClassMissing: spec.pod.priorityClassName names no PriorityClass; the
	// frontend's pod would never be created.
	ReasonPriorityClassMissing = "PriorityClassMissing"
	ReasonChildNotOwned        = "ChildNotOwned"
	// ReasonRaftServerUnreachable: a member of the frontend's Raft zone whose pod runs does
	// not answer one.zone.raftstatus.
	ReasonRaftServerUnreachable = "RaftServerUnreachable"
	// ReasonRaftServerLagging: a follower's log has stayed behind the leader's commit for
	// longer than raftLagGrace (OpenNebula's replication after a leader change, a slow disk).
	ReasonRaftServerLagging = "RaftServerLagging"
	// ReasonRaftNotDriven: the frontend asks for several servers but the operator runs
	// without calling oned (--check-oned=false), so it cannot form or drive the zone.
	ReasonRaftNotDriven = "RaftNotDriven"
	// ReasonKeysMissing: the Secret <name>-keys that every server of a formed Raft zone
	// starts with (one_key, FireEdge's key, serveradmin's secret) is gone; a server that
	// restarts waits for it.
	ReasonKeysMissing = "KeysMissing"
	// ReasonInvalidSpec: the API server refuses a child the spec renders, for a reason the
	// CRD's schema cannot express (a node port outside the cluster's range, a volume
	// source, a probe's handler, ...); the message names the frontend's field. Nothing is
	// written until the spec changes.
	ReasonInvalidSpec     = "InvalidSpec"
	ReasonOnedAnswers     = "OnedAnswers"
	ReasonSSHAnswers      = "SSHAnswers"
	ReasonSSHUnreachable  = "SSHUnreachable"
	ReasonOnedUnreachable = "OnedUnreachable"
	// ReasonOnedAuthenticationFailed: oned answered but refused the oneadmin password the
	// operator read from the admin Secret (it was changed in OpenNebula, or the Secret was
	// replaced after the first boot wrote one_auth).
	ReasonOnedAuthenticationFailed = "OnedAuthenticationFailed"
	// ReasonOnedRefused: oned answered one.system.version with another error (a Raft zone
	// with no leader, a disabled zone); the message quotes oned.
	ReasonOnedRefused      = "OnedRefused"
	ReasonNotChecked       = "NotChecked"
	ReasonPaused           = "Paused"
	ReasonDowngradeRefused = "DowngradeRefused"
	ReasonNotPaused        = "NotPaused"
	// ReasonZoneUpgradeRefused: the image's OpenNebula version changed while the frontend
	// is a Raft zone of several servers; the message gives the steps that work.
	ReasonZoneUpgradeRefused = "ZoneUpgradeRefused"
	// ReasonVolumeExpansionNotSupported: a volume must grow and its StorageClass does not
	// allow expansion.
	ReasonVolumeExpansionNotSupported = "VolumeExpansionNotSupported"
	// ReasonReplacingStatefulSet: a StatefulSet is deleted, orphaning its pods, and created
	// again to change a field that cannot be updated (volumeClaimTemplates).
	ReasonReplacingStatefulSet = "ReplacingStatefulSet"
	// ReasonVolumesGrowing: a claim was grown and its capacity has not caught up yet.
	ReasonVolumesGrowing = "VolumesGrowing"
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

	// version is the OpenNebula version the frontend runs (its image's tag), updated
	// when a rollout completes.
	// +optional
	Version string `json:"version,omitempty"`

	// targetVersion is the version the spec asks for; it differs from version while an
	// upgrade rolls out (or while a downgrade is refused).
	// +optional
	TargetVersion string `json:"targetVersion,omitempty"`

	// onedVersion is the version oned itself answered (one.system.version) at the last
	// check that reached it; see the OnedReachable condition for whether it still answers.
	// +optional
	OnedVersion string `json:"onedVersion,omitempty"`

	// endpoints are where to reach the frontend.
	// +optional
	Endpoints Endpoints `json:"endpoints,omitempty"`

	// hostname is the HOSTNAME oned advertises to hypervisors.
	// +optional
	Hostname string `json:"hostname,omitempty"`

	// monitorAddress is the MONITOR_ADDRESS hypervisor probes send their data to; empty
	// while "auto" waits for the LoadBalancer address.
	// +optional
	MonitorAddress string `json:"monitorAddress,omitempty"`

	// adminPasswordSecret names the Secret holding the oneadmin password.
	// +optional
	AdminPasswordSecret string `json:"adminPasswordSecret,omitempty"`

	// sshKeySecret names the Secret holding oneadmin's SSH key pair; authorise its
	// ssh-publickey on the hypervisors.
	// +optional
	SSHKeySecret string `json:"sshKeySecret,omitempty"`

	// raft is the frontend's Raft zone (replicas 3 and 5, or a zone scaled back to one),
	// from every server's own one.zone.raftstatus.
	// +optional
	Raft *RaftStatus `json:"raft,omitempty"`

	// hosts counts the frontend's OpenNebulaHosts by the state oned last gave them.
	// +optional
	Hosts *HostCounts `json:"hosts,omitempty"`
}

// HostCounts counts a frontend's OpenNebulaHosts.
type HostCounts struct {
	// total is the number of OpenNebulaHosts whose frontendRef names this frontend.
	// +optional
	Total int32 `json:"total,omitempty"`
	// byState counts them by oned's STATE (MONITORED, ERROR, ...); a host not in
	// OpenNebula yet counts as PENDING.
	// +optional
	ByState map[string]int32 `json:"byState,omitempty"`
}

// RaftStatus is a Raft zone as its servers answer. The servers are asked every few
// seconds; the status is written when the leader, the term, a server's state or ID, or
// the membership change. Commit and log indexes (which move with every write to oned)
// are those of that write, taken at lastRead.
type RaftStatus struct {
	// leader is the pod whose server leads the zone; empty while none does.
	// +optional
	Leader string `json:"leader,omitempty"`
	// term is the leader's Raft term.
	// +optional
	Term int64 `json:"term,omitempty"`
	// servers, by pod.
	// +optional
	// +listType=map
	// +listMapKey=name
	Servers []RaftServerStatus `json:"servers,omitempty"`
	// lastRead is when the servers' answers written here were read.
	// +optional
	LastRead *metav1.Time `json:"lastRead,omitempty"`
}

// RaftServerStatus is one server of the zone.
type RaftServerStatus struct {
	// name of the pod, the server's NAME in the zone.
	Name string `json:"name"`
	// id is the server's ID in the zone, as oned gave it; absent until it joins.
	// +optional
	ID *int32 `json:"id,omitempty"`
	// state: Leader, Follower, Candidate, Solo, Joining (its pod waits to be added),
	// Unreachable (it does not answer).
	// +optional
	State string `json:"state,omitempty"`
	// term, commit and logIndex are the server's own (one.zone.raftstatus).
	// +optional
	Term int64 `json:"term,omitempty"`
	// +optional
	Commit int64 `json:"commit,omitempty"`
	// +optional
	LogIndex int64 `json:"logIndex,omitempty"`
}

// Endpoints lists where the frontend answers.
type Endpoints struct {
	// fireEdge is Sunstone's URL, through the Ingress when there is one.
	// +optional
	FireEdge string `json:"fireEdge,omitempty"`
	// oned is the XML-RPC endpoint inside the cluster.
	// +optional
	Oned string `json:"oned,omitempty"`
	// onedExternal is the XML-RPC endpoint through the LoadBalancer, once it has an address.
	// +optional
	OnedExternal string `json:"onedExternal,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=onefe,categories=opennebula
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Version",type=string,JSONPath=`.status.version`
// +kubebuilder:printcolumn:name="Leader",type=string,JSONPath=`.status.raft.leader`,priority=1
// +kubebuilder:printcolumn:name="Hosts",type=integer,JSONPath=`.status.hosts.total`,priority=1
// +kubebuilder:printcolumn:name="Endpoint",type=string,JSONPath=`.status.endpoints.fireEdge`
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
