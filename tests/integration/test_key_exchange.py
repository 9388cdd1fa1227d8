"""Key exchange groups (issue #20): X25519MLKEM768 by default, `TLSGroups`, `SSL_KEY_EXCHANGE`.

Default groups: X25519MLKEM768, x25519, secp256r1, secp384r1. A client that offers the
post-quantum hybrid (Debian's Chromium; OpenSSL >= 3.5; mod_tls itself as a proxy client) gets
it; OpenSSL 3.0 clients (curl, s_client, Python ssl) get x25519; TLS 1.2 never gets the hybrid.

Evidence is always the server's: a CustomLog with `%{SSL_KEY_EXCHANGE}x` (per virtual host, each
request tagged with a unique query string), a header `X-KX` set from the ap_expr
`%{SSL:SSL_KEY_EXCHANGE}`, the CGI environment (`TLSOptions +StdEnvVars`), the debug line of
`LogLevel tls:debug` ("TLS handshake completed: ..., key exchange <group>, ..."), and
server-status' `TLSKeyExchange_<group>` counters. Where a client can say what it negotiated
(openssl s_client's "Server Temp Key") it is checked too.

Malformed hybrid key shares are sent as hand-built ClientHellos (`raw_tls.hello()`); a well-formed
one built the same way gets a ServerHello, so the builder itself is checked.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import ssl
import subprocess
import tempfile
import time

import pytest

import apache
import clients
import pki as pki_mod
from raw_tls import exchange_raw, hello, p256_public, server_hello, x25519_public

GROUPS = ("X25519MLKEM768", "x25519", "secp256r1", "secp384r1")
CODEPOINT = {"X25519MLKEM768": 0x11EC, "x25519": 0x001D, "secp256r1": 0x0017,
             "secp384r1": 0x0018}
GROUP_OF = {v: k for k, v in CODEPOINT.items()}
CHROMIUM = "/usr/bin/chromium"
TLS12 = {"max_version": ssl.TLSVersion.TLSv1_2}
TLS13 = {"min_version": ssl.TLSVersion.TLSv1_3}

# one line per request: client port, key exchange, protocol, request, status
KX_FORMAT = 'LogFormat "%{remote}p %{SSL_KEY_EXCHANGE}x %{SSL_PROTOCOL}x \\"%r\\" %>s" kx\n'
KX_HEADER = 'Header always set X-KX "expr=%{SSL:SSL_KEY_EXCHANGE}"'
DEBUG_DONE = "TLS handshake completed: "

ENV_CGI_STD = "env-std.py"     # under <Location> with TLSOptions +StdEnvVars
ENV_CGI_PLAIN = "env.py"       # without


def rustls_version() -> str:
    """The rustls version the bridge is built with (bridge/Cargo.lock)."""
    lock = (apache.REPO_ROOT / "bridge" / "Cargo.lock").read_text()
    m = re.search(r'^name = "rustls"\nversion = "([^"]+)"', lock, re.M)
    assert m, "rustls not in bridge/Cargo.lock"
    return m.group(1)


def openssl_version() -> tuple[int, int]:
    out = subprocess.run(["openssl", "version"], capture_output=True, text=True).stdout
    m = re.match(r"OpenSSL (\d+)\.(\d+)", out)
    assert m, out
    return int(m.group(1)), int(m.group(2))


OPENSSL_HAS_MLKEM = openssl_version() >= (3, 5)


def kx_vhost_extra(port: int, groups: str | None = None) -> str:
    lines = [f'CustomLog "logs/kx-{port}.log" kx', KX_HEADER,
             f"<Location /cgi-bin/{ENV_CGI_STD}>", "    TLSOptions +StdEnvVars", "</Location>"]
    if groups is not None:
        lines.append(f"TLSGroups {groups}")
    return "\n".join(lines)


def add_content(a: apache.Apache) -> None:
    a.add_file("kx.txt", b"kx\n")
    a.add_cgi(ENV_CGI_STD, apache.ENV_CGI)
    a.add_cgi(ENV_CGI_PLAIN, apache.ENV_CGI)


# ---- log helpers --------------------------------------------------------------------------------

def token() -> str:
    return secrets.token_hex(8)


def kx_lines(a: apache.Apache, port: int, since: int = 0) -> list[list[str]]:
    """Access-log lines of the host on `port` (after byte offset `since`, a
    a.log_file_mark(f"kx-{port}.log")): [client port, kx, protocol, request, status]."""
    out = []
    for line in a.log_file(f"kx-{port}.log", since).splitlines():
        m = re.fullmatch(r'(\d+) (\S+) (\S+) "([^"]*)" (\d+)', line)
        assert m, f"unexpected log line {line!r}"
        out.append(list(m.groups()))
    return out


def kx_line(a: apache.Apache, port: int, tok: str, timeout: float = 10.0) -> list[str]:
    """The access-log line of the request tagged `t=tok` (waits for the log to be written)."""
    deadline = time.monotonic() + timeout
    while True:
        found = [l for l in kx_lines(a, port) if f"t={tok}" in l[3]]
        if found:
            assert len(found) == 1, found
            return found[0]
        if time.monotonic() > deadline:
            raise AssertionError(f"no request t={tok} in logs/kx-{port}.log:\n"
                                 + "\n".join(" ".join(l) for l in kx_lines(a, port)))
        time.sleep(0.05)


def debug_line(a: apache.Apache, client_port: int, since: int = 0) -> str:
    """The 'TLS handshake completed' debug line of the connection from client_port."""
    return a.wait_for_log(rf"\[client 127\.0\.0\.1:{client_port}\] .*{DEBUG_DONE}",
                          since=since)


def debug_lines(a: apache.Apache, client_port: int, since: int) -> list[str]:
    """Every 'TLS handshake completed' debug line from client_port after `since` (waits for the
    first). The line names no server port, and the kernel gives connections to different server
    ports the same client port, even while both are open: where several were made after the
    mark, the one looked for is among these."""
    debug_line(a, client_port, since=since)
    rx = re.compile(rf"\[client 127\.0\.0\.1:{client_port}\] .*{DEBUG_DONE}")
    return [l for l in a.error_log(since).splitlines() if rx.search(l)]


def tls_lines(a: apache.Apache, since: int, level: str = "info") -> list[str]:
    return [l for l in a.error_log(since).splitlines() if f"[tls:{level}]" in l]


# ---- clients ------------------------------------------------------------------------------------

def curl_kx(port: int, pki, *, host: str = "localhost", args=()) -> tuple[clients.CurlResult, str]:
    tok = token()
    r = clients.curl(port, f"/kx.txt?t={tok}", cacert=pki.root_ca, host=host, args=args)
    return r, tok


def s_client_kx(port: int, pki, groups: str | None, *, sni: str = "localhost",
                args=()) -> tuple[str, str]:
    """openssl s_client (-groups groups) with one tagged GET; (transcript, token)."""
    tok = token()
    req = (f"GET /kx.txt?t={tok} HTTP/1.1\r\nHost: {sni}\r\nConnection: close\r\n\r\n").encode()
    extra = ["-groups", groups] if groups else []
    out = clients.s_client(port, ["-ign_eof", *extra, *args], input=req, cafile=pki.root_ca,
                           servername=sni).stdout
    return out, tok


def response_header(transcript: str, name: str) -> str | None:
    m = re.search(rf"^{re.escape(name)}: ?(.*?)\r?$", transcript, re.M | re.I)
    return m.group(1) if m else None


def assert_served(out: str) -> None:
    assert "HTTP/1.1 200" in out, out


def assert_handshake_failure(out: str) -> None:
    """s_client was refused with the handshake_failure alert (40) and got no page."""
    assert "HTTP/1.1" not in out, out
    assert "alert handshake failure" in out and "alert number 40" in out, out


def ctx(pki, **kw) -> ssl.SSLContext:
    return clients.context(pki.root_ca, **kw)


# ---- the server ---------------------------------------------------------------------------------

class Kx:
    pass


@pytest.fixture(scope="module")
def kx(module_apache_factory, pki):
    """D: defaults (P-256 certificate). R: defaults, RSA certificate (for TLS 1.2 clients that
    offer one group only: OpenSSL refuses an ECDSA certificate on a curve it did not list,
    "wrong curve"). X: TLSGroups x25519. S384: TLSGroups secp384r1. UP: TLSGroups X25519
    (upper case). COLON: TLSGroups secp256r1:SECP384R1. N: name-based a.test (TLSGroups
    secp384r1) and b.test (TLSGroups x25519) on one address. LogLevel tls:debug."""
    k = Kx()
    k.D, k.R, k.X, k.S384, k.UP, k.COLON, k.N = apache.free_ports(7)
    cert = pki.leaves["p256"]
    ca = pki_mod.issue_leaf(pki, "kx-a", ["a.test"])
    cb = pki_mod.issue_leaf(pki, "kx-b", ["b.test"])
    body = (KX_FORMAT
            + apache.tls_site(k.D, cert, extra=kx_vhost_extra(k.D))
            + apache.tls_site(k.R, pki.leaves["rsa2048"], extra=kx_vhost_extra(k.R))
            + apache.tls_site(k.X, cert, extra=kx_vhost_extra(k.X, "x25519"))
            + apache.tls_site(k.S384, cert, extra=kx_vhost_extra(k.S384, "secp384r1"))
            + apache.tls_site(k.UP, cert, extra=kx_vhost_extra(k.UP, "X25519"))
            + apache.tls_site(k.COLON, cert, extra=kx_vhost_extra(k.COLON, "secp256r1:SECP384R1"))
            + apache.tls_address(k.N)
            + apache.name_vhost(k.N, "a.test", ca, extra=kx_vhost_extra(k.N, "secp384r1"))
            + apache.name_vhost(k.N, "b.test", cb, extra=kx_vhost_extra(k.N, "x25519")))
    k.a = module_apache_factory(body, start=False, extra_modules=("headers",),
                                log_level="info tls:debug", name="kx")
    add_content(k.a)
    k.a.start()
    return k


# ==== 1. defaults ================================================================================

def test_curl_gets_x25519_by_default(kx, pki):
    mark = kx.a.log_mark()
    r, tok = curl_kx(kx.D, pki)
    assert r.returncode == 0 and r.body == b"kx\n", r.stderr
    cport, group, proto, _, status = kx_line(kx.a, kx.D, tok)
    want = clients.default_kx_group()  # x25519 with OpenSSL 3.0; 3.5 offers the hybrid first
    assert (group, proto, status) == (want, "TLSv1.3", "200")
    # LogLevel tls:debug: the handshake line names the group
    line = debug_line(kx.a, int(cport), since=mark)
    assert re.search(rf"TLS handshake completed: TLSv1\.3, TLS_\w+, key exchange {want}, ALPN ",
                     line), line


@pytest.mark.skipif(OPENSSL_HAS_MLKEM, reason="OpenSSL >= 3.5: see the X25519MLKEM768 test")
def test_openssl30_s_client_gets_x25519(kx, pki):
    """OpenSSL 3.0 has no ML-KEM: its default offer (x25519 first) gets x25519."""
    for groups in (None, "x25519"):
        out, tok = s_client_kx(kx.D, pki, groups)
        assert_served(out)
        assert re.search("(Server|Peer) Temp Key: X25519", out), out
        assert response_header(out, "x-kx") == "x25519", out
        assert kx_line(kx.a, kx.D, tok)[1] == "x25519"


@pytest.mark.skipif(not OPENSSL_HAS_MLKEM, reason="needs OpenSSL >= 3.5 (ML-KEM)")
def test_openssl35_s_client_gets_x25519mlkem768(kx, pki):
    out, tok = s_client_kx(kx.D, pki, "X25519MLKEM768")
    assert_served(out)
    assert response_header(out, "x-kx") == "X25519MLKEM768", out
    assert kx_line(kx.a, kx.D, tok)[1] == "X25519MLKEM768"
    out, tok = s_client_kx(kx.D, pki, "x25519")
    assert_served(out)
    assert response_header(out, "x-kx") == "x25519", out
    assert kx_line(kx.a, kx.D, tok)[1] == "x25519"


@pytest.mark.parametrize("group,temp_key", [("x25519", "X25519"),
                                            ("secp256r1", "ECDH, prime256v1"),
                                            ("secp384r1", "ECDH, secp384r1")])
@pytest.mark.parametrize("version", ["-tls1_3", "-tls1_2"])
def test_each_default_group_is_accepted(group, temp_key, version, kx, pki):
    out, tok = s_client_kx(kx.R, pki, group, args=[version])
    assert_served(out)
    # OpenSSL 3.0 says "Server Temp Key", 3.5 "Peer Temp Key".
    assert re.search(f"(Server|Peer) Temp Key: {re.escape(temp_key)}", out), out
    assert response_header(out, "x-kx") == group, out
    assert kx_line(kx.a, kx.R, tok)[1] == group


@pytest.mark.parametrize("group", ["x448", "secp521r1", "ffdhe2048"])
def test_groups_outside_the_default_are_refused(group, kx, pki):
    mark = kx.a.log_mark()
    out, _ = s_client_kx(kx.D, pki, group)
    assert_handshake_failure(out)
    lines = tls_lines(kx.a, mark)
    assert len(lines) == 1 and "sent alert handshake_failure" in lines[0], lines


@pytest.mark.parametrize("curve,want", [(None, "x25519"), ("secp384r1", "secp384r1"),
                                        ("prime256v1", "secp256r1")])
def test_python_tls12_never_gets_the_hybrid(curve, want, kx, pki):
    """TLS 1.2 (Python ssl, OpenSSL 3.0): the hybrid is TLS 1.3 only; x25519 by default."""
    c = ctx(pki, **TLS12)
    if curve:
        c.set_ecdh_curve(curve)
    tok = token()
    x = clients.exchange(kx.R, c, path=f"/kx.txt?t={tok}")
    assert x.version == "TLSv1.2"
    assert x.header("x-kx") == want, x.response.headers
    assert kx_line(kx.a, kx.R, tok)[1:3] == [want, "TLSv1.2"]


def test_resumption_tls12_has_no_key_exchange_tls13_has(kx, pki):
    """A TLS 1.2 resumption makes no new key exchange: SSL_KEY_EXCHANGE unset (log '-', empty
    expr). A TLS 1.3 resumption (psk_dhe_ke) does one: x25519 again."""
    d13 = clients.default_kx_group("1.3")   # x25519 with OpenSSL 3.0, the hybrid with 3.5
    for opts, full_kx, resumed_kx, resumed_hdr in ((TLS12, "x25519", "-", ""),
                                                   (TLS13, d13, d13, d13)):
        c = ctx(pki, **opts)
        tok1, tok2 = token(), token()
        first = clients.exchange(kx.D, c, path=f"/kx.txt?t={tok1}")
        assert not first.session_reused and first.session is not None
        again = clients.exchange(kx.D, c, path=f"/kx.txt?t={tok2}", session=first.session)
        assert again.session_reused, f"{again.version}: precondition: session resumed"
        assert first.header("x-kx") == full_kx
        assert kx_line(kx.a, kx.D, tok1)[1] == full_kx
        assert (again.header("x-kx") or "") == resumed_hdr, again.response.headers
        assert kx_line(kx.a, kx.D, tok2)[1] == resumed_kx


# ---- Chromium -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def chromium_load(kx):
    """Debian's headless Chromium loads /page.html from D (defaults), which shows an image from
    X (TLSGroups x25519). Returns the marks taken before: {"error": error-log mark, "D": mark
    of D's kx log} (earlier tests' connections to D can have had the client port Chromium
    gets)."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"{CHROMIUM} not installed (Debian package chromium)")
    page = (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>kx</title></head>'
            f'<body><h1 id="t">kx page</h1>'
            f'<img src="https://localhost:{kx.X}/kx.txt?t=img" id="i"></body></html>').encode()
    kx.a.add_file("page.html", page)
    mark = {"error": kx.a.log_mark(), "D": kx.a.log_file_mark(f"kx-{kx.D}.log")}
    profile = tempfile.mkdtemp(prefix="modtls-chromium-")
    try:
        cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
               "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
               "--ignore-certificate-errors", f"--user-data-dir={profile}",
               "--host-resolver-rules=MAP localhost 127.0.0.1",
               "--dump-dom", f"https://localhost:{kx.D}/page.html?t=page"]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=90)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    assert p.returncode == 0, f"chromium rc={p.returncode}\n{p.stderr[-3000:]}"
    assert 'id="t">kx page</h1>' in p.stdout, f"page not loaded:\n{p.stdout}\n{p.stderr[-3000:]}"
    return mark


def test_chromium_gets_x25519mlkem768_by_default(chromium_load, kx):
    page = kx_line(kx.a, kx.D, "page")
    assert page[1:] == ["X25519MLKEM768", "TLSv1.3", "GET /page.html?t=page HTTP/1.1", "200"]
    # and any other request on that connection (favicon)
    assert {l[1] for l in kx_lines(kx.a, kx.D, since=chromium_load["D"])
            if l[0] == page[0]} == {"X25519MLKEM768"}


def test_chromium_gets_x25519_with_tlsgroups_x25519(chromium_load, kx):
    img = kx_line(kx.a, kx.X, "img")
    assert img[1:3] == ["x25519", "TLSv1.3"], img


def test_chromium_debug_lines_name_the_group(chromium_load, kx):
    page = kx_line(kx.a, kx.D, "page")
    img = kx_line(kx.a, kx.X, "img")
    # Chromium holds connections to D and to X open at once: they may share a client port.
    # (One line for the port: exactly the former check of that line.)
    lines = debug_lines(kx.a, int(page[0]), since=chromium_load["error"])
    assert any("key exchange X25519MLKEM768," in l for l in lines), lines
    lines = debug_lines(kx.a, int(img[0]), since=chromium_load["error"])
    assert any("key exchange x25519," in l for l in lines), lines


# ==== 2. TLSGroups ===============================================================================

def test_tlsgroups_secp384r1(kx, pki):
    """curl offers x25519 first (and a share for it): the host's only group is secp384r1."""
    mark = kx.a.log_mark()
    r, tok = curl_kx(kx.S384, pki)
    assert r.returncode == 0, r.stderr
    cport, group, proto, _, _ = kx_line(kx.a, kx.S384, tok)
    assert (group, proto) == ("secp384r1", "TLSv1.3")
    assert "key exchange secp384r1," in debug_line(kx.a, int(cport), since=mark)
    x = clients.exchange(kx.S384, ctx(pki, **TLS12), path="/kx.txt")
    assert (x.version, x.header("x-kx")) == ("TLSv1.2", "secp384r1")


def test_tlsgroups_no_common_group_handshake_failure(kx, pki):
    mark = kx.a.log_mark()
    out, _ = s_client_kx(kx.S384, pki, "x25519")
    assert_handshake_failure(out)
    kx.a.wait_for_log(r"\[tls:info\].*handshake", since=mark)
    lines = tls_lines(kx.a, mark)
    assert len(lines) == 1, lines
    assert "sent alert handshake_failure" in lines[0], lines
    assert re.search(r"NoKxGroupsInCommon|(?i:no key exchange group)", lines[0]), lines
    # not served, no request logged; the next client is served
    r, _ = curl_kx(kx.S384, pki)
    assert r.returncode == 0, r.stderr


def test_tlsgroups_is_case_insensitive(kx, pki):
    """`TLSGroups X25519`: x25519 only (secp256r1 is refused, so the directive took effect)."""
    r, tok = curl_kx(kx.UP, pki)
    assert r.returncode == 0, r.stderr
    assert kx_line(kx.a, kx.UP, tok)[1] == "x25519"
    out, _ = s_client_kx(kx.UP, pki, "secp256r1")
    assert_handshake_failure(out)


def test_tlsgroups_colon_separated(kx, pki):
    """`TLSGroups secp256r1:SECP384R1`: both groups, nothing else."""
    for group in ("secp256r1", "secp384r1"):
        out, tok = s_client_kx(kx.COLON, pki, group)
        assert_served(out)
        assert response_header(out, "x-kx") == group, out
        assert kx_line(kx.a, kx.COLON, tok)[1] == group
    out, _ = s_client_kx(kx.COLON, pki, "x25519")
    assert_handshake_failure(out)
    # curl: x25519 first in its offer, secp256r1 next
    r, tok = curl_kx(kx.COLON, pki)
    assert r.returncode == 0, r.stderr
    assert kx_line(kx.a, kx.COLON, tok)[1] == "secp256r1"


def test_tlsgroups_of_the_host_chosen_by_sni(kx, pki):
    """One address, a.test (secp384r1) and b.test (x25519): the SNI's host's list applies."""
    r, tok = curl_kx(kx.N, pki, host="a.test")
    assert r.returncode == 0, r.stderr
    assert kx_line(kx.a, kx.N, tok)[1] == "secp384r1"
    r, tok = curl_kx(kx.N, pki, host="b.test")
    assert r.returncode == 0, r.stderr
    assert kx_line(kx.a, kx.N, tok)[1] == "x25519"
    out, tok = s_client_kx(kx.N, pki, "secp384r1", sni="a.test")
    assert_served(out)
    assert response_header(out, "x-kx") == "secp384r1", out
    out, _ = s_client_kx(kx.N, pki, "secp384r1", sni="b.test")
    assert_handshake_failure(out)
    out, _ = s_client_kx(kx.N, pki, "x25519", sni="a.test")
    assert_handshake_failure(out)


def test_tlsgroups_server_scope_and_vhost_override(apache_factory, pki):
    """Main server `TLSGroups secp384r1`: a host without the directive uses it; a host with its
    own `TLSGroups x25519` uses that."""
    p1, p2 = apache.free_ports(2)
    cert = pki.leaves["p256"]
    body = (KX_FORMAT + "TLSGroups secp384r1\n"
            + apache.tls_site(p1, cert, extra=kx_vhost_extra(p1))
            + apache.tls_site(p2, cert, extra=kx_vhost_extra(p2, "x25519")))
    a = apache_factory(body, start=False, extra_modules=("headers",), name="kx-scope")
    add_content(a)
    a.start()
    r, tok = curl_kx(p1, pki)
    assert r.returncode == 0, r.stderr
    assert kx_line(a, p1, tok)[1] == "secp384r1"
    r, tok = curl_kx(p2, pki)
    assert r.returncode == 0, r.stderr
    assert kx_line(a, p2, tok)[1] == "x25519"
    out, _ = s_client_kx(p2, pki, "secp384r1")
    assert_handshake_failure(out)


@pytest.mark.parametrize("where", ["server", "vhost"])
def test_unknown_group_stops_startup(where, apache_factory, pki):
    port = apache.free_port()
    directive = "TLSGroups x25519 x448"
    if where == "server":
        body = directive + "\n" + apache.tls_site(port, pki.leaves["p256"])
    else:
        body = apache.tls_site(port, pki.leaves["p256"], extra=directive)
    a = apache_factory(body, start=False, name="kx-bad")
    res = a.start(check=False)
    text = res.combined
    assert res.returncode != 0 and not res.came_up, text
    assert not apache.is_listening(port), "listening after a failed start"
    assert "TLSGroups" in text and "'x448'" in text, text
    assert "X25519MLKEM768 x25519 secp256r1 secp384r1" in text, text
    assert apache.mentions_location(text, a.conf_path, a.line_of(directive)), text


def test_client_order_decides_among_the_allowed_groups(apache_factory, pki):
    """docs/directives.md: the first group of the client's list that TLSGroups allows is used
    (rustls 0.23's rule); a group the client offers without a key share costs a HelloRetryRequest.
    `TLSGroups secp256r1 x25519`: a ClientHello listing x25519 then secp256r1, with a share for
    each, gets x25519; one listing secp384r1 (not allowed) then secp256r1 gets secp256r1."""
    port = apache.free_port()
    apache_factory(apache.tls_site(port, pki.leaves["p256"], extra="TLSGroups secp256r1 x25519"),
                   name="kx-order")
    shares = [(CODEPOINT["x25519"], x25519_public()), (CODEPOINT["secp256r1"], p256_public())]
    sh = server_hello(exchange_raw(port, hello(shares, groups=[0x001D, 0x0017])))
    assert sh is not None and GROUP_OF.get(sh[0]) == "x25519", sh
    shares = [(CODEPOINT["secp256r1"], p256_public())]
    sh = server_hello(exchange_raw(port, hello(shares, groups=[0x0018, 0x0017])))
    assert sh is not None and GROUP_OF.get(sh[0]) == "secp256r1", sh


# ==== 3. SSL_KEY_EXCHANGE in expr, log, CGI environment ==========================================

def test_expr_header_and_log_agree_with_client(kx, pki):
    for curve, want in ((None, clients.default_kx_group()), ("secp384r1", "secp384r1")):
        c = ctx(pki, **TLS13)
        if curve:
            c.set_ecdh_curve(curve)
        tok = token()
        x = clients.exchange(kx.D, c, path=f"/kx.txt?t={tok}")
        assert x.version == "TLSv1.3"
        assert x.header("x-kx") == want
        assert kx_line(kx.a, kx.D, tok)[1] == want


def test_cgi_env_with_stdenvvars(kx, pki):
    c = ctx(pki, **TLS13)
    c.set_ecdh_curve("prime256v1")
    x = clients.exchange(kx.D, c, path=f"/cgi-bin/{ENV_CGI_STD}")
    assert x.response.status == 200, x.response.body
    env = json.loads(x.response.body)
    assert env.get("SSL_KEY_EXCHANGE") == "secp256r1", env
    assert env.get("SSL_VERSION_LIBRARY") == f"rustls/{rustls_version()}", env
    x = clients.exchange(kx.D, ctx(pki, **TLS13), path=f"/cgi-bin/{ENV_CGI_STD}")
    assert json.loads(x.response.body).get("SSL_KEY_EXCHANGE") == clients.default_kx_group()


def test_cgi_env_without_stdenvvars(kx, pki):
    x = clients.exchange(kx.D, ctx(pki, **TLS13), path=f"/cgi-bin/{ENV_CGI_PLAIN}")
    assert x.response.status == 200, x.response.body
    env = json.loads(x.response.body)
    assert env.get("HTTPS") == "on", "precondition: a TLS request's environment"
    assert "SSL_KEY_EXCHANGE" not in env, env
    assert "SSL_VERSION_LIBRARY" not in env, env


# ==== 5. server-status ===========================================================================

@pytest.fixture(scope="module")
def status(module_apache_factory, pki):
    """T: TLS (defaults, TLS 1.2 and 1.3). P: plain, serves /server-status?auto and proxies
    /pq/ to T with mod_tls as the client (a new backend connection per request), which offers
    X25519MLKEM768."""
    t, p = apache.free_ports(2)
    body = ("ExtendedStatus On\n"
            "<Location /server-status>\n    SetHandler server-status\n"
            "    Require all granted\n</Location>\n"
            + apache.tls_site(t, pki.leaves["p256"])
            + apache.plain_site(p, extra=f"TLSProxyEngine on\nTLSProxyCA {pki.root_ca}\n"
                                         f"ProxyPass /pq/ https://localhost:{t}/ "
                                         f"disablereuse=On"))
    a = module_apache_factory(body, start=False, extra_modules=("status", "proxy", "proxy_http"),
                              name="kx-status")
    a.add_file("index.html", b"status\n")
    a.start()
    return a, t, p


def read_auto(port: int) -> tuple[dict[str, int], list[str]]:
    r = clients.curl_plain(port, "/server-status?auto")
    assert r.wo("code") == ["200"], r.stderr
    kv = apache.status_counters(r.body.decode())
    keys = [k for k in kv if k.startswith("TLSKeyExchange_")]
    return {k: int(v) for k, v in kv.items() if k.startswith("TLS") and v.isdigit()}, keys


def test_status_key_exchange_counters(status, pki):
    a, t, p = status
    before, keys = read_auto(p)
    assert keys == [f"TLSKeyExchange_{g}" for g in GROUPS] + ["TLSKeyExchange_none"], keys
    k = 3
    for _ in range(k):
        r = clients.curl(t, "/", cacert=pki.root_ca)
        assert r.returncode == 0, r.stderr
    for g in ("secp256r1", "secp384r1"):
        out = clients.s_client(t, ["-ign_eof", "-groups", g], cafile=pki.root_ca,
                               input=b"GET / HTTP/1.1\r\nHost: localhost\r\n"
                                     b"Connection: close\r\n\r\n").stdout
        assert_served(out)
    for _ in range(2):   # mod_tls as the client: X25519MLKEM768
        r = clients.curl_plain(p, "/pq/index.html")
        assert r.wo("code") == ["200"], (r.stderr, a.error_log()[-2000:])
    c = ctx(pki, **TLS12)   # TLS 1.2: x25519, then a resumption without key exchange
    first = clients.exchange(t, c)
    again = clients.exchange(t, c, session=first.session)
    assert again.session_reused, "precondition: TLS 1.2 resumption"
    want = {"TLSKeyExchange_x25519": 1, "TLSKeyExchange_secp256r1": 1,
            "TLSKeyExchange_secp384r1": 1, "TLSKeyExchange_X25519MLKEM768": 2,
            "TLSKeyExchange_none": 1}
    want[f"TLSKeyExchange_{clients.default_kx_group()}"] += k   # curl's TLS 1.3 handshakes
    n = sum(want.values())
    deadline = time.monotonic() + 10
    while True:   # counting may lag the client by a moment
        after, _ = read_auto(p)
        if after["TLSHandshakesCompleted"] - before["TLSHandshakesCompleted"] >= n:
            break
        assert time.monotonic() < deadline, (before, after)
        time.sleep(0.1)
    got = {key: after[key] - before[key] for key in want}
    assert got == want, f"got {got}, want {want}"
    assert after["TLSHandshakesCompleted"] - before["TLSHandshakesCompleted"] == n
    assert sum(after[key] for key in keys) == after["TLSHandshakesCompleted"]


# ==== 6. malformed hybrid key shares (hand-built ClientHello) ====================================

ILLEGAL_PARAMETER_ALERT = bytes.fromhex("1503030002022f")

MALFORMED = {
    # every 12-bit coefficient 4095 >= q = 3329: fails FIPS 203's encapsulation key check
    "ek-coefficients-out-of-range": lambda: b"\xff" * 1184 + os.urandom(32),
    "one-byte-short": lambda: bytes(1184) + x25519_public()[:31],
    "one-byte-long": lambda: bytes(1184) + x25519_public() + b"\x00",
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_hybrid_share_gets_illegal_parameter(case, kx, pki):
    share = MALFORMED[case]()
    mark = kx.a.log_mark()
    x = exchange_raw(kx.D, hello([(0x11EC, share)]))
    cport = x.client_port
    # one record: alert (21), TLS 1.2 record version, length 2, fatal (2), illegal_parameter (47)
    assert x.records[:1] == [(0x15, 0x0303, b"\x02\x2f")], x.raw[:64].hex()
    assert x.raw == ILLEGAL_PARAMETER_ALERT, x.raw[:64].hex()
    kx.a.wait_for_log(rf"\[client 127\.0\.0\.1:{cport}\]", since=mark)
    ours = [l for l in kx.a.error_log(mark).splitlines()
            if f"127.0.0.1:{cport}]" in l and "[tls:" in l]
    assert len(ours) == 1, ours
    line = ours[0]
    assert "[tls:info]" in line, line
    assert re.search(r"key share is malformed", line), line
    assert "sent alert illegal_parameter" in line, line
    # the server keeps serving
    r, _ = curl_kx(kx.D, pki)
    assert r.returncode == 0 and r.body == b"kx\n", r.stderr


def test_wellformed_hybrid_share_gets_server_hello(kx):
    """Self-check of the builder: the same ClientHello with an encapsulation key whose
    coefficients are all 0 (< q: valid) and a real X25519 key gets a ServerHello with an
    X25519MLKEM768 share of 1120 bytes (ML-KEM-768 ciphertext + X25519)."""
    x = exchange_raw(kx.D, hello([(0x11EC, bytes(1184) + x25519_public())]))
    assert server_hello(x) == (0x11EC, 1120), x.raw[:64].hex()
    x = exchange_raw(kx.D, hello([(0x001D, x25519_public())]))
    assert server_hello(x) == (0x001D, 32), x.raw[:64].hex()


# ==== 8. mod_tls as the proxy client =============================================================

PROXY_MODULES = ("proxy", "proxy_http")


@pytest.fixture(scope="module")
def proxied(module_apache_factory, kx, pki):
    """F: frontend with TLSProxyEngine (tls:debug); /tls/ -> kx's D (mod_tls), /ssl/ -> a
    mod_ssl backend (Debian's OpenSSL 3.0)."""
    f, s = apache.free_ports(2)
    ssl_be = module_apache_factory(apache.mod_ssl_site(s, pki.leaves["p256"]), start=False,
                                   tls_module=False, extra_modules=apache.MOD_SSL_MODULES,
                                   name="kx-modssl")
    ssl_be.add_file("kx.txt", b"kx from mod_ssl\n")
    ssl_be.start()
    fe = module_apache_factory(
        apache.plain_site(f, extra=f"TLSProxyEngine on\nTLSProxyCA {pki.root_ca}\n"
                                   f"ProxyPass /tls/ https://localhost:{kx.D}/\n"
                                   f"ProxyPass /ssl/ https://localhost:{s}/"),
        extra_modules=PROXY_MODULES, log_level="info tls:debug", name="kx-frontend")
    return fe, f, s


def test_proxy_to_mod_tls_backend_negotiates_hybrid(proxied, kx):
    fe, f, _ = proxied
    mark = fe.log_mark()
    tok = token()
    r = clients.curl_plain(f, f"/tls/kx.txt?t={tok}")
    assert r.wo("code") == ["200"] and r.body == b"kx\n", (r.stderr, fe.error_log(mark))
    assert kx_line(kx.a, kx.D, tok)[1:3] == ["X25519MLKEM768", "TLSv1.3"]
    line = fe.wait_for_log(rf"TLS handshake with backend localhost \(127\.0\.0\.1:{kx.D}\) "
                           rf"completed", since=mark)
    assert re.search(r"completed: TLSv1\.3, TLS_\w+, key exchange X25519MLKEM768, ALPN ",
                     line), line


def test_proxy_to_mod_ssl_backend_negotiates_x25519(proxied):
    fe, f, s = proxied
    mark = fe.log_mark()
    r = clients.curl_plain(f, "/ssl/kx.txt")
    assert r.wo("code") == ["200"] and r.body == b"kx from mod_ssl\n", (r.stderr,
                                                                      fe.error_log(mark))
    line = fe.wait_for_log(rf"TLS handshake with backend localhost \(127\.0\.0\.1:{s}\) "
                           rf"completed", since=mark)
    # mod_ssl on OpenSSL 3.0 has no ML-KEM; on 3.5 it takes the hybrid the backend client offers.
    want = clients.default_kx_group()
    assert re.search(rf"completed: TLSv1\.3, TLS_\w+, key exchange {want}, ALPN ", line), line
