"""Import rules for ONNX's matrix products, convolutions, pools and normalisations."""
from __future__ import annotations

import deepseek as ds

from ..nn import functional as F
from ._registry import arg, register, scalar

_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
_CONV_T = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}
_MAX_POOL = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}
_AVG_POOL = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}


@register("MatMul")
def _matmul(ins, attrs, ctx):
    return ds.matmul(ins[0], ins[1])


@register("Gemm")
def _gemm(ins, attrs, ctx):
    a, b, c = ins[0], ins[1], arg(ins, 2)
    if attrs.get("transA", 0):
        a = a.t()
    if attrs.get("transB", 0):
        b = b.t()
    y = ds.matmul(a, b)
    alpha, beta = attrs.get("alpha", 1.0), attrs.get("beta", 1.0)
    if alpha != 1.0:
        y = y * alpha
    if c is not None:
        y = y + (c if beta == 1.0 else c * beta)
    return y


def _spatial(ctx, x, n):
    if n not in _CONV:
        raise ctx.fail(f"{n}-d spatial dims are not supported (input shape {tuple(x.shape)}); 1 to 3 are")


def _auto_pads(attrs, in_sizes, kernel, strides, dilations):
    """The (begin, end) pads per spatial dim, from ``pads`` or ``auto_pad``."""
    n = len(kernel)
    auto = attrs.get("auto_pad", "NOTSET")
    auto = auto.decode() if isinstance(auto, bytes) else auto
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        begin, end = [], []
        for size, k, s, d in zip(in_sizes, kernel, strides, dilations):
            out = -(-size // s)
            total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
            small = total // 2
            begin.append(small if auto == "SAME_UPPER" else total - small)
            end.append(total - begin[-1])
        return begin, end
    if auto == "VALID":
        return [0] * n, [0] * n
    pads = attrs.get("pads", [0] * (2 * n))
    return list(pads[:n]), list(pads[n:])


def _geometry(attrs, x, kernel):
    n = len(kernel)
    strides = list(attrs.get("strides", [1] * n))
    dilations = list(attrs.get("dilations", [1] * n))
    begin, end = _auto_pads(attrs, list(x.shape[2:]), kernel, strides, dilations)
    return strides, dilations, begin, end


def _pad_spatial(x, begin, end, value=0.0):
    flat = []
    for b, e in zip(reversed(begin), reversed(end)):
        flat += [b, e]
    return F.pad(x, flat, "constant", value)


@register("Conv")
def _conv(ins, attrs, ctx):
    x, w, b = ins[0], ins[1], arg(ins, 2)
    kernel = list(attrs.get("kernel_shape", w.shape[2:]))
    _spatial(ctx, x, len(kernel))
    strides, dilations, begin, end = _geometry(attrs, x, kernel)
    if begin != end:  # asymmetric: pad first, as F.conv pads both sides alike
        x, begin = _pad_spatial(x, begin, end), [0] * len(kernel)
    return _CONV[len(kernel)](x, w, b, strides, begin, dilations, attrs.get("group", 1))


@register("ConvTranspose")
def _conv_transpose(ins, attrs, ctx):
    x, w, b = ins[0], ins[1], arg(ins, 2)
    kernel = list(attrs.get("kernel_shape", w.shape[2:]))
    n = len(kernel)
    _spatial(ctx, x, n)
    strides = list(attrs.get("strides", [1] * n))
    dilations = list(attrs.get("dilations", [1] * n))
    out_pad = list(attrs.get("output_padding", [0] * n))
    group = attrs.get("group", 1)
    # the size of the full (unpadded) result along each spatial dim
    full = [s * (i - 1) + (k - 1) * d + 1 + op
            for i, k, s, d, op in zip(x.shape[2:], kernel, strides, dilations, out_pad)]
    auto = attrs.get("auto_pad", "NOTSET")
    auto = auto.decode() if isinstance(auto, bytes) else auto
    if "output_shape" in attrs or auto in ("SAME_UPPER", "SAME_LOWER"):
        want = list(attrs["output_shape"])[-n:] if "output_shape" in attrs else \
            [i * s for i, s in zip(x.shape[2:], strides)]
        total = [f - o for f, o in zip(full, want)]
        # SAME_UPPER puts the smaller half first (the spec); onnxruntime puts the larger half
        # first for an explicit output_shape, as for SAME_LOWER
        if auto == "SAME_UPPER":
            begin = [t // 2 for t in total]
        else:
            begin = [t - t // 2 for t in total]
        end = [t - bg for t, bg in zip(total, begin)]
    elif auto == "VALID":
        begin, end = [0] * n, [0] * n
    else:
        pads = attrs.get("pads", [0] * (2 * n))
        begin, end = list(pads[:n]), list(pads[n:])
    fn = _CONV_T[n]
    if begin == end and all(op < max(s, d) for op, s, d in zip(out_pad, strides, dilations)) \
            and min(begin, default=0) >= 0:
        return fn(x, w, b, strides, begin, out_pad, group, dilations)
    # general case: the full result, grown by output_padding, then cropped by the pads
    y = fn(x, w, None, strides, 0, 0, group, dilations)
    if any(out_pad):
        y = _pad_spatial(y, [0] * n, out_pad)
    for axis, (bg, e, f) in enumerate(zip(begin, end, full)):
        y = y.narrow(axis + 2, bg, f - bg - e)
    if b is not None:
        y = y + b.reshape([1, -1] + [1] * n)
    return y


@register("MaxPool")
def _max_pool(ins, attrs, ctx):
    x = ins[0]
    kernel = list(attrs["kernel_shape"])
    n = len(kernel)
    _spatial(ctx, x, n)
    if attrs.get("storage_order", 0):
        raise ctx.fail("storage_order=1 (column-major indices) is not supported")
    strides, dilations, begin, end = _geometry(attrs, x, kernel)
    ceil = bool(attrs.get("ceil_mode", 0))
    if begin != end:
        if ctx.n_outputs > 1:
            raise ctx.fail("indices of a pool with asymmetric pads are not supported")
        x, begin = _pad_spatial(x, begin, end, float("-inf")), [0] * n
    if ctx.n_outputs > 1:
        y, idx = _MAX_POOL[n](x, kernel, strides, begin, dilations, ceil, return_indices=True)
        # ONNX's indices count over the whole tensor (row-major), PyTorch's within a plane
        plane = 1
        for s in x.shape[2:]:
            plane *= s
        nc = ds.arange(x.shape[0] * x.shape[1], device=x.device).reshape([x.shape[0], x.shape[1]] + [1] * n)
        return y, idx + nc * plane
    return _MAX_POOL[n](x, kernel, strides, begin, dilations, ceil)


@register("AveragePool")
def _avg_pool(ins, attrs, ctx):
    x = ins[0]
    kernel = list(attrs["kernel_shape"])
    n = len(kernel)
    _spatial(ctx, x, n)
    strides, dilations, begin, end = _geometry(attrs, x, kernel)
    if any(d != 1 for d in dilations):
        raise ctx.fail(f"dilations {dilations} are not supported for AveragePool")
    ceil = bool(attrs.get("ceil_mode", 0))
    include = bool(attrs.get("count_include_pad", 0))
    pool = _AVG_POOL[n]
    if begin == end and all(2 * p <= k for p, k in zip(begin, kernel)):
        return pool(x, kernel, strides, begin, ceil, include)
    # asymmetric pads: average the zero-padded input, dividing by the real elements counted
    xp = _pad_spatial(x, begin, end)
    y = pool(xp, kernel, strides, 0, ceil, True)
    if include:
        return y
    ones = ds.ones([1, 1] + list(x.shape[2:]), dtype=x.dtype, device=x.device)
    return y / pool(_pad_spatial(ones, begin, end), kernel, strides, 0, ceil, True)


@register("GlobalAveragePool")
def _global_avg_pool(ins, attrs, ctx):
    x = ins[0]
    return ds.mean(x, dim=list(range(2, x.ndim)), keepdim=True)


@register("GlobalMaxPool")
def _global_max_pool(ins, attrs, ctx):
    x = ins[0]
    return ds.amax(x, dim=list(range(2, x.ndim)), keepdim=True)


def _per_channel(t, x):
    return t.reshape([1, -1] + [1] * (x.ndim - 2))


@register("BatchNormalization")
def _batch_norm(ins, attrs, ctx):
    x, scale, bias, mean, var = ins[:5]
    if attrs.get("training_mode", 0):
        raise ctx.fail("training_mode=1 is not supported on import (inference statistics only)")
    eps = attrs.get("epsilon", 1e-5)
    # written out so that gradients reach every input, the statistics included
    inv = ds.rsqrt(_per_channel(var, x) + eps)
    return (x - _per_channel(mean, x)) * inv * _per_channel(scale, x) + _per_channel(bias, x)


@register("LayerNormalization")
def _layer_norm(ins, attrs, ctx):
    x, scale, bias = ins[0], ins[1], arg(ins, 2)
    axis = attrs.get("axis", -1)
    axis = axis + x.ndim if axis < 0 else axis
    eps = attrs.get("epsilon", 1e-5)
    normalized = list(x.shape[axis:])
    if ctx.n_outputs == 1 and list(scale.shape) == normalized and (bias is None or list(bias.shape) == normalized):
        return F.layer_norm(x, normalized, scale, bias, eps)
    dims = list(range(axis, x.ndim))
    mean = ds.mean(x, dim=dims, keepdim=True)
    centered = x - mean
    inv = ds.rsqrt(ds.mean(centered * centered, dim=dims, keepdim=True) + eps)
    y = centered * inv * scale
    if bias is not None:
        y = y + bias
    if attrs.get("stash_type", 1) == 1:  # the statistics are float32 outputs
        mean, inv = mean.to(ds.float32), inv.to(ds.float32)
    return (y, mean, inv)[:ctx.n_outputs]


@register("InstanceNormalization")
def _instance_norm(ins, attrs, ctx):
    x, scale, bias = ins
    return F.instance_norm(x, weight=scale, bias=bias, eps=attrs.get("epsilon", 1e-5))


@register("LpNormalization")
def _lp_norm(ins, attrs, ctx):
    return F.normalize(ins[0], p=float(attrs.get("p", 2)), dim=attrs.get("axis", -1), eps=0.0)


@register("Attention")
def _attention(ins, attrs, ctx):
    """Opset 23's Attention in its 4-D form (query [B, H, L, D], key and value [B, H, S, D]) or
    its 3-D form (query [B, L, H * D], key and value [B, S, H * D], with ``q_num_heads`` =
    ``kv_num_heads`` = H), with an optional boolean (True = attend) or additive mask,
    ``scale`` and ``is_causal``."""
    q, k, v, mask = ins[0], ins[1], ins[2], arg(ins, 3)
    if len(ins) > 4 and any(t is not None for t in ins[4:]) or ctx.n_outputs > 1:
        raise ctx.fail("a past key/value cache and the extra outputs are not supported")
    three = q.ndim == 3 and k.ndim == 3 and v.ndim == 3
    heads = attrs.get("q_num_heads", 0)
    if three:
        if not heads or heads != attrs.get("kv_num_heads", 0) or q.shape[2] % heads or k.shape[2] % heads \
                or v.shape[2] % heads:
            raise ctx.fail(f"3-D query/key/value of shapes {tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)} need "
                           f"q_num_heads = kv_num_heads dividing their last dims (got {heads}, "
                           f"{attrs.get('kv_num_heads', 0)})")

        def split(t):  # [B, L, H * D] -> [B, H, L, D]
            return t.reshape(t.shape[0], t.shape[1], heads, t.shape[2] // heads).permute(0, 2, 1, 3)

        q, k, v = split(q), split(k), split(v)
    if q.ndim != 4 or k.ndim != 4 or v.ndim != 4 or q.shape[1] != k.shape[1]:
        raise ctx.fail(f"query/key/value of shapes {tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}: "
                       "the 3-D or 4-D form with as many key heads as query heads is supported")
    if attrs.get("softcap", 0.0) or attrs.get("qk_matmul_output_mode", 0):
        raise ctx.fail("softcap and qk_matmul_output_mode are not supported")
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=bool(attrs.get("is_causal", 0)),
                                         scale=attrs.get("scale"))
    if three:  # back to [B, L, H * Dv]
        out = out.permute(0, 2, 1, 3)
        out = out.reshape(out.shape[0], out.shape[1], -1)
    return out


del scalar
