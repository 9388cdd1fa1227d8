"""ALPN and HTTP/2 with mod_http2: h2 where the SNI-selected host's Protocols allow it,
http/1.1 otherwise, ProtocolsHonorOrder, no_application_protocol for clients offering only
protocols the host does not serve, and HTTP/2 end to end (curl, nghttp, h2load)."""
from __future__ import annotations

import os
import re
import shutil
import socket
import ssl
import subprocess

import pytest

import apache
import clients
import pki as pki_mod

H2_MODULE = f"{apache.MODULES_DIR}/mod_http2.so"

SMALL = b"<html><body>small</body></html>\n"


def page(h: str) -> bytes:
    return f"alpn {h}\n".encode()


def certs(pki):
    return {h: pki_mod.issue_leaf(pki, f"alpn-{h}", [f"{h}.alpn.test"])
            for h in ("a", "b", "off", "one", "h11")}


@pytest.fixture(scope="module")
def h2(module_apache_factory, pki):
    """mod_http2 loaded.
    P: a (first, Protocols h2 http/1.1), b (Protocols http/1.1), off (h2 http/1.1,
       ProtocolsHonorOrder off) — name-based hosts with their own certificates.
    Q: one host, Protocols h2 http/1.1 (for the clients that connect by IP: nghttp, h2load).
    R: one host, Protocols http/1.1."""
    if not os.path.exists(H2_MODULE):
        pytest.fail(f"{H2_MODULE} missing (Debian's apache2 ships it)")
    c = certs(pki)
    p, q, r = apache.free_ports(3)
    body = (apache.tls_address(p)
            + apache.name_vhost(p, "a.alpn.test", c["a"], docroot="htdocs/a",
                                extra="Protocols h2 http/1.1")
            + apache.name_vhost(p, "b.alpn.test", c["b"], docroot="htdocs/b",
                                extra="Protocols http/1.1")
            + apache.name_vhost(p, "off.alpn.test", c["off"], docroot="htdocs/off",
                                extra="Protocols h2 http/1.1\nProtocolsHonorOrder off")
            + apache.tls_address(q)
            + apache.name_vhost(q, "one.alpn.test", c["one"], docroot="htdocs/one",
                                extra="Protocols h2 http/1.1")
            + apache.tls_address(r)
            + apache.name_vhost(r, "h11.alpn.test", c["h11"], docroot="htdocs/h11",
                                extra="Protocols http/1.1"))
    a = module_apache_factory(body, start=False, extra_modules=("http2",))
    for h in ("a", "b", "off", "one", "h11"):
        a.add_file(f"{h}/index.html", page(h))
    a.add_file("one/small.html", SMALL)
    a.start()
    return a, p, q, r


def n(h: str) -> str:
    return f"{h}.alpn.test"


def curl_version(port, host, pki, extra=()) -> clients.CurlResult:
    return clients.curl(port, "/", cacert=pki.root_ca, host=n(host), args=["--http2", *extra])


def alpn_of(port: int, host: str | None, offer: str | None) -> str:
    """The ALPN protocol s_client negotiated ('' if none), failing on a failed handshake."""
    args = ["-alpn", offer] if offer else []
    out = clients.s_client(port, args, servername=n(host) if host else None).stdout
    assert re.search(r"^New, TLSv1\.[23], Cipher is [A-Z]", out, re.M), out
    m = re.search(r"^ALPN protocol: (\S+)", out, re.M)
    return m.group(1) if m else ""


# -- negotiation ---------------------------------------------------------------------------------

def test_curl_http2_per_host(h2, pki):
    a, p, q, r = h2
    for host, want in (("a", "2"), ("b", "1.1"), ("off", "2")):
        res = curl_version(p, host, pki)
        assert res.returncode == 0, res.stderr
        assert res.wo("http") == [want], (host, res.stderr)
        assert res.body == page(host)
    res = curl_version(r, "h11", pki)
    assert res.returncode == 0 and res.wo("http") == ["1.1"], res.stderr


def test_curl_http11_client_on_h2_host(h2, pki):
    a, p, q, r = h2
    res = clients.curl(p, "/", cacert=pki.root_ca, host=n("a"))      # --http1.1
    assert res.returncode == 0 and res.wo("http") == ["1.1"], res.stderr
    assert res.body == page("a")


@pytest.mark.parametrize("host,offer,want", [
    ("a", "h2,http/1.1", "h2"),
    ("a", "http/1.1,h2", "h2"),            # ProtocolsHonorOrder on (default): server's order
    ("a", "http/1.1", "http/1.1"),
    ("off", "http/1.1,h2", "http/1.1"),    # ProtocolsHonorOrder off: client's order
    ("off", "h2,http/1.1", "h2"),
    ("b", "h2,http/1.1", "http/1.1"),
    ("b", "http/1.1,h2", "http/1.1"),
])
def test_alpn_choice(host, offer, want, h2):
    a, p, q, r = h2
    assert alpn_of(p, host, offer) == want


def test_no_alpn_served_http11(h2):
    a, p, q, r = h2
    assert alpn_of(p, "a", None) == ""
    ctx = clients.context(verify=False)
    res = clients.sni_get(p, ctx, n("a"))
    assert res.alpn is None
    assert (res.status, res.body) == (200, page("a"))


@pytest.mark.parametrize("host,offer", [("a", "foo"), ("a", "foo,bar"), ("b", "h2"),
                                        ("h11", "h2")])
def test_unserved_protocols_refused(host, offer, h2):
    """A client offering only protocols the host does not serve: no_application_protocol."""
    a, p, q, r = h2
    port = r if host == "h11" else p
    out = clients.s_client(port, ["-alpn", offer], servername=n(host)).stdout
    assert "no application protocol" in out, out
    assert not re.search(r"^New, TLSv1\.[23], Cipher is [A-Z]", out, re.M), out


def test_unserved_protocol_python_and_log(h2):
    a, p, q, r = h2
    ctx = clients.context(verify=False)
    ctx.set_alpn_protocols(["foo"])
    mark = a.log_mark()
    raw = socket.create_connection(("127.0.0.1", p), timeout=20)
    cport = raw.getsockname()[1]
    try:
        with pytest.raises(ssl.SSLError) as ei:
            ctx.wrap_socket(raw, server_hostname=n("a"))
    finally:
        raw.close()
    # Python/OpenSSL: "[SSL] tlsv1 alert no application protocol"
    assert "no application protocol" in str(ei.value).lower().replace("_", " "), repr(ei.value)
    line = a.wait_for_log(rf":{cport}\]", since=mark)
    assert "[tls:info]" in line, line
    lines = [l for l in a.error_log(mark).splitlines() if f":{cport}]" in l and "[tls:" in l]
    assert len(lines) == 1, "\n".join(lines)
    # the next client is served
    assert alpn_of(p, "a", "h2,http/1.1") == "h2"


# -- HTTP/2 end to end ---------------------------------------------------------------------------

def test_h2_host_vs_sni(h2, pki):
    """On an h2 connection (SNI a) a request for another host with another certificate gets
    421 — what a browser coalescing connections relies on."""
    a, p, q, r = h2
    res = clients.curl(p, ["/", "/"], cacert=pki.root_ca, host=n("a"), args=["--http2"])
    assert res.wo("http") == ["2", "2"] and res.wo("code") == ["200", "200"], res.stderr
    res = curl_version(p, "a", pki, ["-H", f"Host: {n('off')}"])
    assert res.wo("http") == ["2"], res.stderr
    assert res.wo("code") == ["421"], res.stderr


def test_nghttp(h2):
    a, p, q, r = h2
    proc = subprocess.run(["nghttp", "-nv", f"https://127.0.0.1:{q}/"], capture_output=True,
                          text=True, timeout=30)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "The negotiated protocol: h2" in out, out
    assert re.search(r":status: 200", out), out


@pytest.mark.parametrize("version,want_http", [("--http2", "2"), ("--http1.1", "1.1")])
def test_no_sni_several_hosts_403_also_on_h2(version, want_http, h2):
    """curl by IP sends no SNI; the address has several hosts and TLSStrictSNI is on (default):
    the handshake succeeds, every request gets 403 — over HTTP/2 streams as over HTTP/1.1."""
    a, p, q, r = h2
    proc = subprocess.run(["curl", "-sS", "-k", version, "-H", f"Host: {n('a')}", "-w", clients.CURL_WO,
                           f"https://127.0.0.1:{p}/", f"https://127.0.0.1:{p}/"],
                          capture_output=True, timeout=30)
    res = clients.CurlResult(proc.returncode, proc.stdout, proc.stderr.decode())
    assert res.returncode == 0, res.stderr
    assert res.wo("http") == [want_http] * 2, res.stderr
    assert res.wo("code") == ["403", "403"], res.stderr


def test_h2load(h2):
    a, p, q, r = h2
    if not shutil.which("h2load"):
        pytest.fail("h2load missing (Debian package nghttp2-client)")
    proc = subprocess.run(["h2load", "-n", "20000", "-c", "20", "-m", "10",
                           f"https://127.0.0.1:{q}/small.html"],
                          capture_output=True, text=True, timeout=120)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert re.search(r"requests: 20000 total, 20000 started, 20000 done, 20000 succeeded, "
                     r"0 failed, 0 errored, 0 timeout", out), out
    assert "status codes: 20000 2xx" in out, out
    assert "Application protocol: h2" in out, out
    assert "TLS Protocol: TLSv1.3" in out, out
    assert not a.crash_lines()


# -- without mod_http2 ---------------------------------------------------------------------------

def test_without_mod_http2(apache_factory, pki):
    c = certs(pki)
    p = apache.free_port()
    body = (apache.tls_address(p)
            + apache.name_vhost(p, "a.alpn.test", c["a"], docroot="htdocs/a",
                                extra="Protocols h2 http/1.1"))
    a = apache_factory(body, start=False)
    a.add_file("a/index.html", page("a"))
    a.start()
    res = curl_version(p, "a", pki)
    assert res.returncode == 0, res.stderr
    assert res.wo("http") == ["1.1"] and res.body == page("a"), res.stderr
    assert alpn_of(p, "a", "h2,http/1.1") == "http/1.1"
    out = clients.s_client(p, ["-alpn", "h2"], servername=n("a")).stdout
    assert "no application protocol" in out, out
