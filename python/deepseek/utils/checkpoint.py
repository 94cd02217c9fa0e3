"""Activation checkpointing: run a block without keeping its intermediate activations and
recompute them during the backward pass (memory for compute)."""
from __future__ import annotations

from .. import _core
from .._core import Tensor
from ..autograd.function import Function


def _rng_state():
    from .._random import get_rng_state

    return get_rng_state()


def _set_rng_state(state):
    from .._random import set_rng_state

    set_rng_state(state)


class _Checkpoint(Function):
    @staticmethod
    def forward(ctx, run, preserve_rng_state, *args):
        ctx.run = run
        ctx.rng = _rng_state() if preserve_rng_state else None
        ctx.args = args
        ctx.save_for_backward(*[a for a in args if isinstance(a, Tensor)])
        return run(*args)

    @staticmethod
    def backward(ctx, *grads):
        from ..autograd import backward as _backward

        ctx.saved_tensors  # noqa: B018  (refuses inputs modified in place since the forward)
        inputs = []
        for a in ctx.args:
            if isinstance(a, Tensor):
                d = a.detach()
                d.requires_grad_(a.requires_grad)
                inputs.append(d)
            else:
                inputs.append(a)
        if ctx.rng is not None:
            saved = _rng_state()
            _set_rng_state(ctx.rng)
        prev = _core.set_grad_enabled(True)
        try:
            out = ctx.run(*inputs)
        finally:
            _core.set_grad_enabled(prev)
            if ctx.rng is not None:
                _set_rng_state(saved)
        outs = out if isinstance(out, tuple) else (out,)
        pairs = [(o, g) for o, g in zip(outs, grads) if isinstance(o, Tensor) and o.requires_grad and g is not None]
        if pairs:
            _backward([o for o, _ in pairs], [g for _, g in pairs])
        return (None, None) + tuple(i.grad if isinstance(i, Tensor) and i.requires_grad else None for i in inputs)


def checkpoint(function, *args, use_reentrant=None, context_fn=None, determinism_check="default", debug=False,
               preserve_rng_state=True, **kwargs):
    """checkpoint(function, *args, use_reentrant=None, preserve_rng_state=True, **kwargs)

    Runs ``function(*args, **kwargs)`` without saving its activations; the backward pass runs it
    again (with the same random state, so dropout masks match) and backpropagates through the
    recomputation. Gradients reach the tensors in ``args`` and the parameters ``function`` uses.

        >>> y = checkpoint(block, x, use_reentrant=False)
    """
    if kwargs:
        inner = function

        def function(*a):
            return inner(*a, **kwargs)

    if not _core.is_grad_enabled() or not any(isinstance(a, Tensor) and a.requires_grad for a in args) \
            and not _has_params(function):
        return function(*args)
    return _Checkpoint.apply(function, preserve_rng_state, *args)


def _has_params(function):
    params = getattr(function, "parameters", None)
    if params is None:
        owner = getattr(function, "__self__", None)
        params = getattr(owner, "parameters", None)
    return params is not None and any(p.requires_grad for p in params())


def checkpoint_sequential(functions, segments, input, use_reentrant=None, **kwargs):
    """checkpoint_sequential(functions, segments, input, use_reentrant=None): runs a Sequential
    (or a list of modules) in ``segments`` checkpointed chunks; the last chunk runs normally."""
    fns = list(functions.children()) if hasattr(functions, "children") else list(functions)
    n = len(fns)
    size = max(n // segments, 1)

    def run(start, end):
        def f(x):
            for fn in fns[start:end]:
                x = fn(x)
            return x

        return f

    end = -1
    for start in range(0, size * (segments - 1), size):
        end = start + size - 1
        input = checkpoint(run(start, end + 1), input, use_reentrant=use_reentrant, **kwargs)
    return run(end + 1, n)(input)


__all__ = ["checkpoint", "checkpoint_sequential"]
