"""A loaded backend, called through its C table: what the core's allocator and dispatch use."""
from __future__ import annotations

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
