"""DLPack exchange (``Tensor.__dlpack__``, ``Tensor.__dlpack_device__``, ``deepseek.from_dlpack``).

Implemented in pure Python with :mod:`ctypes` on top of the C API's PyCapsule functions, so it
needs nothing from the Rust core beyond a tensor's data pointer, shape and strides (export) and
``_core.from_array_interface`` (import). Layouts follow the DLPack 1.x header (dlpack.h).

Export: the capsule holds a ``DLManagedTensor`` (legacy, name ``"dltensor"``) or a
``DLManagedTensorVersioned`` (name ``"dltensor_versioned"``) allocated here; a module-level
registry keeps the struct, its shape/strides arrays and the tensor alive until the consumer
calls the deleter (or, when the capsule is never consumed, until the capsule dies).

Import: the capsule is renamed ``used_*`` (consumed) and the managed tensor is owned by a small
holder object exposing ``__array_interface__``; the tensor's storage keeps the holder alive and
the holder's ``__del__`` calls the producer's deleter. Zero copy, except for bfloat16 (NumPy's
array interface has no bfloat16 type string, so bfloat16 imports are copied) and for producers
that flag their memory read-only (deepseek tensors are always writable, so those are copied).
"""
from __future__ import annotations

import ctypes
import threading

import numpy as np

from . import _core
from ._core import Tensor

__all__ = ["from_dlpack", "DLDeviceType"]

# ---------------------------------------------------------------- dlpack.h layouts


class DLDeviceType:
    kDLCPU = 1
    kDLCUDA = 2
    kDLCUDAHost = 3
    kDLOpenCL = 4
    kDLVulkan = 7
    kDLMetal = 8
    kDLVPI = 9
    kDLROCM = 10
    kDLROCMHost = 11
    kDLExtDev = 12
    kDLCUDAManaged = 13
    kDLOneAPI = 14
    kDLWebGPU = 15
    kDLHexagon = 16
    kDLMAIA = 17


_DEVICE_NAMES = {v: k for k, v in vars(DLDeviceType).items() if k.startswith("kDL")}

kDLInt, kDLUInt, kDLFloat, kDLOpaqueHandle, kDLBfloat, kDLComplex, kDLBool = 0, 1, 2, 3, 4, 5, 6

DLPACK_MAJOR_VERSION = 1
DLPACK_MINOR_VERSION = 0
DLPACK_FLAG_BITMASK_READ_ONLY = 1 << 0
DLPACK_FLAG_BITMASK_IS_COPIED = 1 << 1


class DLDevice(ctypes.Structure):
    _fields_ = [("device_type", ctypes.c_int32), ("device_id", ctypes.c_int32)]


class DLDataType(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint8), ("bits", ctypes.c_uint8), ("lanes", ctypes.c_uint16)]


class DLTensor(ctypes.Structure):
    _fields_ = [
        ("data", ctypes.c_void_p),
        ("device", DLDevice),
        ("ndim", ctypes.c_int32),
        ("dtype", DLDataType),
        ("shape", ctypes.POINTER(ctypes.c_int64)),
        ("strides", ctypes.POINTER(ctypes.c_int64)),
        ("byte_offset", ctypes.c_uint64),
    ]


class DLPackVersion(ctypes.Structure):
    _fields_ = [("major", ctypes.c_uint32), ("minor", ctypes.c_uint32)]


# void (*deleter)(DLManagedTensor*): declared with a void* argument so one callback serves both
# struct kinds and ctypes never builds Python objects around a half-destroyed struct.
_Deleter = ctypes.CFUNCTYPE(None, ctypes.c_void_p)


class DLManagedTensor(ctypes.Structure):
    _fields_ = [("dl_tensor", DLTensor), ("manager_ctx", ctypes.c_void_p), ("deleter", _Deleter)]


class DLManagedTensorVersioned(ctypes.Structure):
    _fields_ = [
        ("version", DLPackVersion),
        ("manager_ctx", ctypes.c_void_p),
        ("deleter", _Deleter),
        ("flags", ctypes.c_uint64),
        ("dl_tensor", DLTensor),
    ]


# ---------------------------------------------------------------- PyCapsule C API

_api = ctypes.pythonapi
# The destructor gets the capsule while its refcount is 0: take it as a raw pointer, never as a
# py_object (that would incref/decref a dying object).
_CapsuleDestructor = ctypes.CFUNCTYPE(None, ctypes.c_void_p)


def _capi(name, restype, *argtypes):
    """A private binding of a C-API function (never mutates the shared ``ctypes.pythonapi``
    attributes, whose argtypes other libraries may set differently). PYFUNCTYPE: called with the
    GIL held, and a Python error set by the function is raised."""
    return ctypes.PYFUNCTYPE(restype, *argtypes)((name, _api))


_PyCapsule_New = _capi("PyCapsule_New", ctypes.py_object, ctypes.c_void_p, ctypes.c_char_p, _CapsuleDestructor)
_PyCapsule_IsValid = _capi("PyCapsule_IsValid", ctypes.c_int, ctypes.py_object, ctypes.c_char_p)
_PyCapsule_IsValid_raw = _capi("PyCapsule_IsValid", ctypes.c_int, ctypes.c_void_p, ctypes.c_char_p)
_PyCapsule_GetPointer = _capi("PyCapsule_GetPointer", ctypes.c_void_p, ctypes.py_object, ctypes.c_char_p)
_PyCapsule_GetPointer_raw = _capi("PyCapsule_GetPointer", ctypes.c_void_p, ctypes.c_void_p, ctypes.c_char_p)
_PyCapsule_SetName = _capi("PyCapsule_SetName", ctypes.c_int, ctypes.py_object, ctypes.c_char_p)
_PyCapsule_GetName = _capi("PyCapsule_GetName", ctypes.c_char_p, ctypes.py_object)

_CAPSULE_TYPE = type(__import__("datetime").datetime_CAPI)  # types.CapsuleType on Python >= 3.13

# Capsule names are stored by pointer (not copied) by PyCapsule_New / PyCapsule_SetName: keep the
# buffers alive for the life of the process.
_NAME_LEGACY = ctypes.create_string_buffer(b"dltensor")
_NAME_VERSIONED = ctypes.create_string_buffer(b"dltensor_versioned")
_NAME_USED_LEGACY = ctypes.create_string_buffer(b"used_dltensor")
_NAME_USED_VERSIONED = ctypes.create_string_buffer(b"used_dltensor_versioned")

# ---------------------------------------------------------------- dtypes

_TO_DL = {
    "bool": (kDLBool, 8),
    "uint8": (kDLUInt, 8),
    "int8": (kDLInt, 8),
    "int16": (kDLInt, 16),
    "int32": (kDLInt, 32),
    "int64": (kDLInt, 64),
    "float16": (kDLFloat, 16),
    "bfloat16": (kDLBfloat, 16),
    "float32": (kDLFloat, 32),
    "float64": (kDLFloat, 64),
    "complex64": (kDLComplex, 64),
    "complex128": (kDLComplex, 128),
}
_FROM_DL = {v: k for k, v in _TO_DL.items()}
_TYPESTR = {
    "bool": "|b1", "uint8": "|u1", "int8": "|i1", "int16": "<i2", "int32": "<i4", "int64": "<i8",
    "float16": "<f2", "float32": "<f4", "float64": "<f8", "complex64": "<c8", "complex128": "<c16",
    "bfloat16": "<i2",  # read as raw 16-bit words, then copied into a bfloat16 tensor
}
_ITEMSIZE = {"bool": 1, "uint8": 1, "int8": 1, "int16": 2, "int32": 4, "int64": 8,
             "float16": 2, "bfloat16": 2, "float32": 4, "float64": 8,
             "complex64": 8, "complex128": 16}
_CODE_NAMES = {kDLInt: "int", kDLUInt: "uint", kDLFloat: "float", kDLOpaqueHandle: "opaque",
               kDLBfloat: "bfloat", kDLComplex: "complex", kDLBool: "bool"}

# ---------------------------------------------------------------- export

# address of the managed struct -> (struct, shape array, strides array, tensor)
_EXPORTS: dict = {}
_EXPORTS_LOCK = threading.Lock()


def _release(addr):
    """Frees what one export holds (the struct, its arrays and the tensor reference)."""
    if not addr:
        return
    try:
        with _EXPORTS_LOCK:
            entry = _EXPORTS.pop(addr, None)
    except Exception:  # pragma: no cover - interpreter shutdown
        return
    # Dropped outside the lock: the tensor may be the last owner of memory imported through
    # DLPack, whose release re-enters here (deepseek -> deepseek -> deepseek chains).
    del entry


def _deleter_impl(addr):
    _release(addr)


def _capsule_destructor_impl(cap):
    # Called when the capsule dies. A consumer renames it to used_*, after which it owns the
    # managed tensor and calls the deleter itself; otherwise nobody took it and we free it here.
    try:
        for name in (_NAME_LEGACY, _NAME_VERSIONED):
            if _PyCapsule_IsValid_raw(cap, name):
                _release(_PyCapsule_GetPointer_raw(cap, name))
                return
    except Exception:  # pragma: no cover - interpreter shutdown
        pass


# The C entry points; module-level so they outlive every struct and capsule that points at them.
_DELETER = _Deleter(_deleter_impl)
_CAPSULE_DESTRUCTOR = _CapsuleDestructor(_capsule_destructor_impl)


def _fill_dltensor(dl, t, shape_arr, strides_arr):
    code, bits = _TO_DL[t._dtype]
    dl.data = t.data_ptr() or None
    dl.device = DLDevice(DLDeviceType.kDLCPU, 0)
    dl.ndim = t.ndim
    dl.dtype = DLDataType(code, bits, 1)
    dl.shape = ctypes.cast(shape_arr, ctypes.POINTER(ctypes.c_int64))
    dl.strides = ctypes.cast(strides_arr, ctypes.POINTER(ctypes.c_int64))
    dl.byte_offset = 0


def _check_dl_device(dl_device):
    if dl_device is None:
        return
    try:
        dev = (int(dl_device[0]), int(dl_device[1]))
    except Exception:
        raise TypeError(f"__dlpack__: dl_device must be a (device_type, device_id) tuple, got {dl_device!r}") from None
    if dev != (DLDeviceType.kDLCPU, 0):
        raise BufferError(
            f"__dlpack__: deepseek tensors live on the CPU (kDLCPU, 0); cannot export to device {dev} "
            f"({_DEVICE_NAMES.get(dev[0], 'unknown')})"
        )


def __dlpack__(self, *, stream=None, max_version=None, dl_device=None, copy=None):
    """__dlpack__(*, stream=None, max_version=None, dl_device=None, copy=None) -> PyCapsule

    Exports this tensor through DLPack without copying (unless ``copy=True``). The capsule is a
    versioned ``"dltensor_versioned"`` one when ``max_version`` allows DLPack 1.x, the legacy
    ``"dltensor"`` one otherwise. The exported memory is writable and shared: writes through the
    consumer are seen here. ``stream`` must be None (CPU tensors have no streams).
    """
    if self._device != "cpu":
        raise BufferError(f"__dlpack__: tensors on {self._device} are not exported through DLPack yet; "
                          "copy to the CPU first with .cpu()")
    if stream is not None and stream != -1:
        raise BufferError(f"__dlpack__: stream must be None for CPU tensors, got {stream!r}")
    _check_dl_device(dl_device)
    if self.requires_grad:
        raise RuntimeError("Can't export tensors that require gradient, use tensor.detach()")
    t = self.detach()
    copied = False
    if copy:
        t = _core.clone(t)
        copied = True
    versioned = max_version is not None and int(max_version[0]) >= 1

    n = t.ndim
    shape_arr = (ctypes.c_int64 * max(n, 1))(*t._shape)
    strides_arr = (ctypes.c_int64 * max(n, 1))(*t._strides())
    if versioned:
        m = DLManagedTensorVersioned()
        m.version = DLPackVersion(DLPACK_MAJOR_VERSION, DLPACK_MINOR_VERSION)
        m.flags = DLPACK_FLAG_BITMASK_IS_COPIED if copied else 0  # writable: READ_ONLY bit clear
        name = _NAME_VERSIONED
    else:
        m = DLManagedTensor()
        name = _NAME_LEGACY
    _fill_dltensor(m.dl_tensor, t, shape_arr, strides_arr)
    addr = ctypes.addressof(m)
    m.manager_ctx = addr
    m.deleter = _DELETER
    with _EXPORTS_LOCK:
        _EXPORTS[addr] = (m, shape_arr, strides_arr, t)
    try:
        return _PyCapsule_New(addr, name, _CAPSULE_DESTRUCTOR)
    except BaseException:
        _release(addr)
        raise


def __dlpack_device__(self):
    """__dlpack_device__() -> (device_type, device_id): always ``(1, 0)`` (kDLCPU)."""
    return (DLDeviceType.kDLCPU, 0)


Tensor.__dlpack__ = __dlpack__
Tensor.__dlpack_device__ = __dlpack_device__

# ---------------------------------------------------------------- import


class _DLPackHolder:
    """Owns one consumed managed tensor and exposes it through ``__array_interface__``.

    The deepseek storage made from it keeps it alive; when it dies, the producer's deleter runs.
    """

    def __init__(self, addr, versioned, interface):
        self._addr = addr
        self._struct = DLManagedTensorVersioned if versioned else DLManagedTensor
        self.__array_interface__ = interface

    def __del__(self):
        addr, self._addr = self._addr, None
        if not addr:
            return
        m = self._struct.from_address(addr)
        if m.deleter:  # a NULL deleter is allowed: nothing to free
            m.deleter(addr)


def _capsule_kind(cap):
    """'versioned' / 'legacy' for an unconsumed DLPack capsule; raises otherwise."""
    if not isinstance(cap, _CAPSULE_TYPE):
        raise TypeError(f"from_dlpack: expected an object with __dlpack__ or a DLPack capsule, got {type(cap).__name__}")
    if _PyCapsule_IsValid(cap, _NAME_VERSIONED):
        return True
    if _PyCapsule_IsValid(cap, _NAME_LEGACY):
        return False
    name = _PyCapsule_GetName(cap)
    if name in (b"used_dltensor", b"used_dltensor_versioned"):
        raise BufferError("from_dlpack: this DLPack capsule was already consumed (a capsule can be used only once)")
    raise TypeError(f"from_dlpack: not a DLPack capsule (capsule name {name!r})")


def _get_capsule(ext):
    if not hasattr(ext, "__dlpack__"):
        return ext
    if hasattr(ext, "__dlpack_device__"):
        dev = ext.__dlpack_device__()
        dev_type = int(dev[0])
        if dev_type != DLDeviceType.kDLCPU:
            raise BufferError(
                f"from_dlpack: deepseek only imports CPU memory (kDLCPU); the producer's tensor is on device "
                f"{_DEVICE_NAMES.get(dev_type, dev_type)} (id {int(dev[1])}); move it to the CPU first"
            )
    try:
        return ext.__dlpack__(max_version=(DLPACK_MAJOR_VERSION, DLPACK_MINOR_VERSION))
    except TypeError:
        # A producer from before DLPack 1.0 (no keyword arguments).
        return ext.__dlpack__()


def from_dlpack(ext) -> Tensor:
    """from_dlpack(ext) -> Tensor

    Wraps memory exported through DLPack: ``ext`` is an object with ``__dlpack__`` (a NumPy
    array, a tensor of another framework) or a DLPack capsule (consumed, usable once). The
    result shares memory with the producer (writes are seen both ways) and keeps it alive.

    Copies instead of sharing in two cases: bfloat16 data (NumPy's array interface, which the
    core uses to wrap foreign memory, has no bfloat16) and memory the producer flags read-only
    (deepseek tensors are always writable). Only CPU memory is accepted.

    Example::

        >>> a = np.arange(3.0)
        >>> t = deepseek.from_dlpack(a)
        >>> t[0] = 7.0
        >>> a
        array([7., 1., 2.])
    """
    cap = _get_capsule(ext)
    versioned = _capsule_kind(cap)
    name = _NAME_VERSIONED if versioned else _NAME_LEGACY
    addr = _PyCapsule_GetPointer(cap, name)
    if not addr:
        raise BufferError("from_dlpack: the DLPack capsule holds a NULL pointer")
    flags = 0
    if versioned:
        m = DLManagedTensorVersioned.from_address(addr)
        if m.version.major != DLPACK_MAJOR_VERSION:
            # Not consumed: the capsule's destructor releases it.
            raise BufferError(
                f"from_dlpack: unsupported DLPack version {m.version.major}.{m.version.minor} "
                f"(deepseek understands {DLPACK_MAJOR_VERSION}.x)"
            )
        flags = int(m.flags)
    else:
        m = DLManagedTensor.from_address(addr)
    dl = m.dl_tensor

    dev_type = int(dl.device.device_type)
    if dev_type != DLDeviceType.kDLCPU:
        raise BufferError(
            f"from_dlpack: deepseek only imports CPU memory (kDLCPU); got device "
            f"{_DEVICE_NAMES.get(dev_type, dev_type)} (id {int(dl.device.device_id)})"
        )
    code, bits, lanes = int(dl.dtype.code), int(dl.dtype.bits), int(dl.dtype.lanes)
    if lanes != 1:
        raise BufferError(f"from_dlpack: vector dtypes (lanes={lanes}) are not supported")
    dtype_name = _FROM_DL.get((code, bits))
    if dtype_name is None:
        raise BufferError(
            f"from_dlpack: unsupported DLPack dtype {_CODE_NAMES.get(code, code)}{bits} (code={code}, bits={bits}); "
            f"supported: bool, uint8, int8/16/32/64, float16/32/64, bfloat16"
        )
    ndim = int(dl.ndim)
    if ndim < 0:
        raise BufferError(f"from_dlpack: invalid ndim {ndim}")
    shape = tuple(int(dl.shape[i]) for i in range(ndim))
    itemsize = _ITEMSIZE[dtype_name]
    strides = None
    if dl.strides and ndim:
        strides = tuple(int(dl.strides[i]) * itemsize for i in range(ndim))
    data = (dl.data or 0) + int(dl.byte_offset)
    read_only = bool(flags & DLPACK_FLAG_BITMASK_READ_ONLY)
    interface = {
        "shape": shape,
        "typestr": _TYPESTR[dtype_name],
        "data": (data, read_only),
        "strides": strides,
        "version": 3,
    }

    # Everything checked: take ownership (from here on the holder calls the deleter).
    if _PyCapsule_SetName(cap, _NAME_USED_VERSIONED if versioned else _NAME_USED_LEGACY) != 0:  # pragma: no cover
        raise BufferError("from_dlpack: could not mark the capsule as consumed")
    holder = _DLPackHolder(addr, versioned, interface)

    if dtype_name == "bfloat16" or read_only:
        # Copied; the holder (and so the producer's memory) is released when this returns.
        arr = np.ascontiguousarray(np.asarray(holder))
        return _core.from_bytes(arr.tobytes(), list(shape), dtype_name)
    return _core.from_array_interface(holder)
