"""``OnnxModule``: an imported ONNX graph as an ``nn.Module`` that runs it node by node."""
from __future__ import annotations

from ..nn import Module, Parameter
from ._reader import check_supported, opset_of, read_model
from ._registry import OPS, Context, onnx_dtype, tensor_from_proto

# make sure every op family has registered its rules
from . import _ops_elementwise, _ops_nn, _ops_reduce, _ops_resize, _ops_rnn, _ops_shape, _scan  # noqa: F401,E402


# inputs each op reads on the host (shapes, axes, bounds): a traced graph keeps them as constants
_HOST_READS = {"Reshape": (1,), "Expand": (1,), "Tile": (1,), "Slice": (1, 2, 3, 4), "Squeeze": (1,),
               "Unsqueeze": (1,), "Split": (1,), "Pad": (1, 2, 3), "TopK": (1,), "CumSum": (1,),
               "Range": (0, 1, 2), "ConstantOfShape": (0,), "Clip": (1, 2), "Trilu": (1,), "OneHot": (1,),
               "Resize": (1, 2, 3), "LSTM": (4,), "GRU": (4,), "RNN": (4,), "Dropout": (2,)}
# ops whose output shape depends on the input's values
_DATA_SHAPED = {"NonZero"}


def _trace_safe(graph, inits):
    """Whether a trace of the graph is valid for every input of the traced shapes: every value
    read on the host comes from initializers, constants and input shapes only."""
    static = set(inits) | {""}
    for n in graph.node:
        if n.op_type in _DATA_SHAPED:
            return False
        reads = _HOST_READS.get(n.op_type, ())
        if n.op_type.startswith("Reduce"):
            reads = (1,)
        if any(i < len(n.input) and n.input[i] not in static for i in reads):
            return False
        if n.op_type in ("Constant", "Shape", "Size") or all(i in static for i in n.input):
            static.update(n.output)
    return True


class _Node:
    __slots__ = ("op_type", "name", "inputs", "outputs", "attrs", "tensor_attrs", "fn", "outer_reads")


def _attr_value(attr):
    from onnx import helper

    v = helper.get_attribute_value(attr)
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, list) and v and isinstance(v[0], bytes):
        return [s.decode() for s in v]
    return v


class OnnxModule(Module):
    """An ONNX graph imported as a module (see :func:`deepseek.onnx.to_module`).

    Float initializers are parameters (trainable, named exactly as in the model); integer and
    boolean initializers are buffers. ``forward`` takes the graph's inputs positionally (or by
    name) and returns its output, or a tuple when the graph has several.
    """

    def __init__(self, model):
        super().__init__()
        model = read_model(model)
        check_supported(model)
        graph = model.graph
        object.__setattr__(self, "opset_version", opset_of(model))
        inits = {t.name for t in graph.initializer}
        for t in graph.initializer:
            tensor = tensor_from_proto(t)
            if tensor.dtype.is_floating_point:
                self.register_parameter(t.name, Parameter(tensor))
            else:
                self.register_buffer(t.name, tensor)
        # graph inputs that are initializers too are defaults, not arguments (old exporters)
        inputs = [i for i in graph.input if i.name not in inits]
        object.__setattr__(self, "input_names", [i.name for i in inputs])
        object.__setattr__(self, "output_names", [o.name for o in graph.output])
        object.__setattr__(self, "_input_types", [_declared(i) for i in inputs])
        nodes = self._compile(graph.node, "")
        last_use = {}
        for k, node in enumerate(nodes):
            for i in node.inputs + node.outer_reads:
                last_use[i] = k
        for o in self.output_names:
            last_use[o] = len(nodes)
        # the values each node frees once it has run, so intermediates do not pile up
        frees = [[] for _ in nodes]
        for name, k in last_use.items():
            if k < len(nodes) and name not in inits:
                frees[k].append(name)
        object.__setattr__(self, "trace_safe", _trace_safe(graph, inits))
        object.__setattr__(self, "_nodes", nodes)
        object.__setattr__(self, "_frees", frees)
        self.eval()

    def _compile(self, graph_nodes, prefix):
        """``_Node``s of ONNX nodes (a Scan's body compiled the same way, as ``attrs['body']``)."""
        nodes = []
        for k, n in enumerate(graph_nodes):
            node = _Node()
            node.op_type, node.name = n.op_type, n.name or f"{n.op_type}_{prefix}{k}"
            node.inputs, node.outputs = list(n.input), list(n.output)
            node.fn = OPS[n.op_type]
            node.attrs, node.tensor_attrs, node.outer_reads = {}, {}, []
            for a in n.attribute:
                if a.type == a.TENSOR:
                    # tensors are buffers, so .to(device) moves them with the parameters
                    key = f"_onnx_attr_{prefix}{k}_{a.name}"
                    self.register_buffer(key, tensor_from_proto(a.t), persistent=False)
                    node.tensor_attrs[a.name] = key
                elif a.type == a.GRAPH and n.op_type == "Scan" and a.name == "body":
                    from ._scan import Body

                    if len(a.g.initializer) or len(a.g.sparse_initializer):
                        raise RuntimeError(f"deepseek.onnx: Scan node '{node.name}': a body with its own "
                                           "initializers is not supported (give them to the outer graph)")
                    body = Body(a.g, self._compile(a.g.node, f"{prefix}{k}_"))
                    node.attrs["body"] = body
                    node.outer_reads = body.outer_reads
                elif a.type in (a.GRAPH, a.GRAPHS):
                    raise RuntimeError(f"deepseek.onnx: {n.op_type} node '{node.name}' has subgraph "
                                       "attributes, which are not supported")
                else:
                    node.attrs[a.name] = _attr_value(a)
            nodes.append(node)
        return nodes

    def _bind(self, args, kwargs):
        names = self.input_names
        if len(args) > len(names):
            raise TypeError(f"OnnxModule.forward() takes {len(names)} inputs {names} but {len(args)} were given")
        env = dict(zip(names, args))
        for k, v in kwargs.items():
            if k not in names:
                raise TypeError(f"OnnxModule.forward() got an unexpected input '{k}' (inputs: {names})")
            if k in env:
                raise TypeError(f"OnnxModule.forward() got input '{k}' twice")
            env[k] = v
        missing = [n for n in names if n not in env]
        if missing:
            raise TypeError(f"OnnxModule.forward() missing inputs {missing}")
        for name, (dtype, dims) in zip(names, self._input_types):
            _check_input(name, env[name], dtype, dims)
        return env

    def forward(self, *args, **kwargs):
        env = self._bind(args, kwargs)
        params = dict(self.named_parameters())
        params.update(self.named_buffers())
        env.update(params)
        first = next(iter(env.values()), None)
        ctx = Context(self.opset_version, getattr(first, "device", None))
        self._run(self._nodes, self._frees, env, params, ctx)
        outs = tuple(env[o] for o in self.output_names)
        return outs[0] if len(outs) == 1 else outs

    def _run(self, nodes, frees, env, params, ctx):
        """Runs ``nodes`` over the values ``env`` (updated in place); ``frees``: the names each
        node drops once it has run, or None to keep every value."""
        for k, node in enumerate(nodes):
            ins = [env[i] if i else None for i in node.inputs]
            attrs = node.attrs
            if node.tensor_attrs:
                attrs = dict(attrs, **{a: params[key] for a, key in node.tensor_attrs.items()})
            ctx.op_type, ctx.name, ctx.n_outputs = node.op_type, node.name, len(node.outputs)
            try:
                if node.op_type == "Scan":  # its body reads the outer values
                    from ._scan import scan

                    out = scan(self, ins, attrs, ctx, env, params)
                else:
                    out = node.fn(ins, attrs, ctx)
            except (RuntimeError, ValueError, TypeError, IndexError) as e:
                if str(e).startswith(f"ONNX {node.op_type} node"):
                    raise
                raise type(e)(f"ONNX {node.op_type} node '{node.name}': {e}") from e
            if not isinstance(out, tuple):
                out = (out,)
            for name, v in zip(node.outputs, out):
                if name:
                    env[name] = v
            for name in (frees[k] if frees is not None else ()):
                env.pop(name, None)

    def extra_repr(self):
        return f"opset={self.opset_version}, inputs={self.input_names}, outputs={self.output_names}, " \
               f"nodes={len(self._nodes)}"


def _declared(value_info):
    """(dtype or None, dims or None) an input's type declares; symbolic dims are None."""
    tt = value_info.type.tensor_type if value_info.type.HasField("tensor_type") else None
    if tt is None:
        return None, None
    try:
        dtype = onnx_dtype(tt.elem_type) if tt.elem_type else None
    except TypeError:
        dtype = None
    dims = [d.dim_value if d.HasField("dim_value") else None for d in tt.shape.dim] \
        if tt.HasField("shape") else None
    return dtype, dims


def _check_input(name, x, dtype, dims):
    from .._core import Tensor

    if not isinstance(x, Tensor):
        raise TypeError(f"ONNX input '{name}' must be a Tensor, not {type(x).__name__}")
    if dtype is not None and x.dtype != dtype:
        raise TypeError(f"ONNX input '{name}' is declared {dtype}, got a {x.dtype} tensor")
    if dims is not None:
        bad = len(dims) != x.ndim or any(d is not None and d != s for d, s in zip(dims, x.shape))
        if bad:
            want = tuple("?" if d is None else d for d in dims)
            raise RuntimeError(f"ONNX input '{name}' is declared with shape {want}, got shape {tuple(x.shape)}")
