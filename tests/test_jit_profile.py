"""deepseek.jit graph runs: the per-node profile (``GraphModule.profile``,
``TrainStep.profile``) and the arena a graph keeps from one run to the next (results equal
to eager and to fresh arenas, outputs never in the kept arena, concurrent runs of one graph)."""
from __future__ import annotations

import threading
import warnings

import numpy as np
import pytest

import deepseek
from deepseek import nn, optim
import deepseek.nn.functional as F
from deepseek.jit import TracerWarning
from jit_helpers import rnd, trace


def chain(x, w):
    """Internal buffers (arena), a matmul, a reduction, views and fused elementwise steps."""
    h = deepseek.tanh(x @ w) * 2.0 + 1.0
    h = h.reshape(h.shape[0], -1).transpose(0, 1).exp()
    return h.sum(dim=0), (h * h).mean()


@pytest.fixture(scope="module")
def graph():
    w = rnd(6, 5, seed=1)
    g = trace(lambda x: chain(x, w), (rnd(4, 6),))
    return g, w


def test_profile_structure_follows_the_nodes(graph):
    g, w = graph
    x = rnd(4, 6, seed=2)
    p = g.profile(x)
    nodes = g.graph.nodes()
    assert set(p) == {"outputs", "nodes", "setup_seconds", "total_seconds", "by_op"}
    assert [n["index"] for n in p["nodes"]] == list(range(len(nodes)))
    assert [(n["kind"], n["op"]) for n in p["nodes"]] == [(n["kind"], n["op"]) for n in nodes]
    for n in p["nodes"]:
        assert isinstance(n["seconds"], float) and n["seconds"] >= 0.0
        if n["kind"] == "view":
            assert n["seconds"] == 0.0
    assert any(n["kind"] == "view" for n in nodes) and any(n["kind"] != "view" for n in nodes)
    assert p["setup_seconds"] >= 0.0
    # the nodes' intervals and the setup are disjoint parts of the run
    assert p["total_seconds"] + 1e-9 >= p["setup_seconds"] + sum(n["seconds"] for n in p["nodes"])
    work = [n for n in p["nodes"] if n["kind"] != "view"]
    assert sum(c for _, c, _ in p["by_op"]) == len(work)
    for op, c, sec in p["by_op"]:
        mine = [n["seconds"] for n in work if n["op"] == op]
        assert c == len(mine) and sec == pytest.approx(sum(mine), rel=1e-12, abs=0.0)
    assert [r[2] for r in p["by_op"]] == sorted((r[2] for r in p["by_op"]), reverse=True)


def test_profile_outputs_are_the_call_s(graph):
    g, w = graph
    x = rnd(4, 6, seed=3)
    s, m = g.profile(x)["outputs"]
    s2, m2 = g(x)
    s3, m3 = chain(x, w)
    for a, b, c in ((s, s2, s3), (m, m2, m3)):
        assert np.array_equal(np.asarray(a), np.asarray(b))
        np.testing.assert_allclose(np.asarray(a), np.asarray(c), rtol=1e-13, atol=1e-13)


def test_profile_rejects_non_tensors(graph):
    with pytest.raises(TypeError, match="profile"):
        graph[0].profile(np.zeros((4, 6)))


def test_the_kept_arena_gives_the_results_of_a_fresh_one(graph):
    g, w = graph
    arena = sum(g.graph.memory_plan()["arena_bytes"].values())
    assert arena > 0
    xs = [rnd(4, 6, seed=10 + i) for i in range(3)]
    runs = [[np.asarray(t).copy() for t in g(x)] for x in xs]
    assert g.kept_arena_bytes() == arena
    # outputs live in storage of their own: a later run leaves earlier results alone
    again = [[np.asarray(t) for t in g(x)] for x in xs]
    for a, b, x in zip(runs, again, xs):
        for u, v, e in zip(a, b, chain(x, w)):
            assert np.array_equal(u, v)
            np.testing.assert_allclose(u, np.asarray(e), rtol=1e-13, atol=1e-13)
    out = g(xs[0])
    g(xs[1])
    assert np.array_equal(np.asarray(out[0]), runs[0][0])
    g.release_arenas()
    assert g.kept_arena_bytes() == 0
    fresh = [np.asarray(t) for t in g(xs[2])]
    for u, v in zip(fresh, runs[2]):
        assert np.array_equal(u, v)
    assert g.kept_arena_bytes() == arena


def test_concurrent_runs_of_one_graph(graph):
    """Two threads running one graph: one takes the kept arena, the other a fresh one."""
    g, w = graph
    xs = [rnd(4, 6, seed=20 + i) for i in range(2)]
    want = [[np.asarray(t) for t in chain(x, w)] for x in xs]
    errors = []

    def worker(k):
        try:
            for _ in range(30):
                got = g(xs[k])
                for u, v in zip(got, want[k]):
                    np.testing.assert_allclose(np.asarray(u), v, rtol=1e-13, atol=1e-13)
        except Exception as e:  # noqa: BLE001  (reported by the main thread)
            errors.append(e)

    ts = [threading.Thread(target=worker, args=(k,)) for k in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors, errors[0]


@pytest.mark.parametrize("fuse", [False, True])
def test_a_graph_run_inside_a_trace(fuse):
    """A graph called while another trace records: its launches read arenas made inside that
    trace (a kept arena would look like state captured from before it), and a fused
    elementwise node runs its steps through the dispatcher so the outer trace records them
    (the fused loop records nothing: the outer graph would freeze its traced result)."""
    w = rnd(6, 5, seed=1)
    inner = trace(lambda x: chain(x, w), (rnd(4, 6),), fuse=fuse)
    if fuse:
        assert any(n["kind"] == "elementwise" for n in inner.graph.nodes())
    inner(rnd(4, 6, seed=4))  # the inner graph keeps an arena now
    assert inner.kept_arena_bytes() > 0
    outer = trace(lambda x: inner(x)[0] * 3.0, (rnd(4, 6),))
    for seed in (5, 6):
        x = rnd(4, 6, seed=seed)
        np.testing.assert_allclose(np.asarray(outer(x)), np.asarray(chain(x, w)[0]) * 3.0, rtol=1e-13, atol=1e-13)


def _model():
    deepseek.manual_seed(0)
    return nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 3))


@pytest.mark.parametrize("opt", ["sgd", "adamw"])
def test_train_step_profile_is_one_step(opt):
    """A profiled step updates as a call does: parameters, the loss and Adam's step count
    equal those of a step run by calling."""
    x, y = rnd(7, 5, seed=30), deepseek.tensor(np.random.default_rng(31).integers(0, 3, 7))
    steps = []
    for _ in range(2):
        m = _model().double()
        o = optim.SGD(m.parameters(), lr=0.05, momentum=0.9) if opt == "sgd" else optim.AdamW(m.parameters(), lr=0.01)
        steps.append((m, o, deepseek.jit.trace_train_step(m, F.cross_entropy, o, x, y)))
    (m1, o1, s1), (m2, o2, s2) = steps
    with pytest.raises(RuntimeError, match="not traced yet"):
        s2.profile(x, y)
    for s in (s1, s2):
        s(x, y), s(x, y)
    l1 = s1(x, y)
    p = s2.profile(x, y)
    assert np.array_equal(np.asarray(p["outputs"]), np.asarray(l1))
    assert len(p["nodes"]) == len(s2.graph_module.graph.nodes())
    assert all(n["seconds"] >= 0.0 for n in p["nodes"])
    assert any(op == ("sgd_step" if opt == "sgd" else "adamw_step") for op, _, _ in p["by_op"])
    for a, b in zip(m1.parameters(), m2.parameters()):
        assert np.array_equal(np.asarray(a.detach()), np.asarray(b.detach()))
    if opt == "adamw":
        assert [st["step"] for st in o1.state.values()] == [st["step"] for st in o2.state.values()]
    # and the next calls agree too
    assert np.array_equal(np.asarray(s1(x, y)), np.asarray(s2(x, y)))
    with pytest.raises(RuntimeError, match="does not match"):
        s2.profile(rnd(6, 5), y)


def test_compile_keeps_the_arena_of_the_last_graph_only():
    """deepseek.compile holds a graph per shape: only the last one run keeps its arena."""
    deepseek.manual_seed(0)
    m = nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 3)).double().eval()
    cm = deepseek.compile(m)
    xa, xb = rnd(4, 5, seed=40), rnd(7, 5, seed=41)
    with deepseek.no_grad():
        ya = cm(xa)
        cm(xa)
        ga = cm._last
        assert ga.kept_arena_bytes() > 0
        yb = cm(xb)
        cm(xb)
        gb = cm._last
        assert gb is not ga and ga.kept_arena_bytes() == 0 and gb.kept_arena_bytes() > 0
        ya2 = cm(xa)
        assert gb.kept_arena_bytes() == 0 and ga.kept_arena_bytes() > 0
        np.testing.assert_array_equal(np.asarray(ya2), np.asarray(ya))
        np.testing.assert_allclose(np.asarray(yb), np.asarray(m(xb)), rtol=1e-13, atol=1e-13)
    assert cm.traces == 2


def test_a_graph_and_its_backward_keep_their_arenas_until_released():
    m = _model().double()
    x = rnd(6, 5, seed=50)
    with warnings.catch_warnings():
        warnings.simplefilter("error", TracerWarning)
        g = deepseek.jit.trace(m, (x,))
    fwd_only = None
    for _ in range(2):
        m.zero_grad()
        g(x).square().sum().backward()
        if fwd_only is None:
            fwd_only = g._g.kept_arena_bytes()
    want = [p.grad.clone() for p in m.parameters()]
    assert g.kept_arena_bytes() > fwd_only > 0  # the backward graph keeps its own
    g.release_arenas()
    assert g.kept_arena_bytes() == 0
    m.zero_grad()
    g(x).square().sum().backward()
    for p, w in zip(m.parameters(), want):
        assert np.array_equal(np.asarray(p.grad), np.asarray(w))
