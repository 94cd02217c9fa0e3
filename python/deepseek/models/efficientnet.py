"""EfficientNet-B0/B1/B2 (torchvision's layout: ``features`` of MBConv stages, ``classifier``);
B1 and B2 scale B0's channels (rounded to multiples of 8) and stage depths (rounded up)."""
from __future__ import annotations

import math

from ..nn import init
from ..nn.modules.layers import BatchNorm2d, Conv2d, Dropout, Linear, Sequential, SiLU
from ..nn.modules.module import Module
from ._layers import ConvNormActivation, SqueezeExcitation, StochasticDepth, classifier_head, make_divisible
from ._registry import image_input, register_model


class MBConv(Module):
    """Mobile inverted bottleneck with squeeze-excitation and stochastic depth."""

    def __init__(self, expand_ratio, kernel, stride, cin, cout, sd_prob):
        super().__init__()
        self.use_res_connect = stride == 1 and cin == cout
        expanded = make_divisible(cin * expand_ratio, 8)
        layers = []
        if expanded != cin:
            layers.append(ConvNormActivation(cin, expanded, 1, activation_layer=SiLU))
        layers.append(ConvNormActivation(expanded, expanded, kernel, stride, groups=expanded, activation_layer=SiLU))
        layers.append(SqueezeExcitation(expanded, max(1, cin // 4), activation=SiLU))
        layers.append(ConvNormActivation(expanded, cout, 1, activation_layer=None))
        self.block = Sequential(*layers)
        self.stochastic_depth = StochasticDepth(sd_prob)
        self.out_channels = cout

    def forward(self, x):
        out = self.block(x)
        return self.stochastic_depth(out) + x if self.use_res_connect else out


# (expand ratio, kernel, stride, input channels, output channels, layers) for width/depth 1.0
_B0 = [(1, 3, 1, 32, 16, 1), (6, 3, 2, 16, 24, 2), (6, 5, 2, 24, 40, 2), (6, 3, 2, 40, 80, 3),
       (6, 5, 1, 80, 112, 3), (6, 5, 2, 112, 192, 4), (6, 3, 1, 192, 320, 1)]


def _scaled(width_mult, depth_mult):
    """B0's stages with channels x ``width_mult`` and layers x ``depth_mult``, rounded as
    torchvision rounds them."""
    return [(e, k, s, make_divisible(cin * width_mult, 8), make_divisible(cout * width_mult, 8),
             int(math.ceil(n * depth_mult))) for e, k, s, cin, cout, n in _B0]


class EfficientNet(Module):
    """EfficientNet(setting, dropout, stochastic_depth_prob=0.2, num_classes=1000)."""

    def __init__(self, setting, dropout, stochastic_depth_prob=0.2, num_classes=1000):
        super().__init__()
        layers = [ConvNormActivation(3, setting[0][3], 3, 2, activation_layer=SiLU)]
        total = sum(s[5] for s in setting)
        block_id = 0
        for e, k, s, cin, cout, n in setting:
            stage = []
            for i in range(n):
                sd = stochastic_depth_prob * block_id / total
                stage.append(MBConv(e, k, s if i == 0 else 1, cin if i == 0 else cout, cout, sd))
                block_id += 1
            layers.append(Sequential(*stage))
        last_in = setting[-1][4]
        layers.append(ConvNormActivation(last_in, 4 * last_in, 1, activation_layer=SiLU))
        self.features = Sequential(*layers)
        self.classifier = Sequential(Dropout(dropout, inplace=True), Linear(4 * last_in, num_classes))
        for m in self.modules():
            if isinstance(m, Conv2d):
                init.kaiming_normal_(m.weight, mode="fan_out")
                if m.bias is not None:
                    init.zeros_(m.bias)
            elif isinstance(m, BatchNorm2d):
                init.ones_(m.weight)
                init.zeros_(m.bias)
            elif isinstance(m, Linear):
                r = 1.0 / math.sqrt(m.out_features)
                init.uniform_(m.weight, -r, r)
                init.zeros_(m.bias)

    def forward(self, x):
        return self.classifier(classifier_head(self.features(x)))


@register_model("image-classification", image_input(), "torchvision.models")
def efficientnet_b0(num_classes=1000, dropout=0.2, stochastic_depth_prob=0.2):
    """EfficientNet-B0 (5.3M parameters at 1000 classes)."""
    return EfficientNet(_B0, dropout, stochastic_depth_prob, num_classes)


@register_model("image-classification", image_input(240), "torchvision.models")
def efficientnet_b1(num_classes=1000, dropout=0.2, stochastic_depth_prob=0.2):
    """EfficientNet-B1: B0 with 1.1x the depth (7.8M parameters at 1000 classes)."""
    return EfficientNet(_scaled(1.0, 1.1), dropout, stochastic_depth_prob, num_classes)


@register_model("image-classification", image_input(288), "torchvision.models")
def efficientnet_b2(num_classes=1000, dropout=0.3, stochastic_depth_prob=0.2):
    """EfficientNet-B2: B0 with 1.1x the width and 1.2x the depth (9.1M parameters at 1000 classes)."""
    return EfficientNet(_scaled(1.1, 1.2), dropout, stochastic_depth_prob, num_classes)
