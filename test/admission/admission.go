// Package admission holds the bad-input table: frontends with one mistake each, which the
// API server must refuse at admission (OpenAPI schema and CEL rules of the CRD) with a
// message that names the field. One table, run in two places: the envtest suite
// (internal/controller) and the install e2e against the CRD of dist/install.yaml, each on
// the oldest and the newest supported Kubernetes (hack/versions.sh), so the messages a user
// reads are asserted to be the same on both ends.
package admission

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

// BadCreate is a frontend spec (YAML flow mapping content) and a part of the refusal's
// message, which must name the field.
type BadCreate struct{ Name, Spec, Message string }

// BadUpdate is a frontend that is admitted, a merge patch of it that must be refused, and a
// part of the refusal's message (transition rules: immutable and grow-only fields).
type BadUpdate struct{ Name, Create, Patch, Message string }

// BadCreates are refused at creation. Name is also the frontend's metadata.name.
var BadCreates = []BadCreate{
	// Names: children's names derive from it (DNS-1035 labels; longer valid names are
	// shortened with a hash, so only the label rule applies).
	{"1bad", ``, "metadata.name must be a DNS-1035 label"},
	{"dotted.name", ``, "metadata.name must be a DNS-1035 label"},
	{"unicöde", ``, "metadata.name"},
	{strings.Repeat("n", 64), ``, "metadata.name must be a DNS-1035 label"},
	{"badtype", `service: {type: ExternalName}`, `spec.service.type: Unsupported value: "ExternalName"`},
	{"spaces", `image: "a b"`, `spec.image: Invalid value: "a b": image must not contain spaces`},
	{"ext-missing", `database: {backend: External}`,
		"spec.database: Invalid value: database.external is required when database.backend is External"},
	{"ext-wrong-backend", `database: {backend: MariaDB, external: {host: db, passwordSecretRef: {name: s, key: k}}}`,
		"database.external is only valid when database.backend is External"},
	{"mariadb-on-sqlite", `database: {backend: SQLite, mariadb: {image: mariadb:11}}`,
		"database.mariadb is only valid when database.backend is MariaDB"},
	{"ext-no-host", `database: {backend: External, external: {passwordSecretRef: {name: s, key: k}}}`,
		"spec.database.external.host: Required value"},
	{"ext-no-password", `database: {backend: External, external: {host: db}}`,
		"spec.database.external.passwordSecretRef: Required value"},
	{"ext-port", `database: {backend: External, external: {host: db, port: 70000, passwordSecretRef: {name: s, key: k}}}`,
		"spec.database.external.port: Invalid value: 70000: spec.database.external.port in body should be less than or equal to 65535"},
	{"backend-enum", `database: {backend: Postgres}`, `spec.database.backend: Unsupported value: "Postgres"`},
	{"auto-needs-lb", `monitorAddress: auto`,
		"monitorAddress: auto needs service.type LoadBalancer"},
	{"monitor-pattern", `monitorAddress: "not an address"`, "spec.monitorAddress: Invalid value"},
	{"hostname-pattern", `hostname: "-bad-"`, "spec.hostname: Invalid value"},
	{"nodeports-clusterip", `service: {nodePorts: {oned: 30633}}`,
		"service.nodePorts needs service.type NodePort or LoadBalancer"},
	{"nodeports-key", `service: {type: NodePort, nodePorts: {sunstone: 30869}}`,
		"service.nodePorts keys must be port names"},
	{"nodeports-range", `service: {type: NodePort, nodePorts: {oned: 0}}`,
		"service.nodePorts values must be ports (1-65535)"},
	{"lb-ranges-nodeport", `service: {type: NodePort, loadBalancerSourceRanges: [10.0.0.0/8]}`,
		"service.loadBalancerClass and service.loadBalancerSourceRanges need service.type LoadBalancer"},
	{"etp-clusterip", `service: {externalTrafficPolicy: Local}`,
		"service.externalTrafficPolicy needs service.type NodePort or LoadBalancer"},
	{"etp-enum", `service: {type: NodePort, externalTrafficPolicy: Sometimes}`,
		`spec.service.externalTrafficPolicy: Unsupported value: "Sometimes"`},
	{"tls-needs-host", `ingress: {enabled: true, tlsSecretName: tls}`, "ingress.tlsSecretName needs ingress.host"},
	{"ingress-host", `ingress: {enabled: true, host: "Not_A_Host"}`, "spec.ingress.host: Invalid value"},
	{"public-url", `fireEdgeProxy: {publicURL: "not a url"}`, "fireEdgeProxy.publicURL must be a URL"},
	{"pull-policy", `imagePullPolicy: Sometimes`, `spec.imagePullPolicy: Unsupported value: "Sometimes"`},
	{"retention", `secretRetentionPolicy: Forget`, `spec.secretRetentionPolicy: Unsupported value: "Forget"`},
	{"access-mode", `persistence: {accessMode: ReadOnlyMany}`, `spec.persistence.accessMode: Unsupported value: "ReadOnlyMany"`},
	{"mariadb-size", `database: {mariadb: {size: "0"}}`, "spec.database.mariadb.size: Invalid value"},
	{"secret-ref-key", `admin: {passwordSecretRef: {name: s, key: "a b"}}`, "spec.admin.passwordSecretRef.key: Invalid value"},
	{"unknown-field", `replica: 3`, `unknown field "spec.replica"`},
	{"replicas-even", `replicas: 2`, "replicas must be 1, 3 or 5: OpenNebula's Raft HA needs an odd number of servers"},
	{"replicas-ha-sqlite", `replicas: 5, database: {backend: SQLite}`, "replicas 3 and 5 (Raft HA) need database.backend MariaDB or External"},
	// Wrong types.
	{"type-replicas", `replicas: "one"`, `spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer`},
	{"type-nodeport", `service: {type: NodePort, nodePorts: {oned: "x"}}`, "spec.service.nodePorts.oned in body must be of type integer"},
	{"type-ingress", `ingress: {enabled: "yes"}`, `spec.ingress.enabled: Invalid value: "string": spec.ingress.enabled in body must be of type boolean`},
	{"type-labels", `pod: {labels: [a]}`, `spec.pod.labels: Invalid value: "array": spec.pod.labels in body must be of type object`},
	{"type-size", `persistence: {size: "lots"}`, "spec.persistence.size"},
	// Ports out of range.
	{"port-nodeport-high", `service: {type: NodePort, nodePorts: {ssh: 65536}}`, "service.nodePorts values must be ports (1-65535)"},
	{"port-ext-zero", `database: {backend: External, external: {host: db, port: 0, passwordSecretRef: {name: s, key: k}}}`,
		"spec.database.external.port: Invalid value: 0: spec.database.external.port in body should be greater than or equal to 1"},
	// Conflicting options.
	{"lb-class-clusterip", `service: {loadBalancerClass: example.org/lb}`,
		"service.loadBalancerClass and service.loadBalancerSourceRanges need service.type LoadBalancer"},
	{"ext-on-sqlite", `database: {backend: SQLite, external: {host: db, passwordSecretRef: {name: s, key: k}}}`,
		"database.external is only valid when database.backend is External"},
	// Huge strings.
	{"huge-image", `image: "` + strings.Repeat("r", 513) + `"`, "spec.image: Too long: may not be more than 512"},
	{"huge-hostname", `hostname: "` + strings.Repeat("h", 254) + `"`, "spec.hostname: Too long: may not be more than 253"},
	{"huge-public-url", `fireEdgeProxy: {publicURL: "https://` + strings.Repeat("u", 2048) + `.example"}`, "spec.fireEdgeProxy.publicURL: Too long: may not be more than 2048"},
	// Unicode where DNS names go.
	{"unicode-hostname", `hostname: "frontënd.example.org"`, "spec.hostname: Invalid value"},
	{"unicode-ingress-host", `ingress: {enabled: true, host: "clöud.example.org"}`, "spec.ingress.host: Invalid value"},
	{"unicode-monitor", `monitorAddress: "mönitor.example.org"`, "spec.monitorAddress: Invalid value"},

	// Values inside fields embedded from Kubernetes types, which the children's API would
	// refuse: the CRD's CEL rules check them at admission.
	{"nodeport-duplicate", `service: {type: NodePort, nodePorts: {oned: 30633, fireedge: 30633}}`, "service.nodePorts values must be distinct"},
	{"lb-source-cidr", `service: {type: LoadBalancer, loadBalancerSourceRanges: [10.0.0.0/33]}`, "service.loadBalancerSourceRanges must be CIDRs"},
	{"lb-source-address", `service: {type: LoadBalancer, loadBalancerSourceRanges: [office]}`, "service.loadBalancerSourceRanges must be CIDRs"},
	{"lb-source-host-bits", `service: {type: LoadBalancer, loadBalancerSourceRanges: [10.0.0.1/8]}`,
		"service.loadBalancerSourceRanges must have no bits set beyond the prefix length"},
	{"lb-source-host-bits-v6", `service: {type: LoadBalancer, loadBalancerSourceRanges: ["2001:db8::1/32"]}`,
		"service.loadBalancerSourceRanges must have no bits set beyond the prefix length"},
	{"service-label-key", `service: {labels: {"-bad": x}}`, "service.labels keys must be label keys"},
	{"service-label-value", `service: {labels: {app: "two words"}}`, "service.labels values must be label values"},
	{"service-annotation-key", `service: {annotations: {"bad key": x}}`, "service.annotations keys must be annotation keys"},
	{"pod-label-value-long", `pod: {labels: {app: "` + strings.Repeat("v", 64) + `"}}`, "spec.pod.labels.app: Too long"},
	{"pod-annotation-key", `pod: {annotations: {"a/b/c": x}}`, "pod.annotations keys must be annotation keys"},
	{"ingress-annotation-key", `ingress: {enabled: true, annotations: {"nginx ingress": x}}`, "ingress.annotations keys must be annotation keys"},
	{"node-selector-value", `pod: {nodeSelector: {zone: "a b"}}`, "pod.nodeSelector values must be label values"},
	{"node-selector-key", `pod: {nodeSelector: {"zone?": a}}`, "pod.nodeSelector keys must be label keys"},
	{"env-name-digit", `pod: {env: [{name: 1BAD, value: x}]}`, "pod.env names must be letters, digits"},
	{"env-name-space", `pod: {env: [{name: "TWO WORDS", value: x}]}`, "pod.env names must be letters, digits"},
	{"limits-below-requests", `pod: {resources: {requests: {cpu: "2"}, limits: {cpu: "1"}}}`, "pod.resources.limits must not be below pod.resources.requests"},
	{"proxy-limits", `fireEdgeProxy: {resources: {requests: {memory: 1Gi}, limits: {memory: 512Mi}}}`, "fireEdgeProxy.resources.limits must not be below"},
	{"mariadb-limits", `database: {mariadb: {resources: {requests: {memory: 2Gi}, limits: {memory: 1Gi}}}}`, "database.mariadb.resources.limits must not be below"},
	{"probe-period-zero", `probes: {liveness: {tcpSocket: {port: 2633}, periodSeconds: 0}}`, "probes.liveness: periodSeconds, timeoutSeconds"},
	{"probe-timeout-negative", `probes: {readiness: {tcpSocket: {port: 2633}, timeoutSeconds: -5}}`, "probes.readiness: periodSeconds, timeoutSeconds"},
	{"probe-delay-negative", `probes: {startup: {tcpSocket: {port: 2633}, initialDelaySeconds: -1}}`, "probes.startup: periodSeconds, timeoutSeconds"},
	{"probe-no-handler", `probes: {readiness: {periodSeconds: 10}}`, "probes.readiness needs exactly one of exec, httpGet, tcpSocket and grpc"},
	{"probe-two-handlers", `probes: {liveness: {tcpSocket: {port: 2633}, exec: {command: ["true"]}}}`, "probes.liveness needs exactly one of"},
	{"probe-success-liveness", `probes: {liveness: {tcpSocket: {port: 2633}, successThreshold: 2}}`, "probes.liveness.successThreshold must be 1"},
	{"toleration-operator", `pod: {tolerations: [{key: a, operator: Maybe}]}`, "pod.tolerations operator must be Exists or Equal"},
	{"toleration-effect", `pod: {tolerations: [{key: a, operator: Exists, effect: Sometimes}]}`, "pod.tolerations effect must be NoSchedule, PreferNoSchedule or NoExecute"},
	{"toleration-exists-value", `pod: {tolerations: [{key: a, operator: Exists, value: b}]}`, "pod.tolerations value must be empty with operator Exists"},
	{"toleration-no-key", `pod: {tolerations: [{operator: Equal, value: b}]}`, "a toleration without a key needs operator Exists"},
	{"toleration-key", `pod: {tolerations: [{key: "bad key", operator: Exists}]}`, "pod.tolerations key must be a label key"},
	{"toleration-seconds", `pod: {tolerations: [{key: a, operator: Exists, effect: NoSchedule, tolerationSeconds: 10}]}`, "pod.tolerations tolerationSeconds needs effect NoExecute"},
	{"spread-skew", `pod: {topologySpreadConstraints: [{maxSkew: 0, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: DoNotSchedule}]}`, "pod.topologySpreadConstraints maxSkew must be at least 1"},
	{"spread-when", `pod: {topologySpreadConstraints: [{maxSkew: 1, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: Never}]}`, "pod.topologySpreadConstraints whenUnsatisfiable must be DoNotSchedule or ScheduleAnyway"},
	{"spread-key", `pod: {topologySpreadConstraints: [{maxSkew: 1, topologyKey: "", whenUnsatisfiable: DoNotSchedule}]}`, "pod.topologySpreadConstraints topologyKey must be a label key"},
	{"claim-retention", `persistentVolumeClaimRetentionPolicy: {whenDeleted: Forget}`, "persistentVolumeClaimRetentionPolicy whenDeleted and whenScaled must be Retain or Delete"},
	{"mount-no-volume", `pod: {volumeMounts: [{name: extra, mountPath: /extra}]}`, "pod.volumeMounts must each name a volume of pod.volumes"},
	{"mount-unknown-volume", `pod: {volumes: [{name: extra, emptyDir: {}}], volumeMounts: [{name: other, mountPath: /extra}]}`, "pod.volumeMounts must each name a volume of pod.volumes"},
	{"mount-over-data", `pod: {volumes: [{name: extra, emptyDir: {}}], volumeMounts: [{name: extra, mountPath: /var/lib/one}]}`, "pod.volumeMounts cannot mount at /var/lib/one"},
	{"mount-duplicate", `pod: {volumes: [{name: a, emptyDir: {}}], volumeMounts: [{name: a, mountPath: /a}, {name: a, mountPath: /a}]}`, "spec.pod.volumeMounts[1]: Duplicate value"},
	{"volume-reserved", `pod: {volumes: [{name: config, emptyDir: {}}]}`, "pod.volumes cannot be named data, config or ssh-keys"},
	{"volume-name", `pod: {volumes: [{name: Bad_Name, emptyDir: {}}]}`, "pod.volumes names must be DNS labels"},
	{"volume-configmap-unnamed", `pod: {volumes: [{name: extra, configMap: {name: ""}}]}`, "pod.volumes configMap.name and secret.secretName must not be empty"},
	{"volume-secret-unnamed", `pod: {volumes: [{name: extra, secret: {}}]}`, "pod.volumes configMap.name and secret.secretName must not be empty"},
	{"volume-duplicate", `pod: {volumes: [{name: a, emptyDir: {}}, {name: a, emptyDir: {}}]}`, "spec.pod.volumes[1]: Duplicate value"},
	{"priority-class-name", `pod: {priorityClassName: High_Priority}`, "pod.priorityClassName must name a PriorityClass"},
	{"service-account-name", `pod: {serviceAccountName: "my account"}`, "pod.serviceAccountName must name a ServiceAccount"},
	// Semantic values.
	{"hostname-port", `hostname: "frontend.example.org:2633"`, "hostname must be a DNS name or an IP address, without a port"},
	{"monitor-port", `monitorAddress: "10.0.0.5:4124"`, "monitorAddress must be a DNS name or an IP address, without a port"},
	{"ext-host-port", `database: {backend: External, external: {host: "db.example.org:3306", passwordSecretRef: {name: s, key: k}}}`,
		"database.external.host must be a DNS name or an IP address, without a port"},
	{"public-url-scheme", `fireEdgeProxy: {publicURL: "ftp://cloud.example.org"}`, "fireEdgeProxy.publicURL must be an http or https URL"},
	// Empty names in optional references.
	{"ssh-key-empty", `ssh: {keySecretRef: {name: ""}}`, "ssh.keySecretRef.name must name a Secret"},
	{"pull-secret-empty", `imagePullSecrets: [{name: ""}]`, "imagePullSecrets entries must name a Secret"},
	{"env-from-empty", `pod: {envFrom: [{secretRef: {name: ""}}]}`, "pod.envFrom secretRef.name and configMapRef.name must not be empty"},
	{"tls-secret-empty", `ingress: {enabled: true, host: cloud.example.org, tlsSecretName: ""}`, "ingress.tlsSecretName must name a Secret"},
	{"admin-secret-empty", `admin: {passwordSecretRef: {name: "", key: password}}`, "spec.admin.passwordSecretRef.name"},
	{"ingress-class-empty", `ingress: {enabled: true, className: ""}`, "ingress.className must name an IngressClass"},
}

// GoodCreates are admitted: the edges of the rules above, so that no rule is stricter than
// the Kubernetes API it guards.
var GoodCreates = []BadCreate{
	{"ipv6-addresses", `hostname: "2001:db8::10", monitorAddress: "2001:db8::11"`, ""},
	{"monitord-shares-node-port", `service: {type: NodePort, nodePorts: {monitord-tcp: 30124, monitord-udp: 30124}}`, ""},
	{"prefixed-keys", `service: {labels: {example.org/tier: control-plane, app: ""}, annotations: {Example.ORG/Owner: "Some Team"}}`, ""},
	{"toleration-all", `pod: {tolerations: [{operator: Exists}, {key: a, operator: Equal, value: b, effect: NoExecute, tolerationSeconds: 30}]}`, ""},
	{"mounts-inside-data", `pod: {volumes: [{name: ds, emptyDir: {}}], volumeMounts: [{name: ds, mountPath: /var/lib/one/datastores/100}]}`, ""},
	{"limits-equal-requests", `pod: {resources: {requests: {cpu: 500m, memory: 1Gi}, limits: {cpu: "0.5", memory: 1024Mi}}}`, ""},
	{"probes", `probes: {readiness: {httpGet: {path: /, port: 2616}, successThreshold: 2, periodSeconds: 5}, liveness: {grpc: {port: 2633}}}`, ""},
	{"env-names", `pod: {env: [{name: _A.b-C9, value: x}], envFrom: [{configMapRef: {name: extra}}]}`, ""},
	{"public-url", `fireEdgeProxy: {publicURL: "https://cloud.example.org:8443/"}`, ""},
	{"defaults-left-empty", `pod: {priorityClassName: "", serviceAccountName: ""}`, ""},
}

// RefusedChildren are admitted (the CRD's schema cannot express what is wrong with them:
// it depends on the cluster, or lies deep inside Kubernetes types), but the API server
// refuses a child they render. The operator must report Degraded InvalidSpec with a message
// naming the frontend's field (Message) and write nothing.
var RefusedChildren = []BadCreate{
	{"nodeport-outside-range", `service: {type: NodePort, nodePorts: {oned: 4124}}`, "spec.service.nodePorts.oned: Invalid value: 4124: provided port is not in the valid range"},
	{"volume-two-sources", `pod: {volumes: [{name: extra, emptyDir: {medium: Memory}, hostPath: {path: /srv}}], volumeMounts: [{name: extra, mountPath: /extra}]}`, "spec.pod.volumes[0]"},
	{"probe-port-zero", `probes: {liveness: {httpGet: {port: 0}}}`, "spec.probes.liveness.httpGet.port"},
	{"env-two-sources", `pod: {env: [{name: A, valueFrom: {fieldRef: {fieldPath: metadata.name}, configMapKeyRef: {name: c, key: k}}}]}`, "spec.pod.env[0].valueFrom"},
	{"affinity-operator", `pod: {affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: {nodeSelectorTerms: [{matchExpressions: [{key: a, operator: Maybe}]}]}}}}`, "spec.pod.affinity.nodeAffinity"},
	{"run-as-negative", `pod: {securityContext: {runAsUser: -1}}`, "spec.pod.securityContext.runAsUser"},
	{"extended-resource-overcommit", `pod: {resources: {requests: {example.com/gpu: "1"}, limits: {example.com/gpu: "2"}}}`, "spec.pod.resources"},
}

// Frontend returns a frontend of the tables' form: spec is YAML flow mapping content.
func Frontend(name, namespace, spec string) (*unstructured.Unstructured, error) {
	return frontend(name, namespace, "{"+spec+"}")
}

// BadUpdates are refused when an admitted frontend is changed.
var BadUpdates = []BadUpdate{
	// Volumes grow but never shrink.
	{"shrink", `{"persistence":{"size":"20Gi"}}`, `{"spec":{"persistence":{"size":"10Gi"}}}`,
		"spec.persistence.size: Invalid value: \"10Gi\": persistence.size cannot shrink"},
	// Fields of existing volumes cannot change.
	{"class", `{"persistence":{"storageClassName":"fast"}}`, `{"spec":{"persistence":{"storageClassName":"slow"}}}`,
		"persistence.storageClassName is immutable"},
	{"class-set-later", `{}`, `{"spec":{"persistence":{"storageClassName":"fast"}}}`, "persistence.storageClassName is immutable"},
	{"mode", `{}`, `{"spec":{"persistence":{"accessMode":"ReadWriteMany"}}}`, "persistence.accessMode is immutable"},
	{"db-class", `{"database":{"mariadb":{"storageClassName":"fast"}}}`, `{"spec":{"database":{"mariadb":{"storageClassName":null}}}}`,
		"database.mariadb.storageClassName is immutable"},
	{"db-shrink", `{"database":{"mariadb":{"size":"8Gi"}}}`, `{"spec":{"database":{"mariadb":{"size":"4Gi"}}}}`,
		"database.mariadb.size cannot shrink"},
	{"size-zero", `{}`, `{"spec":{"persistence":{"size":"0"}}}`,
		`spec.persistence.size: Invalid value: "0": size must be greater than zero`},
	// The database backend cannot change after creation.
	{"backend", `{"database":{"backend":"SQLite"}}`, `{"spec":{"database":{"backend":"MariaDB"}}}`,
		"spec.database.backend: Invalid value: \"MariaDB\": database.backend is immutable"},
}

// FleetCase is an OpenNebulaHost or OpenNebulaCluster (Kind) of the tables' form, and
// for a bad update the merge patch that must be refused; Message is part of the refusal,
// which must name the field ("" for a case that must be admitted).
type FleetCase struct{ Kind, Name, Spec, Patch, Message string }

// The hosts' and clusters' required fields, for the cases below.
const (
	hostBase    = `frontendRef: {name: one}, hostname: kvm1.example.org`
	clusterBase = `frontendRef: {name: one}`
)

// FleetBadCreates are hosts and clusters refused at creation (Spec), or, with a Patch,
// admitted and then refused that change.
var FleetBadCreates = []FleetCase{
	{"OpenNebulaHost", "no-frontend", `hostname: kvm1`, ``, "spec.frontendRef: Required value"},
	{"OpenNebulaHost", "no-hostname", `frontendRef: {name: one}`, ``, "spec.hostname: Required value"},
	{"OpenNebulaHost", "hostname-port", `frontendRef: {name: one}, hostname: "kvm1.example.org:22"`, ``,
		"hostname must be a DNS name or an IP address, without a port"},
	{"OpenNebulaHost", "hostname-spaces", `frontendRef: {name: one}, hostname: "kvm 1"`, ``, "spec.hostname: Invalid value"},
	{"OpenNebulaHost", "hostname-unicode", `frontendRef: {name: one}, hostname: "kvm-ü.example.org"`, ``, "spec.hostname: Invalid value"},
	{"OpenNebulaHost", "hostname-long", `frontendRef: {name: one}, hostname: "` + strings.Repeat("h", 64) + `"`, ``,
		"spec.hostname: Too long: may not be more than 63"},
	{"OpenNebulaHost", "im-mad", hostBase + `, imMad: xen`, ``, `spec.imMad: Unsupported value: "xen"`},
	{"OpenNebulaHost", "vm-mad", hostBase + `, vmMad: vcenter`, ``, `spec.vmMad: Unsupported value: "vcenter"`},
	{"OpenNebulaHost", "state", hostBase + `, state: Maintenance`, ``, `spec.state: Unsupported value: "Maintenance"`},
	{"OpenNebulaHost", "policy", hostBase + `, deletionPolicy: Orphan`, ``, `spec.deletionPolicy: Unsupported value: "Orphan"`},
	{"OpenNebulaHost", "template-lower", hostBase + `, template: {reserved_cpu: "100"}`, ``, "template attribute names must be upper case"},
	{"OpenNebulaHost", "template-record", hostBase + `, template: {KUBERNETES_OBJECT: x}`, ``, "template must not set KUBERNETES_OBJECT"},
	{"OpenNebulaHost", "cluster-namespace", hostBase + `, clusterRef: {name: c, namespace: other}`, ``, `unknown field "spec.clusterRef.namespace"`},
	{"OpenNebulaHost", "frontend-namespace", `frontendRef: {name: one, namespace: other}, hostname: kvm1`, ``, `unknown field "spec.frontendRef.namespace"`},
	{"OpenNebulaHost", "frontend-moves", hostBase, `{"spec":{"frontendRef":{"name":"two"}}}`, "frontendRef is immutable"},
	{"OpenNebulaHost", "hostname-changes", hostBase, `{"spec":{"hostname":"kvm2.example.org"}}`, "hostname is immutable"},
	{"OpenNebulaHost", "mad-changes", hostBase, `{"spec":{"vmMad":"lxc"}}`, "vmMad is immutable"},
	{"OpenNebulaCluster", "no-frontend", `template: {RESERVED_CPU: "100"}`, ``, "spec.frontendRef: Required value"},
	{"OpenNebulaCluster", "name-chars", clusterBase + `, name: "a/b"`, ``, "spec.name: Invalid value"},
	{"OpenNebulaCluster", "datastore-negative", clusterBase + `, datastores: [-1]`, ``, "spec.datastores[0]: Invalid value"},
	{"OpenNebulaCluster", "datastore-twice", clusterBase + `, datastores: [1, 1]`, ``, "spec.datastores[1]: Duplicate value"},
	{"OpenNebulaCluster", "template-lower", clusterBase + `, template: {Reserved: x}`, ``, "template attribute names must be upper case"},
	{"OpenNebulaCluster", "frontend-moves", clusterBase, `{"spec":{"frontendRef":{"name":"two"}}}`, "frontendRef is immutable"},
	{"OpenNebulaCluster", "renamed", clusterBase, `{"spec":{"name":"other"}}`, "spec.name is immutable"},
}

// FleetGoodCreates are admitted.
var FleetGoodCreates = []FleetCase{
	{"OpenNebulaHost", "ipv4", `frontendRef: {name: one}, hostname: 192.0.2.10`, ``, ""},
	{"OpenNebulaHost", "ipv6", `frontendRef: {name: one}, hostname: "2001:db8::10"`, ``, ""},
	{"OpenNebulaHost", "everything", hostBase + `, clusterRef: {name: c}, imMad: qemu, vmMad: qemu, state: Offline,
		template: {RESERVED_CPU: "100", RESERVED_MEM: "1048576"}, deletionPolicy: Retain`, ``, ""},
	{"OpenNebulaCluster", "everything", clusterBase + `, name: "Rack 1", template: {RESERVED_CPU: "100"}, datastores: [0, 1, 2], vnets: [0]`, ``, ""},
}

func object(kind, name, namespace, specJSONorFlow string) (*unstructured.Unstructured, error) {
	u := &unstructured.Unstructured{}
	doc := "apiVersion: opennebula.io/v1alpha1\nkind: " + kind + "\nmetadata: {name: " + name + ", namespace: " + namespace + "}\nspec: " + specJSONorFlow + "\n"
	if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
		return nil, fmt.Errorf("%s: the table's YAML: %w", name, err)
	}
	return u, nil
}

func frontend(name, namespace, specJSONorFlow string) (*unstructured.Unstructured, error) {
	return object("OpenNebulaFrontend", name, namespace, specJSONorFlow)
}

// quotedInvalidValue is how the API server prints the offending value of a CEL rule's
// refusal, which differs between versions: 1.32 prints the CEL type ("string", "object",
// "" for a quantity), 1.37 the value itself, or nothing for an object. What a user must
// read is the same on both ends (the field path and the rule's message), so messages are
// compared with the quoted value removed.
var quotedInvalidValue = regexp.MustCompile(`Invalid value: "(?:[^"\\]|\\.)*": `)

func withoutQuotedValue(s string) string {
	return quotedInvalidValue.ReplaceAllString(s, "Invalid value: ")
}

// refusal says what is wrong with err as the answer to a request that must be refused
// with a message containing want; nil when it is right.
func refusal(name string, err error, want string) error {
	switch {
	case err == nil:
		return fmt.Errorf("%s: admitted", name)
	case !apierrors.IsInvalid(err) && !apierrors.IsBadRequest(err):
		return fmt.Errorf("%s: not a validation error: %w", name, err)
	case !strings.Contains(withoutQuotedValue(err.Error()), withoutQuotedValue(want)):
		return fmt.Errorf("%s: message %q lacks %q", name, err.Error(), want)
	}
	return nil
}

// Check sends every case of the tables to the API server c talks to, in namespace (which
// must exist), and returns one error per case that was not refused (or, for GoodCreates,
// admitted) as it should be. Creations
// are server-side dry runs (admission runs in full, nothing is stored); the bad updates
// create their frontend first, named "upd-<case>".
func Check(ctx context.Context, c client.Client, namespace string) []error {
	var errs []error
	for _, tc := range BadCreates {
		u, err := frontend(tc.Name, namespace, "{"+tc.Spec+"}")
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := refusal(tc.Name, c.Create(ctx, u, client.DryRunAll, client.FieldValidation("Strict")), tc.Message); err != nil {
			errs = append(errs, err)
		}
	}
	for _, tc := range GoodCreates {
		u, err := frontend(tc.Name, namespace, "{"+tc.Spec+"}")
		if err == nil {
			err = c.Create(ctx, u, client.DryRunAll, client.FieldValidation("Strict"))
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: refused: %w", tc.Name, err))
		}
	}
	for _, tc := range BadUpdates {
		u, err := frontend("upd-"+tc.Name, namespace, tc.Create)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := c.Create(ctx, u); err != nil {
			errs = append(errs, fmt.Errorf("%s: the admitted frontend was refused: %w", tc.Name, err))
			continue
		}
		err = c.Patch(ctx, u, client.RawPatch("application/merge-patch+json", []byte(tc.Patch)))
		if err := refusal(tc.Name, err, tc.Message); err != nil {
			errs = append(errs, err)
		}
	}
	return append(errs, checkFleet(ctx, c, namespace)...)
}

// checkFleet sends the hosts' and clusters' cases: creations as dry runs, a bad update's
// object created first (named "upd-<case>").
func checkFleet(ctx context.Context, c client.Client, namespace string) []error {
	var errs []error
	for _, tc := range append(slices.Clone(FleetBadCreates), FleetGoodCreates...) {
		name := tc.Kind + "/" + tc.Name
		u, err := object(tc.Kind, tc.Name, namespace, "{"+tc.Spec+"}")
		if err != nil {
			errs = append(errs, err)
			continue
		}
		switch {
		case tc.Message == "":
			if err := c.Create(ctx, u, client.DryRunAll, client.FieldValidation("Strict")); err != nil {
				errs = append(errs, fmt.Errorf("%s: refused: %w", name, err))
			}
		case tc.Patch == "":
			if err := refusal(name, c.Create(ctx, u, client.DryRunAll, client.FieldValidation("Strict")), tc.Message); err != nil {
				errs = append(errs, err)
			}
		default:
			u.SetName("upd-" + tc.Name)
			if err := c.Create(ctx, u); err != nil {
				errs = append(errs, fmt.Errorf("%s: the admitted object was refused: %w", name, err))
				continue
			}
			err := c.Patch(ctx, u, client.RawPatch("application/merge-patch+json", []byte(tc.Patch)))
			if err := refusal(name, err, tc.Message); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errs
}
