"""Special values (NaN, ±inf, ±0, extremes) follow PyTorch's rules in every elementwise op, on
the CPU and on each available plugin device. The references below are PyTorch's kernels
written out in Python (floor division from fmod, sign(NaN) = 0, std::max/min for maximum and
minimum), so they hold where PyTorch departs from Python or NumPy."""
import itertools
import math

import numpy as np
import pytest

import deepseek as ds
from deepseek.testing import available_devices

DEVICES = available_devices()

VALUES = [math.nan, math.inf, -math.inf, 0.0, -0.0, 3.0, -3.0, 0.5, -0.5, 7.0, -7.0, 1e30, -1e30, 1e-30]


def div_floor(a, b):
    if b == 0:
        return math.nan if (a == 0 or math.isnan(a)) else math.copysign(math.inf, a) * math.copysign(1.0, b)
    m = math.fmod(a, b) if not math.isinf(a) and not math.isnan(a) and not math.isnan(b) else math.nan
    d = (a - m) / b
    if m != 0 and (b < 0) != (m < 0):
        d -= 1.0
    if d == 0:
        return math.copysign(0.0, a / b)
    f = math.floor(d) if math.isfinite(d) else d
    return f + 1.0 if d - f > 0.5 else f


def remainder(a, b):
    if b == 0 or math.isinf(a) or math.isnan(a) or math.isnan(b):
        return math.nan
    r = math.fmod(a, b)
    return r + b if r != 0 and (r < 0) != (b < 0) else r


def maximum(a, b):
    return math.nan if math.isnan(a) or math.isnan(b) else (b if a < b else a)


def minimum(a, b):
    return math.nan if math.isnan(a) or math.isnan(b) else (b if b < a else a)


def sign(a):
    return 1.0 if a > 0 else (-1.0 if a < 0 else 0.0)


def same(got, want):
    if math.isnan(want):
        return math.isnan(got)
    return got == want and math.copysign(1.0, got) == math.copysign(1.0, want)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [ds.float32, ds.float64])
@pytest.mark.parametrize("name, ref", [("floor_divide", div_floor), ("remainder", remainder),
                                       ("maximum", maximum), ("minimum", minimum)])
def test_binary_special_values(device, dtype, name, ref):
    pairs = list(itertools.product(VALUES, VALUES))
    np_dt = np.float32 if dtype == ds.float32 else np.float64
    a = np.array([p[0] for p in pairs], dtype=np_dt)
    b = np.array([p[1] for p in pairs], dtype=np_dt)
    got = getattr(ds, name)(ds.tensor(a, device=device), ds.tensor(b, device=device)).cpu().tolist()
    bad = []
    for x, y, g in zip(a.tolist(), b.tolist(), got):
        w = float(np_dt(ref(x, y))) if math.isfinite(ref(x, y)) or math.isnan(ref(x, y)) else ref(x, y)
        if not same(g, w):
            bad.append((x, y, g, w))
    assert not bad, f"{name} {dtype} on {device}: (a, b, got, want) {bad[:8]}"


@pytest.mark.parametrize("device", DEVICES)
def test_sign_of_nan_and_zeros_is_zero(device):
    x = ds.tensor([math.nan, -0.0, 0.0, -math.inf, math.inf, -2.0, 2.0], device=device)
    got = ds.sign(x).cpu().tolist()
    assert got == [sign(v) for v in x.cpu().tolist()]
    assert all(math.copysign(1.0, v) == 1.0 for v in got[:3])  # +0, never -0 or NaN


def test_the_examples_from_the_issue():
    assert ds.floor_divide(ds.tensor([-3.0]), ds.tensor([math.inf])).tolist() == [-1.0]
    assert math.isnan(ds.floor_divide(ds.tensor([math.inf]), ds.tensor([3.0])).item())
    assert ds.sign(ds.tensor([math.nan])).tolist() == [0.0]
