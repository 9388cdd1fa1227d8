"""External scanners against the shipped default configuration (issue #10): Debian's testssl.sh
reports no finding of severity MEDIUM or higher (its JSON output is parsed; nothing is excused),
and sslscan sees the same protocols (TLS 1.2 and 1.3 only) and AEAD suites only.

The server runs the packaged files themselves: packaging/apache2/tls.conf is included unchanged,
and packaging/apache2/default-tls.conf with only the lines an administrator edits for a real
site replaced (see shipped_default_site()): port 443 -> a free port (Listen on 127.0.0.1 only),
the snakeoil certificate and key -> a test leaf, DocumentRoot -> the test's htdocs.
${APACHE_LOG_DIR} is given by `Define`, and mod_headers is loaded as Debian ships it (so the
site's security headers are sent). The leaf carries a CRL distribution point, as every public CA's
certificates carry a CRL or OCSP URI (without one testssl reports cert_revocation HIGH: a
property of the certificate, not of the server); its URL is an unused loopback port, and
testssl fetches nothing without --phone-out.

The module's built-in TLSHonorClientOrder default stays `on` (Apache mod_tls compatibility;
test_policy.py::test_prefer_with_client_order); the shipped tls.conf sets `off`, which is why
testssl finds a server cipher order here (asserted below)."""
from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

import apache
import packaged_site
import pki as pki_mod

TESTSSL = "/usr/bin/testssl"
BAD_SEVERITIES = {"MEDIUM", "HIGH", "CRITICAL"}
PACKAGING = apache.REPO_ROOT / "packaging" / "apache2"


def shipped_default_site(a: apache.Apache, port: int, cred) -> str:
    """Config body: the packaged tls.conf and default-tls.conf, copied into a's ServerRoot with
    the site-specific values replaced (each must occur exactly once), and Include'd."""
    conf = a.root / "conf"
    shutil.copy(PACKAGING / "tls.conf", conf / "tls.conf")
    text = (PACKAGING / "default-tls.conf").read_text()
    text = packaged_site.adapt(text, port=port, engine=str(port), cert=cred.cert, key=cred.key,
                               docroot=a.docroot)
    (conf / "default-tls.conf").write_text(text)
    return (f"Define APACHE_LOG_DIR {a.root}/logs\n"
            # Debian's apache2.conf defines it; the site's CustomLog uses it
            'LogFormat "%h %l %u %t \\"%r\\" %>s %O \\"%{Referer}i\\" \\"%{User-Agent}i\\"" '
            "combined\n"
            f"Include {conf}/tls.conf\n"
            f"Include {conf}/default-tls.conf\n")


@pytest.fixture(scope="module")
def default_server(module_apache_factory, pki):
    port, crl_port = apache.free_ports(2)
    # nothing listens on crl_port: a scanner that tried to fetch the CRL would get no answer
    cred = pki_mod.issue_leaf(pki, "scan-crl-dp", ["localhost"], ips=["127.0.0.1"],
                              crl_urls=[f"http://127.0.0.1:{crl_port}/ca.crl"])
    a = module_apache_factory(start=False, extra_modules=("headers",))
    a.write_config(shipped_default_site(a, port, cred))
    a.add_file("index.html", b"scanned\n")
    a.start()
    return a, port


def test_shipped_site_serves_security_headers(default_server, pki):
    """The rendered default-tls.conf is live: the page with HSTS and nosniff."""
    a, port = default_server
    proc = subprocess.run(["curl", "-sS", "-i", "--max-time", "20", "--cacert", str(pki.root_ca),
                           "--resolve", f"localhost:{port}:127.0.0.1",
                           f"https://localhost:{port}/"],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"^strict-transport-security: max-age=63072000\r?$", proc.stdout,
                     re.M | re.I), proc.stdout
    assert re.search(r"^x-content-type-options: nosniff\r?$", proc.stdout, re.M | re.I), proc.stdout
    assert proc.stdout.endswith("scanned\n"), proc.stdout


@pytest.mark.slow
def test_testssl_finds_nothing_medium_or_higher(default_server, pki):
    if not shutil.which(TESTSSL):
        pytest.fail("testssl.sh missing (Debian package testssl.sh)")
    a, port = default_server
    findings = run_testssl(port, pki, a.root / "testssl.json", "--sneaky")
    assert any(f.get("id") == "TLS1_3" for f in findings), "testssl did not scan the protocols"
    bad = [f for f in findings if f.get("severity") in BAD_SEVERITIES]
    assert not bad, "\n".join(f"{f['severity']} {f['id']}: {f.get('finding')}" for f in bad)
    by_id = {f["id"]: f for f in findings if "id" in f}
    offered = {k: by_id[k]["finding"] for k in ("SSLv2", "SSLv3", "TLS1", "TLS1_1", "TLS1_2",
                                                "TLS1_3")}
    assert offered["TLS1_2"].startswith("offered") and offered["TLS1_3"].startswith("offered"), offered
    for old in ("SSLv2", "SSLv3", "TLS1", "TLS1_1"):
        assert offered[old].startswith("not offered"), offered
    # what the three former exceptions became: a server order (tls.conf), HSTS and nosniff
    # (default-tls.conf + mod_headers), a CRL URI (the certificate)
    assert by_id["cipher_order"]["finding"] == "server", by_id["cipher_order"]
    assert by_id["HSTS_time"]["severity"] == "OK", by_id["HSTS_time"]
    assert by_id["X-Content-Type-Options"]["finding"] == "nosniff", by_id["X-Content-Type-Options"]
    assert "127.0.0.1" in by_id["cert_crlDistributionPoints"]["finding"], \
        by_id["cert_crlDistributionPoints"]
    assert not a.crash_lines()


def run_testssl(port: int, pki, out, *options) -> list[dict]:
    proc = subprocess.run([TESTSSL, "--jsonfile", str(out), "--quiet", "--color", "0",
                           "--warnings", "off", "--ip", "127.0.0.1", "--add-ca", str(pki.root_ca),
                           *options, f"https://localhost:{port}"],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=900)
    assert out.exists(), proc.stdout[-3000:]
    return json.loads(out.read_text())


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
