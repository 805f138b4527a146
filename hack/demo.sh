#!/usr/bin/env bash
# make demo: the operator's main job on a local cluster. Builds what is missing (the
# first run compiles Kubernetes from the Go module proxy: ~10-15 minutes on 2 cores;
# later runs reuse the cache and take seconds), starts the cluster, installs the CRD,
# runs the manager, applies config/samples/ and waits until the frontend is Ready.
# The cluster and the manager keep running; `make demo-down` removes them.
set -euo pipefail

HACK_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT_DIR="$(cd "${HACK_DIR}/.." && pwd)"
# shellcheck source=hack/versions.sh
source "${HACK_DIR}/versions.sh"
NAME="${CLUSTER_NAME:-opennebula-operator}"
STATE_DIR="${CACHE_DIR}/clusters/${NAME}"
KUBECTL="${K8S_BIN_DIR}/kubectl"
start=$(date +%s)

"${HACK_DIR}/local-cluster.sh" up "${NAME}"
export KUBECONFIG="${STATE_DIR}/kubeconfig"

echo "== installing the CRD"
"${KUBECTL}" apply --server-side -f "${ROOT_DIR}/config/crd/bases/"
# kubectl wait fails instead of waiting while a brand-new CRD has no conditions yet.
for i in $(seq 120); do
  "${KUBECTL}" wait --for=condition=Established crd/opennebulafrontends.opennebula.io --timeout=1m >/dev/null 2>&1 && break
  [[ $i -lt 120 ]] || { echo "the CRD did not become Established" >&2; exit 1; }
  sleep 0.5
done

echo "== starting the manager (log: ${STATE_DIR}/manager.log)"
(cd "${ROOT_DIR}" && go build -o bin/manager ./cmd)
if [[ -f "${STATE_DIR}/manager.pid" ]]; then kill "$(cat "${STATE_DIR}/manager.pid")" 2>/dev/null || true; sleep 1; fi
nohup "${ROOT_DIR}/bin/manager" --metrics-bind-address=0 --health-probe-bind-address=127.0.0.1:0 \
  >"${STATE_DIR}/manager.log" 2>&1 &
echo $! >"${STATE_DIR}/manager.pid"

echo "== applying config/samples/ (the production sample's Secrets first)"
KUBECTL="${KUBECTL}" "${HACK_DIR}/sample-secrets.sh" default
"${KUBECTL}" apply -k "${ROOT_DIR}/config/samples/"
if ! "${KUBECTL}" wait --for=condition=Ready opennebulafrontends --all --timeout=5m; then
  echo "the frontend did not become Ready; manager log:" >&2
  tail -50 "${STATE_DIR}/manager.log" >&2
  exit 1
fi

echo
echo "== the frontend and its children"
"${KUBECTL}" get opennebulafrontends,statefulsets,services,pvc,pods -o wide
echo
echo "== ports (name port/protocol -> target)"
for svc in $("${KUBECTL}" get services -l app.kubernetes.io/managed-by=opennebula-operator -o name); do
  echo "${svc}:"
  "${KUBECTL}" get "${svc}" -o jsonpath='{range .spec.ports[*]}  {.name} {.port}/{.protocol} -> {.targetPort}{"\n"}{end}'
done
echo "statefulset container ports:"
"${KUBECTL}" get statefulsets -l app.kubernetes.io/managed-by=opennebula-operator \
  -o jsonpath='{range .items[*].spec.template.spec.containers[*].ports[*]}  {.name} {.containerPort}/{.protocol}{"\n"}{end}'
echo
echo "== status"
"${KUBECTL}" get opennebulafrontends -o jsonpath='{range .items[*]}{.metadata.name}: {.status}{"\n"}{end}'
echo
echo "demo ready in $(( $(date +%s) - start ))s. Try: export KUBECONFIG=${KUBECONFIG}; ${KUBECTL} get onefe"
echo "remove it with: make demo-down"
