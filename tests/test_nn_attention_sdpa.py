"""nn.MultiheadAttention's self-attention path through one scaled_dot_product_attention call
(taken when query, key and value are the same tensor and no weights or masks are asked for)
against the general path, in float64: outputs and gradients, both layouts, causal masking,
and the same dropout draws in training."""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import deepseek as ds
from deepseek import nn


def _pair(m, x, **kw):
    # a copy of the key and value sends the call down the general path
    fast, _ = m(x, x, x, need_weights=False, **kw)
    slow, _ = m(x, x.clone(), x.clone(), need_weights=False, **kw)
    return fast, slow


@settings(max_examples=20)
@given(n=st.integers(1, 3), l=st.integers(1, 6), heads=st.sampled_from([1, 2, 4]), bf=st.booleans(),
       causal=st.booleans(), bias=st.booleans(), seed=st.integers(0, 1000))
def test_sdpa_self_attention_equals_general_path(n, l, heads, bf, causal, bias, seed):
    ds.manual_seed(seed)
    e = 4 * heads
    m = nn.MultiheadAttention(e, heads, bias=bias, batch_first=bf).double().eval()
    rng = np.random.default_rng(seed)
    x = ds.tensor(rng.standard_normal((n, l, e) if bf else (l, n, e)), requires_grad=True)
    fast, slow = _pair(m, x, is_causal=causal)
    assert fast.shape == slow.shape == x.shape
    np.testing.assert_allclose(fast.detach().numpy(), slow.detach().numpy(), rtol=1e-12, atol=1e-12)
    w = ds.tensor(rng.standard_normal(tuple(x.shape)))
    params = [x, m.in_proj_weight, m.out_proj.weight]
    g_fast = ds.autograd.grad((fast * w).sum(), params)
    g_slow = ds.autograd.grad((slow * w).sum(), params)
    for a, b in zip(g_fast, g_slow):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-10, atol=1e-12)


def test_sdpa_path_draws_the_same_dropout_mask():
    m = nn.MultiheadAttention(8, 2, dropout=0.5, batch_first=True).double().train()
    x = ds.randn(2, 5, 8, dtype=ds.float64)
    ds.manual_seed(3)
    fast, _ = m(x, x, x, need_weights=False)
    ds.manual_seed(3)
    slow, _ = m(x, x.clone(), x.clone(), need_weights=False)
    np.testing.assert_allclose(fast.detach().numpy(), slow.detach().numpy(), rtol=1e-12, atol=1e-12)


def test_weights_or_masks_take_the_general_path():
    m = nn.MultiheadAttention(8, 2, batch_first=True).eval()
    m.requires_grad_(False)
    x = ds.randn(2, 5, 8)
    out, w = m(x, x, x)  # need_weights=True: weights come back
    assert tuple(w.shape) == (2, 5, 5)
    kpm = ds.tensor([[False] * 4 + [True], [False] * 5])
    masked, _ = m(x, x, x, key_padding_mask=kpm, need_weights=False)
    # the padded key of sample 0 is ignored: changing it changes nothing
    x2 = x.clone()
    x2[0, 4] = 100.0
    again, _ = m(x2, x2, x2, key_padding_mask=kpm, need_weights=False)
    np.testing.assert_allclose(again.numpy()[0, :4], masked.numpy()[0, :4], rtol=1e-5, atol=1e-6)
