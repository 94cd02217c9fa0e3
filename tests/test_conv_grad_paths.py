"""Both gradients of conv2d on every kernel path, against float64 NumPy references.

The weight gradient of f32 3x3 stride-1 convolutions runs as Winograd F(4x4, 3x3)
(`winograd_wgrad.rs`) where the shape makes it pay, im2col + GEMM elsewhere; strided
convolutions build their columns from the image's polyphase planes (`conv_strided.rs`,
tested in `test_conv_strided.py`), and 1x1 strided layers, the 7x7 stem and shapes that
path does not take gather them with `gather_row`. By default the core
picks Winograd only for shapes too large for a quick float64 reference, so the property test
forces each algorithm in turn (`_core._set_conv3x3_algorithm`) on small shapes: random
stride, padding, dilation, groups, kernel sizes 1-7, batch 0-3, non-contiguous inputs,
float32 and float64, one thread and two.

Tolerance: float64 paths agree to 1e-10 of the largest magnitude. float32 allows 3e-5, as
the forward Winograd tests do (`tests/test_conv_winograd.py` explains the figure: the
transforms' constants amplify rounding; a wrong tile or coefficient errs by ~1e-1).
"""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import deepseek as ds
from deepseek import _core
from deepseek.nn import functional as F


def out_size(h, k, s, p, d):
    return (h + 2 * p - d * (k - 1) - 1) // s + 1


def windows(xp, i, j, s, d, oh, ow):
    """The input values kernel tap (i, j) meets at every output position: [N, C, OH, OW]."""
    return xp[:, :, i * d[0]:i * d[0] + s[0] * (oh - 1) + 1:s[0], j * d[1]:j * d[1] + s[1] * (ow - 1) + 1:s[1]]


def np_conv_and_grads(x, w, r, s, p, d, groups):
    """float64 conv2d of x [N, C, H, W] with w [O, C/groups, KH, KW], and the gradients of
    sum(conv * r) with respect to x and w."""
    x, w, r = x.astype(np.float64), w.astype(np.float64), r.astype(np.float64)
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    og = o // groups
    oh, ow = r.shape[2:]
    xp = np.pad(x, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])))
    y = np.zeros((n, o, oh, ow))
    gxp = np.zeros_like(xp)
    gw = np.zeros_like(w)
    for g in range(groups):
        cs, os_ = slice(g * cg, (g + 1) * cg), slice(g * og, (g + 1) * og)
        for i in range(kh):
            for j in range(kw):
                win = windows(xp[:, cs], i, j, s, d, oh, ow)
                y[:, os_] += np.einsum("nchw,oc->nohw", win, w[os_, :, i, j])
                gw[os_, :, i, j] = np.einsum("nchw,nohw->oc", win, r[:, os_])
                windows(gxp[:, cs], i, j, s, d, oh, ow)[...] += np.einsum("nohw,oc->nchw", r[:, os_], w[os_, :, i, j])
    return y, gxp[:, :, p[0]:p[0] + h, p[1]:p[1] + wd], gw


def close(got, ref, rel):
    got = np.asarray(got, dtype=np.float64)
    assert got.shape == ref.shape
    if ref.size == 0:
        return
    scale = max(np.abs(ref).max(), 1e-30)
    err = np.abs(got - ref).max() / scale
    assert err <= rel, f"max error {err:.2e} of the reference's largest magnitude (allowed {rel:.0e})"


def make_input(x, layout):
    """`x` as a deepseek tensor with the given memory layout (same values)."""
    if layout == "channels_last":
        return ds.tensor(np.ascontiguousarray(x.transpose(0, 2, 3, 1))).permute(0, 3, 1, 2)
    if layout == "strided":
        big = np.zeros(x.shape[:3] + (2 * x.shape[3],), x.dtype)
        big[..., ::2] = x
        return ds.tensor(big)[..., ::2]
    return ds.tensor(x)


@st.composite
def cases(draw):
    winograd_sized = draw(st.integers(0, 3)) == 0
    if winograd_sized:
        # a 3x3 stride-1 layer with enough channels and tiles for the Winograd kernels
        groups, cg, og, kh, kw = 1, draw(st.integers(16, 20)), draw(st.integers(16, 20)), 3, 3
        s, d = (1, 1), (1, 1)
        p = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
        h, w = draw(st.integers(10 - 2 * p[0], 14)), draw(st.integers(10 - 2 * p[1], 14))
    else:
        groups = draw(st.integers(1, 2))
        cg, og = draw(st.integers(1, 4)), draw(st.integers(1, 4))
        kh, kw = draw(st.sampled_from([1, 2, 3, 5, 7])), draw(st.sampled_from([1, 3, 7]))
        s = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
        d = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
        p = (draw(st.integers(0, 3)), draw(st.integers(0, 3)))
        lo_h, lo_w = max(1, d[0] * (kh - 1) + 1 - 2 * p[0]), max(1, d[1] * (kw - 1) + 1 - 2 * p[1])
        h, w = draw(st.integers(lo_h, max(lo_h, 12))), draw(st.integers(lo_w, max(lo_w, 12)))
    n = draw(st.integers(0, 3))
    algorithm = draw(st.sampled_from(["auto", "im2col", "winograd"]))
    dtype = draw(st.sampled_from([np.float32, np.float32, np.float64]))
    layout = draw(st.sampled_from(["contiguous", "channels_last", "strided"]))
    threads = draw(st.sampled_from([1, 2]))
    seed = draw(st.integers(0, 2**31 - 1))
    return (n, groups * cg, groups * og, cg, kh, kw, h, w, s, p, d, groups), algorithm, dtype, layout, threads, seed


@pytest.fixture(scope="module")
def restore():
    threads = ds.get_num_threads()
    yield
    ds.set_num_threads(threads)
    _core._set_conv3x3_algorithm("auto")


@settings(max_examples=60)
@given(cases())
def test_conv_gradients_match_float64(restore, case):
    (n, c, o, cg, kh, kw, h, w, s, p, d, groups), algorithm, dtype, layout, threads, seed = case
    _core._set_conv3x3_algorithm(algorithm)
    ds.set_num_threads(threads)
    rng = np.random.RandomState(seed)
    x = rng.randn(n, c, h, w).astype(dtype)
    k = (rng.randn(o, cg, kh, kw) / np.sqrt(cg * kh * kw)).astype(dtype)
    oh, ow = out_size(h, kh, s[0], p[0], d[0]), out_size(w, kw, s[1], p[1], d[1])
    r = rng.randn(n, o, oh, ow).astype(dtype)
    xt = make_input(x, layout).requires_grad_(True)
    kt = ds.tensor(k, requires_grad=True)
    y = F.conv2d(xt, kt, stride=s, padding=p, dilation=d, groups=groups)
    (y * ds.tensor(r)).sum().backward()
    ry, rgx, rgw = np_conv_and_grads(x, k, r, s, p, d, groups)
    rel = 1e-10 if dtype == np.float64 else 3e-5
    close(y.detach().numpy(), ry, rel)
    close(xt.grad.numpy(), rgx, rel)
    if n == 0:
        assert not kt.grad.numpy().any()  # an empty sum
    close(kt.grad.numpy(), rgw, rel)
    assert xt.grad.dtype == xt.dtype and kt.grad.dtype == kt.dtype


def test_winograd_weight_grad_over_several_chunks():
    """Enough tiles for two scratch chunks of the Winograd weight gradient (the sum over
    tiles continues across chunks), with ragged tiles at the right and bottom edges."""
    rng = np.random.RandomState(5)
    x = rng.randn(3, 64, 58, 35).astype(np.float32)
    k = (rng.randn(80, 64, 3, 3) / 24).astype(np.float32)
    r = rng.randn(3, 80, 58, 35).astype(np.float32)
    try:
        _core._set_conv3x3_algorithm("winograd")
        kt = ds.tensor(k, requires_grad=True)
        (F.conv2d(ds.tensor(x), kt, padding=1) * ds.tensor(r)).sum().backward()
    finally:
        _core._set_conv3x3_algorithm("auto")
    _, _, rgw = np_conv_and_grads(x, k, r, (1, 1), (1, 1), (1, 1), 1)
    close(kt.grad.numpy(), rgw, 3e-5)


def test_input_gradient_only_where_needed():
    """The stem's input (an image batch) needs no gradient: backward computes only the
    weight's, and a frozen weight gets none."""
    rng = np.random.RandomState(6)
    x = ds.tensor(rng.randn(2, 3, 16, 16).astype(np.float32))
    k = ds.tensor(rng.randn(8, 3, 7, 7).astype(np.float32), requires_grad=True)
    F.conv2d(x, k, stride=2, padding=3).sum().backward()
    assert x.grad is None and k.grad is not None
    xg = ds.tensor(rng.randn(2, 3, 16, 16).astype(np.float32), requires_grad=True)
    kf = ds.tensor(rng.randn(8, 3, 7, 7).astype(np.float32))
    F.conv2d(xg, kf, stride=2, padding=3).sum().backward()
    assert kf.grad is None and xg.grad is not None


@pytest.mark.parametrize("n,c,o,k,s,p,h,w", [
    (2, 8, 12, 1, 1, 0, 16, 16),   # 1x1 on 256 positions: operands staged at a padded stride
    (1, 5, 6, 3, 1, 1, 16, 32),    # one large image: tiles of 512 positions
    (3, 3, 8, 7, 2, 3, 32, 32),    # the stem's shape: strided columns, 256 positions
    (2, 6, 4, 3, 2, 1, 24, 20),    # a strided 3x3 layer
])
def test_weight_gradient_at_power_of_two_positions(restore, n, c, o, k, s, p, h, w):
    """Image sizes whose position counts are multiples of 128, where the weight gradient's
    GEMM operands are staged at a padded row stride (im2col forced, one and two threads)."""
    rng = np.random.RandomState(7)
    x = rng.randn(n, c, h, w).astype(np.float32)
    kw = (rng.randn(o, c, k, k) / np.sqrt(c * k * k)).astype(np.float32)
    oh, ow = out_size(h, k, s, p, 1), out_size(w, k, s, p, 1)
    r = rng.randn(n, o, oh, ow).astype(np.float32)
    _, rgx, rgw = np_conv_and_grads(x, kw, r, (s, s), (p, p), (1, 1), 1)
    _core._set_conv3x3_algorithm("im2col")
    for threads in (1, 2):
        ds.set_num_threads(threads)
        xt = ds.tensor(x, requires_grad=True)
        kt = ds.tensor(kw, requires_grad=True)
        (F.conv2d(xt, kt, stride=s, padding=p) * ds.tensor(r)).sum().backward()
        close(kt.grad.numpy(), rgw, 3e-5)
        close(xt.grad.numpy(), rgx, 3e-5)


@pytest.mark.parametrize("h,w,k,p,d", [(1, 1, 3, 2, 2), (1, 2, 3, 3, 2), (2, 1, 5, 4, 2), (3, 3, 3, 3, 1)])
def test_padding_wider_than_the_image(restore, h, w, k, p, d):
    """Stride-1 convolutions whose output is as wide as the input, with some kernel taps
    landing entirely in the padding (the shifted-copy im2col skips them as zeros)."""
    rng = np.random.RandomState(8)
    x = rng.randn(2, 3, h, w).astype(np.float64)
    kw = rng.randn(4, 3, k, k)
    oh, ow = out_size(h, k, 1, p, d), out_size(w, k, 1, p, d)
    r = rng.randn(2, 4, oh, ow)
    ry, rgx, rgw = np_conv_and_grads(x, kw, r, (1, 1), (p, p), (d, d), 1)
    _core._set_conv3x3_algorithm("im2col")
    xt, kt = ds.tensor(x, requires_grad=True), ds.tensor(kw, requires_grad=True)
    y = F.conv2d(xt, kt, padding=p, dilation=d)
    (y * ds.tensor(r)).sum().backward()
    close(y.detach().numpy(), ry, 1e-10)
    close(xt.grad.numpy(), rgx, 1e-10)
    close(kt.grad.numpy(), rgw, 1e-10)
