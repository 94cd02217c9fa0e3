"""``deepseek.compile``: trace on first call, retrace when the inputs change (guards)."""
from __future__ import annotations

from collections import OrderedDict

from .. import _core
from .._core import Tensor
from ._freeze import freeze
from ._trace import trace


class CompiledModule:
    """Calls ``fn`` through traced graphs, one per guard key: the tensor arguments' shapes,
    dtypes, devices and requires_grad (keyword arguments too), the other arguments' values,
    grad mode and (for a module) ``training``. A new key traces again (that call returns the traced run's own
    result); the ``cache_size`` most recent graphs are kept."""

    def __init__(self, fn, cache_size=8, memory_budget=None, freezing=False):
        self.fn = fn
        self.freezing = freezing
        self.cache_size = cache_size
        self.memory_budget = memory_budget
        self.cache = OrderedDict()
        self.traces = 0  # how many times a new key was traced
        self._last = None  # the graph of the last call

    def _switch_to(self, gm):
        """A graph keeps its arena between runs; when a call takes another graph than the
        last one, the last one gives its arena back, so that the module holds the arena of one
        graph, not of every shape seen."""
        if self._last is not None and self._last is not gm:
            self._last.release_arenas()
        self._last = gm

    def _key(self, args, kwargs):
        parts = []
        for a in list(args) + [kwargs[k] for k in sorted(kwargs)]:
            if isinstance(a, Tensor):
                parts.append(("T", tuple(a.shape), str(a.dtype), str(a.device), a.requires_grad))
            else:
                parts.append(("V", repr(a)))
        return (tuple(parts), tuple(sorted(kwargs)), _core.is_grad_enabled(), getattr(self.fn, "training", None))

    def __call__(self, *args, **kwargs):
        key = self._key(args, kwargs)
        names = sorted(kwargs)
        flat = list(args) + [kwargs[k] for k in names]
        gm = self.cache.get(key)
        if gm is not None:
            self.cache.move_to_end(key)
            self._switch_to(gm)
            return gm(*[a for a in flat if isinstance(a, Tensor)])
        pos = [i for i, a in enumerate(flat) if isinstance(a, Tensor)]
        fixed = list(flat)
        n_args = len(args)

        def call(*tensors):
            for i, t in zip(pos, tensors):
                fixed[i] = t
            return self.fn(*fixed[:n_args], **dict(zip(names, fixed[n_args:])))

        if hasattr(self.fn, "named_parameters"):
            call.named_parameters = self.fn.named_parameters
            call.named_buffers = self.fn.named_buffers
        tensors = tuple(flat[i] for i in pos)
        gm = trace(call, tensors, memory_budget=self.memory_budget)
        result = gm._trace_result
        if self.freezing and gm._pattern(tensors) is None and not getattr(self.fn, "training", False):
            gm = freeze(gm)  # inference: weights inlined, batch norms folded into convolutions
        self.traces += 1
        self._switch_to(gm)
        self.cache[key] = gm
        while len(self.cache) > self.cache_size:
            self.cache.popitem(last=False)
        return result

    def __getattr__(self, name):
        return getattr(self.__dict__["fn"], name)


def compile(model=None, *, fullgraph=False, dynamic=None, backend=None, mode=None, options=None, disable=False, cache_size=8,
            memory_budget=None):
    """compile(model=None, *, fullgraph=False, dynamic=None, backend=None, mode=None, options=None, disable=False, memory_budget=None)

    PyTorch's entry point: returns ``model`` wrapped so that each call runs a traced static
    graph (``deepseek.jit.trace``), traced on the first call and again whenever the inputs'
    shapes, dtypes, devices or requires_grad, grad mode or ``training`` change. The other
    arguments are accepted for compatibility; ``disable=True`` returns ``model`` unchanged.
    ``options={"freezing": True}`` (Inductor's option) freezes the graphs of inference calls
    (grad disabled or nothing requiring grad, the module in eval mode) as
    ``deepseek.jit.freeze`` does: weights become constants and batch norms fold into the
    convolutions before them, so later weight updates are not seen.
    Usable as a decorator (``@deepseek.compile``). ``memory_budget`` (bytes, deepseek's own)
    bounds the arena of the backward graphs (forward recomputed, then the backward):
    activations are recomputed instead of kept to fit, as in ``trace_train_step``.

    Example::

        >>> fast = deepseek.compile(model)
        >>> y = fast(x)          # traces
        >>> y = fast(x2)         # runs the graph
    """
    if model is None:
        return lambda m: compile(m, fullgraph=fullgraph, dynamic=dynamic, backend=backend, mode=mode, options=options, disable=disable,
                                 cache_size=cache_size, memory_budget=memory_budget)
    if disable:
        return model
    freezing = bool((options or {}).get("freezing", False))
    return CompiledModule(model, cache_size=cache_size, memory_budget=memory_budget, freezing=freezing)
