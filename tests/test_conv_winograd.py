"""The Winograd F(4x4, 3x3) path of conv2d (f32, 3x3, stride 1, dilation 1, groups 1) and of
its input gradient, against float64 NumPy references, by property: random batch, channels,
odd image sizes (partial tiles), padding 0-2 per axis, non-contiguous inputs, both thread
counts, images down to 1x1 with padding. By default the core takes Winograd only for shapes
where it measured faster (at least 16 channels each side, 8x8 outputs, enough tiles times
channel pairs), all larger than a float64 reference can check quickly, so these tests force
it (`_core._set_conv3x3_algorithm("winograd")`) and compare it with the forced im2col path.

Tolerance: Winograd's transforms amplify f32 rounding. The max error relative to the
output's largest magnitude measured 5.7e-6 at 64 input channels, 9e-6 at 128 and 256 and
1.7e-5 at 512 (ResNet-50's shapes, normal data; im2col + GEMM: 4-6e-7), and grows with the
channels summed. These tests (16-32 channels) allow 3e-5 of the reference's largest
magnitude: several times the error at their sizes, far below any real bug (a wrong tile or
transform coefficient gives errors of order 1e-1)."""
import warnings

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import deepseek as ds
from deepseek import _core
from deepseek.nn import functional as F

REL = 3e-5


def np_conv3x3(x, w, pad):
    """float64 reference: stride-1 3x3 cross-correlation with zero padding (ph, pw)."""
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (pad[0], pad[0]), (pad[1], pad[1])))
    oh, ow = xp.shape[2] - 2, xp.shape[3] - 2
    out = np.zeros((x.shape[0], w.shape[0], oh, ow))
    for ki in range(3):
        for kj in range(3):
            out += np.einsum("nchw,oc->nohw", xp[:, :, ki:ki + oh, kj:kj + ow], w[:, :, ki, kj].astype(np.float64))
    return out


def np_input_grad(r, w, x_shape, pad):
    """Gradient of sum(conv(x, w) * r) with respect to x: the adjoint of `np_conv3x3`."""
    n, c, h, wd = x_shape
    oh, ow = r.shape[2:]
    gxp = np.zeros((n, c, h + 2 * pad[0], wd + 2 * pad[1]))
    for ki in range(3):
        for kj in range(3):
            gxp[:, :, ki:ki + oh, kj:kj + ow] += np.einsum("nohw,oc->nchw", r, w[:, :, ki, kj].astype(np.float64))
    return gxp[:, :, pad[0]:pad[0] + h, pad[1]:pad[1] + wd]


def np_weight_grad(r, x, pad):
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (pad[0], pad[0]), (pad[1], pad[1])))
    oh, ow = r.shape[2:]
    gw = np.zeros((r.shape[1], x.shape[1], 3, 3))
    for ki in range(3):
        for kj in range(3):
            gw[:, :, ki, kj] = np.einsum("nchw,nohw->oc", xp[:, :, ki:ki + oh, kj:kj + ow], r)
    return gw


def close(got, ref, rel=REL):
    got = np.asarray(got, dtype=np.float64)
    scale = max(np.abs(ref).max(), 1e-30)
    err = np.abs(got - ref).max() / scale if ref.size else 0.0
    assert err <= rel, f"max error {err:.2e} of the reference's largest magnitude (allowed {rel:.0e})"


@st.composite
def cases(draw):
    n = draw(st.integers(1, 2))
    c = draw(st.integers(16, 21))
    o = draw(st.integers(16, 21))
    pad = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    # mostly outputs of 8x8 and more (Winograd), sometimes images down to 1x1 when the
    # padding makes room for the kernel (im2col); odd sizes span partial tiles
    small = draw(st.integers(0, 4)) == 0
    h = draw(st.integers(max(1, 3 - 2 * pad[0]), 4) if small else st.integers(10 - 2 * pad[0], 15))
    w = draw(st.integers(max(1, 3 - 2 * pad[1]), 4) if small else st.integers(10 - 2 * pad[1], 15))
    layout = draw(st.sampled_from(["contiguous", "channels_last", "strided"]))
    threads = draw(st.sampled_from([1, 2]))
    seed = draw(st.integers(0, 2**31 - 1))
    return n, c, o, h, w, pad, layout, threads, seed


def make_input(x, layout):
    """`x` as a deepseek tensor with the given memory layout (same values)."""
    if layout == "channels_last":
        return ds.tensor(np.ascontiguousarray(x.transpose(0, 2, 3, 1))).permute(0, 3, 1, 2)
    if layout == "strided":
        big = np.zeros(x.shape[:3] + (2 * x.shape[3],), np.float32)
        big[..., ::2] = x
        return ds.tensor(big)[..., ::2]
    return ds.tensor(x)


@pytest.fixture(autouse=True, scope="module")
def force_winograd():
    _core._set_conv3x3_algorithm("winograd")
    yield
    _core._set_conv3x3_algorithm("auto")


def check_forward_and_grads(case):
    """The forward, input and weight gradients of one drawn case (`cases()`'s tuple) against
    float64 references, on the thread count the case names."""
    n, c, o, h, wd, pad, layout, threads, seed = case
    ds.set_num_threads(threads)
    rng = np.random.RandomState(seed)
    x = rng.randn(n, c, h, wd).astype(np.float32)
    w = (rng.randn(o, c, 3, 3) / np.sqrt(9 * c)).astype(np.float32)
    xt = make_input(x, layout).requires_grad_(True)
    if layout != "contiguous" and h > 1 and wd > 1:  # (with a size-1 axis the view is contiguous)
        assert not xt.is_contiguous()
    wt = ds.tensor(w, requires_grad=True)
    y = F.conv2d(xt, wt, padding=pad)
    ref = np_conv3x3(x, w, pad)
    assert tuple(y.shape) == ref.shape
    close(y.detach().numpy(), ref)
    r = rng.randn(*ref.shape).astype(np.float32)
    (y * ds.tensor(r)).sum().backward()
    close(xt.grad.numpy(), np_input_grad(r.astype(np.float64), w, x.shape, pad))
    close(wt.grad.numpy(), np_weight_grad(r.astype(np.float64), x, pad))


@settings(max_examples=40)
@given(cases())
def test_winograd_forward_and_grads_match_float64(restore_threads, case):
    check_forward_and_grads(case)


@pytest.mark.parametrize("pad", [(0, 0), (1, 1), (2, 1), (4, 3)])
def test_winograd_matches_im2col_float64_path(pad):
    """The f32 Winograd result equals the f64 (im2col) kernel's within the tolerance."""
    rng = np.random.RandomState(1)
    x = rng.randn(2, 32, 13, 11)
    w = rng.randn(24, 32, 3, 3) / np.sqrt(9 * 32)
    y32 = F.conv2d(ds.tensor(x.astype(np.float32)), ds.tensor(w.astype(np.float32)), padding=pad)
    y64 = F.conv2d(ds.tensor(x), ds.tensor(w), padding=pad)
    close(y32.numpy(), y64.numpy())


@pytest.mark.parametrize("pad", [0, 1, 2])
def test_winograd_gradients_vs_finite_differences(pad):
    """gradcheck on the f32 Winograd path. The loss sum(conv(x, w) * r) is linear in x and in
    w, so central differences are exact up to rounding at any step: eps = 0.5 keeps the f32
    rounding of the differenced sums (~1e-6 of |loss|) well inside the tolerance."""
    rng = np.random.RandomState(pad)
    c, o, h = 16, 16, 10 - 2 * pad  # the smallest image with an 8x8 output
    x = ds.tensor(rng.randn(1, c, h, h).astype(np.float32), requires_grad=True)
    w = ds.tensor((rng.randn(o, c, 3, 3) / 12).astype(np.float32), requires_grad=True)
    oh = h + 2 * pad - 2
    r = ds.tensor(rng.randn(1, o, oh, oh).astype(np.float32))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # gradcheck warns that the inputs are not float64
        assert ds.autograd.gradcheck(lambda a, k: (F.conv2d(a, k, padding=pad) * r).sum(), (x, w), eps=0.5, atol=2e-3, rtol=1e-3)


def test_winograd_large_channels_chunked():
    """Enough tiles and channels for several scratch chunks (8 MiB each), with a ragged last one."""
    rng = np.random.RandomState(2)
    x = rng.randn(3, 64, 58, 35).astype(np.float32)
    w = (rng.randn(80, 64, 3, 3) / 24).astype(np.float32)
    close(F.conv2d(ds.tensor(x), ds.tensor(w), padding=1).numpy(), np_conv3x3(x, w, (1, 1)))


def test_winograd_zero_size_and_bias():
    x = ds.zeros(0, 16, 5, 5)
    w = ds.randn(16, 16, 3, 3)
    assert tuple(F.conv2d(x, w, padding=1).shape) == (0, 16, 5, 5)
    rng = np.random.RandomState(3)
    xn = rng.randn(1, 16, 10, 9).astype(np.float32)
    wn = rng.randn(17, 16, 3, 3).astype(np.float32)
    bn = rng.randn(17).astype(np.float32)
    got = F.conv2d(ds.tensor(xn), ds.tensor(wn), ds.tensor(bn), padding=(0, 1)).numpy()
    close(got, np_conv3x3(xn, wn, (0, 1)) + bn[None, :, None, None])


@pytest.mark.parametrize("shape", [(1, 3, 5, 7, 4), (2, 16, 9, 9, 24), (1, 64, 16, 16, 64)])
def test_forced_algorithms_agree_and_auto_is_the_default(shape):
    """Winograd and im2col give the same result within the tolerance at any channel count and
    size (the shape choice is a speed decision only); unknown names are refused."""
    n, c, h, w, o = shape
    rng = np.random.RandomState(4)
    x = ds.tensor(rng.randn(n, c, h, w).astype(np.float32))
    k = ds.tensor((rng.randn(o, c, 3, 3) / np.sqrt(9 * c)).astype(np.float32))
    try:
        _core._set_conv3x3_algorithm("im2col")
        a = F.conv2d(x, k, padding=1).numpy()
        _core._set_conv3x3_algorithm("auto")
        b = F.conv2d(x, k, padding=1).numpy()
    finally:
        _core._set_conv3x3_algorithm("winograd")
    c_ = F.conv2d(x, k, padding=1).numpy()
    ref = np_conv3x3(x.numpy(), k.numpy(), (1, 1))
    for got in (a, b, c_):
        close(got, ref)
    with pytest.raises(RuntimeError, match="unknown 3x3 algorithm"):
        _core._set_conv3x3_algorithm("fft")
