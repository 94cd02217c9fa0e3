"""RegNetY-400MF/800MF and RegNetX-400MF (torchvision's layout: ``stem``, ``trunk_output.block<i>.block<i>-<j>`` with
``f.a``/``f.b``/``f.se``/``f.c`` and an optional ``proj``, ``fc``)."""
from __future__ import annotations

import math
from collections import OrderedDict

from .. import _ops
from ..nn import functional as F
from ..nn import init
from ..nn.modules.layers import BatchNorm2d, Conv2d, Linear, ReLU, Sequential
from ..nn.modules.module import Module
from ._layers import ConvNormActivation, SqueezeExcitation, make_divisible
from ._registry import image_input, register_model


def block_params(depth, w_0, w_a, w_m, group_width, bottleneck_multiplier=1.0):
    """Stage widths, depths and group widths of a RegNet from its linear width
    parametrisation (quantised to multiples of 8, made divisible by the group width)."""
    widths_cont = [i * w_a + w_0 for i in range(depth)]
    caps = [round(math.log(w / w_0) / math.log(w_m)) for w in widths_cont]
    widths = [int(round(w_0 * w_m ** c / 8) * 8) for c in caps]
    stage_widths, stage_depths = [], []
    for w in widths:
        if stage_widths and stage_widths[-1] == w:
            stage_depths[-1] += 1
        else:
            stage_widths.append(w)
            stage_depths.append(1)
    b = bottleneck_multiplier
    groups = [min(group_width, int(w * b)) for w in stage_widths]
    stage_widths = [int(make_divisible(int(w * b), g) / b) for w, g in zip(stage_widths, groups)]
    return stage_widths, stage_depths, groups


class _Bottleneck(Sequential):
    def __init__(self, win, wout, stride, group_width, se_ratio):
        wb = wout
        g = wb // group_width
        layers = OrderedDict([("a", ConvNormActivation(win, wb, 1)), ("b", ConvNormActivation(wb, wb, 3, stride, groups=g))])
        if se_ratio:
            layers["se"] = SqueezeExcitation(wb, int(round(se_ratio * win)))
        layers["c"] = ConvNormActivation(wb, wout, 1, activation_layer=None)
        super().__init__(layers)


class ResBottleneckBlock(Module):
    """Residual bottleneck with grouped 3x3 and squeeze-excitation; 1x1 projection when the
    shape changes."""

    def __init__(self, win, wout, stride, group_width, se_ratio):
        super().__init__()
        self.proj = None
        if win != wout or stride != 1:
            self.proj = ConvNormActivation(win, wout, 1, stride, activation_layer=None)
        self.f = _Bottleneck(win, wout, stride, group_width, se_ratio)
        self.activation = ReLU(inplace=True)

    def forward(self, x):
        short = x if self.proj is None else self.proj(x)
        return self.activation(short + self.f(x))


class RegNet(Module):
    """RegNet(depth, w_0, w_a, w_m, group_width, se_ratio, num_classes=1000)."""

    def __init__(self, depth, w_0, w_a, w_m, group_width, se_ratio=0.25, num_classes=1000, stem_width=32):
        super().__init__()
        self.stem = ConvNormActivation(3, stem_width, 3, 2)
        widths, depths, groups = block_params(depth, w_0, w_a, w_m, group_width)
        stages, w = OrderedDict(), stem_width
        for i, (wo, d, g) in enumerate(zip(widths, depths, groups)):
            stage = Sequential()
            for j in range(d):
                stage.add_module(f"block{i + 1}-{j}", ResBottleneckBlock(w if j == 0 else wo, wo, 2 if j == 0 else 1, g, se_ratio))
            stages[f"block{i + 1}"] = stage
            w = wo
        self.trunk_output = Sequential(stages)
        self.fc = Linear(w, num_classes)
        for m in self.modules():
            if isinstance(m, Conv2d):
                fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
                init.normal_(m.weight, 0.0, math.sqrt(2.0 / fan_out))
            elif isinstance(m, BatchNorm2d):
                init.ones_(m.weight)
                init.zeros_(m.bias)
            elif isinstance(m, Linear):
                init.normal_(m.weight, 0.0, 0.01)
                init.zeros_(m.bias)

    def forward(self, x):
        x = self.trunk_output(self.stem(x))
        return self.fc(_ops.flatten(F.adaptive_avg_pool2d(x, 1), 1))


@register_model("image-classification", image_input(), "torchvision.models")
def regnet_y_400mf(num_classes=1000, **kw):
    """RegNetY-400MF (4.3M parameters at 1000 classes)."""
    return RegNet(16, 48, 27.89, 2.09, 8, 0.25, num_classes, **kw)


@register_model("image-classification", image_input(), "torchvision.models")
def regnet_y_800mf(num_classes=1000, **kw):
    """RegNetY-800MF (6.4M parameters at 1000 classes)."""
    return RegNet(14, 56, 38.84, 2.4, 16, 0.25, num_classes, **kw)


@register_model("image-classification", image_input(), "torchvision.models")
def regnet_x_400mf(num_classes=1000, **kw):
    """RegNetX-400MF: RegNet without squeeze-excitation (5.5M parameters at 1000 classes)."""
    return RegNet(22, 24, 24.48, 2.54, 16, None, num_classes, **kw)
