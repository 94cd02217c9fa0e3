"""Vision Transformers: ViT-B/16 in torchvision's layout (``conv_proj``, ``class_token``,
``encoder.layers.encoder_layer_<i>`` with a fused ``in_proj_weight``, ``heads.head``) and
ViT-Ti/16 in timm's (``patch_embed.proj``, ``cls_token``, ``pos_embed``, ``blocks.<i>`` with
``attn.qkv``, ``head``)."""
from __future__ import annotations

import math
from collections import OrderedDict

from .. import _ops
from ..nn import functional as F
from ..nn import init
from ..nn.modules.attention import MultiheadAttention
from ..nn.modules.layers import GELU, Conv2d, Dropout, LayerNorm, Linear, Sequential
from ..nn.modules.module import Module
from ..nn.parameter import Parameter
from ._registry import image_input, register_model


def _zeros(*shape):
    from .. import zeros

    return zeros(*shape)


def _patches(conv, x, patch):
    n, _, h, w = x.shape
    if h % patch or w % patch:
        raise ValueError(f"ViT: input size {h}x{w} is not a multiple of the patch size {patch}")
    x = conv(x)  # [N, D, h/p, w/p]
    return x.reshape(n, x.shape[1], -1).permute(0, 2, 1)  # [N, patches, D]


class EncoderBlock(Module):
    """Pre-norm transformer block: x + MHA(LN(x)), then x + MLP(LN(x))."""

    def __init__(self, heads, dim, mlp_dim, dropout=0.0, attention_dropout=0.0):
        super().__init__()
        self.ln_1 = LayerNorm(dim, eps=1e-6)
        self.self_attention = MultiheadAttention(dim, heads, dropout=attention_dropout, batch_first=True)
        self.dropout = Dropout(dropout)
        self.ln_2 = LayerNorm(dim, eps=1e-6)
        self.mlp = Sequential(Linear(dim, mlp_dim), GELU(), Dropout(dropout), Linear(mlp_dim, dim), Dropout(dropout))
        for m in self.mlp.modules():
            if isinstance(m, Linear):
                init.xavier_uniform_(m.weight)
                init.normal_(m.bias, std=1e-6)

    def forward(self, x):
        y = self.ln_1(x)
        y, _ = self.self_attention(y, y, y, need_weights=False)
        x = x + self.dropout(y)
        return x + self.mlp(self.ln_2(x))


class Encoder(Module):
    def __init__(self, seq_length, num_layers, heads, dim, mlp_dim, dropout, attention_dropout):
        super().__init__()
        self.pos_embedding = Parameter(_zeros(1, seq_length, dim))
        init.normal_(self.pos_embedding, std=0.02)
        self.dropout = Dropout(dropout)
        self.layers = Sequential(OrderedDict(
            (f"encoder_layer_{i}", EncoderBlock(heads, dim, mlp_dim, dropout, attention_dropout)) for i in range(num_layers)))
        self.ln = LayerNorm(dim, eps=1e-6)

    def forward(self, x):
        if x.shape[1] != self.pos_embedding.shape[1]:
            raise ValueError(f"ViT: {x.shape[1] - 1} patches, but the model was built for "
                             f"{self.pos_embedding.shape[1] - 1} (pass image_size= to the constructor)")
        return self.ln(self.layers(self.dropout(x + self.pos_embedding)))


class VisionTransformer(Module):
    """torchvision-style ViT(image_size, patch_size, num_layers, num_heads, hidden_dim,
    mlp_dim, num_classes=1000)."""

    def __init__(self, image_size, patch_size, num_layers, num_heads, hidden_dim, mlp_dim, dropout=0.0,
                 attention_dropout=0.0, num_classes=1000):
        super().__init__()
        if image_size % patch_size:
            raise ValueError("ViT: image_size must be divisible by patch_size")
        self.image_size, self.patch_size, self.hidden_dim = image_size, patch_size, hidden_dim
        self.conv_proj = Conv2d(3, hidden_dim, patch_size, patch_size)
        seq = (image_size // patch_size) ** 2 + 1
        self.class_token = Parameter(_zeros(1, 1, hidden_dim))
        self.encoder = Encoder(seq, num_layers, num_heads, hidden_dim, mlp_dim, dropout, attention_dropout)
        self.heads = Sequential(OrderedDict([("head", Linear(hidden_dim, num_classes))]))
        init.trunc_normal_(self.conv_proj.weight, std=math.sqrt(1.0 / (3 * patch_size * patch_size)))
        init.zeros_(self.conv_proj.bias)
        init.zeros_(self.heads.head.weight)
        init.zeros_(self.heads.head.bias)

    def forward(self, x):
        x = _patches(self.conv_proj, x, self.patch_size)
        cls = self.class_token.expand(x.shape[0], -1, -1)
        x = self.encoder(_ops.cat([cls, x], 1))
        return self.heads(x[:, 0])


class _Attention(Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.num_heads = heads
        self.qkv = Linear(dim, dim * 3)
        self.proj = Linear(dim, dim)

    def forward(self, x):
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, c // self.num_heads).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2])
        return self.proj(out.transpose(1, 2).reshape(b, n, c))


class _Mlp(Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = Linear(dim, hidden)
        self.act = GELU()
        self.fc2 = Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class _Block(Module):
    def __init__(self, dim, heads, mlp_ratio):
        super().__init__()
        self.norm1 = LayerNorm(dim, eps=1e-6)
        self.attn = _Attention(dim, heads)
        self.norm2 = LayerNorm(dim, eps=1e-6)
        self.mlp = _Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class _PatchEmbed(Module):
    def __init__(self, patch, dim):
        super().__init__()
        self.patch = patch
        self.proj = Conv2d(3, dim, patch, patch)

    def forward(self, x):
        return _patches(self.proj, x, self.patch)


class TimmVisionTransformer(Module):
    """timm-style ViT(img_size, patch_size, embed_dim, depth, num_heads, mlp_ratio=4,
    num_classes=1000) with class-token pooling."""

    def __init__(self, img_size=224, patch_size=16, embed_dim=192, depth=12, num_heads=3, mlp_ratio=4.0, num_classes=1000):
        super().__init__()
        self.cls_token = Parameter(_zeros(1, 1, embed_dim))
        self.pos_embed = Parameter(_zeros(1, (img_size // patch_size) ** 2 + 1, embed_dim))
        self.patch_embed = _PatchEmbed(patch_size, embed_dim)
        self.blocks = Sequential(*[_Block(embed_dim, num_heads, mlp_ratio) for _ in range(depth)])
        self.norm = LayerNorm(embed_dim, eps=1e-6)
        self.head = Linear(embed_dim, num_classes)
        init.trunc_normal_(self.pos_embed, std=0.02)
        init.normal_(self.cls_token, std=1e-6)
        for m in self.modules():
            if isinstance(m, Linear):
                init.trunc_normal_(m.weight, std=0.02)
                init.zeros_(m.bias)

    def forward(self, x):
        x = self.patch_embed(x)
        x = _ops.cat([self.cls_token.expand(x.shape[0], -1, -1), x], 1)
        if x.shape[1] != self.pos_embed.shape[1]:
            raise ValueError(f"ViT: {x.shape[1] - 1} patches, but the model was built for "
                             f"{self.pos_embed.shape[1] - 1} (pass img_size= to the constructor)")
        x = self.norm(self.blocks(x + self.pos_embed))
        return self.head(x[:, 0])


@register_model("image-classification", image_input(224), "torchvision.models")
def vit_b_16(num_classes=1000, image_size=224, **kw):
    """ViT-B/16 (86.6M parameters at 1000 classes); ``image_size`` sets the position table."""
    return VisionTransformer(image_size, 16, 12, 12, 768, 3072, num_classes=num_classes, **kw)


@register_model("image-classification", image_input(224), "timm")
def vit_tiny_patch16_224(num_classes=1000, img_size=224, **kw):
    """ViT-Ti/16 (5.7M parameters at 1000 classes); ``img_size`` sets the position table."""
    return TimmVisionTransformer(img_size, 16, 192, 12, 3, num_classes=num_classes, **kw)
