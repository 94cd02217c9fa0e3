"""The fake CANN itself keeps CANN's rules, so the plugin's tests can trust it: arguments are
checked with CANN's codes (161001 for a null pointer; 161002 for a destroyed descriptor, a
negative stride, a view past its storage, a workspace too small), executors run once, memory
still used by queued work cannot be freed, and an operator computes through the strides and
offset it was given. Driven through ctypes with the libraries loaded into this process."""
from __future__ import annotations

import ctypes
import struct

import pytest

F32 = 0  # ACL_FLOAT
P, I64, U64 = ctypes.c_void_p, ctypes.c_int64, ctypes.c_uint64


@pytest.fixture(scope="module")
def cann(fake_cann):
    acl = ctypes.CDLL(str(fake_cann / "lib64" / "libascendcl.so"), mode=ctypes.RTLD_GLOBAL)
    nn = ctypes.CDLL(str(fake_cann / "lib64" / "libnnopbase.so"))
    op = ctypes.CDLL(str(fake_cann / "lib64" / "libopapi.so"))
    for f in (nn.aclCreateTensor, nn.aclCreateIntArray):
        f.restype = P
    acl.aclGetRecentErrMsg.restype = ctypes.c_char_p
    acl.aclrtMemcpy.argtypes = [P, ctypes.c_size_t, P, ctypes.c_size_t, ctypes.c_int]
    op.aclnnAbs.argtypes = [P, U64, P, P]
    op.aclnnAbsGetWorkspaceSize.argtypes = [P, P, ctypes.POINTER(U64), ctypes.POINTER(P)]
    acl.aclInit(None)
    assert acl.aclrtSetDevice(0) == 0
    stream = P()
    assert acl.aclrtCreateStream(ctypes.byref(stream)) == 0
    return acl, nn, op, stream


def _malloc(acl, n):
    p = P()
    assert acl.aclrtMalloc(ctypes.byref(p), ctypes.c_size_t(n), 0) == 0
    return p


def _tensor(nn, data, shape, strides, offset=0, storage=None):
    n = len(shape)
    dims, st = (I64 * max(n, 1))(*shape), (I64 * max(n, 1))(*strides)
    sdims = (I64 * 1)(storage if storage is not None else offset + 1 + sum((s - 1) * t for s, t in zip(shape, strides)))
    nn.aclCreateTensor.argtypes = [P, U64, ctypes.c_int, P, I64, ctypes.c_int, P, U64, P]
    return nn.aclCreateTensor(dims, n, F32, st, offset, 2, sdims, 1, data)


def _abs(op, x, out):
    ws, ex = U64(), P()
    rc = op.aclnnAbsGetWorkspaceSize(x, out, ctypes.byref(ws), ctypes.byref(ex))
    return rc, ws.value, ex


def test_abs_reads_through_strides_and_offset(cann):
    acl, nn, op, stream = cann
    buf, out = _malloc(acl, 64), _malloc(acl, 64)
    host = struct.pack("8f", -1, -2, -3, -4, -5, -6, -7, -8)
    assert acl.aclrtMemcpy(buf, 64, host, 32, 1) == 0
    x = _tensor(nn, buf, [3], [2], offset=1)  # elements 1, 3, 5
    o = _tensor(nn, out, [3], [1])
    rc, size, ex = _abs(op, x, o)
    assert rc == 0 and size > 0
    ws = _malloc(acl, size)
    assert op.aclnnAbs(ws, size, ex, stream) == 0
    assert op.aclnnAbs(ws, size, ex, stream) == 161002  # single-use
    assert b"single-use" in acl.aclGetRecentErrMsg()
    assert acl.aclrtFree(ws) != 0  # the stream has not run the op yet
    assert b"in use by aclnnAbs" in acl.aclGetRecentErrMsg()
    assert acl.aclrtSynchronizeStream(stream) == 0
    assert acl.aclrtFree(ws) == 0
    back = ctypes.create_string_buffer(12)
    assert acl.aclrtMemcpy(back, 12, out, 12, 2) == 0
    assert struct.unpack("3f", back.raw) == (2.0, 4.0, 6.0)
    for t in (x, o):
        assert nn.aclDestroyTensor(ctypes.c_void_p(t)) == 0
    assert nn.aclDestroyTensor(ctypes.c_void_p(x)) == 161002  # twice


def test_arguments_are_checked_with_canns_codes(cann):
    acl, nn, op, stream = cann
    buf = _malloc(acl, 64)
    good = _tensor(nn, buf, [4], [1])
    assert _abs(op, None, good)[0] == 161001
    assert b"self is nullptr" in acl.aclGetRecentErrMsg()
    assert _abs(op, _tensor(nn, buf, [4], [-1], offset=3), good)[0] == 161002
    assert b"negative stride" in acl.aclGetRecentErrMsg()
    assert _abs(op, _tensor(nn, buf, [4], [1], storage=3), good)[0] == 161002
    assert b"past its storage" in acl.aclGetRecentErrMsg()
    host = ctypes.create_string_buffer(64)
    assert _abs(op, _tensor(nn, ctypes.cast(host, P), [4], [1]), good)[0] == 161002
    assert b"not device memory" in acl.aclGetRecentErrMsg()
    dead = _tensor(nn, buf, [4], [1])
    nn.aclDestroyTensor(ctypes.c_void_p(dead))
    assert _abs(op, dead, good)[0] == 161002
    assert _abs(op, _tensor(nn, buf, [5], [1], storage=16), good)[0] == 161002  # shapes differ
    rc, size, ex = _abs(op, good, _tensor(nn, buf, [4], [1]))
    assert rc == 0
    small = _malloc(acl, size - 1)
    assert op.aclnnAbs(small, size - 1, ex, stream) == 161002
    assert b"bytes of device memory needed" in acl.aclGetRecentErrMsg()
