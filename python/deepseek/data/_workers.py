"""DataLoader worker processes: each worker fetches and collates whole batches; the main
process hands out batch indices, keeps ``prefetch_factor`` batches in flight per worker and
yields the results in sampler order, so the batches are those of ``num_workers=0``.

Tensors cross the process boundary as raw bytes (deepseek tensors are never pickled). A worker
that raises sends its exception and traceback, which the main process re-raises. Workers are
daemon processes that also exit when their parent disappears, and the iterator shuts them down
on exhaustion, on error, on ``del`` and at interpreter exit: none is left behind.
"""
from __future__ import annotations

import itertools
import os
import queue
import random
import threading
import traceback
import weakref
from collections import namedtuple

from .. import _core
from .._core import Tensor

WorkerInfo = namedtuple("WorkerInfo", ["id", "num_workers", "seed", "dataset"])
_worker_info = None
_POLL = 0.1


def get_worker_info():
    """In a DataLoader worker process: WorkerInfo(id, num_workers, seed, dataset); None in the
    main process."""
    return _worker_info


# ---------------- tensors across processes ----------------

class _TensorBytes:
    __slots__ = ("data", "shape", "dtype")

    def __init__(self, t):
        t = t.detach()
        if t._device != "cpu":
            t = t.cpu()
        self.data, self.shape, self.dtype = _core.to_bytes(t), list(t.shape), t._dtype


def _pack(obj):
    if isinstance(obj, Tensor):
        return _TensorBytes(obj)
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return type(obj)(*(_pack(v) for v in obj))
    if isinstance(obj, (list, tuple)):
        return type(obj)(_pack(v) for v in obj)
    if isinstance(obj, dict):
        return type(obj)((k, _pack(v)) for k, v in obj.items())
    return obj


def _unpack(obj):
    if isinstance(obj, _TensorBytes):
        return _core.from_bytes(obj.data, obj.shape, obj.dtype)
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return type(obj)(*(_unpack(v) for v in obj))
    if isinstance(obj, (list, tuple)):
        return type(obj)(_unpack(v) for v in obj)
    if isinstance(obj, dict):
        return type(obj)((k, _unpack(v)) for k, v in obj.items())
    return obj


class _ExceptionWrapper:
    """An exception raised in a worker: its type and formatted traceback."""

    def __init__(self, exc, where):
        self.exc_type = type(exc)
        self.msg = f"Caught {type(exc).__name__} {where}.\nOriginal {''.join(traceback.format_exception(exc))}"

    def reraise(self):
        if self.exc_type is KeyError:
            raise KeyError(self.msg)  # KeyError quotes its message; PyTorch keeps it readable the same way
        try:
            err = self.exc_type(self.msg)
        except Exception:
            raise RuntimeError(self.msg) from None
        raise err


class _IterableEnd:
    """A worker's iterable dataset is exhausted."""

    def __init__(self, worker_id):
        self.worker_id = worker_id


# ---------------- the worker ----------------

def _worker_loop(dataset, index_queue, result_queue, collate_fn, auto_collation, batch_size, drop_last, iterable,
                 worker_id, num_workers, seed, init_fn, parent_pid):
    global _worker_info
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the main process decides; it shuts workers down
    _core.set_num_threads(1)
    random.seed(seed)
    from .._random import manual_seed

    manual_seed(seed % (2 ** 63))
    _worker_info = WorkerInfo(worker_id, num_workers, seed, dataset)
    init_error = None
    if init_fn is not None:
        try:
            init_fn(worker_id)
        except Exception as e:  # reported with the first task
            init_error = _ExceptionWrapper(e, f"in DataLoader worker process {worker_id} (worker_init_fn)")
    it = None
    while True:
        try:
            task = index_queue.get(timeout=1.0)
        except queue.Empty:
            if os.getppid() != parent_pid:
                return  # the main process is gone
            continue
        if task is None:
            return
        kind, idx, indices = task
        if kind == "reset":
            it = None
            continue
        if init_error is not None:
            result_queue.put((idx, init_error))
            continue
        try:
            if iterable:
                if it is None:
                    it = iter(dataset)
                if auto_collation:
                    batch = list(itertools.islice(it, batch_size))
                    if not batch or (drop_last and len(batch) < batch_size):
                        data = _IterableEnd(worker_id)
                    else:
                        data = collate_fn(batch)
                else:
                    try:
                        data = next(it)
                    except StopIteration:
                        data = _IterableEnd(worker_id)
            elif auto_collation:
                data = collate_fn([dataset[i] for i in indices])
            else:
                data = dataset[indices]  # batch_size=None: items as they are, as without workers
            result_queue.put((idx, data if isinstance(data, _IterableEnd) else _pack(data)))
        except Exception as e:
            result_queue.put((idx, _ExceptionWrapper(e, f"in DataLoader worker process {worker_id}")))


# ---------------- the main process's side ----------------

_live = weakref.WeakSet()


def _shutdown_all():
    for it in list(_live):
        it._shutdown()


import atexit  # noqa: E402

atexit.register(_shutdown_all)


def _base_seed(generator):
    """The workers' base seed: from the generator's current state when one is given (without
    drawing from it, so the sampler's shuffle is that of ``num_workers=0``), else fresh."""
    if generator is None:
        return random.getrandbits(62)
    import hashlib

    state = generator.get_state()
    raw = _core.to_bytes(state) if isinstance(state, Tensor) else repr(state).encode()
    return int.from_bytes(hashlib.sha256(raw).digest()[:8], "little") >> 2


class MultiProcessIter:
    """The iterator of a DataLoader with ``num_workers > 0``."""

    def __init__(self, loader):
        import multiprocessing as mp

        self._loader = loader
        ctx = loader.multiprocessing_context
        if ctx is None:
            ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else mp.get_context()
        elif isinstance(ctx, str):
            ctx = mp.get_context(ctx)
        n = loader.num_workers
        self._num_workers = n
        self._iterable = loader._iterable
        self._prefetch = loader.prefetch_factor if loader.prefetch_factor is not None else 2
        self._timeout = loader.timeout
        base_seed = _base_seed(loader.generator)
        self._result_queue = ctx.Queue()
        self._index_queues, self._workers = [], []
        auto = loader.batch_size is not None
        for wid in range(n):
            iq = ctx.Queue()
            w = ctx.Process(target=_worker_loop, daemon=True, args=(
                loader.dataset, iq, self._result_queue, loader.collate_fn, auto, loader.batch_size, loader.drop_last,
                self._iterable, wid, n, base_seed + wid, loader.worker_init_fn, os.getpid()))
            w.start()
            self._index_queues.append(iq)
            self._workers.append(w)
        self._closed = False
        _live.add(self)
        self._reset()

    def _reset(self):
        loader = self._loader
        self._send_idx = self._rcvd_idx = 0
        self._pending = {}  # task index -> worker id (sent, not yet yielded)
        self._done = {}  # task index -> result received early
        self._active = set(range(self._num_workers))  # workers whose iterable dataset is not exhausted
        self._next_worker = itertools.cycle(range(self._num_workers))
        if self._iterable:
            self._indices = None
            for q in self._index_queues:
                q.put(("reset", -1, None))
        else:
            self._indices = iter(loader.batch_sampler if loader.batch_sampler is not None else loader.sampler)
        self._exhausted = False
        for _ in range(self._prefetch * self._num_workers):
            self._put_task()

    def _put_task(self):
        if self._exhausted:
            return
        if self._iterable:
            live = [w for w in range(self._num_workers) if w in self._active]
            if not live:
                self._exhausted = True
                return
            wid = next(w for w in self._next_worker if w in self._active)
            indices = None
        else:
            try:
                indices = next(self._indices)
            except StopIteration:
                self._exhausted = True
                return
            wid = next(self._next_worker)
        self._index_queues[wid].put(("fetch", self._send_idx, indices))
        self._pending[self._send_idx] = wid
        self._send_idx += 1

    def __iter__(self):
        return self

    def _get(self):
        waited = 0.0
        while True:
            try:
                return self._result_queue.get(timeout=_POLL)
            except queue.Empty:
                waited += _POLL
                dead = [w for w in self._workers if not w.is_alive()]
                if dead:
                    pids = ", ".join(str(w.pid) for w in dead)
                    codes = ", ".join(str(w.exitcode) for w in dead)
                    self._shutdown()
                    raise RuntimeError(f"DataLoader worker (pid(s) {pids}) exited unexpectedly (exit code(s) {codes})")
                if self._timeout and waited >= self._timeout:
                    self._shutdown()
                    raise RuntimeError(f"DataLoader timed out after {self._timeout} seconds")

    def __next__(self):
        if self._closed:
            raise StopIteration
        while True:
            if self._rcvd_idx in self._done:
                data = self._done.pop(self._rcvd_idx)
                self._pending.pop(self._rcvd_idx, None)
                self._rcvd_idx += 1
                if isinstance(data, _IterableEnd):
                    self._active.discard(data.worker_id)
                    self._put_task()
                    continue
                self._put_task()
                if isinstance(data, _ExceptionWrapper):
                    self._shutdown()
                    data.reraise()
                return _unpack(data)
            if self._rcvd_idx not in self._pending:
                self._end_epoch()
                raise StopIteration
            idx, data = self._get()
            self._done[idx] = data

    def _end_epoch(self):
        if not self._loader.persistent_workers:
            self._shutdown()

    def _shutdown(self):
        if getattr(self, "_closed", True):
            return
        self._closed = True
        for q in self._index_queues:
            try:
                q.put(None)
            except (OSError, ValueError):
                pass
        for w in self._workers:
            w.join(timeout=2.0)
            if w.is_alive():
                w.terminate()
                w.join(timeout=1.0)
        for q in self._index_queues + [self._result_queue]:
            q.cancel_join_thread()
            q.close()
        _live.discard(self)

    def __del__(self):
        self._shutdown()


del threading
