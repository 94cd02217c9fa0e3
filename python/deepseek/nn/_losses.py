"""The core losses of ``nn.functional`` (NLL, cross entropy, MSE, L1, smooth L1, Huber, BCE,
KL divergence) and their reduction; re-exported by ``nn.functional``."""
from __future__ import annotations

from .. import _core, _ops
from .functional import _fp32, log_softmax


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
    # Checked eagerly for a clear message; under a trace the check would freeze into a constant
    # (and warn at every traced step), so the gather below, which checks its indices on every
    # run, raises instead.
    if not _core.graph_is_tracing() and bool(((safe_t < 0) | (safe_t >= C)).any()):
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
