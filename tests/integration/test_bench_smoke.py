"""Smoke test of the benchmark (`make bench QUICK=1`): it runs and writes valid output.

Runs bench/run.py --quick against the module under test, into a temporary directory, and checks
the JSON schema, that every metric has a number for each of the three servers (or an explicit
n/a with its reason where one is expected), and that the table and the chart were written.
Nothing here looks at how fast anything is: timings are never pass/fail.
"""
from __future__ import annotations

import json
import math
import re
import subprocess
import tempfile
from pathlib import Path

import pytest

import apache as apache_mod

REPO = Path(__file__).resolve().parents[2]
SERVERS = ("mod_ssl", "mod_tls", "plain")
# Every figure issue 9 asks for.
REQUIRED_METRICS = (
    "hs13_ecdsa_rate", "hs13_ecdsa_cpu", "hs12_ecdsa_rate", "hs12_ecdsa_cpu",
    "hs13_rsa_rate", "hs13_rsa_cpu", "hs12_rsa_rate", "hs12_rsa_cpu",
    "resumed_rate", "resumed_cpu", "ka_h1_rate", "ka_h1_cpu", "ka_h2_rate", "ka_h2_cpu",
    "bulk1_mbs", "bulk8_mbs", "idle_mem", "lat_p50", "lat_p99",
    "hs13_pq_rate", "hs13_pq_cpu", "hs13_x25519_rate", "hs13_x25519_cpu",
)
# (metric, server) pairs that may be n/a, and a word their reason must contain.
ALLOWED_NA = {
    ("resumed_share", "plain"): "no TLS",
    ("ka_h2_rate", "mod_tls"): "h2",
    ("ka_h2_cpu", "mod_tls"): "h2",
    # Debian 12's OpenSSL 3.0 has no X25519MLKEM768 (OpenSSL 3.5, Debian 13's, has).
    ("hs13_pq_rate", "mod_ssl"): "does not negotiate",
    ("hs13_pq_cpu", "mod_ssl"): "does not negotiate",
    **{(k, "plain"): "no key exchange"
       for k in ("hs13_pq_rate", "hs13_pq_cpu", "hs13_x25519_rate", "hs13_x25519_cpu")},
}


def is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


@pytest.fixture(scope="module")
def bench_output():
    if apache_mod.sanitizer_mode():
        pytest.skip("the benchmark loads the module without the sanitizer runtime")
    apache_mod.require_module()
    with tempfile.TemporaryDirectory(prefix="modtls-bench-smoke-") as out:
        proc = subprocess.run(
            ["/usr/bin/python3", str(REPO / "bench" / "run.py"), "--quick", "--out", out,
             "--module", apache_mod.mod_tls_so()],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace",
            timeout=600)
        assert proc.returncode == 0, proc.stdout[-5000:]
        files = {name: Path(out) / name for name in ("latest.json", "latest.md", "latest.png")}
        for p in files.values():
            assert p.is_file(), f"{p} missing; output:\n{proc.stdout[-3000:]}"
        yield {"stdout": proc.stdout, "json": json.loads(files["latest.json"].read_text()),
               "md": files["latest.md"].read_text(), "png": files["latest.png"].read_bytes()}


@pytest.mark.slow
def test_top_level_schema(bench_output):
    r = bench_output["json"]
    assert r["schema"] == "mod_tls-bench/1"
    assert r["quick"] is True
    assert r["servers"] == list(SERVERS)
    assert r["rounds"] >= 1 and is_number(r["elapsed_s"])
    for key in ("cpu_model", "cpus", "mem_gib", "os", "kernel"):
        assert r["machine"].get(key), key
    for key in ("apache", "openssl", "rustls", "git_commit"):
        assert r["software"].get(key), key
    assert r["date"][:2] == "20"
    assert set(r["tls_parameters"]) == {"mod_ssl", "mod_tls"}


@pytest.mark.slow
def test_every_metric_has_numbers_for_all_three_servers(bench_output):
    metrics = bench_output["json"]["metrics"]
    missing = set(REQUIRED_METRICS) - set(metrics)
    assert not missing, f"metrics missing: {sorted(missing)}"
    problems = []
    for key, m in metrics.items():
        assert m["better"] in ("higher", "lower") and m["title"] and m["unit"], key
        assert set(m["servers"]) == set(SERVERS), key
        for kind in SERVERS:
            s = m["servers"][kind]
            if s["median"] is None:
                word = ALLOWED_NA.get((key, kind))
                if not (word and isinstance(s["na"], str) and word in s["na"]):
                    problems.append(f"{key}/{kind}: no number ({s['na']})")
                continue
            if not (is_number(s["median"]) and s["samples"]
                    and all(is_number(v) for v in s["samples"])):
                problems.append(f"{key}/{kind}: bad numbers {s}")
                continue
            if not min(s["samples"]) <= s["median"] <= max(s["samples"]):
                problems.append(f"{key}/{kind}: median outside its samples")
            if len(s["runs"]) != len(s["samples"]):
                problems.append(f"{key}/{kind}: {len(s['runs'])} runs for "
                                f"{len(s['samples'])} samples")
        for name, (num, den) in {"mod_tls/mod_ssl": ("mod_tls", "mod_ssl"),
                                 "mod_tls/plain": ("mod_tls", "plain")}.items():
            have = m["servers"][num]["median"] is not None and m["servers"][den]["median"]
            ratio = m["ratios"][name]
            if have and not is_number(ratio):
                problems.append(f"{key}: ratio {name} missing")
    assert not problems, "\n".join(problems)


@pytest.mark.slow
def test_full_handshake_runs_did_not_resume(bench_output):
    metrics = bench_output["json"]["metrics"]
    for key in ("hs13_ecdsa_rate", "hs12_ecdsa_rate", "hs13_rsa_rate", "hs12_rsa_rate"):
        for kind in ("mod_ssl", "mod_tls"):
            for run in metrics[key]["servers"][kind]["runs"]:
                assert run["resumed"] == 0 and run["full"] == run["count"] > 0, (key, kind, run)


@pytest.mark.slow
def test_table_and_chart_written(bench_output):
    md = bench_output["md"]
    assert "| metric | unit | mod_ssl | mod_tls | plain |" in md
    assert md.count("\n| ") >= len(REQUIRED_METRICS) + 2
    assert bench_output["png"][:8] == b"\x89PNG\r\n\x1a\n"
    # the table is printed at the end, and progress while running
    assert "mod_tls/mod_ssl" in bench_output["stdout"]
    assert "round 1/1" in bench_output["stdout"]


@pytest.mark.slow
def test_every_apache2_it_started_is_stopped(bench_output):
    roots = re.findall(r"ServerRoot (/tmp/modtls-bench-\S+),", bench_output["stdout"])
    assert len(roots) == 3, bench_output["stdout"][:2000]
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    left = [line for line in ps.splitlines() if any(root in line for root in roots)]
    assert not left, left
