"""deepseek.onnx.export of what the zoo's layers record along dynamic axes, one pattern per
test on real traces: transposed convolutions (a flipped kernel, the input spread out over a
filled buffer), reflect padding (host-made indices around positions), per-row lengths filled
with the frame count, a host-made mask broadcast to the batch, the first rows of a position
table, channel chunks of a [batch, channels, time] value, and strided convolutions whose
output length is a floor division of the input's. Each export runs in onnxruntime at sizes the
two traces did not see (odd and even, so an affine fit of a floor division would fail)."""
from __future__ import annotations

import io
import warnings

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import deepseek  # noqa: E402
import deepseek.onnx  # noqa: E402
from deepseek import nn  # noqa: E402
from deepseek.nn import functional as F  # noqa: E402

RNG = np.random.default_rng(11)


def _t(*shape):
    return deepseek.tensor(RNG.standard_normal(shape).astype(np.float32))


def _roundtrip(fn, example, axes, shapes, ops=()):
    """Exports ``fn`` at ``example`` (one input) with ``axes`` dynamic, then checks onnxruntime
    and deepseek.onnx.to_module against ``fn`` at each of ``shapes``; returns the op types."""
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        proto = deepseek.onnx.export(fn, (example,), buf, input_names=["x"], dynamic_axes={"x": axes})
    types = [n.op_type for n in proto.graph.node]
    for op in ops:
        assert op in types, (op, types)
    sess = ort.InferenceSession(buf.getvalue(), providers=["CPUExecutionProvider"])
    imported = deepseek.onnx.to_module(buf.getvalue())
    for shape in shapes:
        x = _t(*shape)
        with deepseek.no_grad():
            want = fn(x)
            back = imported(x)
        want, back = (want, back) if isinstance(want, tuple) else ((want,), (back,))
        got = sess.run(None, {"x": x.numpy()})
        for g, b, w in zip(got, back, want):
            w = w.numpy()
            assert g.shape == w.shape, (shape, g.shape, w.shape)
            np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5)
            np.testing.assert_allclose(b.numpy(), w, rtol=1e-4, atol=1e-5)
    return types


@pytest.mark.parametrize("stride, padding, output_padding", [(2, 0, 0), (2, 1, 1), (3, 1, 0)])
def test_transposed_convolution_follows_batch_and_image_size(stride, padding, output_padding):
    deepseek.manual_seed(0)
    up = nn.ConvTranspose2d(4, 3, 3, stride=stride, padding=padding, output_padding=output_padding).eval()
    types = _roundtrip(up, _t(2, 4, 5, 6), {0: "batch", 2: "h", 3: "w"}, [(2, 4, 5, 6), (3, 4, 8, 7), (1, 4, 2, 9)],
                       ops=["Conv"])
    assert "ScatterND" not in types  # the spread-out input is interleaved and padded, not scattered


def test_flip_follows_a_dynamic_axis():
    def fn(x):
        return deepseek.flip(x, [1, 2]) * 2.0

    types = _roundtrip(fn, _t(2, 5, 3), {0: "batch", 1: "seq"}, [(2, 5, 3), (3, 8, 3)])
    assert "Gather" not in types


@pytest.mark.parametrize("mode", ["reflect", "replicate"])
def test_reflect_and_replicate_padding_follow_the_padded_axis(mode):
    def fn(x):  # [batch, channels, time], padded along time
        return F.pad(x, (2, 3), mode=mode) + 1.0

    _roundtrip(fn, _t(2, 3, 6), {0: "batch", 2: "time"}, [(2, 3, 6), (3, 3, 9), (1, 3, 4)])


def test_lengths_filled_with_the_frame_count():
    def fn(x):  # [batch, time]: per-row lengths, then a padding mask from them
        lengths = deepseek.full((x.shape[0],), x.shape[1], dtype=deepseek.int64)
        keep = deepseek.arange(x.shape[1]).unsqueeze(0) < lengths.unsqueeze(1)
        return x * keep.to(x.dtype), lengths

    _roundtrip(fn, _t(2, 5), {0: "batch", 1: "time"}, [(2, 5), (4, 9), (1, 2)])


def test_host_made_mask_broadcast_to_the_batch():
    mask = np.where(RNG.random((3, 4)) < 0.5, -100.0, 0.0).astype(np.float32)

    def fn(x):  # [batch, 3, 4] + a mask made on the host, broadcast to the batch
        return (x + deepseek.tensor(mask).unsqueeze(0)).softmax(-1)

    _roundtrip(fn, _t(2, 3, 4), {0: "batch"}, [(2, 3, 4), (5, 3, 4)])


def test_first_rows_of_a_position_table():
    deepseek.manual_seed(0)
    table = nn.Embedding(16, 8)

    def fn(x):  # [batch, seq, 8] + the table's first seq rows
        return x + table.weight[: x.shape[1]]

    types = _roundtrip(fn, _t(2, 5, 8), {0: "batch", 1: "seq"}, [(2, 5, 8), (3, 11, 8), (1, 1, 8)])
    assert "Gather" not in types


def test_channel_chunks_of_a_value_whose_time_axis_is_dynamic():
    def fn(x):  # GLU over channels of [batch, channels, time]
        a, b = x.chunk(2, dim=1)
        return a * b.sigmoid()

    _roundtrip(fn, _t(2, 6, 5), {0: "batch", 2: "time"}, [(2, 6, 5), (3, 6, 8), (1, 6, 1)])


def test_strided_convolution_output_length_is_read_at_run_time():
    deepseek.manual_seed(0)
    conv = nn.Conv1d(3, 4, 5, stride=2, padding=1).eval()

    def fn(x):  # [batch, 3, time] -> [batch * time', 4]: the length is (time - 3) // 2 + 1
        y = conv(x)
        return y.transpose(1, 2).reshape(-1, 4)

    _roundtrip(fn, _t(2, 3, 12), {0: "batch", 2: "time"}, [(2, 3, 12), (3, 3, 13), (2, 3, 16), (1, 3, 21)])
