"""Indexing and the rest of the functional API: gather/scatter, index_select/index_add,
masked_fill/select, broadcasting, nonzero, sort/topk, triangles, repeat/tile, one_hot, diag, pad,
cdist, addmm/baddbmm, logaddexp, diff."""
from __future__ import annotations

import builtins
import operator

from . import _core
from ._core import Tensor
from ._dtype import Size
from ._ops_args import (
    _HALF, _check_tensor, _int_arg, _narrow, _no_dims, _wrap_dim,
)
from ._ops_math import (
    _in_wide, _sparse_operand, bmm, exp, isinf, log1p, logical_xor, maximum, mm, result_type, where,
)
from ._ops_reduce import (
    _MinMax, norm,
)
from ._ops_shape import (
    _shape_args, cat,
)


def _scatter_args(op, input, dim, index, src=None):
    """The checks gather/scatter/scatter_add make before any shape or bound, in PyTorch's
    order: the dim, an int64 index, a ``src`` tensor of ``input``'s dtype. Returns the dim."""
    _check_tensor(op, input)
    d = _wrap_dim(op, dim, input)
    _check_tensor(op, index, "index")
    if index._dtype != "int64":
        raise RuntimeError(f"{op}(): Expected dtype int64 for index, but got {index.dtype}")
    if isinstance(src, Tensor) and src._dtype != input._dtype:
        raise RuntimeError(f"{op}(): Expected self.dtype to be equal to src.dtype, but got {input.dtype} and {src.dtype} "
                           f"(cast src first)")
    return d


def _index_args(op, input, dim, index, source=None):
    """The checks index_select/index_add make first: the dim, a vector (or 0-d) int64/int32
    index, a ``source`` of ``input``'s dtype. Returns the dim."""
    _check_tensor(op, input)
    d = _wrap_dim(op, dim, input)
    _check_tensor(op, index, "index")
    if index.ndim > 1:
        raise IndexError(f"{op}(): Index is supposed to be a vector, but got an index of shape {tuple(index.shape)}")
    if index._dtype not in ("int64", "int32"):
        raise RuntimeError(f"{op}(): Expected dtype int32/int64 for index, but got {index.dtype}")
    if source is not None:
        _check_tensor(op, source, "source")
        if source._dtype != input._dtype:
            raise RuntimeError(f"{op}(): self ({input.dtype}) and source ({source.dtype}) must have the same scalar type")
    return d


def gather(input, dim, index):
    """gather(input, dim, index) -> Tensor

    ``out[i][j] = input[i][index[i][j]]`` (for ``dim=1``); ``index`` is int64.
    """
    return _core.gather(input, _scatter_args("gather", input, dim, index), index)


def scatter(input, dim, index, src=None, value=None, *, reduce=None):
    """scatter(input, dim, index, src=None, value=None, *, reduce=None) -> Tensor

    Out-of-place scatter of ``src`` (a tensor of ``input``'s dtype) or of the number ``value``
    at the int64 ``index`` along ``dim``; ``reduce='add'`` accumulates.
    """
    d = _scatter_args("scatter", input, dim, index, src)
    s = src if src is not None else value
    if reduce not in (None, "add", "sum"):
        raise RuntimeError(f"scatter(): reduce argument must be 'add' or None, got {reduce!r}")
    return _core.scatter(input, d, index, s, reduce is not None)


def scatter_add(input, dim, index, src):
    """scatter_add(input, dim, index, src) -> Tensor

    Out-of-place scatter that adds ``src`` (of ``input``'s dtype) at the int64 ``index``.
    """
    return _core.scatter(input, _scatter_args("scatter_add", input, dim, index, src), index, src, True)


def index_select(input, dim, index):
    """index_select(input, dim, index) -> Tensor

    The entries ``index`` (a vector of int64 or int32) along ``dim``.
    """
    return _core.index_select(input, _index_args("index_select", input, dim, index), index)


def index_add(input, dim, index, source, *, alpha=1):
    """index_add(input, dim, index, source, *, alpha=1) -> Tensor

    Out-of-place ``input[index] += alpha * source`` along ``dim``; ``source`` has ``input``'s dtype.
    """
    d = _index_args("index_add", input, dim, index, source)
    return _core.index_add(input, d, index, source * alpha if alpha != 1 else source)


def _masked_fill_mask(op, input, mask):
    _check_tensor(op, input)
    _check_tensor(op, mask, "mask")
    if mask.dtype.name != "bool":
        raise RuntimeError(f"{op} only supports boolean masks, but got mask with dtype {mask.dtype}")


def _masked_fill_inplace_args(op, input, mask, value):
    """masked_fill_ writes into ``input``: the mask must broadcast to its shape."""
    _masked_fill_mask(op, input, mask)
    try:
        ok = tuple(_broadcast(tuple(input.shape), tuple(mask.shape))) == tuple(input.shape)
    except RuntimeError:
        ok = False
    if not ok:
        raise RuntimeError(f"{op}: the mask of shape {tuple(mask.shape)} must be broadcastable to the input of shape "
                           f"{tuple(input.shape)} (the result is written into it)")


def masked_fill(input, mask, value):
    """masked_fill(input, mask, value) -> Tensor

    ``value`` where the bool ``mask`` is True, ``input`` elsewhere; ``input`` and ``mask``
    broadcast together. ``value`` (a number or a 0-d tensor) must convert to ``input``'s dtype
    without overflow, as PyTorch's checked Scalar conversion.
    """
    _masked_fill_mask("masked_fill", input, mask)
    try:  # the shapes are checked before the value
        _broadcast(tuple(input.shape), tuple(mask.shape))
    except RuntimeError:
        raise RuntimeError(f"masked_fill: the mask of shape {tuple(mask.shape)} and the input of shape "
                           f"{tuple(input.shape)} do not broadcast together") from None
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise RuntimeError(f"masked_fill only supports a 0-dimensional value tensor, but got tensor with {value.ndim} dimension(s)")
        _core.full([], value.item(), input._dtype)  # the conversion check; the tensor itself keeps its gradient
        value = value.to(input.dtype)
    else:
        value = _core.full([], value, input._dtype)
    return _core.where(mask, value, input)


def masked_select(input, mask):
    """masked_select(input, mask): the elements where ``mask`` is True, as a 1-D tensor."""
    _check_tensor("masked_select", input)
    _check_tensor("masked_select", mask, "mask")
    if mask.dtype.name != "bool":
        raise RuntimeError(f"masked_select: expected a boolean mask, but got mask with dtype {mask.dtype}")
    shape = _broadcast(tuple(input.shape), tuple(mask.shape))
    x = input.expand(shape).reshape(-1)
    m = mask.expand(shape).reshape(-1)
    return _core.index(x, [_core.select(_core.nonzero(m), 1, 0)])


def _broadcast(a, b):
    n = builtins.max(len(a), len(b))
    a = (1,) * (n - len(a)) + a
    b = (1,) * (n - len(b)) + b
    out = []
    for x, y in zip(a, b):
        if x != y and x != 1 and y != 1:
            raise RuntimeError(f"shapes {a} and {b} cannot be broadcast")
        out.append(builtins.max(x, y) if x and y else 0)
    return out


def broadcast_shapes(*shapes):
    r = ()
    for s in shapes:
        r = tuple(_broadcast(tuple(r), tuple(s)))
    return Size(r)


def broadcast_tensors(*tensors):
    shape = broadcast_shapes(*[t.shape for t in tensors])
    return tuple(t.expand(shape) for t in tensors)


def nonzero(input, *, as_tuple=False):
    """nonzero(input, *, as_tuple=False): indices of non-zero elements."""
    r = _core.nonzero(input)
    if as_tuple:
        if input.ndim == 0:  # PyTorch treats a 0-d tensor as one element at index 0
            return (_core.zeros([r.shape[0]], "int64", input._device),)
        return tuple(r[:, i] for i in range(input.ndim))
    return r


def argwhere(input):
    return _core.nonzero(input)


def sort(input, dim=-1, descending=False, stable=False):
    """sort(input, dim=-1, descending=False): (values, indices), stable."""
    _check_tensor("sort", input)
    return _MinMax(_core.sort(input, _wrap_dim("sort", dim, input), descending))


def argsort(input, dim=-1, descending=False, stable=False):
    """argsort(input, dim=-1, descending=False): the indices that sort ``input`` along ``dim``."""
    _check_tensor("argsort", input)
    return _core.sort(input, _wrap_dim("argsort", dim, input), descending)[1]


def topk(input, k, dim=-1, largest=True, sorted=True):
    """topk(input, k, dim=-1, largest=True): the k largest (or smallest) and their indices."""
    _check_tensor("topk", input)
    d = _wrap_dim("topk", dim, input)
    return _MinMax(_core.topk(input, _int_arg("topk", k, "k"), d, largest))


def kthvalue(input, k, dim=-1, keepdim=False):
    """kthvalue(input, k, dim=-1, keepdim=False): the k-th smallest entry along ``dim`` (k from
    1) and its index."""
    _check_tensor("kthvalue", input)
    d = _wrap_dim("kthvalue", dim, input)
    k = _int_arg("kthvalue", k, "k")
    size = input.shape[d] if input.ndim else 1
    if size == 0:
        raise IndexError(f"kthvalue(): Expected reduction dim {d} to have non-zero size (shape {tuple(input.shape)})")
    if not 1 <= k <= size:
        raise RuntimeError(f"kthvalue(): selected number k out of range for dimension {d}: k = {k}, but the size is {size} (shape {tuple(input.shape)})")
    if input.ndim == 0:
        return _MinMax((_core.clone(input), _core.zeros([], "int64", input._device)))
    v, i = _core.topk(input, k, d, False)
    v, i = _core.slice(v, d, k - 1, k, 1), _core.slice(i, d, k - 1, k, 1)
    if not keepdim:
        v, i = _core.squeeze(v, [d]), _core.squeeze(i, [d])
    return _MinMax((v, i))


def _triangle(op, input, diagonal, keep):
    """``input`` with the entries outside the triangle that ``keep(col - row)`` selects zeroed."""
    _check_tensor(op, input)
    if input.ndim < 2:
        raise RuntimeError(f"{op}: input tensor must have at least 2 dimensions, but got shape {tuple(input.shape)}")
    diagonal = _int_arg(op, diagonal, "diagonal")
    r, c = input.shape[-2], input.shape[-1]
    from ._creation import arange

    # the mask is built on the input's device: where() takes no mix of devices
    mask = keep(arange(c, device=input.device).reshape(1, c) - arange(r, device=input.device).reshape(r, 1), diagonal)
    return _core.where(mask, input, _core.zeros([], input._dtype))


def tril(input, diagonal=0):
    """tril(input, diagonal=0): zeroes elements above the ``diagonal``-th diagonal."""
    return _triangle("tril", input, diagonal, operator.le)


def triu(input, diagonal=0):
    """triu(input, diagonal=0): zeroes elements below the ``diagonal``-th diagonal."""
    return _triangle("triu", input, diagonal, operator.ge)


def repeat(input, *sizes):
    """Tensor.repeat(*sizes) -> Tensor

    Tiles the tensor ``sizes[i]`` times along each dim (a copy); there must be at least as
    many counts as dims, none negative.
    """
    sizes = _shape_args(sizes)
    if builtins.any(s < 0 for s in sizes):
        raise RuntimeError(f"repeat(): Trying to create tensor with negative dimension: repeat counts {sizes} "
                           f"for a tensor of shape {tuple(input.shape)}")
    if len(sizes) < input.ndim:
        raise RuntimeError(
            f"Number of dimensions of repeat dims ({len(sizes)}) can not be smaller than number of dimensions of tensor ({input.ndim})"
        )
    x = input.reshape([1] * (len(sizes) - input.ndim) + list(input.shape))
    # interleave a new axis before each dim, expand it, then merge
    shape = list(x.shape)
    v = x.reshape([d for s in shape for d in (1, s)])
    v = v.expand([d for r, s in zip(sizes, shape) for d in (r, s)])
    return v.reshape([r * s for r, s in zip(sizes, shape)])


def tile(input, dims):
    """tile(input, dims) -> Tensor

    :meth:`Tensor.repeat` with missing leading counts taken as 1.
    """
    dims = _shape_args(dims)
    if len(dims) < input.ndim:
        dims = [1] * (input.ndim - len(dims)) + dims
    return repeat(input, *dims)


def repeat_interleave(input, repeats, dim=None):
    """repeat_interleave(input, repeats, dim=None): repeats each element ``repeats`` times."""
    from ._creation import tensor as _t

    _check_tensor("repeat_interleave", input)
    if dim is None:
        input = input.reshape(-1)
        dim = 0
    _no_dims("repeat_interleave", input, dim)
    dim = _wrap_dim("repeat_interleave", dim, input)
    n = input.shape[dim]
    if not isinstance(repeats, (Tensor, list, tuple)):
        reps = [_int_arg("repeat_interleave", repeats, "repeats")] * n
    else:
        reps = repeats.tolist() if isinstance(repeats, Tensor) else list(repeats)
        if isinstance(reps, (int, float)):
            reps = [reps] * n
        if len(reps) != n:
            raise RuntimeError(f"repeat_interleave: repeats must have the same size as input along dim ({len(reps)} vs {n})")
    if builtins.any(int(r) < 0 for r in reps):
        raise RuntimeError("repeat_interleave: repeats can not be negative")
    import numpy as np

    # built in NumPy, not a Python list: a huge count fails with MemoryError, quickly
    idx = np.repeat(np.arange(n, dtype=np.int64), np.asarray(reps, dtype=np.int64))
    return _core.index_select(input, dim, _t(idx))


def one_hot(tensor, num_classes=-1):
    """one_hot(tensor, num_classes=-1): int64 one-hot encoding along a new last dim."""
    if tensor.dtype.name != "int64":
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    from ._creation import arange, empty

    if tensor.numel() == 0:
        # PyTorch's rule: nothing to infer the class count from
        if num_classes <= 0:
            raise RuntimeError(f"one_hot: can not infer total number of classes from empty tensor (shape {tuple(tensor.shape)})")
        return empty(*tensor.shape, num_classes, dtype=tensor.dtype, device=tensor.device)
    if int(tensor.min()) < 0:
        raise RuntimeError("one_hot: class values must be non-negative.")
    if num_classes == -1:
        num_classes = int(tensor.max()) + 1
    elif int(tensor.max()) >= num_classes:
        raise RuntimeError(f"one_hot: class values must be smaller than num_classes ({num_classes}).")

    return (tensor.unsqueeze(-1) == arange(num_classes, device=tensor.device)).to("int64")


def diag(input, diagonal=0):
    """diag(input, diagonal=0): the 2-D matrix with 1-D ``input`` on its ``diagonal``-th
    diagonal, or the ``diagonal``-th diagonal of a 2-D ``input`` as 1-D."""
    from ._creation import arange, zeros

    _check_tensor("diag", input)
    if input.ndim not in (1, 2):
        raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {input.ndim}D (shape {tuple(input.shape)})")
    diagonal = _int_arg("diag", diagonal, "diagonal")
    if input.ndim == 1:
        n = input.shape[0] + builtins.abs(diagonal)
        out = zeros(n, n, dtype=input.dtype, device=input.device)
        i = arange(input.shape[0], device=input.device)
        r, c = (i, i + diagonal) if diagonal >= 0 else (i - diagonal, i)
        return out.index_put((r, c), input)
    r = builtins.min(input.shape[0], input.shape[1] - diagonal) if diagonal >= 0 else builtins.min(input.shape[0] + diagonal, input.shape[1])
    i = arange(builtins.max(r, 0), device=input.device)
    rows, cols = (i, i + diagonal) if diagonal >= 0 else (i - diagonal, i)
    return _core.index(input, [rows, cols])


def trace(input):
    """trace(input): the sum of the main diagonal of a 2-D matrix."""
    _check_tensor("trace", input)
    if input.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {input.ndim} (shape {tuple(input.shape)})")
    return diag(input).sum()


def pad(input, pad, mode="constant", value=None):
    """pad(input, pad, mode='constant', value=0): constant padding; ``pad`` lists
    (left, right) amounts from the last dim backwards."""
    if mode != "constant":
        from .nn.functional import _pad_nonconstant

        return _pad_nonconstant(input, pad, mode)
    return _core.pad(input, [int(p) for p in pad], 0.0 if value is None else float(value))


def clone(input, *, memory_format=None):
    return _core.clone(input)


def detach(input):
    return input.detach()


def numel(input):
    return input.numel()


def is_tensor(obj):
    return isinstance(obj, Tensor)


def is_floating_point(input):
    return input.dtype.is_floating_point


def cdist(x1, x2, p=2.0):
    """cdist(x1, x2, p=2.0): the p-norm distance between each row of ``x1`` [..., P, M] and each
    row of ``x2`` [..., R, M], as [..., P, R]."""
    _check_tensor("cdist", x1, "x1")
    _check_tensor("cdist", x2, "x2")
    if x1.ndim < 2 or x2.ndim < 2:
        raise RuntimeError(f"cdist only supports at least 2D tensors, X1 got: {x1.ndim}D, X2 got: {x2.ndim}D "
                           f"(shapes {tuple(x1.shape)} and {tuple(x2.shape)})")
    if x1.shape[-1] != x2.shape[-1]:
        raise RuntimeError(f"cdist: X1 and X2 must have the same number of columns. X1: {x1.shape[-1]} X2: {x2.shape[-1]} "
                           f"(shapes {tuple(x1.shape)} and {tuple(x2.shape)})")
    if p < 0:
        raise RuntimeError(f"cdist only supports non-negative p values, got {p}")
    d = _core.unsqueeze(x1, x1.ndim - 1) - _core.unsqueeze(x2, x2.ndim - 2)
    return norm(d, p, dim=-1)


def dist(input, other, p=2):
    return norm(input - other, p)


def _scaled_sum(input, product, beta, alpha):
    """``beta * input + alpha * product``; with ``beta == 0`` the input is ignored, so its NaN
    and inf do not reach the result (PyTorch's rule for addmm/baddbmm)."""
    r = product if alpha == 1 else alpha * product
    if beta == 0:
        return r
    return (input if beta == 1 else beta * input) + r


def addmm(input, mat1, mat2, *, beta=1, alpha=1):
    """addmm(input, mat1, mat2, *, beta=1, alpha=1): ``beta * input + alpha * (mat1 @ mat2)``
    (``mat1`` or ``mat2`` may be sparse)."""
    if not (isinstance(mat1, Tensor) and isinstance(mat2, Tensor)) and _sparse_operand(mat1, mat2):
        from . import sparse

        return sparse.addmm(input, mat1, mat2, beta=beta, alpha=alpha)
    return _scaled_sum(input, mm(mat1, mat2), beta, alpha)


def baddbmm(input, batch1, batch2, *, beta=1, alpha=1):
    """baddbmm(input, batch1, batch2, *, beta=1, alpha=1): ``beta * input + alpha * bmm(batch1, batch2)``."""
    return _scaled_sum(input, bmm(batch1, batch2), beta, alpha)


def logaddexp(input, other):
    """logaddexp(input, other): ``log(exp(input) + exp(other))`` without overflow.

    Equal infinities give themselves (``logaddexp(inf, inf) = inf``, not NaN); float16 and
    bfloat16 are computed in float32 and rounded once, as in PyTorch.
    """
    _check_tensor("logaddexp", input)
    rt = result_type(input, other)
    if not rt.is_floating_point:
        raise RuntimeError(f"logaddexp(): expected floating point inputs, but got {input.dtype} and "
                           f"{other.dtype if isinstance(other, Tensor) else type(other).__name__}")
    # both operands in the promoted dtype first (a bool operand is a number there), float16 and
    # bfloat16 then in float32
    input, other = _in_wide(input, rt.name), _in_wide(other, rt.name)
    m = maximum(input, other)
    r = m + log1p(exp(-abs(input - other)))
    r = where(isinf(m) & (input == other), m, r)
    return _narrow(r, rt.name if rt.name in _HALF else None)


def sigmoid_(input):
    """sigmoid_(input) -> Tensor

    In-place ``sigmoid``: overwrites ``input``'s storage and returns ``input``.
    """
    return input.sigmoid_()


def divide_(input, other, *, rounding_mode=None):
    """divide_(input, other, *, rounding_mode=None) -> Tensor

    In-place ``div``: overwrites ``input``'s storage and returns ``input``.
    """
    return input.div_(other, rounding_mode=rounding_mode)


def polygamma(n, input):
    """polygamma(n, input) -> Tensor

    The ``n``-th derivative of the digamma function (``n = 0`` is :func:`digamma`), elementwise;
    differentiable (its derivative is order ``n + 1``). Integer inputs give float32.

        >>> deepseek.polygamma(1, deepseek.tensor([1.0]))  # pi**2 / 6
        tensor([1.6449])
    """
    if not isinstance(n, int) or isinstance(n, bool):
        raise TypeError(f"polygamma(): argument 'n' must be int, not {type(n).__name__}")
    _check_tensor("polygamma", input)
    return _core.polygamma(n, input)


def diff(input, n=1, dim=-1, prepend=None, append=None):
    """diff(input, n=1, dim=-1, prepend=None, append=None): the ``n``-th forward difference
    along ``dim`` (``logical_xor`` of neighbours for bool); ``n`` past the size gives an empty dim."""
    _check_tensor("diff", input)
    if input.ndim == 0:
        raise RuntimeError("diff expects input to be at least one-dimensional")
    n = _int_arg("diff", n, "n")
    if n < 0:
        raise RuntimeError(f"order must be non-negative but got {n}")
    d = _wrap_dim("diff", dim, input)
    if prepend is not None or append is not None:
        input = cat([x for x in (prepend, input, append) if x is not None], d)
    for _ in range(builtins.min(n, input.shape[d])):
        k = input.shape[d]
        hi, lo = _core.slice(input, d, 1, k, 1), _core.slice(input, d, 0, k - 1, 1)
        input = logical_xor(hi, lo) if input.dtype.name == "bool" else hi - lo
    return input
