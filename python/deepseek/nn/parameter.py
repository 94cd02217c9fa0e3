"""``nn.Parameter``: a tensor that a Module registers as trainable."""
from __future__ import annotations

from .. import _core
from .._core import Tensor


class Parameter(Tensor):
    """Parameter(data=None, requires_grad=True): shares ``data``'s storage; a leaf that
    requires grad by default."""

    _is_param = True

    def __new__(cls, data=None, requires_grad=True):
        if data is None:
            data = _core.empty([0], "float32")
        t = Tensor.__new__(cls, data)
        if requires_grad:
            t.requires_grad_(True)
        return t

    def __init__(self, data=None, requires_grad=True):
        pass

    def __deepcopy__(self, memo):
        r = Parameter(_core.clone(self.detach()), self.requires_grad)
        memo[id(self)] = r
        return r

    def __reduce_ex__(self, proto):
        raise TypeError("parameters are not pickled; save state_dicts with deepseek.save")


class Buffer:
    """Marks a tensor to be registered as a buffer when assigned to a Module attribute."""

    def __init__(self, data, persistent=True):
        self.data = data
        self.persistent = persistent


_UNINIT_MSG = ("Attempted to use an uninitialized parameter in {}. This error happens when you are using a `LazyModule` "
               "or explicitly manipulating `nn.parameter.{}` objects. When using LazyModules Call `forward` with a dummy "
               "batch to initialize the parameters before calling deepseek functions")
# what an uninitialized tensor still answers (PyTorch's _allowed_methods, plus autograd flags)
_UNINIT_ALLOWED = frozenset("""materialize cls_to_become requires_grad requires_grad_ dtype device is_leaf grad
to cpu cuda float double half bfloat16 is_floating_point is_complex get_device data_ptr""".split())


class UninitializedTensorMixin:
    """The behaviour shared by :class:`UninitializedParameter` and :class:`UninitializedBuffer`:
    no shape yet, only dtype/device conversions allowed, :meth:`materialize` gives it one."""

    def materialize(self, shape, device=None, dtype=None):
        """materialize(shape, device=None, dtype=None): gives this tensor uninitialised memory of
        ``shape`` (this tensor's device and dtype unless given) and makes it a
        ``cls_to_become`` (a ``Parameter`` for a parameter) — the same object, so an optimizer
        built before holds the materialised parameter."""
        from .._creation import empty as _empty

        dev = object.__getattribute__(self, "device") if device is None else device
        dt = object.__getattribute__(self, "dtype") if dtype is None else dtype
        if isinstance(shape, int):
            shape = (shape,)
        new = _empty(*shape, dtype=dt, device=dev)
        if object.__getattribute__(self, "requires_grad"):
            new.requires_grad_(True)
        self._rebind_(new)
        self.__class__ = self.cls_to_become

    @property
    def shape(self):
        raise RuntimeError(
            "Can't access the shape of an uninitialized parameter or buffer. This error usually happens in "
            "`load_state_dict` when trying to load an uninitialized parameter into an initialized one. Call `forward` "
            "to initialize the parameters before accessing their attributes.")

    def size(self, dim=None):
        return self.shape

    def _convert(self, *args, **kwargs):
        # dtype/device conversions change the tensor it will become, in place, as PyTorch's
        # Module._apply does through .data (so module.to(...) keeps it lazy)
        from .._tensor import _parse_to

        dt, dev = _parse_to(args, kwargs)
        get = object.__getattribute__
        r = _empty_of(get(self, "device") if dev is None else dev, get(self, "dtype") if dt is None else dt)
        if get(self, "requires_grad"):
            r.requires_grad_(True)
        self._rebind_(r)
        return self

    def to(self, *args, **kwargs):
        return self._convert(*args, **kwargs)

    def cpu(self):
        return self._convert("cpu")

    def float(self):
        return self._convert("float32")

    def double(self):
        return self._convert("float64")

    def half(self):
        return self._convert("float16")

    def bfloat16(self):
        return self._convert("bfloat16")

    def __getattribute__(self, name):
        if name.startswith("_") or name in _UNINIT_ALLOWED or name == "shape" or name == "size":
            return object.__getattribute__(self, name)
        raise ValueError(_UNINIT_MSG.format(f"Tensor.{name}", type(self).__name__))

    def __repr__(self):
        return f"<{type(self).__name__}>"

    def __reduce_ex__(self, proto):
        raise TypeError("uninitialized parameters are not pickled; save state_dicts with deepseek.save")

    def __deepcopy__(self, memo):
        # a fresh uninitialized tensor of the same class, grad flag, device and dtype
        r = type(self)(object.__getattribute__(self, "requires_grad"), object.__getattribute__(self, "device"),
                       object.__getattribute__(self, "dtype"))
        memo[id(self)] = r
        return r


def _refuse(op):
    def f(self, *args, **kwargs):
        raise ValueError(_UNINIT_MSG.format(op, type(self).__name__))

    f.__name__ = op
    return f


for _op in ("__add__ __radd__ __sub__ __rsub__ __mul__ __rmul__ __truediv__ __rtruediv__ __matmul__ __rmatmul__ "
            "__pow__ __rpow__ __neg__ __iadd__ __isub__ __imul__ __itruediv__ __getitem__ __setitem__ __len__ __iter__ "
            "__float__ __int__ __bool__ __array__ numpy tolist item").split():
    setattr(UninitializedTensorMixin, _op, _refuse(_op))


def _empty_of(device, dtype):
    from .._creation import empty as _empty

    return _empty(0, dtype=dtype, device=device)


class UninitializedParameter(UninitializedTensorMixin, Parameter):
    """UninitializedParameter(requires_grad=True, device=None, dtype=None): a parameter whose
    shape is not known yet (the weights of the ``nn.Lazy*`` modules). Only its dtype and
    device can be changed; :meth:`materialize` makes it a ``Parameter``."""

    cls_to_become = Parameter

    def __new__(cls, requires_grad=True, device=None, dtype=None):
        return Parameter.__new__(cls, _empty_of(device, dtype), requires_grad)

    def __init__(self, requires_grad=True, device=None, dtype=None):
        pass


class _MaterializedBuffer(Tensor):
    """What an :class:`UninitializedBuffer` becomes (the core's ``Tensor`` class itself cannot be
    assigned to a subclass instance); lazy modules swap it for a plain tensor."""


class UninitializedBuffer(UninitializedTensorMixin, Tensor):
    """UninitializedBuffer(requires_grad=False, device=None, dtype=None): a buffer whose shape is
    not known yet (the running statistics of the ``nn.LazyBatchNorm*`` modules)."""

    cls_to_become = _MaterializedBuffer

    def __new__(cls, requires_grad=False, device=None, dtype=None):
        t = Tensor.__new__(cls, _empty_of(device, dtype))
        if requires_grad:
            t.requires_grad_(True)
        return t

    def __init__(self, requires_grad=False, device=None, dtype=None):
        pass


def is_lazy(param):
    """Whether ``param`` is an :class:`UninitializedParameter` or :class:`UninitializedBuffer`."""
    return isinstance(param, UninitializedTensorMixin)
