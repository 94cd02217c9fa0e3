"""Tensor memory seen as NumPy arrays without a copy, for handing to MPI (buffer protocol)."""
from __future__ import annotations

import numpy as np

# typed views for reductions; bfloat16 has no NumPy type and is reduced through float32
_TYPESTR = {"bool": "|b1", "uint8": "|u1", "int8": "|i1", "int16": "<i2", "int32": "<i4", "int64": "<i8",
            "float16": "<f2", "float32": "<f4", "float64": "<f8"}
_ITEMSIZE = {"bool": 1, "uint8": 1, "int8": 1, "int16": 2, "int32": 4, "int64": 8, "float16": 2, "bfloat16": 2,
             "float32": 4, "float64": 8}


class _Memory:
    """Holds the tensor whose memory a NumPy array shares, so the array keeps it alive."""

    __slots__ = ("__array_interface__", "_tensor")

    def __init__(self, t, typestr, n):
        self.__array_interface__ = {"data": (t.data_ptr(), False), "shape": (n,), "typestr": typestr, "version": 3}
        self._tensor = t


def dtype_name(t) -> str:
    return t._dtype


def raw_bytes(t) -> np.ndarray:
    """A 1-D ``uint8`` array over a contiguous CPU tensor's bytes (any dtype, bfloat16 too)."""
    n = t.numel() * _ITEMSIZE[t._dtype]
    return np.asarray(_Memory(t, "|u1", n)) if n else np.empty(0, np.uint8)


def typed(t) -> np.ndarray:
    """A flat NumPy array of the tensor's own dtype over a contiguous CPU tensor's memory."""
    n = t.numel()
    return np.asarray(_Memory(t, _TYPESTR[t._dtype], n)) if n else np.empty(0, _TYPESTR[t._dtype])
