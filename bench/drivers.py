"""Load generators: wrk, h2load, `openssl s_time` and a Python client for idle connections.

Every driver talks to servers.HOST (`localhost`, 127.0.0.1) only.

Each driver returns a Load: how many handshakes or requests completed, bytes read, the wall time
the client ran, and driver-specific details (errors, resumed count, negotiated protocol ...).
"""
from __future__ import annotations

import asyncio
import json
import re
import ssl
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import servers

HOST = servers.HOST
WRK_SCRIPT = Path(__file__).resolve().parent / "wrk_report.lua"


@dataclass
class Load:
    count: int                  # completed handshakes or requests
    bytes: int                  # bytes the client read
    seconds: float              # wall time of the load
    client: str                 # the command (or a description of it)
    info: dict = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else 0.0


class DriverError(RuntimeError):
    pass


def _run(cmd: list[str], timeout: float) -> str:
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          errors="replace", timeout=timeout)
    if proc.returncode != 0:
        raise DriverError(f"{' '.join(cmd)} failed (rc={proc.returncode}):\n{proc.stdout[-2000:]}")
    return proc.stdout


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(round(p / 100.0 * len(s) + 0.5)) - 1))
    return s[k]


# ---------------------------------------------------------------------------------------------
# wrk: HTTP/1.1 keep-alive, new connection per request (plain HTTP) and bulk downloads

def wrk(url: str, *, threads: int, conns: int, seconds: float, close: bool = False,
        timeout_s: int = 10) -> Load:
    cmd = ["wrk", f"-t{threads}", f"-c{conns}", f"-d{seconds:g}s", f"--timeout={timeout_s}s",
           "-s", str(WRK_SCRIPT)]
    if close:
        cmd += ["-H", "Connection: close"]
    cmd.append(url)
    out = _run(cmd, timeout=seconds + timeout_s + 30)
    m = re.search(r"^WRK_JSON (\{.*\})$", out, re.M)
    if not m:
        raise DriverError(f"no summary from wrk:\n{out[-2000:]}")
    s = json.loads(m.group(1))
    errors = sum(s["errors"].values())
    if s["requests"] == 0 and s["bytes"] == 0:
        raise DriverError(f"wrk received nothing ({errors} errors: {s['errors']})")
    return Load(s["requests"], s["bytes"], s["duration_us"] / 1e6, " ".join(cmd[:-1]),
                {"errors": errors, "p50_us": s["p50_us"], "p99_us": s["p99_us"]})


# ---------------------------------------------------------------------------------------------
# h2load: h2 keep-alive, and the fixed-rate latency run (HTTP/1.1)

def h2load(url: str, *, clients: int, streams: int = 1, threads: int = 1, seconds: float,
           h1: bool = False, rps: int | None = None, log_file: Path | None = None) -> Load:
    cmd = ["h2load", f"-c{clients}", f"-m{streams}", f"-t{threads}", f"-D{seconds:g}"]
    if h1:
        cmd.append("--h1")
    if rps:
        cmd.append(f"--rps={rps}")
    if log_file:
        cmd.append(f"--log-file={log_file}")
    cmd.append(url)
    out = _run(cmd, timeout=seconds + 60)
    m = re.search(r"^finished in ([\d.]+)(m?s),", out, re.M)
    r = re.search(r"^requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, "
                  r"(\d+) failed, (\d+) errored, (\d+) timeout", out, re.M)
    t = re.search(r"^traffic: .*?\((\d+)\) total", out, re.M)
    if not (m and r and t):
        raise DriverError(f"unexpected h2load output:\n{out[-2000:]}")
    secs = float(m.group(1)) / (1000 if m.group(2) == "ms" else 1)
    info = {"failed": int(r.group(5)), "errored": int(r.group(6)), "timeout": int(r.group(7))}
    for key, rx in (("protocol", r"^Application protocol: (\S+)"),
                    ("tls", r"^TLS Protocol: (\S+)"), ("cipher", r"^Cipher: (\S+)")):
        found = re.search(rx, out, re.M)
        info[key] = found.group(1) if found else None
    if log_file:
        durations = [int(line.split("\t")[2]) for line in log_file.read_text().splitlines()
                     if line.count("\t") == 2 and line.split("\t")[1] == "200"]
        if durations:
            info["p50_us"] = percentile(durations, 50)
            info["p99_us"] = percentile(durations, 99)
            info["latency_samples"] = len(durations)
    return Load(int(r.group(4)), int(t.group(1)), secs, " ".join(cmd[:-1]), info)


# ---------------------------------------------------------------------------------------------
def _parallel(cmd: list[str], procs: int, seconds: int) -> tuple[list[str], float]:
    """`procs` copies of a client that runs for `seconds`: their outputs and the wall time."""
    t0 = time.monotonic()
    children = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                 errors="replace") for _ in range(procs)]
    outs = []
    try:
        for c in children:
            outs.append(c.communicate(timeout=seconds + 30)[0])
    finally:
        for c in children:
            if c.poll() is None:
                c.kill()
                c.wait()
    return outs, time.monotonic() - t0


# openssl s_time: full and resumed handshakes, verified per connection

def s_time(port: int, *, procs: int, seconds: int, reuse: bool, tls: str, path: str) -> Load:
    """`procs` parallel `openssl s_time -new|-reuse` clients, each a loop of connect, handshake,
    `GET path HTTP/1.0`, close. s_time prints one mark per connection: `r` when the session was
    resumed, `*` for a full handshake; the marks are counted, so resumption is checked, not assumed.
    (wrk keeps its session across reconnects and resumes whenever the server lets it, without
    saying so: it cannot drive full handshakes against a server whose cache cannot be turned off.)
    """
    cmd = ["openssl", "s_time", "-connect", f"{HOST}:{port}", "-reuse" if reuse else "-new",
           "-time", str(seconds), "-www", path, "-tls1_3" if tls == "1.3" else "-tls1_2"]
    outs, elapsed = _parallel(cmd, procs, seconds)
    marks = "".join(line for out in outs for line in out.splitlines()
                    if line and set(line) <= set("r*t3"))
    nbytes = sum(int(m) for out in outs
                 for m in re.findall(r"connections in [\d.]+s;.*bytes read (\d+)", out))
    if not marks:
        raise DriverError(f"s_time made no connection:\n{outs[0][-2000:] if outs else ''}")
    resumed = marks.count("r")
    return Load(len(marks), nbytes, elapsed, f"{procs} x {' '.join(cmd)}",
                {"resumed": resumed, "full": len(marks) - resumed})


# bridge/examples/handshake_load: full TLS 1.3 handshakes offering one key exchange group

def group_handshakes(client: Path, port: int, *, procs: int, seconds: int, group: str,
                     path: str) -> Load:
    """`procs` parallel rustls clients, each a loop of connect, full handshake offering only
    `group`, `GET path HTTP/1.0`, close. Each prints its count and the group it negotiated."""
    cmd = [str(client), HOST, str(port), HOST, group, str(seconds), path]
    outs, elapsed = _parallel(cmd, procs, seconds)
    done = failed = 0
    groups = set()
    for out in outs:
        m = re.search(r"connections (\d+) failures (\d+) group (\S+)", out)
        if not m:
            raise DriverError(f"handshake_load printed no result:\n{out[-2000:]}")
        done += int(m.group(1))
        failed += int(m.group(2))
        if int(m.group(1)):
            groups.add(m.group(3).upper())
    return Load(done, 0, elapsed, f"{procs} x {' '.join(cmd)}", {"failures": failed, "groups": sorted(groups)})


# ---------------------------------------------------------------------------------------------
# idle established connections (memory per connection)

async def _hold(port: int, tls: bool, count: int, path: str, measure, settle: float,
                concurrency: int = 50, timeout: float = 30.0):
    ctx = None
    if tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    gate = asyncio.Semaphore(concurrency)
    streams: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    request = f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode()

    async def one():
        async with gate:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(
                "127.0.0.1", port, ssl=ctx, server_hostname=HOST if tls else None), timeout)
            streams.append((reader, writer))
            writer.write(request)
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
            length = re.search(rb"(?i)content-length:\s*(\d+)", head)
            await asyncio.wait_for(reader.readexactly(int(length.group(1)) if length else 0),
                                   timeout)

    try:
        results = await asyncio.gather(*(one() for _ in range(count)), return_exceptions=True)
        failures = [r for r in results if isinstance(r, BaseException)]
        await asyncio.sleep(settle)
        open_now = sum(1 for r, w in streams if not r.at_eof() and not w.is_closing())
        return len(results) - len(failures), open_now, measure(), failures[:3]
    finally:
        for _, w in streams:
            w.transport.abort()


def idle_connections(port: int, *, tls: bool, count: int, path: str, measure,
                     settle: float = 1.0) -> tuple[int, int, object, list]:
    """Opens `count` connections that each complete one request and then stay idle, calls
    measure() while they are open, closes them. Returns (completed, still open, measure(),
    the first few failures)."""
    return asyncio.run(_hold(port, tls, count, path, measure, settle))
