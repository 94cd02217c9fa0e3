"""The vectorised row kernels at the lengths where their code paths change: reductions read in
place as [outer, r, inner] (rows, columns in stretches, long rows split across threads) and
the f32 lane kernels (tails of every length, blocks summed in f64, NaN handling), layer norm
on rows longer than a block, and the exact GELU's f32 kernel, all against NumPy in float64,
on contiguous, transposed and strided views and 0-size shapes."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy.special import erfc as np_erfc

import deepseek as ds
import deepseek.nn.functional as F

seeds = st.integers(0, 2**32 - 1)
# lengths around the 16-lane vectors, the 256-column stretches and the 1024-element blocks
sizes = st.sampled_from([0, 1, 3, 15, 16, 17, 33, 255, 257, 1025])


def view(a, layout, dtype):
    """``a`` as a tensor laid out contiguously, as a transposed view, or as every other element."""
    if layout == "perm" and a.ndim >= 2:
        return ds.tensor(np.ascontiguousarray(np.swapaxes(a, 0, -1)), dtype=dtype).transpose(0, -1)
    if layout == "step" and a.ndim >= 1:
        return ds.tensor(np.repeat(a, 2, axis=-1), dtype=dtype)[..., ::2]
    return ds.tensor(a, dtype=dtype)


def as64(t):
    return np.asarray(t).astype(np.float64)


@settings(max_examples=40)
@given(seed=seeds, outer=st.sampled_from([1, 2, 5]), r=sizes, inner=st.sampled_from([1, 3, 17, 300]),
       dims=st.sampled_from(["r", "outer+r", "r+inner", "outer+inner", "all"]), keepdim=st.booleans(),
       dtype=st.sampled_from(["float32", "float64"]), layout=st.sampled_from(["contig", "perm", "step"]),
       op=st.sampled_from(["sum", "amax", "amin", "prod", "mean"]), nan=st.booleans())
def test_reductions_over_every_dim_arrangement(seed, outer, r, inner, dims, keepdim, dtype, layout, op, nan):
    rng = np.random.default_rng(seed)
    a = rng.uniform(0.5, 1.5, (outer, r, inner)) if op == "prod" else rng.standard_normal((outer, r, inner)) * 3
    if nan and a.size:
        a.reshape(-1)[rng.integers(a.size)] = np.nan
    a = a.astype(dtype).astype(np.float64)
    axis = {"r": (1,), "outer+r": (0, 1), "r+inner": (1, 2), "outer+inner": (0, 2), "all": (0, 1, 2)}[dims]
    red = int(np.prod([a.shape[d] for d in axis]))
    x = view(a, layout, dtype)
    if op in ("amax", "amin") and red == 0:
        with pytest.raises((RuntimeError, IndexError)):
            getattr(ds, op)(x, axis, keepdim)
        return
    got = {"sum": lambda: ds.sum(x, axis, keepdim), "mean": lambda: ds.mean(x, axis, keepdim),
           "amax": lambda: ds.amax(x, axis, keepdim), "amin": lambda: ds.amin(x, axis, keepdim),
           "prod": lambda: x.prod(axis[0], keepdim) if len(axis) == 1 else None}[op]()
    if got is None:
        return
    ref_axis = axis if op != "prod" else axis[0]
    with np.errstate(all="ignore"):
        want = {"sum": np.sum, "mean": np.mean, "amax": np.max, "amin": np.min, "prod": np.prod}[op](a, axis=ref_axis, keepdims=keepdim)
    assert got.dtype.name == dtype and tuple(got.shape) == np.shape(want)
    tol = dict(rtol=1e-5, atol=1e-5 * math.sqrt(max(red, 1))) if dtype == "float32" else dict(rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(as64(got), want, equal_nan=True, **tol)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_long_reductions_split_across_threads(dtype):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((2, 70001)).astype(dtype)
    x = ds.tensor(a)
    np.testing.assert_allclose(as64(x.sum(-1)), a.astype(np.float64).sum(-1), rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(as64(x.sum()), a.astype(np.float64).sum(), rtol=1e-5, atol=1e-3)
    assert float(x.amax()) == a.max() and float(x.amin(-1)[1]) == a[1].min()
    a[1, 12345] = np.nan
    x = ds.tensor(a)
    assert math.isnan(float(x.amax())) and math.isnan(float(x.amin(-1)[1])) and not math.isnan(float(x.amax(-1)[0]))
    # an f32 sum of many equal values keeps its precision: blocks of f32 lanes go to f64
    big = ds.ones(3_000_001, dtype=getattr(ds, dtype))
    assert float(big.sum()) == 3_000_001.0


@settings(max_examples=25)
@given(seed=seeds, rows=st.sampled_from([0, 1, 4]), n=st.sampled_from([1, 17, 1023, 1500]),
       dtype=st.sampled_from(["float32", "float64"]), layout=st.sampled_from(["contig", "step"]), affine=st.booleans())
def test_layer_norm_long_rows(seed, rows, n, dtype, layout, affine):
    rng = np.random.default_rng(seed)
    a = (rng.standard_normal((rows, n)) * 2 + 50).astype(dtype).astype(np.float64)  # large mean
    w = rng.standard_normal(n).astype(dtype).astype(np.float64) if affine else None
    b = rng.standard_normal(n).astype(dtype).astype(np.float64) if affine else None
    x = view(a, layout, dtype).requires_grad_()
    wt = None if w is None else ds.tensor(w, dtype=dtype, requires_grad=True)
    bt = None if b is None else ds.tensor(b, dtype=dtype, requires_grad=True)
    y = F.layer_norm(x, (n,), wt, bt, 1e-5)
    mu = a.mean(-1, keepdims=True)
    rstd = 1 / np.sqrt(((a - mu) ** 2).mean(-1, keepdims=True) + 1e-5)
    xhat = (a - mu) * rstd
    want = xhat * (1 if w is None else w) + (0 if b is None else b)
    tol = dict(rtol=1e-4, atol=1e-4) if dtype == "float32" else dict(rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(as64(y.detach()), want, **tol)
    g = rng.standard_normal((rows, n))
    (y * ds.tensor(g, dtype=dtype)).sum().backward()
    gh = g * (1 if w is None else w)
    gx = rstd * (gh - gh.mean(-1, keepdims=True) - xhat * (gh * xhat).mean(-1, keepdims=True))
    np.testing.assert_allclose(as64(x.grad), gx, **tol)
    if affine:
        np.testing.assert_allclose(as64(wt.grad), (g * xhat).sum(0), **tol)
        np.testing.assert_allclose(as64(bt.grad), g.sum(0), **tol)


@pytest.mark.parametrize("bias", [False, True])
def test_exact_gelu_f32_kernel_across_the_range(bias):
    z = np.concatenate([np.linspace(-14, 10, 4001), [0.0, -0.0, np.inf, -np.inf, np.nan]])
    n = z.size
    bv = np.linspace(-0.5, 0.5, n).astype(np.float32) if bias else None
    xv = (z - (0 if bv is None else bv)).astype(np.float32)
    x = ds.tensor(xv, requires_grad=True)
    bt = None if bv is None else ds.tensor(bv, requires_grad=True)
    y = F.bias_gelu(x, bt)
    zz = xv.astype(np.float64) + (0 if bv is None else bv.astype(np.float64))
    zz = zz.astype(np.float32).astype(np.float64)
    cdf = 0.5 * np_erfc(-zz / math.sqrt(2))
    with np.errstate(all="ignore"):
        want = zz * cdf
    fin = np.isfinite(zz)
    got = as64(y.detach())
    np.testing.assert_allclose(got[fin], want[fin], rtol=3e-5, atol=1e-37)
    assert got[np.isposinf(zz)][0] == np.inf and np.isnan(got[np.isnan(zz)]).all()
    g = np.linspace(0.5, 2, n).astype(np.float32)
    y.backward(ds.tensor(g))
    with np.errstate(all="ignore"):
        dwant = g * (cdf + zz * np.exp(-0.5 * zz * zz) / math.sqrt(2 * math.pi))
    np.testing.assert_allclose(as64(x.grad)[fin], dwant[fin], rtol=3e-5, atol=1e-6)
    if bias:
        np.testing.assert_allclose(as64(bt.grad)[fin], dwant[fin], rtol=3e-5, atol=1e-6)
