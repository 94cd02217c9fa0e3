"""Property tests of the ONNX import against onnxruntime: broadcasting binary ops over drawn
shapes (0-size dims included), reductions over drawn axes, and Slice over drawn bounds."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import deepseek  # noqa: E402
import deepseek.onnx  # noqa: E402
from onnx import TensorProto, helper  # noqa: E402

_TYPES = {np.dtype(np.float32): TensorProto.FLOAT, np.dtype(np.float64): TensorProto.DOUBLE,
          np.dtype(np.int64): TensorProto.INT64}


def compare(op, arrays, n_out=1, opset=18, **attrs):
    names = [f"i{k}" for k in range(len(arrays))]
    node = helper.make_node(op, names, [f"o{k}" for k in range(n_out)], **attrs)
    graph = helper.make_graph([node], "p", [helper.make_tensor_value_info(n, _TYPES[a.dtype], a.shape)
                                            for n, a in zip(names, arrays)],
                              [helper.make_empty_tensor_value_info(f"o{k}") for k in range(n_out)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    want = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(
        None, dict(zip(names, arrays)))
    got = deepseek.onnx.to_module(model)(*[deepseek.from_numpy(a.copy()) for a in arrays])
    got = got if isinstance(got, tuple) else (got,)
    for w, g in zip(want, got):
        g = g.detach().numpy()
        assert g.shape == w.shape and g.dtype == w.dtype, (op, g.shape, w.shape, g.dtype, w.dtype)
        np.testing.assert_allclose(g, w, rtol=1e-12 if w.dtype == np.float64 else 1e-5, atol=1e-12)


@st.composite
def broadcast_pair(draw):
    rank = draw(st.integers(0, 3))
    a = draw(st.lists(st.integers(0, 3), min_size=rank, max_size=rank))
    # b: a suffix of a's dims, each kept or set to 1; a's dims may in turn be 1 where b's are not
    k = draw(st.integers(0, rank))
    b = [d if draw(st.booleans()) else 1 for d in a[rank - k:]]
    if draw(st.booleans()):
        a, b = b, a
    return tuple(a), tuple(b)


@settings(max_examples=40)
@given(shapes=broadcast_pair(), op=st.sampled_from(["Add", "Sub", "Mul", "Div", "Max", "Min", "Less", "Equal"]),
       dtype=st.sampled_from([np.float32, np.float64]), seed=st.integers(0, 2**16))
def test_broadcasting_binary_ops(shapes, op, dtype, seed):
    rng = np.random.default_rng(seed)
    a, b = (np.asarray(rng.uniform(0.5, 2.0, s) * rng.choice([-1, 1], s), dtype=dtype) for s in shapes)
    compare(op, [a, b])


@settings(max_examples=40)
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=4),
       op=st.sampled_from(["ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceL2", "ReduceLogSumExp"]),
       data=st.data(), keepdims=st.sampled_from([0, 1]), seed=st.integers(0, 2**16))
def test_reductions_over_drawn_axes(shape, op, data, keepdims, seed):
    rank = len(shape)
    axes = data.draw(st.lists(st.integers(-rank, rank - 1), unique_by=lambda a: a % rank, max_size=rank))
    x = np.asarray(np.random.default_rng(seed).normal(size=shape))
    extra = [np.asarray(axes, np.int64)] if axes else []
    compare(op, [x] + extra, keepdims=keepdims)


@settings(max_examples=40)
@given(shape=st.lists(st.integers(0, 5), min_size=1, max_size=3), data=st.data())
def test_slice_over_drawn_bounds(shape, data):
    rank = len(shape)
    axes = data.draw(st.lists(st.integers(0, rank - 1), unique=True, min_size=1, max_size=rank))
    starts = [data.draw(st.integers(-7, 7)) for _ in axes]
    ends = [data.draw(st.integers(-7, 7)) for _ in axes]
    steps = [data.draw(st.sampled_from([-3, -2, -1, 1, 2, 3])) for _ in axes]
    x = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape)
    compare("Slice", [x] + [np.asarray(v, np.int64) for v in (starts, ends, axes, steps)])
