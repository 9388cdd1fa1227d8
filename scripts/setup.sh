#!/bin/bash
# Installs the Debian packages that building, running, testing and benchmarking mod_tls need, from
# Debian's own archive only, then makes build/crates, the crate sources cargo builds the bridge from
# (scripts/debian13-crates.sh). Run by `make` every time: when everything is there it prints nothing
# and exits 0 at once (one dpkg-query call and a stamp check). When something is missing it installs
# it as root, or, as another user, names the missing packages and the command to run, and exits 1.
#
# Which Debian gets what (README "Which Debian gets what"):
#   Debian 13: rustc/cargo 1.85 and the librust-*-dev crate packages, installed.
#   Debian 12: rustc-web/cargo-web (a current Rust from the security archive; its rustc 1.63 is too
#     old and its crates are too: rustls 0.20). The crate sources are Debian 13's same librust-*-dev
#     packages, unpacked into build/crates; nothing from Debian 13 is installed.
#
# Testing hook (not user-facing): MOD_TLS_SETUP_EXTRA_PACKAGES="pkg ..." adds packages to the list,
# e.g. a name that is not installed, to exercise the install / not-root paths.
set -euo pipefail

packages=(
  # build: C++20 module glue, Apache headers and apxs, GoogleTest
  g++ make cmake pkg-config apache2 apache2-dev libgtest-dev
  # unit tests: OpenSSL is the independent TLS client of the in-memory handshake tests
  libssl-dev
  # tests, `make run` and the benchmark
  python3-pytest python3-cryptography curl openssl nghttp2-client wrk memcached redis-server
  ca-certificates procps
  # the benchmark's chart (bench/results/latest.png)
  python3-matplotlib
  # the headless browser test (tests/integration/test_browser.py)
  chromium
  # peers of the feature tests: ACME CA (mod_md), WebSocket backend (proxy)
  pebble python3-websockets
  # the h2 client of the graceful-restart keep-alive test (tests/integration/test_graceful.py)
  python3-h2
  # decompresses the server's CompressedCertificate (tests/integration/test_cert_compression.py)
  python3-brotli
  # hardening: libFuzzer (make fuzz; the runtime of the release's default clang), external
  # scanners, memcheck
  clang libclang-rt-dev testssl.sh sslscan valgrind
  # packaging (make deb): dpkg-buildpackage checks build-essential and the control file's
  # Build-Depends (the rest of them are above and below)
  build-essential debhelper dpkg-dev fakeroot lintian
)
repo=$(cd "$(dirname "$0")/.." && pwd)
# The bridge builds with Debian's cargo and rustc (bridge/.cargo/config.toml pins /usr/bin/rustc,
# even where a rustup toolchain is on PATH). Debian 13 has rustc 1.85. Debian 12's own rustc (1.63)
# is too old for current crates; its security archive carries a current Rust as rustc-web/cargo-web,
# which install the same /usr/bin/rustc and /usr/bin/cargo and conflict with the rustc package.
# The bridge's crate sources (bridge/debian-crates.txt) are Debian 13's: installed there, fetched
# into build/crates on Debian 12 (below).
. /etc/os-release
if [[ ${VERSION_CODENAME:-} == bookworm ]]; then
  packages+=(cargo-web rustc-web)
else
  mapfile -t crate_packages < <(sed -e 's/#.*//' "$repo/bridge/debian-crates.txt" | tr -s ' \t' '\n' |
                                sed '/^$/d')
  packages+=(cargo rustc "${crate_packages[@]}")
fi
# shellcheck disable=SC2206  # word splitting of the override is intended
packages+=(${MOD_TLS_SETUP_EXTRA_PACKAGES:-})

# One call for all: prints "name status..." for each known package, nothing for unknown ones.
declare -A installed=()
while read -r name _ _ state; do
  if [[ $state == installed ]]; then installed[$name]=1; fi
done < <(dpkg-query -W -f='${Package} ${Status}\n' "${packages[@]}" 2>/dev/null || true)
missing=()
for p in "${packages[@]}"; do
  [[ -n ${installed[$p]:-} ]] || missing+=("$p")
done
# The benchmark's clients and `make run` reach the server as https://localhost (rustls refuses an
# IP address as SNI), so the name must resolve. Every installed Debian has this entry in
# /etc/hosts; a bare debootstrap tree may not.
if ! getent hosts localhost >/dev/null 2>&1; then
  if ((EUID == 0)); then
    echo "127.0.0.1 localhost" >>/etc/hosts
    echo "mod_tls setup: added '127.0.0.1 localhost' to /etc/hosts (the name did not resolve)"
  else
    echo "mod_tls: 'localhost' does not resolve; add '127.0.0.1 localhost' to /etc/hosts" >&2
    exit 1
  fi
fi

# The crate sources under build/ (a stamp check when they are there), after the packages.
crates() { exec "$repo/scripts/debian13-crates.sh"; }
if ((${#missing[@]} == 0)); then crates; fi

if ((EUID != 0)); then
  cat >&2 <<EOF
mod_tls: these Debian packages are missing: ${missing[*]}
Install them as root, either with
    sudo make setup
or directly with
    sudo apt-get install --no-install-recommends ${missing[*]}
EOF
  exit 1
fi

echo "mod_tls setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
crates
