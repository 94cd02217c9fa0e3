"""The HIP runtime as the C module ``deepseek_rocm._rocm`` opened it: where it was found, the
devices it sees and their facts. Everything raises :class:`RocmError` with HIP's own error name
and description (``hipMemGetInfo(rocm:0): hipErrorX: ...``), MemoryError for out of memory.

The runtime (``libamdhip64.so``) is looked for where ROCm installs it, in this order:
``$DEEPSEEK_ROCM_RUNTIME`` (a file; nothing else is tried, for tests), ``$ROCM_PATH/lib``,
``/opt/rocm/lib``, ``/opt/rocm-<version>/lib`` (newest first), then the loader's path.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

try:
    from ._rocm import ffi, lib
except ImportError as exc:  # a source checkout that was never built
    ffi = lib = None
    NOT_BUILT = f"deepseek_rocm._rocm is not built ({exc}): pip install plugins/rocm builds it"
else:
    NOT_BUILT = ""

ENV_RUNTIME = "DEEPSEEK_ROCM_RUNTIME"
ENV_ROCBLAS = "DEEPSEEK_ROCM_ROCBLAS"  # a librocblas.so to use, or "none"
ROCBLAS_NAMES = ("librocblas.so", "librocblas.so.4", "librocblas.so.3")
LIBRARY = "libamdhip64.so"
# What the loader may know the runtime as (the unversioned name comes with the -dev package)
LOADER_NAMES = (LIBRARY, f"{LIBRARY}.6", f"{LIBRARY}.5")
DS_OK, DS_ERROR_OUT_OF_MEMORY, DS_ERROR_NOT_IMPLEMENTED = 0, 2, 3

# hipDeviceAttribute_t values (ROCm 5+), as csrc/hip_api.h declares those the C side uses
ATTRIBUTES = {
    "integrated": 16, "l2_cache_size": 19, "max_block_dim_x": 26, "max_grid_dim_x": 29,
    "max_threads_per_block": 56, "max_threads_per_multi_processor": 57, "multi_processor_count": 63,
    "max_shared_memory_per_block": 74, "warp_size": 87,
}


class RocmError(RuntimeError):
    """A HIP call failed; ``status`` is the ds_status the C side answered."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


def error_message() -> str:
    return ffi.string(lib.dsg_error()).decode("utf-8", "replace")


def check(status: int) -> None:
    """Raises the C side's last error unless ``status`` is DS_OK (MemoryError for out of memory)."""
    if status == DS_OK:
        return
    if status == DS_ERROR_OUT_OF_MEMORY:
        raise MemoryError(error_message())
    raise RocmError(error_message(), status)


def _version_key(path: Path):
    return [int(p) if p.isdigit() else -1 for p in re.split(r"[.-]", path.name)]


def search_dirs() -> list:
    """The folders where ROCm installs the runtime, in the order they are tried."""
    dirs = []
    if os.environ.get("ROCM_PATH"):
        dirs.append(Path(os.environ["ROCM_PATH"]) / "lib")
    dirs.append(Path("/opt/rocm/lib"))
    dirs += [p / "lib" for p in sorted(Path("/opt").glob("rocm-*"), key=_version_key, reverse=True)]
    return dirs


def candidates() -> tuple:
    """``(paths or names for dlopen, where they were looked for)``."""
    override = os.environ.get(ENV_RUNTIME)
    if override:
        return [override], override
    found = [str(d / name) for d in search_dirs() for name in LOADER_NAMES if (d / name).is_file()]
    where = ", ".join(str(d) for d in search_dirs())
    if not any(str(d).startswith("/opt/rocm-") for d in search_dirs()):
        where += ", /opt/rocm-*/lib"
    where += " or the loader path"
    if not os.environ.get("ROCM_PATH"):
        where += " (ROCM_PATH is not set)"
    return found + list(LOADER_NAMES), where


def open_runtime():
    """``(True, "")`` once the runtime is open (the first call opens it), else
    ``(False, reason)``: "no ROCm runtime: libamdhip64.so not found in ..." when it is
    missing, "no AMD GPU: ..." when it sees no device."""
    if lib is None:
        return False, NOT_BUILT
    names, where = candidates()
    keep = [ffi.new("char[]", n.encode()) for n in names]
    status = lib.rocm_open(ffi.new("char *[]", keep), len(keep))
    if status == DS_OK:
        return True, ""
    if status == DS_ERROR_NOT_IMPLEMENTED:  # nothing loaded: say where it was looked for
        if os.environ.get(ENV_RUNTIME):
            return False, f"no ROCm runtime: {where} not found"
        return False, f"no ROCm runtime: {LIBRARY} not found in {where}"
    return False, error_message()


def open_blas() -> str:
    """Loads rocBLAS for matmul after the runtime is open: ``$DEEPSEEK_ROCM_ROCBLAS`` (a file,
    or "none"), else beside the runtime, in the ROCm folders, then on the loader path. Answers
    the library used, or "" (matmul then runs the portable kernel)."""
    override = os.environ.get(ENV_ROCBLAS)
    if override and override.lower() == "none":
        return ""
    if override:
        names = [override]
    else:
        dirs = [Path(runtime_path()).parent, *search_dirs()]
        names = [str(d / n) for d in dirs for n in ROCBLAS_NAMES if (d / n).is_file()] + list(ROCBLAS_NAMES)
    keep = [ffi.new("char[]", n.encode()) for n in names]
    if lib.rocm_open_blas(ffi.new("char *[]", keep), len(keep)) != DS_OK:
        return ""
    return ffi.string(lib.rocm_blas_path()).decode()


def blas_path() -> str:
    """The rocBLAS library matmul uses ("" when none)."""
    return ffi.string(lib.rocm_blas_path()).decode() if lib is not None else ""


def runtime_path() -> str:
    """The file the runtime was opened from ("" before it is)."""
    return ffi.string(lib.rocm_runtime_path()).decode() if lib is not None else ""


def runtime_version() -> tuple:
    """``(major, minor)`` of HIP, from hipRuntimeGetVersion."""
    out = ffi.new("int32_t *")
    check(lib.rocm_runtime_version(out))
    return out[0] // 10_000_000, out[0] // 100_000 % 100


def device_count() -> int:
    out = ffi.new("int32_t *")
    check(lib.dsg_device_count(out))
    return out[0]


def name(device: int) -> str:
    buf = ffi.new("char[]", 256)
    check(lib.rocm_device_name(device, buf, 256))
    return ffi.string(buf).decode("utf-8", "replace")


def target(device: int) -> str:
    """The device's full gfx target, with its features (``gfx90a:sramecc+:xnack-``)."""
    buf = ffi.new("char[]", 128)
    check(lib.rocm_device_arch(device, buf, 128))
    return ffi.string(buf).decode("ascii", "replace")


def arch(device: int) -> str:
    """The device's gfx architecture (``gfx90a``), what kernels are compiled for."""
    return target(device).split(":", 1)[0]


def attribute(device: int, attr: str) -> int:
    out = ffi.new("int32_t *")
    check(lib.rocm_device_attribute(device, ATTRIBUTES[attr], out))
    return out[0]


def total_memory(device: int) -> int:
    out = ffi.new("uint64_t *")
    check(lib.rocm_total_mem(device, out))
    return out[0]


def properties(device: int) -> dict:
    """The device's facts, named as ``torch.cuda.get_device_properties`` names them on ROCm
    (``gcnArchName``; ``major``/``minor`` from the gfx number: gfx90a is 9.0, gfx1100 11.0)."""
    full = target(device)
    gfx = full.split(":", 1)[0]
    digits = gfx[3:]
    major = int(digits[:-2]) if len(digits) > 2 and digits[:-2].isdigit() else None
    minor = int(digits[-2], 16) if len(digits) > 2 else None
    return {
        "name": name(device), "total_memory": total_memory(device), "major": major, "minor": minor,
        "multi_processor_count": attribute(device, "multi_processor_count"), "gcnArchName": full, "arch": gfx,
        "max_threads_per_block": attribute(device, "max_threads_per_block"),
        "warp_size": attribute(device, "warp_size"), "is_integrated": bool(attribute(device, "integrated")),
    }
