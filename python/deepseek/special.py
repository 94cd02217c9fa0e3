"""``deepseek.special``: special functions, as PyTorch's ``torch.special`` names them.

Each is composed from the core's differentiable primitives (erf, lgamma, digamma, exp, log...),
so gradients and every backend come for free. Series and Newton iterations are run in float64
and rounded once to the input's dtype.

    >>> import deepseek
    >>> deepseek.special.ndtr(deepseek.tensor([0.0]))
    tensor([0.5000])
"""
from __future__ import annotations

import math

from . import _core, _creation as _C, _dtype as _D, _ops
from ._core import Tensor
from ._math_extra import logit, sinc, xlogy

_FLOATS = ("float16", "bfloat16", "float32", "float64")
_SQRT2 = math.sqrt(2.0)
_SQRT_PI = math.sqrt(math.pi)


def _t(op, x, name="input"):
    _ops._check_tensor(op, x, name)
    return x


def _wide(x):
    """(``x`` in float64, the dtype to round the result to)."""
    out = x.dtype if x._dtype in _FLOATS else _D.get_default_dtype()
    return x.to(_D.float64), out


# ---------------- aliases of core functions ----------------

def erf(input):
    """erf(input) -> Tensor: the error function."""
    return _ops.erf(_t("erf", input))


def erfc(input):
    """erfc(input) -> Tensor: the complementary error function ``1 - erf(x)``."""
    return _ops.erfc(_t("erfc", input))


def erfcx(input):
    """erfcx(input) -> Tensor: the scaled complementary error function ``exp(x^2) erfc(x)``."""
    x, out = _wide(_t("erfcx", input))
    # erfc underflows past x ~ 26: there the continued-fraction asymptote is exact to double
    big = x > 25
    xs = _ops.where(big, 0.0, x)
    small = _ops.exp(xs * xs) * _ops.erfc(xs)
    xb = _ops.where(big, x, 30.0)
    z = 1.0 / (2 * xb * xb)
    asym = (1 - z + 3 * z * z - 15 * z ** 3) / (xb * _SQRT_PI)
    return _ops.where(big, asym, small).to(out)


def gammaln(input):
    """gammaln(input) -> Tensor: ``log|Gamma(x)|``."""
    return _ops.lgamma(_t("gammaln", input))


def digamma(input):
    """digamma(input) -> Tensor: ``d/dx log Gamma(x)``."""
    return _ops.digamma(_t("digamma", input))


psi = digamma


def polygamma(n, input):
    """polygamma(n, input) -> Tensor: the n-th derivative of digamma."""
    return _ops.polygamma(n, input)


def expit(input):
    """expit(input) -> Tensor: the logistic sigmoid."""
    return _ops.sigmoid(_t("expit", input))


def exp2(input):
    """exp2(input) -> Tensor: ``2**x``."""
    return _ops.exp2(_t("exp2", input))


def expm1(input):
    """expm1(input) -> Tensor: ``exp(x) - 1``, accurate near 0."""
    return _ops.expm1(_t("expm1", input))


def log1p(input):
    """log1p(input) -> Tensor: ``log(1 + x)``, accurate near 0."""
    return _ops.log1p(_t("log1p", input))


def round(input, *, decimals=0):
    """round(input, *, decimals=0) -> Tensor: rounds half to even."""
    from ._math_extra import round as _round

    return _round(input, decimals=decimals)


def softmax(input, dim, *, dtype=None):
    """softmax(input, dim, *, dtype=None) -> Tensor."""
    return _ops.softmax(input, dim, dtype=dtype)


def log_softmax(input, dim, *, dtype=None):
    """log_softmax(input, dim, *, dtype=None) -> Tensor."""
    return _ops.log_softmax(input, dim, dtype=dtype)


def logsumexp(input, dim, keepdim=False):
    """logsumexp(input, dim, keepdim=False) -> Tensor."""
    return _ops.logsumexp(input, dim, keepdim)


# ---------------- normal distribution ----------------

def ndtr(input):
    """ndtr(input) -> Tensor: the standard normal CDF ``Phi(x) = erfc(-x / sqrt 2) / 2``."""
    x, out = _wide(_t("ndtr", input))
    return (0.5 * _ops.erfc(-x / _SQRT2)).to(out)


def log_ndtr(input):
    """log_ndtr(input) -> Tensor: ``log Phi(x)``, accurate far into the lower tail."""
    x, out = _wide(_t("log_ndtr", input))
    # upper half: log1p(-Phi(-x)) keeps precision where Phi(x) ~ 1
    up = _ops.log1p(-0.5 * _ops.erfc(_ops.where(x > 0, x, 0.0) / _SQRT2))
    # lower tail: log(erfcx(-x / sqrt2) / 2) - x^2 / 2 never underflows
    xl = _ops.where(x > 0, 0.0, x)
    low = _ops.log(erfcx(-xl / _SQRT2) / 2) - xl * xl / 2
    return _ops.where(x > 0, up, low).to(out)


def _erfinv_guess(y):
    """Giles' single-precision approximation of erfinv, the Newton starting point."""
    w = -_ops.log((1.0 - y) * (1.0 + y))
    w1 = w - 2.5
    p1 = 2.81022636e-08
    for c in (3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087, -0.00125372503,
              -0.00417768164, 0.246640727, 1.50140941):
        p1 = c + p1 * w1
    w2 = _ops.sqrt(_ops.where(w >= 5, w, 5.0)) - 3.0
    p2 = -0.000200214257
    for c in (0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773, -0.0076224613,
              0.00943887047, 1.00167406, 2.83297682):
        p2 = c + p2 * w2
    return _ops.where(w < 5, p1, p2) * y


def erfinv(input):
    """erfinv(input) -> Tensor: the inverse error function on (-1, 1) (+-inf at +-1, NaN outside).

    A rational first guess refined by Newton steps on ``erf`` in float64; the last step is
    differentiable, so the gradient is ``sqrt(pi)/2 * exp(erfinv(x)^2)``.
    """
    y, out = _wide(_t("erfinv", input))
    with _no_grad():
        yd = y.detach()
        inside = _ops.abs(yd) < 1
        ys = _ops.where(inside, yd, 0.0)
        x = _erfinv_guess(ys)
        for _ in range(3):
            x = x - (_ops.erf(x) - ys) / (2 / _SQRT_PI * _ops.exp(-x * x))
    # one more Newton step with y live: its derivative in y is 1 / erf'(x)
    ysafe = _ops.where(inside, y, 0.0)
    r = x - (_ops.erf(x) - ysafe) / (2 / _SQRT_PI * _ops.exp(-x * x))
    edge = _ops.where(yd == 1, float("inf"), _ops.where(yd == -1, float("-inf"), float("nan")))
    return _ops.where(inside, r, edge).to(out)


def ndtri(input):
    """ndtri(input) -> Tensor: the standard normal quantile function, ``Phi^{-1}(p)``."""
    p, out = _wide(_t("ndtri", input))
    return (_SQRT2 * erfinv(2 * p - 1)).to(out)


# ---------------- Bessel, entropy, zeta ----------------

def i0(input):
    """i0(input) -> Tensor: the modified Bessel function of the first kind of order 0 (power
    series up to |x| = 30, the asymptotic expansion above)."""
    x, out = _wide(_t("i0", input))
    return (_i0e(x) * _ops.exp(_ops.abs(x))).to(out)


def i0e(input):
    """i0e(input) -> Tensor: the exponentially scaled ``i0(x) * exp(-|x|)``."""
    x, out = _wide(_t("i0e", input))
    return _i0e(x).to(out)


def _i0e(x):
    a = _ops.abs(x)
    small = a <= 30
    xs = _ops.where(small, a, 0.0)
    q = xs * xs / 4
    term = _C.ones_like(q)
    s = term
    for k in range(1, 90):
        term = term * q / (k * k)
        s = s + term
    series = s * _ops.exp(-xs)
    xb = _ops.where(small, 60.0, a)
    # I0(x) e^-x ~ (1 + 1/(8x) + 9/(2 (8x)^2) + ...) / sqrt(2 pi x)
    t, acc = 1.0, 1.0
    for k in range(1, 16):
        t = t * (2 * k - 1) ** 2 / (k * 8 * xb)
        acc = acc + t
    asym = acc / _ops.sqrt(2 * math.pi * xb)
    return _ops.where(small, series, asym)


def entr(input):
    """entr(input) -> Tensor: ``-x log x`` for x > 0, 0 at 0, -inf below 0."""
    x = _t("entr", input)
    x = x if x._dtype in _FLOATS else x.to(_D.get_default_dtype())
    pos = x > 0
    r = -x * _ops.log(_ops.where(pos, x, 1.0))
    return _ops.where(_ops.isnan(x), x, _ops.where(pos, r, _ops.where(x == 0, 0.0, float("-inf")))).to(x.dtype)


def xlog1py(input, other):
    """xlog1py(input, other) -> Tensor: ``input * log1p(other)``, 0 where ``input == 0``."""
    x = input if isinstance(input, Tensor) else _C.tensor(float(input), device=other.device)
    x = x if x._dtype in _FLOATS else x.to(_D.get_default_dtype())
    y = other if isinstance(other, Tensor) else _C.full_like(x, float(other))
    r = x * _ops.log1p(y)
    return _ops.where((x == 0) & ~_ops.isnan(y), 0.0, r).to(r.dtype)


# Bernoulli numbers B_2k / (2k)! for the Euler-Maclaurin tail of zeta
_B2K = [1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730, 7 / 6, -3617 / 510, 43867 / 798, -174611 / 330]


def zeta(input, other):
    """zeta(input, other) -> Tensor: the Hurwitz zeta function ``sum_k (k + q)^-x`` (x = input,
    q = other), by Euler-Maclaurin summation in float64."""
    x = input if isinstance(input, Tensor) else _C.tensor(float(input), dtype=_D.float64)
    q = other if isinstance(other, Tensor) else _C.tensor(float(other), dtype=_D.float64)
    out = _core.result_type(x, q)
    out = out if out in _FLOATS else _D.get_default_dtype().name
    x, q = x.to(_D.float64), q.to(_D.float64)
    n = 12
    s = 0.0
    for k in range(n):
        s = s + _ops.pow(q + k, -x)
    a = q + n
    s = s + _ops.pow(a, 1 - x) / (x - 1) + 0.5 * _ops.pow(a, -x)
    fact = x / a * _ops.pow(a, -x)  # x (x+1)...(x+2j-2) / a^(x+2j-1), built up term by term
    for j, b in enumerate(_B2K):
        s = s + b / math.factorial(2 * j + 2) * fact
        fact = fact * (x + 2 * j + 1) * (x + 2 * j + 2) / (a * a)
    r = _ops.where(x == 1, float("inf"), s)
    r = _ops.where(x < 1, float("nan"), r)
    return r.to(out)


def _igamma_parts(a, x):
    """(P(a, x), Q(a, x)) in float64: the power series where x < a + 1, Lentz's continued
    fraction for Q elsewhere (each on safe stand-in values where the other is used)."""
    use_series = x < a + 1
    xs = _ops.where(use_series, x, 0.0)
    term = 1.0 / a
    total = term
    ap = a
    for _ in range(300):
        ap = ap + 1
        term = term * xs / ap
        total = total + term
    p_series = total * _ops.exp(a * _ops.log(_ops.where(xs > 0, xs, 1.0)) - xs - _ops.lgamma(a))
    xc = _ops.where(use_series, a + 2.0, x)
    tiny = 1e-300
    b = xc + 1 - a
    c = _C.full_like(b, 1e300)
    d = 1.0 / b
    h = d
    for i in range(1, 300):
        an = -i * (i - a)
        b = b + 2
        d = an * d + b
        d = _ops.where(_ops.abs(d) < tiny, tiny, d)
        c = b + an / c
        c = _ops.where(_ops.abs(c) < tiny, tiny, c)
        d = 1.0 / d
        h = h * d * c
    q_cf = _ops.exp(a * _ops.log(xc) - xc - _ops.lgamma(a)) * h
    p = _ops.where(use_series, p_series, 1 - q_cf)
    q = _ops.where(use_series, 1 - p_series, q_cf)
    return p, q


def _igamma(op, input, other, upper):
    a = input if isinstance(input, Tensor) else _C.tensor(float(input), dtype=_D.float64)
    x = other if isinstance(other, Tensor) else _C.tensor(float(other), dtype=_D.float64)
    out = _core.result_type(a, x)
    if out not in _FLOATS:
        raise RuntimeError(f"{op}(): not implemented for '{out}' (floating-point inputs only)")
    a64, x64 = _ops.broadcast_tensors(a.to(_D.float64), x.to(_D.float64))
    ok = (a64 > 0) & (x64 >= 0)
    sa, sx = _ops.where(ok, a64, 1.0), _ops.where(ok, x64, 1.0)
    p, q = _igamma_parts(sa, sx)
    r = q if upper else p
    at_zero = 1.0 if upper else 0.0
    r = _ops.where(x64 == 0, at_zero, r)
    r = _ops.where(ok, r, float("nan"))
    return r.to(out)


def gammainc(input, other):
    """gammainc(input, other) -> Tensor: the regularized lower incomplete gamma function
    ``P(a, x)`` (a = input > 0, x = other >= 0)."""
    return _igamma("gammainc", input, other, False)


def gammaincc(input, other):
    """gammaincc(input, other) -> Tensor: the regularized upper incomplete gamma ``Q(a, x) = 1 - P(a, x)``."""
    return _igamma("gammaincc", input, other, True)


def multigammaln(input, p):
    """multigammaln(input, p) -> Tensor: the multivariate log-gamma function."""
    from ._math_extra import mvlgamma

    return mvlgamma(input, p)


def _no_grad():
    from .autograd import no_grad

    return no_grad()


__all__ = ["erf", "erfc", "erfcx", "erfinv", "gammaln", "digamma", "psi", "polygamma", "expit", "logit",
           "exp2", "expm1", "log1p", "round", "softmax", "log_softmax", "logsumexp", "ndtr", "log_ndtr",
           "ndtri", "i0", "i0e", "entr", "xlogy", "xlog1py", "sinc", "zeta", "multigammaln", "gammainc", "gammaincc"]
