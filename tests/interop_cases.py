"""Shared samples and DLPack capsule helpers for the interop tests (test_interop, test_dlpack)."""
import ctypes
import gc

import numpy as np

import deepseek as ds
from deepseek import _dlpack

NP_DTYPES = {
    "bool": np.bool_, "uint8": np.uint8, "int8": np.int8, "int16": np.int16, "int32": np.int32,
    "int64": np.int64, "float16": np.float16, "float32": np.float32, "float64": np.float64,
}
ALL_DTYPES = list(NP_DTYPES) + ["bfloat16"]


def sample(dtype, shape=(2, 3)):
    """A tensor of ``dtype`` with distinct (where the dtype allows) values."""
    n = int(np.prod(shape))
    t = ds.arange(n).reshape(*shape)
    t = (t % 2) if dtype == "bool" else t
    return t.to(getattr(ds, "bool" if dtype == "bool" else dtype))


def np_sample(dtype, shape=(2, 3)):
    n = int(np.prod(shape))
    a = np.arange(n).reshape(shape)
    return (a % 2).astype(np.bool_) if dtype == "bool" else a.astype(NP_DTYPES[dtype])


def one(dtype):
    return True if dtype == "bool" else 1


def exports_alive():
    gc.collect()
    return len(_dlpack._EXPORTS)


_GetName = ctypes.PYFUNCTYPE(ctypes.c_char_p, ctypes.py_object)(("PyCapsule_GetName", ctypes.pythonapi))
_GetPointer = ctypes.PYFUNCTYPE(ctypes.c_void_p, ctypes.py_object, ctypes.c_char_p)(("PyCapsule_GetPointer", ctypes.pythonapi))
_NewCapsule = ctypes.PYFUNCTYPE(ctypes.py_object, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p)(
    ("PyCapsule_New", ctypes.pythonapi))


def capsule_name(cap):
    return _GetName(cap).decode()
