"""Hand-written traced graphs in the format of deepseek.jit's Python view (docs/graphs.md section 2),
for testing the ONNX lowering before (and independently of) the tracer."""
from __future__ import annotations

import numpy as np

_ITEM = {"float32": 4, "float64": 8, "int64": 8, "int32": 4, "bool": 1}


def contiguous(shape):
    strides, acc = [], 1
    for d in reversed(shape):
        strides.append(acc)
        acc *= d
    return strides[::-1]


class FakeGraph:
    """Builds values and nodes as the tracer records them; answers the Graph view's methods."""

    def __init__(self):
        self._values, self._nodes, self._buffers = [], [], []
        self._inputs, self._outputs, self._tensors = [], [], {}

    # ---- building ----
    def _new(self, shape, dtype, role, name=None, strides=None, offset=0, buffer=None, alias_of=None):
        if buffer is None:
            n = int(np.prod(shape)) if shape else 1
            buffer = len(self._buffers)
            self._buffers.append({"nbytes": n * _ITEM[dtype], "device": "cpu", "role": role, "index": buffer})
        vid = len(self._values)
        self._values.append({"id": vid, "dtype": dtype, "shape": list(shape),
                             "strides": list(strides if strides is not None else contiguous(shape)),
                             "offset": offset, "buffer": buffer, "version": 0, "alias_of": alias_of,
                             "role": role, "name": name})
        return vid

    def add_input(self, shape, dtype="float32"):
        vid = self._new(shape, dtype, "input")
        self._inputs.append(vid)
        return vid

    def add_state(self, name, array):
        vid = self._new(array.shape, str(array.dtype), "state", name=name)
        self._tensors[vid] = np.asarray(array)
        return vid

    def add_constant(self, array):
        vid = self._new(array.shape, str(array.dtype), "constant")
        self._tensors[vid] = np.asarray(array)
        return vid

    def launch(self, op, inputs, shape, dtype="float32", n_out=1, out_dtypes=None, mutates=(), **attrs):
        outs = [self._new(shape, (out_dtypes or [dtype] * n_out)[k], "internal") for k in range(n_out)]
        self._nodes.append({"kind": "launch", "op": op, "attrs": attrs, "inputs": list(inputs),
                            "outputs": outs, "mutates": list(mutates)})
        return outs[0] if n_out == 1 else outs

    def view(self, op, src, **attrs):
        v = self._values[src]
        if op == "reshape":
            shape, strides, offset = attrs["shape"], contiguous(attrs["shape"]), v["offset"]
        elif op == "permute":
            shape = [v["shape"][d] for d in attrs["dims"]]
            strides, offset = [v["strides"][d] for d in attrs["dims"]], v["offset"]
        elif op == "expand":
            shape = attrs["shape"]
            pad = len(shape) - len(v["shape"])
            old = [1] * pad + v["shape"]
            ostr = [0] * pad + v["strides"]
            strides = [0 if o == 1 and s != 1 else st for o, s, st in zip(old, shape, ostr)]
            offset = v["offset"]
        else:  # as_strided
            shape, strides, offset = attrs["size"], attrs["stride"], attrs["storage_offset"]
        out = self._new(shape, v["dtype"], v["role"], strides=strides, offset=offset, buffer=v["buffer"],
                        alias_of=src)
        self._nodes.append({"kind": "view", "op": op, "attrs": attrs, "inputs": [src], "outputs": [out],
                            "mutates": []})
        return out

    def output(self, *vids):
        self._outputs.extend(vids)

    # ---- the Graph view ----
    def values(self):
        return self._values

    def nodes(self):
        return self._nodes

    def inputs(self):
        return self._inputs

    def outputs(self):
        return self._outputs

    def buffers(self):
        return self._buffers

    def state(self, vid):
        return self._tensors[vid]

    def constant(self, vid):
        return self._tensors[vid]
