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


# the rest of the namespace, one module per family (they import the helpers above)
from ._conv import (  # noqa: E402
    _pair, _windows, _conv_padding, _conv_check, _convnd, conv1d, conv2d, conv_transpose2d,
    _insert_strided,
)
from ._pooling import (  # noqa: E402
    _TORCH_TYPE, _pool_out, _pool_params, _pool_input, _pool_shape, _sweep_pad, _lowest, max_pool2d,
    _first_taps, max_pool1d, _avg_pool, avg_pool1d, avg_pool2d, _adaptive_bins, _adaptive_sizes,
    _empty_pool, _adaptive_avg_pool, _adaptive_max_pool, adaptive_avg_pool1d, adaptive_avg_pool2d,
    adaptive_max_pool1d, adaptive_max_pool2d,
)
from ._attention import (  # noqa: E402
    scaled_dot_product_attention, _merged_mask, _attention_weights, bias_gelu,
)
from ._losses import (  # noqa: E402
    _reduce, nll_loss, cross_entropy, mse_loss, _check_same_shape, l1_loss, smooth_l1_loss,
    huber_loss, binary_cross_entropy, binary_cross_entropy_with_logits, kl_div,
)
from ._batch_norm import batch_norm, _batch_norm_act  # noqa: E402,F401
from .ctc import ctc_loss  # noqa: E402,F401

# the rest of PyTorch's functional surface (issue 16), in topic files beside this one
from ._functional_extra import *  # noqa: E402,F401,F403
from ._functional_extra import interpolate  # noqa: E402,F401  (adds mode='bicubic')
from ._pool_extra import *  # noqa: E402,F401,F403
from ._loss_extra import *  # noqa: E402,F401,F403
from ._attention_extra import *  # noqa: E402,F401,F403
