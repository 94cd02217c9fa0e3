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
