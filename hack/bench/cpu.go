package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat's times (100 on Linux).
const clockTicks = 100

// cpuSeconds is the CPU time (user + system) each process has used so far, by name: the
// local cluster's components (every process whose command line names the cluster's
// directory: etcd, kube-apiserver, the controller-manager, the scheduler, kwok, the
// volume provisioner), the manager and this process (the raw side's client). Measured
// around each side of a run, it shows where a 2-core machine's time goes.
func cpuSeconds(cluster string, managerPID int) map[string]float64 {
	out := map[string]float64{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		var name string
		switch pid {
		case os.Getpid():
			name = "bench (raw side's client)"
		case managerPID:
			name = "manager"
		default:
			cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
			if err != nil || !strings.Contains(string(cmdline), "/clusters/"+cluster+"/") {
				continue
			}
			name = filepath.Base(strings.SplitN(string(cmdline), "\x00", 2)[0])
		}
		if s, ok := processCPU(pid); ok {
			out[name] += s
		}
	}
	return out
}

// processCPU reads utime + stime of a process, in seconds.
func processCPU(pid int) (float64, bool) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, false
	}
	// The command name (field 2) may hold spaces: the fields after it start past ") ".
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(fields) < 13 {
		return 0, false
	}
	utime, err1 := strconv.ParseFloat(fields[11], 64)
	stime, err2 := strconv.ParseFloat(fields[12], 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return (utime + stime) / clockTicks, true
}

// cpuSince is after − before, per process, rounded to 0.1 s.
func cpuSince(before, after map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for name, v := range after {
		if d := v - before[name]; d > 0 {
			out[name] = float64(int64(d*10+0.5)) / 10
		}
	}
	return out
}

// rssByKind is a process's resident memory by kind (/proc/<pid>/status, in bytes):
// anonymous (the Go heap, stacks and runtime) and file-backed (the binary's pages), which
// RSS adds up.
func rssByKind(pid int) (anon, file float64, err error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0, 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 || f[2] != "kB" {
			continue
		}
		kb, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			return 0, 0, fmt.Errorf("%s: %w", line, err)
		}
		switch f[0] {
		case "RssAnon:":
			anon = kb * 1024
		case "RssFile:":
			file = kb * 1024
		}
	}
	return anon, file, nil
}
