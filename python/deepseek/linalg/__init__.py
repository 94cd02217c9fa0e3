"""``deepseek.linalg``: PyTorch's ``torch.linalg`` for real float32/float64 tensors (float16 and
bfloat16 computed in float32), batched over leading dims.

The factorisations (LU, Cholesky, QR, SVD, symmetric eigendecomposition, triangular solves)
run on the CPU through the faer crate, matrices of a batch in parallel; tensors on another
device are copied to the CPU and the results back. Every function is differentiable with
PyTorch's formulas, written with differentiable ops so that second derivatives work. Results
are PyTorch's named tuples (``slogdet`` -> ``(sign, logabsdet)``, ``svd`` -> ``(U, S, Vh)``
...), and failures PyTorch's errors (``LinAlgError``, a RuntimeError, for singular or
non-positive-definite input).

    >>> A = deepseek.tensor([[4., 1.], [1., 3.]])
    >>> deepseek.linalg.eigvalsh(A)
    tensor([2.3820, 4.6180])
"""
from __future__ import annotations

from ._common import LinAlgError
from ._householder import householder_product
from ._lu import lu, lu_factor, lu_factor_ex, lu_solve
from ._misc import cross, diagonal, matmul, matrix_exp, matrix_power, multi_dot, tensorinv, tensorsolve, vander, vecdot
from ._norms import cond, matrix_norm, norm, vector_norm
from ._solve import cholesky, cholesky_ex, det, inv, inv_ex, slogdet, solve, solve_ex, solve_triangular
from ._spectral import eigh, eigvalsh, lstsq, matrix_rank, pinv, qr, svd, svdvals

__all__ = [
    "LinAlgError", "cholesky", "cholesky_ex", "cond", "cross", "det", "diagonal", "eigh", "eigvalsh", "householder_product", "inv",
    "inv_ex", "lstsq", "lu", "lu_factor", "lu_factor_ex", "lu_solve", "matmul", "matrix_exp", "matrix_norm",
    "matrix_power", "matrix_rank", "multi_dot", "norm", "pinv", "qr", "slogdet", "solve", "solve_ex",
    "solve_triangular", "svd", "svdvals", "tensorinv", "tensorsolve", "vander", "vecdot", "vector_norm",
]
