# Versions and cache locations shared by the hack scripts and the Makefile (one place).
# The cache lives outside the clone so a fresh clone on the same machine reuses it.
K8S_VERSION="${K8S_VERSION:-v1.37.2}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.16}"
KWOK_VERSION="${KWOK_VERSION:-v0.8.0}"
CACHE_DIR="${OPENNEBULA_OPERATOR_CACHE:-${XDG_CACHE_HOME:-${HOME}/.cache}/opennebula-operator}"
K8S_BIN_DIR="${CACHE_DIR}/bin/k8s-${K8S_VERSION}"
ENVTEST_VERSION="${K8S_VERSION#v}"
ENVTEST_STORE_DIR="${XDG_DATA_HOME:-${HOME}/.local/share}/kubebuilder-envtest/k8s/${ENVTEST_VERSION}-$(go env GOOS)-$(go env GOARCH)"
# The real oned the conformance suite runs against (hack/build-oned.sh), built from source.
ONE_VERSION="${ONE_VERSION:-7.2.0}"
ONED_PREFIX_DIR="${CACHE_DIR}/oned-${ONE_VERSION}"
export K8S_VERSION ETCD_VERSION KWOK_VERSION CACHE_DIR K8S_BIN_DIR ENVTEST_VERSION ENVTEST_STORE_DIR ONE_VERSION ONED_PREFIX_DIR
