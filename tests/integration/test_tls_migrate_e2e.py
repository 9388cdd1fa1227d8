"""tls-migrate end to end: a mod_ssl configuration that mod_ssl accepts is converted, and the
output, unchanged, runs under mod_tls with the same sites, certificates, protocols and suites.

The mod_ssl input is checked with `apache2 -t` and mod_ssl loaded (so it is a real mod_ssl
configuration); the converted text (comments, summary and all) is the whole test body of a
mod_tls server; real clients (Python ssl) then check what each site negotiates.
"""
from __future__ import annotations

import ssl
import subprocess
from pathlib import Path

import pytest

import apache as apache_mod
import clients
import pki as pki_mod

TOOL = apache_mod.REPO_ROOT / "tools" / "tls-migrate"


def mod_ssl_config(p1: int, p2: int, www, shop, local) -> str:
    return f"""\
Listen 127.0.0.1:{p1}
Listen 127.0.0.1:{p2}
<IfModule mod_ssl.c>
    SSLRandomSeed startup builtin
    SSLSessionCacheTimeout 300
    <VirtualHost 127.0.0.1:{p1}>
        ServerName www.test
        SSLEngine on
        SSLCertificateFile {www.cert}
        SSLCertificateKeyFile {www.key}
        <FilesMatch "\\.html$">
            SSLOptions +StdEnvVars +FakeBasicAuth
        </FilesMatch>
    </VirtualHost>
    <VirtualHost 127.0.0.1:{p1}>
        ServerName shop.test
        SSLEngine on
        SSLCertificateKeyFile {shop.key}
        SSLCertificateFile {shop.cert}
        SSLProtocol -all +TLSv1.3
    </VirtualHost>
    <VirtualHost 127.0.0.1:{p2}>
        ServerName localhost
        SSLEngine on
        SSLCertificateFile {local.cert}
        SSLProtocol all -SSLv3 -TLSv1 -TLSv1.1 -TLSv1.3
        SSLHonorCipherOrder on
        SSLCipherSuite ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-AES128-GCM-SHA256:!aNULL
    </VirtualHost>
</IfModule>
"""


def migrate(path: Path) -> str:
    r = subprocess.run(["/usr/bin/python3", str(TOOL), str(path)], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_converted_mod_ssl_config_serves_the_same_sites(pki, apache_factory):
    p1, p2 = apache_mod.free_ports(2)
    www = pki_mod.issue_leaf(pki, "migrate-www", ["www.test"])
    shop = pki_mod.issue_leaf(pki, "migrate-shop", ["shop.test"], kind="rsa2048")
    original = mod_ssl_config(p1, p2, www, shop, pki.combined)

    # the input is a configuration mod_ssl accepts
    with_ssl = apache_factory(original, start=False, tls_module=False,
                              extra_modules=("socache_shmcb", "ssl"))
    checked = with_ssl.config_test()
    assert checked.returncode == 0, checked.stdout + checked.stderr

    converted = migrate(with_ssl.root / "conf" / "httpd.conf")
    body = converted[converted.index("# ---- test body ----"):]
    assert "SSLEngine" not in "\n".join(l for l in body.splitlines() if not l.lstrip().startswith("#"))
    assert "SSLRandomSeed startup builtin" in converted.split("tls-migrate summary")[1]

    server = apache_factory(body)
    server.add_file("index.html", b"migrated\n")

    ctx = clients.context(pki.root_ca)
    r = clients.sni_get(p1, ctx, "www.test", path="/index.html")
    assert (r.status, r.body) == (200, b"migrated\n")
    assert pki_mod.subject_cn(r.cert_der) == "www.test"

    # shop.test: its own (RSA) certificate, TLS 1.3 only
    r = clients.sni_get(p1, ctx, "shop.test")
    assert pki_mod.subject_cn(r.cert_der) == "shop.test" and r.version == "TLSv1.3"
    with pytest.raises(ssl.SSLError):
        clients.sni_get(p1, clients.context(pki.root_ca, max_version=ssl.TLSVersion.TLSv1_2),
                        "shop.test")

    # localhost: TLS 1.2 only, and of the string only the suite rustls has for an ECDSA key
    r = clients.sni_get(p2, ctx, "localhost")
    assert (r.version, r.cipher) == ("TLSv1.2", "ECDHE-ECDSA-CHACHA20-POLY1305")
    with pytest.raises(ssl.SSLError):
        clients.sni_get(p2, clients.context(pki.root_ca, min_version=ssl.TLSVersion.TLSv1_3),
                        "localhost")
    only_aes = clients.context(pki.root_ca, max_version=ssl.TLSVersion.TLSv1_2)
    only_aes.set_ciphers("ECDHE-ECDSA-AES256-GCM-SHA384")
    with pytest.raises(ssl.SSLError):
        clients.sni_get(p2, only_aes, "localhost")
