"""In-place views and geometry (``t_``, ``squeeze_``, ``resize_``, ``set_``, ``as_strided``),
storages, the top-level in-place forms and the small Tensor methods: PyTorch's semantics for
views (writes reach the base, version counters catch misuse) checked against NumPy."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from numpy.lib.stride_tricks import as_strided as np_as_strided

import deepseek
from deepseek import nn
from deepseek.autograd import gradcheck


def T(a, rg=False):
    return deepseek.tensor(np.asarray(a, dtype=np.float64), requires_grad=rg)


def npy(t):
    return np.asarray(t.detach())


# ---------------- in-place views ----------------

@pytest.mark.parametrize("op,args,ref", [
    ("t_", (), lambda a: a.T),
    ("transpose_", (0, 2), lambda a: a.transpose(2, 1, 0)),
    ("swapdims_", (1, -1), lambda a: a.swapaxes(1, 2)),
    ("swapaxes_", (0, 1), lambda a: a.swapaxes(0, 1)),
    ("squeeze_", (), lambda a: a.squeeze()),
    ("squeeze_", (1,), lambda a: a.squeeze(1)),
    ("unsqueeze_", (-1,), lambda a: a[..., None]),
])
def test_inplace_views_keep_identity_and_storage(op, args, ref):
    a = np.arange(6.0).reshape((2, 3) if op == "t_" else (2, 1, 3))
    x = T(a)
    keep = [x]                # another reference sees the new geometry
    ptr = x.untyped_storage().data_ptr()
    r = getattr(x, op)(*args)
    assert r is x and keep[0] is x
    np.testing.assert_array_equal(npy(x), ref(a))
    assert x.untyped_storage().data_ptr() == ptr
    x.zero_()                 # the storage is the same: writes through the new geometry are seen below
    assert np.all(npy(x) == 0)


def test_inplace_view_of_nonleaf_keeps_history_and_leaf_is_refused():
    w = np.random.default_rng(0).standard_normal((3, 2))
    x = T(np.random.default_rng(1).standard_normal((2, 3)), True)
    y = x * 1.0
    y.t_()
    assert y.shape == (3, 2)
    (y * T(w)).sum().backward()
    np.testing.assert_allclose(npy(x.grad), w.T)
    for op, args in [("t_", ()), ("unsqueeze_", (0,)), ("squeeze_", ()), ("transpose_", (0, 1))]:
        with pytest.raises(RuntimeError, match="leaf Variable"):
            getattr(x, op)(*args)
    with deepseek.no_grad():
        x.t_()            # allowed without recording, as in PyTorch
    assert x.shape == (3, 2) and x.requires_grad and x.is_leaf


def test_optimizer_sees_a_parameter_reshaped_in_place():
    p = nn.Parameter(deepseek.ones(1, 3, dtype=deepseek.float64))
    opt = deepseek.optim.SGD([p], lr=0.5)
    with deepseek.no_grad():
        p.squeeze_()
    (p * T([1.0, 2.0, 3.0])).sum().backward()
    opt.step()
    assert isinstance(p, nn.Parameter) and p.shape == (3,)
    np.testing.assert_allclose(npy(p), [0.5, 0.0, -0.5])


# ---------------- resize_, set_ ----------------

def test_resize_keeps_prefix_grows_and_refuses_grad():
    x = T(np.arange(6.0))
    assert x.resize_(2, 2) is x and x.shape == (2, 2)
    np.testing.assert_array_equal(npy(x), [[0, 1], [2, 3]])
    x.resize_((3, 4))
    assert x.shape == (3, 4) and x.is_contiguous()
    np.testing.assert_array_equal(npy(x).reshape(-1)[:6], np.arange(6.0))   # the old elements, then new memory
    y = T(np.arange(4.0))
    assert y.resize_as_(deepseek.zeros(2, 1)).shape == (2, 1)
    assert T([1.0]).resize_(0).numel() == 0
    with pytest.raises(RuntimeError, match="require grad"):
        T([1.0, 2.0], True).resize_(1)
    with pytest.raises(RuntimeError, match="negative"):
        T([1.0]).resize_(-1)


def test_set_shares_storage():
    a = T(np.arange(6.0))
    b = T([0.0])
    assert b.set_(a) is b
    assert b.data_ptr() == a.data_ptr() and b.shape == (6,)
    b.set_(a.untyped_storage(), 1, (2, 2), (1, 2))
    np.testing.assert_array_equal(npy(b), [[1.0, 3.0], [2.0, 4.0]])
    b[0, 0] = 10.0
    assert a[1].item() == 10.0
    b.set_(a.storage(), 0, (3,))
    np.testing.assert_array_equal(npy(b), [0.0, 10.0, 2.0])
    b.set_()
    assert b.numel() == 0 and b.dtype == deepseek.float64
    with pytest.raises(RuntimeError, match="out of bounds"):
        T([0.0]).set_(a.untyped_storage(), 4, (3,))
    with pytest.raises(RuntimeError, match="type"):
        deepseek.zeros(1).set_(a)


# ---------------- as_strided ----------------

@st.composite
def _geometry(draw):
    n = draw(st.integers(1, 24))
    nd = draw(st.integers(0, 3))
    size = draw(st.lists(st.integers(0, 4), min_size=nd, max_size=nd))
    stride = draw(st.lists(st.integers(0, 5), min_size=nd, max_size=nd))
    span = 1 + sum((s - 1) * t for s, t in zip(size, stride)) if all(size) else 0
    off = draw(st.integers(0, max(0, n - span))) if span <= n else None
    return n, size, stride, off


@settings(max_examples=40)
@given(_geometry())
def test_as_strided_matches_numpy(g):
    n, size, stride, off = g
    a = np.arange(float(n))
    if off is None:
        with pytest.raises(RuntimeError, match="out of bounds"):
            deepseek.as_strided(T(a), size, stride, 0)
        return
    v = deepseek.as_strided(T(a), size, stride, off)
    ref = np_as_strided(a[off:], size, [s * 8 for s in stride]) if size else a[off]
    assert v.shape == tuple(size) and v.stride() == tuple(stride)
    np.testing.assert_array_equal(npy(v), ref)


@settings(max_examples=40)
@given(_geometry())
def test_as_strided_gradient_sums_every_use(g):
    # the gradient of sum(W * as_strided(x)) puts each W entry on the element it read, overlaps summed
    n, size, stride, off = g
    if off is None:
        return
    rng = np.random.default_rng(n + 7 * len(size))
    x = T(rng.standard_normal(n), True)
    wts = rng.standard_normal(size)
    (deepseek.as_strided(x, size, stride, off) * T(wts)).sum().backward()
    where = off + sum(np.indices(size)[k] * stride[k] for k in range(len(size))) if size else np.array(off)
    want = np.zeros(n)
    np.add.at(want, np.asarray(where).ravel(), np.asarray(wts).ravel())
    np.testing.assert_allclose(npy(x.grad) if x.grad is not None else np.zeros(n), want, rtol=1e-12, atol=1e-12)


def test_as_strided_is_a_view_with_gradient():
    x = T(np.arange(8.0))
    v = x.as_strided((3, 3), (2, 1), 1)     # overlapping windows
    np.testing.assert_array_equal(npy(v), [[1, 2, 3], [3, 4, 5], [5, 6, 7]])
    with pytest.raises(RuntimeError, match="single memory location"):
        v.mul_(0)                            # overlapping elements: refused, as in PyTorch
    x.as_strided((2, 2), (1, 4), 2).mul_(0).add_(1)   # writes reach the base
    np.testing.assert_array_equal(npy(x), [0, 1, 1, 1, 4, 5, 1, 1])
    w = T(np.random.default_rng(2).standard_normal(8), True)
    assert gradcheck(lambda w: deepseek.as_strided(w, (3, 3), (2, 1), 1) ** 2, (w,))      # overlapping: summed
    assert gradcheck(lambda w: deepseek.as_strided(w, (2, 2), (1, 4), 2) ** 2, (w,))      # the core's view
    assert gradcheck(lambda w: deepseek.as_strided(w, (3,), (0,), 5) * T([1.0, 2.0, 3.0]), (w,))
    # non-contiguous input: still a view of its storage, without a gradient path
    base = T(np.arange(6.0).reshape(2, 3))
    tr = base.t()
    np.testing.assert_array_equal(npy(tr.as_strided((2,), (3,), 1)), [1.0, 4.0])
    with pytest.raises(RuntimeError, match="contiguous"):
        T(np.ones((2, 3)), True).t().as_strided((2,), (1,))
    with pytest.raises(RuntimeError, match="Negative strides"):
        deepseek.as_strided(base, (2,), (-1,))
    with pytest.raises(RuntimeError, match="mismatch"):
        deepseek.as_strided(base, (2, 2), (1,))
    y = T(np.arange(6.0))
    assert deepseek.as_strided_(y, (2, 2), (1, 2), 1) is y
    np.testing.assert_array_equal(npy(y), [[1, 3], [2, 4]])


# ---------------- version counters through views ----------------

def test_inplace_on_a_view_bumps_the_base_version_and_autograd_catches_it():
    leaf = T([0.5, 1.0, 1.5], True)
    x = leaf * 1.0
    z = x * x                                 # saves x
    v0 = x._version
    deepseek.sin_(x[0:2])                     # through a view
    assert x._version > v0
    np.testing.assert_allclose(npy(x)[:2], np.sin([0.5, 1.0]))
    with pytest.raises(RuntimeError, match="modified by an inplace operation|version"):
        z.sum().backward()
    a = leaf * 1.0
    s = deepseek.as_strided(a, (2,), (1,), 1)
    before = a._version
    deepseek.exp_(s)
    assert a._version > before
    np.testing.assert_allclose(npy(a), [0.5, np.exp(1.0), np.exp(1.5)])
    a.sum().backward()                        # the history goes through the in-place op on the view
    np.testing.assert_allclose(npy(leaf.grad), [1.0, np.exp(1.0), np.exp(1.5)])


# ---------------- top-level in-place forms against the out-of-place ops ----------------

_UNARY = ["abs", "acos", "asin", "atan", "ceil", "cos", "cosh", "deg2rad", "erf", "erfc", "exp", "exp2", "expm1",
          "fix", "floor", "frac", "i0", "log1p", "neg", "negative", "rad2deg", "reciprocal", "relu", "round", "rsqrt",
          "sigmoid", "sin", "sinc", "sinh", "square", "tan", "tanh", "trunc", "sqrt", "log", "log2", "log10",
          "arcsin", "arccos", "arctan", "logit", "nan_to_num", "selu", "celu"]


@settings(max_examples=15)
@given(st.lists(st.floats(0.05, 0.95), min_size=0, max_size=8))
def test_toplevel_inplace_matches_out_of_place(v):
    x = T(v)
    for name in _UNARY:
        y = x.clone()
        r = getattr(deepseek, name + "_")(y)
        assert r is y, name
        np.testing.assert_allclose(npy(y), npy(getattr(deepseek, name)(x)), rtol=1e-12, atol=1e-15, err_msg=name)
    y = x.clone()
    deepseek.xlogy_(y, T(np.full(len(v), 2.0)))
    np.testing.assert_allclose(npy(y), np.array(v) * np.log(2.0), rtol=1e-12)
    y = x.clone()
    deepseek.clamp_(y, 0.3, 0.6)
    np.testing.assert_array_equal(npy(y), np.clip(v, 0.3, 0.6))


def test_toplevel_inplace_with_arguments():
    a = deepseek.tensor([12, 18])
    assert deepseek.gcd_(a, deepseek.tensor([8, 27])) is a and a.tolist() == [4, 9]
    b = deepseek.tensor([4, 6])
    assert deepseek.lcm_(b, deepseek.tensor([6, 4])).tolist() == [12, 12]
    c = T([1.0, 2.0])
    assert deepseek.ldexp_(c, deepseek.tensor([1, 2])).tolist() == [2.0, 8.0]
    y = T([1.0, 1.0])
    m, v = T(np.eye(2) * 3), T([1.0, 2.0])
    assert deepseek.addmv_(y, m, v) is y and y.tolist() == [4.0, 7.0]
    z = deepseek.zeros(3, dtype=deepseek.float64)
    assert deepseek.index_put_(z, (deepseek.tensor([0, 2]),), T([5.0, 6.0])) is z and z.tolist() == [5.0, 0.0, 6.0]
    deepseek.index_put_(z, (deepseek.tensor([0, 0]),), T([1.0, 1.0]), True)
    assert z.tolist() == [7.0, 0.0, 6.0]
    d = T([1.0, 2.0, 3.0])
    assert deepseek.resize_as_(d, deepseek.zeros(2)).shape == (2,)
    w = T([[3.0, 4.0], [0.3, 0.4], [6.0, 8.0]])
    deepseek.embedding_renorm_(w, deepseek.tensor([0, 1]), 1.0, 2.0)
    np.testing.assert_allclose(npy(w), [[0.6, 0.8], [0.3, 0.4], [6.0, 8.0]], rtol=1e-6)
    leaf = T([1.0], True)
    with pytest.raises(RuntimeError):
        deepseek.exp_(leaf)


# ---------------- storages and small methods ----------------

def test_storages_are_honest():
    x = T(np.arange(6.0).reshape(2, 3))
    u = x.untyped_storage()
    assert u.nbytes() == len(u) == u.size() == 48 and u.element_size() == 1
    assert u.data_ptr() == x.data_ptr() and u.device == x.device
    assert x[1].untyped_storage().data_ptr() == u.data_ptr() and x[1].untyped_storage() == u
    assert u.tolist()[8:16] == list(np.float64(1.0).tobytes())
    s = x.t().storage()
    assert s.size() == 6 and s.dtype == deepseek.float64 and s[4] == 4.0 and s.tolist() == list(range(6))
    assert s.untyped().nbytes() == 48
    assert deepseek.zeros(0).untyped_storage().nbytes() == 0


def test_new_as_subclass_complex_and_prelu():
    x = deepseek.zeros(2, dtype=deepseek.float64)
    n = x.new(2, 3)
    assert n.shape == (2, 3) and n.dtype == deepseek.float64
    assert x.new().shape == (0,) and x.new(deepseek.Size([4])).shape == (4,)
    d = deepseek.zeros(1, dtype=deepseek.int64).new([1, 2])
    assert d.dtype == deepseek.int64 and d.tolist() == [1, 2]
    assert x.new(x) is x
    with pytest.raises(TypeError):
        x.new(2, foo=1)

    class Mine(deepseek.Tensor):
        pass

    a = T([1.0, 2.0], True)
    m = (a * 2).as_subclass(Mine)
    assert isinstance(m, Mine)
    (m * m).sum().backward()                       # still on the graph
    np.testing.assert_allclose(npy(a.grad), [8.0, 16.0])
    with pytest.raises(TypeError):
        a.as_subclass(int)
    assert x.cfloat().dtype == deepseek.complex64 and x.cdouble().dtype == deepseek.complex128
    w = T([0.25, 0.5])
    y = T([[-1.0, -2.0], [3.0, -4.0]])
    np.testing.assert_allclose(npy(y.prelu(w)), [[-0.25, -1.0], [3.0, -2.0]])
