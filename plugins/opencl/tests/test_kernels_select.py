"""The OpenCL gather, scatter, index, sort and topk kernels against NumPy, through
``Backend.launch`` on uploaded buffers (the conventions: test_kernels.py)."""
from __future__ import annotations

import numpy as np
import pytest

from kernel_checks import rev, rounded
from ocl_helpers import FLOATS, to_storage

RNG = np.random.default_rng(1234)


# --- gather, scatter, indexing -----------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["float32", "int64", "bool", "bfloat16"])
def test_gather_and_index_select(dev, dtype):
    a = RNG.integers(0, 9, size=(4, 5))
    idx = RNG.integers(0, 5, size=(3, 5))
    out = dev.empty((3, 5), dtype)
    dev.launch("gather", [out, dev.value(a, dtype, rev), dev.value(idx, "int64")], [1])
    want = np.take_along_axis(rev(a)[:3], idx, axis=1)
    np.testing.assert_array_equal(dev.values(out), rounded(want, dtype))
    sel = np.array([3, 0, 0, 2, 1, 3])
    out = dev.empty((6, 5), dtype)
    dev.launch("index_select", [out, dev.value(a, dtype), dev.value(sel, "int64", rev)], [0])
    np.testing.assert_array_equal(dev.values(out), rounded(a[rev(sel)], dtype))
    out = dev.empty((4, 2), dtype)
    dev.launch("index_select", [out, dev.value(a, dtype), dev.value([4, 1], "int64")], [-1])
    np.testing.assert_array_equal(dev.values(out), rounded(a[:, [4, 1]], dtype))


@pytest.mark.parametrize("dtype", ["float32", "int32", "float16"])
def test_scatter_and_scatter_add_with_duplicates(dev, dtype):
    x = RNG.integers(-5, 5, size=(3, 6)).astype(np.float64)
    idx = np.array([[0, 1, 0, 5], [2, 2, 2, 2], [5, 4, 3, 5]])
    src = RNG.integers(-5, 5, size=(3, 4)).astype(np.float64)
    for op in ("scatter", "scatter_add"):
        out = dev.empty((3, 6), dtype)
        dev.launch(op, [out, dev.value(x, dtype), dev.value(idx, "int64"), dev.value(src, dtype, rev)], [1])
        want = x.copy()
        rs = rev(src)
        for i in range(3):
            for j in range(4):  # the CPU's order: the last write wins
                if op == "scatter":
                    want[i, idx[i, j]] = rs[i, j]
                else:
                    want[i, idx[i, j]] += rs[i, j]
        np.testing.assert_array_equal(dev.values(out), want, err_msg=op)
    # dim 0, in place (out aliases x)
    base = to_storage(x, dtype)
    t = dev.put(base, dtype=dtype)
    dev.launch("scatter_add", [t, t, dev.value([[2, 0, 2, 2, 1, 0]], "int64"), dev.value(np.ones((1, 6)), dtype)], [0])
    want = x.copy()
    for j, r in enumerate([2, 0, 2, 2, 1, 0]):
        want[r, j] += 1
    np.testing.assert_array_equal(dev.values(t), want)


@pytest.mark.parametrize("dtype", ["float32", "int64", "bfloat16"])
def test_index_add_duplicates(dev, dtype):
    x = RNG.integers(-5, 5, size=(5, 3)).astype(np.float64)
    idx = np.array([4, 0, 4, 4, 1])
    src = RNG.integers(-5, 5, size=(5, 3)).astype(np.float64)
    out = dev.empty((5, 3), dtype)
    dev.launch("index_add", [out, dev.value(x, dtype, rev), dev.value(idx, "int64"), dev.value(src, dtype)], [0])
    want = rev(x).copy()
    np.add.at(want, idx, src)
    np.testing.assert_array_equal(dev.values(out), want)
    out = dev.empty((5, 3), dtype)
    dev.launch("index_add", [out, dev.value(x, dtype), dev.value([2, 2], "int64"), dev.value(src[:, :2], dtype)], [1])
    want = x.copy()
    want[:, 2] += src[:, 0] + src[:, 1]
    np.testing.assert_array_equal(dev.values(out), want)


def test_index_advanced(dev):
    a = RNG.standard_normal((4, 5, 3))
    i0 = np.array([[3, 0], [1, 1]])
    i1 = np.array([[4, 2], [0, 4]])
    out = dev.empty((2, 2, 3), "float32")
    dev.launch("index", [out, dev.value(a, "float32", rev), dev.value(i0, "int64"), dev.value(i1, "int64", rev)])
    np.testing.assert_array_equal(dev.values(out), rev(rounded(a, "float32"))[i0, rev(i1)])
    out = dev.empty((3, 5, 3), "float32")
    dev.launch("index", [out, dev.value(a, "float32"), dev.value([2, 2, 0], "int64")])
    np.testing.assert_array_equal(dev.values(out), rounded(a, "float32")[[2, 2, 0]])
    out = dev.empty((2,), "int32")
    ai = RNG.integers(0, 100, size=(2, 3, 4))
    dev.launch("index", [out, dev.value(ai, "int32"), dev.value([1, 0], "int64"), dev.value([2, 2], "int64"),
                         dev.value([3, 0], "int64")])
    np.testing.assert_array_equal(dev.get(out), ai[[1, 0], [2, 2], [3, 0]])


@pytest.mark.parametrize("accumulate", [False, True])
def test_index_put(dev, accumulate):
    x = RNG.integers(-5, 5, size=(4, 3)).astype(np.float64)
    rows = np.array([1, 3, 1])
    vals = RNG.integers(-5, 5, size=(3, 3)).astype(np.float64)
    out = dev.empty((4, 3), "float32")
    dev.launch("index_put", [out, dev.value(x, "float32"), dev.value(vals, "float32", rev), dev.value(rows, "int64")],
               [accumulate])
    want = x.copy()
    rv = rev(vals)
    for j, r in enumerate(rows):
        want[r] = want[r] + rv[j] if accumulate else rv[j]
    np.testing.assert_array_equal(dev.values(out), want)
    # full indexing (no trailing dims), duplicates, values broadcast with stride 0
    out = dev.empty((4, 3), "int64")
    r, c = np.array([0, 2, 0]), np.array([1, 2, 1])
    dev.launch("index_put", [out, dev.value(x, "int64"), dev.value([7], "int64", lambda v: np.broadcast_to(v, (3,))),
                             dev.value(r, "int64"), dev.value(c, "int64")], [accumulate])
    want = x.astype(np.int64)
    for i, j in zip(r, c):
        want[i, j] = want[i, j] + 7 if accumulate else 7
    np.testing.assert_array_equal(dev.get(out), want)


# --- sort and topk -------------------------------------------------------------------------------

def ref_sort(a, axis, descending):
    """Stable sort with NaN as the largest value (the CPU core's order)."""
    f = a.astype(np.float64)
    nan = np.isnan(f).astype(np.int8)
    keys = np.where(nan, 0.0, f)
    order = np.lexsort((-keys, -nan) if descending else (keys, nan), axis=axis)
    return np.take_along_axis(a, order, axis=axis), order


@pytest.mark.parametrize("dtype", ["float32", "int32", "float16", "uint8"])
@pytest.mark.parametrize("descending", [False, True])
def test_sort(dev, dtype, descending):
    a = RNG.integers(0, 6, size=(3, 9)).astype(np.float64)
    if dtype in FLOATS:
        a[0, 2] = a[1, 5] = a[1, 7] = np.nan
    x = dev.value(a, dtype, rev)
    ra = rev(rounded(a, dtype))
    for dim in (0, 1):
        vals = dev.empty(ra.shape, dtype)
        idx = dev.empty(ra.shape, "int64")
        dev.launch("sort", [vals, idx, x], [dim, descending])
        wv, wi = ref_sort(ra, dim, descending)
        np.testing.assert_array_equal(dev.get(idx), wi)
        np.testing.assert_array_equal(dev.values(vals), wv)


@pytest.mark.parametrize("dtype,n", [("float32", 5000), ("int64", 1500), ("bfloat16", 3000)])
def test_long_sort_and_topk_merge_passes(dev, dtype, n):
    a = RNG.integers(-40, 40, size=(3, n)).astype(np.float64)  # many ties
    if dtype in FLOATS:
        a[0, ::7] = np.nan
    x = dev.value(a, dtype, lambda v: v.T)  # sorted dim 0 of a (n, 3) strided view
    ra = rounded(a, dtype).T
    for descending in (False, True):
        vals, idx = dev.empty((n, 3), dtype), dev.empty((n, 3), "int64")
        dev.launch("sort", [vals, idx, x], [0, descending])
        wv, wi = ref_sort(ra, 0, descending)
        np.testing.assert_array_equal(dev.get(idx), wi)
        np.testing.assert_array_equal(dev.values(vals), wv)
    vals, idx = dev.empty((10, 3), dtype), dev.empty((10, 3), "int64")
    dev.launch("topk", [vals, idx, x], [10, 0, True])
    wv, wi = ref_sort(ra, 0, True)
    np.testing.assert_array_equal(dev.get(idx), wi[:10])


def test_topk(dev):
    a = np.array([[1.0, 5.0, 3.0, 5.0, np.nan, -2.0], [0.0, 0.0, 1.0, -1.0, 2.0, 2.0]])
    for largest in (True, False):
        vals = dev.empty((2, 3), "float32")
        idx = dev.empty((2, 3), "int64")
        dev.launch("topk", [vals, idx, dev.value(a, "float32")], [3, 1, largest])
        wv, wi = ref_sort(a.astype(np.float32), 1, largest)
        np.testing.assert_array_equal(dev.get(idx), wi[:, :3])
        np.testing.assert_array_equal(dev.values(vals), wv[:, :3])
    vals, idx = dev.empty((), "float32"), dev.empty((), "int64")
    dev.launch("sort", [vals, idx, dev.value(np.array(4.0), "float32")], [0, False])
    assert dev.values(vals) == 4.0 and dev.get(idx) == 0
    vals, idx = dev.empty((2, 0), "float32"), dev.empty((2, 0), "int64")
    dev.launch("topk", [vals, idx, dev.value(a, "float32")], [0, 1, True])
