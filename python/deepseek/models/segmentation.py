"""FCN-ResNet50 (torchvision's layout: ``backbone.*``, ``classifier``, optional
``aux_classifier``) and U-Net for semantic segmentation, in the module layout of the widely used PyTorch U-Net
(``inc``, ``down1..4`` with ``maxpool_conv``, ``up1..4`` with ``up`` and ``conv``, ``outc``;
every block a ``double_conv`` of two conv-BN-ReLU)."""
from __future__ import annotations

from .. import _ops
from ..nn import functional as F
from ..nn.modules.layers import BatchNorm2d, Conv2d, ConvTranspose2d, Dropout, ReLU, Sequential, Upsample
from ..nn.modules.module import Module
from ..nn.modules.pooling import MaxPool2d
from ._registry import image_input, register_model


class DoubleConv(Module):
    """(3x3 conv, BN, ReLU) twice."""

    def __init__(self, cin, cout, mid=None):
        super().__init__()
        mid = mid or cout
        self.double_conv = Sequential(Conv2d(cin, mid, 3, padding=1, bias=False), BatchNorm2d(mid), ReLU(inplace=True),
                                      Conv2d(mid, cout, 3, padding=1, bias=False), BatchNorm2d(cout), ReLU(inplace=True))

    def forward(self, x):
        return self.double_conv(x)


class Down(Module):
    """2x2 max pool then DoubleConv."""

    def __init__(self, cin, cout):
        super().__init__()
        self.maxpool_conv = Sequential(MaxPool2d(2), DoubleConv(cin, cout))

    def forward(self, x):
        return self.maxpool_conv(x)


class Up(Module):
    """Upsample (transposed conv, or bilinear), pad to the skip connection's size,
    concatenate, DoubleConv."""

    def __init__(self, cin, cout, bilinear=False):
        super().__init__()
        if bilinear:
            self.up = Upsample(scale_factor=2, mode="bilinear", align_corners=True)
            self.conv = DoubleConv(cin, cout, cin // 2)
        else:
            self.up = ConvTranspose2d(cin, cin // 2, 2, stride=2)
            self.conv = DoubleConv(cin, cout)

    def forward(self, x1, x2):
        x1 = self.up(x1)
        dy, dx = x2.shape[2] - x1.shape[2], x2.shape[3] - x1.shape[3]
        if dy or dx:  # odd sizes: the upsampled map is one short
            x1 = F.pad(x1, [dx // 2, dx - dx // 2, dy // 2, dy - dy // 2])
        return self.conv(_ops.cat([x2, x1], 1))


class UNet(Module):
    """UNet(n_channels=3, n_classes=2, bilinear=False): [N, C, H, W] -> [N, n_classes, H, W]
    logits (any H, W; sizes not divisible by 16 are padded inside the up path)."""

    def __init__(self, n_channels=3, n_classes=2, bilinear=False):
        super().__init__()
        self.n_channels, self.n_classes, self.bilinear = n_channels, n_classes, bilinear
        f = 2 if bilinear else 1
        self.inc = DoubleConv(n_channels, 64)
        self.down1, self.down2, self.down3 = Down(64, 128), Down(128, 256), Down(256, 512)
        self.down4 = Down(512, 1024 // f)
        self.up1, self.up2 = Up(1024, 512 // f, bilinear), Up(512, 256 // f, bilinear)
        self.up3, self.up4 = Up(256, 128 // f, bilinear), Up(128, 64, bilinear)
        self.outc = _OutConv(64, n_classes)

    def forward(self, x):
        if x.ndim != 4 or x.shape[1] != self.n_channels:
            raise ValueError(f"UNet: expected [N, {self.n_channels}, H, W], got {tuple(x.shape)}")
        x1 = self.inc(x)
        x2 = self.down1(x1)
        x3 = self.down2(x2)
        x4 = self.down3(x3)
        x = self.up1(self.down4(x4), x4)
        x = self.up2(x, x3)
        x = self.up3(x, x2)
        return self.outc(self.up4(x, x1))


class _OutConv(Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv = Conv2d(cin, cout, 1)

    def forward(self, x):
        return self.conv(x)


@register_model("segmentation", image_input(256), "PyTorch U-Net layout")
def unet(n_channels=3, n_classes=2, bilinear=False):
    """U-Net (31.0M parameters with transposed-conv upsampling, 2 classes)."""
    return UNet(n_channels, n_classes, bilinear)


class FCNHead(Sequential):
    """3x3 conv (C/4 channels), BN, ReLU, dropout 0.1, 1x1 conv to the classes."""

    def __init__(self, cin, channels):
        inter = cin // 4
        super().__init__(Conv2d(cin, inter, 3, padding=1, bias=False), BatchNorm2d(inter), ReLU(), Dropout(0.1),
                         Conv2d(inter, channels, 1))


class FCN(Module):
    """Fully convolutional network: a dilated backbone (output stride 8), an FCN head, logits
    upsampled bilinearly to the input size. ``forward`` returns ``{"out": ..., "aux": ...}``
    (``aux`` only with an auxiliary head)."""

    def __init__(self, backbone, classifier, aux_classifier=None):
        super().__init__()
        self.backbone, self.classifier, self.aux_classifier = backbone, classifier, aux_classifier

    def forward(self, x):
        size = tuple(x.shape[-2:])
        feats = self.backbone(x)
        out = {"out": F.interpolate(self.classifier(feats["out"]), size=size, mode="bilinear", align_corners=False)}
        if self.aux_classifier is not None:
            out["aux"] = F.interpolate(self.aux_classifier(feats["aux"]), size=size, mode="bilinear", align_corners=False)
        return out


@register_model("segmentation", image_input(520), "torchvision.models.segmentation")
def fcn_resnet50(num_classes=21, aux_loss=False):
    """FCN-ResNet50 (33.0M parameters at 21 classes; 35.3M with the auxiliary head)."""
    from .resnet import ResNetBackbone, resnet50

    backbone = ResNetBackbone(resnet50(replace_stride_with_dilation=[False, True, True]))
    return FCN(backbone, FCNHead(2048, num_classes), FCNHead(1024, num_classes) if aux_loss else None)
