"""TLSProtocol: the minimum version is enforced in both directions."""
from __future__ import annotations

import ssl

import pytest

import apache
import clients

# (TLSProtocol value or None for no directive, does a TLS 1.2-only client get served?)
CASES = [
    (None, True),
    ("default", True),
    ("TLSv1.2+", True),
    ("v1.2+", True),
    ("TLSv0x0303+", True),
    ("TLSv1.3+", False),
    ("TLSv0x0304+", False),
    ("v1.3+", False),
    ("tlsv1.3+", False),          # case-insensitive
]

PY12 = dict(min_version=ssl.TLSVersion.TLSv1_2, max_version=ssl.TLSVersion.TLSv1_2)
PY13 = dict(min_version=ssl.TLSVersion.TLSv1_3)


@pytest.mark.parametrize("protocol,serves_12", CASES, ids=[str(c[0]) for c in CASES])
def test_tls_protocol(protocol, serves_12, apache_factory, pki):
    port = apache.free_port()
    a = apache_factory(apache.tls_site(port, pki.leaves["p256"], protocol=protocol))
    a.add_file("index.html", b"proto\n")

    # a TLS 1.3 client is always served
    r = clients.curl(port, "/", cacert=pki.root_ca, args=["--tlsv1.3", "-v"])
    assert r.returncode == 0 and r.body == b"proto\n", r.stderr
    assert "SSL connection using TLSv1.3" in r.stderr
    status, _, body, version, _ = clients.https_get(port, "/", clients.context(pki.root_ca, **PY13))
    assert (status, body, version) == (200, b"proto\n", "TLSv1.3")

    # a TLS 1.2-only client is served or refused
    r12 = clients.curl(port, "/", cacert=pki.root_ca, args=["--tlsv1.2", "--tls-max", "1.2", "-v"])
    if serves_12:
        assert r12.returncode == 0 and r12.body == b"proto\n", r12.stderr
        assert "SSL connection using TLSv1.2" in r12.stderr
        status, _, body, version, _ = clients.https_get(port, "/",
                                                        clients.context(pki.root_ca, **PY12))
        assert (status, body, version) == (200, b"proto\n", "TLSv1.2")
        p = clients.s_client(port, ["-tls1_2"], cafile=pki.root_ca)
        assert "New, TLSv1.2, Cipher is" in p.stdout, p.stdout
    else:
        assert r12.returncode == 35, r12.stderr          # CURLE_SSL_CONNECT_ERROR
        assert r12.body == b""
        with pytest.raises((ssl.SSLError, ConnectionError)):
            clients.https_get(port, "/", clients.context(pki.root_ca, **PY12))
        p = clients.s_client(port, ["-tls1_2"], cafile=pki.root_ca)
        assert p.returncode != 0, p.stdout
        assert "New, TLSv1.2, Cipher is" not in p.stdout, p.stdout

    # the client that allows both gets the highest: TLS 1.3
    status, _, body, version, _ = clients.https_get(port, "/", clients.context(pki.root_ca))
    assert version == "TLSv1.3"
    # the server survived the refused handshakes and serves the next client
    r = clients.curl(port, "/", cacert=pki.root_ca)
    assert r.returncode == 0 and r.body == b"proto\n"
