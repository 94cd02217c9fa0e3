"""``nn.utils.parametrize``: a module's tensor computed from an unconstrained one.

``register_parametrization(module, "weight", P())`` moves ``module.weight`` to
``module.parametrizations.weight.original`` and makes ``module.weight`` a property returning
``P()(original)`` (chained when several are registered). Assigning ``module.weight = X`` stores
``P().right_inverse(X)`` when the parametrization has one.
"""
from __future__ import annotations

import contextlib

from ..._core import Tensor
from ..modules.layers import ModuleDict, ModuleList
from ..modules.module import Module
from ..parameter import Parameter

_cache_enabled = 0
_cache = {}


@contextlib.contextmanager
def cached():
    """Within this context each parametrized tensor is computed once and reused."""
    global _cache_enabled
    _cache_enabled += 1
    try:
        yield
    finally:
        _cache_enabled -= 1
        if not _cache_enabled:
            _cache.clear()


class ParametrizationList(ModuleList):
    """The parametrizations of one tensor, applied in order to ``original`` (or, with several
    originals from a multi-output ``right_inverse``, to ``original0, original1, ...``)."""

    def __init__(self, modules, original, unsafe=False):
        super().__init__(modules)
        self.unsafe = unsafe
        first = modules[0]
        value = original
        with _no_grad():
            if hasattr(first, "right_inverse"):
                value = first.right_inverse(original)
        if isinstance(value, Tensor):
            self.is_tensor = True
            self.ntensors = 1
            self.original = Parameter(value.detach().clone(), requires_grad=original.requires_grad) \
                if isinstance(original, Parameter) else value
        else:
            self.is_tensor = False
            self.ntensors = len(value)
            for i, v in enumerate(value):
                setattr(self, f"original{i}", Parameter(v.detach().clone(), requires_grad=original.requires_grad))

    def right_inverse(self, value):
        """Stores ``value`` through the right inverses, last parametrization first."""
        with _no_grad():
            for m in reversed(list(self)):
                if not hasattr(m, "right_inverse"):
                    raise RuntimeError(f"parametrization {type(m).__name__} does not implement right_inverse.")
                value = m.right_inverse(value)
            if self.is_tensor:
                self.original.copy_(value)
            else:
                for i, v in enumerate(value):
                    getattr(self, f"original{i}").copy_(v)

    def forward(self):
        mods = list(self)
        x = mods[0](self.original) if self.is_tensor else mods[0](*[getattr(self, f"original{i}") for i in range(self.ntensors)])
        for m in mods[1:]:
            x = m(x)
        return x


def _no_grad():
    from ...autograd import no_grad

    return no_grad()


def _get(module, name):
    key = (id(module), name)
    if _cache_enabled and key in _cache:
        return _cache[key]
    value = module.parametrizations[name]()
    if _cache_enabled:
        _cache[key] = value
    return value


def _inject_class(module):
    cls = module.__class__
    param_cls = type(f"Parametrized{cls.__name__}", (cls,), {"_is_parametrized_class": True, "_orig_class": cls})
    object.__setattr__(module, "__class__", param_cls)


def register_parametrization(module, tensor_name, parametrization, *, unsafe=False):
    """register_parametrization(module, tensor_name, parametrization, *, unsafe=False) -> module."""
    if not isinstance(parametrization, Module):
        raise TypeError(f"parametrization must be an nn.Module, got {type(parametrization).__name__}")
    if is_parametrized(module, tensor_name):
        module.parametrizations[tensor_name].append(parametrization)
        return module
    if tensor_name not in module._parameters and tensor_name not in module._buffers:
        raise ValueError(f"Module '{module}' does not have a parameter, a buffer, or a parametrized element with name "
                         f"'{tensor_name}'")
    original = getattr(module, tensor_name)
    if not unsafe:
        with _no_grad():
            y = parametrization(original) if not hasattr(parametrization, "right_inverse") else \
                parametrization(*(lambda v: v if isinstance(v, (tuple, list)) else (v,))(parametrization.right_inverse(original)))
        if not isinstance(y, Tensor):
            raise ValueError(f"A parametrization must return a tensor. Got {type(y).__name__}.")
        if y.dtype != original.dtype:
            raise ValueError(f"Registering a parametrization may not change the dtype of the tensor, unless `unsafe` "
                             f"flag is enabled.\nunparametrized dtype: {original.dtype}\nparametrized dtype: {y.dtype}")
        if tuple(y.shape) != tuple(original.shape):
            raise ValueError(f"Registering a parametrization may not change the shape of the tensor, unless `unsafe` "
                             f"flag is enabled.\nunparametrized shape: {tuple(original.shape)}\nparametrized shape: "
                             f"{tuple(y.shape)}")
    plist = ParametrizationList([parametrization], original, unsafe)
    module._parameters.pop(tensor_name, None)
    module._buffers.pop(tensor_name, None)
    if not is_parametrized(module):
        _inject_class(module)
        module.parametrizations = ModuleDict()
    module.parametrizations[tensor_name] = plist

    def getter(self):
        return _get(self, tensor_name)

    def setter(self, value):
        self.parametrizations[tensor_name].right_inverse(value)

    setattr(module.__class__, tensor_name, property(getter, setter))
    return module


def is_parametrized(module, tensor_name=None):
    """is_parametrized(module, tensor_name=None) -> bool."""
    p = module._modules.get("parametrizations")
    if p is None or not isinstance(p, ModuleDict):
        return False
    return len(p._modules) > 0 if tensor_name is None else tensor_name in p._modules


def remove_parametrizations(module, tensor_name, leave_parametrized=True):
    """remove_parametrizations(module, tensor_name, leave_parametrized=True) -> module: makes the
    tensor a plain parameter again, holding its current parametrized value (or the original)."""
    if not is_parametrized(module, tensor_name):
        raise ValueError(f"Module {module} does not have a parametrization on {tensor_name}")
    plist = module.parametrizations[tensor_name]
    with _no_grad():
        if leave_parametrized:
            value = plist().detach().clone()
        elif plist.is_tensor:
            value = plist.original.detach().clone()
        else:
            raise ValueError("Cannot leave unparametrized (`leave_parametrized=False`) a tensor that is parametrized in "
                             "terms of a sequence of tensors.")
    delattr(module.__class__, tensor_name)
    del module.parametrizations._modules[tensor_name]
    module.register_parameter(tensor_name, Parameter(value))
    if not is_parametrized(module):
        del module._modules["parametrizations"]
        object.__setattr__(module, "__class__", module.__class__._orig_class)
    return module


def type_before_parametrizations(module):
    """The module's class before parametrizations were registered."""
    return module.__class__._orig_class if getattr(module.__class__, "_is_parametrized_class", False) else type(module)


__all__ = ["register_parametrization", "is_parametrized", "remove_parametrizations", "cached", "ParametrizationList",
           "type_before_parametrizations"]
