"""Shape and layout ops: reshape, flatten/unflatten, squeeze/unsqueeze, permute/transpose/
movedim, flip, narrow, tile/repeat/expand, tril/triu/diag/diff/trace, clone. Every dim
argument is drawn in and out of range. Joining and splitting are in ``joins``."""
from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st

from ..case import FLOATS, INTS, Call
from ..expect import R, Expect, Raises, Skip
from ..strategies import dim_lists, dims, shapes, tensors
from . import OpSpec
from ._common import values, wrap_dim, wrap_dims


def _exact(v, dtype):
    return R(v, dtype, ulps=0)


def _x(draw, **kw):
    return draw(tensors(**kw))


# reshape / flatten / unflatten ----------------------------------------------------------------


@st.composite
def _reshape_call(draw):
    x = _x(draw)
    n = math.prod(x.shape)
    options = [(n,), (-1,), tuple(reversed(x.shape)), (1, n), (n, 1), (-1, 1), (1, -1), (n + 1,), (-1, -1),
               (0, -1), (2, -1), (-2, max(n // 2, 1))]
    shape = draw(st.sampled_from(options))
    form = draw(st.sampled_from(("fn", "method", "method*")))
    if form == "method*":
        return Call("reshape", "method", "reshape", (x,) + tuple(shape))
    return Call("reshape", form, "reshape", (x, tuple(shape)))


def _reshape_ref(call):
    x = call.args[0]
    shape = call.args[1] if len(call.args) == 2 and isinstance(call.args[1], tuple) else tuple(call.args[1:])
    n = math.prod(x.shape)
    if sum(1 for s in shape if s == -1) > 1:
        raise Raises("RuntimeError", why="only one dimension can be inferred")
    if any(s < -1 for s in shape):
        raise Raises("RuntimeError", why="invalid shape dimension")
    known = math.prod(s for s in shape if s != -1)
    if -1 in shape:
        if known == 0:
            raise Raises("RuntimeError", why="the unspecified dimension is ambiguous")
        if n % known:
            raise Raises("RuntimeError", why="shape is invalid for the input's size")
        shape = tuple(n // known if s == -1 else s for s in shape)
    elif known != n:
        raise Raises("RuntimeError", why="shape is invalid for the input's size")
    return Expect(_exact(values(x).reshape(shape), x.dtype))


@st.composite
def _flatten_call(draw):
    x = _x(draw)
    kw = {}
    if draw(st.booleans()):
        kw["start_dim"] = draw(dims(x.ndim))
    if draw(st.booleans()):
        kw["end_dim"] = draw(dims(x.ndim))
    return Call("flatten", draw(st.sampled_from(("fn", "method"))), "flatten", (x,), kw)


def _flatten_ref(call):
    x = call.args[0]
    s = wrap_dim(call.kwargs.get("start_dim", 0), x.ndim, "flatten")
    e = wrap_dim(call.kwargs.get("end_dim", -1), x.ndim, "flatten")
    v = values(x)
    if x.ndim == 0:
        return Expect(_exact(v.reshape(1), x.dtype))
    if s > e:
        raise Raises("RuntimeError", why="start_dim after end_dim")
    shape = x.shape[:s] + (math.prod(x.shape[s:e + 1]),) + x.shape[e + 1:]
    return Expect(_exact(v.reshape(shape), x.dtype))


@st.composite
def _unflatten_call(draw):
    x = _x(draw, min_dims=1)
    d = draw(dims(x.ndim))
    size = x.shape[d] if -x.ndim <= d < x.ndim else 1
    sizes = draw(st.sampled_from([(size,), (1, size), (size, 1), (-1, 1), (1, -1), (size + 1,), (-1, -1)]))
    return Call("unflatten", draw(st.sampled_from(("fn", "method"))), "unflatten", (x, d, sizes))


def _unflatten_ref(call):
    x, d, sizes = call.args
    d = wrap_dim(d, x.ndim, "unflatten")
    size = x.shape[d]
    if sum(1 for s in sizes if s == -1) > 1:
        raise Raises("RuntimeError", why="only one dimension can be inferred")
    known = math.prod(s for s in sizes if s != -1)
    if -1 in sizes:
        if known == 0 or size % known:
            raise Raises("RuntimeError", why="sizes do not multiply to the dim's size")
        sizes = tuple(size // known if s == -1 else s for s in sizes)
    elif known != size:
        raise Raises("RuntimeError", why="sizes do not multiply to the dim's size")
    shape = x.shape[:d] + tuple(sizes) + x.shape[d + 1:]
    return Expect(_exact(values(x).reshape(shape), x.dtype))


# squeeze / unsqueeze / permute / transpose / movedim / flip -------------------------------------


@st.composite
def _squeeze_call(draw):
    x = draw(tensors(shape=draw(shapes(max_side=2))))
    k = draw(st.integers(0, 2))
    args = (x,) if k == 0 else (x, draw(dims(x.ndim))) if k == 1 else (x, tuple(draw(dim_lists(x.ndim))))
    return Call("squeeze", draw(st.sampled_from(("fn", "method"))), "squeeze", args)


def _squeeze_ref(call):
    x = call.args[0]
    v = values(x)
    if len(call.args) == 1:
        return Expect(_exact(v.reshape(tuple(s for s in x.shape if s != 1)), x.dtype))
    d = call.args[1]
    ds = wrap_dims(d, x.ndim, "squeeze") if isinstance(d, tuple) else [wrap_dim(d, x.ndim, "squeeze")]
    if x.ndim == 0:
        return Expect(_exact(v, x.dtype))
    shape = tuple(s for i, s in enumerate(x.shape) if not (i in ds and s == 1))
    return Expect(_exact(v.reshape(shape), x.dtype))


@st.composite
def _unsqueeze_call(draw):
    x = _x(draw)
    d = draw(st.one_of(st.integers(-x.ndim - 1, x.ndim), st.sampled_from([x.ndim + 1, -x.ndim - 2])))
    return Call("unsqueeze", draw(st.sampled_from(("fn", "method"))), "unsqueeze", (x, d))


def _unsqueeze_ref(call):
    x, d = call.args
    if not -x.ndim - 1 <= d <= x.ndim:
        raise Raises("IndexError", why="unsqueeze dim out of range")
    d = d % (x.ndim + 1)
    return Expect(_exact(np.expand_dims(values(x), d), x.dtype))


@st.composite
def _permute_call(draw):
    x = _x(draw)
    perm = list(draw(st.permutations(range(x.ndim))))
    k = draw(st.integers(0, 5))
    if k == 0 and perm:
        perm[0] = perm[0] - x.ndim  # negative dims
    elif k == 1:
        perm = perm + [0]
    elif k == 2 and perm:
        perm[-1] = x.ndim
    elif k == 3 and len(perm) > 1:
        perm[0] = perm[1]
    if draw(st.booleans()):
        return Call("permute", "method", "permute", (x,) + tuple(perm))
    return Call("permute", draw(st.sampled_from(("fn", "method"))), "permute", (x, tuple(perm)))


def _permute_ref(call):
    x = call.args[0]
    perm = call.args[1] if len(call.args) == 2 and isinstance(call.args[1], tuple) else tuple(call.args[1:])
    if len(perm) != x.ndim:
        try:
            wrap_dims(perm, x.ndim, "permute")
        except Raises as e:
            raise Raises("RuntimeError", *e.types, why="permute: wrong number of dims") from None
        raise Raises("RuntimeError", why="permute: number of dims don't match")
    p = wrap_dims(perm, x.ndim, "permute")
    return Expect(_exact(np.transpose(values(x), p) if x.ndim else values(x), x.dtype))


@st.composite
def _transpose_call(draw, name):
    x = _x(draw)
    return Call(name, draw(st.sampled_from(("fn", "method"))), name, (x, draw(dims(x.ndim)), draw(dims(x.ndim))))


def _transpose_ref(call):
    x, a, b = call.args
    a, b = wrap_dim(a, x.ndim, "transpose"), wrap_dim(b, x.ndim, "transpose")
    v = values(x)
    return Expect(_exact(np.swapaxes(v, a, b) if x.ndim else v, x.dtype))


@st.composite
def _t_call(draw):
    x = draw(tensors(max_dims=3))
    return Call("t", draw(st.sampled_from(("fn", "method"))), "t", (x,))


def _t_ref(call):
    x = call.args[0]
    if x.ndim > 2:
        raise Raises("RuntimeError", why="t() expects a tensor with <= 2 dims")
    return Expect(_exact(values(x).T, x.dtype))


@st.composite
def _movedim_call(draw):
    x = _x(draw)
    if draw(st.booleans()):
        src, dst = draw(dims(x.ndim)), draw(dims(x.ndim))
    else:
        src, dst = tuple(draw(dim_lists(x.ndim))), tuple(draw(dim_lists(x.ndim)))
    return Call("movedim", draw(st.sampled_from(("fn", "method"))), "movedim", (x, src, dst))


def _movedim_ref(call):
    x, src, dst = call.args
    s = [src] if isinstance(src, int) else list(src)
    d = [dst] if isinstance(dst, int) else list(dst)
    if len(s) != len(d):
        raise Raises("RuntimeError", "IndexError", why="movedim: source and destination differ in length")
    # every dim is wrapped before repeats are looked for
    s, d = [wrap_dim(i, x.ndim, "movedim") for i in s], [wrap_dim(i, x.ndim, "movedim") for i in d]
    if len(set(s)) != len(s) or len(set(d)) != len(d):
        raise Raises("RuntimeError", why="movedim: a repeated dim")
    v = values(x)
    return Expect(_exact(np.moveaxis(v, s, d) if x.ndim else v, x.dtype))


@st.composite
def _flip_call(draw):
    x = _x(draw)
    ds = draw(dim_lists(x.ndim))
    return Call("flip", draw(st.sampled_from(("fn", "method"))), "flip", (x, ds))


def _flip_ref(call):
    x, ds = call.args
    ax = wrap_dims(ds, x.ndim, "flip")
    v = values(x)
    return Expect(_exact(np.flip(v, ax) if x.ndim and ax else v, x.dtype))


@st.composite
def _narrow_call(draw):
    x = _x(draw)
    d = draw(dims(x.ndim))
    n = x.shape[d] if -x.ndim <= d < x.ndim else 1
    start = draw(st.integers(-n - 1, n + 1))
    length = draw(st.integers(-1, n + 1))
    return Call("narrow", draw(st.sampled_from(("fn", "method"))), "narrow", (x, d, start, length))


def _narrow_ref(call):
    x, d, start, length = call.args
    if x.ndim == 0:
        raise Raises("RuntimeError", "IndexError", why="narrow of a 0-d tensor")
    d = wrap_dim(d, x.ndim, "narrow")
    n = x.shape[d]
    if not -n <= start <= n:
        raise Raises("IndexError", "RuntimeError", why="narrow start out of range")
    if start < 0:
        start += n
    if length < 0 or start + length > n:
        raise Raises("RuntimeError", "IndexError", why="narrow start + length exceeds the size")
    v = np.take(values(x), range(start, start + length), axis=d)
    return Expect(_exact(v, x.dtype))


# tile / repeat / expand / broadcast_to / repeat_interleave -------------------------------------


@st.composite
def _tile_call(draw, name):
    x = draw(tensors(max_dims=3))
    reps = tuple(draw(st.lists(st.integers(-1 if draw(st.integers(0, 9)) == 0 else 0, 3), max_size=4)))
    if name == "repeat" and draw(st.booleans()):
        return Call(name, "method", name, (x,) + reps)
    form = "method" if name == "repeat" else draw(st.sampled_from(("fn", "method")))
    return Call(name, form, name, (x, reps))


def _tile_ref(call):
    x = call.args[0]
    reps = call.args[1] if len(call.args) == 2 and isinstance(call.args[1], tuple) else tuple(call.args[1:])
    if any(r < 0 for r in reps):
        raise Raises("RuntimeError", why=f"{call.name} with a negative count")
    if call.name == "repeat" and len(reps) < x.ndim:
        raise Raises("RuntimeError", why="repeat needs at least as many counts as dims")
    if call.name == "repeat" and not reps and x.ndim == 0:
        return Expect(_exact(values(x), x.dtype))
    v = values(x)
    return Expect(_exact(np.tile(v, reps) if reps or x.ndim else v, x.dtype))


@st.composite
def _expand_call(draw, name):
    x = draw(tensors(max_dims=3, shape=draw(shapes(max_dims=3, max_side=3))))
    sizes = [s if s != 1 or draw(st.booleans()) else draw(st.integers(0, 3)) for s in x.shape]
    sizes = [-1 if draw(st.integers(0, 3)) == 0 else s for s in sizes]
    lead = draw(st.lists(st.integers(-1 if draw(st.integers(0, 9)) == 0 else 0, 3), max_size=2))
    sizes = tuple(lead + sizes)
    if name == "expand" and draw(st.booleans()):
        return Call(name, "method", name, (x,) + sizes)
    return Call(name, "method", name, (x, sizes))


def _expand_ref(call):
    x = call.args[0]
    sizes = call.args[1] if len(call.args) == 2 and isinstance(call.args[1], tuple) else tuple(call.args[1:])
    if len(sizes) < x.ndim:
        raise Raises("RuntimeError", why="expand to fewer dims")
    lead = len(sizes) - x.ndim
    out = []
    for i, s in enumerate(sizes):
        if i < lead:
            if s < 0:
                raise Raises("RuntimeError", why="expand: -1 for a new leading dim")
            out.append(s)
            continue
        have = x.shape[i - lead]
        if s == -1:
            out.append(have)
        elif s < -1:
            raise Raises("RuntimeError", why="expand: negative size")
        elif have != s and have != 1:
            raise Raises("RuntimeError", why="expand: size must match or be 1")
        else:
            out.append(s)
    return Expect(_exact(np.broadcast_to(values(x), tuple(out)), x.dtype))


@st.composite
def _repeat_interleave_call(draw):
    x = draw(tensors(max_dims=3))
    kw = {}
    if draw(st.booleans()):
        kw["dim"] = draw(dims(x.ndim))
    r = draw(st.integers(-1 if draw(st.integers(0, 9)) == 0 else 0, 3))
    return Call("repeat_interleave", draw(st.sampled_from(("fn", "method"))), "repeat_interleave", (x, r), kw)


def _repeat_interleave_ref(call):
    x, r = call.args
    d = call.kwargs.get("dim")
    if d is not None and x.ndim == 0:
        raise Skip("repeat_interleave of a 0-d tensor along a dim not encoded")
    if r < 0:
        raise Raises("RuntimeError", why="repeat_interleave: negative repeats")
    v = values(x)
    if d is None:
        return Expect(_exact(np.repeat(v.reshape(-1), r), x.dtype))
    d = wrap_dim(d, x.ndim, "repeat_interleave")
    if x.ndim == 0:
        raise Skip("repeat_interleave of a 0-d tensor along a dim not encoded")
    return Expect(_exact(np.repeat(v, r, axis=d), x.dtype))


# tril / triu / diag / diff / trace --------------------------------------------------------------


@st.composite
def _tri_call(draw, name):
    x = draw(tensors(max_dims=4))
    args = (x,) if draw(st.booleans()) else (x, draw(st.integers(-4, 4)))
    return Call(name, draw(st.sampled_from(("fn", "method"))), name, args)


def _tri_ref(call):
    x = call.args[0]
    k = call.args[1] if len(call.args) > 1 else 0
    if x.ndim < 2:
        raise Raises("RuntimeError", why=f"{call.name} needs at least 2 dims")
    fn = np.tril if call.name == "tril" else np.triu
    v = values(x)
    m = fn(np.ones(x.shape[-2:], dtype=bool), k)
    return Expect(_exact(np.where(m, v, np.zeros((), v.dtype)), x.dtype))


@st.composite
def _diag_call(draw):
    x = draw(tensors(max_dims=3))
    args = (x,) if draw(st.booleans()) else (x, draw(st.integers(-4, 4)))
    return Call("diag", draw(st.sampled_from(("fn", "method"))), "diag", args)


def _diag_ref(call):
    x = call.args[0]
    k = call.args[1] if len(call.args) > 1 else 0
    v = values(x)
    if x.ndim == 1:
        return Expect(_exact(np.diag(v, k), x.dtype))
    if x.ndim == 2:
        return Expect(_exact(np.diagonal(v, k).copy(), x.dtype))
    raise Raises("RuntimeError", why="diag expects a 1-d or 2-d tensor")


@st.composite
def _diff_call(draw):
    x = draw(tensors(max_dims=3))
    kw = {}
    if draw(st.booleans()):
        kw["n"] = draw(st.integers(-1, 3))
    if draw(st.booleans()):
        kw["dim"] = draw(dims(x.ndim))
    return Call("diff", draw(st.sampled_from(("fn", "method"))), "diff", (x,), kw)


def _diff_ref(call):
    x = call.args[0]
    n = call.kwargs.get("n", 1)
    if x.ndim == 0:
        raise Raises("RuntimeError", why="diff of a 0-d tensor")
    if n < 0:
        raise Raises("RuntimeError", why="diff order must be non-negative")
    d = wrap_dim(call.kwargs.get("dim", -1), x.ndim, "diff")
    v = values(x)
    with np.errstate(all="ignore"):
        for _ in range(n):
            a, b = np.take(v, range(1, v.shape[d]), axis=d), np.take(v, range(0, max(v.shape[d] - 1, 0)), axis=d)
            v = (a != b) if x.dtype == "bool" else a - b
    return Expect(R(v, x.dtype, ulps=4))


@st.composite
def _trace_call(draw):
    x = draw(tensors(max_dims=3, profile="nonfinite"))
    return Call("trace", draw(st.sampled_from(("fn", "method"))), "trace", (x,))


def _trace_ref(call):
    x = call.args[0]
    if x.ndim != 2:
        raise Raises("RuntimeError", why="trace expects a matrix")
    out = "int64" if x.dtype in INTS + ("bool",) else x.dtype
    v = np.diagonal(values(x, out))
    if out in FLOATS:
        return Expect(R(np.sum(v), out, scale=np.sum(np.abs(v)) * max(len(v), 1)))
    return Expect(R(np.sum(v.astype(np.int64), dtype=np.int64), out))


@st.composite
def _copy_call(draw, name):
    x = _x(draw)
    form = "method" if name == "contiguous" else draw(st.sampled_from(("fn", "method")))
    return Call(name, form, name, (x,))


def _copy_ref(call):
    x = call.args[0]
    return Expect(_exact(values(x), x.dtype))


OPS = [
    OpSpec("reshape", _reshape_call(), _reshape_ref, "shape"),
    OpSpec("flatten", _flatten_call(), _flatten_ref, "shape"),
    OpSpec("unflatten", _unflatten_call(), _unflatten_ref, "shape"),
    OpSpec("squeeze", _squeeze_call(), _squeeze_ref, "shape"),
    OpSpec("unsqueeze", _unsqueeze_call(), _unsqueeze_ref, "shape"),
    OpSpec("permute", _permute_call(), _permute_ref, "shape"),
    OpSpec("transpose", _transpose_call("transpose"), _transpose_ref, "shape"),
    OpSpec("swapaxes", _transpose_call("swapaxes"), _transpose_ref, "shape"),
    OpSpec("t", _t_call(), _t_ref, "shape"),
    OpSpec("movedim", _movedim_call(), _movedim_ref, "shape"),
    OpSpec("flip", _flip_call(), _flip_ref, "shape"),
    OpSpec("narrow", _narrow_call(), _narrow_ref, "shape"),
    OpSpec("tile", _tile_call("tile"), _tile_ref, "shape"),
    OpSpec("repeat", _tile_call("repeat"), _tile_ref, "shape"),
    OpSpec("expand", _expand_call("expand"), _expand_ref, "shape"),
    OpSpec("broadcast_to", _expand_call("broadcast_to"), _expand_ref, "shape"),
    OpSpec("repeat_interleave", _repeat_interleave_call(), _repeat_interleave_ref, "shape"),
    OpSpec("tril", _tri_call("tril"), _tri_ref, "shape"),
    OpSpec("triu", _tri_call("triu"), _tri_ref, "shape"),
    OpSpec("diag", _diag_call(), _diag_ref, "shape"),
    OpSpec("diff", _diff_call(), _diff_ref, "shape"),
    OpSpec("trace", _trace_call(), _trace_ref, "shape"),
    OpSpec("clone", _copy_call("clone"), _copy_ref, "shape"),
    OpSpec("contiguous", _copy_call("contiguous"), _copy_ref, "shape"),
]
