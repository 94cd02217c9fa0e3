"""ONNX import: every op of the import table run in deepseek and in onnxruntime (one-node models
built with onnx.helper), plus gradients through an imported model and the bad-input errors."""
from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import deepseek  # noqa: E402
import deepseek.onnx  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from onnx_cases import CASES  # noqa: E402

_NP_TO_ONNX = {np.dtype(k): v for k, v in {
    np.float32: TensorProto.FLOAT, np.float64: TensorProto.DOUBLE, np.int64: TensorProto.INT64,
    np.int32: TensorProto.INT32, np.bool_: TensorProto.BOOL}.items()}


def one_node_model(case, arrays):
    names = [f"i{k}" if a is not None else "" for k, a in enumerate(arrays)]
    inputs = [helper.make_tensor_value_info(n, _NP_TO_ONNX[a.dtype], a.shape)
              for n, a in zip(names, arrays) if a is not None]
    outs = [f"o{k}" for k in range(case.outputs)]
    attrs = {k: numpy_helper.from_array(v) if isinstance(v, np.ndarray) else v for k, v in case.attrs.items()}
    node = helper.make_node(case.op, names, outs, **attrs)
    graph = helper.make_graph([node], case.id, inputs, [helper.make_empty_tensor_value_info(o) for o in outs])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", case.opset)])


def run_both(case, arrays):
    model = one_node_model(case, arrays)
    feed = {f"i{k}": a for k, a in enumerate(arrays) if a is not None}
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    want = sess.run(None, feed)
    m = deepseek.onnx.to_module(model)
    got = m(*[deepseek.from_numpy(np.array(a)) for a in arrays if a is not None])
    got = got if isinstance(got, tuple) else (got,)
    return want, [g.detach().numpy() for g in got]


def assert_same(want, got, rtol, atol):
    assert len(want) == len(got)
    for w, g in zip(want, got):
        assert g.shape == w.shape, (g.shape, w.shape)
        assert g.dtype == w.dtype, (g.dtype, w.dtype)
        if w.dtype.kind == "f":
            np.testing.assert_allclose(g, w, rtol=rtol, atol=atol)
        else:
            np.testing.assert_array_equal(g, w)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_op_matches_onnxruntime_float32(case):
    arrays = case.arrays(seed=len(case.id))
    want, got = run_both(case, arrays)
    assert_same(want, got, rtol=2e-5, atol=2e-5)


F64_CASES = [c for c in CASES if c.f64 and any(callable(x) or x is not None and x.dtype == np.float32
                                                  for x in c.inputs)]


@pytest.mark.parametrize("case", F64_CASES, ids=[c.id for c in F64_CASES])
def test_op_matches_onnxruntime_float64(case):
    arrays = [a.astype(np.float64) if a is not None and a.dtype == np.float32 else a
              for a in case.arrays(seed=len(case.id) + 1)]
    want, got = run_both(case, arrays)
    assert_same(want, got, rtol=1e-10, atol=1e-12)
