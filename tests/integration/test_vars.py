"""SSL variables and the TLS-provider hooks of http_ssl.h (issue 4, items 1 and 2).

ssl_conn_is_ssl: %{HTTPS} in mod_rewrite and ap_expr is on over TLS and off on a plain port of
the same server; URLs Apache builds (mod_dir's trailing-slash redirect, mod_rewrite's [R]) use
https://; mod_http2 sees the connection as secure.

ssl_var_lookup: every variable is checked against what the client negotiated (Python ssl), the
certificate the test PKI issued, and — for the certificate fields whose format is mod_ssl's —
against Debian's mod_ssl serving the SAME certificate with the same header configuration
(that is the compatibility contract). Paths: mod_headers `%{NAME}s`, mod_rewrite `%{SSL:NAME}`
(RewriteCond and [E=...]), log formats `%{NAME}x`, ap_expr `%{SSL:NAME}` / `%{NAME}` (headers,
<If>, Require expr).

The ap_expr forms `%{SSL:...}` / `%{SSL_...}` only parse when a module registers them (mod_ssl
does; without it apache2 says "Function 'SSL' does not exist"), so they live in a server of their
own (fixture `expr_server`) and the other checks do not depend on them.
"""
from __future__ import annotations

import datetime
import json
import re
import ssl
import subprocess
import time

import pytest
from cryptography import x509

import apache
import clients
import pki as pki_mod
from cryptography.hazmat.primitives import serialization

# variables always answered (SPEC "Always")
ALWAYS_VARS = ["HTTPS", "SSL_TLS_SNI", "SSL_PROTOCOL", "SSL_CIPHER"]
# the rest the SPEC lists for the frontend (server certificate fields as mod_ssl names them)
STD_VARS = [
    "SSL_VERSION_INTERFACE", "SSL_VERSION_LIBRARY", "SSL_SECURE_RENEG", "SSL_COMPRESS_METHOD",
    "SSL_CIPHER_EXPORT", "SSL_CIPHER_USEKEYSIZE", "SSL_CIPHER_ALGKEYSIZE", "SSL_CLIENT_VERIFY",
    "SSL_SESSION_RESUMED",
    "SSL_SERVER_M_VERSION", "SSL_SERVER_M_SERIAL", "SSL_SERVER_S_DN", "SSL_SERVER_S_DN_CN",
    "SSL_SERVER_S_DN_O", "SSL_SERVER_S_DN_C", "SSL_SERVER_I_DN", "SSL_SERVER_I_DN_CN",
    "SSL_SERVER_I_DN_O", "SSL_SERVER_I_DN_C", "SSL_SERVER_V_START", "SSL_SERVER_V_END",
    "SSL_SERVER_A_SIG", "SSL_SERVER_A_KEY", "SSL_SERVER_SAN_DNS_0",
]
VARS = ALWAYS_VARS + STD_VARS
SERVER_CERT_VARS = [v for v in VARS if v.startswith("SSL_SERVER_")]
# same value as mod_ssl's for the same certificate, protocol and suite
SAME_AS_MOD_SSL = ["HTTPS", "SSL_TLS_SNI", "SSL_PROTOCOL", "SSL_COMPRESS_METHOD",
                   "SSL_CIPHER_EXPORT", "SSL_CIPHER_USEKEYSIZE", "SSL_CIPHER_ALGKEYSIZE",
                   "SSL_CLIENT_VERIFY", "SSL_SESSION_RESUMED"] + SERVER_CERT_VARS
RW_VARS = ["SSL_PROTOCOL", "SSL_CIPHER", "SSL_TLS_SNI", "SSL_SERVER_S_DN", "SSL_SESSION_RESUMED",
           "HTTPS"]
LOG_VARS = ["SSL_PROTOCOL", "SSL_CIPHER", "SSL_TLS_SNI", "HTTPS", "SSL_SERVER_S_DN_CN",
            "SSL_SESSION_RESUMED"]

TLS12 = {"max_version": ssl.TLSVersion.TLSv1_2}
TLS13 = {"min_version": ssl.TLSVersion.TLSv1_3}
VERSIONS = {"TLSv1.2": TLS12, "TLSv1.3": TLS13}


def lookup_config(log_name: str | None = None) -> str:
    """Header/rewrite/log configuration that reads the variables without ap_expr's SSL forms."""
    lines = [f'Header always set X-V-{v} "%{{{v}}}s"' for v in VARS]
    lines += [
        'Header always set X-Expr-HTTPS "expr=%{HTTPS}"',
        '<If "%{HTTPS} == \'on\'">',
        '    Header always set X-If-HTTPS "on"',
        '</If>',
        '<Else>',
        '    Header always set X-If-HTTPS "off"',
        '</Else>',
        "RewriteEngine on",
        "RewriteCond %{HTTPS} =on",
        "RewriteRule ^/rw/https$ /markers/on.txt [PT]",
        "RewriteRule ^/rw/https$ /markers/off.txt [PT]",
        "RewriteCond %{SSL:SSL_PROTOCOL} =TLSv1.3",
        "RewriteRule ^/rw/proto$ /markers/13.txt [PT]",
        "RewriteCond %{SSL:SSL_PROTOCOL} =TLSv1.2",
        "RewriteRule ^/rw/proto$ /markers/12.txt [PT]",
        "RewriteRule ^/rw/proto$ /markers/none.txt [PT]",
        "RewriteRule ^/rw/vars$ /index.html [PT,"
        + ",".join(f"E=RW_{v}:%{{SSL:{v}}}" for v in RW_VARS if v != "HTTPS")
        + ",E=RW_HTTPS:%{HTTPS}]",
        "RewriteRule ^/rw/redirect$ /index.html [R=302,L]",
    ]
    lines += [f'Header always set X-RW-{v} "%{{RW_{v}}}e"' for v in RW_VARS]
    if log_name:
        lines.append(log_config(log_name))
    return "\n".join(lines)


def log_config(log_name: str) -> str:
    """A CustomLog with `%{NAME}x` fields ('x' is registered by the TLS module — or mod_ssl)."""
    fmt = "|".join(["%{remote}p"] + [f"%{{{v}}}x" for v in LOG_VARS])
    return f'CustomLog "logs/{log_name}" "{fmt}"'


def add_content(a: apache.Apache) -> None:
    a.add_file("index.html", b"vars\n")
    a.add_file("dir/index.html", b"dir\n")
    for m in ("on", "off", "12", "13", "none"):
        a.add_file(f"markers/{m}.txt", f"marker {m}\n".encode())
    a.add_cgi("env.py", apache.ENV_CGI)


@pytest.fixture(scope="module")
def servers(module_apache_factory, pki):
    """mod_tls server: T (rsa2048), M (ECDSA P-256 then RSA 2048), H (rsa2048, h2), P plain;
    reference mod_ssl-only server: S (rsa2048), SE (p256) — same certificate files, same
    header/rewrite configuration."""
    t, m, h, p, s, se = apache.free_ports(6)
    rsa, ec = pki.leaves["rsa2048"], pki.leaves["p256"]
    body = (apache.tls_site(t, rsa, extra=lookup_config())
            + apache.tls_site(m, [ec, rsa], extra=lookup_config())
            + apache.tls_site(h, rsa, extra="Protocols h2 http/1.1\n" + lookup_config())
            + apache.plain_site(p, extra=lookup_config()))
    a = module_apache_factory(body, start=False,
                              extra_modules=("headers", "rewrite", "http2", "socache_shmcb"))
    add_content(a)
    a.start()
    ref_body = (apache.mod_ssl_site(s, rsa, extra=lookup_config(f"vars-{s}.log"))
                + apache.mod_ssl_site(se, ec, extra=lookup_config(f"vars-{se}.log")))
    ref = module_apache_factory(ref_body, start=False, tls_module=False,
                                extra_modules=("headers", "rewrite") + apache.MOD_SSL_MODULES)
    add_content(ref)
    ref.start()
    return {"a": a, "T": t, "M": m, "H": h, "P": p, "ref": ref, "S": s, "SE": se}


def ctx(pki, **kw) -> ssl.SSLContext:
    return clients.context(pki.root_ca, **kw)


def hdr(x: clients.Exchange, prefix: str, var: str) -> str | None:
    return x.header(f"{prefix}-{var}")


def cert_of(der: bytes) -> x509.Certificate:
    return x509.load_der_x509_certificate(der)


def openssl_time(t: datetime.datetime) -> str:
    """ASN1_TIME_print's format, as mod_ssl shows SSL_SERVER_V_START/V_END."""
    return f"{t.strftime('%b')} {t.day:2d} {t.strftime('%H:%M:%S %Y')} GMT"


# -- 1. ssl_conn_is_ssl ----------------------------------------------------------------------------

def test_https_on_over_tls_off_on_plain(servers, pki):
    t, p = servers["T"], servers["P"]
    x = clients.exchange(t, ctx(pki), path="/")
    assert x.response.status == 200
    assert x.header("x-expr-https") == "on"
    assert x.header("x-if-https") == "on"
    # the plain port of the same server
    out = subprocess.run(["curl", "-sS", "-D", "-", "-o", "/dev/null",
                          f"http://127.0.0.1:{p}/"], capture_output=True, text=True).stdout
    assert re.search(r"^x-expr-https: off\r?$", out, re.M | re.I), out
    assert re.search(r"^x-if-https: off\r?$", out, re.M | re.I), out


def test_rewrite_https_marker(servers, pki):
    t, p = servers["T"], servers["P"]
    x = clients.exchange(t, ctx(pki), path="/rw/https")
    assert (x.response.status, x.response.body) == (200, b"marker on\n")
    r = clients.curl_plain(p, "/rw/https")
    assert r.body == b"marker off\n"


def test_directory_redirect_uses_https(servers, pki):
    """mod_dir: /dir -> 301 Location https://localhost:PORT/dir/ (http:// on the plain port);
    without a port in Host, the scheme's default port (443) is left out."""
    t, p = servers["T"], servers["P"]
    x = clients.exchange(t, ctx(pki), path="/dir", host=f"localhost:{t}")
    assert x.response.status == 301
    assert x.header("location") == f"https://localhost:{t}/dir/", x.response.headers
    x = clients.exchange(t, ctx(pki), path="/dir", host="localhost")
    assert x.header("location") == "https://localhost/dir/", x.response.headers
    for host, want in ((f"localhost:{p}", f"http://localhost:{p}/dir/"),
                       ("localhost", "http://localhost/dir/")):
        out = subprocess.run(["curl", "-sS", "-D", "-", "-o", "/dev/null", "-H",
                              f"Host: {host}", f"http://127.0.0.1:{p}/dir"],
                             capture_output=True, text=True).stdout
        assert re.search(rf"^location: {re.escape(want)}\r?$", out, re.M | re.I), out


def test_rewrite_redirect_uses_https(servers, pki):
    t = servers["T"]
    x = clients.exchange(t, ctx(pki), path="/rw/redirect", host=f"localhost:{t}")
    assert x.response.status == 302
    assert x.header("location") == f"https://localhost:{t}/index.html", x.response.headers


def test_cgi_request_scheme_https(servers, pki):
    """Core's CGI variables follow the hook: REQUEST_SCHEME https, HTTPS on (mod_tls sets it)."""
    t = servers["T"]
    x = clients.exchange(t, ctx(pki), path="/cgi-bin/env.py")
    assert x.response.status == 200, x.response.body
    env = json.loads(x.response.body)
    assert env.get("REQUEST_SCHEME") == "https", env
    assert env.get("HTTPS") == "on", env


def test_h2_secure_and_vars_on_streams(servers, pki):
    """mod_http2 accepts the connection as secure (h2 negotiated and served) and the variables
    are answered for the HTTP/2 streams (secondary connections) too."""
    h = servers["H"]
    r = subprocess.run(["curl", "-sS", "--http2", "-D", "-", "-o", "/dev/null",
                        "--cacert", str(pki.root_ca), "--resolve", f"localhost:{h}:127.0.0.1",
                        f"https://localhost:{h}/"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("HTTP/2 200"), r.stdout
    assert re.search(r"^x-v-ssl_protocol: TLSv1\.3\r?$", r.stdout, re.M | re.I), r.stdout
    assert re.search(r"^x-expr-https: on\r?$", r.stdout, re.M | re.I), r.stdout
    assert re.search(r"^x-v-https: on\r?$", r.stdout, re.M | re.I), r.stdout


# -- 2. ssl_var_lookup through mod_headers / mod_rewrite / logs ------------------------------------

@pytest.mark.parametrize("version", ["TLSv1.2", "TLSv1.3"])
def test_negotiated_values_via_headers(version, servers, pki):
    t = servers["T"]
    x = clients.exchange(t, ctx(pki, **VERSIONS[version]), path="/")
    assert x.version == version
    v = lambda name: hdr(x, "x-v", name)  # noqa: E731
    assert v("HTTPS") == "on"
    assert v("SSL_PROTOCOL") == x.version
    assert v("SSL_CIPHER") == x.cipher
    assert v("SSL_TLS_SNI") == "localhost"
    assert (v("SSL_VERSION_INTERFACE") or "").startswith("mod_tls/"), v("SSL_VERSION_INTERFACE")
    assert (v("SSL_VERSION_LIBRARY") or "").startswith("rustls/"), v("SSL_VERSION_LIBRARY")
    assert v("SSL_SECURE_RENEG") == "false"
    assert v("SSL_COMPRESS_METHOD") == "NULL"
    assert v("SSL_CIPHER_EXPORT") == "false"
    bits = str(clients.cipher_key_bits(x.cipher))
    assert v("SSL_CIPHER_USEKEYSIZE") == bits == str(x.secret_bits)
    assert v("SSL_CIPHER_ALGKEYSIZE") == bits
    assert v("SSL_CLIENT_VERIFY") == "NONE"
    assert v("SSL_SESSION_RESUMED") == "Initial"


@pytest.mark.parametrize("suite,bits", [("TLS_AES_128_GCM_SHA256", 128),
                                        ("TLS_AES_256_GCM_SHA384", 256),
                                        ("TLS_CHACHA20_POLY1305_SHA256", 256),
                                        ("ECDHE-RSA-AES128-GCM-SHA256", 128),
                                        ("ECDHE-RSA-AES256-GCM-SHA384", 256),
                                        ("ECDHE-RSA-CHACHA20-POLY1305", 256)])
def test_cipher_and_key_sizes_per_suite(suite, bits, servers, pki):
    """s_client picks the suite; SSL_CIPHER is its IANA name, the key sizes follow."""
    t = servers["T"]
    args = (["-tls1_3", "-ciphersuites", suite] if suite.startswith("TLS_")
            else ["-tls1_2", "-cipher", suite])
    req = b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    out = clients.s_client(t, ["-ign_eof", *args], input=req, cafile=pki.root_ca).stdout
    m = re.search(r"^New, (TLSv1\.[23]), Cipher is (\S+)", out, re.M)
    assert m, out
    iana = clients.iana_cipher(m.group(2))
    resp = out[out.find("HTTP/1.1"):]
    assert re.search(rf"^x-v-ssl_cipher: {iana}\r?$", resp, re.M | re.I), resp
    assert re.search(rf"^x-v-ssl_protocol: {re.escape(m.group(1))}\r?$", resp, re.M | re.I), resp
    assert re.search(rf"^x-v-ssl_cipher_usekeysize: {bits}\r?$", resp, re.M | re.I), resp
    assert re.search(rf"^x-v-ssl_cipher_algkeysize: {bits}\r?$", resp, re.M | re.I), resp


@pytest.mark.parametrize("port_key,kind", [("T", "rsa2048"), ("M", "p256"),
                                           ("S", "rsa2048"), ("SE", "p256")],
                         ids=["mod_tls-rsa", "mod_tls-ecdsa", "mod_ssl-selfcheck-rsa",
                              "mod_ssl-selfcheck-ecdsa"])
def test_server_cert_vars_from_pki(port_key, kind, servers, pki):
    """The certificate fields against the certificate the test PKI issued."""
    x = clients.exchange(servers[port_key], ctx(pki, **TLS13), path="/")
    cert = cert_of(x.cert_der)
    assert cert.public_bytes(serialization.Encoding.PEM) == \
        pki.leaves[kind].cert.read_bytes()
    v = lambda name: hdr(x, "x-v", name)  # noqa: E731
    assert v("SSL_SERVER_M_VERSION") == "3"
    serial = v("SSL_SERVER_M_SERIAL") or ""
    assert re.fullmatch(r"[0-9A-F]+", serial), serial
    assert int(serial, 16) == cert.serial_number
    assert v("SSL_SERVER_S_DN") == "CN=localhost,O=mod_tls integration tests,C=DE"
    assert v("SSL_SERVER_I_DN") == ("CN=mod_tls Test Root CA,O=mod_tls integration tests,"
                                    "C=DE")
    assert v("SSL_SERVER_S_DN_CN") == "localhost"
    assert v("SSL_SERVER_S_DN_O") == pki_mod.ORG
    assert v("SSL_SERVER_S_DN_C") == "DE"
    assert v("SSL_SERVER_I_DN_CN") == pki_mod.ROOT_CN
    assert v("SSL_SERVER_I_DN_O") == pki_mod.ORG
    assert v("SSL_SERVER_I_DN_C") == "DE"
    assert v("SSL_SERVER_V_START") == openssl_time(pki_mod.valid_from(cert))
    assert v("SSL_SERVER_V_END") == openssl_time(pki_mod.valid_until(cert))
    assert v("SSL_SERVER_A_KEY") == ("rsaEncryption" if kind == "rsa2048" else "id-ecPublicKey")
    assert v("SSL_SERVER_A_SIG") == "ecdsa-with-SHA256"    # the root CA's key is P-384
    assert v("SSL_SERVER_SAN_DNS_0") == "localhost"


@pytest.mark.parametrize("version", ["TLSv1.2", "TLSv1.3"])
@pytest.mark.parametrize("which", ["rsa2048", "p256"])
def test_vars_equal_mod_ssl(which, version, servers, pki):
    """mod_tls and Debian's mod_ssl serving the same certificate with the same header config
    answer the same strings (except the documented differences)."""
    tls_port = servers["T"] if which == "rsa2048" else servers["M"]
    ssl_port = servers["S"] if which == "rsa2048" else servers["SE"]
    c = ctx(pki, **VERSIONS[version])
    if version == "TLSv1.2":
        c.set_ciphers("ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256")
    mine = clients.exchange(tls_port, c, path="/")
    ref = clients.exchange(ssl_port, c, path="/")
    assert mine.cert_der == ref.cert_der, "precondition: the same certificate is served"
    assert (mine.version, mine.cipher) == (ref.version, ref.cipher), "precondition"
    assert (hdr(ref, "x-v", "SSL_VERSION_LIBRARY") or "").startswith("OpenSSL/"), "self-check"
    diffs = {}
    for name in SAME_AS_MOD_SSL:
        got, want = hdr(mine, "x-v", name), hdr(ref, "x-v", name)
        assert want not in (None, "", "(null)"), f"self-check: mod_ssl has no {name}"
        if got != want:
            diffs[name] = (got, want)
    assert not diffs, "mod_tls vs mod_ssl (got, want):\n" + "\n".join(
        f"  {k}: {g!r} != {w!r}" for k, (g, w) in diffs.items())
    if version == "TLSv1.3":   # OpenSSL names TLS 1.3 suites by their IANA names
        assert hdr(mine, "x-v", "SSL_CIPHER") == hdr(ref, "x-v", "SSL_CIPHER")


def test_vars_describe_certificate_sent(servers, pki):
    """Host with ECDSA then RSA: a TLS 1.3 client gets ECDSA, a TLS 1.2 client offering only
    ECDHE-RSA suites gets RSA; the variables describe the certificate actually sent."""
    m = servers["M"]
    x_ec = clients.exchange(m, ctx(pki, **TLS13), path="/")
    c12 = ctx(pki, **TLS12)
    c12.set_ciphers("ECDHE-RSA-AES128-GCM-SHA256")
    x_rsa = clients.exchange(m, c12, path="/")
    assert pki_mod.key_kind(x_ec.cert_der) == "ecdsa"
    assert pki_mod.key_kind(x_rsa.cert_der) == "rsa"
    for x, key in ((x_ec, "id-ecPublicKey"), (x_rsa, "rsaEncryption")):
        cert = cert_of(x.cert_der)
        assert int(hdr(x, "x-v", "SSL_SERVER_M_SERIAL") or "0", 16) == cert.serial_number
        assert hdr(x, "x-v", "SSL_SERVER_A_KEY") == key
        assert hdr(x, "x-v", "SSL_SERVER_V_END") == openssl_time(pki_mod.valid_until(cert))


def test_sni_variable_is_the_sni_sent(servers, pki):
    """SSL_TLS_SNI is what the client sent: 'localhost' vs none (an IP connection)."""
    t = servers["T"]
    x = clients.exchange(t, ctx(pki), sni="localhost", path="/")
    assert hdr(x, "x-v", "SSL_TLS_SNI") == "localhost"
    x = clients.exchange(t, clients.context(verify=False), sni=None, host="localhost", path="/")
    assert hdr(x, "x-v", "SSL_TLS_SNI") in ("(null)", ""), x.response.headers
    assert hdr(x, "x-v", "SSL_PROTOCOL") == x.version   # still a TLS connection


@pytest.mark.parametrize("version", ["TLSv1.2", "TLSv1.3"])
def test_session_resumed(version, servers, pki):
    """SSL_SESSION_RESUMED: Initial on a fresh connection, Resumed on a resumed one, agreeing
    with the client's view on every connection; with the default session cache shared by the
    worker processes, every reconnect resumes."""
    t = servers["T"]
    c = ctx(pki, **VERSIONS[version])
    first = clients.exchange(t, c, path="/")
    assert not first.session_reused
    assert hdr(first, "x-v", "SSL_SESSION_RESUMED") == "Initial"
    session = first.session
    assert session is not None
    seen = []
    for _ in range(12):
        x = clients.exchange(t, c, path="/", session=session)
        got = hdr(x, "x-v", "SSL_SESSION_RESUMED")
        seen.append((x.session_reused, got))
        assert got == ("Resumed" if x.session_reused else "Initial"), seen
        if x.session is not None:
            session = x.session
        if sum(1 for r, _ in seen if r) >= 2:
            break
    assert all(r for r, _ in seen), f"a reconnect was not resumed: {seen}"


def test_rewrite_reads_vars(servers, pki):
    t = servers["T"]
    for version in ("TLSv1.2", "TLSv1.3"):
        x = clients.exchange(t, ctx(pki, **VERSIONS[version]), path="/rw/proto")
        want = {"TLSv1.2": b"marker 12\n", "TLSv1.3": b"marker 13\n"}[version]
        assert x.response.body == want, (version, x.response.body)
        x = clients.exchange(t, ctx(pki, **VERSIONS[version]), path="/rw/vars")
        assert x.response.status == 200
        assert hdr(x, "x-rw", "SSL_PROTOCOL") == version
        assert hdr(x, "x-rw", "SSL_CIPHER") == x.cipher
        assert hdr(x, "x-rw", "SSL_TLS_SNI") == "localhost"
        assert hdr(x, "x-rw", "SSL_SERVER_S_DN") == \
            "CN=localhost,O=mod_tls integration tests,C=DE"
        assert hdr(x, "x-rw", "SSL_SESSION_RESUMED") == "Initial"
        assert hdr(x, "x-rw", "HTTPS") == "on"
    r = clients.curl_plain(servers["P"], "/rw/proto")
    assert r.body == b"marker none\n"


def _log_line(a: apache.Apache, name: str, cport: int, since: int = 0,
              timeout: float = 5.0) -> list[str]:
    """The fields of the line from client port `cport` in logs/<name> (one port's log) after
    offset `since`. Where the port has served other connections, pass
    a.log_file_mark(name) taken right before this one: the kernel reuses a client port for
    the same server port once the old connection is gone."""
    deadline = time.monotonic() + timeout
    while True:
        for line in a.log_file(name, since).splitlines():
            f = line.split("|")
            if f[0] == str(cport):
                return f[1:]
        if time.monotonic() > deadline:
            raise AssertionError(f"no line for client port {cport} in logs/{name} "
                                 f"since offset {since}")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def log_server(module_apache_factory, pki):
    """T (TLS) and P (plain) logging `%{NAME}x` fields (a server of its own: the 'x' format
    only parses when the TLS module registers it)."""
    t, p = apache.free_ports(2)
    body = (apache.tls_site(t, pki.leaves["rsa2048"], extra=log_config(f"vars-{t}.log"))
            + apache.plain_site(p, extra=log_config(f"vars-{p}.log")))
    a = module_apache_factory(body, start=False)
    a.add_file("index.html", b"log\n")
    a.start()
    return {"a": a, "T": t, "P": p}


def test_log_format_x_mod_ssl_selfcheck(servers, pki):
    """Self-check of the log parsing against mod_ssl (reference server)."""
    ref, s = servers["ref"], servers["S"]
    since = ref.log_file_mark(f"vars-{s}.log")
    x = clients.exchange(s, ctx(pki, **TLS13), path="/")
    got = dict(zip(LOG_VARS, _log_line(ref, f"vars-{s}.log", x.client_port, since)))
    assert got["SSL_PROTOCOL"] == "TLSv1.3" and got["SSL_CIPHER"] == x.cipher, got


@pytest.mark.parametrize("version", ["TLSv1.2", "TLSv1.3"])
def test_log_format_x(version, log_server, pki):
    a, t = log_server["a"], log_server["T"]
    since = a.log_file_mark(f"vars-{t}.log")
    x = clients.exchange(t, ctx(pki, **VERSIONS[version]), path="/")
    got = dict(zip(LOG_VARS, _log_line(a, f"vars-{t}.log", x.client_port, since)))
    assert got == {"SSL_PROTOCOL": version, "SSL_CIPHER": x.cipher, "SSL_TLS_SNI": "localhost",
                   "HTTPS": "on", "SSL_SERVER_S_DN_CN": "localhost",
                   "SSL_SESSION_RESUMED": "Initial"}


def test_log_format_x_plain_port(log_server):
    """On the plain port the TLS variables are empty ('-') and HTTPS is off or empty."""
    a, p = log_server["a"], log_server["P"]
    import socket
    with socket.create_connection(("127.0.0.1", p), timeout=10) as s:
        cport = s.getsockname()[1]
        s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        while s.recv(65536):
            pass
    got = dict(zip(LOG_VARS, _log_line(a, f"vars-{p}.log", cport)))
    assert got["SSL_PROTOCOL"] == "-" and got["SSL_CIPHER"] == "-", got
    assert got["HTTPS"] in ("-", "off"), got


# -- ap_expr: %{SSL:NAME} and %{SSL_NAME} (Header expr=, <If>, Require expr) -----------------------

EXPR_CONFIG = "\n".join(
    [f'Header always set X-E-{v} "expr=%{{SSL:{v}}}"' for v in VARS]
    + ['<If "%{SSL:SSL_PROTOCOL} == \'TLSv1.3\'">',
       '    Header always set X-If-13 "yes"',
       '</If>',
       '<Else>',
       '    Header always set X-If-13 "no"',
       '</Else>',
       '<Location /tls13-only>',
       '    Require expr "%{SSL_PROTOCOL} == \'TLSv1.3\'"',
       '</Location>',
       '<Location /sni-only>',
       '    Require expr "%{SSL_TLS_SNI} == \'localhost\' && %{HTTPS} == \'on\'"',
       '</Location>'])


@pytest.fixture(scope="module")
def expr_server(module_apache_factory, pki):
    t, p = apache.free_ports(2)
    body = (apache.tls_site(t, pki.leaves["rsa2048"], extra=EXPR_CONFIG)
            + apache.plain_site(p, extra=EXPR_CONFIG))
    a = module_apache_factory(body, start=False, extra_modules=("headers",))
    a.add_file("index.html", b"expr\n")
    a.add_file("tls13-only", b"tls13 only\n")
    a.add_file("sni-only", b"sni only\n")
    a.start()
    return a, t, p


@pytest.mark.parametrize("version", ["TLSv1.2", "TLSv1.3"])
def test_expr_ssl_function(version, expr_server, pki):
    a, t, _ = expr_server
    x = clients.exchange(t, ctx(pki, **VERSIONS[version]), path="/")
    e = lambda name: hdr(x, "x-e", name)  # noqa: E731
    assert e("SSL_CIPHER") == x.cipher
    assert e("SSL_PROTOCOL") == version
    assert e("HTTPS") == "on"
    assert e("SSL_TLS_SNI") == "localhost"
    assert e("SSL_SERVER_S_DN_CN") == "localhost"
    assert e("SSL_SESSION_RESUMED") == "Initial"
    assert (e("SSL_VERSION_LIBRARY") or "").startswith("rustls/")
    assert e("SSL_CIPHER_USEKEYSIZE") == str(clients.cipher_key_bits(x.cipher))
    assert x.header("x-if-13") == ("yes" if version == "TLSv1.3" else "no")


def test_require_expr_protocol(expr_server, pki):
    a, t, p = expr_server
    x = clients.exchange(t, ctx(pki, **TLS13), path="/tls13-only")
    assert (x.response.status, x.response.body) == (200, b"tls13 only\n")
    x = clients.exchange(t, ctx(pki, **TLS12), path="/tls13-only")
    assert x.response.status == 403
    x = clients.exchange(t, ctx(pki), path="/sni-only")
    assert x.response.status == 200
    x = clients.exchange(t, clients.context(verify=False), sni=None, host="localhost",
                         path="/sni-only")
    assert x.response.status == 403
    assert clients.curl_plain(p, "/tls13-only").wo("code") == ["403"]
