"""Import rules for ONNX's shape and data-movement ops and its constants."""
from __future__ import annotations

import math

import numpy as np

import deepseek as ds

from ..nn import functional as F
from ._registry import arg, axes_arg, ints, register, scalar, wrap


@register("Constant")
def _constant(ins, attrs, ctx):
    for key in ("value", "value_float", "value_floats", "value_int", "value_ints"):
        if key in attrs:
            v = attrs[key]
            if key == "value":
                return v.to(ctx.device) if ctx.device is not None else v
            dt = np.float32 if key.startswith("value_float") else np.int64
            return ctx.const(np.asarray(v, dtype=dt))
    raise ctx.fail(f"only tensor, float and int values are supported, got {sorted(attrs)}")


@register("ConstantOfShape")
def _constant_of_shape(ins, attrs, ctx):
    shape = ints(ins[0])
    value = attrs.get("value")
    if value is None:
        return ds.zeros(shape, dtype=ds.float32, device=ctx.device)
    return ds.full(shape, value.reshape(-1)[0].item(), dtype=value.dtype, device=ctx.device)


@register("Shape")
def _shape(ins, attrs, ctx):
    dims = list(ins[0].shape)
    start, end = attrs.get("start", 0), attrs.get("end")
    return ctx.const(np.asarray(dims[slice(start, end)], dtype=np.int64))


@register("Size")
def _size(ins, attrs, ctx):
    return ctx.const(np.asarray(ins[0].numel(), dtype=np.int64))


@register("Range")
def _range(ins, attrs, ctx):
    start, limit, delta = (scalar(t) for t in ins)
    n = max(int(math.ceil((limit - start) / delta)), 0)  # ONNX's element count
    dt = ins[0].dtype
    if dt.is_floating_point:
        return ds.arange(n, dtype=dt, device=ctx.device) * delta + start
    return ds.arange(start, start + n * delta, delta, dtype=dt, device=ctx.device)


@register("Reshape")
def _reshape(ins, attrs, ctx):
    x, shape = ins[0], ints(ins[1])
    if not attrs.get("allowzero", 0):
        # 0 copies the input's dim at that position
        shape = [x.shape[i] if s == 0 else s for i, s in enumerate(shape)]
    return x.reshape(shape)


@register("Flatten")
def _flatten(ins, attrs, ctx):
    x = ins[0]
    axis = wrap(attrs.get("axis", 1), x.ndim)
    return x.reshape(math.prod(x.shape[:axis]), math.prod(x.shape[axis:]))


@register("Transpose")
def _transpose(ins, attrs, ctx):
    x = ins[0]
    perm = attrs.get("perm") or list(range(x.ndim))[::-1]
    return x.permute(*perm)


@register("Squeeze")
def _squeeze(ins, attrs, ctx):
    x = ins[0]
    axes = axes_arg(ins, attrs, 1, ctx, 13)
    if axes is None:
        axes = [i for i, d in enumerate(x.shape) if d == 1]
    axes = {wrap(a, x.ndim) for a in axes}
    for a in axes:
        if x.shape[a] != 1:
            raise ctx.fail(f"cannot squeeze axis {a} of size {x.shape[a]} (input shape {tuple(x.shape)})")
    return x.reshape([d for i, d in enumerate(x.shape) if i not in axes])


@register("Unsqueeze")
def _unsqueeze(ins, attrs, ctx):
    x = ins[0]
    axes = axes_arg(ins, attrs, 1, ctx, 13)
    rank = x.ndim + len(axes)
    axes = sorted(wrap(a, rank) for a in axes)
    shape = list(x.shape)
    for a in axes:
        shape.insert(a, 1)
    return x.reshape(shape)


@register("Concat")
def _concat(ins, attrs, ctx):
    return ds.cat([t for t in ins if t is not None], dim=attrs["axis"])


@register("Split")
def _split(ins, attrs, ctx):
    x = ins[0]
    axis = wrap(attrs.get("axis", 0), x.ndim)
    sizes = ints(arg(ins, 1)) if ctx.opset >= 13 else attrs.get("split")
    if not sizes:
        n = attrs.get("num_outputs", ctx.n_outputs)
        chunk = -(-x.shape[axis] // n)  # the last chunk may be smaller (opset 18's rule)
        sizes = [min(chunk, x.shape[axis] - i * chunk) for i in range(n)]
    if sum(sizes) != x.shape[axis]:
        raise ctx.fail(f"split sizes {sizes} do not add up to dim {axis} of shape {tuple(x.shape)}")
    return tuple(ds.split(x, sizes, dim=axis))


def _take(x, axis, idx, ctx):
    """``x`` indexed along ``axis`` by the Python ints ``idx`` (a view when they are a unit-step run)."""
    if len(idx) > 0 and idx == list(range(idx[0], idx[0] + len(idx))):
        return x.narrow(axis, idx[0], len(idx))
    return x.index_select(axis, ctx.const(np.asarray(idx, dtype=np.int64)))


@register("Slice")
def _slice(ins, attrs, ctx):
    x = ins[0]
    if ctx.opset >= 10:
        starts, ends = ints(ins[1]), ints(ins[2])
        axes, steps = ints(arg(ins, 3)), ints(arg(ins, 4))
    else:
        starts, ends, axes, steps = attrs["starts"], attrs["ends"], attrs.get("axes"), None
    axes = list(range(len(starts))) if axes is None else [wrap(a, x.ndim) for a in axes]
    steps = steps or [1] * len(starts)
    for a, s, e, st in zip(axes, starts, ends, steps):
        if st == 0:
            raise ctx.fail("a slice step of 0")
        # ONNX clamps starts and ends exactly as Python's slice.indices does
        x = _take(x, a, list(range(*slice(s, e, st).indices(x.shape[a]))), ctx)
    return x


def _norm_indices(x, idx, axis):
    n = x.shape[axis]
    return ds.where(idx < 0, idx + n, idx)


@register("Gather")
def _gather(ins, attrs, ctx):
    x, idx = ins
    axis = wrap(attrs.get("axis", 0), x.ndim)
    idx = _norm_indices(x, idx.to(ds.int64), axis)
    out = x.index_select(axis, idx.reshape(-1))
    return out.reshape(list(x.shape[:axis]) + list(idx.shape) + list(x.shape[axis + 1:]))


@register("GatherElements")
def _gather_elements(ins, attrs, ctx):
    x, idx = ins
    axis = wrap(attrs.get("axis", 0), x.ndim)
    return ds.gather(x, axis, _norm_indices(x, idx.to(ds.int64), axis))


@register("Expand")
def _expand(ins, attrs, ctx):
    x, shape = ins[0], ints(ins[1])
    return x.expand(*ds.broadcast_shapes(tuple(x.shape), tuple(shape)))


@register("Tile")
def _tile(ins, attrs, ctx):
    return ins[0].repeat(*ints(ins[1]))


@register("Trilu")
def _trilu(ins, attrs, ctx):
    x, k = ins[0], arg(ins, 1)
    k = 0 if k is None else scalar(k)
    return ds.triu(x, k) if attrs.get("upper", 1) else ds.tril(x, k)


_PAD_MODES = {"constant": "constant", "reflect": "reflect", "edge": "replicate", "wrap": "circular"}


@register("Pad")
def _pad(ins, attrs, ctx):
    x = ins[0]
    mode = attrs.get("mode", "constant")
    if isinstance(mode, bytes):
        mode = mode.decode()
    if mode not in _PAD_MODES:
        raise ctx.fail(f"unknown pad mode '{mode}'")
    if ctx.opset >= 11:
        pads, value = ints(ins[1]), arg(ins, 2)
        value = 0 if value is None else scalar(value)
        axes = ints(arg(ins, 3))
    else:
        pads, value, axes = attrs["pads"], attrs.get("value", 0.0), None
    axes = list(range(x.ndim)) if axes is None else [wrap(a, x.ndim) for a in axes]
    n = len(axes)
    begin = dict(zip(axes, pads[:n]))
    end = dict(zip(axes, pads[n:]))
    first = min([a for a in axes if begin[a] or end[a]], default=x.ndim)
    # F.pad lists (begin, end) from the last dim backwards, down to the first padded dim
    flat = []
    for a in range(x.ndim - 1, first - 1, -1):
        flat += [begin.get(a, 0), end.get(a, 0)]
    if not flat:
        return x
    if mode == "constant":
        return F.pad(x, flat, "constant", value)
    return F.pad(x, flat, _PAD_MODES[mode])


@register("Einsum")
def _einsum(ins, attrs, ctx):
    eq = attrs["equation"]
    return ds.einsum(eq.decode() if isinstance(eq, bytes) else eq, *ins)


@register("NonZero")
def _nonzero(ins, attrs, ctx):
    return ds.nonzero(ins[0]).t() if ins[0].ndim else ds.nonzero(ins[0].reshape(1)).t()


@register("OneHot")
def _one_hot(ins, attrs, ctx):
    idx, depth, values = ins
    depth = int(scalar(depth))
    idx = ds.where(idx < 0, idx + depth, idx).to(ds.int64)
    hot = F.one_hot(idx, depth)
    axis = attrs.get("axis", -1)
    if axis != -1:
        hot = hot.movedim(-1, wrap(axis, hot.ndim))
    off, on = values[0], values[1]
    return ds.where(hot.bool(), on, off)



def _nd_index(idx, x):
    """GatherND/ScatterND indices [..., k] as a tuple of k index tensors (negatives wrapped)."""
    k = idx.shape[-1]
    parts = []
    for j in range(k):
        i = idx[..., j].to(ds.int64)
        parts.append(ds.where(i < 0, i + x.shape[j], i))
    return tuple(parts)


@register("GatherND")
def _gather_nd(ins, attrs, ctx):
    x, idx = ins
    if attrs.get("batch_dims", 0):
        raise ctx.fail("batch_dims > 0 is not supported")
    return x[_nd_index(idx, x)]


_REDUCTIONS = {"none": None, "add": "sum", "mul": "prod", "max": "amax", "min": "amin"}


@register("ScatterND")
def _scatter_nd(ins, attrs, ctx):
    x, idx, updates = ins
    red = attrs.get("reduction", "none")
    if red not in ("none", "add"):
        raise ctx.fail(f"reduction '{red}' is not supported (none, add)")
    return x.index_put(_nd_index(idx, x), updates, accumulate=red == "add")


@register("ScatterElements", "Scatter")
def _scatter_elements(ins, attrs, ctx):
    x, idx, updates = ins
    axis = wrap(attrs.get("axis", 0), x.ndim)
    idx = ds.where(idx < 0, idx + x.shape[axis], idx).to(ds.int64)
    red = attrs.get("reduction", "none")
    if red == "none":
        return ds.scatter(x, axis, idx, updates)
    if red == "add":
        return ds.scatter_add(x, axis, idx, updates)
    if red in _REDUCTIONS:
        return ds.scatter_reduce(x, axis, idx, updates, _REDUCTIONS[red], include_self=True)
    raise ctx.fail(f"unknown reduction '{red}'")


@register("DepthToSpace")
def _depth_to_space(ins, attrs, ctx):
    x = ins[0]
    b = attrs["blocksize"]
    n, c, h, w = x.shape
    if attrs.get("mode", "DCR") == "DCR":
        y = x.reshape(n, b, b, c // (b * b), h, w).permute(0, 3, 4, 1, 5, 2)
    else:
        y = x.reshape(n, c // (b * b), b, b, h, w).permute(0, 1, 4, 2, 5, 3)
    return y.reshape(n, c // (b * b), h * b, w * b)


@register("SpaceToDepth")
def _space_to_depth(ins, attrs, ctx):
    x = ins[0]
    b = attrs["blocksize"]
    n, c, h, w = x.shape
    y = x.reshape(n, c, h // b, b, w // b, b).permute(0, 3, 5, 1, 2, 4)
    return y.reshape(n, c * b * b, h // b, w // b)
