"""More pooling, dropout and embedding functions of ``nn.functional``: 3-D pools, Lp pools,
unpooling, the ``*_with_indices`` spellings, feature and alpha dropouts, ``embedding_bag``."""
from __future__ import annotations

import math

from .. import _creation, _ops, _random, _scatter_extra, _search
from . import functional as _F


# ---------------- 3-D pools ----------------

def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """max_pool3d(input [N, C, D, H, W] or [C, D, H, W], kernel_size, stride=None, padding=0,
    dilation=1, ceil_mode=False, return_indices=False): the maximum over each window; indices
    are flat positions in each input volume; the gradient goes to the first maximum."""
    k, s, p, d = _F._pool_params("max_pool3d", 3, kernel_size, stride, padding, dilation)
    _F._pool_input("max_pool3d", input, 3)
    out = _F._pool_shape("max_pool3d", input.shape, k, s, p, d, ceil_mode)
    x = _F._sweep_pad(input, k, s, p, d, out, _F._lowest(input.dtype))
    views, _ = _F._windows(x, k, s, d, 3, out)
    stacked = _ops.stack(views, -1)
    vals, arg = _ops.max(stacked, -1)
    if not return_indices:
        return vals
    # the window offset of the winner -> its flat position in the unpadded input
    kd, kh, kw = k
    od = _creation.arange(out[0], device=input.device).reshape(-1, 1, 1) * s[0] - p[0]
    oh = _creation.arange(out[1], device=input.device).reshape(1, -1, 1) * s[1] - p[1]
    ow = _creation.arange(out[2], device=input.device).reshape(1, 1, -1) * s[2] - p[2]
    a0 = _ops.floor_divide(arg, kh * kw)
    a1 = _ops.remainder(_ops.floor_divide(arg, kw), kh)
    a2 = _ops.remainder(arg, kw)
    D, H, W = input.shape[-3:]
    idx = ((od + a0 * d[0]) * H + (oh + a1 * d[1])) * W + (ow + a2 * d[2])
    return vals, idx


def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None):
    """avg_pool3d(input [N, C, D, H, W] or [C, D, H, W], kernel_size, stride=None, padding=0,
    ceil_mode=False, count_include_pad=True, divisor_override=None): the mean over each window."""
    return _F._avg_pool("avg_pool3d", input, 3, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)


def adaptive_avg_pool3d(input, output_size):
    """adaptive_avg_pool3d(input [N, C, D, H, W] or [C, D, H, W], output_size)."""
    return _F._adaptive_avg_pool("adaptive_avg_pool3d", input, output_size, 3)


def adaptive_max_pool3d(input, output_size, return_indices=False):
    """adaptive_max_pool3d(input [N, C, D, H, W] or [C, D, H, W], output_size, return_indices=False)."""
    return _F._adaptive_max_pool("adaptive_max_pool3d", input, output_size, 3, return_indices)


def max_pool1d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=True):
    """max_pool1d_with_indices(...) -> (values, indices): ``max_pool1d`` with ``return_indices=True``."""
    return _F.max_pool1d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool2d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=True):
    """max_pool2d_with_indices(...) -> (values, indices): ``max_pool2d`` with ``return_indices=True``."""
    return _F.max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool3d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=True):
    """max_pool3d_with_indices(...) -> (values, indices): ``max_pool3d`` with ``return_indices=True``."""
    return max_pool3d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def adaptive_max_pool1d_with_indices(input, output_size, return_indices=True):
    """adaptive_max_pool1d_with_indices(...) -> (values, indices): ``adaptive_max_pool1d`` with ``return_indices=True``."""
    return _F.adaptive_max_pool1d(input, output_size, True)


def adaptive_max_pool2d_with_indices(input, output_size, return_indices=True):
    """adaptive_max_pool2d_with_indices(...) -> (values, indices): ``adaptive_max_pool2d`` with ``return_indices=True``."""
    return _F.adaptive_max_pool2d(input, output_size, True)


def adaptive_max_pool3d_with_indices(input, output_size, return_indices=True):
    """adaptive_max_pool3d_with_indices(...) -> (values, indices): ``adaptive_max_pool3d`` with ``return_indices=True``."""
    return adaptive_max_pool3d(input, output_size, True)


def _lp_pool(name, avg, n, input, norm_type, kernel_size, stride, ceil_mode):
    k = _F._pair(kernel_size, n)
    x = _ops.pow(input, norm_type)
    out = avg(x, k, stride, 0, ceil_mode)
    return _ops.pow(_ops.sign(out) * _ops.relu(_ops.abs(out)) * math.prod(k), 1.0 / norm_type)


def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False): ``(sum x^p)^(1/p)``
    over each window."""
    return _lp_pool("lp_pool1d", _F.avg_pool1d, 1, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False)."""
    return _lp_pool("lp_pool2d", _F.avg_pool2d, 2, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool3d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """lp_pool3d(input, norm_type, kernel_size, stride=None, ceil_mode=False)."""
    return _lp_pool("lp_pool3d", avg_pool3d, 3, input, norm_type, kernel_size, stride, ceil_mode)


def _max_unpool(name, n, input, indices, kernel_size, stride, padding, output_size):
    k = _F._pair(kernel_size, n)
    s = k if stride is None else _F._pair(stride, n)
    p = _F._pair(padding, n)
    if input.ndim not in (n + 1, n + 2):
        raise RuntimeError(f"{name}: expected a {n + 1}-D or {n + 2}-D input, got shape {tuple(input.shape)}")
    if tuple(indices.shape) != tuple(input.shape):
        raise RuntimeError(f"{name}: Expected shape of indices to be same as that of the input tensor "
                           f"({tuple(input.shape)}) but got indices tensor with shape: {tuple(indices.shape)}")
    spatial = list(input.shape[-n:])
    default = [(L - 1) * si - 2 * pi + ki for L, si, pi, ki in zip(spatial, s, p, k)]
    if output_size is None:
        size = default
    else:
        size = list(output_size)[-n:]
        for o, dflt, si in zip(size, default, s):
            if not dflt - si < o < dflt + si:
                raise ValueError(f"invalid output_size \"{list(output_size)}\" (dim {o} must be between "
                                 f"{dflt - si} and {dflt + si})")
    lead = list(input.shape[:-n])
    total = math.prod(size)
    if indices.numel() and (int(indices.max()) >= total or int(indices.min()) < 0):
        raise RuntimeError(f"{name}: Found an invalid max index: {int(indices.max())} (output volumes are of size {total})")
    flat = _creation.zeros(*lead, total, dtype=input.dtype, device=input.device)
    out = _ops.scatter(flat, len(lead), indices.reshape(*lead, -1), input.reshape(*lead, -1))
    return out.reshape(*lead, *size)


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None): puts
    each value back at its ``max_pool1d`` index, zeros elsewhere."""
    return _max_unpool("max_unpool1d", 1, input, indices, kernel_size, stride, padding, output_size)


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None)."""
    return _max_unpool("max_unpool2d", 2, input, indices, kernel_size, stride, padding, output_size)


def max_unpool3d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """max_unpool3d(input, indices, kernel_size, stride=None, padding=0, output_size=None)."""
    return _max_unpool("max_unpool3d", 3, input, indices, kernel_size, stride, padding, output_size)


# ---------------- dropouts ----------------

def _check_p(p):
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _feature_dropout(name, n, input, p, training, inplace):
    _check_p(p)
    if input.ndim not in (n + 1, n + 2):
        raise RuntimeError(f"{name}: Expected {n + 1}D or {n + 2}D input, but received a {input.ndim}D input")
    if not training or p == 0.0:
        return input
    batched = input.ndim == n + 2
    shape = list(input.shape[:2] if batched else input.shape[:1]) + [1] * n
    keep = _random.bernoulli(_creation.full(shape, 1.0 - p, device=input.device))
    scale = 0.0 if p == 1.0 else 1.0 / (1.0 - p)
    return _F._activation(input, inplace, lambda x: x * keep.to(x.dtype) * scale)


def dropout1d(input, p=0.5, training=True, inplace=False):
    """dropout1d(input [N, C, L] or [C, L], p=0.5, training=True): zeroes whole channels."""
    return _feature_dropout("dropout1d", 1, input, p, training, inplace)


def dropout2d(input, p=0.5, training=True, inplace=False):
    """dropout2d(input [N, C, H, W] or [C, H, W], p=0.5, training=True): zeroes whole channels."""
    return _feature_dropout("dropout2d", 2, input, p, training, inplace)


def dropout3d(input, p=0.5, training=True, inplace=False):
    """dropout3d(input [N, C, D, H, W] or [C, D, H, W], p=0.5, training=True): zeroes whole channels."""
    return _feature_dropout("dropout3d", 3, input, p, training, inplace)


_ALPHA_P = -1.7580993408473766  # -scale * alpha of SELU


def _alpha_dropout(input, p, training, inplace, mask_shape):
    _check_p(p)
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return _F._activation(input, inplace, lambda x: x * 0.0)
    keep = _random.bernoulli(_creation.full(mask_shape, 1.0 - p, device=input.device)).to(input.dtype)
    a = 1.0 / math.sqrt((_ALPHA_P ** 2 * p + 1) * (1 - p))
    b = -a * _ALPHA_P * p
    return _F._activation(input, inplace, lambda x: (x * keep + _ALPHA_P * (1 - keep)) * a + b)


def alpha_dropout(input, p=0.5, training=False, inplace=False):
    """alpha_dropout(input, p=0.5, training=False): dropout that keeps SELU's mean and variance."""
    return _alpha_dropout(input, p, training, inplace, list(input.shape))


def feature_alpha_dropout(input, p=0.5, training=False, inplace=False):
    """feature_alpha_dropout(input, p=0.5, training=False): ``alpha_dropout`` of whole channels."""
    return _alpha_dropout(input, p, training, inplace, list(input.shape[:2]) + [1] * (input.ndim - 2))


# ---------------- embedding bags ----------------

def embedding_bag(input, weight, offsets=None, max_norm=None, norm_type=2, scale_grad_by_freq=False, mode="mean",
                  sparse=False, per_sample_weights=None, include_last_offset=False, padding_idx=None):
    """embedding_bag(input, weight, offsets=None, ..., mode='mean', per_sample_weights=None,
    include_last_offset=False, padding_idx=None) -> [B, D]: the sum, mean or max of the
    embedding rows of each bag (the rows of a 2-D ``input``, or the runs of a 1-D ``input``
    starting at ``offsets``); ``padding_idx`` entries are left out; empty bags give zeros."""
    if mode not in ("sum", "mean", "max"):
        raise ValueError(f"mode has to be one of sum, mean or max, got {mode}")
    if per_sample_weights is not None and mode != "sum":
        raise NotImplementedError(f"embedding_bag: per_sample_weights was not None. per_sample_weights is only supported "
                                  f"for mode='sum' (got mode='{mode}'). Please open a feature request on GitHub.")
    if input.ndim == 2:
        if offsets is not None:
            raise ValueError("if input is 2D, then offsets has to be None, as input is treated is a mini-batch of fixed "
                             "length sequences.")
        B, L = input.shape
        bag = _creation.arange(B, device=input.device).reshape(B, 1).expand(B, L).reshape(-1)
        flat = input.reshape(-1)
        psw = None if per_sample_weights is None else per_sample_weights.reshape(-1)
    elif input.ndim == 1:
        if offsets is None:
            raise ValueError("offsets has to be a 1D Tensor but got None")
        if offsets.ndim != 1:
            raise ValueError("offsets has to be a 1D Tensor")
        flat, psw = input, per_sample_weights
        starts = offsets[:-1] if include_last_offset else offsets
        B = starts.shape[0]
        if B and int(starts[0]) != 0:
            raise RuntimeError(f"offsets[0] has to be 0, i.e., the first sequence in the mini-batch has to start from "
                               f"position 0. However, got {int(starts[0])}")
        pos = _creation.arange(flat.shape[0], device=input.device)
        bag = _search.searchsorted(starts, pos, right=True) - 1 if B else pos * 0
    else:
        raise ValueError(f"input has to be 1D or 2D Tensor, but got Tensor of dimension {input.ndim}")
    rows = _F.embedding(flat, weight, None, max_norm, norm_type, scale_grad_by_freq, sparse)
    keep = _creation.ones(flat.shape[0], dtype=weight.dtype, device=weight.device)
    if padding_idx is not None:
        pi = padding_idx % weight.shape[0]
        keep = (flat != pi).to(weight.dtype)
    if psw is not None:
        rows = rows * psw.unsqueeze(1)
    D = weight.shape[1]
    idx = bag.reshape(-1, 1).expand(-1, D)
    if mode == "max":
        cand = _ops.where(keep.unsqueeze(1) > 0, rows, float("-inf"))
        out = _scatter_extra.scatter_reduce(_creation.full((B, D), float("-inf"), dtype=weight.dtype, device=weight.device), 0,
                                  idx, cand, "amax", include_self=True)
        return _ops.where(_ops.isinf(out) & (out < 0), 0.0, out).to(weight.dtype)
    total = _ops.scatter_add(_creation.zeros(B, D, dtype=weight.dtype, device=weight.device), 0, idx, rows * keep.unsqueeze(1))
    if mode == "sum":
        return total
    cnt = _ops.scatter_add(_creation.zeros(B, dtype=weight.dtype, device=weight.device), 0, bag, keep)
    return total / _ops.clamp(cnt, min=1).unsqueeze(1)


__all__ = [n for n in list(globals()) if not n.startswith("_") and callable(globals()[n])
           and getattr(globals()[n], "__module__", None) == __name__]


# ---------------- fractional max pooling ----------------

def _fractional_intervals(u, n_in, n_out, k):
    """PyTorch's generate_intervals: the window starts for sample ``u`` (a [P] tensor of draws)."""
    if n_out == 1:
        return _creation.full((u.shape[0], 1), float(n_in - k), dtype="float64", device=u.device).to("int64")
    alpha = (n_in - k) / (n_out - 1)
    i = _creation.arange(n_out - 1, dtype="float64", device=u.device).unsqueeze(0)
    uu = u.to("float64").unsqueeze(1)
    starts = _ops.trunc((i + uu) * alpha) - _ops.trunc(uu * alpha)
    last = _creation.full((u.shape[0], 1), float(n_in - k), dtype="float64", device=u.device)
    return _ops.cat([starts, last], 1).to("int64")


def _fractional_max_pool(name, n, input, kernel_size, output_size, output_ratio, return_indices, samples):
    if input.ndim not in (n + 1, n + 2):
        raise RuntimeError(f"{name}: expected a {n + 1}-D or {n + 2}-D input, got shape {tuple(input.shape)}")
    if input.ndim == n + 1:
        r = _fractional_max_pool(name, n, input.unsqueeze(0), kernel_size, output_size, output_ratio, return_indices,
                                 None if samples is None else samples)
        return (r[0].squeeze(0), r[1].squeeze(0)) if return_indices else r.squeeze(0)
    k = _F._pair(kernel_size, n)
    spatial = list(input.shape[2:])
    if output_size is None:
        if output_ratio is None:
            raise ValueError("fractional_max_pool requires specifying either an output_size or an output_ratio")
        ratio = _F._pair(output_ratio, n)
        output_size = [int(L * r) for L, r in zip(spatial, ratio)]
    out = list(_F._pair(output_size, n))
    for L, o, kk in zip(spatial, out, k):
        if o + kk - 1 > L:
            raise RuntimeError(f"{name}(): pool size {kk} too large relative to input size {L} for output size {o} "
                               f"(need output_size + kernel_size - 1 <= input size)")
    N, C = input.shape[:2]
    if samples is None:
        samples = _random.rand(N, C, n, dtype=input.dtype, device=input.device)
    if tuple(samples.shape) != (N, C, n):
        raise RuntimeError(f"{name}: _random_samples must have shape {(N, C, n)}, got {tuple(samples.shape)}")
    P = N * C
    flat_s = samples.reshape(P, n)
    # PyTorch's sample order: the last spatial dim takes sample 0 (W, then H, then T)
    offsets = None
    strides = [math.prod(spatial[d + 1:]) for d in range(n)]
    for d in range(n):
        starts = _fractional_intervals(flat_s[:, n - 1 - d], spatial[d], out[d], k[d])  # [P, out_d]
        pos = starts.unsqueeze(2) + _creation.arange(k[d], device=input.device)  # [P, out_d, k_d]
        shape = [P] + [1] * (2 * n)
        shape[1 + d] = out[d]
        shape[1 + n + d] = k[d]
        term = (pos * strides[d]).reshape(shape)
        offsets = term if offsets is None else offsets + term
    full = [P] + out + list(k)
    idx = offsets.expand(*full).reshape(P, -1)
    vals = _ops.gather(input.reshape(P, -1), 1, idx).reshape(P, math.prod(out), math.prod(k))
    best, arg = _ops.max(vals, 2)
    chosen = _ops.gather(idx.reshape(P, math.prod(out), math.prod(k)), 2, arg.unsqueeze(2)).squeeze(2)
    best = best.reshape(N, C, *out)
    return (best, chosen.reshape(N, C, *out)) if return_indices else best


def fractional_max_pool2d(input, kernel_size, output_size=None, output_ratio=None, return_indices=False,
                          _random_samples=None):
    """fractional_max_pool2d(input, kernel_size, output_size=None, output_ratio=None,
    return_indices=False, _random_samples=None): max pooling over pseudo-random, overlapping
    windows whose starts step by the fractional ratio of input to output size."""
    return _fractional_max_pool("fractional_max_pool2d", 2, input, kernel_size, output_size, output_ratio,
                                return_indices, _random_samples)


def fractional_max_pool3d(input, kernel_size, output_size=None, output_ratio=None, return_indices=False,
                          _random_samples=None):
    """fractional_max_pool3d(input, kernel_size, output_size=None, output_ratio=None,
    return_indices=False, _random_samples=None)."""
    return _fractional_max_pool("fractional_max_pool3d", 3, input, kernel_size, output_size, output_ratio,
                                return_indices, _random_samples)


def fractional_max_pool2d_with_indices(input, kernel_size, output_size=None, output_ratio=None, return_indices=True,
                                       _random_samples=None):
    """fractional_max_pool2d_with_indices(...) -> (values, indices): ``fractional_max_pool2d`` with ``return_indices=True``."""
    return fractional_max_pool2d(input, kernel_size, output_size, output_ratio, True, _random_samples)


def fractional_max_pool3d_with_indices(input, kernel_size, output_size=None, output_ratio=None, return_indices=True,
                                       _random_samples=None):
    """fractional_max_pool3d_with_indices(...) -> (values, indices): ``fractional_max_pool3d`` with ``return_indices=True``."""
    return fractional_max_pool3d(input, kernel_size, output_size, output_ratio, True, _random_samples)


__all__ += ["fractional_max_pool2d", "fractional_max_pool3d", "fractional_max_pool2d_with_indices",
            "fractional_max_pool3d_with_indices"]
