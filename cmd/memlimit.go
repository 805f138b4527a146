package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"time"
)

// EnvMemoryLimit carries the container's memory limit in bytes (the Deployment sets it
// from the downward API, resourceFieldRef limits.memory).
const EnvMemoryLimit = "MEMORY_LIMIT"

// memoryLimitShare is the part of the container's limit the process may fill; the rest
// is headroom for what neither the Go runtime nor the kernel's file pages account for.
const memoryLimitShare = 0.9

// memoryLimitRefresh is how often the soft limit follows the binary's resident pages,
// which grow as the process runs code it had not run yet.
const memoryLimitRefresh = time.Minute

// softMemoryLimit is the Go runtime's share of a container limit: the limit's share less
// the binary's file-backed resident pages. The container's memory counts those pages
// too (about 43 MB of the manager's, a third of the Deployment's 128 MiB; docs/tuning.md
// "Memory"): a Go limit of 90 % of the container's would let the heap grow into them, and
// the kernel would then evict the binary's own code to make room. It never goes below
// half the limit, so that odd readings cannot starve the heap.
func softMemoryLimit(limit, fileResident int64) int64 {
	return max(int64(float64(limit)*memoryLimitShare)-fileResident, limit/2)
}

// fileResident is the process's file-backed resident memory (RssFile of
// /proc/self/status, proc(5)), 0 where it cannot be read.
func fileResident() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for sc := bufio.NewScanner(bytes.NewReader(b)); sc.Scan(); {
		if v, ok := bytes.CutPrefix(sc.Bytes(), []byte("RssFile:")); ok {
			kb, err := strconv.ParseInt(string(bytes.TrimSpace(bytes.TrimSuffix(bytes.TrimSpace(v), []byte("kB")))), 10, 64)
			if err == nil {
				return kb << 10
			}
		}
	}
	return 0
}

// setMemoryLimit keeps the Go runtime's memory under the container's memory limit (less
// the binary's resident pages), unless GOMEMLIMIT is set. Without it the heap grows to twice what is live before a
// collection, so a manager whose live heap is well under its limit is still OOM-killed at
// a collection's peak; with it the collector runs earlier as the limit nears. It returns
// the limit set (0: none) for the log, and refresh (nil: none), which sets it anew from
// the binary's resident pages of the moment; the caller runs it every memoryLimitRefresh.
func setMemoryLimit() (soft int64, refresh func(), err error) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return 0, nil, nil
	}
	v := os.Getenv(EnvMemoryLimit)
	if v == "" {
		return 0, nil, nil
	}
	limit, err := strconv.ParseInt(v, 10, 64)
	if err != nil || limit <= 0 {
		return 0, nil, fmt.Errorf("%s=%q: want the container's memory limit in bytes", EnvMemoryLimit, v)
	}
	refresh = func() { debug.SetMemoryLimit(softMemoryLimit(limit, fileResident())) }
	refresh()
	return debug.SetMemoryLimit(-1), refresh, nil
}
