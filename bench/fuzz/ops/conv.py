"""nn.functional convolutions: conv1d/conv2d with stride, padding (ints, 'same', 'valid'),
dilation, groups, bias, empty batches, unbatched inputs, and PyTorch's refusals (kernel larger
than the padded input, channels not divisible by groups, dtypes that differ, non-positive
stride or dilation, negative padding)."""
from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st

from ..case import FLOATS, Call
from ..expect import R, Expect, Raises
from ..strategies import tensors
from . import OpSpec
from ._common import errstate, values


@st.composite
def _conv_call(draw, nsp):
    dt = draw(st.sampled_from(FLOATS))
    groups = draw(st.sampled_from([1, 1, 2]))
    cin = groups * draw(st.integers(1, 2))
    cout = groups * draw(st.integers(1, 2))
    batch = draw(st.sampled_from([(), (1,), (2,), (0,)]))
    sp = tuple(draw(st.integers(1, 5)) for _ in range(nsp))
    k = tuple(draw(st.integers(1, 3)) for _ in range(nsp))
    if draw(st.integers(0, 9)) == 0:
        cin += 1  # channels that do not fit the weight
    x = draw(tensors(dtype=dt, shape=batch + (cin,) + sp, profile="finite"))
    wdt = dt if draw(st.integers(0, 9)) else draw(st.sampled_from(FLOATS))
    w = draw(tensors(dtype=wdt, shape=(cout, (cin if draw(st.integers(0, 9)) else cin + 1) // groups) + k,
                     profile="finite"))
    args = (x, w)
    if draw(st.booleans()):
        args += (draw(tensors(dtype=dt, shape=(cout,), profile="finite")),)
    kw = {}
    if draw(st.booleans()):
        kw["stride"] = draw(st.sampled_from([1, 2, 0])) if draw(st.integers(0, 4)) else 0
    if draw(st.booleans()):
        kw["padding"] = draw(st.sampled_from([0, 1, 2, -1, "same", "valid"]))
    if draw(st.booleans()):
        kw["dilation"] = draw(st.sampled_from([1, 2]))
    if groups > 1:
        kw["groups"] = groups
    return Call(f"F.conv{nsp}d", "F", f"conv{nsp}d", args, kw)


def _conv_ref(call):
    x, w = call.args[:2]
    b = call.args[2] if len(call.args) > 2 else None
    nsp = w.ndim - 2
    kw = call.kwargs
    s, p, d, g = kw.get("stride", 1), kw.get("padding", 0), kw.get("dilation", 1), kw.get("groups", 1)
    if x.ndim not in (nsp + 1, nsp + 2):
        raise Raises("RuntimeError", why="conv input rank")
    if p == "same" and s != 1:  # checked first, where the string padding is resolved
        raise Raises("RuntimeError", why="padding='same' is not supported for strided convolutions")
    if s <= 0:
        raise Raises("RuntimeError", why="non-positive stride")
    if isinstance(p, int) and p < 0:
        raise Raises("RuntimeError", why="negative padding")
    batched = x.ndim == nsp + 2
    xv = values(x) if batched else values(x)[None]
    cin = xv.shape[1]
    if cin != w.shape[1] * g:
        raise Raises("RuntimeError", why="input channels do not match the weight's times groups")
    if x.dtype != w.dtype or (b is not None and b.dtype != x.dtype):
        raise Raises("RuntimeError", why="conv operands of different dtypes")
    k = w.shape[2:]
    if p == "valid":
        pads = [(0, 0)] * nsp
    elif p == "same":
        pads = [(d * (ki - 1) // 2, d * (ki - 1) - d * (ki - 1) // 2) for ki in k]
    else:
        pads = [(p, p)] * nsp
    sp = xv.shape[2:]
    eff = [d * (ki - 1) + 1 for ki in k]
    if any(n + a + c < e for n, (a, c), e in zip(sp, pads, eff)):
        raise Raises("RuntimeError", why="kernel larger than the padded input")
    out = [(n + a + c - e) // s + 1 for n, (a, c), e in zip(sp, pads, eff)]
    xp = np.pad(xv, [(0, 0), (0, 0)] + list(pads))
    wv = values(w)
    cout = w.shape[0]
    og, ig = cout // g, cin // g
    r = np.zeros((xv.shape[0], cout) + tuple(out))
    scale = np.zeros_like(r)
    with errstate():
        for o in np.ndindex(*out):
            sl = tuple(slice(oi * s, oi * s + e, d) for oi, e in zip(o, eff))
            for gi in range(g):
                win = xp[(slice(None), slice(gi * ig, (gi + 1) * ig)) + sl]  # [N, ig, *k]
                wg = wv[gi * og:(gi + 1) * og]  # [og, ig, *k]
                axes = tuple(range(1, 2 + nsp))
                r[(slice(None), slice(gi * og, (gi + 1) * og)) + o] = np.tensordot(win, wg, axes=(axes, axes))
                scale[(slice(None), slice(gi * og, (gi + 1) * og)) + o] = np.tensordot(
                    np.abs(win), np.abs(wg), axes=(axes, axes))
        if b is not None:
            bv = values(b).reshape((1, cout) + (1,) * nsp)
            r, scale = r + bv, scale + np.abs(bv)
    if not batched:
        r, scale = r[0], scale[0]
    n_terms = ig * math.prod(k)
    return Expect(R(r, x.dtype, ulps=8, scale=scale * max(n_terms, 1)))


OPS = [
    OpSpec("F.conv1d", _conv_call(1), _conv_ref, "functional"),
    OpSpec("F.conv2d", _conv_call(2), _conv_ref, "functional"),
]
