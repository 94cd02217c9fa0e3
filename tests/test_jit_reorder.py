"""Schedule reordering (deepseek.jit graphs): a reordered schedule is a valid topological order
of the traced graph (every read after the write of the buffer version it reads and before the
next write, random ops in traced order) and gives bit-equal results; under a training step's
``memory_budget`` it lowers the planned peak, reported by ``memory_report()``."""
from __future__ import annotations


import numpy as np
from hypothesis import given, settings, strategies as st

import deepseek
from deepseek import nn, optim
from jit_helpers import rnd, trace


def check_schedule(original, reordered):
    """``reordered``'s nodes are ``original``'s, in an order the dependencies allow (checked
    here from the graph's dicts, and by the core's own check)."""
    a, b = original._g, reordered._g
    index = {tuple(n["outputs"]): i for i, n in enumerate(a.nodes())}
    order = [index[tuple(n["outputs"])] for n in b.nodes()]
    assert sorted(order) == list(range(len(order)))
    assert a.is_valid_order(order)
    values = b.values()
    made, written = {}, {}
    nodes = b.nodes()
    for k, n in enumerate(nodes):
        for v in n["outputs"]:
            made[v] = k
            if n["kind"] != "view":
                written.setdefault(values[v]["buffer"], []).append((k, values[v]["version"]))
    for k, n in enumerate(nodes):
        for v in n["inputs"] + n["mutates"]:
            assert (v in made and made[v] < k) or (v not in made and values[v]["role"] in ("input", "state", "constant"))
            # the buffer holds the version read: the last earlier write made it (or none did)
            buf, ver = values[v]["buffer"], values[v]["version"]
            prior = [wv for w, wv in written.get(buf, []) if w < k]
            if prior:
                assert prior[-1] == ver, (k, n["op"], v)
            else:
                assert all(wv != ver for _, wv in written.get(buf, [])), (k, n["op"], v)


OPS = ["add", "mul", "tanh", "exp_neg", "matmul", "rowsum"]


@settings(max_examples=25)
@given(
    prog=st.lists(st.tuples(st.sampled_from(OPS), st.integers(0, 1000), st.integers(0, 1000)), min_size=2, max_size=14),
    n_out=st.integers(1, 3),
    fuse=st.booleans(),
)
def test_reordered_random_graphs_are_valid_and_bit_equal(prog, n_out, fuse):
    def f(x, w):
        vals = [x, w]
        for op, i, j in prog:
            a, b = vals[i % len(vals)], vals[j % len(vals)]
            if op == "add":
                vals.append(a + b)
            elif op == "mul":
                vals.append(a * b)
            elif op == "tanh":
                vals.append(a.tanh())
            elif op == "exp_neg":
                vals.append((-a.abs()).exp())
            elif op == "matmul":
                vals.append(a @ b)
            else:
                vals.append(a.sum(1, keepdim=True).expand(8, 8) * b)
        return tuple(vals[-1 - k] for k in range(min(n_out, len(vals) - 2)))

    x, w = rnd(8, 8, seed=1), rnd(8, 8, seed=2)
    g1, g2 = trace(f, (x, w), fuse=fuse), trace(f, (x, w), fuse=fuse)
    before, after = g2.graph._g.reorder_schedule()
    assert after <= before == sum(n for _, n in g1.graph._g.memory_plan()[0])
    check_schedule(g1.graph, g2.graph)
    xs, ws = rnd(8, 8, seed=3), rnd(8, 8, seed=4)
    for a, b in zip(g1.run(xs, ws), g2.run(xs, ws)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_reordering_lowers_a_peak_the_traced_order_raises():
    # eager order makes every branch before reducing any: reordered, each is reduced at once
    def f(x):
        branches = [(x * (k + 1)).tanh() @ x for k in range(6)]
        total = branches[0].sum()
        for b in branches[1:]:
            total = total + b.sum()
        return total

    x = rnd(32, 32)
    g1, g2 = trace(f, (x,), fuse=False), trace(f, (x,), fuse=False)
    before, after = g2.graph._g.reorder_schedule()
    assert after < before
    check_schedule(g1.graph, g2.graph)
    np.testing.assert_array_equal(np.asarray(g2(x)), np.asarray(g1(x)))


class Wide(nn.Module):
    """Parallel branches whose results meet only at the end: the traced order keeps every
    branch's activations alive at once, a reordered one finishes each branch first."""

    def __init__(self):
        super().__init__()
        self.heads = nn.ModuleList([nn.Sequential(nn.Linear(8, 48), nn.Tanh(), nn.Linear(48, 2)) for _ in range(4)])

    def forward(self, x):
        outs = [h(x) for h in self.heads]
        return sum(outs[1:], outs[0])


def test_train_step_budget_reorders_and_keeps_results():
    def make():
        deepseek.manual_seed(0)
        return Wide().double()

    def batch(s):
        return rnd(64, 8, seed=10 + s), rnd(64, 2, seed=20 + s)

    m_free, m_eager = make(), make()
    free = deepseek.jit.trace_train_step(m_free, nn.functional.mse_loss, optim.SGD(m_free.parameters(), lr=0.1), *batch(0))
    free(*batch(0))
    free(*batch(1))
    arena = free.memory_report()["planned_peak_bytes"]
    # find the least budget reordering alone meets
    m_probe = make()
    probe = deepseek.jit.trace_train_step(m_probe, nn.functional.mse_loss, optim.SGD(m_probe.parameters(), lr=0.1), *batch(0),
                                         memory_budget=arena - 1)
    probe(*batch(0))
    probe(*batch(1))
    r = probe.memory_report()
    assert r["peak_before_reorder_bytes"] >= r["planned_peak_bytes"]
    assert r["planned_peak_bytes"] < arena == r["unbudgeted_peak_bytes"]
    m_tight = make()
    tight = deepseek.jit.trace_train_step(m_tight, nn.functional.mse_loss, optim.SGD(m_tight.parameters(), lr=0.1), *batch(0),
                                         memory_budget=arena - 1)
    opt = optim.SGD(m_eager.parameters(), lr=0.1)
    for s in range(4):
        x, y = batch(s)
        got = tight(x, y)
        opt.zero_grad()
        loss = nn.functional.mse_loss(m_eager(x), y)
        loss.backward()
        opt.step()
        np.testing.assert_allclose(np.asarray(got), np.asarray(loss.detach()), rtol=1e-12, atol=1e-12)
    for p, q in zip(m_tight.parameters(), m_eager.parameters()):
        np.testing.assert_allclose(np.asarray(p.detach()), np.asarray(q.detach()), rtol=1e-12, atol=1e-12)
