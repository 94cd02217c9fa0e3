"""ResNet-18/34/50/101/152, ResNeXt-50 32x4d and Wide-ResNet-50-2 with torchvision's v1.5
architecture (stride on the 3x3 conv of the bottleneck), default initialisation and
``state_dict`` key names."""
from __future__ import annotations

from .. import _ops
from ..nn import init
from ..nn.modules.layers import BatchNorm2d, Conv2d, Linear, ReLU, Sequential
from ..nn.modules.module import Module
from ..nn.modules.pooling import AdaptiveAvgPool2d, MaxPool2d
from ._layers import bn_act
from ._registry import image_input, register_model


def _conv3x3(i, o, stride=1, groups=1, dilation=1):
    return Conv2d(i, o, 3, stride, dilation, groups=groups, dilation=dilation, bias=False)


def _conv1x1(i, o, stride=1):
    return Conv2d(i, o, 1, stride, bias=False)


class BasicBlock(Module):
    """Two 3x3 convolutions with a residual connection (ResNet-18/34)."""
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None, groups=1, base_width=64, dilation=1):
        super().__init__()
        if groups != 1 or base_width != 64:
            raise ValueError("BasicBlock only supports groups=1 and base_width=64")
        if dilation > 1:
            raise ValueError("BasicBlock does not support dilation > 1")
        self.conv1 = _conv3x3(inplanes, planes, stride)
        self.bn1 = BatchNorm2d(planes)
        self.relu = ReLU(inplace=True)
        self.conv2 = _conv3x3(planes, planes)
        self.bn2 = BatchNorm2d(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = bn_act(self.bn1, self.conv1(x), self.relu)
        return bn_act(self.bn2, self.conv2(out), self.relu, identity)


class Bottleneck(Module):
    """1x1 reduce, 3x3 (grouped for ResNeXt, wider for Wide-ResNet), 1x1 expand x4."""
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None, groups=1, base_width=64, dilation=1):
        super().__init__()
        width = int(planes * (base_width / 64.0)) * groups
        self.conv1 = _conv1x1(inplanes, width)
        self.bn1 = BatchNorm2d(width)
        self.conv2 = _conv3x3(width, width, stride, groups, dilation)
        self.bn2 = BatchNorm2d(width)
        self.conv3 = _conv1x1(width, planes * self.expansion)
        self.bn3 = BatchNorm2d(planes * self.expansion)
        self.relu = ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = bn_act(self.bn1, self.conv1(x), self.relu)
        out = bn_act(self.bn2, self.conv2(out), self.relu)
        return bn_act(self.bn3, self.conv3(out), self.relu, identity)


class ResNet(Module):
    """ResNet(block, layers, num_classes=1000, zero_init_residual=False, groups=1,
    width_per_group=64, replace_stride_with_dilation=None); the last option trades the stride
    of stages 2-4 for dilation (dense feature maps for segmentation)."""

    def __init__(self, block, layers, num_classes=1000, zero_init_residual=False, groups=1, width_per_group=64,
                 replace_stride_with_dilation=None):
        super().__init__()
        if len(layers) != 4:
            raise ValueError(f"ResNet: layers should have 4 stage depths, got {layers!r}")
        self.inplanes = 64
        self.dilation = 1
        self.groups, self.base_width = groups, width_per_group
        self.conv1 = Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = BatchNorm2d(64)
        self.relu = ReLU(inplace=True)
        self.maxpool = MaxPool2d(3, 2, 1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        dil = replace_stride_with_dilation or [False, False, False]
        if len(dil) != 3:
            raise ValueError(f"ResNet: replace_stride_with_dilation should have 3 entries, got {dil!r}")
        self.layer2 = self._make_layer(block, 128, layers[1], 2, dil[0])
        self.layer3 = self._make_layer(block, 256, layers[2], 2, dil[1])
        self.layer4 = self._make_layer(block, 512, layers[3], 2, dil[2])
        self.avgpool = AdaptiveAvgPool2d((1, 1))
        self.fc = Linear(512 * block.expansion, num_classes)
        for m in self.modules():
            if isinstance(m, Conv2d):
                init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, BatchNorm2d):
                init.constant_(m.weight, 1)
                init.constant_(m.bias, 0)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, Bottleneck):
                    init.constant_(m.bn3.weight, 0)
                elif isinstance(m, BasicBlock):
                    init.constant_(m.bn2.weight, 0)

    def _make_layer(self, block, planes, blocks, stride=1, dilate=False):
        downsample = None
        previous_dilation = self.dilation
        if dilate:
            self.dilation *= stride
            stride = 1
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = Sequential(_conv1x1(self.inplanes, planes * block.expansion, stride), BatchNorm2d(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, downsample, self.groups, self.base_width, previous_dilation)]
        self.inplanes = planes * block.expansion
        for _ in range(1, blocks):
            layers.append(block(self.inplanes, planes, groups=self.groups, base_width=self.base_width, dilation=self.dilation))
        return Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(bn_act(self.bn1, self.conv1(x), self.relu))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = _ops.flatten(self.avgpool(x), 1)
        return self.fc(x)


class ResNetBackbone(Module):
    """The convolutional trunk of a ResNet (``conv1`` ... ``layer4``, no pooling or ``fc``)
    returning ``{"out": layer4, "aux": layer3}`` feature maps."""

    def __init__(self, resnet):
        super().__init__()
        for name in ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4"):
            self.add_module(name, getattr(resnet, name))

    def forward(self, x):
        x = self.maxpool(bn_act(self.bn1, self.conv1(x), self.relu))
        aux = self.layer3(self.layer2(self.layer1(x)))
        return {"out": self.layer4(aux), "aux": aux}


_TV = "torchvision.models"


@register_model("image-classification", image_input(), _TV)
def resnet18(num_classes=1000, **kw):
    """ResNet-18 (11.7M parameters at 1000 classes)."""
    return ResNet(BasicBlock, [2, 2, 2, 2], num_classes, **kw)


@register_model("image-classification", image_input(), _TV)
def resnet34(num_classes=1000, **kw):
    """ResNet-34."""
    return ResNet(BasicBlock, [3, 4, 6, 3], num_classes, **kw)


@register_model("image-classification", image_input(), _TV)
def resnet50(num_classes=1000, **kw):
    """ResNet-50 (25.6M parameters at 1000 classes)."""
    return ResNet(Bottleneck, [3, 4, 6, 3], num_classes, **kw)


@register_model("image-classification", image_input(), _TV)
def resnet101(num_classes=1000, **kw):
    """ResNet-101."""
    return ResNet(Bottleneck, [3, 4, 23, 3], num_classes, **kw)


@register_model("image-classification", image_input(), _TV)
def resnet152(num_classes=1000, **kw):
    """ResNet-152."""
    return ResNet(Bottleneck, [3, 8, 36, 3], num_classes, **kw)


@register_model("image-classification", image_input(), _TV)
def resnext50_32x4d(num_classes=1000, **kw):
    """ResNeXt-50 32x4d: 32 groups of width 4 in every bottleneck's 3x3 conv."""
    return ResNet(Bottleneck, [3, 4, 6, 3], num_classes, groups=32, width_per_group=4, **kw)


@register_model("image-classification", image_input(), _TV)
def wide_resnet50_2(num_classes=1000, **kw):
    """Wide-ResNet-50-2: bottlenecks twice as wide as ResNet-50's."""
    return ResNet(Bottleneck, [3, 4, 6, 3], num_classes, width_per_group=128, **kw)


# The names deepseek.nn has exported since the first ResNet.
ResNet18, ResNet34, ResNet50, ResNet101, ResNet152 = resnet18, resnet34, resnet50, resnet101, resnet152
