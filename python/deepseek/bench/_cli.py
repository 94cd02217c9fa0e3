"""The driver and command line of ``python -m deepseek.bench [workload ...] [--torch auto|on|off]
[--threads N] [--runs R] [--warmup W] [--steps S] [--quick] [--dtype float32|float64] [--json PATH]
[--png PATH]``: one worker process per (workload, framework, run), then the table."""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

from . import _report, _workloads
from ._env import environment, physical_cores

WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_worker.py")
DESCRIPTION = ("deepseek beside PyTorch (when importable) on the CPU: same threads, weights, data, seed and "
               "precision; warm-up, interleaved runs, median and spread, first-step losses, peak memory.")
DEFAULT_WORKLOADS = ["matmul", "conv", "mlp", "transformer", "resnet50"]


def _progress(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _child(args: list, opts: dict, timeout: float) -> dict:
    """Runs the worker script with ``args``; its ``RESULT`` line, or an error entry."""
    env = dict(os.environ, DEEPSEEK_BENCH_OPTS=json.dumps(opts))
    t0 = time.perf_counter()
    try:
        p = subprocess.run([sys.executable, WORKER] + args, stdout=subprocess.PIPE, stderr=None, text=True,
                           timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    for line in reversed(p.stdout.splitlines()):
        if line.startswith("RESULT "):
            out = json.loads(line[len("RESULT "):])
            out["wall_s"] = time.perf_counter() - t0
            return out
    return {"error": f"worker exited with code {p.returncode} and no result"}


def torch_status() -> tuple[bool, str]:
    """Whether this interpreter can import torch (asked in a child, so this process never imports
    it), and a line saying which torch or why not."""
    p = subprocess.run([sys.executable, "-c", "import torch; print(torch.__version__)"], capture_output=True, text=True)
    if p.returncode == 0:
        return True, f"torch {p.stdout.strip()}"
    last = (p.stderr.strip().splitlines() or ["import failed"])[-1]
    return False, f"not importable by {sys.executable} ({last})"


def _zoo_names(names):
    if all(n in _workloads.BUILTIN for n in names):
        return ()
    from ..models import list_models

    return tuple(list_models())


def run(workloads=None, *, torch="auto", threads=None, runs=None, warmup=None, steps=None, quick=False,
        dtype="float32", seed=0, timeout=1800.0, progress=True) -> dict:
    """Runs the benchmark and returns its report (the dict ``--json`` writes).

    Args:
        workloads: names (default ``matmul conv mlp transformer resnet50``).
        torch: ``"auto"`` (beside PyTorch when importable), ``"on"`` (required) or ``"off"``.
        threads: for both frameworks (default: the physical cores).
        runs, warmup, steps: interleaved runs, warm-up steps and timed steps per run
            (default 3, 2, 10; with ``quick`` 1, 1, 3).
        quick: tiny sizes, for a smoke test.
        dtype: ``"float32"`` or ``"float64"``, for weights and data in both frameworks.
    """
    say = _progress if progress else (lambda msg: None)
    names = list(workloads or DEFAULT_WORKLOADS)
    zoo = _zoo_names(names)
    cfgs = [_workloads.config(n, quick, zoo) for n in names]
    if dtype not in ("float32", "float64"):
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    threads = threads or physical_cores()
    runs = runs or (1 if quick else 3)
    warmup = (1 if quick else 2) if warmup is None else warmup
    steps = steps or (3 if quick else 10)
    if torch not in ("auto", "on", "off"):
        raise ValueError(f"torch must be 'auto', 'on' or 'off', got {torch!r}")
    have_torch, status = (False, "off (--torch off)") if torch == "off" else torch_status()
    if torch == "on" and not have_torch:
        raise RuntimeError(f"--torch on: PyTorch is {status}")
    fws = ["deepseek"] + (["torch"] if have_torch else [])
    opts = dict(threads=threads, warmup=warmup, steps=steps, dtype=dtype, seed=seed)
    report = {
        "schema": _report.SCHEMA,
        "environment": environment(),
        "config": dict(workloads=names, threads=threads, runs=runs, warmup=warmup, steps=steps, quick=quick,
                       dtype=dtype, seed=seed),
        "frameworks": fws,
        "torch_status": status,
        "versions": {},
        "workloads": [],
    }
    say(f"deepseek.bench: {len(names)} workload(s) x {len(fws)} framework(s) x {runs} run(s), {threads} threads; "
        f"PyTorch: {status}")
    raw = {n: {fw: [] for fw in fws} for n in names}
    with tempfile.TemporaryDirectory(prefix="deepseek-bench-") as tmp:
        meta = {}
        for cfg in cfgs:
            say(f"  [{cfg['name']}] drawing weights and data (seed {seed}) ...")
            npz = os.path.join(tmp, cfg["name"] + ".npz")
            meta[cfg["name"]] = _child(["init", json.dumps(cfg), npz], opts, timeout)
        total, done = runs * len(cfgs) * len(fws), 0
        for r in range(runs):
            # interleaved, and the order flips every run so that drift on a busy box hits both
            order = fws if r % 2 == 0 else fws[::-1]
            for cfg in cfgs:
                name, m = cfg["name"], meta[cfg["name"]]
                for fw in order:
                    done += 1
                    why = fw == "torch" and _workloads.torch_unavailable(cfg, m.get("reference", ""))
                    if "error" in m:
                        res = {"error": f"setup failed: {m['error']}"}
                    elif why:
                        res = {"error": why, "unavailable": True}
                    else:
                        say(f"  [{done}/{total}] {name} {fw} (run {r + 1}/{runs}) ...")
                        npz = os.path.join(tmp, name + ".npz")
                        res = _child(["run", fw, json.dumps(cfg), npz], dict(opts, reference=m.get("reference", "")), timeout)
                        say(f"  [{done}/{total}] {name} {fw}: "
                            + (res["error"] if "error" in res else f"median {res['median_s'] * 1e3:.2f} ms, "
                               f"check {res['first_check']:.6g}, wall {res['wall_s']:.1f} s"))
                    raw[name][fw].append(res)
                    if "error" not in res:
                        report["versions"].setdefault(fw, {k: res[k] for k in ("version", "numpy", "threads", "core_sha256", "build") if k in res})
        for cfg in cfgs:
            entry = {"name": cfg["name"], "config": cfg, "setup": meta[cfg["name"]],
                     "results": {fw: _report.summarize(raw[cfg["name"]][fw]) for fw in fws}}
            report["workloads"].append(_report.compare(entry))
    return report


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m deepseek.bench", description=DESCRIPTION)
    ap.add_argument("workloads", nargs="*", metavar="WORKLOAD",
                    help=f"{', '.join(_workloads.BUILTIN)} or a deepseek.models name (default: {' '.join(DEFAULT_WORKLOADS)})")
    ap.add_argument("--torch", choices=["auto", "on", "off"], default="auto",
                    help="beside PyTorch: when importable (auto), required (on), never (off)")
    ap.add_argument("--threads", type=int, help=f"threads for both frameworks (default: physical cores, {physical_cores()})")
    ap.add_argument("--runs", type=int, help="interleaved runs per workload and framework (default 3; --quick 1)")
    ap.add_argument("--warmup", type=int, help="untimed steps per run (default 2; --quick 1)")
    ap.add_argument("--steps", type=int, help="timed steps per run (default 10; --quick 3)")
    ap.add_argument("--quick", action="store_true", help="tiny sizes (a smoke test, not a measurement)")
    ap.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=1800.0, help="seconds per worker process")
    ap.add_argument("--json", metavar="PATH", help="write the full report as JSON")
    ap.add_argument("--png", metavar="PATH", help="plot the time ratios (needs matplotlib)")
    ap.add_argument("--list", action="store_true", help="list the workloads and exit")
    a = ap.parse_args(argv)
    if a.list:
        for n, (desc, unit, full, _) in _workloads.BUILTIN.items():
            print(f"{n:<12} {desc.format(**full)} ({unit})")
        print(f"{'<model>':<12} any name of deepseek.models.list_models(): forward pass on its example input")
        return 0
    if a.png:
        try:
            import matplotlib  # noqa: F401  (checked before minutes of measuring)
        except ImportError:
            ap.error("--png needs matplotlib, which is not installed (pip install matplotlib, "
                     "or pip install 'deepseek[bench]')")
    try:
        report = run(a.workloads, torch=a.torch, threads=a.threads, runs=a.runs, warmup=a.warmup, steps=a.steps,
                     quick=a.quick, dtype=a.dtype, seed=a.seed, timeout=a.timeout)
    except (ValueError, RuntimeError) as e:
        ap.error(str(e))
    print(_report.table(report), flush=True)
    if a.json:
        _report.write_json(report, a.json)
        _progress(f"wrote {a.json}")
    if a.png:
        _report.write_png(report, a.png)
        _progress(f"wrote {a.png}")
    failed = any("error" in e["results"]["deepseek"] or e["check_ok"] is False for e in report["workloads"])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
