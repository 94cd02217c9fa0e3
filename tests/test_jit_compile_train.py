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
    ops = [n["op"] for n in step.graph_module.graph.nodes()]
    assert "tanh" in ops and "mul" in ops


def test_train_step_refuses_python_number_state():
    m = _Affine()
    opt = optim.Adam(m.parameters(), lr=0.01)
    step = deepseek.jit.trace_train_step(m, _mse, opt, rnd(5, 4), rnd(5, 4))
    step(rnd(5, 4), rnd(5, 4))
    with pytest.raises(NotImplementedError, match="step"):
        step(rnd(5, 4), rnd(5, 4))


def test_train_step_checks_batch_shapes():
    m = _Affine()
    step = deepseek.jit.trace_train_step(m, _mse, optim.SGD(m.parameters(), lr=0.1), rnd(5, 4), rnd(5, 4))
    with pytest.raises(RuntimeError, match="does not match"):
        step(rnd(6, 4), rnd(6, 4))
