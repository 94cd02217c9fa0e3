"""Gradients: ``f(*inputs).sum().backward()`` for unary, binary (broadcasting reduces the
gradient), reductions, matmul, pad and pooling (empty batches included), against analytic
derivatives with PyTorch's choices at kinks (relu'(0) = 0, abs'(0) = 0, ties of amax share
the gradient, a max-pool window gives it to its first maximum)."""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from ..case import FINFO, Call
from ..expect import R, Expect, Raises, Skip
from ..strategies import broadcast_shapes, dims, tensors
from . import OpSpec
from ._common import broadcast, errstate, kernel_type, values, wrap_dim
from .pooling import _pool_ref

GRAD_FLOATS = ("float32", "float64")
VIEWS = ("contiguous",)

UNARY_D = {
    "exp": lambda x: np.exp(x),
    "log": lambda x: 1 / x,
    "sin": np.cos,
    "tanh": lambda x: 1 - np.tanh(x) ** 2,
    "sigmoid": lambda x: np.exp(-x) / (1 + np.exp(-x)) ** 2,
    "sqrt": lambda x: 0.5 / np.sqrt(x),
    "relu": lambda x: (x > 0).astype(np.float64),
    "abs": np.sign,
    "square": lambda x: 2 * x,
}


def _R(v, dtype, scale=None):
    return R(v, dtype, ulps=16, scale=np.abs(v) * 4 if scale is None else scale,
             atol=16 * FINFO[dtype][0])


@st.composite
def _unary_grad_call(draw, name):
    pos = name in ("log", "sqrt")
    x = draw(tensors(kinds=GRAD_FLOATS, views=VIEWS, profile="positive" if pos else "finite", lo=-4, hi=4))
    return Call("grad." + name, "grad", "fn." + name, (x,))


def _unary_grad_ref(call):
    x = call.args[0]
    with errstate():
        g = UNARY_D[call.name.split(".")[1]](values(x))
    return Expect((_R(g, x.dtype),))


def _unbroadcast(g, shape):
    """The gradient of a broadcast operand: summed over the dims broadcasting added or
    stretched."""
    while g.ndim > len(shape):
        g = g.sum(axis=0)
    for i, s in enumerate(shape):
        if s == 1 and g.shape[i] != 1:
            g = g.sum(axis=i, keepdims=True)
    return g


@st.composite
def _binary_grad_call(draw, name):
    sa, sb = draw(broadcast_shapes(2, incompatible=False))
    dt = draw(st.sampled_from(GRAD_FLOATS))
    a = draw(tensors(dtype=dt, shape=sa, views=VIEWS, profile="finite", lo=-4, hi=4))
    b = draw(tensors(dtype=dt, shape=sb, views=VIEWS, profile="positive" if name == "div" else "finite",
                     lo=0.25 if name == "div" else -4, hi=4))
    return Call("grad." + name, "grad", "fn." + name, (a, b))


def _binary_grad_ref(call):
    a, b = call.args
    shape = broadcast(a.shape, b.shape)
    kt = kernel_type(a.dtype)
    av, bv = np.broadcast_to(values(a).astype(kt), shape), np.broadcast_to(values(b).astype(kt), shape)
    one = np.ones(shape, dtype=kt)
    op = call.name.split(".")[1]
    with errstate():
        ga, gb = {"add": (one, one), "sub": (one, -one), "mul": (bv, av), "div": (1 / bv, -(av / bv) / bv),
                  "maximum": ((av > bv) + 0.5 * (av == bv), (bv > av) + 0.5 * (av == bv)),
                  }[op]
    ga, gb = (_unbroadcast(np.asarray(g, kt), s).astype(np.float64) for g, s in ((ga, a.shape), (gb, b.shape)))
    return Expect((_R(ga, a.dtype), _R(gb, b.dtype)))


@st.composite
def _reduce_grad_call(draw, name):
    x = draw(tensors(kinds=GRAD_FLOATS, views=VIEWS, profile="finite", lo=-4, hi=4))
    kw = {}
    if name in ("logsumexp", "softmax") or draw(st.booleans()):
        kw["dim"] = draw(dims(x.ndim, invalid=False))
    if name in ("amax", "sum", "mean", "var", "logsumexp") and "dim" in kw and draw(st.booleans()):
        kw["keepdim"] = True
    return Call("grad." + name, "grad", "fn." + name, (x,), kw)


def _reduce_grad_ref(call):
    x = call.args[0]
    op = call.name.split(".")[1]
    v = values(x)
    d = call.kwargs.get("dim")
    axes = tuple(range(x.ndim)) if d is None else ((wrap_dim(d, x.ndim),) if x.ndim else ())
    n = int(np.prod([v.shape[a] for a in axes])) if axes else 1
    with errstate():
        if op == "sum":
            g = np.ones_like(v)
        elif op == "mean":
            if v.size == 0:
                raise Skip("mean of an empty tensor")
            g = np.full_like(v, 1 / n)
        elif op == "amax":
            if (d is None and v.size == 0) or any(v.shape[a] == 0 for a in axes):
                raise Raises("IndexError", "RuntimeError", why="amax of an empty dim")
            m = np.max(v, axis=axes, keepdims=True)
            hit = (v == m).astype(float)
            g = hit / hit.sum(axis=axes, keepdims=True)
        elif op == "logsumexp":
            vv = v if x.ndim else v.reshape(1)
            ax = axes if x.ndim else (0,)
            m = np.max(vv, axis=ax, keepdims=True) if vv.size else vv
            e = np.exp(vv - m)
            g = (e / e.sum(axis=ax, keepdims=True)).reshape(v.shape)
        elif op == "softmax":
            g = np.zeros_like(v)  # the softmax of a row sums to 1
        elif op == "var":
            if n <= 1:
                raise Skip("var of fewer than two elements")
            m = np.mean(v, axis=axes, keepdims=True)
            g = 2 * (v - m) / (n - 1)
        else:
            raise Skip(op)
    return Expect((_R(g, x.dtype, scale=np.abs(g) * 4 + 1e-6),))


@st.composite
def _matmul_grad_call(draw):
    dt = draw(st.sampled_from(GRAD_FLOATS))
    n, k, m = (draw(st.integers(0 if draw(st.integers(0, 7)) == 0 else 1, 4)) for _ in range(3))
    batch = draw(st.sampled_from([(), (2,)]))
    a = draw(tensors(dtype=dt, shape=batch + (n, k), views=VIEWS, profile="finite", lo=-4, hi=4))
    b = draw(tensors(dtype=dt, shape=(k, m), views=VIEWS, profile="finite", lo=-4, hi=4))
    return Call("grad.matmul", "grad", "fn.matmul", (a, b))


def _matmul_grad_ref(call):
    a, b = call.args
    av, bv = values(a), values(b)
    g = np.ones(av.shape[:-1] + bv.shape[-1:])
    ga = g @ bv.T
    gb = np.swapaxes(av, -1, -2) @ g
    gb = gb.sum(axis=tuple(range(gb.ndim - 2))) if gb.ndim > 2 else gb
    k = max(av.shape[-1], 1)
    return Expect((_R(ga, a.dtype, scale=np.abs(ga) * 4 * k + 1), _R(gb, b.dtype, scale=np.abs(gb) * 4 * k + 1)))


@st.composite
def _pool_grad_call(draw, name):
    batch = draw(st.sampled_from([(0,), (1,), (2,), ()]))
    c = draw(st.integers(1, 2))
    sp = tuple(draw(st.integers(1, 5)) for _ in range(2))
    x = draw(tensors(kinds=GRAD_FLOATS, shape=batch + (c,) + sp, views=VIEWS, profile="finite", lo=-4, hi=4))
    if name == "adaptive_avg_pool2d":
        return Call("grad.F." + name, "grad", "F." + name, (x, (draw(st.integers(1, 3)), draw(st.integers(1, 3)))))
    kw = {}
    k = draw(st.integers(1, 3))
    if draw(st.booleans()):
        kw["stride"] = draw(st.integers(1, 3))
    if draw(st.booleans()):
        kw["padding"] = draw(st.integers(0, k // 2))
    if draw(st.booleans()):
        kw["ceil_mode"] = True
    return Call("grad.F." + name, "grad", "F." + name, (x, k), kw)


def _pool_grad_ref(call):
    x, k = call.args
    name = call.name.split(".")[-1]
    v = values(x)
    g = np.zeros_like(v)
    if name == "adaptive_avg_pool2d":
        oh, ow = k
        H, W = v.shape[-2:]
        for a in range(oh):
            for b in range(ow):
                h0, h1 = (a * H) // oh, -(-((a + 1) * H) // oh)
                w0, w1 = (b * W) // ow, -(-((b + 1) * W) // ow)
                g[..., h0:h1, w0:w1] += 1.0 / ((h1 - h0) * (w1 - w0))
        return Expect((_R(g, x.dtype),))
    # the forward reference gives the windows; probe each output's window by a one-hot input
    fwd = Call("F." + name, "F", name, (x, k), dict(call.kwargs, **({"return_indices": True} if "max" in name else {})))
    exp = _pool_ref(fwd)  # raises where the forward does
    if v.size == 0:
        return Expect((_R(g, x.dtype),))
    if "max" in name:
        vals, idx = exp.result
        plane = v.reshape(v.shape[:-2] + (v.shape[-2] * v.shape[-1],))
        gp = np.zeros_like(plane)
        # the first maximum of each window, in window order
        src = idx.indices_of[0]
        want = vals.values.reshape(vals.values.shape[:-2] + (vals.values.shape[-2] * vals.values.shape[-1],))
        for pos in np.ndindex(*want.shape):
            lead, o = pos[:-1], pos[-1]
            win = _max_window(call, v.shape[-2:], o, vals.values.shape[-2:])
            for q in win:
                if src[lead + (q,)] == want[pos] or (np.isnan(src[lead + (q,)]) and np.isnan(want[pos])):
                    gp[lead + (q,)] += 1
                    break
        return Expect((_R(gp.reshape(v.shape), x.dtype),))
    H, W = v.shape[-2:]
    out = exp.result.values.shape[-2:]
    for o in np.ndindex(*out):
        one = _avg_window_weights(call, (H, W), o)
        g += one
    return Expect((_R(g, x.dtype),))


def _params(call):
    kw = call.kwargs
    k = call.args[1]
    s = kw.get("stride", k)
    return k, s, kw.get("padding", 0)


def _max_window(call, spatial, o, out_shape):
    k, s, p = _params(call)
    oh, ow = divmod(o, out_shape[1])
    H, W = spatial
    cells = []
    for i in range(k):
        for j in range(k):
            h, w = oh * s - p + i, ow * s - p + j
            if 0 <= h < H and 0 <= w < W:
                cells.append(h * W + w)
    return cells


def _avg_window_weights(call, spatial, o):
    k, s, p = _params(call)
    H, W = spatial
    h0, w0 = o[0] * s - p, o[1] * s - p
    h1, w1 = min(h0 + k, H + p), min(w0 + k, W + p)
    pool = (h1 - h0) * (w1 - w0)
    a0, b0, a1, b1 = max(h0, 0), max(w0, 0), min(h1, H), min(w1, W)
    div = pool if call.kwargs.get("count_include_pad", True) else (a1 - a0) * (b1 - b0)
    wgt = np.zeros(spatial)
    if a0 < a1 and b0 < b1:
        wgt[a0:a1, b0:b1] = 1.0 / div
    return wgt


@st.composite
def _pad_grad_call(draw):
    x = draw(tensors(kinds=GRAD_FLOATS, views=VIEWS, min_dims=2, max_dims=3, profile="finite"))
    mode = draw(st.sampled_from(("constant", "replicate", "reflect")))
    pad = (draw(st.integers(-1, 2)), draw(st.integers(-1, 2)))
    return Call("grad.F.pad", "grad", "F.pad", (x, pad), {"mode": mode})


def _pad_grad_ref(call):
    from .functional import _pad_ref
    x, pad = call.args
    fwd = _pad_ref(Call("F.pad", "F", "pad", call.args, call.kwargs))  # raises where the forward does
    del fwd
    v = values(x)
    n = v.shape[-1]
    l, r = pad
    mode = call.kwargs["mode"]
    # which input position each output position reads
    src = []
    for j in range(-l, n + r):
        if 0 <= j < n:
            src.append(j)
        elif mode == "constant":
            src.append(None)
        elif mode == "replicate":
            src.append(0 if j < 0 else n - 1)
        else:
            src.append(-j if j < 0 else 2 * (n - 1) - j)
    g = np.zeros_like(v)
    for s in src:
        if s is not None:
            g[..., s] += 1
    return Expect((_R(g, x.dtype),))


OPS = (
    [OpSpec("grad." + n, _unary_grad_call(n), _unary_grad_ref, "autograd") for n in UNARY_D]
    + [OpSpec("grad." + n, _binary_grad_call(n), _binary_grad_ref, "autograd")
       for n in ("add", "sub", "mul", "div", "maximum")]
    + [OpSpec("grad." + n, _reduce_grad_call(n), _reduce_grad_ref, "autograd")
       for n in ("sum", "mean", "amax", "logsumexp", "softmax", "var")]
    + [
        OpSpec("grad.matmul", _matmul_grad_call(), _matmul_grad_ref, "autograd"),
        OpSpec("grad.F.max_pool2d", _pool_grad_call("max_pool2d"), _pool_grad_ref, "autograd"),
        OpSpec("grad.F.avg_pool2d", _pool_grad_call("avg_pool2d"), _pool_grad_ref, "autograd"),
        OpSpec("grad.F.adaptive_avg_pool2d", _pool_grad_call("adaptive_avg_pool2d"), _pool_grad_ref, "autograd"),
        OpSpec("grad.F.pad", _pad_grad_call(), _pad_grad_ref, "autograd"),
    ]
)
