"""The LU family: lu_factor(_ex), lu, lu_solve and the older top-level lu, lu_unpack, lu_solve.
The factorisation is faer's partial-pivoting LU (CPU), returned in LAPACK's packed form with
1-based pivots; its backward is PyTorch's (square, wide and tall cases). ``lu``, ``lu_unpack``
and ``lu_solve`` are composed from differentiable ops on top of it."""
from __future__ import annotations

import numpy as np

from .. import _core, _ops
from .._creation import from_numpy as _from_numpy, zeros_like as _zeros_like
from .._core import Tensor
from ..autograd.function import Function
from . import _common as C
from ._common import mT, matmul
from ._solve import solve_triangular


def _perm_indices(pivots: Tensor, m: int) -> np.ndarray:
    """For LAPACK pivots [..., k]: ``perm`` [..., m] with row i of ``L U`` = row perm[i] of A."""
    piv = np.asarray(pivots.detach().cpu()).astype(np.int64) - 1
    batch = piv.shape[:-1]
    perm = np.broadcast_to(np.arange(m), batch + (m,)).copy()
    flat_p, flat_v = perm.reshape(-1, m), piv.reshape(-1, piv.shape[-1])
    for b in range(flat_p.shape[0]):
        row = flat_p[b]
        for i, j in enumerate(flat_v[b]):
            if not 0 <= j < m:
                raise RuntimeError(f"lu_unpack: pivots must be in [1, {m}], got {j + 1}")
            row[i], row[j] = row[j], row[i]
    return perm


def _perm_matrix(pivots: Tensor, m: int, like: Tensor) -> Tensor:
    """The permutation matrix P of ``A = P L U``."""
    perm = _perm_indices(pivots, m)
    P = np.zeros(perm.shape + (m,))
    np.put_along_axis(P, perm[..., :, None], 1.0, axis=-1)  # P^T[i, perm[i]] = 1
    t = _from_numpy(np.ascontiguousarray(np.swapaxes(P, -1, -2))).to(like.dtype)
    return t if like._device == "cpu" else _core.to_device(t, like._device)


def _unpack(LU, m, n):
    k = min(m, n)
    L = _ops.tril(LU, -1)[..., :, :k] + C.eye_like(LU, max(m, k))[:m, :k]
    U = _ops.triu(LU)[..., :k, :]
    return L, U


def _lu_backward(gL, gU, P, L, U):
    m, n = L.shape[-2], U.shape[-1]
    k = min(m, n)
    if m == n:
        gA = _ops.tril(matmul(mT(L), gL), -1) + _ops.triu(matmul(gU, mT(U)))
        gA = solve_triangular(mT(U), gA, upper=False, left=False)
        gA = solve_triangular(mT(L), gA, upper=True, unitriangular=True)
    elif m < n:
        X = _ops.tril(matmul(mT(L), gL) - matmul(_ops.triu(gU), mT(U)), -1)
        X = solve_triangular(mT(U[..., :, :k]), X, upper=False, left=False)
        gA = _ops.cat([X + _ops.triu(gU[..., :, :k]), gU[..., :, k:]], -1)
        gA = solve_triangular(mT(L), gA, upper=True, unitriangular=True)
    else:
        X = _ops.triu(matmul(gU, mT(U)) - matmul(mT(L), _ops.tril(gL, -1)))
        X = solve_triangular(mT(L[..., :k, :]), X, upper=True, unitriangular=True)
        gA = _ops.cat([X + _ops.tril(gL[..., :k, :], -1), gL[..., k:, :]], -2)
        gA = solve_triangular(mT(U), gA, upper=False, left=False)
    return matmul(P, gA)


class _LUFactor(Function):
    @staticmethod
    def forward(ctx, A):
        LU, piv, info = C.on_cpu(_core.linalg_lu_factor, A)
        ctx.mark_non_differentiable(piv, info)
        ctx.save_for_backward(LU, piv)
        return LU, piv, info

    @staticmethod
    def backward(ctx, gLU, *_):
        LU, piv = ctx.saved_tensors
        m, n = LU.shape[-2], LU.shape[-1]
        k = min(m, n)
        L, U = _unpack(LU, m, n)
        gL = _ops.tril(gLU, -1)[..., :, :k]
        gU = _ops.triu(gLU)[..., :k, :]
        return _lu_backward(gL, gU, _perm_matrix(piv, m, LU), L, U)


def _check_pivot(op, pivot):
    if not pivot:
        raise RuntimeError(f"{op}: LU without pivoting is not implemented on the CPU")


def lu_factor_ex(A, *, pivot=True, check_errors=False, out=None):
    """lu_factor_ex(A, *, pivot=True, check_errors=False) -> (LU, pivots, info)

    The LU factorisation with partial pivoting of each m x n matrix in LAPACK's packed form:
    ``L`` (unit diagonal, not stored) below the diagonal of ``LU``, ``U`` on and above it;
    ``pivots`` the 1-based row swaps (int32); ``info`` the 1-based index of the first zero
    pivot (0 when none). faer on the CPU. Differentiable in ``LU``.
    """
    C.check("linalg.lu_factor_ex", A)
    _check_pivot("linalg.lu_factor_ex", pivot)
    LU, piv, info = _LUFactor.apply(A)
    if check_errors:
        C.raise_info("torch.linalg.lu_factor_ex", info, A.shape[:-2],
                     lambda v: f"U[{v},{v}] is zero and using it on lu_solve would result in a division by zero. "
                               "If you still want to perform the factorization, consider calling linalg.lu(A, pivot) "
                               "or linalg.lu_factor_ex(A, pivot)")
    return C.out_(C.named("lu_factor_ex", "LU pivots info", LU, piv, info), out)


def lu_factor(A, *, pivot=True, out=None):
    """lu_factor(A, *, pivot=True) -> (LU, pivots): ``lu_factor_ex`` that raises when a pivot
    is zero (the factors could not be used by ``lu_solve``)."""
    C.check("linalg.lu_factor", A)
    _check_pivot("linalg.lu_factor", pivot)
    LU, piv, info = _LUFactor.apply(A)
    C.raise_info("torch.linalg.lu_factor", info, A.shape[:-2],
                 lambda v: f"U[{v},{v}] is zero and using it on lu_solve would result in a division by zero. "
                           "If you still want to perform the factorization, consider calling linalg.lu(A, pivot) "
                           "or linalg.lu_factor_ex(A, pivot)")
    return C.out_(C.named("lu_factor", "LU pivots", LU, piv), out)


def lu(A, *, pivot=True, out=None):
    """lu(A, *, pivot=True) -> (P, L, U)

    ``A = P L U`` for each m x n matrix: ``P`` a permutation matrix, ``L`` m x k unit lower
    triangular, ``U`` k x n upper triangular (k = min(m, n)). Differentiable (PyTorch's
    formulas for square, wide and tall matrices).
    """
    C.check("linalg.lu", A)
    _check_pivot("linalg.lu", pivot)
    LU, piv, _ = _LUFactor.apply(A)
    return C.out_(C.named("lu", "P L U", *lu_unpack(LU, piv)), out)


def lu_unpack(LU_data, LU_pivots, unpack_data=True, unpack_pivots=True, *, out=None):
    """lu_unpack(LU_data, LU_pivots, unpack_data=True, unpack_pivots=True) -> (P, L, U)

    The factors of a packed LU decomposition (as ``lu_factor`` returns it); parts not asked for
    are empty tensors.
    """
    C.check("lu_unpack", LU_data, "LU_data")
    m, n = LU_data.shape[-2], LU_data.shape[-1]
    empty = _core.zeros([0], LU_data._dtype, LU_data._device)
    L, U = _unpack(LU_data, m, n) if unpack_data else (empty, empty)
    P = _perm_matrix(LU_pivots, m, LU_data) if unpack_pivots else empty
    return C.out_(C.named("lu_unpack", "P L U", P, L, U), out)


def lu_solve(LU, pivots, B, *, left=True, adjoint=False, out=None):
    """lu_solve(LU, pivots, B, *, left=True, adjoint=False) -> Tensor

    The solution of ``A X = B`` from the LU factorisation of ``A`` (``A^T X = B`` with
    ``adjoint``; ``X A = B`` when ``left=False``), batch dims broadcast. Two triangular solves
    and a row permutation, all differentiable (in ``LU`` and ``B``).
    """
    op = "linalg.lu_solve"
    C.check(op, LU, "LU", square=True)
    C.check(op, B, "B")
    C.same_dtype(op, LU, B, ("LU", "B"))
    if not left:
        # X A = B  <=>  A^T X^T = B^T
        return C.out_(mT(lu_solve(LU, pivots, mT(B), left=True, adjoint=not adjoint)), out)
    n = LU.shape[-1]
    if B.shape[-2] != n:
        raise RuntimeError(f"{op}: Incompatible shapes of A and B for the equation AX = B "
                           f"({tuple(LU.shape)} and {tuple(B.shape)})")
    LU2, B2 = C.broadcast_batch(op, LU, B, False)
    perm = _from_numpy(np.ascontiguousarray(np.broadcast_to(_perm_indices(pivots, n), tuple(LU2.shape[:-1]))))
    if LU._device != "cpu":
        perm = _core.to_device(perm, LU._device)
    idx = perm.unsqueeze(-1).expand(*B2.shape)
    if not adjoint:
        Y = _ops.gather(B2, -2, idx)  # P^T B
        Y = solve_triangular(LU2, Y, upper=False, unitriangular=True)
        X = solve_triangular(LU2, Y, upper=True)
    else:
        Y = solve_triangular(mT(LU2), B2, upper=False)
        Y = solve_triangular(mT(LU2), Y, upper=True, unitriangular=True)
        X = _ops.scatter(_zeros_like(Y), -2, idx, Y)  # P Y
    return C.out_(X, out)


# ---------- the older top-level forms ----------

def lu_toplevel(A, pivot=True, get_infos=False, out=None):
    """lu(A, pivot=True, get_infos=False) -> (A_LU, pivots[, infos]): the older LU factorisation
    (``deepseek.linalg.lu_factor_ex``)."""
    LU, piv, info = lu_factor_ex(A, pivot=pivot)
    r = (LU, piv, info) if get_infos else (LU, piv)
    return C.out_(r, out)


def lu_solve_toplevel(b, LU_data, LU_pivots, *, out=None):
    """lu_solve(b, LU_data, LU_pivots) -> Tensor: the older argument order of
    ``deepseek.linalg.lu_solve(LU_data, LU_pivots, b)``."""
    return lu_solve(LU_data, LU_pivots, b, out=out)
