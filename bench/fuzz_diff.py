"""Differential fuzzer: every public op of deepseek against PyTorch (when importable) or a
NumPy/SciPy reference that encodes PyTorch's semantics.

    python bench/fuzz_diff.py [--mode numpy|torch|auto] [--ops PATTERN] [--examples N]
                              [--seed S] [--timeout T] [--json PATH] [--fail-on CLASSES]

Hypothesis draws calls (shapes with 0-size and broadcast dims, every dtype, transposed,
sliced, expanded and flipped views, NaN/inf/signed zeros/huge/tiny values and integer
extremes, dims out of range, negative dims, keepdim, empty dim lists); each runs in a worker
process, so a crash, a hang or a Rust panic is recorded and the worker restarted. The
report is a table of mismatches by op and class with one shrunk reproducer per row.
Exit status is 0 unless ``--fail-on`` names a class that is not empty.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fuzz import ops as op_table  # noqa: E402
from fuzz.expect import CLASSES  # noqa: E402
from fuzz.pool import Worker  # noqa: E402
from fuzz.report import markdown, summary  # noqa: E402
from fuzz.runner import run  # noqa: E402


def _mode(requested):
    has_torch = importlib.util.find_spec("torch") is not None
    if requested == "auto":
        return "torch" if has_torch else "numpy"
    if requested == "torch" and not has_torch:
        sys.exit("--mode torch: PyTorch is not importable here (use --mode numpy)")
    return requested


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mode", choices=("numpy", "torch", "auto"), default="auto")
    p.add_argument("--ops", default="", help="comma-separated globs of op names (add*,F.*,sum)")
    p.add_argument("--examples", type=int, default=100, help="calls drawn per op")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--timeout", type=float, default=10.0, help="seconds a call may take before it is a hang")
    p.add_argument("--json", help="write the full report as JSON here")
    p.add_argument("--fail-on", default="", help=f"exit 1 if any of these classes is non-empty: {','.join(CLASSES)}")
    p.add_argument("--no-shrink", action="store_true", help="report the first call found, unshrunk")
    p.add_argument("--shrink-budget", type=float, default=20.0, help="seconds spent shrinking one reproducer")
    p.add_argument("--time-budget", type=float, default=None, help="stop drawing new calls after this many seconds")
    p.add_argument("--device", default=None, help="run deepseek's side on this device (e.g. opencl); inputs are "
                                                  "moved there, results compared on the CPU")
    p.add_argument("--prelude", help="a Python file each deepseek worker runs first (lib = the deepseek module)")
    p.add_argument("--list", action="store_true", help="list the ops and exit")
    p.add_argument("--max-rows", type=int, default=None, help="rows of the printed table")
    a = p.parse_args(argv)

    fail_on = [c.strip() for c in a.fail_on.split(",") if c.strip()]
    bad = [c for c in fail_on if c not in CLASSES]
    if bad:
        p.error(f"--fail-on: unknown classes {bad}; known: {', '.join(CLASSES)}")
    specs = op_table.select(op_table.all_ops(), a.ops)
    if a.list:
        print("\n".join(s.name for s in specs))
        return 0
    if not specs:
        p.error(f"--ops {a.ops!r} matches no op (see --list)")
    mode = _mode(a.mode)
    env = dict(os.environ)
    if a.prelude:
        env["FUZZ_DIFF_PRELUDE"] = str(Path(a.prelude).resolve())
    worker = Worker("deepseek", a.timeout, env, device=a.device)
    torch_worker = Worker("torch", a.timeout * 3) if mode == "torch" else None
    t0 = time.monotonic()

    def progress(i, n, r):
        flag = " ".join(f"{c}={k}" for c, k in r.counts.items())
        print(f"[{i + 1}/{n}] {r.op}: {r.calls} calls, {r.agreed} agreed, {r.skipped} skipped, {r.unavailable} unavailable"
              f"{'; ' + flag if flag else ''} ({r.seconds:.1f}s)", file=sys.stderr, flush=True)

    try:
        results = run(specs, worker, n=a.examples, seed=a.seed, torch_worker=torch_worker, progress=progress,
                      shrink_classes=() if a.no_shrink else CLASSES, shrink_budget=a.shrink_budget,
                      time_budget=a.time_budget)
    finally:
        worker.close()
        if torch_worker is not None:
            torch_worker.close()
    meta = {"mode": mode, "device": a.device or "cpu", "examples": a.examples, "seed": a.seed, "timeout": a.timeout,
            "ops_pattern": a.ops, "seconds": round(time.monotonic() - t0, 1),
            "command": "python bench/fuzz_diff.py " + " ".join(argv if argv is not None else sys.argv[1:])}
    summ = summary(results, meta)
    print(f"mode: {mode}; device: {a.device or 'cpu'}; seed {a.seed}; {a.examples} examples per op; "
          f"{summ['seconds']} s")
    print(markdown(summ, a.max_rows))
    if a.json:
        Path(a.json).write_text(json.dumps(summ, indent=1, default=str))
    if any(summ["totals"][c] for c in fail_on):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
