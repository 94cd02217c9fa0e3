"""Reductions and the composites built on them: sum, mean, var/std, amax/amin, max/min,
arg-reductions, logsumexp, all/any, norm, cumsum/cumprod, softmax and log_softmax."""
from __future__ import annotations

import builtins
import math

from . import _core
from ._core import Tensor
from ._dtype import to_dtype
from ._ops_args import (
    _check_tensor, _fused_float, _narrow, _reduce_dims, _widen, _wrap_dim,
)
from ._ops_math import (
    exp, isinf, log, logical_not, maximum, minimum, sqrt, where,
)


def sum(input, dim=None, keepdim=False, *, dtype=None):
    """sum(input, dim=None, keepdim=False, *, dtype=None): sum over ``dim`` (all dims by default).

    Integer and bool inputs sum to int64, as in PyTorch.
    """
    _check_tensor("sum", input)
    dims = _reduce_dims("sum", dim, input)
    if dtype is not None:
        input = input.to(to_dtype(dtype))
    return _core.reduce("sum", input, dims, keepdim)


def prod(input, dim=None, keepdim=False, *, dtype=None):
    """prod(input, dim=None, keepdim=False): product over ``dim``."""
    _check_tensor("prod", input)
    dims = _reduce_dims("prod", dim, input)
    if dtype is not None:
        input = input.to(to_dtype(dtype))
    return _core.reduce("prod", input, dims, keepdim)


def mean(input, dim=None, keepdim=False, *, dtype=None):
    """mean(input, dim=None, keepdim=False, *, dtype=None): arithmetic mean (floating inputs only).

    float16 and bfloat16 inputs are summed and divided in float32 and rounded once, as PyTorch
    does, so a mean never overflows where its sum would:

        >>> deepseek.full((100,), 1000.0, dtype=deepseek.float16).mean()
        tensor(1000., dtype=deepseek.float16)
    """
    _check_tensor("mean", input)
    dims = _reduce_dims("mean", dim, input)
    if dtype is not None:
        input = input.to(to_dtype(dtype))
    if not (input.dtype.is_floating_point or input.dtype.is_complex):
        raise RuntimeError(
            f"mean(): could not infer output dtype. Input dtype must be either a floating point or complex dtype. Got: {input.dtype}"
        )
    x, half = _widen(input)
    s = _core.reduce("sum", x, dims, keepdim)
    n = _count(input, dims)
    return _narrow(s / n if n else s * float("nan"), half)


def _count(input, dims):
    """How many elements a reduction over ``dims`` (wrapped; [] is every dim) combines."""
    if not dims:
        return input.numel()
    return math.prod(input.shape[d] for d in dims) if input.ndim else 1


def _moments(op, input, dim, correction, keepdim, unbiased):
    """(variance, mean) over ``dim``: two passes, in float32 for the half types (PyTorch's CPU
    kernels accumulate them in float32 and round the results to the input dtype)."""
    _check_tensor(op, input)
    if unbiased is not None:
        correction = 1 if unbiased else 0
    if isinstance(dim, bool):  # the legacy var(input, unbiased)
        correction, dim = (1 if dim else 0), None
    if correction is None:
        correction = 1
    dims = _reduce_dims(op, dim, input)
    if not input.dtype.is_floating_point:
        raise RuntimeError(
            f"{op}(): std and var only support floating point and complex dtypes (the mean of an integer "
            f"tensor is not defined), but got {input.dtype} of shape {tuple(input.shape)}"
        )
    x, half = _widen(input)
    n = _count(input, dims)
    m = mean(x, dims, keepdim=True)
    d = x - m
    v = _core.reduce("sum", d * d, dims, keepdim) / builtins.max(n - correction, 0)
    if not keepdim:
        m = _core.squeeze(m, dims) if dims and input.ndim else m.reshape([])
    return v, m, half


def var(input, dim=None, *, correction=None, keepdim=False, unbiased=None):
    """var(input, dim=None, *, correction=1, keepdim=False): variance with Bessel's correction.

    Computed in float32 for float16/bfloat16 and rounded to the input dtype, as in PyTorch.
    """
    v, _, half = _moments("var", input, dim, correction, keepdim, unbiased)
    return _narrow(v, half)


def std(input, dim=None, *, correction=None, keepdim=False, unbiased=None):
    """std(input, dim=None, *, correction=1, keepdim=False): standard deviation (see :func:`var`)."""
    v, _, half = _moments("std", input, dim, correction, keepdim, unbiased)
    return _narrow(sqrt(v), half)


def var_mean(input, dim=None, *, correction=None, keepdim=False, unbiased=None):
    """var_mean(input, dim=None, *, correction=1, keepdim=False) -> (Tensor, Tensor)"""
    v, m, half = _moments("var_mean", input, dim, correction, keepdim, unbiased)
    return _narrow(v, half), _narrow(m, half)


def std_mean(input, dim=None, *, correction=None, keepdim=False, unbiased=None):
    """std_mean(input, dim=None, *, correction=1, keepdim=False) -> (Tensor, Tensor)"""
    v, m, half = _moments("std_mean", input, dim, correction, keepdim, unbiased)
    return _narrow(sqrt(v), half), _narrow(m, half)


def amax(input, dim=(), keepdim=False):
    """amax(input, dim=(), keepdim=False): maximum over dims; gradient split evenly among ties."""
    _check_tensor("amax", input)
    return _core.reduce("amax", input, _reduce_dims("amax", dim, input), keepdim)


def amin(input, dim=(), keepdim=False):
    """amin(input, dim=(), keepdim=False): minimum over dims."""
    _check_tensor("amin", input)
    return _core.reduce("amin", input, _reduce_dims("amin", dim, input), keepdim)


class _MinMax(tuple):
    """(values, indices) as PyTorch's named tuple return."""

    @property
    def values(self):
        return self[0]

    @property
    def indices(self):
        return self[1]


def max(input, dim=None, keepdim=False, *, out=None):
    """max(input) -> Tensor; max(input, dim, keepdim=False) -> (values, indices);
    max(input, other) -> elementwise maximum."""
    if isinstance(dim, Tensor):
        return maximum(input, dim)
    _check_tensor("max", input)
    if dim is None:
        return _core.reduce("amax", input, [], False)
    return _MinMax(_core.max_min_dim(input, _wrap_dim("max", dim, input), keepdim, True))


def min(input, dim=None, keepdim=False, *, out=None):
    """min(input) / min(input, dim, keepdim) / min(input, other), as ``max``."""
    if isinstance(dim, Tensor):
        return minimum(input, dim)
    _check_tensor("min", input)
    if dim is None:
        return _core.reduce("amin", input, [], False)
    return _MinMax(_core.max_min_dim(input, _wrap_dim("min", dim, input), keepdim, False))


def argmax(input, dim=None, keepdim=False):
    """argmax(input, dim=None, keepdim=False): index of the first maximum."""
    _check_tensor("argmax", input)
    return _core.argmax(input, None if dim is None else _wrap_dim("argmax", dim, input), keepdim, True)


def argmin(input, dim=None, keepdim=False):
    """argmin(input, dim=None, keepdim=False): index of the first minimum."""
    _check_tensor("argmin", input)
    return _core.argmax(input, None if dim is None else _wrap_dim("argmin", dim, input), keepdim, False)


def logsumexp(input, dim, keepdim=False):
    """logsumexp(input, dim, keepdim=False): ``log(sum(exp(x)))`` computed stably.

    Integer and bool inputs are computed in (and return) the default float dtype, as in
    PyTorch, so ``uint8`` values are not exponentiated in 8 bits.
    """
    _check_tensor("logsumexp", input)
    dims = _reduce_dims("logsumexp", dim, input)
    if not input.dtype.is_floating_point:
        from ._dtype import get_default_dtype

        input = _core.cast(input, get_default_dtype().name)
    if input.numel() == 0:  # max has no identity; an empty sum gives log(0) = -inf anyway
        m = _core.zeros([], input._dtype)
    else:
        m = _core.reduce("amax", input.detach(), dims, True)
        m = where(isinf(m), _core.zeros([], m._dtype), m)
    r = log(_core.reduce("sum", exp(input - m), dims, True)) + m
    if not keepdim:
        r = _core.squeeze(r, dims) if dims and input.ndim else r.reshape([])
    return r


def _truth_dtype(r, input):
    """all/any give bool, except for uint8 input, which keeps uint8 (0 or 1) as in PyTorch."""
    return _core.cast(r, "uint8") if input._dtype == "uint8" else r


def all(input, dim=None, keepdim=False):
    """all(input, dim=None, keepdim=False) -> Tensor

    True where every element (along ``dim``) is non-zero; bool, or uint8 for uint8 input.
    """
    _check_tensor("all", input)
    dims = _reduce_dims("all", dim, input)
    b = input.to("bool") if input.dtype.name != "bool" else input
    if b.numel() == 0:
        # max/min have no identity; count the zeros instead (an empty reduction is True)
        return _truth_dtype(_core.reduce("sum", logical_not(b).to("int64"), dims, keepdim) == 0, input)
    return _truth_dtype(_core.reduce("amin", b, dims, keepdim), input)


def any(input, dim=None, keepdim=False):
    """any(input, dim=None, keepdim=False) -> Tensor

    True where some element (along ``dim``) is non-zero; bool, or uint8 for uint8 input.
    """
    _check_tensor("any", input)
    dims = _reduce_dims("any", dim, input)
    b = input.to("bool") if input.dtype.name != "bool" else input
    if b.numel() == 0:
        return _truth_dtype(_core.reduce("sum", b.to("int64"), dims, keepdim) != 0, input)
    return _truth_dtype(_core.reduce("amax", b, dims, keepdim), input)


def norm(input, p="fro", dim=None, keepdim=False, dtype=None):
    """norm(input, p='fro', dim=None, keepdim=False): vector p-norm over dims (2-norm by default).

    Floating inputs only, as in PyTorch; float16/bfloat16 accumulate in float32 and round the
    norm once (their squares overflow at 256 in float16).
    """
    _check_tensor("norm", input)
    dims = _reduce_dims("norm", dim, input)
    if dtype is not None:
        input = input.to(to_dtype(dtype))
    if not input.dtype.is_floating_point:
        raise RuntimeError(
            f"norm(): input dtype should be either floating point or complex, but got {input.dtype} "
            f"(shape {tuple(input.shape)}); pass dtype= or convert the input first"
        )
    x, half = _widen(input)
    if p in ("fro", 2, 2.0):
        r = sqrt(_core.reduce("sum", x * x, dims, keepdim))
    elif p in (float("inf"), "inf"):
        r = _core.reduce("amax", abs(x), dims, keepdim)
    elif p == -float("inf"):
        r = _core.reduce("amin", abs(x), dims, keepdim)
    elif p == 1:
        r = _core.reduce("sum", abs(x), dims, keepdim)
    elif p == 0:
        r = _core.reduce("sum", (x != 0).to(x.dtype), dims, keepdim)
    elif isinstance(p, str):
        raise RuntimeError(f"norm(): p={p!r} is not supported; use a number, inf, -inf or 'fro'")
    else:
        r = pow(_core.reduce("sum", pow(abs(x), p), dims, keepdim), 1.0 / p)
    return _narrow(r, half)


def cumsum(input, dim, *, dtype=None):
    """cumsum(input, dim): cumulative sum along ``dim``; integer and bool inputs give int64."""
    _check_tensor("cumsum", input)
    d = _wrap_dim("cumsum", dim, input)
    if input.dtype.is_complex and dtype is None:  # on the (real, imaginary) view: the parts add apart
        return _core.view_as_complex(_core.contiguous(_core.cumulative(_core.view_as_real(input), d, False)))
    if dtype is None and not input.dtype.is_floating_point:
        dtype = "int64"
    if dtype is not None:
        input = input.to(to_dtype(dtype))
    return _core.cumulative(input, d, False)


def cumprod(input, dim, *, dtype=None):
    """cumprod(input, dim): cumulative product along ``dim``; integer and bool inputs give int64."""
    _check_tensor("cumprod", input)
    d = _wrap_dim("cumprod", dim, input)
    if dtype is None and not input.dtype.is_floating_point:
        dtype = "int64"
    if dtype is not None:
        input = input.to(to_dtype(dtype))
    return _core.cumulative(input, d, True)


def _softmax_input(op, input, dim, dtype):
    """(input widened for the half types, the wrapped dim, the dtype to round to)."""
    _check_tensor(op, input)
    if dim is None:
        raise TypeError(f"{op}(): argument 'dim' must be given")
    d = _wrap_dim(op, dim, input)
    if dtype is not None:
        input = input.to(to_dtype(dtype))
    if not input.dtype.is_floating_point:
        raise RuntimeError(
            f"{op}(): expected a floating point input, but got {input.dtype} of shape {tuple(input.shape)}; "
            "pass dtype= to compute in a floating dtype"
        )
    x, half = _widen(input)
    return x, d, half


def softmax(input, dim=None, dtype=None, _stacklevel=3):
    """softmax(input, dim, dtype=None): ``exp(x) / sum(exp(x))`` along ``dim``, computed stably
    (in float32 for float16/bfloat16, rounded once, as PyTorch's kernels do). Over the last
    dim of a float32/float64 CPU tensor it runs as one fused kernel each way."""
    x, d, half = _softmax_input("softmax", input, dim, dtype)
    if half is None and x.ndim and d == x.ndim - 1 and _fused_float(x):
        return _core.softmax_last(x, False)
    m = _core.reduce("amax", x.detach(), [d], True) if x.numel() else 0.0
    e = exp(x - m)
    return _narrow(e / _core.reduce("sum", e, [d], True), half)


def log_softmax(input, dim=None, dtype=None, _stacklevel=3):
    """log_softmax(input, dim, dtype=None): ``x - logsumexp(x)`` along ``dim`` (in float32 for
    float16/bfloat16, rounded once); fused over the last dim as ``softmax`` is."""
    x, d, half = _softmax_input("log_softmax", input, dim, dtype)
    if half is None and x.ndim and d == x.ndim - 1 and _fused_float(x):
        return _core.softmax_last(x, True)
    if x.numel() == 0:
        return _narrow(x.clone(), half)
    m = _core.reduce("amax", x.detach(), [d], True)
    s = x - m
    return _narrow(s - log(_core.reduce("sum", exp(s), [d], True)), half)
