"""Plans of gather, index_select, scatter/scatter_add, index_add, index and index_put."""
from __future__ import annotations

import math

from ..geometry import LS, MAXT
from .core import (Launch, _count, _dim, _drop, _dtype, _lift, _nscalars, _roundup, _same_shape, make_meta,
                   make_params, op)


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


