"""What every op plan shares: operands parsed from ``ds_tensor_desc``, dimension coalescing into
MetaN blocks, parameter blocks, fill values converted on the host, the :class:`Launch` helpers
over a runtime, the argument checks, and the op registry.
"""
from __future__ import annotations

import math
import struct

import cffi

from ..dtypes import D, DTYPES
from ..geometry import LS, MAXD, MAXT, PARAM_SIZES, meta_longs

ffi = cffi.FFI()  # int64 blocks and pointer casts only; drivers take them as untyped memory

_UT_KIND = {1: "uchar", 2: "ushort", 4: "uint", 8: "ulong"}
_UINTPTR = ffi.typeof("uintptr_t")
_META = {}  # number of longs -> the cffi array type


def _longs(values):
    n = len(values)
    t = _META.get(n)
    if t is None:
        t = _META[n] = ffi.typeof(f"int64_t[{n}]")
    return ffi.new(t, values)


class Tensor:
    __slots__ = ("mem", "dtype", "shape", "strides", "offset")

    def __init__(self, mem, dtype, shape, strides, offset):
        self.mem, self.dtype, self.shape, self.strides, self.offset = mem, dtype, tuple(shape), tuple(strides), offset

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def numel(self):
        return math.prod(self.shape)

    def view(self, shape=None, strides=None, offset=None):
        return Tensor(self.mem, self.dtype, self.shape if shape is None else shape,
                      self.strides if strides is None else strides, self.offset if offset is None else offset)

    def __repr__(self):
        return f"{self.dtype}{list(self.shape)}"


def parse(desc) -> Tensor:
    if not 0 <= desc.dtype < len(DTYPES):
        raise ValueError(f"unknown dtype code {desc.dtype}")
    n = desc.ndim
    if n < 0:
        raise ValueError(f"negative ndim {n}")
    shape = tuple(desc.shape[i] for i in range(n))
    strides = tuple(desc.strides[i] for i in range(n))
    if any(s < 0 for s in shape):
        raise ValueError(f"negative size in shape {shape}")
    return Tensor(int(ffi.cast(_UINTPTR, desc.ptr)), DTYPES[desc.dtype], shape, strides, desc.offset)


def _roundup(n, m=LS):
    return (n + m - 1) // m * m


def coalesce(shape, strides_list):
    """Drops size-1 dims and merges adjacent dims that are contiguous in every tensor."""
    dims = []
    for d, s in enumerate(shape):
        if s == 1:
            continue
        st = [sl[d] for sl in strides_list]
        if dims and all(po == c * s for po, c in zip(dims[-1][1], st)):
            dims[-1] = (dims[-1][0] * s, st)
        else:
            dims.append((s, st))
    return [s for s, _ in dims], [[st[t] for _, st in dims] for t in range(len(strides_list))]


def make_meta(shape, strides_list, offsets):
    sh, sts = coalesce(shape, strides_list)
    if len(sh) > MAXD:
        raise NotImplementedError(f"more than {MAXD} non-mergeable dims")
    if len(strides_list) > MAXT:
        raise NotImplementedError(f"more than {MAXT} tensors in one kernel")
    nt = len(strides_list)
    arr = [0] * meta_longs(nt)
    arr[:len(sh)] = sh
    for t, st in enumerate(sts):
        arr[MAXD + t * MAXD: MAXD + t * MAXD + len(st)] = st
    for t, off in enumerate(offsets):
        arr[MAXD + nt * MAXD + t] = off
    arr[MAXD + nt * MAXD + nt] = len(sh)
    return _longs(arr)


def make_params(values):
    """The smallest P8/P16/P32 block holding ``values`` (the kernel declares which)."""
    size = next((n for n in PARAM_SIZES if n >= len(values)), None)
    if size is None:
        raise NotImplementedError("too many kernel parameters")
    return _longs(list(values) + [0] * (size - len(values)))


# --- scalar conversions done on the host (fill values) ------------------------------------

def _bf16_bits_of_float32_bits(u: int) -> int:
    if (u & 0x7FFFFFFF) > 0x7F800000:
        return ((u >> 16) | 0x40) & 0xFFFF
    u = (u + 0x7FFF + ((u >> 16) & 1)) & 0xFFFFFFFF
    return u >> 16


def fill_bits(dtype: str, value) -> int:
    """The stored bits of ``value`` converted to ``dtype`` as the CPU core converts it."""
    dt = D[dtype]
    if dt.kind == "b":
        return int(value != 0)
    if dt.kind in "ui":
        if isinstance(value, float):
            if math.isnan(value):
                v = 0
            elif math.isinf(value):
                v = (1 << 63) * (1 if value > 0 else -1)
            else:
                v = int(value)  # truncates toward zero
            lo, hi = (0, (1 << (8 * dt.size)) - 1) if dt.kind == "u" else \
                (-(1 << (8 * dt.size - 1)), (1 << (8 * dt.size - 1)) - 1)
            v = min(max(v, lo), hi)  # saturating, like Rust's `as`
        else:
            v = int(value)
        return v & ((1 << (8 * dt.size)) - 1)
    x = float(value)
    if dtype == "float64":
        return struct.unpack("<Q", struct.pack("<d", x))[0]
    if dtype == "float32":
        return struct.unpack("<I", struct.pack("<f", _to_f32(x)))[0]
    if dtype == "float16":
        import numpy as np
        return int(np.array(x, dtype=np.float64).astype(np.float16).view(np.uint16))
    # bfloat16: round to odd into float32, then to nearest even
    if math.isnan(x):
        return _bf16_bits_of_float32_bits(0x7FC00000 | (0x80000000 if math.copysign(1, x) < 0 else 0))
    f = _f32_rtz(x)
    u = struct.unpack("<I", struct.pack("<f", f))[0]
    if f != x and not math.isinf(f):
        u |= 1
    return _bf16_bits_of_float32_bits(u)


def _to_f32(x: float) -> float:
    try:
        return struct.unpack("<f", struct.pack("<f", x))[0]
    except OverflowError:
        # beyond the float32 range: rounds to infinity unless it is below the rounding midpoint
        f = _f32_rtz(x)
        return f if abs(x) < 3.4028235677973366e38 else math.copysign(math.inf, x)


def _f32_rtz(x: float) -> float:
    if math.isinf(x):
        return x
    if abs(x) >= 3.4028234663852886e38:
        return math.copysign(3.4028234663852886e38, x)
    f = struct.unpack("<f", struct.pack("<f", x))[0]
    if abs(f) > abs(x):  # rounded away from zero: step back one ulp
        u = struct.unpack("<I", struct.pack("<f", f))[0] - 1
        f = struct.unpack("<f", struct.pack("<I", u))[0]
    return f


# --- launching ----------------------------------------------------------------------------

class Launch:
    """One call of ``launch``: the runtime, the queue, and helpers for the ops."""

    def __init__(self, rt, queue, op, tensors, scalars):
        self.rt, self.q, self.op, self.t, self.s = rt, queue, op, tensors, scalars

    def run(self, dtype, name, args, gsize, lsize):
        self.rt.run(self.q, dtype, name, args, gsize, lsize)

    def ew(self, dtype, name, tensors, shape, extra=()):
        n = math.prod(shape)
        if n == 0:
            return
        m = make_meta(shape, [t.strides for t in tensors], [t.offset for t in tensors])
        args = [("mem", t.mem) for t in tensors] + [("bytes", m), ("long", n)] + list(extra)
        self.run(dtype, name, args, (_roundup(n),), (LS,))

    def copy(self, out: Tensor, x: Tensor):
        """out[...] = x[...] (same shape), casting when the dtypes differ."""
        if out.numel == 0:
            return
        if out.mem == x.mem and out.offset == x.offset and out.strides == x.strides and out.dtype == x.dtype:
            return
        if out.dtype == x.dtype:
            self.ew(x.dtype, "k_copy", [out, x], out.shape)
        else:
            self.cast(out, x)

    def cast(self, out: Tensor, x: Tensor):
        self.need(x.dtype)
        self.need(out.dtype)
        self.ew(x.dtype, "k_cast", [out, x], out.shape, [("int", DTYPES.index(out.dtype))])

    def fill(self, out: Tensor, value):
        dt = D[out.dtype]
        self.need(out.dtype)
        self.ew(out.dtype, "k_fill", [out], out.shape, [(_UT_KIND[dt.size], fill_bits(out.dtype, value))])

    def need(self, dtype):
        if not self.rt.supports(dtype):
            raise NotImplementedError(f"{dtype} needs {self.rt.fp64_missing}, which this device lacks")


def _count(ts, n, what=""):
    if len(ts) != n:
        raise ValueError(f"expects {n} tensors{what}, got {len(ts)}")


def _nscalars(s, n):
    if len(s) < n:
        raise ValueError(f"expects {n} scalars, got {len(s)}")


def _same_shape(*ts):
    for t in ts[1:]:
        if t.shape != ts[0].shape:
            raise ValueError(f"shapes differ: {ts[0].shape} vs {t.shape}")


def _out_like_input(L):
    """``(out, x)`` of a one-input op with one attribute, out of x's shape and dtype."""
    _count(L.t, 2)
    _nscalars(L.s, 1)
    out, x = L.t
    _same_shape(out, x)
    if out.dtype != x.dtype:
        raise ValueError(f"out dtype {out.dtype} differs from input dtype {x.dtype}")
    return out, x


def _dtype(t, *allowed):
    if t.dtype not in allowed:
        raise ValueError(f"dtype {t.dtype} is not one of {', '.join(allowed)}")


def _dim(d, ndim):
    if not isinstance(d, int) or isinstance(d, bool):
        raise ValueError(f"dim must be an int, got {d!r}")
    n = max(ndim, 1)
    if not -n <= d < n:
        raise IndexError(f"dim {d} out of range for {ndim} dims")
    return d % n


def _lift(*ts):
    """0-dim tensors as 1-d tensors of one element (for ops along a dim)."""
    return [t.view((1,), (0,)) if t.ndim == 0 else t for t in ts]


def _drop(shape, dim):
    return tuple(1 if i == dim else s for i, s in enumerate(shape))


OPS = {}


def op(*names):
    def deco(fn):
        for n in names:
            OPS[n] = fn
        return fn
    return deco



def check_bounds(rt, t: Tensor) -> None:
    """Raises ValueError unless every element of ``t`` lies inside its buffer."""
    n = t.numel
    if n == 0:
        return
    if t.mem == 0:
        raise ValueError(f"NULL buffer for a tensor of {n} elements")
    lo = hi = t.offset
    for s, st in zip(t.shape, t.strides):
        if st < 0:
            lo += (s - 1) * st
        else:
            hi += (s - 1) * st
    size = rt.buffer_size(t.mem)
    item = D[t.dtype].size
    if lo < 0 or (hi + 1) * item > size:
        raise ValueError(f"{t.dtype}{list(t.shape)} with strides {list(t.strides)} and offset {t.offset} "
                         f"reaches elements {lo}..{hi} of a {size}-byte buffer")


def launch(rt, queue, op_name, descs, scalars) -> None:
    """Runs ``op_name`` on ``ds_tensor_desc`` operands: the table's ``launch``."""
    if op_name not in OPS:
        raise NotImplementedError(f"op {op_name} is not implemented by {rt.package}")
    run(rt, queue, op_name, [parse(d) for d in descs], scalars)


def run(rt, queue, op_name, ts, scalars) -> None:
    """Runs ``op_name`` on :class:`Tensor` operands; errors name the op and the operands."""
    fn = OPS.get(op_name)
    if fn is None:
        raise NotImplementedError(f"op {op_name} is not implemented by {rt.package}")
    try:
        for t in ts:
            check_bounds(rt, t)
        fn(Launch(rt, queue, op_name, ts, list(scalars)))
    except Exception as exc:  # noqa: BLE001 - name the op and its operands, keep the status class
        cls = next((c for c in (MemoryError, NotImplementedError, IndexError, ValueError) if isinstance(exc, c)),
                   RuntimeError)
        raise cls(f"{rt.name} {op_name}({', '.join(map(repr, ts))}; scalars={list(scalars)}): {exc}") from exc


