//go:build oned

package conformance

import "testing"

// TestRealOned runs the suite against real oned 7.2 processes on loopback
// (make test-oned: builds oned with hack/build-oned.sh and sets ONED_PREFIX).
func TestRealOned(t *testing.T) {
	Run(t, Real{})
}
