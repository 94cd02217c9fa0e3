"""``nn.functional.multi_head_attention_forward``: the functional form of
``nn.MultiheadAttention`` with PyTorch's arguments (separate or packed projections, bias_k /
bias_v, add_zero_attn, static keys and values, boolean or additive masks)."""
from __future__ import annotations

import math

from .. import _core, _creation, _ops
from . import functional as _F


def _pad_mask(mask, n):
    """A mask with ``n`` more key columns that mask nothing."""
    if mask is None:
        return None
    pads = [0, n] + [0, 0] * (mask.ndim - 1)
    return _ops.pad(mask, pads, value=False if mask.dtype.name == "bool" else 0.0)


def multi_head_attention_forward(query, key, value, embed_dim_to_check, num_heads, in_proj_weight, in_proj_bias,
                                 bias_k, bias_v, add_zero_attn, dropout_p, out_proj_weight, out_proj_bias, training=True,
                                 key_padding_mask=None, need_weights=True, attn_mask=None, use_separate_proj_weight=False,
                                 q_proj_weight=None, k_proj_weight=None, v_proj_weight=None, static_k=None, static_v=None,
                                 average_attn_weights=True, is_causal=False):
    """multi_head_attention_forward(query [L, N, E] or [L, E], key, value, embed_dim_to_check,
    num_heads, in_proj_weight, in_proj_bias, bias_k, bias_v, add_zero_attn, dropout_p,
    out_proj_weight, out_proj_bias, training=True, key_padding_mask=None, need_weights=True,
    attn_mask=None, use_separate_proj_weight=False, q_proj_weight=None, k_proj_weight=None,
    v_proj_weight=None, static_k=None, static_v=None, average_attn_weights=True, is_causal=False)
    -> (attn_output, attn_weights or None)."""
    batched = query.ndim == 3
    if not batched:
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    L, N, E = query.shape
    if E != embed_dim_to_check:
        raise AssertionError(f"was expecting embedding dimension of {embed_dim_to_check}, but got {E}")
    H = num_heads
    if E % H:
        raise AssertionError(f"embed_dim {E} not divisible by num_heads {H}")
    D = E // H
    if use_separate_proj_weight:
        if q_proj_weight is None or k_proj_weight is None or v_proj_weight is None:
            raise AssertionError("use_separate_proj_weight is True but q_proj_weight, k_proj_weight or v_proj_weight is None")
        wq, wk, wv = q_proj_weight, k_proj_weight, v_proj_weight
    else:
        if in_proj_weight is None:
            raise AssertionError("use_separate_proj_weight is False but in_proj_weight is None")
        wq, wk, wv = in_proj_weight[:E], in_proj_weight[E:2 * E], in_proj_weight[2 * E:]
    b = in_proj_bias
    bq, bk, bv = (b[:E], b[E:2 * E], b[2 * E:]) if b is not None else (None, None, None)
    q = _F.linear(query, wq, bq)
    k = _F.linear(key, wk, bk) if static_k is None else None
    v = _F.linear(value, wv, bv) if static_v is None else None
    if is_causal and attn_mask is None:
        S0 = key.shape[0]
        attn_mask = ~_ops.tril(_core.full([L, S0], True, "bool", query._device))
    if bias_k is not None and bias_v is not None:
        if static_k is not None or static_v is not None:
            raise AssertionError("bias cannot be added to static key/value.")
        k = _ops.cat([k, bias_k.reshape(1, 1, E).expand(1, N, E)], 0)
        v = _ops.cat([v, bias_v.reshape(1, 1, E).expand(1, N, E)], 0)
        attn_mask, key_padding_mask = _pad_mask(attn_mask, 1), _pad_mask(key_padding_mask, 1)
    # (S, N, E) -> (N * H, S, D), or the given static (N * H, S, D)
    q = q.reshape(L, N * H, D).transpose(0, 1)
    k = static_k if static_k is not None else k.reshape(k.shape[0], N * H, D).transpose(0, 1)
    v = static_v if static_v is not None else v.reshape(v.shape[0], N * H, D).transpose(0, 1)
    if add_zero_attn:
        k = _ops.cat([k, _creation.zeros(N * H, 1, D, dtype=k.dtype, device=k.device)], 1)
        v = _ops.cat([v, _creation.zeros(N * H, 1, D, dtype=v.dtype, device=v.device)], 1)
        attn_mask, key_padding_mask = _pad_mask(attn_mask, 1), _pad_mask(key_padding_mask, 1)
    S = k.shape[1]
    scores = _core.matmul(q, k.transpose(1, 2)).reshape(N, H, L, S)
    am = None if attn_mask is None else (attn_mask if attn_mask.ndim == 2 else attn_mask.reshape(N, H, L, S))
    kpm = None if key_padding_mask is None else key_padding_mask.reshape(N, 1, 1, S)
    # boolean masks mark what to drop (True = masked), as PyTorch's
    w = _F._attention_weights(scores, 1.0 / math.sqrt(D), [(am, True), (kpm, True)]).to(v.dtype)
    if dropout_p > 0 and training:
        w = _F.dropout(w, dropout_p)
    out = _core.matmul(w.reshape(N * H, L, S), v)  # N*H, L, D
    out = out.transpose(0, 1).reshape(L, N, E)
    out = _F.linear(out, out_proj_weight, out_proj_bias)
    weights = None
    if need_weights:
        weights = w.mean(dim=1) if average_attn_weights else w
        if not batched:
            weights = weights.squeeze(0)
    if not batched:
        out = out.squeeze(1)
    return out, weights


__all__ = ["multi_head_attention_forward"]
