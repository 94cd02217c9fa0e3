"""Automatic differentiation: ``backward``, ``grad``, grad-mode switches, custom Functions
and ``gradcheck``. The graph and the engine live in the Rust core."""
from __future__ import annotations

import functools
import threading

from .. import _core
from .._core import Tensor
from .function import Function, FunctionCtx, once_differentiable  # noqa: F401
from .gradcheck import gradcheck, gradgradcheck  # noqa: F401


def _as_list(x):
    if x is None:
        return None
    if isinstance(x, Tensor):
        return [x]
    return list(x)


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False)

    Computes the gradients of ``tensors`` and accumulates them into the leaves' ``.grad``.
    """
    ts = _as_list(tensors)
    gs = _as_list(grad_tensors) or [None] * len(ts)
    if retain_graph is None:
        retain_graph = create_graph
    if inputs is not None:
        ins = _as_list(inputs)
        grads = _core.grad(ts, gs, ins, retain_graph, create_graph, True)
        for t, g in zip(ins, grads):
            if g is not None:
                t.grad = g if t.grad is None else t.grad + g
        return
    _core.backward(ts, gs, retain_graph, create_graph)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, allow_unused=None, is_grads_batched=False, materialize_grads=False):
    """grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, allow_unused=False)

    Returns the gradients of ``outputs`` with respect to ``inputs`` without touching ``.grad``.
    """
    outs = _as_list(outputs)
    ins = _as_list(inputs)
    gs = _as_list(grad_outputs) or [None] * len(outs)
    if retain_graph is None:
        retain_graph = create_graph
    if allow_unused is None:
        allow_unused = materialize_grads
    r = _core.grad(outs, gs, ins, retain_graph, create_graph, allow_unused)
    if materialize_grads:
        r = [g if g is not None else _core.zeros(list(i.shape), i._dtype, i._device) for g, i in zip(r, ins)]
    return tuple(r)


class _GradMode:
    """Base for the grad-mode switches: usable as context managers and as decorators."""

    mode = True

    def __enter__(self):
        self.prev = _core.set_grad_enabled(self.mode)
        return self

    def __exit__(self, *exc):
        _core.set_grad_enabled(self.prev)
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*a, **k):
            with self.__class__():
                return fn(*a, **k)

        return wrapper

    def clone(self):
        return self.__class__()


class no_grad(_GradMode):
    """Disables gradient recording (context manager or decorator)."""

    mode = False


class enable_grad(_GradMode):
    """Enables gradient recording (context manager or decorator)."""

    mode = True


class inference_mode(no_grad):
    """Like ``no_grad`` (deepseek has no separate inference tensors); while it is on,
    ``deepseek.is_inference_mode_enabled()`` says so."""

    def __init__(self, mode=True):
        self.mode = not mode
        self._inference = bool(mode)

    def __enter__(self):
        _inference_stack().append(self._inference)
        return super().__enter__()

    def __exit__(self, *exc):
        _inference_stack().pop()
        return super().__exit__(*exc)


_inference_state = threading.local()


def _inference_stack():
    st = getattr(_inference_state, "stack", None)
    if st is None:
        st = _inference_state.stack = []
    return st


class set_grad_enabled(_GradMode):
    """set_grad_enabled(mode): sets gradient recording on or off; as a function call it takes
    effect immediately, as a context manager it restores the previous mode on exit."""

    def __init__(self, mode: bool):
        self.mode = bool(mode)
        self.prev = _core.set_grad_enabled(self.mode)

    def __enter__(self):
        return self

    def __call__(self, fn):
        _core.set_grad_enabled(self.prev)
        mode = self.mode

        @functools.wraps(fn)
        def wrapper(*a, **k):
            with set_grad_enabled(mode):
                return fn(*a, **k)

        return wrapper


def is_grad_enabled() -> bool:
    return _core.is_grad_enabled()


class graph:  # namespace kept for code that imports deepseek.autograd.graph
    pass
