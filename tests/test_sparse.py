"""Sparse tensors (COO and CSR) against scipy.sparse in float64: construction, conversions,
coalescing with duplicate indices, products, reductions, elementwise ops, bad input."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import deepseek as ds

SETTINGS = settings(max_examples=25)


def T(a, dtype=None):
    return ds.tensor(np.asarray(a), dtype=dtype)


def npy(t):
    return t.detach().numpy()


def random_coo(rng, m, n, density, dup=0):
    """A float64 COO triple with ``dup`` repeated coordinates (values then add up)."""
    a = sp.random(m, n, density=density, format="coo", random_state=rng, dtype=np.float64)
    rows, cols, vals = a.row.astype(np.int64), a.col.astype(np.int64), a.data
    if dup and len(vals):
        pick = rng.integers(0, len(vals), dup)
        rows = np.concatenate([rows, rows[pick]])
        cols = np.concatenate([cols, cols[pick]])
        vals = np.concatenate([vals, rng.standard_normal(dup)])
        perm = rng.permutation(len(vals))
        rows, cols, vals = rows[perm], cols[perm], vals[perm]
    return rows, cols, vals


shapes = st.tuples(st.integers(0, 9), st.integers(0, 9))
densities = st.sampled_from([0.0, 0.1, 0.5, 1.0])


@SETTINGS
@given(shape=shapes, density=densities, dup=st.integers(0, 4), seed=st.integers(0, 2**16))
def test_coo_coalesce_and_to_dense_match_scipy(shape, density, dup, seed):
    rng = np.random.default_rng(seed)
    m, n = shape
    rows, cols, vals = random_coo(rng, m, n, density, dup)
    ref = sp.coo_matrix((vals, (rows, cols)), shape=(m, n))
    s = ds.sparse_coo_tensor(T(np.stack([rows, cols]).reshape(2, -1)), T(vals), (m, n))
    assert s.layout is ds.sparse_coo and s.is_sparse and s._nnz() == len(vals)
    np.testing.assert_allclose(npy(s.to_dense()), ref.toarray(), rtol=1e-12, atol=1e-12)
    c = s.coalesce()
    csr = ref.tocsr()
    csr.sum_duplicates()
    csr.sort_indices()
    r = csr.tocoo()
    assert c.is_coalesced() and c._nnz() == csr.nnz
    np.testing.assert_array_equal(npy(c.indices()), np.stack([r.row, r.col]).reshape(2, -1))
    np.testing.assert_allclose(npy(c.values()), r.data, rtol=1e-12, atol=1e-12)
    # COO -> CSR -> COO keeps everything
    x = s.to_sparse_csr()
    assert x.layout is ds.sparse_csr and not x.is_sparse and x.is_sparse_csr
    np.testing.assert_array_equal(npy(x.crow_indices()), csr.indptr)
    np.testing.assert_array_equal(npy(x.col_indices()), csr.indices)
    np.testing.assert_allclose(npy(x.to_dense()), ref.toarray(), rtol=1e-12, atol=1e-12)
    back = x.to_sparse()
    np.testing.assert_array_equal(npy(back.indices()), npy(c.indices()))


@SETTINGS
@given(shape=shapes, density=densities, seed=st.integers(0, 2**16))
def test_dense_to_sparse_round_trip(shape, density, seed):
    rng = np.random.default_rng(seed)
    a = sp.random(*shape, density=density, random_state=rng).toarray()
    x = T(a)
    s = x.to_sparse()
    ref = sp.coo_matrix(a)
    assert s._nnz() == ref.nnz and s.is_coalesced()
    np.testing.assert_array_equal(npy(s.to_dense()), a)
    c = x.to_sparse_csr()
    np.testing.assert_array_equal(npy(c.crow_indices()), sp.csr_matrix(a).indptr)
    np.testing.assert_array_equal(npy(c.to_dense()), a)
    assert x.to_sparse(layout=ds.sparse_csr).layout is ds.sparse_csr


def test_hybrid_coo_has_dense_values():
    a = np.zeros((4, 3))
    a[1] = [1.0, 0.0, 2.0]
    a[3, 2] = 5.0
    s = T(a).to_sparse(sparse_dim=1)
    assert s.sparse_dim() == 1 and s.dense_dim() == 1
    np.testing.assert_array_equal(npy(s.indices()), [[1, 3]])
    np.testing.assert_array_equal(npy(s.values()), a[[1, 3]])
    np.testing.assert_array_equal(npy(s.to_dense()), a)
    np.testing.assert_array_equal(npy(ds.sparse.sum(s, 0)), a.sum(0))


@SETTINGS
@given(m=st.integers(0, 8), k=st.integers(0, 8), n=st.integers(0, 6), density=densities, dup=st.integers(0, 3),
       seed=st.integers(0, 2**16), layout=st.sampled_from(["coo", "csr"]))
def test_sparse_dense_products_match_scipy(m, k, n, density, dup, seed, layout):
    rng = np.random.default_rng(seed)
    rows, cols, vals = random_coo(rng, m, k, density, dup)
    ref = sp.coo_matrix((vals, (rows, cols)), shape=(m, k)).tocsr()
    s = ds.sparse_coo_tensor(T(np.stack([rows, cols]).reshape(2, -1)), T(vals), (m, k))
    if layout == "csr":
        s = s.to_sparse_csr()
    d = rng.standard_normal((k, n))
    np.testing.assert_allclose(npy(ds.sparse.mm(s, T(d))), ref @ d, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(npy(s @ T(d)), ref @ d, rtol=1e-10, atol=1e-12)
    left = rng.standard_normal((n, m))
    np.testing.assert_allclose(npy(T(left) @ s), (ref.T @ left.T).T, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(npy(ds.mm(T(left), s)), (ref.T @ left.T).T, rtol=1e-10, atol=1e-12)
    v = rng.standard_normal(k)
    np.testing.assert_allclose(npy(s @ T(v)), ref @ v, rtol=1e-10, atol=1e-12)
    c = rng.standard_normal((m, n))
    np.testing.assert_allclose(npy(ds.sparse.addmm(T(c), s, T(d), beta=0.5, alpha=2.0)), 0.5 * c + 2.0 * (ref @ d),
                               rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(npy(ds.addmm(T(c), s, T(d))), c + ref @ d, rtol=1e-10, atol=1e-12)


def test_products_on_non_contiguous_and_float32_operands():
    rng = np.random.default_rng(1)
    a = sp.random(30, 20, density=0.2, random_state=rng, dtype=np.float32)
    s = ds.tensor(a.toarray()).to_sparse_csr()
    d = rng.standard_normal((8, 20)).astype(np.float32)
    dt = T(d).t()  # a transposed (strided) view
    assert not dt.is_contiguous()
    np.testing.assert_allclose(npy(s @ dt), a @ d.T, rtol=1e-5, atol=1e-5)
    big = sp.random(300, 200, density=0.1, random_state=rng)  # large enough for the threaded path
    bd = rng.standard_normal((200, 70))
    np.testing.assert_allclose(npy(T(big.toarray()).to_sparse_csr() @ T(bd)), big @ bd, rtol=1e-10, atol=1e-10)
    left = rng.standard_normal((70, 300))
    np.testing.assert_allclose(npy(T(left) @ T(big.toarray()).to_sparse_csr()), left @ big, rtol=1e-10, atol=1e-10)


@SETTINGS
@given(shape=shapes, da=densities, db=densities, seed=st.integers(0, 2**16), layout=st.sampled_from(["coo", "csr"]))
def test_elementwise_between_sparse_tensors(shape, da, db, seed, layout):
    rng = np.random.default_rng(seed)
    a = sp.random(*shape, density=da, random_state=rng)
    b = sp.random(*shape, density=db, random_state=rng)
    conv = (lambda x: x.to_sparse_csr()) if layout == "csr" else (lambda x: x.to_sparse())
    sa, sb = conv(T(a.toarray())), conv(T(b.toarray()))
    for got, want in [(sa + sb, a + b), (sa - sb, a - b), (sa * sb, a.multiply(b)), (sa * 2.5, a * 2.5),
                      (3.0 * sa, 3.0 * a), (sa / 4.0, a / 4.0), (-sa, -a), (sa.abs(), abs(a)), (sa.t(), a.T),
                      (sa.transpose(0, 1), a.T)]:
        assert got.layout is sa.layout
        np.testing.assert_allclose(npy(got.to_dense()), want.toarray(), rtol=1e-12, atol=1e-12)
    assert (sa * sb)._nnz() <= min(sa._nnz(), sb._nnz())
    d = rng.standard_normal(shape)
    np.testing.assert_allclose(npy(sa + T(d)), a.toarray() + d, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(npy((sa * T(d)).to_dense()), a.multiply(d).toarray(), rtol=1e-12, atol=1e-12)


@SETTINGS
@given(shape=st.tuples(st.integers(1, 6), st.integers(1, 6), st.integers(1, 4)), density=densities,
       seed=st.integers(0, 2**16), dim=st.integers(-3, 2))
def test_sum_matches_dense(shape, density, seed, dim):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape) * (rng.random(shape) < density)
    s = T(a).to_sparse()
    np.testing.assert_allclose(float(ds.sparse.sum(s)), a.sum(), rtol=1e-12, atol=1e-12)
    r = ds.sparse.sum(s, dim)
    assert r.layout is ds.sparse_coo
    np.testing.assert_allclose(npy(r.to_dense()), a.sum(dim), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(npy(ds.sparse.sum(s, (0, 1, 2))), a.sum(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(npy(s.sum((0, 2)).to_dense()), a.sum((0, 2)), rtol=1e-12, atol=1e-12)


def _np_sparse_softmax(a, dim, log=False):
    """Softmax over the non-zero entries only (zeros stay zero), along ``dim``."""
    mask = a != 0
    x = np.where(mask, a, -np.inf)
    m = np.max(x, axis=dim, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    e = np.where(mask, np.exp(x - m), 0)
    tot = e.sum(axis=dim, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(mask, (x - m - np.log(tot)) if log else e / tot, 0)
    return out


@SETTINGS
@given(shape=st.tuples(st.integers(1, 6), st.integers(1, 6)), density=densities, seed=st.integers(0, 2**16),
       dim=st.integers(-2, 1), layout=st.sampled_from(["coo", "csr"]))
def test_softmax_over_stored_elements(shape, density, seed, dim, layout):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape) * 10 * (rng.random(shape) < density)
    s = T(a).to_sparse() if layout == "coo" else T(a).to_sparse_csr()
    got = ds.sparse.softmax(s, dim)
    assert got.layout is s.layout and got._nnz() == s._nnz()
    np.testing.assert_allclose(npy(got.to_dense()), _np_sparse_softmax(a, dim), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(npy(ds.sparse.log_softmax(s, dim).to_dense()), _np_sparse_softmax(a, dim, log=True),
                               rtol=1e-10, atol=1e-12)


def test_accessors_and_metadata():
    s = ds.sparse_coo_tensor([[0, 1, 1], [2, 0, 2]], [3.0, 4.0, 5.0], (2, 3))
    assert s.shape == (2, 3) and s.size(1) == 3 and s.ndim == 2 and s.dtype == ds.float32
    assert s.nnz == 3 and s.sparse_dim() == 2 and s.dense_dim() == 0 and s.numel() == 6
    assert s.is_coalesced() is False  # not claimed by the constructor
    assert ds.zeros(2).layout is ds.strided and not ds.zeros(2).is_sparse
    assert ds.zeros(2).to_dense() is not None
    assert not isinstance(s, ds.Tensor)  # a separate class: see deepseek/sparse/_tensor.py
    assert "sparse_coo" in repr(s)
    with pytest.raises(RuntimeError, match="uncoalesced"):
        s.indices()
    with pytest.raises(RuntimeError, match="layout"):
        s.crow_indices()
    inferred = ds.sparse_coo_tensor([[0, 4]], [1.0, 2.0])
    assert inferred.shape == (5,)
    d = ds.sparse_coo_tensor([[0, 1]], [1.0, 2.0], dtype=ds.float64)
    assert d.dtype == ds.float64 and d.double().dtype == ds.float64 and d.float().dtype == ds.float32
    z = s.clone().zero_()
    assert z._nnz() == 0 and not npy(z.to_dense()).any()


def test_bad_input_raises_clear_errors():
    with pytest.raises(RuntimeError, match="size is inconsistent with indices: for dim 1, size is 3 but found index 3"):
        ds.sparse_coo_tensor([[0, 1], [3, 0]], [1.0, 2.0], (2, 3))
    with pytest.raises(RuntimeError, match="negative index"):
        ds.sparse_coo_tensor([[0, -1], [1, 0]], [1.0, 2.0], (2, 3))
    with pytest.raises(RuntimeError, match="same nnz"):
        ds.sparse_coo_tensor([[0, 1], [1, 0]], [1.0, 2.0, 3.0], (2, 3))
    with pytest.raises(RuntimeError, match="sparse_dim x nnz"):
        ds.sparse_coo_tensor([0, 1], [1.0, 2.0], (2, 3))
    with pytest.raises(RuntimeError, match="is_coalesced=True"):
        ds.sparse_coo_tensor([[1, 0], [0, 0]], [1.0, 2.0], (2, 2), is_coalesced=True)
    with pytest.raises(RuntimeError, match="sorted and distinct within each row"):
        ds.sparse_csr_tensor([0, 2, 2], [2, 0], [1.0, 2.0], (2, 3))
    with pytest.raises(RuntimeError, match="sorted and distinct"):
        ds.sparse_csr_tensor([0, 2, 2], [1, 1], [1.0, 2.0], (2, 3))
    with pytest.raises(RuntimeError, match=r"col_indices must be in \[0, 3\)"):
        ds.sparse_csr_tensor([0, 1, 2], [0, 3], [1.0, 2.0], (2, 3))
    with pytest.raises(RuntimeError, match="must not decrease"):
        ds.sparse_csr_tensor([0, 2, 1, 2], [0, 1], [1.0, 2.0], (3, 3))
    with pytest.raises(RuntimeError, match="crow_indices"):
        ds.sparse_csr_tensor([0, 1, 3], [0, 1], [1.0, 2.0], (2, 3))
    with pytest.raises(RuntimeError, match="nrows \\+ 1"):
        ds.sparse_csr_tensor([0, 2], [0, 1], [1.0, 2.0], (2, 3))
    s = ds.sparse_coo_tensor([[0, 1], [1, 0]], [1.0, 2.0], (2, 3))
    with pytest.raises(RuntimeError, match=r"cannot be multiplied \(2x3 and 4x2\)"):
        s @ ds.zeros(4, 2)
    with pytest.raises(RuntimeError, match=r"cannot be multiplied \(5x4 and 2x3\)"):
        ds.zeros(5, 4) @ s
    with pytest.raises(RuntimeError, match="same dtype"):
        s @ ds.zeros(3, 2, dtype=ds.float64)
    with pytest.raises(RuntimeError, match="same shape"):
        s + ds.sparse_coo_tensor([[0], [0]], [1.0], (3, 3))
    with pytest.raises(RuntimeError, match="shapes must match"):
        s * ds.zeros(3, 3)
    with pytest.raises(RuntimeError, match="scalar"):
        s + 1.0
    with pytest.raises(TypeError):
        ds.add(s, s)  # a dense function refuses a sparse argument
    with pytest.raises(TypeError, match="to_dense"):
        np.asarray(s)


def test_kernels_refuse_bad_indices_directly():
    """The core's kernels check the invariants themselves: no index can reach memory."""
    v = ds.ones(2)
    with pytest.raises(RuntimeError, match="col_indices"):
        ds._core.sparse_csr_mm(T([0, 2]), T([0, 9]), v, ds.zeros(3, 2), 1)
    with pytest.raises(RuntimeError, match="crow_indices"):
        ds._core.sparse_csr_mm(T([0, 5]), T([0, 1]), v, ds.zeros(3, 2), 1)
    with pytest.raises(RuntimeError, match="int64"):
        ds._core.sparse_csr_mm(T([0, 2], ds.int32), T([0, 1]), v, ds.zeros(3, 2), 1)
    with pytest.raises(RuntimeError, match="float32 and float64"):
        ds._core.sparse_csr_mm(T([0, 2]), T([0, 1]), ds.ones(2, dtype=ds.int64), ds.zeros(3, 2), 1)
    with pytest.raises(RuntimeError, match="negative"):
        ds._core.sparse_coalesce_keys(T([3, -1]))
    with pytest.raises(RuntimeError, match="sorted"):
        ds._core.sparse_rows_to_crow(T([1, 0]), 2)


def test_sparse_times_sparse_and_sparse_mask():
    rng = np.random.default_rng(7)
    a = sp.random(6, 5, density=0.3, random_state=rng)
    b = sp.random(5, 4, density=0.4, random_state=rng)
    r = ds.sparse.mm(T(a.toarray()).to_sparse(), T(b.toarray()).to_sparse_csr())
    assert r.layout is ds.sparse_coo
    np.testing.assert_allclose(npy(r.to_dense()), (a @ b).toarray(), rtol=1e-12, atol=1e-12)
    d = rng.standard_normal((6, 5))
    m = T(d).sparse_mask(T(a.toarray()).to_sparse_csr())
    assert m.layout is ds.sparse_csr
    np.testing.assert_allclose(npy(m.to_dense()), np.where(a.toarray() != 0, d, 0.0))


def test_non_contiguous_parts_and_unsupported_forms():
    rng = np.random.default_rng(8)
    idx = np.array([[2, 0, 1, 0], [1, 2, 0, 2]])
    vals = rng.standard_normal(4)
    it = T(np.ascontiguousarray(idx.T)).t()  # a transposed view
    vt = T(np.stack([vals, vals]))[:, :][0::2].reshape(-1)
    assert not it.is_contiguous()
    s = ds.sparse_coo_tensor(it, vt, (3, 3))
    ref = sp.coo_matrix((vals, (idx[0], idx[1])), shape=(3, 3)).toarray()
    np.testing.assert_allclose(npy(s.to_dense()), ref)
    d = rng.standard_normal((3, 2))
    np.testing.assert_allclose(npy(s @ T(d)), ref @ d)
    hybrid = T(rng.standard_normal((3, 2))).to_sparse(sparse_dim=1)
    with pytest.raises(RuntimeError, match="without dense dims"):
        hybrid @ ds.zeros(2, 2, dtype=ds.float64)
    with pytest.raises(RuntimeError, match="float32 and float64"):
        ds.tensor([[1, 0], [0, 2]]).to_sparse_csr() @ ds.ones(2, 2, dtype=ds.int64)
    with pytest.raises(RuntimeError, match="only 2-D"):
        ds.zeros(2, 2, 2).to_sparse_csr()
