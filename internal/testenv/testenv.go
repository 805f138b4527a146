// Package testenv starts the real API server (envtest) the integration tests run against,
// with this repository's CRD installed, the same way for every test package.
package testenv

import (
	"errors"
	"path/filepath"
	"runtime"

	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// ErrNoAssets: the binaries are built and located by `make test` (hack/build-k8s-binaries.sh).
var ErrNoAssets = errors.New("KUBEBUILDER_ASSETS is not set: run the tests with `make test`, which builds " +
	"and locates the API server binaries (hack/build-k8s-binaries.sh envtest)")

// Start starts etcd and kube-apiserver with the CRD of config/crd/bases; env.Config is
// the client configuration. env.Stop must be called even when err is not nil: Start fails
// after starting both when the CRD is refused (a CEL rule over the cost budget, say), and
// they would be left running.
func Start(assets string) (env *envtest.Environment, err error) {
	_, self, _, _ := runtime.Caller(0)
	env = &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join(filepath.Dir(self), "..", "..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	if assets == "" {
		return env, ErrNoAssets
	}
	_, err = env.Start()
	return env, err
}
