"""Tiny configurations of every model of ``deepseek.models`` for the ONNX export tests
(tests/test_onnx_zoo_all.py): for each registered name a builder (an eval-mode model, or a
function of tensors picking the model's main outputs) and an input factory
``inputs(batch, seed, length)`` whose dynamic axes are declared beside it."""
from __future__ import annotations

import numpy as np

import deepseek
from deepseek import models, nn


def _rng(seed):
    return np.random.default_rng(seed)


def _f32(a):
    return deepseek.tensor(np.asarray(a, dtype=np.float32))


def calibrated(model, x):
    """``model`` in eval mode with each batch norm's running statistics those of one batch:
    the zoo's initialisation leaves some eval outputs near zero, which would make any
    comparison vacuous."""
    bns = [m for m in model.modules() if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d))]
    for m in bns:
        m.momentum = 1.0
    model.train()
    with deepseek.no_grad():
        model(*x) if isinstance(x, tuple) else model(x)
    return model.eval()


# ---- inputs: (batch, seed, length) -> tuple of tensors ----

def images(size=32):
    def make(n, seed, length=None):
        return (_f32(_rng(seed).standard_normal((n, 3, size, size))),)
    return make


def tokens(vocab=64, default=7):
    def make(n, seed, length=None):
        return (deepseek.tensor(_rng(seed).integers(0, vocab, (n, length or default)).astype(np.int64)),)
    return make


def tokens_and_mask(vocab=64, default=7):
    def make(n, seed, length=None):
        length = length or default
        (ids,) = tokens(vocab, length)(n, seed, length)
        keep = _rng(seed + 1).integers(1, length + 1, size=n)  # each row keeps >= 1 token
        return ids, deepseek.tensor((np.arange(length)[None, :] < keep[:, None]).astype(np.int64))
    return make


def two_token_streams(vocab=64, default=7, second=5):
    def make(n, seed, length=None):
        return (tokens(vocab, default)(n, seed, length)[0], tokens(vocab, second)(n, seed + 7, second)[0])
    return make


def features(*shape_fn):
    """Float features whose shape is ``shape_fn(n, length)``."""
    (fn, default) = shape_fn

    def make(n, seed, length=None):
        return (_f32(_rng(seed).standard_normal(fn(n, length or default))),)
    return make


def _first(out):
    """The main output of a zoo model's result (logits, hidden states)."""
    if isinstance(out, dict):
        for k in ("logits", "out", "last_hidden_state"):
            if k in out and out[k] is not None:
                return out[k]
    return out[0] if isinstance(out, (tuple, list)) else out


def main_output(model):
    """A function of tensors returning ``model``'s main output (what ONNX exports)."""
    def fn(*args):
        return _first(model(*args))
    fn.module = model
    return fn


# ---- builders ----

def _unzeroed(model):
    """``model`` with any all-zero Linear weight (a zero-initialised head, as torchvision's
    ViT has) redrawn, so its outputs depend on the input."""
    from deepseek.nn import init

    for m in model.modules():
        if isinstance(m, nn.Linear) and not bool((m.weight != 0).any()):
            init.normal_(m.weight, std=0.5)
    return model


def vision(name, size=32, calibrate=8, **kw):
    """Builds zoo model ``name`` (10 classes) with its batch norms calibrated on ``calibrate``
    images (statistics of fewer images make the deep EfficientNets' outputs ill-conditioned)."""
    def build():
        m = _unzeroed(models.get_model(name, num_classes=10, **kw))
        return calibrated(m, images(size)(calibrate, 90)) if calibrate else m.eval()
    return build


def _text(name, **config):
    def build():
        return main_output(models.get_model(name, **config).eval())
    return build


_BERT = dict(vocab_size=64, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
             max_position_embeddings=16, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
_DISTIL = dict(vocab_size=64, dim=32, n_layers=2, n_heads=2, hidden_dim=64, max_position_embeddings=16, dropout=0.0,
               attention_dropout=0.0)
_GPT2 = dict(vocab_size=64, n_positions=16, n_embd=32, n_layer=2, n_head=2, embd_pdrop=0.0, attn_pdrop=0.0,
             resid_pdrop=0.0)
_LLAMA = dict(vocab_size=64, hidden_size=32, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4,
              num_key_value_heads=2, max_position_embeddings=32)
_T5 = dict(vocab_size=64, d_model=32, d_kv=8, d_ff=48, num_layers=2, num_decoder_layers=2, num_heads=4,
           dropout_rate=0.0)
_W2V = dict(vocab_size=12, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=48,
            conv_dim=[16, 16, 16], conv_stride=[5, 2, 2], conv_kernel=[10, 3, 3], num_conv_pos_embeddings=16,
            num_conv_pos_embedding_groups=4, hidden_dropout=0.0, attention_dropout=0.0, activation_dropout=0.0,
            feat_proj_dropout=0.0, final_dropout=0.0, layerdrop=0.0)
_WHISPER = dict(vocab_size=96, num_mel_bins=16, d_model=32, encoder_layers=2, decoder_layers=2,
                encoder_attention_heads=4, decoder_attention_heads=4, encoder_ffn_dim=48, decoder_ffn_dim=48,
                max_source_positions=12, max_target_positions=16, decoder_start_token_id=1, pad_token_id=0,
                bos_token_id=0, eos_token_id=2)
_QUARTZNET = ((32, 1, 5, 2, 1, False, True), (32, 2, 7, 1, 1, True, True), (48, 2, 9, 1, 1, True, True),
              (48, 1, 11, 1, 2, False, True), (64, 1, 1, 1, 1, False, False))


def _lstm_lm():
    return main_output(models.lstm_lm(ntoken=64, ninp=16, nhid=24, nlayers=2, dropout=0.0).eval())


def _whisper():
    m = models.whisper_tiny(**_WHISPER).eval()

    def fn(feats, ids):
        return _first(m(input_features=feats, decoder_input_ids=ids))
    fn.module = m
    return fn


def _detr():
    import json
    from pathlib import Path

    doc = Path(__file__).parent / "data" / "model_keys" / "detr_resnet50_outputs.json"
    kw = json.loads(doc.read_text())["kwargs"]  # the tiny DETR of tests/test_models_detr.py
    m = models.detr_resnet50(**dict(kw, dropout=0.0))
    x = images(64)(2, 90)[0]
    m = calibrated(m, (x, deepseek.ones(2, 64, 64, dtype=deepseek.int64)))

    def fn(pixels, mask):
        out = m(pixels, mask)
        return out["logits"], out["pred_boxes"]
    fn.module = m
    return fn


def _speech(name, calibrate_input=None, conv_gain=1.0, **kw):
    """A speech model; ``conv_gain`` scales its convolutions' weights (Wav2Letter's eleven
    ReLU convolutions at their initial scale make outputs that hardly depend on the input)."""
    def build():
        if name == "quartznet5x5":
            from deepseek.models import speech2

            m = speech2.QuartzNet(n_mels=16, config=_QUARTZNET)
        else:
            m = models.get_model(name, **kw)
        if conv_gain != 1.0:
            with deepseek.no_grad():
                for c in m.modules():
                    if isinstance(c, nn.Conv1d):
                        c.weight.mul_(conv_gain)
        if calibrate_input is not None:
            m = calibrated(m, calibrate_input(4, 90))
        return main_output(m.eval())
    return build


# name -> (builder, inputs(batch, seed, length), input names, dynamic axes of each input
# beyond the batch (the "length" axis), family)
IMG, TXT, SPEECH = "vision", "text", "speech"
CASES = {}
for _n in ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnext50_32x4d", "wide_resnet50_2",
           "vgg11_bn", "vgg16_bn", "mobilenet_v2", "mobilenet_v3_small", "mobilenet_v3_large", "efficientnet_b0",
           "efficientnet_b1", "efficientnet_b2", "convnext_tiny", "regnet_y_400mf", "regnet_y_800mf",
           "regnet_x_400mf", "densenet121", "densenet169", "densenet201", "squeezenet1_0", "squeezenet1_1",
           "shufflenet_v2_x1_0", "shufflenet_v2_x0_5"]:
    _kw = dict(hidden=64, dropout=0.0) if _n.startswith("vgg") else (
        dict(stochastic_depth_prob=0.0) if _n.startswith(("efficientnet", "convnext")) else {})
    if _n.startswith(("efficientnet", "mobilenet", "squeezenet")):
        _kw["dropout"] = 0.0
    CASES[_n] = (vision(_n, calibrate=16 if _n.startswith("efficientnet") else 8, **_kw), images(), ["images"], {}, IMG)
CASES["vit_b_16"] = (vision("vit_b_16", calibrate=0, image_size=32), images(), ["images"], {}, IMG)
CASES["vit_tiny_patch16_224"] = (vision("vit_tiny_patch16_224", calibrate=0, img_size=32), images(), ["images"], {},
                                 IMG)
CASES["swin_t"] = (vision("swin_t", calibrate=0, stochastic_depth_prob=0.0), images(), ["images"], {}, IMG)
CASES["unet"] = (lambda: calibrated(models.unet(n_classes=2), images()(4, 90)), images(), ["images"], {}, IMG)
CASES["fcn_resnet50"] = (lambda: main_output(calibrated(models.fcn_resnet50(num_classes=3), images()(4, 90))),
                         images(), ["images"], {}, IMG)
CASES["detr_resnet50"] = (_detr, lambda n, seed, length=None: (images(64)(n, seed)[0],
                                                               deepseek.ones(n, 64, 64, dtype=deepseek.int64)),
                          ["pixel_values", "pixel_mask"], {}, IMG)
_SEQ = {"input_ids": 1, "attention_mask": 1}
_MASKED = ["input_ids", "attention_mask"]
CASES["bert_base_uncased"] = (_text("bert_base_uncased", **_BERT), tokens_and_mask(), _MASKED, _SEQ, TXT)
CASES["roberta_base"] = (_text("roberta_base", **dict(_BERT, pad_token_id=1, max_position_embeddings=18)),
                         tokens_and_mask(), ["input_ids", "attention_mask"], _SEQ, TXT)
CASES["distilbert_base_uncased"] = (_text("distilbert_base_uncased", **_DISTIL), tokens_and_mask(),
                                    ["input_ids", "attention_mask"], _SEQ, TXT)
CASES["all_minilm_l6_v2"] = (_text("all_minilm_l6_v2", **_BERT), tokens_and_mask(), _MASKED, _SEQ, TXT)
CASES["gpt2"] = (_text("gpt2", **_GPT2), tokens(), ["input_ids"], {"input_ids": 1}, TXT)
CASES["llama_small"] = (_text("llama_small", **_LLAMA), tokens(), ["input_ids"], {"input_ids": 1}, TXT)
CASES["lstm_lm"] = (_lstm_lm, tokens(), ["input_ids"], {"input_ids": 1}, TXT)
# T5's relative-position bucket table is made on the host from the lengths (NumPy), so its
# sequence lengths stay static; the batch is dynamic
CASES["t5_small"] = (_text("t5_small", **_T5), two_token_streams(), ["input_ids", "decoder_input_ids"], {}, TXT)
CASES["wav2letter"] = (_speech("wav2letter", conv_gain=4.0),
                       features(lambda n, t: (n, 1, t), 800), ["waveform"], {"waveform": 2}, SPEECH)
CASES["deepspeech"] = (_speech("deepspeech", n_feature=20, n_hidden=32),
                       features(lambda n, t: (n, 1, t, 20), 9), ["features"], {"features": 2}, SPEECH)
CASES["conformer"] = (_speech("conformer", input_dim=32, num_heads=4, ffn_dim=48, num_layers=2,
                              depthwise_conv_kernel_size=7),
                      features(lambda n, t: (n, t, 32), 9), ["features"], {"features": 1}, SPEECH)
CASES["deepspeech2"] = (_speech("deepspeech2", calibrate_input=features(lambda n, t: (n, 1, 41, t), 12),
                                n_feature=41, hidden_size=24, num_layers=2),
                        features(lambda n, t: (n, 1, 41, t), 12), ["spectrogram"], {"spectrogram": 3}, SPEECH)
CASES["quartznet5x5"] = (_speech("quartznet5x5", calibrate_input=features(lambda n, t: (n, 16, t), 20)),
                         features(lambda n, t: (n, 16, t), 20), ["features"], {"features": 2}, SPEECH)
CASES["xvector"] = (_speech("xvector", calibrate_input=features(lambda n, t: (n, t, 8), 20), n_mels=8, n_speakers=5,
                            embedding_dim=32),
                    features(lambda n, t: (n, t, 8), 20), ["features"], {"features": 1}, SPEECH)
CASES["wav2vec2_base"] = (_speech("wav2vec2_base", **_W2V), features(lambda n, t: (n, t), 400), ["input_values"],
                          {"input_values": 1}, SPEECH)
CASES["hubert_base"] = (_speech("hubert_base", **_W2V), features(lambda n, t: (n, t), 400), ["input_values"],
                        {"input_values": 1}, SPEECH)
CASES["whisper_tiny"] = (_whisper, lambda n, seed, length=None: (features(lambda b, t: (b, 16, 24), 24)(n, seed)[0],
                                                                 tokens(96, 5)(n, seed + 1, length)[0]),
                         ["input_features", "decoder_input_ids"], {"decoder_input_ids": 1}, SPEECH)
del _n, _kw
