"""Composite recognition over the lowered ONNX nodes: a chain of primitives that is exactly a
composite ONNX has an op for becomes that op.

LayerNormalization (opset 17): deepseek's ``layer_norm`` records as
``mean = ReduceSum(x) / n; d = x - mean; var = ReduceSum(d * d) / n;
y = d * Reciprocal(Sqrt(var + eps))`` then optionally ``* weight`` and ``+ bias``, over the
trailing dims. Gelu (opset 20): ``x * 0.5 * (1 + erf(x * 0.70710678))``, GELU's erf form.
A chain is replaced only when every intermediate value is used inside the chain alone (and is
no graph output), so the rewrite never changes another consumer.
"""
from __future__ import annotations

import numpy as np


class _Index:
    def __init__(self, nodes, outputs):
        self.producer = {o: n for n in nodes for o in n.output}
        self.consumers = {}
        for n in nodes:
            for i in dict.fromkeys(n.input):  # a node reading a value twice counts once
                self.consumers.setdefault(i, []).append(n)
        self.outputs = set(outputs)

    def only_user(self, name, op):
        """The single consumer of ``name`` when it is an ``op`` node (and ``name`` is no output)."""
        users = self.consumers.get(name, [])
        if len(users) != 1 or users[0].op_type != op or name in self.outputs:
            return None
        return users[0]


def _other(node, name):
    """The input of a binary node that is not ``name`` (None if both or neither are)."""
    a, b = node.input
    if a == name and b != name:
        return b
    if b == name and a != name:
        return a
    return None


def _scalar(low, name):
    arr = low.inits.get(name)
    if arr is None or arr.size != 1:
        return None
    return float(arr.reshape(-1)[0])


def _axes(low, node):
    if len(node.input) > 1:
        arr = low.inits.get(node.input[1])
        return None if arr is None else [int(a) for a in arr.reshape(-1)]
    for a in node.attribute:
        if a.name == "axes":
            return list(a.ints)
    return None


def fuse_layer_norm(low, shapes, outputs):
    """Rewrites ``low.nodes`` in place; ``shapes`` maps ONNX names to static shapes where known."""
    if low.opset < 17:
        return 0
    from onnx import helper

    idx = _Index(low.nodes, outputs)
    fused = 0
    for r1 in [n for n in low.nodes if n.op_type == "ReduceSum"]:
        m = _match(low, idx, r1, shapes)
        if m is None:
            continue
        chain, x, weight, bias, axis, eps, out = m
        ln = helper.make_node("LayerNormalization", [x, weight] + ([bias] if bias else []), [out],
                              name=f"LayerNormalization_{fused}", axis=axis, epsilon=eps)
        # the fused node takes the place of the chain's last node: everything it reads is made before
        ids = {id(n) for n in chain}
        last = max(k for k, n in enumerate(low.nodes) if id(n) in ids)
        low.nodes[:] = [ln if k == last else n for k, n in enumerate(low.nodes) if k == last or id(n) not in ids]
        fused += 1
        idx = _Index(low.nodes, outputs)
    return fused


def _match(low, idx, r1, shapes):
    x = r1.input[0]
    shape = shapes.get(x)
    axes = _axes(low, r1)
    if shape is None or axes is None:
        return None
    rank = len(shape)
    axes = sorted(a % rank for a in axes)
    if axes != list(range(rank - len(axes), rank)) or any(shape[a] is None for a in axes):
        return None
    count = int(np.prod([shape[a] for a in axes]))
    d1 = idx.only_user(r1.output[0], "Div")
    if d1 is None or d1.input[0] != r1.output[0] or _scalar(low, d1.input[1]) != count:
        return None
    sub = idx.only_user(d1.output[0], "Sub")
    if sub is None or list(sub.input) != [x, d1.output[0]]:
        return None
    d = sub.output[0]
    users = idx.consumers.get(d, [])
    if len(users) != 2 or d in idx.outputs:
        return None
    sq = next((u for u in users if u.op_type == "Mul" and list(u.input) == [d, d]), None)
    scale = next((u for u in users if u is not sq and u.op_type == "Mul"), None)
    if sq is None or scale is None:
        return None
    r2 = idx.only_user(sq.output[0], "ReduceSum")
    if r2 is None or _axes(low, r2) is None or sorted(a % rank for a in _axes(low, r2)) != axes:
        return None
    d2 = idx.only_user(r2.output[0], "Div")
    if d2 is None or d2.input[0] != r2.output[0] or _scalar(low, d2.input[1]) != count:
        return None
    add = idx.only_user(d2.output[0], "Add")
    eps = _scalar(low, _other(add, d2.output[0])) if add is not None else None
    if eps is None:
        return None
    sqrt = idx.only_user(add.output[0], "Sqrt")
    rec = idx.only_user(sqrt.output[0], "Reciprocal") if sqrt is not None else None
    if rec is None or idx.only_user(rec.output[0], "Mul") is not scale or _other(scale, rec.output[0]) != d:
        return None
    chain = [r1, d1, sub, sq, r2, d2, add, sqrt, rec, scale]
    out, weight, bias = scale.output[0], None, None
    norm_shape = [shape[a] for a in axes]
    mw = idx.only_user(out, "Mul")
    if mw is not None and _init_shape(low, _other(mw, out)) == norm_shape:
        weight, out = _other(mw, out), mw.output[0]
        chain.append(mw)
        ab = idx.only_user(out, "Add")
        if ab is not None and _init_shape(low, _other(ab, out)) == norm_shape:
            bias, out = _other(ab, out), ab.output[0]
            chain.append(ab)
    if weight is None:
        weight = low.const(np.ones(norm_shape, dtype=low.inits.get(d1.input[1]).dtype), "ln_weight")
    return chain, x, weight, bias, axes[0], eps, out


def _init_shape(low, name):
    arr = low.inits.get(name) if name else None
    return None if arr is None else list(arr.shape)


def _mul_by(low, idx, name, value):
    """(the other operand) when ``name`` is made by a Mul with the scalar ``value``, else None."""
    node = idx.producer.get(name)
    if node is None or node.op_type != "Mul":
        return None
    for a, b in (node.input, node.input[::-1]):
        c = _scalar(low, b)
        if c is not None and abs(c - value) < 1e-6:
            return a
    return None


def fuse_gelu(low, outputs):
    """GELU's erf form ``x * 0.5 * (1 + erf(x / sqrt(2)))`` becomes one Gelu (opset 20 and up)."""
    if low.opset < 20:
        return 0
    from onnx import helper

    fused = 0
    idx = _Index(low.nodes, outputs)
    for erf in [n for n in low.nodes if n.op_type == "Erf"]:
        x = _mul_by(low, idx, erf.input[0], 0.7071067811865476)
        add = idx.only_user(erf.output[0], "Add")
        if x is None or add is None or _scalar(low, _other(add, erf.output[0])) != 1.0:
            continue
        mul = idx.only_user(add.output[0], "Mul")
        half = _other(mul, add.output[0]) if mul is not None else None
        if half is None or _mul_by(low, idx, half, 0.5) != x or idx.only_user(half, "Mul") is not mul:
            continue
        scale = idx.producer[erf.input[0]]
        if idx.only_user(erf.input[0], "Erf") is not erf:
            continue
        chain = [idx.producer[half], scale, erf, add, mul]
        gelu = helper.make_node("Gelu", [x], [mul.output[0]], name=f"Gelu_{fused}")
        ids = {id(n) for n in chain}
        last = max(k for k, n in enumerate(low.nodes) if id(n) in ids)
        low.nodes[:] = [gelu if k == last else n for k, n in enumerate(low.nodes) if k == last or id(n) not in ids]
        fused += 1
        idx = _Index(low.nodes, outputs)
    return fused
