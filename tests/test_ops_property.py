"""Property tests of every op against NumPy in float64: elementwise ops and casts here,
reductions and matrix products in test_ops_property_reduce.py, assembly and selection in
test_ops_property_assembly.py.

Inputs are drawn by hypothesis: shapes (including 0-size dims and broadcasting), dtypes,
layouts (contiguous, permuted, sliced with a step, expanded) and values. The reference is
NumPy in float64 computed from exactly the values the tensor holds (after rounding to its
dtype); the tolerance is the rounding of the result dtype.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import deepseek as ds
from ops_property_cases import (
    ALL, FLOATS, INTS, TOL, _NP, _scipy_special, bf16_round, broadcast_pair, check, erf_np, from_values,
    layouts, make, promote, round_to, seeds, small_shapes, to_np,
)


# ---------------------------------------------------------------- elementwise unary

UNARY = {
    # name: (reference, lo, hi, integer result for integer input)
    "neg": (np.negative, -5, 5, True),
    "abs": (np.abs, -5, 5, True),
    "sign": (np.sign, -5, 5, True),
    "exp": (np.exp, -8, 8, False),
    "log": (np.log, 0.05, 10, False),
    "log1p": (np.log1p, -0.9, 10, False),
    "expm1": (np.expm1, -8, 8, False),
    "sqrt": (np.sqrt, 0.0, 10, False),
    "rsqrt": (lambda a: 1 / np.sqrt(a), 0.05, 10, False),
    "sin": (np.sin, -6, 6, False),
    "cos": (np.cos, -6, 6, False),
    "tan": (np.tan, -1.3, 1.3, False),
    "tanh": (np.tanh, -5, 5, False),
    "sigmoid": (lambda a: 1 / (1 + np.exp(-a)), -10, 10, False),
    "erf": (erf_np, -3, 3, False),
    "erfc": (lambda a: _scipy_special("erfc")(a), -3, 3, False),
    "lgamma": (lambda a: _scipy_special("gammaln")(a), 0.05, 8, False),
    "digamma": (lambda a: _scipy_special("psi")(a), 0.05, 8, False),
    "floor": (np.floor, -5, 5, True),
    "ceil": (np.ceil, -5, 5, True),
    "round": (np.round, -5, 5, True),
    "trunc": (np.trunc, -5, 5, True),
    "reciprocal": (lambda a: 1 / a, 0.2, 5, False),
    "relu": (lambda a: np.maximum(a, 0), -5, 5, True),
    "gelu": (lambda a: a * 0.5 * (1 + erf_np(a / math.sqrt(2))), -5, 5, None),
    "silu": (lambda a: a / (1 + np.exp(-a)), -8, 8, None),
    "softplus": (lambda a: np.log1p(np.exp(a)), -8, 8, None),
}


def _ds_unary(name):
    if name in ("gelu", "silu", "softplus"):
        return getattr(ds, name, None) or getattr(ds._ops, name)
    return getattr(ds, name)


@pytest.mark.parametrize("name", sorted(UNARY))
@settings(max_examples=25)
@given(shape=small_shapes, dtype=st.sampled_from(FLOATS), layout=layouts, seed=seeds)
def test_unary_float(name, shape, dtype, layout, seed):
    ref, lo, hi, _ = UNARY[name]
    rng = np.random.default_rng(seed)
    x, a = make(rng, shape, dtype, layout, lo, hi)
    if name == "round":
        a = np.round(a * 2) / 2 if dtype != "float64" else a  # exercise the half-way ties
        x = from_values(round_to(a, dtype), dtype)
        a = round_to(a, dtype)
    y = _ds_unary(name)(x)
    exp = ref(a)
    rtol, atol = TOL[dtype]
    if dtype in ("float16", "bfloat16") and name in ("gelu", "silu", "softplus"):
        # composites round every intermediate to the half type
        rtol, atol = rtol * 4, atol * 4
    if dtype == "float32" and name == "tan":
        rtol = 1e-4
    check(y, exp, dtype, rtol=rtol, atol=atol)
    # the method form agrees with the function
    if hasattr(ds.Tensor, name):
        check(getattr(x, name)(), to_np(y), dtype, exact=True)


@pytest.mark.parametrize("name", [n for n, v in UNARY.items() if v[3] is not None])
@settings(max_examples=12)
@given(shape=small_shapes, dtype=st.sampled_from(INTS), layout=layouts, seed=seeds)
def test_unary_integer(name, shape, dtype, layout, seed):
    ref, lo, hi, int_result = UNARY[name]
    if dtype == "uint8" and name == "log1p":
        lo = 0
    lo_i, hi_i = max(math.ceil(lo), -5), min(math.floor(hi), 5)
    if name in ("log", "rsqrt", "reciprocal"):
        lo_i = max(lo_i, 1)
    rng = np.random.default_rng(seed)
    x, a = make(rng, shape, dtype, layout, lo_i, hi_i)
    y = getattr(ds, name)(x)
    if int_result:
        exp = ref(a.astype(_NP[dtype])).astype(np.float64)  # exact, wraps like the dtype
        check(y, exp, dtype, exact=True)
    else:
        check(y, ref(a), "float32")


def test_unary_bool_results():
    b = ds.tensor([True, False, True])
    np.testing.assert_array_equal(ds.exp(b).numpy(), np.exp([1.0, 0.0, 1.0]).astype(np.float32))
    with pytest.raises(RuntimeError, match="neg"):
        ds.neg(b)
    assert ds.logical_not(b).tolist() == [False, True, False]
    assert ds.bitwise_not(b).tolist() == [False, True, False]
    assert ds.bitwise_not(ds.tensor([0, 5], dtype=ds.int8)).tolist() == [-1, -6]
    assert ds.bitwise_not(ds.tensor([0, 5], dtype=ds.uint8)).tolist() == [255, 250]


def test_unary_special_values():
    x = ds.tensor([0.0, -0.0, float("inf"), -float("inf"), float("nan"), -1.0], dtype=ds.float64)
    a = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, -1.0])
    with np.errstate(all="ignore"):
        for name, ref in [("exp", np.exp), ("log", np.log), ("sqrt", np.sqrt), ("tanh", np.tanh),
                          ("abs", np.abs), ("sign", lambda v: np.where(np.isnan(v), 0.0, np.sign(v))),  # PyTorch: sign(nan) = 0 ("floor", np.floor), ("reciprocal", lambda v: 1 / v),
                          ("sigmoid", lambda v: 1 / (1 + np.exp(-v))), ("relu", lambda v: np.where(np.isnan(v), v, np.maximum(v, 0)))]:
            check(getattr(ds, name)(x), ref(a), "float64")
    # stable sigmoid/softplus at large magnitude
    big = ds.tensor([-800.0, 800.0], dtype=ds.float64)
    check(ds.sigmoid(big), [0.0, 1.0], "float64")
    check(ds._ops.softplus(big), [0.0, 800.0], "float64")


# ---------------------------------------------------------------- binary

def _floor_div(a, b):
    return np.floor_divide(a, b)


BINARY = {
    # name: (reference, kinds, (lo, hi) of a, (lo, hi) of b, b must be non-zero)
    "add": (np.add, "num", (-5, 5), (-5, 5), False),
    "sub": (np.subtract, "num", (-5, 5), (-5, 5), False),
    "mul": (np.multiply, "num", (-5, 5), (-5, 5), False),
    "div": (np.true_divide, "num", (-5, 5), (0.5, 5), True),
    "floor_divide": (_floor_div, "num", (-9, 9), (0.5, 4), True),
    "remainder": (np.remainder, "num", (-9, 9), (0.5, 4), True),
    "fmod": (np.fmod, "num", (-9, 9), (0.5, 4), True),
    "pow": (np.power, "pow", (0.2, 3), (-2, 2), False),
    "maximum": (np.maximum, "num", (-5, 5), (-5, 5), False),
    "minimum": (np.minimum, "num", (-5, 5), (-5, 5), False),
    "atan2": (np.arctan2, "float", (-5, 5), (-5, 5), False),
    "eq": (np.equal, "cmp", (-2, 2), (-2, 2), False),
    "ne": (np.not_equal, "cmp", (-2, 2), (-2, 2), False),
    "lt": (np.less, "cmp", (-2, 2), (-2, 2), False),
    "le": (np.less_equal, "cmp", (-2, 2), (-2, 2), False),
    "gt": (np.greater, "cmp", (-2, 2), (-2, 2), False),
    "ge": (np.greater_equal, "cmp", (-2, 2), (-2, 2), False),
    "logical_and": (np.logical_and, "logical", (-2, 2), (-2, 2), False),
    "logical_or": (np.logical_or, "logical", (-2, 2), (-2, 2), False),
    "logical_xor": (np.logical_xor, "logical", (-2, 2), (-2, 2), False),
    "bitwise_and": (np.bitwise_and, "bitwise", (0, 100), (0, 100), False),
    "bitwise_or": (np.bitwise_or, "bitwise", (0, 100), (0, 100), False),
    "bitwise_xor": (np.bitwise_xor, "bitwise", (0, 100), (0, 100), False),
}
OPERATORS = {"add": "__add__", "sub": "__sub__", "mul": "__mul__", "div": "__truediv__",
             "floor_divide": "__floordiv__", "remainder": "__mod__", "pow": "__pow__",
             "eq": "__eq__", "ne": "__ne__", "lt": "__lt__", "le": "__le__", "gt": "__gt__", "ge": "__ge__",
             "bitwise_and": "__and__", "bitwise_or": "__or__", "bitwise_xor": "__xor__"}


def _binary_dtypes(kind):
    if kind == "float":
        return st.sampled_from(FLOATS)
    if kind == "bitwise":
        return st.sampled_from(["bool"] + INTS)
    if kind in ("cmp", "logical"):
        return st.sampled_from(ALL)
    if kind == "pow":
        return st.sampled_from(INTS[1:] + FLOATS)
    return st.sampled_from(INTS + FLOATS)


@pytest.mark.parametrize("name", sorted(BINARY))
@settings(max_examples=25)
@given(data=st.data(), shapes=broadcast_pair(), la=layouts, lb=layouts, seed=seeds)
def test_binary(name, data, shapes, la, lb, seed):
    ref, kind, (alo, ahi), (blo, bhi), nonzero = BINARY[name]
    da = data.draw(_binary_dtypes(kind), label="dtype_a")
    db = data.draw(_binary_dtypes(kind), label="dtype_b")
    rng = np.random.default_rng(seed)
    out_dt = promote(da, db, len(shapes[0]), len(shapes[1]))
    if kind == "pow" and out_dt in INTS:
        alo, ahi, blo, bhi = -3, 3, 0, 3
    x, a = make(rng, shapes[0], da, la, alo, ahi)
    y, b = make(rng, shapes[1], db, lb, blo, bhi)
    if nonzero:
        b = np.where(rng.random(b.shape) < 0.5, -b, b) if db not in ("uint8", "bool") else b
        b = np.where(b == 0, 1, b)
        y = from_values(b, db) if not (lb == "expand" and len(b.shape)) else from_values(np.ascontiguousarray(b[:1]), db).expand(*b.shape)
        b = np.broadcast_to(b[:1], b.shape).copy() if (lb == "expand" and len(b.shape)) else b
    r = getattr(ds, name)(x, y)
    if kind in ("cmp", "logical"):
        check(r, ref(a, b), "bool", exact=True)
    elif kind == "bitwise":
        check(r, ref(a.astype(np.int64), b.astype(np.int64)), out_dt, exact=True)
    else:
        if name == "div":
            out_dt = out_dt if out_dt in FLOATS else "float32"
        if out_dt == "bool":
            return
        with np.errstate(all="ignore"):
            exp = ref(a, b)
        if out_dt in INTS:
            check(r, exp, out_dt, exact=True)
        else:
            rtol, atol = TOL[out_dt]
            if name in ("floor_divide", "remainder", "fmod") and out_dt != "float64":
                # a result next to a step of floor() may land on either side in low precision
                bad = np.abs(a / b - np.round(a / b)) < 1e-2
                exp = np.where(bad, to_np(r), exp)
            if name == "pow" and out_dt != "float64":
                rtol *= 2
            check(r, exp, out_dt, rtol=rtol, atol=atol * max(1.0, float(np.abs(b).max(initial=1)) if name == "remainder" else 1.0))
    if name in OPERATORS:
        r2 = getattr(x, OPERATORS[name])(y)
        np.testing.assert_array_equal(to_np(r2), to_np(r))


@pytest.mark.parametrize("name", ["add", "sub", "mul", "div", "pow", "eq", "lt"])
@given(shape=small_shapes, dtype=st.sampled_from(ALL), scalar=st.sampled_from([2, -3, 0.5, True, 2.5]), seed=seeds)
@settings(max_examples=20)
def test_binary_python_scalar(name, shape, dtype, scalar, seed):
    """A Python scalar is a weak operand: it never widens a tensor's dtype within its kind."""
    rng = np.random.default_rng(seed)
    if name == "pow" and (dtype == "bool" or (dtype in INTS and (not isinstance(scalar, int) or scalar < 0))):
        return
    x, a = make(rng, shape, dtype, "contig", 0.5 if name == "pow" else -3, 3)
    if name == "sub" and (dtype == "bool" or isinstance(scalar, bool)):
        with pytest.raises(RuntimeError, match="bool tensor"):  # PyTorch refuses a bool operand of `-`
            ds.sub(x, scalar)
        return
    r = getattr(ds, name)(x, scalar)
    s = float(scalar)
    exp = {"add": a + s, "sub": a - s, "mul": a * s, "div": a / s, "pow": np.power(a, s), "eq": a == s, "lt": a < s}[name]
    if name in ("eq", "lt"):
        check(r, exp, "bool", exact=True)
        return
    if dtype in FLOATS:
        want = dtype
    elif isinstance(scalar, float) or name == "div":
        want = "float32"
    elif isinstance(scalar, bool) or dtype != "bool":
        want = dtype if dtype != "bool" or isinstance(scalar, bool) else "int64"
    else:
        want = "int64"
    if want == "bool":
        exp = exp != 0
    if want in INTS:
        exp = exp.astype(np.int64).astype(_NP[want]).astype(np.float64)
    assert r.dtype.name == want, (dtype, scalar, r.dtype.name, want)
    if want in FLOATS:
        exp = round_to(exp, want) if name not in ("div", "pow") else exp
    check(r, exp, want, exact=want not in FLOATS)


def test_integer_division_by_zero_raises():
    # PyTorch raises RuntimeError("ZeroDivisionError") here
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        ds.floor_divide(ds.tensor([1, 2]), ds.tensor([1, 0]))
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        ds.remainder(ds.tensor([1, 2]), ds.tensor([0, 1]))
    # float division by zero follows IEEE
    check(ds.tensor([1.0, -1.0, 0.0], dtype=ds.float64) / 0.0, [np.inf, -np.inf, np.nan], "float64")


# ---------------------------------------------------------------- where, clamp, lerp

@given(data=st.data(), seed=seeds, layout=layouts)
@settings(max_examples=40)
def test_where(data, seed, layout):
    sa, sb = data.draw(broadcast_pair())
    sc = data.draw(st.sampled_from([sa, sb, sa[1:], ()]))
    da = data.draw(st.sampled_from(ALL))
    db = data.draw(st.sampled_from(ALL))
    rng = np.random.default_rng(seed)
    x, a = make(rng, sa, da, layout)
    y, b = make(rng, sb, db, "contig")
    c, cond = make(rng, sc, "bool", "contig")
    r = ds.where(c, x, y)
    exp = np.where(cond.astype(bool), a, b)
    check(r, exp, promote(da, db, len(sa), len(sb)), exact=True)


@given(shape=small_shapes, dtype=st.sampled_from(INTS[1:] + FLOATS), layout=layouts, seed=seeds,
       lo=st.sampled_from([None, -2, -1.5]), hi=st.sampled_from([None, 1, 2.5]))
@settings(max_examples=50)
def test_clamp(shape, dtype, layout, seed, lo, hi):
    if lo is None and hi is None:
        with pytest.raises(RuntimeError, match="clamp"):
            ds.clamp(ds.zeros(2), None, None)
        return
    if dtype in INTS and (isinstance(lo, float) or isinstance(hi, float)):
        return
    rng = np.random.default_rng(seed)
    x, a = make(rng, shape, dtype, layout)
    r = ds.clamp(x, lo, hi)
    exp = np.clip(a, -np.inf if lo is None else lo, np.inf if hi is None else hi)
    check(r, round_to(exp, dtype) if dtype in FLOATS else exp, dtype, exact=True)
    # tensor bounds broadcast
    if lo is not None:
        tlo, alo = make(rng, shape[-1:] if shape else (), dtype, "contig")
        r = ds.clamp(x, min=tlo)
        check(r, np.maximum(a, alo), dtype, exact=True)


@given(shapes=broadcast_pair(), dtype=st.sampled_from(FLOATS), seed=seeds, w=st.sampled_from([0.0, 0.25, 1.0, "t"]))
@settings(max_examples=40)
def test_lerp(shapes, dtype, seed, w):
    rng = np.random.default_rng(seed)
    x, a = make(rng, shapes[0], dtype, "perm")
    y, b = make(rng, shapes[1], dtype, "step")
    if w == "t":
        wt, wv = make(rng, shapes[1], dtype, "contig", 0, 1)
    else:
        wt, wv = w, w
    r = ds.lerp(x, y, wt)
    rtol, atol = TOL[dtype]
    check(r, a + wv * (b - a), dtype, rtol=rtol * 3, atol=atol * 6)


# ---------------------------------------------------------------- casts

@given(shape=small_shapes, src=st.sampled_from(ALL), dst=st.sampled_from(ALL), seed=seeds, layout=layouts)
@settings(max_examples=120)
def test_cast(shape, src, dst, seed, layout):
    rng = np.random.default_rng(seed)
    lo, hi = (0, 100) if dst == "uint8" or src == "uint8" else (-100, 100)
    x, a = make(rng, shape, src, layout, lo, hi)
    r = x.to(getattr(ds, dst) if dst != "bool" else ds.bool)
    if dst == "bool":
        exp = a != 0
    elif dst in INTS:
        exp = np.trunc(a)  # float -> int truncates toward zero
    else:
        exp = round_to(a, dst)
    check(r, exp, dst, exact=True)
    # float -> int and back preserve in-range integers
    if src in FLOATS and dst in FLOATS:
        back = r.to(getattr(ds, src))
        if np.dtype(_NP.get(dst, np.float32)).itemsize >= np.dtype(_NP.get(src, np.float32)).itemsize and not {src, dst} & {"bfloat16", "float16"}:
            check(back, a, src, exact=True)


def test_cast_special_float_values():
    x = ds.tensor([1e6, -1e6, float("inf"), float("nan"), 65520.0, 1e-8], dtype=ds.float64)
    check(x.to(ds.float16), round_to(np.array([1e6, -1e6, np.inf, np.nan, 65520.0, 1e-8]), "float16"), "float16")
    check(x.to(ds.bfloat16), bf16_round(np.array([1e6, -1e6, np.inf, np.nan, 65520.0, 1e-8])), "bfloat16")
