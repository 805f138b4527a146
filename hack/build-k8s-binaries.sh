#!/usr/bin/env bash
# Builds the Kubernetes binaries the tests and the local cluster need from the Go module
# proxy (no GitHub release download works on these machines), caches them outside the clone,
# and lays etcd/kube-apiserver/kubectl out the way setup-envtest's store expects them so that
# `setup-envtest use -i <version>` works offline.
#
# Idempotent: a binary that is already in the cache is not rebuilt, so a second run costs
# nothing. Usage: hack/build-k8s-binaries.sh [envtest|cluster|all]   (default: all)
#   envtest: etcd, kube-apiserver, kubectl
#   cluster: the above plus kube-controller-manager, kube-scheduler, kwok, kwokctl
set -euo pipefail

HACK_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=hack/versions.sh
source "${HACK_DIR}/versions.sh"

WHAT="${1:-all}"
BIN_DIR="${K8S_BIN_DIR}"
mkdir -p "${BIN_DIR}" "${CACHE_DIR}/build"

log() { echo "[build-k8s-binaries] $*" >&2; }

missing() {
  local out=()
  for b in "$@"; do [[ -x "${BIN_DIR}/${b}" ]] || out+=("$b"); done
  echo "${out[@]:-}"
}

# A throwaway module that requires k8s.io/kubernetes and maps every staging module named in
# kubernetes' own replace block to its published v0.x.y: kubernetes' go.mod points them at
# ./staging, which is not part of the module zip.
build_kubernetes() {
  local cmds=("$@")
  [[ ${#cmds[@]} -gt 0 ]] || return 0
  local mod="${CACHE_DIR}/build/kubernetes-${K8S_VERSION}"
  mkdir -p "${mod}"
  if [[ ! -f "${mod}/go.sum" ]]; then
    log "preparing module for k8s.io/kubernetes@${K8S_VERSION}"
    local gomod
    gomod="$(cd "${mod}" && GOFLAGS=-mod=mod go mod download -json "k8s.io/kubernetes@${K8S_VERSION}" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')"
    local staging="v0.${K8S_VERSION#v1.}"
    {
      echo "module local/kubernetes-build"
      echo
      echo "go 1.26"
      echo
      echo "require k8s.io/kubernetes ${K8S_VERSION}"
      echo
      echo "replace ("
      sed -n '/^replace (/,/^)/p' "${gomod}" | sed -n "s#^\s*\(k8s.io/[^ ]*\) => ./staging/.*#\t\1 => \1 ${staging}#p"
      echo ")"
    } > "${mod}/go.mod"
    {
      echo "//go:build tools"
      echo "package tools"
      echo
      echo "import ("
      for c in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
        echo "	_ \"k8s.io/kubernetes/cmd/${c}\""
      done
      echo ")"
    } > "${mod}/tools.go"
    (cd "${mod}" && go mod tidy)
  fi
  local major minor
  major="${K8S_VERSION#v}"; major="${major%%.*}"
  minor="${K8S_VERSION#v*.}"; minor="${minor%%.*}"
  local ldflags="-s -w"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X ${p}.gitVersion=${K8S_VERSION} -X ${p}.gitMajor=${major} -X ${p}.gitMinor=${minor}"
    ldflags+=" -X ${p}.gitTreeState=clean -X ${p}.buildDate=1970-01-01T00:00:00Z"
  done
  local pkgs=()
  for c in "${cmds[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/${c}"); done
  log "building ${cmds[*]} ${K8S_VERSION} (several minutes on a cold cache)"
  (cd "${mod}" && CGO_ENABLED=0 go build -trimpath -ldflags "${ldflags}" -o "${BIN_DIR}/" "${pkgs[@]}")
}

# Builds one main package of a module version in its own throwaway module (go install
# pkg@version refuses modules whose go.mod has replace directives, as etcd's and kwok's do),
# once per module version: etcd and kwok do not depend on the Kubernetes version, so every
# Kubernetes version's directory gets a copy of the same build.
build_module_cmd() {
  local module="$1" version="$2" pkg="$3" out="$4"
  local mod="${CACHE_DIR}/build/$(echo "${module}" | tr '/' '_')-${version}"
  mkdir -p "${mod}/bin"
  if [[ ! -x "${mod}/bin/${out}" ]]; then
    if [[ ! -f "${mod}/go.mod" ]]; then
      printf 'module local/build\n\ngo 1.26\n\nrequire %s %s\n' "${module}" "${version}" > "${mod}/go.mod"
    fi
    log "building ${out} from ${pkg}@${version}"
    (cd "${mod}" && GOFLAGS=-mod=mod CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "bin/${out}" "${pkg}")
  fi
  cp -f "${mod}/bin/${out}" "${BIN_DIR}/${out}"
}

case "${WHAT}" in
  envtest) k8s_cmds=(kube-apiserver kubectl); want_kwok=false ;;
  cluster|all) k8s_cmds=(kube-apiserver kube-controller-manager kube-scheduler kubectl); want_kwok=true ;;
  *) echo "usage: $0 [envtest|cluster|all]" >&2; exit 2 ;;
esac

if [[ ! -x "${BIN_DIR}/etcd" ]]; then
  build_module_cmd go.etcd.io/etcd/server/v3 "${ETCD_VERSION}" go.etcd.io/etcd/server/v3 etcd
fi
read -r -a todo <<< "$(missing "${k8s_cmds[@]}")"
build_kubernetes "${todo[@]}"
if [[ "${want_kwok}" == true ]]; then
  for c in kwok kwokctl; do
    [[ -x "${BIN_DIR}/${c}" ]] || build_module_cmd sigs.k8s.io/kwok "${KWOK_VERSION}" "sigs.k8s.io/kwok/cmd/${c}" "${c}"
  done
fi

# setup-envtest's store layout: <store>/k8s/<version>-<os>-<arch>/{etcd,kube-apiserver,kubectl}
mkdir -p "${ENVTEST_STORE_DIR}"
for b in etcd kube-apiserver kubectl; do
  if ! cmp -s "${BIN_DIR}/${b}" "${ENVTEST_STORE_DIR}/${b}"; then
    cp -f "${BIN_DIR}/${b}" "${ENVTEST_STORE_DIR}/${b}"
  fi
done
log "binaries in ${BIN_DIR}; envtest assets in ${ENVTEST_STORE_DIR}"
