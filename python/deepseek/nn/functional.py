"""``nn.functional``: layers as functions, composed from the core's primitives."""
from __future__ import annotations

import math
import operator

import numpy as np

from .. import _core, _creation, _ops
from .._core import Tensor
from .. import amp as _amp

sigmoid = _ops.sigmoid
tanh = _ops.tanh
gelu = _ops.gelu
softplus = _ops.softplus
one_hot = _ops.one_hot


def _lowp(*ts):
    """Autocast: casts floating tensors to the autocast dtype for matmul-like ops."""
    dt = _amp._active_dtype()
    if dt is None:
        return ts
    return tuple(t.to(dt) if isinstance(t, Tensor) and t.dtype.is_floating_point and t.dtype != dt else t for t in ts)


def _fp32(*ts):
    """Autocast: ops that need range (softmax, norms, losses) run in float32."""
    if _amp._active_dtype() is None:
        return ts if len(ts) > 1 else ts
    return tuple(t.float() if isinstance(t, Tensor) and t.dtype.is_floating_point and t.dtype.itemsize < 4 else t for t in ts)


def linear(input, weight, bias=None):
    """linear(input, weight, bias=None): ``input @ weight.T + bias``."""
    input, weight, bias = _lowp(input, weight, bias)
    if input.shape[-1] != weight.shape[-1]:
        raise RuntimeError(
            f"linear: mat1 and mat2 shapes cannot be multiplied (input {tuple(input.shape)}, weight {tuple(weight.shape)}): "
            f"the last dim of input ({input.shape[-1]}) must equal in_features ({weight.shape[-1]})"
        )
    out = _core.matmul(input, weight.mT)
    if bias is None:
        return out
    if tuple(_ops.broadcast_shapes(bias.shape, out.shape)) != tuple(out.shape):
        raise RuntimeError(f"linear: bias of shape {list(bias.shape)} does not broadcast to the output shape {list(out.shape)}")
    return out + bias


def bilinear(input1, input2, weight, bias=None):
    out = _ops.einsum("bi,oij,bj->bo", input1, weight, input2)
    return out + bias if bias is not None else out


def _activation(input, inplace, fn):
    """``fn(input)``, written into ``input`` when ``inplace`` (as PyTorch's in-place variants:
    the caller's tensor changes). With autograd the value is computed from a clone, so no
    saved tensor is the one overwritten."""
    if not inplace:
        return fn(input)
    return input.copy_(fn(input.clone() if input.requires_grad else input))


def relu(input, inplace=False):
    """relu(input, inplace=False): max(input, 0)."""
    return _activation(input, inplace, _ops.relu)


def silu(input, inplace=False):
    """silu(input, inplace=False): input * sigmoid(input)."""
    return _activation(input, inplace, _ops.silu)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    """leaky_relu(input, negative_slope=0.01, inplace=False)."""
    return _activation(input, inplace, lambda x: _ops.where(x > 0, x, x * negative_slope))


def elu(input, alpha=1.0, inplace=False):
    """elu(input, alpha=1.0, inplace=False): input if > 0 else alpha * (exp(input) - 1)."""
    return _activation(input, inplace, lambda x: _ops.where(x > 0, x, alpha * _ops.expm1(_ops.clamp(x, max=0.0))))


def hardswish(input, inplace=False):
    return _activation(input, inplace, lambda x: x * _ops.clamp(x + 3.0, 0.0, 6.0) / 6.0)


def hardsigmoid(input, inplace=False):
    return _activation(input, inplace, lambda x: _ops.clamp(x + 3.0, 0.0, 6.0) / 6.0)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    return _activation(input, inplace, lambda x: _ops.clamp(x, min_val, max_val))


def relu6(input, inplace=False):
    return _activation(input, inplace, lambda x: _ops.clamp(x, 0.0, 6.0))


def mish(input, inplace=False):
    return _activation(input, inplace, lambda x: x * _ops.tanh(_ops.softplus(x)))


def logsigmoid(input):
    return -_ops.softplus(-input)


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    (input,) = _fp32(input)
    return _ops.softmax(input, dim, dtype)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    (input,) = _fp32(input)
    return _ops.log_softmax(input, dim, dtype)


def softmin(input, dim=None, dtype=None):
    return softmax(-input, dim, dtype=dtype)


def dropout(input, p=0.5, training=True, inplace=False):
    """dropout(input, p=0.5, training=True): zeroes elements with probability p and scales
    the rest by 1/(1-p)."""
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return _activation(input, inplace, lambda x: x * 0.0)
    keep = _core.bernoulli(_core.full(list(input.shape), 1.0 - p, "float32", input._device), None)
    return _activation(input, inplace, lambda x: x * keep.to(x.dtype) * (1.0 / (1.0 - p)))


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False, sparse=False):
    """embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0,
    scale_grad_by_freq=False, sparse=False): rows of ``weight`` picked by ``input``.

    The ``padding_idx`` row receives no gradient. With ``max_norm`` the looked-up rows whose
    ``norm_type``-norm exceeds it are scaled down in ``weight`` itself first (as PyTorch's
    embedding_renorm_); ``scale_grad_by_freq`` divides each row's gradient by how often it
    appears in ``input``. With ``sparse=True`` the gradient of ``weight`` (an
    ``nn.Parameter``) is a sparse COO tensor holding only the looked-up rows, as PyTorch's;
    ``optim.SparseAdam`` and ``optim.SGD`` consume it. A weight that is a plain tensor gets a
    dense gradient.
    """
    if input.dtype.is_floating_point:
        raise RuntimeError(f"Expected tensor for argument #1 'indices' to have an integer scalar type; got {input.dtype}")
    flat = input.reshape(-1)
    if padding_idx is not None:
        if not -weight.shape[0] <= padding_idx < weight.shape[0]:
            raise AssertionError(f"Padding_idx must be within num_embeddings (got {padding_idx} for {weight.shape[0]} rows)")
        if padding_idx < 0:
            padding_idx += weight.shape[0]
    counts = None
    if max_norm is not None or scale_grad_by_freq:
        ids, counts = np.unique(flat.detach().cpu().numpy(), return_counts=True)
    if max_norm is not None:
        with _no_grad():
            idx = _creation.tensor(ids, dtype="int64", device=weight.device)
            rows = _core.index_select(weight, 0, idx)
            norms = _ops.norm(rows.double(), norm_type, dim=1, keepdim=True)
            scale = _ops.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0).to(weight.dtype)
            weight.index_put_((idx,), rows * scale)
    if sparse and weight.requires_grad and _core.is_grad_enabled() and hasattr(weight, "_is_param"):
        from ..sparse._embedding import sparse_rows

        rows = sparse_rows(weight, flat, padding_idx)
    else:
        rows = _core.index_select(weight, 0, flat)
    if scale_grad_by_freq and flat.numel():
        # the forward value is exactly the rows; the gradient is divided by each index's count
        freq = dict(zip(ids.tolist(), counts.tolist()))
        inv = _creation.tensor([1.0 / freq[i] for i in flat.tolist()], dtype=rows.dtype, device=rows.device).unsqueeze(1)
        rows = rows.detach() + (rows - rows.detach()) * inv
    if padding_idx is not None:
        keep = (flat != padding_idx).unsqueeze(1)
        rows = _ops.where(keep, rows, rows.detach())
    return rows.reshape(list(input.shape) + [weight.shape[1]])


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


# ---------------- pooling ----------------
# Every pooling op shares one geometry: _pool_params normalises the arguments, _pool_shape checks
# them and computes the output size exactly as PyTorch's pooling_output_shape does (ceil_mode
# included), and the composed paths pad the input by the extra ceil_mode room before sweeping it.

_TORCH_TYPE = {"bool": "Bool", "uint8": "Byte", "int8": "Char", "int16": "Short", "int32": "Int", "int64": "Long"}


def _pool_out(n, k, s, p, d, ceil_mode):
    room = n + 2 * p - d * (k - 1) - 1
    o = (-(-room // s) if ceil_mode else room // s) + 1
    if ceil_mode and (o - 1) * s >= n + p:
        o -= 1  # the last window must start inside the input or the left padding
    return o


def _pool_params(name, n, kernel_size, stride, padding, dilation=1):
    """(kernel, stride, padding, dilation) as n-tuples of ints; stride defaults to the kernel."""
    def ints(what, v):
        t = tuple(v) if isinstance(v, (tuple, list)) else (v,)
        if len(t) == 1:
            t = t * n
        if len(t) != n:
            raise RuntimeError(f"{name}: {what} must be a single int or a tuple of {n} ints, got {v}")
        try:
            return tuple(operator.index(e) for e in t)
        except TypeError:
            raise TypeError(f"{name}(): argument '{what}' must be a tuple of ints, got {v!r}") from None

    k = ints("kernel_size", kernel_size)
    empty = stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0)
    return k, k if empty else ints("stride", stride), ints("padding", padding), ints("dilation", dilation)


def _pool_input(name, input, n):
    """PyTorch's input check: (n + 1)-D or batched (n + 2)-D, every dim but the batch non-empty."""
    if input.ndim not in (n + 1, n + 2) or 0 in tuple(input.shape)[input.ndim - n - 1:]:
        raise RuntimeError(
            f"{name}: expected a {n + 1}-D or {n + 2}-D (batch mode) tensor with possibly 0 batch size and other "
            f"non-zero dimensions for input, but got shape {list(input.shape)}"
        )


def _pool_shape(name, shape, k, s, p, d, ceil_mode):
    """The output sizes of a window sweep over the trailing len(k) dims of ``shape``, with
    PyTorch's checks (kernel, stride and dilation positive; padding at most half the kernel;
    an output of at least one window)."""
    def fail(why):
        raise RuntimeError(f"{name}: {why} (input shape {list(shape)}, kernel_size {k}, stride {s}, padding {p}, dilation {d})")

    if min(k) <= 0:
        fail("kernel size should be greater than zero")
    if min(s) <= 0:
        fail("stride should be greater than zero")
    if min(d) <= 0:
        fail("dilation should be greater than zero")
    if min(p) < 0:
        fail("pad must be non-negative")
    if any(pi > (di * (ki - 1) + 1) // 2 for ki, pi, di in zip(k, p, d)):
        fail("pad should be at most half of effective kernel size")
    if any(pi > ki // 2 for ki, pi in zip(k, p)):
        fail("pad should be smaller than or equal to half of kernel size")
    spatial = list(shape)[-len(k):]
    out = [_pool_out(L, *a, ceil_mode) for L, *a in zip(spatial, k, s, p, d)]
    if min(out) < 1:
        fail(f"calculated output size {out} is too small for input size {spatial}")
    return out


def _sweep_pad(x, k, s, p, d, out, value):
    """``x`` padded by ``p`` on both sides of each trailing dim, plus the room the last
    (ceil_mode) window needs on the right."""
    n = len(k)
    sizes = list(x.shape)[-n:]
    flat = []
    for i in reversed(range(n)):
        extra = max(0, (out[i] - 1) * s[i] + d[i] * (k[i] - 1) + 1 - (sizes[i] + 2 * p[i]))
        flat += [p[i], p[i] + extra]
    return _core.pad(x, flat, value) if any(flat) else x


def _lowest(dt):
    """The smallest value of ``dt``: the padding that never wins a max."""
    if dt.is_floating_point:
        return -math.inf
    return 0.0 if dt.name in ("bool", "uint8") else -float(2 ** (dt.itemsize * 8 - 1))


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """max_pool2d(input [N, C, H, W] or [C, H, W], kernel_size, stride=None, padding=0, dilation=1,
    ceil_mode=False, return_indices=False): the maximum over each window (NaN propagates); the
    gradient goes to the first maximum. Indices are flat positions in each input plane, as in PyTorch.

    Example::

        >>> F.max_pool2d(deepseek.arange(16.).reshape(1, 1, 4, 4), 3, 2, ceil_mode=True).shape
        deepseek.Size([1, 1, 2, 2])
    """
    k, s, p, d = _pool_params("max_pool2d", 2, kernel_size, stride, padding, dilation)
    _pool_input("max_pool2d", input, 2)
    out = _pool_shape("max_pool2d", input.shape, k, s, p, d, ceil_mode)
    if input.dtype.name == "bool":
        raise RuntimeError("\"max_pool2d\" not implemented for 'Bool'")
    if input.ndim == 3:
        r = max_pool2d(input.unsqueeze(0), k, s, p, d, ceil_mode, return_indices)
        return (r[0].squeeze(0), r[1].squeeze(0)) if return_indices else r.squeeze(0)
    H, W = input.shape[-2:]
    fits = all(L + 2 * pi >= di * (ki - 1) + 1 for L, ki, pi, di in zip((H, W), k, p, d))
    # a dilated window can miss the input entirely (every tap in the padding): PyTorch still
    # names a position for it, the first tap stepped past the left padding
    firsts = [_first_taps(L, ki, si, pi, di, o) for L, ki, si, pi, di, o in zip((H, W), k, s, p, d, out)]
    empty = ~np.logical_and.outer(firsts[0][1], firsts[1][1])
    if input._device == "cpu" and input.dtype.is_floating_point and fits and not empty.any():
        v, i = _core.max_pool2d(input, k, s, p, d, bool(ceil_mode))
        return (v, i) if return_indices else v
    # other devices, integer dtypes and ceil_mode windows longer than the padded input: composed
    # from primitives (pad with the dtype's lowest value, strided views of every window offset,
    # max over their stack)
    low = _lowest(input.dtype)
    views, _ = _windows(_sweep_pad(input, k, s, p, d, out, low), k, s, d, 2, out)
    stacked = _ops.stack(views, dim=-1)
    v, i = _ops.max(stacked, dim=-1)
    if not return_indices:
        return v
    K = k[0] * k[1]
    rows = np.arange(out[0]).reshape(-1, 1, 1) * s[0] - p[0] + (np.arange(K) // k[1]) * d[0]
    cols = np.arange(out[1]).reshape(1, -1, 1) * s[1] - p[1] + (np.arange(K) % k[1]) * d[1]
    # a maximum equal to the padding value may tie with a padded position: PyTorch names the
    # first input element of the window then
    inside = _creation.tensor((rows >= 0) & (rows < H) & (cols >= 0) & (cols < W), device=input.device)
    first_inside = _ops.max(((stacked == v.unsqueeze(-1)) & inside).to("int32"), dim=-1)[1]
    i = _ops.where(v == low, first_inside, i)
    ki, kj = i // k[1], i % k[1]
    r0 = _creation.arange(out[0], device=input.device).reshape(-1, 1) * s[0] - p[0]
    c0 = _creation.arange(out[1], device=input.device).reshape(1, -1) * s[1] - p[1]
    idx = (r0 + ki * d[0]) * W + (c0 + kj * d[1])
    if empty.any():
        where = np.add.outer(firsts[0][0] * W, firsts[1][0])
        idx = _ops.where(_creation.tensor(empty, device=input.device), _creation.tensor(where, device=input.device), idx)
    return v, idx


def _first_taps(L, k, s, p, d, out):
    """Per output position along one dim: the first tap at or past 0 (PyTorch's advanced window
    start) and whether any tap of the window lands inside [0, L)."""
    starts = np.arange(out) * s - p
    first = np.where(starts < 0, starts + (-starts + d - 1) // d * d, starts)
    return first, first <= np.minimum(starts + d * (k - 1), L - 1)


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """max_pool1d(input [N, C, L] or [C, L], kernel_size, stride=None, padding=0, dilation=1,
    ceil_mode=False, return_indices=False): max_pool2d over a plane of height 1 (indices are
    positions along L)."""
    k, s, p, d = _pool_params("max_pool1d", 1, kernel_size, stride, padding, dilation)
    _pool_input("max_pool1d", input, 1)
    _pool_shape("max_pool1d", input.shape, k, s, p, d, ceil_mode)
    r = max_pool2d(input.unsqueeze(-2), (1,) + k, (1,) + s, (0,) + p, (1,) + d, ceil_mode, return_indices)
    return (r[0].squeeze(-2), r[1].squeeze(-2)) if return_indices else r.squeeze(-2)


def _avg_pool(name, input, n, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override):
    """The mean over each window of the trailing ``n`` dims. As in PyTorch a window is clipped at
    the end of input + padding; its divisor is ``divisor_override`` if given, else the clipped
    window's size (``count_include_pad``) or the number of input elements in it."""
    k, s, p, d = _pool_params(name, n, kernel_size, stride, padding)
    _pool_input(name, input, n)
    out = _pool_shape(name, input.shape, k, s, p, d, ceil_mode)
    if divisor_override is not None and operator.index(divisor_override) == 0:
        raise RuntimeError(f"{name}: divisor must be not zero")
    dt = input.dtype
    if not dt.is_floating_point and dt.name != "int64":
        raise RuntimeError(f"\"{name}\" not implemented for '{_TORCH_TYPE[dt.name]}'")
    # narrow floats accumulate in float32, as PyTorch's kernels do
    x = input.float() if dt.is_floating_point and dt.itemsize < 4 else input
    views, _ = _windows(_sweep_pad(x, k, s, p, d, out, 0.0), k, s, d, n, out)
    total = views[0]
    for v in views[1:]:
        total = total + v
    if divisor_override is not None:
        div = operator.index(divisor_override)
    else:
        counts = []
        for L, ki, si, pi, o in zip(list(input.shape)[-n:], k, s, p, out):
            starts = np.arange(o) * si - pi
            ends = np.minimum(starts + ki, L + pi)
            counts.append(ends - starts if count_include_pad else np.minimum(ends, L) - np.maximum(starts, 0))
        div = counts[0]
        for c in counts[1:]:
            div = np.multiply.outer(div, c)
        div = int(div.flat[0]) if (div == div.flat[0]).all() else _creation.tensor(div, dtype=x.dtype, device=input.device)
    if not dt.is_floating_point:
        return _ops.div(total, div, rounding_mode="trunc")  # integer division, as PyTorch's Long kernel
    return (total / div).to(dt)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """avg_pool1d(input [N, C, L] or [C, L], kernel_size, stride=None, padding=0, ceil_mode=False,
    count_include_pad=True): the mean over each window."""
    return _avg_pool("avg_pool1d", input, 1, kernel_size, stride, padding, ceil_mode, count_include_pad, None)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None):
    """avg_pool2d(input [N, C, H, W] or [C, H, W], kernel_size, stride=None, padding=0,
    ceil_mode=False, count_include_pad=True, divisor_override=None): the mean over each window.

    Example::

        >>> F.avg_pool2d(deepseek.ones(1, 1, 3, 3), 2, ceil_mode=True)
        tensor([[[[1., 1.],
                  [1., 1.]]]])
    """
    return _avg_pool("avg_pool2d", input, 2, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)


def _adaptive_bins(n_in, n_out):
    return [((i * n_in) // n_out, -(-((i + 1) * n_in) // n_out)) for i in range(n_out)]


def _adaptive_sizes(name, input, output_size, n):
    """The checked output sizes (None keeps the input's size) of an adaptive pool."""
    if input.ndim not in (n + 1, n + 2):
        raise RuntimeError(f"{name}(): Expected {n + 1}D or {n + 2}D tensor, but got {list(input.shape)}")
    spatial = list(input.shape)[-n:]
    for i, L in enumerate(spatial):
        if L == 0:
            raise RuntimeError(
                f"{name}(): Expected input to have non-zero size for non-batch dimensions, but input has sizes "
                f"{list(input.shape)} with dimension {input.ndim - n + i} being empty"
            )
    sizes = tuple(output_size) if isinstance(output_size, (tuple, list)) else (output_size,) * n
    if len(sizes) != n:
        raise RuntimeError(f"{name}(): output_size must have {n} elements, got {output_size}")
    sizes = [L if o is None else operator.index(o) for o, L in zip(sizes, spatial)]
    if min(sizes) < 0:
        raise RuntimeError(f"{name}(): Trying to create tensor with negative dimension: output_size {sizes}")
    return sizes


def _empty_pool(input, sizes):
    """An empty result of shape [..., *sizes] that stays in ``input``'s graph."""
    x = input
    for dim in range(input.ndim - len(sizes), input.ndim):
        x = _core.slice(x, dim, 0, 0, 1)
    return x.reshape(list(input.shape)[: input.ndim - len(sizes)] + list(sizes))


def _adaptive_avg_pool(name, input, output_size, n):
    sizes = _adaptive_sizes(name, input, output_size, n)
    if 0 in sizes:
        return _empty_pool(input, sizes)
    if all(o == 1 for o in sizes):  # global pooling: one reduction
        return _ops.mean(input, dim=tuple(range(-n, 0)), keepdim=True)
    x = input
    # the mean over a box is the mean of the means along each of its edges: one dim at a time
    for i, o in enumerate(sizes):
        dim = input.ndim - n + i
        L = x.shape[dim]
        if L % o == 0:
            shape = list(x.shape)
            x = _ops.mean(x.reshape(shape[:dim] + [o, L // o] + shape[dim + 1:]), dim=dim + 1)
        else:
            x = _ops.cat([_ops.mean(_core.slice(x, dim, a, b, 1), dim=dim, keepdim=True) for a, b in _adaptive_bins(L, o)], dim)
    return x


def _adaptive_max_pool(name, input, output_size, n, return_indices):
    sizes = _adaptive_sizes(name, input, output_size, n)
    if 0 in sizes:
        e = _empty_pool(input, sizes)
        return (e, _core.zeros(list(e.shape), "int64", None if input._device == "cpu" else input._device)) if return_indices else e
    # the max over a box, one dim at a time from the last: the first maximum along the inner dim
    # of each row, then the first row holding the box's maximum is PyTorch's row-major first maximum
    x, flat, stride = input, None, 1
    for i in reversed(range(n)):
        dim = input.ndim - n + i
        L = input.shape[dim]
        vals, idxs = [], []
        for a, b in _adaptive_bins(L, sizes[i]):
            v, j = _ops.max(_core.slice(x, dim, a, b, 1), dim=dim, keepdim=True)
            vals.append(v)
            pos = (j + a) * stride
            idxs.append(pos if flat is None else pos + _core.gather(_core.slice(flat, dim, a, b, 1), dim, j))
        x, flat = _ops.cat(vals, dim), _ops.cat(idxs, dim)
        stride *= L
    return (x, flat) if return_indices else x


def adaptive_avg_pool1d(input, output_size):
    """adaptive_avg_pool1d(input [N, C, L] or [C, L], output_size): the mean over ``output_size``
    bins of nearly equal size (bin i covers [floor(i L / o), ceil((i + 1) L / o)))."""
    return _adaptive_avg_pool("adaptive_avg_pool1d", input, output_size, 1)


def adaptive_avg_pool2d(input, output_size):
    """adaptive_avg_pool2d(input [N, C, H, W] or [C, H, W], output_size): the mean over
    ``output_size`` bins per plane (an int, a pair, None keeps that dim; 0 gives an empty tensor)."""
    return _adaptive_avg_pool("adaptive_avg_pool2d", input, output_size, 2)


def adaptive_max_pool1d(input, output_size, return_indices=False):
    """adaptive_max_pool1d(input [N, C, L] or [C, L], output_size, return_indices=False)."""
    return _adaptive_max_pool("adaptive_max_pool1d", input, output_size, 1, return_indices)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """adaptive_max_pool2d(input [N, C, H, W] or [C, H, W], output_size, return_indices=False):
    the maximum over each bin; indices are flat positions in each input plane."""
    return _adaptive_max_pool("adaptive_max_pool2d", input, output_size, 2, return_indices)


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    """batch_norm: normalises over every dim but the channels (dim 1)."""
    dims = [0] + list(range(2, input.ndim))
    shape = [1, input.shape[1]] + [1] * (input.ndim - 2)
    if training and input.device.type == "cpu":
        # the core's fused kernel: one pass for statistics, one for the output, closed-form backward
        n = input.numel() // input.shape[1]
        y, mean, invstd = _core.batch_norm_train(input, weight, bias, eps)
        if running_mean is not None:
            with _no_grad():
                var = (invstd * invstd).reciprocal() - eps
                running_mean.mul_(1 - momentum).add_(mean.to(running_mean.dtype) * momentum)
                running_var.mul_(1 - momentum).add_(var.to(running_var.dtype) * (momentum * n / max(n - 1, 1)))
        return y
    if training:
        n = input.numel() // input.shape[1]
        if n <= 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got input size {tuple(input.shape)}")
        xf = input.float() if input.dtype.itemsize < 4 else input
        mean = _ops.mean(xf, dim=dims)
        var = _ops.var(xf, dim=dims, correction=0)
        if running_mean is not None:
            with _no_grad():
                running_mean.mul_(1 - momentum).add_(mean.detach().to(running_mean.dtype) * momentum)
                running_var.mul_(1 - momentum).add_(var.detach().to(running_var.dtype) * (momentum * n / (n - 1)))
    else:
        mean, var = running_mean, running_var
    y = (input - mean.reshape(shape).to(input.dtype)) * _ops.rsqrt(var.reshape(shape) + eps).to(input.dtype)
    if weight is not None:
        y = y * weight.reshape(shape)
    if bias is not None:
        y = y + bias.reshape(shape)
    return y


def _no_grad():
    from ..autograd import no_grad

    return no_grad()


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5): normalises over
    the trailing ``normalized_shape`` dims (in float32 under autocast). float32/float64 CPU
    tensors run one fused kernel each way, saving only each row's mean and 1/std."""
    (input,) = _fp32(input)
    normalized_shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if len(normalized_shape) > input.ndim or tuple(input.shape[input.ndim - len(normalized_shape):]) != normalized_shape:
        raise RuntimeError(f"layer_norm: expected input with trailing shape {list(normalized_shape)}, got {list(input.shape)}")
    params = [t for t in (weight, bias) if t is not None]
    if _ops._fused_float(input, *params) and all(t._dtype == input._dtype and tuple(t.shape) == normalized_shape for t in params):
        y, _, _ = _core.layer_norm(input, weight, bias, input.ndim - len(normalized_shape), float(eps))
        return y
    dims = list(range(-len(normalized_shape), 0))
    mean = _ops.mean(input, dim=dims, keepdim=True)
    d = input - mean
    var = _ops.mean(d * d, dim=dims, keepdim=True)
    y = d * _ops.rsqrt(var + eps)
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    N, C = input.shape[0], input.shape[1]
    if num_groups <= 0 or C % num_groups:
        raise RuntimeError(f"group_norm: expected number of channels in input ({C}) to be divisible by num_groups ({num_groups})")
    per_group = C // num_groups
    for d in input.shape[2:]:
        per_group *= d
    x = input.reshape(N, num_groups, per_group)  # explicit: -1 is ambiguous for an empty batch
    mean = _ops.mean(x, dim=2, keepdim=True)
    d = x - mean
    var = _ops.mean(d * d, dim=2, keepdim=True)
    y = (d * _ops.rsqrt(var + eps)).reshape(list(input.shape))
    shape = [1, C] + [1] * (input.ndim - 2)
    if weight is not None:
        y = y * weight.reshape(shape)
    if bias is not None:
        y = y + bias.reshape(shape)
    return y


# the machine epsilon of each floating dtype (torch.finfo(dtype).eps)
_EPS = {"float16": 2.0**-10, "bfloat16": 2.0**-7, "float32": 2.0**-23, "float64": 2.0**-52}


def rms_norm(input, normalized_shape, weight=None, eps=None):
    """rms_norm(input, normalized_shape, weight=None, eps=None): ``input / sqrt(mean(input²) + eps)``
    over the trailing dims; eps defaults to the machine epsilon of input's dtype."""
    normalized_shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if tuple(input.shape[input.ndim - len(normalized_shape):]) != normalized_shape or len(normalized_shape) > input.ndim:
        raise RuntimeError(
            f"rms_norm: given normalized_shape={list(normalized_shape)}, expected input with shape [*, "
            f"{', '.join(map(str, normalized_shape))}], but got input of size {list(input.shape)}"
        )
    dims = list(range(-len(normalized_shape), 0))
    eps = _EPS.get(input.dtype.name, _EPS["float32"]) if eps is None else eps
    y = input * _ops.rsqrt(_ops.mean(input * input, dim=dims, keepdim=True) + eps)
    return y * weight if weight is not None else y


def normalize(input, p=2.0, dim=1, eps=1e-12):
    n = _ops.norm(input, p, dim=dim, keepdim=True)
    return input / _ops.clamp(n, min=eps)


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """cosine_similarity(x1, x2, dim=1, eps=1e-8): as PyTorch, each norm is clamped to eps
    before dividing (not their product)."""
    shape = _ops.broadcast_shapes(x1.shape, x2.shape)  # dim counts in the broadcast shape
    x1, x2 = x1.expand(shape), x2.expand(shape)
    if not x1.dtype.is_floating_point:
        x1 = x1.to(x2.dtype if x2.dtype.is_floating_point else "float32")
    if not x2.dtype.is_floating_point:
        x2 = x2.to(x1.dtype)

    def clamped_norm(x):  # clamped in value only: the gradient is the norm's, as PyTorch's clamp_min_ under no_grad
        n = _ops.norm(x, dim=dim, keepdim=True)
        return n + (_ops.clamp(n, min=eps) - n).detach()

    return _ops.sum((x1 / clamped_norm(x1)) * (x2 / clamped_norm(x2)), dim=dim)


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, enable_gqa=False):
    """softmax(q k^T * scale + mask) v, with a boolean (True = keep) or additive mask; a row
    that keeps nothing gives zeros, as PyTorch's. For float32/float64 CPU tensors the scale,
    the masks and the softmax are one fused kernel that saves only the probabilities."""
    query, key, value = _lowp(query, key, value)
    L, S = query.shape[-2], key.shape[-2]
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    scores = _core.matmul(query, key.mT)
    w = _attention_weights(scores, scale, [(attn_mask, False)], is_causal, safe=True).to(value.dtype)
    if dropout_p > 0.0:
        w = dropout(w, dropout_p)
    return _core.matmul(w, value)


class _Unfusable(Exception):
    pass


def _merged_mask(scores, masks):
    """The masks as one tensor for the fused kernel: boolean (True keeps) when all are boolean,
    else additive in the scores' dtype; None without masks. Raises _Unfusable when the kernel
    cannot take them (another device or dtype, or a mask that would broadcast the scores up)."""
    merged = None
    if any(m.dtype.name != "bool" for m, _ in masks):
        for m, drop in masks:
            if m.dtype.name == "bool":
                keep = m if not drop else ~m
                m = _ops.where(keep, _core.zeros([], scores._dtype, None), _core.full([], -math.inf, scores._dtype, None))
            if m._dtype != scores._dtype:
                raise _Unfusable
            merged = m if merged is None else merged + m
    else:
        for m, drop in masks:
            keep = ~m if drop else m
            merged = keep if merged is None else merged & keep
    if merged is not None and (not _ops._fused_bool_or_float(merged) or merged.ndim > scores.ndim
                               or tuple(_ops.broadcast_shapes(merged.shape, scores.shape)) != tuple(scores.shape)):
        raise _Unfusable
    return merged


def _attention_weights(scores, scale, masks=(), is_causal=False, safe=False):
    """softmax(scores * scale + masks) over the last dim. ``masks``: (mask, drop) pairs; a
    boolean mask removes the scores where it equals ``drop`` (True for nn.MultiheadAttention's
    masks, False for scaled_dot_product_attention's), a float mask is added. ``is_causal`` keeps
    column j <= row i; ``safe`` gives zeros for a row with nothing kept (else NaN, as softmax)."""
    masks = [(m, drop) for m, drop in masks if m is not None]
    if _ops._fused_float(scores):
        try:
            merged = _merged_mask(scores, masks)
        except _Unfusable:
            pass
        else:
            return _core.scaled_masked_softmax(scores, merged, float(scale), bool(is_causal), bool(safe))
    scores = scores * scale
    L, S = scores.shape[-2], scores.shape[-1]
    if is_causal:
        causal = _ops.tril(_core.full([L, S], True, "bool", scores._device))
        scores = _ops.masked_fill(scores, ~causal, -math.inf)
    for m, drop in masks:
        if m.dtype.name == "bool":
            scores = _ops.masked_fill(scores, m if drop else ~m, -math.inf)
        else:
            scores = scores + m
    w = softmax(scores, dim=-1)
    if safe and masks or safe and is_causal:
        w = _ops.where(_ops.isnan(w), _core.zeros([], w._dtype, w._device), w)
    return w


def bias_gelu(input, bias, approximate="none"):
    """bias_gelu(input, bias, approximate='none') -> Tensor

    ``gelu(input + bias)`` with ``bias`` over the last dim: the bias add of a Linear layer and
    the GELU after it as one fused kernel each way for float32/float64 CPU tensors (deepseek's
    own; the Transformer layers call it for ``activation="gelu"``). ``approximate`` as in
    :func:`gelu`; ``bias=None`` is plain :func:`gelu`.

        >>> x, b = deepseek.randn(4, 8), deepseek.randn(8)
        >>> deepseek.allclose(F.bias_gelu(x, b), F.gelu(x + b))
        True
    """
    if approximate not in ("none", "tanh"):
        raise ValueError(f"bias_gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    if bias is None:
        return gelu(input, approximate)
    if (_ops._fused_float(input, bias) and bias.ndim == 1 and input.ndim >= 1 and bias._dtype == input._dtype
            and bias.shape[0] == input.shape[-1]):
        return _core.bias_gelu(input, bias, approximate == "tanh")
    return gelu(input + bias, approximate)


# ---------------- losses ----------------

def _reduce(loss, reduction, weight_sum=None):
    if reduction == "none":
        return loss
    if reduction == "sum":
        return _ops.sum(loss)
    if reduction == "mean":
        if weight_sum is not None:
            return _ops.sum(loss) / weight_sum
        return _ops.mean(loss)
    raise ValueError(f"{reduction} is not a valid value for reduction")


def nll_loss(input, target, weight=None, ignore_index=-100, reduction="mean"):
    """nll_loss(input [N, C, ...] log-probabilities, target [N, ...] class indices)."""
    (input,) = _fp32(input)
    if input.ndim == 1:
        input, target = input.unsqueeze(0), target.unsqueeze(0)
    if target.dtype.is_floating_point:
        raise RuntimeError(f"nll_loss: expected target of integer dtype (class indices), got {target.dtype}")
    if input.shape[0] != target.shape[0]:
        raise ValueError(f"Expected input batch_size ({input.shape[0]}) to match target batch_size ({target.shape[0]}).")
    C = input.shape[1]
    valid = target != ignore_index
    safe_t = _ops.where(valid, target, 0)
    if bool(((safe_t < 0) | (safe_t >= C)).any()):
        raise IndexError(f"nll_loss: target values must be in [0, {C - 1}] or ignore_index ({ignore_index})")
    picked = _core.gather(input, 1, safe_t.unsqueeze(1)).squeeze(1)
    w = valid.to(input.dtype)
    if weight is not None:
        w = w * _core.index_select(weight.to(input.dtype), 0, safe_t.reshape(-1)).reshape(list(safe_t.shape))
    loss = -picked * w
    if reduction == "mean":
        return _ops.sum(loss) / _ops.sum(w)
    return _reduce(loss, reduction)


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean", label_smoothing=0.0):
    """cross_entropy(input [N, C, ...] logits, target indices [N, ...] or probabilities [N, C, ...]).

    Supports ``weight``, ``ignore_index``, ``label_smoothing`` and ``reduction`` as PyTorch does.
    """
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"cross_entropy: label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    (input,) = _fp32(input)
    logp = log_softmax(input, dim=1 if input.ndim > 1 else 0)
    C = input.shape[1] if input.ndim > 1 else input.shape[0]
    if target.dtype.is_floating_point:
        if tuple(target.shape) != tuple(input.shape):
            raise RuntimeError(f"cross_entropy: probability targets must have the input's shape {tuple(input.shape)}, got {tuple(target.shape)}")
        t = target
        if label_smoothing > 0:
            t = t * (1 - label_smoothing) + label_smoothing / C
        lw = logp * (weight.reshape([1, C] + [1] * (input.ndim - 2)) if weight is not None else 1.0)
        loss = -_ops.sum(lw * t, dim=1 if input.ndim > 1 else 0)
        return _reduce(loss, reduction)
    nll = nll_loss(logp, target, weight, ignore_index, reduction)
    if label_smoothing <= 0:
        return nll
    lp = logp if logp.ndim > 1 else logp.unsqueeze(0)
    tg = target if logp.ndim > 1 else target.unsqueeze(0)
    valid = (tg != ignore_index).to(lp.dtype)
    wv = weight.reshape([1, C] + [1] * (lp.ndim - 2)) if weight is not None else None
    smooth = -_ops.sum(lp * wv if wv is not None else lp, dim=1) * valid
    if reduction == "mean":
        if weight is not None:
            safe = _ops.where(tg != ignore_index, tg, 0)
            denom = _ops.sum(_core.index_select(weight, 0, safe.reshape(-1)).reshape(list(safe.shape)) * valid)
        else:
            denom = _ops.sum(valid)
        smooth = _ops.sum(smooth) / denom
    else:
        smooth = _reduce(smooth, reduction)
    return (1 - label_smoothing) * nll + label_smoothing / C * smooth


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    input, target = _fp32(input, target)
    _check_same_shape("mse_loss", input, target)
    d = input - target
    return _reduce(d * d, reduction)


def _check_same_shape(name, a, b):
    if tuple(a.shape) != tuple(b.shape):
        import warnings

        warnings.warn(f"{name}: using a target size {tuple(b.shape)} that is different to the input size {tuple(a.shape)}; broadcasting applies")


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    input, target = _fp32(input, target)
    return _reduce(_ops.abs(input - target), reduction)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    if beta < 0:
        raise RuntimeError(f"smooth_l1_loss does not support negative values for beta (got {beta})")
    input, target = _fp32(input, target)
    d = _ops.abs(input - target)
    if beta == 0:
        return _reduce(d, reduction)
    return _reduce(_ops.where(d < beta, 0.5 * d * d / beta, d - 0.5 * beta), reduction)


def huber_loss(input, target, reduction="mean", delta=1.0):
    if delta <= 0:
        raise RuntimeError(f"huber_loss does not support non-positive values for delta (got {delta})")
    input, target = _fp32(input, target)
    d = _ops.abs(input - target)
    return _reduce(_ops.where(d < delta, 0.5 * d * d, delta * (d - 0.5 * delta)), reduction)


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    input, target = _fp32(input, target)
    if tuple(input.shape) != tuple(target.shape):
        raise ValueError(f"Using a target size ({tuple(target.shape)}) that is different to the input size ({tuple(input.shape)}) is deprecated. Please ensure they have the same size.")
    if input.numel() and bool(((input < 0) | (input > 1)).any()):
        raise RuntimeError("binary_cross_entropy: all elements of input should be between 0 and 1")
    lx = _ops.clamp(_ops.log(input), min=-100.0)
    l1x = _ops.clamp(_ops.log(1 - input), min=-100.0)
    loss = -(target * lx + (1 - target) * l1x)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None, reduction="mean", pos_weight=None):
    """BCE on logits, computed stably: ``(1 - t) x + (1 + (pw - 1) t) softplus(-x)``."""
    input, target = _fp32(input, target)
    if tuple(input.shape) != tuple(target.shape):
        raise ValueError(f"Target size ({tuple(target.shape)}) must be the same as input size ({tuple(input.shape)})")
    sp = _ops.relu(-input) + _ops.log1p(_ops.exp(-_ops.abs(input)))  # softplus(-x)
    if pos_weight is not None:
        lw = 1 + (pos_weight - 1) * target
        loss = (1 - target) * input + lw * sp
    else:
        loss = (1 - target) * input + sp
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    input, target = _fp32(input, target)
    if log_target:
        loss = _ops.exp(target) * (target - input)
    else:
        loss = _ops.where(target > 0, target * (_ops.log(_ops.where(target > 0, target, 1.0)) - input), 0.0 * input)
    if reduction == "batchmean":
        return _ops.sum(loss) / input.shape[0]
    return _reduce(loss, reduction)


# ---------------- padding ----------------

# padding length -> the input ranks PyTorch pads in the non-constant modes
_PAD_RANKS = {2: (2, 3), 4: (3, 4), 6: (4, 5)}


def pad(input, pad, mode="constant", value=None):
    """pad(input, pad, mode='constant', value=None) -> Tensor

    Pads the last ``len(pad) // 2`` dims; ``pad`` lists (left, right) amounts from the last dim
    backwards. Negative amounts crop. ``mode`` is 'constant' (with ``value``, default 0),
    'reflect', 'replicate' or 'circular'.

    Example::

        >>> F.pad(deepseek.arange(4.).reshape(1, 4), (2, -1), mode="reflect")
        tensor([[2., 1., 0., 1., 2.]])
    """
    if mode == "constant":
        return _ops.pad(input, pad, mode, value)
    return _pad_nonconstant(input, pad, mode, value)


def _pad_nonconstant(input, pad, mode, value=None):
    """reflect / replicate / circular padding, checked as PyTorch checks it. As in PyTorch,
    reflect and replicate pad first and then crop the negative amounts; circular crops first and
    wraps around what is left."""
    if mode not in ("reflect", "replicate", "circular"):
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    pad = [operator.index(v) for v in pad]
    shape = list(input.shape)
    if len(pad) % 2:
        raise RuntimeError(f"Padding length must be divisible by 2, got {len(pad)}")
    if len(pad) > 2 * input.ndim:
        raise RuntimeError(
            f"Padding length should be less than or equal to two times the input dimension but got padding length "
            f"{len(pad)} and input of dimension {input.ndim}"
        )
    if value is not None and value != 0:
        raise RuntimeError(f'Padding mode "{mode}" doesn\'t take in value argument')
    if input.ndim not in _PAD_RANKS.get(len(pad), ()):
        raise NotImplementedError(
            f"Only 2D, 3D, 4D, 5D padding with non-constant padding are supported for now "
            f"(padding of length {len(pad)} for an input of shape {shape})"
        )
    n = len(pad) // 2
    if mode != "circular" and 0 in shape[input.ndim - n - 1:]:
        raise RuntimeError(
            f"{mode} pad: expected a {n + 1}-D or {n + 2}-D (batch mode) tensor with possibly 0 batch size and other "
            f"non-zero dimensions for input, but got shape {shape}"
        )
    x = input
    for i in range(n):
        d = input.ndim - 1 - i
        lo, hi = pad[2 * i], pad[2 * i + 1]
        size = shape[d]
        if size + lo + hi < (0 if mode == "circular" else 1):
            raise RuntimeError(
                f"{mode} pad: input (size {size} at dimension {d}) is too small for padding ({lo}, {hi}): "
                f"calculated output size {size + lo + hi}"
            )
        if mode == "circular":
            kept = list(range(max(-lo, 0), size - max(-hi, 0)))
            if max(lo, hi) > len(kept):
                raise RuntimeError(
                    f"circular pad: Padding value causes wrapping around more than once: padding ({lo}, {hi}) at "
                    f"dimension {d} of input {shape} leaves {len(kept)} elements to wrap"
                )
            idx = kept[len(kept) - max(lo, 0):] + kept + kept[: max(hi, 0)]
        else:
            if mode == "reflect" and (lo >= size or hi >= size):
                raise RuntimeError(
                    f"Argument #4: Padding size should be less than the corresponding input dimension, but got: "
                    f"padding ({lo}, {hi}) at dimension {d} of input {shape}"
                )
            pl, pr = max(lo, 0), max(hi, 0)
            if mode == "replicate":
                full = [0] * pl + list(range(size)) + [size - 1] * pr
            else:
                full = list(range(pl, 0, -1)) + list(range(size)) + list(range(size - 2, size - 2 - pr, -1))
            idx = full[max(-lo, 0): len(full) - max(-hi, 0)]
        if idx != list(range(size)):
            x = _core.index_select(x, d, _creation.tensor(idx, dtype="int64", device=x.device))
    return x


def _interp_scale(n_in, n_out, align_corners, scale, dt):
    """PyTorch's area_pixel_compute_scale, in the kernel's arithmetic type ``dt``."""
    if align_corners:
        return dt(n_in - 1) / dt(n_out - 1) if n_out > 1 else dt(0)
    return dt(1.0 / scale) if scale is not None and scale > 0 else dt(n_in) / dt(n_out)


def _nearest_index(n_in, n_out, scale, exact):
    """PyTorch's nearest_idx / nearest_exact_idx (float32 arithmetic, as its kernels)."""
    i = np.arange(n_out)
    if not exact and n_out == n_in:
        return i
    if not exact and n_out == 2 * n_in:
        return i >> 1
    f = _interp_scale(n_in, n_out, False, scale, np.float32)
    src = np.floor((i.astype(np.float32) + np.float32(0.5 if exact else 0.0)) * f)
    return np.minimum(src.astype(np.int64), n_in - 1)


def _linear_weights(n_in, n_out, align_corners, scale, dt):
    """PyTorch's compute_source_index_and_lambda: (index0, index1, lambda1) per output."""
    i = np.arange(n_out)
    if n_out == n_in:
        return i, i, np.zeros(n_out, dtype=dt)
    f = _interp_scale(n_in, n_out, align_corners, scale, dt)
    if align_corners:
        src = f * i.astype(dt)
    else:
        src = np.maximum(f * (i.astype(dt) + dt(0.5)) - dt(0.5), dt(0))
    i0 = src.astype(np.int64)
    i1 = i0 + (i0 < n_in - 1)
    return i0, i1, np.clip(src - i0.astype(dt), dt(0), dt(1))


_LINEAR_MODES = {"linear": 1, "bilinear": 2, "trilinear": 3}


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None, recompute_scale_factor=None, antialias=False):
    """interpolate(input [N, C, *spatial], size=None, scale_factor=None, mode='nearest',
    align_corners=None, recompute_scale_factor=None): resizes the 1 to 3 spatial dims.

    Modes: 'nearest', 'nearest-exact', 'linear' (3-D input), 'bilinear' (4-D), 'trilinear'
    (5-D) and 'area' (adaptive average pooling). Source positions are computed as PyTorch's
    kernels compute them (a given ``scale_factor`` is used as is unless
    ``recompute_scale_factor``).

    Example::

        >>> F.interpolate(deepseek.arange(4.).reshape(1, 1, 4), scale_factor=2, mode="linear").shape
        deepseek.Size([1, 1, 8])
    """
    n = input.ndim - 2
    if n not in (1, 2, 3):
        raise NotImplementedError(f"Input Error: Only 3D, 4D and 5D input Tensors supported (got {input.ndim}D) for the modes: "
                                  f"nearest | linear | bilinear | trilinear | area | nearest-exact (got {mode})")
    if mode not in ("nearest", "nearest-exact", "area") and mode not in _LINEAR_MODES:
        raise NotImplementedError(f"interpolate: mode '{mode}' is not supported (nearest, nearest-exact, linear, bilinear, trilinear, area)")
    if mode in _LINEAR_MODES:
        if _LINEAR_MODES[mode] != n:
            raise NotImplementedError(f"Got {input.ndim}D input, but {mode} mode needs {_LINEAR_MODES[mode] + 2}D input")
        align_corners = bool(align_corners)
    elif align_corners is not None:
        raise ValueError("align_corners option can only be set with the interpolating modes: linear | bilinear | bicubic | trilinear")
    if antialias:
        raise NotImplementedError("interpolate: antialias=True is not supported")
    spatial = list(input.shape[2:])
    if (size is None) == (scale_factor is None):
        raise ValueError("only one of size or scale_factor should be defined" if size is not None else "either size or scale_factor should be defined")
    if size is not None:
        sizes = list(size) if isinstance(size, (list, tuple)) else [size] * n
        if len(sizes) != n:
            raise ValueError(f"Input and output must have the same number of spatial dimensions, but got input with spatial dimensions "
                             f"of {spatial} and output size of {size}")
        sizes, scales = [operator.index(v) for v in sizes], [None] * n
    else:
        factors = list(scale_factor) if isinstance(scale_factor, (list, tuple)) else [scale_factor] * n
        if len(factors) != n:
            raise ValueError(f"Input and scale_factor must have the same number of spatial dimensions, but got input with spatial "
                             f"dimensions of {spatial} and scale_factor of shape {scale_factor}")
        sizes = [int(math.floor(float(L) * float(f))) for L, f in zip(spatial, factors)]
        scales = [None] * n if recompute_scale_factor else [float(f) for f in factors]
    if min(spatial) <= 0 or min(sizes) <= 0:
        raise RuntimeError(f"interpolate: input and output sizes should be greater than 0, but got input {spatial} output {sizes}")
    if mode == "area":
        return _adaptive_avg_pool("interpolate(mode='area')", input, sizes, n)
    x = input
    for i in range(n):
        d = 2 + i
        if mode in ("nearest", "nearest-exact"):
            idx = _nearest_index(spatial[i], sizes[i], scales[i], mode == "nearest-exact")
            if not np.array_equal(idx, np.arange(spatial[i])):
                x = _core.index_select(x, d, _creation.tensor(idx, dtype="int64", device=x.device))
            continue
        dt = np.float64 if input.dtype.name == "float64" else np.float32  # the kernels' opmath type
        i0, i1, lam = _linear_weights(spatial[i], sizes[i], align_corners, scales[i], dt)
        shape = [1] * x.ndim
        shape[d] = sizes[i]
        w1 = _creation.tensor(lam, dtype=x.dtype, device=x.device).reshape(shape)
        a = _core.index_select(x, d, _creation.tensor(i0, dtype="int64", device=x.device))
        b = _core.index_select(x, d, _creation.tensor(i1, dtype="int64", device=x.device))
        x = a * (1 - w1) + b * w1
    return x


from .ctc import ctc_loss  # noqa: E402,F401

# the rest of PyTorch's functional surface (issue 16), in topic files beside this one
from ._functional_extra import *  # noqa: E402,F401,F403
from ._functional_extra import interpolate  # noqa: E402,F401  (adds mode='bicubic')
from ._pool_extra import *  # noqa: E402,F401,F403
from ._loss_extra import *  # noqa: E402,F401,F403
from ._attention_extra import *  # noqa: E402,F401,F403
