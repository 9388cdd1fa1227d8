"""The Debian package: build it (`make deb`), install it, serve a page with Debian's own apache2.

As root only (skipped otherwise), and not in the sanitizer run (the package holds the normal
build). The package is installed with dpkg; the server is a separate Debian apache2 *instance*
(/etc/apache2-<name>, README.multiple-instances) made from a copy of /etc/apache2 after the
install, listening on a free loopback port, so the system's own server and ports 80/443 are never
touched. In that instance `a2enmod tls` and `a2ensite default-tls` enable the packaged files,
`apache2ctl start` starts it through Debian's own scripts, and a TLS 1.3 request must be
answered. Finally the package is purged: its files must be gone and /etc/apache2 exactly as
before. A lock file keeps two runs (e.g. two checkouts) from doing this at the same time.
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

import apache as apache_mod
import packaged_site

PACKAGE = "libapache2-mod-tls"
INSTANCE = "modtls-pkgtest"
CONFDIR = Path(f"/etc/apache2-{INSTANCE}")
INSTANCE_DIRS = [CONFDIR] + [Path(f"/var/{d}/apache2-{INSTANCE}")
                             for d in ("log", "run", "lock", "cache")]
LOCK_FILE = "/run/lock/mod_tls-deb-package-test.lock"
REPO = apache_mod.REPO_ROOT
BUILD = REPO / "build"
PACKAGED_FILES = [Path("/usr/lib/apache2/modules/mod_tls.so"),
                  Path("/etc/apache2/mods-available/tls.load"),
                  Path("/etc/apache2/mods-available/tls.conf"),
                  Path("/etc/apache2/sites-available/default-tls.conf"),
                  Path("/usr/bin/tls-migrate"),
                  Path("/usr/share/mod_tls/tls_migrate/convert.py"),
                  Path("/usr/share/doc/libapache2-mod-tls/README.md")]

PAGE = "served by the packaged mod_tls\n"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="installs a Debian package: needs root"),
    pytest.mark.skipif(apache_mod.sanitizer_mode(),
                       reason="the package holds the normal build, not the sanitizer build"),
]


def run(cmd, timeout=120, env=None, check=True) -> subprocess.CompletedProcess:
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    if check and r.returncode != 0:
        raise AssertionError(f"{cmd} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
    return r


def snapshot(root: Path) -> dict[str, str]:
    """Every path below root with its type and content hash (or link target)."""
    state = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            rel = str(p.relative_to(root))
            if p.is_symlink():
                state[rel] = "link:" + os.readlink(p)
            elif p.is_dir():
                state[rel] = "dir"
            else:
                state[rel] = "file:" + hashlib.sha256(p.read_bytes()).hexdigest()
    return state


def sources_newer_than(path: Path) -> bool:
    built = path.stat().st_mtime
    for top in ("src", "bridge/src", "bridge/include", "packaging", "tools", "docs"):
        for p in (REPO / top).rglob("*"):
            if p.is_file() and p.stat().st_mtime > built:
                return True
    return any((REPO / f).stat().st_mtime > built
               for f in ("CMakeLists.txt", "Makefile", "scripts/build-deb.sh"))


def package_deb() -> Path:
    """The .deb of this tree: built by `make deb` unless an up-to-date one is in build/."""
    debs = sorted(BUILD.glob(f"{PACKAGE}_*.deb"), key=lambda p: p.stat().st_mtime)
    if not debs or sources_newer_than(debs[-1]):
        r = run(["make", "-C", str(REPO), "deb"], timeout=1800, check=False)
        assert r.returncode == 0, f"make deb failed:\n{r.stdout[-4000:]}\n{r.stderr[-4000:]}"
        debs = sorted(BUILD.glob(f"{PACKAGE}_*.deb"), key=lambda p: p.stat().st_mtime)
    assert debs, "make deb wrote no .deb into build/"
    return debs[-1]


def installed(package: str) -> bool:
    r = run(["dpkg-query", "-W", "-f=${Status}", package], check=False)
    return r.returncode == 0 and "installed" in r.stdout and "not-installed" not in r.stdout


@pytest.fixture
def exclusive():
    """One package test on this machine at a time (waits up to 30 minutes for another)."""
    with open(LOCK_FILE, "w") as lock:
        deadline = time.monotonic() + 1800
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    pytest.fail(f"{LOCK_FILE} stayed locked for 30 minutes")
                time.sleep(2)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def instance_env() -> dict:
    return {**os.environ, "APACHE_CONFDIR": str(CONFDIR)}


def stop_instance() -> None:
    """Stops the test instance if it runs (by the pid in its own pid file)."""
    pid_file = Path(f"/var/run/apache2-{INSTANCE}/apache2.pid")
    if not CONFDIR.exists() and not pid_file.exists():
        return
    if CONFDIR.exists():
        run(["apache2ctl", "stop"], env=instance_env(), check=False, timeout=60)
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    os.kill(pid, signal.SIGKILL)


def make_instance(port: int, cred, docroot: Path) -> None:
    """/etc/apache2-<instance> from the installed /etc/apache2, on 127.0.0.1:port only."""
    shutil.copytree("/etc/apache2", CONFDIR, symlinks=True)
    Path(f"/var/log/apache2-{INSTANCE}").mkdir(mode=0o750, exist_ok=True)
    # No port 80 and no system-wide ports: only what the TLS site opens.
    (CONFDIR / "ports.conf").write_text("# the package test's instance: see default-tls.conf\n")
    with open(CONFDIR / "apache2.conf", "a") as f:
        f.write(f"\nServerName localhost\n<Directory {docroot}>\n    Require all granted\n"
                "</Directory>\n")
    env = instance_env()
    for site in os.listdir(CONFDIR / "sites-enabled"):
        run(["a2dissite", "-q", site.removesuffix(".conf")], env=env)
    if (CONFDIR / "mods-enabled" / "ssl.load").exists():
        run(["a2dismod", "-q", "ssl"], env=env)
    # The packaged sample, moved to the test's port and certificate (an admin edits the same lines).
    site = CONFDIR / "sites-available" / "default-tls.conf"
    text = site.read_text()
    text = packaged_site.adapt(text, port=port, engine=f"127.0.0.1:{port}", cert=cred.cert,
                               key=cred.key, docroot=docroot)
    site.write_text(text)


def fetch_tls13(port: int, ca: Path) -> tuple[str, str]:
    r = run(["curl", "-sS", "-v", "--max-time", "20", "--tlsv1.3", "--cacert", str(ca),
             "--resolve", f"localhost:{port}:127.0.0.1", "-o", "-", "-w", "\nstatus=%{http_code}",
             f"https://localhost:{port}/"], timeout=30, check=False)
    return r.stdout, r.stderr


def test_deb_installs_serves_tls13_and_purges(pki, exclusive):
    if installed(PACKAGE):
        pytest.skip(f"{PACKAGE} is already installed on this machine; not touching it")
    deb = package_deb()
    etc_before = snapshot(Path("/etc/apache2"))
    port = apache_mod.free_port()
    docroot = None
    try:
        stop_instance()
        for d in INSTANCE_DIRS:
            shutil.rmtree(d, ignore_errors=True)
        run(["dpkg", "-i", str(deb)], timeout=300)
        for path in PACKAGED_FILES:
            assert path.exists(), f"{path} not installed"
        assert "tls_module /usr/lib/apache2/modules/mod_tls.so" in \
            Path("/etc/apache2/mods-available/tls.load").read_text()
        # installing enables nothing: the administrator runs a2enmod / a2ensite
        assert not Path("/etc/apache2/mods-enabled/tls.load").exists()
        # as root, as an administrator runs it (writing byte code would leave files behind)
        migrated = run(["tls-migrate", str(REPO / "tests/tools/fixtures/debian/apache2.conf")],
                       env={k: v for k, v in os.environ.items()
                            if k != "PYTHONDONTWRITEBYTECODE"})
        assert "TLSEngine 443" in migrated.stdout

        docroot = Path(tempfile.mkdtemp(prefix="modtls-pkgtest-", dir="/tmp"))
        os.chmod(docroot, 0o755)
        (docroot / "index.html").write_text(PAGE)
        os.chmod(docroot / "index.html", 0o644)
        make_instance(port, pki.leaves["p256"], docroot)
        env = instance_env()
        run(["a2enmod", "tls"], env=env)
        run(["a2ensite", "default-tls"], env=env)
        assert (CONFDIR / "mods-enabled" / "tls.load").is_symlink()
        assert (CONFDIR / "sites-enabled" / "default-tls.conf").is_symlink()
        run(["apache2ctl", "configtest"], env=env)
        run(["apache2ctl", "start"], env=env, timeout=60)
        deadline = time.monotonic() + 30
        while not apache_mod.is_listening(port) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert apache_mod.is_listening(port), "the instance does not listen"

        body, trace = fetch_tls13(port, pki.root_ca)
        assert body.endswith("status=200"), f"{body[-300:]}\n{trace[-2000:]}"
        assert body.startswith(PAGE)
        assert re.search(r"SSL connection using TLSv1\.3", trace), trace[-2000:]
        stop_instance()
    finally:
        stop_instance()
        for d in INSTANCE_DIRS + ([docroot] if docroot else []):
            shutil.rmtree(d, ignore_errors=True)
        purge = run(["dpkg", "--purge", PACKAGE], timeout=300, check=False)
    assert purge.returncode == 0, purge.stdout + purge.stderr
    assert not installed(PACKAGE)
    for path in PACKAGED_FILES + [Path("/usr/share/mod_tls"),
                                  Path("/usr/share/doc/libapache2-mod-tls")]:
        assert not path.exists() and not path.is_symlink(), f"{path} left after purge"
    assert snapshot(Path("/etc/apache2")) == etc_before, "/etc/apache2 changed"
