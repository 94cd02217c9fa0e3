"""The CPU communicator: collectives on contiguous CPU tensors through MPI (mpi4py).

A collective runs as MPI's blocking call (its tuned algorithms) on a thread of the communicator's
own, one at a time in the order they were issued, so it progresses while the caller goes on: a
gradient bucket's all-reduce really overlaps the rest of the backward pass. The caller gets a
:class:`Completion` and its :class:`~deepseek.distributed.Work` waits for it under the process
group's timeout, which is how a rank that never arrives becomes an error instead of a hang.
(Without MPI_THREAD_MULTIPLE the collectives are MPI-3's non-blocking ``I*`` calls, progressed
by polling, as point-to-point messages always are.)
Tensors reach MPI through NumPy arrays that share their memory (no copy); float16 and bfloat16
are reduced through float32 copies because MPI has no arithmetic on half types.
"""
from __future__ import annotations

import queue
import threading

import numpy as np

from .. import _core
from ._buffers import raw_bytes, typed
from ._types import ReduceOp

_HALF = ("float16", "bfloat16")


def mpi():
    """The ``mpi4py.MPI`` module (imported, and MPI initialised, on first use)."""
    try:
        from mpi4py import MPI
    except ImportError as e:  # pragma: no cover - the distributed extra installs it
        raise RuntimeError(
            "deepseek.distributed needs mpi4py and an MPI library: pip install 'deepseek[distributed]' "
            "(and Open MPI, e.g. apt-get install openmpi-bin libopenmpi-dev)") from e
    return MPI


def _mpi_op(op, dtype):
    MPI = mpi()
    if dtype == "bool":
        logical = {ReduceOp.SUM: MPI.LOR, ReduceOp.MAX: MPI.LOR, ReduceOp.BOR: MPI.LOR, ReduceOp.PRODUCT: MPI.LAND,
                   ReduceOp.MIN: MPI.LAND, ReduceOp.BAND: MPI.LAND, ReduceOp.BXOR: MPI.LXOR}
        return logical[op]
    return {ReduceOp.SUM: MPI.SUM, ReduceOp.MAX: MPI.MAX, ReduceOp.MIN: MPI.MIN, ReduceOp.PRODUCT: MPI.PROD,
            ReduceOp.BAND: MPI.BAND, ReduceOp.BOR: MPI.BOR, ReduceOp.BXOR: MPI.BXOR}[op]


class Pending:
    """The MPI requests of one operation and what to run once all of them have completed."""

    __slots__ = ("reqs", "on_done", "done", "status")

    def __init__(self, reqs, on_done=None, status=None):
        self.reqs, self.on_done, self.done, self.status = list(reqs), on_done, False, status

    def test(self) -> bool:
        if self.done:
            return True
        MPI = mpi()
        if self.status is not None:
            ok = MPI.Request.Testall(self.reqs, [self.status])
        else:
            ok = MPI.Request.Testall(self.reqs)
        if ok:
            self.done = True
            if self.on_done is not None:
                f, self.on_done = self.on_done, None
                f()
        return ok


class Completion:
    """The outcome of an operation running on a communicator's thread."""

    __slots__ = ("event", "exc", "on_done", "done", "status")

    def __init__(self, on_done=None):
        self.event, self.exc, self.on_done, self.done, self.status = threading.Event(), None, on_done, False, None

    def test(self) -> bool:
        if self.done:
            return True
        if not self.event.is_set():
            return False
        self.done = True
        if self.exc is not None:
            raise self.exc
        if self.on_done is not None:
            f, self.on_done = self.on_done, None
            f()
        return True

    def block(self, seconds: float) -> bool:
        """Waits up to ``seconds`` without polling; True once the operation has finished."""
        return self.event.wait(seconds)


class _Runner:
    """A daemon thread running blocking MPI calls in the order they were submitted."""

    def __init__(self):
        self.q = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._loop, name="deepseek-mpi-collectives", daemon=True)
        self.thread.start()

    def _loop(self):
        while True:
            item = self.q.get()
            if item is None:
                return
            c, fn = item
            try:
                fn()
            except BaseException as e:  # handed to the waiting caller
                c.exc = e
            c.event.set()

    def submit(self, fn, on_done=None) -> Completion:
        c = Completion(on_done)
        self.q.put((c, fn))
        return c

    def stop(self):
        self.q.put(None)
        self.thread.join(timeout=5)


class _Staged:
    """A float32 copy of a half-precision tensor for reductions, written back on completion."""

    def __init__(self, t):
        self.t = t
        self.f32 = _core.cast(t, "float32")

    def back(self):
        self.t.copy_(_core.cast(self.f32, self.t._dtype))


class MpiCommunicator:
    """Collectives among the processes of one MPI communicator, on contiguous CPU tensors.

    This is the ``"cpu"`` entry of a process group's communicators; an accelerator backend
    supplies an object with the same methods for its own device type (see
    :func:`deepseek.distributed.register_communicator`).
    """

    device_type = "cpu"

    def __init__(self, comm, threaded=None):
        self.comm = comm
        self.rank, self.size = comm.Get_rank(), comm.Get_size()
        if threaded is None:
            threaded = mpi().Query_thread() == mpi().THREAD_MULTIPLE
        self.runner = _Runner() if threaded else None

    def _start(self, name, *args, on_done=None, **kw):
        """MPI's ``name`` (e.g. ``"Allreduce"``) on the thread, or its ``I`` form, polled."""
        if self.runner is not None:
            call = getattr(self.comm, name)
            return self.runner.submit(lambda: call(*args, **kw), on_done)
        return Pending([getattr(self.comm, "I" + name.lower())(*args, **kw)], on_done)

    def _reduce_buf(self, t):
        """(array to reduce, staging or None) for a reduction on ``t``."""
        if t._dtype in _HALF:
            s = _Staged(t)
            return typed(s.f32), s
        return typed(t), None

    def broadcast(self, t, root):
        return self._start("Bcast", raw_bytes(t), root=root)

    def all_reduce(self, t, op):
        buf, s = self._reduce_buf(t)
        MPI = mpi()
        return self._start("Allreduce", MPI.IN_PLACE, buf, op=_mpi_op(op, t._dtype), on_done=s.back if s else None)

    def reduce(self, t, op, root):
        buf, s = self._reduce_buf(t)
        MPI = mpi()
        if self.rank == root:
            return self._start("Reduce", MPI.IN_PLACE, buf, op=_mpi_op(op, t._dtype), root=root,
                               on_done=s.back if s else None)
        # MPI leaves a non-root's buffer alone; PyTorch's contract says the same
        return self._start("Reduce", buf, None, op=_mpi_op(op, t._dtype), root=root)

    def all_gather(self, out, t):
        """``out`` (contiguous, ``size`` times ``t``'s elements) receives every rank's ``t``."""
        return self._start("Allgather", raw_bytes(t), raw_bytes(out))

    def gather(self, out, t, root):
        recv = raw_bytes(out) if self.rank == root else None
        return self._start("Gather", raw_bytes(t), recv, root=root)

    def scatter(self, out, t, root):
        send = raw_bytes(t) if self.rank == root else None
        return self._start("Scatter", send, raw_bytes(out), root=root)

    def reduce_scatter(self, out, t, op):
        """``out`` receives block ``rank`` of the reduction of every rank's ``t``."""
        src, s_in = self._reduce_buf(t)
        dst, s_out = self._reduce_buf(out)
        return self._start("Reduce_scatter_block", src, dst, op=_mpi_op(op, t._dtype),
                           on_done=s_out.back if s_out else None)

    def barrier(self):
        return self._start("Barrier")

    def send(self, t, dst, tag):
        return Pending([self.comm.Isend(raw_bytes(t), dest=dst, tag=tag)])

    def recv(self, t, src, tag):
        MPI = mpi()
        status = MPI.Status()
        src = MPI.ANY_SOURCE if src is None else src
        return Pending([self.comm.Irecv(raw_bytes(t), source=src, tag=tag)], status=status)

    def exchange_meta(self, row: np.ndarray) -> tuple:
        """Starts an all-gather of one int64 row per rank (shapes and dtypes checked before a
        collective); returns (pending, table)."""
        table = np.empty((self.size, row.size), np.int64)
        return Pending([self.comm.Iallgather(row, table)]), table

    def split(self, ranks):
        """A communicator over ``ranks`` (global ranks of this communicator, in that order), or
        None on a rank outside them. Every rank must call it, as MPI_Comm_split requires."""
        MPI = mpi()
        member = self.rank in ranks
        sub = self.comm.Split(0 if member else MPI.UNDEFINED, ranks.index(self.rank) if member else 0)
        return MpiCommunicator(sub) if member else None

    def dup(self):
        """The same processes on a new MPI communicator, used from the calling thread only
        (argument checks and message headers)."""
        return MpiCommunicator(self.comm.Dup(), threaded=False)

    def free(self):
        MPI = mpi()
        if self.runner is not None:
            self.runner.stop()
            self.runner = None
        if self.comm != MPI.COMM_WORLD and self.comm != MPI.COMM_NULL:
            self.comm.Free()
