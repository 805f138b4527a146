// Package metricsauth protects the manager's metrics endpoint: only callers the API server
// authenticates (a TokenReview of their bearer token) and authorises (a SubjectAccessReview
// of the request's verb and path, e.g. the install's metrics-reader ClusterRole granting
// get on /metrics) are served.
//
// It does what controller-runtime's metrics/filters.WithAuthenticationAndAuthorization does
// (pkg/metrics/filters/filters.go, v0.25: its delegating authenticator and authorizer, the
// same cache lifetimes and retry backoff) without linking k8s.io/apiserver. That package
// brings cel-go, antlr, gRPC and OpenTelemetry with it: 19 MB of the manager's 52 MB of
// loaded text, read-only data and function tables, pages that count in its RSS.
package metricsauth

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	authnv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	authenticationv1 "k8s.io/client-go/kubernetes/typed/authentication/v1"
	authorizationv1 "k8s.io/client-go/kubernetes/typed/authorization/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

// Lifetimes of remembered answers, as controller-runtime's filter sets them: a token's
// review for a minute (either way), an allowed request for five, a denied one for 30 s.
const (
	tokenTTL   = time.Minute
	allowedTTL = 5 * time.Minute
	deniedTTL  = 30 * time.Second
	// reviewTimeout bounds one TokenReview or SubjectAccessReview.
	reviewTimeout = 10 * time.Second
	// maxRemembered bounds each cache: expired answers are swept when it is reached, and
	// when that is not enough an arbitrary half goes (a handful of scrapers never gets
	// near it; a flood of made-up tokens cannot grow it).
	maxRemembered = 1024
)

// backoff retries a review the API server failed to answer (not one it refused), as
// controller-runtime's filter does (k8s.io/apiserver pkg/server/options/authentication.go
// DefaultAuthWebhookRetryBackoff).
var backoff = wait.Backoff{Duration: 500 * time.Millisecond, Factor: 1.5, Jitter: 0.2, Steps: 5}

// Reviewer answers the two questions through the API server, remembering the answers.
type Reviewer struct {
	tokens authenticationv1.TokenReviewInterface
	access authorizationv1.SubjectAccessReviewInterface

	// ttl are the answers' lifetimes (tests shorten them).
	tokenTTL, allowedTTL, deniedTTL time.Duration

	users   answers[*authnv1.UserInfo] // by the token's digest; nil: not authenticated
	allowed answers[bool]              // by user, verb and path
}

// New is a metricsserver.Options.FilterProvider.
func New(config *rest.Config, httpClient *http.Client) (metricsserver.Filter, error) {
	r, err := NewReviewer(config, httpClient)
	if err != nil {
		return nil, err
	}
	return r.Filter, nil
}

// NewReviewer makes a Reviewer whose reviews go to config's API server, through
// httpClient (nil: one made from config).
func NewReviewer(config *rest.Config, httpClient *http.Client) (*Reviewer, error) {
	if httpClient == nil {
		var err error
		if httpClient, err = rest.HTTPClientFor(config); err != nil {
			return nil, err
		}
	}
	authn, err := authenticationv1.NewForConfigAndClient(config, httpClient)
	if err != nil {
		return nil, err
	}
	authz, err := authorizationv1.NewForConfigAndClient(config, httpClient)
	if err != nil {
		return nil, err
	}
	return &Reviewer{
		tokens: authn.TokenReviews(), access: authz.SubjectAccessReviews(),
		tokenTTL: tokenTTL, allowedTTL: allowedTTL, deniedTTL: deniedTTL,
	}, nil
}

// Filter wraps handler: 401 without a bearer token the API server accepts, 403 when its
// user may not do this request's verb on its path, 500 when the API server could not say.
func (r *Reviewer) Filter(log logr.Logger, handler http.Handler) (http.Handler, error) {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		user, err := r.authenticate(req)
		if err != nil {
			log.Error(err, "Authentication failed")
			http.Error(w, "Authentication failed", http.StatusInternalServerError)
			return
		}
		if user == nil {
			log.V(4).Info("Authentication failed")
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		// The verb as the API server's request info names a non-resource request's: the
		// method in lower case (k8s.io/apiserver pkg/endpoints/request/requestinfo.go).
		verb := strings.ToLower(req.Method)
		allowed, err := r.authorize(req.Context(), user, verb, req.URL.Path)
		if err != nil {
			msg := fmt.Sprintf("Authorization for user %s failed", user.Username)
			log.Error(err, msg)
			http.Error(w, msg, http.StatusInternalServerError)
			return
		}
		if !allowed {
			msg := fmt.Sprintf("Authorization denied for user %s", user.Username)
			log.V(4).Info(msg)
			http.Error(w, msg, http.StatusForbidden)
			return
		}
		handler.ServeHTTP(w, req)
	}), nil
}

// authenticate says whose the request's bearer token is: nil when there is none or the
// API server does not accept it. The token is taken as k8s.io/apiserver's bearer token
// authenticator takes it (pkg/authentication/request/bearertoken): "Bearer" in any case,
// one space, a non-empty token; and the header is removed so that the handler never sees it.
func (r *Reviewer) authenticate(req *http.Request) (*authnv1.UserInfo, error) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(req.Header.Get("Authorization")), " ")
	if !ok || !strings.EqualFold(scheme, "bearer") {
		return nil, nil
	}
	if token = strings.TrimSpace(token); token == "" {
		return nil, nil
	}
	req.Header.Del("Authorization")
	// Keyed by a digest: the cache does not keep the tokens themselves.
	key := fmt.Sprintf("%x", sha256.Sum256([]byte(token)))
	if user, ok := r.users.get(key); ok {
		return user, nil
	}
	var user *authnv1.UserInfo
	err := review(req.Context(), func(ctx context.Context) error {
		res, err := r.tokens.Create(ctx, &authnv1.TokenReview{Spec: authnv1.TokenReviewSpec{Token: token}}, metav1.CreateOptions{})
		if err == nil && res.Status.Authenticated {
			user = &res.Status.User
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("reviewing the token: %w", err)
	}
	r.users.put(key, user, r.tokenTTL)
	return user, nil
}

// authorize says whether user may do verb on the non-resource path.
func (r *Reviewer) authorize(ctx context.Context, user *authnv1.UserInfo, verb, path string) (bool, error) {
	sar := &authzv1.SubjectAccessReview{Spec: authzv1.SubjectAccessReviewSpec{
		User: user.Username, UID: user.UID, Groups: user.Groups,
		NonResourceAttributes: &authzv1.NonResourceAttributes{Verb: verb, Path: path},
	}}
	if len(user.Extra) > 0 {
		sar.Spec.Extra = make(map[string]authzv1.ExtraValue, len(user.Extra))
		for k, v := range user.Extra {
			sar.Spec.Extra[k] = authzv1.ExtraValue(v)
		}
	}
	// The review's whole question is the key (encoding/json sorts the extra's keys).
	spec, err := json.Marshal(sar.Spec)
	if err != nil {
		return false, err
	}
	key := string(spec)
	if allowed, ok := r.allowed.get(key); ok {
		return allowed, nil
	}
	var allowed bool
	err = review(ctx, func(ctx context.Context) error {
		res, err := r.access.Create(ctx, sar, metav1.CreateOptions{})
		if err == nil {
			allowed = res.Status.Allowed && !res.Status.Denied
		}
		return err
	})
	if err != nil {
		return false, fmt.Errorf("reviewing access: %w", err)
	}
	ttl := r.deniedTTL
	if allowed {
		ttl = r.allowedTTL
	}
	r.allowed.put(key, allowed, ttl)
	return allowed, nil
}

// review runs one review, retried with backoff while the API server cannot answer (a
// connection error, a timeout, a 429 or a 5xx); an answer it gives, a refusal included
// (say, the manager lost its permission to create reviews), is not retried.
func review(ctx context.Context, create func(context.Context) error) error {
	return retry.OnError(backoff, retriable, func() error {
		ctx, cancel := context.WithTimeout(ctx, reviewTimeout)
		defer cancel()
		return create(ctx)
	})
}

func retriable(err error) bool {
	var status apierrors.APIStatus
	if !errors.As(err, &status) {
		return true // not an answer: the API server was not reached
	}
	code := status.Status().Code
	return code == http.StatusTooManyRequests || code >= http.StatusInternalServerError
}

// answers is a small cache of answers with lifetimes.
type answers[T any] struct {
	mu sync.Mutex
	m  map[string]answer[T]
}

type answer[T any] struct {
	value   T
	expires time.Time
}

func (a *answers[T]) get(key string) (T, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	e, ok := a.m[key]
	if !ok || time.Now().After(e.expires) {
		var zero T
		return zero, false
	}
	return e.value, true
}

func (a *answers[T]) put(key string, value T, ttl time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := time.Now()
	if a.m == nil {
		a.m = map[string]answer[T]{}
	}
	if len(a.m) >= maxRemembered {
		for k, e := range a.m {
			if now.After(e.expires) {
				delete(a.m, k)
			}
		}
	}
	if len(a.m) >= maxRemembered {
		for k := range a.m { // map order is random: this drops an arbitrary half
			if len(a.m) < maxRemembered/2 {
				break
			}
			delete(a.m, k)
		}
	}
	a.m[key] = answer[T]{value: value, expires: now.Add(ttl)}
}
