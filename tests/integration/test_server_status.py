"""server-status: the TLS section and its counters (issue 4, item 5).

mod_status loaded, ExtendedStatus On. The counters are read from `?auto` on a plain port (so
reading them is not itself a TLS handshake — except in the one test that checks exactly that),
a known set of good and bad handshakes is made, the counters are read again and the deltas must
be exact. The server runs two worker processes (StartServers 2, ServerLimit 2, few threads each)
and the test makes sure both served handshakes, so the counters must be shared across processes.

?auto keys: TLSHandshakesCompleted, TLSHandshakesFailed, TLSHandshakesResumed,
TLSFailure_<reason>, TLSProtocol_<TLSv1.2|TLSv1.3>, TLSCipher_<IANA name>, TLSALPN_<h2|
http/1.1|none>.
"""
from __future__ import annotations

import collections
import concurrent.futures
import random
import re
import socket
import ssl
import subprocess
import time

import pytest

import apache
import clients

TLS12 = {"max_version": ssl.TLSVersion.TLSv1_2}
TLS13 = {"min_version": ssl.TLSVersion.TLSv1_3}

ALWAYS_KEYS = ("TLSHandshakesCompleted", "TLSHandshakesFailed", "TLSHandshakesResumed")

MPM = """\
StartServers 2
ServerLimit 2
ThreadsPerChild 4
MaxRequestWorkers 8
MinSpareThreads 4
MaxSpareThreads 8
"""


def _status_server(factory, pki, mpm: str, extra: str = ""):
    """T: P-256, Protocols h2 http/1.1 (strict SNI, default); U: TLSProtocol TLSv1.3+;
    P: plain, serves /server-status."""
    t, u, p = apache.free_ports(3)
    body = (mpm + extra
            + "<Location /server-status>\n    SetHandler server-status\n"
            + "    Require all granted\n</Location>\n"
            + apache.tls_site(t, pki.leaves["p256"], extra="Protocols h2 http/1.1")
            + apache.tls_site(u, pki.leaves["p256"], protocol="TLSv1.3+")
            + apache.plain_site(p))
    a = factory(body, start=False, extra_modules=("status", "http2"))
    a.add_file("index.html", b"status test\n")
    a.start()
    return a, t, u, p


@pytest.fixture(scope="module")
def status(module_apache_factory, pki):
    return _status_server(module_apache_factory, pki, MPM,
                          "ExtendedStatus On\n"
                          'CustomLog "logs/pid.log" "%P %{local}p %{remote}p"\n')


def read_auto(port: int) -> dict[str, int]:
    r = clients.curl_plain(port, "/server-status?auto")
    assert r.wo("code") == ["200"], r.stderr
    text = r.body.decode()
    kv = apache.status_counters(text)
    tls = {k: v for k, v in kv.items() if k.startswith("TLS")}
    for k in ALWAYS_KEYS:
        assert k in tls, f"{k} missing from ?auto:\n{text}"
    out = {}
    for k, v in tls.items():
        assert re.fullmatch(r"\d+", v), f"{k}: {v!r} is not a count"
        out[k] = int(v)
    return out


def delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    keys = set(before) | set(after)
    d = {k: after.get(k, 0) - before.get(k, 0) for k in keys}
    return {k: v for k, v in d.items() if v}


def read_settled(port: int, before: dict, want_completed: int, want_failed: int,
                 timeout: float = 10.0) -> dict[str, int]:
    """Read ?auto until the totals reached what was done (counting may lag the client by a
    moment), then once more after a pause (nothing more may arrive)."""
    deadline = time.monotonic() + timeout
    while True:
        now = read_auto(port)
        d = delta(before, now)
        if (d.get("TLSHandshakesCompleted", 0) >= want_completed
                and d.get("TLSHandshakesFailed", 0) >= want_failed):
            break
        if time.monotonic() > deadline:
            break
        time.sleep(0.1)
    time.sleep(0.5)
    return read_auto(port)


# -- good handshakes (curl, so that every one is also a logged request) ------------------------------

# (TLS version, ALPN offer, suite)
GOOD = [
    ("1.3", "h2", "TLS_AES_128_GCM_SHA256"),
    ("1.3", "h2", "TLS_AES_256_GCM_SHA384"),
    ("1.3", "h2", "TLS_CHACHA20_POLY1305_SHA256"),
    ("1.3", "http/1.1", "TLS_AES_128_GCM_SHA256"),
    ("1.3", "http/1.1", "TLS_AES_256_GCM_SHA384"),
    ("1.3", None, "TLS_AES_256_GCM_SHA384"),
    ("1.3", None, "TLS_CHACHA20_POLY1305_SHA256"),
    ("1.2", "h2", "ECDHE-ECDSA-AES128-GCM-SHA256"),
    ("1.2", "http/1.1", "ECDHE-ECDSA-AES256-GCM-SHA384"),
    ("1.2", None, "ECDHE-ECDSA-CHACHA20-POLY1305"),
]


def good_handshake(port: int, pki, version: str, alpn: str | None, suite: str) -> None:
    args = ["--http2"] if alpn == "h2" else ["--http1.1"]
    if alpn is None:
        args.append("--no-alpn")
    if version == "1.3":
        args += ["--tlsv1.3", "--tls13-ciphers", suite]
    else:
        args += ["--tlsv1.2", "--tls-max", "1.2", "--ciphers", suite]
    cmd = ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code} %{http_version}",
           "--cacert", str(pki.root_ca), "--resolve", f"localhost:{port}:127.0.0.1",
           *args, f"https://localhost:{port}/"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, (cmd, p.stderr)
    assert p.stdout == ("200 2" if alpn == "h2" else "200 1.1"), (cmd, p.stdout)


def expected_good(cases) -> dict[str, int]:
    exp = collections.Counter()
    for version, alpn, suite in cases:
        exp["TLSHandshakesCompleted"] += 1
        exp[f"TLSProtocol_TLSv{version}"] += 1
        exp[f"TLSCipher_{clients.iana_cipher(suite)}"] += 1
        exp[f"TLSALPN_{alpn or 'none'}"] += 1
        exp[f"TLSKeyExchange_{clients.default_kx_group(version)}"] += 1
    return dict(exp)


def pids_serving(a: apache.Apache, port: int) -> set[str]:
    try:
        lines = (a.root / "logs" / "pid.log").read_text().splitlines()
    except FileNotFoundError:
        return set()
    return {l.split()[0] for l in lines if l.split()[1] == str(port)}


# -- bad handshakes --------------------------------------------------------------------------------------

def bad_plain_http(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        clients.read_until_closed(s)


def bad_unknown_sni(port: int) -> None:
    with pytest.raises(ssl.SSLError, match="(?i)unrecognized.name"):
        clients.tls_open(port, clients.context(verify=False), "unknown.example").close()


def bad_garbage(port: int) -> None:
    data = bytearray(random.Random(7).randbytes(1024))
    data[0] = 0x00
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(bytes(data))
        clients.read_until_closed(s)


def bad_eof(port: int) -> None:
    """Half a ClientHello (with SNI localhost), then the client closes."""
    hello = clients.client_hello()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(hello[:60])
        s.shutdown(socket.SHUT_WR)
        clients.read_until_closed(s)


def bad_protocol_version(port_13_only: int) -> None:
    with pytest.raises(ssl.SSLError, match="(?i)protocol.version|unsupported.protocol"):
        clients.tls_open(port_13_only, clients.context(verify=False, **TLS12),
                         "localhost").close()


def bad_no_alpn(port: int) -> None:
    c = clients.context(verify=False)
    c.set_alpn_protocols(["foo/1"])
    with pytest.raises(ssl.SSLError, match="(?i)no.application.protocol"):
        clients.tls_open(port, c, "localhost").close()


# -- tests ------------------------------------------------------------------------------------------------

def test_status_html_has_tls_section(status):
    a, t, u, p = status
    r = clients.curl_plain(p, "/server-status")
    assert r.wo("code") == ["200"]
    html = r.body.decode()
    rest = "\n".join(l for l in html.splitlines() if "Server Version" not in l)
    assert "mod_tls" in rest, html
    assert re.search(r"handshake", rest, re.I), html


def test_auto_has_tls_lines(status, pki):
    a, t, u, p = status
    good_handshake(t, pki, "1.3", "http/1.1", "TLS_AES_128_GCM_SHA256")
    c = read_settled(p, {}, 1, 0)
    for k in ("TLSProtocol_TLSv1.3", "TLSCipher_TLS_AES_128_GCM_SHA256", "TLSALPN_http/1.1"):
        assert k in c, sorted(c)
    assert c["TLSHandshakesCompleted"] >= 1


def test_exact_deltas_two_processes(status, pki):
    """Known good handshakes (7 TLS 1.3 + 3 TLS 1.2, h2/http/1.1/no ALPN, various suites) and
    bad ones (2 plain HTTP, 1 unknown SNI, 1 garbage (decode_error), 1 EOF, 1 protocol_version,
    1 no_application_protocol): exact deltas, with both worker processes serving."""
    a, t, u, p = status
    before = read_auto(p)
    done = []
    rounds = 0
    # repeat the good set (concurrently) until both worker processes served some of it
    while True:
        rounds += 1
        with concurrent.futures.ThreadPoolExecutor(len(GOOD)) as ex:
            list(ex.map(lambda c: good_handshake(t, pki, *c), GOOD))
        done += GOOD
        time.sleep(0.2)
        if len(pids_serving(a, t)) >= 2 or rounds >= 6:
            break
    assert len(pids_serving(a, t)) >= 2, "precondition: both worker processes served TLS"

    bad_plain_http(t)
    bad_plain_http(t)
    bad_unknown_sni(t)
    bad_garbage(t)
    bad_eof(t)
    bad_protocol_version(u)
    bad_no_alpn(t)
    n_bad = 7

    want = expected_good(done)
    after = read_settled(p, before, want["TLSHandshakesCompleted"], n_bad)
    d = delta(before, after)

    failures = {k: v for k, v in d.items() if k.startswith("TLSFailure_")}
    got_good = {k: v for k, v in d.items()
                if not k.startswith("TLSFailure_") and k != "TLSHandshakesFailed"}
    assert got_good == want, f"good handshakes: got {got_good}, want {want}"
    assert d.get("TLSHandshakesFailed", 0) == n_bad, d
    assert sum(failures.values()) == n_bad, failures
    assert failures.get("TLSFailure_plain_http") == 2, failures
    assert failures.get("TLSFailure_unrecognized_name") == 1, failures
    assert failures.get("TLSFailure_eof") == 1, failures
    assert failures.get("TLSFailure_protocol_version") == 1, failures
    assert failures.get("TLSFailure_no_application_protocol") == 1, failures
    # the garbage client: refused with the decode_error alert
    assert failures.get("TLSFailure_decode_error") == 1, failures
    for k in failures:
        assert re.fullmatch(r"TLSFailure_[a-z0-9_]+", k), k


@pytest.mark.parametrize("version", ["TLSv1.2", "TLSv1.3"])
def test_resumed_counter(version, status, pki):
    """TLSHandshakesResumed moves by the number of connections the client saw resumed; with the
    default session cache (shmcb) shared by both worker processes, every reconnect resumes."""
    a, t, u, p = status
    before = read_auto(p)
    c = clients.context(pki.root_ca, **(TLS12 if version == "TLSv1.2" else TLS13))
    x = clients.exchange(t, c)
    session, reused, n = x.session, 0, 1
    versions = collections.Counter([x.version])
    ciphers = collections.Counter([x.cipher])
    for _ in range(16):
        x = clients.exchange(t, c, session=session)
        n += 1
        reused += x.session_reused
        versions[x.version] += 1
        ciphers[x.cipher] += 1
        session = x.session or session
    after = read_settled(p, before, n, 0)
    d = delta(before, after)
    assert d.get("TLSHandshakesCompleted") == n, d
    assert d.get("TLSHandshakesResumed", 0) == reused, (d, reused)
    assert d.get(f"TLSProtocol_{version}") == n, d
    assert d.get("TLSALPN_none") == n, d
    for name, k in ciphers.items():
        assert d.get(f"TLSCipher_{name}") == k, d
    assert reused == n - 1, f"only {reused} of {n - 1} reconnects resumed"


def test_status_request_over_tls_counts_itself(status, pki):
    """Reading the status over TLS is a handshake too: two TLS reads in a row differ by exactly
    one completed handshake (the second read's own)."""
    a, t, u, p = status

    def tls_auto():
        x = clients.exchange(t, clients.context(pki.root_ca, **TLS13),
                             path="/server-status?auto")
        assert x.response.status == 200
        return {k: int(v) for k, v in apache.status_counters(x.response.body.decode()).items()
                if k.startswith("TLS") and re.fullmatch(r"\d+", v)}, x

    time.sleep(0.5)
    first, _ = tls_auto()
    second, x = tls_auto()
    d = delta(first, second)
    assert d == {"TLSHandshakesCompleted": 1, "TLSProtocol_TLSv1.3": 1,
                 f"TLSCipher_{x.cipher}": 1, "TLSALPN_none": 1,
                 f"TLSKeyExchange_{clients.default_kx_group()}": 1}, d
