"""Finite-difference checks of analytic gradients."""
from __future__ import annotations

import numpy as np

from .. import _core
from .._core import Tensor


class GradcheckError(RuntimeError):
    pass


def _outputs(fn, inputs):
    out = fn(*inputs)
    return (out,) if isinstance(out, Tensor) else tuple(o for o in out if isinstance(o, Tensor))


def _numeric_jacobian(fn, inputs, i, eps):
    x = inputs[i]
    base = x.detach()
    flat = np.asarray(base).reshape(-1) if base.is_contiguous() else None
    if flat is None:
        raise GradcheckError("gradcheck needs contiguous inputs")
    cols = []
    # Gradient recording stays on: `fn` may itself call autograd.grad (gradgradcheck).
    outs0 = _outputs(fn, inputs)
    for k in range(flat.size):
        old = flat[k]
        flat[k] = old + eps
        plus = [np.asarray(o.detach()).astype(np.float64).reshape(-1).copy() for o in _outputs(fn, inputs)]
        flat[k] = old - eps
        minus = [np.asarray(o.detach()).astype(np.float64).reshape(-1).copy() for o in _outputs(fn, inputs)]
        flat[k] = old
        cols.append(np.concatenate([(p - m) / (2 * eps) for p, m in zip(plus, minus)]) if plus else np.zeros(0))
    n_out = sum(o.numel() for o in outs0)
    return np.stack(cols, axis=1) if cols else np.zeros((n_out, 0))


def _analytic_jacobian(fn, inputs, diff_idx):
    from . import grad

    outs = _outputs(fn, inputs)
    n_out = sum(o.numel() for o in outs)
    jac = {i: np.zeros((n_out, inputs[i].numel())) for i in diff_idx}
    row = 0
    for o in outs:
        for k in range(o.numel()):
            g = _core.zeros(list(o.shape), o._dtype)
            np.asarray(g).reshape(-1)[k] = 1.0
            if not o.requires_grad:
                row += 1
                continue
            gs = grad([o], [inputs[i] for i in diff_idx], [g], retain_graph=True, allow_unused=True)
            for i, gi in zip(diff_idx, gs):
                if gi is not None:
                    jac[i][row] = np.asarray(gi.detach()).astype(np.float64).reshape(-1)
            row += 1
    return jac


def gradcheck(func, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, **_ignored):
    """gradcheck(func, inputs, eps=1e-6, atol=1e-5, rtol=1e-3): compares autograd's Jacobian
    with central finite differences. Use float64 inputs with ``requires_grad=True``."""
    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    diff_idx = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    for i in diff_idx:
        if inputs[i].dtype.name != "float64":
            import warnings

            warnings.warn(f"gradcheck: input {i} is {inputs[i].dtype}, not float64; the check may fail from rounding alone")
    analytic = _analytic_jacobian(func, inputs, diff_idx)
    for i in diff_idx:
        num = _numeric_jacobian(func, inputs, i, eps)
        a = analytic[i]
        if a.shape != num.shape or not np.allclose(a, num, rtol=rtol, atol=atol):
            msg = f"Jacobian mismatch for output 0 with respect to input {i},\nnumerical:{num}\nanalytical:{a}\n"
            if raise_exception:
                raise GradcheckError(msg)
            return False
    return True


def gradgradcheck(func, inputs, grad_outputs=None, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, **_):
    """Checks second derivatives: the gradient of ``func`` (built with create_graph) is
    itself checked with ``gradcheck``."""
    from . import grad

    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    diff_idx = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    outs0 = _outputs(func, inputs)
    gos = grad_outputs or [_core.randn(list(o.shape), o._dtype) for o in outs0]

    def first_grad(*xs):
        outs = _outputs(func, xs)
        gs = grad(list(outs), [xs[i] for i in diff_idx], list(gos), create_graph=True, allow_unused=True)
        return tuple(g for g in gs if g is not None)

    return gradcheck(first_grad, inputs, eps=eps, atol=atol, rtol=rtol, raise_exception=raise_exception)
