"""Recurrent layers and CTC loss: forward against NumPy float64 references, gradients by
finite differences, PyTorch parameter layout, an LSTM learning a memory task, and CTC
against brute-force enumeration of alignments."""
import itertools
import math
import time

import numpy as np
import pytest

import deepseek as ds
from deepseek import nn, optim
from deepseek.autograd import gradcheck
from deepseek.nn import functional as F


# ---------------------------------------------------------------------------------------
# NumPy reference recurrences (float64), written from the published equations.


def _sig(x):
    return 1.0 / (1.0 + np.exp(-x))


def np_cell(mode, x, state, w_ih, w_hh, b_ih, b_hh, w_hr=None):
    """One step for a batch; ``state`` is (h,) or (h, c)."""
    b_ih = 0.0 if b_ih is None else b_ih
    b_hh = 0.0 if b_hh is None else b_hh
    h = state[0]
    gi = x @ w_ih.T + b_ih
    gh = h @ w_hh.T + b_hh
    if mode == "RNN_TANH":
        return (np.tanh(gi + gh),)
    if mode == "RNN_RELU":
        return (np.maximum(gi + gh, 0.0),)
    if mode == "LSTM":
        H = w_hh.shape[0] // 4
        g = gi + gh
        i, f, gg, o = _sig(g[:, :H]), _sig(g[:, H : 2 * H]), np.tanh(g[:, 2 * H : 3 * H]), _sig(g[:, 3 * H :])
        c = f * state[1] + i * gg
        hn = o * np.tanh(c)
        if w_hr is not None:
            hn = hn @ w_hr.T
        return (hn, c)
    if mode == "GRU":
        H = w_hh.shape[0] // 3
        r = _sig(gi[:, :H] + gh[:, :H])
        z = _sig(gi[:, H : 2 * H] + gh[:, H : 2 * H])
        n = np.tanh(gi[:, 2 * H :] + r * gh[:, 2 * H :])
        return ((1 - z) * n + z * h,)
    raise ValueError(mode)


def np_rnn(mode, params, x, hx, num_layers, bidirectional):
    """x: [L, N, in]; hx: list of [layers*dirs, N, *] arrays. Returns output, finals."""
    D = 2 if bidirectional else 1
    L = x.shape[0]
    inp = x
    finals = [[] for _ in hx]
    for layer in range(num_layers):
        outs = []
        for d in range(D):
            sfx = "_reverse" if d else ""
            p = lambda n: params.get(f"{n}_l{layer}{sfx}")  # noqa: E731
            state = tuple(s[layer * D + d] for s in hx)
            ys = [None] * L
            for t in (range(L - 1, -1, -1) if d else range(L)):
                state = np_cell(mode, inp[t], state, p("weight_ih"), p("weight_hh"), p("bias_ih"), p("bias_hh"), p("weight_hr"))
                ys[t] = state[0]
            for i, s in enumerate(state):
                finals[i].append(s)
            outs.append(np.stack(ys))
        inp = np.concatenate(outs, -1)
    return inp, [np.stack(f) for f in finals]


MODES = {"LSTM": (nn.LSTM, "LSTM", {}), "GRU": (nn.GRU, "GRU", {}), "RNN_TANH": (nn.RNN, "RNN_TANH", {}),
         "RNN_RELU": (nn.RNN, "RNN_RELU", {"nonlinearity": "relu"})}


def _params_np(m):
    return {n: p.detach().numpy().copy() for n, p in m.named_parameters()}


@pytest.mark.parametrize("kind", list(MODES))
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("given_hx", [False, True])
def test_rnn_forward_matches_numpy(kind, bidirectional, batch_first, given_hx):
    cls, mode, extra = MODES[kind]
    ds.manual_seed(3)
    rng = np.random.default_rng(4)
    L, N, I, H, layers = 5, 3, 4, 6, 2
    m = cls(I, H, num_layers=layers, bidirectional=bidirectional, batch_first=batch_first, dtype=ds.float64, **extra)
    D = 2 if bidirectional else 1
    x = rng.standard_normal((L, N, I))
    hx_np = [rng.standard_normal((layers * D, N, H)) for _ in range(2 if mode == "LSTM" else 1)]
    if not given_hx:
        hx_np = [np.zeros_like(h) for h in hx_np]
    x_in = ds.tensor(x.transpose(1, 0, 2) if batch_first else x)
    if given_hx:
        hx = tuple(ds.tensor(h) for h in hx_np) if mode == "LSTM" else ds.tensor(hx_np[0])
        out, fin = m(x_in, hx)
    else:
        out, fin = m(x_in)
    ref_out, ref_fin = np_rnn(mode, _params_np(m), x, hx_np, layers, bidirectional)
    if batch_first:
        ref_out = ref_out.transpose(1, 0, 2)
    assert tuple(out.shape) == ref_out.shape == ((N, L, D * H) if batch_first else (L, N, D * H))
    np.testing.assert_allclose(out.detach().numpy(), ref_out, rtol=1e-10, atol=1e-12)
    fin = fin if mode == "LSTM" else (fin,)
    assert len(fin) == len(ref_fin)
    for a, b in zip(fin, ref_fin):
        assert tuple(a.shape) == (layers * D, N, H)
        np.testing.assert_allclose(a.detach().numpy(), b, rtol=1e-10, atol=1e-12)


def test_lstm_projection_and_no_bias_match_numpy():
    ds.manual_seed(5)
    rng = np.random.default_rng(5)
    m = nn.LSTM(3, 5, num_layers=2, bidirectional=True, proj_size=2, bias=False, dtype=ds.float64)
    names = [n for n, _ in m.named_parameters()]
    assert "bias_ih_l0" not in names and "weight_hr_l1_reverse" in names
    assert tuple(m.weight_hh_l0.shape) == (20, 2) and tuple(m.weight_ih_l1.shape) == (20, 4)
    assert tuple(m.weight_hr_l0.shape) == (2, 5)
    x = rng.standard_normal((4, 2, 3))
    h0, c0 = rng.standard_normal((4, 2, 2)), rng.standard_normal((4, 2, 5))
    out, (h, c) = m(ds.tensor(x), (ds.tensor(h0), ds.tensor(c0)))
    ref_out, (rh, rc) = np_rnn("LSTM", _params_np(m), x, [h0, c0], 2, True)
    assert tuple(out.shape) == (4, 2, 4) and tuple(h.shape) == (4, 2, 2) and tuple(c.shape) == (4, 2, 5)
    np.testing.assert_allclose(out.detach().numpy(), ref_out, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(h.detach().numpy(), rh, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(c.detach().numpy(), rc, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN_TANH"])
def test_unbatched_input_equals_batch_of_one(kind):
    cls, mode, extra = MODES[kind]
    ds.manual_seed(6)
    m = cls(3, 4, num_layers=2, bidirectional=True, dtype=ds.float64, **extra)
    x = ds.randn(5, 3, dtype=ds.float64)
    if mode == "LSTM":
        hx = (ds.randn(4, 4, dtype=ds.float64), ds.randn(4, 4, dtype=ds.float64))
        hb = tuple(h.unsqueeze(1) for h in hx)
    else:
        hx = ds.randn(4, 4, dtype=ds.float64)
        hb = hx.unsqueeze(1)
    out, fin = m(x, hx)
    outb, finb = m(x.unsqueeze(1), hb)
    assert tuple(out.shape) == (5, 8)
    np.testing.assert_allclose(out.detach().numpy(), outb.detach().numpy()[:, 0], rtol=0, atol=1e-14)
    fin, finb = (fin, finb) if mode == "LSTM" else ((fin,), (finb,))
    for a, b in zip(fin, finb):
        assert tuple(a.shape) == (4, 4)
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy()[:, 0], rtol=0, atol=1e-14)


def test_parameter_names_shapes_and_init():
    ds.manual_seed(0)
    m = nn.GRU(7, 10, num_layers=2, bidirectional=True)
    expected = []
    for layer, inp in [(0, 7), (1, 20)]:
        for sfx in ["", "_reverse"]:
            expected += [(f"weight_ih_l{layer}{sfx}", (30, inp)), (f"weight_hh_l{layer}{sfx}", (30, 10)),
                         (f"bias_ih_l{layer}{sfx}", (30,)), (f"bias_hh_l{layer}{sfx}", (30,))]
    assert [(n, tuple(p.shape)) for n, p in m.named_parameters()] == expected
    assert list(m.state_dict().keys()) == [n for n, _ in expected]
    bound = 1 / math.sqrt(10)
    allv = np.concatenate([p.detach().numpy().ravel() for p in m.parameters()])
    assert allv.min() >= -bound and allv.max() <= bound
    assert allv.min() < -0.8 * bound and allv.max() > 0.8 * bound  # actually spans the range
    assert abs(allv.mean()) < 0.02
    assert all(p.requires_grad for p in m.parameters())
    assert [tuple(p.shape) for p in nn.LSTM(3, 4).parameters()] == [(16, 3), (16, 4), (16,), (16,)]
    assert [tuple(p.shape) for p in nn.RNN(3, 4, bias=False).parameters()] == [(4, 3), (4, 4)]
    cell = nn.LSTMCell(3, 4)
    assert [(n, tuple(p.shape)) for n, p in cell.named_parameters()] == [
        ("weight_ih", (16, 3)), ("weight_hh", (16, 4)), ("bias_ih", (16,)), ("bias_hh", (16,))]
    assert [tuple(p.shape) for p in nn.GRUCell(3, 4, bias=False).parameters()] == [(12, 3), (12, 4)]
    assert m(ds.randn(2, 3, 7))[0].dtype == ds.float32
    assert "bidirectional=True" in repr(m)


def test_state_dict_round_trip_between_instances():
    a, b = nn.LSTM(3, 4, num_layers=2), nn.LSTM(3, 4, num_layers=2)
    b.load_state_dict(a.state_dict())
    x = ds.randn(4, 2, 3)
    np.testing.assert_array_equal(a(x)[0].detach().numpy(), b(x)[0].detach().numpy())


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN_TANH", "RNN_RELU"])
def test_cells_match_numpy_and_the_sequence_layer(kind):
    cls, mode, extra = MODES[kind]
    cell_cls = {"LSTM": nn.LSTMCell, "GRU": nn.GRUCell}.get(mode, nn.RNNCell)
    ds.manual_seed(8)
    rng = np.random.default_rng(8)
    cell = cell_cls(3, 5, dtype=ds.float64, **extra)
    x = rng.standard_normal((4, 3))
    hs = [rng.standard_normal((4, 5)) for _ in range(2 if mode == "LSTM" else 1)]
    p = _params_np(cell)
    ref = np_cell(mode, x, hs, p["weight_ih"], p["weight_hh"], p["bias_ih"], p["bias_hh"])
    got = cell(ds.tensor(x), tuple(ds.tensor(h) for h in hs) if mode == "LSTM" else ds.tensor(hs[0]))
    got = got if mode == "LSTM" else (got,)
    for a, b in zip(got, ref):
        np.testing.assert_allclose(a.detach().numpy(), b, rtol=1e-12, atol=1e-13)
    # unbatched, default state
    g1 = cell(ds.tensor(x[0]))
    g1 = g1 if mode == "LSTM" else (g1,)
    zero = [np.zeros((1, 5)) for _ in hs]
    r1 = np_cell(mode, x[:1], zero, p["weight_ih"], p["weight_hh"], p["bias_ih"], p["bias_hh"])
    for a, b in zip(g1, r1):
        assert tuple(a.shape) == (5,)
        np.testing.assert_allclose(a.detach().numpy(), b[0], rtol=1e-12, atol=1e-13)
    # a cell stepped over time == the one-layer sequence module with the same weights
    seq = cls(3, 5, dtype=ds.float64, **extra)
    seq.load_state_dict({f"{k}_l0": v for k, v in cell.state_dict().items()})
    xs = ds.tensor(rng.standard_normal((6, 2, 3)))
    state = None
    outs = []
    for t in range(6):
        state = cell(xs[t], state)
        outs.append(state[0] if mode == "LSTM" else state)
    np.testing.assert_allclose(ds.stack(outs).detach().numpy(), seq(xs)[0].detach().numpy(), rtol=1e-12, atol=1e-13)


def test_dropout_between_layers_only_in_training():
    ds.manual_seed(0)
    m = nn.LSTM(4, 8, num_layers=2, dropout=0.5)
    x = ds.randn(5, 3, 4)
    m.eval()
    e1, e2 = m(x)[0].detach().numpy(), m(x)[0].detach().numpy()
    np.testing.assert_array_equal(e1, e2)
    ref, _ = np_rnn("LSTM", {k: v.astype(np.float64) for k, v in _params_np(m).items()}, x.numpy().astype(np.float64),
                    [np.zeros((2, 3, 8))] * 2, 2, False)
    np.testing.assert_allclose(e1, ref, rtol=1e-4, atol=1e-5)
    m.train()
    t1, t2 = m(x)[0].detach().numpy(), m(x)[0].detach().numpy()
    assert not np.allclose(t1, e1) and not np.allclose(t1, t2)
    # no dropout after the last layer: a single-layer LSTM is deterministic in training
    one = nn.LSTM(4, 8, num_layers=1, dropout=0.5)
    one.train()
    np.testing.assert_array_equal(one(x)[0].detach().numpy(), one(x)[0].detach().numpy())


def test_errors():
    m = nn.LSTM(3, 4)
    with pytest.raises(RuntimeError, match="input_size"):
        m(ds.randn(2, 1, 5))
    with pytest.raises(RuntimeError, match="hidden"):
        m(ds.randn(2, 1, 3), (ds.zeros(1, 2, 4), ds.zeros(1, 2, 4)))
    with pytest.raises(ValueError):
        m(ds.randn(3))
    with pytest.raises(ValueError):
        nn.RNN(3, 4, nonlinearity="gelu")
    with pytest.raises(ValueError):
        nn.GRU(3, 4, proj_size=2)
    with pytest.raises(ValueError):
        nn.LSTM(3, 4, proj_size=4)
    with pytest.raises(ValueError):
        nn.LSTM(3, 4, dropout=1.5)


# ---------------------------------------------------------------------------------------
# gradients


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN_TANH"])
def test_rnn_gradcheck(kind):
    cls, mode, extra = MODES[kind]
    ds.manual_seed(11)
    m = cls(2, 2, num_layers=2, bidirectional=True, batch_first=True, dtype=ds.float64, **extra)
    x = ds.randn(2, 3, 2, dtype=ds.float64, requires_grad=True)
    h0 = ds.randn(4, 2, 2, dtype=ds.float64, requires_grad=True)
    c0 = ds.randn(4, 2, 2, dtype=ds.float64, requires_grad=True)
    w_ih0, w_hh1r, b_hh0 = m.weight_ih_l0, m.weight_hh_l1_reverse, m.bias_hh_l0

    def f(x, h0, c0, *_weights):
        out, fin = m(x, (h0, c0) if mode == "LSTM" else h0)
        return (out,) + (fin if mode == "LSTM" else (fin,))

    inputs = (x, h0, c0) if mode == "LSTM" else (x, h0)
    if mode != "LSTM":
        f2 = f
        f = lambda x, h0, *w: f2(x, h0, None)  # noqa: E731
    assert gradcheck(f, inputs + (w_ih0, w_hh1r, b_hh0), eps=1e-6, atol=1e-7, rtol=1e-5)


def test_cell_gradcheck():
    ds.manual_seed(12)
    cell = nn.GRUCell(2, 3, dtype=ds.float64)
    x = ds.randn(2, 2, dtype=ds.float64, requires_grad=True)
    h = ds.randn(2, 3, dtype=ds.float64, requires_grad=True)
    assert gradcheck(lambda x, h, _w: cell(x, h), (x, h, cell.bias_hh), eps=1e-6, atol=1e-7, rtol=1e-5)
    lc = nn.LSTMCell(2, 2, dtype=ds.float64)
    c = ds.randn(2, 2, dtype=ds.float64, requires_grad=True)
    h2 = ds.randn(2, 2, dtype=ds.float64, requires_grad=True)
    assert gradcheck(lambda x, h, c, _w: lc(x, (h, c)), (x, h2, c, lc.weight_hh), eps=1e-6, atol=1e-7, rtol=1e-5)


# ---------------------------------------------------------------------------------------
# learning


def test_lstm_learns_to_remember_the_first_element():
    """At the last of 8 steps, output the sign of the *first* input (the rest is noise):
    needs memory across the whole sequence; chance is 50%."""
    ds.manual_seed(0)
    rng = np.random.default_rng(0)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(1, 16, batch_first=True)
            self.head = nn.Linear(16, 1)

        def forward(self, x):
            out, (h, _) = self.lstm(x)
            return self.head(out[:, -1]), h

    def batch(n):
        x = rng.choice([-1.0, 1.0], size=(n, 8, 1)).astype(np.float32)
        return ds.tensor(x), ds.tensor((x[:, 0, 0] > 0).astype(np.float32)).unsqueeze(1)

    net = Net()
    opt = optim.Adam(net.parameters(), lr=0.03)
    start = time.perf_counter()
    for _ in range(150):
        x, y = batch(32)
        logits, _ = net(x)
        loss = F.binary_cross_entropy_with_logits(logits, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    x, y = batch(512)
    with ds.no_grad():
        logits, h = net(x)
    acc = float(((logits.numpy() > 0) == (y.numpy() > 0.5)).mean())
    assert acc >= 0.97, f"accuracy {acc:.3f}"
    np.testing.assert_allclose(h[0].numpy(), net.lstm(x)[0][:, -1].detach().numpy(), rtol=1e-6)  # h_n is the last output
    assert time.perf_counter() - start < 30


# ---------------------------------------------------------------------------------------
# CTC


def _collapse(path, blank):
    out, prev = [], None
    for p in path:
        if p != prev and p != blank:
            out.append(p)
        prev = p
    return out


def np_ctc_brute(lp, target, blank):
    """-log sum over every length-T path that collapses to ``target`` (lp: [T, C])."""
    T, C = lp.shape
    total = -np.inf
    for path in itertools.product(range(C), repeat=T):
        if _collapse(path, blank) == list(target):
            total = np.logaddexp(total, sum(lp[t, c] for t, c in enumerate(path)))
    return -total


def _log_softmax(a):
    return a - np.log(np.exp(a - a.max(-1, keepdims=True)).sum(-1, keepdims=True)) - a.max(-1, keepdims=True)


# (targets per batch entry, input lengths) for T=5, C=4
CTC_CASES = [
    ([[1, 2], [1, 1], [3], [2, 2, 2]], [5, 5, 4, 5], 0),  # repeats need a blank between them; [2,2,2] needs 5 steps
    ([[0, 1], [3, 3], [], [1]], [5, 3, 2, 1], 2),  # blank=2; empty target; short inputs; [3,3] feasible in exactly 3
    ([[1, 1, 1], [1, 2, 3], [3, 1], [2]], [4, 2, 5, 0], 0),  # infeasible ones (inf) and a zero input length
]


@pytest.mark.parametrize("case", range(len(CTC_CASES)))
@pytest.mark.parametrize("target_format", ["padded", "concatenated"])
def test_ctc_loss_matches_brute_force(case, target_format):
    tgts, in_lens, blank = CTC_CASES[case]
    rng = np.random.default_rng(case)
    T, N, C = 5, len(tgts), 4
    lp_np = _log_softmax(rng.standard_normal((T, N, C)) * 2)
    ref = np.array([np_ctc_brute(lp_np[: in_lens[n], n], tgts[n], blank) if in_lens[n] else (0.0 if not tgts[n] else np.inf)
                    for n in range(N)])
    tl = [len(t) for t in tgts]
    if target_format == "padded":
        S = max(tl) + 1  # extra padding column must be ignored
        padded = np.full((N, S), -1 if blank else 1, dtype=np.int64)  # junk padding
        for n, t in enumerate(tgts):
            padded[n, : len(t)] = t
        targets = ds.tensor(padded)
    else:
        targets = ds.tensor([c for t in tgts for c in t], dtype=ds.int64)
    lp = ds.tensor(lp_np)
    got = F.ctc_loss(lp, targets, ds.tensor(in_lens), ds.tensor(tl), blank=blank, reduction="none").numpy()
    assert got.shape == (N,)
    np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-10)
    fin = np.isfinite(ref)
    for zero_inf in (False, True):
        r = np.where(fin, ref, 0.0 if zero_inf else np.inf)
        kw = dict(blank=blank, zero_infinity=zero_inf)
        np.testing.assert_allclose(F.ctc_loss(lp, targets, in_lens, tl, reduction="none", **kw).numpy(), r, rtol=1e-10)
        np.testing.assert_allclose(F.ctc_loss(lp, targets, in_lens, tl, reduction="sum", **kw).numpy(), r.sum(), rtol=1e-10)
        mean_ref = (r / np.maximum(tl, 1)).mean()
        np.testing.assert_allclose(F.ctc_loss(lp, targets, in_lens, tl, reduction="mean", **kw).numpy(), mean_ref, rtol=1e-10)
        np.testing.assert_allclose(nn.CTCLoss(blank=blank, reduction="mean", zero_infinity=zero_inf)(lp, targets, in_lens, tl).numpy(),
                                   mean_ref, rtol=1e-10)


def test_ctc_loss_float32_unbatched_and_padding_ignored():
    rng = np.random.default_rng(7)
    lp_np = _log_softmax(rng.standard_normal((6, 2, 3)))
    ref0 = np_ctc_brute(lp_np[:6, 0], [1, 2, 1], 0)
    ref1 = np_ctc_brute(lp_np[:4, 1], [2], 0)
    lp = ds.tensor(lp_np.astype(np.float32))
    got = F.ctc_loss(lp, ds.tensor([[1, 2, 1], [2, 0, 0]]), [6, 4], [3, 1], reduction="none")
    assert got.dtype == ds.float32
    np.testing.assert_allclose(got.numpy(), [ref0, ref1], rtol=1e-5)
    # frames past input_length do not matter, even if they hold junk
    junk = lp_np.copy()
    junk[4:, 1] = 123.0
    got2 = F.ctc_loss(ds.tensor(junk), ds.tensor([[1, 2, 1], [2, 0, 0]]), [6, 4], [3, 1], reduction="none")
    np.testing.assert_allclose(got2.numpy()[1], ref1, rtol=1e-12)
    # unbatched: log_probs [T, C], targets [S], scalar lengths
    u = F.ctc_loss(ds.tensor(lp_np[:, 0]), ds.tensor([1, 2, 1]), 6, 3, reduction="none")
    assert u.ndim == 0
    np.testing.assert_allclose(u.numpy(), ref0, rtol=1e-12)


def test_ctc_loss_gradcheck():
    rng = np.random.default_rng(9)
    # unnormalised scores: the gradient is the exact derivative w.r.t. log_probs
    lp = ds.tensor(rng.standard_normal((5, 3, 4)), requires_grad=True)
    targets = ds.tensor([[1, 1], [2, 3], [3, 0]])

    for red in ("none", "mean", "sum"):
        assert gradcheck(lambda lp: F.ctc_loss(lp, targets, [5, 4, 2], [2, 2, 1], reduction=red), (lp,),
                         eps=1e-6, atol=1e-7, rtol=1e-5)
    # zero_infinity: the infeasible entry ([1, 1] in 2 steps) contributes neither loss nor gradient
    f = lambda lp: F.ctc_loss(lp, targets, [2, 4, 2], [2, 2, 1], reduction="sum", zero_infinity=True)  # noqa: E731
    assert gradcheck(f, (lp,), eps=1e-6, atol=1e-7, rtol=1e-5)
    loss = f(lp)
    (g,) = ds.autograd.grad([loss], [lp])
    g = g.numpy()
    assert np.isfinite(g).all() and np.all(g[:, 0] == 0) and np.all(g[2:, 2] == 0)
    assert np.abs(g[:, 1]).sum() > 0


def test_ctc_gradient_through_log_softmax_is_softmax_minus_posterior():
    """Through log_softmax the gradient w.r.t. the logits is ``softmax - posterior
    occupancy``; the occupancies at each frame sum to 1, so each frame's gradient sums to 0."""
    rng = np.random.default_rng(10)
    logits = ds.tensor(rng.standard_normal((6, 2, 5)), requires_grad=True)
    loss = F.ctc_loss(F.log_softmax(logits, -1), ds.tensor([[1, 2, 2], [4, 0, 0]]), [6, 5], [3, 1], reduction="sum")
    loss.backward()
    g = logits.grad.numpy()
    np.testing.assert_allclose(g.sum(-1)[:, 0], 0, atol=1e-12)
    np.testing.assert_allclose(g.sum(-1)[:5, 1], 0, atol=1e-12)
    np.testing.assert_array_equal(g[5:, 1], 0)  # past input_length
    post = np.exp(_log_softmax(logits.detach().numpy())) - g  # posterior occupancy, in [0, 1]
    assert post[:, 0].min() > -1e-12 and post[:, 0].max() < 1 + 1e-12
    np.testing.assert_allclose(post[:, 0, 3], 0, atol=1e-12)  # label 3 is not in the target


def test_ctc_loss_trains_a_tiny_model():
    """Optimising free per-frame logits under CTC makes the greedy decode equal the target."""
    ds.manual_seed(0)
    logits = ds.randn(8, 1, 4, requires_grad=True)
    opt = optim.Adam([logits], lr=0.2)
    target = [1, 1, 3]
    crit = nn.CTCLoss()
    for _ in range(60):
        loss = crit(F.log_softmax(logits, -1), ds.tensor([target]), [8], [3])
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss.item()) < 0.1
    best = logits.detach().numpy()[:, 0].argmax(-1).tolist()
    assert _collapse(best, 0) == target


def test_ctc_loss_errors():
    lp = ds.randn(4, 2, 3).log_softmax(-1)
    with pytest.raises(RuntimeError, match="input_lengths"):
        F.ctc_loss(lp, ds.tensor([[1], [2]]), [5, 4], [1, 1])
    with pytest.raises(RuntimeError):
        F.ctc_loss(lp, ds.tensor([[1], [7]]), [4, 4], [1, 1])
    with pytest.raises(ValueError):
        F.ctc_loss(lp, ds.tensor([[1], [2]]), [4, 4], [1, 1], reduction="avg")
    with pytest.raises(RuntimeError, match="blank"):
        F.ctc_loss(lp, ds.tensor([[1], [2]]), [4, 4], [1, 1], blank=3)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_packed_batch_equals_each_sequence_alone_with_gradients(kind):
    # a packed batch steps together with each row's state held past its length: outputs, final
    # states and the gradients of inputs, initial states and weights equal running each row alone
    from deepseek.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    rng = np.random.default_rng(7)
    ds.manual_seed(0)
    rnn = getattr(nn, kind)(3, 4, num_layers=2, bidirectional=True).double()
    lengths = [3, 6, 1, 4]
    x = rng.standard_normal((6, 4, 3))
    h0 = rng.standard_normal((4, 4, 4))
    c0 = rng.standard_normal((4, 4, 4))
    w_out = rng.standard_normal((6, 4, 8))
    w_h = rng.standard_normal((4, 4, 4))

    def run_packed():
        xt, ht = ds.tensor(x, requires_grad=True), ds.tensor(h0, requires_grad=True)
        hx = (ht, ds.tensor(c0)) if kind == "LSTM" else ht
        out, h = rnn(pack_padded_sequence(xt, lengths, enforce_sorted=False), hx)
        out, _ = pad_packed_sequence(out, total_length=6)
        h = h[0] if kind == "LSTM" else h
        loss = (out * ds.tensor(w_out)).sum() + (h * ds.tensor(w_h)).sum()
        return out, h, loss, xt, ht

    def run_alone(i):
        n = lengths[i]
        xt, ht = ds.tensor(x[:n, i:i + 1], requires_grad=True), ds.tensor(h0[:, i:i + 1], requires_grad=True)
        hx = (ht, ds.tensor(c0[:, i:i + 1])) if kind == "LSTM" else ht
        out, h = rnn(xt, hx)
        h = h[0] if kind == "LSTM" else h
        loss = (out * ds.tensor(w_out[:n, i:i + 1])).sum() + (h * ds.tensor(w_h[:, i:i + 1])).sum()
        return out, h, loss, xt, ht

    rnn.zero_grad()
    out, h, loss, xt, ht = run_packed()
    loss.backward()
    weight_grads = {k: p.grad.numpy().copy() for k, p in rnn.named_parameters()}
    summed = {k: np.zeros_like(v) for k, v in weight_grads.items()}
    for i, n in enumerate(lengths):
        rnn.zero_grad()
        o_i, h_i, loss_i, x_i, h0_i = run_alone(i)
        loss_i.backward()
        np.testing.assert_allclose(out.detach().numpy()[:n, i], o_i.detach().numpy()[:, 0], rtol=1e-10, atol=1e-12)
        np.testing.assert_array_equal(out.detach().numpy()[n:, i], 0.0)
        np.testing.assert_allclose(h.detach().numpy()[:, i], h_i.detach().numpy()[:, 0], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(xt.grad.numpy()[:n, i], x_i.grad.numpy()[:, 0], rtol=1e-9, atol=1e-12)
        np.testing.assert_array_equal(xt.grad.numpy()[n:, i], 0.0)  # padding never reaches a state
        np.testing.assert_allclose(ht.grad.numpy()[:, i], h0_i.grad.numpy()[:, 0], rtol=1e-9, atol=1e-12)
        for k, p in rnn.named_parameters():
            summed[k] += p.grad.numpy()
    for k in weight_grads:
        np.testing.assert_allclose(weight_grads[k], summed[k], rtol=1e-9, atol=1e-12, err_msg=k)
