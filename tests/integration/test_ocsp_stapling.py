"""OCSP stapling with mod_md (issue 5, items 3 and 4).

A real OCSP responder (`openssl ocsp`, ocsp_ca.py) answers for a test CA on a free loopback port;
mod_md (MDStapling on) fetches responses in its watchdog and mod_tls staples them. What a client
sees is checked with `openssl s_client -status` in TLS 1.2 and 1.3.
"""
from __future__ import annotations

import re
import time

import pytest

import apache as apache_mod
import clients
from apache import free_port, free_ports
from ocsp_ca import OcspCA

MD = ("md",)   # mod_md.so; mod_watchdog is built into Debian's apache2
STAPLE_WAIT = 60.0  # bound for mod_md's watchdog to fetch a response (not a performance limit)


@pytest.fixture
def ca():
    c = OcspCA()
    yield c
    c.stop()


def md_stapling(others: bool = True, stapling: bool = True) -> str:
    return (f"MDStoreDir md\nMDCertificateAgreement accepted\n"
            f"MDStapling {'on' if stapling else 'off'}\n"
            f"MDStapleOthers {'on' if others else 'off'}\n")


def status_of(port: int, name: str, version: str) -> str:
    """s_client -status output (handshake only)."""
    p = clients.s_client(port, ["-status", f"-{version}"], servername=name, timeout=30)
    assert "BEGIN CERTIFICATE" in p.stdout or "Server certificate" in p.stdout, p.stdout
    return p.stdout


def cert_status(out: str) -> str | None:
    """'good' / 'revoked' / None (no response stapled)."""
    if "OCSP response: no response sent" in out or "OCSP Response Status" not in out:
        return None
    m = re.search(r"Cert Status: (\w+)", out)
    return m.group(1) if m else "?"


def wait_for_status(port: int, name: str, version: str = "tls1_3") -> str:
    deadline = time.monotonic() + STAPLE_WAIT
    while True:
        out = status_of(port, name, version)
        st = cert_status(out)
        if st is not None:
            return out
        if time.monotonic() > deadline:
            raise AssertionError(f"no OCSP response stapled within {STAPLE_WAIT}s:\n{out}")
        time.sleep(0.5)


def test_tls_certificate_good_response_stapled_in_tls12_and_tls13(apache_factory, ca):
    ocsp_port, port = free_ports(2)
    cert, key = ca.leaf("good", "good.test", ocsp_port)
    ca.responder(ocsp_port)
    a = apache_factory(md_stapling() + apache_mod.tls_site(port, (cert, key),
                                                           server_name="good.test"),
                       extra_modules=MD, log_level="info tls:debug")
    out = wait_for_status(port, "good.test", "tls1_3")
    assert "OCSP Response Status: successful" in out
    assert cert_status(out) == "good", out
    out12 = status_of(port, "good.test", "tls1_2")
    assert "Protocol  : TLSv1.2" in out12 or "TLSv1.2" in out12
    assert cert_status(out12) == "good", out12
    assert re.search(r"OCSP stapling for .*good\.crt \(host good\.test\)", a.error_log())


def test_revoked_certificate_is_stapled_as_revoked(apache_factory, ca):
    ocsp_port, port = free_ports(2)
    cert, key = ca.leaf("revoked", "revoked.test", ocsp_port, revoked=True)
    ca.responder(ocsp_port)
    apache_factory(md_stapling() + apache_mod.tls_site(port, (cert, key),
                                                       server_name="revoked.test"),
                   extra_modules=MD)
    out = wait_for_status(port, "revoked.test", "tls1_2")
    assert cert_status(out) == "revoked", out
    assert cert_status(status_of(port, "revoked.test", "tls1_3")) == "revoked"


def test_responder_down_does_not_stop_handshakes(apache_factory, ca):
    dead_port, port = free_ports(2)   # nothing listens on dead_port
    cert, key = ca.leaf("nobody", "nobody.test", dead_port)
    a = apache_factory(md_stapling() + apache_mod.tls_site(port, (cert, key),
                                                           server_name="nobody.test"),
                       extra_modules=MD, log_level="info md:debug")
    a.add_file("index.html", b"served\n")
    # mod_md tries the responder in its watchdog and fails; handshakes go on without a staple
    a.wait_for_log(r"OCSP status update failed", timeout=STAPLE_WAIT)
    for version in ("tls1_2", "tls1_3"):
        assert cert_status(status_of(port, "nobody.test", version)) is None
    r = clients.curl(port, "/index.html", host="nobody.test", args=["-k"])
    assert r.returncode == 0, r.stderr
    assert r.body == b"served\n"


def test_without_md_stapling_nothing_is_stapled(apache_factory, ca):
    ocsp_port, port = free_ports(2)
    cert, key = ca.leaf("plain", "plain.test", ocsp_port)
    ca.responder(ocsp_port)
    # MDStapleOthers off: certificates not managed by mod_md are not stapled
    a = apache_factory(md_stapling(others=False) +
                       apache_mod.tls_site(port, (cert, key), server_name="plain.test"),
                       extra_modules=MD, log_level="info tls:debug")
    for version in ("tls1_2", "tls1_3"):
        assert cert_status(status_of(port, "plain.test", version)) is None
    assert "OCSP stapling for" not in a.error_log()


def test_certificate_without_issuer_cannot_be_stapled(apache_factory, ca):
    ocsp_port, port = free_ports(2)
    cert, key = ca.leaf("lonely", "lonely.test", ocsp_port, with_issuer=False)
    a = apache_factory(md_stapling() + apache_mod.tls_site(port, (cert, key),
                                                           server_name="lonely.test"),
                       extra_modules=MD, log_level="info")
    line = a.wait_for_log(r"no OCSP stapling for .*lonely\.crt", timeout=10)
    assert "append the issuing CA's certificate" in line
    assert "need at least 2 certificates" in a.error_log()   # mod_md says so too
    assert cert_status(status_of(port, "lonely.test", "tls1_3")) is None


def test_md_managed_certificate_is_served_and_stapled(apache_factory, ca):
    """A host without TLSCertificate in an MDomain (static MDCertificateFile, no ACME) gets its
    certificate from mod_md (ap_ssl_add_cert_files); MDStapling on staples it."""
    ocsp_port, port = free_ports(2)
    cert, key = ca.leaf("managed", "managed.test", ocsp_port)
    ca.responder(ocsp_port)
    body = (md_stapling(others=False) +
            f"<MDomain managed.test>\n  MDCertificateFile {cert}\n"
            f"  MDCertificateKeyFile {key}\n  MDStapling on\n</MDomain>\n" +
            apache_mod.tls_site(port, [], server_name="managed.test"))
    a = apache_factory(body, extra_modules=MD)
    a.add_file("index.html", b"managed\n")
    out = wait_for_status(port, "managed.test", "tls1_3")
    assert cert_status(out) == "good", out
    assert "CN = managed.test" in out or "CN=managed.test" in out
    assert cert_status(status_of(port, "managed.test", "tls1_2")) == "good"
    r = clients.curl(port, "/index.html", host="managed.test", cacert=ca.ca_file)
    assert r.returncode == 0, r.stderr
    assert r.body == b"managed\n"
