"""Orthogonal factorisations and what is built on them: qr, svd, svdvals, eigh, eigvalsh,
pinv, lstsq, matrix_rank. The kernels are faer's (CPU); the backward formulas are PyTorch's,
written with differentiable ops so second derivatives work."""
from __future__ import annotations

from .. import _core, _ops
from .._core import Tensor
from ..autograd.function import Function
from .._creation import zeros_like as _zeros_like
from . import _common as C
from ._common import diag_embed, mT, matmul


def _eps(dtype_name):
    eps = {"float64": 2.220446049250313e-16, "float16": 9.765625e-4, "bfloat16": 7.8125e-3}
    return eps.get(dtype_name, 1.1920928955078125e-07)


def _grad_wanted(*tensors):
    return _core.is_grad_enabled() and any(t.requires_grad for t in tensors)


# ---------------- QR ----------------

class _QR(Function):
    @staticmethod
    def forward(ctx, A, mode):
        ctx.set_materialize_grads(False)
        Q, R = C.on_cpu(_core.linalg_qr, A, mode=mode)
        if mode == "r":
            Q = _core.zeros([0], A._dtype, A._device)
            ctx.mark_non_differentiable(Q)
        ctx.mode, ctx.m, ctx.n = mode, A.shape[-2], A.shape[-1]
        ctx.save_for_backward(Q, R)
        return Q, R

    @staticmethod
    def backward(ctx, *grads):
        Q, R = ctx.saved_tensors
        m, n = ctx.m, ctx.n
        if ctx.mode == "r":
            raise RuntimeError("The derivative of linalg.qr depends on Q, which is not computed when mode='r'. "
                               "Please use linalg.qr(A, mode='reduced') if you are going to differentiate through linalg.qr.")
        if ctx.mode == "complete" and m > n:
            raise RuntimeError("The QR decomposition is not differentiable when mode='complete' and nrows > ncols.")
        gQ, gR = grads
        gQ = _zeros_like(Q) if gQ is None else gQ
        gR = _zeros_like(R) if gR is None else gR
        from ._solve import solve_triangular

        def copyltu(M):
            return _ops.tril(M) + mT(_ops.tril(M, -1))

        if m >= n:
            M = matmul(R, mT(gR)) - matmul(mT(gQ), Q)
            b = gQ + matmul(Q, copyltu(M))
            return solve_triangular(mT(R), b, upper=False, left=False), None
        # wide: A = [X | Y], R = [U | V] with X = Q U square
        U, V = R[..., :, :m], R[..., :, m:]
        gU, gV = gR[..., :, :m], gR[..., :, m:]
        Y = matmul(Q, V)
        gQ2 = gQ + matmul(Y, mT(gV))
        M = matmul(U, mT(gU)) - matmul(mT(gQ2), Q)
        gX = solve_triangular(mT(U), gQ2 + matmul(Q, copyltu(M)), upper=False, left=False)
        return _ops.cat([gX, matmul(Q, gV)], -1), None


def qr(A, mode="reduced", *, out=None):
    """qr(A, mode='reduced') -> (Q, R)

    The QR decomposition of each matrix of ``A`` (Householder, faer on the CPU; device tensors
    go there and back). ``mode``: ``'reduced'`` (Q m x k, R k x n, k = min(m, n)),
    ``'complete'`` (Q m x m, R m x n) or ``'r'`` (R only; Q is an empty tensor). Signs follow
    the Householder convention, so columns of Q (rows of R) may differ in sign from another
    library's. Differentiable for 'reduced', and for 'complete' when m <= n (PyTorch's rules).
    """
    C.check("linalg.qr", A)
    if mode not in ("reduced", "complete", "r"):
        raise RuntimeError(f"qr received unrecognized mode '{mode}' but expected one of 'reduced' (default), 'r', or 'complete'")
    Q, R = _QR.apply(A, mode)
    return C.out_(C.named("qr", "Q R", Q, R), out)


# ---------------- SVD ----------------

class _SVD(Function):
    @staticmethod
    def forward(ctx, A, full_matrices):
        ctx.set_materialize_grads(False)
        U, S, Vh = C.on_cpu(_core.linalg_svd, A, full_matrices=full_matrices, compute_uv=True)
        ctx.save_for_backward(U, S, Vh)
        ctx.full = full_matrices
        return U, S, Vh

    @staticmethod
    def backward(ctx, gU, gS, gVh):
        U, S, Vh = ctx.saved_tensors
        k = S.shape[-1]
        m, n = U.shape[-2], Vh.shape[-1]
        if ctx.full:
            # the extra columns of a full U (rows of Vh) carry no information about A
            U, Vh = U[..., :, :k], Vh[..., :k, :]
            gU = None if gU is None else gU[..., :, :k]
            gVh = None if gVh is None else gVh[..., :k, :]
        if gU is None and gVh is None:
            gA = matmul(U * gS.unsqueeze(-2), Vh) if gS is not None else None
            return gA, None
        V = mT(Vh)
        gA = None
        S2 = S * S
        # E[j, k] = s_k^2 - s_j^2 off the diagonal, 1 on it (the diagonal of the skew parts is 0)
        E = S2.unsqueeze(-2) - S2.unsqueeze(-1) + C.eye_like(S, k)
        if gU is not None:
            UhgU = matmul(mT(U), gU)
            gA = (UhgU - mT(UhgU)) * S.unsqueeze(-2)
        if gVh is not None:
            VhgV = matmul(Vh, mT(gVh))
            t = S.unsqueeze(-1) * (VhgV - mT(VhgV))
            gA = t if gA is None else gA + t
        gA = gA / E
        if gS is not None:
            gA = gA + diag_embed(gS)
        if m > k and gU is not None:
            gA = matmul(U, gA)
            gUSinv = gU / S.unsqueeze(-2)
            gA = gA + gUSinv - matmul(U, matmul(mT(U), gUSinv))
            gA = matmul(gA, Vh)
        elif n > k and gVh is not None:
            gA = matmul(gA, Vh)
            SinvgVh = gVh / S.unsqueeze(-1)
            gA = gA + SinvgVh - matmul(matmul(SinvgVh, V), Vh)
            gA = matmul(U, gA)
        else:
            gA = matmul(matmul(U, gA), Vh)
        return gA, None


def svd(A, full_matrices=True, *, driver=None, out=None):
    """svd(A, full_matrices=True) -> (U, S, Vh)

    The singular value decomposition ``A = U diag(S) Vh`` of each matrix, singular values in
    descending order (faer on the CPU; device tensors go there and back). With
    ``full_matrices=False``, U is m x k and Vh k x n (k = min(m, n)). Singular vectors are
    unique only up to sign. Differentiable; as in PyTorch the gradient through U or Vh is
    numerically unstable (infinite) when two singular values are equal or, for non-square
    input, one is zero, and only defined for losses invariant to the vectors' signs.
    """
    C.check("linalg.svd", A)
    U, S, Vh = _SVD.apply(A, bool(full_matrices))
    return C.out_(C.named("svd", "U S Vh", U, S, Vh), out)


def svdvals(A, *, driver=None, out=None):
    """svdvals(A) -> Tensor: the singular values of each matrix, descending. Differentiable
    (``grad_A = U diag(grad) Vh``, stable even for repeated singular values)."""
    C.check("linalg.svdvals", A)
    if _grad_wanted(A):
        return C.out_(_SVD.apply(A, False)[1], out)
    return C.out_(C.on_cpu(_core.linalg_svd, A, full_matrices=False, compute_uv=False)[1], out)


# ---------------- symmetric eigendecomposition ----------------

class _Eigh(Function):
    @staticmethod
    def forward(ctx, A, upper):
        ctx.set_materialize_grads(False)
        w, V = C.on_cpu(_core.linalg_eigh, A, upper=upper, compute_v=True)
        ctx.save_for_backward(w, V)
        return w, V

    @staticmethod
    def backward(ctx, gw, gV):
        w, V = ctx.saved_tensors
        if gV is None:
            return (matmul(V * gw.unsqueeze(-2), mT(V)) if gw is not None else None), None
        VhgV = matmul(mT(V), gV)
        VhgV = 0.5 * (VhgV - mT(VhgV))
        n = w.shape[-1]
        # E[i, j] = w_j - w_i off the diagonal, 1 on it
        E = w.unsqueeze(-2) - w.unsqueeze(-1) + C.eye_like(w, n)
        gA = VhgV / E
        if gw is not None:
            gA = gA + diag_embed(gw)
        return matmul(V, matmul(gA, mT(V))), None


def _uplo(op, UPLO):
    if UPLO not in ("L", "U"):
        raise RuntimeError(f"{op}: Expected UPLO argument to be 'L' or 'U', but got {UPLO}")
    return UPLO == "U"


def eigh(A, UPLO="L", *, out=None):
    """eigh(A, UPLO='L') -> (eigenvalues, eigenvectors)

    The eigendecomposition ``A = V diag(w) V^T`` of each symmetric matrix, eigenvalues in
    ascending order; only the ``UPLO`` ('L' lower, 'U' upper) triangle of ``A`` is read
    (faer on the CPU; device tensors go there and back). Eigenvectors are unique only up to
    sign. Differentiable; as in PyTorch the gradient through the eigenvectors is infinite when
    two eigenvalues are equal.
    """
    C.check("linalg.eigh", A, square=True)
    w, V = _Eigh.apply(A, _uplo("linalg.eigh", UPLO))
    return C.out_(C.named("eigh", "eigenvalues eigenvectors", w, V), out)


def eigvalsh(A, UPLO="L", *, out=None):
    """eigvalsh(A, UPLO='L') -> Tensor: the eigenvalues of each symmetric matrix, ascending.
    Differentiable (``grad_A = V diag(grad) V^T``)."""
    C.check("linalg.eigvalsh", A, square=True)
    upper = _uplo("linalg.eigvalsh", UPLO)
    if _grad_wanted(A):
        return C.out_(_Eigh.apply(A, upper)[0], out)
    return C.out_(C.on_cpu(_core.linalg_eigh, A, upper=upper, compute_v=False)[0], out)


# ---------------- pseudo-inverse, least squares, rank ----------------

def _tolerance(S, atol, rtol, m, n, dtype_name):
    """max(atol, rtol * largest singular value) per matrix, with PyTorch's defaults: rtol is
    eps * max(m, n) unless atol is given (a tensor, or a number > 0), then 0."""
    if rtol is None:
        given = atol is not None and (isinstance(atol, Tensor) or atol > 0)
        rtol = 0.0 if given else _eps(dtype_name) * max(m, n)
    if S.shape[-1]:
        smax = _ops.amax(S, -1, keepdim=True)
    else:
        smax = _core.zeros(list(S.shape[:-1]) + [1], S._dtype, S._device)
    tol = smax * rtol
    if atol is None:
        return tol
    if isinstance(atol, Tensor):
        atol = atol.unsqueeze(-1) if atol.ndim else atol
    return _core.binary("maximum", tol, atol) if isinstance(atol, Tensor) else _ops.clamp(tol, min=float(atol))


class _Pinv(Function):
    @staticmethod
    def forward(ctx, A, atol, rtol, hermitian):
        m, n = A.shape[-2], A.shape[-1]
        if hermitian:
            w, V = C.on_cpu(_core.linalg_eigh, A, upper=False, compute_v=True)
            tol = _tolerance(w.abs(), atol, rtol, m, n, A._dtype)
            keep = w.abs() > tol
            winv = _ops.where(keep, 1.0 / _ops.where(keep, w, 1.0), 0.0)
            P = matmul(V * winv.unsqueeze(-2), mT(V))
        else:
            U, S, Vh = C.on_cpu(_core.linalg_svd, A, full_matrices=False, compute_uv=True)
            tol = _tolerance(S, atol, rtol, m, n, A._dtype)
            keep = S > tol
            sinv = _ops.where(keep, 1.0 / _ops.where(keep, S, 1.0), 0.0)
            P = matmul(mT(Vh) * sinv.unsqueeze(-2), mT(U))
        ctx.save_for_backward(A, P)
        return P

    @staticmethod
    def backward(ctx, g):
        A, P = ctx.saved_tensors
        m, n = A.shape[-2], A.shape[-1]
        Ph, gh = mT(P), mT(g)
        # PyTorch's pinv_backward, arranged for the smaller intermediate products
        if m <= n:
            K = matmul(gh, P)
            KPh = matmul(K, Ph)
            gA = -mT(matmul(P, K)) + KPh - matmul(matmul(A, P), KPh) + matmul(matmul(Ph, P), gh - matmul(K, A))
        else:
            K = matmul(P, gh)
            PhK = matmul(Ph, K)
            gA = -mT(matmul(K, P)) + matmul(matmul(gh - matmul(A, K), P), Ph) + PhK - matmul(matmul(PhK, P), A)
        return gA, None, None, None


def pinv(A, *, atol=None, rtol=None, hermitian=False, out=None, rcond=None):
    """pinv(A, *, atol=None, rtol=None, hermitian=False) -> Tensor

    The Moore-Penrose pseudo-inverse of each matrix, from its SVD (its eigendecomposition when
    ``hermitian``), singular values at or below ``max(atol, rtol * sigma_max)`` treated as
    zero; ``rtol`` defaults to ``eps * max(m, n)`` when ``atol`` is not given, else 0.
    ``rcond`` is the older name of ``rtol``. Differentiable (PyTorch's closed form).
    """
    C.check("linalg.pinv", A)
    if rcond is not None:
        rtol = rcond
    if hermitian and A.shape[-1] != A.shape[-2]:
        raise RuntimeError(f"linalg.pinv(hermitian=True): A must be batches of square matrices, but they are "
                           f"{A.shape[-2]} by {A.shape[-1]} matrices")
    return C.out_(_Pinv.apply(A, atol, rtol, bool(hermitian)), out)


def matrix_rank(A, *, atol=None, rtol=None, hermitian=False, out=None, tol=None):
    """matrix_rank(A, *, atol=None, rtol=None, hermitian=False) -> Tensor

    The number of singular values (absolute eigenvalues when ``hermitian``) of each matrix
    above ``max(atol, rtol * sigma_max)``, as int64; ``rtol`` defaults to
    ``eps * max(m, n)`` when ``atol`` is not given. ``tol`` is the older name of ``atol``.
    """
    C.check("linalg.matrix_rank", A)
    if tol is not None:
        atol = tol
    m, n = A.shape[-2], A.shape[-1]
    with _core_no_grad():
        if hermitian:
            S = C.on_cpu(_core.linalg_eigh, A, upper=False, compute_v=False)[0].abs()
        else:
            S = C.on_cpu(_core.linalg_svd, A, full_matrices=False, compute_uv=False)[1]
        tol_ = _tolerance(S, atol, rtol, m, n, A._dtype)
        r = _ops.sum(S > tol_, -1)
    return C.out_(r, out)


class _core_no_grad:
    def __enter__(self):
        self.prev = _core.set_grad_enabled(False)

    def __exit__(self, *exc):
        _core.set_grad_enabled(self.prev)


_DRIVERS = ("gels", "gelsy", "gelsd", "gelss")


def lstsq(A, B, rcond=None, *, driver=None):
    """lstsq(A, B, rcond=None, *, driver=None) -> (solution, residuals, rank, singular_values)

    The least-squares solution of ``A X = B`` for each matrix (minimum norm when ``A`` is rank
    deficient), with batch dims broadcast and ``B`` a batch of vectors when it has one dim less
    than ``A``. Computed from the SVD (faer, CPU) for every ``driver``; the driver decides, as
    in PyTorch, which of the other fields are filled: ``rank`` for all but 'gels',
    ``singular_values`` for 'gelsd'/'gelss', ``residuals`` (squared, per column) when m > n,
    every matrix has full rank and the driver is not 'gelsy'. Singular values at or below
    ``rcond * sigma_max`` count as zero (``rcond`` defaults to ``eps * max(m, n)``).
    Differentiable in ``A`` and ``B`` (through the pseudo-inverse, as PyTorch's backward).
    """
    op = "linalg.lstsq"
    C.check(op, A)
    C.check(op, B, "B", min_ndim=1)
    C.same_dtype(op, A, B, ("A", "B"))
    driver = "gelsy" if driver is None else driver
    if driver not in _DRIVERS:
        raise RuntimeError(f"torch.linalg.lstsq: parameter `driver` should be one of ({', '.join(_DRIVERS)})")
    vec = B.ndim == A.ndim - 1
    if (B.shape[-1] if vec else B.shape[-2]) != A.shape[-2]:
        raise RuntimeError(f"{op}: input.size(-2) should match other.size(-{1 if vec else 2}) "
                           f"(shapes {tuple(A.shape)} and {tuple(B.shape)})")
    m, n = A.shape[-2], A.shape[-1]
    A2, B2 = _broadcast_lstsq(op, A, B, vec)
    Bm = B2.unsqueeze(-1) if vec else B2
    rtol = _eps(A._dtype) * max(m, n) if rcond is None or rcond < 0 else rcond
    X = matmul(_Pinv.apply(A2, None, rtol, False), Bm)
    with _core_no_grad():
        S = C.on_cpu(_core.linalg_svd, A2.detach(), full_matrices=False, compute_uv=False)[1]
        rank = _ops.sum(S > _tolerance(S, None, rtol, m, n, A._dtype), -1)
    empty = _core.zeros([0], A._dtype, A._device)
    full_rank = bool((rank == min(m, n)).all()) if rank.numel() else True
    if m > n and driver != "gelsy" and full_rank:
        R = matmul(A2, X) - Bm
        residuals = _ops.sum(R * R, -2)
        if vec:
            residuals = residuals.squeeze(-1)
    else:
        residuals = empty
    rank_out = _core.zeros([0], "int64", A._device) if driver == "gels" else rank
    sv = S if driver in ("gelsd", "gelss") else empty
    if vec:
        X = X.squeeze(-1)
    return C.named("lstsq", "solution residuals rank singular_values", X, residuals, rank_out, sv)


def _broadcast_lstsq(op, A, B, vec):
    a_batch, b_batch = list(A.shape[:-2]), list(B.shape[:-1] if vec else B.shape[:-2])
    try:
        batch = list(_ops.broadcast_shapes(a_batch, b_batch))
    except RuntimeError:
        raise RuntimeError(f"{op}: batch dims of A and B cannot broadcast ({tuple(A.shape)} and {tuple(B.shape)})") from None
    A2 = A.expand(*batch, *A.shape[-2:])
    B2 = B.expand(*batch, B.shape[-1]) if vec else B.expand(*batch, *B.shape[-2:])
    return A2, B2
