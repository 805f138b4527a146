#!/usr/bin/env bash
# Creates the Secrets config/samples' production frontend references, with throwaway
# values, in NAMESPACE (for the demo and the e2e tests; never for a real cloud).
# Usage: hack/sample-secrets.sh NAMESPACE   (KUBECONFIG and KUBECTL from the environment)
set -euo pipefail
NS="${1:?namespace}"
KUBECTL="${KUBECTL:-kubectl}"
tmp="$(mktemp -d)"
trap 'rm -rf "${tmp}"' EXIT
# Not real keys: kwok nodes run no containers, nothing reads them.
echo "demo-private-key" >"${tmp}/id_rsa"
echo "ssh-rsa AAAAdemo demo@opennebula-operator" >"${tmp}/id_rsa.pub"
apply() { "${KUBECTL}" create "$@" --namespace "${NS}" --dry-run=client -o yaml | "${KUBECTL}" apply -f - >/dev/null; }
apply secret generic opennebula-db-credentials --from-literal=password="demo-$(date +%s)"
apply secret generic opennebula-ssh-keys --type=kubernetes.io/ssh-auth \
  --from-file=ssh-privatekey="${tmp}/id_rsa" --from-file=ssh-publickey="${tmp}/id_rsa.pub"
apply secret generic opennebula-tls --type=kubernetes.io/tls \
  --from-literal=tls.crt=demo --from-literal=tls.key=demo
echo "sample Secrets in ${NS}: opennebula-db-credentials, opennebula-ssh-keys, opennebula-tls"
