"""`make setup`: build/crates, the crate sources cargo builds the bridge from, and the quick no-op.

The real target runs (as root it installs what is missing; as another user on a machine that lacks
packages the tests that need it are skipped). On Debian 12 the first run downloads Debian 13's crate
packages (about 10 MB) into build/ unless CI's own `make setup` has done it already; the re-fetch
test reuses those downloads and lists in a directory of its own, so build/crates is never touched.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CRATES = REPO / "build" / "crates"
LIST = REPO / "bridge" / "debian-crates.txt"
PROFILE = "pkg.libapache2-mod-tls.debian13-crates"


def codename() -> str:
    for line in Path("/etc/os-release").read_text().splitlines():
        if line.startswith("VERSION_CODENAME="):
            return line.split("=", 1)[1].strip().strip('"')
    return ""


def listed_packages(path: Path = LIST) -> set[str]:
    names = set()
    for line in path.read_text().splitlines():
        names.update(line.split("#", 1)[0].split())
    return names


def make_setup() -> subprocess.CompletedProcess:
    r = subprocess.run(["make", "-C", str(REPO), "--no-print-directory", "setup"],
                       capture_output=True, text=True, timeout=1800)
    if r.returncode != 0 and "packages are missing" in r.stderr:
        pytest.skip("Debian packages are missing and this is not root: " + r.stderr.strip())
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return r


def caret_matches(requirement: str, version: str) -> bool:
    """Cargo's default (caret) requirement: same leftmost non-zero part, not older."""
    want = [int(x) for x in requirement.split(".")]
    have = [int(x) for x in version.split(".")]
    fixed = next((i for i, x in enumerate(want) if x != 0), len(want) - 1) + 1
    return have[:fixed] == want[:fixed] and have[:len(want)] >= want


def test_setup_makes_the_crate_directory_with_every_dependency():
    make_setup()
    assert (CRATES / "rustls-0.23.26" / "Cargo.toml").is_file(), sorted(p.name for p in CRATES.iterdir())
    if codename() == "bookworm":
        # Debian 13's packages, unpacked: a directory of our own with the stamp that names the list
        assert CRATES.is_dir() and not CRATES.is_symlink()
        stamp = (REPO / "build" / "crates.apt" / "stamp").read_text()
        assert all(p in stamp for p in listed_packages())
        # nothing from Debian 13 is installed (Debian 12's own rustls, if present, is 0.20)
        r = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "librust-rustls-dev"],
                           capture_output=True, text=True)
        assert not r.stdout.startswith("0.23"), r.stdout
    else:
        assert CRATES.is_symlink() and Path(CRATES.readlink()) == Path("/usr/share/cargo/registry")
    # every dependency of bridge/Cargo.toml is there in a version that satisfies it
    deps = tomllib.loads((REPO / "bridge" / "Cargo.toml").read_text())["dependencies"]
    present = [p.name for p in CRATES.iterdir() if (p / "Cargo.toml").is_file()]
    for key, spec in deps.items():
        name = spec.get("package", key) if isinstance(spec, dict) else key
        req = spec["version"] if isinstance(spec, dict) else spec
        versions = [m.group(1) for d in present
                    if (m := re.fullmatch(re.escape(name) + r"-(\d+\.\d+\.\d+)", d))]
        assert any(caret_matches(req, v) for v in versions), (name, req, versions)


def test_second_setup_is_a_quick_silent_noop():
    make_setup()
    best = None
    for _ in range(3):
        start = time.monotonic()
        r = make_setup()
        elapsed = time.monotonic() - start
        assert r.stdout == "" and r.stderr == "", r.stdout + r.stderr
        best = elapsed if best is None else min(best, elapsed)
    assert best < 1.0, f"make setup took {best:.2f} s when everything is there"


def test_build_depends_name_the_crate_list_under_the_profile():
    control = (REPO / "packaging" / "debian" / "control").read_text()
    field = re.search(r"^Build-Depends:(.*?)(?=^\S)", control, re.S | re.M).group(1)
    field = "\n".join(l for l in field.splitlines() if not l.lstrip().startswith("#"))
    rust = [d.strip() for d in field.split(",") if d.strip().startswith("librust-")]
    assert {d.split()[0] for d in rust} == listed_packages()
    for dep in rust:
        assert dep.endswith(f"<!{PROFILE}>"), dep


@pytest.mark.skipif(codename() != "bookworm", reason="the fetch is Debian 12's way")
def test_debian12_fetch_is_a_noop_until_the_list_changes(tmp_path):
    script = REPO / "scripts" / "debian13-crates.sh"
    crates = tmp_path / "crates"
    # Reuse the downloads and lists of build/ (apt still checks them against the archive).
    shutil.copytree(REPO / "build" / "crates.apt", tmp_path / "crates.apt",
                    ignore=shutil.ignore_patterns("stamp", "lock", "unpack"))
    lst = tmp_path / "list.txt"
    lst.write_text("# one crate\nlibrust-cfg-if-dev\n")

    def run() -> subprocess.CompletedProcess:
        r = subprocess.run([str(script), str(lst), str(crates)], capture_output=True, text=True,
                           timeout=600)
        assert r.returncode == 0, r.stdout + r.stderr
        return r

    assert "fetching" in run().stdout
    assert any(p.name.startswith("cfg-if-1.") for p in crates.iterdir())
    assert not (crates / "rustls-0.23.26").exists()
    start = time.monotonic()
    again = run()
    assert again.stdout == "" and again.stderr == "" and time.monotonic() - start < 1.0
    lst.write_text("librust-cfg-if-dev\nlibrust-untrusted-dev\n")
    assert "fetching" in run().stdout
    assert any(p.name.startswith("untrusted-0.9.") for p in crates.iterdir())
    packages = (tmp_path / "crates.apt" / "packages").read_text().split()
    assert sorted(p.split("=")[0] for p in packages) == ["librust-cfg-if-dev",
                                                         "librust-untrusted-dev"]


def test_debian13_link_is_made_once_and_never_followed(tmp_path):
    """On Debian 13 build/crates is a symlink to /usr/share/cargo/registry. A second run must see
    the link and stop; it once resolved it and replaced the system's registry by a link to itself."""
    release = tmp_path / "os-release"
    release.write_text("VERSION_CODENAME=trixie\n")
    crates = tmp_path / "build" / "crates"
    registry = tmp_path / "registry"  # stands in for /usr/share/cargo/registry
    (registry / "rustls-0.23.26").mkdir(parents=True)
    env = {**os.environ, "MOD_TLS_OS_RELEASE": str(release), "MOD_TLS_CARGO_REGISTRY": str(registry)}
    for _ in range(2):
        subprocess.run([str(REPO / "scripts" / "debian13-crates.sh"), str(REPO / "bridge" / "debian-crates.txt"),
                        str(crates)], check=True, env=env, timeout=30)
        assert crates.is_symlink() and os.readlink(crates) == str(registry)
        assert not registry.is_symlink() and (registry / "rustls-0.23.26").is_dir()
