"""The OpenCL kernels against NumPy, through ``Backend.launch`` on uploaded buffers.

Every declared primitive op is launched, on contiguous and strided operands (stride 0,
negative strides with an offset), 0-size and 0-dim tensors, and the dtypes the contract
allows: elementwise ops, casts and data movement here; reductions, matmul and convolution in
test_kernels_reduce.py; gather, scatter, indexing, sort and topk in test_kernels_select.py.
Random ops (test_kernels_random.py) are compared bit for bit with a NumPy transcription of the
core's Philox stream (itself checked against ``deepseek.rand`` where the CPU core's API is usable).
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
from kernel_checks import _bf16_from_double, close, rev, rounded
from ocl_helpers import ALL, FLOATS, INTS, bf16_value, to_storage, to_values

RNG = np.random.default_rng(1234)


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
