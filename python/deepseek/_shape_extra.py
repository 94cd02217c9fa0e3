"""Shape, stacking and product functions composed from the core's views and primitives
(``deepseek.atleast_2d``, ``diagonal``, ``meshgrid``, ``kron``, ``tensordot``, ``cross``...).

``diagonal`` and ``unfold`` return copies (the core has no arbitrary-stride views); they are
differentiable, and writes into their results do not reach the input.
"""
from __future__ import annotations

import builtins
import itertools
import math

from . import _core, _creation as _C, _dtype as _D, _ops
from ._core import Tensor

_wrap = _ops._wrap_dim
_int = _ops._int_arg


def _t(op, x, name="input"):
    _ops._check_tensor(op, x, name)
    return x


def _tensors(op, tensors):
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    for i, t in enumerate(tensors):
        _t(op, t, f"tensors[{i}]")
    return tensors


def broadcast_to(input, size):
    """broadcast_to(input, size) -> Tensor: ``input`` expanded (a view) to ``size``."""
    _t("broadcast_to", input)
    return _core.expand(input, _ops._shape_args((size,)))


def _atleast(op, n, tensors):
    ts = _tensors(op, tensors)
    out = []
    for t in ts:
        if t.ndim >= n:
            out.append(t)
        elif n == 1 or t.ndim == 0:
            out.append(t.reshape([1] * n))
        elif n == 2:
            out.append(t.unsqueeze(0))
        else:  # 3-D: (N,) -> (1, N, 1); (M, N) -> (M, N, 1)
            out.append(t.reshape(1, t.shape[0], 1) if t.ndim == 1 else t.unsqueeze(-1))
    return out[0] if len(out) == 1 and not (len(tensors) == 1 and isinstance(tensors[0], (list, tuple))) else tuple(out)


def atleast_1d(*tensors):
    """atleast_1d(*tensors): each tensor with at least one dim (a tuple for several)."""
    return _atleast("atleast_1d", 1, tensors)


def atleast_2d(*tensors):
    """atleast_2d(*tensors): each tensor with at least two dims (new leading dims)."""
    return _atleast("atleast_2d", 2, tensors)


def atleast_3d(*tensors):
    """atleast_3d(*tensors): each tensor with at least three dims, as NumPy places them."""
    return _atleast("atleast_3d", 3, tensors)


def diagonal(input, offset=0, dim1=0, dim2=1):
    """diagonal(input, offset=0, dim1=0, dim2=1) -> Tensor

    The ``offset``-th diagonal of the matrices spanned by ``dim1`` and ``dim2``, as a new last
    dim (a differentiable copy).

        >>> deepseek.diagonal(deepseek.arange(9.).reshape(3, 3), 1)
        tensor([1., 5.])
    """
    _t("diagonal", input)
    if input.ndim < 2:
        raise RuntimeError(f"diagonal(): expected a tensor of at least 2 dims, got shape {tuple(input.shape)}")
    d1 = _wrap("diagonal", dim1, input, name="dim1")
    d2 = _wrap("diagonal", dim2, input, name="dim2")
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    offset = _int("diagonal", offset, "offset")
    rest = [d for d in range(input.ndim) if d not in (d1, d2)]
    x = input.permute(*rest, d1, d2)
    r, c = x.shape[-2], x.shape[-1]
    n = builtins.max(0, builtins.min(r, c - offset) if offset >= 0 else builtins.min(r + offset, c))
    i = _C.arange(n, device=input.device)
    rows, cols = (i, i + offset) if offset >= 0 else (i - offset, i)
    flat = x.reshape(*x.shape[:-2], r * c)
    return _core.index_select(flat, flat.ndim - 1, rows * c + cols)


def diag_embed(input, offset=0, dim1=-2, dim2=-1):
    """diag_embed(input, offset=0, dim1=-2, dim2=-1) -> Tensor: matrices whose ``offset``-th
    diagonal (in ``dim1``, ``dim2`` of the result) holds the last dim of ``input``."""
    _t("diag_embed", input)
    out_nd = input.ndim + 1
    probe = _C.empty(*([1] * out_nd))
    d1 = _wrap("diag_embed", dim1, probe, name="dim1")
    d2 = _wrap("diag_embed", dim2, probe, name="dim2")
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    k = input.shape[-1]
    n = k + builtins.abs(offset)
    i = _C.arange(k, device=input.device)
    rows, cols = (i, i + offset) if offset >= 0 else (i - offset, i)
    batch = list(input.shape[:-1])
    flat = _C.zeros(*batch, n * n, dtype=input.dtype, device=input.device)
    idx = (rows * n + cols).expand(*batch, k)
    m = _ops.scatter(flat, flat.ndim - 1, idx, input).reshape(*batch, n, n)
    # m has the matrix in its last two dims; move them to (d1, d2)
    src = [*range(len(batch)), len(batch), len(batch) + 1]
    order = [None] * out_nd
    order[d1], order[d2] = src[-2], src[-1]
    it = iter(src[:-2])
    order = [o if o is not None else next(it) for o in order]
    return m.permute(*order)


def diagflat(input, offset=0):
    """diagflat(input, offset=0) -> Tensor: a 2-D matrix with the flattened input on a diagonal."""
    return _ops.diag(_t("diagflat", input).reshape(-1), offset)


def fliplr(input):
    """fliplr(input) -> Tensor: reverses dim 1 (needs at least 2 dims)."""
    if _t("fliplr", input).ndim < 2:
        raise RuntimeError("Input must be >= 2-d.")
    return _ops.flip(input, [1])


def flipud(input):
    """flipud(input) -> Tensor: reverses dim 0 (needs at least 1 dim)."""
    if _t("flipud", input).ndim < 1:
        raise RuntimeError("Input must be >= 1-d.")
    return _ops.flip(input, [0])


def rot90(input, k=1, dims=(0, 1)):
    """rot90(input, k=1, dims=[0, 1]) -> Tensor: rotates by 90 degrees ``k`` times, from the
    first dim of ``dims`` towards the second."""
    _t("rot90", input)
    if len(dims) != 2:
        raise RuntimeError(f"expected total rotation dims == 2, but got dims = {len(dims)}")
    if input.ndim < 2:
        raise RuntimeError(f"expected total dims >= 2, but got total dims = {input.ndim}")
    a, b = (_wrap("rot90", d, input, name="dims") for d in dims)
    if a == b:
        raise RuntimeError(f"expected rotation dims to be different, but got dim0 = {a} and dim1 = {b}")
    k = k % 4
    if k == 1:
        return _ops.flip(input, [b]).transpose(a, b)
    if k == 2:
        return _ops.flip(input, [a, b])
    if k == 3:
        return _ops.flip(input, [a]).transpose(a, b)
    return input.clone()


def ravel(input):
    """ravel(input) -> Tensor: the contiguous flattened tensor (a view when possible)."""
    return _t("ravel", input).reshape(-1)


def _split_along(op, input, sections, dim, need):
    _t(op, input)
    if input.ndim < need:
        raise RuntimeError(f"torch.{op} requires a tensor with at least {need} dimension, but got a tensor with "
                           f"{input.ndim} dimensions!")
    if isinstance(sections, int) and input.shape[dim] % sections:
        raise RuntimeError(f"torch.{op} attempted to split along dimension {dim}, but the size of the dimension "
                           f"{input.shape[dim]} is not divisible by the split_size {sections}!")
    return _ops.tensor_split(input, sections, dim)


def hsplit(input, indices_or_sections):
    """hsplit(input, indices_or_sections): ``tensor_split`` along dim 1 (dim 0 for 1-D)."""
    return _split_along("hsplit", input, indices_or_sections, 1 if input.ndim > 1 else 0, 1)


def vsplit(input, indices_or_sections):
    """vsplit(input, indices_or_sections): ``tensor_split`` along dim 0 (needs 2 dims)."""
    return _split_along("vsplit", input, indices_or_sections, 0, 2)


def dsplit(input, indices_or_sections):
    """dsplit(input, indices_or_sections): ``tensor_split`` along dim 2 (needs 3 dims)."""
    return _split_along("dsplit", input, indices_or_sections, 2, 3)


def column_stack(tensors):
    """column_stack(tensors) -> Tensor: 0-d and 1-d tensors as columns, then ``hstack``."""
    ts = [t.reshape(-1, 1) if t.ndim < 2 else t for t in _tensors("column_stack", (tensors,))]
    return _ops.hstack(ts)


def row_stack(tensors):
    """row_stack(tensors) -> Tensor: alias of ``vstack``."""
    return _ops.vstack(tensors)


def dstack(tensors):
    """dstack(tensors) -> Tensor: stacks along dim 2 after ``atleast_3d``."""
    ts = _tensors("dstack", (tensors,))
    return _ops.cat([atleast_3d(t) for t in ts], 2)


def meshgrid(*tensors, indexing=None):
    """meshgrid(*tensors, indexing='ij') -> tuple of Tensors: coordinate grids of 1-D tensors
    (``'xy'`` swaps the first two output dims, as NumPy)."""
    ts = _tensors("meshgrid", tensors)
    if indexing is None:
        indexing = "ij"
    if indexing not in ("ij", "xy"):
        raise RuntimeError(f"torch.meshgrid: indexing must be one of \"xy\" or \"ij\", but received: {indexing}")
    for t in ts:
        if t.ndim > 1:
            raise RuntimeError(f"torch.meshgrid: Expected 0D or 1D tensor in the tensor list but got: {tuple(t.shape)}")
    if len({t._dtype for t in ts}) > 1:
        raise RuntimeError("torch.meshgrid: Expected all tensors in the tensor list to have the same dtype")
    ts = [t.reshape(-1) for t in ts]
    swap = indexing == "xy" and len(ts) >= 2
    if swap:
        ts[0], ts[1] = ts[1], ts[0]
    shape = [t.shape[0] for t in ts]
    out = []
    for i, t in enumerate(ts):
        v = [1] * len(ts)
        v[i] = shape[i]
        out.append(t.reshape(v).expand(shape))
    if swap:
        out[0], out[1] = out[1], out[0]
    return tuple(out)


def select(input, dim, index):
    """select(input, dim, index) -> Tensor: the slice at ``index`` of ``dim`` (a view)."""
    _t("select", input)
    d = _wrap("select", dim, input)
    n = input.shape[d]
    i = _int("select", index, "index")
    if not -n <= i < n:
        raise IndexError(f"select(): index {i} out of range for tensor of size {tuple(input.shape)} at dimension {d}")
    return _core.select(input, d, i % n)


def narrow_copy(input, dim, start, length):
    """narrow_copy(input, dim, start, length) -> Tensor: ``narrow`` as a new tensor."""
    return _ops.narrow(input, dim, start, length).clone()


def take(input, index):
    """take(input, index) -> Tensor: elements of the flattened input at ``index`` (any shape)."""
    _t("take", input)
    _t("take", index, "index")
    if index._dtype != "int64":
        raise RuntimeError(f"take(): Expected a long tensor for index, but got {index._dtype}")
    n = input.numel()
    if index.numel() and (int(index.max()) >= n or int(index.min()) < -n):
        raise IndexError(f"take(): index out of range in self (numel {n}, shape {tuple(input.shape)})")
    flat = input.reshape(-1)
    return _core.index_select(flat, 0, _ops.remainder(index.reshape(-1), builtins.max(n, 1))).reshape(index.shape)


def take_along_dim(input, indices, dim=None):
    """take_along_dim(input, indices, dim=None) -> Tensor: ``gather`` with broadcasting; with
    ``dim=None`` both are flattened."""
    _t("take_along_dim", input)
    _t("take_along_dim", indices, "indices")
    if indices._dtype != "int64":
        raise RuntimeError(f"torch.take_along_dim(): dtype of indices should be Long but got {indices._dtype}")
    if dim is None:
        return _ops.gather(input.reshape(-1), 0, indices.reshape(-1))
    if input.ndim != indices.ndim:
        raise RuntimeError(f"torch.take_along_dim(): input and indices should have the same number of dimensions, "
                           f"but got {input.ndim} dimensions for input, and {indices.ndim} dimensions for indices")
    d = _wrap("take_along_dim", dim, input)
    si, sx = list(indices.shape), list(input.shape)
    si[d] = sx[d] = 1
    b = list(_ops.broadcast_shapes(si, sx))
    bx, bi = list(b), list(b)
    bx[d], bi[d] = input.shape[d], indices.shape[d]
    return _ops.gather(input.expand(bx), d, indices.expand(bi))


def _index_grid(op, n, m, offset, lower, dtype, device):
    import numpy as np

    r, c = (np.tril_indices if lower else np.triu_indices)(n, offset, m)
    return _C.tensor(np.stack([r, c]).astype(np.int64), dtype=dtype, device=device)


def tril_indices(row, col, offset=0, *, dtype=None, device=None, layout=None):
    """tril_indices(row, col, offset=0, *, dtype=int64) -> Tensor (2, N): the coordinates of the
    lower triangle of a ``row x col`` matrix, row by row."""
    return _index_grid("tril_indices", row, col, offset, True, dtype or _D.int64, device)


def triu_indices(row, col, offset=0, *, dtype=None, device=None, layout=None):
    """triu_indices(row, col, offset=0, *, dtype=int64) -> Tensor (2, N): upper triangle coordinates."""
    return _index_grid("triu_indices", row, col, offset, False, dtype or _D.int64, device)


def block_diag(*tensors):
    """block_diag(*tensors) -> Tensor: a block-diagonal matrix of 0-, 1- and 2-d tensors."""
    ts = [t.reshape(1, -1) if t.ndim < 2 else t for t in _tensors("block_diag", tensors)]
    for t in ts:
        if t.ndim > 2:
            raise RuntimeError(f"torch.block_diag: Input tensors must have 2 or fewer dimensions. Input has {t.ndim} dimensions")
    if not ts:
        return _C.empty(1, 0)
    dt = _core.result_type(*ts)
    cols = builtins.sum(t.shape[1] for t in ts)
    rows, c0 = [], 0
    for t in ts:
        rows.append(_ops.pad(t.to(dt), [c0, cols - c0 - t.shape[1]]))
        c0 += t.shape[1]
    return _ops.cat(rows, 0)


def cartesian_prod(*tensors):
    """cartesian_prod(*tensors) -> Tensor: the cartesian product of 1-D tensors, one row each."""
    ts = _tensors("cartesian_prod", tensors)
    if len(ts) == 1:
        return ts[0]
    grids = meshgrid(*ts, indexing="ij")
    return _ops.stack([g.reshape(-1) for g in grids], 1)


def combinations(input, r=2, with_replacement=False):
    """combinations(input, r=2, with_replacement=False) -> Tensor: the length-``r`` combinations
    of a 1-D tensor's elements, one row each (as ``itertools.combinations``)."""
    _t("combinations", input)
    if input.ndim != 1:
        raise RuntimeError(f"Expect a 1D vector, but got shape {list(input.shape)}")
    if r < 0:
        raise RuntimeError(f"Expect a non-negative number, but got {r}")
    f = itertools.combinations_with_replacement if with_replacement else itertools.combinations
    idx = list(f(range(input.shape[0]), r))
    if not idx or r == 0:
        return _C.empty(0, dtype=input.dtype, device=input.device)
    it = _C.tensor(idx, dtype=_D.int64, device=input.device)
    return _core.index_select(input, 0, it.reshape(-1)).reshape(len(idx), r)


def kron(input, other):
    """kron(input, other) -> Tensor: the Kronecker product."""
    _t("kron", input)
    _t("kron", other, "other")
    n = builtins.max(input.ndim, other.ndim)
    a = input.reshape([1] * (n - input.ndim) + list(input.shape))
    b = other.reshape([1] * (n - other.ndim) + list(other.shape))
    av = a.reshape([d for s in a.shape for d in (s, 1)])
    bv = b.reshape([d for s in b.shape for d in (1, s)])
    return (av * bv).reshape([x * y for x, y in zip(a.shape, b.shape)])


def tensordot(a, b, dims=2, out=None):
    """tensordot(a, b, dims=2) -> Tensor: sums products over the last ``dims`` dims of ``a`` and
    the first of ``b`` (or over the dims listed in ``dims = (dims_a, dims_b)``)."""
    _t("tensordot", a, "a")
    _t("tensordot", b, "b")
    if isinstance(dims, Tensor):
        dims = dims.tolist()
    if isinstance(dims, int):
        if dims < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
        da, db = list(range(a.ndim - dims, a.ndim)), list(range(dims))
    else:
        da, db = ([d] if isinstance(d, int) else list(d) for d in dims)
    if len(da) != len(db):
        raise RuntimeError(f"both dimension lists should have same length, got {da} and {db}")
    da = [_wrap("tensordot", d, a) for d in da]
    db = [_wrap("tensordot", d, b) for d in db]
    for x, y in zip(da, db):
        if a.shape[x] != b.shape[y]:
            raise RuntimeError(f"contracted dimensions need to match, but first has size {a.shape[x]} in dim {x} "
                               f"and second has size {b.shape[y]} in dim {y}")
    fa = [d for d in range(a.ndim) if d not in da]
    fb = [d for d in range(b.ndim) if d not in db]
    k = math.prod(a.shape[d] for d in da)
    am = a.permute(*fa, *da).reshape(math.prod(a.shape[d] for d in fa), k)
    bm = b.permute(*db, *fb).reshape(k, math.prod(b.shape[d] for d in fb))
    r = _ops.mm(am, bm).reshape([a.shape[d] for d in fa] + [b.shape[d] for d in fb])
    return _ops._out(r, out)


def inner(input, other):
    """inner(input, other) -> Tensor: sums products over the last dims (scalars multiply)."""
    _t("inner", input)
    if input.ndim == 0 or (isinstance(other, Tensor) and other.ndim == 0):
        return input * other
    if input.shape[-1] != other.shape[-1]:
        raise RuntimeError(f"inner() the last dimension must match on both input tensors but got shapes "
                           f"{list(input.shape)} and {list(other.shape)}")
    return tensordot(input, other, ([-1], [-1]))


def vdot(input, other):
    """vdot(input, other) -> Tensor: the dot product of two 1-D tensors."""
    return _ops.dot(input, other)


def ger(input, vec2):
    """ger(input, vec2) -> Tensor: alias of ``outer``."""
    return _ops.outer(input, vec2)


def cross(input, other, dim=None):
    """cross(input, other, dim=None) -> Tensor: the cross product of 3-vectors along ``dim``
    (the first dim of size 3 when None, as PyTorch's deprecated default)."""
    _t("cross", input)
    _t("cross", other, "other")
    if input.ndim != other.ndim:
        raise RuntimeError(f"linalg.cross: inputs must have the same number of dimensions, got {input.ndim} and {other.ndim}")
    shape = _ops.broadcast_shapes(input.shape, other.shape)
    a, b = input.expand(shape), other.expand(shape)
    if dim is None:
        dim = next((i for i, s in enumerate(shape) if s == 3), None)
        if dim is None:
            raise RuntimeError(f"no dimension of size 3 in input (shape {tuple(shape)})")
    d = _wrap("cross", dim, a)
    if shape[d] != 3:
        raise RuntimeError(f"linalg.cross: inputs dimension {dim} must have length 3. Got {input.shape[d]} and {other.shape[d]}")
    i1 = _C.tensor([1, 2, 0], device=input.device)
    i2 = _C.tensor([2, 0, 1], device=input.device)
    sel = _core.index_select
    return sel(a, d, i1) * sel(b, d, i2) - sel(a, d, i2) * sel(b, d, i1)


def unravel_index(indices, shape):
    """unravel_index(indices, shape) -> tuple of Tensors: the coordinates of flat ``indices``
    in a tensor of ``shape``."""
    if not isinstance(indices, Tensor):
        indices = _C.tensor(indices)
    if indices._dtype not in ("uint8", "int8", "int16", "int32", "int64"):
        raise TypeError(f"expected 'indices' to be integer dtype, but got {indices._dtype}")
    shape = [shape] if isinstance(shape, int) else list(shape)
    if builtins.any(s < 0 for s in shape):
        raise ValueError("'shape' cannot have negative values, but got " + str(tuple(shape)))
    n = math.prod(shape)
    if indices.numel() and (int(indices.max()) >= n or int(indices.min()) < -n):
        raise ValueError("'indices' must be in range [-%d, %d)" % (n, n))
    idx = _ops.remainder(indices.to(_D.int64), builtins.max(n, 1))
    out = []
    for s in reversed(shape):
        out.append(_ops.remainder(idx, s))
        idx = _ops.floor_divide(idx, s)
    return tuple(reversed(out))


def vander(x, N=None, increasing=False):
    """vander(x, N=None, increasing=False) -> Tensor: the Vandermonde matrix of a 1-D tensor
    (powers decreasing left to right unless ``increasing``)."""
    _t("vander", x, "x")
    if x.ndim != 1:
        raise RuntimeError("x must be a one-dimensional tensor.")
    n = x.shape[0] if N is None else N
    if n < 0:
        raise RuntimeError("N must be non-negative.")
    dt = x.dtype if x._dtype in ("float32", "float64", "float16", "bfloat16") else _D.int64
    p = _C.arange(n, device=x.device)
    if not increasing:
        p = _ops.flip(p, [0])
    return _ops.pow(x.to(dt).unsqueeze(1), p.to(dt).unsqueeze(0))


def unfold(input, dimension, size, step):
    """Tensor.unfold(dimension, size, step) -> Tensor: every window of ``size`` elements along
    ``dimension`` (``step`` apart), as a new last dim (a differentiable copy)."""
    _t("unfold", input)
    d = _wrap("unfold", dimension, input, name="dimension")
    n = input.shape[d] if input.ndim else 1
    if size < 0 or size > n:
        raise RuntimeError(f"maximum size for tensor at dimension {d} is {n} but size is {size}")
    if step <= 0:
        raise RuntimeError(f"step is {step} but must be > 0")
    if input.ndim == 0:
        return input.reshape(1)
    count = (n - size) // step + 1
    starts = _C.arange(count, device=input.device) * step
    idx = (starts.unsqueeze(1) + _C.arange(size, device=input.device).unsqueeze(0)).reshape(-1)
    w = _core.index_select(input, d, idx)
    shape = list(input.shape)
    w = w.reshape(shape[:d] + [count, size] + shape[d + 1:])
    return _ops.movedim(w, d + 1, -1)


__all__ = [n for n, v in list(globals().items())
           if not n.startswith("_") and callable(v) and getattr(v, "__module__", None) == __name__ and n != "unfold"]
