"""``deepseek.jit.trace``: runs a function once, recording every primitive op the core
launches into a static graph (see docs/graphs.md)."""
from __future__ import annotations

import warnings

import numpy as np

from .. import _core
from .._core import Tensor
from ._module import GraphModule, attach_device_kernels, flatten


class TracerWarning(UserWarning):
    """A trace treated something as a constant that may change between calls: a tensor read
    on the host (``item()``, ``bool()``, ``tolist()``), or a tensor made inside the traced
    function by an operation the graph does not record."""


_core.graph_set_tracer_warning(TracerWarning)


def _record(fn, inputs, state, after=None):
    """Traces ``fn(*inputs)`` with ``state`` [(name, tensor)] bound by reference. ``after``
    (optional) maps (inputs, result) to the tensors to return instead, traced too; it may
    declare more inputs by returning (extra_inputs, result). Returns (core graph, spec, result)."""
    _core.graph_trace_begin()
    try:
        for t in inputs:
            _core.graph_trace_input(t)
        for name, t in state:
            _core.graph_trace_state(t, name)
        result = fn(*inputs)
        if after is not None:
            result = after(result)
        flat = []
        spec = flatten(result, flat)
        g, notes = _core.graph_trace_finish(flat)
    except BaseException:
        _core.graph_trace_abort()
        raise
    for n in notes:
        warnings.warn(n, TracerWarning, stacklevel=3)
    return g, spec, result


def _module_state(module, extra=()):
    """(name, tensor) of a module's parameters and buffers, plus ``extra``."""
    state = []
    if module is not None and hasattr(module, "named_parameters"):
        state += list(module.named_parameters())
        state += [(n, b) for n, b in module.named_buffers()]
    return state + list(extra)


def _ordered_state(g, named):
    """The named tensors in the graph's state order (None where the graph binds its own)."""
    by_name = dict(named)
    return [by_name.get(name) if name is not None else None for name, _ in g.state_entries()]


def trace(fn_or_module, example_inputs, *, optimize=True, fuse=True, memory_budget=None):
    """trace(fn_or_module, example_inputs) -> GraphModule

    Runs ``fn_or_module(*example_inputs)`` once and records every primitive op it launches
    (forward, and anything else it runs: in-place updates, host-side constants) into a static
    graph that the core runs in one call. The result is called like the original and gives the
    same results for inputs of the traced shapes, dtypes and devices. A module's parameters and
    buffers are bound by reference (later weight updates are seen).

    As with PyTorch's tracer, Python control flow is captured as it ran: a tensor read on the
    host (``item()``, ``bool()``, ``tolist()``) becomes a constant, with a ``TracerWarning``.

    When gradients are enabled and an input or parameter requires grad, the backward is traced
    too, so calling the result under autograd gives gradients equal to eager ones.

    ``optimize`` runs the graph passes (constant folding, common subexpressions, dead code);
    ``fuse`` (with ``optimize``) also fuses groups of elementwise ops into single
    ``"elementwise"`` nodes: one loop on the CPU, one generated kernel on a device whose
    backend compiles kernels (compiled once, here). Tools that read the graph op by op (ONNX export) pass
    ``fuse=False``. ``memory_budget`` (bytes) bounds the arena of the backward graph (the
    forward recomputed, then the backward): activations are recomputed instead of kept to fit
    (see ``trace_train_step``); a budget no recomputation meets leaves the graph without a
    backward, whose use raises naming the least arena found. deepseek's own keywords.

    Example::

        >>> model = deepseek.nn.Sequential(deepseek.nn.Linear(4, 8), deepseek.nn.ReLU())
        >>> g = deepseek.jit.trace(model, (deepseek.randn(2, 4),))
        >>> y = g(deepseek.randn(2, 4))
        >>> print(g.graph)
    """
    if isinstance(example_inputs, Tensor):
        example_inputs = (example_inputs,)
    example_inputs = tuple(example_inputs)
    for i, t in enumerate(example_inputs):
        if not isinstance(t, Tensor):
            raise TypeError(f"deepseek.jit.trace: example input {i} must be a Tensor, got {type(t).__name__}")
    module = fn_or_module if hasattr(fn_or_module, "named_parameters") else None
    named = _module_state(module)
    g, spec, result = _record(fn_or_module, example_inputs, named)
    if optimize:
        g.optimize(fuse)
    state = _ordered_state(g, named)
    gm = GraphModule(g, state, spec, named=named, original=fn_or_module)
    gm._memory_budget = memory_budget
    gm._fuse = fuse and optimize
    gm._trace_result = result
    pattern = gm._pattern(example_inputs)
    if pattern is not None:  # trace the backward now, while the example inputs are at hand
        try:
            gm._bwds[pattern] = _trace_backward(fn_or_module, example_inputs, named, state, optimize, fuse, memory_budget)
        except RuntimeError as e:
            gm._bwds[pattern] = str(e)
    return gm


def _trace_backward(fn, inputs, named, fwd_state, optimize=True, fuse=True, memory_budget=None):
    """The backward graph: inputs and output gradients in, the gradients of every input and
    state tensor that requires grad out (the forward recomputed inside it)."""
    import deepseek
    from .. import autograd

    wrt = [("input", i) for i, t in enumerate(inputs) if t.requires_grad]
    wrt += [("state", i) for i, t in enumerate(fwd_state) if t is not None and t.requires_grad]
    leaves = [inputs[i] if k == "input" else fwd_state[i] for k, i in wrt]
    diff, present = [], []

    def grads(result):
        flat = []
        flatten(result, flat)
        for i, o in enumerate(flat):
            if o.requires_grad and o.dtype.is_floating_point:
                diff.append(i)
        outs = [flat[i] for i in diff]
        # output gradients are graph inputs: made outside any recorded op, then declared
        gys = [deepseek.from_numpy(np.zeros(list(o.shape), dtype=np.dtype(o._dtype if o._dtype != "bfloat16" else "float32"))) for o in outs]
        gys = [gy if str(gy._device) == str(o._device) else gy.to(o._device) for gy, o in zip(gys, outs)]
        for gy in gys:
            _core.graph_trace_input(gy)
        _core.graph_trace_mark_backward()
        res = autograd.grad(outs, leaves, grad_outputs=gys, allow_unused=True, retain_graph=False)
        present.extend(r is not None for r in res)
        return [r for r in res if r is not None]

    g, _, _ = _record(fn, inputs, named, after=grads)
    if optimize:
        g.optimize(fuse)
    if memory_budget is not None:
        g.apply_memory_budget(memory_budget)
    attach_device_kernels(g)
    for n in g.nodes():
        if n["kind"] != "view":
            for v in n["outputs"]:
                if g.values()[v]["role"] in ("state", "input"):
                    raise RuntimeError("the traced function updates its state or inputs in place (running statistics?), "
                                       "which a backward that recomputes the forward would repeat")
    return g, wrt, diff, present, _ordered_state(g, named)
