"""LU- and Cholesky-based functions: inv, det, slogdet, solve, solve_triangular, cholesky (and
their ``_ex`` forms). Each is an ``autograd.Function`` over a faer kernel whose backward is
PyTorch's formula written with differentiable ops (this module's functions included), so
second derivatives work."""
from __future__ import annotations

from .. import _core, _ops
from .._core import Tensor
from ..autograd.function import Function
from . import _common as C
from ._common import mT, matmul


def _singular_inv(v):
    return (f"The diagonal element {v} is zero, the inversion could not be completed because the "
            "input matrix is singular.")


def _not_pd(v):
    return ("The factorization could not be completed because the input is not positive-definite "
            f"(the leading minor of order {v} is not positive-definite).")


def _singular_solve(v):
    return "The solver failed because the input matrix is singular."


# ---------------- inverse ----------------

class _Inv(Function):
    @staticmethod
    def forward(ctx, A, check_errors):
        X, info = C.on_cpu(_core.linalg_inv, A)
        if check_errors:
            C.raise_info("linalg.inv", info, A.shape[:-2], _singular_inv)
        ctx.mark_non_differentiable(info)
        ctx.save_for_backward(X)
        return X, info

    @staticmethod
    def backward(ctx, gX, *_):  # only the float outputs get a gradient
        (X,) = ctx.saved_tensors
        XT = mT(X)
        return -matmul(matmul(XT, gX), XT), None


def inv_ex(A, *, check_errors=False, out=None):
    """inv_ex(A, *, check_errors=False) -> (inverse, info)

    The inverse of each square matrix of ``A`` with LAPACK's ``info`` per matrix (0, or the
    1-based index of a zero pivot of its LU factorisation) instead of an error. Runs on the CPU
    (faer's LU); device tensors are copied there and back.
    """
    C.check("linalg.inv_ex", A, square=True)
    X, info = _Inv.apply(A, check_errors)
    return C.out_(C.named("inv_ex", "inverse info", X, info), out)


def inv(A, *, out=None):
    """inv(A) -> Tensor

    The inverse of each square matrix of ``A`` (batches over leading dims), by LU with partial
    pivoting on the CPU (faer; device tensors go there and back). Raises
    ``deepseek.linalg.LinAlgError`` (a RuntimeError) naming the zero pivot when a matrix is
    singular. Differentiable: ``grad_A = -A^{-T} grad A^{-T}``.

        >>> deepseek.linalg.inv(deepseek.tensor([[2., 0.], [0., 4.]]))
        tensor([[0.5000, 0.0000],
                [0.0000, 0.2500]])
    """
    C.check("linalg.inv", A, square=True)
    X, _ = _Inv.apply(A, True)
    return _ops._out(X, out)


# ---------------- determinants ----------------

class _Det(Function):
    @staticmethod
    def forward(ctx, A):
        d = C.on_cpu(_core.linalg_det, A)
        ctx.save_for_backward(A, d)
        return d

    @staticmethod
    def backward(ctx, g):
        A, d = ctx.saved_tensors
        if A.numel() == 0:
            return _core.zeros(list(A.shape), A._dtype, A._device)
        gd = (g * d).unsqueeze(-1).unsqueeze(-1)
        if bool((d.detach() != 0).all()):
            return gd * mT(inv(A))
        # a singular matrix: the cofactor matrix from the SVD (det(U) det(V) U diag(prod_{j!=i} s_j) V^T)
        from ._spectral import svd

        U, S, Vh = svd(A)
        n = S.shape[-1]
        others = [_ops.prod(_ops.cat([S[..., :i], S[..., i + 1:]], -1), -1) for i in range(n)]
        cof = _ops.stack(others, -1)
        sgn = _core.linalg_det(U.detach().cpu()) * _core.linalg_det(Vh.detach().cpu())
        sgn = sgn.to(A.device).unsqueeze(-1).unsqueeze(-1)
        return (g.unsqueeze(-1).unsqueeze(-1) * sgn) * matmul(U * cof.unsqueeze(-2), Vh)


def det(A, *, out=None):
    """det(A) -> Tensor

    The determinant of each square matrix of ``A``: the product of its LU pivots (faer, on the
    CPU). Differentiable, singular matrices included (there through the SVD).

        >>> deepseek.linalg.det(deepseek.tensor([[1., 2.], [3., 4.]]))
        tensor(-2.)
    """
    C.check("linalg.det", A, square=True)
    return _ops._out(_Det.apply(A), out)


class _Slogdet(Function):
    @staticmethod
    def forward(ctx, A):
        sign, logabs = C.on_cpu(_core.linalg_slogdet, A)
        ctx.mark_non_differentiable(sign)
        ctx.save_for_backward(A)
        return sign, logabs

    @staticmethod
    def backward(ctx, *grads):  # the gradient of logabsdet (sign is not differentiable)
        glog = grads[-1]
        (A,) = ctx.saved_tensors
        return glog.unsqueeze(-1).unsqueeze(-1) * mT(inv(A))


def slogdet(A, *, out=None):
    """slogdet(A) -> (sign, logabsdet)

    The sign and the log of the absolute value of the determinant of each square matrix, from
    its LU factors (no overflow where ``det`` would). A singular matrix gives ``(0, -inf)``.
    Differentiable in ``logabsdet``: ``grad_A = grad * A^{-T}``.
    """
    C.check("linalg.slogdet", A, square=True)
    sign, logabs = _Slogdet.apply(A)
    return C.out_(C.named("slogdet", "sign logabsdet", sign, logabs), out)


def logdet(input):
    """logdet(input) -> Tensor: ``log(det(input))`` per matrix (nan for a negative determinant,
    -inf for a singular matrix)."""
    C.check("logdet", input, square=True)
    sign, logabs = _Slogdet.apply(input)
    return _ops.where(sign < 0, float("nan"), logabs)


# ---------------- solve ----------------

class _Solve(Function):
    @staticmethod
    def forward(ctx, A, B, check_errors):
        X, info = C.on_cpu(_core.linalg_solve, A, B)
        if check_errors:
            C.raise_info("linalg.solve", info, A.shape[:-2], _singular_solve)
        ctx.mark_non_differentiable(info)
        ctx.save_for_backward(A, X)
        return X, info

    @staticmethod
    def backward(ctx, gX, *_):
        A, X = ctx.saved_tensors
        gB = _Solve.apply(mT(A), gX, True)[0]
        return -matmul(gB, mT(X)), gB, None


def _is_vector_rhs(A, B):
    # PyTorch: B is a vector when it is 1-D or has one dim less than A with A's batch shape
    return B.ndim == 1 or (B.ndim == A.ndim - 1 and tuple(B.shape) == tuple(A.shape[:-1]))


def solve_ex(A, B, *, left=True, check_errors=False, out=None):
    """solve_ex(A, B, *, left=True, check_errors=False) -> (result, info): ``solve`` that
    reports singular matrices in ``info`` (per matrix, nonzero when singular) instead of raising."""
    op = "linalg.solve"
    C.check(op, A, square=True)
    C.check(op, B, "B", min_ndim=1)
    C.same_dtype(op, A, B)
    vec = _is_vector_rhs(A, B)
    if not left:
        A = mT(A)
        if not vec:
            B = mT(B)
    n = A.shape[-1]
    if B.shape[-1 if vec else -2] != n:
        raise RuntimeError(f"{op}: Incompatible shapes of A and B for the equation "
                           f"{'AX = B' if left else 'XA = B'} ({A.shape[-2]}x{A.shape[-1]} and "
                           f"{'x'.join(str(s) for s in B.shape[-2:])})")
    A2, B2 = C.broadcast_batch(op, A, B, vec)
    if vec:
        B2 = B2.unsqueeze(-1)
    X, info = _Solve.apply(A2, B2, check_errors)
    if vec:
        X = X.squeeze(-1)
    elif not left:
        X = mT(X)
    return C.out_(C.named("solve_ex", "result info", X, info), out)


def solve(A, B, *, left=True, out=None):
    """solve(A, B, *, left=True) -> Tensor

    The solution ``X`` of ``A X = B`` (``X A = B`` when ``left=False``) for square ``A``, with
    batch dims broadcast and ``B`` a vector or a batch of vectors when it has one dim less than
    ``A`` and ``A``'s batch shape, as in PyTorch. LU with partial pivoting on the CPU (faer;
    device tensors go there and back). Raises ``LinAlgError`` when ``A`` is singular.
    Differentiable in ``A`` and ``B``.

        >>> A = deepseek.tensor([[3., 1.], [1., 2.]])
        >>> deepseek.linalg.solve(A, deepseek.tensor([9., 8.]))
        tensor([2., 3.])
    """
    X, _ = solve_ex(A, B, left=left, check_errors=True)
    return _ops._out(X, out)


# ---------------- triangular solve ----------------

class _SolveTriangular(Function):
    @staticmethod
    def forward(ctx, A, B, upper, unitriangular):
        X = C.on_cpu(_core.linalg_solve_triangular, A, B, upper=upper, unitriangular=unitriangular)
        ctx.save_for_backward(A, X)
        ctx.flags = (upper, unitriangular)
        return X

    @staticmethod
    def backward(ctx, gX):
        A, X = ctx.saved_tensors
        upper, unit = ctx.flags
        gB = _SolveTriangular.apply(mT(A), gX, not upper, unit)
        gA = -matmul(gB, mT(X))
        if upper:
            gA = _ops.triu(gA, 1 if unit else 0)
        else:
            gA = _ops.tril(gA, -1 if unit else 0)
        return gA, gB, None, None


def solve_triangular(A, B, *, upper, left=True, unitriangular=False, out=None):
    """solve_triangular(A, B, *, upper, left=True, unitriangular=False) -> Tensor

    The solution of ``A X = B`` (``X A = B`` when ``left=False``) for triangular ``A``: only
    the ``upper`` (or lower) triangle of ``A`` is read, and its diagonal is taken as ones when
    ``unitriangular``. Batch dims broadcast. CPU kernel (faer); device tensors go there and
    back. Differentiable in ``A`` (its triangle) and ``B``.
    """
    op = "linalg.solve_triangular"
    C.check(op, A, square=True)
    C.check(op, B, "B")
    C.same_dtype(op, A, B)
    if not isinstance(upper, bool):
        raise TypeError(f"{op}(): argument 'upper' must be bool, not {type(upper).__name__}")
    if not left:
        A, B, upper = mT(A), mT(B), not upper
    if B.shape[-2] != A.shape[-1]:
        raise RuntimeError(f"{op}: Incompatible shapes of A and B for the equation "
                           f"{'AX = B' if left else 'XA = B'} ({tuple(A.shape)} and {tuple(B.shape)})")
    A2, B2 = C.broadcast_batch(op, A, B, False)
    X = _SolveTriangular.apply(A2, B2, upper, unitriangular)
    return _ops._out(X if left else mT(X), out)


# ---------------- Cholesky ----------------

class _Cholesky(Function):
    @staticmethod
    def forward(ctx, A, upper, check_errors):
        L, info = C.on_cpu(_core.linalg_cholesky, A, upper=upper)
        if check_errors:
            C.raise_info("linalg.cholesky", info, A.shape[:-2], _not_pd)
        ctx.mark_non_differentiable(info)
        ctx.save_for_backward(L)
        ctx.upper = upper
        return L, info

    @staticmethod
    def backward(ctx, gL, *_):
        (L,) = ctx.saved_tensors
        if ctx.upper:
            L, gL = mT(L), mT(gL)
        # PyTorch's formula: gA = L^{-T} sym(tril(L^T gL)) L^{-1}, with sym halving the diagonal
        P = _ops.tril(matmul(mT(L), gL))
        S = 0.5 * (P + mT(_ops.tril(P, -1)))
        S = solve_triangular(mT(L), S, upper=True)
        return solve_triangular(L, S, upper=False, left=False), None, None


def cholesky_ex(A, *, upper=False, check_errors=False, out=None):
    """cholesky_ex(A, *, upper=False, check_errors=False) -> (L, info): ``cholesky`` that
    reports, per matrix, the order of the first leading minor that is not positive-definite
    (0 when the factorisation succeeded) instead of raising."""
    C.check("linalg.cholesky", A, square=True)
    L, info = _Cholesky.apply(A, bool(upper), check_errors)
    return C.out_(C.named("cholesky_ex", "L info", L, info), out)


def cholesky(A, *, upper=False, out=None):
    """cholesky(A, *, upper=False) -> Tensor

    The lower-triangular ``L`` with ``A = L L^T`` for each symmetric positive-definite matrix
    of ``A`` (the upper ``U = L^T`` with ``A = U^T U`` when ``upper``). Only the lower (upper)
    triangle of ``A`` is read. Raises ``LinAlgError`` naming the first leading minor that is
    not positive-definite. CPU kernel (faer); device tensors go there and back.
    Differentiable (PyTorch's formula; the gradient is symmetric).

        >>> deepseek.linalg.cholesky(deepseek.tensor([[4., 2.], [2., 5.]]))
        tensor([[2., 0.],
                [1., 2.]])
    """
    L, _ = cholesky_ex(A, upper=upper, check_errors=True)
    return _ops._out(L, out)
