"""Helpers the op families share: computing in a dtype as PyTorch does, dims, forms."""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from ..case import FLOATS, INTS, T, iinfo, round_to
from ..expect import Raises, Skip


def values(x, dtype=None):
    """The values of a tensor argument or Python scalar converted to ``dtype`` (float
    dtypes as float64 holding representable values), as an array."""
    if isinstance(x, T):
        a = x.array()
        src = x.dtype
    else:
        a = np.asarray(x)
        src = "bool" if isinstance(x, bool) else "int64" if isinstance(x, int) else "float64"
    if dtype is None or dtype == src:
        return np.asarray(a, dtype=np.float64) if src in FLOATS else np.asarray(a)
    if dtype not in FLOATS and src in FLOATS:
        v = np.asarray(a, dtype=np.float64)
        lo, hi = iinfo(dtype)
        if not np.isfinite(v).all() or (v.size and (v.min() <= lo - 1 or v.max() >= hi + 1)):
            raise Skip("float to integer conversion out of range is undefined")
    if dtype not in FLOATS and src in INTS + ("bool",) and not isinstance(x, T):
        lo, hi = iinfo(dtype)
        if not (lo <= int(x) <= hi):
            raise Skip("a Python int out of the dtype's range")
    return round_to(a, dtype)


def kernel_type(dtype):
    """The NumPy type PyTorch's CPU kernels compute a float dtype in (float16 and bfloat16
    compute in float32)."""
    return np.float64 if dtype == "float64" else np.float32


def wrap_dim(d, ndim, op=""):
    """``maybe_wrap_dim``: a 0-d tensor accepts -1 and 0."""
    if isinstance(d, bool) or not isinstance(d, (int, np.integer)):
        raise Skip("non-integer dim")
    n = max(ndim, 1)
    if not -n <= d < n:
        raise Raises("IndexError", why=f"{op} dim {d} out of range for {ndim}-d")
    return int(d) % n


def wrap_dims(ds, ndim, op=""):
    """``dim_list_to_bitset``: dims are wrapped in order, a repeat raises when it is met."""
    out = []
    for d in ds:
        w = wrap_dim(d, ndim, op)
        if w in out:
            raise Raises("RuntimeError", why=f"{op} dim {d} repeated in {ds}")
        out.append(w)
    return out


def broadcast(*shapes):
    try:
        return tuple(np.broadcast_shapes(*[tuple(s) for s in shapes]))
    except ValueError:
        raise Raises("RuntimeError", "ValueError", why=f"shapes {shapes} do not broadcast") from None


def shape_of(x):
    return tuple(x.shape) if isinstance(x, T) else ()


def errstate():
    return np.errstate(all="ignore")


@st.composite
def pick(draw, options):
    return draw(st.sampled_from(tuple(options)))


def is_float(d):
    return d in FLOATS


def is_int(d):
    return d in INTS


def check_inplace(self_t: T, computed_dtype, op):
    """What PyTorch checks before writing into ``self``: no internal overlap, and the
    computed dtype must be castable to self's."""
    from ..promotion import can_cast

    if self_t.expanded_overlap:
        raise Raises("RuntimeError", why=f"{op}: in-place write to an expanded tensor (internal overlap)")
    if not can_cast(computed_dtype, self_t.dtype):
        raise Raises("RuntimeError", why=f"{op}: result type {computed_dtype} can't be cast to {self_t.dtype}")
