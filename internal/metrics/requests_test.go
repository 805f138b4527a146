package metrics

import (
	"net/http"
	"net/url"
	"testing"
)

func TestClassify(t *testing.T) {
	for _, tc := range []struct{ method, url, verb, resource string }{
		{"GET", "/api/v1/namespaces/ns/services/one", "get", "services"},
		{"GET", "/api/v1/services?limit=500", "list", "services"},
		{"GET", "/api/v1/services?watch=true&resourceVersion=1", "watch", "services"},
		{"GET", "/api/v1/namespaces", "list", "namespaces"},
		{"GET", "/api/v1/namespaces/ns", "get", "namespaces"},
		{"PATCH", "/apis/apps/v1/namespaces/ns/statefulsets/one?fieldManager=x", "patch", "statefulsets"},
		{"PATCH", "/apis/opennebula.io/v1alpha1/namespaces/ns/opennebulafrontends/one/status", "patch", "opennebulafrontends/status"},
		{"POST", "/api/v1/namespaces/ns/events", "create", "events"},
		{"PUT", "/api/v1/namespaces/ns/services/one", "update", "services"},
		{"DELETE", "/apis/apps/v1/namespaces/ns/statefulsets/one", "delete", "statefulsets"},
		{"GET", "/healthz", "get", "nonresource"},
	} {
		u, _ := url.Parse(tc.url)
		verb, resource := Classify(&http.Request{Method: tc.method, URL: u})
		if verb != tc.verb || resource != tc.resource {
			t.Errorf("%s %s = %s %s, want %s %s", tc.method, tc.url, verb, resource, tc.verb, tc.resource)
		}
	}
}
