"""Norms and condition numbers: vector_norm, matrix_norm, norm, cond. Composed from
differentiable ops (and ``svdvals`` for the spectral and nuclear norms); the p-norm has its
own backward so that its gradient at zero is 0, as in PyTorch, rather than 0/0."""
from __future__ import annotations

import math

from .. import _core, _ops
from .._core import Tensor
from ..autograd.function import Function
from . import _common as C

_INF = math.inf


def _dims(op, x, dim):
    if dim is None:
        return list(range(x.ndim))
    dims = [dim] if isinstance(dim, int) else list(dim)
    out = []
    for d in dims:
        if not -max(x.ndim, 1) <= d < max(x.ndim, 1):
            raise IndexError(f"Dimension out of range (expected to be in range of [{-max(x.ndim, 1)}, "
                             f"{max(x.ndim, 1) - 1}], but got {d})")
        out.append(d % max(x.ndim, 1))
    if len(set(out)) != len(out):
        raise RuntimeError(f"{op}: dims must be different. Got {tuple(dims)}")
    return out if x.ndim else []


def _float_input(op, x, dtype):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}(): argument 'x' (position 1) must be Tensor, not {type(x).__name__}")
    if dtype is not None:
        from .._dtype import to_dtype

        dt = to_dtype(dtype).name
        if dt not in C.FLOATS:
            raise RuntimeError(f"{op}: dtype should be floating point or complex, but got {dt}")
        x = x.to(dt)
    if x._dtype not in C.FLOATS:
        raise RuntimeError(f"{op}: Expected a floating point or complex tensor as input. Got {C.torch_dtype_name(x)}")
    return x


class _PNorm(Function):
    """``sum(|x|^p)^(1/p)`` over ``dims``; the gradient is 0 where the norm is 0."""

    @staticmethod
    def forward(ctx, x, dims, keepdim, p):
        ax = x.abs()
        if p == 2:
            r = _ops.sqrt(_core.reduce("sum", x * x, dims, keepdim))
        elif p == 1:
            r = _core.reduce("sum", ax, dims, keepdim)
        else:
            r = _ops.pow(_core.reduce("sum", _ops.pow(ax, p), dims, keepdim), 1.0 / p)
        ctx.save_for_backward(x, r)
        ctx.args = (dims, keepdim, p)
        return r

    @staticmethod
    def backward(ctx, g):
        x, r = ctx.saved_tensors
        dims, keepdim, p = ctx.args
        if not keepdim:
            for d in sorted(dims):
                g, r = g.unsqueeze(d), r.unsqueeze(d)
        nz = r != 0
        safe_r = _ops.where(nz, r, 1.0)
        if p == 2:
            scale = x / safe_r
        elif p == 1:
            scale = _ops.sign(x)
        else:
            scale = _ops.sign(x) * _ops.pow(x.abs() / safe_r, p - 1)
        return _ops.where(nz, g * scale, 0.0), None, None, None


def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None, out=None):
    """vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None) -> Tensor

    The ``ord``-norm of ``x`` over ``dim`` (all elements when None): ``inf``/``-inf`` the
    largest/smallest absolute value, 0 the count of non-zeros, otherwise
    ``sum(|x|^ord)^(1/ord)``. float16/bfloat16 accumulate in float32. The gradient at a zero
    vector is 0, as in PyTorch.

        >>> deepseek.linalg.vector_norm(deepseek.tensor([3., 4.]))
        tensor(5.)
    """
    op = "linalg.vector_norm"
    x = _float_input(op, x, dtype)
    if isinstance(ord, bool) or not isinstance(ord, (int, float)):
        raise TypeError(f"{op}(): argument 'ord' must be Number, not {type(ord).__name__}")
    dims = _dims(op, x, dim)
    half = x._dtype in ("float16", "bfloat16")
    xw = x.to("float32") if half else x
    n_reduced = math.prod(x.shape[d] for d in dims) if dims else x.numel()
    if n_reduced == 0 and (ord < 0 or ord == _INF):
        raise RuntimeError(f"{op} cannot compute the {ord} norm on an empty tensor because the operation "
                           "does not have an identity")
    if ord == _INF:
        r = _core.reduce("amax", xw.abs(), dims, keepdim)
    elif ord == -_INF:
        r = _core.reduce("amin", xw.abs(), dims, keepdim)
    elif ord == 0:
        r = _core.reduce("sum", (xw != 0).to(xw._dtype), dims, keepdim)
    else:
        r = _PNorm.apply(xw, dims, bool(keepdim), float(ord))
    r = r.to(x._dtype) if half else r
    return C.out_(r, out)


def _matrix_dims(op, A, dim):
    if len(dim) != 2:
        raise RuntimeError(f"{op}: dim must be a 2-tuple. Got {tuple(dim)}")
    d = _dims(op, A, dim)
    return d[0], d[1]


def _keep(r, d0, d1, keepdim):
    if keepdim:
        for d in sorted((d0, d1)):
            r = r.unsqueeze(d)
    return r


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None, out=None):
    """matrix_norm(A, ord='fro', dim=(-2, -1), keepdim=False, *, dtype=None) -> Tensor

    A matrix norm of the matrices spanned by ``dim``: ``'fro'`` (Frobenius), ``'nuc'`` (sum of
    singular values), ``inf``/``-inf`` (max/min absolute row sum), ``1``/``-1`` (max/min
    absolute column sum), ``2``/``-2`` (largest/smallest singular value). The singular values
    come from ``svdvals`` (faer, CPU). Differentiable.
    """
    op = "linalg.matrix_norm"
    A = _float_input(op, A, dtype)
    if A.ndim < 2:
        raise RuntimeError(f"{op}: The input tensor A must have at least 2 dimensions.")
    d0, d1 = _matrix_dims(op, A, dim)
    if ord == "fro":
        return C.out_(vector_norm(A, 2, (d0, d1), keepdim), out)
    if ord in ("nuc", 2, -2):
        from ._spectral import svdvals

        if A.shape[d0] == 0 or A.shape[d1] == 0:
            if ord != "nuc":
                raise RuntimeError(f"{op}: cannot compute the {ord} norm of an empty matrix")
        rest = [d for d in range(A.ndim) if d not in (d0, d1)]
        S = svdvals(A.permute(*rest, d0, d1))
        if ord == "nuc":
            r = _ops.sum(S, -1)
        else:
            r = S[..., 0] if ord == 2 else S[..., -1]
        return C.out_(_keep(r, d0, d1, keepdim), out)
    if ord in (_INF, -_INF, 1, -1):
        if A.shape[d0] == 0 or A.shape[d1] == 0:
            raise RuntimeError(f"{op}: cannot compute the {ord} norm of an empty matrix")
        sum_dim, red_dim = (d1, d0) if ord in (_INF, -_INF) else (d0, d1)
        s = _core.reduce("sum", A.abs(), [sum_dim], True)
        r = _core.reduce("amax" if ord > 0 else "amin", s, [red_dim], True)
        if not keepdim:
            r = r.squeeze(max(d0, d1)).squeeze(min(d0, d1))
        return C.out_(r, out)
    raise RuntimeError(f"{op}: Order {ord} not supported.")


def norm(A, ord=None, dim=None, keepdim=False, *, dtype=None, out=None):
    """norm(A, ord=None, dim=None, keepdim=False, *, dtype=None) -> Tensor

    A vector or matrix norm, as PyTorch chooses: with ``dim`` an int (or a 1-tuple) a vector
    norm; with a 2-tuple, or with ``dim=None`` and a 2-D input and ``ord`` given, a matrix norm;
    with ``dim=None`` and ``ord=None`` the 2-norm of the flattened input.
    """
    op = "linalg.norm"
    if isinstance(dim, int):
        dim = (dim,)
    if dim is not None and len(dim) == 1:
        return vector_norm(A, 2 if ord is None else ord, dim, keepdim, dtype=dtype, out=out)
    if dim is not None and len(dim) == 2:
        return matrix_norm(A, "fro" if ord is None else ord, dim, keepdim, dtype=dtype, out=out)
    if dim is not None:
        raise RuntimeError(f"{op}: If dim is specified, it must be of length 1 or 2. Got {list(dim)}")
    if ord is None:
        return vector_norm(A, 2, None, keepdim, dtype=dtype, out=out)
    if not isinstance(A, Tensor):
        raise TypeError(f"{op}(): argument 'A' (position 1) must be Tensor, not {type(A).__name__}")
    if A.ndim == 2 or isinstance(ord, str):
        if A.ndim != 2:
            raise RuntimeError(f"{op}: If dim is not specified but ord is, the input must be 1D or 2D. Got {A.ndim}D.")
        return matrix_norm(A, ord, (-2, -1), keepdim, dtype=dtype, out=out)
    if A.ndim == 1:
        return vector_norm(A, ord, None, keepdim, dtype=dtype, out=out)
    raise RuntimeError(f"{op}: If dim is not specified but ord is, the input must be 1D or 2D. Got {A.ndim}D.")


def cond(A, p=None, *, out=None):
    """cond(A, p=None) -> Tensor

    The condition number of each matrix in the norm ``p``: ``sigma_max / sigma_min`` for
    ``p`` None, 2 (``sigma_min / sigma_max`` for -2), any matrix norm of ``matrix_norm``
    otherwise (``norm(A) * norm(inv(A))``, square invertible matrices only).
    """
    op = "linalg.cond"
    C.check(op, A)
    from ._solve import inv
    from ._spectral import svdvals

    if p in (None, 2, -2):
        S = svdvals(A)
        r = S[..., 0] / S[..., -1] if p != -2 else S[..., -1] / S[..., 0]
        return C.out_(r, out)
    C.check(op, A, square=True)
    return C.out_(matrix_norm(A, p) * matrix_norm(inv(A), p), out)
