package secrets

import (
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/opennebula-operator/opennebula-operator/internal/builder"
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
		d, err := Data(builder.SecretAdminPassword, "")
		if err != nil {
			t.Fatal(err)
		}
		p := string(d[builder.AdminPasswordKey])
		if len(p) != PasswordLength || strings.Trim(p, alphabet) != "" {
			t.Fatalf("password %q: wrong length or characters", p)
		}
		if seen[p] {
			t.Fatal("the same password twice")
		}
		seen[p] = true
	}
	db, err := Data(builder.SecretMariaDB, "")
	if err != nil {
		t.Fatal(err)
	}
	if string(db[builder.MariaDBPasswordKey]) == string(db[builder.MariaDBRootKey]) {
		t.Error("the database user's and root's passwords are the same")
	}
	if _, err := Data("nonsense", ""); err == nil {
		t.Error("an unknown kind must fail")
	}
}
