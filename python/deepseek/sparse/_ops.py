"""Operations on sparse tensors: reductions, softmax, elementwise arithmetic, transposes.

Each is composed from dense deepseek ops on the index and value tensors (and the core's
sparse kernels for sorting and matching indices), so gradients reach the values through the
ordinary autograd engine.
"""
from __future__ import annotations

import numbers

from .. import _core, _ops
from .._core import Tensor
from .._scatter_extra import scatter_reduce
from .._layout import sparse_coo, sparse_csr
from ._mm import mm
from ._tensor import SparseTensor, _dim, _linear_keys, _unravel


def _coo(s):
    return s.to_sparse().coalesce()


def _back(s, like):
    """``s`` (COO) in ``like``'s layout."""
    return s.to_sparse_csr() if like.layout is sparse_csr else s


def _group(indices, sizes, keep):
    """Segments of the stored elements that share their indices in the dims ``keep``:
    ``(segment, unique keys)``."""
    sub = _core.index_select(indices, 0, _core_tensor(keep)) if keep else _core.zeros([0, indices.shape[1]], "int64", None)
    return _core.sparse_coalesce_keys(_linear_keys(sub, [sizes[d] for d in keep]))


def _core_tensor(xs):
    from .._creation import tensor

    return tensor(list(xs), dtype="int64")


def sum(input, dim=None, dtype=None):
    """sum(input, dim=None, dtype=None) -> Tensor or SparseTensor

    The sum over ``dim`` (all dims when None). Summing every sparse dim gives a dense tensor
    (a 0-d one for the full sum); summing some of them a sparse COO tensor of the rest, as
    ``torch.sparse.sum``.
    """
    if not isinstance(input, SparseTensor):
        raise TypeError(f"sparse.sum(): input must be a sparse tensor, got {type(input).__name__}")
    s = _coo(input) if dtype is None else _coo(input).to(dtype)
    v = s._vals
    if dim is None:
        return v.sum() if v.shape[0] else _core.zeros([], v._dtype, v._device) + v.sum()
    dims = sorted({_dim(d, input.ndim, "sparse.sum") for d in ([dim] if isinstance(dim, int) else dim)})
    sd = s.sparse_dim()
    sparse_dims = [d for d in dims if d < sd]
    dense_dims = [d - sd + 1 for d in dims if d >= sd]
    if dense_dims:
        v = v.sum(dense_dims)
    keep = [d for d in range(sd) if d not in sparse_dims]
    out_size = [input.shape[d] for d in range(input.ndim) if d not in dims]
    if not keep:
        return v.sum(0)
    seg, uniq = _group(s._ind, list(input.shape), keep)
    vals = _core.index_add(_core.zeros([uniq.shape[0]] + list(v.shape[1:]), v._dtype, v._device), 0, seg, v)
    return SparseTensor(sparse_coo, out_size, vals, _unravel(uniq, [input.shape[d] for d in keep]), coalesced=True)


def _segment_softmax(op, input, dim, log):
    if not isinstance(input, SparseTensor):
        raise TypeError(f"sparse.{op}(): input must be a sparse tensor, got {type(input).__name__}")
    d = _dim(dim, input.ndim, f"sparse.{op}")
    s = _coo(input)
    v = s._vals
    sd = s.sparse_dim()
    if d >= sd:
        # a dense dim: an ordinary softmax inside each stored value
        f = _ops.log_softmax if log else _ops.softmax
        return _back(s._with_values(f(v, d - sd + 1)), input)
    if v.shape[0] == 0:
        return _back(s, input)
    seg, uniq = _group(s._ind, list(input.shape), [k for k in range(sd) if k != d])
    shape = [uniq.shape[0]] + list(v.shape[1:])
    idx = seg.reshape([-1] + [1] * (v.ndim - 1)).expand(*v.shape)
    # the shift only guards exp against overflow; it carries no gradient
    m = scatter_reduce(_core.full(shape, float("-inf"), v._dtype, v._device), 0, idx, v.detach(), "amax")
    z = v - _core.index_select(m, 0, seg)
    e = _ops.exp(z)
    tot = _core.index_add(_core.zeros(shape, v._dtype, v._device), 0, seg, e)
    out = z - _ops.log(_core.index_select(tot, 0, seg)) if log else e / _core.index_select(tot, 0, seg)
    return _back(s._with_values(out), input)


def softmax(input, dim, dtype=None):
    """softmax(input, dim, dtype=None) -> SparseTensor

    Softmax over ``dim`` of the stored elements only: unstored elements count as minus
    infinity, so the result has ``input``'s pattern (as ``torch.sparse.softmax``).
    """
    return _segment_softmax("softmax", input if dtype is None else input.to(dtype), dim, False)


def log_softmax(input, dim, dtype=None):
    """log_softmax(input, dim, dtype=None) -> SparseTensor: ``log(softmax(input, dim))`` over
    the stored elements."""
    return _segment_softmax("log_softmax", input if dtype is None else input.to(dtype), dim, True)


def _same_shape(op, a, b):
    if tuple(a.shape) != tuple(b.shape):
        raise RuntimeError(f"{op}: operands must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    if a.sparse_dim() != b.sparse_dim():
        raise RuntimeError(f"{op}: operands must have the same sparse_dim, got {a.sparse_dim()} and {b.sparse_dim()}")


def add(input, other, *, alpha=1):
    """add(input, other, *, alpha=1): sparse + sparse is sparse (the union of the patterns);
    sparse + dense is dense."""
    if isinstance(other, SparseTensor):
        _same_shape("add", input, other)
        a, b = input.to_sparse(), other.to_sparse()
        bv = b._vals if alpha == 1 else b._vals * alpha
        ind = _ops.cat([a._ind, b._ind], 1)
        rt = _ops.result_type(a._vals, bv)
        vals = _ops.cat([a._vals.to(rt), bv.to(rt)], 0)
        return _back(SparseTensor(sparse_coo, input.shape, vals, ind).coalesce(), input)
    if isinstance(other, Tensor):
        if tuple(other.shape) != tuple(input.shape):
            raise RuntimeError(f"add: a sparse tensor of shape {tuple(input.shape)} and a dense one of shape "
                               f"{tuple(other.shape)}: shapes must match")
        return input.to_dense() + (other if alpha == 1 else other * alpha)
    raise RuntimeError(f"add: a sparse tensor and a {type(other).__name__}: adding a scalar would fill every unstored "
                       f"element; use s.to_dense() + value")


def mul(input, other):
    """mul(input, other): sparse * sparse keeps the stored elements both have; sparse * dense
    and sparse * scalar keep ``input``'s pattern."""
    if isinstance(other, SparseTensor):
        _same_shape("mul", input, other)
        a, b = _coo(input), _coo(other)
        sizes = list(input.shape[: a.sparse_dim()])
        ia, ib = _core.sparse_intersect(_linear_keys(a._ind, sizes), _linear_keys(b._ind, sizes))
        vals = _core.index_select(a._vals, 0, ia) * _core.index_select(b._vals, 0, ib)
        return _back(SparseTensor(sparse_coo, input.shape, vals, _core.index_select(a._ind, 1, ia), coalesced=True), input)
    if isinstance(other, Tensor):
        if other.ndim == 0:
            return input._with_values(input._vals * other)
        if tuple(other.shape) != tuple(input.shape):
            raise RuntimeError(f"mul: a sparse tensor of shape {tuple(input.shape)} and a dense one of shape "
                               f"{tuple(other.shape)}: shapes must match")
        idx = input._coo_index()
        return input._with_values(input._vals * other[tuple(idx.unbind(0))])
    if isinstance(other, numbers.Number):
        return input._with_values(input._vals * other)
    return NotImplemented


def transpose(input, dim0, dim1):
    """transpose(input, dim0, dim1) -> SparseTensor: ``input`` with two sparse dims swapped
    (for CSR, the transposed CSR matrix)."""
    n = input.ndim
    d0, d1 = _dim(dim0, n, "transpose"), _dim(dim1, n, "transpose")
    if d0 == d1:
        return input
    if input.layout is sparse_csr:
        ct, colt, perm = _core.sparse_csr_transpose(input._crow, input._col, input.shape[0], input.shape[1])
        return SparseTensor(sparse_csr, (input.shape[1], input.shape[0]), _core.index_select(input._vals, 0, perm),
                            crow=ct, col=colt)
    sd = input.sparse_dim()
    if d0 >= sd or d1 >= sd:
        raise RuntimeError(f"transpose: both dims must be sparse dims of a COO tensor (sparse_dim={sd}), got {dim0} and {dim1}")
    order = list(range(sd))
    order[d0], order[d1] = order[d1], order[d0]
    size = list(input.shape)
    size[d0], size[d1] = size[d1], size[d0]
    return SparseTensor(sparse_coo, size, input._vals, _core.index_select(input._ind, 0, _core_tensor(order)))


# unary functions with f(0) == 0 keep the pattern; they act on the values alone
_ZERO_PRESERVING = ("neg abs sqrt sin tan tanh asin atan sinh asinh atanh expm1 log1p relu sign "
                    "square trunc floor ceil round sgn deg2rad rad2deg").split()


def _install_unary(name):
    f = getattr(_ops, name, None)
    if f is None:
        import deepseek

        f = getattr(deepseek, name, None)
    if f is None:
        return

    def method(self):
        return self._with_values(f(self._vals))

    method.__name__ = name
    method.__doc__ = f"{name}() -> SparseTensor: ``{name}`` of the stored values (``{name}(0) == 0``, so the pattern stays)."
    setattr(SparseTensor, name, method)


def _matmul(self, other):
    if isinstance(other, Tensor) and other.ndim == 1:
        return mm(self, other.unsqueeze(1)).squeeze(1)
    return mm(self, other)


def _rmatmul(self, other):
    if isinstance(other, Tensor) and other.ndim == 1:
        return mm(other.unsqueeze(0), self).squeeze(0)
    if not isinstance(other, Tensor):
        return NotImplemented
    return mm(other, self)


def _pow(self, exponent):
    if not isinstance(exponent, numbers.Number) or exponent <= 0:
        raise RuntimeError(f"pow: a sparse tensor to the power {exponent!r}: only positive scalar exponents keep zeros zero")
    return self._with_values(self._vals ** exponent)


def _div(self, other):
    if isinstance(other, SparseTensor):
        raise RuntimeError("div: dividing by a sparse tensor would divide by its unstored zeros")
    if isinstance(other, Tensor) and other.ndim != 0:
        return mul(self, 1.0 / other)
    return self._with_values(self._vals / other)


def _sum_method(self, dim=None, keepdim=False, dtype=None):
    """sum(dim=None, keepdim=False, dtype=None): ``deepseek.sparse.sum`` (``keepdim`` is not
    supported for sparse tensors, as in PyTorch)."""
    if keepdim:
        raise RuntimeError("sum: keepdim=True is not supported for sparse tensors")
    return sum(self, dim, dtype)


def install():
    """Adds the operators and methods to ``SparseTensor`` (once, at import)."""
    S = SparseTensor
    S.__matmul__ = _matmul
    S.__rmatmul__ = _rmatmul
    S.mm = lambda self, mat2: mm(self, mat2)
    S.matmul = _matmul
    S.__add__ = lambda self, o: add(self, o)
    S.__radd__ = lambda self, o: add(self, o)
    S.__sub__ = lambda self, o: add(self, o, alpha=-1) if isinstance(o, (SparseTensor, Tensor)) else add(self, o)
    S.__rsub__ = lambda self, o: add(-self, o)
    S.__mul__ = lambda self, o: mul(self, o)
    S.__rmul__ = lambda self, o: mul(self, o)
    S.__truediv__ = _div
    S.__neg__ = lambda self: self._with_values(-self._vals)
    S.__pos__ = lambda self: self
    S.__pow__ = _pow
    S.add = add
    S.sub = lambda self, o, *, alpha=1: add(self, o, alpha=-alpha)
    S.mul = mul
    S.div = _div
    S.pow = _pow
    S.sum = _sum_method
    S.softmax = lambda self, dim, dtype=None: softmax(self, dim, dtype)
    S.log_softmax = lambda self, dim, dtype=None: log_softmax(self, dim, dtype)
    S.transpose = transpose
    S.t = lambda self: transpose(self, 0, 1) if self.ndim == 2 else (_ for _ in ()).throw(
        RuntimeError(f"t() expects a tensor with <= 2 dims, but self is {self.ndim}D"))
    S.T = property(lambda self: self.t())
    S.mT = property(lambda self: transpose(self, -2, -1))
    for name in _ZERO_PRESERVING:
        _install_unary(name)
