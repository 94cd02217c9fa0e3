"""Wav2Vec2 and HuBERT with Hugging Face transformers' module layout and ``state_dict`` names:
``Wav2Vec2Model`` (a convolutional feature encoder over the raw waveform, a feature projection,
a convolutional positional embedding with weight normalisation and a transformer encoder),
``Wav2Vec2ForCTC`` (plus the ``lm_head`` giving per-frame character logits for CTC) and
``HubertModel`` (the same encoder). ``from_pretrained(folder)`` reads a model folder
(``config.json`` + ``model.safetensors``), including checkpoints that store the positional
convolution's weight norm as ``weight_g``/``weight_v``.

>>> from deepseek import models
>>> model = models.wav2vec2_base(vocab_size=32).eval()
>>> logits = model(deepseek.randn(1, 16000)).logits      # [1, 49, 32]: 20 ms frames
"""
from __future__ import annotations

import json
import math
from pathlib import Path

from .. import _ops
from ..nn import functional as F
from ..nn import init
from ..nn.modules.layers import Conv1d, Dropout, GroupNorm, LayerNorm, Linear, ModuleList
from ..nn.modules.module import Module
from ..nn.parameter import Parameter
from ..nn.utils.parametrizations import weight_norm
from ._registry import register_model
from .bert import Config, _act

WAV2VEC2_BASE = dict(
    vocab_size=32, hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072,
    hidden_act="gelu", hidden_dropout=0.1, activation_dropout=0.1, attention_dropout=0.1, feat_proj_dropout=0.0,
    final_dropout=0.1, layerdrop=0.1, initializer_range=0.02, layer_norm_eps=1e-5, feat_extract_norm="group",
    feat_extract_activation="gelu", conv_dim=(512,) * 7, conv_stride=(5, 2, 2, 2, 2, 2, 2),
    conv_kernel=(10, 3, 3, 3, 3, 2, 2), conv_bias=False, num_conv_pos_embeddings=128, num_conv_pos_embedding_groups=16,
    do_stable_layer_norm=False, apply_spec_augment=True, mask_time_prob=0.05, mask_time_length=10,
    mask_time_min_masks=2, mask_feature_prob=0.0, mask_feature_length=10, mask_feature_min_masks=0, pad_token_id=0,
    ctc_loss_reduction="sum", ctc_zero_infinity=False, feat_proj_layer_norm=True)
HUBERT_BASE = dict(WAV2VEC2_BASE, conv_pos_batch_norm=False)

# keys of pre-training checkpoints that the encoder does not use
_PRETRAINING_ONLY = ("quantizer.", "project_hid.", "project_q.", "label_embeddings_concat", "final_proj.")


class ModelOutput(tuple):
    """A tuple of the fields that are set, also readable by name (as Hugging Face's outputs
    with ``return_dict=False``: ``out[0]`` is the first field that is not None)."""

    _fields = ()

    def __new__(cls, **fields):
        obj = tuple.__new__(cls, [fields.get(f) for f in cls._fields if fields.get(f) is not None])
        for f in cls._fields:
            setattr(obj, f, fields.get(f))
        return obj


class Wav2Vec2BaseModelOutput(ModelOutput):
    """(last_hidden_state [batch, frames, hidden], extract_features [batch, frames, conv_dim])."""

    _fields = ("last_hidden_state", "extract_features")


class HubertOutput(ModelOutput):
    """(last_hidden_state [batch, frames, hidden],)."""

    _fields = ("last_hidden_state",)


class CausalLMOutput(ModelOutput):
    """(loss, logits [batch, frames, vocab]); ``loss`` only when labels were given."""

    _fields = ("loss", "logits")


# ---- feature encoder -----------------------------------------------------------------------------

class _ConvLayer(Module):
    """Conv1d, an optional norm (GroupNorm with one group per channel, or LayerNorm over the
    channels) and the activation: one block of the feature encoder."""

    def __init__(self, c, i, norm):
        super().__init__()
        cin = c.conv_dim[i - 1] if i > 0 else 1
        cout = c.conv_dim[i]
        self.conv = Conv1d(cin, cout, c.conv_kernel[i], stride=c.conv_stride[i], bias=c.conv_bias)
        self.norm_kind = norm
        if norm == "group":
            self.layer_norm = GroupNorm(cout, cout, affine=True)
        elif norm == "layer":
            self.layer_norm = LayerNorm(cout)
        self.act = _act(c.feat_extract_activation)

    def forward(self, x):
        x = self.conv(x)
        if self.norm_kind == "group":
            x = self.layer_norm(x)
        elif self.norm_kind == "layer":
            x = self.layer_norm(x.transpose(-2, -1)).transpose(-2, -1)
        return self.act(x)


class Wav2Vec2FeatureEncoder(Module):
    """Strided 1-D convolutions from the waveform [batch, samples] to features [batch,
    conv_dim[-1], frames] (320 samples a frame with the base strides)."""

    def __init__(self, c):
        super().__init__()
        if c.feat_extract_norm == "group":
            norms = ["group"] + [None] * (len(c.conv_dim) - 1)
        elif c.feat_extract_norm == "layer":
            norms = ["layer"] * len(c.conv_dim)
        else:
            raise ValueError(f"Wav2Vec2: feat_extract_norm must be 'group' or 'layer', got {c.feat_extract_norm!r}")
        self.conv_layers = ModuleList([_ConvLayer(c, i, n) for i, n in enumerate(norms)])

    def forward(self, input_values):
        x = input_values.unsqueeze(1)
        for layer in self.conv_layers:
            x = layer(x)
        return x


class Wav2Vec2FeatureProjection(Module):
    def __init__(self, c):
        super().__init__()
        self.has_norm = c.feat_proj_layer_norm
        if self.has_norm:
            self.layer_norm = LayerNorm(c.conv_dim[-1], eps=c.layer_norm_eps)
        self.projection = Linear(c.conv_dim[-1], c.hidden_size)
        self.dropout = Dropout(c.feat_proj_dropout)

    def forward(self, x):
        normed = self.layer_norm(x) if self.has_norm else x
        return self.dropout(self.projection(normed)), normed


# ---- transformer encoder -------------------------------------------------------------------------

class Wav2Vec2PositionalConvEmbedding(Module):
    """A grouped convolution over time with weight normalisation along the kernel axis
    (``conv.parametrizations.weight.original0`` is the magnitude g [1, 1, kernel],
    ``original1`` the direction v), trimmed to the input length, then the activation."""

    def __init__(self, c):
        super().__init__()
        k = c.num_conv_pos_embeddings
        self.conv = Conv1d(c.hidden_size, c.hidden_size, k, padding=k // 2, groups=c.num_conv_pos_embedding_groups)
        init.normal_(self.conv.weight, 0.0, 2 * math.sqrt(1.0 / (k * c.hidden_size)))
        init.zeros_(self.conv.bias)
        weight_norm(self.conv, name="weight", dim=2)
        self.remove = 1 if k % 2 == 0 else 0  # an even kernel with padding k // 2 yields one extra frame
        self.act = _act(c.feat_extract_activation)

    def forward(self, x):  # [batch, frames, hidden]
        y = self.conv(x.transpose(1, 2))
        if self.remove:
            y = y[:, :, :-self.remove]
        return self.act(y).transpose(1, 2)


class Wav2Vec2Attention(Module):
    def __init__(self, dim, heads, dropout=0.0):
        super().__init__()
        if dim % heads:
            raise ValueError(f"Wav2Vec2Attention: hidden size {dim} is not divisible by {heads} heads")
        self.heads, self.head_dim, self.dropout = heads, dim // heads, dropout
        self.k_proj, self.v_proj = Linear(dim, dim), Linear(dim, dim)
        self.q_proj, self.out_proj = Linear(dim, dim), Linear(dim, dim)

    def forward(self, x, mask=None):
        b, s, d = x.shape

        def split(t):
            return t.reshape(b, s, self.heads, self.head_dim).permute(0, 2, 1, 3)

        ctx = F.scaled_dot_product_attention(split(self.q_proj(x)), split(self.k_proj(x)), split(self.v_proj(x)),
                                             attn_mask=mask, dropout_p=self.dropout if self.training else 0.0,
                                             scale=self.head_dim ** -0.5)
        return self.out_proj(ctx.permute(0, 2, 1, 3).reshape(b, s, d))


class Wav2Vec2FeedForward(Module):
    def __init__(self, c):
        super().__init__()
        self.intermediate_dropout = Dropout(c.activation_dropout)
        self.intermediate_dense = Linear(c.hidden_size, c.intermediate_size)
        self.output_dense = Linear(c.intermediate_size, c.hidden_size)
        self.output_dropout = Dropout(c.hidden_dropout)
        self.act = _act(c.hidden_act)

    def forward(self, x):
        x = self.intermediate_dropout(self.act(self.intermediate_dense(x)))
        return self.output_dropout(self.output_dense(x))


class Wav2Vec2EncoderLayer(Module):
    """Post-LN (base) or pre-LN (``stable``, the large models) transformer layer."""

    def __init__(self, c, stable=False):
        super().__init__()
        self.attention = Wav2Vec2Attention(c.hidden_size, c.num_attention_heads, c.attention_dropout)
        self.dropout = Dropout(c.hidden_dropout)
        self.layer_norm = LayerNorm(c.hidden_size, eps=c.layer_norm_eps)
        self.feed_forward = Wav2Vec2FeedForward(c)
        self.final_layer_norm = LayerNorm(c.hidden_size, eps=c.layer_norm_eps)
        self.stable = stable

    def forward(self, x, mask=None):
        if self.stable:
            x = x + self.dropout(self.attention(self.layer_norm(x), mask))
            return x + self.feed_forward(self.final_layer_norm(x))
        x = self.layer_norm(x + self.dropout(self.attention(x, mask)))
        return self.final_layer_norm(x + self.feed_forward(x))


class Wav2Vec2Encoder(Module):
    """Positional convolution, LayerNorm (first for the base layout, last for the stable one),
    the layers with LayerDrop while training."""

    def __init__(self, c):
        super().__init__()
        self.pos_conv_embed = Wav2Vec2PositionalConvEmbedding(c)
        self.layer_norm = LayerNorm(c.hidden_size, eps=c.layer_norm_eps)
        self.dropout = Dropout(c.hidden_dropout)
        self.stable = bool(c.do_stable_layer_norm)
        self.layers = ModuleList([Wav2Vec2EncoderLayer(c, self.stable) for _ in range(c.num_hidden_layers)])
        self.layerdrop = c.layerdrop

    def forward(self, x, frame_mask=None):
        from .. import rand

        attn_mask = None
        if frame_mask is not None:  # padded frames are zeroed and never attended to
            x = x * frame_mask.unsqueeze(-1).to(x.dtype)
            attn_mask = frame_mask.reshape(frame_mask.shape[0], 1, 1, frame_mask.shape[1])
        x = x + self.pos_conv_embed(x)
        if not self.stable:
            x = self.layer_norm(x)
        x = self.dropout(x)
        for layer in self.layers:
            if self.training and self.layerdrop > 0.0 and float(rand(1)) < self.layerdrop:
                continue  # LayerDrop: the whole layer is skipped for this step
            x = layer(x, attn_mask)
        return self.layer_norm(x) if self.stable else x


# ---- SpecAugment -----------------------------------------------------------------------------------

def compute_mask_indices(shape, mask_prob, mask_length, lengths=None, min_masks=0):
    """SpecAugment span masks as Hugging Face draws them: for each row about
    ``mask_prob * length / mask_length`` spans (probabilistic rounding, at least ``min_masks``)
    of ``mask_length`` positions, starts drawn without replacement; returns a boolean
    [batch, length] tensor (True = masked), drawn from deepseek's generator."""
    from .. import rand, randperm, tensor

    batch, seq = shape
    if mask_length < 1:
        raise ValueError("compute_mask_indices: mask_length has to be bigger than 0")
    if mask_length > seq:
        raise ValueError(f"compute_mask_indices: mask_length {mask_length} is longer than the sequence ({seq})")
    eps = float(rand(1))
    lengths = [seq] * batch if lengths is None else [int(v) for v in lengths]

    def spans(n):
        k = max(int(mask_prob * n / mask_length + eps), min_masks)
        k = min(k, seq // mask_length)
        return max(min(k, n - (mask_length - 1)), 0)

    rows = []
    for n in lengths:
        row = [False] * seq
        k, starts = spans(n), max(n - (mask_length - 1), 0)
        for s in (randperm(starts).tolist()[:k] if k else []):
            for j in range(s, min(s + mask_length, seq)):
                row[j] = True
        rows.append(row)
    return tensor(rows)


# ---- models --------------------------------------------------------------------------------------

def _conv_out_lengths(c, lengths):
    for k, s in zip(c.conv_kernel, c.conv_stride):
        lengths = (lengths - k) // s + 1
    return lengths


def _init_wav2vec2(model, c):
    """Hugging Face's initialisation: linear layers N(0, initializer_range) with zero bias, norms
    one/zero, the feature encoder's convolutions Kaiming normal, the feature projection
    uniform in +-1/sqrt(fan-in), the SpecAugment embedding uniform in [0, 1)."""
    for m in model.modules():
        if isinstance(m, Linear):
            init.normal_(m.weight, 0.0, c.initializer_range)
            if m.bias is not None:
                init.zeros_(m.bias)
        elif isinstance(m, _ConvLayer):
            init.kaiming_normal_(m.conv.weight)
            if m.conv.bias is not None:
                k = math.sqrt(m.conv.groups / (m.conv.in_channels * m.conv.kernel_size[0]))
                init.uniform_(m.conv.bias, -k, k)
    proj = model.feature_projection.projection  # after the generic pass, which also visits it
    k = 1.0 / math.sqrt(proj.in_features)
    init.uniform_(proj.weight, -k, k)
    init.uniform_(proj.bias, -k, k)


def _read_folder(path, base, overrides):
    """(config, weights) of a Hugging Face folder: config.json over ``base``, model.safetensors
    with weight-norm keys renamed to the parametrization's names."""
    from .. import load

    path = Path(path)
    cfg = json.loads((path / "config.json").read_text())
    config = {k: cfg.get(k, v) for k, v in base.items()}
    config.update(overrides)
    weights = {}
    for k, v in load(path / "model.safetensors").items():
        k = k.replace("pos_conv_embed.conv.weight_g", "pos_conv_embed.conv.parametrizations.weight.original0")
        k = k.replace("pos_conv_embed.conv.weight_v", "pos_conv_embed.conv.parametrizations.weight.original1")
        weights[k] = v
    return config, weights


class Wav2Vec2Model(Module):
    """Wav2Vec2Model(config); ``forward(input_values [batch, samples], attention_mask=None,
    mask_time_indices=None)`` -> Wav2Vec2BaseModelOutput(last_hidden_state, extract_features).

    ``attention_mask`` (1 = real sample, 0 = padding, right-padded) shortens each row: its
    padded frames are zeroed and masked out of attention. While training, SpecAugment replaces
    random spans of frames by ``masked_spec_embed`` (``mask_time_prob``) and LayerDrop skips
    layers (``layerdrop``), as in Hugging Face."""

    defaults = WAV2VEC2_BASE
    prefix = "wav2vec2"  # the attribute name inside the CTC model and the checkpoints' key prefix

    def __init__(self, config):
        super().__init__()
        c = self.config = Config(dict(self.defaults, **config))
        self.feature_extractor = Wav2Vec2FeatureEncoder(c)
        self.feature_projection = Wav2Vec2FeatureProjection(c)
        if c.mask_time_prob > 0.0 or c.mask_feature_prob > 0.0:
            from .. import rand

            self.masked_spec_embed = Parameter(rand(c.hidden_size))
        self.encoder = Wav2Vec2Encoder(c)
        _init_wav2vec2(self, c)

    def feature_lengths(self, lengths):
        """Frames the feature encoder makes of ``lengths`` samples (an int or an int64 tensor)."""
        return _conv_out_lengths(self.config, lengths)

    def _mask_hidden_states(self, x, mask_time_indices=None, frame_mask=None):
        c = self.config
        if not c.apply_spec_augment:
            return x
        b, t, h = x.shape
        if mask_time_indices is None and c.mask_time_prob > 0 and self.training:
            lengths = None if frame_mask is None else frame_mask.sum(-1).tolist()
            mask_time_indices = compute_mask_indices((b, t), c.mask_time_prob, c.mask_time_length, lengths,
                                                     c.mask_time_min_masks)
        if mask_time_indices is not None:
            if "masked_spec_embed" not in self._parameters:
                raise ValueError(f"{type(self).__name__}: mask_time_indices needs masked_spec_embed, which exists only "
                                 "when mask_time_prob or mask_feature_prob is > 0")
            x = _ops.where(mask_time_indices.unsqueeze(-1), self.masked_spec_embed.to(x.dtype), x)
        if c.mask_feature_prob > 0 and self.training:
            feat = compute_mask_indices((b, h), c.mask_feature_prob, c.mask_feature_length, None,
                                        c.mask_feature_min_masks)
            x = _ops.masked_fill(x, feat.unsqueeze(1), 0.0)
        return x

    def _frame_mask(self, attention_mask, frames):
        from .. import arange, int64

        if attention_mask is None:
            return None
        lengths = self.feature_lengths(attention_mask.to(int64).sum(-1))
        return arange(frames).unsqueeze(0) < lengths.unsqueeze(1)

    def forward(self, input_values, attention_mask=None, mask_time_indices=None):
        if input_values.ndim != 2:
            raise ValueError(f"{type(self).__name__}: expected input_values [batch, samples], "
                             f"got shape {tuple(input_values.shape)}")
        need = 1  # samples one output frame needs, back through the convolutions
        for k, s in zip(reversed(self.config.conv_kernel), reversed(self.config.conv_stride)):
            need = (need - 1) * s + k
        if input_values.shape[1] < need:
            raise ValueError(f"{type(self).__name__}: {input_values.shape[1]} samples are fewer than the "
                             f"{need} one output frame needs")
        feats = self.feature_extractor(input_values).transpose(1, 2)
        frame_mask = self._frame_mask(attention_mask, feats.shape[1])
        x, feats = self.feature_projection(feats)
        x = self._mask_hidden_states(x, mask_time_indices, frame_mask)
        return self._output(self.encoder(x, frame_mask), feats)

    def _output(self, hidden, feats):
        return Wav2Vec2BaseModelOutput(last_hidden_state=hidden, extract_features=feats)

    def freeze_feature_encoder(self):
        """Stops gradients to the convolutional feature encoder (fine-tuning usually does)."""
        for p in self.feature_extractor.parameters():
            p.requires_grad_(False)

    @classmethod
    def from_pretrained(cls, path, **overrides):
        """Builds the model from ``path/config.json`` and loads ``path/model.safetensors``
        strictly (a ``wav2vec2.``/``hubert.`` prefix and pre-training heads are dropped)."""
        config, weights = _read_folder(path, cls.defaults, overrides)
        prefix = cls.prefix + "."
        weights = {k[len(prefix):] if k.startswith(prefix) else k: v for k, v in weights.items()}
        weights = {k: v for k, v in weights.items() if not k.startswith(_PRETRAINING_ONLY + ("lm_head.",))}
        model = cls(config)
        model.load_state_dict(weights, strict=True)
        return model.eval()


class Wav2Vec2ForCTC(Module):
    """Wav2Vec2ForCTC(config): ``wav2vec2`` (a Wav2Vec2Model), dropout and ``lm_head``;
    ``forward(input_values, attention_mask=None, labels=None)`` -> CausalLMOutput(loss,
    logits [batch, frames, vocab]).

    With ``labels`` [batch, max_label_length] (padded with -100) the loss is Hugging Face's:
    CTC over ``log_softmax(logits)`` with blank ``pad_token_id``, ``ctc_loss_reduction`` and
    ``ctc_zero_infinity`` from the config, each row's frames taken from ``attention_mask``."""

    base = Wav2Vec2Model

    def __init__(self, config):
        super().__init__()
        setattr(self, self.base.prefix, self.base(config))
        c = self.config = self.encoder_model.config
        if c.vocab_size is None:
            raise ValueError("Wav2Vec2ForCTC: config.vocab_size must be set (the size of the lm_head)")
        self.dropout = Dropout(c.final_dropout)
        self.lm_head = Linear(c.hidden_size, c.vocab_size)
        init.normal_(self.lm_head.weight, 0.0, c.initializer_range)
        init.zeros_(self.lm_head.bias)

    @property
    def encoder_model(self):
        return getattr(self, self.base.prefix)

    def forward(self, input_values, attention_mask=None, labels=None):
        from .. import float32, full, int64

        h = self.encoder_model(input_values, attention_mask)[0]
        logits = self.lm_head(self.dropout(h))
        if labels is None:
            return CausalLMOutput(logits=logits)
        c = self.config
        if labels.numel() and int(labels.max()) >= c.vocab_size:
            raise ValueError(f"Wav2Vec2ForCTC: label values must be < vocab_size ({c.vocab_size})")
        samples = (attention_mask.to(int64).sum(-1) if attention_mask is not None
                   else full((input_values.shape[0],), input_values.shape[1], dtype=int64))
        keep = labels >= 0
        log_probs = F.log_softmax(logits.to(float32), dim=-1).transpose(0, 1)
        loss = F.ctc_loss(log_probs, labels[keep], self.encoder_model.feature_lengths(samples), keep.to(int64).sum(-1),
                          blank=c.pad_token_id, reduction=c.ctc_loss_reduction, zero_infinity=c.ctc_zero_infinity)
        return CausalLMOutput(loss=loss, logits=logits)

    def freeze_feature_encoder(self):
        """Stops gradients to the convolutional feature encoder."""
        self.encoder_model.freeze_feature_encoder()

    @classmethod
    def from_pretrained(cls, path, **overrides):
        """Builds the model from ``path/config.json`` and loads ``path/model.safetensors``
        strictly. A pre-training checkpoint (no ``lm_head``) keeps a freshly initialised head,
        as Hugging Face does, and its pre-training heads are dropped."""
        config, weights = _read_folder(path, cls.base.defaults, overrides)
        weights = {k: v for k, v in weights.items() if not k.startswith(_PRETRAINING_ONLY)}
        model = cls(config)
        if "lm_head.weight" not in weights:
            import warnings

            warnings.warn(f"{path}: no lm_head in the checkpoint; the CTC head is newly initialised", stacklevel=2)
            weights.update({f"lm_head.{k}": v for k, v in model.lm_head.state_dict().items()})
        model.load_state_dict(weights, strict=True)
        return model.eval()


class HubertModel(Wav2Vec2Model):
    """HubertModel(config): the Wav2Vec2 encoder under Hugging Face's HuBERT names (the same
    ``state_dict`` layout; ``feat_proj_layer_norm`` chooses the projection's LayerNorm)."""

    defaults = HUBERT_BASE
    prefix = "hubert"

    def __init__(self, config):
        if config.get("conv_pos_batch_norm"):
            raise ValueError("HubertModel: conv_pos_batch_norm=True is not supported")
        super().__init__(config)

    def _output(self, hidden, feats):
        return HubertOutput(last_hidden_state=hidden)


class HubertForCTC(Wav2Vec2ForCTC):
    """HubertForCTC(config): ``hubert`` (a HubertModel), dropout and ``lm_head``; as
    Wav2Vec2ForCTC otherwise (e.g. for facebook/hubert-large-ls960-ft checkpoints)."""

    base = HubertModel


def _wave(samples=16000):
    def make():
        from .. import randn

        return (randn(1, samples),)
    return make


@register_model("speech-recognition", _wave(), "transformers.Wav2Vec2ForCTC")
def wav2vec2_base(**config):
    """Wav2Vec2-base with a CTC head (94.4M parameters, the facebook/wav2vec2-base layout,
    32-symbol vocabulary); keyword arguments override the config."""
    return Wav2Vec2ForCTC(config)


@register_model("speech-recognition", _wave(), "transformers.HubertModel")
def hubert_base(**config):
    """HuBERT-base encoder (94.4M parameters, the facebook/hubert-base-ls960 layout; outputs
    hidden states, no head); keyword arguments override the config."""
    return HubertModel(config)
