"""Small top-level functions PyTorch users call directly: ``rsub``, ``split_with_sizes``,
``constant_pad_nd``, ``can_cast``, ``promote_types``, ``nonzero_static``, ``index_put_``,
``embedding_renorm_``, and the in-place ``deepseek.<op>_(input, ...)`` forms of the Tensor
methods (``deepseek.exp_(x)`` is ``x.exp_()``).
"""
from __future__ import annotations

import operator

from . import _core, _ops
from ._core import Tensor
from ._dtype import DTYPES, to_dtype

__all__ = ["rsub", "split_with_sizes", "constant_pad_nd", "can_cast", "promote_types", "nonzero_static",
           "embedding_renorm_"]


def _tensor_arg(op, x, name="input"):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}(): argument '{name}' must be Tensor, not {type(x).__name__}")


def rsub(input, other, *, alpha=1):
    """rsub(input, other, *, alpha=1) -> Tensor: ``other - alpha * input`` (``sub`` with the
    operands swapped), with ``sub``'s type promotion.

        >>> deepseek.rsub(deepseek.ones(2), 5, alpha=2)
        tensor([3., 3.])
    """
    _tensor_arg("rsub", input)
    if isinstance(other, Tensor):
        return _ops.sub(other, input, alpha=alpha)
    if input.dtype.name == "bool" or isinstance(other, bool):
        raise RuntimeError("Subtraction, the `-` operator, with a bool tensor is not supported. "
                           "If you are trying to invert a mask, use the `~` or `logical_not()` operator instead.")
    # a Python number: a 0-d tensor of the weak dtype, then ordinary promotion against input
    return _ops.sub(_core.full([], other, _core.result_type(input, other)), input, alpha=alpha)


def split_with_sizes(input, split_sizes, dim=0):
    """split_with_sizes(input, split_sizes, dim=0) -> tuple of Tensors: views of consecutive
    pieces of ``dim`` with the given lengths, which must add up to its size."""
    _tensor_arg("split_with_sizes", input)
    sizes = [operator.index(s) for s in split_sizes]
    d = _ops._wrap_dim("split_with_sizes", dim, input)
    n = input.shape[d] if input.ndim else 1
    if any(s < 0 for s in sizes) or sum(sizes) != n:
        raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {n} (input tensor's size at dimension "
                           f"{d}), but got split_sizes={sizes}")
    return tuple(_ops.split(input, sizes, d))


def constant_pad_nd(input, pad, value=0):
    """constant_pad_nd(input, pad, value=0) -> Tensor: pads the last ``len(pad) // 2`` dims with
    ``value`` (``pad`` pairs from the last dim backwards; negative amounts crop)."""
    _tensor_arg("constant_pad_nd", input)
    pad = [operator.index(p) for p in pad]
    if len(pad) % 2:
        raise RuntimeError(f"constant_pad_nd: Length of pad must be even but instead it equals {len(pad)}")
    if len(pad) // 2 > input.ndim:
        raise RuntimeError(f"constant_pad_nd: Length of pad should be no more than twice the number of dimensions of the "
                           f"input. Pad length is {len(pad)} while the input has {input.ndim} dimensions.")
    from .nn import functional as F

    return F.pad(input, pad, mode="constant", value=value)


def _kind(d):
    return 0 if d.name == "bool" else (3 if d.is_complex else 2 if d.is_floating_point else 1)


def can_cast(from_, to):
    """can_cast(from_, to) -> bool: whether PyTorch's type promotion allows a result of dtype
    ``from_`` to be written into a tensor of dtype ``to`` (never to a lower kind among
    bool < integer < floating < complex).

        >>> deepseek.can_cast(deepseek.float32, deepseek.int32)
        False
    """
    return _kind(to_dtype(from_)) <= _kind(to_dtype(to))


def promote_types(type1, type2):
    """promote_types(type1, type2) -> dtype: the smallest dtype both can be converted to
    without losing kind or range (``int8`` and ``uint8`` give ``int16``).

        >>> deepseek.promote_types(deepseek.int8, deepseek.uint8)
        deepseek.int16
    """
    a, b = to_dtype(type1), to_dtype(type2)
    return DTYPES[_core.result_type(_core.empty([1], a.name), _core.empty([1], b.name))]


def nonzero_static(input, *, size, fill_value=-1):
    """nonzero_static(input, *, size, fill_value=-1) -> LongTensor [size, input.ndim]: the
    indices of the nonzero elements (as ``nonzero``), cut to ``size`` rows or padded with
    ``fill_value`` up to it."""
    _tensor_arg("nonzero_static", input)
    size = operator.index(size)
    if size < 0:
        raise RuntimeError(f"nonzero_static: 'size' must be an non-negative integer, got {size}")
    nz = _ops.nonzero(input)
    k = nz.shape[0]
    if k >= size:
        return nz[:size]
    pad = _core.full([size - k, nz.shape[1]], operator.index(fill_value), "int64",
                     None if input._device == "cpu" else input._device)
    return _ops.cat([nz, pad], 0)


def embedding_renorm_(input, indices, max_norm, norm_type):
    """embedding_renorm_(weight, indices, max_norm, norm_type) -> Tensor: scales, in place, each
    row of ``weight`` that ``indices`` names whose ``norm_type``-norm exceeds ``max_norm`` to
    norm ``max_norm`` (as ``nn.functional.embedding`` with ``max_norm`` does first)."""
    _tensor_arg("embedding_renorm_", input)
    if input.ndim != 2:
        raise RuntimeError(f"embedding_renorm_: Expected 2-dimensional weight, but got weight of shape {tuple(input.shape)}")
    from ._search import unique
    from .autograd import no_grad

    with no_grad():
        ids = unique(indices.reshape(-1))
        rows = input[ids]
        norms = _ops.norm(rows.double(), norm_type, dim=1, keepdim=True)
        scale = _ops.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0).to(input.dtype)
        input.index_put_((ids,), rows * scale)
    return input


# deepseek.<name>_(input, *args) is input.<name>_(*args): the names PyTorch keeps at the top level
_INPLACE = """abs_ acos_ acosh_ addmv_ arccos_ arccosh_ arcsin_ arcsinh_ arctan_ arctanh_ asin_ asinh_ atan_ atanh_
ceil_ clamp_ clamp_max_ clamp_min_ clip_ conj_physical_ cos_ cosh_ deg2rad_ detach_ erf_ erfc_ exp2_ exp_ expm1_
fill_ fix_ floor_ frac_ gcd_ i0_ index_put_ lcm_ ldexp_ log10_ log1p_ log2_ log_ logit_ nan_to_num_ neg_ negative_
rad2deg_ reciprocal_ resize_as_ round_ rsqrt_ sin_ sinc_ sinh_ sqrt_ square_ tan_ tanh_ trunc_ xlogy_
zero_""".split()


def _toplevel_inplace(name):
    def f(input, *args, **kwargs):
        _tensor_arg(name, input)
        return getattr(input, name)(*args, **kwargs)

    f.__name__ = f.__qualname__ = name
    f.__doc__ = f"{name}(input, *args, **kwargs) -> Tensor: ``input.{name}(*args, **kwargs)``, written into ``input``."
    return f


for _n in _INPLACE:
    globals()[_n] = _toplevel_inplace(_n)
__all__ += _INPLACE
