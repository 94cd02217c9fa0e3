"""A graph of one fused elementwise node, for testing a backend's generated kernels (ABI 2.1's
programs; ``deepseek.backends.kernels.fused``) without tracing: the node's program runs over
inputs of any shapes broadcast to one shape, on any device, as ``deepseek.jit.load`` would
build it.

Example::

    >>> from deepseek.testing.fused import elementwise_graph
    >>> g = elementwise_graph(["mul", "tanh"], [0, 1, 2, -1], [3], [(4, 5), (5,)], (4, 5), "float32", "cpu")
    >>> x, y = deepseek.randn(4, 5), deepseek.randn(5)
    >>> (out,) = g.run([x, y], [], 0, None)
"""
from __future__ import annotations

__all__ = ["elementwise_graph", "ITEMSIZE"]

ITEMSIZE = {"bool": 1, "uint8": 1, "int8": 1, "int16": 2, "int32": 4, "int64": 8, "float16": 2, "bfloat16": 2,
            "float32": 4, "float64": 8}


def _contiguous(shape):
    out, s = [], 1
    for n in reversed(shape):
        out.append(s)
        s *= max(n, 1)
    return list(reversed(out))


def _numel(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def elementwise_graph(ops, args, outputs, in_shapes, shape, dtype, device, transposed=()):
    """A ``deepseek._core.Graph`` holding one ``elementwise`` node.

    Args:
        ops, args, outputs: the node's program (docs/graphs.md, section 3).
        in_shapes: each input's shape; one that is not ``shape`` reaches the node through an
            ``expand`` view (broadcast, stride 0).
        shape: the node's shape (every output's, contiguous).
        dtype: every operand's dtype name.
        device: where every buffer lives (``"cpu"``, ``"opencl:0"`` ...).
        transposed: indices of 2-d inputs whose value is a transposed view of their buffer
            (pass those inputs as ``t.T`` of a contiguous transpose).

    Returns:
        The core graph: ``run(inputs, [], 0, None)`` runs it; ``attach_program`` compiles a
        rendering of the node (its index is ``len(g.nodes()) - 1``).
    """
    from deepseek import _core
    from deepseek.backends import ensure_device

    device = ensure_device(device)  # the backend's table registered with the core
    es = ITEMSIZE[dtype]
    buffers, values, nodes, inputs, node_ins = [], [], [], [], []
    for i, s in enumerate(in_shapes):
        s = list(s)
        buffers.append({"nbytes": _numel(s) * es, "device": device, "role": "input", "index": i})
        strides = _contiguous(s[::-1])[::-1] if i in transposed else _contiguous(s)
        values.append({"dtype": dtype, "shape": s, "strides": strides, "offset": 0, "buffer": i, "version": 0,
                       "alias_of": None})
        inputs.append(len(values) - 1)
        if s != list(shape):
            pad = len(shape) - len(s)
            bst = [0] * pad + [0 if d == 1 and shape[pad + k] != 1 else strides[k] for k, d in enumerate(s)]
            values.append({"dtype": dtype, "shape": list(shape), "strides": bst, "offset": 0, "buffer": i,
                           "version": 0, "alias_of": len(values) - 1})
            nodes.append({"kind": "view", "op": "expand", "attrs": {"shape": list(shape)}, "inputs": [len(values) - 2],
                          "outputs": [len(values) - 1], "mutates": []})
        node_ins.append(len(values) - 1)
    outs = []
    for _ in outputs:
        buffers.append({"nbytes": _numel(shape) * es, "device": device, "role": "internal", "index": None})
        values.append({"dtype": dtype, "shape": list(shape), "strides": _contiguous(shape), "offset": 0,
                       "buffer": len(buffers) - 1, "version": 1, "alias_of": None})
        outs.append(len(values) - 1)
    nodes.append({"kind": "elementwise", "op": "elementwise",
                  "attrs": {"ops": list(ops), "args": list(args), "outputs": list(outputs)},
                  "inputs": node_ins, "outputs": outs, "mutates": []})
    return _core.graph_from_parts(buffers, values, nodes, inputs, [], outs, [], [])
