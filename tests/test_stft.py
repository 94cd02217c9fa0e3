"""deepseek.stft / istft against a NumPy implementation of torch.stft's documented formula
``X[ω, m] = Σ_k window[k]·x[m·hop + k]·exp(-2πi·ωk/n_fft)`` (after centre padding), overlap-add
inversion, window functions against SciPy, gradients by finite differences, PyTorch's errors."""
import numpy as np
import pytest
import scipy.signal
from hypothesis import given, settings, strategies as st

import deepseek as ds

RNG = np.random.default_rng(2)


def close(t, ref, tol=1e-10):
    a = t.detach().numpy()
    assert a.shape == np.shape(ref), (a.shape, np.shape(ref))
    np.testing.assert_allclose(a, ref, rtol=tol, atol=tol)


def np_stft(x, n_fft, hop, win_length, window, center, pad_mode, normalized, onesided):
    x = np.atleast_2d(x)
    if center:
        p = n_fft // 2
        x = np.pad(x, ((0, 0), (p, p)), mode={"constant": "constant", "reflect": "reflect", "replicate": "edge",
                                               "circular": "wrap"}[pad_mode])
    w = np.ones(win_length) if window is None else window
    left = (n_fft - win_length) // 2
    w = np.pad(w, (left, n_fft - win_length - left))
    n_frames = 1 + (x.shape[1] - n_fft) // hop
    frames = np.stack([x[:, m * hop: m * hop + n_fft] * w for m in range(n_frames)], 1)
    k = np.arange(n_fft)
    omega = np.arange(n_fft // 2 + 1 if onesided else n_fft)
    basis = np.exp(-2j * np.pi * np.outer(k, omega) / n_fft)
    out = frames @ basis  # [batch, frames, freq]
    if normalized:
        out = out / np.sqrt(n_fft)
    return np.swapaxes(out, 1, 2)


@settings(max_examples=30)
@given(n_fft=st.integers(2, 16), data=st.data())
def test_stft_matches_the_formula(n_fft, data):
    hop = data.draw(st.integers(1, n_fft))
    win = data.draw(st.integers(1, n_fft))
    center = data.draw(st.booleans())
    pad_mode = data.draw(st.sampled_from(["reflect", "constant", "replicate", "circular"]))
    normalized = data.draw(st.booleans())
    use_window = data.draw(st.booleans())
    batched = data.draw(st.booleans())
    cplx = data.draw(st.booleans())
    length = data.draw(st.integers(n_fft, 3 * n_fft + 5))
    onesided = False if cplx else data.draw(st.sampled_from([None, True, False]))
    x = RNG.standard_normal((2, length) if batched else (length,))
    if cplx:
        x = x + 1j * RNG.standard_normal(x.shape)
    window = RNG.uniform(0.5, 1.5, win) if use_window else None
    r = ds.stft(ds.tensor(x), n_fft, hop_length=hop, win_length=win,
                window=None if window is None else ds.tensor(window), center=center, pad_mode=pad_mode,
                normalized=normalized, onesided=onesided, return_complex=True)
    ref = np_stft(x, n_fft, hop, win, window, center, pad_mode, normalized, onesided is not False and not cplx)
    close(r, ref if batched else ref[0], 1e-9)


def test_defaults_return_real_and_noncontiguous_input():
    x = RNG.standard_normal(64)
    t = ds.tensor(np.repeat(x, 2))[::2]  # strided view
    r = ds.stft(t, 16, return_complex=False)
    ref = np_stft(x, 16, 4, 16, None, True, "reflect", False, True)[0]
    close(r, np.stack([ref.real, ref.imag], -1), 1e-9)
    assert ds.stft(ds.tensor(x, dtype=ds.float32), 16, return_complex=True).dtype == ds.complex64


@settings(max_examples=20)
@given(n_fft=st.sampled_from([8, 12, 16]), hop_div=st.sampled_from([2, 4]), center=st.booleans(),
       normalized=st.booleans(), batched=st.booleans(), data=st.data())
def test_istft_inverts_stft(n_fft, hop_div, center, normalized, batched, data):
    hop = n_fft // hop_div
    n = data.draw(st.integers(2 * n_fft, 5 * n_fft))
    x = RNG.standard_normal((3, n) if batched else (n,))
    # without centring, the first sample sees only window[0]: a Hann window (0 there) would make
    # the overlap-add envelope vanish, which istft refuses (tested below)
    w = ds.hann_window(n_fft, dtype=ds.float64) + (0.0 if center else 0.1)
    spec = ds.stft(ds.tensor(x), n_fft, hop, window=w, center=center, normalized=normalized, return_complex=True)
    y = ds.istft(spec, n_fft, hop, window=w, center=center, normalized=normalized, length=n if center else None)
    kept = y.shape[-1]
    if not center:
        assert kept == n_fft + hop * (spec.shape[-1] - 1)
    close(y, x[..., :kept], 1e-9)


def test_istft_two_sided_complex_and_length_padding():
    x = RNG.standard_normal(40) + 1j * RNG.standard_normal(40)
    w = ds.hann_window(8, dtype=ds.float64)
    spec = ds.stft(ds.tensor(x), 8, 2, window=w, return_complex=True)
    assert spec.shape == (8, 21)
    close(ds.istft(spec, 8, 2, window=w, return_complex=True, length=40), x, 1e-9)
    real = ds.stft(ds.tensor(x.real), 8, 2, window=w, onesided=False, return_complex=True)
    close(ds.istft(real, 8, 2, window=w, length=40), x.real, 1e-9)
    with pytest.warns(UserWarning, match="shorter than the length"):
        y = ds.istft(real, 8, 2, window=w, length=50)
    assert y.shape == (50,) and np.all(y.numpy()[44:] == 0)  # 48 samples, 4 dropped by centring
    close(y[:40], x.real, 1e-9)


def test_windows_match_scipy():
    for n in (1, 2, 7, 16):
        for periodic in (True, False):
            for name, sp in (("hann", "hann"), ("hamming", "hamming"), ("blackman", "blackman"), ("bartlett", "bartlett")):
                w = getattr(ds, f"{name}_window")(n, periodic=periodic, dtype=ds.float64)
                ref = scipy.signal.get_window(sp, n, fftbins=periodic) if n > 1 else np.ones(n)
                close(w, ref, 1e-12)
    assert ds.hann_window(4).dtype == ds.float32


def test_stft_gradient_matches_finite_differences():
    x = RNG.standard_normal(20)
    win = RNG.uniform(0.5, 1.5, 6)
    wts = RNG.standard_normal((5, 7)) + 1j * RNG.standard_normal((5, 7))  # [freq, frames]

    def loss_np(v):
        s = np_stft(v, 8, 3, 6, win, True, "reflect", True, True)[0]
        return float(np.sum(np.abs(s) ** 2) + np.sum((s * wts).real))

    t = ds.tensor(x, requires_grad=True)
    tw = ds.tensor(win, requires_grad=True)
    s = ds.stft(t, 8, 3, 6, window=tw, normalized=True, return_complex=True)
    loss = (s.abs() ** 2).sum() + (s * ds.tensor(wts)).real.sum()
    loss.backward()
    g = np.zeros_like(x)
    for i in range(x.size):
        d = np.zeros_like(x)
        d[i] = 1e-6
        g[i] = (loss_np(x + d) - loss_np(x - d)) / 2e-6
    close(t.grad, g, 1e-5)
    assert tw.grad is not None and tw.grad.shape == (6,)


def test_istft_gradient_matches_finite_differences():
    w = np.hanning(10)[1:-1] + 0.1  # length 8, no zeros at the ends
    spec = np.fft.rfft(RNG.standard_normal((6, 8)), axis=1).T  # [freq 5, frames 6]
    target = RNG.standard_normal(8 + 2 * 5)

    def loss_np(sp):
        frames = np.fft.irfft(sp.T, n=8, axis=1) * w
        y = np.zeros(8 + 2 * 5)
        env = np.zeros_like(y)
        for m in range(6):
            y[2 * m: 2 * m + 8] += frames[m]
            env[2 * m: 2 * m + 8] += w ** 2
        y = (y / env)[4:-4]
        return float(np.sum((y - target[4:-4]) ** 2))

    t = ds.tensor(spec, requires_grad=True)
    y = ds.istft(t, 8, 2, window=ds.tensor(w))
    ((y - ds.tensor(target[4:-4])) ** 2).sum().backward()
    g = np.zeros_like(spec)
    for idx in np.ndindex(spec.shape):
        for u in (1, 1j):
            d = np.zeros_like(spec)
            d[idx] = 1e-6 * u
            g[idx] += u * (loss_np(spec + d) - loss_np(spec - d)) / 2e-6
    close(t.grad, g, 1e-5)


def test_errors():
    x = ds.randn(32)
    with pytest.raises(RuntimeError, match="return_complex parameter be given"):
        ds.stft(x, 8)
    with pytest.raises(RuntimeError, match="expected 0 < n_fft"):
        ds.stft(x, 64, center=False, return_complex=True)
    with pytest.raises(RuntimeError, match="win_length"):
        ds.stft(x, 8, win_length=9, return_complex=True)
    with pytest.raises(RuntimeError, match="window tensor of size"):
        ds.stft(x, 8, window=ds.ones(7), return_complex=True)
    with pytest.raises(RuntimeError, match="hop_length > 0"):
        ds.stft(x, 8, hop_length=0, return_complex=True)
    with pytest.raises(RuntimeError, match="1D or 2D"):
        ds.stft(ds.randn(2, 2, 32), 8, return_complex=True)
    with pytest.raises(RuntimeError, match="floating point or complex"):
        ds.stft(ds.arange(32), 8, return_complex=True)
    with pytest.raises(RuntimeError, match="onesided"):
        ds.stft(x + 1j, 8, onesided=True, return_complex=True)
    spec = ds.stft(x, 8, return_complex=True)
    with pytest.raises(RuntimeError, match="complex-valued input"):
        ds.istft(ds.view_as_real(spec), 8)
    with pytest.raises(RuntimeError, match="n_fft / 2 \\+ 1"):
        ds.istft(spec, 10)
    with pytest.raises(RuntimeError, match="window overlap add min"):
        ds.istft(spec, 8, window=ds.zeros(8))
    with pytest.raises(RuntimeError, match="hop_length <= win_length"):
        ds.istft(spec, 8, hop_length=9)
