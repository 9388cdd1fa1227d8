#!/bin/bash
# `make deb`: builds the Debian package libapache2-mod-tls into <build-dir>/ from a copy of the
# source tree (packaging/debian becomes its debian/), then runs lintian on it: errors fail.
# Usage: scripts/build-deb.sh <absolute build dir>
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
out=${1:?usage: build-deb.sh BUILD_DIR}
work=$out/deb
version=$(dpkg-parsechangelog -l "$repo/packaging/debian/changelog" -S Version)
src=$work/libapache2-mod-tls-$version

rm -rf "$work"
mkdir -p "$src"
# The .deb gets the time the sources were copied, so that a source changed during the build
# makes it older than that source (tests rebuild a .deb older than the tree).
touch "$work/.sources-copied"
# The tree without build outputs, VCS data or caches; the build dir itself may be inside the repo.
tar -C "$repo" --exclude=./build --exclude=./build-asan --exclude=./.git --exclude=./bridge/target \
    --exclude=__pycache__ --exclude=.pytest_cache --exclude="./$(realpath --relative-to="$repo" "$out")" \
    -cf - . | tar -C "$src" -xf -
cp -r "$repo/packaging/debian" "$src/debian"

# The crate sources (packaging/debian/rules). Debian 13: its librust-* Build-Depends. Debian 12: the
# copy carries build/crates, Debian 13's packages unpacked by `make setup`
# (scripts/debian13-crates.sh; hard links where possible), and the profile drops those
# Build-Depends, which Debian 12's own older librust-* packages cannot satisfy.
profiles=()
. /etc/os-release
if [[ ${VERSION_CODENAME:-} == bookworm ]]; then
  [[ -d $repo/build/crates && ! -L $repo/build/crates ]] ||
    { echo "make deb: $repo/build/crates is missing (make setup fetches it)" >&2; exit 1; }
  mkdir -p "$src/build"
  cp -al "$repo/build/crates" "$src/build/crates" 2>/dev/null ||
    { rm -rf "$src/build/crates"; cp -a "$repo/build/crates" "$src/build/crates"; }
  profiles=(--build-profiles=pkg.libapache2-mod-tls.debian13-crates)
fi

# No -dbgsym package; the build dependencies are checked (dpkg-checkbuilddeps) before building.
(cd "$src" && DEB_BUILD_OPTIONS="${DEB_BUILD_OPTIONS:+$DEB_BUILD_OPTIONS }noddebs" \
   dpkg-buildpackage -b -us -uc "${profiles[@]}")

debs=("$work"/libapache2-mod-tls_"$version"_*.deb)
cp "${debs[@]}" "$out/"
deb="$out/$(basename "${debs[0]}")"
touch -r "$work/.sources-copied" "$deb"
echo "make deb: $deb"
# lintian exits non-zero on errors (--fail-on error); warnings are printed for the maintainer.
lintian --fail-on error --info "$deb"
