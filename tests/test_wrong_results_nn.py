"""No silent wrong results (issue 10), nn side: pooling with ceil_mode, padding with negative
amounts, adaptive pooling to empty outputs, interpolation and argument checks (numbers that do
not fit their dtype: test_wrong_results_dtype_range.py). Each class has a regression test and a
property test against an independent float64 NumPy reference written from PyTorch's rules."""
import math

import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

import deepseek as ds
from deepseek.testing import available_devices
from deepseek import nn
from deepseek.nn import functional as F

# one test body, every device: the CPU and each installed backend
DEVICES = available_devices()

# ---------------- references (PyTorch's kernels, written out in NumPy) ----------------


def ref_out(L, k, s, p, d, ceil):
    """pooling_output_shape: div_rtn(L + 2p - d(k-1) - 1 + (s-1 if ceil), s) + 1, minus one when
    the last window would start in the right padding."""
    o = math.floor((L + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil else 0)) / s) + 1
    if ceil and (o - 1) * s >= L + p:
        o -= 1
    return o


def ref_windows(spatial, k, s, p, d, ceil):
    """For each output position (row-major) the list of in-bounds flat input positions of its
    window, in scan order, and the per-dim (start, clipped end) of the window."""
    n = len(spatial)
    outs = [ref_out(L, *a, ceil) for L, *a in zip(spatial, k, s, p, d)]
    for o in np.ndindex(*outs):
        axes = []
        for i in range(n):
            start = o[i] * s[i] - p[i]
            axes.append([start + j * d[i] for j in range(k[i]) if 0 <= start + j * d[i] < spatial[i]])
        pos = [int(np.ravel_multi_index(c, spatial)) for c in np.ndindex(*[len(a) for a in axes])
               for c in [tuple(axes[i][c[i]] for i in range(n))]]
        yield o, pos, outs


def ref_max_pool(x, k, s, p, d, ceil):
    """Values and flat indices of the first maximum of each window (distinct values assumed)."""
    n = len(k)
    lead, spatial = x.shape[:-n], x.shape[-n:]
    flat = x.reshape(lead + (-1,))
    outs = [ref_out(L, *a, ceil) for L, *a in zip(spatial, k, s, p, d)]
    v = np.zeros(lead + tuple(outs))
    idx = np.zeros(lead + tuple(outs), dtype=np.int64)
    for o, pos, _ in ref_windows(spatial, k, s, p, d, ceil):
        if not pos:  # every tap in the padding: -inf at the first tap stepped past the left padding
            first = [o[i] * s[i] - p[i] + max(0, -(-(p[i] - o[i] * s[i]) // d[i])) * d[i] for i in range(n)]
            v[(...,) + o] = -np.inf
            idx[(...,) + o] = first[0] if n == 1 else first[0] * spatial[1] + first[1]  # may lie past the input
            continue
        w = flat[..., pos]
        j = np.argmax(w, axis=-1)
        v[(...,) + o] = np.take_along_axis(w, j[..., None], -1)[..., 0]
        idx[(...,) + o] = np.array(pos)[j]
    return v, idx


def ref_avg_pool(x, k, s, p, ceil, count_include_pad, divisor_override, g=None):
    """avg_pool as PyTorch's CPU kernel: the window is clipped at the end of input + padding
    (pool_size), then at the input (the summed elements); with ``g`` also the input gradient."""
    n = len(k)
    lead, spatial = x.shape[:-n], x.shape[-n:]
    outs = [ref_out(L, ki, si, pi, 1, ceil) for L, ki, si, pi in zip(spatial, k, s, p)]
    y = np.zeros(lead + tuple(outs))
    gx = np.zeros_like(x)
    for o in np.ndindex(*outs):
        sl, pool, count = [], 1, 1
        for i in range(n):
            a = o[i] * s[i] - p[i]
            b = min(a + k[i], spatial[i] + p[i])
            pool *= b - a
            a2, b2 = max(a, 0), min(b, spatial[i])
            count *= b2 - a2
            sl.append(slice(a2, b2))
        div = divisor_override if divisor_override else (pool if count_include_pad else count)
        y[(...,) + o] = x[(...,) + tuple(sl)].sum(axis=tuple(range(-n, 0))) / div
        if g is not None:
            gx[(...,) + tuple(sl)] += (g[(...,) + o] / div).reshape(lead + (1,) * n)
    return y, gx


def ref_bins(L, o):
    return [(i * L // o, -(-(i + 1) * L // o)) for i in range(o)]


def ref_adaptive(x, sizes, kind):
    n = len(sizes)
    lead, spatial = x.shape[:-n], x.shape[-n:]
    y = np.zeros(lead + tuple(sizes))
    idx = np.zeros(lead + tuple(sizes), dtype=np.int64)
    for o in np.ndindex(*sizes):
        bins = [ref_bins(L, oi)[o[i]] for i, (L, oi) in enumerate(zip(spatial, sizes))]
        box = x[(...,) + tuple(slice(a, b) for a, b in bins)]
        if kind == "avg":
            y[(...,) + o] = box.mean(axis=tuple(range(-n, 0)))
        else:
            flat = box.reshape(lead + (-1,))
            j = np.argmax(flat, axis=-1)
            y[(...,) + o] = flat.max(axis=-1)
            coords = np.unravel_index(j, tuple(b - a for a, b in bins))
            idx[(...,) + o] = np.ravel_multi_index(tuple(c + a for c, (a, _) in zip(coords, bins)), spatial)
    return y, idx


def ref_pad(x, pads, mode):
    """F.pad's non-constant modes, or the RuntimeError PyTorch raises (None)."""
    n = len(pads) // 2
    for i in range(n):
        d = x.ndim - 1 - i
        lo, hi = pads[2 * i], pads[2 * i + 1]
        size = x.shape[d]
        if mode == "circular":
            if lo > size or hi > size or size + lo + hi < 0:
                return None
            x = np.take(x, range(max(-lo, 0), size - max(-hi, 0)), axis=d)  # crop first, then wrap
            if max(lo, hi, 0) > x.shape[d]:
                return None
            width = [(0, 0)] * x.ndim
            width[d] = (max(lo, 0), max(hi, 0))
            x = np.pad(x, width, mode="wrap")
            continue
        if size + lo + hi < 1 or (mode == "reflect" and (lo >= size or hi >= size)):
            return None
        width = [(0, 0)] * x.ndim
        width[d] = (max(lo, 0), max(hi, 0))
        x = np.pad(x, width, mode="reflect" if mode == "reflect" else "edge")  # pad, then crop
        x = np.take(x, range(max(-lo, 0), x.shape[d] - max(-hi, 0)), axis=d)
    return x


# ---------------- class 4: pooling geometry ----------------


def test_ceil_mode_is_honoured_by_every_pool_and_module():
    x = ds.arange(5.0).reshape(1, 1, 5)
    assert F.avg_pool1d(x, 2, ceil_mode=True).tolist() == [[[0.5, 2.5, 4.0]]]
    assert F.max_pool1d(x, 2, ceil_mode=True).tolist() == [[[1.0, 3.0, 4.0]]]
    assert nn.MaxPool1d(2, ceil_mode=True)(x).shape == (1, 1, 3)
    assert nn.AvgPool1d(2, ceil_mode=True)(x).shape == (1, 1, 3)
    x2 = ds.arange(25.0).reshape(1, 1, 5, 5)
    y = F.avg_pool2d(x2, 2, ceil_mode=True)
    assert y.shape == (1, 1, 3, 3) and y[0, 0, 0, 2].item() == 6.5 and y[0, 0, 2, 2].item() == 24.0
    assert nn.AvgPool2d(2, ceil_mode=True)(x2).shape == (1, 1, 3, 3)
    v, i = F.max_pool1d(x, 2, ceil_mode=True, return_indices=True)
    assert i.tolist() == [[[1, 3, 4]]]
    v, i = nn.MaxPool1d(2, ceil_mode=True, return_indices=True)(x)
    assert v.tolist() == [[[1.0, 3.0, 4.0]]]


def test_avg_pool_divisor_override_and_count_include_pad_with_ceil_mode():
    x = np.arange(30.0).reshape(1, 2, 3, 5)
    for cip in (True, False):
        for div in (None, 3):
            y = F.avg_pool2d(ds.tensor(x), 3, 2, 1, ceil_mode=True, count_include_pad=cip, divisor_override=div)
            np.testing.assert_allclose(y.numpy(), ref_avg_pool(x, (3, 3), (2, 2), (1, 1), True, cip, div)[0])
    with pytest.raises(RuntimeError, match="divisor must be not zero"):
        F.avg_pool2d(ds.tensor(x), 2, divisor_override=0)


def test_pooling_argument_errors_match_pytorch():
    x = ds.zeros(1, 1, 8, 8)
    with pytest.raises(RuntimeError, match="pad must be non-negative"):
        F.max_pool2d(x, 2, padding=-1)
    with pytest.raises(RuntimeError, match="pad should be at most half of effective kernel size"):
        F.avg_pool2d(x, 2, padding=2)
    with pytest.raises(RuntimeError, match="stride should be greater than zero"):
        F.max_pool1d(ds.zeros(1, 1, 8), 2, stride=0)
    with pytest.raises(RuntimeError, match=r"output size \[0\] is too small"):
        F.avg_pool1d(ds.zeros(1, 1, 2), 3)
    with pytest.raises(RuntimeError, match="non-zero dimensions"):
        F.max_pool2d(ds.zeros(1, 0, 4, 4), 2)
    with pytest.raises(RuntimeError, match="not implemented for 'Int'"):
        F.avg_pool2d(ds.zeros(1, 1, 4, 4, dtype=ds.int32), 2)


def test_integer_pools_pad_with_the_lowest_value_and_index_the_input():
    x = -np.arange(25).reshape(1, 1, 5, 5) - 100
    v, i = F.max_pool2d(ds.tensor(x), 3, 2, 1, ceil_mode=True, return_indices=True)
    rv, ri = ref_max_pool(x.astype(np.float64), (3, 3), (2, 2), (1, 1), (1, 1), True)
    assert v.dtype == ds.int64 and v.tolist() == rv.astype(np.int64).tolist() and i.tolist() == ri.tolist()
    # an all -inf window that overlaps the padding names its first input element
    low = -(2**63)
    v, i = F.max_pool2d(ds.full((1, 1, 3, 3), low), 3, 2, 1, return_indices=True)
    assert v.tolist() == [[[[low, low], [low, low]]]] and i.tolist() == [[[[0, 1], [3, 4]]]]
    v, i = F.max_pool2d(ds.full((1, 1, 3, 3), -math.inf), 3, 2, 1, return_indices=True)
    assert i.tolist() == [[[[0, 1], [3, 4]]]]
    y = F.avg_pool2d(ds.tensor(x), 2, ceil_mode=True)
    assert y.dtype == ds.int64  # integer division, truncated toward zero, as PyTorch's Long kernel
    np.testing.assert_array_equal(y.numpy(), np.trunc(ref_avg_pool(x.astype(np.float64), (2, 2), (2, 2), (0, 0), True, True, None)[0]))


@st.composite
def pool_cases(draw, max_pool):
    n = draw(st.integers(1, 2))
    k = tuple(draw(st.integers(1, 4)) for _ in range(n))
    s = tuple(draw(st.integers(1, 4)) for _ in range(n))
    p = tuple(draw(st.integers(0, ki // 2)) for ki in k)
    d = tuple(draw(st.integers(1, 2)) if max_pool else 1 for _ in range(n))
    ceil = draw(st.booleans())
    spatial = tuple(draw(st.integers(max(1, di * (ki - 1) + 1 - 2 * pi), 9)) for ki, pi, di in zip(k, p, d))
    lead = tuple(draw(st.lists(st.integers(1, 2), min_size=1, max_size=2)))
    return dict(k=k, s=s, p=p, d=d, ceil=ceil, shape=lead + spatial)


@pytest.mark.parametrize("device", DEVICES)
@settings(max_examples=80)
@given(case=pool_cases(max_pool=True), seed=st.integers(0, 2**16), dtype=st.sampled_from([ds.float64, ds.float32]))
def test_max_pool_1d_2d_match_numpy(device, case, seed, dtype):
    n = len(case["k"])
    x = np.random.default_rng(seed).permutation(int(np.prod(case["shape"]))).reshape(case["shape"]) / 7.0
    ref, ref_idx = ref_max_pool(x, case["k"], case["s"], case["p"], case["d"], case["ceil"])
    fn = F.max_pool1d if n == 1 else F.max_pool2d
    y, idx = fn(ds.tensor(x, dtype=dtype, device=device), case["k"], case["s"], case["p"], case["d"], ceil_mode=case["ceil"], return_indices=True)
    assert tuple(y.shape) == ref.shape
    np.testing.assert_allclose(y.cpu().numpy(), ref, rtol=1e-6)
    np.testing.assert_array_equal(idx.cpu().numpy(), ref_idx)
    # the composed path (integer dtypes) agrees with the kernel on values and indices
    if not np.isfinite(ref).all():
        return  # -inf windows (all padding) have no integer counterpart
    yi, ii = fn(ds.tensor(np.round(x * 7).astype(np.int64), device=device), case["k"], case["s"], case["p"], case["d"], ceil_mode=case["ceil"], return_indices=True)
    np.testing.assert_array_equal(yi.cpu().numpy(), np.round(ref * 7).astype(np.int64))
    np.testing.assert_array_equal(ii.cpu().numpy(), ref_idx)


@pytest.mark.parametrize("device", DEVICES)
@settings(max_examples=80)
@given(case=pool_cases(max_pool=False), seed=st.integers(0, 2**16), cip=st.booleans(),
       div=st.one_of(st.none(), st.integers(1, 5)), special=st.booleans())
def test_avg_pool_1d_2d_values_and_gradient_match_numpy(device, case, seed, cip, div, special):
    n = len(case["k"])
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(case["shape"])
    if special:  # infinities propagate through the sums as in PyTorch
        x.flat[rng.integers(x.size)] = rng.choice([np.inf, -np.inf])
    g = None
    ref, _ = ref_avg_pool(x, case["k"], case["s"], case["p"], case["ceil"], cip, div)
    xt = ds.tensor(x, device=device, requires_grad=True)
    if n == 1:
        assume(div is None)  # avg_pool1d has no divisor_override, as in PyTorch
        y = F.avg_pool1d(xt, case["k"], case["s"], case["p"], case["ceil"], cip)
    else:
        y = F.avg_pool2d(xt, case["k"], case["s"], case["p"], case["ceil"], cip, div)
    assert tuple(y.shape) == ref.shape
    np.testing.assert_allclose(y.detach().cpu().numpy(), ref, rtol=1e-10, atol=1e-12)
    g = rng.standard_normal(ref.shape)
    (y * ds.tensor(g, device=device)).sum().backward()
    _, gref = ref_avg_pool(x, case["k"], case["s"], case["p"], case["ceil"], cip, div, g)
    np.testing.assert_allclose(xt.grad.cpu().numpy(), gref, rtol=1e-10, atol=1e-12)


def test_ceil_mode_windows_longer_than_the_input_pool_what_they_cover():
    v, i = F.max_pool1d(ds.tensor([[0.5]]), 2, ceil_mode=True, return_indices=True)
    assert v.tolist() == [[0.5]] and i.tolist() == [[0]]
    x = ds.zeros(0, 1, 1, 1, requires_grad=True)
    F.max_pool2d(x, 2, ceil_mode=True).sum().backward()
    assert tuple(x.grad.shape) == (0, 1, 1, 1)
    v, i = F.max_pool2d(ds.arange(8.0).reshape(1, 2, 2, 2), (1, 3), ceil_mode=True, return_indices=True)
    assert v.reshape(-1).tolist() == [1.0, 3.0, 5.0, 7.0] and i.reshape(-1).tolist() == [1, 3, 1, 3]
    assert F.avg_pool1d(ds.tensor([[3.0]]), 2, ceil_mode=True).tolist() == [[3.0]]


def test_dilated_windows_entirely_in_the_padding_give_minus_inf():
    v, i = F.max_pool2d(ds.tensor([[[0.0]]], dtype=ds.float16), (2, 2), padding=(1, 1), dilation=(1, 2), return_indices=True)
    assert v.tolist() == [[[-math.inf]]] and i.tolist() == [[[1]]]  # PyTorch's advanced window start
    v, i = F.max_pool1d(ds.tensor([[5.0, 6.0]]), 2, 1, 1, 3, return_indices=True)
    ref_v, ref_i = ref_max_pool(np.array([[5.0, 6.0]]), (2,), (1,), (1,), (3,), False)
    assert v.tolist() == ref_v.tolist() and i.tolist() == ref_i.tolist()


def test_avg_pool_half_accumulates_in_float32():
    x = ds.full((1, 1, 4, 4), 60000.0, dtype=ds.float16)
    y = F.avg_pool2d(x, 4)
    assert y.dtype == ds.float16 and y.item() == 60000.0  # the fp16 sum would be inf


def test_adaptive_pool_to_zero_returns_an_empty_tensor_in_the_graph():
    x = ds.randn(2, 3, 4, 4, requires_grad=True)
    y = F.adaptive_avg_pool2d(x, 0)
    assert tuple(y.shape) == (2, 3, 0, 0) and y.requires_grad
    y.sum().backward()
    assert x.grad.abs().sum().item() == 0.0
    v, i = F.adaptive_max_pool2d(x, (0, 2), return_indices=True)
    assert tuple(v.shape) == tuple(i.shape) == (2, 3, 0, 2) and i.dtype == ds.int64
    assert tuple(nn.AdaptiveAvgPool1d(0)(ds.ones(2, 5)).shape) == (2, 0)
    with pytest.raises(RuntimeError, match="negative dimension"):
        F.adaptive_avg_pool2d(x, -1)
    with pytest.raises(RuntimeError, match="non-zero size for non-batch dimensions"):
        F.adaptive_max_pool2d(ds.zeros(1, 1, 0, 3), 2)
    # return_indices was ignored: it must return (values, indices)
    v, i = nn.AdaptiveMaxPool2d(2, return_indices=True)(ds.arange(16.0).reshape(1, 4, 4))
    assert v.tolist() == [[[5.0, 7.0], [13.0, 15.0]]] and i.tolist() == [[[5, 7], [13, 15]]]


@pytest.mark.parametrize("device", DEVICES)
@settings(max_examples=60)
@given(n=st.integers(1, 2), data=st.data(), seed=st.integers(0, 2**16))
def test_adaptive_pools_match_numpy_for_every_output_size(device, n, data, seed):
    spatial = tuple(data.draw(st.integers(1, 7)) for _ in range(n))
    sizes = tuple(data.draw(st.integers(1, 9)) for _ in range(n))
    lead = (data.draw(st.integers(1, 2)), 2)
    rng = np.random.default_rng(seed)
    x = rng.permutation(int(np.prod(lead + spatial))).reshape(lead + spatial) / 3.0
    # ties: the first maximum in row-major order, as PyTorch's kernel scans
    if data.draw(st.booleans()):
        x = np.floor(x / 5.0)
    xt = ds.tensor(x, device=device)
    avg = (F.adaptive_avg_pool1d if n == 1 else F.adaptive_avg_pool2d)(xt, sizes)
    np.testing.assert_allclose(avg.cpu().numpy(), ref_adaptive(x, sizes, "avg")[0], rtol=1e-12)
    v, i = (F.adaptive_max_pool1d if n == 1 else F.adaptive_max_pool2d)(xt, sizes, return_indices=True)
    rv, ri = ref_adaptive(x, sizes, "max")
    np.testing.assert_array_equal(v.cpu().numpy(), rv)
    np.testing.assert_array_equal(i.cpu().numpy(), ri)


# ---------------- class 4: padding ----------------


def test_negative_padding_crops_in_every_mode():
    x = ds.arange(5.0).reshape(1, 5)
    assert F.pad(x, (-1, 2), mode="replicate").tolist() == [[1.0, 2.0, 3.0, 4.0, 4.0, 4.0]]
    assert F.pad(x, (2, -1), mode="reflect").tolist() == [[2.0, 1.0, 0.0, 1.0, 2.0, 3.0]]
    assert F.pad(x, (-1, 1), mode="circular").tolist() == [[1.0, 2.0, 3.0, 4.0, 1.0]]
    assert F.pad(x, (-2, -2), mode="reflect").tolist() == [[2.0]]
    with pytest.raises(RuntimeError, match="Padding size should be less than the corresponding input dimension"):
        F.pad(x, (5, 0), mode="reflect")
    with pytest.raises(RuntimeError, match="too small"):
        F.pad(x, (-3, -2), mode="replicate")
    with pytest.raises(RuntimeError, match="wrapping around more than once"):
        F.pad(x, (6, 0), mode="circular")
    with pytest.raises(RuntimeError, match="doesn't take in value argument"):
        F.pad(x, (1, 1), mode="reflect", value=2.0)
    with pytest.raises(NotImplementedError, match="non-constant padding"):
        F.pad(ds.arange(5.0), (1, 1), mode="reflect")
    with pytest.raises(NotImplementedError, match="Unrecognised padding mode"):
        F.pad(x, (1, 1), mode="symmetric")


@pytest.mark.parametrize("device", DEVICES)
@settings(max_examples=100)
@given(mode=st.sampled_from(["reflect", "replicate", "circular"]), n=st.integers(1, 2), data=st.data())
def test_pad_matches_numpy_including_negative_amounts(device, mode, n, data):
    spatial = tuple(data.draw(st.integers(1, 5)) for _ in range(n))
    shape = (data.draw(st.integers(1, 2)),) * data.draw(st.integers(1, 2)) + spatial
    pads = [data.draw(st.integers(-6, 6)) for _ in range(2 * n)]
    x = np.arange(float(np.prod(shape))).reshape(shape)
    ref = ref_pad(x, pads, mode)
    if ref is None:
        with pytest.raises(RuntimeError):
            F.pad(ds.tensor(x, device=device), pads, mode=mode)
        return
    xt = ds.tensor(x, device=device, requires_grad=True)
    y = F.pad(xt, pads, mode=mode)
    np.testing.assert_array_equal(y.detach().cpu().numpy(), ref)
    y.sum().backward()  # each input element's gradient counts its copies in the output
    copies = ref_pad(np.arange(x.size).reshape(shape), pads, mode)
    np.testing.assert_array_equal(xt.grad.cpu().numpy(), np.bincount(copies.ravel(), minlength=x.size).reshape(shape))


def test_conv_padding_modes_pad_the_input():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 2, 5, 6))
    for mode, np_mode in (("reflect", "reflect"), ("replicate", "edge"), ("circular", "wrap")):
        conv = nn.Conv2d(2, 3, 3, padding=(1, 2), padding_mode=mode, dtype=ds.float64)
        ref = F.conv2d(ds.tensor(np.pad(x, ((0, 0), (0, 0), (1, 1), (2, 2)), mode=np_mode)), conv.weight, conv.bias)
        np.testing.assert_allclose(conv(ds.tensor(x)).detach().numpy(), ref.detach().numpy(), rtol=1e-12)
        assert f"padding_mode={mode}" in repr(conv)
    conv1 = nn.Conv1d(1, 1, 3, padding="same", padding_mode="circular", bias=False, dtype=ds.float64)
    x1 = np.arange(5.0).reshape(1, 1, 5)
    ref = F.conv1d(ds.tensor(np.pad(x1, ((0, 0), (0, 0), (1, 1)), mode="wrap")), conv1.weight)
    np.testing.assert_allclose(conv1(ds.tensor(x1)).detach().numpy(), ref.detach().numpy())
    with pytest.raises(ValueError, match="padding_mode must be one of"):
        nn.Conv2d(1, 1, 3, padding_mode="reflection")
    with pytest.raises(ValueError, match='Only "zeros" padding mode'):
        nn.ConvTranspose2d(1, 1, 3, padding_mode="reflect")


# ---------------- more of class 4 and 7 in nn.functional ----------------


def ref_interp_1d(x, n_out, mode, align_corners, scale, axis):
    """One spatial axis of PyTorch's upsample kernels (float64 arithmetic for linear)."""
    n_in = x.shape[axis]
    out = []
    for i in range(n_out):
        if mode in ("nearest", "nearest-exact"):
            if mode == "nearest" and n_out == n_in:
                j = i
            elif mode == "nearest" and n_out == 2 * n_in:
                j = i // 2
            else:
                f = np.float32(1.0 / scale) if scale else np.float32(n_in) / np.float32(n_out)
                j = min(int(np.floor((np.float32(i) + np.float32(0.5 if mode == "nearest-exact" else 0)) * f)), n_in - 1)
            out.append(np.take(x, j, axis=axis))
            continue
        if n_out == n_in:
            out.append(np.take(x, i, axis=axis))
            continue
        if align_corners:
            src = (n_in - 1) / (n_out - 1) * i if n_out > 1 else 0.0
        else:
            f = 1.0 / scale if scale else n_in / n_out
            src = max(f * (i + 0.5) - 0.5, 0.0)
        j0 = int(src)
        j1 = j0 + (1 if j0 < n_in - 1 else 0)
        lam = min(max(src - j0, 0.0), 1.0)
        out.append((1 - lam) * np.take(x, j0, axis=axis) + lam * np.take(x, j1, axis=axis))
    return np.stack(out, axis=axis)


@pytest.mark.parametrize("device", DEVICES)
@settings(max_examples=80)
@given(n=st.integers(1, 2), data=st.data(), seed=st.integers(0, 2**16))
def test_interpolate_matches_pytorchs_source_positions(device, n, data, seed):
    mode = data.draw(st.sampled_from(["nearest", "nearest-exact", "linear" if n == 1 else "bilinear"]))
    spatial = [data.draw(st.integers(1, 6)) for _ in range(n)]
    x = np.random.default_rng(seed).standard_normal([2, 3] + spatial)
    align = data.draw(st.booleans()) if mode in ("linear", "bilinear") else None
    if data.draw(st.booleans()):
        sf = [data.draw(st.sampled_from([0.5, 0.7, 1.0, 1.5, 2.0, 2.3, 3.0])) for _ in range(n)]
        sizes = [int(math.floor(L * f)) for L, f in zip(spatial, sf)]
        assume(min(sizes) > 0)
        y = F.interpolate(ds.tensor(x, device=device), scale_factor=sf, mode=mode, align_corners=align)
        scales = sf
    else:
        sizes = [data.draw(st.integers(1, 9)) for _ in range(n)]
        y = F.interpolate(ds.tensor(x, device=device), size=sizes, mode=mode, align_corners=align)
        scales = [None] * n
    ref = x
    for i in range(n):
        ref = ref_interp_1d(ref, sizes[i], mode.replace("bilinear", "linear"), align, scales[i], 2 + i)
    assert list(y.shape) == [2, 3] + sizes
    np.testing.assert_allclose(y.cpu().numpy(), ref, rtol=1e-12, atol=1e-12)


def test_interpolate_on_3d_input_resizes_the_length_not_the_channels():
    y = F.interpolate(ds.arange(8.0).reshape(1, 2, 4), scale_factor=2)
    assert tuple(y.shape) == (1, 2, 8) and y[0, 1].tolist() == [4.0, 4.0, 5.0, 5.0, 6.0, 6.0, 7.0, 7.0]
    assert F.interpolate(ds.arange(5.0).reshape(1, 1, 5), scale_factor=1.5).tolist() == [[[0.0, 0.0, 1.0, 2.0, 2.0, 3.0, 4.0]]]
    with pytest.raises(NotImplementedError, match="bilinear mode needs 4D input"):
        F.interpolate(ds.zeros(1, 2, 4), scale_factor=2, mode="bilinear")
    with pytest.raises(ValueError, match="align_corners option can only be set"):
        F.interpolate(ds.zeros(1, 2, 4), scale_factor=2, align_corners=True)
    assert tuple(nn.Upsample(scale_factor=2, mode="bilinear")(ds.zeros(1, 1, 2, 3)).shape) == (1, 1, 4, 6)


def test_convolution_arguments_are_checked():
    x, w = ds.randn(1, 1, 5, 5), ds.randn(1, 1, 3, 3)
    with pytest.raises(RuntimeError, match="negative padding is not supported"):
        F.conv2d(x, w, padding=-1)
    with pytest.raises(RuntimeError, match="non-positive stride"):
        F.conv1d(ds.randn(1, 1, 5), ds.randn(1, 1, 3), stride=0)
    with pytest.raises(RuntimeError, match="dilation should be greater than zero"):
        F.conv2d(x, w, dilation=0)  # was computed as if dilation 1... silently
    with pytest.raises(RuntimeError, match="expected bias to be 1-dimensional with 1 elements"):
        F.conv2d(x, w, ds.zeros(1, 1))
    with pytest.raises(RuntimeError, match="output padding must be smaller than either stride or dilation"):
        F.conv_transpose2d(x, w, stride=1, output_padding=1)
    y = F.conv2d(x[0], w)  # unbatched input, as PyTorch allows
    np.testing.assert_allclose(y.numpy(), F.conv2d(x, w)[0].numpy(), rtol=1e-6)
    assert tuple(F.conv_transpose2d(x[0], w, stride=2, output_padding=1).shape) == (1, 12, 12)


def test_losses_and_norms_refuse_bad_ranges_and_follow_pytorchs_formulas():
    a, b = ds.randn(3), ds.randn(3)
    with pytest.raises(RuntimeError, match="label_smoothing must be between 0.0 and 1.0"):
        F.cross_entropy(ds.randn(2, 3), ds.tensor([0, 1]), label_smoothing=-0.5)
    with pytest.raises(RuntimeError, match="negative values for beta"):
        F.smooth_l1_loss(a, b, beta=-1.0)
    with pytest.raises(RuntimeError, match="non-positive values for delta"):
        F.huber_loss(a, b, delta=0.0)
    with pytest.raises(RuntimeError, match="between 0 and 1"):
        F.binary_cross_entropy(ds.tensor([1.5, 0.5]), ds.tensor([1.0, 0.0]))
    with pytest.raises(RuntimeError, match="divisible by num_groups"):
        F.group_norm(ds.randn(2, 4, 3), 0)
    # each norm is clamped to eps on its own (PyTorch), not their product
    c = F.cosine_similarity(ds.full((1, 3), 1e-5, dtype=ds.float64), ds.full((1, 3), 1e-5, dtype=ds.float64))
    assert abs(c.item() - 1.0) < 1e-12
    # dim counts in the broadcast shape
    c = F.cosine_similarity(ds.tensor([[0.0], [1.0]]), ds.tensor([[[0.0], [1.0]]]))
    assert tuple(c.shape) == (1, 1) and abs(c.item() - 1.0) < 1e-6
    with pytest.raises(RuntimeError, match="does not broadcast to the output shape"):
        F.linear(ds.zeros(2, 4), ds.zeros(1, 4), ds.zeros(2))
    # rms_norm's default eps is the input dtype's machine epsilon
    x = ds.full((1, 4), 1e-9, dtype=ds.float64)
    np.testing.assert_allclose(F.rms_norm(x, (4,)).numpy(), 1e-9 / np.sqrt(1e-18 + 2.0**-52))


def test_inplace_activations_write_the_input():
    for fn in (F.relu, F.leaky_relu, F.elu, F.hardtanh, F.relu6, F.hardswish, F.hardsigmoid, F.silu, F.mish):
        x = ds.tensor([-2.0, 0.5, 7.0])
        expect = fn(x.clone()).tolist()
        assert fn(x, inplace=True) is x and x.tolist() == expect, fn.__name__
    a = ds.tensor([-1.0, 2.0], requires_grad=True)
    F.elu(a * 2, inplace=True).sum().backward()  # the saved tensors are not the overwritten one
    np.testing.assert_allclose(a.grad.numpy(), [2 * math.exp(-2.0), 2.0], rtol=1e-6)
    with pytest.raises(RuntimeError, match="leaf"):
        F.relu(ds.ones(2, requires_grad=True), inplace=True)


def test_embedding_max_norm_and_gradient_scaling_are_applied():
    w = nn.Parameter(ds.ones(3, 4) * 5)
    y = F.embedding(ds.tensor([0, 2, 0]), w, max_norm=1.0)
    np.testing.assert_allclose(y.detach().numpy(), 0.5, rtol=1e-6)
    np.testing.assert_allclose(w.detach().numpy()[[0, 2]], 0.5, rtol=1e-6)  # renormalised in place
    assert w[1].tolist() == [5.0] * 4  # rows not looked up are left alone
    e = nn.Embedding(4, 2, max_norm=0.5)
    e(ds.tensor([1]))
    assert e.weight[1].norm().item() <= 0.5 + 1e-6
    w2 = ds.ones(3, 2, requires_grad=True)
    F.embedding(ds.tensor([0, 0, 1]), w2, scale_grad_by_freq=True).sum().backward()
    assert w2.grad.tolist() == [[1.0, 1.0], [1.0, 1.0], [0.0, 0.0]]
    e2 = nn.Embedding(3, 2, scale_grad_by_freq=True)
    e2(ds.tensor([2, 2, 2, 2])).sum().backward()
    assert e2.weight.grad[2].tolist() == [1.0, 1.0]


def test_repr_uses_pytorchs_scientific_notation_rule():
    assert repr(ds.tensor([1.0, 2000.0])) == "tensor([1.0000e+00, 2.0000e+03])"
    assert repr(ds.tensor([1.0, 1000.0])) == "tensor([   1., 1000.])"
    assert repr(ds.tensor([1e-5, -1e-5])) == "tensor([ 1.0000e-05, -1.0000e-05])"
    assert repr(ds.tensor([1.5, 2.25])) == "tensor([1.5000, 2.2500])"
    assert repr(ds.tensor([float("nan"), 1.0, 100.0])) == "tensor([ nan,   1., 100.])"
    # a summarized print formats by the elements it shows, as PyTorch does
    assert repr(ds.arange(3000)) == "tensor([   0,    1,    2,  ..., 2997, 2998, 2999])"
    x = ds.ones(2000)
    x[1000] = 1e9  # not shown, so it does not force scientific notation
    assert repr(x) == "tensor([1., 1., 1.,  ..., 1., 1., 1.])"
    assert repr(ds.arange(2000.0)) == "tensor([0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 1.9970e+03, 1.9980e+03, 1.9990e+03])"
    assert repr(ds.arange(2000) % 7 + 100) == "tensor([100, 101, 102,  ..., 102, 103, 104])"
