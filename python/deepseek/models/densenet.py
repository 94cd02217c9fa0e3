"""DenseNet-121/169/201 (torchvision's layout: ``features.denseblock<i>.denselayer<j>``,
``features.transition<i>``, ``classifier``)."""
from __future__ import annotations

from collections import OrderedDict

from .. import _ops
from ..nn import functional as F
from ..nn import init
from ..nn.modules.layers import BatchNorm2d, Conv2d, Linear, ReLU, Sequential
from ..nn.modules.module import Module
from ..nn.modules.pooling import AvgPool2d, MaxPool2d
from ._layers import bn_act
from ._registry import image_input, register_model


class _DenseLayer(Module):
    def __init__(self, cin, growth_rate, bn_size, drop_rate):
        super().__init__()
        self.norm1 = BatchNorm2d(cin)
        self.relu1 = ReLU(inplace=True)
        self.conv1 = Conv2d(cin, bn_size * growth_rate, 1, bias=False)
        self.norm2 = BatchNorm2d(bn_size * growth_rate)
        self.relu2 = ReLU(inplace=True)
        self.conv2 = Conv2d(bn_size * growth_rate, growth_rate, 3, padding=1, bias=False)
        self.drop_rate = float(drop_rate)

    def forward(self, features):
        x = _ops.cat(features, 1)
        x = self.conv1(bn_act(self.norm1, x, self.relu1))
        x = self.conv2(bn_act(self.norm2, x, self.relu2))
        if self.drop_rate > 0:
            x = F.dropout(x, self.drop_rate, self.training)
        return x


class _DenseBlock(Module):
    def __init__(self, num_layers, cin, bn_size, growth_rate, drop_rate):
        super().__init__()
        for i in range(num_layers):
            self.add_module(f"denselayer{i + 1}", _DenseLayer(cin + i * growth_rate, growth_rate, bn_size, drop_rate))

    def forward(self, x):
        features = [x]
        for layer in self._modules.values():
            features.append(layer(features))
        return _ops.cat(features, 1)


class _Transition(Sequential):
    def __init__(self, cin, cout):
        super().__init__(OrderedDict([("norm", BatchNorm2d(cin)), ("relu", ReLU(inplace=True)),
                                      ("conv", Conv2d(cin, cout, 1, bias=False)), ("pool", AvgPool2d(2, 2))]))


class DenseNet(Module):
    """DenseNet(growth_rate=32, block_config=(6, 12, 24, 16), num_init_features=64, bn_size=4,
    drop_rate=0, num_classes=1000)."""

    def __init__(self, growth_rate=32, block_config=(6, 12, 24, 16), num_init_features=64, bn_size=4,
                 drop_rate=0.0, num_classes=1000):
        super().__init__()
        self.features = Sequential(OrderedDict([
            ("conv0", Conv2d(3, num_init_features, 7, 2, 3, bias=False)), ("norm0", BatchNorm2d(num_init_features)),
            ("relu0", ReLU(inplace=True)), ("pool0", MaxPool2d(3, 2, 1)),
        ]))
        n = num_init_features
        for i, num_layers in enumerate(block_config):
            self.features.add_module(f"denseblock{i + 1}", _DenseBlock(num_layers, n, bn_size, growth_rate, drop_rate))
            n += num_layers * growth_rate
            if i != len(block_config) - 1:
                self.features.add_module(f"transition{i + 1}", _Transition(n, n // 2))
                n //= 2
        self.features.add_module("norm5", BatchNorm2d(n))
        self.classifier = Linear(n, num_classes)
        for m in self.modules():
            if isinstance(m, Conv2d):
                init.kaiming_normal_(m.weight)
            elif isinstance(m, BatchNorm2d):
                init.ones_(m.weight)
                init.zeros_(m.bias)
            elif isinstance(m, Linear):
                init.zeros_(m.bias)

    def forward(self, x):
        x = F.relu(self.features(x))
        return self.classifier(_ops.flatten(F.adaptive_avg_pool2d(x, 1), 1))


@register_model("image-classification", image_input(), "torchvision.models")
def densenet121(num_classes=1000, **kw):
    """DenseNet-121 (8.0M parameters at 1000 classes)."""
    return DenseNet(32, (6, 12, 24, 16), 64, num_classes=num_classes, **kw)


@register_model("image-classification", image_input(), "torchvision.models")
def densenet169(num_classes=1000, **kw):
    """DenseNet-169 (14.1M parameters at 1000 classes)."""
    return DenseNet(32, (6, 12, 32, 32), 64, num_classes=num_classes, **kw)


@register_model("image-classification", image_input(), "torchvision.models")
def densenet201(num_classes=1000, **kw):
    """DenseNet-201 (20.0M parameters at 1000 classes)."""
    return DenseNet(32, (6, 12, 48, 32), 64, num_classes=num_classes, **kw)
