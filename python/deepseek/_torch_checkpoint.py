"""Reading PyTorch's own checkpoint files (``torch.save``'s zip format: ``.pt``, ``.bin``)
weights-only, so users can bring their PyTorch weights.

The archive holds ``<name>/data.pkl`` (a pickle of the saved object), ``<name>/data/<key>``
(the raw little-endian bytes of each storage) and ``<name>/version``. The pickle is read by a
restricted unpickler: it rebuilds tensors, parameters, dicts (``OrderedDict`` too), lists,
tuples, sets, numbers, strings and bytes, and refuses every other global with an
``UnpicklingError`` naming it, so no code from the file ever runs.

Tensors that shared one storage in PyTorch come back as separate tensors holding the same
values (views are materialised).
"""
from __future__ import annotations

import _compat_pickle
import codecs
import collections
import io
import pickle
import zipfile

import numpy as np

from . import _core

# torch.<X>Storage -> dtype
_STORAGE_DTYPES = {
    "FloatStorage": "float32", "DoubleStorage": "float64", "HalfStorage": "float16", "BFloat16Storage": "bfloat16",
    "LongStorage": "int64", "IntStorage": "int32", "ShortStorage": "int16", "CharStorage": "int8",
    "ByteStorage": "uint8", "BoolStorage": "bool", "ComplexFloatStorage": "complex64",
    "ComplexDoubleStorage": "complex128",
}
# torch.<dtype> names (for _rebuild_tensor_v3 and dtypes stored as values)
_TORCH_DTYPES = {
    "float32": "float32", "float": "float32", "float64": "float64", "double": "float64", "float16": "float16",
    "half": "float16", "bfloat16": "bfloat16", "int64": "int64", "long": "int64", "int32": "int32", "int": "int32",
    "int16": "int16", "short": "int16", "int8": "int8", "uint8": "uint8", "bool": "bool",
    "complex64": "complex64", "cfloat": "complex64", "complex128": "complex128", "cdouble": "complex128",
}
_ITEMSIZE = {"bool": 1, "uint8": 1, "int8": 1, "int16": 2, "int32": 4, "int64": 8, "float16": 2, "bfloat16": 2,
             "float32": 4, "float64": 8, "complex64": 8, "complex128": 16}

ZIP_MAGIC = b"PK\x03\x04"


class _StorageType:
    """A stand-in for ``torch.<X>Storage`` in the pickle: it only names a dtype."""

    def __init__(self, dtype):
        self.dtype = dtype


class _Storage:
    """One storage of the archive: a flat tensor of its elements (``typed(dtype)`` reads an
    untyped storage's bytes as ``dtype``)."""

    def __init__(self, flat, dtype, raw=None, make=None):
        self.flat, self.dtype, self._raw, self._make = flat, dtype, raw, make

    def typed(self, dtype):
        if self._raw is None or dtype is None or dtype == self.dtype:
            return self
        size = _ITEMSIZE[dtype]
        if len(self._raw) % size:
            raise pickle.UnpicklingError(f"an untyped storage of {len(self._raw)} bytes cannot hold {dtype} elements")
        return _Storage(self._make(self._raw, dtype), dtype)


class _DType:
    def __init__(self, name):
        self.name = name


def _strided(storage, offset, size, stride, dtype=None):
    """The tensor PyTorch describes as (storage, offset, size, stride), as a new CPU tensor."""
    flat = storage.flat
    if dtype is not None and dtype != storage.dtype:
        raise pickle.UnpicklingError(f"a tensor of dtype {dtype} views a storage of dtype {storage.dtype}; "
                                     "reinterpreting storages is not supported")
    size, stride = [int(s) for s in size], [int(s) for s in stride]
    n = 1
    for s in size:
        n *= s
    if n == 0:
        return _core.zeros(size, storage.dtype, None)
    last = offset + sum((s - 1) * st for s, st in zip(size, stride))
    if offset < 0 or last >= flat.shape[0] or any(st < 0 for st in stride):
        raise pickle.UnpicklingError(f"a tensor (offset {offset}, size {size}, stride {stride}) reaches outside its "
                                     f"storage of {flat.shape[0]} elements")
    contiguous, expect = True, 1
    for s, st in zip(reversed(size), reversed(stride)):
        if s != 1 and st != expect:
            contiguous = False
            break
        expect *= s
    if contiguous:
        part = _core.slice(flat, 0, offset, offset + n, 1)
        return _core.contiguous(_core.reshape(part, size))
    idx = np.full(size, offset, dtype=np.int64)
    for d, (s, st) in enumerate(zip(size, stride)):
        shape = [1] * len(size)
        shape[d] = s
        idx = idx + (np.arange(s, dtype=np.int64) * st).reshape(shape)
    from ._creation import tensor

    return _core.reshape(_core.index_select(flat, 0, tensor(idx.reshape(-1))), size)


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None, metadata=None):
    t = _strided(storage, storage_offset, size, stride)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _rebuild_tensor_v3(storage, storage_offset, size, stride, requires_grad, backward_hooks, dtype, metadata=None):
    dt = getattr(dtype, "name", None)
    t = _strided(storage.typed(dt), storage_offset, size, stride, dt)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _rebuild_parameter(data, requires_grad, backward_hooks):
    from .nn.parameter import Parameter

    return Parameter(data, requires_grad=requires_grad)


def _rebuild_parameter_with_state(data, requires_grad, backward_hooks, state):
    return _rebuild_parameter(data, requires_grad, backward_hooks)


_ALLOWED = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_tensor_v3"): _rebuild_tensor_v3,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter_with_state,
    ("_codecs", "encode"): codecs.encode,  # how protocol 2 pickles bytes
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "bytearray"): bytearray,
    ("builtins", "slice"): slice,
    ("builtins", "complex"): complex,
}


class _WeightsOnlyUnpickler(pickle.Unpickler):
    def __init__(self, fh, read_storage):
        super().__init__(fh)
        self._read_storage = read_storage

    def find_class(self, module, name):
        # protocol 2 (PyTorch's) spells Python 3 modules the Python 2 way (__builtin__.set)
        if (module, name) in _compat_pickle.NAME_MAPPING:
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        fn = _ALLOWED.get((module, name))
        if fn is not None:
            return fn
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(_STORAGE_DTYPES[name])
        if module in ("torch", "torch.storage") and name in ("UntypedStorage", "TypedStorage"):
            return _StorageType(None)
        if module == "torch" and name in _TORCH_DTYPES:
            return _DType(_TORCH_DTYPES[name])
        raise pickle.UnpicklingError(
            f"Weights only load failed: the checkpoint refers to the global {module}.{name}, which a weights-only "
            "load does not allow (only tensors, parameters, dicts, lists, tuples, sets, numbers and strings are "
            "rebuilt; no code from the file is ever run)")

    def persistent_load(self, pid):
        if not isinstance(pid, tuple) or len(pid) < 5 or pid[0] != "storage":
            raise pickle.UnpicklingError(f"Weights only load failed: unsupported persistent id {pid!r}")
        _, storage_type, key, location, numel = pid[:5]
        if not isinstance(storage_type, _StorageType):
            raise pickle.UnpicklingError(f"Weights only load failed: unsupported storage type {storage_type!r}")
        return self._read_storage(storage_type.dtype, str(key), str(location), int(numel))


def load_torch_zip(data, where, place):
    """The object of a PyTorch zip checkpoint ``data`` (bytes); ``place(name, tensor, location)``
    puts each tensor where ``map_location`` says."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as e:
        raise RuntimeError(f"deepseek.load: {where} is not a valid zip checkpoint ({e})") from None
    names = zf.namelist()
    pkl = [n for n in names if n.endswith("data.pkl") and n.count("/") == 1]
    if len(pkl) != 1:
        raise RuntimeError(f"deepseek.load: {where} is a zip file but not a PyTorch checkpoint "
                           f"(expected one '<name>/data.pkl', found {pkl or 'none'})")
    prefix = pkl[0][: -len("data.pkl")]
    order = prefix + "byteorder"
    if order in names and zf.read(order).strip() not in (b"little", b""):
        raise RuntimeError(f"deepseek.load: {where} was saved on a big-endian machine; only little-endian checkpoints "
                           "are supported")
    storages = {}

    def read_storage(dtype, key, location, numel):
        if key in storages:
            return storages[key]
        member = f"{prefix}data/{key}"
        if member not in names:
            raise RuntimeError(f"deepseek.load: {where} is corrupt: storage '{key}' is missing from the archive")
        blob = zf.read(member)
        dt = dtype
        if dt is None:  # an untyped storage: bytes, typed later by _rebuild_tensor_v3
            dt = "uint8"
        size = _ITEMSIZE[dt]
        if len(blob) % size or (dtype is not None and len(blob) // size < numel):
            raise RuntimeError(f"deepseek.load: {where} is corrupt: storage '{key}' holds {len(blob)} bytes, "
                               f"not {numel} elements of {dt}")

        def make(raw, as_dtype):
            n = len(raw) // _ITEMSIZE[as_dtype]
            return place(key, _core.from_bytes(raw[: n * _ITEMSIZE[as_dtype]], [n], as_dtype), location)

        st = storages[key] = _Storage(make(blob, dt), dt, blob if dtype is None else None, make)
        return st

    try:
        obj = _WeightsOnlyUnpickler(io.BytesIO(zf.read(pkl[0])), read_storage).load()
    except pickle.UnpicklingError as e:
        raise pickle.UnpicklingError(f"deepseek.load: {where}: {e}") from None
    except (EOFError, ValueError, TypeError, IndexError, KeyError, AttributeError) as e:
        raise RuntimeError(f"deepseek.load: {where} holds a corrupt pickle ({type(e).__name__}: {e})") from None
    return obj
