"""The export lowering on hand-written graphs in deepseek.jit's documented view format: each graph
is lowered, checked by onnx.checker, run in onnxruntime and compared with NumPy; dynamic axes
through a second trace; views from their layouts; the refusals."""
from __future__ import annotations

import io

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import deepseek  # noqa: E402
import deepseek.onnx  # noqa: E402
from deepseek.onnx import OnnxExporterError, SymbolicValueError, UnsupportedOperatorError  # noqa: E402
from deepseek.onnx._export import build_model, save  # noqa: E402
from deepseek.onnx._symbolic import Symbols  # noqa: E402

from onnx_fake_graph import FakeGraph  # noqa: E402

RNG = np.random.default_rng(0)
W1, B1 = RNG.normal(size=(8, 4)).astype(np.float32), RNG.normal(size=8).astype(np.float32)
W2, B2 = RNG.normal(size=(2, 8)).astype(np.float32), RNG.normal(size=2).astype(np.float32)


def run(proto, *arrays):
    """The model's outputs from onnxruntime, after checking that deepseek's importer gives the
    same (export -> import round trip)."""
    sess = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    feed = {i.name: a for i, a in zip(sess.get_inputs(), arrays)}
    want = sess.run(None, feed)
    got = deepseek.onnx.to_module(proto)(*[deepseek.from_numpy(np.array(a)) for a in arrays])
    got = got if isinstance(got, tuple) else (got,)
    for k, (w, g) in enumerate(zip(want, got)):
        np.testing.assert_allclose(g.detach().numpy(), w, rtol=1e-5, atol=1e-5, err_msg=f"imported output {k}")
    return want


def export(g, n_in=1, n_out=1, **kw):
    names = dict(input_names=[f"x{i}" for i in range(n_in)], output_names=[f"y{i}" for i in range(n_out)])
    names.update(kw.pop("names", {}))
    proto = build_model(g, opset_version=kw.pop("opset", 17), **names, **kw)
    save(proto, io.BytesIO())  # onnx.checker with full shape inference
    return proto


def linear(g, x, batch, w, b, name, transpose_view="as_strided"):
    """What the tracer records for F.linear: W^T as a strided (1, in, out) view, a batched matmul,
    the bias broadcast by an expand view."""
    out_f, in_f = w.shape
    wv, bv = g.add_state(f"{name}.weight", w), g.add_state(f"{name}.bias", b)
    if transpose_view == "as_strided":
        wt = g.view("as_strided", wv, size=[1, in_f, out_f], stride=[0, 1, in_f], storage_offset=0)
    else:
        wt = g.view("reshape", g.view("permute", wv, dims=[1, 0]), shape=[1, in_f, out_f])
    x3 = g.view("reshape", x, shape=[1, batch, in_f])
    h = g.view("reshape", g.launch("matmul", [x3, wt], [1, batch, out_f]), shape=[batch, out_f])
    return g.launch("add", [h, g.view("expand", bv, shape=[batch, out_f])], [batch, out_f])


def mlp_graph(batch, transpose_view="as_strided"):
    g = FakeGraph()
    x = g.add_input([batch, 4])
    h = g.launch("relu", [linear(g, x, batch, W1, B1, "fc1", transpose_view)], [batch, 8])
    g.output(linear(g, h, batch, W2, B2, "fc2", transpose_view))
    return g


def mlp_ref(x):
    return np.maximum(x @ W1.T + B1, 0) @ W2.T + B2


@pytest.mark.parametrize("view", ["as_strided", "permute"])
def test_mlp_matches_numpy(view):
    proto = export(mlp_graph(3, view))
    names = sorted(t.name for t in proto.graph.initializer)
    assert {"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"} <= set(names)
    x = RNG.normal(size=(3, 4)).astype(np.float32)
    np.testing.assert_allclose(run(proto, x)[0], mlp_ref(x), rtol=1e-5, atol=1e-5)
    # the bias broadcasts through Add: no Expand and no batch-sized shape constant for it
    assert "Expand" not in [n.op_type for n in proto.graph.node]


def test_dynamic_batch_from_a_second_trace():
    base, grown = mlp_graph(3), mlp_graph(4)
    symbols = Symbols(base, [grown], [("batch", [(0, 0)], 3)])
    proto = export(base, symbols=symbols, dims={("x0", 0): "batch", ("y0", 0): "batch"})
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    for n in (1, 5, 7):
        x = RNG.normal(size=(n, 4)).astype(np.float32)
        np.testing.assert_allclose(run(proto, x)[0], mlp_ref(x), rtol=1e-5, atol=1e-5)


def test_dynamic_flatten_of_batch_times_sequence():
    # x [B, S, 4] -> reshape [B*S, 4] -> relu -> reshape [B, S, 4]: a product of two axes
    def graph(b, s):
        g = FakeGraph()
        x = g.add_input([b, s, 4])
        r = g.launch("relu", [g.view("reshape", x, shape=[b * s, 4])], [b * s, 4])
        g.output(g.view("reshape", g.launch("neg", [r], [b * s, 4]), shape=[b, s, 4]))
        return g

    symbols = Symbols(graph(2, 3), [graph(3, 3), graph(2, 4)], [("batch", [(0, 0)], 2), ("seq", [(0, 1)], 3)])
    proto = export(graph(2, 3), symbols=symbols, dims={("x0", 0): "batch", ("x0", 1): "seq"})
    x = RNG.normal(size=(5, 7, 4)).astype(np.float32)
    np.testing.assert_allclose(run(proto, x)[0], -np.maximum(x, 0))


def test_shape_constant_that_cannot_follow_the_axis_is_refused():
    # a pad whose amount follows the batch: Pad's amounts are not shape arithmetic here
    def graph(b):
        g = FakeGraph()
        x = g.add_input([b, 3])
        g.output(g.launch("pad", [x], [b, 3 + b], pads=[0, 0, 0, b], value=0.0))
        return g

    symbols = Symbols(graph(2), [graph(3)], [("batch", [(0, 0)], 2)])
    with pytest.raises(SymbolicValueError, match="pad.*pads"):
        export(graph(2), symbols=symbols)


def test_graph_that_changes_with_the_axis_is_refused():
    g2, g3 = mlp_graph(2), mlp_graph(3)
    g3._nodes.pop()
    with pytest.raises(SymbolicValueError, match="changes shape when dynamic axis 'batch'"):
        Symbols(g2, [g3], [("batch", [(0, 0)], 2)])


def conv_pool_graph(n):
    """conv2d (pad 1) + bias + relu, a 2x2/2 max pool and a 3x3/1 window max as strided views
    with amax, then a flatten."""
    g = FakeGraph()
    w = RNG.normal(size=(4, 3, 3, 3)).astype(np.float32)
    b = RNG.normal(size=4).astype(np.float32)
    x = g.add_input([n, 3, 8, 8])
    c = g.launch("conv2d", [x, g.add_state("conv.weight", w)], [n, 4, 8, 8], stride_h=1, stride_w=1, pad_h=1,
                 pad_w=1, dilation_h=1, dilation_w=1, groups=1)
    bb = g.view("expand", g.view("reshape", g.add_state("conv.bias", b), shape=[4, 1, 1]), shape=[n, 4, 8, 8])
    r = g.launch("relu", [g.launch("add", [c, bb], [n, 4, 8, 8])], [n, 4, 8, 8])
    win = g.view("as_strided", r, size=[n, 4, 4, 4, 2, 2], stride=[256, 64, 16, 2, 8, 1], storage_offset=0)
    p = g.view("reshape", g.launch("amax", [win], [n, 4, 4, 4, 1, 1]), shape=[n, 4, 4, 4])
    win3 = g.view("as_strided", r, size=[n, 4, 6, 6, 3, 3], stride=[256, 64, 8, 1, 8, 1], storage_offset=0)
    q = g.view("reshape", g.launch("amax", [win3], [n, 4, 6, 6, 1, 1]), shape=[n, 4, 6, 6])
    g.output(g.view("reshape", p, shape=[n, 64]), q)
    return g, w, b


def test_conv_and_pooling_views():
    g, w, b = conv_pool_graph(2)
    proto = export(g, n_out=2)
    ops = [n.op_type for n in proto.graph.node]
    assert "Conv" in ops and "Gather" in ops  # the overlapping 3x3 windows gather
    x = RNG.normal(size=(2, 3, 8, 8)).astype(np.float32)
    got_p, got_q = run(proto, x)
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    conv = np.zeros((2, 4, 8, 8), np.float64)
    for i in range(3):
        for j in range(3):
            conv += np.einsum("nchw,oc->nohw", xp[:, :, i:i + 8, j:j + 8], w[:, :, i, j])
    r = np.maximum(conv + b[:, None, None], 0)
    pool = r.reshape(2, 4, 4, 2, 4, 2).max(axis=(3, 5))
    win = np.lib.stride_tricks.sliding_window_view(r, (3, 3), axis=(2, 3)).max(axis=(-1, -2))
    np.testing.assert_allclose(got_p, pool.reshape(2, 64), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(got_q, win, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("size,stride,offset", [
    ([3, 2], [6, 2], 1),          # rows, every other column from 1
    ([2, 3], [1, 6], 0),          # a transpose
    ([4, 3, 2], [0, 6, 1], 2),    # a broadcast dim in front
    ([2, 1, 3], [12, 5, 2], 7),   # a size-1 dim; the last block runs past the end (padded)
    ([3, 3], [4, 1], 0),          # overlapping rows: a gather
    ([], [], 5),                  # one element
])
def test_strided_view_layouts(size, stride, offset):
    g = FakeGraph()
    x = g.add_input([4, 6])
    g.output(g.view("as_strided", x, size=size, stride=stride, storage_offset=offset))
    proto = export(g)
    a = RNG.normal(size=(4, 6)).astype(np.float32)
    want = np.lib.stride_tricks.as_strided(a.reshape(-1)[offset:], size, [s * 4 for s in stride])
    np.testing.assert_array_equal(run(proto, a)[0], want)


def test_elementwise_reductions_and_indexing():
    g = FakeGraph()
    x, i = g.add_input([3, 5]), g.add_input([3, 5], "int64")
    c = g.add_constant(np.asarray([2, 0], np.int64))
    e = g.launch("exp", [x], [3, 5])
    lp = g.launch("log1p", [g.launch("abs", [x], [3, 5])], [3, 5])
    s = g.launch("sum", [e], [3, 1])
    sm = g.launch("div", [e, g.view("expand", s, shape=[3, 5])], [3, 5])
    pos = g.launch("gt", [x, g.view("expand", g.add_constant(np.asarray(0.0, np.float32)), shape=[3, 5])],
                   [3, 5], "bool")
    w = g.launch("where", [pos, sm, lp], [3, 5])
    cs = g.launch("cumsum", [w], [3, 5], dim=1)
    am = g.launch("argmax", [x], [3, 1], "int64", dim=1)
    ti = g.launch("cast", [x], [3, 5], "int64")
    rem = g.launch("remainder", [ti, g.view("expand", g.add_constant(np.asarray(3, np.int64)), shape=[3, 5])],
                   [3, 5], "int64")
    fd = g.launch("floor_divide", [i, g.view("expand", g.add_constant(np.asarray(-2, np.int64)), shape=[3, 5])],
                  [3, 5], "int64")
    sel = g.launch("index_select", [x, c], [2, 5], dim=0)
    cat = g.launch("cat", [sel, x], [5, 5], dim=0)
    pad = g.launch("pad", [cat], [6, 8], pads=[0, 1, 2, 1], value=-1.0)
    tv, ti2 = g.launch("topk", [x], [3, 2], n_out=2, out_dtypes=["float32", "int64"], k=2, dim=1, largest=True)
    ga = g.launch("gather", [x, g.launch("remainder", [i, g.view("expand", g.add_constant(
        np.asarray(5, np.int64)), shape=[3, 5])], [3, 5], "int64")], [3, 5], dim=1)
    fill = g.launch("fill", [], [2, 3], value=1.5)
    ar = g.launch("arange", [], [4], "int64", start=2, step=3)
    g.output(cs, am, rem, fd, pad, tv, ti2, ga, fill, ar)
    proto = export(g, n_in=2, n_out=10)
    a = RNG.normal(size=(3, 5)).astype(np.float32) * 3
    idx = RNG.integers(-9, 9, size=(3, 5)).astype(np.int64)
    got = run(proto, a, idx)
    e_ = np.exp(a)
    w_ = np.where(a > 0, e_ / e_.sum(1, keepdims=True), np.log1p(np.abs(a)))
    want = [np.cumsum(w_, 1), a.argmax(1)[:, None], np.trunc(a).astype(np.int64) % 3, idx // -2,
            np.pad(np.concatenate([a[[2, 0]], a]), ((0, 1), (2, 1)), constant_values=-1),
            -np.sort(-a, 1)[:, :2], np.argsort(-a, 1, kind="stable")[:, :2],
            np.take_along_axis(a, idx % 5, 1), np.full((2, 3), 1.5, np.float32), np.asarray([2, 5, 8, 11])]
    for k, (gv, wv) in enumerate(zip(got, want)):
        np.testing.assert_allclose(gv, wv, rtol=1e-5, atol=1e-6, err_msg=f"output {k}")


def test_unsupported_ops_listed_at_once():
    g = FakeGraph()
    x = g.add_input([3])
    a = g.launch("lgamma", [x], [3])
    b = g.launch("randn", [], [3], seed=0, offset=0, low=0, high=0)
    g.output(g.launch("add", [g.launch("lgamma", [a], [3]), b], [3]))
    with pytest.raises(UnsupportedOperatorError, match=r"2 op\(s\).*lgamma \(x2\), randn.*model.eval\(\)"):
        export(g)


def test_writes_into_state_are_refused():
    g = FakeGraph()
    x = g.add_input([4])
    m = g.add_state("bn.running_mean", np.zeros(4, np.float32))
    out = g._new([4], "float32", "state", name="bn.running_mean", buffer=g._values[m]["buffer"])
    g._nodes.append({"kind": "launch", "op": "add", "attrs": {}, "inputs": [m, x], "outputs": [out], "mutates": [m]})
    g.output(x)
    with pytest.raises(OnnxExporterError, match="writes into state 'bn.running_mean'.*model.eval"):
        export(g)


def test_writes_into_parts_of_a_buffer():
    # deepseek.cat as the tracer records it: each piece copied into its place in a fresh buffer
    # (the second copy mutating the first's version), the result a strided view of the buffer
    g = FakeGraph()
    a, b = g.add_input([2, 3]), g.add_input([2, 2])
    buf = g._new([2, 5], "float32", "internal")  # the destination, never read before the writes
    bid = g._values[buf]["buffer"]
    first = g._new([2, 3], "float32", "internal", strides=[5, 1], offset=0, buffer=bid)
    g._nodes.append({"kind": "launch", "op": "copy", "attrs": {}, "inputs": [a], "outputs": [first], "mutates": []})
    second = g._new([2, 2], "float32", "internal", strides=[5, 1], offset=3, buffer=bid)
    g._values[second]["version"] = 1
    g._nodes.append({"kind": "launch", "op": "copy", "attrs": {}, "inputs": [b], "outputs": [second],
                     "mutates": [first]})
    whole = g.view("as_strided", second, size=[2, 5], stride=[5, 1], storage_offset=0)
    g.output(g.launch("neg", [whole], [2, 5]), second)
    proto = export(g, n_in=2, n_out=2)
    x, y = RNG.normal(size=(2, 3)).astype(np.float32), RNG.normal(size=(2, 2)).astype(np.float32)
    got = run(proto, x, y)
    np.testing.assert_array_equal(got[0], -np.concatenate([x, y], 1))
    np.testing.assert_array_equal(got[1], y)


def test_export_to_file_external_data_and_reimport(tmp_path):
    proto = export(mlp_graph(3))
    path = tmp_path / "mlp.onnx"
    save(proto, str(path), external_data=True)
    assert (tmp_path / "mlp.onnx.data").exists()
    x = RNG.normal(size=(3, 4)).astype(np.float32)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(sess.run(None, {"x0": x})[0], mlp_ref(x), rtol=1e-5, atol=1e-5)
    m = deepseek.onnx.to_module(str(path))
    xt = deepseek.from_numpy(x)
    y = m(xt)
    np.testing.assert_allclose(y.detach().numpy(), mlp_ref(x), rtol=1e-5, atol=1e-5)
    y.sum().backward()
    g = dict(m.named_parameters())["fc2.bias"].grad.numpy()
    np.testing.assert_allclose(g, np.full(2, 3.0), rtol=1e-6)


def test_mean_over_a_dynamic_axis_divides_by_its_size():
    # mean over the sequence: sum, then divide by a constant that is the sequence length
    def graph(b, s):
        g = FakeGraph()
        x = g.add_input([b, s])
        total = g.launch("sum", [x], [b, 1])
        n = g.add_constant(np.asarray(float(s), np.float32))
        g.output(g.launch("div", [total, g.view("expand", n, shape=[b, 1])], [b, 1]))
        return g

    symbols = Symbols(graph(2, 3), [graph(3, 3), graph(2, 4)], [("batch", [(0, 0)], 2), ("seq", [(0, 1)], 3)])
    proto = export(graph(2, 3), symbols=symbols, dims={("x0", 0): "batch", ("x0", 1): "seq"})
    for shape in [(2, 3), (4, 9)]:
        x = RNG.normal(size=shape).astype(np.float32)
        np.testing.assert_allclose(run(proto, x)[0], x.mean(1, keepdims=True), rtol=1e-5)


def test_constant_that_changes_beyond_a_count_is_refused():
    def graph(b):
        g = FakeGraph()
        x = g.add_input([b, 2])
        c = g.add_constant(np.arange(2 * b, dtype=np.float32).reshape(b, 2))
        g.output(g.launch("add", [x, c], [b, 2]))
        return g

    symbols = Symbols(graph(2), [graph(3)], [("batch", [(0, 0)], 2)])
    with pytest.raises(SymbolicValueError, match="only a one-element constant"):
        export(graph(2), symbols=symbols)


def layer_norm_graph(b, expose_mean=False):
    """F.layer_norm over the last dim as the tracer records it (mean as sum / n, rsqrt)."""
    g = FakeGraph()
    x = g.add_input([b, 3, 8])
    full = [b, 3, 8]

    def c(v):
        return g.view("expand", g.add_constant(np.asarray(v, np.float32)), shape=[b, 3, 1])

    mean = g.launch("div", [g.launch("sum", [x], [b, 3, 1]), c(8.0)], [b, 3, 1])
    d = g.launch("sub", [x, g.view("expand", mean, shape=full)], full)
    var = g.launch("div", [g.launch("sum", [g.launch("mul", [d, d], full)], [b, 3, 1]), c(8.0)], [b, 3, 1])
    r = g.launch("rsqrt", [g.launch("add", [var, c(1e-5)], [b, 3, 1])], [b, 3, 1])
    y = g.launch("mul", [d, g.view("expand", r, shape=full)], full)
    w = g.view("expand", g.add_state("ln.weight", LN_W), shape=full)
    y = g.launch("add", [g.launch("mul", [y, w], full), g.view("expand", g.add_state("ln.bias", LN_B), shape=full)],
                 full)
    g.output(y, mean) if expose_mean else g.output(y)
    return g


LN_W, LN_B = RNG.normal(size=8).astype(np.float32), RNG.normal(size=8).astype(np.float32)


def test_layer_norm_chain_becomes_layer_normalization():
    base = layer_norm_graph(2)
    symbols = Symbols(base, [layer_norm_graph(3)], [("batch", [(0, 0)], 2)])
    proto = export(base, symbols=symbols, dims={("x0", 0): "batch"})
    ops = [n.op_type for n in proto.graph.node]
    assert ops.count("LayerNormalization") == 1 and "ReduceSum" not in ops, ops
    x = RNG.normal(size=(5, 3, 8)).astype(np.float32)
    mu, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    np.testing.assert_allclose(run(proto, x)[0], (x - mu) / np.sqrt(var + 1e-5) * LN_W + LN_B, rtol=1e-4, atol=1e-5)
    # opset 13 has no LayerNormalization, and a chain whose mean is used elsewhere is left alone
    for proto in (export(layer_norm_graph(2), opset=13), export(layer_norm_graph(2, expose_mean=True), n_out=2)):
        assert "LayerNormalization" not in [n.op_type for n in proto.graph.node]
        np.testing.assert_allclose(run(proto, x[:2])[0], (x[:2] - mu[:2]) / np.sqrt(var[:2] + 1e-5) * LN_W + LN_B,
                                   rtol=1e-4, atol=1e-5)


def test_strided_views_that_follow_dynamic_axes():
    # y = -x [B, S, 6]; p = y viewed [S, B, 2, 3] (reshape then permute: strides follow both
    # axes); p + bias broadcast by a stride-0 view; the broadcast view also copied on its own
    bias = RNG.normal(size=3).astype(np.float32)

    def graph(b, s):
        g = FakeGraph()
        x = g.add_input([b, s, 6])
        y = g.launch("neg", [x], [b, s, 6])
        p = g.view("as_strided", y, size=[s, b, 2, 3], stride=[6, 6 * s, 3, 1], storage_offset=0)
        bv = g.view("as_strided", g.add_state("bias", bias), size=[s, b, 2, 3], stride=[0, 0, 0, 1], storage_offset=0)
        g.output(g.launch("add", [p, bv], [s, b, 2, 3]), g.launch("copy", [bv], [s, b, 2, 3]))
        return g

    symbols = Symbols(graph(2, 3), [graph(3, 3), graph(2, 4)], [("batch", [(0, 0)], 2), ("seq", [(0, 1)], 3)])
    proto = export(graph(2, 3), n_out=2, symbols=symbols, dims={("x0", 0): "batch", ("x0", 1): "seq"})
    ops = [n.op_type for n in proto.graph.node]
    assert "Gather" not in ops and "ScatterND" not in ops, ops
    for b, s in ((1, 5), (4, 2)):
        x = RNG.normal(size=(b, s, 6)).astype(np.float32)
        added, copied = run(proto, x)
        np.testing.assert_allclose(added, -x.reshape(b, s, 2, 3).transpose(1, 0, 2, 3) + bias, rtol=1e-6)
        np.testing.assert_allclose(copied, np.broadcast_to(bias, (s, b, 2, 3)))


def test_strided_view_whose_outer_dim_follows_the_batch():
    # y[:, 1, :2] of y [B, 3, 6]: the batch walks rows of 18; refused where the offset or the
    # rows do not follow the batch that way (y[1:, 0])
    def graph(b, sliced=False):
        g = FakeGraph()
        y = g.launch("neg", [g.add_input([b, 3, 6])], [b, 3, 6])
        size, offset = ([b - 1, 6], 18) if sliced else ([b, 2], 6)
        v = g.view("as_strided", y, size=size, stride=[18, 1], storage_offset=offset)
        g.output(g.launch("relu", [v], size))
        return g

    symbols = Symbols(graph(2), [graph(3)], [("batch", [(0, 0)], 2)])
    proto = export(graph(2), symbols=symbols, dims={("x0", 0): "batch"})
    for b in (1, 4):
        x = RNG.normal(size=(b, 3, 6)).astype(np.float32)
        np.testing.assert_allclose(run(proto, x)[0], np.maximum(-x[:, 1, :2], 0))
    with pytest.raises(SymbolicValueError, match="as_strided"):
        export(graph(2, True), symbols=Symbols(graph(2, True), [graph(3, True)], [("batch", [(0, 0)], 2)]))
