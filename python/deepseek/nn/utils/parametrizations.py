"""``nn.utils.parametrizations``: ``weight_norm`` and ``spectral_norm`` as parametrizations."""
from __future__ import annotations

from ... import _ops, _random
from ..modules.module import Module
from . import parametrize


def _norm_except_dim(v, dim):
    """The 2-norm of ``v`` over every dim but ``dim`` (kept, size 1 elsewhere); all dims when None."""
    if dim is None or dim == -1 and v.ndim == 0:
        return _ops.sqrt((v * v).sum())
    d = dim % v.ndim
    others = [i for i in range(v.ndim) if i != d]
    return _ops.sqrt((v * v).sum(others, keepdim=True)) if others else _ops.abs(v)


class _WeightNorm(Module):
    def __init__(self, dim=0):
        super().__init__()
        self.dim = -1 if dim is None else dim

    def forward(self, weight_g, weight_v):
        return weight_v * (weight_g / _norm_except_dim(weight_v, None if self.dim == -1 else self.dim))

    def right_inverse(self, weight):
        return _norm_except_dim(weight, None if self.dim == -1 else self.dim), weight


def weight_norm(module, name="weight", dim=0):
    """weight_norm(module, name='weight', dim=0) -> module: ``weight = g * v / ||v||`` with the
    magnitude ``g`` (``parametrizations.weight.original0``) and direction ``v`` (``original1``)
    learned separately; the norm is over every dim but ``dim`` (all dims when None)."""
    parametrize.register_parametrization(module, name, _WeightNorm(dim), unsafe=True)
    return module


class _SpectralNorm(Module):
    def __init__(self, weight, n_power_iterations=1, dim=0, eps=1e-12):
        super().__init__()
        nd = weight.ndim
        if dim >= nd or dim < -nd:
            raise IndexError(f"Dimension out of range (expected to be in range of [-{nd}, {nd - 1}] but got {dim})")
        if n_power_iterations <= 0:
            raise ValueError(f"Expected n_power_iterations to be positive, but got n_power_iterations={n_power_iterations}")
        self.dim = dim if dim >= 0 else dim + nd
        self.eps, self.n_power_iterations = eps, n_power_iterations
        if nd > 1:
            m = self._reshape(weight.detach())
            h, w = m.shape
            u = _random.randn(h, dtype=weight.dtype, device=weight.device)
            v = _random.randn(w, dtype=weight.dtype, device=weight.device)
            self.register_buffer("_u", u / (_ops.sqrt((u * u).sum()) + eps))
            self.register_buffer("_v", v / (_ops.sqrt((v * v).sum()) + eps))
            self._power_method(m, 15)

    def _reshape(self, w):
        if self.dim != 0:
            w = _ops.movedim(w, self.dim, 0)
        return w.reshape(w.shape[0], -1)

    def _power_method(self, m, n):
        from ...autograd import no_grad

        with no_grad():
            for _ in range(n):
                u = _ops.mv(m, self._v)
                self._u.copy_(u / (_ops.sqrt((u * u).sum()) + self.eps))
                v = _ops.mv(m.t(), self._u)
                self._v.copy_(v / (_ops.sqrt((v * v).sum()) + self.eps))

    def forward(self, weight):
        if weight.ndim == 1:
            return weight / (_ops.sqrt((weight * weight).sum()) + self.eps)
        m = self._reshape(weight)
        if self.training:
            self._power_method(m.detach(), self.n_power_iterations)
        u, v = self._u.clone(), self._v.clone()
        sigma = _ops.dot(u, _ops.mv(m, v))
        return weight / sigma

    def right_inverse(self, value):
        return value


def spectral_norm(module, name="weight", n_power_iterations=1, eps=1e-12, dim=None):
    """spectral_norm(module, name='weight', n_power_iterations=1, eps=1e-12, dim=None) -> module:
    the weight divided by its largest singular value, estimated by power iteration (one step per
    training forward; buffers ``_u``, ``_v``)."""
    weight = getattr(module, name, None)
    if weight is None:
        raise ValueError(f"Module '{module}' has no parameter or buffer with name '{name}'")
    if dim is None:
        from ..modules.extra import ConvTranspose1d, ConvTranspose3d
        from ..modules.layers import ConvTranspose2d

        dim = 1 if isinstance(module, (ConvTranspose1d, ConvTranspose2d, ConvTranspose3d)) else 0
    parametrize.register_parametrization(module, name, _SpectralNorm(weight, n_power_iterations, dim, eps))
    return module


__all__ = ["weight_norm", "spectral_norm"]
