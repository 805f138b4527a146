package main

import (
	"math"
	"runtime/debug"
	"testing"
)

func TestSetMemoryLimit(t *testing.T) {
	defer debug.SetMemoryLimit(math.MaxInt64)
	t.Setenv("GOMEMLIMIT", "")
	t.Setenv(EnvMemoryLimit, "134217728") // 128Mi, as the downward API gives it
	soft, err := setMemoryLimit()
	if err != nil || soft != 120795955 {
		t.Fatalf("soft limit %d, %v; want 90 %% of 128Mi", soft, err)
	}
	if got := debug.SetMemoryLimit(-1); got != soft {
		t.Errorf("runtime limit %d, want %d", got, soft)
	}
	t.Setenv(EnvMemoryLimit, "128Mi")
	if _, err := setMemoryLimit(); err == nil {
		t.Error("a quantity that is not bytes must be refused")
	}
	t.Setenv("GOMEMLIMIT", "1GiB")
	t.Setenv(EnvMemoryLimit, "134217728")
	if soft, _ := setMemoryLimit(); soft != 0 {
		t.Error("GOMEMLIMIT set by the user wins")
	}
}
