"""Log lines of the TLS module (issue 4, item 6).

Handshake failures: at `info`, exactly one `[tls:info]` line per failed connection, naming the
client's address:port, the SNI (`SNI: a.test`, or `SNI: none` when the ClientHello had none or
was never read) and the reason. Completed handshakes: at `LogLevel tls:debug`, one line each with
the protocol, the cipher suite (IANA name), `ALPN <protocol or ->`, `SNI <name or ->` and
`resumed yes` / `resumed no`.
"""
from __future__ import annotations

import random
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
NAME = "a.log.test"


def cred(pki):
    return pki_mod.issue_leaf(pki, "log-a", [NAME])


def body(pki, t: int, u: int) -> str:
    """T: one name-based host (strict SNI), Protocols h2 http/1.1; U: the same, TLS 1.3 only."""
    c = cred(pki)
    return (apache.tls_address(t)
            + apache.name_vhost(t, NAME, c, extra="Protocols h2 http/1.1")
            + apache.tls_address(u)
            + apache.name_vhost(u, NAME, c, extra="TLSProtocol TLSv1.3+"))


@pytest.fixture(scope="module")
def info_server(module_apache_factory, pki):
    t, u = apache.free_ports(2)
    a = module_apache_factory(body(pki, t, u), start=False, log_level="info",
                              extra_modules=("http2",))
    a.add_file("index.html", b"log test\n")
    a.start()
    return a, t, u


@pytest.fixture(scope="module")
def debug_server(module_apache_factory, pki):
    t, u = apache.free_ports(2)
    # Sessions live in the default shmcb TLSSessionCache, shared by all worker processes.
    a = module_apache_factory(body(pki, t, u), start=False,
                              log_level="info tls:debug",
                              extra_modules=("http2", "socache_shmcb"))
    a.add_file("index.html", b"log test\n")
    a.start()
    return a, t, u


def tls_lines(a: apache.Apache, cport: int, since: int) -> list[str]:
    tag = f"[client 127.0.0.1:{cport}]"
    return [l for l in a.error_log(since).splitlines() if tag in l and "[tls:" in l]


# -- failures at info ----------------------------------------------------------------------------

def fail_plain_http(t, u) -> int:
    with socket.create_connection(("127.0.0.1", t), timeout=10) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        cport = s.getsockname()[1]
        clients.read_until_closed(s)
    return cport


def fail_garbage(t, u) -> int:
    data = bytearray(random.Random(3).randbytes(1024))
    data[0] = 0x00
    with socket.create_connection(("127.0.0.1", t), timeout=10) as s:
        cport = s.getsockname()[1]
        s.sendall(bytes(data))
        clients.read_until_closed(s)
    return cport


def _refused(port, ctx, sni) -> int:
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    cport = raw.getsockname()[1]
    try:
        with pytest.raises(ssl.SSLError):
            ctx.wrap_socket(raw, server_hostname=sni)
    finally:
        raw.close()
    return cport


def fail_unknown_sni(t, u) -> int:
    return _refused(t, clients.context(verify=False), "nope.log.test")


def fail_protocol_version(t, u) -> int:
    return _refused(u, clients.context(verify=False, **TLS12), NAME)


def fail_no_alpn(t, u) -> int:
    c = clients.context(verify=False)
    c.set_alpn_protocols(["foo/1"])
    return _refused(t, c, NAME)


def fail_eof_mid_handshake(t, u) -> int:
    """A full ClientHello with SNI, the server answers, the client closes."""
    with socket.create_connection(("127.0.0.1", t), timeout=10) as s:
        cport = s.getsockname()[1]
        s.sendall(clients.client_hello(server_hostname=NAME, **TLS13))
        first = s.recv(5)
        assert first[:1] == b"\x16", first
        s.shutdown(socket.SHUT_WR)
        clients.read_until_closed(s)
    return cport


# case: (client, SNI shown, reason regex)
FAILURES = {
    "plain-http": (fail_plain_http, "none", r"plain[ _]HTTP"),
    "garbage": (fail_garbage, "none", r"decode_error"),
    "unknown-sni": (fail_unknown_sni, "nope.log.test", r"unrecognized_name"),
    "protocol-version": (fail_protocol_version, NAME, r"protocol_version"),
    "no-alpn": (fail_no_alpn, NAME, r"no_application_protocol"),
    "eof": (fail_eof_mid_handshake, NAME, r"\beof\b|EOF|closed"),
}


@pytest.mark.parametrize("case", list(FAILURES))
def test_failure_logged_once_at_info(case, info_server):
    a, t, u = info_server
    client, sni, reason = FAILURES[case]
    mark = a.log_mark()
    cport = client(t, u)
    a.wait_for_log(re.escape(f"[client 127.0.0.1:{cport}]"), since=mark)
    time.sleep(0.3)
    lines = tls_lines(a, cport, mark)
    assert len(lines) == 1, f"want one [tls:*] line for client port {cport}:\n" + \
        "\n".join(lines)
    line = lines[0]
    assert "[tls:info]" in line, line
    assert f"127.0.0.1:{cport}" in line
    assert f"SNI: {sni}" in line, line
    assert re.search(reason, line), line


def test_no_line_for_good_handshake_at_info(info_server, pki):
    """At info, a completed handshake logs nothing from the module (one line per *failure*)."""
    a, t, u = info_server
    mark = a.log_mark()
    x = clients.exchange(t, clients.context(pki.root_ca), sni=NAME)
    assert x.response.status == 200
    time.sleep(0.3)
    assert tls_lines(a, x.client_port, mark) == []


# -- completed handshakes at tls:debug -------------------------------------------------------------

def handshake_lines(a, cport, since) -> list[str]:
    return [l for l in tls_lines(a, cport, since) if re.search(r"\bresumed (yes|no)\b", l)]


def wait_handshake_line(a, cport, since, timeout=5.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        lines = handshake_lines(a, cport, since)
        if lines or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    time.sleep(0.2)
    lines = handshake_lines(a, cport, since)
    assert len(lines) == 1, (f"want one completed-handshake line ('resumed yes|no') for client "
                             f"port {cport}:\n" + "\n".join(tls_lines(a, cport, since)))
    assert "[tls:debug]" in lines[0], lines[0]
    return lines[0]


def assert_fields(line, version, cipher, alpn, sni, resumed) -> None:
    assert re.search(rf"\b{re.escape(version)}\b", line), (version, line)
    assert re.search(rf"\b{re.escape(cipher)}\b", line), (cipher, line)
    assert re.search(rf"\bALPN {re.escape(alpn)}(?=[\s,;)]|$)", line), (alpn, line)
    assert re.search(rf"\bSNI {re.escape(sni)}(?=[\s,;)]|$)", line), (sni, line)
    assert re.search(rf"\bresumed {resumed}\b", line), (resumed, line)


@pytest.mark.parametrize("version", ["TLSv1.2", "TLSv1.3"])
def test_debug_line_python_no_alpn(version, debug_server, pki):
    a, t, u = debug_server
    mark = a.log_mark()
    x = clients.exchange(t, clients.context(pki.root_ca, **(TLS12 if version == "TLSv1.2"
                                                            else TLS13)), sni=NAME)
    line = wait_handshake_line(a, x.client_port, mark)
    assert_fields(line, x.version, x.cipher, "-", NAME, "no")


def test_debug_line_h2(debug_server, pki):
    a, t, u = debug_server
    mark = a.log_mark()
    lport = apache.free_port()
    p = subprocess.run(["curl", "-sS", "--http2", "--tlsv1.3", "--tls13-ciphers",
                        "TLS_CHACHA20_POLY1305_SHA256", "--local-port", str(lport), "-o",
                        "/dev/null", "-w", "%{http_version}", "--cacert", str(pki.root_ca),
                        "--resolve", f"{NAME}:{t}:127.0.0.1", f"https://{NAME}:{t}/"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0 and p.stdout == "2", (p.stdout, p.stderr)
    line = wait_handshake_line(a, lport, mark)
    assert_fields(line, "TLSv1.3", "TLS_CHACHA20_POLY1305_SHA256", "h2", NAME, "no")


def test_debug_line_http11_alpn(debug_server, pki):
    a, t, u = debug_server
    mark = a.log_mark()
    c = clients.context(pki.root_ca, **TLS12)
    c.set_alpn_protocols(["http/1.1"])
    x = clients.exchange(t, c, sni=NAME)
    assert x.alpn == "http/1.1"
    line = wait_handshake_line(a, x.client_port, mark)
    assert_fields(line, "TLSv1.2", x.cipher, "http/1.1", NAME, "no")


def test_debug_line_no_sni(debug_server, pki):
    a, t, u = debug_server
    mark = a.log_mark()
    x = clients.exchange(t, clients.context(verify=False), sni=None, host=NAME)
    line = wait_handshake_line(a, x.client_port, mark)
    assert_fields(line, x.version, x.cipher, "-", "-", "no")


@pytest.mark.parametrize("version", ["TLSv1.2", "TLSv1.3"])
def test_debug_line_resumed(version, debug_server, pki):
    """`resumed yes` exactly on the connections the client saw resumed, `resumed no` on the
    others."""
    a, t, u = debug_server
    c = clients.context(pki.root_ca, **(TLS12 if version == "TLSv1.2" else TLS13))
    first = clients.exchange(t, c, sni=NAME)
    session = first.session
    seen = []
    for _ in range(10):
        mark = a.log_mark()
        x = clients.exchange(t, c, sni=NAME, session=session)
        line = wait_handshake_line(a, x.client_port, mark)
        assert_fields(line, version, x.cipher, "-", NAME, "yes" if x.session_reused else "no")
        seen.append(x.session_reused)
        session = x.session or session
        if x.session_reused:
            break
    assert seen == [True], f"the first reconnect did not resume: {seen}"
