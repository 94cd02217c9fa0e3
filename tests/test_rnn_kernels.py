"""The float32 kernels of the fused recurrent layers at the sizes where their register tiles
split unevenly: hidden sizes across the 16-unit blocks (tails masked), batches across the
1-6 / 7-12 row tiles, projections, both directions, packed sequences. Each run is compared
with the same layer composed from ops in float64 (``fused = False``, which shares no code
with the fused kernels), forward and gradients; saturated gates and non-finite inputs too.
The gate activations and step products are also swept against float64 by the Rust unit tests
(``rnn_act``, ``rnn_step``)."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import deepseek as ds
from deepseek import nn
from deepseek.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

KINDS = {"LSTM": nn.LSTM, "GRU": nn.GRU, "RNN_TANH": nn.RNN}


def _pair(kind, inp, hidden, layers=1, bidirectional=False, proj=0, seed=0, scale=1.0):
    """The same layer in float64 (composed) and float32 (fused), weights scaled by `scale`."""
    ds.manual_seed(seed)
    extra = {"proj_size": proj} if proj else {}
    m64 = KINDS[kind](inp, hidden, layers, bidirectional=bidirectional, dtype=ds.float64, **extra)
    with ds.no_grad():
        for p in m64.parameters():
            p.mul_(scale)
    m32 = KINDS[kind](inp, hidden, layers, bidirectional=bidirectional, dtype=ds.float32, **extra)
    m32.load_state_dict({k: v.float() for k, v in m64.state_dict().items()})
    # both from the same float32-rounded weights: what differs is the arithmetic alone
    m64.load_state_dict({k: v.double() for k, v in m32.state_dict().items()})
    m64.fused, m32.fused = False, True
    return m64, m32


def _run(m, x, lengths, w_out, dtype):
    """Output and the gradients of x and every weight of a fixed weighted sum of the output."""
    xt = ds.tensor(x.astype(np.float32).astype(dtype), requires_grad=True)
    m.zero_grad()
    if lengths is not None:
        out, _ = m(pack_padded_sequence(xt, lengths))
        out, _ = pad_packed_sequence(out, total_length=x.shape[0])
    else:
        out, _ = m(xt)
    (out * ds.tensor(w_out.astype(dtype))).sum().backward()
    grads = [xt.grad.numpy().astype(np.float64)] + [p.grad.numpy().astype(np.float64) for p in m.parameters()]
    return out.detach().numpy().astype(np.float64), grads


@settings(max_examples=30)
@given(
    kind=st.sampled_from(sorted(KINDS)),
    hidden=st.integers(1, 40),
    batch=st.integers(1, 14),
    steps=st.integers(1, 4),
    inp=st.integers(1, 6),
    bidirectional=st.booleans(),
    proj=st.integers(0, 3),
    ragged=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_float32_tiles_match_float64_composed(kind, hidden, batch, steps, inp, bidirectional, proj, ragged, seed):
    proj = proj if kind == "LSTM" and proj < hidden else 0
    m64, m32 = _pair(kind, inp, hidden, bidirectional=bidirectional, proj=proj, seed=seed)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((steps, batch, inp))
    hr = proj or hidden
    w_out = rng.standard_normal((steps, batch, (2 if bidirectional else 1) * hr))
    lengths = sorted(rng.integers(1, steps + 1, size=batch).tolist(), reverse=True) if ragged else None
    out64, g64 = _run(m64, x, lengths, w_out, np.float64)
    out32, g32 = _run(m32, x, lengths, w_out, np.float32)
    np.testing.assert_allclose(out32, out64, rtol=1e-4, atol=1e-5)
    for a, b in zip(g32, g64):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4 * max(1.0, np.abs(b).max()))


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_saturated_gates_match_float64(kind):
    """Weights 30x the default: most pre-activations sit far in the gates' tails, where a
    sigmoid or tanh that lost its tail precision (or overflowed) would show."""
    m64, m32 = _pair(kind, 5, 21, layers=2, seed=3, scale=30.0)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((6, 7, 5)) * 4
    w_out = rng.standard_normal((6, 7, 21))
    out64, g64 = _run(m64, x, None, w_out, np.float64)
    out32, g32 = _run(m32, x, None, w_out, np.float32)
    np.testing.assert_allclose(out32, out64, rtol=1e-3, atol=1e-5)
    # saturated gates make the gradients tiny or large in places: compare at their scale
    for a, b in zip(g32, g64):
        np.testing.assert_allclose(a, b, rtol=1e-2, atol=1e-3 * max(1.0, np.abs(b).max()))


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_non_finite_inputs_as_float64(kind):
    """An infinite input drives gates to their limits (finite outputs); a NaN spreads through
    its row from its step on. The fused float32 layer agrees with the composed float64 one on
    both, value for value."""
    m64, m32 = _pair(kind, 3, 18, seed=7)
    rng = np.random.default_rng(7)
    x = rng.standard_normal((5, 9, 3))
    x[1, 2, 0] = np.inf
    x[2, 4, 1] = -np.inf
    x[3, 6, 2] = np.nan
    with ds.no_grad():
        out64, _ = m64(ds.tensor(x))
        out32, _ = m32(ds.tensor(x.astype(np.float32)))
    out64, out32 = out64.numpy(), out32.numpy().astype(np.float64)
    np.testing.assert_array_equal(np.isnan(out32), np.isnan(out64))
    assert np.isnan(out64[3:, 6]).all() and not np.isnan(np.delete(out64, 6, axis=1)).any()
    fin = ~np.isnan(out64)
    np.testing.assert_allclose(out32[fin], out64[fin], rtol=1e-4, atol=1e-5)
