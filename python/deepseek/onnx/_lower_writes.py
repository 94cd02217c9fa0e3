"""Writes into parts of a buffer (how deepseek's cat, stack and pad build their results: each
piece copied into its place) as ONNX values.

Pieces that tile the buffer along one axis of its contiguous shape become one Concat, and a
box written over a filled buffer one Pad; neither needs a shape constant, so both follow
dynamic axes. Anything else is a ScatterND of each piece's elements into the buffer's flat
value at precomputed positions (static shapes only).
"""
from __future__ import annotations

import numpy as np

from .errors import OnnxExporterError, SymbolicValueError


def _np(dtype):
    from ._lower import _NP

    return _NP[dtype]


def _numel(low, v):
    return low.buffers[v["buffer"]]["nbytes"] // np.dtype(_np(v["dtype"])).itemsize


def partial_write(low, node, vid, data):
    """Records that launch ``node`` wrote ``data`` (dense, of value ``vid``'s shape) into the
    part of its buffer that ``vid`` lays out."""
    v = low.values[vid]
    prev = [m for m in node.get("mutates", []) if low.values[m]["buffer"] == v["buffer"]]
    prev_key = (v["buffer"], low.values[prev[0]]["version"]) if prev else None
    low.writes[(v["buffer"], v["version"])] = (prev_key, vid, data, low.node_index)


def _chain(low, key):
    """The pieces written to reach version ``key``, oldest first, or None when the history
    starts from earlier contents (a version not made by piece writes)."""
    pieces = []
    while key is not None:
        entry = low.writes.get(key)
        if entry is None:
            return None
        prev, vid, data, _ = entry
        pieces.append((vid, data))
        key = prev
    return pieces[::-1]


def _full_shape(strides, numel):
    """The contiguous shape whose strides are ``strides`` over ``numel`` elements, or None."""
    if not strides or strides[-1] != 1 or numel % strides[0]:
        return None
    shape = [numel // strides[0]]
    for a, b in zip(strides, strides[1:]):
        if b == 0 or a % b:
            return None
        shape.append(a // b)
    return shape


def _filled(low, key):
    """(fill value, index of the node that made it) when buffer version ``key`` was made whole
    by a ``fill`` (``zeros``) or a copy of a filled constant or buffer (``clone``); else None."""
    first = None
    while key in low.whole_writes:
        node = low.whole_writes[key]
        first = low.whole_write_index[key] if first is None else first
        if node["op"] == "fill":
            return node["attrs"]["value"], first
        if node["op"] != "copy":
            return None
        src = low.values[node["inputs"][0]]
        u = low.uniform_constant(src["id"])
        if u is not None:
            return u, first
        key = (src["buffer"], src["version"])
    return None


def _padded(low, key):
    """(Pad of the one piece written over a filled buffer, the buffer's shape) when version
    ``key`` is a ``fill`` of the whole buffer followed by one box written inside it (how F.pad
    builds its result), possibly every ``step``-th place along some dims (how a transposed
    convolution spreads its input out: interleaved with the fill value first); else None."""
    from ._lower import _contiguous_strides

    entry = low.writes.get(key)
    if entry is None or entry[0] is None or entry[0] in low.writes:
        return None
    filled = _filled(low, entry[0])
    if filled is None:
        return None
    value, k = filled
    vid, data = entry[1], entry[2]

    def layout(values, nodes):
        v = values[vid]
        full = list(values[nodes[k]["outputs"][0]]["shape"])
        if len(full) != len(v["shape"]):
            return None, None, None
        cs = _contiguous_strides(full)
        steps = [1 if s == 1 else (t // c if c and t % c == 0 and t > 0 else 0)
                 for s, t, c in zip(v["shape"], v["strides"], cs)]
        if 0 in steps:
            return None, None, None
        starts, rest = [], v["offset"]
        for c in cs:
            starts.append(rest // c if c else 0)
            rest = rest % c if c else rest
        ends = [f - b - (s - 1) * st - 1 for f, b, s, st in zip(full, starts, v["shape"], steps)]
        if min(ends, default=0) < 0 or any(s == 0 for s in v["shape"]):
            return None, None, None
        return starts + ends, steps, full

    p, steps, full = layout(low.values, low.g.nodes())
    if p is None:
        return None
    if low.symbols is not None and any(layout(vals, nodes)[:2] != (p, steps) for vals, nodes in
                                       zip(low.symbols.variant_values, low.symbols.variant_nodes)):
        return None
    v = low.values[vid]
    fill = low.scalar(value, v["dtype"])
    rank = len(full)
    for d, step in enumerate(steps):
        if step > 1:
            data = _interleave(low, data, d, step, rank, fill)
    if any(p):
        data = low.emit("Pad", [data, low.i64(p), fill], mode="constant")
    return data, full


def _interleave(low, x, d, step, rank, fill):
    """``x`` with ``step - 1`` fill values between its entries along dim ``d`` (no shape
    constant: the dim is moved last, padded as a new unit dim and merged into it)."""
    perm = [i for i in range(rank) if i != d] + [d]
    inv = [perm.index(i) for i in range(rank)]
    y = low.emit("Transpose", [x], perm=perm) if d != rank - 1 else x
    y = low.emit("Unsqueeze", [y, low.i64([rank])])
    y = low.emit("Pad", [y, low.i64([0] * (2 * rank + 1) + [step - 1]), fill], mode="constant")
    y = low.emit("Reshape", [y, low.i64([0] * (rank - 1) + [-1])])
    y = low.emit("Slice", [y, low.i64([0]), low.i64([1 - step]), low.i64([rank - 1])])
    return low.emit("Transpose", [y], perm=inv) if d != rank - 1 else y


def assembled(low, key):
    """(Concat of the pieces, the buffer's contiguous shape) when the pieces written to reach
    version ``key`` tile the buffer along one axis, or (Pad, shape) for a box written over a
    fill; else None."""
    cache = low.flat.get(("concat",) + key)
    if cache is not None:
        return cache
    padded = _padded(low, key)
    if padded is not None:
        low.flat[("concat",) + key] = padded
        return padded
    pieces = _chain(low, key)
    if not pieces:
        return None
    values = [low.values[vid] for vid, _ in pieces]
    numel = _numel(low, values[0])
    rank = len(values[0]["shape"])
    full = _full_shape(values[0]["strides"], numel)
    if full is None or any(len(v["shape"]) != rank or v["strides"] != values[0]["strides"] for v in values):
        return None
    axis, spans = None, []
    for v in values:
        starts, rest = [], v["offset"]
        for t in values[0]["strides"]:
            starts.append(rest // t)
            rest %= t
        cut = [d for d in range(rank) if v["shape"][d] != full[d] or starts[d] != 0]
        if len(cut) > 1 or (cut and axis is not None and cut[0] != axis):
            return None
        if cut:
            axis = cut[0]
        spans.append((starts[axis] if cut else 0, v["shape"][axis] if cut else full[0]))
    if axis is None:
        return None
    order = sorted(range(len(spans)), key=lambda i: spans[i][0])
    pos = 0
    for i in order:
        if spans[i][0] != pos:  # a gap or an overlap: not a tiling
            return None
        pos += spans[i][1]
    if pos != full[axis]:
        return None
    name = low.emit("Concat", [pieces[i][1] for i in order], axis=axis)
    low.flat[("concat",) + key] = (name, full)
    return name, full


def _covers(v, full):
    from ._lower import _contiguous_strides

    return v["offset"] == 0 and list(v["shape"]) == full and list(v["strides"]) == _contiguous_strides(full)


def read_written(low, v):
    """The ONNX value of ``v``, a value of a buffer version written in pieces."""
    key = (v["buffer"], v["version"])
    a = assembled(low, key)
    if a is not None and _covers(v, a[1]):
        return a[0]
    from ._lower_views import strided_from_flat

    flat, numel = buffer_flat(low, v)
    return strided_from_flat(low, flat, numel, v["shape"], v["strides"], v["offset"])


def read_whole(low, src, size, stride, offset):
    """A strided view of the whole written buffer of ``src`` as the Concat of its pieces, or None."""
    from ._lower import _contiguous_strides

    a = assembled(low, (src["buffer"], src["version"]))
    if a is None or offset != 0 or list(stride) != _contiguous_strides(size) \
            or int(np.prod(size)) != int(np.prod(a[1])):
        return None
    name, full = a
    if list(size) == full:
        return name
    return low.emit("Reshape", [name, low.shape_tensor(list(size), "attr:size")])


def buffer_flat(low, v):
    """(1-D ONNX value of value ``v``'s whole buffer at its version, buffer length)."""
    key = (v["buffer"], v["version"])
    if key in low.flat:
        return low.flat[key]
    numel = _numel(low, v)
    if key in low.writes:
        prev, vid, data, k = low.writes[key]
        w = low.values[vid]
        if low.symbols is not None and not low.symbols.layout_is_static(vid):
            raise SymbolicValueError(
                f"deepseek.onnx.export: node {k} writes into part of a tensor (shape {tuple(w['shape'])}, offset "
                f"{w['offset']}) whose layout changes with a dynamic axis and that is not a cat along one axis; "
                "export with static shapes")
        if prev is not None:
            flat, _ = buffer_flat(low, {"buffer": prev[0], "version": prev[1], "id": vid, "dtype": w["dtype"],
                                        **_first_value(low, prev)})
        else:  # the first write into a fresh buffer: what it does not cover is never read
            from onnx import numpy_helper

            flat = low.emit("ConstantOfShape", [low.i64([numel])],
                            value=numpy_helper.from_array(np.zeros(1, dtype=_np(w["dtype"]))))
        grids = np.meshgrid(*[np.arange(s) * t for s, t in zip(w["shape"], w["strides"])], indexing="ij")
        pos = (w["offset"] + sum(grids)) if grids else np.asarray(w["offset"])
        idx = low.const(np.asarray(pos, dtype=np.int64).reshape(-1, 1), "write_index")
        updates = low.emit("Reshape", [data, low.i64([-1])])
        low.flat[key] = (low.emit("ScatterND", [flat, idx, updates]), numel)
        return low.flat[key]
    if not low.covers_buffer(v):
        raise OnnxExporterError(
            f"deepseek.onnx.export: value %{v['id']} (shape {tuple(v['shape'])}, strides {tuple(v['strides'])}, "
            f"offset {v['offset']}) is part of a buffer whose other contents the graph does not show")
    return low.emit("Reshape", [low.name(v["id"]), low.i64([-1])]), numel


def _first_value(low, key):
    """The layout fields of a value of buffer version ``key`` (any one: the flat value is the
    same for all)."""
    for v in low.values:
        if (v["buffer"], v["version"]) == key:
            return {"shape": v["shape"], "strides": v["strides"], "offset": v["offset"], "id": v["id"]}
    raise OnnxExporterError(f"deepseek.onnx.export: buffer {key[0]} version {key[1]} has no value")
