"""Sparse gradients for ``nn.Embedding(sparse=True)``.

The engine accumulates dense gradients into ``Tensor.grad``; a sparse one is kept beside it.
The lookup's backward hands the engine nothing for the weight and instead adds a COO tensor
(the looked-up row ids, the rows' gradients) to the parameter's sparse slot. The parameter's
class becomes ``SparseGradParameter``, whose ``grad`` reads that slot, so only embedding weights
used sparsely pay for the extra property; every other parameter keeps the core's ``grad``.
"""
from __future__ import annotations

from .. import _core
from .._core import Tensor
from .._layout import sparse_coo
from ..autograd.function import Function
from ..nn.parameter import Parameter
from ._tensor import SparseTensor

_dense_grad = Tensor.grad  # the core's getset descriptor


class SparseGradParameter(Parameter):
    """A parameter whose gradient may be sparse (an embedding weight with ``sparse=True``).
    ``grad`` is the sparse gradient when one was produced; a dense gradient from another use of
    the same weight is merged into it (the sum is then dense)."""

    @property
    def grad(self):
        sp = self.__dict__.get("_sparse_grad")
        dense = _dense_grad.__get__(self)
        if sp is None:
            return dense
        if dense is None:
            return sp
        # both kinds arrived (tied weights): PyTorch's sum of the two is dense
        merged = dense.index_put(tuple(sp._ind.unbind(0)), sp._vals, accumulate=True)
        del self.__dict__["_sparse_grad"]
        _dense_grad.__set__(self, merged)
        return merged

    @grad.setter
    def grad(self, value):
        if isinstance(value, SparseTensor):
            if tuple(value.shape) != tuple(self.shape):
                raise RuntimeError(f"assigned grad has data of a different size: {tuple(value.shape)} vs {tuple(self.shape)}")
            self.__dict__["_sparse_grad"] = value
            _dense_grad.__set__(self, None)
        else:
            self.__dict__.pop("_sparse_grad", None)
            _dense_grad.__set__(self, value)


def _accumulate(weight, g):
    sp = weight.__dict__.get("_sparse_grad")
    if sp is not None:
        # uncoalesced, as PyTorch's accumulation of sparse gradients
        g = SparseTensor(sparse_coo, g.shape, _core.cat([sp._vals, g._vals], 0), _core.cat([sp._ind, g._ind], 1))
    weight.__dict__["_sparse_grad"] = g


class _SparseLookup(Function):
    @staticmethod
    def forward(ctx, weight, flat, padding_idx):
        ctx.weight, ctx.flat, ctx.padding_idx = weight, flat, padding_idx
        return _core.index_select(weight.detach(), 0, flat)

    @staticmethod
    def backward(ctx, g):
        flat, w = ctx.flat, ctx.weight
        if ctx.padding_idx is not None:
            keep = flat != ctx.padding_idx
            flat, g = flat[keep], g[keep]
        g = g.detach()
        _accumulate(w, SparseTensor(sparse_coo, w.shape, _core.contiguous(g), _core.contiguous(flat.unsqueeze(0))))
        return None, None, None


def sparse_rows(weight, flat, padding_idx=None):
    """``weight[flat]`` whose backward leaves a sparse gradient on ``weight``."""
    if type(weight) is Parameter:
        weight.__class__ = SparseGradParameter
    if not isinstance(weight, SparseGradParameter):
        return _core.index_select(weight, 0, flat)  # another Parameter subclass: dense gradient
    flat = flat if flat._dtype == "int64" else _core.cast(flat, "int64")
    return _SparseLookup.apply(weight, flat, padding_idx)
