package builder

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	opennebulav1alpha1 "github.com/opennebula-operator/opennebula-operator/api/v1alpha1"
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

// GeneratedSecrets lists the Secrets to generate for this spec: the oneadmin password
// and the SSH key pair unless references are given, the managed database's credentials.
// Data is left empty; the reconciler fills it in when it creates them.
func GeneratedSecrets(fe *opennebulav1alpha1.OpenNebulaFrontend) []GeneratedSecret {
	names := NamesFor(fe.Name)
	var out []GeneratedSecret
	if fe.Spec.Admin.PasswordSecretRef == nil {
		out = append(out, GeneratedSecret{SecretAdminPassword, generatedSecret(fe, names.AdminSecret, corev1.SecretTypeOpaque)})
	}
	if DatabaseBackend(fe) == opennebulav1alpha1.DatabaseMariaDB {
		out = append(out, GeneratedSecret{SecretMariaDB, generatedSecret(fe, names.MariaDB, corev1.SecretTypeOpaque)})
	}
	if fe.Spec.SSH.KeySecretRef == nil {
		out = append(out, GeneratedSecret{SecretSSHKeyPair, generatedSecret(fe, names.SSHSecret, corev1.SecretTypeSSHAuth)})
	}
	return out
}

func generatedSecret(fe *opennebulav1alpha1.OpenNebulaFrontend, name string, typ corev1.SecretType) *corev1.Secret {
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
