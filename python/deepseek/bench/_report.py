"""Summaries of the measured runs and their table (Markdown), JSON and PNG forms."""
from __future__ import annotations

import json
import statistics

SCHEMA = "deepseek.bench/1"
FRAMEWORKS = ("deepseek", "torch")


def _quartiles(xs):
    if len(xs) < 2:
        return xs[0], xs[0]
    q = statistics.quantiles(xs, n=4, method="inclusive")
    return q[0], q[2]


def summarize(runs: list[dict]) -> dict:
    """One framework's result on one workload from its runs (each one worker's ``RESULT``): the
    median over runs of the per-run median step time; spread = the interquartile range of every
    timed step, relative to the median; memory = the largest peak seen."""
    ok = [r for r in runs if "error" not in r]
    if not ok:
        out = {"error": runs[0]["error"] if runs else "not run", "runs": len(runs)}
        if runs and all(r.get("unavailable") for r in runs):
            out["unavailable"] = True
        return out
    times = [t for r in ok for t in r["times_s"]]
    med = statistics.median(r["median_s"] for r in ok)
    q1, q3 = _quartiles(times)

    def peak(key):
        vals = [r[key] for r in ok if r.get(key) is not None]
        return max(vals) if vals else None

    out = {
        "median_s": med,
        "spread": (q3 - q1) / med if med > 0 else None,
        "run_medians_s": [r["median_s"] for r in ok],
        "times_s": times,
        "first_check": ok[0]["first_check"],
        "last_check": ok[0]["last_check"],
        "peak_rss_bytes": peak("peak_rss_bytes"),
        "rss_growth_bytes": peak("rss_growth_bytes"),
        "alloc_peak_bytes": peak("alloc_peak_bytes"),
        "reserved_peak_bytes": peak("reserved_peak_bytes"),
        "runs": len(ok),
    }
    if len(ok) < len(runs):
        out["failed_runs"] = len(runs) - len(ok)
    return out


def compare(entry: dict) -> dict:
    """Adds the deepseek/torch ratios and the first-step check to one workload's entry."""
    d, t = entry["results"].get("deepseek", {}), entry["results"].get("torch")
    entry.update(time_ratio=None, run_ratios=[], rss_growth_ratio=None, check_rel_diff=None, check_ok=None)
    if not t or "error" in d or "error" in t:
        return entry
    entry["time_ratio"] = d["median_s"] / t["median_s"] if t["median_s"] > 0 else None
    entry["run_ratios"] = [a / b for a, b in zip(d["run_medians_s"], t["run_medians_s"]) if b > 0]
    if d["rss_growth_bytes"] and t["rss_growth_bytes"]:
        entry["rss_growth_ratio"] = d["rss_growth_bytes"] / t["rss_growth_bytes"]
    a, b = d["first_check"], t["first_check"]
    entry["check_rel_diff"] = abs(a - b) / max(abs(b), 1e-12)
    entry["check_ok"] = entry["check_rel_diff"] <= entry["config"]["tol"]
    return entry


def _t(s):
    if s is None:
        return "-"
    if s < 1e-3:
        return f"{s * 1e6:.0f} us"
    return f"{s * 1e3:.1f} ms" if s < 1 else f"{s:.2f} s"


def _mb(b):
    return "-" if b is None else f"{b / 2**20:.0f}" if b >= 10 * 2**20 else f"{b / 2**20:.1f}"


def _x(r):
    return "-" if r is None else f"{r:.2f}x"


def _time_cell(r):
    if r is None:
        return "-"
    if "error" in r:
        return "n/a" if r.get("unavailable") else "ERROR"
    spread = f" ±{r['spread'] * 50:.0f}%" if r.get("spread") is not None else ""
    return _t(r["median_s"]) + spread


def table(report: dict) -> str:
    """The results as a Markdown table with its header lines (what stdout shows)."""
    env, cfg = report["environment"], report["config"]
    fws = report["frameworks"]
    lines = [
        f"# python -m deepseek.bench {' '.join(cfg['workloads'])}  ({env['time_utc']}, git {env.get('git_head') or '?'})",
        f"# {env['cpu']}: {env['logical_cpus']} logical CPUs, {env['physical_cores']} physical cores, "
        f"load average {env['loadavg_start']} at start; {env['os']}, Python {env['python']}",
    ]
    for fw in fws:
        info = report["versions"].get(fw, {})
        extra = f" (core {info['core_sha256']})" if "core_sha256" in info else f" ({info['build']})" if "build" in info else ""
        lines.append(f"# {fw} {info.get('version', '?')}{extra}, numpy {info.get('numpy', '?')}")
    if "torch" not in fws:
        lines.append(f"# PyTorch: {report.get('torch_status', 'not used')}")
    lines.append(f"# threads {cfg['threads']} (both), {cfg['dtype']}, seed {cfg['seed']}, warm-up {cfg['warmup']}, "
                 f"timed steps {cfg['steps']} x runs {cfg['runs']} (interleaved){', quick sizes' if cfg['quick'] else ''}")
    lines.append("# time = median over runs of each run's median; ± = half the interquartile range of all timed "
                 "steps; ratio = deepseek / torch (< 1.00x: deepseek faster or smaller)")
    lines.append("")
    hdr = ["workload", "unit", "deepseek", "torch", "time ratio", "per-run ratios", "RSS growth MB ds / torch",
           "growth ratio", "ds alloc / reserved peak MB", "first-step check"]
    rows = [hdr]
    for e in report["workloads"]:
        d, t = e["results"].get("deepseek", {}), e["results"].get("torch")
        rr = e["run_ratios"]
        check = "-"
        if e["check_ok"] is not None:
            check = f"{'OK' if e['check_ok'] else 'MISMATCH'} ({e['check_rel_diff']:.1e})"
        elif "error" not in d:
            check = f"{d['first_check']:.6g}"
        rows.append([
            e["config"]["desc"], e["config"]["unit"], _time_cell(d), _time_cell(t), _x(e["time_ratio"]),
            f"{min(rr):.2f}-{max(rr):.2f}" if len(rr) > 1 else "-",
            f"{_mb(d.get('rss_growth_bytes'))} / {_mb(t.get('rss_growth_bytes')) if t else '-'}",
            _x(e["rss_growth_ratio"]),
            f"{_mb(d.get('alloc_peak_bytes'))} / {_mb(d.get('reserved_peak_bytes'))}", check,
        ])
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(hdr))]
    lines.append("| " + " | ".join(h.ljust(w) for h, w in zip(hdr, widths)) + " |")
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows[1:]:
        lines.append("| " + " | ".join(str(c).ljust(w) if i < 2 else str(c).rjust(w)
                                       for i, (c, w) in enumerate(zip(r, widths))) + " |")
    for e in report["workloads"]:
        for fw, r in e["results"].items():
            if r and "error" in r:
                lines.append(f"# {e['name']} ({fw}): {r['error']}")
        if e["check_ok"] is False:
            lines.append(f"# WARNING {e['name']}: the first-step check values differ beyond {e['config']['tol']:g} "
                         f"(deepseek {e['results']['deepseek']['first_check']:.7g}, torch "
                         f"{e['results']['torch']['first_check']:.7g}): the timings are not like for like")
    return "\n".join(lines)


def write_json(report: dict, path: str) -> None:
    with open(path, "w") as f:
        json.dump(report, f, indent=1)
        f.write("\n")


def write_png(report: dict, path: str) -> None:
    """A bar chart of the deepseek/torch time ratios (deepseek's step times when PyTorch was not
    run). Raises ``ImportError`` with a clear message when matplotlib is missing."""
    try:
        import matplotlib
    except ImportError:
        raise ImportError("--png needs matplotlib (pip install matplotlib, or the 'bench' extra: "
                          "pip install 'deepseek[bench]')") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ws = [e for e in report["workloads"] if "error" not in e["results"].get("deepseek", {"error": 1})]
    with_torch = [e for e in ws if e["time_ratio"] is not None]
    fig, ax = plt.subplots(figsize=(max(4.0, 1.1 * max(len(ws), 1) + 2), 3.6), dpi=120)
    if with_torch:
        names = [e["name"] for e in with_torch]
        vals = [e["time_ratio"] for e in with_torch]
        lo = [v - min(e["run_ratios"] or [v]) for v, e in zip(vals, with_torch)]
        hi = [max(e["run_ratios"] or [v]) - v for v, e in zip(vals, with_torch)]
        colors = ["tab:green" if v <= 1 else "tab:red" for v in vals]
        ax.bar(names, vals, color=colors, yerr=[lo, hi], capsize=3)
        ax.axhline(1.0, color="black", lw=0.8)
        ax.set_ylabel("time deepseek / PyTorch")
        ax.set_title("deepseek vs PyTorch (lower is faster)")
    else:
        names = [e["name"] for e in ws]
        vals = [e["results"]["deepseek"]["median_s"] * 1e3 for e in ws]
        ax.bar(names, vals, color="tab:blue")
        ax.set_ylabel("deepseek median (ms)")
        ax.set_title("deepseek step times (PyTorch not run)")
    env = report["environment"]
    fig.text(0.01, 0.01, f"{env['cpu']}, {report['config']['threads']} threads, {env['time_utc']}", fontsize=6)
    ax.tick_params(axis="x", labelrotation=20)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
