"""The top-level functions and Tensor methods composed from primitives (issue 16), by property
against NumPy/SciPy in float64, gradients against finite differences, bad input against
PyTorch's exception types."""
from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.special as sps
from hypothesis import given, settings, strategies as st

import deepseek as ds

SMALL = settings(max_examples=15)


def arr(seed, shape, lo=-3.0, hi=3.0):
    return np.random.default_rng(seed).uniform(lo, hi, shape)


def T(a, dtype=ds.float64):
    return ds.tensor(np.asarray(a), dtype=dtype)


def close(t, ref, rtol=1e-9, atol=1e-11):
    np.testing.assert_allclose(np.asarray(t.detach().numpy() if isinstance(t, ds.Tensor) else t, dtype=np.float64),
                               ref, rtol=rtol, atol=atol, equal_nan=True)


def fd_check(f, x, eps=1e-6, rtol=1e-5, atol=1e-7):
    """Gradient of ``f(x).sum()`` against central finite differences (float64)."""
    xt = T(x).requires_grad_()
    f(xt).sum().backward()
    g = xt.grad.numpy()
    num = np.zeros_like(x)
    flat = x.reshape(-1)
    for i in range(flat.size):
        p, m = flat.copy(), flat.copy()
        p[i] += eps
        m[i] -= eps
        num.reshape(-1)[i] = (float(f(T(p.reshape(x.shape))).sum()) - float(f(T(m.reshape(x.shape))).sum())) / (2 * eps)
    np.testing.assert_allclose(g, num, rtol=rtol, atol=atol)


shapes = st.lists(st.integers(1, 4), min_size=1, max_size=3)


# ---------------- elementwise ----------------

UNARY = [
    ("acosh", np.arccosh, 1.0, 5.0),
    ("asinh", np.arcsinh, -5.0, 5.0),
    ("atanh", np.arctanh, -0.95, 0.95),
    ("log10", np.log10, 0.1, 10.0),
    ("deg2rad", np.deg2rad, -360, 360),
    ("rad2deg", np.rad2deg, -6, 6),
    ("frac", lambda a: a - np.trunc(a), -5, 5),
    ("sinc", np.sinc, -3, 3),
    ("logit", sps.logit, 0.01, 0.99),
    ("erfinv", sps.erfinv, -0.999, 0.999),
    ("i0", sps.i0, -30, 30),
]


@pytest.mark.parametrize("name,ref,lo,hi", UNARY)
@SMALL
@given(shape=shapes, seed=st.integers(0, 2**16))
def test_unary_against_numpy(name, ref, lo, hi, shape, seed):
    a = arr(seed, shape, lo, hi)
    close(getattr(ds, name)(T(a)), ref(a), rtol=1e-9 if name != "i0" else 1e-12)
    close(getattr(T(a), name)(), ref(a), rtol=1e-9 if name != "i0" else 1e-12)


@pytest.mark.parametrize("name,lo,hi", [("acosh", 1.2, 4), ("asinh", -3, 3), ("atanh", -0.9, 0.9), ("log10", 0.2, 4),
                                        ("sinc", -2, 2), ("logit", 0.1, 0.9), ("erfinv", -0.9, 0.9), ("i0", -5, 5)])
def test_unary_gradients(name, lo, hi):
    fd_check(getattr(ds, name), arr(1, (5,), lo, hi), rtol=1e-5)


BINARY = [
    ("hypot", np.hypot), ("copysign", np.copysign), ("fmax", np.fmax), ("fmin", np.fmin),
    ("logaddexp2", np.logaddexp2), ("xlogy", sps.xlogy), ("float_power", lambda a, b: np.power(np.abs(a), b)),
]


@pytest.mark.parametrize("name,ref", BINARY)
@SMALL
@given(shape=shapes, seed=st.integers(0, 2**16))
def test_binary_against_numpy(name, ref, shape, seed):
    a, b = arr(seed, shape), arr(seed + 1, shape[-1:])
    if name in ("fmax", "fmin"):
        a[0] = np.nan
    if name == "xlogy":
        a.reshape(-1)[0], b = 0.0, np.abs(b)
    if name == "float_power":
        a = np.abs(a)
    close(getattr(ds, name)(T(a), T(b)), ref(a, b))


def test_elementwise_edge_values():
    close(ds.copysign(T([1.0, 2.0]), T([-0.0, 0.0])), [-1.0, 2.0])
    assert ds.signbit(T([-0.0, 0.0, -1.0, 3.0])).tolist() == [True, False, True, False]
    close(ds.heaviside(T([-1.0, 0.0, 2.0]), T([0.5, 0.5, 0.5])), [0.0, 0.5, 1.0])
    assert ds.gcd(ds.tensor([12, -18, 0, 7]), ds.tensor([18, 12, 5, 0])).tolist() == [6, 6, 5, 7]
    assert ds.lcm(ds.tensor([4, 6, 0]), ds.tensor([6, 4, 3])).tolist() == [12, 12, 0]
    assert ds.bitwise_left_shift(ds.tensor([1, -3]), 2).tolist() == [4, -12]
    assert ds.bitwise_right_shift(ds.tensor([16, -7]), 1).tolist() == [8, -4]
    m, e = ds.frexp(T([8.0, -0.3, 0.0, 1.0]))
    nm, ne = np.frexp([8.0, -0.3, 0.0, 1.0])
    close(m, nm)
    assert e.tolist() == ne.tolist() and e.dtype == ds.int32
    close(ds.ldexp(T([1.5]), ds.tensor([3])), [12.0])
    close(ds.xlogy(T([0.0, 0.0]), T([0.0, np.nan])), [0.0, np.nan])
    assert ds.isneginf(T([-np.inf, np.inf, 1])).tolist() == [True, False, False]
    assert ds.isposinf(T([-np.inf, np.inf, 1])).tolist() == [False, True, False]
    close(ds.angle(T([-2.0, 0.0, 3.0])), [math.pi, 0, 0])
    close(ds.special.erfinv(T([1.0, -1.0, 1.5])), [np.inf, -np.inf, np.nan])


def test_addcmul_addcdiv_and_in_place():
    a, b, c = arr(0, (3, 4)), arr(1, (3, 4)), arr(2, (4,)) + 5
    close(ds.addcmul(T(a), T(b), T(c), value=0.5), a + 0.5 * b * c)
    close(ds.addcdiv(T(a), T(b), T(c), value=-2), a - 2 * b / c)
    x = T(a)
    ptr = x.data_ptr()
    v = x._version
    r = x.addcmul_(T(b), T(c), value=2)
    assert r is x and x.data_ptr() == ptr and x._version > v
    close(x, a + 2 * b * c)
    y = T(a)
    y.hypot_(T(b))
    close(y, np.hypot(a, b))
    with pytest.raises(RuntimeError, match="Integer division"):
        ds.addcdiv(ds.tensor([1]), ds.tensor([1]), ds.tensor([2]))
    fd_check(lambda t: ds.addcdiv(t, t * t, t + 10.0, value=0.3), a)


def test_in_place_comparisons_and_float_power_dtype():
    x = T([1.0, 2.0, 3.0])
    x.gt_(1.5)
    assert x.tolist() == [0.0, 1.0, 1.0] and x.dtype == ds.float64
    with pytest.raises(RuntimeError, match="Double"):
        ds.ones(2).float_power_(2)


@pytest.mark.parametrize("decimals", [-2, -1, 0, 1, 3])
def test_round_decimals(decimals):
    a = arr(3, (20,), -500, 500)
    close(T(a).round(decimals=decimals), np.round(a, decimals))
    close(ds.special.round(T(a), decimals=decimals), np.round(a, decimals))
    x = T(a)
    x.round_(decimals=decimals)
    close(x, np.round(a, decimals))


# ---------------- special ----------------

SPECIAL = [
    ("ndtr", sps.ndtr, -8, 8, 1e-10), ("ndtri", sps.ndtri, 0.001, 0.999, 1e-9), ("log_ndtr", sps.log_ndtr, -60, 8, 1e-9),
    ("entr", sps.entr, 0, 4, 1e-10), ("i0e", sps.i0e, -40, 40, 1e-12), ("erfcx", sps.erfcx, -3, 60, 1e-9),
    ("expit", sps.expit, -10, 10, 1e-10), ("gammaln", sps.gammaln, 0.1, 20, 1e-9), ("digamma", sps.digamma, 0.1, 20, 1e-8),
]


@pytest.mark.parametrize("name,ref,lo,hi,rtol", SPECIAL)
def test_special_against_scipy(name, ref, lo, hi, rtol):
    a = np.concatenate([arr(7, (40,), lo, hi), np.linspace(lo, hi, 21)])
    close(getattr(ds.special, name)(T(a)), ref(a), rtol=rtol, atol=1e-300)


def test_special_zeta_polygamma_multigammaln():
    x = arr(4, (10,), 1.5, 8)
    q = arr(5, (10,), 0.2, 5)
    close(ds.special.zeta(T(x), T(q)), sps.zeta(x, q), rtol=1e-10)
    close(ds.special.polygamma(2, T(q)), sps.polygamma(2, q), rtol=1e-8)
    close(ds.special.multigammaln(T(x + 2), 3), sps.multigammaln(x + 2, 3), rtol=1e-10)
    close(ds.special.xlog1py(T([0.0, 2.0]), T([-1.0, 0.5])), sps.xlog1py([0.0, 2.0], [-1.0, 0.5]))


def test_special_gradients():
    fd_check(ds.special.ndtri, arr(2, (5,), 0.05, 0.95))
    fd_check(ds.special.log_ndtr, arr(2, (5,), -10, 4))
    fd_check(lambda t: ds.special.zeta(t, 2.0), arr(2, (4,), 2, 5))


# ---------------- shapes ----------------

def test_shape_functions_against_numpy():
    a = arr(0, (3, 4, 5))
    for off in (-2, 0, 1, 3):
        for d1, d2 in ((0, 1), (2, 0), (1, -1)):
            close(ds.diagonal(T(a), off, d1, d2), np.diagonal(a, off, d1, d2))
    v = arr(1, (2, 3))
    for off in (-1, 0, 2):
        ref = np.zeros((2, 3 + abs(off), 3 + abs(off)))
        for b in range(2):
            ref[b] = np.diag(v[b], off)
        close(ds.diag_embed(T(v), off), ref)
    close(ds.diag_embed(T(v), 0, 0, 2), np.moveaxis(np.stack([np.diag(r) for r in v]), 0, 1))
    for k in range(-1, 5):
        close(ds.rot90(T(a), k, [0, 2]), np.rot90(a, k, (0, 2)))
    close(ds.fliplr(T(a)), np.fliplr(a))
    close(ds.flipud(T(a)), np.flipud(a))
    close(ds.kron(T(v), T(a[0])), np.kron(v, a[0]))
    close(ds.tensordot(T(a), T(arr(2, (4, 5, 2))), 2), np.tensordot(a, arr(2, (4, 5, 2)), 2))
    close(ds.tensordot(T(a), T(arr(2, (5, 3))), ([2, 0], [0, 1])), np.tensordot(a, arr(2, (5, 3)), ([2, 0], [0, 1])))
    close(ds.inner(T(a), T(arr(9, (2, 5)))), np.inner(a, arr(9, (2, 5))))
    close(ds.cross(T(arr(3, (4, 3))), T(arr(4, (4, 3))), dim=1), np.cross(arr(3, (4, 3)), arr(4, (4, 3))))
    close(ds.cross(T(arr(3, (3, 2))), T(arr(4, (3, 2)))), np.cross(arr(3, (3, 2)), arr(4, (3, 2)), axis=0))
    g = ds.meshgrid(T([1.0, 2.0]), T([3.0, 4.0, 5.0]), indexing="xy")
    ng = np.meshgrid([1.0, 2.0], [3.0, 4.0, 5.0], indexing="xy")
    for x, y in zip(g, ng):
        close(x, y)
    close(ds.block_diag(T([[1.0, 2.0]]), T([[3.0], [4.0]])), [[1, 2, 0], [0, 0, 3], [0, 0, 4]])
    close(ds.cartesian_prod(T([1.0, 2.0]), T([3.0, 4.0])), [[1, 3], [1, 4], [2, 3], [2, 4]])
    close(ds.combinations(T([1.0, 2.0, 3.0]), 2), [[1, 2], [1, 3], [2, 3]])
    assert [t.tolist() for t in ds.unravel_index(ds.tensor([5, 13]), (3, 5))] == [[1, 2], [0, 3]]
    close(ds.vander(T([1.0, 2.0, 3.0]), 3), np.vander([1.0, 2.0, 3.0], 3))
    assert ds.atleast_3d(ds.ones(4)).shape == (1, 4, 1) and ds.atleast_1d(ds.tensor(2.0)).shape == (1,)
    assert [t.shape for t in ds.atleast_2d(ds.ones(3), ds.ones(2, 2))] == [(1, 3), (2, 2)]
    assert ds.tril_indices(3, 4, 1).tolist() == [list(r) for r in np.tril_indices(3, 1, 4)]
    assert ds.triu_indices(4, 3, -1).tolist() == [list(r) for r in np.triu_indices(4, -1, 3)]
    close(ds.column_stack([T([1.0, 2.0]), T([[3.0], [4.0]])]), [[1, 3], [2, 4]])
    close(ds.dstack([T([1.0, 2.0]), T([3.0, 4.0])]), np.dstack([[1.0, 2.0], [3.0, 4.0]]))
    assert [t.shape for t in ds.hsplit(ds.ones(2, 6), 3)] == [(2, 2)] * 3


def test_take_along_dim_take_and_unfold():
    a = arr(0, (3, 4))
    idx = np.argsort(a, 1)
    close(ds.take_along_dim(T(a), ds.tensor(idx), 1), np.take_along_axis(a, idx, 1))
    close(ds.take_along_dim(T(a), ds.tensor([[0], [2], [1]]), 1), np.take_along_axis(a, np.array([[0], [2], [1]]), 1))
    close(ds.take(T(a), ds.tensor([[0, -1], [5, 2]])), np.take(a, [[0, -1], [5, 2]]))
    with pytest.raises(IndexError):
        ds.take(T(a), ds.tensor([12]))
    x = ds.arange(7.0)
    u = x.unfold(0, 3, 2)
    assert u.tolist() == [[0, 1, 2], [2, 3, 4], [4, 5, 6]]
    w = T(arr(1, (2, 6, 3))).unfold(1, 2, 3)
    close(w, np.stack([arr(1, (2, 6, 3))[:, i:i + 2].transpose(0, 2, 1) for i in (0, 3)], 1))
    fd_check(lambda t: t.unfold(0, 3, 1) ** 2, arr(2, (5,)))
    fd_check(lambda t: ds.diagonal(t, 1) * 3, arr(2, (3, 3)))


def test_shape_errors():
    with pytest.raises(RuntimeError, match="diagonal dimensions cannot be identical"):
        ds.diagonal(ds.ones(2, 2), 0, 1, 1)
    with pytest.raises(IndexError, match="Dimension out of range"):
        ds.diagonal(ds.ones(2, 2), 0, 0, 2)
    with pytest.raises(RuntimeError, match="must have length 3"):
        ds.cross(ds.ones(2, 3), ds.ones(2, 3), dim=0)
    with pytest.raises(RuntimeError, match="size is 5"):
        ds.ones(4).unfold(0, 5, 1)
    with pytest.raises(TypeError):
        ds.broadcast_to([1, 2], (2, 2))
    with pytest.raises(RuntimeError, match="contracted dimensions need to match"):
        ds.tensordot(ds.ones(2, 3), ds.ones(4, 2), 1)


# ---------------- small top-level surface ----------------

def test_finfo_iinfo_match_numpy():
    for dt, nd in ((ds.float16, np.float16), (ds.float32, np.float32), (ds.float64, np.float64)):
        f, n = ds.finfo(dt), np.finfo(nd)
        assert (f.bits, f.eps, f.max, f.min, f.tiny, f.resolution) == (n.bits, n.eps, n.max, n.min, n.smallest_normal, n.resolution)
    b = ds.finfo(ds.bfloat16)
    assert b.bits == 16 and b.eps == 2.0 ** -7 and b.tiny == 2.0 ** -126 and b.max == (2 - 2.0 ** -7) * 2.0 ** 127
    assert ds.finfo().dtype == "float32"
    for dt, nd in ((ds.int8, np.int8), (ds.uint8, np.uint8), (ds.int64, np.int64)):
        i, n = ds.iinfo(dt), np.iinfo(nd)
        assert (i.bits, i.min, i.max) == (n.bits, n.min, n.max)
    with pytest.raises(TypeError):
        ds.finfo(ds.int32)
    with pytest.raises(TypeError):
        ds.iinfo(ds.float32)


def test_legacy_typed_constructors():
    x = ds.FloatTensor(2, 3)
    assert x.shape == (2, 3) and x.dtype == ds.float32
    y = ds.LongTensor([1, 2, 3])
    assert y.dtype == ds.int64 and y.tolist() == [1, 2, 3]
    assert ds.DoubleTensor([1.5]).dtype == ds.float64 and ds.BoolTensor([True]).dtype == ds.bool
    assert isinstance(ds.zeros(2), ds.FloatTensor) and not isinstance(ds.zeros(2), ds.LongTensor)
    assert isinstance(ds.tensor([1]), ds.LongTensor)
    with pytest.raises(TypeError):
        ds.FloatTensor(2, 1.5)


def test_set_printoptions():
    x = ds.tensor([1.123456, 2.5])
    try:
        ds.set_printoptions(precision=2)
        assert repr(x) == "tensor([1.12, 2.50])"
        ds.set_printoptions(sci_mode=True)
        assert "e+00" in repr(x)
        ds.set_printoptions(threshold=5, edgeitems=2, sci_mode=False)
        assert "..." in repr(ds.arange(10.0))
    finally:
        ds.set_printoptions(profile="default")
    assert repr(x) == "tensor([1.1235, 2.5000])"
    assert "..." not in repr(ds.arange(10.0))


def test_autocast_at_top_level():
    import deepseek.nn.functional as F

    assert ds.autocast is ds.nn.autocast is ds.amp.autocast
    w = ds.randn(3, 4)
    with ds.autocast(device_type="cpu", dtype=ds.bfloat16):
        assert F.linear(ds.randn(2, 4), w).dtype == ds.bfloat16
    assert F.linear(ds.randn(2, 4), w).dtype == ds.float32
    with pytest.raises(RuntimeError, match="dtype must be float16 or bfloat16"):
        ds.autocast(device_type="cpu", dtype=ds.float64)


def test_random_in_place_fills():
    ds.manual_seed(0)
    e = ds.empty(20000, dtype=ds.float64).exponential_(2.0).numpy()
    assert abs(e.mean() - 0.5) < 0.02 and e.min() >= 0
    g = ds.empty(20000, dtype=ds.float64).geometric_(0.25).numpy()
    assert abs(g.mean() - 4.0) < 0.15 and g.min() >= 1 and (g == np.round(g)).all()
    ln = ds.empty(20000, dtype=ds.float64).log_normal_(0.0, 0.5).numpy()
    assert abs(np.log(ln).std() - 0.5) < 0.02
    c = ds.empty(20000, dtype=ds.float64).cauchy_(1.0, 2.0).numpy()
    assert abs(np.median(c) - 1.0) < 0.1
    x = ds.zeros(3, 3)
    ptr = x.data_ptr()
    assert x.fill_diagonal_(2.0) is x and x.data_ptr() == ptr
    close(x, np.eye(3) * 2)
    with pytest.raises(RuntimeError, match="lambda"):
        ds.empty(2).exponential_(-1.0)


def test_incomplete_gamma_against_scipy():
    a = np.concatenate([arr(8, (30,), 0.05, 60), [0.5, 3.0, 2.0]])
    x = np.concatenate([arr(9, (30,), 0.0, 80), [0.0, 3.0, 1e-3]])
    close(ds.igamma(T(a), T(x)), sps.gammainc(a, x), rtol=1e-10, atol=1e-14)
    close(ds.igammac(T(a), T(x)), sps.gammaincc(a, x), rtol=1e-10, atol=1e-14)
    close(ds.special.gammainc(T(a), T(x)) + ds.special.gammaincc(T(a), T(x)), np.ones_like(a))
    assert np.isnan(ds.igamma(T([-1.0]), T([1.0])).numpy()).all()
    # d/dx P(a, x) is the gamma density
    fd_check(lambda t: ds.igamma(T([2.5, 0.7, 4.0]), t), np.array([1.3, 0.4, 6.0]))


@pytest.mark.parametrize("dt,nd", [(ds.float64, np.float64), (ds.float32, np.float32)])
def test_nextafter_against_numpy(dt, nd):
    rng = np.random.default_rng(0)
    tiny = np.finfo(nd).smallest_subnormal
    x = np.concatenate([rng.normal(size=40) * 10.0 ** rng.integers(-30, 30, 40), [1.0, 0.5, -4.0, 0.0, 0.0, tiny, -tiny,
                                                                                    np.finfo(nd).smallest_normal]]).astype(nd)
    for y in (np.full_like(x, np.inf), np.full_like(x, -np.inf), np.zeros_like(x), x.copy()):
        got = ds.nextafter(ds.tensor(x, dtype=dt), ds.tensor(y, dtype=dt)).numpy()
        np.testing.assert_array_equal(got, np.nextafter(x, y))


def test_tensor_hardshrink_and_conj_physical_():
    x = ds.tensor([-1.0, 0.2, 0.7])
    assert x.hardshrink(0.5).tolist() == [-1.0, 0.0, 0.699999988079071]
    assert x.conj_physical_() is x
