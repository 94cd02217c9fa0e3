"""nn.functional: activations (PyTorch's formulas, in the kernel's float type), softmax
family, normalize/cosine_similarity, pad (constant/reflect/replicate/circular, negative
amounts crop), linear, layer_norm, rms_norm, embedding, dropout. Pooling and losses have
modules of their own."""
from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st

from ..case import FINFO, FLOATS, Call, round_to
from ..expect import R, Expect, Raises, Skip
from ..strategies import broadcast_shapes, dims, index_tensors, shapes, tensors
from . import OpSpec
from ._common import broadcast, errstate, kernel_type, values, wrap_dim


def _kt(x):
    return values(x).astype(kernel_type(x.dtype))


# activations ---------------------------------------------------------------------------------


def _softplus(v, beta=1.0, threshold=20.0):
    z = v * v.dtype.type(beta)
    return np.where(z > threshold, v, np.log1p(np.exp(z)) / v.dtype.type(beta))


ACT = {
    # name: (formula on the kernel type, keyword draws)
    "relu": (lambda v, **k: np.maximum(v, v.dtype.type(0)), {}),
    "relu6": (lambda v, **k: np.minimum(np.maximum(v, v.dtype.type(0)), v.dtype.type(6)), {}),
    "elu": (lambda v, alpha=1.0, **k: np.where(v > 0, v, (np.exp(v) - 1) * v.dtype.type(alpha)),
            {"alpha": [0.5, 1.0, 2.0]}),
    "leaky_relu": (lambda v, negative_slope=0.01, **k: np.where(v > 0, v, v * v.dtype.type(negative_slope)),
                   {"negative_slope": [0.01, 0.2, -1.0]}),
    "hardtanh": (lambda v, min_val=-1.0, max_val=1.0, **k: np.where(
        np.isnan(v), v, np.minimum(np.maximum(v, v.dtype.type(min_val)), v.dtype.type(max_val))),
        {"min_val": [-1.0, -2.0, 0.5], "max_val": [1.0, 2.0]}),
    "hardsigmoid": (lambda v, **k: np.minimum(np.maximum(v + 3, v.dtype.type(0)), v.dtype.type(6)) / 6, {}),
    "hardswish": (lambda v, **k: v * np.minimum(np.maximum(v + 3, v.dtype.type(0)), v.dtype.type(6)) / 6, {}),
    "silu": (lambda v, **k: v / (1 + np.exp(-v)), {}),
    "mish": (lambda v, **k: v * np.tanh(np.log1p(np.exp(v))), {}),
    "gelu": (lambda v, approximate="none", **k: (
        v * 0.5 * (1 + _erf(v * v.dtype.type(1 / math.sqrt(2)))) if approximate == "none" else
        0.5 * v * (1 + np.tanh(v.dtype.type(math.sqrt(2 / math.pi)) * (v + v.dtype.type(0.044715) * v * v * v)))),
        {"approximate": ["none", "tanh"]}),
    "logsigmoid": (lambda v, **k: np.minimum(v, v.dtype.type(0)) - np.log1p(np.exp(-np.abs(v))), {}),
    "softplus": (lambda v, beta=1.0, threshold=20.0, **k: _softplus(v, beta, threshold),
                 {"beta": [1.0, 2.0, 0.5], "threshold": [20.0, 1.0]}),
    "sigmoid": (lambda v, **k: 1 / (1 + np.exp(-v)), {}),
    "tanh": (lambda v, **k: np.tanh(v), {}),
}


def _erf(v):
    import scipy.special as sp
    return sp.erf(v.astype(np.float64)).astype(v.dtype)


@st.composite
def _act_call(draw, name):
    x = draw(tensors(kinds=FLOATS))
    kw = {}
    for k, opts in ACT[name][1].items():
        if draw(st.booleans()):
            kw[k] = draw(st.sampled_from(opts))
    top = name in ("gelu", "silu", "softplus", "relu", "sigmoid", "tanh")
    form = draw(st.sampled_from(("F", "fn"))) if top else "F"
    return Call("F." + name, form, name, (x,), kw)


def _act_ref(call):
    x = call.args[0]
    with errstate():
        r = ACT[call.name][0](_kt(x), **call.kwargs)
    return Expect(R(np.asarray(r, dtype=np.float64), x.dtype, ulps=8, atol=8 * FINFO[x.dtype][0]))


# softmax family / normalize / cosine_similarity ---------------------------------------------


@st.composite
def _softmax_call(draw, name):
    x = draw(tensors(kinds=FLOATS, profile="nonfinite"))
    return Call("F." + name, "F", name, (x,), {"dim": draw(dims(x.ndim))})


def _softmax_ref(call):
    x = call.args[0]
    d = wrap_dim(call.kwargs["dim"], x.ndim, call.name)
    v = values(x)
    if call.name == "softmin":
        v = -v
    vv = v.reshape(1) if x.ndim == 0 else v
    with errstate():
        if vv.size:
            m = np.max(vv, axis=d, keepdims=True)
            e = np.exp(vv - m)
            s = np.sum(e, axis=d, keepdims=True)
            r = (vv - m) - np.log(s) if call.name == "log_softmax" else e / s
        else:
            r = vv
    return Expect(R(r.reshape(v.shape), x.dtype, ulps=8, atol=4 * FINFO[x.dtype][0]))


@st.composite
def _normalize_call(draw):
    x = draw(tensors(kinds=FLOATS, profile="finite", min_dims=1))
    kw = {}
    if draw(st.booleans()):
        kw["p"] = draw(st.sampled_from([1.0, 2.0, 3.0]))
    if draw(st.booleans()):
        kw["dim"] = draw(dims(x.ndim))
    return Call("F.normalize", "F", "normalize", (x,), kw)


def _normalize_ref(call):
    x = call.args[0]
    p = call.kwargs.get("p", 2.0)
    eps = float(round_to(1e-12, x.dtype))  # clamp_min converts eps to the dtype (0 in float16)
    d = wrap_dim(call.kwargs.get("dim", 1), x.ndim, "normalize")
    v = values(x)
    with errstate():
        n = np.sum(np.abs(v) ** p, axis=d, keepdims=True) ** (1 / p)
        r = v / np.maximum(n, eps)
    return Expect(R(r, x.dtype, ulps=8, atol=8 * FINFO[x.dtype][0]))


@st.composite
def _cosine_call(draw):
    sa, sb = draw(broadcast_shapes(2, min_dims=1, incompatible=False))
    dt = draw(st.sampled_from(FLOATS))
    a = draw(tensors(dtype=dt, shape=sa, profile="finite", lo=-4, hi=4))
    b = draw(tensors(dtype=dt, shape=sb, profile="finite", lo=-4, hi=4))
    nd = max(len(sa), len(sb))
    kw = {"dim": draw(dims(nd))} if draw(st.booleans()) else {}
    return Call("F.cosine_similarity", "F", "cosine_similarity", (a, b), kw)


def _cosine_ref(call):
    a, b = call.args
    shape = broadcast(a.shape, b.shape)
    d = wrap_dim(call.kwargs.get("dim", 1), len(shape), "cosine_similarity")
    if len(shape) == 0:
        raise Skip("cosine_similarity of 0-d tensors")
    av, bv = np.broadcast_to(values(a), shape), np.broadcast_to(values(b), shape)
    eps = 1e-8
    with errstate():
        w12 = np.sum(av * bv, axis=d)
        n1, n2 = np.sum(av * av, axis=d), np.sum(bv * bv, axis=d)
        if (np.abs(np.sqrt(n1 * n2) - eps) < 1e-3).any():
            raise Skip("norms at the eps clamp")
        r = w12 / np.sqrt(np.maximum(n1 * n2, eps * eps))
    return Expect(R(r, a.dtype, ulps=16, atol=16 * FINFO[a.dtype][0]))


# pad ----------------------------------------------------------------------------------------

_NONCONST_RANKS = {2: (2, 3), 4: (3, 4), 6: (4, 5)}


@st.composite
def _pad_call(draw):
    mode = draw(st.sampled_from(("constant", "constant", "reflect", "replicate", "circular")))
    x = draw(tensors(kinds=FLOATS if mode != "constant" else FLOATS + ("int64", "bool"),
                     shape=draw(shapes(min_dims=1, max_dims=4, max_side=4))))
    n = draw(st.integers(1, min(3, x.ndim)))
    pad = tuple(draw(st.integers(-2, 3)) for _ in range(2 * n))
    if draw(st.integers(0, 19)) == 0:
        pad = pad + (1,)
    kw = {"mode": mode} if mode != "constant" or draw(st.booleans()) else {}
    if mode == "constant" and draw(st.booleans()):
        kw["value"] = draw(st.sampled_from([0.0, 1.5, -2.0]))
    return Call("F.pad", "F", "pad", (x, pad), kw)


def _pad_ref(call):
    x, pad = call.args
    mode = call.kwargs.get("mode", "constant")
    if len(pad) % 2:
        raise Raises("RuntimeError", "ValueError", why="odd padding length")
    n = len(pad) // 2
    if n > x.ndim:
        raise Raises("RuntimeError", "ValueError", why="padding longer than the input's dims")
    v = values(x)
    widths = [(0, 0)] * (x.ndim - n) + [(pad[2 * i], pad[2 * i + 1]) for i in reversed(range(n))]
    if mode == "constant":
        for (l, r), s in zip(widths, x.shape):
            # negative amounts crop the input first (narrow), then the rest is padded
            if s + min(l, 0) + min(r, 0) < 0 or s + l + r < 0:
                raise Raises("RuntimeError", why="padding makes a negative size")
        val = call.kwargs.get("value", 0.0)
        if x.dtype not in FLOATS and val != int(val):
            raise Skip("a fractional pad value for an integer tensor")
        return Expect(R(_pad_crop(v, widths, "constant", val), x.dtype, ulps=0))
    if x.ndim not in _NONCONST_RANKS.get(len(pad), ()):
        raise Raises("NotImplementedError", "RuntimeError", "ValueError", why=f"{mode} pad rank")
    spatial = x.shape[x.ndim - n:]
    if mode != "circular" and 0 in x.shape[x.ndim - n - 1:]:
        raise Raises("RuntimeError", "IndexError", why=f"{mode} pad of an empty input")
    for (l, r), s in zip(widths[x.ndim - n:], spatial):
        if mode == "reflect" and (l >= s or r >= s):
            raise Raises("RuntimeError", why="reflect padding must be smaller than the input size")
        if mode == "circular" and (l > s or r > s):
            raise Raises("RuntimeError", why="circular padding must be at most the input size")
        if s + l + r < 1:
            raise Raises("RuntimeError", why="padding leaves an empty output")
    if mode == "circular" and any(l < 0 or r < 0 for l, r in widths):
        raise Skip("negative circular padding not encoded")
    if mode == "circular" and 0 in x.shape:
        raise Skip("circular pad of an empty input not encoded")
    np_mode = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}[mode]
    return Expect(R(_pad_crop(v, widths, np_mode), x.dtype, ulps=0))


def _pad_crop(v, widths, mode, value=0.0):
    pos = [(max(l, 0), max(r, 0)) for l, r in widths]
    kw = {"constant_values": value} if mode == "constant" else {}
    out = np.pad(v, pos, mode=mode, **kw) if v.size or mode == "constant" else np.zeros(
        [s + a + b for s, (a, b) in zip(v.shape, pos)])
    sl = tuple(slice(max(-l, 0), out.shape[i] - max(-r, 0)) for i, (l, r) in enumerate(widths))
    return out[sl]


# linear / layer_norm / rms_norm / embedding / dropout ----------------------------------------


@st.composite
def _linear_call(draw):
    dt = draw(st.sampled_from(FLOATS))
    lead = draw(shapes(max_dims=2, max_side=3))
    i, o = draw(st.integers(0, 4)), draw(st.integers(1, 4))
    x = draw(tensors(dtype=dt, shape=lead + (i,), profile="finite"))
    w = draw(tensors(dtype=dt, shape=(o, i if draw(st.integers(0, 9)) else i + 1), profile="finite"))
    args = (x, w)
    if draw(st.booleans()):
        args += (draw(tensors(dtype=dt, shape=draw(st.sampled_from([(o,), (), (o + 1,)])), profile="finite")),)
    return Call("F.linear", "F", "linear", args)


def _linear_ref(call):
    x, w = call.args[:2]
    b = call.args[2] if len(call.args) > 2 else None
    if x.shape[-1] != w.shape[1]:
        raise Raises("RuntimeError", why="linear: in-features differ")
    xv, wv = values(x), values(w)
    with errstate():
        r = xv @ wv.T
        scale = np.abs(xv) @ np.abs(wv).T * max(x.shape[-1], 1)
        if b is not None:
            broadcast(r.shape, b.shape)
            if b.ndim and b.shape[0] != w.shape[0]:
                raise Raises("RuntimeError", why="linear: bias size differs")
            r = r + values(b)
            scale = scale + np.abs(values(b))
    return Expect(R(r, x.dtype, ulps=8, scale=scale))


@st.composite
def _norm_call(draw, name):
    dt = draw(st.sampled_from(FLOATS))
    x = draw(tensors(dtype=dt, min_dims=1, profile="finite", lo=-4, hi=4))
    k = draw(st.integers(1, x.ndim))
    ns = tuple(x.shape[x.ndim - k:])
    if draw(st.integers(0, 9)) == 0:
        ns = ns[:-1] + (ns[-1] + 1,)
    args = (x, ns)
    if draw(st.booleans()):
        args += (draw(tensors(dtype=dt, shape=ns, profile="finite")),)
        if name == "layer_norm" and draw(st.booleans()):
            args += (draw(tensors(dtype=dt, shape=ns, profile="finite")),)
    return Call("F." + name, "F", name, args)


def _norm_ref(call):
    x, ns = call.args[:2]
    w = call.args[2] if len(call.args) > 2 else None
    b = call.args[3] if len(call.args) > 3 else None
    k = len(ns)
    if tuple(x.shape[x.ndim - k:]) != tuple(ns):
        raise Raises("RuntimeError", why="normalized_shape does not match the input's last dims")
    v = values(x)
    ax = tuple(range(x.ndim - k, x.ndim))
    with errstate():
        if call.name == "layer_norm":
            m = np.mean(v, axis=ax, keepdims=True)
            var = np.mean((v - m) ** 2, axis=ax, keepdims=True)
            r = (v - m) / np.sqrt(var + 1e-5)
        else:
            eps = FINFO[x.dtype][0]
            r = v / np.sqrt(np.mean(v * v, axis=ax, keepdims=True) + eps)
        if w is not None:
            r = r * values(w)
        if b is not None:
            r = r + values(b)
    return Expect(R(r, x.dtype, ulps=32, atol=32 * FINFO[x.dtype][0] * 8))


@st.composite
def _embedding_call(draw):
    n, d = draw(st.integers(1, 5)), draw(st.integers(0, 3))
    wt = draw(tensors(kinds=FLOATS, shape=(n, d)))
    idx = draw(index_tensors(draw(shapes(max_dims=2, max_side=3)), n,
                             dtype="int64" if draw(st.integers(0, 9)) else "int32"))
    return Call("F.embedding", "F", "embedding", (idx, wt))


def _embedding_ref(call):
    idx, wt = call.args
    iv = values(idx).astype(np.int64)
    if iv.size and (iv.min() < 0 or iv.max() >= wt.shape[0]):
        raise Raises("IndexError", "RuntimeError", why="embedding index out of range")
    return Expect(R(values(wt)[iv], wt.dtype, ulps=0))


@st.composite
def _dropout_call(draw):
    x = draw(tensors(kinds=FLOATS))
    p = draw(st.sampled_from([0.0, 1.0, 0.5, -0.1, 1.5]))
    training = draw(st.booleans())
    if p == 0.5 and training:
        training = False
    return Call("F.dropout", "F", "dropout", (x,), {"p": p, "training": training})


def _dropout_ref(call):
    x = call.args[0]
    p, training = call.kwargs["p"], call.kwargs["training"]
    if not 0 <= p <= 1:
        raise Raises("ValueError", why="dropout probability must be in [0, 1]")
    v = values(x)
    if not training or p == 0:
        return Expect(R(v, x.dtype, ulps=0))
    return Expect(R(v * 0.0, x.dtype, ulps=0))


OPS = (
    [OpSpec("F." + n, _act_call(n), _act_ref, "functional") for n in ACT]
    + [OpSpec("F." + n, _softmax_call(n), _softmax_ref, "functional") for n in ("softmax", "log_softmax", "softmin")]
    + [
        OpSpec("F.normalize", _normalize_call(), _normalize_ref, "functional"),
        OpSpec("F.cosine_similarity", _cosine_call(), _cosine_ref, "functional"),
        OpSpec("F.pad", _pad_call(), _pad_ref, "functional"),
    ]
    + [
        OpSpec("F.linear", _linear_call(), _linear_ref, "functional"),
        OpSpec("F.layer_norm", _norm_call("layer_norm"), _norm_ref, "functional"),
        OpSpec("F.rms_norm", _norm_call("rms_norm"), _norm_ref, "functional"),
        OpSpec("F.embedding", _embedding_call(), _embedding_ref, "functional"),
        OpSpec("F.dropout", _dropout_call(), _dropout_ref, "functional"),
    ]
)
