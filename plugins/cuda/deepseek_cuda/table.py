"""The plugin's ``ds_backend_table``: compiled in C (``deepseek_cuda._launch``, built by cffi
from ``csrc/`` with the package). Memory, copies, streams and launches are C calls into the
driver with no Python in between; Python only runs at load time (and compiles kernels on
their first use).
"""
from __future__ import annotations

import os
import threading

from . import driver

_lock = threading.Lock()
_table = None
ENV_STAGING = "DEEPSEEK_CUDA_STAGING_BYTES"


def load() -> int:
    """The table's address for the load hook (one table per process: loading again returns
    the same one). ``$DEEPSEEK_CUDA_STAGING_BYTES`` sets the size of each of a device's two
    pinned staging buffers (default 4 MiB)."""
    global _table
    lib = driver.lib
    with _lock:
        if _table is None:
            ok, why = driver.open_driver()
            if not ok:
                raise RuntimeError(why)
            staging = os.environ.get(ENV_STAGING)
            if staging:
                lib.cuda_set_staging_bytes(int(staging))
            _table = int(driver.ffi.cast("uintptr_t", lib.cuda_table()))
        return _table
