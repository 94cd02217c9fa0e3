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


def profile_report(core_graph, outputs, node_seconds, setup, total):
    """The dict ``GraphModule.profile`` returns, from the core's timed run."""
    nodes, by_op = [], {}
    for i, (n, sec) in enumerate(zip(core_graph.nodes(), node_seconds)):
        nodes.append({"index": i, "kind": n["kind"], "op": n["op"], "seconds": sec})
        if n["kind"] != "view":
            c, t = by_op.get(n["op"], (0, 0.0))
            by_op[n["op"]] = (c + 1, t + sec)
    return {"outputs": outputs, "nodes": nodes, "setup_seconds": setup, "total_seconds": total,
            "by_op": sorted(((op, c, t) for op, (c, t) in by_op.items()), key=lambda r: -r[2])}


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


def attach_device_kernels(core_graph) -> int:
    """Compiles each fused elementwise node of ``core_graph`` that runs off the CPU into one
    generated kernel (``deepseek.backends.kernels.fused.attach``), where its backend compiles
    them: the one place a finished graph (traced, frozen, a training step's, a backward, or
    loaded with ``map_location``) meets its device, once, so no Python runs per launch.
    Returns how many nodes got a kernel."""
    if all(b["device"] == "cpu" for b in core_graph.buffers()):
        return 0
    from ..backends.kernels import fused

    return fused.attach(core_graph)


class GraphModule:
    """The result of ``deepseek.jit.trace``: call it with tensors of the traced shapes, dtypes
    and devices. ``.graph`` is the IR (``print(g.graph)``, ``g.graph.nodes()`` ...).

    State (a module's parameters and buffers) is bound by reference at each call: updating the
    module's weights in place (``load_state_dict``, an optimizer step) is seen by the graph,
    and in-place updates the graph makes (a batch norm's running statistics) land in the
    module's tensors, as in eager mode.

    With gradients enabled and an input or parameter that requires grad, the call records one
    autograd node: its backward runs a second graph (the forward recomputed, then the traced
    backward), so ``loss.backward()`` through a GraphModule fills ``.grad`` as eager does. That
    graph is traced on the first call that needs it (once per pattern of which inputs and
    parameters require grad) by running the original function again.
    """

    def __init__(self, core_graph, state, out_spec, named=None, original=None):
        self._g = core_graph
        self._state = state  # the named state tensors in the graph's state order (None: captured)
        self._spec = out_spec
        self._named = named  # [(name, tensor)] as traced, for tracing backward graphs
        self.original = original
        # requires-grad pattern -> (core graph, wrt: [("input", i) | ("state", i)], differentiable
        # output indices, whether each wrt entry has a gradient output, its state list) or the
        # reason there is none
        self._bwds = {}
        self._memory_budget = None  # bytes for the backward graphs' arena (trace(memory_budget=))
        self._no_backward = "a loaded graph carries no backward"  # why, when original is None
        self.graph = Graph(core_graph, state)
        attach_device_kernels(core_graph)

    def _pattern(self, inputs):
        if not _core.is_grad_enabled():
            return None
        p = (tuple(t.requires_grad for t in inputs), tuple(t is not None and t.requires_grad for t in self._state))
        return p if any(p[0]) or any(p[1]) else None

    def run(self, *inputs):
        """Runs the graph once; returns the flat list of output tensors (no autograd)."""
        return self._g.run(list(inputs), self._state)

    def _graphs(self):
        return [self._g] + [b[0] for b in self._bwds.values() if not isinstance(b, str)]

    def release_arenas(self):
        """release_arenas() -> None

        Gives the arenas this graph (and its backward graphs) keep from one run to the next back
        to the allocator; their next run takes new ones. deepseek's own (docs/graphs.md, kept
        arenas)."""
        for g in self._graphs():
            g.release_arenas()

    def kept_arena_bytes(self) -> int:
        """kept_arena_bytes() -> int

        Bytes of arena this graph and its backward graphs keep between runs (0 before a run
        and after ``release_arenas``)."""
        return sum(g.kept_arena_bytes() for g in self._graphs())

    def profile(self, *inputs):
        """profile(*inputs) -> dict

        Runs the graph once, as ``run`` does (no autograd node; a graph that updates state, a
        training step, performs its update), timing every node. Returns a dict:

        * ``outputs``: the outputs, structured as a call returns them;
        * ``nodes``: one dict per node of ``graph.nodes()``, in execution order: ``index``,
          ``kind``, ``op`` and ``seconds`` (wall-clock time of its kernel; 0.0 for views,
          which are layouts, not work);
        * ``setup_seconds``: binding inputs, state and constants and taking the arena;
        * ``total_seconds``: the whole run (setup, nodes and the clock reads);
        * ``by_op``: ``(op, count, seconds)`` summed over the nodes of each op, the most
          time first.

        The numbers are those of one run: repeat it (and discard the first) for stable ones.

        Example::

            >>> p = g.profile(x)
            >>> for op, count, sec in p["by_op"][:5]:
            ...     print(f"{op:24} {count:4} {sec * 1e3:8.2f} ms")
        """
        for i, t in enumerate(inputs):
            if not isinstance(t, Tensor):
                raise TypeError(f"GraphModule.profile: input {i} must be a Tensor, got {type(t).__name__}")
        outs, times, setup, total = self._g.run_profiled(list(inputs), self._state)
        return profile_report(self._g, unflatten(self._spec, iter(outs)), times, setup, total)

    def __call__(self, *inputs):
        for i, t in enumerate(inputs):
            if not isinstance(t, Tensor):
                raise TypeError(f"GraphModule: input {i} must be a Tensor, got {type(t).__name__} (a traced graph takes the tensors it was traced with)")
        pattern = self._pattern(inputs)
        if pattern is not None:
            outs = self._call_with_grad(inputs, self._backward(pattern, inputs))
        else:
            outs = self._g.run(list(inputs), self._state)
        return unflatten(self._spec, iter(outs))

    def _backward(self, pattern, inputs):
        bwd = self._bwds.get(pattern)
        if bwd is None:
            if self.original is None:
                bwd = self._no_backward
            else:
                from ._trace import _trace_backward

                try:
                    bwd = _trace_backward(self.original, inputs, self._named, self._state, memory_budget=self._memory_budget)
                except RuntimeError as e:
                    bwd = str(e)
            self._bwds[pattern] = bwd
        if isinstance(bwd, str):
            raise RuntimeError(
                "GraphModule: gradients are needed (grad mode is on and an input or parameter requires grad) but this graph "
                f"has no backward: {bwd}. Call it under deepseek.no_grad() for inference.")
        return bwd

    def _call_with_grad(self, inputs, bwd):
        wrt = bwd[1]
        leaves = [inputs[i] if kind == "input" else self._state[i] for kind, i in wrt]
        outs = _GraphFunction.apply(self, bwd, list(inputs), *leaves)
        return list(outs) if isinstance(outs, tuple) else [outs]

    def __repr__(self):
        return f"GraphModule(\n{self._g.print()})"


class _GraphFunction(Function):
    """One autograd node for a whole graph: forward runs the forward graph; backward runs the
    backward graph (forward recomputed, then the traced backward) on the output gradients."""

    @staticmethod
    def forward(ctx, gm, bwd, inputs, *leaves):
        ctx.gm, ctx.bwd, ctx.inputs = gm, bwd, inputs
        outs = gm._g.run(inputs, gm._state)
        return tuple(outs) if len(outs) != 1 else outs[0]

    @staticmethod
    def backward(ctx, *grads):
        gm = ctx.gm
        g, wrt, diff, present, bstate = ctx.bwd
        outs_meta = [gm._g.values()[v] for v in gm._g.outputs()]
        gys = []
        for i in diff:
            gy = grads[i]
            if gy is None:
                m = outs_meta[i]
                gy = _core.zeros(list(m["shape"]), m["dtype"], gm._g.buffers()[m["buffer"]]["device"])
            gys.append(gy.contiguous())
        res = iter(g.run(list(ctx.inputs) + gys, bstate))
        return (None, None, None) + tuple(next(res) if p else None for p in present)
