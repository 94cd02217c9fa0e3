"""The numeric top-level helpers (``gradient``, ``histogramdd``, ``kaiser_window``, ``poisson``,
``binomial``, ``nonzero_static``, ``rsub``, ``promote_types`` ...) against NumPy/SciPy in float64."""
from __future__ import annotations

import array

import numpy as np
import pytest
import scipy.signal
import scipy.stats
from hypothesis import given, settings, strategies as st

import deepseek
from deepseek.autograd import gradcheck


def T(a, rg=False, dtype=np.float64):
    return deepseek.tensor(np.asarray(a, dtype=dtype), requires_grad=rg)


def npy(t):
    return np.asarray(t.detach())


# ---------------- gradient ----------------

@settings(max_examples=30)
@given(st.lists(st.integers(3, 6), min_size=1, max_size=3), st.integers(1, 2), st.data())
def test_gradient_matches_numpy(shape, edge_order, data):
    rng = np.random.default_rng(len(shape) * 7 + edge_order)
    x = rng.standard_normal(shape)
    kind = data.draw(st.sampled_from(["default", "scalar", "per_dim", "coords", "one_dim"]))
    if kind == "default":
        got, want = deepseek.gradient(T(x), edge_order=edge_order), np.gradient(x, edge_order=edge_order)
    elif kind == "scalar":
        got, want = deepseek.gradient(T(x), spacing=0.5, edge_order=edge_order), np.gradient(x, 0.5, edge_order=edge_order)
    elif kind == "per_dim":
        h = [0.5 + i for i in range(len(shape))]
        got, want = deepseek.gradient(T(x), spacing=h, edge_order=edge_order), np.gradient(x, *h, edge_order=edge_order)
    elif kind == "coords":
        cs = [np.cumsum(rng.random(n) + 0.1) for n in shape]
        got = deepseek.gradient(T(x), spacing=[T(c) for c in cs], edge_order=edge_order)
        want = np.gradient(x, *cs, edge_order=edge_order)
    else:
        d = data.draw(st.integers(-len(shape), len(shape) - 1))
        got, want = deepseek.gradient(T(x), dim=d, edge_order=edge_order), np.gradient(x, axis=d, edge_order=edge_order)
    want = [want] if isinstance(want, np.ndarray) else want
    assert isinstance(got, tuple) and len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_allclose(npy(g), w, rtol=1e-10, atol=1e-12)


def test_gradient_is_differentiable_and_checks_arguments():
    x = T(np.random.default_rng(1).standard_normal((4, 5)), True)
    c = T(np.cumsum(np.random.default_rng(2).random(5) + 0.2))
    assert gradcheck(lambda x: deepseek.gradient(x, spacing=[2.0, c], edge_order=2), (x,))
    assert npy(deepseek.gradient(deepseek.tensor([1, 4, 9]))[0]).dtype == np.float32   # integers: the default float
    with pytest.raises(RuntimeError, match="edge_order"):
        deepseek.gradient(x, edge_order=3)
    with pytest.raises(RuntimeError, match="at least edge_order"):
        deepseek.gradient(T([1.0, 2.0]), edge_order=2)
    with pytest.raises(RuntimeError, match="same length"):
        deepseek.gradient(x, spacing=[1.0, 2.0, 3.0])


# ---------------- histogramdd ----------------

@settings(max_examples=25)
@given(st.integers(0, 40), st.integers(1, 3), st.integers(1, 5), st.booleans(), st.booleans(), st.booleans())
def test_histogramdd_matches_numpy(n, D, nb, with_range, weighted, density):
    rng = np.random.default_rng(n * 31 + D * 7 + nb)
    x = rng.standard_normal((n, D))
    rg = [(-1.0, 1.5)] * D if with_range else None
    w = rng.random(n) if weighted else None
    if density and n == 0:
        return   # 0/0: NumPy warns and gives NaN, as deepseek does
    h, e = deepseek.histogramdd(T(x), [nb] * D, range=None if rg is None else [v for p in rg for v in p],
                                weight=None if w is None else T(w), density=density)
    if n == 0 and not with_range:
        rg = [(0.0, 1.0)] * D   # NumPy's default extent for no data
    hr, er = np.histogramdd(x, bins=[nb] * D, range=rg, weights=w, density=density)
    np.testing.assert_allclose(npy(h), hr, rtol=1e-10, atol=1e-12)
    if n or with_range:
        for a, b in zip(e, er):
            np.testing.assert_allclose(npy(a), b, rtol=1e-12, atol=1e-12)


def test_histogramdd_edges_tensors_and_errors():
    x = np.array([[0.0, 0.0], [1.0, 1.0], [0.5, 0.2], [2.0, 0.0]])
    ex, ey = np.array([0.0, 0.4, 1.0]), np.array([0.0, 0.5, 1.0, 3.0])
    h, _ = deepseek.histogramdd(T(x), [T(ex), T(ey)])
    np.testing.assert_array_equal(npy(h), np.histogramdd(x, bins=[ex, ey])[0])
    with pytest.raises(RuntimeError, match="histogramdd"):
        deepseek.histogramdd(T(x), [2, 2, 2])
    with pytest.raises(RuntimeError, match="floating"):
        deepseek.histogramdd(deepseek.tensor([[1, 2]]), 2)


# ---------------- windows ----------------

@pytest.mark.parametrize("n", [0, 1, 2, 5, 16])
@pytest.mark.parametrize("periodic", [True, False])
@pytest.mark.parametrize("beta", [0.0, 3.0, 12.0])
def test_kaiser_window_matches_scipy(n, periodic, beta):
    w = deepseek.kaiser_window(n, periodic, beta, dtype=deepseek.float64)
    ref = scipy.signal.windows.kaiser(n, beta, sym=not periodic) if n > 1 else np.ones(n)
    np.testing.assert_allclose(npy(w), ref, rtol=1e-12, atol=1e-15)
    assert deepseek.kaiser_window(4).dtype == deepseek.float32


# ---------------- samplers ----------------

def test_poisson_distribution_and_seed():
    rates = T(np.repeat([0.0, 0.5, 4.0, 60.0], 4000).reshape(4, 4000))
    deepseek.manual_seed(3)
    a = deepseek.poisson(rates)
    deepseek.manual_seed(3)
    b = deepseek.poisson(rates)
    np.testing.assert_array_equal(npy(a), npy(b))   # the deepseek seed decides the draw
    s = npy(a)
    assert a.dtype == deepseek.float64 and (s == np.floor(s)).all() and (s[0] == 0).all()
    for row, lam in zip(s[1:], [0.5, 4.0, 60.0]):
        # a chi-square goodness of fit over the central values (fixed seed: deterministic)
        k = np.arange(int(lam + 4 * np.sqrt(lam)) + 1)
        obs = np.array([(row == v).sum() for v in k] + [(row > k[-1]).sum()])
        p = np.append(scipy.stats.poisson.pmf(k, lam), scipy.stats.poisson.sf(k[-1], lam))
        keep = p * row.size > 5
        assert scipy.stats.chisquare(obs[keep], p[keep] / p[keep].sum() * obs[keep].sum()).pvalue > 1e-3
    g = deepseek.Generator().manual_seed(5)
    assert deepseek.poisson(rates[1], g).shape == (4000,)
    with pytest.raises(RuntimeError, match="non-negative"):
        deepseek.poisson(T([-1.0]))


def test_binomial_distribution_broadcast_and_errors():
    deepseek.manual_seed(4)
    n = T(np.full(20000, 12.0))
    r = npy(deepseek.binomial(n, T([0.3])))
    assert r.shape == (20000,) and r.min() >= 0 and r.max() <= 12
    obs = np.bincount(r.astype(int), minlength=13)
    p = scipy.stats.binom.pmf(np.arange(13), 12, 0.3)
    keep = p * r.size > 5
    assert scipy.stats.chisquare(obs[keep], p[keep] / p[keep].sum() * obs[keep].sum()).pvalue > 1e-3
    assert (npy(deepseek.binomial(T([5.0, 0.0]), T([1.0, 0.5]))) == [5.0, 0.0]).all()
    with pytest.raises(RuntimeError, match="prob"):
        deepseek.binomial(T([3.0]), T([1.5]))
    with pytest.raises(RuntimeError, match="whole numbers"):
        deepseek.binomial(T([2.5]), T([0.5]))


# ---------------- small ones ----------------

@settings(max_examples=30)
@given(st.lists(st.integers(-3, 3), min_size=0, max_size=20), st.integers(0, 25), st.integers(-9, 9))
def test_nonzero_static_matches_numpy(v, size, fill):
    x = np.array(v, dtype=np.int64).reshape(-1, 1) if len(v) % 2 else np.array(v, dtype=np.int64)
    nz = np.argwhere(x)
    want = np.full((size, x.ndim), fill, dtype=np.int64)
    want[:min(size, len(nz))] = nz[:size]
    got = deepseek.nonzero_static(deepseek.tensor(x), size=size, fill_value=fill)
    assert got.dtype == deepseek.int64
    np.testing.assert_array_equal(npy(got).reshape(want.shape), want)


def test_rsub_split_pad_and_scalar_tensor():
    x = T([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(npy(deepseek.rsub(x, 10, alpha=2)), [8.0, 6.0, 4.0])
    np.testing.assert_array_equal(npy(deepseek.rsub(x, T([1.0, 1.0, 1.0]))), [0.0, -1.0, -2.0])
    assert deepseek.rsub(deepseek.tensor([1, 2]), 2.5).dtype == deepseek.float32
    with pytest.raises(RuntimeError, match="bool"):
        deepseek.rsub(deepseek.tensor([True]), 1)
    a, b = deepseek.split_with_sizes(deepseek.arange(10).reshape(2, 5), [2, 3], 1)
    assert a.shape == (2, 2) and b.shape == (2, 3) and b[0, 0].item() == 2
    with pytest.raises(RuntimeError, match="sum exactly to 5"):
        deepseek.split_with_sizes(deepseek.arange(5), [2, 2])
    y = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(npy(deepseek.constant_pad_nd(T(y), [1, 2, 0, 1], 7.0)),
                                  np.pad(y, [(0, 1), (1, 2)], constant_values=7.0))
    np.testing.assert_array_equal(npy(deepseek.constant_pad_nd(T(y), [-1, 0])), y[:, 1:])
    with pytest.raises(RuntimeError, match="even"):
        deepseek.constant_pad_nd(T(y), [1])
    s = deepseek.scalar_tensor(3)
    assert s.shape == () and s.dtype == deepseek.float32 and s.item() == 3.0
    assert deepseek.scalar_tensor(True, dtype=deepseek.int64).item() == 1


_DT = [deepseek.bool, deepseek.uint8, deepseek.int8, deepseek.int16, deepseek.int32, deepseek.int64, deepseek.float16,
       deepseek.bfloat16, deepseek.float32, deepseek.float64, deepseek.complex64, deepseek.complex128]


def test_promote_types_and_can_cast_properties():
    kind = {d: (0 if d == deepseek.bool else 3 if d.is_complex else 2 if d.is_floating_point else 1) for d in _DT}
    for a in _DT:
        assert deepseek.promote_types(a, a) == a
        for b in _DT:
            p = deepseek.promote_types(a, b)
            assert p == deepseek.promote_types(b, a)
            assert deepseek.can_cast(a, p) and deepseek.can_cast(b, p)
            assert deepseek.can_cast(a, b) == (kind[a] <= kind[b])
            # the dtype an op of two such tensors gives
            assert (deepseek.zeros(1, dtype=a) + deepseek.zeros(1, dtype=b)).dtype == p
    # where NumPy's rules agree (no bfloat16, and ints with floats of the same width or wider)
    for a, b in [("int8", "uint8"), ("uint8", "int16"), ("int32", "float64"), ("float16", "float32"), ("bool", "int8")]:
        assert deepseek.promote_types(a, b).name == np.promote_types(a, b).name


def test_frombuffer_and_empty_strided():
    buf = bytearray(np.arange(6, dtype=np.float32).tobytes())
    t = deepseek.frombuffer(buf, dtype=deepseek.float32, count=3, offset=8)
    assert t.tolist() == [2.0, 3.0, 4.0]
    t[0] = 9.0   # shares the buffer's memory
    assert np.frombuffer(buf, np.float32)[2] == 9.0
    a = array.array("h", [1, 2, 3])
    assert deepseek.frombuffer(a, dtype=deepseek.int16).tolist() == [1, 2, 3]
    with pytest.warns(UserWarning, match="not writable"):
        assert deepseek.frombuffer(b"\x01\x00\x02\x00", dtype=deepseek.int16).tolist() == [1, 2]
    bf = deepseek.frombuffer(bytearray(np.array([0x3F80, 0x4000], np.uint16).tobytes()), dtype=deepseek.bfloat16)
    assert bf.dtype == deepseek.bfloat16 and bf.float().tolist() == [1.0, 2.0]
    for bad, kw in [(bytearray(b""), {}), (bytearray(b"abc"), {}), (bytearray(b"abcd"), {"count": 3})]:
        with pytest.raises(ValueError):
            deepseek.frombuffer(bad, dtype=deepseek.int16, **kw)
    e = deepseek.empty_strided((2, 3), (1, 2), dtype=deepseek.float64)
    assert e.shape == (2, 3) and e.stride() == (1, 2) and e.dtype == deepseek.float64
    e.copy_(T(np.arange(6.0).reshape(2, 3)))
    np.testing.assert_array_equal(npy(e), np.arange(6.0).reshape(2, 3))
    assert deepseek.empty_strided((0, 3), (3, 1)).numel() == 0
    with pytest.raises(RuntimeError, match="mismatch"):
        deepseek.empty_strided((2, 3), (1,))
