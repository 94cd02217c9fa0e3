"""``deepseek.onnx.export``: trace into the graph IR, lower to ONNX, check and write."""
from __future__ import annotations

import os

import numpy as np

from .errors import OnnxExporterError, SymbolicValueError

# initializers past this many bytes in all go to an external data file (protobuf's 2 GB limit)
EXTERNAL_DATA_BYTES = 2**31 - 2**20


def _trace(model, args):
    try:
        from .. import jit
    except ImportError:
        jit = None
    if jit is None or not hasattr(jit, "trace"):
        raise OnnxExporterError("deepseek.onnx.export needs deepseek.jit.trace (static graphs), which this build lacks")
    from .. import no_grad

    with no_grad():
        return jit.trace(model, tuple(args), fuse=False)  # ONNX lowers the primitives one by one


def _trace_for_export(model, args, opset, fold=True):
    """The graph to lower (a ``_cuts.CutGraph``: recurrent layers cut out, to be written as
    their ONNX ops) and the GraphModule of that trace (None when a layer was cut)."""
    try:
        from .. import jit
    except ImportError:
        jit = None
    if jit is None or not hasattr(jit, "trace"):
        raise OnnxExporterError("deepseek.onnx.export needs deepseek.jit.trace (static graphs), which this build lacks")
    from . import _cuts

    return _cuts.trace(model, args, opset, fold)


def _caught(fn, *args):
    """``fn(*args)`` and the TracerWarnings it raised (re-raised as warnings too)."""
    import warnings

    from ..jit import TracerWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = fn(*args)
    notes = []
    for w in caught:
        if issubclass(w.category, TracerWarning):
            notes.append(str(w.message))
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return out, notes


def _trace_checked(model, args, opset, fold=True):
    """``_trace_for_export``'s graph, proved: a trace is run on other input values and must
    agree with the model there (a value the trace froze, from a host read or an op that reads
    its indices outside the dispatcher, would otherwise be written into the ONNX graph). When
    layers were cut out, the model's plain trace (through the layers) is the one run."""
    (gm, graph), notes = _caught(_trace_for_export, model, args, opset, fold)
    _refuse_training_ops(graph, model)
    if gm is None:
        gm, more = _caught(_trace, model, args)
        notes += more
    _verify(gm, model, args, notes)
    return graph


_RANDOM = ("rand", "randn", "randint", "randperm", "bernoulli")


def _refuse_training_ops(graph, model):
    """A clear error for a training-mode graph (dropout's random masks, batch norm's batch
    statistics) before the check on other inputs, which random ops could never pass."""
    ops = {n["op"] for n in graph.nodes() if n["kind"] == "launch"}
    random = sorted(ops & set(_RANDOM))
    stats = sorted(op for op in ops if op.endswith("_train"))
    if not random and not stats:
        return
    what = []
    if random:
        what.append(f"random ops ({', '.join(random)}: dropout's masks)")
    if stats:
        what.append(f"training-mode statistics ({', '.join(stats)}: batch norm's batch statistics)")
    mode = "a model in training mode" if getattr(model, "training", False) else "a graph"
    raise OnnxExporterError(
        f"deepseek.onnx.export: {mode} with {' and '.join(what)} cannot be exported: ONNX export of training-mode "
        "graphs is not supported. Export for inference: training=None or False (the default) puts the model in "
        "eval mode; a forward that calls F.dropout(..., training=True) itself must not")


def _perturbed(x):
    from .. import from_numpy

    a = x.detach().cpu().numpy()
    if a.dtype.kind == "f":
        a = a * 0.5 + 0.25
    elif a.dtype.kind in "iu" and a.size > 1:
        a = np.roll(a, 1)  # the same values elsewhere: token ids stay in range
    return from_numpy(np.ascontiguousarray(a)).to(x.device)


def reproduces(traced, model, args):
    """Whether ``traced`` agrees with ``model`` on inputs other than ``args`` (the traced ones):
    a trace that took input-dependent values as constants does not."""
    from .. import no_grad
    from ..jit._module import flatten

    fresh = tuple(_perturbed(a) for a in args)
    with no_grad():
        want, got = [], []
        flatten(model(*fresh), want)
        flatten(traced(*fresh), got)
    return len(want) == len(got) and all(
        tuple(w.shape) == tuple(g.shape) and np.allclose(w.detach().cpu().numpy(), g.detach().cpu().numpy(),
                                                         rtol=1e-4, atol=1e-5, equal_nan=True)
        for w, g in zip(want, got))


def _verify(gm, model, args, notes):
    if not reproduces(gm, model, args):
        listed = "".join("\n  " + n for n in dict.fromkeys(notes)) or \
            " (no warning: an op read input values outside the recorded launches)"
        raise OnnxExporterError(
            "deepseek.onnx.export: the trace does not reproduce the model on other inputs, so the exported "
            "graph would be wrong: it took values computed from the inputs as constants:" + listed)


def _names(given, n, default):
    given = list(given or [])
    if len(given) > n:
        raise ValueError(f"deepseek.onnx.export: {len(given)} names given for {n} {default}s")
    if len(set(given)) != len(given):
        raise ValueError(f"deepseek.onnx.export: {default} names {given} repeat")
    base = [default] if n == 1 else [f"{default}_{i}" for i in range(n)]
    return given + base[len(given):]


def _dynamic_spec(dynamic_axes, input_names, output_names):
    """{(value name, axis): symbol name} from PyTorch's ``dynamic_axes`` forms (a list of axes or
    a dict axis -> name per input or output)."""
    spec = {}
    for name, axes in (dynamic_axes or {}).items():
        if name not in input_names and name not in output_names:
            raise ValueError(f"deepseek.onnx.export: dynamic_axes names '{name}', which is neither an input "
                             f"{input_names} nor an output {output_names}")
        if isinstance(axes, dict):
            items = [(int(a), str(s)) for a, s in axes.items()]
        else:
            items = [(int(a), f"{name}_dynamic_axes_{k + 1}") for k, a in enumerate(axes)]
        for a, sym in items:
            spec[(name, a)] = sym
    return spec


def _grown(x, axis, by=1):
    """``x`` larger by ``by`` along ``axis`` (its last slice repeated, so values stay valid)."""
    from .. import cat

    n = x.shape[axis]
    if n == 0:
        raise SymbolicValueError(f"deepseek.onnx.export: an example input has size 0 on dynamic axis {axis}")
    return cat([x] + [x.narrow(axis, n - 1, 1)] * by, dim=axis)


def _symbols(model, args, graph, spec, input_names, opset):
    from ._symbolic import Symbols

    groups = {}
    for (name, axis), sym in spec.items():
        if name in input_names:
            i = input_names.index(name)
            if not -args[i].ndim <= axis < args[i].ndim:
                raise ValueError(f"deepseek.onnx.export: dynamic axis {axis} of input '{name}' with shape "
                                 f"{tuple(args[i].shape)}")
            groups.setdefault(sym, []).append((i, axis % args[i].ndim))
    axes, variants, checks = [], [], []
    for j, (sym, members) in enumerate(groups.items()):
        sizes = {args[i].shape[a] for i, a in members}
        if len(sizes) != 1:
            raise ValueError(f"deepseek.onnx.export: the axes named '{sym}' have different example sizes {sorted(sizes)}")
        size = sizes.pop()

        def traced(by):
            grown = list(args)
            for i, a in members:
                grown[i] = _grown(grown[i], a, by)
            return _trace_for_export(model, grown, opset, fold=False)[1]

        try:
            variants.append(traced(1))
        except Exception as e:
            raise SymbolicValueError(
                f"deepseek.onnx.export: the model does not run with dynamic axis '{sym}' one larger "
                f"({type(e).__name__}: {e}); name the axes that must agree with the same symbol") from e
        # the proof of the fits: the axis doubled (every stride's floor division moves), or
        # two larger where the model does not run that long (a position table's length)
        for by in dict.fromkeys((size, 2)):
            try:
                checks.append((j, by, traced(by)))
                break
            except Exception:  # noqa: BLE001 - any refusal of the longer input: try a shorter one
                continue
        axes.append((sym, members, size))
    if not axes:
        return None
    return Symbols(graph, variants, axes, checks)


def _dims(graph, symbols, spec, input_names, output_names):
    """{(value name, axis): dim_param} for graph inputs and outputs: the names given in
    ``dynamic_axes``, and the symbol of any other output dim that follows one axis."""
    dims = dict(spec)
    if symbols is None:
        return dims
    for name, vid in zip(output_names, graph.outputs()):
        for a, d in enumerate(symbols.value_shape(vid, strict=False)):
            if (name, a) in dims or isinstance(d, int):
                continue
            j = d.single() if d is not None else None
            dims[(name, a)] = symbols.axes[j][0] if j is not None else f"{name}_dim_{a}"
    return dims


def _used_names(nodes):
    """The value names ``nodes`` read, with those read inside their subgraphs (a Scan body
    reads its weights from the outer graph)."""
    from onnx import AttributeProto

    used = set()
    for n in nodes:
        used.update(n.input)
        for a in n.attribute:
            if a.type == AttributeProto.GRAPH:
                used |= _used_names(a.g.node)
            elif a.type == AttributeProto.GRAPHS:
                for g in a.graphs:
                    used |= _used_names(g.node)
    return used


def build_model(graph, *, input_names, output_names, opset_version, symbols=None, dims=None,
                producer_version=""):
    """The ``onnx.ModelProto`` of a traced graph."""
    import onnx
    from onnx import helper, numpy_helper

    from ._lower import lower_graph

    nodes, inits, g_in, g_out = lower_graph(graph, input_names=input_names, output_names=output_names,
                                            opset=opset_version, symbols=symbols, dynamic_dims=dims)
    used = _used_names(nodes)
    # np.asarray keeps a 0-d scalar 0-d (np.ascontiguousarray would make it [1], which Range's
    # scalar inputs and broadcasting ranks do not allow)
    initializers = [numpy_helper.from_array(np.asarray(a, order="C"), name) for name, a in inits.items()
                    if name in used or name in output_names]
    g = helper.make_graph(nodes, "main_graph", g_in, g_out, initializers)
    opset = helper.make_opsetid("", opset_version)
    model = helper.make_model(g, opset_imports=[opset], producer_name="deepseek", producer_version=producer_version)
    model.ir_version = helper.find_min_ir_version_for([opset], ignore_unknown=True)
    return model


def export(model, args, f, export_params=True, verbose=False, training=None, input_names=None,
           output_names=None, opset_version=17, dynamic_axes=None, keep_initializers_as_inputs=False,
           external_data=None, do_constant_folding=True):
    """Writes ``model`` as an ONNX file (``torch.onnx.export``'s arguments).

    ``model(*args)`` is traced into deepseek's graph IR (``deepseek.jit.trace``) under
    ``no_grad`` and in eval mode (the mode is restored afterwards); each node is lowered to
    standard ONNX ops of ``opset_version`` (17 and up) and the parameters and buffers become
    initializers named after their ``state_dict`` keys. The model passes ``onnx.checker``.

    Args:
        model: an ``nn.Module`` or a function of tensors.
        args: the example inputs: a tensor or a tuple of tensors.
        f: a path or a binary file object.
        input_names, output_names: names of the graph's inputs and outputs (defaults ``input``,
            ``input_0`` ..., ``output`` ...).
        dynamic_axes: ``{name: [axis, ...]}`` or ``{name: {axis: "symbol"}}`` marking dims that
            may change; the model is traced again with each one larger to find the shape
            arithmetic that follows them (emitted as Shape-based ONNX ops). Axes of different
            inputs that must agree (a batch) should share one symbol name.
        external_data: write the initializers to ``<f>.data`` beside the model (None: only when
            they pass 2 GB, protobuf's limit).

    Returns the ``onnx.ModelProto`` written.

    Raises UnsupportedOperatorError listing every op with no ONNX lowering, SymbolicValueError
    for shape arithmetic a dynamic axis makes inexpressible, and OnnxExporterError otherwise.

    Example::

        >>> deepseek.onnx.export(model, (x,), "model.onnx", input_names=["x"],
        ...                      dynamic_axes={"x": {0: "batch"}})
    """
    import onnx

    from .. import __version__
    from .._core import Tensor

    if opset_version < 13:
        raise ValueError(f"deepseek.onnx.export: opset_version {opset_version} is not supported (13 and newer)")
    if not export_params or keep_initializers_as_inputs:
        raise ValueError("deepseek.onnx.export: export_params=False and keep_initializers_as_inputs=True "
                         "are not supported")
    args = (args,) if isinstance(args, Tensor) else tuple(args)
    if not all(isinstance(a, Tensor) for a in args):
        raise TypeError("deepseek.onnx.export: args must be a tensor or a tuple of tensors, got "
                        f"{[type(a).__name__ for a in args]}")
    args = tuple(a.contiguous() for a in args)
    was_training = getattr(model, "training", None)
    if was_training is not None and not training:
        model.eval()
    try:
        graph = _trace_checked(model, args, opset_version, fold=not dynamic_axes)
        input_names = _names(input_names, len(graph.inputs()), "input")
        output_names = _names(output_names, len(graph.outputs()), "output")
        spec = _dynamic_spec(dynamic_axes, input_names, output_names)
        symbols = _symbols(model, args, graph, spec, input_names, opset_version) if spec else None
        dims = _dims(graph, symbols, spec, input_names, output_names)
        proto = build_model(graph, input_names=input_names, output_names=output_names,
                            opset_version=opset_version, symbols=symbols, dims=dims, producer_version=__version__)
    finally:
        if was_training:
            model.train()
    return save(proto, f, external_data=external_data, verbose=verbose)


def save(proto, f, external_data=None, verbose=False):
    """Checks ``proto`` with ``onnx.checker`` and writes it to ``f``; returns it."""
    import onnx

    size = sum(t.ByteSize() for t in proto.graph.initializer)
    ext = size > EXTERNAL_DATA_BYTES if external_data is None else bool(external_data)
    data = None
    if not ext:
        data = proto.SerializeToString()  # once: checked and written as these bytes
        onnx.checker.check_model(data, full_check=True)
    if isinstance(f, (str, os.PathLike)):
        path = os.fspath(f)
        if ext:
            from onnx.external_data_helper import set_external_data

            # the weights go to the data file; integer tensors (shapes, indices) stay inline,
            # where the runtimes' shape inference reads them
            location = os.path.basename(path) + ".data"
            if os.path.exists(os.path.join(os.path.dirname(path), location)):
                os.remove(os.path.join(os.path.dirname(path), location))  # the writer appends
            for t in proto.graph.initializer:
                if t.data_type in (1, 10, 11, 16) and t.HasField("raw_data"):
                    set_external_data(t, location)
            onnx.save_model(proto, path)
            onnx.checker.check_model(path)  # shape inference cannot read the external data
        else:
            with open(path, "wb") as out:
                out.write(data)
    else:
        if ext:
            raise ValueError("deepseek.onnx.export: external data needs f to be a path, not a file object")
        f.write(data)
    if verbose:
        print(onnx.helper.printable_graph(proto.graph))
    return proto
