"""Optimizers, lr schedulers, nn.utils and activation checkpointing added for issue 16, against
NumPy re-implementations of PyTorch's documented update rules and closed forms."""
from __future__ import annotations

import math

import numpy as np
import pytest

import deepseek as ds
import deepseek.nn as nn
from deepseek.optim import lr_scheduler as L
from test_api_ops import T, arr, close

# ---------------- optimizers: a quadratic loss, its gradient known in closed form ----------------

A = np.array([[3.0, 0.5, 0.0], [0.5, 2.0, 0.3], [0.0, 0.3, 1.0]])


def grad_of(x):
    return A @ x - np.array([1.0, -1.0, 0.5])


def run(opt_cls, steps=6, **kw):
    x0 = np.array([1.0, -2.0, 0.5])
    p = nn.Parameter(T(x0))
    opt = opt_cls([p], **kw)
    for _ in range(steps):
        opt.zero_grad()
        p.grad = T(grad_of(p.detach().numpy()))
        opt.step()
    return p.detach().numpy(), x0


def np_adamax(x, steps, lr=2e-3, b1=0.9, b2=0.999, eps=1e-8, wd=0.0):
    m, u = np.zeros_like(x), np.zeros_like(x)
    for t in range(1, steps + 1):
        g = grad_of(x) + wd * x
        m = b1 * m + (1 - b1) * g
        u = np.maximum(b2 * u, np.abs(g) + eps)
        x = x - lr / (1 - b1 ** t) * m / u
    return x


def np_nadam(x, steps, lr=2e-3, b1=0.9, b2=0.999, eps=1e-8, wd=0.0, md=4e-3, decoupled=False):
    m, v, mu_prod = np.zeros_like(x), np.zeros_like(x), 1.0
    for t in range(1, steps + 1):
        g = grad_of(x)
        if wd:
            if decoupled:
                x = x * (1 - lr * wd)
            else:
                g = g + wd * x
        mu = b1 * (1 - 0.5 * 0.96 ** (t * md))
        mu_next = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * md))
        mu_prod *= mu
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        denom = np.sqrt(v / (1 - b2 ** t)) + eps
        x = x - lr * (1 - mu) / (1 - mu_prod) * g / denom - lr * mu_next / (1 - mu_prod * mu_next) * m / denom
    return x


def np_radam(x, steps, lr=1e-3, b1=0.9, b2=0.999, eps=1e-8):
    m, v = np.zeros_like(x), np.zeros_like(x)
    rho_inf = 2 / (1 - b2) - 1
    for t in range(1, steps + 1):
        g = grad_of(x)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        mh = m / (1 - b1 ** t)
        rho = rho_inf - 2 * t * b2 ** t / (1 - b2 ** t)
        if rho > 5:
            r = math.sqrt((rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho))
            x = x - lr * mh * r * math.sqrt(1 - b2 ** t) / (np.sqrt(v) + eps)
        else:
            x = x - lr * mh
    return x


def np_adadelta(x, steps, lr=1.0, rho=0.9, eps=1e-6):
    sa, ad = np.zeros_like(x), np.zeros_like(x)
    for _ in range(steps):
        g = grad_of(x)
        sa = rho * sa + (1 - rho) * g * g
        d = np.sqrt(ad + eps) / np.sqrt(sa + eps) * g
        ad = rho * ad + (1 - rho) * d * d
        x = x - lr * d
    return x


def np_rprop(x, steps, lr=1e-2, etas=(0.5, 1.2), sizes=(1e-6, 50)):
    prev, step = np.zeros_like(x), np.full_like(x, lr)
    for _ in range(steps):
        g = grad_of(x)
        s = np.sign(g * prev)
        step = np.clip(step * np.where(s > 0, etas[1], np.where(s < 0, etas[0], 1.0)), *sizes)
        g = np.where(s < 0, 0.0, g)
        x = x - np.sign(g) * step
        prev = g
    return x


def np_asgd(x, steps, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6):
    eta, mu, ax = lr, 1.0, np.zeros_like(x)
    for t in range(1, steps + 1):
        g = grad_of(x)
        x = x * (1 - lambd * eta) - eta * g
        ax = ax + (x - ax) * mu if mu != 1 else x.copy()
        eta = lr / (1 + lambd * lr * t) ** alpha
        mu = 1 / max(1, t - t0)
    return x


@pytest.mark.parametrize("cls,ref,kw", [
    (ds.optim.Adamax, np_adamax, {}),
    (ds.optim.Adamax, lambda x, s: np_adamax(x, s, lr=0.1, wd=0.1), dict(lr=0.1, weight_decay=0.1)),
    (ds.optim.NAdam, np_nadam, {}),
    (ds.optim.NAdam, lambda x, s: np_nadam(x, s, lr=0.05, wd=0.2, decoupled=True),
     dict(lr=0.05, weight_decay=0.2, decoupled_weight_decay=True)),
    (ds.optim.RAdam, np_radam, {}),
    (ds.optim.Adadelta, np_adadelta, {}),
    (ds.optim.Rprop, np_rprop, {}),
    (ds.optim.ASGD, np_asgd, {}),
], ids=["adamax", "adamax-wd", "nadam", "nadam-decoupled", "radam", "adadelta", "rprop", "asgd"])
def test_optimizer_matches_reference(cls, ref, kw):
    steps = 8 if cls is not ds.optim.RAdam else 9  # RAdam switches to the rectified rule at step 6
    got, x0 = run(cls, steps, **kw)
    close(got, ref(x0.copy(), steps), rtol=1e-10, atol=1e-12)


def np_lbfgs(x, max_iter, lr=1.0, hist=100, tol_grad=1e-7, tol_change=1e-9):
    """PyTorch's LBFGS step (no line search) on the quadratic, in NumPy."""
    b = np.array([1.0, -1.0, 0.5])
    f = lambda x: 0.5 * x @ A @ x - b @ x  # noqa: E731
    loss, g = f(x), grad_of(x)
    dirs, stps, ro, H = [], [], [], 1.0
    d = t = prev_g = None
    for n in range(1, max_iter + 1):
        if n == 1:
            d = -g
        else:
            y, s = g - prev_g, d * t
            ys = y @ s
            if ys > 1e-10:
                if len(dirs) == hist:
                    dirs.pop(0), stps.pop(0), ro.pop(0)
                dirs.append(y), stps.append(s), ro.append(1 / ys)
                H = ys / (y @ y)
            q, al = -g, [0.0] * len(dirs)
            for i in reversed(range(len(dirs))):
                al[i] = stps[i] @ q * ro[i]
                q = q - al[i] * dirs[i]
            d = q * H
            for i in range(len(dirs)):
                d = d + stps[i] * (al[i] - dirs[i] @ d * ro[i])
        prev_g, prev_loss = g, loss
        t = min(1.0, 1.0 / np.abs(g).sum()) * lr if n == 1 else lr
        if g @ d > -tol_change:
            break
        x = x + t * d
        if n != max_iter:
            loss, g = f(x), grad_of(x)
        if n == max_iter or np.abs(g).max() <= tol_grad or np.abs(d * t).max() <= tol_change \
                or abs(loss - prev_loss) < tol_change:
            break
    return x


@pytest.mark.parametrize("max_iter,hist", [(3, 100), (7, 2), (40, 5)])
def test_lbfgs_matches_reference_iterates(max_iter, hist):
    x = nn.Parameter(T([1.0, -2.0, 0.5]))
    opt = ds.optim.LBFGS([x], lr=1, max_iter=max_iter, history_size=hist, max_eval=1000)
    At, b = T(A), T([1.0, -1.0, 0.5])

    def closure():
        opt.zero_grad()
        loss = 0.5 * (x @ (At @ x)) - b @ x
        loss.backward()
        return loss

    first = opt.step(closure)
    close(first, 0.5 * np.array([1.0, -2.0, 0.5]) @ A @ np.array([1.0, -2.0, 0.5]) - np.array([1.0, -1.0, 0.5]) @
          np.array([1.0, -2.0, 0.5]))
    close(x, np_lbfgs(np.array([1.0, -2.0, 0.5]), max_iter, hist=hist), rtol=1e-9, atol=1e-12)
    if max_iter == 40:  # converged to the minimiser
        close(x, np.linalg.solve(A, [1.0, -1.0, 0.5]), rtol=1e-4, atol=1e-6)


def test_optimizer_errors():
    x = nn.Parameter(T([1.0]))
    with pytest.raises(RuntimeError, match="closure"):
        ds.optim.LBFGS([x]).step(None)
    with pytest.raises(ValueError, match="Invalid learning rate"):
        ds.optim.Adamax([x], lr=-1)
    with pytest.raises(ValueError, match="Invalid beta"):
        ds.optim.NAdam([x], betas=(1.0, 0.9))


# ---------------- lr schedulers ----------------

def lrs(sched_fn, n=12, lr=1.0, **okw):
    p = nn.Parameter(ds.zeros(1))
    opt = ds.optim.SGD([p], lr=lr, **okw)
    s = sched_fn(opt)
    out = [opt.param_groups[0]["lr"]]
    for _ in range(n):
        opt.step()
        s.step()
        out.append(opt.param_groups[0]["lr"])
    return out, opt, s


def test_closed_form_schedulers():
    got, _, _ = lrs(lambda o: L.ConstantLR(o, factor=0.25, total_iters=3))
    close(got, [0.25] * 3 + [1.0] * 10)
    got, _, _ = lrs(lambda o: L.PolynomialLR(o, total_iters=6, power=2.0))
    close(got, [(1 - min(t, 6) / 6) ** 2 for t in range(13)])
    got, _, _ = lrs(lambda o: L.MultiplicativeLR(o, lambda e: 0.9 if e % 2 else 0.5))
    want = [1.0]
    for e in range(1, 13):
        want.append(want[-1] * (0.9 if e % 2 else 0.5))
    close(got, want)
    got, _, _ = lrs(lambda o: L.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2, eta_min=0.1), n=14)
    want, T_i, T_cur = [], 3, 0
    for _ in range(15):
        want.append(0.1 + 0.9 * (1 + math.cos(math.pi * T_cur / T_i)) / 2)
        T_cur += 1
        if T_cur >= T_i:
            T_cur, T_i = T_cur - T_i, T_i * 2
    close(got, want)
    with pytest.raises(ValueError, match="Expected positive integer T_0"):
        lrs(lambda o: L.CosineAnnealingWarmRestarts(o, T_0=0))
    with pytest.raises(ValueError, match="between 0 and 1"):
        lrs(lambda o: L.ConstantLR(o, factor=2))


def test_warm_restarts_fractional_epochs():
    p = nn.Parameter(ds.zeros(1))
    opt = ds.optim.SGD([p], lr=1.0)
    s = L.CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=2)
    for epoch, (T_cur, T_i) in [(0.5, (0.5, 2)), (2.5, (0.5, 4)), (7.0, (1.0, 8))]:
        s.step(epoch)
        close(opt.param_groups[0]["lr"], (1 + math.cos(math.pi * T_cur / T_i)) / 2)


@pytest.mark.parametrize("mode", ["triangular", "triangular2", "exp_range"])
def test_cyclic_lr(mode):
    got, opt, _ = lrs(lambda o: L.CyclicLR(o, 0.1, 1.0, step_size_up=3, step_size_down=2, mode=mode, gamma=0.9), n=20,
                      momentum=0.9)
    want = []
    for t in range(21):
        cycle = math.floor(1 + t / 5)
        x = 1 + t / 5 - cycle
        scale = x / 0.6 if x <= 0.6 else (x - 1) / (0.6 - 1)
        f = {"triangular": 1.0, "triangular2": 1 / 2 ** (cycle - 1), "exp_range": 0.9 ** t}[mode]
        want.append(0.1 + 0.9 * scale * f)
    close(got, want)
    with pytest.raises(ValueError, match="momentum"):
        L.CyclicLR(ds.optim.Adagrad([nn.Parameter(ds.zeros(1))]), 0.1, 1.0)


def test_chained_scheduler_composes_factors():
    got, _, _ = lrs(lambda o: L.ChainedScheduler([L.ConstantLR(o, 0.1, 2), L.ExponentialLR(o, 0.9)]), n=5)
    close(got, [0.1, 0.09, 0.81, 0.729, 0.6561, 0.59049])


def test_every_lr_scheduler_name_exists():
    import pathlib

    ref = pathlib.Path(__file__).parent / "data" / "api_names" / "lr_scheduler.txt"
    names = [ln.strip() for ln in ref.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    assert [n for n in names if not hasattr(L, n)] == []


# ---------------- nn.utils ----------------

def test_clip_grad_and_vector_conversion():
    ps = [nn.Parameter(T(arr(0, (3, 2)))), nn.Parameter(T(arr(1, (4,))))]
    gs = [arr(2, (3, 2)) * 10, arr(3, (4,)) * 10]
    for p, g in zip(ps, gs):
        p.grad = T(g)
    total = math.sqrt(sum((g ** 2).sum() for g in gs))
    got = nn.utils.clip_grad_norm_(ps, 1.0)
    close(got, total)
    close(ps[0].grad, gs[0] * 1.0 / (total + 1e-6))
    for p, g in zip(ps, gs):
        p.grad = T(g)
    close(nn.utils.clip_grad_norm_(ps, 100.0, norm_type=math.inf), max(np.abs(g).max() for g in gs))
    nn.utils.clip_grad_value_(ps, 0.5)
    close(ps[1].grad, np.clip(gs[1], -0.5, 0.5))
    v = nn.utils.parameters_to_vector(ps)
    close(v, np.concatenate([p.detach().numpy().reshape(-1) for p in ps]))
    nn.utils.vector_to_parameters(v * 2, ps)
    close(ps[1], arr(1, (4,)) * 2)
    for p in ps:
        p.grad = T(np.full(p.shape, np.inf))
    with pytest.raises(RuntimeError, match="non-finite"):
        nn.utils.clip_grad_norm_(ps, 1.0, error_if_nonfinite=True)


def test_packed_sequences_round_trip_and_rnn():
    from deepseek.nn.utils.rnn import pack_padded_sequence, pack_sequence, pad_packed_sequence, pad_sequence

    seqs = [T(arr(i, (n, 3))) for i, n in enumerate([2, 5, 3])]
    padded = pad_sequence(seqs, batch_first=True, padding_value=-1.0)
    assert padded.shape == (3, 5, 3) and float(padded[0, 3, 0]) == -1.0
    packed = pack_padded_sequence(padded, [2, 5, 3], batch_first=True, enforce_sorted=False)
    assert packed.batch_sizes.tolist() == [3, 3, 2, 1, 1]
    back, lengths = pad_packed_sequence(packed, batch_first=True, padding_value=-1.0)
    close(back, padded.numpy())
    assert lengths.tolist() == [2, 5, 3]
    with pytest.raises(RuntimeError, match="sorted in decreasing order"):
        pack_padded_sequence(padded, [2, 5, 3], batch_first=True)
    ds.manual_seed(0)
    for rnn in (nn.LSTM(3, 4, num_layers=2, bidirectional=True).double(), nn.GRU(3, 4).double()):
        out, h = rnn(pack_sequence(seqs, enforce_sorted=False))
        un, ln = pad_packed_sequence(out, batch_first=True)
        for i, s in enumerate(seqs):
            o_i, h_i = rnn(s.unsqueeze(1))
            close(un[i, :s.shape[0]], o_i[:, 0].detach().numpy())
            hh, hh_i = (h[0], h_i[0]) if isinstance(h, tuple) else (h, h_i)
            close(hh[:, i], hh_i[:, 0].detach().numpy())


def test_parametrizations():
    ds.manual_seed(0)
    m = nn.Linear(4, 3).double()
    w0 = m.weight.detach().numpy().copy()
    nn.utils.parametrizations.weight_norm(m)
    g = m.parametrizations.weight.original0
    close(g, np.linalg.norm(w0, axis=1, keepdims=True))
    close(m.weight, w0)
    x = T(arr(1, (2, 4)))
    m(x).sum().backward()
    assert g.grad is not None and m.parametrizations.weight.original1.grad is not None
    nn.utils.parametrize.remove_parametrizations(m, "weight")
    assert type(m) is nn.Linear and "weight" in dict(m.named_parameters())
    s = nn.utils.parametrizations.spectral_norm(nn.Linear(6, 5).double())
    for _ in range(20):
        s(T(arr(2, (1, 6))))
    close(np.linalg.svd(s.weight.detach().numpy())[1][0], 1.0, rtol=1e-6)

    class Symmetric(nn.Module):
        def forward(self, X):
            return X.triu() + X.triu(1).transpose(0, 1)

    lin = nn.Linear(3, 3).double()
    nn.utils.parametrize.register_parametrization(lin, "weight", Symmetric())
    w = lin.weight.detach().numpy()
    close(w, w.T)
    assert nn.utils.parametrize.is_parametrized(lin, "weight")
    with pytest.raises(ValueError, match="may not change the shape"):
        class Drop(nn.Module):
            def forward(self, X):
                return X[:1]
        nn.utils.parametrize.register_parametrization(nn.Linear(3, 3), "weight", Drop())


def test_checkpoint_matches_plain_backward():
    from deepseek.utils.checkpoint import checkpoint, checkpoint_sequential

    ds.manual_seed(0)
    blk = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Tanh(), nn.Linear(8, 2)).double()
    x = T(arr(0, (3, 4))).requires_grad_()
    ds.manual_seed(1)
    blk(x).pow(2).sum().backward()
    ref = [p.grad.numpy().copy() for p in blk.parameters()] + [x.grad.numpy().copy()]
    blk.zero_grad()
    x.grad = None
    ds.manual_seed(1)
    checkpoint(blk, x, use_reentrant=False).pow(2).sum().backward()
    for r, t in zip(ref, [p.grad for p in blk.parameters()] + [x.grad]):
        close(t, r)
    blk.zero_grad()
    x.grad = None
    ds.manual_seed(1)
    checkpoint_sequential(blk, 2, x).pow(2).sum().backward()
    for r, t in zip(ref, [p.grad for p in blk.parameters()] + [x.grad]):
        close(t, r)


def test_sparse_adam_updates_only_looked_up_rows():
    ds.manual_seed(0)
    emb = nn.Embedding(6, 3).double()
    w0 = emb.weight.detach().numpy().copy()
    opt = ds.optim.SparseAdam(emb.parameters(), lr=0.1)
    m, v = np.zeros_like(w0), np.zeros_like(w0)
    w = w0.copy()
    for step, ids in enumerate([[1, 3], [3, 4], [1, 1, 5]], start=1):
        opt.zero_grad()
        out = emb(ds.tensor(ids))
        (out * T(arr(step, out.shape))).sum().backward()
        g = emb.weight.grad.numpy()
        rows = np.unique(ids)
        m[rows] = 0.9 * m[rows] + 0.1 * g[rows]
        v[rows] = 0.999 * v[rows] + 0.001 * g[rows] ** 2
        w[rows] -= 0.1 * math.sqrt(1 - 0.999 ** step) / (1 - 0.9 ** step) * m[rows] / (np.sqrt(v[rows]) + 1e-8)
        opt.step()
        close(emb.weight, w)
    close(emb.weight.detach().numpy()[[0, 2]], w0[[0, 2]])  # never looked up, never moved


def np_adafactor(p, grads, lr=1e-2, decay=-0.8, eps1=None, eps2=1e-3, d=1.0, wd=0.0):
    """Adafactor as PyTorch documents it: factored second moments for matrices (row and column
    means of g^2), relative step size, update clipping."""
    eps1 = np.finfo(p.dtype).eps if eps1 is None else eps1
    row = np.zeros(p.shape[:-1] + (1,)) if p.ndim > 1 else None
    col = np.zeros(p.shape[:-2] + (1, p.shape[-1])) if p.ndim > 1 else None
    var_v = np.zeros_like(p)
    for t, g in enumerate(grads, start=1):
        b = t ** decay
        rho = min(lr, 1 / math.sqrt(t))
        alpha = max(eps2, np.sqrt((p ** 2).sum()) / math.sqrt(p.size)) * rho
        p = p * (1 - lr * wd)
        if p.ndim > 1:
            row = row + b * ((g ** 2).mean(-1, keepdims=True) - row)
            col = col + b * ((g ** 2).mean(-2, keepdims=True) - col)
            var = row @ col / np.maximum(row.mean(-2, keepdims=True), eps1)
        else:
            var_v = var_v + b * (g ** 2 - var_v)
            var = var_v
        u = g / np.sqrt(np.maximum(var, eps1 * eps1))
        p = p - alpha / max(1.0, np.sqrt((u ** 2).sum()) / (math.sqrt(u.size) * d)) * u
    return p


@pytest.mark.parametrize("shape,kw", [((4, 3), {}), ((5,), {}), ((2, 3, 4), dict(lr=0.05, weight_decay=0.1, d=2.0))])
def test_adafactor_matches_reference(shape, kw):
    p0 = arr(0, shape)
    grads = [arr(10 + i, shape) for i in range(5)]
    p = nn.Parameter(T(p0))
    opt = ds.optim.Adafactor([p], **kw)
    for g in grads:
        p.grad = T(g)
        opt.step()
    ref = np_adafactor(p0, grads, lr=kw.get("lr", 1e-2), wd=kw.get("weight_decay", 0.0), d=kw.get("d", 1.0))
    close(p, ref, rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="beta2_decay"):
        ds.optim.Adafactor([p], beta2_decay=0.5)
