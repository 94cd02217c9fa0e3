"""deepseek.onnx.export of zoo models (tiny configurations): each is exported with a dynamic
batch (and sequence, for token models), run in onnxruntime at two batch sizes against
deepseek's eager outputs (float32 tolerance, relative to the outputs' scale), and read back
with deepseek.onnx.load (export -> import -> the same outputs)."""
from __future__ import annotations

import io
import warnings

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import deepseek  # noqa: E402
import deepseek.onnx  # noqa: E402
from deepseek import models, nn  # noqa: E402


def _gen(seed):
    return deepseek.Generator().manual_seed(seed)


def _calibrated(model, x):
    """``model`` in eval mode with each batch norm's running statistics set to those of one
    batch: the zoo's initialisation leaves MobileNetV2's eval outputs near zero (1e-10), which
    would make any comparison vacuous."""
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    for m in bns:
        m.momentum = 1.0
    model.train()
    with deepseek.no_grad():
        model(x)
    return model.eval()


def _images(n, seed, seq=None):
    return (deepseek.randn(n, 3, 32, 32, generator=_gen(seed)),)


def _tokens(n, seed, seq=7, vocab=64):
    return (deepseek.randint(0, vocab, (n, seq), generator=_gen(seed)),)


def _tokens_and_mask(n, seed, seq=7):
    (ids,) = _tokens(n, seed, seq)
    keep = np.random.default_rng(seed).integers(1, seq + 1, size=n)  # each row keeps >= 1 token
    return ids, deepseek.tensor((np.arange(seq)[None, :] < keep[:, None]).astype(np.int64))


def _mobilenet_v2():
    return _calibrated(models.mobilenet_v2(num_classes=10, dropout=0.0), _images(8, 90)[0])


def _regnet():
    return models.regnet_y_400mf(num_classes=10).eval()  # its eval outputs do not vanish (~0.03)


def _vit_tiny():
    from deepseek.models.vit import TimmVisionTransformer

    return TimmVisionTransformer(img_size=32, patch_size=16, embed_dim=48, depth=2, num_heads=3, num_classes=10).eval()


def _bert():
    from deepseek.models.bert import BERT_BASE, BertModel

    return BertModel(dict(BERT_BASE, vocab_size=64, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                          intermediate_size=64, max_position_embeddings=16)).eval()


def _gpt2():
    model = models.gpt2(vocab_size=64, n_positions=16, n_embd=32, n_layer=2, n_head=2).eval()
    return lambda ids: model(ids)[0]  # logits (no cache)


def _lstm_lm():
    model = models.lstm_lm(ntoken=64, ninp=16, nhid=24, nlayers=2, dropout=0.0).eval()
    return lambda ids: model(ids)[0]


# name: (builder, inputs for a batch size, seed and sequence length, input names, ONNX op that
# must appear); token inputs have a dynamic sequence axis as well as the batch
CASES = {
    "mobilenet_v2": (_mobilenet_v2, _images, ["images"], "Conv"),
    "regnet_y_400mf": (_regnet, _images, ["images"], "Conv"),
    "vit_tiny": (_vit_tiny, _images, ["images"], "LayerNormalization"),
    "bert": (_bert, _tokens_and_mask, ["input_ids", "attention_mask"], "LayerNormalization"),
    "gpt2": (_gpt2, _tokens, ["input_ids"], "LayerNormalization"),
    "lstm_lm": (_lstm_lm, _tokens, ["input_ids"], "LSTM"),
}


def _outputs(result):
    result = result if isinstance(result, (tuple, list)) else (result,)
    return [r.detach().numpy() for r in result if r is not None]


def _close(got, want):
    scale = float(np.abs(want).max())
    assert scale > 1e-2, f"outputs too small ({scale}) for the comparison to mean anything"
    np.testing.assert_allclose(got / scale, want / scale, rtol=0, atol=1e-4)  # float32, up to 50 layers deep


# the transformers again at opset 23, where their attention is ONNX's Attention
ATTENTION = ["vit_tiny", "bert", "gpt2"]


@pytest.mark.parametrize("name, opset", [(n, 17) for n in CASES] + [(n, 23) for n in ATTENTION])
def test_zoo_model_exports_with_dynamic_batch_and_round_trips(name, opset):
    build, inputs, names, op = CASES[name]
    deepseek.manual_seed(0)
    model = build()
    args = inputs(2, 1)
    tokens = args[0].dtype == deepseek.int64
    axes = {0: "batch", 1: "seq"} if tokens else {0: "batch"}
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TracerWarnings are proved harmless by the export's own check
        proto = deepseek.onnx.export(model, args, buf, input_names=names, opset_version=opset,
                                     dynamic_axes={n: axes for n in names})
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    ops = [n.op_type for n in proto.graph.node]
    assert op in ops
    if name in ATTENTION:  # one Attention per layer from opset 23, a Softmax node (the core's fused softmax) before
        assert (ops.count("Attention"), "Softmax" in ops) == ((2, False) if opset >= 23 else (0, True)), ops
    sess = ort.InferenceSession(buf.getvalue(), providers=["CPUExecutionProvider"])
    imported = deepseek.onnx.load(buf.getvalue())
    for n, seq in ((2, 7), (3, 5)):  # images have no sequence axis
        feeds = inputs(n, 10 + n, seq)
        with deepseek.no_grad():
            want = _outputs(model(*feeds))
            back = _outputs(imported(*feeds))
        got = sess.run(None, {k: a.numpy() for k, a in zip(names, feeds)})
        assert len(got) == len(want) == len(back)
        for g, b, w in zip(got, back, want):
            assert g.shape == w.shape and g.shape[0] == n
            _close(g, w)
            _close(b, w)
