"""Comparisons the kernel tests share: results against float64 references at the dtype's
tolerance, inputs as a dtype stores them, negatively strided views and float64 values as
bfloat16 bits."""
from __future__ import annotations

import numpy as np

from ocl_helpers import FLOATS, TOL, to_storage, to_values


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
