"""``deepseek.jit.trace_train_step``: forward, backward and the optimizer update of one
training step as one graph run."""
from __future__ import annotations

from .. import _core
from .._core import Tensor
from ._module import GraphModule, profile_report
from ._trace import _module_state, _ordered_state, _record


def _optimizer_state(optimizer):
    """(name, tensor) of every tensor in the optimizer's state, and the parameters whose state
    counts steps in a Python int (Adam's ``step``: a run-time input of the graph). Refuses
    other Python numbers that change at each step, which a graph would freeze."""
    index = {id(p): i for i, p in enumerate(p for g in optimizer.param_groups for p in g["params"])}
    out, counted = [], []
    for p, st in optimizer.state.items():
        for k, v in st.items():
            if isinstance(v, Tensor):
                out.append((f"optimizer.state.{index.get(id(p), '?')}.{k}", v))
            elif k == "step" and isinstance(v, int) and not isinstance(v, bool):
                counted.append(p)
            elif isinstance(v, (int, float)) and not isinstance(v, bool):
                raise NotImplementedError(
                    f"deepseek.jit.trace_train_step: {type(optimizer).__name__} keeps '{k}' as a Python number that changes at each "
                    "step; a graph would freeze it at its traced value. Use SGD, Adam or AdamW.")
    return out, counted


def _check_step_counts(optimizer, graph, counted):
    """The step counts must reach the graph only through fused AdamW nodes (whose count is a
    run-time input); anywhere else (the per-parameter loop) they would be frozen constants."""
    if not counted:
        return
    updated = sum(len(n["outputs"]) // 3 for n in graph.nodes() if n["kind"] == "fused" and n["op"] == "adamw_step")
    if updated != len(counted):
        raise NotImplementedError(
            f"deepseek.jit.trace_train_step: {type(optimizer).__name__} reads its step count outside the fused AdamW update "
            f"({updated} of {len(counted)} parameters go through it; amsgrad, foreach=False and differentiable=True take the "
            "per-parameter loop), so a graph would freeze the bias correction at its traced step")


def _lr_slots(optimizer, graph, named):
    """For each state entry of ``graph``, the index of the parameter group whose ``lr`` its
    fused update reads at run time (-1: not a parameter), and the groups whose learning rate
    the graph bakes in (a parameter updated outside the fused SGD / AdamW nodes)."""
    group_of = {id(p): gi for gi, grp in enumerate(optimizer.param_groups) for p in grp["params"]}
    by_name = dict(named)
    entries = graph.state_entries()
    slots = [group_of.get(id(by_name.get(name)), -1) if name is not None else -1 for name, _ in entries]
    values = graph.values()
    covered = set()
    for n in graph.nodes():
        if n["kind"] == "fused" and n["op"] in ("sgd_step", "adamw_step"):
            covered.update(values[v]["name"] for v in n["outputs"][:len(n["inputs"])])
    baked = {slots[i] for i, (name, _) in enumerate(entries) if slots[i] >= 0 and name not in covered and by_name[name].grad is not None}
    return slots, baked


class _NoNodes:
    """A graph with no nodes (for the check before tracing)."""

    @staticmethod
    def nodes():
        return []


class TrainStep:
    """One training step as a graph: ``step(inputs, target)`` runs forward, backward and the
    optimizer update in one call into the core and returns the loss (a detached tensor).

    Every call performs exactly one step on the batch it is given. The first call runs
    eagerly (it creates the optimizer's state), the second is traced as it runs, and later
    calls run the graph. Parameters, buffers and optimizer state are updated in place, as in
    eager mode; ``.grad`` is not written by graph runs (gradients live inside the graph, each
    freed once the optimizer has applied it) and is None once the step is traced.
    Adam's and AdamW's step count is a run-time input of the graph: each run counts one more
    step in ``optimizer.state`` and the bias correction reads it, as eager steps do. So is
    each parameter group's learning rate: every run reads ``param_groups[i]["lr"]``, so an
    LR scheduler (``optim.lr_scheduler.StepLR`` ...) stepping between calls works as in
    eager mode.
    """

    def __init__(self, model, loss_fn, optimizer, example_inputs, example_target, memory_budget=None):
        if isinstance(memory_budget, float):
            if not 0.0 < memory_budget <= 1.0:
                raise ValueError(f"trace_train_step: a float memory_budget is a fraction of the unbudgeted arena, in (0, 1], got {memory_budget!r}")
        elif memory_budget is not None and (not isinstance(memory_budget, int) or isinstance(memory_budget, bool) or memory_budget < 0):
            raise TypeError(f"trace_train_step: memory_budget must be a number of bytes (an int >= 0), a fraction of the "
                            f"unbudgeted arena (a float in (0, 1]) or None, got {memory_budget!r}")
        self.model, self.loss_fn, self.optimizer = model, loss_fn, optimizer
        self.memory_budget = memory_budget
        self._report = None
        self._example = (tuple(example_inputs) if isinstance(example_inputs, (tuple, list)) else (example_inputs,), example_target)
        self._calls = 0
        self.graph_module = None

    def _eager(self, xs, y, traced=False):
        self.optimizer.zero_grad(set_to_none=True)
        loss = self.loss_fn(self.model(*xs), y)
        if traced:
            _core.graph_trace_mark_backward()
        loss.backward()
        self.optimizer.step()
        return loss.detach()

    def _batch(self, inputs, target, what):
        """The inputs as a tuple, checked against the example's shapes and dtypes."""
        xs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
        exs, ey = self._example
        for a, b in zip(xs + (target,), exs + (ey,)):
            if tuple(a.shape) != tuple(b.shape) or a.dtype != b.dtype:
                raise RuntimeError(f"{what}: a batch of shape {tuple(a.shape)} ({a.dtype}) does not match the example's {tuple(b.shape)} ({b.dtype})")
        return xs

    def __call__(self, inputs, target):
        xs = self._batch(inputs, target, "trace_train_step")
        self._calls += 1
        if self._calls == 1:
            return self._eager(xs, target)
        if self.graph_module is None:
            tensors, counted = _optimizer_state(self.optimizer)
            per_parameter = any(g.get("amsgrad") or g.get("foreach") is False or g.get("differentiable") for g in self.optimizer.param_groups)
            if counted and per_parameter:  # refuse before the traced step changes anything
                _check_step_counts(self.optimizer, _NoNodes, counted)
            named = _module_state(self.model, tensors)
            from .. import memory

            memory.reset_peak_memory_stats()
            base = memory.memory_allocated()
            g, spec, loss = _record(lambda *a: self._eager(a[:-1], a[-1], traced=True), xs + (target,), named)
            eager_peak = memory.max_memory_allocated() - base
            g.optimize()
            _check_step_counts(self.optimizer, g, counted)
            self._report = self._plan_memory(g, eager_peak)
            self._counted = [(p, self.optimizer.state[p]) for p in counted]
            self._traced_steps = [st["step"] for _, st in self._counted]
            self._lr_slots, self._lr_baked = _lr_slots(self.optimizer, g, named)
            self._traced_lrs = [float(grp["lr"]) for grp in self.optimizer.param_groups]
            self.graph_module = GraphModule(g, _ordered_state(g, named), spec)
            # Graph runs keep gradients inside the graph: the traced eager step's .grad
            # tensors would be stale and hold a copy of every parameter for good. They, and the
            # blocks the eager step left in the allocator's cache (graph runs need only the
            # arena), go back to the system.
            self.optimizer.zero_grad(set_to_none=True)
            for p in self.model.parameters():
                p.grad = None
            memory.empty_cache()
            return loss
        lrs = self._current_lrs()
        return self.graph_module._g.run(list(xs) + [target], self.graph_module._state, self._advance_steps(), lrs)[0]

    def profile(self, inputs, target):
        """profile(inputs, target) -> dict

        Performs one traced step on the batch, as a call does, timing every node of the step's
        graph; returns ``GraphModule.profile``'s dict, whose ``outputs`` is the loss. The step
        must be traced already (it is on the second call).
        """
        if self.graph_module is None:
            raise RuntimeError("TrainStep.profile: the step is not traced yet (the first call runs eagerly, the second "
                               "traces); call the step twice before profiling it")
        xs = self._batch(inputs, target, "TrainStep.profile")
        self._calls += 1
        lrs = self._current_lrs()
        g = self.graph_module._g
        outs, times, setup, total = g.run_profiled(list(xs) + [target], self.graph_module._state, self._advance_steps(), lrs)
        return profile_report(g, outs[0], times, setup, total)

    def _current_lrs(self):
        """Each state entry's learning rate now (``param_groups[i]["lr"]``, as an LR scheduler
        set it; NaN for state that is no parameter): a run-time input of the graph."""
        groups = self.optimizer.param_groups
        now = [float(grp["lr"]) for grp in groups]
        for gi in self._lr_baked:
            if now[gi] != self._traced_lrs[gi]:
                raise NotImplementedError(
                    f"trace_train_step: param_groups[{gi}]['lr'] changed from {self._traced_lrs[gi]} to {now[gi]}, but "
                    f"{type(self.optimizer).__name__} updates some of its parameters outside the fused SGD/AdamW update "
                    "(foreach=False, amsgrad or a sparse gradient), where the graph froze the traced learning rate")
        return [now[gi] if gi >= 0 else float("nan") for gi in self._lr_slots]

    def _plan_memory(self, g, eager_peak):
        """Applies ``memory_budget`` (recomputing activations in the backward) and returns
        the report ``memory_report`` gives."""
        # with no budget, a budget nothing exceeds: the plan keeps every activation
        budget = 1 << 62 if self.memory_budget is None else self.memory_budget
        if isinstance(budget, float):  # a fraction of the arena with every activation kept
            budget = int(budget * sum(n for _, n in g.memory_plan()[0]))
        r = g.apply_memory_budget(budget)
        made_by = {v: n["op"] for n in g.nodes() for v in n["outputs"]}
        return {
            "memory_budget": budget if self.memory_budget is not None else None,
            "planned_peak_bytes": r["arena_bytes"],
            "outside_arena_bytes": sum(g.outside_arena()),
            "unbudgeted_peak_bytes": r["arena_bytes_before"],
            "peak_before_reorder_bytes": r["arena_bytes_before_reorder"],
            "eager_peak_bytes": eager_peak,
            "kept": len(r["kept"]),
            "kept_bytes": r["kept_bytes"],
            "recomputed": [made_by.get(v, "?") for v in r["recomputed"]],
            "recomputed_bytes": r["recomputed_bytes"],
            "extra_flops": r["extra_flops"],
        }

    def memory_report(self):
        """memory_report() -> dict

        The memory plan of the traced step (None before the step is traced, on the second
        call): ``planned_peak_bytes`` (the arena the graph allocates for activations,
        gradients and temporaries), ``outside_arena_bytes`` (the tensors a run allocates
        beyond it: its results, the loss), ``unbudgeted_peak_bytes`` (that arena without
        ``memory_budget``), ``eager_peak_bytes`` (the allocator's peak growth during the
        traced eager step; tracing resets the peak statistics, as
        ``deepseek.memory.reset_peak_memory_stats`` does), ``peak_before_reorder_bytes``
        (the planned arena before the schedule was reordered to lower it: ops moved as late
        as their readers allow or as early as their inputs die, results unchanged), ``kept`` / ``kept_bytes`` (forward results the backward reads,
        kept alive until then), ``recomputed`` (the ops recomputed in the backward instead)
        with ``recomputed_bytes`` and ``extra_flops``.
        """
        return None if self._report is None else dict(self._report)

    def _advance_steps(self):
        """Counts one more step in the optimizer's state (as ``step()`` would) and returns how
        far the counts now are past their traced values (the graph's run-time step input)."""
        deltas = set()
        for (p, st), t0 in zip(self._counted, self._traced_steps):
            st["step"] += 1
            deltas.add(st["step"] - t0)
        if len(deltas) > 1:
            raise RuntimeError("trace_train_step: the optimizer's step counts changed outside the traced step "
                               "(they no longer advance together)")
        return deltas.pop() if deltas else 0


def trace_train_step(model, loss_fn, optimizer, example_inputs, example_target, *, memory_budget=None):
    """trace_train_step(model, loss_fn, optimizer, example_inputs, example_target, *, memory_budget=None) -> TrainStep

    A callable ``step(inputs, target) -> loss`` doing ``zero_grad``, ``loss_fn(model(inputs),
    target)``, ``backward`` and ``optimizer.step()`` as one graph run (see ``TrainStep``).
    deepseek's own: PyTorch has no single-call equivalent.

    ``memory_budget`` bounds the arena the graph allocates for activations, gradients and
    temporaries: an int is bytes, a float in (0, 1] a fraction of the arena the step needs
    with no budget (``memory_budget=0.5``: half of it). Forward results are recomputed in the
    backward instead of kept, the cheapest per byte saved first (batch norms and ReLUs from
    the kept convolution outputs before any convolution), until the planned peak fits (the
    results are unchanged). A budget that no recomputation reaches raises a RuntimeError
    naming the least arena found, when the step is traced (the second call).
    ``step.memory_report()`` describes the plan (``memory_budget`` there in bytes).

    Example::

        >>> step = deepseek.jit.trace_train_step(model, F.mse_loss, opt, x, y)
        >>> for x, y in batches:
        ...     loss = step(x, y)
    """
    return TrainStep(model, loss_fn, optimizer, example_inputs, example_target, memory_budget)
