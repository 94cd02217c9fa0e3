"""deepseek.jit memory planning: elementwise results written over dead inputs (in place), the
arena's no-overlap property with those hand-overs, and training steps under a memory budget
(activations recomputed in the backward, gradients unchanged)."""
from __future__ import annotations


import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import deepseek
from deepseek import nn, optim
from jit_helpers import rnd, trace


def same(a, b, tol=1e-12):
    np.testing.assert_allclose(np.asarray(a.detach()), np.asarray(b.detach()), rtol=tol, atol=tol, equal_nan=True)


def check_arena(graph):
    """No two buffers alive at one node share bytes, unless one took over the other's memory
    (in place) where the first dies and the second is born."""
    core = graph._g
    nodes, values, buffers = core.nodes(), core.values(), core.buffers()
    life = {}
    for i, n in enumerate(nodes):
        for v in n["inputs"] + n["outputs"] + n["mutates"]:
            b = values[v]["buffer"]
            s, _ = life.get(b, (i, i))
            life[b] = (s, i)
    took = {o: i for o, i in graph.memory_plan()["in_place"]}

    def chain(b):
        while b in took:
            b = took[b]
        return b

    placed = core.arena_offsets()
    for x, (b1, a1, o1) in enumerate(placed):
        for b2, a2, o2 in placed[:x]:
            (s1, e1), (s2, e2) = life[b1], life[b2]
            if a1 != a2 or not (s1 <= e2 and s2 <= e1):
                continue
            n1, n2 = buffers[b1]["nbytes"], buffers[b2]["nbytes"]
            if o1 + n1 <= o2 or o2 + n2 <= o1 or n1 == 0 or n2 == 0:
                continue
            assert chain(b1) == chain(b2), f"buffers {b1} and {b2} overlap while both alive"
            assert e1 == s2 or e2 == s1, f"buffers {b1} and {b2} share memory beyond the hand-over"


def test_a_chain_of_elementwise_ops_runs_in_one_buffer():
    def f(x):
        for _ in range(6):
            x = (x * 1.5).sin()
        return x

    x = rnd(64, 64)
    g = trace(f, (x,), fuse=False)
    plan = g.graph.memory_plan()
    assert len(plan["in_place"]) >= 9
    assert sum(plan["arena_bytes"].values()) == 64 * 64 * 8  # every intermediate in one buffer
    check_arena(g.graph)
    x = rnd(64, 64, seed=1)
    same(g(x), f(x))


def test_inputs_state_and_views_are_never_written_over():
    w = rnd(8, 8, seed=3)

    def f(x):
        a = x.exp()  # x is a graph input: never overwritten
        b = a.T  # a view of a keeps a alive
        c = (a * w).sin()  # w is captured state
        return c + b, w

    g = trace(f, (rnd(8, 8),), fuse=False)
    x = rnd(8, 8, seed=4)
    x0, w0 = x.clone(), w.clone()
    for got, want in zip(g(x), f(x)):
        same(got, want)
    same(x, x0)
    same(w, w0)
    check_arena(g.graph)


_UNARY = ["exp", "sin", "tanh", "neg", "sigmoid"]
_OTHER = ["add", "mul", "matmul", "sum", "T"]


@settings(max_examples=25)
@given(prog=st.lists(st.tuples(st.sampled_from(_UNARY + _OTHER), st.integers(0, 9), st.integers(0, 9)), min_size=1, max_size=12),
       fuse=st.booleans())
def test_random_graphs_plan_without_overlap_and_match_eager(prog, fuse):
    def f(x, y):
        vals = [x, y]
        for op, i, j in prog:
            a, b = vals[i % len(vals)], vals[j % len(vals)]
            if op in _UNARY:
                vals.append(getattr(deepseek, op)(a.tanh()))
            elif op == "sum":
                vals.append(a.sum(0, keepdim=True) + b)
            elif op == "T":
                vals.append(a.T * 0.5)
            elif op == "matmul":
                vals.append(a @ b * 0.1)
            else:
                vals.append(getattr(deepseek, op)(a, b))
        return vals[-1], vals[len(vals) // 2]

    g = trace(f, (rnd(4, 4), rnd(4, 4, seed=1)), fuse=fuse)
    check_arena(g.graph)
    a, b = rnd(4, 4, seed=2), rnd(4, 4, seed=3)
    for got, want in zip(g(a, b), f(a, b)):
        same(got, want)


# activations (256 x 32) outweigh the weights (32 x 32), as in a convolutional network
_B, _IN, _H, _OUT = 256, 8, 32, 2


def _mlp():
    deepseek.manual_seed(0)
    return nn.Sequential(nn.Linear(_IN, _H), nn.Tanh(), nn.Linear(_H, _H), nn.Tanh(), nn.Linear(_H, _H), nn.Sigmoid(), nn.Linear(_H, _OUT)).double()


def _batch(s):
    return rnd(_B, _IN, seed=10 + s), rnd(_B, _OUT, seed=20 + s)


def _steps(model, budget, n=3):
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    step = deepseek.jit.trace_train_step(model, nn.functional.mse_loss, opt, *_batch(0), memory_budget=budget)
    losses = [step(*_batch(s)) for s in range(n)]
    return step, losses


def test_a_memory_budget_recomputes_and_keeps_gradients():
    m_free, m_tight, m_eager = _mlp(), _mlp(), _mlp()
    free, free_losses = _steps(m_free, None)
    report = free.memory_report()
    assert report["planned_peak_bytes"] == report["unbudgeted_peak_bytes"] > 0
    assert report["recomputed"] == [] and report["eager_peak_bytes"] > 0 and report["kept"] >= 3
    # one update per parameter, each run as soon as its gradient is ready (not all at the end)
    nodes = free.graph_module.graph.nodes()
    steps = [i for i, n in enumerate(nodes) if n["op"] == "sgd_step"]
    assert len(steps) == len(list(m_free.parameters())) and steps[0] < len(nodes) - len(steps)
    budget = int(report["planned_peak_bytes"] * 0.8)
    tight, tight_losses = _steps(m_tight, budget)
    r = tight.memory_report()
    assert r["memory_budget"] == budget
    assert r["planned_peak_bytes"] <= budget < r["unbudgeted_peak_bytes"]
    assert r["recomputed"] and r["extra_flops"] > 0 and r["recomputed_bytes"] > 0
    # the same steps: eager, unbudgeted graph, budgeted graph
    opt = optim.SGD(m_eager.parameters(), lr=0.1, momentum=0.9)
    for s, (a, b) in enumerate(zip(free_losses, tight_losses)):
        x, y = _batch(s)
        opt.zero_grad()
        loss = nn.functional.mse_loss(m_eager(x), y)
        loss.backward()
        opt.step()
        same(a, loss, 1e-10)
        same(b, loss, 1e-10)
    for p, q, e in zip(m_free.parameters(), m_tight.parameters(), m_eager.parameters()):
        same(p, e, 1e-10)
        same(q, e, 1e-10)


def test_an_impossible_budget_is_a_clear_error():
    m = _mlp()
    with pytest.raises(RuntimeError, match=r"memory_budget=64 bytes cannot be met.*at best"):
        _steps(m, 64, n=2)
    with pytest.raises(TypeError, match="memory_budget"):
        deepseek.jit.trace_train_step(m, nn.functional.mse_loss, optim.SGD(m.parameters(), lr=0.1), *_batch(0), memory_budget=-1)


def test_a_budget_on_traced_and_compiled_backwards():
    m_free, m_tight, m_eager = _mlp(), _mlp(), _mlp()
    x, y = _batch(1)

    class _Loss(nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, inp):
            return nn.functional.mse_loss(self.m(inp), y)

    loss_of = _Loss

    free = deepseek.jit.trace(loss_of(m_free), (x.clone().requires_grad_(),))
    (bwd_free,) = [b[0] for b in free._bwds.values() if not isinstance(b, str)]
    arena = sum(n for _, n in bwd_free.memory_plan()[0])
    budget = int(arena * 0.8)
    xs = [x.clone().requires_grad_() for _ in range(3)]
    tight = deepseek.jit.trace(loss_of(m_tight), (xs[0],), memory_budget=budget)
    (bwd,) = [b[0] for b in tight._bwds.values() if not isinstance(b, str)]
    assert sum(n for _, n in bwd.memory_plan()[0]) <= budget
    tight(xs[1]).backward()
    loss_of(m_eager)(xs[2]).backward()
    same(xs[1].grad, xs[2].grad, 1e-10)
    for p, q in zip(m_tight.parameters(), m_eager.parameters()):
        same(p.grad, q.grad, 1e-10)
    compiled = deepseek.compile(loss_of(m_free), memory_budget=64)  # impossible: no backward
    compiled(x.clone().requires_grad_())  # traces (and returns the traced eager run's result)
    with pytest.raises(RuntimeError, match="no backward.*memory_budget=64 bytes cannot be met"):
        compiled(x.clone().requires_grad_())
