"""conv2d and max_pool2d kernels against NumPy float64 references, by property: random
batch sizes (so small images are batched into shared GEMMs, in even and uneven chunks, and
large ones go one at a time), channels, groups, kernel, stride, padding, dilation; values,
input and weight gradients; both thread counts."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import deepseek as ds
from deepseek.nn import functional as F


def np_conv2d(x, w, stride, pad, dil, groups):
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad[0], pad[0]), (pad[1], pad[1])))
    oh = (h + 2 * pad[0] - dil[0] * (kh - 1) - 1) // stride[0] + 1
    ow = (wd + 2 * pad[1] - dil[1] * (kw - 1) - 1) // stride[1] + 1
    og = o // groups
    out = np.zeros((n, o, oh, ow))
    for g in range(groups):
        xs = xp[:, g * cg:(g + 1) * cg]
        ws = w[g * og:(g + 1) * og]
        for ki in range(kh):
            for kj in range(kw):
                patch = xs[:, :, ki * dil[0]: ki * dil[0] + stride[0] * (oh - 1) + 1: stride[0],
                           kj * dil[1]: kj * dil[1] + stride[1] * (ow - 1) + 1: stride[1]]
                out[:, g * og:(g + 1) * og] += np.einsum("nchw,oc->nohw", patch, ws[:, :, ki, kj])
    return out


def np_conv2d_grads(x, w, r, stride, pad, dil, groups):
    """Gradients of sum(conv(x, w) * r) by the adjoint of the reference loop."""
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad[0], pad[0]), (pad[1], pad[1])))
    gxp = np.zeros_like(xp)
    gw = np.zeros_like(w)
    oh, ow = r.shape[2:]
    og = o // groups
    for g in range(groups):
        for ki in range(kh):
            for kj in range(kw):
                sl = (slice(None), slice(g * cg, (g + 1) * cg),
                      slice(ki * dil[0], ki * dil[0] + stride[0] * (oh - 1) + 1, stride[0]),
                      slice(kj * dil[1], kj * dil[1] + stride[1] * (ow - 1) + 1, stride[1]))
                rg = r[:, g * og:(g + 1) * og]
                gw[g * og:(g + 1) * og, :, ki, kj] = np.einsum("nchw,nohw->oc", xp[sl], rg)
                gxp[sl] += np.einsum("nohw,oc->nchw", rg, w[g * og:(g + 1) * og, :, ki, kj])
    return gxp[:, :, pad[0]:pad[0] + h, pad[1]:pad[1] + wd], gw


@st.composite
def conv_cases(draw):
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    cg = draw(st.integers(1, 3))
    og = draw(st.integers(1, 3))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    stride = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    dil = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    pad = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    # small images batch into shared GEMMs; 17x17 and up go one image at a time
    hw = draw(st.sampled_from([(1, 1), (2, 3), (5, 4), (7, 7), (10, 9), (17, 16)]))
    h = max(hw[0], dil[0] * (kh - 1) + 1 - 2 * pad[0])
    wd = max(hw[1], dil[1] * (kw - 1) + 1 - 2 * pad[1])
    n = draw(st.sampled_from([0, 1, 2, 3, 5, 7]))
    return dict(n=n, c=cg * groups, o=og * groups, h=h, w=wd, k=(kh, kw), stride=stride, pad=pad, dil=dil, groups=groups)


@pytest.mark.parametrize("threads", [1, 2])
@settings(max_examples=40)
@given(case=conv_cases(), seed=st.integers(0, 2**16))
def test_conv2d_values_and_gradients_match_numpy(case, seed, threads):
    old = ds.get_num_threads()
    ds.set_num_threads(threads)
    try:
        rng = np.random.default_rng(seed)
        x = rng.standard_normal((case["n"], case["c"], case["h"], case["w"]))
        w = rng.standard_normal((case["o"], case["c"] // case["groups"]) + case["k"])
        args = (case["stride"], case["pad"], case["dil"], case["groups"])
        ref = np_conv2d(x, w, *args)
        r = rng.standard_normal(ref.shape)
        gx_ref, gw_ref = np_conv2d_grads(x, w, r, *args)
        for dt, tol in ((ds.float64, 1e-10), (ds.float32, 2e-4)):
            xt = ds.tensor(x, dtype=dt, requires_grad=True)
            wt = ds.tensor(w, dtype=dt, requires_grad=True)
            y = F.conv2d(xt, wt, None, *args)
            assert tuple(y.shape) == ref.shape
            np.testing.assert_allclose(y.detach().numpy(), ref, rtol=tol, atol=tol * 10)
            (y * ds.tensor(r, dtype=dt)).sum().backward()
            np.testing.assert_allclose(xt.grad.numpy(), gx_ref, rtol=tol, atol=tol * 10)
            np.testing.assert_allclose(wt.grad.numpy(), gw_ref, rtol=tol, atol=tol * 10)
    finally:
        ds.set_num_threads(old)


def test_conv2d_batched_chunks_on_a_non_contiguous_input():
    # 8 images of 6x6 (36 positions) go through shared GEMMs; the input is a transposed view
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 4, 6, 6))
    w = rng.standard_normal((5, 4, 3, 3))
    xt = ds.tensor(x.transpose(0, 1, 3, 2).copy()).transpose(2, 3)
    assert not xt.is_contiguous()
    y = F.conv2d(xt.double(), ds.tensor(w), None, 1, 1)
    np.testing.assert_allclose(y.numpy(), np_conv2d(x, w, (1, 1), (1, 1), (1, 1), 1), rtol=1e-10, atol=1e-10)


def np_max_pool2d(x, k, s, p, d, ceil_mode):
    n, c, h, w = x.shape

    def out_len(L, kk, ss, pp, dd):
        room = L + 2 * pp - dd * (kk - 1) - 1
        o = (-(-room // ss) if ceil_mode else room // ss) + 1
        if ceil_mode and (o - 1) * ss >= L + pp:
            o -= 1
        return o

    oh, ow = out_len(h, k[0], s[0], p[0], d[0]), out_len(w, k[1], s[1], p[1], d[1])
    vals = np.full((n, c, oh, ow), -np.inf)
    idx = np.zeros((n, c, oh, ow), dtype=np.int64)
    for i in range(oh):
        for j in range(ow):
            best_set = np.zeros((n, c), dtype=bool)
            for ki in range(k[0]):
                y = i * s[0] - p[0] + ki * d[0]
                if not 0 <= y < h:
                    continue
                for kj in range(k[1]):
                    xx = j * s[1] - p[1] + kj * d[1]
                    if not 0 <= xx < w:
                        continue
                    v = x[:, :, y, xx]
                    better = ~best_set | (v > vals[:, :, i, j])
                    vals[:, :, i, j] = np.where(better, v, vals[:, :, i, j])
                    idx[:, :, i, j] = np.where(better, y * w + xx, idx[:, :, i, j])
                    best_set |= True
    return vals, idx


@st.composite
def pool_cases(draw):
    k = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    s = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    p = (draw(st.integers(0, k[0] // 2)), draw(st.integers(0, k[1] // 2)))
    d = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    h = draw(st.integers(max(1, d[0] * (k[0] - 1) + 1 - 2 * p[0]), 9))
    w = draw(st.integers(max(1, d[1] * (k[1] - 1) + 1 - 2 * p[1]), 9))
    return dict(n=draw(st.integers(0, 3)), c=draw(st.integers(1, 3)), h=h, w=w, k=k, s=s, p=p, d=d, ceil=draw(st.booleans()))


@settings(max_examples=60)
@given(case=pool_cases(), seed=st.integers(0, 2**16), dtype=st.sampled_from([ds.float64, ds.float32]))
def test_max_pool2d_values_indices_and_gradient_match_numpy(case, seed, dtype):
    rng = np.random.default_rng(seed)
    # distinct values (a permutation) so the first maximum is unambiguous in float32 too
    x = rng.permutation(case["n"] * case["c"] * case["h"] * case["w"]).reshape(case["n"], case["c"], case["h"], case["w"]) / 7.0
    ref, ref_idx = np_max_pool2d(x, case["k"], case["s"], case["p"], case["d"], case["ceil"])
    xt = ds.tensor(x, dtype=dtype, requires_grad=True)
    y, idx = F.max_pool2d(xt, case["k"], case["s"], case["p"], case["d"], ceil_mode=case["ceil"], return_indices=True)
    assert tuple(y.shape) == ref.shape
    np.testing.assert_allclose(y.detach().numpy(), ref, rtol=1e-6)
    np.testing.assert_array_equal(idx.numpy(), ref_idx)
    r = rng.standard_normal(ref.shape)
    (y * ds.tensor(r, dtype=dtype)).sum().backward()
    g_ref = np.zeros_like(x).reshape(case["n"], case["c"], case["h"] * case["w"])
    for ni in range(case["n"]):
        for ci in range(case["c"]):
            np.add.at(g_ref[ni, ci], ref_idx[ni, ci].ravel(), r[ni, ci].ravel())
    np.testing.assert_allclose(xt.grad.numpy(), g_ref.reshape(x.shape), rtol=1e-6, atol=1e-6)


def test_max_pool2d_nan_ties_and_bad_input():
    x = ds.tensor([[[[1.0, float("nan")], [3.0, 3.0]]]])
    v, i = F.max_pool2d(x, 2, return_indices=True)
    assert np.isnan(v.item()) and i.item() == 1  # NaN propagates, as in PyTorch
    v, i = F.max_pool2d(ds.tensor([[[[3.0, 3.0], [1.0, 3.0]]]]), 2, return_indices=True)
    assert v.item() == 3.0 and i.item() == 0  # ties: the first maximum
    assert tuple(F.max_pool2d(ds.zeros(3, 5, 5), 2).shape) == (3, 2, 2)  # unbatched input
    with pytest.raises(RuntimeError, match=r"max_pool2d.*\[1, 1, 2, 2\]"):
        F.max_pool2d(ds.zeros(1, 1, 2, 2), 3)
    with pytest.raises(RuntimeError, match="half of effective kernel"):
        F.max_pool2d(ds.zeros(1, 1, 8, 8), 2, padding=2)
