"""Searching, counting, order statistics and scans composed from the core's primitives
(``deepseek.searchsorted``, ``unique``, ``bincount``, ``median``, ``quantile``, ``cummax``...).

Index results are computed from comparisons, sorts and scatters, so they run on every backend;
values are gathered from the input, so they carry gradients.
"""
from __future__ import annotations

import builtins
import math

from . import _core, _creation as _C, _dtype as _D, _ops
from ._core import Tensor
from ._math_extra import _named_tuple

_INTS = ("uint8", "int8", "int16", "int32", "int64")
_FLOATS = ("float16", "bfloat16", "float32", "float64")
_wrap = _ops._wrap_dim


def _t(op, x, name="input"):
    _ops._check_tensor(op, x, name)
    return x


# ---------------- sorted search ----------------

def searchsorted(sorted_sequence, input, *, out_int32=False, right=False, side=None, sorter=None, out=None):
    """searchsorted(sorted_sequence, values, *, out_int32=False, right=False, side=None, sorter=None)

    For each value, the index where it would be inserted into the sorted last dim of
    ``sorted_sequence`` to keep it sorted: the first such index, or the last with ``right=True``
    (``side='right'``).

        >>> deepseek.searchsorted(deepseek.tensor([1, 3, 5]), deepseek.tensor([3, 6]))
        tensor([1, 3])
    """
    _t("searchsorted", sorted_sequence, "sorted_sequence")
    if side is not None:
        if side not in ("left", "right"):
            raise RuntimeError(f"torch.searchsorted(): side can only be 'left' or 'right' but got {side}")
        if right and side == "left":
            raise RuntimeError("torch.searchsorted(): side and right can't be set to opposites, got side of left "
                               "while right was True")
        right = side == "right"
    scalar = not isinstance(input, Tensor)
    if scalar:
        input = _C.tensor(input, dtype=sorted_sequence.dtype, device=sorted_sequence.device)
    seq = sorted_sequence
    if sorter is not None:
        if tuple(sorter.shape) != tuple(seq.shape):
            raise RuntimeError(f"torch.searchsorted(): boundary and sorter must have the same size, but got boundary "
                               f"tensor {list(seq.shape)}and got sorter tensor {list(sorter.shape)}")
        seq = _ops.gather(seq, seq.ndim - 1, sorter)
    if seq.ndim == 0:
        raise RuntimeError("torch.searchsorted(): boundaries tensor should be 1 dimension or the first N-1 dimensions "
                           "of boundaries tensor and input value tensor must match, but we got boundaries tensor "
                           f"{list(seq.shape)} and input value tensor {list(input.shape)}")
    if seq.ndim > 1 and (input.ndim != seq.ndim or tuple(input.shape[:-1]) != tuple(seq.shape[:-1])):
        raise RuntimeError("torch.searchsorted(): boundaries tensor should be 1 dimension or the first N-1 dimensions "
                           "of boundaries tensor and input value tensor must match, but we got boundaries tensor "
                           f"{list(seq.shape)} and input value tensor {list(input.shape)}")
    seq, v = seq.detach(), input.detach()
    if seq.ndim == 1:
        r = _merge_rank(seq.unsqueeze(0), v.reshape(1, -1), right).reshape(v.shape)
    else:
        r = _merge_rank(seq, v, right)
    r = r.to(_D.int32) if out_int32 else r
    return _ops._out(r, out)


def _merge_rank(seq, v, right):
    """For each value in the rows of ``v`` [..., m], how many elements of the sorted rows of
    ``seq`` [..., n] are below it (``< v``; ``<= v`` with ``right``): one stable sort of both
    together, so memory stays linear in n + m."""
    dt = _core.result_type(seq, v)
    s, x = seq.to(dt), v.to(dt)
    n, m = s.shape[-1], x.shape[-1]
    lead = list(x.shape[:-1])
    if m == 0:
        return _C.zeros(*lead, 0, dtype=_D.int64, device=v.device)
    # ties: the values go after equal boundaries with ``right``, before them otherwise
    parts = [s, x] if right else [x, s]
    comb = _ops.cat(parts, -1)
    is_val = _ops.cat([_C.zeros(n, dtype=_D.int64, device=v.device), _C.ones(m, dtype=_D.int64, device=v.device)] if right
                      else [_C.ones(m, dtype=_D.int64, device=v.device), _C.zeros(n, dtype=_D.int64, device=v.device)])
    _, order = _ops.sort(comb, -1, stable=True)
    flags = _core.index_select(is_val, 0, order.reshape(-1)).reshape(order.shape)
    below = _ops.cumsum(1 - flags, -1)
    pick = flags == 1
    where_from = _ops.masked_select(order - (n if right else 0), pick).reshape(*lead, m)
    count = _ops.masked_select(below, pick).reshape(*lead, m)
    return _ops.scatter(_C.zeros(*lead, m, dtype=_D.int64, device=v.device), len(lead), where_from, count)


def bucketize(input, boundaries, *, out_int32=False, right=False, out=None):
    """bucketize(input, boundaries, *, out_int32=False, right=False) -> Tensor: the bucket index
    of each element in the sorted 1-D ``boundaries`` (``boundaries[i-1] < x <= boundaries[i]``,
    or ``boundaries[i-1] <= x < boundaries[i]`` with ``right=True``)."""
    _t("bucketize", boundaries, "boundaries")
    if boundaries.ndim != 1:
        raise RuntimeError(f"boundaries tensor must be 1 dimension, but got dim({boundaries.ndim})")
    return searchsorted(boundaries, input, out_int32=out_int32, right=right, out=out)


# ---------------- unique ----------------

def _lex_argsort(rows):
    """Stable lexicographic argsort of the rows of a 2-D tensor (last column least significant)."""
    order = _C.arange(rows.shape[0], device=rows.device)
    for c in reversed(range(rows.shape[1])):
        col = _core.index_select(rows[:, c], 0, order)
        _, o = _ops.sort(col, stable=True)
        order = _core.index_select(order, 0, o)
    return order


def _unique_impl(op, input, sort, return_inverse, return_counts, dim, consecutive):
    _t(op, input)
    if dim is None:
        x = input.reshape(-1)
        rows = x.unsqueeze(1)
        d, shape = 0, [x.shape[0]]
    else:
        d = _wrap(op, dim, input)
        shape = list(input.shape)
        if shape[d] == 0 and math.prod(shape) == 0 and builtins.any(s == 0 for i, s in enumerate(shape) if i != d):
            raise RuntimeError(f"Number of zero sized dimensions is more than one, so unique cannot be applied "
                               f"(shape {tuple(shape)})")
        x = _ops.movedim(input, d, 0)
        rows = x.reshape(x.shape[0], -1)
    n = rows.shape[0]
    dev = input.device
    if n == 0:
        vals = x[:0] if dim is None else input
        out = [vals if dim is None else _ops.movedim(x[:0], 0, d)]
        if return_inverse:
            out.append(_C.zeros(*(input.shape if dim is None else [0]), dtype=_D.int64, device=dev))
        if return_counts:
            out.append(_C.zeros(0, dtype=_D.int64, device=dev))
        return out[0] if len(out) == 1 else tuple(out)
    if consecutive:
        order = _C.arange(n, device=dev)
        srows = rows
    else:
        order = _lex_argsort(rows) if rows.shape[1] != 1 else _ops.sort(rows[:, 0], stable=True)[1]
        srows = _core.index_select(rows, 0, order)
    if rows.shape[1]:
        new = (srows[1:] != srows[:-1]).any(1) if n > 1 else _C.zeros(0, dtype=_D.bool_, device=dev)
    else:
        new = _C.zeros(n - 1, dtype=_D.bool_, device=dev)
    first = _ops.cat([_C.ones(1, dtype=_D.bool_, device=dev), new])
    group = _ops.cumsum(first.to(_D.int64), 0) - 1
    k = int(group[-1]) + 1
    starts = _ops.nonzero(first).reshape(-1)
    picked = _core.index_select(_ops.movedim(x, 0, 0), 0, _core.index_select(order, 0, starts))
    vals = picked.reshape(-1) if dim is None else _ops.movedim(picked, 0, d)
    out = [vals]
    if return_inverse:
        inv = _ops.scatter(_C.zeros(n, dtype=_D.int64, device=dev), 0, order, group)
        out.append(inv.reshape(input.shape) if dim is None else inv)
    if return_counts:
        ends = _ops.cat([starts[1:], _C.tensor([n], device=dev)])
        out.append(ends - starts)
    return out[0] if len(out) == 1 else tuple(out)


def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):
    """unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None)

    The distinct elements (or, with ``dim``, the distinct slices along ``dim``) in ascending
    order; optionally the index of each input element in the result (``inverse``) and how often
    each distinct element occurs (``counts``).

        >>> deepseek.unique(deepseek.tensor([3, 1, 3, 2]), return_counts=True)
        (tensor([1, 2, 3]), tensor([1, 1, 2]))
    """
    return _unique_impl("unique", input, sorted, return_inverse, return_counts, dim, False)


def unique_consecutive(input, return_inverse=False, return_counts=False, dim=None):
    """unique_consecutive(input, return_inverse=False, return_counts=False, dim=None): collapses
    each run of equal consecutive elements (slices along ``dim``) to one."""
    return _unique_impl("unique_consecutive", input, False, return_inverse, return_counts, dim, True)


# ---------------- counting ----------------

def count_nonzero(input, dim=None):
    """count_nonzero(input, dim=None) -> Tensor: the number of non-zero elements (int64) over
    ``dim`` (one dim or a tuple; every dim when None)."""
    _t("count_nonzero", input)
    return (input != 0).sum(dim, dtype=_D.int64)


def bincount(input, weights=None, minlength=0):
    """bincount(input, weights=None, minlength=0) -> Tensor: how often each non-negative integer
    occurs in a 1-D tensor (or the sum of ``weights`` at each), at least ``minlength`` long."""
    _t("bincount", input)
    if input._dtype not in _INTS:
        raise RuntimeError(f"bincount only supports 1-d non-negative integral inputs (got dtype {input._dtype})")
    if input.ndim != 1:
        raise RuntimeError(f"bincount only supports 1-d non-negative integral inputs (got shape {tuple(input.shape)})")
    if minlength < 0:
        raise RuntimeError("minlength should be >= 0")
    if weights is not None and (weights.ndim != 1 or weights.shape[0] != input.shape[0]):
        raise RuntimeError(f"weights should be 1-d and have the same length as input (got {tuple(weights.shape)} "
                           f"for input {tuple(input.shape)})")
    if input.numel() and int(input.min()) < 0:
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    n = builtins.max(int(input.max()) + 1 if input.numel() else 0, minlength)
    idx = input.to(_D.int64)
    if weights is None:
        src, dt = _C.ones(input.shape[0], dtype=_D.int64, device=input.device), _D.int64
    else:
        dt = _D.float32 if weights._dtype == "float32" else _D.float64
        src = weights.to(dt)
    return _ops.scatter_add(_C.zeros(n, dtype=dt, device=input.device), 0, idx, src)


def histc(input, bins=100, min=0, max=0):
    """histc(input, bins=100, min=0, max=0) -> Tensor: counts in ``bins`` equal bins over
    ``[min, max]`` (the data's range when both are 0); elements outside are ignored."""
    _t("histc", input)
    if input._dtype not in _FLOATS:
        raise RuntimeError(f"\"histogram_cpu\" not implemented for '{input._dtype}'")
    if bins <= 0:
        raise RuntimeError(f"torch.histc(): bins must be > 0, but got {bins} for dimension 0")
    lo, hi = float(min), float(max)
    if lo == hi and input.numel():
        lo, hi = float(input.min()), float(input.max())
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    if lo > hi:
        raise RuntimeError(f"torch.histc(): max must be larger than min, but got min {lo} max {hi}")
    x = input.detach().reshape(-1).to(_D.float64)
    keep = (x >= lo) & (x <= hi)
    b = _ops.floor((x - lo) * (bins / (hi - lo))).to(_D.int64)
    b = _ops.clamp(b, 0, bins - 1)
    counts = _ops.scatter_add(_C.zeros(bins, dtype=_D.float64, device=input.device), 0, b, keep.to(_D.float64))
    return counts.to(input.dtype)


def histogram(input, bins=100, *, range=None, weight=None, density=False):
    """histogram(input, bins, *, range=None, weight=None, density=False) -> (hist, bin_edges):
    ``bins`` is a count of equal bins (over ``range`` or the data's range) or the edges."""
    _t("histogram", input)
    x = input.detach().reshape(-1).to(_D.float64)
    if isinstance(bins, Tensor):
        edges = bins.detach().to(_D.float64)
    else:
        lo, hi = range if range is not None else ((float(x.min()), float(x.max())) if x.numel() else (0.0, 1.0))
        if lo == hi:
            lo, hi = lo - 0.5, hi + 0.5
        edges = _C.linspace(lo, hi, bins + 1, dtype=_D.float64, device=input.device)
    nb = edges.shape[0] - 1
    keep = (x >= edges[0]) & (x <= edges[-1])
    b = _ops.clamp(searchsorted(edges, x, right=True) - 1, 0, nb - 1)
    w = keep.to(_D.float64) if weight is None else keep.to(_D.float64) * weight.detach().reshape(-1).to(_D.float64)
    hist = _ops.scatter_add(_C.zeros(nb, dtype=_D.float64, device=input.device), 0, b, w)
    if density:
        hist = hist / (hist.sum() * (edges[1:] - edges[:-1]))
    ret = _named_tuple("histogram", ("hist", "bin_edges"))
    return ret(hist.to(input.dtype), edges.to(input.dtype))


def isin(elements, test_elements, *, assume_unique=False, invert=False):
    """isin(elements, test_elements, *, assume_unique=False, invert=False) -> Tensor: whether
    each element of ``elements`` occurs in ``test_elements``."""
    if not isinstance(elements, Tensor) and not isinstance(test_elements, Tensor):
        raise TypeError("isin(): at least one of elements and test_elements must be a Tensor")
    e = elements if isinstance(elements, Tensor) else _C.tensor(elements)
    t = test_elements if isinstance(test_elements, Tensor) else _C.tensor(test_elements)
    if t.numel() and e.numel():
        st, _ = _ops.sort(t.detach().reshape(-1))
        dt = _core.result_type(st, e)
        st, ev = st.to(dt), e.detach().to(dt)
        pos = _ops.clamp(searchsorted(st, ev), max=st.shape[0] - 1)
        hit = _core.index_select(st, 0, pos.reshape(-1)).reshape(e.shape) == ev
    else:
        hit = _C.zeros_like(e, dtype=_D.bool_)
    return ~hit if invert else hit


# ---------------- order statistics ----------------

def msort(input):
    """msort(input) -> Tensor: ``input`` sorted along dim 0."""
    return _ops.sort(_t("msort", input), 0)[0]


def aminmax(input, *, dim=None, keepdim=False):
    """aminmax(input, *, dim=None, keepdim=False) -> (min, max)."""
    _t("aminmax", input)
    if input.numel() == 0 and dim is None:
        raise RuntimeError("aminmax(): cannot compute aminmax over an empty dimension as the operation has no identity.")
    d = () if dim is None else dim
    return _named_tuple("aminmax", ("min", "max"))(_ops.amin(input, d, keepdim), _ops.amax(input, d, keepdim))


def _kth_along(x, d, k, keepdim):
    """(values, indices) of the k-th smallest (k a 0-based per-slice int64 tensor with dim d
    of size 1) along ``d``; NaN sorts last."""
    sv, si = _ops.sort(x, d, stable=True)
    idx = _ops.gather(si, d, k)
    val = _ops.gather(x, d, idx)
    if not keepdim:
        val, idx = val.squeeze(d), idx.squeeze(d)
    return val, idx


def median(input, dim=None, keepdim=False):
    """median(input) -> Tensor; median(input, dim, keepdim=False) -> (values, indices)

    The lower median (of an even count, the smaller middle element); NaN if the slice has a NaN.
    """
    return _median("median", input, dim, keepdim, ignore_nan=False)


def nanmedian(input, dim=None, keepdim=False):
    """nanmedian(input, dim=None, keepdim=False): ``median`` of the non-NaN elements."""
    return _median("nanmedian", input, dim, keepdim, ignore_nan=True)


def _median(op, input, dim, keepdim, ignore_nan):
    _t(op, input)
    full = dim is None
    x = input.reshape(-1) if full else input
    d = 0 if full else _wrap(op, dim, input)
    if x.ndim == 0:
        x = x.reshape(1)
    n = x.shape[d]
    if n == 0:
        if full:
            return _C.tensor(float("nan"), dtype=input.dtype, device=input.device)
        raise IndexError(f"{op}(): Expected reduction dim {d} to have non-zero size (shape {tuple(input.shape)})")
    nan = _ops.isnan(x) if x._dtype in _FLOATS else _C.zeros_like(x, dtype=_D.bool_)
    nn = nan.sum(d, keepdim=True)
    if ignore_nan:
        valid = n - nn
        k = _ops.where(valid > 0, _ops.floor_divide(valid - 1, 2), 0)
    else:
        # a NaN anywhere: the first NaN in sorted order (sort puts NaN last)
        k = _ops.where(nn > 0, n - nn, (n - 1) // 2)
    val, idx = _kth_along(x, d, k.to(_D.int64), keepdim or full)
    if full:
        return val.reshape(())
    if input.ndim == 0:
        val, idx = val.reshape(()), idx.reshape(())
    return _ops._MinMax((val, idx))


def mode(input, dim=-1, keepdim=False):
    """mode(input, dim=-1, keepdim=False) -> (values, indices): the most frequent value of each
    slice (the smallest on ties) and an index where it occurs."""
    _t("mode", input)
    d = _wrap("mode", dim, input)
    x = _ops.movedim(input, d, -1) if input.ndim else input.reshape(1)
    n = x.shape[-1]
    if n == 0:
        raise IndexError(f"mode(): Expected reduction dim {d} to have non-zero size.")
    sv, si = _ops.sort(x.detach(), -1, stable=True)
    # run lengths of the sorted values (linear memory): each element's count is its run's
    lead = list(sv.shape[:-1])
    first = _C.ones(*lead, 1, dtype=_D.bool_, device=x.device)
    new = _ops.cat([first, sv[..., 1:] != sv[..., :-1]], -1) if n > 1 else first
    run = _ops.cumsum(new.to(_D.int64), -1) - 1
    runs = _ops.scatter_add(_C.zeros(*lead, n, dtype=_D.int64, device=x.device), sv.ndim - 1, run,
                            _C.ones(*lead, n, dtype=_D.int64, device=x.device))
    freq = _ops.gather(runs, sv.ndim - 1, run)
    best = freq.amax(-1, keepdim=True)
    # first sorted position reaching the top count is the smallest value with it
    pos = _ops.argmax((freq == best).to(_D.int32), -1, keepdim=True)
    val_sorted = _ops.gather(sv, -1, pos)
    # PyTorch reports the last index where the mode occurs
    last = _ops.argmax((x.detach() == val_sorted).to(_D.int64) * (_C.arange(n, device=x.device) + 1), -1, keepdim=True)
    val = _ops.gather(x, -1, last)
    if keepdim and input.ndim:
        val, last = _ops.movedim(val, -1, d), _ops.movedim(last, -1, d)
    else:
        val, last = val.squeeze(-1), last.squeeze(-1)
    return _ops._MinMax((val, last))


def _quantile(op, input, q, dim, keepdim, interpolation, ignore_nan):
    _t(op, input)
    if input._dtype not in ("float32", "float64"):
        raise RuntimeError(f"{op}() input tensor must be either float or double dtype")
    if interpolation not in ("linear", "lower", "higher", "midpoint", "nearest"):
        raise RuntimeError(f"{op}() interpolation must be one of linear, lower, higher, midpoint or nearest. "
                           f"Got {interpolation}")
    scalar_q = not isinstance(q, Tensor)
    qt = _C.tensor(q, dtype=input.dtype, device=input.device) if scalar_q else q
    if qt.ndim > 1:
        raise RuntimeError(f"{op}() q must be a scalar or 1D tensor")
    if qt.numel() and (float(qt.min()) < 0 or float(qt.max()) > 1):
        raise RuntimeError(f"{op}() q values must be in the range [0, 1]")
    qv = qt.reshape(-1).to(input.dtype)
    if dim is None:
        x, d = input.reshape(-1), 0
    else:
        d = _wrap(op, dim, input)
        x = input
    if x.ndim == 0:
        x = x.reshape(1)
    xm = _ops.movedim(x, d, -1)
    n = xm.shape[-1]
    if n == 0:
        raise IndexError(f"{op}() input tensor cannot be empty")
    sv, _ = _ops.sort(xm, -1, stable=True)
    nan = _ops.isnan(xm).sum(-1, keepdim=True)
    cnt = (n - nan) if ignore_nan else _C.full_like(nan, n)
    pos = qv * (cnt.to(input.dtype) - 1)  # (..., nq)
    pos = _ops.clamp(pos, min=0)
    lo = _ops.floor(pos)
    hi = _ops.ceil(pos)
    if interpolation == "lower":
        hi = lo
    elif interpolation == "higher":
        lo = hi
    elif interpolation == "nearest":
        lo = hi = _ops.round(pos)
    flat = sv.reshape(-1, n)
    lo_i = lo.to(_D.int64).reshape(flat.shape[0], -1)
    hi_i = hi.to(_D.int64).reshape(flat.shape[0], -1)
    a, b = _ops.gather(flat, 1, lo_i), _ops.gather(flat, 1, hi_i)
    frac = (pos.reshape(flat.shape[0], -1) - lo_i.to(input.dtype))
    if interpolation == "midpoint":
        r = a + (b - a) * 0.5 * (hi_i != lo_i).to(input.dtype)
    elif interpolation == "linear":
        r = a + (b - a) * frac
    else:
        r = a
    bad = (nan.reshape(-1, 1) > 0) if not ignore_nan else (cnt.reshape(-1, 1) == 0)
    r = _ops.where(bad, float("nan"), r)
    r = r.reshape(*xm.shape[:-1], qv.shape[0])
    r = _ops.movedim(r, -1, 0)  # (nq, ...)
    if keepdim:
        r = r.unsqueeze(d + 1) if dim is not None else r.reshape(qv.shape[0], *([1] * input.ndim))
    if scalar_q or qt.ndim == 0:
        r = r.squeeze(0)
    return r


def quantile(input, q, dim=None, keepdim=False, *, interpolation="linear"):
    """quantile(input, q, dim=None, keepdim=False, *, interpolation='linear') -> Tensor: the
    ``q``-quantiles (q a float or 1-D tensor in [0, 1]; a 1-D q adds a leading dim); NaN where a
    slice has a NaN."""
    return _quantile("quantile", input, q, dim, keepdim, interpolation, False)


def nanquantile(input, q, dim=None, keepdim=False, *, interpolation="linear"):
    """nanquantile(...): ``quantile`` of the non-NaN elements."""
    return _quantile("nanquantile", input, q, dim, keepdim, interpolation, True)


# ---------------- scans ----------------

def _scan(x, d, combine):
    """Inclusive scan of ``x`` along ``d`` by doubling (Hillis-Steele): log2(n) shifted combines."""
    n = x.shape[d]
    s = 1
    while s < n:
        prev = _ops.narrow(x, d, 0, n - s)
        cur = _ops.narrow(x, d, s, n - s)
        x = _ops.cat([_ops.narrow(x, d, 0, s), combine(prev, cur)], d)
        s *= 2
    return x


def _cum_extreme(op, input, dim, is_max):
    _t(op, input)
    d = _wrap(op, dim, input)
    x = input.reshape(1) if input.ndim == 0 else input
    if x.numel() == 0:
        return _ops._MinMax((x.clone(), _C.zeros_like(x, dtype=_D.int64)))
    v = x.detach()
    n = v.shape[d]
    shape = [1] * v.ndim
    shape[d] = n
    idx = _C.arange(n, device=v.device).reshape(shape).expand(v.shape).contiguous()
    both = _ops.stack([v.to(_D.float64), idx.to(_D.float64)], 0)

    def combine(left, right):
        lv, li = left[0], left[1]
        rv, ri = right[0], right[1]
        take_r = ((rv >= lv) if is_max else (rv <= lv)) | _ops.isnan(rv)
        take_r = take_r & ~(_ops.isnan(lv) & ~_ops.isnan(rv))
        return _ops.stack([_ops.where(take_r, rv, lv), _ops.where(take_r, ri, li)], 0)

    res = _scan(both, d + 1, combine)
    ind = res[1].to(_D.int64)
    vals = _ops.gather(x, d, ind)
    if input.ndim == 0:
        vals, ind = vals.reshape(()), ind.reshape(())
    return _ops._MinMax((vals, ind))


def cummax(input, dim):
    """cummax(input, dim) -> (values, indices): running maximum along ``dim`` and where it was
    attained (the latest index on ties)."""
    return _cum_extreme("cummax", input, dim, True)


def cummin(input, dim):
    """cummin(input, dim) -> (values, indices): running minimum along ``dim``."""
    return _cum_extreme("cummin", input, dim, False)


def logcumsumexp(input, dim):
    """logcumsumexp(input, dim) -> Tensor: ``log(cumsum(exp(input)))`` computed stably."""
    _t("logcumsumexp", input)
    d = _wrap("logcumsumexp", dim, input)
    x = input if input._dtype in _FLOATS else input.to(_D.get_default_dtype())
    if x.ndim == 0:
        return x.clone()
    return _scan(x, d, _ops.logaddexp)


# ---------------- NaN-aware reductions ----------------

def nansum(input, dim=None, keepdim=False, *, dtype=None):
    """nansum(input, dim=None, keepdim=False, *, dtype=None): ``sum`` treating NaN as 0."""
    _t("nansum", input)
    x = _ops.where(_ops.isnan(input), 0, input).to(input.dtype) if input._dtype in _FLOATS else input
    return _ops.sum(x, dim, keepdim, dtype=dtype)


def nanmean(input, dim=None, keepdim=False, *, dtype=None):
    """nanmean(input, dim=None, keepdim=False, *, dtype=None): mean of the non-NaN elements."""
    _t("nanmean", input)
    if input._dtype not in _FLOATS:
        raise RuntimeError(f"nanmean(): expected input to have floating point dtype but got {input._dtype}")
    cnt = (~_ops.isnan(input)).sum(dim, keepdim=keepdim) if dim is not None else (~_ops.isnan(input)).sum()
    return nansum(input, dim, keepdim, dtype=dtype) / cnt


__all__ = [n for n, v in list(globals().items())
           if not n.startswith("_") and callable(v) and getattr(v, "__module__", None) == __name__]
