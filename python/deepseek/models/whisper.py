"""Whisper with Hugging Face transformers' ``WhisperForConditionalGeneration`` layout and
``state_dict`` names: an encoder over log-mel features [batch, num_mel_bins, 2 *
max_source_positions] (two convolutions, fixed sinusoidal positions, pre-LN transformer layers),
a decoder with causal self-attention and cross-attention to the encoder, and the output
projection ``proj_out`` tied to the token embedding. ``generate`` decodes with a KV cache
(the cross-attention keys and values are computed once per utterance).

>>> from deepseek import models
>>> from deepseek.audio import log_mel_spectrogram, pad_or_trim
>>> model = models.whisper_tiny().eval()
>>> feats = log_mel_spectrogram(pad_or_trim(waveform)).unsqueeze(0)   # [1, 80, 3000]
>>> tokens = model.generate(feats, max_new_tokens=20)                 # [1, 1 + new]
"""
from __future__ import annotations

import json
import math
from pathlib import Path

from .. import _ops
from ..nn import functional as F
from ..nn import init
from ..nn.modules.layers import Conv1d, Dropout, Embedding, LayerNorm, Linear, ModuleList
from ..nn.modules.module import Module
from ._generation import GenerationMixin
from ._registry import register_model
from .bert import Config, _act
from .gpt import _TiedHead
from .wav2vec2 import ModelOutput, compute_mask_indices

WHISPER_TINY = dict(
    vocab_size=51865, num_mel_bins=80, d_model=384, encoder_layers=4, decoder_layers=4, encoder_attention_heads=6,
    decoder_attention_heads=6, encoder_ffn_dim=1536, decoder_ffn_dim=1536, max_source_positions=1500,
    max_target_positions=448, decoder_start_token_id=50258, pad_token_id=50257, bos_token_id=50257,
    eos_token_id=50257, dropout=0.0, attention_dropout=0.0, activation_dropout=0.0, activation_function="gelu",
    scale_embedding=False, init_std=0.02, encoder_layerdrop=0.0, decoder_layerdrop=0.0, apply_spec_augment=False,
    mask_time_prob=0.05, mask_time_length=10, mask_time_min_masks=2, mask_feature_prob=0.0, mask_feature_length=10,
    mask_feature_min_masks=0)


class Seq2SeqLMOutput(ModelOutput):
    """(loss, logits [batch, target, vocab], past_key_values, encoder_last_hidden_state); the
    fields that are None are left out of the tuple, so ``out[0]`` is the logits without labels."""

    _fields = ("loss", "logits", "past_key_values", "encoder_last_hidden_state")


def sinusoids(length, channels, max_timescale=10000.0):
    """Whisper's fixed positional table [length, channels]: sines then cosines of
    geometrically spaced timescales."""
    import numpy as np

    if channels % 2:
        raise ValueError(f"sinusoids: channels must be even, got {channels}")
    inc = math.log(max_timescale) / (channels // 2 - 1)
    inv = np.exp(-inc * np.arange(channels // 2, dtype=np.float32))
    t = np.arange(length, dtype=np.float32)[:, None] * inv[None, :]
    return np.concatenate([np.sin(t), np.cos(t)], 1).astype(np.float32)


class WhisperAttention(Module):
    """Multi-head attention (``k_proj`` without bias); self-attention when ``kv`` is None,
    cross-attention otherwise. ``past`` holds this layer's cached (keys, values)."""

    def __init__(self, dim, heads, dropout=0.0):
        super().__init__()
        if dim % heads:
            raise ValueError(f"WhisperAttention: d_model {dim} is not divisible by {heads} heads")
        self.heads, self.head_dim, self.dropout = heads, dim // heads, dropout
        self.k_proj = Linear(dim, dim, bias=False)
        self.v_proj, self.q_proj, self.out_proj = Linear(dim, dim), Linear(dim, dim), Linear(dim, dim)

    def _split(self, t):
        b, s, _ = t.shape
        return t.reshape(b, s, self.heads, self.head_dim).permute(0, 2, 1, 3)

    def forward(self, x, kv=None, past=None, causal=False):
        b, s, d = x.shape
        q = self._split(self.q_proj(x) * self.head_dim ** -0.5)  # scaled before the product, as Whisper
        p = self.dropout if self.training else 0.0
        if kv is not None and past is not None:  # cross-attention: the encoder's keys never change
            k, v = past
        else:
            src = x if kv is None else kv
            k, v = self._split(self.k_proj(src)), self._split(self.v_proj(src))
            if kv is None and past is not None:
                k, v = _ops.cat([past[0], k], 2), _ops.cat([past[1], v], 2)
        mask = None
        if causal and s > 1:  # new query i (after the cached ones) sees keys up to its own position
            from .. import arange

            t = k.shape[2]
            mask = arange(t).unsqueeze(0) <= (arange(s) + (t - s)).unsqueeze(1)
        ctx = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p, scale=1.0)
        return self.out_proj(ctx.permute(0, 2, 1, 3).reshape(b, s, d)), (k, v)


class WhisperEncoderLayer(Module):
    def __init__(self, c):
        super().__init__()
        d = c.d_model
        self.self_attn = WhisperAttention(d, c.encoder_attention_heads, c.attention_dropout)
        self.self_attn_layer_norm = LayerNorm(d)
        self.fc1, self.fc2 = Linear(d, c.encoder_ffn_dim), Linear(c.encoder_ffn_dim, d)
        self.final_layer_norm = LayerNorm(d)
        self.dropout, self.act_dropout = Dropout(c.dropout), Dropout(c.activation_dropout)
        self.act = _act(c.activation_function)

    def forward(self, x):
        x = x + self.dropout(self.self_attn(self.self_attn_layer_norm(x))[0])
        h = self.act_dropout(self.act(self.fc1(self.final_layer_norm(x))))
        return x + self.dropout(self.fc2(h))


class WhisperDecoderLayer(Module):
    def __init__(self, c):
        super().__init__()
        d = c.d_model
        self.self_attn = WhisperAttention(d, c.decoder_attention_heads, c.attention_dropout)
        self.self_attn_layer_norm = LayerNorm(d)
        self.encoder_attn = WhisperAttention(d, c.decoder_attention_heads, c.attention_dropout)
        self.encoder_attn_layer_norm = LayerNorm(d)
        self.fc1, self.fc2 = Linear(d, c.decoder_ffn_dim), Linear(c.decoder_ffn_dim, d)
        self.final_layer_norm = LayerNorm(d)
        self.dropout, self.act_dropout = Dropout(c.dropout), Dropout(c.activation_dropout)
        self.act = _act(c.activation_function)

    def forward(self, x, enc, past=None):
        a, self_kv = self.self_attn(self.self_attn_layer_norm(x), past=None if past is None else past[:2], causal=True)
        x = x + self.dropout(a)
        a, cross_kv = self.encoder_attn(self.encoder_attn_layer_norm(x), kv=enc, past=None if past is None else past[2:])
        x = x + self.dropout(a)
        h = self.act_dropout(self.act(self.fc1(self.final_layer_norm(x))))
        return x + self.dropout(self.fc2(h)), self_kv + cross_kv


def _layerdrop(module, p):
    from .. import rand

    return module.training and p > 0.0 and float(rand(1)) < p


class WhisperEncoder(Module):
    """log-mel [batch, num_mel_bins, 2 * max_source_positions] -> [batch, max_source_positions,
    d_model]: conv (GELU), stride-2 conv (GELU), + fixed sinusoids, layers, LayerNorm."""

    def __init__(self, c):
        super().__init__()
        d = c.d_model
        self.conv1 = Conv1d(c.num_mel_bins, d, 3, padding=1)
        self.conv2 = Conv1d(d, d, 3, stride=2, padding=1)
        self.embed_positions = Embedding(c.max_source_positions, d)
        self.embed_positions.weight.requires_grad_(False)  # fixed sinusoids, as Whisper
        self.layers = ModuleList([WhisperEncoderLayer(c) for _ in range(c.encoder_layers)])
        self.layer_norm = LayerNorm(d)
        self.dropout, self.layerdrop = Dropout(c.dropout), c.encoder_layerdrop
        self.num_mel_bins, self.max_source_positions = c.num_mel_bins, c.max_source_positions

    def forward(self, input_features):
        want = 2 * self.max_source_positions
        if input_features.ndim != 3 or input_features.shape[1] != self.num_mel_bins or input_features.shape[2] != want:
            raise ValueError(f"WhisperEncoder: expected input_features [batch, {self.num_mel_bins}, {want}] "
                             f"(pad the log-mel features to {want} frames), got {tuple(input_features.shape)}")
        x = F.gelu(self.conv2(F.gelu(self.conv1(input_features)))).permute(0, 2, 1)
        x = self.dropout(x + self.embed_positions.weight)
        for layer in self.layers:
            if not _layerdrop(self, self.layerdrop):
                x = layer(x)
        return self.layer_norm(x)


class WhisperDecoder(Module):
    """Token ids [batch, target] + encoder states -> hidden states [batch, target, d_model] and
    the per-layer cache (self keys, self values, cross keys, cross values)."""

    def __init__(self, c):
        super().__init__()
        d = c.d_model
        self.embed_tokens = Embedding(c.vocab_size, d, padding_idx=c.pad_token_id)
        self.embed_positions = Embedding(c.max_target_positions, d)
        self.layers = ModuleList([WhisperDecoderLayer(c) for _ in range(c.decoder_layers)])
        self.layer_norm = LayerNorm(d)
        self.dropout, self.layerdrop = Dropout(c.dropout), c.decoder_layerdrop
        self.embed_scale = math.sqrt(d) if c.scale_embedding else 1.0

    def forward(self, input_ids, enc, past=None):
        s = input_ids.shape[1]
        start = 0 if past is None else past[0][0].shape[2]
        if start + s > self.embed_positions.num_embeddings:
            raise ValueError(f"WhisperDecoder: {start + s} positions exceed max_target_positions="
                             f"{self.embed_positions.num_embeddings}")
        x = self.embed_tokens(input_ids) * self.embed_scale + self.embed_positions.weight[start:start + s]
        x = self.dropout(x)
        presents = []
        for i, layer in enumerate(self.layers):
            if past is None and _layerdrop(self, self.layerdrop):
                presents.append(None)
                continue
            x, present = layer(x, enc, None if past is None else past[i])
            presents.append(present)
        return self.layer_norm(x), presents


class WhisperModel(Module):
    def __init__(self, c):
        super().__init__()
        self.encoder = WhisperEncoder(c)
        self.decoder = WhisperDecoder(c)


def shift_tokens_right(labels, pad_token_id, decoder_start_token_id):
    """Teacher-forcing decoder inputs: ``labels`` shifted right by one, the start token first,
    -100 (ignored labels) replaced by the padding id."""
    from .. import full

    start = full((labels.shape[0], 1), decoder_start_token_id, dtype=labels.dtype)
    shifted = _ops.cat([start, labels[:, :-1]], 1)
    return _ops.masked_fill(shifted, shifted == -100, pad_token_id)


class _DecoderStep(GenerationMixin, Module):
    """The decoder seen as a language model over fixed encoder states, so that the shared
    ``generate`` (greedy, temperature, top-k, top-p, KV cache) drives it."""

    def __init__(self, whisper, enc):
        super().__init__()
        self.__dict__["_whisper"] = whisper  # not a child: generate toggles eval on it directly
        self.enc = enc

    def train(self, mode=True):
        self._whisper.train(mode)
        self.training = mode
        return self

    def forward(self, input_ids, past_key_values=None, use_cache=False):
        w = self._whisper
        h, presents = w.model.decoder(input_ids, self.enc, past_key_values)
        return w.proj_out(h), (presents if use_cache else None)


class WhisperForConditionalGeneration(Module):
    """WhisperForConditionalGeneration(config); ``forward(input_features, decoder_input_ids=None,
    encoder_outputs=None, past_key_values=None, use_cache=False, labels=None)`` ->
    Seq2SeqLMOutput(loss, logits, past_key_values, encoder_last_hidden_state).

    With ``labels`` [batch, target] (-100 = ignored) and no ``decoder_input_ids``, the decoder
    reads the labels shifted right behind ``decoder_start_token_id`` and ``loss`` is their
    cross-entropy, as in Hugging Face. With ``apply_spec_augment`` (off by default) training
    zeroes random spans of input frames (``mask_time_prob``) and mel bins
    (``mask_feature_prob``)."""

    def __init__(self, config):
        super().__init__()
        c = self.config = Config(dict(WHISPER_TINY, **config))
        self.model = WhisperModel(c)
        self.proj_out = _TiedHead(self.model.decoder.embed_tokens)
        self._init_weights(c.init_std)

    def _init_weights(self, std):
        from .. import tensor

        for m in self.modules():
            if isinstance(m, (Linear, Conv1d)):
                init.normal_(m.weight, 0.0, std)
                if m.bias is not None:
                    init.zeros_(m.bias)
            elif isinstance(m, Embedding):
                init.normal_(m.weight, 0.0, std)
        pad = self.config.pad_token_id
        emb, enc_pos = self.model.decoder.embed_tokens, self.model.encoder.embed_positions
        from ..nn.modules.layers import _NoGrad

        with _NoGrad():
            if pad is not None and 0 <= pad < emb.num_embeddings:
                emb.weight[pad] = 0.0
            enc_pos.weight.copy_(tensor(sinusoids(*enc_pos.weight.shape)))

    def get_encoder(self):
        return self.model.encoder

    def _mask_input_features(self, feats):
        """SpecAugment on the log-mel input while training (``apply_spec_augment``): spans of
        frames and of mel bins set to zero, as transformers does."""
        c = self.config
        b, mels, frames = feats.shape
        if c.mask_time_prob > 0:
            t = compute_mask_indices((b, frames), c.mask_time_prob, c.mask_time_length, None, c.mask_time_min_masks)
            feats = _ops.masked_fill(feats, t.unsqueeze(1), 0.0)
        if c.mask_feature_prob > 0:
            f = compute_mask_indices((b, mels), c.mask_feature_prob, c.mask_feature_length, None,
                                     c.mask_feature_min_masks)
            feats = _ops.masked_fill(feats, f.unsqueeze(2), 0.0)
        return feats

    def forward(self, input_features=None, decoder_input_ids=None, encoder_outputs=None, past_key_values=None,
                use_cache=False, labels=None):
        c = self.config
        if labels is not None and decoder_input_ids is None:
            if labels.shape[1] > c.max_target_positions:
                raise ValueError(f"Whisper: labels' length {labels.shape[1]} exceeds max_target_positions="
                                 f"{c.max_target_positions}")
            decoder_input_ids = shift_tokens_right(labels, c.pad_token_id, c.decoder_start_token_id)
        if decoder_input_ids is None:
            raise ValueError("Whisper: give decoder_input_ids or labels")
        if encoder_outputs is None:
            if input_features is None:
                raise ValueError("Whisper: give input_features or encoder_outputs")
            if self.training and c.apply_spec_augment:
                input_features = self._mask_input_features(input_features)
            encoder_outputs = self.model.encoder(input_features)
        elif isinstance(encoder_outputs, (tuple, list)):
            encoder_outputs = encoder_outputs[0]
        h, presents = self.model.decoder(decoder_input_ids, encoder_outputs, past_key_values)
        logits = self.proj_out(h)
        loss = None
        if labels is not None:
            loss = F.cross_entropy(logits.reshape(-1, c.vocab_size), labels.reshape(-1), ignore_index=-100)
        return Seq2SeqLMOutput(loss=loss, logits=logits, past_key_values=presents if use_cache else None,
                               encoder_last_hidden_state=encoder_outputs)

    def generate(self, input_features, max_new_tokens=20, temperature=0.0, top_k=None, top_p=None, do_sample=None,
                 use_cache=True, decoder_input_ids=None, eos_token_id="config"):
        """Transcribes ``input_features`` [batch, num_mel_bins, frames]: the encoder runs once,
        then the decoder continues ``decoder_input_ids`` (default: ``decoder_start_token_id``
        alone) by up to ``max_new_tokens`` tokens. Returns the decoder tokens [batch, prompt +
        new], stopping early once every row produced ``eos_token_id`` (the config's; None never
        stops).

        ``temperature=0`` (the default) decodes greedily; otherwise tokens are sampled from
        softmax(logits / temperature) restricted to ``top_k`` and the ``top_p`` nucleus. With
        ``use_cache`` each step runs the decoder on the new token only (keys and values of the
        past tokens and of the encoder states are kept); the result equals the uncached one."""
        from .. import full, int64, no_grad

        c = self.config
        if eos_token_id == "config":
            eos_token_id = c.eos_token_id
        b = input_features.shape[0]
        if decoder_input_ids is None:
            decoder_input_ids = full((b, 1), c.decoder_start_token_id, dtype=int64)
        if decoder_input_ids.shape[1] + max_new_tokens > c.max_target_positions:
            raise ValueError(f"Whisper.generate: {decoder_input_ids.shape[1]} prompt + {max_new_tokens} new tokens "
                             f"exceed max_target_positions={c.max_target_positions}")
        was = self.training
        self.eval()
        try:
            with no_grad():
                enc = self.model.encoder(input_features)
        finally:
            self.train(was)
        step = _DecoderStep(self, enc)
        step.training = was
        return step.generate(decoder_input_ids, max_new_tokens, temperature, top_k, top_p, do_sample, use_cache,
                             eos_token_id)

    @classmethod
    def from_pretrained(cls, path, **overrides):
        """Builds the model from ``path/config.json`` and loads ``path/model.safetensors``
        strictly; a checkpoint without ``proj_out.weight`` (it is tied) gets the embedding's."""
        from .. import load

        path = Path(path)
        cfg = json.loads((path / "config.json").read_text())
        config = {k: cfg.get(k, v) for k, v in WHISPER_TINY.items()}
        config.update(overrides)
        weights = load(path / "model.safetensors")
        if "proj_out.weight" not in weights:
            weights["proj_out.weight"] = weights["model.decoder.embed_tokens.weight"]
        model = cls(config)
        model.load_state_dict(weights, strict=True)
        return model.eval()


def _features(frames=3000, mels=80):
    def make():
        from .. import full, int64, randn

        return (randn(1, mels, frames), full((1, 4), 50258, dtype=int64))
    return make


@register_model("speech-recognition", _features(), "transformers.WhisperForConditionalGeneration")
def whisper_tiny(**config):
    """Whisper-tiny (37.8M parameters, the openai/whisper-tiny layout: d_model 384, 4 + 4 layers,
    6 heads, 80 mel bins, 51865 tokens, proj_out tied to the token embedding); keyword
    arguments override the config."""
    return WhisperForConditionalGeneration(config)
