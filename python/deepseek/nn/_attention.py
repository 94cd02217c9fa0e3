"""Attention in ``nn.functional``: scaled_dot_product_attention, the masked softmax weights
(the core's fused kernel on the CPU) and the fused bias + GELU; re-exported by ``nn.functional``."""
from __future__ import annotations

import math

from .. import _core, _ops
from .functional import _lowp, dropout, gelu, softmax


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, enable_gqa=False):
    """softmax(q k^T * scale + mask) v, with a boolean (True = keep) or additive mask; a row
    that keeps nothing gives zeros, as PyTorch's. For float32/float64 CPU tensors the scale,
    the masks and the softmax are one fused kernel that saves only the probabilities."""
    query, key, value = _lowp(query, key, value)
    L, S = query.shape[-2], key.shape[-2]
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    scores = _core.matmul(query, key.mT)
    w = _attention_weights(scores, scale, [(attn_mask, False)], is_causal, safe=True).to(value.dtype)
    if dropout_p > 0.0:
        w = dropout(w, dropout_p)
    return _core.matmul(w, value)


class _Unfusable(Exception):
    pass


def _merged_mask(scores, masks):
    """The masks as one tensor for the fused kernel: boolean (True keeps) when all are boolean,
    else additive in the scores' dtype; None without masks. Raises _Unfusable when the kernel
    cannot take them (another device or dtype, or a mask that would broadcast the scores up)."""
    merged = None
    if any(m.dtype.name != "bool" for m, _ in masks):
        for m, drop in masks:
            if m.dtype.name == "bool":
                keep = m if not drop else ~m
                m = _ops.where(keep, _core.zeros([], scores._dtype, None), _core.full([], -math.inf, scores._dtype, None))
            if m._dtype != scores._dtype:
                raise _Unfusable
            merged = m if merged is None else merged + m
    else:
        for m, drop in masks:
            keep = ~m if drop else m
            merged = keep if merged is None else merged & keep
    if merged is not None and (not _ops._fused_bool_or_float(merged) or merged.ndim > scores.ndim
                               or tuple(_ops.broadcast_shapes(merged.shape, scores.shape)) != tuple(scores.shape)):
        raise _Unfusable
    return merged


def _attention_weights(scores, scale, masks=(), is_causal=False, safe=False):
    """softmax(scores * scale + masks) over the last dim. ``masks``: (mask, drop) pairs; a
    boolean mask removes the scores where it equals ``drop`` (True for nn.MultiheadAttention's
    masks, False for scaled_dot_product_attention's), a float mask is added. ``is_causal`` keeps
    column j <= row i; ``safe`` gives zeros for a row with nothing kept (else NaN, as softmax)."""
    masks = [(m, drop) for m, drop in masks if m is not None]
    if _ops._fused_float(scores):
        try:
            merged = _merged_mask(scores, masks)
        except _Unfusable:
            pass
        else:
            return _core.scaled_masked_softmax(scores, merged, float(scale), bool(is_causal), bool(safe))
    scores = scores * scale
    L, S = scores.shape[-2], scores.shape[-1]
    if is_causal:
        causal = _ops.tril(_core.full([L, S], True, "bool", scores._device))
        scores = _ops.masked_fill(scores, ~causal, -math.inf)
    for m, drop in masks:
        if m.dtype.name == "bool":
            scores = _ops.masked_fill(scores, m if drop else ~m, -math.inf)
        else:
            scores = scores + m
    w = softmax(scores, dim=-1)
    if safe and masks or safe and is_causal:
        w = _ops.where(_ops.isnan(w), _core.zeros([], w._dtype, w._device), w)
    return w


def bias_gelu(input, bias, approximate="none"):
    """bias_gelu(input, bias, approximate='none') -> Tensor

    ``gelu(input + bias)`` with ``bias`` over the last dim: the bias add of a Linear layer and
    the GELU after it as one fused kernel each way for float32/float64 CPU tensors (deepseek's
    own; the Transformer layers call it for ``activation="gelu"``). ``approximate`` as in
    :func:`gelu`; ``bias=None`` is plain :func:`gelu`.

        >>> x, b = deepseek.randn(4, 8), deepseek.randn(8)
        >>> deepseek.allclose(F.bias_gelu(x, b), F.gelu(x + b))
        True
    """
    if approximate not in ("none", "tanh"):
        raise ValueError(f"bias_gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    if bias is None:
        return gelu(input, approximate)
    if (_ops._fused_float(input, bias) and bias.ndim == 1 and input.ndim >= 1 and bias._dtype == input._dtype
            and bias.shape[0] == input.shape[-1]):
        return _core.bias_gelu(input, bias, approximate == "tanh")
    return gelu(input + bias, approximate)
