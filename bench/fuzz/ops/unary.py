"""Unary elementwise ops: the function, the method and the in-place method of each, on every
dtype (integers give float32 where PyTorch promotes), with special values."""
from __future__ import annotations

import numpy as np
import scipy.special as sp
from hypothesis import strategies as st

from ..case import FINFO, FLOATS, INTS, Call
from ..expect import R, Expect, Raises, Skip
from ..promotion import float_of
from ..strategies import tensors
from . import OpSpec
from ._common import check_inplace, errstate, kernel_type, values


def _sign(x):
    if x.dtype == bool:
        return x
    r = np.sign(x)
    return np.where(np.isnan(x), 0.0, r) if x.dtype.kind == "f" else r  # PyTorch: sign(nan) = 0


def _digamma(x):
    r = sp.psi(x)
    r = np.where(x == 0, np.copysign(np.inf, -x), r)  # +0 -> -inf, -0 -> +inf
    return np.where((x < 0) & (x == np.floor(x)), np.nan, r)  # poles, and -inf


def _lgamma(x):
    return np.where(np.isneginf(x), np.inf, sp.gammaln(x))


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


class U:
    """A unary op: ``kind`` is "float" (integers and bool give float32), "same" (the
    input's dtype), "bool" (a predicate); ``bool_in`` says what a bool input does
    ("same", "raise", "int64", or None: not encoded)."""

    def __init__(self, name, fn, kind="float", names=None, methods=None, inplace=None, bool_in="same",
                 ints=True, floats_only=False, ulps=4.0, atol_eps=0.0, in_kernel_type=False):
        self.name, self.fn, self.kind = name, fn, kind
        self.names = names or (name,)
        self.methods = methods if methods is not None else self.names
        self.inplace = inplace
        self.bool_in, self.ints, self.floats_only = bool_in, ints, floats_only
        self.ulps, self.atol_eps = ulps, atol_eps
        # computed in the kernel's own type, as PyTorch's formula does (sigmoid's exp(-x)
        # overflows float32 below -88, so the result is 0, not a subnormal)
        self.in_kernel_type = in_kernel_type

    def out_dtype(self, d):
        if self.kind == "bool":
            return "bool"
        if self.kind == "float":
            return float_of(d)
        if d == "bool":
            if self.bool_in == "raise":
                raise Raises("RuntimeError", why=f"{self.name} on a bool tensor")
            if self.bool_in is None:
                raise Skip("bool input not encoded")
            return "int64" if self.bool_in == "int64" else "bool"
        return d

    def compute(self, x):
        out = self.out_dtype(x.dtype)
        src = x.dtype
        if self.kind == "float":
            v = values(x, out)
        elif self.kind == "same" and out != src:
            v = values(x, out)
        else:
            v = values(x)
        if self.kind == "same" and out in INTS and self.name in ("ceil", "floor", "round", "trunc"):
            return R(v, out)  # integers are already integral (and float64 would lose int64 digits)
        if self.in_kernel_type and out in FLOATS:
            v = v.astype(kernel_type(out))
        with errstate():
            r = np.asarray(self.fn(v)).astype(np.float64) if out in FLOATS else self.fn(v)
        atol = self.atol_eps * FINFO[out][0] if out in FLOATS else 0.0
        return R(r, out, ulps=self.ulps, atol=atol)


UNARY = [
    U("exp", np.exp, inplace="exp_"),
    U("exp2", np.exp2),
    U("expm1", np.expm1, inplace="expm1_"),
    U("log", np.log, inplace="log_"),
    U("log2", np.log2),
    U("log1p", np.log1p, inplace="log1p_"),
    U("sin", np.sin, inplace="sin_", atol_eps=1),
    U("cos", np.cos, inplace="cos_", atol_eps=1),
    U("tan", np.tan, inplace="tan_", atol_eps=1),
    U("asin", np.arcsin, methods=("asin", "arcsin")),
    U("acos", np.arccos, methods=("acos", "arccos")),
    U("atan", np.arctan, methods=("atan", "arctan")),
    U("sinh", np.sinh),
    U("cosh", np.cosh),
    U("tanh", np.tanh, inplace="tanh_"),
    U("sqrt", np.sqrt, inplace="sqrt_"),
    U("rsqrt", lambda x: 1.0 / np.sqrt(x), inplace="rsqrt_"),
    U("reciprocal", lambda x: 1.0 / x, inplace="reciprocal_"),
    U("sigmoid", _sigmoid, inplace="sigmoid_", in_kernel_type=True),
    U("erf", sp.erf, inplace="erf_"),
    U("erfc", sp.erfc, inplace="erfc_", atol_eps=1),
    U("lgamma", _lgamma, inplace="lgamma_", ulps=8, atol_eps=4),
    U("digamma", _digamma, inplace="digamma_", ulps=8, atol_eps=4),
    U("abs", np.abs, "same", methods=("abs", "absolute"), inplace="abs_", bool_in=None),
    U("neg", np.negative, "same", names=("neg", "negative"), inplace="neg_", bool_in="raise"),
    U("sign", _sign, "same", inplace="sign_"),
    U("ceil", np.ceil, "same", inplace="ceil_", bool_in=None),
    U("floor", np.floor, "same", inplace="floor_", bool_in=None),
    U("round", np.round, "same", inplace="round_", bool_in=None),
    U("trunc", np.trunc, "same", inplace="trunc_", bool_in=None),
    U("square", np.square, "same", inplace="square_", bool_in="int64"),
    U("relu", lambda x: np.maximum(x, 0), "same", inplace="relu_", bool_in=None),
    U("isnan", np.isnan, "bool"),
    U("isinf", np.isinf, "bool"),
    U("isfinite", np.isfinite, "bool"),
    U("logical_not", np.logical_not, "bool"),
]


def _bitwise_not(x):
    return np.logical_not(x) if x.dtype == bool else np.invert(x)


@st.composite
def _unary_call(draw, u, inplace):
    x = draw(tensors())
    if inplace:
        name = u.inplace
        return Call(name, "method", name, (x,), inplace=True)
    form = draw(st.sampled_from(("fn", "method")))
    name = draw(st.sampled_from(u.names if form == "fn" else u.methods))
    return Call(u.name, form, name, (x,))


def _unary_ref(u, inplace):
    def ref(call):
        x = call.args[0]
        r = u.compute(x)
        if not inplace:
            return Expect(r)
        check_inplace(x, r.dtype, u.inplace)
        if r.dtype != x.dtype and u.kind == "bool":
            raise Skip("predicate written in place")
        w = R(r.values, x.dtype, ulps=r.ulps, atol=r.atol)
        return Expect(w, after=w)
    return ref


def _specs():
    out = []
    for u in UNARY:
        out.append(OpSpec(u.name, _unary_call(u, False), _unary_ref(u, False), "unary"))
        if u.inplace:
            out.append(OpSpec(u.inplace, _unary_call(u, True), _unary_ref(u, True), "unary"))
    return out


# ops with their own arguments -----------------------------------------------------------------


@st.composite
def _bitwise_not_call(draw):
    x = draw(tensors())
    form = draw(st.sampled_from(("fn", "method", "operator")))
    return Call("bitwise_not", form, "invert" if form == "operator" else "bitwise_not", (x,))


def _bitwise_not_ref(call):
    x = call.args[0]
    if x.dtype in FLOATS:
        raise Raises("RuntimeError", "TypeError", why="bitwise_not on a float tensor")
    return Expect(R(_bitwise_not(values(x)), x.dtype))


@st.composite
def _nan_to_num_call(draw, inplace=False):
    x = draw(tensors())
    kw = {}
    for k in ("nan", "posinf", "neginf"):
        if draw(st.booleans()):
            kw[k] = draw(st.sampled_from([0.0, 1.5, -2.0, 1e5, 7.0]))
    if inplace:
        return Call("nan_to_num_", "method", "nan_to_num_", (x,), kw, inplace=True)
    form = draw(st.sampled_from(("fn", "method")))
    return Call("nan_to_num", form, "nan_to_num", (x,), kw)


def _nan_to_num_ref(call):
    x = call.args[0]
    if call.inplace:
        check_inplace(x, x.dtype, "nan_to_num_")
    v = values(x)
    if x.dtype not in FLOATS:
        r = R(v, x.dtype)
        return Expect(r, after=r if call.inplace else None)
    big = FINFO[x.dtype][1]
    kw = call.kwargs
    for k in ("posinf", "neginf"):
        if k in kw and abs(kw[k]) > big:
            raise Skip("replacement beyond the dtype's range")
    r = np.where(np.isnan(v), kw.get("nan", 0.0), v)
    r = np.where(np.isposinf(v), kw.get("posinf", big), r)
    r = np.where(np.isneginf(v), kw.get("neginf", -big), r)
    rr = R(r, x.dtype, ulps=1)
    return Expect(rr, after=rr if call.inplace else None)


@st.composite
def _polygamma_call(draw):
    x = draw(tensors(kinds=FLOATS + ("int64",), profile="full"))
    n = draw(st.one_of(st.integers(0, 3), st.just(-1)))
    if draw(st.booleans()):
        return Call("polygamma", "fn", "polygamma", (n, x))
    return Call("polygamma", "method", "polygamma", (x, n))


def _polygamma_ref(call):
    if call.target == "fn":
        n, x = call.args
    else:
        x, n = call.args
    if n < 0:
        raise Raises("RuntimeError", "ValueError", why="polygamma order must be non-negative")
    out = float_of(x.dtype)
    v = values(x, out)
    with errstate():
        if n == 0:
            r = _digamma(v)
        else:
            r = sp.polygamma(n, v)
            # PyTorch: poles (non-positive integers) give +inf for odd n... not encoded
            if ((v <= 0) & (v == np.floor(v))).any() or np.isinf(v).any():
                raise Skip("polygamma at poles and infinities not encoded")
    return Expect(R(r, out, ulps=16, atol=16 * FINFO[out][0]))


OPS = _specs() + [
    OpSpec("bitwise_not", _bitwise_not_call(), _bitwise_not_ref, "unary"),
    OpSpec("nan_to_num", _nan_to_num_call(), _nan_to_num_ref, "unary"),
    OpSpec("nan_to_num_", _nan_to_num_call(True), _nan_to_num_ref, "unary"),
    OpSpec("polygamma", _polygamma_call(), _polygamma_ref, "unary"),
]
