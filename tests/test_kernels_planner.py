"""The launch planners of deepseek.backends.kernels without any driver: the C planner (csrc/)
compiled with hooks that only record what they are asked to enqueue, the Python planner
(kernels.plan) over a recording runtime, and the two against each other: the same kernels,
dtypes and work sizes for the same operands."""
from __future__ import annotations

import pytest

from deepseek.backends import kernels


# --- the C planner, over recording hooks ------------------------------------------------------

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
    # more batches than a CUDA grid holds along z: two launches
    ("matmul", [("float32", (70000, 1, 1), (1, 1, 1), 0)] * 3, None),
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
    for name, _, global_, local in rt.calls:  # no launch exceeds the grid limits of CUDA and HIP
        groups = [g // (l or kernels.LS) for g, l in zip(global_, local or (kernels.LS,))]
        assert groups[0] < 2 ** 31 and all(g <= kernels.MAX_GROUPS_YZ for g in groups[1:]), (name, global_)
    if op == "matmul" and tensors[0][1][0] == 70000:
        assert [c[2][2] for c in rt.calls] == [kernels.MAX_GROUPS_YZ, 70000 - kernels.MAX_GROUPS_YZ]


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
