"""``SparseLinear``: a linear layer whose weight is stored sparse, for pruned models."""
from __future__ import annotations

from .._layout import sparse_coo, sparse_csr
from ..nn.modules.module import Module
from ..nn.parameter import Parameter
from ._mm import mm
from ._tensor import SparseTensor


class SparseLinear(Module):
    """SparseLinear(weight, bias=None): ``y = x @ weight.T + bias`` with ``weight`` a sparse
    ``[out_features, in_features]`` tensor (deepseek's own; build one from a pruned
    ``nn.Linear`` with ``SparseLinear.from_linear`` or ``nn.utils.prune.to_sparse_linear``).

    The product runs as ``weight @ x.T`` in the CSR kernel, whose rows (output features) are
    split across threads whatever the batch size. Gradients reach the input, the bias and the
    weight's stored values.

    Example::

        >>> lin = nn.Linear(256, 128)
        >>> nn.utils.prune.l1_unstructured(lin, "weight", amount=0.9)
        >>> sparse = nn.utils.prune.to_sparse_linear(lin)
        >>> x = deepseek.randn(4, 256)
        >>> deepseek.allclose(sparse(x), lin(x), atol=1e-5)
        True
    """

    def __init__(self, weight, bias=None):
        super().__init__()
        if not isinstance(weight, SparseTensor) or weight.ndim != 2:
            raise TypeError(f"SparseLinear: weight must be a 2-D sparse tensor, got {type(weight).__name__}")
        self.weight = weight if weight.layout is sparse_csr else weight.to_sparse_csr()
        self.in_features, self.out_features = self.weight.shape[1], self.weight.shape[0]
        if bias is not None and not isinstance(bias, Parameter):
            bias = Parameter(bias.detach(), requires_grad=bias.requires_grad)
        self.bias = bias

    @classmethod
    def from_linear(cls, linear, layout=None):
        """The sparse equivalent of ``linear`` (its current, possibly pruned, weight)."""
        if layout not in (None, sparse_csr, sparse_coo):
            raise ValueError(f"SparseLinear.from_linear: layout must be deepseek.sparse_csr or sparse_coo, got {layout}")
        w = linear.weight.detach()
        b = linear.bias
        return cls(w.to_sparse_csr(), None if b is None else Parameter(b.detach().clone()))

    def _apply(self, fn):
        # the sparse weight is no parameter or buffer: convert its values (dtype, device) here
        super()._apply(fn)
        v = self.weight._values()
        new = fn(v)
        if new is not v:
            self.weight = self.weight._with_values(new.detach().requires_grad_(v.requires_grad))
        return self

    def forward(self, x):
        lead = list(x.shape[:-1])
        if x.shape[-1] != self.in_features:
            raise RuntimeError(f"SparseLinear: input of shape {tuple(x.shape)} does not end in in_features={self.in_features}")
        flat = x.reshape(-1, self.in_features)
        y = mm(self.weight, flat.t()).t()
        if self.bias is not None:
            y = y + self.bias
        return y.reshape(lead + [self.out_features])

    def extra_repr(self):
        density = self.weight._nnz() / max(self.weight.numel(), 1)
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}, density={density:.3f}"
