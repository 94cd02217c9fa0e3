"""deepseek.jit.trace: traced graphs give eager's values on new inputs; the IR's Python view;
state bound by reference; host reads and unrecorded constants warn; passes; gradients."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import deepseek
from deepseek import nn
from deepseek.jit import TracerWarning


def t(a, requires_grad=False):
    return deepseek.tensor(np.asarray(a, dtype=np.float32), requires_grad=requires_grad)


def rnd(*shape, seed=0):
    return t(np.random.default_rng(seed).standard_normal(shape))


def close(a, b, tol=1e-5):
    np.testing.assert_allclose(np.asarray(a.detach()), np.asarray(b.detach()), rtol=tol, atol=tol)


def trace_quiet(fn, inputs, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("error", TracerWarning)
        with deepseek.no_grad():
            return deepseek.jit.trace(fn, inputs, **kw)


def test_elementwise_and_reductions_follow_new_inputs():
    def f(x, y):
        z = (x * 2.0 + y).exp() - y.abs()
        return z.sum(dim=1), (z / 3).amax(), x.T.contiguous() * y.T

    x, y = rnd(3, 4), rnd(3, 4, seed=1)
    g = trace_quiet(f, (x, y))
    for s in range(3):
        a, b = rnd(3, 4, seed=10 + s), rnd(3, 4, seed=20 + s)
        for got, want in zip(g(a, b), f(a, b)):
            close(got, want)


def test_graph_view_is_plain_data():
    g = trace_quiet(lambda x: (x + 1).relu().sum(0), (rnd(2, 3),))
    nodes, values = g.graph.nodes(), g.graph.values()
    assert all(set(n) == {"kind", "op", "attrs", "inputs", "outputs", "mutates"} for n in nodes)
    assert all(set(v) == {"id", "dtype", "shape", "strides", "offset", "buffer", "version", "alias_of", "role", "name"} for v in values)
    assert [v["id"] for v in values] == list(range(len(values)))
    assert [n["op"] for n in nodes if n["kind"] != "view"][:2] == ["elementwise", "sum"]
    assert next(n for n in nodes if n["kind"] == "elementwise")["attrs"]["ops"] == ["add", "relu"]  # one fused loop
    ops = [n["op"] for n in trace_quiet(lambda x: (x + 1).relu().sum(0), (rnd(2, 3),), fuse=False).graph.nodes() if n["kind"] == "launch"]
    assert ops[:3] == ["add", "relu", "sum"]
    (vin,) = g.graph.inputs()
    assert values[vin]["role"] == "input" and values[vin]["shape"] == [2, 3]
    (vout,) = g.graph.outputs()
    assert values[vout]["shape"] == [3] and values[vout]["dtype"] == "float32"
    # the Python number became a one-element constant, read broadcast (stride 0)
    const = [v for v in values if v["role"] == "constant"]
    assert const and const[0]["strides"] == [0, 0]
    assert np.all(np.asarray(g.graph.constant(const[0]["id"])) == 1.0)
    text = str(g.graph)
    assert "add(" in text and "relu(" in text and "float32[2, 3]" in text
    assert len(text.strip().splitlines()) >= len(nodes) + 3


def test_in_place_updates_of_state_persist_and_are_versioned():
    class Counter(nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("count", deepseek.zeros(2))

        def forward(self, x):
            self.count.add_(1)
            return x * self.count

    m = Counter()
    g = trace_quiet(m, (rnd(2),))
    assert np.asarray(m.count).tolist() == [1, 1]
    x = rnd(2, seed=3)
    close(g(x), x * 2.0)
    close(g(x), x * 3.0)
    assert np.asarray(m.count).tolist() == [3, 3]
    adds = [n for n in g.graph.nodes() if n["op"] == "add"]
    assert adds and adds[0]["mutates"], "an in-place write names the version it overwrites"
    vals = g.graph.values()
    assert vals[adds[0]["outputs"][0]]["version"] == vals[adds[0]["mutates"][0]]["version"] + 1
    assert "count" in g.graph.state_names()


def test_parameters_are_bound_by_reference():
    class Scale(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(t([1.0, 2.0]))

        def forward(self, x):
            return x * self.w

    m = Scale()
    g = trace_quiet(m, (rnd(2),))
    with deepseek.no_grad():
        m.w.mul_(10)
        x = rnd(2, seed=5)
        close(g(x), x * t([10.0, 20.0]))
    names = [v["name"] for v in g.graph.values() if v["role"] == "state"]
    assert names == ["w"]


def test_host_reads_warn():
    def f(x):
        if x.sum().item() > 0:
            return x + 1
        return x - 1

    with pytest.warns(TracerWarning, match="item"):
        with deepseek.no_grad():
            deepseek.jit.trace(f, (rnd(3),))


def test_constant_built_inside_the_trace_warns():
    def f(x):
        return x + deepseek.tensor([1.0, 2.0, 3.0])

    with pytest.warns(TracerWarning, match="constant"):
        with deepseek.no_grad():
            g = deepseek.jit.trace(f, (rnd(3),))
    close(g(rnd(3, seed=2)), rnd(3, seed=2) + t([1.0, 2.0, 3.0]))


def test_passes_fold_merge_and_drop():
    def f(x):
        c = deepseek.full((3,), 2.0).exp()  # all-constant: folded at build time
        a = (x + 1).sin()
        b = (x + 1).sin()  # common subexpression
        (x * 5).cos()  # dead
        return a + b + c

    with deepseek.no_grad():
        g = deepseek.jit.trace(f, (rnd(3),))
        raw = deepseek.jit.trace(f, (rnd(3),), optimize=False)
    x = rnd(3, seed=4)
    close(g(x), f(x))
    close(raw(x), f(x))
    ops = [o for n in g.graph.nodes() if n["kind"] != "view" for o in (n["attrs"]["ops"] if n["kind"] == "elementwise" else [n["op"]])]
    raw_ops = [n["op"] for n in raw.graph.nodes() if n["kind"] == "launch"]
    assert "cos" in raw_ops and "cos" not in ops
    assert raw_ops.count("sin") == 2 and ops.count("sin") == 1
    assert "exp" not in ops


def test_wrong_inputs_are_refused():
    g = trace_quiet(lambda x: x + 1, (rnd(2, 3),))
    with pytest.raises(RuntimeError, match=r"input 0 must be float32\[2, 3\]"):
        g(rnd(3, 2))
    with pytest.raises(RuntimeError, match="expected 1 input"):
        g(rnd(2, 3), rnd(2, 3))
    with pytest.raises(TypeError, match="must be a Tensor"):
        g(3.0)


def test_non_contiguous_inputs_and_views_as_outputs():
    def f(x):
        return (x * 2).t(), x[1]

    g = trace_quiet(f, (rnd(3, 4),))
    x = rnd(4, 3, seed=9).t()  # a transposed view where a contiguous tensor was traced
    for got, want in zip(g(x), f(x)):
        close(got, want)


def test_memory_plan_reuses_memory():
    def f(x):
        for _ in range(6):
            x = (x * 1.5).sin()
        return x

    fused = trace_quiet(f, (rnd(64, 64),))
    assert fused.graph.memory_plan()["unplanned_bytes"] == 0  # one fused loop: no intermediates
    g = trace_quiet(f, (rnd(64, 64),), fuse=False)
    plan = g.graph.memory_plan()
    assert plan["unplanned_bytes"] > 0
    assert sum(plan["arena_bytes"].values()) < plan["unplanned_bytes"]
    assert sum(plan["arena_bytes"].values()) >= plan["live_peak_bytes"]
    x = rnd(64, 64, seed=1)
    close(g(x), f(x))


def test_gradients_through_a_traced_function_match_eager():
    w = t([0.5, -1.0, 2.0], requires_grad=True)

    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(t([0.5, -1.0, 2.0]))

        def forward(self, x):
            return ((x * self.w).tanh() * x).sum(), (x * 3).exp()

    m = M()
    g = deepseek.jit.trace(m, (rnd(3).requires_grad_(),))
    x1 = rnd(3, seed=7).requires_grad_()
    x2 = rnd(3, seed=7).requires_grad_()
    a, b = g(x1)
    (a + b.sum()).backward()
    gw = m.w.grad.clone()
    m.w.grad = None
    a, b = m(x2)
    (a + b.sum()).backward()
    close(x1.grad, x2.grad)
    close(gw, m.w.grad)
    del w


def test_backward_traced_on_demand():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(t([1.5, -0.5]))

        def forward(self, x):
            return (x.sin() * self.w).sum()

    m = M()
    g = trace_quiet(m, (rnd(2),))  # traced without gradients
    for requires in (False, True):  # two requires-grad patterns: two backward graphs
        x1, x2 = rnd(2, seed=3), rnd(2, seed=3)
        x1.requires_grad_(requires)
        x2.requires_grad_(requires)
        g(x1).backward()
        gw = m.w.grad.clone()
        m.w.grad = None
        m(x2).backward()
        close(gw, m.w.grad)
        m.w.grad = None
        if requires:
            close(x1.grad, x2.grad)


def test_no_backward_is_a_clear_error():
    class Counting(nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("seen", deepseek.zeros(1))

        def forward(self, x):
            self.seen.add_(1)
            return x * 2

    g = trace_quiet(Counting(), (rnd(3),))
    with pytest.raises(RuntimeError, match="no backward.*in place"):
        g(rnd(3).requires_grad_())


_UNARY = ["exp", "sin", "tanh", "neg", "abs", "sigmoid", "relu"]
_BINARY = ["add", "sub", "mul", "maximum", "matmul", "where"]


@settings(max_examples=25)
@given(prog=st.lists(st.tuples(st.sampled_from(_UNARY + _BINARY), st.integers(0, 7), st.integers(0, 7)), min_size=1, max_size=8),
       transpose=st.booleans())
def test_random_op_chains_trace_to_eager(prog, transpose):
    def f(x, y):
        vals = [x, y.T if transpose else y]
        for op, i, j in prog:
            a, b = vals[i % len(vals)], vals[j % len(vals)]
            if op in _UNARY:
                vals.append(getattr(deepseek, op)(a.clamp(-3, 3)))
            elif op == "where":
                vals.append(deepseek.where(a > b, a, b * 0.5))
            else:
                vals.append(getattr(deepseek, op)(a, b))
        return vals[-1], vals[len(vals) // 2].sum(0)

    shape = (3, 3)
    g = trace_quiet(f, (rnd(*shape), rnd(*shape, seed=1)))
    a, b = rnd(*shape, seed=2), rnd(*shape, seed=3)
    for got, want in zip(g(a, b), f(a, b)):
        close(got, want, 1e-5)


def test_random_ops_draw_fresh_numbers_from_the_generator():
    def f(x):
        return x + deepseek.rand(3), deepseek.randn(2, 3)

    with deepseek.no_grad():
        g = trace_quiet(f, (rnd(3),))
        x = rnd(3, seed=1)
        deepseek.manual_seed(123)
        got1, got2 = g(x), g(x)
        deepseek.manual_seed(123)
        want1, want2 = f(x), f(x)
    for a, b in zip(got1 + got2, want1 + want2):
        close(a, b, 0)
    assert not np.allclose(np.asarray(got1[0]), np.asarray(got2[0]))
    assert any(n["op"] == "randn" for n in g.graph.nodes())


def test_a_tensor_first_read_through_a_slice_is_lifted_whole():
    """A captured tensor the function reads only through a slice becomes one state value covering
    its whole buffer (bound by reference), the slice a view of it."""
    import numpy as np

    w = deepseek.randn(6, 4)

    def fn(x):
        return x @ w[2:4].t()

    g = deepseek.jit.trace(fn, (deepseek.randn(3, 4),))
    states = [v for v in g.graph.values() if v["role"] == "state"]
    assert len({v["buffer"] for v in states}) == 1
    first = min(states, key=lambda v: v["id"])  # the value the buffer was bound as
    assert list(first["shape"]) == [6, 4] and first["offset"] == 0
    w.mul_(2.0)
    x = deepseek.randn(3, 4)
    np.testing.assert_allclose(g(x).numpy(), fn(x).numpy(), rtol=1e-6)
