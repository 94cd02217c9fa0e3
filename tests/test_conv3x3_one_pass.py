"""The one-pass form of the Winograd F(4x4, 3x3) convolution (``ops/winograd_small.rs``: the
whole layer's input transformed at once, output channels in blocks of 64, the 36 GEMMs through
a register-blocked AVX-512 kernel) against float64 NumPy references, by property: 7x7, 14x14
and odd image sizes, batch 1 to 3, channel counts that are not multiples of 16 (partial blocks
of 12 kernel rows, of 64 output channels and of 32 tile columns), padding 0-2 per axis,
non-contiguous inputs, both thread counts; the forward and the input gradient (the same path
with the rotated, transposed weight) and the weight gradient beside them.

By default the core takes this form only for many channels (ResNet-50's 14x14 and 7x7 stages,
too large for a float64 reference to check quickly), so these tests force it
(``_core._set_conv3x3_algorithm("winograd_one_pass")``). Tolerance as in
``test_conv_winograd.py``: 3e-5 of the reference's largest magnitude, several times the
transforms' f32 rounding at these channel counts and far below any real bug."""
import warnings

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import deepseek as ds
from deepseek import _core, nn
from deepseek.nn import functional as F

from test_conv_winograd import check_forward_and_grads, close, np_conv3x3, np_input_grad


@pytest.fixture(autouse=True, scope="module")
def force_one_pass():
    _core._set_conv3x3_algorithm("winograd_one_pass")
    yield
    _core._set_conv3x3_algorithm("auto")


@st.composite
def cases(draw):
    n = draw(st.integers(1, 3))
    c = draw(st.integers(1, 40))
    o = draw(st.integers(1, 40))
    pad = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    size = st.one_of(st.sampled_from([7, 14]), st.integers(1, 17))
    h = max(draw(size), 3 - 2 * pad[0])
    w = max(draw(size), 3 - 2 * pad[1])
    layout = draw(st.sampled_from(["contiguous", "channels_last", "strided"]))
    threads = draw(st.sampled_from([1, 2]))
    seed = draw(st.integers(0, 2**31 - 1))
    return n, c, o, h, w, pad, layout, threads, seed


@settings(max_examples=40)
@given(cases())
def test_one_pass_forward_and_grads_match_float64(restore_threads, case):
    check_forward_and_grads(case)


@pytest.mark.parametrize("shape", [(2, 20, 7, 7, 77), (1, 33, 14, 14, 130), (3, 24, 9, 30, 64), (1, 70, 7, 7, 140)])
@pytest.mark.parametrize("threads", [1, 2])
def test_one_pass_several_channel_blocks(restore_threads, shape, threads):
    """More than 64 output channels: several blocks, the last one partial or exact."""
    ds.set_num_threads(threads)
    n, c, h, w, o = shape
    rng = np.random.RandomState(5)
    x = rng.randn(n, c, h, w).astype(np.float32)
    k = (rng.randn(o, c, 3, 3) / np.sqrt(9 * c)).astype(np.float32)
    xt = ds.tensor(x, requires_grad=True)
    y = F.conv2d(xt, ds.tensor(k), padding=1)
    close(y.detach().numpy(), np_conv3x3(x, k, (1, 1)))
    r = rng.randn(*y.shape).astype(np.float32)
    (y * ds.tensor(r)).sum().backward()
    close(xt.grad.numpy(), np_input_grad(r.astype(np.float64), k, x.shape, (1, 1)))


def test_one_pass_bias_and_gradcheck():
    rng = np.random.RandomState(6)
    x = rng.randn(1, 5, 7, 7).astype(np.float32)
    w = rng.randn(13, 5, 3, 3).astype(np.float32)
    b = rng.randn(13).astype(np.float32)
    got = F.conv2d(ds.tensor(x), ds.tensor(w), ds.tensor(b), padding=1).numpy()
    close(got, np_conv3x3(x, w, (1, 1)) + b[None, :, None, None])
    # the loss sum(conv(x, w) * r) is linear in x and w: central differences are exact up to
    # rounding at any step (see test_conv_winograd.py)
    xg = ds.tensor(x[:, :, :6, :6], requires_grad=True)
    wg = ds.tensor(w / 6, requires_grad=True)
    r = ds.tensor(rng.randn(1, 13, 6, 6).astype(np.float32))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # gradcheck warns that the inputs are not float64
        assert ds.autograd.gradcheck(lambda a, k: (F.conv2d(a, k, padding=1) * r).sum(), (xg, wg), eps=0.5, atol=2e-3, rtol=1e-3)


def _conv_bn_residual_relu(c, o, seed):
    """(conv, bn, fn, rng): a 3x3 conv of c -> o channels and a batch norm with random running
    statistics, in eval mode, and fn(x, r) = relu(bn(conv(x)) + r) exposing their parameters
    and buffers to the tracer."""
    ds.manual_seed(seed)
    conv, bn = nn.Conv2d(c, o, 3, padding=1, bias=False), nn.BatchNorm2d(o)
    rng = np.random.RandomState(seed)
    with ds.no_grad():
        bn.running_mean.copy_(ds.tensor(rng.randn(o).astype(np.float32)))
        bn.running_var.copy_(ds.tensor(rng.uniform(0.2, 3.0, o).astype(np.float32)))
    conv.eval(), bn.eval()

    def fn(x, r):
        return (bn(conv(x)) + r).relu()

    fn.named_parameters = lambda: list(conv.named_parameters(prefix="conv")) + list(bn.named_parameters(prefix="bn"))
    fn.named_buffers = lambda: list(bn.named_buffers(prefix="bn"))
    return conv, bn, fn, rng


def test_one_pass_applies_the_frozen_epilogue():
    """A traced, frozen conv -> batch norm -> residual add -> ReLU runs as one epilogue node
    whose shift, residual and ReLU the one-pass inverse transform applies per output row."""
    conv, bn, fn, rng = _conv_bn_residual_relu(6, 70, 7)
    x = ds.tensor(rng.randn(2, 6, 7, 7).astype(np.float32))
    r = ds.tensor(rng.randn(2, 70, 7, 7).astype(np.float32))
    with warnings.catch_warnings(), ds.no_grad():
        warnings.simplefilter("ignore")
        f = ds.jit.freeze(ds.jit.trace(fn, (x, r)))
    assert any(n["kind"] == "fused" and n["op"] == "conv2d_epilogue" for n in f.graph.nodes())
    with ds.no_grad():
        got = np.asarray(f(x, r))
    wn = conv.weight.detach().numpy().astype(np.float64)
    scale = bn.weight.detach().numpy() / np.sqrt(bn.running_var.numpy() + bn.eps)
    shift = bn.bias.detach().numpy() - bn.running_mean.numpy() * scale
    ref = np_conv3x3(x.numpy(), wn, (1, 1)) * scale[None, :, None, None] + shift[None, :, None, None] + r.numpy()
    close(got, np.maximum(ref, 0))


@pytest.mark.parametrize("threads", [1, 2])
def test_one_pass_in_groups_of_images_matches_im2col(restore_threads, threads):
    """A batch whose transformed input passes the path's 8 MiB runs in groups of images (here
    5 images of 64 channels at 56x56, 1.8 MB each: groups of 3 and 2), each as a layer of its
    own: the forward, the input gradient and a frozen conv -> batch norm -> residual add ->
    ReLU epilogue (each group applies its own images' residual) against im2col."""
    ds.set_num_threads(threads)
    conv, bn, fn, rng = _conv_bn_residual_relu(64, 80, 8)
    x = rng.randn(5, 64, 56, 56).astype(np.float32)
    r = ds.tensor((rng.randn(5, 80, 56, 56) + 4 * np.arange(5)[:, None, None, None]).astype(np.float32))
    g = rng.randn(5, 80, 56, 56).astype(np.float32)

    def run():
        xt = ds.tensor(x, requires_grad=True)
        y = conv(xt)
        (y * ds.tensor(g)).sum().backward()
        with warnings.catch_warnings(), ds.no_grad():
            warnings.simplefilter("ignore")
            f = ds.jit.freeze(ds.jit.trace(fn, (ds.tensor(x), r)))
            fused = np.asarray(f(ds.tensor(x), r))
        assert any(n["kind"] == "fused" and n["op"] == "conv2d_epilogue" for n in f.graph.nodes())
        return y.detach().numpy(), xt.grad.numpy(), fused

    got = run()
    _core._set_conv3x3_algorithm("im2col")
    try:
        want = run()
    finally:
        _core._set_conv3x3_algorithm("winograd_one_pass")
    for a, b in zip(got, want):
        close(a, b.astype(np.float64))
