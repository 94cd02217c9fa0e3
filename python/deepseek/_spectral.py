"""``deepseek.stft`` and ``deepseek.istft``: the short-time Fourier transform and its inverse,
with ``torch.stft``/``torch.istft``'s arguments, defaults, checks and definitions.

Frames are a strided view of the (centre-padded) signal (``_core.frames``, whose gradient is an
overlap-add), windowed, and transformed by the core's one-dimensional FFT over the last dim;
``istft`` overlap-adds the inverse transforms (``_core.overlap_add``) and divides by the summed
squared window. Both are differentiable.
"""
from __future__ import annotations

import math
import warnings

from . import _core, _ops
from ._core import Tensor

__all__ = ["stft", "istft", "hann_window", "hamming_window", "blackman_window", "bartlett_window"]


def _dev(t):
    return None if t._device == "cpu" else t._device


def _full_window(op, window, win_length, n_fft, like):
    """The window padded with zeros on both sides to ``n_fft`` (ones when None), as PyTorch
    centres a shorter window in the frame."""
    if window is None:
        w = _core.full([win_length], 1, like.dtype.to_real().name, _dev(like))
    else:
        w = window
    if win_length < n_fft:
        left = (n_fft - win_length) // 2
        w = _core.pad(w, [left, n_fft - win_length - left], 0.0)
    return w


def _center_pad(x, p, mode):
    """[batch, len] padded by ``p`` on both sides of the last dim (torch.stft's centring):
    slices, flips and one ``cat`` (views until the cat), for real and complex signals."""
    if p == 0:
        return x
    n = x.shape[1]
    if mode == "constant":
        return _core.cat([_core.zeros([x.shape[0], p], x._dtype, _dev(x)), x,
                          _core.zeros([x.shape[0], p], x._dtype, _dev(x))], 1)
    if mode == "reflect":
        if p >= n:
            raise RuntimeError(f"stft: reflect padding of {p} needs a signal longer than {p} samples, got {n} "
                               "(Argument #4: Padding size should be less than the corresponding input dimension)")
        left = _core.flip(_core.slice(x, 1, 1, p + 1, 1), [1])
        right = _core.flip(_core.slice(x, 1, n - p - 1, n - 1, 1), [1])
    elif mode == "replicate":
        left = _core.expand(_core.slice(x, 1, 0, 1, 1), [x.shape[0], p])
        right = _core.expand(_core.slice(x, 1, n - 1, n, 1), [x.shape[0], p])
    elif mode == "circular":
        if p > n:
            raise RuntimeError(f"stft: circular padding of {p} wraps around a signal of {n} samples more than once")
        left, right = _core.slice(x, 1, n - p, n, 1), _core.slice(x, 1, 0, p, 1)
    else:
        raise NotImplementedError(f"stft: pad_mode must be 'constant', 'reflect', 'replicate' or 'circular', got {mode!r}")
    return _core.cat([left, x, right], 1)


def _repr(op, x, n_fft, hop, win, window, extra):
    w = "None" if window is None else f"{window.dtype.name}{list(window.shape)}"
    return f"{op}({x.dtype.name}{list(x.shape)}, n_fft={n_fft}, hop_length={hop}, win_length={win}, window={w}{extra})"


def stft(input, n_fft, hop_length=None, win_length=None, window=None, center=True, pad_mode="reflect",
         normalized=False, onesided=None, return_complex=None) -> Tensor:
    """stft(input, n_fft, hop_length=None, win_length=None, window=None, center=True,
    pad_mode='reflect', normalized=False, onesided=None, return_complex=None) -> Tensor

    The short-time Fourier transform of a 1-D ``[time]`` or 2-D ``[batch, time]`` signal:

    ``X[ω, m] = Σ_k window[k] · input[m·hop_length + k] · exp(-2πi·ωk/n_fft)``

    with ``hop_length = n_fft // 4`` and ``win_length = n_fft`` by default (a shorter window is
    zero-padded on both sides to ``n_fft``; no window means ones). ``center`` pads the signal by
    ``n_fft // 2`` on both sides with ``pad_mode`` first; ``normalized`` scales by
    ``1/sqrt(n_fft)``; ``onesided`` (default for real input and window) keeps the
    ``n_fft // 2 + 1`` non-redundant frequencies. Returns ``[batch?, freq, frames]``, complex
    (or its ``view_as_real`` with ``return_complex=False``, which must then be given, as in
    PyTorch).

    Example::

        >>> x = deepseek.randn(16000)
        >>> deepseek.stft(x, 400, hop_length=160, window=deepseek.hann_window(400), return_complex=True).shape
        deepseek.Size([201, 101])
    """
    _ops._check_tensor("stft", input)
    hop = n_fft // 4 if hop_length is None else hop_length
    win = n_fft if win_length is None else win_length
    cplx = input.dtype.is_complex or (window is not None and window.dtype.is_complex)
    if return_complex is None:
        if not cplx:
            raise RuntimeError("stft requires the return_complex parameter be given for real inputs, and will further "
                               "require that return_complex=True in a future PyTorch release.")
        return_complex = True
    where = lambda: _repr("stft", input, n_fft, hop, win, window, f", normalized={normalized}, onesided={onesided}, return_complex={return_complex})")
    if not (input.dtype.is_floating_point or input.dtype.is_complex):
        raise RuntimeError(f"{where()}: expected a tensor of floating point or complex values")
    if input.ndim not in (1, 2):
        raise RuntimeError(f"{where()}: expected a 1D or 2D tensor")
    if window is not None and window._device != input._device:
        raise RuntimeError(f"stft input and window must be on the same device but got self on {input.device} and window on {window.device}")
    x = input.unsqueeze(0) if input.ndim == 1 else input
    if center:
        x = _center_pad(x, n_fft // 2, pad_mode)
    length = x.shape[1]
    if n_fft <= 0 or n_fft > length:
        raise RuntimeError(f"{where()}: expected 0 < n_fft < {length}, but got n_fft={n_fft}")
    if hop <= 0:
        raise RuntimeError(f"{where()}: expected hop_length > 0, but got hop_length={hop}")
    if win <= 0 or win > n_fft:
        raise RuntimeError(f"{where()}: expected 0 < win_length <= n_fft, but got win_length={win}")
    if window is not None and (window.ndim != 1 or window.shape[0] != win):
        raise RuntimeError(f"{where()}: expected a 1D window tensor of size equal to win_length={win}, but got window with size {tuple(window.shape)}")
    seg = _core.frames(x, n_fft, hop)  # [batch, frames, n_fft], a view
    if window is not None or win < n_fft:
        seg = seg * _full_window("stft", window, win, n_fft, x)
    if onesided is None:
        onesided = not seg.dtype.is_complex
    if seg.dtype.is_complex:
        if onesided:
            raise RuntimeError("Cannot have onesided output if window or input is complex")
        out = _core.fft_c2c(seg, 2, False)
    elif onesided:
        out = _core.fft_r2c(seg, 2)
    else:
        out = _core.fft_c2c(_core.cast(seg, seg.dtype.to_complex().name), 2, False)
    if normalized:
        out = out * (1.0 / math.sqrt(n_fft))
    out = _core.transpose(out, 1, 2)
    if input.ndim == 1:
        out = out.squeeze(0)
    return out if return_complex else _core.view_as_real(out)


def istft(input, n_fft, hop_length=None, win_length=None, window=None, center=True, normalized=False,
          onesided=None, length=None, return_complex=False) -> Tensor:
    """istft(input, n_fft, hop_length=None, win_length=None, window=None, center=True,
    normalized=False, onesided=None, length=None, return_complex=False) -> Tensor

    The inverse of :func:`stft` by overlap-add: each frame's inverse transform times the window,
    summed at its offset, divided by the summed squared window (which must stay above 1e-11
    where the signal is kept). ``input`` is complex ``[batch?, freq, frames]`` as :func:`stft`
    returns it; ``onesided`` defaults to ``freq != n_fft``; ``length`` trims or zero-pads the
    result; ``center`` removes the ``n_fft // 2`` samples :func:`stft` padded on each side.
    """
    _ops._check_tensor("istft", input)
    hop = n_fft // 4 if hop_length is None else hop_length
    win = n_fft if win_length is None else win_length
    if not input.dtype.is_complex:
        raise RuntimeError("istft requires a complex-valued input tensor matching the output from stft with return_complex=True.")
    where = lambda: _repr("istft", input, n_fft, hop, win, window, f", center={center}, normalized={normalized}, onesided={onesided}, length={length}, return_complex={return_complex})")
    if window is not None and window._device != input._device:
        raise RuntimeError(f"istft input and window must be on the same device but got self on {input.device} and window on {window.device}")
    if input.numel() == 0:
        raise RuntimeError(f"{where()}: input tensor cannot be empty.")
    if input.ndim not in (2, 3):
        raise RuntimeError(f"{where()}: expected a tensor with 3 or 4 dimensions, but got {input.ndim + 1}")
    fft_size, n_frames = input.shape[-2], input.shape[-1]
    if onesided is None:
        onesided = fft_size != n_fft
    if onesided and n_fft // 2 + 1 != fft_size:
        raise RuntimeError(f"{where()}: expected the frequency dimension (3rd to the last) of the input tensor to match n_fft / 2 + 1 when onesided=True, but got {fft_size}")
    if not onesided and n_fft != fft_size:
        raise RuntimeError(f"{where()}: expected the frequency dimension (3rd to the last) of the input tensor to match n_fft when onesided=False, but got {fft_size}")
    if not 0 < hop <= win:
        raise RuntimeError(f"{where()}: expected 0 < hop_length <= win_length")
    if not 0 < win <= n_fft:
        raise RuntimeError(f"{where()}: expected 0 < win_length <= n_fft")
    if window is not None and (window.ndim != 1 or window.shape[0] != win):
        raise RuntimeError(f"{where()}: Invalid window shape. window has to be 1D and length of `win_length`")
    w = _full_window("istft", window, win, n_fft, input)
    x = input.unsqueeze(0) if input.ndim == 2 else input
    x = _core.transpose(x, 1, 2)  # [batch, frames, freq]
    scale = 1.0 / math.sqrt(n_fft) if normalized else 1.0 / n_fft
    if return_complex:
        if onesided:
            raise RuntimeError("Cannot have onesided output if window or input is complex")
        frames = _core.fft_c2c(x, 2, True) * scale
    else:
        if window is not None and window.dtype.is_complex:
            raise RuntimeError("Complex windows are incompatible with return_complex=False")
        if not onesided:
            x = _core.slice(x, 2, 0, n_fft // 2 + 1, 1)
        frames = _core.fft_c2r(x, 2, n_fft) * scale
    frames = frames * w
    total = n_fft + hop * (n_frames - 1)
    y = _core.overlap_add(frames, hop, total)
    with _no_grad():
        w2 = (w * _core.conj(w)).real if w.dtype.is_complex else w * w
        env = _core.overlap_add(w2.reshape(1, 1, n_fft).expand(1, n_frames, n_fft), hop, total)
    start = n_fft // 2 if center else 0
    if length is not None:
        end = start + length
    else:
        end = total - n_fft // 2 if center else total
    y = _core.slice(y, 1, start, min(end, total), 1)
    env = _core.slice(env, 1, start, min(end, total), 1)
    if env.numel() and bool((env.abs().min() < 1e-11).item()):
        raise RuntimeError(f"{where()}window overlap add min: 1")
    y = y / env
    if input.ndim == 2:
        y = y.squeeze(0)
    if end > total:
        warnings.warn("The length of signal is shorter than the length parameter. Result is being padded with zeros in "
                      "the tail. Please check your center and hop_length settings.")
        y = _core.pad(y, [0, end - total], 0.0)
    return y


def _window(op, window_length, periodic, dtype, device, requires_grad, f):
    """``f(n, N)`` at ``n = 0 .. window_length - 1`` with ``N = window_length`` (periodic) or
    ``window_length - 1`` (symmetric), computed in float64 and rounded once."""
    from ._creation import arange, ones
    from ._dtype import get_default_dtype, to_dtype

    dt = get_default_dtype() if dtype is None else to_dtype(dtype)
    if not dt.is_floating_point:
        raise RuntimeError(f"{op} expects floating point dtypes, got: {dt}")
    if window_length < 0:
        raise RuntimeError(f"{op} requires non-negative window length, got window_length={window_length}")
    if window_length <= 1:
        w = ones(window_length, dtype=dt, device=device)
    else:
        n = arange(window_length, dtype="float64", device=device)
        w = f(n, float(window_length if periodic else window_length - 1)).to(dt)
    return w.requires_grad_(True) if requires_grad else w


def hann_window(window_length, periodic=True, *, dtype=None, layout=None, device=None, requires_grad=False):
    """hann_window(window_length, periodic=True, *, dtype=None, device=None) -> Tensor:
    ``0.5 - 0.5·cos(2πn/N)`` (N = window_length if periodic, else window_length - 1)."""
    return _window("hann_window", window_length, periodic, dtype, device, requires_grad,
                   lambda n, N: 0.5 - 0.5 * _ops.cos(n * (2 * math.pi / N)))


def hamming_window(window_length, periodic=True, alpha=0.54, beta=0.46, *, dtype=None, layout=None, device=None,
                   requires_grad=False):
    """hamming_window(window_length, periodic=True, alpha=0.54, beta=0.46, *, dtype=None) -> Tensor:
    ``alpha - beta·cos(2πn/N)``."""
    return _window("hamming_window", window_length, periodic, dtype, device, requires_grad,
                   lambda n, N: alpha - beta * _ops.cos(n * (2 * math.pi / N)))


def blackman_window(window_length, periodic=True, *, dtype=None, layout=None, device=None, requires_grad=False):
    """blackman_window(window_length, periodic=True, *, dtype=None) -> Tensor:
    ``0.42 - 0.5·cos(2πn/N) + 0.08·cos(4πn/N)``."""
    return _window("blackman_window", window_length, periodic, dtype, device, requires_grad,
                   lambda n, N: 0.42 - 0.5 * _ops.cos(n * (2 * math.pi / N)) + 0.08 * _ops.cos(n * (4 * math.pi / N)))


def bartlett_window(window_length, periodic=True, *, dtype=None, layout=None, device=None, requires_grad=False):
    """bartlett_window(window_length, periodic=True, *, dtype=None) -> Tensor: ``1 - |2n/N - 1|``."""
    return _window("bartlett_window", window_length, periodic, dtype, device, requires_grad,
                   lambda n, N: 1.0 - _ops.abs(n * (2.0 / N) - 1.0))


def _no_grad():
    from .autograd import no_grad

    return no_grad()
