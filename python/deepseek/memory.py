"""Memory statistics from the core's caching allocators (the host's, and one per plugin
device), with PyTorch's ``memory_stats`` key names (``allocated_bytes.all.current`` ...).
Every function takes ``device`` (None or "cpu" for the host, "opencl:0"...)."""
from __future__ import annotations

from . import _core


def _dev(device):
    from ._creation import _check_device

    return _check_device(device)


def stats(device=None) -> dict:
    """stats(device=None) -> dict: allocator counters (current, peak, allocated, freed)."""
    return dict(_core.memory_stats(_dev(device)))


memory_stats = stats


def memory_allocated(device=None) -> int:
    """Bytes currently held by live tensors."""
    return stats(device)["allocated_bytes.all.current"]


def max_memory_allocated(device=None) -> int:
    """Peak of ``memory_allocated`` since start or the last ``reset_peak_memory_stats``."""
    return stats(device)["allocated_bytes.all.peak"]


def memory_reserved(device=None) -> int:
    """Bytes held by the allocator, including cached free blocks."""
    return stats(device)["reserved_bytes.all.current"]


def max_memory_reserved(device=None) -> int:
    return stats(device)["reserved_bytes.all.peak"]


def empty_cache(device=None) -> None:
    """Returns cached free blocks to the system (or to the device's plugin). For the host,
    also the pages the C library's heap keeps after kernels freed their scratch."""
    dev = _dev(device)
    _core.empty_cache(dev)
    if dev is None:  # the host
        from . import _heap

        _heap.trim()


def reset_peak_memory_stats(device=None) -> None:
    _core.reset_peak_memory_stats(_dev(device))


def set_caching_enabled(enabled: bool, device=None) -> None:
    """Turns block caching on or off (off frees every block straight away; for measurement)."""
    _core.set_caching_allocator_enabled(bool(enabled), _dev(device))
