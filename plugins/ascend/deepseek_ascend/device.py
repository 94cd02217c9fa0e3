"""The optional device API of the Ascend backend (``deepseek_backend_device_api``): names,
properties and free memory from the ACL runtime; events and stream queries take the core's
defaults (the host waits for the device)."""
from __future__ import annotations

from . import runtime


class AscendDeviceAPI:
    """What ``deepseek.ascend`` asks beyond the C table (see ``deepseek.backends.backend.DeviceAPI``)."""

    def device_name(self, device: int) -> str:
        return runtime.soc_name() or f"Ascend NPU {device}"

    def device_properties(self, device: int) -> dict:
        return {"name": self.device_name(device), "total_memory": runtime.mem_get_info(device)[1]}

    def mem_get_info(self, device: int) -> tuple:
        return runtime.mem_get_info(device)
