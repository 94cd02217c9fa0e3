"""SqueezeNet 1.0 and 1.1 (torchvision's layout: Fire modules in ``features``, a 1x1-conv
``classifier``)."""
from __future__ import annotations

from .. import _ops
from ..nn import init
from ..nn.modules.layers import Conv2d, Dropout, ReLU, Sequential
from ..nn.modules.module import Module
from ..nn.modules.pooling import AdaptiveAvgPool2d, MaxPool2d
from ._registry import image_input, register_model


class Fire(Module):
    """Squeeze (1x1) then expand with concatenated 1x1 and 3x3 convolutions."""

    def __init__(self, cin, squeeze, expand1x1, expand3x3):
        super().__init__()
        self.squeeze = Conv2d(cin, squeeze, 1)
        self.squeeze_activation = ReLU(inplace=True)
        self.expand1x1 = Conv2d(squeeze, expand1x1, 1)
        self.expand1x1_activation = ReLU(inplace=True)
        self.expand3x3 = Conv2d(squeeze, expand3x3, 3, padding=1)
        self.expand3x3_activation = ReLU(inplace=True)

    def forward(self, x):
        x = self.squeeze_activation(self.squeeze(x))
        return _ops.cat([self.expand1x1_activation(self.expand1x1(x)), self.expand3x3_activation(self.expand3x3(x))], 1)


class SqueezeNet(Module):
    """SqueezeNet(version="1_0" | "1_1", num_classes=1000, dropout=0.5); 1.1 reaches 1.0's
    accuracy with 2.4x less computation (a 3x3 stem and earlier pooling)."""

    def __init__(self, version="1_1", num_classes=1000, dropout=0.5):
        super().__init__()
        self.num_classes = num_classes
        if version == "1_0":
            self.features = Sequential(
                Conv2d(3, 96, 7, stride=2), ReLU(inplace=True), MaxPool2d(3, 2, ceil_mode=True),
                Fire(96, 16, 64, 64), Fire(128, 16, 64, 64), Fire(128, 32, 128, 128), MaxPool2d(3, 2, ceil_mode=True),
                Fire(256, 32, 128, 128), Fire(256, 48, 192, 192), Fire(384, 48, 192, 192), Fire(384, 64, 256, 256),
                MaxPool2d(3, 2, ceil_mode=True), Fire(512, 64, 256, 256),
            )
        elif version == "1_1":
            self.features = Sequential(
                Conv2d(3, 64, 3, stride=2), ReLU(inplace=True), MaxPool2d(3, 2, ceil_mode=True),
                Fire(64, 16, 64, 64), Fire(128, 16, 64, 64), MaxPool2d(3, 2, ceil_mode=True),
                Fire(128, 32, 128, 128), Fire(256, 32, 128, 128), MaxPool2d(3, 2, ceil_mode=True),
                Fire(256, 48, 192, 192), Fire(384, 48, 192, 192), Fire(384, 64, 256, 256), Fire(512, 64, 256, 256),
            )
        else:
            raise ValueError(f"SqueezeNet: unsupported version {version!r}: 1_0 or 1_1 expected")
        final_conv = Conv2d(512, num_classes, 1)
        self.classifier = Sequential(Dropout(dropout), final_conv, ReLU(inplace=True), AdaptiveAvgPool2d((1, 1)))
        for m in self.modules():
            if isinstance(m, Conv2d):
                if m is final_conv:
                    init.normal_(m.weight, 0.0, 0.01)
                else:
                    init.kaiming_uniform_(m.weight)
                init.zeros_(m.bias)

    def forward(self, x):
        return _ops.flatten(self.classifier(self.features(x)), 1)


@register_model("image-classification", image_input(), "torchvision.models")
def squeezenet1_0(num_classes=1000, **kw):
    """SqueezeNet 1.0 (1.2M parameters at 1000 classes)."""
    return SqueezeNet("1_0", num_classes, **kw)


@register_model("image-classification", image_input(), "torchvision.models")
def squeezenet1_1(num_classes=1000, **kw):
    """SqueezeNet 1.1 (1.2M parameters at 1000 classes)."""
    return SqueezeNet("1_1", num_classes, **kw)
