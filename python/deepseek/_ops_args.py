"""Argument handling shared by every layer of the functional API: tensor checks, ``dim``
arguments (wrapped and validated here and nowhere else), ``out=``, and the float32 working
dtype composites use for float16/bfloat16 inputs. ``deepseek._ops_math`` and the layers after
it import these; nothing here imports them.
"""
from __future__ import annotations

import operator

from . import _core
from ._core import Tensor


def _check_tensor(op, x, name="input"):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}(): argument '{name}' must be Tensor, not {type(x).__name__}")


# ---------- dim arguments: every op checks its dims here, and nowhere else ----------

def _int_arg(op, value, name):
    """``value`` as a Python int. Ints, NumPy integers and integer 0-d tensors pass (through
    ``__index__``); a bool, a float or anything else is a TypeError, as in PyTorch."""
    if not isinstance(value, bool):
        try:
            return operator.index(value)
        except TypeError:
            pass
    raise TypeError(f"{op}(): argument '{name}' must be int, not {type(value).__name__}")


def _wrap_dim(op, dim, input, *, name="dim", new=False):
    """``dim`` of ``input`` as an index in ``[0, N)``, or PyTorch's IndexError.

    N is ``input.ndim``, or ``input.ndim + 1`` with ``new=True`` (the dim ``unsqueeze`` and
    ``stack`` insert). A 0-d tensor takes dims 0 and -1, as PyTorch's ``wrap_scalar`` does.
    """
    d = _int_arg(op, dim, name)
    n = max(input.ndim + new, 1)
    if not -n <= d < n:
        raise IndexError(
            f"{op}(): Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {d}) "
            f"for a tensor of shape {tuple(input.shape)}"
        )
    return d + n if d < 0 else d


def _wrap_dims(op, dims, input, *, name="dim"):
    """A dim or a sequence of dims, each through :func:`_wrap_dim`; a dim named twice (as 1
    and -1, say) is PyTorch's RuntimeError."""
    seq = isinstance(dims, (list, tuple)) or (isinstance(dims, Tensor) and dims.ndim > 0)
    out = []
    for d in (dims if seq else [dims]):
        w = _wrap_dim(op, d, input, name=name)
        if w in out:
            raise RuntimeError(f"{op}(): dim {w} appears multiple times in the list of dims {list(dims)} "
                               f"for a tensor of shape {tuple(input.shape)}")
        out.append(w)
    return out


def _reduce_dims(op, dim, input):
    """The dims a reduction runs over; ``None`` and an empty list mean every dim ([])."""
    if dim is None or (isinstance(dim, (list, tuple)) and len(dim) == 0):
        return []
    return _wrap_dims(op, dim, input)


def _no_dims(op, input, dim):
    """PyTorch's IndexError for a dim of a 0-d tensor where the op needs a real dim."""
    if input.ndim == 0:
        raise IndexError(f"{op}(): Dimension specified as {dim} but tensor has no dimensions")


# ---------- narrow dtypes: composites accumulate in float32, as PyTorch's kernels do ----------

_HALF = ("float16", "bfloat16")
_FLOATS = ("float16", "bfloat16", "float32", "float64")


def _widen(input):
    """(``input`` in float32, the dtype to round the result to) for float16/bfloat16, whose
    sums, squares and exponentials overflow at 65504 (float16) or lose bits at every step;
    (``input``, None) for the other dtypes."""
    if input._dtype in _HALF:
        return _core.cast(input, "float32"), input._dtype
    return input, None


def _narrow(r, dtype):
    """The result of a widened composite rounded once to ``dtype`` (None: unchanged)."""
    return r if dtype is None else _core.cast(r, dtype)


def _fused_float(*ts):
    """Whether the core's fused CPU kernels take these tensors: float32/float64 on the CPU
    (everything else composes the op from primitives, with the same meaning)."""
    for t in ts:
        if t._device != "cpu" or t._dtype not in ("float32", "float64"):
            return False
    return True


def _fused_bool_or_float(t):
    """A mask the fused attention softmax takes: boolean or float32/float64, on the CPU."""
    return t._device == "cpu" and t._dtype in ("bool", "float32", "float64")


def _out(r, out):
    if out is None:
        return r
    out.copy_(r)
    return out
