package main

import (
	"math"
	"runtime/debug"
	"testing"
)

func TestSoftMemoryLimit(t *testing.T) {
	const mi = 1 << 20
	for _, c := range []struct{ limit, file, want int64 }{
		{128 * mi, 0, 120795955},                // 90 % of 128Mi
		{128 * mi, 43 * mi, 120795955 - 43*mi},  // less the binary's resident pages
		{128 * mi, 100 * mi, 64 * mi},           // never below half the limit
		{1024 * mi, 43 * mi, 966367641 - 43*mi}, // a larger limit: the same pages
	} {
		if got := softMemoryLimit(c.limit, c.file); got != c.want {
			t.Errorf("softMemoryLimit(%d, %d) = %d, want %d", c.limit, c.file, got, c.want)
		}
	}
}

func TestFileResident(t *testing.T) {
	// This test binary's own code pages are resident while it runs.
	if got := fileResident(); got <= 0 {
		t.Errorf("RssFile of this process: %d", got)
	}
}

func TestSetMemoryLimit(t *testing.T) {
	defer debug.SetMemoryLimit(math.MaxInt64)
	t.Setenv("GOMEMLIMIT", "")
	t.Setenv(EnvMemoryLimit, "134217728") // 128Mi, as the downward API gives it
	soft, refresh, err := setMemoryLimit()
	if err != nil || soft >= 120795955 || soft < 134217728/2 {
		t.Fatalf("soft limit %d, %v; want 90 %% of 128Mi less this binary's resident pages", soft, err)
	}
	debug.SetMemoryLimit(math.MaxInt64)
	refresh()
	if got := debug.SetMemoryLimit(-1); got >= 120795955 || got < 134217728/2 {
		t.Errorf("refreshed runtime limit %d", got)
	}
	t.Setenv(EnvMemoryLimit, "128Mi")
	if _, _, err := setMemoryLimit(); err == nil {
		t.Error("a quantity that is not bytes must be refused")
	}
	t.Setenv("GOMEMLIMIT", "1GiB")
	t.Setenv(EnvMemoryLimit, "134217728")
	if soft, refresh, _ := setMemoryLimit(); soft != 0 || refresh != nil {
		t.Error("GOMEMLIMIT set by the user wins")
	}
}
