"""More losses and distances of ``nn.functional``, written from primitives with PyTorch's
formulas, defaults and reductions ('none', 'mean', 'sum')."""
from __future__ import annotations

import math

from .. import _creation, _ops
from . import functional as _F


def _reduction(size_average, reduce, reduction):
    """The legacy ``size_average``/``reduce`` flags folded into ``reduction``, as PyTorch does."""
    if size_average is None and reduce is None:
        return reduction
    sa = True if size_average is None else size_average
    rd = True if reduce is None else reduce
    return "none" if not rd else ("mean" if sa else "sum")


def _reduce(loss, reduction):
    if reduction == "none":
        return loss
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    raise ValueError(f"{reduction} is not a valid value for reduction")


def _same_shape(name, a, b):
    if tuple(a.shape) != tuple(b.shape):
        raise ValueError(f"{name}: Using a target size ({tuple(b.shape)}) that is different to the input size "
                         f"({tuple(a.shape)}) is deprecated. Please ensure they have the same size.")


def poisson_nll_loss(input, target, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None, reduction="mean"):
    """poisson_nll_loss(input, target, log_input=True, full=False, eps=1e-8, reduction='mean'):
    ``exp(input) - target * input`` (log_input) or ``input - target * log(input + eps)``; with
    ``full`` Stirling's term ``t log t - t + log(2 pi t) / 2`` is added where target > 1."""
    reduction = _reduction(size_average, reduce, reduction)
    loss = _ops.exp(input) - target * input if log_input else input - target * _ops.log(input + eps)
    if full:
        t = target
        safe = _ops.where(t > 1, t, 1.0).to(t.dtype)
        stirling = safe * _ops.log(safe) - safe + 0.5 * _ops.log(2 * math.pi * safe)
        loss = loss + _ops.where(t > 1, stirling, 0.0).to(loss.dtype)
    return _reduce(loss, reduction)


def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction='mean'):
    ``0.5 * (log(max(var, eps)) + (input - target)^2 / max(var, eps))`` (+ ``0.5 log 2 pi`` with ``full``)."""
    if var.ndim != input.ndim and not (var.ndim == input.ndim - 1 and var.shape == input.shape[:-1]) \
            and not (var.shape == input.shape[:-1] + (1,)):
        if not (var.ndim == input.ndim and var.shape[-1] == 1):
            raise ValueError("var is of incorrect size")
    if var.ndim == input.ndim - 1:
        var = var.unsqueeze(-1)
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(reduction + " is not valid")
    if bool(_ops.any(var < 0)):
        raise ValueError("var has negative entry/entries")
    v = _ops.clamp(var, min=eps)
    loss = 0.5 * (_ops.log(v) + (input - target) ** 2 / v)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)


def margin_ranking_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None, reduction="mean"):
    """margin_ranking_loss(input1, input2, target, margin=0, reduction='mean'): ``max(0, -y (x1 - x2) + margin)``."""
    if not (input1.ndim == input2.ndim == target.ndim):
        raise RuntimeError(f"margin_ranking_loss : All input tensors should have same dimension but got sizes: input1: "
                           f"{tuple(input1.shape)}, input2: {tuple(input2.shape)}, target: {tuple(target.shape)} ")
    return _reduce(_ops.relu(-target * (input1 - input2) + margin), _reduction(size_average, reduce, reduction))


def hinge_embedding_loss(input, target, margin=1.0, size_average=None, reduce=None, reduction="mean"):
    """hinge_embedding_loss(input, target, margin=1, reduction='mean'): ``x`` where y = 1,
    ``max(0, margin - x)`` where y = -1."""
    pos = _ops.where(target == 1, input, 0.0).to(input.dtype)
    neg = _ops.where(target == -1, _ops.relu(margin - input), 0.0).to(input.dtype)
    return _reduce(pos + neg, _reduction(size_average, reduce, reduction))


def soft_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """soft_margin_loss(input, target, reduction='mean'): ``log(1 + exp(-y x))``."""
    _same_shape("soft_margin_loss", input, target)
    return _reduce(_ops.softplus(-target * input), _reduction(size_average, reduce, reduction))


def cosine_embedding_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None, reduction="mean"):
    """cosine_embedding_loss(input1, input2, target, margin=0, reduction='mean'): ``1 - cos``
    where y = 1, ``max(0, cos - margin)`` where y = -1 (cos along dim 1, or dim 0 for 1-D)."""
    if input1.ndim not in (1, 2) or tuple(input1.shape) != tuple(input2.shape):
        raise RuntimeError(f"cosine_embedding_loss: expected 1D or 2D inputs of one shape, got {tuple(input1.shape)} "
                           f"and {tuple(input2.shape)}")
    d = input1.ndim - 1
    eps = 1e-12
    prod = (input1 * input2).sum(d)
    m1 = (input1 * input1).sum(d) + eps
    m2 = (input2 * input2).sum(d) + eps
    cos = prod / _ops.sqrt(m1 * m2)
    loss = _ops.where(target == 1, 1 - cos, _ops.where(target == -1, _ops.relu(cos - margin), 0.0))
    return _reduce(loss.to(input1.dtype), _reduction(size_average, reduce, reduction))


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """pairwise_distance(x1, x2, p=2, eps=1e-6, keepdim=False): ``||x1 - x2 + eps||_p`` over the last dim."""
    d = x1 - x2 + eps
    if x1.ndim == 0 and x2.ndim == 0:
        return _ops.abs(d)
    if p == 0:
        return (d != 0).to(d.dtype).sum(-1, keepdim=keepdim)
    if p == math.inf:
        return _ops.abs(d).amax(-1, keepdim=keepdim)
    return _ops.pow(_ops.pow(_ops.abs(d), p).sum(-1, keepdim=keepdim), 1.0 / p)


def pdist(input, p=2):
    """pdist(input [N, M], p=2) -> [N (N - 1) / 2]: the distances between all pairs of rows (i < j)."""
    if input.ndim != 2:
        raise RuntimeError(f"pdist only supports 2D tensors, got: {input.ndim}D")
    n = input.shape[0]
    i, j = _triu(n, input.device)
    d = input[i] - input[j]
    if p == math.inf:
        return _ops.abs(d).amax(-1)
    return _ops.pow(_ops.pow(_ops.abs(d), p).sum(-1), 1.0 / p)


def _triu(n, device):
    from .._shape_extra import triu_indices

    t = triu_indices(n, n, 1, device=device)
    return t[0], t[1]


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2, eps=1e-6, swap=False, size_average=None,
                        reduce=None, reduction="mean"):
    """triplet_margin_loss(anchor, positive, negative, margin=1, p=2, eps=1e-6, swap=False,
    reduction='mean'): ``max(d(a, p) - d(a, n) + margin, 0)`` with the pairwise p-distance."""
    if not (anchor.ndim == positive.ndim == negative.ndim):
        raise RuntimeError(f"The anchor, positive, and negative tensors are expected to have the same number of dimensions, "
                           f"but got: anchor {anchor.ndim}D, positive {positive.ndim}D, and negative {negative.ndim}D inputs")
    dp = pairwise_distance(anchor, positive, p, eps)
    dn = pairwise_distance(anchor, negative, p, eps)
    if swap:
        dn = _ops.minimum(dn, pairwise_distance(positive, negative, p, eps))
    return _reduce(_ops.relu(dp - dn + margin), _reduction(size_average, reduce, reduction))


def triplet_margin_with_distance_loss(anchor, positive, negative, *, distance_function=None, margin=1.0, swap=False,
                                      reduction="mean"):
    """triplet_margin_with_distance_loss(anchor, positive, negative, *, distance_function=None,
    margin=1, swap=False, reduction='mean'): the triplet loss with any distance (default: pairwise L2)."""
    if margin <= 0:
        raise ValueError(f"triplet_margin_with_distance_loss: expected margin to be greater than 0, got {margin} instead")
    dist = distance_function if distance_function is not None else pairwise_distance
    dp, dn = dist(anchor, positive), dist(anchor, negative)
    if swap:
        dn = _ops.minimum(dn, dist(positive, negative))
    return _reduce(_ops.relu(dp - dn + margin), reduction)


def multilabel_soft_margin_loss(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    """multilabel_soft_margin_loss(input [N, C], target [N, C], weight=None, reduction='mean'):
    the mean over classes of the binary cross-entropy of ``sigmoid(input)``."""
    loss = -(target * _F.logsigmoid(input) + (1 - target) * _F.logsigmoid(-input))
    if weight is not None:
        loss = loss * weight
    loss = loss.mean(input.ndim - 1) if input.ndim else loss
    return _reduce(loss, _reduction(size_average, reduce, reduction))


def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, size_average=None, reduce=None, reduction="mean"):
    """multi_margin_loss(input [N, C] or [C], target [N], p=1, margin=1, weight=None,
    reduction='mean'): ``sum_{i != y} max(0, margin - x[y] + x[i])^p / C``."""
    if p not in (1, 2):
        raise ValueError("only p == 1 and p == 2 supported")
    x = input.unsqueeze(0) if input.ndim == 1 else input
    t = target.reshape(-1)
    if x.ndim != 2 or t.shape[0] != x.shape[0]:
        raise RuntimeError(f"multi_margin_loss: inconsistent target size: {tuple(target.shape)} for input of size: "
                           f"{tuple(input.shape)}")
    C = x.shape[1]
    xy = _ops.gather(x, 1, t.unsqueeze(1))
    z = _ops.relu(margin - xy + x)
    if p == 2:
        z = z * z
    if weight is not None:
        z = z * _ops.gather(weight, 0, t).unsqueeze(1)
    not_y = _creation.arange(C, device=x.device) != t.unsqueeze(1)
    loss = (z * not_y.to(z.dtype)).sum(1) / C
    if input.ndim == 1:
        loss = loss.reshape(())
    return _reduce(loss, _reduction(size_average, reduce, reduction))


def multilabel_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """multilabel_margin_loss(input [N, C] or [C], target (class indices, ended by -1)):
    ``sum_{j in targets, i not in targets} max(0, 1 - (x[j] - x[i])) / C``."""
    x = input.unsqueeze(0) if input.ndim == 1 else input
    t = target.unsqueeze(0) if target.ndim == 1 else target
    if tuple(t.shape) != tuple(x.shape):
        raise RuntimeError(f"multilabel_margin_loss: inconsistent target size: {tuple(target.shape)} for input of size: "
                           f"{tuple(input.shape)}")
    N, C = x.shape
    # the valid targets of each row are those before its first -1
    valid = _ops.cumprod((t >= 0).to("int64"), 1) > 0
    tgt = _ops.where(valid, t, 0)
    is_target = _ops.scatter_add(_creation.zeros(N, C, dtype="int64", device=x.device), 1, tgt, valid.to("int64")) > 0
    xj = _ops.gather(x, 1, tgt)  # N, C (the target scores, padded)
    margins = _ops.relu(1 - (xj.unsqueeze(2) - x.unsqueeze(1)))  # N, j, i
    mask = valid.unsqueeze(2) & ~is_target.unsqueeze(1)
    loss = (margins * mask.to(x.dtype)).sum((1, 2)) / C
    if input.ndim == 1:
        loss = loss.reshape(())
    return _reduce(loss, _reduction(size_average, reduce, reduction))


__all__ = [n for n in list(globals()) if not n.startswith("_") and callable(globals()[n])
           and getattr(globals()[n], "__module__", None) == __name__]
