"""Plans of the reductions (sum, prod, amax, amin; argmax, argmin), the scans (cumsum,
cumprod) and sort/topk (stable rank, or ranks in blocks then merge passes)."""
from __future__ import annotations

import math

from ... import kernels
from ..dtypes import D
from ..geometry import LS
from .core import (Launch, _count, _dim, _drop, _dtype, _lift, _nscalars, _out_like_input, _roundup,
                   make_meta, op)


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


