"""The C library's heap: returning its free pages to the system.

Kernel scratch (im2col columns, Winograd tiles, packed GEMM panels) and small tensor blocks
come from the C library's ``malloc``. glibc keeps what is freed: its mmap threshold rises
to the largest chunk freed so far (up to 32 MiB), so after the first large scratch buffer
is freed, later ones come from the heap, and the per-thread arenas hold every page freed
in the middle of a heap until ``malloc_trim``. A step that ran once with more scratch (the
eager step a traced step is recorded from) leaves tens of MiB resident that later steps
never use. Fixing the mmap threshold instead (``M_MMAP_THRESHOLD``) releases it too, but
then every scratch buffer is mapped and faulted in again on each call: measured 50% more
CPU time per ResNet-50 training step (bench/RESULTS.md, "Memory outside the allocator").
"""
from __future__ import annotations

import ctypes
import ctypes.util
import sys

_trim = None
if sys.platform.startswith("linux"):
    try:
        _trim = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
        _trim.argtypes, _trim.restype = [ctypes.c_size_t], ctypes.c_int
    except (OSError, AttributeError):  # not glibc (musl has no malloc_trim)
        _trim = None


def trim() -> bool:
    """Returns the C heap's free pages (in every arena, not only at the top) to the system.
    True when some memory was released; False when none was or the C library cannot."""
    return bool(_trim(0)) if _trim is not None else False
