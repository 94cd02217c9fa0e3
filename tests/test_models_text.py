"""The language models of ``deepseek.models``: state_dict keys and shapes equal Hugging Face
transformers' (tests/data/model_keys), seeded-weights outputs equal the reference's, output
shapes at two sequence lengths, a few optimiser steps lower the loss, eval() is deterministic,
save/load round trip, KV-cached generation equals uncached decoding, and all-MiniLM-L6-v2's
real weights give sentence-transformers' embeddings."""
import json
from pathlib import Path

import numpy as np
import pytest

import deepseek as ds
from deepseek import models
from deepseek.models._testing import (deterministic_input, load_deterministic_weights, reference_keys,
                                      state_dict_diff)
from deepseek.nn import functional as F

KEYS = Path(__file__).parent / "data" / "model_keys"
ENCODERS = ["bert_base_uncased", "distilbert_base_uncased", "roberta_base", "all_minilm_l6_v2"]
DECODERS = ["gpt2", "llama_small", "lstm_lm"]
# The 12-layer models train with 2 layers in the small runs (every layer is the same code);
# dropout off so that four losses on one batch compare.
SMALL = {
    "bert_base_uncased": dict(num_hidden_layers=2, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0),
    "roberta_base": dict(num_hidden_layers=2, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0),
    "all_minilm_l6_v2": dict(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0),
    "distilbert_base_uncased": dict(n_layers=2, dropout=0.0, attention_dropout=0.0),
    "gpt2": dict(n_layer=2, embd_pdrop=0.0, attn_pdrop=0.0, resid_pdrop=0.0),
    "llama_small": dict(num_hidden_layers=2),
    "lstm_lm": dict(dropout=0.0),
}


def _ids(b, s, vocab, seed=0):
    rng = np.random.default_rng(seed)
    return ds.tensor(rng.integers(3, min(vocab, 1000), size=(b, s)), dtype=ds.int64)


def _vocab(model):
    cfg = getattr(model, "config", None)
    return cfg["vocab_size"] if cfg is not None else model.encoder.num_embeddings


def test_every_text_model_is_tested():
    registered = set(models.list_models("text-encoder")) | set(models.list_models("text-generation"))
    assert registered == set(ENCODERS) | set(DECODERS) | {"t5_small"}


@pytest.mark.parametrize("name", ENCODERS + DECODERS)
def test_state_dict_matches_reference(name):
    ds.manual_seed(0)
    model = models.get_model(name)
    # the MiniLM list is the checkpoint's, which still carries a legacy position_ids buffer
    ignore = ("embeddings.position_ids",) if name == "all_minilm_l6_v2" else ()
    assert state_dict_diff(model, reference_keys(KEYS / f"{name}.json"), ignore) == []


@pytest.mark.parametrize("name", [n for n in ENCODERS + DECODERS if n != "all_minilm_l6_v2"])
def test_seeded_weights_output_matches_reference(name):
    doc = json.loads((KEYS / f"{name}_outputs.json").read_text())
    model = load_deterministic_weights(models.get_model(name, **doc["kwargs"])).eval()
    x = ds.tensor(deterministic_input(doc["input_shape"], "tokens", doc["vocab"]))
    with ds.no_grad():
        out = model(x)[0].numpy()
    assert list(out.shape) == doc["output_shape"]
    ref = np.array(doc["first16"], dtype=np.float32)
    np.testing.assert_allclose(out[..., :16].reshape(-1), ref, rtol=1e-4, atol=2e-5 * max(1.0, np.abs(ref).max()))


def _loss(name, model, ids):
    out = model(ids)[0]
    if name in DECODERS:  # next-token prediction
        return F.cross_entropy(out[:, :-1].reshape(-1, out.shape[-1]), ids[:, 1:].reshape(-1))
    # encoders: recover each input token from its hidden state through the embedding matrix
    emb = model.embeddings.word_embeddings.weight
    return F.cross_entropy((out @ emb.T).reshape(-1, emb.shape[0]), ids.reshape(-1))


@pytest.mark.parametrize("name", ENCODERS + DECODERS)
def test_shapes_training_determinism_and_round_trip(name, tmp_path):
    ds.manual_seed(0)
    model = models.get_model(name, **SMALL[name]).eval()
    vocab = _vocab(model)
    width = model(_ids(1, 3, vocab))[0].shape[-1]
    with ds.no_grad():
        for b, s in ((2, 5), (1, 12)):
            out = model(_ids(b, s, vocab))[0]
            assert tuple(out.shape) == (b, s, width)
    ids = _ids(2, 10, vocab, seed=1)
    model.train()
    from deepseek import optim

    opt = optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(4):
        opt.zero_grad()
        loss = _loss(name, model, ids)
        loss.backward()
        opt.step()
        losses.append(float(loss.item()))
    assert losses[-1] < losses[0], f"{name}: loss did not decrease: {losses}"
    model.eval()
    with ds.no_grad():
        a, b = model(ids)[0].numpy(), model(ids)[0].numpy()
    np.testing.assert_array_equal(a, b)
    path = tmp_path / f"{name}.safetensors"
    ds.save(model.state_dict(), path)
    ds.manual_seed(1)
    fresh = models.get_model(name, **SMALL[name])
    fresh.load_state_dict(ds.load(path), strict=True)
    fresh.eval()
    with ds.no_grad():
        np.testing.assert_array_equal(fresh(ids)[0].numpy(), a)


@pytest.mark.parametrize("name", DECODERS)
def test_cached_decoding_equals_uncached(name):
    ds.manual_seed(0)
    model = models.get_model(name, **SMALL[name]).eval()
    ids = _ids(2, 6, _vocab(model), seed=2)
    # logits of the whole sequence at once == prefix pass then one token at a time through the cache
    with ds.no_grad():
        full = model(ids)[0].numpy()
        logits, past = model(ids[:, :3], use_cache=True)
        steps = [logits.numpy()]
        for t in range(3, 6):
            logits, past = model(ids[:, t:t + 1], past_key_values=past, use_cache=True)
            steps.append(logits.numpy())
    np.testing.assert_allclose(np.concatenate(steps, 1), full, rtol=1e-4, atol=1e-4)
    greedy = model.generate(ids, max_new_tokens=6, temperature=0)
    assert tuple(greedy.shape) == (2, 12)
    assert greedy[:, :6].tolist() == ids.tolist()
    assert greedy.tolist() == model.generate(ids, max_new_tokens=6, temperature=0, use_cache=False).tolist()
    # greedy really is the argmax continuation: rerun the model on the generated prefix
    with ds.no_grad():
        nxt = model(greedy[:, :-1])[0][:, 5:].argmax(-1)
    assert nxt.tolist() == greedy[:, 6:].tolist()


def test_sampling_options():
    ds.manual_seed(0)
    model = models.get_model("llama_small", **SMALL["llama_small"]).eval()
    ids = _ids(2, 4, 32000, seed=3)
    ds.manual_seed(5)
    a = model.generate(ids, max_new_tokens=5, temperature=0.9, top_k=20, top_p=0.9)
    ds.manual_seed(5)
    b = model.generate(ids, max_new_tokens=5, temperature=0.9, top_k=20, top_p=0.9)
    assert a.tolist() == b.tolist() and tuple(a.shape) == (2, 9)
    # top_k=1 leaves only the argmax: sampling equals greedy decoding
    assert model.generate(ids, 4, temperature=1.0, top_k=1).tolist() == model.generate(ids, 4, temperature=0).tolist()
    # a tiny nucleus keeps only the most likely token as well
    assert model.generate(ids, 4, temperature=1.0, top_p=1e-6).tolist() == model.generate(ids, 4, temperature=0).tolist()
    with pytest.raises(ValueError, match="top_p"):
        model.generate(ids, 2, top_p=0.0)
    with pytest.raises(ValueError, match="input_ids"):
        model.generate(ids[0], 2)


def test_filter_logits_top_k_and_top_p():
    from deepseek.models._generation import _filter_logits

    x = ds.tensor([[1.0, 3.0, 2.0, 0.5]])
    assert np.isinf(_filter_logits(x, top_k=2).numpy()).tolist() == [[True, False, False, True]]
    # softmax = [.09, .64, .23, .05]: 0.7 of the mass needs the top two tokens, 0.6 only one
    assert np.isinf(_filter_logits(x, top_p=0.7).numpy()).tolist() == [[True, False, False, True]]
    assert np.isinf(_filter_logits(x, top_p=0.6).numpy()).tolist() == [[True, False, True, True]]


def test_minilm_real_weights_match_sentence_transformers():
    from deepseek.models.bert import SentenceEncoder

    doc = json.loads((KEYS / "all_minilm_l6_v2_embeddings.json").read_text())
    enc = SentenceEncoder.from_pretrained()
    got = enc.encode(doc["sentences"]).numpy()
    ref = np.array(doc["embeddings"], dtype=np.float32)
    cos = (got * ref).sum(1) / np.linalg.norm(got, axis=1) / np.linalg.norm(ref, axis=1)
    assert cos.min() > 0.9999, cos
    np.testing.assert_allclose(got, ref, atol=2e-5)
    # the pretrained BertModel loads strictly with every checkpoint key accounted for
    model = models.get_model("all_minilm_l6_v2", pretrained=True)
    assert state_dict_diff(model, reference_keys(KEYS / "all_minilm_l6_v2.json"), ("embeddings.position_ids",)) == []


# ---- T5 (encoder-decoder) ---------------------------------------------------------------------

T5_SMALL = dict(num_layers=2, num_decoder_layers=2, dropout_rate=0.0)


def test_t5_state_dict_and_seeded_output_match_reference():
    assert state_dict_diff(models.t5_small(), reference_keys(KEYS / "t5_small.json")) == []
    doc = json.loads((KEYS / "t5_small_outputs.json").read_text())
    model = load_deterministic_weights(models.t5_small(**doc["kwargs"])).eval()
    x = ds.tensor(deterministic_input(doc["input_shape"], "tokens", doc["vocab"]))
    with ds.no_grad():
        out = model(x, x[:, :5]).numpy()  # the reference ran the decoder on the first 5 ids
    assert list(out.shape) == doc["output_shape"]
    ref = np.array(doc["first16"], dtype=np.float32)
    np.testing.assert_allclose(out[..., :16].reshape(-1), ref, rtol=1e-4, atol=2e-5 * max(1.0, np.abs(ref).max()))


def test_t5_shapes_training_generation_and_round_trip(tmp_path):
    from deepseek import optim

    ds.manual_seed(0)
    model = models.t5_small(**T5_SMALL).eval()
    with ds.no_grad():
        for (b, s, t) in ((2, 5, 3), (1, 12, 7)):
            assert tuple(model(_ids(b, s, 32128), _ids(b, t, 32128)).shape) == (b, t, 32128)
    src, tgt = _ids(2, 8, 32128, seed=4), _ids(2, 6, 32128, seed=5)
    model.train()
    opt = optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(4):  # teacher forcing: predict tgt[1:] from tgt[:-1]
        opt.zero_grad()
        logits = model(src, tgt[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt[:, 1:].reshape(-1))
        loss.backward()
        opt.step()
        losses.append(float(loss.item()))
    assert losses[-1] < losses[0], losses
    model.eval()
    with ds.no_grad():
        a, b = model(src, tgt).numpy(), model(src, tgt).numpy()
    np.testing.assert_array_equal(a, b)
    cached = model.generate(src, max_new_tokens=5)
    assert cached.shape[0] == 2 and cached[:, 0].tolist() == [0, 0]
    assert cached.tolist() == model.generate(src, max_new_tokens=5, use_cache=False).tolist()
    with ds.no_grad():  # greedy: each token is the argmax after the prefix before it
        nxt = model(src, cached[:, :-1]).argmax(-1)
    for row_next, row in zip(nxt.tolist(), cached.tolist()):
        stop = row.index(1, 1) if 1 in row[1:] else len(row)  # after eos the row is padded with eos
        assert row_next[:stop - 1] == row[1:stop]
    path = tmp_path / "t5.safetensors"
    ds.save(model.state_dict(), path)
    ds.manual_seed(1)
    fresh = models.t5_small(**T5_SMALL)
    fresh.load_state_dict(ds.load(path), strict=True)
    with ds.no_grad():
        np.testing.assert_array_equal(fresh.eval()(src, tgt).numpy(), a)
