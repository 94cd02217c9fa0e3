"""deepseek.jit.freeze: a traced inference graph with its weights as constants, eval-mode batch
norms folded into the convolutions before them (weight rescaled, one bias add fused with the
ReLU or residual add after it); results match eager within f32 rounding and a float64 eager
run of the same model."""
from __future__ import annotations

import copy
import functools

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import deepseek
from deepseek import nn
from jit_helpers import rnd as rnd64, trace


rnd = functools.partial(rnd64, dtype=np.float32)


def randomize_bn(m, seed):
    """Running statistics and affine parameters far from their defaults (what folding moves)."""
    rng = np.random.default_rng(seed)
    with deepseek.no_grad():
        for mod in m.modules():
            if isinstance(mod, nn.BatchNorm2d):
                c = mod.num_features
                mod.running_mean.copy_(deepseek.tensor(rng.standard_normal(c).astype(np.float32)))
                mod.running_var.copy_(deepseek.tensor(rng.uniform(0.2, 3.0, c).astype(np.float32)))
                if mod.affine:
                    mod.weight.copy_(deepseek.tensor(rng.uniform(-2, 2, c).astype(np.float32)))
                    mod.bias.copy_(deepseek.tensor(rng.standard_normal(c).astype(np.float32)))
    return m


def reference(m, x):
    """The model run eagerly in float64 (the exact result f32 runs approximate)."""
    with deepseek.no_grad():
        return np.asarray(copy.deepcopy(m).double()(x.double()))


def epilogue_kinds(gm):
    """(has_shift, has_residual, relu) of each convolution epilogue node."""
    return [(n["attrs"]["has_shift"], n["attrs"]["has_residual"], n["attrs"]["relu"]) for n in gm.graph.nodes() if n["op"] == "conv2d_epilogue"]


def ops_of(gm):
    out = []
    for n in gm.graph.nodes():
        out += n["attrs"]["ops"] if n["kind"] == "elementwise" else [n["op"]]
    return out


class Block(nn.Module):
    """A ResNet bottleneck-like block: conv-BN-ReLU, conv-BN, residual add, ReLU."""

    def __init__(self, c):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)
        self.conv2, self.bn2 = nn.Conv2d(c, c, 1, bias=False), nn.BatchNorm2d(c)

    def forward(self, x):
        y = self.bn1(self.conv1(x)).relu()
        return (self.bn2(self.conv2(y)) + x).relu()


def _net():
    deepseek.manual_seed(0)
    return randomize_bn(nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.BatchNorm2d(8), nn.ReLU(), Block(8), Block(8)), 1).eval()


def test_freeze_folds_batch_norms_into_convolutions():
    m = _net()
    x = rnd(2, 3, 12, 12)
    g = trace(m, (x,))
    f = deepseek.jit.freeze(g)
    assert f._folded_convs == 5
    ops = ops_of(f)
    assert ops.count("conv2d_epilogue") == 5 and "conv2d" not in ops and "sub" not in ops and "rsqrt" not in ops and "relu" not in ops
    # each bias add runs as the convolution's epilogue with the ReLU (and the residual add) after it
    assert sorted(epilogue_kinds(f)) == sorted([(True, False, True)] * 3 + [(True, True, True)] * 2)
    assert not [n for n in f.graph.nodes() if n["kind"] == "elementwise"]
    assert f.graph.state_names() == []  # every weight is a constant now
    for s in range(3):
        xs = rnd(2, 3, 12, 12, seed=10 + s)
        with deepseek.no_grad():
            got, want, unfrozen = np.asarray(f(xs)), np.asarray(m(xs)), np.asarray(g(xs))
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(got, reference(m, xs), rtol=1e-4, atol=1e-4)
        np.testing.assert_array_equal(unfrozen, want)


def test_freeze_sees_no_later_weight_update_and_keeps_preserved_state():
    m = _net()
    x = rnd(2, 3, 12, 12)
    g = trace(m, (x,))
    f = deepseek.jit.freeze(g)
    kept = deepseek.jit.freeze(g, preserved_attrs=["0.weight"])
    assert kept.graph.state_names() == ["0.weight"] and kept._folded_convs == 4  # its BN cannot fold
    with deepseek.no_grad():
        before = np.asarray(f(x))
        m[0].weight.mul_(2.0)
        np.testing.assert_array_equal(np.asarray(f(x)), before)
        want = np.asarray(m(x))
        np.testing.assert_array_equal(np.asarray(g(x)), want)  # the unfrozen graph binds by reference
        np.testing.assert_allclose(np.asarray(kept(x)), want, rtol=1e-4, atol=1e-4)
    assert np.abs(want - before).max() > 1e-2


def test_freeze_without_numeric_changes_is_bit_equal():
    m = _net()
    x = rnd(2, 3, 12, 12)
    g = trace(m, (x,))
    f = deepseek.jit.freeze(g, optimize_numerics=False)
    assert f._folded_convs == 0 and "rsqrt" not in ops_of(f)  # weights-only work still precomputed
    with deepseek.no_grad():
        np.testing.assert_array_equal(np.asarray(f(rnd(2, 3, 12, 12, seed=5))), np.asarray(m(rnd(2, 3, 12, 12, seed=5))))


def test_freeze_errors():
    m = _net()
    x = rnd(2, 3, 12, 12)
    with pytest.raises(TypeError, match="expected a GraphModule"):
        deepseek.jit.freeze(m)
    m.train()
    with deepseek.no_grad():
        g = deepseek.jit.trace(m, (x,))
    with pytest.raises(RuntimeError, match="eval mode"):
        deepseek.jit.freeze(g)
    m.eval()
    f = deepseek.jit.freeze(trace(m, (x,)))
    with pytest.raises(RuntimeError, match="preserved_attrs.*nope"):
        deepseek.jit.freeze(trace(m, (x,)), preserved_attrs=["nope"])
    with pytest.raises(RuntimeError, match="frozen graph is for inference"):
        f(x.clone().requires_grad_())


def test_a_shared_or_returned_intermediate_is_not_folded():
    deepseek.manual_seed(0)
    conv, bn = nn.Conv2d(2, 3, 3), randomize_bn(nn.BatchNorm2d(3), 2).eval()

    def fn(x):
        y = conv(x)
        return bn(y).relu(), y * 2  # the conv's result is read twice: no fold

    fn.named_parameters = lambda: list(conv.named_parameters(prefix="conv")) + list(bn.named_parameters(prefix="bn"))
    fn.named_buffers = lambda: list(bn.named_buffers(prefix="bn"))
    x = rnd(1, 2, 6, 6)
    f = deepseek.jit.freeze(trace(fn, (x,)))
    assert f._folded_convs == 0
    with deepseek.no_grad():
        for a, b in zip(f(x), fn(x)):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-5)


def test_frozen_graph_saves_and_loads(tmp_path):
    m = _net()
    x = rnd(2, 3, 12, 12)
    f = deepseek.jit.freeze(trace(m, (x,)))
    deepseek.jit.save(f, tmp_path / "f.dsg")
    h = deepseek.jit.load(tmp_path / "f.dsg")
    with deepseek.no_grad():
        np.testing.assert_array_equal(np.asarray(h(x)), np.asarray(f(x)))


def test_compile_with_freezing_folds_inference_graphs():
    m = _net()
    fast = deepseek.compile(m, options={"freezing": True})
    with deepseek.no_grad():
        for s in range(3):  # the first call traces, later ones run the frozen graph
            xs = rnd(2, 3, 12, 12, seed=s)
            np.testing.assert_allclose(np.asarray(fast(xs)), np.asarray(m(xs)), rtol=1e-4, atol=1e-4)
    (gm,) = fast.cache.values()
    assert gm._folded_convs == 5 and fast.traces == 1


@settings(max_examples=12)
@given(
    cin=st.integers(1, 4),
    cout=st.integers(1, 5),
    k=st.sampled_from([1, 3]),
    stride=st.integers(1, 2),
    groups=st.sampled_from([1, 0]),
    bias=st.booleans(),
    affine=st.booleans(),
    tail=st.sampled_from(["relu", "none", "residual"]),
    seed=st.integers(0, 2**16),
)
def test_folding_matches_float64_eager(cin, cout, k, stride, groups, bias, affine, tail, seed):
    g_ = cin if groups == 0 and cin == cout else 1  # depthwise when the channels allow it
    deepseek.manual_seed(seed)
    conv = nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, groups=g_, bias=bias)
    bn = randomize_bn(nn.BatchNorm2d(cout, affine=affine), seed).eval()
    m = nn.Sequential(conv, bn)
    x = rnd(2, cin, 7, 7, seed=seed)
    skip = rnd(*np.asarray(m(x).detach()).shape, seed=seed + 1) if tail == "residual" else None

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.m = m

        def forward(self, x):
            y = self.m(x)
            if tail == "relu":
                return y.relu()
            return y + skip if tail == "residual" else y

    net = Net().eval()
    f = deepseek.jit.freeze(trace(net, (x,)))
    assert f._folded_convs == 1
    xs = rnd(2, cin, 7, 7, seed=seed + 2)
    with deepseek.no_grad():
        got = np.asarray(f(xs))
        np.testing.assert_allclose(got, np.asarray(net(xs)), rtol=1e-4, atol=1e-4)
    ref = copy.deepcopy(net).double()
    if skip is not None:
        skip = skip.double()
    with deepseek.no_grad():
        np.testing.assert_allclose(got, np.asarray(ref(xs.double())), rtol=1e-4, atol=1e-4)


def test_written_state_stays_bound_and_loaded_graphs_freeze(tmp_path):
    class Counting(nn.Module):
        """Counts its calls in a buffer the graph writes (which freezing must leave bound)."""

        def __init__(self):
            super().__init__()
            self.conv, self.bn = nn.Conv2d(2, 3, 3), randomize_bn(nn.BatchNorm2d(3), 3)
            self.register_buffer("calls", deepseek.zeros(1))

        def forward(self, x):
            self.calls.add_(1.0)
            return self.bn(self.conv(x)).relu()

    m = Counting().eval()
    x = rnd(1, 2, 6, 6)
    g = trace(m, (x,))
    deepseek.jit.save(g, tmp_path / "g.dsg")
    # the frozen graph's run counts into the module's buffer (the trace counted once): 1 + 2
    f = deepseek.jit.freeze(g)
    loaded = deepseek.jit.freeze(deepseek.jit.load(tmp_path / "g.dsg"))  # binds the file's own copy
    for h, count in ((f, 3.0), (loaded, 4.0)):
        assert h.graph.state_names() == ["calls"] and h._folded_convs == 1
        with deepseek.no_grad():
            np.testing.assert_allclose(np.asarray(h(x)), np.asarray(m(x)), rtol=1e-5, atol=1e-5)
        assert float(m.calls.item()) == count


def _zoo_block(downsample, seed):
    from deepseek.models.resnet import BasicBlock

    deepseek.manual_seed(seed)
    ds = nn.Sequential(nn.Conv2d(4, 6, 1, stride=2, bias=False), nn.BatchNorm2d(6)) if downsample else None
    return randomize_bn(BasicBlock(4, 6 if downsample else 4, stride=2 if downsample else 1, downsample=ds), seed).eval()


@pytest.mark.parametrize("downsample", [False, True])
def test_zoo_residual_relu_block_folds(downsample):
    # the zoo's BasicBlock ends in one fused batch_norm_act (residual add and ReLU included)
    m = _zoo_block(downsample, 3)
    x = rnd(2, 4, 8, 8, seed=4)
    g = trace(m, (x,))
    assert ops_of(g).count("batch_norm_act") == 2 + downsample
    f = deepseek.jit.freeze(g)
    ops = ops_of(f)
    assert f._folded_convs == 2 + downsample and "batch_norm_act" not in ops and "mul" not in ops
    assert ops.count("conv2d_epilogue") == 2 + downsample and "conv2d" not in ops and "relu" not in ops
    # shift + ReLU, then shift + residual + ReLU, each a convolution's epilogue (with a
    # downsample, one of the two convolutions before the residual add takes it)
    kinds = sorted(epilogue_kinds(f))
    assert kinds == ([(True, False, False)] if downsample else []) + [(True, False, True), (True, True, True)]
    for s in range(2):
        xs = rnd(2, 4, 8, 8, seed=20 + s)
        with deepseek.no_grad():
            got = np.asarray(f(xs))
            np.testing.assert_allclose(got, np.asarray(m(xs)), rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(got, reference(m, xs), rtol=1e-4, atol=1e-4)


def test_float64_folding_is_exact_to_rounding():
    # in f64 the folded graph differs from eager by a few ulps only
    m = _zoo_block(True, 5).double()
    x = rnd(2, 4, 8, 8, seed=6, dtype=np.float64)
    f = deepseek.jit.freeze(trace(m, (x,)))
    assert f._folded_convs == 3 and "batch_norm_act" not in ops_of(f)
    xs = rnd(2, 4, 8, 8, seed=7, dtype=np.float64)
    with deepseek.no_grad():
        got, want = np.asarray(f(xs)), np.asarray(m(xs))
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_a_batch_norm_with_no_convolution_before_it_keeps_its_kernel():
    # nothing to fold into: the one-pass batch_norm_act kernel outruns the elementwise loop
    from deepseek.nn import functional as F

    bn = randomize_bn(nn.BatchNorm2d(3), 8).eval()
    bias = rnd(1, 3, 1, 1, seed=9)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.bn = bn

        def forward(self, x):
            return F._batch_norm_act(x.tanh() + bias, *self.bn._batch_norm_args(x), residual=x, relu=True)

    net = Net().eval()
    x = rnd(2, 3, 5, 5, seed=10)
    f = deepseek.jit.freeze(trace(net, (x,)))
    assert f._folded_convs == 0 and ops_of(f).count("batch_norm_act") == 1
    xs = rnd(2, 3, 5, 5, seed=11)
    with deepseek.no_grad():
        np.testing.assert_array_equal(np.asarray(f(xs)), np.asarray(net(xs)))
