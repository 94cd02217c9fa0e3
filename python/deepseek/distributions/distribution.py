"""The ``Distribution`` base: batch and event shapes, argument validation, sample shapes."""
from __future__ import annotations

from .. import _creation, _ops
from .._core import Tensor
from .._dtype import Size, get_default_dtype


def as_tensor(v, like=None):
    """``v`` as a floating tensor (a Python number in the default dtype or ``like``'s)."""
    if isinstance(v, Tensor):
        return v if v.dtype.is_floating_point else v.to(get_default_dtype())
    return _creation.tensor(float(v), dtype=like.dtype if isinstance(like, Tensor) else None)


def broadcast_all(*values):
    """The parameters as tensors broadcast to one shape."""
    ts = [v for v in values if isinstance(v, Tensor)]
    like = ts[0] if ts else None
    vals = [as_tensor(v, like) for v in values]
    return _ops.broadcast_tensors(*vals)


class Distribution:
    """Distribution(batch_shape=(), event_shape=(), validate_args=None)."""

    has_rsample = False
    has_enumerate_support = False
    arg_constraints = {}
    support = None
    _validate_default = True

    def __init__(self, batch_shape=Size(), event_shape=Size(), validate_args=None):
        self._batch_shape = Size(batch_shape)
        self._event_shape = Size(event_shape)
        if validate_args is None:
            validate_args = self._validate_default
        self._validate_args = validate_args
        if validate_args:
            self._check_params()

    def _check_params(self):
        pass

    @property
    def batch_shape(self):
        return self._batch_shape

    @property
    def event_shape(self):
        return self._event_shape

    def _extended_shape(self, sample_shape=Size()):
        return Size(tuple(sample_shape) + tuple(self._batch_shape) + tuple(self._event_shape))

    def sample(self, sample_shape=Size()):
        """A sample (no gradient) of shape ``sample_shape + batch_shape + event_shape``."""
        from ..autograd import no_grad

        with no_grad():
            return self.rsample(sample_shape) if self.has_rsample else self._sample(sample_shape)

    def sample_n(self, n):
        return self.sample(Size((n,)))

    def rsample(self, sample_shape=Size()):
        raise NotImplementedError(f"{type(self).__name__} does not support rsample (no reparameterized sampler)")

    def log_prob(self, value):
        raise NotImplementedError

    def entropy(self):
        raise NotImplementedError

    def cdf(self, value):
        raise NotImplementedError

    def icdf(self, value):
        raise NotImplementedError

    @property
    def mean(self):
        raise NotImplementedError

    @property
    def mode(self):
        raise NotImplementedError

    @property
    def variance(self):
        raise NotImplementedError

    @property
    def stddev(self):
        return _ops.sqrt(self.variance)

    def perplexity(self):
        return _ops.exp(self.entropy())

    def _validate_sample(self, value, check):
        if not self._validate_args:
            return
        if not isinstance(value, Tensor):
            raise ValueError("The value argument to log_prob must be a Tensor")
        if not bool(check(value).all()):
            raise ValueError(f"Expected value argument ({type(value).__name__} of shape {tuple(value.shape)}) to be within "
                             f"the support ({self.support}) of the distribution {self}, but found invalid values:\n{value}")

    def __repr__(self):
        params = ", ".join(f"{k}: {tuple(getattr(self, k).shape) if isinstance(getattr(self, k), Tensor) else getattr(self, k)}"
                           for k in self.arg_constraints if k in self.__dict__ or hasattr(type(self), k))
        return f"{type(self).__name__}({params})"


def check_positive(name, dist, v):
    if not bool((v > 0).all()):
        raise ValueError(f"Expected parameter {name} ({type(v).__name__} of shape {tuple(v.shape)}) of distribution "
                         f"{type(dist).__name__} to satisfy the constraint GreaterThan(lower_bound=0.0), but found "
                         f"invalid values:\n{v}")
