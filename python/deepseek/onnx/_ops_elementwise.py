"""Import rules for ONNX's elementwise ops: arithmetic, comparisons, logic, activations, casts."""
from __future__ import annotations

import functools

import deepseek as ds

from ..nn import functional as F
from ._registry import arg, onnx_dtype, register, scalar


def _unary(fn):
    return lambda ins, attrs, ctx: fn(ins[0])


for _name, _fn in {
    "Neg": ds.neg, "Abs": ds.abs, "Sqrt": ds.sqrt, "Exp": ds.exp, "Log": ds.log, "Erf": ds.erf,
    "Reciprocal": ds.reciprocal, "Relu": F.relu, "Sigmoid": ds.sigmoid, "Tanh": ds.tanh,
    "Floor": ds.floor, "Ceil": ds.ceil, "Sin": ds.sin, "Cos": ds.cos, "Tan": ds.tan, "Sign": ds.sign,
    "Not": ds.logical_not, "Identity": lambda x: x, "Softsign": F.softsign, "Mish": F.mish,
    "IsNaN": ds.isnan, "Asin": ds.asin, "Acos": ds.acos, "Atan": ds.atan, "Sinh": ds.sinh,
    "Cosh": ds.cosh, "Round": ds.round, "BitwiseNot": ds.bitwise_not,
}.items():
    register(_name)(_unary(_fn))


def _same_type_binary(fn):
    return lambda ins, attrs, ctx: fn(ins[0], ins[1])


for _name, _fn in {
    "Add": ds.add, "Sub": ds.sub, "Mul": ds.mul, "Equal": ds.eq, "Less": ds.lt, "Greater": ds.gt,
    "LessOrEqual": ds.le, "GreaterOrEqual": ds.ge, "And": ds.logical_and, "Or": ds.logical_or,
    "Xor": ds.logical_xor, "BitwiseAnd": ds.bitwise_and, "BitwiseOr": ds.bitwise_or,
    "BitwiseXor": ds.bitwise_xor,
}.items():
    register(_name)(_same_type_binary(_fn))


@register("Div")
def _div(ins, attrs, ctx):
    a, b = ins
    # ONNX's integer Div truncates toward zero, as C does
    return ds.div(a, b, rounding_mode=None if a.dtype.is_floating_point else "trunc")


@register("Mod")
def _mod(ins, attrs, ctx):
    a, b = ins
    return ds.fmod(a, b) if attrs.get("fmod", 0) else ds.remainder(a, b)


@register("Pow")
def _pow(ins, attrs, ctx):
    x, y = ins
    r = ds.pow(x, y)
    return r if r.dtype == x.dtype else r.to(x.dtype)  # the result has the base's type


def _variadic(fn):
    return lambda ins, attrs, ctx: functools.reduce(fn, [t for t in ins if t is not None])


register("Max")(_variadic(ds.maximum))
register("Min")(_variadic(ds.minimum))
register("Sum")(_variadic(ds.add))


@register("Mean")
def _mean(ins, attrs, ctx):
    return functools.reduce(ds.add, ins) / len(ins)


@register("Where")
def _where(ins, attrs, ctx):
    return ds.where(ins[0], ins[1], ins[2])


@register("Clip")
def _clip(ins, attrs, ctx):
    x = ins[0]
    if ctx.opset >= 11:
        lo, hi = arg(ins, 1), arg(ins, 2)
        lo = None if lo is None else scalar(lo)
        hi = None if hi is None else scalar(hi)
    else:
        lo, hi = attrs.get("min"), attrs.get("max")
    if lo is None and hi is None:
        return x
    return ds.clamp(x, lo, hi)


@register("Cast")
def _cast(ins, attrs, ctx):
    return ins[0].to(onnx_dtype(attrs["to"]))


@register("CastLike")
def _cast_like(ins, attrs, ctx):
    return ins[0].to(ins[1].dtype)


@register("LeakyRelu")
def _leaky_relu(ins, attrs, ctx):
    return F.leaky_relu(ins[0], attrs.get("alpha", 0.01))


@register("Elu")
def _elu(ins, attrs, ctx):
    return F.elu(ins[0], attrs.get("alpha", 1.0))


@register("Selu")
def _selu(ins, attrs, ctx):
    x = ins[0]
    alpha, gamma = attrs.get("alpha", 1.67326319217681884765625), attrs.get("gamma", 1.05070102214813232421875)
    return gamma * F.elu(x, alpha)


@register("Celu")
def _celu(ins, attrs, ctx):
    return F.celu(ins[0], attrs.get("alpha", 1.0))


@register("PRelu")
def _prelu(ins, attrs, ctx):
    x, slope = ins
    return ds.where(x < 0, x * slope, x)  # the slope broadcasts unidirectionally, as ONNX's


@register("HardSigmoid")
def _hard_sigmoid(ins, attrs, ctx):
    return ds.clamp(ins[0] * attrs.get("alpha", 0.2) + attrs.get("beta", 0.5), 0.0, 1.0)


@register("HardSwish")
def _hard_swish(ins, attrs, ctx):
    return F.hardswish(ins[0])


@register("Softplus")
def _softplus(ins, attrs, ctx):
    return ds.softplus(ins[0])


@register("ThresholdedRelu")
def _thresholded_relu(ins, attrs, ctx):
    x = ins[0]
    return ds.where(x > attrs.get("alpha", 1.0), x, ds.zeros_like(x))


@register("Gelu")
def _gelu(ins, attrs, ctx):
    return F.gelu(ins[0], approximate=attrs.get("approximate", "none"))


@register("Dropout")
def _dropout(ins, attrs, ctx):
    # inference semantics: ONNX runtimes ignore the ratio unless training_mode is true
    x = ins[0]
    training = arg(ins, 2)
    if training is not None and bool(scalar(training)):
        raise ctx.fail("training_mode=True is not supported on import (dropout runs as identity)")
    if ctx.n_outputs > 1:
        return x, ds.ones_like(x, dtype=ds.bool)
    return x


del _name, _fn
