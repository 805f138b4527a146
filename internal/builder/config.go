package builder

import (
	"fmt"
	"maps"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	opennebulav1alpha1 "github.com/opennebula-operator/opennebula-operator/api/v1alpha1"
)

// Keys of the ConfigMap and where the containers read them.
const (
	NginxConfKey   = "nginx.conf"
	SSHDConfigKey  = "sshd_config"
	configMountDir = "/etc/opennebula-operator"
	// sshHostKeyDir keeps sshd's host keys on the data volume, so that the hypervisors'
	// known_hosts stay valid across restarts and reschedules.
	sshHostKeyDir = DataMountPath + "/.ssh/host-keys"
)

// ConfigMap holds the FireEdge proxy's nginx.conf and the SSH server's sshd_config, and
// when the start wrapper runs (UsesStartWrapper) the wrapper, oned's Raft settings, the
// Raft hook and the seed script.
func ConfigMap(fe *opennebulav1alpha1.OpenNebulaFrontend, in Inputs) *corev1.ConfigMap {
	data := map[string]string{
		NginxConfKey:  nginxConf(fe),
		SSHDConfigKey: sshdConfig(),
	}
	if UsesStartWrapper(fe, in) {
		maps.Copy(data, RaftFiles())
	}
	return &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: NamesFor(fe.Name).Config, Namespace: fe.Namespace, Labels: Labels(fe)},
		Data:       data,
	}
}

// nginxConf proxies FireEdge (websockets included) and replaces its __HOST__ placeholder
// with the address the browser used, or publicURL.
func nginxConf(fe *opennebulav1alpha1.OpenNebulaFrontend) string {
	host := "$scheme://$http_host"
	if u := fe.Spec.FireEdgeProxy.PublicURL; u != "" {
		host = strings.NewReplacer(`'`, `\'`, `$`, `${dollar}`).Replace(strings.TrimRight(u, "/"))
	}
	return fmt.Sprintf(`pid /tmp/nginx.pid;
events { worker_connections 1024; }
http {
  geo $dollar { default "$"; }
  client_body_temp_path /tmp/client_body;
  proxy_temp_path /tmp/proxy;
  server {
    listen %d;
    location / {
      proxy_pass http://127.0.0.1:%d;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection "upgrade";
      proxy_set_header Host $host;
      proxy_set_header X-Real-IP $remote_addr;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header Accept-Encoding "";
      sub_filter '__HOST__' '%s';
      sub_filter_once off;
      sub_filter_types application/javascript text/javascript application/json;
    }
  }
}
`, FireEdgeProxyPort, PortNumber(PortFireEdge), host)
}

// sshdConfig lets oneadmin (and only oneadmin, by key) in on port 22.
func sshdConfig() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Port %d\n", PortNumber(PortSSH))
	for _, t := range []string{"rsa", "ecdsa", "ed25519"} {
		fmt.Fprintf(&b, "HostKey %s/ssh_host_%s_key\n", sshHostKeyDir, t)
	}
	b.WriteString(`AuthorizedKeysFile ` + DataMountPath + `/.ssh/authorized_keys
AllowUsers oneadmin
PermitRootLogin no
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PidFile none
Subsystem sftp internal-sftp
`)
	return b.String()
}
