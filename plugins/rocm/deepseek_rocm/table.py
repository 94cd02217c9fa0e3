"""The plugin's ``ds_backend_table``: compiled in C (``deepseek_rocm._rocm``: the GPU host layer
of ``deepseek.backends.gpu`` over this plugin's HIP vendor table). Memory, copies, streams and
launches are C calls into the HIP runtime with no Python in between; Python only runs at load
time (and compiles kernels on their first use).
"""
from __future__ import annotations

import os
import threading

from deepseek.backends.gpu import install_registry

from . import programs, runtime  # noqa: F401 - programs defines the C module's Python callback

_lock = threading.Lock()
_table = None
ENV_STAGING = "DEEPSEEK_ROCM_STAGING_BYTES"


def load() -> int:
    """The table's address for the load hook (one table per process). ``$DEEPSEEK_ROCM_STAGING_BYTES``
    sets the size of each of a device's two pinned staging buffers (default 4 MiB); rocBLAS is
    loaded for matmul when the machine has it (:func:`runtime.open_blas`)."""
    global _table
    with _lock:
        if _table is None:
            ok, why = runtime.open_runtime()
            if not ok:
                raise RuntimeError(why)
            staging = os.environ.get(ENV_STAGING)
            if staging:
                runtime.lib.dsg_set_staging_bytes(int(staging))
            runtime.open_blas()
            install_registry(runtime.ffi, runtime.lib, runtime.check)
            _table = int(runtime.ffi.cast("uintptr_t", runtime.lib.dsg_table()))
        return _table
