#!/usr/bin/env python3
"""Medians of scripts/echoprobe.sh runs, as ratios to the tokio peer measured in the same
rounds: the ratio of the medians, then (in brackets) the median of each round's ratio to
tokio's run in that round (paired: less moved by a host whose load drifts between rounds). Usage: python3 scripts/echoprobe_summary.py [OUTDIR] [--max-other CORES]
Runs in which other processes used more than --max-other cores (echoprobe's
other_cpu_cores; default: keep all) are left out, and counted."""
import json
import statistics
import sys
from pathlib import Path

args = sys.argv[1:]
max_other = None
if "--max-other" in args:
    i = args.index("--max-other")
    max_other = float(args[i + 1])
    del args[i : i + 2]
out = Path(args[0] if args else "target/echoprobe-runs")
rows = [json.loads(l) for l in (out / "results.jsonl").read_text().splitlines() if l.strip()]
bad = [
    r
    for r in rows
    if r["rc"] != 0 or r["errors"] or r["mismatches"] or None in (r.get("server_cpu_us_per_line"), r.get("other_cpu_cores"))
]
if bad:
    print(f"{len(bad)} run(s) with errors, mismatches or a non-zero exit (left out)")
rows = [r for r in rows if r not in bad]
if max_other is not None:
    dropped = [r for r in rows if r["other_cpu_cores"] > max_other]
    rows = [r for r in rows if r["other_cpu_cores"] <= max_other]
    print(f"{len(dropped)} run(s) left out: other processes used more than {max_other} cores")

med = statistics.median
known = ["tokio", "pool", "threads", "events", "std-threads"]
servers = [k for k in known if any(r["server"] == k for r in rows)]
servers += sorted({r["server"] for r in rows} - set(known))


def paired(rs, base, key):
    """Median over the rounds of this server's value over tokio's in the same round."""
    ratios = []
    for r in rs:
        b = [t for t in base if t["rep"] == r["rep"]]
        if b and b[0][key]:
            ratios.append(r[key] / b[0][key])
    return f" ({med(ratios):.2f}×)" if ratios else ""


print("| clients | server | runs | lines/s | × tokio | server CPU µs/line | × tokio | per line (CS=1): server context switches / server syscalls / client context switches | client CPU µs/line | other_cpu_cores (median, max) |")
print("|---|---|---|---|---|---|---|---|---|---|")
for c in sorted({r["clients"] for r in rows}):
    base = [r for r in rows if r["clients"] == c and r["server"] == "tokio"]
    t_lps = med([r["lines_per_s"] for r in base]) if base else None
    t_cpu = med([r["server_cpu_us_per_line"] for r in base]) if base else None
    for s in servers:
        rs = [r for r in rows if r["clients"] == c and r["server"] == s]
        if not rs:
            continue
        extra = f" `{rs[0]['pool_args']}`" if s == "pool" and rs[0].get("pool_args") else ""
        moved = sum(1 for r in rs if r.get("hand_overs"))
        extra += f" ({moved} run(s) with a hand-over)" if moved else ""
        lps = med([r["lines_per_s"] for r in rs])
        cpu = med([r["server_cpu_us_per_line"] for r in rs])
        css = [r["server_cs"] / r["lines_verified"] for r in rs if r.get("server_cs") is not None]
        cs = f"{med(css):.3f}" if css else "-"
        sy = [r["server_syscalls"] / r["lines_verified"] for r in rs if r.get("server_syscalls") is not None]
        cs += f" / {med(sy):.2f}" if sy else ""
        ccs = [r["client_cs"] / r["lines_verified"] for r in rs if r.get("client_cs") is not None]
        cs += f" / {med(ccs):.3f}" if ccs else ""
        ccpu = med([r["client_cpu_us_per_line"] for r in rs])
        oth = [r["other_cpu_cores"] for r in rs]
        rl = (f"{lps / t_lps:.2f}×" if t_lps else "-") + ("" if s == "tokio" else paired(rs, base, "lines_per_s"))
        rc = (f"{cpu / t_cpu:.2f}×" if t_cpu else "-") + (
            "" if s == "tokio" else paired(rs, base, "server_cpu_us_per_line")
        )
        print(f"| {c} | {s}{extra} | {len(rs)} | {lps:,.0f} | {rl} | {cpu:.2f} | {rc} | {cs} | {ccpu:.2f} | {med(oth):.2f}, {max(oth):.2f} |")
