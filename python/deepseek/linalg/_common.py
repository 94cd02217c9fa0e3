"""What every ``deepseek.linalg`` function shares: argument checks worded as PyTorch's, the
round trip of device tensors through the CPU kernels, PyTorch's named return tuples, the
errors made from a kernel's per-matrix ``info``, and small matrix helpers written with
differentiable ops (the gradients are built from them)."""
from __future__ import annotations

import math

from .. import _core, _ops
from .._core import Tensor
from .._math_extra import _named_tuple

FLOATS = ("float32", "float64", "float16", "bfloat16")
_TORCH_NAMES = {"bool": "Bool", "uint8": "Byte", "int8": "Char", "int16": "Short", "int32": "Int",
                "int64": "Long", "float16": "Half", "bfloat16": "BFloat16", "float32": "Float",
                "float64": "Double"}


def torch_dtype_name(t: Tensor) -> str:
    return _TORCH_NAMES.get(t._dtype, t._dtype)


def check(op: str, A, name: str = "A", *, min_ndim: int = 2, square: bool = False) -> Tensor:
    """``A`` checked as PyTorch's linalg checks it: a Tensor, floating, with at least two dims
    (batches of square matrices when ``square``)."""
    if not isinstance(A, Tensor):
        raise TypeError(f"{op}(): argument '{name}' (position 1) must be Tensor, not {type(A).__name__}")
    if A._dtype not in FLOATS:
        raise RuntimeError(f"{op}: Expected a floating point or complex tensor as input. Got {torch_dtype_name(A)}")
    if A.ndim < min_ndim:
        raise RuntimeError(f"{op}: The input tensor {name} must have at least {min_ndim} dimensions.")
    if square and A.shape[-1] != A.shape[-2]:
        raise RuntimeError(f"{op}: {name} must be batches of square matrices, but they are "
                           f"{A.shape[-2]} by {A.shape[-1]} matrices")
    return A


def same_dtype(op: str, A: Tensor, B: Tensor, names=("A", "B")) -> None:
    if A._dtype != B._dtype:
        raise RuntimeError(f"{op}: Expected {names[0]} and {names[1]} to have the same dtype, but found "
                           f"{names[0]} of type {torch_dtype_name(A)} and {names[1]} of type "
                           f"{torch_dtype_name(B)} instead")


def on_cpu(kernel, *tensors, **kw):
    """Runs a CPU kernel of ``_core`` on ``tensors``, moving device tensors to the CPU and the
    results back to the first tensor's device (the kernels are CPU-only)."""
    dev = tensors[0]._device
    if dev == "cpu":
        return kernel(*tensors, **kw)
    out = kernel(*(t.cpu() for t in tensors), **kw)
    back = lambda t: _core.to_device(t, dev)  # noqa: E731
    return tuple(back(t) for t in out) if isinstance(out, tuple) else back(out)


def raise_info(op: str, info: Tensor, batch_shape, message) -> None:
    """Raises PyTorch's error for the first failed matrix (``info != 0``): ``message(value)``
    prefixed with ``(Batch element k): `` when the input is batched."""
    k, v = _core.linalg_first_failure(info if info._device == "cpu" else info.cpu())
    if k < 0:
        return
    prefix = f"(Batch element {k}): " if len(batch_shape) else ""
    raise _LinAlgError(f"{op}: {prefix}{message(v)}")


class _LinAlgError(RuntimeError):
    """``deepseek.linalg.LinAlgError``: a RuntimeError, as ``torch.linalg.LinAlgError`` is."""


_LinAlgError.__name__ = "LinAlgError"
_LinAlgError.__qualname__ = "LinAlgError"
_LinAlgError.__module__ = "deepseek.linalg"
LinAlgError = _LinAlgError


def named(name: str, fields: str, *values):
    """PyTorch's ``torch.return_types.<name>`` for ``values``."""
    return _named_tuple(name, fields.split())(*values)


def out_(r, out):
    """``r`` copied into ``out`` (a tensor, or a tuple of tensors for a tuple result) when given."""
    if out is None:
        return r
    if isinstance(r, tuple):
        if not isinstance(out, (tuple, list)) or len(out) != len(r):
            raise TypeError(f"out= must be a tuple of {len(r)} tensors")
        for o, v in zip(out, r):
            o.copy_(v)
        return type(r)(*out) if hasattr(r, "_fields") else tuple(out)
    out.copy_(r)
    return out


# ---------- differentiable matrix helpers ----------

def mT(x: Tensor) -> Tensor:
    return _core.transpose(x, -2, -1)


def sym(x: Tensor) -> Tensor:
    return x + mT(x)


def eye_like(x: Tensor, n: int) -> Tensor:
    """An ``n x n`` identity of ``x``'s dtype and device."""
    return _core.eye(n, n, x._dtype, x._device)


def diag_embed(v: Tensor) -> Tensor:
    """Matrices with ``v``'s last dim on their diagonal (``v * I``, differentiable)."""
    n = v.shape[-1]
    return v.unsqueeze(-1) * eye_like(v, n)


def diagonal(x: Tensor) -> Tensor:
    from .._shape_extra import diagonal as _diag

    return _diag(x, 0, -2, -1)


def broadcast_batch(op: str, A: Tensor, B: Tensor, vector_b: bool):
    """``A`` [..., n, n] and ``B`` ([..., n, k], or [..., n] when ``vector_b``) expanded to
    common batch dims (differentiably, so their gradients sum back)."""
    a_batch = list(A.shape[:-2])
    b_batch = list(B.shape[:-1] if vector_b else B.shape[:-2])
    try:
        batch = list(_ops.broadcast_shapes(a_batch, b_batch))
    except RuntimeError:
        raise RuntimeError(f"{op}: Incompatible shapes of A and B for the equation AX = B "
                           f"({tuple(A.shape)} and {tuple(B.shape)})") from None
    A2 = A.expand(*batch, *A.shape[-2:])
    B2 = B.expand(*batch, B.shape[-1]) if vector_b else B.expand(*batch, *B.shape[-2:])
    return A2, B2


def matmul(a: Tensor, b: Tensor) -> Tensor:
    return _core.matmul(a, b)


def prod(shape) -> int:
    return math.prod(shape)
