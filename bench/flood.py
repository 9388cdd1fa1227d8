#!/usr/bin/python3
"""`make bench-flood`: legitimate clients while N half-open TLS handshakes are held open.

    /usr/bin/python3 bench/flood.py [--quick] [--out DIR] [--module PATH] [--levels 300,1000]

mod_tls and mod_ssl run on Debian's apache2 (servers.py) with Apache's DEFAULT event MPM settings
(no StartServers/ServerLimit/ThreadsPerChild/MaxRequestWorkers lines: 16 x 25 = 400 workers),
`RequestReadTimeout handshake=10` (mod_reqtimeout) and mod_status on a plain-HTTP loopback port.
For every N and server, on a freshly started server:

  held       N TCP connections to the TLS port, each sent the first half of a real ClientHello
             (made by Python's ssl module through a MemoryBIO) and then silent; one the server
             closes (e.g. after the handshake timeout) is re-opened at once, so N stay held
  memory     RSS (smaps_rollup) of the apache2 parent and children with the N held, minus before
             the flood, divided by N (procstat.rss_bytes, as `make bench` measures memory)
  new conn   for SECONDS, a few threads each looping: new TLS connection, one GET, close
  keep-alive for SECONDS, a few threads each doing KEEPALIVE_REQUESTS GETs per TLS connection
  busy       BusyWorkers of /server-status?auto, polled once a second (a poll that gets no answer
             in time counts as unanswered: the status page needs a free worker too)

Every legitimate request has a client deadline (TIMEOUT s, connect + handshake + response); a
missed deadline or any error counts as a failure. Latencies are of the successful requests.
Writes DIR/flood.json and DIR/flood.md and prints the table. Every apache2 it starts is stopped on
the way out, also after an error, Ctrl-C or SIGTERM. Run as root.
"""
from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import re
import selectors
import shutil
import signal
import socket
import ssl
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import procstat  # noqa: E402
import run as bench_run  # noqa: E402  (environment checks, fd limit, quiet wait, machine)
import servers  # noqa: E402
from drivers import percentile  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SCHEMA = "mod_tls-bench-flood/1"
KINDS = ("mod_tls", "mod_ssl")
HOST = servers.HOST
PATH = "/1k.bin"
TIMEOUT = 5.0              # client deadline of every legitimate request
NEW_CONN_THREADS = 4
KEEPALIVE_THREADS = 2
KEEPALIVE_REQUESTS = 20    # requests per keep-alive connection before it is replaced
STATUS_TIMEOUT = 2.0


@dataclass
class Settings:
    levels: tuple[int, ...]
    seconds: float     # how long the legitimate clients run while the flood is held
    settle: float      # after the flood is connected, before memory is sampled
    quiet_wait: float  # at most this long for other programs to leave the CPUs before a row


FULL = Settings(levels=(300, 1000, 2000), seconds=10, settle=5, quiet_wait=20)
QUICK = Settings(levels=(300,), seconds=4, settle=3, quiet_wait=5)


def log(msg: str) -> None:
    print(msg, flush=True)


def extra_conf(ports: dict[str, int]) -> str:
    """mod_reqtimeout's handshake limit and a plain-HTTP mod_status port (loopback only)."""
    mods = servers.MODULES_DIR
    return f"""\
LoadModule reqtimeout_module {mods}/mod_reqtimeout.so
LoadModule status_module {mods}/mod_status.so
LoadModule authz_host_module {mods}/mod_authz_host.so
RequestReadTimeout handshake=10
Listen 127.0.0.1:{ports['status']}
<VirtualHost 127.0.0.1:{ports['status']}>
    ServerName localhost
    <Location /server-status>
        SetHandler server-status
        Require ip 127.0.0.1
    </Location>
</VirtualHost>
"""


def half_client_hello() -> bytes:
    """The first half of a real ClientHello (Python's ssl, i.e. OpenSSL, with SNI localhost)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ctx.wrap_bio(incoming, outgoing, server_hostname=HOST)
    try:
        tls.do_handshake()
    except ssl.SSLWantReadError:
        pass
    hello = outgoing.read()
    if len(hello) < 100 or hello[0] != 0x16:
        raise RuntimeError(f"unexpected ClientHello ({len(hello)} bytes)")
    return hello[:len(hello) // 2]


# ---------------------------------------------------------------------------------------------
# the flood: N half-open handshakes, held by one thread with a selector

class Flood:
    """Holds `n` connections to 127.0.0.1:port that each sent `payload` and then wait."""

    def __init__(self, port: int, n: int, payload: bytes):
        self.port, self.n, self.payload = port, n, payload
        self.sel = selectors.DefaultSelector()
        self.held = 0          # connected and payload sent
        self.reopened = 0      # closed by the server (or failed) and opened again
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="flood", daemon=True)

    def _open(self) -> None:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", self.port))
        self.sel.register(s, selectors.EVENT_WRITE, "connecting")

    def _drop(self, s: socket.socket, was_held: bool) -> None:
        self.sel.unregister(s)
        s.close()
        self.held -= was_held
        self.reopened += 1

    def _event(self, s: socket.socket, state: str) -> bool:
        """Handles one ready socket; False if it was dropped."""
        if state == "connecting":
            if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) != 0:
                self._drop(s, False)
                return False
            try:
                s.send(self.payload)
            except OSError:
                self._drop(s, False)
                return False
            self.sel.modify(s, selectors.EVENT_READ, "held")
            self.held += 1
            return True
        try:   # held and readable: the server closed it or sent an alert
            s.recv(4096)
        except OSError:
            pass
        self._drop(s, True)
        return False

    def _loop(self) -> None:
        for _ in range(self.n):
            self._open()
        while not self.stopping.is_set():
            dropped = 0
            for key, _ in self.sel.select(timeout=0.2):
                dropped += not self._event(key.fileobj, key.data)
            if dropped:
                time.sleep(0.05)   # no busy loop if the server closes them at once
                for _ in range(dropped):
                    self._open()

    def start(self) -> None:
        self.thread.start()

    def wait_connected(self, limit: float) -> float:
        """Waits until all n are held or `limit` seconds passed; returns the seconds waited."""
        t0 = time.monotonic()
        while self.held < self.n and time.monotonic() - t0 < limit:
            time.sleep(0.1)
        return time.monotonic() - t0

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join()
        for key in list(self.sel.get_map().values()):
            key.fileobj.close()
        self.sel.close()


# ---------------------------------------------------------------------------------------------
# legitimate clients

def _client_ctx() -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _left(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("client deadline")
    return left


def _connect(port: int, ctx: ssl.SSLContext, deadline: float) -> ssl.SSLSocket:
    raw = socket.create_connection(("127.0.0.1", port), timeout=_left(deadline))
    try:
        raw.settimeout(_left(deadline))
        tls = ctx.wrap_socket(raw, server_hostname=HOST)   # the handshake, within the deadline
    except BaseException:
        raw.close()
        raise
    return tls


def _get(sock: socket.socket, deadline: float, close: bool) -> None:
    """One GET of PATH on an open connection; raises unless a complete 200 arrives in time."""
    conn = "close" if close else "keep-alive"
    sock.settimeout(_left(deadline))
    sock.sendall(f"GET {PATH} HTTP/1.1\r\nHost: {HOST}\r\nConnection: {conn}\r\n\r\n".encode())
    data = b""
    while b"\r\n\r\n" not in data:
        sock.settimeout(_left(deadline))
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed before the response head")
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    if not head.startswith(b"HTTP/1.1 200"):
        raise ConnectionError(head.split(b"\r\n", 1)[0].decode(errors="replace"))
    m = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
    if not m:
        raise ConnectionError("no Content-Length")
    length = int(m.group(1))
    while len(body) < length:
        sock.settimeout(_left(deadline))
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed in the body")
        body += chunk


@dataclass
class Outcomes:
    """What one kind of legitimate client saw: latencies (ms) of successes, failure reasons."""
    ok_ms: list[float] = field(default_factory=list)
    failed: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, started: float, error: BaseException | None) -> None:
        with self.lock:
            if error is None:
                self.ok_ms.append((time.monotonic() - started) * 1000)
            else:
                name = f"{type(error).__name__}: {str(error)[:60]}"
                self.failed[name] = self.failed.get(name, 0) + 1

    def summary(self) -> dict:
        n_fail = sum(self.failed.values())
        total = len(self.ok_ms) + n_fail
        ms = self.ok_ms
        return {"requests": total, "ok": len(ms), "failed": n_fail, "failures": self.failed,
                "success": len(ms) / total if total else None,
                "p50_ms": round(percentile(ms, 50), 1) if ms else None,
                "p99_ms": round(percentile(ms, 99), 1) if ms else None}


def new_conn_client(port: int, until: float, out: Outcomes) -> None:
    ctx = _client_ctx()
    while time.monotonic() < until:
        t0 = time.monotonic()
        deadline = t0 + TIMEOUT
        try:
            with _connect(port, ctx, deadline) as s:
                _get(s, deadline, close=True)
            out.add(t0, None)
        except (OSError, ValueError) as e:   # incl. ssl errors and timeouts
            out.add(t0, e)


def keepalive_client(port: int, until: float, out: Outcomes) -> None:
    """Each request's deadline starts when it is sent (for the first one: before the connect)."""
    ctx = _client_ctx()
    while time.monotonic() < until:
        sock = None
        try:
            for _ in range(KEEPALIVE_REQUESTS):
                if time.monotonic() >= until:
                    break
                t0 = time.monotonic()
                deadline = t0 + TIMEOUT
                try:
                    if sock is None:
                        sock = _connect(port, ctx, deadline)
                    _get(sock, deadline, close=False)
                    out.add(t0, None)
                except (OSError, ValueError) as e:
                    out.add(t0, e)
                    break   # a new connection for the next request
        finally:
            if sock is not None:
                sock.close()


def server_status(port: int, timeout: float = STATUS_TIMEOUT) -> dict[str, str]:
    """The key: value lines of http://127.0.0.1:port/server-status?auto."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.settimeout(timeout)
        s.sendall(b"GET /server-status?auto HTTP/1.0\r\nHost: localhost\r\n\r\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    body = data.split(b"\r\n\r\n", 1)[-1].decode(errors="replace")
    return dict(line.split(": ", 1) for line in body.splitlines() if ": " in line)


def status_poller(port: int, until: float, seen: list) -> None:
    """Appends BusyWorkers (int) or None (no answer in time) once a second."""
    while time.monotonic() < until:
        t0 = time.monotonic()
        try:
            seen.append(int(server_status(port)["BusyWorkers"]))
        except (OSError, KeyError, ValueError):
            seen.append(None)
        time.sleep(max(0.0, 1.0 - (time.monotonic() - t0)))


def legitimate_load(server: servers.Server, seconds: float) -> dict:
    """Runs the new-connection and keep-alive clients and the status poller for `seconds`."""
    port = server.ports["ecdsa"]
    until = time.monotonic() + seconds
    new_conn, keepalive, busy = Outcomes(), Outcomes(), []
    threads = [threading.Thread(target=new_conn_client, args=(port, until, new_conn))
               for _ in range(NEW_CONN_THREADS)]
    threads += [threading.Thread(target=keepalive_client, args=(port, until, keepalive))
                for _ in range(KEEPALIVE_THREADS)]
    threads.append(threading.Thread(target=status_poller,
                                    args=(server.ports["status"], until, busy)))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    answered = [b for b in busy if b is not None]
    return {"new_conn": new_conn.summary(), "keepalive": keepalive.summary(),
            "busy_workers": {"max": max(answered) if answered else None,
                             "polls": len(busy), "answered": len(answered), "samples": busy}}


# ---------------------------------------------------------------------------------------------
# one measurement: a fresh server, the flood, the clients

def error_log_codes(server: servers.Server) -> dict[str, int]:
    """Counts of the AH message codes of the error log's warn/error lines (e.g. AH00484)."""
    codes: dict[str, int] = {}
    for line in server.error_log().splitlines():
        m = re.search(r"\b(AH\d{5})\b", line)
        key = m.group(1) if m else line[:80]
        codes[key] = codes.get(key, 0) + 1
    return codes


def measure(server: servers.Server, n: int, payload: bytes, st: Settings) -> dict:
    server.start()
    try:
        legitimate_load(server, 1.0)                    # warm-up (and a check that it serves)
        time.sleep(1.0)
        idle_busy = server_status(server.ports["status"]).get("BusyWorkers")
        rss_before = procstat.rss_bytes(server.pid)
        flood = Flood(server.ports["ecdsa"], n, payload)
        flood.start()
        try:
            connect_s = flood.wait_connected(limit=st.settle + 5)
            time.sleep(st.settle)
            held_at_sample = flood.held
            rss_held = procstat.rss_bytes(server.pid)
            load = legitimate_load(server, st.seconds)
            held_at_end, reopened = flood.held, flood.reopened
        finally:
            flood.stop()
    finally:
        server.stop()
    return {"n": n, "server": server.kind, "connect_s": round(connect_s, 1),
            "held_at_sample": held_at_sample, "held_at_end": held_at_end, "reopened": reopened,
            "busy_workers_idle": int(idle_busy) if idle_busy else None,
            "rss_before": rss_before, "rss_held": rss_held,
            "rss_per_held_kib": round((rss_held - rss_before) / n / 1024, 1),
            **load, "error_log": error_log_codes(server)}


def show(r: dict) -> str:
    """One line of progress output."""
    nc, ka, bw = r["new_conn"], r["keepalive"], r["busy_workers"]
    return (f"  N={r['n']:<5} {r['server']:<8} held {r['held_at_sample']}/{r['n']} "
            f"(re-opened {r['reopened']}), busy {bw['max']} ({bw['answered']}/{bw['polls']} "
            f"polls answered), new conn {_pct(nc['success'])} p50 {_ms(nc['p50_ms'])} "
            f"p99 {_ms(nc['p99_ms'])}, keep-alive {_pct(ka['success'])} p99 {_ms(ka['p99_ms'])}, "
            f"{r['rss_per_held_kib']} KiB/held")


def run(st: Settings, module: Path) -> list[dict]:
    base = Path(tempfile.mkdtemp(prefix="modtls-flood-", dir="/tmp"))
    os.chmod(base, 0o755)
    made: list[servers.Server] = []
    results = []
    try:
        pki = servers.make_pki(base)
        files = {"1k.bin": base / "1k.bin"}
        files["1k.bin"].write_bytes(os.urandom(1024))
        os.chmod(files["1k.bin"], 0o644)
        payload = half_client_hello()
        order = list(KINDS)
        for n in st.levels:
            log(f"\n=== N = {n} half-open handshakes: {', '.join(order)} ===")
            for kind in order:
                bench_run.wait_until_quiet(st.quiet_wait)
                # A new ServerRoot each time: a fresh server and an error log of this run only.
                server = servers.make_server(kind, pki, files, module, mpm="",
                                             extra_ports=("status",), extra_conf=extra_conf)
                made.append(server)
                results.append(measure(server, n, payload, st))
                log(show(results[-1]))
                time.sleep(2)    # let the sockets of this run go away before the next
            order.reverse()
    finally:
        servers.stop_all(made, "bench-flood")
        shutil.rmtree(base, ignore_errors=True)
        for s in made:
            shutil.rmtree(s.root, ignore_errors=True)
    return results


# ---------------------------------------------------------------------------------------------
# output

def _pct(v) -> str:
    """A share rounded down to 0.1 %, so that any failure shows (99.99 % -> 99.9 %)."""
    return "-" if v is None else f"{math.floor(v * 1000) / 10:.1f}%"


def _ms(v) -> str:
    return "-" if v is None else f"{v:.0f} ms"


COLUMNS = ("N", "server", "held", "BusyWorkers max (polls answered)", "new conn ok",
           "new conn p50", "new conn p99", "keep-alive ok", "keep-alive p99", "RSS per held")


def rows(results: list[dict]) -> list[list[str]]:
    out = []
    for r in results:
        nc, ka, bw = r["new_conn"], r["keepalive"], r["busy_workers"]
        busy = "-" if bw["max"] is None else str(bw["max"])
        out.append([str(r["n"]), r["server"], f"{r['held_at_sample']}",
                    f"{busy} ({bw['answered']}/{bw['polls']})",
                    f"{_pct(nc['success'])} of {nc['requests']}", _ms(nc["p50_ms"]),
                    _ms(nc["p99_ms"]), f"{_pct(ka['success'])} of {ka['requests']}",
                    _ms(ka["p99_ms"]), f"{r['rss_per_held_kib']} KiB"])
    return out


def console_table(results: list[dict]) -> str:
    table = [list(COLUMNS)] + rows(results)
    widths = [max(len(row[i]) for row in table) for i in range(len(COLUMNS))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in table)


def markdown(result: dict) -> str:
    quick = ", quick" if result["quick"] else ""
    lines = [f"# Half-open TLS handshake flood ({result['date']}{quick})",
             "", f"{result['machine']['cpu_model']}, {result['machine']['cpus']} CPUs, "
             f"{result['software']['apache']}, module {result['settings']['module']}", "",
             "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(row) + " |" for row in rows(result["runs"])]
    lines += ["", *[f"- {n}" for n in result["notes"]], ""]
    return "\n".join(lines)


NOTES = [
    "Both servers: Debian's apache2 with the event MPM at Apache's default settings (400 "
    "workers), RequestReadTimeout handshake=10, a fresh server for every row.",
    "held: connections established (as the client sees them) that had sent the first half of "
    "a real ClientHello when memory was sampled; one the server closes (the handshake timeout) "
    "is re-opened at once, so N stay held. Once every worker is busy the server accepts no more: "
    "the rest wait in the kernel's listen queue.",
    f"new conn: {NEW_CONN_THREADS} threads, a new TLS connection and one GET of 1 KiB each; "
    f"keep-alive: {KEEPALIVE_THREADS} threads, {KEEPALIVE_REQUESTS} GETs per TLS connection. "
    f"Every request must complete within {TIMEOUT:.0f} s (connect + handshake + response) or "
    "counts as failed; latencies are of the successful requests.",
    "BusyWorkers: the largest value of /server-status?auto (plain HTTP port of the same server) "
    "polled once a second; (answered/polls): a poll unanswered within "
    f"{STATUS_TIMEOUT:.0f} s found no free worker.",
    "RSS per held: (RSS of the apache2 parent and children with N held - RSS before) / N; it "
    "includes the worker processes the MPM starts for the held connections, and it falls for N "
    "above the worker count because connections the server has not accepted cost it nothing.",
]


def write_all(result: dict, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "flood.json", out / "flood.md"]
    paths[0].write_text(json.dumps(result, indent=1) + "\n")
    paths[1].write_text(markdown(result))
    return paths


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="N=300 only, shorter")
    ap.add_argument("--out", type=Path, help="output directory (default bench/results, with "
                    "--quick build/bench-quick)")
    ap.add_argument("--module", type=Path, default=REPO / "build" / "mod_tls.so")
    ap.add_argument("--levels", help="comma-separated N values instead of the default")
    args = ap.parse_args(argv)
    module = args.module.resolve()
    bench_run.check_environment(module)
    st = QUICK if args.quick else FULL
    if args.levels:
        st = Settings(tuple(int(x) for x in args.levels.split(",")), st.seconds, st.settle,
                      st.quiet_wait)
    out = args.out or REPO / ("build/bench-quick" if args.quick else "bench/results")
    bench_run.raise_fd_limit(max(st.levels) + 1000)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, bench_run._terminate)
    started = time.monotonic()
    machine, software = bench_run.machine_info()
    try:
        runs = run(st, module)
    except KeyboardInterrupt:
        log("\nbench-flood: interrupted; every apache2 it started has been stopped")
        return 130
    except Exception:  # noqa: BLE001 - the servers are stopped; show what went wrong
        traceback.print_exc()
        return 1
    result = {"schema": SCHEMA,
              "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "quick": args.quick, "elapsed_s": round(time.monotonic() - started, 1),
              "machine": machine, "software": software,
              "settings": {**st.__dict__, "module": str(module), "mpm": "Apache defaults",
                           "timeout_s": TIMEOUT, "new_conn_threads": NEW_CONN_THREADS,
                           "keepalive_threads": KEEPALIVE_THREADS,
                           "keepalive_requests": KEEPALIVE_REQUESTS,
                           "request_read_timeout": "handshake=10"},
              "notes": NOTES, "runs": runs}
    paths = write_all(result, out)
    log("\n" + console_table(runs))
    log(f"\nbench-flood: {result['elapsed_s']:.0f} s; wrote {', '.join(str(p) for p in paths)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
