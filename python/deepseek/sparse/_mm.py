"""Sparse × dense and dense × sparse products with autograd.

The products run in the core's CSR kernels (rows in parallel). Gradients follow PyTorch's
``torch.sparse.mm``: the dense operand gets the dense gradient, the sparse operand a gradient
with its own pattern (the sampled product of the output gradient and the other operand), so a
sparse weight stays sparse through training.
"""
from __future__ import annotations

from .. import _core
from .._core import Tensor
from .._layout import sparse_csr
from ..autograd.function import Function
from ._tensor import SparseTensor


class _CsrDense(Function):
    """CSR (M × K) @ dense (K × N)."""

    @staticmethod
    def forward(ctx, crow, col, values, dense, nrows, ncols):
        ctx.save_for_backward(values, dense)
        ctx.shape = (crow, col, nrows, ncols)
        return _core.sparse_csr_mm(crow, col, values, dense, nrows)

    @staticmethod
    def backward(ctx, g):
        values, dense = ctx.saved_tensors
        crow, col, nrows, ncols = ctx.shape
        gv = gd = None
        if ctx.needs_input_grad[2]:
            # d out[i, :] / d v_p = dense[col_p, :]
            gv = _core.sparse_sddmm(crow, col, g, dense)
        if ctx.needs_input_grad[3]:
            ct, colt, perm = _core.sparse_csr_transpose(crow, col, nrows, ncols)
            gd = _core.sparse_csr_mm(ct, colt, _core.index_select(values, 0, perm), g, ncols)
        return None, None, gv, gd, None, None


class _DenseCsr(Function):
    """dense (M × K) @ CSR (K × N)."""

    @staticmethod
    def forward(ctx, dense, crow, col, values, nrows, ncols):
        ctx.save_for_backward(dense, values)
        ctx.shape = (crow, col, nrows, ncols)
        return _core.sparse_dense_csr_mm(dense, crow, col, values, ncols)

    @staticmethod
    def backward(ctx, g):
        dense, values = ctx.saved_tensors
        crow, col, nrows, ncols = ctx.shape
        gd = gv = None
        if ctx.needs_input_grad[0]:
            ct, colt, perm = _core.sparse_csr_transpose(crow, col, nrows, ncols)
            gd = _core.sparse_dense_csr_mm(g, ct, colt, _core.index_select(values, 0, perm), nrows)
        if ctx.needs_input_grad[3]:
            # d out[m, col_p] / d v_p = dense[m, row_p]: dot products over m
            gv = _core.sparse_sddmm(crow, col, _core.contiguous(dense.t()), _core.contiguous(g.t()))
        return gd, None, None, gv, None, None


def _as_csr(op, s):
    if s.ndim != 2 or s.dense_dim() != 0:
        raise RuntimeError(f"{op}: the sparse operand must be 2-D without dense dims, got shape {tuple(s.shape)}")
    return s if s.layout is sparse_csr else s.to_sparse_csr()


def _check_pair(op, a, b):
    if a.ndim != 2 or b.ndim != 2:
        raise RuntimeError(f"{op}: expected 2-D operands, got shapes {tuple(a.shape)} and {tuple(b.shape)}")
    if a.shape[1] != b.shape[0]:
        raise RuntimeError(f"{op}: mat1 and mat2 shapes cannot be multiplied ({a.shape[0]}x{a.shape[1]} and "
                           f"{b.shape[0]}x{b.shape[1]})")
    if a.dtype != b.dtype:
        raise RuntimeError(f"{op}: expected mat1 and mat2 to have the same dtype, but got: {a.dtype} != {b.dtype}")
    if not a.dtype.is_floating_point:
        raise RuntimeError(f"{op}: sparse products run float32 and float64, got {a.dtype}")


def mm(mat1, mat2):
    """mm(mat1, mat2) -> Tensor or SparseTensor

    The matrix product of a sparse and a dense matrix (either order), dense; of two sparse
    matrices, sparse COO. Gradients reach the dense operand and the sparse operand's values:
    a sparse operand's gradient has its own pattern, as ``torch.sparse.mm``.

    Example::

        >>> a = deepseek.tensor([[0.0, 2.0], [1.0, 0.0]]).to_sparse_csr()
        >>> deepseek.sparse.mm(a, deepseek.eye(2))
        tensor([[0., 2.],
                [1., 0.]])
    """
    op = "sparse.mm"
    sa, sb = isinstance(mat1, SparseTensor), isinstance(mat2, SparseTensor)
    for x, name in ((mat1, "mat1"), (mat2, "mat2")):
        if not isinstance(x, (SparseTensor, Tensor)):
            raise TypeError(f"{op}(): argument '{name}' must be Tensor, not {type(x).__name__}")
    _check_pair(op, mat1, mat2)
    if sa and sb:
        # no sparse × sparse kernel: the product of the dense forms, stored sparse again
        return mm(mat1, mat2.to_dense()).to_sparse()
    if sa:
        s = _as_csr(op, mat1)
        return _CsrDense.apply(s._crow, s._col, s._vals, mat2, s.shape[0], s.shape[1])
    if sb:
        s = _as_csr(op, mat2)
        return _DenseCsr.apply(mat1, s._crow, s._col, s._vals, s.shape[0], s.shape[1])
    return _core.matmul(mat1, mat2)


def addmm(input, mat1, mat2, *, beta=1.0, alpha=1.0):
    """addmm(input, mat1, mat2, *, beta=1.0, alpha=1.0) -> Tensor

    ``beta * input + alpha * (mat1 @ mat2)`` where either of ``mat1``, ``mat2`` may be sparse
    (``input`` dense). With ``beta == 0`` the input is ignored, as PyTorch does.
    """
    p = mm(mat1, mat2)
    if isinstance(p, SparseTensor):
        p = p.to_dense()
    if isinstance(input, SparseTensor):
        input = input.to_dense()
    r = p if alpha == 1 else p * alpha
    if beta == 0:
        return r
    return (input if beta == 1 else input * beta) + r
