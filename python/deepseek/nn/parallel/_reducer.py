"""Gradient buckets of DistributedDataParallel: filled from post-accumulate-grad hooks during
backward and all-reduced, in order, as each fills, so communication overlaps the rest of the
backward pass."""
from __future__ import annotations

import time
import weakref

from ... import _core
from ..._creation import tensor
from ...autograd import no_grad
from ...distributed._buffers import _ITEMSIZE, raw_bytes
from ...distributed._types import ReduceOp
from ...distributed._work import wait_for

# PyTorch's first bucket is small so that communication starts early in the backward pass
_DEFAULT_FIRST_BUCKET_BYTES = 1024 * 1024


class _Bucket:
    def __init__(self, indices, params, dtype):
        self.indices, self.dtype = indices, dtype
        self.offsets, off = [], 0
        for i in indices:
            self.offsets.append(off)
            off += params[i].numel()
        self.numel = off
        self.flat = _core.zeros([off], dtype)
        self.bytes = raw_bytes(self.flat)
        self.pending, self.work = len(indices), None


def assign_buckets(params, cap_bytes, first_cap_bytes):
    """Buckets of parameter indices: parameters in reverse order (the order backward usually
    produces their gradients), one dtype and device per bucket, each closed once it holds
    ``cap_bytes`` (the first ``first_cap_bytes``)."""
    open_, done = {}, []
    for i in reversed(range(len(params))):
        p = params[i]
        key = (p._dtype, p._device)
        b = open_.setdefault(key, [[], 0])
        b[0].append(i)
        b[1] += p.numel() * _ITEMSIZE[p._dtype]
        if b[1] >= (first_cap_bytes if not done else cap_bytes):
            done.append(b[0])
            del open_[key]
    done.extend(b[0] for b in open_.values())
    # in the order their first parameter comes in reversed order, as the launches will be
    done.sort(key=lambda idx: -idx[0])
    return done


class Reducer:
    """Averages the gradients of ``params`` over the process group ``pg`` once per backward.

    ``events`` records ``("ready", param_index)`` and ``("launch", bucket_index)`` in the order
    they happen, so a test can see buckets launched before the backward pass has finished.
    """

    def __init__(self, params, names, pg, cap_bytes, first_cap_bytes, find_unused_parameters, gradient_as_bucket_view):
        self.params, self.names, self.pg = params, names, pg
        self.find_unused, self.as_view = find_unused_parameters, gradient_as_bucket_view
        self.buckets = [_Bucket(idx, params, params[idx[0]]._dtype) for idx in assign_buckets(params, cap_bytes, first_cap_bytes)]
        self.slot = {}
        for b, bucket in enumerate(self.buckets):
            for k, i in enumerate(bucket.indices):
                self.slot[i] = (b, k)
        self.expect, self.events = False, []
        # seconds backward spent blocked on gradient communication (what overlap did not hide)
        self.wait_seconds = 0.0
        self.ready, self.used, self.next_bucket = [], [], 0
        ref = weakref.ref(self)  # the hooks live in the parameters; a strong reference would be a cycle
        self.handles = [p.register_post_accumulate_grad_hook(_hook(ref, i)) for i, p in enumerate(params)]

    def remove_hooks(self):
        for h in self.handles:
            h.remove()
        self.handles = []

    def prepare_for_backward(self, outputs):
        """Called by the forward pass: the next backward must reduce every gradient."""
        if self.expect:
            missing = [self.names[i] for i, r in enumerate(self.ready) if not r]
            raise RuntimeError(
                "DistributedDataParallel: Expected to have finished reduction in the prior iteration before starting a "
                "new one. This error indicates that your module has parameters that were not used in producing loss "
                "(or a backward pass did not run). You can enable unused parameter detection by passing the keyword "
                "argument `find_unused_parameters=True` to `DistributedDataParallel`. Parameters that did not receive "
                f"a gradient: {missing}")
        self.expect, self.events, self.next_bucket = True, [], 0
        self.ready = [False] * len(self.params)
        self.used = [True] * len(self.params)
        for b in self.buckets:
            b.pending, b.work = len(b.indices), None
        if self.find_unused:
            reached = _core.leaves_reached(outputs, self.params)
            for i, r in enumerate(reached):
                if not r:
                    self.used[i] = False
                    self.mark_ready(i)

    def mark_ready(self, i):
        if not self.expect:
            return  # no_sync(), or a backward without a synchronising forward: gradients just accumulate
        if self.ready[i]:
            raise RuntimeError(
                f"DistributedDataParallel: Expected to mark a variable ready only once; parameter {self.names[i]} "
                "received its gradient twice in one iteration (a second backward through the same forward, or the "
                "parameter shared by two parts of the model that are differentiated separately).")
        self.ready[i] = True
        self.events.append(("ready", i))
        b, k = self.slot[i]
        bucket = self.buckets[b]
        self._copy_in(bucket, k, self.params[i].grad)
        bucket.pending -= 1
        while self.next_bucket < len(self.buckets) and self.buckets[self.next_bucket].pending == 0:
            self._launch(self.next_bucket)
            self.next_bucket += 1
        for bk in self.buckets[:self.next_bucket]:
            bk.work.test()  # MPI advances started reductions only when asked
        if self.next_bucket == len(self.buckets):
            self._finish()

    def _copy_in(self, bucket, k, grad):
        p = self.params[bucket.indices[k]]
        size = _ITEMSIZE[p._dtype]
        lo, n = bucket.offsets[k] * size, p.numel() * size
        if grad is None:
            bucket.bytes[lo:lo + n] = 0
            return
        g = grad.detach()
        if g._device != "cpu":
            g = g.cpu()
        if not g.is_contiguous():
            g = _core.contiguous(g)
        src = raw_bytes(g)
        if src.ctypes.data != bucket.bytes[lo:lo + n].ctypes.data:  # a bucket-view gradient is already in place
            bucket.bytes[lo:lo + n] = src

    def _launch(self, b):
        bucket = self.buckets[b]
        bucket.work = self.pg._cpu.all_reduce(bucket.flat, ReduceOp.SUM)
        self.events.append(("launch", b))

    def _finish(self):
        t0 = time.perf_counter()
        self.expect = False
        pg = self.pg
        used = None
        if self.find_unused:
            # a parameter no rank used keeps its gradient as it was (None), as in PyTorch
            used = _core.contiguous(tensor([int(u) for u in self.used], dtype="int32"))
            wait_for(pg._cpu.all_reduce(used, ReduceOp.MAX), "DistributedDataParallel", pg._timeout, pg._where())
            used = used.tolist()
        with no_grad():
            for bucket in self.buckets:
                wait_for(bucket.work, "DistributedDataParallel (gradient all_reduce)", pg._timeout, pg._where())
                bucket.flat.div_(pg.size())
                for k, i in enumerate(bucket.indices):
                    if used is not None and not used[i]:
                        continue
                    self._copy_out(bucket, k, self.params[i])
        self.wait_seconds += time.perf_counter() - t0

    def _copy_out(self, bucket, k, p):
        view = bucket.flat[bucket.offsets[k]:bucket.offsets[k] + p.numel()].view(list(p.shape))
        g = p.grad
        if self.as_view and p._device == "cpu":
            if g is None or g.data_ptr() != view.data_ptr():
                p.grad = view
        elif g is None:
            p.grad = view.clone() if p._device == "cpu" else view.to(p._device)
        else:
            g.copy_(view)


def _hook(ref, i):
    def hook(_param):
        r = ref()
        if r is not None:
            r.mark_ready(i)
    return hook
