"""Process-wide switches PyTorch code sets and reads at the top level:
``use_deterministic_algorithms``, ``set_float32_matmul_precision``, ``set_default_device``,
``set_warn_always``, the interop thread count, flush-denormal, anomaly mode, and the autocast
and inference-mode queries.

Each getter returns what its setter stored, with PyTorch's defaults and argument checks. Where
deepseek's kernels have no alternative to choose between, the docstring says so.
"""
from __future__ import annotations

import threading

from . import _creation, amp
from ._dtype import bfloat16, device as _device, float16

__all__ = [
    "use_deterministic_algorithms", "are_deterministic_algorithms_enabled",
    "is_deterministic_algorithms_warn_only_enabled", "set_deterministic_debug_mode",
    "get_deterministic_debug_mode", "set_float32_matmul_precision", "get_float32_matmul_precision",
    "set_default_device", "get_default_device", "is_inference_mode_enabled", "set_warn_always",
    "is_warn_always_enabled", "get_num_interop_threads", "set_num_interop_threads", "set_flush_denormal",
    "set_anomaly_enabled", "is_anomaly_enabled", "is_anomaly_check_nan_enabled", "is_autocast_enabled",
    "get_autocast_dtype",
]

_STATE = {"deterministic": False, "warn_only": False, "matmul_precision": "highest", "warn_always": False,
          "interop_threads": None, "anomaly": False, "anomaly_nan": True}
_LOCK = threading.Lock()


# ---------------- determinism ----------------

def use_deterministic_algorithms(mode, *, warn_only=False):
    """use_deterministic_algorithms(mode, *, warn_only=False): asks for deterministic kernels.

    deepseek has no alternative deterministic kernels to switch to, so the flag is recorded
    for :func:`are_deterministic_algorithms_enabled` and changes no kernel choice.
    """
    if not isinstance(mode, bool):
        raise TypeError(f"use_deterministic_algorithms(): argument 'mode' must be bool, not {type(mode).__name__}")
    if not isinstance(warn_only, bool):
        raise TypeError(f"use_deterministic_algorithms(): argument 'warn_only' must be bool, not {type(warn_only).__name__}")
    with _LOCK:
        _STATE["deterministic"], _STATE["warn_only"] = mode, warn_only


def are_deterministic_algorithms_enabled():
    """Whether :func:`use_deterministic_algorithms` was last set to True."""
    return _STATE["deterministic"]


def is_deterministic_algorithms_warn_only_enabled():
    """Whether :func:`use_deterministic_algorithms` was last set with ``warn_only=True``."""
    return _STATE["warn_only"]


_DEBUG_MODES = {"default": 0, "warn": 1, "error": 2}


def set_deterministic_debug_mode(debug_mode):
    """set_deterministic_debug_mode(debug_mode): 'default'/0 off, 'warn'/1, 'error'/2 (both on)."""
    if isinstance(debug_mode, str):
        if debug_mode not in _DEBUG_MODES:
            raise RuntimeError(f"invalid value of debug_mode, expected one of `default`, `warn`, `error`, but got {debug_mode}")
        debug_mode = _DEBUG_MODES[debug_mode]
    elif isinstance(debug_mode, bool) or not isinstance(debug_mode, int):
        raise TypeError(f"debug_mode must be str or int, but got {type(debug_mode).__name__}")
    if debug_mode not in (0, 1, 2):
        raise RuntimeError(f"invalid value of debug_mode, expected 0, 1, or 2, but got {debug_mode}")
    use_deterministic_algorithms(debug_mode != 0, warn_only=debug_mode == 1)


def get_deterministic_debug_mode():
    """0 when deterministic algorithms are off, 1 when on with ``warn_only``, 2 when on."""
    if not _STATE["deterministic"]:
        return 0
    return 1 if _STATE["warn_only"] else 2


# ---------------- float32 matmul precision ----------------

def set_float32_matmul_precision(precision):
    """set_float32_matmul_precision(precision): 'highest', 'high' or 'medium'.

    deepseek's float32 matrix products always accumulate in float32 (there is no TF32 or
    bfloat16 fast path to allow), which is 'highest'; the other values are recorded and
    reported by :func:`get_float32_matmul_precision`. An unknown value warns and has no
    effect, as in PyTorch.
    """
    if precision not in ("highest", "high", "medium"):
        import warnings

        warnings.warn(f"{precision} is not one of 'highest', 'high', or 'medium'; the current "
                      "set_float32_matmul_precision call has no effect.", UserWarning, stacklevel=2)
        return
    _STATE["matmul_precision"] = precision


def get_float32_matmul_precision():
    """The value last given to :func:`set_float32_matmul_precision` ('highest' by default)."""
    return _STATE["matmul_precision"]


# ---------------- default device ----------------

def set_default_device(device):
    """set_default_device(device): the device factory functions (``zeros``, ``tensor``,
    ``randn`` ...) use when none is given; None restores the CPU. Functions that take an
    input tensor (``zeros_like`` ...) still follow the input."""
    if device is None:
        _creation._DEFAULT_DEVICE[0] = None
        return
    from ._tensor import _device_name

    name = _device_name(device)  # loads the backend, or raises saying why it can't
    _creation._DEFAULT_DEVICE[0] = None if name == "cpu" else name


def get_default_device():
    """The device of a tensor a factory function makes when no device is given."""
    d = _creation._DEFAULT_DEVICE[0]
    return _device("cpu" if d is None else d)


# ---------------- warnings, threads, denormals ----------------

def set_warn_always(b):
    """set_warn_always(b): asks for warnings PyTorch gives once per process to be given every
    time. Recorded and reported by :func:`is_warn_always_enabled`; deepseek's warnings go
    through Python's ``warnings`` module, whose filters decide how often they show."""
    _STATE["warn_always"] = bool(b)


def is_warn_always_enabled():
    """Whether :func:`set_warn_always` was last set to True."""
    return _STATE["warn_always"]


def get_num_interop_threads():
    """The number of threads for inter-op parallelism. deepseek runs one op at a time and
    parallelises inside ops, so this is the value last set (the intra-op count by default)."""
    n = _STATE["interop_threads"]
    if n is None:
        from . import get_num_threads

        return get_num_threads()
    return n


def set_num_interop_threads(num):
    """set_num_interop_threads(num): records the inter-op thread count (see
    :func:`get_num_interop_threads`); ``num`` must be a positive integer."""
    if isinstance(num, bool) or not isinstance(num, int) or num <= 0:
        raise RuntimeError("set_num_interop_threads expects a positive integer")
    _STATE["interop_threads"] = num


def set_flush_denormal(mode):
    """set_flush_denormal(mode) -> bool: whether the request took effect.

    deepseek does not switch the CPU's flush-to-zero mode, so asking for it returns False (as
    PyTorch does on CPUs without the feature) and turning it off, the state it is always in,
    returns True.
    """
    return not bool(mode)


# ---------------- autograd and autocast state ----------------

def set_anomaly_enabled(enabled, check_nan=True):
    """set_anomaly_enabled(enabled, check_nan=True): records anomaly mode.

    deepseek's autograd engine does not yet check backward results for NaN or keep forward
    stack traces, so the setting is reported by :func:`is_anomaly_enabled` and
    :func:`is_anomaly_check_nan_enabled` only.
    """
    _STATE["anomaly"], _STATE["anomaly_nan"] = bool(enabled), bool(check_nan)


def is_anomaly_enabled():
    """Whether anomaly mode was last set on with :func:`set_anomaly_enabled`."""
    return _STATE["anomaly"]


def is_anomaly_check_nan_enabled():
    """Whether :func:`set_anomaly_enabled` was last given ``check_nan=True``."""
    return _STATE["anomaly_nan"]


def is_inference_mode_enabled():
    """Whether the innermost ``inference_mode`` region is on."""
    from .autograd import _inference_stack

    st = _inference_stack()
    return bool(st and st[-1])


_AUTOCAST_DEVICES = ("cpu", "cuda", "opencl", "rocm", "ascend")


def _autocast_device(op, device_type):
    if not isinstance(device_type, str):
        raise TypeError(f"{op}(): argument 'device_type' must be str, not {type(device_type).__name__}")
    if device_type not in _AUTOCAST_DEVICES:
        raise RuntimeError(f"{op}(): expected one of {', '.join(_AUTOCAST_DEVICES)} device type, got '{device_type}'")


def _innermost(device_type):
    """(enabled, dtype) of the innermost autocast region for ``device_type``, or None."""
    devs = getattr(amp._state, "devices", [])
    stack = getattr(amp._state, "stack", [])
    for dev, dt in zip(reversed(devs), reversed(stack)):
        if dev == device_type:
            return dt
    return "none"


def is_autocast_enabled(device_type=None):
    """is_autocast_enabled(device_type=None) -> bool: whether an ``autocast`` region for
    ``device_type`` is on (with no argument, PyTorch's legacy meaning: for 'cuda')."""
    device_type = "cuda" if device_type is None else device_type
    _autocast_device("is_autocast_enabled", device_type)
    dt = _innermost(device_type)
    return dt != "none" and dt is not None


def get_autocast_dtype(device_type):
    """get_autocast_dtype(device_type) -> dtype: the dtype autocast uses for ``device_type``: the
    innermost region's, else the default (bfloat16 on the CPU, float16 elsewhere)."""
    _autocast_device("get_autocast_dtype", device_type)
    dt = _innermost(device_type)
    if dt not in ("none", None):
        return dt
    return bfloat16 if device_type == "cpu" else float16
