"""What is measured: one function per load, each yielding one or more metrics for one server.

A load function gets the server, the run settings and a scratch directory, runs one client
against it while sampling the server's CPU time (procstat), and returns {metric key: value} plus
details for the JSON. It raises NotApplicable when a server cannot do what the load needs (mod_tls
without h2); that is reported as "n/a" with the reason, never as a number.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import drivers
import procstat
from servers import Server


class NotApplicable(Exception):
    pass


@dataclass(frozen=True)
class Metric:
    key: str
    title: str
    unit: str
    higher_is_better: bool


@dataclass(frozen=True)
class Settings:
    seconds: int            # length of each load
    rounds: int
    idle_connections: int
    handshake_procs: int = 4           # parallel `openssl s_time` clients
    fixed_rate_clients: int = 10
    fixed_rate_per_client: int = 100   # requests/s per client: 1,000 requests/s in all
    quiet_wait: int = 60    # seconds a round may wait for other programs to leave the CPUs


METRICS = [
    Metric("hs13_ecdsa_rate", "full handshakes/s, TLS 1.3, ECDSA P-256", "1/s", True),
    Metric("hs13_ecdsa_cpu", "server CPU per full handshake, TLS 1.3, ECDSA", "µs", False),
    Metric("hs12_ecdsa_rate", "full handshakes/s, TLS 1.2, ECDSA P-256", "1/s", True),
    Metric("hs12_ecdsa_cpu", "server CPU per full handshake, TLS 1.2, ECDSA", "µs", False),
    Metric("hs13_rsa_rate", "full handshakes/s, TLS 1.3, RSA-2048", "1/s", True),
    Metric("hs13_rsa_cpu", "server CPU per full handshake, TLS 1.3, RSA-2048", "µs", False),
    Metric("hs12_rsa_rate", "full handshakes/s, TLS 1.2, RSA-2048", "1/s", True),
    Metric("hs12_rsa_cpu", "server CPU per full handshake, TLS 1.2, RSA-2048", "µs", False),
    Metric("hs13_pq_rate", "full handshakes/s, TLS 1.3, ECDSA, X25519MLKEM768 (rustls client)",
           "1/s", True),
    Metric("hs13_pq_cpu", "server CPU per full handshake, TLS 1.3, ECDSA, X25519MLKEM768", "µs",
           False),
    Metric("hs13_x25519_rate", "full handshakes/s, TLS 1.3, ECDSA, x25519 (rustls client)", "1/s",
           True),
    Metric("hs13_x25519_cpu", "server CPU per full handshake, TLS 1.3, ECDSA, x25519 (rustls "
           "client)", "µs", False),
    Metric("resumed_rate", "resumed handshakes/s, TLS 1.3, ECDSA", "1/s", True),
    Metric("resumed_cpu", "server CPU per resumed handshake, TLS 1.3", "µs", False),
    Metric("resumed_share", "share of -reuse connections actually resumed", "%", True),
    Metric("ka_h1_rate", "keep-alive requests/s, 1 KiB, HTTP/1.1", "1/s", True),
    Metric("ka_h1_cpu", "server CPU per request, 1 KiB, HTTP/1.1", "µs", False),
    Metric("ka_h2_rate", "keep-alive requests/s, 1 KiB, h2", "1/s", True),
    Metric("ka_h2_cpu", "server CPU per request, 1 KiB, h2", "µs", False),
    Metric("bulk1_mbs", "bulk download, 100 MiB file, 1 connection", "MB/s", True),
    Metric("bulk8_mbs", "bulk download, 100 MiB file, 8 connections", "MB/s", True),
    Metric("idle_mem", "memory per idle established connection", "KiB", False),
    Metric("lat_p50", "latency p50 at 1,000 requests/s, HTTP/1.1", "ms", False),
    Metric("lat_p99", "latency p99 at 1,000 requests/s, HTTP/1.1", "ms", False),
]
BY_KEY = {m.key: m for m in METRICS}


def _cpu_around(server: Server, load_fn):
    """Runs load_fn; returns its Load and the server's CPU seconds during it. The Load's info
    gets `foreign_cpu_s`: CPU the rest of the machine used meanwhile (neither this server nor
    the bench and its clients; another program busy on the machine makes every figure noisy)
    and `steal_s` (CPU time the hypervisor took)."""
    server0, (machine0, steal0), own0 = (procstat.cpu_seconds(server.pid),
                                         procstat.system_cpu_seconds(), procstat.own_cpu_seconds())
    load = load_fn()
    server_cpu = procstat.cpu_seconds(server.pid) - server0
    machine1, steal1 = procstat.system_cpu_seconds()
    own = procstat.own_cpu_seconds() - own0
    load.info["foreign_cpu_s"] = round(max(0.0, machine1 - machine0 - server_cpu - own), 2)
    load.info["steal_s"] = round(steal1 - steal0, 2)
    return load, server_cpu


def _details(load: drivers.Load, cpu: float) -> dict:
    return {"count": load.count, "seconds": round(load.seconds, 3), "server_cpu_s": round(cpu, 3),
            "client": load.client, **load.info}


def _per_us(cpu: float, count: int) -> float | None:
    return cpu / count * 1e6 if count else None


def handshakes(server: Server, st: Settings, scratch: Path, *, tls: str, port: str,
               reuse: bool, prefix: str) -> tuple[dict, dict]:
    """New connection per request. TLS servers: `openssl s_time` (full handshakes with -new,
    resumed with -reuse; the per-connection marks are checked). Plain HTTP: wrk with
    `Connection: close`, a new TCP connection per request (the ceiling)."""
    if server.tls:
        load, cpu = _cpu_around(server, lambda: drivers.s_time(
            server.ports[port], procs=st.handshake_procs, seconds=st.seconds, reuse=reuse,
            tls=tls, path="/1k.bin"))
        if not reuse and load.info["resumed"]:
            raise drivers.DriverError(f"{load.info['resumed']} of {load.count} connections were "
                                      f"resumed in a full-handshake run")
    else:
        load, cpu = _cpu_around(server, lambda: drivers.wrk(
            server.url(port, "/1k.bin"), threads=2, conns=16, seconds=st.seconds, close=True))
    values = {f"{prefix}_rate": load.rate, f"{prefix}_cpu": _per_us(cpu, load.count)}
    if reuse:
        values[f"{prefix}_share"] = (100.0 * load.info["resumed"] / load.count if server.tls else
                                     NotApplicable("plain HTTP has no TLS session to resume"))
    return values, _details(load, cpu)


def keepalive_h1(server: Server, st: Settings, scratch: Path) -> tuple[dict, dict]:
    load, cpu = _cpu_around(server, lambda: drivers.wrk(
        server.url("ecdsa", "/1k.bin"), threads=2, conns=20, seconds=st.seconds))
    return {"ka_h1_rate": load.rate, "ka_h1_cpu": _per_us(cpu, load.count)}, _details(load, cpu)


def _h2_probe(server: Server) -> None:
    """One h2load request offering h2 first; NotApplicable when the server picks anything else."""
    load = drivers.h2load(server.url("ecdsa", "/1k.bin"), clients=1, seconds=1)
    if load.info.get("protocol") not in ("h2", "h2c"):
        raise NotApplicable(f"{server.kind} did not negotiate h2 (ALPN offered h2,http/1.1; it "
                            f"chose {load.info.get('protocol')})")


def keepalive_h2(server: Server, st: Settings, scratch: Path) -> tuple[dict, dict]:
    _h2_probe(server)
    load, cpu = _cpu_around(server, lambda: drivers.h2load(
        server.url("ecdsa", "/1k.bin"), clients=8, streams=10, threads=2, seconds=st.seconds))
    if load.info.get("protocol") not in ("h2", "h2c"):
        raise NotApplicable(f"{server.kind} negotiated {load.info.get('protocol')}, not h2")
    return {"ka_h2_rate": load.rate, "ka_h2_cpu": _per_us(cpu, load.count)}, _details(load, cpu)


def bulk(server: Server, st: Settings, scratch: Path, *, conns: int) -> tuple[dict, dict]:
    load, cpu = _cpu_around(server, lambda: drivers.wrk(
        server.url("ecdsa", "/100m.bin"), threads=min(conns, 2), conns=conns,
        seconds=st.seconds, timeout_s=60))
    mbs = load.bytes / load.seconds / 1e6
    return {f"bulk{conns}_mbs": mbs}, {**_details(load, cpu), "bytes": load.bytes}


def fixed_rate_latency(server: Server, st: Settings, scratch: Path) -> tuple[dict, dict]:
    log = scratch / f"latency-{server.kind}.log"
    target = st.fixed_rate_clients * st.fixed_rate_per_client
    load, cpu = _cpu_around(server, lambda: drivers.h2load(
        server.url("ecdsa", "/1k.bin"), clients=st.fixed_rate_clients, h1=True,
        rps=st.fixed_rate_per_client, seconds=st.seconds, log_file=log))
    log.unlink(missing_ok=True)
    if "p50_us" not in load.info:
        raise drivers.DriverError("h2load logged no successful request")
    if load.rate < 0.9 * target:
        raise drivers.DriverError(f"only {load.rate:.0f} of {target} requests/s: saturated")
    return ({"lat_p50": load.info["p50_us"] / 1000, "lat_p99": load.info["p99_us"] / 1000},
            {**_details(load, cpu), "target_rps": target})


def idle_memory(server: Server, st: Settings, scratch: Path) -> tuple[dict, dict]:
    """RSS growth of all the server's processes while st.idle_connections connections, each after
    one complete request, stay open and idle; divided by the connections still open."""
    drivers.idle_connections(server.ports["ecdsa"], tls=server.tls, count=20, path="/1k.bin",
                             measure=lambda: None, settle=0.2)   # warm-up
    before = procstat.rss_bytes(server.pid)
    done, still_open, after, failures = drivers.idle_connections(
        server.ports["ecdsa"], tls=server.tls, count=st.idle_connections, path="/1k.bin",
        measure=lambda: procstat.rss_bytes(server.pid))
    if still_open == 0:
        raise drivers.DriverError(f"no connection stayed open ({failures})")
    details = {"requested": st.idle_connections, "completed": done, "open_at_sample": still_open,
               "rss_before": before, "rss_after": after,
               "failures": [repr(f) for f in failures]}
    return {"idle_mem": (after - before) / still_open / 1024}, details


# bridge/examples/handshake_load, built by `make bench` (run.py --handshake-client overrides).
HANDSHAKE_CLIENT = Path(__file__).resolve().parents[1] / "build/cargo/release/examples/handshake_load"


def group_handshakes(server: Server, st: Settings, scratch: Path, *, group: str,
                     prefix: str) -> tuple[dict, dict]:
    """Full TLS 1.3 handshakes from a rustls client offering only `group` (Debian 12's OpenSSL
    cannot offer X25519MLKEM768), so the hybrid's cost shows against x25519 from the same client."""
    if not server.tls:
        raise NotApplicable("plain HTTP makes no key exchange")
    if not HANDSHAKE_CLIENT.exists():
        raise NotApplicable(f"{HANDSHAKE_CLIENT} is missing (make bench builds it)")
    load, cpu = _cpu_around(server, lambda: drivers.group_handshakes(
        HANDSHAKE_CLIENT, server.ports["ecdsa"], procs=st.handshake_procs, seconds=st.seconds,
        group=group, path="/1k.bin"))
    if load.count == 0:
        raise NotApplicable(f"{server.kind} does not negotiate {group} "
                            f"({load.info['failures']} handshakes failed)")
    if set(load.info["groups"]) != {group.upper()}:
        raise drivers.DriverError(f"asked for {group}, negotiated {load.info['groups']}")
    return {f"{prefix}_rate": load.rate, f"{prefix}_cpu": _per_us(cpu, load.count)}, _details(load, cpu)


def _handshake_load(tls: str, port: str, reuse: bool, prefix: str):
    return lambda s, st, d: handshakes(s, st, d, tls=tls, port=port, reuse=reuse, prefix=prefix)


# (name shown in progress, the metric keys it yields, function); every load runs once per
# server per round, in this order.
LOADS = [
    ("idle memory", ["idle_mem"], idle_memory),
    ("full handshakes TLS 1.3 ECDSA", ["hs13_ecdsa_rate", "hs13_ecdsa_cpu"],
     _handshake_load("1.3", "ecdsa", False, "hs13_ecdsa")),
    ("full handshakes TLS 1.2 ECDSA", ["hs12_ecdsa_rate", "hs12_ecdsa_cpu"],
     _handshake_load("1.2", "ecdsa", False, "hs12_ecdsa")),
    ("full handshakes TLS 1.3 RSA", ["hs13_rsa_rate", "hs13_rsa_cpu"],
     _handshake_load("1.3", "rsa", False, "hs13_rsa")),
    ("full handshakes TLS 1.2 RSA", ["hs12_rsa_rate", "hs12_rsa_cpu"],
     _handshake_load("1.2", "rsa", False, "hs12_rsa")),
    ("full handshakes X25519MLKEM768", ["hs13_pq_rate", "hs13_pq_cpu"],
     lambda s, st, d: group_handshakes(s, st, d, group="X25519MLKEM768", prefix="hs13_pq")),
    ("full handshakes x25519 (rustls)", ["hs13_x25519_rate", "hs13_x25519_cpu"],
     lambda s, st, d: group_handshakes(s, st, d, group="x25519", prefix="hs13_x25519")),
    ("resumed handshakes TLS 1.3", ["resumed_rate", "resumed_cpu", "resumed_share"],
     _handshake_load("1.3", "resume", True, "resumed")),
    ("keep-alive HTTP/1.1", ["ka_h1_rate", "ka_h1_cpu"], keepalive_h1),
    ("keep-alive h2", ["ka_h2_rate", "ka_h2_cpu"], keepalive_h2),
    ("bulk 1 connection", ["bulk1_mbs"], lambda s, st, d: bulk(s, st, d, conns=1)),
    ("bulk 8 connections", ["bulk8_mbs"], lambda s, st, d: bulk(s, st, d, conns=8)),
    ("fixed-rate latency", ["lat_p50", "lat_p99"], fixed_rate_latency),
]
