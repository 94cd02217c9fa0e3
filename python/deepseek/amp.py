"""Mixed precision: ``autocast`` and ``GradScaler`` with PyTorch's CPU policy and defaults.

Under autocast, ``nn.functional.linear``, the convolutions and attention run in the low
precision dtype; softmax, log_softmax, the norms and the losses run in float32. Direct
``Tensor`` arithmetic (``a @ b``) is not rewritten.
"""
from __future__ import annotations

import functools
import math
import threading

from . import _core
from ._dtype import bfloat16, float16, float32, to_dtype

_state = threading.local()


def _active_dtype():
    st = getattr(_state, "stack", None)
    if not st:
        return None
    return st[-1]


class autocast:
    """autocast(device_type, dtype=None, enabled=True, cache_enabled=None)

    Context manager and decorator; nestable (an inner ``enabled=False`` turns it off).
    """

    def __init__(self, device_type="cpu", dtype=None, enabled=True, cache_enabled=None):
        if not isinstance(device_type, str):
            raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
        self.device_type = device_type
        if device_type not in ("cpu", "cuda", "opencl", "rocm", "ascend"):
            raise RuntimeError(f"autocast: unsupported device_type '{device_type}'")
        self.dtype = to_dtype(dtype) if dtype is not None else (bfloat16 if device_type == "cpu" else float16)
        if self.dtype not in (float16, bfloat16):
            raise RuntimeError(f"autocast: dtype must be float16 or bfloat16, got {self.dtype}")
        self.enabled = enabled

    def __enter__(self):
        if not hasattr(_state, "stack"):
            _state.stack = []
        _state.stack.append(self.dtype if self.enabled else None)
        # which device each region is for (deepseek.is_autocast_enabled / get_autocast_dtype)
        _state.devices = getattr(_state, "devices", []) + [self.device_type]
        return self

    def __exit__(self, *exc):
        _state.stack.pop()
        _state.devices = _state.devices[:-1]
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*a, **k):
            with autocast(self.device_type, self.dtype, self.enabled):
                return fn(*a, **k)

        return wrapper


def is_autocast_enabled(device_type=None):
    return _active_dtype() is not None


class GradScaler:
    """GradScaler(device='cpu', init_scale=2**16, growth_factor=2.0, backoff_factor=0.5,
    growth_interval=2000, enabled=True): scales the loss so float16 gradients don't underflow;
    skips ``optimizer.step`` when a gradient is inf or NaN and lowers the scale."""

    def __init__(self, device="cpu", init_scale=2.0**16, growth_factor=2.0, backoff_factor=0.5, growth_interval=2000, enabled=True):
        self._scale = float(init_scale)
        self.growth_factor = growth_factor
        self.backoff_factor = backoff_factor
        self.growth_interval = growth_interval
        self._enabled = enabled
        self._growth_tracker = 0
        self._per_opt = {}

    def is_enabled(self):
        return self._enabled

    def get_scale(self):
        return self._scale if self._enabled else 1.0

    def scale(self, outputs):
        if not self._enabled:
            return outputs
        if isinstance(outputs, (list, tuple)):
            return type(outputs)(self.scale(o) for o in outputs)
        return outputs * self._scale

    def _state(self, opt):
        return self._per_opt.setdefault(id(opt), {"unscaled": False, "found_inf": False})

    def unscale_(self, optimizer):
        if not self._enabled:
            return
        st = self._state(optimizer)
        if st["unscaled"]:
            raise RuntimeError("unscale_() has already been called on this optimizer since the last update().")
        inv = 1.0 / self._scale
        found = False
        prev = _core.set_grad_enabled(False)
        try:
            for g in optimizer.param_groups:
                for p in g["params"]:
                    if p.grad is None:
                        continue
                    p.grad.mul_(inv)
                    s = p.grad.float().abs().sum().item()
                    if not math.isfinite(s):
                        found = True
        finally:
            _core.set_grad_enabled(prev)
        st["unscaled"] = True
        st["found_inf"] = found

    def step(self, optimizer, *args, **kwargs):
        if not self._enabled:
            return optimizer.step(*args, **kwargs)
        st = self._state(optimizer)
        if not st["unscaled"]:
            self.unscale_(optimizer)
        if st["found_inf"]:
            return None
        return optimizer.step(*args, **kwargs)

    def update(self, new_scale=None):
        if not self._enabled:
            return
        if new_scale is not None:
            self._scale = float(new_scale)
        else:
            found = any(st["found_inf"] for st in self._per_opt.values())
            if found:
                self._scale *= self.backoff_factor
                self._growth_tracker = 0
            else:
                self._growth_tracker += 1
                if self._growth_tracker == self.growth_interval:
                    self._scale *= self.growth_factor
                    self._growth_tracker = 0
        self._per_opt = {}

    def state_dict(self):
        return {"scale": self._scale, "growth_factor": self.growth_factor, "backoff_factor": self.backoff_factor,
                "growth_interval": self.growth_interval, "_growth_tracker": self._growth_tracker} if self._enabled else {}

    def load_state_dict(self, sd):
        self._scale = float(sd["scale"])
        self.growth_factor = sd["growth_factor"]
        self.backoff_factor = sd["backoff_factor"]
        self.growth_interval = sd["growth_interval"]
        self._growth_tracker = sd["_growth_tracker"]


_ = float32
