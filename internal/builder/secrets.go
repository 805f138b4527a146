package builder

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opennebulav1alpha1 "github.com/opennebula-operator/opennebula-operator/api/v1alpha1"
	"github.com/opennebula-operator/opennebula-operator/internal/secrets"
)

// Keys of the Secrets the frontend reads.
const (
	AdminPasswordKey     = "password"
	MariaDBPasswordKey   = "password"
	MariaDBRootKey       = "root-password"
	SSHPrivateKeyKey     = corev1.SSHAuthPrivateKey // ssh-privatekey
	SSHPublicKeyKey      = "ssh-publickey"
	AnnotationFrontendOf = "opennebula.io/frontend-name"
)

// SecretKind says what a generated Secret holds, so the reconciler knows what to generate.
type SecretKind string

// The generated Secrets.
const (
	SecretAdminPassword SecretKind = "admin-password"
	SecretMariaDB       SecretKind = "mariadb"
	SecretSSHKeyPair    SecretKind = "ssh-key-pair"
)

// GeneratedSecret is a Secret the operator creates once, with values it generates, and
// never changes afterwards: regenerating a password or key over live data would lock
// oned out of its database or the frontend out of its hypervisors.
type GeneratedSecret struct {
	Kind   SecretKind
	Secret *corev1.Secret
}

// generatedSecretKind is what a kind of generated Secret holds and how its values are made.
type generatedSecretKind struct {
	typ  corev1.SecretType
	keys []string
	// generate makes every key's value; comment labels an SSH key.
	generate func(comment string) (map[string][]byte, error)
}

// generatedSecretKinds is the one table of generated Secrets: their creation, the check
// that none of their keys went missing, render and the benchmark all read it.
var generatedSecretKinds = map[SecretKind]generatedSecretKind{
	SecretAdminPassword: {corev1.SecretTypeOpaque, []string{AdminPasswordKey}, passwords(AdminPasswordKey)},
	SecretMariaDB:       {corev1.SecretTypeOpaque, []string{MariaDBPasswordKey, MariaDBRootKey}, passwords(MariaDBPasswordKey, MariaDBRootKey)},
	SecretSSHKeyPair: {corev1.SecretTypeSSHAuth, []string{SSHPrivateKeyKey, SSHPublicKeyKey}, func(comment string) (map[string][]byte, error) {
		private, public, err := secrets.SSHKeyPair(comment)
		return map[string][]byte{SSHPrivateKeyKey: private, SSHPublicKeyKey: public}, err
	}},
}

// passwords generates one independent random password per key.
func passwords(keys ...string) func(string) (map[string][]byte, error) {
	return func(string) (map[string][]byte, error) {
		out := make(map[string][]byte, len(keys))
		for _, k := range keys {
			p, err := secrets.Password()
			if err != nil {
				return nil, err
			}
			out[k] = p
		}
		return out, nil
	}
}

// Keys are the keys the generated Secret must hold.
func (g GeneratedSecret) Keys() []string { return generatedSecretKinds[g.Kind].keys }

// Generate fills the Secret's data with new values (comment labels an SSH key). Only the
// reconciler, creating the Secret, and the benchmark call it.
func (g GeneratedSecret) Generate(comment string) error {
	data, err := generatedSecretKinds[g.Kind].generate(comment)
	if err != nil {
		return fmt.Errorf("generating Secret %s: %w", g.Secret.Name, err)
	}
	g.Secret.Data = data
	return nil
}

// WithGeneratedSecrets is everything a frontend owns: its generated Secrets before
// children. With generate, the Secrets get fresh values labelled comment (as the
// reconciler creates them); without, they have no data (render shows them so: their
// values are random and only ever written to the cluster).
func WithGeneratedSecrets(fe *opennebulav1alpha1.OpenNebulaFrontend, children []client.Object, generate bool, comment string) ([]client.Object, error) {
	var out []client.Object
	for _, gen := range GeneratedSecrets(fe) {
		if generate {
			if err := gen.Generate(comment); err != nil {
				return nil, err
			}
		}
		out = append(out, gen.Secret)
	}
	return append(out, children...), nil
}

// GeneratedSecrets lists the Secrets to generate for this spec: the oneadmin password
// and the SSH key pair unless references are given, the managed database's credentials.
// Data is left empty; the reconciler fills it in when it creates them.
func GeneratedSecrets(fe *opennebulav1alpha1.OpenNebulaFrontend) []GeneratedSecret {
	names := NamesFor(fe.Name)
	var out []GeneratedSecret
	if fe.Spec.Admin.PasswordSecretRef == nil {
		out = append(out, generatedSecret(fe, SecretAdminPassword, names.AdminSecret))
	}
	if DatabaseBackend(fe) == opennebulav1alpha1.DatabaseMariaDB {
		out = append(out, generatedSecret(fe, SecretMariaDB, names.MariaDB))
	}
	if fe.Spec.SSH.KeySecretRef == nil {
		out = append(out, generatedSecret(fe, SecretSSHKeyPair, names.SSHSecret))
	}
	return out
}

// OperatorSecrets are the names of the Secrets the operator makes for the frontend: the
// generated ones and the kept keys (KeysSecret). They carry the watch label, so the
// cache holds each one that exists: a miss needs no read past the cache.
func OperatorSecrets(fe *opennebulav1alpha1.OpenNebulaFrontend) map[string]bool {
	names := map[string]bool{NamesFor(fe.Name).Keys: true}
	for _, gen := range GeneratedSecrets(fe) {
		names[gen.Secret.Name] = true
	}
	return names
}

func generatedSecret(fe *opennebulav1alpha1.OpenNebulaFrontend, kind SecretKind, name string) GeneratedSecret {
	return GeneratedSecret{Kind: kind, Secret: operatorSecret(fe, name, generatedSecretKinds[kind].typ)}
}

// operatorSecret is a Secret whose values the operator makes, without its data.
func operatorSecret(fe *opennebulav1alpha1.OpenNebulaFrontend, name string, typ corev1.SecretType) *corev1.Secret {
	return &corev1.Secret{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{
			Name:      name,
			Namespace: fe.Namespace,
			Labels:    mergeMaps(Labels(fe), map[string]string{LabelWatch: ValueWatch}),
			// The label value may be a hash of a long name; this says exactly whose it is.
			Annotations: map[string]string{AnnotationFrontendOf: fe.Name},
		},
		Type: typ,
	}
}

// AdminPasswordRef is where the oneadmin password is read from.
func AdminPasswordRef(fe *opennebulav1alpha1.OpenNebulaFrontend) opennebulav1alpha1.SecretKeySelector {
	if r := fe.Spec.Admin.PasswordSecretRef; r != nil {
		return *r
	}
	return opennebulav1alpha1.SecretKeySelector{Name: NamesFor(fe.Name).AdminSecret, Key: AdminPasswordKey}
}

// SSHKeySecretName is the Secret holding oneadmin's key pair.
func SSHKeySecretName(fe *opennebulav1alpha1.OpenNebulaFrontend) string {
	if r := fe.Spec.SSH.KeySecretRef; r != nil {
		return r.Name
	}
	return NamesFor(fe.Name).SSHSecret
}

func secretKeyEnv(name string, ref opennebulav1alpha1.SecretKeySelector) corev1.EnvVar {
	return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: ref.Name}, Key: ref.Key,
	}}}
}
