"""The OpenCL random kernels, bit for bit against a NumPy transcription of the core's Philox
stream (itself checked against ``deepseek.rand``) (the conventions: test_kernels.py)."""
from __future__ import annotations

import numpy as np
import pytest

from deepseek.backends import abi
from deepseek.backends.backend import BackendError
from kernel_checks import _bf16_from_double, rounded
from ocl_helpers import to_storage, to_values

RNG = np.random.default_rng(1234)


# --- random ----------------------------------------------------------------------------------------

M0, M1, W0, W1 = 0xD2511F53, 0xCD9E8D57, 0x9E3779B9, 0xBB67AE85


def philox_words(seed, offset, n):
    """Word k of the stream: word k % 4 of Philox-4x32-10 at block offset + k // 4 (NumPy)."""
    nblk = (n + 3) // 4
    blk = np.arange(nblk, dtype=np.uint64) + np.uint64(offset)
    m, s32 = np.uint64(0xFFFFFFFF), np.uint64(32)
    c0, c1 = blk & m, blk >> s32
    c2, c3 = np.zeros_like(c0), np.zeros_like(c0)
    k0, k1 = seed & 0xFFFFFFFF, seed >> 32
    for _ in range(10):
        p0, p1 = c0 * np.uint64(M0), c2 * np.uint64(M1)
        c0, c1, c2, c3 = (p1 >> s32) ^ c1 ^ np.uint64(k0), p1 & m, (p0 >> s32) ^ c3 ^ np.uint64(k1), p0 & m
        k0, k1 = (k0 + W0) & 0xFFFFFFFF, (k1 + W1) & 0xFFFFFFFF
    return np.stack([c0, c1, c2, c3], axis=1).reshape(-1)[:n]


def uniform(seed, offset, n):
    w = philox_words(seed, offset, 2 * n)
    return ((w[0::2] >> np.uint64(5)) << np.uint64(26) | (w[1::2] >> np.uint64(6))).astype(np.float64) / 2.0 ** 53


SEEDS = [(0, 0), (42, 7), (2 ** 63 + 12345, 2 ** 33 + 1)]


@pytest.mark.parametrize("seed,offset", SEEDS)
def test_rand_bit_exact(dev, seed, offset):
    n = 1001
    out = dev.empty((7, 11, 13), "float64")
    dev.launch("rand", [out], [seed, offset])  # seed and offset are the attributes' uint64_t
    np.testing.assert_array_equal(dev.get(out).ravel(), uniform(seed, offset, n))
    u = uniform(seed, offset, n)
    for dtype, top in (("float32", 1 - 2.0 ** -24), ("float16", 1 - 2.0 ** -11), ("bfloat16", 1 - 2.0 ** -8)):
        base = to_storage(np.zeros((13, 7, 11)), dtype)
        t = dev.put(base, base.transpose(1, 2, 0), dtype)  # logical order != memory order
        dev.launch("rand", [t], [seed, offset])
        want = np.minimum(u, top).reshape(7, 11, 13)
        if dtype == "bfloat16":
            want_bits = np.array([_bf16_from_double(v) for v in want.ravel()], dtype=np.uint16).reshape(want.shape)
            np.testing.assert_array_equal(dev.get(t), want_bits)
        else:
            np.testing.assert_array_equal(dev.get(t), want.astype(dtype))
        assert (to_values(dev.get(t), dtype) < 1).all()


def test_rand_matches_the_cpu_core(dev):
    import deepseek as ds
    ds.manual_seed(77)
    cpu = np.asarray(ds.rand(333, dtype=ds.float64).numpy(), dtype=np.float64)
    np.testing.assert_array_equal(cpu, uniform(77, 0, 333))
    out = dev.empty((333,), "float64")
    dev.launch("rand", [out], [77, 0])
    np.testing.assert_array_equal(dev.get(out), cpu)


@pytest.mark.parametrize("n", [1, 2, 7, 1000])
def test_randn(dev, n):
    seed, offset = 2024, 3
    m = n + (n & 1)
    u = uniform(seed, offset, m)
    r = np.sqrt(-2.0 * np.log(1.0 - u[0::2]))
    t = 2.0 * np.pi * u[1::2]
    want = np.stack([r * np.cos(t), r * np.sin(t)], axis=1).ravel()[:n]
    out = dev.empty((n,), "float64")
    dev.launch("randn", [out], [seed, offset])
    # The device's log/cos/sin may differ from the CPU's libm in the last bit.
    np.testing.assert_allclose(dev.get(out), want, rtol=1e-14, atol=1e-14)
    out = dev.empty((n,), "float32")
    dev.launch("randn", [out], [seed, offset])
    np.testing.assert_allclose(dev.get(out), want.astype(np.float32), rtol=1e-6, atol=1e-7)


def test_randint_randperm_bernoulli(dev):
    seed, offset = 99, 11
    w = philox_words(seed, offset, 2 * 500)
    r = (w[0::2] << np.uint64(32)) | w[1::2]
    for dtype, low, high in (("int64", -5, 17), ("int32", 0, 3), ("float32", 10, 1000), ("int64", -2 ** 62, 2 ** 62)):
        out = dev.empty((20, 25), dtype)
        dev.launch("randint", [out], [seed, offset, low, high])
        want = np.array([low + int(v) % (high - low) for v in r]).reshape(20, 25).astype(dtype)
        np.testing.assert_array_equal(dev.get(out), want)
    for n in (1, 2, 10, 300):
        out = dev.empty((n,), "int64")
        dev.launch("randperm", [out], [seed, offset])
        u = uniform(seed, offset, n)
        p = list(range(n))
        for i in range(n - 1, 0, -1):
            j = min(int(u[i] * (i + 1)), i)
            p[i], p[j] = p[j], p[i]
        np.testing.assert_array_equal(dev.get(out), p)
    prob = RNG.uniform(0, 1, size=(40, 10))
    prob[0, :3] = [0.0, 1.0, 0.5]
    for dtype in ("float64", "float32"):
        out = dev.empty((40, 10), dtype)
        dev.launch("bernoulli", [out, dev.value(prob, dtype)], [seed, offset])
        want = (uniform(seed, offset, 400) < rounded(prob, dtype).ravel()).astype(dtype).reshape(40, 10)
        np.testing.assert_array_equal(dev.get(out), want)
    dev.launch("rand", [dev.empty((0,), "float32")], [seed, offset])
    with pytest.raises(BackendError) as e:
        dev.launch("randint", [dev.empty((3,), "int64")], [seed, offset, 5, 5])
    assert e.value.status == abi.DS_ERROR_INVALID_ARGUMENT
