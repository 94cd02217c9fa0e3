"""The plugin's ``ds_backend_table``: compiled in C (``deepseek_opencl._launch``, built by cffi
from ``csrc/`` with the package), with a table of Python callbacks behind it.

C runs the launch path: the core's shared planner (``deepseek/backends/kernels/csrc``,
compiled in) decodes the op, reads the descriptors, checks them against the buffers,
coalesces dims, fills the kernels' argument blocks and enqueues through this plugin's OpenCL
hooks, for the op families of :func:`deepseek.backends.kernels.plan_registry`; memory, copies
and ``synchronize`` are C too. Python
runs at load time, when C meets a device or a kernel for the first time (programs are
generated and built here, in :mod:`.runtime`), for the other op families, and for every
failure: C then hands the call to the Python table, whose checks raise the error (so
messages and status codes have one source).

One table per process: loading again returns the same table (the core may hold several
:class:`~deepseek.backends.backend.Backend` objects over it, all on the same contexts).
"""
from __future__ import annotations

import os
import threading

from deepseek.backends import kernels

from . import cl, ops
from .device import OpenCLDevices

try:
    from ._launch import ffi, lib
except ImportError as exc:  # a source checkout that was never built
    ffi = lib = None
    NOT_BUILT = f"deepseek_opencl._launch is not built ({exc}): pip install plugins/opencl builds it"
else:
    NOT_BUILT = ""

_lock = threading.Lock()
_devices = None  # the OpenCLDevices behind the table
_table = None  # what the load hook returns


def _address(cdata) -> int:
    return int(cl.ffi.cast("uintptr_t", cdata))


def python_table(name: str, devs: OpenCLDevices):
    """The table of Python callbacks over ``devs`` (every op of :mod:`.ops`)."""
    from deepseek.backends.abi import build_table

    return build_table(
        name, list(ops.NATIVE),
        device_count=devs.device_count, alloc=devs.alloc, free=devs.free, memcpy_h2d=devs.memcpy_h2d,
        memcpy_d2h=devs.memcpy_d2h, memcpy_d2d=devs.memcpy_d2d, synchronize=devs.synchronize,
        stream_create=devs.stream_create, stream_destroy=devs.stream_destroy, launch=devs.launch,
    )


def _init_c(py_table, devs: OpenCLDevices) -> int:
    from deepseek.backends import abi
    from deepseek.backends.primitives import PRIMITIVE_OP_NAMES

    if kernels.DTYPES != abi.DTYPES:  # k_cast takes the destination's ABI dtype code
        raise RuntimeError(f"deepseek.backends.kernels.DTYPES {kernels.DTYPES} is not the ABI's order {abi.DTYPES}")
    names = []
    while (p := lib.ocl_cl_name(len(names))) != ffi.NULL:
        names.append(ffi.string(p).decode())
    functions = ffi.new("void *[]", [ffi.cast("void *", _address(getattr(devs.lib, n))) for n in names])
    # ops the Python table runs natively but the planner does not (kind 0) go to Python
    reg = kernels.plan_registry(PRIMITIVE_OP_NAMES)
    kinds = ffi.new("uint8_t[]", [k if op in ops.OPS else 0 for op, k in zip(PRIMITIVE_OP_NAMES, reg["kinds"])] or [0])
    codes = ffi.new("int32_t[]", reg["codes"] or [0])
    defined = ffi.new("uint8_t[]", reg["defined"] or [0])
    acc = ffi.new("uint8_t[]", reg["acc_sizes"])
    tops = ffi.new("double[]", reg["rand_tops"])
    status = lib.ocl_init(ffi.cast("void *", _address(py_table)), functions, len(devs.devices),
                          len(PRIMITIVE_OP_NAMES), kinds, codes, defined, acc, tops)
    if status < 0:
        raise MemoryError("the C table could not allocate its state")
    return int(ffi.cast("uintptr_t", lib.ocl_table()))


def load(name: str, cl_lib):
    """The table for the load hook: the C table's address, or the Python table itself when
    the C module is not built or ``DEEPSEEK_OPENCL_PYTHON_LAUNCH=1`` (every launch then
    runs Python)."""
    global _devices, _table
    with _lock:
        if _table is None:
            devs = OpenCLDevices(cl_lib)
            py = python_table(name, devs)
            _devices = devs
            if lib is None or os.environ.get("DEEPSEEK_OPENCL_PYTHON_LAUNCH") == "1":
                _table = py
            else:
                _table = _init_c(py, devs)
        return _table


def launch_counts() -> tuple:
    """``(family kernels, generated programs)`` the C table has enqueued so far (zeros without
    the C module): a fused elementwise node that runs its generated kernel adds one program
    and no family kernel."""
    if lib is None:
        return 0, 0
    return lib.ocl_kernel_launches(), lib.ocl_program_launches()


def python_calls() -> int:
    """How many times the C table has called Python (0 without the C module): a launch of an
    op C runs adds nothing once its device and kernel are known."""
    return lib.ocl_python_calls() if lib is not None else 0


if lib is not None:
    def _void(cdata):
        return ffi.cast("void *", _address(cdata))

    @ffi.def_extern()
    def ocl_py_device(device):
        """Creates device ``device``'s context and default queue (first use) and tells C."""
        try:
            ctx, queue = _devices._context(device)
            rt = _devices.runtime(device)
        except Exception:  # noqa: BLE001 - C hands the call to the Python table, which reports it
            return 1
        lib.ocl_set_device(device, _void(ctx), _void(queue), int(rt.fp64), int(rt.is_cpu))
        return 0

    @ffi.def_extern()
    def ocl_py_kernel(device, dtype, name, kernel, local):
        """A new cl_kernel for C: ``name`` of dtype ``dtype``'s program (built on first use)."""
        try:
            k, ls = _devices.runtime(device).create_kernel(kernels.DTYPES[dtype], ffi.string(name).decode())
        except Exception:  # noqa: BLE001 - as above
            return 1
        kernel[0] = _void(k)
        local[0] = ls
        return 0

    @ffi.def_extern()
    def ocl_py_program(device, body, name, kernel, local, message, size):
        """Builds a generated kernel for C (compile_program): 0, or a ds_status with the
        reason written into ``message``."""
        from deepseek.backends import abi

        try:
            k, ls = _devices.runtime(device).create_program_kernel(ffi.string(body).decode(), ffi.string(name).decode())
        except Exception as e:  # noqa: BLE001 - the status and message are the answer
            text = (f"{type(e).__name__}: {e}" if not isinstance(e, (RuntimeError, NotImplementedError)) else str(e))
            raw = text.encode("utf-8", "replace")[: max(size - 1, 0)]
            ffi.memmove(message, raw + b"\0", len(raw) + 1)
            return abi.DS_ERROR_NOT_IMPLEMENTED if isinstance(e, NotImplementedError) else abi.DS_ERROR
        kernel[0] = _void(k)
        local[0] = ls
        return 0
