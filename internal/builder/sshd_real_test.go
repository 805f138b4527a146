//go:build sshd

package builder

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestRealSSHDSidecar runs the SSH server sidecar as its pod does, with Debian's
// openssh-server (what images/sshd installs): the operator's script and sshd_config, as
// oneadmin (UID 9869) and never root, over a data directory made like the frontend's
// volume (group-writable, setgid: fsGroup 9869). A hypervisor logs in with oneadmin's key
// and copies a file back; root and passwords are refused; a restart keeps the host keys.
// make test-sshd (hack/test-sshd.sh installs openssh-server and the oneadmin user).
func TestRealSSHDSidecar(t *testing.T) {
	data := DataMountPath
	key := makeOneadminHome(t, data)

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	conf := strings.Replace(sshdConfig(), fmt.Sprintf("Port %d\n", PortNumber(PortSSH)), fmt.Sprintf("Port %d\nListenAddress 127.0.0.1\n", port), 1)
	confDir := t.TempDir() // readable by oneadmin, as the ConfigMap's mount is
	for _, d := range []string{filepath.Dir(confDir), confDir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	confPath := filepath.Join(confDir, SSHDConfigKey)
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	keyDir := sshHostKeyDir

	var log bytes.Buffer
	start := func() *exec.Cmd {
		cmd := exec.Command("setpriv", "--reuid", strconv.Itoa(int(OneadminUID)), "--regid", strconv.Itoa(int(OneadminGID)),
			"--clear-groups", "sh", "-c", SSHDScript(keyDir, confPath))
		cmd.Stdout, cmd.Stderr = &log, &log
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { stop(cmd) })
		return cmd
	}
	client := func(user string, extra ...string) (string, error) {
		args := append([]string{"-i", key, "-p", strconv.Itoa(port), "-o", "BatchMode=yes", "-o", "LogLevel=ERROR", "-o", "StrictHostKeyChecking=no",
			"-o", "UserKnownHostsFile=" + filepath.Join(t.TempDir(), "known_hosts"), user + "@127.0.0.1"}, extra...)
		out, err := exec.Command("ssh", args...).CombinedOutput()
		return string(out), err
	}
	hostKeys := func() string {
		var out string
		deadline := time.Now().Add(20 * time.Second)
		for {
			o, err := exec.Command("ssh-keyscan", "-p", strconv.Itoa(port), "-t", "ed25519", "127.0.0.1").Output()
			if err == nil && len(o) > 0 {
				out = string(o)
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("sshd does not answer on %d: %v\n%s", port, err, log.String())
			}
			time.Sleep(200 * time.Millisecond)
		}
		return out
	}

	cmd := start()
	before := hostKeys()
	out, err := client("oneadmin", "id -u; ps -o user= -p $PPID")
	if err != nil || !strings.HasPrefix(out, strconv.Itoa(int(OneadminUID))+"\n") {
		t.Fatalf("oneadmin's login: %v\n%s\nsshd: %s", err, out, log.String())
	}
	// A hypervisor copies data back to a datastore: a file written as oneadmin.
	if out, err := client("oneadmin", "mkdir -p datastores/0 && echo disk > datastores/0/disk.0"); err != nil {
		t.Fatalf("copy back: %v\n%s", err, out)
	}
	if fi, err := os.Stat(filepath.Join(data, "datastores", "0", "disk.0")); err != nil || fi.Sys().(*syscall.Stat_t).Uid != uint32(OneadminUID) {
		t.Fatalf("the copied file: %v %+v", err, fi)
	}
	if out, err := client("root", "true"); err == nil {
		t.Fatalf("root logged in: %s", out)
	}
	if out, err := exec.Command("ssh", "-p", strconv.Itoa(port), "-o", "BatchMode=yes", "-o", "PubkeyAuthentication=no",
		"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "oneadmin@127.0.0.1", "true").CombinedOutput(); err == nil ||
		!strings.Contains(string(out), "Permission denied (publickey)") {
		t.Fatalf("a login without a key: %v %s", err, out)
	}
	for _, f := range []string{"ssh_host_rsa_key", "ssh_host_ecdsa_key", "ssh_host_ed25519_key"} {
		fi, err := os.Stat(filepath.Join(keyDir, f))
		if err != nil || fi.Mode().Perm() != 0o600 || fi.Sys().(*syscall.Stat_t).Uid != uint32(OneadminUID) {
			t.Fatalf("host key %s: %v %+v", f, err, fi)
		}
	}

	// A restart (the container again) keeps the host keys: hypervisors' known_hosts hold.
	stop(cmd)
	start()
	if after := hostKeys(); after != before {
		t.Fatalf("host key changed across a restart:\n%s\n%s", before, after)
	}
}

// stop ends the sidecar's process group and waits for it.
func stop(cmd *exec.Cmd) {
	if cmd.ProcessState != nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
}

// mustRun runs a command, failing the test when it fails.
func mustRun(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}

// makeOneadminHome makes the data volume at its place, oneadmin's home, with a new key
// pair's public key authorized, and returns the private key's path. sshd's StrictModes
// checks every directory from the authorized_keys file up to the home directory.
func makeOneadminHome(t *testing.T, data string) string {
	if out, err := exec.Command("getent", "passwd", strconv.Itoa(int(OneadminUID))).Output(); err != nil ||
		!strings.Contains(string(out), ":"+data+":") {
		t.Fatalf("UID %d must be oneadmin with home %s, as in images/sshd (hack/test-sshd.sh makes it): %q %v", OneadminUID, data, out, err)
	}
	if _, err := os.Stat(data); err == nil {
		t.Fatalf("%s exists: this test makes it and removes it", data)
	}
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(data) })
	key := filepath.Join(t.TempDir(), "id_ed25519")
	mustRun(t, "ssh-keygen", "-q", "-N", "", "-t", "ed25519", "-f", key)
	pub, _ := os.ReadFile(key + ".pub")
	ssh := filepath.Join(data, ".ssh")
	if err := os.MkdirAll(ssh, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ssh, "authorized_keys"), pub, 0o600); err != nil {
		t.Fatal(err)
	}
	mustRun(t, "chown", "-R", fmt.Sprintf("%d:%d", OneadminUID, OneadminGID), ssh)
	// The volume's root as fsGroup leaves it: root's, the group's, group-writable, setgid.
	mustRun(t, "chown", fmt.Sprintf("0:%d", OneadminGID), data)
	if err := os.Chmod(data, 0o2775|os.ModeSetgid); err != nil {
		t.Fatal(err)
	}
	return key
}
