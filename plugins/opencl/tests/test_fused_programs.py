"""Fused elementwise nodes as one generated kernel on opencl:0 (ABI 2.1's programs): the
rendered body (deepseek.backends.kernels.fused) built by the C table and launched once per
node run. Every result is checked bit for bit against the same graph run one launch a step on
the device (the unfused kernels), and against the CPU within float tolerances; launch counters
prove which path ran.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import deepseek as ds
from deepseek.backends.kernels import fused
from deepseek.testing.fused import elementwise_graph

TOL = {"float32": (1e-5, 1e-6), "float64": (1e-12, 1e-13), "bfloat16": (2e-2, 1e-2), "float16": (3e-3, 1e-3)}


@pytest.fixture(scope="module")
def ctable(dev):
    from deepseek_opencl import table

    if table.lib is None or not isinstance(table._table, int):
        pytest.skip("the OpenCL plugin's C table is not in use (not built, or DEEPSEEK_OPENCL_PYTHON_LAUNCH=1)")
    return table


def run(g, arrays, dtype, device, transposed=()):
    ts = []
    for i, a in enumerate(arrays):
        if i in transposed:
            a = np.ascontiguousarray(a.T)
        t = ds.tensor(a, dtype=getattr(ds, dtype)) if dtype != "bool" else ds.tensor(a)
        t = t.to(device)
        ts.append(t.T if i in transposed else t)
    outs = g.run(ts, [], 0, None)
    return [o.to("cpu").to(ds.float64).numpy() if dtype == "bfloat16" else o.to("cpu").numpy() for o in outs]


# --- rendering ---------------------------------------------------------------------------------

def test_render_declines_what_it_cannot_generate():
    assert fused.render(["mul", "tanh"], [0, 1, 2, -1], [3], 2, "float32").count(f"{fused.KERNEL}(") == 1
    half = fused.render(["tanh", "neg"], [0, -1, 1, -1], [2], 1, "float16")  # each step rounded through float16
    assert half.count("ds_round_f16(") == 3 and fused.ROUND_F16 in half  # two uses and the helper
    assert fused.render(["bitwise_not"], [0, -1], [1], 1, "float32") is None  # no expression for floats
    assert fused.render(["eq"], [0, 1], [2], 2, "float32") is None  # not a same-dtype family op
    assert fused.render(["add"], [0, 5], [2], 2, "float32") is None  # reads a register not yet computed
    many = fused.FMAXT  # FMAXT operands fit, one more does not
    assert fused.render(["add"] * (many - 2), [0, 1] + sum(([k + many - 1, 0] for k in range(many - 3)), []),
                        [2 * many - 4], many - 1, "float32") is not None
    assert fused.render(["add"] * (many - 1), [0, 1] + sum(([k + many, 0] for k in range(many - 2)), []),
                        [2 * many - 2], many, "float32") is None


def test_render_uses_the_family_expressions():
    body = fused.render(["sigmoid", "maximum"], [0, -1, 2, 1], [3], 2, "float64")
    from deepseek.backends.kernels import D, binary_expr, unary_expr

    assert unary_expr("sigmoid", D["float64"]) in body and binary_expr("maximum", D["float64"]) in body


# --- on opencl:0 ---------------------------------------------------------------------------------

UNARY_F = ["neg", "abs", "exp", "tanh", "sigmoid", "sqrt", "sin", "floor", "relu", "reciprocal", "erf"]
BINARY_F = ["add", "sub", "mul", "div", "maximum", "minimum", "pow", "atan2", "fmod"]
UNARY_I = ["neg", "abs", "sign", "relu", "bitwise_not"]
BINARY_I = ["add", "sub", "mul", "maximum", "minimum", "bitwise_xor", "bitwise_and"]


@st.composite
def programs(draw):
    dtype = draw(st.sampled_from(["float32", "float64", "bfloat16", "float16", "int32", "int64", "int16"]))
    floaty = dtype in TOL
    un, bi = (UNARY_F, BINARY_F) if floaty else (UNARY_I, BINARY_I)
    shape = draw(st.sampled_from([(3, 5), (2, 3, 4), (0, 4), (7,), (4, 1, 3)]))
    n_in = draw(st.integers(1, 3))
    in_shapes = []
    for _ in range(n_in):  # some inputs broadcast along leading or size-1 dims
        s = list(shape)
        if draw(st.booleans()) and len(s) > 1:
            k = draw(st.integers(0, len(s) - 1))
            s[k] = 1
        if draw(st.booleans()) and len(s) > 1:
            s = s[1:]
        in_shapes.append(tuple(s))
    ops, args = [], []
    for k in range(draw(st.integers(1, 6))):
        r = n_in + k
        a = draw(st.integers(max(0, r - 2), r - 1))  # mostly a chain on the latest values
        if draw(st.booleans()):
            ops.append(draw(st.sampled_from(un)))
            args += [a, -1]
        else:
            ops.append(draw(st.sampled_from(bi)))
            b = draw(st.integers(0, r - 1).filter(lambda b: b != a or r == 1))
            args += draw(st.sampled_from([[a, b], [b, a]]))
    # as fusion makes them: every step's value reaches an output (the sinks, and maybe one more)
    read = {x for x in args if x >= 0}
    last = n_in + len(ops) - 1
    outputs = sorted({r for r in range(n_in, last + 1) if r not in read} | {draw(st.integers(n_in, last))})
    transposed = tuple(i for i, s in enumerate(in_shapes) if len(s) == 2 and s == tuple(shape) and draw(st.booleans()))
    return dtype, shape, in_shapes, ops, args, outputs, transposed


def values_for(dtype, shape, rng):
    if dtype in TOL:
        return rng.uniform(0.2, 2.0, size=shape) * rng.choice([-1.0, 1.0], size=shape)
    return rng.integers(-50, 50, size=shape).astype(np.int64)


@settings(max_examples=16)
@given(programs(), st.integers(0, 2**31 - 1))
# the order of a non-commutative op's arguments, through a broadcast and a transposed input
@example(("float32", (3, 5), [(3, 5), (5,), (3, 5)], ["sub", "div", "atan2", "fmod"], [0, 1, 3, 2, 2, 4, 5, 0], [6],
          (2,)), 5)
@example(("bfloat16", (4, 1, 3), [(4, 1, 3), (1, 3)], ["mul", "exp", "sub", "tanh"], [0, 1, 2, -1, 3, 0, 4, -1], [3, 5],
          ()), 6)
@example(("int32", (2, 3), [(2, 3), (2, 3)], ["sub", "neg", "maximum"], [1, 0, 2, -1, 3, 0], [4], (0, 1)), 7)
# float16: every intermediate rounded through half as the per-step launches store it
@example(("float16", (3, 5), [(3, 5), (5,)], ["mul", "sigmoid", "div", "exp"], [0, 1, 2, -1, 3, 0, 4, -1], [3, 5],
          ()), 8)
def test_fused_kernel_equals_per_step_launches_and_the_cpu(ctable, prog, seed):
    dtype, shape, in_shapes, ops, args, outputs, transposed = prog
    rng = np.random.default_rng(seed)
    arrays = [values_for(dtype, s, rng) for s in in_shapes]
    body = fused.render(ops, args, outputs, len(in_shapes), dtype)
    assert body is not None
    g = elementwise_graph(ops, args, outputs, in_shapes, shape, dtype, "opencl:0", transposed)
    stepwise = elementwise_graph(ops, args, outputs, in_shapes, shape, dtype, "opencl:0", transposed)
    cpu = elementwise_graph(ops, args, outputs, in_shapes, shape, dtype, "cpu", transposed)
    assert g.attach_program(len(g.nodes()) - 1, fused.KERNEL, body)
    # the rendering attach makes: straight-line offsets for the operands' coalesced rank
    ranked = elementwise_graph(ops, args, outputs, in_shapes, shape, dtype, "opencl:0", transposed)
    rbody, rank = fused.render_node(ranked.nodes()[-1], ranked.values())
    assert rank is not None and rank == max(1, fused.coalesced_rank(shape, [
        v["strides"] for v in (ranked.values()[u] for u in ranked.nodes()[-1]["outputs"] + ranked.nodes()[-1]["inputs"])]))
    assert ranked.attach_program(len(ranked.nodes()) - 1, fused.KERNEL, rbody, rank)
    k0, p0 = ctable.launch_counts()
    got = run(g, arrays, dtype, "opencl:0", transposed)
    k1, p1 = ctable.launch_counts()
    # one generated kernel per run, no family kernel for the program's steps
    assert (p1 - p0, k1 - k0) == ((1, 0) if 0 not in shape else (0, 0))
    got_ranked = run(ranked, arrays, dtype, "opencl:0", transposed)
    k1b, p1b = ctable.launch_counts()
    assert (p1b - p1, k1b - k1) == ((1, 0) if 0 not in shape else (0, 0))
    k1, p1 = k1b, p1b
    want = run(stepwise, arrays, dtype, "opencl:0", transposed)
    k2, p2 = ctable.launch_counts()
    # one family kernel a step, then a copy into each output (the per-step path's temporaries)
    assert p2 == p1 and k2 - k1 == (len(ops) + len(outputs) if 0 not in shape else 0)
    ref = run(cpu, arrays, dtype, "cpu", transposed)
    for a, r, b, c in zip(got, got_ranked, want, ref):
        assert a.shape == tuple(shape)
        np.testing.assert_array_equal(a.view(np.uint8), b.view(np.uint8))  # bit for bit, NaNs included
        np.testing.assert_array_equal(r.view(np.uint8), b.view(np.uint8))
        if dtype in TOL:
            rtol, atol = TOL[dtype]
            np.testing.assert_allclose(a, c, rtol=rtol * 4 ** len(ops), atol=atol, equal_nan=True)
        else:
            np.testing.assert_array_equal(a, c)


def counted_run(ctable, gm, args):
    """Runs gm once warm, then once counted: (outputs, family kernels, generated programs)."""
    gm(*args)  # warm: device, programs and family kernels created
    k0, p0 = ctable.launch_counts()
    outs = gm(*args)
    k1, p1 = ctable.launch_counts()
    return outs, k1 - k0, p1 - p0


def test_traced_graph_loaded_on_opencl_runs_one_kernel_per_fused_node(ctable, tmp_path, monkeypatch):
    def f(x, b, w):
        h = ds.tanh(x * w + b)  # broadcast bias (an expand view)
        return ds.matmul(h, w.T), ds.sigmoid(h) * 2.0 - h

    x, b, w = ds.randn(6, 5), ds.randn(5), ds.randn(6, 5)
    with ds.no_grad():
        gm = ds.jit.trace(f, (x, b, w))
    fused_nodes = [n for n in gm.graph.nodes() if n["kind"] == "elementwise"]
    assert len(fused_nodes) >= 1
    ds.jit.save(gm, tmp_path / "g.dsg")
    on_dev = ds.jit.load(tmp_path / "g.dsg", map_location="opencl:0")
    assert on_dev._g.n_device_kernels() == len(fused_nodes)
    monkeypatch.setattr(fused, "attach", lambda g: 0)
    stepwise = ds.jit.load(tmp_path / "g.dsg", map_location="opencl:0")  # no generated kernels: one launch a step
    assert stepwise._g.n_device_kernels() == 0
    args = [t.to("opencl:0") for t in (x, b, w)]
    outs, kernels_fused, programs_fused = counted_run(ctable, on_dev, args)
    ref_dev, kernels_step, programs_step = counted_run(ctable, stepwise, args)
    # each fused node is one generated kernel instead of one family kernel a step
    assert programs_fused == len(fused_nodes) and programs_step == 0
    assert kernels_step - kernels_fused == sum(len(n["attrs"]["ops"]) + len(n["outputs"]) for n in fused_nodes)
    ref = gm(x, b, w)
    for a, d, r in zip(outs, ref_dev, ref):
        a = a.to("cpu").numpy()
        np.testing.assert_array_equal(a, d.to("cpu").numpy())
        np.testing.assert_allclose(a, r.numpy(), rtol=1e-5, atol=1e-6)


def test_a_kernel_for_fewer_dims_than_the_operands_have_is_not_launched(ctable):
    """A kernel rendered for rank 1 attached to a node whose operands coalesce to 2 dims (a
    broadcast row): the core runs the node one launch a step instead, with the right values."""
    ops, args, outputs = ["mul", "tanh"], [0, 1, 2, -1], [3]
    g = elementwise_graph(ops, args, outputs, [(4, 5), (5,)], (4, 5), "float32", "opencl:0")
    assert fused.render_node(g.nodes()[-1], g.values())[1] == 2
    assert g.attach_program(len(g.nodes()) - 1, fused.KERNEL, fused.render(ops, args, outputs, 2, "float32", rank=1), 1)
    rng = np.random.default_rng(0)
    arrays = [values_for("float32", s, rng) for s in [(4, 5), (5,)]]
    k0, p0 = ctable.launch_counts()
    (got,) = run(g, arrays, "float32", "opencl:0")
    k1, p1 = ctable.launch_counts()
    assert p1 == p0 and k1 - k0 == len(ops) + len(outputs)
    np.testing.assert_allclose(got, np.tanh(arrays[0] * arrays[1]), rtol=1e-5, atol=1e-6)


def test_compile_errors_name_the_node(ctable):
    g = elementwise_graph(["tanh"], [0, -1], [1], [(3,)], (3,), "float32", "opencl:0")
    node = len(g.nodes()) - 1
    with pytest.raises(RuntimeError, match=rf"elementwise node {node} \[r1=tanh\(r0\); -> r1\] on opencl:0: "
                                           r"compiling its generated kernel failed: .*k_fused"):
        g.attach_program(node, fused.KERNEL, "DS_KERNEL k_fused(this is not C) {}")
    assert g.n_device_kernels() == 0
    with pytest.raises(RuntimeError, match="not an elementwise one"):
        elementwise_graph(["tanh"], [0, -1], [1], [(3, 1)], (3, 2), "float32", "opencl:0").attach_program(0, "k", "x")
