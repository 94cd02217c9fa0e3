"""Connectionist temporal classification loss (``nn.functional.ctc_loss``).

The forward (alpha) recursion of Graves et al. (2006) in log space, written with deepseek
tensor ops so that autograd provides the gradient. Work is vectorised over the batch and
the extended label sequence ``l' = (blank, l_1, blank, l_2, ..., l_S, blank)``; the only
Python loop is over time.

Impossible paths are carried as a large negative *finite* log-probability instead of
``-inf``: ``log(sum(exp(.)))`` of all ``-inf`` entries has a NaN gradient, which would
leak into the valid paths. Losses above the threshold are reported as ``inf`` (or 0 with
``zero_infinity=True``), as PyTorch does.
"""
from __future__ import annotations

import numpy as np

from .. import _core, _ops
from .._core import Tensor
from .._creation import tensor as _tensor

__all__ = ["ctc_loss"]

_NEG = -1e30  # "log(0)" that keeps gradients finite
_INF_THRESHOLD = 1e29


def _lengths(x, name, n):
    if isinstance(x, Tensor):
        if x.dtype.is_floating_point:
            raise RuntimeError(f"ctc_loss: {name} must be integral, got {x.dtype}")
        arr = np.asarray(x.detach()).astype(np.int64).reshape(-1)
    else:
        arr = np.asarray(x, dtype=np.int64).reshape(-1)
    if arr.shape[0] != n:
        raise RuntimeError(f"ctc_loss: {name} must have {n} elements (one per batch entry), got {arr.shape[0]}")
    if (arr < 0).any():
        raise RuntimeError(f"ctc_loss: {name} must be non-negative, got {arr.tolist()}")
    return arr


def _lse3(a, b, c):
    m = _ops.maximum(a, _ops.maximum(b, c)).detach()
    return m + _ops.log(_ops.exp(a - m) + _ops.exp(b - m) + _ops.exp(c - m))


def _lse2(a, b):
    m = _ops.maximum(a, b).detach()
    return m + _ops.log(_ops.exp(a - m) + _ops.exp(b - m))


def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction="mean", zero_infinity=False):
    """ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction='mean',
    zero_infinity=False): connectionist temporal classification loss, PyTorch semantics.

    - ``log_probs``: [T, N, C] log-probabilities (e.g. ``log_softmax`` output), or [T, C] unbatched.
    - ``targets``: [N, S] padded label indices, or 1-D with all targets concatenated
      (``sum(target_lengths)`` entries); [S] when unbatched. Labels must not be ``blank``.
    - ``input_lengths``, ``target_lengths``: per-sequence lengths (tensor, list or int);
      entries of ``log_probs`` past ``input_lengths[n]`` are ignored.
    - ``reduction``: ``'none'`` gives the [N] per-sequence negative log-likelihoods;
      ``'sum'`` their sum; ``'mean'`` divides each by its target length (at least 1) and
      averages over the batch.
    - ``zero_infinity``: infinite losses (no valid alignment, e.g. input too short) and
      their gradients become 0; otherwise they are ``inf``.

    The gradient is the exact derivative with respect to ``log_probs``. PyTorch's native
    kernel instead returns that derivative plus ``exp(log_probs)`` (at t < input_length),
    which is the gradient w.r.t. the logits folded in for a preceding ``log_softmax``; the
    extra term cancels in ``log_softmax``'s backward, so gradients w.r.t. the logits are the
    same in both, only the intermediate ``log_probs.grad`` differs.
    """
    if not isinstance(log_probs, Tensor) or not log_probs.dtype.is_floating_point:
        raise TypeError("ctc_loss: log_probs must be a floating-point Tensor")
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    unbatched = log_probs.ndim == 2
    if unbatched:
        log_probs = log_probs.unsqueeze(1)
        if isinstance(targets, Tensor):
            targets = targets.unsqueeze(0)
        else:
            targets = np.asarray(targets).reshape(1, -1)
    elif log_probs.ndim != 3:
        raise RuntimeError(f"ctc_loss: log_probs must be 2-D (T, C) or 3-D (T, N, C), got {log_probs.ndim}-D")
    T, N, C = log_probs.shape
    if not 0 <= blank < C:
        raise RuntimeError(f"ctc_loss: blank must be in label range [0, {C}), got {blank}")
    in_len = _lengths(input_lengths, "input_lengths", N)
    tg_len = _lengths(target_lengths, "target_lengths", N)
    if (in_len > T).any():
        raise RuntimeError(f"ctc_loss: Expected input_lengths to have value at most {T}, but got {in_len.max()}")

    tg = np.asarray(targets.detach() if isinstance(targets, Tensor) else targets)
    if tg.dtype.kind not in "iu":
        raise RuntimeError(f"ctc_loss: targets must be integral, got {tg.dtype}")
    tg = tg.astype(np.int64)
    S = int(tg_len.max()) if N else 0
    padded = np.full((N, S), blank, dtype=np.int64)
    if tg.ndim == 2:
        if tg.shape[0] != N:
            raise RuntimeError(f"ctc_loss: targets has batch size {tg.shape[0]}, expected {N}")
        if S > tg.shape[1]:
            raise RuntimeError(f"ctc_loss: Expected tensor to have size at least {S} at dimension 1, but got size {tg.shape[1]}")
        for n in range(N):
            padded[n, : tg_len[n]] = tg[n, : tg_len[n]]
    elif tg.ndim == 1:
        if tg.shape[0] < tg_len.sum():
            raise RuntimeError(f"ctc_loss: concatenated targets have {tg.shape[0]} entries but target_lengths sum to {tg_len.sum()}")
        off = 0
        for n in range(N):
            padded[n, : tg_len[n]] = tg[off : off + tg_len[n]]
            off += tg_len[n]
    else:
        raise RuntimeError(f"ctc_loss: targets must be 1-D or 2-D, got {tg.ndim}-D")
    used = np.concatenate([padded[n, : tg_len[n]] for n in range(N)]) if N else np.zeros(0, np.int64)
    if used.size and (used.min() < 0 or used.max() >= C):
        raise RuntimeError(f"ctc_loss: target labels must be in [0, {C}), got values in [{used.min()}, {used.max()}]")

    # Extended labels l' (blank at even positions) and where the s-2 skip is allowed.
    L = 2 * S + 1
    ext = np.full((N, L), blank, dtype=np.int64)
    ext[:, 1::2] = padded
    allow2 = np.zeros((N, L), dtype=bool)
    if L > 2:
        allow2[:, 2:] = (ext[:, 2:] != blank) & (ext[:, 2:] != ext[:, :-2])

    out_dtype = log_probs.dtype
    lp = log_probs.float() if out_dtype.itemsize < 4 else log_probs
    dt = lp.dtype
    # Log-probabilities of each extended label at each step: one gather, [T, N, L].
    idx = _t(np.ascontiguousarray(np.broadcast_to(ext, (T, N, L)))) if T else None
    lp_ext = _ops.gather(lp, 2, idx) if T else None
    allow2_t = _t(allow2)
    neg = _core.full([], _NEG, _dtname(dt))

    # alpha_{-1}: all mass on a virtual state before s=0, so the recursion itself gives
    # alpha_0(0) = lp(blank), alpha_0(1) = lp(l_1), everything else impossible.
    init = np.full((N, L), _NEG)
    init[:, 0] = 0.0
    alpha = _t(init).to(dt)
    pad1 = _t(np.full((N, 1), _NEG)).to(dt)
    pad2 = _t(np.full((N, 2), _NEG)).to(dt)
    t_max = int(in_len.max()) if N else 0
    t_all = int(in_len.min()) if N else 0
    active = _t(np.arange(T)[:, None, None] < in_len[None, :, None]) if T else None
    for t in range(t_max):
        a1 = _ops.cat([pad1, _core.slice(alpha, 1, 0, L - 1, 1)], 1) if L > 1 else pad1
        a2 = _ops.where(allow2_t, _ops.cat([pad2, _core.slice(alpha, 1, 0, L - 2, 1)], 1), neg) if L > 2 else neg
        new = _lse3(alpha, a1, a2) + _core.select(lp_ext, 0, t)
        alpha = new if t < t_all else _ops.where(_core.select(active, 0, t), new, alpha)

    last = _t((2 * tg_len).reshape(N, 1))
    prev = _t(np.maximum(2 * tg_len - 1, 0).reshape(N, 1))
    has_prev = _t((tg_len > 0).reshape(N, 1))
    ll = _lse2(_ops.gather(alpha, 1, last), _ops.where(has_prev, _ops.gather(alpha, 1, prev), neg))
    nll = -ll.reshape(N)

    infinite = _t(np.asarray(nll.detach()) > _INF_THRESHOLD) if N else None
    if N:
        nll = _ops.where(infinite, _core.full([], 0.0 if zero_infinity else float("inf"), _dtname(dt)), nll)
    if reduction == "none":
        out = nll.squeeze(0) if unbatched else nll
    elif reduction == "sum":
        out = nll.sum()
    else:
        denom = _t(np.maximum(tg_len, 1).astype(np.float64)).to(dt)
        out = (nll / denom).mean()
    return out.to(out_dtype) if out.dtype != out_dtype else out


def _t(arr):
    """A deepseek tensor copied from a NumPy array (dtype kept: bool, int64, float64)."""
    return _tensor(np.ascontiguousarray(arr))


def _dtname(dt):
    return dt.name if hasattr(dt, "name") else str(dt).replace("deepseek.", "")
