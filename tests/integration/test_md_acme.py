"""Certificates from mod_md with a real ACME server (issue 5, items 1 and 2).

pebble (acme_server.py) issues certificates; mod_md drives ACME in its watchdog; mod_tls serves
mod_md's fallback certificate (503 for every request) until a certificate is obtained, answers
the tls-alpn-01 challenge (ALPN acme-tls/1, ap_ssl_answer_challenge), and after a graceful
restart serves the certificate pebble issued. http-01 on a plain port works alongside.
"""
from __future__ import annotations

import re
import socket
import ssl
import subprocess
import time

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

import apache as apache_mod
import clients
import pki as pki_mod
from acme_server import Pebble

NAME = "acme.test"
ISSUE_WAIT = 150.0   # bound for mod_md + pebble to issue (not a performance limit)


def peer_cert(port: int, *, alpn=None) -> x509.Certificate:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if alpn:
        ctx.set_alpn_protocols(alpn)
    with socket.create_connection(("127.0.0.1", port), timeout=30) as raw:
        with ctx.wrap_socket(raw, server_hostname=NAME) as s:
            return x509.load_der_x509_certificate(s.getpeercert(binary_form=True))


def acme_alpn_request(port: int) -> str:
    """Handshake offering only ALPN acme-tls/1, then a GET: the status, or 'closed'."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["acme-tls/1"])
    with socket.create_connection(("127.0.0.1", port), timeout=30) as raw:
        with ctx.wrap_socket(raw, server_hostname=NAME) as s:
            assert s.selected_alpn_protocol() == "acme-tls/1"
            s.sendall(f"GET /index.html HTTP/1.1\r\nHost: {NAME}\r\n\r\n".encode())
            data = b""
            try:
                while chunk := s.recv(4096):
                    data += chunk
            except (ssl.SSLError, ConnectionError):
                pass
    if not data:
        return "closed"
    m = re.match(rb"HTTP/1\.1 (\d{3})", data)
    return m.group(1).decode() if m else data[:40].decode("latin-1")


def cn(name: x509.Name) -> str:
    attrs = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return attrs[0].value if attrs else ""


def graceful(a: apache_mod.Apache) -> None:
    mark = a.log_mark()
    subprocess.run([apache_mod.APACHE2, "-f", str(a.conf_path), "-k", "graceful"],
                   env=a._env(), check=True, timeout=60, capture_output=True)
    a.wait_for_log("resuming normal operations", timeout=30, since=mark)


def md_site(a: apache_mod.Apache, pebble: Pebble, ca_file, http_port: int, tls_port: int,
            challenge: str, protocols: str) -> str:
    return (f"MDStoreDir md\n"
            f"MDCertificateAuthority {pebble.directory_url}\n"
            f"MDCACertificateFile {ca_file}\n"
            f"MDCertificateAgreement accepted\n"
            f"MDContactEmail webmaster@example.com\n"
            f"MDCAChallenges {challenge}\n"
            f"MDPortMap 80:{http_port} 443:{tls_port}\n"
            f"MDPrivateKeys secp256r1\n"
            f"MDRetryDelay 1s\n"
            f"MDomain {NAME}\n" +
            apache_mod.plain_site(http_port, server_name=NAME) +
            apache_mod.tls_site(tls_port, [], server_name=NAME, extra=f"Protocols {protocols}"))


@pytest.fixture
def acme_env(apache_factory, pki):
    """(make(challenge, protocols) -> (Apache, Pebble)); everything is stopped afterwards."""
    started = []

    def make(challenge: str, protocols: str):
        http_port, tls_port = apache_mod.free_ports(2)
        api = pki_mod.issue_leaf(pki, "pebble-api", ["localhost"], ips=("127.0.0.1",))
        a = apache_factory("", start=False, extra_modules=("md",), log_level="info")
        pdir = a.root / "pebble"
        pdir.mkdir()
        pebble = Pebble(pdir, api.cert, api.key, http_port=http_port, tls_port=tls_port)
        started.append(pebble)
        a.write_config(md_site(a, pebble, pki.root_ca, http_port, tls_port, challenge, protocols))
        a.add_file("index.html", b"hello from acme.test\n")
        a.start()
        return a, pebble, tls_port

    yield make
    for p in started:
        p.stop()


def wait_issued(a, pebble) -> None:
    try:
        a.wait_for_log(r"has been setup and changes will be activated", timeout=ISSUE_WAIT)
    except AssertionError as e:
        raise AssertionError(f"{e}\n--- pebble log ---\n{pebble.log()[-4000:]}") from None


def test_tls_alpn_01_certificate_obtained_and_served_after_graceful(acme_env):
    a, pebble, port = acme_env("tls-alpn-01", "http/1.1 acme-tls/1")
    # 1. No certificate yet: mod_md's fallback is served, with a warning, and requests get 503.
    a.wait_for_log(r"fallback certificate .* 503", timeout=10)
    fallback = peer_cert(port)
    assert "Fallback" in cn(fallback.subject), fallback.subject
    r = clients.curl(port, "/index.html", host=NAME, args=["-k"])
    assert r.returncode == 0, r.stderr
    assert r.wo("code") == ["503"], r.stderr

    # 2. pebble validates by tls-alpn-01 against this server; mod_tls answers the challenge.
    wait_issued(a, pebble)
    assert re.search(rf"answering ACME tls-alpn-01 challenge for {re.escape(NAME)}",
                     a.error_log())

    # 3. A graceful restart activates the certificate pebble issued.
    graceful(a)
    issued = peer_cert(port)
    assert "Pebble" in cn(issued.issuer), issued.issuer
    assert NAME in [d.value for d in issued.extensions.get_extension_for_class(
        x509.SubjectAlternativeName).value]
    r = clients.curl(port, "/index.html", host=NAME, args=["-k"])
    assert r.returncode == 0, r.stderr
    assert r.wo("code") == ["200"], r.stderr
    assert r.body == b"hello from acme.test\n"

    # 4. A client offering only acme-tls/1 with no challenge pending: the host's certificate,
    # ALPN acme-tls/1, and 503 for a request.
    status = acme_alpn_request(port)
    assert status == "503", status
    assert re.search(r"TLS: 503 on a connection served for an ACME tls-alpn-01 challenge",
                     a.error_log())


def test_http_01_on_plain_port_with_tls_host(acme_env):
    """http-01 validation runs on the plain HTTP port (mod_md answers there); the TLS host is
    served by mod_tls with the fallback, then with the issued certificate."""
    a, pebble, port = acme_env("http-01", "http/1.1")
    assert "Fallback" in cn(peer_cert(port).subject)
    wait_issued(a, pebble)
    assert "tls-alpn-01 challenge" not in a.error_log()
    assert re.search(r"GET /\.well-known/acme-challenge/\S+ HTTP/1\.1\" 200", a.access_log()), \
        a.access_log()
    graceful(a)
    issued = peer_cert(port)
    assert "Pebble" in cn(issued.issuer), issued.issuer
    r = clients.curl(port, "/index.html", host=NAME, args=["-k"])
    assert r.wo("code") == ["200"], r.stderr
    assert r.body == b"hello from acme.test\n"


def test_host_not_covered_by_mdomain_still_needs_a_certificate(apache_factory):
    """mod_md supplies nothing for a name outside its MDomains: the missing certificate is still
    a startup error, which names the TLSEngine line and the host and mentions MDomain."""
    port = apache_mod.free_port()
    a = apache_factory("MDStoreDir md\nMDCertificateAgreement accepted\nMDomain other.test\n" +
                       apache_mod.tls_site(port, [], server_name="nocert.test"),
                       start=False, extra_modules=("md",))
    res = a.start(check=False)
    assert not res.came_up
    assert re.search(r"TLSEngine 127\.0\.0\.1:\d+ at .*:\d+ serves <VirtualHost> .*"
                     r"\(ServerName nocert\.test\), which has no certificate", res.combined), \
        res.combined
    assert "MDomain" in res.combined
