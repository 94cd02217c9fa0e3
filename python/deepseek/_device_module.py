"""The per-backend module behind ``deepseek.opencl``, ``deepseek.cuda``, ``deepseek.rocm``...:
the surface of ``torch.cuda`` (devices, properties, memory, seeds, streams, events), answered
by whichever plugin serves that device type. Nothing here loads a plugin until called.

Every call that needs a device raises a RuntimeError saying why there is none: the plugin is
not installed (and how to install it), or its probe's reason (no driver...), or the index is
past the device count. ``is_available()`` and ``device_count()`` never raise.

Streams: the core queues every kernel and copy on the device's default stream, in order (it
does not launch on user streams yet). A :class:`Stream` here is therefore that default
stream under another name, and says so: ``synchronize()`` waits for everything the core
queued on the device, ``wait_stream``/``wait_event`` within one device are already satisfied
by the order, and events record after all work queued so far.
"""
from __future__ import annotations

import threading
import types

from ._dtype import device as _device_cls


class _StreamBase:
    """A stream of one device of this backend (``deepseek.cuda.Stream(device=None, priority=0)``).

    Until the core launches on user streams, every stream of a device is its default
    stream: ``handle`` is 0 (the C table's default stream) and kernels go there in order."""

    _module: "DeviceModule"

    def __init__(self, device=None, priority: int = 0, **kwargs):
        mod = self._module
        idx = mod._index(device)
        mod._backend(idx)  # a clear RuntimeError when there is no such device
        self.device = _device_cls(mod._name, idx)
        self.priority = int(priority)
        self.handle = 0

    def synchronize(self) -> None:
        """Waits until the stream's work (everything the core queued on the device) is done."""
        self._module._backend(self.device.index).stream_synchronize(self.device.index, self.handle)

    def query(self) -> bool:
        """Whether all work queued on the stream is done, without waiting (when the backend can)."""
        return self._module._backend(self.device.index).stream_query(self.device.index, self.handle)

    def wait_event(self, event) -> None:
        """Work queued on this stream later waits for ``event``; an event of another device is
        waited for on the host."""
        if event._handle is None:
            return
        if event._device != self.device:
            event.synchronize()
            return
        self._module._backend(self.device.index).stream_wait_event(self.device.index, self.handle, event._handle)

    def wait_stream(self, stream) -> None:
        """Work queued on this stream later waits for what ``stream`` holds now."""
        self.wait_event(stream.record_event())

    def record_event(self, event=None):
        """Records ``event`` (a new one when None) on this stream and returns it."""
        event = self._module.Event() if event is None else event
        event.record(self)
        return event

    def __eq__(self, other):
        return isinstance(other, _StreamBase) and (self.device, self.handle) == (other.device, other.handle)

    def __hash__(self):
        return hash((str(self.device), self.handle))

    def __repr__(self):
        return (f"<deepseek.{self._module._name}.Stream device={self.device} priority={self.priority} "
                "(the default stream: the core queues every kernel there)>")


class _EventBase:
    """A marker in a stream's work, for waiting and timing
    (``deepseek.cuda.Event(enable_timing=False, blocking=False, interprocess=False)``).

    Created on its device when first recorded. A backend without native events records by
    waiting for the device and timing on the host (see ``Backend.has_native_events``)."""

    _module: "DeviceModule"

    def __init__(self, enable_timing: bool = False, blocking: bool = False, interprocess: bool = False):
        if interprocess:
            raise RuntimeError(f"deepseek.{self._module._name}.Event: interprocess events are not supported")
        self.enable_timing = bool(enable_timing)
        self.blocking = bool(blocking)
        self._device = None
        self._handle = None

    def record(self, stream=None) -> None:
        """Marks the point after the work queued on ``stream`` (default: the current stream)."""
        mod = self._module
        stream = mod.current_stream() if stream is None else stream
        be = mod._backend(stream.device.index)
        if self._handle is not None and self._device != stream.device:
            self._destroy()
        if self._handle is None:
            self._handle = be.event_create(stream.device.index, self.enable_timing)
            self._device = stream.device
        be.event_record(stream.device.index, self._handle, stream.handle)

    def wait(self, stream=None) -> None:
        """Makes ``stream`` (default: the current stream) wait for this event."""
        (self._module.current_stream() if stream is None else stream).wait_event(self)

    def query(self) -> bool:
        """Whether the work before the event is done (True for an event never recorded)."""
        if self._handle is None:
            return True
        return self._module._backend(self._device.index).event_query(self._device.index, self._handle)

    def synchronize(self) -> None:
        """Waits on the host until the work before the event is done."""
        if self._handle is not None:
            self._module._backend(self._device.index).event_synchronize(self._device.index, self._handle)

    def elapsed_time(self, end_event) -> float:
        """Milliseconds from this event to ``end_event``; both need ``enable_timing=True``,
        must be recorded on one device and completed."""
        if not (self.enable_timing and end_event.enable_timing):
            raise RuntimeError("elapsed_time: both events must be created with enable_timing=True")
        if self._handle is None or end_event._handle is None:
            raise RuntimeError("elapsed_time: both events must be recorded before calculating elapsed time")
        if self._device != end_event._device:
            raise RuntimeError(f"elapsed_time: the events were recorded on different devices ({self._device} and "
                               f"{end_event._device})")
        if not (self.query() and end_event.query()):
            raise RuntimeError("elapsed_time: both events must be completed before calculating elapsed time "
                               "(call synchronize() first)")
        return self._module._backend(self._device.index).event_elapsed_time(self._device.index, self._handle,
                                                                            end_event._handle)

    def _destroy(self) -> None:
        handle, self._handle = self._handle, None
        if handle is not None:
            self._module._backend(self._device.index).event_destroy(self._device.index, handle)

    def __del__(self):
        try:
            self._destroy()
        except Exception:  # noqa: BLE001 - at interpreter exit the backend may be gone
            pass

    def __repr__(self):
        where = f"recorded on {self._device}" if self._handle is not None else "not recorded"
        return f"<deepseek.{self._module._name}.Event {where} enable_timing={self.enable_timing}>"


class _DeviceContext:
    """``with deepseek.cuda.device(1):`` makes device 1 current inside the block (None: no change)."""

    _module: "DeviceModule"

    def __init__(self, device):
        self.idx = None if device is None else self._module._index(device)
        self.prev = None

    def __enter__(self):
        if self.idx is not None:
            self.prev = self._module.current_device()
            self._module.set_device(self.idx)
        return self

    def __exit__(self, *exc):
        if self.prev is not None:
            self._module.set_device(self.prev)
        return False


class _StreamContext:
    """``with deepseek.cuda.stream(s):`` makes ``s`` the current stream (and its device the
    current device) inside the block; None changes nothing."""

    def __init__(self, module, stream):
        self.module, self.stream = module, stream
        self.prev_stream = self.prev_device = None

    def __enter__(self):
        s = self.stream
        if s is not None:
            self.prev_device = self.module.current_device()
            self.prev_stream = self.module.current_stream(s.device.index)
            self.module.set_device(s.device.index)
            self.module._streams()[s.device.index] = s
        return s

    def __exit__(self, *exc):
        if self.stream is not None:
            self.module._streams()[self.stream.device.index] = self.prev_stream
            self.module.set_device(self.prev_device)
        return False


class DeviceModule(types.ModuleType):
    """``deepseek.<name>`` for backend ``name``, with ``torch.cuda``'s names.

        >>> deepseek.cuda.is_available()   # doctest: +SKIP
        False
        >>> deepseek.opencl.get_device_name(0)   # doctest: +SKIP
        'pthread-haswell-AMD EPYC'
    """

    def __init__(self, name: str):
        super().__init__(f"deepseek.{name}", f"The {name} backend's devices, as torch.cuda (see deepseek.backends).")
        self._name = name
        self._local = threading.local()
        ns = {"_module": self, "__module__": f"deepseek.{name}"}
        self.Stream = type("Stream", (_StreamBase,), dict(ns, __doc__=_StreamBase.__doc__))
        self.Event = type("Event", (_EventBase,), dict(ns, __doc__=_EventBase.__doc__))
        self.device = type("device", (_DeviceContext,), dict(ns, __doc__=_DeviceContext.__doc__))

    # ---- devices ----

    def _index(self, device=None) -> int:
        """The device index ``device`` names (None: the current one); refuses another type."""
        if device is None:
            return self.current_device_index()
        if isinstance(device, int) and not isinstance(device, bool):
            idx = device
        else:
            d = device if isinstance(device, _device_cls) else _device_cls(device) if isinstance(device, str) else None
            if d is None:
                raise TypeError(f"deepseek.{self._name}: expected a device index, a string or a deepseek.device, "
                                f"got {type(device).__name__}")
            if d.type != self._name:
                raise ValueError(f"deepseek.{self._name}: expected a {self._name} device, got '{d}'")
            idx = self.current_device_index() if d.index is None else d.index
        if idx < 0:
            raise ValueError(f"deepseek.{self._name}: device index must not be negative, got {idx}")
        return idx

    def current_device_index(self) -> int:
        """The current device index of this thread, without checking that it exists."""
        from .backends import current_device_index

        return current_device_index(self._name)

    def _backend(self, idx: int):
        """The loaded backend, after checking device ``idx`` exists (else a RuntimeError saying why)."""
        from .backends import ensure_device, get_backend

        ensure_device(f"{self._name}:{idx}")
        return get_backend(self._name)

    def _dev(self, device=None) -> str:
        from .backends import ensure_device

        return ensure_device(f"{self._name}:{self._index(device)}")

    def is_available(self) -> bool:
        """Whether the backend is installed, its probe succeeds and it sees a device."""
        return self.device_count() > 0

    def device_count(self) -> int:
        """How many devices the backend sees (0 when it is not installed or unavailable)."""
        from . import backends

        if not backends.is_available(self._name):
            return 0
        try:
            return backends.get_backend(self._name).device_count()
        except RuntimeError:
            return 0

    def is_initialized(self) -> bool:
        """Whether the backend's plugin has been loaded in this process."""
        from .backends import _registry

        plugin = _registry.plugins().get(self._name) if _registry._plugins is not None else None
        return plugin is not None and plugin._backend is not None

    def current_device(self) -> int:
        """The index of the current device ("cuda" without an index means it); raises when
        the backend has no device."""
        idx = self.current_device_index()
        self._dev(idx)
        return idx

    def set_device(self, device) -> None:
        """Makes ``device`` (an index, "cuda:1" or a deepseek.device) current in this thread."""
        from .backends import set_current_device_index

        idx = self._index(device)
        self._dev(idx)
        set_current_device_index(self._name, idx)

    def get_device_name(self, device=None) -> str:
        """The device's name, as its driver reports it."""
        idx = self._index(device)
        return self._backend(idx).device_name(idx)

    def get_device_properties(self, device=None):
        """The device's properties: ``name``, ``total_memory``, ``major``, ``minor``,
        ``multi_processor_count`` (None where the backend cannot tell) and the plugin's own."""
        idx = self._index(device)
        return self._backend(idx).device_properties(idx)

    def get_device_capability(self, device=None) -> tuple:
        """``(major, minor)`` of the device (None, None for a backend without versions)."""
        p = self.get_device_properties(device)
        return p.major, p.minor

    def synchronize(self, device=None) -> None:
        """Waits for every kernel and copy queued on the device."""
        from . import _core

        _core.synchronize(self._dev(device))

    # ---- memory ----

    def memory_stats(self, device=None) -> dict:
        """The core's allocator counters for the device, with PyTorch's key names."""
        from . import memory

        return memory.stats(self._dev(device))

    def memory_allocated(self, device=None) -> int:
        """Bytes held by live tensors on the device."""
        return self.memory_stats(device)["allocated_bytes.all.current"]

    def max_memory_allocated(self, device=None) -> int:
        """Peak of ``memory_allocated`` since start or ``reset_peak_memory_stats``."""
        return self.memory_stats(device)["allocated_bytes.all.peak"]

    def memory_reserved(self, device=None) -> int:
        """Bytes the allocator holds on the device, cached free blocks included."""
        return self.memory_stats(device)["reserved_bytes.all.current"]

    def max_memory_reserved(self, device=None) -> int:
        """Peak of ``memory_reserved``."""
        return self.memory_stats(device)["reserved_bytes.all.peak"]

    def reset_peak_memory_stats(self, device=None) -> None:
        """Starts the peaks over from the current values."""
        from . import memory

        memory.reset_peak_memory_stats(self._dev(device))

    def empty_cache(self, device=None) -> None:
        """Returns the allocator's cached free blocks to the plugin."""
        from . import memory

        memory.empty_cache(self._dev(device))

    def mem_get_info(self, device=None) -> tuple:
        """``(free, total)`` bytes of the device, as its plugin reports them."""
        idx = self._index(device)
        return self._backend(idx).mem_get_info(idx)

    # ---- random numbers ----
    # One counter-based generator serves every device (each draws the CPU's numbers for a
    # seed), so seeding it for the device seeds it for all devices and the CPU.

    def manual_seed(self, seed: int) -> None:
        """Seeds the generator the device draws from (the one of every device and the CPU)."""
        from ._random import manual_seed

        manual_seed(seed)

    def manual_seed_all(self, seed: int) -> None:
        """Seeds the generator of all devices (one generator: as :meth:`manual_seed`)."""
        self.manual_seed(seed)

    def seed(self) -> None:
        """Seeds the generator from the clock."""
        from ._random import seed

        seed()

    seed_all = seed

    def initial_seed(self) -> int:
        """The seed the generator was last seeded with."""
        from ._random import initial_seed

        return initial_seed()

    # ---- streams ----

    def _streams(self) -> dict:
        if not hasattr(self._local, "streams"):
            self._local.streams = {}
        return self._local.streams

    def default_stream(self, device=None):
        """The device's default stream (where the core queues every kernel)."""
        return self.Stream(self._index(device))

    def current_stream(self, device=None):
        """The stream selected by ``stream(s)`` in this thread, else the default stream."""
        idx = self._index(device)
        s = self._streams().get(idx)
        return s if s is not None else self.default_stream(idx)

    def set_stream(self, stream) -> None:
        """Makes ``stream`` current for its device in this thread."""
        self._streams()[stream.device.index] = stream

    def stream(self, stream):
        """``with deepseek.cuda.stream(s):`` selects ``s`` (and its device) inside the block."""
        return _StreamContext(self, stream)

    def __repr__(self):
        return f"<module 'deepseek.{self._name}' (backend devices)>"
