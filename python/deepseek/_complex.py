"""Complex tensors: ``complex``, ``polar``, ``view_as_real``/``view_as_complex``, ``real``/``imag``
views, ``conj``, ``angle``, ``sgn``.

complex64/complex128 tensors store interleaved (real, imaginary) pairs, as NumPy does. The core
lowers every complex op to real ops on the float view (``view_as_real``), so gradients follow
PyTorch's convention: for a real loss ``L`` the gradient of ``z`` is ``dL/d(re) + i·dL/d(im)``.

deepseek has no lazy conjugate bit: ``conj`` returns a new (materialised) tensor, and
``is_conj()`` is always False, consistently.
"""
from __future__ import annotations

import math

from . import _core, _ops
from ._core import Tensor


def _t(op, x, name="input"):
    _ops._check_tensor(op, x, name)
    return x


def is_complex(input) -> bool:
    """is_complex(input) -> bool: whether the dtype is complex64 or complex128."""
    return _t("is_complex", input).dtype.is_complex


def is_conj(input) -> bool:
    """is_conj(input) -> bool: always False: deepseek materialises conjugates (no lazy bit)."""
    _t("is_conj", input)
    return False


def isreal(input):
    """isreal(input) -> Tensor: True where the imaginary part is 0 (everywhere for real tensors)."""
    if not is_complex(input):
        return _core.full(list(input.shape), True, "bool", None if input._device == "cpu" else input._device)
    return _core.imag(input) == 0


def conj(input):
    """conj(input) -> Tensor: the complex conjugate (a new tensor: deepseek has no lazy conjugate
    bit, so this is ``conj_physical``); a real tensor is returned as is.

    Example::

        >>> deepseek.conj(deepseek.tensor([1 + 2j]))
        tensor([1.-2.j])
    """
    return _core.conj(_t("conj", input))


conj_physical = resolve_conj = conj


def real(input):
    """real(input) -> Tensor: a view of the real parts (``input`` itself when it is real)."""
    return _core.real(_t("real", input))


def imag(input):
    """imag(input) -> Tensor: a view of the imaginary parts; RuntimeError for real tensors."""
    return _core.imag(_t("imag", input))


def angle(input):
    """angle(input) -> Tensor: the argument ``atan2(imag, real)`` in (-pi, pi]; for real tensors
    ``pi`` for negative elements, 0 otherwise (NaN stays NaN)."""
    if is_complex(input):
        return _core.complex_angle(input)
    x = input if input.dtype.is_floating_point else _core.cast(input, _ops.get_default_dtype().name)
    return _ops.where(_ops.isnan(x), x, (x < 0).to(x.dtype) * math.pi)


def sgn(input):
    """sgn(input) -> Tensor: ``z / |z|`` for complex tensors (0 at 0), ``sign`` for real ones."""
    if not is_complex(input):
        return _ops.sign(_t("sgn", input))
    a = _core.complex_abs(input)
    return input / (a + (a == 0).to(a.dtype))  # 0 / 1 where |z| = 0


def complex(real, imag):
    """complex(real, imag) -> Tensor: ``real + i·imag`` from two float32 (complex64) or two
    float64 (complex128) tensors, broadcast together.

    Example::

        >>> deepseek.complex(deepseek.tensor([1.0]), deepseek.tensor([2.0]))
        tensor([1.+2.j])
    """
    return _core.complex(_t("complex", real, "real"), _t("complex", imag, "imag"))


def polar(abs, angle):
    """polar(abs, angle) -> Tensor: ``abs·(cos(angle) + i·sin(angle))``."""
    return _core.polar(_t("polar", abs, "abs"), _t("polar", angle, "angle"))


def view_as_real(input):
    """view_as_real(input) -> Tensor: the float view of a complex tensor, with a trailing dim of
    2 holding (real, imaginary); shares storage (no copy)."""
    return _core.view_as_real(_t("view_as_real", input))


def view_as_complex(input):
    """view_as_complex(input) -> Tensor: the complex view of a float32/float64 tensor whose last
    dim has size 2 and stride 1; shares storage (no copy)."""
    return _core.view_as_complex(_t("view_as_complex", input))


def adjoint(input):
    """adjoint(input) -> Tensor: the conjugate transpose of the last two dims (a view for real
    tensors, a new tensor for complex ones: conjugates are materialised)."""
    if _t("adjoint", input).ndim < 2:
        raise RuntimeError(f"tensor.adjoint() is only supported on matrices or batches of matrices. Got {input.ndim}-D tensor.")
    return _core.transpose(conj(input), -2, -1)


def _set_part(part):
    def setter(self, value):
        view = getattr(_core, part)(self)
        if not isinstance(value, Tensor):
            from ._creation import tensor

            value = tensor(value, dtype=view.dtype)
        view.copy_(value)

    return setter


# installed on Tensor by _tensor_api
real_property = property(real, _set_part("real"), doc="The real parts, a writable view (the tensor itself when real).")
imag_property = property(imag, _set_part("imag"), doc="The imaginary parts, a writable view; RuntimeError for real tensors.")

__all__ = ["is_complex", "is_conj", "isreal", "conj", "conj_physical", "resolve_conj", "real", "imag", "angle",
           "sgn", "complex", "polar", "view_as_real", "view_as_complex", "adjoint"]
