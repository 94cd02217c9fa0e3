"""View nodes as ONNX ops: ``reshape`` -> Reshape, ``permute`` -> Transpose, ``expand`` -> Expand,
and a generic strided view (``as_strided``) from its layout.

A strided view whose dims, taken by decreasing stride, nest without overlapping (each stride a
multiple of the next, each dim's extent within the stride above it) is a chain of Slice,
Reshape, Transpose and Expand over the flattened buffer. Any other layout (overlapping windows,
as an unfold makes) reads its elements with one Gather of precomputed flat indices.

With dynamic axes the layout is compared with the variant traces'. Broadcast (stride 0) dims
are read at size 1 and expanded to a shape computed in the graph (or left to a broadcasting
consumer). A layout that follows an axis is either a permutation of its whole buffer (a
reshape then a permute: Reshape to a computed shape, then Transpose) or a view whose
outermost dim alone follows it (the buffer read as rows, each laid out as above); anything
else raises a SymbolicValueError naming the node.
"""
from __future__ import annotations

import numpy as np

from .errors import OnnxExporterError, SymbolicValueError


def lower_view(low, node):
    kind = node["op"]
    src = node["inputs"][0]
    a = node["attrs"]
    if kind == "reshape":
        return low.emit("Reshape", [low.name(src), low.shape_tensor(list(a["shape"]), "attr:shape", reshape=True)])
    if kind == "permute":
        return low.emit("Transpose", [low.name(src)], perm=list(a["dims"]))
    if kind == "expand":
        return low.emit("Expand", [low.name(src), low.shape_tensor(list(a["shape"]), "attr:shape")])
    if kind == "as_strided":
        return _as_strided(low, node)
    raise OnnxExporterError(f"deepseek.onnx.export: unknown view kind '{kind}' (node {low.node_index})")


def _as_strided(low, node, squeeze_broadcast=False):
    """A strided view. Broadcast dims (stride 0 in every trace) are read as size 1 and expanded
    afterwards, or left at 1 when ``squeeze_broadcast`` (the view feeds an op that broadcasts)."""
    a = node["attrs"]
    src = low.value(node["inputs"][0])
    if (src["buffer"], src["version"]) in low.writes and not squeeze_broadcast:
        from ._lower_writes import read_whole

        whole = read_whole(low, src, a["size"], a["stride"], a["storage_offset"])
        if whole is not None:
            return whole
    layouts = _layouts(low, node)
    size = layouts[0][0]
    bcast = [d for d in range(len(size)) if size[d] != 1 and all(lay[1][d] == 0 for lay in layouts)]
    core = [([1 if d in bcast else s for d, s in enumerate(sz)], st, off, n) for sz, st, off, n in layouts]
    y = _core_view(low, src, core, bcast)
    if bcast and not squeeze_broadcast:
        y = low.emit("Expand", [y, low.shape_tensor(list(a["size"]), "attr:size")])
    return y


def _layouts(low, node):
    """(size, stride, offset, buffer numel) of view ``node`` in the traced graph and in each
    variant traced with a dynamic axis one larger."""
    k = low.node_index
    graphs = [(low.values, low.buffers, node)]
    if low.symbols is not None:
        sym = low.symbols
        graphs += [(vals, bufs, nodes[k]) for vals, bufs, nodes in zip(sym.variant_values, sym.variant_buffers,
                                                                        sym.variant_nodes)]
    out = []
    for values, buffers, n in graphs:
        a = n["attrs"]
        v = values[n["inputs"][0]]
        itemsize = np.dtype(_np(v["dtype"])).itemsize
        # a size-1 dim's stride addresses nothing (and may follow an axis): taken as 0
        stride = [0 if s == 1 else t for s, t in zip(a["size"], a["stride"])]
        out.append((list(a["size"]), stride, a["storage_offset"], buffers[v["buffer"]]["nbytes"] // itemsize))
    return out


def _np(dtype):
    from ._lower import _NP

    return _NP[dtype]


def _core_view(low, src, layouts, bcast):
    size, stride, offset, _ = layouts[0]
    if all(lay[:3] == layouts[0][:3] for lay in layouts):  # the same layout in every trace
        flat, numel = low.buffer_flat(src)
        return strided_from_flat(low, flat, numel, size, stride, offset)
    neg = [d for d in range(len(size)) if all(lay[1][d] < 0 for lay in layouts)]
    if neg:
        # dims walked backwards (a flip) in every trace: the forward layout, then a step -1 Slice
        fwd = [(sz, [-t if d in neg else t for d, t in enumerate(st)],
                off + sum((sz[d] - 1) * st[d] for d in neg), n) for sz, st, off, n in layouts]
        y = _core_view(low, src, fwd, bcast)
        return low.emit("Slice", [y, low.i64([-1] * len(neg)), low.i64([np.iinfo(np.int64).min] * len(neg)),
                                  low.i64(neg), low.i64([-1] * len(neg))])
    entries, bad = low.resolve_lenient("attr:size", size, skip=bcast)
    entries = [1 if d in bcast else e for d, e in enumerate(entries)]
    order = _permutation(layouts)
    if bad and (order is None or len(bad) > 1):
        low.symbols.resolve(low.node_index, "attr:size", size, skip=bcast)  # raises, naming the node
    if order is not None:
        # a permutation of the whole buffer, read as a reshape of it: the shape in the graph
        # (one size that fits no expression left to ONNX as -1)
        flat, _ = low.buffer_flat(src)
        target = [entries[d] for d in order]
        y = low.emit("Reshape", [flat, low.shape_of(target) if bad else low.reshape_target(target)])
        real = sorted(order)
        perm = [order.index(d) for d in real]
        if perm != sorted(perm):
            y = low.emit("Transpose", [y], perm=perm)
        units = [d for d in range(len(size)) if d not in real]
        return low.emit("Unsqueeze", [y, low.i64(units)]) if units else y
    rows = _rows(layouts)
    if rows is not None:
        # the dims that follow the axes walk the buffer in rows; the others read inside each row
        # alike: the buffer reshaped to [*outer sizes (computed), row], each row laid out statically
        outer, row, first = rows
        inner = [d for d in range(len(size)) if d not in outer]
        flat, _ = low.buffer_flat(src)
        if first is not None:  # a block of whole rows: the buffer as rows, the block sliced out
            count = low.emit("ReduceProd", [low.shape_of([entries[d] for d in outer])], keepdims=1) \
                if low.opset < 18 else low.emit("ReduceProd", [low.shape_of([entries[d] for d in outer]),
                                                               low.i64([0])], keepdims=1)
            rows_ = low.emit("Reshape", [flat, low.i64([-1, row])])
            end = low.emit("Add", [count, low.i64([first])]) if first else count
            flat = low.emit("Slice", [rows_, low.i64([first]), end, low.i64([0])])
            offset -= first * row
        y = low.emit("Reshape", [flat, low.shape_of([entries[d] for d in outer] + [-1])])
        y = strided_from_flat(low, y, row, [size[d] for d in inner], [stride[d] for d in inner], offset,
                              lead=len(outer))
        at = outer + inner
        perm = [at.index(d) for d in range(len(size))]
        return low.emit("Transpose", [y], perm=perm) if perm != sorted(perm) else y
    sliced = _slice_of_source(low, src, layouts)
    if sliced is not None:
        return sliced
    raise SymbolicValueError(
        f"deepseek.onnx.export: view 'as_strided' (node {low.node_index}) has size={size}, stride={stride}, "
        f"offset={offset}, a layout that changes with a dynamic axis in a way this exporter cannot express "
        "(neither a permutation of its whole buffer nor rows of it walked by the dims that follow the axis); "
        "export with static shapes (no dynamic_axes)")


def _slice_of_source(low, src, layouts):
    """A Slice of the view's source value when, in every trace, the source is contiguous and
    of the view's rank and the view takes on each dim the same start and step (a chunk of the
    channels of a [batch, channels, time] value), reaching the dim's end wherever its length
    follows an axis; else None."""
    from ._lower import _contiguous_strides

    k = low.node_index
    srcs = [src] + ([vals[nodes[k]["inputs"][0]] for vals, nodes in zip(low.symbols.variant_values,
                                                                            low.symbols.variant_nodes)]
                    if low.symbols is not None else [])
    lead = len(layouts[0][0]) - len(srcs[0]["shape"])  # unit dims the view puts in front
    if lead < 0 or any(lay[0][d] != 1 for lay in layouts for d in range(lead)):
        return None
    fits = []
    for v, (size, stride, offset, _) in zip(srcs, layouts):
        shape, size, stride = list(v["shape"]), size[lead:], stride[lead:]
        if len(shape) != len(size) or list(v["strides"]) != _contiguous_strides(shape) or v["offset"] != 0:
            return None
        cs = _contiguous_strides(shape)
        starts, rest = [], offset
        for c in cs:
            starts.append(rest // c)
            rest %= c
        steps = [1 if n == 1 else (t // c if c and t > 0 and t % c == 0 else 0) for n, t, c in zip(size, stride, cs)]
        if rest or 0 in steps:
            return None
        ends = [b + (n - 1) * t + 1 for b, n, t in zip(starts, size, steps)]
        if any(e > f for e, f in zip(ends, shape)):
            return None
        fits.append((starts, steps, ends, [e == f for e, f in zip(ends, shape)], [f - e for e, f in zip(ends, shape)]))
    starts, steps, ends, to_end, short = fits[0]
    big = np.iinfo(np.int64).max
    out_ends = []
    for d in range(len(starts)):
        if any(f[0][d] != starts[d] or f[1][d] != steps[d] for f in fits):
            return None
        if all(f[2][d] == ends[d] for f in fits):
            out_ends.append(ends[d])
        elif all(f[3][d] for f in fits):
            out_ends.append(big)
        elif steps[d] == 1 and all(f[4][d] == short[d] for f in fits):
            out_ends.append(-short[d])  # the same distance before the dim's end (x[..., :-1])
        else:  # an end that follows an axis (the first n rows of a table)
            try:
                out_ends.append(low.symbols.fit(ends[d], [f[2][d] for f in fits[1:]], f"view node {k} end"))
            except SymbolicValueError:
                return None
    axes = [d for d in range(len(starts))
            if starts[d] != 0 or steps[d] != 1 or out_ends[d] not in (big, srcs[0]["shape"][d])]
    y = low.name(src["id"])
    if axes:
        y = low.emit("Slice", [y, low.i64([starts[d] for d in axes]), low.shape_of([out_ends[d] for d in axes]),
                               low.i64(axes), low.i64([steps[d] for d in axes])])
    return low.emit("Unsqueeze", [y, low.i64(list(range(lead)))]) if lead else y


def _permutation(layouts):
    """The dims (size > 1) by decreasing stride when in every trace they lay out the whole
    buffer contiguously from its start (a reshape then a permute); else None."""
    size = layouts[0][0]
    real = [d for d in range(len(size)) if any(lay[0][d] != 1 for lay in layouts)]
    order = sorted(real, key=lambda d: -layouts[0][1][d])
    for sz, st, off, numel in layouts:
        acc = 1
        for d in reversed(order):
            if st[d] != acc:
                return None
            acc *= sz[d]
        if off != 0 or acc != numel:
            return None
    return order


def _rows(layouts):
    """(the dims that change between traces, by decreasing stride, and the shortest row) when
    those dims are the outermost and, in every trace, walk the whole buffer contiguously in
    rows, the other dims reading the same places inside one row."""
    size, stride, offset, _ = layouts[0]
    n = len(size)
    varies = [d for d in range(n) if any(lay[0][d] != size[d] or lay[1][d] != stride[d] for lay in layouts)]
    real = [d for d in range(n) if size[d] > 1 and stride[d] > 0]
    if not varies or any(d not in real for d in varies) or any(t < 0 for t in stride) or offset < 0:
        return None
    order = sorted(real, key=lambda d: -stride[d])
    outer = order[:1 + max(order.index(d) for d in varies)]
    inner = [d for d in range(n) if d not in outer]
    rows, spans = [], []
    for sz, st, off, numel in layouts:
        if off != offset or any(sz[d] != size[d] or st[d] != stride[d] for d in inner):
            return None
        acc = st[outer[-1]]
        rows.append(acc)
        for d in reversed(outer):
            if st[d] != acc:
                return None
            acc *= sz[d]
        spans.append((acc, numel))
    row = min(rows)
    first = None
    if any(acc != numel for acc, numel in spans):
        # rows of a block of the buffer (the first n rows of a table, n following an axis): the
        # row length fixed, the block starting at the same whole row in every trace
        if len(set(rows)) > 1 or any(numel % row or (offset // row) * row + acc > numel for acc, numel in spans):
            return None
        first = offset // row
        offset -= first * row
    # the inner read stays inside the shortest row, also as the blocks it is sliced from
    inner_real = sorted([d for d in inner if size[d] > 1 and stride[d] > 0], key=lambda d: -stride[d])
    last = offset + sum((size[d] - 1) * stride[d] for d in inner)
    span = offset + (size[inner_real[0]] * stride[inner_real[0]] if inner_real else 1)
    if last >= row or (span > row and len(set(rows)) > 1):
        return None
    return outer, row, first


def strided_from_flat(low, flat, numel, size, stride, offset, lead=0):
    """ONNX ops reading the layout (size, stride, offset) out of ``flat``, a 1-D value of
    ``numel`` elements, or with ``lead=1`` out of each row of a 2-D one (the leading dim kept
    as it is, so it may follow a dynamic axis)."""
    n = len(size)
    keep0 = [0] * lead  # Reshape copies these dims from its input

    def sl(x, starts, ends, axes):
        return low.emit("Slice", [x, low.i64(starts), low.i64(ends), low.i64([lead + a for a in axes])])

    if any(s == 0 for s in size):
        return low.emit("Reshape", [sl(flat, [0], [0], [0]), low.i64(keep0 + size)])
    neg = [d for d in range(n) if stride[d] < 0 and size[d] > 1]
    if neg:
        # a dim walked backwards (a flip): read it forwards from its lowest address, then
        # reverse it with a step -1 Slice
        offset += sum((size[d] - 1) * stride[d] for d in neg)
        fwd = [-t if d in neg else t for d, t in enumerate(stride)]
        y = strided_from_flat(low, flat, numel, size, fwd, offset, lead)
        return low.emit("Slice", [y, low.i64([-1] * len(neg)), low.i64([np.iinfo(np.int64).min] * len(neg)),
                                  low.i64([lead + d for d in neg]), low.i64([-1] * len(neg))])
    stride = [0 if s == 1 else t for s, t in zip(size, stride)]
    last = offset + sum((s - 1) * t for s, t in zip(size, stride))
    if offset < 0 or last >= numel:
        raise OnnxExporterError(
            f"deepseek.onnx.export: strided view (size {size}, stride {stride}, offset {offset}) reads outside "
            f"its buffer of {numel} elements (node {low.node_index})")
    real = [d for d in range(n) if size[d] > 1 and stride[d] > 0]
    order = sorted(real, key=lambda d: -stride[d])
    nests = all(stride[p] % stride[q] == 0 and size[q] * stride[q] <= stride[p] for p, q in zip(order, order[1:]))
    if not nests:
        # overlapping windows: gather the elements by their flat positions
        grids = np.meshgrid(*[np.arange(s) * t for s, t in zip(size, stride)], indexing="ij")
        idx = offset + sum(grids) if grids else np.asarray(offset)
        return low.emit("Gather", [flat, low.const(np.asarray(idx, dtype=np.int64), "strided_index")], axis=lead)
    if not order:
        y = sl(flat, [offset], [offset + 1], [0])
    else:
        span = size[order[0]] * stride[order[0]]
        if offset + span > numel:  # the last block runs past the buffer: pad it (never read)
            flat = low.emit("Pad", [flat, low.i64([0] * (lead + 1) + [0] * lead + [offset + span - numel])])
        seg = sl(flat, [offset], [offset + span], [0])
        blocks = [size[order[0]]] + [stride[p] // stride[q] for p, q in zip(order, order[1:])] + [stride[order[-1]]]
        y = low.emit("Reshape", [seg, low.i64(keep0 + blocks)])
        keep = [size[d] for d in order[1:]] + [1]
        if any(k != b for k, b in zip(keep, blocks[1:])):
            axes = list(range(1, len(blocks)))
            y = sl(y, [0] * len(axes), keep, axes)
        y = low.emit("Reshape", [y, low.i64(keep0 + [size[d] for d in order])])
        perm = [order.index(d) for d in real]
        if perm != sorted(perm):
            y = low.emit("Transpose", [y], perm=list(range(lead)) + [lead + p for p in perm])
    # size-1 and broadcast (stride 0) dims come back as 1, then are expanded
    shaped = [size[d] if d in real else 1 for d in range(n)]
    y = low.emit("Reshape", [y, low.i64(keep0 + shaped)])
    if shaped != size:
        y = low.emit("Expand", [y, low.i64([1] * lead + size)])
    return y
