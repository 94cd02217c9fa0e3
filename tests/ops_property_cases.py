"""The shared part of the op property tests (test_ops_property*.py and the wrong-results
tests): dtypes and tolerances, tensors in four layouts with their float64 reference values,
the checker, PyTorch's type promotion and the hypothesis strategies."""
from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st

import deepseek as ds

FLOATS = ["float16", "bfloat16", "float32", "float64"]
INTS = ["uint8", "int8", "int16", "int32", "int64"]
ALL = ["bool"] + INTS + FLOATS
LAYOUTS = ["contig", "perm", "step", "expand"]

# (rtol, atol) of a result rounded to the dtype (computed in f32 panels for the half types)
TOL = {
    "float16": (2e-3, 2e-3),
    "bfloat16": (1.6e-2, 1.6e-2),
    "float32": (2e-5, 1e-5),
    "float64": (1e-10, 1e-12),
}

_NP = {"bool": np.bool_, "uint8": np.uint8, "int8": np.int8, "int16": np.int16, "int32": np.int32,
       "int64": np.int64, "float16": np.float16, "float32": np.float32, "float64": np.float64}


# ---------------------------------------------------------------- helpers

def bf16_round(a):
    """Rounds float64 values to bfloat16 (nearest even), returned as float64."""
    a = np.asarray(a)
    f = np.ascontiguousarray(a, dtype=np.float32)
    b = f.view(np.uint32).astype(np.uint64)
    b = (b + 0x7FFF + ((b >> 16) & 1)) & 0xFFFF0000
    return b.astype(np.uint32).view(np.float32).astype(np.float64).reshape(a.shape)


def round_to(a, dtype):
    """``a`` (float64) rounded to ``dtype``, back in float64: the values a tensor of that
    dtype holds."""
    if dtype == "bfloat16":
        return bf16_round(a)
    return np.asarray(a).astype(_NP[dtype]).astype(np.float64)


def values(rng, shape, dtype, lo=-5.0, hi=5.0):
    """Random float64 values representable in ``dtype``."""
    if dtype == "bool":
        return np.asarray(rng.random(shape) < 0.5).astype(np.float64)
    if dtype in INTS:
        lo_i = max(int(math.ceil(lo)), 0 if dtype == "uint8" else -10**6)
        hi_i = int(math.floor(hi))
        return rng.integers(lo_i, hi_i + 1, size=shape).astype(np.float64)
    return round_to(rng.uniform(lo, hi, size=shape), dtype)


def from_values(a, dtype):
    """A contiguous tensor of ``dtype`` holding float64 array ``a`` (already representable)."""
    if dtype == "bfloat16":
        return ds.tensor(a.astype(np.float32), dtype=ds.bfloat16)
    return ds.tensor(a.astype(_NP[dtype]))


def make(rng, shape, dtype, layout="contig", lo=-5.0, hi=5.0):
    """(tensor, float64 reference) with the given logical shape, in one of four layouts."""
    shape = tuple(shape)
    nd = len(shape)
    if layout == "expand" and nd >= 1:
        small = (1,) + shape[1:]
        a_small = values(rng, small, dtype, lo, hi)
        t = from_values(a_small, dtype).expand(*shape)
        return t, np.broadcast_to(a_small, shape).copy()
    a = values(rng, shape, dtype, lo, hi)
    if layout == "perm" and nd >= 2:
        rev = tuple(range(nd))[::-1]
        t = from_values(np.ascontiguousarray(a.transpose(rev)), dtype).permute(*rev)
        return t, a
    if layout == "step" and nd >= 1:
        big_shape = shape[:-1] + (2 * shape[-1],)
        big = values(rng, big_shape, dtype, lo, hi)
        big[..., ::2] = a
        t = from_values(big, dtype)[..., ::2]
        return t, a
    return from_values(a, dtype), a


def to_np(t):
    """The tensor's values as float64 NumPy (bfloat16 goes through float32, exactly)."""
    assert isinstance(t, ds.Tensor), type(t)
    t = t.detach()
    if t.dtype == ds.bfloat16:  # NumPy has no bfloat16 (as in PyTorch): widen exactly first
        t = t.float()
    return np.array(np.asarray(t), dtype=np.float64)


def check(actual, expected, dtype=None, rtol=None, atol=None, exact=False):
    """Asserts ``actual`` has ``expected``'s shape, the dtype ``dtype`` and close values."""
    expected = np.asarray(expected, dtype=np.float64)
    assert isinstance(actual, ds.Tensor)
    assert tuple(actual.shape) == expected.shape, (tuple(actual.shape), expected.shape)
    if dtype is not None:
        assert actual.dtype.name == dtype, (actual.dtype.name, dtype)
    got = to_np(actual)
    dt = actual.dtype.name
    if exact or dt not in TOL:
        np.testing.assert_array_equal(got, expected)
        return
    r, a = TOL[dt]
    np.testing.assert_allclose(got, expected, rtol=rtol if rtol is not None else r,
                               atol=atol if atol is not None else a, equal_nan=True)


def _cat(d):
    return 0 if d == "bool" else (1 if d in INTS else 2)


def promote(a, b, nda=1, ndb=1):
    """PyTorch's type promotion for two tensor operands: a 0-dim tensor only decides the
    dtype when it is of a higher kind (bool < integer < float) than the dimensioned one."""
    if (nda == 0) != (ndb == 0):
        dim, zero = (a, b) if nda else (b, a)
        return promote_types(dim, zero) if _cat(zero) > _cat(dim) else dim
    return promote_types(a, b)


def promote_types(a, b):
    """torch.promote_types."""
    cat = _cat
    if cat(a) != cat(b):
        return a if cat(a) > cat(b) else b
    if a == b:
        return a
    if cat(a) == 1:
        if "uint8" in (a, b):
            other = b if a == "uint8" else a
            return "int16" if other == "int8" else other
        return max(a, b, key=lambda d: np.dtype(_NP[d]).itemsize)
    if cat(a) == 2:
        if {a, b} == {"float16", "bfloat16"}:
            return "float32"
        return max(a, b, key=lambda d: 0 if d in ("float16", "bfloat16") else np.dtype(_NP[d]).itemsize)
    return a


seeds = st.integers(0, 2**32 - 1)
small_shapes = st.lists(st.integers(0, 4), min_size=0, max_size=3).map(tuple)
nonempty_shapes = st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple)
layouts = st.sampled_from(LAYOUTS)


@st.composite
def broadcast_pair(draw, nonzero=False):
    """Two shapes that broadcast together (trailing alignment, 1s and missing dims)."""
    lo = 1 if nonzero else 0
    full = draw(st.lists(st.integers(lo, 4), min_size=0, max_size=3))
    a, b = list(full), list(full)
    for s in (a, b):
        for i in range(len(s)):
            if draw(st.booleans()) and draw(st.booleans()):
                s[i] = 1
    drop = draw(st.integers(0, len(b)))
    b = b[drop:]
    if draw(st.booleans()):
        a, b = b, a
    return tuple(a), tuple(b)


def _np_softmax(a, axis):
    """Softmax over ``axis`` in NumPy (an empty array stays empty)."""
    if a.size == 0:
        return a
    m = np.max(a, axis=axis, keepdims=True)
    e = np.exp(a - m)
    return e / e.sum(axis=axis, keepdims=True)


def erf_np(a):
    return np.vectorize(math.erf, otypes=[np.float64])(a)


def _scipy_special(name):
    import scipy.special

    return getattr(scipy.special, name)
