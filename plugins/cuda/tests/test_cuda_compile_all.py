"""Every kernel program of deepseek.backends.kernels, rendered as CUDA C++, compiles with NVRTC
to SASS for sm_80 (A100) and sm_90 (H100), with the options the plugin uses: the committed
proof, on a machine without a GPU, that the CUDA plugin's kernels build.

One program per dtype holds every kernel serving that dtype, so 10 programs x 2 architectures
cover every op family and dtype; they compile in a thread pool (NVRTC releases the GIL)."""
from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor

from deepseek.backends import kernels
from deepseek_cuda import nvrtc

from test_cuda_nvrtc import sass_arch

ARCHS = (80, 90)
# The kernels every program defines, and those only some do: a missing one fails the test.
ALL_PROGRAMS = ("k_unary", "k_binary", "k_cast", "k_copy", "k_fill", "k_where", "k_red", "k_take", "k_scatter")


def test_every_program_compiles_to_sass_for_sm80_and_sm90(tmp_path, monkeypatch):
    monkeypatch.setenv(nvrtc.ENV_CACHE, str(tmp_path))  # an empty cache: everything compiles
    options = kernels.compile_options("cuda")
    jobs = [(program, arch) for program in kernels.program_names() for arch in ARCHS]

    def build(job):
        program, arch = job
        return job, nvrtc.compile_cubin(kernels.source(program, "cuda"), program, arch, options)

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        images = dict(pool.map(build, jobs))
    seconds = time.perf_counter() - start
    print(f"NVRTC: {len(jobs)} programs compiled to SASS in {seconds:.1f} s")
    assert set(images) == set(jobs)
    for (program, arch), image in images.items():
        for kernel in ALL_PROGRAMS:
            assert sass_arch(image, kernel) == arch, (program, arch, kernel)
    for kernel in ("k_matmul", "k_rand", "k_conv2d", "k_im2col", "k_sort", "k_index1", "k_index_put1"):
        assert f".text.{kernel}".encode() in images[("float32", 90)], kernel


# Generated fused kernels (deepseek.backends.kernels.fused): a program of every step kind over
# each dtype the renderer takes, with more operands than MAXT (their own MetaN), behind the
# CUDA prelude, as the plugin's source loader compiles them.
FUSED = {
    "float32": (["mul", "tanh", "maximum", "sigmoid", "fmod", "remainder"], [0, 1, 7, -1, 8, 2, 9, -1, 10, 3, 11, 4]),
    "float64": (["mul", "tanh", "maximum", "digamma", "floor_divide", "pow"], [0, 1, 7, -1, 8, 2, 9, -1, 10, 3, 11, 4]),
    "bfloat16": (["add", "exp", "minimum", "relu", "div", "erf"], [0, 1, 7, -1, 8, 2, 9, -1, 10, 3, 11, -1]),
    "float16": (["mul", "sigmoid", "maximum", "tanh", "sub", "exp"], [0, 1, 7, -1, 8, 2, 9, -1, 10, 3, 11, -1]),
    "int32": (["add", "neg", "maximum", "abs", "floor_divide", "remainder"], [0, 1, 7, -1, 8, 2, 9, -1, 10, 3, 11, 4]),
    "int64": (["mul", "bitwise_not", "bitwise_xor", "sign", "pow", "fmod"], [0, 1, 7, -1, 8, 2, 9, -1, 10, 3, 11, 4]),
    "uint8": (["add", "relu", "minimum", "bitwise_not", "sub", "mul"], [0, 1, 7, -1, 8, 2, 9, -1, 10, 3, 11, 4]),
}


def test_generated_fused_kernels_compile_to_sass_for_sm80_and_sm90(tmp_path, monkeypatch):
    from deepseek.backends.kernels import fused

    monkeypatch.setenv(nvrtc.ENV_CACHE, str(tmp_path))
    options = kernels.compile_options("cuda")
    bodies = {dt: fused.render(ops, args, [12, 10], 7, dt) for dt, (ops, args) in FUSED.items()}
    assert all(b is not None for b in bodies.values()) and 9 > kernels.MAXT  # 2 outputs + 7 inputs: Meta9
    jobs = [(dt, arch) for dt in bodies for arch in ARCHS]

    def build(job):
        dt, arch = job
        return job, nvrtc.compile_cubin(kernels.prelude("cuda") + bodies[dt], f"fused_{dt}", arch, options)

    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        images = dict(pool.map(build, jobs))
    for (dt, arch), image in images.items():
        assert sass_arch(image, fused.KERNEL) == arch, (dt, arch)
