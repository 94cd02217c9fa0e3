"""Module-level export: layers ONNX has one operator for (``nn.LSTM``, ``nn.GRU``, ``nn.RNN``)
are cut out of the trace and written as that operator.

While the exporter traces, a call of such a layer runs eagerly on a worker thread, where
nothing is recorded (a trace belongs to its thread). Its results are declared as extra graph
inputs and its arguments appended as extra graph outputs, so the traced graph is cut at the
layer's boundary: what feeds the layer ends in the graph's extra outputs, what reads its
results starts from the extra inputs. ``_lower_rnn`` writes the layer between the two, and the
user's inputs and outputs stay the graph's first ones (``CutGraph``).
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

_local = threading.local()


class Cut:
    """One layer call cut out of a trace: the module, the value ids of its arguments
    (``input``, then ``h_0`` and ``c_0`` when given) and of its results (``output``, ``h_n``
    and, for an LSTM, ``c_n``), and the module's dotted name in the model ('' if unknown)."""

    def __init__(self, module, n_in, n_out, name):
        self.module, self.n_in, self.n_out, self.name = module, n_in, n_out, name
        self.in_vids, self.out_vids = [], []


class CutGraph:
    """A traced graph (``deepseek.jit.Graph``) whose ``inputs()``/``outputs()`` are the user's
    and whose ``cuts`` name the layers written as ONNX operators between the others."""

    def __init__(self, graph, n_inputs, n_outputs, cuts):
        self._graph, self.cuts = graph, cuts
        ins, outs = graph.inputs(), graph.outputs()
        self._inputs, self._outputs = ins[:n_inputs], outs[:n_outputs]
        i, o = n_inputs, n_outputs
        for c in cuts:
            c.out_vids, c.in_vids = ins[i:i + c.n_out], outs[o:o + c.n_in]
            i, o = i + c.n_out, o + c.n_in

    def inputs(self):
        return list(self._inputs)

    def outputs(self):
        return list(self._outputs)

    def __getattr__(self, name):
        return getattr(self._graph, name)


def supported(module, input, hx):
    """Whether a call of recurrent layer ``module`` is written as its ONNX operator: no
    projection (ONNX's LSTM has none), no dropout between layers in training mode, a 2-D or
    3-D floating input."""
    from .._core import Tensor

    if getattr(module, "proj_size", 0) or (module.training and module.dropout and module.num_layers > 1):
        return False
    if not isinstance(input, Tensor) or input.ndim not in (2, 3) or input.dtype.name not in ("float32", "float64"):
        return False
    states = hx if isinstance(hx, (tuple, list)) else ([] if hx is None else [hx])
    return all(isinstance(s, Tensor) for s in states)


def _eager(forward, module, input, hx):
    from .. import no_grad
    from ..jit._module import flatten

    with no_grad():
        flat = []
        flatten(forward(module, input, hx), flat)
        return [t.clone() for t in flat]  # fresh storages the trace has not seen


class Cutter:
    """Collects the cuts of one trace; ``patched`` replaces the recurrent layers' forward
    while it is active on this thread."""

    def __init__(self, names):
        self.names = names  # id(module) -> dotted name
        self.cuts, self.extra_outputs = [], []

    def cut(self, forward, module, input, hx):
        from .. import _core

        with ThreadPoolExecutor(1) as pool:
            results = pool.submit(_eager, forward, module, input, hx).result()
        for t in results:
            _core.graph_trace_input(t)
        args = [input] + (list(hx) if isinstance(hx, (tuple, list)) else ([] if hx is None else [hx]))
        self.extra_outputs.extend(args)
        self.cuts.append(Cut(module, len(args), len(results), self.names.get(id(module), "")))
        if module.mode == "LSTM":
            return results[0], (results[1], results[2])
        return results[0], results[1]


def _patched_forward(original):
    def forward(self, input, hx=None):
        from .. import _core

        cutter = getattr(_local, "cutter", None)
        if cutter is None or not _core.graph_is_tracing() or not supported(self, input, hx):
            return original(self, input, hx)
        return cutter.cut(original, self, input, hx)

    return forward


_patch_lock = threading.Lock()
_patch_users = [0, None]  # exports under way, the original forward


def _patch(cls, step):
    """Installs the cutting forward while any export traces (it defers to the original on
    every other thread), and puts the original back after the last."""
    with _patch_lock:
        if step > 0 and _patch_users[0] == 0:
            _patch_users[1] = cls.__dict__["forward"]
            cls.forward = _patched_forward(_patch_users[1])
        _patch_users[0] += step
        if _patch_users[0] == 0:
            cls.forward = _patch_users[1]


def trace(model, args):
    """Traces ``model(*args)`` for export with the recurrent layers cut out. Returns
    (``GraphModule`` of the trace, or None when a layer was cut and the graph alone cannot
    run, ``CutGraph``)."""
    from .. import no_grad
    from ..jit._module import GraphModule, flatten
    from ..jit._trace import _module_state, _ordered_state, _record
    from ..nn.modules.rnn import RNNBase

    module = model if hasattr(model, "named_parameters") else None
    named = _module_state(module)
    names = {id(m): n for n, m in model.named_modules()} if hasattr(model, "named_modules") else {}
    cutter = Cutter(names)
    n_out = []

    def after(result):
        flat = []
        flatten(result, flat)
        n_out.append(len(flat))
        return result, cutter.extra_outputs

    _patch(RNNBase, +1)
    _local.cutter = cutter
    try:
        with no_grad():
            g, spec, _ = _record(model, tuple(args), named, after=after)
    finally:
        _local.cutter = None
        _patch(RNNBase, -1)
    g.optimize()
    state = _ordered_state(g, named)
    gm = None
    if not cutter.cuts:
        gm = GraphModule(g, state, spec, named=named, original=model)
    return gm, CutGraph(gm.graph if gm is not None else _graph(g, state), len(args), n_out[0], cutter.cuts)


def _graph(core_graph, state):
    from ..jit._graph import Graph

    return Graph(core_graph, state)
