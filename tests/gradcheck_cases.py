"""Gradients against central finite differences in float64, shared by the autograd tests."""
from __future__ import annotations

import numpy as np

import deepseek as ds
from deepseek import autograd


# ---------------------------------------------------------------- finite differences

def _leaf(a, layout):
    """A float64 leaf holding ``a`` and the view of it the op sees (same values)."""
    if layout == "perm" and a.ndim >= 2:
        rev = tuple(range(a.ndim))[::-1]
        leaf = ds.tensor(np.ascontiguousarray(a.transpose(rev)), dtype=ds.float64, requires_grad=True)
        return leaf, lambda t: t.permute(*rev)
    if layout == "step" and a.ndim >= 1:
        big = np.repeat(a, 2, axis=-1)
        leaf = ds.tensor(big, dtype=ds.float64, requires_grad=True)
        return leaf, lambda t: t[..., ::2]
    leaf = ds.tensor(a, dtype=ds.float64, requires_grad=True)
    return leaf, lambda t: t


def grad_check(fn, arrays, rng, layout="contig", eps=1e-6, rtol=1e-5, atol=1e-7):
    """Compares autograd's vector-Jacobian product (a random cotangent) with central
    differences of the same scalar, for every input."""
    leaves, views = zip(*[_leaf(np.asarray(a, dtype=np.float64), layout) for a in arrays])

    def run(ts):
        out = fn(*[v(t) for v, t in zip(views, ts)])
        return out if isinstance(out, (tuple, list)) else (out,)

    outs = run(leaves)
    ws = [rng.standard_normal(tuple(o.shape)) for o in outs]
    loss = None
    for o, w in zip(outs, ws):
        term = (o * ds.tensor(w, dtype=ds.float64)).sum()
        loss = term if loss is None else loss + term
    grads = autograd.grad(loss, list(leaves), allow_unused=True)
    for i, (leaf, g) in enumerate(zip(leaves, grads)):
        base = leaf.detach().numpy().copy()
        num = np.zeros(base.size)
        for k in range(base.size):
            vals = []
            for sgn in (1, -1):
                p = base.copy().reshape(-1)
                p[k] += sgn * eps
                ts = list(leaves)
                ts[i] = ds.tensor(p.reshape(base.shape), dtype=ds.float64)
                with ds.no_grad():
                    o2 = run(ts)
                vals.append(sum(float((np.asarray(o.detach()).astype(np.float64) * w).sum()) for o, w in zip(o2, ws)))
            num[k] = (vals[0] - vals[1]) / (2 * eps)
        got = np.zeros(base.size) if g is None else np.asarray(g.detach()).astype(np.float64).reshape(-1)
        if g is not None:
            assert tuple(g.shape) == tuple(leaf.shape), (tuple(g.shape), tuple(leaf.shape))
            assert g.dtype == ds.float64
        np.testing.assert_allclose(got, num, rtol=rtol, atol=atol, err_msg=f"gradient of input {i}")


def rand(rng, shape, lo=-2.0, hi=2.0):
    return rng.uniform(lo, hi, size=shape)


def away_from_int(rng, shape):
    return np.floor(rand(rng, shape, -3, 3)) + rng.uniform(0.2, 0.8, size=shape)
