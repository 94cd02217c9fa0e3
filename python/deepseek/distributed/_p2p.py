"""Point-to-point messages: ``send``/``recv`` and their asynchronous ``isend``/``irecv``.

A message is a small header (dtype and shape) on the group's metadata communicator followed by
the tensor's memory, so a receiver whose tensor does not match what was sent raises a
RuntimeError naming both instead of reading truncated or reinterpreted bytes.
"""
from __future__ import annotations

import numpy as np

from ._buffers import _ITEMSIZE
from ._collectives import _DTYPES, _MAXDIM, _ROW, _Buffer, _describe, _row, _tensor_arg
from ._group import resolve
from ._mpi import Pending, mpi
from ._work import Work


def _peer(pg, op, rank, group_rank, name):
    if rank is not None and group_rank is not None:
        raise ValueError(f"{op}: give {name} or group_{name}, not both")
    if group_rank is None:
        if rank is None:
            return None
        if rank not in pg._ranks:
            raise ValueError(f"{op}: {name}={rank} is not a rank of the group {pg._ranks}")
        group_rank = pg._ranks.index(rank)
    if not 0 <= group_rank < pg.size():
        raise ValueError(f"{op}: group_{name}={group_rank} is outside the group of size {pg.size()}")
    if group_rank == pg.rank():
        raise ValueError(f"{op}: Invalid {'destination' if name == 'dst' else 'source'} rank: should not be the "
                         "same as the rank of the current process.")
    return group_rank


def _tag(op, tag):
    if not isinstance(tag, int) or tag < 0:
        raise ValueError(f"{op}: tag must be a non-negative int, got {tag!r}")
    return tag


class _Receive:
    """The header first; then the payload, from the header's sender, once the header matches."""

    def __init__(self, pg, buf, src, tag):
        MPI = mpi()
        self.pg, self.buf, self.tag = pg, buf, tag
        self.header = np.empty(_ROW, np.int64)
        self.status = MPI.Status()
        source = MPI.ANY_SOURCE if src is None else src
        self.hreq = pg._meta.comm.Irecv(self.header, source=source, tag=tag)
        self.payload, self.done = None, False

    def test(self) -> bool:
        if self.done:
            return True
        if self.payload is None:
            if not self.hreq.Test(self.status):
                return False
            src = self.status.Get_source()
            mine = _row("recv", self.buf.t)
            if not np.array_equal(mine[1:4 + _MAXDIM], self.header[1:4 + _MAXDIM]):
                # take the message off the line, so the next receive from that rank gets its own
                nbytes = int(self.header[3 + _MAXDIM]) * _ITEMSIZE[_DTYPES[int(self.header[1])]]
                self.buf.comm.comm.Recv(np.empty(nbytes, np.uint8), source=src, tag=self.tag)
                raise RuntimeError(f"recv: rank {self.pg._ranks[self.pg.rank()]} receives into {_describe(mine)} but rank "
                                   f"{self.pg._ranks[src]} sent {_describe(self.header)}")
            self.payload = self.buf.comm.recv(self.buf.c, src, self.tag)
        if self.payload.test():
            self.buf.write_back()
            self.done = True
        return self.done


def isend(tensor, dst=None, group=None, tag=0, group_dst=None):
    """isend(tensor, dst=None, group=None, tag=0, group_dst=None): starts sending ``tensor`` to
    global rank ``dst``; returns a Work (the tensor must not change until it completes)."""
    pg = resolve(group, "isend")
    if pg is None:
        return None
    _tensor_arg("isend", tensor)
    peer = _peer(pg, "isend", dst, group_dst, "dst")
    if peer is None:
        raise ValueError("isend: dst (or group_dst) is required")
    tag = _tag("isend", tag)
    b = _Buffer(pg, tensor)
    header = _row("send", tensor)
    hreq = pg._meta.comm.Isend(header, dest=peer, tag=tag)
    data = b.comm.send(b.c, peer, tag)
    return Work(Pending([hreq] + data.reqs), "send", pg._timeout, pg._where(), [tensor])


def send(tensor, dst=None, group=None, tag=0, group_dst=None):
    """send(tensor, dst=None, group=None, tag=0, group_dst=None): sends ``tensor`` to global
    rank ``dst`` and returns once it has been handed over."""
    w = isend(tensor, dst, group, tag, group_dst)
    if w is not None:
        w.wait()


def irecv(tensor, src=None, group=None, tag=0, group_src=None):
    """irecv(tensor, src=None, group=None, tag=0, group_src=None): starts receiving into
    ``tensor`` from global rank ``src`` (any rank when None); returns a Work."""
    pg = resolve(group, "irecv")
    if pg is None:
        return None
    _tensor_arg("irecv", tensor)
    peer = _peer(pg, "irecv", src, group_src, "src")
    tag = _tag("irecv", tag)
    b = _Buffer(pg, tensor, read=False)
    return Work(_Receive(pg, b, peer, tag), "recv", pg._timeout, pg._where(), [tensor])


def recv(tensor, src=None, group=None, tag=0, group_src=None):
    """recv(tensor, src=None, group=None, tag=0, group_src=None): receives into ``tensor`` from
    global rank ``src`` (any rank when None); returns the sender's global rank."""
    pg = resolve(group, "recv")
    if pg is None:
        return -1
    w = irecv(tensor, src, group, tag, group_src)
    w.wait()
    return pg._ranks[w._source_rank()]
