"""VGG-11/16 with batch norm (torchvision's layout: ``features`` Sequential, 7x7 adaptive
average pool, three-layer ``classifier``)."""
from __future__ import annotations

from .. import _ops
from ..nn.modules.layers import BatchNorm2d, Conv2d, Dropout, Linear, ReLU, Sequential
from ..nn.modules.module import Module
from ..nn.modules.pooling import AdaptiveAvgPool2d, MaxPool2d
from ._layers import init_vision
from ._registry import image_input, register_model

_CFGS = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
}


def _features(cfg, batch_norm):
    layers, cin = [], 3
    for v in cfg:
        if v == "M":
            layers.append(MaxPool2d(2, 2))
            continue
        layers.append(Conv2d(cin, v, 3, padding=1))
        if batch_norm:
            layers.append(BatchNorm2d(v))
        layers.append(ReLU(inplace=True))
        cin = v
    return Sequential(*layers)


class VGG(Module):
    """VGG(features, num_classes=1000, dropout=0.5, hidden=4096); ``hidden`` (the width of the
    two hidden classifier layers, 4096 in the reference) shrinks the model for small runs."""

    def __init__(self, features, num_classes=1000, dropout=0.5, hidden=4096):
        super().__init__()
        self.features = features
        self.avgpool = AdaptiveAvgPool2d((7, 7))
        self.classifier = Sequential(
            Linear(512 * 7 * 7, hidden), ReLU(True), Dropout(dropout),
            Linear(hidden, hidden), ReLU(True), Dropout(dropout),
            Linear(hidden, num_classes),
        )
        init_vision(self)

    def forward(self, x):
        x = self.avgpool(self.features(x))
        return self.classifier(_ops.flatten(x, 1))


@register_model("image-classification", image_input(), "torchvision.models")
def vgg11_bn(num_classes=1000, **kw):
    """VGG-11 with batch normalisation (configuration A)."""
    return VGG(_features(_CFGS["A"], True), num_classes, **kw)


@register_model("image-classification", image_input(), "torchvision.models")
def vgg16_bn(num_classes=1000, **kw):
    """VGG-16 with batch normalisation (configuration D)."""
    return VGG(_features(_CFGS["D"], True), num_classes, **kw)
