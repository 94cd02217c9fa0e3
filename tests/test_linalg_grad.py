"""Gradients of deepseek.linalg against central finite differences (autograd.gradcheck), and
second derivatives (gradgradcheck) for the functions whose backward is itself differentiable.
Small float64 matrices built well conditioned (distinct singular values/eigenvalues), batched."""
from __future__ import annotations

import numpy as np
import pytest

import deepseek as ds
from deepseek import autograd
from deepseek import linalg as LA


def leaf(a):
    return ds.tensor(np.ascontiguousarray(a), dtype=ds.float64, requires_grad=True)


def well(rng, shape, lo=0.6, hi=2.0):
    """Matrices with singular values spread in [lo, hi] (distinct), random signs."""
    *batch, m, n = shape
    k = min(m, n)
    u, _ = np.linalg.qr(rng.standard_normal((*batch, m, m)))
    v, _ = np.linalg.qr(rng.standard_normal((*batch, n, n)))
    s = np.linspace(hi, lo, k) * (1 + 0.05 * rng.random(k))
    return (u[..., :k] * s) @ np.swapaxes(v[..., :k], -1, -2)


def check(fn, *inputs, second=False):
    assert autograd.gradcheck(fn, inputs, eps=1e-6, atol=1e-6, rtol=1e-4)
    if second:
        assert autograd.gradgradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def test_inv_det_slogdet_gradients(rng):
    A = leaf(well(rng, (2, 3, 3)))
    check(LA.inv, A, second=True)
    check(LA.det, A, second=True)
    check(lambda a: LA.slogdet(a).logabsdet, A, second=True)
    check(ds.logdet, leaf(well(rng, (3, 3)) @ well(rng, (3, 3)).T + np.eye(3)))


def test_det_gradient_of_a_singular_matrix_is_the_cofactor_matrix():
    a = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [1.0, 0.0, 1.0]])
    A = leaf(a)
    LA.det(A).backward()
    cof = np.array([[np.linalg.det(np.delete(np.delete(a, i, 0), j, 1)) * (-1) ** (i + j) for j in range(3)]
                    for i in range(3)])
    np.testing.assert_allclose(np.asarray(A.grad), cof, atol=1e-10)


def test_solve_gradients_with_broadcast_and_vectors(rng):
    A = leaf(well(rng, (2, 3, 3)))
    B = leaf(rng.standard_normal((3, 2)))
    check(LA.solve, A, B, second=True)
    v = leaf(rng.standard_normal(3))
    check(LA.solve, A, v)
    check(lambda a, b: LA.solve(a, b, left=False), A, leaf(rng.standard_normal((2, 2, 3))))


def test_solve_triangular_gradients(rng):
    L = leaf(np.tril(well(rng, (3, 3))) + 2 * np.eye(3))
    B = leaf(rng.standard_normal((3, 2)))
    for upper, left, unit in ((False, True, False), (True, True, False), (False, False, True), (True, False, True)):
        M = L if not upper else leaf(np.asarray(L.detach()).T.copy())
        rhs = B if left else leaf(rng.standard_normal((2, 3)))
        check(lambda a, b: LA.solve_triangular(a, b, upper=upper, left=left, unitriangular=unit), M, rhs)
    check(lambda a, b: LA.solve_triangular(a, b, upper=False), L, B, second=True)


def test_cholesky_gradients(rng):
    X = leaf(well(rng, (2, 3, 3)))

    def f(x, upper=False):
        a = x @ x.mT + ds.eye(3, dtype=ds.float64)
        return LA.cholesky(a, upper=upper)

    check(f, X, second=True)
    check(lambda x: f(x, True), X)
    check(lambda b, x: ds.cholesky_solve(b, f(x)), leaf(rng.standard_normal((3, 2))), X)


@pytest.mark.parametrize("shape", [(4, 3), (3, 3), (2, 4), (2, 3, 2)])
def test_qr_gradients(rng, shape):
    A = leaf(well(rng, shape))
    check(lambda a: LA.qr(a), A)
    if shape == (3, 3):
        check(lambda a: LA.qr(a), A, second=True)
        check(lambda a: LA.qr(a, mode="complete"), A)


def test_qr_backward_refuses_what_pytorch_refuses():
    A = leaf(np.eye(3)[:, :2] + 0.1)
    with pytest.raises(RuntimeError, match="mode='complete' and nrows > ncols"):
        LA.qr(A, mode="complete").Q.sum().backward()
    with pytest.raises(RuntimeError, match="not computed when mode='r'"):
        LA.qr(A, mode="r").R.sum().backward()


@pytest.mark.parametrize("shape", [(3, 3), (4, 2), (2, 4), (2, 3, 2)])
def test_svd_gradients_of_sign_invariant_losses(rng, shape):
    A = leaf(well(rng, shape))

    def f(a):
        # |U| and |Vh| do not depend on the vectors' signs, as the gradient requires
        U, S, Vh = LA.svd(a, full_matrices=False)
        return U.abs(), S, Vh.abs()

    check(f, A)
    check(LA.svdvals, A, second=True)
    check(lambda a: LA.matrix_norm(a, "nuc"), A)
    check(lambda a: LA.matrix_norm(a, 2), A)
    check(lambda a: (LA.svd(a).U[..., :, :1] * LA.svd(a).Vh[..., :1, :]), A)


def test_eigh_gradients(rng):
    X = leaf(well(rng, (2, 3, 3)))

    def f(x):
        w, V = LA.eigh(x + x.mT)
        return w, V.abs()

    check(f, X)
    check(lambda x: LA.eigvalsh(x + x.mT), X, second=True)
    check(lambda x: LA.eigh(x + x.mT, UPLO="U").eigenvectors.abs(), X)


def test_pinv_lstsq_gradients(rng):
    for shape in ((4, 3), (3, 4), (3, 3)):
        A = leaf(well(rng, shape))
        check(LA.pinv, A, second=shape == (3, 3))
    A = leaf(well(rng, (5, 3)))
    B = leaf(rng.standard_normal((5, 2)))
    check(lambda a, b: LA.lstsq(a, b).solution, A, B)


def test_norm_gradients_and_the_zero_vector(rng):
    x = leaf(rng.standard_normal((3, 4)))
    for ord in (2, 1, 3, -2.5, float("inf"), -float("inf")):
        check(lambda t: LA.vector_norm(t, ord, dim=-1), x)
    check(lambda t: LA.vector_norm(t), x, second=True)
    for ord in ("fro", 1, -1, float("inf"), -float("inf")):
        check(lambda t: LA.matrix_norm(t, ord), x)
    z = ds.zeros(3, dtype=ds.float64, requires_grad=True)
    LA.vector_norm(z).backward()
    assert np.asarray(z.grad).tolist() == [0.0, 0.0, 0.0]


def test_composed_functions_gradients(rng):
    A = leaf(well(rng, (3, 3)) * 0.5)
    check(lambda a: LA.matrix_power(a, 3), A)
    check(lambda a: LA.matrix_power(a, -2), A)
    check(LA.matrix_exp, A)
    B, Cm = leaf(rng.standard_normal((3, 4))), leaf(rng.standard_normal((4, 2)))
    check(lambda a, b, c: LA.multi_dot([a, b, c]), A, B, Cm)
    x, y = leaf(rng.standard_normal((2, 3))), leaf(rng.standard_normal((2, 3)))
    check(lambda a, b: LA.cross(a, b), x, y)
    check(lambda a, b: LA.vecdot(a, b), x, y)
    check(lambda a: LA.cond(a), A)


def test_gradients_reach_non_contiguous_inputs(rng):
    base = leaf(well(rng, (3, 3)))
    LA.inv(base.mT).sum().backward()
    X = np.linalg.inv(np.asarray(base.detach()).T)
    np.testing.assert_allclose(np.asarray(base.grad), -(X @ np.ones((3, 3)) @ X), atol=1e-10)


@pytest.mark.parametrize("shape", [(3, 3), (2, 4), (4, 2), (2, 3, 3)])
def test_lu_gradients(rng, shape):
    A = leaf(well(rng, shape))
    check(lambda a: LA.lu(a)[1:], A)
    check(lambda a: LA.lu_factor(a).LU, A)
    if shape[-1] == shape[-2]:
        LU, piv = LA.lu_factor(A.detach())
        check(lambda lu, b: LA.lu_solve(lu, piv, b), leaf(np.asarray(LU)), leaf(rng.standard_normal(shape[:-1] + (2,))))


def test_householder_product_gradients(rng):
    A, tau = leaf(rng.standard_normal((4, 3))), leaf(rng.uniform(0.5, 1.5, 3))
    check(LA.householder_product, A, tau)
