"""Plans of the elementwise families: unary, polygamma, binary (arithmetic, compare, logical),
where, cast, copy, fill, arange, cat, pad, and the random ops."""
from __future__ import annotations

from ... import kernels
from ..dtypes import D
from ..geometry import LS
from .core import (Launch, _count, _dim, _dtype, _nscalars, _out_like_input, _roundup, _same_shape,
                   make_meta, op)


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



_U64 = (1 << 64) - 1


@op(*kernels.RANDOM)
def _random(L: Launch):
    if not L.rt.fp64:
        raise NotImplementedError(f"the random stream needs {L.rt.fp64_missing} to match the CPU bit for bit")
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

