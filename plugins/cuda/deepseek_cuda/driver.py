"""The CUDA driver as the C module ``deepseek_cuda._launch`` opened it (its CUDA vendor file
under the GPU host layer of ``deepseek.backends.gpu``): where it came from, the devices it sees
and their facts. Everything raises :class:`CudaError` with the driver's
own error name and description (``cuMemGetInfo_v2(cuda:0): CUDA_ERROR_X: ...``)."""
from __future__ import annotations

import os

try:
    from ._launch import ffi, lib
except ImportError as exc:  # a source checkout that was never built
    ffi = lib = None
    NOT_BUILT = f"deepseek_cuda._launch is not built ({exc}): pip install plugins/cuda builds it"
else:
    NOT_BUILT = ""

ENV_DRIVER = "DEEPSEEK_CUDA_DRIVER"
DEFAULT_DRIVER = "libcuda.so.1"
DS_OK, DS_ERROR_OUT_OF_MEMORY, DS_ERROR_NOT_IMPLEMENTED = 0, 2, 3

# CUdevice_attribute values (the driver API's enum)
ATTRIBUTES = {
    "max_threads_per_block": 1, "max_block_dim_x": 2, "max_block_dim_y": 3, "max_block_dim_z": 4,
    "max_grid_dim_x": 5, "max_grid_dim_y": 6, "max_grid_dim_z": 7, "max_shared_memory_per_block": 8,
    "warp_size": 10, "multi_processor_count": 16, "integrated": 18, "l2_cache_size": 38,
    "max_threads_per_multi_processor": 39, "compute_capability_major": 75, "compute_capability_minor": 76,
}


class CudaError(RuntimeError):
    """A driver call failed; ``status`` is the ds_status the C side answered."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


def check(status: int) -> None:
    """Raises the C side's last error unless ``status`` is DS_OK (MemoryError for out of memory)."""
    if status == DS_OK:
        return
    msg = ffi.string(lib.dsg_error()).decode("utf-8", "replace")
    if status == DS_ERROR_OUT_OF_MEMORY:
        raise MemoryError(msg)
    raise CudaError(msg, status)


def driver_path() -> str:
    """The driver library the plugin opens: ``$DEEPSEEK_CUDA_DRIVER`` or libcuda.so.1."""
    return os.environ.get(ENV_DRIVER) or DEFAULT_DRIVER


def open_driver():
    """``(True, "")`` once the driver is open (first call opens it), else ``(False, reason)``:
    "no NVIDIA driver: libcuda.so.1 not found" when the library is missing."""
    if lib is None:
        return False, NOT_BUILT
    status = lib.cuda_open(driver_path().encode())
    if status == DS_OK:
        return True, ""
    msg = ffi.string(lib.dsg_error()).decode("utf-8", "replace")
    if status == DS_ERROR_NOT_IMPLEMENTED:  # dlopen failed: keep the reason short, as issued
        return False, msg.split(" (", 1)[0]
    return False, msg


def device_count() -> int:
    out = ffi.new("int32_t *")
    check(lib.dsg_device_count(out))
    return out[0]


def driver_version() -> str:
    """The CUDA version the driver implements, as "12.4"."""
    out = ffi.new("int32_t *")
    check(lib.cuda_driver_version(out))
    return f"{out[0] // 1000}.{out[0] % 1000 // 10}"


def name(device: int) -> str:
    buf = ffi.new("char[]", 256)
    check(lib.cuda_device_name(device, buf, 256))
    return ffi.string(buf).decode("utf-8", "replace")


def attribute(device: int, attr: str) -> int:
    out = ffi.new("int32_t *")
    check(lib.cuda_device_attribute(device, ATTRIBUTES[attr], out))
    return out[0]


def capability(device: int) -> tuple:
    """``(major, minor)`` compute capability."""
    return attribute(device, "compute_capability_major"), attribute(device, "compute_capability_minor")


def total_memory(device: int) -> int:
    out = ffi.new("uint64_t *")
    check(lib.cuda_total_mem(device, out))
    return out[0]


def mem_get_info(device: int) -> tuple:
    """``(free, total)`` bytes of the device, as the driver counts them."""
    free, total = ffi.new("uint64_t *"), ffi.new("uint64_t *")
    check(lib.dsg_mem_get_info(device, free, total))
    return free[0], total[0]


def properties(device: int) -> dict:
    """The device's facts, named as ``torch.cuda.get_device_properties`` names them."""
    major, minor = capability(device)
    return {
        "name": name(device), "major": major, "minor": minor, "total_memory": total_memory(device),
        "multi_processor_count": attribute(device, "multi_processor_count"),
        "max_threads_per_block": attribute(device, "max_threads_per_block"),
        "warp_size": attribute(device, "warp_size"),
        "is_integrated": bool(attribute(device, "integrated")),
    }
