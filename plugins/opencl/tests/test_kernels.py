"""The OpenCL kernels against NumPy, through ``Backend.launch`` on uploaded buffers.

Every declared primitive op is launched here, on contiguous and strided operands (stride 0,
negative strides with an offset), 0-size and 0-dim tensors, and the dtypes the contract
allows. Random ops are compared bit for bit with a NumPy transcription of the core's Philox
stream (itself checked against ``deepseek.rand`` where the CPU core's API is usable).
"""
from __future__ import annotations

import threading

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import deepseek.backends as backends
from deepseek.backends import abi
from deepseek.backends.backend import BackendError
from ocl_helpers import ALL, FLOATS, INTS, TOL, bf16_value, to_storage, to_values

RNG = np.random.default_rng(1234)


def close(got, want, dtype, rtol=None, atol=None):
    want = np.asarray(want, dtype=np.float64)
    got = np.asarray(got, dtype=np.float64)
    if dtype in FLOATS:
        tol = TOL[dtype] if rtol is None else rtol
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol if atol is None else atol, equal_nan=True)
    else:
        np.testing.assert_array_equal(got, want)


def rounded(values, dtype):
    """``values`` as they are after storing in ``dtype`` (the exact inputs a kernel sees)."""
    return to_values(to_storage(values, dtype), dtype)


def rev(a):
    """A negatively strided view with an offset (reversed along every dim)."""
    return a[tuple(slice(None, None, -1) for _ in range(a.ndim))] if a.ndim else a[...]


def test_every_primitive_op_is_declared(dev):
    native, missing = dev.be.coverage()
    assert missing == ()
    assert native == backends.PRIMITIVE_OP_NAMES


# --- unary -----------------------------------------------------------------------------------

UNARY_REF = {
    "neg": (np.negative, (-3, 3)), "abs": (np.abs, (-3, 3)), "sign": (np.sign, (-3, 3)),
    "exp": (np.exp, (-5, 5)), "log": (np.log, (0.1, 5)), "log1p": (np.log1p, (-0.5, 5)),
    "expm1": (np.expm1, (-3, 3)), "sqrt": (np.sqrt, (0, 5)), "rsqrt": (lambda x: 1 / np.sqrt(x), (0.1, 5)),
    "sin": (np.sin, (-4, 4)), "cos": (np.cos, (-4, 4)), "tan": (np.tan, (-1.2, 1.2)), "tanh": (np.tanh, (-4, 4)),
    "sigmoid": (lambda x: 1 / (1 + np.exp(-x)), (-6, 6)), "floor": (np.floor, (-3, 3)),
    "ceil": (np.ceil, (-3, 3)), "round": (np.round, (-3, 3)), "trunc": (np.trunc, (-3, 3)),
    "reciprocal": (np.reciprocal, (0.5, 3)), "relu": (lambda x: np.maximum(x, 0), (-3, 3)),
    "asin": (np.arcsin, (-0.99, 0.99)), "acos": (np.arccos, (-0.99, 0.99)), "atan": (np.arctan, (-4, 4)),
    "sinh": (np.sinh, (-3, 3)), "cosh": (np.cosh, (-3, 3)), "log2": (np.log2, (0.1, 5)), "exp2": (np.exp2, (-5, 5)),
}


def _erf(x):
    import math
    return np.vectorize(math.erf)(x)


UNARY_REF["erf"] = (_erf, (-3, 3))


@pytest.mark.parametrize("op", sorted(UNARY_REF))
def test_unary_float32_strided(dev, op):
    fn, (lo, hi) = UNARY_REF[op]
    base = RNG.uniform(lo, hi, size=(5, 6))
    if op in ("round", "floor", "ceil", "trunc", "sign"):
        base.flat[:6] = [-2.5, -0.5, 0.5, 1.5, 2.5, 0.0]  # ties go to even
    x = dev.value(base, "float32", rev)
    out = dev.empty((5, 6), "float32")
    dev.launch(op, [out, x])
    close(dev.values(out), fn(rev(rounded(base, "float32"))), "float32", rtol=4e-6, atol=1e-6)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float64"])
@pytest.mark.parametrize("op", ["exp", "sqrt", "round", "sign", "relu", "sigmoid", "tanh"])
def test_unary_other_floats(dev, op, dtype):
    fn, (lo, hi) = UNARY_REF[op]
    base = RNG.uniform(lo, hi, size=(3, 7))
    x = dev.value(base, dtype, lambda a: a[:, ::2])
    out = dev.empty((3, 4), dtype)
    dev.launch(op, [out, x])
    close(dev.values(out), fn(rounded(base, dtype)[:, ::2]), dtype)


def test_unary_float_special_values(dev):
    vals = np.array([np.nan, -np.inf, np.inf, -0.0, 0.0, -1.0])
    for op, want in [("relu", [np.nan, 0, np.inf, 0, 0, 0]), ("sign", [0, -1, 1, 0, 0, -1]),  # PyTorch: sign(nan) = 0
                     ("abs", [np.nan, np.inf, np.inf, 0, 0, 1])]:
        x = dev.value(vals, "float32")
        out = dev.empty((6,), "float32")
        dev.launch(op, [out, x])
        close(dev.values(out), want, "float32")


@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32", "int64"])
def test_unary_integers(dev, dtype):
    info = np.iinfo(np.dtype(dtype))
    vals = np.array([info.min, info.min + 1, -7, -1, 0, 1, 7, info.max], dtype=np.int64)
    vals = vals[(vals >= info.min) & (vals <= info.max)]
    x = dev.value(vals, dtype, rev)
    sv = rev(vals.astype(dtype))
    refs = {"neg": lambda v: -v, "abs": np.abs, "sign": np.sign, "relu": lambda v: np.maximum(v, 0),
            "bitwise_not": np.invert, "floor": lambda v: v, "round": lambda v: v}
    for op, fn in refs.items():
        out = dev.empty(x.shape, dtype)
        dev.launch(op, [out, x])
        with np.errstate(over="ignore"):
            want = fn(sv).astype(dtype)
        np.testing.assert_array_equal(dev.get(out), want, err_msg=op)
    with pytest.raises(BackendError) as e:
        dev.launch("exp", [dev.empty(x.shape, dtype), x])
    assert e.value.status == abi.DS_ERROR_NOT_IMPLEMENTED


def test_unary_bool_and_logical_not(dev):
    vals = np.array([True, False, False, True, True])
    x = dev.value(vals, "bool", lambda a: a[::-2])
    for op, want in [("bitwise_not", ~vals[::-2]), ("abs", vals[::-2]), ("logical_not", ~vals[::-2])]:
        out = dev.empty((3,), "bool")
        dev.launch(op, [out, x])
        np.testing.assert_array_equal(dev.get(out), want, err_msg=op)
    with pytest.raises(BackendError):
        dev.launch("neg", [dev.empty((3,), "bool"), x])


# --- binary, compare, where -----------------------------------------------------------------

FLOAT_BINARY = {
    "add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide,
    "floor_divide": lambda a, b: np.floor(a / b), "pow": np.power, "maximum": np.maximum, "minimum": np.minimum,
    "fmod": np.fmod, "remainder": np.remainder, "atan2": np.arctan2,
}


@pytest.mark.parametrize("op", sorted(FLOAT_BINARY))
def test_binary_float32_broadcast_and_strided(dev, op):
    a = RNG.uniform(0.5, 4, size=(4, 5)) * RNG.choice([-1, 1], size=(4, 5))
    b = RNG.uniform(0.5, 3, size=(5,)) * RNG.choice([-1, 1], size=(5,))
    if op == "pow":
        a = np.abs(a)
    x = dev.value(a, "float32", rev)
    y = dev.value(b, "float32", lambda v: np.broadcast_to(v, (4, 5)))  # stride 0 on dim 0
    out = dev.empty((4, 5), "float32")
    dev.launch(op, [out, x, y])
    ra, rb = rev(rounded(a, "float32")), rounded(b, "float32")
    close(dev.values(out), FLOAT_BINARY[op](ra, rb), "float32", rtol=3e-6, atol=1e-6)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float64"])
def test_binary_other_floats(dev, dtype):
    a, b = RNG.uniform(-3, 3, size=(2, 9)), RNG.uniform(0.5, 3, size=(2, 9))
    for op in ("add", "mul", "div", "maximum", "remainder"):
        out = dev.empty((2, 9), dtype)
        dev.launch(op, [out, dev.value(a, dtype), dev.value(b, dtype)])
        want = rounded(FLOAT_BINARY[op](rounded(a, dtype), rounded(b, dtype)), dtype)
        close(dev.values(out), want, dtype)


def test_maximum_minimum_propagate_nan(dev):
    a = dev.value([np.nan, 1.0, 2.0], "float32")
    b = dev.value([1.0, np.nan, 3.0], "float32")
    for op in ("maximum", "minimum"):
        out = dev.empty((3,), "float32")
        dev.launch(op, [out, a, b])
        got = dev.values(out)
        assert np.isnan(got[:2]).all() and got[2] == (3.0 if op == "maximum" else 2.0)


@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32", "int64"])
def test_binary_integers(dev, dtype):
    info = np.iinfo(np.dtype(dtype))
    a = RNG.integers(info.min, info.max, size=(3, 8), endpoint=True).astype(dtype)
    b = RNG.integers(max(info.min, -9), 10, size=(3, 8)).astype(dtype)
    b[b == 0] = 3
    if info.min < 0:
        b[0, :3] = -1
        a[0, 0] = info.min
    x, y = dev.value(a, dtype), dev.value(b, dtype, rev)
    rb = rev(b)
    refs = {
        "add": np.add, "sub": np.subtract, "mul": np.multiply, "maximum": np.maximum, "minimum": np.minimum,
        "bitwise_and": np.bitwise_and, "bitwise_or": np.bitwise_or, "bitwise_xor": np.bitwise_xor,
        "floor_divide": np.floor_divide, "remainder": np.remainder, "fmod": np.fmod,
    }
    with np.errstate(all="ignore"):
        for op, fn in refs.items():
            out = dev.empty((3, 8), dtype)
            dev.launch(op, [out, x, y])
            want = fn(a.astype(np.int64), rb.astype(np.int64))
            if op in ("floor_divide", "fmod", "remainder") and info.min < 0:
                m1 = rb == -1  # the CPU: x // -1 == -x (wrapping), x % -1 == 0
                want = np.where(m1, -a.astype(np.int64) if op == "floor_divide" else 0, want)
            np.testing.assert_array_equal(dev.get(out), want.astype(dtype), err_msg=op)
        e = np.abs(rb.astype(np.int64)) % 5
        out = dev.empty((3, 8), dtype)
        dev.launch("pow", [out, x, dev.value(e, dtype)])
        want = np.array([pow(int(p), int(q), 1 << 64) for p, q in zip(a.ravel(), e.ravel())], dtype=np.uint64)
        np.testing.assert_array_equal(dev.get(out).ravel(), want.astype(dtype))
    with pytest.raises(BackendError) as exc:
        dev.launch("div", [dev.empty((3, 8), dtype), x, y])
    assert exc.value.status == abi.DS_ERROR_NOT_IMPLEMENTED


def test_binary_bool_and_logical(dev):
    a = np.array([True, True, False, False])
    b = np.array([True, False, True, False])
    x, y = dev.value(a, "bool"), dev.value(b, "bool")
    for op, want in [("add", a | b), ("mul", a & b), ("bitwise_xor", a ^ b), ("maximum", a | b),
                     ("logical_and", a & b), ("logical_or", a | b), ("logical_xor", a ^ b),
                     ("lt", a < b), ("ge", a >= b)]:
        out = dev.empty((4,), "bool")
        dev.launch(op, [out, x, y])
        np.testing.assert_array_equal(dev.get(out), want, err_msg=op)
    # logical ops take any dtype too
    out = dev.empty((4,), "bool")
    dev.launch("logical_and", [out, dev.value([0.0, np.nan, 2.0, 0.0], "float32"), dev.value([1, 1, 0, 0], "float32")])
    np.testing.assert_array_equal(dev.get(out), [False, True, False, False])


@pytest.mark.parametrize("dtype", ["float32", "float16", "int64", "uint8"])
def test_compare(dev, dtype):
    a = np.array([[1, 2, 3], [4, 5, 6]], dtype=np.float64)
    b = np.array([3, 2, 1], dtype=np.float64)
    if dtype in FLOATS:
        a[0, 0] = np.nan
    x, y = dev.value(a, dtype), dev.value(b, dtype, lambda v: np.broadcast_to(v, (2, 3)))
    for op, fn in [("eq", np.equal), ("ne", np.not_equal), ("lt", np.less), ("le", np.less_equal),
                   ("gt", np.greater), ("ge", np.greater_equal)]:
        out = dev.empty((2, 3), "bool")
        dev.launch(op, [out, x, y])
        np.testing.assert_array_equal(dev.get(out), fn(a, b), err_msg=op)


@pytest.mark.parametrize("dtype", ["float32", "bfloat16", "int32", "bool"])
def test_where(dev, dtype):
    c = np.array([[True, False, True], [False, False, True]])
    a = np.array([[1, 2, 3], [4, 5, 6]])
    b = np.array([0, 1, 0])
    out = dev.empty((2, 3), dtype)
    dev.launch("where", [out, dev.value(c, "bool"), dev.value(a, dtype, rev),
                         dev.value(b, dtype, lambda v: np.broadcast_to(v, (2, 3)))])
    want = np.where(c, rev(rounded(a, dtype)), rounded(b, dtype))
    np.testing.assert_array_equal(dev.values(out), want)


# --- cast, copy, fill, arange, cat, pad ---------------------------------------------------------

CAST_PAIRS = [(s, d) for s in ("float64", "float32") for d in ALL] + \
             [(s, d) for s in ("bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16")
              for d in ("float32", "int64", "bool", "float16")] + [("int64", "bfloat16"), ("int32", "int8")]


@pytest.mark.parametrize("src,dst", CAST_PAIRS)
@pytest.mark.filterwarnings("ignore:overflow encountered")
def test_cast(dev, src, dst):
    if src in FLOATS:
        vals = np.array([0.0, -0.0, 1.5, -2.7, 3.999, 200.6, -130.2, 70000.5, 1e10, -1e10, np.nan, np.inf,
                         -np.inf, 0.1, 1 / 3, 65519.0, 1.00390625, 1.0 + 2.0 ** -9])
    elif src == "bool":
        vals = np.array([True, False, True])
    else:
        info = np.iinfo(np.dtype(src))
        vals = np.array(sorted({info.min, -129, -1, 0, 1, 127, 255, 256, 300, 2 ** 24 + 1, info.max}), dtype=np.int64)
        vals = vals[(vals >= info.min) & (vals <= info.max)]
    stored = to_storage(vals, src)
    x = dev.put(stored, rev(stored), src)
    out = dev.empty(x.shape, dst)
    dev.launch("cast", [out, x])
    got = dev.get(out)
    sv = rev(to_values(stored, src))
    if dst == "bool":
        want = sv != 0
    elif dst in FLOATS:
        if dst == "bfloat16":
            want = to_storage(np.asarray(sv, dtype=np.float64), "bfloat16")
            if src in ("float64", "int64", "int32"):  # one rounding from double (round to odd via float32)
                want = np.array([_bf16_from_double(float(v)) for v in sv], dtype=np.uint16)
        elif src in INTS or src == "bool":
            want = sv.astype(dst) if dst != "float16" else np.asarray(sv, dtype=np.float64).astype(dst)
        else:
            want = np.asarray(sv, dtype=np.float64).astype(dst) if src != "float32" else sv.astype(dst)
        np.testing.assert_array_equal(got.view(np.uint16) if dst == "bfloat16" else got, want)
        return
    else:
        info = np.iinfo(np.dtype(dst))
        if src in FLOATS:  # truncation toward zero, saturating, NaN -> 0 (Rust's `as`)
            f = np.nan_to_num(np.asarray(sv, dtype=np.float64), nan=0.0, posinf=1e300, neginf=-1e300)
            want = np.array([max(info.min, min(info.max, int(np.trunc(v)))) for v in f], dtype=dst)
        else:  # wrapping
            want = np.array([((int(v) - info.min) % (1 << info.bits)) + info.min for v in sv], dtype=dst)
    np.testing.assert_array_equal(got, want)


def _bf16_from_double(v):
    """float64 -> bfloat16 bits with one rounding (to nearest even): round to odd into float32 first."""
    if np.isnan(v):
        return 0x7FC0
    f = np.float32(v)
    if abs(float(f)) > abs(v) and np.isfinite(v):
        f = np.nextafter(f, np.float32(0))
    u = int(np.array(f, dtype=np.float32).view(np.uint32))
    if float(f) != v and np.isfinite(f):
        u |= 1
    r = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    return r & 0xFFFF if (u & 0x7FFFFFFF) <= 0x7F800000 else ((u >> 16) | 0x40)


@pytest.mark.parametrize("dtype", ["bool", "int16", "float16", "bfloat16", "float64"])
def test_copy_into_strided_out(dev, dtype):
    a = RNG.integers(-5, 5, size=(4, 6))
    x = dev.value(a, dtype, lambda v: v.T)  # (6, 4) transposed view
    base = to_storage(np.full((6, 8), 9), dtype)
    out = dev.put(base, base[::-1, ::2], dtype)  # negative strides and an offset
    dev.launch("copy", [out, x])
    whole = dev.get(type(out)(out.ptr, dtype, (6, 8), (8, 1), 0, out.base_len))
    want = base.copy()
    want[::-1, ::2] = to_storage(a, dtype).T
    np.testing.assert_array_equal(whole, want)


@pytest.mark.parametrize("dtype,value,want", [
    ("float32", 1.5, 1.5), ("float16", 0.1, np.float16(0.1)), ("bfloat16", 1.00390625, 1.0),
    ("bfloat16", 3.0, 3.0), ("int32", -7, -7), ("int8", 300, 44), ("uint8", -1.5, 0), ("int64", 2 ** 40, 2 ** 40),
    ("bool", 2, True), ("bool", 0.0, False), ("float64", -1e300, -1e300), ("int16", float("nan"), 0),
])
def test_fill(dev, dtype, value, want):
    base = to_storage(np.zeros(10), dtype)
    out = dev.put(base, base[1::3], dtype)
    dev.launch("fill", [out], [value])
    got = to_values(dev.get(type(out)(out.ptr, dtype, (10,), (1,), 0, 10)), dtype)
    expect = np.zeros(10)
    expect[1::3] = want
    np.testing.assert_array_equal(got, expect)


def test_fill_0dim_and_empty(dev):
    out = dev.empty((), "float32")
    dev.launch("fill", [out], [2.5])
    assert dev.values(out) == 2.5
    dev.launch("fill", [dev.empty((0, 3), "float32")], [1.0])


@pytest.mark.parametrize("dtype,start,step", [("float32", 0.5, 0.25), ("float64", -3.0, 0.1), ("int64", 5, -3),
                                              ("float16", 1.0, 0.5), ("int8", 120, 3)])
def test_arange(dev, dtype, start, step):
    out = dev.empty((11,), dtype)
    dev.launch("arange", [out], [start, step])
    if dtype in FLOATS:
        want = (start + np.arange(11) * np.float64(step)).astype(dtype)
        np.testing.assert_array_equal(dev.get(out), want)
    else:
        want = np.array([((start + i * step + 128) % 256) - 128 if dtype == "int8" else start + i * step
                         for i in range(11)])
        np.testing.assert_array_equal(dev.get(out), want)


def test_cat(dev):
    a = RNG.standard_normal((2, 3, 4))
    b = RNG.standard_normal((2, 1, 4))
    c = RNG.standard_normal((2, 5, 4))
    out = dev.empty((2, 9, 4), "float32")
    dev.launch("cat", [out, dev.value(a, "float32", rev), dev.value(b, "float32"), dev.value(c, "float32"),
                       dev.empty((2, 0, 4), "float32")], [1])
    want = np.concatenate([rev(rounded(a, "float32")), rounded(b, "float32"), rounded(c, "float32")], axis=1)
    np.testing.assert_array_equal(dev.values(out), want)
    out = dev.empty((5,), "int64")
    dev.launch("cat", [out, dev.value([1, 2], "int64"), dev.value([3, 4, 5], "int64")], [-1])
    np.testing.assert_array_equal(dev.get(out), [1, 2, 3, 4, 5])


def test_pad(dev):
    a = RNG.standard_normal((2, 3))
    out = dev.empty((5, 4), "float32")
    dev.launch("pad", [out, dev.value(a, "float32", rev)], [-1.5, 1, 2, 0, 1])
    want = np.pad(rev(rounded(a, "float32")), ((1, 2), (0, 1)), constant_values=-1.5)
    np.testing.assert_array_equal(dev.values(out), want)
    out = dev.empty((4,), "int32")
    dev.launch("pad", [out, dev.value([7], "int32")], [0.0, 3, 0])
    np.testing.assert_array_equal(dev.get(out), [0, 0, 0, 7])


# --- reductions ----------------------------------------------------------------------------------

@pytest.mark.parametrize("op,fn", [("sum", np.sum), ("prod", np.prod), ("amax", np.max), ("amin", np.min)])
@pytest.mark.parametrize("axes", [(0,), (1, 3), (0, 1, 2, 3), ()])
def test_reduce_float32(dev, op, fn, axes):
    a = RNG.uniform(0.5, 1.5, size=(3, 4, 2, 5))
    x = dev.value(a, "float32", rev)
    oshape = tuple(1 if d in axes else s for d, s in enumerate(a.shape))
    out = dev.empty(oshape, "float32")
    dev.launch(op, [out, x])
    want = fn(rev(rounded(a, "float32")), axis=axes, keepdims=True) if axes else rev(rounded(a, "float32"))
    close(dev.values(out), want, "float32", rtol=1e-5)


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16", "float64"])
def test_reduce_large_two_pass(dev, dtype):
    a = RNG.uniform(-1, 1, size=(3, 40000))
    x = dev.value(a, dtype, lambda v: v.T)  # (40000, 3) reduced over dim 0, strided
    out = dev.empty((1, 3), dtype)
    dev.launch("sum", [out, x])
    ra = rounded(a, dtype).T
    want = ra.sum(axis=0, keepdims=True)
    tol = {"float32": 1e-3, "float16": 0.5, "bfloat16": 2.0, "float64": 1e-9}[dtype]
    np.testing.assert_allclose(dev.values(out), want, atol=tol)
    for op, fn in (("amax", np.max), ("amin", np.min)):
        out = dev.empty((1, 1), dtype)
        dev.launch(op, [out, x])
        np.testing.assert_array_equal(dev.values(out), fn(ra, keepdims=True))


def test_reduce_nan_integers_bool_and_empty(dev):
    a = np.array([[1.0, np.nan, 3.0], [4.0, 5.0, 6.0]])
    for op in ("amax", "amin", "sum"):
        out = dev.empty((2, 1), "float32")
        dev.launch(op, [out, dev.value(a, "float32")])
        got = dev.values(out).ravel()
        assert np.isnan(got[0]) and not np.isnan(got[1])
    big = np.full((70,), 100, dtype=np.int64)
    out = dev.empty((1,), "int8")
    dev.launch("sum", [out, dev.value(big, "int8")])
    assert dev.get(out)[0] == np.int8(np.int64(7000).astype(np.int8))
    out = dev.empty((1,), "int64")
    dev.launch("prod", [out, dev.value([3] * 41, "int64")])
    assert dev.get(out)[0] == np.int64(pow(3, 41, 1 << 64) - (1 << 64))
    for op, want in (("amax", -2), ("amin", -9)):
        out = dev.empty((1,), "int16")
        dev.launch(op, [out, dev.value([-5, -2, -9], "int16")])
        assert dev.get(out)[0] == want
    for op, want in (("sum", True), ("prod", False), ("amax", True), ("amin", False)):
        out = dev.empty((1,), "bool")
        dev.launch(op, [out, dev.value([True, False, True], "bool")])
        assert dev.get(out)[0] == want
    for op, want in (("sum", 0.0), ("prod", 1.0)):
        out = dev.empty((2, 1), "float32")
        dev.launch(op, [out, dev.empty((2, 0), "float32")])
        np.testing.assert_array_equal(dev.values(out), [[want], [want]])
    dev.launch("sum", [dev.empty((0, 1), "float32"), dev.empty((0, 4), "float32")])
    out = dev.empty((), "float32")
    dev.launch("sum", [out, dev.value(np.array(2.5), "float32")])
    assert dev.values(out) == 2.5


@pytest.mark.parametrize("dtype", ["float32", "int32", "bfloat16"])
def test_argmax_argmin(dev, dtype):
    a = np.array([[3, 1, 3, 0], [2, 2, 5, 5], [-1, 4, 4, -1]], dtype=np.float64)
    x = dev.value(a, dtype, lambda v: v[:, ::-1])
    ra = a[:, ::-1]
    for op, fn in (("argmax", np.argmax), ("argmin", np.argmin)):
        for dim in (0, 1):
            out = dev.empty(tuple(1 if d == dim else s for d, s in enumerate(ra.shape)), "int64")
            dev.launch(op, [out, x], [dim])
            np.testing.assert_array_equal(dev.get(out), fn(ra, axis=dim, keepdims=True), err_msg=f"{op} {dim}")
    if dtype == "float32":
        out = dev.empty((1,), "int64")
        dev.launch("argmin", [out, dev.value([2.0, np.nan, -1.0, np.nan], "float32")], [0])
        assert dev.get(out)[0] == 1  # the first NaN counts as the extreme
        out = dev.empty((), "int64")
        dev.launch("argmax", [out, dev.value(np.array(3.0), "float32")], [0])
        assert dev.get(out) == 0


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "int8", "float16"])
def test_cumulative(dev, dtype):
    a = RNG.integers(-3, 4, size=(3, 5)).astype(np.float64)
    x = dev.value(a, dtype, rev)
    ra = rev(a)
    for op, fn in (("cumsum", np.cumsum), ("cumprod", np.cumprod)):
        for dim in (0, 1, -1):
            out = dev.empty((3, 5), dtype)
            dev.launch(op, [out, x], [dim])
            want = fn(ra.astype(np.int64), axis=dim).astype(dtype) if dtype not in FLOATS else fn(ra, axis=dim)
            close(dev.values(out), want, dtype)
    out = dev.empty((4,), "bool")
    dev.launch("cumsum", [out, dev.value([False, True, False, True], "bool")], [0])
    np.testing.assert_array_equal(dev.get(out), [False, True, True, True])


# --- matmul and convolution ------------------------------------------------------------------

@pytest.fixture(params=["tiled", "direct"])
def matmul_variant(request, monkeypatch):
    """Both matmul kernels: tiled through local memory (GPUs) and direct (CPU drivers)."""
    monkeypatch.setenv("DEEPSEEK_OPENCL_MATMUL", request.param)
    return request.param


@pytest.mark.parametrize("B,M,K,N", [(1, 1, 1, 1), (2, 17, 33, 9), (3, 40, 5, 70), (1, 64, 64, 64), (2, 3, 0, 4)])
def test_matmul_float32(dev, B, M, K, N, matmul_variant):
    a = RNG.standard_normal((B, M, K))
    b = RNG.standard_normal((B, N, K))
    x = dev.value(a, "float32")
    y = dev.value(b, "float32", lambda v: v.transpose(0, 2, 1))  # a transposed (B, K, N) view
    out = dev.empty((B, M, N), "float32")
    dev.launch("matmul", [out, x, y])
    want = rounded(a, "float32") @ rounded(b, "float32").transpose(0, 2, 1)
    close(dev.values(out), want, "float32", rtol=1e-4, atol=1e-4)


def test_matmul_more_batches_than_one_launch_holds(dev, matmul_variant):
    """Past MAX_GROUPS_YZ batches (CUDA's grid limit along z) the planners split the launch;
    every block of batches lands at its own offset, on negatively strided operands too."""
    from deepseek.backends import kernels

    B = kernels.MAX_GROUPS_YZ + 9
    a = RNG.standard_normal((B, 2, 3))
    b = RNG.standard_normal((B, 3, 2))
    out = dev.empty((B, 2, 2), "float32")
    dev.launch("matmul", [out, dev.value(a, "float32", rev), dev.value(b, "float32")])
    want = rev(rounded(a, "float32")) @ rounded(b, "float32")
    close(dev.values(out), want, "float32", rtol=1e-5, atol=1e-5)


def test_matmul_batch_stride_0_and_dtypes(dev, matmul_variant):
    a = RNG.standard_normal((1, 5, 7))
    b = RNG.standard_normal((3, 7, 4))
    for dtype in ("float64", "float16", "bfloat16"):
        out = dev.empty((3, 5, 4), dtype)
        dev.launch("matmul", [out, dev.value(a, dtype, lambda v: np.broadcast_to(v, (3, 5, 7))),
                              dev.value(b, dtype)])
        want = rounded(a, dtype) @ rounded(b, dtype)
        close(dev.values(out), want, dtype, rtol=TOL[dtype] * 4, atol=TOL[dtype] * 8)
    ai = RNG.integers(-100, 100, size=(2, 6, 5))
    bi = RNG.integers(-100, 100, size=(2, 5, 3))
    for dtype in ("int32", "int64", "int8"):
        out = dev.empty((2, 6, 3), dtype)
        dev.launch("matmul", [out, dev.value(ai, dtype), dev.value(bi, dtype)])
        want = (ai.astype(dtype).astype(np.int64) @ bi.astype(dtype).astype(np.int64)).astype(dtype)
        np.testing.assert_array_equal(dev.get(out), want)


def conv_ref(x, w, s, p, d, G):
    N, C, H, W = x.shape
    O, Cg, KH, KW = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])))
    OH = (H + 2 * p[0] - d[0] * (KH - 1) - 1) // s[0] + 1
    OW = (W + 2 * p[1] - d[1] * (KW - 1) - 1) // s[1] + 1
    Og = O // G
    out = np.zeros((N, O, OH, OW))
    gx = np.zeros_like(xp)
    patches = {}
    for g in range(G):
        for kh in range(KH):
            for kw in range(KW):
                sl = (slice(None), slice(g * Cg, (g + 1) * Cg),
                      slice(kh * d[0], kh * d[0] + s[0] * (OH - 1) + 1, s[0]),
                      slice(kw * d[1], kw * d[1] + s[1] * (OW - 1) + 1, s[1]))
                patches[g, kh, kw] = sl
                out[:, g * Og:(g + 1) * Og] += np.einsum("nchw,oc->nohw", xp[sl], w[g * Og:(g + 1) * Og, :, kh, kw])
    return out, patches, xp


def conv_grads(x, w, gy, s, p, d, G):
    _, patches, xp = conv_ref(x, w, s, p, d, G)
    O, Cg, KH, KW = w.shape
    Og = O // G
    gxp = np.zeros_like(xp)
    gw = np.zeros_like(w)
    for (g, kh, kw), sl in patches.items():
        gys = gy[:, g * Og:(g + 1) * Og]
        gxp[sl] += np.einsum("nohw,oc->nchw", gys, w[g * Og:(g + 1) * Og, :, kh, kw])
        gw[g * Og:(g + 1) * Og, :, kh, kw] = np.einsum("nohw,nchw->oc", gys, xp[sl])
    H, W = x.shape[2:]
    return gxp[:, :, p[0]:p[0] + H, p[1]:p[1] + W], gw


CONV_CASES = [  # N, C, H, W, O, KH, KW, stride, pad, dilation, groups
    (2, 3, 7, 6, 4, 3, 3, (1, 1), (1, 1), (1, 1), 1),
    (1, 4, 9, 8, 6, 3, 2, (2, 3), (2, 0), (2, 1), 2),
    (3, 2, 5, 5, 2, 1, 1, (1, 1), (0, 0), (1, 1), 2),
    (8, 1, 12, 12, 2, 5, 5, (1, 1), (2, 2), (1, 1), 1),  # small weight, many positions: split batch
]


@pytest.fixture(params=["gemm", "direct"])
def conv_variant(request, monkeypatch):
    """Both conv paths: im2col + matmul (groups == 1) and the direct kernels."""
    monkeypatch.setenv("DEEPSEEK_OPENCL_CONV", request.param)
    return request.param


@pytest.mark.parametrize("case", CONV_CASES)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_conv2d_and_gradients(dev, case, dtype, conv_variant):
    N, C, H, W, O, KH, KW, s, p, d, G = case
    x = RNG.standard_normal((N, C, H, W))
    w = RNG.standard_normal((O, C // G, KH, KW))
    xr, wr = rounded(x, dtype), rounded(w, dtype)
    want, _, _ = conv_ref(xr, wr, s, p, d, G)
    scal = [s[0], s[1], p[0], p[1], d[0], d[1], G]
    out = dev.empty(want.shape, dtype)
    dev.launch("conv2d", [out, dev.value(x, dtype), dev.value(w, dtype)], scal)
    tol = 1e-4 if dtype == "float32" else 1e-10
    close(dev.values(out), want, dtype, rtol=tol, atol=tol)
    gy = RNG.standard_normal(want.shape)
    gyr = rounded(gy, dtype)
    gx_want, gw_want = conv_grads(xr, wr, gyr, s, p, d, G)
    gx = dev.empty(x.shape, dtype)
    dev.launch("conv2d_input_grad", [gx, dev.value(gy, dtype), dev.value(w, dtype, lambda v: v)], scal)
    close(dev.values(gx), gx_want, dtype, rtol=tol, atol=tol)
    gw = dev.empty(w.shape, dtype)
    dev.launch("conv2d_weight_grad", [gw, dev.value(gy, dtype), dev.value(x, dtype)], scal)
    close(dev.values(gw), gw_want, dtype, rtol=tol * 10, atol=tol * 10)


def test_conv2d_strided_inputs_and_half(dev, conv_variant):
    x = RNG.standard_normal((2, 3, 6, 6))
    w = RNG.standard_normal((4, 3, 3, 3))
    want, _, _ = conv_ref(rev(rounded(x, "float16")), rounded(w, "float16"), (1, 1), (1, 1), (1, 1), 1)
    out = dev.empty(want.shape, "float16")
    dev.launch("conv2d", [out, dev.value(x, "float16", rev), dev.value(w, "float16")], [1, 1, 1, 1, 1, 1, 1])
    close(dev.values(out), want, "float16", rtol=1e-2, atol=2e-2)


# --- gather, scatter, indexing -----------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["float32", "int64", "bool", "bfloat16"])
def test_gather_and_index_select(dev, dtype):
    a = RNG.integers(0, 9, size=(4, 5))
    idx = RNG.integers(0, 5, size=(3, 5))
    out = dev.empty((3, 5), dtype)
    dev.launch("gather", [out, dev.value(a, dtype, rev), dev.value(idx, "int64")], [1])
    want = np.take_along_axis(rev(a)[:3], idx, axis=1)
    np.testing.assert_array_equal(dev.values(out), rounded(want, dtype))
    sel = np.array([3, 0, 0, 2, 1, 3])
    out = dev.empty((6, 5), dtype)
    dev.launch("index_select", [out, dev.value(a, dtype), dev.value(sel, "int64", rev)], [0])
    np.testing.assert_array_equal(dev.values(out), rounded(a[rev(sel)], dtype))
    out = dev.empty((4, 2), dtype)
    dev.launch("index_select", [out, dev.value(a, dtype), dev.value([4, 1], "int64")], [-1])
    np.testing.assert_array_equal(dev.values(out), rounded(a[:, [4, 1]], dtype))


@pytest.mark.parametrize("dtype", ["float32", "int32", "float16"])
def test_scatter_and_scatter_add_with_duplicates(dev, dtype):
    x = RNG.integers(-5, 5, size=(3, 6)).astype(np.float64)
    idx = np.array([[0, 1, 0, 5], [2, 2, 2, 2], [5, 4, 3, 5]])
    src = RNG.integers(-5, 5, size=(3, 4)).astype(np.float64)
    for op in ("scatter", "scatter_add"):
        out = dev.empty((3, 6), dtype)
        dev.launch(op, [out, dev.value(x, dtype), dev.value(idx, "int64"), dev.value(src, dtype, rev)], [1])
        want = x.copy()
        rs = rev(src)
        for i in range(3):
            for j in range(4):  # the CPU's order: the last write wins
                if op == "scatter":
                    want[i, idx[i, j]] = rs[i, j]
                else:
                    want[i, idx[i, j]] += rs[i, j]
        np.testing.assert_array_equal(dev.values(out), want, err_msg=op)
    # dim 0, in place (out aliases x)
    base = to_storage(x, dtype)
    t = dev.put(base, dtype=dtype)
    dev.launch("scatter_add", [t, t, dev.value([[2, 0, 2, 2, 1, 0]], "int64"), dev.value(np.ones((1, 6)), dtype)], [0])
    want = x.copy()
    for j, r in enumerate([2, 0, 2, 2, 1, 0]):
        want[r, j] += 1
    np.testing.assert_array_equal(dev.values(t), want)


@pytest.mark.parametrize("dtype", ["float32", "int64", "bfloat16"])
def test_index_add_duplicates(dev, dtype):
    x = RNG.integers(-5, 5, size=(5, 3)).astype(np.float64)
    idx = np.array([4, 0, 4, 4, 1])
    src = RNG.integers(-5, 5, size=(5, 3)).astype(np.float64)
    out = dev.empty((5, 3), dtype)
    dev.launch("index_add", [out, dev.value(x, dtype, rev), dev.value(idx, "int64"), dev.value(src, dtype)], [0])
    want = rev(x).copy()
    np.add.at(want, idx, src)
    np.testing.assert_array_equal(dev.values(out), want)
    out = dev.empty((5, 3), dtype)
    dev.launch("index_add", [out, dev.value(x, dtype), dev.value([2, 2], "int64"), dev.value(src[:, :2], dtype)], [1])
    want = x.copy()
    want[:, 2] += src[:, 0] + src[:, 1]
    np.testing.assert_array_equal(dev.values(out), want)


def test_index_advanced(dev):
    a = RNG.standard_normal((4, 5, 3))
    i0 = np.array([[3, 0], [1, 1]])
    i1 = np.array([[4, 2], [0, 4]])
    out = dev.empty((2, 2, 3), "float32")
    dev.launch("index", [out, dev.value(a, "float32", rev), dev.value(i0, "int64"), dev.value(i1, "int64", rev)])
    np.testing.assert_array_equal(dev.values(out), rev(rounded(a, "float32"))[i0, rev(i1)])
    out = dev.empty((3, 5, 3), "float32")
    dev.launch("index", [out, dev.value(a, "float32"), dev.value([2, 2, 0], "int64")])
    np.testing.assert_array_equal(dev.values(out), rounded(a, "float32")[[2, 2, 0]])
    out = dev.empty((2,), "int32")
    ai = RNG.integers(0, 100, size=(2, 3, 4))
    dev.launch("index", [out, dev.value(ai, "int32"), dev.value([1, 0], "int64"), dev.value([2, 2], "int64"),
                         dev.value([3, 0], "int64")])
    np.testing.assert_array_equal(dev.get(out), ai[[1, 0], [2, 2], [3, 0]])


@pytest.mark.parametrize("accumulate", [False, True])
def test_index_put(dev, accumulate):
    x = RNG.integers(-5, 5, size=(4, 3)).astype(np.float64)
    rows = np.array([1, 3, 1])
    vals = RNG.integers(-5, 5, size=(3, 3)).astype(np.float64)
    out = dev.empty((4, 3), "float32")
    dev.launch("index_put", [out, dev.value(x, "float32"), dev.value(vals, "float32", rev), dev.value(rows, "int64")],
               [accumulate])
    want = x.copy()
    rv = rev(vals)
    for j, r in enumerate(rows):
        want[r] = want[r] + rv[j] if accumulate else rv[j]
    np.testing.assert_array_equal(dev.values(out), want)
    # full indexing (no trailing dims), duplicates, values broadcast with stride 0
    out = dev.empty((4, 3), "int64")
    r, c = np.array([0, 2, 0]), np.array([1, 2, 1])
    dev.launch("index_put", [out, dev.value(x, "int64"), dev.value([7], "int64", lambda v: np.broadcast_to(v, (3,))),
                             dev.value(r, "int64"), dev.value(c, "int64")], [accumulate])
    want = x.astype(np.int64)
    for i, j in zip(r, c):
        want[i, j] = want[i, j] + 7 if accumulate else 7
    np.testing.assert_array_equal(dev.get(out), want)


# --- sort and topk -------------------------------------------------------------------------------

def ref_sort(a, axis, descending):
    """Stable sort with NaN as the largest value (the CPU core's order)."""
    f = a.astype(np.float64)
    nan = np.isnan(f).astype(np.int8)
    keys = np.where(nan, 0.0, f)
    order = np.lexsort((-keys, -nan) if descending else (keys, nan), axis=axis)
    return np.take_along_axis(a, order, axis=axis), order


@pytest.mark.parametrize("dtype", ["float32", "int32", "float16", "uint8"])
@pytest.mark.parametrize("descending", [False, True])
def test_sort(dev, dtype, descending):
    a = RNG.integers(0, 6, size=(3, 9)).astype(np.float64)
    if dtype in FLOATS:
        a[0, 2] = a[1, 5] = a[1, 7] = np.nan
    x = dev.value(a, dtype, rev)
    ra = rev(rounded(a, dtype))
    for dim in (0, 1):
        vals = dev.empty(ra.shape, dtype)
        idx = dev.empty(ra.shape, "int64")
        dev.launch("sort", [vals, idx, x], [dim, descending])
        wv, wi = ref_sort(ra, dim, descending)
        np.testing.assert_array_equal(dev.get(idx), wi)
        np.testing.assert_array_equal(dev.values(vals), wv)


@pytest.mark.parametrize("dtype,n", [("float32", 5000), ("int64", 1500), ("bfloat16", 3000)])
def test_long_sort_and_topk_merge_passes(dev, dtype, n):
    a = RNG.integers(-40, 40, size=(3, n)).astype(np.float64)  # many ties
    if dtype in FLOATS:
        a[0, ::7] = np.nan
    x = dev.value(a, dtype, lambda v: v.T)  # sorted dim 0 of a (n, 3) strided view
    ra = rounded(a, dtype).T
    for descending in (False, True):
        vals, idx = dev.empty((n, 3), dtype), dev.empty((n, 3), "int64")
        dev.launch("sort", [vals, idx, x], [0, descending])
        wv, wi = ref_sort(ra, 0, descending)
        np.testing.assert_array_equal(dev.get(idx), wi)
        np.testing.assert_array_equal(dev.values(vals), wv)
    vals, idx = dev.empty((10, 3), dtype), dev.empty((10, 3), "int64")
    dev.launch("topk", [vals, idx, x], [10, 0, True])
    wv, wi = ref_sort(ra, 0, True)
    np.testing.assert_array_equal(dev.get(idx), wi[:10])


def test_topk(dev):
    a = np.array([[1.0, 5.0, 3.0, 5.0, np.nan, -2.0], [0.0, 0.0, 1.0, -1.0, 2.0, 2.0]])
    for largest in (True, False):
        vals = dev.empty((2, 3), "float32")
        idx = dev.empty((2, 3), "int64")
        dev.launch("topk", [vals, idx, dev.value(a, "float32")], [3, 1, largest])
        wv, wi = ref_sort(a.astype(np.float32), 1, largest)
        np.testing.assert_array_equal(dev.get(idx), wi[:, :3])
        np.testing.assert_array_equal(dev.values(vals), wv[:, :3])
    vals, idx = dev.empty((), "float32"), dev.empty((), "int64")
    dev.launch("sort", [vals, idx, dev.value(np.array(4.0), "float32")], [0, False])
    assert dev.values(vals) == 4.0 and dev.get(idx) == 0
    vals, idx = dev.empty((2, 0), "float32"), dev.empty((2, 0), "int64")
    dev.launch("topk", [vals, idx, dev.value(a, "float32")], [0, 1, True])


# --- random ----------------------------------------------------------------------------------------

M0, M1, W0, W1 = 0xD2511F53, 0xCD9E8D57, 0x9E3779B9, 0xBB67AE85


def philox_words(seed, offset, n):
    """Word k of the stream: word k % 4 of Philox-4x32-10 at block offset + k // 4 (NumPy)."""
    nblk = (n + 3) // 4
    blk = np.arange(nblk, dtype=np.uint64) + np.uint64(offset)
    m, s32 = np.uint64(0xFFFFFFFF), np.uint64(32)
    c0, c1 = blk & m, blk >> s32
    c2, c3 = np.zeros_like(c0), np.zeros_like(c0)
    k0, k1 = seed & 0xFFFFFFFF, seed >> 32
    for _ in range(10):
        p0, p1 = c0 * np.uint64(M0), c2 * np.uint64(M1)
        c0, c1, c2, c3 = (p1 >> s32) ^ c1 ^ np.uint64(k0), p1 & m, (p0 >> s32) ^ c3 ^ np.uint64(k1), p0 & m
        k0, k1 = (k0 + W0) & 0xFFFFFFFF, (k1 + W1) & 0xFFFFFFFF
    return np.stack([c0, c1, c2, c3], axis=1).reshape(-1)[:n]


def uniform(seed, offset, n):
    w = philox_words(seed, offset, 2 * n)
    return ((w[0::2] >> np.uint64(5)) << np.uint64(26) | (w[1::2] >> np.uint64(6))).astype(np.float64) / 2.0 ** 53


SEEDS = [(0, 0), (42, 7), (2 ** 63 + 12345, 2 ** 33 + 1)]


@pytest.mark.parametrize("seed,offset", SEEDS)
def test_rand_bit_exact(dev, seed, offset):
    n = 1001
    out = dev.empty((7, 11, 13), "float64")
    dev.launch("rand", [out], [seed, offset])  # seed and offset are the attributes' uint64_t
    np.testing.assert_array_equal(dev.get(out).ravel(), uniform(seed, offset, n))
    u = uniform(seed, offset, n)
    for dtype, top in (("float32", 1 - 2.0 ** -24), ("float16", 1 - 2.0 ** -11), ("bfloat16", 1 - 2.0 ** -8)):
        base = to_storage(np.zeros((13, 7, 11)), dtype)
        t = dev.put(base, base.transpose(1, 2, 0), dtype)  # logical order != memory order
        dev.launch("rand", [t], [seed, offset])
        want = np.minimum(u, top).reshape(7, 11, 13)
        if dtype == "bfloat16":
            want_bits = np.array([_bf16_from_double(v) for v in want.ravel()], dtype=np.uint16).reshape(want.shape)
            np.testing.assert_array_equal(dev.get(t), want_bits)
        else:
            np.testing.assert_array_equal(dev.get(t), want.astype(dtype))
        assert (to_values(dev.get(t), dtype) < 1).all()


def test_rand_matches_the_cpu_core(dev):
    import deepseek as ds
    ds.manual_seed(77)
    cpu = np.asarray(ds.rand(333, dtype=ds.float64).numpy(), dtype=np.float64)
    np.testing.assert_array_equal(cpu, uniform(77, 0, 333))
    out = dev.empty((333,), "float64")
    dev.launch("rand", [out], [77, 0])
    np.testing.assert_array_equal(dev.get(out), cpu)


@pytest.mark.parametrize("n", [1, 2, 7, 1000])
def test_randn(dev, n):
    seed, offset = 2024, 3
    m = n + (n & 1)
    u = uniform(seed, offset, m)
    r = np.sqrt(-2.0 * np.log(1.0 - u[0::2]))
    t = 2.0 * np.pi * u[1::2]
    want = np.stack([r * np.cos(t), r * np.sin(t)], axis=1).ravel()[:n]
    out = dev.empty((n,), "float64")
    dev.launch("randn", [out], [seed, offset])
    # The device's log/cos/sin may differ from the CPU's libm in the last bit.
    np.testing.assert_allclose(dev.get(out), want, rtol=1e-14, atol=1e-14)
    out = dev.empty((n,), "float32")
    dev.launch("randn", [out], [seed, offset])
    np.testing.assert_allclose(dev.get(out), want.astype(np.float32), rtol=1e-6, atol=1e-7)


def test_randint_randperm_bernoulli(dev):
    seed, offset = 99, 11
    w = philox_words(seed, offset, 2 * 500)
    r = (w[0::2] << np.uint64(32)) | w[1::2]
    for dtype, low, high in (("int64", -5, 17), ("int32", 0, 3), ("float32", 10, 1000), ("int64", -2 ** 62, 2 ** 62)):
        out = dev.empty((20, 25), dtype)
        dev.launch("randint", [out], [seed, offset, low, high])
        want = np.array([low + int(v) % (high - low) for v in r]).reshape(20, 25).astype(dtype)
        np.testing.assert_array_equal(dev.get(out), want)
    for n in (1, 2, 10, 300):
        out = dev.empty((n,), "int64")
        dev.launch("randperm", [out], [seed, offset])
        u = uniform(seed, offset, n)
        p = list(range(n))
        for i in range(n - 1, 0, -1):
            j = min(int(u[i] * (i + 1)), i)
            p[i], p[j] = p[j], p[i]
        np.testing.assert_array_equal(dev.get(out), p)
    prob = RNG.uniform(0, 1, size=(40, 10))
    prob[0, :3] = [0.0, 1.0, 0.5]
    for dtype in ("float64", "float32"):
        out = dev.empty((40, 10), dtype)
        dev.launch("bernoulli", [out, dev.value(prob, dtype)], [seed, offset])
        want = (uniform(seed, offset, 400) < rounded(prob, dtype).ravel()).astype(dtype).reshape(40, 10)
        np.testing.assert_array_equal(dev.get(out), want)
    dev.launch("rand", [dev.empty((0,), "float32")], [seed, offset])
    with pytest.raises(BackendError) as e:
        dev.launch("randint", [dev.empty((3,), "int64")], [seed, offset, 5, 5])
    assert e.value.status == abi.DS_ERROR_INVALID_ARGUMENT


# --- generic properties, errors and threads ----------------------------------------------------------

@st.composite
def strided_case(draw):
    ndim = draw(st.integers(0, 4))
    shape = tuple(draw(st.integers(0, 4)) for _ in range(ndim))
    bshape = tuple(draw(st.sampled_from([1, s])) for s in shape)
    flips = tuple(draw(st.booleans()) for _ in range(ndim))
    perm = draw(st.permutations(range(ndim)))
    dtype = draw(st.sampled_from(["float32", "int16", "float64", "bfloat16"]))
    return shape, bshape, flips, tuple(perm), dtype


@given(strided_case())
def test_add_mul_any_layout(dev, case):
    shape, bshape, flips, perm, dtype = case
    a = RNG.integers(-50, 50, size=tuple(shape[p] for p in perm)).astype(np.float64)
    b = RNG.integers(-50, 50, size=bshape).astype(np.float64)

    def view_a(v):
        if not v.ndim:
            return v[...]
        v = v.transpose(np.argsort(perm))
        return v[tuple(slice(None, None, -1) if f else slice(None) for f in flips)]
    x = dev.value(a, dtype, view_a)
    y = dev.value(b, dtype, lambda v: np.broadcast_to(v, shape))
    ra, rb = view_a(rounded(a, dtype)), np.broadcast_to(rounded(b, dtype), shape)
    for op, fn in (("add", np.add), ("mul", np.multiply)):
        base = to_storage(np.zeros(shape), dtype)
        out = dev.put(base, rev(base), dtype)  # out with negative strides too
        dev.launch(op, [out, x, y])
        np.testing.assert_array_equal(dev.values(out), rounded(fn(ra, rb), dtype))


def test_bad_launches_raise_with_the_op_and_shapes(dev):
    x = dev.value(np.ones(4), "float32")
    with pytest.raises(BackendError, match=r"opencl add\(float32\[4\], float32\[4\], float32\[3\]; .*shapes differ") as e:
        dev.launch("add", [dev.empty((4,), "float32"), x, dev.value(np.ones(3), "float32")])
    assert e.value.status == abi.DS_ERROR_INVALID_ARGUMENT
    bad = type(x)(x.ptr, "float32", (5,), (1,), 0, 4)  # one element past the buffer
    with pytest.raises(BackendError, match=r"reaches elements 0\.\.4 of a 16-byte buffer"):
        dev.launch("neg", [dev.empty((5,), "float32"), bad])
    neg = type(x)(x.ptr, "float32", (4,), (-1,), 2, 4)
    with pytest.raises(BackendError, match=r"reaches elements -1\.\.2"):
        dev.launch("neg", [dev.empty((4,), "float32"), neg])
    with pytest.raises(BackendError, match=r"dim 3 out of range") as e:
        dev.launch("cumsum", [dev.empty((4,), "float32"), x], [3])
    assert e.value.status == abi.DS_ERROR_INVALID_ARGUMENT
    with pytest.raises(BackendError, match="not defined for bool") as e:
        dev.launch("matmul", [dev.empty((1, 1, 1), "bool")] * 3)
    assert e.value.status == abi.DS_ERROR_NOT_IMPLEMENTED
    # out-of-range indices never crash: reads give 0, writes are skipped
    out = dev.empty((3,), "float32")
    dev.launch("index_select", [out, x, dev.value([0, 9, -1], "int64")], [0])
    np.testing.assert_array_equal(dev.values(out), [1, 0, 0])
    # the backend is still usable
    out = dev.empty((4,), "float32")
    dev.launch("neg", [out, x])
    np.testing.assert_array_equal(dev.values(out), -np.ones(4))


def test_launches_from_threads_and_streams(dev):
    be = dev.be
    a = RNG.standard_normal((64, 64))
    x = dev.value(a, "float32")
    want = np.exp(rounded(a, "float32"))
    outs = [dev.empty((64, 64), "float32") for _ in range(8)]
    errors = []

    def work(i):
        try:
            s = be.stream_create(0)
            for _ in range(5):
                be.launch(0, "exp", [outs[i].desc, x.desc], [], stream=s)
            be.synchronize(0)
            be.stream_destroy(0, s)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for o in outs:
        close(dev.values(o), want, "float32", rtol=1e-5)


def test_bf16_helpers_round_to_nearest_even():
    bits = to_storage([1.0, 1.00390625, 1.01171875, -3.5], "bfloat16")
    np.testing.assert_array_equal(bf16_value(bits), [1.0, 1.0, 1.015625, -3.5])


def test_devices_without_fp64(dev):
    """A device lacking cl_khr_fp64 builds its programs without double and answers
    NOT_IMPLEMENTED for float64 and the random ops (the CPU runs those)."""
    from deepseek_opencl import cl, ops
    from deepseek_opencl.cl import ffi
    from deepseek_opencl.device import OpenCLDevices

    lib, _ = cl.open_library()
    devs = OpenCLDevices(lib)
    rt = devs.runtime(0)
    rt.fp64 = False
    q = devs._queue(0, 0)

    def upload(arr):
        arr = np.ascontiguousarray(arr)
        p = devs.alloc(0, arr.nbytes)
        devs.memcpy_h2d(0, p, 0, ffi.from_buffer(arr), arr.nbytes, 0)
        return p

    def download(p, n, dtype):
        out = np.zeros(n, dtype=dtype)
        devs.memcpy_d2h(0, ffi.from_buffer(out), p, 0, out.nbytes, 0)
        return out
    bufs = []
    try:
        a = upload(np.arange(6, dtype=np.float32))
        o = upload(np.zeros(6, dtype=np.float32))
        i = upload(np.array([1, 2 ** 24 + 1, -3, 7, 0, 9], dtype=np.int64))
        h = upload(np.zeros(6, dtype=np.uint16))
        bufs += [a, o, i, h]
        T = ops.Tensor
        ops.run(rt, q, "add", [T(o, "float32", (6,), (1,), 0), T(a, "float32", (6,), (1,), 0),
                               T(a, "float32", (6,), (-1,), 5)], [])
        np.testing.assert_array_equal(download(o, 6, np.float32), np.full(6, 5.0))
        ops.run(rt, q, "arange", [T(o, "float32", (6,), (1,), 0)], [0.5, 0.25])
        np.testing.assert_array_equal(download(o, 6, np.float32), 0.5 + 0.25 * np.arange(6))
        ops.run(rt, q, "cast", [T(h, "bfloat16", (6,), (1,), 0), T(i, "int64", (6,), (1,), 0)], [])
        np.testing.assert_array_equal(bf16_value(download(h, 6, np.uint16)), [1, 2 ** 24, -3, 7, 0, 9])
        for op, ts in [("rand", [T(o, "float32", (6,), (1,), 0)]), ("neg", [T(o, "float64", (3,), (1,), 0)] * 2),
                       ("cast", [T(o, "float64", (3,), (1,), 0), T(a, "float32", (3,), (1,), 0)])]:
            with pytest.raises(NotImplementedError, match=r"cl_khr_fp64"):
                ops.run(rt, q, op, ts, [1, 0])
    finally:
        for b in bufs:
            devs.free(0, b)
        rt.close()


def test_a_program_that_does_not_build_answers_not_implemented(dev, monkeypatch):
    """A driver that cannot build a dtype's program: its ops answer NOT_IMPLEMENTED (the core
    runs them on the CPU) with the build log, and the build is not retried at every launch."""
    from deepseek.backends import kernels
    from deepseek_opencl import cl
    from deepseek_opencl.device import OpenCLDevices

    lib, _ = cl.open_library()
    devs = OpenCLDevices(lib)
    rt = devs.runtime(0)
    calls = []
    monkeypatch.setattr(kernels, "source", lambda program, dialect, fp64: calls.append(program) or "__kernel void k( {")
    for _ in range(2):
        with pytest.raises(NotImplementedError, match=r"building the OpenCL int16 kernels failed \(CL_BUILD_PROGRAM_FAILURE"):
            rt.run(devs._queue(0, 0), "int16", "k_unary", [], (1,), (1,))
    assert calls == ["int16"]
    rt.close()
