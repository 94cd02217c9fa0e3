"""DataLoader worker processes (issue 16): the same batches as without workers, worker errors
re-raised with their traceback, no process left behind after an error or an interrupt, and
PyTorch's argument checks."""
from __future__ import annotations

import gc
import multiprocessing as mp
import os
import time

import pytest

import deepseek as ds
from deepseek.data import DataLoader, Dataset, IterableDataset, TensorDataset, get_worker_info
from deepseek.utils.data import DataLoader as UtilsDataLoader


def _no_children():
    gc.collect()
    deadline = time.time() + 5
    while mp.active_children() and time.time() < deadline:
        time.sleep(0.05)
    return mp.active_children() == []


def _as_lists(batches):
    return [[t.tolist() for t in b] if isinstance(b, (list, tuple)) else b.tolist() for b in batches]


class Items(Dataset):
    """Items of several kinds (tensors, numbers, dicts) to exercise collation across processes."""

    def __len__(self):
        return 13

    def __getitem__(self, i):
        return {"x": ds.full((2,), float(i)), "i": i, "name": f"s{i}", "half": ds.tensor([i], dtype=ds.bfloat16)}


def test_same_batches_as_without_workers():
    assert UtilsDataLoader is DataLoader
    x, y = ds.arange(60.0).reshape(30, 2), ds.arange(30)
    d = TensorDataset(x, y)
    for kw in (dict(batch_size=4), dict(batch_size=4, drop_last=True), dict(batch_size=7, shuffle=True)):
        ref = _as_lists(DataLoader(d, generator=ds.Generator().manual_seed(3), **kw))
        got = _as_lists(DataLoader(d, num_workers=3, generator=ds.Generator().manual_seed(3), **kw))
        assert got == ref and len(got) == len(DataLoader(d, **kw))
    ref = list(DataLoader(Items(), batch_size=5))
    got = list(DataLoader(Items(), batch_size=5, num_workers=2, prefetch_factor=1))
    assert len(got) == len(ref) == 3
    for r, g in zip(ref, got):
        assert g["x"].tolist() == r["x"].tolist() and g["i"].tolist() == r["i"].tolist() and g["name"] == r["name"]
        assert g["half"].dtype == ds.bfloat16 and g["half"].tolist() == r["half"].tolist()
    assert _no_children()


class Failing(Dataset):
    def __len__(self):
        return 10

    def __getitem__(self, i):
        if i == 7:
            raise ValueError(f"cannot read item {i}")
        return ds.tensor([i])


def test_worker_exception_is_reraised_with_its_traceback():
    with pytest.raises(ValueError) as info:
        list(DataLoader(Failing(), batch_size=2, num_workers=2))
    msg = str(info.value)
    assert "in DataLoader worker process" in msg and "cannot read item 7" in msg and "Traceback" in msg
    assert "__getitem__" in msg
    assert _no_children()


def test_no_orphans_after_interrupt_or_early_exit():
    d = TensorDataset(ds.arange(100.0))
    with pytest.raises(KeyboardInterrupt):
        for _ in DataLoader(d, batch_size=2, num_workers=2):
            raise KeyboardInterrupt
    assert _no_children()
    it = iter(DataLoader(d, batch_size=2, num_workers=2))
    next(it)
    del it
    assert _no_children()


class Dies(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        if i == 2:
            os._exit(3)
        return ds.tensor([i])


class Slow(Dataset):
    def __len__(self):
        return 2

    def __getitem__(self, i):
        time.sleep(3)
        return ds.tensor([i])


def test_dead_worker_and_timeout():
    with pytest.raises(RuntimeError, match="exited unexpectedly"):
        list(DataLoader(Dies(), batch_size=1, num_workers=2))
    assert _no_children()
    with pytest.raises(RuntimeError, match="timed out after 0.5 seconds"):
        list(DataLoader(Slow(), batch_size=1, num_workers=1, timeout=0.5))
    assert _no_children()


class WhoAmI(Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, i):
        info = get_worker_info()
        return ds.tensor([info.id, os.getpid(), info.seed % 1000, int(ds.randint(0, 10 ** 6, (1,)))])


def _init(worker_id):
    os.environ["DEEPSEEK_TEST_WORKER"] = str(worker_id)


def test_worker_info_seeds_init_fn_and_persistent_workers():
    assert get_worker_info() is None
    dl = DataLoader(WhoAmI(), batch_size=1, num_workers=2, persistent_workers=True, worker_init_fn=_init,
                    generator=ds.Generator().manual_seed(0))
    first = [b[0].tolist() for b in dl]
    second = [b[0].tolist() for b in dl]
    assert [r[0] for r in first] == [0, 1] * 4  # batches alternate between the workers, in order
    pids = {r[1] for r in first}
    assert len(pids) == 2 and {r[1] for r in second} == pids  # the same processes in the next epoch
    assert len({r[2] for r in first}) == 2  # each worker has its own seed
    assert len({r[3] for r in first}) > 2  # and so its own random stream
    del dl
    assert _no_children()


class Range(IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        w = get_worker_info()
        k, m = (0, 1) if w is None else (w.id, w.num_workers)
        return iter(ds.tensor([i]) for i in range(k, self.n, m))


def test_iterable_dataset_sharded_by_worker_info():
    single = sorted(sum(_as_lists(DataLoader(Range(11), batch_size=2)), []), key=lambda v: v[0])
    multi = sorted(sum(_as_lists(DataLoader(Range(11), batch_size=2, num_workers=3)), []), key=lambda v: v[0])
    assert multi == single == [[i] for i in range(11)]
    assert _no_children()


def test_argument_checks():
    d = TensorDataset(ds.arange(4.0))
    with pytest.raises(TypeError, match="unexpected keyword argument 'workers'"):
        DataLoader(d, workers=2)
    with pytest.raises(ValueError, match="num_workers option should be non-negative"):
        DataLoader(d, num_workers=-1)
    with pytest.raises(ValueError, match="persistent_workers option needs num_workers > 0"):
        DataLoader(d, persistent_workers=True)
    with pytest.raises(ValueError, match="prefetch_factor"):
        DataLoader(d, prefetch_factor=2)
    with pytest.raises(ValueError, match="timeout"):
        DataLoader(d, timeout=-1)
    assert DataLoader(d, pin_memory=True).pin_memory
