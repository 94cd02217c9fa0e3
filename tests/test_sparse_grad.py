"""Gradients through sparse tensors, checked against central differences of the dense
equivalent in float64; nn.Embedding(sparse=True) with optim.SparseAdam and optim.SGD."""
from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import deepseek as ds
from deepseek import nn

EPS = 1e-6


def T(a, **kw):
    return ds.tensor(np.asarray(a), **kw)


def npy(t):
    return t.detach().numpy()


def fd(f, x):
    """Central differences of the scalar f at the float64 array x."""
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        x[i] += EPS
        hi = f(x)
        x[i] -= 2 * EPS
        lo = f(x)
        x[i] += EPS
        g[i] = (hi - lo) / (2 * EPS)
    return g


def sparse_pattern(rng, m, n, density):
    a = sp.random(m, n, density=density, random_state=rng, format="csr")
    a.data = rng.standard_normal(a.nnz)
    return a


@settings(max_examples=15)
@given(m=st.integers(1, 5), k=st.integers(1, 5), n=st.integers(1, 4), density=st.sampled_from([0.3, 0.7, 1.0]),
       seed=st.integers(0, 2**16), layout=st.sampled_from(["coo", "csr"]), side=st.sampled_from(["left", "right"]))
def test_mm_gradients_match_finite_differences(m, k, n, density, seed, layout, side):
    rng = np.random.default_rng(seed)
    a = sparse_pattern(rng, m, k, density)
    rows = np.repeat(np.arange(m), np.diff(a.indptr))
    d = rng.standard_normal((k, n) if side == "left" else (n, m))
    w = rng.standard_normal((m, n) if side == "left" else (n, k))

    def dense_loss(vals, dd):
        A = np.zeros((m, k))
        A[rows, a.indices] = vals
        return float((w * (A @ dd if side == "left" else dd @ A)).sum())

    if layout == "csr":
        s = ds.sparse_csr_tensor(T(a.indptr.astype(np.int64)), T(a.indices.astype(np.int64)), T(a.data), (m, k), requires_grad=True)
    else:
        s = ds.sparse_coo_tensor(T(np.stack([rows, a.indices]).astype(np.int64)), T(a.data), (m, k), requires_grad=True)
    dt = T(d, requires_grad=True)
    out = ds.sparse.mm(s, dt) if side == "left" else ds.sparse.mm(dt, s)
    (out * T(w)).sum().backward()
    assert s.grad.layout is s.layout  # PyTorch's semantics: the sparse operand's pattern
    np.testing.assert_allclose(npy(s.grad._values()), fd(lambda v: dense_loss(v, d), a.data.copy()), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(npy(dt.grad), fd(lambda x: dense_loss(a.data, x), d.copy()), rtol=1e-6, atol=1e-7)


def test_gradients_through_coalesce_to_dense_and_conversions():
    rng = np.random.default_rng(3)
    idx = np.array([[0, 2, 0, 1, 2], [1, 0, 1, 2, 0]])  # (0,1) and (2,0) repeat
    vals = rng.standard_normal(5)
    w = rng.standard_normal((3, 3))

    def dense_loss(v):
        A = np.zeros((3, 3))
        np.add.at(A, (idx[0], idx[1]), v)
        return float((w * np.tanh(A)).sum())

    for conv in (lambda s: s.to_dense(), lambda s: s.coalesce().to_dense(), lambda s: s.to_sparse_csr().to_dense(),
                 lambda s: s.to_sparse_csr().t().t().to_dense(), lambda s: (s * 2.0 + s * -1.0).to_dense()):
        s = ds.sparse_coo_tensor(T(idx), T(vals), (3, 3), requires_grad=True)
        (T(w) * ds.tanh(conv(s))).sum().backward()
        np.testing.assert_allclose(npy(s.grad._values()), fd(dense_loss, vals.copy()), rtol=1e-6, atol=1e-8)


def test_gradients_of_softmax_sum_and_dense_to_sparse():
    rng = np.random.default_rng(4)
    a = rng.standard_normal((4, 5)) * (rng.random((4, 5)) < 0.6)
    mask = a != 0
    w = rng.standard_normal((4, 5))

    def loss_softmax(x):
        z = np.where(mask, x, -np.inf)
        e = np.where(mask, np.exp(z - z.max(1, keepdims=True)), 0)
        return float((w * np.where(mask, e / np.maximum(e.sum(1, keepdims=True), 1e-300), 0)).sum())

    x = T(a, requires_grad=True)
    out = ds.sparse.softmax(x.to_sparse(), 1).to_dense()
    (out * T(w)).sum().backward()
    num = fd(loss_softmax, a.copy())
    np.testing.assert_allclose(npy(x.grad)[mask], num[mask], rtol=1e-6, atol=1e-8)

    x = T(a, requires_grad=True)
    (ds.sparse.sum(x.to_sparse(), 0).to_dense() * T(w[0])).sum().backward()
    np.testing.assert_allclose(npy(x.grad)[mask], np.broadcast_to(w[0], a.shape)[mask])
    assert not npy(x.grad)[~mask].any()


def test_sparse_weight_training_keeps_its_pattern():
    """A sparse operand trained with its gradient stays sparse with the same pattern."""
    rng = np.random.default_rng(5)
    a = sparse_pattern(rng, 6, 4, 0.4)
    s = ds.sparse_csr_tensor(T(a.indptr.astype(np.int64)), T(a.indices.astype(np.int64)), T(a.data), (6, 4), requires_grad=True)
    x = T(rng.standard_normal((4, 3)))
    for _ in range(3):
        (s @ x).pow(2).sum().backward()
        with ds.no_grad():
            s._values().sub_(0.01 * s.grad._values())
        s.grad = None
    np.testing.assert_array_equal(npy(s.col_indices()), a.indices)


def _lookup_grad(ids, g_rows, num, dim):
    G = np.zeros((num, dim))
    np.add.at(G, ids, g_rows)
    return G


def test_embedding_sparse_gradients():
    ds.manual_seed(0)
    emb = nn.Embedding(7, 3, sparse=True, padding_idx=2).double()
    ids = [[1, 3, 3], [2, 6, 1]]
    w = np.random.default_rng(0).standard_normal((2, 3, 3))
    out = emb(T(ids))
    (out * T(w)).sum().backward()
    g = emb.weight.grad
    assert g.layout is ds.sparse_coo and g.sparse_dim() == 1 and g.dense_dim() == 1
    flat = np.array(ids).reshape(-1)
    keep = flat != 2
    assert g._nnz() == keep.sum()  # the padding row is left out
    np.testing.assert_allclose(npy(g.to_dense()), _lookup_grad(flat[keep], w.reshape(-1, 3)[keep], 7, 3))
    # a second backward accumulates (uncoalesced, as PyTorch)
    (emb(T([[0]])) * 2.0).sum().backward()
    want = _lookup_grad(flat[keep], w.reshape(-1, 3)[keep], 7, 3)
    want[0] += 2.0
    np.testing.assert_allclose(npy(emb.weight.grad.to_dense()), want)
    emb.zero_grad()
    assert emb.weight.grad is None
    # a dense use of the same weight (tied) merges into a dense gradient
    (emb(T([4])).sum() + emb.weight.sum()).backward()
    dense = emb.weight.grad
    assert isinstance(dense, ds.Tensor)
    want = np.ones((7, 3))
    want[4] += 1
    np.testing.assert_allclose(npy(dense), want)


def test_sparse_adam_matches_reference_on_sparse_gradients():
    ds.manual_seed(0)
    emb = nn.Embedding(6, 3, sparse=True).double()
    w0 = npy(emb.weight).copy()
    opt = ds.optim.SparseAdam(emb.parameters(), lr=0.1)
    m, v, w = np.zeros_like(w0), np.zeros_like(w0), w0.copy()
    rng = np.random.default_rng(1)
    for step, ids in enumerate([[1, 3], [3, 4], [1, 1, 5]], start=1):
        opt.zero_grad()
        c = rng.standard_normal((len(ids), 3))
        (emb(T(ids)) * T(c)).sum().backward()
        assert emb.weight.grad.layout is ds.sparse_coo
        g = _lookup_grad(ids, c, 6, 3)
        rows = np.unique(ids)
        m[rows] = 0.9 * m[rows] + 0.1 * g[rows]
        v[rows] = 0.999 * v[rows] + 0.001 * g[rows] ** 2
        w[rows] -= 0.1 * math.sqrt(1 - 0.999 ** step) / (1 - 0.9 ** step) * m[rows] / (np.sqrt(v[rows]) + 1e-8)
        opt.step()
        np.testing.assert_allclose(npy(emb.weight), w, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(npy(emb.weight)[[0, 2]], w0[[0, 2]])


@pytest.mark.parametrize("kw", [dict(), dict(momentum=0.9), dict(weight_decay=0.1), dict(maximize=True)])
def test_sgd_on_sparse_gradients_matches_dense(kw):
    ds.manual_seed(0)
    sparse = nn.Embedding(5, 2, sparse=True).double()
    dense = nn.Embedding(5, 2).double()
    dense.load_state_dict(sparse.state_dict())
    opts = [ds.optim.SGD(sparse.parameters(), lr=0.5, **kw), ds.optim.SGD(dense.parameters(), lr=0.5, **kw)]
    for ids in ([0, 3, 3], [1, 3], [4]):
        for mod, opt in zip((sparse, dense), opts):
            opt.zero_grad()
            (mod(T(ids)) ** 2).sum().backward()
            opt.step()
        np.testing.assert_allclose(npy(sparse.weight), npy(dense.weight), rtol=1e-12, atol=1e-12)
