"""deepseek.backends.kernels: every program renders in every dialect, the renderings share one
body, nothing of one language leaks into another, and the OpenCL plugin builds exactly the
OpenCL rendering. Where NVRTC is installed (pip install nvidia-cuda-nvrtc-cu12), the CUDA
renderings are compiled too. The shared C planner (csrc/) is compiled here with hooks that
record what it enqueues, so its plans are checked without any driver."""
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


# --- the shared C planner, over recording hooks -------------------------------------------------

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


HARNESS = r"""
#include <string.h>
#include "dsk_planner.c"

typedef struct { int32_t dtype, kernel, nargs; uint32_t dims; uint64_t global[3], local[3]; int32_t has_local;
                 uint64_t sizes[16]; int64_t first[16]; } call;
static call calls[64];
static int32_t n_calls, fp64 = 1, direct = 0, allocs = 0, frees = 0;
static uint64_t buffer_bytes = 1 << 20;

static int enqueue(void *ctx, int32_t dtype, int32_t kernel, const dsk_arg *args, int32_t nargs, uint32_t dims,
                   const size_t *global, const size_t *local) {
    (void)ctx;
    if (n_calls == 64) return DSK_PUNT;
    call *c = &calls[n_calls++];
    c->dtype = dtype; c->kernel = kernel; c->nargs = nargs; c->dims = dims; c->has_local = local != NULL;
    for (uint32_t d = 0; d < dims; ++d) { c->global[d] = global[d]; c->local[d] = local ? local[d] : 0; }
    for (int i = 0; i < nargs && i < 16; ++i) {
        c->sizes[i] = args[i].size;
        c->first[i] = 0;
        memcpy(&c->first[i], args[i].value, args[i].size < 8 ? args[i].size : 8);
    }
    return DSK_DONE;
}
static int supports(void *ctx, int32_t dtype) { (void)ctx; return dtype != DS_FLOAT64 || fp64; }
static int direct_matmul(void *ctx) { (void)ctx; return direct; }
static int buffer_size(void *ctx, dsk_mem mem, uint64_t *n) { (void)ctx; (void)mem; *n = buffer_bytes; return DSK_DONE; }
static int temp_alloc(void *ctx, uint64_t n, dsk_mem *mem) { (void)ctx; (void)n; ++allocs; *mem = 0x7000; return DSK_DONE; }
static void temp_free(void *ctx, dsk_mem mem) { (void)ctx; (void)mem; ++frees; }
static const dsk_hooks hooks = {enqueue, supports, direct_matmul, buffer_size, temp_alloc, temp_free};
static dsk_registry reg;

void set_registry(int32_t n_ops, const uint8_t *kinds, const int32_t *codes, const uint8_t *defined,
                  const uint8_t *acc, const double *tops) {
    reg.n_ops = n_ops; reg.kinds = kinds; reg.codes = codes; reg.defined = defined;
    memcpy(reg.acc_size, acc, 10);
    memcpy(reg.rand_top, tops, 10 * sizeof(double));
}

int32_t plan(int32_t op, const void *attrs, int32_t n, const uint64_t *ptrs, const int32_t *dtypes,
             const int32_t *ndims, const int64_t *shapes, const int64_t *strides, const int64_t *offsets) {
    ds_tensor_desc t[8];
    for (int i = 0; i < n; ++i) {
        t[i].ptr = (void *)(uintptr_t)ptrs[i]; t[i].dtype = dtypes[i]; t[i].ndim = ndims[i];
        t[i].shape = shapes + 8 * i; t[i].strides = strides + 8 * i; t[i].offset = offsets[i];
    }
    ds_op o = {op, 0, attrs};
    n_calls = 0;
    return dsk_plan(&hooks, NULL, &reg, &o, t, n);
}
"""
HARNESS_CDEF = """
typedef struct { int32_t dtype, kernel, nargs; uint32_t dims; uint64_t global[3], local[3]; int32_t has_local;
                 uint64_t sizes[16]; int64_t first[16]; } call;
call calls[64];
int32_t n_calls, fp64, direct, allocs, frees;
uint64_t buffer_bytes;
void set_registry(int32_t n_ops, const uint8_t *kinds, const int32_t *codes, const uint8_t *defined,
                  const uint8_t *acc, const double *tops);
int32_t plan(int32_t op, const void *attrs, int32_t n, const uint64_t *ptrs, const int32_t *dtypes,
             const int32_t *ndims, const int64_t *shapes, const int64_t *strides, const int64_t *offsets);
const char *dsk_kernel_name(int32_t kernel);
"""


@pytest.fixture(scope="module")
def planner(tmp_path_factory):
    """The planner compiled with hooks that record what it enqueues (no device, no driver)."""
    import importlib.util
    import shutil

    cffi = pytest.importorskip("cffi")
    if shutil.which("cc") is None and shutil.which("gcc") is None:
        pytest.skip("no C compiler")
    from deepseek.backends.primitives import PRIMITIVE_OP_NAMES

    ffi = cffi.FFI()
    ffi.cdef(HARNESS_CDEF)
    ffi.set_source("_dsk_harness", HARNESS, include_dirs=[str(d) for d in kernels.include_dirs()],
                   define_macros=kernels.macros(), extra_compile_args=["-std=gnu11"])
    path = ffi.compile(tmpdir=str(tmp_path_factory.mktemp("planner")))
    spec = importlib.util.spec_from_file_location("_dsk_harness", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    reg = kernels.plan_registry(PRIMITIVE_OP_NAMES)
    keep = [mod.ffi.new("uint8_t[]", reg["kinds"]), mod.ffi.new("int32_t[]", reg["codes"]),
            mod.ffi.new("uint8_t[]", reg["defined"]), mod.ffi.new("uint8_t[]", reg["acc_sizes"]),
            mod.ffi.new("double[]", reg["rand_tops"])]
    mod.lib.set_registry(len(PRIMITIVE_OP_NAMES), *keep)
    mod.keep = keep
    return mod


def _plan(planner, op, *tensors, attrs=None):
    """Runs op over tensors ``(dtype, shape, strides, offset)`` with ``attrs`` (the attribute
    struct's int64 fields, or None); ``(status, calls)``."""
    from deepseek.backends.primitives import PRIMITIVE_OP_NAMES

    ffi, lib = planner.ffi, planner.lib
    n = len(tensors)
    shapes, strides = [0] * (8 * n), [0] * (8 * n)
    for i, (_, shape, st, _) in enumerate(tensors):
        shapes[8 * i:8 * i + len(shape)] = shape
        strides[8 * i:8 * i + len(st)] = st
    a = ffi.new("int64_t[]", attrs) if attrs is not None else ffi.NULL
    status = lib.plan(PRIMITIVE_OP_NAMES.index(op), a, n, ffi.new("uint64_t[]", [0x1000 * (i + 1) for i in range(n)]),
                      ffi.new("int32_t[]", [kernels.DTYPES.index(t[0]) for t in tensors]),
                      ffi.new("int32_t[]", [len(t[1]) for t in tensors]), ffi.new("int64_t[]", shapes),
                      ffi.new("int64_t[]", strides), ffi.new("int64_t[]", [t[3] for t in tensors]))
    calls = []
    for c in lib.calls[0:lib.n_calls]:
        calls.append({"kernel": ffi.string(lib.dsk_kernel_name(c.kernel)).decode(), "dtype": kernels.DTYPES[c.dtype],
                      "global": tuple(getattr(c, "global")[d] for d in range(c.dims)),  # a keyword in Python
                      "local": tuple(c.local[d] for d in range(c.dims)) if c.has_local else None,
                      "sizes": list(c.sizes[0:c.nargs]), "first": list(c.first[0:c.nargs])})
    return status, calls


def test_planner_enqueues_through_the_hooks(planner):
    lib = planner.lib
    meta3 = 8 * kernels.meta_longs(3)
    # add of two float32 (3, 5) operands, one reversed: k_binary, 1-d, the backend's own group size
    status, calls = _plan(planner, "add", ("float32", (3, 5), (5, 1), 0), ("float32", (3, 5), (-5, -1), 14),
                          ("float32", (3, 5), (5, 1), 0))
    assert status == 0 and len(calls) == 1
    c = calls[0]
    assert (c["kernel"], c["dtype"], c["global"], c["local"]) == ("k_binary", "float32", (kernels.LS,), None)
    assert c["sizes"] == [8, 8, 8, meta3, 8, 4]  # three buffers, Meta3, n, op
    assert c["first"][:3] == [0x1000, 0x2000, 0x3000] and c["first"][4] == 15
    assert c["first"][5] == kernels.BINARY.index("add")
    # matmul: the tiled kernel on (MW, MW) groups, or the direct one when the hook says so
    mm = (("float32", (2, 40, 70), (2800, 70, 1), 0), ("float32", (2, 40, 9), (360, 9, 1), 0),
          ("float32", (2, 9, 70), (630, 70, 1), 0))
    status, calls = _plan(planner, "matmul", *mm)
    mt, mw = kernels.MT, kernels.MW
    assert status == 0 and [(c["kernel"], c["global"], c["local"]) for c in calls] == [
        ("k_matmul", (-(-70 // mt) * mw, -(-40 // mt) * mw, 2), (mw, mw, 1))]
    assert calls[0]["sizes"] == [8, 8, 8, 8 * 16]  # P16
    lib.direct = 1
    try:
        status, calls = _plan(planner, "matmul", *mm)
    finally:
        lib.direct = 0
    assert status == 0 and calls[0]["kernel"] == "k_matmul_direct" and calls[0]["local"] == (kernels.MDW, 1, 1)
    # a long sum over few outputs: partial results in a scratch buffer, freed after k_redf
    status, calls = _plan(planner, "sum", ("float32", (1,), (1,), 0), ("float32", (100000,), (1,), 0))
    assert status == 0 and [c["kernel"] for c in calls] == ["k_red", "k_redf"]
    assert lib.allocs == lib.frees == 1 and calls[0]["first"][2] == 0x7000


def test_planner_punts_before_enqueueing(planner):
    lib = planner.lib
    ok = ("float32", (4,), (1,), 0)
    # shapes that differ, an operand past its buffer, float64 without fp64, an op it does not plan
    for op, tensors in [("add", (ok, ok, ("float32", (5,), (1,), 0))),
                        ("neg", (ok, ("float32", (4,), (1,), (1 << 20) // 4 - 2))),
                        ("conv2d", (ok, ok, ok))]:
        status, calls = _plan(planner, op, *tensors)
        assert status == 1 and calls == [], op
    lib.fp64 = 0
    try:
        status, calls = _plan(planner, "neg", ("float64", (4,), (1,), 0), ("float64", (4,), (1,), 0))
        assert status == 1 and calls == []
    finally:
        lib.fp64 = 1


def test_planner_runs_the_multi_kernel_families(planner):
    lib = planner.lib
    conv = (("float32", (2, 4, 5, 5), (100, 25, 5, 1), 0), ("float32", (2, 3, 5, 6), (90, 30, 6, 1), 0),
            ("float32", (4, 3, 3, 2), (18, 6, 2, 1), 0))
    # conv2d without its attributes: nothing is planned
    assert _plan(planner, "conv2d", *conv) == (1, [])
    # with one group: im2col into scratch columns, then the matmul, the scratch freed after
    allocs, frees = lib.allocs, lib.frees
    status, calls = _plan(planner, "conv2d", *conv, attrs=[1, 1, 1, 0, 1, 1, 1])
    assert status == 0 and [c["kernel"] for c in calls] == ["k_im2col", "k_matmul"]
    assert calls[0]["sizes"][2] == 8 * 32 and lib.allocs == allocs + 1 and lib.frees == frees + 1
    assert calls[1]["first"][2] == 0x7000  # the matmul reads the columns
    # padding that does not fit the output shape: punted
    assert _plan(planner, "conv2d", *conv, attrs=[1, 1, 0, 0, 1, 1, 1]) == (1, [])
    # sort of a 1500-long dim: ranks in blocks, merge passes until a run covers the dim, the copy out
    status, calls = _plan(planner, "sort", ("int32", (1500,), (1,), 0), ("int64", (1500,), (1,), 0),
                          ("int32", (1500,), (1,), 0), attrs=[0, 1])
    passes = 0
    while kernels.SORT_BLOCK << passes < 1500:
        passes += 1
    assert status == 0 and [c["kernel"] for c in calls] == ["k_sort_block"] + ["k_sort_merge"] * passes + ["k_sort_final"]
    assert calls[0]["first"][-1] == 1  # descending
    # index with one index tensor: one elementwise kernel with the P8 block
    status, calls = _plan(planner, "index", ("float32", (2, 3), (3, 1), 0), ("float32", (4, 3), (3, 1), 0),
                          ("int64", (2,), (1,), 0))
    assert status == 0 and [c["kernel"] for c in calls] == ["k_index1"] and calls[0]["sizes"][-1] == 8 * 8


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


# --- the Python planner: runtime-agnostic, and the same plans as the C planner --------------------

class RecordingRuntime:
    """A runtime for deepseek.backends.kernels.plan that records what it is asked to enqueue."""
    name, package, fp64_missing, fp64 = "fake", "deepseek-fake", "fp64", True

    def __init__(self):
        self.calls, self.temps = [], 0

    def run(self, queue, dtype, name, args, gsize, lsize):
        local = None if tuple(lsize) == (kernels.LS,) else tuple(lsize)
        self.calls.append((name, dtype, tuple(gsize), local))

    def temp(self, nbytes):
        self.temps += 1
        return 0x7000

    def release(self, mem):
        pass

    def buffer_size(self, mem):
        return 1 << 20

    def supports(self, dtype):
        return True

    def direct_matmul(self):
        return False

    def conv_gemm(self):
        return True


PLANS = [
    ("add", [("float32", (3, 5), (5, 1), 0), ("float32", (3, 5), (-5, -1), 14), ("float32", (3, 5), (5, 1), 0)], None),
    ("matmul", [("float32", (2, 40, 70), (2800, 70, 1), 0), ("float32", (2, 40, 9), (360, 9, 1), 0),
                ("float32", (2, 9, 70), (630, 70, 1), 0)], None),
    ("sum", [("float32", (1,), (1,), 0), ("float32", (100000,), (1,), 0)], None),
    ("conv2d", [("float32", (2, 4, 5, 5), (100, 25, 5, 1), 0), ("float32", (2, 3, 5, 6), (90, 30, 6, 1), 0),
                ("float32", (4, 3, 3, 2), (18, 6, 2, 1), 0)], [1, 1, 1, 0, 1, 1, 1]),
    ("conv2d_weight_grad", [("float32", (4, 3, 3, 2), (18, 6, 2, 1), 0), ("float32", (2, 4, 5, 5), (100, 25, 5, 1), 0),
                            ("float32", (2, 3, 5, 6), (90, 30, 6, 1), 0)], [1, 1, 1, 0, 1, 1, 1]),
    ("conv2d_input_grad", [("float16", (2, 3, 5, 6), (90, 30, 6, 1), 0), ("float16", (2, 4, 5, 5), (100, 25, 5, 1), 0),
                           ("float16", (4, 3, 3, 2), (18, 6, 2, 1), 0)], [1, 1, 1, 0, 1, 1, 1]),
    ("conv2d", [("int32", (2, 4, 5, 5), (100, 25, 5, 1), 0), ("int32", (2, 4, 5, 6), (120, 30, 6, 1), 0),
                ("int32", (4, 2, 3, 2), (12, 6, 2, 1), 0)], [1, 1, 1, 0, 1, 1, 2]),
    ("sort", [("int32", (1500,), (1,), 0), ("int64", (1500,), (1,), 0), ("int32", (1500,), (1,), 0)], [0, 1]),
    ("topk", [("bfloat16", (3, 4), (4, 1), 0), ("int64", (3, 4), (4, 1), 0), ("bfloat16", (3, 9), (9, 1), 0)],
     [4, 1, 1]),
    ("index_put", [("float32", (4, 3), (3, 1), 0), ("float32", (4, 3), (3, 1), 0), ("float32", (2, 3), (3, 1), 0),
                   ("int64", (2,), (1,), 0)], [1]),
    ("randn", [("float64", (7,), (1,), 0)], [5, 9]),
]


@pytest.mark.parametrize("op,tensors,attrs", PLANS, ids=[f"{p[0]}-{i}" for i, p in enumerate(PLANS)])
def test_python_and_c_planners_make_the_same_plans(planner, op, tensors, attrs):
    from deepseek.backends.kernels import plan

    rt = RecordingRuntime()
    ts = [plan.Tensor(0x1000 * (i + 1), dt, shape, st, off) for i, (dt, shape, st, off) in enumerate(tensors)]
    plan.run(rt, None, op, ts, attrs or [])
    status, calls = _plan(planner, op, *tensors, attrs=attrs)
    assert status == 0
    assert [(c["kernel"], c["dtype"], c["global"], c["local"]) for c in calls] == rt.calls
    assert len(rt.calls) >= 1


def test_python_planner_raises_naming_the_op_and_operands():
    from deepseek.backends.kernels import plan

    rt = RecordingRuntime()
    ts = [plan.Tensor(0x1000, "float32", (4,), (1,), 0), plan.Tensor(0x2000, "float32", (5,), (1,), 0)]
    with pytest.raises(ValueError, match=r"fake neg\(float32\[4\], float32\[5\]; scalars=\[\]\): shapes differ"):
        plan.run(rt, None, "neg", ts, [])
    with pytest.raises(NotImplementedError, match="not implemented by deepseek-fake"):
        plan.run(rt, None, "no_such_op", ts, [])
    big = plan.Tensor(0x1000, "float32", (300000,), (1,), 0)  # past the 1 MiB buffer
    with pytest.raises(ValueError, match="reaches elements 0..299999 of a 1048576-byte buffer"):
        plan.run(rt, None, "neg", [big, big], [])
    assert rt.calls == []
