"""Convolution epilogues in static graphs (graph::conv_epilogue, ops/conv_epilogue.rs): a
convolution followed by a per-channel shift (a frozen batch norm, a conv bias), a residual add
and a ReLU runs as one ``conv2d_epilogue`` node whose kernel applies them to each output block
as the GEMM (or Winograd's inverse transform) writes it. Traced results equal eager ones (bit
for bit where eager runs the same launches; within rounding after freezing folds a batch
norm), on every convolution path (im2col tiles, batched small images, 1x1 direct, Winograd);
the pass leaves chains alone when an intermediate is read elsewhere."""
from __future__ import annotations

import functools

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import deepseek
from deepseek import _core, nn
import deepseek.nn.functional as F
from jit_helpers import rnd as rnd64, trace


rnd = functools.partial(rnd64, dtype=np.float32)


def epilogues(gm):
    return [n["attrs"] for n in gm.graph.nodes() if n["kind"] == "fused" and n["op"] == "conv2d_epilogue"]


def randomize_bn(bn, seed, dtype=np.float32):
    rng = np.random.default_rng(seed)
    c = bn.num_features
    with deepseek.no_grad():
        bn.running_mean.copy_(deepseek.tensor(rng.standard_normal(c).astype(dtype)))
        bn.running_var.copy_(deepseek.tensor(rng.uniform(0.2, 3.0, c).astype(dtype)))
        bn.weight.copy_(deepseek.tensor(rng.uniform(-2, 2, c).astype(dtype)))
        bn.bias.copy_(deepseek.tensor(rng.standard_normal(c).astype(dtype)))
    return bn.eval()


@pytest.fixture
def conv_algorithm():
    yield _core._set_conv3x3_algorithm
    _core._set_conv3x3_algorithm("auto")


class ConvBlock(nn.Module):
    """conv -> batch norm -> (+ residual) -> (ReLU), the residual an extra input."""

    def __init__(self, cin, cout, k, stride, padding, groups, bias, relu, dtype, seed):
        super().__init__()
        deepseek.manual_seed(seed)
        self.conv = nn.Conv2d(cin, cout, k, stride=stride, padding=padding, groups=groups, bias=bias)
        self.bn = randomize_bn(nn.BatchNorm2d(cout), seed)
        self.relu = relu
        if dtype == np.float64:
            self.double()

    def forward(self, x, r):
        y = self.bn(self.conv(x))
        if r is not None:
            y = y + r
        return y.relu() if self.relu else y


def residual_of(kind, shape, seed, dtype):
    n, o, oh, ow = shape
    if kind == "full":
        return rnd(n, o, oh, ow, seed=seed, dtype=dtype)
    if kind == "transposed":  # a non-contiguous view
        return rnd(n, o, ow, oh, seed=seed, dtype=dtype).transpose(2, 3)
    if kind == "channel":
        return rnd(1, o, 1, 1, seed=seed, dtype=dtype)
    if kind == "spatial":
        return rnd(1, 1, oh, ow, seed=seed, dtype=dtype)
    if kind == "per_image_channel":
        return rnd(n, o, 1, 1, seed=seed, dtype=dtype)
    return None


def check_block(cin, cout, k, stride, padding, groups, bias, relu, residual, dtype, n, hw, seed):
    m = ConvBlock(cin, cout, k, stride, padding, groups, bias, relu, dtype, seed).eval()
    x = rnd(n, cin, hw, hw, seed=seed + 1, dtype=dtype)
    with deepseek.no_grad():
        shape = np.asarray(m.conv(x)).shape
    r = residual_of(residual, shape, seed + 2, dtype)
    args = (x, r) if r is not None else (x,)
    fn = (lambda x, r: m(x, r)) if r is not None else (lambda x: m(x, None))
    fn.named_parameters, fn.named_buffers = lambda: list(m.named_parameters()), lambda: list(m.named_buffers())
    f = deepseek.jit.freeze(trace(fn, args))
    eps = epilogues(f)
    assert len(eps) == 1, f.graph
    a = eps[0]
    assert a["has_shift"] and a["has_residual"] == (r is not None) and a["relu"] == relu
    assert (a["stride"], a["padding"], a["groups"]) == ([stride] * 2, [padding] * 2, groups)
    xs = rnd(n, cin, hw, hw, seed=seed + 3, dtype=dtype)
    args = (xs, r) if r is not None else (xs,)
    with deepseek.no_grad():
        got, want = np.asarray(f(*args)), np.asarray(fn(*args))
    tol = 1e-4 if dtype == np.float32 else 1e-10
    assert got.dtype == want.dtype
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * max(1.0, float(np.abs(want).max())))


@settings(max_examples=30)
@given(
    cin=st.integers(1, 6),
    cout=st.integers(1, 6),
    k=st.sampled_from([1, 3]),
    stride=st.integers(1, 2),
    padding=st.integers(0, 1),
    grouped=st.booleans(),
    bias=st.booleans(),
    relu=st.booleans(),
    residual=st.sampled_from(["none", "full", "transposed", "channel", "spatial", "per_image_channel"]),
    dtype=st.sampled_from([np.float32, np.float64]),
    n=st.integers(1, 3),
    hw=st.integers(3, 9),
    seed=st.integers(0, 2**16),
)
def test_frozen_conv_bn_residual_relu_matches_eager(cin, cout, k, stride, padding, grouped, bias, relu, residual, dtype, n, hw, seed):
    groups = 2 if grouped and cin % 2 == 0 and cout % 2 == 0 else 1
    check_block(cin, cout, k, stride, padding, groups, bias, relu, residual, dtype, n, hw, seed)


@pytest.mark.parametrize(
    "cin,cout,k,stride,padding,n,hw,algo",
    [
        (8, 16, 1, 1, 0, 2, 16, "auto"),  # 1x1 direct GEMM (256 positions)
        (8, 1024, 1, 1, 0, 1, 16, "auto"),  # ... in two column tiles
        (4, 8, 3, 1, 1, 2, 17, "im2col"),  # im2col tile of one large image
        (64, 8, 3, 1, 1, 1, 32, "im2col"),  # ... in three tiles
        (4, 8, 3, 1, 1, 3, 5, "im2col"),  # small images batched into one GEMM
        (4, 8, 3, 1, 1, 2, 11, "winograd"),  # Winograd's inverse transform, partial tiles
        (3, 5, 3, 1, 2, 1, 6, "winograd"),
    ],
)
@pytest.mark.parametrize("residual", ["full", "transposed", "channel"])
def test_every_convolution_path_applies_the_epilogue(conv_algorithm, cin, cout, k, stride, padding, n, hw, algo, residual):
    conv_algorithm(algo)
    check_block(cin, cout, k, stride, padding, 1, False, True, residual, np.float32, n, hw, 7)


def test_unfrozen_bias_residual_relu_is_bit_equal_to_eager():
    deepseek.manual_seed(3)
    conv = nn.Conv2d(4, 6, 3, padding=1, bias=True)

    def fn(x, r):
        return (conv(x) + r).relu()

    fn.named_parameters, fn.named_buffers = lambda: list(conv.named_parameters(prefix="conv")), lambda: []
    x, r = rnd(2, 4, 9, 9, seed=1), rnd(2, 6, 9, 9, seed=2)
    g = trace(fn, (x, r))
    (a,) = epilogues(g)
    assert a["has_shift"] and a["has_residual"] and a["relu"] and not a["has_scale"]
    assert [n["op"] for n in g.graph.nodes() if n["kind"] != "view"] == ["conv2d_epilogue"]
    for s in range(3):
        xs, rs = rnd(2, 4, 9, 9, seed=10 + s), rnd(2, 6, 9, 9, seed=20 + s)
        with deepseek.no_grad():
            np.testing.assert_array_equal(np.asarray(g(xs, rs)), np.asarray(fn(xs, rs)))


def test_nan_and_inf_propagate_as_in_the_separate_ops():
    deepseek.manual_seed(4)
    conv = nn.Conv2d(2, 3, 1, bias=True)

    def fn(x, r):
        return F.relu(conv(x) + r)

    fn.named_parameters, fn.named_buffers = lambda: list(conv.named_parameters(prefix="conv")), lambda: []
    x = rnd(1, 2, 4, 4, seed=1)
    r = np.random.default_rng(2).standard_normal((1, 3, 4, 4)).astype(np.float32)
    r.flat[[0, 5, 17, 30]] = [np.nan, np.inf, -np.inf, np.nan]
    xn = np.asarray(x).copy()
    xn[0, 1, 2, 3] = np.nan  # reaches every output channel at that position
    r, xn = deepseek.tensor(r), deepseek.tensor(xn)
    g = trace(fn, (x, r))
    assert len(epilogues(g)) == 1
    with deepseek.no_grad():
        got, want = np.asarray(g(xn, r)), np.asarray(fn(xn, r))
    np.testing.assert_array_equal(got, want)  # NaN where eager has NaN, the same infinities
    assert np.isnan(got).sum() == 3 + 2 and np.isposinf(got).any() and (got >= 0).sum() == got.size - 5


def test_the_pass_stops_where_an_intermediate_is_read_elsewhere():
    deepseek.manual_seed(5)
    conv = nn.Conv2d(3, 4, 3, padding=1, bias=True)
    plain = nn.Conv2d(3, 4, 3, padding=1, bias=False)
    x, r = rnd(2, 3, 6, 6, seed=1), rnd(2, 4, 6, 6, seed=2)
    params = lambda: list(conv.named_parameters(prefix="conv")) + list(plain.named_parameters(prefix="plain"))  # noqa: E731

    def shared_conv(x, r):
        y = plain(x)
        return (y + r).relu(), y * 2  # the convolution's own result is read twice

    def shared_sum(x, r):
        s = conv(x) + r
        return s.relu(), s  # the residual sum is a result of the graph

    def returned(x, r):
        return (conv(x) + r).relu()

    for fn, want in [(shared_conv, []), (shared_sum, [(True, True, False)]), (returned, [(True, True, True)])]:
        fn.named_parameters, fn.named_buffers = params, lambda: []
        g = trace(fn, (x, r))
        assert [(a["has_shift"], a["has_residual"], a["relu"]) for a in epilogues(g)] == want, fn.__name__
        with deepseek.no_grad():
            outs = g(x, r)
            ref = fn(x, r)
        outs, ref = (outs, ref) if isinstance(ref, tuple) else ((outs,), (ref,))
        for a_, b_ in zip(outs, ref):
            np.testing.assert_array_equal(np.asarray(a_), np.asarray(b_))


def test_a_write_between_the_convolution_and_its_tail_keeps_the_chain():
    deepseek.manual_seed(6)
    conv = nn.Conv2d(2, 2, 1, bias=False)

    def fn(x, r):
        y = conv(x)
        x.mul_(3.0)  # the convolution read x before this write: it must not move past it
        return (y + r).relu(), x

    fn.named_parameters, fn.named_buffers = lambda: list(conv.named_parameters(prefix="conv")), lambda: []
    x, r = rnd(1, 2, 4, 4, seed=1), rnd(1, 2, 4, 4, seed=2)
    g = trace(fn, (x.clone(), r))
    assert epilogues(g) == []
    x1, x2 = x.clone(), x.clone()
    with deepseek.no_grad():
        got, want = g(x1, r), fn(x2, r)
    for a_, b_ in zip(got, want):
        np.testing.assert_array_equal(np.asarray(a_), np.asarray(b_))


def test_frozen_epilogue_graph_saves_loads_and_refreezes(tmp_path):
    m = ConvBlock(3, 4, 3, 1, 1, 1, False, True, np.float32, 9)
    x, r = rnd(2, 3, 8, 8, seed=1), rnd(2, 4, 8, 8, seed=2)
    fn = lambda x, r: m(x, r)  # noqa: E731
    fn.named_parameters, fn.named_buffers = lambda: list(m.named_parameters()), lambda: list(m.named_buffers())
    f = deepseek.jit.freeze(trace(fn, (x, r)))
    assert len(epilogues(f)) == 1
    deepseek.jit.save(f, tmp_path / "f.dsg")
    h = deepseek.jit.load(tmp_path / "f.dsg")
    assert len(epilogues(h)) == 1
    with deepseek.no_grad():
        np.testing.assert_array_equal(np.asarray(h(x, r)), np.asarray(f(x, r)))
        # freezing a graph that already has epilogues expands and rebuilds them
        again = deepseek.jit.freeze(f)
        assert len(epilogues(again)) == 1
        np.testing.assert_allclose(np.asarray(again(x, r)), np.asarray(f(x, r)), rtol=1e-5, atol=1e-5)


def test_training_graphs_and_unfused_traces_keep_their_launches():
    deepseek.manual_seed(8)
    conv = nn.Conv2d(2, 3, 3, bias=True)

    def fn(x):
        return conv(x).relu()

    fn.named_parameters, fn.named_buffers = lambda: list(conv.named_parameters(prefix="conv")), lambda: []
    x = rnd(1, 2, 5, 5)
    assert epilogues(trace(fn, (x,), fuse=False)) == []
    assert len(epilogues(trace(fn, (x,)))) == 1
    g = deepseek.jit.trace(fn, (x.clone().requires_grad_(),))
    xg = x.clone().requires_grad_()
    g(xg).sum().backward()
    xe = x.clone().requires_grad_()
    fn(xe).sum().backward()
    np.testing.assert_allclose(np.asarray(xg.grad), np.asarray(xe.grad), rtol=1e-6, atol=1e-6)
