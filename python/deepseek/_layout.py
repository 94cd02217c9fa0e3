"""Memory layouts: ``deepseek.strided`` (dense tensors), ``deepseek.sparse_coo`` and
``deepseek.sparse_csr`` (see ``deepseek.sparse``)."""
from __future__ import annotations


class layout:
    """How a tensor's elements are stored; compare with ``deepseek.strided``,
    ``deepseek.sparse_coo`` or ``deepseek.sparse_csr`` (as ``torch.layout``)."""

    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name

    def __repr__(self):
        return f"deepseek.{self.name}"

    def __reduce__(self):
        return (_by_name, (self.name,))


strided = layout("strided")
sparse_coo = layout("sparse_coo")
sparse_csr = layout("sparse_csr")
_LAYOUTS = {l.name: l for l in (strided, sparse_coo, sparse_csr)}


def _by_name(name: str) -> layout:
    return _LAYOUTS[name]
