"""The layer functions at the top level (``deepseek.batch_norm``, ``deepseek.embedding`` ...):
ATen's argument order and integer reductions, checked against NumPy in float64 and against
finite differences."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import deepseek
from deepseek.autograd import gradcheck
from deepseek.nn import functional as F

RNG = np.random.default_rng(0)


def T(a, rg=False):
    return deepseek.tensor(np.asarray(a, dtype=np.float64), requires_grad=rg)


def npy(t):
    return np.asarray(t.detach())


# ---------------- normalisation: ATen's order ----------------

def test_batch_norm_aten_order_eval_and_train():
    x = RNG.standard_normal((4, 3, 5))
    w, b = RNG.standard_normal(3), RNG.standard_normal(3)
    rm, rv = RNG.standard_normal(3), RNG.random(3) + 0.5
    y = deepseek.batch_norm(T(x), T(w), T(b), T(rm), T(rv), False, 0.1, 1e-5, False)
    ref = (x - rm[:, None]) / np.sqrt(rv[:, None] + 1e-5) * w[:, None] + b[:, None]
    np.testing.assert_allclose(npy(y), ref, rtol=1e-10, atol=1e-12)
    # training: batch statistics, running stats updated in place with the unbiased variance
    rmt, rvt = T(rm), T(rv)
    y = deepseek.batch_norm(T(x), T(w), T(b), rmt, rvt, True, 0.1, 1e-5, True)
    mu, var = x.mean((0, 2)), x.var((0, 2))
    ref = (x - mu[:, None]) / np.sqrt(var[:, None] + 1e-5) * w[:, None] + b[:, None]
    np.testing.assert_allclose(npy(y), ref, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(npy(rmt), 0.9 * rm + 0.1 * mu, rtol=1e-12)
    np.testing.assert_allclose(npy(rvt), 0.9 * rv + 0.1 * x.var((0, 2), ddof=1), rtol=1e-12)
    # no weight, bias or statistics at all
    y = deepseek.batch_norm(T(x), None, None, None, None, True, 0.1, 1e-5, False)
    np.testing.assert_allclose(npy(y), (x - mu[:, None]) / np.sqrt(var[:, None] + 1e-5), rtol=1e-9, atol=1e-10)


def test_instance_layer_group_norm_against_numpy():
    x = RNG.standard_normal((2, 4, 6))
    w, b = RNG.standard_normal(4), RNG.standard_normal(4)
    y = deepseek.instance_norm(T(x), T(w), T(b), None, None, True, 0.1, 1e-5, False)
    mu, var = x.mean(2, keepdims=True), x.var(2, keepdims=True)
    np.testing.assert_allclose(npy(y), (x - mu) / np.sqrt(var + 1e-5) * w[:, None] + b[:, None], rtol=1e-9, atol=1e-10)
    w6, b6 = RNG.standard_normal(6), RNG.standard_normal(6)
    y = deepseek.layer_norm(T(x), [6], T(w6), T(b6), 1e-5, True)
    np.testing.assert_allclose(npy(y), (x - mu) / np.sqrt(var + 1e-5) * w6 + b6, rtol=1e-9, atol=1e-10)
    y = deepseek.group_norm(T(x), 2, T(w), T(b), 1e-5, True)
    g = x.reshape(2, 2, 12)
    ref = ((g - g.mean(2, keepdims=True)) / np.sqrt(g.var(2, keepdims=True) + 1e-5)).reshape(2, 4, 6)
    np.testing.assert_allclose(npy(y), ref * w[:, None] + b[:, None], rtol=1e-9, atol=1e-10)
    r = deepseek.rms_norm(T(x), [6], None, 1e-6)
    np.testing.assert_allclose(npy(r), x / np.sqrt((x * x).mean(2, keepdims=True) + 1e-6), rtol=1e-10)


def test_norm_gradients_against_finite_differences():
    x, w, b = T(RNG.standard_normal((3, 2, 4)), True), T(RNG.standard_normal(2), True), T(RNG.standard_normal(2), True)
    assert gradcheck(lambda x, w, b: deepseek.batch_norm(x, w, b, None, None, True, 0.1, 1e-5, False), (x, w, b))
    assert gradcheck(lambda x, w, b: deepseek.instance_norm(x, w, b, None, None, True, 0.1, 1e-5, False), (x, w, b))


# ---------------- embeddings ----------------

def test_embedding_weight_first_and_padding_gradient():
    w = T(RNG.standard_normal((5, 3)), True)
    idx = deepseek.tensor([[0, 2], [4, 2]])
    y = deepseek.embedding(w, idx)
    np.testing.assert_array_equal(npy(y), npy(w)[[[0, 2], [4, 2]]])
    deepseek.embedding(w, idx, 2).sum().backward()
    g = npy(w.grad)
    np.testing.assert_array_equal(g[2], 0.0)      # the padding row gets no gradient
    np.testing.assert_array_equal(g[0], 1.0)
    np.testing.assert_array_equal(g[4], 1.0)
    w.grad = None
    deepseek.embedding(w, idx, -1).sum().backward()  # negative: no padding row
    np.testing.assert_array_equal(npy(w.grad)[2], 2.0)


@pytest.mark.parametrize("mode", [0, 1, 2])
@pytest.mark.parametrize("last", [False, True])
def test_embedding_bag_against_numpy(mode, last):
    w = RNG.standard_normal((6, 3))
    ind = np.array([0, 2, 1, 3, 3, 5, 4])
    offs = [0, 2, 2, 5]  # bag 1 is empty
    bags = [ind[offs[i]:(offs[i + 1] if i + 1 < len(offs) else len(ind))] for i in range(len(offs))]
    if last:
        offs = offs + [len(ind)]
    out, o2b, size, maxi = deepseek.embedding_bag(T(w), deepseek.tensor(ind), deepseek.tensor(offs), False, mode, False,
                                                  None, last)
    agg = [np.sum, np.mean, np.max][mode]
    ref = np.stack([agg(w[b], 0) if len(b) else np.zeros(3) for b in bags])
    np.testing.assert_allclose(npy(out), ref, rtol=1e-12)
    np.testing.assert_array_equal(npy(o2b), np.concatenate([[i] * len(b) for i, b in enumerate(bags)]))
    counts = np.array([len(b) for b in bags])
    np.testing.assert_array_equal(npy(size), counts if mode else 0 * counts)
    if mode == 2:
        refi = np.stack([b[np.argmax(w[b], 0)] if len(b) else np.zeros(3, int) for b in bags])
        np.testing.assert_array_equal(npy(maxi), refi)
    with pytest.raises(ValueError, match="mode"):
        deepseek.embedding_bag(T(w), deepseek.tensor(ind), deepseek.tensor(offs), False, 3)


# ---------------- pooling ----------------

def test_pool_aliases_return_what_aten_returns():
    x = T(RNG.standard_normal((2, 3, 8)))
    y = deepseek.max_pool1d(x, 2)
    assert isinstance(y, deepseek.Tensor)
    np.testing.assert_array_equal(npy(y), npy(x).reshape(2, 3, 4, 2).max(-1))
    np.testing.assert_array_equal(npy(deepseek.max_pool1d(x, 2, [])), npy(y))   # empty stride: the kernel
    v, i = deepseek.max_pool1d_with_indices(x, 2)
    np.testing.assert_array_equal(npy(v), npy(y))
    v, i = deepseek.adaptive_max_pool1d(x, 4)   # a tuple at the top level
    np.testing.assert_array_equal(npy(v), npy(y))
    np.testing.assert_array_equal(npy(i), npy(x).reshape(2, 3, 4, 2).argmax(-1) + np.arange(0, 8, 2))
    np.testing.assert_allclose(npy(deepseek.avg_pool1d(x, 2)), npy(x).reshape(2, 3, 4, 2).mean(-1), rtol=1e-12)
    np.testing.assert_allclose(npy(deepseek.adaptive_avg_pool1d(x, 1)), npy(x).mean(-1, keepdims=True), rtol=1e-12)
    x2 = T(RNG.standard_normal((1, 2, 4, 6)))
    np.testing.assert_array_equal(npy(deepseek.max_pool2d(x2, 2)), npy(x2).reshape(1, 2, 2, 2, 3, 2).max((3, 5)))
    x3 = T(RNG.standard_normal((1, 1, 2, 4, 4)))
    np.testing.assert_array_equal(npy(deepseek.max_pool3d(x3, 2)),
                                  npy(x3).reshape(1, 1, 1, 2, 2, 2, 2, 2).max((3, 5, 7)))


def test_conv1d_against_numpy_correlate():
    x, w = RNG.standard_normal((1, 1, 9)), RNG.standard_normal((1, 1, 3))
    y = deepseek.conv1d(T(x), T(w), None, 2)
    np.testing.assert_allclose(npy(y)[0, 0], np.correlate(x[0, 0], w[0, 0], "valid")[::2], rtol=1e-10)
    assert deepseek.conv_transpose2d is F.conv_transpose2d


# ---------------- losses: reduction as an int ----------------

def test_losses_take_atens_integer_reduction():
    a, b = T(RNG.standard_normal((4, 3))), T(RNG.standard_normal((4, 3)))
    y = deepseek.tensor([1.0, -1.0, 1.0, -1.0], dtype=deepseek.float64)
    t = T(RNG.random((4, 3)))
    for r, name in [(0, "none"), (1, "mean"), (2, "sum")]:
        pairs = [
            (deepseek.binary_cross_entropy_with_logits(a, t, None, None, r),
             F.binary_cross_entropy_with_logits(a, t, reduction=name)),
            (deepseek.cosine_embedding_loss(a, b, y, 0.1, r), F.cosine_embedding_loss(a, b, y, 0.1, reduction=name)),
            (deepseek.margin_ranking_loss(a[:, 0], b[:, 0], y, 0.2, r),
             F.margin_ranking_loss(a[:, 0], b[:, 0], y, 0.2, reduction=name)),
            (deepseek.hinge_embedding_loss(a[:, 0], y, 1.0, r), F.hinge_embedding_loss(a[:, 0], y, 1.0, reduction=name)),
            (deepseek.triplet_margin_loss(a, b, -a, 1.0, 2.0, 1e-6, False, r),
             F.triplet_margin_loss(a, b, -a, reduction=name)),
            (deepseek.poisson_nll_loss(a, t, True, False, 1e-8, r), F.poisson_nll_loss(a, t, reduction=name)),
        ]
        for got, want in pairs:
            np.testing.assert_allclose(npy(got), npy(want), rtol=1e-12)
    # kl_div's integer mean is the mean over every element
    lp = deepseek.log_softmax(a, 1)
    p = npy(deepseek.softmax(b, 1))
    np.testing.assert_allclose(float(deepseek.kl_div(lp, T(p), 1)), np.mean(p * (np.log(p) - npy(lp))), rtol=1e-10)
    with pytest.raises(TypeError, match="reduction"):
        deepseek.kl_div(lp, T(p), "mean")


def test_ctc_loss_integer_reduction_matches_functional():
    lp = deepseek.log_softmax(T(RNG.standard_normal((6, 2, 4))), 2)
    tg = deepseek.tensor([[1, 2], [3, 3]])
    il, tl = deepseek.tensor([6, 5]), deepseek.tensor([2, 2])
    for r, name in [(0, "none"), (1, "mean"), (2, "sum")]:
        np.testing.assert_allclose(npy(deepseek.ctc_loss(lp, tg, il, tl, 0, r)),
                                   npy(F.ctc_loss(lp, tg, il, tl, 0, name)), rtol=1e-12)


# ---------------- dropouts ----------------

def test_dropouts_positional_train_flag():
    x = deepseek.ones(8, 6, 5, dtype=deepseek.float64)
    assert deepseek.dropout(x, 0.5, False) is x
    y = npy(deepseek.dropout(x, 0.5, True))
    assert set(np.unique(y)) <= {0.0, 2.0} and 0 < (y == 0).sum() < y.size
    y = npy(deepseek.feature_dropout(x, 0.5, True))
    per_channel = y.reshape(8, 6, 5)
    assert all(len(set(c.tolist())) == 1 for c in per_channel.reshape(48, 5))   # whole channels
    assert set(np.unique(y)) <= {0.0, 2.0}
    z = deepseek.ones(4, 4, dtype=deepseek.float64)
    assert deepseek.dropout_(z, 0.5, True) is z and set(np.unique(npy(z))) <= {0.0, 2.0}
    z = deepseek.ones(4, 4, 3, dtype=deepseek.float64)
    assert deepseek.feature_dropout_(z, 0.25, True) is z
    assert deepseek.alpha_dropout(x, 0.3, False) is x
    assert deepseek.feature_alpha_dropout(x, 0.3, False) is x
    with pytest.raises(RuntimeError, match="feature_dropout"):
        deepseek.feature_dropout(deepseek.ones(3), 0.5, True)
    with pytest.raises(ValueError, match="between 0 and 1"):
        deepseek.dropout(x, 1.5, True)


# ---------------- activations ----------------

_SELU_A, _SELU_S = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
floats = st.lists(st.floats(-5, 5, allow_nan=False), min_size=0, max_size=12)


@settings(max_examples=25)
@given(floats, st.floats(0.2, 3.0), st.floats(-1, 1), st.floats(0.0, 2.0))
def test_activations_against_numpy(v, alpha, thr, lambd):
    x = np.array(v, dtype=np.float64)
    t = T(x)
    np.testing.assert_allclose(npy(deepseek.selu(t)), _SELU_S * np.where(x > 0, x, _SELU_A * np.expm1(np.minimum(x, 0))),
                               rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(npy(deepseek.celu(t, alpha)),
                               np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0) / alpha)), rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(npy(deepseek.threshold(t, thr, -7.0)), np.where(x > thr, x, -7.0))
    np.testing.assert_array_equal(npy(deepseek.hardshrink(t, lambd)), np.where(np.abs(x) > lambd, x, 0.0))
    np.testing.assert_allclose(npy(deepseek.rrelu(t, 0.1, 0.3)), np.where(x >= 0, x, 0.2 * x), rtol=1e-12)
    s = T(x)
    assert deepseek.selu_(s) is s
    np.testing.assert_allclose(npy(s), npy(deepseek.selu(t)), rtol=1e-15)
    p = T(x)
    assert F.selu_(p) is p


def test_activation_gradients_against_finite_differences():
    x = T(RNG.standard_normal(7) + 0.05, True)
    assert gradcheck(deepseek.selu, (x,))
    assert gradcheck(lambda x: deepseek.celu(x, 0.7), (x,))
    assert gradcheck(lambda x: deepseek.prelu(x.reshape(1, 7), T([0.25], True)), (x,))
    assert gradcheck(lambda x: deepseek.rsub(x, 3.0, alpha=2), (x,))
