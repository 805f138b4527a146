package conformance

import "testing"

// TestDouble runs the suite against the in-process double (make test).
func TestDouble(t *testing.T) {
	t.Parallel()
	Run(t, Double{})
}
