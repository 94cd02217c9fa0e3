"""deepseek.onnx.to_module / load: parameters, gradients, fine-tuning, devices, the info command,
and the clear errors for bad files and models."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")

import deepseek  # noqa: E402
import deepseek.onnx  # noqa: E402
from deepseek.onnx import UnsupportedOperatorError  # noqa: E402
from deepseek.testing import available_devices  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402


def mlp_model(dtype=np.float32, opset=17):
    """x[batch, 3] -> Gemm -> LayerNorm -> Tanh -> MatMul + b -> Softmax, weights as initializers."""
    rng = np.random.default_rng(0)
    elem = TensorProto.FLOAT if dtype == np.float32 else TensorProto.DOUBLE
    inits = {
        "fc1.weight": rng.normal(size=(5, 3)), "fc1.bias": rng.normal(size=5),
        "ln.weight": rng.normal(size=5), "ln.bias": rng.normal(size=5),
        "fc2.weight": rng.normal(size=(5, 4)), "fc2.bias": rng.normal(size=4),
    }
    nodes = [
        helper.make_node("Gemm", ["x", "fc1.weight", "fc1.bias"], ["h"], transB=1),
        helper.make_node("LayerNormalization", ["h", "ln.weight", "ln.bias"], ["n"]),
        helper.make_node("Tanh", ["n"], ["t"]),
        helper.make_node("MatMul", ["t", "fc2.weight"], ["m"]),
        helper.make_node("Add", ["m", "fc2.bias"], ["z"]),
        helper.make_node("Softmax", ["z"], ["y"], axis=-1),
    ]
    graph = helper.make_graph(
        nodes, "mlp", [helper.make_tensor_value_info("x", elem, ["batch", 3])],
        [helper.make_tensor_value_info("y", elem, ["batch", 4])],
        [numpy_helper.from_array(v.astype(dtype), k) for k, v in inits.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def test_parameters_are_the_initializers_and_trainable():
    model = mlp_model()
    m = deepseek.onnx.to_module(model)
    params = dict(m.named_parameters())
    assert sorted(params) == sorted(t.name for t in model.graph.initializer)
    for t in model.graph.initializer:
        np.testing.assert_array_equal(params[t.name].detach().numpy(), numpy_helper.to_array(t))
        assert params[t.name].requires_grad
    assert sorted(m.state_dict()) == sorted(params)


def test_gradients_match_finite_differences():
    m = deepseek.onnx.to_module(mlp_model(np.float64))
    x = deepseek.from_numpy(np.random.default_rng(1).normal(size=(2, 3)))
    w = deepseek.from_numpy(np.random.default_rng(2).normal(size=(2, 4)))
    params = dict(m.named_parameters())
    loss = (m(x) * w).sum()
    loss.backward()
    eps = 1e-6
    for name in ("fc1.weight", "ln.bias", "fc2.weight"):
        p = params[name]
        grad = p.grad.numpy().reshape(-1)
        flat = p.detach().numpy().reshape(-1)
        for k in range(0, flat.size, max(flat.size // 4, 1)):
            old = flat[k]
            vals = []
            for d in (eps, -eps):
                with deepseek.no_grad():
                    p.view(-1)[k] = old + d
                    vals.append(float((m(x) * w).sum()))
            with deepseek.no_grad():
                p.view(-1)[k] = old
            assert abs((vals[0] - vals[1]) / (2 * eps) - grad[k]) < 1e-6, (name, k)


def test_fine_tuning_lowers_the_loss():
    m = deepseek.onnx.to_module(mlp_model())
    x = deepseek.randn(8, 3, generator=deepseek.Generator().manual_seed(0))
    target = deepseek.tensor([0, 1, 2, 3, 0, 1, 2, 3])
    opt = deepseek.optim.SGD(m.parameters(), lr=0.5)
    losses = []
    for _ in range(5):
        loss = deepseek.nn.functional.nll_loss(deepseek.log(m(x)), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss))
    assert losses[-1] < losses[0]


def test_load_moves_to_map_location_and_is_eval(tmp_path):
    path = tmp_path / "mlp.onnx"
    onnx.save(mlp_model(), str(path))
    m = deepseek.onnx.load(str(path), map_location="cpu")
    assert not m.training
    x = deepseek.randn(3, 3)
    assert m(x).shape == (3, 4)
    # by name, as onnxruntime feeds
    np.testing.assert_allclose(m(x=x).detach().numpy(), m(x).detach().numpy())


def test_lstm_layout1_equals_layout0():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5, 2, 3)).astype(np.float32)
    w, r_, b = (rng.normal(size=s).astype(np.float32) for s in [(1, 16, 3), (1, 16, 4), (1, 32)])
    outs = {}
    for layout in (0, 1):
        node = helper.make_node("LSTM", ["x", "w", "r", "b"], ["y", "h"], hidden_size=4, layout=layout)
        graph = helper.make_graph([node], "l", [helper.make_tensor_value_info("x", TensorProto.FLOAT, None)],
                                  [helper.make_empty_tensor_value_info(o) for o in ("y", "h")],
                                  [numpy_helper.from_array(a, n) for a, n in ((w, "w"), (r_, "r"), (b, "b"))])
        m = deepseek.onnx.to_module(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))
        xin = x if layout == 0 else x.transpose(1, 0, 2)
        outs[layout] = [t.detach().numpy() for t in m(deepseek.from_numpy(np.ascontiguousarray(xin)))]
    np.testing.assert_allclose(outs[1][0], outs[0][0].transpose(2, 0, 1, 3), rtol=1e-6)
    np.testing.assert_allclose(outs[1][1], outs[0][1].transpose(1, 0, 2), rtol=1e-6)


# ---- bad input ----

def _graph(nodes, inits=(), opsets=(("", 17),)):
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
                              [helper.make_empty_tensor_value_info("y")], list(inits))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid(d, v) for d, v in opsets])


def test_unsupported_ops_listed_at_once():
    model = _graph([helper.make_node("Relu", ["x"], ["a"]), helper.make_node("Det", ["a"], ["b"]),
                    helper.make_node("Multinomial", ["b"], ["c"]), helper.make_node("Det", ["c"], ["y"])])
    with pytest.raises(UnsupportedOperatorError, match=r"2 ONNX op type\(s\).*Det \(x2\), Multinomial"):
        deepseek.onnx.to_module(model)
    assert issubclass(UnsupportedOperatorError, RuntimeError)


def test_unknown_domain():
    model = _graph([helper.make_node("Gelu", ["x"], ["y"], domain="com.example")],
                   opsets=(("", 17), ("com.example", 1)))
    with pytest.raises(ValueError, match="com.example"):
        deepseek.onnx.to_module(model)


def test_missing_initializer():
    model = _graph([helper.make_node("MatMul", ["x", "fc.weight"], ["y"])])
    with pytest.raises(ValueError, match=r"MatMul node .*\['fc.weight'\].*missing initializer"):
        deepseek.onnx.to_module(model)


def test_truncated_and_non_onnx_files(tmp_path):
    data = mlp_model().SerializeToString()
    bad = tmp_path / "cut.onnx"
    for cut in (len(data) // 3, len(data) - 7):
        bad.write_bytes(data[:cut])
        with pytest.raises(ValueError, match="truncated or not ONNX"):
            deepseek.onnx.load(str(bad))
    (tmp_path / "text.onnx").write_text("name,value\na,1\n")
    with pytest.raises(ValueError, match="not (a readable )?(an )?ONNX model"):
        deepseek.onnx.load(str(tmp_path / "text.onnx"))
    with pytest.raises(FileNotFoundError):
        deepseek.onnx.load(str(tmp_path / "absent.onnx"))


def test_wrong_inputs_are_named():
    m = deepseek.onnx.to_module(mlp_model())
    with pytest.raises(TypeError, match="'x' is declared deepseek.float32"):
        m(deepseek.zeros(2, 3, dtype=deepseek.float64))
    with pytest.raises(RuntimeError, match=r"'x' is declared with shape \('\?', 3\), got shape \(2, 4\)"):
        m(deepseek.zeros(2, 4))
    with pytest.raises(TypeError, match="missing inputs"):
        m()


def test_op_errors_name_the_node():
    model = _graph([helper.make_node("Reshape", ["x", "s"], ["y"], name="bad_reshape")],
                   inits=[numpy_helper.from_array(np.asarray([4, 4], np.int64), "s")])
    with pytest.raises(RuntimeError, match="ONNX Reshape node 'bad_reshape'"):
        deepseek.onnx.to_module(model)(deepseek.zeros(2, 3))


def test_info_command(tmp_path, capsys):
    path = tmp_path / "m.onnx"
    model = mlp_model()
    model.graph.node.append(helper.make_node("Det", ["y"], ["z"]))
    model.graph.output.append(helper.make_empty_tensor_value_info("z"))
    onnx.save(model, str(path))
    out = subprocess.run([sys.executable, "-m", "deepseek.onnx", "info", str(path)],
                         capture_output=True, text=True, check=True).stdout
    assert "default opset: 17" in out
    assert "x: float[batch, 3]" in out
    assert "y: float[batch, 4]" in out
    assert "Gemm" in out and "Det" in out
    assert "deepseek does not run: Det" in out
    from deepseek.onnx.__main__ import main

    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x07garbage")
    assert main(["info", str(bad)]) == 1
    assert "error:" in capsys.readouterr().err


def cnn_model():
    """Conv (bias, pads) -> BatchNormalization -> Relu -> MaxPool -> GlobalAveragePool ->
    Shape/Gather/Concat/Reshape (a flatten the way exporters spell it) -> Gemm -> Softmax."""
    rng = np.random.default_rng(3)
    f32 = np.float32
    inits = [numpy_helper.from_array(a.astype(f32), n) for n, a in [
        ("conv.weight", rng.normal(size=(4, 3, 3, 3))), ("conv.bias", rng.normal(size=4)),
        ("bn.weight", rng.normal(size=4)), ("bn.bias", rng.normal(size=4)),
        ("bn.running_mean", rng.normal(size=4)), ("bn.running_var", rng.uniform(0.5, 2, size=4)),
        ("fc.weight", rng.normal(size=(5, 4))), ("fc.bias", rng.normal(size=5))]]
    inits.append(numpy_helper.from_array(np.asarray([0], np.int64), "zero"))
    inits.append(numpy_helper.from_array(np.asarray([-1], np.int64), "minus_one"))
    nodes = [
        helper.make_node("Conv", ["x", "conv.weight", "conv.bias"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["c", "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var"],
                         ["b"]),
        helper.make_node("Relu", ["b"], ["r"]),
        helper.make_node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("GlobalAveragePool", ["p"], ["g"]),
        helper.make_node("Shape", ["g"], ["s"]),
        helper.make_node("Gather", ["s", "zero"], ["n"], axis=0),
        helper.make_node("Concat", ["n", "minus_one"], ["shape"], axis=0),
        helper.make_node("Reshape", ["g", "shape"], ["f"]),
        helper.make_node("Gemm", ["f", "fc.weight", "fc.bias"], ["z"], transB=1),
        helper.make_node("Softmax", ["z"], ["y"]),
    ]
    graph = helper.make_graph(nodes, "cnn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 5])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@pytest.mark.parametrize("device", available_devices())
def test_imported_model_runs_on_every_device(device):
    ort = pytest.importorskip("onnxruntime")
    model = cnn_model()
    x = np.random.default_rng(4).normal(size=(2, 3, 8, 8)).astype(np.float32)
    want = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    m = deepseek.onnx.load(model, map_location=device)
    assert all(p.device.type == device.split(":")[0] for p in m.parameters())
    y = m(deepseek.from_numpy(x).to(device))
    assert y.device.type == device.split(":")[0]
    np.testing.assert_allclose(y.detach().cpu().numpy(), want, rtol=1e-4, atol=1e-5)


def test_load_runs_static_graphs_and_stays_exact():
    # Relu/Exp/ReduceSum/Div/Concat: traced by deepseek.jit and run as one graph per input shape
    nodes = [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Exp", ["r"], ["e"]),
             helper.make_node("ReduceSum", ["e", "axes"], ["s"], keepdims=1),
             helper.make_node("Div", ["e", "s"], ["d"]), helper.make_node("Concat", ["d", "x"], ["y"], axis=1)]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3])],
                              [helper.make_empty_tensor_value_info("y")],
                              [numpy_helper.from_array(np.asarray([1], np.int64), "axes")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    m = deepseek.onnx.load(model)
    assert isinstance(m, deepseek.onnx.GraphOnnxModule) and m.input_names == ["x"]
    for n in (2, 2, 5):
        x = np.random.default_rng(n).normal(size=(n, 3)).astype(np.float32)
        e = np.exp(np.maximum(x, 0))
        np.testing.assert_allclose(m(deepseek.from_numpy(x)).numpy(),
                                   np.concatenate([e / e.sum(1, keepdims=True), x], 1), rtol=1e-5)
    assert not m.fallback
    # a model with Gemm: exact whether the tracer records matmul or the module falls back
    g = deepseek.onnx.load(mlp_model())
    for n in (2, 4):
        x = deepseek.randn(n, 3)
        np.testing.assert_allclose(g(x).numpy(), deepseek.onnx.to_module(mlp_model())(x).detach().numpy(),
                                   rtol=1e-5, atol=1e-6)
    # a value-dependent shape (NonZero) keeps the node-by-node module
    nz = helper.make_model(helper.make_graph([helper.make_node("NonZero", ["x"], ["y"])], "nz",
                                             [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3])],
                                             [helper.make_empty_tensor_value_info("y")]),
                           opset_imports=[helper.make_opsetid("", 17)])
    assert isinstance(deepseek.onnx.load(nz), deepseek.onnx.OnnxModule)
