"""The Hugging Face speech models of ``deepseek.models`` (Wav2Vec2-base with its CTC head,
HuBERT-base, Whisper-tiny) and Whisper's log-mel front end (``deepseek.audio``).

state_dict keys and shapes equal transformers' (tests/data/model_keys, written by
bench/gen_model_keys.py with bench/model_refs_speechhf.py); seeded-weights outputs of tiny
configurations equal the reference's, including padded batches and greedy decoding; output
shapes at two input sizes; a few optimiser steps lower the loss (CTC for Wav2Vec2,
cross-entropy for Whisper); eval() is deterministic; save/load and from_pretrained round trips;
KV-cached decoding equals uncached decoding; the log-mel features equal transformers' and a
float64 NumPy reference."""
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import deepseek as ds
from deepseek import models, nn, optim
from deepseek.models._testing import load_deterministic_weights, reference_keys, state_dict_diff
from deepseek.nn import functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from model_refs_speechhf import (HUBERT_TINY, WAV2VEC2_TINY, WAV2VEC2_TINY_LAYER, WHISPER_SMALL_CASE,  # noqa: E402
                                 features, waveform)

KEYS = Path(__file__).parent / "data" / "model_keys"
NO_DROPOUT = dict(hidden_dropout=0.0, activation_dropout=0.0, attention_dropout=0.0, final_dropout=0.0, layerdrop=0.0,
                  mask_time_prob=0.0)


def _doc(name):
    return json.loads((KEYS / f"{name}_outputs.json").read_text())


def _close(got, ref, rtol=1e-4):
    ref = np.asarray(ref, dtype=np.float32).reshape(got.shape)
    np.testing.assert_allclose(got, ref, rtol=rtol, atol=3e-5 * max(1.0, np.abs(ref).max()))


def test_registered_as_speech_recognition():
    names = set(models.list_models("speech-recognition"))
    assert {"wav2vec2_base", "hubert_base", "whisper_tiny"} <= names


# ---- key lists (full-size default configurations) ------------------------------------------------

def test_wav2vec2_and_hubert_state_dicts_match_transformers():
    ds.manual_seed(0)
    model = models.wav2vec2_base()
    assert state_dict_diff(model, reference_keys(KEYS / "wav2vec2_base.json")) == []
    # the base model inside the CTC model is transformers' Wav2Vec2Model, usable alone
    assert state_dict_diff(model.wav2vec2, reference_keys(KEYS / "wav2vec2_base_model.json")) == []
    sd = model.state_dict()
    g = sd["wav2vec2.encoder.pos_conv_embed.conv.parametrizations.weight.original0"]
    assert tuple(g.shape) == (1, 1, 128)  # weight norm along the kernel axis (dim=2)
    del model, sd
    assert state_dict_diff(models.hubert_base(), reference_keys(KEYS / "hubert_base.json")) == []


def test_whisper_state_dict_matches_transformers():
    ds.manual_seed(0)
    model = models.whisper_tiny()
    assert state_dict_diff(model, reference_keys(KEYS / "whisper_tiny.json")) == []
    # proj_out is the token embedding itself, listed under both names as transformers does
    assert model.proj_out.weight is model.model.decoder.embed_tokens.weight
    pos = model.model.encoder.embed_positions.weight
    assert not pos.requires_grad and abs(float(pos[1, 0]) - np.sin(1.0)) < 1e-6  # fixed sinusoids


# ---- seeded-weights outputs -----------------------------------------------------------------------

@pytest.mark.parametrize("case", ["wav2vec2_base", "wav2vec2_base_layer"])
def test_wav2vec2_seeded_outputs_match_transformers(case):
    doc = _doc(case)
    model = load_deterministic_weights(models.wav2vec2_base(**doc["config"])).eval()
    x = ds.tensor(waveform(doc["input_shape"]))
    mask = np.ones(doc["input_shape"], dtype=np.int64)
    mask[1, doc["mask_lengths"][1]:] = 0
    with ds.no_grad():
        logits = model(x).logits.numpy()
        masked = model(x, attention_mask=ds.tensor(mask)).logits.numpy()
    assert list(logits.shape) == doc["output_shape"]
    _close(logits[..., :16], doc["logits"])
    _close(masked[..., :16], doc["masked_logits"])


def test_hubert_seeded_output_matches_transformers():
    doc = _doc("hubert_base")
    model = load_deterministic_weights(models.hubert_base(**doc["config"])).eval()
    with ds.no_grad():
        out = model(ds.tensor(waveform(doc["input_shape"])))
    assert list(out.last_hidden_state.shape) == doc["output_shape"] and len(out) == 1
    _close(out[0].numpy()[..., :16], doc["last_hidden_state"])


@pytest.fixture(scope="module")
def seeded_whisper():
    doc = _doc("whisper_tiny")
    return doc, load_deterministic_weights(models.whisper_tiny(**doc["config"])).eval()


def test_whisper_seeded_outputs_and_greedy_decoding_match_transformers(seeded_whisper):
    doc, model = seeded_whisper
    x = ds.tensor(features(doc["input_shape"]))
    ids = ds.tensor(doc["decoder_input_ids"], dtype=ds.int64)
    with ds.no_grad():
        out = model(x, ids)
    assert list(out.logits.shape) == doc["output_shape"] and out[0] is out.logits
    _close(out.logits.numpy()[..., :16], doc["logits"])
    assert list(out.encoder_last_hidden_state.shape) == doc["encoder_shape"]
    _close(out.encoder_last_hidden_state.numpy()[..., :16], doc["encoder_last_hidden_state"])
    # the reference's argmax continuation of each prompt, with and without the KV cache
    for use_cache in (True, False):
        got = model.generate(x, max_new_tokens=6, decoder_input_ids=ids, eos_token_id=None, use_cache=use_cache)
        assert got.tolist() == doc["greedy"]


# ---- Wav2Vec2: shapes, CTC training, padding, SpecAugment, round trips ----------------------------

def _w2v(**kw):
    ds.manual_seed(0)
    return models.wav2vec2_base(**dict(WAV2VEC2_TINY, **dict(NO_DROPOUT, **kw)))


def test_wav2vec2_shapes_at_two_lengths_and_errors():
    model = _w2v().eval()
    with ds.no_grad():
        for b, n in ((1, 400), (3, 1234)):
            out = model(ds.randn(b, n))
            frames = int(model.wav2vec2.feature_lengths(n))
            assert tuple(out.logits.shape) == (b, frames, 12)
            base = model.wav2vec2(ds.randn(b, n))
            assert tuple(base.last_hidden_state.shape) == (b, frames, 32)
            assert tuple(base.extract_features.shape) == (b, frames, 16)
        # an empty batch keeps its shape (GroupNorm included); a strided view reads like a copy
        assert tuple(model(ds.randn(0, 400)).logits.shape) == (0, int(model.wav2vec2.feature_lengths(400)), 12)
        x = ds.tensor(waveform((2, 1600)))
        np.testing.assert_array_equal(model(x[:, ::2]).logits.numpy(),
                                      model(ds.tensor(np.ascontiguousarray(x.numpy()[:, ::2]))).logits.numpy())
    with pytest.raises(ValueError, match=r"input_values \[batch, samples\]"):
        model(ds.randn(2, 1, 400))
    with pytest.raises(ValueError, match="39 samples are fewer than the 40"):
        model(ds.randn(1, 39))
    assert tuple(model(ds.randn(1, 40)).logits.shape) == (1, 1, 12)


def test_wav2vec2_frame_counts_follow_the_convolutions():
    model = _w2v()
    for n in (40, 41, 400, 401, 1234):  # 40 samples: the shortest input giving one frame
        want = n
        for k, s in zip(WAV2VEC2_TINY["conv_kernel"], WAV2VEC2_TINY["conv_stride"]):
            want = (want - k) // s + 1
        assert int(model.wav2vec2.feature_lengths(n)) == want
        assert model.wav2vec2.feature_lengths(ds.tensor([n])).tolist() == [want]


def test_wav2vec2_padding_mask_equals_the_unpadded_input():
    # with LayerNorm feature convolutions (no norm over time) a right-padded row's real frames
    # equal the row run alone: padded frames are zeroed and never attended to
    model = _w2v(**{k: v for k, v in WAV2VEC2_TINY_LAYER.items() if k not in WAV2VEC2_TINY}).eval()
    x = ds.tensor(waveform((2, 900)))
    mask = np.ones((2, 900), dtype=np.int64)
    mask[1, 640:] = 0
    with ds.no_grad():
        padded = model(x, attention_mask=ds.tensor(mask)).logits.numpy()
        alone = model(x[1:, :640]).logits.numpy()
    frames = alone.shape[1]
    np.testing.assert_allclose(padded[1, :frames], alone[0], rtol=1e-4, atol=1e-4)
    assert frames < padded.shape[1]


def test_wav2vec2_ctc_training_lowers_the_loss_and_matches_ctc_loss():
    model = _w2v()
    x = ds.tensor(waveform((2, 900)))
    labels = ds.tensor([[3, 5, 5, 7, 2], [4, 9, 1, -100, -100]], dtype=ds.int64)
    model.eval()
    with ds.no_grad():
        out = model(x, labels=labels)
        logits = out.logits
        # the labels path is nn.CTCLoss over log_softmax, blank = pad_token_id, summed
        lp = F.log_softmax(logits, -1).transpose(0, 1)
        targets = ds.tensor([3, 5, 5, 7, 2, 4, 9, 1], dtype=ds.int64)
        want = nn.CTCLoss(blank=0, reduction="sum")(lp, targets, [44, 44], [5, 3])
    assert out[0] is out.loss and abs(float(out.loss) - float(want)) < 1e-3 * abs(float(want))
    model.train()
    opt = optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(5):
        opt.zero_grad()
        loss = model(x, labels=labels).loss
        loss.backward()
        opt.step()
        losses.append(float(loss))
    assert losses[-1] < losses[0], losses
    with pytest.raises(ValueError, match="vocab_size"):
        model(x, labels=ds.tensor([[12]], dtype=ds.int64).expand(2, 1))


def test_wav2vec2_freeze_feature_encoder():
    model = _w2v()
    model.freeze_feature_encoder()
    x = ds.tensor(waveform((1, 500)))
    model(x).logits.sum().backward()
    assert all(p.grad is None for p in model.wav2vec2.feature_extractor.parameters())
    assert model.lm_head.weight.grad is not None
    g = model.wav2vec2.encoder.pos_conv_embed.conv.parametrizations.weight.original0.grad
    assert g is not None and np.abs(g.numpy()).max() > 0  # gradients reach the weight-norm magnitude


def test_spec_augment_masks_and_layerdrop():
    from deepseek.models.wav2vec2 import compute_mask_indices

    ds.manual_seed(3)
    m = compute_mask_indices((4, 100), 0.2, 5, lengths=[100, 100, 60, 40], min_masks=2).numpy()
    assert m.shape == (4, 100) and m.dtype == bool
    assert not m[2, 60:].any() and not m[3, 40:].any()  # spans start inside each row's length
    for row, n in zip(m, (100, 100, 60, 40)):
        assert 5 <= row.sum() <= 5 * max(2, int(0.2 * n / 5 + 1))
    ds.manual_seed(3)
    assert (compute_mask_indices((4, 100), 0.2, 5, lengths=[100, 100, 60, 40], min_masks=2).numpy() == m).all()
    with pytest.raises(ValueError, match="mask_length"):
        compute_mask_indices((1, 4), 0.5, 5)
    # explicit mask_time_indices put masked_spec_embed in those frames before the encoder
    x = ds.tensor(waveform((1, 900)))
    with pytest.raises(ValueError, match="masked_spec_embed"):
        _w2v().wav2vec2(x, mask_time_indices=ds.zeros(1, 44, dtype=ds.bool))
    model = _w2v(num_hidden_layers=0, mask_time_prob=0.05).eval()
    idx = np.zeros((1, 44), dtype=bool)
    idx[0, 10:20] = True
    with ds.no_grad():
        plain = model.wav2vec2(x)[0].numpy()
        masked = model.wav2vec2(x, mask_time_indices=ds.tensor(idx))[0].numpy()
    changed = np.abs(plain - masked).max(-1)[0] > 1e-6
    assert changed[10:20].all()  # (the positional convolution spreads it to the neighbours)
    # training mode draws masks and skips layers: outputs vary between calls, eval's do not
    model = _w2v(mask_time_prob=0.5, mask_time_length=3, layerdrop=0.5).train()
    with ds.no_grad():
        a, b = model(x).logits.numpy(), model(x).logits.numpy()
        assert np.abs(a - b).max() > 0
        model.eval()
        np.testing.assert_array_equal(model(x).logits.numpy(), model(x).logits.numpy())


def _hf_folder(path, config, state, legacy_weight_norm=True, drop=()):
    """A folder as transformers writes one: config.json + model.safetensors."""
    path.mkdir(parents=True, exist_ok=True)
    (path / "config.json").write_text(json.dumps(config))
    out = {}
    for k, v in state.items():
        if any(k.startswith(d) for d in drop):
            continue
        if legacy_weight_norm:  # older checkpoints: weight_g / weight_v
            k = k.replace("parametrizations.weight.original0", "weight_g").replace("parametrizations.weight.original1", "weight_v")
        out[k] = v
    ds.save(out, path / "model.safetensors")
    return path


def test_wav2vec2_save_load_and_from_pretrained(tmp_path):
    from deepseek.models.wav2vec2 import HubertForCTC, HubertModel, Wav2Vec2ForCTC, Wav2Vec2Model

    cfg = dict(WAV2VEC2_TINY, **dict(NO_DROPOUT, mask_time_prob=0.05))  # with masked_spec_embed
    model = _w2v(**cfg).eval()
    x = ds.tensor(waveform((2, 700)))
    with ds.no_grad():
        ref = model(x).logits.numpy()
        np.testing.assert_array_equal(model(x).logits.numpy(), ref)  # eval is deterministic
    ds.save(model.state_dict(), tmp_path / "w.safetensors")
    ds.manual_seed(7)
    fresh = models.wav2vec2_base(**cfg)
    fresh.load_state_dict(ds.load(tmp_path / "w.safetensors"), strict=True)
    with ds.no_grad():
        np.testing.assert_array_equal(fresh.eval()(x).logits.numpy(), ref)
    folder = _hf_folder(tmp_path / "ctc", dict(cfg, architectures=["Wav2Vec2ForCTC"], model_type="wav2vec2"),
                        model.state_dict())
    loaded = Wav2Vec2ForCTC.from_pretrained(folder)
    assert not loaded.training
    with ds.no_grad():
        np.testing.assert_allclose(loaded(x).logits.numpy(), ref, rtol=1e-5, atol=1e-5)
        hidden = Wav2Vec2Model.from_pretrained(folder)(x)[0].numpy()
        np.testing.assert_allclose(hidden, model.wav2vec2(x)[0].numpy(), rtol=1e-5, atol=1e-5)
    # a pre-training checkpoint: no lm_head (kept fresh, with a warning), extra heads dropped
    extra = dict(model.state_dict(), **{"quantizer.codevectors": ds.zeros(1, 4, 2), "project_q.weight": ds.zeros(2, 2)})
    folder = _hf_folder(tmp_path / "pre", cfg, extra, drop=("lm_head.",))
    with pytest.warns(UserWarning, match="lm_head"):
        Wav2Vec2ForCTC.from_pretrained(folder)
    hub = _hf_folder(tmp_path / "hubert", dict(HUBERT_TINY, **cfg, model_type="hubert"),
                     {"hubert." + k[len("wav2vec2."):]: v for k, v in model.state_dict().items() if k.startswith("wav2vec2.")},
                     legacy_weight_norm=False)
    hub_ctc = _hf_folder(tmp_path / "hubert_ctc", dict(HUBERT_TINY, **cfg, model_type="hubert"),
                         {k.replace("wav2vec2.", "hubert.", 1): v for k, v in model.state_dict().items()})
    with ds.no_grad():
        np.testing.assert_allclose(HubertModel.from_pretrained(hub)(x)[0].numpy(), hidden, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(HubertForCTC.from_pretrained(hub_ctc)(x).logits.numpy(), ref, rtol=1e-5, atol=1e-5)


def test_from_pretrained_reads_folders_written_by_transformers():
    # tiny models saved by transformers' save_pretrained (bench/model_refs_speechhf.py): the
    # weight norm's parametrization names, Whisper's checkpoint without the tied proj_out
    from deepseek.models.wav2vec2 import Wav2Vec2ForCTC
    from deepseek.models.whisper import WhisperForConditionalGeneration

    root = KEYS.parent / "hf_speech"
    doc = json.loads((root / "outputs.json").read_text())
    w2v = Wav2Vec2ForCTC.from_pretrained(root / "wav2vec2_ctc")
    ref = doc["wav2vec2_ctc"]
    with ds.no_grad():
        logits = w2v(ds.tensor(waveform(ref["input_shape"]))).logits.numpy()
    _close(logits, ref["logits"])
    wh = WhisperForConditionalGeneration.from_pretrained(root / "whisper")
    ref = doc["whisper"]
    x, ids = ds.tensor(features(ref["input_shape"])), ds.tensor(ref["decoder_input_ids"], dtype=ds.int64)
    with ds.no_grad():
        _close(wh(x, ids).logits.numpy(), ref["logits"])
    assert wh.generate(x, 4, decoder_input_ids=ids, eos_token_id=None).tolist() == ref["greedy"]


# ---- Whisper: shapes, training, KV cache, generation ----------------------------------------------

def _whisper(**kw):
    ds.manual_seed(0)
    return models.whisper_tiny(**dict(WHISPER_SMALL_CASE, **kw))


def _feats(b, seed=0):
    rng = np.random.default_rng(seed)
    return ds.tensor(rng.standard_normal((b, 80, 24)).astype(np.float32))


def test_whisper_shapes_and_errors():
    model = _whisper().eval()
    with ds.no_grad():
        for b, t in ((1, 3), (2, 7)):
            out = model(_feats(b), ds.randint(3, 96, (b, t)))
            assert tuple(out.logits.shape) == (b, t, 96)
            assert tuple(out.encoder_last_hidden_state.shape) == (b, 12, 32)
        assert tuple(model(_feats(1)[:0], ds.zeros(0, 3, dtype=ds.int64)).logits.shape) == (0, 3, 96)
    with pytest.raises(ValueError, match=r"\[batch, 80, 24\]"):
        model(ds.randn(1, 80, 30), ds.randint(3, 96, (1, 2)))
    with pytest.raises(ValueError, match="max_target_positions"):
        model(_feats(1), ds.randint(3, 96, (1, 17)))
    with pytest.raises(ValueError, match="max_target_positions"):
        model.generate(_feats(1), max_new_tokens=16)


def test_whisper_training_lowers_the_loss_and_round_trips(tmp_path):
    model = _whisper()
    x = _feats(2, seed=1)
    labels = ds.tensor([[5, 9, 40, 2], [7, 7, 2, -100]], dtype=ds.int64)
    with ds.no_grad():  # labels: decoder reads them shifted right behind the start token
        out = model.eval()(x, labels=labels)
        dec = ds.tensor([[1, 5, 9, 40], [1, 7, 7, 2]], dtype=ds.int64)
        want = F.cross_entropy(model(x, dec).logits.reshape(-1, 96), labels.reshape(-1), ignore_index=-100)
    assert abs(float(out.loss) - float(want)) < 1e-5
    model.train()
    opt = optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(4):
        opt.zero_grad()
        loss = model(x, labels=labels).loss
        loss.backward()
        opt.step()
        losses.append(float(loss))
    assert losses[-1] < losses[0], losses
    assert model.model.encoder.embed_positions.weight.grad is None  # the sinusoids stay fixed
    model.eval()
    with ds.no_grad():
        a = model(x, dec).logits.numpy()
        np.testing.assert_array_equal(model(x, dec).logits.numpy(), a)
    ds.save(model.state_dict(), tmp_path / "w.safetensors")
    fresh = _whisper()
    fresh.load_state_dict(ds.load(tmp_path / "w.safetensors"), strict=True)
    with ds.no_grad():
        np.testing.assert_array_equal(fresh.eval()(x, dec).logits.numpy(), a)
    from deepseek.models.whisper import WhisperForConditionalGeneration

    folder = _hf_folder(tmp_path / "hf", dict(WHISPER_SMALL_CASE, model_type="whisper"), model.state_dict(),
                        drop=("proj_out.",))  # tied: checkpoints may leave it out
    loaded = WhisperForConditionalGeneration.from_pretrained(folder)
    assert loaded.proj_out.weight is loaded.model.decoder.embed_tokens.weight
    with ds.no_grad():
        np.testing.assert_allclose(loaded(x, dec).logits.numpy(), a, rtol=1e-5, atol=1e-5)


def test_whisper_spec_augment_only_while_training():
    model = _whisper(apply_spec_augment=True, mask_time_prob=0.5, mask_time_length=4, mask_feature_prob=0.3,
                     mask_feature_length=8)
    x, ids = _feats(1, seed=4), ds.tensor([[1, 5, 6]], dtype=ds.int64)
    ds.manual_seed(2)
    masked = model._mask_input_features(x).numpy()
    zero_frames = (masked == 0).all(1)[0]
    zero_bins = (masked == 0).all(2)[0]
    assert 4 <= zero_frames.sum() < 24 and 8 <= zero_bins.sum() < 80
    kept = ~zero_frames[None, :] & ~zero_bins[:, None]
    np.testing.assert_array_equal(masked[0][kept], x.numpy()[0][kept])  # the rest is untouched
    with ds.no_grad():
        a, b = model.train()(x, ids).logits.numpy(), model(x, ids).logits.numpy()
        assert np.abs(a - b).max() > 0
        model.eval()
        np.testing.assert_array_equal(model(x, ids).logits.numpy(), model(x, ids).logits.numpy())


def test_whisper_cached_decoding_equals_uncached():
    model = _whisper().eval()
    x = _feats(2, seed=2)
    ids = ds.tensor([[1, 4, 8, 15, 16, 23], [1, 42, 9, 9, 3, 30]], dtype=ds.int64)
    with ds.no_grad():
        full = model(x, ids).logits.numpy()
        out = model(x, ids[:, :3], use_cache=True)
        enc, past, steps = out.encoder_last_hidden_state, out.past_key_values, [out.logits.numpy()]
        for t in range(3, 6):  # the encoder states are reused; only the new token runs
            out = model(decoder_input_ids=ids[:, t:t + 1], encoder_outputs=enc, past_key_values=past, use_cache=True)
            past = out.past_key_values
            steps.append(out.logits.numpy())
    np.testing.assert_allclose(np.concatenate(steps, 1), full, rtol=1e-4, atol=1e-4)
    greedy = model.generate(x, max_new_tokens=6, eos_token_id=None)
    assert tuple(greedy.shape) == (2, 7) and greedy[:, 0].tolist() == [1, 1]
    assert greedy.tolist() == model.generate(x, max_new_tokens=6, eos_token_id=None, use_cache=False).tolist()
    with ds.no_grad():  # greedy is the argmax continuation: rerun on the generated prefix
        nxt = model(x, greedy[:, :-1]).logits.argmax(-1)
    assert nxt.tolist() == greedy[:, 1:].tolist()
    # stops once every row emitted eos (2); finished rows keep emitting eos
    stopped = model.generate(x, max_new_tokens=10, eos_token_id=greedy[0, 1].item())
    assert stopped.shape[1] <= 11 and stopped[0, 1].item() == greedy[0, 1].item()


def test_whisper_sampling_options():
    model = _whisper().eval()
    x = _feats(2, seed=3)
    ds.manual_seed(5)
    a = model.generate(x, max_new_tokens=5, temperature=0.9, top_k=20, top_p=0.9, eos_token_id=None)
    ds.manual_seed(5)
    b = model.generate(x, max_new_tokens=5, temperature=0.9, top_k=20, top_p=0.9, eos_token_id=None)
    assert a.tolist() == b.tolist() and tuple(a.shape) == (2, 6)
    greedy = model.generate(x, max_new_tokens=4, eos_token_id=None).tolist()
    assert model.generate(x, 4, temperature=1.0, top_k=1, eos_token_id=None).tolist() == greedy
    assert model.generate(x, 4, temperature=1.0, top_p=1e-6, eos_token_id=None).tolist() == greedy
    with pytest.raises(ValueError, match="top_p"):
        model.generate(x, 2, temperature=1.0, top_p=0.0)


def test_flops_count_every_matmul_of_a_layer():
    from deepseek.models.flops import count_macs

    # one more Wav2Vec2 layer over t frames: 4 projections, the MLP and the two attention products
    x = ds.randn(1, 900)
    t, h, i = 44, 32, 48
    one, two = (count_macs(_w2v(num_hidden_layers=n).eval(), x) for n in (1, 2))
    assert two - one == t * (4 * h * h + 2 * h * i) + 2 * t * t * h
    # one more Whisper decoder layer over s tokens: self-attention, cross-attention to the 12
    # encoder states (keys and values projected from them) and the MLP
    s, d, f, e = 4, 32, 48, 12
    ids = ds.randint(3, 96, (1, s))
    one, two = (count_macs(_whisper(decoder_layers=n).eval(), _feats(1), ids) for n in (1, 2))
    self_attn = 4 * s * d * d + 2 * s * s * d
    cross = 2 * s * d * d + 2 * e * d * d + 2 * s * e * d
    assert two - one == self_attn + cross + 2 * s * d * f


# ---- Whisper's log-mel front end -------------------------------------------------------------------

def _np_log_mel(x, n_mels=80):
    """Float64 NumPy reference: reflect-padded frames, periodic Hann, |rfft|^2, Slaney mel filters
    (librosa's formula written out here), log10, floor at max - 8, (x + 4) / 4."""
    n_fft, hop = 400, 160
    pad = np.pad(x, (n_fft // 2, n_fft // 2), mode="reflect")
    frames = 1 + (len(pad) - n_fft) // hop
    win = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)
    idx = np.arange(n_fft)[None, :] + hop * np.arange(frames)[:, None]
    power = np.abs(np.fft.rfft(pad[idx] * win, axis=1)) ** 2  # [frames, 201]

    def hz_to_mel(f):
        f = np.asarray(f, dtype=np.float64)
        return np.where(f >= 1000, 15 + np.log(np.maximum(f, 1e-10) / 1000) / (np.log(6.4) / 27), 3 * f / 200)

    def mel_to_hz(m):
        return np.where(m >= 15, 1000 * np.exp(np.log(6.4) / 27 * (m - 15)), 200 * m / 3)

    fft_f = np.linspace(0, 8000, n_fft // 2 + 1)
    mel_f = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(8000.0), n_mels + 2))
    ramps = mel_f[:, None] - fft_f[None, :]
    fdiff = np.diff(mel_f)
    w = np.maximum(0, np.minimum(-ramps[:-2] / fdiff[:-1, None], ramps[2:] / fdiff[1:, None]))
    w *= (2.0 / (mel_f[2:] - mel_f[:-2]))[:, None]
    log_spec = np.log10(np.maximum(w @ power[:-1].T, 1e-10))
    return (np.maximum(log_spec, log_spec.max() - 8.0) + 4.0) / 4.0


def test_log_mel_matches_transformers_feature_extractor():
    from deepseek.audio import log_mel_spectrogram, mel_filters


    doc = json.loads((KEYS / "whisper_log_mel.json").read_text())
    fb = mel_filters(80)
    assert fb.shape == (80, 201)
    np.testing.assert_allclose(fb.sum(1), doc["mel_filters_column_sums"], rtol=1e-5, atol=1e-7)
    sig = waveform((4801,))
    ref = np.array(doc["output"]).reshape(doc["output_shape"])
    np.testing.assert_allclose(log_mel_spectrogram(ds.tensor(sig.astype(np.float64))).numpy(), ref, atol=1e-6)
    np.testing.assert_allclose(log_mel_spectrogram(ds.tensor(sig)).numpy(), ref, atol=2e-4)


@settings(max_examples=8)
@given(n=st.integers(201, 2400), scale=st.floats(1e-3, 10.0), seed=st.integers(0, 2 ** 16))
def test_log_mel_matches_float64_numpy(n, scale, seed):
    from deepseek.audio import log_mel_spectrogram

    x = np.random.default_rng(seed).standard_normal(n) * scale
    got = log_mel_spectrogram(ds.tensor(x)).numpy()
    want = _np_log_mel(x)
    assert got.shape == want.shape == (80, n // 160)
    np.testing.assert_allclose(got, want, atol=1e-8)


def test_audio_is_an_attribute_after_import_deepseek():
    import subprocess

    code = "import deepseek; print(deepseek.audio.log_mel_spectrogram.__module__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "deepseek.models.audio", out.stderr


def test_log_mel_batches_pads_and_differentiates():
    from deepseek.audio import log_mel_spectrogram, pad_or_trim

    x = waveform((2, 3, 1000))
    got = log_mel_spectrogram(ds.tensor(x), n_mels=40, padding=320).numpy()
    assert got.shape == (2, 3, 40, 8)
    one = log_mel_spectrogram(ds.tensor(x[1, 2]), n_mels=40, padding=320).numpy()
    np.testing.assert_allclose(got[1, 2], one, atol=1e-6)  # each example has its own max
    assert tuple(log_mel_spectrogram(ds.zeros(0, 1000)).shape) == (0, 80, 6)
    strided = ds.tensor(x[1]).transpose(0, 1)[:, ::2].transpose(0, 1)  # a non-contiguous view
    np.testing.assert_array_equal(log_mel_spectrogram(strided).numpy(),
                                  log_mel_spectrogram(ds.tensor(np.ascontiguousarray(x[1, ::2]))).numpy())
    assert tuple(pad_or_trim(ds.ones(2, 100), 160).shape) == (2, 160)
    assert float(pad_or_trim(ds.ones(2, 100), 160)[:, 100:].abs().sum()) == 0
    assert tuple(pad_or_trim(ds.ones(5, 3), 2, axis=0).shape) == (2, 3)
    assert tuple(pad_or_trim(ds.ones(100)).shape) == (480000,)
    w = ds.tensor(waveform((1, 1600)), requires_grad=True)
    log_mel_spectrogram(w).sum().backward()
    assert w.grad is not None and np.isfinite(w.grad.numpy()).all() and np.abs(w.grad.numpy()).max() > 0
    with pytest.raises(ValueError, match="too few"):
        log_mel_spectrogram(ds.zeros(100))
    with pytest.raises(TypeError, match="floating-point"):
        log_mel_spectrogram(ds.zeros(1000, dtype=ds.int64))
