"""Factories: arange (PyTorch computes the size in double and the values in the
accumulation type, truncating arguments for integer dtypes), linspace, logspace, full,
zeros/ones, eye, tensor (dtype inference, integer overflow), *_like."""
from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st

from ..case import FINFO, FLOATS, INTS, Call, DType, iinfo
from ..expect import R, Expect, Raises, Skip
from ..strategies import tensors
from . import OpSpec
from .pointwise import checked_convert

NUMERIC = INTS + FLOATS


def _num(draw, ints_only=False):
    if ints_only or draw(st.booleans()):
        return draw(st.one_of(st.integers(-10, 10), st.sampled_from([2 ** 40, -2 ** 31, 300])))
    return draw(st.one_of(st.floats(-10, 10).map(lambda v: round(v, 2)), st.sampled_from(
        [0.1, -0.3, 0.5, float("nan"), float("inf"), 1e-3, 2.5])))


@st.composite
def _arange_call(draw):
    n = draw(st.integers(1, 3))
    args = tuple(_num(draw) for _ in range(n))
    kw = {"dtype": DType(draw(st.sampled_from(NUMERIC)))} if draw(st.booleans()) else {}
    return Call("arange", "fn", "arange", args, kw)


def _arange_ref(call):
    a = call.args
    start, end, step = (0, a[0], 1) if len(a) == 1 else (a[0], a[1], 1) if len(a) == 2 else a
    is_float = any(isinstance(v, float) for v in (start, end, step))
    dt = call.kwargs["dtype"].name if "dtype" in call.kwargs else ("float32" if is_float else "int64")
    if dt in INTS:
        # arguments become integers (truncated) before anything is checked
        for v in (start, end, step):
            if isinstance(v, float) and not math.isfinite(v):
                raise Raises("RuntimeError", why="arange: a non-finite argument for an integer dtype")
        xs, xe, xt = int(start), int(end), int(step)
    else:
        xs, xe, xt = float(start), float(end), float(step)
        if dt in ("float16", "bfloat16"):
            xs, xe, xt = (float(np.float32(v)) for v in (xs, xe, xt))
    if not (xt > 0 or xt < 0):
        raise Raises("RuntimeError", why="arange: step must be nonzero")
    if not (math.isfinite(float(xs)) and math.isfinite(float(xe))):
        raise Raises("RuntimeError", why="arange: unsupported range")
    if not ((xt > 0 and xe >= xs) or (xt < 0 and xe <= xs)):
        raise Raises("RuntimeError", why="arange: bounds inconsistent with the step's sign")
    if dt == "int64":
        # in int64 arithmetic: (end - start + step - sign(step)) / step, truncated
        sgn = 1 if xt > 0 else -1
        q = xe - xs + xt - sgn
        size = abs(q) // abs(xt) * (1 if (q >= 0) == (xt > 0) else -1)
    else:
        size = math.ceil((float(end) - float(start)) / float(step))
    if size < 0 or size > 10 ** 7:
        raise Raises("RuntimeError", why="arange: invalid size") if size < 0 or size > 2 ** 62 else \
            Skip("a huge arange")
    if dt in INTS:
        # start + step * i in the int64 accumulator (wrapping), then converted to the dtype
        with np.errstate(all="ignore"):
            r = np.int64(xs) + np.int64(xt) * np.arange(size, dtype=np.int64)
        return Expect(R(r, dt))
    kt = np.float32 if dt in ("float16", "bfloat16") else np.float64
    i = np.arange(size, dtype=np.float64)
    r = (kt(xs) + kt(xt) * i.astype(kt)).astype(np.float64)
    return Expect(R(r, dt, ulps=2, scale=np.abs(i * xt) + abs(xs)))


@st.composite
def _linspace_call(draw, name):
    start, end = _num(draw), _num(draw)
    steps = draw(st.one_of(st.integers(0, 7), st.just(-1)))
    kw = {"dtype": DType(draw(st.sampled_from(NUMERIC)))} if draw(st.booleans()) else {}
    if name == "logspace" and draw(st.booleans()):
        kw["base"] = draw(st.sampled_from([2.0, 10.0, 0.5]))
    return Call(name, "fn", name, (start, end, steps), kw)


def _linspace_ref(call):
    start, end, steps = call.args
    dt = call.kwargs["dtype"].name if "dtype" in call.kwargs else "float32"
    if steps < 0:
        raise Raises("RuntimeError", why="number of steps must be non-negative")
    if any(isinstance(v, float) and not math.isfinite(v) for v in (start, end)):
        raise Skip("non-finite linspace bounds")
    if call.name == "logspace" and dt in INTS:
        raise Skip("integer logspace not encoded")
    if dt in INTS:
        if abs(start) > 2 ** 31 or abs(end) > 2 ** 31:
            raise Skip("large integer linspace")
        s, e = float(int(start)) if isinstance(start, int) else float(start), float(end)
        if isinstance(start, float) or isinstance(end, float):
            raise Skip("float bounds with an integer dtype")
        if steps == 0:
            return Expect(R(np.zeros(0), dt))
        if steps == 1:
            return Expect(R(np.array([int(start)]), dt))
        step = (e - s) / (steps - 1)
        half = steps // 2
        v = [s + step * i if i < half else e - step * (steps - i - 1) for i in range(steps)]
        return Expect(R(np.trunc(np.array(v)), dt))
    big = FINFO[dt][1]
    if max(abs(start), abs(end)) > big:
        raise Skip("bounds beyond the dtype")
    if steps == 0:
        r = np.zeros(0)
    elif steps == 1:
        r = np.array([float(start)])
    else:
        r = np.linspace(float(start), float(end), steps)
    scale = max(abs(start), abs(end)) * 4
    if call.name == "logspace":
        base = call.kwargs.get("base", 10.0)
        with np.errstate(all="ignore"):
            scale = np.abs(np.log(base) * np.power(base, r)) * scale * 4 + np.power(base, r) * 0
            r = np.power(base, r)
    return Expect(R(r, dt, ulps=4, scale=scale))


@st.composite
def _full_call(draw):
    size = tuple(draw(st.lists(st.integers(-1 if draw(st.integers(0, 9)) == 0 else 0, 3), max_size=3)))
    v = draw(st.one_of(st.integers(-5, 5), st.sampled_from([300, -129, 70000, 2 ** 40, 2 ** 63 - 1]),
                       st.floats(-5, 5), st.sampled_from([1e5, float("nan"), float("inf"), 1e39]), st.booleans()))
    kw = {"dtype": DType(draw(st.sampled_from(("bool",) + NUMERIC)))} if draw(st.booleans()) else {}
    return Call("full", "fn", "full", (size, v), kw)


def _full_ref(call):
    size, v = call.args
    if any(s < 0 for s in size):
        raise Raises("RuntimeError", why="negative size")
    if "dtype" in call.kwargs:
        dt = call.kwargs["dtype"].name
    else:
        dt = "bool" if isinstance(v, bool) else "int64" if isinstance(v, int) else "float32"
    fill = checked_convert(v, dt)
    if dt in FLOATS:
        return Expect(R(np.full(size, fill, dtype=np.float64), dt, ulps=0.5))
    return Expect(R(np.full(size, fill, dtype=np.int64 if dt != "bool" else bool), dt))


@st.composite
def _zeros_call(draw, name):
    size = tuple(draw(st.lists(st.integers(-1 if draw(st.integers(0, 9)) == 0 else 0, 3), max_size=3)))
    kw = {"dtype": DType(draw(st.sampled_from(("bool",) + NUMERIC)))} if draw(st.booleans()) else {}
    args = (size,) if draw(st.booleans()) else size
    return Call(name, "fn", name, args, kw)


def _zeros_ref(call):
    size = call.args[0] if len(call.args) == 1 and isinstance(call.args[0], tuple) else tuple(call.args)
    if any(s < 0 for s in size):
        raise Raises("RuntimeError", why="negative size")
    dt = call.kwargs["dtype"].name if "dtype" in call.kwargs else "float32"
    return Expect(R(np.full(size, 0 if call.name == "zeros" else 1), dt))


@st.composite
def _eye_call(draw):
    n = draw(st.integers(-1, 4))
    args = (n,) if draw(st.booleans()) else (n, draw(st.integers(-1, 4)))
    kw = {"dtype": DType(draw(st.sampled_from(("bool",) + NUMERIC)))} if draw(st.booleans()) else {}
    return Call("eye", "fn", "eye", args, kw)


def _eye_ref(call):
    n = call.args[0]
    m = call.args[1] if len(call.args) > 1 else n
    if n < 0 or m < 0:
        raise Raises("RuntimeError", why="eye of a negative size")
    dt = call.kwargs["dtype"].name if "dtype" in call.kwargs else "float32"
    return Expect(R(np.eye(n, m), dt))


@st.composite
def _tensor_call(draw):
    el = st.one_of(st.integers(-5, 5), st.floats(-5, 5), st.booleans(),
                   st.sampled_from([2 ** 63 - 1, -2 ** 63, 2 ** 63, 2 ** 64, float("nan"), float("inf")]))
    kind = draw(st.sampled_from(("int", "float", "bool", "mixed")))
    el = {"int": st.integers(-5, 5) | st.sampled_from([2 ** 63 - 1, 2 ** 63, -2 ** 63 - 1]),
          "float": st.floats(-5, 5) | st.sampled_from([float("nan"), float("inf"), 1e39]),
          "bool": st.booleans(), "mixed": el}[kind]
    shape = draw(st.sampled_from([(), (0,), (3,), (2, 2), (2, 0), "ragged"]))
    if shape == ():
        data = draw(el)
    elif shape == "ragged":
        data = [[draw(el)], [draw(el), draw(el)]]
    else:
        flat = [draw(el) for _ in range(math.prod(shape))]
        data = np.array(flat, dtype=object).reshape(shape).tolist() if flat else [[] for _ in range(shape[0])] \
            if len(shape) == 2 else []
    kw = {"dtype": DType(draw(st.sampled_from(NUMERIC + ("bool",))))} if draw(st.integers(0, 3)) == 0 else {}
    return Call("tensor", "fn", "tensor", (data,), kw)


def _flatten(data):
    if isinstance(data, list):
        out = []
        for d in data:
            out.extend(_flatten(d))
        return out
    return [data]


def _tensor_ref(call):
    data = call.args[0]
    try:
        arr = np.array(data, dtype=object)
        if arr.dtype == object and any(isinstance(x, list) for x in arr.reshape(-1)):
            raise ValueError
    except ValueError:
        raise Raises("ValueError", "RuntimeError", "TypeError", why="a ragged nested list") from None
    flat = _flatten(data)
    explicit = call.kwargs["dtype"].name if "dtype" in call.kwargs else None
    for v in flat:
        if isinstance(v, int) and not isinstance(v, bool) and not -2 ** 63 <= v < 2 ** 63:
            if explicit in FLOATS + ("bool",):
                continue  # unpacked as a double for a float dtype, as "nonzero" for bool
            if explicit is None and any(isinstance(u, float) for u in flat):
                raise Skip("a huge int among floats")
            raise Raises("RuntimeError", "OverflowError", why=f"Python int {v} overflows int64")
    if "dtype" in call.kwargs:
        dt = call.kwargs["dtype"].name
        if dt not in FLOATS and any(isinstance(v, float) for v in flat):
            raise Skip("floats into an integer tensor")
        if dt in INTS:
            lo, hi = iinfo(dt)
            if any(not lo <= int(v) <= hi for v in flat):
                raise Skip("an int out of the dtype's range (PyTorch version dependent)")
    elif any(isinstance(v, float) for v in flat):
        dt = "float32"
    elif any(not isinstance(v, bool) for v in flat):
        dt = "int64"
    else:
        dt = "bool" if flat or not isinstance(data, list) else "float32"
    if not flat or (isinstance(data, list) and arr.size == 0):
        dt = call.kwargs["dtype"].name if "dtype" in call.kwargs else "float32"
        return Expect(R(np.zeros(np.shape(arr) if arr.size == 0 else (0,)), dt))
    if dt in FLOATS:
        vals = np.array([float(v) for v in flat]).reshape(arr.shape)
        if np.isfinite(vals).all() and np.abs(vals).max(initial=0) > FINFO[dt][1]:
            raise Skip("a value beyond the dtype's range")
        return Expect(R(vals, dt, ulps=0.5))
    vals = np.array([int(v) for v in flat], dtype=object).reshape(arr.shape)
    return Expect(R(vals.astype(np.int64) if dt != "bool" else vals.astype(bool), dt))


@st.composite
def _like_call(draw, name):
    x = draw(tensors())
    kw = {"dtype": DType(draw(st.sampled_from(("bool",) + NUMERIC)))} if draw(st.integers(0, 3)) == 0 else {}
    if name == "full_like":
        v = draw(st.one_of(st.integers(-5, 5), st.floats(-5, 5), st.sampled_from([300, 1e5, float("nan")])))
        return Call(name, "fn", name, (x, v), kw)
    return Call(name, "fn", name, (x,), kw)


def _like_ref(call):
    x = call.args[0]
    dt = call.kwargs["dtype"].name if "dtype" in call.kwargs else x.dtype
    if call.name == "full_like":
        fill = checked_convert(call.args[1], dt)
    else:
        fill = 0 if call.name == "zeros_like" else 1
    return Expect(R(np.full(x.shape, fill, dtype=np.float64 if dt in FLOATS else np.int64), dt, ulps=0.5))


OPS = [
    OpSpec("arange", _arange_call(), _arange_ref, "creation"),
    OpSpec("linspace", _linspace_call("linspace"), _linspace_ref, "creation"),
    OpSpec("logspace", _linspace_call("logspace"), _linspace_ref, "creation"),
    OpSpec("full", _full_call(), _full_ref, "creation"),
    OpSpec("zeros", _zeros_call("zeros"), _zeros_ref, "creation"),
    OpSpec("ones", _zeros_call("ones"), _zeros_ref, "creation"),
    OpSpec("eye", _eye_call(), _eye_ref, "creation"),
    OpSpec("tensor", _tensor_call(), _tensor_ref, "creation"),
    OpSpec("full_like", _like_call("full_like"), _like_ref, "creation"),
    OpSpec("zeros_like", _like_call("zeros_like"), _like_ref, "creation"),
    OpSpec("ones_like", _like_call("ones_like"), _like_ref, "creation"),
]
