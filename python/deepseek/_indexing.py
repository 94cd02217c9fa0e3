"""``Tensor.__getitem__`` / ``__setitem__``: basic indexing becomes views, advanced
indexing (integer and boolean tensors) becomes one gather-like core op."""
from __future__ import annotations

import warnings

import numpy as np

from . import _core
from ._core import Tensor


def _to_index_tensor(k):
    from ._creation import tensor

    if isinstance(k, Tensor):
        return k
    if isinstance(k, np.ndarray):
        return tensor(k)
    if len(k) == 0:  # an empty list selects nothing (not an empty boolean mask)
        return tensor(k, dtype="int64")
    return tensor(k)  # list / tuple of ints or bools


_MASK_DTYPES = ("bool", "uint8")  # PyTorch reads a uint8 index tensor as a (deprecated) mask


def _normalise(k):
    """One entry of a key in the form ``_apply_basic`` reads: sequences and arrays become
    tensors, NumPy bools Python bools, NumPy integers ints."""
    if isinstance(k, np.bool_):
        return bool(k)
    if isinstance(k, np.integer):
        return int(k)
    if isinstance(k, (list, tuple, np.ndarray)):
        return _to_index_tensor(k)
    return k


def _consumed(k):
    """How many dims of the indexed tensor a (normalised) key entry uses up."""
    if k is None or k is Ellipsis or isinstance(k, bool):
        return 0
    if isinstance(k, Tensor) and k._dtype in _MASK_DTYPES:
        return k.ndim  # a mask covers its dims; a 0-d one adds a dim instead
    return 1


def _expand_key(x, key):
    if not isinstance(key, tuple):
        key = (key,)
    key = [_normalise(k) for k in key]
    consumed = sum(_consumed(k) for k in key)
    n_ell = sum(1 for k in key if k is Ellipsis)
    if n_ell > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    if consumed > x.ndim:
        raise IndexError(f"too many indices for tensor of dimension {x.ndim} (got {consumed})")
    out = []
    for k in key:
        if k is Ellipsis:
            out.extend([slice(None)] * (x.ndim - consumed))
        else:
            out.append(k)
    return out


def _bool_index(x, dim, value):
    """A 0-d boolean index at ``dim``, as PyTorch applies it: a new dim of size 1 there,
    indexed by [0] (True) or by nothing (False). It is an advanced index like any other, so it
    broadcasts with the others and the result is a copy."""
    x = _core.unsqueeze(x, dim)
    return x, _core.zeros([1 if value else 0], "int64", x._device)


def _apply_basic(x, key):
    """Applies ints, slices and None; returns the view and the advanced indices with the
    result dim each applies to."""
    dim = 0
    adv = []  # (dim in the view, index tensor)
    for k in _expand_key(x, key):
        if k is None:
            x = _core.unsqueeze(x, dim)
            dim += 1
        elif isinstance(k, bool):
            x, t = _bool_index(x, dim, k)
            adv.append((dim, t))
            dim += 1
        elif isinstance(k, int):
            x = _core.select(x, dim, k)
        elif isinstance(k, slice):
            if k.step is not None and int(k.step) <= 0:
                raise ValueError("step must be greater than zero")
            x = _core.slice(x, dim, _int_or_none(k.start), _int_or_none(k.stop), _int_or_none(k.step))
            dim += 1
        elif isinstance(k, Tensor):
            if k.dtype.is_floating_point:
                raise IndexError(f"tensors used as indices must be long, int, byte or bool tensors, but got {k.dtype}")
            if k.ndim == 0 and k._dtype in _MASK_DTYPES:
                x, t = _bool_index(x, dim, bool(k.item()))
                adv.append((dim, t))
                dim += 1
            elif k.ndim == 0:
                # PyTorch selects with a 0-d integer tensor, as with an int: the dim goes away
                # and does not take part in the advanced indices' broadcasting and placement
                x = _core.select(x, dim, int(k.item()))
            elif k._dtype in _MASK_DTYPES:
                if k._dtype == "uint8":
                    warnings.warn("indexing with dtype deepseek.uint8 is now deprecated, please use a dtype "
                                  "deepseek.bool instead.", UserWarning, stacklevel=4)
                    k = _core.cast(k, "bool")
                for d in range(k.ndim):
                    if k.shape[d] != x.shape[dim + d]:
                        raise IndexError(
                            f"The shape of the mask {list(k.shape)} at index {d} does not match the shape of the indexed tensor {list(x.shape)} at index {dim + d}"
                        )
                nz = _core.nonzero(k)
                for d in range(k.ndim):
                    adv.append((dim + d, _core.select(nz, 1, d)))
                dim += k.ndim
            else:
                adv.append((dim, k))
                dim += 1
        else:
            raise TypeError(
                f"only integers, slices (`:`), ellipsis (`...`), None and long or byte Variables are valid indices (got {type(k).__name__})"
            )
    return x, adv


def _int_or_none(v):
    if v is None:
        return None
    if isinstance(v, Tensor):
        return int(v)
    return int(v)


def _advanced_perm(x, adv):
    dims = [d for d, _ in adv]
    rest = [d for d in range(x.ndim) if d not in dims]
    adjacent = dims == list(range(dims[0], dims[0] + len(dims)))
    return dims + rest, adjacent, dims[0]


def getitem(x, key):
    v, adv = _apply_basic(x, key)
    if not adv:
        return v
    perm, adjacent, first = _advanced_perm(v, adv)
    vp = _core.permute(v, perm)
    r = _core.index(vp, [t for _, t in adv])
    if adjacent and first > 0:
        nb = r.ndim - (v.ndim - len(adv))
        order = list(range(nb, nb + first)) + list(range(nb)) + list(range(nb + first, r.ndim))
        r = _core.permute(r, order)
    return r


def setitem(x, key, value):
    from ._creation import tensor

    if key is False:  # PyTorch: x[False] = v writes nothing, whatever v's shape
        return
    v, adv = _apply_basic(x, key)
    if not isinstance(value, Tensor):
        if isinstance(value, (list, tuple, np.ndarray)):
            value = tensor(value, dtype=x.dtype)
        else:
            if not adv:
                _core.fill_(v, value)
                return
            value = _core.full([], value, x._dtype)
    if not adv:
        _core.copy_(v, value)
        return
    perm, adjacent, first = _advanced_perm(v, adv)
    vp = _core.permute(v, perm)
    idx = [t for _, t in adv]
    if adjacent and first > 0 and value.ndim > 0:
        # value is laid out like x[key]: move the broadcast index dims to the front
        from ._ops import broadcast_shapes

        bshape = broadcast_shapes(*[t.shape for t in idx])
        nb = len(bshape)
        rest_shape = [vp.shape[d] for d in range(len(idx), vp.ndim)]
        target = rest_shape[:first] + list(bshape) + rest_shape[first:]
        value = value.expand(target) if list(value.shape) != target else value
        order = list(range(first, first + nb)) + list(range(first)) + list(range(first + nb, len(target)))
        value = _core.permute(value, order)
    _core.inplace_("index_put_", vp, lambda old: _core.index_put(old, idx, value, False))
