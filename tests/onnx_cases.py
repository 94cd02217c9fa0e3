"""The import op table's test cases: one ONNX node each, with inputs, attributes and opset.

Used by tests/test_onnx_import.py, which builds a one-node model per case with ``onnx.helper``
and runs it in deepseek and in onnxruntime.
"""
from __future__ import annotations

import numpy as np

F32 = np.float32
I64 = np.int64


class Case:
    def __init__(self, op, inputs, attrs=None, opset=17, outputs=1, id=None, f64=True):
        self.op, self.inputs, self.attrs = op, inputs, attrs or {}
        self.opset, self.outputs = opset, outputs
        self.f64 = f64 and op not in NO_F64 and not (op == "Clip" and opset < 11)
        self.id = id or op

    def arrays(self, seed):
        """The case's inputs: callables draw from ``rng``, arrays are used as they are."""
        rng = np.random.default_rng(seed)
        return [x(rng) if callable(x) else x for x in self.inputs]


def r(*shape, lo=-2.0, hi=2.0):
    return lambda rng: rng.uniform(lo, hi, shape).astype(F32)


def pos(*shape):
    return r(*shape, lo=0.2, hi=3.0)


def ri(*shape, lo=-5, hi=6):
    return lambda rng: rng.integers(lo, hi, shape).astype(I64)


def rb(*shape):
    return lambda rng: rng.random(shape) < 0.5


def i64(*v):
    return np.asarray(v, dtype=I64)


def lstm_weights(dirs, hidden, inp, gates):
    return [r(dirs, gates * hidden, inp, lo=-0.5, hi=0.5), r(dirs, gates * hidden, hidden, lo=-0.5, hi=0.5),
            r(dirs, 2 * gates * hidden, lo=-0.5, hi=0.5)]


UNARY = ["Neg", "Abs", "Exp", "Relu", "Sigmoid", "Tanh", "Floor", "Ceil", "Sin", "Cos", "Sign",
         "Softsign", "Softplus", "HardSwish", "Identity", "Erf", "Round"]
BINARY = ["Add", "Sub", "Mul", "Div", "Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual"]

# onnxruntime's CPU kernels have no double version of these
NO_F64 = {"Softsign", "Softplus", "HardSwish", "Erf", "Mean", "Elu", "Selu", "Celu", "HardSigmoid",
          "ThresholdedRelu", "NonZero", "GlobalAveragePool", "GlobalMaxPool", "InstanceNormalization",
          "LSTM", "GRU", "RNN"}

CASES = (
    [Case(op, [r(2, 3, 4)]) for op in UNARY]
    + [Case("Sqrt", [pos(3, 4)]), Case("Log", [pos(3, 4)]), Case("Reciprocal", [pos(3, 4)]),
       Case("Not", [rb(3, 4)])]
    + [Case(op, [r(2, 3, 4), r(3, 1)], id=f"{op}-broadcast") for op in BINARY]
    + [Case("Equal", [ri(3, 4, lo=0, hi=3), ri(4, lo=0, hi=3)], id="Equal-int"),
       Case("Div", [ri(3, 4, lo=-9, hi=10), i64(2, -3, 4, 5)], id="Div-int-trunc"),
       Case("Pow", [pos(3, 4), r(4)]),
       Case("Mod", [ri(3, 4, lo=-9, hi=10), i64(2, -3, 4, 5)], id="Mod-int"),
       Case("Mod", [r(3, 4), pos(4)], {"fmod": 1}, id="Mod-fmod"),
       Case("And", [rb(3, 4), rb(4)]), Case("Or", [rb(3, 4), rb(3, 1)]), Case("Xor", [rb(3, 4), rb(4)]),
       Case("Max", [r(3, 4), r(4), r(3, 1)]), Case("Min", [r(3, 4), r(4), r(3, 1)]),
       Case("Sum", [r(3, 4), r(4), r(3, 1)]), Case("Mean", [r(3, 4), r(4), r(3, 1)]),
       Case("Where", [rb(3, 4), r(3, 4), r(4)]),
       Case("Clip", [r(3, 4), np.asarray(-0.5, F32), np.asarray(0.7, F32)]),
       Case("Clip", [r(3, 4), np.asarray(-0.5, F32)], id="Clip-min-only"),
       Case("Clip", [r(3, 4)], {"min": -0.5, "max": 0.5}, opset=7, id="Clip-opset7"),
       Case("Cast", [r(3, 4, lo=-9, hi=9)], {"to": 6}, id="Cast-int32"),
       Case("Cast", [r(3, 4)], {"to": 9}, id="Cast-bool"),
       Case("Cast", [ri(3, 4)], {"to": 1}, id="Cast-int-float"),
       Case("CastLike", [ri(3, 4), r(1)]),
       Case("LeakyRelu", [r(3, 4)], {"alpha": 0.2}), Case("Elu", [r(3, 4)], {"alpha": 0.7}),
       Case("Selu", [r(3, 4)]), Case("Celu", [r(3, 4)], {"alpha": 1.5}),
       Case("PRelu", [r(2, 3, 4), r(3, 1)]), Case("HardSigmoid", [r(3, 4)], {"alpha": 0.3, "beta": 0.4}),
       Case("ThresholdedRelu", [r(3, 4)], {"alpha": 0.5}),
       Case("Gelu", [r(3, 4)], opset=20, f64=False),
       Case("Gelu", [r(3, 4)], {"approximate": "tanh"}, opset=20, id="Gelu-tanh", f64=False),
       Case("Dropout", [r(3, 4)]),
       Case("Dropout", [r(3, 4)], outputs=2, id="Dropout-mask"),
       # shape and movement
       Case("Reshape", [r(2, 3, 4), i64(0, -1, 2)]),
       Case("Reshape", [r(2, 3, 4), i64(4, 6)], id="Reshape-plain"),
       Case("Flatten", [r(2, 3, 4)]), Case("Flatten", [r(2, 3, 4)], {"axis": 0}, id="Flatten-0"),
       Case("Flatten", [r(2, 3, 4)], {"axis": -1}, id="Flatten-neg"),
       Case("Transpose", [r(2, 3, 4)], {"perm": [1, 2, 0]}),
       Case("Transpose", [r(2, 3, 4)], id="Transpose-default"),
       Case("Squeeze", [r(2, 1, 4, 1), i64(1, -1)]),
       Case("Squeeze", [r(2, 1, 4, 1)], id="Squeeze-all"),
       Case("Squeeze", [r(2, 1, 4, 1)], {"axes": [1]}, opset=11, id="Squeeze-opset11"),
       Case("Unsqueeze", [r(2, 4), i64(0, -1)]),
       Case("Unsqueeze", [r(2, 4)], {"axes": [1]}, opset=11, id="Unsqueeze-opset11"),
       Case("Concat", [r(2, 3), r(2, 1), r(2, 0)], {"axis": 1}),
       Case("Split", [r(6, 4), i64(2, 4)], outputs=2),
       Case("Split", [r(6, 4)], {"axis": 0}, outputs=3, id="Split-equal"),
       Case("Split", [r(7, 4)], {"axis": 0, "num_outputs": 3}, opset=18, outputs=3, id="Split-num-outputs"),
       Case("Split", [r(6, 4)], {"axis": 1, "split": [1, 3]}, opset=11, outputs=2, id="Split-opset11"),
       Case("Slice", [r(5, 6, 7), i64(1, -1), i64(4, -5), i64(0, 2), i64(2, -2)]),
       Case("Slice", [r(5, 6), i64(-1), i64(-(2**63)), i64(1), i64(-1)], id="Slice-reverse-full"),
       Case("Slice", [r(5, 6), i64(0, 2), i64(100, 5)], id="Slice-clamped"),
       Case("Gather", [r(5, 4), i64(0, -1, 2)], {"axis": 1}),
       Case("Gather", [r(5, 4), np.asarray(3, I64)], id="Gather-scalar"),
       Case("Gather", [r(5, 4), i64(0, 2, 4, 1).reshape(2, 2)], id="Gather-2d"),
       Case("GatherElements", [r(3, 4), i64(0, 1, 3, -1, 2, 0, 1, 1, 3, 3, 0, 2).reshape(3, 4)], {"axis": 1}),
       Case("Expand", [r(3, 1), i64(2, 1, 4)]),
       Case("Tile", [r(2, 3), i64(2, 2)]),
       Case("Trilu", [r(4, 5), np.asarray(1, I64)]),
       Case("Trilu", [r(2, 4, 5)], {"upper": 0}, id="Trilu-lower"),
       Case("Pad", [r(2, 3, 4), i64(0, 1, 2, 0, 2, 1), np.asarray(1.5, F32)]),
       Case("Pad", [r(1, 2, 4, 5), i64(0, 0, 1, 2, 0, 0, 2, 1)], {"mode": "reflect"}, id="Pad-reflect"),
       Case("Pad", [r(1, 2, 4, 5), i64(0, 0, 1, 2, 0, 0, 2, 1)], {"mode": "edge"}, id="Pad-edge"),
       Case("Pad", [r(3, 4), i64(1, -1), None, i64(1)], opset=18, id="Pad-axes-negative"),
       Case("Einsum", [r(2, 3, 4), r(2, 4, 5)], {"equation": "bij,bjk->bik"}),
       Case("ConstantOfShape", [i64(2, 3)]),
       Case("ConstantOfShape", [i64(2, 3)], {"value": np.asarray([7], I64)}, id="ConstantOfShape-int"),
       Case("Constant", [], {"value": np.arange(6, dtype=F32).reshape(2, 3)}),
       Case("Constant", [], {"value_floats": [1.0, 2.5]}, id="Constant-floats"),
       Case("Constant", [], {"value_int": 3}, id="Constant-int"),
       Case("Shape", [r(2, 3, 4)], {"start": 1}),
       Case("Size", [r(2, 3, 4)]),
       Case("Range", [np.asarray(1.0, F32), np.asarray(4.0, F32), np.asarray(0.7, F32)]),
       Case("Range", [np.asarray(10, I64), np.asarray(1, I64), np.asarray(-3, I64)], id="Range-int"),
       Case("NonZero", [r(3, 4)]),
       Case("GatherND", [r(3, 4, 2), i64(0, 1, 2, -1, 1, 0).reshape(3, 2)]),
       Case("ScatterND", [r(3, 4), i64(0, 1, 2, 3).reshape(2, 2), r(2)]),
       Case("ScatterND", [r(3, 4), i64(1, 1).reshape(2, 1), r(2, 4)], {"reduction": "add"}, opset=18,
            id="ScatterND-add-repeated"),
       Case("ScatterElements", [r(3, 4), i64(0, 2, 1, 1, 0, 0).reshape(2, 3), r(2, 3)], {"axis": 0}),
       Case("ScatterElements", [r(3, 4), i64(3, 3, -1, 0, 1, 1).reshape(2, 3), r(2, 3)],
            {"axis": 1, "reduction": "add"}, opset=18, id="ScatterElements-add"),
       Case("DepthToSpace", [r(1, 8, 2, 3)], {"blocksize": 2}),
       Case("DepthToSpace", [r(1, 8, 2, 3)], {"blocksize": 2, "mode": "CRD"}, id="DepthToSpace-CRD"),
       Case("SpaceToDepth", [r(1, 2, 4, 6)], {"blocksize": 2}),
       Case("BitwiseAnd", [ri(3, 4, lo=0, hi=64), ri(4, lo=0, hi=64)], opset=18),
       Case("BitwiseNot", [ri(3, 4)], opset=18),
       # reductions, scans, selection
       Case("ReduceMean", [r(2, 3, 4), i64(0, 2)], opset=18),
       Case("ReduceMean", [r(2, 3, 4)], {"axes": [1], "keepdims": 0}, id="ReduceMean-opset17"),
       Case("ReduceSum", [r(2, 3, 4), i64(-1)]),
       Case("ReduceSum", [r(2, 3, 4)], {"keepdims": 0}, id="ReduceSum-all"),
       Case("ReduceSum", [r(2, 3, 4), np.zeros(0, I64)], {"noop_with_empty_axes": 1}, id="ReduceSum-noop"),
       Case("ReduceMax", [r(2, 3, 4)], {"axes": [1]}), Case("ReduceMin", [r(2, 3, 4)], {"axes": [0, 2]}),
       Case("ReduceProd", [r(2, 3, 4)], {"axes": [1, 2]}),
       Case("ReduceL2", [r(2, 3, 4)], {"axes": [2]}),
       Case("ReduceLogSumExp", [r(2, 3, 4)], {"axes": [1]}),
       Case("ReduceSumSquare", [r(2, 3, 4)], {"axes": [1]}),
       Case("ArgMax", [r(3, 5)], {"axis": 1, "keepdims": 0}),
       Case("ArgMax", [i64(1, 3, 3, 0, 2, 2).reshape(2, 3)], {"axis": 1, "select_last_index": 1},
            id="ArgMax-last"),
       Case("ArgMin", [r(3, 5)], {"axis": 0}),
       Case("TopK", [r(3, 6), i64(2)], {"axis": 1}, outputs=2),
       Case("TopK", [r(3, 6), i64(3)], {"axis": 0, "largest": 0}, outputs=2, id="TopK-smallest"),
       Case("CumSum", [r(3, 4), np.asarray(1, I64)]),
       Case("CumSum", [r(3, 4), np.asarray(0, I64)], {"exclusive": 1, "reverse": 1}, id="CumSum-excl-rev"),
       Case("Softmax", [r(2, 3, 4)], {"axis": 1}),
       Case("Softmax", [r(2, 3, 4)], opset=11, id="Softmax-opset11"),
       Case("LogSoftmax", [r(2, 3, 4)]),
       # matrix products, convolutions, pools, norms
       Case("MatMul", [r(2, 3, 4), r(4, 5)]), Case("MatMul", [r(4), r(2, 4, 3)], id="MatMul-vec"),
       Case("Gemm", [r(3, 4), r(5, 4), r(5)], {"transB": 1, "alpha": 0.5, "beta": 2.0}),
       Case("Gemm", [r(4, 3), r(4, 5)], {"transA": 1}, id="Gemm-transA"),
       Case("Conv", [r(2, 3, 7, 6), r(4, 3, 3, 3), r(4)], {"pads": [1, 1, 1, 1], "strides": [2, 1]}, f64=False),
       Case("Conv", [r(1, 4, 7, 6), r(4, 2, 3, 2)], {"pads": [0, 1, 2, 0], "group": 2, "dilations": [2, 1]},
            id="Conv-asym-group-dilated", f64=False),
       Case("Conv", [r(1, 2, 7, 6), r(3, 2, 3, 3)], {"auto_pad": "SAME_UPPER", "strides": [2, 2]},
            id="Conv-same-upper", f64=False),
       Case("Conv", [r(2, 3, 9), r(4, 3, 3), r(4)], {"pads": [2, 2]}, id="Conv-1d", f64=False),
       Case("Conv", [r(1, 2, 4, 5, 5), r(3, 2, 2, 3, 3)], {"strides": [1, 2, 2]}, id="Conv-3d", f64=False),
       Case("ConvTranspose", [r(1, 4, 5, 4), r(4, 3, 3, 3), r(3)],
            {"strides": [2, 2], "pads": [1, 1, 1, 1], "output_padding": [1, 0]}, f64=False),
       Case("ConvTranspose", [r(1, 4, 5, 4), r(4, 1, 3, 2)], {"group": 2, "pads": [0, 1, 1, 0]},
            id="ConvTranspose-asym-group", f64=False),
       Case("ConvTranspose", [r(1, 2, 5, 4), r(2, 3, 3, 3)], {"strides": [2, 2], "output_shape": [10, 8]},
            id="ConvTranspose-output-shape", f64=False),
       Case("ConvTranspose", [r(1, 2, 5, 4), r(2, 3, 3, 3)], {"strides": [2, 2], "auto_pad": "SAME_UPPER"},
            id="ConvTranspose-same-upper", f64=False),
       Case("ConvTranspose", [r(1, 2, 5, 4), r(2, 3, 3, 3)], {"strides": [2, 2], "auto_pad": "SAME_LOWER"},
            id="ConvTranspose-same-lower", f64=False),
       Case("ConvTranspose", [r(2, 3, 6), r(3, 2, 4), r(2)], {"strides": [3]}, id="ConvTranspose-1d", f64=False),
       Case("MaxPool", [r(2, 3, 7, 6)], {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]}),
       Case("MaxPool", [r(1, 2, 7, 6)], {"kernel_shape": [2, 2], "strides": [2, 2], "ceil_mode": 1},
            id="MaxPool-ceil"),
       Case("MaxPool", [r(2, 3, 6, 6)], {"kernel_shape": [2, 2], "strides": [2, 2]}, outputs=2,
            id="MaxPool-indices"),
       Case("MaxPool", [r(1, 2, 7, 6)], {"kernel_shape": [3, 2], "pads": [0, 1, 2, 0]}, id="MaxPool-asym"),
       Case("MaxPool", [r(2, 3, 9)], {"kernel_shape": [3], "strides": [2]}, id="MaxPool-1d"),
       Case("MaxPool", [r(1, 2, 4, 5, 5)], {"kernel_shape": [2, 2, 2]}, id="MaxPool-3d"),
       Case("AveragePool", [r(2, 3, 7, 6)], {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]},
            f64=False),
       Case("AveragePool", [r(2, 3, 7, 6)], {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1], "count_include_pad": 1},
            id="AveragePool-include-pad", f64=False),
       Case("AveragePool", [r(1, 2, 7, 6)], {"kernel_shape": [3, 2], "pads": [0, 1, 2, 0]},
            id="AveragePool-asym", f64=False),
       Case("GlobalAveragePool", [r(2, 3, 5, 4)]), Case("GlobalMaxPool", [r(2, 3, 5, 4)]),
       Case("BatchNormalization", [r(2, 3, 4, 5), r(3), r(3), r(3), pos(3)], {"epsilon": 1e-3}),
       Case("LayerNormalization", [r(2, 3, 8), r(8), r(8)]),
       Case("LayerNormalization", [r(2, 3, 4), r(3, 4)], {"axis": 1, "epsilon": 1e-3}, outputs=3,
            id="LayerNormalization-axis1-stats"),
       Case("Attention", [r(2, 3, 5, 4), r(2, 3, 6, 4), r(2, 3, 6, 4)], opset=23, f64=False),
       Case("Attention", [r(2, 3, 5, 4), r(2, 3, 6, 4), r(2, 3, 6, 4),
                          np.asarray([[[[True] * 6] * 5]], dtype=bool) & (np.arange(6) < 4)], {"scale": 0.3},
            opset=23, f64=False, id="Attention-bool-mask"),
       Case("Attention", [r(2, 3, 5, 4), r(2, 3, 5, 4), r(2, 3, 5, 4), r(5, 5)], {"is_causal": 1}, opset=23,
            f64=False, id="Attention-causal-additive"),
       Case("InstanceNormalization", [r(2, 3, 5, 4), r(3), r(3)]),
       Case("LpNormalization", [r(3, 4)], {"axis": 1}),
       Case("GroupNormalization", [r(2, 6, 3, 2), r(6), r(6)], {"num_groups": 3}, opset=21, f64=False),
       Case("GroupNormalization", [r(2, 6, 3, 2), r(2), r(2)], {"num_groups": 2}, opset=18,
            id="GroupNormalization-opset18", f64=False),
       Case("LRN", [r(2, 5, 3, 3)], {"size": 3, "alpha": 0.01, "beta": 0.75, "bias": 2.0}, f64=False),
       Case("Hardmax", [r(3, 5)], {"axis": 1}, f64=False),
       Case("Resize", [r(1, 2, 3, 4), None, np.asarray([1, 1, 2, 1.5], F32)], {"mode": "linear"}, f64=False),
       Case("Resize", [r(1, 2, 3, 4), None, None, i64(1, 2, 5, 7)],
            {"mode": "linear", "coordinate_transformation_mode": "align_corners"}, id="Resize-align-corners",
            f64=False),
       Case("Resize", [r(1, 2, 3, 4), None, np.asarray([1, 1, 2, 3], F32)],
            {"mode": "nearest", "coordinate_transformation_mode": "asymmetric", "nearest_mode": "floor"},
            id="Resize-nearest", f64=False),
       Case("Resize", [r(1, 2, 3, 4), None, None, i64(1, 2, 6, 5)], {"mode": "cubic"}, id="Resize-cubic", f64=False),
       Case("Resize", [r(1, 2, 5), None, np.asarray([1, 1, 1.6], F32)], {"mode": "linear"}, id="Resize-1d",
            f64=False),
       # recurrent
       Case("LSTM", [r(5, 2, 3)] + lstm_weights(1, 4, 3, 4) + [None, r(1, 2, 4), r(1, 2, 4)],
            {"hidden_size": 4}, outputs=3),
       Case("LSTM", [r(5, 2, 3)] + lstm_weights(2, 4, 3, 4), {"hidden_size": 4, "direction": "bidirectional"},
            outputs=3, id="LSTM-bidirectional"),
       Case("LSTM", [r(5, 2, 3)] + lstm_weights(1, 4, 3, 4) + [None, None, None, r(1, 12)],
            {"hidden_size": 4, "clip": 1.5}, outputs=2, id="LSTM-peephole-clip"),
       Case("LSTM", [r(5, 3, 3)] + lstm_weights(2, 4, 3, 4) + [np.asarray([5, 2, 3], np.int32)],
            {"hidden_size": 4, "direction": "bidirectional"}, outputs=3, id="LSTM-seq-lens"),
       Case("GRU", [r(5, 2, 3)] + lstm_weights(1, 4, 3, 3) + [None, r(1, 2, 4)], {"hidden_size": 4}, outputs=2),
       Case("GRU", [r(5, 3, 3)] + lstm_weights(2, 4, 3, 3) + [np.asarray([5, 1, 3], np.int32)],
            {"hidden_size": 4, "direction": "bidirectional", "linear_before_reset": 1}, outputs=2,
            id="GRU-bidirectional-lbr-seq-lens"),
       Case("RNN", [r(5, 2, 3)] + lstm_weights(1, 4, 3, 1), {"hidden_size": 4, "direction": "reverse"}, outputs=2),
       ]
)
