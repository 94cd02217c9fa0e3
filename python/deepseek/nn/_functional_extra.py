"""More of ``nn.functional``, composed from the core's primitives and the existing functional
layers: 3-D and transposed convolutions, ``unfold``/``fold``, pixel shuffles, activations,
3-D and Lp pools, unpooling, feature dropouts, ``embedding_bag``, ``grid_sample``,
``affine_grid``, ``gumbel_softmax`` and bicubic ``interpolate``.
"""
from __future__ import annotations

import math

import numpy as np

from .. import _core, _creation, _ops, _random, _shape_extra
from .._core import Tensor
from . import functional as _F

_pair = _F._pair


# ---------------- convolutions ----------------

def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """conv3d(input [N, C, D, H, W] or [C, D, H, W], weight [O, C/groups, KD, KH, KW], bias=None,
    stride=1, padding=0 (ints, triples, 'same' or 'valid'), dilation=1, groups=1).

    Computed as a sum over the depth taps of 2-D convolutions of depth slices.
    """
    if input.ndim == 4:
        return conv3d(input.unsqueeze(0), weight, bias, stride, padding, dilation, groups).squeeze(0)
    if input.ndim != 5:
        raise RuntimeError(f"conv3d: expected a 4-D (unbatched) or 5-D (batched) input, got shape {tuple(input.shape)}")
    stride, dilation = _pair(stride, 3), _pair(dilation, 3)
    kernel = tuple(weight.shape[2:])
    if isinstance(padding, str) and padding == "same" and any(s != 1 for s in stride):
        raise RuntimeError("conv3d: padding='same' is not supported for strided convolutions")
    pads = _F._conv_padding(padding, kernel, dilation, 3)
    _F._conv_check("conv3d", input, weight, bias, stride, pads, dilation, groups, 3)
    N, C = input.shape[0], input.shape[1]
    if C != weight.shape[1] * groups:
        raise RuntimeError(f"conv3d: expected input {tuple(input.shape)} to have {weight.shape[1] * groups} channels "
                           f"(weight {tuple(weight.shape)}, groups={groups}), but got {C} channels instead")
    flat = []
    for lo, hi in reversed(pads):
        flat += [lo, hi]
    x = _core.pad(input, flat, 0.0) if any(flat) else input
    D = x.shape[2]
    OD = (D - dilation[0] * (kernel[0] - 1) - 1) // stride[0] + 1
    if OD <= 0:
        raise RuntimeError(f"conv3d: Calculated output depth {OD} is too small for input {tuple(input.shape)} "
                           f"with kernel {kernel}")
    y = None
    for kd in range(kernel[0]):
        s = kd * dilation[0]
        xs = _core.slice(x, 2, s, s + stride[0] * (OD - 1) + 1, stride[0])  # N, C, OD, H, W
        xs = xs.permute(0, 2, 1, 3, 4).reshape(N * OD, C, x.shape[3], x.shape[4])
        part = _F.conv2d(xs, weight[:, :, kd], None, stride[1:], 0, dilation[1:], groups)
        y = part if y is None else y + part
    y = y.reshape(N, OD, *y.shape[1:]).permute(0, 2, 1, 3, 4)
    if bias is not None:
        y = y + bias.reshape(1, -1, 1, 1, 1)
    return y


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """conv_transpose1d(input [N, C, L] or [C, L], weight [C, O/groups, K], ...): the gradient
    of conv1d, through ``conv_transpose2d`` on a plane of height 1."""
    if input.ndim == 2:
        return conv_transpose1d(input.unsqueeze(0), weight, bias, stride, padding, output_padding, groups, dilation).squeeze(0)
    if input.ndim != 3:
        raise RuntimeError(f"conv_transpose1d: expected a 2-D (unbatched) or 3-D (batched) input, got shape {tuple(input.shape)}")
    if weight.ndim != 3:
        raise RuntimeError(f"conv_transpose1d: expected a 3-D weight, got shape {list(weight.shape)}")
    one = lambda v: (_pair(v, 1)[0],)  # noqa: E731
    y = _F.conv_transpose2d(input.unsqueeze(2), weight.unsqueeze(2), bias, (1,) + one(stride), (0,) + one(padding),
                            (0,) + one(output_padding), groups, (1,) + one(dilation))
    return y.squeeze(2)


def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """conv_transpose3d(input [N, C, D, H, W] or [C, D, H, W], weight [C, O/groups, KD, KH, KW],
    ...): the input dilated by the stride, padded, and convolved with the flipped kernel."""
    if input.ndim == 4:
        return conv_transpose3d(input.unsqueeze(0), weight, bias, stride, padding, output_padding, groups, dilation).squeeze(0)
    if input.ndim != 5:
        raise RuntimeError(f"conv_transpose3d: expected a 4-D (unbatched) or 5-D (batched) input, got shape {tuple(input.shape)}")
    stride, padding, output_padding, dilation = (_pair(v, 3) for v in (stride, padding, output_padding, dilation))
    N, C = input.shape[:2]
    Cin, Og = weight.shape[:2]
    k = tuple(weight.shape[2:])
    if Cin != C:
        raise RuntimeError(f"conv_transpose3d: weight {tuple(weight.shape)} expects {Cin} input channels, got input {tuple(input.shape)}")
    x = input
    if stride != (1, 1, 1):
        sizes = [(s - 1) * st + 1 for s, st in zip(input.shape[2:], stride)]
        z = _creation.zeros(N, C, *sizes, dtype=input.dtype, device=input.device)
        idx = tuple(_creation.arange(s, device=input.device) * st for s, st in zip(input.shape[2:], stride))
        grid = _shape_extra.meshgrid(*idx, indexing="ij")
        flat = (grid[0] * sizes[1] + grid[1]) * sizes[2] + grid[2]
        x = _ops.scatter(z.reshape(N, C, -1), 2, flat.reshape(1, 1, -1).expand(N, C, -1),
                         input.reshape(N, C, -1)).reshape(N, C, *sizes)
    pads = []
    for i in reversed(range(3)):
        p = dilation[i] * (k[i] - 1) - padding[i]
        pads += [p, p + output_padding[i]]
    x = _core.pad(x, pads, 0.0)
    w = weight.reshape(groups, C // groups, Og, *k).transpose(1, 2).reshape(groups * Og, C // groups, *k)
    w = _ops.flip(w, [2, 3, 4])
    return conv3d(x, w, bias, 1, 0, dilation, groups)


# ---------------- im2col / col2im, pixel shuffles ----------------

def _fold_params(name, kernel_size, dilation, padding, stride):
    k, d, p, s = (_pair(v, 2) for v in (kernel_size, dilation, padding, stride))
    if min(k) <= 0 or min(d) <= 0 or min(s) <= 0 or min(p) < 0:
        raise RuntimeError(f"{name}: kernel_size, dilation and stride must be positive and padding non-negative "
                           f"(got kernel_size={k}, dilation={d}, padding={p}, stride={s})")
    return k, d, p, s


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """unfold(input [N, C, H, W] or [C, H, W], kernel_size, dilation=1, padding=0, stride=1) ->
    [N, C * KH * KW, L]: every sliding block as a column (im2col)."""
    if input.ndim == 3:
        return unfold(input.unsqueeze(0), kernel_size, dilation, padding, stride).squeeze(0)
    if input.ndim != 4:
        raise NotImplementedError(f"Input Error: Only 3D or 4D input Tensors are supported (got {input.ndim}D)")
    k, d, p, s = _fold_params("unfold", kernel_size, dilation, padding, stride)
    x = _core.pad(input, [p[1], p[1], p[0], p[0]], 0.0) if any(p) else input
    views, out = _F._windows(x, k, s, d, 2)
    N, C = input.shape[:2]
    return _ops.stack(views, 2).reshape(N, C * k[0] * k[1], out[0] * out[1])


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """fold(input [N, C * KH * KW, L] or [C * KH * KW, L], output_size, kernel_size, dilation=1,
    padding=0, stride=1) -> [N, C, H, W]: sums the columns back into an image (col2im)."""
    if input.ndim == 2:
        return fold(input.unsqueeze(0), output_size, kernel_size, dilation, padding, stride).squeeze(0)
    if input.ndim != 3:
        raise NotImplementedError(f"Input Error: Only unbatched (2D) or batched (3D) input Tensors are supported (got {input.ndim}D)")
    k, d, p, s = _fold_params("fold", kernel_size, dilation, padding, stride)
    H, W = _pair(output_size, 2)
    K = k[0] * k[1]
    N, CK, L = input.shape
    if CK % K:
        raise RuntimeError(f"Expected size of input's dimension 1 to be divisible by the product of kernel_size, but got "
                           f"input.size(1)={CK} and kernel_size={k}")
    Hp, Wp = H + 2 * p[0], W + 2 * p[1]
    oh = (Hp - d[0] * (k[0] - 1) - 1) // s[0] + 1
    ow = (Wp - d[1] * (k[1] - 1) - 1) // s[1] + 1
    if oh * ow != L:
        raise RuntimeError(f"Given output_size=({H}, {W}), kernel_size={k}, dilation={d}, padding={p}, stride={s}, "
                           f"expected size of input's dimension 2 to match the calculated number of sliding blocks "
                           f"{oh} * {ow} = {oh * ow}, but got input.size(2)={L}.")
    ki, kj = np.meshgrid(np.arange(k[0]), np.arange(k[1]), indexing="ij")
    bi, bj = np.meshgrid(np.arange(oh), np.arange(ow), indexing="ij")
    rows = ki.reshape(-1, 1) * d[0] + bi.reshape(1, -1) * s[0]
    cols = kj.reshape(-1, 1) * d[1] + bj.reshape(1, -1) * s[1]
    target = _creation.tensor((rows * Wp + cols).reshape(-1), dtype="int64", device=input.device)
    C = CK // K
    out = _creation.zeros(N, C, Hp * Wp, dtype=input.dtype, device=input.device)
    out = _ops.index_add(out, 2, target, input.reshape(N, C, K * L)).reshape(N, C, Hp, Wp)
    return out[:, :, p[0]:p[0] + H, p[1]:p[1] + W]


def pixel_shuffle(input, upscale_factor):
    """pixel_shuffle(input [*, C * r^2, H, W], upscale_factor r) -> [*, C, H * r, W * r]."""
    r = upscale_factor
    if input.ndim < 3:
        raise RuntimeError(f"pixel_shuffle expects input to have at least 3 dimensions, but got input with {input.ndim} dimension(s)")
    c, h, w = input.shape[-3:]
    if c % (r * r):
        raise RuntimeError(f"pixel_shuffle expects its input's 'channel' dimension to be divisible by the square of "
                           f"upscale_factor, but input.size(-3)={c} is not divisible by {r * r}")
    lead = list(input.shape[:-3])
    x = input.reshape(*lead, c // (r * r), r, r, h, w)
    n = len(lead)
    x = x.permute(*range(n), n, n + 3, n + 1, n + 4, n + 2)
    return x.reshape(*lead, c // (r * r), h * r, w * r)


def pixel_unshuffle(input, downscale_factor):
    """pixel_unshuffle(input [*, C, H * r, W * r], downscale_factor r) -> [*, C * r^2, H, W]."""
    r = downscale_factor
    if input.ndim < 3:
        raise RuntimeError(f"pixel_unshuffle expects input to have at least 3 dimensions, but got input with {input.ndim} dimension(s)")
    c, h, w = input.shape[-3:]
    if h % r or w % r:
        raise RuntimeError(f"pixel_unshuffle expects height and width to be divisible by downscale_factor, but got "
                           f"{h} and {w} for downscale_factor={r}")
    lead = list(input.shape[:-3])
    n = len(lead)
    x = input.reshape(*lead, c, h // r, r, w // r, r)
    x = x.permute(*range(n), n, n + 2, n + 4, n + 1, n + 3)
    return x.reshape(*lead, c * r * r, h // r, w // r)


def channel_shuffle(input, groups):
    """channel_shuffle(input [N, C, *], groups): interleaves the channels of ``groups`` groups."""
    c = input.shape[1]
    if groups <= 0 or c % groups:
        raise RuntimeError(f"Number of channels must be divisible by groups. Got {c} channels and {groups} groups.")
    n = input.shape[0]
    rest = list(input.shape[2:])
    return input.reshape(n, groups, c // groups, *rest).transpose(1, 2).reshape(n, c, *rest)


native_channel_shuffle = channel_shuffle


# ---------------- activations ----------------

_act = _F._activation


def threshold(input, threshold, value, inplace=False):
    """threshold(input, threshold, value, inplace=False): ``input`` where ``input > threshold``, else ``value``."""
    return _act(input, inplace, lambda x: _ops.where(x > threshold, x, value).to(x.dtype))


def threshold_(input, threshold, value):
    """threshold_(input, threshold, value): ``threshold`` written into ``input``."""
    return globals()["threshold"](input, threshold, value, True)


def relu_(input):
    """relu_(input): ``relu`` written into ``input``."""
    return _F.relu(input, True)


def hardtanh_(input, min_val=-1.0, max_val=1.0):
    """hardtanh_(input, min_val=-1.0, max_val=1.0): ``hardtanh`` written into ``input``."""
    return _F.hardtanh(input, min_val, max_val, True)


def elu_(input, alpha=1.0):
    """elu_(input, alpha=1.0): ``elu`` written into ``input``."""
    return _F.elu(input, alpha, True)


def leaky_relu_(input, negative_slope=0.01):
    """leaky_relu_(input, negative_slope=0.01): ``leaky_relu`` written into ``input``."""
    return _F.leaky_relu(input, negative_slope, True)


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(input, inplace=False):
    """selu(input, inplace=False): ``scale * elu(x, alpha)`` with the self-normalising constants."""
    return _act(input, inplace, lambda x: _SELU_SCALE * _ops.where(x > 0, x, _SELU_ALPHA * _ops.expm1(_ops.clamp(x, max=0.0))))


def selu_(input):
    """selu_(input): ``selu`` written into ``input``."""
    return selu(input, True)


def celu(input, alpha=1.0, inplace=False):
    """celu(input, alpha=1.0, inplace=False): ``max(0, x) + min(0, alpha * (exp(x / alpha) - 1))``."""
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError: alpha cannot be 0 for CELU")
    return _act(input, inplace, lambda x: _ops.where(x > 0, x, alpha * _ops.expm1(_ops.clamp(x, max=0.0) / alpha)))


def celu_(input, alpha=1.0):
    """celu_(input, alpha=1.0): ``celu`` written into ``input``."""
    return celu(input, alpha, True)


def glu(input, dim=-1):
    """glu(input, dim=-1): ``a * sigmoid(b)`` of the two halves of ``dim``."""
    if input.ndim == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    d = _ops._wrap_dim("glu", dim, input)
    n = input.shape[d]
    if n % 2:
        raise RuntimeError(f"Halving dimension must be even, but dimension {d} is size {n}")
    a, b = _ops.narrow(input, d, 0, n // 2), _ops.narrow(input, d, n // 2, n // 2)
    return a * _ops.sigmoid(b)


def hardshrink(input, lambd=0.5):
    """hardshrink(input, lambd=0.5): ``x`` where ``|x| > lambd``, else 0."""
    return _ops.where(_ops.abs(input) > lambd, input, 0.0).to(input.dtype)


def softshrink(input, lambd=0.5):
    """softshrink(input, lambd=0.5): ``x - lambd`` above ``lambd``, ``x + lambd`` below ``-lambd``, else 0."""
    if lambd < 0:
        raise RuntimeError(f"lambda must be greater or equal to 0, but found to be {lambd}.")
    return _ops.where(input > lambd, input - lambd, _ops.where(input < -lambd, input + lambd, 0.0)).to(input.dtype)


def tanhshrink(input):
    """tanhshrink(input): ``x - tanh(x)``."""
    return input - _ops.tanh(input)


def softsign(input):
    """softsign(input): ``x / (1 + |x|)``."""
    return input / (1 + _ops.abs(input))


def prelu(input, weight):
    """prelu(input, weight): ``max(0, x) + weight * min(0, x)``, ``weight`` per channel (dim 1)
    or a single value."""
    if weight.ndim > 1:
        raise RuntimeError(f"prelu: Expected `weight` to be a scalar or 1D tensor, but got: ndim = {weight.ndim}")
    n = weight.numel()
    if n != 1:
        ch = input.shape[1] if input.ndim >= 2 else (input.shape[0] if input.ndim == 1 else 1)
        if n != ch:
            raise RuntimeError(f"prelu: Mismatch of parameter numbers and input channel size. Found parameter numbers = {n} "
                               f"and channel size = {ch}.")
        shape = [1] * input.ndim
        shape[1 if input.ndim >= 2 else 0] = n
        w = weight.reshape(shape)
    else:
        w = weight.reshape([])
    return _ops.where(input >= 0, input, w * input)


def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False, inplace=False):
    """rrelu(input, lower=1/8, upper=1/3, training=False, inplace=False): leaky ReLU with a slope
    drawn uniformly from [lower, upper] per element in training, their mean in evaluation."""
    if not training:
        return _F.leaky_relu(input, (lower + upper) / 2, inplace)
    slope = _random.rand(*input.shape, dtype=input.dtype, device=input.device) * (upper - lower) + lower
    return _act(input, inplace, lambda x: _ops.where(x >= 0, x, x * slope))


def rrelu_(input, lower=1.0 / 8, upper=1.0 / 3, training=False):
    """rrelu_(input, lower=1/8, upper=1/3, training=False): ``rrelu`` written into ``input``."""
    return rrelu(input, lower, upper, training, True)


def gumbel_softmax(logits, tau=1.0, hard=False, eps=1e-10, dim=-1):
    """gumbel_softmax(logits, tau=1, hard=False, dim=-1): a sample of the Gumbel-softmax
    distribution; with ``hard`` a one-hot vector whose gradient is the soft sample's
    (straight-through)."""
    u = _random.rand(*logits.shape, dtype=logits.dtype, device=logits.device)
    # -log(Exponential(1)) draws; u in [0, 1) so 1 - u is never 0
    gumbels = -_ops.log(-_ops.log1p(-u))
    y = _ops.softmax((logits + gumbels) / tau, dim)
    if not hard:
        return y
    d = _ops._wrap_dim("gumbel_softmax", dim, logits)
    idx = _ops.argmax(y, d, keepdim=True)
    y_hard = _ops.scatter(_creation.zeros_like(logits), d, idx, 1.0)
    return y_hard - y.detach() + y


# ---------------- normalisation ----------------

def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None, use_input_stats=True,
                  momentum=0.1, eps=1e-5):
    """instance_norm(input [N, C, *], ...): normalises each channel of each sample over its
    spatial dims; running stats (averaged over the batch) are updated when given."""
    if input.ndim < 3:
        raise ValueError(f"instance_norm: expected an input with at least 3 dims [N, C, *], got shape {tuple(input.shape)}")
    dims = tuple(range(2, input.ndim))
    shape = [1, -1] + [1] * (input.ndim - 2)
    if use_input_stats:
        mean = input.mean(dims, keepdim=True)
        var = input.var(dims, keepdim=True, correction=0)
        if running_mean is not None:
            with _F._no_grad():
                n = math.prod(input.shape[2:])
                running_mean.mul_(1 - momentum).add_(mean.detach().mean(0).reshape(-1) * momentum)
                unbiased = var.detach().mean(0).reshape(-1) * (n / max(n - 1, 1))
                running_var.mul_(1 - momentum).add_(unbiased * momentum)
    else:
        mean, var = running_mean.reshape(shape), running_var.reshape(shape)
    y = (input - mean) * _ops.rsqrt(var + eps)
    if weight is not None:
        y = y * weight.reshape(shape)
    if bias is not None:
        y = y + bias.reshape(shape)
    return y


def local_response_norm(input, size, alpha=1e-4, beta=0.75, k=1.0):
    """local_response_norm(input [N, C, *], size, alpha=1e-4, beta=0.75, k=1): divides by
    ``(k + alpha / size * sum of squares over size neighbouring channels) ** beta``."""
    if input.ndim < 3:
        raise ValueError(f"Expected 3D or higher dimensionality input (got {input.ndim} dimensions)")
    if input.numel() == 0:
        return input
    sq = (input * input).unsqueeze(1)
    n, c = input.shape[:2]
    flat = sq.reshape(n, 1, c, -1)
    flat = _core.pad(flat, [0, 0, size // 2, (size - 1) // 2], 0.0)
    div = _F.avg_pool2d(flat, (size, 1), stride=1).reshape(input.shape)
    return input / _ops.pow(div * alpha + k, beta)


# ---------------- bicubic interpolation ----------------

_A = -0.75


def _cubic_weights(t):
    """The four cubic-convolution weights (PyTorch's A = -0.75) for fractional offsets t."""
    def c1(x):
        return ((_A + 2) * x - (_A + 3)) * x * x + 1

    def c2(x):
        return ((_A * x - 5 * _A) * x + 8 * _A) * x - 4 * _A

    return c2(t + 1), c1(t), c1(1 - t), c2(2 - t)


def _bicubic(input, sizes, align_corners, scales):
    x = input
    dt = np.float64 if input.dtype.name == "float64" else np.float32
    for i in range(2):
        d = 2 + i
        n_in, n_out = input.shape[d], sizes[i]
        f = _F._interp_scale(n_in, n_out, align_corners, scales[i], dt)
        j = np.arange(n_out).astype(dt)
        src = f * j if align_corners else f * (j + dt(0.5)) - dt(0.5)
        base = np.floor(src).astype(np.int64)
        t = (src - base).astype(dt)
        ws = _cubic_weights(t)
        shape = [1] * x.ndim
        shape[d] = n_out
        acc = None
        for tap, w in zip(range(-1, 3), ws):
            idx = np.clip(base + tap, 0, n_in - 1)
            v = _core.index_select(x, d, _creation.tensor(idx, dtype="int64", device=x.device))
            term = v * _creation.tensor(w, dtype=x.dtype, device=x.device).reshape(shape)
            acc = term if acc is None else acc + term
        x = acc
    return x


_interpolate_core = _F.interpolate


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None, recompute_scale_factor=None,
                antialias=False):
    """interpolate(input, size=None, scale_factor=None, mode='nearest', align_corners=None,
    recompute_scale_factor=None, antialias=False): as the core interpolate, plus
    ``mode='bicubic'`` (4-D input, PyTorch's cubic convolution with A = -0.75, border taps
    clamped)."""
    if mode != "bicubic":
        return _interpolate_core(input, size, scale_factor, mode, align_corners, recompute_scale_factor, antialias)
    if input.ndim != 4:
        raise NotImplementedError(f"Got {input.ndim}D input, but bicubic mode needs 4D input")
    if antialias:
        raise NotImplementedError("interpolate: antialias=True is not supported")
    spatial = list(input.shape[2:])
    if (size is None) == (scale_factor is None):
        raise ValueError("only one of size or scale_factor should be defined" if size is not None
                         else "either size or scale_factor should be defined")
    if size is not None:
        sizes = list(size) if isinstance(size, (list, tuple)) else [size] * 2
        scales = [None, None]
    else:
        fs = list(scale_factor) if isinstance(scale_factor, (list, tuple)) else [scale_factor] * 2
        sizes = [int(math.floor(L * float(f))) for L, f in zip(spatial, fs)]
        scales = [None, None] if recompute_scale_factor else [float(f) for f in fs]
    return _bicubic(input, sizes, bool(align_corners), scales)


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """upsample(...): the deprecated spelling of ``interpolate``."""
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    """upsample_nearest(input, size=None, scale_factor=None): ``interpolate(mode='nearest')``."""
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    """upsample_bilinear(input, size=None, scale_factor=None): bilinear with ``align_corners=True``."""
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


# ---------------- grid sampling ----------------

def affine_grid(theta, size, align_corners=False):
    """affine_grid(theta [N, 2, 3], size (N, C, H, W), align_corners=False) -> [N, H, W, 2]: the
    sampling grid of the affine maps ``theta`` in normalised coordinates."""
    if theta.ndim != 3 or tuple(theta.shape[1:]) != (2, 3):
        raise ValueError(f"Expected a batch of 2D affine matrices of shape Nx2x3 for size {tuple(size)}. "
                         f"Got {tuple(theta.shape)}.")
    N, _, H, W = size

    def base(n):
        if n == 1:
            return _creation.zeros(1, dtype=theta.dtype, device=theta.device)
        r = _creation.linspace(-1, 1, n, dtype=theta.dtype, device=theta.device)
        return r if align_corners else r * ((n - 1) / n)

    xs, ys = base(W), base(H)
    grid = _ops.stack([xs.reshape(1, W).expand(H, W), ys.reshape(H, 1).expand(H, W),
                       _creation.ones(H, W, dtype=theta.dtype, device=theta.device)], -1)  # H, W, 3
    return _ops.matmul(grid.reshape(1, H * W, 3), theta.transpose(1, 2)).reshape(N, H, W, 2)


def _unnormalize(coord, size, align_corners):
    return (coord + 1) / 2 * (size - 1) if align_corners else ((coord + 1) * size - 1) / 2


def _reflect(x, lo, hi):
    """Reflects coordinates into [lo, hi] (PyTorch's reflect_coordinates)."""
    span = hi - lo
    if span <= 0:
        return _creation.zeros_like(x)
    y = _ops.abs(x - lo)
    flips = _ops.floor(y / span)
    extra = y - flips * span
    return _ops.where(_ops.remainder(flips, 2) == 0, extra + lo, span - extra + lo)


def grid_sample(input, grid, mode="bilinear", padding_mode="zeros", align_corners=None):
    """grid_sample(input [N, C, H, W], grid [N, Ho, Wo, 2], mode='bilinear', padding_mode='zeros',
    align_corners=False) -> [N, C, Ho, Wo]: samples ``input`` at the normalised (x, y) positions
    of ``grid`` ('bilinear' or 'nearest'; padding 'zeros', 'border' or 'reflection');
    differentiable in both ``input`` and ``grid``."""
    if mode not in ("bilinear", "nearest"):
        raise ValueError(f"nn.functional.grid_sample(): expected mode to be 'bilinear' or 'nearest', but got: '{mode}'")
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError(f"nn.functional.grid_sample(): expected padding_mode to be 'zeros', 'border', or 'reflection', "
                         f"but got: '{padding_mode}'")
    if input.ndim != 4 or grid.ndim != 4 or grid.shape[-1] != 2 or grid.shape[0] != input.shape[0]:
        raise RuntimeError(f"grid_sampler(): expected 4D input and grid with same batch size and grid of shape "
                           f"[N, H, W, 2], but got input with sizes {list(input.shape)} and grid with sizes {list(grid.shape)}")
    align_corners = bool(align_corners)
    N, C, H, W = input.shape
    Ho, Wo = grid.shape[1:3]
    gx = _unnormalize(grid[..., 0], W, align_corners)
    gy = _unnormalize(grid[..., 1], H, align_corners)
    if padding_mode == "border":
        gx, gy = _ops.clamp(gx, 0, W - 1), _ops.clamp(gy, 0, H - 1)
    elif padding_mode == "reflection":
        if align_corners:
            gx, gy = _reflect(gx, 0, W - 1), _reflect(gy, 0, H - 1)
        else:
            gx, gy = _reflect(gx, -0.5, W - 0.5), _reflect(gy, -0.5, H - 0.5)
        gx, gy = _ops.clamp(gx, 0, W - 1), _ops.clamp(gy, 0, H - 1)
    flat = input.reshape(N, C, H * W)

    def tap(ix, iy):
        inside = (ix >= 0) & (ix <= W - 1) & (iy >= 0) & (iy <= H - 1)
        cx, cy = _ops.clamp(ix, 0, W - 1), _ops.clamp(iy, 0, H - 1)
        idx = (cy * W + cx).to("int64").reshape(N, 1, Ho * Wo).expand(N, C, Ho * Wo)
        v = _ops.gather(flat, 2, idx).reshape(N, C, Ho, Wo)
        return v * inside.unsqueeze(1).to(input.dtype)

    if mode == "nearest":
        # round half to even, as PyTorch's nearbyint
        return tap(_ops.round(gx.detach()), _ops.round(gy.detach()))
    x0, y0 = _ops.floor(gx.detach()), _ops.floor(gy.detach())
    x1, y1 = x0 + 1, y0 + 1
    wx1, wy1 = gx - x0, gy - y0
    wx0, wy0 = 1 - wx1, 1 - wy1
    return (tap(x0, y0) * (wx0 * wy0).unsqueeze(1) + tap(x1, y0) * (wx1 * wy0).unsqueeze(1)
            + tap(x0, y1) * (wx0 * wy1).unsqueeze(1) + tap(x1, y1) * (wx1 * wy1).unsqueeze(1))


__all__ = [n for n in list(globals()) if not n.startswith("_") and callable(globals()[n])
           and getattr(globals()[n], "__module__", None) == __name__] + ["native_channel_shuffle"]
