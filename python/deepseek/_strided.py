"""Tensors at an explicit geometry over a storage: ``as_strided``, ``as_strided_``,
``empty_strided``, ``frombuffer``, ``scalar_tensor``.

``as_strided`` of a contiguous tensor is the core's differentiable view (its gradient scatters
back into the input's shape); of any other tensor it is a view of the same storage that
autograd cannot differentiate through, so asking for a gradient there is refused rather than
answered wrongly.
"""
from __future__ import annotations

import operator
import warnings

import numpy as np

from . import _core
from ._core import Tensor
from ._dtype import get_default_dtype, to_dtype

__all__ = ["as_strided", "as_strided_", "empty_strided", "frombuffer", "scalar_tensor"]


def _ints(op, name, seq):
    try:
        return [operator.index(v) for v in seq]
    except TypeError:
        raise TypeError(f"{op}(): argument '{name}' must be a sequence of ints, not {seq!r}") from None


def _geometry(op, size, stride):
    size, stride = _ints(op, "size", size), _ints(op, "stride", stride)
    if len(size) != len(stride):
        raise RuntimeError(f"{op}: mismatch in length of strides and shape (size {size}, stride {stride})")
    if any(s < 0 for s in size):
        raise RuntimeError(f"{op}: Trying to create tensor with negative dimension: {size}")
    if any(s < 0 for s in stride):
        raise RuntimeError(f"{op}: Negative strides are not supported at the moment, got strides: {stride}")
    return size, stride


def _contiguous_strides(size):
    """Row-major strides of ``size`` (a 0-size dim counts as 1, as the core's layout does)."""
    st, acc = [], 1
    for n in reversed(size):
        st.append(acc)
        acc *= max(n, 1)
    return list(reversed(st))


def _span(size, stride):
    """Elements of storage a geometry reaches from its first element (0 when empty)."""
    if any(s == 0 for s in size):
        return 0
    return 1 + sum((n - 1) * s for n, s in zip(size, stride))


def _overlaps(size, stride):
    """Whether two indices of the geometry reach the same element."""
    dims = sorted((st, n) for n, st in zip(size, stride) if n > 1)
    reach = 0  # the largest offset the smaller-stride dims reach
    for st, n in dims:
        if st <= reach:
            return True
        reach += (n - 1) * st
    return False


def _gather(input, size, stride, rel):
    from ._creation import arange

    dev = input.device
    idx = arange(rel, rel + 1, device=dev).reshape([1] * len(size))
    for d, (n, st) in enumerate(zip(size, stride)):
        idx = idx + (arange(n, device=dev) * st).reshape([n] + [1] * (len(size) - d - 1))
    return input.reshape(-1)[idx.reshape(-1)].reshape(size)


def _grad_recording(t):
    return t.requires_grad and _core.is_grad_enabled()


def as_strided(input, size, stride, storage_offset=None):
    """as_strided(input, size, stride, storage_offset=None) -> Tensor

    A view of ``input``'s storage with the given ``size``, ``stride`` (in elements) and
    ``storage_offset`` (``input``'s own when None). Writes through the view are seen by
    ``input`` and the other way round. Differentiable when ``input`` is contiguous and the
    offset is not before ``input``'s first element; a geometry whose elements overlap (sliding
    windows) then gives a differentiable copy, whose gradient sums over the overlaps.

        >>> x = deepseek.arange(6.)
        >>> x.as_strided((2, 2), (1, 2), 1)
        tensor([[1., 3.],
                [2., 4.]])
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"as_strided(): argument 'input' must be Tensor, not {type(input).__name__}")
    size, stride = _geometry("as_strided", size, stride)
    off = input.storage_offset() if storage_offset is None else operator.index(storage_offset)
    if off < 0:
        raise RuntimeError(f"as_strided: Tensor: invalid storage offset {off}")
    item = input.element_size()
    need = off + _span(size, stride) if _span(size, stride) else 0
    if need * item > input._storage_nbytes():
        raise RuntimeError(f"as_strided: setStorage: sizes {size}, strides {stride}, storage offset {off}, and itemsize "
                           f"{item} requiring a storage size of {need * item} are out of bounds for storage of size "
                           f"{input._storage_nbytes()}")
    rel = off - input.storage_offset()
    if input.is_contiguous() and rel >= 0:
        if _grad_recording(input) and _overlaps(size, stride):
            # the core's view scatters its gradient back as a copy, which elements that share
            # memory would race on: gather instead (a differentiable copy; such a view cannot
            # be written in place anyway)
            return _gather(input, size, stride, rel)
        return _core.as_strided(input, size, stride, rel)
    if _grad_recording(input):
        raise RuntimeError(f"as_strided: the gradient is supported for a contiguous input viewed from its first element "
                           f"on (got an input of shape {tuple(input.shape)}, strides {input.stride()}, storage offset "
                           f"{input.storage_offset()}, viewed at storage offset {off}); call .contiguous() first")
    return _core.graph_reinterpret(input, input._dtype, size, stride, off)


def _check_inplace(op, t):
    if t.requires_grad and t.is_leaf and _core.is_grad_enabled():
        raise RuntimeError(f"{op}: a leaf Variable that requires grad is being used in an in-place operation.")


def as_strided_(input, size, stride, storage_offset=None):
    """as_strided_(input, size, stride, storage_offset=None) -> Tensor: makes ``input`` itself
    the view :func:`as_strided` returns (same object, new geometry)."""
    _check_inplace("as_strided_", input)
    leaf = input.requires_grad and input.is_leaf
    view = as_strided(input, size, stride, storage_offset)
    input._rebind_(view.detach().requires_grad_(True) if leaf else view)
    return input


def _device_arg(device):
    from ._creation import _check_device

    return _check_device(device)


def empty_strided(size, stride, *, dtype=None, layout=None, device=None, requires_grad=False, pin_memory=False):
    """empty_strided(size, stride, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    uninitialised memory laid out with ``stride`` (a storage just large enough for it).

        >>> deepseek.empty_strided((2, 3), (1, 2)).stride()
        (1, 2)
    """
    size, stride = _geometry("empty_strided", size, stride)
    dt = to_dtype(dtype).name if dtype is not None else get_default_dtype().name
    buf = _core.empty([_span(size, stride)], dt, _device_arg(device))
    t = _core.graph_reinterpret(buf, dt, size, stride, 0)
    if requires_grad:
        t.requires_grad_(True)
    return t


_NP_OF = {"bool": np.bool_, "uint8": np.uint8, "int8": np.int8, "int16": np.int16, "int32": np.int32,
          "int64": np.int64, "float16": np.float16, "bfloat16": np.int16, "float32": np.float32,
          "float64": np.float64, "complex64": np.complex64, "complex128": np.complex128}


def frombuffer(buffer, *, dtype, count=-1, offset=0, requires_grad=False):
    """frombuffer(buffer, *, dtype, count=-1, offset=0, requires_grad=False) -> Tensor

    A 1-D tensor over the memory of an object that exposes the buffer protocol (``bytearray``,
    ``array.array``, ``memoryview`` ...): ``count`` elements (-1: all that fit) from byte
    ``offset``. The tensor shares the buffer's memory; a read-only buffer (``bytes``) is
    copied instead, with PyTorch's warning, since writing into it would corrupt it.

        >>> deepseek.frombuffer(bytearray(b"\\x01\\x00\\x02\\x00"), dtype=deepseek.int16)
        tensor([1, 2], dtype=deepseek.int16)
    """
    dt = to_dtype(dtype)
    try:
        mv = memoryview(buffer)
    except TypeError:
        raise TypeError(f"frombuffer(): object of type {type(buffer).__name__} does not implement the buffer protocol") from None
    n = mv.nbytes
    count, offset = operator.index(count), operator.index(offset)
    if n == 0 or count == 0:
        raise ValueError(f"both buffer length ({n}) and count ({count}) must not be 0")
    if not 0 <= offset < n:
        raise ValueError(f"offset ({offset} bytes) must be non-negative and no greater than buffer length ({n} bytes) minus 1")
    if count < 0 and (n - offset) % dt.itemsize:
        raise ValueError(f"buffer length ({n - offset} bytes) after offset ({offset} bytes) must be a multiple of "
                         f"element size ({dt.itemsize})")
    if count > 0 and count * dt.itemsize > n - offset:
        raise ValueError(f"requested buffer length ({count} * {dt.itemsize} bytes) after offset ({offset} bytes) must "
                         f"not be greater than actual buffer length ({n} bytes)")
    arr = np.frombuffer(mv.cast("B") if mv.format != "B" or mv.ndim != 1 else mv, dtype=_NP_OF[dt.name], count=count,
                        offset=offset)
    if not arr.flags.writeable:
        warnings.warn("The given buffer is not writable; deepseek copies it, so writes to the tensor do not reach "
                      "the buffer.", UserWarning, stacklevel=2)
        arr = arr.copy()
    t = _core.from_array_interface(arr)
    if dt.name == "bfloat16":
        # NumPy has no bfloat16: the same bytes, read as bfloat16
        t = _core.graph_reinterpret(t, "bfloat16", [t.shape[0]], [1], t.storage_offset())
    if requires_grad:
        t.requires_grad_(True)
    return t


def scalar_tensor(s, *, dtype=None, layout=None, device=None, requires_grad=False, pin_memory=None):
    """scalar_tensor(s, *, dtype=None, device=None, requires_grad=False) -> Tensor: a 0-d tensor
    holding ``s``, of the default float dtype unless ``dtype`` says otherwise (also for int
    and bool ``s``, as in PyTorch).

        >>> deepseek.scalar_tensor(3)
        tensor(3.)
    """
    from ._creation import tensor

    if isinstance(s, Tensor):
        if s.numel() != 1:
            raise RuntimeError(f"scalar_tensor(): a Tensor with {s.numel()} elements cannot be converted to Scalar")
        s = s.item()
    if not isinstance(s, (bool, int, float, complex, np.number, np.bool_)):
        raise TypeError(f"scalar_tensor(): argument 's' must be Number, not {type(s).__name__}")
    if dtype is None:
        dtype = get_default_dtype()
        if isinstance(s, complex) or np.iscomplexobj(s):
            dtype = "complex128" if dtype.name == "float64" else "complex64"
    return tensor(s, dtype=dtype, device=device, requires_grad=requires_grad)
