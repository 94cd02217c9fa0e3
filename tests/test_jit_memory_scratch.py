"""The kernels' scratch (the core's large Rust heap blocks, `core-rs/src/large_blocks.rs`):
convolutions and their gradients stay right when their scratch comes from blocks another
shape or thread used before (stale contents, other sizes), on one thread and on two; the
scratch is counted (``memory_stats()["scratch_*"]``), given back by ``empty_cache``, and a
repeated workload maps no new blocks."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import deepseek as ds
from deepseek import memory
from deepseek.nn import functional as F


def np_conv(x, w, stride, pad):
    """float64 reference of conv2d (groups 1, dilation 1)."""
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    kh, kw = w.shape[2:]
    oh, ow = (xp.shape[2] - kh) // stride + 1, (xp.shape[3] - kw) // stride + 1
    out = np.zeros((x.shape[0], w.shape[0], oh, ow))
    for i in range(kh):
        for j in range(kw):
            patch = xp[:, :, i:i + stride * (oh - 1) + 1:stride, j:j + stride * (ow - 1) + 1:stride]
            out += np.einsum("nchw,oc->nohw", patch, w[:, :, i, j].astype(np.float64))
    return out


def np_conv_grads(x, w, r, stride, pad):
    """(d/dx, d/dw) of sum(conv(x, w) * r) in float64."""
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    gxp, gw = np.zeros_like(xp), np.zeros(w.shape)
    kh, kw = w.shape[2:]
    oh, ow = r.shape[2:]
    for i in range(kh):
        for j in range(kw):
            sl = (slice(None), slice(None), slice(i, i + stride * (oh - 1) + 1, stride), slice(j, j + stride * (ow - 1) + 1, stride))
            gw[:, :, i, j] = np.einsum("nchw,nohw->oc", xp[sl], r)
            gxp[sl] += np.einsum("nohw,oc->nchw", r, w[:, :, i, j].astype(np.float64))
    return gxp[:, :, pad:pad + x.shape[2], pad:pad + x.shape[3]], gw


def _conv_and_grads(xn, wn, rn, stride, pad):
    x = ds.tensor(xn, requires_grad=True)
    w = ds.tensor(wn, requires_grad=True)
    y = F.conv2d(x, w, stride=stride, padding=pad)
    (y * ds.tensor(rn)).sum().backward()
    return np.asarray(y.detach()), np.asarray(x.grad), np.asarray(w.grad)


def _dirty_the_scratch():
    """Runs a convolution of another shape whose scratch blocks (freed, cached, full of its
    numbers) the next kernels get back."""
    rng = np.random.default_rng(7)
    _conv_and_grads(rng.standard_normal((8, 48, 12, 12)), rng.standard_normal((96, 48, 3, 3)),
                    rng.standard_normal((8, 96, 12, 12)), 1, 1)


def _check(n, c, o, hw, k, stride, pad, dtype, seed):
    rng = np.random.default_rng(seed)
    xn = rng.standard_normal((n, c, hw, hw)).astype(dtype)
    wn = rng.standard_normal((o, c, k, k)).astype(dtype)
    oh = (hw + 2 * pad - k) // stride + 1
    rn = rng.standard_normal((n, o, oh, oh)).astype(dtype)
    _dirty_the_scratch()
    y, gx, gw = _conv_and_grads(xn, wn, rn, stride, pad)
    ry, (rgx, rgw) = np_conv(xn, wn, stride, pad), np_conv_grads(xn, wn, rn.astype(np.float64), stride, pad)
    tol = 1e-10 if dtype == np.float64 else 2e-5
    for got, ref in ((y, ry), (gx, rgx), (gw, rgw)):
        np.testing.assert_allclose(got, ref, rtol=tol, atol=tol * max(1.0, np.abs(ref).max()))
    # the same call again, on blocks the first one left: the same bits
    y2, gx2, gw2 = _conv_and_grads(xn, wn, rn, stride, pad)
    for a, b in ((y, y2), (gx, gx2), (gw, gw2)):
        np.testing.assert_array_equal(a, b)


@settings(max_examples=10, deadline=None)
@given(n=st.integers(1, 6), c=st.integers(1, 24), o=st.integers(1, 24), hw=st.integers(3, 11), k=st.sampled_from([1, 3]),
       stride=st.integers(1, 2), pad=st.integers(0, 1), dtype=st.sampled_from([np.float32, np.float64]), seed=st.integers(0, 99))
def test_convolutions_on_reused_scratch_match_numpy(threads, n, c, o, hw, k, stride, pad, dtype, seed):
    _check(n, c, o, hw, k, stride, pad, dtype, seed)


@pytest.mark.parametrize("n,c,o,hw,stride", [(8, 64, 64, 6, 1), (4, 64, 128, 7, 2), (16, 32, 48, 4, 1)])
def test_large_scratch_blocks_match_numpy(threads, n, c, o, hw, stride):
    # float64 with 64+ channel pairs: the weight gradient's per-worker partial sums and the
    # flipped weight of the input gradient are large blocks (>= 256 KiB)
    _check(n, c, o, hw, 3, stride, 1, np.float64, n + c + o)


def _scratch():
    """(in use, the most in use since the last reset, mapped) bytes of scratch."""
    s = memory.memory_stats()
    return s["scratch_bytes.all.current"], s["scratch_bytes.all.peak"], s["scratch_reserved_bytes.all.current"]


def test_scratch_is_counted_and_given_back():
    memory.reset_peak_memory_stats()
    _dirty_the_scratch()
    in_use, peak, mapped = _scratch()
    # the weight gradient's partial sums of a second worker, the GEMM's packed panels ...
    assert peak >= 256 << 10 and mapped >= in_use, (in_use, peak, mapped)
    memory.empty_cache()
    in_use, _, mapped = _scratch()
    assert mapped == in_use, (in_use, mapped)  # only blocks still in use stay mapped


def _repeated_workload():
    """Three convolutions with their gradients, run `k` rounds at a time by the function returned."""
    shapes = [((8, 48, 12, 12), (96, 48, 3, 3), 1), ((8, 64, 9, 9), (32, 64, 3, 3), 2), ((16, 128, 4, 4), (256, 128, 1, 1), 1)]
    rng = np.random.default_rng(3)
    data = []
    for xs, ws, stride in shapes:
        oh = (xs[2] + 2 - ws[2]) // stride + 1
        data.append((rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal((xs[0], ws[0], oh, oh)), stride))

    def rounds(k):
        for _ in range(k):
            for xn, wn, rn, stride in data:
                _conv_and_grads(xn, wn, rn, stride, 1)
    return rounds


def _on_threads(n, body):
    before = ds.get_num_threads()
    ds.set_num_threads(n)
    try:
        return body()
    finally:
        ds.set_num_threads(before)


def test_a_repeated_workload_maps_no_new_scratch():
    # On one thread the kernels ask for the same blocks in the same order every round, so
    # once a round has run, the cache serves every later one: nothing more is mapped.
    # (On more threads the scratch alive at once depends on how the workers' tasks happen to
    # overlap, so a later round may need more than the first ones did: the next test.)
    rounds = _repeated_workload()

    def body():
        memory.empty_cache()
        rounds(2)
        settled = _scratch()[2]
        rounds(3)
        return settled, _scratch()[2]
    settled, after = _on_threads(1, body)
    assert after == settled


def test_a_repeated_workload_on_two_threads_keeps_the_cache_within_its_bound():
    # What the cache keeps mapped never passes the most scratch in use at once (since
    # `empty_cache`, which resets that mark) plus its slack: an eighth of it, at least 4 MiB.
    rounds = _repeated_workload()

    def body():
        memory.empty_cache()
        memory.reset_peak_memory_stats()
        seen = []
        for _ in range(6):
            rounds(1)
            in_use, peak, mapped = _scratch()
            seen.append((in_use, peak, mapped))
            assert in_use <= mapped <= peak + max(peak // 8, 4 << 20), seen
        return seen
    seen = _on_threads(2, body)
    assert seen[-1][1] >= 256 << 10, seen  # the workload did use large blocks
