#!/bin/bash
# Makes build/crates, the directory cargo builds the bridge from, offline (bridge/.cargo/config.toml:
# directory = "../build/crates"): the sources of the Debian 13 packages in bridge/debian-crates.txt
# and of every librust-* package they depend on.
#   Debian 13: a symlink to /usr/share/cargo/registry, where scripts/setup.sh installed them.
#   Debian 12: its own librust-* packages are too old (rustls 0.20), so the same Debian 13 packages
#     are downloaded from Debian's archive with a private apt configuration (its own sources list
#     naming Debian 13's suites on the mirror the system uses, its own lists, cache and an empty
#     dpkg status: the system's sources, apt state and dpkg database are neither read nor changed)
#     and unpacked with `dpkg-deb -x`. Nothing is installed; no root is needed.
# Idempotent: <crate dir>.apt/stamp names the package set. When it matches, this prints nothing and
# exits at once; a changed list (or a missing crate dir) fetches again.
#
# usage: scripts/debian13-crates.sh [LIST [CRATE_DIR]]
#   defaults: bridge/debian-crates.txt and build/crates (other values are for tests only)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
list=${1:-$repo/bridge/debian-crates.txt}
crates=${2:-$repo/build/crates}
# Absolute, but not resolved: on Debian 13 build/crates is a symlink, and resolving it would make
# this script act on /usr/share/cargo/registry itself.
crates=$(realpath -m "$(dirname "$crates")")/$(basename "$crates")

# The package names: one a line, '#' starts a comment.
mapfile -t wanted < <(sed -e 's/#.*//' "$list" | tr -s ' \t' '\n' | sed '/^$/d' | sort -u)
((${#wanted[@]})) || { echo "mod_tls setup: no packages in $list" >&2; exit 1; }

# MOD_TLS_OS_RELEASE: another os-release file (tests only).
. "${MOD_TLS_OS_RELEASE:-/etc/os-release}"
if [[ ${VERSION_CODENAME:-} != bookworm ]]; then
  # Debian 13 (and later): the packaged registry itself.
  registry=${MOD_TLS_CARGO_REGISTRY:-/usr/share/cargo/registry}  # another one: tests only
  [[ -L $crates && $(readlink "$crates") == "$registry" ]] && exit 0
  mkdir -p "$(dirname "$crates")"
  rm -rf "$crates"
  ln -s "$registry" "$crates"
  exit 0
fi

state=$crates.apt
# Debian 13's suites as a Debian 13 system has them (point releases, updates, security fixes).
suites=(trixie trixie-updates trixie-security)
stamp="debian13-crates 1; suites ${suites[*]}; packages ${wanted[*]}"
fresh() { [[ -d $crates && ! -L $crates && -f $state/stamp && $(<"$state/stamp") == "$stamp" ]]; }
fresh && exit 0

mkdir -p "$state"
# One fetch at a time per crate dir (two makes in one checkout); the second finds it done.
exec 9>"$state/lock"
flock 9
fresh && exit 0

# The archive the system already uses (its Debian 12 suites' mirrors), for Debian 13's suites.
# shellcheck disable=SC2016  # $(...) are apt's format fields
mirror_of() {
  apt-get indextargets --no-release-info --format '$(REPO_URI) $(RELEASE)' 'Identifier: Packages' \
    2>/dev/null | awk -v s="$1" '$2 == s { print $1; exit }'
}
mirror=$(mirror_of bookworm); mirror=${mirror:-http://deb.debian.org/debian/}
security=$(mirror_of bookworm-security); security=${security:-http://deb.debian.org/debian-security/}
keyring=/usr/share/keyrings/debian-archive-keyring.gpg

mkdir -p "$state"/{lists/partial,cache/archives/partial,sources.list.d,preferences.d,debs}
: >"$state/status"
for suite in "${suites[@]}"; do
  if [[ $suite == *-security ]]; then uri=$security; else uri=$mirror; fi
  echo "deb [signed-by=$keyring] $uri $suite main"
done >"$state/sources.list"
# On the command line, so that they win over the system's apt.conf.d (which still applies: proxy, ...).
apt=(-o "Dir::Etc::sourcelist=$state/sources.list" -o "Dir::Etc::sourceparts=$state/sources.list.d"
     -o "Dir::Etc::preferences=$state/preferences" -o "Dir::Etc::preferencesparts=$state/preferences.d"
     -o "Dir::State=$state" -o "Dir::State::lists=$state/lists" -o "Dir::State::status=$state/status"
     -o "Dir::Cache=$state/cache" -o Debug::NoLocking=true -o APT::Sandbox::User=root
     -o Acquire::Languages=none -o APT::Install-Recommends=false)
log=$state/fetch.log
: >"$log"
fail() {
  echo "mod_tls setup: $1 (log: $log):" >&2
  tail -n 15 "$log" >&2
  exit 1
}

echo "mod_tls setup: fetching Debian 13's crate sources (${wanted[*]} and their dependencies) into $crates"
start=$SECONDS
apt-get "${apt[@]}" -q update >>"$log" 2>&1 || fail "apt-get update of Debian 13's suites on $mirror failed"
# What installing them on an empty Debian 13 would download; of that, only the crate sources.
apt-get "${apt[@]}" -qq install --print-uris "${wanted[@]}" >"$state/uris" 2>>"$log" ||
  fail "Debian 13 does not have these packages or their dependencies"
declare -A debs=()
while read -r _ file _; do
  [[ $file == librust-*.deb ]] || continue
  IFS=_ read -r name version _ <<<"${file%.deb}"
  debs[$file]=$name=${version//%3a/:}
done <"$state/uris"
((${#debs[@]})) || fail "the resolution named no librust-* package"

# Download what is not yet in debs/ (apt checks each file against the archive's hashes).
for f in "$state"/debs/*.deb; do
  if [[ -e $f && -z ${debs[$(basename "$f")]:-} ]]; then rm -f "$f"; fi
done
get=()
for f in "${!debs[@]}"; do
  if [[ ! -f $state/debs/$f ]]; then get+=("${debs[$f]}"); fi
done
if ((${#get[@]})); then
  (cd "$state/debs" && apt-get "${apt[@]}" -q download "${get[@]}") >>"$log" 2>&1 ||
    fail "downloading the librust-* packages failed"
fi

# Unpack next to the old directory, then swap, so a failed fetch leaves the old one intact.
tmp=$state/unpack
rm -rf "$tmp" "$crates.new"
mkdir -p "$tmp"
for f in "${!debs[@]}"; do
  [[ -f $state/debs/$f ]] || fail "$f was not downloaded"
  dpkg-deb -x "$state/debs/$f" "$tmp" 2>>"$log" || fail "dpkg-deb -x $f failed"
done
[[ -d $tmp/usr/share/cargo/registry ]] || fail "the packages hold no usr/share/cargo/registry"
mv "$tmp/usr/share/cargo/registry" "$crates.new"
rm -rf "$tmp" "$crates"
mv "$crates.new" "$crates"
printf '%s\n' "${debs[@]}" | sort >"$state/packages"
printf '%s\n' "$stamp" >"$state/stamp"
size=$(du -sm "$state/debs" | cut -f1)
echo "mod_tls setup: $(find "$crates" -mindepth 1 -maxdepth 1 -type d | wc -l) crates from" \
  "${#debs[@]} Debian 13 packages (${size} MB) in $((SECONDS - start)) s; versions: $state/packages"
