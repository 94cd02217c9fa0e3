"""The speech front ends of ``deepseek.models.audio`` against torchaudio's transforms: the
buffers (names and shapes) and the outputs on a fixed signal, recorded by
bench/gen_model_keys.py; gradients flow to the waveform; bad input is named."""
import json
from pathlib import Path

import numpy as np
import pytest

import deepseek as ds
from deepseek.models import audio

REF = json.loads((Path(__file__).parent / "data" / "model_keys" / "audio_transforms.json").read_text())


def _signal():
    t = np.arange(4000)
    return np.stack([np.sin(t * 0.05) + 0.3 * np.sin(t * 0.71), np.cos(t * 0.013) * np.sin(t * 0.2)]).astype(np.float32)


@pytest.mark.parametrize("case", ["mel_spectrogram", "mfcc", "mel_spectrogram_win"])
def test_matches_torchaudio(case):
    ref = REF[case]
    tr = getattr(audio, ref["class"])(**ref["kwargs"])
    assert {k: list(v.shape) for k, v in tr.state_dict().items()} == ref["keys"]
    out = tr(ds.tensor(_signal())).numpy()
    assert list(out.shape) == ref["output_shape"]
    want = np.array(ref["output"], dtype=np.float32).reshape(out.shape)
    scale = np.abs(want).max()
    np.testing.assert_allclose(out, want, rtol=1e-3, atol=1e-4 * scale)


def test_gradient_reaches_the_waveform():
    x = ds.tensor(_signal()[:1], requires_grad=True)
    mel = audio.MelSpectrogram(n_fft=256, hop_length=64, n_mels=32)
    mel(x).sum().backward()
    g = x.grad.numpy()
    assert g.shape == (1, 4000) and np.isfinite(g).all() and np.abs(g).max() > 0


def test_errors_are_named():
    with pytest.raises(ValueError, match="shorter than n_fft"):
        audio.Spectrogram(n_fft=400, center=False)(ds.zeros(1, 100))
    with pytest.raises(ValueError, match="n_mfcc"):
        audio.MFCC(n_mfcc=50, melkwargs=dict(n_mels=40))
    with pytest.raises(ValueError, match="stype"):
        audio.AmplitudeToDB("energy")
