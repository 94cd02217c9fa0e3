"""The C table (``deepseek_opencl._launch``, built from ``csrc/``): its entries are compiled
code, the hot op families launch without calling Python, C gives the same bits as the
Python table, and failures come back with the Python path's statuses and messages.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from deepseek.backends import abi
from deepseek.backends.backend import Backend, BackendError
from ocl_helpers import FLOATS, Dev, to_storage

RNG = np.random.default_rng(7)


@pytest.fixture(scope="module")
def ctable(dev):
    """deepseek_opencl.table with the C table loaded, else a skip naming why (a failure for
    a module that was not built when DEEPSEEK_REQUIRE_OPENCL=1)."""
    from deepseek_opencl import table

    if table.lib is None:
        if os.environ.get("DEEPSEEK_REQUIRE_OPENCL") == "1":
            pytest.fail(table.NOT_BUILT)
        pytest.skip(table.NOT_BUILT)
    if not isinstance(table._table, int):
        pytest.skip("DEEPSEEK_OPENCL_PYTHON_LAUNCH=1 chose the Python table")
    return table


@pytest.fixture(scope="module")
def pydev(ctable):
    """A device helper over the Python table (its own OpenCLDevices and contexts)."""
    from deepseek_opencl import cl
    from deepseek_opencl.device import OpenCLDevices

    lib, _ = cl.open_library()
    d = Dev(Backend(ctable.python_table("opencl", OpenCLDevices(lib)), "deepseek-opencl", "python table"))
    yield d
    d.close()


# --- the families C runs, as cases run on any device helper -------------------------------------

def rev(a):
    return a[tuple(slice(None, None, -1) for _ in range(a.ndim))] if a.ndim else a[...]


def _values(dtype, shape, lo=-4, hi=4):
    v = RNG.uniform(lo, hi, size=shape)
    if dtype == "bool":
        return v > 0
    if dtype in ("uint8",):
        return np.abs(v) * 30
    if dtype.startswith("int"):
        return v * 30
    return v


UNARY = ("neg", "abs", "sign", "exp", "sqrt", "round", "relu", "sigmoid", "bitwise_not", "floor", "log1p")
BINARY = ("add", "sub", "mul", "div", "floor_divide", "pow", "maximum", "minimum", "remainder", "atan2",
          "bitwise_xor", "bitwise_and", "eq", "ne", "lt", "ge", "logical_and", "logical_or", "logical_xor")
DTYPES = ("bool", "uint8", "int8", "int32", "int64", "float16", "bfloat16", "float32", "float64")


def c_cases():
    """``(name, run)`` pairs over every op kind C runs; ``run(dev)`` uploads fixed inputs,
    launches, and returns the outputs."""
    from deepseek.backends import kernels

    cases = []

    def add(name, fn):
        cases.append((name, fn))

    for dtype in DTYPES:
        a, b = _values(dtype, (3, 5)), _values(dtype, (5,), 0.5, 3)
        dt = kernels.D[dtype]
        for op in UNARY:
            if kernels.unary_expr(op, dt) is not None:
                add(f"{op} {dtype}", lambda d, op=op, a=a, dtype=dtype: launch(d, op, [(3, 5), dtype], [(a, dtype, rev)]))
        add(f"logical_not {dtype}", lambda d, a=a, dtype=dtype: launch(d, "logical_not", [(3, 5), "bool"],
                                                                        [(a, dtype, rev)]))
        for op in BINARY:
            if kernels.binary_expr(op, dt) is not None:
                out = "bool" if op in kernels.PREDICATES else dtype
                add(f"{op} {dtype}", lambda d, op=op, a=a, b=b, dtype=dtype, out=out: launch(
                    d, op, [(3, 5), out], [(a, dtype, rev), (b, dtype, lambda v: np.broadcast_to(v, (3, 5)))]))
        c = RNG.uniform(size=(3, 5)) > 0.5
        add(f"where {dtype}", lambda d, a=a, c=c, dtype=dtype: launch(
            d, "where", [(3, 5), dtype], [(c, "bool", None), (a, dtype, rev), (a, dtype, None)]))
        for dst in DTYPES:
            add(f"cast {dtype}->{dst}", lambda d, a=a, dtype=dtype, dst=dst: launch(
                d, "cast", [(3, 5), dst], [(a, dtype, rev)]))
        add(f"copy {dtype}", lambda d, a=a, dtype=dtype: launch(d, "copy", [(5, 3), dtype, "T"], [(a, dtype, lambda v: v.T)]))
        for value in (1.5, -2.75, 300, -1, True, 1e-7, float("nan"), float("inf"), 2 ** 62 + 1):
            add(f"fill {dtype} {value}", lambda d, dtype=dtype, value=value: launch(d, "fill", [(2, 3), dtype, "T"], [],
                                                                                  [value]))
        start_step = [1.5, -0.25] if dtype in FLOATS else [3, -2]
        add(f"arange {dtype}", lambda d, dtype=dtype, s=start_step: launch(d, "arange", [(7,), dtype], [], s))
        for op in ("sum", "prod", "amax", "amin"):
            x = _values(dtype, (4, 3, 5), 0.5, 1.5)
            add(f"{op} {dtype}", lambda d, op=op, x=x, dtype=dtype: launch(d, op, [(4, 1, 5), dtype], [(x, dtype, rev)]))
            big = _values(dtype, (2, 9000), 0.99, 1.01)  # few outputs, long rows: partial sums + k_redf
            add(f"{op} {dtype} two-pass", lambda d, op=op, x=big, dtype=dtype: launch(d, op, [(2, 1), dtype],
                                                                                      [(x, dtype, None)]))
        for op in ("argmax", "argmin"):
            add(f"{op} {dtype}", lambda d, op=op, a=a, dtype=dtype: launch(d, op, [(1, 5), "int64"], [(a, dtype, rev)],
                                                                           [0]))
        for op in ("cumsum", "cumprod"):
            add(f"{op} {dtype}", lambda d, op=op, a=a, dtype=dtype: launch(d, op, [(3, 5), dtype], [(a, dtype, rev)],
                                                                           [-1]))
        b2, src = _values(dtype, (3, 2)), _values(dtype, (2, 5))
        add(f"cat {dtype}", lambda d, a=a, b2=b2, dtype=dtype: launch(d, "cat", [(3, 7), dtype],
                                                                      [(a, dtype, rev), (b2, dtype, None)], [1]))
        add(f"pad {dtype}", lambda d, a=a, dtype=dtype: launch(d, "pad", [(4, 8), dtype], [(a, dtype, rev)],
                                                               [0.5, 1, 0, 2, 1]))
        idx = np.array([[0, 2, -1, 1, 3]] * 3)  # out-of-range indices read 0
        add(f"gather {dtype}", lambda d, a=a, dtype=dtype, idx=idx: launch(
            d, "gather", [(3, 5), dtype], [(a, dtype, rev), (idx, "int64", None)], [0]))
        add(f"index_select {dtype}", lambda d, a=a, dtype=dtype: launch(
            d, "index_select", [(3, 4), dtype], [(a, dtype, None), ([4, 0, 9, 4], "int64", None)], [1]))
        for op in ("scatter", "scatter_add"):
            add(f"{op} {dtype}", lambda d, op=op, a=a, src=src, dtype=dtype: launch(
                d, op, [(3, 5), dtype], [(a, dtype, None), ([[0, 2, 2, 1, 0], [2, 2, 0, 1, 1]], "int64", None),
                                         (src, dtype, rev)], [0]))
        add(f"index_add {dtype}", lambda d, a=a, src=_values(dtype, (3, 4)), dtype=dtype: launch(
            d, "index_add", [(3, 5), dtype], [(a, dtype, None), ([1, 4, 1, 0], "int64", None), (src, dtype, None)],
            [1]))
        if dtype in FLOATS:
            for n in (1, 3):
                add(f"polygamma({n}) {dtype}", lambda d, a=a, dtype=dtype, n=n: launch(
                    d, "polygamma", [(3, 5), dtype], [(np.abs(a) + 0.1, dtype, rev)], [n]))
        seed = [2 ** 63 + 5, 12]
        if dtype in FLOATS:
            for op in ("rand", "randn"):
                add(f"{op} {dtype}", lambda d, op=op, dtype=dtype: launch(d, op, [(5, 3), dtype, "T"], [], seed))
            add(f"bernoulli {dtype}", lambda d, dtype=dtype, p=RNG.uniform(size=(3, 5)): launch(
                d, "bernoulli", [(3, 5), dtype], [(p, dtype, None)], seed))
        add(f"randint {dtype}", lambda d, dtype=dtype: launch(d, "randint", [(3, 5), dtype], [], seed + [-5, 7]))
        add(f"randperm {dtype}", lambda d, dtype=dtype: launch(d, "randperm", [(7,), dtype], [], seed))
        if dtype != "bool":
            m1, m2 = _values(dtype, (2, 4, 6), -2, 2), _values(dtype, (2, 3, 6), -2, 2)
            add(f"matmul {dtype}", lambda d, m1=m1, m2=m2, dtype=dtype: launch(
                d, "matmul", [(2, 4, 3), dtype], [(m1, dtype, None), (m2, dtype, lambda v: v.transpose(0, 2, 1))]))
            _conv_cases(add, dtype)
        ai, i0, i1 = _values(dtype, (4, 5, 3)), np.array([[0, 3], [-1, 2]]), np.array([[4, 4], [1, 7]])
        add(f"index {dtype}", lambda d, ai=ai, i0=i0, i1=i1, dtype=dtype: launch(
            d, "index", [(2, 2, 3), dtype], [(ai, dtype, rev), (i0, "int64", None), (i1, "int64", rev)]))
        for acc in (0, 1):
            add(f"index_put {dtype} accumulate={acc}", lambda d, ai=ai, v=_values(dtype, (3, 3)), dtype=dtype, acc=acc: launch(
                d, "index_put", [(4, 5, 3), dtype], [(ai, dtype, None), (v, dtype, rev),
                                                      ([2, 0, 2], "int64", None), ([1, 4, 1], "int64", rev)], [acc]))
        s = _values(dtype, (3, 9), -2, 2).round()  # ties
        for desc in (0, 1):
            add(f"sort {dtype} desc={desc}", lambda d, s=s, dtype=dtype, desc=desc: launch(
                d, "sort", [(3, 9), dtype], [(s, dtype, rev)], [1, desc], extra=[((3, 9), "int64")]))
        add(f"topk {dtype}", lambda d, s=s, dtype=dtype: launch(
            d, "topk", [(3, 4), dtype], [(s, dtype, None)], [4, 1, 1], extra=[((3, 4), "int64")]))
        long = _values(dtype, (1500, 2), -50, 50).round()  # merge passes
        add(f"sort {dtype} merge passes", lambda d, s=long, dtype=dtype: launch(
            d, "sort", [(1500, 2), dtype], [(s, dtype, rev)], [0, 1], extra=[((1500, 2), "int64")]))
    return cases


class _env:
    """DEEPSEEK_OPENCL_CONV=value around a launch (read per launch by C and Python alike)."""

    def __init__(self, value):
        self.value = value

    def __enter__(self):
        self.old = os.environ.get("DEEPSEEK_OPENCL_CONV")
        if self.value is not None:
            os.environ["DEEPSEEK_OPENCL_CONV"] = self.value

    def __exit__(self, *exc):
        if self.old is None:
            os.environ.pop("DEEPSEEK_OPENCL_CONV", None)
        else:
            os.environ["DEEPSEEK_OPENCL_CONV"] = self.old


def _conv_cases(add, dtype):
    """conv2d and its gradients, as im2col + matmul and direct (x (2, 3, 5, 6), w (4, 3, 3, 2),
    padding (1, 0)); grouped (2 groups) always direct."""
    x, w, gy = _values(dtype, (2, 3, 5, 6), -1, 1), _values(dtype, (4, 3, 3, 2), -1, 1), _values(dtype, (2, 4, 5, 5), -1, 1)
    attrs = [1, 1, 1, 0, 1, 1, 1]
    for mode in (None, "direct"):
        def conv(d, op, out, ins, attrs=attrs, mode=mode):
            with _env(mode):
                return launch(d, op, out, ins, attrs)
        name = f"{dtype} {mode or 'as gemm'}"
        add(f"conv2d {name}", lambda d, conv=conv: conv(d, "conv2d", [(2, 4, 5, 5), dtype], [(x, dtype, rev), (w, dtype, None)]))
        add(f"conv2d_input_grad {name}", lambda d, conv=conv: conv(
            d, "conv2d_input_grad", [(2, 3, 5, 6), dtype], [(gy, dtype, None), (w, dtype, None)]))
        add(f"conv2d_weight_grad {name}", lambda d, conv=conv: conv(
            d, "conv2d_weight_grad", [(4, 3, 3, 2), dtype], [(gy, dtype, None), (x, dtype, rev)]))
    wg = _values(dtype, (4, 1, 3, 2), -1, 1)
    add(f"conv2d {dtype} 3 groups", lambda d: launch(d, "conv2d", [(2, 3, 5, 5), dtype],
                                                     [(x, dtype, None), (wg[:3], dtype, None)], [1, 1, 1, 0, 1, 1, 3]))


def launch(d: Dev, op, out_spec, inputs, scalars=(), extra=()):
    """Uploads ``inputs`` ``(values, dtype, view)``, launches ``op`` into a new output of
    ``out_spec`` ``(shape, dtype[, "T"])`` ("T": transposed strides), and more outputs of
    ``extra`` ``(shape, dtype)`` after it, and returns their storage."""
    shape, dtype = out_spec[0], out_spec[1]
    base = np.zeros(shape[::-1] if len(out_spec) > 2 else shape, dtype=to_storage([0], dtype).dtype)
    outs = [d.put(base, base.T if len(out_spec) > 2 else None, dtype)]
    outs += [d.put(np.zeros(s, dtype=to_storage([0], dt).dtype), None, dt) for s, dt in extra]
    ts = [d.value(v, dt, view) for v, dt, view in inputs]
    d.launch(op, outs + ts, scalars)
    return [d.get(o) for o in outs]


CASES = c_cases()


# --- tests -------------------------------------------------------------------------------------

def _library_of(address: int) -> str:
    class DlInfo(ctypes.Structure):
        _fields_ = [("dli_fname", ctypes.c_char_p), ("dli_fbase", ctypes.c_void_p), ("dli_sname", ctypes.c_char_p),
                    ("dli_saddr", ctypes.c_void_p)]

    for name in (None, ctypes.util.find_library("dl")):
        dladdr = getattr(ctypes.CDLL(name), "dladdr", None)
        if dladdr is not None:
            break
    else:
        pytest.skip("no dladdr here")
    info = DlInfo()
    if not dladdr(ctypes.c_void_p(address), ctypes.byref(info)) or not info.dli_fname:
        return ""  # not inside a loaded library: a libffi closure (a cffi Python callback)
    return os.path.realpath(info.dli_fname.decode())


def test_every_table_entry_is_compiled_c(dev, ctable):
    t = dev.be._t
    assert dev.be.table_address() == ctable._table
    from deepseek_opencl import _launch

    module = os.path.realpath(_launch.__file__)
    for field in abi.FUNCTIONS:
        address = int(abi.ffi.cast("uintptr_t", getattr(t, field)))
        assert _library_of(address) == module, f"{field} is not a function of {Path(module).name}"
    # the Python table's entries, for contrast, are cffi callbacks outside any library
    py = ctable.python_table("opencl", ctable._devices)
    assert _library_of(int(abi.ffi.cast("uintptr_t", py.launch))) != module


def test_hot_families_launch_without_python(dev, ctable, monkeypatch):
    from deepseek_opencl import ops

    for _, run in CASES:  # first launches: C asks Python once per device and kernel
        run(dev)
    handed_over = []
    monkeypatch.setattr(ops, "launch", lambda rt, q, op, *a: handed_over.append(op))
    before = ctable.python_calls()
    for _, run in CASES:
        run(dev)
    assert ctable.python_calls() == before and handed_over == []


def test_frontend_ops_launch_without_python(opencl_device, ctable):
    import deepseek as ds

    x = ds.tensor(RNG.standard_normal((32, 32), dtype=np.float32)).to(opencl_device)
    y = ds.tensor(RNG.standard_normal((32, 32), dtype=np.float32)).to(opencl_device)

    def step():
        return ((x + y) * x).exp().sum().cpu(), (x @ y).relu().amax(1).cpu(), (x > y).cpu()
    want = step()
    before = ctable.python_calls()
    got = step()
    assert ctable.python_calls() == before
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g.numpy(), w.numpy())


@pytest.mark.parametrize("name,run", CASES, ids=[c[0] for c in CASES])
def test_c_and_the_python_table_agree_bit_for_bit(dev, pydev, name, run):
    with np.errstate(all="ignore"):
        for got, want in zip(run(dev), run(pydev)):
            assert got.tobytes() == want.tobytes(), name


VALUES = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.floats(-70000, 70000, width=32),
                   st.integers(-(2 ** 63), 2 ** 63 - 1), st.booleans(),
                   st.sampled_from([0.0, -0.0, 65504.0, 65520.0, 2.0 ** -24, 2.0 ** -25, 3.4028235677973366e38,
                                    3.4028234663852886e38, 1e300, -1e-300, 2.0 ** 63, -(2.0 ** 63), 255.9, -0.9]))


@given(VALUES)
def test_fill_values_convert_as_in_python(ctable, value):
    from deepseek_opencl import ops

    if isinstance(value, bool):
        kind, i, f = abi.DS_SCALAR_BOOL, int(value), 0.0
    elif isinstance(value, int):
        kind, i, f = abi.DS_SCALAR_INT, value, 0.0
    else:
        kind, i, f = abi.DS_SCALAR_FLOAT, 0, value
    with np.errstate(all="ignore"):
        for code, dtype in enumerate(abi.DTYPES):
            assert ctable.lib.dsk_fill_bits(code, kind, i, f) == ops.fill_bits(dtype, value), (dtype, value)


def test_errors_keep_the_python_paths_status_and_message(dev, ctable):
    x = dev.value(np.ones(4), "float32")
    bad = type(x)(x.ptr, "float32", (5,), (1,), 0, 4)
    before = ctable.python_calls()
    with pytest.raises(BackendError) as e:
        dev.launch("neg", [dev.empty((5,), "float32"), bad])
    assert e.value.status == abi.DS_ERROR_INVALID_ARGUMENT
    assert str(e.value).endswith(
        "ValueError: opencl neg(float32[5], float32[5]; scalars=[]): float32[5] with strides [1] and offset 0 "
        "reaches elements 0..4 of a 16-byte buffer")
    assert ctable.python_calls() == before + 1  # handed to the Python table, which raised
    op = abi.ffi.new("ds_op *", {"id": 10_000})
    assert dev.be._t.launch(0, op, abi.ffi.NULL, 0, abi.ffi.NULL) == abi.DS_ERROR_NOT_IMPLEMENTED
    assert "op id 10000 is not a primitive op" in abi.ffi.string(dev.be._t.last_error()).decode()
    with pytest.raises(BackendError, match=r"stream 0x1234 was not created on OpenCL device 0") as e:
        dev.be.launch(0, "neg", [x.desc, x.desc], stream=0x1234)
    assert e.value.status == abi.DS_ERROR_INVALID_ARGUMENT
    with pytest.raises(BackendError, match=r"OpenCL device 99 does not exist") as e:
        dev.be.launch(99, "neg", [x.desc, x.desc])
    with pytest.raises(BackendError, match=r"not defined for bool") as e:
        dev.launch("exp", [dev.empty((2,), "bool"), dev.value([True, False], "bool")])
    assert e.value.status == abi.DS_ERROR_NOT_IMPLEMENTED


def test_last_error_is_per_thread(dev, ctable):
    x = dev.value(np.ones(4), "float32")
    bad = type(x)(x.ptr, "float32", (5,), (1,), 0, 4)
    start, failures = threading.Barrier(2), []

    def work(fail, expect):
        start.wait()
        for _ in range(50):
            try:
                fail()
            except BackendError as exc:
                if expect not in str(exc):
                    failures.append(str(exc))
            else:
                failures.append("no error")

    threads = [threading.Thread(target=work, args=(lambda: dev.launch("neg", [dev.empty((5,), "float32"), bad]),
                                                   "reaches elements")),
               threading.Thread(target=work, args=(lambda: dev.launch("add", [x, x]), "expects 3 tensors"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []


def test_memory_entries_report_like_the_python_table(dev):
    be = dev.be
    with pytest.raises(BackendError, match=r"clCreateBuffer\(\d+ bytes\) failed: CL_"):
        be.alloc(0, 1 << 60)
    p = be.alloc(0, 8)
    try:
        with pytest.raises(BackendError, match=r"clEnqueueReadBuffer\(offset=4, 8 bytes\) failed: CL_INVALID_VALUE"):
            be.copy_to_host(0, p, 8, src_offset=4)
        be.copy_from_host(0, p, b"12345678")
        q = be.alloc(0, 8)
        be.copy(0, q, p, 4, dst_offset=4)
        be.synchronize(0)
        assert be.copy_to_host(0, q, 4, src_offset=4) == b"1234"
        be.free(0, q)
    finally:
        be.free(0, p)
    assert be.alloc(0, 0) == 0
    with pytest.raises(BackendError, match=r"OpenCL device 99 does not exist"):
        be.free(99, 0)
