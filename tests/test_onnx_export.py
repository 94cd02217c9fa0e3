"""deepseek.onnx.export end to end: real models traced by deepseek.jit, run in onnxruntime against
deepseek's eager outputs (an MLP, a ResNet-18 with batch norm and pooling, a Transformer encoder
with a padding mask, an LSTM language model), dynamic batch at two sizes, and export -> import
-> same outputs with gradients flowing in the imported module."""
from __future__ import annotations

import io

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import deepseek  # noqa: E402
import deepseek.onnx  # noqa: E402
from deepseek import nn  # noqa: E402

import deepseek.nn.functional as F  # noqa: E402
from deepseek.onnx import OnnxExporterError  # noqa: E402


def _gen(seed):
    return deepseek.Generator().manual_seed(seed)


def ort_run(buf, feeds):
    sess = ort.InferenceSession(buf.getvalue(), providers=["CPUExecutionProvider"])
    return sess.run(None, {k: v.detach().numpy() for k, v in feeds.items()})


def eager(model, *args):
    with deepseek.no_grad():
        out = model(*args)
    out = out if isinstance(out, tuple) else (out,)
    return [o.numpy() for o in out]


def export(model, args, **kw):
    buf = io.BytesIO()
    proto = deepseek.onnx.export(model, args, buf, **kw)
    onnx.checker.check_model(proto)
    return buf, proto


def test_mlp_dynamic_batch_and_reimport():
    deepseek.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 16), nn.GELU(), nn.LayerNorm(16), nn.Linear(16, 3)).eval()
    x = deepseek.randn(3, 4, generator=_gen(1))
    buf, proto = export(model, (x,), input_names=["x"], output_names=["y"], dynamic_axes={"x": {0: "batch"}})
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    assert {t.name for t in proto.graph.initializer} >= set(dict(model.named_parameters()))
    for n in (2, 7):
        xn = deepseek.randn(n, 4, generator=_gen(n))
        np.testing.assert_allclose(ort_run(buf, {"x": xn})[0], eager(model, xn)[0], rtol=1e-4, atol=1e-5)
    # export -> import: same outputs, and gradients reach the imported parameters
    m = deepseek.onnx.to_module(buf.getvalue())
    y = m(x)
    np.testing.assert_allclose(y.detach().numpy(), eager(model, x)[0], rtol=1e-5, atol=1e-6)
    y.sum().backward()
    ref = nn.Sequential(nn.Linear(4, 16), nn.GELU(), nn.LayerNorm(16), nn.Linear(16, 3))
    ref.load_state_dict(model.state_dict())
    ref(x).sum().backward()
    got = dict(m.named_parameters())
    for name, p in ref.named_parameters():
        np.testing.assert_allclose(got[name].grad.numpy(), p.grad.numpy(), rtol=1e-4, atol=1e-5)


def test_resnet18_batch_norm_and_pooling():
    from deepseek.models.resnet import resnet18

    deepseek.manual_seed(0)
    model = resnet18(num_classes=10).eval()
    x = deepseek.randn(2, 3, 32, 32, generator=_gen(2))
    buf, _ = export(model, (x,), input_names=["images"])
    np.testing.assert_allclose(ort_run(buf, {"images": x})[0], eager(model, x)[0], rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("opset", [17, 23])
def test_transformer_encoder_with_padding_mask(opset):
    deepseek.manual_seed(0)
    layer = nn.TransformerEncoderLayer(d_model=16, nhead=2, dim_feedforward=32, dropout=0.0, batch_first=True)
    model = nn.TransformerEncoder(layer, num_layers=2).eval()
    x = deepseek.randn(2, 5, 16, generator=_gen(3))
    mask = deepseek.tensor([[False] * 5, [False, False, False, True, True]])

    def fn(src, pad):
        return model(src, src_key_padding_mask=pad)

    buf, proto = export(fn, (x, mask), input_names=["src", "pad"], opset_version=opset,
                        dynamic_axes={"src": {0: "batch", 1: "seq"}, "pad": {0: "batch", 1: "seq"}})
    # attention is ONNX's Attention where the opset has it (23), a Softmax node (the core's fused softmax) before
    ops = [n.op_type for n in proto.graph.node]
    assert (ops.count("Attention"), "Softmax" in ops) == ((2, False) if opset >= 23 else (0, True)), ops
    assert [d.dim_param for d in proto.graph.output[0].type.tensor_type.shape.dim[:2]] == ["batch", "seq"]
    np.testing.assert_allclose(ort_run(buf, {"src": x, "pad": mask})[0], eager(fn, x, mask)[0], rtol=1e-4, atol=1e-5)
    # other batch sizes and sequence lengths, each row keeping at least one position
    for n, s in ((3, 5), (1, 7), (4, 3)):
        xn = deepseek.randn(n, s, 16, generator=_gen(4 + n))
        keep = np.random.default_rng(n).integers(1, s + 1, size=n)
        mn = deepseek.tensor((np.arange(s)[None, :] >= keep[:, None]).tolist())
        np.testing.assert_allclose(ort_run(buf, {"src": xn, "pad": mn})[0], eager(fn, xn, mn)[0], rtol=1e-4, atol=1e-5)


def test_lstm_language_model():
    from deepseek.models.rnn_lm import LSTMLanguageModel

    deepseek.manual_seed(0)
    model = LSTMLanguageModel(ntoken=50, ninp=16, nhid=24, nlayers=2, dropout=0.0).eval()
    ids = deepseek.randint(0, 50, (2, 6), generator=_gen(5))

    def fn(input_ids):
        out = model(input_ids)
        return out[0]  # (logits, None) without use_cache

    buf, proto = export(fn, (ids,), input_names=["input_ids"], dynamic_axes={"input_ids": {0: "batch", 1: "seq"}})
    # the recurrence is ONNX's LSTM, one node per layer, not an unrolled loop
    ops = [n.op_type for n in proto.graph.node]
    assert ops.count("LSTM") == 2 and "Sigmoid" not in ops, ops
    imported = deepseek.onnx.load(buf.getvalue())
    for n, s in ((2, 6), (3, 4), (1, 9)):
        idn = deepseek.randint(0, 50, (n, s), generator=_gen(20 + n))
        want = eager(fn, idn)[0]
        np.testing.assert_allclose(ort_run(buf, {"input_ids": idn})[0], want, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(imported(idn).numpy(), want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kind, kw, batched", [
    ("GRU", dict(num_layers=2, bidirectional=True), True),
    ("LSTM", dict(bidirectional=True, batch_first=True, bias=False), True),
    ("RNN", dict(nonlinearity="relu", num_layers=2), False),
    ("LSTM", dict(num_layers=2), False),
])
def test_recurrent_layers_export_as_their_onnx_ops(kind, kw, batched):
    deepseek.manual_seed(1)
    layer = getattr(nn, kind)(5, 7, **kw).eval()
    dirs, layers = 2 if kw.get("bidirectional") else 1, kw.get("num_layers", 1)
    x = deepseek.randn(*((3, 4, 5) if kw.get("batch_first") else (4, 3, 5)) if batched else (4, 5), generator=_gen(30))
    state = [layers * dirs] + ([3] if batched else []) + [7]
    hs = [deepseek.randn(*state, generator=_gen(31 + i)) for i in range(2 if kind == "LSTM" else 1)]

    def fn(x, *hx):
        out, h = layer(x, tuple(hx) if kind == "LSTM" else hx[0])
        return (out,) + (tuple(h) if kind == "LSTM" else (h,))

    buf, proto = export(fn, (x, *hs))
    ops = [n.op_type for n in proto.graph.node]
    assert ops.count(kind) == layers, ops
    feeds = dict(zip([i.name for i in proto.graph.input], (x, *hs)))
    for got, want in zip(ort_run(buf, feeds), eager(fn, x, *hs)):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    for got, want in zip(deepseek.onnx.to_module(proto)(x, *hs), eager(fn, x, *hs)):
        np.testing.assert_allclose(got.detach().numpy(), want, rtol=1e-4, atol=1e-5)


def elementwise_model(x, y):
    """Softmax, cat, stack, pad, mean, compare and cast: ops deepseek.jit records today."""
    s = F.softmax(x * 2.0, -1)
    z = deepseek.cat([s, y.tanh()], 1)
    st = deepseek.stack([z, z.sigmoid()], 1)
    return F.pad(st, (1, 1)).mean(-1), (x > y).to(deepseek.float32).sum(1), st.exp()


def test_real_trace_static_and_reimport():
    x, y = deepseek.randn(3, 4, generator=_gen(6)), deepseek.randn(3, 4, generator=_gen(7))
    buf, proto = export(elementwise_model, (x, y), input_names=["x", "y"])
    x2, y2 = deepseek.randn(3, 4, generator=_gen(8)), deepseek.randn(3, 4, generator=_gen(9))
    want = eager(elementwise_model, x2, y2)
    for got, w in zip(ort_run(buf, {"x": x2, "y": y2}), want):
        np.testing.assert_allclose(got, w, rtol=1e-5, atol=1e-6)
    m = deepseek.onnx.to_module(proto)
    for got, w in zip(m(x2, y2), want):
        np.testing.assert_allclose(got.detach().numpy(), w, rtol=1e-5, atol=1e-6)


def test_real_trace_dynamic_batch_through_cat_stack_and_pad():
    fn = elementwise_model
    x, y = deepseek.randn(3, 4, generator=_gen(10)), deepseek.randn(3, 4, generator=_gen(11))
    buf, proto = export(fn, (x, y), input_names=["x", "y"], output_names=["mean", "count", "stacked"],
                        dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})
    assert proto.graph.output[2].type.tensor_type.shape.dim[0].dim_param == "batch"
    ops = {n.op_type for n in proto.graph.node}
    assert {"Concat", "Pad"} <= ops and "ScatterND" not in ops
    for n in (2, 6):
        xn, yn = deepseek.randn(n, 4, generator=_gen(n)), deepseek.randn(n, 4, generator=_gen(n + 1))
        for got, w in zip(ort_run(buf, {"x": xn, "y": yn}), eager(fn, xn, yn)):
            np.testing.assert_allclose(got, w, rtol=1e-5, atol=1e-6)


def test_trace_that_froze_input_values_is_refused():
    def fn(x):
        # a host round trip: the tracer can only take its result as a constant
        return deepseek.from_numpy(x.numpy() * 2.0) + x

    with pytest.raises(OnnxExporterError, match="does not reproduce the model on other inputs"):
        export(fn, (deepseek.randn(2, 3),))


def test_layer_norm_module_exports_as_layer_normalization():
    deepseek.manual_seed(0)
    ln = nn.LayerNorm(8).eval()
    with deepseek.no_grad():
        ln.weight.copy_(deepseek.randn(8, generator=_gen(12)))
        ln.bias.copy_(deepseek.randn(8, generator=_gen(13)))
    x = deepseek.randn(2, 3, 8, generator=_gen(14))
    buf, proto = export(ln, (x,), dynamic_axes={"input": {0: "batch", 1: "seq"}})
    assert [n.op_type for n in proto.graph.node] == ["LayerNormalization"]
    assert sorted(t.name for t in proto.graph.initializer) == ["bias", "weight"]
    xn = deepseek.randn(4, 5, 8, generator=_gen(15))
    np.testing.assert_allclose(ort_run(buf, {"input": xn})[0], eager(ln, xn)[0], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("opset", [17, 20])
def test_gelu_exports_as_gelu_where_the_opset_has_it(opset):
    x = deepseek.randn(2, 8, generator=_gen(16))
    buf, proto = export(nn.GELU(), (x,), opset_version=opset, dynamic_axes={"input": [0]})
    ops = [n.op_type for n in proto.graph.node]
    assert (ops == ["Gelu"]) == (opset >= 20), ops
    xn = deepseek.randn(5, 8, generator=_gen(17))
    np.testing.assert_allclose(ort_run(buf, {"input": xn})[0], eager(nn.GELU(), xn)[0], rtol=1e-5, atol=1e-6)


def test_trace_that_read_indices_outside_the_launches_is_refused():
    # whatever the reason a trace does not generalise, export checks it on other inputs: an
    # identity-weighted embedding lookup must follow the ids
    emb = nn.Embedding(10, 4)
    ids = deepseek.randint(0, 10, (2, 5), generator=_gen(18))
    try:
        buf, _ = export(emb, (ids,))
    except OnnxExporterError as e:
        assert "does not reproduce the model on other inputs" in str(e)
        return
    other = deepseek.tensor([[9, 8, 7, 6, 5], [0, 1, 2, 3, 4]])
    np.testing.assert_allclose(ort_run(buf, {"input": other})[0], eager(emb, other)[0], rtol=1e-6)
