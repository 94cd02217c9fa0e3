"""Pointwise ops with more than two operands or a scalar to convert: where, clamp, lerp,
masked_fill, fill_/zero_, isclose/allclose/equal."""
from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st

from ..case import DTYPES, FINFO, FLOATS, Call, T, iinfo
from ..expect import R, Expect, Raises, Skip
from ..promotion import result_type
from ..strategies import broadcast_shapes, scalars, tensors
from . import OpSpec
from ._common import broadcast, check_inplace, errstate, kernel_type, shape_of, values


def checked_convert(v, dtype, what="value"):
    """``Scalar::to<T>()``: a Python scalar converted to a dtype, raising where PyTorch's
    checked conversion overflows (NaN or inf into an integer, 1e5 into float16, 300 into
    int8; uint8 accepts -255..255 and wraps; bool takes anything, as ``!= 0``)."""
    if isinstance(v, T):
        if v.ndim:
            raise Raises("RuntimeError", why=f"{what} must be 0-d, got {v.ndim}-d")
        v = values(v).item()
    if isinstance(v, int) and not isinstance(v, bool) and not -2 ** 63 <= v < 2 ** 63:
        if v >= 2 ** 64:
            raise Raises("Exception", why=f"{what} {v} fits no 64-bit type")
        raise Skip("a Python int in uint64 range (PyTorch version dependent)")
    if dtype == "bool":
        return v != 0  # c10's checked_convert never refuses a conversion to bool (NaN is True)
    if dtype in FLOATS:
        if not isinstance(v, bool) and math.isfinite(v) and abs(v) > FINFO[dtype][1]:
            if dtype in ("float32", "bfloat16") and abs(v) < 3.4028235677973366e38 * 1.001:
                raise Skip("rounding to the largest float")
            raise Raises("RuntimeError", why=f"{what} {v} overflows {dtype}")
        return float(v)
    lo, hi = iinfo(dtype)
    if isinstance(v, float):
        if not math.isfinite(v) or v < lo or v > hi:
            raise Raises("RuntimeError", why=f"{what} {v} cannot be converted to {dtype} without overflow")
        return int(v)  # truncation
    v = int(v)
    if dtype == "uint8":  # unsigned: -255..255 are accepted (and wrap)
        if v > 255 or v < -255:
            raise Raises("RuntimeError", why=f"{what} {v} cannot be converted to uint8 without overflow")
        return v % 256
    if not lo <= v <= hi:
        raise Raises("RuntimeError", why=f"{what} {v} cannot be converted to {dtype} without overflow")
    return bool(v) if dtype == "bool" else v


# where --------------------------------------------------------------------------------------


@st.composite
def _where_call(draw):
    sc, sa, sb = draw(broadcast_shapes(3))
    cdt = "bool" if draw(st.integers(0, 9)) else draw(st.sampled_from(("uint8", "float32", "int64")))
    c = draw(tensors(dtype=cdt, shape=sc))
    a = draw(tensors(shape=sa)) if draw(st.integers(0, 3)) else draw(scalars(full=False))
    b = draw(tensors(shape=sb)) if draw(st.integers(0, 3)) else draw(scalars(full=False))
    return Call("where", "fn", "where", (c, a, b))


def _where_ref(call):
    c, a, b = call.args
    shape = broadcast(shape_of(c), shape_of(a), shape_of(b))
    if c.dtype != "bool":
        if c.dtype == "uint8":
            raise Skip("uint8 condition (deprecated)")
        raise Raises("RuntimeError", "TypeError", why="where expects a bool condition")
    ct = result_type(a, b)
    av, bv = values(a, ct), values(b, ct)
    r = np.where(np.broadcast_to(values(c), shape), np.broadcast_to(av, shape), np.broadcast_to(bv, shape))
    return Expect(R(r, ct, ulps=0.5))


# clamp --------------------------------------------------------------------------------------


@st.composite
def _clamp_call(draw, name, inplace=False):
    x = draw(tensors(kinds=DTYPES[1:]))
    kind = draw(st.sampled_from(("scalar", "scalar", "tensor")))

    def bound():
        if draw(st.integers(0, 3)) == 0 and name in ("clamp", "clip"):
            return None
        if kind == "scalar":
            return draw(st.one_of(st.integers(-5, 5), st.floats(-8, 8)))
        sh = draw(broadcast_shapes(2, incompatible=False))[0]
        sh = sh[len(sh) - min(len(sh), x.ndim):] if inplace else sh
        return draw(tensors(shape=sh, kinds=DTYPES[1:], profile="finite"))

    lo, hi = bound(), bound()
    method_name = name + ("_" if inplace else "")
    if name == "clamp_min":
        args, kw = (x, lo if lo is not None else 0), {}
    elif name == "clamp_max":
        args, kw = (x, hi if hi is not None else 0), {}
    else:
        args, kw = (x,), {}
        if lo is not None or draw(st.booleans()):
            kw["min"] = lo
        if hi is not None or draw(st.booleans()):
            kw["max"] = hi
    form = "method" if inplace else draw(st.sampled_from(("fn", "method")))
    return Call(method_name, form, method_name, args, kw, inplace=inplace)


def _clamp_ref(call):
    name = call.name.rstrip("_")
    x = call.args[0]
    if name == "clamp_min":
        lo, hi = call.args[1], None
    elif name == "clamp_max":
        lo, hi = None, call.args[1]
    else:
        lo, hi = call.kwargs.get("min"), call.kwargs.get("max")
    if lo is None and hi is None:
        raise Raises("RuntimeError", "ValueError", why="clamp with neither min nor max")
    tensors_ = [b for b in (lo, hi) if isinstance(b, T)]
    shape = broadcast(shape_of(x), *[shape_of(b) for b in tensors_])
    if tensors_:
        ct = result_type(x, *tensors_)
    else:
        ct = x.dtype if x.dtype in FLOATS else result_type(x, *[b for b in (lo, hi) if b is not None])
    if call.inplace:
        check_inplace(x, ct, call.name)
        if shape != tuple(x.shape):
            raise Raises("RuntimeError", why="in-place clamp would broadcast self")
    if ct not in FLOATS:
        for b in (lo, hi):
            if isinstance(b, float) and b != int(b):
                raise Skip("fractional bound with an integer result")
    v = np.broadcast_to(values(x, ct), shape)
    with errstate():
        if lo is not None:
            lv = np.broadcast_to(values(lo, ct), shape)
            v = np.where(np.isnan(v) if v.dtype.kind == "f" else False, v, np.maximum(v, lv))
        if hi is not None:
            hv = np.broadcast_to(values(hi, ct), shape)
            v = np.where(np.isnan(v) if v.dtype.kind == "f" else False, v, np.minimum(v, hv))
    out = x.dtype if call.inplace else ct
    r = R(v, out, ulps=0.5)
    return Expect(r, after=r if call.inplace else None)


# lerp ---------------------------------------------------------------------------------------


@st.composite
def _lerp_call(draw, inplace=False):
    sa, sb, sw = draw(broadcast_shapes(3))
    dt = draw(st.sampled_from(FLOATS))
    a = draw(tensors(dtype=dt, shape=sa))
    b = draw(tensors(dtype=dt if draw(st.integers(0, 9)) else draw(st.sampled_from(DTYPES)), shape=sb))
    w = draw(st.floats(-1, 2)) if draw(st.booleans()) else draw(tensors(dtype=dt, shape=sw, profile="finite"))
    if inplace:
        return Call("lerp_", "method", "lerp_", (a, b, w), inplace=True)
    form = draw(st.sampled_from(("fn", "method")))
    return Call("lerp", form, "lerp", (a, b, w))


def _lerp_ref(call):
    a, b, w = call.args
    if b.dtype != a.dtype or (isinstance(w, T) and w.dtype != a.dtype):
        raise Raises("RuntimeError", why="lerp expects input, end and weight of one dtype")
    shape = broadcast(a.shape, b.shape, shape_of(w))
    if call.inplace:
        check_inplace(a, a.dtype, "lerp_")
        if shape != tuple(a.shape):
            raise Raises("RuntimeError", why="in-place lerp would broadcast self")
    kt = kernel_type(a.dtype)
    av, bv = values(a).astype(kt), values(b).astype(kt)
    wv = values(w).astype(kt) if isinstance(w, T) else kt(w)
    with errstate():
        r = np.where(np.abs(wv) < 0.5, av + wv * (bv - av), bv - (bv - av) * (kt(1) - wv))
    r = R(np.broadcast_to(r.astype(np.float64), shape), a.dtype, ulps=8)
    return Expect(r, after=r if call.inplace else None)


# masked_fill, fill_, zero_ --------------------------------------------------------------------


@st.composite
def _masked_fill_call(draw, inplace=False):
    sx, sm = draw(broadcast_shapes(2))
    x = draw(tensors(shape=sx))
    if inplace:
        sm = sm[len(sm) - min(len(sm), x.ndim):]
    mdt = "bool" if draw(st.integers(0, 9)) else "uint8"
    m = draw(tensors(dtype=mdt, shape=sm))
    if draw(st.integers(0, 3)) == 0:
        v = draw(tensors(shape=draw(st.sampled_from([(), (), (1,)]))))
    else:
        v = draw(scalars())
    name = "masked_fill_" if inplace else "masked_fill"
    form = "method" if inplace else draw(st.sampled_from(("fn", "method")))
    return Call(name, form, name, (x, m, v), inplace=inplace)


def _masked_fill_ref(call):
    x, m, v = call.args
    shape = broadcast(x.shape, m.shape)
    if call.inplace:
        check_inplace(x, x.dtype, call.name)
        if shape != tuple(x.shape):
            raise Raises("RuntimeError", why="mask does not broadcast to self")
    if m.dtype != "bool":
        raise Raises("RuntimeError", why="masked_fill needs a bool mask")
    if isinstance(v, T) and v.dtype in FLOATS and x.dtype not in FLOATS:
        raise Skip("a float value tensor into an integer tensor")
    fill = checked_convert(v, x.dtype)
    xv = values(x)
    r = np.where(np.broadcast_to(values(m), shape), fill, np.broadcast_to(xv, shape))
    r = R(r, x.dtype, ulps=0.5)
    return Expect(r, after=r if call.inplace else None)


@st.composite
def _fill_call(draw):
    x = draw(tensors())
    if draw(st.integers(0, 4)) == 0:
        return Call("zero_", "method", "zero_", (x,), inplace=True)
    v = draw(tensors(shape=())) if draw(st.integers(0, 4)) == 0 else draw(scalars())
    return Call("fill_", "method", "fill_", (x, v), inplace=True)


def _fill_ref(call):
    x = call.args[0]
    if call.name == "zero_":
        fill = 0
    else:
        v = call.args[1]
        if isinstance(v, T) and v.dtype in FLOATS and x.dtype not in FLOATS:
            raise Skip("a float value tensor into an integer tensor")
        fill = checked_convert(v, x.dtype)
    r = R(np.full(x.shape, fill, dtype=np.float64 if x.dtype in FLOATS else object).astype(
        np.float64 if x.dtype in FLOATS else np.int64 if x.dtype != "uint8" else np.int64) if x.dtype != "bool"
        else np.full(x.shape, bool(fill)), x.dtype, ulps=0.5)
    return Expect(r, after=r)


# isclose / allclose / equal -----------------------------------------------------------------


@st.composite
def _close_call(draw, name):
    sa, sb = draw(broadcast_shapes(2))
    dt = draw(st.sampled_from(("float32", "float64")))
    a = draw(tensors(dtype=dt, shape=sa, profile="nonfinite"))
    other_dt = dt if draw(st.integers(0, 9)) else draw(st.sampled_from(DTYPES))
    if draw(st.booleans()):
        b = T(a.array().copy() + 0.0, dt, "contiguous", a.shape) if a.view != "expanded" else a
        b = draw(tensors(dtype=other_dt, shape=sa, profile="nonfinite")) if other_dt != dt else b
    else:
        b = draw(tensors(dtype=other_dt, shape=sb, profile="nonfinite"))
    kw = {}
    if name != "equal":
        if draw(st.booleans()):
            kw["rtol"] = draw(st.sampled_from([0.0, 1e-3, 0.1]))
        if draw(st.booleans()):
            kw["atol"] = draw(st.sampled_from([0.0, 1e-3, 0.5]))
        if draw(st.booleans()):
            kw["equal_nan"] = draw(st.booleans())
    form = draw(st.sampled_from(("fn", "method")))
    return Call(name, form, name, (a, b), kw)


def _close(a, b, kw, dt):
    kt = kernel_type(dt)
    av, bv = values(a).astype(kt), values(b).astype(kt)
    rtol, atol = kw.get("rtol", 1e-5), kw.get("atol", 1e-8)
    with errstate():
        close = av == bv
        if kw.get("equal_nan", False):
            close |= np.isnan(av) & np.isnan(bv)
        if rtol or atol:
            allowed = kt(atol) + np.abs(kt(rtol) * bv)
            actual = np.abs(av - bv)
            close |= np.isfinite(actual) & (actual <= allowed)
    return close


def _close_ref(call):
    a, b = call.args
    if call.name == "equal":
        if a.dtype != b.dtype:
            raise Skip("equal() of different dtypes")
        if tuple(a.shape) != tuple(b.shape):
            return Expect(False)
        av, bv = values(a), values(b)
        return Expect(bool(np.array_equal(av, bv)))
    if a.dtype != b.dtype:
        raise Raises("RuntimeError", "TypeError", why="isclose of different dtypes")
    shape = broadcast(a.shape, b.shape)
    c = np.broadcast_to(_close(a, b, call.kwargs, a.dtype), shape)
    if call.name == "allclose":
        return Expect(bool(c.all()))
    return Expect(R(c, "bool"))


OPS = [
    OpSpec("where", _where_call(), _where_ref, "pointwise"),
    OpSpec("clamp", _clamp_call("clamp"), _clamp_ref, "pointwise"),
    OpSpec("clip", _clamp_call("clip"), _clamp_ref, "pointwise"),
    OpSpec("clamp_min", _clamp_call("clamp_min"), _clamp_ref, "pointwise"),
    OpSpec("clamp_max", _clamp_call("clamp_max"), _clamp_ref, "pointwise"),
    OpSpec("clamp_", _clamp_call("clamp", True), _clamp_ref, "pointwise"),
    OpSpec("clamp_min_", _clamp_call("clamp_min", True), _clamp_ref, "pointwise"),
    OpSpec("lerp", _lerp_call(), _lerp_ref, "pointwise"),
    OpSpec("lerp_", _lerp_call(True), _lerp_ref, "pointwise"),
    OpSpec("masked_fill", _masked_fill_call(), _masked_fill_ref, "pointwise"),
    OpSpec("masked_fill_", _masked_fill_call(True), _masked_fill_ref, "pointwise"),
    OpSpec("fill_", _fill_call(), _fill_ref, "pointwise"),
    OpSpec("isclose", _close_call("isclose"), _close_ref, "pointwise"),
    OpSpec("allclose", _close_call("allclose"), _close_ref, "pointwise"),
    OpSpec("equal", _close_call("equal"), _close_ref, "pointwise"),
]
