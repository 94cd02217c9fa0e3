"""The composed functions of issue 16 give the CPU's results on every available device (they
are written from primitives, so each backend runs them through its own kernels), gradients
included."""
from __future__ import annotations

import numpy as np
import pytest

import deepseek as ds
import deepseek.nn.functional as F
from deepseek.testing import available_devices

OTHER = [d for d in available_devices() if d != "cpu"]
R = np.random.default_rng(0)
X = R.normal(size=(4, 5)).astype(np.float32)
Y = R.normal(size=(4, 5)).astype(np.float32)
IMG = R.normal(size=(1, 2, 5, 5)).astype(np.float32)
VOL = R.normal(size=(1, 2, 4, 4, 4)).astype(np.float32)
W3 = R.normal(size=(3, 2, 2, 2, 2)).astype(np.float32)
GRID = R.uniform(-1, 1, size=(1, 3, 3, 2)).astype(np.float32)

CASES = {
    "hypot": lambda t, d: ds.hypot(t(X), t(Y)),
    "addcdiv": lambda t, d: ds.addcdiv(t(X), t(X), t(Y).abs() + 1, value=0.5),
    "xlogy": lambda t, d: ds.xlogy(t(X), t(Y).abs()),
    "diagonal": lambda t, d: ds.diagonal(t(X), 1),
    "cross": lambda t, d: ds.cross(t(X[:, :3]), t(Y[:, :3]), dim=1),
    "kron": lambda t, d: ds.kron(t(X[:2, :2]), t(Y[:2, :3])),
    "cummax": lambda t, d: ds.cummax(t(X), 1)[0],
    "logcumsumexp": lambda t, d: ds.logcumsumexp(t(X), 1),
    "median": lambda t, d: ds.median(t(X), 1)[0],
    "quantile": lambda t, d: ds.quantile(t(X), 0.3, 1),
    "searchsorted": lambda t, d: ds.searchsorted(t(np.sort(X[0])), t(Y)),
    "scatter_reduce": lambda t, d: t(X).scatter_reduce(1, ds.tensor([[0, 0, 2, 1, 2]] * 4, device=d), t(Y), "amax"),
    "erfinv": lambda t, d: ds.special.erfinv(t(np.tanh(X))),
    "ndtri": lambda t, d: ds.special.ndtri(t(1 / (1 + np.exp(-X)))),
    "conv3d": lambda t, d: F.conv3d(t(VOL), t(W3), padding=1),
    "unfold": lambda t, d: F.unfold(t(IMG), 2, padding=1),
    "pixel_shuffle": lambda t, d: F.pixel_shuffle(t(VOL.reshape(1, 8, 4, 4)), 2),
    "grid_sample": lambda t, d: F.grid_sample(t(IMG), t(GRID), align_corners=False),
    "bicubic": lambda t, d: F.interpolate(t(IMG), scale_factor=2, mode="bicubic"),
    "max_pool3d": lambda t, d: F.max_pool3d(t(VOL), 2),
    "instance_norm": lambda t, d: F.instance_norm(t(IMG)),
    "triplet": lambda t, d: F.triplet_margin_loss(t(X), t(Y), t(X * 2)),
}


@pytest.mark.skipif(not OTHER, reason="no device besides the CPU")
@pytest.mark.parametrize("device", OTHER)
@pytest.mark.parametrize("name", sorted(CASES))
def test_same_result_and_gradient_on_every_device(name, device):
    def run(dev):
        made = []

        def t(a):
            x = ds.tensor(a, device=dev, requires_grad=True)
            made.append(x)
            return x

        out = CASES[name](t, dev)
        if out.dtype.is_floating_point:
            out.sum().backward()
        return out.detach().cpu().numpy(), [m.grad.cpu().numpy() if m.grad is not None else None for m in made]

    ref, ref_g = run("cpu")
    got, got_g = run(device)
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-5)
    for a, b in zip(got_g, ref_g):
        if b is not None:
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
