"""Datasets and the DataLoader, as ``torch.utils.data``; datasets that ship offline."""
from __future__ import annotations

import math

from .. import _core
from .._core import Tensor
from . import datasets  # noqa: F401
from ._workers import WorkerInfo, get_worker_info  # noqa: F401


class Dataset:
    def __getitem__(self, index):
        raise NotImplementedError

    def __add__(self, other):
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    def __iter__(self):
        raise NotImplementedError


class TensorDataset(Dataset):
    """TensorDataset(*tensors): item i is ``tuple(t[i] for t in tensors)``."""

    def __init__(self, *tensors):
        n = tensors[0].shape[0]
        if any(t.shape[0] != n for t in tensors):
            raise ValueError(f"Size mismatch between tensors: first dims {[t.shape[0] for t in tensors]}")
        self.tensors = tensors

    def __getitem__(self, i):
        return tuple(t[i] for t in self.tensors)

    def __len__(self):
        return self.tensors[0].shape[0]


class ConcatDataset(Dataset):
    def __init__(self, datasets):
        self.datasets = list(datasets)
        self.cumulative = []
        s = 0
        for d in self.datasets:
            s += len(d)
            self.cumulative.append(s)

    def __len__(self):
        return self.cumulative[-1] if self.cumulative else 0

    def __getitem__(self, i):
        if i < 0:
            i += len(self)
        import bisect

        k = bisect.bisect_right(self.cumulative, i)
        prev = self.cumulative[k - 1] if k else 0
        return self.datasets[k][i - prev]


class Subset(Dataset):
    def __init__(self, dataset, indices):
        self.dataset, self.indices = dataset, list(indices)

    def __getitem__(self, i):
        if isinstance(i, list):
            return [self.dataset[self.indices[j]] for j in i]
        return self.dataset[self.indices[i]]

    def __len__(self):
        return len(self.indices)


def _perm(n, generator):
    from .._random import _gen

    return _core.randperm(n, "int64", _gen(generator)).tolist()


def random_split(dataset, lengths, generator=None):
    """random_split(dataset, lengths, generator=None): lengths as counts or fractions."""
    n = len(dataset)
    if all(0 <= x <= 1 for x in lengths) and math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        counts = [int(math.floor(n * f)) for f in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        lengths = counts
    if sum(lengths) != n:
        raise ValueError("Sum of input lengths does not equal the length of the input dataset!")
    p = _perm(n, generator)
    out, off = [], 0
    for length in lengths:
        out.append(Subset(dataset, p[off : off + length]))
        off += length
    return out


class Sampler:
    def __init__(self, data_source=None):
        pass


class SequentialSampler(Sampler):
    def __init__(self, data_source):
        self.data_source = data_source

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self):
        return len(self.data_source)


class RandomSampler(Sampler):
    def __init__(self, data_source, replacement=False, num_samples=None, generator=None):
        self.data_source, self.generator = data_source, generator

    def __iter__(self):
        return iter(_perm(len(self.data_source), self.generator))

    def __len__(self):
        return len(self.data_source)


class SubsetRandomSampler(Sampler):
    def __init__(self, indices, generator=None):
        self.indices, self.generator = list(indices), generator

    def __iter__(self):
        return iter([self.indices[i] for i in _perm(len(self.indices), self.generator)])

    def __len__(self):
        return len(self.indices)


class BatchSampler(Sampler):
    def __init__(self, sampler, batch_size, drop_last):
        if batch_size <= 0:
            raise ValueError(f"batch_size should be a positive integer value, but got batch_size={batch_size}")
        self.sampler, self.batch_size, self.drop_last = sampler, batch_size, drop_last

    def __iter__(self):
        b = []
        for i in self.sampler:
            b.append(i)
            if len(b) == self.batch_size:
                yield b
                b = []
        if b and not self.drop_last:
            yield b

    def __len__(self):
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)


class DistributedSampler(Sampler):
    """DistributedSampler(dataset, num_replicas=None, rank=None, shuffle=True, seed=0, drop_last=False)

    The share of ``dataset``'s indices that one of ``num_replicas`` processes reads, as
    ``torch.utils.data.DistributedSampler``: rank ``r`` takes every ``num_replicas``-th index
    starting at ``r``. With ``shuffle`` the order is a permutation drawn from ``seed + epoch``,
    the same on every rank, so call :meth:`set_epoch` at the start of each epoch for a new one.
    The indices are padded by repeating the first ones so every rank gets the same count, or,
    with ``drop_last=True``, the tail that does not divide evenly is dropped.
    ``num_replicas`` and ``rank`` default to those of the default process group.

    Example::

        >>> sampler = DistributedSampler(dataset)
        >>> loader = DataLoader(dataset, batch_size=32, sampler=sampler)
        >>> for epoch in range(epochs):
        ...     sampler.set_epoch(epoch)
        ...     for x, y in loader: ...
    """

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0, drop_last=False):
        if num_replicas is None or rank is None:
            from .. import distributed as dist

            if not dist.is_initialized():
                raise RuntimeError("DistributedSampler: num_replicas and rank default to the default process group's, "
                                   "which has not been initialized; call init_process_group or pass them")
            num_replicas = dist.get_world_size() if num_replicas is None else num_replicas
            rank = dist.get_rank() if rank is None else rank
        if not isinstance(num_replicas, int) or num_replicas <= 0:
            raise ValueError(f"num_replicas should be a positive integer, got {num_replicas}")
        if rank >= num_replicas or rank < 0:
            raise ValueError(f"Invalid rank {rank}, rank should be in the interval [0, {num_replicas - 1}]")
        self.dataset, self.num_replicas, self.rank = dataset, num_replicas, rank
        self.epoch, self.drop_last, self.shuffle, self.seed = 0, drop_last, shuffle, seed
        n = len(dataset)
        if drop_last and n % num_replicas != 0:
            self.num_samples = math.ceil((n - num_replicas) / num_replicas)
        else:
            self.num_samples = math.ceil(n / num_replicas)
        self.total_size = self.num_samples * num_replicas

    def __iter__(self):
        n = len(self.dataset)
        if self.shuffle:
            from .._random import Generator

            g = Generator()
            g.manual_seed(self.seed + self.epoch)
            indices = _perm(n, g)
        else:
            indices = list(range(n))
        if not self.drop_last:
            pad = self.total_size - len(indices)
            if pad <= len(indices):
                indices += indices[:pad]
            elif indices:
                indices += (indices * math.ceil(pad / len(indices)))[:pad]
        else:
            indices = indices[:self.total_size]
        return iter(indices[self.rank:self.total_size:self.num_replicas])

    def __len__(self):
        return self.num_samples

    def set_epoch(self, epoch):
        """set_epoch(epoch): the shuffle of the next iteration is drawn from ``seed + epoch``."""
        self.epoch = epoch


def default_collate(batch):
    """Stacks tensors, turns numbers into tensors, and recurses into tuples, lists and dicts."""
    from .. import _ops
    from .._creation import tensor

    e = batch[0]
    if isinstance(e, Tensor):
        return _ops.stack(batch, 0)
    if isinstance(e, bool):
        return tensor(batch, dtype="bool")
    if isinstance(e, int):
        return tensor(batch, dtype="int64")
    if isinstance(e, float):
        return tensor(batch, dtype="float64")
    if hasattr(e, "__array_interface__") and not isinstance(e, Tensor):
        import numpy as np

        return tensor(np.stack(batch))
    if isinstance(e, (str, bytes)):
        return list(batch)
    if isinstance(e, dict):
        return {k: default_collate([b[k] for b in batch]) for k in e}
    if isinstance(e, tuple) and hasattr(e, "_fields"):
        return type(e)(*(default_collate(list(s)) for s in zip(*batch)))
    if isinstance(e, (tuple, list)):
        return [default_collate(list(s)) for s in zip(*batch)]
    raise TypeError(f"default_collate: batch must contain tensors, numbers, dicts or lists; found {type(e).__name__}")


class DataLoader:
    """DataLoader(dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None,
    num_workers=0, collate_fn=None, pin_memory=False, drop_last=False, timeout=0,
    worker_init_fn=None, multiprocessing_context=None, generator=None, *, prefetch_factor=None,
    persistent_workers=False, pin_memory_device='', in_order=True)

    Batches of ``dataset``. With ``num_workers > 0`` the batches are fetched and collated in
    that many worker processes (``prefetch_factor`` batches ahead each) and come out in the same
    order as without workers; a worker's exception is re-raised here with its traceback.
    ``pin_memory`` is accepted (CPU tensors need no pinning here).
    """

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None, num_workers=0, collate_fn=None,
                 pin_memory=False, drop_last=False, timeout=0, worker_init_fn=None, multiprocessing_context=None,
                 generator=None, *, prefetch_factor=None, persistent_workers=False, pin_memory_device="", in_order=True):
        if not isinstance(num_workers, int) or isinstance(num_workers, bool) or num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to disable multiprocessing.")
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("prefetch_factor option could only be specified in multiprocessing.let num_workers > 0 to "
                             "enable multiprocessing, otherwise set prefetch_factor to None.")
        if prefetch_factor is not None and prefetch_factor <= 0:
            raise ValueError(f"prefetch_factor option should be positive, got {prefetch_factor}")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")
        self.num_workers, self.timeout, self.worker_init_fn = num_workers, timeout, worker_init_fn
        self.multiprocessing_context, self.prefetch_factor = multiprocessing_context, prefetch_factor
        self.persistent_workers, self.pin_memory, self.pin_memory_device = persistent_workers, pin_memory, pin_memory_device
        self.in_order = in_order
        self._workers_iter = None
        self.dataset = dataset
        self.collate_fn = collate_fn or default_collate
        self.generator = generator
        self._iterable = isinstance(dataset, IterableDataset)
        self.drop_last = drop_last
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, shuffle, sampler, and drop_last")
            self.batch_sampler = batch_sampler
            self.batch_size = None
            self.sampler = None
        else:
            if sampler is not None and shuffle:
                raise ValueError("sampler option is mutually exclusive with shuffle")
            if not self._iterable:
                sampler = sampler or (RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset))
            self.sampler = sampler
            self.batch_size = batch_size
            self.batch_sampler = BatchSampler(sampler, batch_size, drop_last) if batch_size is not None and not self._iterable else None

    def __iter__(self):
        if self.num_workers > 0:
            from ._workers import MultiProcessIter

            if self.persistent_workers and self._workers_iter is not None and not self._workers_iter._closed:
                self._workers_iter._reset()
                return self._workers_iter
            it = MultiProcessIter(self)
            if self.persistent_workers:
                self._workers_iter = it
            return it
        return self._single_process_iter()

    def _single_process_iter(self):
        if self._iterable:
            buf = []
            for x in self.dataset:
                buf.append(x)
                if len(buf) == self.batch_size:
                    yield self.collate_fn(buf)
                    buf = []
            if buf and not self.drop_last:
                yield self.collate_fn(buf)
            return
        if self.batch_sampler is None:
            for i in self.sampler:
                yield self.dataset[i]
            return
        fast = isinstance(self.dataset, TensorDataset) and self.collate_fn is default_collate
        for idx in self.batch_sampler:
            if fast:
                from .._creation import tensor

                it = tensor(idx, dtype="int64")
                yield [_core.index_select(t, 0, it) for t in self.dataset.tensors]
            else:
                yield self.collate_fn([self.dataset[i] for i in idx])

    def __len__(self):
        if self.batch_sampler is not None:
            return len(self.batch_sampler)
        return len(self.dataset)
