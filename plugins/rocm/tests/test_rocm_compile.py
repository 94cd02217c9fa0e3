"""Every kernel program of deepseek.backends.kernels, rendered as HIP C++, compiles with the
installed hipcc for gfx90a (MI200) and for each of gfx942 (MI300) and gfx1100 (RDNA3) that this
hipcc supports (probed here, not assumed): the committed proof, on a machine without an AMD
GPU, that the ROCm plugin's kernels build. Then the plugin's own path, hipRTC with its on-disk
cache, on the same sources.

One program per dtype holds every kernel serving that dtype, so the programs x architectures
cover every op family and dtype; they compile in parallel (one hipcc process each)."""
from __future__ import annotations

import os
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from deepseek.backends import kernels

from rocm_helpers import INSTALL, hip_compiler, need_hip

# Kernels every program defines: a missing one fails the test.
EVERY_PROGRAM = ("k_unary", "k_binary", "k_cast", "k_copy", "k_fill", "k_where", "k_red", "k_take", "k_scatter")


@pytest.fixture(scope="module")
def hipcc():
    path, archs = hip_compiler()
    if path is None:
        need_hip(f"hipcc is not installed; {INSTALL}")
    if "gfx90a" not in archs:
        takes = ", ".join(archs) or "none of gfx90a/gfx942/gfx1100"
        pytest.fail(f"{path} does not compile for gfx90a (it takes: {takes})")
    return path, archs


def test_every_program_compiles_with_hipcc_for_every_supported_arch(hipcc, tmp_path):
    path, archs = hipcc
    # hipRTC puts HIP's device runtime in scope by itself; hipcc compiling the same text as a
    # plain .hip file needs that header named.
    options = [*kernels.compile_options("hip"), "-include", "hip/hip_runtime.h"]
    jobs = [(program, arch) for program in kernels.program_names() for arch in archs]

    def build(job):
        program, arch = job
        src = tmp_path / f"{program}.hip"
        if not src.exists():
            src.write_text(kernels.source(program, "hip"))
        out = tmp_path / f"{program}-{arch}.hsaco"
        proc = subprocess.run([path, f"--offload-arch={arch}", "--genco", "-O2", *options, str(src), "-o", str(out)],
                              capture_output=True, text=True, timeout=600)
        return job, proc, out

    for program in kernels.program_names():  # written once, before the pool reads them
        (tmp_path / f"{program}.hip").write_text(kernels.source(program, "hip"))
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        results = list(pool.map(build, jobs))
    seconds = time.perf_counter() - start
    print(f"hipcc: {len(jobs)} programs ({len(kernels.program_names())} x {', '.join(archs)}) in {seconds:.1f} s "
          f"on {os.cpu_count()} cores; not supported by this hipcc: "
          f"{', '.join(a for a in ('gfx942', 'gfx1100') if a not in archs) or 'none'}")
    failed = [f"{program} for {arch}:\n{proc.stderr[-3000:]}" for (program, arch), proc, _ in results
              if proc.returncode]
    assert not failed, "\n\n".join(failed)
    for (program, arch), _, out in results:
        image = out.read_bytes()
        assert f"amdgcn-amd-amdhsa--{arch}".encode() in image, (program, arch)
        missing = [k for k in EVERY_PROGRAM if f"{k}.kd".encode() not in image]
        assert not missing, f"the {program} program for {arch} lacks {missing}"
    floats = next(out for (program, arch), _, out in results if program == "float32").read_bytes()
    assert b"k_matmul.kd" in floats and b"k_rand.kd" in floats


def test_generated_fused_kernels_compile_with_hipcc_for_gfx90a(hipcc, tmp_path):
    """Generated fused elementwise kernels (deepseek.backends.kernels.fused; the bodies the
    plugin's source loader builds behind the HIP prelude) over float64, bfloat16, float16 and
    int64, with more operands than MAXT."""
    from deepseek.backends.kernels import fused

    path, _ = hipcc
    options = [*kernels.compile_options("hip"), "-include", "hip/hip_runtime.h"]
    # a float, the halves and an integer family (float32 is compiled by the CUDA and OpenCL tests)
    steps = {"float64": ["mul", "exp", "pow", "digamma", "remainder"], "bfloat16": ["add", "erf", "minimum", "relu", "div"],
             "float16": ["mul", "tanh", "maximum", "sigmoid", "sub"], "int64": ["mul", "bitwise_not", "bitwise_xor", "sign", "pow"]}

    def build(dt):
        body = fused.render(steps[dt], [0, 1, 7, -1, 8, 2, 9, -1, 10, 3], [11, 9], 7, dt)
        assert body is not None, dt
        src, out = tmp_path / f"fused_{dt}.hip", tmp_path / f"fused_{dt}.hsaco"
        src.write_text(kernels.prelude("hip") + body)
        proc = subprocess.run([path, "--offload-arch=gfx90a", "--genco", "-O2", *options, str(src), "-o", str(out)],
                              capture_output=True, text=True, timeout=600)
        if proc.returncode:
            return f"{dt}:\n{proc.stderr[-3000:]}"
        return None if f"{fused.KERNEL}.kd".encode() in out.read_bytes() else f"{dt}: no {fused.KERNEL} in the code object"

    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        failed = [f for f in pool.map(build, steps) if f]
    assert not failed, "\n\n".join(failed)


@pytest.fixture
def hiprtc(hiprtc_path, tmp_path, monkeypatch):
    from deepseek_rocm import hiprtc

    monkeypatch.setenv(hiprtc.ENV_CACHE, str(tmp_path / "cache"))
    return hiprtc


def test_hiprtc_compiles_a_program_and_the_cache_serves_the_next_process(hiprtc, tmp_path):
    source, options = kernels.source("int32", "hip"), kernels.compile_options("hip")
    before = dict(hiprtc.STATS)
    image = hiprtc.compile_code_object(source, "int32", "gfx90a", options)
    assert image[:4] == b"\x7fELF" and b"k_binary" in image and b"amdgcn" in image
    assert hiprtc.compile_code_object(source, "int32", "gfx90a", options) == image
    assert hiprtc.STATS["compiled"] == before["compiled"] + 1
    assert hiprtc.STATS["cache_hits"] == before["cache_hits"] + 1
    (entry,) = (tmp_path / "cache").iterdir()
    assert entry.name.startswith("int32-gfx90a-") and entry.read_bytes() == image
    # the key follows the source, the architecture and the options
    key = hiprtc.cache_key(source, "gfx90a", options)
    assert key != hiprtc.cache_key(source + " ", "gfx90a", options)
    assert key != hiprtc.cache_key(source, "gfx942", options)
    assert key != hiprtc.cache_key(source, "gfx90a", [])
    # a second process compiles nothing
    script = ("from deepseek.backends import kernels; from deepseek_rocm import hiprtc\n"
              "hiprtc.compile_code_object(kernels.source('int32', 'hip'), 'int32', 'gfx90a', "
              "kernels.compile_options('hip')); print(hiprtc.STATS['compiled'], hiprtc.STATS['cache_hits'])")
    env = dict(os.environ, DEEPSEEK_ROCM_CACHE_DIR=str(tmp_path / "cache"))
    out = subprocess.run([__import__("sys").executable, "-c", script], env=env, capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["0", "1"]


def test_a_corrupt_cache_entry_is_compiled_again(hiprtc, tmp_path):
    source = kernels.source("bool", "hip")
    image = hiprtc.compile_code_object(source, "bool", "gfx90a")
    (entry,) = (tmp_path / "cache").iterdir()
    entry.write_bytes(b"not a code object")
    assert hiprtc.compile_code_object(source, "bool", "gfx90a") == image
    assert entry.read_bytes() == image


def test_a_compile_error_names_the_program_and_shows_the_log(hiprtc):
    bad = kernels.prelude("hip") + "DS_KERNEL k_broken(float *o) { o[0] = undeclared_name; }\n"
    with pytest.raises(hiprtc.CompileError) as info:
        hiprtc.compile_code_object(bad, "broken_program", "gfx90a")
    msg = str(info.value)
    assert "kernel program 'broken_program'" in msg and "gfx90a" in msg
    assert "undeclared_name" in msg  # the compiler's log
