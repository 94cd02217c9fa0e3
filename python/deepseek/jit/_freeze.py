"""``deepseek.jit.freeze``: a traced inference graph with its weights inlined as constants."""
from __future__ import annotations

from ._module import GraphModule


def freeze(mod, preserved_attrs=None, optimize_numerics=True):
    """freeze(mod, preserved_attrs=None, optimize_numerics=True) -> GraphModule

    PyTorch's ``torch.jit.freeze`` for traced graphs: returns a new ``GraphModule`` whose
    parameters and buffers are copied into the graph as constants (those the graph writes,
    such as training-mode running statistics, stay bound by reference), so the passes can
    precompute everything that depends on weights alone. The original graph and module are
    unchanged; later updates of the module's weights are not seen by the frozen graph.

    With ``optimize_numerics`` (the default), an eval-mode batch norm after a convolution
    (``F.batch_norm``, or the zoo's fused batch norm + residual add + ReLU) is folded into the
    convolution's weight and one bias add, which elementwise fusion joins with the residual
    add and ReLU after it; results then differ from the unfrozen graph's by rounding only. A
    batch norm with no convolution to fold into keeps its one-pass kernel. ``preserved_attrs`` names state (``"fc.weight"``) to keep by reference.
    A frozen graph is for inference: it has no backward.

    Example::

        >>> g = deepseek.jit.freeze(deepseek.jit.trace(model.eval(), (x,)))
        >>> with deepseek.no_grad():
        ...     y = g(x)
    """
    if not isinstance(mod, GraphModule):
        raise TypeError(f"deepseek.jit.freeze: expected a GraphModule (from deepseek.jit.trace), got {type(mod).__name__}")
    if getattr(mod.original, "training", False):
        raise RuntimeError("deepseek.jit.freeze: freezing is only implemented for modules in eval mode; call .eval() on the module before tracing it")
    preserved = set(preserved_attrs or ())
    entries = mod._g.state_entries()
    unknown = preserved - {name for name, _ in entries if name is not None}
    if unknown:
        raise RuntimeError(f"deepseek.jit.freeze: preserved_attrs names {sorted(unknown)}, which the graph does not read "
                           f"(its state: {[name for name, _ in entries if name is not None][:8]}...)")
    keep = [name in preserved for name, _ in entries]
    g, _, folded = mod._g.frozen(list(mod._state), keep, getattr(mod, "_fuse", True), bool(optimize_numerics))
    # the state left (written by the graph, or preserved) binds the tensors the graph bound
    bound = {name: t for (name, _), t in zip(entries, mod._state) if name is not None}
    state = [bound.get(name) if name is not None else None for name, _ in g.state_entries()]
    out = GraphModule(g, state, mod._spec, named=mod._named, original=None)
    out._no_backward = "a frozen graph is for inference"
    out._folded_convs = folded
    return out
