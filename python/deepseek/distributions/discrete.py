"""Bernoulli and Categorical, parameterized by ``probs`` or ``logits``."""
from __future__ import annotations

from .. import _creation, _ops, _random
from .._core import Tensor
from .._dtype import Size
from .distribution import Distribution, as_tensor


def _probs_to_logits(p, binary):
    eps = 1e-7 if p.dtype.name != "float64" else 1e-15
    q = _ops.clamp(p, eps, 1 - eps)
    return _ops.log(q) - _ops.log1p(-q) if binary else _ops.log(q)


class Bernoulli(Distribution):
    """Bernoulli(probs=None, logits=None): 1 with probability ``probs`` (= sigmoid(logits))."""

    arg_constraints = {"probs": "unit_interval", "logits": "real"}
    support = "boolean"
    has_enumerate_support = True

    def __init__(self, probs=None, logits=None, validate_args=None):
        if (probs is None) == (logits is None):
            raise ValueError("Either `probs` or `logits` must be specified, but not both.")
        if probs is not None:
            self.probs = as_tensor(probs)
            self.logits = _probs_to_logits(self.probs, True)
        else:
            self.logits = as_tensor(logits)
            self.probs = _ops.sigmoid(self.logits)
        self._given_probs = probs is not None
        super().__init__(self.probs.shape, validate_args=validate_args)

    def _check_params(self):
        if self._given_probs and not bool(((self.probs >= 0) & (self.probs <= 1)).all()):
            raise ValueError(f"Expected parameter probs of distribution Bernoulli to satisfy the constraint "
                             f"Interval(lower_bound=0.0, upper_bound=1.0), but found invalid values:\n{self.probs}")

    @property
    def mean(self):
        return self.probs

    @property
    def mode(self):
        return (self.probs >= 0.5).to(self.probs.dtype)

    @property
    def variance(self):
        return self.probs * (1 - self.probs)

    def _sample(self, sample_shape=Size()):
        shape = list(Size(sample_shape)) + list(self.batch_shape)
        return _random.bernoulli(self.probs.detach().expand(shape).contiguous())

    def log_prob(self, value):
        self._validate_sample(value, lambda v: (v == 0) | (v == 1))
        # -BCE with logits, stable: x * l - softplus(l)
        return value * self.logits - _ops.softplus(self.logits)

    def entropy(self):
        return _ops.softplus(self.logits) - self.probs * self.logits

    def enumerate_support(self, expand=True):
        v = _creation.tensor([0.0, 1.0], dtype=self.probs.dtype, device=self.probs.device)
        v = v.reshape([2] + [1] * len(self.batch_shape))
        return v.expand([2] + list(self.batch_shape)) if expand else v


class Categorical(Distribution):
    """Categorical(probs=None, logits=None): an index in ``[0, K)`` drawn with the probabilities of
    the last dim (``probs`` are normalized; ``logits`` are unnormalized log-probabilities)."""

    arg_constraints = {"probs": "simplex", "logits": "real_vector"}
    has_enumerate_support = True

    def __init__(self, probs=None, logits=None, validate_args=None):
        if (probs is None) == (logits is None):
            raise ValueError("Either `probs` or `logits` must be specified, but not both.")
        t = probs if probs is not None else logits
        if not isinstance(t, Tensor) or t.ndim < 1:
            raise ValueError("`probs` parameter must be at least one-dimensional.")
        if probs is not None:
            self.probs = probs / probs.sum(-1, keepdim=True)
            self.logits = _probs_to_logits(self.probs, False)
        else:
            self.logits = logits - _ops.logsumexp(logits, -1, keepdim=True)
            self.probs = _ops.softmax(self.logits, -1)
        self._num_events = t.shape[-1]
        self._given = probs
        super().__init__(t.shape[:-1], validate_args=validate_args)

    def _check_params(self):
        if self._given is not None and not bool((self._given >= 0).all()):
            raise ValueError(f"Expected parameter probs of distribution Categorical to be non-negative, got {self._given}")

    @property
    def support(self):
        return f"IntegerInterval(lower_bound=0, upper_bound={self._num_events - 1})"

    @property
    def param_shape(self):
        return self.probs.shape

    @property
    def mean(self):
        return _creation.full(tuple(self.batch_shape), float("nan"), dtype=self.probs.dtype, device=self.probs.device)

    @property
    def mode(self):
        return _ops.argmax(self.probs, -1)

    @property
    def variance(self):
        return self.mean

    def _sample(self, sample_shape=Size()):
        n = 1
        for s in Size(sample_shape):
            n *= s
        k = self._num_events
        flat = self.probs.detach().reshape(-1, k)
        draws = _random.multinomial(flat, n, True)  # [B, n]
        out = draws.transpose(0, 1).reshape(list(Size(sample_shape)) + list(self.batch_shape))
        return out

    def log_prob(self, value):
        self._validate_sample(value, lambda v: (v >= 0) & (v < self._num_events))
        v = value.to("int64")
        shape = _ops.broadcast_shapes(tuple(v.shape), tuple(self.batch_shape))
        logits = self.logits.expand(*shape, self._num_events)
        return _ops.gather(logits, -1, v.expand(*shape).unsqueeze(-1)).squeeze(-1)

    def entropy(self):
        # 0 * -inf is 0 here: a zero-probability class contributes nothing
        lp = _ops.clamp(self.logits, min=-1e30 if self.logits.dtype.name == "float64" else -3e38)
        return -(self.probs * lp).sum(-1)

    def enumerate_support(self, expand=True):
        v = _creation.arange(self._num_events, device=self.probs.device).reshape([-1] + [1] * len(self.batch_shape))
        return v.expand([self._num_events] + list(self.batch_shape)) if expand else v
