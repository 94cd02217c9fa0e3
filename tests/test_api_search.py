"""Searching, counting, order statistics, scans and scatter updates (issue 16) against NumPy
in float64, gradients against finite differences, PyTorch's errors."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import deepseek as ds
from test_api_ops import T, arr, close, fd_check

SMALL = settings(max_examples=15)


@SMALL
@given(n=st.integers(1, 12), m=st.integers(0, 8), seed=st.integers(0, 2**16), right=st.booleans())
def test_searchsorted_and_bucketize(n, m, seed, right):
    rng = np.random.default_rng(seed)
    seq = np.sort(rng.integers(-5, 5, n)).astype(np.float64)
    v = rng.integers(-6, 6, m).astype(np.float64)
    side = "right" if right else "left"
    got = ds.searchsorted(T(seq), T(v), right=right)
    assert got.tolist() == np.searchsorted(seq, v, side=side).tolist() and got.dtype == ds.int64
    assert ds.searchsorted(T(seq), T(v), side=side, out_int32=True).dtype == ds.int32
    assert ds.bucketize(T(v), T(seq), right=right).tolist() == np.searchsorted(seq, v, side=side).tolist()
    # batched: one sorted row per row of values
    s2 = np.sort(rng.normal(size=(3, n)), 1)
    v2 = rng.normal(size=(3, 4))
    ref = np.stack([np.searchsorted(s2[i], v2[i], side=side) for i in range(3)])
    assert ds.searchsorted(T(s2), T(v2), right=right).tolist() == ref.tolist()


def test_searchsorted_errors_and_sorter():
    with pytest.raises(RuntimeError, match="side and right can't be set to opposites"):
        ds.searchsorted(T([1.0]), T([1.0]), right=True, side="left")
    with pytest.raises(RuntimeError, match="boundaries tensor should be 1 dimension"):
        ds.searchsorted(T(np.zeros((2, 3))), T(np.zeros((3, 1))))
    with pytest.raises(RuntimeError, match="boundaries tensor must be 1 dimension"):
        ds.bucketize(T([1.0]), T(np.zeros((2, 2))))
    seq = np.array([3.0, 1.0, 2.0])
    srt = np.argsort(seq)
    assert ds.searchsorted(T(seq), T([2.5]), sorter=ds.tensor(srt)).tolist() == [2]
    assert ds.searchsorted(T([1.0, 2.0]), 1.5).tolist() == 1


@SMALL
@given(shape=st.lists(st.integers(0, 5), min_size=1, max_size=3), seed=st.integers(0, 2**16))
def test_unique_against_numpy(shape, seed):
    a = np.random.default_rng(seed).integers(-3, 3, shape)
    vals, inv, cnt = ds.unique(ds.tensor(a), return_inverse=True, return_counts=True)
    nv, ni, nc = np.unique(a, return_inverse=True, return_counts=True)
    assert vals.tolist() == nv.tolist() and cnt.tolist() == nc.tolist()
    assert inv.tolist() == ni.reshape(a.shape).tolist()
    if a.ndim == 2 and a.shape[0] > 0:
        v, i, c = ds.unique(ds.tensor(a), dim=0, return_inverse=True, return_counts=True)
        rv, ri, rc = np.unique(a, axis=0, return_inverse=True, return_counts=True)
        assert v.tolist() == rv.tolist() and i.tolist() == ri.reshape(-1).tolist() and c.tolist() == rc.tolist()


def test_unique_consecutive():
    x = ds.tensor([1, 1, 2, 2, 3, 1, 1, 2])
    v, i, c = ds.unique_consecutive(x, return_inverse=True, return_counts=True)
    assert v.tolist() == [1, 2, 3, 1, 2] and c.tolist() == [2, 2, 1, 2, 1]
    assert i.tolist() == [0, 0, 1, 1, 2, 3, 3, 4]


def test_counting():
    a = np.random.default_rng(0).integers(0, 7, 30)
    w = arr(1, (30,))
    assert ds.bincount(ds.tensor(a)).tolist() == np.bincount(a).tolist()
    assert ds.bincount(ds.tensor(a), minlength=12).tolist() == np.bincount(a, minlength=12).tolist()
    close(ds.bincount(ds.tensor(a), T(w)), np.bincount(a, w))
    assert ds.bincount(ds.tensor(a), ds.tensor(w, dtype=ds.float32)).dtype == ds.float32
    with pytest.raises(RuntimeError, match="non-negative"):
        ds.bincount(ds.tensor([-1, 2]))
    with pytest.raises(RuntimeError, match="1-d"):
        ds.bincount(ds.tensor([[1]]))
    x = arr(2, (50,), -2, 2)
    close(ds.histc(T(x), bins=7, min=-1, max=1.5), np.histogram(x[(x >= -1) & (x <= 1.5)], 7, (-1, 1.5))[0])
    h, e = ds.histogram(T(x), 5)
    nh, ne = np.histogram(x, 5)
    close(h, nh)
    close(e, ne)
    m = np.array([[0.0, 1.0, 0.0], [2.0, 0.0, 3.0]])
    assert ds.count_nonzero(T(m)).tolist() == 3 and ds.count_nonzero(T(m), dim=0).tolist() == [1, 1, 1]
    assert ds.isin(ds.tensor([1, 2, 3, 4]), ds.tensor([2, 4])).tolist() == [False, True, False, True]
    assert ds.isin(ds.tensor([1, 2]), ds.tensor([2]), invert=True).tolist() == [True, False]


@SMALL
@given(shape=st.lists(st.integers(1, 5), min_size=1, max_size=3), seed=st.integers(0, 2**16), dim=st.integers(-1, 2))
def test_order_statistics(shape, seed, dim):
    a = arr(seed, shape)
    d = dim % len(shape)
    close(ds.median(T(a)), np.sort(a.reshape(-1))[(a.size - 1) // 2])
    v, i = ds.median(T(a), d)
    ref = np.take(np.sort(a, d), (shape[d] - 1) // 2, d)
    close(v, ref)
    close(np.take_along_axis(a, np.expand_dims(i.numpy(), d), d).squeeze(d), ref)
    q = np.array([0.0, 0.25, 0.6, 1.0])
    for interp in ("linear", "lower", "higher", "midpoint", "nearest"):
        close(ds.quantile(T(a), T(q), d, interpolation=interp), np.quantile(a, q, axis=d, method=interp))
    close(ds.quantile(T(a), 0.3, d, keepdim=True), np.quantile(a, 0.3, axis=d, keepdims=True))
    cv, ci = ds.cummax(T(a), d)
    close(cv, np.maximum.accumulate(a, d))
    close(np.take_along_axis(a, ci.numpy(), d), cv.numpy())
    close(ds.cummin(T(a), d)[0], np.minimum.accumulate(a, d))
    close(ds.logcumsumexp(T(a * 30), d), np.logaddexp.accumulate(a * 30, d))
    mn, mx = ds.aminmax(T(a), dim=d)
    close(mn, a.min(d))
    close(mx, a.max(d))
    close(ds.msort(T(a)), np.sort(a, 0))


def test_nan_handling_of_order_statistics():
    a = np.array([[1.0, np.nan, 3.0, 2.0], [4.0, 0.0, 2.0, 1.0]])
    close(ds.nanmedian(T(a), 1)[0], [2.0, 1.0])
    assert np.isnan(ds.median(T(a), 1)[0].numpy()[0])
    close(ds.nanquantile(T(a), 0.5, 1), np.nanquantile(a, 0.5, axis=1))
    close(ds.nansum(T(a)), np.nansum(a))
    close(ds.nanmean(T(a), 1), np.nanmean(a, 1))
    v, i = ds.mode(ds.tensor([[1, 2, 2, 3, 3], [5, 5, 1, 1, 1]]), 1)
    assert v.tolist() == [2, 1]


def test_order_statistic_gradients():
    fd_check(lambda t: ds.median(t, 1)[0], arr(0, (3, 5)))
    fd_check(lambda t: ds.quantile(t, 0.37, 1), arr(1, (2, 6)))
    fd_check(lambda t: ds.cummax(t, 0)[0], arr(2, (6,)))
    fd_check(lambda t: ds.logcumsumexp(t, 1), arr(3, (2, 5)))


def test_scatter_reduce_against_loops():
    rng = np.random.default_rng(5)
    inp = rng.normal(size=(4, 3))
    idx = rng.integers(0, 4, (5, 3))
    src = rng.normal(size=(6, 3))
    red = {"sum": np.add, "prod": np.multiply, "amax": np.maximum, "amin": np.minimum}
    for name in ("sum", "prod", "mean", "amax", "amin"):
        for include_self in (True, False):
            ref = inp.copy()
            seen = {}
            for i in range(5):
                for j in range(3):
                    k = (idx[i, j], j)
                    vals = seen.setdefault(k, [inp[k]] if include_self else [])
                    vals.append(src[i, j])
            for k, vals in seen.items():
                if name == "mean":
                    ref[k] = np.mean(vals)
                else:
                    ref[k] = red[name].reduce(vals)
            got = ds.scatter_reduce(T(inp), 0, ds.tensor(idx), T(src), name, include_self=include_self)
            close(got, ref)
    x = T(inp)
    x.scatter_reduce_(0, ds.tensor(idx), T(src), "amax")
    close(x, ds.scatter_reduce(T(inp), 0, ds.tensor(idx), T(src), "amax"))
    with pytest.raises(RuntimeError, match="reduce argument must be"):
        ds.scatter_reduce(T(inp), 0, ds.tensor(idx), T(src), "max")
    a = rng.normal(size=(5, 3))
    fd_check(lambda t: ds.scatter_reduce(ds.ones(4, 3, dtype=ds.float64), 0, ds.tensor(idx), t, "prod"), a)


def test_index_updates():
    a = arr(0, (4, 3))
    i = ds.tensor([2, 0])
    ref = a.copy()
    ref[:, [2, 0]] = -1.0
    close(ds.index_fill(T(a), 1, i, -1.0), ref)
    src = arr(1, (2, 3))
    ref = a.copy()
    ref[[2, 0]] = src
    close(ds.index_copy(T(a), 0, i, T(src)), ref)
    x = T(a)
    x.index_copy_(0, i, T(src))
    close(x, ref)
    mask = np.array([[True, False, True], [False, False, False], [True, True, False], [False, True, False]])
    s = arr(2, (8,))
    ref = a.copy()
    ref[mask] = s[:mask.sum()]
    close(ds.masked_scatter(T(a), ds.tensor(mask), T(s)), ref)
    ref = a.copy().reshape(-1)
    ref[[1, 5]] = [7.0, 8.0]
    close(ds.put(T(a), ds.tensor([1, 5]), T([7.0, 8.0])), ref.reshape(4, 3))
    ref = a.copy()
    ref[[2, 0]] = np.maximum(ref[[2, 0]], src)
    close(ds.index_reduce(T(a), 0, i, T(src), "amax"), ref)
    n = np.linalg.norm(a, axis=1, keepdims=True)
    close(ds.renorm(T(a), 2, 0, 1.0), np.where(n > 1, a / (n + 1e-7), a))
    with pytest.raises(IndexError):
        ds.index_fill(T(a), 0, ds.tensor([4]), 0.0)
    with pytest.raises(RuntimeError, match="Number of elements of source"):
        ds.masked_scatter(T(a), ds.tensor(mask), T([1.0]))


def test_statistics_and_integration():
    x = arr(0, (3, 10))
    fw = np.random.default_rng(1).integers(1, 4, 10)
    aw = arr(2, (10,), 0.1, 2)
    close(ds.cov(T(x)), np.cov(x))
    close(ds.cov(T(x), correction=0), np.cov(x, bias=True))
    close(ds.cov(T(x), fweights=ds.tensor(fw), aweights=T(aw)), np.cov(x, fweights=fw, aweights=aw))
    close(ds.corrcoef(T(x)), np.corrcoef(x))
    y = arr(3, (4, 7))
    xs = np.sort(arr(4, (7,)))
    close(ds.trapezoid(T(y)), np.trapezoid(y))
    close(ds.trapezoid(T(y), T(xs)), np.trapezoid(y, xs))
    close(ds.trapezoid(T(y), dx=0.5, dim=0), np.trapezoid(y, dx=0.5, axis=0))
    from scipy.integrate import cumulative_trapezoid

    close(ds.cumulative_trapezoid(T(y), T(xs)), cumulative_trapezoid(y, xs))
    fd_check(lambda t: ds.cov(t).sum() * 1.0, arr(5, (2, 5)))


def test_select_slice_diagonal_scatter():
    a = arr(0, (3, 4, 5))
    ref = a.copy()
    ref[:, 2] = arr(1, (3, 5))
    close(ds.select_scatter(T(a), T(arr(1, (3, 5))), 1, -2), ref)
    ref = a.copy()
    ref[..., 1:5:2] = arr(2, (3, 4, 2))
    close(ds.slice_scatter(T(a), T(arr(2, (3, 4, 2))), -1, 1, None, 2), ref)
    for off, d1, d2 in ((0, 0, 1), (1, 1, 2), (-1, 2, 0)):
        diag = np.diagonal(a, off, d1, d2)
        src = arr(3, diag.shape)
        got = ds.diagonal_scatter(T(a), T(src), off, d1, d2)
        close(ds.diagonal(got, off, d1, d2), src)
        # everything off the diagonal is untouched
        back = got.numpy().copy()
        idx = np.indices(a.shape)
        on = (idx[d2] - idx[d1]) == off
        close(back[~on], a[~on])
    with pytest.raises(RuntimeError, match="size equal to the slice"):
        ds.select_scatter(T(a), T(arr(1, (3, 4))), 1, 0)
    fd_check(lambda t: ds.slice_scatter(t, t[:, :1] * 3, 1, 0, 1), arr(4, (2, 3)))


@SMALL
@given(shape=st.lists(st.integers(1, 6), min_size=1, max_size=3), seed=st.integers(0, 2**16))
def test_mode_against_counting(shape, seed):
    a = np.random.default_rng(seed).integers(-2, 3, shape)
    v, i = ds.mode(ds.tensor(a), -1)
    flat = a.reshape(-1, shape[-1])
    want_v, want_i = [], []
    for row in flat:
        vals, cnt = np.unique(row, return_counts=True)
        best = vals[cnt == cnt.max()].min()
        want_v.append(best)
        want_i.append(np.nonzero(row == best)[0].max())
    assert v.reshape(-1).tolist() == want_v and i.reshape(-1).tolist() == want_i
