"""``ParameterDict``: a dict of parameters registered on its module (``ModuleList``,
``ModuleDict`` and ``ParameterList`` are in ``layers``)."""
from __future__ import annotations

from collections import OrderedDict

from ..parameter import Parameter
from .module import Module

__all__ = ["ParameterDict"]


class ParameterDict(Module):
    """ParameterDict(parameters=None): a dict of parameters registered on the module (plain
    tensors are wrapped in ``Parameter``)."""

    def __init__(self, parameters=None):
        super().__init__()
        if parameters is not None:
            self.update(parameters)

    def __getitem__(self, key):
        return self._parameters[key]

    def __setitem__(self, key, value):
        from ..._core import Tensor

        if isinstance(value, Tensor) and not isinstance(value, Parameter):
            value = Parameter(value)
        self.register_parameter(key, value)

    def __delitem__(self, key):
        del self._parameters[key]

    def __contains__(self, key):
        return key in self._parameters

    def __len__(self):
        return len(self._parameters)

    def __iter__(self):
        return iter(self._parameters)

    def keys(self):
        return self._parameters.keys()

    def values(self):
        return self._parameters.values()

    def items(self):
        return self._parameters.items()

    def get(self, key, default=None):
        return self._parameters.get(key, default)

    def pop(self, key):
        return self._parameters.pop(key)

    def clear(self):
        self._parameters.clear()

    def copy(self):
        return ParameterDict(OrderedDict(self._parameters))

    def setdefault(self, key, default=None):
        if key not in self._parameters:
            self[key] = default
        return self._parameters[key]

    def update(self, parameters):
        items = parameters.items() if hasattr(parameters, "items") else parameters
        for k, v in items:
            self[k] = v

    def extra_repr(self):
        return "\n".join(f"({k}): Parameter containing: [{type(v).__name__} of size {'x'.join(map(str, v.shape))}]"
                         for k, v in self._parameters.items())
