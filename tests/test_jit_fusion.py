"""deepseek.jit elementwise fusion: groups of elementwise ops become one "elementwise" node
whose results equal eager's (and the unfused graph's) exactly, for chains, trees and DAGs,
broadcast and non-contiguous operands, many blocks, gradients and saved files."""
from __future__ import annotations


import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import deepseek
from deepseek import nn
from jit_helpers import rnd, trace


def t64(a, requires_grad=False):
    return deepseek.tensor(np.asarray(a, dtype=np.float64), requires_grad=requires_grad)


def same(a, b, tol=1e-12):
    np.testing.assert_allclose(np.asarray(a.detach()), np.asarray(b.detach()), rtol=tol, atol=tol, equal_nan=True)


def fused_nodes(g):
    return [n for n in g.graph.nodes() if n["kind"] == "elementwise"]


def test_a_chain_becomes_one_node_and_prints():
    def f(x):
        for _ in range(6):
            x = (x * 0.9 + 0.1).tanh() - x.sigmoid() * 0.5
        return x.sum()

    x = rnd(16, 16)
    g = trace(f, (x,))
    (node,) = fused_nodes(g)
    assert node["attrs"]["ops"].count("tanh") == 6 and node["attrs"]["ops"].count("sigmoid") == 6
    assert [n["op"] for n in g.graph.nodes() if n["kind"] == "launch"] == ["sum"]
    text = str(g.graph)
    assert "elementwise[" in text and "tanh(" in text
    raw = trace(f, (x,), fuse=False)
    assert not fused_nodes(raw)
    for s in range(3):
        x = rnd(16, 16, seed=s + 1)
        same(g(x), f(x))
        same(g(x), raw(x))


def test_trees_dags_and_several_results():
    def f(x, y):
        a = x * 2.0  # read by two ops of the group
        b = (a + y).exp()
        c = (a - y).sin()
        return b * c, b + 1.0  # b is also a result: an output of the fused node

    x, y = rnd(5, 7), rnd(5, 7, seed=1)
    g = trace(f, (x, y))
    (node,) = fused_nodes(g)
    assert len(node["outputs"]) == 2 and len(node["inputs"]) >= 2
    x, y = rnd(5, 7, seed=2), rnd(5, 7, seed=3)
    for got, want in zip(g(x, y), f(x, y)):
        same(got, want)


def test_many_blocks_broadcast_and_non_contiguous_operands():
    # 300 x 257 float64: several blocks of the fused loop, run in parallel; y broadcasts along
    # rows (gathered per block), x is traced contiguous and called with a transposed view
    def f(x, y):
        return ((x + y) * 0.5).cos() * (x - y).abs()

    x, y = rnd(300, 257), rnd(257, seed=1)
    g = trace(f, (x, y))
    assert len(fused_nodes(g)) == 1
    xt = rnd(257, 300, seed=2).T
    same(g(xt, y), f(xt, y))
    x32, y32 = rnd(300, 257, dtype=np.float32), rnd(1, 257, seed=1, dtype=np.float32)
    g32 = trace(f, (x32, y32))
    assert len(fused_nodes(g32)) == 1
    same(g32(x32, y32), f(x32, y32), 0)  # the same kernels in the same order: bit for bit


def test_empty_tensors():
    f = lambda x: (x * 2.0).exp() + 1.0  # noqa: E731
    g = trace(f, (rnd(0, 3),))
    assert len(fused_nodes(g)) == 1
    assert g(rnd(0, 3)).shape == (0, 3)


class _Shift(nn.Module):
    """Reads a buffer, updates it in place, and reads it again: a group may not move the
    first read past the write."""

    def __init__(self):
        super().__init__()
        self.register_buffer("p", deepseek.tensor(np.arange(4, dtype=np.float64)))

    def forward(self, x):
        a = (x * self.p).sin()
        self.p.add_(1.0)
        return (a + 1.0).exp() * self.p


def test_a_read_is_not_moved_past_a_write():
    eager, traced = _Shift(), _Shift()
    with deepseek.no_grad():
        g = deepseek.jit.trace(traced, (rnd(4),))
    traced.p.copy_(deepseek.tensor(np.arange(4, dtype=np.float64)))
    for s in range(3):
        x = rnd(4, seed=s)
        with deepseek.no_grad():
            same(g(x), eager(x))
        same(traced.p, eager.p)


class _Gated(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(6, 6).double()

    def forward(self, x):
        h = self.lin(x)
        return ((h * 0.5).tanh() * h.sigmoid() + h).sum()


def test_gradients_with_fusion_match_eager():
    m = _Gated()
    g = deepseek.jit.trace(m, (rnd(4, 6).requires_grad_(),))
    assert fused_nodes(g)
    bwd = next(v for v in g._bwds.values() if not isinstance(v, str))[0]
    assert any(n["kind"] == "elementwise" for n in bwd.nodes())  # the backward graph is fused too
    x2 = rnd(4, 6, seed=5).requires_grad_()
    x3 = x2.detach().clone().requires_grad_()
    m.zero_grad()
    g(x2).backward()
    grads = [p.grad.clone() for p in m.parameters()]
    m.zero_grad()
    m(x3).backward()
    same(x2.grad, x3.grad)
    for a, p in zip(grads, m.parameters()):
        same(a, p.grad)


def test_saved_fused_graph_loads_and_bad_programs_are_refused(tmp_path):
    f = lambda x, y: (x * y + 1.0).tanh() - y  # noqa: E731
    x, y = rnd(3, 4), rnd(3, 4, seed=1)
    g = trace(f, (x, y))
    path = str(tmp_path / "f.dsg")
    deepseek.jit.save(g, path)
    g2 = deepseek.jit.load(path)
    assert fused_nodes(g2)
    same(g2(x, y), f(x, y))

    core = g.graph._g
    nodes = core.nodes()

    def rebuild(change):
        ns = [dict(n, attrs=dict(n["attrs"])) for n in nodes]
        change(next(n for n in ns if n["kind"] == "elementwise"))
        consts = [core.constant_bytes(i) for i in range(core.n_constants())]
        caps = [core.captured(i) for i in range(len(core.state_entries()))]
        return deepseek._core.graph_from_parts(core.buffers(), core.values(), ns, core.inputs(), core.state_entries(), core.outputs(), consts, caps)

    rebuild(lambda n: None).run([x, y], [])  # unchanged parts rebuild
    bad = [
        (lambda n: n["attrs"].update(args=[5, 9] + n["attrs"]["args"][2:]), "not yet computed"),
        (lambda n: n["attrs"].update(ops=["matmul"] + n["attrs"]["ops"][1:]), "not an elementwise"),
        (lambda n: n["attrs"].update(ops=["no_such_op"] + n["attrs"]["ops"][1:]), "not a primitive op"),
        (lambda n: n["attrs"].update(outputs=[99]), "out of range"),
        (lambda n: n["attrs"].update(args=n["attrs"]["args"][:-1]), "arguments"),
        (lambda n: n["attrs"].update(outputs=n["attrs"]["outputs"] * 2), "output"),
    ]
    for change, msg in bad:
        with pytest.raises(ValueError, match=msg):
            rebuild(change)

    # a file whose fused program names an op this build lacks: named like a launch's
    import hashlib
    import json

    from deepseek import serialization

    obj = serialization.load(path)
    desc = json.loads(obj["deepseek.jit"])
    next(n for n in desc["nodes"] if n["kind"] == "elementwise")["attrs"]["ops"][0] = "frobnicate"
    obj["deepseek.jit"] = text = json.dumps(desc)
    obj["sha256"] = hashlib.sha256(text.encode()).hexdigest()
    bad_path = str(tmp_path / "bad.dsg")
    serialization.save(obj, bad_path)
    with pytest.raises(RuntimeError, match="frobnicate.*upgrade deepseek"):
        deepseek.jit.load(bad_path)


_UNARY = ["exp", "sin", "cos", "tanh", "neg", "abs", "sigmoid", "relu", "sqrt", "log1p", "reciprocal"]
_BINARY = ["add", "sub", "mul", "div", "maximum", "minimum"]


def _apply(op, a, b, c):
    if op in ("sqrt", "log1p"):
        return getattr(deepseek, op)(a.abs())
    if op == "reciprocal":
        return (a.abs() + 1.0).reciprocal()
    if op == "exp":
        return a.tanh().exp()
    if op in _UNARY:
        return getattr(deepseek, op)(a)
    if op == "div":
        return a / (b.abs() + 0.5)
    if op == "scalar":
        return a * c + (1.0 - c)
    return getattr(deepseek, op)(a, b)


@settings(max_examples=30)
@given(prog=st.lists(st.tuples(st.sampled_from(_UNARY + _BINARY + ["scalar"]), st.integers(0, 9), st.integers(0, 9),
                               st.floats(-2, 2, allow_nan=False)), min_size=1, max_size=10),
       bshape=st.sampled_from([(3, 5), (5,), (1, 5), (3, 1), ()]), transpose=st.booleans(), outs=st.integers(1, 3))
def test_random_elementwise_programs_fused_equal_eager(prog, bshape, transpose, outs):
    def f(x, y):
        vals = [x, y]
        for op, i, j, c in prog:
            vals.append(_apply(op, vals[i % len(vals)], vals[j % len(vals)], c))
        return tuple(vals[-k] for k in range(1, min(outs, len(vals) - 1) + 1))

    x = rnd(5, 3, seed=1).T if transpose else rnd(3, 5, seed=1)
    y = rnd(*bshape, seed=2)
    fused, plain = trace(f, (x, y)), trace(f, (x, y), fuse=False)
    x2 = rnd(5, 3, seed=3).T if transpose else rnd(3, 5, seed=3)
    y2 = rnd(*bshape, seed=4)
    want = f(x2, y2)
    for a, b, w in zip(fused(x2, y2), plain(x2, y2), want):
        same(a, w)
        same(b, w)
