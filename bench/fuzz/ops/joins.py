"""Joining and splitting: cat/concatenate/hstack/vstack (promotion across inputs, the legacy
empty 1-d tensor that cat skips, 0-d inputs), stack, chunk/split/tensor_split/unbind (the
count is checked before the dim, empty dims give as many chunks as asked)."""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from ..case import FLOATS, Call, T
from ..expect import R, Expect, Raises
from ..promotion import result_type
from ..strategies import dims, shapes, tensors
from . import OpSpec
from ._common import values, wrap_dim


def _exact(v, dtype):
    return R(v, dtype, ulps=0)


def _x(draw, **kw):
    return draw(tensors(**kw))


@st.composite
def _cat_call(draw, name):
    base = list(draw(shapes(min_dims=0 if name != "cat" else 0, max_dims=3)))
    n = draw(st.integers(0 if draw(st.integers(0, 9)) == 0 else 1, 3))
    ts = []
    d = draw(dims(max(len(base), 1) + (1 if name == "stack" else 0)))
    for _ in range(n):
        sh = list(base)
        if name in ("cat", "concat", "concatenate") and sh and -len(sh) <= d < len(sh):
            sh[d] = draw(st.integers(0, 3))
        k = draw(st.integers(0, 9))
        if k == 0:
            sh = [0]  # the legacy empty 1-d tensor cat skips
        elif k == 1 and sh:
            sh[-1] += 1  # a mismatch
        ts.append(draw(tensors(shape=tuple(sh))))
    if name in ("hstack", "vstack"):
        return Call(name, "fn", name, (ts,))
    return Call(name, "fn", name, (ts,), {"dim": d})


def _cat_values(ts, d, name):
    live = [t for t in ts if not (t.shape == (0,))]
    if not ts:
        raise Raises("RuntimeError", "ValueError", why=f"{name} of an empty list")
    ct = result_type(*ts)
    if not live:
        return R(np.zeros((0,)), ct)
    ref = live[0]
    if any(t.ndim == 0 for t in live):
        raise Raises("RuntimeError", why=f"{name} of a 0-d tensor")
    dd = wrap_dim(d, ref.ndim, name)
    for t in live:
        if t.ndim != ref.ndim or any(a != b for i, (a, b) in enumerate(zip(t.shape, ref.shape)) if i != dd):
            raise Raises("RuntimeError", why=f"{name}: sizes must match except in dim {dd}")
    v = np.concatenate([values(t, ct).astype(np.float64 if ct in FLOATS else object) for t in live], axis=dd)
    return R(v if ct in FLOATS else v.astype(np.float64 if ct in FLOATS else _np_of(ct)), ct, ulps=0)


def _np_of(dtype):
    return np.bool_ if dtype == "bool" else np.dtype(dtype)


def _cat_ref(call):
    ts = call.args[0]
    if call.name in ("hstack", "vstack"):
        if not ts:
            raise Raises("RuntimeError", "ValueError", why=f"{call.name} of an empty list")
        if call.name == "hstack":
            tt = [_atleast(t, 1) for t in ts]
            d = 0 if tt[0].ndim == 1 else 1  # PyTorch looks at the first tensor only
        else:
            tt = [_atleast(t, 2) for t in ts]
            d = 0
        return Expect(_cat_values(tt, d, call.name))
    return Expect(_cat_values(ts, call.kwargs.get("dim", 0), call.name))


def _atleast(t, n):
    if t.ndim >= n:
        return t
    v = values(t).reshape((1,) * (n - t.ndim) + tuple(t.shape)) if n == 2 and t.ndim == 1 else values(t).reshape(
        (1,) * (n - t.ndim))
    return T(v if t.dtype not in FLOATS else v.astype(np.float64), t.dtype, "contiguous", v.shape)


def _stack_ref(call):
    ts, d = call.args[0], call.kwargs.get("dim", 0)
    if not ts:
        raise Raises("RuntimeError", "ValueError", why="stack of an empty list")
    ref = ts[0]
    if not -ref.ndim - 1 <= d <= ref.ndim:
        raise Raises("IndexError", why="stack dim out of range")
    if any(t.shape != ref.shape for t in ts):
        raise Raises("RuntimeError", why="stack expects tensors of one size")
    ct = result_type(*ts)
    d = d % (ref.ndim + 1)
    v = np.stack([values(t, ct) for t in ts], axis=d)
    return Expect(R(v, ct, ulps=0))


# split / chunk / tensor_split / unbind ---------------------------------------------------------


@st.composite
def _split_call(draw, name):
    x = _x(draw)
    d = draw(dims(x.ndim))
    n = x.shape[d] if -x.ndim <= d < x.ndim and x.ndim else 1
    if name == "chunk":
        arg = draw(st.integers(-1, 5))
    elif name == "split":
        arg = draw(st.one_of(st.integers(0, n + 1), st.lists(st.integers(0, n), max_size=3)))
    elif name == "tensor_split":
        arg = draw(st.one_of(st.integers(0, 5), st.lists(st.integers(-n - 1, n + 1), max_size=3)))
    else:
        return Call(name, draw(st.sampled_from(("fn", "method"))), name, (x,), {"dim": d})
    return Call(name, draw(st.sampled_from(("fn", "method"))), name, (x, arg), {"dim": d})


def _pieces(v, d, bounds, dtype):
    return tuple(_exact(np.take(v, range(a, b), axis=d), dtype) for a, b in bounds)


def _split_ref(call):
    x = call.args[0]
    name = call.name
    if x.ndim == 0:
        raise Raises("RuntimeError", "IndexError", why=f"{name} of a 0-d tensor")
    # the count is checked before the dim
    if name == "chunk" and call.args[1] <= 0:
        raise Raises("RuntimeError", "ValueError", why="chunk expects chunks > 0")
    if name == "tensor_split" and isinstance(call.args[1], int) and call.args[1] <= 0:
        raise Raises("RuntimeError", why="tensor_split needs sections > 0")
    if name == "split" and isinstance(call.args[1], int) and call.args[1] < 0:
        raise Raises("RuntimeError", why="split size must be non-negative")
    d = wrap_dim(call.kwargs.get("dim", 0), x.ndim, name)
    n = x.shape[d]
    v = values(x)
    if name == "unbind":
        return Expect(tuple(_exact(np.take(v, i, axis=d), x.dtype) for i in range(n)))
    arg = call.args[1]
    if name == "chunk":
        if arg <= 0:
            raise Raises("RuntimeError", "ValueError", why="chunk expects chunks > 0")
        size = -(-n // arg)
        if size == 0:
            return Expect(tuple(_exact(np.take(v, [], axis=d), x.dtype) for _ in range(arg)))
        bounds = [(a, min(a + size, n)) for a in range(0, n, size)]
        return Expect(_pieces(v, d, bounds, x.dtype))
    if name == "split":
        if isinstance(arg, int):
            if arg == 0:
                if n:
                    raise Raises("RuntimeError", why="split size 0 of a non-empty dim")
                return Expect((_exact(v, x.dtype),))
            bounds = [(a, min(a + arg, n)) for a in range(0, n, arg)] or [(0, 0)]
            return Expect(_pieces(v, d, bounds, x.dtype))
        if sum(arg) != n:
            raise Raises("RuntimeError", "ValueError", why="split sizes must sum to the dim's size")
        bounds, a = [], 0
        for s in arg:
            bounds.append((a, a + s))
            a += s
        return Expect(_pieces(v, d, bounds, x.dtype))
    # tensor_split
    if isinstance(arg, int):
        if arg <= 0:
            raise Raises("RuntimeError", why="tensor_split needs sections > 0")
        q, r = divmod(n, arg)
        bounds, a = [], 0
        for i in range(arg):
            s = q + (1 if i < r else 0)
            bounds.append((a, a + s))
            a += s
        return Expect(_pieces(v, d, bounds, x.dtype))
    cuts = [min(max(c + n if c < 0 else c, 0), n) for c in arg]
    bounds, prev = [], 0
    for c in cuts + [n]:
        bounds.append((prev, max(prev, c)))
        prev = c
    return Expect(_pieces(v, d, bounds, x.dtype))


OPS = [
    OpSpec("cat", _cat_call("cat"), _cat_ref, "shape"),
    OpSpec("concatenate", _cat_call("concatenate"), _cat_ref, "shape"),
    OpSpec("hstack", _cat_call("hstack"), _cat_ref, "shape"),
    OpSpec("vstack", _cat_call("vstack"), _cat_ref, "shape"),
    OpSpec("stack", _cat_call("stack"), _stack_ref, "shape"),
    OpSpec("chunk", _split_call("chunk"), _split_ref, "shape"),
    OpSpec("split", _split_call("split"), _split_ref, "shape"),
    OpSpec("tensor_split", _split_call("tensor_split"), _split_ref, "shape"),
    OpSpec("unbind", _split_call("unbind"), _split_ref, "shape"),
]
