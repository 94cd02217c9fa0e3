"""The caching allocator's statistics (PyTorch's ``memory_stats`` key names) track live
tensors exactly and return to their baseline once the tensors are freed."""
from __future__ import annotations

import gc

import numpy as np
import pytest

import deepseek as ds
from deepseek import memory

KEYS = ["allocated_bytes.all.current", "allocated_bytes.all.peak", "reserved_bytes.all.current",
        "reserved_bytes.all.peak"]


def current():
    gc.collect()
    return memory.stats()["allocated_bytes.all.current"]


def test_stats_keys_and_types():
    s = memory.stats()
    for k in KEYS:
        assert k in s, k
        assert isinstance(s[k], int) and s[k] >= 0
    assert memory.memory_stats() == memory.stats() or set(memory.memory_stats()) == set(s)
    assert s["allocated_bytes.all.peak"] >= s["allocated_bytes.all.current"]
    assert s["reserved_bytes.all.current"] >= s["allocated_bytes.all.current"]
    assert memory.memory_allocated() == memory.stats()["allocated_bytes.all.current"]


def test_allocation_is_counted_and_returned():
    base = current()
    x = ds.empty(1000, dtype=ds.float32)
    assert current() - base >= 4000
    y = ds.zeros(250, 4, dtype=ds.float64)
    assert current() - base >= 4000 + 8000
    del x, y
    assert current() == base


def test_views_do_not_allocate():
    x = ds.ones(64, 64)
    base = current()
    v = x.t()[::2].unsqueeze(0).expand(3, 32, 64)
    w = x.reshape(4096)
    assert current() == base
    del v, w
    assert current() == base


def test_ops_and_autograd_return_to_baseline():
    base = current()
    for _ in range(3):
        x = ds.randn(32, 16, requires_grad=True)
        w = ds.randn(16, 8, requires_grad=True)
        y = (x @ w).relu().softmax(-1).log().mean()
        y.backward()
        assert x.grad is not None
        del x, w, y
    assert current() == base


def test_graph_frees_saved_tensors_when_released():
    base = current()
    x = ds.randn(128, 128, requires_grad=True)
    after_x = current()
    y = (x.exp() * x.sin()).sum()
    assert current() > after_x  # saved tensors are alive while the graph is
    y.backward()
    # the engine frees saved tensors once their node has run; only x and x.grad remain
    del y
    assert current() - base == 2 * 128 * 128 * 4
    del x
    assert current() == base


def test_peak_and_reset_peak():
    memory.reset_peak_memory_stats()
    base = current()
    assert memory.max_memory_allocated() == memory.memory_allocated()
    big = ds.empty(1 << 16, dtype=ds.float64)  # 512 KiB
    peak = memory.max_memory_allocated()
    assert peak >= base + (1 << 19)
    del big
    gc.collect()
    assert memory.max_memory_allocated() == peak  # the peak stays
    memory.reset_peak_memory_stats()
    assert memory.max_memory_allocated() == memory.memory_allocated() == base


def test_empty_cache_releases_reserved_memory():
    memory.empty_cache()
    base_reserved = memory.memory_reserved()
    x = ds.empty(1 << 18, dtype=ds.float32)  # 1 MiB
    assert memory.memory_reserved() >= base_reserved + (1 << 20)
    del x
    gc.collect()
    cached = memory.memory_reserved()
    memory.empty_cache()
    assert memory.memory_reserved() <= cached
    assert memory.memory_reserved() == base_reserved
    # the freed block is reused: allocating the same size again needs no new reservation
    y = ds.empty(1 << 18, dtype=ds.float32)
    r1 = memory.memory_reserved()
    del y
    gc.collect()
    z = ds.empty(1 << 18, dtype=ds.float32)
    assert memory.memory_reserved() == r1
    del z


def test_numpy_sharing_keeps_storage_alive():
    base = current()
    x = ds.arange(1000, dtype=ds.float64)
    a = x.numpy()
    del x
    gc.collect()
    assert current() > base  # the array still uses the tensor's memory
    np.testing.assert_array_equal(a[:3], [0, 1, 2])
    del a
    assert current() == base


def test_oversized_allocation_raises_memory_error():
    base = current()
    with pytest.raises(MemoryError):
        ds.empty(1 << 60, dtype=ds.float64)
    with pytest.raises(MemoryError):
        ds.zeros(1 << 62, 4)  # the byte count would overflow
    assert current() == base


def test_caching_can_be_disabled():
    memory.set_caching_enabled(False)
    try:
        memory.empty_cache()
        r0 = memory.memory_reserved()
        x = ds.empty(1 << 16)
        del x
        gc.collect()
        assert memory.memory_reserved() == r0
    finally:
        memory.set_caching_enabled(True)
