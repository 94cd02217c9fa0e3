"""One measurement of ``python -m deepseek.bench`` in a fresh process: run by path (never as
``deepseek.bench._worker``), so a PyTorch worker never imports deepseek and each framework's
memory is its own.

    python _worker.py init WORKLOAD_JSON NPZ         # deepseek draws weights and data once
    python _worker.py run FRAMEWORK WORKLOAD_JSON NPZ

The last line of stdout is ``RESULT <json>``.
"""
from __future__ import annotations

import json
import os
import statistics
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _workloads  # noqa: E402  (a sibling module, loaded without importing deepseek)

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
               "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS", "RAYON_NUM_THREADS")


def proc_status_bytes(key: str):
    """A ``/proc/self/status`` memory field (VmRSS, VmHWM) in bytes; None where there is none."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _import(fw: str, threads: int):
    if fw == "deepseek":
        import deepseek as lib
    else:
        import torch as lib
    lib.set_num_threads(threads)
    lib.manual_seed(0)
    return lib


def _framework_info(fw: str, lib) -> dict:
    import numpy as np

    info = {"version": lib.__version__, "numpy": np.__version__, "threads": lib.get_num_threads()}
    if fw == "deepseek":
        import hashlib

        with open(lib._core.__file__, "rb") as f:
            info["core_sha256"] = hashlib.sha256(f.read()).hexdigest()[:12]
    else:
        info["build"] = (f"MKL {'yes' if lib.backends.mkl.is_available() else 'no'}, "
                         f"mkldnn {'yes' if lib.backends.mkldnn.is_available() else 'no'}, "
                         f"cpu capability {lib.backends.cpu.get_cpu_capability()}")
    return info


def do_init(cfg: dict, npz: str, threads: int, seed: int) -> dict:
    """Builds the model in deepseek from ``seed`` and draws the data; writes both to ``npz``."""
    import numpy as np

    lib = _import("deepseek", threads)
    lib.manual_seed(seed)
    arrays = dict(_workloads.draw_data(cfg, seed))
    meta = {}
    if cfg["kind"] == "zoo":
        from deepseek.models import get_model_entry

        arrays.update(_workloads.zoo_example(cfg["name"]))
        meta["reference"] = get_model_entry(cfg["name"]).reference
    model = _workloads.build_model("deepseek", cfg)
    if model is not None:
        for k, v in model.state_dict().items():
            arrays["w/" + k] = np.array(v.numpy(), order="C")  # np.array keeps 0-d buffers 0-d
        meta["parameters"] = sum(p.numel() for p in model.parameters())
    np.savez(npz, **arrays)
    return meta


def do_run(fw: str, cfg: dict, npz: str, threads: int, warmup: int, steps: int, dtype: str, reference: str) -> dict:
    import numpy as np

    lib = _import(fw, threads)
    import_rss = proc_status_bytes("VmRSS")
    data = np.load(npz)
    model = _workloads.build_model(fw, cfg, reference)
    if model is not None:
        keys = [k for k in data.files if k.startswith("w/")]
        want, got = set(model.state_dict()), {k[2:] for k in keys}
        if want != got:
            raise RuntimeError(f"state_dict keys differ: missing {sorted(want - got)[:5]}, unexpected {sorted(got - want)[:5]}")
        for k in keys:  # one array at a time: the whole file is never resident beside the model
            arr = data[k]
            model.load_state_dict({k[2:]: lib.from_numpy(arr) if arr.ndim else lib.tensor(arr.item())}, strict=False)
            del arr
    arrays = {k: data[k] for k in data.files if not k.startswith("w/")}
    step = _workloads.build_step(fw, cfg, model, arrays, dtype)
    setup_rss = proc_status_bytes("VmRSS")
    if fw == "deepseek":
        lib.memory.reset_peak_memory_stats()
    checks, times = [], []
    total = warmup + steps
    for i in range(total):
        t0 = time.perf_counter()
        checks.append(step())
        dt = time.perf_counter() - t0
        if i >= warmup:
            times.append(dt)
        print(f"      {cfg['name']} {fw} step {i + 1}/{total}: {dt * 1e3:.1f} ms", file=sys.stderr, flush=True)
    peak = proc_status_bytes("VmHWM")
    res = dict(framework=fw, median_s=statistics.median(times), times_s=times, first_check=checks[0],
               last_check=checks[-1], import_rss_bytes=import_rss, setup_rss_bytes=setup_rss, peak_rss_bytes=peak,
               rss_growth_bytes=(peak - import_rss) if peak is not None and import_rss is not None else None,
               alloc_peak_bytes=None, reserved_peak_bytes=None)
    if fw == "deepseek":
        res["alloc_peak_bytes"] = lib.memory.max_memory_allocated()
        res["reserved_peak_bytes"] = lib.memory.max_memory_reserved()
    res.update(_framework_info(fw, lib))
    return res


def main(argv):
    opts = json.loads(os.environ.get("DEEPSEEK_BENCH_OPTS", "{}"))
    threads = int(opts.get("threads", 1))
    for var in THREAD_VARS:
        os.environ[var] = str(threads)
    # OpenMP threads that spin while idle fight the other pools on a small, shared machine
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        if argv[0] == "init":
            out = do_init(json.loads(argv[1]), argv[2], threads, int(opts.get("seed", 0)))
        else:
            cfg = json.loads(argv[2])
            out = do_run(argv[1], cfg, argv[3], threads, int(opts.get("warmup", 1)), int(opts.get("steps", 3)),
                         opts.get("dtype", "float32"), opts.get("reference", ""))
    except Exception as e:  # reported in the table, never a crash of the whole benchmark
        traceback.print_exc(file=sys.stderr)
        out = {"error": f"{type(e).__name__}: {e}".splitlines()[0][:300]}
    print("RESULT " + json.dumps(out), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
