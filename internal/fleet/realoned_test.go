//go:build oned

package fleet_test

import (
	"testing"

	"github.com/opennebula-operator/opennebula-operator/internal/oned/conformance"
)

// TestRealOnedSync runs the sync scenario against a real oned 7.2 (make test-oned).
func TestRealOnedSync(t *testing.T) {
	syncScenario(t, conformance.Real{})
}
