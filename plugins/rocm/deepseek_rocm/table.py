"""The plugin's ``ds_backend_table``: compiled in C (``deepseek_rocm._rocm``: the GPU host layer
of ``deepseek.backends.gpu`` over this plugin's HIP vendor table). Memory, copies, streams and
launches are C calls into the HIP runtime with no Python in between; Python only runs at load
time (and compiles kernels on their first use).
"""
from __future__ import annotations

import os
import threading

from . import programs, runtime  # noqa: F401 - programs defines the C module's Python callback

_lock = threading.Lock()
_table = None
ENV_STAGING = "DEEPSEEK_ROCM_STAGING_BYTES"


def native_ops() -> list:
    """The primitive ops the shared planner runs (the others answer not implemented, and the
    core runs them on the CPU)."""
    from deepseek.backends import kernels
    from deepseek.backends.primitives import PRIMITIVE_OP_NAMES

    reg = kernels.plan_registry(PRIMITIVE_OP_NAMES)
    return [op for op, kind in zip(PRIMITIVE_OP_NAMES, reg["kinds"]) if kind != 0]


def _set_registry() -> None:
    from deepseek.backends import kernels
    from deepseek.backends.primitives import OP_IDS, PRIMITIVE_OP_NAMES

    ffi, lib = runtime.ffi, runtime.lib
    reg = kernels.plan_registry(PRIMITIVE_OP_NAMES)
    names = [ffi.new("char[]", op.encode()) for op in PRIMITIVE_OP_NAMES]
    runtime.check(lib.dsg_set_registry(
        len(PRIMITIVE_OP_NAMES), ffi.new("uint8_t[]", reg["kinds"] or [0]), ffi.new("int32_t[]", reg["codes"] or [0]),
        ffi.new("uint8_t[]", reg["defined"] or [0]), ffi.new("uint8_t[]", reg["acc_sizes"]),
        ffi.new("double[]", reg["rand_tops"]), ffi.new("char *[]", names)))
    ops = [OP_IDS[op] for op in native_ops()]
    lib.dsg_set_ops(ffi.new("int32_t[]", ops or [0]), len(ops))


def load() -> int:
    """The table's address for the load hook (one table per process). ``$DEEPSEEK_ROCM_STAGING_BYTES``
    sets the size of each of a device's two pinned staging buffers (default 4 MiB)."""
    global _table
    with _lock:
        if _table is None:
            ok, why = runtime.open_runtime()
            if not ok:
                raise RuntimeError(why)
            staging = os.environ.get(ENV_STAGING)
            if staging:
                runtime.lib.dsg_set_staging_bytes(int(staging))
            _set_registry()
            _table = int(runtime.ffi.cast("uintptr_t", runtime.lib.dsg_table()))
        return _table
