"""Tensor creation: from data, factories, random sampling."""
from __future__ import annotations

import numpy as np

from . import _core
from ._core import Tensor
from ._dtype import Size, device, get_default_dtype, to_dtype, float32

_NP_FOR = {
    "bool": np.bool_, "uint8": np.uint8, "int8": np.int8, "int16": np.int16, "int32": np.int32,
    "int64": np.int64, "float16": np.float16, "float32": np.float32, "float64": np.float64,
}


def _gen(g):
    """The core generator behind ``g`` (None means the default one)."""
    if g is None or isinstance(g, _DefaultGenerator):
        return None
    return g


def _check_device(dev):
    """The core's name for ``dev`` ("cpu", "opencl:0"...), loading its backend on first use;
    None stays None (the CPU)."""
    if dev is None:
        return None
    from ._tensor import _device_name

    name = _device_name(dev)
    return None if name == "cpu" else name


def _on(t, dev):
    """``t`` moved to the core device name ``dev`` (None: stays on the CPU)."""
    return t if dev is None else _core.to_device(t, dev)


def _infer_dtype(data):
    """PyTorch's inference: bools -> bool, ints -> int64, any float -> default float dtype."""
    kind = "bool"
    seen = False  # an empty sequence is float, as in PyTorch

    def walk(x):
        nonlocal kind, seen
        if not isinstance(x, (list, tuple)):
            seen = True
        if isinstance(x, Tensor):
            k = "float" if x.dtype.is_floating_point else ("bool" if x.dtype.name == "bool" else "int")
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
        if isinstance(x, complex):
            raise TypeError("complex tensors are not supported")
        raise TypeError(f"tensor(): could not infer dtype of {type(x).__name__}")

    def _bump(k):
        nonlocal kind
        order = {"bool": 0, "int": 1, "float": 2}
        if order[k] > order[kind]:
            kind = k

    walk(data)
    if not seen:
        kind = "float"
    return {"bool": "bool", "int": "int64", "float": get_default_dtype().name}[kind]


def _from_numpy_copy(arr: np.ndarray, dtype_name: str) -> Tensor:
    # np.ascontiguousarray would turn a 0-d array into a 1-d one
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
            if data.dtype.kind == "c":
                raise TypeError("complex tensors are not supported")
            name = to_dtype(dtype).name if dtype is not None else _np_dtype_name(data.dtype)
            t = _from_numpy_copy(data, name)
        else:
            if isinstance(data, (list, tuple)) and any(isinstance(x, Tensor) for x in _flat_first(data)):
                data = _tensors_to_lists(data)
            name = to_dtype(dtype).name if dtype is not None else _infer_dtype(data)
            try:
                arr = np.array(data, dtype=np.float64 if name in ("float16", "bfloat16", "float32", "float64") else None)
            except ValueError as e:
                raise ValueError(f"tensor(): expected a rectangular nested sequence of numbers ({e})") from None
            if arr.dtype == object:
                raise ValueError("tensor(): expected a rectangular nested sequence of numbers")
            if name in ("int64", "int32", "int16", "int8", "uint8") and arr.dtype.kind == "f":
                arr = np.trunc(arr)
            t = _from_numpy_copy(arr, name)
    t = _on(t, dev)
    if requires_grad:
        t.requires_grad_(True)
    return t


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
            f"can't convert np.ndarray of type numpy.{name}. The only supported types are: float64, float32, float16, int64, int32, int16, int8, uint8, and bool."
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


def full(size, fill_value, *, dtype=None, device=None, requires_grad=False, **_):
    """full(size, fill_value, *, dtype=None): dtype inferred from ``fill_value`` when not given."""
    dev = _check_device(device)
    if dtype is None:
        dtype = "bool" if isinstance(fill_value, bool) else ("int64" if isinstance(fill_value, int) else None)
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    return _finish(_core.full(_shape((size,) if isinstance(size, int) else size), fill_value, _dt(dtype), dev), requires_grad)


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
    return _finish(_core.full(list(input.shape), fill_value, _like(input, dtype), _like_dev(input, device)), requires_grad)


def rand_like(input, *, dtype=None, generator=None, device=None, **_):
    return _core.rand(list(input.shape), _like(input, dtype), _gen(generator), _like_dev(input, device))


def randn_like(input, *, dtype=None, generator=None, device=None, **_):
    return _core.randn(list(input.shape), _like(input, dtype), _gen(generator), _like_dev(input, device))


def randint_like(input, low=0, high=None, *, dtype=None, generator=None, device=None):
    if high is None:
        low, high = 0, low
    return _core.randint(low, high, list(input.shape), _like(input, dtype), _gen(generator), _like_dev(input, device))


def arange(start=0, end=None, step=1, *, dtype=None, device=None, requires_grad=False):
    """arange(start=0, end, step=1): values in [start, end) by ``step``; int64 when all are ints."""
    dev = _check_device(device)
    if end is None:
        start, end = 0, start
    vals = [v.item() if isinstance(v, Tensor) else v for v in (start, end, step)]
    if dtype is None:
        dtype = "int64" if all(isinstance(v, (int, np.integer)) for v in vals) else get_default_dtype().name
    return _finish(_core.arange(float(vals[0]), float(vals[1]), float(vals[2]), to_dtype(dtype).name, dev), requires_grad)


def linspace(start, end, steps, *, dtype=None, device=None, requires_grad=False):
    """linspace(start, end, steps): ``steps`` evenly spaced values from start to end inclusive."""
    return _finish(_core.linspace(float(start), float(end), int(steps), _dt(dtype), _check_device(device)), requires_grad)


def logspace(start, end, steps, base=10.0, *, dtype=None):
    return base ** linspace(start, end, steps, dtype="float64").to(_dt(dtype))


def eye(n, m=None, *, dtype=None, device=None, requires_grad=False):
    """eye(n, m=None): ones on the diagonal."""
    return _finish(_core.eye(n, n if m is None else m, _dt(dtype), _check_device(device)), requires_grad)


def rand(*size, generator=None, dtype=None, device=None, requires_grad=False):
    """rand(*size, generator=None): uniform on [0, 1) from the seeded counter-based generator."""
    return _finish(_core.rand(_shape(size), _dt(dtype), _gen(generator), _check_device(device)), requires_grad)


def randn(*size, generator=None, dtype=None, device=None, requires_grad=False):
    """randn(*size, generator=None): standard normal samples."""
    return _finish(_core.randn(_shape(size), _dt(dtype), _gen(generator), _check_device(device)), requires_grad)


def randint(low=0, high=None, size=None, *, generator=None, dtype=None, device=None, requires_grad=False):
    """randint(low=0, high, size): integers uniform in [low, high)."""
    dev = _check_device(device)
    if size is None:
        if high is None or not isinstance(high, (tuple, list)):
            raise TypeError("randint() missing required argument 'size'")
        low, high, size = 0, low, high
    if high is None:
        low, high = 0, low
    return _core.randint(int(low), int(high), _shape((size,) if isinstance(size, int) else size), to_dtype(dtype or "int64").name,
                         _gen(generator), dev)


def randperm(n, *, generator=None, dtype=None, device=None, requires_grad=False):
    """randperm(n): a random permutation of 0..n-1."""
    return _core.randperm(int(n), to_dtype(dtype or "int64").name, _gen(generator), _check_device(device))


def bernoulli(input, p=None, *, generator=None):
    """bernoulli(input): 1 with probability ``input`` (elementwise)."""
    if p is not None:
        input = full_like(input, p)
    return _core.bernoulli(input, _gen(generator))


def normal(mean, std, size=None, *, generator=None):
    if size is not None:
        return randn(*size, generator=generator) * std + mean
    ref = mean if isinstance(mean, Tensor) else std
    return randn_like(ref, dtype=ref.dtype if ref.dtype.is_floating_point else get_default_dtype(), generator=generator) * std + mean


def multinomial(input, num_samples, replacement=False, *, generator=None):
    """multinomial(input, num_samples, replacement=False): samples category indices."""
    p = np.asarray(input.detach().to("float64").cpu().numpy())
    single = p.ndim == 1
    p = p.reshape(-1, p.shape[-1])
    u = _core.rand([p.shape[0], num_samples], "float64", _gen(generator)).numpy()
    out = np.empty((p.shape[0], num_samples), dtype=np.int64)
    for r in range(p.shape[0]):
        w = p[r].copy()
        if (w < 0).any() or not np.isfinite(w).all() or w.sum() <= 0:
            raise RuntimeError("multinomial: invalid probability distribution (negative, non-finite or zero sum)")
        for k in range(num_samples):
            c = np.cumsum(w / w.sum())
            j = int(np.searchsorted(c, u[r, k], side="right"))
            j = min(j, len(w) - 1)
            out[r, k] = j
            if not replacement:
                w[j] = 0
                if w.sum() <= 0 and k + 1 < num_samples:
                    raise RuntimeError("multinomial: cannot sample n_sample > prob_dist.size(-1) samples without replacement")
    t = tensor(out, device=input.device if input._device != "cpu" else None)
    return t.reshape(-1) if single else t


def manual_seed(seed):
    """manual_seed(seed): seeds the default generator; returns it."""
    _core.manual_seed(int(seed))
    return default_generator


def seed():
    import time

    s = int(time.time_ns() % (2**63))
    _core.manual_seed(s)
    return s


def initial_seed():
    return _core.default_generator_state()[0]


def get_rng_state():
    s = _core.default_generator_state()
    return tensor(list(s), dtype="int64")


def set_rng_state(state):
    v = state.tolist()
    _core.set_default_generator_state((int(v[0]), int(v[1])))


class _DefaultGenerator:
    """The process-wide generator behind ``manual_seed``."""

    def manual_seed(self, s):
        _core.manual_seed(int(s))
        return self

    def get_state(self):
        return get_rng_state()

    def set_state(self, st):
        set_rng_state(st)

    def initial_seed(self):
        return initial_seed()


default_generator = _DefaultGenerator()
Generator = _core.Generator
