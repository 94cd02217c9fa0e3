"""MobileNetV2 and MobileNetV3-Small/Large (torchvision's layout: ``features`` of
conv-norm-activation Sequentials and inverted residual blocks, ``classifier``)."""
from __future__ import annotations

from functools import partial

from ..nn import functional as F
from ..nn.modules.layers import BatchNorm2d, Conv2d, Dropout, Hardswish, Linear, ReLU, ReLU6, Sequential
from ..nn.modules.module import Module
from ._layers import ConvNormActivation, SqueezeExcitation, classifier_head, init_vision, make_divisible
from ._registry import image_input, register_model


class InvertedResidualV2(Module):
    """Expand (1x1) -> depthwise 3x3 -> linear projection (1x1), residual when shapes agree."""

    def __init__(self, inp, oup, stride, expand_ratio):
        super().__init__()
        hidden = int(round(inp * expand_ratio))
        self.use_res_connect = stride == 1 and inp == oup
        layers = []
        if expand_ratio != 1:
            layers.append(ConvNormActivation(inp, hidden, 1, activation_layer=ReLU6))
        layers += [ConvNormActivation(hidden, hidden, 3, stride, groups=hidden, activation_layer=ReLU6),
                   Conv2d(hidden, oup, 1, 1, 0, bias=False), BatchNorm2d(oup)]
        self.conv = Sequential(*layers)
        self.out_channels = oup

    def forward(self, x):
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


class MobileNetV2(Module):
    """MobileNetV2(num_classes=1000, width_mult=1.0, dropout=0.2)."""

    def __init__(self, num_classes=1000, width_mult=1.0, round_nearest=8, dropout=0.2):
        super().__init__()
        setting = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2], [6, 96, 3, 1], [6, 160, 3, 2], [6, 320, 1, 1]]
        cin = make_divisible(32 * width_mult, round_nearest)
        self.last_channel = make_divisible(1280 * max(1.0, width_mult), round_nearest)
        features = [ConvNormActivation(3, cin, stride=2, activation_layer=ReLU6)]
        for t, c, n, s in setting:
            cout = make_divisible(c * width_mult, round_nearest)
            for i in range(n):
                features.append(InvertedResidualV2(cin, cout, s if i == 0 else 1, t))
                cin = cout
        features.append(ConvNormActivation(cin, self.last_channel, 1, activation_layer=ReLU6))
        self.features = Sequential(*features)
        self.classifier = Sequential(Dropout(dropout), Linear(self.last_channel, num_classes))
        init_vision(self)

    def forward(self, x):
        return self.classifier(classifier_head(self.features(x)))


class InvertedResidualV3(Module):
    """MobileNetV3 block: optional expansion, depthwise conv, optional squeeze-excitation
    (hard-sigmoid gate), linear projection."""

    def __init__(self, cin, kernel, expanded, cout, use_se, activation, stride, norm_layer):
        super().__init__()
        self.use_res_connect = stride == 1 and cin == cout
        act = Hardswish if activation == "HS" else ReLU
        layers = []
        if expanded != cin:
            layers.append(ConvNormActivation(cin, expanded, 1, norm_layer=norm_layer, activation_layer=act))
        layers.append(ConvNormActivation(expanded, expanded, kernel, stride, groups=expanded, norm_layer=norm_layer,
                                         activation_layer=act))
        if use_se:
            layers.append(SqueezeExcitation(expanded, make_divisible(expanded // 4, 8), scale_activation=F.hardsigmoid))
        layers.append(ConvNormActivation(expanded, cout, 1, norm_layer=norm_layer, activation_layer=None))
        self.block = Sequential(*layers)
        self.out_channels = cout

    def forward(self, x):
        out = self.block(x)
        return out + x if self.use_res_connect else out


# (input, kernel, expanded, output, squeeze-excitation, activation, stride)
_V3_LARGE = [
    (16, 3, 16, 16, False, "RE", 1), (16, 3, 64, 24, False, "RE", 2), (24, 3, 72, 24, False, "RE", 1),
    (24, 5, 72, 40, True, "RE", 2), (40, 5, 120, 40, True, "RE", 1), (40, 5, 120, 40, True, "RE", 1),
    (40, 3, 240, 80, False, "HS", 2), (80, 3, 200, 80, False, "HS", 1), (80, 3, 184, 80, False, "HS", 1),
    (80, 3, 184, 80, False, "HS", 1), (80, 3, 480, 112, True, "HS", 1), (112, 3, 672, 112, True, "HS", 1),
    (112, 5, 672, 160, True, "HS", 2), (160, 5, 960, 160, True, "HS", 1), (160, 5, 960, 160, True, "HS", 1),
]
_V3_SMALL = [
    (16, 3, 16, 16, True, "RE", 2), (16, 3, 72, 24, False, "RE", 2), (24, 3, 88, 24, False, "RE", 1),
    (24, 5, 96, 40, True, "HS", 2), (40, 5, 240, 40, True, "HS", 1), (40, 5, 240, 40, True, "HS", 1),
    (40, 5, 120, 48, True, "HS", 1), (48, 5, 144, 48, True, "HS", 1), (48, 5, 288, 96, True, "HS", 2),
    (96, 5, 576, 96, True, "HS", 1), (96, 5, 576, 96, True, "HS", 1),
]


class MobileNetV3(Module):
    """MobileNetV3(setting, last_channel, num_classes=1000, dropout=0.2); batch norms use
    eps=0.001 and momentum=0.01 as the reference."""

    def __init__(self, setting, last_channel, num_classes=1000, dropout=0.2):
        super().__init__()
        norm = partial(BatchNorm2d, eps=0.001, momentum=0.01)
        first = setting[0][0]
        layers = [ConvNormActivation(3, first, 3, 2, norm_layer=norm, activation_layer=Hardswish)]
        for cin, k, exp, cout, se, act, s in setting:
            layers.append(InvertedResidualV3(cin, k, exp, cout, se, act, s, norm))
        last_in = setting[-1][3]
        layers.append(ConvNormActivation(last_in, 6 * last_in, 1, norm_layer=norm, activation_layer=Hardswish))
        self.features = Sequential(*layers)
        self.classifier = Sequential(Linear(6 * last_in, last_channel), Hardswish(), Dropout(dropout),
                                     Linear(last_channel, num_classes))
        init_vision(self)

    def forward(self, x):
        return self.classifier(classifier_head(self.features(x)))


@register_model("image-classification", image_input(), "torchvision.models")
def mobilenet_v2(num_classes=1000, **kw):
    """MobileNetV2 (3.5M parameters at 1000 classes)."""
    return MobileNetV2(num_classes, **kw)


@register_model("image-classification", image_input(), "torchvision.models")
def mobilenet_v3_large(num_classes=1000, **kw):
    """MobileNetV3-Large (5.5M parameters at 1000 classes)."""
    return MobileNetV3(_V3_LARGE, 1280, num_classes, **kw)


@register_model("image-classification", image_input(), "torchvision.models")
def mobilenet_v3_small(num_classes=1000, **kw):
    """MobileNetV3-Small (2.5M parameters at 1000 classes)."""
    return MobileNetV3(_V3_SMALL, 1024, num_classes, **kw)
