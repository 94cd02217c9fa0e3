"""The optional device API of the ROCm backend (``deepseek_backend_device_api``): the host
layer's streams, events and free memory (``deepseek.backends.gpu.GpuDeviceAPI``), with HIP's
device names and properties (the gfx architecture)."""
from __future__ import annotations

from deepseek.backends.gpu import GpuDeviceAPI

from . import runtime


class RocmDeviceAPI(GpuDeviceAPI):
    """What ``deepseek.rocm`` asks beyond the C table (see ``deepseek.backends.backend.DeviceAPI``)."""

    def __init__(self):
        super().__init__(runtime.ffi, runtime.lib, runtime.check)

    def device_name(self, device: int) -> str:
        return runtime.name(device)

    def device_properties(self, device: int) -> dict:
        return runtime.properties(device)
