"""Lazy modules: materialised on the first forward into the regular layer (same parameter
objects, so an optimizer built before trains them), lazy state_dicts, loading real weights."""
from __future__ import annotations

import numpy as np
import pytest

import deepseek
from deepseek import nn
from deepseek.nn import functional as F


def npy(t):
    return np.asarray(t.detach())


@pytest.mark.parametrize("lazy,regular,inp,kw", [
    (nn.LazyLinear, nn.Linear, (4, 5), dict(out_features=3)),
    (nn.LazyConv1d, nn.Conv1d, (2, 3, 9), dict(out_channels=4, kernel_size=3)),
    (nn.LazyConv2d, nn.Conv2d, (2, 4, 6, 6), dict(out_channels=6, kernel_size=3, groups=2)),
    (nn.LazyConv3d, nn.Conv3d, (1, 2, 4, 4, 4), dict(out_channels=2, kernel_size=2)),
    (nn.LazyConvTranspose1d, nn.ConvTranspose1d, (2, 3, 5), dict(out_channels=2, kernel_size=3, stride=2)),
    (nn.LazyConvTranspose2d, nn.ConvTranspose2d, (1, 4, 3, 3), dict(out_channels=2, kernel_size=2, groups=2)),
    (nn.LazyConvTranspose3d, nn.ConvTranspose3d, (1, 2, 2, 2, 2), dict(out_channels=3, kernel_size=2)),
    (nn.LazyBatchNorm1d, nn.BatchNorm1d, (5, 3), {}),
    (nn.LazyBatchNorm2d, nn.BatchNorm2d, (2, 3, 4, 4), {}),
    (nn.LazyBatchNorm3d, nn.BatchNorm3d, (2, 3, 2, 2, 2), {}),
    (nn.LazyInstanceNorm1d, nn.InstanceNorm1d, (2, 3, 5), dict(affine=True, track_running_stats=True)),
    (nn.LazyInstanceNorm2d, nn.InstanceNorm2d, (2, 3, 4, 4), {}),
    (nn.LazyInstanceNorm3d, nn.InstanceNorm3d, (2, 3, 2, 2, 2), dict(affine=True)),
], ids=lambda v: v.__name__ if isinstance(v, type) else None)
def test_lazy_becomes_the_regular_layer(lazy, regular, inp, kw):
    deepseek.manual_seed(0)
    m = lazy(**kw)
    params = list(m.parameters())
    assert all(isinstance(p, nn.UninitializedParameter) for p in params)
    assert all(repr(p) == "<UninitializedParameter>" for p in params)
    x = deepseek.randn(*inp)
    y = m(x)
    assert type(m) is regular
    assert [id(p) for p in m.parameters()] == [id(p) for p in params]   # the same objects, materialised
    assert all(type(p) is nn.Parameter and p.requires_grad for p in m.parameters())
    assert all(type(b) is deepseek.Tensor for b in m.buffers())
    # the layer's parameters and its output are the regular layer's for the same weights
    ref = regular(inp[1] if lazy is not nn.LazyLinear else inp[-1], *([kw.pop("out_channels")] if "out_channels" in kw
                  else [kw.pop("out_features")] if "out_features" in kw else []), **kw)
    assert [tuple(p.shape) for p in ref.parameters()] == [tuple(p.shape) for p in m.parameters()]
    assert [tuple(b.shape) for b in ref.buffers()] == [tuple(b.shape) for b in m.buffers()]
    ref.load_state_dict(m.state_dict())
    m.eval(), ref.eval()
    np.testing.assert_allclose(npy(m(x)), npy(ref(x)), rtol=1e-6, atol=1e-6)
    assert y.shape == ref.train()(x).shape


def test_lazy_linear_initialises_like_linear():
    m = nn.LazyLinear(200)
    m(deepseek.ones(2, 50))
    w, b = npy(m.weight), npy(m.bias)
    bound = 1 / np.sqrt(50)
    assert m.in_features == 50 and np.abs(w).max() <= bound and np.abs(b).max() <= bound
    assert w.std() > bound / 3          # kaiming-uniform spread, not zeros
    bn = nn.LazyBatchNorm1d()
    bn(deepseek.randn(4, 3))
    assert npy(bn.weight).tolist() == [1, 1, 1] and npy(bn.bias).tolist() == [0, 0, 0]
    assert int(bn.num_batches_tracked) == 1


def test_optimizer_built_before_the_first_call_trains_the_parameters():
    deepseek.manual_seed(1)
    m = nn.Sequential(nn.LazyLinear(4), nn.ReLU(), nn.LazyLinear(1))
    opt = deepseek.optim.Adam(m.parameters(), lr=0.05)
    x = deepseek.randn(16, 3)
    t = x.sum(1, keepdim=True)
    losses = []
    for _ in range(30):
        opt.zero_grad()
        loss = F.mse_loss(m(x), t)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert type(m[0]) is nn.Linear and m[0].weight.shape == (4, 3)
    assert losses[-1] < 0.5 * losses[0]
    assert all(id(p) in {id(q) for g in opt.param_groups for q in g["params"]} for p in m.parameters())


def test_lazy_state_dict_and_loading():
    m = nn.LazyLinear(3)
    sd = m.state_dict()
    assert set(sd) == {"weight", "bias"} and all(isinstance(v, nn.UninitializedParameter) for v in sd.values())
    full = nn.LazyLinear(3)
    full(deepseek.ones(2, 4))
    m2 = nn.LazyLinear(3)
    m2.load_state_dict(full.state_dict())         # materialises at the loaded shapes
    assert type(m2) is nn.LazyLinear and m2.weight.shape == (3, 4)
    np.testing.assert_array_equal(npy(m2.weight), npy(full.weight))
    y = m2(deepseek.ones(1, 4))                   # the loaded values stay
    assert type(m2) is nn.Linear
    np.testing.assert_allclose(npy(y), npy(full(deepseek.ones(1, 4))))
    nn.LazyLinear(3).load_state_dict(nn.LazyLinear(3).state_dict())   # lazy into lazy
    with pytest.raises(RuntimeError, match="uninitialized parameter"):
        nn.Linear(4, 3).load_state_dict(nn.LazyLinear(3).state_dict())
    bn = nn.LazyBatchNorm2d()
    assert set(bn.state_dict()) == {"weight", "bias", "running_mean", "running_var", "num_batches_tracked"}
    # PyTorch's keys, so its checkpoints load (instance norms carry an uncounted num_batches_tracked)
    keys = ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    assert list(nn.LazyInstanceNorm2d(affine=True, track_running_stats=True).state_dict()) == keys
    assert list(nn.InstanceNorm1d(3, affine=True, track_running_stats=True).state_dict()) == keys
    ref = nn.BatchNorm2d(5)
    bn.load_state_dict(ref.state_dict())
    assert bn.running_var.shape == (5,) and type(bn.running_var) is deepseek.Tensor


def test_uninitialized_parameters_refuse_use_and_convert_lazily():
    p = nn.UninitializedParameter()
    assert p.requires_grad and p.dtype == deepseek.float32
    with pytest.raises(RuntimeError, match="shape of an uninitialized"):
        p.shape
    with pytest.raises(ValueError, match="uninitialized parameter"):
        p + 1
    with pytest.raises(ValueError, match="uninitialized parameter"):
        p.sum()
    m = nn.LazyLinear(2).double()                 # dtype changes keep it lazy
    assert isinstance(m.weight, nn.UninitializedParameter) and m.weight.dtype == deepseek.float64
    assert m(deepseek.ones(3, 5, dtype=deepseek.float64)).dtype == deepseek.float64
    b = nn.UninitializedBuffer()
    assert not b.requires_grad
    b.materialize((2, 3))
    assert b.shape == (2, 3) and isinstance(b, deepseek.Tensor)
    q = nn.UninitializedParameter(dtype=deepseek.float64)
    q.materialize(4)
    assert type(q) is nn.Parameter and q.shape == (4,) and q.dtype == deepseek.float64 and q.requires_grad
    assert "LazyLinear(in_features=0, out_features=2" in repr(nn.LazyLinear(2))


def test_deepcopy_of_a_lazy_module_stays_lazy_and_apart():
    import copy

    m = nn.Sequential(nn.LazyLinear(3).double(), nn.LazyBatchNorm1d())
    c = copy.deepcopy(m)
    for a, b in ((m[0].weight, c[0].weight), (m[1].running_mean, c[1].running_mean)):
        assert type(b) is type(a) and b is not a
        assert (b.requires_grad, b.dtype) == (a.requires_grad, a.dtype)
    assert c[0].weight.dtype == deepseek.float64 and c[0].weight.requires_grad
    assert isinstance(c[1].running_mean, nn.UninitializedBuffer) and not c[1].running_mean.requires_grad
    # the copy materialises on its own input; the original stays lazy until its first call
    assert c[0](deepseek.ones(2, 4, dtype=deepseek.float64)).shape == (2, 3)
    assert c[0].weight.shape == (3, 4) and isinstance(m[0].weight, nn.UninitializedParameter)
    assert m[0](deepseek.ones(2, 6, dtype=deepseek.float64)).shape == (2, 3) and m[0].weight.shape == (3, 6)


def test_lazy_input_errors():
    with pytest.raises(ValueError, match="Expected 3D"):
        nn.LazyConv2d(2, 3)(deepseek.ones(2, 2))
    with pytest.raises(ValueError, match="divisible by groups"):
        nn.LazyConv1d(4, 1, groups=2)(deepseek.ones(1, 3, 5))
    m = nn.LazyConv1d(2, 3)
    m(deepseek.ones(3, 7))                         # unbatched: channels in dim 0
    assert m.weight.shape == (2, 3, 3)


def test_lazy_norm_without_parameters_still_learns_its_channels():
    m = nn.LazyBatchNorm1d(affine=False, track_running_stats=False)
    y = m(deepseek.randn(6, 3, dtype=deepseek.float64))
    assert type(m) is nn.BatchNorm1d and m.num_features == 3 and list(m.state_dict()) == []
    np.testing.assert_allclose(npy(y).mean(0), 0.0, atol=1e-12)
    c = nn.LazyConv2d(4, 3, padding="same", padding_mode="reflect")
    assert c(deepseek.randn(2, 3, 5, 5)).shape == (2, 4, 5, 5) and c.weight.shape == (4, 3, 3, 3)
    t = nn.LazyConvTranspose2d(4, 3, stride=2, output_padding=1)
    assert t(deepseek.randn(2, 3, 5, 5)).shape == (2, 4, 12, 12)
