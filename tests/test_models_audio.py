"""The speech front ends of ``deepseek.models.audio`` against torchaudio's transforms: the
buffers (names and shapes) and the outputs on a fixed signal, recorded by
bench/gen_model_keys.py; gradients flow to the waveform; bad input is named."""
import json
from pathlib import Path

import numpy as np
import pytest

import deepseek as ds
from deepseek import models
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


# ---- acoustic models ----------------------------------------------------------------------------

KEYS = Path(__file__).parent / "data" / "model_keys"
# name -> (small-run kwargs, two input shapes, training input shape)
SPEECH = {
    "wav2letter": ({}, ((1, 1, 1600), (2, 1, 4000)), (2, 1, 3200)),
    "deepspeech": (dict(n_hidden=256), ((1, 1, 5, 80), (2, 1, 9, 80)), (2, 1, 12, 80)),
}


def _logprobs_tbc(name, out):
    # CTC wants [time, batch, classes]
    return out.permute(2, 0, 1) if name == "wav2letter" else out.transpose(0, 1)


def test_speech_models_are_covered():
    # deepspeech2 and quartznet5x5 are tested in test_models_speechsm.py, the Hugging Face speech
    # models in tests/test_models_speechhf.py
    assert set(models.list_models("speech-recognition")) == set(SPEECH) | {
        "conformer", "deepspeech2", "quartznet5x5", "wav2vec2_base", "hubert_base", "whisper_tiny"}


@pytest.mark.parametrize("name", list(SPEECH))
def test_speech_state_dict_and_seeded_output_match_reference(name):
    from deepseek.models._testing import deterministic_input, load_deterministic_weights, reference_keys, state_dict_diff

    assert state_dict_diff(models.get_model(name), reference_keys(KEYS / f"{name}.json")) == []
    doc = json.loads((KEYS / f"{name}_outputs.json").read_text())
    model = load_deterministic_weights(models.get_model(name, **doc["kwargs"])).eval()
    with ds.no_grad():
        out = model(ds.tensor(deterministic_input(doc["input_shape"], "image"))).numpy()
    assert list(out.shape) == doc["output_shape"]
    ref = np.array(doc["first16"], dtype=np.float32)
    np.testing.assert_allclose(out[..., :16].reshape(-1), ref, rtol=1e-4, atol=2e-5 * max(1.0, np.abs(ref).max()))


@pytest.mark.parametrize("name", list(SPEECH))
def test_speech_shapes_ctc_training_determinism_and_round_trip(name, tmp_path):
    from deepseek import nn, optim

    kwargs, shapes, train_shape = SPEECH[name]
    ds.manual_seed(0)
    model = models.get_model(name, **kwargs).eval()
    rng = np.random.default_rng(0)
    with ds.no_grad():
        for shape in shapes:
            out = model(ds.tensor(rng.standard_normal(shape).astype(np.float32)))
            assert out.shape[0] == shape[0] and 40 in tuple(out.shape)
            lp = _logprobs_tbc(name, out).numpy()
            np.testing.assert_allclose(np.exp(lp).sum(-1), 1.0, rtol=1e-4)  # log-probabilities
    x = ds.tensor(rng.standard_normal(train_shape).astype(np.float32))
    targets = ds.tensor([[5, 9, 3], [7, 7, 2]], dtype=ds.int64)
    ctc = nn.CTCLoss(blank=0)
    model.train()
    opt = optim.Adam(model.parameters(), lr=1e-4)
    losses = []
    for _ in range(4):
        opt.zero_grad()
        lp = _logprobs_tbc(name, model(x))
        t = lp.shape[0]
        loss = ctc(lp, targets, ds.tensor([t, t], dtype=ds.int64), ds.tensor([3, 3], dtype=ds.int64))
        loss.backward()
        opt.step()
        losses.append(float(loss.item()))
    assert losses[-1] < losses[0], losses
    model.eval()
    with ds.no_grad():
        a, b = model(x).numpy(), model(x).numpy()
    np.testing.assert_array_equal(a, b)
    path = tmp_path / f"{name}.safetensors"
    ds.save(model.state_dict(), path)
    ds.manual_seed(1)
    fresh = models.get_model(name, **kwargs)
    fresh.load_state_dict(ds.load(path), strict=True)
    with ds.no_grad():
        np.testing.assert_array_equal(fresh.eval()(x).numpy(), a)


def test_conformer_state_dict_and_seeded_output_match_reference():
    from deepseek.models._testing import deterministic_input, load_deterministic_weights, reference_keys, state_dict_diff

    assert state_dict_diff(models.conformer(), reference_keys(KEYS / "conformer.json")) == []
    doc = json.loads((KEYS / "conformer_outputs.json").read_text())
    model = load_deterministic_weights(models.conformer(**doc["kwargs"])).eval()
    b, t, _ = doc["input_shape"]
    with ds.no_grad():  # the second row's last 4 frames are padding, masked out of attention
        out, lengths = model(ds.tensor(deterministic_input(doc["input_shape"], "image")), ds.tensor([t, t - 4], dtype=ds.int64))
    assert lengths.tolist() == [t, t - 4] and list(out.shape) == doc["output_shape"]
    ref = np.array(doc["first16"], dtype=np.float32)
    np.testing.assert_allclose(out.numpy()[..., :16].reshape(-1), ref, rtol=1e-4, atol=2e-5 * max(1.0, np.abs(ref).max()))


def test_conformer_shapes_training_determinism_and_round_trip(tmp_path):
    from deepseek import optim
    from deepseek.nn import functional as F

    kwargs = dict(num_layers=2)
    ds.manual_seed(0)
    model = models.conformer(**kwargs).eval()
    rng = np.random.default_rng(0)
    with ds.no_grad():
        for b, t in ((1, 7), (2, 20)):
            out, _ = model(ds.tensor(rng.standard_normal((b, t, 144)).astype(np.float32)))
            assert tuple(out.shape) == (b, t, 144)
    x = ds.tensor(rng.standard_normal((2, 10, 144)).astype(np.float32))
    target = ds.tensor(rng.standard_normal((2, 10, 144)).astype(np.float32))
    model.train()
    opt = optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(4):
        opt.zero_grad()
        loss = F.mse_loss(model(x)[0], target)
        loss.backward()
        opt.step()
        losses.append(float(loss.item()))
    assert losses[-1] < losses[0], losses
    model.eval()
    with ds.no_grad():
        a, b = model(x)[0].numpy(), model(x)[0].numpy()
    np.testing.assert_array_equal(a, b)
    path = tmp_path / "conformer.safetensors"
    ds.save(model.state_dict(), path)
    ds.manual_seed(1)
    fresh = models.conformer(**kwargs)
    fresh.load_state_dict(ds.load(path), strict=True)
    with ds.no_grad():
        np.testing.assert_array_equal(fresh.eval()(x)[0].numpy(), a)
    with pytest.raises(ValueError, match="odd"):
        models.conformer(depthwise_conv_kernel_size=4)
