"""The OpenCL reduction, cumulative, matmul and convolution kernels against NumPy, through
``Backend.launch`` on uploaded buffers (the conventions: test_kernels.py)."""
from __future__ import annotations

import numpy as np
import pytest

from kernel_checks import close, rev, rounded
from ocl_helpers import FLOATS, TOL

RNG = np.random.default_rng(1234)


# --- reductions ----------------------------------------------------------------------------------

@pytest.mark.parametrize("op,fn", [("sum", np.sum), ("prod", np.prod), ("amax", np.max), ("amin", np.min)])
@pytest.mark.parametrize("axes", [(0,), (1, 3), (0, 1, 2, 3), ()])
def test_reduce_float32(dev, op, fn, axes):
    a = RNG.uniform(0.5, 1.5, size=(3, 4, 2, 5))
    x = dev.value(a, "float32", rev)
    oshape = tuple(1 if d in axes else s for d, s in enumerate(a.shape))
    out = dev.empty(oshape, "float32")
    dev.launch(op, [out, x])
    want = fn(rev(rounded(a, "float32")), axis=axes, keepdims=True) if axes else rev(rounded(a, "float32"))
    close(dev.values(out), want, "float32", rtol=1e-5)


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16", "float64"])
def test_reduce_large_two_pass(dev, dtype):
    a = RNG.uniform(-1, 1, size=(3, 40000))
    x = dev.value(a, dtype, lambda v: v.T)  # (40000, 3) reduced over dim 0, strided
    out = dev.empty((1, 3), dtype)
    dev.launch("sum", [out, x])
    ra = rounded(a, dtype).T
    want = ra.sum(axis=0, keepdims=True)
    tol = {"float32": 1e-3, "float16": 0.5, "bfloat16": 2.0, "float64": 1e-9}[dtype]
    np.testing.assert_allclose(dev.values(out), want, atol=tol)
    for op, fn in (("amax", np.max), ("amin", np.min)):
        out = dev.empty((1, 1), dtype)
        dev.launch(op, [out, x])
        np.testing.assert_array_equal(dev.values(out), fn(ra, keepdims=True))


def test_reduce_nan_integers_bool_and_empty(dev):
    a = np.array([[1.0, np.nan, 3.0], [4.0, 5.0, 6.0]])
    for op in ("amax", "amin", "sum"):
        out = dev.empty((2, 1), "float32")
        dev.launch(op, [out, dev.value(a, "float32")])
        got = dev.values(out).ravel()
        assert np.isnan(got[0]) and not np.isnan(got[1])
    big = np.full((70,), 100, dtype=np.int64)
    out = dev.empty((1,), "int8")
    dev.launch("sum", [out, dev.value(big, "int8")])
    assert dev.get(out)[0] == np.int8(np.int64(7000).astype(np.int8))
    out = dev.empty((1,), "int64")
    dev.launch("prod", [out, dev.value([3] * 41, "int64")])
    assert dev.get(out)[0] == np.int64(pow(3, 41, 1 << 64) - (1 << 64))
    for op, want in (("amax", -2), ("amin", -9)):
        out = dev.empty((1,), "int16")
        dev.launch(op, [out, dev.value([-5, -2, -9], "int16")])
        assert dev.get(out)[0] == want
    for op, want in (("sum", True), ("prod", False), ("amax", True), ("amin", False)):
        out = dev.empty((1,), "bool")
        dev.launch(op, [out, dev.value([True, False, True], "bool")])
        assert dev.get(out)[0] == want
    for op, want in (("sum", 0.0), ("prod", 1.0)):
        out = dev.empty((2, 1), "float32")
        dev.launch(op, [out, dev.empty((2, 0), "float32")])
        np.testing.assert_array_equal(dev.values(out), [[want], [want]])
    dev.launch("sum", [dev.empty((0, 1), "float32"), dev.empty((0, 4), "float32")])
    out = dev.empty((), "float32")
    dev.launch("sum", [out, dev.value(np.array(2.5), "float32")])
    assert dev.values(out) == 2.5


@pytest.mark.parametrize("dtype", ["float32", "int32", "bfloat16"])
def test_argmax_argmin(dev, dtype):
    a = np.array([[3, 1, 3, 0], [2, 2, 5, 5], [-1, 4, 4, -1]], dtype=np.float64)
    x = dev.value(a, dtype, lambda v: v[:, ::-1])
    ra = a[:, ::-1]
    for op, fn in (("argmax", np.argmax), ("argmin", np.argmin)):
        for dim in (0, 1):
            out = dev.empty(tuple(1 if d == dim else s for d, s in enumerate(ra.shape)), "int64")
            dev.launch(op, [out, x], [dim])
            np.testing.assert_array_equal(dev.get(out), fn(ra, axis=dim, keepdims=True), err_msg=f"{op} {dim}")
    if dtype == "float32":
        out = dev.empty((1,), "int64")
        dev.launch("argmin", [out, dev.value([2.0, np.nan, -1.0, np.nan], "float32")], [0])
        assert dev.get(out)[0] == 1  # the first NaN counts as the extreme
        out = dev.empty((), "int64")
        dev.launch("argmax", [out, dev.value(np.array(3.0), "float32")], [0])
        assert dev.get(out) == 0


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "int8", "float16"])
def test_cumulative(dev, dtype):
    a = RNG.integers(-3, 4, size=(3, 5)).astype(np.float64)
    x = dev.value(a, dtype, rev)
    ra = rev(a)
    for op, fn in (("cumsum", np.cumsum), ("cumprod", np.cumprod)):
        for dim in (0, 1, -1):
            out = dev.empty((3, 5), dtype)
            dev.launch(op, [out, x], [dim])
            want = fn(ra.astype(np.int64), axis=dim).astype(dtype) if dtype not in FLOATS else fn(ra, axis=dim)
            close(dev.values(out), want, dtype)
    out = dev.empty((4,), "bool")
    dev.launch("cumsum", [out, dev.value([False, True, False, True], "bool")], [0])
    np.testing.assert_array_equal(dev.get(out), [False, True, True, True])


# --- matmul and convolution ------------------------------------------------------------------

@pytest.fixture(params=["tiled", "direct"])
def matmul_variant(request, monkeypatch):
    """Both matmul kernels: tiled through local memory (GPUs) and direct (CPU drivers)."""
    monkeypatch.setenv("DEEPSEEK_OPENCL_MATMUL", request.param)
    return request.param


@pytest.mark.parametrize("B,M,K,N", [(1, 1, 1, 1), (2, 17, 33, 9), (3, 40, 5, 70), (1, 64, 64, 64), (2, 3, 0, 4)])
def test_matmul_float32(dev, B, M, K, N, matmul_variant):
    a = RNG.standard_normal((B, M, K))
    b = RNG.standard_normal((B, N, K))
    x = dev.value(a, "float32")
    y = dev.value(b, "float32", lambda v: v.transpose(0, 2, 1))  # a transposed (B, K, N) view
    out = dev.empty((B, M, N), "float32")
    dev.launch("matmul", [out, x, y])
    want = rounded(a, "float32") @ rounded(b, "float32").transpose(0, 2, 1)
    close(dev.values(out), want, "float32", rtol=1e-4, atol=1e-4)


def test_matmul_more_batches_than_one_launch_holds(dev, matmul_variant):
    """Past MAX_GROUPS_YZ batches (CUDA's grid limit along z) the planners split the launch;
    every block of batches lands at its own offset, on negatively strided operands too."""
    from deepseek.backends import kernels

    B = kernels.MAX_GROUPS_YZ + 9
    a = RNG.standard_normal((B, 2, 3))
    b = RNG.standard_normal((B, 3, 2))
    out = dev.empty((B, 2, 2), "float32")
    dev.launch("matmul", [out, dev.value(a, "float32", rev), dev.value(b, "float32")])
    want = rev(rounded(a, "float32")) @ rounded(b, "float32")
    close(dev.values(out), want, "float32", rtol=1e-5, atol=1e-5)


def test_matmul_batch_stride_0_and_dtypes(dev, matmul_variant):
    a = RNG.standard_normal((1, 5, 7))
    b = RNG.standard_normal((3, 7, 4))
    for dtype in ("float64", "float16", "bfloat16"):
        out = dev.empty((3, 5, 4), dtype)
        dev.launch("matmul", [out, dev.value(a, dtype, lambda v: np.broadcast_to(v, (3, 5, 7))),
                              dev.value(b, dtype)])
        want = rounded(a, dtype) @ rounded(b, dtype)
        close(dev.values(out), want, dtype, rtol=TOL[dtype] * 4, atol=TOL[dtype] * 8)
    ai = RNG.integers(-100, 100, size=(2, 6, 5))
    bi = RNG.integers(-100, 100, size=(2, 5, 3))
    for dtype in ("int32", "int64", "int8"):
        out = dev.empty((2, 6, 3), dtype)
        dev.launch("matmul", [out, dev.value(ai, dtype), dev.value(bi, dtype)])
        want = (ai.astype(dtype).astype(np.int64) @ bi.astype(dtype).astype(np.int64)).astype(dtype)
        np.testing.assert_array_equal(dev.get(out), want)


def conv_ref(x, w, s, p, d, G):
    N, C, H, W = x.shape
    O, Cg, KH, KW = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])))
    OH = (H + 2 * p[0] - d[0] * (KH - 1) - 1) // s[0] + 1
    OW = (W + 2 * p[1] - d[1] * (KW - 1) - 1) // s[1] + 1
    Og = O // G
    out = np.zeros((N, O, OH, OW))
    gx = np.zeros_like(xp)
    patches = {}
    for g in range(G):
        for kh in range(KH):
            for kw in range(KW):
                sl = (slice(None), slice(g * Cg, (g + 1) * Cg),
                      slice(kh * d[0], kh * d[0] + s[0] * (OH - 1) + 1, s[0]),
                      slice(kw * d[1], kw * d[1] + s[1] * (OW - 1) + 1, s[1]))
                patches[g, kh, kw] = sl
                out[:, g * Og:(g + 1) * Og] += np.einsum("nchw,oc->nohw", xp[sl], w[g * Og:(g + 1) * Og, :, kh, kw])
    return out, patches, xp


def conv_grads(x, w, gy, s, p, d, G):
    _, patches, xp = conv_ref(x, w, s, p, d, G)
    O, Cg, KH, KW = w.shape
    Og = O // G
    gxp = np.zeros_like(xp)
    gw = np.zeros_like(w)
    for (g, kh, kw), sl in patches.items():
        gys = gy[:, g * Og:(g + 1) * Og]
        gxp[sl] += np.einsum("nohw,oc->nchw", gys, w[g * Og:(g + 1) * Og, :, kh, kw])
        gw[g * Og:(g + 1) * Og, :, kh, kw] = np.einsum("nohw,nchw->oc", gys, xp[sl])
    H, W = x.shape[2:]
    return gxp[:, :, p[0]:p[0] + H, p[1]:p[1] + W], gw


CONV_CASES = [  # N, C, H, W, O, KH, KW, stride, pad, dilation, groups
    (2, 3, 7, 6, 4, 3, 3, (1, 1), (1, 1), (1, 1), 1),
    (1, 4, 9, 8, 6, 3, 2, (2, 3), (2, 0), (2, 1), 2),
    (3, 2, 5, 5, 2, 1, 1, (1, 1), (0, 0), (1, 1), 2),
    (8, 1, 12, 12, 2, 5, 5, (1, 1), (2, 2), (1, 1), 1),  # small weight, many positions: split batch
]


@pytest.fixture(params=["gemm", "direct"])
def conv_variant(request, monkeypatch):
    """Both conv paths: im2col + matmul (groups == 1) and the direct kernels."""
    monkeypatch.setenv("DEEPSEEK_OPENCL_CONV", request.param)
    return request.param


@pytest.mark.parametrize("case", CONV_CASES)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_conv2d_and_gradients(dev, case, dtype, conv_variant):
    N, C, H, W, O, KH, KW, s, p, d, G = case
    x = RNG.standard_normal((N, C, H, W))
    w = RNG.standard_normal((O, C // G, KH, KW))
    xr, wr = rounded(x, dtype), rounded(w, dtype)
    want, _, _ = conv_ref(xr, wr, s, p, d, G)
    scal = [s[0], s[1], p[0], p[1], d[0], d[1], G]
    out = dev.empty(want.shape, dtype)
    dev.launch("conv2d", [out, dev.value(x, dtype), dev.value(w, dtype)], scal)
    tol = 1e-4 if dtype == "float32" else 1e-10
    close(dev.values(out), want, dtype, rtol=tol, atol=tol)
    gy = RNG.standard_normal(want.shape)
    gyr = rounded(gy, dtype)
    gx_want, gw_want = conv_grads(xr, wr, gyr, s, p, d, G)
    gx = dev.empty(x.shape, dtype)
    dev.launch("conv2d_input_grad", [gx, dev.value(gy, dtype), dev.value(w, dtype, lambda v: v)], scal)
    close(dev.values(gx), gx_want, dtype, rtol=tol, atol=tol)
    gw = dev.empty(w.shape, dtype)
    dev.launch("conv2d_weight_grad", [gw, dev.value(gy, dtype), dev.value(x, dtype)], scal)
    close(dev.values(gw), gw_want, dtype, rtol=tol * 10, atol=tol * 10)


def test_conv2d_strided_inputs_and_half(dev, conv_variant):
    x = RNG.standard_normal((2, 3, 6, 6))
    w = RNG.standard_normal((4, 3, 3, 3))
    want, _, _ = conv_ref(rev(rounded(x, "float16")), rounded(w, "float16"), (1, 1), (1, 1), (1, 1), 1)
    out = dev.empty(want.shape, "float16")
    dev.launch("conv2d", [out, dev.value(x, "float16", rev), dev.value(w, "float16")], [1, 1, 1, 1, 1, 1, 1])
    close(dev.values(out), want, "float16", rtol=1e-2, atol=2e-2)
