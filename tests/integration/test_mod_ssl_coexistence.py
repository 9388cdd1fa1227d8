"""mod_ssl and mod_tls in one server (issue 4, item 4).

One apache2 with both modules loaded: port A served by mod_ssl (`SSLEngine on`), port B by
mod_tls (`TLSEngine`), port C plain. Both TLS ports serve at once; the certificate sent, the
SSL_VERSION_LIBRARY / SSL_VERSION_INTERFACE answered through mod_headers, ap_expr and the
`%{...}x` log fields show that each module answers the hooks (ssl_conn_is_ssl,
ssl_var_lookup, the ap_expr SSL functions, the 'x' log format) only for its own connections.
An address claimed by both modules is refused at startup.
"""
from __future__ import annotations

import concurrent.futures
import re
import socket
import ssl
import subprocess
import time

import pytest

import apache
import clients
import pki as pki_mod

TLS12 = {"max_version": ssl.TLSVersion.TLSv1_2}
TLS13 = {"min_version": ssl.TLSVersion.TLSv1_3}
VERSIONS = {"TLSv1.2": TLS12, "TLSv1.3": TLS13}

COMMON = """\
Header always set X-Lib "%{SSL_VERSION_LIBRARY}s"
Header always set X-Iface "%{SSL_VERSION_INTERFACE}s"
Header always set X-Proto "%{SSL_PROTOCOL}s"
Header always set X-Cipher "%{SSL_CIPHER}s"
Header always set X-Https "%{HTTPS}s"
Header always set X-SNI "%{SSL_TLS_SNI}s"
Header always set X-S-DN-CN "%{SSL_SERVER_S_DN_CN}s"
Header always set X-Expr-HTTPS "expr=%{HTTPS}"
Header always set X-Expr-Proto "expr=%{SSL:SSL_PROTOCOL}"
Header always set X-Expr-Lib "expr=%{SSL:SSL_VERSION_LIBRARY}"
RewriteEngine on
RewriteCond %{HTTPS} =on
RewriteRule ^/rw/https$ /markers/on.txt [PT]
RewriteRule ^/rw/https$ /markers/off.txt [PT]
RewriteCond %{SSL:SSL_PROTOCOL} ^(TLSv1\\.[23])$
RewriteRule ^/rw/proto$ /markers/%1.txt [PT]
CustomLog "logs/coex.log" "%{local}p|%{remote}p|%{SSL_PROTOCOL}x|%{SSL_CIPHER}x|%{HTTPS}x"
"""

SSL_CN = "ssl.coex.test"
TLS_CN = "tls.coex.test"


def creds(pki):
    return (pki_mod.issue_leaf(pki, "coex-ssl", ["localhost"], cn=SSL_CN, kind="rsa2048"),
            pki_mod.issue_leaf(pki, "coex-tls", ["localhost"], cn=TLS_CN, kind="rsa2048"))


@pytest.fixture(scope="module")
def coex(module_apache_factory, pki):
    a_port, b_port, c_port = apache.free_ports(3)
    ssl_cred, tls_cred = creds(pki)
    body = ("SSLSessionCache none\n"
            + apache.mod_ssl_site(a_port, ssl_cred, extra=COMMON)
            + apache.tls_site(b_port, tls_cred, extra=COMMON)
            + apache.plain_site(c_port, extra=COMMON))
    a = module_apache_factory(body, start=False,
                              extra_modules=("headers", "rewrite") + apache.MOD_SSL_MODULES)
    a.add_file("index.html", b"coex\n")
    for m in ("on", "off", "TLSv1.2", "TLSv1.3"):
        a.add_file(f"markers/{m}.txt", f"marker {m}\n".encode())
    a.start()
    return a, a_port, b_port, c_port


def ctx(pki, **kw):
    return clients.context(pki.root_ca, **kw)


def expect_mod_ssl(x: clients.Exchange, version: str) -> None:
    h = x.header
    assert pki_mod.subject_cn(x.cert_der) == SSL_CN
    assert (h("x-lib") or "").startswith("OpenSSL/"), x.response.headers
    assert (h("x-iface") or "").startswith("mod_ssl/"), x.response.headers
    assert h("x-proto") == version
    assert h("x-expr-proto") == version
    assert (h("x-expr-lib") or "").startswith("OpenSSL/")
    assert h("x-https") == "on" and h("x-expr-https") == "on"
    assert h("x-s-dn-cn") == SSL_CN
    assert h("x-sni") == "localhost"
    assert h("x-cipher") == ssl_openssl_name(x)


def ssl_openssl_name(x: clients.Exchange) -> str:
    """mod_ssl names suites as OpenSSL does (TLS 1.3: IANA; TLS 1.2: OpenSSL names)."""
    if x.cipher.startswith("TLS_ECDHE"):
        inv = {v: k for k, v in clients.OPENSSL_TO_IANA.items()}
        return inv[x.cipher]
    return x.cipher


def expect_mod_tls(x: clients.Exchange, version: str) -> None:
    h = x.header
    assert pki_mod.subject_cn(x.cert_der) == TLS_CN
    assert (h("x-lib") or "").startswith("rustls/"), x.response.headers
    assert (h("x-iface") or "").startswith("mod_tls/"), x.response.headers
    assert h("x-proto") == version
    assert h("x-expr-proto") == version, x.response.headers
    assert (h("x-expr-lib") or "").startswith("rustls/"), x.response.headers
    assert h("x-https") == "on" and h("x-expr-https") == "on"
    assert h("x-s-dn-cn") == TLS_CN
    assert h("x-sni") == "localhost"
    assert h("x-cipher") == x.cipher     # IANA name


@pytest.mark.parametrize("version", ["TLSv1.2", "TLSv1.3"])
def test_each_port_served_by_its_module(version, coex, pki):
    _, a_port, b_port, _ = coex
    xa = clients.exchange(a_port, ctx(pki, **VERSIONS[version]))
    xb = clients.exchange(b_port, ctx(pki, **VERSIONS[version]))
    assert xa.response.status == xb.response.status == 200
    expect_mod_ssl(xa, version)
    expect_mod_tls(xb, version)


def test_curl_both(coex, pki):
    _, a_port, b_port, _ = coex
    for port, iface, lib, cn in ((a_port, "mod_ssl/", "OpenSSL/", SSL_CN),
                                 (b_port, "mod_tls/", "rustls/", TLS_CN)):
        p = subprocess.run(["curl", "-sS", "-v", "-D", "-", "-o", "/dev/null", "--cacert",
                            str(pki.root_ca), "--resolve", f"localhost:{port}:127.0.0.1",
                            f"https://localhost:{port}/"], capture_output=True, text=True,
                           timeout=30)
        assert p.returncode == 0, p.stderr
        assert re.search(rf"^x-iface: {re.escape(iface)}", p.stdout, re.M | re.I), p.stdout
        assert re.search(rf"^x-lib: {re.escape(lib)}", p.stdout, re.M | re.I), p.stdout
        assert re.search(rf"subject:.*CN ?= ?{re.escape(cn)}", p.stderr), p.stderr


def test_both_serve_at_once(coex, pki):
    """Keep-alive connections open on both ports at the same time, requests interleaved, plus
    concurrent fresh connections on both."""
    _, a_port, b_port, _ = coex
    c = ctx(pki)
    sa = clients.tls_open(a_port, c, "localhost")
    sb = clients.tls_open(b_port, c, "localhost")
    try:
        fa, fb = sa.makefile("rb"), sb.makefile("rb")
        for _ in range(5):
            for s, f, iface in ((sa, fa, "mod_ssl/"), (sb, fb, "mod_tls/")):
                s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
                r = clients.read_response(f)
                assert r.status == 200 and r.body == b"coex\n"
                assert r.headers.get("x-iface", "").startswith(iface), r.headers
        fa.close()
        fb.close()
    finally:
        sa.close()
        sb.close()

    def one(port):
        x = clients.exchange(port, ctx(pki))
        return port, x.header("x-iface"), pki_mod.subject_cn(x.cert_der)

    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        results = list(ex.map(one, [a_port, b_port] * 10))
    for port, iface, cn in results:
        if port == a_port:
            assert (iface or "").startswith("mod_ssl/") and cn == SSL_CN, (port, iface, cn)
        else:
            assert (iface or "").startswith("mod_tls/") and cn == TLS_CN, (port, iface, cn)


def test_https_on_both_off_on_plain(coex, pki):
    _, a_port, b_port, c_port = coex
    for port in (a_port, b_port):
        x = clients.exchange(port, ctx(pki), path="/rw/https")
        assert x.response.body == b"marker on\n", port
        assert x.header("x-expr-https") == "on"
    out = subprocess.run(["curl", "-sS", "-D", "-", f"http://127.0.0.1:{c_port}/rw/https"],
                         capture_output=True, text=True, timeout=30).stdout
    assert out.endswith("marker off\n"), out
    assert re.search(r"^x-expr-https: off\r?$", out, re.M | re.I), out


@pytest.mark.parametrize("version", ["TLSv1.2", "TLSv1.3"])
def test_rewrite_ssl_var_on_both(version, coex, pki):
    _, a_port, b_port, _ = coex
    for port in (a_port, b_port):
        x = clients.exchange(port, ctx(pki, **VERSIONS[version]), path="/rw/proto")
        assert x.response.body == f"marker {version}\n".encode(), (port, x.response.body)


def _log_fields(a: apache.Apache, port: int, cport: int, since: int,
                timeout: float = 5.0) -> list[str]:
    """The log line of the connection from client port `cport` to server port `port`, written
    after offset `since` (a.log_file_mark("coex.log") taken right before that connection).

    Both ports and the offset are needed: the kernel reuses an ephemeral client port for another
    destination at once, and for the same server port once the old connection is gone (the
    module's server has served earlier tests' connections on these ports)."""
    deadline = time.monotonic() + timeout
    while True:
        for line in a.log_file("coex.log", since).splitlines():
            f = line.split("|")
            if f[0] == str(port) and f[1] == str(cport):
                return f
        if time.monotonic() > deadline:
            raise AssertionError(f"no log line for {cport} -> {port} since offset {since}:\n"
                                 + (a.log_file("coex.log", since) or "(nothing)"))
        time.sleep(0.05)


def test_log_x_per_port(coex, pki):
    """`%{SSL_PROTOCOL}x` etc. are right on each port, whichever module registered 'x'."""
    a, a_port, b_port, c_port = coex
    cases = [(a_port, "TLSv1.2"), (b_port, "TLSv1.3"), (a_port, "TLSv1.3"), (b_port, "TLSv1.2")]
    for port, version in cases:
        since = a.log_file_mark("coex.log")
        x = clients.exchange(port, ctx(pki, **VERSIONS[version]))
        f = _log_fields(a, port, x.client_port, since)
        want_cipher = ssl_openssl_name(x) if port == a_port else x.cipher
        assert f == [str(port), str(x.client_port), version, want_cipher, "on"], (port, f)
    since = a.log_file_mark("coex.log")
    with socket.create_connection(("127.0.0.1", c_port), timeout=10) as s:
        cport = s.getsockname()[1]
        s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        while s.recv(65536):
            pass
    f = _log_fields(a, c_port, cport, since)
    assert f[2] == "-" and f[3] == "-", f
    assert f[4] in ("-", "off"), f


# -- one address, both modules: refused at startup ------------------------------------------------

@pytest.mark.parametrize("engine_form", ["address", "port"])
def test_address_claimed_by_both_refused(engine_form, apache_factory, pki):
    p = apache.free_port()
    engine = f"127.0.0.1:{p}" if engine_form == "address" else f"{p}"
    cred = pki.leaves["rsa2048"]
    body = (f"Listen 127.0.0.1:{p}\n"
            f"TLSEngine {engine}\n"
            f"<VirtualHost 127.0.0.1:{p}>\n"
            "    ServerName localhost\n"
            "    SSLEngine on\n"
            f"    SSLCertificateFile {cred.cert}\n"
            f"    SSLCertificateKeyFile {cred.key}\n"
            f"    TLSCertificate {cred.cert} {cred.key}\n"
            "</VirtualHost>\n")
    a = apache_factory(body, start=False, extra_modules=apache.MOD_SSL_MODULES)
    res = a.start(check=False)
    text = res.combined
    assert res.returncode != 0, f"apache2 -k start exited 0 (came up: {res.came_up}):\n{text}"
    time.sleep(0.2)
    assert not apache.is_listening(p), "listening after a refused start"
    msg = [l for l in text.splitlines() if "TLSEngine" in l and "SSLEngine" in l]
    assert msg, f"no message naming TLSEngine and SSLEngine:\n{text}"
    # the address: 127.0.0.1:P (the vhost's), or for `TLSEngine P` at least the port
    want = f"127.0.0.1:{p}" if engine_form == "address" else str(p)
    assert any(want in l for l in msg), f"address {want} not named:\n{text}"


def test_different_addresses_same_port_number_not_refused(apache_factory, pki):
    """mod_ssl on 127.0.0.1:P and mod_tls on 127.0.0.2:P — different addresses — start fine
    (self-check that the refusal above is about the address, not about loading both)."""
    p = apache.free_port()
    try:
        with socket.socket() as s:
            s.bind(("127.0.0.2", p))
    except OSError:
        pytest.skip("127.0.0.2 not usable")
    ssl_cred, tls_cred = creds(pki)
    body = (apache.mod_ssl_site(p, ssl_cred)
            + f"Listen 127.0.0.2:{p}\nTLSEngine 127.0.0.2:{p}\n"
            f"<VirtualHost 127.0.0.2:{p}>\n    ServerName localhost\n"
            f"    TLSCertificate {tls_cred.cert} {tls_cred.key}\n</VirtualHost>\n")
    a = apache_factory(body, start=False, extra_modules=apache.MOD_SSL_MODULES)
    a.start()
    x = clients.exchange(p, ctx(pki))
    assert pki_mod.subject_cn(x.cert_der) == SSL_CN
    raw = socket.create_connection(("127.0.0.2", p), timeout=10)
    with ctx(pki).wrap_socket(raw, server_hostname="localhost") as s:
        assert pki_mod.subject_cn(s.getpeercert(binary_form=True)) == TLS_CN
