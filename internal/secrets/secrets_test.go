package secrets

import (
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

func TestSSHKeyPairParsesAndMatches(t *testing.T) {
	private, public, err := SSHKeyPair("oneadmin@ns/one")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.ParsePrivateKey(private)
	if err != nil {
		t.Fatalf("OpenSSH cannot read the private key: %v", err)
	}
	pub, comment, _, _, err := ssh.ParseAuthorizedKey(public)
	if err != nil {
		t.Fatal(err)
	}
	if comment != "oneadmin@ns/one" || pub.Type() != ssh.KeyAlgoED25519 {
		t.Errorf("public key %s %q", pub.Type(), comment)
	}
	if string(signer.PublicKey().Marshal()) != string(pub.Marshal()) {
		t.Error("the public key does not belong to the private key")
	}
}

func TestPasswordsAreRandomAndSafe(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		b, err := Password()
		if err != nil {
			t.Fatal(err)
		}
		p := string(b)
		if len(p) != PasswordLength || strings.Trim(p, alphabet) != "" {
			t.Fatalf("password %q: wrong length or characters", p)
		}
		if seen[p] {
			t.Fatal("the same password twice")
		}
		seen[p] = true
	}
}
