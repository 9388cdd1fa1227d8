"""Medians, ratios and the three outputs: latest.json, latest.md (table) and latest.png (chart).

JSON schema ("mod_tls-bench/1"):
  schema, date (UTC, ISO 8601), quick, rounds, elapsed_s, machine{...}, software{...},
  settings{...}, servers [mod_ssl, mod_tls, plain], notes [...],
  metrics{key: {title, unit, better: "higher"|"lower",
                servers{kind: {median: number|null, samples: [number], na: reason|null,
                               runs: [{round, ...details of the client run}]}},
                ratios{"mod_tls/mod_ssl": number|null, "mod_tls/plain": number|null}}}
A server has either a median (of its samples, one per round) or na, the reason it has none.
"""
from __future__ import annotations

import json
import statistics
from pathlib import Path

from metrics import METRICS
from servers import SERVER_KINDS

SCHEMA = "mod_tls-bench/1"
RATIOS = (("mod_tls/mod_ssl", "mod_tls", "mod_ssl"), ("mod_tls/plain", "mod_tls", "plain"))


def summarize(samples: dict, na: dict) -> dict:
    """samples[key][kind] = [{"round", "value", **details}], na[key][kind] = reason."""
    out = {}
    for m in METRICS:
        servers = {}
        for kind in SERVER_KINDS:
            runs = samples.get(m.key, {}).get(kind, [])
            values = [r["value"] for r in runs]
            reason = na.get(m.key, {}).get(kind)
            servers[kind] = {
                "median": statistics.median(values) if values else None,
                "samples": values,
                "na": None if values else (reason or "not measured"),
                "runs": [{k: v for k, v in r.items() if k != "value"} for r in runs]}
        ratios = {}
        for name, num, den in RATIOS:
            a, b = servers[num]["median"], servers[den]["median"]
            ratios[name] = a / b if a is not None and b else None
        out[m.key] = {"title": m.title, "unit": m.unit,
                      "better": "higher" if m.higher_is_better else "lower",
                      "servers": servers, "ratios": ratios}
    return out


def fmt(v: float | None) -> str:
    if v is None:
        return "n/a"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def fmt_ratio(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.2f}×"


def table_rows(result: dict) -> list[list[str]]:
    rows = [["metric", "unit", *SERVER_KINDS, "mod_tls/mod_ssl", "mod_tls/plain"]]
    for key, m in result["metrics"].items():
        arrow = "↑" if m["better"] == "higher" else "↓"
        rows.append([f"{m['title']} {arrow}", m["unit"],
                     *(fmt(m["servers"][k]["median"]) for k in SERVER_KINDS),
                     *(fmt_ratio(m["ratios"][name]) for name, _, _ in RATIOS)])
    return rows


def na_notes(result: dict) -> list[str]:
    notes = []
    for key, m in result["metrics"].items():
        for kind in SERVER_KINDS:
            reason = m["servers"][kind]["na"]
            if reason:
                notes.append(f"{m['title']}, {kind}: n/a — {reason}")
    return notes


def machine_line(result: dict) -> str:
    mc, sw = result["machine"], result["software"]
    return (f"{mc['cpu_model']}, {mc['cpus']} CPUs, {mc['mem_gib']} GiB, {mc['os']}, "
            f"kernel {mc['kernel']}; {sw['apache']}, {sw['openssl']}, rustls {sw['rustls']}")


def console_table(result: dict) -> str:
    rows = table_rows(result)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for n, r in enumerate(rows):
        cells = [r[0].ljust(widths[0]), r[1].ljust(widths[1])]
        cells += [c.rjust(w) for c, w in zip(r[2:], widths[2:])]
        lines.append("  ".join(cells))
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown(result: dict) -> str:
    rows = table_rows(result)
    out = [f"Benchmark of {result['date']} ({'QUICK, ' if result['quick'] else ''}"
           f"{result['rounds']} round(s), median of rounds; ↑ higher is better, ↓ lower is "
           f"better).", "", f"Machine: {machine_line(result)}.", "",
           "| " + " | ".join(rows[0]) + " |",
           "| --- | --- | " + " | ".join("---:" for _ in rows[0][2:]) + " |"]
    out += ["| " + " | ".join(r) + " |" for r in rows[1:]]
    notes = na_notes(result) + result.get("notes", [])
    if notes:
        out += [""] + [f"- {n}" for n in notes]
    return "\n".join(out) + "\n"


def chart(result: dict, path: Path) -> None:
    """Horizontal bars: mod_tls / mod_ssl per metric, green where mod_tls is better."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    items = list(result["metrics"].values())
    labels, ratios, colors = [], [], []
    for m in items:
        r = m["ratios"]["mod_tls/mod_ssl"]
        better = r is not None and ((r >= 1) if m["better"] == "higher" else (r <= 1))
        labels.append(f"{m['title']} ({'↑' if m['better'] == 'higher' else '↓'} better)")
        ratios.append(r or 0.0)
        colors.append("#2e7d32" if better else "#c62828")
    fig, ax = plt.subplots(figsize=(11, 0.42 * len(items) + 1.6))
    y = list(range(len(items)))[::-1]
    ax.barh(y, ratios, color=colors)
    for yi, m, r in zip(y, items, ratios):
        text = "n/a" if m["ratios"]["mod_tls/mod_ssl"] is None else f"{r:.2f}×"
        ax.text(r + 0.02, yi, text, va="center", fontsize=8)
    ax.axvline(1.0, color="black", linewidth=0.8)
    ax.set_yticks(y)
    ax.set_yticklabels(labels, fontsize=8)
    ax.set_xlabel("mod_tls / mod_ssl (median of rounds); green: mod_tls better")
    ax.set_xlim(0, max([1.2] + [r * 1.15 for r in ratios]))
    ax.set_title(f"mod_tls vs mod_ssl, {result['date'][:10]}"
                 f"{' (QUICK)' if result['quick'] else ''}\n"
                 + machine_line(result).replace("; ", "\n"), fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_all(result: dict, out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / "latest.json", out_dir / "latest.md", out_dir / "latest.png"]
    paths[0].write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    paths[1].write_text(markdown(result))
    chart(result, paths[2])
    return paths
