"""The optional device API of the CUDA backend (``deepseek_backend_device_api``): the host
layer's streams, events and free memory (``deepseek.backends.gpu.GpuDeviceAPI``, one driver
call each through the C module), with the driver's device names and properties. Handles
(streams, events) are the driver's, as ints."""
from __future__ import annotations

from deepseek.backends.gpu import GpuDeviceAPI

from . import driver


class CudaDeviceAPI(GpuDeviceAPI):
    """What ``deepseek.cuda`` asks beyond the C table (see ``deepseek.backends.backend.DeviceAPI``)."""

    def __init__(self):
        super().__init__(driver.ffi, driver.lib, driver.check)

    def device_name(self, device: int) -> str:
        return driver.name(device)

    def device_properties(self, device: int) -> dict:
        return driver.properties(device)
