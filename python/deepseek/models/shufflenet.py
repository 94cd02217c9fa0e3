"""ShuffleNetV2 x0.5 and x1.0 (torchvision's layout: ``conv1``, ``stage2..4``, ``conv5``, ``fc``)."""
from __future__ import annotations

from .. import _ops
from ..nn.modules.layers import BatchNorm2d, Conv2d, Linear, ReLU, Sequential
from ..nn.modules.module import Module
from ..nn.modules.pooling import MaxPool2d
from ._registry import image_input, register_model


def channel_shuffle(x, groups):
    """Interleaves the channels of ``groups`` groups: [N, g*c, H, W] -> groups of c mixed."""
    n, c, h, w = x.shape
    x = x.reshape(n, groups, c // groups, h, w).transpose(1, 2)
    return x.reshape(n, c, h, w)


def _dw(c, stride):
    return Conv2d(c, c, 3, stride, 1, groups=c, bias=False)


class InvertedResidual(Module):
    """Splits the channels (stride 1) or duplicates the input (stride 2) into two branches,
    concatenates them and shuffles the channels."""

    def __init__(self, inp, oup, stride):
        super().__init__()
        if not 1 <= stride <= 3:
            raise ValueError(f"ShuffleNetV2: illegal stride {stride}")
        self.stride = stride
        bf = oup // 2
        if stride > 1:
            self.branch1 = Sequential(_dw(inp, stride), BatchNorm2d(inp), Conv2d(inp, bf, 1, bias=False),
                                      BatchNorm2d(bf), ReLU(inplace=True))
        else:
            self.branch1 = Sequential()
        self.branch2 = Sequential(
            Conv2d(inp if stride > 1 else bf, bf, 1, bias=False), BatchNorm2d(bf), ReLU(inplace=True),
            _dw(bf, stride), BatchNorm2d(bf), Conv2d(bf, bf, 1, bias=False), BatchNorm2d(bf), ReLU(inplace=True),
        )

    def forward(self, x):
        if self.stride == 1:
            x1, x2 = x.chunk(2, 1)
            out = _ops.cat([x1, self.branch2(x2)], 1)
        else:
            out = _ops.cat([self.branch1(x), self.branch2(x)], 1)
        return channel_shuffle(out, 2)


class ShuffleNetV2(Module):
    """ShuffleNetV2(stages_repeats, stages_out_channels, num_classes=1000)."""

    def __init__(self, stages_repeats, stages_out_channels, num_classes=1000):
        super().__init__()
        cin, c = 3, stages_out_channels[0]
        self.conv1 = Sequential(Conv2d(cin, c, 3, 2, 1, bias=False), BatchNorm2d(c), ReLU(inplace=True))
        self.maxpool = MaxPool2d(3, 2, 1)
        cin = c
        for i, (repeats, cout) in enumerate(zip(stages_repeats, stages_out_channels[1:])):
            blocks = [InvertedResidual(cin, cout, 2)] + [InvertedResidual(cout, cout, 1) for _ in range(repeats - 1)]
            setattr(self, f"stage{i + 2}", Sequential(*blocks))
            cin = cout
        c = stages_out_channels[-1]
        self.conv5 = Sequential(Conv2d(cin, c, 1, 1, 0, bias=False), BatchNorm2d(c), ReLU(inplace=True))
        self.fc = Linear(c, num_classes)

    def forward(self, x):
        x = self.maxpool(self.conv1(x))
        x = self.stage4(self.stage3(self.stage2(x)))
        x = self.conv5(x).mean([2, 3])
        return self.fc(x)


@register_model("image-classification", image_input(), "torchvision.models")
def shufflenet_v2_x1_0(num_classes=1000, **kw):
    """ShuffleNetV2 with 1.0x channel width (2.3M parameters at 1000 classes)."""
    return ShuffleNetV2([4, 8, 4], [24, 116, 232, 464, 1024], num_classes, **kw)


@register_model("image-classification", image_input(), "torchvision.models")
def shufflenet_v2_x0_5(num_classes=1000, **kw):
    """ShuffleNetV2 with 0.5x channel width (1.4M parameters at 1000 classes)."""
    return ShuffleNetV2([4, 8, 4], [24, 48, 96, 192, 1024], num_classes, **kw)
