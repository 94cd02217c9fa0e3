"""Building sparse tensors: ``sparse_coo_tensor``, ``sparse_csr_tensor`` and the dense
tensor's ``to_sparse`` / ``to_sparse_csr`` / ``sparse_mask``."""
from __future__ import annotations

from .. import _core, _creation, _ops
from .._core import Tensor
from .._dtype import to_dtype
from .._layout import sparse_coo, sparse_csr
from ._tensor import SparseTensor, _index_tensor


def _value_tensor(op, values, dtype):
    if not isinstance(values, Tensor):
        values = _creation.tensor(values, dtype=dtype)
    elif dtype is not None:
        values = values.to(to_dtype(dtype))
    return values


def _finish(t, requires_grad):
    if requires_grad:
        t._vals = t._vals.detach().requires_grad_(True)
    return t


def sparse_coo_tensor(indices, values, size=None, *, dtype=None, device=None, requires_grad=False,
                      check_invariants=None, is_coalesced=None) -> SparseTensor:
    """sparse_coo_tensor(indices, values, size=None, *, dtype=None, device=None,
    requires_grad=False, is_coalesced=None) -> SparseTensor

    A COO tensor with ``values[k]`` at ``indices[:, k]``. ``indices`` is ``[sparse_dim, nnz]``;
    ``values`` is ``[nnz, *dense_shape]``. Without ``size`` each sparse dim is the largest index
    plus one. Indices may repeat (the tensor is then uncoalesced; duplicates add up).

    Example::

        >>> s = deepseek.sparse_coo_tensor([[0, 1], [2, 0]], [3.0, 4.0], (2, 3))
        >>> s.to_dense()
        tensor([[0., 0., 3.],
                [4., 0., 0.]])
    """
    op = "sparse_coo_tensor"
    if device is not None and str(device) != "cpu":
        raise RuntimeError(f"{op}: sparse tensors are CPU-only in deepseek, got device={device}")
    indices = _index_tensor(op, indices, "indices")
    values = _value_tensor(op, values, dtype)
    if indices.ndim != 2:
        raise RuntimeError(f"{op}: indices must be sparse_dim x nnz, but got: {tuple(indices.shape)}")
    sd, nnz = indices.shape
    if values.ndim == 0 or values.shape[0] != nnz:
        raise RuntimeError(f"{op}: indices and values must have same nnz, but got nnz from indices: {nnz}, "
                           f"nnz from values: {values.shape[0] if values.ndim else 'a 0-d tensor'} "
                           f"(indices {tuple(indices.shape)}, values {tuple(values.shape)})")
    dense_shape = list(values.shape[1:])
    if nnz:
        lo = [int(x) for x in _ops.amin(indices, 1).tolist()]
        hi = [int(x) for x in _ops.amax(indices, 1).tolist()]
    else:
        lo = hi = [-1] * sd
    if size is None:
        size = [h + 1 for h in hi] + dense_shape
    size = [int(s) for s in size]
    if len(size) != sd + len(dense_shape):
        raise RuntimeError(f"{op}: number of dimensions must be sparse_dim ({sd}) + dense_dim ({len(dense_shape)}), "
                           f"but got {len(size)} (size {tuple(size)})")
    if size[sd:] != dense_shape:
        raise RuntimeError(f"{op}: values has incorrect size, expected {[nnz] + size[sd:]}, got {list(values.shape)}")
    for d in range(sd):
        if lo[d] < 0 and nnz:
            raise RuntimeError(f"{op}: found negative index {lo[d]} for dim {d} (indices {tuple(indices.shape)})")
        if hi[d] >= size[d]:
            raise RuntimeError(f"{op}: size is inconsistent with indices: for dim {d}, size is {size[d]} but found index {hi[d]}")
    t = SparseTensor(sparse_coo, size, values, indices=indices, coalesced=bool(is_coalesced) or nnz <= 1)
    if is_coalesced:
        # trust but verify: a wrong claim would make indices()/values() lie
        c = SparseTensor(sparse_coo, size, values.detach(), indices=indices).coalesce()
        if c._nnz() != nnz or not bool(_ops.equal(c._ind, indices)):
            raise RuntimeError(f"{op}: is_coalesced=True but the indices are not sorted and distinct")
    return _finish(t, requires_grad)


def sparse_csr_tensor(crow_indices, col_indices, values, size=None, *, dtype=None, device=None,
                      requires_grad=False, check_invariants=None) -> SparseTensor:
    """sparse_csr_tensor(crow_indices, col_indices, values, size=None, *, dtype=None,
    device=None, requires_grad=False) -> SparseTensor

    A 2-D CSR tensor: row ``i`` stores ``values[crow[i]:crow[i+1]]`` at the columns
    ``col_indices[crow[i]:crow[i+1]]``, which must rise strictly. The invariants are always
    checked (O(nnz)); a violation raises a RuntimeError saying which.

    Example::

        >>> s = deepseek.sparse_csr_tensor([0, 1, 2], [2, 0], [3.0, 4.0], (2, 3))
        >>> s.to_dense()
        tensor([[0., 0., 3.],
                [4., 0., 0.]])
    """
    op = "sparse_csr_tensor"
    if device is not None and str(device) != "cpu":
        raise RuntimeError(f"{op}: sparse tensors are CPU-only in deepseek, got device={device}")
    crow = _index_tensor(op, crow_indices, "crow_indices")
    col = _index_tensor(op, col_indices, "col_indices")
    values = _value_tensor(op, values, dtype)
    if crow.ndim != 1 or col.ndim != 1 or values.ndim != 1:
        raise RuntimeError(f"{op}: expected 1-D crow_indices, col_indices and values (batched and hybrid CSR are not "
                           f"supported), got {tuple(crow.shape)}, {tuple(col.shape)}, {tuple(values.shape)}")
    if col.shape[0] != values.shape[0]:
        raise RuntimeError(f"{op}: col_indices and values must have the same number of elements, but got "
                           f"{col.shape[0]} and {values.shape[0]}")
    if size is None:
        ncols = int(_ops.amax(col).item()) + 1 if col.shape[0] else 0
        size = (crow.shape[0] - 1, ncols)
    size = tuple(int(s) for s in size)
    if len(size) != 2:
        raise RuntimeError(f"{op}: size must have 2 dims, got {size}")
    if crow.shape[0] != size[0] + 1:
        raise RuntimeError(f"{op}: crow_indices must have nrows + 1 = {size[0] + 1} elements for size {size}, got {crow.shape[0]}")
    _core.sparse_validate_csr(crow, col, size[0], size[1])
    return _finish(SparseTensor(sparse_csr, size, values, crow=crow, col=col), requires_grad)


def _dense_to_sparse(self, sparse_dim=None, *, layout=None, blocksize=None, dense_dim=None):
    """to_sparse(sparse_dim=None, *, layout=None) -> SparseTensor

    The COO form of this tensor (the CSR form with ``layout=deepseek.sparse_csr``): the
    non-zero elements, coalesced. With ``sparse_dim`` only the leading dims are indexed and each
    stored value is the slice over the rest (kept when any element of it is non-zero). The
    values stay in the autograd graph.
    """
    if layout is sparse_csr:
        return _dense_to_sparse_csr(self)
    if layout is not None and layout is not sparse_coo:
        raise RuntimeError(f"to_sparse: unsupported layout {layout}")
    sd = self.ndim if sparse_dim is None else int(sparse_dim)
    if not 0 <= sd <= self.ndim:
        raise RuntimeError(f"to_sparse: sparse_dim {sd} must be in [0, {self.ndim}] for shape {tuple(self.shape)}")
    nz = self != 0
    if sd < self.ndim:
        nz = _ops.any(nz, dim=list(range(sd, self.ndim))) if self.numel() else _core.zeros(list(self.shape[:sd]), "bool", None)
    if sd == 0:
        idx = _core.zeros([0, 1], "int64", None)
        return SparseTensor(sparse_coo, self.shape, self.unsqueeze(0), indices=idx, coalesced=True)
    idx = _core.contiguous(_ops.nonzero(nz).t())
    vals = self[tuple(idx.unbind(0))]
    return SparseTensor(sparse_coo, self.shape, vals, indices=idx, coalesced=True)


def _dense_to_sparse_csr(self, dense_dim=None):
    """to_sparse_csr() -> SparseTensor: the CSR form of this 2-D tensor (values stay in the
    autograd graph)."""
    if self.ndim != 2:
        raise RuntimeError(f"to_sparse_csr: only 2-D tensors can be converted to CSR, got shape {tuple(self.shape)}")
    return _dense_to_sparse(self).to_sparse_csr()


def _sparse_mask(self, mask):
    """sparse_mask(mask) -> SparseTensor: this dense tensor's elements at the positions
    ``mask`` (a sparse tensor of the same shape) stores, in ``mask``'s layout."""
    if not isinstance(mask, SparseTensor):
        raise TypeError(f"sparse_mask: mask must be a sparse tensor, got {type(mask).__name__}")
    if tuple(mask.shape) != tuple(self.shape):
        raise RuntimeError(f"sparse_mask: expected the mask's shape {tuple(mask.shape)} to equal the tensor's {tuple(self.shape)}")
    m = mask if mask.layout is sparse_csr else mask.coalesce()
    idx = m._coo_index()
    return m._with_values(self[tuple(idx.unbind(0))])


def install():
    """Adds the sparse conversions to the dense Tensor (once, at import)."""
    Tensor.to_sparse = _dense_to_sparse
    Tensor.to_sparse_coo = lambda self: _dense_to_sparse(self)
    Tensor.to_sparse_csr = _dense_to_sparse_csr
    Tensor.to_dense = lambda self, dtype=None, *, masked_grad=None: self if dtype is None else self.to(dtype)
    Tensor.sparse_mask = _sparse_mask
    Tensor.is_sparse_csr = property(lambda self: False)
