"""The OpenCL devices behind the backend table: one context and default in-order queue per
device, created on first use; buffers are cl_mem handles and streams are extra queues.
Queues are created with profiling on, so events (markers) can time the work between them."""
from __future__ import annotations

import itertools
import os
import threading
import time

import cffi

from . import cl, ops
from .cl import ffi
from .runtime import Runtime

CL_QUEUE_PROFILING_ENABLE = 1 << 1
CL_DEVICE_MAX_COMPUTE_UNITS = 0x1002
CL_DEVICE_GLOBAL_MEM_SIZE = 0x101F
CL_DEVICE_VENDOR = 0x102C
CL_DEVICE_VERSION = 0x102F
CL_EVENT_COMMAND_EXECUTION_STATUS = 0x11D3
CL_PROFILING_COMMAND_END = 0x1283

# The event calls of OpenCL 1.2, apart from cl.py's slice of the API (handles as void *).
_ev_ffi = cffi.FFI()
_ev_ffi.cdef("""
int32_t clEnqueueMarkerWithWaitList(void *queue, uint32_t n, void **wait, void **event);
int32_t clEnqueueBarrierWithWaitList(void *queue, uint32_t n, void **wait, void **event);
int32_t clWaitForEvents(uint32_t n, void **events);
int32_t clGetEventInfo(void *event, uint32_t param, size_t size, void *value, size_t *ret);
int32_t clGetEventProfilingInfo(void *event, uint32_t param, size_t size, void *value, size_t *ret);
int32_t clReleaseEvent(void *event);
int32_t clFlush(void *queue);
""")


def _event_library():
    override = os.environ.get("DEEPSEEK_OPENCL_LIBRARY")
    for name in (override,) if override else cl.LIBRARY_NAMES:
        try:
            return _ev_ffi.dlopen(name)
        except OSError:
            continue
    raise RuntimeError("the OpenCL library could not be opened again for events")


class OpenCLDevices:
    """Every device of every OpenCL platform, in platform order, as the table's device indices."""

    def __init__(self, lib):
        self.lib = lib
        self.devices = [d for _, d, _ in cl.all_devices(lib)]
        self._lock = threading.Lock()
        self._ctx = {}  # device index -> (cl_context, default cl_command_queue)
        self._streams = {}  # device index -> set of stream handles (ints)
        self._runtimes = {}  # device index -> Runtime
        self._events = {}  # event handle -> (device index, recorded cl_event as void * or None)
        self._event_ids = itertools.count(1)
        self._evlib = None

    def device_count(self) -> int:
        return len(self.devices)

    def _context(self, dev: int):
        if not 0 <= dev < len(self.devices):
            raise IndexError(f"OpenCL device {dev} does not exist; there are {len(self.devices)}")
        with self._lock:
            if dev not in self._ctx:
                err = ffi.new("cl_int *")
                ids = ffi.new("cl_device_id[1]", [self.devices[dev]])
                ctx = self.lib.clCreateContext(ffi.NULL, 1, ids, ffi.NULL, ffi.NULL, err)
                cl.check(err[0], "clCreateContext")
                queue = self.lib.clCreateCommandQueue(ctx, self.devices[dev], CL_QUEUE_PROFILING_ENABLE, err)
                cl.check(err[0], "clCreateCommandQueue")
                self._ctx[dev] = (ctx, queue)
                self._streams[dev] = set()
            return self._ctx[dev]

    def _queue(self, dev: int, stream: int):
        ctx, queue = self._context(dev)
        if stream == 0:
            return queue
        if stream not in self._streams[dev]:
            raise ValueError(f"stream {stream:#x} was not created on OpenCL device {dev}")
        return ffi.cast("cl_command_queue", stream)

    def alloc(self, dev: int, nbytes: int) -> int:
        ctx, _ = self._context(dev)
        if nbytes == 0:
            return 0  # OpenCL has no empty buffers; NULL stands for one
        err = ffi.new("cl_int *")
        mem = self.lib.clCreateBuffer(ctx, cl.CL_MEM_READ_WRITE, nbytes, ffi.NULL, err)
        cl.check(err[0], f"clCreateBuffer({nbytes} bytes)")
        return int(ffi.cast("uintptr_t", mem))

    def free(self, dev: int, ptr: int) -> None:
        self._context(dev)
        if ptr:
            cl.check(self.lib.clReleaseMemObject(ffi.cast("cl_mem", ptr)), "clReleaseMemObject")

    def memcpy_h2d(self, dev, dst, dst_offset, src, nbytes, stream) -> None:
        # Blocking: the caller may free or reuse the host memory as soon as this returns.
        q = self._queue(dev, stream)
        if nbytes:
            cl.check(self.lib.clEnqueueWriteBuffer(q, ffi.cast("cl_mem", dst), cl.CL_TRUE, dst_offset, nbytes, src,
                                                   0, ffi.NULL, ffi.NULL),
                     f"clEnqueueWriteBuffer(offset={dst_offset}, {nbytes} bytes)")

    def memcpy_d2h(self, dev, dst, src, src_offset, nbytes, stream) -> None:
        q = self._queue(dev, stream)
        if nbytes:
            cl.check(self.lib.clEnqueueReadBuffer(q, ffi.cast("cl_mem", src), cl.CL_TRUE, src_offset, nbytes, dst,
                                                  0, ffi.NULL, ffi.NULL),
                     f"clEnqueueReadBuffer(offset={src_offset}, {nbytes} bytes)")

    def memcpy_d2d(self, dev, dst, dst_offset, src, src_offset, nbytes, stream) -> None:
        # Stream-ordered, like CUDA's cudaMemcpyAsync between device buffers.
        q = self._queue(dev, stream)
        if nbytes:
            cl.check(self.lib.clEnqueueCopyBuffer(q, ffi.cast("cl_mem", src), ffi.cast("cl_mem", dst), src_offset,
                                                  dst_offset, nbytes, 0, ffi.NULL, ffi.NULL),
                     f"clEnqueueCopyBuffer({nbytes} bytes)")

    def synchronize(self, dev: int) -> None:
        _, queue = self._context(dev)
        with self._lock:  # a snapshot: other threads may create or destroy streams meanwhile
            streams = list(self._streams[dev])
        for q in [queue, *(ffi.cast("cl_command_queue", s) for s in streams)]:
            cl.check(self.lib.clFinish(q), "clFinish")

    def stream_create(self, dev: int) -> int:
        ctx, _ = self._context(dev)
        err = ffi.new("cl_int *")
        q = self.lib.clCreateCommandQueue(ctx, self.devices[dev], CL_QUEUE_PROFILING_ENABLE, err)
        cl.check(err[0], "clCreateCommandQueue")
        handle = int(ffi.cast("uintptr_t", q))
        with self._lock:
            self._streams[dev].add(handle)
        return handle

    def stream_destroy(self, dev: int, stream: int) -> None:
        self._queue(dev, stream)  # validates
        with self._lock:
            self._streams[dev].discard(stream)
        cl.check(self.lib.clReleaseCommandQueue(ffi.cast("cl_command_queue", stream)), "clReleaseCommandQueue")

    def runtime(self, dev: int):
        """The kernel runtime (program and kernel caches) of device ``dev``, created on first use."""
        ctx, _ = self._context(dev)
        rt = self._runtimes.get(dev)
        if rt is None:
            with self._lock:
                rt = self._runtimes.get(dev)
                if rt is None:
                    rt = self._runtimes[dev] = Runtime(self.lib, ctx, self.devices[dev])
        return rt

    def launch(self, dev, op, attrs, tensors, stream) -> None:
        """Enqueues ``op`` on the stream's in-order queue and returns without waiting.

        The op's attributes arrive by name; the kernels take them as one list in the op
        table's attribute order (list attributes flattened in place)."""
        scalars = []
        for v in attrs.values():
            if isinstance(v, list):
                scalars.extend(v)
            else:
                scalars.append(v)
        q = self._queue(dev, stream)
        ops.launch(self.runtime(dev), q, op, tensors, scalars)

    # ---- the optional device API (deepseek.backends.backend.DeviceAPI) ----

    def _info(self, dev: int, param: int, ctype: str):
        if not 0 <= dev < len(self.devices):
            raise IndexError(f"OpenCL device {dev} does not exist; there are {len(self.devices)}")
        out = ffi.new(f"{ctype} *")
        cl.check(self.lib.clGetDeviceInfo(self.devices[dev], param, ffi.sizeof(ctype), out, ffi.NULL), "clGetDeviceInfo")
        return out[0]

    def _string(self, dev: int, param: int) -> str:
        if not 0 <= dev < len(self.devices):
            raise IndexError(f"OpenCL device {dev} does not exist; there are {len(self.devices)}")
        return cl._string_info(self.lib.clGetDeviceInfo, self.devices[dev], param).strip()

    def device_name(self, dev: int) -> str:
        return self._string(dev, cl.CL_DEVICE_NAME)

    def device_properties(self, dev: int) -> dict:
        """torch's fields where OpenCL has them (compute units for multiprocessors); there is
        no compute capability, so ``major``/``minor`` stay None."""
        return {
            "name": self.device_name(dev),
            "total_memory": int(self._info(dev, CL_DEVICE_GLOBAL_MEM_SIZE, "cl_ulong")),
            "multi_processor_count": int(self._info(dev, CL_DEVICE_MAX_COMPUTE_UNITS, "cl_uint")),
            "vendor": self._string(dev, CL_DEVICE_VENDOR),
            "opencl_version": self._string(dev, CL_DEVICE_VERSION),
            "is_cpu": bool(self._info(dev, cl.CL_DEVICE_TYPE, "cl_ulong") & cl.CL_DEVICE_TYPE_CPU),
        }

    def mem_get_info(self, dev: int) -> tuple:
        """``(free, total)``. OpenCL has no free-memory query, so free is the device's global
        memory less what this process's allocator holds on it (other processes not seen)."""
        from deepseek import memory

        total = int(self._info(dev, CL_DEVICE_GLOBAL_MEM_SIZE, "cl_ulong"))
        held = memory.memory_reserved(f"opencl:{dev}")
        return max(total - held, 0), total

    def _ev(self):
        if self._evlib is None:
            self._evlib = _event_library()
        return self._evlib

    def _void_queue(self, dev: int, stream: int):
        return _ev_ffi.cast("void *", int(ffi.cast("uintptr_t", self._queue(dev, stream))))

    def event_create(self, dev: int, enable_timing: bool) -> int:
        self._context(dev)
        with self._lock:
            handle = next(self._event_ids)
            self._events[handle] = (dev, None)
        return handle

    def _release(self, ev) -> None:
        if ev is not None:
            cl.check(self._ev().clReleaseEvent(ev), "clReleaseEvent")

    def event_destroy(self, dev: int, event: int) -> None:
        with self._lock:
            _, ev = self._events.pop(event, (dev, None))
        self._release(ev)

    def _recorded(self, event: int):
        try:
            return self._events[event]
        except KeyError:
            raise ValueError(f"OpenCL event {event} does not exist (destroyed?)") from None

    def event_record(self, dev: int, event: int, stream: int) -> None:
        """A marker on the stream's in-order queue: complete once everything before it is."""
        self._recorded(event)
        q = self._void_queue(dev, stream)
        out = _ev_ffi.new("void **")
        cl.check(self._ev().clEnqueueMarkerWithWaitList(q, 0, _ev_ffi.NULL, out), "clEnqueueMarkerWithWaitList")
        cl.check(self._ev().clFlush(q), "clFlush")  # so that query() sees progress without a wait
        with self._lock:
            _, old = self._events[event]
            self._events[event] = (dev, out[0])
        self._release(old)

    def event_synchronize(self, dev: int, event: int) -> None:
        _, ev = self._recorded(event)
        if ev is not None:
            cl.check(self._ev().clWaitForEvents(1, _ev_ffi.new("void *[1]", [ev])), "clWaitForEvents")

    def event_query(self, dev: int, event: int) -> bool:
        _, ev = self._recorded(event)
        if ev is None:
            return True
        status = _ev_ffi.new("int32_t *")
        cl.check(self._ev().clGetEventInfo(ev, CL_EVENT_COMMAND_EXECUTION_STATUS, 4, status, _ev_ffi.NULL),
                 "clGetEventInfo")
        if status[0] < 0:  # the command failed: its error code
            cl.check(status[0], "an OpenCL command before the event")
        return status[0] == 0  # CL_COMPLETE

    def _end_ns(self, event: int) -> int:
        _, ev = self._recorded(event)
        if ev is None:
            raise ValueError("the event has not been recorded")
        t = _ev_ffi.new("uint64_t *")
        cl.check(self._ev().clGetEventProfilingInfo(ev, CL_PROFILING_COMMAND_END, 8, t, _ev_ffi.NULL),
                 "clGetEventProfilingInfo")
        return t[0]

    def event_elapsed_time(self, dev: int, start: int, end: int) -> float:
        return (self._end_ns(end) - self._end_ns(start)) / 1e6

    def stream_synchronize(self, dev: int, stream: int) -> None:
        cl.check(self.lib.clFinish(self._queue(dev, stream)), "clFinish")

    def stream_query(self, dev: int, stream: int) -> bool:
        """Whether the queue is idle. OpenCL cannot ask a queue, so a marker is enqueued and
        given a few milliseconds: an idle queue completes it at once, pending work does not
        (False is always safe: it only means "not known to be done")."""
        handle = self.event_create(dev, False)
        try:
            self.event_record(dev, handle, stream)
            deadline = time.perf_counter() + 0.01
            while not self.event_query(dev, handle):
                if time.perf_counter() > deadline:
                    return False
                time.sleep(0)
            return True
        finally:
            self.event_destroy(dev, handle)

    def stream_wait_event(self, dev: int, stream: int, event: int) -> None:
        """A barrier on the stream's queue that waits for the event; an event of another
        device (another context) is waited for on the host."""
        ev_dev, ev = self._recorded(event)
        if ev is None:
            return
        if ev_dev != dev:
            self.event_synchronize(ev_dev, event)
            return
        q = self._void_queue(dev, stream)
        cl.check(self._ev().clEnqueueBarrierWithWaitList(q, 1, _ev_ffi.new("void *[1]", [ev]), _ev_ffi.NULL),
                 "clEnqueueBarrierWithWaitList")
