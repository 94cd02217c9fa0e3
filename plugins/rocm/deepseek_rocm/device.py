"""The optional device API of the ROCm backend (``deepseek_backend_device_api``): names,
properties (with the gfx architecture), free memory, events and stream queries, each one HIP
call through the C module. Handles (streams, events) are HIP's, as ints."""
from __future__ import annotations

from . import runtime
from .runtime import check


def _ptr(handle: int):
    return runtime.ffi.cast("void *", handle)


class RocmDeviceAPI:
    """What ``deepseek.rocm`` asks beyond the C table (see ``deepseek.backends.backend.DeviceAPI``)."""

    def device_name(self, device: int) -> str:
        return runtime.name(device)

    def device_properties(self, device: int) -> dict:
        return runtime.properties(device)

    def mem_get_info(self, device: int) -> tuple:
        return runtime.mem_get_info(device)

    def event_create(self, device: int, enable_timing: bool) -> int:
        out = runtime.ffi.new("void **")
        check(runtime.lib.dsg_event_create(device, 1 if enable_timing else 0, out))
        return int(runtime.ffi.cast("uintptr_t", out[0]))

    def event_destroy(self, device: int, event: int) -> None:
        check(runtime.lib.dsg_event_destroy(device, _ptr(event)))

    def event_record(self, device: int, event: int, stream: int) -> None:
        check(runtime.lib.dsg_event_record(device, _ptr(event), _ptr(stream)))

    def event_synchronize(self, device: int, event: int) -> None:
        check(runtime.lib.dsg_event_synchronize(device, _ptr(event)))

    def event_query(self, device: int, event: int) -> bool:
        out = runtime.ffi.new("int32_t *")
        check(runtime.lib.dsg_event_query(device, _ptr(event), out))
        return bool(out[0])

    def event_elapsed_time(self, device: int, start: int, end: int) -> float:
        out = runtime.ffi.new("float *")
        check(runtime.lib.dsg_event_elapsed(device, _ptr(start), _ptr(end), out))
        return float(out[0])

    def stream_synchronize(self, device: int, stream: int) -> None:
        check(runtime.lib.dsg_stream_synchronize(device, _ptr(stream)))

    def stream_query(self, device: int, stream: int) -> bool:
        out = runtime.ffi.new("int32_t *")
        check(runtime.lib.dsg_stream_query(device, _ptr(stream), out))
        return bool(out[0])

    def stream_wait_event(self, device: int, stream: int, event: int) -> None:
        check(runtime.lib.dsg_stream_wait_event(device, _ptr(stream), _ptr(event)))
