"""The measurements of gpu_check.sh on a machine with an NVIDIA GPU (see that script).

    python gpu_check.py probe | digits | fused [DEVICE] | resnet | matmul | summary RESULTS_DIR

Each step prints one JSON line (``@@name {...}``) that ``summary`` gathers into the Markdown
block for bench/RESULTS.md. Nothing here downloads anything."""
from __future__ import annotations

import ctypes
import json
import os
import sys
import time

import numpy as np


def emit(name: str, value: dict) -> None:
    print(f"@@{name} " + json.dumps(value), flush=True)


def probe() -> None:
    import deepseek as ds
    from deepseek_cuda import driver, nvrtc

    out = {"backends": ds.backends.available(), "python": sys.version.split()[0]}
    if ds.cuda.is_available():
        p = ds.cuda.get_device_properties(0)
        out.update(device=p.name, capability=f"{p.major}.{p.minor}", memory_gib=round(p.total_memory / 2**30, 1),
                   sms=p.multi_processor_count,
                   driver=f"{driver.ffi.string(driver.lib.cuda_driver_path()).decode()} (CUDA {driver.driver_version()})")
        native, missing = ds.backends.get_backend("cuda").coverage()
        out.update(native=len(native), missing=list(missing))
    out["nvrtc"] = "%d.%d" % nvrtc.nvrtc_version()
    out["cublas"] = bool(_cublas())
    emit("probe", out)


def _digits_losses(device: str, epochs: int) -> list:
    import deepseek as ds
    from sklearn.datasets import load_digits

    ds.manual_seed(0)
    digits = load_digits()
    x = ds.tensor(digits.data.astype(np.float32) / 16.0).to(device)
    y = ds.tensor(digits.target.astype(np.int64)).to(device)
    hidden = 128
    # the same initial weights on every device: drawn on the CPU, then moved
    w1 = (ds.randn(64, hidden) * (1 / 8)).to(device).requires_grad_()
    b1 = ds.zeros(hidden, device=device, requires_grad=True)
    w2 = (ds.randn(hidden, 10) * (1 / hidden**0.5)).to(device).requires_grad_()
    b2 = ds.zeros(10, device=device, requires_grad=True)
    params = [w1, b1, w2, b2]
    losses = []
    n, batch, lr = x.shape[0], 64, 0.1
    rng = np.random.default_rng(0)
    for _ in range(epochs):
        order = ds.tensor(rng.permutation(n)).to(device)
        total = 0.0
        for i in range(0, n, batch):
            idx = order[i:i + batch]
            h = (x[idx] @ w1 + b1).relu()
            loss = -ds.log_softmax(h @ w2 + b2, dim=1).gather(1, y[idx].unsqueeze(1)).mean()
            for p in params:
                p.grad = None
            loss.backward()
            with ds.no_grad():
                for p in params:
                    p.sub_(lr * p.grad)
            total += loss.item() * idx.shape[0]
        losses.append(total / n)
    return losses


def digits(epochs: int = 10) -> None:
    t0 = time.perf_counter()
    cpu = _digits_losses("cpu", epochs)
    t1 = time.perf_counter()
    gpu = _digits_losses("cuda:0", epochs)
    t2 = time.perf_counter()
    rel = max(abs(a - b) / max(abs(a), 1e-6) for a, b in zip(cpu, gpu))
    emit("digits", {"epochs": epochs, "cpu": cpu, "cuda": gpu, "max_rel_diff": rel, "cpu_s": t1 - t0,
                    "cuda_s": t2 - t1, "match": rel < 1e-3})


def _program_launches(device: str):
    """The plugin's count of generated kernels launched (``fused`` on another device type, such
    as opencl:0 on PoCL, reads that plugin's counter)."""
    kind = device.split(":")[0]
    if kind == "opencl":
        from deepseek_opencl import table

        return lambda: table.launch_counts()[1]
    lib = __import__(f"deepseek_{kind}._launch", fromlist=["lib"]).lib
    return lambda: int(lib.dsg_program_launches())


def fused(device: str = "cuda:0") -> None:
    """A small elementwise chain traced on the device (deepseek.testing.fused): each fused node
    runs as one generated kernel (NVRTC), bit-equal to the same graph one launch a step, and
    equal to the CPU within float tolerances; float32, float16 and bfloat16."""
    from deepseek.testing.fused import check_traced_chain

    t = time.perf_counter()
    out = check_traced_chain(device, _program_launches(device))
    out.update(device=device, seconds=round(time.perf_counter() - t, 2))
    emit("fused", out)


def resnet(batch: int = 16, size: int = 224, steps: int = 3, arch: str = "ResNet50") -> None:
    import deepseek as ds
    from deepseek import nn, optim

    ds.manual_seed(0)
    model = getattr(nn, arch)(num_classes=1000).to("cuda:0")
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = ds.randn(batch, 3, size, size, device="cuda:0")
    y = ds.randint(0, 1000, (batch,), device="cuda:0")
    times, losses = [], []
    for _ in range(steps + 1):
        t = time.perf_counter()
        loss = nn.CrossEntropyLoss()(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())  # waits for the step
        ds.cuda.synchronize()
        times.append(time.perf_counter() - t)
    free, total = ds.cuda.mem_get_info()
    emit("resnet", {"arch": arch, "batch": batch, "size": size, "first_step_s": times[0], "step_s": min(times[1:]),
                    "images_per_s": batch / min(times[1:]), "losses": losses,
                    "max_allocated_gib": ds.cuda.max_memory_allocated() / 2**30,
                    "device_used_gib": (total - free) / 2**30})


def _cublas():
    """cuBLAS as the plugin finds it (deepseek_cuda.table.cublas_path), or None."""
    from deepseek_cuda import table

    path = table.cublas_path()
    try:
        return ctypes.CDLL(path) if path else None
    except OSError:
        return None


def _time_ms(fn, reps: int) -> float:
    """Milliseconds per call, between two CUDA events around ``reps`` calls after a warm-up."""
    be = __import__("deepseek").backends.get_backend("cuda")
    fn()
    be.synchronize(0)
    start, end = be.event_create(0, True), be.event_create(0, True)
    be.event_record(0, start)
    for _ in range(reps):
        fn()
    be.event_record(0, end)
    be.event_synchronize(0, end)
    ms = be.event_elapsed_time(0, start, end) / reps
    be.event_destroy(0, start)
    be.event_destroy(0, end)
    return ms


def matmul(n: int = 4096, reps: int = 10) -> None:
    """deepseek's matmul (through cuBLAS when it loaded, else the portable kernel: run once
    with DEEPSEEK_CUDA_CUBLAS=0 for the kernel's figure), then cuBLAS called directly."""
    import deepseek as ds
    from deepseek_cuda import table

    flops = 2.0 * n ** 3
    ds.zeros(1, device="cuda:0")  # loads the backend
    out = {"n": n, "via": "cuBLAS" if table.CUBLAS["loaded"] else "kernel"}
    for name, dtype in (("float32", ds.float32), ("bfloat16", ds.bfloat16)):
        a = ds.randn(n, n, device="cuda:0").to(dtype)
        b = ds.randn(n, n, device="cuda:0").to(dtype)
        ms = _time_ms(lambda: a @ b, reps)
        out[f"deepseek_{name}_tflops"] = flops / (ms * 1e-3) / 1e12
        ref = (a[:64].cpu().float() @ b.cpu().float()).numpy()
        got = (a[:64] @ b).cpu().float().numpy()
        out[f"deepseek_{name}_max_rel_err"] = float(np.abs(got - ref).max() / np.abs(ref).max())
    lib = _cublas()
    if lib is not None:
        try:
            out.update(_cublas_direct(lib, n, reps, flops))
        except Exception as exc:  # noqa: BLE001 - the figures above stand without it
            out["cublas_error"] = f"{type(exc).__name__}: {exc}"
    emit("matmul_" + out["via"], out)


def _cublas_direct(lib, n: int, reps: int, flops: float) -> dict:
    """cuBLAS's own TFLOP/s on n x n operands of the device (float32 without TF32, bfloat16
    with float32 accumulation), one cublasGemmStridedBatchedEx of batch 1 per call."""
    import deepseek as ds

    be = ds.backends.get_backend("cuda")
    handle = ctypes.c_void_p()
    be.synchronize(0)  # the primary context is current on this thread
    if lib.cublasCreate_v2(ctypes.byref(handle)) != 0:
        raise RuntimeError("cublasCreate_v2 failed")
    bufs = [be.alloc(0, n * n * 4) for _ in range(3)]
    out = {}
    try:
        one, zero = ctypes.c_float(1.0), ctypes.c_float(0.0)
        a, b, c = (ctypes.c_void_p(p) for p in bufs)
        # CUDA_R_32F = 0, CUDA_R_16BF = 14; CUBLAS_COMPUTE_32F = 68; CUBLAS_GEMM_DEFAULT = -1
        for name, dtype in (("float32", 0), ("bfloat16", 14)):
            def gemm(dtype=dtype):
                status = lib.cublasGemmStridedBatchedEx(
                    handle, 0, 0, n, n, n, ctypes.byref(one), a, dtype, n, ctypes.c_longlong(0), b, dtype, n,
                    ctypes.c_longlong(0), ctypes.byref(zero), c, dtype, n, ctypes.c_longlong(0), 1, 68, -1)
                if status != 0:
                    raise RuntimeError(f"cublasGemmStridedBatchedEx: status {status}")
            out[f"cublas_{name}_tflops"] = flops / (_time_ms(gemm, reps) * 1e-3) / 1e12
    finally:
        lib.cublasDestroy_v2(handle)
        for p in bufs:
            be.free(0, p)
    return out


def summary(folder: str) -> None:
    """The Markdown block for bench/RESULTS.md from the steps' outputs in ``folder``."""
    got = {}
    for name in sorted(f for f in os.listdir(folder) if f.endswith(".log")):
        for line in open(os.path.join(folder, name), errors="replace"):
            if line.startswith("@@"):
                key, _, value = line[2:].partition(" ")
                got[key] = json.loads(value)
    p, lines = got.get("probe", {}), ["## CUDA backend on a GPU (plugins/cuda/tests/gpu_check.sh)", ""]
    lines.append(f"- device: {p.get('device')} (sm {p.get('capability')}, {p.get('memory_gib')} GiB, "
                 f"{p.get('sms')} SMs), driver {p.get('driver')}, NVRTC {p.get('nvrtc')}, "
                 f"cuBLAS {'present' if p.get('cublas') else 'absent'}, Python {p.get('python')}")
    lines.append(f"- native primitive ops: {p.get('native')} (missing: {', '.join(p.get('missing', [])) or 'none'})")
    c = got.get("conformance")
    if c:
        lines.append(f"- conformance kit on cuda:0 (strict): {c.get('passed')} passed, {c.get('failed')} failed"
                     + (f" ({', '.join(c.get('failures', []))})" if c.get("failures") else ""))
    d = got.get("digits")
    if d:
        lines.append(f"- digits MLP, {d['epochs']} epochs: max relative loss difference CPU vs cuda:0 "
                     f"{d['max_rel_diff']:.2e} ({'matches' if d['match'] else 'DIFFERS'}); "
                     f"CPU {d['cpu_s']:.1f} s, cuda:0 {d['cuda_s']:.1f} s")
    f = got.get("fused")
    if f:
        per = "; ".join(f"{dt} {v['fused_nodes']} node(s), {v['launches_per_run']} kernel(s) a run, "
                        f"{'bit-equal' if v['bit_equal'] else 'NOT bit-equal'} to one launch a step, "
                        f"max rel diff to the CPU {v['max_rel_diff']:.1e}"
                        for dt, v in f.items() if isinstance(v, dict))
        lines.append(f"- generated kernels, a chain traced on {f['device']} ({'matches' if f['ok'] else 'DIFFERS'}): {per}")
    r = got.get("resnet")
    if r:
        lines.append(f"- {r['arch']} training step, batch {r['batch']} at {r['size']}px: {r['step_s'] * 1e3:.0f} ms "
                     f"({r['images_per_s']:.1f} img/s; first step {r['first_step_s']:.1f} s with compiles), "
                     f"peak allocated {r['max_allocated_gib']:.2f} GiB")
    for via in ("kernel", "cuBLAS"):
        m = got.get("matmul_" + via)
        if not m:
            continue
        for dt in ("float32", "bfloat16"):
            cub = m.get(f"cublas_{dt}_tflops")
            how = "cuBLAS" if via == "cuBLAS" else "the portable kernel"
            lines.append(f"- matmul {m['n']}x{m['n']} {dt}, deepseek through {how}: "
                         f"{m[f'deepseek_{dt}_tflops']:.2f} TFLOP/s (max rel err {m[f'deepseek_{dt}_max_rel_err']:.1e})"
                         + (f"; cuBLAS called directly {cub:.2f} TFLOP/s" if cub else ""))
    if "matmul_kernel" not in got and "matmul_cuBLAS" not in got:
        lines.append("- matmul: did not finish (see its log)")
    for step in ("probe", "conformance", "digits", "fused", "resnet"):
        if step not in got:
            lines.append(f"- {step}: did not finish (see its log)")
    print("\n".join(lines))


if __name__ == "__main__":
    step, args = sys.argv[1], sys.argv[2:]
    if step == "summary":
        summary(args[0])
    else:
        {"probe": probe, "digits": digits, "fused": fused, "resnet": resnet, "matmul": matmul}[step](
            *(int(a) if a.isdigit() else a for a in args))
