"""Scatter and index-update functions, statistics and integration composed from primitives
(``deepseek.scatter_reduce``, ``index_fill``, ``index_copy``, ``masked_scatter``, ``cov``,
``trapezoid``...). All are differentiable where PyTorch's are.
"""
from __future__ import annotations

import builtins

from . import _core, _creation as _C, _dtype as _D, _ops
from ._core import Tensor

_FLOATS = ("float16", "bfloat16", "float32", "float64")
_wrap = _ops._wrap_dim


def _t(op, x, name="input"):
    _ops._check_tensor(op, x, name)
    return x


def _check_index(op, index):
    _t(op, index, "index")
    if index._dtype != "int64":
        raise RuntimeError(f"{op}(): Expected dtype int64 for index, but got {index._dtype}")


def scatter_reduce(input, dim, index, src, reduce, *, include_self=True):
    """scatter_reduce(input, dim, index, src, reduce, *, include_self=True) -> Tensor

    Reduces the values of ``src`` into ``input`` at ``index`` along ``dim`` with ``reduce`` one
    of ``'sum'``, ``'prod'``, ``'mean'``, ``'amax'``, ``'amin'``; with ``include_self=False``
    the input's own values at the scattered-to positions are left out of the reduction.

        >>> x = deepseek.zeros(3)
        >>> x.scatter_reduce(0, deepseek.tensor([0, 0, 2]), deepseek.tensor([1., 5., 2.]), "amax")
        tensor([5., 0., 2.])
    """
    _t("scatter_reduce", input)
    _check_index("scatter_reduce", index)
    _t("scatter_reduce", src, "src")
    if reduce not in ("sum", "prod", "mean", "amax", "amin"):
        raise RuntimeError(f"reduce argument must be either sum, prod, mean, amax or amin, got {reduce}")
    if src._dtype != input._dtype:
        raise RuntimeError(f"scatter_reduce(): Expected self.dtype to be equal to src.dtype (got {input._dtype} "
                           f"and {src._dtype})")
    d = _wrap("scatter_reduce", dim, input)
    _ops._scatter_args("scatter_reduce", input, d, index, src)
    if index.numel() == 0:
        return input.clone()
    n = input.shape[d]
    idx = index
    s = src
    # crop src to index's extent, as the scatter family does
    for k in range(index.ndim):
        if s.shape[k] != index.shape[k]:
            s = _ops.narrow(s, k, 0, index.shape[k])
    im = _ops.movedim(idx, d, -1)
    sm = _ops.movedim(s, d, -1)
    xm = _ops.movedim(input, d, -1)
    # the slices index covers (index may be smaller than input in the other dims)
    cover = [slice(0, im.shape[k]) for k in range(im.ndim - 1)]
    xc = xm[tuple(cover)] if cover else xm
    m = im.shape[-1]
    rows = 1
    for k in im.shape[:-1]:
        rows *= k
    I, S, X = im.reshape(rows, m), sm.reshape(rows, m), xc.reshape(rows, n)
    dev = input.device
    count = _ops.scatter_add(_C.zeros(rows, n, dtype=_D.int64, device=dev), 1, I, _C.ones(rows, m, dtype=_D.int64, device=dev))
    touched = count > 0
    if reduce in ("sum", "mean"):
        agg = _ops.scatter_add(_C.zeros(rows, n, dtype=input.dtype, device=dev), 1, I, S)
        if include_self:
            agg = agg + X
        if reduce == "mean":
            cnt = _ops.clamp(count + (1 if include_self else 0), min=1)
            agg = agg / cnt if input._dtype in _FLOATS else _ops.floor_divide(agg, cnt)
    else:
        agg = _segment_reduce(I, S, n, reduce)
        if include_self:
            agg = {"prod": _ops.mul, "amax": _ops.maximum, "amin": _ops.minimum}[reduce](agg, X)
    newc = _ops.where(touched, agg.to(input.dtype), X).reshape(xc.shape)
    # index may cover only a leading block of the other dims: write that block back
    out = newc if tuple(newc.shape) == tuple(xm.shape) else xm.index_put(_cover_indices(newc.shape, input.device), newc)
    return _ops.movedim(out, -1, d)


def _segment_reduce(I, S, n, reduce):
    """Row-wise reduction of the values ``S`` [R, m] that share a target in ``I`` [R, m], as a
    dense [R, n] (untouched targets hold junk, masked by the caller): one stable sort by target
    and a segmented doubling scan, so memory stays linear in m."""
    op = {"prod": _ops.mul, "amax": _ops.maximum, "amin": _ops.minimum}[reduce]
    R, m = I.shape
    sI, order = _ops.sort(I, 1, stable=True)
    vals = _ops.gather(S, 1, order)
    ones = _C.ones(R, 1, dtype=_D.bool_, device=I.device)
    differs = sI[:, 1:] != sI[:, :-1]
    start = _ops.cat([ones, differs], 1)
    step = 1
    while step < m:
        prev_v, cur_v = vals[:, :m - step], vals[:, step:]
        prev_f, cur_f = start[:, :m - step], start[:, step:]
        vals = _ops.cat([vals[:, :step], _ops.where(cur_f, cur_v, op(prev_v, cur_v))], 1)
        start = _ops.cat([start[:, :step], cur_f | prev_f], 1)
        step *= 2
    last = _ops.cat([differs, ones], 1)
    rows = _C.arange(R, device=I.device).unsqueeze(1) * n
    target = _ops.masked_select(rows + sI, last)
    dense = _C.zeros(R * n, dtype=S.dtype, device=I.device)
    return dense.index_put((target,), _ops.masked_select(vals, last)).reshape(R, n)


def _cover_indices(shape, device):
    """Index tensors addressing the leading block ``shape`` of a larger tensor."""
    grids = [_C.arange(s, device=device) for s in shape]
    out = []
    for i, g in enumerate(grids):
        v = [1] * len(shape)
        v[i] = shape[i]
        out.append(g.reshape(v).expand(list(shape)))
    return tuple(out)


def _index_expand(op, input, dim, index, like_shape):
    """``index`` (1-D) as a scatter index of ``like_shape`` along ``dim``."""
    _check_index(op, index)
    if index.ndim > 1:
        raise IndexError(f"{op}(): Index is supposed to be a vector (got shape {tuple(index.shape)})")
    n = input.shape[dim] if input.ndim else 1
    if index.numel() and (int(index.max()) >= n or int(index.min()) < -n):
        raise IndexError(f"{op}(): index out of range in self (dim {dim} of size {n})")
    idx = _ops.remainder(index.reshape(-1), builtins.max(n, 1))
    v = [1] * len(like_shape)
    if v:
        v[dim] = idx.shape[0]
    return idx.reshape(v).expand(list(like_shape)) if v else idx


def index_fill(input, dim, index, value):
    """index_fill(input, dim, index, value) -> Tensor: the slices at ``index`` along ``dim`` set
    to ``value`` (a number or a 0-d tensor)."""
    _t("index_fill", input)
    d = _wrap("index_fill", dim, input)
    if isinstance(value, Tensor) and value.ndim != 0:
        raise RuntimeError(f"index_fill_ only supports a 0-dimensional value tensor, but got tensor with "
                           f"{value.ndim} dimension(s).")
    shape = list(input.shape)
    if shape:
        shape[d] = index.numel()
    idx = _index_expand("index_fill", input, d, index, shape)
    val = value if isinstance(value, Tensor) else _C.tensor(value, device=input.device)
    src = val.to(input.dtype).expand(shape)
    return _ops.scatter(input, d, idx, src) if input.ndim else (src if index.numel() else input.clone())


def index_copy(input, dim, index, source):
    """index_copy(input, dim, index, source) -> Tensor: the slices at ``index`` along ``dim``
    replaced by the slices of ``source``."""
    _t("index_copy", input)
    _t("index_copy", source, "source")
    d = _wrap("index_copy", dim, input)
    if source._dtype != input._dtype:
        raise RuntimeError(f"index_copy_(): self and source expected to have the same dtype, but got (self) "
                           f"{input._dtype} and (source) {source._dtype}")
    if source.ndim != input.ndim or (input.ndim and source.shape[d] != index.numel()):
        raise IndexError(f"index_copy_(): Number of indices ({index.numel()}) should be equal to source.size(dim) "
                         f"(source shape {tuple(source.shape)}, self shape {tuple(input.shape)})")
    idx = _index_expand("index_copy", input, d, index, list(source.shape))
    return _ops.scatter(input, d, idx, source)


def index_reduce(input, dim, index, source, reduce, *, include_self=True):
    """index_reduce(input, dim, index, source, reduce, *, include_self=True) -> Tensor:
    ``scatter_reduce`` of whole slices ('prod', 'mean', 'amax', 'amin')."""
    _t("index_reduce", input)
    if reduce not in ("prod", "mean", "amax", "amin"):
        raise RuntimeError(f"index_reduce(): Expected reduce to be one of prod, mean, amax or amin but got {reduce}.")
    d = _wrap("index_reduce", dim, input)
    idx = _index_expand("index_reduce", input, d, index, list(source.shape))
    return scatter_reduce(input, d, idx, source, reduce, include_self=include_self)


def select_scatter(input, src, dim, index):
    """select_scatter(input, src, dim, index) -> Tensor: ``input`` with the slice at ``index`` of
    ``dim`` replaced by ``src`` (whose shape is that slice's)."""
    _t("select_scatter", input)
    _t("select_scatter", src, "src")
    d = _wrap("select_scatter", dim, input)
    n = input.shape[d]
    i = _ops._int_arg("select_scatter", index, "index")
    if not -n <= i < n:
        raise IndexError(f"select_scatter(): index {i} out of range for tensor of size {tuple(input.shape)} at dimension {d}")
    i %= n
    want = tuple(input.shape[:d]) + tuple(input.shape[d + 1:])
    if tuple(src.shape) != want:
        raise RuntimeError(f"expected src to have a size equal to the slice of self. src size = {list(src.shape)}, "
                           f"slice size = {list(want)}")
    return _ops.cat([_ops.narrow(input, d, 0, i), src.to(input.dtype).unsqueeze(d), _ops.narrow(input, d, i + 1, n - i - 1)], d)


def slice_scatter(input, src, dim=0, start=None, end=None, step=1):
    """slice_scatter(input, src, dim=0, start=None, end=None, step=1) -> Tensor: ``input`` with
    ``input[..., start:end:step, ...]`` (along ``dim``) replaced by ``src``."""
    _t("slice_scatter", input)
    _t("slice_scatter", src, "src")
    d = _wrap("slice_scatter", dim, input)
    if step <= 0:
        raise RuntimeError("slice step must be positive")
    pos = list(range(input.shape[d]))[slice(start, end, step)]
    if src.ndim != input.ndim or src.shape[d] != len(pos):
        raise RuntimeError(f"expected src to have a size equal to the slice of self. src size = {list(src.shape)}, "
                           f"slice of {len(pos)} along dim {d} of {list(input.shape)}")
    if not pos:
        return input.clone()
    return index_copy(input, d, _C.tensor(pos, device=input.device), src.to(input.dtype))


def diagonal_scatter(input, src, offset=0, dim1=0, dim2=1):
    """diagonal_scatter(input, src, offset=0, dim1=0, dim2=1) -> Tensor: ``input`` with its
    ``diagonal(offset, dim1, dim2)`` replaced by ``src``."""
    from ._shape_extra import diagonal

    _t("diagonal_scatter", input)
    ref = diagonal(input.detach(), offset, dim1, dim2)
    if tuple(src.shape) != tuple(ref.shape):
        raise RuntimeError(f"expected src to have a size equal to the diagonal of self. src size = {list(src.shape)}, "
                           f"diagonal size = {list(ref.shape)}")
    d1, d2 = _wrap("diagonal_scatter", dim1, input), _wrap("diagonal_scatter", dim2, input)
    rest = [k for k in range(input.ndim) if k not in (d1, d2)]
    x = input.permute(*rest, d1, d2)
    r, c = x.shape[-2], x.shape[-1]
    n = src.shape[-1]
    i = _C.arange(n, device=input.device)
    rows, cols = (i, i + offset) if offset >= 0 else (i - offset, i)
    flat = x.reshape(*x.shape[:-2], r * c)
    out = index_copy(flat, flat.ndim - 1, rows * c + cols, src.to(input.dtype)).reshape(x.shape)
    inv = [0] * input.ndim
    for k, p in enumerate(rest + [d1, d2]):
        inv[p] = k
    return out.permute(*inv)


def masked_scatter(input, mask, source):
    """masked_scatter(input, mask, source) -> Tensor: the positions where ``mask`` (broadcast)
    is True take consecutive elements of ``source``, in row-major order."""
    _t("masked_scatter", input)
    _t("masked_scatter", mask, "mask")
    _t("masked_scatter", source, "source")
    if mask._dtype != "bool":
        raise RuntimeError(f"masked_scatter_ only supports boolean masks, but got mask with dtype {mask._dtype}")
    if source._dtype != input._dtype:
        raise RuntimeError(f"masked_scatter: expected self and source to have same dtypes but got {input._dtype} "
                           f"and {source._dtype}")
    shape = _ops.broadcast_shapes(input.shape, mask.shape)
    x = input.expand(shape).contiguous() if tuple(shape) != tuple(input.shape) else input
    m = mask.expand(shape).reshape(-1)
    pos = _ops.nonzero(m).reshape(-1)
    k = pos.shape[0]
    if k > source.numel():
        raise RuntimeError(f"masked_scatter: Number of elements of source < number of ones in mask "
                           f"({source.numel()} < {k})")
    vals = source.reshape(-1)[:k]
    return x.reshape(-1).index_put((pos,), vals).reshape(shape)


def put(input, index, source, accumulate=False):
    """put(input, index, source, accumulate=False) -> Tensor: writes ``source`` at the flat
    positions ``index`` (adds with ``accumulate``)."""
    _t("put", input)
    _check_index("put", index)
    if index.numel() != source.numel():
        raise RuntimeError(f"put_(): Expected source and index to have the same number of elements, but got "
                           f"source.numel() = {source.numel()}, index.numel() = {index.numel()}")
    n = input.numel()
    if index.numel() and (int(index.max()) >= n or int(index.min()) < -n):
        raise IndexError(f"put_(): index out of range in self (numel {n})")
    idx = _ops.remainder(index.reshape(-1), builtins.max(n, 1))
    return input.reshape(-1).index_put((idx,), source.reshape(-1).to(input.dtype), accumulate).reshape(input.shape)


def renorm(input, p, dim, maxnorm):
    """renorm(input, p, dim, maxnorm) -> Tensor: each slice along ``dim`` whose ``p``-norm
    exceeds ``maxnorm`` scaled down to norm ``maxnorm``."""
    _t("renorm", input)
    if input._dtype not in _FLOATS:
        raise RuntimeError(f"renorm: expected a floating point input, got {input._dtype}")
    if p <= 0:
        raise RuntimeError(f"renorm: non-positive-norm not supported (p = {p})")
    if maxnorm < 0:
        raise RuntimeError(f"renorm: expected maxnorm to be >= 0 but got {maxnorm}")
    d = _wrap("renorm", dim, input)
    others = [k for k in range(input.ndim) if k != d]
    a = _ops.abs(input)
    norm = (_ops.amax(a, others, True) if p == float("inf") else _ops.pow(_ops.pow(a, p).sum(others, keepdim=True), 1.0 / p)) \
        if others else a
    factor = _ops.where(norm > maxnorm, maxnorm / (norm + 1e-7), 1.0)
    return input * factor.detach().to(input.dtype)


def cov(input, *, correction=1, fweights=None, aweights=None):
    """cov(input, *, correction=1, fweights=None, aweights=None) -> Tensor: the covariance matrix
    of the variables in the rows of ``input`` (observations in columns)."""
    _t("cov", input)
    if input.ndim > 2:
        raise RuntimeError(f"cov(): expected input to have two or fewer dimensions but got an input with {input.ndim} dimensions")
    x = input.reshape(1, -1) if input.ndim < 2 else input
    if x._dtype not in _FLOATS:
        x = x.to(_D.get_default_dtype())
    n = x.shape[1]
    w = None
    if fweights is not None:
        if fweights._dtype not in ("uint8", "int8", "int16", "int32", "int64"):
            raise RuntimeError(f"cov(): expected fweights to have integral dtype but got fweights with {fweights._dtype} dtype")
        if fweights.ndim > 1 or fweights.numel() != n:
            raise RuntimeError(f"cov(): expected fweights to have the same numel as there are observations in the "
                               f"input but got {fweights.numel()} != {n}")
        w = fweights.to(x.dtype)
    if aweights is not None:
        if aweights._dtype not in _FLOATS:
            raise RuntimeError(f"cov(): expected aweights to have floating point dtype but got aweights with {aweights._dtype} dtype")
        if aweights.ndim > 1 or aweights.numel() != n:
            raise RuntimeError(f"cov(): expected aweights to have the same numel as there are observations in the "
                               f"input but got {aweights.numel()} != {n}")
        w = aweights.to(x.dtype) if w is None else w * aweights.to(x.dtype)
    if w is None:
        wsum = float(n)
        avg = x.mean(1, keepdim=True)
        norm = wsum - correction
    else:
        wsum = w.sum()
        avg = (x * w).sum(1, keepdim=True) / wsum
        if correction == 0:
            norm = wsum
        elif aweights is None:
            norm = wsum - correction
        else:
            norm = wsum - correction * (w * aweights.to(x.dtype)).sum() / wsum
    xc = x - avg
    xw = xc if w is None else xc * w
    c = _ops.mm(xw, xc.t()) / _ops.clamp(_C.tensor(norm, dtype=x.dtype, device=x.device), min=0) \
        if isinstance(norm, Tensor) else _ops.mm(xw, xc.t()) / builtins.max(norm, 0)
    return c.reshape(()) if input.ndim < 2 else c


def corrcoef(input):
    """corrcoef(input) -> Tensor: Pearson correlation coefficients of the rows, clipped to [-1, 1]."""
    c = cov(input)
    if c.ndim == 0:
        return c / c
    d = _ops.sqrt(_ops.diag(c))
    c = c / d.unsqueeze(1) / d.unsqueeze(0)
    return _ops.clamp(c, -1, 1)


def trapezoid(y, x=None, *, dx=None, dim=-1):
    """trapezoid(y, x=None, *, dx=None, dim=-1) -> Tensor: the trapezoidal rule along ``dim``,
    with sample points ``x`` or uniform spacing ``dx`` (default 1)."""
    _t("trapezoid", y, "y")
    d = _wrap("trapezoid", dim, y)
    n = y.shape[d]
    if n == 0:
        return _ops.sum(y, d)
    a, b = _ops.narrow(y, d, 0, n - 1), _ops.narrow(y, d, 1, n - 1)
    if x is None:
        return (a + b).sum(d) * ((1.0 if dx is None else dx) / 2)
    if isinstance(x, Tensor):
        if x.ndim == 1:
            if x.shape[0] != n:
                raise RuntimeError(f"trapezoid: There must be one `x` value for each sample point "
                                   f"(got {x.shape[0]} x values for {n} samples)")
            shape = [1] * y.ndim
            shape[d] = n - 1
            h = (x[1:] - x[:-1]).reshape(shape)
        else:
            h = _ops.diff(x, dim=d)
        return ((a + b) * h).sum(d) / 2
    return (a + b).sum(d) * (float(x) / 2)


trapz = trapezoid


def cumulative_trapezoid(y, x=None, *, dx=None, dim=-1):
    """cumulative_trapezoid(y, x=None, *, dx=None, dim=-1) -> Tensor: the running trapezoidal
    rule along ``dim`` (one element shorter)."""
    _t("cumulative_trapezoid", y, "y")
    d = _wrap("cumulative_trapezoid", dim, y)
    n = y.shape[d]
    if n == 0:
        return y.clone()
    a, b = _ops.narrow(y, d, 0, n - 1), _ops.narrow(y, d, 1, n - 1)
    if isinstance(x, Tensor):
        if x.ndim == 1:
            shape = [1] * y.ndim
            shape[d] = n - 1
            h = (x[1:] - x[:-1]).reshape(shape)
        else:
            h = _ops.diff(x, dim=d)
        return _ops.cumsum((a + b) * h / 2, d)
    h = (1.0 if dx is None else dx) if x is None else float(x)
    return _ops.cumsum((a + b) * (h / 2), d)


__all__ = [n for n, v in list(globals().items())
           if not n.startswith("_") and callable(v) and getattr(v, "__module__", None) == __name__] + ["trapz"]
