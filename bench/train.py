"""Training benchmark: deepseek beside (when installed) PyTorch on whole train steps.

Usage (from the repo root; torch lives in the separate .venv-bench):

    PYTHONPATH=python .venv-bench/bin/python bench/train.py [--threads N] [--quick] [--only NAME ...]

Workloads (same model definition, initial weights, hyperparameters, data and thread count in both
frameworks):

  mlp        digits MLP 64-256-256-10, Adam lr 1e-3, batch 64, one epoch = 29 steps (sklearn's bundled
             digits when sklearn is importable, else synthetic 1797x64); metric: s/epoch
  xformer    4-layer nn.TransformerEncoder (d=256, 4 heads, ffn 1024, dropout 0, batch_first), seq 128,
             batch 8, MSE loss, AdamW lr 1e-4; metric: s/step
  resnet224  ResNet-50 (1000 classes, train-mode BatchNorm), SGD lr 0.01 momentum 0.9 wd 1e-4,
             batch 8 x 3x224x224 (--quick: 2 x 112x112); metric: s/step
  resnet64   the same at batch 32 x 3x64x64 (--quick: 8 x 64x64)
  conv-*     F.conv2d forward + backward (grad of input and weight, loss = mean(out^2)) at ResNet shapes

How it measures:
  * The parent process imports only the standard library. It runs every (framework, workload) pair in a
    fresh subprocess, deepseek first and then torch, so one framework's memory never shows up in the
    other's peak. A separate "init" subprocess builds each model once (in torch when installed, else in
    deepseek), draws the data, and writes weights + data to an .npz; both workers load that file, one
    array at a time, so weights and data are identical.
  * Peak RSS = the worker's VmHWM from /proc/self/status (the high-water mark of its own address space).
    resource.getrusage(RUSAGE_SELF).ru_maxrss is recorded too; on Linux it can also include the parent's
    RSS inherited at fork/exec, which is why the parent is kept tiny (the two agree to a few MB here).
    "import RSS" is the worker's RSS after importing its framework, before building anything; "RSS growth"
    = peak RSS - import RSS, the workload's own footprint (torch's import alone is ~0.5 GB here, which
    would otherwise dominate every memory ratio).
  * Allocator peak = deepseek.memory.max_memory_allocated() after reset_peak_memory_stats() right before
    the first step (it covers weights, grads, optimizer state and activations); max_memory_reserved
    (allocated + cached free blocks) is shown next to it. torch has no CPU allocator statistics, so its
    column says n/a.
  * Step time = median over the timed steps after the warmup steps; every step includes zero_grad,
    forward, backward, optimizer step and loss.item(). With --runs R every pair is run R times
    (deepseek, torch, deepseek, torch, ...) and the table reports the median of the per-run medians,
    the range of the per-run deepseek/torch ratios, and the largest peak memory seen.
  * Correctness: the loss of the first step (before any update) must agree between the frameworks
    (relative difference within a per-workload tolerance); the script prints both values and flags a
    mismatch, which would mean the comparison is broken. The loss after the last step is printed too.

Ratios are deepseek / torch for both time and memory: < 1.00x means deepseek is faster / smaller.
This is a script, not a test: it never asserts on timings.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

from _machine import physical_cores as _physical_cores
from _train_worker import do_init, do_worker

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# name -> (kind, params, warmup, timed (full), timed (--quick), loss tolerance (relative))
CONV_SHAPES = {
    "conv-64x56-k3": dict(n=8, c=64, hw=56, k=3, o=64, stride=1, pad=1),
    "conv-256x14-k3": dict(n=8, c=256, hw=14, k=3, o=256, stride=1, pad=1),
    "conv-64x56-k1": dict(n=8, c=64, hw=56, k=1, o=256, stride=1, pad=0),
    "conv-stem-k7s2": dict(n=8, c=3, hw=224, k=7, o=64, stride=2, pad=3),
}
WORKLOAD_ORDER = ["mlp", "xformer", "resnet224", "resnet64"] + list(CONV_SHAPES)
TOL = {"mlp": 1e-4, "xformer": 1e-3, "resnet224": 2e-3, "resnet64": 2e-3}


def workload_config(name: str, quick: bool) -> dict:
    if name == "mlp":
        return dict(kind="mlp", batch=64, warmup=1, timed=3 if quick else 5, desc="digits MLP epoch (29 steps)",
                    unit="s/epoch")
    if name == "xformer":
        return dict(kind="xformer", batch=8, seq=128, d=256, heads=4, ffn=1024, layers=4,
                    warmup=2, timed=3 if quick else 10, desc="Transformer enc 4L d256 h4, 8x128", unit="s/step")
    if name == "resnet224":
        b, hw = (2, 112) if quick else (8, 224)
        # two warm-up steps: the allocators (deepseek's and torch's) settle during the first two
        return dict(kind="resnet", batch=b, hw=hw, classes=1000, warmup=1 if quick else 2, timed=3 if quick else 5,
                    desc=f"ResNet-50 SGD step {b}x3x{hw}x{hw}", unit="s/step")
    if name == "resnet64":
        b, hw = (8, 64) if quick else (32, 64)
        return dict(kind="resnet", batch=b, hw=hw, classes=1000, warmup=1 if quick else 2, timed=3 if quick else 5,
                    desc=f"ResNet-50 SGD step {b}x3x{hw}x{hw}", unit="s/step")
    if name in CONV_SHAPES:
        s = CONV_SHAPES[name]
        return dict(kind="conv", **s, warmup=2, timed=3 if quick else 10,
                    desc=f"conv2d fwd+bwd {s['n']}x{s['c']}x{s['hw']}^2 k{s['k']}"
                         f"{'s' + str(s['stride']) if s['stride'] > 1 else ''} -> {s['o']}",
                    unit="s/step")
    raise SystemExit(f"unknown workload {name!r}; choose from {WORKLOAD_ORDER}")


# =================================================================================== parent side
# (the worker side, which runs in the subprocesses, is bench/_train_worker.py)


def _run_child(args_list, timeout):
    cmd = [sys.executable, os.path.abspath(__file__)] + args_list
    t0 = time.perf_counter()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=None, text=True, timeout=timeout)
    wall = time.perf_counter() - t0
    for line in p.stdout.splitlines():
        if line.startswith("RESULT "):
            out = json.loads(line[len("RESULT "):])
            out["wall_s"] = wall
            return out
    sys.stderr.write(p.stdout)
    return {"error": f"exit code {p.returncode}"}


def _torch_available() -> bool:
    # checked in a subprocess so the parent never imports torch (keeps the parent's RSS tiny)
    p = subprocess.run([sys.executable, "-c", "import torch"], capture_output=True)
    return p.returncode == 0


def _mb(kb_or_b, is_bytes=False):
    if kb_or_b is None:
        return "n/a"
    v = kb_or_b / (1 << 20) if is_bytes else kb_or_b / 1024
    return f"{v:.0f}" if v >= 10 else f"{v:.1f}"


def _growth(r):
    """Peak RSS minus RSS right after importing the framework (kB): the workload's own footprint."""
    return r["peak_rss_kb"] - r["import_rss_kb"]


def _fmt_t(s):
    if s is None:
        return "-"
    return f"{s * 1e3:.1f} ms" if s < 1 else f"{s:.2f} s"


def _ratio(a, b):
    if a is None or b is None or b <= 0:
        return "-"
    return f"{a / b:.2f}x"


def _ratio_range(d, t):
    """min-max over runs of deepseek/torch per-run medians (runs paired in order)."""
    rs = [a / b for a, b in zip(d.get("run_medians_s", []), t.get("run_medians_s", [])) if b > 0]
    if len(rs) < 2:
        return "-"
    return f"{min(rs):.2f}-{max(rs):.2f}"


def _git_head():
    try:
        return subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, timeout=5).stdout.strip() or "?"
    except Exception:
        return "?"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=_physical_cores(),
                   help="threads for both frameworks (default: physical cores, here %(default)s)")
    p.add_argument("--quick", action="store_true",
                   help="ResNet-50 at 2x112^2 / 8x64^2 and fewer timed steps elsewhere")
    p.add_argument("--only", nargs="+", metavar="NAME", help=f"subset of {WORKLOAD_ORDER}")
    p.add_argument("--runs", type=int, default=1,
                   help="repeat every (workload, framework) pair this many times, interleaved; the table shows "
                        "the median over runs of the per-run median step time and the max peak memory")
    p.add_argument("--no-torch", action="store_true", help="deepseek only")
    p.add_argument("--timeout", type=float, default=1800, help="seconds per subprocess")
    p.add_argument("--json", metavar="PATH", help="also write all raw results here")
    # internal
    p.add_argument("--_init", nargs=2, metavar=("NAME", "NPZ"), help=argparse.SUPPRESS)
    p.add_argument("--_worker", nargs=3, metavar=("NAME", "FW", "NPZ"), help=argparse.SUPPRESS)
    args = p.parse_args()

    if args._init:
        name, path = args._init
        return do_init(name, workload_config(name, args.quick), path, args.threads)
    if args._worker:
        name, fw, path = args._worker
        return do_worker(name, fw, workload_config(name, args.quick), path, args.threads)

    names = args.only or WORKLOAD_ORDER
    for n in names:
        workload_config(n, args.quick)  # validates
    frameworks = ["deepseek"] + ([] if args.no_torch or not _torch_available() else ["torch"])
    common = ["--threads", str(args.threads)] + (["--quick"] if args.quick else [])

    started = datetime.datetime.now(datetime.timezone.utc)
    print(f"# deepseek training benchmark  {started.isoformat(timespec='seconds')}  git HEAD {_git_head()}")
    print(f"# machine: {platform.machine()} logical cpus={os.cpu_count()} physical cores={_physical_cores()}"
          f"  loadavg at start {os.getloadavg()[0]:.2f}")
    print(f"# python {platform.python_version()}  threads={args.threads} (both frameworks)"
          f"  OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'PASSIVE')}  quick={args.quick}  runs={args.runs}")
    print(f"# frameworks: {', '.join(frameworks)}  (each workload x framework in its own subprocess)",
          flush=True)

    results = {}
    info = {}
    with tempfile.TemporaryDirectory(prefix="ds-train-bench-") as tmp:
        for run in range(args.runs):
            for name in names:
                cfg = workload_config(name, args.quick)
                npz = os.path.join(tmp, name + ".npz")
                if name not in results:
                    print(f"  [{name}] init ...", file=sys.stderr, flush=True)
                    meta = _run_child(common + ["--_init", name, npz], args.timeout)
                    results[name] = {"cfg": cfg, "init": meta, "runs": {fw: [] for fw in frameworks}}
                for fw in frameworks:
                    print(f"  [{name}] {fw} (run {run + 1}/{args.runs}) ...", file=sys.stderr, flush=True)
                    r = _run_child(common + ["--_worker", name, fw, npz], args.timeout)
                    results[name]["runs"][fw].append(r)
                    if "error" not in r:
                        info.setdefault(fw, r)
                        print(f"  [{name}] {fw}: median {_fmt_t(r['median_s'])}  peak RSS {_mb(r['peak_rss_kb'])} MB"
                              f"  (ru_maxrss {_mb(r['ru_maxrss_kb'])} MB)  first loss {r['first_loss']:.6g}"
                              f"  wall {r['wall_s']:.0f} s", file=sys.stderr, flush=True)

    # merge runs: time = median over runs of the per-run medians; memory = max over runs
    for name in names:
        for fw, lst in results[name]["runs"].items():
            ok = [r for r in lst if "error" not in r]
            if not ok:
                results[name][fw] = lst[0] if lst else {}
                continue
            m = dict(ok[0])
            m["median_s"] = statistics.median(r["median_s"] for r in ok)
            for key in ("peak_rss_kb", "ru_maxrss_kb", "import_rss_kb"):
                m[key] = max(r[key] for r in ok)
            for key in ("alloc_peak_b", "reserved_peak_b"):
                if m.get(key) is not None:
                    m[key] = max(r[key] for r in ok)
            m["run_medians_s"] = [r["median_s"] for r in ok]
            results[name][fw] = m

    shas = sorted({r.get("core_sha256") for n in names for r in results[n]["runs"].get("deepseek", [])
                   if "error" not in r})
    if len(shas) > 1:
        print(f"# WARNING: deepseek's _core changed during the run (sha256 {', '.join(shas)}): "
              "the deepseek numbers mix builds")
    ds_i, t_i = info.get("deepseek", {}), info.get("torch", {})
    print(f"# deepseek {ds_i.get('version', '?')} (core sha256 {ds_i.get('core_sha256', '?')})  "
          f"torch {t_i.get('version', 'n/a')} ({t_i.get('torch_desc', '')})  numpy {ds_i.get('numpy', '?')}")
    if "mlp" in results:
        print(f"# mlp data: {results['mlp']['init'].get('data')}")
    print("# time ratio = deepseek time / torch time; memory ratio = deepseek / torch (< 1.00x: deepseek better)")
    print("# peak RSS = VmHWM of the worker process (MB, 2^20 B); alloc / reserved peak = deepseek allocator "
          "max_memory_allocated / max_memory_reserved (MB; torch: n/a)")

    hdr = ("workload", "unit", "deepseek", "torch", "time ratio", "per-run ratios", "peak RSS ds / torch", "RSS ratio",
           "RSS growth ds / torch", "growth ratio", "ds alloc / reserved peak", "torch alloc peak")
    rows = [hdr]
    checks = []
    imports = {"deepseek": [], "torch": []}
    for name in names:
        r = results[name]
        cfg = r["cfg"]
        d, t = r.get("deepseek", {}), r.get("torch", {})
        d_ok, t_ok = "error" not in d, bool(t) and "error" not in t
        rows.append((
            cfg["desc"], cfg["unit"],
            _fmt_t(d.get("median_s")) if d_ok else "ERROR",
            _fmt_t(t.get("median_s")) if t_ok else ("ERROR" if t else "-"),
            _ratio(d.get("median_s"), t.get("median_s")) if d_ok and t_ok else "-",
            _ratio_range(d, t) if d_ok and t_ok else "-",
            f"{_mb(d['peak_rss_kb']) if d_ok else '-'} / {_mb(t['peak_rss_kb']) if t_ok else '-'}",
            _ratio(d.get("peak_rss_kb"), t.get("peak_rss_kb")) if d_ok and t_ok else "-",
            f"{_mb(_growth(d)) if d_ok else '-'} / {_mb(_growth(t)) if t_ok else '-'}",
            _ratio(_growth(d), _growth(t)) if d_ok and t_ok else "-",
            (f"{_mb(d.get('alloc_peak_b'), is_bytes=True)} / {_mb(d.get('reserved_peak_b'), is_bytes=True)}"
             if d_ok else "-"),
            "n/a",
        ))
        if d_ok:
            imports["deepseek"].append(d["import_rss_kb"])
        if t_ok:
            imports["torch"].append(t["import_rss_kb"])
        if d_ok and t_ok:
            a, b = d["first_loss"], t["first_loss"]
            rel = abs(a - b) / max(abs(b), 1e-12)
            tol = TOL.get(name, 1e-4)
            checks.append((name, a, b, rel, tol, d["last_loss"], t["last_loss"]))
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(hdr))]
    print()
    print("| " + " | ".join(h.ljust(w) for h, w in zip(hdr, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows[1:]:
        print("| " + " | ".join(str(c).ljust(w) if i < 2 else str(c).rjust(w)
                                 for i, (c, w) in enumerate(zip(row, widths))) + " |")

    for fw, v in imports.items():
        if v:
            print(f"# {fw}: RSS right after `import` (before any model/data): {min(v) / 1024:.0f}-{max(v) / 1024:.0f} MB;"
                  f" RSS growth = peak RSS - that")
    if checks:
        print("\nFirst-step loss, deepseek vs torch (same weights and data):")
        bad = 0
        for name, a, b, rel, tol, la, lb in checks:
            ok = rel <= tol
            bad += not ok
            print(f"  {name:<15} deepseek {a:.7g}  torch {b:.7g}  rel diff {rel:.1e}  "
                  f"{'OK' if ok else 'MISMATCH'} (tol {tol:g})   last loss: deepseek {la:.6g}  torch {lb:.6g}")
        if bad:
            print(f"  WARNING: {bad} workload(s) disagree: the timing comparison for them is not like for like")

    for fw in frameworks:
        rows_note = [(n, results[n][fw]) for n in names if fw in results[n] and "error" not in results[n][fw]]
        diffs = [abs(r["peak_rss_kb"] - r["ru_maxrss_kb"]) / 1024 for _, r in rows_note]
        if diffs:
            print(f"# {fw}: |VmHWM - ru_maxrss| max {max(diffs):.1f} MB over {len(diffs)} workers")
    print(f"# finished {datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')}"
          f"  loadavg {os.getloadavg()[0]:.2f}")

    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
