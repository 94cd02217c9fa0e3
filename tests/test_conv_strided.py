"""Strided convolutions through the polyphase split (`core-rs/src/ops/conv_strided.rs`).

Every convolution with a stride above 1 and more than one tap whose taps stay inside one output
row per phase plane ((kw - 1) * dilation - padding < stride along x: ResNet's strided 3x3
layers, not its 1x1 ones or the 7x7 stem) builds its im2col columns as shifted copies of the
image's phase planes and, with output rows of 16 or more, scatters its input gradient back
through them. These tests compare the forward and both gradients with a float64 NumPy direct
convolution on the shapes that path takes (strides 2 and 3, odd and even sizes, short and long
rows, padding 0-2, dilation 1-2, groups, batch 0-2, channel counts that are not multiples of
16, non-contiguous inputs, one and two threads), on an image large enough for several column
tiles, and the float64 gradients against finite differences.

Tolerance: float64 agrees to 1e-10 of the largest magnitude, float32 to 3e-5 (a sum of up to
a few hundred products; a misplaced tap errs by ~1e-1).
"""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import deepseek as ds
from deepseek.nn import functional as F
from test_conv_grad_paths import close, make_input, np_conv_and_grads, out_size


@pytest.fixture(scope="module")
def restore():
    threads = ds.get_num_threads()
    yield
    ds.set_num_threads(threads)


def conv_and_grads(x, k, r, s, p, d, groups, layout="contiguous"):
    """deepseek's conv2d of x and k, and the gradients of sum(conv * r), as NumPy arrays."""
    xt = make_input(x, layout).requires_grad_(True)
    kt = ds.tensor(k, requires_grad=True)
    y = F.conv2d(xt, kt, stride=s, padding=p, dilation=d, groups=groups)
    (y * ds.tensor(r)).sum().backward()
    return y.detach().numpy(), xt.grad.numpy(), kt.grad.numpy()


@st.composite
def strided_cases(draw):
    groups = draw(st.integers(1, 2))
    cg, og = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    s = draw(st.sampled_from([(2, 2), (3, 3), (2, 3), (3, 1), (1, 2), (2, 1)]))
    d = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    kh, kw = draw(st.sampled_from([1, 2, 3, 5])), draw(st.sampled_from([1, 2, 3]))
    # padding along x up to one past the least the polyphase path takes: (kw - 1) d - p < s
    p_lo_w = max(0, (kw - 1) * d[1] - s[1] + 1)
    p = (draw(st.integers(0, 2)), draw(st.integers(p_lo_w, p_lo_w + 1)))
    lo_h, lo_w = max(1, d[0] * (kh - 1) + 1 - 2 * p[0]), max(1, d[1] * (kw - 1) + 1 - 2 * p[1])
    h = draw(st.integers(lo_h, lo_h + 13))
    # sometimes rows of 16+ outputs, where the input gradient scatters through the planes too
    w = draw(st.one_of(st.integers(lo_w, lo_w + 13), st.integers(16 * s[1] + lo_w, 16 * s[1] + lo_w + 5)))
    n = draw(st.integers(0, 2))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    layout = draw(st.sampled_from(["contiguous", "channels_last", "strided"]))
    threads = draw(st.sampled_from([1, 2]))
    seed = draw(st.integers(0, 2**31 - 1))
    return (n, groups, cg, og, kh, kw, h, w, s, p, d), dtype, layout, threads, seed


@settings(max_examples=50)
@given(strided_cases())
def test_strided_conv_and_gradients_match_float64(restore, case):
    (n, groups, cg, og, kh, kw, h, w, s, p, d), dtype, layout, threads, seed = case
    ds.set_num_threads(threads)
    rng = np.random.RandomState(seed)
    x = rng.randn(n, groups * cg, h, w).astype(dtype)
    k = (rng.randn(groups * og, cg, kh, kw) / np.sqrt(cg * kh * kw)).astype(dtype)
    oh, ow = out_size(h, kh, s[0], p[0], d[0]), out_size(w, kw, s[1], p[1], d[1])
    r = rng.randn(n, groups * og, oh, ow).astype(dtype)
    y, gx, gk = conv_and_grads(x, k, r, s, p, d, groups, layout)
    ry, rgx, rgk = np_conv_and_grads(x, k, r, s, p, d, groups)
    rel = 1e-10 if dtype == np.float64 else 3e-5
    close(y, ry, rel)
    close(gx, rgx, rel)
    close(gk, rgk, rel)
    if n == 0:
        assert y.shape == (0, groups * og, oh, ow) and not gk.any()


@pytest.mark.parametrize("n,c,o,h,w,k,s,p", [
    (1, 120, 8, 36, 37, 3, 2, 1),   # 18x19 positions, K = 1080: two column tiles of one image
    (3, 20, 12, 14, 14, 3, 2, 1),   # 7x7 positions: images batched into one column matrix
    (2, 18, 10, 15, 16, 2, 2, 0),   # 2x2 stride 2: each tap alone on its phase, no shift
    (2, 7, 5, 17, 13, 3, 3, 1),     # stride 3: taps on three phases of each axis
])
def test_resnet_like_strided_layers(restore, n, c, o, h, w, k, s, p):
    rng = np.random.RandomState(11)
    x = rng.randn(n, c, h, w).astype(np.float32)
    kk = (rng.randn(o, c, k, k) / np.sqrt(c * k * k)).astype(np.float32)
    oh, ow = out_size(h, k, s, p, 1), out_size(w, k, s, p, 1)
    r = rng.randn(n, o, oh, ow).astype(np.float32)
    ry, rgx, rgk = np_conv_and_grads(x, kk, r, (s, s), (p, p), (1, 1), 1)
    for threads in (1, 2):
        ds.set_num_threads(threads)
        y, gx, gk = conv_and_grads(x, kk, r, (s, s), (p, p), (1, 1), 1)
        close(y, ry, 3e-5)
        close(gx, rgx, 3e-5)
        close(gk, rgk, 3e-5)


@pytest.mark.parametrize("h,w,k,s,p", [(7, 8, 3, 2, 1), (6, 5, 2, 3, 0), (5, 5, 3, 2, 2)])
def test_strided_gradients_match_finite_differences(h, w, k, s, p):
    """float64 gradients of sum(conv * r) against central differences of the forward."""
    rng = np.random.RandomState(12)
    x = rng.randn(1, 2, h, w)
    kk = rng.randn(3, 2, k, k)
    oh, ow = out_size(h, k, s, p, 1), out_size(w, k, s, p, 1)
    r = ds.tensor(rng.randn(1, 3, oh, ow))
    _, gx, gk = conv_and_grads(x, kk, r.numpy(), s, p, 1, 1)

    def f(xa, ka):
        with ds.no_grad():
            return float((F.conv2d(ds.tensor(xa), ds.tensor(ka), stride=s, padding=p) * r).sum().item())

    eps = 1e-6
    for arr, grad, other in ((x, gx, "x"), (kk, gk, "k")):
        num = np.zeros_like(arr)
        for i in np.ndindex(arr.shape):
            plus, minus = arr.copy(), arr.copy()
            plus[i] += eps
            minus[i] -= eps
            num[i] = (f(plus, kk) - f(minus, kk)) / (2 * eps) if other == "x" else (f(x, plus) - f(x, minus)) / (2 * eps)
        np.testing.assert_allclose(grad, num, rtol=1e-6, atol=1e-7, err_msg=f"gradient of {other}")
