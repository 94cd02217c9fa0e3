"""DeepSpeech2, QuartzNet 5x5 and the x-vector speaker model: state_dict layouts, seeded
outputs and input gradients against the torch.nn references of bench/model_refs_speechsm.py
(recorded by bench/gen_model_keys.py, per-row lengths included), output shapes at two input lengths, a few
training steps lowering the loss (CTC; speaker classification), eval determinism, save/load,
padding that never leaks into QuartzNet's valid frames, MAC counts and named errors."""
import json
from pathlib import Path

import numpy as np
import pytest

import deepseek as ds
from deepseek import models, nn, optim
from deepseek.models import speaker, speech2
from deepseek.models._testing import deterministic_input, load_deterministic_weights, reference_keys, state_dict_diff
from deepseek.models.flops import count_macs

KEYS = Path(__file__).parent / "data" / "model_keys"
NAMES = ["deepspeech2", "quartznet5x5", "xvector"]

TINY_QUARTZNET = ((32, 1, 5, 2, 1, False, True), (32, 2, 7, 1, 1, True, True), (48, 2, 9, 1, 1, True, True),
                  (48, 1, 11, 1, 2, False, True), (64, 1, 1, 1, 1, False, False))


def _tiny(name):
    """A small model of each kind (the same code paths as the registered defaults)."""
    if name == "deepspeech2":
        return models.deepspeech2(n_feature=41, hidden_size=24, num_layers=2)
    if name == "quartznet5x5":
        return speech2.QuartzNet(n_mels=16, config=TINY_QUARTZNET)
    return models.xvector(n_mels=8, n_speakers=5, embedding_dim=32)


def _features(name, batch, frames, rng):
    shape = {"deepspeech2": (batch, 1, 41, frames), "quartznet5x5": (batch, 16, frames), "xvector": (batch, frames, 8)}
    return ds.tensor(rng.standard_normal(shape[name]).astype(np.float32))


def _main(out):
    return out[0] if isinstance(out, tuple) else out


def test_registered_with_tasks():
    assert "speaker-recognition" in models.TASKS
    assert {"deepspeech2", "quartznet5x5"} <= set(models.list_models("speech-recognition"))
    assert models.list_models("speaker-recognition") == ["xvector"]


@pytest.mark.parametrize("name", NAMES)
def test_state_dict_and_seeded_output_match_reference(name):
    assert state_dict_diff(models.get_model(name), reference_keys(KEYS / f"{name}.json")) == []
    doc = json.loads((KEYS / f"{name}_outputs.json").read_text())
    model = load_deterministic_weights(models.get_model(name, **doc["kwargs"]), doc.get("weights", "sine")).eval()
    if "input" in doc:
        x = ds.tensor(np.array(doc["input"], dtype=np.float32).reshape(doc["input_shape"]))
    else:
        x = ds.tensor(deterministic_input(doc["input_shape"], "image"))
    lengths = ds.tensor(doc["lengths"], dtype=ds.int64)  # the second row is shorter
    x.requires_grad_(True)
    out = model(x, lengths)
    if name == "xvector":
        with ds.no_grad():
            emb = model.embed(x, lengths).numpy()
        np.testing.assert_allclose(emb[:, :16].reshape(-1), doc["embedding_first16"], rtol=1e-4, atol=2e-5)
    else:
        out, out_lengths = out
        assert out_lengths.tolist() == doc["output_lengths"]
    assert list(out.shape) == doc["output_shape"]
    ref = np.array(doc["first16"], dtype=np.float32)
    np.testing.assert_allclose(out.detach().numpy()[..., :16].reshape(-1), ref, rtol=1e-4,
                               atol=2e-5 * max(1.0, np.abs(ref).max()))
    # the backward pass: the input gradient of sum(w * output) for the reference's fixed w
    w = np.cos(np.arange(out.numel()) * 0.29 + 0.1).astype(np.float32).reshape(tuple(out.shape))
    (out * ds.tensor(w)).sum().backward()
    g = x.grad.numpy().reshape(-1)
    ref = np.array(doc["input_grad_sampled"], dtype=np.float32)
    np.testing.assert_allclose(g[:: max(1, g.shape[0] // 64)][:64], ref, rtol=1e-3, atol=1e-4 * np.abs(ref).max())


def _loss(name, model, x, targets):
    out = model(x, ds.tensor([x.shape[-1 if name != "xvector" else 1], 11], dtype=ds.int64))  # a shorter row
    if name == "xvector":
        return nn.functional.nll_loss(out, targets)
    log_probs, lengths = out
    blank = 0 if name == "deepspeech2" else log_probs.shape[-1] - 1  # where each reference puts its blank
    return nn.CTCLoss(blank=blank)(log_probs.transpose(0, 1), targets, lengths,
                                   ds.tensor([targets.shape[1]] * targets.shape[0], dtype=ds.int64))


@pytest.mark.parametrize("name", NAMES)
def test_shapes_training_determinism_and_round_trip(name, tmp_path):
    ds.manual_seed(0)
    rng = np.random.default_rng(0)
    model = _tiny(name).eval()
    with ds.no_grad():
        for batch, frames in ((1, 9), (3, 20)):
            out = model(_features(name, batch, frames, rng))
            lp = _main(out).numpy()
            if name == "xvector":
                assert lp.shape == (batch, 5) and tuple(model.embed(_features(name, batch, frames, rng)).shape) == (batch, 32)
            else:
                t = (frames + 1) // 2  # both halve the frames
                assert lp.shape == (batch, t, 29) and out[1].tolist() == [t] * batch
            np.testing.assert_allclose(np.exp(lp).sum(-1), 1.0, rtol=1e-4)  # log-probabilities
    x = _features(name, 2, 16, rng)
    targets = ds.tensor([3, 1], dtype=ds.int64) if name == "xvector" else ds.tensor([[5, 9, 3], [7, 7, 2]], dtype=ds.int64)
    model.train()
    opt = optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(4):
        opt.zero_grad()
        loss = _loss(name, model, x, targets)
        loss.backward()
        opt.step()
        losses.append(float(loss.item()))
    assert np.isfinite(losses).all() and losses[-1] < losses[0], losses
    model.eval()
    with ds.no_grad():
        a, b = _main(model(x)).numpy(), _main(model(x)).numpy()
    np.testing.assert_array_equal(a, b)
    path = tmp_path / f"{name}.safetensors"
    ds.save(model.state_dict(), path)
    ds.manual_seed(1)
    fresh = _tiny(name)
    fresh.load_state_dict(ds.load(path), strict=True)
    with ds.no_grad():
        np.testing.assert_array_equal(_main(fresh.eval()(x)).numpy(), a)


def test_quartznet_padding_never_reaches_the_valid_frames():
    # every convolution's input is zeroed past a row's length, so a padded row gives exactly
    # what it gives alone (the stride-2 prolog included); the padding itself is arbitrary
    ds.manual_seed(0)
    rng = np.random.default_rng(1)
    model = speech2.QuartzNet(n_mels=16, config=TINY_QUARTZNET).eval()
    x = rng.standard_normal((3, 16, 21)).astype(np.float32)
    lengths = [21, 14, 9]
    with ds.no_grad():
        out, out_lengths = model(ds.tensor(x), ds.tensor(lengths, dtype=ds.int64))
        assert out_lengths.tolist() == [11, 7, 5]
        for i, n in enumerate(lengths):
            alone, alone_len = model(ds.tensor(x[i:i + 1, :, :n]))
            assert alone_len.tolist() == [out_lengths.tolist()[i]]
            np.testing.assert_allclose(out.numpy()[i, :alone.shape[1]], alone.numpy()[0], rtol=1e-5, atol=1e-5)


def test_deepspeech2_rows_run_over_their_own_frames():
    # with lengths, a row's recurrences stop at its own last frame: the output at its valid
    # frames does not depend on what lies in the batch's padding
    ds.manual_seed(0)
    rng = np.random.default_rng(2)
    model = _tiny("deepspeech2").eval()
    x = rng.standard_normal((2, 1, 41, 24)).astype(np.float32)
    noisy = x.copy()
    # row 1 has 9 frames, 5 after the first conv, whose last one reads input frames 3..13: as in
    # the reference, only the layers after the first convolution are masked
    noisy[1, :, :, 14:] = 100.0
    lengths = ds.tensor([24, 9], dtype=ds.int64)
    with ds.no_grad():
        a, la = model(ds.tensor(x), lengths)
        b, _ = model(ds.tensor(noisy), lengths)
        full, _ = model(ds.tensor(noisy))
    assert la.tolist() == [12, 5] and tuple(a.shape) == (2, 12, 29)
    np.testing.assert_allclose(a.numpy()[1, :5], b.numpy()[1, :5], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(a.numpy()[0], b.numpy()[0], rtol=1e-5, atol=1e-5)
    assert np.abs(full.numpy()[1, :5] - a.numpy()[1, :5]).max() > 1e-3  # without lengths the padding counts


def test_xvector_pooling_uses_each_rows_frames():
    ds.manual_seed(0)
    rng = np.random.default_rng(3)
    model = _tiny("xvector").eval()
    x = rng.standard_normal((2, 12, 8)).astype(np.float32)
    pool = speaker.StatisticsPooling()
    h = ds.tensor(x)
    got = pool(h, ds.tensor([12, 7], dtype=ds.int64)).numpy()
    want = np.stack([np.concatenate([x[i, :n].mean(0), x[i, :n].std(0, ddof=1) + 1e-5]) for i, n in enumerate([12, 7])])
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(pool(h).numpy()[1], np.concatenate([x[1].mean(0), x[1].std(0, ddof=1) + 1e-5]), rtol=1e-5,
                               atol=1e-6)
    with ds.no_grad():
        emb = model.embed(h, [12, 7]).numpy()
        logp = model(h, [12, 7]).numpy()
        np.testing.assert_allclose(logp, model.classifier(ds.tensor(emb)).numpy(), rtol=1e-5, atol=1e-6)


def test_macs_are_counted_for_convolutions_and_recurrences():
    m = models.deepspeech2(n_feature=41, hidden_size=16, num_layers=2).eval()
    # conv1 [32, 21, 5] x 41*11 taps; conv2 [32, 11, 5] x 32*21*11; GRUs 3 gates x 16 x (in + 16) x 5
    # steps x 2 directions; the output layer 5 x 29 x 16
    expected = 32 * 21 * 5 * 41 * 11 + 32 * 11 * 5 * 32 * 21 * 11 + 3 * 16 * (352 + 16) * 5 * 2
    expected += 3 * 16 * (16 + 16) * 5 * 2 + 5 * 29 * 16
    assert count_macs(m, ds.randn(1, 1, 41, 10)) == expected
    # with lengths the recurrences run packed: only the valid steps (5 + 3 of 2 x 5) count
    gru = 3 * 16 * (352 + 16) * 2 + 3 * 16 * (16 + 16) * 2
    ragged = 2 * (expected - 5 * gru) + 8 * gru
    assert count_macs(m, ds.randn(2, 1, 41, 10), ds.tensor([10, 5])) == ragged
    x = models.xvector(n_mels=8, n_speakers=5).eval()
    t = 10
    expected = t * 512 * (8 * 5 + 512 * 3 + 512 * 3 + 512) + t * 1500 * 512 + 3000 * 512 + 512 * 512 + 512 * 5
    assert count_macs(x, ds.randn(1, t, 8)) == expected


def test_errors_name_the_model_and_shapes():
    with pytest.raises(ValueError, match=r"DeepSpeech2: expected a spectrogram \[batch, 1, 41, frames\], got \(2, 1, 40, 9\)"):
        _tiny("deepspeech2")(ds.zeros(2, 1, 40, 9))
    with pytest.raises(ValueError, match=r"DeepSpeech2: lengths must lie in \[1, 9\]"):
        _tiny("deepspeech2")(ds.zeros(2, 1, 41, 9), ds.tensor([9, 10], dtype=ds.int64))
    with pytest.raises(ValueError, match=r"QuartzNet: expected lengths of shape \(2,\), got \(3,\)"):
        _tiny("quartznet5x5")(ds.zeros(2, 16, 9), ds.tensor([9, 9, 9], dtype=ds.int64))
    with pytest.raises(ValueError, match=r"QuartzNet: expected features \[batch, 16, frames\], got \(2, 9, 16\)"):
        _tiny("quartznet5x5")(ds.zeros(2, 9, 16))
    with pytest.raises(ValueError, match="at least 4 frames"):
        _tiny("xvector")(ds.zeros(2, 3, 8))
    with pytest.raises(ValueError, match="at least 2 frames"):
        _tiny("xvector")(ds.zeros(2, 6, 8), [6, 1])
    with pytest.raises(ValueError, match="rnn_type"):
        models.deepspeech2(rnn_type="transformer")
    with pytest.raises(ValueError, match="activation"):
        models.xvector(activation="gelu")


def test_hashed_weights_are_full_rank_and_fixed():
    from deepseek.models._testing import deterministic_value

    sine = deterministic_value("layer.weight", (16, 16))
    hashed = deterministic_value("layer.weight", (16, 16), scheme="hashed")
    assert np.linalg.matrix_rank(sine) == 2 and np.linalg.matrix_rank(hashed) == 16
    np.testing.assert_array_equal(hashed, deterministic_value("layer.weight", (16, 16), scheme="hashed"))
    assert np.sqrt((hashed ** 2).mean()) == pytest.approx(np.sqrt((sine ** 2).mean()), rel=0.2)  # the same scale
    assert not np.array_equal(hashed, deterministic_value("other.weight", (16, 16), scheme="hashed"))
    with pytest.raises(ValueError, match="scheme"):
        deterministic_value("layer.weight", (2, 2), scheme="random")


@pytest.mark.parametrize("name", NAMES)
def test_empty_batch(name):
    model = _tiny(name).eval()
    with ds.no_grad():
        out = model(_features(name, 0, 9, np.random.default_rng(0)))
    if name == "xvector":
        assert tuple(out.shape) == (0, 5)
    else:
        assert tuple(out[0].shape) == (0, 5, 29) and tuple(out[1].shape) == (0,)
