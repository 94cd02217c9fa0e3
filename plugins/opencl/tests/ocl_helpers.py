"""Host-side helpers for the kernel tests: upload NumPy arrays (or views of them, keeping their
strides and offset), launch an op, read results back."""
from __future__ import annotations

import numpy as np

NP = {"bool": np.bool_, "uint8": np.uint8, "int8": np.int8, "int16": np.int16, "int32": np.int32,
      "int64": np.int64, "float16": np.float16, "bfloat16": np.uint16, "float32": np.float32, "float64": np.float64}
FLOATS = ("float16", "bfloat16", "float32", "float64")
INTS = ("uint8", "int8", "int16", "int32", "int64")
ALL = ("bool",) + INTS + FLOATS
TOL = {"float16": 2e-3, "bfloat16": 1.6e-2, "float32": 2e-6, "float64": 1e-12}


def bf16_bits(x) -> np.ndarray:
    """float64 values to bfloat16 bits, rounding to nearest even (through float32)."""
    f = np.asarray(x, dtype=np.float32)
    u = f.view(np.uint32).astype(np.uint64)
    nan = np.isnan(f)
    r = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
    return np.where(nan, ((u >> 16) | 0x40).astype(np.uint16), r)


def bf16_value(bits) -> np.ndarray:
    return (np.asarray(bits, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)


def to_storage(values, dtype) -> np.ndarray:
    """Values (any array-like) stored as ``dtype`` (bfloat16 as uint16 bits)."""
    if dtype == "bfloat16":
        return bf16_bits(np.asarray(values, dtype=np.float64))
    return np.asarray(values).astype(NP[dtype])


def to_values(stored, dtype) -> np.ndarray:
    """Stored array to float64/int64/bool values for comparisons."""
    if dtype == "bfloat16":
        return bf16_value(stored).astype(np.float64)
    if dtype in FLOATS:
        return stored.astype(np.float64)
    return stored


class Tensor:
    def __init__(self, ptr, dtype, shape, strides, offset, base_len):
        self.ptr, self.dtype, self.shape, self.strides, self.offset, self.base_len = \
            ptr, dtype, tuple(shape), tuple(strides), offset, base_len

    @property
    def desc(self):
        return (self.ptr, self.dtype, self.shape, self.strides, self.offset)


class Dev:
    def __init__(self, be, device=0):
        self.be, self.device, self._bufs = be, device, []

    def close(self):
        for p in self._bufs:
            self.be.free(self.device, p)
        self._bufs.clear()

    def _alloc(self, nbytes):
        p = self.be.alloc(self.device, nbytes)
        if p:
            self._bufs.append(p)
        return p

    def put(self, base: np.ndarray, view: np.ndarray = None, dtype: str = None) -> Tensor:
        """Uploads ``base`` (contiguous) and describes ``view`` (a NumPy view of it, default the
        whole array) with its element strides and offset. Arrays hold storage values."""
        base = np.ascontiguousarray(base)
        dtype = dtype or next(k for k, v in NP.items() if v == base.dtype.type and k != "bfloat16")
        view = base if view is None else view
        item = base.itemsize
        start = view.__array_interface__["data"][0] - base.__array_interface__["data"][0]
        assert start % item == 0
        strides = tuple(s // item for s in view.strides)
        p = self._alloc(max(base.nbytes, 0))
        if base.nbytes:
            self.be.copy_from_host(self.device, p, base.tobytes())
        return Tensor(p, dtype, view.shape, strides, start // item, base.size)

    def value(self, values, dtype, view=None) -> Tensor:
        """Uploads ``values`` converted to ``dtype``; ``view(arr)`` picks a view of it."""
        base = to_storage(values, dtype)
        return self.put(base, None if view is None else view(base), dtype)

    def empty(self, shape, dtype, fill=None) -> Tensor:
        n = int(np.prod(shape, dtype=np.int64))
        base = np.zeros(n, dtype=NP[dtype]) if fill is None else to_storage(np.full(n, fill), dtype)
        return self.put(base.reshape(shape), dtype=dtype)

    def get(self, t: Tensor) -> np.ndarray:
        """The elements of ``t`` (any strides) as stored values, in its logical shape."""
        item = np.dtype(NP[t.dtype]).itemsize
        if t.base_len == 0:
            return np.zeros(t.shape, dtype=NP[t.dtype])
        raw = self.be.copy_to_host(self.device, t.ptr, t.base_len * item)
        base = np.frombuffer(raw, dtype=NP[t.dtype])
        return np.lib.stride_tricks.as_strided(base[t.offset:], shape=t.shape,
                                               strides=tuple(s * item for s in t.strides)).copy()

    def values(self, t: Tensor) -> np.ndarray:
        return to_values(self.get(t), t.dtype)

    def launch(self, op, tensors, scalars=()):
        """Launches ``op``; ``scalars`` are its attributes in the op table's order (a list
        attribute takes the rest; attributes an op ignores, such as randint's bounds for
        rand, may be left off and are sent as 0)."""
        from deepseek.backends.primitives import FAMILIES, OP_FAMILY

        vals, attrs = list(scalars), {}
        for i, (name, ty, _) in enumerate(FAMILIES[OP_FAMILY[op]]["attrs"]):
            if ty == "i64_list":
                attrs[name], vals = vals, []
            elif vals:
                attrs[name] = vals.pop(0)
            elif op in ("rand", "randn", "randperm", "bernoulli") and name in ("low", "high"):
                attrs[name] = 0
        self.be.launch(self.device, op, [t.desc for t in tensors], attrs)
