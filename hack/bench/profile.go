package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// profileChunkSeconds is the length of each CPU profile taken while a side converges: the
// profile endpoints take a fixed duration, so a side is covered by chunks back to back
// (merged at the end; the last chunk may run up to this long past the side's end).
const profileChunkSeconds = "5"

// cpuProfiler takes CPU profiles of one process back to back until finished, and merges
// them into one file: where a side's CPU went, by function (with -cpu-profiles).
type cpuProfiler struct {
	path   string
	cancel context.CancelFunc
	done   chan struct{}
	chunks []string
	err    error
}

// startCPUProfile profiles through get (one chunk per call) into path (a .pb.gz).
func startCPUProfile(path string, get func(ctx context.Context) ([]byte, error)) *cpuProfiler {
	ctx, cancel := context.WithCancel(context.Background())
	p := &cpuProfiler{path: path, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		for i := 0; ctx.Err() == nil; i++ {
			// The chunk in flight when the side ends is finished, not cut: a cancelled
			// request returns no profile.
			b, err := get(context.Background())
			if err != nil {
				p.err = err
				return
			}
			chunk := fmt.Sprintf("%s.%d", path, i)
			if err := os.WriteFile(chunk, b, 0o644); err != nil {
				p.err = err
				return
			}
			p.chunks = append(p.chunks, chunk)
		}
	}()
	return p
}

// finish waits for the chunk in flight, merges the chunks into p.path and returns the top
// of `go tool pprof -top` over it.
func (p *cpuProfiler) finish(binary string) (string, error) {
	p.cancel()
	<-p.done
	if p.err != nil {
		return "", p.err
	}
	defer func() {
		for _, c := range p.chunks {
			_ = os.Remove(c)
		}
	}()
	merged, err := run("go", append([]string{"tool", "pprof", "-proto"}, p.chunks...)...)
	if err != nil {
		return "", fmt.Errorf("pprof merge: %v\n%s", err, merged)
	}
	if err := os.WriteFile(p.path, []byte(merged), 0o644); err != nil {
		return "", err
	}
	args := []string{"tool", "pprof", "-top", "-nodecount=40"}
	if binary != "" {
		args = append(args, binary)
	}
	return run("go", append(args, p.path)...)
}

// apiServerProfile gets one CPU profile chunk from the cluster's kube-apiserver
// (/debug/pprof is on by default: --profiling).
func apiServerProfile(cfg *rest.Config) func(ctx context.Context) ([]byte, error) {
	cs, err := kubernetes.NewForConfig(rest.CopyConfig(cfg))
	return func(ctx context.Context) ([]byte, error) {
		if err != nil {
			return nil, err
		}
		return cs.CoreV1().RESTClient().Get().AbsPath("/debug/pprof/profile").Param("seconds", profileChunkSeconds).DoRaw(ctx)
	}
}

// managerProfile gets one CPU profile chunk from the manager's pprof endpoint.
func managerProfile(m *manager) func(ctx context.Context) ([]byte, error) {
	return func(ctx context.Context) ([]byte, error) {
		return managerPprof(ctx, m, "/profile?seconds="+profileChunkSeconds)
	}
}

// managerPprof gets one of the manager's pprof endpoints (path under /debug/pprof).
func managerPprof(ctx context.Context, m *manager, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.pprofURL+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("manager profile %s: %s", path, resp.Status)
	}
	return io.ReadAll(resp.Body)
}

// managerAllocs saves what the manager allocated since it started (the operator side's
// run: it is started afresh for it) to path, and returns the top by bytes: the
// allocation rate is what sets how often the GC runs, and the GC was most of the
// manager's CPU at N=1000.
func managerAllocs(m *manager, path string) (string, error) {
	b, err := managerPprof(context.Background(), m, "/allocs")
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return "", err
	}
	return run("go", "tool", "pprof", "-top", "-sample_index=alloc_space", "-nodecount=40", m.cmd.Path, path)
}

// profiles starts the CPU profiles of one side (the API server's, and the manager's when
// it runs) when -cpu-profiles names a directory; stop finishes them and prints their tops.
func (b *benchRun) profiles(side string) (stop func() error) {
	if cpuProfileDir == "" {
		return func() error { return nil }
	}
	name := func(process string) string {
		return filepath.Join(cpuProfileDir, fmt.Sprintf("%s-%s-%d.pb.gz", process, side, b.n))
	}
	ps := map[string]*cpuProfiler{"kube-apiserver": startCPUProfile(name("kube-apiserver"), apiServerProfile(b.cfg))}
	if b.manager != nil && side == "operator" {
		ps["manager"] = startCPUProfile(name("manager"), managerProfile(b.manager))
	}
	return func() error {
		for process, p := range ps {
			binary := ""
			if process == "manager" {
				binary = b.manager.cmd.Path
			}
			top, err := p.finish(binary)
			if err != nil {
				return fmt.Errorf("%s CPU profile: %w", process, err)
			}
			fmt.Printf("  %s CPU profile, %s side (%s):\n%s\n", process, side, p.path, indent(top))
		}
		if _, ok := ps["manager"]; ok {
			path := name("manager-allocs")
			top, err := managerAllocs(b.manager, path)
			if err != nil {
				return fmt.Errorf("manager allocations: %w", err)
			}
			fmt.Printf("  manager allocations, %s side (%s):\n%s\n", side, path, indent(top))
		}
		return nil
	}
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ")
}
