"""TLSEngine addresses: several TLS ports in one server, IPv6 ([::1]:port), *:port and port
alone, and exact address matching (no other port or address of the server becomes TLS)."""
from __future__ import annotations

import socket
import ssl
import subprocess

import pytest

import apache
import clients
import pki as pki_mod


def plain_get(addr: str, port: int, path: str = "/") -> clients.CurlResult:
    host = f"[{addr}]" if ":" in addr else addr
    p = subprocess.run(["curl", "-sS", "-g", "--max-time", "20", "-w", clients.CURL_WO,
                        f"http://{host}:{port}{path}"], capture_output=True, timeout=30)
    return clients.CurlResult(p.returncode, p.stdout, p.stderr.decode("utf-8", "replace"))


def tls_get(addr: str, port: int, pki, sni: str = "localhost") -> clients.SniResult:
    return clients.sni_get(port, clients.context(pki.root_ca), sni, host=sni, addr=addr)


def assert_not_tls(addr: str, port: int, pki) -> None:
    with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
        tls_get(addr, port, pki)


def test_two_tls_ports(apache_factory, pki):
    p1, p2 = apache.free_ports(2)
    body = (apache.tls_address(p1)
            + apache.name_vhost(p1, "localhost", pki.leaves["p256"], docroot="htdocs/one")
            + apache.tls_address(p2)
            + apache.name_vhost(p2, "localhost", pki.leaves["rsa2048"], docroot="htdocs/two"))
    a = apache_factory(body, start=False)
    a.add_file("one/index.html", b"port one\n")
    a.add_file("two/index.html", b"port two\n")
    a.start()
    r1, r2 = tls_get("127.0.0.1", p1, pki), tls_get("127.0.0.1", p2, pki)
    assert (r1.status, r1.body, pki_mod.key_kind(r1.cert_der)) == (200, b"port one\n", "ecdsa")
    assert (r2.status, r2.body, pki_mod.key_kind(r2.cert_der)) == (200, b"port two\n", "rsa")
    for port, body in ((p1, b"port one\n"), (p2, b"port two\n")):
        r = clients.curl(port, "/", cacert=pki.root_ca)
        assert r.returncode == 0 and r.body == body, r.stderr


@pytest.fixture
def need_ipv6():
    if not apache.ipv6_loopback_available():
        pytest.skip("::1 is not available (IPv6 disabled on lo)")


def test_ipv6(need_ipv6, apache_factory, pki):
    p6, p4 = apache.free_ports(2)
    body = (apache.tls_address(p6, addr="::1")
            + apache.name_vhost(p6, "localhost", pki.leaves["p256"], addr="::1",
                                docroot="htdocs/v6")
            + apache.tls_address(p4)
            + apache.name_vhost(p4, "localhost", pki.leaves["p256"], docroot="htdocs/v4"))
    a = apache_factory(body, start=False)
    a.add_file("v6/index.html", b"over ipv6\n")
    a.add_file("v4/index.html", b"over ipv4\n")
    assert "TLSEngine [::1]:" in a.config_text
    a.start()
    r = tls_get("::1", p6, pki)
    assert (r.status, r.body) == (200, b"over ipv6\n")
    r = tls_get("127.0.0.1", p4, pki)
    assert (r.status, r.body) == (200, b"over ipv4\n")
    # curl by literal IPv6 address (no SNI)
    p = subprocess.run(["curl", "-sS", "-g", "--cacert", str(pki.root_ca), "-w", clients.CURL_WO,
                        "--resolve", f"localhost:{p6}:[::1]", f"https://localhost:{p6}/"],
                       capture_output=True, timeout=30)
    assert p.returncode == 0 and p.stdout == b"over ipv6\n", p.stderr.decode()


def test_ipv6_engine_only_on_v6_address(need_ipv6, apache_factory, pki):
    """Same port on 127.0.0.1 and [::1]; TLSEngine only for [::1]: the IPv4 address stays
    plain HTTP (addresses are compared exactly, not only ports)."""
    port = apache.free_port()
    body = (f"Listen 127.0.0.1:{port}\n" + apache.tls_address(port, addr="::1")
            + apache.name_vhost(port, "localhost", pki.leaves["p256"], addr="::1",
                                docroot="htdocs/v6")
            + apache.name_vhost(port, "localhost", (), docroot="htdocs/v4"))
    a = apache_factory(body, start=False)
    a.add_file("v6/index.html", b"tls v6\n")
    a.add_file("v4/index.html", b"plain v4\n")
    a.start()
    r = tls_get("::1", port, pki)
    assert (r.status, r.body) == (200, b"tls v6\n")
    r = plain_get("127.0.0.1", port)
    assert r.returncode == 0 and r.body == b"plain v4\n", r.stderr
    assert r.wo("code") == ["200"]


@pytest.mark.parametrize("engine", ["*:{port}", "{port}"])
def test_wildcard_engine(engine, apache_factory, pki):
    port = apache.free_port()
    body = (apache.tls_address(port, engine=engine.format(port=port))
            + f"<VirtualHost *:{port}>\n    ServerName localhost\n"
              f"    DocumentRoot htdocs/star\n"
              f"    TLSCertificate {pki.leaves['p256'].cert} {pki.leaves['p256'].key}\n"
              f"</VirtualHost>\n")
    a = apache_factory(body, start=False)
    a.add_file("star/index.html", b"star\n")
    a.start()
    r = tls_get("127.0.0.1", port, pki)
    assert (r.status, r.body) == (200, b"star\n")
    r = clients.curl(port, "/", cacert=pki.root_ca)
    assert r.returncode == 0 and r.body == b"star\n", r.stderr


def test_plain_port_of_same_server_stays_plain(apache_factory, pki):
    """TLSEngine 127.0.0.1:P1; P2 is served by the same <VirtualHost> and by its own one: both
    plain HTTP."""
    p1, p2, p3 = apache.free_ports(3)
    cred = pki.leaves["p256"]
    body = (apache.tls_address(p1) + f"Listen 127.0.0.1:{p2}\n"
            + f"<VirtualHost 127.0.0.1:{p1} 127.0.0.1:{p2}>\n    ServerName localhost\n"
              f"    DocumentRoot htdocs/both\n    TLSCertificate {cred.cert} {cred.key}\n"
              f"</VirtualHost>\n"
            + apache.plain_site(p3, extra="DocumentRoot htdocs/plain"))
    a = apache_factory(body, start=False)
    a.add_file("both/index.html", b"both\n")
    a.add_file("plain/index.html", b"plain\n")
    a.start()
    r = tls_get("127.0.0.1", p1, pki)
    assert (r.status, r.body) == (200, b"both\n")
    r = plain_get("127.0.0.1", p2)
    assert r.returncode == 0 and r.body == b"both\n" and r.wo("code") == ["200"], r.stderr
    r = plain_get("127.0.0.1", p3)
    assert r.returncode == 0 and r.body == b"plain\n" and r.wo("code") == ["200"], r.stderr
    assert_not_tls("127.0.0.1", p2, pki)


def _loopback2_available() -> bool:
    try:
        with socket.socket() as s:
            s.bind(("127.0.0.2", 0))
        return True
    except OSError:
        return False


def test_same_port_other_address_stays_plain(apache_factory, pki):
    """TLSEngine 127.0.0.1:P; Listen 127.0.0.2:P too: only the TLSEngine address is TLS
    (the old module compared only ports)."""
    if not _loopback2_available():
        pytest.skip("127.0.0.2 cannot be bound")
    port = apache.free_port()
    body = (apache.tls_address(port) + f"Listen 127.0.0.2:{port}\n"
            + apache.name_vhost(port, "localhost", pki.leaves["p256"], docroot="htdocs/tls")
            + apache.name_vhost(port, "localhost", (), addr="127.0.0.2", docroot="htdocs/plain"))
    a = apache_factory(body, start=False)
    a.add_file("tls/index.html", b"tls\n")
    a.add_file("plain/index.html", b"plain\n")
    a.start()
    r = tls_get("127.0.0.1", port, pki)
    assert (r.status, r.body) == (200, b"tls\n")
    r = plain_get("127.0.0.2", port)
    assert r.returncode == 0 and r.body == b"plain\n" and r.wo("code") == ["200"], r.stderr
