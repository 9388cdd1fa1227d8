"""External scanners against the module's default configuration (issue #10): Debian's
testssl.sh reports no finding of severity MEDIUM or higher (its JSON output is parsed), and
sslscan sees the same protocols (TLS 1.2 and 1.3 only)."""
from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

import apache

TESTSSL = "/usr/bin/testssl"
BAD_SEVERITIES = {"MEDIUM", "HIGH", "CRITICAL"}


@pytest.fixture(scope="module")
def default_server(module_apache_factory, pki):
    port = apache.free_port()
    a = module_apache_factory(apache.tls_site(port, pki.leaves["p256"]))
    a.add_file("index.html", b"scanned\n")
    return a, port


@pytest.mark.slow
def test_testssl_finds_nothing_medium_or_higher(default_server, pki):
    if not shutil.which(TESTSSL):
        pytest.fail("testssl.sh missing (Debian package testssl.sh)")
    a, port = default_server
    findings = run_testssl(port, pki, a.root / "testssl.json", "--sneaky")
    assert any(f.get("id") == "TLS1_3" for f in findings), "testssl did not scan the protocols"
    bad = [f for f in findings if f.get("severity") in BAD_SEVERITIES
           and f.get("id") not in ACCEPTED]
    assert not bad, "\n".join(f"{f['severity']} {f['id']}: {f.get('finding')}" for f in bad)
    offered = {f["id"]: f["finding"] for f in findings
               if f.get("id") in ("SSLv2", "SSLv3", "TLS1", "TLS1_1", "TLS1_2", "TLS1_3")}
    assert offered["TLS1_2"].startswith("offered") and offered["TLS1_3"].startswith("offered"), offered
    for old in ("SSLv2", "SSLv3", "TLS1", "TLS1_1"):
        assert offered[old].startswith("not offered"), offered
    assert not a.crash_lines()


# Findings judged not to be the module's fault (docs/hardening.md, "testssl.sh findings"):
#  cipher_order      the default TLSHonorClientOrder on (Apache mod_tls's default, kept for
#                    compatibility): every suite rustls offers is AEAD with forward secrecy, so
#                    the client's choice cannot pick a weak one; `TLSHonorClientOrder off` gives
#                    a server order (checked below)
#  cert_revocation   the test PKI's certificates carry no CRL/OCSP URI
#  security_headers  HSTS and friends are HTTP headers (mod_headers), not TLS
ACCEPTED = {"cipher_order", "cert_revocation", "security_headers"}


def run_testssl(port: int, pki, out, *options) -> list[dict]:
    proc = subprocess.run([TESTSSL, "--jsonfile", str(out), "--quiet", "--color", "0",
                           "--warnings", "off", "--ip", "127.0.0.1", "--add-ca", str(pki.root_ca),
                           *options, f"https://localhost:{port}"],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=900)
    assert out.exists(), proc.stdout[-3000:]
    return json.loads(out.read_text())


@pytest.mark.slow
def test_testssl_server_cipher_order_with_honor_client_order_off(apache_factory, pki):
    """The one finding about the module's defaults (cipher_order) goes away with
    TLSHonorClientOrder off: then the server's order is used, and testssl sees it."""
    if not shutil.which(TESTSSL):
        pytest.fail("testssl.sh missing (Debian package testssl.sh)")
    port = apache.free_port()
    a = apache_factory(apache.tls_site(port, pki.leaves["p256"], extra="TLSHonorClientOrder off"))
    findings = run_testssl(port, pki, a.root / "order.json", "--server-preference")
    order = [f for f in findings if f.get("id") == "cipher_order"]
    assert order, [f.get("id") for f in findings]
    assert order[0]["severity"] not in BAD_SEVERITIES, order[0]
    assert not a.crash_lines()


def test_sslscan_agrees_on_protocols(default_server):
    if not shutil.which("sslscan"):
        pytest.fail("sslscan missing (Debian package sslscan)")
    a, port = default_server
    proc = subprocess.run(["sslscan", "--no-colour", "--sni-name=localhost",
                           f"127.0.0.1:{port}"],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300)
    out = proc.stdout
    enabled = dict(re.findall(r"^(SSLv2|SSLv3|TLSv1\.[0-3])\s+(enabled|disabled)", out, re.M))
    assert enabled == {"SSLv2": "disabled", "SSLv3": "disabled", "TLSv1.0": "disabled",
                       "TLSv1.1": "disabled", "TLSv1.2": "enabled", "TLSv1.3": "enabled"}, out
    accepted = re.findall(r"^(?:Preferred|Accepted)\s+(TLSv1\.[23])\s+(\d+) bits\s+(\S+)", out, re.M)
    assert accepted, out
    # only AEAD suites with forward secrecy, as rustls implements them
    for version, bits, suite in accepted:
        assert int(bits) >= 128 and ("GCM" in suite or "CHACHA20" in suite), (version, suite)
    assert not a.crash_lines()
