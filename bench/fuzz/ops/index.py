"""Indexing: gather/scatter/scatter_add, index_select/index_add, masked_select, nonzero/
argwhere, one_hot, and ``x[...]`` reads and writes (ints, slices, None, Ellipsis, bool masks,
0-d bool tensors, integer index tensors, out-of-range indices)."""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from ..case import DTYPES, FLOATS, Call, T
from ..expect import R, Expect, Raises, Skip
from ..strategies import dims, index_tensors, tensors
from . import OpSpec
from ._common import broadcast, errstate, values, wrap_dim
from .pointwise import checked_convert


def _exact(v, dtype):
    return R(v, dtype, ulps=0)


def _idx(t):
    return values(t).astype(np.int64)


# gather / scatter ---------------------------------------------------------------------------


@st.composite
def _gather_call(draw, name):
    x = draw(tensors(min_dims=1, max_dims=3))
    d = draw(dims(x.ndim))
    dd = d % x.ndim if -x.ndim <= d < x.ndim else 0
    n = x.shape[dd]
    ish = tuple(draw(st.integers(0, s if i != dd else 3)) for i, s in enumerate(x.shape))
    if draw(st.integers(0, 9)) == 0:
        ish = ish[:-1] if ish else (1,)
    idt = "int64" if draw(st.integers(0, 9)) else draw(st.sampled_from(("int32", "float32")))
    if idt == "float32":
        idx = draw(tensors(dtype="float32", shape=ish, profile="finite"))
    else:
        idx = draw(index_tensors(ish, max(n, 1), dtype=idt))
    if name == "gather":
        return Call(name, draw(st.sampled_from(("fn", "method"))), name, (x, d, idx))
    if name == "scatter" and draw(st.booleans()):
        return Call(name, draw(st.sampled_from(("fn", "method"))), name, (x, d, idx),
                    {"value": draw(st.sampled_from([0, 1, -2.5, 7]))})
    src_dt = x.dtype if draw(st.integers(0, 9)) else draw(st.sampled_from(DTYPES))
    src = draw(tensors(dtype=src_dt, shape=tuple(s + draw(st.integers(0, 1)) for s in ish)))
    return Call(name, draw(st.sampled_from(("fn", "method"))), name, (x, d, idx, src))


def _gather_checks(x, d, idx, op, src=None):
    d = wrap_dim(d, x.ndim, op)  # the dim is wrapped first, then the index dtype is checked
    if idx.dtype != "int64":
        raise Raises("RuntimeError", why=f"{op} needs an int64 index")
    if src is not None and src.dtype != x.dtype:
        raise Raises("RuntimeError", why=f"{op}: src and self differ in dtype")
    if idx.ndim != x.ndim and idx.ndim != 0 or (src is not None and src.ndim != idx.ndim):
        raise Raises("RuntimeError", why=f"{op}: index and input differ in dims")
    for i in range(idx.ndim):
        if i != d and idx.shape[i] > x.shape[i]:
            raise Raises("RuntimeError", why=f"{op}: index larger than input at dim {i}")
        if src is not None and idx.shape[i] > src.shape[i]:
            raise Raises("RuntimeError", why=f"{op}: index larger than src at dim {i}")
    iv = _idx(idx)
    if iv.size and (iv.min() < 0 or iv.max() >= x.shape[d]):
        raise Raises("RuntimeError", "IndexError", why=f"{op}: index out of bounds")
    return d, iv


def _gather_ref(call):
    x, d, idx = call.args
    d, iv = _gather_checks(x, d, idx, "gather")
    if idx.ndim == 0:
        raise Skip("0-d index not encoded")
    v = values(x)
    out = np.zeros(iv.shape, dtype=v.dtype)
    for pos in np.ndindex(*iv.shape):
        src = list(pos)
        src[d] = iv[pos]
        out[pos] = v[tuple(src)]
    return Expect(_exact(out, x.dtype))


def _scatter_ref(call):
    x, d, idx = call.args[:3]
    src = call.args[3] if len(call.args) > 3 else None
    d, iv = _gather_checks(x, d, idx, call.name, src)
    if idx.ndim == 0:
        raise Skip("0-d index not encoded")
    out = values(x).copy()
    sv = values(src) if src is not None else None
    if sv is None:
        fill = checked_convert(call.kwargs["value"], x.dtype)
    targets = {}
    for pos in np.ndindex(*iv.shape):
        tgt = list(pos)
        tgt[d] = iv[pos]
        tgt = tuple(tgt)
        v = sv[pos] if sv is not None else fill
        if call.name == "scatter_add":
            with errstate():
                out[tgt] = out[tgt] + v if x.dtype != "bool" else out[tgt] | v
        else:
            if tgt in targets and targets[tgt] != v and not (isinstance(v, float) and np.isnan(v)):
                raise Skip("scatter of different values to one place is nondeterministic")
            targets[tgt] = v
            out[tgt] = v
    return Expect(R(out, x.dtype, ulps=4 if call.name == "scatter_add" else 0))


# index_select / index_add ---------------------------------------------------------------------


@st.composite
def _index_select_call(draw, name):
    x = draw(tensors(max_dims=3))
    d = draw(dims(x.ndim))
    n = x.shape[d] if x.ndim and -x.ndim <= d < x.ndim else 1
    k = draw(st.integers(0, 4))
    ish = draw(st.sampled_from([(k,), (k,), (), (1, k)]))
    idt = "int64" if draw(st.integers(0, 9)) else draw(st.sampled_from(("int32", "int16")))
    idx = draw(index_tensors(ish, max(n, 1), dtype=idt))
    if name == "index_select":
        return Call(name, draw(st.sampled_from(("fn", "method"))), name, (x, d, idx))
    sshape = list(x.shape) if x.ndim else []
    if sshape and -x.ndim <= d < x.ndim:
        sshape[d] = idx.base.size if idx.ndim else 1
    src = draw(tensors(dtype=x.dtype if draw(st.integers(0, 9)) else draw(st.sampled_from(DTYPES)),
                       shape=tuple(sshape)))
    kw = {"alpha": draw(st.sampled_from([2, -1]))} if draw(st.integers(0, 3)) == 0 else {}
    form = draw(st.sampled_from(("fn", "method", "inplace")))
    if form == "inplace":
        return Call("index_add_", "method", "index_add_", (x, d, idx, src), kw, inplace=True)
    return Call(name, form, name, (x, d, idx, src), kw)


def _index_select_ref(call):
    x, d, idx = call.args
    d = wrap_dim(d, x.ndim, "index_select")
    if idx.ndim > 1:
        raise Raises("IndexError", "RuntimeError", why="index_select index must be a vector")
    if idx.dtype not in ("int64", "int32"):
        raise Raises("RuntimeError", "IndexError", why="index_select needs an int64/int32 index")
    iv = _idx(idx).reshape(-1)
    if x.ndim == 0 and iv.size != 1:
        raise Raises("RuntimeError", "IndexError", why="index_select of a 0-d tensor takes one index")
    n = x.shape[d] if x.ndim else 1
    if iv.size and (iv.min() < 0 or iv.max() >= n):
        raise Raises("IndexError", "RuntimeError", why="index_select index out of range")
    v = values(x)
    if x.ndim == 0:
        return Expect(_exact(v, x.dtype))  # a 0-d input keeps its shape
    return Expect(_exact(np.take(v, iv, axis=d), x.dtype))


def _index_add_ref(call):
    x, d, idx, src = call.args
    alpha = call.kwargs.get("alpha", 1)
    wrap_dim(d, x.ndim, "index_add")  # the dim is checked first
    if idx.ndim > 1:
        raise Raises("IndexError", "RuntimeError", why="index_add index must be a vector")
    if idx.dtype not in ("int64", "int32"):
        raise Raises("RuntimeError", "IndexError", why="index_add needs an int64/int32 index")
    if src.dtype != x.dtype:
        raise Raises("RuntimeError", why="index_add: source and self differ in dtype")
    if x.ndim == 0:
        raise Skip("index_add on a 0-d tensor not encoded")
    d = wrap_dim(d, x.ndim, "index_add")
    iv = _idx(idx).reshape(-1)
    if src.ndim != x.ndim or src.shape[d] != iv.size or any(
            a != b for i, (a, b) in enumerate(zip(src.shape, x.shape)) if i != d):
        raise Raises("RuntimeError", "IndexError", why="index_add: source shape does not fit")
    if iv.size and (iv.min() < 0 or iv.max() >= x.shape[d]):
        raise Raises("IndexError", "RuntimeError", why="index_add index out of range")
    if x.dtype == "bool":
        raise Skip("index_add of bools not encoded")
    if call.inplace and x.expanded_overlap:
        raise Raises("RuntimeError", why="index_add_ into an expanded tensor")
    out = values(x).copy()
    sv = values(src)
    with errstate():
        for j, i in enumerate(iv):
            sl = [slice(None)] * x.ndim
            sl[d] = i
            ss = [slice(None)] * x.ndim
            ss[d] = j
            out[tuple(sl)] = out[tuple(sl)] + sv[tuple(ss)] * alpha
    r = R(out, x.dtype, ulps=8)
    return Expect(r, after=r if call.inplace else None)


# masked_select / nonzero / one_hot --------------------------------------------------------------


@st.composite
def _masked_select_call(draw):
    from ..strategies import broadcast_shapes
    sx, sm = draw(broadcast_shapes(2))
    x = draw(tensors(shape=sx))
    m = draw(tensors(dtype="bool" if draw(st.integers(0, 9)) else "uint8", shape=sm))
    return Call("masked_select", draw(st.sampled_from(("fn", "method"))), "masked_select", (x, m))


def _masked_select_ref(call):
    x, m = call.args
    shape = broadcast(x.shape, m.shape)
    if m.dtype != "bool":
        raise Raises("RuntimeError", why="masked_select needs a bool mask")
    v = np.broadcast_to(values(x), shape)[np.broadcast_to(values(m), shape)]
    return Expect(_exact(v, x.dtype))


@st.composite
def _nonzero_call(draw, name):
    x = draw(tensors())
    kw = {"as_tuple": draw(st.booleans())} if name == "nonzero" and draw(st.booleans()) else {}
    return Call(name, draw(st.sampled_from(("fn", "method"))), name, (x,), kw)


def _nonzero_ref(call):
    x = call.args[0]
    v = values(x)
    nz = np.nonzero(v.reshape(1) if x.ndim == 0 else v)
    if call.kwargs.get("as_tuple"):
        if x.ndim == 0:
            raise Skip("nonzero(as_tuple=True) of a 0-d tensor not encoded")
        return Expect(tuple(R(a, "int64") for a in nz))
    if x.ndim == 0:
        return Expect(R(np.zeros((int(v != 0), 0)), "int64"))
    return Expect(R(np.stack(nz, axis=1) if nz else np.zeros((0, 0)), "int64"))


@st.composite
def _one_hot_call(draw):
    dt = "int64" if draw(st.integers(0, 9)) else draw(st.sampled_from(("int32", "float32", "uint8")))
    c = draw(st.sampled_from([-1, -1, 1, 3, 5, 0]))
    x = draw(tensors(dtype=dt, lo=-1 if draw(st.integers(0, 9)) == 0 else 0, hi=6, profile="finite"))
    form = draw(st.sampled_from(("fn", "F")))
    return Call("one_hot", form, "one_hot", (x,), {"num_classes": c} if c != -1 or draw(st.booleans()) else {})


def _one_hot_ref(call):
    x = call.args[0]
    c = call.kwargs.get("num_classes", -1)
    if x.dtype != "int64":
        raise Raises("RuntimeError", why="one_hot needs an int64 tensor")
    v = values(x)
    if v.size and v.min() < 0:
        raise Raises("RuntimeError", why="one_hot: negative class")
    if v.size == 0 and c <= 0:
        # PyTorch: an empty input needs a positive class count (0 and -1 alike are refused)
        raise Raises("RuntimeError", why="one_hot cannot infer the number of classes of an empty tensor")
    if c == -1:
        c = int(v.max()) + 1
    elif v.size and v.max() >= c:
        raise Raises("RuntimeError", why="one_hot: class out of range")
    elif c < -1:
        raise Raises("RuntimeError", why="one_hot: negative number of classes")
    return Expect(R((v[..., None] == np.arange(c)).astype(np.int64), "int64"))


# x[...] --------------------------------------------------------------------------------------


@st.composite
def _index_item(draw, x, d):
    """One index element for dim ``d`` of ``x`` (consuming it or not)."""
    n = x.shape[d] if d < x.ndim else 1
    k = draw(st.integers(0, 9))
    if k <= 2:
        return draw(st.one_of(st.integers(-n, max(n - 1, -n)), st.sampled_from([n, -n - 1])))
    if k <= 5:
        a = draw(st.one_of(st.none(), st.integers(-n - 1, n + 1)))
        b = draw(st.one_of(st.none(), st.integers(-n - 1, n + 1)))
        c = draw(st.one_of(st.none(), st.integers(1, 3), st.sampled_from([-1, 0])))
        return slice(a, b, c)
    if k == 6:
        return None
    if k == 7:
        return draw(index_tensors(draw(st.sampled_from([(2,), (1,), (0,), (), (2, 1)])), max(n, 1)))
    if k == 8:
        return draw(tensors(dtype="bool", shape=draw(st.sampled_from([(), (n,), (n + 1,)]))))
    return draw(st.sampled_from([True, False, Ellipsis]))


@st.composite
def _getitem_call(draw, write=False):
    x = draw(tensors(max_dims=3, views=("contiguous", "transposed", "sliced", "flipped") if write else
                     ("contiguous", "transposed", "sliced", "expanded", "flipped")))
    n = draw(st.integers(1, 3))
    items = tuple(draw(_index_item(x, i)) for i in range(n))
    idx = items[0] if n == 1 and draw(st.booleans()) else items
    if not write:
        return Call("getitem", "getitem", "__getitem__", (x, idx))
    if draw(st.booleans()):
        val = draw(st.one_of(st.integers(-3, 3), st.floats(-4, 4), st.booleans()))
    else:
        val = draw(tensors(dtype=x.dtype, shape=draw(st.sampled_from([(), (1,)]))))
    return Call("setitem", "setitem", "__setitem__", (x, idx, val))


def _np_index(idx):
    if isinstance(idx, tuple):
        return tuple(_np_index(i) for i in idx)
    if isinstance(idx, T):
        return values(idx) if idx.dtype == "bool" else _idx(idx)
    return idx


def _check_index(x, idx):
    """PyTorch's checks numpy does not make: too many indices first, then each item in
    order (a slice step must be positive)."""
    items = idx if isinstance(idx, tuple) else (idx,)
    if any(isinstance(i, bool) for i in items):
        raise Skip("a Python bool index not encoded")
    used = sum(i.ndim if isinstance(i, T) and i.dtype == "bool" else 1
               for i in items if i is not None and i is not Ellipsis)
    if used > x.ndim:
        raise Raises("IndexError", why=f"too many indices for a {x.ndim}-d tensor")
    if any(isinstance(i, slice) and i.step is not None and i.step <= 0 for i in items):
        positive = tuple(slice(i.start, i.stop, 1) if isinstance(i, slice) and i.step is not None and i.step <= 0
                         else i for i in items)
        try:
            values(x)[_np_index(positive)]
        except IndexError:
            raise Raises("ValueError", "IndexError", why="a slice step <= 0 and a bad index") from None
        raise Raises("ValueError", why="slice steps must be positive")


def _getitem_ref(call):
    x, idx = call.args
    _check_index(x, idx)
    v = values(x)
    try:
        r = v[_np_index(idx)]
    except IndexError as e:
        raise Raises("IndexError", why=f"numpy: {e}") from None
    if not isinstance(r, np.ndarray) or r.ndim == 0 and np.isscalar(r):
        r = np.asarray(r)
    return Expect(_exact(r, x.dtype))


def _setitem_ref(call):
    x, idx, val = call.args
    _check_index(x, idx)
    out = values(x).copy()
    npidx = _np_index(idx)
    if isinstance(val, T):
        vv = values(val)
    else:
        if isinstance(val, float) and x.dtype not in FLOATS:
            raise Skip("a float written into an integer tensor")
        vv = checked_convert(val, x.dtype)
    try:
        sel = out[npidx]
        target_shape = np.shape(sel)
        np.broadcast_to(vv, target_shape)
    except IndexError as e:
        raise Raises("IndexError", why=f"numpy: {e}") from None
    except ValueError:
        raise Raises("RuntimeError", why="value does not broadcast to the selection") from None
    flat = np.arange(out.size).reshape(out.shape)[npidx] if out.size else np.zeros(0)
    if np.size(flat) != len(set(np.ravel(flat).tolist())):
        raise Skip("writing through repeated indices is nondeterministic")
    out[npidx] = vv
    return Expect(None, after=_exact(out, x.dtype))


OPS = [
    OpSpec("gather", _gather_call("gather"), _gather_ref, "index"),
    OpSpec("scatter", _gather_call("scatter"), _scatter_ref, "index"),
    OpSpec("scatter_add", _gather_call("scatter_add"), _scatter_ref, "index"),
    OpSpec("index_select", _index_select_call("index_select"), _index_select_ref, "index"),
    OpSpec("index_add", _index_select_call("index_add"), _index_add_ref, "index"),
    OpSpec("masked_select", _masked_select_call(), _masked_select_ref, "index"),
    OpSpec("nonzero", _nonzero_call("nonzero"), _nonzero_ref, "index"),
    OpSpec("argwhere", _nonzero_call("argwhere"), _nonzero_ref, "index"),
    OpSpec("one_hot", _one_hot_call(), _one_hot_ref, "index"),
    OpSpec("getitem", _getitem_call(), _getitem_ref, "index"),
    OpSpec("setitem", _getitem_call(True), _setitem_ref, "index"),
]
