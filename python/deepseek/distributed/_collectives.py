"""The collectives and point-to-point operations of ``deepseek.distributed``.

Each call checks its arguments against the other ranks' first (one small all-gather of shape,
dtype, root and op on the group's metadata communicator), so a mismatch is a RuntimeError naming
both sides on every rank instead of corrupt data or a hang. Contiguous CPU tensors go to MPI
without a copy; a non-contiguous tensor goes through a contiguous copy, and a tensor of a device
without its own communicator through host memory.
"""
from __future__ import annotations

import numpy as np

from .. import _core
from .._core import Tensor
from ..autograd import no_grad
from ._group import resolve
from ._types import ReduceOp
from ._work import Work, wait_for

_OPS = ["broadcast", "all_reduce", "reduce", "all_gather", "all_gather_into_tensor", "gather", "scatter",
        "reduce_scatter", "reduce_scatter_tensor", "barrier", "send", "recv"]
_DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16", "float32", "float64"]
_MAXDIM = 12
# row layout: op, dtype, ndim, shape[_MAXDIM], numel, root, reduce op, error flag
_ROW = 3 + _MAXDIM + 4
_ERR = _ROW - 1


def _row(op, t, root=-1, rop=-1, failed=False):
    r = np.zeros(_ROW, np.int64)
    r[0] = _OPS.index(op)
    if t is not None:
        r[1] = _DTYPES.index(t._dtype)
        r[2] = t.dim()
        shape = list(t.shape)
        r[3:3 + min(len(shape), _MAXDIM)] = shape[:_MAXDIM]
        r[3 + _MAXDIM] = t.numel()
    r[4 + _MAXDIM], r[5 + _MAXDIM], r[_ERR] = root, rop, int(failed)
    return r


def _describe(r):
    nd = int(r[2])
    dims = ", ".join(str(int(d)) for d in r[3:3 + min(nd, _MAXDIM)]) + (", ..." if nd > _MAXDIM else "")
    return f"shape [{dims}] {_DTYPES[int(r[1])]}"


def _check(pg, op, t, root=-1, rop=-1, local_error=None):
    """Exchanges this rank's arguments with the group's and raises on any disagreement."""
    mine = _row(op, t, root, rop, local_error is not None)
    pending, table = pg._meta.exchange_meta(mine)
    wait_for(pending, op, pg._timeout, pg._where())
    if local_error is not None:
        raise local_error
    me = pg.rank()
    for r in range(pg.size()):
        other = table[r]
        if other[_ERR]:
            raise RuntimeError(f"{op}: rank {pg._ranks[r]} rejected its arguments (its error says why); this rank's were valid")
        if other[0] != mine[0]:
            raise RuntimeError(f"{op}: rank {pg._ranks[me]} called {op} but rank {pg._ranks[r]} called {_OPS[int(other[0])]}")
        if other[4 + _MAXDIM] != mine[4 + _MAXDIM]:
            raise RuntimeError(f"{op}: ranks disagree on the root: rank {pg._ranks[me]} says {pg._ranks[int(mine[4 + _MAXDIM])]}, "
                               f"rank {pg._ranks[r]} says {pg._ranks[int(other[4 + _MAXDIM])]}")
        if other[5 + _MAXDIM] != mine[5 + _MAXDIM]:
            raise RuntimeError(f"{op}: ranks disagree on the reduce op: rank {pg._ranks[me]} uses {ReduceOp(int(mine[5 + _MAXDIM])).name}, "
                               f"rank {pg._ranks[r]} uses {ReduceOp(int(other[5 + _MAXDIM])).name}")
        if not np.array_equal(other[1:4 + _MAXDIM], mine[1:4 + _MAXDIM]):
            raise RuntimeError(f"{op}: tensors differ across ranks: rank {pg._ranks[me]} has {_describe(mine)}, "
                               f"rank {pg._ranks[r]} has {_describe(other)}")


def _tensor_arg(op, t, name="tensor"):
    if not isinstance(t, Tensor):
        raise TypeError(f"{op}: {name} must be a Tensor, got {type(t).__name__}")
    return t


class _Buffer:
    """A contiguous tensor on a device with a communicator, standing for the user's tensor:
    the tensor itself when it qualifies (no copy), otherwise a copy written back when done."""

    def __init__(self, pg, t, read=True):
        self.t = t
        dev = t._device.split(":")[0]
        comm = pg.communicator(dev) if dev != "cpu" else pg._cpu
        if comm is None:
            comm, src = pg._cpu, t.cpu()
        else:
            src = t
        self.comm = comm
        if src is t and t.is_contiguous():
            self.c = t.detach()
        elif read:
            self.c = _core.contiguous(src.detach())
        else:
            self.c = _core.empty(list(t.shape), t._dtype)
        self.copied = self.c.data_ptr() != t.data_ptr() or t._device != "cpu"

    def write_back(self):
        if self.copied:
            with no_grad():
                self.t.copy_(self.c)


def _root(pg, op, rank, group_rank, name):
    """The group rank of a root given as a global ``rank`` (or directly as ``group_rank``)."""
    if rank is not None and group_rank is not None:
        raise ValueError(f"{op}: give {name} or group_{name}, not both")
    if group_rank is None:
        if rank is None:
            rank = 0
        if rank not in pg._ranks:
            raise ValueError(f"{op}: {name}={rank} is not a rank of the group {pg._ranks}")
        return pg._ranks.index(rank)
    if not 0 <= group_rank < pg.size():
        raise ValueError(f"{op}: group_{name}={group_rank} is outside the group of size {pg.size()}")
    return group_rank


def _finish(pg, op, pending, async_op, outputs, after=()):
    def done():
        for f in after:
            f()

    w = Work(pending, op, pg._timeout, pg._where(), outputs, done)
    if async_op:
        return w
    w.wait()
    return None


def _reduce_op(op, t, rop):
    if not isinstance(rop, ReduceOp):
        raise TypeError(f"{op}: op must be a ReduceOp, got {rop!r}")
    if rop == ReduceOp.AVG and t._dtype not in ("float16", "bfloat16", "float32", "float64"):
        raise RuntimeError(f"{op}: ReduceOp.AVG needs a floating point tensor, got {t._dtype}")
    if rop in (ReduceOp.BAND, ReduceOp.BOR, ReduceOp.BXOR) and t._dtype in ("float16", "bfloat16", "float32", "float64"):
        raise RuntimeError(f"{op}: ReduceOp.{rop.name} needs an integer or bool tensor, got {t._dtype}")
    return ReduceOp.SUM if rop == ReduceOp.AVG else rop


def _averaged(buf, size):
    def f():
        with no_grad():
            buf.c.div_(size)
    return f


def broadcast(tensor, src=None, group=None, async_op=False, group_src=None):
    """broadcast(tensor, src=None, group=None, async_op=False, group_src=None): ``tensor`` on
    every rank becomes rank ``src``'s (global rank; 0 by default)."""
    pg = resolve(group, "broadcast")
    if pg is None:
        return None
    _tensor_arg("broadcast", tensor)
    root = _root(pg, "broadcast", src, group_src, "src")
    _check(pg, "broadcast", tensor, root)
    b = _Buffer(pg, tensor)
    return _finish(pg, "broadcast", b.comm.broadcast(b.c, root), async_op, [tensor], [b.write_back])


def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    """all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False): ``tensor`` on every
    rank becomes the reduction of all ranks' tensors, in place.

    Example::

        >>> t = deepseek.ones(3) * (dist.get_rank() + 1)
        >>> dist.all_reduce(t)            # on 2 ranks: tensor([3., 3., 3.])
    """
    pg = resolve(group, "all_reduce")
    if pg is None:
        return None
    _tensor_arg("all_reduce", tensor)
    mop = _reduce_op("all_reduce", tensor, op)
    _check(pg, "all_reduce", tensor, rop=op.value)
    b = _Buffer(pg, tensor)
    after = ([_averaged(b, pg.size())] if op == ReduceOp.AVG else []) + [b.write_back]
    return _finish(pg, "all_reduce", b.comm.all_reduce(b.c, mop), async_op, [tensor], after)


def reduce(tensor, dst=None, op=ReduceOp.SUM, group=None, async_op=False, group_dst=None):
    """reduce(tensor, dst=None, op=ReduceOp.SUM, group=None, async_op=False, group_dst=None):
    rank ``dst``'s tensor becomes the reduction of all ranks'; the others' are left as they are."""
    pg = resolve(group, "reduce")
    if pg is None:
        return None
    _tensor_arg("reduce", tensor)
    root = _root(pg, "reduce", dst, group_dst, "dst")
    mop = _reduce_op("reduce", tensor, op)
    _check(pg, "reduce", tensor, root, op.value)
    b = _Buffer(pg, tensor)
    after = []
    if pg.rank() == root:
        after = ([_averaged(b, pg.size())] if op == ReduceOp.AVG else []) + [b.write_back]
    return _finish(pg, "reduce", b.comm.reduce(b.c, mop, root), async_op, [tensor], after)


def _same_as(op, lst, t, n, what):
    """None, or the error for a list that is not ``n`` tensors of ``t``'s shape and dtype."""
    if not isinstance(lst, (list, tuple)) or len(lst) != n or not all(isinstance(x, Tensor) for x in lst):
        return ValueError(f"{op}: {what} must be a list of {n} tensors (one per rank)")
    for i, x in enumerate(lst):
        if list(x.shape) != list(t.shape) or x._dtype != t._dtype:
            return ValueError(f"{op}: {what}[{i}] has shape {list(x.shape)} {x._dtype}, expected {list(t.shape)} {t._dtype}")
    return None


def _into_list(flat, lst):
    def f():
        with no_grad():
            for i, x in enumerate(lst):
                x.copy_(flat[i])
    return f


def all_gather(tensor_list, tensor, group=None, async_op=False):
    """all_gather(tensor_list, tensor, group=None, async_op=False): ``tensor_list[r]`` receives
    rank ``r``'s ``tensor`` on every rank."""
    pg = resolve(group, "all_gather")
    if pg is None:
        return None
    _tensor_arg("all_gather", tensor)
    _check(pg, "all_gather", tensor, local_error=_same_as("all_gather", tensor_list, tensor, pg.size(), "tensor_list"))
    b = _Buffer(pg, tensor)
    flat = _core.empty([pg.size()] + list(tensor.shape), tensor._dtype)
    return _finish(pg, "all_gather", b.comm.all_gather(flat, b.c), async_op, tensor_list, [_into_list(flat, tensor_list)])


def all_gather_into_tensor(output_tensor, input_tensor, group=None, async_op=False):
    """all_gather_into_tensor(output_tensor, input_tensor, group=None, async_op=False):
    ``output_tensor`` (world size times ``input_tensor``'s elements, stacked or concatenated
    along dim 0) receives every rank's ``input_tensor`` in rank order."""
    pg = resolve(group, "all_gather_into_tensor")
    if pg is None:
        return None
    _tensor_arg("all_gather_into_tensor", input_tensor, "input_tensor")
    _tensor_arg("all_gather_into_tensor", output_tensor, "output_tensor")
    err = None
    if output_tensor.numel() != pg.size() * input_tensor.numel() or output_tensor._dtype != input_tensor._dtype:
        err = ValueError(f"all_gather_into_tensor: output_tensor of shape {list(output_tensor.shape)} {output_tensor._dtype} "
                         f"cannot hold {pg.size()} inputs of shape {list(input_tensor.shape)} {input_tensor._dtype}")
    _check(pg, "all_gather_into_tensor", input_tensor, local_error=err)
    b, out = _Buffer(pg, input_tensor), _Buffer(pg, output_tensor, read=False)
    return _finish(pg, "all_gather_into_tensor", b.comm.all_gather(out.c, b.c), async_op, [output_tensor], [out.write_back])


def gather(tensor, gather_list=None, dst=None, group=None, async_op=False, group_dst=None):
    """gather(tensor, gather_list=None, dst=None, group=None, async_op=False, group_dst=None):
    on rank ``dst``, ``gather_list[r]`` receives rank ``r``'s ``tensor``."""
    pg = resolve(group, "gather")
    if pg is None:
        return None
    _tensor_arg("gather", tensor)
    root = _root(pg, "gather", dst, group_dst, "dst")
    err = None
    if pg.rank() == root:
        err = _same_as("gather", gather_list, tensor, pg.size(), "gather_list")
    elif gather_list:
        err = ValueError("gather: Argument ``gather_list`` must NOT be specified on non-destination ranks.")
    _check(pg, "gather", tensor, root, local_error=err)
    b = _Buffer(pg, tensor)
    flat = _core.empty([pg.size()] + list(tensor.shape), tensor._dtype) if pg.rank() == root else None
    after = [_into_list(flat, gather_list)] if flat is not None else []
    return _finish(pg, "gather", b.comm.gather(flat, b.c, root), async_op, gather_list or [], after)


def scatter(tensor, scatter_list=None, src=None, group=None, async_op=False, group_src=None):
    """scatter(tensor, scatter_list=None, src=None, group=None, async_op=False, group_src=None):
    ``tensor`` on rank ``r`` receives ``scatter_list[r]`` of rank ``src``."""
    pg = resolve(group, "scatter")
    if pg is None:
        return None
    _tensor_arg("scatter", tensor)
    root = _root(pg, "scatter", src, group_src, "src")
    err, flat = None, None
    if pg.rank() == root:
        err = _same_as("scatter", scatter_list, tensor, pg.size(), "scatter_list")
        if err is None:
            from .. import _ops

            flat = _core.contiguous(_ops.stack([x.detach() for x in scatter_list], 0))
    elif scatter_list:
        err = ValueError("scatter: Argument ``scatter_list`` must NOT be specified on non-source ranks.")
    _check(pg, "scatter", tensor, root, local_error=err)
    out = _Buffer(pg, tensor, read=False)
    return _finish(pg, "scatter", out.comm.scatter(out.c, flat, root), async_op, [tensor], [out.write_back])


def reduce_scatter(output, input_list, op=ReduceOp.SUM, group=None, async_op=False):
    """reduce_scatter(output, input_list, op=ReduceOp.SUM, group=None, async_op=False):
    ``output`` on rank ``r`` becomes the reduction over ranks of their ``input_list[r]``."""
    pg = resolve(group, "reduce_scatter")
    if pg is None:
        return None
    _tensor_arg("reduce_scatter", output, "output")
    mop = _reduce_op("reduce_scatter", output, op)
    err = _same_as("reduce_scatter", input_list, output, pg.size(), "input_list")
    flat = None
    if err is None:
        from .. import _ops

        flat = _core.contiguous(_ops.stack([x.detach() for x in input_list], 0))
    _check(pg, "reduce_scatter", output, rop=op.value, local_error=err)
    return _reduce_scatter(pg, "reduce_scatter", output, flat, op, mop, async_op)


def _reduce_scatter(pg, name, output, flat, op, mop, async_op):
    out = _Buffer(pg, output, read=False)
    after = ([_averaged(out, pg.size())] if op == ReduceOp.AVG else []) + [out.write_back]
    return _finish(pg, name, out.comm.reduce_scatter(out.c, flat, mop), async_op, [output], after)


def reduce_scatter_tensor(output, input, op=ReduceOp.SUM, group=None, async_op=False):
    """reduce_scatter_tensor(output, input, op=ReduceOp.SUM, group=None, async_op=False):
    ``input`` holds world-size blocks of ``output``'s size; ``output`` on rank ``r`` becomes the
    reduction over ranks of block ``r``."""
    pg = resolve(group, "reduce_scatter_tensor")
    if pg is None:
        return None
    _tensor_arg("reduce_scatter_tensor", output, "output")
    _tensor_arg("reduce_scatter_tensor", input, "input")
    mop = _reduce_op("reduce_scatter_tensor", output, op)
    err = None
    if input.numel() != pg.size() * output.numel() or input._dtype != output._dtype:
        err = ValueError(f"reduce_scatter_tensor: input of shape {list(input.shape)} {input._dtype} is not "
                         f"{pg.size()} blocks of the output's shape {list(output.shape)} {output._dtype}")
    _check(pg, "reduce_scatter_tensor", output, rop=op.value, local_error=err)
    flat = _Buffer(pg, input).c
    return _reduce_scatter(pg, "reduce_scatter_tensor", output, flat, op, mop, async_op)


def barrier(group=None, async_op=False, device_ids=None):
    """barrier(group=None, async_op=False, device_ids=None): returns once every rank of the
    group has entered it."""
    pg = resolve(group, "barrier")
    if pg is None:
        return None
    _check(pg, "barrier", None)
    return _finish(pg, "barrier", pg._cpu.barrier(), async_op, [])
