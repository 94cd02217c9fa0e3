"""Products of Householder reflectors, as LAPACK's geqrf leaves them: householder_product
(``orgqr``) and ``ormqr``. Composed from differentiable ops (one rank-1 update per reflector)."""
from __future__ import annotations

from .. import _ops
from .._core import Tensor
from .._creation import arange
from . import _common as C
from ._common import mT, matmul


def _reflector(A, i):
    """v_i: zero above row i, 1 at row i, A[i+1:, i] below, for every matrix of the batch."""
    m = A.shape[-2]
    rows = arange(m, device=A.device)
    col = A[..., :, i]
    v = _ops.where(rows > i, col, 0.0)
    return _ops.where(rows == i, 1.0, v)


def _check(op, A, tau):
    C.check(op, A)
    if not isinstance(tau, Tensor):
        raise TypeError(f"{op}(): argument 'tau' must be Tensor, not {type(tau).__name__}")
    C.same_dtype(op, A, tau, ("input", "tau"))
    m, n = A.shape[-2], A.shape[-1]
    if n > m:
        raise RuntimeError(f"{op}: input.shape[-2] must be greater than or equal to input.shape[-1]")
    if tau.shape[-1] > n:
        raise RuntimeError(f"{op}: input.shape[-1] must be greater than or equal to tau.shape[-1]")
    if tuple(tau.shape[:-1]) != tuple(A.shape[:-2]):
        raise RuntimeError(f"{op}: Expected batch dimensions of tau to be equal to input.shape[:-2], but got "
                           f"{tuple(tau.shape[:-1])}")


def _apply_left(A, tau, X, transpose):
    """Q X (Q^T X when ``transpose``) with Q = H_0 H_1 ... H_{k-1}, H_i = I - tau_i v_i v_i^T."""
    k = tau.shape[-1]
    order = range(k) if transpose else range(k - 1, -1, -1)
    for i in order:
        v = _reflector(A, i).unsqueeze(-1)
        t = tau[..., i].unsqueeze(-1).unsqueeze(-1)
        X = X - t * matmul(v, matmul(mT(v), X))
    return X


def householder_product(A, tau, *, out=None):
    """householder_product(A, tau) -> Tensor

    The first n columns of the product of the Householder reflectors
    ``H_i = I - tau_i v_i v_i^T`` stored in the columns of ``A`` (m x n, m >= n) as LAPACK's
    geqrf stores them. Differentiable in ``A`` and ``tau``.
    """
    op = "linalg.householder_product"
    _check(op, A, tau)
    m, n = A.shape[-2], A.shape[-1]
    eye = C.eye_like(A, m)[:, :n]
    X = eye.expand(*A.shape[:-2], m, n) if A.ndim > 2 else eye
    return C.out_(_apply_left(A, tau, X, False), out)


def orgqr(input, tau):
    """orgqr(input, tau) -> Tensor: alias of ``deepseek.linalg.householder_product``."""
    return householder_product(input, tau)


def ormqr(input, tau, other, left=True, transpose=False, *, out=None):
    """ormqr(input, tau, other, left=True, transpose=False) -> Tensor

    ``other`` multiplied by the Q of the Householder reflectors in ``input``/``tau``:
    ``Q other`` (``Q^T other`` with ``transpose``), or ``other Q`` (``other Q^T``) when not
    ``left``. Differentiable.
    """
    op = "ormqr"
    C.check(op, input)
    C.check(op, other, "other")
    if not isinstance(tau, Tensor):
        raise TypeError(f"{op}(): argument 'tau' must be Tensor, not {type(tau).__name__}")
    m = input.shape[-2]
    if (other.shape[-2] if left else other.shape[-1]) != m:
        raise RuntimeError(f"{op}: other.shape[{-2 if left else -1}] must be equal to input.shape[-2] "
                           f"(shapes {tuple(input.shape)} and {tuple(other.shape)})")
    if left:
        r = _apply_left(input, tau, other, transpose)
    else:
        # X Q = (Q^T X^T)^T
        r = mT(_apply_left(input, tau, mT(other), not transpose))
    return _ops._out(r, out) if out is not None else r

