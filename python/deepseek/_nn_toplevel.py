"""The layer functions PyTorch also keeps at the top level (``torch.conv2d``,
``torch.batch_norm``, ``torch.embedding``, ``torch.dropout`` ...), with the top-level
signatures: ATen's argument order (``batch_norm(input, weight, bias, running_mean, ...)``,
``embedding(weight, indices)``), ``reduction`` as ATen's integer (0 none, 1 mean, 2 sum) and
``train`` flags given positionally. Each is the ``nn.functional`` op of the same meaning.
"""
from __future__ import annotations

import operator

from . import _creation, _ops
from .nn import functional as _F

__all__ = [
    "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
    "max_pool1d", "max_pool2d", "max_pool3d", "max_pool1d_with_indices", "avg_pool1d",
    "adaptive_avg_pool1d", "adaptive_max_pool1d", "batch_norm", "layer_norm", "group_norm",
    "instance_norm", "rms_norm", "embedding", "embedding_bag", "dropout", "dropout_", "alpha_dropout",
    "alpha_dropout_", "feature_dropout", "feature_dropout_", "feature_alpha_dropout",
    "feature_alpha_dropout_", "bilinear", "binary_cross_entropy_with_logits", "kl_div",
    "cosine_similarity", "pairwise_distance", "pdist", "pixel_shuffle", "pixel_unshuffle",
    "channel_shuffle", "native_channel_shuffle", "prelu", "selu", "selu_", "celu", "celu_", "rrelu",
    "rrelu_", "hardshrink", "threshold", "threshold_", "cosine_embedding_loss", "margin_ranking_loss",
    "hinge_embedding_loss", "triplet_margin_loss", "poisson_nll_loss", "ctc_loss", "relu_",
]

# same signature as the nn.functional op
conv1d = _F.conv1d
conv2d = _F.conv2d
conv3d = _F.conv3d
conv_transpose1d = _F.conv_transpose1d
conv_transpose2d = _F.conv_transpose2d
conv_transpose3d = _F.conv_transpose3d
avg_pool1d = _F.avg_pool1d
adaptive_avg_pool1d = _F.adaptive_avg_pool1d
rms_norm = _F.rms_norm
bilinear = _F.bilinear
cosine_similarity = _F.cosine_similarity
pairwise_distance = _F.pairwise_distance
pdist = _F.pdist
pixel_shuffle = _F.pixel_shuffle
pixel_unshuffle = _F.pixel_unshuffle
channel_shuffle = _F.channel_shuffle
native_channel_shuffle = _F.channel_shuffle
prelu = _F.prelu
hardshrink = _F.hardshrink
relu_ = _F.relu_

_REDUCTIONS = {0: "none", 1: "mean", 2: "sum"}


def _reduction(op, reduction):
    """ATen's integer reduction as nn.functional's name; anything else is PyTorch's TypeError."""
    if isinstance(reduction, bool) or not isinstance(reduction, int) or reduction not in _REDUCTIONS:
        raise TypeError(f"{op}(): argument 'reduction' must be int (0: none, 1: mean, 2: sum), not {reduction!r}")
    return _REDUCTIONS[reduction]


# ---------------- pooling ----------------

def _stride(stride):
    # ATen's default stride is the empty list, which means "the kernel size"
    return None if stride is None or (isinstance(stride, (list, tuple)) and len(stride) == 0) else stride


def max_pool1d(input, kernel_size, stride=(), padding=0, dilation=1, ceil_mode=False):
    """max_pool1d(input, kernel_size, stride=[], padding=0, dilation=1, ceil_mode=False) -> Tensor:
    ``nn.functional.max_pool1d`` without indices (an empty ``stride`` is the kernel size)."""
    return _F.max_pool1d(input, kernel_size, _stride(stride), padding, dilation, ceil_mode)


def max_pool2d(input, kernel_size, stride=(), padding=0, dilation=1, ceil_mode=False):
    """max_pool2d(input, kernel_size, stride=[], padding=0, dilation=1, ceil_mode=False) -> Tensor."""
    return _F.max_pool2d(input, kernel_size, _stride(stride), padding, dilation, ceil_mode)


def max_pool3d(input, kernel_size, stride=(), padding=0, dilation=1, ceil_mode=False):
    """max_pool3d(input, kernel_size, stride=[], padding=0, dilation=1, ceil_mode=False) -> Tensor."""
    return _F.max_pool3d(input, kernel_size, _stride(stride), padding, dilation, ceil_mode)


def max_pool1d_with_indices(input, kernel_size, stride=(), padding=0, dilation=1, ceil_mode=False):
    """max_pool1d_with_indices(...) -> (Tensor, LongTensor): the maxima and where they were."""
    return _F.max_pool1d(input, kernel_size, _stride(stride), padding, dilation, ceil_mode, return_indices=True)


def adaptive_max_pool1d(input, output_size):
    """adaptive_max_pool1d(input, output_size) -> (Tensor, LongTensor): as at the top level of
    PyTorch, the maxima and their indices."""
    return _F.adaptive_max_pool1d(input, output_size, return_indices=True)


# ---------------- normalisation ----------------

def batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps, cudnn_enabled=True):
    """batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps,
    cudnn_enabled) -> Tensor: ATen's argument order for ``nn.functional.batch_norm``
    (``cudnn_enabled`` is accepted and has no effect)."""
    return _F.batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5, cudnn_enable=True):
    """layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-05, cudnn_enable=True) -> Tensor."""
    return _F.layer_norm(input, normalized_shape, weight, bias, eps)


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5, cudnn_enabled=True):
    """group_norm(input, num_groups, weight=None, bias=None, eps=1e-05, cudnn_enabled=True) -> Tensor."""
    return _F.group_norm(input, num_groups, weight, bias, eps)


def instance_norm(input, weight, bias, running_mean, running_var, use_input_stats, momentum, eps, cudnn_enabled=True):
    """instance_norm(input, weight, bias, running_mean, running_var, use_input_stats, momentum,
    eps, cudnn_enabled) -> Tensor: ATen's argument order for ``nn.functional.instance_norm``."""
    return _F.instance_norm(input, running_mean, running_var, weight, bias, use_input_stats, momentum, eps)


# ---------------- embeddings ----------------

def embedding(weight, indices, padding_idx=-1, scale_grad_by_freq=False, sparse=False):
    """embedding(weight, indices, padding_idx=-1, scale_grad_by_freq=False, sparse=False) -> Tensor:
    the rows of ``weight`` that ``indices`` picks. ATen's order (weight first); a negative
    ``padding_idx`` means none, any other row gets no gradient."""
    pi = operator.index(padding_idx)
    return _F.embedding(indices, weight, pi if pi >= 0 else None, None, 2.0, scale_grad_by_freq, sparse)


_BAG_MODES = {0: "sum", 1: "mean", 2: "max"}


def embedding_bag(weight, indices, offsets, scale_grad_by_freq=False, mode=0, sparse=False, per_sample_weights=None,
                  include_last_offset=False, padding_idx=None):
    """embedding_bag(weight, indices, offsets, scale_grad_by_freq=False, mode=0, sparse=False,
    per_sample_weights=None, include_last_offset=False, padding_idx=None)
    -> (output, offset2bag, bag_size, max_indices)

    ATen's form of ``nn.functional.embedding_bag``: ``mode`` 0 sums, 1 averages, 2 takes the
    maximum. ``offset2bag`` is each index's bag; ``bag_size`` counts each bag's entries that
    are not ``padding_idx`` (zeros for mode 0, as PyTorch's CPU kernel gives); ``max_indices``
    is, for mode 2, the row of ``weight`` each maximum came from, else ``bag_size``
    (zeros for mode 0). The auxiliary outputs carry no gradient.
    """
    if mode not in _BAG_MODES:
        raise ValueError(f"embedding_bag(): mode must be 0 (sum), 1 (mean) or 2 (max), got {mode!r}")
    if indices.ndim != 1 or offsets is None or offsets.ndim != 1:
        raise ValueError(f"embedding_bag(): expected 1-D indices and offsets, got indices of shape "
                         f"{tuple(indices.shape)} and offsets of shape {None if offsets is None else tuple(offsets.shape)}")
    name = _BAG_MODES[mode]
    out = _F.embedding_bag(indices, weight, offsets, None, 2, scale_grad_by_freq, name, sparse, per_sample_weights,
                           include_last_offset, padding_idx)
    from . import _search
    from ._scatter_extra import scatter_reduce

    starts = offsets[:-1] if include_last_offset else offsets
    B, N = starts.shape[0], indices.shape[0]
    pos = _creation.arange(N, device=indices.device)
    bag = _search.searchsorted(starts, pos, right=True) - 1 if B else pos * 0
    keep = _creation.ones(N, dtype="int64", device=indices.device)
    if padding_idx is not None:
        keep = (indices != padding_idx % weight.shape[0]).long()
    zeros = _creation.zeros(B, dtype="int64", device=indices.device)
    size = zeros if mode == 0 else _ops.scatter_add(zeros, 0, bag, keep)
    if mode != 2:
        return out, bag, size, size
    # the first position of each bag (per column) holding the maximum, then that position's row
    D = weight.shape[1]
    with _F._no_grad():
        rows = weight.detach()[indices]
        hit = (rows == out.detach()[bag]) & (keep.unsqueeze(1) > 0)
        cand = _ops.where(hit, pos.unsqueeze(1).expand(N, D), N)
        first = scatter_reduce(_creation.full((B, D), N, dtype="int64", device=indices.device), 0,
                               bag.unsqueeze(1).expand(N, D), cand, "amin", include_self=True)
        row = _ops.where(first < N, indices[_ops.clamp(first, max=max(N - 1, 0))] if N else first, 0)
    return out, bag, size, row


# ---------------- dropouts: (input, p, train), and in place ----------------

def dropout(input, p, train):
    """dropout(input, p, train) -> Tensor: ``nn.functional.dropout`` with ATen's arguments."""
    return _F.dropout(input, p, train)


def dropout_(input, p, train):
    """dropout_(input, p, train) -> Tensor: :func:`dropout` written into ``input``."""
    return _F.dropout(input, p, train, inplace=True)


def alpha_dropout(input, p, train):
    """alpha_dropout(input, p, train) -> Tensor: dropout that keeps SELU's mean and variance."""
    return _F.alpha_dropout(input, p, train)


def alpha_dropout_(input, p, train):
    """alpha_dropout_(input, p, train) -> Tensor: :func:`alpha_dropout` written into ``input``."""
    return _F.alpha_dropout(input, p, train, inplace=True)


def _feature_shape(op, input):
    if input.ndim < 2:
        raise RuntimeError(f"{op}: Feature dropout requires at least 2 dimensions in the input, got shape {tuple(input.shape)}")


def feature_dropout(input, p, train):
    """feature_dropout(input [N, C, *], p, train) -> Tensor: zeroes whole channels (dim 1) with
    probability ``p`` and scales the rest by ``1/(1-p)``."""
    _feature_shape("feature_dropout", input)
    return _feature(input, p, train, False)


def feature_dropout_(input, p, train):
    """feature_dropout_(input, p, train) -> Tensor: :func:`feature_dropout` written into ``input``."""
    _feature_shape("feature_dropout_", input)
    return _feature(input, p, train, True)


def _feature(input, p, train, inplace):
    from . import _random

    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not train or p == 0.0:
        return input
    shape = list(input.shape[:2]) + [1] * (input.ndim - 2)
    keep = _random.bernoulli(_creation.full(shape, 1.0 - p, device=input.device))
    scale = 0.0 if p == 1.0 else 1.0 / (1.0 - p)
    return _F._activation(input, inplace, lambda x: x * keep.to(x.dtype) * scale)


def feature_alpha_dropout(input, p, train):
    """feature_alpha_dropout(input, p, train) -> Tensor: alpha dropout of whole channels."""
    _feature_shape("feature_alpha_dropout", input)
    return _F.feature_alpha_dropout(input, p, train)


def feature_alpha_dropout_(input, p, train):
    """feature_alpha_dropout_(input, p, train) -> Tensor: written into ``input``."""
    _feature_shape("feature_alpha_dropout_", input)
    return _F.feature_alpha_dropout(input, p, train, inplace=True)


# ---------------- activations ----------------

def selu(input):
    """selu(input) -> Tensor: ``scale * (max(0, x) + min(0, alpha * (exp(x) - 1)))``."""
    return _F.selu(input)


def selu_(input):
    """selu_(input) -> Tensor: :func:`selu` written into ``input``."""
    return _F.selu(input, inplace=True)


def celu(input, alpha=1.0):
    """celu(input, alpha=1.0) -> Tensor: ``max(0, x) + min(0, alpha * (exp(x / alpha) - 1))``."""
    return _F.celu(input, alpha)


def celu_(input, alpha=1.0):
    """celu_(input, alpha=1.0) -> Tensor: :func:`celu` written into ``input``."""
    return _F.celu(input, alpha, inplace=True)


def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False, generator=None):
    """rrelu(input, lower=1/8, upper=1/3, training=False, generator=None) -> Tensor: leaky ReLU
    whose negative slope is drawn from U(lower, upper) in training, (lower+upper)/2 otherwise."""
    _no_generator("rrelu", generator, training)
    return _F.rrelu(input, lower, upper, training)


def rrelu_(input, lower=1.0 / 8, upper=1.0 / 3, training=False, generator=None):
    """rrelu_(input, ...) -> Tensor: :func:`rrelu` written into ``input``."""
    _no_generator("rrelu_", generator, training)
    return _F.rrelu(input, lower, upper, training, inplace=True)


def _no_generator(op, generator, training):
    if generator is not None and training:
        # nn.functional.rrelu draws from the default generator; refusing beats ignoring the argument
        raise NotImplementedError(f"{op}(): a generator other than the default one is not supported")


def threshold(input, threshold, value):
    """threshold(input, threshold, value) -> Tensor: ``x if x > threshold else value``."""
    return _F.threshold(input, threshold, value)


def threshold_(input, threshold, value):
    """threshold_(input, threshold, value) -> Tensor: :func:`threshold` written into ``input``."""
    return _F.threshold_(input, threshold, value)


# ---------------- losses: reduction as ATen's integer ----------------

def binary_cross_entropy_with_logits(input, target, weight=None, pos_weight=None, reduction=1):
    """binary_cross_entropy_with_logits(input, target, weight=None, pos_weight=None, reduction=1) -> Tensor."""
    r = _reduction("binary_cross_entropy_with_logits", reduction)
    return _F.binary_cross_entropy_with_logits(input, target, weight, reduction=r, pos_weight=pos_weight)


def kl_div(input, target, reduction=1, *, log_target=False):
    """kl_div(input, target, reduction=1, *, log_target=False) -> Tensor: pointwise
    ``target * (log(target) - input)``; reduction 1 averages over every element."""
    r = _reduction("kl_div", reduction)
    import warnings

    with warnings.catch_warnings():
        # ATen's mean is the element mean; nn.functional warns that it is not 'batchmean'
        warnings.simplefilter("ignore")
        return _F.kl_div(input, target, reduction=r, log_target=log_target)


def cosine_embedding_loss(input1, input2, target, margin=0.0, reduction=1):
    """cosine_embedding_loss(input1, input2, target, margin=0.0, reduction=1) -> Tensor."""
    return _F.cosine_embedding_loss(input1, input2, target, margin, reduction=_reduction("cosine_embedding_loss", reduction))


def margin_ranking_loss(input1, input2, target, margin=0.0, reduction=1):
    """margin_ranking_loss(input1, input2, target, margin=0.0, reduction=1) -> Tensor."""
    return _F.margin_ranking_loss(input1, input2, target, margin, reduction=_reduction("margin_ranking_loss", reduction))


def hinge_embedding_loss(input, target, margin=1.0, reduction=1):
    """hinge_embedding_loss(input, target, margin=1.0, reduction=1) -> Tensor."""
    return _F.hinge_embedding_loss(input, target, margin, reduction=_reduction("hinge_embedding_loss", reduction))


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2.0, eps=1e-6, swap=False, reduction=1):
    """triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2, eps=1e-06, swap=False, reduction=1) -> Tensor."""
    return _F.triplet_margin_loss(anchor, positive, negative, margin, p, eps, swap,
                                  reduction=_reduction("triplet_margin_loss", reduction))


def poisson_nll_loss(input, target, log_input, full, eps, reduction):
    """poisson_nll_loss(input, target, log_input, full, eps, reduction) -> Tensor: every argument
    given, as ATen takes them."""
    return _F.poisson_nll_loss(input, target, log_input, full, eps=eps, reduction=_reduction("poisson_nll_loss", reduction))


def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction=1, zero_infinity=False):
    """ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction=1,
    zero_infinity=False) -> Tensor: reduction 1 divides each loss by its target length and
    averages, as ``nn.functional.ctc_loss``'s 'mean'."""
    return _F.ctc_loss(log_probs, targets, input_lengths, target_lengths, blank,
                       _reduction("ctc_loss", reduction), zero_infinity)
