"""deepseek's conformance kit on cuda:0 with the CUDA kernels running for real, on the CPU: the
fake driver runs each launch with a host build of the program's portable body
(fake_driver/host_kernels.py; the same body NVRTC compiles for the GPU, after a host prelude in
place of the CUDA one). So every primitive op, forward and backward, goes through the whole
plugin (C table, staging copies, the shared planner, the CUDA hooks, kernelParams) and its
results are compared with the CPU core's, in strict mode. What only a GPU shows (its math
library, its memory model) is left to gpu_check.sh."""
from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from deepseek.backends import kernels
from deepseek_cuda import nvrtc

from cuda_helpers import calls_named

sys.path.insert(0, str(Path(__file__).resolve().parent / "fake_driver"))
import host_kernels  # noqa: E402

ARCH = 80  # the fake driver's compute capability


@pytest.fixture(scope="module")
def host_builds(tmp_path_factory, kernel_cache):
    """Host builds of every program, named by the hash of the PTX the plugin will load."""
    out = tmp_path_factory.mktemp("host_kernels")
    old = os.environ.get(nvrtc.ENV_CACHE)
    os.environ[nvrtc.ENV_CACHE] = str(kernel_cache)  # the PTX the plugin's scripts compile, shared
    try:
        def build(program):
            ptx = nvrtc.compile_ptx_cached(kernels.source(program, "cuda"), program, ARCH,
                                           kernels.compile_options("cuda"))
            return host_kernels.build(program, ptx, out)

        with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
            built = list(pool.map(build, kernels.program_names()))
    finally:
        if old is None:
            del os.environ[nvrtc.ENV_CACHE]
        else:
            os.environ[nvrtc.ENV_CACHE] = old
    assert len(built) == len(kernels.program_names())
    return out


def test_host_kernels_compute_through_the_plugin(run_fake, host_builds):
    out, calls = run_fake("""
import numpy as np, deepseek as ds
ds.backends.set_strict(True)
ds.manual_seed(0)
x, y = ds.randn(37, 50), ds.randn(50, 29)
emit([float((x.to("cuda") @ y.to("cuda")).cpu().sub(x @ y).abs().max()),
      ds.sort(ds.tensor([3, 1, 2]).to("cuda"))[0].cpu().tolist()])
""", DEEPSEEK_CUDA_CODE="ptx", FAKE_CUDA_HOST_KERNELS=host_builds)
    assert out[0] < 1e-4 and out[1] == [1, 2, 3]
    launches = calls_named(calls, "cuLaunchKernel")
    assert launches and all(c["ran"] == "1" for c in launches)


def test_conformance_kit_on_cuda_with_the_kernels_run_on_the_host(fake_driver, host_builds, kernel_cache, tmp_path):
    suite = tmp_path / "test_cuda_conformance_host.py"
    suite.write_text("from deepseek.testing import install_conformance_tests\n"
                     "install_conformance_tests(globals(), 'cuda:0')\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FAKE_CUDA_", "DEEPSEEK_CUDA_"))}
    env.update({"DEEPSEEK_CUDA_DRIVER": str(fake_driver), "DEEPSEEK_CUDA_CODE": "ptx", "DEEPSEEK_CUDA_CUBLAS": "0",
                "DEEPSEEK_CUDA_CACHE_DIR": str(kernel_cache), "FAKE_CUDA_HOST_KERNELS": str(host_builds),
                "DEEPSEEK_REQUIRE_CUDA": "1"})
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:warnings",
                           "--rootdir", str(tmp_path), str(suite)], env=env, cwd=tmp_path, capture_output=True,
                          text=True, timeout=1200)
    n = len(__import__("deepseek").backends.PRIMITIVE_OP_NAMES)
    assert proc.returncode == 0 and f"{n} passed" in proc.stdout, proc.stdout[-6000:] + proc.stderr[-3000:]



def test_gpu_check_script_runs_and_matches_the_cpu(fake_driver, host_builds, kernel_cache, tmp_path):
    """gpu_check.sh, the real-GPU script, end to end on the fake driver with host kernels (and
    the fake cuBLAS), at small sizes: the conformance kit passes on cuda:0, the digits MLP
    follows the CPU's loss curve, a chain traced on cuda:0 runs one generated kernel per fused
    node and matches, a ResNet step runs, matmul's products are right, and the
    summary for bench/RESULTS.md gathers every step."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FAKE_CUDA_", "DEEPSEEK_CUDA_"))}
    env.update({"DEEPSEEK_CUDA_DRIVER": str(fake_driver), "DEEPSEEK_CUDA_CODE": "ptx",
                "DEEPSEEK_CUDA_CUBLAS": str(fake_driver.parent / "libcublas.so.12"),
                "DEEPSEEK_CUDA_CACHE_DIR": str(kernel_cache), "FAKE_CUDA_HOST_KERNELS": str(host_builds),
                "OUT": str(tmp_path / "out"), "PYTHON": sys.executable, "GPU_CHECK_DIGITS": "2",
                "GPU_CHECK_RESNET": "2 16 1 ResNet18", "GPU_CHECK_MATMUL": "64 2"})
    # the generated kernels of its fused step, built for the host as the programs are
    from deepseek.testing.fused import traced_chain_bodies

    for name, body in traced_chain_bodies():
        ptx = nvrtc.compile_ptx_cached(kernels.prelude("cuda") + body, name, ARCH, kernels.compile_options("cuda"), cache=False)
        host_kernels.build(name, ptx, host_builds, body=body)
    script = Path(__file__).resolve().parent / "gpu_check.sh"
    proc = subprocess.run(["bash", str(script)], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-3000:]
    summary = proc.stdout.split("## CUDA backend on a GPU", 1)[1]
    n = len(__import__("deepseek").backends.PRIMITIVE_OP_NAMES)
    assert "Fake NVIDIA GPU 0 (deepseek tests) (sm 8.0" in summary and "(CUDA 12.9)" in summary
    assert f"native primitive ops: {n} (missing: none)" in summary
    assert f"conformance kit on cuda:0 (strict): {n} passed, 0 failed" in summary
    assert "digits MLP, 2 epochs: max relative loss difference CPU vs cuda:0" in summary and "(matches)" in summary
    assert "generated kernels, a chain traced on cuda:0 (matches): float32 1 node(s), 1 kernel(s) a run, bit-equal" in summary
    assert "ResNet18 training step, batch 2 at 16px" in summary
    assert "did not finish" not in summary
    import json
    for log, via in (("5-matmul-kernel.log", "kernel"), ("6-matmul.log", "cuBLAS")):
        text = (tmp_path / "out" / log).read_text()
        m = json.loads(text.split(f"@@matmul_{via} ", 1)[1].splitlines()[0])
        assert m["deepseek_float32_max_rel_err"] < 1e-5 and m["deepseek_bfloat16_max_rel_err"] < 2e-2, m
    assert "cuBLAS called directly" in summary
