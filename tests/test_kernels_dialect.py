"""deepseek.backends.kernels: every program renders in every dialect, the renderings share one
body, nothing of one language leaks into another, and the OpenCL plugin builds exactly the
OpenCL rendering. Where NVRTC is installed (pip install nvidia-cuda-nvrtc-cu12), the CUDA
renderings are compiled too. The planners are tested in test_kernels_planner.py."""
from __future__ import annotations

import ctypes
import glob
import os
import re
import sys

import pytest

from deepseek.backends import kernels

# The kernels the launch planners enqueue, by name: every program has each (the float-only
# ones in the float programs, the integer-or-float ones outside bool).
EVERY_PROGRAM = ("k_unary", "k_logical_not", "k_binary", "k_predicate", "k_where", "k_cast", "k_copy", "k_fill",
                 "k_arange_f", "k_arange_i", "k_red", "k_redf", "k_cumulative", "k_argreduce", "k_take",
                 "k_scatter", "k_index1", "k_index_put1", "k_sort", "k_sort_block", "k_sort_merge", "k_sort_final",
                 "k_rand", "k_randn", "k_randint", "k_randperm", "k_bernoulli")
NOT_BOOL = ("k_matmul", "k_matmul_direct", "k_conv2d", "k_conv2d_input_grad", "k_conv2d_weight_grad", "k_im2col",
            "k_col2im")
FLOAT_ONLY = ("k_polygamma",)

# Names of OpenCL C that CUDA/HIP C++ lack, and the converse: a rendering may use one only if
# its own prelude defines it.
OPENCL_ONLY = ("__kernel", "__global", "__local", "__constant", "__private", "get_global_id", "get_local_id",
               "get_group_id", "get_local_size", "get_global_size", "barrier", "CLK_LOCAL_MEM_FENCE",
               "vload_half", "vstore_half", "vstore_half_rte", "as_float", "as_uint", "as_int", "as_double",
               "mul_hi", "uchar", "ushort", "uint", "ulong", "half", "uint2", "uint4", "reqd_work_group_size",
               "M_PI", "INFINITY", "NAN")
CUDA_ONLY = ("__global__", "__device__", "__shared__", "__syncthreads", "threadIdx", "blockIdx", "blockDim",
             "__launch_bounds__", "asm", "__uint_as_float", "__float_as_uint", "__umulhi", "_Float16")


def _defined_by(prelude: str) -> set:
    """Names a prelude defines: macros, typedefs and functions."""
    names = set(re.findall(r"#define\s+(\w+)", prelude))
    names |= set(re.findall(r"typedef\s+[^;]*?(\w+)\s*;", prelude))
    names |= set(re.findall(r"\b(\w+)\s*\([^;{]*\)\s*\{", prelude))
    return names


def _identifiers(text: str) -> set:
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return set(re.findall(r"[A-Za-z_]\w*", text))


def _kernels_in(source: str) -> set:
    return set(re.findall(r"DS_KERNEL(?:_WG\([^)]*\))?\s+(\w+)\s*\(", source))


@pytest.mark.parametrize("program", kernels.program_names())
def test_every_program_renders_in_every_dialect_with_one_body(program):
    body = kernels.program_body(program, True)
    for dialect in kernels.DIALECTS:
        src = kernels.source(program, dialect)
        prelude = kernels.prelude(dialect)
        # the renderings differ only in their preludes: the body is the same text
        assert src == prelude + body
        assert program_kernels(program) <= _kernels_in(src)
    if program != "float64":  # OpenCL devices without cl_khr_fp64
        src = kernels.source(program, "opencl", fp64=False)
        assert "double" not in src.replace(kernels.prelude("opencl", False), "")
        assert "cl_khr_fp64" not in src
        assert "k_rand" not in _kernels_in(src) and "k_unary" in _kernels_in(src)


def program_kernels(program: str) -> set:
    names = set(EVERY_PROGRAM)
    if program != "bool":
        names |= set(NOT_BOOL)
    if kernels.D[program].is_float:
        names |= set(FLOAT_ONLY)
    return names


@pytest.mark.parametrize("dialect", ["cuda", "hip"])
def test_no_opencl_names_leak_into_cuda_or_hip(dialect):
    prelude = kernels.prelude(dialect)
    defined = _defined_by(prelude)
    for program in kernels.program_names():
        src = kernels.source(program, dialect)
        used = _identifiers(src)
        leaked = sorted(n for n in OPENCL_ONLY if n in used and n not in defined)
        assert leaked == [], f"{program} in {dialect} uses OpenCL-only names {leaked}"
        # long is 64-bit in OpenCL only; the bodies say i64 (the prelude's `long long` is fine)
        assert not re.search(r"\blong\b", re.sub(r"\blong long\b", "", src)), program
        assert "#pragma OPENCL" not in src
        # every kernel is extern "C": its name is the symbol the driver looks up
        assert re.search(r'#define DS_KERNEL extern "C" __global__ void', prelude)
        assert re.search(r'#define DS_KERNEL_WG\(x, y, z\) extern "C" __global__ void', prelude)


def test_no_cuda_names_leak_into_opencl():
    for program in kernels.program_names():
        used = _identifiers(kernels.source(program, "opencl"))
        assert sorted(n for n in CUDA_ONLY if n in used) == [], program
        assert 'extern "C"' not in kernels.source(program, "opencl")


def test_cuda_and_hip_differ_only_in_float16_conversions():
    def without_half(prelude):
        lines = prelude.splitlines()[1:]  # after the line naming the dialect
        start = next(i for i, ln in enumerate(lines) if "ds_h2f(unsigned short h)" in ln)
        end = next(i for i, ln in enumerate(lines) if ln.startswith("#define DS_LOAD_F16"))
        return lines[:start] + lines[end:], "\n".join(lines[start:end])

    cuda, cuda_half = without_half(kernels.prelude("cuda"))
    hip, hip_half = without_half(kernels.prelude("hip"))
    assert cuda == hip
    assert "cvt.rn.f16.f64" in cuda_half and "__builtin_bit_cast(_Float16" in hip_half


def test_bad_arguments_raise_naming_what_was_wrong():
    with pytest.raises(ValueError, match="unknown kernel dialect 'metal'"):
        kernels.source("float32", "metal")
    with pytest.raises(ValueError, match="unknown kernel program 'complex64'"):
        kernels.source("complex64", "cuda")
    with pytest.raises(ValueError, match="float64 program needs fp64"):
        kernels.source("float64", "opencl", fp64=False)
    with pytest.raises(ValueError, match="unknown kernel dialect"):
        kernels.compile_options("vulkan")


def test_geometry_and_dtypes_are_the_abi_s():
    from deepseek.backends import abi

    assert kernels.DTYPES == abi.DTYPES  # k_cast takes the destination's ABI dtype code
    assert kernels.meta_longs(2) == kernels.MAXD * 3 + 3
    macros = dict(kernels.macros())
    assert macros["DSK_MAXD"] == str(kernels.MAXD) and macros["DSK_LS"] == str(kernels.LS)
    assert macros["DSK_PARAM_SIZES"] == ",".join(map(str, kernels.PARAM_SIZES))
    assert (kernels.csrc_dir().parent / "geometry.py").is_file()
    assert any((d / "deepseek_backend.h").is_file() for d in kernels.include_dirs())


def test_the_opencl_plugin_builds_the_opencl_rendering():
    """The source handed to clCreateProgramWithSource is kernels.source(dtype, "opencl")."""
    import deepseek.backends as backends

    status = backends.available().get("opencl", "not found")
    if not status.startswith("available"):
        pytest.skip(f"OpenCL cannot run here ({status})")
    from deepseek_opencl import cl
    from deepseek_opencl.cl import ffi
    from deepseek_opencl.device import OpenCLDevices

    lib, _ = cl.open_library()
    devs = OpenCLDevices(lib)
    rt = devs.runtime(0)
    seen = []

    class Spy:  # the driver library, recording the program sources it is given
        def __getattr__(self, name):
            return getattr(lib, name)

        def clCreateProgramWithSource(self, ctx, n, strings, lengths, err):
            seen.append(ffi.string(strings[0]).decode())
            return lib.clCreateProgramWithSource(ctx, n, strings, lengths, err)

    rt.lib = Spy()
    try:
        for dtype in ("int16", "bfloat16"):
            k, ls = rt.create_kernel(dtype, "k_unary")
            lib.clReleaseKernel(k)
            assert seen[-1] == kernels.source(dtype, "opencl", rt.fp64)
        assert len(seen) == 2
        # a device without cl_khr_fp64 gets (and builds) the rendering without double
        rt.fp64 = False
        k, _ = rt.create_kernel("float16", "k_unary")
        lib.clReleaseKernel(k)
        assert seen[-1] == kernels.source("float16", "opencl", fp64=False) and "double" not in seen[-1]
    finally:
        rt.close()


def _nvrtc():
    """libnvrtc.so.12 from the nvidia-cuda-nvrtc-cu12 wheel, or None."""
    for base in sys.path:
        for path in glob.glob(os.path.join(base, "nvidia", "cuda_nvrtc", "lib", "libnvrtc.so.12")):
            return ctypes.CDLL(path)
    return None


@pytest.mark.skipif(_nvrtc() is None, reason="NVRTC is not installed (pip install nvidia-cuda-nvrtc-cu12)")
def test_cuda_renderings_compile_with_nvrtc():
    lib = _nvrtc()
    options = [b"--gpu-architecture=compute_80"] + [o.encode() for o in kernels.compile_options("cuda")]
    failures = []
    for program in kernels.program_names():
        prog = ctypes.c_void_p()
        assert lib.nvrtcCreateProgram(ctypes.byref(prog), kernels.source(program, "cuda").encode(),
                                      f"{program}.cu".encode(), 0, None, None) == 0
        status = lib.nvrtcCompileProgram(prog, len(options), (ctypes.c_char_p * len(options))(*options))
        size = ctypes.c_size_t()
        lib.nvrtcGetProgramLogSize(prog, ctypes.byref(size))
        log = ctypes.create_string_buffer(size.value)
        lib.nvrtcGetProgramLog(prog, log)
        lib.nvrtcGetPTXSize(prog, ctypes.byref(size))
        ptx = ctypes.create_string_buffer(size.value)
        lib.nvrtcGetPTX(prog, ptx)
        lib.nvrtcDestroyProgram(ctypes.byref(prog))
        if status != 0:
            failures.append(f"{program}: {log.value.decode()[:2000]}")
            continue
        # the kernels keep their names (extern "C")
        entries = set(re.findall(r"\.entry\s+(\w+)\(", ptx.value.decode()))
        assert program_kernels(program) <= entries, (program, program_kernels(program) - entries)
    assert failures == []


# --- the C planner's names against the programs and the Python side -------------------------

def _header_enum(name: str) -> dict:
    text = (kernels.csrc_dir() / "dsk_plan.h").read_text()
    body = re.search(r"enum %s \{(.*?)\};" % name, text, re.S).group(1)
    body = re.sub(r"/\*.*?\*/", "", body, flags=re.S)
    out, value = {}, -1
    for item in filter(None, (s.strip() for s in body.split(","))):
        key, _, v = item.partition("=")
        value = int(v) if v.strip() else value + 1
        out[key.strip()] = value
    return out


def test_planner_header_agrees_with_the_python_side():
    kinds = _header_enum("dsk_kind")
    assert {f"DSK_{k.upper()}": v for k, v in kernels.KINDS.items()} == {k: v for k, v in kinds.items()
                                                                          if k != "DSK_N_KINDS"}
    ids = _header_enum("dsk_kernel")
    names = re.findall(r'"(k_\w+)"', (kernels.csrc_dir() / "dsk_ops.c").read_text())
    assert [k[len("DSK_"):] for k in ids if k != "DSK_N_KERNELS"] == names  # dsk_kernel_name's table
    for program in kernels.program_names():
        assert {n for n in names if n in program_kernels(program)} <= _kernels_in(kernels.program_body(program, True))


def test_cuda_saturating_conversions_match_opencl_semantics(tmp_path):
    """The CUDA/HIP prelude's ds_sat_<int> (OpenCL's convert_<int>_sat_rtz: truncate, saturate,
    NaN to 0), compiled for the host with the device qualifiers defined away."""
    import shutil
    import subprocess

    import numpy as np

    cxx = shutil.which("g++") or shutil.which("c++")
    if cxx is None:
        pytest.skip("no C++ compiler")
    prelude = kernels.prelude("cuda")
    lines = prelude.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith("#define DS_SAT("))
    end = max(i for i, ln in enumerate(lines) if ln.startswith("DS_SATS("))
    sat = "\n".join([ln for ln in lines if ln.startswith("typedef")] + lines[start:end + 1])
    values = [0.0, -0.0, 0.9, -0.9, 127.5, 128.0, -128.9, -129.0, 255.9, 256.0, 32767.9, 40000.0, -40000.0,
              2147483647.0, 2147483648.0, -2147483649.0, 9.3e18, -9.3e18, 1e300, -1e300,
              float("inf"), float("-inf"), float("nan")]
    types = {"i8": np.int8, "u8": np.uint8, "i16": np.int16, "i32": np.int32, "i64": np.int64}
    src = tmp_path / "sat.cpp"
    src.write_text("#include <cmath>\n#include <cstdio>\nusing std::isnan;\n#define __device__\n" + sat + "\nint main() {\n"
                   + "".join(f"    printf(\"%lld %lld\\n\", (long long)ds_sat_{t}((double){v!r}), (long long)ds_sat_{t}((float){v!r}));\n"
                             .replace("inf)", "INFINITY)").replace("(double)nan", "(double)NAN").replace("(float)nan", "(float)NAN")
                             for t in types for v in values) + "}\n")
    exe = tmp_path / "sat"
    subprocess.run([cxx, "-O1", "-o", str(exe), str(src)], check=True)
    got = [tuple(map(int, ln.split())) for ln in subprocess.run([str(exe)], capture_output=True, text=True,
                                                                check=True).stdout.splitlines()]
    want = []
    for t, np_type in types.items():
        info = np.iinfo(np_type)
        for v in values:
            row = []
            for x in (v, float(np.float32(v))):
                row.append(0 if np.isnan(x) else int(min(max(np.trunc(x), info.min), info.max)) if np.isfinite(x)
                           else (info.max if x > 0 else info.min))
            want.append(tuple(row))
    assert got == want
