"""View nodes as ONNX ops: ``reshape`` -> Reshape, ``permute`` -> Transpose, ``expand`` -> Expand,
and a generic strided view (``as_strided``) from its layout.

A strided view whose dims, taken by decreasing stride, nest without overlapping (each stride a
multiple of the next, each dim's extent within the stride above it) is a chain of Slice,
Reshape, Transpose and Expand over the flattened buffer. Any other layout (overlapping windows,
as an unfold makes) reads its elements with one Gather of precomputed flat indices.
"""
from __future__ import annotations

import numpy as np

from .errors import OnnxExporterError


def lower_view(low, node):
    kind = node["op"]
    src = node["inputs"][0]
    a = node["attrs"]
    if kind == "reshape":
        return low.emit("Reshape", [low.name(src), low.shape_tensor(list(a["shape"]), "attr:shape")])
    if kind == "permute":
        return low.emit("Transpose", [low.name(src)], perm=list(a["dims"]))
    if kind == "expand":
        return low.emit("Expand", [low.name(src), low.shape_tensor(list(a["shape"]), "attr:shape")])
    if kind == "as_strided":
        return _as_strided(low, node)
    raise OnnxExporterError(f"deepseek.onnx.export: unknown view kind '{kind}' (node {low.node_index})")


def _as_strided(low, node):
    a = node["attrs"]
    src = low.value(node["inputs"][0])
    if (src["buffer"], src["version"]) in low.writes:
        from ._lower_writes import read_whole

        whole = read_whole(low, src, a["size"], a["stride"], a["storage_offset"])
        if whole is not None:
            return whole
    size = low.static_ints(a["size"], "attr:size")
    stride = low.static_ints(a["stride"], "attr:stride")
    (offset,) = low.static_ints([a["storage_offset"]], "attr:storage_offset")
    # the layout is relative to the buffer: read it from the buffer's flat value
    flat, numel = low.buffer_flat(src)
    return strided_from_flat(low, flat, numel, size, stride, offset)


def strided_from_flat(low, flat, numel, size, stride, offset):
    """ONNX ops reading the layout (size, stride, offset) out of the 1-D value ``flat``."""
    n = len(size)
    if any(s == 0 for s in size):
        return low.emit("Reshape", [low.emit("Slice", [flat, low.i64([0]), low.i64([0])]), low.i64(size)])
    last = offset + sum((s - 1) * t for s, t in zip(size, stride))
    if offset < 0 or last >= numel or any(t < 0 for t in stride):
        raise OnnxExporterError(
            f"deepseek.onnx.export: strided view (size {size}, stride {stride}, offset {offset}) reads outside "
            f"its buffer of {numel} elements or has negative strides (node {low.node_index})")
    real = [d for d in range(n) if size[d] > 1 and stride[d] > 0]
    order = sorted(real, key=lambda d: -stride[d])
    nests = all(stride[p] % stride[q] == 0 and size[q] * stride[q] <= stride[p] for p, q in zip(order, order[1:]))
    if not nests:
        # overlapping windows: gather the elements by their flat positions
        grids = np.meshgrid(*[np.arange(s) * t for s, t in zip(size, stride)], indexing="ij")
        idx = offset + sum(grids) if grids else np.asarray(offset)
        return low.emit("Gather", [flat, low.const(np.asarray(idx, dtype=np.int64), "strided_index")], axis=0)
    if not order:
        y = low.emit("Slice", [flat, low.i64([offset]), low.i64([offset + 1])])
    else:
        span = size[order[0]] * stride[order[0]]
        if offset + span > numel:  # the last block runs past the buffer: pad it (never read)
            flat = low.emit("Pad", [flat, low.i64([0, offset + span - numel])])
        seg = low.emit("Slice", [flat, low.i64([offset]), low.i64([offset + span])])
        blocks = [size[order[0]]] + [stride[p] // stride[q] for p, q in zip(order, order[1:])] + [stride[order[-1]]]
        y = low.emit("Reshape", [seg, low.i64(blocks)])
        keep = [size[d] for d in order[1:]] + [1]
        if any(k != b for k, b in zip(keep, blocks[1:])):
            axes = list(range(1, len(blocks)))
            y = low.emit("Slice", [y, low.i64([0] * len(axes)), low.i64(keep), low.i64(axes)])
        y = low.emit("Reshape", [y, low.i64([size[d] for d in order])])
        perm = [order.index(d) for d in real]
        if perm != sorted(perm):
            y = low.emit("Transpose", [y], perm=perm)
    # size-1 and broadcast (stride 0) dims come back as 1, then are expanded
    shaped = [size[d] if d in real else 1 for d in range(n)]
    y = low.emit("Reshape", [y, low.i64(shaped)])
    if shaped != size:
        y = low.emit("Expand", [y, low.i64(size)])
    return y
