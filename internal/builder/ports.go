package builder

import (
	"cmp"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// FrontendPort is one row of the frontend's port table.
type FrontendPort struct {
	// Name is the container port's name; Services target the port by this name, so a
	// port can never be exposed by a Service without the container declaring it.
	Name     string
	Port     int32
	Protocol corev1.Protocol
	// Headless ports are published on the headless Service: the ones peers and
	// hypervisors reach per pod (XML-RPC, monitoring pushes, SSH copy-back).
	Headless bool
	// Container is the container that listens: the frontend, or the SSH server sidecar.
	Container string
}

// Ports is the one table every generated object takes its ports from (see
// docs/opennebula.md). Order is the order in which they appear in every object.
var Ports = []FrontendPort{
	{Name: "oned", Port: 2633, Protocol: corev1.ProtocolTCP, Headless: true},
	{Name: "fireedge", Port: 2616, Protocol: corev1.ProtocolTCP},
	{Name: "oneflow", Port: 2474, Protocol: corev1.ProtocolTCP},
	{Name: "onegate", Port: 5030, Protocol: corev1.ProtocolTCP},
	// monitord listens on 4124 for both protocols: hypervisor probes push VM state over
	// TCP and host/VM metrics over UDP. The port hypervisors are told must equal this one.
	{Name: "monitord-tcp", Port: 4124, Protocol: corev1.ProtocolTCP, Headless: true},
	{Name: "monitord-udp", Port: 4124, Protocol: corev1.ProtocolUDP, Headless: true},
	// Hypervisors copy data back over SSH; OpenNebula does not support another port.
	{Name: PortSSH, Port: 22, Protocol: corev1.ProtocolTCP, Headless: true, Container: SSHDContainerName},
}

// The FireEdge proxy sidecar listens here; with the proxy on, the Services' fireedge
// port targets it instead of FireEdge itself.
const (
	PortFireEdge      = "fireedge"
	PortFireEdgeProxy = "fireedge-proxy"
	FireEdgeProxyPort = 8080
)

// Names of the ports other code refers to.
const (
	// PortOned is oned's XML-RPC port, used by probes and status endpoints.
	PortOned = "oned"
	// PortSSH is where hypervisors copy data back.
	PortSSH = "ssh"
)

// PortNumber is the number of the table's port of that name.
func PortNumber(name string) int32 {
	for _, p := range Ports {
		if p.Name == name {
			return p.Port
		}
	}
	panic("port " + name + " is not in the port table")
}

// containerPorts returns the table's ports served by the named container.
func containerPorts(container string) []corev1.ContainerPort {
	var out []corev1.ContainerPort
	for _, p := range Ports {
		if cmp.Or(p.Container, ContainerName) == container {
			out = append(out, corev1.ContainerPort{Name: p.Name, ContainerPort: p.Port, Protocol: p.Protocol})
		}
	}
	return out
}

// servicePorts returns the table's ports that satisfy keep, each targeting by name the
// container port that serves it (the proxy's for fireedge when the proxy is on).
func servicePorts(proxy bool, keep func(FrontendPort) bool) []corev1.ServicePort {
	var out []corev1.ServicePort
	for _, p := range Ports {
		if !keep(p) {
			continue
		}
		target := p.Name
		if proxy && p.Name == PortFireEdge {
			target = PortFireEdgeProxy
		}
		out = append(out, corev1.ServicePort{
			Name:       p.Name,
			Port:       p.Port,
			Protocol:   p.Protocol,
			TargetPort: intstr.FromString(target),
		})
	}
	return out
}
