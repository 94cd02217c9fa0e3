"""memory.empty_cache() returns the pages the C library's heap keeps after freed scratch."""
from __future__ import annotations

import ctypes
import os

import pytest

from deepseek import _heap, memory

_PAGE = os.sysconf("SC_PAGESIZE")


def _rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * _PAGE


@pytest.mark.skipif(_heap._trim is None, reason="the C library has no malloc_trim (not glibc)")
def test_empty_cache_returns_freed_heap_pages():
    libc = ctypes.CDLL(None)
    libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    # 64 KiB chunks stay below glibc's mmap threshold (128 KiB at least), so they come from
    # the heap; freeing every other one leaves each freed chunk between two live ones, where
    # it cannot merge into the heap's top (which free() alone would give back): the pattern
    # freed scratch buffers leave between longer-lived blocks
    chunk, n = 64 << 10, 1280
    blocks = []
    try:
        for _ in range(n):
            p = libc.malloc(chunk)
            assert p
            ctypes.memset(p, 1, chunk)  # resident
            blocks.append(p)
        for p in blocks[::2]:
            libc.free(p)
        held = _rss()
        memory.empty_cache()
        released = held - _rss()
        freed = n // 2 * chunk
        # the freed chunks were resident, and all but a page of each goes back
        assert released >= freed // 2, f"empty_cache released {released / 2**20:.1f} MiB of {freed / 2**20:.0f} MiB freed"
    finally:
        for p in blocks[1::2]:
            libc.free(p)


def test_trim_without_free_pages_is_harmless():
    assert isinstance(_heap.trim(), bool)
    memory.empty_cache()
    memory.empty_cache("cpu")
