#!/usr/bin/env bash
# The supported Kubernetes range is stated once, in hack/versions.sh. This fails (CI runs it
# in `make verify-generated`) when the README, docs/reliability.md or the bundle's CSV say
# something else.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=hack/versions.sh
source hack/versions.sh

status=0
need() {
  local file="$1" text="$2"
  if ! grep -qF -- "${text}" "${file}"; then
    echo "${file} does not say \"${text}\" (hack/versions.sh: oldest ${K8S_OLDEST_VERSION}, newest ${K8S_NEWEST_VERSION})" >&2
    status=1
  fi
}
range="Kubernetes ${K8S_OLDEST_MINOR} to ${K8S_NEWEST_MINOR}"
for f in README.md docs/reliability.md; do
  need "${f}" "${range}"
  need "${f}" "${K8S_OLDEST_VERSION} and ${K8S_NEWEST_VERSION}"
done
need bundle/manifests/opennebula-operator.clusterserviceversion.yaml "minKubeVersion: ${K8S_MIN_KUBE_VERSION}"
exit "${status}"
