"""Tensor creation: from data and the deterministic factories (random sampling: ``_random``)."""
from __future__ import annotations

import math
import operator

import numpy as np

from . import _core
from ._core import Tensor
from ._dtype import Size, device, get_default_dtype, to_dtype, float32

_NP_FOR = {
    "bool": np.bool_, "uint8": np.uint8, "int8": np.int8, "int16": np.int16, "int32": np.int32,
    "int64": np.int64, "float16": np.float16, "float32": np.float32, "float64": np.float64,
    "complex64": np.complex64, "complex128": np.complex128,
}


# the device factories use when none is given (deepseek.set_default_device); None: the CPU
_DEFAULT_DEVICE = [None]


def _check_device(dev):
    """The core's name for ``dev`` ("cpu", "opencl:0"...), loading its backend on first use;
    None is the default device (``deepseek.set_default_device``), the CPU unless set."""
    if dev is None:
        dev = _DEFAULT_DEVICE[0]
        if dev is None:
            return None
    from ._tensor import _device_name

    name = _device_name(dev)
    return None if name == "cpu" else name


def _on(t, dev):
    """``t`` moved to the core device name ``dev`` (None: stays on the CPU)."""
    return t if dev is None else _core.to_device(t, dev)


# ---------------- number conversion, checked as PyTorch checks it ----------------
# PyTorch converts each Python number it stores (tensor() elements, fill values, range bounds)
# with c10::checked_convert: a value the dtype cannot hold raises instead of wrapping.

_INT_RANGE = {
    "uint8": (0, 2**8 - 1), "int8": (-(2**7), 2**7 - 1), "int16": (-(2**15), 2**15 - 1),
    "int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1),
}
_FLOAT_MAX = {"float16": 65504.0, "bfloat16": 3.3895313892515355e38, "float32": 3.4028234663852886e38, "float64": float("inf"), "complex64": 3.4028234663852886e38, "complex128": float("inf")}
# the C++ type names PyTorch's overflow messages use (Scalar accessors)
_C10_NAME = {
    "bool": "bool", "uint8": "uint8_t", "int8": "int8_t", "int16": "int16_t", "int32": "int", "int64": "int64_t",
    "float16": "at::Half", "bfloat16": "at::BFloat16", "float32": "float", "float64": "double",
    "complex64": "c10::complex<float>", "complex128": "c10::complex<double>",
}


def _is_int(v):
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _overflows(v, name):
    """c10::overflows: whether the number ``v`` does not fit dtype ``name``. Nothing overflows
    bool; ints may wrap into unsigned types from below (-1 -> 255, as two's complement) but
    floats may not; NaN and infinities overflow integer types only."""
    if name == "bool" or isinstance(v, (bool, np.bool_)):
        return False
    if name in _INT_RANGE:
        lo, hi = _INT_RANGE[name]
        if _is_int(v):
            v = int(v)
            return v > hi or v < (-hi if name == "uint8" else lo)
        v = float(v)
        return not math.isfinite(v) or v < lo or v > hi  # exact comparisons: 2.**63 > 2**63 - 1
    if _is_int(v):
        return abs(int(v)) > _FLOAT_MAX[name]
    v = float(v)
    return math.isfinite(v) and abs(v) > _FLOAT_MAX[name]


def _checked_scalar(v, name, op):
    """``v`` (a Python or NumPy number, or a one-element tensor) checked against dtype ``name`` as
    PyTorch's Scalar accessors check a fill value or a range bound."""
    if isinstance(v, Tensor):
        v = v.item()
    if not isinstance(v, (bool, int, float, np.bool_, np.integer, np.floating)):
        raise TypeError(f"{op}(): expected a number, got {type(v).__name__}")
    if _overflows(v, name):
        raise RuntimeError(f"{op}(): value cannot be converted to type {_C10_NAME[name]} without overflow (value {v})")
    return v


def _store_int(v, name):
    """One element of tensor(data) stored into integer dtype ``name`` (PyTorch's unpackIntegral):
    ints must fit int64 first, floats are truncated toward zero."""
    if isinstance(v, (bool, np.bool_)):
        return int(v)
    if _is_int(v):
        if not -(2**63) <= int(v) < 2**63:
            raise RuntimeError(f"Overflow when unpacking long (tensor(): the value {v} does not fit in int64)")
    elif not isinstance(v, (float, np.floating)):
        raise TypeError(f"tensor(): could not convert an element of type {type(v).__name__} to {name}")
    if _overflows(v, name):
        raise RuntimeError(f"tensor(): value cannot be converted to type {name} without overflow (value {v})")
    return int(v)


def _int_array(data, name):
    """Nested Python numbers as an int64 NumPy array of the values PyTorch stores in integer
    dtype ``name`` (the caller's cast to ``name`` then wraps only what PyTorch wraps)."""
    try:
        arr = np.array(data)
    except ValueError as e:
        raise ValueError(f"tensor(): expected a rectangular nested sequence of numbers ({e})") from None
    if arr.dtype.kind in "bi":
        lo, hi = _INT_RANGE[name]
        bad = (arr > hi) | (arr < (-hi if name == "uint8" else lo)) if arr.size else arr.astype(bool)
        if bad.any():
            v = arr[bad].flat[0]
            raise RuntimeError(f"tensor(): value cannot be converted to type {name} without overflow (value {v})")
        return arr.astype(np.int64)
    if arr.dtype.kind == "u":  # NumPy's choice for ints past int64's range
        raise RuntimeError(f"Overflow when unpacking long (tensor(): the value {arr.max()} does not fit in int64)")
    if arr.dtype.kind not in "fO":
        raise TypeError(f"tensor(): could not convert elements of NumPy kind '{arr.dtype.kind}' to {name}")
    if arr.dtype.kind == "f":
        lo, hi = _INT_RANGE[name]
        with np.errstate(invalid="ignore"):
            fine = bool(np.all((arr >= lo) & (arr <= hi) & (np.abs(arr) < 2**53)))
        if fine:  # every element passes the float rule and any int among them was exact
            return np.trunc(arr).astype(np.int64)
    # floats mixed with ints that the float rule would misjudge, or ints beyond int64: each
    # element by PyTorch's rules
    obj = np.array(data, dtype=object)
    if obj.shape != arr.shape or any(isinstance(v, (list, tuple, np.ndarray)) for v in obj.flat):
        raise ValueError("tensor(): expected a rectangular nested sequence of numbers")
    return np.array([_store_int(v, name) for v in obj.flat], dtype=np.int64).reshape(arr.shape)


def _infer_dtype(data):
    """PyTorch's inference: bools -> bool, ints -> int64, any float -> default float dtype."""
    kind = "bool"
    seen = False  # an empty sequence is float, as in PyTorch

    def walk(x):
        nonlocal kind, seen
        if not isinstance(x, (list, tuple)):
            seen = True
        if isinstance(x, Tensor):
            k = "float" if x.dtype.is_floating_point else "complex" if x.dtype.is_complex else ("bool" if x.dtype.name == "bool" else "int")
            _bump(k)
            return
        if isinstance(x, (list, tuple)):
            for v in x:
                walk(v)
            return
        if isinstance(x, (bool, np.bool_)):
            return
        if isinstance(x, (int, np.integer)):
            _bump("int")
            return
        if isinstance(x, (float, np.floating)):
            _bump("float")
            return
        if isinstance(x, (complex, np.complexfloating)):
            _bump("complex")
            return
        raise TypeError(f"tensor(): could not infer dtype of {type(x).__name__}")

    def _bump(k):
        nonlocal kind
        order = {"bool": 0, "int": 1, "float": 2, "complex": 3}
        if order[k] > order[kind]:
            kind = k

    walk(data)
    if not seen:
        kind = "float"
    return {"bool": "bool", "int": "int64", "float": get_default_dtype().name,
            "complex": get_default_dtype().to_complex().name}[kind]


def _from_numpy_copy(arr: np.ndarray, dtype_name: str) -> Tensor:
    # np.ascontiguousarray would turn a 0-d array into a 1-d one
    with np.errstate(over="ignore", invalid="ignore"):  # casts overflow as PyTorch's .to() does
        arr = np.array(arr, dtype=np.float32 if dtype_name == "bfloat16" else _NP_FOR[dtype_name], order="C", copy=True)
    t = _core.from_bytes(arr.tobytes(), list(arr.shape), "float32" if dtype_name == "bfloat16" else dtype_name)
    return _core.cast(t, dtype_name) if dtype_name == "bfloat16" else t


def tensor(data, *, dtype=None, device=None, requires_grad=False, pin_memory=False) -> Tensor:
    """tensor(data, *, dtype=None, device=None, requires_grad=False) -> Tensor

    Builds a new tensor (always a copy) from nested lists, tuples, numbers, NumPy arrays or
    tensors. ``dtype`` is inferred as PyTorch does when not given.

    Example::

        >>> deepseek.tensor([[1., 2.], [3., 4.]], requires_grad=True)
        tensor([[1., 2.],
                [3., 4.]], requires_grad=True)
    """
    dev = _check_device(device)
    if isinstance(data, Tensor):
        t = _core.clone(data.detach())
        if dtype is not None:
            t = _core.cast(t, to_dtype(dtype).name)
    else:
        if isinstance(data, np.ndarray):
            name = to_dtype(dtype).name if dtype is not None else _np_dtype_name(data.dtype)
            t = _from_numpy_copy(data, name)
        else:
            if isinstance(data, (list, tuple)) and any(isinstance(x, Tensor) for x in _flat_first(data)):
                data = _tensors_to_lists(data)
            name = to_dtype(dtype).name if dtype is not None else _infer_dtype(data)
            t = _from_numpy_copy(_array_for(data, name), name)
    t = _on(t, dev)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _array_for(data, name):
    """Nested Python numbers as a NumPy array holding what PyTorch's tensor() stores in dtype
    ``name``: floating dtypes round (past their range: inf), bool takes each value's truth, and
    integer dtypes check every element (see _int_array)."""
    try:
        if name in _INT_RANGE:
            return _int_array(data, name)
        arr = np.array(data, dtype=np.float64 if name in ("float16", "bfloat16", "float32", "float64")
                       else np.complex128 if name in ("complex64", "complex128") else None)
    except ValueError as e:
        if str(e).startswith("tensor():"):
            raise
        raise ValueError(f"tensor(): expected a rectangular nested sequence of numbers ({e})") from None
    if arr.dtype == object:
        obj = np.array(data, dtype=object)
        if name != "bool" or obj.shape != arr.shape or any(isinstance(v, (list, tuple, np.ndarray)) for v in obj.flat):
            raise ValueError("tensor(): expected a rectangular nested sequence of numbers")
        arr = np.array([bool(v) for v in obj.flat], dtype=np.bool_).reshape(obj.shape)
    if arr.dtype.kind == "c" and name not in ("complex64", "complex128"):
        raise TypeError(f"tensor(): can't convert complex to {name}")
    if arr.dtype.kind not in "biufc":
        raise TypeError(f"tensor(): could not convert elements of type {arr.dtype} to {name}")
    return arr


def _flat_first(data):
    out = []
    for x in data:
        if isinstance(x, (list, tuple)):
            out.extend(_flat_first(x))
        else:
            out.append(x)
    return out


def _tensors_to_lists(data):
    if isinstance(data, Tensor):
        return data.tolist()
    if isinstance(data, (list, tuple)):
        return [_tensors_to_lists(x) for x in data]
    return data


def _np_dtype_name(d):
    name = np.dtype(d).name
    if name not in _NP_FOR:
        raise TypeError(
            f"can't convert np.ndarray of type numpy.{name}. The only supported types are: complex128, complex64, float64, float32, float16, int64, int32, int16, int8, uint8, and bool."
        )
    return name


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """as_tensor(data, dtype=None): shares memory with tensors and NumPy arrays when it can."""
    dev = _check_device(device)
    if isinstance(data, Tensor):
        t = data if dtype is None else data.to(dtype)
        return t if device is None else t.to(device)
    if dev is None and isinstance(data, np.ndarray) and (dtype is None or to_dtype(dtype).name == _np_dtype_name(data.dtype)):
        return from_numpy(data)
    return tensor(data, dtype=dtype, device=device)


asarray = as_tensor


def from_numpy(ndarray: np.ndarray) -> Tensor:
    """from_numpy(ndarray) -> Tensor: a tensor sharing the array's memory (writes are seen both ways)."""
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(ndarray).__name__})")
    _np_dtype_name(ndarray.dtype)
    if not ndarray.dtype.isnative:
        raise ValueError("given numpy array has byte order different from the native byte order; convert it first")
    return _core.from_array_interface(ndarray)


def _shape(size):
    if len(size) == 1 and isinstance(size[0], (list, tuple, Size)):
        size = size[0]
    out = []
    for s in size:
        if isinstance(s, Tensor):
            s = int(s)
        if not isinstance(s, (int, np.integer)) or isinstance(s, bool):
            raise TypeError(f"size must be a sequence of ints, but got {type(s).__name__}")
        if not -(2**63) <= int(s) < 2**63:
            raise RuntimeError(f"Overflow when unpacking long (size {int(s)} does not fit in int64)")
        out.append(int(s))
    return out


def _finish(t, requires_grad):
    if requires_grad:
        t.requires_grad_(True)
    return t


def _dt(dtype):
    return to_dtype(dtype).name if dtype is not None else get_default_dtype().name


def empty(*size, dtype=None, device=None, requires_grad=False, **_):
    """empty(*size, dtype=None): uninitialised memory."""
    return _finish(_core.empty(_shape(size), _dt(dtype), _check_device(device)), requires_grad)


def zeros(*size, dtype=None, device=None, requires_grad=False, **_):
    """zeros(*size, dtype=None): a tensor filled with 0."""
    return _finish(_core.zeros(_shape(size), _dt(dtype), _check_device(device)), requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False, **_):
    """ones(*size, dtype=None): a tensor filled with 1."""
    return _finish(_core.full(_shape(size), 1, _dt(dtype), _check_device(device)), requires_grad)


def _number(v):
    """A fill value as a plain Python bool, int or float (tensors and NumPy scalars unwrapped)."""
    if isinstance(v, Tensor):
        v = v.item()
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return float(v)
    if isinstance(v, (complex, np.complexfloating)):
        return complex(v)
    raise TypeError(f"full(): fill_value must be a number, got {type(v).__name__}")


def full(size, fill_value, *, dtype=None, device=None, requires_grad=False, **_):
    """full(size, fill_value, *, dtype=None): dtype inferred from ``fill_value`` when not given
    (bool, int64 or the default float dtype). A value the dtype cannot hold raises, as in PyTorch.

    Example::

        >>> deepseek.full((2,), 7)
        tensor([7, 7])
    """
    dev = _check_device(device)
    fill_value = _number(fill_value)
    if isinstance(fill_value, complex):
        name = _dt(dtype if dtype is not None else get_default_dtype().to_complex())
        t = _core.zeros(_shape((size,) if isinstance(size, int) else size), name, dev)
        _core.fill_complex_(t, fill_value.real, fill_value.imag)
        return _finish(t, requires_grad)
    if dtype is None:
        dtype = "bool" if isinstance(fill_value, bool) else ("int64" if isinstance(fill_value, int) else None)
    name = _dt(dtype)
    _checked_scalar(fill_value, name, "full")
    return _finish(_core.full(_shape((size,) if isinstance(size, int) else size), fill_value, name, dev), requires_grad)


def _like(input, dtype):
    return to_dtype(dtype).name if dtype is not None else input.dtype.name


def _like_dev(input, device):
    """``device`` if given, else ``input``'s device, as the core names it (None: the CPU)."""
    if device is not None:
        return _check_device(device)
    d = input._device
    return None if d == "cpu" else d


def empty_like(input, *, dtype=None, device=None, requires_grad=False, **_):
    return _finish(_core.empty(list(input.shape), _like(input, dtype), _like_dev(input, device)), requires_grad)


def zeros_like(input, *, dtype=None, device=None, requires_grad=False, **_):
    return _finish(_core.zeros(list(input.shape), _like(input, dtype), _like_dev(input, device)), requires_grad)


def ones_like(input, *, dtype=None, device=None, requires_grad=False, **_):
    return _finish(_core.full(list(input.shape), 1, _like(input, dtype), _like_dev(input, device)), requires_grad)


def full_like(input, fill_value, *, dtype=None, device=None, requires_grad=False, **_):
    """full_like(input, fill_value, *, dtype=None): ``input``'s shape, filled; the value is checked
    against the dtype as in ``full``."""
    name = _like(input, dtype)
    fill_value = _checked_scalar(_number(fill_value), name, "full_like")
    return _finish(_core.full(list(input.shape), fill_value, name, _like_dev(input, device)), requires_grad)


# the torch ScalarType names PyTorch's random-bounds messages use
_TORCH_TYPE = {"bool": "Bool", "uint8": "Byte", "int8": "Char", "int16": "Short", "int32": "Int", "int64": "Long",
               "float16": "Half", "bfloat16": "BFloat16", "float32": "Float", "float64": "Double"}
# significand bits: the integers a floating dtype holds exactly go up to 2**digits
_DIGITS = {"float16": 11, "bfloat16": 8, "float32": 24, "float64": 53}


def _check_random_bounds(low, high, name):
    """PyTorch's check_from_to_in_range: [low, high) must lie inside the dtype (no wrapping)."""
    if low >= high:
        return  # the core names the empty range
    if name in _INT_RANGE or name == "bool":
        lo, hi = _INT_RANGE.get(name, (0, 1))
        for v, what in ((low, "from"), (high - 1, "to - 1")):
            if not lo <= v <= hi:
                raise RuntimeError(f"random_: {what} is out of bounds for {_TORCH_TYPE[name]} (got {v}; the range is [{lo}, {hi}])")


def _range_number(v, op, what):
    if isinstance(v, Tensor):
        v = v.item()
    if not isinstance(v, (bool, int, float, np.bool_, np.integer, np.floating)):
        raise TypeError(f"{op}(): argument '{what}' must be a number, not {type(v).__name__}")
    return v


def arange(start=0, end=None, step=1, *, dtype=None, device=None, requires_grad=False):
    """arange(start=0, end, step=1, *, dtype=None) -> Tensor

    Values in [start, end) by ``step``; int64 when start, end and step are all ints, else the
    default float dtype. As in PyTorch, an integer dtype converts start, end and step to integers
    first (so a step that truncates to 0 raises).

    Example::

        >>> deepseek.arange(1, 2.5, 0.5)
        tensor([1.0000, 1.5000, 2.0000])
    """
    dev = _check_device(device)
    if end is None:
        start, end = 0, start
    vals = [_range_number(v, "arange", w) for v, w in zip((start, end, step), ("start", "end", "step"))]
    if dtype is None:
        dtype = "int64" if all(isinstance(v, (int, np.integer)) for v in vals) else get_default_dtype().name
    name = to_dtype(dtype).name
    if name == "bool":
        raise RuntimeError("arange: \"arange_cpu\" not implemented for 'Bool'")
    if name in _INT_RANGE:
        return _finish(_integer_arange(vals, name, dev), requires_grad)
    if not (vals[2] > 0 or vals[2] < 0):  # NaN too
        raise RuntimeError(f"arange: step must be nonzero (start={vals[0]}, end={vals[1]}, step={vals[2]})")
    return _finish(_core.arange(float(vals[0]), float(vals[1]), float(vals[2]), name, dev), requires_grad)


def _integer_arange(vals, name, dev):
    """PyTorch's integer arange: start, end and step become int64 first (checked, truncated
    toward zero), which is what the nonzero-step and sign checks see, and the values are
    start + i * step in int64, cast (wrapping) to ``name``. int64 counts the values in integers;
    the narrower types count ceil((end - start) / step) from the arguments as given."""
    s, e, st = (int(_checked_scalar(v, "int64", "arange")) for v in vals)
    desc = f"start={vals[0]}, end={vals[1]}, step={vals[2]}, dtype={name}"
    if st == 0:
        raise RuntimeError(f"arange: step must be nonzero ({desc}{': the step truncates to 0 in an integer dtype' if vals[2] else ''})")
    if (st > 0 and e < s) or (st < 0 and e > s):
        raise RuntimeError(f"arange: upper bound and larger bound inconsistent with step sign ({desc})")
    if name == "int64":
        sgn = 1 if st > 0 else -1
        n = (e - s + st - sgn) // st  # both operands share a sign: floor is C++'s truncation
    else:
        n = math.ceil((float(vals[1]) - float(vals[0])) / float(vals[2]))
        if n < 0:
            raise RuntimeError(f"arange: invalid size, possible overflow? ({desc})")
    last = s + st * n
    if name == "int64" and max(abs(s), abs(last)) <= 2**53:  # exact in the core's float64 arithmetic
        return _core.arange(float(s), float(last), float(st), name, dev)
    # int64 arithmetic wraps in NumPy exactly as in PyTorch's accumulator; the cast wraps as .to()
    with np.errstate(over="ignore"):
        arr = np.arange(n, dtype=np.int64) * np.int64(st) + np.int64(s)
    return _on(_from_numpy_copy(arr, name), dev)


def linspace(start, end, steps, *, dtype=None, device=None, requires_grad=False):
    """linspace(start, end, steps, *, dtype=None) -> Tensor

    ``steps`` evenly spaced values from start to end inclusive. As in PyTorch, an integer dtype
    converts start and end to that dtype (checked) and truncates each value toward zero.

    Example::

        >>> deepseek.linspace(-10, 10, steps=5)
        tensor([-10.,  -5.,   0.,   5.,  10.])
    """
    dev = _check_device(device)
    start, end = _range_number(start, "linspace", "start"), _range_number(end, "linspace", "end")
    steps = operator.index(steps)
    if steps < 0:
        raise RuntimeError(f"linspace: number of steps must be non-negative, got {steps}")
    name = _dt(dtype)
    if name == "bool":
        raise RuntimeError("linspace: \"linspace_cpu\" not implemented for 'Bool'")
    # PyTorch converts (and checks) start for one step, start and end for more
    if steps >= 1:
        _checked_scalar(start, name, "linspace")
    if steps >= 2:
        _checked_scalar(end, name, "linspace")
    if name not in _INT_RANGE:
        return _finish(_core.linspace(float(start), float(end), steps, name, dev), requires_grad)
    if steps < 2:
        return _finish(_on(_from_numpy_copy(np.array([int(start)] * steps, dtype=np.int64), name), dev), requires_grad)
    s, e = float(int(start)), float(int(end))
    idx = np.arange(steps)
    if steps == 1:
        vals = np.array([s])
    else:
        step = (e - s) / (steps - 1)
        # PyTorch's symmetric rule: the first half counts up from start, the second down from end
        vals = np.where(idx < steps // 2, s + step * idx, e - step * (steps - idx - 1))
    return _finish(_on(_from_numpy_copy(np.trunc(vals).astype(np.int64), name), dev), requires_grad)


def logspace(start, end, steps, base=10.0, *, dtype=None, device=None, requires_grad=False):
    """logspace(start, end, steps, base=10.0, *, dtype=None) -> Tensor

    ``base ** linspace(start, end, steps)``, computed in float64 and stored in ``dtype`` as
    PyTorch does (start and end converted to the dtype first; integer results truncated; a
    result that does not fit an integer dtype raises).

    Example::

        >>> deepseek.logspace(0, 3, 4, dtype=deepseek.int64)
        tensor([   1,   10,  100, 1000])
    """
    dev = _check_device(device)
    start, end = _range_number(start, "logspace", "start"), _range_number(end, "logspace", "end")
    steps = operator.index(steps)
    if steps < 0:
        raise RuntimeError(f"logspace: number of steps must be non-negative, got {steps}")
    name = _dt(dtype)
    if name == "bool":
        raise RuntimeError("logspace: \"logspace_cpu\" not implemented for 'Bool'")
    s = _checked_scalar(start, name, "logspace") if steps >= 1 else start
    e = _checked_scalar(end, name, "logspace") if steps >= 2 else end
    if name in _INT_RANGE:
        s, e = float(int(s)), float(int(e))
    else:  # rounded to the dtype, as PyTorch's start.to<scalar_t>()
        s, e = (_from_numpy_copy(np.array([v], dtype=np.float64), name).tolist()[0] for v in (s, e))
    idx = np.arange(steps)
    if steps == 1:
        expo = np.array([float(start)])
    else:
        step = (e - s) / (steps - 1)
        expo = np.where(idx < steps // 2, s + step * idx, e - step * (steps - idx - 1))
    with np.errstate(over="ignore", invalid="ignore"):
        vals = np.power(float(base), expo)
    if name in _INT_RANGE:
        lo, hi = _INT_RANGE[name]
        if steps and not (np.isfinite(vals).all() and vals.min() > lo - 1 and vals.max() < hi + 1):
            raise RuntimeError(f"logspace: values up to {vals.max()} cannot be converted to type {name} without overflow")
        vals = np.trunc(vals).astype(np.int64)
    return _finish(_on(_from_numpy_copy(vals, name), dev), requires_grad)


def eye(n, m=None, *, dtype=None, device=None, requires_grad=False):
    """eye(n, m=None): ones on the diagonal."""
    return _finish(_core.eye(n, n if m is None else m, _dt(dtype), _check_device(device)), requires_grad)
