"""Issue 10 ("no silent wrong results"), the classes fixed in indexing and in narrow dtypes
(the dim arguments and the split family: test_wrong_results_dims.py):

- class 3: a 0-d boolean index (Python bool, NumPy bool, 0-d bool or uint8 tensor) adds a dim
  of size 1 or 0 and is an advanced index like any other; a 0-d integer tensor selects like an int;
- class 5: composites in narrow dtypes (mean, var, std, norm, softmax ... of float16/bfloat16,
  logsumexp of integers) accumulate in float32 as PyTorch does instead of overflowing.

References are NumPy in float64, with PyTorch's documented semantics where they differ from
NumPy's (PyTorch applies ints and 0-d integer tensors as a select before advanced indexing).
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import deepseek as ds
from ops_property_cases import (
    _np_softmax, check, layouts, make, nonempty_shapes as nonempty, round_to, seeds, to_np,
)


# ================================================================ class 3: 0-d boolean indices

def test_zero_dim_bool_tensor_index_adds_a_dim():
    x = ds.arange(6.0).reshape(2, 3)
    a = np.arange(6.0).reshape(2, 3)
    t, f = ds.tensor(True), ds.tensor(False)
    check(x[t], a[None], "float32", exact=True)  # shape (1, 2, 3), not ignored
    check(x[f], a[None][:0], "float32", exact=True)  # shape (0, 2, 3)
    check(x[t, 0], a[None, 0], "float32", exact=True)
    check(x[0, t], a[0][None], "float32", exact=True)
    check(x[..., t], a[..., None], "float32", exact=True)
    check(x[None, t], a[None, None], "float32", exact=True)
    check(ds.tensor(5.0)[t], [5.0], "float32", exact=True)
    # combined with other advanced indices, it broadcasts with them (as NumPy's bool scalars)
    for key in [(True, [0, 1]), ([0, 1], True), (slice(None), True, [0, 2]), (1, True, [0, 2]), (True, True), (True, False)]:
        dkey = tuple(ds.tensor(k) if isinstance(k, bool) else k for k in key)
        check(x[dkey], a[key], "float32", exact=True)
        check(x[key], a[key], "float32", exact=True)  # Python bools behave the same
    with pytest.raises(IndexError, match="shape mismatch"):
        x[f, [0, 1]]  # shapes [0] and [2] do not broadcast
    # the result is a copy, as every advanced index is in PyTorch
    y = x[t]
    y.add_(1)
    check(x, a, "float32", exact=True)


def test_zero_dim_bool_tensor_index_writes():
    a = np.arange(6.0).reshape(2, 3)
    for key, value, expect in [
        (ds.tensor(True), 10.0, np.full((2, 3), 10.0)),
        (ds.tensor(False), 10.0, a),  # nothing selected, nothing written
        (ds.tensor(True), ds.tensor([7.0, 8.0, 9.0]), np.broadcast_to([7.0, 8.0, 9.0], (2, 3))),
        (ds.tensor(False), ds.ones(0, 2, 3), a),
        (False, ds.ones(5), a),  # PyTorch: x[False] = v is a no-op whatever v's shape
        ((0, ds.tensor(True)), ds.tensor([7.0, 8.0, 9.0]), np.array([[7.0, 8.0, 9.0], [3.0, 4.0, 5.0]])),
        ((slice(None), ds.tensor(True), [0, 2]), ds.tensor([[7.0, 8.0], [5.0, 6.0]]), np.array([[7.0, 1.0, 8.0], [5.0, 4.0, 6.0]])),
    ]:
        x = ds.arange(6.0).reshape(2, 3)
        x[key] = value
        check(x, expect, "float32", exact=True)
    x = ds.arange(6.0).reshape(2, 3)
    with pytest.raises(RuntimeError, match="shape mismatch"):
        x[ds.tensor(False)] = ds.ones(5)  # a 0-d tensor goes through index_put_, which checks
    z = ds.tensor(5.0)
    z[ds.tensor(True)] = 3.0
    assert z.item() == 3.0


def test_zero_dim_integer_tensor_index_selects_like_an_int():
    z = ds.arange(24).reshape(2, 3, 4)
    # PyTorch selects first, so the [0, 1] index stays in place: (3, 2), not NumPy's (2, 3)
    assert tuple(z[ds.tensor(1), :, [0, 1]].shape) == (3, 2)
    assert tuple(z[1, :, [0, 1]].shape) == (3, 2)
    check(z[ds.tensor(1), :, [0, 1]], np.arange(24).reshape(2, 3, 4)[1][:, [0, 1]], "int64", exact=True)
    z[ds.tensor(1), :, [0, 1]] = 0
    a = np.arange(24).reshape(2, 3, 4)
    a[1][:, [0, 1]] = 0
    check(z, a, "int64", exact=True)


def test_uint8_index_tensor_is_a_mask():
    x = ds.arange(3.0)
    with pytest.warns(UserWarning, match="uint8"):
        r = x[ds.tensor([1, 0, 1], dtype=ds.uint8)]
    check(r, [0.0, 2.0], "float32", exact=True)
    assert tuple(x[ds.tensor(1, dtype=ds.uint8)].shape) == (1, 3)
    assert tuple(x[ds.tensor(0, dtype=ds.uint8)].shape) == (0, 3)


def torch_index(a, key):
    """``a[key]`` with PyTorch's meaning, computed by NumPy: ints and 0-d integer arrays select
    first (they take no part in advanced indexing); a bool scalar (or 0-d bool/uint8 array)
    is a new dim indexed by [0] or []; the rest is NumPy's advanced indexing, which PyTorch's
    agrees with once only slices, None and arrays of 1 or more dims are left."""
    key = key if isinstance(key, tuple) else (key,)

    def kind(k):
        if isinstance(k, (bool, np.bool_)) or (isinstance(k, np.ndarray) and k.ndim == 0 and k.dtype in (np.bool_, np.uint8)):
            return "bool"
        if isinstance(k, (int, np.integer)) or (isinstance(k, np.ndarray) and k.ndim == 0):
            return "int"
        return type(k).__name__

    consumed = sum(0 if k is None or k is Ellipsis or kind(k) == "bool"
                   else (k.ndim if isinstance(k, np.ndarray) and k.dtype == np.bool_ else 1) for k in key)
    if consumed > a.ndim:
        raise IndexError("too many indices")
    expanded = []
    for k in key:
        expanded.extend([slice(None)] * (a.ndim - consumed) if k is Ellipsis else [k])
    rest, pos = [], 0
    for k in expanded:
        if k is None:
            rest.append(None)
        elif kind(k) == "bool":
            a = np.expand_dims(a, pos)
            rest.append(np.zeros(1 if bool(k) else 0, np.int64))
            pos += 1
        elif kind(k) == "int":
            n = a.shape[pos]
            if not -n <= int(k) < n:
                raise IndexError("index out of range")
            a = np.take(a, int(k), axis=pos)
        else:
            rest.append(k)
            pos += k.ndim if isinstance(k, np.ndarray) and k.dtype == np.bool_ else 1
    return a[tuple(rest)]


@st.composite
def torch_key(draw, shape):
    """(NumPy key, deepseek key): ints, 0-d integer tensors, slices, None, an ellipsis, Python,
    NumPy and tensor 0-d bools (and 0-d uint8), integer arrays as tensors and lists, masks."""
    np_key, ds_key = [], []
    dim, used_ellipsis = 0, False
    for _ in range(draw(st.integers(1, 5))):
        kinds = ["none", "bool", "bool_t", "np_bool", "u8_0d"]
        if dim < len(shape):
            kinds += ["int", "int_t", "slice", "full", "arr", "list", "mask"]
        if not used_ellipsis:
            kinds.append("ellipsis")
        k = draw(st.sampled_from(kinds))
        n = shape[dim] if dim < len(shape) else 0
        if k == "none":
            np_key.append(None), ds_key.append(None)
        elif k in ("bool", "bool_t", "np_bool", "u8_0d"):
            b = draw(st.booleans())
            np_key.append(b)
            ds_key.append({"bool": b, "bool_t": ds.tensor(b), "np_bool": np.bool_(b),
                           "u8_0d": ds.tensor(int(b), dtype=ds.uint8)}[k])
        elif k == "ellipsis":
            used_ellipsis = True
            np_key.append(Ellipsis), ds_key.append(Ellipsis)
            dim = max(dim, len(shape) - draw(st.integers(0, len(shape) - dim)))
        elif k in ("int", "int_t"):
            i = draw(st.integers(-n - 1, n))  # one past either end: both must raise IndexError
            np_key.append(i)
            ds_key.append(i if k == "int" else ds.tensor(i))
            dim += 1
        elif k == "slice":
            s = slice(draw(st.one_of(st.none(), st.integers(-n - 1, n + 1))), draw(st.one_of(st.none(), st.integers(-n - 1, n + 1))),
                      draw(st.one_of(st.none(), st.integers(1, 3))))
            np_key.append(s), ds_key.append(s)
            dim += 1
        elif k == "full":
            np_key.append(slice(None)), ds_key.append(slice(None))
            dim += 1
        elif k in ("arr", "list"):
            ishape = draw(st.sampled_from([(2,), (1, 2), (2, 1), (0,), (3,)] if k == "arr" else [(2,), (1,), (0,)]))
            size = int(np.prod(ishape))
            v = np.asarray(draw(st.lists(st.integers(-n, max(n - 1, -n)), min_size=size, max_size=size)), np.int64).reshape(ishape)
            if n == 0 and size:
                v = np.zeros(ishape, np.int64)  # out of range on an empty dim: an IndexError
            np_key.append(v)
            ds_key.append(ds.tensor(v) if k == "arr" else v.tolist())
            dim += 1
        else:
            k_dims = draw(st.integers(1, len(shape) - dim))
            m = np.asarray(draw(st.lists(st.booleans(), min_size=int(np.prod(shape[dim:dim + k_dims])),
                                         max_size=int(np.prod(shape[dim:dim + k_dims]))))).reshape(shape[dim:dim + k_dims])
            np_key.append(m), ds_key.append(ds.tensor(m))
            dim += k_dims
    return tuple(np_key), tuple(ds_key)


@given(shape=st.lists(st.integers(0, 3), min_size=0, max_size=3).map(tuple), data=st.data(),
       dtype=st.sampled_from(["float32", "int64", "bool"]), layout=layouts, seed=seeds)
@settings(max_examples=150)
def test_indexing_follows_pytorch_semantics(shape, data, dtype, layout, seed):
    """Reads and writes through keys mixing every kind of index agree with PyTorch's rules,
    and a key PyTorch refuses raises IndexError."""
    rng = np.random.default_rng(seed)
    x, a = make(rng, shape, dtype, layout)
    np_key, ds_key = data.draw(torch_key(shape))
    try:
        exp = torch_index(a, np_key)
    except IndexError:
        with pytest.raises(IndexError):
            x[ds_key]
        return
    check(x[ds_key], exp, dtype, exact=True)
    # a write through the same key lands where the read came from (unique targets only, so
    # the result does not depend on the order of the writes)
    pos = torch_index(np.arange(a.size).reshape(a.shape), np_key)
    if np.unique(pos).size != pos.size:
        return
    x = x.clone()
    vt, va = make(rng, exp.shape, dtype, "contig")
    x[ds_key] = vt
    a = a.copy()
    a.reshape(-1)[pos.reshape(-1)] = va.reshape(-1)
    check(x, a, dtype, exact=True)


# ================================================================ class 5: narrow dtypes

def test_logsumexp_of_integers_is_computed_in_float32():
    r = ds.logsumexp(ds.tensor([200, 250], dtype=ds.uint8), 0)
    assert r.dtype == ds.float32
    np.testing.assert_allclose(r.item(), 250.0 + np.log1p(np.exp(-50.0)), rtol=1e-6)  # not inf
    check(ds.logsumexp(ds.tensor([[1, 2], [3, 4]], dtype=ds.int8), 1), np.log(np.exp([1, 3]) + np.exp([2, 4])), "float32")
    check(ds.logsumexp(ds.tensor([True, False]), 0), np.log(np.e + 1.0), "float32")


def test_var_std_of_half_types_do_not_overflow():
    h = ds.tensor([250.0, -250.0, 0.0], dtype=ds.float16)  # squares fit, their sum does not
    check(ds.var(h), 62500.0, "float16")
    check(ds.std(h), 250.0, "float16")
    v, m = ds.var_mean(h)
    check(v, 62500.0, "float16")
    check(m, 0.0, "float16")
    s, m = ds.std_mean(h.to(ds.bfloat16), 0, keepdim=True)
    check(s, [250.0], "bfloat16")
    check(m, [0.0], "bfloat16")
    # a result past the dtype's range is still inf, as in PyTorch (float32 result, then rounded)
    assert ds.var(ds.tensor([1000.0, -1000.0], dtype=ds.float16)).item() == float("inf")


def test_mean_norm_softmax_of_half_types_do_not_overflow():
    check(ds.full((100,), 1000.0, dtype=ds.float16).mean(), 1000.0, "float16")
    check(ds.norm(ds.full((10,), 300.0, dtype=ds.float16)), np.sqrt(10) * 300.0, "float16")
    check(ds.norm(ds.full((10,), 300.0, dtype=ds.float16), 3), 10 ** (1 / 3) * 300.0, "float16")
    check(ds.nn.functional.gelu(ds.tensor([-50.0, 50.0], dtype=ds.float16), approximate="tanh"), [0.0, 50.0], "float16")
    x = ds.tensor([1000.0, 1001.0, 1003.0], dtype=ds.float16)
    e = np.exp(np.array([0.0, 1.0, 3.0]))
    check(ds.softmax(x, 0), e / e.sum(), "float16")
    check(ds.log_softmax(x, 0), np.log(e / e.sum()), "float16")
    # gradients flow back in the input's dtype
    for f in (lambda t: ds.softmax(t, 0), lambda t: ds.var(t), lambda t: ds.mean(t), lambda t: ds.norm(t)):
        t = ds.tensor([1.0, 2.0, 4.0], dtype=ds.float16, requires_grad=True)
        y = f(t)
        y = (y * ds.tensor([1.0, 2.0, 3.0], dtype=ds.float16)).sum() if y.ndim else y
        y.backward()
        assert t.grad.dtype == ds.float16 and bool(ds.isfinite(t.grad).all())


def test_non_floating_inputs_raise_where_pytorch_does():
    i = ds.tensor([3, 4])
    for f, name in [(ds.var, "var"), (ds.std, "std"), (ds.var_mean, "var_mean"), (ds.norm, "norm")]:
        with pytest.raises(RuntimeError, match=name):
            f(i)
    with pytest.raises(RuntimeError, match="softmax"):
        ds.softmax(i, 0)
    with pytest.raises(RuntimeError, match="logaddexp"):
        ds.logaddexp(i, i)
    check(ds.softmax(i, 0, dtype=ds.float64), np.exp([3, 4]) / np.exp([3, 4]).sum(), "float64")


NARROW = {
    # name: (call(x, dim), reference(a, axis) in float64, dtypes)
    "mean": (lambda x, d: ds.mean(x, d), lambda a, d: np.mean(a, axis=d), ["float16", "bfloat16"]),
    "var": (lambda x, d: ds.var(x, d), lambda a, d: np.var(a, axis=d, ddof=1), ["float16", "bfloat16"]),
    "std": (lambda x, d: ds.std(x, d, correction=0), lambda a, d: np.std(a, axis=d), ["float16", "bfloat16"]),
    "var_mean": (lambda x, d: ds.var_mean(x, d)[0], lambda a, d: np.var(a, axis=d, ddof=1), ["float16", "bfloat16"]),
    "std_mean": (lambda x, d: ds.std_mean(x, d)[1], lambda a, d: np.mean(a, axis=d), ["float16", "bfloat16"]),
    "norm": (lambda x, d: ds.norm(x, 2, d), lambda a, d: np.sqrt(np.sum(a * a, axis=d)), ["float16", "bfloat16"]),
    "norm3": (lambda x, d: ds.norm(x, 3, d), lambda a, d: np.sum(np.abs(a) ** 3, axis=d) ** (1 / 3), ["float16", "bfloat16"]),
    "softmax": (lambda x, d: ds.softmax(x, d), _np_softmax, ["float16", "bfloat16"]),
    "log_softmax": (lambda x, d: ds.log_softmax(x, d), lambda a, d: np.log(_np_softmax(a, d)), ["float16", "bfloat16"]),
    "logsumexp": (lambda x, d: ds.logsumexp(x, d),
                  lambda a, d: np.log(np.sum(np.exp(a - a.max(axis=d, keepdims=True)), axis=d)) + a.max(axis=d),
                  ["uint8", "int8", "int16", "bool"]),
}


def check_ulps(actual, expected, dtype, ulps, atol=0.0):
    """``actual`` has ``dtype`` and is within ``ulps`` units in the last place (of ``dtype``) of
    ``expected``, plus ``atol``; infinities and NaN must match exactly."""
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.dtype.name == dtype and tuple(actual.shape) == expected.shape, (actual.dtype, actual.shape, expected.shape)
    got = to_np(actual)
    finite = np.isfinite(expected)
    np.testing.assert_array_equal(got[~finite], expected[~finite])
    mag = np.abs(expected[finite])
    if dtype == "bfloat16":  # 8 significant bits; the smallest normal is float32's
        spacing = np.exp2(np.floor(np.log2(np.maximum(mag, 2.0 ** -126))) - 7)
    else:
        spacing = np.spacing(mag.astype(dtype)).astype(np.float64)
    err = np.abs(got[finite] - expected[finite])
    assert np.all(err <= ulps * spacing + atol), (got[finite], expected[finite], err / spacing)


@pytest.mark.parametrize("name", sorted(NARROW))
@given(shape=nonempty, data=st.data(), layout=layouts, seed=seeds)
@settings(max_examples=25)
def test_narrow_dtype_composites_match_a_float64_reference(name, shape, data, layout, seed):
    """Values whose squares, sums or exponentials overflow the dtype: the result is the float64
    reference rounded once to the result dtype (so within one unit in the last place of it;
    inf only where that rounding overflows), as PyTorch's float32 accumulation gives."""
    call, ref, dtypes = NARROW[name]
    dtype = data.draw(st.sampled_from(dtypes))
    d = data.draw(st.integers(-len(shape), len(shape) - 1))
    rng = np.random.default_rng(seed)
    lo, hi = {"float16": (-400, 400), "bfloat16": (-3e3, 3e3), "uint8": (0, 255), "int8": (-128, 127),
              "int16": (-300, 300), "bool": (0, 1)}[dtype]
    if name in ("mean", "std_mean") and dtype == "float16":
        lo, hi = 2e4, 6e4  # the sum overflows, the mean does not
    if name in ("softmax", "log_softmax"):
        lo, hi = lo / 20, hi / 20  # differences past ~15 underflow exp either way
    x, a = make(rng, shape, dtype, layout, lo, hi)
    out = "float32" if dtype not in ("float16", "bfloat16") else dtype
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exp = np.asarray(ref(a, d), dtype=np.float64)
        exp = np.where(np.isinf(round_to(exp, out)), round_to(exp, out), exp)  # past the dtype's range
    if name in ("var", "var_mean") and shape[d] == 1:
        exp = np.full(exp.shape, np.nan)
    # the float64 value rounded to the dtype is 0.5 ulp away; float32 arithmetic and the one
    # rounding add at most about another half (float32 results: a few float32 roundings), and
    # float32 arithmetic on inputs of magnitude M is M * 2**-24 off near zero
    atol = 2.0 ** -22 * max(1.0, float(np.abs(a).max(initial=0.0)))
    check_ulps(call(x, d), exp, out, 1 if out != "float32" else 8, atol)
