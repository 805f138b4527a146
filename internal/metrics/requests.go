// Package metrics counts the operator's requests to the API server by verb and resource,
// so that what the operator costs the cluster can be read from its own /metrics.
package metrics

import (
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

// APIRequests is opennebula_operator_api_requests_total{verb,resource,code}.
var APIRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "opennebula_operator_api_requests_total",
	Help: "Requests the operator sent to the Kubernetes API server, by verb, resource and HTTP status code.",
}, []string{"verb", "resource", "code"})

func init() {
	ctrlmetrics.Registry.MustRegister(APIRequests)
}

// CountRequests wraps a client transport (rest.Config.Wrap) to count every request.
func CountRequests(rt http.RoundTripper) http.RoundTripper {
	return roundTripper{next: rt}
}

type roundTripper struct{ next http.RoundTripper }

func (r roundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.next.RoundTrip(req)
	code := "error"
	if err == nil {
		code = http.StatusText(resp.StatusCode)
		if code == "" {
			code = "unknown"
		}
		code = strings.ReplaceAll(strings.ToLower(code), " ", "_")
	}
	verb, resource := Classify(req)
	APIRequests.WithLabelValues(verb, resource, code).Inc()
	return resp, err
}

// Classify names a request the way the API server's audit log does: the verb (get,
// list, watch, create, update, patch, delete) and the resource, with its subresource
// ("opennebulafrontends/status").
func Classify(req *http.Request) (verb, resource string) {
	parts := strings.Split(strings.Trim(req.URL.Path, "/"), "/")
	// /api/v1/... or /apis/<group>/<version>/...
	switch {
	case len(parts) >= 2 && parts[0] == "api":
		parts = parts[2:]
	case len(parts) >= 3 && parts[0] == "apis":
		parts = parts[3:]
	default:
		return strings.ToLower(req.Method), "nonresource"
	}
	if len(parts) >= 2 && parts[0] == "namespaces" && len(parts) > 2 {
		parts = parts[2:]
	}
	named := len(parts) >= 2
	if len(parts) > 0 {
		resource = parts[0]
	}
	if len(parts) >= 3 {
		resource += "/" + parts[2]
	}
	switch req.Method {
	case http.MethodGet:
		switch {
		case req.URL.Query().Get("watch") == "true":
			verb = "watch"
		case named:
			verb = "get"
		default:
			verb = "list"
		}
	case http.MethodPost:
		verb = "create"
	case http.MethodPut:
		verb = "update"
	case http.MethodPatch:
		verb = "patch"
	case http.MethodDelete:
		verb = "delete"
	default:
		verb = strings.ToLower(req.Method)
	}
	return verb, resource
}
