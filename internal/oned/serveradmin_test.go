package oned

import (
	"testing"
	"time"
)

// The vector was made with OpenNebula 7.2's own ServerCipherAuth
// (src/authm_mad/remotes/server_cipher/server_cipher_auth.rb):
//
//	OpenNebula::ServerCipherAuth.new("serveradmin", "vector-Secret-7").login_token(2000000000)
//	Digest::SHA256.hexdigest("vector-Secret-7")
const (
	vectorSecret = "vector-Secret-7"
	vectorStored = "3a53d8f8bfec18bd0a4772146c0ef01cda2df7d505330539fad137a84ddbefd6"
	vectorToken  = "mfhHI2UlYx/Vd9zDOYrswo8GkrQZURiKwL4SeOMEZkIXUiBLdEUFbRKnqpLw3Jj7"
)

func TestServerAdminMatchesOpenNebulasCipher(t *testing.T) {
	if got := ServerAdminPassword(vectorSecret); got != vectorStored {
		t.Fatalf("ServerAdminPassword = %s, want %s", got, vectorStored)
	}
	creds, err := ServerAdmin(vectorSecret, time.Unix(2000000000, 0))
	if err != nil {
		t.Fatal(err)
	}
	if want := ServerAdminUser + ":" + vectorToken; creds.User != ServerAdminUser || creds.Password != want {
		t.Fatalf("ServerAdmin = %s / %s, want the token Ruby makes %s", creds.User, creds.Password, want)
	}
	now := time.Unix(1900000000, 0)
	if err := CheckServerCipher(vectorStored, ServerAdminUser, vectorToken, now); err != nil {
		t.Fatalf("Ruby's token refused: %v", err)
	}
	for name, check := range map[string]error{
		"expired":        CheckServerCipher(vectorStored, ServerAdminUser, vectorToken, time.Unix(2000000000, 0)),
		"another user":   CheckServerCipher(vectorStored, "oneadmin", vectorToken, now),
		"another secret": CheckServerCipher(ServerAdminPassword("other"), ServerAdminUser, vectorToken, now),
		"not base64":     CheckServerCipher(vectorStored, ServerAdminUser, "%%%", now),
	} {
		if check == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if s := creds.String(); s != ServerAdminUser+":<redacted>" {
		t.Errorf("credentials print as %q", s)
	}
}
