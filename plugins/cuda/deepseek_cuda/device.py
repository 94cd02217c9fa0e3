"""The optional device API of the CUDA backend (``deepseek_backend_device_api``): names,
properties, free memory, events and stream queries, each one driver call through the C
module. Handles (streams, events) are the driver's, as ints."""
from __future__ import annotations

from . import driver
from .driver import check

CU_EVENT_DISABLE_TIMING = 2


def _ptr(handle: int):
    return driver.ffi.cast("void *", handle)


class CudaDeviceAPI:
    """What ``deepseek.cuda`` asks beyond the C table (see ``deepseek.backends.backend.DeviceAPI``)."""

    def device_name(self, device: int) -> str:
        return driver.name(device)

    def device_properties(self, device: int) -> dict:
        return driver.properties(device)

    def mem_get_info(self, device: int) -> tuple:
        return driver.mem_get_info(device)

    def event_create(self, device: int, enable_timing: bool) -> int:
        out = driver.ffi.new("void **")
        check(driver.lib.cuda_event_create(device, 0 if enable_timing else CU_EVENT_DISABLE_TIMING, out))
        return int(driver.ffi.cast("uintptr_t", out[0]))

    def event_destroy(self, device: int, event: int) -> None:
        check(driver.lib.cuda_event_destroy(device, _ptr(event)))

    def event_record(self, device: int, event: int, stream: int) -> None:
        check(driver.lib.cuda_event_record(device, _ptr(event), _ptr(stream)))

    def event_synchronize(self, device: int, event: int) -> None:
        check(driver.lib.cuda_event_synchronize(device, _ptr(event)))

    def event_query(self, device: int, event: int) -> bool:
        out = driver.ffi.new("int32_t *")
        check(driver.lib.cuda_event_query(device, _ptr(event), out))
        return bool(out[0])

    def event_elapsed_time(self, device: int, start: int, end: int) -> float:
        out = driver.ffi.new("float *")
        check(driver.lib.cuda_event_elapsed(device, _ptr(start), _ptr(end), out))
        return float(out[0])

    def stream_synchronize(self, device: int, stream: int) -> None:
        check(driver.lib.cuda_stream_synchronize(device, _ptr(stream)))

    def stream_query(self, device: int, stream: int) -> bool:
        out = driver.ffi.new("int32_t *")
        check(driver.lib.cuda_stream_query(device, _ptr(stream), out))
        return bool(out[0])

    def stream_wait_event(self, device: int, stream: int, event: int) -> None:
        check(driver.lib.cuda_stream_wait_event(device, _ptr(stream), _ptr(event)))
