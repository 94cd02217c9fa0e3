"""``nn.utils``: gradient clipping, parameter/vector conversion, packed sequences
(``nn.utils.rnn``), parametrizations (``nn.utils.parametrize``, ``weight_norm``,
``spectral_norm``), pruning (``nn.utils.prune``)."""
from __future__ import annotations

import math

from ... import _creation, _ops
from ..._core import Tensor
from . import parametrizations, parametrize, prune, rnn  # noqa: F401
from .parametrizations import spectral_norm, weight_norm  # noqa: F401


def _params(parameters):
    return [parameters] if isinstance(parameters, Tensor) else list(parameters)


def _no_grad():
    from ...autograd import no_grad

    return no_grad()


def get_total_norm(tensors, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """get_total_norm(tensors, norm_type=2.0, error_if_nonfinite=False) -> Tensor: the
    ``norm_type``-norm of all the tensors together (as if concatenated)."""
    ts = _params(tensors)
    norm_type = float(norm_type)
    if not ts:
        return _creation.tensor(0.0)
    with _no_grad():
        if norm_type == math.inf:
            total = _ops.stack([_ops.abs(t.detach()).amax().to("float64") for t in ts]).amax()
        else:
            total = _ops.pow(_ops.stack([_ops.pow(_ops.abs(t.detach().to("float64")), norm_type).sum() for t in ts]).sum(),
                             1.0 / norm_type)
    if error_if_nonfinite and not bool(_ops.isfinite(total)):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, so it "
                           f"cannot be clipped. To disable this error and scale the gradients by the non-finite norm "
                           f"anyway, set `error_if_nonfinite=False`")
    return total.to(ts[0].dtype)


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False) -> Tensor:
    scales the gradients in place so that their total ``norm_type``-norm is at most ``max_norm``
    (by ``max_norm / (total + 1e-6)`` when it is above); returns the total norm before clipping."""
    grads = [p.grad for p in _params(parameters) if p.grad is not None]
    if not grads:
        return _creation.tensor(0.0)
    total = get_total_norm(grads, norm_type, error_if_nonfinite)
    coef = float(max_norm) / (float(total) + 1e-6)
    if coef < 1.0:
        with _no_grad():
            for g in grads:
                g.mul_(coef)
    return total


def clip_grad_value_(parameters, clip_value, foreach=None):
    """clip_grad_value_(parameters, clip_value): clamps every gradient element to
    ``[-clip_value, clip_value]`` in place."""
    v = float(clip_value)
    with _no_grad():
        for p in _params(parameters):
            if p.grad is not None:
                p.grad.clamp_(-v, v)


def parameters_to_vector(parameters):
    """parameters_to_vector(parameters) -> Tensor: all parameters flattened into one vector."""
    ps = _params(parameters)
    dev = ps[0].device if ps else None
    for p in ps:
        if p.device != dev:
            raise TypeError("Found two parameters on different devices, this is currently not supported.")
    return _ops.cat([p.reshape(-1) for p in ps], 0)


def vector_to_parameters(vec, parameters):
    """vector_to_parameters(vec, parameters): copies consecutive slices of ``vec`` into the
    parameters (their ``.data``)."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected torch.Tensor, but got: {type(vec).__name__}")
    ps = _params(parameters)
    need = sum(p.numel() for p in ps)
    if vec.numel() != need:
        raise RuntimeError(f"vector_to_parameters: vec has {vec.numel()} elements, the parameters {need}")
    off = 0
    with _no_grad():
        for p in ps:
            n = p.numel()
            p.copy_(vec[off:off + n].reshape(p.shape))
            off += n


__all__ = ["clip_grad_norm_", "clip_grad_value_", "get_total_norm", "parameters_to_vector", "vector_to_parameters",
           "weight_norm", "spectral_norm", "rnn", "parametrize", "parametrizations"]
