"""The functional tensor API (``deepseek.exp``, ``deepseek.sum`` ...).

Each function validates and normalises its arguments, then makes one call into the Rust
core. Composite ops (softmax, var, logsumexp ...) are written here from primitives, so their
gradients come from the primitives' derivatives.
"""
from __future__ import annotations

import builtins
import math
import operator

from . import _core
from ._core import Tensor
from ._dtype import Size, get_default_dtype, to_dtype
from ._einsum import einsum

from .backends.primitives import PRIMITIVE_OPS as _PRIMITIVES

# every unary and binary primitive of the core's op table is a function here
_UNARY = _PRIMITIVES["unary"]
_BINARY = _PRIMITIVES["binary"]


def _check_tensor(op, x, name="input"):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}(): argument '{name}' must be Tensor, not {type(x).__name__}")


# ---------- dim arguments: every op checks its dims here, and nowhere else ----------

def _int_arg(op, value, name):
    """``value`` as a Python int. Ints, NumPy integers and integer 0-d tensors pass (through
    ``__index__``); a bool, a float or anything else is a TypeError, as in PyTorch."""
    if not isinstance(value, bool):
        try:
            return operator.index(value)
        except TypeError:
            pass
    raise TypeError(f"{op}(): argument '{name}' must be int, not {type(value).__name__}")


def _wrap_dim(op, dim, input, *, name="dim", new=False):
    """``dim`` of ``input`` as an index in ``[0, N)``, or PyTorch's IndexError.

    N is ``input.ndim``, or ``input.ndim + 1`` with ``new=True`` (the dim ``unsqueeze`` and
    ``stack`` insert). A 0-d tensor takes dims 0 and -1, as PyTorch's ``wrap_scalar`` does.
    """
    d = _int_arg(op, dim, name)
    n = builtins.max(input.ndim + new, 1)
    if not -n <= d < n:
        raise IndexError(
            f"{op}(): Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {d}) "
            f"for a tensor of shape {tuple(input.shape)}"
        )
    return d + n if d < 0 else d


def _wrap_dims(op, dims, input, *, name="dim"):
    """A dim or a sequence of dims, each through :func:`_wrap_dim`; a dim named twice (as 1
    and -1, say) is PyTorch's RuntimeError."""
    seq = isinstance(dims, (list, tuple)) or (isinstance(dims, Tensor) and dims.ndim > 0)
    out = []
    for d in (dims if seq else [dims]):
        w = _wrap_dim(op, d, input, name=name)
        if w in out:
            raise RuntimeError(f"{op}(): dim {w} appears multiple times in the list of dims {list(dims)} "
                               f"for a tensor of shape {tuple(input.shape)}")
        out.append(w)
    return out


def _reduce_dims(op, dim, input):
    """The dims a reduction runs over; ``None`` and an empty list mean every dim ([])."""
    if dim is None or (isinstance(dim, (list, tuple)) and len(dim) == 0):
        return []
    return _wrap_dims(op, dim, input)


def _no_dims(op, input, dim):
    """PyTorch's IndexError for a dim of a 0-d tensor where the op needs a real dim."""
    if input.ndim == 0:
        raise IndexError(f"{op}(): Dimension specified as {dim} but tensor has no dimensions")


# ---------- narrow dtypes: composites accumulate in float32, as PyTorch's kernels do ----------

_HALF = ("float16", "bfloat16")
_FLOATS = ("float16", "bfloat16", "float32", "float64")


def _widen(input):
    """(``input`` in float32, the dtype to round the result to) for float16/bfloat16, whose
    sums, squares and exponentials overflow at 65504 (float16) or lose bits at every step;
    (``input``, None) for the other dtypes."""
    if input._dtype in _HALF:
        return _core.cast(input, "float32"), input._dtype
    return input, None


def _narrow(r, dtype):
    """The result of a widened composite rounded once to ``dtype`` (None: unchanged)."""
    return r if dtype is None else _core.cast(r, dtype)


def _make_unary(name):
    def f(input, *, out=None):
        _check_tensor(name, input)
        r = _core.unary(name, input)
        return _out(r, out)

    f.__name__ = name
    f.__doc__ = f"{name}(input) -> Tensor\n\nElementwise ``{name}``; integer inputs give float32 where the result is not integral."
    return f


def _out(r, out):
    if out is None:
        return r
    out.copy_(r)
    return out


def _make_binary(name):
    def f(input, other, *, out=None):
        if not isinstance(input, Tensor) and not isinstance(other, Tensor):
            raise TypeError(f"{name}(): argument 'input' must be Tensor, not {type(input).__name__}")
        return _out(_core.binary(name, input, other), out)

    f.__name__ = name
    f.__doc__ = f"{name}(input, other) -> Tensor\n\nElementwise ``{name}`` with broadcasting and type promotion."
    return f


_namespace = globals()
for _n in _UNARY:
    _namespace[_n] = _make_unary(_n)
for _n in _BINARY:
    if _n not in ("add", "sub"):
        _namespace[_n] = _make_binary(_n)


def round(input, *, decimals=0, out=None):
    """round(input, *, decimals=0) -> Tensor

    Rounds half to even; with ``decimals``, to that many decimal places (negative: to tens,
    hundreds...), as PyTorch: ``round(x * 10**decimals) / 10**decimals``.

        >>> deepseek.round(deepseek.tensor([1.2345, 125.0]), decimals=-1)
        tensor([  0., 120.])
    """
    if decimals == 0 and not isinstance(decimals, bool):
        _check_tensor("round", input)
        return _out(_core.unary("round", input), out)
    from ._math_extra import round as _round_decimals

    return _round_decimals(input, decimals=decimals, out=out)
del _n
negative = _namespace["neg"]
multiply = _namespace["mul"]
greater = _namespace["gt"]
less = _namespace["lt"]
greater_equal = _namespace["ge"]
less_equal = _namespace["le"]
not_equal = _namespace["ne"]
_div_plain = _namespace["div"]


def _is_default_alpha(alpha):
    return type(alpha) is int and alpha == 1


def _scaled_other(op, input, other, alpha):
    """(``alpha * other``, the result dtype) for ``input op alpha * other``, as
    PyTorch computes it: both operands in the promoted dtype first, then the product (so int8 0
    + uint8 1 with alpha -1 is int16 -1, not uint8 255), float16/bfloat16 in float32 rounded
    once at the end. A float alpha with integer operands and a bool alpha with a non-bool
    result are refused, as in PyTorch."""
    if isinstance(alpha, Tensor):
        alpha = alpha.item()
    ct = _binary_dtype(op, input, other)  # raises what the op raises (sub of a bool operand)
    if isinstance(alpha, bool) and ct != "bool":
        raise RuntimeError(f"{op}(): Boolean alpha only supported for Boolean results, got {ct} operands.")
    if isinstance(alpha, float) and ct not in _FLOATS:
        raise RuntimeError(f"{op}(): For integral input tensors, argument alpha must not be a floating point "
                           f"number (got alpha={alpha} for {ct} operands).")
    scaled = _core.binary("mul", _in_wide(other, ct), bool(alpha) if ct == "bool" else alpha)
    return scaled, ct


def _wide(dtype):
    """The dtype PyTorch's kernels compute ``dtype`` in (float16/bfloat16: float32)."""
    return "float32" if dtype in _HALF else dtype


def _as_dtype(x, dtype):
    """A tensor as ``dtype`` (differentiably); a Python number as a 0-d tensor of ``dtype``,
    converted as the binary ops convert it (integers wrap)."""
    if isinstance(x, Tensor):
        return x if x._dtype == dtype else _core.cast(x, dtype)
    return _core.binary("add", _core.zeros([], dtype), x)


def _in_wide(x, dtype):
    """``x`` converted to ``dtype`` (so int32 2**31 is -inf in float16, as PyTorch's kernels
    see it), then to the dtype ``dtype`` is computed in."""
    x = _as_dtype(x, dtype)
    return _as_dtype(x, _wide(dtype))


def _add_scaled(op, input, other, alpha):
    scaled, ct = _scaled_other(op, input, other, alpha)
    r = _core.binary(op, _in_wide(input, ct), scaled)
    return r if r._dtype == ct else _core.cast(r, ct)


def add(input, other, *, alpha=1, out=None):
    """add(input, other, *, alpha=1, out=None) -> Tensor

    ``input + alpha * other``, with broadcasting and type promotion; ``alpha * other`` is
    formed in the promoted dtype. ``alpha`` must be an integer for integer operands.

    Example::

        >>> deepseek.add(deepseek.tensor([1, 2]), deepseek.tensor([10, 20]), alpha=-1)
        tensor([ -9, -18])
    """
    if _is_default_alpha(alpha):
        return _out(_core.binary("add", input, other), out)
    return _out(_add_scaled("add", input, other, alpha), out)


def sub(input, other, *, alpha=1, out=None):
    """sub(input, other, *, alpha=1, out=None) -> Tensor

    ``input - alpha * other``, with broadcasting and type promotion; ``alpha * other`` is
    formed in the promoted dtype. A bool operand is refused, as in PyTorch (use ``^`` or
    ``logical_not``).
    """
    if _is_default_alpha(alpha):
        return _out(_core.binary("sub", input, other), out)
    return _out(_add_scaled("sub", input, other, alpha), out)


subtract = sub


def _div_trunc(input, other):
    """Division rounded toward zero. Integers stay integers and exact (the floor quotient,
    plus one where the truncated and floored remainders differ, i.e. the quotient is inexact
    and negative), and a zero divisor raises as in floor_divide; floats are ``trunc(a / b)``."""
    dtype = _core.result_type(input, other)
    if dtype == "bool":
        raise RuntimeError("div(): rounding_mode='trunc' is not implemented for 'Bool' (divide integer tensors)")
    if dtype in _FLOATS:
        return trunc(_div_plain(input, other))
    q = _core.binary("floor_divide", input, other)
    inexact_negative = _core.binary("ne", _core.binary("fmod", input, other), _core.binary("remainder", input, other))
    return _core.binary("add", q, inexact_negative)


def div(input, other, *, rounding_mode=None, out=None):
    """div(input, other, *, rounding_mode=None, out=None) -> Tensor

    ``input / other`` with broadcasting: true division (integers give float32) when
    ``rounding_mode`` is None; ``'trunc'`` rounds toward zero and ``'floor'`` down, both
    keeping the promoted dtype, exact for integers, where a zero divisor raises.

    Example::

        >>> deepseek.div(deepseek.tensor([-7, 7]), 2, rounding_mode="trunc")
        tensor([-3,  3])
    """
    if rounding_mode is None:
        r = _div_plain(input, other)
    elif rounding_mode == "floor":
        r = _core.binary("floor_divide", input, other)
    elif rounding_mode == "trunc":
        r = _div_trunc(input, other)
    else:
        raise ValueError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but found '{rounding_mode}'")
    return _out(r, out)


divide = div
true_divide = _div_plain


def _binary_dtype(op, a, b):
    """The dtype name of the binary ``op`` on ``a`` and ``b``, from empty stand-ins of the
    same ndim and dtype (so the op's own operand checks run, on no data)."""
    if isinstance(a, Tensor) and isinstance(b, Tensor) and a._dtype == b._dtype != "bool":
        return a._dtype

    def probe(x):
        if isinstance(x, Tensor):
            return _core.zeros([0] * x.ndim if x.ndim else [], x._dtype)
        return x

    a, b = probe(a), probe(b)
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        from ._creation import tensor as _t

        a = _core.zeros([], _t(a)._dtype)
    return _core.binary(op, a, b)._dtype


def result_type(tensor1, tensor2):
    """The dtype an arithmetic op on the two operands produces (PyTorch's promotion rules)."""
    return to_dtype(_core.result_type(tensor1, tensor2))


def where(condition, input=None, other=None):
    """where(condition, input=None, other=None) -> Tensor

    ``input`` where the bool ``condition`` holds, else ``other``, with broadcasting and type
    promotion of ``input`` and ``other`` (tensors or numbers). ``where(condition)`` is
    ``nonzero(condition, as_tuple=True)``. A uint8 condition is accepted with a warning, as
    in PyTorch; other dtypes are refused.
    """
    if input is None and other is None:
        return nonzero(condition, as_tuple=True)
    _check_tensor("where", condition, "condition")
    if condition._dtype == "uint8":
        import warnings

        warnings.warn("where received a uint8 condition tensor. This behavior is deprecated; use a boolean condition instead.",
                      UserWarning, stacklevel=2)
    elif condition._dtype != "bool":
        raise RuntimeError(f"where expected condition to be a boolean tensor, but got a tensor with dtype {condition.dtype}")
    return _core.where(condition, input, other)


def _clamp_dtype(op, input, bounds):
    """The dtype clamp computes in and returns, by PyTorch's rule: tensor bounds promote with
    ``input`` like binary operands (uint8 clamped by int8 is int16); number bounds leave a
    floating ``input``'s dtype alone and otherwise promote as Python numbers do (an integer
    tensor clamped by a float is the default float dtype)."""
    if builtins.any(isinstance(b, Tensor) for b in bounds) or input._dtype not in _FLOATS:
        dtype = _core.result_type(input, *bounds)
    else:
        dtype = input._dtype
    if dtype == "bool":
        raise RuntimeError(f"{op}(): not implemented for 'Bool' (clamp bool tensors through an integer dtype)")
    return dtype


def _clamp_bound(b, dtype):
    """A bound in the compute dtype; a number converts as PyTorch's checked Scalar conversion
    does (300 into int8 raises; -1 into uint8 is 255, as in C)."""
    if isinstance(b, Tensor):
        return _as_dtype(b, dtype)
    return _core.full([], b, dtype)


def _clamp(op, input, min, max):
    _check_tensor(op, input)
    bounds = [b for b in (min, max) if b is not None]
    if not bounds:
        raise RuntimeError(f"{op}(): at least one of 'min' or 'max' must not be None")
    dtype = _clamp_dtype(op, input, bounds)
    r = _as_dtype(input, dtype)
    # NaN inputs compare false both ways and pass through, as in PyTorch
    if min is not None:
        lo = _clamp_bound(min, dtype)
        r = _core.where(r < lo, lo, r)
    if max is not None:
        hi = _clamp_bound(max, dtype)
        r = _core.where(r > hi, hi, r)
    return r


def clamp(input, min=None, max=None, *, out=None):
    """clamp(input, min=None, max=None, *, out=None) -> Tensor

    Limits every element to ``[min, max]`` (``max`` wins where ``min > max``). Tensor bounds
    broadcast and take part in type promotion; number bounds keep a floating ``input``'s dtype
    and promote an integer one only to the default float dtype. The gradient flows where
    ``min <= input <= max``, as in PyTorch.

    Example::

        >>> deepseek.clamp(deepseek.tensor([-2, 0, 5]), min=-1, max=1)
        tensor([-1,  0,  1])
    """
    return _out(_clamp("clamp", input, min, max), out)


def clip(input, min=None, max=None, *, out=None):
    """clip(input, min=None, max=None, *, out=None) -> Tensor: an alias of :func:`clamp`."""
    return _out(_clamp("clip", input, min, max), out)


def clamp_min(input, min):
    """clamp_min(input, min) -> Tensor: :func:`clamp` with a lower bound only."""
    return _clamp("clamp_min", input, min, None)


def clamp_max(input, max):
    """clamp_max(input, max) -> Tensor: :func:`clamp` with an upper bound only."""
    return _clamp("clamp_max", input, None, max)


def lerp(input, end, weight):
    """lerp(input, end, weight) -> Tensor

    Linear interpolation ``input + weight * (end - input)``, with broadcasting. ``input``,
    ``end`` and a tensor ``weight`` must share one floating-point dtype. As PyTorch, for
    ``|weight| >= 0.5`` it computes ``end - (end - input) * (1 - weight)`` (exact at
    ``weight == 1``), and float16/bfloat16 in float32, rounded once.

    Example::

        >>> deepseek.lerp(deepseek.tensor([0.0, 10.0]), deepseek.tensor([10.0, 20.0]), 0.5)
        tensor([ 5., 15.])
    """
    _check_tensor("lerp", input)
    _check_tensor("lerp", end, "end")
    for name, t in (("end", end), ("weight", weight)):
        if isinstance(t, Tensor) and t._dtype != input._dtype:
            raise RuntimeError(f"lerp(): expected dtype {input.dtype} for `{name}` but got dtype {t.dtype}")
    if input._dtype not in _FLOATS:
        raise RuntimeError(f"lerp(): not implemented for '{input._dtype}' (input, end and weight must be floating point)")
    a, dtype = _widen(input)
    b = _widen(end)[0]
    w = _widen(weight)[0] if isinstance(weight, Tensor) else weight
    d = b - a
    if isinstance(w, Tensor):
        r = _core.where(abs(w) < 0.5, a + w * d, b - d * (1 - w))
    else:
        r = a + w * d if builtins.abs(w) < 0.5 else b - d * (1 - w)
    return _narrow(r, dtype)


def square(input):
    """square(input) -> Tensor

    ``input * input``; as PyTorch's ``pow(input, 2)``, a bool input gives int64.
    """
    _check_tensor("square", input)
    if input._dtype == "bool":
        input = _core.cast(input, "int64")
    return input * input


def gelu(input, approximate="none"):
    """GELU: ``x * Φ(x)`` (or the tanh approximation with ``approximate='tanh'``); float16 and
    bfloat16 are computed in float32 and rounded once, as PyTorch's kernel does."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    _check_tensor("gelu", input)
    if _fused_float(input):  # one fused kernel each way (deepseek.nn.functional.bias_gelu's)
        return _core.bias_gelu(input, None, approximate == "tanh")
    x, half = _widen(input)
    if approximate == "tanh":
        c = math.sqrt(2.0 / math.pi)
        return _narrow(0.5 * x * (1.0 + tanh(c * (x + 0.044715 * x * x * x))), half)
    return _narrow(x * 0.5 * (1.0 + erf(x * (1.0 / math.sqrt(2.0)))), half)


def silu(input):
    """SiLU (swish): ``x * sigmoid(x)`` (in float32 for float16/bfloat16, rounded once)."""
    _check_tensor("silu", input)
    x, half = _widen(input)
    return _narrow(x * sigmoid(x), half)


def softplus(input, beta=1.0, threshold=20.0):
    """softplus: ``log(1 + exp(beta x)) / beta``, linear above ``threshold`` (in float32 for
    float16/bfloat16, rounded once)."""
    _check_tensor("softplus", input)
    x, half = _widen(input)
    z = x * beta
    soft = (relu(z) + log1p(exp(neg(abs(z))))) / beta
    return _narrow(where(z > threshold, x, soft), half)


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


def _fused_float(*ts):
    """Whether the core's fused CPU kernels take these tensors: float32/float64 on the CPU
    (everything else composes the op from primitives, with the same meaning)."""
    for t in ts:  # (this module shadows the builtin all)
        if t._device != "cpu" or t._dtype not in ("float32", "float64"):
            return False
    return True


def _fused_bool_or_float(t):
    """A mask the fused attention softmax takes: boolean or float32/float64, on the CPU."""
    return t._device == "cpu" and t._dtype in ("bool", "float32", "float64")


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


def matmul(input, other):
    """matmul(input, other): matrix product with NumPy's broadcasting rules (a sparse operand
    goes to ``deepseek.sparse.mm``)."""
    if not (isinstance(input, Tensor) and isinstance(other, Tensor)) and _sparse_operand(input, other):
        return input @ other
    _check_tensor("matmul", input)
    _check_tensor("matmul", other, "other")
    return _core.matmul(input, other)


def _sparse_operand(*xs):  # (this module shadows the builtin any)
    """Whether any argument is a sparse tensor (checked only once an argument is not a
    dense Tensor, so dense calls pay nothing)."""
    from .sparse import SparseTensor

    return isinstance(xs[0], SparseTensor) or isinstance(xs[1], SparseTensor)


def mm(input, mat2):
    """mm(input, mat2): product of two 2-D matrices (either may be sparse: ``deepseek.sparse.mm``)."""
    if not (isinstance(input, Tensor) and isinstance(mat2, Tensor)) and _sparse_operand(input, mat2):
        from . import sparse

        return sparse.mm(input, mat2)
    _check_tensor("mm", input)
    _check_tensor("mm", mat2, "mat2")
    if input.ndim != 2 or mat2.ndim != 2:
        raise RuntimeError(f"mm: expected 2-D tensors, got shapes {tuple(input.shape)} and {tuple(mat2.shape)}")
    if input.shape[1] != mat2.shape[0]:
        raise RuntimeError(
            f"mm: mat1 and mat2 shapes cannot be multiplied ({input.shape[0]}x{input.shape[1]} and "
            f"{mat2.shape[0]}x{mat2.shape[1]}); shapes {tuple(input.shape)} and {tuple(mat2.shape)}"
        )
    return _core.matmul(input, mat2)


def bmm(input, mat2):
    """bmm(input, mat2): batched product of [B, m, k] and [B, k, n]."""
    return _core.bmm(input, mat2)


def mv(input, vec):
    """mv(input, vec): the product of a 2-D matrix and a 1-D vector."""
    _check_tensor("mv", input)
    _check_tensor("mv", vec, "vec")
    if input.ndim != 2 or vec.ndim != 1:
        raise RuntimeError(f"mv: expected a 2-D matrix and a 1-D vector, but got shapes {tuple(input.shape)} and {tuple(vec.shape)}")
    return _core.matmul(input, vec)


def dot(input, other):
    if input.ndim != 1 or other.ndim != 1:
        raise RuntimeError(f"dot: 1D tensors expected, but got {input.ndim}D and {other.ndim}D tensors")
    return _core.matmul(input, other)


def outer(input, vec2):
    """outer(input, vec2): the outer product of two 1-D tensors."""
    _check_tensor("outer", input)
    _check_tensor("outer", vec2, "vec2")
    if input.ndim != 1 or vec2.ndim != 1:
        raise RuntimeError(f"outer: expected 1-D arguments, but got shapes {tuple(input.shape)} and {tuple(vec2.shape)}")
    return input.reshape(-1, 1) * vec2.reshape(1, -1)


def isnan(input):
    return input != input


def isinf(input):
    if input.dtype.is_complex:
        return isinf(_core.real(input)) | isinf(_core.imag(input))
    if not input.dtype.is_floating_point:
        return _core.zeros(list(input.shape), "bool", input._device)
    return abs(input) == float("inf")


def isfinite(input):
    if input.dtype.is_complex:
        return isfinite(_core.real(input)) & isfinite(_core.imag(input))
    if not input.dtype.is_floating_point:
        return _core.full(list(input.shape), True, "bool", input._device)
    return (input == input) & (abs(input) != float("inf"))


_FINITE_MAX = {"float16": 65504.0, "bfloat16": 3.3895313892515355e38, "float32": 3.4028234663852886e38,
               "float64": 1.7976931348623157e308}


def nan_to_num(input, nan=0.0, posinf=None, neginf=None):
    """nan_to_num(input, nan=0.0, posinf=None, neginf=None): NaN and infinities replaced;
    infinities default to the dtype's largest finite values. Integer inputs are copied."""
    if not input.dtype.is_floating_point:
        return _core.clone(input)
    big = _FINITE_MAX[input._dtype]
    r = where(isnan(input), nan, input)
    r = where(r == float("inf"), big if posinf is None else posinf, r)
    return where(r == -float("inf"), -big if neginf is None else neginf, r)


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False) -> bool

    Whether :func:`isclose` holds everywhere (after broadcasting).
    """
    return builtins.bool(_isclose("allclose", input, other, rtol, atol, equal_nan).all())


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False) -> Tensor

    Elementwise ``input == other or |input - other| <= atol + rtol * |other|``, the
    difference only counting where it is finite: equal values (equal infinities included)
    are close, an infinity is close to nothing else, NaN only to NaN with ``equal_nan``.
    ``input`` and ``other`` must have one dtype; the test runs in it, as in PyTorch.

    Example::

        >>> deepseek.isclose(deepseek.tensor([1.0, float("inf")]), deepseek.tensor([1.0 + 1e-6, float("inf")]))
        tensor([True, True])
    """
    return _isclose("isclose", input, other, rtol, atol, equal_nan)


def _isclose(op, input, other, rtol, atol, equal_nan):
    _check_tensor(op, input)
    _check_tensor(op, other, "other")
    if input._dtype != other._dtype:
        raise RuntimeError(f"{op}(): {input.dtype} did not match {other.dtype} (compare tensors of one dtype)")
    if rtol < 0 or atol < 0:
        raise RuntimeError(f"{op}(): rtol and atol must be greater than or equal to zero, but got rtol={rtol}, atol={atol}")
    close = input == other
    if equal_nan and (input._dtype in _FLOATS or input.dtype.is_complex):
        close = close | (isnan(input) & isnan(other))
    if rtol == 0 and atol == 0:
        return close
    a, b = (x.to(get_default_dtype()) if x._dtype == "bool" else x for x in (input, other))
    allowed = atol + abs(rtol * b)
    actual = abs(a - b)
    return close | (isfinite(actual) & (actual <= allowed))


def equal(input, other):
    return tuple(input.shape) == tuple(other.shape) and builtins.bool((input == other).all())


# ---------- shape and assembly ----------

def _shape_args(shape):
    if len(shape) == 1 and isinstance(shape[0], (list, tuple, Size)):
        shape = shape[0]
    out = []
    for s in shape:
        try:
            out.append(operator.index(s))  # ints and integer 0-d tensors, never floats or strings
        except TypeError:
            raise TypeError(f"shape and dims must be a sequence of ints, but got an element of type {type(s).__name__}") from None
    return out


def reshape(input, *shape):
    """reshape(input, shape): a view when the strides allow, otherwise a copy."""
    return _core.reshape(input, _shape_args(shape))


def flatten(input, start_dim=0, end_dim=-1):
    """flatten(input, start_dim=0, end_dim=-1): merges dims ``start_dim..end_dim`` into one (a
    view when the strides allow); a 0-d tensor becomes shape [1]."""
    _check_tensor("flatten", input)
    s = _wrap_dim("flatten", start_dim, input, name="start_dim")
    e = _wrap_dim("flatten", end_dim, input, name="end_dim")
    if s > e:
        raise RuntimeError(
            f"flatten() has invalid args: start_dim cannot come after end_dim ({start_dim} > {end_dim} "
            f"for a tensor of shape {tuple(input.shape)})"
        )
    if input.ndim == 0:
        return _core.reshape(input, [1])
    shape = list(input.shape)
    return _core.reshape(input, shape[:s] + [math.prod(shape[s : e + 1])] + shape[e + 1 :])


def unflatten(input, dim, sizes):
    """unflatten(input, dim, sizes): splits ``dim`` into ``sizes`` (one of them may be -1).

        >>> deepseek.ones(2, 6).unflatten(1, (3, -1)).shape
        deepseek.Size([2, 3, 2])
    """
    _check_tensor("unflatten", input)
    d = _wrap_dim("unflatten", dim, input)
    _no_dims("unflatten", input, dim)
    if isinstance(sizes, Tensor):
        sizes = sizes.tolist()
    if not isinstance(sizes, (list, tuple)):
        raise TypeError(f"unflatten(): argument 'sizes' must be a tuple of ints, not {type(sizes).__name__}")
    sizes = _shape_args((list(sizes),))
    n = input.shape[d]
    bad = RuntimeError(
        f"unflatten: Provided sizes {sizes} don't multiply up to the size of dim {dim} ({n}) in the input "
        f"tensor of shape {tuple(input.shape)}"
    )
    if not sizes:
        raise RuntimeError("unflatten: sizes must be non-empty")
    if sizes.count(-1) > 1 or builtins.any(s < -1 for s in sizes):
        raise RuntimeError(f"unflatten: invalid sizes {sizes}: each size must be non-negative, and only one may be -1")
    known = math.prod(s for s in sizes if s != -1)
    if -1 in sizes:
        if known == 0 or n % known:
            raise bad
        sizes = [n // known if s == -1 else s for s in sizes]
    elif known != n:
        raise bad
    shape = list(input.shape)
    return _core.reshape(input, shape[:d] + sizes + shape[d + 1 :])


def squeeze(input, dim=None):
    """squeeze(input, dim=None): drops the size-1 dims (all of them, or those of ``dim``, an int
    or a tuple; a listed dim whose size is not 1 stays)."""
    _check_tensor("squeeze", input)
    if dim is None:
        return _core.squeeze(input, None)
    return _core.squeeze(input, _wrap_dims("squeeze", dim, input))


def unsqueeze(input, dim):
    """unsqueeze(input, dim): a view with a size-1 dim inserted at ``dim`` (in [-N-1, N])."""
    _check_tensor("unsqueeze", input)
    return _core.unsqueeze(input, _wrap_dim("unsqueeze", dim, input, new=True))


def permute(input, *dims):
    """permute(input, dims): a view with the dims reordered."""
    _check_tensor("permute", input)
    dims = _shape_args(dims)
    if len(dims) != input.ndim:
        raise RuntimeError(
            f"permute(): number of dimensions in the tensor input does not match the length of the desired "
            f"ordering of dimensions i.e. input.dim() = {input.ndim} is not equal to len(dims) = {len(dims)} "
            f"(shape {tuple(input.shape)}, dims {dims})"
        )
    order = [_wrap_dim("permute", d, input) for d in dims]
    if len(set(order)) != len(order):
        raise RuntimeError(f"permute(): duplicate dims are not allowed: dims {dims} for a tensor of shape {tuple(input.shape)}")
    return _core.permute(input, order)


def transpose(input, dim0, dim1):
    """transpose(input, dim0, dim1): a view with the two dims swapped."""
    _check_tensor("transpose", input)
    return _core.transpose(input, _wrap_dim("transpose", dim0, input, name="dim0"),
                           _wrap_dim("transpose", dim1, input, name="dim1"))


swapaxes = transpose
swapdims = transpose


def t(input):
    if input.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {input.ndim}D")
    return _core.transpose(input, 0, 1) if input.ndim == 2 else input


def movedim(input, source, destination):
    """movedim(input, source, destination): a view with the dims ``source`` moved to the
    positions ``destination`` (ints, or sequences of one length); the other dims keep their order."""
    _check_tensor("movedim", input)
    src = list(source) if isinstance(source, (list, tuple)) else [source]
    dst = list(destination) if isinstance(destination, (list, tuple)) else [destination]
    if len(src) != len(dst):
        raise RuntimeError(
            f"movedim: Invalid source or destination dims: source ({src} dims) should contain the same number "
            f"of dims as destination ({dst} dims)"
        )
    frm = [_wrap_dim("movedim", d, input, name="source") for d in src]
    to = [_wrap_dim("movedim", d, input, name="destination") for d in dst]
    for what, given, wrapped in (("source", src, frm), ("destination", dst, to)):
        if len(set(wrapped)) != len(wrapped):
            raise RuntimeError(f"movedim: repeated dim in `{what}` ({given}) for a tensor of shape {tuple(input.shape)}")
    n = input.ndim
    if n == 0:
        return _core.permute(input, [])
    order = [None] * n
    for a, b in zip(frm, to):
        order[b] = a
    rest = iter([i for i in range(n) if i not in frm])
    return _core.permute(input, [o if o is not None else next(rest) for o in order])


moveaxis = movedim


class _NarrowRangeError(RuntimeError, IndexError):
    """``narrow`` past the end: PyTorch's RuntimeError, and the IndexError deepseek raised
    before, so handlers written for either still catch it."""


def narrow(input, dim, start, length):
    """narrow(input, dim, start, length): a view of ``length`` entries from ``start`` (which
    may be negative, or a 0-d integer tensor)."""
    _check_tensor("narrow", input)
    if input.ndim == 0:
        raise RuntimeError("narrow() cannot be applied to a 0-dim tensor.")
    d = _wrap_dim("narrow", dim, input)
    start = _int_arg("narrow", start, "start")
    length = _int_arg("narrow", length, "length")
    n = input.shape[d]
    if length < 0:
        raise RuntimeError(f"narrow(): length must be non-negative, but got {length} (shape {tuple(input.shape)})")
    if not -n <= start <= n:
        raise IndexError(
            f"narrow(): start out of range (expected to be in range of [{-n}, {n}], but got {start}) "
            f"for dim {d} of a tensor of shape {tuple(input.shape)}"
        )
    if start < 0:
        start += n
    if start + length > n:
        raise _NarrowRangeError(
            f"narrow(): start ({start}) + length ({length}) exceeds dimension size ({n}) of dim {d} of a "
            f"tensor of shape {tuple(input.shape)}"
        )
    return _core.slice(input, d, start, start + length, 1)


def flip(input, dims):
    """flip(input, dims): reverses the order of the entries along each of ``dims``."""
    _check_tensor("flip", input)
    return _core.flip(input, _wrap_dims("flip", dims, input))


def roll(input, shifts, dims=None):
    """roll(input, shifts, dims=None): shifts the entries along ``dims`` by ``shifts``,
    wrapping around (an int or a tuple of each, of one length); without ``dims`` the flattened
    tensor is rolled and the shape restored.

        >>> deepseek.roll(deepseek.arange(5), 2).tolist()
        [3, 4, 0, 1, 2]
    """
    _check_tensor("roll", input)
    sh = list(shifts) if isinstance(shifts, (list, tuple)) else [shifts]
    sh = [_int_arg("roll", s, "shifts") for s in sh]
    if dims is None:
        if len(sh) != 1:
            raise RuntimeError(f"roll: shifts and dims must align (without dims, one shift), but got shifts={sh}")
        return _core.reshape(roll(_core.reshape(input, [-1]), sh, 0), list(input.shape))
    dim_list = list(dims) if isinstance(dims, (list, tuple)) else [dims]
    if len(sh) != len(dim_list):
        raise RuntimeError(f"roll: shifts and dimensions must align. shifts: {len(sh)}, dims: {len(dim_list)}")
    out = input
    for s, d in zip(sh, dim_list):
        d = _wrap_dim("roll", d, input)
        n = input.shape[d] if input.ndim else 1
        s = s % n if n else 0
        if s and input.ndim:
            out = _core.cat([_core.slice(out, d, n - s, n, 1), _core.slice(out, d, 0, n - s, 1)], d)
    return out if out is not input else _core.clone(input)


def _tensor_list(op, tensors):
    """The tensors of a cat/stack-like call as a list, or PyTorch's TypeError."""
    if isinstance(tensors, Tensor):
        raise TypeError(f"{op}(): argument 'tensors' must be a sequence of Tensors, not Tensor")
    tensors = list(tensors)
    for i, x in enumerate(tensors):
        if not isinstance(x, Tensor):
            raise TypeError(f"{op}(): expected a sequence of Tensors, but element {i} is {type(x).__name__}")
    return tensors


def cat(tensors, dim=0, *, out=None):
    """cat(tensors, dim=0): concatenates along ``dim``. As in PyTorch, 1-D empty tensors
    (shape [0]) are skipped whatever the others' shapes."""
    tensors = _tensor_list("cat", tensors)
    if not tensors:
        raise RuntimeError("cat(): expected a non-empty list of Tensors")
    for i, x in enumerate(tensors):
        if x.ndim == 0:
            raise RuntimeError(f"cat(): zero-dimensional tensor (at position {i}) cannot be concatenated")
    # the dim's range comes from the first tensor that is not a legacy empty one; when every
    # one is, PyTorch checks no dim (they all concatenate to shape [0])
    ref = next((x for x in tensors if tuple(x.shape) != (0,)), None)
    if ref is None:
        _int_arg("cat", dim, "dim")
        return _out(_core.cat(tensors, 0), out)
    return _out(_core.cat(tensors, _wrap_dim("cat", dim, ref)), out)


concat = cat
concatenate = cat


def stack(tensors, dim=0, *, out=None):
    """stack(tensors, dim=0): joins tensors of equal shape along a new dim (in [-N-1, N])."""
    tensors = _tensor_list("stack", tensors)
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    d = _wrap_dim("stack", dim, tensors[0], new=True)  # PyTorch checks the dim before the shapes
    s0 = tuple(tensors[0].shape)
    for i, x in enumerate(tensors):
        if tuple(x.shape) != s0:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got {list(s0)} at entry 0 and {list(x.shape)} at entry {i}")
    return _out(_core.cat([_core.unsqueeze(x, d) for x in tensors], d), out)


def hstack(tensors):
    """hstack(tensors): concatenates along dim 1 (dim 0 for 1-D tensors; 0-d ones become 1-D)."""
    tensors = [x.reshape(1) if x.ndim == 0 else x for x in _tensor_list("hstack", tensors)]
    if not tensors:
        raise RuntimeError("hstack expects a non-empty TensorList")
    return cat(tensors, 0 if tensors[0].ndim == 1 else 1)


def vstack(tensors):
    """vstack(tensors): concatenates along dim 0, after making each tensor at least 2-D."""
    tensors = [x.reshape(1, -1) if x.ndim < 2 else x for x in _tensor_list("vstack", tensors)]
    if not tensors:
        raise RuntimeError("vstack expects a non-empty TensorList")
    return cat(tensors, 0)


def _pieces(input, dim, bounds):
    """Views of ``input`` between each (start, stop) of ``bounds`` along ``dim``, with Python's
    slicing rules (negative bounds count from the end; an empty piece when stop <= start)."""
    return tuple(_core.slice(input, dim, a, b, 1) for a, b in bounds)


def _consecutive(sizes):
    """(start, stop) of consecutive pieces of the given sizes."""
    out, off = [], 0
    for s in sizes:
        out.append((off, off + s))
        off += s
    return out


def _need_dims(op, input):
    if input.ndim == 0:
        raise RuntimeError(f"{op} expects at least a 1-dimensional tensor, but got a 0-dim tensor")


def split(tensor, split_size_or_sections, dim=0):
    """split(tensor, split_size_or_sections, dim=0): views of consecutive pieces.

    An int gives pieces of that size (the last may be shorter; a size larger than the dim gives
    one piece); a list gives pieces of exactly those sizes, which must sum to the dim's size.

        >>> [p.shape[0] for p in deepseek.arange(5).split(2)]
        [2, 2, 1]
    """
    _check_tensor("split", tensor, "tensor")
    _need_dims("split", tensor)
    d = _wrap_dim("split", dim, tensor)
    n = tensor.shape[d]
    s = split_size_or_sections
    if isinstance(s, Tensor):  # as Tensor.split: one element is a size, more are sizes
        if s.dtype.is_floating_point or s.dtype.name == "bool":
            raise TypeError(f"split(): split_size_or_sections must be integers, not a {s.dtype} tensor")
        s = s.tolist() if s.numel() != 1 else int(s.reshape([]))
    if isinstance(s, (list, tuple)):
        sizes = [_int_arg("split_with_sizes", v, "split_sizes") for v in s]
        if builtins.any(v < 0 for v in sizes):
            raise RuntimeError(f"split_with_sizes expects split_sizes have only non-negative entries, but got split_sizes={sizes}")
        if builtins.sum(sizes) != n:
            raise RuntimeError(
                f"split_with_sizes expects split_sizes to sum exactly to {n} (input tensor's size at dimension {d}), "
                f"but got split_sizes={sizes} (shape {tuple(tensor.shape)})"
            )
        return _pieces(tensor, d, _consecutive(sizes))
    s = _int_arg("split", s, "split_size")
    if s < 0:
        raise RuntimeError(f"split expects split_size be non-negative, but got split_size={s}")
    if s == 0 and n > 0:
        raise RuntimeError(f"split_size can only be 0 if dimension size is 0, but got dimension size of {n} (shape {tuple(tensor.shape)})")
    k = builtins.max(-(-n // s), 1) if s else 1  # a size-0 dim still gives one (empty) piece
    return _pieces(tensor, d, _consecutive([s] * (k - 1) + [n - s * (k - 1)]))


def chunk(input, chunks, dim=0):
    """chunk(input, chunks, dim=0): views of ``ceil(size / chunks)`` entries each (the last may
    be shorter, and there may be fewer than ``chunks``); a dim of size 0 gives ``chunks`` empty
    views, as in PyTorch.

        >>> len(deepseek.arange(6).chunk(4)), len(deepseek.zeros(0).chunk(3))
        (3, 3)
    """
    _check_tensor("chunk", input)
    chunks = _int_arg("chunk", chunks, "chunks")
    _need_dims("chunk", input)
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    d = _wrap_dim("chunk", dim, input)
    n = input.shape[d]
    if n == 0:
        return _pieces(input, d, [(0, 0)] * chunks)
    return split(input, -(-n // chunks), d)


def tensor_split(input, indices_or_sections, dim=0):
    """tensor_split(input, indices_or_sections, dim=0): views split into ``sections`` pieces as
    equal as possible (the first ``size % sections`` one longer), or at a list (or 1-D int64
    tensor) of indices: piece i is ``input[indices[i-1]:indices[i]]`` along ``dim``, so indices out
    of order or past the end give empty pieces.

        >>> [p.tolist() for p in deepseek.arange(5).tensor_split([1, 4])]
        [[0], [1, 2, 3], [4]]
    """
    _check_tensor("tensor_split", input)
    if input.ndim == 0:
        raise RuntimeError("tensor_split expected at least a 1-dimensional tensor, but got a tensor with 0 dims")
    d = _wrap_dim("tensor_split", dim, input)
    ios = indices_or_sections
    if isinstance(ios, Tensor):
        if ios.dtype.name != "int64":
            raise RuntimeError(f"tensor_split expected tensor_indices_or_sections to have dtype of long, but got {ios.dtype}")
        if ios.ndim > 1:
            raise RuntimeError(
                "tensor_split expected tensor_indices_or_sections to be a zero-dimensional or one-dimensional "
                f"tensor, but got a tensor with {ios.ndim} dims"
            )
        ios = ios.tolist()
    n = input.shape[d]
    if isinstance(ios, (list, tuple)):
        idx = [_int_arg("tensor_split", i, "indices") for i in ios]
        return _pieces(input, d, zip([0] + idx, idx + [n]))
    sections = _int_arg("tensor_split", ios, "sections")
    if sections <= 0:
        raise RuntimeError(f"number of sections must be larger than 0, got {sections}")
    q, r = divmod(n, sections)
    return _pieces(input, d, _consecutive([q + 1] * r + [q] * (sections - r)))


def unbind(input, dim=0):
    """unbind(input, dim=0): the slices along ``dim`` as a tuple of views."""
    _check_tensor("unbind", input)
    _no_dims("unbind", input, dim)
    d = _wrap_dim("unbind", dim, input)
    return tuple(_core.select(input, d, i) for i in range(input.shape[d]))


def _scatter_args(op, input, dim, index, src=None):
    """The checks gather/scatter/scatter_add make before any shape or bound, in PyTorch's
    order: the dim, an int64 index, a ``src`` tensor of ``input``'s dtype. Returns the dim."""
    _check_tensor(op, input)
    d = _wrap_dim(op, dim, input)
    _check_tensor(op, index, "index")
    if index._dtype != "int64":
        raise RuntimeError(f"{op}(): Expected dtype int64 for index, but got {index.dtype}")
    if isinstance(src, Tensor) and src._dtype != input._dtype:
        raise RuntimeError(f"{op}(): Expected self.dtype to be equal to src.dtype, but got {input.dtype} and {src.dtype} "
                           f"(cast src first)")
    return d


def _index_args(op, input, dim, index, source=None):
    """The checks index_select/index_add make first: the dim, a vector (or 0-d) int64/int32
    index, a ``source`` of ``input``'s dtype. Returns the dim."""
    _check_tensor(op, input)
    d = _wrap_dim(op, dim, input)
    _check_tensor(op, index, "index")
    if index.ndim > 1:
        raise IndexError(f"{op}(): Index is supposed to be a vector, but got an index of shape {tuple(index.shape)}")
    if index._dtype not in ("int64", "int32"):
        raise RuntimeError(f"{op}(): Expected dtype int32/int64 for index, but got {index.dtype}")
    if source is not None:
        _check_tensor(op, source, "source")
        if source._dtype != input._dtype:
            raise RuntimeError(f"{op}(): self ({input.dtype}) and source ({source.dtype}) must have the same scalar type")
    return d


def gather(input, dim, index):
    """gather(input, dim, index) -> Tensor

    ``out[i][j] = input[i][index[i][j]]`` (for ``dim=1``); ``index`` is int64.
    """
    return _core.gather(input, _scatter_args("gather", input, dim, index), index)


def scatter(input, dim, index, src=None, value=None, *, reduce=None):
    """scatter(input, dim, index, src=None, value=None, *, reduce=None) -> Tensor

    Out-of-place scatter of ``src`` (a tensor of ``input``'s dtype) or of the number ``value``
    at the int64 ``index`` along ``dim``; ``reduce='add'`` accumulates.
    """
    d = _scatter_args("scatter", input, dim, index, src)
    s = src if src is not None else value
    if reduce not in (None, "add", "sum"):
        raise RuntimeError(f"scatter(): reduce argument must be 'add' or None, got {reduce!r}")
    return _core.scatter(input, d, index, s, reduce is not None)


def scatter_add(input, dim, index, src):
    """scatter_add(input, dim, index, src) -> Tensor

    Out-of-place scatter that adds ``src`` (of ``input``'s dtype) at the int64 ``index``.
    """
    return _core.scatter(input, _scatter_args("scatter_add", input, dim, index, src), index, src, True)


def index_select(input, dim, index):
    """index_select(input, dim, index) -> Tensor

    The entries ``index`` (a vector of int64 or int32) along ``dim``.
    """
    return _core.index_select(input, _index_args("index_select", input, dim, index), index)


def index_add(input, dim, index, source, *, alpha=1):
    """index_add(input, dim, index, source, *, alpha=1) -> Tensor

    Out-of-place ``input[index] += alpha * source`` along ``dim``; ``source`` has ``input``'s dtype.
    """
    d = _index_args("index_add", input, dim, index, source)
    return _core.index_add(input, d, index, source * alpha if alpha != 1 else source)


def _masked_fill_mask(op, input, mask):
    _check_tensor(op, input)
    _check_tensor(op, mask, "mask")
    if mask.dtype.name != "bool":
        raise RuntimeError(f"{op} only supports boolean masks, but got mask with dtype {mask.dtype}")


def _masked_fill_inplace_args(op, input, mask, value):
    """masked_fill_ writes into ``input``: the mask must broadcast to its shape."""
    _masked_fill_mask(op, input, mask)
    try:
        ok = tuple(_broadcast(tuple(input.shape), tuple(mask.shape))) == tuple(input.shape)
    except RuntimeError:
        ok = False
    if not ok:
        raise RuntimeError(f"{op}: the mask of shape {tuple(mask.shape)} must be broadcastable to the input of shape "
                           f"{tuple(input.shape)} (the result is written into it)")


def masked_fill(input, mask, value):
    """masked_fill(input, mask, value) -> Tensor

    ``value`` where the bool ``mask`` is True, ``input`` elsewhere; ``input`` and ``mask``
    broadcast together. ``value`` (a number or a 0-d tensor) must convert to ``input``'s dtype
    without overflow, as PyTorch's checked Scalar conversion.
    """
    _masked_fill_mask("masked_fill", input, mask)
    try:  # the shapes are checked before the value
        _broadcast(tuple(input.shape), tuple(mask.shape))
    except RuntimeError:
        raise RuntimeError(f"masked_fill: the mask of shape {tuple(mask.shape)} and the input of shape "
                           f"{tuple(input.shape)} do not broadcast together") from None
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise RuntimeError(f"masked_fill only supports a 0-dimensional value tensor, but got tensor with {value.ndim} dimension(s)")
        _core.full([], value.item(), input._dtype)  # the conversion check; the tensor itself keeps its gradient
        value = value.to(input.dtype)
    else:
        value = _core.full([], value, input._dtype)
    return _core.where(mask, value, input)


def masked_select(input, mask):
    """masked_select(input, mask): the elements where ``mask`` is True, as a 1-D tensor."""
    _check_tensor("masked_select", input)
    _check_tensor("masked_select", mask, "mask")
    if mask.dtype.name != "bool":
        raise RuntimeError(f"masked_select: expected a boolean mask, but got mask with dtype {mask.dtype}")
    shape = _broadcast(tuple(input.shape), tuple(mask.shape))
    x = input.expand(shape).reshape(-1)
    m = mask.expand(shape).reshape(-1)
    return _core.index(x, [_core.select(_core.nonzero(m), 1, 0)])


def _broadcast(a, b):
    n = builtins.max(len(a), len(b))
    a = (1,) * (n - len(a)) + a
    b = (1,) * (n - len(b)) + b
    out = []
    for x, y in zip(a, b):
        if x != y and x != 1 and y != 1:
            raise RuntimeError(f"shapes {a} and {b} cannot be broadcast")
        out.append(builtins.max(x, y) if x and y else 0)
    return out


def broadcast_shapes(*shapes):
    r = ()
    for s in shapes:
        r = tuple(_broadcast(tuple(r), tuple(s)))
    return Size(r)


def broadcast_tensors(*tensors):
    shape = broadcast_shapes(*[t.shape for t in tensors])
    return tuple(t.expand(shape) for t in tensors)


def nonzero(input, *, as_tuple=False):
    """nonzero(input, *, as_tuple=False): indices of non-zero elements."""
    r = _core.nonzero(input)
    if as_tuple:
        if input.ndim == 0:  # PyTorch treats a 0-d tensor as one element at index 0
            return (_core.zeros([r.shape[0]], "int64", input._device),)
        return tuple(r[:, i] for i in range(input.ndim))
    return r


def argwhere(input):
    return _core.nonzero(input)


def sort(input, dim=-1, descending=False, stable=False):
    """sort(input, dim=-1, descending=False): (values, indices), stable."""
    _check_tensor("sort", input)
    return _MinMax(_core.sort(input, _wrap_dim("sort", dim, input), descending))


def argsort(input, dim=-1, descending=False, stable=False):
    """argsort(input, dim=-1, descending=False): the indices that sort ``input`` along ``dim``."""
    _check_tensor("argsort", input)
    return _core.sort(input, _wrap_dim("argsort", dim, input), descending)[1]


def topk(input, k, dim=-1, largest=True, sorted=True):
    """topk(input, k, dim=-1, largest=True): the k largest (or smallest) and their indices."""
    _check_tensor("topk", input)
    d = _wrap_dim("topk", dim, input)
    return _MinMax(_core.topk(input, _int_arg("topk", k, "k"), d, largest))


def kthvalue(input, k, dim=-1, keepdim=False):
    """kthvalue(input, k, dim=-1, keepdim=False): the k-th smallest entry along ``dim`` (k from
    1) and its index."""
    _check_tensor("kthvalue", input)
    d = _wrap_dim("kthvalue", dim, input)
    k = _int_arg("kthvalue", k, "k")
    size = input.shape[d] if input.ndim else 1
    if size == 0:
        raise IndexError(f"kthvalue(): Expected reduction dim {d} to have non-zero size (shape {tuple(input.shape)})")
    if not 1 <= k <= size:
        raise RuntimeError(f"kthvalue(): selected number k out of range for dimension {d}: k = {k}, but the size is {size} (shape {tuple(input.shape)})")
    if input.ndim == 0:
        return _MinMax((_core.clone(input), _core.zeros([], "int64", input._device)))
    v, i = _core.topk(input, k, d, False)
    v, i = _core.slice(v, d, k - 1, k, 1), _core.slice(i, d, k - 1, k, 1)
    if not keepdim:
        v, i = _core.squeeze(v, [d]), _core.squeeze(i, [d])
    return _MinMax((v, i))


def _triangle(op, input, diagonal, keep):
    """``input`` with the entries outside the triangle that ``keep(col - row)`` selects zeroed."""
    _check_tensor(op, input)
    if input.ndim < 2:
        raise RuntimeError(f"{op}: input tensor must have at least 2 dimensions, but got shape {tuple(input.shape)}")
    diagonal = _int_arg(op, diagonal, "diagonal")
    r, c = input.shape[-2], input.shape[-1]
    from ._creation import arange

    # the mask is built on the input's device: where() takes no mix of devices
    mask = keep(arange(c, device=input.device).reshape(1, c) - arange(r, device=input.device).reshape(r, 1), diagonal)
    return _core.where(mask, input, _core.zeros([], input._dtype))


def tril(input, diagonal=0):
    """tril(input, diagonal=0): zeroes elements above the ``diagonal``-th diagonal."""
    return _triangle("tril", input, diagonal, operator.le)


def triu(input, diagonal=0):
    """triu(input, diagonal=0): zeroes elements below the ``diagonal``-th diagonal."""
    return _triangle("triu", input, diagonal, operator.ge)


def repeat(input, *sizes):
    """Tensor.repeat(*sizes) -> Tensor

    Tiles the tensor ``sizes[i]`` times along each dim (a copy); there must be at least as
    many counts as dims, none negative.
    """
    sizes = _shape_args(sizes)
    if builtins.any(s < 0 for s in sizes):
        raise RuntimeError(f"repeat(): Trying to create tensor with negative dimension: repeat counts {sizes} "
                           f"for a tensor of shape {tuple(input.shape)}")
    if len(sizes) < input.ndim:
        raise RuntimeError(
            f"Number of dimensions of repeat dims ({len(sizes)}) can not be smaller than number of dimensions of tensor ({input.ndim})"
        )
    x = input.reshape([1] * (len(sizes) - input.ndim) + list(input.shape))
    # interleave a new axis before each dim, expand it, then merge
    shape = list(x.shape)
    v = x.reshape([d for s in shape for d in (1, s)])
    v = v.expand([d for r, s in zip(sizes, shape) for d in (r, s)])
    return v.reshape([r * s for r, s in zip(sizes, shape)])


def tile(input, dims):
    """tile(input, dims) -> Tensor

    :meth:`Tensor.repeat` with missing leading counts taken as 1.
    """
    dims = _shape_args(dims)
    if len(dims) < input.ndim:
        dims = [1] * (input.ndim - len(dims)) + dims
    return repeat(input, *dims)


def repeat_interleave(input, repeats, dim=None):
    """repeat_interleave(input, repeats, dim=None): repeats each element ``repeats`` times."""
    from ._creation import tensor as _t

    _check_tensor("repeat_interleave", input)
    if dim is None:
        input = input.reshape(-1)
        dim = 0
    _no_dims("repeat_interleave", input, dim)
    dim = _wrap_dim("repeat_interleave", dim, input)
    n = input.shape[dim]
    if not isinstance(repeats, (Tensor, list, tuple)):
        reps = [_int_arg("repeat_interleave", repeats, "repeats")] * n
    else:
        reps = repeats.tolist() if isinstance(repeats, Tensor) else list(repeats)
        if isinstance(reps, (int, float)):
            reps = [reps] * n
        if len(reps) != n:
            raise RuntimeError(f"repeat_interleave: repeats must have the same size as input along dim ({len(reps)} vs {n})")
    if builtins.any(int(r) < 0 for r in reps):
        raise RuntimeError("repeat_interleave: repeats can not be negative")
    import numpy as np

    # built in NumPy, not a Python list: a huge count fails with MemoryError, quickly
    idx = np.repeat(np.arange(n, dtype=np.int64), np.asarray(reps, dtype=np.int64))
    return _core.index_select(input, dim, _t(idx))


def one_hot(tensor, num_classes=-1):
    """one_hot(tensor, num_classes=-1): int64 one-hot encoding along a new last dim."""
    if tensor.dtype.name != "int64":
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    from ._creation import arange, empty

    if tensor.numel() == 0:
        # PyTorch's rule: nothing to infer the class count from
        if num_classes <= 0:
            raise RuntimeError(f"one_hot: can not infer total number of classes from empty tensor (shape {tuple(tensor.shape)})")
        return empty(*tensor.shape, num_classes, dtype=tensor.dtype, device=tensor.device)
    if int(tensor.min()) < 0:
        raise RuntimeError("one_hot: class values must be non-negative.")
    if num_classes == -1:
        num_classes = int(tensor.max()) + 1
    elif int(tensor.max()) >= num_classes:
        raise RuntimeError(f"one_hot: class values must be smaller than num_classes ({num_classes}).")

    return (tensor.unsqueeze(-1) == arange(num_classes, device=tensor.device)).to("int64")


def diag(input, diagonal=0):
    """diag(input, diagonal=0): the 2-D matrix with 1-D ``input`` on its ``diagonal``-th
    diagonal, or the ``diagonal``-th diagonal of a 2-D ``input`` as 1-D."""
    from ._creation import arange, zeros

    _check_tensor("diag", input)
    if input.ndim not in (1, 2):
        raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {input.ndim}D (shape {tuple(input.shape)})")
    diagonal = _int_arg("diag", diagonal, "diagonal")
    if input.ndim == 1:
        n = input.shape[0] + builtins.abs(diagonal)
        out = zeros(n, n, dtype=input.dtype, device=input.device)
        i = arange(input.shape[0], device=input.device)
        r, c = (i, i + diagonal) if diagonal >= 0 else (i - diagonal, i)
        return out.index_put((r, c), input)
    r = builtins.min(input.shape[0], input.shape[1] - diagonal) if diagonal >= 0 else builtins.min(input.shape[0] + diagonal, input.shape[1])
    i = arange(builtins.max(r, 0), device=input.device)
    rows, cols = (i, i + diagonal) if diagonal >= 0 else (i - diagonal, i)
    return _core.index(input, [rows, cols])


def trace(input):
    """trace(input): the sum of the main diagonal of a 2-D matrix."""
    _check_tensor("trace", input)
    if input.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {input.ndim} (shape {tuple(input.shape)})")
    return diag(input).sum()


def pad(input, pad, mode="constant", value=None):
    """pad(input, pad, mode='constant', value=0): constant padding; ``pad`` lists
    (left, right) amounts from the last dim backwards."""
    if mode != "constant":
        from .nn.functional import _pad_nonconstant

        return _pad_nonconstant(input, pad, mode)
    return _core.pad(input, [int(p) for p in pad], 0.0 if value is None else float(value))


def clone(input, *, memory_format=None):
    return _core.clone(input)


def detach(input):
    return input.detach()


def numel(input):
    return input.numel()


def is_tensor(obj):
    return isinstance(obj, Tensor)


def is_floating_point(input):
    return input.dtype.is_floating_point


def cdist(x1, x2, p=2.0):
    """cdist(x1, x2, p=2.0): the p-norm distance between each row of ``x1`` [..., P, M] and each
    row of ``x2`` [..., R, M], as [..., P, R]."""
    _check_tensor("cdist", x1, "x1")
    _check_tensor("cdist", x2, "x2")
    if x1.ndim < 2 or x2.ndim < 2:
        raise RuntimeError(f"cdist only supports at least 2D tensors, X1 got: {x1.ndim}D, X2 got: {x2.ndim}D "
                           f"(shapes {tuple(x1.shape)} and {tuple(x2.shape)})")
    if x1.shape[-1] != x2.shape[-1]:
        raise RuntimeError(f"cdist: X1 and X2 must have the same number of columns. X1: {x1.shape[-1]} X2: {x2.shape[-1]} "
                           f"(shapes {tuple(x1.shape)} and {tuple(x2.shape)})")
    if p < 0:
        raise RuntimeError(f"cdist only supports non-negative p values, got {p}")
    d = _core.unsqueeze(x1, x1.ndim - 1) - _core.unsqueeze(x2, x2.ndim - 2)
    return norm(d, p, dim=-1)


def dist(input, other, p=2):
    return norm(input - other, p)


def _scaled_sum(input, product, beta, alpha):
    """``beta * input + alpha * product``; with ``beta == 0`` the input is ignored, so its NaN
    and inf do not reach the result (PyTorch's rule for addmm/baddbmm)."""
    r = product if alpha == 1 else alpha * product
    if beta == 0:
        return r
    return (input if beta == 1 else beta * input) + r


def addmm(input, mat1, mat2, *, beta=1, alpha=1):
    """addmm(input, mat1, mat2, *, beta=1, alpha=1): ``beta * input + alpha * (mat1 @ mat2)``
    (``mat1`` or ``mat2`` may be sparse)."""
    if not (isinstance(mat1, Tensor) and isinstance(mat2, Tensor)) and _sparse_operand(mat1, mat2):
        from . import sparse

        return sparse.addmm(input, mat1, mat2, beta=beta, alpha=alpha)
    return _scaled_sum(input, mm(mat1, mat2), beta, alpha)


def baddbmm(input, batch1, batch2, *, beta=1, alpha=1):
    """baddbmm(input, batch1, batch2, *, beta=1, alpha=1): ``beta * input + alpha * bmm(batch1, batch2)``."""
    return _scaled_sum(input, bmm(batch1, batch2), beta, alpha)


def logaddexp(input, other):
    """logaddexp(input, other): ``log(exp(input) + exp(other))`` without overflow.

    Equal infinities give themselves (``logaddexp(inf, inf) = inf``, not NaN); float16 and
    bfloat16 are computed in float32 and rounded once, as in PyTorch.
    """
    _check_tensor("logaddexp", input)
    rt = result_type(input, other)
    if not rt.is_floating_point:
        raise RuntimeError(f"logaddexp(): expected floating point inputs, but got {input.dtype} and "
                           f"{other.dtype if isinstance(other, Tensor) else type(other).__name__}")
    # both operands in the promoted dtype first (a bool operand is a number there), float16 and
    # bfloat16 then in float32
    input, other = _in_wide(input, rt.name), _in_wide(other, rt.name)
    m = maximum(input, other)
    r = m + log1p(exp(-abs(input - other)))
    r = where(isinf(m) & (input == other), m, r)
    return _narrow(r, rt.name if rt.name in _HALF else None)


def sigmoid_(input):
    """sigmoid_(input) -> Tensor

    In-place ``sigmoid``: overwrites ``input``'s storage and returns ``input``.
    """
    return input.sigmoid_()


def divide_(input, other, *, rounding_mode=None):
    """divide_(input, other, *, rounding_mode=None) -> Tensor

    In-place ``div``: overwrites ``input``'s storage and returns ``input``.
    """
    return input.div_(other, rounding_mode=rounding_mode)


def polygamma(n, input):
    """polygamma(n, input) -> Tensor

    The ``n``-th derivative of the digamma function (``n = 0`` is :func:`digamma`), elementwise;
    differentiable (its derivative is order ``n + 1``). Integer inputs give float32.

        >>> deepseek.polygamma(1, deepseek.tensor([1.0]))  # pi**2 / 6
        tensor([1.6449])
    """
    if not isinstance(n, int) or isinstance(n, bool):
        raise TypeError(f"polygamma(): argument 'n' must be int, not {type(n).__name__}")
    _check_tensor("polygamma", input)
    return _core.polygamma(n, input)


def diff(input, n=1, dim=-1, prepend=None, append=None):
    """diff(input, n=1, dim=-1, prepend=None, append=None): the ``n``-th forward difference
    along ``dim`` (``logical_xor`` of neighbours for bool); ``n`` past the size gives an empty dim."""
    _check_tensor("diff", input)
    if input.ndim == 0:
        raise RuntimeError("diff expects input to be at least one-dimensional")
    n = _int_arg("diff", n, "n")
    if n < 0:
        raise RuntimeError(f"order must be non-negative but got {n}")
    d = _wrap_dim("diff", dim, input)
    if prepend is not None or append is not None:
        input = cat([x for x in (prepend, input, append) if x is not None], d)
    for _ in range(builtins.min(n, input.shape[d])):
        k = input.shape[d]
        hi, lo = _core.slice(input, d, 1, k, 1), _core.slice(input, d, 0, k - 1, 1)
        input = logical_xor(hi, lo) if input.dtype.name == "bool" else hi - lo
    return input


# `from ._ops import *` (deepseek/__init__.py) exports exactly the functions defined here
# (aliases included) and einsum; imports (math, builtins, to_dtype ...) stay private.
__all__ = sorted(
    _k for _k, _v in _namespace.items()
    if not _k.startswith("_") and callable(_v) and getattr(_v, "__module__", None) in (__name__, einsum.__module__)
)
