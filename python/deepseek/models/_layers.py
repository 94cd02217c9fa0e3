"""Building blocks the vision models share, with torchvision's submodule layout so the
``state_dict`` names match (``<i>.0`` conv, ``<i>.1`` norm; ``fc1``/``fc2`` in the
squeeze-and-excitation block)."""
from __future__ import annotations

from .. import _ops
from ..nn import functional as F
from ..nn import init
from ..nn.modules.layers import BatchNorm2d, Conv2d, Linear, ReLU, Sequential, _BatchNorm
from ..nn.modules.module import Module


def _plain(m, cls):
    """Whether ``m`` is a ``cls`` whose forward is the stock one and that has no hooks: only
    then may a fused kernel stand in for calling it."""
    return (isinstance(m, cls) and type(m).forward is cls.forward and not m._forward_hooks
            and not m._forward_pre_hooks)


def bn_act(bn, x, relu=None, residual=None):
    """``relu(bn(x) + residual)`` (the add when ``residual`` is given, the activation when
    ``relu`` is) as one fused core call (``F._batch_norm_act``) when ``bn`` is a stock batch
    norm and ``relu`` a stock ``ReLU``, neither with hooks; otherwise the modules are called
    as they are, so hooks, subclasses and swapped activations keep working. Same result and
    running-statistics update either way."""
    if _plain(bn, _BatchNorm) and (relu is None or _plain(relu, ReLU)):
        return F._batch_norm_act(x, *bn._batch_norm_args(x), residual=residual, relu=relu is not None)
    out = bn(x)
    if residual is not None:
        out = out + residual
    return relu(out) if relu is not None else out


def make_divisible(v, divisor, min_value=None):
    """Rounds a channel count to a multiple of ``divisor``, never below 90% of ``v``."""
    min_value = divisor if min_value is None else min_value
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


class ConvNormActivation(Sequential):
    """Conv2d -> norm -> activation as one Sequential (keys ``0.weight``, ``1.*``)."""

    def __init__(self, cin, cout, kernel_size=3, stride=1, padding=None, groups=1, norm_layer=BatchNorm2d,
                 activation_layer=ReLU, dilation=1, bias=None):
        if padding is None:
            padding = (kernel_size - 1) // 2 * dilation
        if bias is None:
            bias = norm_layer is None
        layers = [Conv2d(cin, cout, kernel_size, stride, padding, dilation=dilation, groups=groups, bias=bias)]
        if norm_layer is not None:
            layers.append(norm_layer(cout))
        if activation_layer is not None:
            layers.append(activation_layer())
        super().__init__(*layers)
        self.out_channels = cout

    def forward(self, x):
        mods = list(self._modules.values())
        if len(mods) == 3 and isinstance(mods[2], ReLU):
            # batch norm and ReLU as one fused call (bn_act runs them one by one when either
            # module has hooks or is not the stock one)
            return bn_act(mods[1], mods[0](x), mods[2])
        return super().forward(x)


class SqueezeExcitation(Module):
    """Channel attention: global average -> fc1 (1x1 conv) -> activation -> fc2 -> gate."""

    def __init__(self, channels, squeeze_channels, activation=ReLU, scale_activation=None):
        super().__init__()
        self.fc1 = Conv2d(channels, squeeze_channels, 1)
        self.fc2 = Conv2d(squeeze_channels, channels, 1)
        self.activation = activation()
        self._gate = F.sigmoid if scale_activation is None else scale_activation

    def forward(self, x):
        s = F.adaptive_avg_pool2d(x, 1)
        s = self.fc2(self.activation(self.fc1(s)))
        return x * self._gate(s)


class StochasticDepth(Module):
    """Drops the whole residual branch of each sample with probability ``p`` while training
    (rescaling the kept ones by 1/(1-p)); the identity in eval mode."""

    def __init__(self, p):
        super().__init__()
        self.p = p

    def forward(self, x):
        if not self.training or self.p == 0.0:
            return x
        from .. import rand

        keep = 1.0 - self.p
        mask = (rand(x.shape[0], *([1] * (x.ndim - 1))) < keep).to(x.dtype)
        return x * mask / keep


def init_vision(model, conv="kaiming_fan_out", linear="normal_0.01"):
    """torchvision's usual initialisation: convolutions Kaiming normal (fan-out) with zero
    bias, norms one/zero, linear layers N(0, 0.01) with zero bias."""
    for m in model.modules():
        if isinstance(m, Conv2d):
            if conv == "kaiming_fan_out":
                init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                init.zeros_(m.bias)
        elif isinstance(m, BatchNorm2d) or type(m).__name__ in ("GroupNorm", "LayerNorm"):
            if getattr(m, "weight", None) is not None:
                init.ones_(m.weight)
                init.zeros_(m.bias)
        elif isinstance(m, Linear) and linear == "normal_0.01":
            init.normal_(m.weight, 0, 0.01)
            init.zeros_(m.bias)


def classifier_head(x):
    """Global average pool and flatten: [N, C, H, W] -> [N, C]."""
    return _ops.flatten(F.adaptive_avg_pool2d(x, 1), 1)
