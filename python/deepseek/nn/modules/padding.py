"""Padding layers (``ReflectionPad1d`` ... ``ConstantPad3d``): thin modules over ``F.pad``."""
from __future__ import annotations

from .. import functional as F
from .module import Module

__all__ = [f"{k}Pad{n}d" for k in ("Reflection", "Replication", "Circular", "Zero", "Constant") for n in (1, 2, 3)]


def _pad_layer(name, n, mode, has_value=False):
    def __init__(self, padding, *args):
        Module.__init__(self)
        self.padding = tuple(padding) if isinstance(padding, (tuple, list)) else (padding,) * (2 * n)
        if len(self.padding) != 2 * n:
            raise ValueError(f"{name}: padding must be an int or a {2 * n}-tuple, got {padding}")
        self.value = float(args[0]) if has_value else 0.0

    def forward(self, x):
        if mode == "constant":
            return F.pad(x, list(self.padding), "constant", self.value)
        return F.pad(x, list(self.padding), mode)

    def extra_repr(self):
        return f"{self.padding}" + (f", value={self.value}" if has_value else "")

    doc = f"{name}(padding{', value' if has_value else ''}): {mode} padding of the last {n} dim(s)."
    return type(name, (Module,), {"__init__": __init__, "forward": forward, "extra_repr": extra_repr, "__doc__": doc})


for _n in (1, 2, 3):
    globals()[f"ReflectionPad{_n}d"] = _pad_layer(f"ReflectionPad{_n}d", _n, "reflect")
    globals()[f"ReplicationPad{_n}d"] = _pad_layer(f"ReplicationPad{_n}d", _n, "replicate")
    globals()[f"CircularPad{_n}d"] = _pad_layer(f"CircularPad{_n}d", _n, "circular")
    globals()[f"ZeroPad{_n}d"] = _pad_layer(f"ZeroPad{_n}d", _n, "constant")
    globals()[f"ConstantPad{_n}d"] = _pad_layer(f"ConstantPad{_n}d", _n, "constant", True)
