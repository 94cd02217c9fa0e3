"""The Python side every GPU plugin built on the host layer shares: the registry the C planner
reads, the kernel-program callback's body, and the device API's streams, events and memory
queries, all over the layer's ``dsg_*`` functions of the plugin's own cffi module.

A plugin passes its module's ``ffi`` and ``lib`` and a ``check(status)`` that raises its
errors; what is vendor-specific (device names, properties, compiling a program) stays in the
plugin. ``docs/gpu_host.md`` shows a plugin's use of each."""
from __future__ import annotations


def native_ops() -> list:
    """The primitive ops the shared planner runs; a launch of any other op answers not
    implemented and the core runs it on the CPU."""
    from deepseek.backends import kernels
    from deepseek.backends.primitives import PRIMITIVE_OP_NAMES

    reg = kernels.plan_registry(PRIMITIVE_OP_NAMES)
    return [op for op, kind in zip(PRIMITIVE_OP_NAMES, reg["kinds"]) if kind != 0]


def install_registry(ffi, lib, check) -> None:
    """Copies the planner's registry (``kernels.plan_registry`` over the core's ops, in id
    order) and the ops' names into C, and declares :func:`native_ops` in the C table."""
    from deepseek.backends import kernels
    from deepseek.backends.primitives import OP_IDS, PRIMITIVE_OP_NAMES

    reg = kernels.plan_registry(PRIMITIVE_OP_NAMES)
    names = [ffi.new("char[]", op.encode()) for op in PRIMITIVE_OP_NAMES]
    check(lib.dsg_set_registry(
        len(PRIMITIVE_OP_NAMES), ffi.new("uint8_t[]", reg["kinds"] or [0]), ffi.new("int32_t[]", reg["codes"] or [0]),
        ffi.new("uint8_t[]", reg["defined"] or [0]), ffi.new("uint8_t[]", reg["acc_sizes"]),
        ffi.new("double[]", reg["rand_tops"]), ffi.new("char *[]", names)))
    ops = [OP_IDS[op] for op in native_ops()]
    lib.dsg_set_ops(ffi.new("int32_t[]", ops or [0]), len(ops))


def load_program(ffi, lib, check, device_type: str, image_of, device: int, dtype: int, module) -> int:
    """The body of a plugin's program loader (its cffi ``extern "Python+C"`` callback):
    ``image_of(device, program)`` gives the compiled code of ``program`` (a dtype name), which
    is loaded into ``*module``. Answers 0, or 1 with the reason kept for the launch's error."""
    from deepseek.backends import kernels

    program = kernels.DTYPES[dtype] if 0 <= dtype < len(kernels.DTYPES) else f"dtype {dtype}"
    try:
        check(lib.dsg_module_load(device, ffi.from_buffer(image_of(device, program)), module))
    except Exception as exc:  # noqa: BLE001 - C turns this into the launch's error
        why = f"building the {program} kernels for {device_type}:{device} failed: {exc}"
        lib.dsg_keep_error(why.encode("utf-8", "replace"))
        return 1
    return 0


def load_source(ffi, lib, check, device_type: str, image_of, device: int, body, name, module) -> int:
    """The body of a plugin's source loader (``dsg_set_source_loader``; ABI 2.1's
    compile_program): ``image_of(device, body, name)`` compiles a generated kernel body
    (:mod:`deepseek.backends.kernels.fused`), which is loaded into ``*module``. Answers 0, or
    1 with the compiler's message kept for the error naming the fused node."""
    text, kernel = ffi.string(body).decode(), ffi.string(name).decode()
    try:
        check(lib.dsg_module_load(device, ffi.from_buffer(image_of(device, text, kernel)), module))
    except Exception as exc:  # noqa: BLE001 - C turns this into compile_program's error
        why = f"building the generated kernel {kernel} for {device_type}:{device} failed: {exc}"
        lib.dsg_keep_error(why.encode("utf-8", "replace"))
        return 1
    return 0


class GpuDeviceAPI:
    """Streams, events and free memory for ``deepseek.<device>`` (see
    ``deepseek.backends.backend.DeviceAPI``), one host-layer call each; handles are the
    runtime's, as ints. A plugin subclasses it with ``device_name`` and ``device_properties``."""

    def __init__(self, ffi, lib, check):
        self._ffi, self._lib, self._check = ffi, lib, check

    def _ptr(self, handle: int):
        return self._ffi.cast("void *", handle)

    def mem_get_info(self, device: int) -> tuple:
        free, total = self._ffi.new("uint64_t *"), self._ffi.new("uint64_t *")
        self._check(self._lib.dsg_mem_get_info(device, free, total))
        return free[0], total[0]

    def event_create(self, device: int, enable_timing: bool) -> int:
        out = self._ffi.new("void **")
        self._check(self._lib.dsg_event_create(device, 1 if enable_timing else 0, out))
        return int(self._ffi.cast("uintptr_t", out[0]))

    def event_destroy(self, device: int, event: int) -> None:
        self._check(self._lib.dsg_event_destroy(device, self._ptr(event)))

    def event_record(self, device: int, event: int, stream: int) -> None:
        self._check(self._lib.dsg_event_record(device, self._ptr(event), self._ptr(stream)))

    def event_synchronize(self, device: int, event: int) -> None:
        self._check(self._lib.dsg_event_synchronize(device, self._ptr(event)))

    def event_query(self, device: int, event: int) -> bool:
        out = self._ffi.new("int32_t *")
        self._check(self._lib.dsg_event_query(device, self._ptr(event), out))
        return bool(out[0])

    def event_elapsed_time(self, device: int, start: int, end: int) -> float:
        out = self._ffi.new("float *")
        self._check(self._lib.dsg_event_elapsed(device, self._ptr(start), self._ptr(end), out))
        return float(out[0])

    def stream_synchronize(self, device: int, stream: int) -> None:
        self._check(self._lib.dsg_stream_synchronize(device, self._ptr(stream)))

    def stream_query(self, device: int, stream: int) -> bool:
        out = self._ffi.new("int32_t *")
        self._check(self._lib.dsg_stream_query(device, self._ptr(stream), out))
        return bool(out[0])

    def stream_wait_event(self, device: int, stream: int, event: int) -> None:
        self._check(self._lib.dsg_stream_wait_event(device, self._ptr(stream), self._ptr(event)))
