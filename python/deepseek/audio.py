"""``deepseek.audio``: speech front ends. torchaudio's transforms (``Spectrogram``,
``MelSpectrogram``, ``AmplitudeToDB``, ``MFCC``, with their arguments, buffers and results) and
Whisper's log-mel features (``log_mel_spectrogram``, ``mel_filters``, ``pad_or_trim``).

>>> from deepseek.audio import log_mel_spectrogram, pad_or_trim
>>> feats = log_mel_spectrogram(pad_or_trim(deepseek.randn(16000)))   # [80, 3000]

The implementations live in ``deepseek.models.audio``, beside the models that use them.
"""
from .models.audio import (  # noqa: F401
    MFCC, WHISPER_HOP_LENGTH, WHISPER_N_FFT, WHISPER_N_SAMPLES, WHISPER_SAMPLE_RATE, AmplitudeToDB, MelSpectrogram,
    Spectrogram, amplitude_to_db, create_dct, log_mel_spectrogram, mel_filters, melscale_fbanks, pad_or_trim)

__all__ = ["Spectrogram", "MelSpectrogram", "AmplitudeToDB", "MFCC", "amplitude_to_db", "melscale_fbanks",
           "create_dct", "log_mel_spectrogram", "mel_filters", "pad_or_trim", "WHISPER_SAMPLE_RATE", "WHISPER_N_FFT",
           "WHISPER_HOP_LENGTH", "WHISPER_N_SAMPLES"]
