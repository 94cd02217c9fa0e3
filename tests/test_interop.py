"""Interop with NumPy and DLPack: shared memory, conversions to Python values, lifetimes."""
import ctypes
import gc
import operator

import numpy as np
import pytest

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


# ===================================================================== NumPy: .numpy / from_numpy

def test_numpy_shares_memory_both_ways():
    t = ds.arange(6, dtype=ds.float32).reshape(2, 3)
    a = t.numpy()
    assert a.dtype == np.float32 and a.shape == (2, 3)
    assert a.ctypes.data == t.data_ptr()
    a[0, 1] = 100.0
    assert t[0, 1].item() == 100.0
    t[1, 2] = -5.0
    assert a[1, 2] == -5.0
    t.add_(1)
    np.testing.assert_array_equal(a, [[1, 101, 3], [4, 5, -4]])


def test_numpy_of_views_keeps_strides_and_shares():
    t = ds.arange(12, dtype=ds.float64).reshape(3, 4)
    tt = t.T
    a = tt.numpy()
    assert a.shape == (4, 3) and a.strides == (8, 32)
    np.testing.assert_array_equal(a, np.arange(12.0).reshape(3, 4).T)
    a[3, 0] = 42
    assert t[0, 3].item() == 42
    s = t[:, ::2].numpy()
    np.testing.assert_array_equal(s, t.numpy()[:, ::2])


def test_numpy_keeps_tensor_alive():
    t = ds.arange(1000, dtype=ds.int64)
    a = t.numpy()
    del t
    gc.collect()
    junk = [ds.full([1000], 7, dtype=ds.int64) for _ in range(10)]  # reuse freed blocks if any were freed
    np.testing.assert_array_equal(a, np.arange(1000))
    del junk


def test_numpy_refuses_requires_grad():
    t = ds.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="detach"):
        t.numpy()
    np.testing.assert_array_equal(t.detach().numpy(), [1, 1, 1])
    np.testing.assert_array_equal(t.numpy(force=True), [1, 1, 1])


@pytest.mark.parametrize("dtype", list(NP_DTYPES))
def test_numpy_every_dtype(dtype):
    t = sample(dtype)
    a = t.numpy()
    assert a.dtype == NP_DTYPES[dtype]
    np.testing.assert_array_equal(a, np_sample(dtype))
    assert a.ctypes.data == t.data_ptr()


def test_numpy_bfloat16_is_refused_with_a_clear_error():
    with pytest.raises(TypeError, match="bfloat16|BFloat16"):
        ds.ones(2, dtype=ds.bfloat16).numpy()


def test_from_numpy_shares_memory_both_ways():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    t = ds.from_numpy(a)
    assert t.dtype == ds.float32 and tuple(t.shape) == (2, 3)
    assert t.data_ptr() == a.ctypes.data
    a[1, 1] = 77
    assert t[1, 1].item() == 77
    t[0, 0] = -1
    assert a[0, 0] == -1
    t.mul_(2)
    np.testing.assert_array_equal(a, [[-2, 2, 4], [6, 154, 10]])


@pytest.mark.parametrize("dtype", list(NP_DTYPES))
def test_from_numpy_every_dtype(dtype):
    a = np_sample(dtype)
    t = ds.from_numpy(a)
    assert t._dtype == dtype
    assert t.tolist() == a.tolist()
    t[0, 0] = one(dtype)
    assert a[0, 0] == one(dtype)


def test_from_numpy_non_contiguous_and_negative_strides():
    base = np.arange(24, dtype=np.int32).reshape(4, 6)
    for view in (base.T, base[::2, 1::3], base[::-1], base[:, ::-2], base[1:3, 2]):
        t = ds.from_numpy(view)
        assert tuple(t.shape) == view.shape
        assert t.tolist() == view.tolist()
    v = base[::-1, ::2]
    t = ds.from_numpy(v)
    t[0, 0] = 1000  # base[3, 0]
    assert base[3, 0] == 1000


def test_from_numpy_zero_size_and_zero_dim():
    t = ds.from_numpy(np.zeros((2, 0, 3), dtype=np.float32))
    assert tuple(t.shape) == (2, 0, 3) and t.numel() == 0
    s = np.array(2.5)
    t0 = ds.from_numpy(s)
    assert t0.ndim == 0 and t0.item() == 2.5
    t0.fill_(4.0)
    assert s[()] == 4.0


def test_from_numpy_keeps_array_alive():
    a = np.arange(10000, dtype=np.float64)
    t = ds.from_numpy(a[::3])
    del a
    gc.collect()
    junk = [np.full(10000, -1.0) for _ in range(10)]
    assert t.tolist() == list(np.arange(0, 10000, 3, dtype=np.float64))
    del junk


def test_from_numpy_rejections():
    with pytest.raises(TypeError):
        ds.from_numpy([1, 2, 3])
    with pytest.raises(TypeError, match="complex128, complex64"):
        ds.from_numpy(np.zeros(3, dtype=np.clongdouble))  # extended precision: no deepseek dtype
    with pytest.raises(TypeError):
        ds.from_numpy(np.zeros(3, dtype=np.uint32))
    with pytest.raises(ValueError, match="byte order"):
        ds.from_numpy(np.zeros(3, dtype=">f4"))
    odd = np.lib.stride_tricks.as_strided(np.zeros(8, dtype=np.int16), shape=(3,), strides=(3,))
    with pytest.raises(ValueError, match="strides"):
        ds.from_numpy(odd)


# ===================================================================== NumPy: __array__ / np.asarray

def test_asarray_shares_memory():
    t = ds.tensor([1.0, 2.0, 3.0])
    a = np.asarray(t)
    assert a.dtype == np.float32 and a.ctypes.data == t.data_ptr()
    a[0] = 9
    assert t[0].item() == 9


def test_array_copy_semantics_numpy2():
    t = ds.tensor([[1.0, 2.0], [3.0, 4.0]])
    # copy=False must share (it can here) ...
    a = np.array(t, copy=False)
    assert a.ctypes.data == t.data_ptr()
    # ... and raise when a copy is unavoidable
    with pytest.raises(ValueError):
        np.array(t, dtype=np.float64, copy=False)
    # copy=True: independent memory
    c = np.array(t, copy=True)
    assert c.ctypes.data != t.data_ptr()
    c[0, 0] = 100
    assert t[0, 0].item() == 1.0
    # dtype conversion copies
    d = np.asarray(t, dtype=np.float64)
    assert d.dtype == np.float64 and d.tolist() == [[1, 2], [3, 4]]


def test_dunder_array_directly():
    t = ds.tensor([1, 2, 3], dtype=ds.int32)
    assert t.__array__().ctypes.data == t.data_ptr()
    assert t.__array__(copy=False).ctypes.data == t.data_ptr()
    assert t.__array__(copy=True).ctypes.data != t.data_ptr()
    assert t.__array__(copy=None).ctypes.data == t.data_ptr()
    f = t.__array__(np.float64)
    assert f.dtype == np.float64 and f.tolist() == [1.0, 2.0, 3.0]
    with pytest.raises(ValueError):
        t.__array__(np.float64, copy=False)
    assert t.__array__(np.int32, copy=False).ctypes.data == t.data_ptr()


def test_dunder_array_bfloat16_copies_to_float32():
    b = ds.tensor([1.5, -2.0]).bfloat16()
    a = b.__array__()
    assert a.dtype == np.float32 and a.tolist() == [1.5, -2.0]
    with pytest.raises(ValueError):
        b.__array__(copy=False)


def test_asarray_bfloat16():
    # NumPy has no bfloat16: it falls back to __array__, which gives float32
    a = np.asarray(ds.tensor([1.5, -2.0]).bfloat16())
    assert a.dtype == np.float32 and a.tolist() == [1.5, -2.0]


# ===================================================================== Python values

def test_tolist():
    assert ds.tensor([[1, 2], [3, 4]]).tolist() == [[1, 2], [3, 4]]
    assert all(type(v) is int for v in ds.tensor([1, 2]).tolist())
    assert ds.tensor([1.5, 2.5]).tolist() == [1.5, 2.5]
    assert all(type(v) is float for v in ds.tensor([1.5, 2.5]).tolist())
    assert ds.tensor([True, False]).tolist() == [True, False]
    assert all(type(v) is bool for v in ds.tensor([True, False]).tolist())
    assert ds.tensor(3.5).tolist() == 3.5
    assert ds.tensor([1.5, -2.0]).bfloat16().tolist() == [1.5, -2.0]
    assert ds.zeros(2, 0).tolist() == [[], []]
    assert ds.arange(6).reshape(2, 3).T.tolist() == [[0, 3], [1, 4], [2, 5]]


def test_item():
    v = ds.tensor(2.5).item()
    assert v == 2.5 and type(v) is float
    v = ds.tensor([7]).item()
    assert v == 7 and type(v) is int
    v = ds.tensor([[True]]).item()
    assert v is True
    v = ds.tensor(1.25, dtype=ds.bfloat16).item()
    assert v == 1.25 and type(v) is float
    assert ds.arange(5)[3].item() == 3
    with pytest.raises(RuntimeError):
        ds.tensor([1, 2]).item()
    with pytest.raises(RuntimeError):
        ds.zeros(0).item()


def test_len():
    assert len(ds.zeros(4, 2)) == 4
    assert len(ds.zeros(0, 3)) == 0
    assert len(ds.zeros(2, 5).T) == 5
    with pytest.raises(TypeError):
        len(ds.tensor(1.0))


def test_iteration():
    t = ds.arange(6).reshape(3, 2)
    rows = list(t)
    assert len(rows) == 3 and all(isinstance(r, ds.Tensor) for r in rows)
    assert [r.tolist() for r in rows] == [[0, 1], [2, 3], [4, 5]]
    rows[1][0] = 20  # rows are views
    assert t[1, 0].item() == 20
    assert [x.item() for x in ds.tensor([1, 2, 3])] == [1, 2, 3]
    assert list(ds.zeros(0, 2)) == []
    with pytest.raises(TypeError):
        iter(ds.tensor(1.0))


def test_bool_conversion():
    assert bool(ds.tensor(1.0)) is True
    assert bool(ds.tensor([0])) is False
    assert bool(ds.tensor([[True]])) is True
    assert bool(ds.tensor(0.5, dtype=ds.bfloat16)) is True
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(ds.tensor([1, 1]))
    with pytest.raises(RuntimeError):
        bool(ds.zeros(0))


def test_float_int_conversion():
    assert float(ds.tensor(3)) == 3.0 and type(float(ds.tensor(3))) is float
    assert float(ds.tensor([[2.5]])) == 2.5
    assert int(ds.tensor(2.7)) == 2
    assert int(ds.tensor(-2.7)) == -2
    assert int(ds.tensor([5], dtype=ds.int8)) == 5
    assert int(ds.tensor(True)) == 1
    with pytest.raises(RuntimeError):
        float(ds.tensor([1.0, 2.0]))
    with pytest.raises(RuntimeError):
        int(ds.tensor([1, 2]))


def test_operator_index():
    assert operator.index(ds.tensor(3)) == 3
    assert operator.index(ds.tensor([2], dtype=ds.int32)) == 2
    assert [10, 20, 30][ds.tensor(1)] == 20
    assert list(range(10))[ds.tensor(2):ds.tensor(5)] == [2, 3, 4]
    with pytest.raises(TypeError):
        operator.index(ds.tensor(1.0))
    with pytest.raises(TypeError):
        operator.index(ds.tensor([1, 2]))


# ===================================================================== DLPack: layouts

def test_ctypes_layouts_match_dlpack_h():
    c = ctypes
    assert c.sizeof(_dlpack.DLDevice) == 8
    assert c.sizeof(_dlpack.DLDataType) == 4
    assert [(f, getattr(_dlpack.DLTensor, f).offset) for f, _ in _dlpack.DLTensor._fields_] == [
        ("data", 0), ("device", 8), ("ndim", 16), ("dtype", 20), ("shape", 24), ("strides", 32), ("byte_offset", 40)]
    assert c.sizeof(_dlpack.DLTensor) == 48
    assert _dlpack.DLManagedTensor.manager_ctx.offset == 48
    assert _dlpack.DLManagedTensor.deleter.offset == 56
    assert c.sizeof(_dlpack.DLManagedTensor) == 64
    v = _dlpack.DLManagedTensorVersioned
    assert (v.version.offset, v.manager_ctx.offset, v.deleter.offset, v.flags.offset, v.dl_tensor.offset) == (0, 8, 16, 24, 32)
    assert c.sizeof(v) == 80


def test_dlpack_device():
    assert ds.zeros(2).__dlpack_device__() == (1, 0)


@pytest.mark.parametrize("max_version, name", [(None, "dltensor"), ((0, 8), "dltensor"), ((1, 0), "dltensor_versioned"),
                                               ((1, 3), "dltensor_versioned"), ((2, 0), "dltensor_versioned")])
def test_capsule_kind_follows_max_version(max_version, name):
    t = ds.zeros(3)
    cap = t.__dlpack__(max_version=max_version)
    assert capsule_name(cap) == name


@pytest.mark.parametrize("dtype", ALL_DTYPES)
@pytest.mark.parametrize("versioned", [False, True])
def test_exported_struct_fields(dtype, versioned):
    codes = {"bool": (6, 8), "uint8": (1, 8), "int8": (0, 8), "int16": (0, 16), "int32": (0, 32), "int64": (0, 64),
             "float16": (2, 16), "bfloat16": (4, 16), "float32": (2, 32), "float64": (2, 64)}
    t = sample(dtype, (3, 4)).T[1:, ::2]  # shape (3, 2), strides (1, 8), offset 4
    cap = t.__dlpack__(max_version=(1, 0) if versioned else None)
    name = capsule_name(cap)
    ptr = _GetPointer(cap, name.encode())
    if versioned:
        m = _dlpack.DLManagedTensorVersioned.from_address(ptr)
        assert (m.version.major, m.version.minor) == (1, 0)
        assert m.flags & _dlpack.DLPACK_FLAG_BITMASK_READ_ONLY == 0
    else:
        m = _dlpack.DLManagedTensor.from_address(ptr)
    dl = m.dl_tensor
    assert dl.data + dl.byte_offset == t.data_ptr()
    assert (dl.device.device_type, dl.device.device_id) == (1, 0)
    assert dl.ndim == 2
    assert (dl.dtype.code, dl.dtype.bits, dl.dtype.lanes) == (*codes[dtype], 1)
    assert [dl.shape[i] for i in range(2)] == [3, 2]
    assert [dl.strides[i] for i in range(2)] == list(t._strides()) == [1, 8]
    assert m.deleter


# ===================================================================== DLPack: deepseek -> NumPy

@pytest.mark.parametrize("dtype", list(NP_DTYPES))
def test_to_numpy_every_dtype_shares(dtype):
    t = sample(dtype)
    a = np.from_dlpack(t)
    assert a.dtype == NP_DTYPES[dtype] and a.shape == (2, 3)
    np.testing.assert_array_equal(a, np_sample(dtype))
    assert a.ctypes.data == t.data_ptr()
    assert a.flags.writeable
    a[1, 2] = 0
    assert t[1, 2].item() == 0
    t[0, 0] = one(dtype)
    assert a[0, 0] == one(dtype)


class LegacyOnly:
    """A pre-1.0 style producer: ``__dlpack__(stream=None)`` only, so consumers get "dltensor"."""

    def __init__(self, t):
        self.t = t

    def __dlpack__(self, stream=None):
        return self.t.__dlpack__(stream=stream)

    def __dlpack_device__(self):
        return self.t.__dlpack_device__()


@pytest.mark.parametrize("wrap", [lambda t: t, LegacyOnly], ids=["versioned", "legacy"])
def test_to_numpy_non_contiguous(wrap):
    t = ds.arange(24, dtype=ds.float32).reshape(4, 6)
    ref = np.arange(24, dtype=np.float32).reshape(4, 6)
    views = [(t.T, ref.T), (t[::2, 1::3], ref[::2, 1::3]), (t[:, 1], ref[:, 1]), (t.flip([0]), ref[::-1]),
             (ds.arange(3).expand(2, 3), np.broadcast_to(np.arange(3), (2, 3)))]
    for v, r in views:
        a = np.from_dlpack(wrap(v))
        assert a.shape == r.shape
        np.testing.assert_array_equal(a, r)
        assert a.strides == tuple(s * v.element_size() for s in v._strides())
    v = t[1::2, ::3]
    a = np.from_dlpack(wrap(v))
    assert a.ctypes.data == v.data_ptr()
    if wrap is LegacyOnly:
        # NumPy 2 marks arrays imported from legacy capsules read-only (no flags to tell it otherwise)
        assert not a.flags.writeable
        return
    a[1, 1] = -1  # t[3, 3]
    assert t[3, 3].item() == -1


def test_to_numpy_zero_size_and_zero_dim():
    a = np.from_dlpack(ds.zeros(2, 0, 3))
    assert a.shape == (2, 0, 3) and a.dtype == np.float32
    s = ds.tensor(4.5, dtype=ds.float64)
    a = np.from_dlpack(s)
    assert a.shape == () and a[()] == 4.5
    a[()] = 1.0
    assert s.item() == 1.0
    assert np.from_dlpack(LegacyOnly(ds.tensor(2))).shape == ()


def test_to_numpy_lifetime():
    base = len(_dlpack._EXPORTS)
    t = ds.arange(4096, dtype=ds.int64)
    a = np.from_dlpack(t[::2])
    b = np.from_dlpack(LegacyOnly(t))
    assert exports_alive() == base + 2
    del t
    gc.collect()
    junk = [ds.full([4096], -3, dtype=ds.int64) for _ in range(10)]
    np.testing.assert_array_equal(a, np.arange(0, 4096, 2))
    np.testing.assert_array_equal(b, np.arange(4096))
    del junk
    del a
    assert exports_alive() == base + 1
    del b
    assert exports_alive() == base


def test_export_copy_and_argument_checks():
    t = ds.arange(3, dtype=ds.float32)
    a = np.from_dlpack(t, copy=True)
    assert a.ctypes.data != t.data_ptr()
    a[0] = 5
    assert t[0].item() == 0
    cap = t.__dlpack__(max_version=(1, 0), copy=True)
    m = _dlpack.DLManagedTensorVersioned.from_address(_GetPointer(cap, b"dltensor_versioned"))
    assert m.flags & _dlpack.DLPACK_FLAG_BITMASK_IS_COPIED
    a = np.from_dlpack(t, copy=False)
    assert a.ctypes.data == t.data_ptr()
    assert t.__dlpack__(dl_device=(1, 0)) is not None
    with pytest.raises(BufferError, match="CPU"):
        t.__dlpack__(dl_device=(2, 0))
    with pytest.raises(BufferError, match="stream"):
        t.__dlpack__(stream=1)
    with pytest.raises(RuntimeError, match="detach"):
        ds.ones(2, requires_grad=True).__dlpack__()
    assert np.from_dlpack(ds.ones(2, requires_grad=True).detach()).tolist() == [1, 1]


def test_unconsumed_capsules_are_released():
    base = exports_alive()
    t = ds.arange(10)
    caps = [t.__dlpack__(), t.__dlpack__(max_version=(1, 0)), t[::2].__dlpack__(max_version=(1, 1))]
    assert exports_alive() == base + 3
    del caps
    assert exports_alive() == base


# ===================================================================== DLPack: NumPy -> deepseek

@pytest.mark.parametrize("dtype", list(NP_DTYPES))
def test_from_numpy_dlpack_every_dtype_shares(dtype):
    a = np_sample(dtype)
    t = ds.from_dlpack(a)
    assert t._dtype == dtype and tuple(t.shape) == (2, 3)
    assert t.tolist() == a.tolist()
    assert t.data_ptr() == a.ctypes.data
    t[1, 2] = 0
    assert a[1, 2] == 0
    a[0, 0] = one(dtype)
    assert t[0, 0].item() == one(dtype)


@pytest.mark.parametrize("how", ["object", "legacy_capsule", "versioned_capsule"])
def test_from_numpy_dlpack_non_contiguous(how):
    base = np.arange(24, dtype=np.float64).reshape(4, 6)

    def get(v):
        if how == "object":
            return v
        return v.__dlpack__() if how == "legacy_capsule" else v.__dlpack__(max_version=(1, 0))

    for view in (base.T, base[::2, 1::3], base[::-1], base[:, ::-2], base[1:3, 2], np.broadcast_to(base[0], (3, 6))):
        if not view.flags.writeable:
            continue
        t = ds.from_dlpack(get(view))
        assert tuple(t.shape) == view.shape
        assert t.tolist() == view.tolist()
        assert t._strides() == tuple(s // 8 for s in view.strides)
    t = ds.from_dlpack(get(base[::-1, ::2]))
    t[0, 0] = 1000  # base[3, 0]
    assert base[3, 0] == 1000


def test_from_dlpack_zero_size_and_zero_dim():
    t = ds.from_dlpack(np.zeros((2, 0, 3), dtype=np.int16))
    assert tuple(t.shape) == (2, 0, 3) and t._dtype == "int16"
    s = np.array(2.5, dtype=np.float32)
    t0 = ds.from_dlpack(s)
    assert t0.ndim == 0 and t0.item() == 2.5
    t0.fill_(4.0)
    assert s[()] == 4.0
    assert ds.from_dlpack(ds.zeros(0)).numel() == 0


def test_from_dlpack_lifetime():
    a = np.arange(10000, dtype=np.float64)
    t = ds.from_dlpack(a[::3])
    u = ds.from_dlpack(a.__dlpack__())
    del a
    gc.collect()
    junk = [np.full(10000, -1.0) for _ in range(10)]
    assert t.tolist() == list(np.arange(0, 10000, 3, dtype=np.float64))
    assert u[9999].item() == 9999.0
    del junk


def test_from_dlpack_read_only_producer_copies():
    a = np.arange(4.0)
    a.flags.writeable = False
    t = ds.from_dlpack(a)
    assert t.tolist() == [0, 1, 2, 3]
    assert t.data_ptr() != a.ctypes.data
    t[0] = 9  # must not write into the read-only array
    assert a[0] == 0


def test_capsule_is_consumed_once():
    cap = np.arange(3).__dlpack__(max_version=(1, 0))
    t = ds.from_dlpack(cap)
    assert capsule_name(cap) == "used_dltensor_versioned"
    with pytest.raises(BufferError, match="consumed"):
        ds.from_dlpack(cap)
    cap = np.arange(3).__dlpack__()
    ds.from_dlpack(cap)
    assert capsule_name(cap) == "used_dltensor"
    assert t.tolist() == [0, 1, 2]


def test_from_dlpack_rejections():
    with pytest.raises(TypeError):
        ds.from_dlpack(3)
    c = np.array([1 + 2j, -3j], dtype=np.complex64)  # kDLComplex is supported: shared, not refused
    t = ds.from_dlpack(c)
    assert t.dtype == ds.complex64 and t.tolist() == [1 + 2j, -3j] and np.shares_memory(t.numpy(), c)
    with pytest.raises(BufferError, match="uint32|uint"):
        ds.from_dlpack(np.zeros(3, dtype=np.uint32))

    class OnGPU:
        def __dlpack__(self, **kw):  # pragma: no cover - must not be reached
            raise AssertionError("the device must be checked first")

        def __dlpack_device__(self):
            return (2, 0)

    with pytest.raises(BufferError, match="CPU"):
        ds.from_dlpack(OnGPU())


# ===================================================================== DLPack: hand-built producers

class Producer:
    """A managed tensor built by hand, with a deleter that counts its calls."""

    def __init__(self, values, versioned=True, device=(1, 0), major=1, dtype=(2, 64)):
        self.buf = (ctypes.c_double * len(values))(*values)
        self.shape = (ctypes.c_int64 * 1)(len(values))
        self.calls = []
        self.deleter = _dlpack._Deleter(lambda p: self.calls.append(p))
        self.m = (_dlpack.DLManagedTensorVersioned if versioned else _dlpack.DLManagedTensor)()
        if versioned:
            self.m.version = _dlpack.DLPackVersion(major, 0)
        dl = self.m.dl_tensor
        dl.data = ctypes.addressof(self.buf)
        dl.device = _dlpack.DLDevice(*device)
        dl.ndim = 1
        dl.dtype = _dlpack.DLDataType(dtype[0], dtype[1], 1)
        dl.shape = self.shape
        dl.strides = None  # compact row-major
        self.m.deleter = self.deleter
        self.name = b"dltensor_versioned" if versioned else b"dltensor"

    def capsule(self):
        return _NewCapsule(ctypes.addressof(self.m), self.name, None)


@pytest.mark.parametrize("versioned", [False, True])
def test_consumer_calls_deleter_exactly_once_when_tensor_dies(versioned):
    p = Producer([1.0, 2.0, 3.0], versioned=versioned)
    t = ds.from_dlpack(p.capsule())
    assert t.tolist() == [1.0, 2.0, 3.0]
    assert t.data_ptr() == ctypes.addressof(p.buf)
    t[1] = 20.0
    assert p.buf[1] == 20.0
    v = t[1:]
    del t
    gc.collect()
    assert p.calls == []  # the view still holds the storage
    del v
    gc.collect()
    assert p.calls == [ctypes.addressof(p.m)]


def test_consumer_rejects_without_consuming():
    for p in (Producer([1.0], device=(2, 0)), Producer([1.0], major=2), Producer([1.0], dtype=(1, 32))):
        cap = p.capsule()
        with pytest.raises(BufferError):
            ds.from_dlpack(cap)
        assert capsule_name(cap) == p.name.decode()  # not consumed: still the producer's
        assert p.calls == []


# ===================================================================== DLPack: deepseek <-> deepseek, bfloat16

def test_deepseek_round_trip_shares_and_releases():
    base = exports_alive()
    t = ds.arange(12, dtype=ds.float32).reshape(3, 4)
    for versioned in (False, True):
        u = ds.from_dlpack(t.T.__dlpack__(max_version=(1, 0) if versioned else None))
        assert u.tolist() == t.T.tolist()
        assert u.data_ptr() == t.data_ptr()
        u[0, 1] = 100.0  # t[1, 0]
        assert t[1, 0].item() == 100.0
        del u
    u = ds.from_dlpack(t)
    del t
    gc.collect()
    assert u[2, 3].item() == 11.0
    del u
    assert exports_alive() == base


def test_bfloat16_export_is_zero_copy_and_import_copies():
    t = ds.tensor([1.5, -2.0, 3.25, 0.0]).bfloat16()
    for max_version in (None, (1, 0)):
        cap = t.__dlpack__(max_version=max_version)
        name = capsule_name(cap)
        ptr = _GetPointer(cap, name.encode())
        m = (_dlpack.DLManagedTensorVersioned if max_version else _dlpack.DLManagedTensor).from_address(ptr)
        assert m.dl_tensor.data == t.data_ptr()
        assert (m.dl_tensor.dtype.code, m.dl_tensor.dtype.bits) == (4, 16)
        u = ds.from_dlpack(cap)
        assert u.dtype == ds.bfloat16
        assert u.tolist() == [1.5, -2.0, 3.25, 0.0]
    u = ds.from_dlpack(t[::2])
    assert u.tolist() == [1.5, 3.25]
    z = ds.from_dlpack(ds.zeros(0, 2, dtype=ds.bfloat16))
    assert tuple(z.shape) == (0, 2) and z.dtype == ds.bfloat16
    s = ds.from_dlpack(ds.tensor(2.5, dtype=ds.bfloat16))
    assert s.ndim == 0 and s.item() == 2.5


def test_every_dtype_deepseek_round_trip():
    for dtype in ALL_DTYPES:
        t = sample(dtype, (2, 3)).T
        u = ds.from_dlpack(t)
        assert u.dtype == t.dtype
        assert u.tolist() == t.tolist()


def test_chained_imports_release_in_order():
    # deepseek -> deepseek -> deepseek: releasing the last import releases every export (this
    # re-enters the export registry from inside a release)
    base = exports_alive()
    a = ds.arange(8, dtype=ds.float32)
    b = ds.from_dlpack(a)
    c = ds.from_dlpack(b.__dlpack__(max_version=(1, 0)))
    d = ds.from_dlpack(c[::2])
    del a, b, c
    gc.collect()
    assert d.tolist() == [0.0, 2.0, 4.0, 6.0]
    assert exports_alive() == base + 3
    del d
    assert exports_alive() == base


def test_null_deleter_is_allowed():
    p = Producer([4.0, 5.0])
    p.m.deleter = _dlpack._Deleter()
    t = ds.from_dlpack(p.capsule())
    assert t.tolist() == [4.0, 5.0]
    del t
    gc.collect()
