"""Graphs traced directly on opencl:0 (``jit.trace``, ``deepseek.compile``, a GraphModule's
backward, ``trace_train_step``) fuse their elementwise groups and run each fused node as one
generated kernel, compiled once when the graph is finished: launch counters prove it, results
equal the same trace run one launch a step bit for bit, and the CPU within float tolerances.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import deepseek as ds
import deepseek.nn as nn

DEV = "opencl:0"
TOL = {"float32": (2e-5, 1e-6), "float64": (1e-12, 1e-13), "bfloat16": (3e-2, 1e-2), "float16": (4e-3, 1e-3)}


@pytest.fixture(scope="module")
def ctable(dev):
    from deepseek_opencl import table

    if table.lib is None or not isinstance(table._table, int):
        pytest.skip("the OpenCL plugin's C table is not in use (not built, or DEEPSEEK_OPENCL_PYTHON_LAUNCH=1)")
    return table


def fused_nodes(graph):
    return [n for n in graph.nodes() if n["kind"] == "elementwise"]


def counted(ctable, fn, *args):
    """``fn(*args)`` once warm, then once counted: (result, family kernels, generated programs)."""
    fn(*args)
    k0, p0 = ctable.launch_counts()
    out = fn(*args)
    k1, p1 = ctable.launch_counts()
    return out, k1 - k0, p1 - p0


def host(t):
    return (t.to("cpu").to(ds.float64) if t.dtype in (ds.bfloat16, ds.float16) else t.to("cpu")).numpy()


def bits(t):
    """The bytes of ``t``'s values; half types widened to float32, which keeps every bit."""
    a = t.to("cpu")
    return (a.to(ds.float32) if a.dtype in (ds.bfloat16, ds.float16) else a).numpy().view(np.uint8)


# --- random chains, traced on the device -------------------------------------------------------

UNARY = {"tanh": ds.tanh, "sigmoid": ds.sigmoid, "neg": ds.neg, "abs": ds.abs, "sin": ds.sin, "relu": ds.relu,
         "exp": lambda x: ds.exp(ds.neg(ds.abs(x))), "floor": ds.floor}
BINARY = {"add": ds.add, "sub": ds.sub, "mul": ds.mul, "maximum": ds.maximum, "minimum": ds.minimum}


@st.composite
def chains(draw):
    dtype = draw(st.sampled_from(["float32", "float64", "bfloat16", "float16"]))
    shape = draw(st.sampled_from([(3, 5), (2, 3, 4), (0, 4), (7,), (4, 1, 3)]))
    steps = []
    for k in range(draw(st.integers(2, 7))):
        if draw(st.booleans()):
            steps.append(("u", draw(st.sampled_from(sorted(UNARY))), None))
        else:  # the other operand: an earlier value, the broadcast row, or a Python scalar
            steps.append(("b", draw(st.sampled_from(sorted(BINARY))), draw(st.sampled_from(["prev", "row", "x", 0.75]))))
    transposed = len(shape) == 2 and draw(st.booleans())
    return dtype, shape, steps, transposed


def chain_fn(steps, transposed):
    def f(x, row, w):
        xs = [x, w.T] if transposed else [x]  # a transposed view read in place by the kernel
        h = x
        for kind, op, other in steps:
            if kind == "u":
                h2 = UNARY[op](h)
            else:
                y = {"prev": xs[-1], "row": row, "x": x}.get(other, other)
                h2 = BINARY[op](h, y)
            xs.append(h)
            h = h2
        return h, ds.matmul(h.reshape(-1, 1), row[:1].reshape(1, 1)) if h.numel() else h
    return f


def chain_inputs(dtype, shape, transposed, seed):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.2, 2.0, size=shape) * rng.choice([-1.0, 1.0], size=shape)
    row = rng.uniform(-1.5, 1.5, size=shape[-1:])
    w = rng.uniform(-1.5, 1.5, size=shape[::-1]) if transposed else np.zeros(1)
    dt = getattr(ds, dtype)
    return [ds.tensor(a).to(dt) for a in (x, row, w)]


@settings(max_examples=12)
@given(chains(), st.integers(0, 2**31 - 1))
@example(("float32", (3, 5), [("b", "mul", 0.75), ("u", "tanh", None), ("b", "sub", "row"), ("u", "sigmoid", None),
                              ("b", "maximum", "prev")], True), 3)
@example(("float16", (2, 3, 4), [("u", "sigmoid", None), ("b", "mul", "x"), ("u", "tanh", None), ("b", "add", 0.75)],
          False), 4)
def test_traced_on_device_runs_one_kernel_per_fused_node(ctable, prog, seed):
    dtype, shape, steps, transposed = prog
    f = chain_fn(steps, transposed)
    cpu_in = chain_inputs(dtype, shape, transposed, seed)
    dev_in = [t.to(DEV) for t in cpu_in]
    with ds.no_grad():
        gm = ds.jit.trace(f, dev_in)
        stepwise = ds.jit.trace(f, dev_in, fuse=False)  # the same ops, one launch each
        ref = ds.jit.trace(f, cpu_in)(*cpu_in)
    nodes = fused_nodes(gm.graph)
    assert nodes and not fused_nodes(stepwise.graph)
    # one compiled kernel per distinct program (nodes with the same program share it)
    assert gm._g.n_device_kernels() == len({repr(sorted(n["attrs"].items())) for n in nodes})
    got, k_fused, p_fused = counted(ctable, gm, *dev_in)
    want, k_step, p_step = counted(ctable, stepwise, *dev_in)
    empty = 0 in shape
    assert p_fused == (0 if empty else len(nodes)) and p_step == 0
    # each fused node replaces one family kernel per step of its program
    assert k_step - k_fused == (0 if empty else sum(len(n["attrs"]["ops"]) for n in nodes))
    for a, b, c in zip(got, want, ref):
        assert a.device.type == "opencl" and tuple(a.shape) == tuple(c.shape)
        np.testing.assert_array_equal(bits(a), bits(b))  # bit for bit, NaNs included
        rtol, atol = TOL[dtype]
        np.testing.assert_allclose(host(a), host(c), rtol=rtol * 2 ** len(steps), atol=atol * 2 ** len(steps), equal_nan=True)


def test_python_numbers_on_the_device_merge_into_one_operand_each(ctable):
    """Each Python number of a traced chain is its own constant on the device too; equal ones
    merge (read back once), so a 32-step chain of three numbers is one kernel of 4 operands,
    not a per-step fallback past FMAXT operands."""
    def f(x):
        for _ in range(8):
            x = x * 0.9 + 0.1 - x * 0.5
        return x

    x = ds.randn(16, 32)
    with ds.no_grad():
        gm = ds.jit.trace(f, (x.to(DEV),))
    (node,) = fused_nodes(gm.graph)
    assert len(node["inputs"]) == 4 and len(node["attrs"]["ops"]) == 32
    out, kernels, programs = counted(ctable, gm, x.to(DEV))
    assert (kernels, programs) == (0, 1)
    np.testing.assert_allclose(out.to("cpu").numpy(), f(x).numpy(), rtol=1e-5, atol=1e-6)


# --- compile, backward graphs, training steps -----------------------------------------------------

def test_compile_on_the_device_fuses_and_compiles_once(ctable):
    def f(x, b):
        return ds.tanh(x * 0.5 + b) * ds.sigmoid(x) - x

    fast = ds.compile(f)
    x, b = ds.randn(8, 16), ds.randn(16)
    xd, bd = x.to(DEV), b.to(DEV)
    with ds.no_grad():
        first = fast(xd, bd)  # traces (and compiles the fused node)
        (gm,) = fast.cache.values()
        nodes = fused_nodes(gm.graph)
        assert len(nodes) == 1 and gm._g.n_device_kernels() == 1
        out, kernels, programs = counted(ctable, fast, xd, bd)
    assert programs == 1 and kernels == 0 and fast.traces == 1
    ref = f(x, b).numpy()
    np.testing.assert_allclose(first.to("cpu").numpy(), ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(out.to("cpu").numpy(), first.to("cpu").numpy())


def test_backward_graph_traced_on_the_device_gets_its_kernels(ctable):
    def f(x, w):
        return ds.tanh(x * w + 0.5) * ds.sigmoid(x)

    rng = np.random.default_rng(3)
    x = ds.tensor(rng.standard_normal((4, 6)).astype(np.float32)).to(DEV).requires_grad_()
    w = ds.tensor(rng.standard_normal((4, 6)).astype(np.float32)).to(DEV).requires_grad_()
    gm = ds.jit.trace(f, (x, w))
    ((_, bwd),) = gm._bwds.items()
    bgraph = bwd[0]  # the forward recomputed and the backward: one fused node, compiled
    assert len(fused_nodes(bgraph)) == 1 and bgraph.n_device_kernels() == 1
    gy = ds.tensor(rng.standard_normal((4, 6)).astype(np.float32)).to(DEV)
    gm(x, w).backward(gy)
    k0, p0 = ctable.launch_counts()
    gm(x, w).backward(gy)  # counted: the forward's node and the backward graph's node
    k1, p1 = ctable.launch_counts()
    assert p1 - p0 == len(fused_nodes(gm.graph)) + 1
    got = [t.grad.to("cpu").numpy() / 2 for t in (x, w)]  # two backward passes accumulated
    x.grad, w.grad = None, None
    f(x, w).backward(gy)  # eager on the device: the same kernels one by one
    for a, t in zip(got, (x, w)):
        np.testing.assert_allclose(a, t.grad.to("cpu").numpy(), rtol=1e-5, atol=1e-6)


def test_train_step_with_the_model_on_the_device(ctable):
    def make(device):
        ds.manual_seed(0)
        m = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 4), nn.Sigmoid()).to(device)
        return m, ds.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)

    rng = np.random.default_rng(1)
    x = ds.tensor(rng.standard_normal((5, 8)).astype(np.float32))
    y = ds.tensor(rng.uniform(size=(5, 4)).astype(np.float32))
    losses = {}
    for device in ("cpu", DEV):
        m, opt = make(device)
        xd, yd = x.to(device), y.to(device)
        step = ds.jit.trace_train_step(m, nn.functional.mse_loss, opt, xd, yd)
        losses[device] = [float(step(xd, yd).to("cpu")) for _ in range(3)]
        if device != "cpu":
            g = step.graph_module._g
            nodes = fused_nodes(step.graph_module.graph)
            assert nodes and g.n_device_kernels() >= 1
            _, _, programs = counted(ctable, step, xd, yd)
            assert programs == len(nodes)  # every fused node of the step is one generated kernel
    np.testing.assert_allclose(losses[DEV], losses["cpu"], rtol=1e-5)
