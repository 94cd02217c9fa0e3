"""deepseek.onnx.export of single layers beyond the zoo's defaults: nn.MultiheadAttention
returning its attention weights, causal and 3-D scaled_dot_product_attention as ONNX's
Attention (opset 23), LSTMs with a projection (Scan), stacked bidirectional GRU/LSTM layers
with a dynamic sequence, training-mode graphs refused by name, and the info command on an
exported zoo model. Each export runs in onnxruntime against deepseek's eager outputs."""
from __future__ import annotations

import io
import subprocess
import sys
import warnings

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import deepseek  # noqa: E402
import deepseek.onnx  # noqa: E402
from deepseek import nn  # noqa: E402
from deepseek.nn import functional as F  # noqa: E402

RNG = np.random.default_rng(7)


def _t(*shape):
    return deepseek.tensor(RNG.standard_normal(shape).astype(np.float32))


def _export(fn, args, names, axes=None, opset=17):
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        proto = deepseek.onnx.export(fn, args, buf, input_names=names, dynamic_axes=axes, opset_version=opset)
    return proto, buf.getvalue()


def _check(fn, data, names, *feeds_list, atol=1e-5):
    """onnxruntime's outputs of ``data`` equal ``fn``'s for each tuple of feeds."""
    sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    for feeds in feeds_list:
        with deepseek.no_grad():
            want = fn(*feeds)
        want = [w.numpy() for w in (want if isinstance(want, (tuple, list)) else (want,))]
        got = sess.run(None, {k: a.numpy() for k, a in zip(names, feeds)})
        assert len(got) == len(want)
        for g, w in zip(got, want):
            assert g.shape == w.shape
            np.testing.assert_allclose(g, w, rtol=1e-4, atol=atol)


def _ops(proto):
    return [n.op_type for n in proto.graph.node]


@pytest.mark.parametrize("batch_first, average", [(True, True), (False, False)])
def test_multihead_attention_with_weights_exports_with_dynamic_batch_and_length(batch_first, average):
    deepseek.manual_seed(0)
    m = nn.MultiheadAttention(16, 4, batch_first=batch_first).eval()

    def fn(x, kpm):
        out, w = m(x, x, x, key_padding_mask=kpm, average_attn_weights=average)  # need_weights=True
        return out, w

    def feeds(n, seq):
        x = _t(n, seq, 16) if batch_first else _t(seq, n, 16)
        ignored = np.zeros((n, seq), dtype=bool)  # key padding: True = ignored
        ignored[:, 1:] = RNG.random((n, seq - 1)) < 0.3  # the first key always attends
        return x, deepseek.tensor(ignored)

    seq_axis, batch_axis = (1, 0) if batch_first else (0, 1)
    proto, data = _export(fn, feeds(2, 5), ["x", "kpm"],
                          {"x": {batch_axis: "batch", seq_axis: "seq"}, "kpm": {0: "batch", 1: "seq"}})
    ops = _ops(proto)
    assert "Softmax" in ops and "MatMul" in ops and "Attention" not in ops
    _check(fn, data, ["x", "kpm"], feeds(2, 5), feeds(3, 7))
    # the weights are a probability distribution over the keys
    w = ort.InferenceSession(data, providers=["CPUExecutionProvider"]).run(
        None, {k: a.numpy() for k, a in zip(["x", "kpm"], feeds(3, 6))})[1]
    np.testing.assert_allclose(w.sum(-1), 1.0, rtol=1e-5)
    assert w.shape == ((3, 6, 6) if average else (3, 4, 6, 6))


@pytest.mark.parametrize("L, S", [(5, 5), (4, 6), (6, 4)])
def test_causal_attention_is_one_attention_node_at_opset_23(L, S):
    def fn(q, k, v):
        return F.scaled_dot_product_attention(q, k, v, is_causal=True)

    args = (_t(2, 3, L, 8), _t(2, 3, S, 8), _t(2, 3, S, 8))
    axes = {n: {0: "batch"} for n in "qkv"}
    proto, data = _export(fn, args, ["q", "k", "v"], axes, opset=23)
    (att,) = [n for n in proto.graph.node if n.op_type == "Attention"]
    assert {a.name: onnx.helper.get_attribute_value(a) for a in att.attribute}["is_causal"] == 1
    assert "Softmax" not in _ops(proto)
    _check(fn, data, ["q", "k", "v"], args, (_t(4, 3, L, 8), _t(4, 3, S, 8), _t(4, 3, S, 8)))
    back = deepseek.onnx.load(data)
    with deepseek.no_grad():
        np.testing.assert_allclose(back(*args).numpy(), fn(*args).numpy(), rtol=1e-5, atol=1e-6)


def test_causal_self_attention_follows_a_dynamic_length():
    def fn(x):
        return F.scaled_dot_product_attention(x, x, x, is_causal=True)

    proto, data = _export(fn, (_t(2, 2, 5, 8),), ["x"], {"x": {0: "batch", 2: "seq"}}, opset=23)
    assert _ops(proto).count("Attention") == 1
    _check(fn, data, ["x"], (_t(2, 2, 5, 8),), (_t(3, 2, 9, 8),))


@pytest.mark.parametrize("mask", [None, "bool", "float"])
def test_three_dimensional_attention_is_one_head_attention(mask):
    def fn(q, k, v, *m):
        return F.scaled_dot_product_attention(q, k, v, attn_mask=m[0] if m else None)

    args = [_t(2, 5, 8), _t(2, 6, 8), _t(2, 6, 4)]
    if mask == "bool":
        keep = RNG.random((2, 5, 6)) < 0.7
        keep[..., 0] = True  # every query attends somewhere
        args.append(deepseek.tensor(keep))
    elif mask == "float":
        args.append(_t(2, 5, 6))
    names = ["q", "k", "v", "mask"][:len(args)]
    proto, data = _export(fn, tuple(args), names, opset=23)
    (att,) = [n for n in proto.graph.node if n.op_type == "Attention"]
    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in att.attribute}
    assert attrs["q_num_heads"] == attrs["kv_num_heads"] == 1
    _check(fn, data, names, tuple(args))
    back = deepseek.onnx.to_module(data)  # the importer reads the 3-D form back
    with deepseek.no_grad():
        np.testing.assert_allclose(back(*args).numpy(), fn(*args).numpy(), rtol=1e-5, atol=1e-6)


def _lstm_feeds(batch_first, n, seq, with_state, m):
    x = _t(n, seq, 6) if batch_first else _t(seq, n, 6)
    if not with_state:
        return (x,)
    k = m.num_layers * (2 if m.bidirectional else 1)
    return x, _t(k, n, m.proj_size), _t(k, n, m.hidden_size)


@pytest.mark.parametrize("bidirectional, layers, batch_first, with_state",
                         [(False, 1, False, False), (True, 2, True, False), (True, 2, False, True)])
def test_lstm_with_projection_exports_as_scan_with_dynamic_sequence(bidirectional, layers, batch_first, with_state):
    deepseek.manual_seed(0)
    m = nn.LSTM(6, 12, num_layers=layers, proj_size=5, bidirectional=bidirectional, batch_first=batch_first).eval()

    def fn(x, *state):
        out, (h, c) = m(x, tuple(state) if state else None)
        return out, h, c

    names = ["x", "h0", "c0"][:3 if with_state else 1]
    seq_axis, batch_axis = (1, 0) if batch_first else (0, 1)
    axes = {"x": {batch_axis: "batch", seq_axis: "seq"}, **{n: {1: "batch"} for n in names[1:]}}
    proto, data = _export(fn, _lstm_feeds(batch_first, 2, 4, with_state, m), names, axes)
    assert _ops(proto).count("Scan") == layers * (2 if bidirectional else 1) and "LSTM" not in _ops(proto)
    _check(fn, data, names, _lstm_feeds(batch_first, 2, 4, with_state, m),
           _lstm_feeds(batch_first, 3, 7, with_state, m))


def test_lstm_with_projection_round_trips_with_input_gradients():
    deepseek.manual_seed(0)
    m = nn.LSTM(6, 12, num_layers=2, proj_size=5, bidirectional=True, batch_first=True).eval()

    def fn(x):
        out, (h, c) = m(x)
        return out, h, c

    _, data = _export(fn, (_t(2, 4, 6),), ["x"], {"x": {0: "batch", 1: "seq"}})
    imported = deepseek.onnx.to_module(data)  # the Scans run node by node in deepseek
    x = _t(3, 7, 6)
    grads = []
    for f in (fn, imported):
        xi = x.detach().clone().requires_grad_(True)
        outs = f(xi)
        sum(((o * (k + 1)).sum() for k, o in enumerate(outs)), deepseek.tensor(0.0)).backward()
        grads.append((xi.grad.numpy(), [o.detach().numpy() for o in outs]))
    (gw, want), (gg, got) = grads
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(gg, gw, rtol=1e-4, atol=1e-6)
    assert all(p.grad is not None for p in imported.parameters())


def _scan_model(reverse, body_op="Add", body_init=False):
    """A Scan over x [T, 2] (or over its axis 1 for ``reverse``): state s += x_t, output y_t =
    s * x_t, the reverse case scanning backwards and laying y out along axis 1."""
    from onnx import TensorProto, helper

    f = TensorProto.FLOAT
    body = helper.make_graph(
        [helper.make_node(body_op, ["s", "xt"], ["s2"]), helper.make_node("Mul", ["s2", "xt"], ["y"])], "body",
        [helper.make_tensor_value_info("s", f, [2]), helper.make_tensor_value_info("xt", f, [2])],
        [helper.make_tensor_value_info("s2", f, [2]), helper.make_tensor_value_info("y", f, [2])],
        [helper.make_tensor("w", f, [2], [1.0, 2.0])] if body_init else [])
    attrs = dict(num_scan_inputs=1)
    if reverse:
        attrs.update(scan_input_directions=[1], scan_input_axes=[1], scan_output_axes=[1])
    node = helper.make_node("Scan", ["s0", "x"], ["s_final", "ys"], body=body, **attrs)
    shape = [2, "T"] if reverse else ["T", 2]
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("s0", f, [2]),
                                            helper.make_tensor_value_info("x", f, shape)],
                              [helper.make_tensor_value_info("s_final", f, [2]),
                               helper.make_tensor_value_info("ys", f, shape)])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@pytest.mark.parametrize("reverse", [False, True])
def test_scan_imports_and_agrees_with_numpy_and_onnxruntime(reverse):
    model = _scan_model(reverse)
    s0 = RNG.standard_normal(2).astype(np.float32)
    x = RNG.standard_normal((2, 5) if reverse else (5, 2)).astype(np.float32)
    steps = x.T[::-1] if reverse else x
    s, ys = s0.copy(), []
    for xt in steps:
        s = s + xt
        ys.append(s * xt)
    ys = np.stack(ys, axis=1 if reverse else 0)
    m = deepseek.onnx.to_module(model)
    got_s, got_y = m(deepseek.tensor(s0), deepseek.tensor(x))
    np.testing.assert_allclose(got_s.numpy(), s, rtol=1e-6)
    np.testing.assert_allclose(got_y.numpy(), ys, rtol=1e-6)
    ref = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(
        None, {"s0": s0, "x": x})
    np.testing.assert_allclose(got_y.numpy(), ref[1], rtol=1e-6)


def test_scan_bodies_outside_the_importer_are_refused_by_name():
    with pytest.raises(deepseek.onnx.UnsupportedOperatorError, match="Det"):
        deepseek.onnx.to_module(_scan_model(False, body_op="Det"))  # an op inside the body is listed
    with pytest.raises(RuntimeError, match="body with its own initializers"):
        deepseek.onnx.to_module(_scan_model(False, body_init=True))


def test_unbatched_lstm_with_projection():
    deepseek.manual_seed(0)
    m = nn.LSTM(6, 8, proj_size=3).eval()

    def fn(x):
        out, (h, c) = m(x)
        return out, h, c

    proto, data = _export(fn, (_t(5, 6),), ["x"], {"x": {0: "seq"}})
    _check(fn, data, ["x"], (_t(5, 6),), (_t(9, 6),))


@pytest.mark.parametrize("kind", ["GRU", "LSTM"])
def test_stacked_bidirectional_recurrent_layer_follows_a_dynamic_sequence(kind):
    deepseek.manual_seed(0)
    m = getattr(nn, kind)(6, 10, num_layers=3, bidirectional=True, batch_first=True).eval()

    def fn(x):
        out, state = m(x)
        return (out,) + (tuple(state) if kind == "LSTM" else (state,))

    proto, data = _export(fn, (_t(2, 4, 6),), ["x"], {"x": {0: "batch", 1: "seq"}})
    assert _ops(proto).count(kind) == 3
    _check(fn, data, ["x"], (_t(2, 4, 6),), (_t(3, 9, 6),), (_t(1, 1, 6),))


def test_training_mode_graphs_are_refused_by_name():
    drop = nn.Sequential(nn.Linear(8, 8), nn.Dropout(0.5))
    with pytest.raises(deepseek.onnx.OnnxExporterError, match="training mode with random ops .*bernoulli"):
        deepseek.onnx.export(drop.train(), (_t(2, 8),), io.BytesIO(), training=True)
    assert drop.training  # the mode is restored
    norm = nn.Sequential(nn.Linear(8, 8), nn.BatchNorm1d(8)).train()
    # batch norm's update of its running statistics
    with pytest.raises(deepseek.onnx.OnnxExporterError, match="num_batches_tracked.*eval mode"):
        deepseek.onnx.export(norm, (_t(4, 8),), io.BytesIO(), training=True)
    # a forward that asks for dropout itself is refused in eval mode too
    with pytest.raises(deepseek.onnx.OnnxExporterError, match="random ops"):
        deepseek.onnx.export(lambda x: F.dropout(x, 0.5, training=True), (_t(2, 8),), io.BytesIO())
    # the default (training=None) exports the eval-mode graph, dropout being the identity
    proto, data = _export(drop.train(), (_t(2, 8),), ["x"])
    assert drop.training
    _check(drop.eval(), data, ["x"], (_t(2, 8),))


def test_info_command_on_an_exported_zoo_model(tmp_path):
    from deepseek import models

    deepseek.manual_seed(0)
    model = models.squeezenet1_1(num_classes=10).eval()
    path = tmp_path / "squeezenet.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # an example batch of 1 is specialised by broadcasting: refused with a hint
        with pytest.raises(deepseek.onnx.SymbolicValueError, match="example of size 2 or more"):
            deepseek.onnx.export(model, (_t(1, 3, 32, 32),), io.BytesIO(), dynamic_axes={"input": {0: "batch"}})
        deepseek.onnx.export(model, (_t(2, 3, 32, 32),), str(path), input_names=["images"],
                             output_names=["logits"], dynamic_axes={"images": {0: "batch"}})
    out = subprocess.run([sys.executable, "-m", "deepseek.onnx", "info", str(path)], capture_output=True, text=True,
                         check=True).stdout
    assert "producer: deepseek" in out and "default opset: 17" in out
    assert "images: float[batch, 3, 32, 32]" in out
    assert "logits: float[batch, 10]" in out
    conv = [line for line in out.splitlines() if line.strip().startswith("Conv ")]
    assert conv and conv[0].split()[1] == "26" and conv[0].split()[2] == "runs"
    assert "deepseek runs every op" in out
