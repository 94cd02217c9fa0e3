"""Cuts: calls ONNX has one operator for, written as that operator instead of the primitive
chain the trace would record: ``nn.LSTM``, ``nn.GRU`` and ``nn.RNN`` layers (ONNX's LSTM, GRU,
RNN) and, from opset 23, ``F.scaled_dot_product_attention`` (ONNX's Attention).

While the exporter traces, such a call runs eagerly on a worker thread, where nothing is
recorded (a trace belongs to its thread). Its results are declared as extra graph inputs and
its tensor arguments appended as extra graph outputs, so the traced graph is cut at the call's
boundary: what feeds the call ends in the graph's extra outputs, what reads its results starts
from the extra inputs. The lowering writes the call between the two (``_lower_rnn``,
``_lower_attention``), and the user's inputs and outputs stay the graph's first ones
(``CutGraph``).
"""
from __future__ import annotations

import math
import threading
from concurrent.futures import ThreadPoolExecutor

_local = threading.local()


class Cut:
    """One call cut out of a trace: its ``kind`` ("rnn" or "attention"), the module (rnn) or
    the call's attributes (attention), the value ids of its tensor arguments (``in_vids``) and
    results (``out_vids``), and the module's dotted name in the model ('' if unknown)."""

    def __init__(self, kind, module, n_in, n_out, name="", attrs=None):
        self.kind, self.module, self.n_in, self.n_out, self.name = kind, module, n_in, n_out, name
        self.attrs = attrs or {}
        self.in_vids, self.out_vids = [], []


class CutGraph:
    """A traced graph (``deepseek.jit.Graph``) whose ``inputs()``/``outputs()`` are the user's
    and whose ``cuts`` name the calls written as ONNX operators between the others."""

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


def rnn_supported(module, input, hx):
    """Whether a call of recurrent layer ``module`` is written as its ONNX operator (an LSTM
    with a projection as Scans): no dropout between layers in training mode, a 2-D or 3-D
    floating input."""
    from .._core import Tensor

    if module.training and module.dropout and module.num_layers > 1:
        return False
    if not isinstance(input, Tensor) or input.ndim not in (2, 3) or input.dtype.name not in ("float32", "float64"):
        return False
    states = hx if isinstance(hx, (tuple, list)) else ([] if hx is None else [hx])
    return all(isinstance(s, Tensor) for s in states)


def attention_supported(query, key, value, attn_mask, dropout_p, is_causal, enable_gqa):
    """Whether an attention call is written as ONNX's Attention: float32 query, key and value,
    all 4-D [batch, heads, length, dim] with the same batch and heads, or all 3-D [batch,
    length, dim] (one head); no dropout; a boolean or float mask of at most the inputs' rank,
    or ``is_causal`` without a mask (ONNX's causal mask is aligned to the upper left, as
    PyTorch's)."""
    from .._core import Tensor

    qkv = (query, key, value)
    if not all(isinstance(t, Tensor) and t.ndim in (3, 4) and t.ndim == query.ndim and t.dtype.name == "float32"
               for t in qkv):
        return False
    lead = query.ndim - 2  # batch (and heads)
    if dropout_p or enable_gqa or query.shape[:lead] != key.shape[:lead] \
            or key.shape[:lead + 1] != value.shape[:lead + 1]:
        return False
    if is_causal and attn_mask is not None:
        return False
    return attn_mask is None or (isinstance(attn_mask, Tensor) and 1 <= attn_mask.ndim <= query.ndim
                                 and attn_mask.dtype.name in ("bool", "float32"))


def _eager(fn, *args, **kwargs):
    from .. import no_grad
    from ..jit._module import flatten

    with no_grad():
        flat = []
        flatten(fn(*args, **kwargs), flat)
        return [t.clone() for t in flat]  # fresh storages the trace has not seen


class Cutter:
    """Collects the cuts of one trace, made by the patched calls while it is active on this
    thread; ``attention``: whether to cut attention (the opset has Attention)."""

    def __init__(self, names, attention):
        self.names = names  # id(module) -> dotted name
        self.attention = attention
        self.cuts, self.extra_outputs = [], []

    def _cut(self, kind, module, args, name, attrs, fn, *call, **kw):
        from .. import _core

        with ThreadPoolExecutor(1) as pool:
            results = pool.submit(_eager, fn, *call, **kw).result()
        for t in results:
            _core.graph_trace_input(t)
        self.extra_outputs.extend(args)
        self.cuts.append(Cut(kind, module, len(args), len(results), name, attrs))
        return results

    def rnn(self, forward, module, input, hx):
        args = [input] + (list(hx) if isinstance(hx, (tuple, list)) else ([] if hx is None else [hx]))
        results = self._cut("rnn", module, args, self.names.get(id(module), ""), None, forward, module, input, hx)
        if module.mode == "LSTM":
            return results[0], (results[1], results[2])
        return results[0], results[1]

    def sdpa(self, fn, query, key, value, attn_mask, scale, is_causal=False):
        args = [query, key, value] + ([attn_mask] if attn_mask is not None else [])
        if scale is None:
            scale = 1.0 / math.sqrt(query.shape[-1])
        (out,) = self._cut("attention", None, args, "", {"scale": float(scale), "is_causal": bool(is_causal)}, fn,
                           query, key, value, attn_mask=attn_mask, scale=scale, is_causal=is_causal)
        return out


def _active():
    """This thread's cutter while it traces for export, else None."""
    from .. import _core

    cutter = getattr(_local, "cutter", None)
    return cutter if cutter is not None and _core.graph_is_tracing() else None


def _patched_forward(original):
    def forward(self, input, hx=None):
        cutter = _active()
        if cutter is None or not rnn_supported(self, input, hx):
            return original(self, input, hx)
        return cutter.rnn(original, self, input, hx)

    return forward


def _patched_sdpa(original):
    def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
                                     enable_gqa=False):
        cutter = _active()
        if cutter is None or not cutter.attention or not attention_supported(
                query, key, value, attn_mask, dropout_p, is_causal, enable_gqa):
            return original(query, key, value, attn_mask, dropout_p, is_causal, scale, enable_gqa)
        return cutter.sdpa(original, query, key, value, attn_mask, scale, is_causal)

    scaled_dot_product_attention.__doc__ = original.__doc__
    return scaled_dot_product_attention


_patch_lock = threading.Lock()
_patch_users = [0, None, None]  # exports under way, the original forward and attention


def _patch(step):
    """Installs the cutting calls while any export traces (they defer to the originals on
    every other thread), and puts the originals back after the last."""
    from ..nn import functional as F
    from ..nn.modules.rnn import RNNBase

    with _patch_lock:
        if step > 0 and _patch_users[0] == 0:
            _patch_users[1:] = [RNNBase.__dict__["forward"], F.scaled_dot_product_attention]
            RNNBase.forward = _patched_forward(_patch_users[1])
            F.scaled_dot_product_attention = _patched_sdpa(_patch_users[2])
        _patch_users[0] += step
        if _patch_users[0] == 0:
            RNNBase.forward, F.scaled_dot_product_attention = _patch_users[1:]


def trace(model, args, opset, fold=True):
    """Traces ``model(*args)`` for export with the calls ONNX ``opset`` has an operator for cut
    out; ``fold``: run the graph passes (constant folding would freeze values that follow a
    dynamic axis, a causal mask built from positions, so dynamic exports skip them; the ONNX
    graph drops what is dead). Returns (``GraphModule`` of the trace, or None when a call was
    cut and the graph alone cannot run, ``CutGraph``)."""
    from .. import no_grad
    from ..jit._module import GraphModule, flatten
    from ..jit._trace import _module_state, _ordered_state, _record

    module = model if hasattr(model, "named_parameters") else None
    named = _module_state(module)
    names = {id(m): n for n, m in model.named_modules()} if hasattr(model, "named_modules") else {}
    cutter = Cutter(names, attention=opset >= 23)
    n_out = []

    def after(result):
        flat = []
        flatten(result, flat)
        n_out.append(len(flat))
        return result, cutter.extra_outputs

    _patch(+1)
    _local.cutter = cutter
    try:
        with no_grad():
            g, spec, _ = _record(model, tuple(args), named, after=after)
    finally:
        _local.cutter = None
        _patch(-1)
    if fold:
        g.optimize(fuse=False)  # ONNX lowers the primitives one by one
    state = _ordered_state(g, named)
    gm = None
    if not cutter.cuts:
        gm = GraphModule(g, state, spec, named=named, original=model)
    return gm, CutGraph(gm.graph if gm is not None else _graph(g, state), len(args), n_out[0], cutter.cuts)


def _graph(core_graph, state):
    from ..jit._graph import Graph

    return Graph(core_graph, state)
