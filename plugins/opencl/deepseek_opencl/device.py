"""The OpenCL devices behind the backend table: one context and default in-order queue per
device, created on first use; buffers are cl_mem handles and streams are extra queues."""
from __future__ import annotations

import threading

from . import cl, ops
from .cl import ffi
from .runtime import Runtime


class OpenCLDevices:
    """Every device of every OpenCL platform, in platform order, as the table's device indices."""

    def __init__(self, lib):
        self.lib = lib
        self.devices = [d for _, d, _ in cl.all_devices(lib)]
        self._lock = threading.Lock()
        self._ctx = {}  # device index -> (cl_context, default cl_command_queue)
        self._streams = {}  # device index -> set of stream handles (ints)
        self._runtimes = {}  # device index -> Runtime

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
                queue = self.lib.clCreateCommandQueue(ctx, self.devices[dev], 0, err)
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
        q = self.lib.clCreateCommandQueue(ctx, self.devices[dev], 0, err)
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
