"""nn.functional losses: mse/l1/smooth_l1/huber (broadcasting, reductions, empty
inputs), binary cross entropy (with logits), nll_loss and cross_entropy (ignore_index,
label_smoothing, targets out of range)."""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from ..case import FLOATS, Call
from ..expect import R, Expect, Raises
from ..strategies import broadcast_shapes, index_tensors, shapes, tensors
from . import OpSpec
from ._common import broadcast, errstate, values


def _reduce(loss, reduction, dtype, scale=None):
    """A loss reduced as ``reduction`` says; ``scale`` is the magnitude of each element's
    intermediates (a composite computed in float16 rounds at every step)."""
    scale = np.abs(loss) if scale is None else scale
    with errstate():
        if reduction == "none":
            return R(loss, dtype, ulps=8, scale=scale * 4)
        s = np.sum(loss)
        if reduction == "sum":
            return R(s, dtype, ulps=8, scale=np.sum(scale) * max(loss.size, 1))
        return R(s / loss.size if loss.size else np.nan, dtype, ulps=8,
                 scale=np.mean(scale) * max(loss.size, 1) if loss.size else 0.0)


LOSSES = {
    "mse_loss": lambda a, b, **k: (a - b) ** 2,
    "l1_loss": lambda a, b, **k: np.abs(a - b),
    "smooth_l1_loss": lambda a, b, beta=1.0, **k: (
        np.where(np.abs(a - b) < beta, 0.5 * (a - b) ** 2 / beta, np.abs(a - b) - 0.5 * beta) if beta else np.abs(a - b)),
    "huber_loss": lambda a, b, delta=1.0, **k: np.where(
        np.abs(a - b) < delta, 0.5 * (a - b) ** 2, delta * (np.abs(a - b) - 0.5 * delta)),
}


@st.composite
def _loss_call(draw, name):
    sa, sb = draw(broadcast_shapes(2, incompatible=True))
    if draw(st.booleans()):
        sb = sa
    dt = draw(st.sampled_from(FLOATS))
    a = draw(tensors(dtype=dt, shape=sa, profile="nonfinite"))
    b = draw(tensors(dtype=dt, shape=sb, profile="nonfinite"))
    kw = {}
    if draw(st.booleans()):
        kw["reduction"] = draw(st.sampled_from(("mean", "sum", "none")))
    if name == "smooth_l1_loss" and draw(st.booleans()):
        kw["beta"] = draw(st.sampled_from([1.0, 0.5, 0.0]))
    if name == "huber_loss" and draw(st.booleans()):
        kw["delta"] = draw(st.sampled_from([1.0, 0.5, 2.0]))
    return Call("F." + name, "F", name, (a, b), kw)


def _loss_ref(call):
    a, b = call.args
    shape = broadcast(a.shape, b.shape)
    av, bv = np.broadcast_to(values(a), shape), np.broadcast_to(values(b), shape)
    params = {k: v for k, v in call.kwargs.items() if k != "reduction"}
    with errstate():
        loss = LOSSES[call.name](av, bv, **params)
    return Expect(_reduce(loss, call.kwargs.get("reduction", "mean"), a.dtype))


@st.composite
def _bce_call(draw, name):
    dt = draw(st.sampled_from(FLOATS))
    sh = draw(shapes(max_dims=3))
    if name == "binary_cross_entropy":
        x = draw(tensors(dtype=dt, shape=sh, profile="finite", lo=0.0 if draw(st.integers(0, 9)) else -0.5, hi=1.0))
    else:
        x = draw(tensors(dtype=dt, shape=sh, profile="nonfinite"))
    tsh = sh if draw(st.integers(0, 9)) else draw(shapes(max_dims=3))
    t = draw(tensors(dtype=dt, shape=tsh, profile="finite", lo=0.0, hi=1.0))
    kw = {"reduction": draw(st.sampled_from(("mean", "sum", "none")))} if draw(st.booleans()) else {}
    return Call("F." + name, "F", name, (x, t), kw)


def _bce_ref(call):
    x, t = call.args
    if x.shape != t.shape:
        raise Raises("ValueError", "RuntimeError", why="target and input sizes differ")
    xv, tv = values(x), values(t)
    with errstate():
        if call.name == "binary_cross_entropy":
            if xv.size and ((xv < 0) | (xv > 1)).any():
                raise Raises("RuntimeError", "ValueError", why="input must be in [0, 1]")
            loss = -(tv * np.maximum(np.log(xv), -100) + (1 - tv) * np.maximum(np.log1p(-xv), -100))
            scale = np.abs(loss) + 1
        else:
            loss = (1 - tv) * xv + np.log1p(np.exp(-np.abs(xv))) + np.maximum(-xv, 0)
            scale = np.abs(xv) + 1
    return Expect(_reduce(loss, call.kwargs.get("reduction", "mean"), x.dtype, scale))


@st.composite
def _nll_call(draw, name):
    dt = draw(st.sampled_from(FLOATS))
    n, c = draw(st.integers(0, 4)), draw(st.integers(1, 4))
    x = draw(tensors(dtype=dt, shape=(n, c), profile="finite"))
    tgt = draw(index_tensors((n,), c, views=("contiguous",)))
    kw = {}
    if draw(st.booleans()):
        kw["reduction"] = draw(st.sampled_from(("mean", "sum", "none")))
    if draw(st.integers(0, 3)) == 0:
        kw["ignore_index"] = draw(st.sampled_from([0, 1, -100]))
    if name == "cross_entropy" and draw(st.integers(0, 3)) == 0:
        kw["label_smoothing"] = draw(st.sampled_from([0.1, 0.5]))
    return Call("F." + name, "F", name, (x, tgt), kw)


def _nll_ref(call):
    x, tgt = call.args
    n, c = x.shape
    ig = call.kwargs.get("ignore_index", -100)
    red = call.kwargs.get("reduction", "mean")
    ls = call.kwargs.get("label_smoothing", 0.0)
    tv = values(tgt).astype(np.int64)
    keep = tv != ig
    if ((tv[keep] < 0) | (tv[keep] >= c)).any():
        raise Raises("IndexError", "RuntimeError", why="target out of bounds")
    v = values(x)
    with errstate():
        if call.name == "cross_entropy":
            m = np.max(v, axis=1, keepdims=True) if v.size else v
            logp = v - m - np.log(np.sum(np.exp(v - m), axis=1, keepdims=True)) if v.size else v
        else:
            logp = v
        picked = np.where(keep, -logp[np.arange(n), np.where(keep, tv, 0)], 0.0) if n else np.zeros(0)
        if ls:
            smooth = np.where(keep, -np.sum(logp, axis=1), 0.0) if n else np.zeros(0)
            per = (1 - ls) * picked + ls / c * smooth
        else:
            per = picked
        # the log-sum-exp is formed at the inputs' magnitude, so its rounding is relative to that
        mag = np.where(keep, np.max(np.abs(v), axis=1) + 1, 0.0) if n else np.zeros(0)
        if red == "none":
            return Expect(R(per, x.dtype, ulps=16, scale=(np.abs(per) + mag) * 4))
        if red == "sum":
            return Expect(R(np.sum(per), x.dtype, ulps=16, scale=np.sum(np.abs(per) + mag) * 4))
        cnt = int(keep.sum())
        if ls and cnt:
            r = np.sum(per) / cnt
        else:
            r = np.sum(per) / cnt if cnt else np.nan
        return Expect(R(r, x.dtype, ulps=16, scale=np.sum(np.abs(per) + mag) * 4 / max(cnt, 1)))


OPS = (
    [OpSpec("F." + n, _loss_call(n), _loss_ref, "functional") for n in LOSSES]
    + [
        OpSpec("F.binary_cross_entropy", _bce_call("binary_cross_entropy"), _bce_ref, "functional"),
        OpSpec("F.binary_cross_entropy_with_logits", _bce_call("binary_cross_entropy_with_logits"), _bce_ref,
               "functional"),
        OpSpec("F.nll_loss", _nll_call("nll_loss"), _nll_ref, "functional"),
        OpSpec("F.cross_entropy", _nll_call("cross_entropy"), _nll_ref, "functional"),
    ]
)
