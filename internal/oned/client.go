// Package oned talks to OpenNebula's core daemon over its XML-RPC API (http://HOST:2633/RPC2).
//
// Every call follows the same shape, from OpenNebula 7.2's src/rm/xml-rpc/RequestXRPC.cc
// (make_response): the first argument is the session "user:password"; the answer is an array
// [ok bool, body, errcode int] and, when ok is false, two more values (the resource ID the
// error is about, an i8 replication index). Answers are decoded by position, never by length.
//
// The client never writes the password anywhere: Credentials prints it redacted, errors
// carry oned's message (which never echoes the session) or the transport's (which names the
// endpoint, never the body), and nothing here logs.
package oned

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/kolo/xmlrpc"
)

// DefaultTimeout bounds one call when the caller's context has no earlier deadline. oned
// answers info calls in milliseconds; a write forwarded by a follower waits for the leader
// (its XMLRPC_TIMEOUT_MS is 1 s by default, oned.conf RAFT section).
const DefaultTimeout = 10 * time.Second

// maxAnswer bounds what is read of one answer: a pool of thousands of hosts is a few MiB.
const maxAnswer = 64 << 20

// Endpoint is the URL of oned's XML-RPC API at hostPort ("host:port", as net.JoinHostPort
// writes it; the port is the port table's, builder.PortOned).
func Endpoint(hostPort string) string {
	return (&url.URL{Scheme: "http", Host: hostPort, Path: "/RPC2"}).String()
}

// Credentials are a user and password of oned; the session string is "user:password".
type Credentials struct {
	User     string
	Password string
}

// AdminUser is the user the frontend's admin Secret holds the password of.
const AdminUser = "oneadmin"

// Admin returns oneadmin's credentials with password.
func Admin(password string) Credentials { return Credentials{User: AdminUser, Password: password} }

func (c Credentials) session() string { return c.User + ":" + c.Password }

// String never prints the password.
func (c Credentials) String() string { return c.User + ":<redacted>" }

// GoString never prints the password (fmt's %#v).
func (c Credentials) GoString() string {
	return "oned.Credentials{User:" + fmt.Sprintf("%q", c.User) + ", Password:<redacted>}"
}

// Client calls one oned. It is safe for concurrent use.
type Client struct {
	endpoint string
	// creds is behind a pointer so that printing a Client (or a struct holding one) with
	// any verb shows an address, never the password: fmt does not call String on
	// unexported fields but does not follow nested pointers either.
	creds   *Credentials
	http    *http.Client
	timeout time.Duration
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient sets the HTTP client (its transport: dialer, proxy, TLS).
func WithHTTPClient(h *http.Client) Option { return func(c *Client) { c.http = h } }

// WithTimeout bounds every call (0: only the caller's context bounds it).
func WithTimeout(d time.Duration) Option { return func(c *Client) { c.timeout = d } }

// New returns a client of the oned at endpoint ("http://host:2633/RPC2"). An endpoint
// carrying user information is refused: credentials travel in the session argument only.
func New(endpoint string, creds Credentials, opts ...Option) (*Client, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return nil, fmt.Errorf("oned endpoint %q: %w", endpoint, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("oned endpoint %q: scheme must be http or https", endpoint)
	}
	if u.User != nil {
		return nil, fmt.Errorf("oned endpoint %s: must not carry credentials", u.Redacted())
	}
	c := &Client{endpoint: endpoint, creds: &creds, http: http.DefaultClient, timeout: DefaultTimeout}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// String names the endpoint and user, never the password.
func (c *Client) String() string { return c.creds.User + "@" + c.endpoint }

// GoString is String (fmt's %#v).
func (c *Client) GoString() string { return "oned.Client(" + c.String() + ")" }

// Endpoint is the URL this client calls.
func (c *Client) Endpoint() string { return c.endpoint }

// TransportError says the call did not get an answer from oned: connection refused or
// reset, timeout, cancellation, an HTTP status other than 200, or a body that is not an
// XML-RPC answer. errors.Is(err, context.DeadlineExceeded) and context.Canceled work on it.
type TransportError struct {
	Method   string
	Endpoint string
	Err      error
}

func (e *TransportError) Error() string {
	return fmt.Sprintf("calling %s on %s: %v", e.Method, e.Endpoint, e.Err)
}

func (e *TransportError) Unwrap() error { return e.Err }

// IsUnreachable reports whether err is a TransportError: oned did not answer.
func IsUnreachable(err error) bool {
	_, ok := errors.AsType[*TransportError](err)
	return ok
}

// answer is a decoded successful answer's body: a string (XML or version) or an integer.
type answer struct {
	str   string
	num   int64
	isNum bool
}

// call sends method with the session and args and decodes the answer by position.
func (c *Client) call(ctx context.Context, method string, args ...any) (answer, error) {
	params := append([]any{c.creds.session()}, args...)
	body, err := xmlrpc.EncodeMethodCall(method, params...)
	if err != nil {
		return answer{}, fmt.Errorf("encoding %s: %w", method, err)
	}
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	terr := func(err error) error { return &TransportError{Method: method, Endpoint: c.endpoint, Err: err} }
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, bytes.NewReader(body))
	if err != nil {
		return answer{}, terr(err)
	}
	req.Header.Set("Content-Type", "text/xml")
	resp, err := c.http.Do(req)
	if err != nil {
		// *url.Error names the method and URL only; the body (with the session) is never in it.
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err
		}
		return answer{}, terr(err)
	}
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return answer{}, terr(err)
	}
	if resp.StatusCode != http.StatusOK {
		return answer{}, terr(fmt.Errorf("HTTP %s", resp.Status))
	}
	a, err := decodeAnswer(method, raw)
	if te, ok := errors.AsType[*TransportError](err); ok {
		te.Endpoint = c.endpoint
	}
	return a, err
}

// decodeAnswer reads [ok, body, errcode, (resp_id, replication_idx)] from an XML-RPC
// methodResponse. A fault (xmlrpc-c's own, e.g. a wrong argument type or an unknown
// method) becomes an Error with CodeRPCFault.
func decodeAnswer(method string, raw []byte) (answer, error) {
	r := xmlrpc.Response(raw)
	if err := r.Err(); err != nil {
		if f, ok := errors.AsType[xmlrpc.FaultError](err); ok {
			return answer{}, &Error{Method: method, Code: CodeRPCFault, Message: f.String, ResourceID: -1}
		}
		return answer{}, &TransportError{Method: method, Err: fmt.Errorf("decoding fault: %w", err)}
	}
	var values []any
	if err := r.Unmarshal(&values); err != nil {
		return answer{}, &TransportError{Method: method, Err: fmt.Errorf("decoding answer: %w", err)}
	}
	if len(values) < 3 {
		return answer{}, &TransportError{Method: method, Err: fmt.Errorf("answer has %d values, oned sends at least 3", len(values))}
	}
	ok, isBool := values[0].(bool)
	if !isBool {
		return answer{}, &TransportError{Method: method, Err: fmt.Errorf("answer's first value is %T, not a boolean", values[0])}
	}
	code, _ := values[2].(int64)
	if !ok {
		e := &Error{Method: method, Code: ErrorCode(code), ResourceID: -1}
		e.Message, _ = values[1].(string)
		if len(values) > 3 {
			if id, isInt := values[3].(int64); isInt {
				e.ResourceID = int(id)
			}
		}
		return answer{}, e
	}
	switch v := values[1].(type) {
	case string:
		return answer{str: v}, nil
	case int64:
		return answer{num: v, isNum: true}, nil
	default:
		return answer{}, &TransportError{Method: method, Err: fmt.Errorf("answer's body is %T", values[1])}
	}
}

// callID calls a method whose answer is an object ID.
func (c *Client) callID(ctx context.Context, method string, args ...any) (int, error) {
	a, err := c.call(ctx, method, args...)
	if err != nil {
		return -1, err
	}
	if !a.isNum {
		return -1, &TransportError{Method: method, Endpoint: c.endpoint, Err: fmt.Errorf("answer's body is a string, want an ID")}
	}
	return int(a.num), nil
}

// callXML calls an info method and decodes its XML body into out.
func (c *Client) callXML(ctx context.Context, out any, method string, args ...any) error {
	a, err := c.call(ctx, method, args...)
	if err != nil {
		return err
	}
	if a.isNum {
		return &TransportError{Method: method, Endpoint: c.endpoint, Err: fmt.Errorf("answer's body is a number, want XML")}
	}
	if err := unmarshalXML(a.str, out); err != nil {
		return &TransportError{Method: method, Endpoint: c.endpoint, Err: fmt.Errorf("decoding XML body: %w", err)}
	}
	return nil
}
