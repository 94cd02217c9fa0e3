"""DETR (DEtection TRansformer) with a ResNet-50 backbone, in the module layout and
``state_dict`` names of Hugging Face transformers' ``DetrForObjectDetection`` built from
``DetrConfig(use_timm_backbone=False)``: the backbone is transformers' own ResNet
(``model.backbone.model.embedder`` / ``encoder.stages.<i>.layers.<j>``) with every batch norm
frozen (weight, bias and running statistics are buffers), a sine position embedding, a
6-layer encoder and a 6-layer decoder over ``num_queries`` learned object queries, and the
class and box heads.

>>> import deepseek
>>> from deepseek import models
>>> net = models.detr_resnet50(num_classes=91).eval()
>>> out = net(deepseek.randn(1, 3, 224, 224))
>>> out.logits.shape, out.pred_boxes.shape        # classes + "no object"; (cx, cy, w, h) in [0, 1]
((1, 100, 92), (1, 100, 4))

Training uses the set loss of ``deepseek.models.detection`` (Hungarian matching, class cross
entropy with a down-weighted "no object", L1 and generalised-IoU box losses), computed when
``labels`` are passed as Hugging Face does.
"""
from __future__ import annotations

import math

from .. import _ops
from ..nn import functional as F
from ..nn import init
from ..nn.modules.layers import Conv2d, Dropout, Embedding, Identity, LayerNorm, Linear, ModuleList, ReLU, Sequential
from ..nn.modules.module import Module
from ..nn.modules.pooling import MaxPool2d
from ._registry import image_input, register_model

#: ``DetrConfig()``'s defaults (transformers 5.24) with the ResNet-50 backbone it builds.
DETR_RESNET50 = dict(d_model=256, encoder_layers=6, decoder_layers=6, encoder_attention_heads=8,
                     decoder_attention_heads=8, encoder_ffn_dim=2048, decoder_ffn_dim=2048, dropout=0.1,
                     attention_dropout=0.0, activation_dropout=0.0, num_queries=100, init_std=0.02,
                     backbone_config=dict(embedding_size=64, hidden_sizes=[256, 512, 1024, 2048], depths=[3, 4, 6, 3]),
                     # the set-loss weights (matching costs and loss coefficients)
                     class_cost=1.0, bbox_cost=5.0, giou_cost=2.0, bbox_loss_coefficient=5.0,
                     giou_loss_coefficient=2.0, eos_coefficient=0.1)


class DetectionOutput(dict):
    """The outputs of ``DetrForObjectDetection``: a dict whose keys also read as attributes
    (``logits``, ``pred_boxes``, ``last_hidden_state``, ``encoder_last_hidden_state`` and,
    when labels were given, ``loss`` and ``loss_dict``)."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"DetectionOutput has no field {name!r}") from None


# ---- backbone: transformers' ResNet with frozen batch norm --------------------------------

class FrozenBatchNorm2d(Module):
    """Batch norm with fixed statistics and affine parameters, all four stored as buffers
    (no ``num_batches_tracked``): ``x * w / sqrt(var + 1e-5) + (b - mean * w / sqrt(var + 1e-5))``."""

    def __init__(self, n):
        super().__init__()
        from .. import ones, zeros

        self.register_buffer("weight", ones(n))
        self.register_buffer("bias", zeros(n))
        self.register_buffer("running_mean", zeros(n))
        self.register_buffer("running_var", ones(n))

    def forward(self, x):
        scale = self.weight * _ops.rsqrt(self.running_var + 1e-5)
        shift = self.bias - self.running_mean * scale
        return x * scale.reshape(1, -1, 1, 1) + shift.reshape(1, -1, 1, 1)


class ResNetConvLayer(Module):
    """Conv (padding k // 2, no bias) -> frozen batch norm -> ReLU (or nothing)."""

    def __init__(self, cin, cout, kernel_size=3, stride=1, activation=True):
        super().__init__()
        self.convolution = Conv2d(cin, cout, kernel_size, stride, kernel_size // 2, bias=False)
        self.normalization = FrozenBatchNorm2d(cout)
        self.activation = ReLU() if activation else Identity()

    def forward(self, x):
        return self.activation(self.normalization(self.convolution(x)))


class ResNetShortCut(Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.convolution = Conv2d(cin, cout, 1, stride, bias=False)
        self.normalization = FrozenBatchNorm2d(cout)

    def forward(self, x):
        return self.normalization(self.convolution(x))


class ResNetBottleNeckLayer(Module):
    """1x1 reduce (by 4), 3x3 (carrying the stride), 1x1 expand, plus the shortcut."""

    def __init__(self, cin, cout, stride=1):
        super().__init__()
        mid = cout // 4
        self.shortcut = ResNetShortCut(cin, cout, stride) if cin != cout or stride != 1 else Identity()
        self.layer = Sequential(ResNetConvLayer(cin, mid, 1), ResNetConvLayer(mid, mid, 3, stride),
                                ResNetConvLayer(mid, cout, 1, activation=False))
        self.activation = ReLU()

    def forward(self, x):
        return self.activation(self.layer(x) + self.shortcut(x))


class ResNetStage(Module):
    def __init__(self, cin, cout, stride, depth):
        super().__init__()
        self.layers = Sequential(ResNetBottleNeckLayer(cin, cout, stride),
                                 *[ResNetBottleNeckLayer(cout, cout) for _ in range(depth - 1)])

    def forward(self, x):
        return self.layers(x)


class _Named(Module):
    """A container whose children are given as keyword arguments."""

    def __init__(self, **children):
        super().__init__()
        for k, m in children.items():
            self.add_module(k, m)


class ResNetBackbone(Module):
    """transformers' ResNet backbone returning the last stage's feature map."""

    def __init__(self, embedding_size=64, hidden_sizes=(256, 512, 1024, 2048), depths=(3, 4, 6, 3), num_channels=3):
        super().__init__()
        if len(hidden_sizes) != len(depths):
            raise ValueError(f"ResNetBackbone: {len(hidden_sizes)} hidden_sizes but {len(depths)} depths")
        self.embedder = _Named(embedder=ResNetConvLayer(num_channels, embedding_size, 7, 2), pooler=MaxPool2d(3, 2, 1))
        ins = [embedding_size] + list(hidden_sizes[:-1])
        self.encoder = _Named(stages=ModuleList([ResNetStage(i, o, 1 if k == 0 else 2, d)
                                                 for k, (i, o, d) in enumerate(zip(ins, hidden_sizes, depths))]))
        self.channels = [hidden_sizes[-1]]

    def forward(self, x):
        x = self.embedder.pooler(self.embedder.embedder(x))
        for stage in self.encoder.stages:
            x = stage(x)
        return x


class DetrConvEncoder(Module):
    """The backbone (``model``) and the downsampling of the pixel mask to its feature map."""

    def __init__(self, backbone_config):
        super().__init__()
        self.model = ResNetBackbone(**backbone_config)
        self.intermediate_channel_sizes = self.model.channels

    def forward(self, pixel_values, pixel_mask):
        features = self.model(pixel_values)
        h, w = features.shape[-2:]
        # nearest-neighbour resize of the [B, H, W] mask, as F.interpolate on [1, B, H, W]
        mask = F.interpolate(pixel_mask.unsqueeze(0).to(features.dtype), size=(h, w))[0] != 0
        return features, mask


def sine_position_embedding(mask, num_features, temperature=10000.0, scale=2 * math.pi, dtype=None):
    """DETR's normalised 2-D sine embedding of a [B, H, W] boolean mask: [B, 2F, H, W] with
    the F row features (sin/cos interleaved) before the F column features."""
    from .. import arange, float32

    dtype = dtype or float32
    m = mask.to(dtype)
    y = _ops.cumsum(m, 1)
    x = _ops.cumsum(m, 2)
    y = y / (y[:, -1:, :] + 1e-6) * scale
    x = x / (x[:, :, -1:] + 1e-6) * scale
    i = arange(num_features, dtype=dtype)
    dim_t = temperature ** (2 * _ops.floor(i / 2) / num_features)
    b, h, w = mask.shape

    def embed(v):
        p = v.unsqueeze(-1) / dim_t  # [B, H, W, F]
        return _ops.stack([_ops.sin(p[..., 0::2]), _ops.cos(p[..., 1::2])], 4).reshape(b, h, w, num_features)

    return _ops.cat([embed(y), embed(x)], 3).permute(0, 3, 1, 2)


# ---- transformer --------------------------------------------------------------------------

class DetrAttention(Module):
    """Multi-head attention whose queries and keys get position embeddings added (the values
    never do): ``forward(hidden, pos=None, key_value=None, key_pos=None, key_mask=None)``;
    self-attention when ``key_value`` is None (keys then take ``pos``)."""

    def __init__(self, dim, heads, dropout=0.0):
        super().__init__()
        if dim % heads:
            raise ValueError(f"DetrAttention: d_model {dim} is not divisible by {heads} heads")
        self.heads, self.dropout = heads, dropout
        self.k_proj = Linear(dim, dim)
        self.v_proj = Linear(dim, dim)
        self.q_proj = Linear(dim, dim)
        self.o_proj = Linear(dim, dim)

    def forward(self, hidden, pos=None, key_value=None, key_pos=None, key_mask=None):
        if key_value is None:
            key_value, key_pos = hidden, pos
        q_in = hidden if pos is None else hidden + pos
        k_in = key_value if key_pos is None else key_value + key_pos
        b, lq, d = hidden.shape
        lk = key_value.shape[1]
        hd = d // self.heads

        def split(t, n):
            return t.reshape(b, n, self.heads, hd).transpose(1, 2)

        mask = None if key_mask is None else key_mask.reshape(b, 1, 1, lk)
        ctx = F.scaled_dot_product_attention(split(self.q_proj(q_in), lq), split(self.k_proj(k_in), lk),
                                             split(self.v_proj(key_value), lk), attn_mask=mask,
                                             dropout_p=self.dropout if self.training else 0.0)
        return self.o_proj(ctx.transpose(1, 2).reshape(b, lq, d))


class DetrMLP(Module):
    def __init__(self, dim, hidden, dropout, activation_dropout):
        super().__init__()
        self.fc1 = Linear(dim, hidden)
        self.fc2 = Linear(hidden, dim)
        self.p, self.p_act = dropout, activation_dropout

    def forward(self, x):
        x = F.dropout(F.relu(self.fc1(x)), self.p_act, self.training)
        return F.dropout(self.fc2(x), self.p, self.training)


class DetrEncoderLayer(Module):
    """Post-norm: x = LN(x + SA(x, pos)); x = LN(x + MLP(x))."""

    def __init__(self, c):
        super().__init__()
        d = c["d_model"]
        self.self_attn = DetrAttention(d, c["encoder_attention_heads"], c["attention_dropout"])
        self.self_attn_layer_norm = LayerNorm(d)
        self.mlp = DetrMLP(d, c["encoder_ffn_dim"], c["dropout"], c["activation_dropout"])
        self.final_layer_norm = LayerNorm(d)
        self.p = c["dropout"]

    def forward(self, x, pos, mask):
        x = self.self_attn_layer_norm(x + F.dropout(self.self_attn(x, pos, key_mask=mask), self.p, self.training))
        return self.final_layer_norm(x + self.mlp(x))


class DetrDecoderLayer(Module):
    """Post-norm: self-attention over the queries, cross-attention to the encoder, MLP."""

    def __init__(self, c):
        super().__init__()
        d, h = c["d_model"], c["decoder_attention_heads"]
        self.self_attn = DetrAttention(d, h, c["attention_dropout"])
        self.self_attn_layer_norm = LayerNorm(d)
        self.encoder_attn = DetrAttention(d, h, c["attention_dropout"])
        self.encoder_attn_layer_norm = LayerNorm(d)
        self.mlp = DetrMLP(d, c["decoder_ffn_dim"], c["dropout"], c["activation_dropout"])
        self.final_layer_norm = LayerNorm(d)
        self.p = c["dropout"]

    def forward(self, x, query_pos, memory, memory_pos, memory_mask):
        x = self.self_attn_layer_norm(x + F.dropout(self.self_attn(x, query_pos), self.p, self.training))
        y = self.encoder_attn(x, query_pos, memory, memory_pos, memory_mask)
        x = self.encoder_attn_layer_norm(x + F.dropout(y, self.p, self.training))
        return self.final_layer_norm(x + self.mlp(x))


class DetrModel(Module):
    """Backbone, input projection, encoder and decoder; ``forward(pixel_values,
    pixel_mask=None)`` -> (decoder output [B, Q, D], encoder output [B, HW, D])."""

    def __init__(self, c):
        super().__init__()
        d = c["d_model"]
        self.backbone = DetrConvEncoder(c["backbone_config"])
        self.query_position_embeddings = Embedding(c["num_queries"], d)
        self.input_projection = Conv2d(self.backbone.intermediate_channel_sizes[-1], d, 1)
        self.encoder = _Named(layers=ModuleList([DetrEncoderLayer(c) for _ in range(c["encoder_layers"])]))
        self.decoder = _Named(layers=ModuleList([DetrDecoderLayer(c) for _ in range(c["decoder_layers"])]),
                              layernorm=LayerNorm(d))
        self.dropout = Dropout(c["dropout"])
        self.d_model = d

    def freeze_backbone(self):
        """Stops gradients to every backbone parameter (the default, as in the reference)."""
        for p in self.backbone.model.parameters():
            p.requires_grad_(False)

    def unfreeze_backbone(self):
        """Trains the backbone's convolutions too (its batch norms stay frozen)."""
        for p in self.backbone.model.parameters():
            p.requires_grad_(True)

    def forward(self, pixel_values, pixel_mask=None):
        from .. import ones, zeros

        if pixel_values.ndim != 4:
            raise ValueError(f"DETR: expected pixel_values [B, C, H, W], got shape {tuple(pixel_values.shape)}")
        b, _, h, w = pixel_values.shape
        if pixel_mask is None:
            pixel_mask = ones(b, h, w, dtype=pixel_values.dtype)
        elif tuple(pixel_mask.shape) != (b, h, w):
            raise ValueError(f"DETR: pixel_mask should have shape {(b, h, w)}, got {tuple(pixel_mask.shape)}")
        features, mask = self.backbone(pixel_values, pixel_mask)
        pos = sine_position_embedding(mask, self.d_model // 2, dtype=pixel_values.dtype)
        x = self.input_projection(features).flatten(2).transpose(1, 2)  # [B, HW, D]
        pos = pos.flatten(2).transpose(1, 2)
        flat_mask = mask.flatten(1)
        # an all-valid mask is no mask: SDPA then skips the masking step
        key_mask = None if bool(flat_mask.all()) else flat_mask
        x = self.dropout(x)
        for layer in self.encoder.layers:
            x = layer(x, pos, key_mask)
        query_pos = self.query_position_embeddings.weight.unsqueeze(0).expand(b, -1, -1)
        y = zeros(b, query_pos.shape[1], self.d_model, dtype=x.dtype)
        for layer in self.decoder.layers:
            y = layer(y, query_pos, x, pos, key_mask)
        return self.decoder.layernorm(y), x


class DetrMLPPredictionHead(Module):
    """``num_layers`` linear layers with ReLU between them (the box head)."""

    def __init__(self, input_dim, hidden_dim, output_dim, num_layers):
        super().__init__()
        h = [hidden_dim] * (num_layers - 1)
        self.layers = ModuleList([Linear(n, k) for n, k in zip([input_dim] + h, h + [output_dim])])

    def forward(self, x):
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            x = layer(x) if i == last else F.relu(layer(x))
        return x


class DetrForObjectDetection(Module):
    """DetrForObjectDetection(config): ``forward(pixel_values, pixel_mask=None, labels=None)``
    -> ``DetectionOutput`` with ``logits`` [B, Q, num_classes + 1] (the last class is "no
    object") and ``pred_boxes`` [B, Q, 4] (sigmoid; centre x, centre y, width, height relative
    to the image). ``labels`` (one dict per image with ``class_labels`` [n] int64 and
    ``boxes`` [n, 4] in the same format) adds ``loss`` and ``loss_dict``.

    As in the reference, the backbone's parameters start frozen (``model.unfreeze_backbone()``
    trains them)."""

    def __init__(self, config):
        super().__init__()
        unknown = sorted(set(config) - set(DETR_RESNET50) - {"num_labels"})
        if unknown:
            raise TypeError(f"DetrForObjectDetection: unknown config keys {unknown}; known: {sorted(DETR_RESNET50)}")
        c = self.config = dict(DETR_RESNET50, **config)
        c["backbone_config"] = dict(DETR_RESNET50["backbone_config"], **c["backbone_config"])
        if "num_labels" not in c:
            raise ValueError("DetrForObjectDetection: the config needs num_labels (the number of object classes)")
        self.model = DetrModel(c)
        self.class_labels_classifier = Linear(c["d_model"], c["num_labels"] + 1)
        self.bbox_predictor = DetrMLPPredictionHead(c["d_model"], c["d_model"], 4, 3)
        self._init_weights(c["init_std"])
        self.model.freeze_backbone()

    def _init_weights(self, std):
        # transformers' initialisation: the backbone's convolutions Kaiming normal (fan out),
        # everything else N(0, init_std) with zero biases, layer norms one/zero
        backbone = set(id(m) for m in self.model.backbone.modules())
        for m in self.modules():
            if isinstance(m, Conv2d) and id(m) in backbone:
                init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, (Linear, Conv2d)):
                init.normal_(m.weight, 0.0, std)
                if m.bias is not None:
                    init.zeros_(m.bias)
            elif isinstance(m, Embedding):
                init.normal_(m.weight, 0.0, std)
            elif isinstance(m, LayerNorm):
                init.ones_(m.weight)
                init.zeros_(m.bias)

    def forward(self, pixel_values, pixel_mask=None, labels=None):
        hidden, memory = self.model(pixel_values, pixel_mask)
        out = DetectionOutput(logits=self.class_labels_classifier(hidden),
                              pred_boxes=F.sigmoid(self.bbox_predictor(hidden)),
                              last_hidden_state=hidden, encoder_last_hidden_state=memory)
        if labels is not None:
            from .detection import detr_loss

            c = self.config
            out["loss"], out["loss_dict"] = detr_loss(
                out["logits"], out["pred_boxes"], labels, eos_coefficient=c["eos_coefficient"],
                class_cost=c["class_cost"], bbox_cost=c["bbox_cost"], giou_cost=c["giou_cost"],
                bbox_loss_coefficient=c["bbox_loss_coefficient"], giou_loss_coefficient=c["giou_loss_coefficient"])
        return out


@register_model("object-detection", image_input(512), "transformers.DetrForObjectDetection")
def detr_resnet50(num_classes=91, num_queries=100, **config):
    """DETR with a ResNet-50 backbone (41.5M parameters at 91 classes, 18.0M trainable);
    keyword arguments override ``DETR_RESNET50`` (e.g. ``d_model``, ``encoder_layers``,
    ``backbone_config=dict(depths=[1, 1, 1, 1])``)."""
    return DetrForObjectDetection(dict(config, num_labels=num_classes, num_queries=num_queries))
