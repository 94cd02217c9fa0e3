"""Sparse tensors: COO and CSR layouts, sparse × dense products, sparse reductions.

``deepseek.sparse`` mirrors ``torch.sparse``: build tensors with ``deepseek.sparse_coo_tensor``,
``deepseek.sparse_csr_tensor`` or ``Tensor.to_sparse()`` / ``to_sparse_csr()``, multiply them
with ``deepseek.sparse.mm`` or ``@``, reduce them with ``sparse.sum`` and ``sparse.softmax``.
Products run in the core's multithreaded CSR kernels; gradients reach the dense operand and the
sparse operand's values (with the sparse operand's pattern).

Example::

    >>> w = deepseek.randn(64, 32)
    >>> w = w * (w.abs() > 1.5)            # about 87% zeros
    >>> s = w.to_sparse_csr()
    >>> x = deepseek.randn(32, 8)
    >>> deepseek.allclose(s @ x, w @ x, atol=1e-5)
    True
"""
from __future__ import annotations

from .._layout import layout, sparse_coo, sparse_csr, strided  # noqa: F401
from . import _creation, _ops
from ._creation import sparse_coo_tensor, sparse_csr_tensor
from ._mm import addmm, mm
from ._ops import log_softmax, softmax, sum
from ._tensor import SparseTensor

_creation.install()
_ops.install()


def __getattr__(name):
    # SparseLinear stands on nn, which is imported after this package
    if name == "SparseLinear":
        from ._nn import SparseLinear

        return SparseLinear
    raise AttributeError(f"module 'deepseek.sparse' has no attribute '{name}'")

__all__ = ["SparseLinear", "SparseTensor", "addmm", "log_softmax", "mm", "softmax", "sparse_coo_tensor", "sparse_csr_tensor", "sum"]
