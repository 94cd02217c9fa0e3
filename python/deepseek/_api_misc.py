"""Small parts of PyTorch's top-level surface: ``finfo``/``iinfo``, ``set_printoptions`` and the
legacy typed constructors (``deepseek.FloatTensor(2, 3)``, ``isinstance(x, deepseek.LongTensor)``).
"""
from __future__ import annotations

import numpy as np

from . import _format
from ._core import Tensor
from ._dtype import DTYPES, dtype as _dtype_cls, to_dtype

# ---------------- finfo / iinfo ----------------

_BF16 = dict(bits=16, eps=0.0078125, max=3.3895313892515355e38, min=-3.3895313892515355e38,
             tiny=1.1754943508222875e-38, resolution=0.01)


class finfo:
    """finfo(type=None): the numerical properties of a floating-point dtype (``bits``, ``eps``,
    ``max``, ``min``, ``tiny`` = ``smallest_normal``, ``resolution``, ``dtype``).

        >>> deepseek.finfo(deepseek.float16).max
        65504.0
    """

    def __init__(self, type=None):
        from ._dtype import get_default_dtype

        dt = get_default_dtype() if type is None else to_dtype(type)
        if not dt.is_floating_point:
            raise TypeError(f"finfo(): argument 'type' must be a floating point dtype, got {dt}")
        if dt.name == "bfloat16":
            v = _BF16
        else:
            f = np.finfo(dt.name)
            v = dict(bits=f.bits, eps=float(f.eps), max=float(f.max), min=float(f.min),
                     tiny=float(f.smallest_normal), resolution=float(f.resolution))
        self.bits = v["bits"]
        self.eps = v["eps"]
        self.max = v["max"]
        self.min = v["min"]
        self.tiny = self.smallest_normal = v["tiny"]
        self.resolution = v["resolution"]
        self.dtype = dt.name

    def __repr__(self):
        return (f"finfo(resolution={self.resolution}, min={self.min:g}, max={self.max:g}, eps={self.eps:g}, "
                f"smallest_normal={self.tiny:g}, tiny={self.tiny:g}, dtype={self.dtype})")


class iinfo:
    """iinfo(type): the numerical properties of an integer dtype (``bits``, ``max``, ``min``, ``dtype``)."""

    def __init__(self, type):
        dt = to_dtype(type)
        if dt.is_floating_point or dt.name == "bool":
            raise TypeError(f"iinfo(): argument 'type' must be an integer dtype, got {dt}")
        i = np.iinfo(dt.name)
        self.bits, self.max, self.min, self.dtype = i.bits, int(i.max), int(i.min), dt.name

    def __repr__(self):
        return f"iinfo(min={self.min}, max={self.max}, dtype={self.dtype})"


# ---------------- print options ----------------

_PRINT = {"precision": 4, "threshold": 1000, "edgeitems": 3, "linewidth": 80, "sci_mode": None}
_PROFILES = {"default": dict(precision=4, threshold=1000, edgeitems=3, linewidth=80),
             "short": dict(precision=2, threshold=1000, edgeitems=2, linewidth=80),
             "full": dict(precision=4, threshold=float("inf"), edgeitems=3, linewidth=80)}


def _fmt_floats(vals):
    """The float formatter with the current precision and sci_mode (PyTorch's rules)."""
    p, forced = _PRINT["precision"], _PRINT["sci_mode"]
    nz = np.abs(vals[np.isfinite(vals) & (vals != 0)])
    if nz.size == 0:
        return lambda v: _format._special(v) or f"{v:.0f}."
    int_mode = bool(np.all(nz == np.ceil(nz)))
    amax, amin = nz.max(), nz.min()
    sci = amax / amin > 1000.0 or amax > 1.0e8 or (not int_mode and amin < 1.0e-4)
    if forced is not None:
        sci = forced
    signed = vals[np.isfinite(vals) & (vals != 0)]
    spec = "{:.%de}" % p if sci else ("{:.0f}." if int_mode else "{:.%df}" % p)
    width = max(len(spec.format(v)) for v in signed)
    return lambda v: (_format._special(v) or spec.format(v)).rjust(width)


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None, profile=None, sci_mode=None):
    """set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None,
    profile=None, sci_mode=None): how tensors print. ``profile`` is 'default', 'short' or
    'full'; ``sci_mode`` True/False forces scientific notation on or off (None: automatic)."""
    if profile is not None:
        if profile not in _PROFILES:
            raise ValueError(f"set_printoptions: profile must be one of {sorted(_PROFILES)}, got {profile!r}")
        _PRINT.update(_PROFILES[profile])
    for k, v in (("precision", precision), ("threshold", threshold), ("edgeitems", edgeitems), ("linewidth", linewidth)):
        if v is not None:
            _PRINT[k] = v
    _PRINT["sci_mode"] = sci_mode
    _format._EDGE = int(_PRINT["edgeitems"])
    _format._THRESHOLD = _PRINT["threshold"]
    _format._fmt_floats = _fmt_floats


def get_printoptions():
    """get_printoptions() -> dict: the current print options."""
    return dict(_PRINT)


# ---------------- legacy typed constructors ----------------

class _LegacyMeta(type):
    def __instancecheck__(cls, obj):
        return isinstance(obj, Tensor) and obj._dtype == cls._dtype_name and obj._device == "cpu"


def _legacy(name, dtype_name):
    def __new__(cls, *args, device=None):
        from ._creation import empty, tensor

        if len(args) == 1 and not isinstance(args[0], int):
            data = args[0]
            if isinstance(data, Tensor):
                return data.to(DTYPES[dtype_name])
            return tensor(data, dtype=DTYPES[dtype_name], device=device)
        for a in args:
            if not isinstance(a, int) or isinstance(a, bool):
                raise TypeError(f"{name}(): expected a sequence of ints as the size or a data sequence, "
                                f"got {type(a).__name__}")
        return empty(*args, dtype=DTYPES[dtype_name], device=device)

    return _LegacyMeta(name, (), {"__new__": __new__, "_dtype_name": dtype_name, "dtype": DTYPES[dtype_name],
                                  "__doc__": f"{name}(*size) / {name}(data): an uninitialized {dtype_name} tensor of "
                                             f"that size, or one built from data; isinstance checks the dtype."})


FloatTensor = _legacy("FloatTensor", "float32")
DoubleTensor = _legacy("DoubleTensor", "float64")
HalfTensor = _legacy("HalfTensor", "float16")
BFloat16Tensor = _legacy("BFloat16Tensor", "bfloat16")
LongTensor = _legacy("LongTensor", "int64")
IntTensor = _legacy("IntTensor", "int32")
ShortTensor = _legacy("ShortTensor", "int16")
CharTensor = _legacy("CharTensor", "int8")
ByteTensor = _legacy("ByteTensor", "uint8")
BoolTensor = _legacy("BoolTensor", "bool")

__all__ = ["finfo", "iinfo", "set_printoptions", "get_printoptions", "FloatTensor", "DoubleTensor", "HalfTensor",
           "BFloat16Tensor", "LongTensor", "IntTensor", "ShortTensor", "CharTensor", "ByteTensor", "BoolTensor"]
del _dtype_cls
