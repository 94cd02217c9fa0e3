"""A fuzz case, independent of the library that runs it.

A tensor argument is a :class:`T`: NumPy storage (float64 holding values exactly
representable in the dtype, or the integer/bool type itself) plus a view recipe, so
deepseek, PyTorch and the NumPy reference all see the same values with the same strides.
This module is imported by the worker, so it needs nothing beyond NumPy.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

FLOATS = ("float16", "bfloat16", "float32", "float64")
INTS = ("uint8", "int8", "int16", "int32", "int64")
DTYPES = ("bool",) + INTS + FLOATS
VIEWS = ("contiguous", "transposed", "sliced", "expanded", "flipped")

# machine epsilon, largest finite, smallest normal and smallest subnormal per float dtype
FINFO = {
    "float16": (2.0 ** -10, 65504.0, 2.0 ** -14, 2.0 ** -24),
    "bfloat16": (2.0 ** -7, 3.3895313892515355e38, 2.0 ** -126, 2.0 ** -133),
    "float32": (2.0 ** -23, float(np.finfo(np.float32).max), 2.0 ** -126, 2.0 ** -149),
    "float64": (2.0 ** -52, float(np.finfo(np.float64).max), 2.0 ** -1022, 5e-324),
}


def iinfo(dtype):
    """(min, max) of an integer dtype name (bool: (0, 1))."""
    if dtype == "bool":
        return 0, 1
    i = np.iinfo(np.dtype(dtype))
    return int(i.min), int(i.max)


def storage_dtype(dtype):
    """The NumPy type that holds a tensor's values: float64 for every float dtype."""
    return np.float64 if dtype in FLOATS else np.dtype(dtype)


def round_bf16(a):
    """float64 values rounded to the nearest bfloat16 (ties to even), as float64."""
    a = np.asarray(a, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        f = a.astype(np.float32)
    bits = f.view(np.uint32).astype(np.uint64)
    rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16 << 16).astype(np.uint32)
    out = rounded.view(np.float32).astype(np.float64)
    return np.where(np.isnan(a), np.nan, out)


def round_to(a, dtype):
    """Values of ``a`` converted to ``dtype`` as PyTorch converts them (floats round to
    nearest; integers wrap; bool is ``!= 0``), held in the storage type."""
    a = np.asarray(a)
    with np.errstate(all="ignore"):
        if dtype == "bool":
            return a != 0
        if dtype == "float64":
            return a.astype(np.float64)
        if dtype == "float32":
            return a.astype(np.float32).astype(np.float64)
        if dtype == "float16":
            return a.astype(np.float16).astype(np.float64)
        if dtype == "bfloat16":
            return round_bf16(a)
        if a.dtype.kind == "f":
            # float -> int truncates; out-of-range conversions are undefined, callers avoid them
            return np.trunc(a).astype(np.int64).astype(np.dtype(dtype))
        return a.astype(np.int64).astype(np.dtype(dtype))


def base_shape(shape, view):
    """The storage shape a view recipe starts from."""
    shape = tuple(shape)
    if view == "transposed":
        return shape[::-1]
    if view == "sliced":
        return shape[:-1] + (2 * shape[-1] + 1,)
    if view == "expanded":
        k = expanded_dim(shape)
        return shape[:k] + (1,) + shape[k + 1:]
    return shape


def expanded_dim(shape):
    """The dim an 'expanded' view broadcasts from size 1 (the first dim not of size 1)."""
    return next(i for i, s in enumerate(shape) if s != 1)


def view_applies(shape, view):
    """Whether a recipe is meaningful for this shape (otherwise the case is contiguous)."""
    nd = len(shape)
    if view == "transposed":
        return nd >= 2
    if view in ("sliced", "flipped"):
        return nd >= 1
    if view == "expanded":
        return any(s != 1 for s in shape)
    return True


def apply_view_np(base, view, shape):
    if view == "transposed":
        return base.transpose()
    if view == "sliced":
        return base[..., 1::2]
    if view == "expanded":
        return np.broadcast_to(base, shape)
    if view == "flipped":
        return base[..., ::-1]
    return base


@dataclass(frozen=True)
class DType:
    """A dtype argument (``dtype=float16``), resolved by each library."""

    name: str

    def __repr__(self):
        return f"ds.{self.name}"


@dataclass(eq=False)
class T:
    """A tensor argument: ``base`` storage, its dtype name, and the view taken of it."""

    base: np.ndarray
    dtype: str
    view: str = "contiguous"
    shape: tuple = field(default=())

    @property
    def ndim(self):
        return len(self.shape)

    def array(self):
        """The values this tensor holds (storage type; float64 for float dtypes)."""
        return apply_view_np(self.base, self.view, self.shape)

    def f64(self):
        return np.asarray(self.array(), dtype=np.float64)

    @property
    def expanded_overlap(self):
        """Whether several elements share one memory location (an expanded size > 1)."""
        return self.view == "expanded" and self.shape[expanded_dim(self.shape)] > 1 and 0 not in self.shape

    def __repr__(self):
        return f"T({self.dtype}, {self.shape}, {self.view})"


@dataclass(frozen=True)
class Alias:
    """Another view of the tensor built for argument ``index`` (memory overlap cases)."""

    index: int
    view: str  # "same" | "transposed" | "shifted"

    def __repr__(self):
        return f"Alias({self.index}, {self.view})"


@dataclass
class Call:
    """One call: ``target`` says where ``name`` is looked up (``fn``: the top-level module,
    ``F``: nn.functional, ``method``: on the first argument, ``operator``: Python's
    operator module, ``getitem``/``setitem``: indexing), ``inplace`` that the first
    argument is written (it is compared after the call)."""

    op: str
    target: str
    name: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    inplace: bool = False

    def tensors(self):
        return [a for a in _walk((self.args, self.kwargs)) if isinstance(a, T)]


def _walk(obj):
    if isinstance(obj, (list, tuple)):
        for o in obj:
            yield from _walk(o)
    elif isinstance(obj, dict):
        for o in obj.values():
            yield from _walk(o)
    else:
        yield obj


# ---------------------------------------------------------------------------------------------
# reproducers


def _num(v):
    if isinstance(v, (bool, np.bool_)):
        return "True" if v else "False"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    v = float(v)
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if v == 0 and math.copysign(1, v) < 0:
        return "-0.0"
    r = repr(v)
    return r


def _nested(a):
    if a.ndim == 0:
        return _num(a[()])
    return "[" + ", ".join(_nested(x) for x in a) + "]"


def _tensor_src(t: T, lib, device=None):
    data = _nested(np.asarray(t.base))
    if t.base.size == 0:
        src = f"{lib}.zeros({tuple(t.base.shape)}, dtype={lib}.{t.dtype})"
    else:
        src = f"{lib}.tensor({data}, dtype={lib}.{t.dtype})"
    if device:
        src += f".to({device!r})"
    if t.view == "transposed":
        src += f".permute{tuple(reversed(range(t.ndim)))}"
    elif t.view == "sliced":
        src += "[..., 1::2]"
    elif t.view == "expanded":
        src += f".expand{tuple(t.shape)}"
    elif t.view == "flipped":
        src += ".flip(-1)"
    return src


def _arg_src(a, names, lib):
    if isinstance(a, T):
        return names[id(a)]
    if isinstance(a, Alias):
        base = f"x{a.index}"
        return {"same": base, "transposed": f"{base}.t()", "shifted": f"{base}[1:]"}[a.view]
    if isinstance(a, DType):
        return f"{lib}.{a.name}"
    if isinstance(a, list):
        return "[" + ", ".join(_arg_src(x, names, lib) for x in a) + "]"
    if isinstance(a, tuple):
        inner = ", ".join(_arg_src(x, names, lib) for x in a)
        return f"({inner},)" if len(a) == 1 else f"({inner})"
    if isinstance(a, slice):
        parts = ["" if p is None else _arg_src(p, names, lib) for p in (a.start, a.stop, a.step)]
        return ":".join(parts if a.step is not None else parts[:2]) or ":"
    if a is Ellipsis:
        return "..."
    if isinstance(a, (float, np.floating)):
        s = _num(a)
        return f"float('{s}')" if s in ("nan", "inf", "-inf") else s
    return repr(a)


def render(call: Call, lib="ds", device=None):
    """The call as a few lines of Python (deepseek imported as ``ds``)."""
    names, lines = {}, []
    for i, a in enumerate(call.args):
        if isinstance(a, T):
            names[id(a)] = f"x{i}"
    for i, t in enumerate(call.tensors()):
        if id(t) not in names:
            names[id(t)] = f"t{i}"
    for t in call.tensors():
        lines.append(f"{names[id(t)]} = {_tensor_src(t, lib, device)}")
    args = [_arg_src(a, names, lib) for a in call.args]
    kw = [f"{k}={_arg_src(v, names, lib)}" for k, v in call.kwargs.items()]
    if call.target == "getitem":
        idx = args[1] if len(args) == 2 else ", ".join(args[1:])
        lines.append(f"{args[0]}[{_index_src(call.args[1], names, lib)}]")
    elif call.target == "setitem":
        lines.append(f"{args[0]}[{_index_src(call.args[1], names, lib)}] = {args[2]}")
    elif call.target == "method":
        lines.append(f"{args[0]}.{call.name}({', '.join(args[1:] + kw)})")
    elif call.target == "operator":
        lines.append(f"operator.{call.name}({', '.join(args + kw)})")
    elif call.target == "grad":
        where, fname = call.name.split(".", 1)
        prefix = f"{lib}.nn.functional" if where == "F" else lib
        leaves = [a for a in args if a.startswith("x")]
        lines.append(f"for t in ({', '.join(leaves)},): t.requires_grad_(True)")
        lines.append(f"{prefix}.{fname}({', '.join(args + kw)}).sum().backward()")
        lines.append(f"({', '.join(l + '.grad' for l in leaves)},)")
    else:
        prefix = {"fn": lib, "F": f"{lib}.nn.functional"}[call.target]
        lines.append(f"{prefix}.{call.name}({', '.join(args + kw)})")
    if call.inplace:
        lines.append(f"{args[0]}  # written in place")
    return lines


def _index_src(idx, names, lib):
    if isinstance(idx, tuple):
        return ", ".join(_arg_src(i, names, lib) for i in idx) + ("," if len(idx) == 1 else "")
    return _arg_src(idx, names, lib)


# ---------------------------------------------------------------------------------------------
# what comes back from a worker


@dataclass
class TV:
    """A tensor as it came back: dtype name, shape, values (bfloat16 as float32)."""

    dtype: str
    shape: tuple
    data: np.ndarray

    def __repr__(self):
        return f"tensor({self.data.tolist()!r}, dtype={self.dtype})"


@dataclass
class Outcome:
    """``status``: ok | raised | crash | hang | unavailable (the library has no such op)."""

    status: str
    value: object = None
    after: object = None
    exc: tuple = ()
    message: str = ""
