"""Views (metadata only, sharing storage) and indexing, read and write, against NumPy."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import deepseek as ds
from ops_property_cases import ALL, check, layouts, make, seeds, to_np

shapes = st.lists(st.integers(0, 4), min_size=0, max_size=4).map(tuple)
nonempty = st.lists(st.integers(1, 4), min_size=1, max_size=4).map(tuple)


def shares_storage(a, b):
    return a._storage_ptr() == b._storage_ptr()


# ---------------------------------------------------------------- views

@given(shape=shapes, data=st.data(), dtype=st.sampled_from(ALL), layout=layouts, seed=seeds)
@settings(max_examples=60)
def test_reshape_view_flatten(shape, data, dtype, layout, seed):
    rng = np.random.default_rng(seed)
    x, a = make(rng, shape, dtype, layout)
    n = a.size
    # a random factorisation of n, with one dim given as -1
    new = []
    rest = n
    for _ in range(data.draw(st.integers(0, 3))):
        f = data.draw(st.sampled_from([d for d in range(1, 5) if rest % d == 0] or [1]))
        new.append(f)
        rest //= f
    new.append(rest)
    if n and data.draw(st.booleans()):
        new[data.draw(st.integers(0, len(new) - 1))] = -1
    r = x.reshape(*new) if new else x.reshape(())
    check(r, a.reshape(new), dtype, exact=True)
    if x.is_contiguous():
        v = x.view(*new)
        assert shares_storage(v, x)
        check(v, a.reshape(new), dtype, exact=True)
    check(ds.flatten(x), a.reshape(-1), dtype, exact=True)
    if len(shape) >= 2:
        s = data.draw(st.integers(0, len(shape) - 1))
        e = data.draw(st.integers(s, len(shape) - 1))
        exp = a.reshape(shape[:s] + (int(np.prod(shape[s:e + 1])),) + shape[e + 1:])
        check(ds.flatten(x, s, e), exp, dtype, exact=True)
        f = ds.flatten(x, s, e)
        check(ds.unflatten(f, s, shape[s:e + 1]), a, dtype, exact=True)


def test_view_of_non_contiguous_raises():
    x = ds.arange(6).reshape(2, 3).t()
    with pytest.raises(RuntimeError, match="view"):
        x.view(6)
    check(x.reshape(6), np.arange(6).reshape(2, 3).T.reshape(6), "int64", exact=True)
    with pytest.raises(RuntimeError):
        ds.arange(6).reshape(4, -1)
    with pytest.raises(RuntimeError):
        ds.arange(6).reshape(-1, -1)


@given(shape=shapes, data=st.data(), dtype=st.sampled_from(ALL), layout=layouts, seed=seeds)
@settings(max_examples=60)
def test_permute_transpose(shape, data, dtype, layout, seed):
    rng = np.random.default_rng(seed)
    x, a = make(rng, shape, dtype, layout)
    nd = len(shape)
    perm = data.draw(st.permutations(list(range(nd))))
    p = x.permute(*perm) if perm else x.permute(())
    check(p, a.transpose(perm), dtype, exact=True)
    assert shares_storage(p, x)
    check(x.T, a.T, dtype, exact=True) if nd != 2 or True else None
    if nd >= 1:
        d0 = data.draw(st.integers(-nd, nd - 1))
        d1 = data.draw(st.integers(-nd, nd - 1))
        check(x.transpose(d0, d1), np.swapaxes(a, d0, d1), dtype, exact=True)
    if nd >= 2:
        check(x.mT, np.swapaxes(a, -1, -2), dtype, exact=True)
    if nd <= 2:
        check(x.t(), a.T, dtype, exact=True)
    else:
        with pytest.raises(RuntimeError):
            x.t()


@given(shape=shapes, data=st.data(), dtype=st.sampled_from(ALL), layout=layouts, seed=seeds)
@settings(max_examples=60)
def test_expand_squeeze_unsqueeze(shape, data, dtype, layout, seed):
    rng = np.random.default_rng(seed)
    nd = len(shape)
    small = tuple(1 if data.draw(st.booleans()) else s for s in shape)
    x, a = make(rng, small, dtype, layout)
    lead = tuple(data.draw(st.lists(st.integers(0, 3), max_size=2)))
    target = lead + shape
    e = x.expand(*target) if target else x.expand(())
    check(e, np.broadcast_to(a, target), dtype, exact=True)
    assert shares_storage(e, x)
    # -1 keeps a size
    if nd:
        check(x.expand(*([-1] * nd)), a, dtype, exact=True)
    check(x.squeeze(), np.squeeze(a), dtype, exact=True)
    if nd:
        d = data.draw(st.integers(-nd, nd - 1))
        check(x.squeeze(d), np.squeeze(a, d) if small[d] == 1 else a, dtype, exact=True)
    d = data.draw(st.integers(-nd - 1, nd))
    check(x.unsqueeze(d), np.expand_dims(a, d), dtype, exact=True)
    # an expand that changes a non-1 size is an error
    if any(s > 1 for s in small):
        bad = tuple(s + 1 if s > 1 else s for s in small)
        with pytest.raises(RuntimeError, match="expand"):
            x.expand(*bad)


@given(shape=nonempty, data=st.data(), dtype=st.sampled_from(ALL), layout=layouts, seed=seeds)
@settings(max_examples=60)
def test_narrow_flip(shape, data, dtype, layout, seed):
    rng = np.random.default_rng(seed)
    x, a = make(rng, shape, dtype, layout)
    nd = len(shape)
    d = data.draw(st.integers(-nd, nd - 1))
    start = data.draw(st.integers(0, shape[d]))
    length = data.draw(st.integers(0, shape[d] - start))
    n = ds.narrow(x, d, start, length)
    check(n, np.take(a, range(start, start + length), axis=d), dtype, exact=True)
    assert shares_storage(n, x)
    with pytest.raises((IndexError, RuntimeError)):
        ds.narrow(x, d, start, shape[d] - start + 1)
    dims = data.draw(st.lists(st.integers(0, nd - 1), unique=True, max_size=nd))
    f = ds.flip(x, dims)
    check(f, np.flip(a, dims) if dims else a, dtype, exact=True)
    assert shares_storage(f, x)


@given(shape=nonempty, data=st.data(), seed=seeds)
@settings(max_examples=40)
def test_writes_through_views(shape, data, seed):
    rng = np.random.default_rng(seed)
    x, a = make(rng, shape, "float64", "contig")
    nd = len(shape)
    kind = data.draw(st.sampled_from(["permute", "flip", "slice", "narrow", "unsqueeze"]))
    if kind == "permute":
        perm = data.draw(st.permutations(list(range(nd))))
        v, av = x.permute(*perm), a.transpose(perm)
    elif kind == "flip":
        v, av = x.flip(0), a[::-1]
    elif kind == "slice":
        v, av = x[..., ::2], a[..., ::2]
    elif kind == "narrow":
        v, av = x.narrow(0, 0, 1), a[0:1]
    else:
        v, av = x.unsqueeze(0), a[None]
    v.mul_(2.0)
    av *= 2.0
    check(x, a, "float64", exact=True)
    v.fill_(3.0)
    av[...] = 3.0
    check(x, a, "float64", exact=True)


# ---------------------------------------------------------------- basic indexing

@st.composite
def basic_key(draw, shape):
    key = []
    dim = 0
    used_ellipsis = False
    while dim < len(shape) and draw(st.booleans()):
        kind = draw(st.sampled_from(["int", "slice", "none", "ellipsis"]))
        if kind == "ellipsis" and not used_ellipsis:
            used_ellipsis = True
            key.append(Ellipsis)
            # the rest of the key indexes the trailing dims
            rest = draw(st.integers(0, len(shape) - dim))
            dim = len(shape) - rest
            continue
        if kind == "none":
            key.append(None)
            continue
        n = shape[dim]
        if kind == "int" and n > 0:
            key.append(draw(st.integers(-n, n - 1)))
        else:
            start = draw(st.one_of(st.none(), st.integers(-n - 2, n + 2)))
            stop = draw(st.one_of(st.none(), st.integers(-n - 2, n + 2)))
            step = draw(st.one_of(st.none(), st.integers(1, 3)))
            key.append(slice(start, stop, step))
        dim += 1
    return tuple(key)


@given(shape=shapes, data=st.data(), dtype=st.sampled_from(ALL), layout=layouts, seed=seeds)
@settings(max_examples=100)
def test_basic_indexing_read_write(shape, data, dtype, layout, seed):
    rng = np.random.default_rng(seed)
    x, a = make(rng, shape, dtype, layout)
    key = data.draw(basic_key(shape))
    r = x[key]
    check(r, a[key], dtype, exact=True)
    if len(key) == 1:
        check(x[key[0]], a[key[0]], dtype, exact=True)
    # writing a scalar and a broadcast tensor through the same key
    x = x.clone()
    a = a.copy()
    x[key] = 1
    a[key] = 1
    check(x, a, dtype, exact=True)
    tgt = a[key].shape
    vt, va = make(rng, tgt[1:] if tgt else (), dtype, "contig")
    x[key] = vt
    a[key] = va
    check(x, a, dtype, exact=True)


def test_indexing_errors():
    x = ds.zeros(2, 3)
    with pytest.raises(IndexError):
        x[2]
    with pytest.raises(IndexError):
        x[0, -4]
    with pytest.raises(IndexError):
        x[0, 0, 0]
    with pytest.raises(IndexError):
        x[..., ...]
    with pytest.raises(IndexError):
        x[ds.tensor([0, 5])]
    with pytest.raises(IndexError):
        x[ds.tensor([-3])]
    with pytest.raises(IndexError):
        x[ds.tensor([0.5])]
    with pytest.raises(IndexError):
        x[ds.tensor([True, False, True])]
    with pytest.raises(ValueError):
        x[::-1]
    with pytest.raises(TypeError):
        x["a"]
    with pytest.raises(IndexError):
        x[ds.tensor([0, 7])] = 1.0
    with pytest.raises(RuntimeError):
        x[0] = ds.zeros(4)


# ---------------------------------------------------------------- advanced indexing

@st.composite
def advanced_key(draw, shape):
    """A key mixing integer arrays (broadcasting among themselves), slices, ints, None and
    a boolean mask, on dims adjacent or separated."""
    key = []
    for d, n in enumerate(shape):
        kind = draw(st.sampled_from(["arr", "slice", "int", "full"]))
        if kind == "arr":
            ishape = draw(st.sampled_from([(), (2,), (1, 2), (2, 1), (0,)]))
            key.append(np.asarray(draw(st.lists(st.integers(-n, n - 1), min_size=int(np.prod(ishape)), max_size=int(np.prod(ishape))))).reshape(ishape).astype(np.int64))
        elif kind == "slice":
            key.append(slice(draw(st.integers(0, n)), None, draw(st.integers(1, 2))))
        elif kind == "int":
            key.append(draw(st.integers(-n, n - 1)))
        else:
            key.append(slice(None))
    if draw(st.booleans()):
        key.insert(draw(st.integers(0, len(key))), None)
    return tuple(key)


def _ds_key(key, as_list=False):
    out = []
    for k in key:
        if isinstance(k, np.ndarray):
            out.append(k.tolist() if as_list and k.ndim == 1 else ds.tensor(k, dtype=ds.int64))
        else:
            out.append(k)
    return tuple(out)


@given(shape=nonempty, data=st.data(), dtype=st.sampled_from(ALL), layout=layouts, seed=seeds)
@settings(max_examples=120)
def test_advanced_indexing_read_write(shape, data, dtype, layout, seed):
    rng = np.random.default_rng(seed)
    x, a = make(rng, shape, dtype, layout)
    key = data.draw(advanced_key(shape))
    if not any(isinstance(k, np.ndarray) for k in key):
        key = (np.zeros((1,), np.int64),) + key[1:] if not isinstance(key[0], type(None)) else key
    try:
        exp = a[key]
    except IndexError:
        return
    r = x[_ds_key(key)]
    check(r, exp, dtype, exact=True)
    if any(isinstance(k, np.ndarray) and k.ndim == 1 for k in key):
        check(x[_ds_key(key, as_list=True)], exp, dtype, exact=True)
    # write: unique targets only, so the result does not depend on write order
    idx = np.arange(a.size).reshape(a.shape)[key]
    if np.unique(idx).size != idx.size:
        return
    x = x.clone()
    a = a.copy()
    vt, va = make(rng, exp.shape, dtype, "perm")
    x[_ds_key(key)] = vt
    a[key] = va
    check(x, a, dtype, exact=True)
    x[_ds_key(key)] = 0
    a[key] = 0
    check(x, a, dtype, exact=True)


@given(shape=nonempty, data=st.data(), dtype=st.sampled_from(ALL), layout=layouts, seed=seeds)
@settings(max_examples=80)
def test_boolean_mask_indexing(shape, data, dtype, layout, seed):
    rng = np.random.default_rng(seed)
    x, a = make(rng, shape, dtype, layout)
    nd = len(shape)
    k = data.draw(st.integers(1, nd))
    start = data.draw(st.integers(0, nd - k))
    mask = rng.random(shape[start:start + k]) < 0.5
    key = (slice(None),) * start + (mask,)
    mt = ds.tensor(mask)
    dkey = (slice(None),) * start + (mt,)
    check(x[dkey], a[key], dtype, exact=True)
    if start == 0:
        check(x[mt], a[mask], dtype, exact=True)
        check(ds.masked_select(x, mt), a[mask], dtype, exact=True) if k == nd else None
    x = x.clone()
    a = a.copy()
    x[dkey] = 5
    a[key] = 1 if dtype == "bool" else 5
    check(x, a, dtype, exact=True)
    vt, va = make(rng, a[key].shape, dtype, "contig")
    x[dkey] = vt
    a[key] = va
    check(x, a, dtype, exact=True)
    # a 0-d boolean index adds a dim of size 1 or 0
    check(x[True], a[True], dtype, exact=True)
    check(x[False], a[False], dtype, exact=True)


def test_index_put_accumulate_duplicates():
    x = ds.zeros(5, dtype=ds.float64)
    x.index_put_((ds.tensor([0, 1, 1, 4, 1]),), ds.tensor([1.0, 2.0, 3.0, 4.0, 5.0], dtype=ds.float64), accumulate=True)
    check(x, [1.0, 10.0, 0.0, 0.0, 4.0], "float64", exact=True)
    y = ds.zeros(2, 3, dtype=ds.int64)
    y.index_put_((ds.tensor([0, 0]), ds.tensor([2, 2])), ds.tensor(3), accumulate=True)
    check(y, [[0, 0, 6], [0, 0, 0]], "int64", exact=True)


def test_tensor_index_scalar_and_numpy_keys():
    x = ds.arange(12).reshape(3, 4)
    a = np.arange(12).reshape(3, 4)
    check(x[ds.tensor(1)], a[1], "int64", exact=True)
    check(x[np.array([2, 0])], a[np.array([2, 0])], "int64", exact=True)
    check(x[np.array([True, False, True])], a[np.array([True, False, True])], "int64", exact=True)
    check(x[[0, 2], 1:], a[[0, 2], 1:], "int64", exact=True)
    check(x[1, [3, 0]], a[1, [3, 0]], "int64", exact=True)
