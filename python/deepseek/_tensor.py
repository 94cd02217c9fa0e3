"""Python-side methods of ``deepseek.Tensor``.

The class itself lives in the Rust core (properties, operators, the hot paths); this module
adds the rest of PyTorch's method surface on top of the module functions, once, at import.
The in-place methods (``add_``, ``copy_``, ``uniform_`` ...) are in ``deepseek._tensor_inplace``.
"""
from __future__ import annotations

import weakref

import numpy as np

from . import _core, _indexing, _ops
from ._core import Tensor
from ._dtype import DTYPES, Size, device, dtype as _dtype_cls, to_dtype
from ._layout import strided as _strided

_CPU = device("cpu")


def _method(name):
    def deco(f):
        f.__name__ = name
        setattr(Tensor, name, f)
        return f

    return deco


# ---------------- properties ----------------

Tensor.shape = property(lambda self: Size(self._shape), doc="The tensor's shape, a ``deepseek.Size``.")
Tensor.dtype = property(lambda self: DTYPES[self._dtype], doc="The element type.")
_DEVICES = {"cpu": _CPU}


def _device_of(name):
    d = _DEVICES.get(name)
    if d is None:
        d = _DEVICES[name] = device(name)
    return d


Tensor.device = property(lambda self: _device_of(self._device), doc="Where the tensor lives: ``device('cpu')``, ``device('opencl', 0)``...")
Tensor.is_cuda = property(lambda self: self._device.startswith("cuda:"), doc="Whether the tensor is on a CUDA device.")
Tensor.is_cpu = property(lambda self: self._device == "cpu", doc="Whether the tensor is on the CPU.")
Tensor.layout = property(lambda self: _strided, doc="``deepseek.strided`` (sparse tensors are ``deepseek.sparse.SparseTensor``).")
Tensor.T = property(lambda self: _core.permute(self, list(range(self.ndim))[::-1]), doc="All dims reversed.")
Tensor.mT = property(lambda self: _core.transpose(self, -2, -1), doc="The last two dims swapped.")
Tensor.H = property(lambda self: _core.conj(_core.permute(self, list(range(self.ndim))[::-1])),
                    doc="The conjugate transpose (all dims reversed; a new tensor when complex).")
Tensor.mH = property(lambda self: _core.conj(_core.transpose(self, -2, -1)),
                     doc="The conjugate transpose of the last two dims (a new tensor when complex).")
Tensor.data = property(
    lambda self: self.detach(),
    lambda self, v: _core.copy_(self.detach(), v) if tuple(v.shape) == tuple(self.shape) and v.dtype == self.dtype else (_ for _ in ()).throw(
        RuntimeError("setting .data to a tensor of another shape or dtype is not supported; create a new tensor")),
    doc="The tensor without autograd history (shares storage).",
)


class _GradFn:
    """A read-only handle on the node that produced a tensor."""

    def __init__(self, name, ident):
        self._name = name
        self._id = ident

    def name(self):
        return self._name

    def __repr__(self):
        return f"<{self._name} object at {hex(self._id)}>"

    def __eq__(self, other):
        return isinstance(other, _GradFn) and other._id == self._id

    def __hash__(self):
        return self._id


Tensor.grad_fn = property(lambda self: None if self._grad_fn_name is None else _GradFn(self._grad_fn_name, self._grad_fn_id))
Tensor._base_fn = _core.Tensor._base
Tensor._base = property(lambda self: Tensor._base_fn(self))
Tensor.is_sparse = property(lambda self: False)
Tensor.itemsize = property(lambda self: self.element_size())
Tensor.nbytes = property(lambda self: self.element_size() * self.numel())


@_method("size")
def size(self, dim=None):
    """size(dim=None): the shape, or the size of one dim."""
    if dim is None:
        return Size(self._shape)
    n = self.ndim
    if not -max(n, 1) <= dim < max(n, 1):
        raise IndexError(f"Dimension out of range (expected to be in range of [{-max(n,1)}, {max(n,1)-1}], but got {dim})")
    return self._shape[dim % n]


@_method("stride")
def stride(self, dim=None):
    """stride(dim=None): strides in elements."""
    s = self._strides()
    return s if dim is None else s[dim % self.ndim]


@_method("type")
def type_(self, dtype=None):
    if dtype is None:
        return {"float32": "deepseek.FloatTensor", "float64": "deepseek.DoubleTensor", "int64": "deepseek.LongTensor"}.get(self._dtype, f"deepseek.{self._dtype}")
    return self.to(dtype)


# ---------------- conversion ----------------

def _parse_to(args, kwargs):
    dt = kwargs.get("dtype")
    dev = kwargs.get("device")
    for a in args:
        if isinstance(a, _dtype_cls):
            dt = a
        elif isinstance(a, Tensor):
            dt = a.dtype
        elif isinstance(a, (str, device)):
            if isinstance(a, str) and (a in DTYPES):
                dt = DTYPES[a]
            else:
                dev = a
        elif a is not None:
            raise TypeError(f"to() received an invalid combination of arguments: {a!r}")
    return dt, dev


def _device_name(dev) -> str:
    """The core's name for a device argument ("cpu", "opencl:0"), loading its backend."""
    if isinstance(dev, int) and not isinstance(dev, bool):
        raise RuntimeError(f"device={dev}: pass a device string such as 'cuda:{dev}' or 'opencl:{dev}'")
    d = dev if isinstance(dev, device) else device(dev)
    if d.type == "cpu":
        return "cpu"
    from .backends import ensure_device

    return ensure_device(d)


@_method("to")
def to(self, *args, **kwargs):
    """to(dtype) / to(device) / to(device, dtype) / to(other): converts; returns ``self``
    when nothing changes. Moving between devices copies and stays in the autograd graph."""
    dt, dev = _parse_to(args, kwargs)
    if len(args) >= 1 and isinstance(args[0], Tensor):
        dev = args[0].device
    copy = kwargs.get("copy", False)
    t = self
    if dev is not None:
        name = _device_name(dev)
        if name != t._device:
            t = _core.to_device(t, name)
    if dt is not None:
        dt = to_dtype(dt)
        if dt.name != t._dtype:
            t = _core.cast(t, dt.name)
    return _core.clone(t) if copy and t is self else t


@_method("cpu")
def cpu(self):
    """A copy on the CPU (``self`` when already there)."""
    return self if self._device == "cpu" else _core.to_device(self, "cpu")


def _cuda_device(dev) -> str:
    """The CUDA device ``.cuda(dev)`` means: None is the current one ("cuda"), an int its
    index; any other device type is refused, as PyTorch does."""
    if dev is None:
        return "cuda"
    if isinstance(dev, int) and not isinstance(dev, bool):
        return f"cuda:{dev}"
    d = dev if isinstance(dev, device) else device(dev)
    if d.type != "cuda":
        raise RuntimeError(f"Invalid device, must be cuda device: got '{d}'")
    return str(d)


@_method("cuda")
def cuda(self, device=None, non_blocking=False, memory_format=None):
    """A copy on a CUDA device (``self`` when already there): ``device`` is an index, a
    "cuda:i" string or a deepseek.device, the current CUDA device when None. Raises a
    RuntimeError saying why when there is no such device (backend not installed, no driver).
    Copies finish before this returns, whatever ``non_blocking`` says."""
    return self.to(_cuda_device(device))


def _dtype_device(s):
    return device(s)


for _name, _dt in [("float", "float32"), ("double", "float64"), ("half", "float16"), ("bfloat16", "bfloat16"),
                   ("long", "int64"), ("int", "int32"), ("short", "int16"), ("char", "int8"), ("byte", "uint8"), ("bool", "bool")]:
    def _conv(self, _dt=_dt):
        return self if self._dtype == _dt else _core.cast(self, _dt)

    _conv.__name__ = _name
    setattr(Tensor, _name, _conv)


class _Interface:
    """Exposes a tensor's memory to NumPy; the array keeps this (and so the tensor) alive."""

    __slots__ = ("__array_interface__", "_tensor")

    def __init__(self, t):
        self.__array_interface__ = t.__array_interface__
        self._tensor = t


def _share(t):
    if _core.graph_is_tracing():
        _core.graph_host_read("numpy()/tolist()")
    return np.asarray(_Interface(t))


@_method("numpy")
def numpy(self, *, force=False):
    """numpy(): a NumPy array sharing this tensor's memory."""
    if self.requires_grad and not force:
        raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead.")
    if self._device != "cpu":
        if force:
            return self.detach().cpu().numpy()
        raise TypeError(f"can't convert {self._device} device type tensor to numpy. Use Tensor.cpu() to copy the tensor to host memory first.")
    if self._dtype == "bfloat16":
        raise TypeError("Got unsupported ScalarType BFloat16: NumPy has no bfloat16; call .float() first")
    return _share(self)


@_method("__array__")
def __array__(self, dtype=None, copy=None):
    if self._device != "cpu":
        raise TypeError(f"can't convert {self._device} device type tensor to numpy. Use Tensor.cpu() to copy the tensor to host memory first.")
    if self._dtype == "bfloat16":
        a = _share(_core.cast(self.detach(), "float32"))
        if copy is False:
            raise ValueError("bfloat16 tensors cannot be shared with NumPy without a copy")
    else:
        a = _share(self)
    if dtype is not None and a.dtype != np.dtype(dtype):
        if copy is False:
            raise ValueError(f"converting to {dtype} needs a copy, but copy=False was requested")
        return a.astype(dtype)
    return a.copy() if copy else a


Tensor.__array_priority__ = 1000


@_method("tolist")
def tolist(self):
    """tolist(): nested Python lists (a number for a 0-d tensor)."""
    if self._device != "cpu":
        return self.detach().cpu().tolist()
    if self._dtype == "bfloat16":
        return _core.cast(self.detach(), "float32").tolist()
    return _share(self).tolist()


@_method("__iter__")
def __iter__(self):
    if self.ndim == 0:
        raise TypeError("iteration over a 0-d tensor")
    return (_core.select(self, 0, i) for i in range(self._shape[0]))


@_method("__reversed__")
def __reversed__(self):
    return _core.flip(self, [0])


@_method("__contains__")
def __contains__(self, item):
    return bool((self == item).any())


@_method("__format__")
def __format__(self, spec):
    if self.ndim == 0:
        return self.item().__format__(spec)
    return object.__format__(repr(self), spec)


@_method("__reduce_ex__")
def __reduce_ex__(self, proto):
    raise TypeError("deepseek tensors are not pickled; save them with deepseek.save (safetensors)")


@_method("__deepcopy__")
def __deepcopy__(self, memo):
    r = _core.clone(self.detach())
    r.requires_grad_(self.requires_grad) if self.is_leaf and self.requires_grad else None
    if type(self) is not Tensor:
        r = type(self)(r, requires_grad=self.requires_grad) if hasattr(type(self), "_is_param") else r
    memo[id(self)] = r
    return r


# ---------------- indexing ----------------

Tensor.__getitem__ = lambda self, key: _indexing.getitem(self, key)
Tensor.__setitem__ = lambda self, key, value: _indexing.setitem(self, key, value)


@_method("index_put_")
def index_put_(self, indices, values, accumulate=False):
    """index_put_(indices, values, accumulate=False): ``self[indices] = values`` (or ``+=``)."""
    idx = list(indices)
    if not isinstance(values, Tensor):
        values = _core.full([], values, self._dtype)
    _core.inplace_("index_put_", self, lambda old: _core.index_put(old, idx, values, accumulate))
    return self


@_method("index_put")
def index_put(self, indices, values, accumulate=False):
    if not isinstance(values, Tensor):
        values = _core.full([], values, self._dtype)
    return _core.index_put(self, list(indices), values, accumulate)


# ---------------- autograd ----------------

@_method("backward")
def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
    """backward(gradient=None, retain_graph=None, create_graph=False): accumulates gradients
    of this tensor into the ``.grad`` of the leaves."""
    from . import autograd

    autograd.backward(self, gradient, retain_graph, create_graph, inputs=inputs)


class _RemovableHandle:
    def __init__(self, t, h):
        self._t, self._h = t, h

    def remove(self):
        _core.remove_hook(self._t, self._h)


@_method("register_hook")
def register_hook(self, hook):
    """register_hook(hook): ``hook(grad)`` runs when this tensor's gradient is computed and
    may return a replacement."""
    return _RemovableHandle(self, _core.register_hook(self, hook))


@_method("register_post_accumulate_grad_hook")
def register_post_accumulate_grad_hook(self, hook):
    """register_post_accumulate_grad_hook(hook): ``hook(tensor)`` runs after a backward pass
    has accumulated this leaf's gradient into ``tensor.grad``; it returns None. Leaves only.

    Returns a handle whose ``remove()`` unregisters the hook.
    """
    ref = weakref.ref(self)  # the hook lives in the tensor: a strong reference would be a cycle

    def call(t):
        owner = ref()
        hook(owner if owner is not None else t)

    return _RemovableHandle(self, _core.register_post_accumulate_grad_hook(self, call))


@_method("retain_grad")
def retain_grad(self):
    """retain_grad(): keeps ``.grad`` for this non-leaf tensor."""
    _core.retain_grad(self)


# ---------------- methods from the functional API ----------------

_SAME = """exp log log1p expm1 sqrt rsqrt sin cos tan tanh sigmoid erf erfc lgamma digamma floor ceil round trunc
reciprocal relu logical_not bitwise_not asin acos atan sinh cosh log2 exp2 sign neg abs
add sub mul div floor_divide pow maximum minimum fmod remainder atan2 bitwise_and bitwise_or
bitwise_xor eq ne lt le gt ge logical_and logical_or logical_xor clamp clip clamp_min clamp_max
lerp square sum prod mean var std amax amin max min argmax argmin logsumexp all any norm
cumsum cumprod softmax log_softmax matmul mm bmm mv dot outer flatten unflatten squeeze
unsqueeze transpose swapaxes swapdims t movedim narrow flip split chunk tensor_split unbind
gather scatter scatter_add index_select index_add masked_fill masked_select nonzero argwhere
sort argsort topk kthvalue tril triu repeat_interleave tile isnan isinf isfinite nan_to_num
allclose isclose equal diag trace diff var_mean std_mean negative multiply divide subtract
greater less greater_equal less_equal not_equal true_divide logaddexp addmm
""".split()
for _n in _SAME:
    setattr(Tensor, _n, getattr(_ops, _n))

Tensor.absolute = Tensor.abs
Tensor.polygamma = lambda self, n: _ops.polygamma(n, self)
Tensor.arccos = Tensor.acos
Tensor.arcsin = Tensor.asin
Tensor.arctan = Tensor.atan
Tensor.is_floating_point = lambda self: self.dtype.is_floating_point
Tensor.repeat = _ops.repeat
Tensor.reshape = lambda self, *shape: _core.reshape(self, _ops._shape_args(shape))
Tensor.view = lambda self, *shape: _core.view(self, _ops._shape_args(shape))
Tensor.view_as = lambda self, other: _core.view(self, list(other.shape))
Tensor.reshape_as = lambda self, other: _core.reshape(self, list(other.shape))
Tensor.permute = lambda self, *dims: _core.permute(self, _ops._shape_args(dims))
Tensor.expand = lambda self, *shape: _core.expand(self, _ops._shape_args(shape))
Tensor.expand_as = lambda self, other: _core.expand(self, list(other.shape))
Tensor.broadcast_to = lambda self, shape: _core.expand(self, list(shape))
Tensor.contiguous = lambda self, memory_format=None: _core.contiguous(self)
Tensor.clone = lambda self, memory_format=None: _core.clone(self)
Tensor.type_as = lambda self, other: self.to(other.dtype)


# new_*: PyTorch's rule is "same dtype and device as self unless dtype= / device= say otherwise".
def _new_options(self, dtype, device):
    return (self.dtype if dtype is None else dtype), (self._device if device is None else device)


@_method("new_empty")
def new_empty(self, *size, dtype=None, device=None, requires_grad=False, layout=None, pin_memory=False):
    """new_empty(size, *, dtype=None, device=None, requires_grad=False) -> Tensor

    Uninitialised memory of ``size``, with this tensor's dtype and device by default.
    """
    from ._creation import empty

    dt, dev = _new_options(self, dtype, device)
    return empty(*size, dtype=dt, device=dev, requires_grad=requires_grad)


@_method("new_zeros")
def new_zeros(self, *size, dtype=None, device=None, requires_grad=False, layout=None, pin_memory=False):
    """new_zeros(size, *, dtype=None, device=None, requires_grad=False) -> Tensor

    Zeros of ``size``, with this tensor's dtype and device by default.

    Example::

        >>> x = deepseek.ones(2, dtype=deepseek.float64)
        >>> x.new_zeros(3)
        tensor([0., 0., 0.], dtype=deepseek.float64)
    """
    from ._creation import zeros

    dt, dev = _new_options(self, dtype, device)
    return zeros(*size, dtype=dt, device=dev, requires_grad=requires_grad)


@_method("new_ones")
def new_ones(self, *size, dtype=None, device=None, requires_grad=False, layout=None, pin_memory=False):
    """new_ones(size, *, dtype=None, device=None, requires_grad=False) -> Tensor

    Ones of ``size``, with this tensor's dtype and device by default.
    """
    from ._creation import ones

    dt, dev = _new_options(self, dtype, device)
    return ones(*size, dtype=dt, device=dev, requires_grad=requires_grad)


@_method("new_full")
def new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad=False, layout=None, pin_memory=False):
    """new_full(size, fill_value, *, dtype=None, device=None, requires_grad=False) -> Tensor

    ``fill_value`` everywhere, with this tensor's dtype (not one inferred from
    ``fill_value``) and device by default.
    """
    from ._creation import full

    dt, dev = _new_options(self, dtype, device)
    return full(size, fill_value, dtype=dt, device=dev, requires_grad=requires_grad)


@_method("new_tensor")
def new_tensor(self, data, *, dtype=None, device=None, requires_grad=False, layout=None, pin_memory=False):
    """new_tensor(data, *, dtype=None, device=None, requires_grad=False) -> Tensor

    A copy of ``data`` with this tensor's dtype and device by default.
    """
    from ._creation import tensor

    dt, dev = _new_options(self, dtype, device)
    return tensor(data, dtype=dt, device=dev, requires_grad=requires_grad)


Tensor.pad = _ops.pad
Tensor.one_hot = _ops.one_hot


@_method("__repr__")
def __repr__(self):
    from ._format import format_tensor

    return format_tensor(self)


Tensor.__str__ = Tensor.__repr__
Tensor.__module__ = "deepseek"
