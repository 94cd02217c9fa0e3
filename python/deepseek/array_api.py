"""The Python Array API standard (2023.12) namespace of deepseek tensors:
``x.__array_namespace__()`` returns this module.

Functions take the standard's names and keywords (``axis``/``keepdims``, ``correction``,
``copy``...) and map onto deepseek's functions. Not covered: the dtypes deepseek lacks
(uint16/uint32/uint64, complex64/complex128) and the ``linalg``/``fft`` extensions.

    >>> xp = deepseek.ones(3).__array_namespace__()
    >>> xp.sum(xp.ones((2, 3)), axis=1)
    tensor([3., 3.])
"""
from __future__ import annotations

import builtins
import math

import deepseek as _ds

from . import _core
from ._core import Tensor as _Tensor
from ._dtype import DTYPES as _DTYPES

__array_api_version__ = "2023.12"

# ---------------- constants and dtypes ----------------

e, inf, nan, pi, newaxis = math.e, math.inf, math.nan, math.pi, None
bool = _ds.bool
int8, int16, int32, int64, uint8 = _ds.int8, _ds.int16, _ds.int32, _ds.int64, _ds.uint8
float32, float64 = _ds.float32, _ds.float64
_INTS = (int8, int16, int32, int64, uint8)
_FLOATS = (float32, float64)


class _Info:
    """``__array_namespace_info__()``: what this namespace supports."""

    def capabilities(self):
        return {"boolean indexing": True, "data-dependent shapes": True, "max dimensions": 64}

    def default_device(self):
        return _ds.device("cpu")

    def default_dtypes(self, *, device=None):
        return {"real floating": _ds.get_default_dtype(), "complex floating": None, "integral": int64, "indexing": int64}

    def dtypes(self, *, device=None, kind=None):
        table = {"bool": bool, "int8": int8, "int16": int16, "int32": int32, "int64": int64, "uint8": uint8,
                 "float32": float32, "float64": float64}
        if kind is None:
            return dict(table)
        return {k: v for k, v in table.items() if isdtype(v, kind)}

    def devices(self):
        from .testing import available_devices

        return [_ds.device(d) for d in available_devices()]


def __array_namespace_info__():
    return _Info()


def isdtype(dtype, kind):
    """isdtype(dtype, kind): whether ``dtype`` is ``kind`` (a dtype, a kind name or a tuple)."""
    if isinstance(kind, tuple):
        return builtins.any(isdtype(dtype, k) for k in kind)
    if not isinstance(kind, str):
        return dtype == kind
    kinds = {"bool": (bool,), "signed integer": (int8, int16, int32, int64), "unsigned integer": (uint8,),
             "integral": _INTS, "real floating": _FLOATS, "complex floating": (), "numeric": _INTS + _FLOATS}
    if kind not in kinds:
        raise ValueError(f"isdtype: unknown kind {kind!r}")
    return dtype in kinds[kind]


def astype(x, dtype, /, *, copy=True, device=None):
    """astype(x, dtype, /, *, copy=True, device=None)."""
    if device is not None:
        x = x.to(device)
    if not copy and x.dtype == dtype:
        return x
    return x.to(dtype).clone() if x.dtype == dtype else x.to(dtype)


def _promote(a, b):
    """The dtype two dtypes promote to (the core's table)."""
    return _DTYPES[_core.result_type(_ds.empty(0, dtype=a), _ds.empty(0, dtype=b))]


def can_cast(from_, to, /):
    """can_cast(from_, to): whether ``from_`` (a dtype or an array) promotes to ``to``."""
    f = from_.dtype if isinstance(from_, _Tensor) else from_
    return _promote(f, to) == to


def result_type(*arrays_and_dtypes):
    """result_type(*arrays_and_dtypes): the dtype the arguments promote to (Python scalars
    take part only through the arrays, as the standard says)."""
    dts = [a.dtype if isinstance(a, _Tensor) else a for a in arrays_and_dtypes if not isinstance(a, (int, float))]
    if not dts:
        raise ValueError("result_type: at least one array or dtype is required")
    r = dts[0]
    for d in dts[1:]:
        r = _promote(r, d)
    return r


finfo, iinfo = _ds.finfo, _ds.iinfo

# ---------------- creation ----------------


def asarray(obj, /, *, dtype=None, device=None, copy=None):
    """asarray(obj, /, *, dtype=None, device=None, copy=None)."""
    if isinstance(obj, _Tensor):
        out = obj.to(device) if device is not None else obj
        if dtype is not None and out.dtype != dtype:
            if copy is False:
                raise ValueError("asarray: a dtype change needs a copy, but copy=False")
            out = out.to(dtype)
        return out.clone() if copy and out is obj else out
    return _ds.tensor(obj, dtype=dtype, device=device)


def arange(start, /, stop=None, step=1, *, dtype=None, device=None):
    return _ds.arange(start, stop, step, dtype=dtype, device=device) if stop is not None else \
        _ds.arange(start, dtype=dtype, device=device)


def empty(shape, *, dtype=None, device=None):
    return _ds.empty(*_shape(shape), dtype=dtype, device=device)


def zeros(shape, *, dtype=None, device=None):
    return _ds.zeros(*_shape(shape), dtype=dtype, device=device)


def ones(shape, *, dtype=None, device=None):
    return _ds.ones(*_shape(shape), dtype=dtype, device=device)


def full(shape, fill_value, *, dtype=None, device=None):
    return _ds.full(_shape(shape), fill_value, dtype=dtype, device=device)


def _like(fn):
    def f(x, /, *args, dtype=None, device=None):
        return fn(x, *args, dtype=dtype, device=device)

    f.__name__ = fn.__name__
    return f


empty_like, zeros_like, ones_like, full_like = (_like(_ds.empty_like), _like(_ds.zeros_like), _like(_ds.ones_like),
                                                _like(_ds.full_like))


def eye(n_rows, n_cols=None, /, *, k=0, dtype=None, device=None):
    m = n_rows if n_cols is None else n_cols
    full_ = _ds.ones(n_rows, m, dtype=dtype, device=device)
    return _ds.triu(_ds.tril(full_, k), k)


def linspace(start, stop, /, num, *, dtype=None, device=None, endpoint=True):
    if endpoint:
        return _ds.linspace(start, stop, num, dtype=dtype, device=device)
    return _ds.linspace(start, stop, num + 1, dtype=dtype, device=device)[:num]


def meshgrid(*arrays, indexing="xy"):
    return list(_ds.meshgrid(*arrays, indexing=indexing))


def tril(x, /, *, k=0):
    return _ds.tril(x, k)


def triu(x, /, *, k=0):
    return _ds.triu(x, k)


def from_dlpack(x, /, *, device=None, copy=None):
    return _ds.from_dlpack(x)


def _shape(shape):
    return tuple(shape) if isinstance(shape, (tuple, list)) else (shape,)


# ---------------- element-wise ----------------

_SAME = """abs acos acosh asin asinh atan atan2 atanh bitwise_and bitwise_left_shift bitwise_or bitwise_right_shift
bitwise_xor ceil conj copysign cos cosh exp expm1 floor floor_divide hypot isfinite isinf isnan log log1p log2 log10
logaddexp logical_and logical_not logical_or logical_xor maximum minimum negative positive real remainder sign signbit
sin sinh sqrt square tan tanh trunc where nonzero matmul""".split()
for _n in _SAME:
    globals()[_n] = getattr(_ds, _n)
add, subtract, multiply, divide, pow = _ds.add, _ds.sub, _ds.mul, _ds.div, _ds.pow
equal, not_equal, less, less_equal, greater, greater_equal = _ds.eq, _ds.ne, _ds.lt, _ds.le, _ds.gt, _ds.ge
bitwise_invert = _ds.bitwise_not


def round(x, /):
    return _ds.round(x)


def clip(x, /, min=None, max=None):
    if min is None and max is None:
        return x.clone()
    return _ds.clamp(x, min, max)


# ---------------- manipulation, indexing, linear algebra ----------------

def broadcast_arrays(*arrays):
    return list(_ds.broadcast_tensors(*arrays))


def broadcast_to(x, /, shape):
    return _ds.broadcast_to(x, shape)


def concat(arrays, /, *, axis=0):
    if axis is None:
        return _ds.cat([a.reshape(-1) for a in arrays], 0)
    return _ds.cat(list(arrays), axis)


def expand_dims(x, /, *, axis=0):
    return _ds.unsqueeze(x, axis)


def flip(x, /, *, axis=None):
    dims = list(range(x.ndim)) if axis is None else ([axis] if isinstance(axis, int) else list(axis))
    return _ds.flip(x, dims)


def moveaxis(x, source, destination, /):
    return _ds.movedim(x, source, destination)


def permute_dims(x, /, axes):
    return _ds.permute(x, *axes)


def repeat(x, repeats, /, *, axis=None):
    return _ds.repeat_interleave(x, repeats, axis)


def reshape(x, /, shape, *, copy=None):
    r = _ds.reshape(x, *shape)
    return r.clone() if copy else r


def roll(x, /, shift, *, axis=None):
    return _ds.roll(x, shift, axis)


def squeeze(x, /, axis):
    axes = [axis] if isinstance(axis, int) else list(axis)
    for a in axes:
        if x.shape[a] != 1:
            raise ValueError(f"squeeze: axis {a} of shape {tuple(x.shape)} is not of size 1")
    out = x
    for a in sorted((a % x.ndim for a in axes), reverse=True):
        out = _ds.squeeze(out, a)
    return out


def stack(arrays, /, *, axis=0):
    return _ds.stack(list(arrays), axis)


def tile(x, repetitions, /):
    return _ds.tile(x, tuple(repetitions))


def unstack(x, /, *, axis=0):
    return tuple(_ds.unbind(x, axis))


def take(x, indices, /, *, axis=None):
    if axis is None:
        if x.ndim != 1:
            raise ValueError("take: axis is required for arrays of more than one dimension")
        axis = 0
    return _ds.index_select(x, axis, indices)


def take_along_axis(x, indices, /, *, axis=-1):
    return _ds.take_along_dim(x, indices, axis)


def matrix_transpose(x, /):
    return x.mT


def tensordot(x1, x2, /, *, axes=2):
    return _ds.tensordot(x1, x2, axes)


def vecdot(x1, x2, /, *, axis=-1):
    return (x1 * x2).sum(axis)


# ---------------- searching, sets, sorting ----------------

def argmax(x, /, *, axis=None, keepdims=False):
    return _ds.argmax(x, axis, keepdims)


def argmin(x, /, *, axis=None, keepdims=False):
    return _ds.argmin(x, axis, keepdims)


def searchsorted(x1, x2, /, *, side="left", sorter=None):
    return _ds.searchsorted(x1, x2, side=side, sorter=sorter)


def count_nonzero(x, /, *, axis=None, keepdims=False):
    r = _ds.count_nonzero(x, axis)
    return _keep(r, x, axis) if keepdims else r


_UniqueAll = __import__("collections").namedtuple("UniqueAllResult", ["values", "indices", "inverse_indices", "counts"])
_UniqueCounts = __import__("collections").namedtuple("UniqueCountsResult", ["values", "counts"])
_UniqueInverse = __import__("collections").namedtuple("UniqueInverseResult", ["values", "inverse_indices"])


def unique_values(x, /):
    return _ds.unique(x)


def unique_counts(x, /):
    return _UniqueCounts(*_ds.unique(x, return_counts=True))


def unique_inverse(x, /):
    return _UniqueInverse(*_ds.unique(x, return_inverse=True))


def unique_all(x, /):
    v, inv, c = _ds.unique(x, return_inverse=True, return_counts=True)
    first = _ds.full((v.shape[0],), x.numel(), dtype=int64, device=x.device)
    pos = _ds.arange(x.numel(), device=x.device)
    first = first.scatter_reduce(0, inv.reshape(-1), pos, "amin")
    return _UniqueAll(v, first, inv, c)


def sort(x, /, *, axis=-1, descending=False, stable=True):
    return _ds.sort(x, axis, descending, stable)[0]


def argsort(x, /, *, axis=-1, descending=False, stable=True):
    return _ds.argsort(x, axis, descending, stable)


# ---------------- statistics and utilities ----------------

def _keep(r, x, axis):
    axes = range(x.ndim) if axis is None else ([axis] if isinstance(axis, int) else axis)
    for a in sorted(a % x.ndim for a in axes):
        r = _ds.unsqueeze(r, a)
    return r


def _axis(axis):
    return () if axis is None else axis


def max(x, /, *, axis=None, keepdims=False):
    return _ds.amax(x, _axis(axis), keepdims)


def min(x, /, *, axis=None, keepdims=False):
    return _ds.amin(x, _axis(axis), keepdims)


def sum(x, /, *, axis=None, dtype=None, keepdims=False):
    return _ds.sum(x, axis, keepdims, dtype=dtype)


def prod(x, /, *, axis=None, dtype=None, keepdims=False):
    if isinstance(axis, tuple):
        r = x
        for a in sorted((a % x.ndim for a in axis), reverse=True):
            r = _ds.prod(r, a, keepdims, dtype=dtype)
        return r
    return _ds.prod(x, axis, keepdims, dtype=dtype)


def mean(x, /, *, axis=None, keepdims=False):
    return _ds.mean(x, axis, keepdims)


def var(x, /, *, axis=None, correction=0.0, keepdims=False):
    return _ds.var(x, axis, correction=correction, keepdim=keepdims)


def std(x, /, *, axis=None, correction=0.0, keepdims=False):
    return _ds.std(x, axis, correction=correction, keepdim=keepdims)


def cumulative_sum(x, /, *, axis=None, dtype=None, include_initial=False):
    if axis is None:
        if x.ndim > 1:
            raise ValueError("cumulative_sum: axis is required for arrays of more than one dimension")
        axis = 0
    r = _ds.cumsum(x, axis, dtype=dtype)
    if include_initial:
        shape = list(r.shape)
        shape[axis] = 1
        r = _ds.cat([_ds.zeros(*shape, dtype=r.dtype, device=r.device), r], axis)
    return r


def all(x, /, *, axis=None, keepdims=False):
    return _ds.all(x, axis, keepdims)


def any(x, /, *, axis=None, keepdims=False):
    return _ds.any(x, axis, keepdims)


def diff(x, /, *, axis=-1, n=1, prepend=None, append=None):
    return _ds.diff(x, n, axis, prepend, append)


del _n

# the wrappers above take the standard's signatures; their documentation is the standard's
for _name, _fn in list(globals().items()):
    if not _name.startswith("_") and callable(_fn) and getattr(_fn, "__module__", None) == __name__ and not _fn.__doc__:
        _fn.__doc__ = f"``{_name}`` of the Array API standard (2023.12), on deepseek tensors."
del _name, _fn
