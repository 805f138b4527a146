package oned

import (
	"errors"
	"regexp"
	"strconv"
	"strings"
)

// ErrorCode is oned's error code, the third value of a failed answer. The values are
// Request::ErrorCode in OpenNebula 7.2's include/Request.h.
type ErrorCode int

// oned's error codes (include/Request.h), and CodeRPCFault for an XML-RPC fault raised by
// xmlrpc-c itself before oned's code runs (wrong argument types, unknown method).
const (
	CodeAuthentication ErrorCode = 0x00100 // 256: wrong user or password
	CodeAuthorization  ErrorCode = 0x00200 // 512: the user may not do this
	CodeNoExists       ErrorCode = 0x00400 // 1024: the object does not exist
	CodeAction         ErrorCode = 0x00800 // 2048: the action is not possible now
	CodeRPCAPI         ErrorCode = 0x01000 // 4096: wrong arguments
	CodeInternal       ErrorCode = 0x02000 // 8192: internal, and every Raft refusal
	CodeAllocate       ErrorCode = 0x04000 // 16384: the object cannot be created
	CodeLocked         ErrorCode = 0x08000 // 32768: the object is locked
	CodeReplication    ErrorCode = 0x10000 // 65536: a Raft log entry could not be replicated
	CodeRPCFault       ErrorCode = -1
)

func (c ErrorCode) String() string {
	switch c {
	case CodeAuthentication:
		return "AUTHENTICATION"
	case CodeAuthorization:
		return "AUTHORIZATION"
	case CodeNoExists:
		return "NO_EXISTS"
	case CodeAction:
		return "ACTION"
	case CodeRPCAPI:
		return "RPC_API"
	case CodeInternal:
		return "INTERNAL"
	case CodeAllocate:
		return "ALLOCATE"
	case CodeLocked:
		return "LOCKED"
	case CodeReplication:
		return "REPLICATION"
	case CodeRPCFault:
		return "XMLRPC_FAULT"
	}
	return "CODE_" + strconv.Itoa(int(c))
}

// Error is oned's answer to a call it refused. Message is oned's own text, which starts
// with "[method] " (Request::failure_message in src/rm/Request.cc) and never carries the
// session.
type Error struct {
	Method  string
	Code    ErrorCode
	Message string
	// ResourceID is the fourth value of the answer: the object the error is about (the ID
	// that does not exist for NO_EXISTS), -1 when oned sets none.
	ResourceID int
}

func (e *Error) Error() string {
	if strings.HasPrefix(e.Message, "[") {
		return e.Message + " (" + e.Code.String() + ")"
	}
	return "[" + e.Method + "] " + e.Message + " (" + e.Code.String() + ")"
}

func code(err error) (ErrorCode, bool) {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Code, true
	}
	return 0, false
}

func hasCode(err error, c ErrorCode) bool {
	got, ok := code(err)
	return ok && got == c
}

// IsAuthentication: the session's user or password is wrong.
func IsAuthentication(err error) bool { return hasCode(err, CodeAuthentication) }

// IsAuthorization: the user may not do this.
func IsAuthorization(err error) bool { return hasCode(err, CodeAuthorization) }

// IsNotFound: the object (host, cluster, zone) does not exist.
func IsNotFound(err error) bool { return hasCode(err, CodeNoExists) }

// IsAction: oned refused the action in the object's present state (a host with running
// VMs, a non-empty cluster, a zone server that is not there).
func IsAction(err error) bool { return hasCode(err, CodeAction) }

// IsAllocate: the object could not be created (a taken or invalid name).
func IsAllocate(err error) bool { return hasCode(err, CodeAllocate) }

// alreadyTaken is PoolSQL's duplicate-name message, e.g. HostPool::allocate in
// src/host/HostPool.cc: "NAME is already taken by HOST 3." (CLUSTER for ClusterPool).
var alreadyTaken = regexp.MustCompile(`NAME is already taken by ([A-Z_]+) (-?\d+)\.`)

// AlreadyTaken reports whether err is an allocate refused because the name is in use, with
// the kind of the object holding it ("HOST", "CLUSTER") and its ID.
func AlreadyTaken(err error) (kind string, id int, ok bool) {
	e, isErr := errors.AsType[*Error](err)
	if !isErr || e.Code != CodeAllocate {
		return "", -1, false
	}
	m := alreadyTaken.FindStringSubmatch(e.Message)
	if m == nil {
		return "", -1, false
	}
	id, convErr := strconv.Atoi(m[2])
	if convErr != nil {
		return "", -1, false
	}
	return m[1], id, true
}

// The refusals of a server that cannot serve a leader-only call (RequestXRPC::execute in
// src/rm/xml-rpc/RequestXRPC.cc): all come with INTERNAL.
const (
	msgNoLeader     = "Cannot process request, no leader found"
	msgElection     = "Cannot process request, oned cluster in election mode"
	msgReplicating  = "Cannot process request, oned cluster is replicating log"
	msgZoneDisabled = "Cannot process request, zone disabled"
)

// IsNoLeader reports whether oned refused the call because its Raft zone has no leader it
// can forward to: it is a candidate (election), a follower that knows no leader, or a
// leader still replaying its log. The call may succeed once a leader is elected.
func IsNoLeader(err error) bool {
	e, isErr := errors.AsType[*Error](err)
	if !isErr || e.Code != CodeInternal {
		return false
	}
	return strings.Contains(e.Message, msgNoLeader) || strings.Contains(e.Message, msgElection) ||
		strings.Contains(e.Message, msgReplicating)
}
