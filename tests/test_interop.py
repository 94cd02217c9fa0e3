"""Interop with NumPy and Python values: shared memory, conversions, lifetimes (DLPack: test_dlpack)."""
import gc
import operator

import numpy as np
import pytest

import deepseek as ds
from interop_cases import NP_DTYPES, np_sample, one, sample


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
