"""``deepseek.backends.cuda``: switches for the CUDA backend, as ``torch.backends.cuda``.

``matmul.allow_tf32`` (False by default, as in PyTorch) lets float32 matmuls and
convolutions' GEMMs use TensorFloat-32 tensor cores (10-bit mantissa inputs, float32
accumulation): faster, less exact. It is a plain process-wide setting; the plugin reads it
with :meth:`MatmulFlags.watch`, which calls its callback with the value now and again on
every change, so a C launch path can keep a copy instead of asking Python per launch.

    >>> import deepseek
    >>> deepseek.backends.cuda.matmul.allow_tf32
    False
    >>> deepseek.backends.cuda.matmul.allow_tf32 = True   # doctest: +SKIP
"""
from __future__ import annotations

import threading

__all__ = ["matmul", "is_built", "MatmulFlags"]


class MatmulFlags:
    """The matmul switches (``deepseek.backends.cuda.matmul``)."""

    __slots__ = ("_allow_tf32", "_watchers", "_lock")

    def __init__(self):
        self._allow_tf32 = False
        self._watchers = []
        self._lock = threading.Lock()

    @property
    def allow_tf32(self) -> bool:
        """Whether float32 matmuls may run in TensorFloat-32 (default False)."""
        return self._allow_tf32

    @allow_tf32.setter
    def allow_tf32(self, value) -> None:
        if not isinstance(value, bool):
            raise TypeError(f"deepseek.backends.cuda.matmul.allow_tf32 must be a bool, got {type(value).__name__}")
        with self._lock:
            self._allow_tf32 = value
            watchers = list(self._watchers)
        for fn in watchers:
            fn(value)

    def watch(self, callback) -> None:
        """Calls ``callback(allow_tf32)`` now and whenever the flag is set (for plugins)."""
        with self._lock:
            self._watchers.append(callback)
            value = self._allow_tf32
        callback(value)

    def unwatch(self, callback) -> None:
        """Stops calling ``callback``."""
        with self._lock:
            self._watchers.remove(callback)

    def __setattr__(self, name, value):
        if name not in MatmulFlags.__slots__ and name != "allow_tf32":
            raise AttributeError(f"deepseek.backends.cuda.matmul has no setting '{name}' (it has allow_tf32)")
        object.__setattr__(self, name, value)

    def __repr__(self):
        return f"<deepseek.backends.cuda.matmul allow_tf32={self._allow_tf32}>"


matmul = MatmulFlags()


def is_built() -> bool:
    """Whether the CUDA backend (the deepseek-cuda plugin) is installed; it may still be
    unavailable here (no driver): see ``deepseek.cuda.is_available()``. Loads nothing."""
    from . import registry

    return "cuda" in registry.plugins()
