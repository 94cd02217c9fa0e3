"""Binary elementwise ops with broadcasting, PyTorch's type promotion, Python scalars on
either side (through the operators), ``alpha``, rounding modes, and the in-place forms
(castability, internal overlap of an expanded ``self``, partial overlap with ``self.t()``)."""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from ..case import FLOATS, INTS, Alias, Call, T, iinfo
from ..expect import R, Expect, Raises, Skip
from ..promotion import float_of, result_type
from ..strategies import broadcast_shapes, scalars, tensors
from . import OpSpec
from ._common import broadcast, check_inplace, errstate, kernel_type, shape_of, values


def _int_div_checks(av, bv, ct):
    if ct in INTS:
        if (bv == 0).any():
            raise Raises("RuntimeError", "ZeroDivisionError", why="integer division by zero")
        lo = iinfo(ct)[0]
        if ((av == lo) & (bv == -1)).any():
            raise Skip("integer minimum divided by -1 overflows")


def _trunc_int(av, bv):
    q = np.floor_divide(av, bv)
    fix = (np.remainder(av, bv) != 0) & ((av < 0) != (bv < 0))
    return q + fix.astype(q.dtype)


def _floor_float(a, b, ct):
    kt = kernel_type(ct)
    a, b = a.astype(kt), b.astype(kt)
    mod = np.fmod(a, b)
    div = (a - mod) / b
    div = np.where((mod != 0) & ((b < 0) != (mod < 0)), div - 1, div)
    fl = np.floor(div)
    fl = np.where(div - fl > 0.5, fl + 1, fl)
    res = np.where(div != 0, fl, np.copysign(0, a / b))
    return np.where(b == 0, a / b, res).astype(np.float64)


def _remainder_float(a, b, ct):
    kt = kernel_type(ct)
    a, b = a.astype(kt), b.astype(kt)
    mod = np.fmod(a, b)
    return np.where((mod != 0) & ((b < 0) != (mod < 0)), mod + b, mod).astype(np.float64)


def k_add(av, bv, ct, **_):
    return av | bv if ct == "bool" else av + bv


def k_sub(av, bv, ct, a=None, b=None, **_):
    return av - bv


def k_mul(av, bv, ct, **_):
    return av & bv if ct == "bool" else av * bv


def k_div(av, bv, ct, mode=None, **_):
    if mode is None:
        return av / bv
    if ct in INTS:
        _int_div_checks(av, bv, ct)
        return np.floor_divide(av, bv) if mode == "floor" else _trunc_int(av, bv)
    if ct == "bool":
        raise Skip("rounding division of bools")
    if mode == "floor":
        return _floor_float(av, bv, ct)
    kt = kernel_type(ct)
    from ..case import round_to
    return np.trunc(round_to(av.astype(kt) / bv.astype(kt), ct))


def k_floor_divide(av, bv, ct, **_):
    return k_div(av, bv, ct, mode="floor")


def k_remainder(av, bv, ct, **_):
    if ct in INTS:
        _int_div_checks(av, bv, ct)
        return np.remainder(av, bv)
    if ct == "bool":
        raise Skip("remainder of bools")
    return _remainder_float(av, bv, ct)


def k_fmod(av, bv, ct, **_):
    if ct in INTS:
        _int_div_checks(av, bv, ct)
        return np.fmod(av, bv)
    if ct == "bool":
        raise Skip("fmod of bools")
    return np.fmod(av, bv)


def k_pow(av, bv, ct, a=None, b=None, **_):
    if ct == "bool":
        raise Skip("pow of bools")
    if ct in INTS:
        if not isinstance(b, T) and int(b) < 0:
            raise Raises("RuntimeError", why="integers to negative integer powers")
        neg = bv < 0
        r = np.power(av, np.where(neg, 0, bv))
        r_neg = np.where(av == 1, 1, np.where(av == -1, np.where(bv % 2 == 0, 1, -1), 0))
        return np.where(neg, r_neg.astype(r.dtype), r)
    if not isinstance(b, T) and float(b) == 0.5:
        return np.sqrt(av)
    if not isinstance(b, T) and float(b) == -0.5:
        return 1.0 / np.sqrt(av)
    return np.power(av, bv)


def k_atan2(av, bv, ct, **_):
    return np.arctan2(av, bv)


def k_logaddexp(av, bv, ct, **_):
    if ct not in FLOATS:
        raise Skip("logaddexp of integers not encoded")
    return np.logaddexp(av, bv)


def k_bitwise(fn):
    def k(av, bv, ct, **_):
        if ct in FLOATS:
            raise Raises("RuntimeError", "TypeError", why="bitwise op on floats")
        return fn(av, bv)
    return k


def k_logical(fn):
    def k(av, bv, ct, **_):
        return fn(av != 0, bv != 0)
    return k


class B:
    """A binary op. ``compute``: the dtype operands are converted to ("ct": the promoted
    type, "float": the promoted type made floating); ``out``: the result dtype ("ct",
    "float", "bool"); ``scalar``: whether a Python scalar operand is accepted."""

    def __init__(self, name, kernel, names=None, methods=None, op=None, rop=True, inplace=None, iop=None,
                 compute="ct", out="ct", scalar=True, ulps=4.0, kinds=None, alpha=False, modes=False,
                 same_dtype=False):
        self.name, self.kernel = name, kernel
        self.names = names or (name,)
        self.methods = methods or self.names
        self.op, self.rop, self.inplace, self.iop = op, rop, inplace, iop
        self.compute, self.out, self.scalar, self.ulps = compute, out, scalar, ulps
        self.alpha, self.modes = alpha, modes


BINARY = [
    B("add", k_add, op="add", inplace="add_", iop="iadd", alpha=True),
    B("sub", k_sub, names=("sub", "subtract"), op="sub", inplace="sub_", iop="isub", alpha=True),
    B("mul", k_mul, names=("mul", "multiply"), op="mul", inplace="mul_", iop="imul"),
    B("div", k_div, names=("div", "divide", "true_divide"), op="truediv", inplace="div_", iop="itruediv",
      compute="float", out="float", modes=True),
    B("floor_divide", k_floor_divide, op="floordiv", inplace="floor_divide_", iop="ifloordiv"),
    B("remainder", k_remainder, op="mod", inplace="remainder_", iop="imod"),
    B("fmod", k_fmod, inplace="fmod_"),
    B("pow", k_pow, op="pow", inplace="pow_", iop="ipow", ulps=8),
    B("atan2", k_atan2, inplace="atan2_", compute="float", out="float", scalar=False),
    B("maximum", lambda av, bv, ct, **_: np.maximum(av, bv), inplace="maximum_", scalar=False),
    B("minimum", lambda av, bv, ct, **_: np.minimum(av, bv), inplace="minimum_", scalar=False),
    B("logaddexp", k_logaddexp, scalar=False),
    B("bitwise_and", k_bitwise(np.bitwise_and), op="and_", inplace="bitwise_and_", iop="iand"),
    B("bitwise_or", k_bitwise(np.bitwise_or), op="or_", inplace="bitwise_or_", iop="ior"),
    B("bitwise_xor", k_bitwise(np.bitwise_xor), op="xor", inplace="bitwise_xor_", iop="ixor"),
    B("logical_and", k_logical(np.logical_and), out="bool", scalar=False),
    B("logical_or", k_logical(np.logical_or), out="bool", scalar=False),
    B("logical_xor", k_logical(np.logical_xor), out="bool", scalar=False),
    B("eq", lambda av, bv, ct, **_: av == bv, op="eq", out="bool"),
    B("ne", lambda av, bv, ct, **_: av != bv, names=("ne", "not_equal"), op="ne", out="bool"),
    B("lt", lambda av, bv, ct, **_: av < bv, names=("lt", "less"), op="lt", out="bool"),
    B("le", lambda av, bv, ct, **_: av <= bv, names=("le", "less_equal"), op="le", out="bool"),
    B("gt", lambda av, bv, ct, **_: av > bv, names=("gt", "greater"), op="gt", out="bool"),
    B("ge", lambda av, bv, ct, **_: av >= bv, names=("ge", "greater_equal"), op="ge", out="bool"),
]
_REFLECTED_OK = {"add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "and_", "or_", "xor",
                 "eq", "ne", "lt", "le", "gt", "ge"}


@st.composite
def _operands(draw, b: B, inplace):
    if inplace and draw(st.integers(0, 9)) == 0:
        n = draw(st.integers(1, 4))
        a = draw(tensors(shape=(n, n), views=("contiguous",)))
        return a, Alias(0, draw(st.sampled_from(("same", "transposed"))))
    sa, sb = draw(broadcast_shapes(2))
    a = draw(tensors(shape=sa))
    if b.scalar and draw(st.integers(0, 3)) == 0:
        return a, draw(scalars())
    return a, draw(tensors(shape=sb))


@st.composite
def _binary_call(draw, b: B, inplace):
    a, other = draw(_operands(b, inplace))
    kw = {}
    if b.alpha and draw(st.integers(0, 3)) == 0:
        kw["alpha"] = draw(st.sampled_from([2, -1, 0, 3, 0.5, -1.5, True]))
    if b.modes and draw(st.integers(0, 2)) == 0:
        kw["rounding_mode"] = draw(st.sampled_from(["floor", "trunc"]))
    if inplace:
        if b.iop and not kw and not isinstance(other, Alias) and draw(st.booleans()):
            return Call(b.inplace, "operator", b.iop, (a, other), inplace=True)
        return Call(b.inplace, "method", b.inplace, (a, other), kw, inplace=True)
    forms = ["fn", "method"] + (["operator"] if b.op and not kw else [])
    form = draw(st.sampled_from(forms))
    if form == "operator":
        if not isinstance(other, T) and b.op in _REFLECTED_OK and draw(st.booleans()):
            return Call(b.name, "operator", b.op, (other, a))
        return Call(b.name, "operator", b.op, (a, other))
    names = b.names if form == "fn" else b.methods
    if "rounding_mode" in kw:
        names = [n for n in names if n != "true_divide"]
    name = draw(st.sampled_from(names))
    return Call(b.name, form, name, (a, other), kw)


def _operand_values(x, dtype, args):
    if isinstance(x, Alias):
        src = args[x.index]
        v = values(src, dtype)
        return v.T if x.view == "transposed" else v
    return values(x, dtype)


def _check_python_ints(*xs):
    for x in xs:
        if isinstance(x, int) and not isinstance(x, bool) and not -2 ** 63 <= x < 2 ** 63:
            if x < 2 ** 64:
                raise Skip("a Python int in uint64 range (PyTorch version dependent)")
            raise Raises("Exception", why=f"Python int {x} fits no 64-bit type")


def _is_bool(o):
    return isinstance(o, bool) or (isinstance(o, T) and o.dtype == "bool")


def _binary_ref(b: B):
    def ref(call):
        x, y = call.args[0], call.args[1]
        _check_python_ints(x, y)
        ya = call.args[y.index] if isinstance(y, Alias) else y  # for promotion and shapes
        shape = broadcast(shape_of(x), shape_of(ya))
        ct = result_type(x, ya)
        if b.name == "sub" and (_is_bool(x) or _is_bool(ya)):
            raise Raises("RuntimeError", why="subtraction with a bool operand")
        mode = call.kwargs.get("rounding_mode")
        compute = {"ct": ct, "float": float_of(ct) if mode is None else ct, "own": None}[b.compute]
        if compute in FLOATS:
            for s in (x, ya):
                if isinstance(s, float) and np.isfinite(s) and abs(s) > {"float16": 65504.0, "bfloat16": 3.38e38,
                                                                         "float32": 3.4e38, "float64": 1.8e308}[compute]:
                    raise Skip("a Python float beyond the computation dtype's range")
        alpha = call.kwargs.get("alpha")
        if alpha is not None:
            if ct == "bool":
                raise Skip("alpha with bool operands")
            if isinstance(alpha, bool):
                raise Raises("RuntimeError", why="boolean alpha with a non-bool result")
            if isinstance(alpha, float) and ct not in FLOATS:
                raise Raises("RuntimeError", why="a float alpha with integer operands")
        if call.inplace:
            check_inplace(x, compute if b.out == "float" else ct, call.op)
            if shape != tuple(x.shape):
                raise Raises("RuntimeError", why=f"in-place result of shape {shape} into {x.shape}")
        # PyTorch refuses a source that partially overlaps the written tensor; computing
        # from a copy of it (what a user means) is accepted too
        partial = call.inplace and isinstance(y, Alias) and y.view == "transposed" and x.shape[0] > 1
        av = _operand_values(x, compute, call.args)
        bv = _operand_values(y, compute, call.args)
        if alpha is not None:
            with errstate():  # an integer alpha wraps in the computation type, as the product does
                bv = bv * (np.asarray(alpha).astype(np.int64).astype(bv.dtype) if bv.dtype.kind in "iub" else alpha)
        av, bv = np.broadcast_to(av, shape), np.broadcast_to(bv, shape)
        with errstate():
            r = b.kernel(av, bv, ct, a=x, b=ya, mode=mode)
        out = {"ct": ct, "float": float_of(ct) if mode is None else ct, "bool": "bool"}[b.out]
        if out == "bool":
            r = np.asarray(r, dtype=bool)
        res = R(r, out, ulps=b.ulps)
        if not call.inplace:
            return Expect(res)
        from ..case import round_to
        w = R(round_to(r, out) if out in FLOATS else r, x.dtype, ulps=b.ulps)
        return Expect(w, after=w, or_raises=("RuntimeError",) if partial else ())
    return ref


def _specs():
    out = []
    for b in BINARY:
        out.append(OpSpec(b.name, _binary_call(b, False), _binary_ref(b), "binary"))
        if b.inplace:
            out.append(OpSpec(b.inplace, _binary_call(b, True), _binary_ref(b), "binary"))
    return out


OPS = _specs()
