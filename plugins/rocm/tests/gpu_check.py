"""The measurements of gpu_check.sh on a machine with an AMD GPU (see that script).

    python gpu_check.py probe | digits EPOCHS | fused | convnet BATCH SIZE STEPS | matmul N REPEATS | summary DIR

Each step prints one line ``@@<step> {json}``; ``summary`` gathers them from DIR's logs into a
Markdown block for bench/RESULTS.md. Nothing here downloads anything: the digits come with
scikit-learn."""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np

# rocm:0; another device type for trying the script where no AMD GPU is (opencl:0 on PoCL)
DEVICE = os.environ.get("DEEPSEEK_CHECK_DEVICE", "rocm:0")


def _module():
    """``deepseek.rocm`` (or the module of DEVICE's type)."""
    import deepseek as ds

    return getattr(ds, DEVICE.split(":")[0])


def report(step: str, value: dict) -> None:
    print(f"@@{step} " + json.dumps(value), flush=True)


def probe() -> None:
    import deepseek as ds
    from deepseek_rocm import hiprtc, runtime

    info = {"python": sys.version.split()[0], "backends": ds.backends.available()}
    if ds.rocm.is_available():
        p = ds.rocm.get_device_properties(0)
        native, missing = ds.backends.get_backend("rocm").coverage()
        info.update(device=p.name, arch=p.gcnArchName, memory_gib=round(p.total_memory / 2**30, 1),
                    compute_units=p.multi_processor_count, runtime=runtime.runtime_path(),
                    hip="%d.%d" % runtime.runtime_version(), native_ops=len(native), missing_ops=list(missing))
        info["hiprtc"] = f"{hiprtc.library_path()} ({'%d.%d' % hiprtc.version()})"
        info["rocblas"] = runtime.blas_path() or "none (the portable GEMM)"
    report("probe", info)


def _digits_curve(device: str, epochs: int) -> list:
    """Mean training loss per epoch of a 64-128-10 MLP on sklearn's digits; the weights and the
    batch order are drawn on the CPU with one seed, so every device starts and walks alike."""
    import deepseek as ds
    from deepseek import nn, optim
    from sklearn.datasets import load_digits

    data = load_digits()
    x = ds.tensor((data.data / 16.0).astype(np.float32)).to(device)
    y = ds.tensor(data.target.astype(np.int64)).to(device)
    ds.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10)).to(device)
    opt = optim.SGD(model.parameters(), lr=0.1)
    loss_fn = nn.CrossEntropyLoss()
    order_rng = np.random.default_rng(0)
    curve = []
    for _ in range(epochs):
        perm = ds.tensor(order_rng.permutation(len(data.target))).to(device)
        seen, total = 0, 0.0
        for start in range(0, len(data.target), 64):
            idx = perm[start:start + 64]
            loss = loss_fn(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * idx.shape[0]
            seen += idx.shape[0]
        curve.append(total / seen)
    return curve


def digits(epochs: int) -> None:
    t0 = time.perf_counter()
    cpu = _digits_curve("cpu", epochs)
    t1 = time.perf_counter()
    gpu = _digits_curve(DEVICE, epochs)
    t2 = time.perf_counter()
    gap = max(abs(a - b) for a, b in zip(cpu, gpu))
    report("digits", {"epochs": epochs, "cpu": [round(v, 5) for v in cpu], DEVICE: [round(v, 5) for v in gpu],
                      "max_gap": gap, "match": gap < 1e-3, "cpu_s": round(t1 - t0, 2), "device_s": round(t2 - t1, 2)})


def _program_launches():
    """The plugin's count of generated kernels launched (DEVICE's plugin: opencl:0's on PoCL)."""
    if DEVICE.startswith("opencl"):
        from deepseek_opencl import table

        return lambda: table.launch_counts()[1]
    from deepseek_rocm._rocm import lib

    return lambda: int(lib.dsg_program_launches())


def fused() -> None:
    """A small elementwise chain traced on DEVICE (deepseek.testing.fused): each fused node runs
    as one generated kernel (hipRTC), bit-equal to the same graph one launch a step, and equal
    to the CPU within float tolerances; float32, float16 and bfloat16."""
    from deepseek.testing.fused import check_traced_chain

    t = time.perf_counter()
    out = check_traced_chain(DEVICE, _program_launches())
    out.update(device=DEVICE, seconds=round(time.perf_counter() - t, 2))
    report("fused", out)


def convnet(batch: int, size: int, steps: int) -> None:
    """Training steps of a small VGG-style net (conv-relu-pool x3, linear) on random images."""
    import deepseek as ds
    from deepseek import nn, optim

    ds.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(64, 128, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(128 * (size // 8) ** 2, 10)).to(DEVICE)
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = ds.randn(batch, 3, size, size).to(DEVICE)
    y = ds.tensor(np.arange(batch) % 10).to(DEVICE)
    loss_fn = nn.CrossEntropyLoss()
    times, losses = [], []
    for _ in range(steps + 1):  # the first step compiles kernels: not timed
        t = time.perf_counter()
        loss = loss_fn(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        _module().synchronize()
        times.append(time.perf_counter() - t)
    report("convnet", {"batch": batch, "size": size, "step_ms": round(1000 * float(np.median(times[1:])), 2),
                       "first_step_s": round(times[0], 2), "losses": [round(v, 4) for v in losses],
                       "max_memory_mib": round(_module().max_memory_allocated() / 2**20, 1)})


def matmul(n: int, repeats: int) -> None:
    """TFLOP/s of an n x n matmul in float32 and bfloat16, timed with device events, and the
    float32 result checked against NumPy on a corner."""
    import deepseek as ds

    out = {"n": n}
    rng = np.random.default_rng(0)
    a_np, b_np = rng.standard_normal((n, n), dtype=np.float32), rng.standard_normal((n, n), dtype=np.float32)
    for dtype in ("float32", "bfloat16"):
        a = ds.tensor(a_np).to(DEVICE).to(getattr(ds, dtype))
        b = ds.tensor(b_np).to(DEVICE).to(getattr(ds, dtype))
        c = a @ b  # warm: compiles the program
        dev = _module()
        dev.synchronize()
        start, end = dev.Event(enable_timing=True), dev.Event(enable_timing=True)
        start.record()
        for _ in range(repeats):
            c = a @ b
        end.record()
        end.synchronize()
        ms = start.elapsed_time(end) / repeats
        out[dtype] = {"ms": round(ms, 3), "tflops": round(2 * n**3 / (ms * 1e-3) / 1e12, 2)}
        if dtype == "float32":
            corner = c[:64, :64].cpu().numpy()
            want = a_np[:64].astype(np.float64) @ b_np[:, :64].astype(np.float64)
            out["float32"]["max_rel_err"] = float(np.abs(corner - want).max() / np.abs(want).max())
    from deepseek_rocm import runtime

    out["through"] = (runtime.blas_path() or "the portable kernel") if DEVICE.startswith("rocm") else DEVICE
    report("matmul" if os.environ.get("DEEPSEEK_ROCM_ROCBLAS", "").lower() != "none" else "matmul_kernel", out)


def summary(folder: str) -> None:
    found = {}
    for log in sorted(Path(folder).glob("*.log")):
        for line in log.read_text(errors="replace").splitlines():
            if line.startswith("@@"):
                step, _, value = line[2:].partition(" ")
                found[step] = json.loads(value)
    lines = ["### deepseek-rocm on " + str(found.get("probe", {}).get("device", "?")), ""]
    for step, value in found.items():
        lines.append(f"- **{step}**: `{json.dumps(value)[:900]}`")
    print("\n".join(lines))


if __name__ == "__main__":
    step, args = sys.argv[1], sys.argv[2:]
    steps = {"probe": probe, "digits": lambda e=10: digits(int(e)), "fused": fused,
             "convnet": lambda b=32, s=64, n=5: convnet(int(b), int(s), int(n)),
             "matmul": lambda n=4096, r=10: matmul(int(n), int(r)), "summary": summary}
    steps[step](*args)
