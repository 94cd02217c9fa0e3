"""More of ``nn``'s modules (issue 16): activations, 3-D and transposed convolutions, instance
and local-response norms, pixel shuffles, fold/unfold, 3-D and Lp pools and unpooling — thin
modules over ``nn.functional``. The padding layers, feature dropouts, EmbeddingBag, distances and
ParameterDict have modules of their own (``padding``, ``dropout``, ``embedding_bag``,
``distance``, ``container``) and are re-exported here."""
from __future__ import annotations

from ... import _core
from ..._creation import empty, ones, zeros
from .. import functional as F
from ..parameter import Parameter
from .layers import _ConvNd, _BatchNorm, _simple
from .module import Module
# the layers that moved to modules of their own stay importable from here
from .container import ParameterDict  # noqa: F401
from .distance import CosineSimilarity, PairwiseDistance  # noqa: F401
from .dropout import AlphaDropout, Dropout1d, Dropout2d, Dropout3d, FeatureAlphaDropout  # noqa: F401
from .embedding_bag import EmbeddingBag  # noqa: F401
from .padding import *  # noqa: F401,F403  (ReflectionPad1d ... ConstantPad3d)

# ---------------- activations ----------------

Softsign = _simple("Softsign", F.softsign, "Softsign(): x / (1 + |x|).")
Tanhshrink = _simple("Tanhshrink", F.tanhshrink, "Tanhshrink(): x - tanh(x).")


class _Act(Module):
    """An activation with keyword hyper-parameters stored as attributes."""

    _fn = None
    _fields = ()

    def __init__(self, *args, **kwargs):
        super().__init__()
        names = list(self._fields)
        vals = dict(zip(names, args))
        vals.update(kwargs)
        for k, default in self._defaults.items():
            setattr(self, k, vals.get(k, default))

    def forward(self, x):
        return type(self)._fn(x, **{k: getattr(self, k) for k in self._defaults})

    def extra_repr(self):
        return ", ".join(f"{k}={getattr(self, k)}" for k in self._defaults)


def _act(name, fn, defaults, doc):
    return type(name, (_Act,), {"_fn": staticmethod(fn), "_fields": tuple(defaults), "_defaults": defaults, "__doc__": doc})


Hardtanh = _act("Hardtanh", F.hardtanh, {"min_val": -1.0, "max_val": 1.0, "inplace": False},
                "Hardtanh(min_val=-1.0, max_val=1.0, inplace=False): clamps to [min_val, max_val].")
Threshold = _act("Threshold", F.threshold, {"threshold": None, "value": None, "inplace": False},
                 "Threshold(threshold, value, inplace=False): x where x > threshold, else value.")
GLU = _act("GLU", F.glu, {"dim": -1}, "GLU(dim=-1): a * sigmoid(b) of the two halves of dim.")
Softmin = _act("Softmin", F.softmin, {"dim": None}, "Softmin(dim=None): softmax(-x).")
Hardshrink = _act("Hardshrink", F.hardshrink, {"lambd": 0.5}, "Hardshrink(lambd=0.5).")
Softshrink = _act("Softshrink", F.softshrink, {"lambd": 0.5}, "Softshrink(lambd=0.5).")
SELU = _act("SELU", F.selu, {"inplace": False}, "SELU(inplace=False): scaled ELU with the self-normalising constants.")
CELU = _act("CELU", F.celu, {"alpha": 1.0, "inplace": False}, "CELU(alpha=1.0, inplace=False).")


class RReLU(Module):
    """RReLU(lower=1/8, upper=1/3, inplace=False): randomized leaky ReLU (random slopes in training)."""

    def __init__(self, lower=1.0 / 8, upper=1.0 / 3, inplace=False):
        super().__init__()
        self.lower, self.upper, self.inplace = lower, upper, inplace

    def forward(self, x):
        return F.rrelu(x, self.lower, self.upper, self.training, self.inplace)


class PReLU(Module):
    """PReLU(num_parameters=1, init=0.25): ``max(0, x) + a * min(0, x)`` with a learnable slope
    ``a`` (one, or one per channel)."""

    def __init__(self, num_parameters=1, init=0.25, device=None, dtype=None):
        super().__init__()
        self.num_parameters, self.init = num_parameters, init
        self.weight = Parameter(empty(num_parameters, dtype=dtype))
        self.reset_parameters()

    def reset_parameters(self):
        init_ = self.init
        with _no_grad():
            self.weight.fill_(init_)

    def forward(self, x):
        return F.prelu(x, self.weight)

    def extra_repr(self):
        return f"num_parameters={self.num_parameters}"


class Softmax2d(Module):
    """Softmax2d(): softmax over the channels of [N, C, H, W] or [C, H, W] input."""

    def forward(self, x):
        if x.ndim not in (3, 4):
            raise ValueError(f"Softmax2d: expected input to be 3D or 4D, got {x.ndim}D instead")
        return F.softmax(x, -3)


def _no_grad():
    from ...autograd import no_grad

    return no_grad()


# ---------------- convolutions ----------------

class Conv3d(_ConvNd):
    """Conv3d(in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
    bias=True, padding_mode='zeros')."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True,
                 padding_mode="zeros", device=None, dtype=None):
        super().__init__(3, in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias, padding_mode,
                         device, dtype)

    def forward(self, x):
        x, padding = self._padded(x)
        return F.conv3d(x, self.weight, self.bias, self.stride, padding, self.dilation, self.groups)


class ConvTranspose1d(_ConvNd):
    """ConvTranspose1d(in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0,
    groups=1, bias=True, dilation=1)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1, bias=True,
                 dilation=1, padding_mode="zeros", device=None, dtype=None):
        super().__init__(1, in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias, padding_mode,
                         device, dtype, True, output_padding)

    def forward(self, x):
        return F.conv_transpose1d(x, self.weight, self.bias, self.stride, self.padding, self.output_padding, self.groups,
                                  self.dilation)


class ConvTranspose3d(_ConvNd):
    """ConvTranspose3d(in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0,
    groups=1, bias=True, dilation=1)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1, bias=True,
                 dilation=1, padding_mode="zeros", device=None, dtype=None):
        super().__init__(3, in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias, padding_mode,
                         device, dtype, True, output_padding)

    def forward(self, x):
        return F.conv_transpose3d(x, self.weight, self.bias, self.stride, self.padding, self.output_padding, self.groups,
                                  self.dilation)


class Unfold(Module):
    """Unfold(kernel_size, dilation=1, padding=0, stride=1): sliding blocks as columns (im2col)."""

    def __init__(self, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self.kernel_size, self.dilation, self.padding, self.stride = kernel_size, dilation, padding, stride

    def forward(self, x):
        return F.unfold(x, self.kernel_size, self.dilation, self.padding, self.stride)


class Fold(Module):
    """Fold(output_size, kernel_size, dilation=1, padding=0, stride=1): columns summed back into an image."""

    def __init__(self, output_size, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self.output_size, self.kernel_size = output_size, kernel_size
        self.dilation, self.padding, self.stride = dilation, padding, stride

    def forward(self, x):
        return F.fold(x, self.output_size, self.kernel_size, self.dilation, self.padding, self.stride)


class PixelShuffle(Module):
    """PixelShuffle(upscale_factor): [*, C r^2, H, W] -> [*, C, H r, W r]."""

    def __init__(self, upscale_factor):
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, x):
        return F.pixel_shuffle(x, self.upscale_factor)


class PixelUnshuffle(Module):
    """PixelUnshuffle(downscale_factor): [*, C, H r, W r] -> [*, C r^2, H, W]."""

    def __init__(self, downscale_factor):
        super().__init__()
        self.downscale_factor = downscale_factor

    def forward(self, x):
        return F.pixel_unshuffle(x, self.downscale_factor)


class ChannelShuffle(Module):
    """ChannelShuffle(groups)."""

    def __init__(self, groups):
        super().__init__()
        self.groups = groups

    def forward(self, x):
        return F.channel_shuffle(x, self.groups)


# ---------------- normalisation ----------------

class _InstanceNorm(Module):
    _n = 2

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=False, track_running_stats=False, device=None, dtype=None):
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        if affine:
            self.weight = Parameter(ones(num_features, dtype=dtype))
            self.bias = Parameter(zeros(num_features, dtype=dtype))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", zeros(num_features, dtype=dtype))
            self.register_buffer("running_var", ones(num_features, dtype=dtype))
            # PyTorch's instance norms carry it (never counted) so their state_dicts load here
            self.register_buffer("num_batches_tracked", _core.zeros([], "int64"))
        else:
            self.running_mean = self.running_var = self.num_batches_tracked = None

    def forward(self, x):
        n = self._n
        if x.ndim not in (n + 1, n + 2):
            raise ValueError(f"expected {n + 1}D or {n + 2}D input (got {x.ndim}D input)")
        if x.ndim == n + 1:
            return self.forward(x.unsqueeze(0)).squeeze(0)
        if self.affine and x.shape[1] != self.num_features:
            raise ValueError(f"expected input's size at dim=1 to match num_features ({self.num_features}), "
                             f"but got: {x.shape[1]}.")
        use_input = self.training or not self.track_running_stats
        return F.instance_norm(x, self.running_mean, self.running_var, self.weight, self.bias, use_input,
                               self.momentum if self.momentum is not None else 0.1, self.eps)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"track_running_stats={self.track_running_stats}")


class InstanceNorm1d(_InstanceNorm):
    """InstanceNorm1d(num_features, eps=1e-5, momentum=0.1, affine=False, track_running_stats=False)."""
    _n = 1


class InstanceNorm2d(_InstanceNorm):
    """InstanceNorm2d(num_features, eps=1e-5, momentum=0.1, affine=False, track_running_stats=False)."""
    _n = 2


class InstanceNorm3d(_InstanceNorm):
    """InstanceNorm3d(num_features, eps=1e-5, momentum=0.1, affine=False, track_running_stats=False)."""
    _n = 3


class BatchNorm3d(_BatchNorm):
    """BatchNorm3d(num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True)."""

    def _check_input_dim(self, x):
        if x.ndim != 5:
            raise ValueError(f"expected 5D input (got {x.ndim}D input)")


class SyncBatchNorm(_BatchNorm):
    """SyncBatchNorm(num_features, ...): batch norm; in one process it is plain batch norm."""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True, process_group=None,
                 device=None, dtype=None):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype)

    def _check_input_dim(self, x):
        if x.ndim < 2:
            raise ValueError(f"expected at least 2D input (got {x.ndim}D input)")


class LocalResponseNorm(Module):
    """LocalResponseNorm(size, alpha=1e-4, beta=0.75, k=1.0)."""

    def __init__(self, size, alpha=1e-4, beta=0.75, k=1.0):
        super().__init__()
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, x):
        return F.local_response_norm(x, self.size, self.alpha, self.beta, self.k)


CrossMapLRN2d = type("CrossMapLRN2d", (LocalResponseNorm,), {"__doc__": "CrossMapLRN2d(size, alpha=1e-4, beta=0.75, k=1): "
                                                                        "local response norm across channels of 4-D input."})


# ---------------- pools ----------------

class MaxPool3d(Module):
    """MaxPool3d(kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False)."""

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False):
        super().__init__()
        self.kernel_size, self.stride, self.padding, self.dilation = kernel_size, stride, padding, dilation
        self.return_indices, self.ceil_mode = return_indices, ceil_mode

    def forward(self, x):
        return F.max_pool3d(x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode, self.return_indices)


class AvgPool3d(Module):
    """AvgPool3d(kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None)."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None):
        super().__init__()
        self.kernel_size, self.stride, self.padding, self.ceil_mode = kernel_size, stride, padding, ceil_mode
        self.count_include_pad, self.divisor_override = count_include_pad, divisor_override

    def forward(self, x):
        return F.avg_pool3d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode, self.count_include_pad,
                            self.divisor_override)


class AdaptiveAvgPool3d(Module):
    """AdaptiveAvgPool3d(output_size)."""

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, x):
        return F.adaptive_avg_pool3d(x, self.output_size)


class AdaptiveMaxPool3d(Module):
    """AdaptiveMaxPool3d(output_size, return_indices=False)."""

    def __init__(self, output_size, return_indices=False):
        super().__init__()
        self.output_size, self.return_indices = output_size, return_indices

    def forward(self, x):
        return F.adaptive_max_pool3d(x, self.output_size, self.return_indices)


def _lp_layer(name, n, fn):
    def __init__(self, norm_type, kernel_size, stride=None, ceil_mode=False):
        Module.__init__(self)
        self.norm_type, self.kernel_size, self.stride, self.ceil_mode = norm_type, kernel_size, stride, ceil_mode

    def forward(self, x):
        return fn(x, float(self.norm_type), self.kernel_size, self.stride, self.ceil_mode)

    return type(name, (Module,), {"__init__": __init__, "forward": forward,
                                  "__doc__": f"{name}(norm_type, kernel_size, stride=None, ceil_mode=False)."})


LPPool1d = _lp_layer("LPPool1d", 1, F.lp_pool1d)
LPPool2d = _lp_layer("LPPool2d", 2, F.lp_pool2d)
LPPool3d = _lp_layer("LPPool3d", 3, F.lp_pool3d)


def _unpool_layer(name, fn):
    def __init__(self, kernel_size, stride=None, padding=0):
        Module.__init__(self)
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding

    def forward(self, x, indices, output_size=None):
        return fn(x, indices, self.kernel_size, self.stride, self.padding, output_size)

    return type(name, (Module,), {"__init__": __init__, "forward": forward,
                                  "__doc__": f"{name}(kernel_size, stride=None, padding=0): the inverse of max pooling."})


MaxUnpool1d = _unpool_layer("MaxUnpool1d", F.max_unpool1d)
MaxUnpool2d = _unpool_layer("MaxUnpool2d", F.max_unpool2d)
MaxUnpool3d = _unpool_layer("MaxUnpool3d", F.max_unpool3d)


class _FractionalMaxPool(Module):
    _fn = None

    def __init__(self, kernel_size, output_size=None, output_ratio=None, return_indices=False, _random_samples=None):
        super().__init__()
        if output_size is None and output_ratio is None:
            raise ValueError("FractionalMaxPool requires specifying either an output size, or a pooling ratio")
        if output_size is not None and output_ratio is not None:
            raise ValueError("only one of output_size and output_ratio may be specified")
        if output_ratio is not None:
            for r in F._pair(output_ratio, 3):
                if not 0 < r < 1:
                    raise ValueError(f"output_ratio must be between 0 and 1 (got {output_ratio})")
        self.kernel_size, self.output_size, self.output_ratio = kernel_size, output_size, output_ratio
        self.return_indices = return_indices
        self.register_buffer("_random_samples", _random_samples)

    def forward(self, x):
        return type(self)._fn(x, self.kernel_size, self.output_size, self.output_ratio, self.return_indices,
                              _random_samples=self._random_samples)


class FractionalMaxPool2d(_FractionalMaxPool):
    """FractionalMaxPool2d(kernel_size, output_size=None, output_ratio=None, return_indices=False)."""
    _fn = staticmethod(F.fractional_max_pool2d)


class FractionalMaxPool3d(_FractionalMaxPool):
    """FractionalMaxPool3d(kernel_size, output_size=None, output_ratio=None, return_indices=False)."""
    _fn = staticmethod(F.fractional_max_pool3d)


class UpsamplingNearest2d(Module):
    """UpsamplingNearest2d(size=None, scale_factor=None)."""

    def __init__(self, size=None, scale_factor=None):
        super().__init__()
        self.size, self.scale_factor = size, scale_factor

    def forward(self, x):
        return F.interpolate(x, self.size, self.scale_factor, mode="nearest")


class UpsamplingBilinear2d(UpsamplingNearest2d):
    """UpsamplingBilinear2d(size=None, scale_factor=None): bilinear with align_corners=True."""

    def forward(self, x):
        return F.interpolate(x, self.size, self.scale_factor, mode="bilinear", align_corners=True)


__all__ = """Softsign Tanhshrink Hardtanh Threshold GLU Softmin Hardshrink Softshrink SELU CELU RReLU PReLU Softmax2d
Conv3d ConvTranspose1d ConvTranspose3d Unfold Fold PixelShuffle PixelUnshuffle ChannelShuffle InstanceNorm1d
InstanceNorm2d InstanceNorm3d BatchNorm3d SyncBatchNorm LocalResponseNorm CrossMapLRN2d MaxPool3d AvgPool3d
AdaptiveAvgPool3d AdaptiveMaxPool3d FractionalMaxPool2d FractionalMaxPool3d LPPool1d LPPool2d LPPool3d MaxUnpool1d MaxUnpool2d MaxUnpool3d UpsamplingNearest2d
UpsamplingBilinear2d Dropout1d Dropout2d Dropout3d AlphaDropout FeatureAlphaDropout EmbeddingBag CosineSimilarity
PairwiseDistance ParameterDict""".split() + [f"{k}Pad{n}d" for k in ("Reflection", "Replication", "Circular", "Zero", "Constant")
                                            for n in (1, 2, 3)]
