"""``nn.parallel.DistributedDataParallel``: data-parallel training over a process group."""
from __future__ import annotations

import contextlib
import zlib

import numpy as np

from ... import _core
from ..._core import Tensor
from ...autograd import is_grad_enabled, no_grad
from ...distributed import _group
from ...distributed._buffers import raw_bytes
from ...distributed._work import wait_for
from ..modules.module import Module
from ._reducer import _DEFAULT_FIRST_BUCKET_BYTES, Reducer


def _tensors_in(out, acc):
    if isinstance(out, Tensor):
        acc.append(out)
    elif isinstance(out, (list, tuple)):
        for o in out:
            _tensors_in(o, acc)
    elif isinstance(out, dict):
        for o in out.values():
            _tensors_in(o, acc)
    return acc


class DistributedDataParallel(Module):
    """DistributedDataParallel(module, device_ids=None, output_device=None, dim=0, broadcast_buffers=True, process_group=None, bucket_cap_mb=None, find_unused_parameters=False, check_reduction=False, gradient_as_bucket_view=False, static_graph=False)

    Data-parallel training, as ``torch.nn.parallel.DistributedDataParallel``: each process runs
    ``module`` on its share of the batch and, during ``backward()``, the gradients are averaged
    over the processes of ``process_group`` (default: the world), so every replica takes the
    same optimizer step.

    * At construction the parameters and buffers of rank 0 are broadcast to every rank (after
      checking that every rank has the same parameter shapes).
    * Gradients are all-reduced in buckets of ``bucket_cap_mb`` MiB (25 by default; the first
      bucket 1 MiB), parameters taken in reverse order; a bucket's all-reduce starts from the
      autograd hook of the last of its gradients, while backward goes on with the rest.
    * :meth:`no_sync` skips the reduction, so gradients accumulate locally over micro-batches.
    * ``find_unused_parameters=True`` lets a forward pass leave parameters out (their bucket
      slot counts as zero; a parameter no rank used keeps its ``.grad``).
    * ``broadcast_buffers=True`` makes every rank use rank 0's buffers (BatchNorm statistics)
      at the start of each forward pass.

    Example::

        >>> dist.init_process_group("mpi")
        >>> model = DistributedDataParallel(Net())
        >>> loss_fn(model(x_local), y_local).backward()   # gradients averaged over ranks
        >>> opt.step()
    """

    def __init__(self, module, device_ids=None, output_device=None, dim=0, broadcast_buffers=True, process_group=None,
                 bucket_cap_mb=None, find_unused_parameters=False, check_reduction=False, gradient_as_bucket_view=False,
                 static_graph=False, delay_all_reduce_named_params=None, param_to_hook_all_reduce=None,
                 mixed_precision=None, device_mesh=None):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel: module must be an nn.Module, got {type(module).__name__}")
        pg = _group.resolve(process_group, "DistributedDataParallel")
        if pg is None:
            raise ValueError("DistributedDataParallel: this rank is not a member of process_group")
        named = []
        seen = set()
        for n, p in module.named_parameters():
            if p.requires_grad and id(p) not in seen:
                seen.add(id(p))
                named.append((n, p))
        if not named:
            raise RuntimeError("DistributedDataParallel is not needed when a module doesn't have any parameter that "
                               "requires a gradient.")
        cap_mb = 25 if bucket_cap_mb is None else bucket_cap_mb
        if cap_mb <= 0:
            raise ValueError(f"DistributedDataParallel: bucket_cap_mb must be positive, got {bucket_cap_mb}")
        self.module = module
        self.device_ids, self.output_device, self.dim = device_ids, output_device, dim
        self.broadcast_buffers, self.find_unused_parameters = broadcast_buffers, find_unused_parameters
        self.gradient_as_bucket_view, self.static_graph = gradient_as_bucket_view, static_graph
        self.process_group = pg
        self.bucket_bytes_cap = int(cap_mb * 1024 * 1024)
        self.require_backward_grad_sync = True
        self.require_forward_param_sync = True
        self._verify_same_model([p for _, p in named])
        self._sync_from_rank0([p for _, p in named] + list(module.buffers()))
        first = min(_DEFAULT_FIRST_BUCKET_BYTES, self.bucket_bytes_cap)
        object.__setattr__(self, "reducer", Reducer([p for _, p in named], [n for n, _ in named], pg,
                                                    self.bucket_bytes_cap, first, find_unused_parameters,
                                                    gradient_as_bucket_view))

    def _verify_same_model(self, params):
        """Every rank must wrap the same architecture: same parameter count, shapes and dtypes."""
        desc = ";".join(f"{list(p.shape)}{p._dtype}" for p in params)
        row = np.array([len(params), zlib.crc32(desc.encode())], np.int64)
        pg = self.process_group
        pending, table = pg._meta.exchange_meta(row)
        wait_for(pending, "DistributedDataParallel", pg._timeout, pg._where())
        for r in range(pg.size()):
            if not np.array_equal(table[r], row):
                raise RuntimeError(
                    f"DistributedDataParallel: the model differs across ranks: rank {pg._ranks[pg.rank()]} has "
                    f"{len(params)} parameters (shapes/dtypes checksum {row[1]}), rank {pg._ranks[r]} has "
                    f"{table[r][0]} (checksum {table[r][1]}); every rank must build the same model")

    def _sync_from_rank0(self, tensors):
        """One broadcast of all ``tensors``' bytes from the group's rank 0 (coalesced)."""
        pg = self.process_group
        tensors = [t for t in tensors if t.numel()]
        if pg.size() == 1 or not tensors:
            return
        contig = [t.detach() if t.is_contiguous() and t._device == "cpu" else _core.contiguous(t.detach().cpu())
                  for t in tensors]
        views = [raw_bytes(c) for c in contig]
        flat = _core.empty([sum(v.size for v in views)], "uint8")
        fb = raw_bytes(flat)
        if pg.rank() == 0:
            np.concatenate(views, out=fb)
        wait_for(pg._cpu.broadcast(flat, 0), "DistributedDataParallel (broadcast from rank 0)", pg._timeout, pg._where())
        if pg.rank() != 0:
            off = 0
            with no_grad():
                for t, c, v in zip(tensors, contig, views):
                    v[:] = fb[off:off + v.size]
                    off += v.size
                    if c.data_ptr() != t.data_ptr() or t._device != "cpu":
                        t.copy_(c)

    def forward(self, *inputs, **kwargs):
        # a world of one has nothing to average: its gradients are already the answer
        sync = is_grad_enabled() and self.require_backward_grad_sync and self.process_group.size() > 1
        if self.broadcast_buffers and is_grad_enabled() and self.require_forward_param_sync:
            self._sync_from_rank0(list(self.module.buffers()))
        out = self.module(*inputs, **kwargs)
        if sync:
            self.reducer.prepare_for_backward(_tensors_in(out, []) if self.find_unused_parameters else [])
        return out

    @contextlib.contextmanager
    def no_sync(self):
        """A context in which backward passes leave gradients unreduced, accumulating them
        locally; the first backward after it reduces the sum of them all.

        Example::

            >>> with ddp.no_sync():
            ...     ddp(x0).sum().backward()      # no communication
            >>> ddp(x1).sum().backward()          # averages the gradients of x0 and x1
        """
        old = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = old

    def __del__(self):
        r = self.__dict__.get("reducer")
        if r is not None:
            r.remove_hooks()
