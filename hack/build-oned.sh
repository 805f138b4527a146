#!/usr/bin/env bash
# Builds a real oned (OpenNebula 7.2.0's core: oned, onemonitord, the scheduler and the Ruby
# drivers) from its source archive, for the conformance suite (`make test-oned`) that checks
# the project's XML-RPC client and its double against the real thing.
#
# What it does and why each step is there is written in docs/opennebula.md (facts
# from building it on this kind of machine); in short:
#   1. the Debian build and run dependencies (apt-get, only those missing);
#   2. the source: ONE_SOURCE_ARCHIVE, else ../shared/opennebula/one-release-7.2.0-apache.tar.gz
#      next to the clone, else the tag's archive from GitHub; checksum verified (a known sha256,
#      or, for GitHub's archive, the commit id git archive writes into the tar header);
#   3. `scons sqlite=yes mysql=yes grpc=no ...` (about 6 minutes on 2 cores) and
#      `install.sh -d PREFIX` (self-contained install under the cache);
#   4. the two fixes a self-contained install needs before the Ruby drivers start.
#
# The result is cached outside the clone, in ${CACHE_DIR}/oned-${ONE_VERSION} (see
# hack/versions.sh): a second run only checks the stamp and costs nothing. It prints nothing
# on stdout but the install prefix, so `ONED_PREFIX=$(hack/build-oned.sh)` works.
set -euo pipefail

HACK_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=hack/versions.sh
source "${HACK_DIR}/versions.sh"

log() { echo "[build-oned] $*" >&2; }

PREFIX="${ONED_PREFIX_DIR}"
STAMP="${PREFIX}/.built-from"
# Both database backends: SQLite for the conformance suite, MySQL/MariaDB for the Raft zone
# whose servers each run on their own MariaDB (internal/raft). A cache built with other
# flags is rebuilt.
SCONS_FLAGS=(sqlite=yes mysql=yes grpc=no svncterm=no fireedge=no rubygems=no systemd=no)

if [[ -f "${STAMP}" && -x "${PREFIX}/bin/oned" ]] && grep -qF "scons ${SCONS_FLAGS[*]}" "${STAMP}"; then
  echo "${PREFIX}"
  exit 0
fi

# Build dependencies (scons, the C++ libraries oned links) and what the Ruby drivers load at
# run time (docs/opennebula.md lists both). sqlite3 is the CLI the harness uses to
# copy a leader's database (`.backup`) when a server joins a Raft zone; libmariadb-dev(-compat)
# give scons mysql_config, and mariadb-server/-client run each server's own MariaDB and the
# operator's seed script (mariadb-dump) in the tests.
DEB_PACKAGES=(
  scons g++ make pkg-config libxmlrpc-c++8-dev libxml2-dev libsqlite3-dev libssl-dev
  libcurl4-openssl-dev libsystemd-dev bison flex ruby zlib1g-dev sqlite3
  libmariadb-dev libmariadb-dev-compat mariadb-server mariadb-client
  ruby-ffi-rzmq ruby-nokogiri ruby-treetop ruby-ipaddress ruby-ox ruby-xmlrpc
  ruby-parse-cron ruby-uuidtools
)
install_packages() {
  local want=()
  for p in "${DEB_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "${p}" 2>/dev/null | grep -q "install ok installed" || want+=("${p}")
  done
  [[ ${#want[@]} -eq 0 ]] && return 0
  log "installing Debian packages: ${want[*]}"
  local sudo=()
  [[ $(id -u) -eq 0 ]] || sudo=(sudo)
  # apt-cache/apt-get need the package lists once on a fresh machine.
  export DEBIAN_FRONTEND=noninteractive
  if ! "${sudo[@]}" apt-get install -y --no-install-recommends "${want[@]}" >&2; then
    "${sudo[@]}" apt-get update >&2
    "${sudo[@]}" apt-get install -y --no-install-recommends "${want[@]}" >&2
  fi
}

# Known archives of the release-7.2.0 tag, by sha256:
#  - the Apache-only repack shipped in shared/ (proprietary-licensed folders left out).
KNOWN_SHA256=(
  a68ec1990074e59b4326e5c1a6d558ee817fcc8482f21fa4f579cf1d941f31eb
)
ONE_COMMIT="28d51150e8c9f115337e7c04f7ce8300916fafb6"
ONE_TAG_URL="https://github.com/OpenNebula/one/archive/refs/tags/release-${ONE_VERSION}.tar.gz"

find_archive() {
  if [[ -n "${ONE_SOURCE_ARCHIVE:-}" ]]; then
    [[ -f "${ONE_SOURCE_ARCHIVE}" ]] || { log "ONE_SOURCE_ARCHIVE=${ONE_SOURCE_ARCHIVE} does not exist"; exit 1; }
    echo "${ONE_SOURCE_ARCHIVE}"; return
  fi
  # The clone sits next to shared/ on the project's machines and in CI.
  local shared
  for shared in "${HACK_DIR}/../../shared/opennebula" "${HACK_DIR}/../../../shared/opennebula"; do
    if [[ -f "${shared}/one-release-${ONE_VERSION}-apache.tar.gz" ]]; then
      echo "$(cd "${shared}" && pwd)/one-release-${ONE_VERSION}-apache.tar.gz"; return
    fi
  done
  local dl="${CACHE_DIR}/build/one-release-${ONE_VERSION}.tar.gz"
  if [[ ! -f "${dl}" ]]; then
    log "downloading ${ONE_TAG_URL}"
    mkdir -p "$(dirname "${dl}")"
    curl -fsSL --retry 3 -o "${dl}.part" "${ONE_TAG_URL}" || {
      log "no source archive: set ONE_SOURCE_ARCHIVE to OpenNebula's release-${ONE_VERSION} archive"; exit 1; }
    mv "${dl}.part" "${dl}"
  fi
  echo "${dl}"
}

verify_archive() {
  local archive="$1" sum
  sum="$(sha256sum "${archive}" | cut -d' ' -f1)"
  [[ -n "${ONE_SOURCE_SHA256:-}" && "${sum}" == "${ONE_SOURCE_SHA256}" ]] && return 0
  for k in "${KNOWN_SHA256[@]}"; do [[ "${sum}" == "${k}" ]] && return 0; done
  # GitHub's tag archive is made by git archive, which records the commit in the tar header.
  local commit
  commit="$(gzip -dc "${archive}" | git get-tar-commit-id 2>/dev/null || true)"
  if [[ "${commit}" == "${ONE_COMMIT}" ]]; then return 0; fi
  log "checksum of ${archive} (${sum}) is not a known release-${ONE_VERSION} archive and its tar header names commit '${commit}', not ${ONE_COMMIT}; set ONE_SOURCE_SHA256 to accept it"
  exit 1
}

install_packages
ARCHIVE="$(find_archive)"
verify_archive "${ARCHIVE}"

SRC="${CACHE_DIR}/build/one-${ONE_VERSION}"
if [[ ! -x "${SRC}/src/nebula/oned" ]] || ! grep -qxF "${SCONS_FLAGS[*]}" "${SRC}.flags" 2>/dev/null; then
  rm -rf "${SRC}" && mkdir -p "${SRC}"
  log "unpacking ${ARCHIVE}"
  tar -xzf "${ARCHIVE}" -C "${SRC}" --strip-components=1
  log "building oned ${ONE_VERSION} with scons (about 5 minutes on 2 cores)"
  # grpc=no: Raft then replicates over XML-RPC (13 min instead of 5 with gRPC);
  # fireedge/rubygems/systemd/svncterm: not needed to run oned on loopback.
  (cd "${SRC}" && scons -j"$(nproc)" "${SCONS_FLAGS[@]}" >"${SRC}.scons.log" 2>&1) || {
    tail -40 "${SRC}.scons.log" >&2; exit 1; }
  echo "${SCONS_FLAGS[*]}" > "${SRC}.flags"
fi

log "installing into ${PREFIX}"
rm -rf "${PREFIX}.tmp" && mkdir -p "${PREFIX}.tmp"
# install.sh prints a `cp: cannot stat` line for every file the Apache archive leaves out.
(cd "${SRC}" && ./install.sh -d "${PREFIX}.tmp" >"${SRC}.install.log" 2>&1) || { tail -20 "${SRC}.install.log" >&2; exit 1; }
# Fix 1: load_opennebula_paths.rb resolves GEMS_LOCATION with File.realpath, which fails when
# the folder does not exist (no gems are installed under the prefix: rubygems=no).
mkdir -p "${PREFIX}.tmp/share/gems"
# Fix 2: keep Debian's gem path besides the prefix's, or the drivers cannot load the gems
# installed as ruby-* packages.
sed -i 's|^Gem.use_paths(File.realpath(GEMS_LOCATION))$|Gem.use_paths(File.realpath(GEMS_LOCATION), Gem.default_path)|' \
  "${PREFIX}.tmp/lib/ruby/load_opennebula_paths.rb"
grep -q 'Gem.default_path' "${PREFIX}.tmp/lib/ruby/load_opennebula_paths.rb" || {
  log "could not patch lib/ruby/load_opennebula_paths.rb"; exit 1; }
# The binaries are kept unstripped by scons (-g, 118 MB); a stripped oned is 12 MB.
strip "${PREFIX}.tmp/bin/oned" "${PREFIX}.tmp/bin/onemonitord" 2>/dev/null || true
echo "${ARCHIVE} $(sha256sum "${ARCHIVE}" | cut -d' ' -f1) scons ${SCONS_FLAGS[*]}" > "${PREFIX}.tmp/.built-from"
rm -rf "${PREFIX}" && mv "${PREFIX}.tmp" "${PREFIX}"
log "oned ${ONE_VERSION} installed in ${PREFIX}"
echo "${PREFIX}"
