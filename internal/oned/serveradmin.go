package oned

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// serveradmin is the user OneFlow, OneGate and FireEdge log in as: oned bootstraps it as
// user 1 with the server_cipher driver, a random password R written as "serveradmin:R" to
// var/.one/{sunstone,onegate,oneflow,oneform}_auth and sha256(R) stored in the database
// (UserPool::UserPool, src/um/UserPool.cc). Every server of a zone must hold the same auth
// files (their DB is the same): the operator sets the password to one of its own, kept in
// a Secret, and writes the files from it.
const (
	ServerAdminID   = 1
	ServerAdminUser = "serveradmin"
)

// ServerAdminPassword is what the database holds for serveradmin when the services' auth
// files say "serveradmin:<secret>": the services key their tokens with sha256(secret)
// (ServerCipherAuth#initialize, src/authm_mad/remotes/server_cipher/server_cipher_auth.rb),
// the driver with the stored password; one.user.passwd stores a non-core user's password
// as given (User::set_password, src/um/User.cc).
func ServerAdminPassword(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// ServerAdmin is serveradmin's login as the services make it, valid until expires:
// session "serveradmin:serveradmin:<token>", the token "serveradmin:serveradmin:<expiry>"
// encrypted with AES-256-CBC, key the first 32 characters of sha256(secret) and IV its
// first 16 (ServerCipherAuth#login_token). oned hands it to the server_cipher driver,
// which decrypts it with the stored password (UserPool::authenticate_server).
func ServerAdmin(secret string, expires time.Time) (Credentials, error) {
	token, err := serverCipher(ServerAdminPassword(secret), fmt.Sprintf("%s:%s:%d", ServerAdminUser, ServerAdminUser, expires.Unix()))
	if err != nil {
		return Credentials{}, err
	}
	return Credentials{User: ServerAdminUser, Password: ServerAdminUser + ":" + token}, nil
}

func serverCipher(stored, text string) (string, error) {
	block, err := aes.NewCipher([]byte(stored[:32]))
	if err != nil {
		return "", err
	}
	pad := aes.BlockSize - len(text)%aes.BlockSize
	plain := append([]byte(text), bytes.Repeat([]byte{byte(pad)}, pad)...)
	out := make([]byte, len(plain))
	cipher.NewCBCEncrypter(block, []byte(stored[:16])).CryptBlocks(out, plain)
	return base64.StdEncoding.EncodeToString(out), nil
}

// CheckServerCipher is the server_cipher driver's check of a serveradmin token against the
// stored password (ServerCipherAuth#authenticate): it decrypts, and the token's user must
// be user and its expiry in the future. The oned double authenticates with it.
func CheckServerCipher(stored, user, token string, now time.Time) error {
	if len(stored) < 32 {
		return errors.New("stored password too short for server_cipher")
	}
	raw, err := base64.StdEncoding.DecodeString(token)
	if err != nil || len(raw) == 0 || len(raw)%aes.BlockSize != 0 {
		return errors.New("bad token")
	}
	block, err := aes.NewCipher([]byte(stored[:32]))
	if err != nil {
		return err
	}
	plain := make([]byte, len(raw))
	cipher.NewCBCDecrypter(block, []byte(stored[:16])).CryptBlocks(plain, raw)
	pad := int(plain[len(plain)-1])
	if pad == 0 || pad > aes.BlockSize || pad > len(plain) {
		return errors.New("bad decrypt")
	}
	fields := strings.Split(string(plain[:len(plain)-pad]), ":")
	if fields[0] != user {
		return errors.New("user name mismatch") // the driver: "User name missmatch"
	}
	expires, err := strconv.ParseInt(fields[len(fields)-1], 10, 64)
	if err != nil || now.Unix() >= expires {
		return errors.New("login token expired")
	}
	return nil
}

// systemConfig is the part of one.system.config the operator reads.
type systemConfig struct {
	OneKey string `xml:"ONE_KEY"`
}

// OneKey is the server's one_key, the key oned encrypts ENCRYPTED_ATTR values with: read
// from (or generated into) var/.one/one_key at start and kept among the configuration
// attributes (OpenNebulaTemplate::load_key, src/template/OpenNebulaTemplate.cc), which
// one.system.config shows whole to the oneadmin group (NebulaService::
// get_configuration_xml). Leader-only: a follower answers with its leader's.
func (c *Client) OneKey(ctx context.Context) (string, error) {
	var cfg systemConfig
	if err := c.callXML(ctx, &cfg, "one.system.config"); err != nil {
		return "", err
	}
	if cfg.OneKey == "" {
		return "", &TransportError{Method: "one.system.config", Endpoint: c.endpoint, Err: errors.New("no ONE_KEY in the configuration")}
	}
	return cfg.OneKey, nil
}

// UserPasswd is one.user.passwd (UserAPI::password, src/rm/api/UserAPI.cc): the oneadmin
// group may set any user's password; it also ends the user's cached sessions.
func (c *Client) UserPasswd(ctx context.Context, userID int, password string) error {
	_, err := c.callID(ctx, "one.user.passwd", userID, password)
	return err
}
