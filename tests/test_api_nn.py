"""The nn modules and functional parts added for issue 16, against NumPy float64 references
written from PyTorch's documented formulas, gradients against finite differences."""
from __future__ import annotations

import math

import numpy as np
import pytest

import deepseek as ds
import deepseek.nn as nn
import deepseek.nn.functional as F
from test_api_ops import T, arr, close, fd_check


def np_conv(x, w, stride, pad, dil):
    """Direct N-D cross-correlation in float64 (x [N, C, *S], w [O, C, *K])."""
    n = x.ndim - 2
    x = np.pad(x, [(0, 0), (0, 0)] + [(p, p) for p in pad])
    K = w.shape[2:]
    out = [(x.shape[2 + i] - dil[i] * (K[i] - 1) - 1) // stride[i] + 1 for i in range(n)]
    y = np.zeros((x.shape[0], w.shape[0], *out))
    for kidx in np.ndindex(*K):
        sl = tuple(slice(kidx[i] * dil[i], kidx[i] * dil[i] + stride[i] * (out[i] - 1) + 1, stride[i]) for i in range(n))
        patch = x[(slice(None), slice(None)) + sl]
        y += np.einsum("nc...,oc->no...", patch, w[(slice(None), slice(None)) + kidx])
    return y


def test_conv3d_against_direct_sum():
    x, w, b = arr(0, (2, 3, 5, 6, 4)), arr(1, (4, 3, 2, 3, 2)), arr(2, (4,))
    for stride, pad in [((1, 1, 1), (0, 0, 0)), ((2, 1, 2), (1, 0, 1)), ((1, 2, 1), (0, 1, 0))]:
        ref = np_conv(x, w, stride, pad, (1, 1, 1)) + b.reshape(1, -1, 1, 1, 1)
        close(F.conv3d(T(x), T(w), T(b), stride, pad), ref)
    close(F.conv3d(T(x), T(w), dilation=(2, 1, 1)), np_conv(x, w, (1, 1, 1), (0, 0, 0), (2, 1, 1)))
    m = nn.Conv3d(3, 4, 2, dtype=ds.float64)
    assert m(T(x[0])).shape == (4, 4, 5, 3)  # unbatched
    fd_check(lambda t: F.conv3d(t, T(w[:, :, :1, :2, :2]), stride=2), arr(3, (1, 3, 3, 3, 3)))


def test_transposed_convs_are_adjoint_of_conv():
    # <conv(x, w), y> == <x, conv_transpose(y, w)> for every x, y: the defining property
    for n, conv, convt in [(1, F.conv1d, F.conv_transpose1d), (3, F.conv3d, F.conv_transpose3d)]:
        x = arr(0, (2, 3) + (7,) * n)
        w = arr(1, (4, 3) + (3,) * n)
        y = conv(T(x), T(w), stride=2, padding=1).numpy()
        g = arr(2, y.shape)
        back = convt(T(g), T(w), stride=2, padding=1, output_padding=0).numpy()
        assert back.shape == x.shape or back.shape[2:] <= x.shape[2:]
        sl = tuple(slice(0, s) for s in back.shape)
        np.testing.assert_allclose((y * g).sum(), (x[sl] * back).sum(), rtol=1e-9)
    m = nn.ConvTranspose1d(3, 5, 3, stride=2, output_padding=1, dtype=ds.float64)
    assert m(T(arr(0, (2, 3, 4)))).shape == (2, 5, 10)


def test_unfold_fold_and_pixel_shuffle():
    x = arr(0, (2, 3, 5, 6))
    u = F.unfold(T(x), (2, 3), dilation=(1, 2), padding=1, stride=(2, 1))
    xp = np.pad(x, [(0, 0), (0, 0), (1, 1), (1, 1)])
    cols = []
    for i in range(0, xp.shape[2] - 2 + 1, 2):
        for j in range(0, xp.shape[3] - 5 + 1):
            cols.append(xp[:, :, i:i + 2, j:j + 5:2].reshape(2, -1))
    close(u, np.stack(cols, -1))
    # fold is the adjoint of unfold
    g = arr(1, tuple(u.shape))
    f = F.fold(T(g), (5, 6), (2, 3), dilation=(1, 2), padding=1, stride=(2, 1)).numpy()
    np.testing.assert_allclose((u.numpy() * g).sum(), (x * f).sum(), rtol=1e-10)
    # fold(unfold(x)) with non-overlapping blocks is x
    close(F.fold(F.unfold(T(x[:, :, :4, :6]), 2, stride=2), (4, 6), 2, stride=2), x[:, :, :4, :6])
    y = arr(2, (2, 8, 3, 4))
    ps = F.pixel_shuffle(T(y), 2).numpy()
    ref = y.reshape(2, 2, 2, 2, 3, 4).transpose(0, 1, 4, 2, 5, 3).reshape(2, 2, 6, 8)
    close(ps, ref)
    close(F.pixel_unshuffle(T(ps), 2), y)
    assert nn.PixelShuffle(2)(T(y[0])).shape == (2, 6, 8)
    with pytest.raises(RuntimeError, match="divisible by the square of upscale_factor"):
        F.pixel_shuffle(ds.ones(1, 3, 2, 2), 2)


ACTS = [
    (nn.Hardtanh(-0.5, 2.0), lambda a: np.clip(a, -0.5, 2.0)),
    (nn.Softsign(), lambda a: a / (1 + np.abs(a))),
    (nn.Tanhshrink(), lambda a: a - np.tanh(a)),
    (nn.Threshold(0.3, -2.0), lambda a: np.where(a > 0.3, a, -2.0)),
    (nn.Softshrink(0.5), lambda a: np.where(a > 0.5, a - 0.5, np.where(a < -0.5, a + 0.5, 0))),
    (nn.Hardshrink(0.5), lambda a: np.where(np.abs(a) > 0.5, a, 0)),
    (nn.SELU(), lambda a: 1.0507009873554805 * np.where(a > 0, a, 1.6732632423543772 * np.expm1(a))),
    (nn.CELU(0.7), lambda a: np.maximum(a, 0) + np.minimum(0, 0.7 * np.expm1(a / 0.7))),
    (nn.Softmin(1), lambda a: np.exp(-a) / np.exp(-a).sum(1, keepdims=True)),
    (nn.GLU(1), lambda a: a[:, :2] / (1 + np.exp(-a[:, 2:]))),
    (nn.ReLU6(), lambda a: np.clip(a, 0, 6)),
    (nn.LogSigmoid(), lambda a: -np.logaddexp(0, -a)),
]


@pytest.mark.parametrize("mod,ref", ACTS, ids=[type(m).__name__ for m, _ in ACTS])
def test_activations(mod, ref):
    a = arr(0, (3, 4), -4, 4)
    close(mod(T(a)), ref(a))
    if type(mod).__name__ not in ("Threshold", "Hardshrink", "Softshrink", "Hardtanh"):
        fd_check(mod, a)


def test_prelu_and_rrelu():
    a = arr(0, (2, 3, 4))
    m = nn.PReLU(3, init=0.1, dtype=ds.float64)
    w = m.weight
    close(m(T(a)), np.where(a >= 0, a, 0.1 * a))
    m(T(a)).sum().backward()
    close(w.grad, np.where(a < 0, a, 0).sum((0, 2)))
    r = nn.RReLU(0.1, 0.3).eval()
    close(r(T(a)), np.where(a >= 0, a, 0.2 * a))
    out = F.rrelu(T(a), 0.1, 0.3, training=True).numpy()
    ratio = out[a < 0] / a[a < 0]
    assert ratio.min() >= 0.1 - 1e-12 and ratio.max() <= 0.3 + 1e-12


def test_instance_norm_and_local_response_norm():
    a = arr(0, (2, 3, 5, 4))
    m, v = a.mean((2, 3), keepdims=True), a.var((2, 3), keepdims=True)
    close(nn.InstanceNorm2d(3)(T(a)), (a - m) / np.sqrt(v + 1e-5))
    inorm = nn.InstanceNorm1d(3, affine=True, track_running_stats=True, dtype=ds.float64)
    b = arr(1, (4, 3, 6))
    inorm(T(b))
    close(inorm.running_mean, 0.1 * b.mean((0, 2)), rtol=1e-7)
    close(inorm.running_var, 0.9 + 0.1 * b.var(2, ddof=1).mean(0), rtol=1e-7)
    assert nn.InstanceNorm2d(3)(T(a[0])).shape == (3, 5, 4)  # unbatched
    fd_check(lambda t: F.instance_norm(t) * T(arr(2, (1, 3, 4))), arr(3, (1, 3, 4)))
    lrn = F.local_response_norm(T(a), 3, alpha=0.1, beta=0.75, k=2.0)
    sq = np.pad(a ** 2, [(0, 0), (1, 1), (0, 0), (0, 0)])
    div = (sq[:, :-2] + sq[:, 1:-1] + sq[:, 2:]) / 3
    close(lrn, a / (2.0 + 0.1 * div) ** 0.75)


def _np_bicubic_1d(x, n_out, align, axis):
    A = -0.75
    n_in = x.shape[axis]
    scale = (n_in - 1) / (n_out - 1) if align else n_in / n_out
    out = []
    for i in range(n_out):
        src = scale * i if align else scale * (i + 0.5) - 0.5
        b = math.floor(src)
        t = src - b
        w = [((A * (t + 1) - 5 * A) * (t + 1) + 8 * A) * (t + 1) - 4 * A, ((A + 2) * t - (A + 3)) * t * t + 1,
             ((A + 2) * (1 - t) - (A + 3)) * (1 - t) ** 2 + 1, ((A * (2 - t) - 5 * A) * (2 - t) + 8 * A) * (2 - t) - 4 * A]
        acc = 0
        for k, wk in zip(range(-1, 3), w):
            acc = acc + wk * np.take(x, min(max(b + k, 0), n_in - 1), axis)
        out.append(acc)
    return np.stack(out, axis)


@pytest.mark.parametrize("align", [False, True])
def test_interpolate_bicubic(align):
    a = arr(0, (1, 2, 4, 5))
    ref = _np_bicubic_1d(_np_bicubic_1d(a, 7, align, 2), 9, align, 3)
    close(F.interpolate(T(a), size=(7, 9), mode="bicubic", align_corners=align), ref)
    # cubic convolution keeps constants and (away from the clamped borders) linear ramps
    close(F.interpolate(ds.full((1, 1, 4, 4), 3.0, dtype=ds.float64), scale_factor=2, mode="bicubic"), np.full((1, 1, 8, 8), 3.0))
    ramp = np.arange(8.0).reshape(1, 1, 1, 8).repeat(2, 2)
    up = F.interpolate(T(ramp), size=(2, 15), mode="bicubic", align_corners=True).numpy()
    close(up[..., 2:-2], np.linspace(0, 7, 15)[2:-2].reshape(1, 1, 1, -1).repeat(2, 2))
    fd_check(lambda t: F.interpolate(t, size=(3, 5), mode="bicubic"), arr(1, (1, 1, 2, 3)))


def test_grid_sample_and_affine_grid():
    a = arr(0, (1, 2, 4, 5))
    theta = np.array([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]])
    for align in (False, True):
        g = F.affine_grid(T(theta), (1, 2, 4, 5), align_corners=align)
        close(F.grid_sample(T(a), g, align_corners=align), a)  # identity warp reproduces the input
    # a point exactly between four pixels (align_corners=True) is their mean
    g = T(np.array([[[[-1 + 0.5 / 2, -1 + 0.5 / 1.5]]]]))
    close(F.grid_sample(T(a), g, align_corners=True), a[:, :, :2, :2].mean((2, 3)).reshape(1, 2, 1, 1))
    # zeros padding far outside, border padding clamps
    far = T(np.array([[[[5.0, 5.0]]]]))
    close(F.grid_sample(T(a), far), np.zeros((1, 2, 1, 1)))
    close(F.grid_sample(T(a), far, padding_mode="border", align_corners=True), a[:, :, -1:, -1:])
    grid = arr(1, (1, 3, 2, 2), -0.9, 0.9)
    fd_check(lambda t: F.grid_sample(t, T(grid)), a)
    fd_check(lambda t: F.grid_sample(T(a), t, align_corners=True), grid)


def test_pools_3d_lp_and_unpool():
    a = arr(0, (1, 2, 4, 6, 4))
    v, i = F.max_pool3d(T(a), 2, return_indices=True)
    ref = a.reshape(1, 2, 2, 2, 3, 2, 2, 2).max((3, 5, 7))
    close(v, ref)
    close(np.take_along_axis(a.reshape(1, 2, -1), i.numpy().reshape(1, 2, -1), 2).reshape(ref.shape), ref)
    close(F.avg_pool3d(T(a), 2), a.reshape(1, 2, 2, 2, 3, 2, 2, 2).mean((3, 5, 7)))
    close(F.adaptive_avg_pool3d(T(a), (1, 3, 2)), a.reshape(1, 2, 1, 4, 3, 2, 2, 2).mean((3, 5, 7)))
    close(nn.MaxPool3d(2)(T(a[0])), ref[0])
    b = np.abs(arr(1, (1, 2, 6, 4)))
    close(F.lp_pool2d(T(b), 3, 2), (b ** 3).reshape(1, 2, 3, 2, 2, 2).sum((3, 5)) ** (1 / 3))
    vals, idx = F.max_pool2d(T(b), 2, return_indices=True)
    un = F.max_unpool2d(vals, idx, 2).numpy()
    assert un.shape == b.shape and np.count_nonzero(un) == vals.numel()
    close(np.take_along_axis(un.reshape(1, 2, -1), idx.numpy().reshape(1, 2, -1), 2), vals.numpy().reshape(1, 2, -1))
    fd_check(lambda t: F.max_pool3d(t, 2), arr(5, (1, 1, 2, 4, 2)))


def test_feature_dropout_zeroes_whole_channels():
    ds.manual_seed(0)
    y = F.dropout2d(ds.ones(4, 8, 3, 3, dtype=ds.float64), 0.5).numpy()
    per_channel = y.reshape(4, 8, -1)
    assert set(np.unique(per_channel.std(-1))) == {0.0}
    assert set(np.unique(y)) <= {0.0, 2.0}
    assert F.dropout2d(ds.ones(2, 3, 3), 0.5, training=False).numpy().min() == 1.0
    with pytest.raises(ValueError):
        nn.Dropout3d(1.5)


def test_embedding_bag_against_loop():
    w = arr(0, (10, 3))
    inp = np.array([1, 2, 4, 5, 4, 3, 2, 9])
    offs = [0, 3, 3, 6]
    bounds = offs + [len(inp)]
    for mode in ("sum", "mean", "max"):
        got = F.embedding_bag(ds.tensor(inp), T(w), ds.tensor(offs), mode=mode).numpy()
        for b in range(4):
            rows = w[inp[bounds[b]:bounds[b + 1]]]
            want = np.zeros(3) if len(rows) == 0 else {"sum": rows.sum(0), "mean": rows.mean(0), "max": rows.max(0)}[mode]
            close(got[b], want)
    bag = nn.EmbeddingBag(10, 3, mode="sum", _weight=T(w))
    psw = arr(1, (2, 4))
    close(bag(ds.tensor(inp.reshape(2, 4)), per_sample_weights=T(psw)), (w[inp.reshape(2, 4)] * psw[..., None]).sum(1))
    close(F.embedding_bag(ds.tensor(inp.reshape(2, 4)), T(w), padding_idx=4), np.stack(
        [w[[1, 2, 5]].mean(0), w[[3, 2, 9]].mean(0)]))


LOSSES = [
    ("poisson_nll_loss", lambda x, y: np.exp(x) - y * x, lambda a, b: (a, np.abs(b))),
    ("soft_margin_loss", lambda x, y: np.log1p(np.exp(-y * x)), lambda a, b: (a, np.sign(b))),
    ("hinge_embedding_loss", lambda x, y: np.where(y == 1, x, np.maximum(0, 1 - x)), lambda a, b: (a, np.sign(b))),
    ("multilabel_soft_margin_loss",
     lambda x, y: -(y * np.log(1 / (1 + np.exp(-x))) + (1 - y) * np.log(1 / (1 + np.exp(x)))).mean(-1),
     lambda a, b: (a, (b > 0).astype(float))),
]


@pytest.mark.parametrize("name,ref,prep", LOSSES, ids=[n for n, _, _ in LOSSES])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_elementwise_losses(name, ref, prep, reduction):
    x, y = prep(arr(0, (4, 5)), arr(1, (4, 5)))
    r = ref(x, y)
    want = {"none": r, "mean": r.mean(), "sum": r.sum()}[reduction]
    close(getattr(F, name)(T(x), T(y), reduction=reduction), want)
    fd_check(lambda t: getattr(F, name)(t, T(y), reduction=reduction), x)


def test_pair_losses():
    x1, x2, y = arr(0, (6,)), arr(1, (6,)), np.sign(arr(2, (6,)))
    close(F.margin_ranking_loss(T(x1), T(x2), T(y), margin=0.3), np.maximum(0, -y * (x1 - x2) + 0.3).mean())
    a, b = arr(3, (6, 4)), arr(4, (6, 4))
    cos = (a * b).sum(1) / np.sqrt(((a * a).sum(1) + 1e-12) * ((b * b).sum(1) + 1e-12))
    close(nn.CosineEmbeddingLoss(0.1, reduction="none")(T(a), T(b), T(y)), np.where(y == 1, 1 - cos, np.maximum(0, cos - 0.1)))
    n = arr(5, (6, 4))
    d = lambda u, v: np.sqrt(((u - v + 1e-6) ** 2).sum(-1))  # noqa: E731
    close(F.triplet_margin_loss(T(a), T(b), T(n)), np.maximum(d(a, b) - d(a, n) + 1, 0).mean())
    close(F.triplet_margin_loss(T(a), T(b), T(n), swap=True),
          np.maximum(d(a, b) - np.minimum(d(a, n), d(b, n)) + 1, 0).mean())
    var = np.abs(arr(6, (6, 4))) + 0.1
    close(F.gaussian_nll_loss(T(a), T(b), T(var), full=True),
          (0.5 * (np.log(var) + (a - b) ** 2 / var) + 0.5 * np.log(2 * np.pi)).mean())
    t = np.array([0, 3, 1, 2, 3, 0])
    xt = a[np.arange(6), t][:, None]
    mm = np.maximum(0, 1 - xt + a)
    mm[np.arange(6), t] = 0
    close(F.multi_margin_loss(T(a), ds.tensor(t)), (mm.sum(1) / 4).mean())
    close(F.multi_margin_loss(T(a), ds.tensor(t), p=2, margin=0.5), ((np.maximum(0, 0.5 - xt + a) ** 2 *
          (np.arange(4) != t[:, None])).sum(1) / 4).mean())
    tl = np.array([[3, 0, -1, 1], [1, 2, 3, -1]])
    x = arr(7, (2, 4))
    want = []
    for r in range(2):
        tg = []
        for v in tl[r]:
            if v < 0:
                break
            tg.append(v)
        s = sum(max(0, 1 - (x[r, j] - x[r, i])) for j in tg for i in range(4) if i not in tg)
        want.append(s / 4)
    close(F.multilabel_margin_loss(T(x), ds.tensor(tl), reduction="none"), want)
    close(F.pdist(T(a)), np.array([np.linalg.norm(a[i] - a[j]) for i in range(6) for j in range(i + 1, 6)]))
    with pytest.raises(ValueError, match="var has negative"):
        F.gaussian_nll_loss(T(a), T(b), T(-var))


def test_containers_transformer_and_padding_layers():
    pd = nn.ParameterDict({"a": ds.ones(2), "b": nn.Parameter(ds.zeros(3))})
    assert isinstance(pd["a"], nn.Parameter) and len(pd) == 2 and set(pd.keys()) == {"a", "b"}
    holder = nn.Module()
    holder.p = pd
    assert {n for n, _ in holder.named_parameters()} == {"p.a", "p.b"}
    ds.manual_seed(0)
    t = nn.Transformer(d_model=8, nhead=2, num_encoder_layers=1, num_decoder_layers=1, dim_feedforward=16, dropout=0.0,
                       batch_first=True)
    src, tgt = ds.randn(2, 5, 8), ds.randn(2, 3, 8)
    out = t(src, tgt, tgt_mask=nn.Transformer.generate_square_subsequent_mask(3))
    assert out.shape == (2, 3, 8)
    out.sum().backward()
    assert all(p.grad is not None for p in t.parameters())
    # causal mask: the first target position ignores the later ones
    tgt2 = tgt.clone()
    tgt2[:, 2] = 0.0
    out2 = t(src, tgt2, tgt_mask=nn.Transformer.generate_square_subsequent_mask(3))
    close(out2[:, :2].detach(), out[:, :2].detach().numpy(), rtol=1e-5, atol=1e-6)
    a = arr(0, (1, 2, 3, 4))
    close(nn.ReflectionPad2d((1, 2, 0, 1))(T(a)), np.pad(a, [(0, 0), (0, 0), (0, 1), (1, 2)], mode="reflect"))
    close(nn.ReplicationPad1d(2)(T(a[0])), np.pad(a[0], [(0, 0), (0, 0), (2, 2)], mode="edge"))
    close(nn.ConstantPad2d(1, 3.5)(T(a)), np.pad(a, [(0, 0), (0, 0), (1, 1), (1, 1)], constant_values=3.5))
    close(nn.ZeroPad2d((1, 0, 0, 0))(T(a)), np.pad(a, [(0, 0), (0, 0), (0, 0), (1, 0)]))
    close(nn.CircularPad1d(1)(T(a[0])), np.pad(a[0], [(0, 0), (0, 0), (1, 1)], mode="wrap"))


def _np_intervals(u, n_in, n_out, k):
    if n_out == 1:
        return [n_in - k]
    alpha = (n_in - k) / (n_out - 1)
    return [int((i + u) * alpha) - int(u * alpha) for i in range(n_out - 1)] + [n_in - k]


def test_fractional_max_pool_against_loop():
    a = arr(0, (2, 3, 9, 11))
    s = np.random.default_rng(1).random((2, 3, 2))
    v, idx = F.fractional_max_pool2d(T(a), (2, 3), output_size=(4, 5), return_indices=True, _random_samples=T(s))
    ref = np.zeros((2, 3, 4, 5))
    ref_i = np.zeros((2, 3, 4, 5), dtype=np.int64)
    for n in range(2):
        for c in range(3):
            rows = _np_intervals(s[n, c, 1], 9, 4, 2)
            cols = _np_intervals(s[n, c, 0], 11, 5, 3)
            for i, r0 in enumerate(rows):
                for j, c0 in enumerate(cols):
                    win = a[n, c, r0:r0 + 2, c0:c0 + 3]
                    ref[n, c, i, j] = win.max()
                    rr, cc = np.unravel_index(np.argmax(win), win.shape)
                    ref_i[n, c, i, j] = (r0 + rr) * 11 + c0 + cc
    close(v, ref)
    assert idx.tolist() == ref_i.tolist()
    m = nn.FractionalMaxPool2d(2, output_ratio=0.5)
    assert m(T(a)).shape == (2, 3, 4, 5) and m(T(a[0])).shape == (3, 4, 5)
    assert nn.FractionalMaxPool3d(2, output_size=3)(T(arr(1, (1, 2, 6, 7, 8)))).shape == (1, 2, 3, 3, 3)
    fd_check(lambda t: F.fractional_max_pool2d(t, 2, output_size=3, _random_samples=T(s[:1, :1])), arr(2, (1, 1, 6, 6)))
    with pytest.raises(ValueError, match="output size, or a pooling ratio"):
        nn.FractionalMaxPool2d(2)


def test_adaptive_log_softmax():
    ds.manual_seed(0)
    m = nn.AdaptiveLogSoftmaxWithLoss(8, 10, [3, 6], div_value=2.0).double()
    x = T(arr(0, (5, 8)))
    lp = m.log_prob(x).detach().numpy()
    np.testing.assert_allclose(np.exp(lp).sum(1), 1.0, rtol=1e-12)
    # the head is a softmax over the shortlist and one entry per cluster
    head = x.numpy() @ m.head.weight.detach().numpy().T
    head_lp = head - np.log(np.exp(head).sum(1, keepdims=True))
    close(lp[:, :3], head_lp[:, :3])
    h1 = x.numpy() @ m.tail[0][0].weight.detach().numpy().T @ m.tail[0][1].weight.detach().numpy().T
    close(lp[:, 3:6], h1 - np.log(np.exp(h1).sum(1, keepdims=True)) + head_lp[:, 3:4])
    t = ds.tensor([0, 4, 9, 2, 7])
    out, loss = m(x, t)
    close(out, lp[np.arange(5), t.numpy()])
    close(loss, -lp[np.arange(5), t.numpy()].mean())
    assert m.predict(x).tolist() == lp.argmax(1).tolist()
    loss.backward()
    assert m.tail[1][1].weight.grad is not None
    with pytest.raises(RuntimeError, match="Target values should be in"):
        m(x, ds.tensor([0, 1, 2, 3, 10]))
    with pytest.raises(ValueError, match="cutoffs should be a sequence"):
        nn.AdaptiveLogSoftmaxWithLoss(8, 10, [6, 3])


def test_multi_head_attention_forward_matches_the_module():
    ds.manual_seed(0)
    mha = nn.MultiheadAttention(8, 2).double()
    q, k = T(arr(0, (4, 3, 8))), T(arr(1, (5, 3, 8)))
    mask = ds.tensor(np.random.default_rng(0).random((4, 5)) < 0.3)
    kpm = ds.tensor(np.array([[False] * 4 + [True], [False] * 5, [True] + [False] * 4]))
    ref, ref_w = mha(q, k, k, key_padding_mask=kpm, attn_mask=mask)
    out, w = F.multi_head_attention_forward(q, k, k, 8, 2, mha.in_proj_weight, mha.in_proj_bias, None, None, False, 0.0,
                                            mha.out_proj.weight, mha.out_proj.bias, key_padding_mask=kpm, attn_mask=mask)
    close(out, ref.detach().numpy())
    close(w, ref_w.detach().numpy())
    # bias_k/bias_v and add_zero_attn each append a key: the weights cover 7 keys and still sum to 1
    E = 8
    bk = ds.zeros(1, 1, E, dtype=ds.float64)
    bv = ds.zeros(1, 1, E, dtype=ds.float64)
    out2, w2 = F.multi_head_attention_forward(q, k, k, 8, 2, mha.in_proj_weight, mha.in_proj_bias, bk, bv, True, 0.0,
                                              mha.out_proj.weight, mha.out_proj.bias, need_weights=True)
    assert w2.shape == (3, 4, 7)  # 5 keys + bias_k + zero attention
    close(w2.sum(-1), np.ones((3, 4)))
    # unbatched
    o1, _ = F.multi_head_attention_forward(q[:, 0], k[:, 0], k[:, 0], 8, 2, mha.in_proj_weight, mha.in_proj_bias, None,
                                           None, False, 0.0, mha.out_proj.weight, mha.out_proj.bias)
    close(o1, mha(q[:, 0], k[:, 0], k[:, 0])[0].detach().numpy())
