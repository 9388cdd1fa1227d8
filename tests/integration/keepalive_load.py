"""Keep-alive load that tells a dropped request from a connection the server closed in time
(test_graceful.py).

Each worker thread sends GET requests for files whose bytes it knows, many per connection, and
classifies what happens to each request:

  answered   a complete response: status 200 and exactly the expected body.
  retried    the server closed the connection before any byte of the response arrived, so the
             request was not processed and is sent again on a new connection (RFC 9112 §9.3.1
             for idempotent requests). HTTP/1.1: close_notify (or EOF after it) before the first
             byte of the status line. h2: the stream id is above the last-stream-id of the
             server's GOAWAY (RFC 9113 §6.8), or the stream was reset with REFUSED_STREAM (§8.7).
  failure    anything else: a TLS error, a handshake failure, a reset or an EOF without
             close_notify, a truncated response, a wrong status or body. Each failure is
             recorded with its reason.
  cut        h2 only: the connection ended with streams open at or below GOAWAY's last-stream-id
             (or with no GOAWAY). A client cannot tell from the wire whether the server lost
             them; the streams are sent again (GETs are idempotent) and the connection's client
             port and the error log's size before it connected (h2_worker's log_mark) are
             recorded in Tally.cuts, so that the test judges each cut from the server's log (test_graceful.py: only Apache's own two races on a graceful restart are
             accepted, every other cut is a failure).

Retries are a property of the timing (how many connections a graceful restart found idle or
between requests); failures are what a client could not recover from.
"""
from __future__ import annotations

import random
import socket
import ssl
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

HOST = "localhost"
MAX_ATTEMPTS = 10        # a request that still has no answer after this many tries is a failure


def make_files(count: int = 16, seed: int = 10) -> dict[str, bytes]:
    """Paths (under /ka/) -> bodies of assorted sizes (0 B .. 48 KiB, several TLS records)."""
    rnd = random.Random(seed)
    sizes = [0, 1, 100, 1500, 16384, 16385, 49152] + [rnd.randrange(1, 40000) for _ in range(count)]
    return {f"/ka/f{i}.bin": rnd.randbytes(n) for i, n in enumerate(sizes[:count])}


@dataclass
class Tally:
    """Counts shared by the worker threads."""
    answered: int = 0
    retried: int = 0
    connections: int = 0
    failures: list[str] = field(default_factory=list)
    # (client port, error log mark taken before the connection, what was cut)
    cuts: list[tuple[int, int, str]] = field(default_factory=list)
    reasons: Counter = field(default_factory=Counter)   # why requests were retried
    answered_at: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, **kw) -> None:
        with self.lock:
            for k, v in kw.items():
                setattr(self, k, getattr(self, k) + v)

    def answer(self) -> None:
        with self.lock:
            self.answered += 1
            self.answered_at.append(time.monotonic())

    def retry(self, why: str) -> None:
        with self.lock:
            self.retried += 1
            self.reasons[why] += 1

    def fail(self, why: str) -> None:
        with self.lock:
            self.failures.append(why)

    def cut(self, port: int, mark: int, what: str) -> None:
        with self.lock:
            self.cuts.append((port, mark, what))

    def summary(self) -> str:
        return (f"answered={self.answered} retried={self.retried} ({dict(self.reasons)}) "
                f"connections={self.connections} cut connections={len(self.cuts)} "
                f"failures={len(self.failures)}")


class ClosedBeforeResponse(Exception):
    """The server closed the connection cleanly before any byte of the response: retry."""


class Failed(Exception):
    """The request failed in a way a client cannot recover from."""


def _context(cafile, alpn: str) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(cafile))
    ctx.set_alpn_protocols([alpn])
    return ctx


def _connect(port: int, ctx: ssl.SSLContext, alpn: str, tally: Tally) -> ssl.SSLSocket:
    try:
        raw = socket.create_connection(("127.0.0.1", port), timeout=30)
    except OSError as e:
        raise Failed(f"connect: {e!r}") from e
    # several small writes per round (h2: HEADERS, WINDOW_UPDATE): no Nagle delay
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        # suppress_ragged_eofs=False: a TCP EOF without close_notify raises SSLEOFError
        s = ctx.wrap_socket(raw, server_hostname=HOST, suppress_ragged_eofs=False)
    except (OSError, ssl.SSLError) as e:
        raw.close()
        raise Failed(f"handshake: {e!r}") from e
    if s.selected_alpn_protocol() != alpn:
        s.close()
        raise Failed(f"ALPN {s.selected_alpn_protocol()!r}, wanted {alpn!r}")
    tally.add(connections=1)
    return s


# -- HTTP/1.1 --------------------------------------------------------------------------------------

def _h1_exchange(s: ssl.SSLSocket, path: str, want: bytes) -> bool:
    """One request and its response on an open connection. Returns whether the connection
    stays open. Raises ClosedBeforeResponse or Failed."""
    req = f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode()
    try:
        s.sendall(req)
    except (OSError, ssl.SSLError) as e:
        raise Failed(f"send {path}: {e!r}") from e
    buf = b""
    while b"\r\n\r\n" not in buf:
        try:
            chunk = s.recv(65536)
        except (OSError, ssl.SSLError) as e:
            where = "before the response" if not buf else f"after {len(buf)} response bytes"
            raise Failed(f"{path}: {e!r} {where}") from e
        if not chunk:          # close_notify received
            if not buf:
                raise ClosedBeforeResponse("close_notify before the response")
            raise Failed(f"{path}: close_notify after {len(buf)} bytes of the header")
        buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    if not lines[0].startswith("HTTP/1.1 200 "):
        raise Failed(f"{path}: status line {lines[0]!r}")
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    if "content-length" not in headers:
        raise Failed(f"{path}: no Content-Length in {headers}")
    length = int(headers["content-length"])
    while len(body) < length:
        try:
            chunk = s.recv(65536)
        except (OSError, ssl.SSLError) as e:
            raise Failed(f"{path}: {e!r} after {len(body)}/{length} body bytes") from e
        if not chunk:
            raise Failed(f"{path}: close_notify after {len(body)}/{length} body bytes")
        body += chunk
    if body != want:
        raise Failed(f"{path}: wrong body ({len(body)} bytes, {length} announced, "
                     f"{len(want)} expected)")
    return headers.get("connection", "").lower() != "close"


def h1_worker(port: int, cafile, files: dict[str, bytes], stop: threading.Event, tally: Tally,
              seed: int, per_connection: int = 200) -> None:
    """Requests until `stop` is set: each one is repeated on a new connection while the server
    closes the connection before answering it, at most MAX_ATTEMPTS times."""
    rnd = random.Random(seed)
    ctx = _context(cafile, "http/1.1")
    paths = list(files)
    s = None
    on_conn = 0
    try:
        while not stop.is_set():
            path = rnd.choice(paths)
            for attempt in range(MAX_ATTEMPTS):
                try:
                    if s is None:
                        s, on_conn = _connect(port, ctx, "http/1.1", tally), 0
                    keep = _h1_exchange(s, path, files[path])
                    tally.answer()
                    on_conn += 1
                    if not keep or on_conn >= per_connection:
                        s.close()
                        s = None
                    break
                except ClosedBeforeResponse as e:
                    tally.retry(str(e))
                    s.close()
                    s = None
                except Failed as e:
                    tally.fail(str(e))
                    if s is not None:
                        s.close()
                        s = None
                    break
            else:
                tally.fail(f"{path}: no answer after {MAX_ATTEMPTS} attempts")
            # now and then a short idle gap, so that a restart also finds idle connections
            if rnd.random() < 0.05:
                time.sleep(0.002)
    finally:
        if s is not None:
            s.close()


# -- h2 --------------------------------------------------------------------------------------------

GOAWAY = 0x7
# The client's flow-control window (stream and connection), as browsers set it (Chrome: 6 MiB per
# stream, 15 MiB per connection; Firefox: 12 MiB). With h2's default 64 KiB, Apache's mod_http2
# cuts the streams at or below GOAWAY's last-stream-id whose response needs a WINDOW_UPDATE
# sent after the GOAWAY: it closes the connection with them unfinished, with mod_ssl exactly as
# with mod_tls (docs/hardening.md, "Graceful restarts").
WINDOW = 1 << 24


class _H2Conn:
    """One h2 connection: python-h2 for the protocol state, except GOAWAY frames. python-h2
    treats the connection as closed once it has seen GOAWAY and refuses the frames that follow,
    but a server sends the responses of streams at or below GOAWAY's last-stream-id after it. So
    the frames are split here first: GOAWAY is noted (last-stream-id) and not passed on."""

    def __init__(self, port: int, ctx: ssl.SSLContext, tally: Tally):
        import h2.config
        import h2.connection
        self.sock = _connect(port, ctx, "h2", tally)
        self.port = self.sock.getsockname()[1]      # how the server's log names the connection
        import h2.settings
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        self.conn.local_settings = h2.settings.Settings(
            client=True, initial_values={h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: WINDOW})
        self.conn.initiate_connection()
        self.conn.increment_flow_control_window(WINDOW - 65535)
        self.goaway_last: int | None = None
        self.goaway_errors: list[int] = []   # error codes of the GOAWAY frames, in order
        self.pending = b""          # bytes of an incomplete frame
        self.streams: dict[int, tuple[str, bytearray, list]] = {}   # id -> path, body, [status]
        self.flush()

    def flush(self) -> None:
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def request(self, path: str) -> int:
        sid = self.conn.get_next_available_stream_id()
        self.conn.send_headers(sid, [(":method", "GET"), (":scheme", "https"),
                                     (":authority", HOST), (":path", path)], end_stream=True)
        self.streams[sid] = (path, bytearray(), [None])
        return sid

    def split(self, data: bytes) -> bytes:
        """The frames of pending+data without GOAWAY frames (which set goaway_last)."""
        buf = self.pending + data
        out = bytearray()
        pos = 0
        while len(buf) - pos >= 9:
            length = int.from_bytes(buf[pos:pos + 3], "big")
            if len(buf) - pos < 9 + length:
                break
            ftype = buf[pos + 3]
            frame = buf[pos:pos + 9 + length]
            if ftype == GOAWAY:
                last = int.from_bytes(frame[9:13], "big") & 0x7FFFFFFF
                self.goaway_errors.append(int.from_bytes(frame[13:17], "big"))
                self.goaway_last = last if self.goaway_last is None else min(self.goaway_last,
                                                                                last)
            else:
                out += frame
            pos += 9 + length
        self.pending = buf[pos:]
        return bytes(out)

    def close(self) -> None:
        self.sock.close()


def h2_worker(port: int, cafile, files: dict[str, bytes], stop: threading.Event, tally: Tally,
              seed: int, depth: int = 4, per_connection: int = 200, log_mark=lambda: 0) -> None:
    """Keeps `depth` streams in flight per connection until `stop` is set. Streams above a
    GOAWAY's last-stream-id, or refused, are requested again on a new connection. log_mark
    (Apache.log_mark) is taken before each connection, for a cut's look-up in the log."""
    import h2.errors
    import h2.events
    rnd = random.Random(seed)
    ctx = _context(cafile, "h2")
    paths = list(files)
    todo: list[tuple[str, int]] = []       # (path, attempts so far) to send again
    c: _H2Conn | None = None
    sent_on_conn = 0

    def requeue(path: str, attempts: int, why: str) -> None:
        if attempts + 1 >= MAX_ATTEMPTS:
            tally.fail(f"{path}: no answer after {MAX_ATTEMPTS} attempts")
        else:
            tally.retry(why)
            todo.append((path, attempts + 1))

    attempts_of: dict[int, int] = {}
    try:
        while True:
            if c is None:
                if stop.is_set() and not todo:
                    break
                try:
                    mark = log_mark()
                    c, sent_on_conn = _H2Conn(port, ctx, tally), 0
                except Failed as e:
                    tally.fail(str(e))
                    for path, n in todo:
                        tally.fail(f"{path}: not sent ({e})")
                    todo.clear()
                    continue
                attempts_of = {}
            # fill the window
            while (c.goaway_last is None and len(c.streams) < depth
                   and sent_on_conn < per_connection and (todo or not stop.is_set())):
                path, n = todo.pop(0) if todo else (rnd.choice(paths), 0)
                attempts_of[c.request(path)] = n
                sent_on_conn += 1
            try:
                c.flush()
            except (OSError, ssl.SSLError):
                pass   # the next recv reports how the connection ended
            if not c.streams:
                c.close()
                c = None
                continue
            try:
                data = c.sock.recv(65536)
            except (OSError, ssl.SSLError) as e:
                data = None
                err = repr(e)
            if not data:
                # the connection ended: streams above GOAWAY's last id were not processed
                why = "close_notify" if data == b"" else err
                cut = []
                for sid, (path, body, status) in c.streams.items():
                    if c.goaway_last is not None and sid > c.goaway_last:
                        requeue(path, attempts_of[sid], "stream above GOAWAY last-stream-id")
                    else:
                        cut.append(f"{path}: stream {sid} (status {status[0]!r}, {len(body)}/"
                                   f"{len(files[path])} body bytes)")
                        requeue(path, attempts_of[sid], "connection cut (judged from the log)")
                if cut:
                    tally.cut(c.port, mark, f"{len(cut)} streams open at {why} (GOAWAY last "
                                            f"id {c.goaway_last}, error codes "
                                            f"{c.goaway_errors}; {len(c.pending)} bytes of an "
                                            f"incomplete frame): " + "; ".join(cut))
                c.close()
                c = None
                continue
            try:
                events = c.conn.receive_data(c.split(data))
            except Exception as e:  # noqa: BLE001 - a protocol error of the server
                for sid, (path, _, _) in c.streams.items():
                    tally.fail(f"{path}: stream {sid}: h2 protocol error {e!r}")
                c.close()
                c = None
                continue
            for ev in events:
                sid = getattr(ev, "stream_id", None)
                if sid not in c.streams:
                    continue
                path, body, status = c.streams[sid]
                if isinstance(ev, h2.events.ResponseReceived):
                    status[0] = dict(ev.headers).get(b":status")
                elif isinstance(ev, h2.events.DataReceived):
                    body += ev.data
                    c.conn.acknowledge_received_data(ev.flow_controlled_length, sid)
                elif isinstance(ev, h2.events.StreamEnded):
                    del c.streams[sid]
                    if status[0] != b"200":
                        tally.fail(f"{path}: stream {sid} status {status[0]!r}")
                    elif bytes(body) != files[path]:
                        tally.fail(f"{path}: stream {sid} wrong body ({len(body)} bytes, "
                                   f"{len(files[path])} expected)")
                    else:
                        tally.answer()
                elif isinstance(ev, h2.events.StreamReset):
                    del c.streams[sid]
                    if ev.error_code == h2.errors.ErrorCodes.REFUSED_STREAM:
                        requeue(path, attempts_of[sid], "REFUSED_STREAM")
                    else:
                        tally.fail(f"{path}: stream {sid} reset {ev.error_code!r}")
            # streams above a GOAWAY's last id will not be answered: send them again elsewhere
            if c.goaway_last is not None:
                for sid in [s for s in c.streams if s > c.goaway_last]:
                    path, _, _ = c.streams.pop(sid)
                    requeue(path, attempts_of[sid], "stream above GOAWAY last-stream-id")
            try:
                c.flush()
            except (OSError, ssl.SSLError):
                pass   # the next recv reports how the connection ended
    finally:
        if c is not None:
            c.close()


def run_load(worker, port: int, cafile, files, threads: int, during, **kw) -> Tally:
    """Runs `threads` workers, calls during() (the restarts) while they run, then stops them
    and returns the tally."""
    tally = Tally()
    stop = threading.Event()
    ts = [threading.Thread(target=worker, args=(port, cafile, files, stop, tally, i), kwargs=kw,
                           daemon=True) for i in range(threads)]
    for t in ts:
        t.start()
    try:
        during(tally)
    finally:
        stop.set()
        for t in ts:
            t.join(timeout=120)
    assert not any(t.is_alive() for t in ts), "a load thread hung"
    return tally
