"""``deepseek.jit.trace_train_step``: forward, backward and the optimizer update of one
training step as one graph run."""
from __future__ import annotations

from .. import _core
from .._core import Tensor
from ._module import GraphModule
from ._trace import _module_state, _ordered_state, _record


def _optimizer_state(optimizer):
    """(name, tensor) of every tensor in the optimizer's state; refuses Python numbers that
    change at each step (a step count), which a graph would freeze at their traced value."""
    index = {id(p): i for i, p in enumerate(p for g in optimizer.param_groups for p in g["params"])}
    out = []
    for p, st in optimizer.state.items():
        for k, v in st.items():
            if isinstance(v, Tensor):
                out.append((f"optimizer.state.{index.get(id(p), '?')}.{k}", v))
            elif isinstance(v, (int, float)) and not isinstance(v, bool):
                raise NotImplementedError(
                    f"deepseek.jit.trace_train_step: {type(optimizer).__name__} keeps '{k}' as a Python number that changes at each "
                    "step; a graph would freeze it at its traced value. Use an optimizer whose state is all tensors (SGD).")
    return out


class TrainStep:
    """One training step as a graph: ``step(inputs, target)`` runs forward, backward and the
    optimizer update in one call into the core and returns the loss (a detached tensor).

    Every call performs exactly one step on the batch it is given. The first call runs
    eagerly (it creates the optimizer's state), the second is traced as it runs, and later
    calls run the graph. Parameters, buffers and optimizer state are updated in place, as in
    eager mode; ``.grad`` is not written by graph runs (gradients live inside the graph).
    """

    def __init__(self, model, loss_fn, optimizer, example_inputs, example_target):
        self.model, self.loss_fn, self.optimizer = model, loss_fn, optimizer
        self._example = (tuple(example_inputs) if isinstance(example_inputs, (tuple, list)) else (example_inputs,), example_target)
        self._calls = 0
        self.graph_module = None

    def _eager(self, xs, y):
        self.optimizer.zero_grad(set_to_none=True)
        loss = self.loss_fn(self.model(*xs), y)
        loss.backward()
        self.optimizer.step()
        return loss.detach()

    def __call__(self, inputs, target):
        xs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
        exs, ey = self._example
        for a, b in zip(xs + (target,), exs + (ey,)):
            if tuple(a.shape) != tuple(b.shape) or a.dtype != b.dtype:
                raise RuntimeError(f"trace_train_step: a batch of shape {tuple(a.shape)} ({a.dtype}) does not match the example's {tuple(b.shape)} ({b.dtype})")
        self._calls += 1
        if self._calls == 1:
            return self._eager(xs, target)
        if self.graph_module is None:
            named = _module_state(self.model, _optimizer_state(self.optimizer))
            g, spec, loss = _record(lambda *a: self._eager(a[:-1], a[-1]), xs + (target,), named)
            g.optimize()
            self.graph_module = GraphModule(g, _ordered_state(g, named), spec)
            return loss
        return self.graph_module._g.run(list(xs) + [target], self.graph_module._state)[0]


def trace_train_step(model, loss_fn, optimizer, example_inputs, example_target):
    """trace_train_step(model, loss_fn, optimizer, example_inputs, example_target) -> TrainStep

    A callable ``step(inputs, target) -> loss`` doing ``zero_grad``, ``loss_fn(model(inputs),
    target)``, ``backward`` and ``optimizer.step()`` as one graph run (see ``TrainStep``).
    deepseek's own: PyTorch has no single-call equivalent.

    Example::

        >>> step = deepseek.jit.trace_train_step(model, F.mse_loss, opt, x, y)
        >>> for x, y in batches:
        ...     loss = step(x, y)
    """
    return TrainStep(model, loss_fn, optimizer, example_inputs, example_target)
