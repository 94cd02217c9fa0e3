"""dtypes, devices and Size: the small value types of the tensor API."""
from __future__ import annotations


class dtype:
    """A tensor element type, e.g. ``deepseek.float32``."""

    __slots__ = ("name", "itemsize", "is_floating_point", "is_signed", "is_complex")

    def __init__(self, name: str, itemsize: int, is_floating_point: bool, is_signed: bool, is_complex: bool = False):
        self.name = name
        self.itemsize = itemsize
        self.is_floating_point = is_floating_point
        self.is_signed = is_signed
        self.is_complex = is_complex

    def __repr__(self) -> str:
        return f"deepseek.{self.name}"

    def __reduce__(self):
        return (_by_name, (self.name,))

    def to_real(self):
        """The dtype of one component: float32 for complex64, float64 for complex128."""
        return _REAL.get(self.name, self)

    def to_complex(self):
        """The complex dtype with components of this dtype (complex128 for float64, else
        complex64: there is no complex32)."""
        return complex128 if self.name in ("float64", "complex128") else complex64

    @property
    def bits(self) -> int:
        return self.itemsize * 8


bool_ = dtype("bool", 1, False, False)
uint8 = dtype("uint8", 1, False, False)
int8 = dtype("int8", 1, False, True)
int16 = dtype("int16", 2, False, True)
int32 = dtype("int32", 4, False, True)
int64 = dtype("int64", 8, False, True)
float16 = dtype("float16", 2, True, True)
bfloat16 = dtype("bfloat16", 2, True, True)
float32 = dtype("float32", 4, True, True)
float64 = dtype("float64", 8, True, True)
# interleaved (real, imaginary) pairs, as NumPy stores them
complex64 = dtype("complex64", 8, False, True, True)
complex128 = dtype("complex128", 16, False, True, True)
_REAL = {"complex64": float32, "complex128": float64}

DTYPES = {d.name: d for d in (bool_, uint8, int8, int16, int32, int64, float16, bfloat16, float32, float64, complex64, complex128)}
ALIASES = {
    "half": float16, "float": float32, "double": float64, "long": int64, "int": int32,
    "short": int16, "bool": bool_, "cfloat": complex64, "cdouble": complex128,
}


def _by_name(name: str) -> dtype:
    return DTYPES[name]


_default_dtype = float32


def get_default_dtype() -> dtype:
    """The float dtype used for Python floats and by factory functions (float32)."""
    return _default_dtype


def set_default_dtype(d: dtype) -> None:
    """Sets the default floating-point dtype (float32 or float64)."""
    global _default_dtype
    d = to_dtype(d)
    if not d.is_floating_point:
        raise TypeError(f"only floating-point types are supported as the default type, got {d}")
    _default_dtype = d


def to_dtype(d) -> dtype:
    """Accepts a deepseek dtype, a NumPy dtype, a Python type or a name."""
    if isinstance(d, dtype):
        return d
    if d is None:
        return _default_dtype
    if d is float:
        return float64
    if d is int:
        return int64
    if d is bool:
        return bool_
    if d is complex:
        return complex128
    if isinstance(d, str):
        if d in DTYPES:
            return DTYPES[d]
        if d in ALIASES:
            return ALIASES[d]
        raise TypeError(f"unknown dtype '{d}'")
    try:
        import numpy as np

        name = np.dtype(d).name
        if name in DTYPES:
            return DTYPES[name]
    except TypeError:
        pass
    raise TypeError(f"dtype must be a deepseek.dtype, got {d!r}")


class device:
    """Where a tensor lives: ``deepseek.device("cpu")``."""

    __slots__ = ("type", "index")

    def __init__(self, type="cpu", index=None):
        if isinstance(type, device):
            self.type, self.index = type.type, type.index
            return
        if not isinstance(type, str):
            raise TypeError(f"device() expected a string, got {type!r}")
        if ":" in type:
            type, idx = type.split(":", 1)
            try:
                index = int(idx)
            except ValueError:
                raise RuntimeError(f"Invalid device string: '{type}:{idx}'") from None
        self.type = type
        self.index = index

    def __repr__(self):
        return f"device(type='{self.type}')" if self.index is None else f"device(type='{self.type}', index={self.index})"

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other):
        if isinstance(other, str):
            other = device(other)
        return isinstance(other, device) and (self.type, self.index or 0) == (other.type, other.index or 0)

    def __hash__(self):
        return hash((self.type, self.index or 0))


class Size(tuple):
    """The shape of a tensor: a tuple of ints."""

    def numel(self) -> int:
        n = 1
        for s in self:
            n *= s
        return n

    def __repr__(self):
        return f"deepseek.Size({list(self)})"

    def __getitem__(self, k):
        r = tuple.__getitem__(self, k)
        return Size(r) if isinstance(k, slice) else r
