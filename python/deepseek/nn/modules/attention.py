"""Multi-head attention and Transformer encoder/decoder layers."""
from __future__ import annotations

import copy
import math

from ... import _core, _ops
from ... import amp as _amp
from ..._creation import empty, zeros
from .. import functional as F
from .. import init
from ..parameter import Parameter
from .layers import Dropout, LayerNorm, Linear, ModuleList
from .module import Module


class NonDynamicallyQuantizableLinear(Linear):
    pass


class MultiheadAttention(Module):
    """MultiheadAttention(embed_dim, num_heads, dropout=0.0, bias=True, batch_first=False, kdim=None, vdim=None)

    ``forward(query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
    average_attn_weights=True, is_causal=False)`` returns ``(output, weights or None)``,
    with PyTorch's parameter names (``in_proj_weight``, ``out_proj``).
    """

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False, add_zero_attn=False, kdim=None, vdim=None, batch_first=False, device=None, dtype=None):
        super().__init__()
        if embed_dim % num_heads:
            raise AssertionError("embed_dim must be divisible by num_heads")
        self.embed_dim, self.num_heads, self.dropout, self.batch_first = embed_dim, num_heads, dropout, batch_first
        self.head_dim = embed_dim // num_heads
        self.kdim = kdim or embed_dim
        self.vdim = vdim or embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(empty(3 * embed_dim, embed_dim, dtype=dtype))
            self.register_parameter("q_proj_weight", None)
            self.register_parameter("k_proj_weight", None)
            self.register_parameter("v_proj_weight", None)
        else:
            self.q_proj_weight = Parameter(empty(embed_dim, embed_dim, dtype=dtype))
            self.k_proj_weight = Parameter(empty(embed_dim, self.kdim, dtype=dtype))
            self.v_proj_weight = Parameter(empty(embed_dim, self.vdim, dtype=dtype))
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(zeros(3 * embed_dim, dtype=dtype))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = NonDynamicallyQuantizableLinear(embed_dim, embed_dim, bias=bias, dtype=dtype)
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            init.xavier_uniform_(self.q_proj_weight)
            init.xavier_uniform_(self.k_proj_weight)
            init.xavier_uniform_(self.v_proj_weight)
        if bias:
            init.constant_(self.out_proj.bias, 0.0)

    def _self_attention_sdpa(self, x, is_causal):
        """Self-attention without masks or weights: the q/k/v projections of ``x`` in its own
        layout (batch first or not; no transposed copy of the input), heads split and merged by
        views, and one ``scaled_dot_product_attention`` call (so a fused attention kernel
        serves this module too). Three projections rather than one [3E, E] matmul: on ViT-B/16's
        shapes the single wide matmul was not faster (bench/vit_parts.py)."""
        bf = self.batch_first
        n, l = (x.shape[0], x.shape[1]) if bf else (x.shape[1], x.shape[0])
        E, H, D = self.embed_dim, self.num_heads, self.head_dim
        w, b = self.in_proj_weight, self.in_proj_bias

        def heads(i):  # projection i of q/k/v as [N, H, L, D]
            t = F.linear(x, w[i * E:(i + 1) * E], None if b is None else b[i * E:(i + 1) * E])
            return t.reshape(n, l, H, D).transpose(1, 2) if bf else t.reshape(l, n, H, D).permute(1, 2, 0, 3)

        p = self.dropout if self.training else 0.0
        out = F.scaled_dot_product_attention(heads(0), heads(1), heads(2), dropout_p=p, is_causal=is_causal)
        out = out.transpose(1, 2).reshape(n, l, E) if bf else out.permute(2, 0, 1, 3).reshape(l, n, E)
        return self.out_proj(out)

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None, average_attn_weights=True, is_causal=False):
        if (not need_weights and attn_mask is None and key_padding_mask is None and query.ndim == 3
                and query is key and key is value and self._qkv_same_embed_dim and query.shape[-1] == self.embed_dim):
            return self._self_attention_sdpa(query, is_causal), None
        batched = query.ndim == 3
        if not batched:
            query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
            if key_padding_mask is not None:
                key_padding_mask = key_padding_mask.unsqueeze(0)
        elif self.batch_first:
            query, key, value = query.transpose(0, 1), key.transpose(0, 1), value.transpose(0, 1)
        L, N, E = query.shape
        S = key.shape[0]
        if E != self.embed_dim:
            raise AssertionError(f"was expecting embedding dimension of {self.embed_dim}, but got {E}")
        if self._qkv_same_embed_dim:
            w = self.in_proj_weight
            wq, wk, wv = w[:E], w[E : 2 * E], w[2 * E :]
        else:
            wq, wk, wv = self.q_proj_weight, self.k_proj_weight, self.v_proj_weight
        b = self.in_proj_bias
        bq, bk, bv = (b[:E], b[E : 2 * E], b[2 * E :]) if b is not None else (None, None, None)
        q = F.linear(query, wq, bq)
        k = F.linear(key, wk, bk)
        v = F.linear(value, wv, bv)
        H, D = self.num_heads, self.head_dim
        # (L, N, E) -> (N, H, L, D)
        q = q.reshape(L, N, H, D).permute(1, 2, 0, 3)
        k = k.reshape(S, N, H, D).permute(1, 2, 0, 3)
        v = v.reshape(S, N, H, D).permute(1, 2, 0, 3)
        if not need_weights and not (self.dropout > 0 and self.training):
            # the weights are not asked for: one scaled_dot_product_attention call, which
            # deepseek.onnx exports as ONNX's Attention
            m = attn_mask
            if is_causal and m is None:
                m = ~_ops.tril(_core.full([L, S], True, "bool", query._device))
            mask = _sdpa_mask(m, key_padding_mask, N, H, L, S)
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=1.0 / math.sqrt(D))
            return self._project(out, L, N, E, batched), None
        scores = _core.matmul(q, k.mT)
        causal = is_causal and attn_mask is None
        if attn_mask is not None and attn_mask.ndim != 2:
            attn_mask = attn_mask.reshape(N, H, L, S)
        kpm = key_padding_mask.reshape(N, 1, 1, S) if key_padding_mask is not None else None
        # boolean masks here mark what to drop (True = masked), as PyTorch's
        w = F._attention_weights(scores, 1.0 / math.sqrt(D), [(attn_mask, True), (kpm, True)], causal).to(v.dtype)
        if self.dropout > 0 and self.training:
            w = F.dropout(w, self.dropout)
        out = self._project(_core.matmul(w, v), L, N, E, batched)
        weights = None
        if need_weights:
            weights = w.mean(dim=1) if average_attn_weights else w
            if not batched:
                weights = weights.squeeze(0)
        return out, weights

    def _project(self, out, L, N, E, batched):
        """The heads' outputs [N, H, L, D] joined, projected and laid out as the query was."""
        out = self.out_proj(out.permute(2, 0, 1, 3).reshape(L, N, E))
        if not batched:
            return out.squeeze(1)
        return out.transpose(0, 1) if self.batch_first else out


def _sdpa_mask(attn_mask, key_padding_mask, N, H, L, S):
    """MultiheadAttention's masks (boolean: True = masked out; float: added to the scores) as
    one ``scaled_dot_product_attention`` mask (boolean: True = attended; float: added)."""
    masks = []
    if attn_mask is not None:
        masks.append(attn_mask if attn_mask.ndim == 2 else attn_mask.reshape(N, H, L, S))
    if key_padding_mask is not None:
        masks.append(key_padding_mask.reshape(N, 1, 1, S))
    if not masks:
        return None
    if all(m.dtype.name == "bool" for m in masks):
        keep = ~masks[0]
        for m in masks[1:]:
            keep = keep & ~m
        return keep
    dtype = next(m.dtype for m in masks if m.dtype.name != "bool")
    total = None
    for m in masks:
        if m.dtype.name == "bool":
            m = _ops.masked_fill(zeros(*m.shape, dtype=dtype, device=m.device), m, -math.inf)
        total = m if total is None else total + m
    return total


class MultiHeadAttention(MultiheadAttention):
    """Self-attention convenience layer (deepseek's own): ``MultiHeadAttention(embed_dim,
    num_heads)(x)`` returns only the output, with ``batch_first=True`` and key = value = x
    unless given."""

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, batch_first=True, **kwargs):
        super().__init__(embed_dim, num_heads, dropout=dropout, bias=bias, batch_first=batch_first, **kwargs)

    def forward(self, query, key=None, value=None, key_padding_mask=None, attn_mask=None, is_causal=False):
        key = query if key is None else key
        value = key if value is None else value
        out, _ = super().forward(query, key, value, key_padding_mask=key_padding_mask, need_weights=False, attn_mask=attn_mask, is_causal=is_causal)
        return out


def _activation(a):
    if callable(a):
        return a
    if a == "relu":
        return F.relu
    if a == "gelu":
        return F.gelu
    raise RuntimeError(f"activation should be relu/gelu, not {a}")


def _linear_activation(linear, activation, x):
    """activation(linear(x)); for GELU after a biased Linear, the matmul and then the bias add
    and GELU as one fused op (F.bias_gelu) rather than a bias add and a GELU pass."""
    if (activation is F.gelu and linear.bias is not None and not linear._forward_hooks and not linear._forward_pre_hooks
            and _amp._active_dtype() is None and type(linear).forward is Linear.forward):
        return F.bias_gelu(F.linear(x, linear.weight), linear.bias)
    return activation(linear(x))


class TransformerEncoderLayer(Module):
    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu", layer_norm_eps=1e-5, batch_first=False, norm_first=False, bias=True, device=None, dtype=None):
        super().__init__()
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first, dtype=dtype)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, dtype=dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, dtype=dtype)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.activation = _activation(activation)

    def _sa(self, x, mask, kpm, is_causal=False):
        return self.dropout1(self.self_attn(x, x, x, attn_mask=mask, key_padding_mask=kpm, need_weights=False, is_causal=is_causal)[0])

    def _ff(self, x):
        return self.dropout2(self.linear2(self.dropout(_linear_activation(self.linear1, self.activation, x))))

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False):
        x = src
        if self.norm_first:
            x = x + self._sa(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            x = x + self._ff(self.norm2(x))
        else:
            x = self.norm1(x + self._sa(x, src_mask, src_key_padding_mask, is_causal))
            x = self.norm2(x + self._ff(x))
        return x


class TransformerEncoder(Module):
    def __init__(self, encoder_layer, num_layers, norm=None, enable_nested_tensor=True, mask_check=True):
        super().__init__()
        self.layers = ModuleList([copy.deepcopy(encoder_layer) for _ in range(num_layers)])
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, src, mask=None, src_key_padding_mask=None, is_causal=None):
        x = src
        for layer in self.layers:
            x = layer(x, src_mask=mask, src_key_padding_mask=src_key_padding_mask, is_causal=bool(is_causal))
        return self.norm(x) if self.norm is not None else x


class TransformerDecoderLayer(Module):
    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu", layer_norm_eps=1e-5, batch_first=False, norm_first=False, bias=True, device=None, dtype=None):
        super().__init__()
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first)
        self.multihead_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps)
        self.norm3 = LayerNorm(d_model, eps=layer_norm_eps)
        self.dropout1, self.dropout2, self.dropout3 = Dropout(dropout), Dropout(dropout), Dropout(dropout)
        self.activation = _activation(activation)

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None, memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False):
        x = tgt

        def sa(x):
            return self.dropout1(self.self_attn(x, x, x, attn_mask=tgt_mask, key_padding_mask=tgt_key_padding_mask, need_weights=False, is_causal=tgt_is_causal)[0])

        def mha(x):
            return self.dropout2(self.multihead_attn(x, memory, memory, attn_mask=memory_mask, key_padding_mask=memory_key_padding_mask, need_weights=False)[0])

        def ff(x):
            return self.dropout3(self.linear2(self.dropout(_linear_activation(self.linear1, self.activation, x))))

        if self.norm_first:
            x = x + sa(self.norm1(x))
            x = x + mha(self.norm2(x))
            x = x + ff(self.norm3(x))
        else:
            x = self.norm1(x + sa(x))
            x = self.norm2(x + mha(x))
            x = self.norm3(x + ff(x))
        return x
