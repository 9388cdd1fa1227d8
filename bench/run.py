#!/usr/bin/python3
"""`make bench`: mod_tls against mod_ssl and plain HTTP on Debian's apache2, side by side.

    /usr/bin/python3 bench/run.py [--quick] [--out DIR] [--module PATH]

Starts the three servers (servers.py) fresh for every round, runs every load (metrics.py) against
each of them in turn, the order of the servers reversed every round, then prints a table and
writes DIR/latest.json, latest.md and latest.png (report.py). Every apache2 it starts is stopped
on the way out, also after an error, Ctrl-C or SIGTERM. Run as root (apache2 binds, then drops to
www-data).
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import drivers  # noqa: E402
import metrics  # noqa: E402
import procstat  # noqa: E402
import report  # noqa: E402
import servers  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
FULL = metrics.Settings(seconds=5, rounds=3, idle_connections=2000)
QUICK = metrics.Settings(seconds=1, rounds=1, idle_connections=500, quiet_wait=10)
QUIET_SHARE = 0.1   # a round starts when other programs use less than this share of the CPUs


def log(msg: str) -> None:
    print(msg, flush=True)


def _cmd_output(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def machine_info() -> tuple[dict, dict]:
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kib = int(f.readline().split()[1])
    osname = "unknown"
    if os.path.exists("/etc/os-release"):
        m = re.search(r'^PRETTY_NAME="?([^"\n]*)', Path("/etc/os-release").read_text(), re.M)
        osname = m.group(1) if m else osname
    lock = REPO / "bridge" / "Cargo.lock"
    m = re.search(r'name = "rustls"\nversion = "([^"]+)"', lock.read_text()) if lock.exists() \
        else None
    machine = {"hostname": socket.gethostname(), "cpu_model": cpu, "cpus": os.cpu_count(),
               "mem_gib": round(mem_kib / 2**20, 1), "os": osname, "kernel": platform.release(),
               "loadavg_at_start": Path("/proc/loadavg").read_text().split()[:3]}
    software = {
        "apache": _cmd_output([servers.APACHE2, "-v"]).splitlines()[0].split(": ", 1)[-1],
        "openssl": " ".join(_cmd_output(["openssl", "version"]).split()[:2]),
        "rustls": m.group(1) if m else "unknown",
        "wrk": (_cmd_output(["wrk", "-v"]).splitlines() or ["unknown"])[0],
        "h2load": _cmd_output(["h2load", "--version"]),
        "python": platform.python_version(),
        "git_commit": _cmd_output(["git", "-C", str(REPO), "rev-parse", "HEAD"]),
        "git_dirty": bool(_cmd_output(["git", "-C", str(REPO), "status", "--porcelain"])),
    }
    return machine, software


def tls_parameters(server: servers.Server) -> dict:
    """What an OpenSSL client negotiates with each TLS port (protocol, cipher, ALPN), recorded
    so that a reader can see both servers did the same work."""
    found = {}
    for port, version in (("ecdsa", "-tls1_3"), ("ecdsa", "-tls1_2"), ("rsa", "-tls1_3"),
                          ("rsa", "-tls1_2")):
        out = subprocess.run(["openssl", "s_client", "-connect", f"{drivers.HOST}:"
                              f"{server.ports[port]}", version, "-alpn", "h2,http/1.1"],
                             input="", capture_output=True, text=True, errors="replace",
                             timeout=20).stdout
        proto = re.search(r"^New, (\S+), Cipher is (\S+)", out, re.M)
        alpn = re.search(r"^ALPN protocol: (\S+)", out, re.M)
        tmp_key = re.search(r"^Server Temp Key: ([^\n]+)", out, re.M)
        found[f"{port} {version[1:]}"] = (
            f"{proto.group(1)} {proto.group(2)}" if proto else "handshake failed") + \
            f", key exchange {tmp_key.group(1) if tmp_key else '?'}" + \
            f", ALPN {alpn.group(1) if alpn else 'none'}"
    return found


def raise_fd_limit(need: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard < need:
        raise SystemExit(f"RLIMIT_NOFILE hard limit {hard} < {need}: cannot hold the idle "
                         f"connections (raise it, e.g. `ulimit -Hn {need}` as root)")


def check_environment(module: Path) -> None:
    if os.geteuid() != 0:
        raise SystemExit("run as root: apache2 switches its workers to www-data")
    missing = [t for t in ("wrk", "h2load", "openssl", servers.APACHE2) if not shutil.which(t)]
    if missing:
        raise SystemExit(f"missing: {', '.join(missing)} (make setup)")
    if not module.is_file():
        raise SystemExit(f"module not found: {module} (build it with `make`)")
    addrs = {a[4][0] for a in socket.getaddrinfo(drivers.HOST, 80, socket.AF_INET)}
    if addrs != {"127.0.0.1"}:
        raise SystemExit(f"{drivers.HOST} must resolve to 127.0.0.1 only (got {addrs})")


def others_cpu_share(interval: float = 1.0) -> float:
    """Share of the machine's CPU time used by other programs over `interval` seconds."""
    (busy0, _), own0 = procstat.system_cpu_seconds(), procstat.own_cpu_seconds()
    time.sleep(interval)
    (busy1, _), own1 = procstat.system_cpu_seconds(), procstat.own_cpu_seconds()
    return max(0.0, busy1 - busy0 - (own1 - own0)) / (interval * (os.cpu_count() or 1))


def wait_until_quiet(max_wait: float) -> None:
    """Waits, at most max_wait seconds, until other programs leave the CPUs (mostly) alone."""
    deadline = time.monotonic() + max_wait
    while (share := others_cpu_share()) >= QUIET_SHARE:
        if time.monotonic() >= deadline:
            log(f"bench: other programs still use {share:.0%} of the CPUs; going on anyway")
            return
        log(f"bench: other programs use {share:.0%} of the CPUs; waiting (at most "
            f"{deadline - time.monotonic():.0f} s more)")


def _terminate(signum, _frame):
    raise KeyboardInterrupt(f"signal {signum}")


def run(settings: metrics.Settings, module: Path, quick: bool) -> dict:
    started = time.monotonic()
    machine, software = machine_info()
    base = Path(tempfile.mkdtemp(prefix="modtls-bench-", dir="/tmp"))
    os.chmod(base, 0o755)
    made: list[servers.Server] = []
    got = Collected()
    tls_params: dict = {}
    try:
        log(f"bench: preparing certificates and files in {base}")
        pki = servers.make_pki(base)
        files = {"1k.bin": base / "1k.bin", "100m.bin": base / "100m.bin"}
        files["1k.bin"].write_bytes(os.urandom(1024))
        with open(files["100m.bin"], "wb") as f:
            for _ in range(100):
                f.write(os.urandom(1 << 20))
        for p in files.values():
            os.chmod(p, 0o644)
        for kind in servers.SERVER_KINDS:
            made.append(servers.make_server(kind, pki, files, module))
            log(f"bench: {kind} ServerRoot {made[-1].root}, ports {made[-1].ports}")
        order = list(made)
        for rnd in range(1, settings.rounds + 1):
            log(f"\n=== round {rnd}/{settings.rounds}: "
                f"{', '.join(s.kind for s in order)} ===")
            wait_until_quiet(settings.quiet_wait)
            for s in order:
                s.start()
                drivers.wrk(s.url("ecdsa", "/1k.bin"), threads=1, conns=4, seconds=1)  # warm-up
            if rnd == 1:
                tls_params = {s.kind: tls_parameters(s) for s in made if s.tls}
            for name, keys, fn in metrics.LOADS:
                for s in order:
                    measure_one(name, keys, fn, s, settings, base, rnd, got)
            for s in order:
                s.stop()
            order.reverse()
    finally:
        servers.stop_all(made, "bench")
        shutil.rmtree(base, ignore_errors=True)
        for s in made:
            errors = [l for l in s.error_log().splitlines() if "[error]" in l or "crit" in l]
            if errors:
                log(f"bench: {s.kind} error log ({s.root}/logs/error.log) has "
                    f"{len(errors)} error lines, e.g. {errors[0][:200]}")
            else:
                shutil.rmtree(s.root, ignore_errors=True)
    result = {
        "schema": report.SCHEMA,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "quick": quick, "rounds": settings.rounds,
        "elapsed_s": round(time.monotonic() - started, 1),
        "machine": machine, "software": software,
        "settings": {**settings.__dict__, "mpm": servers.MPM_SETTINGS.strip().splitlines(),
                     "module": str(module)},
        "servers": list(servers.SERVER_KINDS),
        "tls_parameters": tls_params,
        "foreign_cpu_share": got.foreign_summary(),
        "notes": NOTES + got.foreign_notes(),
        "metrics": report.summarize(got.samples, got.na),
    }
    return result


NOTES = [
    "Full and resumed handshakes: parallel `openssl s_time -new|-reuse` clients (HTTP/1.0 GET of "
    "1 KiB, one connection per request); each connection is marked resumed or full, full runs "
    "fail if any connection resumed. Plain HTTP: wrk with `Connection: close` (a new TCP "
    "connection per request, the ceiling).",
    "mod_ssl full-handshake ports: SSLSessionCache none, SSLSessionTickets off; its resumption "
    "port: session tickets on. mod_tls: the default TLSSessionCache (shmcb, shared by all worker "
    "processes) on every port; full-handshake runs never offer a session, but each of their "
    "handshakes stores one (part of its cost).",
    "CPU = utime + stime of the apache2 parent and all its children (/proc/<pid>/stat), sampled "
    "before and after each client run; memory = Rss (smaps_rollup) of the same processes.",
]


@dataclass
class Collected:
    samples: dict = field(default_factory=dict)   # [metric][server] -> [{value, round, ...}]
    na: dict = field(default_factory=dict)        # [metric][server] -> reason
    foreign: list = field(default_factory=list)   # per run: share of all CPUs used by others

    def foreign_summary(self) -> dict:
        if not self.foreign:
            return {}
        return {"median": round(statistics.median(self.foreign), 3),
                "max": round(max(self.foreign), 3), "runs": len(self.foreign)}

    def foreign_notes(self) -> list[str]:
        f = self.foreign_summary()
        if not f:
            return []
        note = (f"CPU time not charged to the server under test or to the bench and its "
                f"clients (other programs, kernel threads) was a median {f['median']:.0%} (max "
                f"{f['max']:.0%}) of the machine's CPU time during the measured runs")
        if f["median"] > 0.05:
            note += ": the machine was not idle, so the rates are noisy (the CPU per handshake "
            note += "or request of each server is the more robust figure)"
        return [note + "."]


def measure_one(name, keys, fn, server, settings, scratch, rnd, got: Collected) -> None:
    samples, na = got.samples, got.na
    t0 = time.monotonic()
    try:
        values, details = fn(server, settings, scratch)
    except metrics.NotApplicable as e:
        log(f"  {name:<32} {server.kind:<8} n/a: {e}")
        for m in keys:
            na.setdefault(m, {})[server.kind] = str(e)
        return
    except (drivers.DriverError, OSError, subprocess.SubprocessError) as e:
        log(f"  {name:<32} {server.kind:<8} FAILED: {str(e).strip()[:300]}")
        for m in keys:
            na.setdefault(m, {})[server.kind] = f"failed: {str(e).strip()[:300]}"
        return
    shown, extra = [], ""
    if "foreign_cpu_s" in details and details["seconds"] > 0:
        share = details["foreign_cpu_s"] / (details["seconds"] * (os.cpu_count() or 1))
        got.foreign.append(share)
        if share > 0.1:
            extra = f", {share:.0%} of the CPUs busy elsewhere"
    for key, v in values.items():
        if isinstance(v, metrics.NotApplicable) or v is None:
            na.setdefault(key, {})[server.kind] = str(v) if v else "no data"
            continue
        samples.setdefault(key, {}).setdefault(server.kind, []).append(
            {"value": v, "round": rnd, **details})
        shown.append(f"{report.fmt(v)} {metrics.BY_KEY[key].unit}")
    log(f"  {name:<32} {server.kind:<8} {', '.join(shown)}  "
        f"({time.monotonic() - t0:.1f} s{extra})")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="1 short round (< 2 minutes)")
    ap.add_argument("--out", type=Path,
                    help="output directory (default bench/results, with --quick "
                         "build/bench-quick, so a quick run never replaces the full results)")
    ap.add_argument("--module", type=Path, default=REPO / "build" / "mod_tls.so",
                    help="mod_tls.so to load (default build/mod_tls.so)")
    args = ap.parse_args(argv)
    module = args.module.resolve()
    check_environment(module)
    settings = QUICK if args.quick else FULL
    out = args.out or REPO / ("build/bench-quick" if args.quick else "bench/results")
    raise_fd_limit(settings.idle_connections + 1000)
    signal.signal(signal.SIGINT, _terminate)   # also when started with SIGINT ignored
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    try:
        result = run(settings, module, args.quick)
    except KeyboardInterrupt:
        log("\nbench: interrupted; every apache2 it started has been stopped")
        return 130
    except Exception:  # noqa: BLE001 - the servers are stopped; show what went wrong
        traceback.print_exc()
        return 1
    paths = report.write_all(result, out)
    log("\n" + report.console_table(result))
    for n in report.na_notes(result):
        log(f"  {n}")
    log(f"\nbench: {result['elapsed_s']:.0f} s; wrote {', '.join(str(p) for p in paths)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
