package main

import (
	"fmt"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
)

// interruptCleanups run when the bench is interrupted (Ctrl-C, a CI timeout's SIGTERM):
// deferred functions do not run then, and a local cluster left behind keeps etcd,
// kube-apiserver and the rest running until the next run of the same size removes it.
var interruptCleanups struct {
	sync.Mutex
	next int
	fns  map[int]func()
}

// onInterrupt registers f to run if the bench is interrupted; cancel unregisters it.
func onInterrupt(f func()) (cancel func()) {
	interruptCleanups.Lock()
	defer interruptCleanups.Unlock()
	if interruptCleanups.fns == nil {
		interruptCleanups.fns = map[int]func(){}
	}
	id := interruptCleanups.next
	interruptCleanups.next++
	interruptCleanups.fns[id] = f
	return func() {
		interruptCleanups.Lock()
		defer interruptCleanups.Unlock()
		delete(interruptCleanups.fns, id)
	}
}

// handleInterrupts runs the registered cleanups on SIGINT or SIGTERM, then exits.
func handleInterrupts() {
	c := make(chan os.Signal, 1)
	signal.Notify(c, os.Interrupt, syscall.SIGTERM)
	go func() {
		s := <-c
		fmt.Fprintf(os.Stderr, "bench: %v: cleaning up\n", s)
		interruptCleanups.Lock()
		for _, f := range interruptCleanups.fns {
			f()
		}
		os.Exit(130)
	}()
}

// localCluster brings the local cluster name up afresh (what an earlier run left of it is
// removed first) with env, and returns its kubeconfig and down, which removes it; down
// also runs if the bench is interrupted.
func localCluster(name string, env []string) (kcfg string, down func(), err error) {
	_, _ = run("hack/local-cluster.sh", "down", name)
	if out, err := runEnv(env, "hack/local-cluster.sh", "up", name); err != nil {
		return "", nil, fmt.Errorf("cluster: %v\n%s", err, out)
	}
	remove := func() { _, _ = run("hack/local-cluster.sh", "down", name) }
	cancel := onInterrupt(remove)
	down = sync.OnceFunc(func() {
		cancel()
		remove()
	})
	out, err := run("hack/local-cluster.sh", "kubeconfig", name)
	if err != nil {
		down()
		return "", nil, fmt.Errorf("kubeconfig of %s: %v\n%s", name, err, out)
	}
	return strings.TrimSpace(out), down, nil
}
