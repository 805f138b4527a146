#!/usr/bin/env bash
# Runs the SSH server sidecar's script and sshd_config with Debian's openssh-server (what
# images/sshd installs), as the sidecar runs them: as oneadmin (UID/GID 9869), on loopback.
# Needs root (to run sshd as oneadmin): it installs openssh-server and creates the oneadmin
# user when they are missing, as a fresh CI machine has neither.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ ! -x /usr/sbin/sshd ] || ! command -v ssh-keyscan >/dev/null; then
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends openssh-server openssh-client >/dev/null
fi
if ! getent passwd 9869 >/dev/null; then
  getent group 9869 >/dev/null || groupadd -g 9869 oneadmin
  useradd -u 9869 -g 9869 -M -d /var/lib/one -s /bin/sh oneadmin
elif [ "$(getent passwd 9869 | cut -d: -f6)" != /var/lib/one ]; then
  usermod -d /var/lib/one "$(getent passwd 9869 | cut -d: -f1)"
fi
exec go test -tags sshd ./internal/builder/ -run TestRealSSHDSidecar -count=1 -v
