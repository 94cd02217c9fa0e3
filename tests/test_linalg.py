"""deepseek.linalg against NumPy/SciPy in float64: random well-conditioned matrices (built as
Q1 diag(s) Q2^T with bounded s) over batch shapes including 0-size batches, non-contiguous
views, half precision, PyTorch's result types, and the errors PyTorch raises."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg as sla
from hypothesis import given, settings, strategies as st

import deepseek as ds
from deepseek import linalg as LA

BATCHES = [(), (0,), (1,), (3,), (2, 2), (2, 0)]


def T(a, dtype=None):
    return ds.tensor(np.ascontiguousarray(a), dtype=dtype)


def N(t):
    return np.asarray(t.detach().to(ds.float64))


def orth(rng, n, batch):
    q, _ = np.linalg.qr(rng.standard_normal(batch + (n, n)))
    return q


def general(rng, batch, m, n):
    """A batch of m x n matrices with singular values in [0.5, 2]."""
    k = min(m, n)
    u = orth(rng, m, batch)[..., :k]
    v = orth(rng, n, batch)[..., :k]
    s = rng.uniform(0.5, 2.0, batch + (k,))
    return (u * s[..., None, :]) @ np.swapaxes(v, -1, -2)


def spd(rng, batch, n):
    q = orth(rng, n, batch)
    s = rng.uniform(0.5, 3.0, batch + (n,))
    return (q * s[..., None, :]) @ np.swapaxes(q, -1, -2)


def sym(rng, batch, n):
    q = orth(rng, n, batch)
    s = np.sort(rng.uniform(-3, 3, batch + (n,)), -1) + np.arange(n) * 0.3  # distinct eigenvalues
    return (q * s[..., None, :]) @ np.swapaxes(q, -1, -2)


case = st.tuples(st.sampled_from(BATCHES), st.integers(1, 5), st.integers(0, 2**31 - 1))


def close(got, ref, tol=1e-9):
    np.testing.assert_allclose(N(got), ref, rtol=tol, atol=tol)


@settings(max_examples=25)
@given(case)
def test_inv_det_slogdet_solve_match_numpy(c):
    batch, n, seed = c
    rng = np.random.default_rng(seed)
    a = general(rng, batch, n, n) * rng.choice([-1.0, 1.0], batch + (1, 1))
    b = rng.standard_normal(batch + (n, 2))
    A = T(a)
    close(LA.inv(A), np.linalg.inv(a) if a.size else a)
    close(LA.det(A), np.linalg.det(a) if a.size else np.ones(batch))
    sign, logabs = LA.slogdet(A)
    rs, rl = np.linalg.slogdet(a) if a.size else (np.ones(batch), np.zeros(batch))
    close(sign, rs)
    close(logabs, rl)
    close(LA.solve(A, T(b)), np.linalg.solve(a, b) if a.size else b)
    # B as a batch of vectors, and the right-side form X A = B
    v = rng.standard_normal(batch + (n,))
    close(LA.solve(A, T(v)), np.linalg.solve(a, v[..., None])[..., 0] if a.size else v)
    bt = rng.standard_normal(batch + (2, n))
    ref = np.swapaxes(np.linalg.solve(np.swapaxes(a, -1, -2), np.swapaxes(bt, -1, -2)), -1, -2) if a.size else bt
    close(LA.solve(A, T(bt), left=False), ref)


def test_solve_broadcasts_batch_dims_and_reads_strided_views():
    rng = np.random.default_rng(0)
    a = general(rng, (3,), 4, 4)
    b = rng.standard_normal((2, 1, 4, 5))
    close(LA.solve(T(a), T(b)), np.linalg.solve(a[None], b))
    # a transposed view and a strided slice go through the same kernels
    At = T(np.swapaxes(a, -1, -2).copy()).mT
    assert not At.is_contiguous()
    close(LA.inv(At), np.linalg.inv(a))
    big = T(rng.standard_normal((4, 8)))
    sl = big[:, ::2]
    close(LA.det(sl), np.linalg.det(N(big)[:, ::2]))


@settings(max_examples=25)
@given(case)
def test_cholesky_and_triangular_solve_match_scipy(c):
    batch, n, seed = c
    rng = np.random.default_rng(seed)
    a = spd(rng, batch, n)
    A = T(a)
    L = LA.cholesky(A)
    close(L, np.linalg.cholesky(a) if a.size else a)
    close(LA.cholesky(A, upper=True), np.swapaxes(np.linalg.cholesky(a), -1, -2) if a.size else a)
    L_ex, info = LA.cholesky_ex(A)
    assert info.dtype == ds.int32 and tuple(info.shape) == batch and not N(info).any()
    b = rng.standard_normal(batch + (n, 3))
    l = N(L)
    for upper, unit in ((False, False), (True, False), (False, True), (True, True)):
        tri = np.swapaxes(l, -1, -2) if upper else l
        got = LA.solve_triangular(T(tri), T(b), upper=upper, unitriangular=unit)
        ref = np.empty_like(b)
        for idx in np.ndindex(*batch):
            ref[idx] = sla.solve_triangular(tri[idx], b[idx], lower=not upper, unit_diagonal=unit)
        close(got, ref, 1e-8)
    # X A = B with a lower-triangular A
    bt = rng.standard_normal(batch + (3, n))
    got = LA.solve_triangular(L, T(bt), upper=False, left=False)
    close(got @ L, bt, 1e-8)


@settings(max_examples=25)
@given(st.sampled_from(BATCHES), st.integers(1, 5), st.integers(1, 5), st.integers(0, 2**31 - 1))
def test_qr_svd_factor_and_match_numpy(batch, m, n, seed):
    rng = np.random.default_rng(seed)
    a = general(rng, batch, m, n)
    A = T(a)
    k = min(m, n)
    for mode in ("reduced", "complete"):
        Q, R = LA.qr(A, mode=mode)
        q, r = N(Q), N(R)
        rq, rr = np.linalg.qr(a, mode=mode) if a.size else (None, None)
        assert q.shape == batch + (m, k if mode == "reduced" else m)
        close(Q @ R, a)
        close(Q.mT @ Q, np.broadcast_to(np.eye(q.shape[-1]), q.shape[:-2] + (q.shape[-1],) * 2))
        assert np.allclose(np.tril(r, -1), 0)
        if a.size:  # the same R up to the signs of its rows
            np.testing.assert_allclose(np.abs(r), np.abs(rr), atol=1e-9)
    Q, R = LA.qr(A, mode="r")
    assert tuple(Q.shape) == (0,) and tuple(R.shape) == batch + (k, n)
    U, S, Vh = LA.svd(A, full_matrices=False)
    close(S, np.linalg.svd(a, compute_uv=False) if a.size else np.zeros(batch + (k,)))
    close((U * S.unsqueeze(-2)) @ Vh, a)
    close(LA.svdvals(A), N(S))
    U, S, Vh = LA.svd(A)
    assert tuple(U.shape) == batch + (m, m) and tuple(Vh.shape) == batch + (n, n)
    close(U.mT @ U, np.broadcast_to(np.eye(m), batch + (m, m)))
    close(Vh @ Vh.mT, np.broadcast_to(np.eye(n), batch + (n, n)))


@settings(max_examples=25)
@given(case)
def test_eigh_matches_numpy(c):
    batch, n, seed = c
    rng = np.random.default_rng(seed)
    a = sym(rng, batch, n)
    A = T(a)
    w, V = LA.eigh(A)
    close(w, np.linalg.eigvalsh(a) if a.size else np.zeros(batch + (n,)))
    close((V * w.unsqueeze(-2)) @ V.mT, a)
    close(LA.eigvalsh(A), N(w))
    # only the named triangle is read
    junk = a + np.triu(rng.standard_normal(a.shape), 1)
    close(LA.eigvalsh(T(junk)), N(w))
    junk = a + np.tril(rng.standard_normal(a.shape), -1)
    close(LA.eigvalsh(T(junk), UPLO="U"), N(w))


@settings(max_examples=20)
@given(st.sampled_from([(), (2,), (0,)]), st.integers(1, 5), st.integers(1, 5), st.integers(0, 2**31 - 1))
def test_pinv_lstsq_rank_match_numpy(batch, m, n, seed):
    rng = np.random.default_rng(seed)
    a = general(rng, batch, m, n)
    A = T(a)
    close(LA.pinv(A), np.linalg.pinv(a) if a.size else np.zeros(batch + (n, m)), 1e-8)
    assert (N(LA.matrix_rank(A)) == min(m, n)).all()
    b = rng.standard_normal(batch + (m, 2))
    sol = LA.lstsq(A, T(b), driver="gelsd")
    ref = np.linalg.pinv(a) @ b if a.size else np.zeros(batch + (n, 2))
    close(sol.solution, ref, 1e-8)
    close(sol.singular_values, np.linalg.svd(a, compute_uv=False) if a.size else np.zeros(batch + (min(m, n),)))
    if m > n and a.size:
        close(sol.residuals, ((a @ ref - b) ** 2).sum(-2), 1e-8)
    else:
        assert sol.residuals.numel() == 0
    # a rank-deficient matrix: rank and the minimum-norm solution
    low = a[..., :, :1] * np.ones(n)
    assert (N(LA.matrix_rank(T(low))) == 1).all()
    close(LA.pinv(T(low)), np.linalg.pinv(low) if low.size else np.zeros(batch + (n, m)), 1e-8)


def test_lstsq_fields_follow_the_driver_and_accept_vectors():
    rng = np.random.default_rng(1)
    a, b = general(rng, (), 5, 3), rng.standard_normal(5)
    r = LA.lstsq(T(a), T(b))
    assert type(r).__name__ == "lstsq" and r._fields == ("solution", "residuals", "rank", "singular_values")
    close(r.solution, np.linalg.lstsq(a, b, rcond=None)[0])
    assert r.residuals.numel() == 0 and int(r.rank) == 3 and r.singular_values.numel() == 0
    r = LA.lstsq(T(a), T(b), driver="gels")
    assert r.rank.numel() == 0
    r = LA.lstsq(T(a), T(b), driver="gelss")
    close(r.residuals, np.linalg.lstsq(a, b, rcond=None)[1][0])
    with pytest.raises(RuntimeError, match="driver"):
        LA.lstsq(T(a), T(b), driver="nope")


@settings(max_examples=20)
@given(st.sampled_from([(), (2,), (0,)]), st.integers(1, 4), st.integers(1, 4), st.integers(0, 2**31 - 1))
def test_norms_match_numpy(batch, m, n, seed):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(batch + (m, n))
    A = T(a)
    for ord in (2, 1, 3.5, -1.5, np.inf, -np.inf, 0):
        ref = np.linalg.norm(a.reshape(batch + (-1,)), ord=ord, axis=-1) if a.size else np.zeros(batch)
        if (ord < 0 or ord == np.inf) and a.size == 0:
            continue
        close(LA.vector_norm(A, ord, dim=(-2, -1)), ref, 1e-8)
    close(LA.vector_norm(A, 2, dim=-1, keepdim=True), np.linalg.norm(a, axis=-1, keepdims=True))
    if not a.size:
        return
    for ord in ("fro", "nuc", np.inf, -np.inf, 1, -1, 2, -2):
        close(LA.matrix_norm(A, ord), np.linalg.norm(a, ord=ord, axis=(-2, -1)), 1e-8)
    close(LA.matrix_norm(A, 1, dim=(-1, -2), keepdim=True), np.linalg.norm(a, 1, axis=(-1, -2), keepdims=True))
    close(LA.norm(A), np.linalg.norm(a.reshape(-1)))
    close(LA.norm(A, dim=(-2, -1)), np.linalg.norm(a, axis=(-2, -1)))
    if a.ndim == 2:
        close(LA.norm(A, "nuc"), np.linalg.norm(a, "nuc"))
    if m == n:
        close(LA.cond(A), np.linalg.cond(a), 1e-6)
        close(LA.cond(A, "fro"), np.linalg.cond(a, "fro"), 1e-6)


def test_matrix_power_exp_multi_dot_cross_vecdot():
    rng = np.random.default_rng(2)
    a = general(rng, (2,), 3, 3)
    A = T(a)
    for k in (0, 1, 2, 5, -1, -3):
        close(LA.matrix_power(A, k), np.linalg.matrix_power(a, k), 1e-8)
    close(LA.matrix_exp(A), np.stack([sla.expm(x) for x in a]), 1e-10)
    big = a[0] * 30
    close(LA.matrix_exp(T(big)), sla.expm(big), 1e-7)
    ms = [rng.standard_normal(s) for s in [(4,), (4, 2), (2, 6), (6, 3), (3,)]]
    close(LA.multi_dot([T(x) for x in ms]), np.linalg.multi_dot(ms))
    x, y = rng.standard_normal((2, 4, 3)), rng.standard_normal((4, 3))
    close(LA.cross(T(x), T(y[None].repeat(2, 0))), np.cross(x, y))
    close(LA.vecdot(T(x), T(y)), (x * y).sum(-1))
    close(LA.diagonal(A, offset=1), np.diagonal(a, 1, -2, -1))
    close(LA.vander(T(np.array([1.0, 2.0, 3.0]))), np.vander([1.0, 2.0, 3.0], increasing=True))
    t = rng.standard_normal((4, 2, 2, 4)) + np.eye(8).reshape(4, 2, 2, 4) * 3
    close(LA.tensorinv(T(t)), np.linalg.tensorinv(t), 1e-8)
    rhs = rng.standard_normal((4, 2))
    close(LA.tensorsolve(T(t), T(rhs)), np.linalg.tensorsolve(t, rhs), 1e-8)


def test_result_types_and_top_level_aliases():
    rng = np.random.default_rng(3)
    a = spd(rng, (2,), 3)
    A = T(a)
    assert LA.slogdet(A)._fields == ("sign", "logabsdet")
    assert LA.qr(A)._fields == ("Q", "R")
    assert LA.svd(A)._fields == ("U", "S", "Vh")
    assert LA.eigh(A)._fields == ("eigenvalues", "eigenvectors")
    assert LA.inv_ex(A)._fields == ("inverse", "info")
    assert LA.cholesky_ex(A)._fields == ("L", "info")
    close(ds.det(A), np.linalg.det(a))
    close(A.det(), np.linalg.det(a))
    close(A.inverse(), np.linalg.inv(a))
    close(ds.inverse(A), np.linalg.inv(a))
    close(ds.logdet(A), np.log(np.linalg.det(a)))
    assert np.isnan(N(ds.logdet(T(-np.eye(3))))).all()
    close(A.slogdet()[1], np.linalg.slogdet(a)[1])
    close(ds.cholesky(A, True), np.swapaxes(np.linalg.cholesky(a), -1, -2))
    L = ds.cholesky(A)
    b = rng.standard_normal((2, 3, 2))
    close(ds.cholesky_solve(T(b), L), np.linalg.solve(a, b))
    close(ds.cholesky_inverse(L), np.linalg.inv(a))
    U, S, V = ds.svd(A)
    close((U * S.unsqueeze(-2)) @ V.mT, a)
    close(ds.pinverse(A), np.linalg.pinv(a))
    close(A.matrix_power(2), a @ a)
    X, Acopy = ds.triangular_solve(T(b), L, upper=False)
    close(L @ X, b)
    close(ds.chain_matmul(A[0], A[1]), a[0] @ a[1])
    Q, R = ds.qr(A)
    close(Q @ R, a)


def test_half_types_compute_in_float32():
    rng = np.random.default_rng(4)
    a = spd(rng, (), 4).astype(np.float32)
    for dt in (ds.float32, ds.float16, ds.bfloat16):
        A = T(a).to(dt)
        r = LA.inv(A)
        assert r.dtype == dt
        ref = np.linalg.inv(np.asarray(A.to(ds.float64)))
        tol = 1e-5 if dt == ds.float32 else 5e-2
        np.testing.assert_allclose(N(r), ref, rtol=tol, atol=tol)
        assert LA.cholesky(A).dtype == dt and LA.eigvalsh(A).dtype == dt and LA.svdvals(A).dtype == dt


def test_singular_and_non_pd_inputs_raise_pytorchs_errors():
    sing = T(np.array([[1.0, 2.0], [2.0, 4.0]]))
    with pytest.raises(LA.LinAlgError, match=r"linalg.inv: The diagonal element 2 is zero, the inversion could not "
                                             r"be completed because the input matrix is singular."):
        LA.inv(sing)
    assert issubclass(LA.LinAlgError, RuntimeError)
    batch = T(np.stack([np.eye(2), [[1.0, 2.0], [2.0, 4.0]]]))
    with pytest.raises(RuntimeError, match=r"\(Batch element 1\): The diagonal element 2 is zero"):
        LA.inv(batch)
    inv, info = LA.inv_ex(batch)
    assert N(info).tolist() == [0, 2]
    with pytest.raises(RuntimeError, match="The solver failed because the input matrix is singular"):
        LA.solve(sing, T(np.ones(2)))
    assert float(LA.det(sing)) == 0.0
    sign, logabs = LA.slogdet(sing)
    assert float(sign) == 0 and float(logabs) == -np.inf
    not_pd = T(np.array([[1.0, 0, 0], [0, 1, 2], [0, 2, 1]]))
    with pytest.raises(RuntimeError, match=r"linalg.cholesky: The factorization could not be completed because the "
                                           r"input is not positive-definite \(the leading minor of order 3 is not "
                                           r"positive-definite\)."):
        LA.cholesky(not_pd)
    assert int(LA.cholesky_ex(not_pd).info) == 3


def test_bad_shapes_and_dtypes_raise():
    with pytest.raises(RuntimeError, match="must be batches of square matrices, but they are 2 by 3 matrices"):
        LA.inv(ds.zeros(2, 3))
    with pytest.raises(RuntimeError, match="at least 2 dimensions"):
        LA.det(ds.zeros(3))
    with pytest.raises(RuntimeError, match="Expected a floating point or complex tensor as input. Got Long"):
        LA.inv(ds.ones(2, 2, dtype=ds.int64))
    with pytest.raises(RuntimeError, match="same dtype"):
        LA.solve(ds.eye(2), ds.ones(2, dtype=ds.float32).to(ds.float64))
    with pytest.raises(RuntimeError, match="Incompatible shapes"):
        LA.solve(ds.eye(3), ds.ones(2, 1))
    with pytest.raises(TypeError):
        LA.inv([[1.0, 0.0], [0.0, 1.0]])
    with pytest.raises(RuntimeError, match="unrecognized mode"):
        LA.qr(ds.eye(2), mode="full")
    with pytest.raises(RuntimeError, match="UPLO"):
        LA.eigh(ds.eye(2), UPLO="X")
    with pytest.raises(RuntimeError, match="Order 3 not supported"):
        LA.matrix_norm(ds.eye(2), 3)
    with pytest.raises(RuntimeError, match="empty tensor"):
        LA.vector_norm(ds.zeros(0), float("inf"))
    with pytest.raises(RuntimeError, match="expected at least 2 tensors"):
        LA.multi_dot([ds.eye(2)])
    with pytest.raises(RuntimeError, match="must have length 3"):
        LA.cross(ds.ones(2, 4), ds.ones(2, 4))
    with pytest.raises(RuntimeError, match="did not converge|failed to converge"):
        LA.svd(T(np.full((3, 3), np.nan)))


@settings(max_examples=20)
@given(st.sampled_from([(), (2,), (0,)]), st.integers(1, 4), st.integers(1, 4), st.integers(0, 2**31 - 1))
def test_lu_family_matches_scipy(batch, m, n, seed):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(batch + (m, n))
    A = T(a)
    LU, piv = LA.lu_factor(A)
    assert piv.dtype == ds.int32 and tuple(piv.shape) == batch + (min(m, n),)
    for idx in np.ndindex(*batch):
        lu_ref, piv_ref = sla.lu_factor(a[idx]) if m == n else (None, None)
        if m == n:  # SciPy's lu_factor is square-only; LAPACK's getrf gives the same pivots
            np.testing.assert_allclose(N(LU)[idx], lu_ref, atol=1e-10)
            assert (N(piv)[idx] - 1 == piv_ref).all()
    P, L, U = LA.lu(A)
    close(P @ L @ U, a)
    assert np.allclose(np.triu(N(L), 1), 0) and np.allclose(np.tril(N(U), -1), 0)
    if m == n:
        b = rng.standard_normal(batch + (m, 2))
        sq = a + 3 * np.eye(m)
        LU, piv = LA.lu_factor(T(sq))
        close(LA.lu_solve(LU, piv, T(b)), np.linalg.solve(sq, b) if sq.size else b, 1e-8)
        close(LA.lu_solve(LU, piv, T(b), adjoint=True), np.linalg.solve(np.swapaxes(sq, -1, -2), b) if sq.size else b, 1e-8)
        bt = np.swapaxes(b, -1, -2)
        ref = np.swapaxes(np.linalg.solve(np.swapaxes(sq, -1, -2), b), -1, -2) if sq.size else bt
        close(LA.lu_solve(LU, piv, T(bt), left=False), ref, 1e-8)
        close(ds.lu_solve(T(b), LU, piv), np.linalg.solve(sq, b) if sq.size else b, 1e-8)
        P2, L2, U2 = ds.lu_unpack(*ds.lu(T(sq)))
        close(P2 @ L2 @ U2, sq)


def test_lu_factor_of_a_singular_matrix():
    sing = T(np.array([[1.0, 2.0], [2.0, 4.0]]))
    with pytest.raises(RuntimeError, match=r"U\[2,2\] is zero"):
        LA.lu_factor(sing)
    assert int(LA.lu_factor_ex(sing).info) == 2
    with pytest.raises(RuntimeError, match="without pivoting"):
        LA.lu_factor(sing, pivot=False)


def test_householder_product_and_ormqr_match_lapack():
    rng = np.random.default_rng(5)
    a = rng.standard_normal((5, 3))
    qr, tau, _, info = sla.lapack.dgeqrf(a)
    assert info == 0
    q_ref = sla.lapack.dorgqr(qr, tau)[0]
    close(LA.householder_product(T(qr), T(tau)), q_ref)
    close(ds.orgqr(T(qr), T(tau)), q_ref)
    c = rng.standard_normal((5, 2))
    full_q = sla.lapack.dorgqr(np.hstack([qr, np.zeros((5, 2))]), np.concatenate([tau, [0.0, 0.0]]))[0]
    close(ds.ormqr(T(qr), T(tau), T(c)), full_q @ c)
    close(ds.ormqr(T(qr), T(tau), T(c), transpose=True), full_q.T @ c)
    close(T(qr).ormqr(T(tau), T(c.T), left=False), c.T @ full_q)
    batch = np.stack([qr, qr])
    close(LA.householder_product(T(batch), T(np.stack([tau, tau]))), np.stack([q_ref, q_ref]))


DEVICES = [d for d in __import__("deepseek.testing", fromlist=["available_devices"]).available_devices() if d != "cpu"]
_R = np.random.default_rng(7)
_SPD = spd(_R, (2,), 3).astype(np.float32)
_B = _R.standard_normal((2, 3, 2)).astype(np.float32)
DEVICE_CASES = {
    "inv": lambda t: LA.inv(t(_SPD)),
    "det": lambda t: LA.det(t(_SPD)),
    "solve": lambda t: LA.solve(t(_SPD), t(_B)),
    "cholesky": lambda t: LA.cholesky(t(_SPD)),
    "svdvals": lambda t: LA.svdvals(t(_B)),
    "eigvalsh": lambda t: LA.eigvalsh(t(_SPD)),
    "matrix_norm": lambda t: LA.matrix_norm(t(_B), "nuc"),
    "qr": lambda t: LA.qr(t(_SPD)).R.abs(),
}


@pytest.mark.skipif(not DEVICES, reason="no device besides the CPU")
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", sorted(DEVICE_CASES))
def test_device_tensors_go_through_the_cpu_kernels_and_back(name, device):
    def run(dev):
        made = []

        def t(a):
            x = ds.tensor(a, device=dev, requires_grad=True)
            made.append(x)
            return x

        out = DEVICE_CASES[name](t)
        assert out.device.type == ds.device(dev).type
        out.sum().backward()
        return N(out.cpu()), [N(m.grad.cpu()) for m in made]

    ref, ref_g = run("cpu")
    got, got_g = run(device)
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-5)
    for a, b in zip(got_g, ref_g):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


def test_empty_matrices():
    z = ds.zeros(0, 0, dtype=ds.float64)
    assert tuple(LA.inv(z).shape) == (0, 0) and tuple(LA.cholesky(z).shape) == (0, 0)
    close(LA.det(ds.zeros(2, 0, 0)), np.ones(2))
    assert [tuple(t.shape) for t in LA.eigh(z)] == [(0,), (0, 0)]
    assert [tuple(t.shape) for t in LA.qr(ds.zeros(3, 0))] == [(3, 0), (0, 0)]
    assert [tuple(t.shape) for t in LA.svd(ds.zeros(0, 3), full_matrices=False)] == [(0, 0), (0,), (0, 3)]
    assert tuple(LA.solve(z, ds.zeros(0, 2, dtype=ds.float64)).shape) == (0, 2)
    assert tuple(LA.pinv(ds.zeros(3, 0)).shape) == (0, 3)
    assert int(LA.matrix_rank(ds.zeros(2, 0))) == 0
    assert tuple(LA.svdvals(ds.zeros(2, 0, 4)).shape) == (2, 0)
    U, S, Vh = LA.svd(ds.zeros(3, 0))
    close(U, np.eye(3))
    assert tuple(S.shape) == (0,) and tuple(Vh.shape) == (0, 0)
