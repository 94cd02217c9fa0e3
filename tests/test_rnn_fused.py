"""The fused recurrent kernels (`_core.rnn_layer`: one core call per layer and direction, its
backward one more) against the step loop composed from differentiable ops (``fused = False``)
in float64, gradients by finite differences, packed sequences, float32 against a float64
reference, and errors."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import deepseek as ds
from deepseek import _core, nn
from deepseek.autograd import gradcheck
from deepseek.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

KINDS = {
    "LSTM": lambda *a, **k: nn.LSTM(*a, **k),
    "GRU": lambda *a, **k: nn.GRU(*a, **k),
    "RNN_TANH": lambda *a, **k: nn.RNN(*a, nonlinearity="tanh", **k),
    "RNN_RELU": lambda *a, **k: nn.RNN(*a, nonlinearity="relu", **k),
}


@st.composite
def configs(draw):
    kind = draw(st.sampled_from(sorted(KINDS)))
    hidden = draw(st.integers(1, 5))
    return dict(
        kind=kind,
        input_size=draw(st.integers(1, 4)),
        hidden=hidden,
        num_layers=draw(st.integers(1, 2)),
        bias=draw(st.booleans()),
        batch_first=draw(st.booleans()),
        bidirectional=draw(st.booleans()),
        proj=draw(st.integers(0, hidden - 1)) if kind == "LSTM" and hidden > 1 else 0,
        steps=draw(st.integers(1, 5)),
        batch=draw(st.integers(0, 3)),
        given_hx=draw(st.booleans()),
        ragged=draw(st.booleans()),
        seed=draw(st.integers(0, 2**16)),
    )


def _build(c, dtype=ds.float64):
    ds.manual_seed(c["seed"])
    extra = {"proj_size": c["proj"]} if c["proj"] else {}
    return KINDS[c["kind"]](c["input_size"], c["hidden"], num_layers=c["num_layers"], bias=c["bias"],
                            batch_first=c["batch_first"], bidirectional=c["bidirectional"], dtype=dtype, **extra)


def _data(c):
    rng = np.random.default_rng(c["seed"])
    d = 2 if c["bidirectional"] else 1
    t, n = c["steps"], c["batch"]
    x = rng.standard_normal((n, t, c["input_size"]) if c["batch_first"] else (t, n, c["input_size"]))
    hr = c["proj"] or c["hidden"]
    h0 = rng.standard_normal((c["num_layers"] * d, n, hr))
    c0 = rng.standard_normal((c["num_layers"] * d, n, c["hidden"]))
    lengths = sorted(rng.integers(1, t + 1, size=n).tolist(), reverse=True) if c["ragged"] and n else None
    w_out = rng.standard_normal(x.shape[:2] + (d * hr,))
    return x, h0, c0, lengths, w_out


def _run(m, c, fused):
    """Output, final states, and the gradients of x, h0, c0 and every weight of a fixed
    weighted sum of them, through the fused kernel or the composed step loop."""
    m.fused = fused
    m.zero_grad()
    x, h0, c0, lengths, w_out = _data(c)
    xt = ds.tensor(x, requires_grad=True)
    ht, ct = ds.tensor(h0, requires_grad=True), ds.tensor(c0, requires_grad=True)
    is_lstm = c["kind"] == "LSTM"
    hx = ((ht, ct) if is_lstm else ht) if c["given_hx"] else None
    if lengths is not None:
        packed = pack_padded_sequence(xt, lengths, batch_first=c["batch_first"])
        out, fin = m(packed, hx)
        out, _ = pad_packed_sequence(out, batch_first=c["batch_first"], total_length=c["steps"])
    else:
        out, fin = m(xt, hx)
    finals = list(fin) if is_lstm else [fin]
    loss = (out * ds.tensor(w_out)).sum()
    for i, f in enumerate(finals):
        loss = loss + (f * (i + 1.5)).sum()
    if c["batch"]:
        loss.backward()
    grads = {n: (p.grad.numpy().copy() if p.grad is not None else None) for n, p in m.named_parameters()}
    for name, t in (("x", xt), ("h0", ht), ("c0", ct)):
        grads[name] = t.grad.numpy().copy() if t.grad is not None else None
    return out.detach().numpy(), [f.detach().numpy() for f in finals], grads


@settings(max_examples=60)
@given(configs())
def test_fused_equals_composed_step_loop(c):
    m = _build(c)
    out_f, fin_f, g_f = _run(m, c, True)
    out_p, fin_p, g_p = _run(m, c, False)
    np.testing.assert_allclose(out_f, out_p, rtol=1e-12, atol=1e-13)
    for a, b in zip(fin_f, fin_p):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13)
    assert g_f.keys() == g_p.keys()
    for k in g_f:
        if g_p[k] is None:
            assert g_f[k] is None or not g_f[k].any(), k
        else:
            np.testing.assert_allclose(g_f[k], g_p[k], rtol=1e-10, atol=1e-12, err_msg=k)


@pytest.mark.parametrize("kind,proj", [("LSTM", 0), ("LSTM", 2), ("GRU", 0), ("RNN_TANH", 0), ("RNN_RELU", 0)])
@pytest.mark.parametrize("bias", [True, False])
def test_fused_gradcheck_every_input_and_weight(kind, proj, bias):
    ds.manual_seed(3)
    extra = {"proj_size": proj} if proj else {}
    m = KINDS[kind](2, 3, num_layers=2, bidirectional=True, bias=bias, dtype=ds.float64, **extra)
    assert m.fused
    hr = proj or 3
    x = ds.randn(3, 2, 2, dtype=ds.float64, requires_grad=True)
    h0 = ds.randn(4, 2, hr, dtype=ds.float64, requires_grad=True)
    c0 = ds.randn(4, 2, 3, dtype=ds.float64, requires_grad=True)
    if kind == "RNN_RELU":
        # keep pre-activations away from relu's kink, where finite differences straddle it
        with ds.no_grad():
            for p in m.parameters():
                p.mul_(0.5)
    weights = tuple(m.parameters())
    lstm = kind == "LSTM"

    def f(x, h0, c0, *_w):
        out, fin = m(x, (h0, c0) if lstm else h0)
        return (out,) + (tuple(fin) if lstm else (fin,))

    inputs = (x, h0, c0) if lstm else (x, h0)
    fn = f if lstm else (lambda x, h0, *w: f(x, h0, None, *w))
    assert gradcheck(fn, inputs + weights, eps=1e-6, atol=1e-7, rtol=1e-5)


def test_fused_gradcheck_packed_sequence():
    ds.manual_seed(4)
    m = nn.GRU(2, 3, bidirectional=True, dtype=ds.float64)
    x = ds.randn(4, 3, 2, dtype=ds.float64, requires_grad=True)
    h0 = ds.randn(2, 3, 3, dtype=ds.float64, requires_grad=True)

    def f(x, h0, *_w):
        out, h = m(pack_padded_sequence(x, [4, 2, 1]), h0)
        return pad_packed_sequence(out)[0], h

    assert gradcheck(f, (x, h0) + tuple(m.parameters()), eps=1e-6, atol=1e-7, rtol=1e-5)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_float32_fused_matches_float64(kind):
    c = dict(kind=kind, input_size=5, hidden=16, num_layers=2, bias=True, batch_first=False, bidirectional=True,
             proj=0, steps=9, batch=4, given_hx=True, ragged=True, seed=5)
    m64 = _build(c)
    m32 = _build(c, ds.float32)
    m32.load_state_dict({k: v.float() for k, v in m64.state_dict().items()})
    out64, fin64, g64 = _run(m64, c, True)
    x, h0, c0, lengths, w_out = _data(c)
    m32.fused = True
    xt = ds.tensor(x.astype(np.float32), requires_grad=True)
    hx = ds.tensor(h0.astype(np.float32))
    hx = (hx, ds.tensor(c0.astype(np.float32))) if kind == "LSTM" else hx
    out, _ = m32(pack_padded_sequence(xt, lengths), hx)
    out, _ = pad_packed_sequence(out, total_length=c["steps"])
    (out * ds.tensor(w_out.astype(np.float32))).sum().backward()
    np.testing.assert_allclose(out.detach().numpy(), out64, rtol=1e-4, atol=2e-5)
    # the float64 run's loss also weighs the final states; compare the input gradient of the
    # output term alone through a second float64 run
    m64.zero_grad()
    x64 = ds.tensor(x, requires_grad=True)
    hx64 = ds.tensor(h0)
    hx64 = (hx64, ds.tensor(c0)) if kind == "LSTM" else hx64
    o64, _ = m64(pack_padded_sequence(x64, lengths), hx64)
    o64, _ = pad_packed_sequence(o64, total_length=c["steps"])
    (o64 * ds.tensor(w_out)).sum().backward()
    np.testing.assert_allclose(xt.grad.numpy(), x64.grad.numpy(), rtol=1e-3, atol=1e-4)
    for (n, p32), p64 in zip(m32.named_parameters(), m64.parameters()):
        np.testing.assert_allclose(p32.grad.numpy(), p64.grad.numpy(), rtol=1e-3, atol=1e-4, err_msg=n)


def test_zero_length_and_empty_batch_as_pytorch():
    m = nn.LSTM(3, 4)
    with pytest.raises(RuntimeError, match="sequence length to be larger than 0"):
        m(ds.randn(0, 2, 3))
    with pytest.raises(RuntimeError, match="sequence length to be larger than 0"):
        nn.GRU(3, 4)(ds.randn(0, 3))
    # an empty batch runs: [T, 0, H] outputs and [layers, 0, H] states
    out, (h, c) = m(ds.randn(5, 0, 3))
    assert tuple(out.shape) == (5, 0, 4) and tuple(h.shape) == (1, 0, 4) and tuple(c.shape) == (1, 0, 4)
    out, h = nn.GRU(3, 4, bidirectional=True, batch_first=True)(ds.randn(0, 5, 3))
    assert tuple(out.shape) == (0, 5, 8) and tuple(h.shape) == (2, 0, 4)
    with pytest.raises(RuntimeError, match="greater than 0"):
        pack_padded_sequence(ds.randn(3, 2, 3), [3, 0])


def test_double_backward_needs_the_composed_path():
    ds.manual_seed(6)
    m = nn.GRU(2, 3, dtype=ds.float64)
    x = ds.randn(3, 1, 2, dtype=ds.float64, requires_grad=True)
    out, _ = m(x)
    with pytest.raises(RuntimeError, match="double backward"):
        ds.autograd.grad(out.sum(), x, create_graph=True)
    out, _ = m(x)
    (g,) = ds.autograd.grad(out.sum(), x)  # a plain backward is unaffected
    assert g.shape == x.shape
    m.fused = False
    out, _ = m(x)
    (g,) = ds.autograd.grad(out.sum(), x, create_graph=True)
    (gg,) = ds.autograd.grad((g * g).sum(), x)
    assert np.isfinite(gg.numpy()).all()


def test_core_entry_rejects_bad_operands():
    f64 = ds.float64
    xp, h0, c0 = ds.zeros(3, 2, 8, dtype=f64), ds.zeros(2, 2, dtype=f64), ds.zeros(2, 2, dtype=f64)
    w = ds.zeros(8, 2, dtype=f64)
    y, h, c = _core.rnn_layer(xp, h0, c0, w, None, None, None, "LSTM", False)
    assert tuple(y.shape) == (3, 2, 2) and tuple(c.shape) == (2, 2)
    with pytest.raises(RuntimeError, match=r"weight_hh has shape \[8, 3\]"):
        _core.rnn_layer(xp, h0, c0, ds.zeros(8, 3, dtype=f64), None, None, None, "LSTM", False)
    with pytest.raises(RuntimeError, match="c_0"):
        _core.rnn_layer(xp, h0, None, w, None, None, None, "LSTM", False)
    with pytest.raises(RuntimeError, match="float32 or float64"):
        _core.rnn_layer(xp.int(), h0, c0, w, None, None, None, "LSTM", False)
    with pytest.raises(RuntimeError, match="lengths"):
        _core.rnn_layer(xp, h0, c0, w, None, None, ds.tensor([1, 2, 3]), "LSTM", False)
    with pytest.raises(RuntimeError, match="dtype float32"):
        _core.rnn_layer(xp, h0.float(), c0, w, None, None, None, "LSTM", False)
    with pytest.raises(ValueError, match="unknown mode"):
        _core.rnn_layer(xp, h0, c0, w, None, None, None, "lstm", False)


def test_fused_layer_is_one_autograd_node():
    # the output of a one-layer, one-direction module comes straight from the fused node; the
    # composed step loop ends in a stack of per-step outputs
    m = nn.LSTM(3, 4)
    x = ds.randn(7, 2, 3, requires_grad=True)
    assert m(x)[0]._grad_fn_name == "RnnLayerBackward0"
    m.fused = False
    assert m(x)[0]._grad_fn_name != "RnnLayerBackward0"
    with ds.no_grad():
        m.fused = True
        assert m(x)[0]._grad_fn_name is None


@pytest.mark.parametrize("kind,kw", [("LSTM", {"proj_size": 3}), ("LSTM", {}), ("GRU", {"num_layers": 2, "bidirectional": True}),
                                     ("RNN", {})])
def test_unbatched_input_without_states(kind, kw):
    """An unbatched [T, I] input with hx=None: the zero states take the batched form too, so the
    fused layer gets [N, H] states (it once got [H]); equal to the batched call and to the
    composed loop."""
    ds.manual_seed(0)
    m = getattr(nn, kind)(6, 8, **kw).double()
    x = ds.randn(5, 6, dtype=ds.float64)
    out, hx = m(x)
    out_b, _ = m(x.unsqueeze(1))
    np.testing.assert_allclose(out.detach().numpy(), out_b.detach().numpy()[:, 0], rtol=1e-12, atol=1e-12)
    h = hx[0] if kind == "LSTM" else hx
    assert h.ndim == 2
    m.fused = False
    out_c, _ = m(x)
    np.testing.assert_allclose(out.detach().numpy(), out_c.detach().numpy(), rtol=1e-10, atol=1e-12)
