"""Hostile clients while a legitimate client keeps requesting (issue #10): every legitimate
request must succeed, the hostile connection must be closed (cleanly, bounded in time), and
Apache's worker processes must stay the same (no crash, no restart).

The server: mod_reqtimeout's `RequestReadTimeout handshake=5` bounds the TLS handshake (the
module's handshake reads go through mod_reqtimeout's filter, below the TLS filter: README
"Handshake timeout"). The event MPM runs a TLS handshake on a worker thread, as mod_ssl does, so a
half-open handshake holds a thread until it times out: this server has 2 x 1200 threads so that
2,000 half-open handshakes still leave threads for the legitimate client (with the default 100
they would queue behind each other for the handshake timeout). No process is recycled:
StartServers = ServerLimit and MaxSpareThreads = MaxRequestWorkers.
"""
from __future__ import annotations

import os
import random
import socket
import ssl
import subprocess
import threading
import time

import pytest

import apache
import clients
import hostile

BODY = b"legitimate client\n"
HANDSHAKE_TIMEOUT = 5
LIMITS = f"""
ServerLimit 2
StartServers 2
ThreadLimit 1200
ThreadsPerChild 1200
MaxRequestWorkers 2400
MinSpareThreads 50
MaxSpareThreads 2400
ListenBacklog 4096
RequestReadTimeout handshake={HANDSHAKE_TIMEOUT} header=10 body=10
"""


@pytest.fixture(scope="module")
def server(module_apache_factory, pki):
    port = apache.free_port()
    a = module_apache_factory(LIMITS + apache.tls_site(port, pki.leaves["p256"]),
                              extra_modules=("reqtimeout",), log_level="info")
    a.add_file("index.html", BODY)
    # Both worker children (StartServers 2) and mod_cgid's daemon up before the first pid
    # snapshot, and the set stable for a second.
    deadline = time.monotonic() + 60
    stable_since, last = time.monotonic(), set()
    while time.monotonic() < deadline:
        now = hostile.child_pids(a.pid)
        if now != last:
            stable_since, last = time.monotonic(), now
        elif len(now) >= 3 and time.monotonic() - stable_since > 1.0:
            break
        time.sleep(0.1)
    assert len(last) >= 3, f"Apache's children did not all start: {last}"
    return a, port


@pytest.fixture
def legit(server, pki):
    """The legitimate client runs for the whole test; afterwards: every request succeeded and
    Apache's children are the ones from before."""
    a, port = server
    before = hostile.child_pids(a.pid)
    assert before, "no Apache children found"
    with hostile.LegitClient(port, pki.root_ca, BODY) as client:
        client.wait_for_successes(3, timeout=60)
        yield client
        client.wait_for_successes(3, timeout=60)
    client.assert_all_succeeded(at_least=6)
    assert hostile.child_pids(a.pid) == before, "Apache's worker processes changed"
    assert not a.crash_lines(), a.crash_lines()


def expect_closed(s: socket.socket, timeout: float) -> bytes:
    """Everything the server sends until it closes the connection; fails if it stays open."""
    s.settimeout(timeout)
    data = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            chunk = s.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            return data
        except socket.timeout:
            break
        if not chunk:
            return data
        data += chunk
    pytest.fail(f"the server kept the connection open for {timeout}s ({len(data)} bytes)")


# ---------------------------------------------------------------------------------------------

def test_slow_handshake_is_cut_off(server, legit):
    """A ClientHello at one byte per second: the handshake timeout closes the connection long
    before the ClientHello is complete."""
    a, port = server
    mark = a.log_mark()
    hello = clients.client_hello()
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    sent = 0
    closed = False
    deadline = time.monotonic() + 4 * HANDSHAKE_TIMEOUT + 10
    try:
        while sent < len(hello) and time.monotonic() < deadline:
            try:
                s.sendall(hello[sent:sent + 1])
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            sent += 1
            s.settimeout(1.0)
            try:
                if s.recv(4096) == b"":
                    closed = True
                    break
            except socket.timeout:
                pass
            except ConnectionResetError:
                closed = True
                break
    finally:
        s.close()
    assert closed, f"a slow-loris handshake was still open after {sent} bytes"
    assert sent < len(hello), "the whole ClientHello went through at a byte per second"
    # mod_reqtimeout's filter answered the module's read with APR_TIMEUP
    a.wait_for_log(r"\[tls:info\].*TLS handshake failed: timed out waiting for the client",
                   since=mark, timeout=10)


def test_2000_half_open_handshakes(server, legit):
    """2,000 connections that send half a ClientHello and wait: the legitimate client is served
    meanwhile; the server drops them at the handshake timeout."""
    a, port = server
    hello = clients.client_hello()
    socks = []
    try:
        for _ in range(2000):
            s = socket.create_connection(("127.0.0.1", port), timeout=30)
            s.sendall(hello[:len(hello) // 2])
            socks.append(s)
        legit.wait_for_successes(5, timeout=60)
        # The handshake timeout ends them (a bounded wait: each must be closed by the server).
        s = socks[0]
        expect_closed(s, 6 * HANDSHAKE_TIMEOUT + 30)
    finally:
        for s in socks:
            s.close()


def _garbage(port: int, seed: int, errors: list) -> None:
    rnd = random.Random(seed)
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=30)
        try:
            s.sendall(rnd.randbytes(rnd.randint(1, 64 * 1024)))
        except (BrokenPipeError, ConnectionResetError):
            pass
        expect_closed(s, 30)
        s.close()
    except BaseException as e:  # noqa: BLE001 - reported by the test
        errors.append(repr(e))


def test_random_garbage_from_100_connections(server, legit):
    a, port = server
    errors: list = []
    threads = [threading.Thread(target=_garbage, args=(port, i, errors)) for i in range(100)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors[:5]


MALFORMED = {
    # a record longer than TLS allows (2^14 + 2048 for ciphertext)
    "oversized-record": lambda hello: hostile.record(22, b"\x01" + os.urandom(40000)),
    # the record header claims 65535 bytes, then the client stops sending
    "length-lie": lambda hello: b"\x16\x03\x01\xff\xff" + hello[5:200],
    "unknown-content-type": lambda hello: hostile.record(0x99, hello[5:]),
    "application-data-first": lambda hello: hostile.record(23, os.urandom(200)),
    "alert-first": lambda hello: hostile.record(21, b"\x02\x28"),
    "bad-record-version": lambda hello: b"\x16\x7f\x7f" + hello[3:],
    "empty-handshake-records": lambda hello: hostile.record(22, b"") * 50000,
    "handshake-length-mismatch": lambda hello: hostile.record(
        22, b"\x01\x00\x00\x05" + hello[9:60]),
    "truncated-extensions": lambda hello: hostile.record(
        22, hello[5:9] + hello[9:len(hello) - 30]),
    "sslv2-hello": lambda hello: b"\x80\x2e\x01\x00\x02\x00\x15" + os.urandom(44),
    "change-cipher-spec-first": lambda hello: hostile.record(20, b"\x01") + hello,
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_records(server, legit, case):
    a, port = server
    data = MALFORMED[case](clients.client_hello())
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    try:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        reply = expect_closed(s, 4 * HANDSHAKE_TIMEOUT + 10)
    finally:
        s.close()
    # if the server said anything, it was an alert record, not a ServerHello
    assert reply[:1] in (b"", b"\x15"), reply[:16]


def test_64k_client_hello(server, legit):
    """A ClientHello of about 64 KiB over four records (an unknown extension, which servers
    must ignore, makes it big): rustls accepts handshake messages up to 64 KiB, so the server
    answers with its ServerHello; the client then hangs up and the server closes cleanly."""
    a, port = server
    records = hostile.big_client_hello(64 * 1024 - 100)
    assert sum(len(r) for r in records) > 60000
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    try:
        for r in records:
            s.sendall(r)
        s.settimeout(30)
        first = b""
        while len(first) < 6:
            chunk = s.recv(6 - len(first))
            assert chunk, f"closed after {first!r}"
            first += chunk
        assert first[:1] == b"\x16" and first[5:6] == b"\x02", f"no ServerHello: {first!r}"
        s.shutdown(socket.SHUT_WR)
        expect_closed(s, 30)
    finally:
        s.close()


def test_tls12_renegotiation_is_refused(server, legit, pki):
    """openssl s_client's `R` asks for a renegotiation inside an established TLS 1.2 session:
    refused with the no_renegotiation alert, and the connection ends without a second
    handshake; a request on the same kind of connection without `R` works (control)."""
    a, port = server
    request = b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    control = clients.s_client(port, ["-tls1_2", "-ign_eof"], input=request, cafile=pki.root_ca,
                               timeout=30)
    assert "200 OK" in control.stdout, control.stdout[-2000:]
    mark = a.log_mark()
    p = subprocess.Popen([clients.OPENSSL, "s_client", "-connect", f"127.0.0.1:{port}",
                          "-servername", clients.HOST, "-tls1_2", "-CAfile", str(pki.root_ca)],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        time.sleep(1.5)  # the handshake completes; then ask for a renegotiation
        p.stdin.write(b"R\n")
        p.stdin.flush()
        time.sleep(1.5)
        try:
            p.stdin.write(request)
            p.stdin.flush()
        except BrokenPipeError:
            pass
        out, _ = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    text = out.decode("utf-8", "replace")
    assert "RENEGOTIATING" in text, text[-2000:]
    # the server answered the new ClientHello with the no_renegotiation alert (OpenSSL: "no
    # renegotiation"), the client gave up on the connection
    assert "no renegotiation" in text, text[-2000:]
    assert "200 OK" not in text, "the request after the renegotiation attempt was served"
    assert p.returncode is not None
    a.wait_for_log(r"\[tls:info\].*(connection error|handshake failed)", since=mark, timeout=10)


def _reset_at(port: int, ctx: ssl.SSLContext, stage: int) -> None:
    """Runs a handshake with an in-memory client and resets the TCP connection at `stage`:
    0 after connect, 1 mid-ClientHello, 2 after the ClientHello, 3 after part of the server's
    flight, 4 after the server's whole flight, 5 after the client's Finished, 6 mid-request."""
    c = hostile.MemoryClient(port, ctx)
    try:
        if stage == 0:
            return
        c.step()
        if stage == 1:
            c.flush(limit=40)
            return
        c.flush()
        if stage == 2:
            return
        if stage == 3:
            c.sock.recv(20)
            return
        while True:
            if c.receive() == 0:
                raise AssertionError("server closed during a good handshake")
            done = c.step()
            if c.outgoing.pending:
                if stage == 4:  # the server's flight is in; the client's answer is never sent
                    return
                c.flush()
            if done:
                break
        if stage == 5:
            return
        c.tls.write(b"GET / HTTP/1.1\r\nHost: localhost\r\n")
        c.flush()
    finally:
        time.sleep(0.05)
        hostile.reset_close(c.sock)


@pytest.mark.parametrize("version", ["TLSv1_2", "TLSv1_3"])
def test_abrupt_resets_at_every_handshake_stage(server, legit, pki, version):
    a, port = server
    v = getattr(ssl.TLSVersion, version)
    ctx = clients.context(pki.root_ca, min_version=v, max_version=v)
    for stage in range(7):
        for _ in range(3):
            _reset_at(port, ctx, stage)
    # the server is still fine for this exact kind of client
    s = clients.tls_connect(port, ctx)
    try:
        s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        assert b"200 OK" in s.recv(4096)
    finally:
        s.close()
