"""Property tests of the reductions, softmax and the matmul family against NumPy in float64
(how inputs and references are drawn: test_ops_property.py)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import deepseek as ds
from ops_property_cases import (
    ALL, FLOATS, TOL, check, layouts, make, nonempty_shapes, seeds, small_shapes, to_np,
)


# ---------------------------------------------------------------- reductions

@st.composite
def reduce_case(draw, nonempty=False):
    shape = draw(nonempty_shapes if nonempty else small_shapes)
    nd = len(shape)
    if nd == 0:
        dim = draw(st.sampled_from([None, (), 0, -1]))
    else:
        dim = draw(st.one_of(
            st.none(),
            st.integers(-nd, nd - 1),
            st.lists(st.integers(0, nd - 1), min_size=1, max_size=nd, unique=True).map(tuple),
        ))
    keepdim = draw(st.booleans())
    return shape, dim, keepdim


def np_axis(dim, nd):
    if dim is None or dim == ():
        return None
    if isinstance(dim, int):
        return dim % max(nd, 1) if nd else None
    return tuple(d % nd for d in dim)


@pytest.mark.parametrize("name", ["sum", "mean", "prod", "amax", "amin", "logsumexp", "norm", "var", "std"])
@settings(max_examples=30)
@given(case=reduce_case(), dtype=st.sampled_from(ALL), layout=layouts, seed=seeds, correction=st.sampled_from([0, 1, 2]))
def test_reductions(name, case, dtype, layout, seed, correction):
    shape, dim, keepdim = case
    nd = len(shape)
    axis = np_axis(dim, nd)
    rng = np.random.default_rng(seed)
    lo, hi = (-1.5, 1.5) if name == "prod" else (-3, 3)
    x, a = make(rng, shape, dtype, layout, lo, hi)
    fdt = dtype in FLOATS
    reduced_n = a.size if axis is None else int(np.prod([shape[d] for d in np.atleast_1d(axis)])) if nd else 1
    if name in ("mean", "var", "std", "logsumexp", "norm") and not fdt:
        if name in ("mean", "var", "std"):
            with pytest.raises(RuntimeError, match=name if name == "mean" else "mean"):
                getattr(ds, name)(x, dim, keepdim=keepdim) if name != "var" and name != "std" else getattr(ds, name)(x, dim, keepdim=keepdim)
        return
    if name in ("amax", "amin") and reduced_n == 0 and a.size == 0:
        with pytest.raises((RuntimeError, IndexError)):
            getattr(ds, name)(x, dim if dim is not None else (), keepdim)
        return
    kw = dict(keepdims=keepdim)
    with np.errstate(all="ignore"):
        if name == "sum":
            r = ds.sum(x, dim, keepdim)
            exp = np.sum(a, axis=axis, **kw)
            out_dt = dtype if fdt else "int64"
        elif name == "mean":
            r = ds.mean(x, dim, keepdim)
            exp = np.mean(a, axis=axis, **kw)
            out_dt = dtype
        elif name == "prod":
            r = ds.prod(x, dim, keepdim) if dim is None or isinstance(dim, int) else None
            if r is None:
                return
            exp = np.prod(a, axis=axis, **kw)
            out_dt = dtype if fdt else "int64"
        elif name in ("amax", "amin"):
            r = getattr(ds, name)(x, () if dim is None else dim, keepdim)
            exp = (np.max if name == "amax" else np.min)(a, axis=axis, **kw)
            out_dt = dtype
        elif name == "logsumexp":
            d = dim if dim is not None else tuple(range(nd))
            r = ds.logsumexp(x, d, keepdim)
            m = np.max(a, axis=axis, keepdims=True, initial=-np.inf)
            m = np.where(np.isfinite(m), m, 0)
            exp = np.log(np.sum(np.exp(a - m), axis=axis, keepdims=True)) + m
            if not keepdim:
                exp = exp.reshape(np.sum(a, axis=axis).shape)
            out_dt = dtype
        elif name == "norm":
            r = ds.norm(x, 2, dim, keepdim)
            exp = np.sqrt(np.sum(a * a, axis=axis, **kw))
            out_dt = dtype
        else:
            r = getattr(ds, name)(x, dim, correction=correction, keepdim=keepdim)
            v = np.sum((a - np.mean(a, axis=axis, keepdims=True)) ** 2, axis=axis, **kw) / max(reduced_n - correction, 0)
            exp = v if name == "var" else np.sqrt(v)
            out_dt = dtype
    if dtype == "bool" and name in ("amax", "amin"):
        exp = exp.astype(bool)
    rtol, atol = TOL.get(out_dt, (0, 0))
    if out_dt in ("float16", "bfloat16"):
        atol *= 2 + reduced_n / 4
        rtol *= 2
    check(r, exp, out_dt, rtol=rtol, atol=atol, exact=out_dt not in FLOATS)


@pytest.mark.parametrize("name", ["max", "min"])
@given(shape=nonempty_shapes, data=st.data(), dtype=st.sampled_from(ALL), layout=layouts, keepdim=st.booleans(), seed=seeds)
@settings(max_examples=40)
def test_max_min_with_indices(name, shape, data, dtype, layout, keepdim, seed):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    rng = np.random.default_rng(seed)
    x, a = make(rng, shape, dtype, layout, -2, 2)  # small range: ties are common
    v, i = getattr(ds, name)(x, dim, keepdim)
    npf = np.max if name == "max" else np.min
    npa = np.argmax if name == "max" else np.argmin
    check(v, npf(a, axis=dim, keepdims=keepdim), dtype, exact=True)
    check(i, npa(a, axis=dim, keepdims=keepdim), "int64", exact=True)  # the first extreme
    r = getattr(ds, name)(x, dim=dim, keepdim=keepdim)
    assert r.values.shape == v.shape and r.indices.shape == i.shape
    # argmax / argmin agree, also over the flattened tensor
    ia = (ds.argmax if name == "max" else ds.argmin)(x, dim, keepdim)
    check(ia, npa(a, axis=dim, keepdims=keepdim), "int64", exact=True)
    check((ds.argmax if name == "max" else ds.argmin)(x), npa(a), "int64", exact=True)
    check(getattr(ds, name)(x), npf(a), dtype, exact=True)


def test_max_of_empty_raises():
    with pytest.raises((RuntimeError, IndexError)):
        ds.max(ds.zeros(0))
    with pytest.raises((RuntimeError, IndexError)):
        ds.argmax(ds.zeros(2, 0), 1)
    v, i = ds.max(ds.zeros(0, 3), 1)
    assert tuple(v.shape) == (0,) and tuple(i.shape) == (0,)


@pytest.mark.parametrize("name", ["all", "any"])
@given(case=reduce_case(), dtype=st.sampled_from(ALL), layout=layouts, seed=seeds)
@settings(max_examples=30)
def test_all_any(name, case, dtype, layout, seed):
    shape, dim, keepdim = case
    if isinstance(dim, tuple):
        dim = dim[0] if dim else None
    rng = np.random.default_rng(seed)
    x, a = make(rng, shape, dtype, layout, -1, 1)
    r = getattr(ds, name)(x, dim, keepdim)
    exp = getattr(np, name)(a != 0, axis=np_axis(dim, len(shape)), keepdims=keepdim)
    if dtype == "uint8":  # PyTorch keeps uint8 (0 or 1) for uint8 input
        check(r, exp.astype(np.uint8), "uint8", exact=True)
    else:
        check(r, exp, "bool", exact=True)


@pytest.mark.parametrize("name", ["cumsum", "cumprod"])
@given(shape=small_shapes, data=st.data(), dtype=st.sampled_from(ALL), layout=layouts, seed=seeds)
@settings(max_examples=30)
def test_cumulative(name, shape, data, dtype, layout, seed):
    nd = len(shape)
    dim = data.draw(st.integers(-max(nd, 1), max(nd, 1) - 1))
    rng = np.random.default_rng(seed)
    x, a = make(rng, shape, dtype, layout, -1.5, 1.5)
    r = getattr(ds, name)(x, dim)
    exp = getattr(np, name)(a.reshape(a.shape or (1,)), axis=dim).reshape(a.shape)
    out_dt = dtype if dtype in FLOATS else "int64"
    rtol, atol = TOL.get(out_dt, (0, 0))
    check(r, exp, out_dt, rtol=rtol * 4, atol=atol * 4, exact=out_dt == "int64")


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@given(shape=small_shapes, data=st.data(), dtype=st.sampled_from(FLOATS), layout=layouts, seed=seeds)
@settings(max_examples=30)
def test_softmax(name, shape, data, dtype, layout, seed):
    nd = len(shape)
    dim = data.draw(st.integers(-max(nd, 1), max(nd, 1) - 1))
    rng = np.random.default_rng(seed)
    x, a = make(rng, shape, dtype, layout, -20, 20)
    r = getattr(ds, name)(x, dim)
    ax = dim % max(nd, 1) if nd else None
    aa = a if nd else a.reshape(())
    m = np.max(aa, axis=ax, keepdims=True, initial=-np.inf) if aa.size else 0
    lse = np.log(np.sum(np.exp(aa - m), axis=ax, keepdims=True)) + m
    exp = aa - lse if name == "log_softmax" else np.exp(aa - lse)
    rtol, atol = TOL[dtype]
    check(r, exp, dtype, rtol=rtol * 4, atol=atol * (40 if name == "log_softmax" else 4))


# ---------------------------------------------------------------- matmul family

@st.composite
def matmul_shapes(draw):
    m, k, n = draw(st.integers(0, 4)), draw(st.integers(0, 4)), draw(st.integers(0, 4))
    case = draw(st.sampled_from(["1x1", "2x1", "1x2", "2x2", "nx1", "1xn", "batch", "bcast"]))
    batch = tuple(draw(st.lists(st.integers(0, 3), min_size=1, max_size=2)))
    if case == "1x1":
        return (k,), (k,)
    if case == "2x1":
        return (m, k), (k,)
    if case == "1x2":
        return (k,), (k, n)
    if case == "2x2":
        return (m, k), (k, n)
    if case == "nx1":
        return batch + (m, k), (k,)
    if case == "1xn":
        return (k,), batch + (k, n)
    if case == "batch":
        return batch + (m, k), batch + (k, n)
    other = tuple(1 if draw(st.booleans()) else b for b in batch)
    sa, sb = batch + (m, k), other[1:] + (k, n)
    return (sa, sb) if draw(st.booleans()) else (other + (m, k), batch[-1:] + (k, n))


@given(shapes=matmul_shapes(), dtype=st.sampled_from(FLOATS + ["int64", "int32"]), la=layouts, lb=layouts, seed=seeds)
@settings(max_examples=80)
def test_matmul(shapes, dtype, la, lb, seed):
    rng = np.random.default_rng(seed)
    x, a = make(rng, shapes[0], dtype, la, -2, 2)
    y, b = make(rng, shapes[1], dtype, lb, -2, 2)
    r = ds.matmul(x, y)
    exp = np.matmul(a, b)
    rtol, atol = TOL.get(dtype, (0, 0))
    k = shapes[0][-1]
    check(r, exp, dtype, rtol=rtol * 2, atol=atol * (1 + k), exact=dtype not in FLOATS)
    np.testing.assert_array_equal(to_np(x @ y), to_np(r))


@given(m=st.integers(0, 4), k=st.integers(0, 4), n=st.integers(0, 4), b=st.integers(0, 3), dtype=st.sampled_from(FLOATS), seed=seeds)
@settings(max_examples=30)
def test_mm_bmm(m, k, n, b, dtype, seed):
    rng = np.random.default_rng(seed)
    x, a = make(rng, (m, k), dtype, "perm")
    y, c = make(rng, (k, n), dtype, "step")
    rtol, atol = TOL[dtype]
    check(ds.mm(x, y), a @ c, dtype, rtol=rtol * 2, atol=atol * (1 + 5 * k))
    x, a = make(rng, (b, m, k), dtype, "expand")
    y, c = make(rng, (b, k, n), dtype, "perm")
    check(ds.bmm(x, y), a @ c, dtype, rtol=rtol * 2, atol=atol * (1 + 5 * k))
    with pytest.raises(RuntimeError, match="mm"):
        ds.mm(ds.zeros(2, 3), ds.zeros(3))
    with pytest.raises(RuntimeError, match="bmm"):
        ds.bmm(ds.zeros(2, 2, 3), ds.zeros(2, 4, 3))


EINSUM = [
    ("ij,jk->ik", [(2, 3), (3, 4)]),
    ("ij,jk", [(2, 3), (3, 4)]),
    ("bij,bjk->bik", [(2, 2, 3), (2, 3, 1)]),
    ("i,i->", [(4,), (4,)]),
    ("i,j->ij", [(3,), (2,)]),
    ("ij->ji", [(2, 3)]),
    ("ij->", [(2, 3)]),
    ("ij->j", [(2, 3)]),
    ("bhqd,bhkd->bhqk", [(1, 2, 3, 4), (1, 2, 2, 4)]),
    ("ij,jk,kl->il", [(2, 3), (3, 2), (2, 2)]),
    ("ij,ij->i", [(0, 3), (0, 3)]),
]


@pytest.mark.parametrize("eq,shapes", EINSUM)
@given(seed=seeds, dtype=st.sampled_from(["float32", "float64"]), layout=layouts)
@settings(max_examples=8)
def test_einsum(eq, shapes, seed, dtype, layout):
    rng = np.random.default_rng(seed)
    pairs = [make(rng, s, dtype, layout) for s in shapes]
    r = ds.einsum(eq, *[p[0] for p in pairs])
    exp = np.einsum(eq, *[p[1] for p in pairs])
    check(r, exp, dtype, rtol=TOL[dtype][0] * 4, atol=TOL[dtype][1] * 20)
