"""Property tests of assembly and selection (cat, split, gather/scatter, index ops, masks,
sort, tril, repeat, pad, one_hot) against NumPy in float64 (how inputs and references are
drawn: test_ops_property.py)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import deepseek as ds
from ops_property_cases import (
    ALL, FLOATS, INTS, TOL, _NP, broadcast_pair, check, layouts, make, nonempty_shapes, round_to, seeds,
    small_shapes, to_np,
)


# ---------------------------------------------------------------- assembly and selection

@given(data=st.data(), dtype=st.sampled_from(ALL), seed=seeds, n=st.integers(1, 3))
@settings(max_examples=50)
def test_cat_stack(data, dtype, seed, n):
    shape = data.draw(nonempty_shapes)
    nd = len(shape)
    dim = data.draw(st.integers(-nd, nd - 1))
    rng = np.random.default_rng(seed)
    ts, arrs = [], []
    for _ in range(n):
        s = list(shape)
        s[dim] = data.draw(st.integers(0, 3))
        t, a = make(rng, s, dtype, data.draw(layouts))
        ts.append(t)
        arrs.append(a)
    check(ds.cat(ts, dim), np.concatenate(arrs, axis=dim), dtype, exact=True)
    same = [make(rng, shape, dtype, data.draw(layouts)) for _ in range(n)]
    sdim = data.draw(st.integers(-nd - 1, nd))
    check(ds.stack([p[0] for p in same], sdim), np.stack([p[1] for p in same], axis=sdim), dtype, exact=True)


@given(shape=nonempty_shapes, data=st.data(), seed=seeds, layout=layouts)
@settings(max_examples=40)
def test_split_chunk_unbind(shape, data, seed, layout):
    nd = len(shape)
    dim = data.draw(st.integers(-nd, nd - 1))
    rng = np.random.default_rng(seed)
    x, a = make(rng, shape, "float32", layout)
    size = data.draw(st.integers(1, 4))
    n = shape[dim]
    parts = ds.split(x, size, dim)
    ref = np.split(a, list(range(size, n, size)), axis=dim)
    assert len(parts) == len(ref)
    for p, e in zip(parts, ref):
        check(p, e, "float32", exact=True)
    sizes = data.draw(st.lists(st.integers(0, 3), min_size=1, max_size=3))
    if sum(sizes) == n:
        parts = ds.split(x, sizes, dim)
        ref = np.split(a, np.cumsum(sizes)[:-1].tolist(), axis=dim)
        for p, e in zip(parts, ref):
            check(p, e, "float32", exact=True)
    else:
        with pytest.raises(RuntimeError, match="split"):
            ds.split(x, sizes, dim)
    chunks = data.draw(st.integers(1, 5))
    parts = ds.chunk(x, chunks, dim)
    step = -(-n // chunks)
    ref = np.split(a, list(range(step, n, step)), axis=dim)
    assert len(parts) == len(ref) and len(parts) <= chunks
    for p, e in zip(parts, ref):
        check(p, e, "float32", exact=True)
    parts = ds.unbind(x, dim)
    assert len(parts) == n
    for i, p in enumerate(parts):
        check(p, np.take(a, i, axis=dim), "float32", exact=True)


@given(shape=nonempty_shapes, data=st.data(), dtype=st.sampled_from(ALL), seed=seeds, layout=layouts)
@settings(max_examples=40)
def test_gather_scatter(shape, data, dtype, seed, layout):
    nd = len(shape)
    dim = data.draw(st.integers(-nd, nd - 1))
    d = dim % nd
    rng = np.random.default_rng(seed)
    x, a = make(rng, shape, dtype, layout, -3, 3)
    ishape = [data.draw(st.integers(0, s)) for s in shape]
    ishape[d] = data.draw(st.integers(0, 4))
    idx = rng.integers(0, shape[d], size=ishape)
    it = ds.tensor(idx)
    check(ds.gather(x, dim, it), np.take_along_axis(a[tuple(slice(0, s) if i != d else slice(None) for i, s in enumerate(ishape))], idx, axis=d), dtype, exact=True)
    # scatter / scatter_add: src has the index's shape
    src_t, src = make(rng, ishape, dtype, "contig", -3, 3)
    exp_add = a.copy()
    exp_set = a.copy()
    order = []
    for pos in np.ndindex(*ishape):
        tgt = list(pos)
        tgt[d] = idx[pos]
        exp_add[tuple(tgt)] += src[pos]
        order.append(tuple(tgt))
    if dtype != "bool":
        r = ds.scatter_add(x, dim, it, src_t)
        check(r, round_to(exp_add, dtype) if dtype in FLOATS else exp_add.astype(_NP[dtype]).astype(np.float64), dtype,
              rtol=TOL.get(dtype, (0, 0))[0] * 4, atol=TOL.get(dtype, (0, 0))[1] * 4, exact=dtype not in FLOATS)
    # with duplicate targets scatter keeps one of the written values: check unique positions only
    uniq = {t for t in order if order.count(t) == 1}
    r = ds.scatter(x, dim, it, src_t)
    got = to_np(r)
    for pos in np.ndindex(*ishape):
        tgt = list(pos)
        tgt[d] = idx[pos]
        if tuple(tgt) in uniq:
            assert got[tuple(tgt)] == src[pos]
    untouched = np.ones(shape, bool)
    for t in order:
        untouched[t] = False
    np.testing.assert_array_equal(got[untouched], a[untouched])
    r = ds.scatter(x, dim, it, value=1.0 if dtype in FLOATS else 1)
    got = to_np(r)
    for t in order:
        assert got[t] == 1


@given(shape=nonempty_shapes, data=st.data(), dtype=st.sampled_from(ALL), seed=seeds, layout=layouts)
@settings(max_examples=40)
def test_index_select_add(shape, data, dtype, seed, layout):
    nd = len(shape)
    dim = data.draw(st.integers(-nd, nd - 1))
    d = dim % nd
    rng = np.random.default_rng(seed)
    x, a = make(rng, shape, dtype, layout, -3, 3)
    idx = rng.integers(0, shape[d], size=data.draw(st.integers(0, 5)))
    check(ds.index_select(x, dim, ds.tensor(idx, dtype=ds.int64)), np.take(a, idx, axis=d), dtype, exact=True)
    if dtype == "bool":
        return
    sshape = list(shape)
    sshape[d] = len(idx)
    st_, s = make(rng, sshape, dtype, "contig", -3, 3)
    exp = a.copy()
    for j, i in enumerate(idx):
        sl = [slice(None)] * nd
        sl[d] = i
        sj = [slice(None)] * nd
        sj[d] = j
        exp[tuple(sl)] += s[tuple(sj)]
    r = ds.index_add(x, dim, ds.tensor(idx, dtype=ds.int64), st_)
    if dtype in INTS:
        exp = exp.astype(_NP[dtype]).astype(np.float64)
    check(r, exp, dtype, rtol=TOL.get(dtype, (0, 0))[0] * 4, atol=TOL.get(dtype, (0, 0))[1] * 4, exact=dtype not in FLOATS)


@given(shapes=broadcast_pair(), dtype=st.sampled_from(ALL), seed=seeds, layout=layouts)
@settings(max_examples=40)
def test_masked_fill_select_nonzero(shapes, dtype, seed, layout):
    rng = np.random.default_rng(seed)
    sx, sm = shapes
    bshape = np.broadcast_shapes(sx, sm)
    if tuple(bshape) != tuple(sx):
        sx = tuple(bshape)
    x, a = make(rng, sx, dtype, layout)
    m, mask = make(rng, sm, "bool", "contig")
    mask = mask.astype(bool)
    val = True if dtype == "bool" else 7
    check(ds.masked_fill(x, m, val), np.where(mask, float(val), a), dtype, exact=True)
    check(x.masked_fill(m, ds.tensor(val)), np.where(mask, float(val), a), dtype, exact=True)
    check(ds.masked_select(x, m), np.broadcast_to(a, bshape)[np.broadcast_to(mask, bshape)], dtype, exact=True)
    nz = ds.nonzero(x)
    check(nz, np.argwhere(a != 0), "int64", exact=True)
    tup = ds.nonzero(x, as_tuple=True)
    exp = np.nonzero(a) if a.ndim else (np.arange(int(a != 0)),)
    assert len(tup) == len(exp)
    for t, e in zip(tup, exp):
        check(t, e, "int64", exact=True)


@given(shape=nonempty_shapes, data=st.data(), dtype=st.sampled_from(ALL[1:]), seed=seeds, layout=layouts, desc=st.booleans())
@settings(max_examples=50)
def test_sort_argsort_topk(shape, data, dtype, seed, layout, desc):
    nd = len(shape)
    dim = data.draw(st.integers(-nd, nd - 1))
    rng = np.random.default_rng(seed)
    x, a = make(rng, shape, dtype, layout, -3, 3)
    v, i = ds.sort(x, dim, descending=desc)
    # stable sort: ties keep their original order
    key = -a if desc else a
    order = np.argsort(key, axis=dim, kind="stable")
    check(i, order, "int64", exact=True)
    check(v, np.take_along_axis(a, order, axis=dim), dtype, exact=True)
    check(ds.argsort(x, dim, descending=desc), order, "int64", exact=True)
    k = data.draw(st.integers(0, shape[dim]))
    largest = data.draw(st.booleans())
    tv, ti = ds.topk(x, k, dim, largest=largest)
    ref = np.sort(a, axis=dim)
    ref = np.flip(ref, axis=dim) if largest else ref
    check(tv, np.take(ref, range(k), axis=dim), dtype, exact=True)
    # the indices point at the values
    check(ds.gather(x, dim, ti), to_np(tv), dtype, exact=True)
    with pytest.raises(RuntimeError, match="topk|k"):
        ds.topk(x, shape[dim] + 1, dim)


@given(shape=st.lists(st.integers(0, 4), min_size=2, max_size=3).map(tuple), diag=st.integers(-4, 4), dtype=st.sampled_from(ALL), seed=seeds, layout=layouts)
@settings(max_examples=40)
def test_tril_triu(shape, diag, dtype, seed, layout):
    rng = np.random.default_rng(seed)
    x, a = make(rng, shape, dtype, layout)
    check(ds.tril(x, diag), np.tril(a, diag), dtype, exact=True)
    check(ds.triu(x, diag), np.triu(a, diag), dtype, exact=True)


@given(shape=small_shapes, data=st.data(), dtype=st.sampled_from(ALL), seed=seeds, layout=layouts)
@settings(max_examples=40)
def test_repeat_tile_interleave(shape, data, dtype, seed, layout):
    rng = np.random.default_rng(seed)
    x, a = make(rng, shape, dtype, layout)
    nd = len(shape)
    reps = data.draw(st.lists(st.integers(0, 3), min_size=nd, max_size=nd + 2))
    check(x.repeat(*reps) if reps else x.repeat(()), np.tile(a, reps) if reps else a, dtype, exact=True)
    treps = data.draw(st.lists(st.integers(0, 3), min_size=0, max_size=nd + 1))
    check(ds.tile(x, treps), np.tile(a, treps), dtype, exact=True)
    r = data.draw(st.integers(0, 3))
    check(ds.repeat_interleave(x, r), np.repeat(a, r), dtype, exact=True)
    if nd:
        dim = data.draw(st.integers(-nd, nd - 1))
        rr = data.draw(st.lists(st.integers(0, 3), min_size=shape[dim], max_size=shape[dim]))
        check(ds.repeat_interleave(x, ds.tensor(rr, dtype=ds.int64), dim), np.repeat(a, rr, axis=dim), dtype, exact=True)


@given(shape=nonempty_shapes, data=st.data(), dtype=st.sampled_from(ALL), seed=seeds, layout=layouts)
@settings(max_examples=40)
def test_pad(shape, data, dtype, seed, layout):
    rng = np.random.default_rng(seed)
    x, a = make(rng, shape, dtype, layout)
    nd = len(shape)
    npairs = data.draw(st.integers(1, nd))
    pads = data.draw(st.lists(st.integers(0, 2), min_size=2 * npairs, max_size=2 * npairs))
    value = data.draw(st.sampled_from([0, 1, 3]))
    width = [(0, 0)] * (nd - npairs) + [(pads[2 * i], pads[2 * i + 1]) for i in range(npairs)][::-1]
    r = ds._ops.pad(x, pads, value=value)
    check(r, np.pad(a, width, constant_values=float(value != 0) if dtype == "bool" else value), dtype, exact=True)


@given(shape=small_shapes, n=st.integers(0, 5), seed=seeds, layout=layouts)
@settings(max_examples=30)
def test_one_hot(shape, n, seed, layout):
    rng = np.random.default_rng(seed)
    n = max(n, 1)
    x, a = make(rng, shape, "int64", layout, 0, n - 1)
    check(ds._ops.one_hot(x, n), np.eye(n)[a.astype(int)], "int64", exact=True)
    if a.size:
        check(ds._ops.one_hot(x), np.eye(int(a.max()) + 1)[a.astype(int)], "int64", exact=True)
        with pytest.raises(RuntimeError):
            ds._ops.one_hot(x, int(a.max()))
