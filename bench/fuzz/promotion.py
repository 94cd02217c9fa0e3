"""PyTorch's dtype promotion, which differs from NumPy's (float16 + int64 is float16, a
0-d tensor or a Python scalar only lifts the category, uint8 + a Python int stays uint8)."""
from __future__ import annotations

from .case import FLOATS, INTS, T

_FLOAT_RANK = {"float16": 0, "bfloat16": 0, "float32": 1, "float64": 2}
_SIGNED = ("int8", "int16", "int32", "int64")


def category(dtype):
    """0 bool, 1 integer, 2 float."""
    return 0 if dtype == "bool" else 1 if dtype in INTS else 2


def promote_types(a, b):
    """``torch.promote_types`` for deepseek's dtypes."""
    if a is None:
        return b
    if b is None or a == b:
        return a
    if a == "bool":
        return b
    if b == "bool":
        return a
    fa, fb = a in FLOATS, b in FLOATS
    if fa and fb:
        if {a, b} == {"float16", "bfloat16"}:
            return "float32"
        return a if _FLOAT_RANK[a] >= _FLOAT_RANK[b] else b
    if fa:
        return a
    if fb:
        return b
    if "uint8" in (a, b):
        other = b if a == "uint8" else a
        return "int16" if other == "int8" else other
    return a if _SIGNED.index(a) >= _SIGNED.index(b) else b


def _combine(higher, lower):
    # at::native::combine_categories without complex types
    if higher is None:
        return lower
    if lower is None:
        return higher
    if higher in FLOATS:
        return higher
    if higher == "bool" or lower in FLOATS:
        return promote_types(higher, lower)
    return higher


def scalar_dtype(v):
    """The dtype a Python scalar takes part in promotion as (a float is the default dtype)."""
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int64"
    return "float32"


def result_type(*operands):
    """``torch.result_type`` over tensors (:class:`T`) and Python scalars: dimensioned
    tensors first, then 0-d tensors, then scalars, each only lifting the category."""
    dim = zero = wrapped = None
    for o in operands:
        if o is None:
            continue
        if isinstance(o, T):
            if o.ndim:
                dim = promote_types(dim, o.dtype)
            else:
                zero = promote_types(zero, o.dtype)
        else:
            wrapped = promote_types(wrapped, scalar_dtype(o))
    return _combine(dim, _combine(zero, wrapped))


def can_cast(src, dst):
    """``torch.can_cast``: no float to integer, nothing but bool to bool."""
    if src in FLOATS and dst not in FLOATS:
        return False
    if src != "bool" and dst == "bool":
        return False
    return True


def float_of(dtype):
    """The dtype a floating-point function gives for an input dtype (integers: float32)."""
    return dtype if dtype in FLOATS else "float32"
