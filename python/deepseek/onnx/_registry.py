"""The import op table: ONNX op type -> a function built from deepseek's public ops.

Every entry takes ``(ins, attrs, ctx)``: the node's inputs as deepseek tensors (``None`` for an
omitted optional input), its attributes as Python values, and the run context (opset version,
device, how many outputs the node names). It returns one tensor or a tuple of them. Because the
entries only call public deepseek ops, autograd and every backend come with them.
"""
from __future__ import annotations

import numpy as np

from .._dtype import to_dtype

OPS: dict = {}


def register(*names):
    """Registers the decorated function as the import rule of each ONNX op type in ``names``."""
    def deco(fn):
        for n in names:
            OPS[n] = fn
        return fn
    return deco


class Context:
    """What an op rule may need beyond its inputs: the default-domain opset version, the
    device constants are made on, and the number of outputs the node asks for."""

    __slots__ = ("opset", "device", "n_outputs", "op_type", "name")

    def __init__(self, opset, device):
        self.opset = opset
        self.device = device
        self.n_outputs = 1
        self.op_type = ""
        self.name = ""

    def const(self, value, dtype=None):
        """A constant tensor (from a Python value or NumPy array) on the run's device."""
        t = _from_numpy(np.asarray(value))
        if dtype is not None:
            t = t.to(dtype)
        return t.to(self.device) if self.device is not None else t

    def fail(self, msg):
        """A RuntimeError naming the node: ONNX <op> node '<name>': msg."""
        return RuntimeError(f"ONNX {self.op_type} node '{self.name}': {msg}")


# ONNX TensorProto element types that deepseek has.
_ONNX_TO_DTYPE = {
    1: "float32", 2: "uint8", 3: "int8", 5: "int16", 6: "int32", 7: "int64", 9: "bool",
    10: "float16", 11: "float64", 16: "bfloat16",
}
_ONNX_TYPE_NAMES = {
    1: "FLOAT", 2: "UINT8", 3: "INT8", 4: "UINT16", 5: "INT16", 6: "INT32", 7: "INT64", 8: "STRING",
    9: "BOOL", 10: "FLOAT16", 11: "DOUBLE", 12: "UINT32", 13: "UINT64", 14: "COMPLEX64",
    15: "COMPLEX128", 16: "BFLOAT16",
}
DTYPE_TO_ONNX = {v: k for k, v in _ONNX_TO_DTYPE.items()}


def onnx_dtype(elem_type):
    """The deepseek dtype of an ONNX element type, or a TypeError naming the type."""
    name = _ONNX_TO_DTYPE.get(elem_type)
    if name is None:
        raise TypeError(
            f"ONNX element type {_ONNX_TYPE_NAMES.get(elem_type, elem_type)} has no deepseek dtype "
            f"(deepseek has {', '.join(_ONNX_TYPE_NAMES[k] for k in _ONNX_TO_DTYPE)})")
    return to_dtype(name)


def dtype_to_onnx(dtype):
    """The ONNX element type of a deepseek dtype."""
    return DTYPE_TO_ONNX[str(dtype).replace("deepseek.", "")]


_NUMPY_OK = {np.dtype(t) for t in (np.bool_, np.uint8, np.int8, np.int16, np.int32, np.int64,
                                    np.float16, np.float32, np.float64)}


def _from_numpy(arr):
    from .. import from_numpy

    arr = np.array(arr)  # a writable copy the tensor owns
    if arr.dtype.name == "bfloat16":
        return from_numpy(arr.astype(np.float32)).to(to_dtype("bfloat16"))
    if arr.dtype not in _NUMPY_OK:
        raise TypeError(f"an array of NumPy dtype {arr.dtype} has no deepseek dtype")
    return from_numpy(arr)


def tensor_from_proto(proto):
    """A deepseek tensor from an ONNX TensorProto (initializer or attribute)."""
    from onnx import numpy_helper

    if proto.data_type not in _ONNX_TO_DTYPE:
        onnx_dtype(proto.data_type)  # raises the named TypeError
    if proto.data_location == 1 and not proto.raw_data:  # external data not loaded
        raise ValueError(f"ONNX tensor '{proto.name}' keeps its data in an external file that was not loaded "
                         "(load the model from its path so the data beside it is found)")
    try:
        arr = numpy_helper.to_array(proto)
    except Exception as e:  # a size that does not match the shape, unreadable raw data
        raise ValueError(f"ONNX tensor '{proto.name}' cannot be read: {e}") from None
    t = _from_numpy(arr)
    want = onnx_dtype(proto.data_type)
    return t if t.dtype == want else t.to(want)


# ---- helpers shared by the op rules ----

def ints(t):
    """A 1-D (or 0-d) integer tensor as a list of Python ints (shape inputs, axes, pads ...)."""
    if t is None:
        return None
    return [int(v) for v in np.asarray(t.detach().cpu().numpy()).reshape(-1)]


def scalar(t):
    """A one-element tensor as a Python number."""
    return np.asarray(t.detach().cpu().numpy()).reshape(-1)[0].item()


def arg(ins, i):
    """Input ``i`` or None when the node omits it."""
    return ins[i] if i < len(ins) else None


def axes_arg(ins, attrs, i, ctx, since):
    """An axes list that moved from attribute to input ``i`` at opset ``since``."""
    if ctx.opset >= since:
        return ints(arg(ins, i))
    return attrs.get("axes")


def wrap(axis, rank):
    return axis + rank if axis < 0 else axis
