"""Fused batch norm + residual add + ReLU (``F._batch_norm_act``, the core's ``batch_norm_act``)
against a float64 NumPy reference, finite differences, ``F.batch_norm``'s running statistics,
and the ResNet blocks that use it."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import deepseek as ds
from deepseek import nn
from deepseek.nn import functional as F


def reference(x, mean, var, w, b, r, relu, eps, training):
    """relu(bn(x) + r) in float64; with training the batch's biased statistics."""
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    if training:
        mean, var = x.mean(axis=axes), x.var(axis=axes)
    y = (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps)
    if w is not None:
        y = y * w.reshape(shape)
    if b is not None:
        y = y + b.reshape(shape)
    if r is not None:
        y = y + r
    return np.maximum(y, 0) if relu else y


def _t(a, dtype, grad=False):
    return None if a is None else ds.tensor(a, dtype=dtype, requires_grad=grad)


@st.composite
def cases(draw):
    nd = draw(st.integers(2, 5))
    shape = [draw(st.integers(1, 3)), draw(st.integers(1, 4))] + [draw(st.integers(1, 4)) for _ in range(nd - 2)]
    return dict(shape=shape, training=draw(st.booleans()), affine=draw(st.booleans()), residual=draw(st.booleans()),
                relu=draw(st.booleans()), dtype=draw(st.sampled_from(["float32", "float64"])),
                eps=draw(st.sampled_from([1e-5, 1e-3])), seed=draw(st.integers(0, 2**16)))


@settings(max_examples=40)
@given(cases())
def test_forward_matches_numpy_and_running_stats_match_batch_norm(c):
    shape, rng = c["shape"], np.random.default_rng(c["seed"])
    ch = shape[1]
    if c["training"] and np.prod(shape) // ch <= 1:
        with pytest.raises(ValueError, match="more than 1 value per channel"):
            F._batch_norm_act(ds.randn(*shape), ds.zeros(ch), ds.ones(ch), training=True)
        return
    x = rng.normal(1.5, 2.0, shape)
    mean, var = rng.normal(size=ch), rng.uniform(0.5, 2.0, ch)
    w, b = (rng.normal(size=ch), rng.normal(size=ch)) if c["affine"] else (None, None)
    r = rng.normal(size=shape) if c["residual"] else None
    dt = c["dtype"]
    rm, rv = _t(mean, dt), _t(var, dt)
    y = F._batch_norm_act(_t(x, dt), rm, rv, _t(w, dt), _t(b, dt), c["training"], 0.1, c["eps"], _t(r, dt), c["relu"])
    assert y.dtype == getattr(ds, dt) and list(y.shape) == shape
    ref = reference(x, mean, var, w, b, r, c["relu"], c["eps"], c["training"])
    tol = dict(rtol=1e-4, atol=1e-4) if dt == "float32" else dict(rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(y.numpy(), ref, **tol)
    if c["training"]:
        # the running averages move exactly as F.batch_norm moves them
        rm2, rv2 = _t(mean, dt), _t(var, dt)
        F.batch_norm(_t(x, dt), rm2, rv2, _t(w, dt), _t(b, dt), True, 0.1, c["eps"])
        np.testing.assert_array_equal(rm.numpy(), rm2.numpy())
        np.testing.assert_array_equal(rv.numpy(), rv2.numpy())
    else:
        np.testing.assert_array_equal(rm.numpy(), mean.astype(dt))


@settings(max_examples=12)
@given(cases())
def test_gradients_match_finite_differences(c):
    shape, rng = c["shape"], np.random.default_rng(c["seed"])
    ch = shape[1]
    if c["training"] and np.prod(shape) // ch <= 1:
        return
    x = ds.tensor(rng.normal(size=shape), dtype=ds.float64, requires_grad=True)
    w = ds.tensor(rng.normal(size=ch), dtype=ds.float64, requires_grad=True) if c["affine"] else None
    b = ds.tensor(rng.normal(size=ch), dtype=ds.float64, requires_grad=True) if c["affine"] else None
    r = ds.tensor(rng.normal(size=shape), dtype=ds.float64, requires_grad=True) if c["residual"] else None
    mean, var = ds.tensor(rng.normal(size=ch), dtype=ds.float64), ds.tensor(rng.uniform(0.5, 2, ch), dtype=ds.float64)
    ins = [t for t in (x, w, b, r) if t is not None]

    def fn(*args):
        it = iter(args)
        xx = next(it)
        ww, bb = (next(it), next(it)) if w is not None else (None, None)
        rr = next(it) if r is not None else None
        # training mode without running stats: the batch statistics, nothing updated
        stats = (None, None) if c["training"] else (mean, var)
        return F._batch_norm_act(xx, *stats, ww, bb, c["training"], 0.1, c["eps"], rr, c["relu"])

    assert ds.autograd.gradcheck(fn, tuple(ins), eps=1e-6, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("training", [False, True])
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_dtypes_compute_in_float32(training, dtype):
    rng = np.random.default_rng(1)
    x, r = rng.normal(size=(2, 3, 4, 4)), rng.normal(size=(2, 3, 4, 4))
    w, b, mean, var = rng.normal(size=3), rng.normal(size=3), rng.normal(size=3), rng.uniform(0.5, 2, 3)
    xt, rt = ds.tensor(x, dtype=dtype), ds.tensor(r, dtype=dtype)
    y = F._batch_norm_act(xt, _t(mean, "float32"), _t(var, "float32"), _t(w, "float32"), _t(b, "float32"), training,
                          residual=rt, relu=True)
    assert y.dtype == getattr(ds, dtype)
    ref = reference(xt.float().numpy().astype(np.float64), mean, var, w, b, rt.float().numpy(), True, 1e-5, training)
    np.testing.assert_allclose(y.float().numpy(), ref, rtol=2e-2, atol=2e-2)


def test_non_contiguous_inputs_and_gradients_match_the_composite():
    rng = np.random.default_rng(2)
    base = ds.tensor(rng.normal(size=(5, 2, 3, 4)), dtype=ds.float64)
    for training in (False, True):
        x1 = base.transpose(0, 1).detach().requires_grad_(True)  # [2, 5, 3, 4], not contiguous
        x2 = x1.detach().contiguous().requires_grad_(True)
        r1 = ds.tensor(rng.normal(size=(2, 5, 3, 4)), dtype=ds.float64, requires_grad=True)
        r2 = r1.detach().clone().requires_grad_(True)
        w1 = ds.tensor(rng.normal(size=5), dtype=ds.float64, requires_grad=True)
        w2 = w1.detach().clone().requires_grad_(True)
        rm, rv = ds.zeros(5, dtype=ds.float64), ds.ones(5, dtype=ds.float64)
        y1 = F._batch_norm_act(x1, rm, rv, w1, None, training, residual=r1)
        y2 = F.relu(F.batch_norm(x2, ds.zeros(5, dtype=ds.float64), ds.ones(5, dtype=ds.float64), w2, None, training) + r2)
        np.testing.assert_allclose(y1.detach().numpy(), y2.detach().numpy(), rtol=1e-12, atol=1e-12)
        g = ds.tensor(rng.normal(size=(2, 5, 3, 4)), dtype=ds.float64)
        (y1 * g).sum().backward()
        (y2 * g).sum().backward()
        for a, b in ((x1, x2), (r1, r2), (w1, w2)):
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-9, atol=1e-11)


def test_zero_size_batch_and_bad_operands():
    # eval mode takes an empty batch (as PyTorch); training cannot compute statistics from it
    y = F._batch_norm_act(ds.randn(0, 3, 4, 4), ds.zeros(3), ds.ones(3))
    assert list(y.shape) == [0, 3, 4, 4]
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        F._batch_norm_act(ds.randn(0, 3, 4, 4), ds.zeros(3), ds.ones(3), training=True)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        F._batch_norm_act(ds.randn(1, 3), None, None, training=True)
    x = ds.randn(2, 3, 4)
    with pytest.raises(RuntimeError, match=r"batch_norm_act: the residual of shape \[2, 3, 5\]"):
        ds._core.batch_norm_act(x, ds.zeros(3), ds.ones(3), None, None, ds.randn(2, 3, 5), False, True, 1e-5)
    with pytest.raises(RuntimeError, match=r"weight of shape \[4\]"):
        ds._core.batch_norm_act(x, ds.zeros(3), ds.ones(3), ds.ones(4), None, None, False, True, 1e-5)
    with pytest.raises(RuntimeError, match="eval mode needs running_mean"):
        ds._core.batch_norm_act(x, None, None, None, None, None, False, True, 1e-5)
    with pytest.raises(RuntimeError, match="floating input"):
        ds._core.batch_norm_act(ds.ones(2, 3, dtype=ds.int64), ds.zeros(3), ds.ones(3), None, None, None, False, True, 1e-5)
    with pytest.raises(RuntimeError, match="at least 2 dims"):
        ds._core.batch_norm_act(ds.ones(3), ds.zeros(3), ds.ones(3), None, None, None, False, True, 1e-5)
    # a residual that only broadcasts composes the same meaning
    r = ds.randn(1, 3, 1)
    y = F._batch_norm_act(x, ds.zeros(3), ds.ones(3), residual=r)
    np.testing.assert_allclose(y.numpy(), F.relu(F.batch_norm(x, ds.zeros(3), ds.ones(3)) + r).numpy(), rtol=1e-6, atol=1e-6)


def test_relu_output_is_not_modifiable_before_backward():
    x = ds.randn(2, 3, 4, requires_grad=True)
    y = F._batch_norm_act(x, None, None, training=True)
    y.add_(1.0)
    with pytest.raises(RuntimeError):
        y.sum().backward()


def _resnet_pair(make):
    ds.manual_seed(0)
    a = make()
    b = make()
    b.load_state_dict(a.state_dict())
    # a hook on every batch norm makes the blocks call the modules one by one (the unfused path)
    calls = []
    for m in b.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.register_forward_hook(lambda mod, args, out: calls.append(1))
    return a, b, calls


@pytest.mark.parametrize("name", ["resnet18", "resnet50"])
def test_resnet_fused_equals_unfused_in_eval_and_training(name):
    from deepseek import models

    a, b, calls = _resnet_pair(lambda: getattr(models, name)(num_classes=10))
    n_bn = sum(isinstance(m, nn.BatchNorm2d) for m in a.modules())
    x = ds.randn(2, 3, 32, 32)
    # training: same output, gradients and running statistics
    ya, yb = a(x), b(x)
    assert len(calls) == n_bn
    np.testing.assert_allclose(ya.detach().numpy(), yb.detach().numpy(), rtol=1e-4, atol=1e-4)
    ya.square().sum().backward()
    yb.square().sum().backward()
    pb = dict(b.named_parameters())
    for k, p in a.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), pb[k].grad.numpy(), rtol=2e-3, atol=2e-4, err_msg=k)
    sb = b.state_dict()
    for k, v in a.state_dict().items():
        np.testing.assert_allclose(v.numpy(), sb[k].numpy(), rtol=1e-5, atol=1e-6, err_msg=k)
    # eval
    a.eval(), b.eval()
    with ds.no_grad():
        np.testing.assert_allclose(a(x).numpy(), b(x).numpy(), rtol=1e-4, atol=1e-5)


def test_block_falls_back_for_replaced_activation_and_keeps_state_dict_keys():
    from deepseek import models

    ds.manual_seed(0)
    m = models.resnet18(num_classes=4).eval()
    keys = list(m.state_dict())
    x = ds.randn(1, 3, 32, 32)
    with ds.no_grad():
        y0 = m(x)
        m.layer1[0].relu = nn.Identity()  # a user's swap must take effect
        y1 = m(x)
    assert list(m.state_dict()) == keys
    assert not np.allclose(y0.numpy(), y1.numpy())
