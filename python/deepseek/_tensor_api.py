"""More of PyTorch's ``Tensor`` method surface, installed once at import on top of the
composed functions (``_math_extra``, ``_shape_extra``, ``_search``, ``_scatter_extra``,
``special``). In-place ``_`` variants write into the tensor's own storage (through the core's
``inplace_``, which rebases autograd history and bumps the version counter).
"""
from __future__ import annotations

import math

from . import _core, _math_extra as M, _ops, _scatter_extra as X, _search as S, _shape_extra as H, special
from ._core import Tensor
from ._tensor_inplace import _inplace_update, _inplace_via, _no_grad

# methods whose signature is the function's, with self as the first argument
_FUNCS = {
    M: """acosh asinh atanh log10 deg2rad rad2deg hypot signbit copysign fmax fmin frac fix heaviside
          logaddexp2 sgn positive float_power nextafter xlogy logit sinc ldexp frexp gcd lcm bitwise_left_shift
          bitwise_right_shift isneginf isposinf isreal is_complex is_conj is_neg is_signed is_nonzero
          is_same_size conj conj_physical resolve_conj resolve_neg angle mvlgamma addcmul addcdiv addmv
          addr addbmm round""",
    H: """diagonal diag_embed diagflat fliplr flipud rot90 ravel hsplit vsplit dsplit select narrow_copy
          take take_along_dim kron inner vdot ger cross unfold""",
    S: """unique unique_consecutive count_nonzero bincount histc histogram msort aminmax median nanmedian
          mode quantile nanquantile cummax cummin logcumsumexp nansum nanmean""",
    X: """scatter_reduce index_fill index_copy index_reduce masked_scatter put renorm cov corrcoef select_scatter
          slice_scatter diagonal_scatter""",
    special: "i0 erfinv",
    _ops: "roll dist baddbmm diff moveaxis",
}
for _mod, _names in _FUNCS.items():
    for _n in _names.split():
        setattr(Tensor, _n, getattr(_mod, _n))

Tensor.adjoint = M.adjoint
Tensor.conj_physical_ = lambda self: self if not self.dtype.is_complex else _inplace_update("conj_physical_", self, M.conj)


def _hardshrink(self, lambd=0.5):
    """hardshrink(lambd=0.5) -> Tensor: ``self`` where ``|self| > lambd``, else 0."""
    from .nn.functional import hardshrink

    return hardshrink(self, lambd)


Tensor.hardshrink = _hardshrink
Tensor.igamma = special.gammainc
Tensor.igammac = special.gammaincc
Tensor.arccosh = Tensor.acosh
Tensor.arcsinh = Tensor.asinh
Tensor.arctanh = Tensor.atanh
Tensor.arctan2 = Tensor.atan2
from . import _complex  # noqa: E402

from . import _spectral  # noqa: E402

Tensor.stft = _spectral.stft
Tensor.istft = _spectral.istft
Tensor.real = _complex.real_property
Tensor.imag = _complex.imag_property
Tensor.polygamma_ = lambda self, n: _inplace_update("polygamma_", self, lambda old: _ops.polygamma(n, old))
Tensor.where = lambda self, condition, y: _ops.where(condition, self, y)
Tensor.where.__doc__ = "where(condition, y) -> Tensor: ``deepseek.where(condition, self, y)``."
Tensor.ndimension = lambda self: self.ndim
Tensor.nelement = lambda self: self.numel()
Tensor.get_device = lambda self: -1 if self._device == "cpu" else int(self._device.rpartition(":")[2] or 0)
for _n in ("is_inference", "is_meta", "is_pinned", "is_shared", "is_mkldnn", "is_mps", "is_xpu", "is_nested"):
    setattr(Tensor, _n, (lambda self: False) if _n.startswith(("is_inference", "is_pinned", "is_shared")) else property(lambda self: False))
Tensor.output_nr = property(lambda self: self._output_nr, doc="Which output of its grad_fn this tensor is.")
Tensor.share_memory_ = lambda self: self
Tensor.pin_memory = lambda self, device=None: self
Tensor.dim_order = lambda self: tuple(sorted(range(self.ndim), key=lambda d: (-self.stride(d), d)))
Tensor.unsafe_chunk = _ops.chunk
Tensor.unsafe_split = _ops.split
Tensor.bernoulli = lambda self, p=None, *, generator=None: _creation_bernoulli(self, p, generator)
Tensor.multinomial = lambda self, num_samples, replacement=False, *, generator=None: _multinomial(
    self, num_samples, replacement, generator)


def _creation_bernoulli(self, p, generator):
    from ._random import bernoulli

    if p is None:
        return bernoulli(self, generator=generator)
    from ._creation import full_like

    return bernoulli(full_like(self, p), generator=generator)


def _multinomial(self, n, replacement, generator):
    from ._random import multinomial

    return multinomial(self, n, replacement, generator=generator)


def _array_namespace(self, /, *, api_version=None):
    """__array_namespace__(*, api_version=None): the Array API namespace, ``deepseek.array_api``."""
    if api_version not in (None, "2021.12", "2022.12", "2023.12"):
        raise ValueError(f"Unrecognized array API version: {api_version!r}")
    from . import array_api

    return array_api


Tensor.__array_namespace__ = _array_namespace


def _is_set_to(self, tensor):
    """is_set_to(tensor) -> bool: whether both view the same memory with one shape and strides."""
    return (self._storage_ptr() == tensor._storage_ptr() and self.storage_offset() == tensor.storage_offset()
            and tuple(self.shape) == tuple(tensor.shape) and self.stride() == tensor.stride())


Tensor.is_set_to = _is_set_to


def _sum_to_size(self, *size):
    """sum_to_size(*size) -> Tensor: sums broadcast dims so the result has ``size``."""
    size = list(_ops._shape_args(size))
    if list(_ops.broadcast_shapes(size, self.shape)) != list(self.shape):
        raise RuntimeError(f"size {{{', '.join(map(str, size))}}} is not expandable to size "
                           f"{{{', '.join(map(str, self.shape))}}}.")
    lead = self.ndim - len(size)
    dims = list(range(lead)) + [lead + i for i, s in enumerate(size) if s == 1 and self.shape[lead + i] != 1]
    r = self.sum(dims, keepdim=True) if dims else self
    return r.reshape(size)


Tensor.sum_to_size = _sum_to_size


def _new_empty_strided(self, size, stride, *, dtype=None, device=None, requires_grad=False, **_):
    """new_empty_strided(size, stride, ...) -> Tensor: an uninitialized tensor of ``size``
    (contiguous: the core lays tensors out itself)."""
    return self.new_empty(tuple(size), dtype=dtype, device=device, requires_grad=requires_grad)


Tensor.new_empty_strided = _new_empty_strided


def _nonzero_static(self, *, size, fill_value=-1):
    """nonzero_static(*, size, fill_value=-1) -> Tensor: ``nonzero`` cut or padded to ``size`` rows."""
    nz = _ops.nonzero(self)
    k = nz.shape[0]
    if k >= size:
        return nz[:size]
    return _ops.pad(nz, [0, 0, 0, size - k], value=fill_value)


Tensor.nonzero_static = _nonzero_static


def _apply_(self, callable):
    """apply_(callable) -> Tensor: replaces each element x by ``callable(x)`` (CPU tensors only, slow)."""
    if self._device != "cpu":
        raise TypeError("apply_ is only implemented on CPU tensors")
    vals = [callable(v) for v in self.reshape(-1).tolist()]
    from ._creation import tensor

    with _no_grad():
        self.copy_(tensor(vals, dtype=self.dtype).reshape(self.shape))
    return self


def _map_(self, tensor, callable):
    """map_(tensor, callable) -> Tensor: ``self[i] = callable(self[i], tensor[i])`` with ``tensor``
    broadcast to self (CPU tensors only, slow)."""
    if self._device != "cpu":
        raise TypeError("map_ is only implemented on CPU tensors")
    other = tensor.expand(self.shape).reshape(-1).tolist()
    vals = [callable(a, b) for a, b in zip(self.reshape(-1).tolist(), other)]
    from ._creation import tensor as _tensor

    with _no_grad():
        self.copy_(_tensor(vals, dtype=self.dtype).reshape(self.shape))
    return self


Tensor.apply_ = _apply_
Tensor.map_ = _map_


def _fill_diagonal_(self, fill_value, wrap=False):
    """fill_diagonal_(fill_value, wrap=False) -> Tensor: sets the main diagonal (all indices
    equal) to ``fill_value``; a tall 2-D matrix restarts the diagonal every ``cols + 1`` rows with
    ``wrap=True``."""
    if self.ndim < 2:
        raise RuntimeError("dimensions must larger than 1")
    if self.ndim > 2 and len(set(self.shape)) != 1:
        raise RuntimeError("all dimensions of input must be of equal length")
    from ._creation import arange

    def update(old):
        n = min(old.shape)
        if old.ndim == 2 and wrap and old.shape[0] > old.shape[1] + 1:
            c = old.shape[1]
            flat = old.reshape(-1)
            pos = arange(0, old.numel(), c + 1, device=old.device)
            return flat.index_put((pos,), (pos * 0).to(old.dtype) + fill_value).reshape(old.shape)
        i = arange(n, device=old.device)
        return old.index_put(tuple(i for _ in range(old.ndim)), (i * 0).to(old.dtype) + fill_value)

    return _inplace_update("fill_diagonal_", self, update)


Tensor.fill_diagonal_ = _fill_diagonal_


# ---------------- in-place variants ----------------

def _float_power_check(name, self, *a, **k):
    if self._dtype != "float64":
        raise RuntimeError(f"the base given to float_power_ has dtype {self._dtype} but the operation's result "
                           f"requires dtype Double")


_INPLACE = {
    M: """acosh asinh atanh log10 deg2rad rad2deg hypot copysign frac fix heaviside gcd lcm ldexp logit nextafter
          sinc xlogy sgn addcmul addcdiv addmv addr addbmm bitwise_left_shift bitwise_right_shift mvlgamma""",
    H: "",
    X: "scatter_reduce index_fill index_copy index_reduce masked_scatter put renorm",
    special: "i0 erfinv",
    _ops: """acos asin atan cosh sinh log2 exp2 cumprod eq ne lt le gt ge greater greater_equal less less_equal
             not_equal logical_and logical_or logical_xor logical_not bitwise_not true_divide addmm baddbmm""",
}
for _mod, _names in _INPLACE.items():
    for _n in _names.split():
        _inplace_via(_n + "_", getattr(_mod, _n))
_inplace_via("float_power_", M.float_power, _float_power_check)
_inplace_via("round_", M.round)
_inplace_via("igamma_", special.gammainc)
_inplace_via("igammac_", special.gammaincc)
for _a, _b in (("arccosh_", "acosh_"), ("arcsinh_", "asinh_"), ("arctanh_", "atanh_"), ("arccos_", "acos_"),
               ("arcsin_", "asin_"), ("arctan_", "atan_"), ("arctan2_", "atan2_")):
    setattr(Tensor, _a, getattr(Tensor, _b))


# ---------------- random in-place fills ----------------

def _draw(self, generator, normal=False):
    from ._random import _gen

    return (_core.randn if normal else _core.rand)(list(self.shape), "float64", _gen(generator))


def _random_fill(name, transform):
    def f(self, *args, generator=None, **kwargs):
        if self._dtype not in ("float16", "bfloat16", "float32", "float64") and name != "geometric_":
            raise RuntimeError(f"{name} expects a floating point tensor, got {self._dtype}")
        r = transform(_draw(self, generator, name == "log_normal_"), *args, **kwargs)
        with _no_grad():
            _core.copy_(self, r.to(self.dtype))
        return self

    f.__name__ = name
    setattr(Tensor, name, f)


def _exponential(u, lambd=1.0):
    if lambd <= 0:
        raise RuntimeError(f"exponential_ expects lambda > 0.0, but found lambda={lambd}")
    return -_ops.log1p(-u) / lambd


def _geometric(u, p):
    if not 0 < p < 1:
        raise RuntimeError(f"geometric_ expects p to be in (0, 1), but got p={p}")
    return _ops.ceil(_ops.log1p(-u) / math.log1p(-p)).clamp(min=1)


def _cauchy(u, median=0.0, sigma=1.0):
    return median + sigma * _ops.tan(math.pi * (u - 0.5))


def _log_normal(z, mean=1.0, std=2.0):
    if std <= 0:
        raise RuntimeError(f"log_normal_ expects std > 0.0, but found std={std}")
    return _ops.exp(mean + std * z)


_random_fill("exponential_", _exponential)
_random_fill("geometric_", _geometric)
_random_fill("cauchy_", _cauchy)
_random_fill("log_normal_", _log_normal)
