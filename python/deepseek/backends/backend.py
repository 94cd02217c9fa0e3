"""A loaded backend, called through its C table: what the core's allocator and dispatch use."""
from __future__ import annotations

import itertools
import threading
import time

from . import abi
from .abi import ffi
from .primitives import coverage


class BackendError(RuntimeError):
    """A backend call failed; ``status`` is its ``ds_status``, the message its ``last_error()``."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


class OutOfMemoryError(BackendError):
    """The device could not allocate (``DS_ERROR_OUT_OF_MEMORY``)."""


class DeviceProperties:
    """What ``deepseek.<backend>.get_device_properties(i)`` returns: the fields of
    ``torch.cuda.get_device_properties`` (``name``, ``total_memory`` in bytes, ``major``,
    ``minor``, ``multi_processor_count``); a field the backend cannot give is None.
    Backend-specific facts a plugin adds are attributes too."""

    FIELDS = ("name", "total_memory", "major", "minor", "multi_processor_count")

    def __init__(self, **fields):
        for k in self.FIELDS:
            setattr(self, k, None)
        for k, v in fields.items():
            setattr(self, k, v)

    def __repr__(self):
        extra = [k for k in vars(self) if k not in self.FIELDS]
        return "DeviceProperties(" + ", ".join(f"{k}={getattr(self, k)!r}" for k in (*self.FIELDS, *extra)) + ")"


class DeviceAPI:
    """The optional part of a backend: what ``deepseek.<backend>`` (``deepseek.cuda``...)
    asks beyond the C table. A plugin returns an object with any subset of these methods
    from its ``deepseek_backend_device_api`` hook (subclassing this class is optional); a
    method it omits gets the default that :class:`Backend` documents. ``device`` is the
    device index, ``stream`` a stream handle of the C table (0: the default stream), and
    an event handle is whatever ``event_create`` returns.

    - ``device_name(device) -> str``
    - ``device_properties(device) -> dict`` with any of :attr:`DeviceProperties.FIELDS`
      and extra keys of the plugin's own
    - ``mem_get_info(device) -> (free_bytes, total_bytes)``
    - events, all or none of: ``event_create(device, enable_timing) -> handle``,
      ``event_destroy(device, event)``, ``event_record(device, event, stream)`` (marks the
      point after the work queued on ``stream`` so far), ``event_synchronize(device,
      event)`` (waits on the host), ``event_query(device, event) -> bool`` (done?), and
      optionally ``event_elapsed_time(device, start, end) -> float`` milliseconds between
      two completed timing events
    - ``stream_synchronize(device, stream)``, ``stream_query(device, stream) -> bool``,
      ``stream_wait_event(device, stream, event)`` (work queued on ``stream`` later waits
      for ``event``, without blocking the host; called only when the plugin gives events)

    A method raising ``NotImplementedError`` is the same as omitting it.
    """


class _HostEvents:
    """Events for a backend without them: recording waits for the whole device, and the
    time is read on the host once it is idle (so an elapsed time includes the waits)."""

    def __init__(self, backend):
        self._backend = backend
        self._times = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def event_create(self, device, enable_timing):
        with self._lock:
            handle = next(self._ids)
            self._times[handle] = None
        return handle

    def event_destroy(self, device, event):
        with self._lock:
            self._times.pop(event, None)

    def event_record(self, device, event, stream):
        self._backend.synchronize(device)
        self._times[event] = time.perf_counter()

    def event_synchronize(self, device, event):
        pass  # recording already waited

    def event_query(self, device, event):
        return True

    def event_elapsed_time(self, device, start, end):
        return (self._times[end] - self._times[start]) * 1000.0


_EVENT_METHODS = ("event_create", "event_destroy", "event_record", "event_synchronize", "event_query")


class Backend:
    """One backend plugin after loading: device count, raw memory, copies, streams, kernels.

    Device pointers and streams are opaque ints (0 is NULL); byte offsets address inside a
    buffer. Every failure raises :class:`BackendError` naming the backend, the call and the
    plugin's own message, and leaves the backend usable.

        >>> be = deepseek.backends.get_backend("opencl")  # doctest: +SKIP
        >>> p = be.alloc(0, 4); be.copy_from_host(0, p, b"abcd"); be.copy_to_host(0, p, 4)  # doctest: +SKIP
        b'abcd'
    """

    def __init__(self, table, distribution: str, version: str):
        self._t = table
        self.name = ffi.string(table.name).decode()
        self.distribution = distribution
        self.version = version
        from .primitives import PRIMITIVE_OP_NAMES

        # ids this core does not know (a newer plugin's) are left out
        ids = (table.ops[i] for i in range(table.n_ops))
        self.ops = tuple(PRIMITIVE_OP_NAMES[i] for i in ids if 0 <= i < len(PRIMITIVE_OP_NAMES))
        self.device_api = None  # the plugin's DeviceAPI object, set by deepseek.backends.get_backend
        self._device_api_asked = False
        self._host_events = _HostEvents(self)

    def __repr__(self):
        return f"<Backend {self.name} ({self.distribution} {self.version})>"

    def _check(self, status: int, what: str) -> None:
        if status == abi.DS_OK:
            return
        msg = ffi.string(self._t.last_error()).decode("utf-8", "replace") or "no message"
        cls = OutOfMemoryError if status == abi.DS_ERROR_OUT_OF_MEMORY else BackendError
        raise cls(f"{self.name} backend: {what} failed: {msg}", status)

    def table_address(self) -> int:
        """The address of the C table, for the core's ``register_backend``."""
        return int(ffi.cast("uintptr_t", self._t))

    def coverage(self) -> tuple:
        """``(native, missing)`` primitive op names for this backend."""
        return coverage(self.ops)

    def device_count(self) -> int:
        """How many devices the backend sees."""
        out = ffi.new("int32_t *")
        self._check(self._t.device_count(out), "device_count()")
        return out[0]

    def alloc(self, device: int, nbytes: int) -> int:
        """A new device buffer of ``nbytes`` bytes, as an opaque handle."""
        out = ffi.new("void **")
        self._check(self._t.alloc(device, nbytes, out), f"alloc(device={device}, nbytes={nbytes})")
        return int(ffi.cast("uintptr_t", out[0]))

    def free(self, device: int, ptr: int) -> None:
        """Releases a buffer from :meth:`alloc`."""
        self._check(self._t.free(device, ffi.cast("void *", ptr)), f"free(device={device})")

    def copy_from_host(self, device: int, dst: int, data, dst_offset: int = 0, stream: int = 0) -> None:
        """Copies the bytes of ``data`` (any contiguous buffer) to ``dst`` at ``dst_offset``."""
        src = ffi.from_buffer(data)
        self._check(self._t.memcpy_h2d(device, ffi.cast("void *", dst), dst_offset, src, len(src),
                                       ffi.cast("void *", stream)),
                    f"memcpy_h2d(device={device}, dst_offset={dst_offset}, nbytes={len(src)})")

    def copy_to_host(self, device: int, src: int, nbytes: int, src_offset: int = 0, stream: int = 0) -> bytes:
        """Returns ``nbytes`` bytes of ``src`` from ``src_offset`` on."""
        dst = ffi.new("char[]", max(nbytes, 1))
        self._check(self._t.memcpy_d2h(device, dst, ffi.cast("void *", src), src_offset, nbytes,
                                       ffi.cast("void *", stream)),
                    f"memcpy_d2h(device={device}, src_offset={src_offset}, nbytes={nbytes})")
        return ffi.buffer(dst, nbytes)[:]

    def copy(self, device: int, dst: int, src: int, nbytes: int, dst_offset: int = 0, src_offset: int = 0,
             stream: int = 0) -> None:
        """Copies ``nbytes`` bytes between two buffers of one device."""
        self._check(self._t.memcpy_d2d(device, ffi.cast("void *", dst), dst_offset, ffi.cast("void *", src),
                                       src_offset, nbytes, ffi.cast("void *", stream)),
                    f"memcpy_d2d(device={device}, nbytes={nbytes})")

    def synchronize(self, device: int = 0) -> None:
        """Waits for all work queued on ``device``."""
        self._check(self._t.synchronize(device), f"synchronize(device={device})")

    def stream_create(self, device: int) -> int:
        """A new stream on ``device``, as an opaque handle."""
        out = ffi.new("void **")
        self._check(self._t.stream_create(device, out), f"stream_create(device={device})")
        return int(ffi.cast("uintptr_t", out[0]))

    def stream_destroy(self, device: int, stream: int) -> None:
        """Releases a stream from :meth:`stream_create`."""
        self._check(self._t.stream_destroy(device, ffi.cast("void *", stream)), f"stream_destroy(device={device})")

    def launch(self, device: int, op: str, tensors, attrs=None, stream: int = 0) -> None:
        """Runs primitive ``op``; ``tensors`` are ``(ptr, dtype_name, shape, strides, offset)``.

        ``attrs`` maps the op's attribute names to values (see ``FAMILIES`` in
        :mod:`deepseek.backends.primitives`), passed as the op family's C struct.
        """
        from .primitives import OP_IDS

        if op not in OP_IDS:
            raise ValueError(f"launch: {op!r} is not a primitive op")
        keep = []
        desc = ffi.new("ds_op *")
        desc.id = OP_IDS[op]
        desc.attrs = abi.encode_attrs(op, dict(attrs or {}), keep)
        descs = ffi.new("ds_tensor_desc[]", max(len(tensors), 1))
        for d, (ptr, dtype, shape, strides, offset) in zip(descs, tensors):
            if len(shape) != len(strides):
                raise ValueError(f"{op}: shape {tuple(shape)} and strides {tuple(strides)} differ in length")
            sh, st = ffi.new("int64_t[]", list(shape) or [0]), ffi.new("int64_t[]", list(strides) or [0])
            keep += [sh, st]
            d.ptr, d.dtype, d.ndim = ffi.cast("void *", ptr), abi.DTYPES.index(dtype), len(shape)
            d.shape, d.strides, d.offset = sh, st, offset
        self._check(self._t.launch(device, desc, descs, len(tensors), ffi.cast("void *", stream)),
                    f"launch({op!r}, device={device})")

    # ---- the optional device API (see DeviceAPI): the plugin's method, or a default ----

    def _optional(self, method: str):
        """The plugin's ``method``, or None when it does not give one."""
        api = self.device_api
        return getattr(api, method, None) if api is not None else None

    def _ask(self, method: str, *args, default=None):
        fn = self._optional(method)
        if fn is not None:
            try:
                return fn(*args)
            except NotImplementedError:
                pass
            except Exception as exc:  # noqa: BLE001 - named like a table call's failure
                call = f"{method}({', '.join(map(repr, args))})"
                raise BackendError(f"{self.name} backend: {call} failed: {type(exc).__name__}: {exc}",
                                   abi.DS_ERROR) from exc
        return default() if default is not None else None

    def device_name(self, device: int) -> str:
        """The device's name; default ``"<backend> device <i>"``."""
        return self._ask("device_name", device, default=lambda: f"{self.name} device {device}")

    def device_properties(self, device: int) -> DeviceProperties:
        """The device's :class:`DeviceProperties`; default: only ``name`` is known."""
        got = self._ask("device_properties", device, default=dict)
        if isinstance(got, dict):
            fields = dict(got)
        elif hasattr(got, "_asdict"):  # a namedtuple
            fields = got._asdict()
        else:
            fields = {k: v for k, v in vars(got).items() if not k.startswith("_")}
        fields.setdefault("name", self.device_name(device))
        return DeviceProperties(**fields)

    def mem_get_info(self, device: int) -> tuple:
        """``(free, total)`` bytes of the device; a backend that cannot tell raises
        NotImplementedError (a RuntimeError) saying so."""
        def unknown():
            raise NotImplementedError(f"the {self.name} backend ({self.distribution} {self.version}) does not report "
                                      "free device memory (its plugin has no mem_get_info)")
        free, total = self._ask("mem_get_info", device, default=unknown)
        return int(free), int(total)

    def _events(self):
        # a plugin gives events whole or not at all; else host events (see _HostEvents)
        if self.device_api is not None and all(self._optional(m) is not None for m in _EVENT_METHODS):
            return self.device_api
        return self._host_events

    def has_native_events(self) -> bool:
        """Whether events come from the plugin (else recording one waits for the device)."""
        return self._events() is not self._host_events

    def event_create(self, device: int, enable_timing: bool = False):
        """A new event handle on ``device``, to record with :meth:`event_record`."""
        return self._events().event_create(device, bool(enable_timing))

    def event_destroy(self, device: int, event) -> None:
        """Releases an event from :meth:`event_create`."""
        self._events().event_destroy(device, event)

    def event_record(self, device: int, event, stream: int = 0) -> None:
        """Marks ``event`` after the work queued on ``stream`` so far (default: waits for the device)."""
        self._events().event_record(device, event, stream)

    def event_synchronize(self, device: int, event) -> None:
        """Waits on the host until ``event``'s work is done."""
        self._events().event_synchronize(device, event)

    def event_query(self, device: int, event) -> bool:
        """Whether ``event``'s work is done, without waiting."""
        return bool(self._events().event_query(device, event))

    def event_elapsed_time(self, device: int, start, end) -> float:
        """Milliseconds between two completed timing events."""
        ev = self._events()
        fn = getattr(ev, "event_elapsed_time", None)
        if fn is None:
            raise NotImplementedError(f"the {self.name} backend's events do not measure time")
        return float(fn(device, start, end))

    def stream_synchronize(self, device: int, stream: int = 0) -> None:
        """Waits for the work queued on ``stream`` (default: for the whole device)."""
        self._ask("stream_synchronize", device, stream, default=lambda: self.synchronize(device))

    def stream_query(self, device: int, stream: int = 0) -> bool:
        """Whether ``stream`` is idle (default: waits for the device, then True)."""
        def by_waiting():
            self.stream_synchronize(device, stream)
            return True
        return bool(self._ask("stream_query", device, stream, default=by_waiting))

    def stream_wait_event(self, device: int, stream: int, event) -> None:
        """Work queued on ``stream`` after this waits for ``event`` (default: the host waits)."""
        if not self.has_native_events():  # a host event: its work is done once recorded
            return
        self._ask("stream_wait_event", device, stream, event, default=lambda: self.event_synchronize(device, event))
