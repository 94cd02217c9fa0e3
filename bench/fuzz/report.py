"""The mismatch table (Markdown), and the same facts as JSON."""
from __future__ import annotations

from .expect import CLASS_TITLES, CLASSES


def totals(results):
    t = {c: 0 for c in CLASSES}
    for r in results:
        for c, n in r.counts.items():
            t[c] += n
    return t


def summary(results, meta=None):
    """A JSON-ready dict: totals per class, per op counts, one reproducer per (op, class)."""
    rows = []
    for r in results:
        for c in CLASSES:
            f = r.findings.get(c)
            if f is not None:
                rows.append({"op": r.op, "class": c, "count": f.count, "calls": r.calls,
                             "reproducer": f.reproducer, "detail": f.detail, "shrunk": f.shrunk})
    return {
        **(meta or {}),
        "calls": sum(r.calls for r in results),
        "agreed": sum(r.agreed for r in results),
        "skipped": sum(r.skipped for r in results),
        "unavailable": sum(r.unavailable for r in results),
        "reference_errors": {r.op: r.ref_error for r in results if r.ref_errors},
        "ops": len(results),
        "totals": totals(results),
        "failing_ops": sorted({row["op"] for row in rows}),
        "per_op": {r.op: {"calls": r.calls, "agreed": r.agreed, "skipped": r.skipped, "ref_errors": r.ref_errors,
                          "unavailable": r.unavailable, "counts": dict(r.counts)} for r in results},
        "rows": rows,
    }


def _cell(s):
    return s.replace("|", "\\|").replace("\n", " ")


def markdown(summ, max_rows=None):
    out = [f"{summ['calls']} calls of {summ['ops']} ops: {summ['agreed']} agreed, "
           f"{summ['skipped']} had no reference, {summ['unavailable']} unavailable in deepseek; "
           f"{sum(summ['totals'].values())} mismatches in {len(summ['failing_ops'])} ops.", "",
           "| class | calls | ops |", "|---|---:|---:|"]
    for c in CLASSES:
        ops = sum(1 for row in summ["rows"] if row["class"] == c)
        out.append(f"| {CLASS_TITLES[c]} | {summ['totals'][c]} | {ops} |")
    if summ.get("reference_errors"):
        out += ["", "The reference table failed (a fuzzer bug) for: " +
                "; ".join(f"{op}: {e[:200]}" for op, e in summ["reference_errors"].items())]
    rows = sorted(summ["rows"], key=lambda r: (CLASSES.index(r["class"]), -r["count"], r["op"]))
    if max_rows is not None:
        rows = rows[:max_rows]
    if rows:
        out += ["", "| op | class | calls | reproducer | what happened |", "|---|---|---:|---|---|"]
        for row in rows:
            rep = "; ".join(row["reproducer"])
            out.append(f"| {row['op']} | {CLASS_TITLES[row['class']]} | {row['count']}/{row['calls']} | "
                       f"`{_cell(rep)}` | {_cell(row['detail'][:240])} |")
    return "\n".join(out)
