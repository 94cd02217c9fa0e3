"""DLPack exchange: capsule layouts, deepseek <-> NumPy both ways, hand-built producers,
lifetimes and deleters."""
import ctypes
import gc

import numpy as np
import pytest

import deepseek as ds
from deepseek import _dlpack
from interop_cases import _GetPointer, _NewCapsule, ALL_DTYPES, NP_DTYPES, capsule_name, exports_alive, np_sample, one, sample


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
