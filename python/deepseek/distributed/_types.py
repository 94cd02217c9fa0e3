"""Names shared by the process-group layer and the communicators: reduce ops, backends."""
from __future__ import annotations

import enum


class ReduceOp(enum.Enum):
    """How ``all_reduce``, ``reduce`` and ``reduce_scatter`` combine the ranks' tensors.

    ``SUM``, ``AVG`` (floating point only), ``PRODUCT``, ``MIN``, ``MAX`` and, for integer and
    bool tensors, ``BAND``, ``BOR``, ``BXOR``. On bool tensors ``SUM``/``MAX`` is a logical or
    and ``PRODUCT``/``MIN`` a logical and, as in PyTorch.
    """

    SUM = 0
    AVG = 1
    PRODUCT = 2
    MIN = 3
    MAX = 4
    BAND = 5
    BOR = 6
    BXOR = 7

    def __repr__(self):
        return f"<ReduceOp.{self.name}: {self.value}>"


ReduceOp.RedOpType = ReduceOp


class Backend(str):
    """Backend names, as ``torch.distributed.Backend``: ``Backend.MPI == "mpi"``."""

    MPI = "mpi"
    UNDEFINED = "undefined"

    def __new__(cls, name: str):
        if not isinstance(name, str):
            raise ValueError(f"Backend name must be a string, but got: {name!r}")
        value = name.lower()
        if value not in _BACKENDS:
            raise ValueError(f"Invalid backend: '{name}'; the backends available are {sorted(_BACKENDS)} "
                             "(a script written for 'gloo' runs on CPU tensors with 'mpi')")
        return str.__new__(cls, value)


_BACKENDS = {"mpi"}
