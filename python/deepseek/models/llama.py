"""A LLaMA-style decoder with Hugging Face transformers' ``LlamaForCausalLM`` layout: RMSNorm,
rotary position embeddings (``rotate_half`` convention), SwiGLU MLP, grouped-query attention
(fewer key/value heads than query heads) and KV-cached generation."""
from __future__ import annotations

from .. import _ops
from ..nn import functional as F
from ..nn.modules.layers import Embedding, Linear, ModuleList, RMSNorm
from ..nn.modules.module import Module
from ._generation import GenerationMixin
from ._registry import register_model, token_input
from .bert import Config, _init_hf
from .gpt import _causal_attention

LLAMA_SMALL = dict(vocab_size=32000, hidden_size=512, intermediate_size=1376, num_hidden_layers=8,
                   num_attention_heads=8, num_key_value_heads=2, max_position_embeddings=2048, rms_norm_eps=1e-6,
                   rope_theta=10000.0, initializer_range=0.02, tie_word_embeddings=False)


def _rope_tables(positions, dim, theta):
    """cos and sin [len, dim] for the given positions (frequency i repeated in both halves)."""
    from .. import arange, float32

    inv_freq = 1.0 / (theta ** (arange(0, dim, 2, dtype=float32) / dim))
    freqs = positions.to(float32).unsqueeze(1) * inv_freq.unsqueeze(0)
    emb = _ops.cat([freqs, freqs], -1)
    return emb.cos(), emb.sin()


def _rotate_half(x):
    h = x.shape[-1] // 2
    return _ops.cat([-x[..., h:], x[..., :h]], -1)


def apply_rotary(x, cos, sin):
    """Rotates each (i, i + d/2) pair of ``x`` [batch, heads, seq, d] by its position's angle."""
    return x * cos + _rotate_half(x) * sin


class LlamaAttention(Module):
    def __init__(self, c):
        super().__init__()
        h = c.hidden_size
        self.n_head, self.n_kv = c.num_attention_heads, c.num_key_value_heads
        if self.n_head % self.n_kv:
            raise ValueError(f"num_attention_heads ({self.n_head}) must be a multiple of num_key_value_heads ({self.n_kv})")
        self.hd = h // self.n_head
        self.q_proj = Linear(h, self.n_head * self.hd, bias=False)
        self.k_proj = Linear(h, self.n_kv * self.hd, bias=False)
        self.v_proj = Linear(h, self.n_kv * self.hd, bias=False)
        self.o_proj = Linear(self.n_head * self.hd, h, bias=False)

    def forward(self, x, cos, sin, past=None):
        b, s, _ = x.shape
        q = self.q_proj(x).reshape(b, s, self.n_head, self.hd).permute(0, 2, 1, 3)
        k = self.k_proj(x).reshape(b, s, self.n_kv, self.hd).permute(0, 2, 1, 3)
        v = self.v_proj(x).reshape(b, s, self.n_kv, self.hd).permute(0, 2, 1, 3)
        q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
        if past is not None:
            k, v = _ops.cat([past[0], k], 2), _ops.cat([past[1], v], 2)
        present = (k, v)
        rep = self.n_head // self.n_kv
        if rep > 1:  # each key/value head serves ``rep`` query heads
            k, v = k.repeat_interleave(rep, dim=1), v.repeat_interleave(rep, dim=1)
        ctx = _causal_attention(q, k, v)
        return self.o_proj(ctx.permute(0, 2, 1, 3).reshape(b, s, -1)), present


class LlamaMLP(Module):
    """SwiGLU: down(silu(gate(x)) * up(x))."""

    def __init__(self, c):
        super().__init__()
        self.gate_proj = Linear(c.hidden_size, c.intermediate_size, bias=False)
        self.up_proj = Linear(c.hidden_size, c.intermediate_size, bias=False)
        self.down_proj = Linear(c.intermediate_size, c.hidden_size, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class LlamaDecoderLayer(Module):
    def __init__(self, c):
        super().__init__()
        self.self_attn = LlamaAttention(c)
        self.mlp = LlamaMLP(c)
        self.input_layernorm = RMSNorm(c.hidden_size, eps=c.rms_norm_eps)
        self.post_attention_layernorm = RMSNorm(c.hidden_size, eps=c.rms_norm_eps)

    def forward(self, x, cos, sin, past=None):
        a, present = self.self_attn(self.input_layernorm(x), cos, sin, past)
        x = x + a
        return x + self.mlp(self.post_attention_layernorm(x)), present


class LlamaModel(Module):
    def __init__(self, c):
        super().__init__()
        self.embed_tokens = Embedding(c.vocab_size, c.hidden_size)
        self.layers = ModuleList([LlamaDecoderLayer(c) for _ in range(c.num_hidden_layers)])
        self.norm = RMSNorm(c.hidden_size, eps=c.rms_norm_eps)


class LlamaForCausalLM(GenerationMixin, Module):
    """LlamaForCausalLM(config); ``forward(input_ids, past_key_values=None, use_cache=False)``
    -> (logits [batch, seq, vocab], past_key_values or None)."""

    def __init__(self, config):
        super().__init__()
        c = self.config = Config(config)
        if c.hidden_size % c.num_attention_heads:
            raise ValueError("hidden_size must be divisible by num_attention_heads")
        self.model = LlamaModel(c)
        self.lm_head = Linear(c.hidden_size, c.vocab_size, bias=False)
        _init_hf(self, c.initializer_range)

    def forward(self, input_ids, past_key_values=None, use_cache=False):
        from .. import arange, int64

        c = self.config
        start = 0 if past_key_values is None else past_key_values[0][0].shape[2]
        s = input_ids.shape[1]
        if start + s > c.max_position_embeddings:
            raise ValueError(f"LLaMA: {start + s} positions exceed max_position_embeddings={c.max_position_embeddings}")
        cos, sin = _rope_tables(arange(start, start + s, dtype=int64), c.hidden_size // c.num_attention_heads, c.rope_theta)
        x = self.model.embed_tokens(input_ids)
        presents = []
        for i, layer in enumerate(self.model.layers):
            x, present = layer(x, cos, sin, None if past_key_values is None else past_key_values[i])
            presents.append(present)
        return self.lm_head(self.model.norm(x)), (presents if use_cache else None)


@register_model("text-generation", token_input(128, 32000), "transformers.LlamaForCausalLM")
def llama_small(**config):
    """A small LLaMA-style decoder (8 layers, width 512, 8 query / 2 key-value heads, 52M
    parameters); keyword arguments override the config (e.g. a TinyLlama-1.1B shape)."""
    return LlamaForCausalLM(dict(LLAMA_SMALL, **config))
