"""Process groups: initialisation from MPI, sub-groups, rank queries and each group's
communicators, one per device type (the seam through which accelerator backends supply their
own collectives)."""
from __future__ import annotations

import datetime
import os
import sys

from ._types import Backend
from ._work import seconds

default_pg_timeout = datetime.timedelta(minutes=30)

# device type -> factory(process_group) -> communicator; "cpu" is MPI's and always present
_COMMUNICATORS: dict = {}


def register_communicator(device_type: str, factory) -> None:
    """register_communicator(device_type, factory): collectives on tensors of ``device_type``
    go through ``factory(process_group)``'s communicator instead of being staged through host
    memory.

    deepseek goes further than PyTorch here: this is how an accelerator plugin supplies its
    own collectives (NCCL for CUDA, for example). The communicator has the methods of
    :class:`deepseek.distributed._mpi.MpiCommunicator` (``broadcast``, ``all_reduce``, ...),
    each taking contiguous tensors of its device and returning an object whose ``test()`` says
    whether the operation has completed.
    """
    if not isinstance(device_type, str) or not device_type or device_type == "cpu":
        raise ValueError(f"register_communicator: device_type must name an accelerator (not 'cpu'), got {device_type!r}")
    _COMMUNICATORS[device_type] = factory


class ProcessGroup:
    """A set of ranks that run collectives together (``init_process_group``'s world or a
    :func:`new_group`).

    ``rank()`` and ``size()`` are this process's rank in the group and the group's size.
    """

    def __init__(self, comm, ranks, timeout, backend, name=""):
        self._cpu = comm
        # shape checks and send/recv headers travel on their own communicator, so they can never
        # be matched with a collective or a message of the user's
        self._meta = comm.dup()
        self._ranks = list(ranks)
        self._timeout = seconds(timeout)
        self._backend = backend
        self._communicators = {"cpu": comm}
        self.group_name = name

    def rank(self) -> int:
        return self._cpu.rank

    def size(self) -> int:
        return self._cpu.size

    def name(self) -> str:
        return self._backend

    def communicator(self, device_type: str):
        """The communicator for tensors of ``device_type``, or None (staged through the CPU's)."""
        c = self._communicators.get(device_type)
        if c is None and device_type in _COMMUNICATORS:
            c = self._communicators[device_type] = _COMMUNICATORS[device_type](self)
        return c

    def _where(self) -> str:
        return f"rank {self.rank()} of {self.size()}, group of global ranks {self._ranks}"

    def _free(self):
        for c in self._communicators.values():
            if c is not self._cpu and hasattr(c, "free"):
                c.free()
        self._meta.free()
        self._cpu.free()

    def __repr__(self):
        return f"ProcessGroup(backend={self._backend!r}, rank={self.rank()}, size={self.size()}, ranks={self._ranks})"


class _NonGroupMember:
    def __repr__(self):
        return "GroupMember.NON_GROUP_MEMBER"


class GroupMember:
    """``GroupMember.WORLD`` is the default group once initialised; ``NON_GROUP_MEMBER`` is what
    :func:`new_group` returns on a rank outside the new group."""

    WORLD = None
    NON_GROUP_MEMBER = _NonGroupMember()


group = GroupMember


class _State:
    default = None
    groups: list = []
    excepthook = None
    exit = None


_state = _State()


def _abort_on_uncaught(exc_type, exc, tb):
    """An exception nobody caught on one rank ends the whole job (MPI_Abort) instead of leaving
    the other ranks waiting in their next collective."""
    prev = _state.excepthook or sys.__excepthook__
    prev(exc_type, exc, tb)
    try:
        sys.stderr.flush()
        sys.stdout.flush()
    finally:
        from ._mpi import mpi

        MPI = mpi()
        rank = MPI.COMM_WORLD.Get_rank()
        sys.stderr.write(f"deepseek.distributed: rank {rank} raised {exc_type.__name__}; aborting the job\n")
        sys.stderr.flush()
        MPI.COMM_WORLD.Abort(1)


def _exit_aborting(status=None):
    """``sys.exit`` while a multi-process group is up: a failure status aborts the job. (MPI's
    finalize would otherwise let this rank end cleanly while the others wait for it in their
    next collective.)"""
    code = status if isinstance(status, int) else (0 if status is None else 1)
    if code != 0:
        if not isinstance(status, int):
            print(status, file=sys.stderr)
        from ._mpi import mpi

        MPI = mpi()
        sys.stderr.write(f"deepseek.distributed: rank {MPI.COMM_WORLD.Get_rank()} exits with status {code}; "
                         "aborting the job\n")
        sys.stderr.flush()
        sys.stdout.flush()
        MPI.COMM_WORLD.Abort(code)
    _state.exit(status)


def _env_int(name):
    v = os.environ.get(name)
    return int(v) if v not in (None, "") else None


def init_process_group(backend=None, init_method=None, timeout=None, world_size=-1, rank=-1, store=None,
                       group_name="", pg_options=None, device_id=None):
    """init_process_group(backend=None, init_method=None, timeout=None, world_size=-1, rank=-1, store=None, group_name='', pg_options=None, device_id=None)

    Joins this process to the default process group. ``backend`` is ``"mpi"`` (the default):
    the processes, their ranks and the world size come from MPI (``mpirun -np N`` or
    ``python -m deepseek.distributed.run``), so ``init_method`` and ``store`` are not needed.
    A ``rank``/``world_size`` given here or in the ``RANK``/``WORLD_SIZE`` environment variables
    must agree with MPI's. ``timeout`` (default 30 minutes) bounds every wait of a collective.

    Once initialised, ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` and ``LOCAL_WORLD_SIZE`` are set in
    the environment, and an exception nobody catches on a rank, or ``sys.exit`` with a failure
    status, aborts the whole job (MPI_Abort) rather than leave the other ranks waiting.

    Example::

        >>> import deepseek.distributed as dist
        >>> dist.init_process_group("mpi")
        >>> dist.get_rank(), dist.get_world_size()
    """
    if _state.default is not None:
        raise ValueError("trying to initialize the default process group twice!")
    backend = Backend(backend if backend is not None else "mpi")
    from ._mpi import MpiCommunicator, mpi

    MPI = mpi()
    world = MPI.COMM_WORLD
    mpi_rank, mpi_size = world.Get_rank(), world.Get_size()
    for what, given, env, have in (("rank", rank, "RANK", mpi_rank), ("world_size", world_size, "WORLD_SIZE", mpi_size)):
        if given not in (None, -1) and given != have:
            raise ValueError(f"init_process_group: {what}={given} but MPI started this process as {what} {have}")
        e = _env_int(env)
        if e is not None and e != have:
            raise ValueError(f"init_process_group: the environment says {env}={e} but MPI started this process as "
                             f"{what} {have}; launch with mpirun or python -m deepseek.distributed.run")
    t = default_pg_timeout if timeout is None else timeout
    if seconds(t) <= 0:
        raise ValueError(f"init_process_group: timeout must be positive, got {timeout}")
    pg = ProcessGroup(MpiCommunicator(world), range(mpi_size), t, backend, group_name)
    _state.default, _state.groups = pg, [pg]
    GroupMember.WORLD = pg
    local = world.Split_type(MPI.COMM_TYPE_SHARED)
    os.environ.update(RANK=str(mpi_rank), WORLD_SIZE=str(mpi_size), LOCAL_RANK=str(local.Get_rank()),
                      LOCAL_WORLD_SIZE=str(local.Get_size()))
    local.Free()
    if mpi_size > 1 and sys.excepthook is not _abort_on_uncaught:
        _state.excepthook, sys.excepthook = sys.excepthook, _abort_on_uncaught
        _state.exit, sys.exit = sys.exit, _exit_aborting


def _require_init(op: str):
    if _state.default is None:
        raise RuntimeError(f"{op}: Default process group has not been initialized, please make sure to call "
                           "init_process_group.")
    return _state.default


def resolve(group, op: str):
    """The ProcessGroup for ``group`` (None: the default), or None on a non-member."""
    pg = _require_init(op)
    if group is None or group is GroupMember.WORLD:
        return pg
    if group is GroupMember.NON_GROUP_MEMBER:
        return None
    if not isinstance(group, ProcessGroup):
        raise TypeError(f"{op}: group must be a ProcessGroup from new_group, got {type(group).__name__}")
    if group not in _state.groups:
        raise ValueError(f"{op}: the process group was destroyed")
    return group


def is_initialized() -> bool:
    """Whether the default process group has been initialised."""
    return _state.default is not None


def is_available() -> bool:
    """Whether the distributed package can run: mpi4py is importable."""
    import importlib.util

    return importlib.util.find_spec("mpi4py") is not None


def is_mpi_available() -> bool:
    return is_available()


def is_gloo_available() -> bool:
    return False


def is_nccl_available() -> bool:
    return False


def get_backend(group=None) -> str:
    pg = resolve(group, "get_backend")
    if pg is None:
        raise ValueError("Invalid process group specified")
    return pg._backend


def get_rank(group=None) -> int:
    """This process's rank in ``group`` (default: the world); -1 outside it."""
    pg = resolve(group, "get_rank")
    return -1 if pg is None else pg.rank()


def get_world_size(group=None) -> int:
    """The number of processes in ``group`` (default: the world); -1 outside it."""
    pg = resolve(group, "get_world_size")
    return -1 if pg is None else pg.size()


def get_process_group_ranks(group) -> list:
    """The global ranks of ``group``'s members, in group-rank order."""
    pg = resolve(group, "get_process_group_ranks")
    if pg is None:
        raise ValueError("get_process_group_ranks: this rank is not a member of the group")
    return list(pg._ranks)


def get_global_rank(group, group_rank: int) -> int:
    ranks = get_process_group_ranks(group)
    if not 0 <= group_rank < len(ranks):
        raise ValueError(f"Group rank {group_rank} is not part of group {ranks}")
    return ranks[group_rank]


def get_group_rank(group, global_rank: int) -> int:
    ranks = get_process_group_ranks(group)
    if global_rank not in ranks:
        raise ValueError(f"Global rank {global_rank} is not part of group {ranks}")
    return ranks.index(global_rank)


def new_group(ranks=None, timeout=None, backend=None, pg_options=None, use_local_synchronization=False,
              group_desc=None):
    """new_group(ranks=None, timeout=None, backend=None, pg_options=None, use_local_synchronization=False, group_desc=None)

    A process group of the given global ``ranks`` (all of them when None), ranked in sorted
    order. Every process of the world must call it, members or not; a non-member gets
    ``GroupMember.NON_GROUP_MEMBER``, with which collectives return at once.
    """
    pg = _require_init("new_group")
    world = pg.size()
    ranks = list(range(world)) if ranks is None else sorted(int(r) for r in ranks)
    if len(set(ranks)) != len(ranks):
        raise ValueError(f"new_group: ranks contain duplicates: {ranks}")
    bad = [r for r in ranks if not 0 <= r < world]
    if bad:
        raise ValueError(f"new_group: ranks {bad} are outside the world of size {world}")
    b = Backend(backend) if backend is not None else pg._backend
    sub = pg._cpu.split(ranks)
    if sub is None:
        return GroupMember.NON_GROUP_MEMBER
    g = ProcessGroup(sub, ranks, pg._timeout if timeout is None else timeout, b, group_desc or "")
    _state.groups.append(g)
    return g


def destroy_process_group(group=None) -> None:
    """destroy_process_group(group=None): frees ``group``, or every group and the default one."""
    if group is GroupMember.NON_GROUP_MEMBER:
        return
    pg = resolve(group, "destroy_process_group")
    if pg is _state.default:
        for g in reversed(_state.groups):
            g._free()
        _state.default, _state.groups = None, []
        GroupMember.WORLD = None
        if sys.excepthook is _abort_on_uncaught:
            sys.excepthook, _state.excepthook = _state.excepthook or sys.__excepthook__, None
        if sys.exit is _exit_aborting:
            sys.exit, _state.exit = _state.exit, None
    else:
        _state.groups.remove(pg)
        pg._free()
