"""``autograd.Function``: forward and backward written in Python, linked into the core's graph."""
from __future__ import annotations

from .. import _core
from .._core import Tensor


class FunctionCtx:
    """The ``ctx`` passed to ``forward`` and ``backward``."""

    def __init__(self):
        self._saved = ()
        self._versions = ()
        self.needs_input_grad = ()
        self.materialize_grads = True
        self._non_diff = set()

    def save_for_backward(self, *tensors):
        self._saved = tensors
        self._versions = tuple(t._version if isinstance(t, Tensor) else None for t in tensors)

    @property
    def saved_tensors(self):
        for t, v in zip(self._saved, self._versions):
            if isinstance(t, Tensor) and t._version != v:
                raise RuntimeError(
                    "one of the variables needed for gradient computation has been modified by an inplace operation: "
                    f"[{t.dtype} {list(t.shape)}] is at version {t._version}; expected version {v} instead."
                )
        return self._saved

    def mark_non_differentiable(self, *tensors):
        self._non_diff.update(id(t) for t in tensors)

    def mark_dirty(self, *tensors):
        pass

    def set_materialize_grads(self, value: bool):
        self.materialize_grads = value


class Function:
    """Subclass with static ``forward(ctx, *args)`` and ``backward(ctx, *grads)``; call
    ``YourFunction.apply(*args)``.

    Example::

        class Square(Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return x * x

            @staticmethod
            def backward(ctx, g):
                (x,) = ctx.saved_tensors
                return 2 * x * g
    """

    @classmethod
    def apply(cls, *args, **kwargs):
        ctx = FunctionCtx()
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        prev = _core.set_grad_enabled(False)
        try:
            out = cls.forward(ctx, *args, **kwargs)
        finally:
            _core.set_grad_enabled(prev)
        single = not isinstance(out, tuple)
        outs = (out,) if single else out
        tensor_pos = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        ins = [args[i] for i in tensor_pos]
        # an output that is one of the inputs gets its own autograd identity
        fixed = []
        for o in outs:
            if isinstance(o, Tensor) and any(o._same(i) for i in ins):
                o = o.detach()
            fixed.append(o)
        outs = tuple(fixed)
        diff_outs = [o for o in outs if isinstance(o, Tensor) and id(o) not in ctx._non_diff and o.dtype.is_floating_point]
        shapes = [(list(o.shape), o._dtype, o._device) for o in diff_outs]

        def backward(*grads):
            gs = []
            for g, (shape, dt, dv) in zip(grads, shapes):
                if g is None and ctx.materialize_grads:
                    g = _core.zeros(shape, dt, dv)
                gs.append(g)
            r = cls.backward(ctx, *gs)
            if not isinstance(r, tuple):
                r = (r,)
            if len(r) != len(args):
                if len(r) > len(args) and all(x is None for x in r[len(args):]):
                    r = r[: len(args)]
                else:
                    raise RuntimeError(f"function {cls.__name__}Backward returned an incorrect number of gradients (expected {len(args)}, got {len(r)})")
            return tuple(r[i] for i in tensor_pos)

        if diff_outs:
            _core.record_function(cls.__name__ + "Backward", ins, diff_outs, backward)
        return outs[0] if single else outs

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("You must implement the forward function for custom autograd.Function.")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("You must implement the backward function for custom autograd.Function.")


def once_differentiable(fn):
    return fn
