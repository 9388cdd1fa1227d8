"""`make install` into a staging directory: Debian's layout, DESTDIR and PREFIX honoured.

Runs the real target (it builds first when needed); the files land under a temporary DESTDIR,
never in the system. The second run with the default PREFIX also puts the build directory's
install prefix back to /usr.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def make_install(destdir: Path, *extra: str) -> None:
    r = subprocess.run(["make", "-C", str(REPO), "install", f"DESTDIR={destdir}", *extra],
                       capture_output=True, text=True, timeout=1800)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]


@pytest.mark.parametrize("prefix", ["/usr/local", None])
def test_make_install_layout(tmp_path, prefix):
    make_install(tmp_path, *([f"PREFIX={prefix}"] if prefix else []))
    p = prefix or "/usr"
    root = lambda path: tmp_path / path.lstrip("/")  # noqa: E731
    module = root(f"{p}/lib/apache2/modules/mod_tls.so")
    assert module.is_file() and module.stat().st_size > 0
    # a2enmod/a2ensite files always go to /etc/apache2; tls.load names the installed module
    load = root("/etc/apache2/mods-available/tls.load").read_text()
    assert f"LoadModule tls_module {p}/lib/apache2/modules/mod_tls.so" in load
    assert "<IfModule tls_module>" in root("/etc/apache2/mods-available/tls.conf").read_text()
    site = root("/etc/apache2/sites-available/default-tls.conf").read_text()
    assert "TLSEngine 443" in site and "TLSCertificate /etc/ssl/certs/ssl-cert-snakeoil.pem" in site
    # tls-migrate on PATH: a relative symlink that works from the staged tree
    tool = root(f"{p}/bin/tls-migrate")
    assert tool.is_symlink() and not os.path.isabs(os.readlink(tool))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    r = subprocess.run([str(tool), str(REPO / "tests/tools/fixtures/debian/sites-enabled/proxy.conf")],
                       capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode == 0 and "TLSProxyEngine on" in r.stdout, r.stderr
    # installed and run: no byte code beside the modules (the package would not own it)
    assert not list(root(f"{p}/share/mod_tls").rglob("__pycache__"))
    docs = root(f"{p}/share/doc/libapache2-mod-tls")
    for name in ("README.md", "directives.md", "variables.md", "troubleshooting.md",
                 "howto-basics.md"):
        assert (docs / name).is_file(), name
    assert root(f"{p}/share/man/man1/tls-migrate.1").is_file()
