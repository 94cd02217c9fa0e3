"""deepseek.fft against numpy.fft in complex128/float64: random shapes (0-size batch dims,
non-contiguous views), every ``norm``, ``n``/``s`` padding and trimming; gradients by finite
differences; PyTorch's errors."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import deepseek as ds
from deepseek import fft as F

RNG = np.random.default_rng(1)
NORMS = [None, "backward", "ortho", "forward"]


def crand(*shape):
    return RNG.standard_normal(shape) + 1j * RNG.standard_normal(shape)


def close(t, ref, tol=1e-10):
    a = t.detach().numpy()
    assert a.shape == np.shape(ref), (a.shape, np.shape(ref))
    np.testing.assert_allclose(a, ref, rtol=tol, atol=tol)


@st.composite
def signals(draw, complex_=True, min_len=1):
    """(numpy array, deepseek tensor of it, maybe a non-contiguous view, dim)."""
    nd = draw(st.integers(1, 3))
    shape = [draw(st.integers(0, 4)) for _ in range(nd)]
    dim = draw(st.integers(-nd, nd - 1))
    shape[dim] = draw(st.integers(min_len, 9))
    a = crand(*shape) if complex_ else RNG.standard_normal(shape)
    view = draw(st.sampled_from(["plain", "transposed", "strided"]))
    if view == "transposed" and nd >= 2:
        t = ds.tensor(np.ascontiguousarray(np.swapaxes(a, 0, -1))).transpose(0, -1)
    elif view == "strided":
        big = np.repeat(a, 2, axis=dim)
        t = ds.tensor(big)
        sl = [slice(None)] * nd
        sl[dim] = slice(None, None, 2)
        t = t[tuple(sl)]
    else:
        t = ds.tensor(a)
    return a, t, dim


@settings(max_examples=40)
@given(sig=signals(), n=st.one_of(st.none(), st.integers(1, 12)), norm=st.sampled_from(NORMS),
       inverse=st.booleans())
def test_fft_ifft_match_numpy(sig, n, norm, inverse):
    a, t, dim = sig
    f, g = (F.ifft, np.fft.ifft) if inverse else (F.fft, np.fft.fft)
    r = f(t, n=n, dim=dim, norm=norm)
    assert r.dtype == ds.complex128
    close(r, g(a, n=n, axis=dim, norm=norm))


@settings(max_examples=40)
@given(sig=signals(complex_=False), n=st.one_of(st.none(), st.integers(1, 12)), norm=st.sampled_from(NORMS))
def test_real_transforms_match_numpy(sig, n, norm):
    a, t, dim = sig
    close(F.rfft(t, n=n, dim=dim, norm=norm), np.fft.rfft(a, n=n, axis=dim, norm=norm))
    close(F.fft(t, n=n, dim=dim, norm=norm), np.fft.fft(a, n=n, axis=dim, norm=norm))
    close(F.ihfft(t, n=n, dim=dim, norm=norm), np.fft.ihfft(a, n=n, axis=dim, norm=norm))
    spec = np.fft.rfft(a, axis=dim)
    ts = ds.tensor(spec)
    m = spec.shape[dim]
    if n is not None or m > 1:
        close(F.irfft(ts, n=n, dim=dim, norm=norm), np.fft.irfft(spec, n=n, axis=dim, norm=norm))
        close(F.hfft(ts, n=n, dim=dim, norm=norm), np.fft.hfft(spec, n=n, axis=dim, norm=norm))


@settings(max_examples=30)
@given(data=st.data(), norm=st.sampled_from(NORMS))
def test_nd_transforms_match_numpy(data, norm):
    nd = data.draw(st.integers(2, 3))
    shape = [data.draw(st.integers(1, 6)) for _ in range(nd)]
    k = data.draw(st.integers(1, nd))
    axes = data.draw(st.permutations(range(nd)))[:k]
    s = data.draw(st.one_of(st.none(), st.lists(st.integers(1, 7), min_size=k, max_size=k)))
    a, r = crand(*shape), RNG.standard_normal(shape)
    ta, tr = ds.tensor(a), ds.tensor(r)
    close(F.fftn(ta, s=s, dim=axes, norm=norm), np.fft.fftn(a, s=s, axes=axes, norm=norm))
    close(F.ifftn(ta, s=s, dim=axes, norm=norm), np.fft.ifftn(a, s=s, axes=axes, norm=norm))
    close(F.rfftn(tr, s=s, dim=axes, norm=norm), np.fft.rfftn(r, s=s, axes=axes, norm=norm))
    spec = np.fft.rfftn(r, axes=axes)
    if s is not None or spec.shape[axes[-1]] > 1:
        close(F.irfftn(ds.tensor(spec), s=s, dim=axes, norm=norm), np.fft.irfftn(spec, s=s, axes=axes, norm=norm))


def test_two_dim_defaults_and_float32():
    a = crand(3, 4, 5)
    close(F.fft2(ds.tensor(a)), np.fft.fft2(a))
    close(F.ifft2(ds.tensor(a), s=(6, 3)), np.fft.ifft2(a, s=(6, 3)))
    r = RNG.standard_normal((4, 6))
    close(F.rfft2(ds.tensor(r)), np.fft.rfft2(r))
    close(F.irfft2(ds.tensor(np.fft.rfft2(r)), s=(4, 6)), r)
    close(F.fftn(ds.tensor(a)), np.fft.fftn(a))
    close(F.hfft2(ds.tensor(a)), np.fft.irfft2(np.conj(a)) * 4 * 8, 1e-9)  # hfft2 = n·irfft2(conj), n = 4·8
    t32 = F.fft(ds.tensor(r, dtype=ds.float32))
    assert t32.dtype == ds.complex64
    close(t32, np.fft.fft(r), 1e-5)
    # bool and integer inputs are promoted to the default float dtype, as PyTorch does
    b = F.fft(ds.tensor([True, False, True]))
    assert b.dtype == ds.complex64
    close(b, np.fft.fft([1.0, 0.0, 1.0]), 1e-6)
    close(F.rfft(ds.arange(6)), np.fft.rfft(np.arange(6.0)), 1e-5)


def test_many_lines_run_in_parallel():
    a = crand(64, 512)
    close(F.fft(ds.tensor(a)), np.fft.fft(a), 1e-9)
    close(F.irfft(ds.tensor(a), n=1022), np.fft.irfft(a, n=1022), 1e-9)
    close(F.fft(ds.tensor(a), dim=0), np.fft.fft(a, axis=0), 1e-9)


def test_zero_size_batch():
    a = np.zeros((0, 5))
    assert F.fft(ds.tensor(a)).shape == (0, 5)
    assert F.rfft(ds.tensor(a)).shape == (0, 3)
    assert F.irfft(ds.tensor(a + 0j)).shape == (0, 8)


def test_freq_and_shift_helpers():
    for n in (1, 4, 7):
        for d in (1.0, 0.25):
            close(F.fftfreq(n, d, dtype=ds.float64), np.fft.fftfreq(n, d))
            close(F.rfftfreq(n, d, dtype=ds.float64), np.fft.rfftfreq(n, d))
    assert F.fftfreq(5).dtype == ds.float32
    a = RNG.standard_normal((4, 5))
    close(F.fftshift(ds.tensor(a)), np.fft.fftshift(a))
    close(F.ifftshift(ds.tensor(a)), np.fft.ifftshift(a))
    close(F.fftshift(ds.tensor(a), dim=1), np.fft.fftshift(a, axes=1))
    close(F.ifftshift(ds.tensor(a + 1j), dim=(0,)), np.fft.ifftshift(a + 1j, axes=(0,)))
    with pytest.raises(RuntimeError, match="floating point or complex"):
        F.fftfreq(4, dtype=ds.int64)


def test_errors():
    x = ds.randn(8)
    with pytest.raises(RuntimeError, match="Invalid number of data points \\(0\\)"):
        F.fft(x, n=0)
    with pytest.raises(RuntimeError, match="Invalid number of data points"):
        F.fft(ds.zeros(0))
    with pytest.raises(RuntimeError, match="Invalid number of data points"):
        F.irfft(ds.ones(1, dtype=ds.complex64))
    with pytest.raises(ValueError, match="Invalid normalization mode"):
        F.fft(x, norm="sideways")
    with pytest.raises(RuntimeError, match="Unsupported dtype"):
        F.fft(x.half())
    with pytest.raises(RuntimeError, match="real input"):
        F.rfft(x + 1j)
    with pytest.raises(RuntimeError, match="unique"):
        F.fftn(ds.randn(3, 3), dim=(0, 0))
    with pytest.raises(RuntimeError, match="same length"):
        F.fftn(ds.randn(3, 3), s=(3,), dim=(0, 1))
    with pytest.raises(IndexError, match="out of range"):
        F.fft(x, dim=1)
    with pytest.raises(TypeError):
        F.fft([1.0, 2.0])


# ---------------- gradients: the adjoint transforms ----------------

def _fd_grad(loss, a, eps=1e-6):
    g = np.zeros_like(a)
    units = (1, 1j) if np.iscomplexobj(a) else (1,)
    for idx in np.ndindex(a.shape):
        for u in units:
            d = np.zeros_like(a)
            d[idx] = eps * u
            g[idx] += u * (loss(a + d) - loss(a - d)) / (2 * eps)
    return g


CASES = {
    "fft": (lambda t, kw: F.fft(t, **kw), lambda a, kw: np.fft.fft(a, n=kw.get("n"), norm=kw.get("norm")), True),
    "ifft": (lambda t, kw: F.ifft(t, **kw), lambda a, kw: np.fft.ifft(a, n=kw.get("n"), norm=kw.get("norm")), True),
    "rfft": (lambda t, kw: F.rfft(t, **kw), lambda a, kw: np.fft.rfft(a, n=kw.get("n"), norm=kw.get("norm")), False),
    "irfft": (lambda t, kw: F.irfft(t, **kw), lambda a, kw: np.fft.irfft(a, n=kw.get("n"), norm=kw.get("norm")), True),
    "hfft": (lambda t, kw: F.hfft(t, **kw), lambda a, kw: np.fft.hfft(a, n=kw.get("n"), norm=kw.get("norm")), True),
    "ihfft": (lambda t, kw: F.ihfft(t, **kw), lambda a, kw: np.fft.ihfft(a, n=kw.get("n"), norm=kw.get("norm")), False),
    "fft2": (lambda t, kw: F.fft2(t, norm=kw.get("norm")), lambda a, kw: np.fft.fft2(a, norm=kw.get("norm")), True),
    "rfftn": (lambda t, kw: F.rfftn(t, norm=kw.get("norm")), lambda a, kw: np.fft.rfftn(a, norm=kw.get("norm")), False),
    "irfftn": (lambda t, kw: F.irfftn(t, norm=kw.get("norm")), lambda a, kw: np.fft.irfftn(a, norm=kw.get("norm")), True),
}


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("norm,n", [(None, None), ("ortho", 7), ("forward", 4)])
def test_gradients_match_finite_differences(name, norm, n):
    f_ds, f_np, cplx = CASES[name]
    shape = (2, 5)
    a = crand(*shape) if cplx else RNG.standard_normal(shape)
    kw = {"norm": norm} if name in ("fft2", "rfftn", "irfftn") else {"norm": norm, "n": n}
    w = crand(*f_np(a, kw).shape)

    def loss_np(x):
        y = f_np(x, kw)
        return float(np.sum(np.abs(y) ** 2 * 0.5) + np.sum((y * w).real))

    t = ds.tensor(a, requires_grad=True)
    y = f_ds(t, kw)
    loss = (y.abs() ** 2 * 0.5).sum() + (y * ds.tensor(w)).real.sum()
    loss.backward()
    assert t.grad.dtype == t.dtype
    close(t.grad, _fd_grad(loss_np, a), 1e-5)
