"""Speech front ends with torchaudio's transforms' arguments, buffers (``window``, ``fb``,
``dct_mat``) and results: ``Spectrogram``, ``MelSpectrogram``, ``AmplitudeToDB``, ``MFCC``;
and Whisper's: ``log_mel_spectrogram``, ``mel_filters``, ``pad_or_trim``.

The short-time Fourier transform is ``deepseek.stft`` (an FFT per frame, differentiable), as
torchaudio computes it."""
from __future__ import annotations

import math

import numpy as np

from ..nn import functional as F
from ..nn.modules.module import Module


def _t(a):
    from .. import tensor

    return tensor(np.ascontiguousarray(a, dtype=np.float32))


def hann_window(n):
    """Periodic Hann window of length ``n`` (as ``torch.hann_window``)."""
    return 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)


def _hz_to_mel(f, mel_scale):
    f = np.asarray(f, dtype=np.float64)
    if mel_scale == "htk":
        return 2595.0 * np.log10(1.0 + f / 700.0)
    # Slaney: linear below 1 kHz (3 mels per 200 Hz), logarithmic above
    lin = f / (200.0 / 3)
    log = 15.0 + np.log(np.maximum(f, 1e-10) / 1000.0) / (math.log(6.4) / 27.0)
    return np.where(f >= 1000.0, log, lin)


def _mel_to_hz(m, mel_scale):
    m = np.asarray(m, dtype=np.float64)
    if mel_scale == "htk":
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)
    return np.where(m >= 15.0, 1000.0 * np.exp((math.log(6.4) / 27.0) * (m - 15.0)), m * (200.0 / 3))


def melscale_fbanks(n_freqs, f_min, f_max, n_mels, sample_rate, norm=None, mel_scale="htk"):
    """[n_freqs, n_mels] triangular filters evenly spaced on the mel scale (``"htk"`` or
    ``"slaney"``), optionally area-normalised (``norm="slaney"``), as
    ``torchaudio.functional.melscale_fbanks`` (NumPy float64)."""
    if norm not in (None, "slaney"):
        raise ValueError(f"melscale_fbanks: norm must be None or 'slaney', got {norm!r}")
    if mel_scale not in ("htk", "slaney"):
        raise ValueError(f"melscale_fbanks: mel_scale must be 'htk' or 'slaney', got {mel_scale!r}")
    all_freqs = np.linspace(0, sample_rate // 2, n_freqs)
    f_pts = _mel_to_hz(np.linspace(_hz_to_mel(f_min, mel_scale), _hz_to_mel(f_max, mel_scale), n_mels + 2), mel_scale)
    f_diff = f_pts[1:] - f_pts[:-1]
    slopes = f_pts[None, :] - all_freqs[:, None]
    down = -slopes[:, :-2] / f_diff[:-1]
    up = slopes[:, 2:] / f_diff[1:]
    fb = np.maximum(0.0, np.minimum(down, up))
    if norm == "slaney":  # each filter's area is one
        fb = fb * (2.0 / (f_pts[2:n_mels + 2] - f_pts[:n_mels]))[None, :]
    return fb


def create_dct(n_mfcc, n_mels):
    """[n_mels, n_mfcc] orthonormal DCT-II matrix."""
    n = np.arange(n_mels)
    k = np.arange(n_mfcc)[:, None]
    dct = np.cos(np.pi / n_mels * (n + 0.5) * k)
    dct[0] *= 1.0 / math.sqrt(2.0)
    return (dct * math.sqrt(2.0 / n_mels)).T


class Spectrogram(Module):
    """Spectrogram(n_fft=400, win_length=None, hop_length=None, power=2.0, center=True,
    pad_mode="reflect"): [..., time] -> [..., n_fft // 2 + 1, frames]."""

    def __init__(self, n_fft=400, win_length=None, hop_length=None, pad=0, power=2.0, normalized=False, center=True,
                 pad_mode="reflect"):
        super().__init__()
        if power is None or power <= 0:
            raise ValueError(f"Spectrogram: only real power spectra (power > 0) are supported, got power={power}")
        self.n_fft, self.win_length = n_fft, win_length or n_fft
        self.hop_length = hop_length or self.win_length // 2
        self.pad, self.power, self.normalized, self.center, self.pad_mode = pad, power, normalized, center, pad_mode
        self.register_buffer("window", _t(hann_window(self.win_length)))

    def forward(self, x):
        from .. import stft

        shape = tuple(x.shape)
        if len(shape) == 0 or shape[-1] < 2:
            raise ValueError(f"Spectrogram: expected [..., time] with time >= 2, got shape {shape}")
        x = x.reshape(-1, shape[-1])
        if self.pad:
            x = F.pad(x, (self.pad, self.pad))
        t = x.shape[-1] + (2 * (self.n_fft // 2) if self.center else 0)
        if t < self.n_fft:
            raise ValueError(f"Spectrogram: signal of {t} samples is shorter than n_fft={self.n_fft}")
        spec = stft(x, self.n_fft, self.hop_length, self.win_length, self.window, self.center, self.pad_mode,
                    normalized=False, onesided=True, return_complex=True)
        re, im = spec.real, spec.imag
        spec = re * re + im * im
        if self.normalized:
            spec = spec / (self.window * self.window).sum()
        if self.power != 2.0:
            spec = spec ** (self.power / 2.0)
        return spec.reshape(*shape[:-1], spec.shape[-2], spec.shape[-1])


class _MelScale(Module):
    def __init__(self, n_mels, sample_rate, f_min, f_max, n_stft, norm=None, mel_scale="htk"):
        super().__init__()
        self.register_buffer("fb", _t(melscale_fbanks(n_stft, f_min, f_max, n_mels, sample_rate, norm, mel_scale)))

    def forward(self, spec):
        return (spec.transpose(-1, -2) @ self.fb).transpose(-1, -2)


class MelSpectrogram(Module):
    """MelSpectrogram(sample_rate=16000, n_fft=400, win_length=None, hop_length=None,
    f_min=0.0, f_max=None, n_mels=128, power=2.0, norm=None, mel_scale="htk"): [..., time] ->
    [..., n_mels, frames]."""

    def __init__(self, sample_rate=16000, n_fft=400, win_length=None, hop_length=None, f_min=0.0, f_max=None, pad=0,
                 n_mels=128, power=2.0, normalized=False, center=True, pad_mode="reflect", norm=None, mel_scale="htk"):
        super().__init__()
        self.sample_rate, self.n_mels = sample_rate, n_mels
        self.spectrogram = Spectrogram(n_fft, win_length, hop_length, pad, power, normalized, center, pad_mode)
        self.mel_scale = _MelScale(n_mels, sample_rate, f_min, f_max if f_max is not None else sample_rate / 2.0,
                                   n_fft // 2 + 1, norm, mel_scale)

    def forward(self, x):
        return self.mel_scale(self.spectrogram(x))


def amplitude_to_db(x, multiplier=10.0, amin=1e-10, db_multiplier=0.0, top_db=None):
    """``multiplier * log10(max(x, amin))``, floored at ``top_db`` below the maximum (taken
    over the last three dimensions, as torchaudio does)."""
    from .. import _ops, clamp, log10

    x_db = multiplier * log10(clamp(x, min=amin)) - multiplier * db_multiplier
    if top_db is not None:
        shape = tuple(x_db.shape)
        c = shape[-3] if x_db.ndim > 2 else 1
        packed = x_db.reshape(-1, c, shape[-2], shape[-1])
        floor = packed.amax(dim=(-3, -2, -1)) - top_db
        x_db = _ops.maximum(packed, floor.reshape(-1, 1, 1, 1)).reshape(*shape)
    return x_db


class AmplitudeToDB(Module):
    """AmplitudeToDB(stype="power", top_db=None): power (or magnitude) to decibels."""

    def __init__(self, stype="power", top_db=None):
        super().__init__()
        if stype not in ("power", "magnitude"):
            raise ValueError(f"AmplitudeToDB: stype must be 'power' or 'magnitude', got {stype!r}")
        self.multiplier = 10.0 if stype == "power" else 20.0
        self.top_db = top_db

    def forward(self, x):
        return amplitude_to_db(x, self.multiplier, 1e-10, math.log10(max(1e-10, 1.0)), self.top_db)


class MFCC(Module):
    """MFCC(sample_rate=16000, n_mfcc=40, log_mels=False, melkwargs=None): mel power
    spectrogram -> decibels (top_db 80) -> orthonormal DCT-II; [..., time] -> [..., n_mfcc, frames]."""

    def __init__(self, sample_rate=16000, n_mfcc=40, dct_type=2, norm="ortho", log_mels=False, melkwargs=None):
        super().__init__()
        if dct_type != 2 or norm != "ortho":
            raise ValueError("MFCC: only dct_type=2 with norm='ortho' is supported")
        melkwargs = dict(melkwargs or {})
        self.MelSpectrogram = MelSpectrogram(sample_rate=sample_rate, **melkwargs)
        n_mels = self.MelSpectrogram.n_mels
        if n_mfcc > n_mels:
            raise ValueError(f"MFCC: n_mfcc ({n_mfcc}) cannot exceed n_mels ({n_mels})")
        self.register_buffer("dct_mat", _t(create_dct(n_mfcc, n_mels)))
        self.amplitude_to_DB = AmplitudeToDB("power", 80.0)
        self.log_mels = log_mels

    def forward(self, x):
        from .. import _ops

        mel = self.MelSpectrogram(x)
        mel = _ops.log(mel + 1e-6) if self.log_mels else self.amplitude_to_DB(mel)
        return (mel.transpose(-1, -2) @ self.dct_mat).transpose(-1, -2)


# ---- Whisper's front end -------------------------------------------------------------------------

WHISPER_SAMPLE_RATE, WHISPER_N_FFT, WHISPER_HOP_LENGTH, WHISPER_CHUNK_LENGTH = 16000, 400, 160, 30
WHISPER_N_SAMPLES = WHISPER_CHUNK_LENGTH * WHISPER_SAMPLE_RATE  # 480000 samples: 3000 frames


def mel_filters(n_mels=80, n_fft=WHISPER_N_FFT, sample_rate=WHISPER_SAMPLE_RATE):
    """Whisper's mel filter bank [n_mels, n_fft // 2 + 1] (librosa's default: Slaney mel scale
    and area normalisation, 0 Hz to Nyquist) as a NumPy float64 array."""
    return np.ascontiguousarray(melscale_fbanks(n_fft // 2 + 1, 0.0, sample_rate / 2.0, n_mels, sample_rate, "slaney",
                                                "slaney").T)


def pad_or_trim(array, length=WHISPER_N_SAMPLES, *, axis=-1):
    """Pads with zeros or trims the ``axis`` of ``array`` to ``length`` samples (30 s at 16 kHz
    by default), as Whisper does before its log-mel features."""
    n = array.shape[axis]
    if n > length:
        return array.narrow(axis, 0, length)
    if n < length:
        pad = [0, 0] * (array.ndim - 1 - (axis % array.ndim)) + [0, length - n]
        return F.pad(array, pad)
    return array


def log_mel_spectrogram(audio, n_mels=80, padding=0):
    """log_mel_spectrogram(audio, n_mels=80, padding=0): Whisper's input features of a 16 kHz
    waveform ``[..., samples]`` -> ``[..., n_mels, samples // 160]``.

    A periodic Hann window of 400 samples every 160 (centred, reflect-padded STFT, the last frame
    dropped), power spectrum, ``mel_filters(n_mels)``, ``log10`` of at least 1e-10, floored at 8
    below each example's maximum, then ``(x + 4) / 4``. ``padding`` zeros are appended first.
    Differentiable with respect to ``audio``."""
    from .. import _ops, clamp, log10, stft, tensor

    if not hasattr(audio, "shape") or audio.ndim == 0:
        raise ValueError("log_mel_spectrogram: expected a waveform tensor [..., samples]")
    if not audio.dtype.is_floating_point:
        raise TypeError(f"log_mel_spectrogram: expected a floating-point waveform, got {audio.dtype}")
    shape = tuple(audio.shape)
    x = audio.reshape(-1, shape[-1])
    if padding > 0:
        x = F.pad(x, (0, padding))
    if x.shape[-1] <= WHISPER_N_FFT // 2:
        raise ValueError(f"log_mel_spectrogram: {x.shape[-1]} samples are too few for the reflect padding of "
                         f"n_fft={WHISPER_N_FFT} (need more than {WHISPER_N_FFT // 2})")
    window = tensor(hann_window(WHISPER_N_FFT)).to(x.dtype)  # built in float64, then the input's dtype
    spec = stft(x, WHISPER_N_FFT, WHISPER_HOP_LENGTH, window=window, center=True, pad_mode="reflect",
                return_complex=True)[..., :-1]
    re, im = spec.real, spec.imag
    mel = tensor(mel_filters(n_mels)).to(x.dtype) @ (re * re + im * im)
    log_spec = log10(clamp(mel, min=1e-10))
    peak = log_spec.amax(dim=(-2, -1), keepdim=True)
    log_spec = _ops.maximum(log_spec, peak - 8.0)
    out = (log_spec + 4.0) / 4.0
    return out.reshape(*shape[:-1], n_mels, out.shape[-1])
