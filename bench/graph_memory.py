"""Peak memory and time of one ResNet-50 training step: traced (deepseek.jit.trace_train_step,
with and without memory_budget) vs eager deepseek vs PyTorch eager (the reference).

Usage (from the repo root; PyTorch and torchvision optional):

    PYTHONPATH=python /tmp/refvenv/bin/python bench/graph_memory.py [--threads N] [--budgets 0.5,0.6]
        [--steps 3] [--repeat 5] [--batch 16] [--size 64] [--no-time] [--where] [--no-memory] [--cpu-clock]

The workload is bench/graphs.py's resnet50-train: ResNet-50 (10 classes), a 16x3x64x64 batch,
cross entropy, SGD with momentum 0.9; the same data (NumPy, seed 0) for every contender.

Memory: each contender runs in a child process of its own (a fresh interpreter, the same thread
count, the same model, data and seed), so no framework's memory shows up in another's numbers.
In the child: import, build the data (RSS then: ``base``), build the model and the optimizer,
run the warm-up (eager: one step; traced: the eager first call, the traced second call and one
graph run), then ``--steps`` measured steps. The peak resident set during the measured steps
is the kernel's VmHWM after ``/proc/self/clear_refs`` was reset to the warm state (and, as a
cross-check, a thread sampling /proc/self/statm every 0.2 ms; the larger is used). Printed:

  total   peak RSS - base: everything training needs beyond the interpreter, the libraries and
          the batch (weights, optimizer state, gradients, activations, workspaces, allocator
          caches, code the kernels generated)
  step    total - the bytes of the parameters, buffers and optimizer state (what must survive
          between steps in any implementation): what the step itself needs. Gradients count
          here: eager mode keeps them between steps, a traced step frees each as soon as it
          is applied
  growth  peak RSS - the RSS at the warm state (after the warm-up): the literal "peak growth",
          which hides what the warm-up left allocated (eager mode's .grad, allocator caches)

plus, for deepseek, the caching allocator's peak growth over the warm state
(``deepseek.memory.max_memory_allocated``) and for traced steps the planned arena
(``memory_report()["planned_peak_bytes"]``). The budgets are fractions of the unbudgeted
arena (``--budgets``, passed as ``memory_budget=0.5``: the documented way to choose one).

``--where`` adds, per contender, where the resident memory was at the base, at the warm state
and after the measured steps (bench/_rss_where.py: /proc/self/smaps by kind of mapping, glibc's
malloc counters per arena, deepseek's tensor allocator's reserved bytes and its kernels' scratch
blocks): what the allocator does not count; and for deepseek one line that splits the total by
owner (persistent state, planned arena, other tensor blocks, scratch, the C heap, code pages,
the rest).

Time: in one process, the contenders' steps interleaved (bench/_timing.py), median seconds per
step, with the minor page faults a step took on average (pages mapped afresh: memory given back
to the system between steps and faulted in again); ``--cpu-clock`` times by the process's CPU
time instead (with ``--threads 1``, little affected by a busy machine), ``--no-memory`` skips
the memory part. A script, not a test: nothing is asserted.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _machine import pin_threads  # noqa: E402
from _rss_where import snapshot  # noqa: E402

_PAGE = os.sysconf("SC_PAGESIZE")


def _rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * _PAGE


def _hwm():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def _reset_hwm():
    """Resets VmHWM to the current RSS (Linux >= 4.0); False where not permitted."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


class _Sampler(threading.Thread):
    """The largest RSS seen while running (a cross-check of VmHWM where it cannot be reset)."""

    def __init__(self):
        super().__init__(daemon=True)
        self.peak, self._halt = _rss(), threading.Event()

    def run(self):
        while not self._halt.is_set():
            self.peak = max(self.peak, _rss())
            time.sleep(0.0002)

    def stop(self):
        self._halt.set()
        self.join()
        self.peak = max(self.peak, _rss())
        return self.peak


def _data(batch, size):
    import numpy as np

    rng = np.random.default_rng(0)
    return rng.standard_normal((batch, 3, size, size)).astype(np.float32), rng.integers(0, 10, batch)


def _deepseek_step(kind, frac, batch, size):
    """(step function, model, optimizer, extra report) for deepseek: eager, or traced with a
    budget of ``frac`` of the unbudgeted arena (``frac`` None: no budget)."""
    import deepseek
    from deepseek import optim
    import deepseek.nn.functional as F
    from deepseek.models.resnet import resnet50

    xn, yn = _data(batch, size)
    x, y = deepseek.tensor(xn), deepseek.tensor(yn)

    def make():
        deepseek.manual_seed(0)
        m = resnet50(num_classes=10)
        return m, optim.SGD(m.parameters(), lr=0.01, momentum=0.9)

    if kind == "eager":
        m, o = make()

        def step():
            o.zero_grad()
            F.cross_entropy(m(x), y).backward()
            o.step()

        return step, m, o, {}
    m, o = make()
    ts = deepseek.jit.trace_train_step(m, F.cross_entropy, o, x, y, memory_budget=frac)  # a fraction of the unbudgeted arena
    ts(x, y), ts(x, y)  # eager (makes the optimizer state), then traced
    return (lambda: ts(x, y)), m, o, {"report": ts.memory_report(), "graph": ts.graph_module}


def _torch_step(batch, size):
    import torch
    import torchvision

    xn, yn = _data(batch, size)
    x, y = torch.from_numpy(xn), torch.from_numpy(yn)
    torch.manual_seed(0)
    m = torchvision.models.resnet50(num_classes=10)
    o = torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9)

    def step():
        o.zero_grad()
        torch.nn.functional.cross_entropy(m(x), y).backward()
        o.step()

    return step, m, o, {}


def _persistent_bytes(model, opt, below=None):
    """Bytes of what any implementation keeps between steps: parameters, buffers, optimizer
    state (only the tensors smaller than ``below`` bytes when given)."""
    ts = list(model.parameters()) + list(model.buffers())
    ts += [v for st in opt.state.values() for v in st.values() if hasattr(v, "numel") and hasattr(v, "element_size")]
    sizes = [t.numel() * t.element_size() for t in ts]
    return sum(n for n in sizes if below is None or n < below)


def _deepseek_where():
    """deepseek's own counters for ``--where``: the tensor allocator's reserved bytes and the
    kernels' scratch (the core's large Rust heap blocks: reserved now, the most in use at once)."""
    import deepseek

    st = deepseek.memory.memory_stats()
    out = {"deepseek reserved": st["reserved_bytes.all.current"]}
    if "scratch_reserved_bytes.all.current" in st:
        out["deepseek scratch reserved"] = st["scratch_reserved_bytes.all.current"]
        out["deepseek scratch peak"] = st["scratch_bytes.all.peak"]
    return out


def child(name, frac, steps, batch, size, where=False):
    """Measures one contender (see the module docs); prints one RESULT line of JSON."""
    import numpy  # noqa: F401  (imported before the baseline, as in every contender)

    if name == "torch":
        import torch  # noqa: F401
        import torchvision  # noqa: F401
    else:
        import deepseek
    _data(batch, size)
    gc.collect()
    base = _rss()
    snaps = {"base": snapshot()} if where else None
    if name == "torch":
        step, m, o, extra = _torch_step(batch, size)
    else:
        step, m, o, extra = _deepseek_step("eager" if name == "eager" else "traced", frac, batch, size)
    step()  # the warm-up step (for a traced step: its first graph run)
    gc.collect()
    warm = _rss()
    ds = name != "torch"
    if where:
        snaps["warm"] = snapshot()
        if ds:
            snaps["warm"].update(_deepseek_where())
    if ds:
        if "graph" in extra:
            # a graph keeps its arena between runs; given back here, the measured steps'
            # allocator growth counts it (RSS is unchanged: the allocator caches the block)
            extra["graph"].release_arenas()
        deepseek.memory.reset_peak_memory_stats()
        alloc0 = deepseek.memory.memory_allocated()
    hwm_ok = _reset_hwm()
    sampler = _Sampler()
    sampler.start()
    for _ in range(steps):
        step()
    sampled = sampler.stop()
    peak = max(sampled, _hwm()) if hwm_ok else sampled
    if where:
        snaps["after"] = snapshot()
        if ds:
            snaps["after"].update(_deepseek_where())
    out = {"name": name, "frac": frac, "base": base, "warm": warm, "peak": peak, "sampled": sampled, "hwm_reset": hwm_ok,
           "persistent": _persistent_bytes(m, o), "persistent_small": _persistent_bytes(m, o, below=1 << 20)}
    if ds:
        out["alloc_peak_growth"] = deepseek.memory.max_memory_allocated() - alloc0
        out["reserved"] = deepseek.memory.memory_reserved()
        r = extra.get("report")
        if r:
            out["arena"] = r["planned_peak_bytes"]
            out["unbudgeted_arena"] = r["unbudgeted_peak_bytes"]
            out["recomputed"] = len(r["recomputed"])
            out["extra_flops"] = r["extra_flops"]
    if where:
        out["where"] = snaps
    print("RESULT " + json.dumps(out), flush=True)


def _run_child(args, name, frac):
    cmd = [sys.executable, os.path.abspath(__file__), "--child", name, "--threads", str(args.threads), "--steps", str(args.steps),
           "--batch", str(args.batch), "--size", str(args.size)] + (["--where"] if args.where else [])
    if frac is not None:
        cmd += ["--frac", str(frac)]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=1800)
    for line in p.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    print(f"  {name}: the child failed (rc {p.returncode}): {p.stderr.strip()[-400:]}")
    return None


def _have_torch():
    return subprocess.run([sys.executable, "-c", "import torch, torchvision"], capture_output=True).returncode == 0


def _time(args, fracs, torch_ok):
    """Median seconds per step of each contender, interleaved in this process."""
    from _timing import interleaved

    fns, names = [], []
    if torch_ok:
        fns.append(_torch_step(args.batch, args.size)[0])
        names.append("torch eager")
    fns.append(_deepseek_step("eager", None, args.batch, args.size)[0])
    names.append("deepseek eager")
    for f in fracs:
        try:
            fns.append(_deepseek_step("traced", f, args.batch, args.size)[0])
        except RuntimeError as e:  # a budget below what recomputation reaches
            print(f"  traced {f:.0%}: {str(e)[:160]}")
            continue
        names.append("traced" if f is None else f"traced {f:.0%}")
    counted = [_Faults(f) for f in fns]
    times = interleaved(counted, args.repeat, time.process_time if args.cpu_clock else time.perf_counter, warmup=1)
    return {n: (t, c.per_step()) for n, t, c in zip(names, times, counted)}


class _Faults:
    """A step function that counts the minor page faults of the process while it runs: each
    one is a page the kernel mapped (and zeroed) on first touch, memory given back to the
    system and taken again (docs/graphs.md, kept arenas). Independent of the machine's load."""

    def __init__(self, fn):
        self.fn, self.faults, self.calls = fn, 0, 0

    def __call__(self):
        import resource

        f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        self.fn()
        self.faults += resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0
        self.calls += 1

    def per_step(self):
        return self.faults / max(self.calls, 1)


def _account(r, mib):
    """One deepseek contender's peak total split by owner (MiB; from the snapshots after the
    steps, less those at the base): the persistent state, the planned arena, the kernels'
    scratch blocks, the C library's heap (main arena resident, worker arenas as mapped, less
    the small persistent tensors it holds), code and data pages, and what is left (Python's
    object arenas, thread stacks, pages the snapshots cannot place)."""
    w = r["where"]
    a, b = w["after"], w["base"]
    d = lambda k: a.get(k, 0) - b.get(k, 0)  # noqa: E731
    total = r["peak"] - r["base"]
    parts = {"persist": r["persistent"], "arena": r.get("arena", 0)}
    parts["scratch"] = a.get("deepseek scratch reserved", 0)
    # the tensor allocator takes blocks under 1 MiB from malloc: the small persistent tensors
    # are in the C heap, already counted above
    parts["C heap"] = d("[heap]") + d("malloc thread arenas") - r.get("persistent_small", 0)
    parts["code+data"] = d("code+data")
    beyond = a.get("deepseek reserved", 0) - parts["persist"] - parts["arena"]
    if "arena" not in r:  # eager: activations, gradients and the allocator's cache
        parts["other tensor blocks"] = beyond
    parts["rest"] = total - sum(parts.values())
    tail = "" if "arena" not in r else f" (the tensor allocator maps {mib(beyond)} MiB more: size classes' tails, mostly never touched)"
    return "; ".join(f"{k} {mib(v)}" for k, v in parts.items()) + f" = total {mib(total)}" + tail


def _print_where(rows, mib):
    """Per contender, MiB per kind of resident memory at the base, warm state and after the steps."""
    for name, r in rows:
        if r is None or "where" not in r:
            continue
        w = r["where"]
        if "deepseek reserved" in w["after"]:
            print(f"  {name}: {_account(r, mib)}")
        keys = sorted(k for k in set(w["base"]) | set(w["warm"]) | set(w["after"]) if max(w[s].get(k, 0) for s in w) >= 1 << 19)
        print(f"  {name}: " + "; ".join(f"{k} {'/'.join(mib(w[s].get(k, 0)) for s in ('base', 'warm', 'after'))}" for k in keys)
              + " (MiB at base/warm/after)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--budgets", default="0.5,0.6", help="memory_budget as fractions of the unbudgeted arena")
    ap.add_argument("--steps", type=int, default=3, help="measured steps per child")
    ap.add_argument("--repeat", type=int, default=5, help="timed samples per contender")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--no-time", action="store_true")
    ap.add_argument("--where", action="store_true", help="where the resident memory is, per contender (smaps, malloc)")
    ap.add_argument("--cpu-clock", action="store_true",
                    help="time by the process's CPU time (user + system, page faults included): with --threads 1, little "
                         "affected by other work on a busy machine")
    ap.add_argument("--no-memory", action="store_true", help="only the timing (no child processes)")
    ap.add_argument("--child", default=None)
    ap.add_argument("--frac", type=float, default=None)
    args = ap.parse_args()
    args.threads = pin_threads(sys.argv)
    if args.child:
        child(args.child, args.frac, args.steps, args.batch, args.size, args.where)
        return
    fracs = [None] + [float(f) for f in args.budgets.split(",") if f]
    torch_ok = _have_torch()
    if args.no_memory:
        return _print_times(args, fracs, torch_ok)
    print(f"ResNet-50 training step {args.batch}x3x{args.size}x{args.size}, SGD momentum; {args.threads} threads; "
          f"torch {'installed' if torch_ok else 'not installed'}; MiB = 2^20 bytes")
    rows = []
    if torch_ok:
        rows.append(("torch eager", _run_child(args, "torch", None)))
    rows.append(("deepseek eager", _run_child(args, "eager", None)))
    for f in fracs:
        rows.append(("traced" if f is None else f"traced, budget {f:.0%}", _run_child(args, "traced", f)))
    ref = rows[0][1] if torch_ok else None
    mib = lambda b: f"{b / 2**20:.1f}"  # noqa: E731

    def ratio(r, key):
        if ref is None or r is None:
            return "n/a"
        a, b = key(r), key(ref)
        return f"{a / b:.2f}x" if b > 0 else "n/a"

    step_of = lambda r: r["peak"] - r["base"] - r["persistent"]  # noqa: E731
    total_of = lambda r: r["peak"] - r["base"]  # noqa: E731
    print(f"{'contender':<20} {'total':>7} {'step':>7} {'growth':>7} {'alloc':>7} {'arena':>7} {'persist':>8} {'step/torch':>11} {'total/torch':>12}")
    for name, r in rows:
        if r is None:
            continue
        alloc = mib(r["alloc_peak_growth"]) if "alloc_peak_growth" in r else "-"
        arena = mib(r["arena"]) if "arena" in r else "-"
        print(f"{name:<20} {mib(total_of(r)):>7} {mib(step_of(r)):>7} {mib(r['peak'] - r['warm']):>7} {alloc:>7} {arena:>7} "
              f"{mib(r['persistent']):>8} {ratio(r, step_of):>11} {ratio(r, total_of):>12}")
        if "recomputed" in r:
            print(f"  {name}: {r['recomputed']} results recomputed, +{r['extra_flops'] / 1e9:.2f} GFLOP; "
                  f"unbudgeted arena {mib(r['unbudgeted_arena'])} MiB")
    if args.where:
        _print_where(rows, mib)
    if not all(r is None or r["hwm_reset"] for _, r in rows):
        print("  (VmHWM could not be reset: peaks come from sampling /proc/self/statm every 0.2 ms)")
    if args.no_time:
        return
    _print_times(args, fracs, torch_ok)


def _print_times(args, fracs, torch_ok):
    times = _time(args, fracs, torch_ok)
    if args.no_memory:
        print(f"ResNet-50 training step {args.batch}x3x{args.size}x{args.size}, SGD momentum; {args.threads} threads; "
              f"{'process CPU time' if args.cpu_clock else 'wall clock'}")
    tref = times.get("torch eager", (None,))[0]
    print(f"{'contender':<20} {'ms/step':>9} {'time/torch':>11} {'faults/step':>12}")
    for name, (t, faults) in times.items():
        print(f"{name:<20} {t * 1e3:>9.1f} {'n/a' if tref is None else f'{t / tref:.2f}x':>11} {faults:>12.0f}")
    print(f"  (load average {os.getloadavg()[0]:.1f}; faults/step: minor page faults of the process during a step, warm-up included)")


if __name__ == "__main__":
    main()
