"""max_pool2d's CPU kernel on inputs full of ties and NaNs: values and indices equal a
window-by-window row-major scan (the first maximum wins, the first NaN wins and stays), and the
values-only path (no indices asked for, no autograd) gives the same values."""
import numpy as np
from hypothesis import assume, given, settings, strategies as st

import deepseek as ds
from deepseek.nn import functional as F


def scan(x, k, s, p, d, oh, ow):
    """PyTorch's scan of each window in row-major order: replace when greater or NaN, stop at NaN."""
    n, c, h, w = x.shape
    vals = np.full((n, c, oh, ow), -np.inf)
    idx = np.zeros((n, c, oh, ow), dtype=np.int64)
    for a in range(n):
        for b in range(c):
            for i in range(oh):
                for j in range(ow):
                    best, at = None, 0
                    for ki in range(k[0]):
                        y = i * s[0] - p[0] + ki * d[0]
                        if not 0 <= y < h:
                            continue
                        for kj in range(k[1]):
                            xx = j * s[1] - p[1] + kj * d[1]
                            if not 0 <= xx < w:
                                continue
                            v = x[a, b, y, xx]
                            if best is None or v > best or (np.isnan(v) and not np.isnan(best)):
                                best, at = v, y * w + xx
                    if best is None:
                        return None  # a window with every tap in the padding: not this kernel's case
                    vals[a, b, i, j], idx[a, b, i, j] = best, at
    return vals, idx


@st.composite
def cases(draw):
    k = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    s = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    p = (draw(st.integers(0, k[0] // 2)), draw(st.integers(0, k[1] // 2)))
    d = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    h = draw(st.integers(max(1, d[0] * (k[0] - 1) + 1 - 2 * p[0]), 8))
    w = draw(st.integers(max(1, d[1] * (k[1] - 1) + 1 - 2 * p[1]), 11))
    return dict(shape=(draw(st.integers(1, 2)), draw(st.integers(1, 2)), h, w), k=k, s=s, p=p, d=d,
                nan=draw(st.booleans()), seed=draw(st.integers(0, 2**16)))


@settings(max_examples=50)
@given(cases())
def test_ties_and_nans_follow_the_scan_order(c):
    rng = np.random.default_rng(c["seed"])
    x = rng.integers(0, 3, c["shape"]).astype(np.float64)  # few distinct values: many ties
    if c["nan"]:
        x[rng.random(c["shape"]) < 0.15] = np.nan
    for dtype in (ds.float32, ds.float64):
        xt = ds.tensor(x, dtype=dtype)
        v, i = F.max_pool2d(xt, c["k"], c["s"], c["p"], c["d"], return_indices=True)
        r = scan(x, c["k"], c["s"], c["p"], c["d"], v.shape[2], v.shape[3])
        assume(r is not None)
        ref, ref_i = r
        np.testing.assert_array_equal(v.numpy(), ref.astype(v.numpy().dtype))
        np.testing.assert_array_equal(i.numpy(), ref_i)
        with ds.no_grad():
            np.testing.assert_array_equal(F.max_pool2d(xt, c["k"], c["s"], c["p"], c["d"]).numpy(), v.numpy())


def test_resnet_stem_pool_on_wide_rows():
    # the 3-wide, stride-2 fast path (interior columns) beside its edges, with a NaN and ties
    rng = np.random.default_rng(0)
    x = rng.integers(0, 4, (2, 3, 9, 37)).astype(np.float32)
    x[0, 1, 4, 20] = np.nan
    ref, ref_i = scan(x.astype(np.float64), (3, 3), (2, 2), (1, 1), (1, 1), 5, 19)
    v, i = F.max_pool2d(ds.tensor(x), 3, 2, 1, return_indices=True)
    np.testing.assert_array_equal(v.numpy(), ref.astype(np.float32))
    np.testing.assert_array_equal(i.numpy(), ref_i)
    with ds.no_grad():
        np.testing.assert_array_equal(F.max_pool2d(ds.tensor(x), 3, 2, 1).numpy(), v.numpy())
