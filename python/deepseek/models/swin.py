"""Swin-T in torchvision's layout (``features`` alternating stages of shifted-window blocks
and ``PatchMerging``, relative position bias tables with their ``relative_position_index``
buffers, ``norm``, ``head``)."""
from __future__ import annotations

from .. import _ops
from ..nn import functional as F
from ..nn import init
from ..nn.modules.layers import GELU, Conv2d, Dropout, LayerNorm, Linear, Sequential
from ..nn.modules.module import Module
from ..nn.parameter import Parameter
from ._layers import StochasticDepth
from ._registry import image_input, register_model
from .convnext import _Permute


def _relative_position_index(ws):
    """[ws*ws*ws*ws] index into the (2ws-1)^2 bias table for every (query, key) pair."""
    import numpy as np

    from .. import int64, tensor

    coords = np.stack(np.meshgrid(np.arange(ws), np.arange(ws), indexing="ij")).reshape(2, -1)
    rel = (coords[:, :, None] - coords[:, None, :]).transpose(1, 2, 0) + (ws - 1)
    return tensor((rel[:, :, 0] * (2 * ws - 1) + rel[:, :, 1]).reshape(-1), dtype=int64)


def _shift_mask(ph, pw, ws, shift):
    """Additive [windows, ws*ws, ws*ws] mask: -100 between tokens from different regions of
    the rolled map (they are not neighbours in the image)."""
    import numpy as np

    from .. import tensor

    img = np.zeros((ph, pw), np.float32)
    count = 0
    for hs in (slice(0, -ws), slice(-ws, -shift[0]), slice(-shift[0], None)):
        for wsl in (slice(0, -ws), slice(-ws, -shift[1]), slice(-shift[1], None)):
            img[hs, wsl] = count
            count += 1
    win = img.reshape(ph // ws, ws, pw // ws, ws).transpose(0, 2, 1, 3).reshape(-1, ws * ws)
    diff = win[:, None, :] - win[:, :, None]
    return tensor(np.where(diff != 0, -100.0, 0.0).astype(np.float32))


class ShiftedWindowAttention(Module):
    """Multi-head self-attention inside (optionally shifted) non-overlapping windows with a
    learned relative position bias."""

    def __init__(self, dim, window_size, shift_size, num_heads, attention_dropout=0.0, dropout=0.0):
        super().__init__()
        from .. import zeros

        self.window_size, self.shift_size, self.num_heads = window_size, shift_size, num_heads
        self.attention_dropout, self.dropout = attention_dropout, dropout
        self.qkv = Linear(dim, dim * 3)
        self.proj = Linear(dim, dim)
        ws = window_size[0]
        self.relative_position_bias_table = Parameter(zeros((2 * ws - 1) * (2 * ws - 1), num_heads))
        self.register_buffer("relative_position_index", _relative_position_index(ws))
        init.trunc_normal_(self.relative_position_bias_table, std=0.02)

    def forward(self, x):
        B, H, W, C = x.shape
        ws = self.window_size[0]
        pad_r, pad_b = (ws - W % ws) % ws, (ws - H % ws) % ws
        x = F.pad(x, (0, 0, 0, pad_r, 0, pad_b))
        ph, pw = x.shape[1], x.shape[2]
        shift = [0 if ws >= ph else self.shift_size[0], 0 if ws >= pw else self.shift_size[1]]
        if sum(shift) > 0:
            x = _ops.roll(x, shifts=(-shift[0], -shift[1]), dims=(1, 2))
        nw = (ph // ws) * (pw // ws)
        x = x.reshape(B, ph // ws, ws, pw // ws, ws, C).permute(0, 1, 3, 2, 4, 5).reshape(B * nw, ws * ws, C)
        n, hd = ws * ws, C // self.num_heads
        qkv = self.qkv(x).reshape(B * nw, n, 3, self.num_heads, hd).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0] * (hd ** -0.5), qkv[1], qkv[2]
        attn = q @ k.transpose(-2, -1)
        bias = self.relative_position_bias_table[self.relative_position_index].reshape(n, n, -1).permute(2, 0, 1)
        attn = attn + bias.unsqueeze(0)
        if sum(shift) > 0:
            mask = _shift_mask(ph, pw, ws, shift)
            attn = attn.reshape(B, nw, self.num_heads, n, n) + mask.unsqueeze(1).unsqueeze(0)
            attn = attn.reshape(-1, self.num_heads, n, n)
        attn = F.dropout(F.softmax(attn, dim=-1), self.attention_dropout, self.training)
        x = (attn @ v).transpose(1, 2).reshape(B * nw, n, C)
        x = F.dropout(self.proj(x), self.dropout, self.training)
        x = x.reshape(B, ph // ws, pw // ws, ws, ws, C).permute(0, 1, 3, 2, 4, 5).reshape(B, ph, pw, C)
        if sum(shift) > 0:
            x = _ops.roll(x, shifts=(shift[0], shift[1]), dims=(1, 2))
        return x[:, :H, :W, :]


class SwinTransformerBlock(Module):
    def __init__(self, dim, num_heads, window_size, shift_size, mlp_ratio=4.0, dropout=0.0, attention_dropout=0.0,
                 stochastic_depth_prob=0.0):
        super().__init__()
        self.norm1 = LayerNorm(dim, eps=1e-5)
        self.attn = ShiftedWindowAttention(dim, window_size, shift_size, num_heads, attention_dropout, dropout)
        self.stochastic_depth = StochasticDepth(stochastic_depth_prob)
        self.norm2 = LayerNorm(dim, eps=1e-5)
        hidden = int(dim * mlp_ratio)
        self.mlp = Sequential(Linear(dim, hidden), GELU(), Dropout(dropout), Linear(hidden, dim), Dropout(dropout))

    def forward(self, x):
        x = x + self.stochastic_depth(self.attn(self.norm1(x)))
        return x + self.stochastic_depth(self.mlp(self.norm2(x)))


class PatchMerging(Module):
    """Concatenates each 2x2 neighbourhood (4C channels), normalises, projects to 2C."""

    def __init__(self, dim):
        super().__init__()
        self.reduction = Linear(4 * dim, 2 * dim, bias=False)
        self.norm = LayerNorm(4 * dim)

    def forward(self, x):
        H, W = x.shape[-3], x.shape[-2]
        x = F.pad(x, (0, 0, 0, W % 2, 0, H % 2))
        x = _ops.cat([x[..., 0::2, 0::2, :], x[..., 1::2, 0::2, :], x[..., 0::2, 1::2, :], x[..., 1::2, 1::2, :]], -1)
        return self.reduction(self.norm(x))


class SwinTransformer(Module):
    """SwinTransformer(patch_size, embed_dim, depths, num_heads, window_size,
    stochastic_depth_prob=0.1, num_classes=1000)."""

    def __init__(self, patch_size, embed_dim, depths, num_heads, window_size, stochastic_depth_prob=0.1,
                 num_classes=1000, mlp_ratio=4.0, dropout=0.0, attention_dropout=0.0):
        super().__init__()
        layers = [Sequential(Conv2d(3, embed_dim, patch_size, patch_size), _Permute([0, 2, 3, 1]), LayerNorm(embed_dim))]
        total, block_id = sum(depths), 0
        for i, depth in enumerate(depths):
            dim = embed_dim * 2 ** i
            stage = []
            for j in range(depth):
                sd = stochastic_depth_prob * block_id / (total - 1)
                shift = [0 if j % 2 == 0 else w // 2 for w in window_size]
                stage.append(SwinTransformerBlock(dim, num_heads[i], window_size, shift, mlp_ratio, dropout,
                                                  attention_dropout, sd))
                block_id += 1
            layers.append(Sequential(*stage))
            if i < len(depths) - 1:
                layers.append(PatchMerging(dim))
        self.features = Sequential(*layers)
        nf = embed_dim * 2 ** (len(depths) - 1)
        self.norm = LayerNorm(nf)
        self.head = Linear(nf, num_classes)
        for m in self.modules():
            if isinstance(m, Linear):
                init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    init.zeros_(m.bias)

    def forward(self, x):
        x = self.norm(self.features(x))  # [N, H, W, C]
        return self.head(x.mean([1, 2]))


@register_model("image-classification", image_input(224), "torchvision.models")
def swin_t(num_classes=1000, stochastic_depth_prob=0.2, **kw):
    """Swin-T (28.3M parameters at 1000 classes)."""
    return SwinTransformer(4, 96, [2, 2, 6, 2], [3, 6, 12, 24], [7, 7], stochastic_depth_prob, num_classes, **kw)
