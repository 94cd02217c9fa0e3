"""The optional device API of the Ascend backend (``deepseek_backend_device_api``): names,
properties and free memory from the ACL runtime, events (``aclrtCreateEvent``,
``aclrtRecordEvent``, ``aclrtEventElapsedTime``...) and stream waits, one C call each. Handles
(streams, events) are the runtime's, as ints; stream 0 is the device's default stream."""
from __future__ import annotations

from . import runtime


class AscendDeviceAPI:
    """What ``deepseek.ascend`` asks beyond the C table (see ``deepseek.backends.backend.DeviceAPI``)."""

    def __init__(self):
        self._ffi, self._lib, self._check = runtime.ffi, runtime.lib, runtime.check

    def _ptr(self, handle: int):
        return self._ffi.cast("void *", handle)

    def device_name(self, device: int) -> str:
        return runtime.soc_name() or f"Ascend NPU {device}"

    def device_properties(self, device: int) -> dict:
        return {"name": self.device_name(device), "total_memory": runtime.mem_get_info(device)[1]}

    def mem_get_info(self, device: int) -> tuple:
        return runtime.mem_get_info(device)

    def event_create(self, device: int, enable_timing: bool) -> int:
        out = self._ffi.new("void **")
        self._check(self._lib.asc_event_create(device, out))
        return int(self._ffi.cast("uintptr_t", out[0]))

    def event_destroy(self, device: int, event: int) -> None:
        self._check(self._lib.asc_event_destroy(device, self._ptr(event)))

    def event_record(self, device: int, event: int, stream: int) -> None:
        self._check(self._lib.asc_event_record(device, self._ptr(event), self._ptr(stream)))

    def event_synchronize(self, device: int, event: int) -> None:
        self._check(self._lib.asc_event_synchronize(device, self._ptr(event)))

    def event_query(self, device: int, event: int) -> bool:
        out = self._ffi.new("int32_t *")
        self._check(self._lib.asc_event_query(device, self._ptr(event), out))
        return bool(out[0])

    def event_elapsed_time(self, device: int, start: int, end: int) -> float:
        out = self._ffi.new("float *")
        self._check(self._lib.asc_event_elapsed(device, self._ptr(start), self._ptr(end), out))
        return float(out[0])

    def stream_synchronize(self, device: int, stream: int) -> None:
        self._check(self._lib.asc_stream_synchronize(device, self._ptr(stream)))

    def stream_wait_event(self, device: int, stream: int, event: int) -> None:
        self._check(self._lib.asc_stream_wait_event(device, self._ptr(stream), self._ptr(event)))
