"""Handshakes that wait on the network hold no worker thread (issue #22).

On the event MPM a handshake that needs more bytes from the client goes back to the MPM
(CONN_STATE_ASYNC_WAITIO) and resumes when the client sends more; the handshake timeout
(mod_reqtimeout's handshake stage, else Timeout) still bounds the whole handshake. On prefork the
handshake blocks its process as before. The flood tests (1,000 and 2,000 half-open handshakes
with Apache's default MPM settings) are in test_hostile.py.
"""
from __future__ import annotations

import socket
import ssl
import threading
import time

import pytest

import apache
import clients
import hostile
import raw_tls

BODY = b"async handshake\n"
HANDSHAKE_TIMEOUT = 4
STATUS = """
ExtendedStatus On
<Location /server-status>
    SetHandler server-status
    Require all granted
</Location>
"""


def _server(factory, pki, extra: str = "", *, reqtimeout: bool = True, mpm: str = "event"):
    port, status_port = apache.free_ports(2)
    body = (STATUS + extra
            + (f"RequestReadTimeout handshake={HANDSHAKE_TIMEOUT} header=10 body=10\n"
               if reqtimeout else "")
            + apache.tls_site(port, pki.leaves["p256"]) + apache.plain_site(status_port))
    modules = ("status", "reqtimeout") if reqtimeout else ("status",)
    a = factory(body, start=False, extra_modules=modules, mpm=mpm)
    a.add_file("index.html", BODY)
    a.start()
    return a, port, status_port


@pytest.fixture(scope="module")
def server(module_apache_factory, pki):
    # more workers than the handshakes below hold, so a blocking handshake would show as busy
    return _server(module_apache_factory, pki)


class SlowClient:
    """A real TLS client (Python's ssl on memory buffers) that sends its ClientHello in pieces,
    pausing between them, then completes the handshake and makes one request."""

    def __init__(self, port: int, cafile):
        self.ctx = clients.context(cafile)
        self.ctx.set_alpn_protocols(["http/1.1"])
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = self.ctx.wrap_bio(self.incoming, self.outgoing, server_hostname=clients.HOST)
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self._step()
        self.hello = self.outgoing.read()

    def _step(self) -> bool:
        try:
            self.tls.do_handshake()
            return True
        except ssl.SSLWantReadError:
            return False

    def send_piece(self, i: int, pieces: int) -> None:
        size = -(-len(self.hello) // pieces)
        self.sock.sendall(self.hello[i * size:(i + 1) * size])

    def finish(self) -> bytes:
        while not self._step():
            if data := self.outgoing.read():
                self.sock.sendall(data)
            chunk = self.sock.recv(65536)
            assert chunk, "the server closed the connection during the handshake"
            self.incoming.write(chunk)
        self.sock.sendall(self.outgoing.read())
        self.tls.write(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        self.sock.sendall(self.outgoing.read())
        response = b""
        while True:
            try:
                data = self.tls.read(65536)
                if not data:
                    break
                response += data
                continue
            except ssl.SSLWantReadError:
                pass
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                break
            chunk = self.sock.recv(65536)
            if not chunk:
                break
            self.incoming.write(chunk)
        return response

    def close(self) -> None:
        self.sock.close()


def test_waiting_handshakes_hold_no_worker(server, pki):
    """30 handshakes whose ClientHellos arrive in four pieces, 0.4 s apart: while they wait no
    worker is busy with them (blocking, each would hold one: 30 busy), and each then completes
    and is served."""
    a, port, status_port = server
    slow = [SlowClient(port, pki.root_ca) for _ in range(30)]
    try:
        busy = []
        for piece in range(4):
            for c in slow:
                c.send_piece(piece, 4)
            time.sleep(0.4)
            busy.append(hostile.busy_workers(status_port))
        assert max(busy[:3]) <= 3, f"busy workers while 30 handshakes wait: {busy}"
        for c in slow:
            response = c.finish()
            assert response.startswith(b"HTTP/1.1 200"), response[:100]
            assert response.endswith(BODY)
    finally:
        for c in slow:
            c.close()
    assert not a.crash_lines(), a.crash_lines()


def _closed_after(port: int, hello: bytes, limit: float) -> float:
    """Sends half a ClientHello, then nothing: seconds until the server closes."""
    s = socket.create_connection(("127.0.0.1", port), timeout=limit)
    try:
        s.sendall(hello[:len(hello) // 2])
        started = time.monotonic()
        try:
            data = s.recv(4096)
        except socket.timeout:
            pytest.fail(f"the server kept a silent handshake open for {limit} s")
        except ConnectionResetError:
            data = b""
        assert data[:1] in (b"", b"\x15"), data[:16]
        return time.monotonic() - started
    finally:
        s.close()


def test_silent_handshake_ends_at_the_handshake_timeout(server):
    """A client that sends half a ClientHello and then nothing: it waits in the MPM, whose own
    wait is Timeout (30 s here); the module wakes it at mod_reqtimeout's handshake=4 and logs
    one line."""
    a, port, _ = server
    mark = a.log_mark()
    took = _closed_after(port, clients.client_hello(), 25)
    assert HANDSHAKE_TIMEOUT - 1 <= took <= HANDSHAKE_TIMEOUT + 4, took
    a.wait_for_log(r"\[tls:info\].*TLS handshake failed: timed out waiting for the client",
                   since=mark, timeout=5)


def test_slow_loris_is_bounded_for_the_whole_handshake(server):
    """A byte every 0.5 s (each wait far shorter than any timeout): the handshake timeout
    bounds the whole handshake, not each wait."""
    a, port, _ = server
    hello = clients.client_hello()
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    started = time.monotonic()
    try:
        for i in range(len(hello)):
            try:
                s.sendall(hello[i:i + 1])
            except (BrokenPipeError, ConnectionResetError):
                break
            s.settimeout(0.5)
            try:
                if s.recv(4096)[:1] in (b"", b"\x15"):
                    break
            except socket.timeout:
                continue
            except ConnectionResetError:
                break
        took = time.monotonic() - started
    finally:
        s.close()
    assert took <= HANDSHAKE_TIMEOUT + 4, f"still open after {took:.1f} s"
    assert took >= HANDSHAKE_TIMEOUT - 1, f"closed after {took:.1f} s, before the timeout"


def _trickle(port: int, hello: bytes, stop: threading.Event) -> None:
    """Sends `hello` a byte every 0.5 ms (TCP_NODELAY: each byte its own segment)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(len(hello)):
            if stop.is_set():
                return
            try:
                s.sendall(hello[i:i + 1])
            except OSError:
                return
            time.sleep(0.0005)


def test_a_fast_trickle_does_not_keep_its_worker(apache_factory, pki):
    """Only a handshake's first wait is on its thread (up to 2 ms); every later one is in the
    MPM, however soon the next byte comes. Three clients send an 8 KB ClientHello a byte every
    0.5 ms (about 5 s each) to a server with two workers: a legitimate client's new connections
    are served meanwhile. Were every short wait taken on the thread, the three would hold both
    workers until their ClientHellos were complete."""
    port = apache.free_port()
    body = ("ServerLimit 1\nThreadLimit 2\nThreadsPerChild 2\nMaxRequestWorkers 2\n"
            "MinSpareThreads 1\nMaxSpareThreads 2\nAsyncRequestWorkerFactor 20\n"
            + apache.tls_site(port, pki.leaves["p256"]))
    a = apache_factory(body, start=False)
    a.add_file("index.html", BODY)
    a.start()
    # A ClientHello made 8 KB long by a padding extension (RFC 7685), so the trickle lasts.
    hello = raw_tls.hello([(0x001D, raw_tls.x25519_public())],
                          extensions=raw_tls.ext(0x0015, bytes(8000)))
    stop = threading.Event()
    tricklers = [threading.Thread(target=_trickle, args=(port, hello, stop)) for _ in range(3)]
    for t in tricklers:
        t.start()
    try:
        time.sleep(0.5)
        took = []
        for _ in range(5):
            started = time.monotonic()
            r = clients.curl(port, ("/",), cacert=pki.root_ca, timeout=20)
            took.append(time.monotonic() - started)
            assert r.returncode == 0 and r.body == BODY, (r.returncode, r.stderr)
        # (Were the workers held, the first request would wait for the trickle to end.)
        assert all(t.is_alive() for t in tricklers), \
            f"the trickle ended before the last request; request times {took}"
        assert max(took) < 1.5, f"request times while 3 clients trickle: {took}"
    finally:
        stop.set()
        for t in tricklers:
            t.join()
    assert not a.crash_lines(), a.crash_lines()


def test_a_shorter_deadline_after_a_longer_one(apache_factory, pki):
    """Hosts with different handshake limits: a handshake on the handshake=3 host that starts
    while one on the handshake=20 host waits is still cut at 3 s, not when the wake-up thread,
    asleep until the 20 s deadline, would have woken by itself (Timeout is 30)."""
    long_port, short_port = apache.free_ports(2)
    limits = "RequestReadTimeout handshake={} header=10 body=10"
    body = (apache.tls_site(long_port, pki.leaves["p256"], extra=limits.format(20))
            + apache.tls_site(short_port, pki.leaves["p256"], extra=limits.format(3)))
    a = apache_factory(body, start=False, extra_modules=("reqtimeout",))
    a.add_file("index.html", BODY)
    a.start()
    hello = clients.client_hello()
    held = socket.create_connection(("127.0.0.1", long_port), timeout=30)
    try:
        held.sendall(hello[:len(hello) // 2])
        time.sleep(0.5)   # it waits in the MPM, its wake-up armed 20 s ahead
        took = _closed_after(short_port, hello, 15)
        assert 2 <= took <= 6, took
        held.settimeout(0.2)
        with pytest.raises(socket.timeout):   # the long one still waits
            held.recv(1)
    finally:
        held.close()


def test_without_reqtimeout_timeout_bounds_the_handshake(apache_factory, pki):
    """No mod_reqtimeout: Timeout (3 s) bounds the handshake, with one log line."""
    a, port, _ = _server(apache_factory, pki, "Timeout 3\n", reqtimeout=False)
    mark = a.log_mark()
    took = _closed_after(port, clients.client_hello(), 20)
    assert 2 <= took <= 8, took
    a.wait_for_log(r"\[tls:info\].*TLS handshake failed: (timed out waiting for the client|"
                   r"the client sent nothing more)", since=mark, timeout=5)


def test_prefork_keeps_the_blocking_handshake(apache_factory, pki):
    """prefork cannot wait for I/O: the handshake blocks its process as before, served and
    bounded by the handshake timeout alike."""
    a, port, status_port = _server(apache_factory, pki, "StartServers 4\nMinSpareServers 4\n",
                                   mpm="prefork")
    r = clients.curl(port, ("/",), cacert=pki.root_ca)
    assert r.returncode == 0 and r.body == BODY, (r.returncode, r.stderr)
    mark = a.log_mark()
    took = _closed_after(port, clients.client_hello(), 20)
    assert HANDSHAKE_TIMEOUT - 1 <= took <= HANDSHAKE_TIMEOUT + 4, took
    a.wait_for_log(r"\[tls:info\].*TLS handshake failed: timed out waiting for the client",
                   since=mark, timeout=5)
