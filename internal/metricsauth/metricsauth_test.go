package metricsauth

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	authnv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// env is a real API server (RBAC authorisation, ServiceAccount tokens), as the manager's
// filter meets it in a cluster.
type env struct {
	cfg     *rest.Config
	c       client.Client
	reviews atomic.Int64 // TokenReviews and SubjectAccessReviews sent
}

func startEnv(t *testing.T) *env {
	t.Helper()
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Fatal("KUBEBUILDER_ASSETS is not set: run the tests with `make test`, which builds and locates the API server binaries")
	}
	te := &envtest.Environment{}
	cfg, err := te.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = te.Stop() })
	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{c: c}
	e.cfg = rest.CopyConfig(cfg)
	e.cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripper(func(req *http.Request) (*http.Response, error) {
			if strings.HasSuffix(req.URL.Path, "/tokenreviews") || strings.HasSuffix(req.URL.Path, "/subjectaccessreviews") {
				e.reviews.Add(1)
			}
			return rt.RoundTrip(req)
		})
	})
	return e
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// serviceAccountToken makes a ServiceAccount and returns a token for it.
func (e *env) serviceAccountToken(t *testing.T, name string) string {
	t.Helper()
	ctx := context.Background()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}}
	if err := e.c.Create(ctx, sa); err != nil {
		t.Fatal(err)
	}
	tr := &authnv1.TokenRequest{Spec: authnv1.TokenRequestSpec{ExpirationSeconds: new(int64(3600))}}
	if err := e.c.SubResource("token").Create(ctx, sa, tr); err != nil {
		t.Fatal(err)
	}
	return tr.Status.Token
}

// grantMetrics gives name what the install's metrics-reader ClusterRole gives.
func (e *env) grantMetrics(t *testing.T, name string) {
	t.Helper()
	ctx := context.Background()
	role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name + "-metrics-reader"},
		Rules: []rbacv1.PolicyRule{{NonResourceURLs: []string{"/metrics"}, Verbs: []string{"get"}}}}
	binding := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name + "-metrics-reader"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: name, Namespace: "default"}}}
	for _, obj := range []client.Object{role, binding} {
		if err := e.c.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}
}

// served is the filter in front of a handler that records what reached it.
type served struct {
	http.Handler
	reached []*http.Request
}

func (e *env) serve(t *testing.T, r *Reviewer) *served {
	t.Helper()
	s := &served{}
	h, err := r.Filter(testr.New(t), http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		s.reached = append(s.reached, req)
		_, _ = fmt.Fprintln(w, "metrics")
	}))
	if err != nil {
		t.Fatal(err)
	}
	s.Handler = h
	return s
}

func (s *served) status(method, path, authorization string) int {
	req := httptest.NewRequest(method, path, nil)
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	w := httptest.NewRecorder()
	s.ServeHTTP(w, req)
	return w.Code
}

func TestFilter(t *testing.T) {
	e := startEnv(t)
	r, err := NewReviewer(e.cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := e.serve(t, r)
	scraper := e.serviceAccountToken(t, "scraper")
	stranger := e.serviceAccountToken(t, "stranger")
	e.grantMetrics(t, "scraper")

	for _, tc := range []struct {
		name, method, path, authorization string
		want                              int
	}{
		{"no credentials", http.MethodGet, "/metrics", "", http.StatusUnauthorized},
		{"not a bearer token", http.MethodGet, "/metrics", "Basic " + scraper, http.StatusUnauthorized},
		{"an empty bearer token", http.MethodGet, "/metrics", "Bearer ", http.StatusUnauthorized},
		{"a token the API server did not issue", http.MethodGet, "/metrics", "Bearer made-up", http.StatusUnauthorized},
		{"a ServiceAccount without the role", http.MethodGet, "/metrics", "Bearer " + stranger, http.StatusForbidden},
		{"a verb the role does not grant", http.MethodPost, "/metrics", "Bearer " + scraper, http.StatusForbidden},
		{"a path the role does not grant", http.MethodGet, "/debug/pprof/", "Bearer " + scraper, http.StatusForbidden},
		{"the metrics reader", http.MethodGet, "/metrics", "Bearer " + scraper, http.StatusOK},
		{"the scheme in any case", http.MethodGet, "/metrics", "bEaReR " + scraper, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reached := len(s.reached)
			// RBAC's authorizer reads its bindings from an informer: the binding made above
			// may take a moment to count.
			deadline := time.Now().Add(10 * time.Second)
			got := s.status(tc.method, tc.path, tc.authorization)
			for got != tc.want && tc.want == http.StatusOK && time.Now().Before(deadline) {
				r.allowed = answers[bool]{}
				time.Sleep(100 * time.Millisecond)
				got = s.status(tc.method, tc.path, tc.authorization)
			}
			if got != tc.want {
				t.Fatalf("status %d, want %d", got, tc.want)
			}
			if n := len(s.reached) - reached; (tc.want == http.StatusOK) != (n > 0) {
				t.Fatalf("the handler was reached %d times, status %d", n, got)
			}
			if tc.want == http.StatusOK && s.reached[len(s.reached)-1].Header.Get("Authorization") != "" {
				t.Fatal("the handler saw the bearer token")
			}
		})
	}
}

// TestFilterRemembersAnswers: a scraper's next scrape costs no review while the answers
// live, a denial is looked at again once its shorter lifetime is over (a binding made
// meanwhile then counts), and an allowed answer outlives the binding's removal until its
// own lifetime is over.
func TestFilterRemembersAnswers(t *testing.T) {
	e := startEnv(t)
	r, err := NewReviewer(e.cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.deniedTTL = 2 * time.Second
	s := e.serve(t, r)
	token := "Bearer " + e.serviceAccountToken(t, "scraper")

	if got := s.status(http.MethodGet, "/metrics", token); got != http.StatusForbidden {
		t.Fatalf("before the binding: %d", got)
	}
	if n := e.reviews.Load(); n != 2 {
		t.Fatalf("first scrape: %d reviews, want a TokenReview and a SubjectAccessReview", n)
	}
	e.grantMetrics(t, "scraper")
	time.Sleep(time.Second) // RBAC's informer has seen the binding
	if got := s.status(http.MethodGet, "/metrics", token); got != http.StatusForbidden {
		t.Fatalf("while the denial is remembered: %d", got)
	}
	if n := e.reviews.Load(); n != 2 {
		t.Fatalf("second scrape: %d reviews, want none more", n)
	}
	time.Sleep(r.deniedTTL)
	if got := s.status(http.MethodGet, "/metrics", token); got != http.StatusOK {
		t.Fatalf("once the denial expired: %d", got)
	}
	if n := e.reviews.Load(); n != 3 {
		t.Fatalf("third scrape: %d reviews, want one SubjectAccessReview more (the token's review lives a minute)", n)
	}
	if err := e.c.Delete(context.Background(), &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "scraper-metrics-reader"}}); err != nil {
		t.Fatal(err)
	}
	if got := s.status(http.MethodGet, "/metrics", token); got != http.StatusOK {
		t.Fatalf("while the allowance is remembered: %d", got)
	}
	if n := e.reviews.Load(); n != 3 {
		t.Fatalf("fourth scrape: %d reviews, want none more", n)
	}
}

func TestAnswersStayBounded(t *testing.T) {
	var a answers[bool]
	for i := range 3 * maxRemembered {
		a.put(fmt.Sprint(i), true, time.Hour)
	}
	if len(a.m) > maxRemembered {
		t.Fatalf("%d answers kept, bound %d", len(a.m), maxRemembered)
	}
	if _, ok := a.get(fmt.Sprint(3*maxRemembered - 1)); !ok {
		t.Fatal("the last answer put is gone")
	}
	a.put("short", true, -time.Second)
	if _, ok := a.get("short"); ok {
		t.Fatal("an expired answer was returned")
	}
}

// TestFilterWithoutPermissionToReview: a manager that may not create reviews (its
// ClusterRole lost the rule) answers 500 at once; the API server's refusal is an answer,
// not a failure to reach it, so it is not retried.
func TestFilterWithoutPermissionToReview(t *testing.T) {
	e := startEnv(t)
	token := "Bearer " + e.serviceAccountToken(t, "scraper")
	e.grantMetrics(t, "scraper")
	unprivileged := rest.CopyConfig(e.cfg)
	unprivileged.Impersonate = rest.ImpersonationConfig{UserName: "nobody"}
	r, err := NewReviewer(unprivileged, nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if got := e.serve(t, r).status(http.MethodGet, "/metrics", token); got != http.StatusInternalServerError {
		t.Fatalf("status %d, want 500", got)
	}
	if n := e.reviews.Load(); n != 1 {
		t.Fatalf("%d reviews sent, want 1 (a refusal is not retried)", n)
	}
	if d := time.Since(start); d > backoff.Duration {
		t.Fatalf("took %s: retried", d)
	}

	// When expired answers make the room, the live ones all stay.
	var b answers[bool]
	for i := range maxRemembered - 1 {
		b.put(fmt.Sprint(i), true, time.Hour)
	}
	b.put("expired", true, -time.Second)
	b.put("new", true, time.Hour)
	if len(b.m) != maxRemembered {
		t.Fatalf("%d answers kept after sweeping one expired answer, want %d", len(b.m), maxRemembered)
	}
}
