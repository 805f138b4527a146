package builder

import (
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
}

// Ports is the one table every generated object takes its ports from (see
// shared/DOMAIN.md). Order is the order in which they appear in every object.
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
	{Name: "ssh", Port: 22, Protocol: corev1.ProtocolTCP, Headless: true},
}

// PortOned is the name of oned's XML-RPC port, used by probes and status endpoints.
const PortOned = "oned"

// containerPorts returns every port of the table as named container ports.
func containerPorts() []corev1.ContainerPort {
	out := make([]corev1.ContainerPort, 0, len(Ports))
	for _, p := range Ports {
		out = append(out, corev1.ContainerPort{Name: p.Name, ContainerPort: p.Port, Protocol: p.Protocol})
	}
	return out
}

// servicePorts returns the table's ports that satisfy keep, each targeting the
// container port of the same name.
func servicePorts(keep func(FrontendPort) bool) []corev1.ServicePort {
	var out []corev1.ServicePort
	for _, p := range Ports {
		if !keep(p) {
			continue
		}
		out = append(out, corev1.ServicePort{
			Name:       p.Name,
			Port:       p.Port,
			Protocol:   p.Protocol,
			TargetPort: intstr.FromString(p.Name),
		})
	}
	return out
}
