"""``deepseek.distributed``: processes that train together, as ``torch.distributed``.

Built on MPI through mpi4py: launch with ``mpirun -np N python script.py`` or
``python -m deepseek.distributed.run --nproc N script.py``, call
``init_process_group("mpi")``, then use the collectives (``all_reduce``, ``broadcast``,
``all_gather``, ...) or wrap a model in :class:`deepseek.nn.parallel.DistributedDataParallel`.
Importing this package does not start MPI; ``init_process_group`` does.

Example::

    >>> import deepseek
    >>> import deepseek.distributed as dist
    >>> dist.init_process_group("mpi")
    >>> t = deepseek.ones(2) * dist.get_rank()
    >>> dist.all_reduce(t, op=dist.ReduceOp.SUM)
"""
from ._collectives import (  # noqa: F401
    all_gather, all_gather_into_tensor, all_reduce, barrier, broadcast, gather, reduce, reduce_scatter,
    reduce_scatter_tensor, scatter,
)
from ._group import (  # noqa: F401
    GroupMember, ProcessGroup, default_pg_timeout, destroy_process_group, get_backend, get_global_rank,
    get_group_rank, get_process_group_ranks, get_rank, get_world_size, group, init_process_group, is_available,
    is_gloo_available, is_initialized, is_mpi_available, is_nccl_available, new_group, register_communicator,
)
from ._p2p import irecv, isend, recv, send  # noqa: F401
from ._types import Backend, ReduceOp  # noqa: F401
from ._work import Work  # noqa: F401

__all__ = [
    "Backend", "GroupMember", "ProcessGroup", "ReduceOp", "Work", "all_gather", "all_gather_into_tensor", "all_reduce",
    "barrier", "broadcast", "default_pg_timeout", "destroy_process_group", "gather", "get_backend", "get_global_rank",
    "get_group_rank", "get_process_group_ranks", "get_rank", "get_world_size", "group", "init_process_group", "irecv",
    "is_available", "is_gloo_available", "is_initialized", "is_mpi_available", "is_nccl_available", "isend",
    "new_group", "recv", "reduce", "reduce_scatter", "reduce_scatter_tensor", "register_communicator", "scatter", "send",
]
