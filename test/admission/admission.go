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
	{"replicas-ha", `replicas: 3`, "replicas 3 and 5 (Raft HA) are not supported yet: use 1"},
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

func frontend(name, namespace, specJSONorFlow string) (*unstructured.Unstructured, error) {
	u := &unstructured.Unstructured{}
	doc := "apiVersion: opennebula.io/v1alpha1\nkind: OpenNebulaFrontend\nmetadata: {name: " + name + ", namespace: " + namespace + "}\nspec: " + specJSONorFlow + "\n"
	if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
		return nil, fmt.Errorf("%s: the table's YAML: %w", name, err)
	}
	return u, nil
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

// Check sends every case of the table to the API server c talks to, in namespace (which must
// exist), and returns one error per case that was not refused as it should be. Creations
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
	return errs
}
