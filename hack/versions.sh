# Versions and cache locations shared by the hack scripts and the Makefile (one place).
# The cache lives outside the clone so a fresh clone on the same machine reuses it.

# The Kubernetes versions the operator supports: the oldest minor it runs on and the newest
# it is tested on. Both are tested in CI (envtest suite and install e2e). The CSV's
# minKubeVersion, the README and docs/reliability.md follow from these two lines
# (hack/bundle reads them; hack/check-versions.sh fails CI when the docs disagree).
# Why 1.32 (README "Supported Kubernetes versions"): an API server admits a CEL library in
# CRD rules one minor after it appeared (k8s.io/apiserver pkg/cel/environment/base.go: new
# expressions are checked at the compatibility version, minor-1): quantity from 1.29, IP and
# CIDR from 1.31, format (DNS labels, label keys) from 1.32; and 1.32 is the oldest minor
# the large providers still run, under extended support, in late 2026.
# Each is the newest patch release whose staging modules the Go module proxy serves in full
# (v1.32.13 is not: k8s.io/endpointslice@v0.32.13 is missing; v1.32.3 to .12 are not listed).
K8S_OLDEST_VERSION="v1.32.2"
K8S_NEWEST_VERSION="v1.37.2"
K8S_TESTED_VERSIONS="${K8S_OLDEST_VERSION} ${K8S_NEWEST_VERSION}"

# k8s_minor v1.32.12 -> 1.32
k8s_minor() { local v="${1#v}"; echo "${v%.*}"; }
K8S_OLDEST_MINOR="$(k8s_minor "${K8S_OLDEST_VERSION}")"
K8S_NEWEST_MINOR="$(k8s_minor "${K8S_NEWEST_VERSION}")"
# The CSV's minKubeVersion.
K8S_MIN_KUBE_VERSION="${K8S_OLDEST_MINOR}.0"

# K8S_VERSION chooses the Kubernetes the tests, the local cluster and the envtest assets use:
# empty or "newest" (the default), "oldest", a tested minor ("1.32"), or any full version
# (v1.35.4: built the same way, but not one CI tests).
# ENVTEST_K8S_VERSION is accepted as a synonym (the name kubebuilder projects use).
K8S_VERSION="${K8S_VERSION:-${ENVTEST_K8S_VERSION:-newest}}"
case "${K8S_VERSION}" in
  newest) K8S_VERSION="${K8S_NEWEST_VERSION}" ;;
  oldest) K8S_VERSION="${K8S_OLDEST_VERSION}" ;;
  v*.*.*) ;;
  *.*.*) K8S_VERSION="v${K8S_VERSION}" ;;
  *)
    for v in ${K8S_TESTED_VERSIONS}; do
      [[ "$(k8s_minor "${v}")" == "${K8S_VERSION#v}" ]] && K8S_VERSION="${v}"
    done
    if [[ "${K8S_VERSION}" != v*.*.* ]]; then
      echo "hack/versions.sh: K8S_VERSION=${K8S_VERSION}: not a tested minor (${K8S_TESTED_VERSIONS}); give a full version such as v1.35.4" >&2
      return 1 2>/dev/null || exit 1
    fi
    ;;
esac

ETCD_VERSION="${ETCD_VERSION:-v3.6.16}"
KWOK_VERSION="${KWOK_VERSION:-v0.8.0}"
CACHE_DIR="${OPENNEBULA_OPERATOR_CACHE:-${XDG_CACHE_HOME:-${HOME}/.cache}/opennebula-operator}"
K8S_BIN_DIR="${CACHE_DIR}/bin/k8s-${K8S_VERSION}"
ENVTEST_VERSION="${K8S_VERSION#v}"
ENVTEST_STORE_DIR="${XDG_DATA_HOME:-${HOME}/.local/share}/kubebuilder-envtest/k8s/${ENVTEST_VERSION}-$(go env GOOS)-$(go env GOARCH)"
# The real oned the conformance suite runs against (hack/build-oned.sh), built from source.
ONE_VERSION="${ONE_VERSION:-7.2.0}"
ONED_PREFIX_DIR="${CACHE_DIR}/oned-${ONE_VERSION}"
export K8S_OLDEST_VERSION K8S_NEWEST_VERSION K8S_TESTED_VERSIONS K8S_OLDEST_MINOR K8S_NEWEST_MINOR K8S_MIN_KUBE_VERSION \
  K8S_VERSION ETCD_VERSION KWOK_VERSION CACHE_DIR K8S_BIN_DIR ENVTEST_VERSION ENVTEST_STORE_DIR ONE_VERSION ONED_PREFIX_DIR
