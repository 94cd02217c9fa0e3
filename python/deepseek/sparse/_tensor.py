"""``SparseTensor``: COO and CSR tensors built on dense index and value tensors.

A sparse tensor is a small Python object holding dense deepseek tensors: for COO the
``indices`` (int64, ``[sparse_dim, nnz]``) and ``values`` (``[nnz, *dense_shape]``); for CSR the
``crow_indices`` (``[nrows + 1]``), ``col_indices`` (``[nnz]``) and ``values`` (``[nnz]``).
Autograd flows through the values tensor: a sparse tensor requires grad when its values do,
and the gradient of a leaf sparse tensor is a sparse tensor of the same pattern.

The class is deliberately not a subclass of ``deepseek.Tensor``: the dense tensor's methods run
in the Rust core on a strided buffer, and a subclass would let any method not overridden here
compute silently on the wrong data. Dense functions given a sparse tensor raise a TypeError
instead, and dense tensors pay nothing for sparse support.
"""
from __future__ import annotations

from .. import _core, _creation, _ops
from .._core import Tensor
from .._dtype import DTYPES, Size, to_dtype
from .._layout import sparse_coo, sparse_csr, strided

_I64_MAX = (1 << 63) - 1


def _index_tensor(op, x, name):
    """``x`` as an int64 tensor (lists and other integer tensors are converted)."""
    if not isinstance(x, Tensor):
        x = _creation.tensor(x, dtype="int64")
    if x.dtype.is_floating_point or x._dtype == "bool":
        raise RuntimeError(f"{op}: {name} must be an integer tensor, got {x.dtype}")
    return x if x._dtype == "int64" else _core.cast(x, "int64")


def _linear_keys(indices, sizes):
    """Row-major linear position of each column of ``indices`` within ``sizes``."""
    n = 1
    for s in sizes:
        n *= max(int(s), 1)
    if n > _I64_MAX:
        raise RuntimeError(f"sparse: the sparse dims {tuple(sizes)} hold more than 2**63 positions")
    strides, acc = [], 1
    for s in reversed(sizes):
        strides.append(acc)
        acc *= int(s)
    strides = _creation.tensor(strides[::-1], dtype="int64").unsqueeze(1)
    if indices.shape[0] == 0:
        return _core.zeros([indices.shape[1]], "int64", None)
    return (indices * strides).sum(0)


def _unravel(keys, sizes):
    """The inverse of ``_linear_keys``: a ``[len(sizes), n]`` index tensor."""
    rows, acc = [], 1
    for s in reversed(sizes):
        rows.append((keys // acc) % int(s) if int(s) else keys * 0)
        acc *= int(s)
    if not rows:
        return _core.zeros([0, keys.shape[0]], "int64", None)
    return _ops.stack(rows[::-1])


class SparseTensor:
    """A sparse tensor in COO or CSR layout; build one with ``deepseek.sparse_coo_tensor``,
    ``deepseek.sparse_csr_tensor`` or ``Tensor.to_sparse()`` / ``to_sparse_csr()``.

    Example::

        >>> i = deepseek.tensor([[0, 1, 1], [2, 0, 2]])
        >>> s = deepseek.sparse_coo_tensor(i, deepseek.tensor([3.0, 4.0, 5.0]), (2, 3))
        >>> s.to_dense()
        tensor([[0., 0., 3.],
                [4., 0., 5.]])
    """

    __slots__ = ("_layout", "_size", "_ind", "_crow", "_col", "_vals", "_coalesced", "__weakref__")
    __array_priority__ = 2000  # NumPy defers ``ndarray @ sparse`` to this class

    def __init__(self, layout, size, values, indices=None, crow=None, col=None, coalesced=False):
        self._layout = layout
        self._size = Size(tuple(int(s) for s in size))
        self._vals = values
        self._ind = indices
        self._crow = crow
        self._col = col
        self._coalesced = coalesced

    # ------------------------------------------------------------- properties
    @property
    def layout(self):
        """``deepseek.sparse_coo`` or ``deepseek.sparse_csr``."""
        return self._layout

    @property
    def is_sparse(self) -> bool:
        """True for COO tensors (as PyTorch; CSR tensors answer ``is_sparse_csr``)."""
        return self._layout is sparse_coo

    @property
    def is_sparse_csr(self) -> bool:
        return self._layout is sparse_csr

    @property
    def shape(self) -> Size:
        return self._size

    def size(self, dim=None):
        """size(dim=None): the (dense) shape, or the size of one dim."""
        if dim is None:
            return self._size
        return self._size[_dim(dim, len(self._size), "size")]

    @property
    def dtype(self):
        return self._vals.dtype

    @property
    def device(self):
        return self._vals.device

    @property
    def ndim(self) -> int:
        return len(self._size)

    def dim(self) -> int:
        return len(self._size)

    def numel(self) -> int:
        n = 1
        for s in self._size:
            n *= s
        return n

    def sparse_dim(self) -> int:
        """The number of leading dims that are indexed (2 for CSR)."""
        return 2 if self._layout is sparse_csr else self._ind.shape[0]

    def dense_dim(self) -> int:
        """The number of trailing dims stored densely in each value."""
        return self.ndim - self.sparse_dim()

    def _nnz(self) -> int:
        """The number of stored elements (duplicates of an uncoalesced COO tensor included)."""
        return self._vals.shape[0]

    @property
    def nnz(self) -> int:
        """``_nnz()`` as a property (deepseek's shorthand)."""
        return self._nnz()

    def is_coalesced(self) -> bool:
        """Whether the COO indices are sorted and distinct (CSR tensors always are)."""
        if self._layout is not sparse_coo:
            raise RuntimeError("is_coalesced expected sparse coordinate tensor layout but got SparseCsr")
        return self._coalesced

    # --------------------------------------------------------------- autograd
    @property
    def requires_grad(self) -> bool:
        return self._vals.requires_grad

    def requires_grad_(self, requires_grad=True):
        """Makes this (leaf) sparse tensor's values record operations for autograd."""
        self._vals.requires_grad_(requires_grad)
        return self

    @property
    def is_leaf(self) -> bool:
        return self._vals.is_leaf

    @property
    def grad_fn(self):
        return self._vals.grad_fn

    @property
    def grad(self):
        """The gradient of a leaf: a sparse tensor with this tensor's pattern, or None."""
        g = self._vals.grad
        return None if g is None else self._with_values(g)

    @grad.setter
    def grad(self, value):
        if value is None:
            self._vals.grad = None
        else:
            self._vals.grad = value._vals if isinstance(value, SparseTensor) else value

    def detach(self):
        """The same sparse tensor without autograd history (shares memory)."""
        return self._with_values(self._vals.detach())

    def _with_values(self, values):
        return SparseTensor(self._layout, self._size, values, self._ind, self._crow, self._col, self._coalesced)

    # ------------------------------------------------------------- accessors
    def _check_layout(self, want, what):
        if self._layout is not want:
            raise RuntimeError(f"{what} expected sparse {'coordinate' if want is sparse_coo else 'row compressed'} "
                               f"tensor layout but got {'Sparse' if self._layout is sparse_coo else 'SparseCsr'}")

    def indices(self) -> Tensor:
        """The ``[sparse_dim, nnz]`` index of a coalesced COO tensor."""
        self._check_layout(sparse_coo, "indices")
        if not self._coalesced:
            raise RuntimeError("Cannot get indices on an uncoalesced tensor, please call .coalesce() first")
        return self._ind

    def _indices(self) -> Tensor:
        self._check_layout(sparse_coo, "_indices")
        return self._ind

    def values(self) -> Tensor:
        """The stored values (``[nnz, *dense_shape]``); COO tensors must be coalesced."""
        if self._layout is sparse_coo and not self._coalesced:
            raise RuntimeError("Cannot get values on an uncoalesced tensor, please call .coalesce() first")
        return self._vals

    def _values(self) -> Tensor:
        """The stored values, coalesced or not."""
        return self._vals

    def crow_indices(self) -> Tensor:
        """The ``[nrows + 1]`` row pointers of a CSR tensor."""
        self._check_layout(sparse_csr, "crow_indices")
        return self._crow

    def col_indices(self) -> Tensor:
        """The ``[nnz]`` column of each stored element of a CSR tensor."""
        self._check_layout(sparse_csr, "col_indices")
        return self._col

    # ------------------------------------------------------------ conversions
    def coalesce(self):
        """The COO tensor with sorted, distinct indices, duplicates summed (differentiable)."""
        self._check_layout(sparse_coo, "coalesce")
        if self._coalesced:
            return self
        sizes = list(self._size[: self.sparse_dim()])
        keys = _linear_keys(self._ind, sizes)
        seg, uniq = _core.sparse_coalesce_keys(keys)
        v = self._vals
        if uniq.shape[0] == v.shape[0] and uniq._same(keys):
            vals = v  # already sorted and distinct: nothing moves
        else:
            vals = _core.index_add(_core.zeros([uniq.shape[0]] + list(v.shape[1:]), v._dtype, v._device), 0, seg, v)
        return SparseTensor(sparse_coo, self._size, vals, _unravel(uniq, sizes), coalesced=True)

    def to_dense(self, dtype=None, *, masked_grad=True) -> Tensor:
        """A strided tensor with the stored values (duplicates summed) and zeros elsewhere."""
        v = self._vals if dtype is None else self._vals.to(to_dtype(dtype))
        idx = self._coo_index()
        out = _core.zeros(list(self._size), v._dtype, v._device)
        if idx.shape[1] == 0:
            return out + v.sum() * 0 if v.requires_grad else out
        return out.index_put(tuple(idx.unbind(0)), v, accumulate=True)

    def _coo_index(self):
        if self._layout is sparse_coo:
            return self._ind
        rows = _core.sparse_csr_rows(self._crow, self._col, self._size[0], self._size[1])
        return _ops.stack([rows, self._col])

    def to_sparse(self, sparse_dim=None, *, layout=None):
        """to_sparse(layout=None): COO (or the given layout) from this sparse tensor."""
        if layout is sparse_csr:
            return self.to_sparse_csr()
        if self._layout is sparse_coo:
            return self
        return SparseTensor(sparse_coo, self._size, self._vals, self._coo_index(), coalesced=True)

    def to_sparse_coo(self):
        return self.to_sparse()

    def to_sparse_csr(self, dense_dim=None):
        """The CSR form of a 2-D sparse tensor without dense dims."""
        if self._layout is sparse_csr:
            return self
        if self.ndim != 2 or self.dense_dim() != 0:
            raise RuntimeError(f"to_sparse_csr: only 2-D sparse tensors without dense dims can be converted, got shape "
                               f"{tuple(self._size)} with {self.sparse_dim()} sparse dims")
        c = self.coalesce()
        crow = _core.sparse_rows_to_crow(_core.select(c._ind, 0, 0), self._size[0])
        return SparseTensor(sparse_csr, self._size, c._vals, crow=crow, col=_core.contiguous(_core.select(c._ind, 0, 1)))

    def to(self, *args, **kwargs):
        """to(dtype): the values cast (the pattern is shared). Sparse tensors live on the CPU."""
        from .._tensor import _parse_to

        dt, dev = _parse_to(args, kwargs)
        if dev is not None and str(dev) not in ("cpu", str(self.device)):
            raise RuntimeError(f"sparse tensors are CPU-only in deepseek; cannot move one to {dev}")
        return self if dt is None else self._with_values(self._vals.to(dt))

    def double(self):
        return self.to(DTYPES["float64"])

    def float(self):
        return self.to(DTYPES["float32"])

    def clone(self):
        """A copy of the indices and values (stays in the autograd graph)."""
        cl = lambda t: None if t is None else _core.clone(t)  # noqa: E731
        return SparseTensor(self._layout, self._size, _core.clone(self._vals), cl(self._ind), cl(self._crow),
                            cl(self._col), self._coalesced)

    def zero_(self):
        """Removes every stored element, in place (``nnz`` becomes 0)."""
        v = self._vals
        self._vals = _core.zeros([0] + list(v.shape[1:]), v._dtype, v._device)
        if self._layout is sparse_coo:
            self._ind = _core.zeros([self._ind.shape[0], 0], "int64", None)
            self._coalesced = True
        else:
            self._crow = _core.zeros([self._size[0] + 1], "int64", None)
            self._col = _core.zeros([0], "int64", None)
        return self

    def __repr__(self):
        if self._layout is sparse_coo:
            body = f"indices={self._ind!r},\n       values={self._vals!r}"
        else:
            body = f"crow_indices={self._crow!r},\n       col_indices={self._col!r},\n       values={self._vals!r}"
        return (f"tensor({body},\n       size={tuple(self._size)}, nnz={self._nnz()}, layout={self._layout!r}"
                f"{'' if self._vals._dtype == 'float32' else ', dtype=' + repr(self.dtype)})")

    def __len__(self):
        if not self._size:
            raise TypeError("len() of a 0-d tensor")
        return self._size[0]

    def __reduce_ex__(self, proto):
        raise TypeError("deepseek tensors are not pickled; save them with deepseek.save (safetensors)")

    def __array__(self, *a, **k):
        raise TypeError("can't convert a sparse tensor to NumPy implicitly; call .to_dense() first")

    def __bool__(self):
        raise RuntimeError("Boolean value of a sparse tensor is ambiguous; call .to_dense() first")


def _dim(d, n, op):
    if not -max(n, 1) <= d < max(n, 1):
        raise IndexError(f"{op}: Dimension out of range (expected to be in range of [{-max(n, 1)}, {max(n, 1) - 1}], but got {d})")
    return d % max(n, 1)


SparseTensor.__module__ = "deepseek"
SparseTensor.layout.__doc__ = "``deepseek.sparse_coo`` or ``deepseek.sparse_csr``."
_ = strided  # re-exported through deepseek
