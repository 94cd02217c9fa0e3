"""Normal, Uniform, Gamma, Beta, Dirichlet and MultivariateNormal."""
from __future__ import annotations

import math

from .. import _core, _creation, _ops, _random
from .._core import Tensor
from .._dtype import Size, get_default_dtype
from ..autograd.function import Function
from .._shape_extra import diagonal
from .distribution import Distribution, broadcast_all, check_positive

_LOG_2PI = math.log(2 * math.pi)


def _shape(sample_shape, batch):
    return list(Size(sample_shape)) + list(batch)


def _randn(shape, like):
    return _random.randn(*shape, dtype=like.dtype, device=like.device) if shape else \
        _random.randn(1, dtype=like.dtype, device=like.device).reshape(())


def _rand(shape, like):
    return _random.rand(*shape, dtype=like.dtype, device=like.device) if shape else \
        _random.rand(1, dtype=like.dtype, device=like.device).reshape(())


class Normal(Distribution):
    """Normal(loc, scale): the Gaussian with mean ``loc`` and standard deviation ``scale``."""

    has_rsample = True
    arg_constraints = {"loc": "real", "scale": "positive"}
    support = "real"

    def __init__(self, loc, scale, validate_args=None):
        self.loc, self.scale = broadcast_all(loc, scale)
        super().__init__(self.loc.shape, validate_args=validate_args)

    def _check_params(self):
        check_positive("scale", self, self.scale)

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    @property
    def stddev(self):
        return self.scale

    @property
    def variance(self):
        return self.scale * self.scale

    def rsample(self, sample_shape=Size()):
        return self.loc + _randn(_shape(sample_shape, self.batch_shape), self.loc) * self.scale

    def log_prob(self, value):
        return -((value - self.loc) ** 2) / (2 * self.variance) - _ops.log(self.scale) - 0.5 * _LOG_2PI

    def cdf(self, value):
        return 0.5 * (1 + _ops.erf((value - self.loc) / (self.scale * math.sqrt(2))))

    def icdf(self, value):
        from ..special import erfinv

        return self.loc + self.scale * math.sqrt(2) * erfinv(2 * value - 1)

    def entropy(self):
        return 0.5 + 0.5 * _LOG_2PI + _ops.log(self.scale)


class Uniform(Distribution):
    """Uniform(low, high): uniform on ``[low, high)``."""

    has_rsample = True
    arg_constraints = {"low": "real", "high": "real"}

    def __init__(self, low, high, validate_args=None):
        self.low, self.high = broadcast_all(low, high)
        super().__init__(self.low.shape, validate_args=validate_args)

    def _check_params(self):
        if not bool((self.low < self.high).all()):
            raise ValueError(f"Expected parameter low of distribution Uniform to be less than high, got low={self.low}, "
                             f"high={self.high}")

    @property
    def support(self):
        return f"Interval({self.low}, {self.high})"

    @property
    def mean(self):
        return (self.high + self.low) / 2

    @property
    def variance(self):
        return (self.high - self.low) ** 2 / 12

    def rsample(self, sample_shape=Size()):
        return self.low + _rand(_shape(sample_shape, self.batch_shape), self.low) * (self.high - self.low)

    def log_prob(self, value):
        self._validate_sample(value, lambda v: (v >= self.low) & (v < self.high))
        inside = (value >= self.low) & (value < self.high)
        lp = -_ops.log(self.high - self.low)
        return _ops.where(inside, lp, float("-inf"))

    def cdf(self, value):
        return _ops.clamp((value - self.low) / (self.high - self.low), 0, 1)

    def icdf(self, value):
        return self.low + value * (self.high - self.low)

    def entropy(self):
        return _ops.log(self.high - self.low)


# ---------------- gamma family ----------------

def _standard_gamma_sample(alpha):
    """Gamma(alpha, 1) draws by Marsaglia and Tsang's method (boosted for alpha < 1), vectorized:
    proposals are redrawn only where rejected."""
    from ..autograd import no_grad

    with no_grad():
        a = alpha.detach()
        boost = a < 1
        a1 = _ops.where(boost, a + 1, a)
        d = a1 - 1.0 / 3
        c = 1.0 / _ops.sqrt(9 * d)
        out = _creation.zeros_like(a)
        todo = _creation.ones_like(a, dtype="bool")
        for _ in range(100):
            if not bool(todo.any()):
                break
            z = _randn(list(a.shape), a)
            u = _rand(list(a.shape), a)
            v = (1 + c * z) ** 3
            vs = _ops.where(v > 0, v, 1.0)
            ok = (v > 0) & (_ops.log(u) < 0.5 * z * z + d - d * vs + d * _ops.log(vs))
            take = ok & todo
            out = _ops.where(take, d * vs, out)
            todo = todo & ~ok
        u = _rand(list(a.shape), a)
        out = _ops.where(boost, out * _ops.pow(u, 1.0 / a), out)
        tiny = 1e-38 if a.dtype.name != "float64" else 1e-300
        return _ops.clamp(out, min=tiny)


def _log_igamma(a, x):
    """log P(a, x), the regularized lower incomplete gamma function, in NumPy float64 (series
    below x < a + 1, Lentz's continued fraction above)."""
    import numpy as np
    from math import lgamma

    a = np.asarray(a, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    out = np.empty(np.broadcast(a, x).shape)
    for idx in np.ndindex(out.shape):
        ai, xi = float(a[idx] if a.ndim else a), float(x[idx] if x.ndim else x)
        if xi <= 0:
            out[idx] = -np.inf
            continue
        lead = -xi + ai * math.log(xi) - lgamma(ai)
        if xi < ai + 1:
            term = s = 1.0 / ai
            ap = ai
            for _ in range(1000):
                ap += 1
                term *= xi / ap
                s += term
                if abs(term) < abs(s) * 1e-17:
                    break
            out[idx] = lead + math.log(s)
        else:
            b = xi + 1 - ai
            c, d = 1e300, 1 / b
            h = d
            for i in range(1, 1000):
                an = -i * (i - ai)
                b += 2
                d = an * d + b
                d = 1e-300 if abs(d) < 1e-300 else d
                c = b + an / c
                c = 1e-300 if abs(c) < 1e-300 else c
                d = 1 / d
                delta = d * c
                h *= delta
                if abs(delta - 1) < 1e-17:
                    break
            q = math.exp(lead) * h
            out[idx] = math.log1p(-q) if q < 1 else -np.inf
    return out


class _StandardGamma(Function):
    """A Gamma(alpha, 1) draw whose gradient in alpha is the implicit reparameterization
    ``dx/dalpha = -(dP(alpha, x)/dalpha) / p(x; alpha)`` (P the gamma CDF)."""

    @staticmethod
    def forward(ctx, alpha):
        x = _standard_gamma_sample(alpha)
        ctx.save_for_backward(alpha, x)
        return x

    @staticmethod
    def backward(ctx, g):
        import numpy as np
        from math import lgamma

        alpha, x = ctx.saved_tensors
        a = alpha.detach().cpu().numpy().astype(np.float64)
        xv = x.detach().cpu().numpy().astype(np.float64)
        h = 1e-5 * np.maximum(a, 1e-3)
        cdf = lambda aa: np.exp(_log_igamma(aa, xv))  # noqa: E731
        dP = (cdf(a + h) - cdf(a - h)) / (2 * h)
        logpdf = (a - 1) * np.log(xv) - xv - np.vectorize(lgamma)(a)
        dx = -dP / np.exp(logpdf)
        return g * _creation.tensor(dx, dtype=alpha.dtype, device=alpha.device)


def _rsample_gamma(alpha):
    return _StandardGamma.apply(alpha) if alpha.requires_grad else _standard_gamma_sample(alpha)


class Gamma(Distribution):
    """Gamma(concentration, rate): density ``rate^a x^(a-1) e^(-rate x) / Gamma(a)``."""

    has_rsample = True
    arg_constraints = {"concentration": "positive", "rate": "positive"}
    support = "nonnegative"

    def __init__(self, concentration, rate, validate_args=None):
        self.concentration, self.rate = broadcast_all(concentration, rate)
        super().__init__(self.concentration.shape, validate_args=validate_args)

    def _check_params(self):
        check_positive("concentration", self, self.concentration)
        check_positive("rate", self, self.rate)

    @property
    def mean(self):
        return self.concentration / self.rate

    @property
    def mode(self):
        return _ops.clamp((self.concentration - 1) / self.rate, min=0)

    @property
    def variance(self):
        return self.concentration / self.rate ** 2

    def rsample(self, sample_shape=Size()):
        shape = _shape(sample_shape, self.batch_shape)
        a = self.concentration.expand(shape)
        return _rsample_gamma(a) / self.rate.expand(shape)

    def log_prob(self, value):
        self._validate_sample(value, lambda v: v >= 0)
        a, b = self.concentration, self.rate
        return a * _ops.log(b) + (a - 1) * _ops.log(value) - b * value - _ops.lgamma(a)

    def entropy(self):
        a = self.concentration
        return a - _ops.log(self.rate) + _ops.lgamma(a) + (1 - a) * _ops.digamma(a)


class Dirichlet(Distribution):
    """Dirichlet(concentration): a distribution over the simplex (event dim: the last)."""

    has_rsample = True
    arg_constraints = {"concentration": "positive"}
    support = "simplex"

    def __init__(self, concentration, validate_args=None):
        if not isinstance(concentration, Tensor) or concentration.ndim < 1:
            raise ValueError("`concentration` parameter must be at least one-dimensional.")
        self.concentration = concentration if concentration.dtype.is_floating_point else concentration.to(get_default_dtype())
        super().__init__(concentration.shape[:-1], concentration.shape[-1:], validate_args=validate_args)

    def _check_params(self):
        check_positive("concentration", self, self.concentration)

    @property
    def mean(self):
        return self.concentration / self.concentration.sum(-1, keepdim=True)

    @property
    def variance(self):
        a0 = self.concentration.sum(-1, keepdim=True)
        return self.concentration * (a0 - self.concentration) / (a0 ** 2 * (a0 + 1))

    def rsample(self, sample_shape=Size()):
        shape = _shape(sample_shape, tuple(self.batch_shape) + tuple(self.event_shape))
        g = _rsample_gamma(self.concentration.expand(shape))
        return g / g.sum(-1, keepdim=True)

    def log_prob(self, value):
        a = self.concentration
        return ((a - 1) * _ops.log(value)).sum(-1) + _ops.lgamma(a.sum(-1)) - _ops.lgamma(a).sum(-1)

    def entropy(self):
        a = self.concentration
        k = a.shape[-1]
        a0 = a.sum(-1)
        return (_ops.lgamma(a).sum(-1) - _ops.lgamma(a0) - (k - a0) * _ops.digamma(a0)
                - ((a - 1) * _ops.digamma(a)).sum(-1))


class Beta(Distribution):
    """Beta(concentration1, concentration0): density ``x^(a-1) (1-x)^(b-1) / B(a, b)`` on (0, 1)."""

    has_rsample = True
    arg_constraints = {"concentration1": "positive", "concentration0": "positive"}
    support = "unit_interval"

    def __init__(self, concentration1, concentration0, validate_args=None):
        self.concentration1, self.concentration0 = broadcast_all(concentration1, concentration0)
        super().__init__(self.concentration1.shape, validate_args=validate_args)

    def _check_params(self):
        check_positive("concentration1", self, self.concentration1)
        check_positive("concentration0", self, self.concentration0)

    @property
    def mean(self):
        return self.concentration1 / (self.concentration1 + self.concentration0)

    @property
    def variance(self):
        a, b = self.concentration1, self.concentration0
        t = a + b
        return a * b / (t * t * (t + 1))

    def rsample(self, sample_shape=Size()):
        shape = _shape(sample_shape, self.batch_shape)
        x = _rsample_gamma(self.concentration1.expand(shape))
        y = _rsample_gamma(self.concentration0.expand(shape))
        return x / (x + y)

    def log_prob(self, value):
        a, b = self.concentration1, self.concentration0
        lbeta = _ops.lgamma(a) + _ops.lgamma(b) - _ops.lgamma(a + b)
        return (a - 1) * _ops.log(value) + (b - 1) * _ops.log1p(-value) - lbeta

    def entropy(self):
        a, b = self.concentration1, self.concentration0
        lbeta = _ops.lgamma(a) + _ops.lgamma(b) - _ops.lgamma(a + b)
        return lbeta - (a - 1) * _ops.digamma(a) - (b - 1) * _ops.digamma(b) + (a + b - 2) * _ops.digamma(a + b)


# ---------------- multivariate normal ----------------

def cholesky(a):
    """The lower Cholesky factor of (a batch of) symmetric positive-definite matrices, column by
    column from primitives (differentiable; for the small event sizes distributions use)."""
    n = a.shape[-1]
    cols = []
    for j in range(n):
        col = a[..., :, j]
        for k, ck in enumerate(cols):
            col = col - ck * ck[..., j:j + 1]
        d = col[..., j:j + 1]
        if bool((d <= 0).any()):
            raise ValueError("Expected the covariance matrix to be positive definite (its Cholesky factorization failed)")
        col = col / _ops.sqrt(d)
        mask = (_creation.arange(n, device=a.device) >= j).to(a.dtype)
        cols.append(col * mask)
    return _ops.stack(cols, -1)


def solve_lower(L, b):
    """``L^{-1} b`` for lower-triangular ``L`` [..., n, n] and ``b`` [..., n], by forward substitution."""
    n = L.shape[-1]
    xs = []
    for i in range(n):
        s = b[..., i]
        for k in range(i):
            s = s - L[..., i, k] * xs[k]
        xs.append(s / L[..., i, i])
    return _ops.stack(xs, -1)


class MultivariateNormal(Distribution):
    """MultivariateNormal(loc, covariance_matrix=None, precision_matrix=None, scale_tril=None)."""

    has_rsample = True
    arg_constraints = {"loc": "real_vector"}
    support = "real_vector"

    def __init__(self, loc, covariance_matrix=None, precision_matrix=None, scale_tril=None, validate_args=None):
        if loc.ndim < 1:
            raise ValueError("loc must be at least one-dimensional.")
        given = [m is not None for m in (covariance_matrix, precision_matrix, scale_tril)]
        if sum(given) != 1:
            raise ValueError("Exactly one of covariance_matrix or precision_matrix or scale_tril may be specified.")
        if scale_tril is not None:
            L = scale_tril
        elif covariance_matrix is not None:
            L = cholesky(covariance_matrix)
        else:
            # Sigma = P^{-1}: invert through the Cholesky factor of P (columns of L_P^{-T} L_P^{-1})
            Lp = cholesky(precision_matrix)
            n = Lp.shape[-1]
            eye = _creation.eye(n, dtype=Lp.dtype, device=Lp.device)
            inv_lp = _ops.stack([solve_lower(Lp, eye[i].expand(*Lp.shape[:-1])) for i in range(n)], -1)
            L = cholesky(_ops.matmul(inv_lp.transpose(-1, -2), inv_lp))
        batch = _ops.broadcast_shapes(tuple(loc.shape[:-1]), tuple(L.shape[:-2]))
        n = loc.shape[-1]
        self.loc = loc.expand(*batch, n)
        self._unbroadcasted_scale_tril = L
        self.scale_tril = L.expand(*batch, n, n)
        super().__init__(batch, (n,), validate_args=validate_args)

    @property
    def covariance_matrix(self):
        return _ops.matmul(self.scale_tril, self.scale_tril.transpose(-1, -2))

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        return (self.scale_tril ** 2).sum(-1)

    def rsample(self, sample_shape=Size()):
        shape = _shape(sample_shape, tuple(self.batch_shape) + tuple(self.event_shape))
        eps = _randn(shape, self.loc)
        return self.loc + _ops.matmul(self.scale_tril, eps.unsqueeze(-1)).squeeze(-1)

    def _half_log_det(self):
        return _ops.log(diagonal(self._unbroadcasted_scale_tril, 0, -2, -1)).sum(-1)

    def log_prob(self, value):
        diff = value - self.loc
        L = self.scale_tril.expand(*diff.shape[:-1], *self.scale_tril.shape[-2:])
        m = (solve_lower(L, diff) ** 2).sum(-1)
        n = self.event_shape[0]
        return -0.5 * (n * _LOG_2PI + m) - self._half_log_det()

    def entropy(self):
        n = self.event_shape[0]
        h = 0.5 * n * (1.0 + _LOG_2PI) + self._half_log_det()
        return h.expand(*self.batch_shape) if len(self.batch_shape) else h


del _core
