package status

import (
	"cmp"
	"fmt"
	"net"
	"strconv"

	opennebulav1alpha1 "github.com/opennebula-operator/opennebula-operator/api/v1alpha1"
	"github.com/opennebula-operator/opennebula-operator/internal/builder"
)

// reportFacts fills in what users need to reach and operate the frontend, the Helm
// chart's NOTES.txt as status fields.
func reportFacts(status *opennebulav1alpha1.OpenNebulaFrontendStatus, fe *opennebulav1alpha1.OpenNebulaFrontend, obs Observation, opts builder.Options) {
	names := builder.NamesFor(fe.Name)
	domain := cmp.Or(opts.ClusterDomain, builder.DefaultClusterDomain)
	svcHost := fmt.Sprintf("%s.%s.svc.%s", names.ExternalService, fe.Namespace, domain)
	port := func(name string) string { return strconv.Itoa(int(builder.PortNumber(name))) }
	lb := obs.Inputs.LoadBalancerAddress
	status.Endpoints = opennebulav1alpha1.Endpoints{
		Oned:     "http://" + net.JoinHostPort(svcHost, port(builder.PortOned)) + "/RPC2",
		FireEdge: "http://" + net.JoinHostPort(svcHost, port(builder.PortFireEdge)) + "/fireedge/sunstone",
	}
	if lb != "" {
		status.Endpoints.OnedExternal = "http://" + net.JoinHostPort(lb, port(builder.PortOned)) + "/RPC2"
		status.Endpoints.FireEdge = "http://" + net.JoinHostPort(lb, port(builder.PortFireEdge)) + "/fireedge/sunstone"
	}
	if ing := fe.Spec.Ingress; ing.Enabled && ing.Host != "" {
		scheme := "http"
		if ing.TLSSecretName != "" {
			scheme = "https"
		}
		status.Endpoints.FireEdge = scheme + "://" + ing.Host + "/fireedge/sunstone"
	}
	status.Hostname = builder.Hostname(fe, opts)
	status.MonitorAddress = builder.MonitorAddress(fe, obs.Inputs)
	status.AdminPasswordSecret = builder.AdminPasswordRef(fe).Name
	status.SSHKeySecret = builder.SSHKeySecretName(fe)
}
