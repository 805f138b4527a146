package main

import (
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
)

// EnvMemoryLimit carries the container's memory limit in bytes (the Deployment sets it
// from the downward API, resourceFieldRef limits.memory).
const EnvMemoryLimit = "MEMORY_LIMIT"

// memoryLimitShare is the part of the container's limit the Go heap may use; the rest is
// for stacks, the runtime and memory the heap has not returned yet. The binary's resident
// pages (~44 MB, which the container's memory counts too) are deliberately not taken off:
// that was tried, and a Go limit of 75 MB sat below the live heap of a 1000-frontend
// creation, so the collector ran five times a second and the manager used 0.6 cores while
// its heap kept growing (docs/tuning.md). A limit must stay above the peak live heap; the
// kernel can drop clean file pages, it cannot drop the heap.
const memoryLimitShare = 0.9

// setMemoryLimit keeps the Go heap under the container's memory limit, unless GOMEMLIMIT
// is set. Without it the heap grows to twice what is live before a collection, so a
// manager whose live heap is well under its limit is still OOM-killed at a collection's
// peak; with it the collector runs earlier as the limit nears. It returns the limit set
// (0: none) for the log.
func setMemoryLimit() (int64, error) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return 0, nil
	}
	v := os.Getenv(EnvMemoryLimit)
	if v == "" {
		return 0, nil
	}
	limit, err := strconv.ParseInt(v, 10, 64)
	if err != nil || limit <= 0 {
		return 0, fmt.Errorf("%s=%q: want the container's memory limit in bytes", EnvMemoryLimit, v)
	}
	soft := int64(float64(limit) * memoryLimitShare)
	debug.SetMemoryLimit(soft)
	return soft, nil
}
