"""Import rules for ONNX's reductions, scans, arg-reductions, TopK and the softmax family."""
from __future__ import annotations

import math

import deepseek as ds

from ..nn import functional as F
from ._registry import arg, ints, register, scalar, wrap


def _reduce_axes(ins, attrs, ctx, x):
    # ReduceSum took axes as an input at opset 13, the other reductions at 18
    since = 13 if ctx.op_type == "ReduceSum" else 18
    axes = ints(arg(ins, 1)) if ctx.opset >= since else attrs.get("axes")
    if not axes:
        return None if attrs.get("noop_with_empty_axes", 0) else list(range(x.ndim))
    return sorted({wrap(a, x.ndim) for a in axes})


def _reduction(fn):
    def rule(ins, attrs, ctx):
        x = ins[0]
        axes = _reduce_axes(ins, attrs, ctx, x)
        if axes is None:
            return x
        keep = bool(attrs.get("keepdims", 1))
        if not axes:  # a 0-d input: nothing to reduce
            return fn(x.reshape(1), [0], False).reshape(()) if x.ndim == 0 else x
        return fn(x, axes, keep)
    return rule


def _amax(x, axes, keep):
    return ds.amax(x, dim=axes, keepdim=keep)


def _amin(x, axes, keep):
    return ds.amin(x, dim=axes, keepdim=keep)


def _prod(x, axes, keep):
    for a in sorted(axes, reverse=True):
        x = ds.prod(x, dim=a, keepdim=keep)
    return x


for _name, _fn in {
    "ReduceSum": lambda x, a, k: ds.sum(x, dim=a, keepdim=k),
    "ReduceMean": lambda x, a, k: ds.mean(x, dim=a, keepdim=k),
    "ReduceMax": _amax,
    "ReduceMin": _amin,
    "ReduceProd": _prod,
    "ReduceL1": lambda x, a, k: ds.sum(ds.abs(x), dim=a, keepdim=k),
    "ReduceL2": lambda x, a, k: ds.sqrt(ds.sum(x * x, dim=a, keepdim=k)),
    "ReduceSumSquare": lambda x, a, k: ds.sum(x * x, dim=a, keepdim=k),
    "ReduceLogSum": lambda x, a, k: ds.log(ds.sum(x, dim=a, keepdim=k)),
    "ReduceLogSumExp": lambda x, a, k: ds.logsumexp(x, dim=a, keepdim=k),
}.items():
    register(_name)(_reduction(_fn))


def _arg_reduce(fn):
    def rule(ins, attrs, ctx):
        x = ins[0]
        axis = wrap(attrs.get("axis", 0), x.ndim)
        keep = bool(attrs.get("keepdims", 1))
        if attrs.get("select_last_index", 0):
            # the last extreme: search the flipped axis and map the index back
            i = fn(ds.flip(x, [axis]), dim=axis, keepdim=keep)
            return (x.shape[axis] - 1) - i
        return fn(x, dim=axis, keepdim=keep)
    return rule


register("ArgMax")(_arg_reduce(ds.argmax))
register("ArgMin")(_arg_reduce(ds.argmin))


@register("TopK")
def _topk(ins, attrs, ctx):
    x = ins[0]
    k = int(scalar(ins[1])) if ctx.opset >= 10 else attrs["k"]
    axis = wrap(attrs.get("axis", -1), x.ndim)
    values, indices = ds.topk(x, k, dim=axis, largest=bool(attrs.get("largest", 1)),
                              sorted=bool(attrs.get("sorted", 1)))
    return values, indices


@register("CumSum")
def _cumsum(ins, attrs, ctx):
    x = ins[0]
    axis = wrap(int(scalar(ins[1])), x.ndim)
    reverse, exclusive = attrs.get("reverse", 0), attrs.get("exclusive", 0)
    if reverse:
        x = ds.flip(x, [axis])
    if exclusive:
        # shift by one: a zero first, the last element dropped
        n = x.shape[axis]
        head = ds.zeros_like(x.narrow(axis, 0, min(n, 1)))
        x = ds.cat([head, x.narrow(axis, 0, max(n - 1, 0))], dim=axis)
    y = ds.cumsum(x, dim=axis)
    return ds.flip(y, [axis]) if reverse else y


def _softmax_like(fn):
    def rule(ins, attrs, ctx):
        x = ins[0]
        if ctx.opset >= 13:
            return fn(x, dim=attrs.get("axis", -1))
        # before opset 13: the input is seen as 2-D, flattened at axis (default 1)
        axis = wrap(attrs.get("axis", 1), x.ndim)
        flat = x.reshape(math.prod(x.shape[:axis]), math.prod(x.shape[axis:]))
        return fn(flat, dim=1).reshape(x.shape)
    return rule


register("Softmax")(_softmax_like(F.softmax))
register("LogSoftmax")(_softmax_like(F.log_softmax))


del _name, _fn
