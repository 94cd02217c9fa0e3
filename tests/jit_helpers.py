"""Helpers the ``deepseek.jit`` tests share."""
import warnings

import numpy as np

import deepseek
from deepseek.jit import TracerWarning


def rnd(*shape, seed=0, dtype=np.float64):
    """A tensor of standard normal numbers from NumPy's generator seeded with ``seed``."""
    return deepseek.tensor(np.random.default_rng(seed).standard_normal(shape).astype(dtype))


def trace(fn, inputs, **kw):
    """``deepseek.jit.trace`` under ``no_grad`` with every ``TracerWarning`` an error: a test's
    trace must not specialise anything silently."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", TracerWarning)
        with deepseek.no_grad():
            return deepseek.jit.trace(fn, inputs, **kw)
