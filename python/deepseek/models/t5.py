"""T5-small with Hugging Face transformers' ``T5ForConditionalGeneration`` layout
(``shared``, ``encoder.block.<i>.layer.<j>``, ``relative_attention_bias`` in the first block of
each stack, tied ``lm_head``): RMS layer norms without bias, unscaled attention with bucketed
relative position biases, ReLU feed-forward; ``generate`` decodes with a self-attention cache."""
from __future__ import annotations

import math

from .. import _ops
from ..nn import functional as F
from ..nn import init
from ..nn.modules.layers import Dropout, Embedding, Linear, ModuleList
from ..nn.modules.module import Module
from ..nn.parameter import Parameter
from ._registry import register_model, seq2seq_input
from .bert import Config, _Named

T5_SMALL = dict(vocab_size=32128, d_model=512, d_kv=64, d_ff=2048, num_layers=6, num_decoder_layers=6, num_heads=8,
                relative_attention_num_buckets=32, relative_attention_max_distance=128, dropout_rate=0.1,
                layer_norm_epsilon=1e-6, initializer_factor=1.0, decoder_start_token_id=0, eos_token_id=1)


class T5LayerNorm(Module):
    """Scale-only RMS norm (no mean subtraction, no bias), computed in float32."""

    def __init__(self, d, eps=1e-6):
        super().__init__()
        from .. import ones

        self.weight = Parameter(ones(d))
        self.eps = eps

    def forward(self, x):
        var = (x.float() * x.float()).mean(-1, keepdim=True)
        return self.weight * (x * _ops.rsqrt(var + self.eps)).to(x.dtype)


def relative_position_bucket(rel, bidirectional, num_buckets, max_distance):
    """Bucket of each key-minus-query offset: exact for small offsets, logarithmic up to
    ``max_distance``; both signs get their own half of the buckets when ``bidirectional``."""
    import numpy as np

    rel = np.asarray(rel, dtype=np.int64)
    buckets = np.zeros_like(rel)
    if bidirectional:
        num_buckets //= 2
        buckets += (rel > 0).astype(np.int64) * num_buckets
        rel = np.abs(rel)
    else:
        rel = -np.minimum(rel, 0)
    max_exact = num_buckets // 2
    with np.errstate(divide="ignore"):
        large = max_exact + (np.log(np.maximum(rel, 1) / max_exact) / math.log(max_distance / max_exact)
                             * (num_buckets - max_exact)).astype(np.int64)
    large = np.minimum(large, num_buckets - 1)
    return buckets + np.where(rel < max_exact, rel, large)


class T5Attention(Module):
    def __init__(self, c, has_relative_attention_bias=False, bidirectional=True):
        super().__init__()
        inner = c.num_heads * c.d_kv
        self.n_heads, self.d_kv, self.bidirectional = c.num_heads, c.d_kv, bidirectional
        self.num_buckets, self.max_distance = c.relative_attention_num_buckets, c.relative_attention_max_distance
        self.q = Linear(c.d_model, inner, bias=False)
        self.k = Linear(c.d_model, inner, bias=False)
        self.v = Linear(c.d_model, inner, bias=False)
        self.o = Linear(inner, c.d_model, bias=False)
        self.dropout = c.dropout_rate
        if has_relative_attention_bias:
            self.relative_attention_bias = Embedding(self.num_buckets, self.n_heads)

    def compute_bias(self, q_len, k_len, offset=0):
        """[1, heads, q_len, k_len] additive bias; queries sit at offset .. offset + q_len - 1."""
        import numpy as np

        from .. import int64, tensor

        rel = np.arange(k_len)[None, :] - (np.arange(q_len) + offset)[:, None]
        b = tensor(relative_position_bucket(rel, self.bidirectional, self.num_buckets, self.max_distance), dtype=int64)
        return self.relative_attention_bias(b).permute(2, 0, 1).unsqueeze(0)

    def forward(self, x, kv=None, bias=None, past=None):
        b, s, _ = x.shape

        def heads(t):
            return t.reshape(b, t.shape[1], self.n_heads, self.d_kv).permute(0, 2, 1, 3)

        src = x if kv is None else kv
        q, k, v = heads(self.q(x)), heads(self.k(src)), heads(self.v(src))
        if past is not None:
            k, v = _ops.cat([past[0], k], 2), _ops.cat([past[1], v], 2)
        scores = q @ k.transpose(-2, -1)  # T5 does not scale by 1/sqrt(d)
        if bias is not None:
            scores = scores + bias
        w = F.dropout(F.softmax(scores.float(), dim=-1).to(scores.dtype), self.dropout, self.training)
        out = (w @ v).permute(0, 2, 1, 3).reshape(b, s, -1)
        return self.o(out), (k, v)


class _FF(Module):
    def __init__(self, c):
        super().__init__()
        self.DenseReluDense = _Named(wi=Linear(c.d_model, c.d_ff, bias=False), wo=Linear(c.d_ff, c.d_model, bias=False),
                                     dropout=Dropout(c.dropout_rate))
        self.layer_norm = T5LayerNorm(c.d_model, c.layer_norm_epsilon)
        self.dropout = Dropout(c.dropout_rate)

    def forward(self, x):
        d = self.DenseReluDense
        return x + self.dropout(d.wo(d.dropout(F.relu(d.wi(self.layer_norm(x))))))


class _AttnLayer(Module):
    def __init__(self, c, kind, has_bias=False, bidirectional=True):
        super().__init__()
        self.add_module(kind, T5Attention(c, has_bias, bidirectional))
        self.kind = kind
        self.layer_norm = T5LayerNorm(c.d_model, c.layer_norm_epsilon)
        self.dropout = Dropout(c.dropout_rate)

    def forward(self, x, kv=None, bias=None, past=None):
        out, present = self._modules[self.kind](self.layer_norm(x), kv, bias, past)
        return x + self.dropout(out), present


class T5Block(Module):
    def __init__(self, c, decoder, has_bias):
        super().__init__()
        layers = [_AttnLayer(c, "SelfAttention", has_bias, bidirectional=not decoder)]
        if decoder:
            layers.append(_AttnLayer(c, "EncDecAttention"))
        layers.append(_FF(c))
        self.layer = ModuleList(layers)


class T5Stack(Module):
    def __init__(self, c, embed, decoder):
        super().__init__()
        self.embed_tokens = embed
        self.is_decoder = decoder
        n = c.num_decoder_layers if decoder else c.num_layers
        self.block = ModuleList([T5Block(c, decoder, i == 0) for i in range(n)])
        self.final_layer_norm = T5LayerNorm(c.d_model, c.layer_norm_epsilon)
        self.dropout = Dropout(c.dropout_rate)

    def forward(self, ids, mask=None, enc=None, enc_mask=None, past=None):
        import math as _m

        b, s = ids.shape
        offset = 0 if past is None else past[0][0].shape[2]
        x = self.dropout(self.embed_tokens(ids))
        attn0 = self.block[0].layer[0].SelfAttention
        bias = attn0.compute_bias(s, s + offset, offset)
        if self.is_decoder:  # causal: key j visible to query i when j <= i
            from .. import arange

            causal = arange(s + offset).unsqueeze(0) <= (arange(s) + offset).unsqueeze(1)
            bias = _ops.masked_fill(bias, ~causal, -_m.inf)
        if mask is not None:
            bias = bias + (1.0 - mask.float()).reshape(b, 1, 1, -1) * -1e9
        cross = None if enc_mask is None else (1.0 - enc_mask.float()).reshape(b, 1, 1, -1) * -1e9
        presents = []
        for i, blk in enumerate(self.block):
            x, present = blk.layer[0](x, bias=bias, past=None if past is None else past[i])
            presents.append(present)
            if self.is_decoder:
                x, _ = blk.layer[1](x, kv=enc, bias=cross)
            x = blk.layer[-1](x)
        return self.dropout(self.final_layer_norm(x)), presents


class T5ForConditionalGeneration(Module):
    """T5ForConditionalGeneration(config); ``forward(input_ids, decoder_input_ids,
    attention_mask=None)`` -> logits [batch, target, vocab]."""

    def __init__(self, config):
        super().__init__()
        c = self.config = Config(config)
        self.shared = Embedding(c.vocab_size, c.d_model)
        self.encoder = T5Stack(c, self.shared, decoder=False)
        self.decoder = T5Stack(c, self.shared, decoder=True)
        self.lm_head = Linear(c.d_model, c.vocab_size, bias=False)
        self.lm_head.weight = self.shared.weight
        f = c.initializer_factor
        init.normal_(self.shared.weight, std=f)
        for m in self.modules():
            if isinstance(m, T5Attention):
                init.normal_(m.q.weight, std=f * (c.d_model * c.d_kv) ** -0.5)
                for lin in (m.k, m.v):
                    init.normal_(lin.weight, std=f * c.d_model ** -0.5)
                init.normal_(m.o.weight, std=f * (c.num_heads * c.d_kv) ** -0.5)
                if hasattr(m, "relative_attention_bias"):
                    init.normal_(m.relative_attention_bias.weight, std=f * c.d_model ** -0.5)
            elif isinstance(m, _FF):
                init.normal_(m.DenseReluDense.wi.weight, std=f * c.d_model ** -0.5)
                init.normal_(m.DenseReluDense.wo.weight, std=f * c.d_ff ** -0.5)

    def _logits(self, h):
        return self.lm_head(h * (self.config.d_model ** -0.5))  # tied head: rescaled as T5 does

    def forward(self, input_ids, decoder_input_ids, attention_mask=None):
        enc, _ = self.encoder(input_ids, attention_mask)
        dec, _ = self.decoder(decoder_input_ids, enc=enc, enc_mask=attention_mask)
        return self._logits(dec)

    def generate(self, input_ids, max_new_tokens=20, attention_mask=None, use_cache=True):
        """Greedy decoding from ``decoder_start_token_id`` (stops when every row emitted
        ``eos_token_id``); returns the decoder tokens [batch, 1 + new]."""
        from .. import full, int64, no_grad

        was = self.training
        self.eval()
        try:
            with no_grad():
                enc, _ = self.encoder(input_ids, attention_mask)
                out = full((input_ids.shape[0], 1), self.config.decoder_start_token_id, dtype=int64)
                past, done = None, None
                for _ in range(max_new_tokens):
                    if use_cache:
                        h, past = self.decoder(out[:, -1:], enc=enc, enc_mask=attention_mask, past=past)
                    else:
                        h, _ = self.decoder(out, enc=enc, enc_mask=attention_mask)
                    nxt = self._logits(h[:, -1:]).argmax(-1)
                    if done is not None:
                        nxt = _ops.where(done, self.config.eos_token_id, nxt)
                    done = (nxt == self.config.eos_token_id) if done is None else done | (nxt == self.config.eos_token_id)
                    out = _ops.cat([out, nxt], 1)
                    if bool(done.all()):
                        break
        finally:
            self.train(was)
        return out


@register_model("text-generation", seq2seq_input(128, 128, 32128), "transformers.T5ForConditionalGeneration")
def t5_small(**config):
    """T5-small encoder-decoder (60.5M parameters, head tied to the embedding); keyword
    arguments override the config."""
    return T5ForConditionalGeneration(dict(T5_SMALL, **config))
