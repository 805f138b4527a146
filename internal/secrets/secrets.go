// Package secrets generates the credentials the operator creates for a frontend: random
// passwords and oneadmin's SSH key pair, from crypto/rand. Nothing here is logged.
package secrets

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"

	"golang.org/x/crypto/ssh"

	"github.com/opennebula-operator/opennebula-operator/internal/builder"
)

// PasswordLength is long enough for 190 bits of entropy with the alphabet below.
const PasswordLength = 32

// alphabet avoids characters that need quoting in shells, URLs and oned.conf.
const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

func randomString(n int) (string, error) {
	b := make([]byte, n)
	out := make([]byte, n)
	// Rejection sampling keeps every character equally likely.
	for i := 0; i < n; {
		if _, err := rand.Read(b); err != nil {
			return "", err
		}
		for _, c := range b {
			if int(c) < 256-256%len(alphabet) && i < n {
				out[i] = alphabet[int(c)%len(alphabet)]
				i++
			}
		}
	}
	return string(out), nil
}

// SSHKeyPair returns an RSA key pair: the private key in PEM (what OpenSSH reads from
// id_rsa) and the public key in authorized_keys format. RSA because the image's entry
// point and OpenNebula's documentation look for id_rsa.
func SSHKeyPair(comment string) (private, public []byte, err error) {
	key, err := rsa.GenerateKey(rand.Reader, 3072)
	if err != nil {
		return nil, nil, err
	}
	private = pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	pub, err := ssh.NewPublicKey(&key.PublicKey)
	if err != nil {
		return nil, nil, err
	}
	public = ssh.MarshalAuthorizedKey(pub)
	if comment != "" {
		public = append(public[:len(public)-1], []byte(" "+comment+"\n")...)
	}
	return private, public, nil
}

// Data generates the content of one generated Secret.
func Data(kind builder.SecretKind, comment string) (map[string][]byte, error) {
	switch kind {
	case builder.SecretAdminPassword:
		p, err := randomString(PasswordLength)
		if err != nil {
			return nil, err
		}
		return map[string][]byte{builder.AdminPasswordKey: []byte(p)}, nil
	case builder.SecretMariaDB:
		p, err := randomString(PasswordLength)
		if err != nil {
			return nil, err
		}
		root, err := randomString(PasswordLength)
		if err != nil {
			return nil, err
		}
		return map[string][]byte{builder.MariaDBPasswordKey: []byte(p), builder.MariaDBRootKey: []byte(root)}, nil
	case builder.SecretSSHKeyPair:
		private, public, err := SSHKeyPair(comment)
		if err != nil {
			return nil, err
		}
		return map[string][]byte{builder.SSHPrivateKeyKey: private, builder.SSHPublicKeyKey: public}, nil
	default:
		return nil, fmt.Errorf("unknown secret kind %q", kind)
	}
}
