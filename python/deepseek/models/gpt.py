"""GPT-2 small with Hugging Face transformers' ``GPT2LMHeadModel`` layout (``transformer.wte``,
``transformer.h.<i>.attn.c_attn`` as [in, out] "Conv1D" weights, ``lm_head`` tied to
``wte``) and KV-cached generation."""
from __future__ import annotations

import math

from .. import _ops
from ..nn import functional as F
from ..nn import init
from ..nn.modules.layers import Dropout, Embedding, LayerNorm, ModuleList
from ..nn.modules.module import Module
from ..nn.parameter import Parameter
from ._generation import GenerationMixin
from ._registry import register_model, token_input
from .bert import Config

GPT2_SMALL = dict(vocab_size=50257, n_positions=1024, n_embd=768, n_layer=12, n_head=12, n_inner=None,
                  layer_norm_epsilon=1e-5, embd_pdrop=0.1, attn_pdrop=0.1, resid_pdrop=0.1, initializer_range=0.02)


class Conv1D(Module):
    """GPT-2's linear layer with a transposed [in, out] weight: x @ weight + bias."""

    def __init__(self, nf, nx):
        super().__init__()
        from .. import empty, zeros

        self.nf = nf
        self.weight = Parameter(empty(nx, nf))
        self.bias = Parameter(zeros(nf))
        init.normal_(self.weight, std=0.02)

    def forward(self, x):
        return _ops.matmul(x, self.weight) + self.bias


class GPT2Attention(Module):
    def __init__(self, c):
        super().__init__()
        self.n_head, self.dim = c.n_head, c.n_embd
        self.c_attn = Conv1D(3 * c.n_embd, c.n_embd)
        self.c_proj = Conv1D(c.n_embd, c.n_embd)
        self.attn_dropout, self.resid_dropout = Dropout(c.attn_pdrop), Dropout(c.resid_pdrop)

    def forward(self, x, past=None):
        b, s, d = x.shape
        hd = d // self.n_head
        q, k, v = self.c_attn(x).split(d, dim=2)

        def heads(t):
            return t.reshape(b, s, self.n_head, hd).permute(0, 2, 1, 3)

        q, k, v = heads(q), heads(k), heads(v)
        if past is not None:
            k, v = _ops.cat([past[0], k], 2), _ops.cat([past[1], v], 2)
        ctx = _causal_attention(q, k, v, self.attn_dropout.p if self.training else 0.0)
        out = self.resid_dropout(self.c_proj(ctx.permute(0, 2, 1, 3).reshape(b, s, d)))
        return out, (k, v)


def _causal_attention(q, k, v, dropout_p=0.0):
    """Attention where query i (the last ``q.shape[-2]`` positions of ``k``) sees keys <= i."""
    from .. import arange

    s, t = q.shape[-2], k.shape[-2]
    if s == 1:  # one new token: it sees every cached position
        return F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p)
    keep = arange(t).unsqueeze(0) <= (arange(s) + (t - s)).unsqueeze(1)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=keep, dropout_p=dropout_p)


class GPT2MLP(Module):
    def __init__(self, c):
        super().__init__()
        inner = c.n_inner or 4 * c.n_embd
        self.c_fc = Conv1D(inner, c.n_embd)
        self.c_proj = Conv1D(c.n_embd, inner)
        self.dropout = Dropout(c.resid_pdrop)

    def forward(self, x):
        return self.dropout(self.c_proj(F.gelu(self.c_fc(x), approximate="tanh")))


class GPT2Block(Module):
    def __init__(self, c):
        super().__init__()
        self.ln_1 = LayerNorm(c.n_embd, eps=c.layer_norm_epsilon)
        self.attn = GPT2Attention(c)
        self.ln_2 = LayerNorm(c.n_embd, eps=c.layer_norm_epsilon)
        self.mlp = GPT2MLP(c)

    def forward(self, x, past=None):
        a, present = self.attn(self.ln_1(x), past)
        x = x + a
        return x + self.mlp(self.ln_2(x)), present


class GPT2Model(Module):
    def __init__(self, c):
        super().__init__()
        self.wte = Embedding(c.vocab_size, c.n_embd)
        self.wpe = Embedding(c.n_positions, c.n_embd)
        self.drop = Dropout(c.embd_pdrop)
        self.h = ModuleList([GPT2Block(c) for _ in range(c.n_layer)])
        self.ln_f = LayerNorm(c.n_embd, eps=c.layer_norm_epsilon)


class GPT2LMHeadModel(GenerationMixin, Module):
    """GPT2LMHeadModel(config); ``forward(input_ids, past_key_values=None, use_cache=False)``
    -> (logits [batch, seq, vocab], past_key_values or None)."""

    def __init__(self, config):
        super().__init__()
        c = self.config = Config(config)
        self.transformer = GPT2Model(c)
        for m in self.modules():
            if isinstance(m, Embedding):
                init.normal_(m.weight, std=c.initializer_range)
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):  # residual projections scaled by depth, as GPT-2
                init.normal_(p, std=c.initializer_range / math.sqrt(2 * c.n_layer))
        self.lm_head = _TiedHead(self.transformer.wte)

    def forward(self, input_ids, past_key_values=None, use_cache=False):
        from .. import arange, int64

        t = self.transformer
        start = 0 if past_key_values is None else past_key_values[0][0].shape[2]
        s = input_ids.shape[1]
        if start + s > t.wpe.num_embeddings:
            raise ValueError(f"GPT-2: {start + s} positions exceed n_positions={t.wpe.num_embeddings}")
        pos = arange(start, start + s, dtype=int64).unsqueeze(0)
        x = t.drop(t.wte(input_ids) + t.wpe(pos))
        presents = []
        for i, block in enumerate(t.h):
            x, present = block(x, None if past_key_values is None else past_key_values[i])
            presents.append(present)
        logits = self.lm_head(t.ln_f(x))
        return logits, (presents if use_cache else None)


class _TiedHead(Module):
    """The output projection sharing the token embedding matrix (``lm_head.weight`` is
    ``transformer.wte.weight``, both in the state_dict as in the reference)."""

    def __init__(self, embedding):
        super().__init__()
        self.weight = embedding.weight

    def forward(self, x):
        return F.linear(x, self.weight)


@register_model("text-generation", token_input(128, 50257), "transformers.GPT2LMHeadModel")
def gpt2(**config):
    """GPT-2 small (124.4M parameters, lm_head tied to wte); keyword arguments override the config."""
    return GPT2LMHeadModel(dict(GPT2_SMALL, **config))
