"""Shape and assembly ops: reshape, flatten, squeeze, permute, transpose, movedim, narrow, flip,
roll, cat/stack, split/chunk/tensor_split, unbind."""
from __future__ import annotations

import builtins
import math
import operator

from . import _core
from ._core import Tensor
from ._dtype import Size
from ._ops_args import (
    _check_tensor, _int_arg, _no_dims, _out, _wrap_dim, _wrap_dims,
)


def _shape_args(shape):
    if len(shape) == 1 and isinstance(shape[0], (list, tuple, Size)):
        shape = shape[0]
    out = []
    for s in shape:
        try:
            out.append(operator.index(s))  # ints and integer 0-d tensors, never floats or strings
        except TypeError:
            raise TypeError(f"shape and dims must be a sequence of ints, but got an element of type {type(s).__name__}") from None
    return out


def reshape(input, *shape):
    """reshape(input, shape): a view when the strides allow, otherwise a copy."""
    return _core.reshape(input, _shape_args(shape))


def flatten(input, start_dim=0, end_dim=-1):
    """flatten(input, start_dim=0, end_dim=-1): merges dims ``start_dim..end_dim`` into one (a
    view when the strides allow); a 0-d tensor becomes shape [1]."""
    _check_tensor("flatten", input)
    s = _wrap_dim("flatten", start_dim, input, name="start_dim")
    e = _wrap_dim("flatten", end_dim, input, name="end_dim")
    if s > e:
        raise RuntimeError(
            f"flatten() has invalid args: start_dim cannot come after end_dim ({start_dim} > {end_dim} "
            f"for a tensor of shape {tuple(input.shape)})"
        )
    if input.ndim == 0:
        return _core.reshape(input, [1])
    shape = list(input.shape)
    return _core.reshape(input, shape[:s] + [math.prod(shape[s : e + 1])] + shape[e + 1 :])


def unflatten(input, dim, sizes):
    """unflatten(input, dim, sizes): splits ``dim`` into ``sizes`` (one of them may be -1).

        >>> deepseek.ones(2, 6).unflatten(1, (3, -1)).shape
        deepseek.Size([2, 3, 2])
    """
    _check_tensor("unflatten", input)
    d = _wrap_dim("unflatten", dim, input)
    _no_dims("unflatten", input, dim)
    if isinstance(sizes, Tensor):
        sizes = sizes.tolist()
    if not isinstance(sizes, (list, tuple)):
        raise TypeError(f"unflatten(): argument 'sizes' must be a tuple of ints, not {type(sizes).__name__}")
    sizes = _shape_args((list(sizes),))
    n = input.shape[d]
    bad = RuntimeError(
        f"unflatten: Provided sizes {sizes} don't multiply up to the size of dim {dim} ({n}) in the input "
        f"tensor of shape {tuple(input.shape)}"
    )
    if not sizes:
        raise RuntimeError("unflatten: sizes must be non-empty")
    if sizes.count(-1) > 1 or builtins.any(s < -1 for s in sizes):
        raise RuntimeError(f"unflatten: invalid sizes {sizes}: each size must be non-negative, and only one may be -1")
    known = math.prod(s for s in sizes if s != -1)
    if -1 in sizes:
        if known == 0 or n % known:
            raise bad
        sizes = [n // known if s == -1 else s for s in sizes]
    elif known != n:
        raise bad
    shape = list(input.shape)
    return _core.reshape(input, shape[:d] + sizes + shape[d + 1 :])


def squeeze(input, dim=None):
    """squeeze(input, dim=None): drops the size-1 dims (all of them, or those of ``dim``, an int
    or a tuple; a listed dim whose size is not 1 stays)."""
    _check_tensor("squeeze", input)
    if dim is None:
        return _core.squeeze(input, None)
    return _core.squeeze(input, _wrap_dims("squeeze", dim, input))


def unsqueeze(input, dim):
    """unsqueeze(input, dim): a view with a size-1 dim inserted at ``dim`` (in [-N-1, N])."""
    _check_tensor("unsqueeze", input)
    return _core.unsqueeze(input, _wrap_dim("unsqueeze", dim, input, new=True))


def permute(input, *dims):
    """permute(input, dims): a view with the dims reordered."""
    _check_tensor("permute", input)
    dims = _shape_args(dims)
    if len(dims) != input.ndim:
        raise RuntimeError(
            f"permute(): number of dimensions in the tensor input does not match the length of the desired "
            f"ordering of dimensions i.e. input.dim() = {input.ndim} is not equal to len(dims) = {len(dims)} "
            f"(shape {tuple(input.shape)}, dims {dims})"
        )
    order = [_wrap_dim("permute", d, input) for d in dims]
    if len(set(order)) != len(order):
        raise RuntimeError(f"permute(): duplicate dims are not allowed: dims {dims} for a tensor of shape {tuple(input.shape)}")
    return _core.permute(input, order)


def transpose(input, dim0, dim1):
    """transpose(input, dim0, dim1): a view with the two dims swapped."""
    _check_tensor("transpose", input)
    return _core.transpose(input, _wrap_dim("transpose", dim0, input, name="dim0"),
                           _wrap_dim("transpose", dim1, input, name="dim1"))


swapaxes = transpose
swapdims = transpose


def t(input):
    if input.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {input.ndim}D")
    return _core.transpose(input, 0, 1) if input.ndim == 2 else input


def movedim(input, source, destination):
    """movedim(input, source, destination): a view with the dims ``source`` moved to the
    positions ``destination`` (ints, or sequences of one length); the other dims keep their order."""
    _check_tensor("movedim", input)
    src = list(source) if isinstance(source, (list, tuple)) else [source]
    dst = list(destination) if isinstance(destination, (list, tuple)) else [destination]
    if len(src) != len(dst):
        raise RuntimeError(
            f"movedim: Invalid source or destination dims: source ({src} dims) should contain the same number "
            f"of dims as destination ({dst} dims)"
        )
    frm = [_wrap_dim("movedim", d, input, name="source") for d in src]
    to = [_wrap_dim("movedim", d, input, name="destination") for d in dst]
    for what, given, wrapped in (("source", src, frm), ("destination", dst, to)):
        if len(set(wrapped)) != len(wrapped):
            raise RuntimeError(f"movedim: repeated dim in `{what}` ({given}) for a tensor of shape {tuple(input.shape)}")
    n = input.ndim
    if n == 0:
        return _core.permute(input, [])
    order = [None] * n
    for a, b in zip(frm, to):
        order[b] = a
    rest = iter([i for i in range(n) if i not in frm])
    return _core.permute(input, [o if o is not None else next(rest) for o in order])


moveaxis = movedim


class _NarrowRangeError(RuntimeError, IndexError):
    """``narrow`` past the end: PyTorch's RuntimeError, and the IndexError deepseek raised
    before, so handlers written for either still catch it."""


def narrow(input, dim, start, length):
    """narrow(input, dim, start, length): a view of ``length`` entries from ``start`` (which
    may be negative, or a 0-d integer tensor)."""
    _check_tensor("narrow", input)
    if input.ndim == 0:
        raise RuntimeError("narrow() cannot be applied to a 0-dim tensor.")
    d = _wrap_dim("narrow", dim, input)
    start = _int_arg("narrow", start, "start")
    length = _int_arg("narrow", length, "length")
    n = input.shape[d]
    if length < 0:
        raise RuntimeError(f"narrow(): length must be non-negative, but got {length} (shape {tuple(input.shape)})")
    if not -n <= start <= n:
        raise IndexError(
            f"narrow(): start out of range (expected to be in range of [{-n}, {n}], but got {start}) "
            f"for dim {d} of a tensor of shape {tuple(input.shape)}"
        )
    if start < 0:
        start += n
    if start + length > n:
        raise _NarrowRangeError(
            f"narrow(): start ({start}) + length ({length}) exceeds dimension size ({n}) of dim {d} of a "
            f"tensor of shape {tuple(input.shape)}"
        )
    return _core.slice(input, d, start, start + length, 1)


def flip(input, dims):
    """flip(input, dims): reverses the order of the entries along each of ``dims``."""
    _check_tensor("flip", input)
    return _core.flip(input, _wrap_dims("flip", dims, input))


def roll(input, shifts, dims=None):
    """roll(input, shifts, dims=None): shifts the entries along ``dims`` by ``shifts``,
    wrapping around (an int or a tuple of each, of one length); without ``dims`` the flattened
    tensor is rolled and the shape restored.

        >>> deepseek.roll(deepseek.arange(5), 2).tolist()
        [3, 4, 0, 1, 2]
    """
    _check_tensor("roll", input)
    sh = list(shifts) if isinstance(shifts, (list, tuple)) else [shifts]
    sh = [_int_arg("roll", s, "shifts") for s in sh]
    if dims is None:
        if len(sh) != 1:
            raise RuntimeError(f"roll: shifts and dims must align (without dims, one shift), but got shifts={sh}")
        return _core.reshape(roll(_core.reshape(input, [-1]), sh, 0), list(input.shape))
    dim_list = list(dims) if isinstance(dims, (list, tuple)) else [dims]
    if len(sh) != len(dim_list):
        raise RuntimeError(f"roll: shifts and dimensions must align. shifts: {len(sh)}, dims: {len(dim_list)}")
    out = input
    for s, d in zip(sh, dim_list):
        d = _wrap_dim("roll", d, input)
        n = input.shape[d] if input.ndim else 1
        s = s % n if n else 0
        if s and input.ndim:
            out = _core.cat([_core.slice(out, d, n - s, n, 1), _core.slice(out, d, 0, n - s, 1)], d)
    return out if out is not input else _core.clone(input)


def _tensor_list(op, tensors):
    """The tensors of a cat/stack-like call as a list, or PyTorch's TypeError."""
    if isinstance(tensors, Tensor):
        raise TypeError(f"{op}(): argument 'tensors' must be a sequence of Tensors, not Tensor")
    tensors = list(tensors)
    for i, x in enumerate(tensors):
        if not isinstance(x, Tensor):
            raise TypeError(f"{op}(): expected a sequence of Tensors, but element {i} is {type(x).__name__}")
    return tensors


def cat(tensors, dim=0, *, out=None):
    """cat(tensors, dim=0): concatenates along ``dim``. As in PyTorch, 1-D empty tensors
    (shape [0]) are skipped whatever the others' shapes."""
    tensors = _tensor_list("cat", tensors)
    if not tensors:
        raise RuntimeError("cat(): expected a non-empty list of Tensors")
    for i, x in enumerate(tensors):
        if x.ndim == 0:
            raise RuntimeError(f"cat(): zero-dimensional tensor (at position {i}) cannot be concatenated")
    # the dim's range comes from the first tensor that is not a legacy empty one; when every
    # one is, PyTorch checks no dim (they all concatenate to shape [0])
    ref = next((x for x in tensors if tuple(x.shape) != (0,)), None)
    if ref is None:
        _int_arg("cat", dim, "dim")
        return _out(_core.cat(tensors, 0), out)
    return _out(_core.cat(tensors, _wrap_dim("cat", dim, ref)), out)


concat = cat
concatenate = cat


def stack(tensors, dim=0, *, out=None):
    """stack(tensors, dim=0): joins tensors of equal shape along a new dim (in [-N-1, N])."""
    tensors = _tensor_list("stack", tensors)
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    d = _wrap_dim("stack", dim, tensors[0], new=True)  # PyTorch checks the dim before the shapes
    s0 = tuple(tensors[0].shape)
    for i, x in enumerate(tensors):
        if tuple(x.shape) != s0:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got {list(s0)} at entry 0 and {list(x.shape)} at entry {i}")
    return _out(_core.cat([_core.unsqueeze(x, d) for x in tensors], d), out)


def hstack(tensors):
    """hstack(tensors): concatenates along dim 1 (dim 0 for 1-D tensors; 0-d ones become 1-D)."""
    tensors = [x.reshape(1) if x.ndim == 0 else x for x in _tensor_list("hstack", tensors)]
    if not tensors:
        raise RuntimeError("hstack expects a non-empty TensorList")
    return cat(tensors, 0 if tensors[0].ndim == 1 else 1)


def vstack(tensors):
    """vstack(tensors): concatenates along dim 0, after making each tensor at least 2-D."""
    tensors = [x.reshape(1, -1) if x.ndim < 2 else x for x in _tensor_list("vstack", tensors)]
    if not tensors:
        raise RuntimeError("vstack expects a non-empty TensorList")
    return cat(tensors, 0)


def _pieces(input, dim, bounds):
    """Views of ``input`` between each (start, stop) of ``bounds`` along ``dim``, with Python's
    slicing rules (negative bounds count from the end; an empty piece when stop <= start)."""
    return tuple(_core.slice(input, dim, a, b, 1) for a, b in bounds)


def _consecutive(sizes):
    """(start, stop) of consecutive pieces of the given sizes."""
    out, off = [], 0
    for s in sizes:
        out.append((off, off + s))
        off += s
    return out


def _need_dims(op, input):
    if input.ndim == 0:
        raise RuntimeError(f"{op} expects at least a 1-dimensional tensor, but got a 0-dim tensor")


def split(tensor, split_size_or_sections, dim=0):
    """split(tensor, split_size_or_sections, dim=0): views of consecutive pieces.

    An int gives pieces of that size (the last may be shorter; a size larger than the dim gives
    one piece); a list gives pieces of exactly those sizes, which must sum to the dim's size.

        >>> [p.shape[0] for p in deepseek.arange(5).split(2)]
        [2, 2, 1]
    """
    _check_tensor("split", tensor, "tensor")
    _need_dims("split", tensor)
    d = _wrap_dim("split", dim, tensor)
    n = tensor.shape[d]
    s = split_size_or_sections
    if isinstance(s, Tensor):  # as Tensor.split: one element is a size, more are sizes
        if s.dtype.is_floating_point or s.dtype.name == "bool":
            raise TypeError(f"split(): split_size_or_sections must be integers, not a {s.dtype} tensor")
        s = s.tolist() if s.numel() != 1 else int(s.reshape([]))
    if isinstance(s, (list, tuple)):
        sizes = [_int_arg("split_with_sizes", v, "split_sizes") for v in s]
        if builtins.any(v < 0 for v in sizes):
            raise RuntimeError(f"split_with_sizes expects split_sizes have only non-negative entries, but got split_sizes={sizes}")
        if builtins.sum(sizes) != n:
            raise RuntimeError(
                f"split_with_sizes expects split_sizes to sum exactly to {n} (input tensor's size at dimension {d}), "
                f"but got split_sizes={sizes} (shape {tuple(tensor.shape)})"
            )
        return _pieces(tensor, d, _consecutive(sizes))
    s = _int_arg("split", s, "split_size")
    if s < 0:
        raise RuntimeError(f"split expects split_size be non-negative, but got split_size={s}")
    if s == 0 and n > 0:
        raise RuntimeError(f"split_size can only be 0 if dimension size is 0, but got dimension size of {n} (shape {tuple(tensor.shape)})")
    k = builtins.max(-(-n // s), 1) if s else 1  # a size-0 dim still gives one (empty) piece
    return _pieces(tensor, d, _consecutive([s] * (k - 1) + [n - s * (k - 1)]))


def chunk(input, chunks, dim=0):
    """chunk(input, chunks, dim=0): views of ``ceil(size / chunks)`` entries each (the last may
    be shorter, and there may be fewer than ``chunks``); a dim of size 0 gives ``chunks`` empty
    views, as in PyTorch.

        >>> len(deepseek.arange(6).chunk(4)), len(deepseek.zeros(0).chunk(3))
        (3, 3)
    """
    _check_tensor("chunk", input)
    chunks = _int_arg("chunk", chunks, "chunks")
    _need_dims("chunk", input)
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    d = _wrap_dim("chunk", dim, input)
    n = input.shape[d]
    if n == 0:
        return _pieces(input, d, [(0, 0)] * chunks)
    return split(input, -(-n // chunks), d)


def tensor_split(input, indices_or_sections, dim=0):
    """tensor_split(input, indices_or_sections, dim=0): views split into ``sections`` pieces as
    equal as possible (the first ``size % sections`` one longer), or at a list (or 1-D int64
    tensor) of indices: piece i is ``input[indices[i-1]:indices[i]]`` along ``dim``, so indices out
    of order or past the end give empty pieces.

        >>> [p.tolist() for p in deepseek.arange(5).tensor_split([1, 4])]
        [[0], [1, 2, 3], [4]]
    """
    _check_tensor("tensor_split", input)
    if input.ndim == 0:
        raise RuntimeError("tensor_split expected at least a 1-dimensional tensor, but got a tensor with 0 dims")
    d = _wrap_dim("tensor_split", dim, input)
    ios = indices_or_sections
    if isinstance(ios, Tensor):
        if ios.dtype.name != "int64":
            raise RuntimeError(f"tensor_split expected tensor_indices_or_sections to have dtype of long, but got {ios.dtype}")
        if ios.ndim > 1:
            raise RuntimeError(
                "tensor_split expected tensor_indices_or_sections to be a zero-dimensional or one-dimensional "
                f"tensor, but got a tensor with {ios.ndim} dims"
            )
        ios = ios.tolist()
    n = input.shape[d]
    if isinstance(ios, (list, tuple)):
        idx = [_int_arg("tensor_split", i, "indices") for i in ios]
        return _pieces(input, d, zip([0] + idx, idx + [n]))
    sections = _int_arg("tensor_split", ios, "sections")
    if sections <= 0:
        raise RuntimeError(f"number of sections must be larger than 0, got {sections}")
    q, r = divmod(n, sections)
    return _pieces(input, d, _consecutive([q + 1] * r + [q] * (sections - r)))


def unbind(input, dim=0):
    """unbind(input, dim=0): the slices along ``dim`` as a tuple of views."""
    _check_tensor("unbind", input)
    _no_dims("unbind", input, dim)
    d = _wrap_dim("unbind", dim, input)
    return tuple(_core.select(input, d, i) for i in range(input.shape[d]))
