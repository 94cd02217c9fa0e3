"""The linear-algebra names PyTorch keeps at the top level and on ``Tensor`` (``deepseek.det``,
``x.inverse()``, ``deepseek.svd`` with its ``(U, S, V)`` result ...), as thin layers over
``deepseek.linalg``."""
from __future__ import annotations

from .. import _ops
from .._core import Tensor
from . import _common as C
from ._common import mT
from ._householder import orgqr, ormqr
from ._lu import lu_solve_toplevel as lu_solve, lu_toplevel as lu, lu_unpack
from ._misc import matrix_exp, matrix_power, multi_dot
from ._solve import cholesky as _cholesky, det, inv, logdet, slogdet, solve_triangular
from ._spectral import pinv, qr as _qr, svd as _svd

__all__ = ["det", "logdet", "slogdet", "inverse", "cholesky", "cholesky_solve", "cholesky_inverse", "qr", "svd",
           "pinverse", "matrix_power", "matrix_exp", "triangular_solve", "chain_matmul", "lu", "lu_solve", "lu_unpack", "orgqr",
           "ormqr"]


def inverse(input, *, out=None):
    """inverse(input) -> Tensor: alias of ``deepseek.linalg.inv``."""
    return inv(input, out=out)


def cholesky(input, upper=False, *, out=None):
    """cholesky(input, upper=False) -> Tensor: ``deepseek.linalg.cholesky`` with ``upper``
    positional, as the older top-level function takes it."""
    return _cholesky(input, upper=bool(upper), out=out)


def cholesky_solve(B, L, upper=False, *, out=None):
    """cholesky_solve(B, L, upper=False) -> Tensor

    The solution of ``A X = B`` given the Cholesky factor ``L`` of ``A`` (``A = L L^T``, or
    ``A = U^T U`` with ``upper``): two triangular solves. Differentiable in ``B`` and ``L``.
    """
    C.check("cholesky_solve", B, "B")
    C.check("cholesky_solve", L, "L", square=True)
    if upper:
        Y = solve_triangular(mT(L), B, upper=False)
        X = solve_triangular(L, Y, upper=True)
    else:
        Y = solve_triangular(L, B, upper=False)
        X = solve_triangular(mT(L), Y, upper=True)
    return _ops._out(X, out)


def cholesky_inverse(L, upper=False, *, out=None):
    """cholesky_inverse(L, upper=False) -> Tensor: the inverse of ``A = L L^T`` (``U^T U`` with
    ``upper``) from its Cholesky factor."""
    C.check("cholesky_inverse", L, "L", square=True)
    eye = C.eye_like(L, L.shape[-1]).expand(*L.shape)
    return cholesky_solve(eye, L, upper, out=out)


def qr(input, some=True, *, out=None):
    """qr(input, some=True) -> (Q, R): ``deepseek.linalg.qr`` with mode 'reduced' when
    ``some`` else 'complete'."""
    return _qr(input, "reduced" if some else "complete", out=out)


def svd(input, some=True, compute_uv=True, *, out=None):
    """svd(input, some=True, compute_uv=True) -> (U, S, V)

    The older SVD: ``V`` (not ``Vh``) so that ``input = U diag(S) V^T``; reduced when ``some``.
    Without ``compute_uv``, U and V are zero matrices of the full shapes, as in PyTorch.
    """
    C.check("svd", input)
    if compute_uv:
        U, S, Vh = _svd(input, full_matrices=not some)
        r = C.named("svd", "U S V", U, S, mT(Vh))
    else:
        from ._spectral import svdvals
        from .._creation import zeros

        m, n = input.shape[-2], input.shape[-1]
        S = svdvals(input)
        b = list(input.shape[:-2])
        r = C.named("svd", "U S V", zeros(*b, m, m, dtype=input.dtype, device=input.device), S,
                    zeros(*b, n, n, dtype=input.dtype, device=input.device))
    return C.out_(r, out)


def pinverse(input, rcond=1e-15):
    """pinverse(input, rcond=1e-15) -> Tensor: ``deepseek.linalg.pinv`` with a relative
    tolerance ``rcond``."""
    return pinv(input, rtol=rcond)


def triangular_solve(b, A, upper=True, transpose=False, unitriangular=False, *, out=None):
    """triangular_solve(b, A, upper=True, transpose=False, unitriangular=False) -> (solution, cloned_coefficient)

    The older triangular solve: ``A X = b`` (``A^T X = b`` with ``transpose``); returns the
    solution and a copy of ``A``.
    """
    C.check("triangular_solve", A, "A", square=True)
    M = mT(A) if transpose else A
    X = solve_triangular(M, b, upper=bool(upper) != bool(transpose), unitriangular=unitriangular)
    return C.out_(C.named("triangular_solve", "solution cloned_coefficient", X, A.clone()), out)


def chain_matmul(*matrices, out=None):
    """chain_matmul(*matrices) -> Tensor: the product of 2-D matrices in the cheapest order
    (``deepseek.linalg.multi_dot`` for 2-D inputs)."""
    if len(matrices) == 1:
        return matrices[0]
    for i, m in enumerate(matrices):
        if not isinstance(m, Tensor) or m.ndim != 2:
            raise RuntimeError(f"chain_matmul(): tensor {i} must be 2D")
    return multi_dot(matrices, out=out)


def install_methods():
    """``Tensor.det()``, ``Tensor.inverse()`` ... as PyTorch names them."""
    from ._norms import matrix_norm  # noqa: F401

    for name in ("det", "logdet", "inverse", "cholesky", "cholesky_solve", "cholesky_inverse", "qr", "svd",
                 "pinverse", "matrix_power", "matrix_exp", "triangular_solve", "lu", "lu_solve",
                 "orgqr", "ormqr"):
        setattr(Tensor, name, globals()[name])
    Tensor.slogdet = lambda self: slogdet(self)
    Tensor.slogdet.__doc__ = "slogdet() -> (sign, logabsdet): ``deepseek.linalg.slogdet(self)``."
