"""The functional API's elementwise ops (every unary and binary primitive of the op table,
add/sub/div with alpha and rounding, where, clamp, lerp, GELU ...), matrix products and the
floating-point predicates (isnan, isclose ...); their argument checks are ``_ops_args``.
``deepseek._ops`` re-exports these with the reductions (``_ops_reduce``), shape ops
(``_ops_shape``) and indexing ops (``_ops_index``)."""
from __future__ import annotations

import builtins
import math

from . import _core
from ._core import Tensor
from ._dtype import get_default_dtype, to_dtype
from ._einsum import einsum  # noqa: F401  (re-exported by deepseek._ops)
from ._ops_args import _FLOATS, _HALF, _check_tensor, _fused_float, _narrow, _out, _widen
from .backends.primitives import PRIMITIVE_OPS as _PRIMITIVES


# every unary and binary primitive of the core's op table is a function here
_UNARY = _PRIMITIVES["unary"]
_BINARY = _PRIMITIVES["binary"]


def _make_unary(name):
    def f(input, *, out=None):
        _check_tensor(name, input)
        r = _core.unary(name, input)
        return _out(r, out)

    f.__name__ = name
    f.__doc__ = f"{name}(input) -> Tensor\n\nElementwise ``{name}``; integer inputs give float32 where the result is not integral."
    return f


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
        from ._ops_index import nonzero  # (a later layer)

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
