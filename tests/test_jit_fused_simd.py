"""The vectorised fused elementwise loop (graph/fused_simd.rs, graph/fused_run.rs): its inline
arithmetic (add, sub, mul, div, neg, relu; AVX-512 or AVX2 lanes with a scalar tail) and its
row-wise walk (per-channel and scalar operands read as splats, never expanded) give eager's
results bit for bit (NaN where eager has NaN): odd lengths, broadcast operands of every kind, non-contiguous inputs, NaN
and infinities. (Each instruction-set copy is compared with the scalar loop element by element
in Rust: `graph::fused_simd::tests`.)"""
from __future__ import annotations


import numpy as np
from hypothesis import given, settings, strategies as st

import deepseek
from jit_helpers import trace


def fused_nodes(g):
    return [n for n in g.graph.nodes() if n["kind"] == "elementwise"]


SPECIAL = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-40, -1e-40, 3e38, -3e38])


def values(shape, seed, dtype, special):
    a = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    if special and a.size:
        idx = np.random.default_rng(seed + 100).choice(a.size, size=min(a.size, 7), replace=False)
        a.flat[idx] = SPECIAL[np.arange(len(idx)) % len(SPECIAL)].astype(dtype)
    return a


def chain(x, y, z):
    """Every inline op, the broadcast operands in both argument positions, and relu and neg
    of values that pass through NaN, infinities and signed zeros."""
    a = (x * y + z).relu()
    b = (z - x) / (y + 2.0)
    c = -(a - b * 0.5)
    return (c + x).relu() * y - z, c


def bitwise(a, b):
    """Equal bit for bit (signed zeros included), NaN where the other has NaN (a NaN's sign
    and payload depend on which operand a kernel names first, which IEEE leaves open)."""
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape and a.dtype == b.dtype
    nan = np.isnan(a)
    np.testing.assert_array_equal(nan, np.isnan(b))
    np.testing.assert_array_equal(np.where(nan, 0, a).view(np.uint8), np.where(nan, 0, b).view(np.uint8))


@settings(max_examples=40)
@given(
    n=st.integers(1, 3),
    c=st.integers(1, 5),
    hw=st.sampled_from([(1, 1), (3, 5), (7, 7), (8, 9), (9, 15), (16, 17), (33, 65)]),
    ykind=st.sampled_from(["full", "channel", "scalar", "row", "image_channel"]),
    zkind=st.sampled_from(["full", "channel", "scalar", "transposed"]),
    xt=st.booleans(),
    dtype=st.sampled_from([np.float32, np.float64]),
    special=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_fused_loop_equals_eager_bit_for_bit(n, c, hw, ykind, zkind, xt, dtype, special, seed):
    h, w = hw
    shape = (n, c, h, w)
    yshape = {"full": shape, "channel": (1, c, 1, 1), "scalar": (), "row": (w,), "image_channel": (n, c, 1, 1)}[ykind]
    x = deepseek.tensor(values(shape, seed, dtype, special))
    y = deepseek.tensor(values(yshape, seed + 1, dtype, special))
    z = deepseek.tensor(values(shape if zkind in ("full", "transposed") else (1, c, 1, 1) if zkind == "channel" else (), seed + 2, dtype, special))
    g = trace(chain, (x, y, z))
    assert fused_nodes(g)  # c, a result read again, ends one group
    # called with other values, and non-contiguous views where asked (traced contiguous)
    x2 = values((n, c, w, h) if xt else shape, seed + 3, dtype, special)
    x2 = deepseek.tensor(x2).transpose(2, 3) if xt else deepseek.tensor(x2)
    z2 = values((n, c, w, h), seed + 4, dtype, special) if zkind == "transposed" else values(z.shape, seed + 4, dtype, special)
    z2 = deepseek.tensor(z2).transpose(2, 3) if zkind == "transposed" else deepseek.tensor(z2)
    y2 = deepseek.tensor(values(yshape, seed + 5, dtype, special))
    with deepseek.no_grad():
        for got, want in zip(g(x2, y2, z2), chain(x2, y2, z2)):
            bitwise(got, want)


def test_long_rows_many_blocks_and_per_channel_splats():
    # [2, 3, 61, 67]: rows of 4087 elements, several blocks each, tails of every length mod 16
    rng = np.random.default_rng(0)
    for dtype in (np.float32, np.float64):
        x = deepseek.tensor(rng.standard_normal((2, 3, 61, 67)).astype(dtype))
        s = deepseek.tensor(rng.standard_normal((1, 3, 1, 1)).astype(dtype))
        t = deepseek.tensor(rng.standard_normal((3, 1, 1)).astype(dtype))

        def f(x, s, t):
            return (x * s + t).relu() - (x / s).neg()

        g = trace(f, (x, s, t))
        assert len(fused_nodes(g)) == 1
        with deepseek.no_grad():
            bitwise(g(x, s, t), f(x, s, t))


def test_nan_and_inf_follow_ieee_through_every_op():
    v = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0, 1e-45, 3.4e38], dtype=np.float32)
    a = deepseek.tensor(np.repeat(v, len(v)))  # every pair (a, b)
    b = deepseek.tensor(np.tile(v, len(v)))

    def f(a, b):
        return (a + b).relu(), (a - b).neg(), a * b * 1.0, a / b + 0.0

    g = trace(f, (a, b))
    assert len(fused_nodes(g)) >= 1
    with deepseek.no_grad():
        for got, want in zip(g(a, b), f(a, b)):
            bitwise(got, want)
        got = np.asarray(g(a, b)[0])
    with np.errstate(invalid="ignore", over="ignore"):
        ref = np.asarray(a) + np.asarray(b)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))  # relu keeps NaN
    assert not np.signbit(got[~np.isnan(got)]).any()  # and maps -0 to +0
