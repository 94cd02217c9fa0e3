"""``Tensor.__getitem__`` / ``__setitem__``: basic indexing becomes views, advanced
indexing (integer and boolean tensors) becomes one gather-like core op."""
from __future__ import annotations

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


def _expand_key(x, key):
    if not isinstance(key, tuple):
        key = (key,)
    # Count the dims the key consumes to expand the ellipsis.
    consumed = 0
    n_ell = 0
    for k in key:
        if k is Ellipsis:
            n_ell += 1
        elif k is None or isinstance(k, bool):
            pass
        elif isinstance(k, Tensor) and k.dtype.name == "bool":
            consumed += k.ndim
        elif isinstance(k, np.ndarray) and k.dtype == np.bool_:
            consumed += k.ndim
        else:
            consumed += 1
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
            # x[True] adds a dim of size 1; x[False] a dim of size 0
            x = _core.unsqueeze(x, dim)
            if not k:
                x = _core.slice(x, dim, 0, 0, 1)
            dim += 1
        elif isinstance(k, (int, np.integer)):
            x = _core.select(x, dim, int(k))
        elif isinstance(k, slice):
            if k.step is not None and int(k.step) <= 0:
                raise ValueError("step must be greater than zero")
            x = _core.slice(x, dim, _int_or_none(k.start), _int_or_none(k.stop), _int_or_none(k.step))
            dim += 1
        elif isinstance(k, (Tensor, list, tuple, np.ndarray)):
            t = _to_index_tensor(k)
            if t.dtype.name == "bool":
                for d in range(t.ndim):
                    if t.shape[d] != x.shape[dim + d]:
                        raise IndexError(
                            f"The shape of the mask {list(t.shape)} at index {d} does not match the shape of the indexed tensor {list(x.shape)} at index {dim + d}"
                        )
                nz = _core.nonzero(t)
                for d in range(t.ndim):
                    adv.append((dim + d, _core.select(nz, 1, d)))
                dim += t.ndim
            elif t.dtype.is_floating_point:
                raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
            else:
                adv.append((dim, t))
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
    if isinstance(key, Tensor) and key.ndim == 0 and not key.dtype.is_floating_point and key.dtype.name != "bool":
        key = int(key)
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

    if isinstance(key, Tensor) and key.ndim == 0 and not key.dtype.is_floating_point and key.dtype.name != "bool":
        key = int(key)
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
