"""Tensor methods that change what a tensor is rather than what it holds: the in-place views
(``t_``, ``transpose_``, ``squeeze_``, ``unsqueeze_``, ``swapdims_``), ``resize_``,
``resize_as_``, ``set_``, ``as_strided_``; and ``new``, ``as_subclass``, ``cfloat``,
``cdouble``, ``prelu``, ``untyped_storage`` and ``storage``.

A ``Tensor``'s geometry never changes in the core, so the in-place views compute the view
and make the same Python object stand for it (``Tensor._rebind_``): every reference to the
tensor (a list, an optimizer, a module) sees the new geometry, and the autograd history
continues through the view, as in PyTorch.
"""
from __future__ import annotations

import math
import operator

from . import _core
from ._core import Tensor
from ._dtype import Size, complex64, complex128, to_dtype
from ._strided import _check_inplace, _contiguous_strides, _geometry, _span, as_strided, as_strided_
from ._tensor import _method

__all__ = ["UntypedStorage", "TypedStorage"]


def _become(self, op, make):
    """Makes ``self`` stand for ``make(self)``. A leaf that requires grad (allowed only with
    grad mode off) stays a leaf that requires grad, its ``.grad`` given the same geometry."""
    _check_inplace(op, self)
    leaf = self.requires_grad and self.is_leaf
    grad = self.grad if leaf else None
    view = make(self)
    if leaf:
        view = view.detach().requires_grad_(True)
        if grad is not None:
            view.grad = make(grad)
    self._rebind_(view)
    return self


@_method("t_")
def t_(self):
    """t_() -> Tensor: :meth:`t` in place (this tensor becomes its transpose)."""
    return _become(self, "t_", lambda t: t.t())


@_method("transpose_")
def transpose_(self, dim0, dim1):
    """transpose_(dim0, dim1) -> Tensor: :meth:`transpose` in place."""
    return _become(self, "transpose_", lambda t: t.transpose(dim0, dim1))


Tensor.swapdims_ = Tensor.transpose_
Tensor.swapaxes_ = Tensor.transpose_


@_method("squeeze_")
def squeeze_(self, dim=None):
    """squeeze_(dim=None) -> Tensor: :meth:`squeeze` in place."""
    return _become(self, "squeeze_", lambda t: t.squeeze() if dim is None else t.squeeze(dim))


@_method("unsqueeze_")
def unsqueeze_(self, dim):
    """unsqueeze_(dim) -> Tensor: :meth:`unsqueeze` in place."""
    return _become(self, "unsqueeze_", lambda t: t.unsqueeze(dim))


@_method("as_strided")
def _as_strided(self, size, stride, storage_offset=None):
    """as_strided(size, stride, storage_offset=None) -> Tensor: ``deepseek.as_strided``."""
    return as_strided(self, size, stride, storage_offset)


@_method("as_strided_")
def _as_strided_(self, size, stride, storage_offset=None):
    """as_strided_(size, stride, storage_offset=None) -> Tensor: ``deepseek.as_strided_``."""
    return as_strided_(self, size, stride, storage_offset)


def _sizes(op, size):
    if len(size) == 1 and isinstance(size[0], (list, tuple, Size)):
        size = size[0]
    try:
        out = [operator.index(s) for s in size]
    except TypeError:
        raise TypeError(f"{op}(): argument 'size' must be a sequence of ints, not {size!r}") from None
    if any(s < 0 for s in out):
        raise RuntimeError(f"{op}: Trying to create tensor with negative dimension: {out}")
    return out


@_method("resize_")
def resize_(self, *sizes, memory_format=None):
    """resize_(*sizes) -> Tensor: gives this tensor the shape ``sizes``, contiguous from its
    storage offset. The storage is kept when it is large enough (the elements already there
    stay); otherwise the tensor moves to a new, larger storage that starts with a copy of
    the old one (other tensors of the old storage keep it). New elements are uninitialised.
    A tensor that requires grad cannot be resized, as in PyTorch.

        >>> x = deepseek.arange(6.)
        >>> x.resize_(2, 2)
        tensor([[0., 1.],
                [2., 3.]])
    """
    size = _sizes("resize_", sizes)
    if self.requires_grad and _core.is_grad_enabled():
        raise RuntimeError("cannot resize variables that require grad")
    stride = _contiguous_strides(size)
    off = self.storage_offset()
    need = off + math.prod(size)
    have = self._storage_nbytes() // self.element_size()
    if need <= have:
        self._rebind_(_core.graph_reinterpret(self, self._dtype, size, stride, off))
        return self
    new = _core.empty([need], self._dtype, None if self._device == "cpu" else self._device)
    if have:
        old = _core.graph_reinterpret(self, self._dtype, [have], [1], 0)
        _core.copy_(_core.slice(new, 0, 0, have, 1), old)
    self._rebind_(_core.graph_reinterpret(new, self._dtype, size, stride, off))
    return self


@_method("resize_as_")
def resize_as_(self, the_template, memory_format=None):
    """resize_as_(the_template) -> Tensor: :meth:`resize_` to ``the_template``'s shape."""
    if not isinstance(the_template, Tensor):
        raise TypeError(f"resize_as_(): argument 'the_template' must be Tensor, not {type(the_template).__name__}")
    return self.resize_(list(the_template.shape))


class UntypedStorage:
    """The bytes behind a tensor, as ``tensor.untyped_storage()`` returns them: ``nbytes()``,
    ``size()`` (bytes), ``data_ptr()``, ``device``, ``element_size()`` (1), byte indexing and
    ``tolist()``. It keeps the memory alive and is what ``Tensor.set_`` accepts."""

    def __init__(self, owner):
        self._owner = owner  # a tensor of this storage

    def nbytes(self):
        return self._owner._storage_nbytes()

    size = nbytes
    __len__ = nbytes

    def data_ptr(self):
        return self._owner._storage_ptr()

    def element_size(self):
        return 1

    @property
    def device(self):
        return self._owner.device

    @property
    def dtype(self):
        from ._dtype import uint8

        return uint8

    def _bytes(self):
        return _core.graph_reinterpret(self._owner, "uint8", [self.nbytes()], [1], 0)

    def __getitem__(self, i):
        return self._bytes()[i].tolist()

    def tolist(self):
        return self._bytes().tolist()

    def untyped(self):
        return self

    def __eq__(self, other):
        return isinstance(other, (UntypedStorage, TypedStorage)) and self.data_ptr() == other.data_ptr() \
            and self.device == other.device

    def __hash__(self):
        return hash((self.data_ptr(), str(self.device)))

    def __repr__(self):
        return f"deepseek.UntypedStorage(nbytes={self.nbytes()}, device={self.device})"


class TypedStorage:
    """``tensor.storage()``: the storage read as elements of the tensor's dtype (``size()`` is
    the element count, indexing gives elements); ``untyped()`` returns the bytes."""

    def __init__(self, owner):
        self._owner = owner

    @property
    def dtype(self):
        return self._owner.dtype

    @property
    def device(self):
        return self._owner.device

    def element_size(self):
        return self._owner.element_size()

    def nbytes(self):
        return self._owner._storage_nbytes()

    def size(self):
        return self.nbytes() // self.element_size()

    __len__ = size

    def data_ptr(self):
        return self._owner._storage_ptr()

    def untyped(self):
        return UntypedStorage(self._owner)

    def _elements(self):
        return _core.graph_reinterpret(self._owner, self._owner._dtype, [self.size()], [1], 0)

    def __getitem__(self, i):
        return self._elements()[i].tolist()

    def tolist(self):
        return self._elements().tolist()

    __eq__ = UntypedStorage.__eq__
    __hash__ = UntypedStorage.__hash__

    def __repr__(self):
        return f"deepseek.TypedStorage(dtype={self.dtype}, size={self.size()}, device={self.device})"


@_method("untyped_storage")
def untyped_storage(self):
    """untyped_storage() -> UntypedStorage: this tensor's storage as bytes."""
    return UntypedStorage(self)


@_method("storage")
def storage(self):
    """storage() -> TypedStorage: this tensor's storage as elements of its dtype."""
    return TypedStorage(self)


@_method("set_")
def set_(self, source=None, storage_offset=0, size=None, stride=None):
    """set_(source=None, storage_offset=0, size=None, stride=None) -> Tensor

    Makes this tensor a view of another storage: with no arguments an empty one; with a
    tensor, that tensor's storage, shape, strides and offset; with a storage (or a tensor and
    a geometry), the given ``storage_offset``, ``size`` and ``stride`` (contiguous strides
    when None). The dtype of the source must be this tensor's.
    """
    _check_inplace("set_", self)
    rg = self.requires_grad and self.is_leaf
    if source is None:
        new = _core.empty([0], self._dtype, None if self._device == "cpu" else self._device)
    else:
        if isinstance(source, (UntypedStorage, TypedStorage)):
            owner = source._owner
            if isinstance(source, TypedStorage) and owner._dtype != self._dtype:
                raise RuntimeError(f"set_: Expected a storage of dtype {self.dtype}, got {owner.dtype}")
        elif isinstance(source, Tensor):
            owner = source
            if owner._dtype != self._dtype:
                raise RuntimeError(f"set_: Could not set tensor of type {self.dtype} to a tensor of type {owner.dtype}")
        else:
            raise TypeError(f"set_(): argument 'source' must be Tensor or Storage, not {type(source).__name__}")
        if isinstance(source, Tensor) and size is None and stride is None and storage_offset == 0:
            size, stride, off = list(source.shape), list(source.stride()), source.storage_offset()
        else:
            off = operator.index(storage_offset)
            size = list(self.shape) if size is None else _sizes("set_", [size])
            stride = _contiguous_strides(size) if stride is None else stride
        size, stride = _geometry("set_", size, stride)
        item = self.element_size()
        span = _span(size, stride)
        if span and (off + span) * item > owner._storage_nbytes():
            raise RuntimeError(f"set_: setStorage: sizes {size}, strides {stride}, storage offset {off}, and itemsize {item} "
                               f"requiring a storage size of {(off + span) * item} are out of bounds for storage of size "
                               f"{owner._storage_nbytes()}")
        new = _core.graph_reinterpret(owner, self._dtype, size, stride, off)
    if rg:
        new.requires_grad_(True)
    self._rebind_(new)
    return self


@_method("new")
def new(self, *args, **kwargs):
    """new(*args) -> Tensor: the legacy constructor, in this tensor's dtype and device:
    ``x.new()`` is empty, ``x.new(2, 3)`` / ``x.new(size)`` uninitialised of that shape,
    ``x.new([1, 2])`` a tensor of that data, ``x.new(t)`` ``t`` itself (same dtype only)."""
    from ._creation import empty, tensor

    dtype, device = kwargs.pop("dtype", self.dtype), kwargs.pop("device", self.device)
    if kwargs:
        raise TypeError(f"new() got an unexpected keyword argument '{next(iter(kwargs))}'")
    if not args:
        return empty(0, dtype=dtype, device=device)
    if len(args) == 1 and isinstance(args[0], Tensor):
        if args[0].dtype != to_dtype(dtype):
            raise TypeError(f"new(): expected a tensor of dtype {to_dtype(dtype)}, got {args[0].dtype}")
        return args[0]
    if len(args) == 1 and isinstance(args[0], Size):
        return empty(list(args[0]), dtype=dtype, device=device)
    if len(args) == 1 and not isinstance(args[0], int):
        return tensor(args[0], dtype=dtype, device=device)
    return empty(_sizes("new", args), dtype=dtype, device=device)


@_method("as_subclass")
def as_subclass(self, cls):
    """as_subclass(cls) -> Tensor: this tensor as an instance of the Tensor subclass ``cls``,
    sharing its data and staying on its autograd graph (no ``__init__`` is called)."""
    if not (isinstance(cls, type) and issubclass(cls, Tensor)):
        raise TypeError(f"as_subclass(): argument 'cls' must be a subclass of Tensor, not {cls!r}")
    r = Tensor.__new__(cls, self)
    r._rebind_(self)
    return r


@_method("cfloat")
def cfloat(self, memory_format=None):
    """cfloat() -> Tensor: ``self.to(deepseek.complex64)``."""
    return self.to(complex64)


@_method("cdouble")
def cdouble(self, memory_format=None):
    """cdouble() -> Tensor: ``self.to(deepseek.complex128)``."""
    return self.to(complex128)


@_method("prelu")
def prelu(self, weight):
    """prelu(weight) -> Tensor: ``nn.functional.prelu(self, weight)``."""
    from .nn import functional as F

    return F.prelu(self, weight)


@_method("is_inference")
def is_inference(self):
    """is_inference() -> bool: whether this is an inference tensor. deepseek's
    ``inference_mode`` works as ``no_grad`` and makes ordinary tensors (usable with autograd
    afterwards), so this is always False."""
    return False


@_method("split_with_sizes")
def _split_with_sizes(self, split_sizes, dim=0):
    """split_with_sizes(split_sizes, dim=0) -> tuple of Tensors: ``deepseek.split_with_sizes``."""
    from ._aliases import split_with_sizes

    return split_with_sizes(self, split_sizes, dim)


@_method("const_data_ptr")
def const_data_ptr(self):
    """const_data_ptr() -> int: the address of the first element (``data_ptr``, for reading)."""
    return self.data_ptr()


# devices deepseek has no backend for: a tensor is never on one
for _name in ("is_xla", "is_ipu", "is_maia", "is_mtia", "is_vulkan"):
    setattr(Tensor, _name, property(lambda self: False, doc=f"Always False: deepseek has no {_name[3:]} device."))
