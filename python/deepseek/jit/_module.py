"""``GraphModule``: a traced function or module, called like the original; one call into the
core runs the whole graph (no Python per op)."""
from __future__ import annotations

from .. import _core
from .._core import Tensor
from ..autograd.function import Function
from ._graph import Graph


def flatten(obj, out):
    """Appends the tensors of a (nested) tuple/list/dict result to ``out``; returns its spec."""
    if isinstance(obj, Tensor):
        out.append(obj)
        return "T"
    if isinstance(obj, (tuple, list)):
        return (type(obj).__name__, [flatten(o, out) for o in obj])
    if isinstance(obj, dict):
        return ("dict", [(k, flatten(v, out)) for k, v in obj.items()])
    if obj is None:
        return "N"
    raise TypeError(f"deepseek.jit.trace: the traced function must return tensors (or tuples, lists, dicts of them), got {type(obj).__name__}")


def unflatten(spec, it):
    if spec == "T":
        return next(it)
    if spec == "N":
        return None
    kind, items = spec
    if kind == "dict":
        return {k: unflatten(s, it) for k, s in items}
    seq = [unflatten(s, it) for s in items]
    return tuple(seq) if kind == "tuple" else seq


class GraphModule:
    """The result of ``deepseek.jit.trace``: call it with tensors of the traced shapes, dtypes
    and devices. ``.graph`` is the IR (``print(g.graph)``, ``g.graph.nodes()`` ...).

    State (a module's parameters and buffers) is bound by reference at each call: updating the
    module's weights in place (``load_state_dict``, an optimizer step) is seen by the graph,
    and in-place updates the graph makes (a batch norm's running statistics) land in the
    module's tensors, as in eager mode.

    With gradients enabled and an input or parameter that requires grad, the call records one
    autograd node: its backward runs a second graph (the forward recomputed, then the traced
    backward), so ``loss.backward()`` through a GraphModule fills ``.grad`` as eager does.
    """

    def __init__(self, core_graph, state, out_spec, backward=None, grad_error=None, original=None):
        self._g = core_graph
        self._state = state  # the named state tensors in the graph's state order (None: captured)
        self._spec = out_spec
        # (core graph, wrt: [("input", i) | ("state", i)], differentiable output indices,
        #  whether each wrt entry has a gradient output in the graph, its state list)
        self._bwd = backward
        self._grad_error = grad_error
        self.graph = Graph(core_graph, state)
        self.original = original

    def _needs_grad(self, inputs):
        if not _core.is_grad_enabled():
            return False
        return any(t.requires_grad for t in inputs) or any(t is not None and t.requires_grad for t in self._state)

    def run(self, *inputs):
        """Runs the graph once; returns the flat list of output tensors (no autograd)."""
        return self._g.run(list(inputs), self._state)

    def __call__(self, *inputs):
        for i, t in enumerate(inputs):
            if not isinstance(t, Tensor):
                raise TypeError(f"GraphModule: input {i} must be a Tensor, got {type(t).__name__} (a traced graph takes the tensors it was traced with)")
        if self._needs_grad(inputs):
            if self._bwd is None:
                raise RuntimeError(
                    "GraphModule: gradients are needed (grad mode is on and an input or parameter requires grad) but this graph "
                    f"has no backward: {self._grad_error or 'it was traced with gradients disabled'}. "
                    "Call it under deepseek.no_grad(), or trace with gradients enabled.")
            outs = self._call_with_grad(inputs)
        else:
            outs = self._g.run(list(inputs), self._state)
        return unflatten(self._spec, iter(outs))

    def _call_with_grad(self, inputs):
        _, wrt, _, _, _ = self._bwd
        leaves = [inputs[i] if kind == "input" else self._state[i] for kind, i in wrt]
        outs = _GraphFunction.apply(self, list(inputs), *leaves)
        return list(outs) if isinstance(outs, tuple) else [outs]

    def __repr__(self):
        return f"GraphModule(\n{self._g.print()})"


class _GraphFunction(Function):
    """One autograd node for a whole graph: forward runs the forward graph; backward runs the
    backward graph (forward recomputed, then the traced backward) on the output gradients."""

    @staticmethod
    def forward(ctx, gm, inputs, *leaves):
        ctx.gm, ctx.inputs = gm, inputs
        outs = gm._g.run(inputs, gm._state)
        return tuple(outs) if len(outs) != 1 else outs[0]

    @staticmethod
    def backward(ctx, *grads):
        gm = ctx.gm
        g, wrt, diff, present, bstate = gm._bwd
        outs_meta = [gm._g.values()[v] for v in gm._g.outputs()]
        gys = []
        for i in diff:
            gy = grads[i]
            if gy is None:
                m = outs_meta[i]
                gy = _core.zeros(list(m["shape"]), m["dtype"], gm._g.buffers()[m["buffer"]]["device"])
            gys.append(gy.contiguous())
        res = iter(g.run(list(ctx.inputs) + gys, bstate))
        return (None, None) + tuple(next(res) if p else None for p in present)
