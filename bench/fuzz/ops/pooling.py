"""nn.functional pooling: max_pool1d/2d, avg_pool2d (ceil_mode, padding, dilation,
count_include_pad, divisor_override, windows hanging over the edge, return_indices) and
adaptive pooling (output size 0, empty inputs)."""
from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st

from ..case import FLOATS, Call
from ..expect import R, Expect, Raises, Skip
from ..strategies import tensors
from . import OpSpec
from ._common import errstate, values


def _pool_out(n, k, s, p, d, ceil):
    room = n + 2 * p - d * (k - 1) - 1
    o = (-(-room // s) if ceil else room // s) + 1
    if ceil and (o - 1) * s >= n + p:
        o -= 1
    return o


@st.composite
def _pool_call(draw, name):
    nsp = 1 if name == "max_pool1d" else 2
    batch = draw(st.sampled_from([(), (1,), (2,)]))
    c = draw(st.integers(0 if draw(st.integers(0, 9)) == 0 else 1, 2))
    sp = tuple(draw(st.integers(0 if draw(st.integers(0, 19)) == 0 else 1, 6)) for _ in range(nsp))
    x = draw(tensors(kinds=FLOATS, shape=batch + (c,) + sp, profile="full" if "max" in name else "nonfinite"))

    def pair(lo, hi):
        v = tuple(draw(st.integers(lo, hi)) for _ in range(nsp))
        return v[0] if nsp == 1 or (v[0] == v[-1] and draw(st.booleans())) else v

    kw = {}
    k = pair(0 if draw(st.integers(0, 19)) == 0 else 1, 4)
    if draw(st.booleans()):
        kw["stride"] = pair(0 if draw(st.integers(0, 19)) == 0 else 1, 3)
    if draw(st.booleans()):
        kw["padding"] = pair(0, 2)
    if "max" in name and draw(st.booleans()):
        kw["dilation"] = pair(1, 2)
    if draw(st.booleans()):
        kw["ceil_mode"] = True
    if name == "avg_pool2d":
        if draw(st.booleans()):
            kw["count_include_pad"] = False
        if draw(st.integers(0, 4)) == 0:
            kw["divisor_override"] = draw(st.sampled_from([1, 3]))
    elif draw(st.integers(0, 3)) == 0:
        kw["return_indices"] = True
    return Call("F." + name, "F", name, (x, k), kw)


def _tup(v, n):
    return tuple(v) if isinstance(v, tuple) else (v,) * n


def _pool_ref(call):
    x, k = call.args
    kw = call.kwargs
    name = call.name
    nsp = 1 if name == "max_pool1d" else 2
    k = _tup(k, nsp)
    s = _tup(kw.get("stride", k), nsp)
    p = _tup(kw.get("padding", 0), nsp)
    d = _tup(kw.get("dilation", 1), nsp)
    ceil = kw.get("ceil_mode", False)
    if x.ndim not in (nsp + 1, nsp + 2) or 0 in x.shape[x.ndim - nsp - 1:]:
        raise Raises("RuntimeError", "ValueError", why=f"{name}: bad input shape {x.shape}")
    if min(k) <= 0 or min(s) <= 0 or min(d) <= 0:
        raise Raises("RuntimeError", "ValueError", why=f"{name}: kernel, stride and dilation must be positive")
    if any(pi > ki // 2 for pi, ki in zip(p, k)):
        raise Raises("RuntimeError", why=f"{name}: pad should be at most half of the kernel size")
    spatial = x.shape[-nsp:]
    out = [_pool_out(n, *a, ceil) for n, *a in zip(spatial, k, s, p, d)]
    if min(out) < 1:
        raise Raises("RuntimeError", why=f"{name}: output size {out} too small")
    v = values(x)
    lead = v.shape[:-nsp]
    plane = v.reshape((-1,) + spatial)
    vals = np.zeros((plane.shape[0],) + tuple(out))
    idx = np.zeros_like(vals, dtype=np.int64)
    for o in np.ndindex(*out):
        starts = [oi * si - pi for oi, si, pi in zip(o, s, p)]
        if name == "avg_pool2d":
            ends = [min(st_ + ki, n + pi) for st_, ki, n, pi in zip(starts, k, spatial, p)]
            pool = math.prod(e - b for b, e in zip(starts, ends))
            b2 = [max(b, 0) for b in starts]
            e2 = [min(e, n) for e, n in zip(ends, spatial)]
            if any(b >= e for b, e in zip(b2, e2)):
                vals[(slice(None),) + o] = 0.0
                continue
            win = plane[(slice(None),) + tuple(slice(b, e) for b, e in zip(b2, e2))]
            div = kw.get("divisor_override") or (pool if kw.get("count_include_pad", True) else
                                                 math.prod(e - b for b, e in zip(b2, e2)))
            with errstate():
                vals[(slice(None),) + o] = win.reshape(win.shape[0], math.prod(win.shape[1:])).sum(axis=1) / div
            continue
        positions = [[b + j * di for j in range(ki)] for b, ki, di in zip(starts, k, d)]
        best = np.full(plane.shape[0], -np.inf)
        best_i = np.full(plane.shape[0], -1, dtype=np.int64)
        for pos in np.ndindex(*k):
            q = [positions[a][pos[a]] for a in range(nsp)]
            if any(qq < 0 or qq >= n for qq, n in zip(q, spatial)):
                continue
            cand = plane[(slice(None),) + tuple(q)]
            flat = int(np.ravel_multi_index(q, spatial))
            take = (cand > best) | (np.isnan(cand) & ~np.isnan(best))
            best = np.where(take, cand, best)
            best_i = np.where(take, flat, best_i)
        vals[(slice(None),) + o] = best
        idx[(slice(None),) + o] = best_i
    r = R(vals.reshape(lead + tuple(out)), x.dtype, ulps=8,
          scale=np.abs(vals).reshape(lead + tuple(out)) * 4 if name == "avg_pool2d" else 0.0)
    if kw.get("return_indices"):
        if (idx < 0).any():
            raise Skip("a window of padding only has no meaningful index")
        return Expect((r, _flat_indices(vals.reshape(lead + tuple(out)), v, nsp)))
    return Expect(r)


def _flat_indices(want, v, nsp):
    """Expected pooling indices: positions in each flattened input plane that hold ``want``
    (checked by what they pick, so ties may go either way)."""
    src = v.reshape(v.shape[:v.ndim - nsp] + (math.prod(v.shape[v.ndim - nsp:]),))
    return R(want, "int64", indices_of=(src, src.ndim - 1))


@st.composite
def _adaptive_call(draw, name):
    batch = draw(st.sampled_from([(), (1,), (2,)]))
    c = draw(st.integers(1, 2))
    sp = tuple(draw(st.integers(0 if draw(st.integers(0, 19)) == 0 else 1, 6)) for _ in range(2))
    x = draw(tensors(kinds=FLOATS, shape=batch + (c,) + sp, profile="full" if "max" in name else "nonfinite"))
    o = tuple(draw(st.integers(0 if draw(st.integers(0, 9)) == 0 else 1, 4)) for _ in range(2))
    out = o[0] if o[0] == o[1] and draw(st.booleans()) else o
    kw = {"return_indices": True} if "max" in name and draw(st.integers(0, 3)) == 0 else {}
    return Call("F." + name, "F", name, (x, out), kw)


def _adaptive_ref(call):
    x, o = call.args
    o = _tup(o, 2)
    if x.ndim not in (3, 4) or 0 in x.shape[x.ndim - 3:]:
        raise Raises("RuntimeError", "ValueError", why=f"{call.name}: bad input shape {x.shape}")
    if min(o) < 0:
        raise Raises("RuntimeError", why="negative output size")
    v = values(x)
    lead, spatial = v.shape[:-2], v.shape[-2:]
    plane = v.reshape((-1,) + spatial)
    vals = np.zeros((plane.shape[0],) + o)
    for a, b in np.ndindex(*o):
        h0, h1 = (a * spatial[0]) // o[0], -(-((a + 1) * spatial[0]) // o[0])
        w0, w1 = (b * spatial[1]) // o[1], -(-((b + 1) * spatial[1]) // o[1])
        win = plane[:, h0:h1, w0:w1].reshape(plane.shape[0], (h1 - h0) * (w1 - w0))
        with errstate():
            if "avg" in call.name:
                vals[:, a, b] = win.mean(axis=1)
            else:
                vals[:, a, b] = np.max(win, axis=1)
    r = R(vals.reshape(lead + o), x.dtype, ulps=8, scale=np.abs(vals).reshape(lead + o) * 4)
    if call.kwargs.get("return_indices"):
        return Expect((r, _flat_indices(vals.reshape(lead + o), v, 2)))
    return Expect(r)


OPS = [
    OpSpec("F.max_pool1d", _pool_call("max_pool1d"), _pool_ref, "functional"),
    OpSpec("F.max_pool2d", _pool_call("max_pool2d"), _pool_ref, "functional"),
    OpSpec("F.avg_pool2d", _pool_call("avg_pool2d"), _pool_ref, "functional"),
    OpSpec("F.adaptive_avg_pool2d", _adaptive_call("adaptive_avg_pool2d"), _adaptive_ref, "functional"),
    OpSpec("F.adaptive_max_pool2d", _adaptive_call("adaptive_max_pool2d"), _adaptive_ref, "functional"),
]
