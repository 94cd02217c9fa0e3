"""Elementwise functions composed from the core's primitives (``deepseek.hypot``, ``addcmul``...).

Each is written with differentiable primitives, so gradients and every backend come for free.
Floating-point results of integer inputs are float32 (the default dtype), as in PyTorch.
"""
from __future__ import annotations

import math

import collections

from . import _core, _creation as _C, _dtype as _D, _ops
from ._core import Tensor

_FLOATS = ("float16", "bfloat16", "float32", "float64")
_INTS = ("uint8", "int8", "int16", "int32", "int64")


def _t(op, x, name="input"):
    _ops._check_tensor(op, x, name)
    return x


def _float(x):
    """``x`` as a floating tensor (integers and bool to the default float dtype)."""
    if x._dtype in _FLOATS:
        return x
    if x.dtype.is_complex:  # these composites are real-only: never a silent real-part computation
        raise RuntimeError(f"not implemented for complex tensors (got {x.dtype.name} of shape {tuple(x.shape)}); "
                           "take .real, .imag or .abs() first")
    return _core.cast(x, _ops.get_default_dtype().name)


_NAMED = {}


def _named_tuple(name, fields):
    """PyTorch's named return tuple (``torch.return_types.<name>``), made once per name."""
    t = _NAMED.get(name)
    if t is None:
        t = _NAMED[name] = collections.namedtuple(name, fields)
    return t


# ---------------- inverse hyperbolics, logs, angles ----------------

def acosh(input):
    """acosh(input) -> Tensor: inverse hyperbolic cosine, ``log(x + sqrt(x^2 - 1))`` (nan below 1)."""
    x = _float(_t("acosh", input))
    return _ops.log(x + _ops.sqrt((x - 1) * (x + 1)))


def asinh(input):
    """asinh(input) -> Tensor: inverse hyperbolic sine, odd and accurate for negative inputs."""
    x = _float(_t("asinh", input))
    a = _ops.abs(x)
    # log1p form keeps small |x| accurate: asinh(a) = log1p(a + a^2 / (1 + sqrt(1 + a^2)))
    r = _ops.log1p(a + a * a / (1 + _ops.sqrt(1 + a * a)))
    big = _ops.log(a) + math.log(2.0)  # a^2 would overflow
    return _ops.sign(x) * _ops.where(a > 1e150, big, r)


def atanh(input):
    """atanh(input) -> Tensor: inverse hyperbolic tangent, ``0.5 * log1p(2x / (1 - x))``."""
    x = _float(_t("atanh", input))
    return 0.5 * _ops.log1p(2 * x / (1 - x))


def log10(input):
    """log10(input) -> Tensor: base-10 logarithm."""
    x = _float(_t("log10", input))
    return _ops.log(x) * (1.0 / math.log(10.0))


def deg2rad(input):
    """deg2rad(input) -> Tensor: degrees to radians."""
    return _float(_t("deg2rad", input)) * (math.pi / 180.0)


def rad2deg(input):
    """rad2deg(input) -> Tensor: radians to degrees."""
    return _float(_t("rad2deg", input)) * (180.0 / math.pi)


def hypot(input, other):
    """hypot(input, other) -> Tensor: ``sqrt(input^2 + other^2)`` without overflow, broadcast."""
    _t("hypot", input)
    if input._dtype not in _FLOATS:
        raise RuntimeError(f"hypot(): not implemented for '{input._dtype}' (floating-point inputs only)")
    a, b = _ops.abs(input), _ops.abs(other) if isinstance(other, Tensor) else abs(other)
    m = _ops.maximum(a, b) if isinstance(b, Tensor) else _ops.clamp(a, min=b)
    n = _ops.minimum(a, b) if isinstance(b, Tensor) else _ops.clamp(a, max=b)
    safe = _ops.where(m == 0, 1.0, m)
    r = m * _ops.sqrt(1 + (n / safe) * (n / safe))
    return _ops.where(_ops.isinf(m), m, r)


def signbit(input):
    """signbit(input) -> Tensor: True where the sign bit is set (so -0.0 too)."""
    _t("signbit", input)
    if input._dtype == "bool" or input._dtype == "uint8":
        return _C.zeros_like(input, dtype=_D.bool_)
    if input._dtype in _INTS:
        return input < 0
    # -0.0 has 1/x == -inf; NaN's sign bit is not observable without bit casts: False
    return (input < 0) | ((input == 0) & (_ops.reciprocal(input) < 0))


def copysign(input, other):
    """copysign(input, other) -> Tensor: ``|input|`` with the sign of ``other`` (float result)."""
    x = _float(_t("copysign", input))
    o = other if isinstance(other, Tensor) else _C.tensor(float(other), dtype=x.dtype, device=x.device)
    neg = signbit(o if o._dtype in _FLOATS else _float(o))
    return _ops.where(neg, -_ops.abs(x), _ops.abs(x))


def fmax(input, other):
    """fmax(input, other) -> Tensor: elementwise maximum that ignores NaN (NaN only if both are)."""
    _t("fmax", input)
    m = _ops.maximum(input, other)
    if m._dtype not in _FLOATS:
        return m
    return _ops.where(_ops.isnan(input), other, _ops.where(_ops.isnan(other), input, m)).to(m.dtype)


def fmin(input, other):
    """fmin(input, other) -> Tensor: elementwise minimum that ignores NaN (NaN only if both are)."""
    _t("fmin", input)
    m = _ops.minimum(input, other)
    if m._dtype not in _FLOATS:
        return m
    return _ops.where(_ops.isnan(input), other, _ops.where(_ops.isnan(other), input, m)).to(m.dtype)


def frac(input):
    """frac(input) -> Tensor: the fractional part ``input - trunc(input)`` (sign of input)."""
    _t("frac", input)
    if input._dtype not in _FLOATS:
        raise RuntimeError(f"frac(): not implemented for '{input._dtype}' (floating-point input only)")
    return input - _ops.trunc(input)


def fix(input):
    """fix(input) -> Tensor: alias of ``trunc`` (rounds toward zero)."""
    return _ops.trunc(_t("fix", input))


def heaviside(input, values):
    """heaviside(input, values) -> Tensor: 0 below zero, 1 above, ``values`` at zero."""
    _t("heaviside", input)
    _t("heaviside", values, "values")
    if input._dtype != values._dtype:
        raise RuntimeError(f"heaviside is not yet implemented for tensors with different dtypes "
                           f"(input {input.dtype}, values {values.dtype})")
    return _ops.where(input == 0, values, (input > 0).to(input.dtype)).to(input.dtype)


def logaddexp2(input, other):
    """logaddexp2(input, other) -> Tensor: ``log2(2**input + 2**other)``, computed stably."""
    ln2 = math.log(2.0)
    return _ops.logaddexp(_float(_t("logaddexp2", input)) * ln2, other * ln2) / ln2


def positive(input):
    """positive(input) -> Tensor: ``input`` itself; a bool tensor is refused, as PyTorch does."""
    _t("positive", input)
    if input._dtype == "bool":
        raise TypeError("The `+` operator, on a bool tensor is not supported.")
    return input


def float_power(input, exponent):
    """float_power(input, exponent) -> Tensor: ``pow`` computed (and returned) in float64."""
    base = input.to(_D.float64) if isinstance(input, Tensor) else float(input)
    exp_ = exponent.to(_D.float64) if isinstance(exponent, Tensor) else float(exponent)
    if not isinstance(input, Tensor) and not isinstance(exponent, Tensor):
        raise TypeError("float_power(): argument 'input' must be Tensor, not " + type(input).__name__)
    r = _ops.pow(base, exp_)
    return r if r._dtype == "float64" else r.to(_D.float64)


def xlogy(input, other):
    """xlogy(input, other) -> Tensor: ``input * log(other)``, 0 where ``input == 0`` (unless other is NaN)."""
    if not isinstance(input, Tensor):
        input = _C.tensor(float(input), dtype=_ops.get_default_dtype(), device=other.device)
    x = _float(input)
    y = other if not isinstance(other, Tensor) else _float(other)
    r = x * _ops.log(y if isinstance(y, Tensor) else _C.full_like(x, float(y)))
    y_nan = _ops.isnan(y) if isinstance(y, Tensor) else math.isnan(y)
    return _ops.where((x == 0) & ~y_nan if isinstance(y_nan, Tensor) else ((x == 0) if not y_nan else x != x), 0.0, r)


def logit(input, eps=None):
    """logit(input, eps=None) -> Tensor: ``log(p / (1 - p))``; with ``eps`` the input is first
    clamped to ``[eps, 1 - eps]``."""
    x = _float(_t("logit", input))
    if eps is not None:
        x = _ops.clamp(x, eps, 1 - eps)
    return _ops.log(x / (1 - x))


def sinc(input):
    """sinc(input) -> Tensor: normalized sinc ``sin(pi x) / (pi x)``, 1 at 0."""
    x = _float(_t("sinc", input))
    px = x * math.pi
    safe = _ops.where(x == 0, 1.0, px)
    return _ops.where(x == 0, 1.0, _ops.sin(safe) / safe)


def ldexp(input, other):
    """ldexp(input, other) -> Tensor: ``input * 2**other`` (float result)."""
    return _float(_t("ldexp", input)) * _pow2(other, 2.0)


def frexp(input):
    """frexp(input) -> (mantissa, exponent): ``input = mantissa * 2**exponent`` with
    ``0.5 <= |mantissa| < 1`` (both 0 for 0); the exponent is int32."""
    _t("frexp", input)
    if input._dtype not in _FLOATS:
        raise RuntimeError(f"torch.frexp() only supports floating-point dtypes, got {input._dtype}")
    x64 = input.detach().to(_D.float64)
    a = _ops.abs(x64)
    finite = _ops.isfinite(a) & (a > 0)
    e = _ops.where(finite, _ops.floor(_ops.log2(_ops.where(finite, a, 1.0))) + 1, 0.0)
    m = x64 / _ops.pow(2.0, e)
    # log2 may round across a power of two: renormalise to [0.5, 1)
    fix_up = _ops.abs(m) >= 1
    e = _ops.where(fix_up, e + 1, e)
    fix_dn = finite & (_ops.abs(m) < 0.5)
    e = _ops.where(fix_dn, e - 1, e)
    m = _ops.where(finite, x64 / _ops.pow(2.0, e), x64)
    return _named_tuple("frexp", ("mantissa", "exponent"))(m.to(input.dtype), e.to(_D.int32))


def nextafter(input, other):
    """nextafter(input, other) -> Tensor: the next floating-point value after ``input`` towards
    ``other`` (in ``input``'s float32/float64 format)."""
    _t("nextafter", input)
    _t("nextafter", other, "other")
    dt = _core.result_type(input, other)
    if dt not in ("float32", "float64"):
        raise RuntimeError(f"nextafter(): not implemented for '{dt}' (float32 and float64 only)")
    bits, tiny_exp = (53, -1074) if dt == "float64" else (24, -149)
    x, y = _ops.broadcast_tensors(input.detach().to(_D.float64), other.detach().to(_D.float64))
    m, e = frexp(_ops.where(x == 0, 1.0, x))
    e = e.to(_D.float64)
    ulp = _ops.pow(2.0, _ops.clamp(e - bits, min=tiny_exp))
    away = (y > x) == (x > 0)  # moving away from zero
    # just below a power of two the spacing halves
    at_pow2 = _ops.abs(m) == 0.5
    down = _ops.where(at_pow2 & (e - 1 - bits >= tiny_exp), ulp / 2, ulp)
    step = _ops.where(away, ulp, down)
    r = _ops.where(y > x, x + step, x - step)
    r = _ops.where(x == 0, _ops.sign(y) * 2.0 ** tiny_exp, r)
    r = _ops.where(x == y, y, r)
    r = _ops.where(_ops.isnan(x) | _ops.isnan(y), float("nan"), r)
    return r.to(dt)


def gcd(input, other):
    """gcd(input, other) -> Tensor: elementwise greatest common divisor of integer tensors."""
    _t("gcd", input)
    _t("gcd", other, "other")
    if input._dtype not in _INTS or other._dtype not in _INTS:
        raise RuntimeError(f"gcd(): not implemented for '{input._dtype}' and '{other._dtype}' (integer tensors only)")
    a, b = _ops.broadcast_tensors(_ops.abs(input), _ops.abs(other))
    dt = _core.result_type(input, other)
    a, b = a.to(dt), b.to(dt)
    while bool(_ops.any(b != 0)):
        nz = b != 0
        a, b = _ops.where(nz, b, a), _ops.where(nz, _ops.remainder(a, _ops.where(nz, b, 1)), 0).to(dt)
    return a


def lcm(input, other):
    """lcm(input, other) -> Tensor: elementwise least common multiple of integer tensors."""
    g = gcd(input, other)
    a, b = _ops.abs(input), _ops.abs(other)
    return _ops.where(g == 0, 0, _ops.floor_divide(a, _ops.where(g == 0, 1, g)) * b).to(g.dtype)


def bitwise_left_shift(input, other):
    """bitwise_left_shift(input, other) -> Tensor: ``input << other`` for integer tensors."""
    _t("bitwise_left_shift", input)
    if input._dtype not in _INTS:
        raise RuntimeError(f"bitwise_left_shift(): not implemented for '{input._dtype}'")
    return (input * _pow2(other, 2)).to(_core.result_type(input, other))


def bitwise_right_shift(input, other):
    """bitwise_right_shift(input, other) -> Tensor: ``input >> other`` (arithmetic) for integer tensors."""
    _t("bitwise_right_shift", input)
    if input._dtype not in _INTS:
        raise RuntimeError(f"bitwise_right_shift(): not implemented for '{input._dtype}'")
    return _ops.floor_divide(input, _pow2(other, 2)).to(_core.result_type(input, other))


def _pow2(e, two):
    """``two ** e`` for a tensor or a Python number ``e``."""
    return _ops.pow(two, e) if isinstance(e, Tensor) else two ** e


# ---------------- fused arithmetic ----------------

def addcmul(input, tensor1, tensor2, *, value=1):
    """addcmul(input, tensor1, tensor2, *, value=1) -> Tensor: ``input + value * tensor1 * tensor2``."""
    _t("addcmul", input)
    _t("addcmul", tensor1, "tensor1")
    _t("addcmul", tensor2, "tensor2")
    if isinstance(value, float) and _core.result_type(input, tensor1, tensor2) not in _FLOATS:
        raise RuntimeError("addcmul(): For integral input tensors, argument value must not be a floating point number.")
    return input + value * (tensor1 * tensor2)


def addcdiv(input, tensor1, tensor2, *, value=1):
    """addcdiv(input, tensor1, tensor2, *, value=1) -> Tensor: ``input + value * tensor1 / tensor2``."""
    _t("addcdiv", input)
    _t("addcdiv", tensor1, "tensor1")
    _t("addcdiv", tensor2, "tensor2")
    if tensor1._dtype not in _FLOATS and tensor2._dtype not in _FLOATS:
        raise RuntimeError("Integer division with addcdiv is no longer supported, and in a future release addcdiv "
                           "will perform a true division of tensor1 and tensor2. Use addcmul with the reciprocal instead.")
    return input + value * (tensor1 / tensor2)


def addmv(input, mat, vec, *, beta=1, alpha=1):
    """addmv(input, mat, vec, *, beta=1, alpha=1) -> Tensor: ``beta * input + alpha * (mat @ vec)``."""
    return _ops._scaled_sum(input, _ops.mv(mat, vec), beta, alpha)


def addr(input, vec1, vec2, *, beta=1, alpha=1):
    """addr(input, vec1, vec2, *, beta=1, alpha=1) -> Tensor: ``beta * input + alpha * outer(vec1, vec2)``."""
    return _ops._scaled_sum(input, _ops.outer(vec1, vec2), beta, alpha)


def addbmm(input, batch1, batch2, *, beta=1, alpha=1):
    """addbmm(input, batch1, batch2, *, beta=1, alpha=1) -> Tensor: ``beta * input + alpha * sum_b batch1[b] @ batch2[b]``."""
    return _ops._scaled_sum(input, _ops.bmm(batch1, batch2).sum(0), beta, alpha)


def round(input, *, decimals=0, out=None):
    """round(input, *, decimals=0) -> Tensor: rounds half to even; with ``decimals`` to that
    many decimal places (negative: to tens, hundreds...), as ``round(x * 10**d) / 10**d``.

        >>> deepseek.round(deepseek.tensor([1.2345, 125.0]), decimals=-1)
        tensor([  0., 120.])
    """
    _t("round", input)
    decimals = _ops._int_arg("round", decimals, "decimals")
    if decimals == 0:
        return _ops._out(_core.unary("round", input), out)
    if input._dtype not in _FLOATS:
        raise RuntimeError(f"round_decimals: not implemented for '{input._dtype}' (integer inputs take decimals=0 only)")
    if decimals > 0:
        f = 10.0 ** decimals
        r = _core.unary("round", input * f) / f
    else:
        f = 10.0 ** -decimals
        r = _core.unary("round", input / f) * f
    return _ops._out(r.to(input.dtype), out)


# ---------------- predicates of real tensors ----------------

def isneginf(input):
    """isneginf(input) -> Tensor: True where the element is -inf."""
    _t("isneginf", input)
    return _ops.isinf(input) & (input < 0)


def isposinf(input):
    """isposinf(input) -> Tensor: True where the element is +inf."""
    _t("isposinf", input)
    return _ops.isinf(input) & (input > 0)


def is_neg(input):
    """is_neg(input) -> bool: False (no lazy negation bit)."""
    _t("is_neg", input)
    return False


def is_signed(input):
    """is_signed(input) -> bool: whether the dtype is signed (all but bool and uint8)."""
    _t("is_signed", input)
    return input._dtype not in ("bool", "uint8")


def is_nonzero(input):
    """is_nonzero(input) -> bool: the truth of a one-element tensor (RuntimeError otherwise)."""
    _t("is_nonzero", input)
    n = input.numel()
    if n == 0:
        raise RuntimeError("Boolean value of Tensor with no values is ambiguous")
    if n > 1:
        raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
    return bool(input.item() != 0)


def is_same_size(input, other):
    """is_same_size(input, other) -> bool: whether both shapes are equal."""
    return tuple(_t("is_same_size", input).shape) == tuple(_t("is_same_size", other, "other").shape)


def mvlgamma(input, p):
    """mvlgamma(input, p) -> Tensor: multivariate log-gamma ``sum_i lgamma(x - i/2) + p(p-1)/4 log(pi)``."""
    x = _float(_t("mvlgamma", input))
    if p < 1:
        raise RuntimeError(f"mvlgamma: p has to be greater than or equal to 1, got {p}")
    if bool(_ops.any(x <= (p - 1) / 2)):
        raise RuntimeError(f"All elements must be greater than (p-1)/2 = {(p - 1) / 2}")
    r = sum(_ops.lgamma(x - i / 2) for i in range(p))
    return r + p * (p - 1) / 4 * math.log(math.pi)


__all__ = [n for n, v in list(globals().items())
           if not n.startswith("_") and callable(v) and getattr(v, "__module__", None) == __name__]
# complex numbers: real/imag/conj/angle/sgn... (re-exported for the Tensor methods)
from ._complex import (  # noqa: E402
    is_complex, is_conj, isreal, conj, conj_physical, resolve_conj, real, imag, angle, sgn, adjoint,
)


def resolve_neg(input):
    """resolve_neg(input) -> Tensor: ``input`` (deepseek has no lazy negation bit)."""
    return _t("resolve_neg", input)


__all__ += ["is_complex", "is_conj", "isreal", "conj", "conj_physical", "resolve_conj", "resolve_neg", "real",
            "imag", "angle", "sgn"]
# NumPy's spellings of the core's functions
absolute, arccos, arcsin, arctan, arctan2 = _ops.abs, _ops.acos, _ops.asin, _ops.atan, _ops.atan2
arccosh, arcsinh, arctanh = acosh, asinh, atanh


def index_put(input, indices, values, accumulate=False):
    """index_put(input, indices, values, accumulate=False) -> Tensor: ``input`` with
    ``input[indices] = values`` (``+=`` with ``accumulate``), out of place."""
    return _t("index_put", input).index_put(indices, values, accumulate)


__all__ += ["absolute", "arccos", "arcsin", "arctan", "arctan2", "arccosh", "arcsinh", "arctanh", "adjoint", "index_put"]
# deepseek.round stays the core's (decimals= is on Tensor.round and special.round)
__all__.remove("round")
