"""deepseek.compile's guards (retrace on new shapes, dtypes, grad mode) and
deepseek.jit.trace_train_step (a training step as one graph) against eager training."""
from __future__ import annotations

import copy

import numpy as np
import pytest

import deepseek
from deepseek import nn, optim


def rnd(*shape, seed=0, dtype=np.float32):
    return deepseek.tensor(np.random.default_rng(seed).standard_normal(shape).astype(dtype))


def close(a, b, tol=1e-5):
    np.testing.assert_allclose(np.asarray(a.detach()), np.asarray(b.detach()), rtol=tol, atol=tol)


def test_compile_retraces_when_guards_change():
    def f(x, scale):
        return (x * scale).sin().sum(0)

    fast = deepseek.compile(f)
    with deepseek.no_grad():
        for seed in range(3):
            x = rnd(2, 3, seed=seed)
            close(fast(x, 2.0), f(x, 2.0))
        assert fast.traces == 1
        close(fast(rnd(4, 3), 2.0), f(rnd(4, 3), 2.0))  # new shape
        assert fast.traces == 2
        x64 = rnd(2, 3, dtype=np.float64)
        close(fast(x64, 2.0), f(x64, 2.0))  # new dtype
        assert fast.traces == 3
        close(fast(rnd(2, 3), 3.0), f(rnd(2, 3), 3.0))  # a non-tensor argument's value
        assert fast.traces == 4
        fast(rnd(2, 3, seed=5), 2.0)  # the first key is still cached
        assert fast.traces == 4


def test_compile_keyword_arguments():
    def f(x, *, bias=None, scale=1.0):
        return x * scale + (0 if bias is None else bias)

    fast = deepseek.compile(f)
    with deepseek.no_grad():
        x, b = rnd(3), rnd(3, seed=1)
        close(fast(x, bias=b, scale=2.0), f(x, bias=b, scale=2.0))
        b2 = rnd(3, seed=2)
        close(fast(x, bias=b2, scale=2.0), f(x, bias=b2, scale=2.0))  # a new tensor: same graph
        assert fast.traces == 1
        close(fast(x, scale=2.0), f(x, scale=2.0))
        assert fast.traces == 2


def test_compile_as_decorator_and_module():
    @deepseek.compile
    def g(x):
        return x.exp() - 1

    with deepseek.no_grad():
        close(g(rnd(3)), rnd(3).exp() - 1)
    assert deepseek.compile(g.fn, disable=True) is g.fn

    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(rnd(3, seed=1))

        def forward(self, x):
            return (x * self.w).tanh()

    m = M()
    fm = deepseek.compile(m)
    with deepseek.no_grad():
        close(fm(rnd(3, seed=2)), m(rnd(3, seed=2)))
        m.eval()
        fm(rnd(3, seed=2))
    assert fm.traces == 2  # training flag is a guard


class _Affine(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(rnd(4, seed=11))
        self.b = nn.Parameter(rnd(4, seed=12))

    def forward(self, x):
        return (x * self.w + self.b).tanh() * 2


def _mse(y, target):
    return ((y - target) ** 2).mean()


@pytest.mark.parametrize("opt_args", [dict(lr=0.1), dict(lr=0.05, momentum=0.9, dampening=0.1, weight_decay=0.01)])
def test_train_step_matches_eager(opt_args):
    m_graph = _Affine()
    m_eager = copy.deepcopy(m_graph)
    o_graph = optim.SGD(m_graph.parameters(), **opt_args)
    o_eager = optim.SGD(m_eager.parameters(), **opt_args)
    x0, y0 = rnd(5, 4, seed=1), rnd(5, 4, seed=2)
    step = deepseek.jit.trace_train_step(m_graph, _mse, o_graph, x0, y0)
    for s in range(5):
        x, y = rnd(5, 4, seed=10 + s), rnd(5, 4, seed=20 + s)
        loss = step(x, y)
        o_eager.zero_grad()
        want = _mse(m_eager(x), y)
        want.backward()
        o_eager.step()
        close(loss, want)
        close(m_graph.w, m_eager.w)
        close(m_graph.b, m_eager.b)
    assert step.graph_module is not None
    ops = [o for n in step.graph_module.graph.nodes() for o in (n["attrs"]["ops"] if n["kind"] == "elementwise" else [n["op"]])]
    assert "tanh" in ops and "mul" in ops


def test_mlp_classifier_train_step_matches_eager():
    import warnings
    import deepseek.nn.functional as F

    deepseek.manual_seed(0)
    m_graph = nn.Sequential(nn.Linear(6, 12), nn.ReLU(), nn.Linear(12, 4))
    m_eager = copy.deepcopy(m_graph)
    o_graph = optim.SGD(m_graph.parameters(), lr=0.1, momentum=0.9)
    o_eager = optim.SGD(m_eager.parameters(), lr=0.1, momentum=0.9)
    y = deepseek.tensor(np.arange(8) % 4)
    step = deepseek.jit.trace_train_step(m_graph, F.cross_entropy, o_graph, rnd(8, 6), y)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", "a tensor of shape", deepseek.jit.TracerWarning)
        warnings.filterwarnings("ignore", "Converting a tensor", deepseek.jit.TracerWarning)
        for s in range(4):
            x = rnd(8, 6, seed=30 + s)
            loss = step(x, y)
            o_eager.zero_grad()
            want = F.cross_entropy(m_eager(x), y)
            want.backward()
            o_eager.step()
            close(loss, want)
    for a, b in zip(m_graph.parameters(), m_eager.parameters()):
        close(a, b)
    assert any(n["op"] == "sgd_step" for n in step.graph_module.graph.nodes())


@pytest.mark.parametrize("make", [lambda ps: optim.NAdam(ps, lr=0.01), lambda ps: optim.Adam(ps, lr=0.01, amsgrad=True),
                                  lambda ps: optim.Adam(ps, lr=0.01, foreach=False)])
def test_train_step_refuses_step_dependent_python_numbers(make):
    m = _Affine()
    opt = make(m.parameters())
    step = deepseek.jit.trace_train_step(m, _mse, opt, rnd(5, 4), rnd(5, 4))
    step(rnd(5, 4), rnd(5, 4))
    with pytest.raises(NotImplementedError, match="step|mu_product"):
        step(rnd(5, 4), rnd(5, 4))


@pytest.mark.parametrize("make", [lambda ps: optim.Adam(ps, lr=0.05, betas=(0.8, 0.9)),
                                  lambda ps: optim.AdamW(ps, lr=0.05, weight_decay=0.1, maximize=True)])
def test_adam_train_step_counts_steps_at_run_time(make):
    # the bias correction changes every step: a frozen step count would drift from eager at once
    m_graph = _Affine()
    m_eager = copy.deepcopy(m_graph)
    o_graph, o_eager = make(m_graph.parameters()), make(m_eager.parameters())
    step = deepseek.jit.trace_train_step(m_graph, _mse, o_graph, rnd(5, 4), rnd(5, 4))
    for s in range(5):  # eager, traced, then 3 graph runs
        x, y = rnd(5, 4, seed=40 + s), rnd(5, 4, seed=50 + s)
        loss = step(x, y)
        o_eager.zero_grad()
        want = _mse(m_eager(x), y)
        want.backward()
        o_eager.step()
        close(loss, want)
        close(m_graph.w, m_eager.w)
        close(m_graph.b, m_eager.b)
        for p, q in zip(m_graph.parameters(), m_eager.parameters()):
            assert o_graph.state[p]["step"] == o_eager.state[q]["step"] == s + 1
            close(o_graph.state[p]["exp_avg_sq"], o_eager.state[q]["exp_avg_sq"])
    assert any(n["op"] == "adamw_step" for n in step.graph_module.graph.nodes())
    # a later eager step continues from the graph's count
    o_graph.zero_grad()
    _mse(m_graph(x), y).backward()
    o_graph.step()
    o_eager.zero_grad()
    _mse(m_eager(x), y).backward()
    o_eager.step()
    close(m_graph.w, m_eager.w)


def test_train_step_checks_batch_shapes():
    m = _Affine()
    step = deepseek.jit.trace_train_step(m, _mse, optim.SGD(m.parameters(), lr=0.1), rnd(5, 4), rnd(5, 4))
    with pytest.raises(RuntimeError, match="does not match"):
        step(rnd(6, 4), rnd(6, 4))


def test_cross_entropy_step_traces_without_warnings_and_checks_targets_every_run():
    # nll_loss's eager range check would freeze into a constant under a trace; the traced step
    # relies on the gather's own check instead, so a bad target raises at run time and leaves
    # the parameters as they were
    import warnings

    import deepseek.nn.functional as F

    deepseek.manual_seed(0)
    m = nn.Linear(4, 3)
    x, y = rnd(5, 4), deepseek.tensor([0, 1, 2, 1, 0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        step = deepseek.jit.trace_train_step(m, F.cross_entropy, optim.SGD(m.parameters(), lr=0.1, momentum=0.9), x, y)
    step(x, y)
    before = [p.detach().numpy().copy() for p in m.parameters()]
    for bad in ([0, 1, 7, 1, 0], [0, -3, 2, 1, 0]):
        with pytest.raises(IndexError, match="out of bounds|target values"):
            step(x, deepseek.tensor(bad))
        for b, p in zip(before, m.parameters()):
            np.testing.assert_array_equal(b, p.detach().numpy())
    with pytest.raises(IndexError, match="target values must be in"):
        F.cross_entropy(m(x), deepseek.tensor([0, 1, 7, 1, 0]))


@pytest.mark.parametrize("opt_name", ["sgd", "adamw"])
def test_train_step_reads_the_learning_rate_at_run_time(opt_name):
    # an LR scheduler changes param_groups[i]["lr"] between steps; a graph that froze the
    # traced rate would drift from eager at the first decay
    m_graph = _Affine()
    m_eager = copy.deepcopy(m_graph)

    def make(m):
        groups = [{"params": [m.w]}, {"params": [m.b], "lr": 0.3}]
        if opt_name == "sgd":
            return optim.SGD(groups, lr=0.2, momentum=0.9)
        return optim.AdamW(groups, lr=0.05, weight_decay=0.1)

    o_graph, o_eager = make(m_graph), make(m_eager)
    scheds = [optim.lr_scheduler.StepLR(o, step_size=2, gamma=0.3) for o in (o_graph, o_eager)]
    step = deepseek.jit.trace_train_step(m_graph, _mse, o_graph, rnd(5, 4), rnd(5, 4))
    lrs = []
    for s in range(7):  # eager, traced, then graph runs across three decays
        x, y = rnd(5, 4, seed=60 + s), rnd(5, 4, seed=70 + s)
        loss = step(x, y)
        o_eager.zero_grad()
        want = _mse(m_eager(x), y)
        want.backward()
        o_eager.step()
        for sch in scheds:
            sch.step()
        lrs.append(o_graph.param_groups[1]["lr"])
        close(loss, want)
        close(m_graph.w, m_eager.w)
        close(m_graph.b, m_eager.b)
    assert len(set(lrs)) == 4 and step.graph_module is not None
    # a rate set by hand is read too
    for o in (o_graph, o_eager):
        o.param_groups[0]["lr"] = 1.5
    x, y = rnd(5, 4, seed=99), rnd(5, 4, seed=98)
    step(x, y)
    o_eager.zero_grad()
    _mse(m_eager(x), y).backward()
    o_eager.step()
    close(m_graph.w, m_eager.w)
    close(m_graph.b, m_eager.b)
