"""``kl_divergence(p, q)`` with closed forms registered per pair of distribution types."""
from __future__ import annotations

import math

from .. import _ops
from .continuous import Beta, Dirichlet, Gamma, MultivariateNormal, Normal, Uniform, solve_lower
from .discrete import Bernoulli, Categorical

_KL = {}


def register_kl(type_p, type_q):
    """register_kl(type_p, type_q): a decorator registering ``fn(p, q)`` as KL(p || q)."""
    def deco(fn):
        _KL[(type_p, type_q)] = fn
        return fn

    return deco


def kl_divergence(p, q):
    """kl_divergence(p, q) -> Tensor: KL(p || q), batched over the distributions' batch shape."""
    for (tp, tq), fn in _KL.items():
        if isinstance(p, tp) and isinstance(q, tq):
            return fn(p, q)
    raise NotImplementedError(f"No KL(p || q) is implemented for p type {type(p).__name__} and q type {type(q).__name__}")


@register_kl(Normal, Normal)
def _kl_normal(p, q):
    vr = (p.scale / q.scale) ** 2
    t1 = ((p.loc - q.loc) / q.scale) ** 2
    return 0.5 * (vr + t1 - 1 - _ops.log(vr))


@register_kl(Uniform, Uniform)
def _kl_uniform(p, q):
    r = _ops.log((q.high - q.low) / (p.high - p.low))
    inside = (q.low <= p.low) & (q.high >= p.high)
    return _ops.where(inside, r, float("inf"))


@register_kl(Bernoulli, Bernoulli)
def _kl_bernoulli(p, q):
    from .._math_extra import xlogy

    a = xlogy(p.probs, p.probs) - xlogy(p.probs, q.probs)
    b = xlogy(1 - p.probs, 1 - p.probs) - xlogy(1 - p.probs, 1 - q.probs)
    return a + b


@register_kl(Categorical, Categorical)
def _kl_categorical(p, q):
    t = p.probs * (p.logits - q.logits)
    t = _ops.where(p.probs == 0, 0.0, t).to(t.dtype)
    t = _ops.where((q.probs == 0) & (p.probs > 0), float("inf"), t).to(t.dtype)
    return t.sum(-1)


@register_kl(Gamma, Gamma)
def _kl_gamma(p, q):
    a1, b1, a2, b2 = p.concentration, p.rate, q.concentration, q.rate
    return ((a1 - a2) * _ops.digamma(a1) - _ops.lgamma(a1) + _ops.lgamma(a2) + a2 * (_ops.log(b1) - _ops.log(b2))
            + a1 * (b2 - b1) / b1)


@register_kl(Beta, Beta)
def _kl_beta(p, q):
    a1, b1, a2, b2 = p.concentration1, p.concentration0, q.concentration1, q.concentration0
    lb = lambda a, b: _ops.lgamma(a) + _ops.lgamma(b) - _ops.lgamma(a + b)  # noqa: E731
    return (lb(a2, b2) - lb(a1, b1) + (a1 - a2) * _ops.digamma(a1) + (b1 - b2) * _ops.digamma(b1)
            + (a2 - a1 + b2 - b1) * _ops.digamma(a1 + b1))


@register_kl(Dirichlet, Dirichlet)
def _kl_dirichlet(p, q):
    a, b = p.concentration, q.concentration
    a0, b0 = a.sum(-1), b.sum(-1)
    return (_ops.lgamma(a0) - _ops.lgamma(a).sum(-1) - _ops.lgamma(b0) + _ops.lgamma(b).sum(-1)
            + ((a - b) * (_ops.digamma(a) - _ops.digamma(a0).unsqueeze(-1))).sum(-1))


@register_kl(MultivariateNormal, MultivariateNormal)
def _kl_mvn(p, q):
    n = p.event_shape[0]
    L1, L2 = p.scale_tril, q.scale_tril
    batch = _ops.broadcast_shapes(tuple(L1.shape[:-2]), tuple(L2.shape[:-2]))
    L1 = L1.expand(*batch, n, n)
    L2 = L2.expand(*batch, n, n)
    # tr(S2^-1 S1) = ||L2^-1 L1||_F^2, one column of L1 at a time
    tr = sum((solve_lower(L2, L1[..., :, j]) ** 2).sum(-1) for j in range(n))
    diff = (q.loc - p.loc).expand(*batch, n)
    quad = (solve_lower(L2, diff) ** 2).sum(-1)
    logdet = 2 * (_ops.log(_diag(L2)).sum(-1) - _ops.log(_diag(L1)).sum(-1))
    return 0.5 * (tr + quad - n + logdet)


def _diag(L):
    from .._shape_extra import diagonal

    return diagonal(L, 0, -2, -1)


del math
