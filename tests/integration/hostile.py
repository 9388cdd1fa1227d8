"""Helpers of the hostile-client tests (test_hostile.py): a legitimate client that keeps
requesting in the background and counts every outcome, the server's worker pids, raw TLS bytes.
"""
from __future__ import annotations

import http.client
import os
import socket
import ssl
import struct
import threading
import time

import clients


class LegitClient:
    """Fetches https://localhost:port/ on a new TLS connection, again and again, until stopped.
    Every attempt must succeed (status 200, the expected body). keepalive=True: up to 50
    requests on each connection instead (then a new one), so that keep-alive connections are
    checked too."""

    def __init__(self, port: int, cafile, body: bytes, timeout: float = 30.0,
                 keepalive: bool = False):
        self.port = port
        self.keepalive = keepalive
        self._conn = None
        self._used = 0
        self.retried = 0
        self.latencies: list[float] = []
        self.ctx = clients.context(cafile)
        self.body = body
        self.timeout = timeout
        self.ok = 0
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _once(self) -> None:
        reused = self._conn is not None
        try:
            self._request()
        except http.client.RemoteDisconnected:
            # A keep-alive connection closed cleanly before any byte of the response: the server
            # ended it between requests (Apache stops idle worker processes), so the request is
            # sent again on a new connection (RFC 9112 9.3.1), as browsers do.
            if not reused:
                raise
            self.retried += 1
            self._request()

    def _request(self) -> None:
        if self._conn is None:
            self._conn = clients.HTTPSConnection(self.port, self.ctx, timeout=self.timeout)
            self._used = 0
        conn = self._conn
        last = not self.keepalive or self._used == 49
        try:
            conn.request("GET", "/", headers={"Connection": "close"} if last else {})
            resp = conn.getresponse()
            data = resp.read()
            if resp.status != 200 or data != self.body:
                raise AssertionError(f"status {resp.status}, body {data[:60]!r}")
            self._used += 1
        except BaseException:
            last = True
            raise
        finally:
            if last:
                conn.close()
                self._conn = None

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self._once()
                self.ok += 1
                self.latencies.append(time.monotonic() - started)
            except Exception as e:  # noqa: BLE001 - every failure is counted and reported
                kind = "keep-alive" if self.keepalive else "new connections"
                self.failures.append(f"{kind}: {type(e).__name__}: {e}")
            self._stop.wait(0.05)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=self.timeout + 10)
        return False

    def wait_for_successes(self, n: int, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        start = self.ok
        while self.ok < start + n and time.monotonic() < deadline and not self.failures:
            time.sleep(0.05)

    def assert_all_succeeded(self, at_least: int = 1) -> None:
        assert not self.failures, (f"the legitimate client failed {len(self.failures)} of "
                                   f"{len(self.failures) + self.ok} times: {self.failures[:5]}")
        assert self.ok >= at_least, f"the legitimate client got only {self.ok} responses"


def child_pids(parent: int) -> set[int]:
    """Pids of the processes whose parent is `parent` (Apache's children)."""
    out = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        if int(fields[1]) == parent and fields[0] != "Z":
            out.add(int(entry))
    return out


def children_rss_kib(parent: int) -> int:
    """Resident memory of Apache's children together, in KiB."""
    total = 0
    for pid in child_pids(parent):
        try:
            with open(f"/proc/{pid}/status") as f:
                total += next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
        except (FileNotFoundError, ProcessLookupError, StopIteration):
            continue
    return total


def busy_workers(status_port: int) -> int:
    """BusyWorkers of server-status?auto (the request asking counts itself)."""
    text = clients.curl_plain(status_port, "/server-status?auto").body.decode()
    for line in text.splitlines():
        if line.startswith("BusyWorkers:"):
            return int(line.split(":")[1])
    raise AssertionError(f"no BusyWorkers in server-status: {text[:300]}")


def half_open(port: int, n: int, hello: bytes) -> list[socket.socket]:
    """n connections that each sent the first half of a ClientHello and now wait."""
    socks = []
    try:
        for _ in range(n):
            s = socket.create_connection(("127.0.0.1", port), timeout=30)
            s.sendall(hello[:len(hello) // 2])
            socks.append(s)
    except BaseException:
        for s in socks:
            s.close()
        raise
    return socks


def reset_close(s: socket.socket) -> None:
    """Close with a TCP RST (SO_LINGER 0) instead of a FIN."""
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    s.close()


def record(content_type: int, payload: bytes, version: bytes = b"\x03\x03") -> bytes:
    """One TLS record (no length check: callers build invalid ones on purpose)."""
    return bytes([content_type]) + version + struct.pack(">H", len(payload) & 0xFFFF) + payload


def handshake_message(hello_record: bytes) -> bytes:
    """The ClientHello handshake message (type + 24-bit length + body) from a record."""
    return hello_record[5:5 + struct.unpack(">H", hello_record[3:5])[0]]


def big_client_hello(total: int, server_hostname: str = clients.HOST) -> list[bytes]:
    """A real ClientHello grown to about `total` bytes by an unknown extension (type 0xfa5a,
    which servers must ignore), split into records of at most 2^14 bytes."""
    msg = handshake_message(clients.client_hello(server_hostname))
    body = msg[4:]
    # version(2) random(32) session_id, cipher_suites, compression, extensions
    pos = 34
    pos += 1 + body[pos]
    pos += 2 + struct.unpack(">H", body[pos:pos + 2])[0]
    pos += 1 + body[pos]
    ext_len = struct.unpack(">H", body[pos:pos + 2])[0]
    exts = body[pos + 2:pos + 2 + ext_len]
    pad = max(0, min(total - len(body) - 4, 0xFFFF - ext_len - 4))
    # Unknown extensions go first: rustls requires pre_shared_key (if any) to be the last one.
    exts = struct.pack(">HH", 0xFA5A, pad) + os.urandom(pad) + exts
    body = body[:pos] + struct.pack(">H", len(exts)) + exts
    msg = b"\x01" + struct.pack(">I", len(body))[1:] + body
    return [record(22, msg[i:i + 16384], b"\x03\x01") for i in range(0, len(msg), 16384)]


class MemoryClient:
    """A TLS client over memory BIOs on a raw socket, so a test can stop (or reset) at any point
    of the handshake."""

    def __init__(self, port: int, ctx: ssl.SSLContext, timeout: float = 20.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = ctx.wrap_bio(self.incoming, self.outgoing, server_hostname=clients.HOST)

    def step(self) -> bool:
        """One handshake step; True when the handshake is complete."""
        try:
            self.tls.do_handshake()
            return True
        except ssl.SSLWantReadError:
            return False

    def flush(self, limit: int | None = None) -> int:
        data = self.outgoing.read()
        if limit is not None:
            data = data[:limit]
        self.sock.sendall(data)
        return len(data)

    def receive(self) -> int:
        data = self.sock.recv(65536)
        if data:
            self.incoming.write(data)
        return len(data)
