"""Host memory statistics from the core's caching allocator, with PyTorch's
``memory_stats`` key names (``allocated_bytes.all.current`` ...)."""
from __future__ import annotations

from . import _core


def stats(device=None) -> dict:
    """stats(device=None) -> dict: allocator counters (current, peak, allocated, freed)."""
    return dict(_core.memory_stats())


memory_stats = stats


def memory_allocated(device=None) -> int:
    """Bytes currently held by live tensors."""
    return _core.memory_stats()["allocated_bytes.all.current"]


def max_memory_allocated(device=None) -> int:
    """Peak of ``memory_allocated`` since start or the last ``reset_peak_memory_stats``."""
    return _core.memory_stats()["allocated_bytes.all.peak"]


def memory_reserved(device=None) -> int:
    """Bytes held by the allocator, including cached free blocks."""
    return _core.memory_stats()["reserved_bytes.all.current"]


def max_memory_reserved(device=None) -> int:
    return _core.memory_stats()["reserved_bytes.all.peak"]


def empty_cache() -> None:
    """Returns cached free blocks to the system."""
    _core.empty_cache()


def reset_peak_memory_stats(device=None) -> None:
    _core.reset_peak_memory_stats()


def set_caching_enabled(enabled: bool) -> None:
    """Turns block caching on or off (off frees every block straight away; for measurement)."""
    _core.set_caching_allocator_enabled(bool(enabled))
