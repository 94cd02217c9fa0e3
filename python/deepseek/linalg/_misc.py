"""The rest of ``deepseek.linalg``, composed from differentiable ops: matrix_power,
matrix_exp, multi_dot, cross, vecdot, diagonal, matmul, vander, tensorinv, tensorsolve."""
from __future__ import annotations

import math

from .. import _core, _ops
from .._core import Tensor
from .._creation import ones_like as _ones_like
from . import _common as C
from ._common import matmul as _mm


def matrix_power(A, n, *, out=None):
    """matrix_power(A, n) -> Tensor

    ``A`` to the integer power ``n`` for each square matrix, by repeated squaring (``n = 0``
    gives the identity, a negative ``n`` the power of ``inv(A)``). Differentiable.
    """
    op = "linalg.matrix_power"
    if not isinstance(A, Tensor):
        raise TypeError(f"{op}(): argument 'A' (position 1) must be Tensor, not {type(A).__name__}")
    if A.ndim < 2:
        raise RuntimeError(f"{op}: The input tensor A must have at least 2 dimensions.")
    if A.shape[-1] != A.shape[-2]:
        raise RuntimeError(f"{op}: A must be batches of square matrices, but they are {A.shape[-2]} by "
                           f"{A.shape[-1]} matrices")
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"{op}(): argument 'n' must be int, not {type(n).__name__}")
    if n == 0:
        eye = C.eye_like(A, A.shape[-1])
        return C.out_(eye.expand(*A.shape).clone() if A.ndim > 2 else eye.clone(), out)
    if n < 0:
        from ._solve import inv

        A, n = inv(A), -n
    result, base = None, A
    while n:
        if n & 1:
            result = base if result is None else _mm(result, base)
        n >>= 1
        if n:
            base = _mm(base, base)
    return C.out_(result.clone() if result is A else result, out)


# Higham (2005): the [13/13] Padé approximant with scaling and squaring
_B13 = (64764752532480000., 32382376266240000., 7771770303897600., 1187353796428800., 129060195264000.,
        10559470521600., 670442572800., 33522128640., 1323241920., 40840800., 960960., 16380., 182., 1.)
_THETA13 = 5.371920351148152


def matrix_exp(A):
    """matrix_exp(A) -> Tensor

    The matrix exponential of each square matrix, by scaling and squaring with the [13/13]
    Padé approximant (Higham 2005), composed from matmul and ``solve`` so it is
    differentiable.
    """
    from ._solve import solve

    C.check("linalg.matrix_exp", A, square=True)
    n = A.shape[-1]
    if A.numel() == 0:
        return A.clone()
    with_grad = A
    norm1 = float(_ops.amax(_core.reduce("sum", A.detach().abs(), [A.ndim - 2], False)).to("float64"))
    s = max(0, math.ceil(math.log2(norm1 / _THETA13))) if norm1 > 0 and math.isfinite(norm1) else 0
    X = with_grad / (2.0 ** s) if s else with_grad
    eye = C.eye_like(X, n)
    X2 = _mm(X, X)
    X4 = _mm(X2, X2)
    X6 = _mm(X4, X2)
    b = _B13
    U = _mm(X, _mm(X6, b[13] * X6 + b[11] * X4 + b[9] * X2) + b[7] * X6 + b[5] * X4 + b[3] * X2 + b[1] * eye)
    V = _mm(X6, b[12] * X6 + b[10] * X4 + b[8] * X2) + b[6] * X6 + b[4] * X4 + b[2] * X2 + b[0] * eye
    R = solve(V - U, V + U)
    for _ in range(s):
        R = _mm(R, R)
    return R


def multi_dot(tensors, *, out=None):
    """multi_dot(tensors) -> Tensor

    The product of two or more matrices, multiplied in the order that needs the fewest
    operations (the first may be a 1-D row vector, the last a 1-D column vector).
    """
    op = "linalg.multi_dot"
    ts = list(tensors)
    if len(ts) < 2:
        raise RuntimeError(f"multi_dot(): expected at least 2 tensors but got {len(ts)}")
    for i, t in enumerate(ts):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}(): argument 'tensors' must be tuple of Tensors, but found element of type "
                            f"{type(t).__name__} at pos {i}")
    first_vec, last_vec = ts[0].ndim == 1, ts[-1].ndim == 1
    if ts[0].ndim not in (1, 2):
        raise RuntimeError(f"multi_dot(): the first tensor must be 1D or 2D but got {ts[0].ndim}D")
    if ts[-1].ndim not in (1, 2):
        raise RuntimeError(f"multi_dot(): the last tensor must be 1D or 2D but got {ts[-1].ndim}D")
    for i, t in enumerate(ts[1:-1], 1):
        if t.ndim != 2:
            raise RuntimeError(f"multi_dot(): tensor {i} must be 2D but got {t.ndim}D")
    if first_vec:
        ts[0] = ts[0].unsqueeze(0)
    if last_vec:
        ts[-1] = ts[-1].unsqueeze(1)
    for i in range(len(ts) - 1):
        if ts[i].shape[1] != ts[i + 1].shape[0]:
            raise RuntimeError(f"multi_dot(): tensors {i} and {i + 1} with shapes {tuple(tensors[i].shape)} and "
                               f"{tuple(tensors[i + 1].shape)} cannot be multiplied")
    dims = [ts[0].shape[0]] + [t.shape[1] for t in ts]
    r = _chain(ts, _order(dims), 0, len(ts) - 1)
    if first_vec:
        r = r.squeeze(0)
    if last_vec:
        r = r.squeeze(-1)
    return C.out_(r, out)


def _order(dims):
    """The split table of the classic matrix-chain dynamic programme."""
    n = len(dims) - 1
    cost = [[0] * n for _ in range(n)]
    split = [[0] * n for _ in range(n)]
    for length in range(1, n):
        for i in range(n - length):
            j = i + length
            cost[i][j] = math.inf
            for k in range(i, j):
                c = cost[i][k] + cost[k + 1][j] + dims[i] * dims[k + 1] * dims[j + 1]
                if c < cost[i][j]:
                    cost[i][j], split[i][j] = c, k
    return split


def _chain(ts, split, i, j):
    if i == j:
        return ts[i]
    k = split[i][j]
    return _mm(_chain(ts, split, i, k), _chain(ts, split, k + 1, j))


def cross(input, other, *, dim=-1, out=None):
    """cross(input, other, *, dim=-1) -> Tensor: the cross product of 3-vectors along ``dim``
    (batch dims broadcast). Differentiable."""
    from .._shape_extra import cross as _cross

    if not isinstance(input, Tensor) or not isinstance(other, Tensor):
        raise TypeError("linalg.cross(): arguments 'input' and 'other' must be Tensors")
    if input.ndim != other.ndim:
        raise RuntimeError(f"linalg.cross: inputs must have the same number of dimensions, got {input.ndim} and {other.ndim}")
    d = dim % input.ndim if input.ndim and -input.ndim <= dim < input.ndim else dim
    if not isinstance(d, int) or not 0 <= d < max(input.ndim, 1):
        raise IndexError(f"Dimension out of range (expected to be in range of [{-input.ndim}, {input.ndim - 1}], but got {dim})")
    if input.shape[d] != 3 or other.shape[d] != 3:
        raise RuntimeError(f"linalg.cross: inputs dimension {dim} must have length 3. Got {input.shape[d]} and {other.shape[d]}")
    return C.out_(_cross(input, other, dim=d), out)


def vecdot(x, y, *, dim=-1, out=None):
    """vecdot(x, y, *, dim=-1) -> Tensor: the dot product of vectors along ``dim`` (batch dims
    broadcast; real tensors, so no conjugation)."""
    if not isinstance(x, Tensor) or not isinstance(y, Tensor):
        raise TypeError("linalg.vecdot(): arguments 'x' and 'y' must be Tensors")
    if x.shape[dim] != y.shape[dim]:
        raise RuntimeError(f"linalg.vecdot: x and y must have the same size along dim {dim}, got shapes "
                           f"{tuple(x.shape)} and {tuple(y.shape)}")
    return C.out_(_ops.sum(x * y, dim), out)


def diagonal(A, *, offset=0, dim1=-2, dim2=-1):
    """diagonal(A, *, offset=0, dim1=-2, dim2=-1) -> Tensor: ``deepseek.diagonal`` with the
    last two dims as the default matrix dims."""
    from .._shape_extra import diagonal as _diag

    return _diag(A, offset, dim1, dim2)


def matmul(input, other, *, out=None):
    """matmul(input, other) -> Tensor: alias of ``deepseek.matmul``."""
    return _ops._out(_ops.matmul(input, other), out)


def vander(x, *, N=None):
    """vander(x, *, N=None) -> Tensor: the Vandermonde matrix with powers increasing left to
    right (``x**0, x**1, ..., x**(N-1)``) along a new last dim; batch dims allowed."""
    if not isinstance(x, Tensor):
        raise TypeError(f"linalg.vander(): argument 'x' must be Tensor, not {type(x).__name__}")
    if x.ndim < 1:
        raise RuntimeError("linalg.vander: x must have at least one dimension.")
    n = x.shape[-1] if N is None else N
    if n < 0:
        raise RuntimeError("linalg.vander: N must be greater than 1.")
    if n == 0:
        return _core.zeros(list(x.shape) + [0], x._dtype, x._device)
    cols = [_ones_like(x)]
    for _ in range(1, n):
        cols.append(cols[-1] * x)
    return _ops.stack(cols, -1)


def tensorinv(A, ind=2, *, out=None):
    """tensorinv(A, ind=2) -> Tensor: the inverse of ``A`` seen as a square matrix of its
    first ``ind`` dims by the rest; the result has shape ``A.shape[ind:] + A.shape[:ind]``."""
    from ._solve import inv

    if ind <= 0:
        raise RuntimeError(f"Expected a strictly positive integer for 'ind', but got {ind}")
    left, right = list(A.shape[:ind]), list(A.shape[ind:])
    if math.prod(left) != math.prod(right):
        raise RuntimeError(f"Expected self to satisfy the requirement prod(self.shape[ind:]) == prod(self.shape[:ind]), "
                           f"but got {math.prod(right)} != {math.prod(left)}")
    r = inv(A.reshape(math.prod(left), math.prod(right))).reshape(*right, *left)
    return C.out_(r, out)


def tensorsolve(A, B, dims=None, *, out=None):
    """tensorsolve(A, B, dims=None) -> Tensor: ``X`` with ``tensordot(A, X, X.ndim) = B``
    (the dims of ``A`` listed in ``dims`` are moved to the end first)."""
    from ._solve import solve

    if dims is not None:
        dims = [d % A.ndim for d in dims]
        rest = [d for d in range(A.ndim) if d not in dims]
        A = A.permute(*rest, *dims)
    x_shape = list(A.shape[B.ndim:])
    n = math.prod(x_shape)
    if math.prod(B.shape) != math.prod(A.shape[:B.ndim]) or math.prod(A.shape[:B.ndim]) != n:
        raise RuntimeError(f"Expected self to satisfy the requirement prod(self.shape[other.ndim:]) == "
                           f"prod(self.shape[:other.ndim]), but got {n} != {math.prod(A.shape[:B.ndim])}")
    r = solve(A.reshape(n, n), B.reshape(n)).reshape(*x_shape)
    return C.out_(r, out)
