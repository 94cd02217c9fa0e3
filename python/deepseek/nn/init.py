"""Parameter initialisation, with PyTorch's formulas (fan modes, gains)."""
from __future__ import annotations

import math

from .. import _core


def _no_grad_copy(t, v):
    prev = _core.set_grad_enabled(False)
    try:
        _core.copy_(t.detach(), v)
    finally:
        _core.set_grad_enabled(prev)
    return t


def calculate_gain(nonlinearity, param=None):
    if nonlinearity in ("linear", "conv1d", "conv2d", "conv3d", "sigmoid", "conv_transpose1d", "conv_transpose2d"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def _calculate_fan_in_and_fan_out(t):
    if t.ndim < 2:
        raise ValueError("Fan in and fan out can not be computed for tensor with fewer than 2 dimensions")
    rf = 1
    for s in t.shape[2:]:
        rf *= s
    return t.shape[1] * rf, t.shape[0] * rf


def uniform_(tensor, a=0.0, b=1.0, generator=None):
    return _no_grad_copy(tensor, _core.rand(list(tensor.shape), tensor._dtype, generator) * (b - a) + a)


def normal_(tensor, mean=0.0, std=1.0, generator=None):
    return _no_grad_copy(tensor, _core.randn(list(tensor.shape), tensor._dtype, generator) * std + mean)


def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0, generator=None):
    x = _core.randn(list(tensor.shape), "float64", generator) * std + mean
    for _ in range(8):
        bad = (x < a) | (x > b)
        if not bool(bad.any()):
            break
        x = _core.where(bad, _core.randn(list(tensor.shape), "float64", generator) * std + mean, x)
    return _no_grad_copy(tensor, x.clamp(a, b))


def constant_(tensor, val):
    prev = _core.set_grad_enabled(False)
    try:
        _core.fill_(tensor.detach(), val)
    finally:
        _core.set_grad_enabled(prev)
    return tensor


def zeros_(tensor):
    return constant_(tensor, 0.0)


def ones_(tensor):
    return constant_(tensor, 1.0)


def eye_(tensor):
    return _no_grad_copy(tensor, _core.eye(tensor.shape[0], tensor.shape[1], tensor._dtype))


def xavier_uniform_(tensor, gain=1.0, generator=None):
    fi, fo = _calculate_fan_in_and_fan_out(tensor)
    a = gain * math.sqrt(6.0 / (fi + fo))
    return uniform_(tensor, -a, a, generator)


def xavier_normal_(tensor, gain=1.0, generator=None):
    fi, fo = _calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fi + fo)), generator)


def _fan(tensor, mode):
    fi, fo = _calculate_fan_in_and_fan_out(tensor)
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"Mode {mode} not supported, please use one of fan_in, fan_out")
    return fi if mode == "fan_in" else fo


def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    fan = _fan(tensor, mode)
    bound = math.sqrt(3.0) * calculate_gain(nonlinearity, a) / math.sqrt(fan) if fan else 0.0
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    fan = _fan(tensor, mode)
    return normal_(tensor, 0.0, calculate_gain(nonlinearity, a) / math.sqrt(fan), generator)


def orthogonal_(tensor, gain=1.0, generator=None):
    import numpy as np

    rows, cols = tensor.shape[0], tensor.numel() // tensor.shape[0]
    flat = _core.randn([rows, cols], "float64", generator).numpy()
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q = q * np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    from .._creation import tensor as _t

    return _no_grad_copy(tensor, _t(q.reshape(tuple(tensor.shape)) * gain))
