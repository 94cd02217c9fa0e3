"""Random sampling: the ``rand``/``randn``/``randint`` factories and their ``_like`` forms,
``randperm``, ``bernoulli``, ``normal``, ``multinomial``, and the process-wide generator
(``manual_seed``, ``seed``, RNG state). One counter-based generator in the core serves every
device."""
from __future__ import annotations

import operator

import numpy as np

from . import _core
from ._core import Tensor
from ._creation import (
    _DIGITS, _INT_RANGE, _TORCH_TYPE, _check_device, _check_random_bounds, _dt, _finish, _like, _like_dev,
    _shape, full_like, tensor,
)
from ._dtype import get_default_dtype, to_dtype


def _gen(g):
    """The core generator behind ``g`` (None means the default one)."""
    if g is None or isinstance(g, _DefaultGenerator):
        return None
    return g


def rand_like(input, *, dtype=None, generator=None, device=None, **_):
    return _core.rand(list(input.shape), _like(input, dtype), _gen(generator), _like_dev(input, device))


def randn_like(input, *, dtype=None, generator=None, device=None, **_):
    return _core.randn(list(input.shape), _like(input, dtype), _gen(generator), _like_dev(input, device))


def randint_like(input, low=0, high=None, *, dtype=None, generator=None, device=None):
    if high is None:
        low, high = 0, low
    name = _like(input, dtype)
    _check_random_bounds(int(low), int(high), name)
    return _core.randint(int(low), int(high), list(input.shape), name, _gen(generator), _like_dev(input, device))


def rand(*size, generator=None, dtype=None, device=None, requires_grad=False):
    """rand(*size, generator=None): uniform on [0, 1) from the seeded counter-based generator."""
    return _finish(_core.rand(_shape(size), _dt(dtype), _gen(generator), _check_device(device)), requires_grad)


def randn(*size, generator=None, dtype=None, device=None, requires_grad=False):
    """randn(*size, generator=None): standard normal samples."""
    return _finish(_core.randn(_shape(size), _dt(dtype), _gen(generator), _check_device(device)), requires_grad)


def randint(low=0, high=None, size=None, *, generator=None, dtype=None, device=None, requires_grad=False):
    """randint(low=0, high, size): integers uniform in [low, high)."""
    dev = _check_device(device)
    if size is None:
        if high is None or not isinstance(high, (tuple, list)):
            raise TypeError("randint() missing required argument 'size'")
        low, high, size = 0, low, high
    if high is None:
        low, high = 0, low
    name = to_dtype(dtype or "int64").name
    _check_random_bounds(int(low), int(high), name)
    return _core.randint(int(low), int(high), _shape((size,) if isinstance(size, int) else size), name, _gen(generator), dev)


def randperm(n, *, generator=None, dtype=None, device=None, requires_grad=False):
    """randperm(n, *, dtype=int64): a random permutation of 0..n-1; n - 1 must fit ``dtype``
    exactly, as in PyTorch."""
    n, name = operator.index(n), to_dtype(dtype or "int64").name
    if name in _INT_RANGE and n - 1 > _INT_RANGE[name][1]:
        raise RuntimeError(f"randperm: n is too large for result tensor type: '{_TORCH_TYPE[name]}' (n={n})")
    if name in _DIGITS and n > 2 ** _DIGITS[name]:
        raise RuntimeError(f"randperm: n cannot be greater than 2^{_DIGITS[name]}+1 for {_TORCH_TYPE[name]} type (n={n})")
    return _core.randperm(n, name, _gen(generator), _check_device(device))


def bernoulli(input, p=None, *, generator=None):
    """bernoulli(input, p=None): 1 with probability ``input`` (elementwise), or ``p`` for every
    element; probabilities outside [0, 1] raise, as in PyTorch."""
    if p is not None:
        if not 0 <= p <= 1:
            raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={p}")
        input = full_like(input, p)
    elif input.numel() and not bool(((input >= 0) & (input <= 1)).all()):
        raise RuntimeError("bernoulli: expected every probability in input to be in [0, 1] (NaN is not)")
    return _core.bernoulli(input, _gen(generator))


def normal(mean, std, size=None, *, generator=None):
    """normal(mean, std, size=None, *, generator=None): samples of N(mean, std²); a negative
    std raises, as in PyTorch."""
    if isinstance(std, Tensor):
        if std.numel() and not bool((std >= 0).all()):
            raise RuntimeError("normal expects all elements of std >= 0.0")
    elif not std >= 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std}")
    if size is not None:
        return randn(*size, generator=generator) * std + mean
    ref = mean if isinstance(mean, Tensor) else std
    return randn_like(ref, dtype=ref.dtype if ref.dtype.is_floating_point else get_default_dtype(), generator=generator) * std + mean


def multinomial(input, num_samples, replacement=False, *, generator=None):
    """multinomial(input, num_samples, replacement=False): samples category indices."""
    if operator.index(num_samples) <= 0:
        raise RuntimeError(f"multinomial: cannot sample n_sample <= 0 samples (got {num_samples})")
    if input.ndim not in (1, 2):
        raise RuntimeError(f"multinomial: prob_dist must be 1 or 2 dim, got shape {list(input.shape)}")
    if not replacement and num_samples > input.shape[-1]:
        raise RuntimeError(f"multinomial: cannot sample n_sample ({num_samples}) > prob_dist.size(-1) ({input.shape[-1]}) samples without replacement")
    p = np.asarray(input.detach().to("float64").cpu().numpy())
    single = p.ndim == 1
    p = p.reshape(-1, p.shape[-1])
    u = _core.rand([p.shape[0], num_samples], "float64", _gen(generator)).numpy()
    out = np.empty((p.shape[0], num_samples), dtype=np.int64)
    for r in range(p.shape[0]):
        w = p[r].copy()
        if (w < 0).any() or not np.isfinite(w).all() or w.sum() <= 0:
            raise RuntimeError("multinomial: invalid probability distribution (negative, non-finite or zero sum)")
        for k in range(num_samples):
            c = np.cumsum(w / w.sum())
            j = int(np.searchsorted(c, u[r, k], side="right"))
            j = min(j, len(w) - 1)
            out[r, k] = j
            if not replacement:
                w[j] = 0
                if w.sum() <= 0 and k + 1 < num_samples:
                    raise RuntimeError("multinomial: cannot sample n_sample > prob_dist.size(-1) samples without replacement")
    t = tensor(out, device=input.device if input._device != "cpu" else None)
    return t.reshape(-1) if single else t


def manual_seed(seed):
    """manual_seed(seed): seeds the default generator; returns it."""
    _core.manual_seed(int(seed))
    return default_generator


def seed():
    import time

    s = int(time.time_ns() % (2**63))
    _core.manual_seed(s)
    return s


def initial_seed():
    return _core.default_generator_state()[0]


def get_rng_state():
    s = _core.default_generator_state()
    return tensor(list(s), dtype="int64")


def set_rng_state(state):
    v = state.tolist()
    _core.set_default_generator_state((int(v[0]), int(v[1])))


class _DefaultGenerator:
    """The process-wide generator behind ``manual_seed``."""

    def manual_seed(self, s):
        _core.manual_seed(int(s))
        return self

    def get_state(self):
        return get_rng_state()

    def set_state(self, st):
        set_rng_state(st)

    def initial_seed(self):
        return initial_seed()


default_generator = _DefaultGenerator()
Generator = _core.Generator
