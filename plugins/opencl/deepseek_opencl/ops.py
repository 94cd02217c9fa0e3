"""The primitive ops of the kernel contract (docs/backends.md, section 6), on top of the
generated kernels: argument checks, dimension coalescing, views and launches.

Every launch is enqueued on the in-order queue of its stream and returns without waiting.
"""
from __future__ import annotations

import math
import os
import struct

from deepseek.backends import kernels
# LS: the work-group size of 1-d kernels (fixed: drivers such as PoCL compile per local size)
from deepseek.backends.kernels import LS, D, DTYPES, MAXD, MAXT, MD, MDW, MT, MW, PARAM_SIZES, meta_longs

from .cl import ffi

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
            raise NotImplementedError(f"{dtype} needs cl_khr_fp64, which this OpenCL device lacks")


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


@op(*kernels.UNARY, "logical_not")
def _unary(L: Launch):
    _count(L.t, 2)
    out, x = L.t
    _same_shape(out, x)
    if L.op == "logical_not":
        _dtype(out, "bool")
    else:
        if out.dtype != x.dtype:
            raise ValueError(f"out dtype {out.dtype} differs from input dtype {x.dtype}")
        if kernels.unary_expr(L.op, D[x.dtype]) is None:
            raise NotImplementedError(f"not defined for {x.dtype}")
    L.need(x.dtype)
    if L.op == "logical_not":
        L.ew(x.dtype, "k_logical_not", [out, x], out.shape)
    else:
        L.ew(x.dtype, "k_unary", [out, x], out.shape, [("int", kernels.UNARY.index(L.op))])


@op("polygamma")
def _polygamma(L: Launch):
    out, x = _out_like_input(L)
    if not D[x.dtype].is_float:
        raise NotImplementedError(f"not defined for {x.dtype}")
    n = int(L.s[0])
    if n < 1:
        raise ValueError(f"order n must be at least 1, got {n}")
    L.need(x.dtype)
    L.ew(x.dtype, "k_polygamma", [out, x], out.shape, [("long", n)])


@op(*kernels.BINARY, *kernels.LOGICAL, *kernels.COMPARE)
def _binary(L: Launch):
    _count(L.t, 3)
    out, a, b = L.t
    _same_shape(out, a, b)
    if a.dtype != b.dtype:
        raise ValueError(f"input dtypes differ: {a.dtype} vs {b.dtype}")
    if L.op in kernels.LOGICAL or L.op in kernels.COMPARE:
        _dtype(out, "bool")
    elif out.dtype != a.dtype:
        raise ValueError(f"out dtype {out.dtype} differs from input dtype {a.dtype}")
    if kernels.binary_expr(L.op, D[a.dtype]) is None:
        raise NotImplementedError(f"not defined for {a.dtype}")
    L.need(a.dtype)
    if L.op in kernels.PREDICATES:
        L.ew(a.dtype, "k_predicate", [out, a, b], out.shape, [("int", kernels.PREDICATES.index(L.op))])
    else:
        L.ew(a.dtype, "k_binary", [out, a, b], out.shape, [("int", kernels.BINARY.index(L.op))])


@op("where")
def _where(L: Launch):
    _count(L.t, 4)
    out, c, a, b = L.t
    _same_shape(out, c, a, b)
    _dtype(c, "bool")
    if not out.dtype == a.dtype == b.dtype:
        raise ValueError(f"dtypes differ: out {out.dtype}, a {a.dtype}, b {b.dtype}")
    L.need(a.dtype)
    L.ew(a.dtype, "k_where", [out, c, a, b], out.shape)


@op("cast")
def _cast(L: Launch):
    _count(L.t, 2)
    out, x = L.t
    _same_shape(out, x)
    L.cast(out, x)


@op("copy")
def _copy(L: Launch):
    _count(L.t, 2)
    out, x = L.t
    _same_shape(out, x)
    L.need(x.dtype)
    L.copy(out, x)


@op("fill")
def _fill(L: Launch):
    _count(L.t, 1)
    _nscalars(L.s, 1)
    L.fill(L.t[0], L.s[0])


@op("arange")
def _arange(L: Launch):
    _count(L.t, 1)
    _nscalars(L.s, 2)
    (out,) = L.t
    if out.ndim != 1:
        raise ValueError("out must be 1-d")
    L.need(out.dtype)
    n = out.shape[0]
    if n == 0:
        return
    start, step = L.s[:2]
    args = [("mem", out.mem), ("long", n), ("long", out.strides[0]), ("long", out.offset)]
    if D[out.dtype].is_float:
        fp = "double" if L.rt.fp64 else "float"
        L.run(out.dtype, "k_arange_f", args + [(fp, float(start)), (fp, float(step))], (_roundup(n),), (LS,))
    else:
        L.run(out.dtype, "k_arange_i", args + [("long", int(start)), ("long", int(step))], (_roundup(n),), (LS,))


@op("cat")
def _cat(L: Launch):
    if len(L.t) < 2:
        raise ValueError("expects out and at least one input")
    _nscalars(L.s, 1)
    out, xs = L.t[0], L.t[1:]
    if out.ndim == 0:
        raise ValueError("cannot concatenate 0-dim tensors")
    dim = _dim(L.s[0], out.ndim)
    pos = 0
    for x in xs:
        if x.ndim != out.ndim or any(x.shape[d] != out.shape[d] for d in range(out.ndim) if d != dim):
            raise ValueError(f"input {x.shape} does not fit out {out.shape} at dim {dim}")
        if x.dtype != out.dtype:
            raise ValueError(f"dtypes differ: out {out.dtype}, input {x.dtype}")
        pos += x.shape[dim]
    if pos != out.shape[dim]:
        raise ValueError(f"inputs sum to {pos} along dim {dim}, out has {out.shape[dim]}")
    L.need(out.dtype)
    pos = 0
    for x in xs:
        L.copy(out.view(x.shape, None, out.offset + pos * out.strides[dim]), x)
        pos += x.shape[dim]


@op("pad")
def _pad(L: Launch):
    _count(L.t, 2)
    out, x = L.t
    _nscalars(L.s, 1 + 2 * x.ndim)
    value, pads = L.s[0], [int(v) for v in L.s[1:1 + 2 * x.ndim]]
    if out.ndim != x.ndim or out.dtype != x.dtype:
        raise ValueError(f"out {out.dtype}{list(out.shape)} does not match x {x.dtype}{list(x.shape)}")
    if any(p < 0 for p in pads):
        raise ValueError(f"negative padding {pads}")
    for d in range(x.ndim):
        if out.shape[d] != x.shape[d] + pads[2 * d] + pads[2 * d + 1]:
            raise ValueError(f"out size {out.shape[d]} at dim {d} is not {x.shape[d]} + {pads[2 * d]} + {pads[2 * d + 1]}")
    L.fill(out, value)
    off = out.offset + sum(pads[2 * d] * out.strides[d] for d in range(x.ndim))
    L.copy(out.view(x.shape, None, off), x)


@op(*kernels.REDUCE)
def _reduce(L: Launch):
    _count(L.t, 2)
    out, x = L.t
    if out.ndim != x.ndim or out.dtype != x.dtype:
        raise ValueError(f"out {out.dtype}{list(out.shape)} does not match x {x.dtype}{list(x.shape)}")
    red = [d for d in range(x.ndim) if out.shape[d] == 1 and x.shape[d] != 1]
    if any(out.shape[d] != x.shape[d] for d in range(x.ndim) if d not in red):
        raise ValueError(f"out shape {out.shape} is not x shape {x.shape} with reduced dims of size 1")
    L.need(x.dtype)
    nout = out.numel
    if nout == 0:
        return
    ishape = [x.shape[d] for d in red]
    nred = math.prod(ishape)
    if nred == 0 and L.op in ("amax", "amin"):
        raise ValueError("reduction of an empty tensor has no identity")
    mo = make_meta(out.shape, [out.strides, x.strides], [out.offset, x.offset])
    mi = make_meta(ishape, [[x.strides[d] for d in red]], [0])
    opi = kernels.REDUCE.index(L.op)
    P = 1
    if nout < 1024 and nred >= 8192:
        P = max(1, min(nred // 2048, 4096 // nout))
    chunk = -(-nred // P) if nred else 0
    if chunk:
        P = -(-nred // chunk)
    part = L.rt.temp(nout * P * kernels.acc_size(D[x.dtype])) if P > 1 else 0
    try:
        args = [("mem", out.mem), ("mem", x.mem), ("mem", part), ("bytes", mo), ("bytes", mi), ("long", nout),
                ("long", nred), ("long", P), ("long", chunk), ("int", opi)]
        L.run(x.dtype, "k_red", args, (_roundup(nout * P),), (LS,))
        if P > 1:
            mf = make_meta(out.shape, [out.strides], [out.offset])
            L.run(x.dtype, "k_redf", [("mem", out.mem), ("mem", part), ("bytes", mf), ("long", nout), ("long", P),
                                      ("int", opi)], (_roundup(nout),), (LS,))
    finally:
        if part:
            L.rt.release(part)


@op("argmax", "argmin")
def _argreduce(L: Launch):
    _count(L.t, 2)
    _nscalars(L.s, 1)
    out, x = L.t
    _dtype(out, "int64")
    dim = _dim(L.s[0], x.ndim)
    out, x = _lift(out, x)
    if out.ndim != x.ndim or out.shape != _drop(x.shape, dim):
        raise ValueError(f"out shape {out.shape} is not x shape {x.shape} with size 1 at dim {dim}")
    L.need(x.dtype)
    nout = out.numel
    if nout == 0:
        return
    if x.shape[dim] == 0:
        raise ValueError("arg reduction over an empty dim")
    mo = make_meta(out.shape, [out.strides, x.strides], [out.offset, x.offset])
    L.run(x.dtype, "k_argreduce", [("mem", out.mem), ("mem", x.mem), ("bytes", mo), ("long", nout),
                                   ("long", x.shape[dim]), ("long", x.strides[dim]), ("int", int(L.op == "argmin"))],
          (_roundup(nout),), (LS,))


@op("cumsum", "cumprod")
def _cumulative(L: Launch):
    out, x = _out_like_input(L)
    dim = _dim(L.s[0], x.ndim)
    out, x = _lift(out, x)
    L.need(x.dtype)
    if x.numel == 0:
        return
    lines = _drop(x.shape, dim)
    n = math.prod(lines)
    mo = make_meta(lines, [out.strides, x.strides], [out.offset, x.offset])
    L.run(x.dtype, "k_cumulative", [("mem", out.mem), ("mem", x.mem), ("bytes", mo), ("long", n),
                                    ("long", x.shape[dim]), ("long", out.strides[dim]), ("long", x.strides[dim]),
                                    ("int", int(L.op == "cumprod"))], (_roundup(n),), (LS,))


@op("matmul")
def _matmul(L: Launch):
    _count(L.t, 3)
    out, a, b = L.t
    if not (out.ndim == a.ndim == b.ndim == 3):
        raise ValueError("expects 3-d out (B, M, N), a (B, M, K), b (B, K, N)")
    B, M, N = out.shape
    K = a.shape[2]
    if a.shape != (B, M, K) or b.shape != (B, K, N):
        raise ValueError(f"shapes do not chain: out {out.shape}, a {a.shape}, b {b.shape}")
    if not out.dtype == a.dtype == b.dtype:
        raise ValueError(f"dtypes differ: out {out.dtype}, a {a.dtype}, b {b.dtype}")
    if out.dtype == "bool":
        raise NotImplementedError("not defined for bool")
    L.need(a.dtype)
    _launch_matmul(L, out, a, b)


def _launch_matmul(L: Launch, out: Tensor, a: Tensor, b: Tensor):
    """out (B, M, N) = a (B, M, K) @ b (B, K, N), any strides."""
    if out.numel == 0:
        return
    B, M, N = out.shape
    K = a.shape[2]
    p = make_params([M, N, K, a.offset, *a.strides, b.offset, *b.strides, out.offset, *out.strides])
    args = [("mem", out.mem), ("mem", a.mem), ("mem", b.mem), ("bytes", p)]
    variant = os.environ.get("DEEPSEEK_OPENCL_MATMUL") or ("direct" if L.rt.is_cpu else "tiled")
    if variant == "direct":
        L.run(a.dtype, "k_matmul_direct", args, (_roundup(N, MDW), -(-M // MD), B), (MDW, 1, 1))
    else:
        L.run(a.dtype, "k_matmul", args, (-(-N // MT) * MW, -(-M // MT) * MW, B), (MW, MW, 1))


def _conv_params(L: Launch, y: Tensor, x: Tensor, w: Tensor):
    _nscalars(L.s, 7)
    sh, sw, ph, pw, dh, dw, G = (int(v) for v in L.s[:7])
    if not (y.ndim == x.ndim == w.ndim == 4):
        raise ValueError("expects 4-d tensors")
    if not y.dtype == x.dtype == w.dtype:
        raise ValueError(f"dtypes differ: {y.dtype}, {x.dtype}, {w.dtype}")
    N, C, H, W = x.shape
    O, Cg, KH, KW = w.shape
    if G < 1 or sh < 1 or sw < 1 or dh < 1 or dw < 1 or ph < 0 or pw < 0:
        raise ValueError(f"bad stride/padding/dilation/groups {tuple(L.s[:7])}")
    if C != Cg * G or O % G:
        raise ValueError(f"channels do not fit groups={G}: x {x.shape}, w {w.shape}")
    OH = (H + 2 * ph - dh * (KH - 1) - 1) // sh + 1
    OW = (W + 2 * pw - dw * (KW - 1) - 1) // sw + 1
    if y.shape != (N, O, OH, OW):
        raise ValueError(f"output shape {y.shape} is not {(N, O, OH, OW)}")
    if D[x.dtype].kind == "b":
        raise NotImplementedError("not defined for bool")
    L.need(x.dtype)
    return make_params([N, C, H, W, O, OH, OW, KH, KW, sh, sw, ph, pw, dh, dw, G, *y.strides, y.offset,
                        *x.strides, x.offset, *w.strides, w.offset])


CONV_SCRATCH = 64 << 20  # bytes of im2col columns per chunk of the batch


def _gemm_ok(L: Launch, y: Tensor, w: Tensor) -> bool:
    """Whether the conv runs as im2col + matmul: one group, a float dtype, output planes with
    one stride per position, and (C, KH, KW) of the weight in one stride (the usual layouts)."""
    mode = os.environ.get("DEEPSEEK_OPENCL_CONV", "")
    if mode == "direct" or int(L.s[6]) != 1 or not D[y.dtype].is_float or y.numel == 0 or w.numel == 0:
        return False
    _, _, OH, OW = y.shape
    _, _, KH, KW = w.shape
    planes = OH == 1 or OW == 1 or y.strides[2] == OW * y.strides[3]
    kernel = (KH == 1 or w.strides[2] == KW * w.strides[3]) and \
        (w.shape[1] == 1 or w.strides[1] == KH * KW * w.strides[3])
    return planes and kernel


def _plane_stride(t: Tensor) -> int:
    """The stride of the flattened (OH*OW) position of a (N, O, OH, OW) tensor with one-stride planes."""
    return t.strides[3] if t.shape[3] > 1 else t.strides[2]


def _conv_chunks(N, per_item):
    nb = max(1, min(N, CONV_SCRATCH // max(1, per_item)))
    return nb, [(n0, min(nb, N - n0)) for n0 in range(0, N, nb)]


@op("conv2d")
def _conv2d(L: Launch):
    _count(L.t, 3)
    y, x, w = L.t
    p = _conv_params(L, y, x, w)
    n = y.numel
    if _gemm_ok(L, y, w):
        N, O, OH, OW = y.shape
        PQ, Kc, item = OH * OW, w.shape[1] * w.shape[2] * w.shape[3], D[x.dtype].size
        nb, chunks = _conv_chunks(N, Kc * PQ * item)
        cols = L.rt.temp(nb * Kc * PQ * item)
        try:
            for n0, m in chunks:
                L.run(x.dtype, "k_im2col", [("mem", cols), ("mem", x.mem), ("bytes", p), ("long", n0), ("long", m),
                                            ("int", 0)], (_roundup(m * Kc * PQ),), (LS,))
                _launch_matmul(L, Tensor(y.mem, y.dtype, (m, O, PQ), (y.strides[0], y.strides[1], _plane_stride(y)),
                                         y.offset + n0 * y.strides[0]),
                               Tensor(w.mem, w.dtype, (m, O, Kc), (0, w.strides[0], w.strides[3]), w.offset),
                               Tensor(cols, x.dtype, (m, Kc, PQ), (Kc * PQ, PQ, 1), 0))
        finally:
            L.rt.release(cols)
        return
    if n:
        L.run(x.dtype, "k_conv2d", [("mem", y.mem), ("mem", x.mem), ("mem", w.mem), ("bytes", p)],
              (_roundup(n),), (LS,))


@op("conv2d_input_grad")
def _conv2d_input_grad(L: Launch):
    _count(L.t, 3)
    gx, gy, w = L.t
    p = _conv_params(L, gy, gx, w)
    n = gx.numel
    if _gemm_ok(L, gy, w) and n:
        N, O, OH, OW = gy.shape
        PQ, Kc, item = OH * OW, w.shape[1] * w.shape[2] * w.shape[3], D[gx.dtype].size
        nb, chunks = _conv_chunks(N, Kc * PQ * item)
        cols = L.rt.temp(nb * Kc * PQ * item)
        try:
            for n0, m in chunks:
                _launch_matmul(L, Tensor(cols, gx.dtype, (m, Kc, PQ), (Kc * PQ, PQ, 1), 0),
                               Tensor(w.mem, w.dtype, (m, Kc, O), (0, w.strides[3], w.strides[0]), w.offset),
                               Tensor(gy.mem, gy.dtype, (m, O, PQ), (gy.strides[0], gy.strides[1], _plane_stride(gy)),
                                      gy.offset + n0 * gy.strides[0]))
                L.run(gx.dtype, "k_col2im", [("mem", gx.mem), ("mem", cols), ("bytes", p), ("long", n0),
                                             ("long", m)], (_roundup(m * gx.numel // N),), (LS,))
        finally:
            L.rt.release(cols)
        return
    if n:
        L.run(gx.dtype, "k_conv2d_input_grad", [("mem", gx.mem), ("mem", gy.mem), ("mem", w.mem), ("bytes", p)],
              (_roundup(n),), (LS,))


@op("conv2d_weight_grad")
def _conv2d_weight_grad(L: Launch):
    _count(L.t, 3)
    gw, gy, x = L.t
    p = _conv_params(L, gy, x, gw)
    nw = gw.numel
    if nw == 0:
        return
    if _gemm_ok(L, gy, gw):
        _conv2d_weight_grad_gemm(L, gw, gy, x, p)
        return
    N = x.shape[0]
    dt = D[x.dtype]
    P = min(N, -(-4096 // nw)) if dt.is_float and nw < 4096 and N > 1 else 1
    part = L.rt.temp(nw * P * dt.ctsize) if P > 1 else 0
    try:
        L.run(x.dtype, "k_conv2d_weight_grad", [("mem", gw.mem), ("mem", gy.mem), ("mem", x.mem), ("bytes", p),
                                                ("mem", part), ("long", P)], (_roundup(nw * P),), (LS,))
        if P > 1:
            mf = make_meta(gw.shape, [gw.strides], [gw.offset])
            L.run(x.dtype, "k_redf", [("mem", gw.mem), ("mem", part), ("bytes", mf), ("long", nw), ("long", P),
                                      ("int", 0)], (_roundup(nw),), (LS,))
    finally:
        if part:
            L.rt.release(part)


def _conv2d_weight_grad_gemm(L: Launch, gw: Tensor, gy: Tensor, x: Tensor, p):
    """gw (O, C*KH*KW) = sum over the batch of gy_n (O, OH*OW) @ cols_n^T, one matmul per chunk
    of the batch with K = positions of the chunk; chunks after the first are added in."""
    N, O, OH, OW = gy.shape
    PQ, Kc, item = OH * OW, gw.shape[1] * gw.shape[2] * gw.shape[3], D[x.dtype].size
    nb, chunks = _conv_chunks(N, max(Kc, O) * PQ * item)
    cols = L.rt.temp(nb * PQ * Kc * item)
    g2 = L.rt.temp(O * nb * PQ * item)
    part = L.rt.temp(O * Kc * item) if len(chunks) > 1 else 0
    gw2 = Tensor(gw.mem, gw.dtype, (O, Kc), (gw.strides[0], gw.strides[3]), gw.offset)
    try:
        for i, (n0, m) in enumerate(chunks):
            L.run(x.dtype, "k_im2col", [("mem", cols), ("mem", x.mem), ("bytes", p), ("long", n0), ("long", m),
                                        ("int", 1)], (_roundup(m * Kc * PQ),), (LS,))
            g2t = Tensor(g2, gy.dtype, (O, m, PQ), (m * PQ, PQ, 1), 0)
            L.copy(g2t, Tensor(gy.mem, gy.dtype, (O, m, PQ), (gy.strides[1], gy.strides[0], _plane_stride(gy)),
                               gy.offset + n0 * gy.strides[0]))
            a = Tensor(g2, gy.dtype, (1, O, m * PQ), (0, m * PQ, 1), 0)
            b = Tensor(cols, x.dtype, (1, m * PQ, Kc), (0, Kc, 1), 0)
            if i == 0:
                _launch_matmul(L, Tensor(gw.mem, gw.dtype, (1, O, Kc), (0,) + gw2.strides, gw.offset), a, b)
            else:
                _launch_matmul(L, Tensor(part, gw.dtype, (1, O, Kc), (0, Kc, 1), 0), a, b)
                L.ew(gw.dtype, "k_binary", [gw2, gw2, Tensor(part, gw.dtype, (O, Kc), (Kc, 1), 0)], (O, Kc),
                     [("int", kernels.BINARY.index("add"))])
    finally:
        for buf in (cols, g2, part):
            if buf:
                L.rt.release(buf)


@op("gather")
def _gather(L: Launch):
    _count(L.t, 3)
    _nscalars(L.s, 1)
    out, x, idx = L.t
    _dtype(idx, "int64")
    dim = _dim(L.s[0], x.ndim)
    out, x, idx = _lift(out, x, idx)
    if not (out.ndim == x.ndim == idx.ndim) or out.shape != idx.shape or out.dtype != x.dtype:
        raise ValueError("out must have index's shape and x's dtype, index x's ndim")
    if any(idx.shape[d] > x.shape[d] for d in range(x.ndim) if d != dim):
        raise ValueError(f"index {idx.shape} is larger than x {x.shape} outside dim {dim}")
    L.need(x.dtype)
    xv = x.view(out.shape, tuple(0 if d == dim else s for d, s in enumerate(x.strides)))
    L.ew(x.dtype, "k_take", [out, xv, idx], out.shape, [("long", x.strides[dim]), ("long", x.shape[dim])])


@op("index_select")
def _index_select(L: Launch):
    _count(L.t, 3)
    _nscalars(L.s, 1)
    out, x, idx = L.t
    _dtype(idx, "int64")
    if idx.ndim > 1:
        raise ValueError("index must be 1-d")
    dim = _dim(L.s[0], x.ndim)
    out, x, idx = _lift(out, x, idx)
    if out.ndim != x.ndim or out.dtype != x.dtype or out.shape != tuple(
            idx.shape[0] if d == dim else s for d, s in enumerate(x.shape)):
        raise ValueError(f"out {out.shape} is not x {x.shape} with {idx.shape[0]} at dim {dim}")
    L.need(x.dtype)
    xv = x.view(out.shape, tuple(0 if d == dim else s for d, s in enumerate(x.strides)))
    iv = idx.view(out.shape, tuple(idx.strides[0] if d == dim else 0 for d in range(out.ndim)))
    L.ew(x.dtype, "k_take", [out, xv, iv], out.shape, [("long", x.strides[dim]), ("long", x.shape[dim])])


@op("scatter", "scatter_add")
def _scatter(L: Launch):
    _count(L.t, 4)
    _nscalars(L.s, 1)
    out, x, idx, src = L.t
    _dtype(idx, "int64")
    _same_shape(out, x)
    dim = _dim(L.s[0], x.ndim)
    out, x, idx, src = _lift(out, x, idx, src)
    if not (out.ndim == idx.ndim == src.ndim) or not out.dtype == x.dtype == src.dtype:
        raise ValueError("index and src must have x's ndim, src and out x's dtype")
    if any(idx.shape[d] > src.shape[d] for d in range(idx.ndim)) or \
            any(idx.shape[d] > out.shape[d] for d in range(idx.ndim) if d != dim):
        raise ValueError(f"index {idx.shape} is larger than src {src.shape} or x {x.shape}")
    L.need(x.dtype)
    L.copy(out, x)
    lines = _drop(idx.shape, dim)
    if idx.numel == 0:
        return
    L.ew(x.dtype, "k_scatter", [out, idx, src], lines,
         [("long", idx.shape[dim]), ("long", idx.strides[dim]), ("long", src.strides[dim]),
          ("long", out.strides[dim]), ("long", out.shape[dim]), ("int", int(L.op == "scatter_add"))])


@op("index_add")
def _index_add(L: Launch):
    _count(L.t, 4)
    _nscalars(L.s, 1)
    out, x, idx, src = L.t
    _dtype(idx, "int64")
    _same_shape(out, x)
    if idx.ndim > 1:
        raise ValueError("index must be 1-d")
    dim = _dim(L.s[0], x.ndim)
    out, x, idx, src = _lift(out, x, idx, src)
    if src.shape != tuple(idx.shape[0] if d == dim else s for d, s in enumerate(x.shape)) or \
            not out.dtype == x.dtype == src.dtype:
        raise ValueError(f"src {src.shape} is not x {x.shape} with {idx.shape[0]} at dim {dim}")
    L.need(x.dtype)
    L.copy(out, x)
    lines = _drop(x.shape, dim)
    if idx.shape[0] == 0:
        return
    iv = idx.view(lines, (0,) * len(lines))
    L.ew(x.dtype, "k_scatter", [out, iv, src], lines,
         [("long", idx.shape[0]), ("long", idx.strides[0]), ("long", src.strides[dim]),
          ("long", out.strides[dim]), ("long", out.shape[dim]), ("int", 1)])


@op("index")
def _index(L: Launch):
    if len(L.t) < 3:
        raise ValueError("expects out, x and at least one index tensor")
    out, x, ids = L.t[0], L.t[1], L.t[2:]
    k = len(ids)
    if k > x.ndim:
        raise ValueError(f"{k} index tensors for {x.ndim} dims")
    if k > MAXT - 2:
        raise NotImplementedError(f"more than {MAXT - 2} index tensors")
    for i in ids:
        _dtype(i, "int64")
    _same_shape(*ids)
    I = ids[0].shape
    if out.shape != I + x.shape[k:] or out.dtype != x.dtype:
        raise ValueError(f"out {out.dtype}{list(out.shape)} is not {x.dtype}{list(I + x.shape[k:])}")
    L.need(x.dtype)
    ni, rest = len(I), x.ndim - k
    xv = x.view(out.shape, (0,) * ni + x.strides[k:])
    ivs = [i.view(out.shape, i.strides + (0,) * rest) for i in ids]
    p = make_params(list(x.strides[:k]) + list(x.shape[:k]))
    L.ew(x.dtype, f"k_index{k}", [out, xv] + ivs, out.shape, [("bytes", p)])


@op("index_put")
def _index_put(L: Launch):
    if len(L.t) < 4:
        raise ValueError("expects out, x, values and at least one index tensor")
    _nscalars(L.s, 1)
    out, x, val, ids = L.t[0], L.t[1], L.t[2], L.t[3:]
    k = len(ids)
    _same_shape(out, x)
    if k > x.ndim:
        raise ValueError(f"{k} index tensors for {x.ndim} dims")
    if k > MAXT - 2:
        raise NotImplementedError(f"more than {MAXT - 2} index tensors")
    for i in ids:
        _dtype(i, "int64")
    _same_shape(*ids)
    I, R = ids[0].shape, x.shape[k:]
    if val.shape != I + R or not out.dtype == x.dtype == val.dtype:
        raise ValueError(f"values {val.dtype}{list(val.shape)} is not {x.dtype}{list(I + R)}")
    L.need(x.dtype)
    L.copy(out, x)
    nrest, nI = math.prod(R), math.prod(I)
    if nrest == 0 or nI == 0:
        return
    ni = len(I)
    mo = make_meta(R, [out.strides[k:], val.strides[ni:]], [out.offset, val.offset])
    mi = make_meta(I, [val.strides[:ni]] + [i.strides for i in ids], [0] + [i.offset for i in ids])
    p = make_params(list(out.strides[:k]) + list(out.shape[:k]))
    args = [("mem", out.mem), ("mem", val.mem)] + [("mem", i.mem) for i in ids] + \
        [("bytes", mo), ("bytes", mi), ("long", nrest), ("long", nI), ("bytes", p), ("int", int(bool(L.s[0])))]
    L.run(x.dtype, f"k_index_put{k}", args, (_roundup(nrest),), (LS,))


@op("sort", "topk")
def _sort(L: Launch):
    _count(L.t, 3)
    vo, io, x = L.t
    _dtype(io, "int64")
    if L.op == "sort":
        _nscalars(L.s, 2)
        dim, desc = L.s[0], bool(L.s[1])
        k = None
    else:
        _nscalars(L.s, 3)
        k, dim, desc = int(L.s[0]), L.s[1], bool(L.s[2])
    dim = _dim(dim, x.ndim)
    vo, io, x = _lift(vo, io, x)
    n = x.shape[dim]
    k = n if k is None else k
    if not 0 <= k <= n:
        raise ValueError(f"k ({k}) is larger than the size {n} of dim {dim}")
    want = tuple(k if d == dim else s for d, s in enumerate(x.shape))
    if vo.shape != want or io.shape != want or vo.dtype != x.dtype:
        raise ValueError(f"values/indices must be {x.dtype}/int64 of shape {want}")
    L.need(x.dtype)
    lines = _drop(x.shape, dim)
    nl = math.prod(lines)
    if nl * n == 0 or k == 0:
        return
    if n > kernels.SORT_RANK_MAX:
        _merge_sort(L, vo, io, x, dim, lines, nl, n, k, desc)
        return
    m = make_meta(lines, [vo.strides, io.strides, x.strides], [vo.offset, io.offset, x.offset])
    L.run(x.dtype, "k_sort", [("mem", vo.mem), ("mem", io.mem), ("mem", x.mem), ("bytes", m), ("long", nl),
                              ("long", n), ("long", vo.strides[dim]), ("long", io.strides[dim]),
                              ("long", x.strides[dim]), ("long", k), ("int", int(desc))], (_roundup(nl * n),), (LS,))


def _merge_sort(L: Launch, vo, io, x, dim, lines, nl, n, k, desc):
    dt = D[x.dtype]
    total = nl * n
    keys = [L.rt.temp(total * dt.ctsize) for _ in range(2)]
    idx = [L.rt.temp(total * 8) for _ in range(2)]
    try:
        mx = make_meta(lines, [x.strides], [x.offset])
        grid = ((_roundup(total),), (LS,))
        L.run(x.dtype, "k_sort_block", [("mem", keys[0]), ("mem", idx[0]), ("mem", x.mem), ("bytes", mx),
                                        ("long", nl), ("long", n), ("long", x.strides[dim]),
                                        ("long", kernels.SORT_BLOCK), ("int", int(desc))], *grid)
        cur, w = 0, kernels.SORT_BLOCK
        while w < n:
            L.run(x.dtype, "k_sort_merge", [("mem", keys[1 - cur]), ("mem", idx[1 - cur]), ("mem", keys[cur]),
                                            ("mem", idx[cur]), ("long", nl), ("long", n), ("long", w),
                                            ("int", int(desc))], *grid)
            cur, w = 1 - cur, 2 * w
        mo = make_meta(lines, [vo.strides, io.strides], [vo.offset, io.offset])
        L.run(x.dtype, "k_sort_final", [("mem", vo.mem), ("mem", io.mem), ("mem", keys[cur]), ("mem", idx[cur]),
                                        ("bytes", mo), ("long", nl), ("long", n), ("long", k),
                                        ("long", vo.strides[dim]), ("long", io.strides[dim])],
              (_roundup(nl * k),), (LS,))
    finally:
        for b in keys + idx:
            L.rt.release(b)


_U64 = (1 << 64) - 1


@op(*kernels.RANDOM)
def _random(L: Launch):
    if not L.rt.fp64:
        raise NotImplementedError("the random stream needs cl_khr_fp64 to match the CPU bit for bit")
    _count(L.t, 2 if L.op == "bernoulli" else 1)
    out = L.t[0]
    _nscalars(L.s, 4 if L.op == "randint" else 2)
    seed, off = int(L.s[0]) & _U64, int(L.s[1]) & _U64
    dt = D[out.dtype]
    if L.op in ("rand", "randn", "bernoulli") and not dt.is_float:
        raise NotImplementedError(f"not defined for {out.dtype}")
    n = out.numel
    rs = [("ulong", seed), ("ulong", off)]
    if L.op == "randperm":
        if out.ndim != 1:
            raise ValueError("out must be 1-d")
        if n:
            L.run(out.dtype, "k_randperm", [("mem", out.mem), ("long", n), ("long", out.strides[0]),
                                            ("long", out.offset)] + rs, (1,), (1,))
        return
    if n == 0:
        return
    if L.op == "rand":
        L.ew(out.dtype, "k_rand", [out], out.shape, rs + [("double", kernels.RAND_TOP[out.dtype])])
    elif L.op == "randn":
        m = make_meta(out.shape, [out.strides], [out.offset])
        pairs = (n + 1) // 2
        L.run(out.dtype, "k_randn", [("mem", out.mem), ("bytes", m), ("long", n)] + rs, (_roundup(pairs),), (LS,))
    elif L.op == "randint":
        low, high = int(L.s[2]), int(L.s[3])
        if high <= low:
            raise ValueError(f"randint expects low < high, got low={low} >= high={high}")
        L.ew(out.dtype, "k_randint", [out], out.shape, rs + [("long", low), ("ulong", (high - low) & _U64)])
    else:  # bernoulli
        p = L.t[1]
        _same_shape(out, p)
        if p.dtype != out.dtype:
            raise ValueError(f"p dtype {p.dtype} differs from out dtype {out.dtype}")
        L.ew(out.dtype, "k_bernoulli", [out, p], out.shape, rs)


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
        raise NotImplementedError(f"op {op_name} is not implemented by deepseek-opencl")
    run(rt, queue, op_name, [parse(d) for d in descs], scalars)


def run(rt, queue, op_name, ts, scalars) -> None:
    """Runs ``op_name`` on :class:`Tensor` operands; errors name the op and the operands."""
    fn = OPS.get(op_name)
    if fn is None:
        raise NotImplementedError(f"op {op_name} is not implemented by deepseek-opencl")
    try:
        for t in ts:
            check_bounds(rt, t)
        fn(Launch(rt, queue, op_name, ts, list(scalars)))
    except Exception as exc:  # noqa: BLE001 - name the op and its operands, keep the status class
        cls = next((c for c in (MemoryError, NotImplementedError, IndexError, ValueError) if isinstance(exc, c)),
                   RuntimeError)
        raise cls(f"opencl {op_name}({', '.join(map(repr, ts))}; scalars={list(scalars)}): {exc}") from exc


NATIVE = tuple(OPS)
