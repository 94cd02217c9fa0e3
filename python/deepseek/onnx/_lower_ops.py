"""The export lowering table: each primitive op of the core's table (core-rs/ops/primitives.toml)
as standard ONNX ops. Operands follow the kernel contract (docs/backends.md): inputs are already
cast and broadcast to the output, reductions keep reduced dims as size 1."""
from __future__ import annotations

import math

import numpy as np

from ._lower import onnx_type

LAUNCH: dict = {}


def lowers(*names):
    def deco(fn):
        for n in names:
            LAUNCH[n] = fn
        return fn
    return deco


def _in(low, node, i=0):
    return low.name(node["inputs"][i])


def _val(low, node, i=0, out=False):
    return low.value(node["outputs" if out else "inputs"][i])


def _is_float(v):
    return v["dtype"] in ("float16", "bfloat16", "float32", "float64")


# ---- elementwise ----

_UNARY = {"neg": "Neg", "abs": "Abs", "sign": "Sign", "exp": "Exp", "log": "Log", "sqrt": "Sqrt",
          "sin": "Sin", "cos": "Cos", "tan": "Tan", "tanh": "Tanh", "sigmoid": "Sigmoid", "erf": "Erf",
          "floor": "Floor", "ceil": "Ceil", "round": "Round", "reciprocal": "Reciprocal", "relu": "Relu",
          "logical_not": "Not", "asin": "Asin", "acos": "Acos", "atan": "Atan", "sinh": "Sinh", "cosh": "Cosh"}

for _op, _onnx in _UNARY.items():
    LAUNCH[_op] = (lambda onnx_op: lambda low, node: low.emit(onnx_op, [_in(low, node)]))(_onnx)


@lowers("rsqrt")
def _rsqrt(low, node):
    return low.emit("Reciprocal", [low.emit("Sqrt", [_in(low, node)])])


@lowers("log1p", "expm1", "log2", "exp2", "erfc", "trunc")
def _unary_composed(low, node):
    x, v = _in(low, node), _val(low, node)
    one = low.scalar(1, v["dtype"])
    op = node["op"]
    if op == "log1p":
        return low.emit("Log", [low.emit("Add", [x, one])])
    if op == "expm1":
        return low.emit("Sub", [low.emit("Exp", [x]), one])
    if op == "log2":
        return low.emit("Div", [low.emit("Log", [x]), low.scalar(math.log(2.0), v["dtype"])])
    if op == "exp2":
        return low.emit("Pow", [low.scalar(2, v["dtype"]), x])
    if op == "erfc":
        return low.emit("Sub", [one, low.emit("Erf", [x])])
    # trunc: the magnitude floored, the sign kept
    return low.emit("Mul", [low.emit("Sign", [x]), low.emit("Floor", [low.emit("Abs", [x])])])


@lowers("bitwise_not")
def _bitwise_not(low, node):
    if _val(low, node)["dtype"] == "bool":
        return low.emit("Not", [_in(low, node)])
    return low.emit("BitwiseNot", [_in(low, node)])


_BINARY = {"add": "Add", "sub": "Sub", "mul": "Mul", "div": "Div", "pow": "Pow", "maximum": "Max",
           "minimum": "Min", "eq": "Equal", "lt": "Less", "le": "LessOrEqual", "gt": "Greater",
           "ge": "GreaterOrEqual", "logical_and": "And", "logical_or": "Or", "logical_xor": "Xor"}


def _operands(low, node):
    return [low.broadcast_operand(v) for v in node["inputs"]]


for _op, _onnx in _BINARY.items():
    LAUNCH[_op] = (lambda onnx_op: lambda low, node: low.emit(onnx_op, _operands(low, node)))(_onnx)


@lowers("ne")
def _ne(low, node):
    return low.emit("Not", [low.emit("Equal", _operands(low, node))])


@lowers("bitwise_and", "bitwise_or", "bitwise_xor")
def _bitwise(low, node):
    op = node["op"].split("_")[1]
    if _val(low, node)["dtype"] == "bool":
        return low.emit(op.capitalize(), _operands(low, node))
    return low.emit("Bitwise" + op.capitalize(), _operands(low, node))


@lowers("fmod")
def _fmod(low, node):
    return low.emit("Mod", _operands(low, node), fmod=1)


@lowers("remainder", "floor_divide")
def _floor_ops(low, node):
    a, b = _operands(low, node)
    v = _val(low, node, out=True)
    if _is_float(v):
        q = low.emit("Floor", [low.emit("Div", [a, b])])
        if node["op"] == "floor_divide":
            return q
        return low.emit("Sub", [a, low.emit("Mul", [q, b])])
    r = low.emit("Mod", [a, b], fmod=0)  # the divisor's sign, as remainder
    if node["op"] == "remainder":
        return r
    return low.emit("Div", [low.emit("Sub", [a, r]), b])  # exact: a - r is a multiple of b


@lowers("where")
def _where(low, node):
    return low.emit("Where", _operands(low, node))


@lowers("cast")
def _cast(low, node):
    return low.emit("Cast", [_in(low, node)], to=onnx_type(_val(low, node, out=True)["dtype"]))


@lowers("copy")
def _copy(low, node):
    return low.emit("Identity", [_in(low, node)])


@lowers("fill")
def _fill(low, node):
    out = _val(low, node, out=True)
    value = np.asarray(node["attrs"]["value"], dtype=_np_dtype(out["dtype"]))
    from onnx import numpy_helper

    if not out["shape"]:
        return low.emit("Identity", [low.const(value, "fill")])
    shape = low.shape_tensor(out["shape"], "out_shape")
    return low.emit("ConstantOfShape", [shape], value=numpy_helper.from_array(value.reshape(1)))


@lowers("arange")
def _arange(low, node):
    out = _val(low, node, out=True)
    a = node["attrs"]
    dt = _np_dtype(out["dtype"])
    (n,) = out["shape"]
    count = low.symbols.resolve(low.node_index, "out_shape", [n])[0] if low.symbols is not None else n
    if isinstance(count, int):
        return low.emit("Identity", [low.const((a["start"] + np.arange(n) * a["step"]).astype(dt), "arange")])
    return low.progression(a["start"], a["step"], count, out["dtype"])  # a length following an axis


def _np_dtype(name):
    from ._lower import _NP

    return _NP[name]


# ---- structure ----

@lowers("cat")
def _cat(low, node):
    return low.emit("Concat", [low.name(v) for v in node["inputs"]], axis=node["attrs"]["dim"])


@lowers("pad")
def _pad(low, node):
    pads = node["attrs"]["pads"]
    x = _val(low, node)
    pads = low.static_ints(pads, "attr:pads")
    onnx_pads = pads[0::2] + pads[1::2]
    return low.emit("Pad", [_in(low, node), low.i64(onnx_pads), low.scalar(node["attrs"]["value"], x["dtype"])],
                    mode="constant")


_REDUCE = {"sum": "ReduceSum", "prod": "ReduceProd", "amax": "ReduceMax", "amin": "ReduceMin"}


@lowers(*_REDUCE)
def _reduce(low, node):
    x, out = _val(low, node), _val(low, node, out=True)
    axes = [d for d, (i, o) in enumerate(zip(x["shape"], out["shape"])) if o == 1 and i != 1]
    if not axes:
        return low.emit("Identity", [_in(low, node)])
    op = _REDUCE[node["op"]]
    # axes became an input of ReduceSum at opset 13, of the others at 18
    if op == "ReduceSum" and low.opset >= 13 or low.opset >= 18:
        return low.emit(op, [_in(low, node), low.i64(axes)], keepdims=1)
    return low.emit(op, [_in(low, node)], axes=axes, keepdims=1)


@lowers("argmax", "argmin")
def _arg_reduce(low, node):
    return low.emit("ArgMax" if node["op"] == "argmax" else "ArgMin", [_in(low, node)],
                    axis=node["attrs"]["dim"], keepdims=1)


@lowers("cumsum")
def _cumsum(low, node):
    return low.emit("CumSum", [_in(low, node), low.i64(node["attrs"]["dim"])])


@lowers("matmul")
def _matmul(low, node):
    return low.emit("MatMul", [low.broadcast_operand(v, matrix=True) for v in node["inputs"]])


@lowers("conv2d")
def _conv2d(low, node):
    a = node["attrs"]
    return low.emit("Conv", [_in(low, node, 0), _in(low, node, 1)],
                    strides=[a["stride_h"], a["stride_w"]], pads=[a["pad_h"], a["pad_w"], a["pad_h"], a["pad_w"]],
                    dilations=[a["dilation_h"], a["dilation_w"]], group=a["groups"])


@lowers("max_pool2d")
def _max_pool2d(low, node):
    """The core's fused max pool (a "fused" node): its maxima as MaxPool. Its second output, the
    per-plane argmax indices, only feeds the backward; a graph that reads it is refused when the
    unnamed value is looked up."""
    a = node["attrs"]
    (ph, pw) = a["padding"]
    return low.emit("MaxPool", [_in(low, node)], kernel_shape=list(a["kernel"]), strides=list(a["stride"]),
                    pads=[ph, pw, ph, pw], dilations=list(a["dilation"]), ceil_mode=int(a["ceil_mode"]))


# ---- indexing ----

@lowers("gather")
def _gather(low, node):
    return low.emit("GatherElements", [_in(low, node, 0), _in(low, node, 1)], axis=node["attrs"]["dim"])


@lowers("scatter", "scatter_add")
def _scatter(low, node):
    kw = {"reduction": "add"} if node["op"] == "scatter_add" else {}
    return low.emit("ScatterElements", [_in(low, node, i) for i in range(3)], axis=node["attrs"]["dim"], **kw)


@lowers("index_select")
def _index_select(low, node):
    return low.emit("Gather", [_in(low, node, 0), _in(low, node, 1)], axis=node["attrs"]["dim"])


def _stacked_indices(low, node, first):
    """The index tensors i_1 ... i_k stacked on a new last axis (GatherND's index form)."""
    last = low.i64([-1])
    parts = [low.emit("Unsqueeze", [low.name(v), last]) for v in node["inputs"][first:]]
    return parts[0] if len(parts) == 1 else low.emit("Concat", parts, axis=-1)


@lowers("index")
def _index(low, node):
    return low.emit("GatherND", [_in(low, node, 0), _stacked_indices(low, node, 1)])


@lowers("index_put")
def _index_put(low, node):
    kw = {"reduction": "add"} if node["attrs"].get("accumulate") else {}
    return low.emit("ScatterND", [_in(low, node, 0), _stacked_indices(low, node, 2), _in(low, node, 1)], **kw)


@lowers("topk")
def _topk(low, node):
    a = node["attrs"]
    (k,) = low.static_ints([a["k"]], "attr:k")
    return low.emit("TopK", [_in(low, node), low.i64([k])], n_out=2, axis=a["dim"], largest=int(a["largest"]),
                    sorted=1)


@lowers("sort")
def _sort(low, node):
    a = node["attrs"]
    x = _val(low, node)
    n = low.static_ints(x["shape"], "in_shape", only=a["dim"])[a["dim"]]
    return low.emit("TopK", [_in(low, node), low.i64([n])], n_out=2, axis=a["dim"],
                    largest=int(a["descending"]), sorted=1)


# ---- the transformer composites' fused kernels ("fused" nodes; forward only) ----

def _static_dims(low, node, dims):
    x = _val(low, node)
    return [low.static_ints(x["shape"], "in_shape", only=d)[d] for d in dims]


@lowers("layer_norm")
def _layer_norm(low, node):
    """LayerNormalization (opset 17), with its Mean and InvStdDev outputs (the core's mean and
    rstd, shaped as x with the normalized dims as 1); composed from reductions before 17."""
    a, x = node["attrs"], _val(low, node)
    axis, rank = a["axis"], len(x["shape"])
    k = 1
    w = _in(low, node, k) if a["has_weight"] else None
    k += a["has_weight"]
    b = _in(low, node, k) if a["has_bias"] else None
    if low.opset >= 17:
        if w is None:
            w = low.const(np.ones(_static_dims(low, node, range(axis, rank)), dtype=_np_dtype(x["dtype"])), "ln_weight")
        return low.emit("LayerNormalization", [_in(low, node), w] + ([b] if b else []), n_out=3, axis=axis,
                        epsilon=float(a["eps"]))
    axes = list(range(axis, rank))
    mean = low.emit("ReduceMean", [_in(low, node)], axes=axes, keepdims=1)
    d = low.emit("Sub", [_in(low, node), mean])
    var = low.emit("ReduceMean", [low.emit("Mul", [d, d])], axes=axes, keepdims=1)
    rstd = low.emit("Reciprocal", [low.emit("Sqrt", [low.emit("Add", [var, low.scalar(a["eps"], x["dtype"])])])])
    y = low.emit("Mul", [d, rstd])
    if w is not None:
        y = low.emit("Mul", [y, w])
    if b is not None:
        y = low.emit("Add", [y, b])
    return [y, mean, rstd]


@lowers("softmax")
def _softmax(low, node):
    return low.emit("LogSoftmax" if node["attrs"]["log"] else "Softmax", [_in(low, node)], axis=-1)


@lowers("scaled_masked_softmax")
def _scaled_masked_softmax(low, node):
    """Mul by the scale, the mask as Where (boolean, True keeps) or Add, the causal mask as a
    constant lower triangle, then Softmax; with ``safe``, rows that kept nothing become zeros."""
    a, x = node["attrs"], _val(low, node)
    dt = x["dtype"]
    z = low.emit("Mul", [_in(low, node), low.scalar(a["scale"], dt)])
    neg_inf = low.scalar(-np.inf, dt)
    if a["has_mask"]:
        m = _in(low, node, 1)
        z = low.emit("Where", [m, z, neg_inf]) if a["bool_mask"] else low.emit("Add", [z, m])
    if a["causal"]:
        rank = len(x["shape"])
        L, S = _static_dims(low, node, [rank - 2, rank - 1])
        z = low.emit("Where", [low.const(np.tril(np.ones((L, S), dtype=bool)), "causal"), z, neg_inf])
    p = low.emit("Softmax", [z], axis=-1)
    if a["safe"] and a["has_mask"]:
        p = low.emit("Where", [low.emit("IsNaN", [p]), low.scalar(0, dt), p])
    return p


@lowers("bias_gelu")
def _bias_gelu(low, node):
    """Add (the bias) then Gelu (opset 20), or GELU's erf or tanh form from primitives."""
    a, x = node["attrs"], _val(low, node)
    dt = x["dtype"]
    z = low.emit("Add", [_in(low, node), _in(low, node, 1)]) if a["has_bias"] else _in(low, node)
    if low.opset >= 20:
        return low.emit("Gelu", [z], approximate="tanh" if a["tanh"] else "none")
    half = low.emit("Mul", [z, low.scalar(0.5, dt)])
    if a["tanh"]:
        cube = low.emit("Mul", [low.emit("Mul", [z, z]), z])
        inner = low.emit("Add", [z, low.emit("Mul", [cube, low.scalar(0.044715, dt)])])
        t = low.emit("Tanh", [low.emit("Mul", [inner, low.scalar(math.sqrt(2.0 / math.pi), dt)])])
    else:
        t = low.emit("Erf", [low.emit("Mul", [z, low.scalar(1.0 / math.sqrt(2.0), dt)])])
    return low.emit("Mul", [half, low.emit("Add", [t, low.scalar(1.0, dt)])])


del _op, _onnx


# ---- the CNN composites' fused kernels ----

@lowers("batch_norm_act")
def _batch_norm_act(low, node):
    """Eval-mode batch norm + residual + ReLU: BatchNormalization (ones and zeros for a missing
    weight and bias), then Add and Relu. Training mode (batch statistics) is not exported."""
    a, x = node["attrs"], _val(low, node)
    if a["training"]:
        from .errors import OnnxExporterError

        raise OnnxExporterError("batch_norm_act: training-mode batch norm is not exported; call model.eval() first")
    (c,) = _static_dims(low, node, [1])
    dt = _np_dtype(x["dtype"])
    k = 3
    w = _in(low, node, k) if a["has_weight"] else low.const(np.ones(c, dtype=dt), "bn_weight")
    k += a["has_weight"]
    b = _in(low, node, k) if a["has_bias"] else low.const(np.zeros(c, dtype=dt), "bn_bias")
    k += a["has_bias"]
    y = low.emit("BatchNormalization", [_in(low, node), w, b, _in(low, node, 1), _in(low, node, 2)],
                 epsilon=float(a["eps"]))
    if a["has_residual"]:
        y = low.emit("Add", [y, _in(low, node, k)])
    return low.emit("Relu", [y]) if a["relu"] else y
