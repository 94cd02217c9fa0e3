"""Hypothesis strategies: tensors (values with special values mixed in, views, 0-size
shapes), broadcastable shape pairs, dim arguments in and out of range, Python scalars.

Every strategy shrinks toward the plain case (small contiguous float tensors of moderate
values, valid dims), so a shrunk reproducer only keeps what the mismatch needs."""
from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from .case import (DTYPES, FINFO, FLOATS, INTS, VIEWS, T, base_shape, iinfo, round_bf16,
                   storage_dtype, view_applies)

NAN, INF = math.nan, math.inf
# the largest side per number of dims, so no drawn tensor is bigger than ~100 elements
_SIDES = {0: 0, 1: 7, 2: 5, 3: 4, 4: 3, 5: 2}

# value profiles: "full" mixes in NaN, infinities, signed zeros, huge and tiny values and
# integer extremes; "nonfinite" NaN, infinities and zeros only (sums and products, whose
# rounding with huge values depends on the order); "finite" none of them; "positive".
PROFILES = ("full", "nonfinite", "finite", "positive")


def _float_specials(dtype, profile):
    eps, big, small, sub = FINFO[dtype]
    if profile == "full":
        return [NAN, INF, -INF, 0.0, -0.0, big, -big, small, -small, sub, 1.0, -1.0, 0.5, -0.5,
                1.5, 2.5, -2.5, 3.0]
    if profile == "nonfinite":
        return [NAN, INF, -INF, 0.0, -0.0, 1.0, -1.0, 0.5, 2.5]
    if profile == "positive":
        return [small, 1.0, 0.5, 2.0]
    return [0.0, -0.0, 1.0, -1.0, 0.5, 2.5, -2.5]


def float_elements(dtype, profile="full", lo=-8.0, hi=8.0):
    width = {"float16": 16, "bfloat16": 32, "float32": 32, "float64": 64}[dtype]
    if profile == "positive":
        lo = max(lo, FINFO[dtype][2])
    moderate = st.floats(lo, hi, width=width)
    if dtype == "bfloat16":
        moderate = moderate.map(lambda v: float(round_bf16(v)))
    special = st.sampled_from(_float_specials(dtype, profile))
    return st.one_of(moderate, moderate, moderate, special)


def int_elements(dtype, profile="full", lo=None, hi=None):
    tlo, thi = iinfo(dtype)
    lo = tlo if lo is None else max(lo, tlo)
    hi = thi if hi is None else min(hi, thi)
    if profile == "positive":
        lo = max(lo, 1)
    small = st.integers(max(lo, -5), min(hi, 5))
    if profile != "full":
        return st.one_of(small, small, small, st.integers(lo, hi))
    extremes = st.sampled_from(sorted({lo, hi, lo + 1, hi - 1, 0, 1}))
    return st.one_of(small, small, extremes, st.integers(lo, hi))


def elements(dtype, profile="full", **bounds):
    if dtype == "bool":
        return st.booleans()
    if dtype in INTS:
        return int_elements(dtype, profile, **{k: v for k, v in bounds.items() if v is not None})
    return float_elements(dtype, profile, **bounds)


@st.composite
def shapes(draw, min_dims=0, max_dims=4, min_side=0, max_side=None):
    """Shapes of ``min_dims..max_dims`` dims; a side is 0 about one time in ten."""
    n = draw(st.integers(min_dims, max_dims))
    cap = max_side if max_side is not None else _SIDES[min(n, 5)]
    out = []
    for _ in range(n):
        s = draw(st.integers(max(1, min_side), max(cap, 1, min_side)))
        if min_side == 0 and draw(st.integers(0, 9)) == 9:
            s = 0
        out.append(s)
    return tuple(out)


@st.composite
def broadcast_shapes(draw, n=2, min_dims=0, max_dims=4, incompatible=True):
    """``n`` shapes that broadcast together (leading dims dropped, sides set to 1); rarely
    one that does not broadcast."""
    full = draw(shapes(min_dims, max_dims))
    out = []
    for _ in range(n):
        k = draw(st.integers(0, len(full)))
        sh = [1 if draw(st.integers(0, 3)) == 3 else s for s in full[len(full) - k:]]
        out.append(tuple(sh))
    if incompatible and full and draw(st.integers(0, 19)) == 19:
        i = draw(st.integers(0, n - 1))
        sh = list(full)
        sh[-1] = full[-1] + 2
        out[i] = tuple(sh)
    return out


@st.composite
def tensors(draw, dtype=None, kinds=DTYPES, shape=None, profile="full", views=VIEWS,
            min_dims=0, max_dims=4, lo=None, hi=None, min_side=0):
    """A :class:`T`: a drawn dtype from ``kinds``, shape, view recipe and values."""
    dtype = dtype or draw(st.sampled_from(tuple(kinds)))
    shape = tuple(shape) if shape is not None else draw(shapes(min_dims, max_dims, min_side))
    view = draw(st.sampled_from(tuple(views)))
    if not view_applies(shape, view):
        view = "contiguous"
    bounds = {}
    if lo is not None:
        bounds["lo"] = lo
    if hi is not None:
        bounds["hi"] = hi
    base = draw(arrays(storage_dtype(dtype), base_shape(shape, view),
                       elements=elements(dtype, profile, **bounds), fill=st.nothing()))
    return T(base, dtype, view, shape)


def index_tensors(shape, n, dtype="int64", views=VIEWS, out_of_range=True):
    """Integer tensors of ``shape`` indexing a dim of size ``n`` (negative indices and, rarely,
    out-of-range ones included)."""
    lo, hi = -n, n - 1
    if out_of_range and st is not None:
        el = st.one_of(st.integers(max(0, lo), max(hi, 0)), st.integers(max(0, lo), max(hi, 0)),
                       st.integers(lo, max(hi, lo)), st.sampled_from([n, -n - 1]))
    else:
        el = st.integers(0, max(hi, 0))

    @st.composite
    def draw_it(draw):
        view = draw(st.sampled_from(tuple(views)))
        if not view_applies(shape, view):
            view = "contiguous"
        base = draw(arrays(np.dtype(dtype), base_shape(shape, view), elements=el, fill=st.nothing()))
        return T(base, dtype, view, tuple(shape))

    return draw_it()


def dims(ndim, invalid=True):
    """One dim argument for a tensor of ``ndim`` dims: mostly in range (negative included),
    sometimes out of range."""
    n = max(ndim, 1)
    valid = st.integers(-n, n - 1)
    if not invalid:
        return valid
    return st.one_of(valid, valid, valid, st.sampled_from([n, -n - 1, 64]))


def dim_lists(ndim, invalid=True):
    """A list or tuple of dims (empty, duplicates and out-of-range ones included)."""
    return st.tuples(st.lists(dims(ndim, invalid), max_size=max(ndim, 1) + (1 if invalid else 0)),
                     st.booleans()).map(lambda p: tuple(p[0]) if p[1] else list(p[0]))


def int_scalars(full=True):
    small = st.integers(-5, 5)
    if not full:
        return small
    return st.one_of(small, small, st.sampled_from([127, 128, 255, 256, -129, 2 ** 31, -2 ** 31 - 1,
                                                    2 ** 63 - 1, -2 ** 63, 2 ** 63, 2 ** 64 + 1]))


def float_scalars(full=True):
    moderate = st.floats(-8, 8)
    if not full:
        return moderate
    return st.one_of(moderate, moderate, st.sampled_from([NAN, INF, -INF, 0.0, -0.0, 0.5, -2.5, 1e-30,
                                                          1e5, 1e300, -1e300]))


def scalars(kinds=("bool", "int", "float"), full=True):
    out = []
    if "float" in kinds:
        out.append(float_scalars(full))
    if "int" in kinds:
        out.append(int_scalars(full))
    if "bool" in kinds:
        out.append(st.booleans())
    return st.one_of(*out)


def dtypes_of(kinds):
    return tuple(d for d in DTYPES if d in kinds)


FLOAT_KINDS = FLOATS
INT_KINDS = INTS
