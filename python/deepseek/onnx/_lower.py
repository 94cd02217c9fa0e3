"""Lowering a traced graph (``deepseek.jit``'s Python view, docs/graphs.md) to ONNX nodes.

``Lowering`` walks the graph's nodes in order. Launch nodes go through the table of
``_lower_ops``; view nodes are emitted lazily, when a consumer first needs them, so that an
``expand`` feeding a broadcasting ONNX op (Add, Where, MatMul ...) is left out and ONNX's own
broadcasting does the work: this keeps batch-dependent shape constants out of the model.
Parameters and buffers become initializers named after their state names.
"""
from __future__ import annotations

import numpy as np

from .errors import OnnxExporterError, SymbolicValueError, UnsupportedOperatorError
from ._registry import DTYPE_TO_ONNX

_NP = {"float32": np.float32, "float64": np.float64, "float16": np.float16, "int64": np.int64,
       "int32": np.int32, "int16": np.int16, "int8": np.int8, "uint8": np.uint8, "bool": np.bool_}


def onnx_type(dtype_name):
    try:
        return DTYPE_TO_ONNX[dtype_name]
    except KeyError:
        raise OnnxExporterError(f"dtype {dtype_name} has no ONNX type") from None


def _contiguous_strides(shape):
    strides, acc = [], 1
    for d in reversed(shape):
        strides.append(acc)
        acc *= d
    return strides[::-1]


class Lowering:
    """Builds the ONNX node list, initializers and names for one traced graph."""

    def __init__(self, graph, *, opset, symbols=None):
        from onnx import helper

        self.helper = helper
        self.g = graph
        self.values = graph.values()
        self.opset = opset
        self.symbols = symbols  # a _symbolic.Symbols, or None for a static export
        self.nodes = []
        self.inits = {}  # name -> NumPy array
        self.names = {}  # vid -> ONNX name (emitted values)
        self.views = {}  # vid -> (index, view node) that makes it (emitted on first use)
        # buffers written in parts (deepseek's cat and stack copy each piece into its place):
        # (buffer, version) -> (previous version's key or None, value id, data name), and the
        # flat (1-D) ONNX value of each version once built
        self.writes = {}
        self.flat = {}
        self.whole_writes = {}  # (buffer, version) -> the launch that wrote all of it
        self.whole_write_index = {}  # (buffer, version) -> that launch's node index
        self.const_cache = {}
        self.squeezed = {}  # vid of a broadcasting strided view -> its value with those dims at 1
        self.node_index = -1  # the graph node being lowered (for symbolic shape look-ups)
        self._counter = 0
        self.buffers = graph.buffers()
        # results of calls cut out of the trace (``_cuts``) -> their cut
        self.cut_of = {vid: c for c in getattr(graph, "cuts", ()) for vid in c.out_vids}

    # ---- names and emission ----
    def fresh(self, hint="t"):
        self._counter += 1
        return f"/{hint}_{self._counter}"

    def emit(self, op, inputs, n_out=1, outputs=None, **attrs):
        """Appends one ONNX node; returns its output name (or names when ``n_out > 1``)."""
        outs = outputs or [self.fresh(op) for _ in range(n_out)]
        self.nodes.append(self.helper.make_node(op, list(inputs), outs, name=f"{op}_{len(self.nodes)}", **attrs))
        return outs[0] if n_out == 1 else outs

    def const(self, array, hint="const"):
        """An initializer holding ``array`` (deduplicated by value)."""
        arr = np.asarray(array)
        key = (arr.dtype.str, arr.shape, arr.tobytes())
        name = self.const_cache.get(key)
        if name is None:
            name = self.fresh(hint)
            self.inits[name] = arr
            self.const_cache[key] = name
        return name

    def i64(self, values):
        return self.const(np.asarray(values, dtype=np.int64), "ints")

    def scalar(self, value, dtype_name):
        return self.const(np.asarray(value, dtype=_NP[dtype_name]), "scalar")

    def value(self, vid):
        return self.values[vid]

    def name(self, vid):
        """The ONNX name holding value ``vid``, emitting its view chain on first use."""
        n = self.names.get(vid)
        if n is not None:
            return n
        v = self.values[vid]
        if vid in self.cut_of:  # a result of a call cut out of the trace: written as its ONNX op
            from ._lower_attention import lower_attention
            from ._lower_rnn import lower_rnn

            cut = self.cut_of.pop(vid)
            (lower_rnn if cut.kind == "rnn" else lower_attention)(self, cut)
            return self.names[vid]
        if vid in self.views:
            from ._lower_views import lower_view

            # shape look-ups must see the view's own node, not the consumer's
            outer, (self.node_index, node) = self.node_index, self.views[vid]
            try:
                n = lower_view(self, node)
            finally:
                self.node_index = outer
        elif (v["buffer"], v["version"]) in self.writes:
            from ._lower_writes import read_written

            n = read_written(self, v)
        elif v["role"] in ("state", "constant"):
            n = self._initializer(v)
        else:
            raise OnnxExporterError(f"value %{vid} is read before any node makes it")
        self.names[vid] = n
        return n

    def covers_buffer(self, v):
        """Whether value dict ``v`` is its whole buffer, contiguous from the start."""
        numel = int(np.prod(v["shape"])) if v["shape"] else 1
        itemsize = np.dtype(_NP.get(v["dtype"], np.float32)).itemsize
        return (v["offset"] == 0 and list(v["strides"]) == _contiguous_strides(v["shape"])
                and numel * itemsize == self.buffers[v["buffer"]]["nbytes"])

    def buffer_flat(self, v):
        """(1-D ONNX value of value ``v``'s whole buffer at its version, buffer length)."""
        from ._lower_writes import buffer_flat

        return buffer_flat(self, v)

    def uniform_constant(self, vid):
        """The single value a constant ``vid`` repeats in every element (in every trace), else
        None: the tracer records ``x * 2.0`` with the 2.0 filled out to x's shape."""
        v = self.values[vid]
        if v["role"] != "constant" or not v["shape"] or vid in self.views:
            return None
        graphs = [self.g] + (list(self.symbols.variants) if self.symbols is not None else [])
        firsts = set()
        for g in graphs:
            t = g.constant(vid)
            a = np.asarray(t.detach().cpu().numpy() if hasattr(t, "detach") else t)
            if a.size == 0 or not np.all(a == a.reshape(-1)[0]):
                return None
            firsts.add(a.reshape(-1)[0].item())
        return firsts.pop() if len(firsts) == 1 else None

    def broadcast_operand(self, vid, matrix=False):
        """The name to feed a broadcasting ONNX op for ``vid``: an ``expand`` view is skipped
        and a strided view's broadcast (stride 0) dims are left at size 1 (ONNX broadcasts the
        same way), so no shape constant is needed for them; a constant that repeats one value
        is that value as a scalar. ``matrix``: the operand of a MatMul, whose last two dims do
        not broadcast."""
        return self._reduced_operand(vid, matrix)[0]

    def broadcast_operands(self, node, matrix=False):
        """The names to feed a broadcasting ONNX op for ``node``'s inputs (as
        ``broadcast_operand``), unless the reduced operands no longer broadcast to the node's
        output shape (a filled constant that alone carried the batch dim, beside an expanded
        weight): then each input is given at its full shape."""
        pairs = [self._reduced_operand(v, matrix) for v in node["inputs"]]
        out = list(self.values[node["outputs"][0]]["shape"])
        shapes = [list(s) for _, s in pairs]
        if matrix:
            out, shapes = out[:-2], [s[:-2] for s in shapes]
        try:
            covered = list(np.broadcast_shapes(*[tuple(s) for s in shapes])) == out
        except ValueError:
            covered = False
        if covered:
            return [n for n, _ in pairs]
        return [self.name(v) for v in node["inputs"]]

    def _reduced_operand(self, vid, matrix=False):
        """(name, shape of that ONNX value) of ``broadcast_operand``."""
        shape = list(self.values[vid]["shape"])
        u = self.uniform_constant(vid)
        if u is not None and vid not in self.names and not matrix:
            return self.scalar(u, self.values[vid]["dtype"]), []
        if self.symbols is not None and self.values[vid]["role"] == "constant" and vid not in self.names \
                and vid not in self.views:
            from ._symbolic import Broadcast

            d = self.symbols.constant(vid)
            if isinstance(d, Broadcast) and not (matrix and list(d.array.shape[-2:]) != shape[-2:]):
                # a fixed constant broadcast along dims that follow an axis: ONNX broadcasts it
                small = np.asarray(d.array, dtype=_NP[self.values[vid]["dtype"]])
                return self.const(small, "const"), list(small.shape)
        k, node = self.views.get(vid, (None, None))
        if node is not None and vid not in self.names:
            if node["op"] == "expand":
                src = node["inputs"][0]
                small = self.values[src]["shape"]
                if _broadcastable(small, shape) and not (matrix and list(small[-2:]) != list(shape[-2:])):
                    return self._reduced_operand(src, matrix)
            elif node["op"] == "as_strided" and not matrix and any(
                    t == 0 and s != 1 for s, t in zip(node["attrs"]["size"], node["attrs"]["stride"])):
                from ._lower_views import _as_strided, _layouts

                outer, self.node_index = self.node_index, k
                try:
                    if vid not in self.squeezed:
                        self.squeezed[vid] = _as_strided(self, node, squeeze_broadcast=True)
                    layouts = _layouts(self, node)
                finally:
                    self.node_index = outer
                kept = [1 if s != 1 and all(lay[1][d] == 0 for lay in layouts) else s for d, s in enumerate(shape)]
                return self.squeezed[vid], kept
        return self.name(vid), shape

    def _initializer(self, v):
        u = self.uniform_constant(v["id"]) if self.symbols is not None else None
        if u is not None:  # a filled constant whose shape may follow a dynamic axis
            from onnx import numpy_helper

            entries = self.symbols.value_shape(v["id"])
            parts = [self.symbols.emit_dim(self, e) if not isinstance(e, int) else self.i64([e]) for e in entries]
            shape = self.emit("Concat", parts, axis=0) if len(parts) > 1 else parts[0]
            return self.emit("ConstantOfShape", [shape], value=numpy_helper.from_array(
                np.asarray([u], dtype=_NP[v["dtype"]])))
        if v["role"] == "constant" and self.symbols is not None:
            from ._symbolic import Broadcast, Filled, Pieces

            d = self.symbols.constant(v["id"])
            if isinstance(d, (Filled, Broadcast)):
                if isinstance(d, Filled):  # one count everywhere: computed, then spread
                    small = self.emit("Cast", [self.symbols.emit_dim(self, d.value)], to=onnx_type(v["dtype"]))
                else:  # a fixed constant broadcast along the dims that follow an axis
                    small = self.const(np.asarray(d.array, dtype=_NP[v["dtype"]]), "const")
                if not v["shape"]:
                    return self.emit("Reshape", [small, self.i64([])])
                return self.emit("Expand", [small, self.shape_of(self.symbols.value_shape(v["id"]))])
            if isinstance(d, Pieces):  # pad indices around positions along an axis
                parts = [self.const(np.asarray(d.prefix, dtype=np.int64), "ints")] if len(d.prefix) else []
                parts.append(self.progression(d.start, d.step, d.length, "int64"))
                parts += [self.symbols.emit_dim(self, e) if not isinstance(e, int) else self.i64([e]) for e in d.suffix]
                y = self.emit("Concat", parts, axis=0) if len(parts) > 1 else parts[0]
                return y if v["dtype"] == "int64" else self.emit("Cast", [y], to=onnx_type(v["dtype"]))
            if hasattr(d, "step"):  # positions along a dynamic axis
                return self.progression(d.start, d.step, d.length, v["dtype"])
            if d is not None:  # a count that follows a dynamic axis: computed from the input shapes
                dim = self.symbols.emit_dim(self, d)
                scalar = self.emit("Reshape", [dim, self.i64(v["shape"] or [])]) if v["shape"] != [1] else dim
                return self.emit("Cast", [scalar], to=onnx_type(v["dtype"]))
        arr = self._state_array(v) if v["role"] == "state" else _as_array(self.g.constant(v["id"]))
        if v["role"] == "state" and v.get("name") and v["name"] not in self.inits:
            name = v["name"]
        else:
            name = self.fresh("state" if v["role"] == "state" else "const")
        if arr.dtype.name == "bfloat16":
            raise OnnxExporterError(f"bfloat16 initializer '{name}' cannot be written; cast the model first")
        self.inits[name] = arr
        return name

    def _state_array(self, v):
        state_tensor = getattr(self.g, "_state_tensor", None)
        if state_tensor is None:  # a graph offering only the documented view
            return _as_array(self.g.state(v["id"]))
        # Graph.state's view, without listing every value again for each look-up
        base = state_tensor(self.buffers[v["buffer"]]["index"])
        try:
            return _as_array(base.as_strided(v["shape"], v["strides"], v["offset"]))
        except AttributeError:
            # Tensor.as_strided is not in every build: take the layout out of the data instead
            base = _as_array(base).reshape(-1)
            item = base.dtype.itemsize
            return np.lib.stride_tricks.as_strided(base[v["offset"]:], v["shape"],
                                                   [t * item for t in v["strides"]]).copy()

    def progression(self, start, step, length, dtype_name):
        """A 1-D ONNX value ``start + step * i`` for i below ``length`` (a ``Dim``): Range."""
        n = self.emit("Squeeze", [self.symbols.emit_dim(self, length), self.i64([0])])
        y = self.emit("Range", [self.i64(0), n, self.i64(1)])
        if dtype_name != "int64":
            y = self.emit("Cast", [y], to=onnx_type(dtype_name))
        if step != 1:
            y = self.emit("Mul", [y, self.scalar(step, dtype_name)])
        return self.emit("Add", [y, self.scalar(start, dtype_name)]) if start != 0 else y

    # ---- shapes ----
    def shape_tensor(self, shape, what, reshape=False):
        """An int64 1-D ONNX value for ``shape`` taken from the current node's attribute ``what``:
        a constant, or Shape-based arithmetic where it depends on a dynamic axis. ``reshape``:
        the shape of a Reshape, where one entry fitted only as an affine function of the axes
        (which may really be a strided convolution's floor division) is left to ONNX (-1)."""
        if self.symbols is None:
            return self.i64(shape)
        if not reshape:
            return self.shape_of(self.symbols.resolve(self.node_index, what, shape))
        # a Reshape: one entry that fits no expression (a stride's floor division times the
        # batch) is left to ONNX as -1; the others must fit
        entries, bad = self.resolve_lenient(what, shape)
        if len(bad) > 1:
            self.symbols.resolve(self.node_index, what, shape)  # raises, naming the node
        return self.shape_of(entries) if bad else self.reshape_target(entries)

    def resolve_lenient(self, what, values, skip=()):
        """(entries, indices of those that fit no expression: -1 there) of the current node's
        quantity ``what``, each entry resolved on its own."""
        entries, bad = [], []
        for i in range(len(values)):
            if i in skip:
                entries.append(values[i])
                continue
            try:
                others = [j for j in range(len(values)) if j != i]
                entries.append(self.symbols.resolve(self.node_index, what, values, skip=others)[i])
            except SymbolicValueError:
                entries.append(-1)
                bad.append(i)
        return entries, bad

    def reshape_target(self, entries):
        """``shape_of(entries)`` for the shape input of a Reshape: one entry fitted only as an
        affine function of the axes (which may really be a strided convolution's floor
        division) is left to ONNX as -1."""
        from ._symbolic import Dim

        entries = list(entries)
        affine = [i for i, e in enumerate(entries) if isinstance(e, Dim) and not e.prod]
        if len(affine) == 1 and -1 not in entries:
            entries[affine[0]] = -1
        return self.shape_of(entries)

    def shape_of(self, entries):
        """An int64 1-D ONNX value of ``entries`` (ints and ``_symbolic.Dim`` fits)."""
        if all(isinstance(e, int) for e in entries):
            return self.i64(entries)
        parts = [self.symbols.emit_dim(self, e) if not isinstance(e, int) else self.i64([e]) for e in entries]
        return self.emit("Concat", parts, axis=0)

    def static_ints(self, values, what, only=None):
        """``values`` (the current node's quantity ``what``: ``attr:NAME``, ``out_shape`` or
        ``in_shape``) when none of them varies with a dynamic axis; otherwise a
        SymbolicValueError naming the node."""
        values = list(values)
        if self.symbols is not None:
            skip = [i for i in range(len(values)) if i != only] if only is not None else ()
            entries = self.symbols.resolve(self.node_index, what, values, skip=skip)
            if only is not None:
                entries = [entries[only]]
            if not all(isinstance(e, int) for e in entries):
                node = self.g.nodes()[self.node_index]
                raise SymbolicValueError(
                    f"deepseek.onnx.export: {node['kind']} '{node['op']}' (node {self.node_index}) has "
                    f"{what.replace('attr:', '')}={values}, which changes with a dynamic axis in a way this "
                    "exporter cannot express; export with static shapes (no dynamic_axes)")
        return values


def _as_array(t):
    return np.array(t.detach().cpu().numpy() if hasattr(t, "detach") else t)


def _broadcastable(small, big):
    if len(small) > len(big):
        return False
    return all(s == b or s == 1 for s, b in zip(reversed(small), reversed(big)))


def lower_graph(graph, *, input_names, output_names, opset, symbols=None, dynamic_dims=None,
                graph_name="main_graph"):
    """(nodes, initializers {name: array}, graph inputs, graph outputs) for ``graph``."""
    from onnx import helper

    from ._lower_ops import LAUNCH

    low = Lowering(graph, opset=opset, symbols=symbols)
    if symbols is not None:
        symbols.ready = low.names
    values = low.values
    inputs = graph.inputs()
    for i, vid in enumerate(inputs):
        low.names[vid] = input_names[i]
    unsupported = {}
    nodes = graph.nodes()
    for k, node in enumerate(nodes):
        if node["kind"] == "launch" and node["op"] not in LAUNCH:
            unsupported.setdefault(node["op"], 0)
            unsupported[node["op"]] += 1
    if unsupported:
        listed = ", ".join(f"{op} (x{n})" if n > 1 else op for op, n in sorted(unsupported.items()))
        raise UnsupportedOperatorError(
            f"deepseek.onnx.export: the traced graph uses {len(unsupported)} op(s) with no ONNX lowering: {listed}"
            + _hint(unsupported))
    # views are emitted when first read; all are known up front, as the arguments of a layer cut
    # out of the trace (``_cuts``) may be views the trace records only at its end
    low.views.update((node["outputs"][0], (k, node)) for k, node in enumerate(nodes) if node["kind"] == "view")
    for k, node in enumerate(nodes):
        low.node_index = k
        if symbols is not None:
            symbols.current = k
        _check_writes(low, node)
        if node["kind"] == "view":
            continue
        outs = LAUNCH[node["op"]](low, node)
        outs = outs if isinstance(outs, (list, tuple)) else [outs]
        for vid, n in zip(node["outputs"], outs):
            if low.covers_buffer(values[vid]):
                low.names[vid] = n
                low.whole_writes[(values[vid]["buffer"], values[vid]["version"])] = node
                low.whole_write_index[(values[vid]["buffer"], values[vid]["version"])] = k
            else:
                from ._lower_writes import partial_write

                partial_write(low, node, vid, n)
    out_names = []
    for i, vid in enumerate(graph.outputs()):
        n = low.name(vid)
        want = output_names[i]
        if n in low.inits or n in input_names or n in out_names:
            low.emit("Identity", [n], outputs=[want])
        else:
            _rename(low, n, want)
        out_names.append(want)
    from ._patterns import fuse_gelu, fuse_layer_norm

    shapes = {}
    for vid, n in low.names.items():
        shape = symbols.value_shape(vid, strict=False) if symbols is not None else values[vid]["shape"]
        shapes[n] = [d if isinstance(d, int) else None for d in shape]
    fuse_layer_norm(low, shapes, out_names)
    fuse_gelu(low, out_names)
    _drop_dead(low, out_names)
    dyn = dynamic_dims or {}

    def info(name, vid):
        v = values[vid]
        dims = [dyn.get((name, a), d) for a, d in enumerate(v["shape"])]
        return helper.make_tensor_value_info(name, onnx_type(v["dtype"]), dims)

    g_inputs = [info(n, vid) for n, vid in zip(input_names, inputs)]
    g_outputs = [info(n, vid) for n, vid in zip(out_names, graph.outputs())]
    return low.nodes, low.inits, g_inputs, g_outputs


def _drop_dead(low, outputs):
    """Removes nodes none of whose outputs is read (a fill that a Pad or Concat replaced)."""
    live = set(outputs)
    kept = []
    for node in reversed(low.nodes):
        if any(o in live for o in node.output):
            kept.append(node)
            live.update(node.input)
    low.nodes[:] = kept[::-1]


def _rename(low, old, new):
    """Gives the node output ``old`` the graph output name ``new``."""
    for node in low.nodes:
        for i, o in enumerate(node.output):
            if o == old:
                node.output[i] = new
        for i, o in enumerate(node.input):
            if o == old:
                node.input[i] = new
    for vid, n in list(low.names.items()):
        if n == old:
            low.names[vid] = new


def _hint(ops):
    if {"rand", "randn", "bernoulli", "randint", "randperm"} & set(ops):
        return " (random ops: was the model left in training mode? call model.eval() before exporting)"
    if {"conv2d_input_grad", "conv2d_weight_grad"} & set(ops):
        return " (gradient ops: export an inference graph, traced under deepseek.no_grad())"
    return ""


def _check_writes(low, node):
    """Writes into graph-made buffers are lowered (whole or in part); writes into inputs or
    state (a training-mode update) are refused."""
    if not node.get("mutates"):
        return
    for vid in node["outputs"]:
        v = low.values[vid]
        if v["role"] in ("input", "state"):
            what = f"state '{v['name']}'" if v.get("name") else f"a {v['role']} tensor"
            raise OnnxExporterError(
                f"deepseek.onnx.export: the traced graph writes into {what} ({node['op']}, node {low.node_index}); "
                "export a model in eval mode (model.eval()) whose forward does not update its inputs or buffers")
