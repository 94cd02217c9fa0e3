"""``optim.swa_utils``: averaged weights against NumPy, the SWALR ramp against its formula,
``update_bn`` against the statistics of the whole pass."""
from __future__ import annotations

import math

import numpy as np
import pytest

import deepseek
from deepseek import nn
from deepseek.optim import swa_utils


def npy(t):
    return np.asarray(t.detach())


def _model():
    deepseek.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2)).double()


def _perturb(m, k):
    with deepseek.no_grad():
        for i, p in enumerate(m.parameters()):
            p.add_(0.1 * (k + 1) * (i + 1))
        m[1].running_mean.add_(k)


def test_swa_is_the_mean_of_the_snapshots():
    m = _model()
    avg = swa_utils.AveragedModel(m)
    snaps = []
    for k in range(4):
        _perturb(m, k)
        avg.update_parameters(m)
        snaps.append([npy(p).copy() for p in m.parameters()])
    assert int(avg.n_averaged) == 4
    for i, p in enumerate(avg.module.parameters()):
        np.testing.assert_allclose(npy(p), np.mean([s[i] for s in snaps], 0), rtol=1e-12)
    # without use_buffers the buffers are the model's latest
    np.testing.assert_array_equal(npy(avg.module[1].running_mean), npy(m[1].running_mean))
    x = deepseek.randn(5, 3, dtype=deepseek.float64)
    avg.eval()
    np.testing.assert_array_equal(npy(avg(x)), npy(avg.module(x)))
    assert set(avg.state_dict()) == {"n_averaged"} | {"module." + k for k in m.state_dict()}


@pytest.mark.parametrize("multi", [True, False])
def test_ema_with_buffers(multi):
    decay = 0.8
    m = _model()
    fn = dict(multi_avg_fn=swa_utils.get_ema_multi_avg_fn(decay)) if multi else dict(
        avg_fn=swa_utils.get_ema_avg_fn(decay))
    ema = swa_utils.AveragedModel(m, use_buffers=True, **fn)
    want = None
    for k in range(3):
        _perturb(m, k)
        ema.update_parameters(m)
        cur = [npy(t).astype(np.float64) for t in list(m.parameters()) + list(m.buffers())]
        want = cur if want is None else [decay * w + (1 - decay) * c for w, c in zip(want, cur)]
    got = [npy(t) for t in list(ema.module.parameters()) + list(ema.module.buffers())]
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-12)
    with pytest.raises(ValueError, match="decay"):
        swa_utils.get_ema_avg_fn(1.5)
    with pytest.raises(AssertionError):
        swa_utils.AveragedModel(m, avg_fn=swa_utils.get_swa_avg_fn(), multi_avg_fn=swa_utils.get_swa_multi_avg_fn())


@pytest.mark.parametrize("strategy", ["cos", "linear"])
@pytest.mark.parametrize("epochs", [0, 1, 4])
def test_swalr_ramp(strategy, epochs):
    p = nn.Parameter(deepseek.zeros(2))
    opt = deepseek.optim.SGD([{"params": [p], "lr": 1.0}, {"params": [nn.Parameter(deepseek.zeros(1))], "lr": 0.5}],
                             lr=1.0)
    sched = swa_utils.SWALR(opt, swa_lr=[0.1, 0.2], anneal_epochs=epochs, anneal_strategy=strategy)
    f = (lambda t: t) if strategy == "linear" else (lambda t: (1 - math.cos(math.pi * t)) / 2)
    # after k steps (k = 0 at construction): lr0 + (swa_lr - lr0) * f(min(1, k / epochs)); swa_lr at once for 0
    for k in range(7):
        for g, lr0, swa in zip(opt.param_groups, [1.0, 0.5], [0.1, 0.2]):
            a = f(min(1.0, k / epochs)) if epochs else 1.0
            assert g["lr"] == pytest.approx(swa * a + lr0 * (1 - a), rel=1e-9)
        opt.step()
        sched.step()
    with pytest.raises(ValueError, match="anneal_strategy"):
        swa_utils.SWALR(opt, 0.1, anneal_strategy="step")
    with pytest.raises(ValueError, match="anneal_epochs"):
        swa_utils.SWALR(opt, 0.1, anneal_epochs=-1)
    with pytest.raises(ValueError, match="swa_lr"):
        swa_utils.SWALR(opt, [0.1, 0.2, 0.3])


def test_update_bn_recomputes_running_statistics():
    m = _model()
    data = [deepseek.randn(8, 3, dtype=deepseek.float64) for _ in range(4)]
    m.eval()
    m[1].momentum = 0.3
    swa_utils.update_bn([(x, 0) for x in data], m)
    assert not m.training and m[1].momentum == 0.3
    h = [npy(m[0](x)) for x in data]
    # momentum None: the cumulative average of the batches' mean and unbiased variance
    np.testing.assert_allclose(npy(m[1].running_mean), np.mean([a.mean(0) for a in h], 0), rtol=1e-10)
    np.testing.assert_allclose(npy(m[1].running_var), np.mean([a.var(0, ddof=1) for a in h], 0), rtol=1e-10)
    assert int(m[1].num_batches_tracked) == 4
    swa_utils.update_bn(data, nn.Linear(2, 2))   # no batch norm: nothing to do
