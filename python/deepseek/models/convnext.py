"""ConvNeXt-T (torchvision's layout: ``features`` alternating stages and downsampling
Sequentials, per-block ``layer_scale``, ``classifier`` = LayerNorm2d, Flatten, Linear)."""
from __future__ import annotations

from functools import partial

from ..nn import functional as F
from ..nn import init
from ..nn.modules.layers import GELU, Conv2d, Flatten, LayerNorm, Linear, Sequential
from ..nn.modules.module import Module
from ..nn.parameter import Parameter
from ._layers import ConvNormActivation, StochasticDepth
from ._registry import image_input, register_model


class LayerNorm2d(LayerNorm):
    """LayerNorm over the channels of an [N, C, H, W] tensor."""

    def forward(self, x):
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class _Permute(Module):
    def __init__(self, dims):
        super().__init__()
        self.dims = dims

    def forward(self, x):
        return x.permute(*self.dims)


class CNBlock(Module):
    """Depthwise 7x7 -> LayerNorm -> Linear 4x -> GELU -> Linear, scaled by ``layer_scale``."""

    def __init__(self, dim, layer_scale, sd_prob):
        super().__init__()
        self.block = Sequential(
            Conv2d(dim, dim, 7, padding=3, groups=dim, bias=True), _Permute([0, 2, 3, 1]), LayerNorm(dim, eps=1e-6),
            Linear(dim, 4 * dim), GELU(), Linear(4 * dim, dim), _Permute([0, 3, 1, 2]),
        )
        from .. import ones

        self.layer_scale = Parameter(ones(dim, 1, 1) * layer_scale)
        self.stochastic_depth = StochasticDepth(sd_prob)

    def forward(self, x):
        return self.stochastic_depth(self.layer_scale * self.block(x)) + x


class ConvNeXt(Module):
    """ConvNeXt(block_setting, stochastic_depth_prob, layer_scale=1e-6, num_classes=1000);
    ``block_setting``: (input channels, output channels or None, depth) per stage."""

    def __init__(self, block_setting, stochastic_depth_prob=0.0, layer_scale=1e-6, num_classes=1000):
        super().__init__()
        norm = partial(LayerNorm2d, eps=1e-6)
        c0 = block_setting[0][0]
        layers = [ConvNormActivation(3, c0, 4, 4, 0, norm_layer=norm, activation_layer=None, bias=True)]
        total = sum(s[2] for s in block_setting)
        block_id = 0
        for cin, cout, n in block_setting:
            stage = []
            for _ in range(n):
                stage.append(CNBlock(cin, layer_scale, stochastic_depth_prob * block_id / (total - 1.0)))
                block_id += 1
            layers.append(Sequential(*stage))
            if cout is not None:
                layers.append(Sequential(norm(cin), Conv2d(cin, cout, 2, 2)))
        self.features = Sequential(*layers)
        last = block_setting[-1][1] if block_setting[-1][1] is not None else block_setting[-1][0]
        self.classifier = Sequential(norm(last), Flatten(1), Linear(last, num_classes))
        for m in self.modules():
            if isinstance(m, (Conv2d, Linear)):
                init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    init.zeros_(m.bias)

    def forward(self, x):
        return self.classifier(F.adaptive_avg_pool2d(self.features(x), 1))


@register_model("image-classification", image_input(), "torchvision.models")
def convnext_tiny(num_classes=1000, stochastic_depth_prob=0.1, **kw):
    """ConvNeXt-T (28.6M parameters at 1000 classes)."""
    setting = [(96, 192, 3), (192, 384, 3), (384, 768, 9), (768, None, 3)]
    return ConvNeXt(setting, stochastic_depth_prob, num_classes=num_classes, **kw)
