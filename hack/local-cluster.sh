#!/usr/bin/env bash
# The local cluster: real etcd, kube-apiserver, kube-controller-manager and kube-scheduler
# (built by hack/build-k8s-binaries.sh), kwok nodes that "run" pods, and a hostPath
# provisioner behind a default StorageClass. Everything listens on this machine.
#
# Usage: hack/local-cluster.sh up|down|stop|start|kubeconfig [NAME]   (NAME defaults to opennebula-operator)
set -euo pipefail

HACK_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT_DIR="$(cd "${HACK_DIR}/.." && pwd)"
# shellcheck source=hack/versions.sh
source "${HACK_DIR}/versions.sh"

CMD="${1:-up}"
NAME="${2:-${CLUSTER_NAME:-opennebula-operator}}"
STATE_DIR="${CACHE_DIR}/clusters/${NAME}"
KUBECONFIG_FILE="${STATE_DIR}/kubeconfig"
KWOKCTL="${K8S_BIN_DIR}/kwokctl"
KUBECTL="${K8S_BIN_DIR}/kubectl"
NODES="${NODES:-2}"
# KWOK_EXTRA_ARGS: more `kwokctl create cluster` flags (the benchmark passes --disable-qps-limits).

log() { echo "[local-cluster] $*" >&2; }

stop_pidfile() {
  local f="$1"
  if [[ -f "$f" ]]; then
    local pid
    pid="$(cat "$f")"
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$f"
  fi
}

# restart_component COMPONENT [COMMAND...]: stops a component kwokctl started and starts
# it again with the same command line (kwokctl has no per-component start); COMMAND runs
# while it is stopped.
restart_component() {
  local dir="${KWOK_WORKDIR:-${HOME}/.kwok}/clusters/${NAME}" comp="$1" pid args
  shift
  pid="$(cat "${dir}/pids/${comp}.pid")"
  kill -0 "${pid}" 2>/dev/null || { log "${comp} (pid ${pid}) is not running"; return 1; }
  mapfile -t args < <(tr '\0' '\n' <"/proc/${pid}/cmdline")
  kill "${pid}"
  for _ in $(seq 50); do kill -0 "${pid}" 2>/dev/null || break; sleep 0.1; done
  kill -9 "${pid}" 2>/dev/null || true
  if (($#)); then "$@"; fi
  # A simple command in the background, so that $! is the component's own pid, and
  # nothing of ours (stdout could be a caller's pipe) left open in it.
  (
    cd "${dir}" || exit 1
    setsid "${args[@]}" >>"${dir}/logs/${comp}.log" 2>&1 </dev/null &
    # kwokctl parses the pid file with strconv.Atoi: no trailing newline, or it cannot
    # stop (or delete) the component and leaves it running.
    printf '%s' "$!" >"${dir}/pids/${comp}.pid"
  ) >/dev/null 2>&1 </dev/null
}

# start: after `kwokctl start cluster`, the node leases still name the kwok controller
# that ran before, for their 200 s duration, and the new one manages no node (its pods
# stay Pending, deleted pods Terminating) until they expire. The controller is restarted
# and the leases dropped while it is stopped, so that the new one takes the nodes over at
# once. (Dropped before the restart, the controller kwokctl had just started could take
# them again first, each kwok process having an identity of its own: the outage test
# then saw a pod Terminating for its whole 3 minutes.)
start() {
  "${KWOKCTL}" start cluster --name "${NAME}" >>"${STATE_DIR}/kwokctl.log" 2>&1
  restart_component kwok-controller drop_node_leases
}

drop_node_leases() {
  "${KUBECTL}" --kubeconfig "${KUBECONFIG_FILE}" delete lease -n kube-node-lease --all >/dev/null
}

# free_port: a loopback TCP port nothing listens on now (bash's /dev/tcp: no tool needed).
free_port() {
  local port
  while :; do
    port=$((20000 + RANDOM % 12000))
    (exec 3<>"/dev/tcp/127.0.0.1/${port}") 2>/dev/null || { echo "${port}"; return; }
  done
}

# loopback_args: kwokctl's binary runtime has every component listen on 0.0.0.0; these
# extra arguments (given after kwokctl's own, so they win) keep each on 127.0.0.1. etcd's
# and kwok's listen addresses carry their ports, so those ports are chosen here.
# The order matters: kwokctl v0.8.0 (mutationComponentPatches) files a component's
# further --extra-args under the index of its first one among all of them, which is only
# right when every component's first comes before any repeat. So one for each component
# first, then etcd's others; KWOK_EXTRA_ARGS may repeat these components, not add one
# with two arguments.
loopback_args() {
  local etcd peer kwok
  etcd="$(free_port)"; peer="$(free_port)"; kwok="$(free_port)"
  echo "--etcd-port ${etcd} --controller-port ${kwok}" \
    "--extra-args etcd=listen-client-urls=http://127.0.0.1:${etcd}" \
    "--extra-args kube-apiserver=bind-address=127.0.0.1" \
    "--extra-args kube-controller-manager=bind-address=127.0.0.1" \
    "--extra-args kube-scheduler=bind-address=127.0.0.1" \
    "--extra-args kwok-controller=server-address=127.0.0.1:${kwok}" \
    "--extra-args etcd=advertise-client-urls=http://127.0.0.1:${etcd}" \
    "--extra-args etcd=listen-peer-urls=http://127.0.0.1:${peer}" \
    "--extra-args etcd=initial-advertise-peer-urls=http://127.0.0.1:${peer}" \
    "--extra-args etcd=initial-cluster=node0=http://127.0.0.1:${peer}" \
    "$(kwok_node_args)"
}

# kwok_node_args: kwok plays only the nodes `kwokctl scale node` makes (annotated
# kwok.x-k8s.io/node=fake, as kwokctl's kind runtime configures it; the binary runtime
# would take every node). A test can then register a node of its own and play its
# kubelet: the Raft e2e test runs double oned servers for the pods bound to it.
kwok_node_args() {
  echo "--extra-args kwok-controller=manage-all-nodes=false" \
    "--extra-args kwok-controller=manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake"
}

up() {
  "${HACK_DIR}/build-k8s-binaries.sh" cluster
  mkdir -p "${STATE_DIR}"
  if ! "${KWOKCTL}" get clusters 2>/dev/null | grep -qx "${NAME}"; then
    log "creating cluster ${NAME}"
    # shellcheck disable=SC2046 # loopback_args is a list of flags, split on purpose
    "${KWOKCTL}" create cluster --name "${NAME}" --runtime binary \
      --etcd-binary "${K8S_BIN_DIR}/etcd" \
      --kube-apiserver-binary "${K8S_BIN_DIR}/kube-apiserver" \
      --kube-controller-manager-binary "${K8S_BIN_DIR}/kube-controller-manager" \
      --kube-scheduler-binary "${K8S_BIN_DIR}/kube-scheduler" \
      --kwok-controller-binary "${K8S_BIN_DIR}/kwok" \
      $(loopback_args) \
      ${KWOK_EXTRA_ARGS:-} \
      --kubeconfig "${KUBECONFIG_FILE}" --wait 3m >"${STATE_DIR}/kwokctl.log" 2>&1 \
      || { cat "${STATE_DIR}/kwokctl.log" >&2; exit 1; }
    "${KWOKCTL}" --name "${NAME}" scale node --replicas "${NODES}" >>"${STATE_DIR}/kwokctl.log" 2>&1
  else
    start || true
  fi
  "${KWOKCTL}" get kubeconfig --name "${NAME}" >"${KUBECONFIG_FILE}"

  if [[ ! -f "${STATE_DIR}/provisioner.pid" ]] || ! kill -0 "$(cat "${STATE_DIR}/provisioner.pid")" 2>/dev/null; then
    log "starting the hostPath provisioner"
    (cd "${ROOT_DIR}" && go build -o "${ROOT_DIR}/bin/local-provisioner" ./hack/local-provisioner)
    nohup "${ROOT_DIR}/bin/local-provisioner" --kubeconfig "${KUBECONFIG_FILE}" --root "${STATE_DIR}/volumes" \
      >"${STATE_DIR}/provisioner.log" 2>&1 &
    echo $! >"${STATE_DIR}/provisioner.pid"
  fi
  for _ in $(seq 100); do
    "${KUBECTL}" --kubeconfig "${KUBECONFIG_FILE}" get storageclass local-hostpath >/dev/null 2>&1 && break
    sleep 0.2
  done
  "${KUBECTL}" --kubeconfig "${KUBECONFIG_FILE}" wait --for=condition=Ready nodes --all --timeout=2m >/dev/null
  log "cluster ${NAME} is up: export KUBECONFIG=${KUBECONFIG_FILE}"
}

down() {
  stop_pidfile "${STATE_DIR}/manager.pid"
  stop_pidfile "${STATE_DIR}/provisioner.pid"
  if [[ -x "${KWOKCTL}" ]] && "${KWOKCTL}" get clusters 2>/dev/null | grep -qx "${NAME}"; then
    "${KWOKCTL}" delete cluster --name "${NAME}" >/dev/null 2>&1 || true
  fi
  rm -rf "${STATE_DIR}"
  log "cluster ${NAME} removed"
}

# stop/start: every cluster component (etcd, kube-apiserver, controller-manager, scheduler,
# kwok) stops and starts again with its data, for the fault tests.
case "${CMD}" in
  up) up ;;
  down) down ;;
  stop) "${KWOKCTL}" stop cluster --name "${NAME}" ;;
  start) start ;;
  kubeconfig) echo "${KUBECONFIG_FILE}" ;;
  *) echo "usage: $0 up|down|stop|start|kubeconfig [NAME]" >&2; exit 2 ;;
esac
