"""Convolutions of ``nn.functional`` (1-D, 2-D, transposed) and the window helpers the pooling and
3-D variants share; re-exported by ``nn.functional``."""
from __future__ import annotations

import math

from .. import _core, _ops
from .functional import _lowp


def _pair(v, n=2):
    return tuple(v) if isinstance(v, (tuple, list)) else (v,) * n


def _windows(x, kernel, stride, dilation, n, out=None):
    """Strided views of every kernel offset over the last ``n`` dims: a list of
    [..., O1, (O2)] views, in row-major kernel order (``out`` windows per dim, by default as
    many as fit)."""
    spatial = list(x.shape[-n:])
    if out is None:
        out = [(spatial[i] - dilation[i] * (kernel[i] - 1) - 1) // stride[i] + 1 for i in range(n)]
    if any(o <= 0 for o in out):
        raise RuntimeError(
            f"Calculated output size {out} is too small for input spatial size {spatial} with kernel {list(kernel)}, "
            f"stride {list(stride)} and dilation {list(dilation)}"
        )
    views = []
    offsets = [()]
    for i in range(n):
        offsets = [o + (k,) for o in offsets for k in range(kernel[i])]
    nd = x.ndim
    for off in offsets:
        v = x
        for i in range(n):
            d = nd - n + i
            s = off[i] * dilation[i]
            v = _core.slice(v, d, s, s + stride[i] * (out[i] - 1) + 1, stride[i])
        views.append(v)
    return views, out


def _conv_padding(padding, kernel, dilation, n):
    if padding == "valid":
        return [(0, 0)] * n
    if padding == "same":
        pads = []
        for i in range(n):
            total = dilation[i] * (kernel[i] - 1)
            pads.append((total // 2, total - total // 2))
        return pads
    p = _pair(padding, n)
    return [(v, v) for v in p]


def _conv_check(name, input, weight, bias, stride, pads, dilation, groups, n):
    """PyTorch's convolution argument checks (ConvUtils.h), naming the op and the shapes."""
    if groups <= 0:
        raise RuntimeError(f"{name}: non-positive groups is not supported (groups={groups})")
    if any(v <= 0 for v in stride):
        raise RuntimeError(f"{name}: non-positive stride is not supported (stride {tuple(stride)})")
    if any(v <= 0 for v in dilation):
        raise RuntimeError(f"{name}: dilation should be greater than zero (dilation {tuple(dilation)})")
    if any(v < 0 for pair in pads for v in pair):
        raise RuntimeError(f"{name}: negative padding is not supported (padding {[lo for lo, _ in pads]})")
    if weight.ndim != n + 2:
        raise RuntimeError(f"{name}: expected a {n + 2}-D weight, got shape {list(weight.shape)}")
    if weight.shape[0] % groups:
        raise RuntimeError(
            f"{name}: given groups={groups}, expected weight to be divisible by {groups} at dimension 0, but got weight of size {list(weight.shape)}"
        )
    if bias is not None and tuple(bias.shape) != (weight.shape[0],):
        raise RuntimeError(
            f"{name}: given weight of size {list(weight.shape)}, expected bias to be 1-dimensional with {weight.shape[0]} elements, "
            f"but got bias of size {list(bias.shape)}"
        )


def _convnd(input, weight, bias, stride, padding, dilation, groups, n, name):
    input, weight, bias = _lowp(input, weight, bias)
    if input.ndim == n + 1:  # unbatched, as PyTorch allows
        return _convnd(input.unsqueeze(0), weight, bias, stride, padding, dilation, groups, n, name).squeeze(0)
    if input.ndim != n + 2:
        raise RuntimeError(f"{name}: expected a {n + 1}-D (unbatched) or {n + 2}-D (batched) input, got shape {tuple(input.shape)}")
    N, C = input.shape[0], input.shape[1]
    O, Cg = weight.shape[0], weight.shape[1]
    kernel = tuple(weight.shape[2:])
    if isinstance(padding, str) and padding == "same" and any(s != 1 for s in _pair(stride, n)):
        # a RuntimeError from the functional form, as PyTorch (the module's constructor raises ValueError)
        raise RuntimeError(f"{name}: padding='same' is not supported for strided convolutions")
    stride, dilation = _pair(stride, n), _pair(dilation, n)
    pads = _conv_padding(padding, kernel, dilation, n)
    _conv_check(name, input, weight, bias, stride, pads, dilation, groups, n)
    if C != Cg * groups:
        raise RuntimeError(
            f"{name}: expected input {tuple(input.shape)} to have {Cg * groups} channels (weight {tuple(weight.shape)}, groups={groups}), but got {C} channels instead"
        )
    if hasattr(_core, "conv2d") and input.dtype == weight.dtype and input.dtype.is_floating_point:
        # the core's im2col + GEMM kernels (forward and both gradients)
        x, w = input, weight
        if n == 1:
            x, w = input.unsqueeze(2), weight.unsqueeze(2)
            pads, stride, dilation = [(0, 0)] + list(pads), (1,) + tuple(stride), (1,) + tuple(dilation)
        sym = all(lo == hi for lo, hi in pads)
        if not sym:
            flat = []
            for lo, hi in reversed(pads):
                flat += [lo, hi]
            x = _core.pad(x, flat, 0.0)
            pads = [(0, 0)] * len(pads)
        y = _core.conv2d(x, w, tuple(stride), (pads[0][0], pads[1][0]), tuple(dilation), groups)
        if n == 1:
            y = y.squeeze(2)
        if bias is not None:
            y = y + bias.reshape([1, O] + [1] * n)
        return y
    flat = []
    for lo, hi in reversed(pads):
        flat += [lo, hi]
    x = _core.pad(input, flat, 0.0) if any(flat) else input
    views, out = _windows(x, kernel, stride, dilation, n)
    K = len(views)
    col = _ops.stack(views, dim=2)  # N, C, K, *out
    L = math.prod(out)
    col = col.reshape(N, groups, Cg * K, L)
    w = weight.reshape(groups, O // groups, Cg * K)
    y = _core.matmul(w, col)  # N, G, O/G, L
    y = y.reshape([N, O] + out)
    if bias is not None:
        y = y + bias.reshape([1, O] + [1] * n)
    return y


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """conv1d(input [N, C, L], weight [O, C/groups, K], ...)."""
    return _convnd(input, weight, bias, stride, padding, dilation, groups, 1, "conv1d")


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """conv2d(input [N, C, H, W], weight [O, C/groups, KH, KW], bias=None, stride=1,
    padding=0 (ints, pairs, 'same' or 'valid'), dilation=1, groups=1)."""
    return _convnd(input, weight, bias, stride, padding, dilation, groups, 2, "conv2d")


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Transposed convolution as the gradient of conv2d: dilate the input by the stride, pad,
    and convolve with the flipped, transposed kernel."""
    stride, padding, output_padding, dilation = _pair(stride), _pair(padding), _pair(output_padding), _pair(dilation)
    if input.ndim == 3:  # unbatched, as PyTorch allows
        return conv_transpose2d(input.unsqueeze(0), weight, bias, stride, padding, output_padding, groups, dilation).squeeze(0)
    if input.ndim != 4:
        raise RuntimeError(f"conv_transpose2d: expected a 3-D (unbatched) or 4-D (batched) input, got shape {tuple(input.shape)}")
    _conv_check("conv_transpose2d", input, weight, None, stride, [(p, p) for p in padding], dilation, groups, 2)
    if any(op < 0 or (op >= s and op >= d) for op, s, d in zip(output_padding, stride, dilation)):
        raise RuntimeError(
            f"conv_transpose2d: output padding must be smaller than either stride or dilation, but got output_padding "
            f"{output_padding}, stride {stride}, dilation {dilation}"
        )
    N, C, H, W = input.shape
    Cin, Og, KH, KW = weight.shape
    if Cin != C:
        raise RuntimeError(f"conv_transpose2d: weight {tuple(weight.shape)} expects {Cin} input channels, got input {tuple(input.shape)}")
    if bias is not None and tuple(bias.shape) != (Og * groups,):
        raise RuntimeError(f"conv_transpose2d: expected bias to be 1-dimensional with {Og * groups} elements, but got bias of size {list(bias.shape)}")
    x = input
    if stride != (1, 1):
        z = _core.zeros([N, C, (H - 1) * stride[0] + 1, (W - 1) * stride[1] + 1], input._dtype, input._device)
        x = _insert_strided(z, input, stride)
    ph = dilation[0] * (KH - 1) - padding[0]
    pw = dilation[1] * (KW - 1) - padding[1]
    x = _core.pad(x, [pw, pw + output_padding[1], ph, ph + output_padding[0]], 0.0)
    w = weight.reshape(groups, C // groups, Og, KH, KW).transpose(1, 2).reshape(groups * Og, C // groups, KH, KW)
    w = _ops.flip(w, [2, 3])
    return conv2d(x, w, bias, 1, 0, dilation, groups)


def _insert_strided(z, x, stride):
    """A copy of zeros ``z`` with ``x`` written at every ``stride``-th position (differentiable in x)."""
    z = _core.clone(z)
    v = _core.slice(_core.slice(z, 2, 0, None, stride[0]), 3, 0, None, stride[1])
    v.copy_(x)
    return z
