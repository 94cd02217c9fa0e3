"""The per-backend module behind ``deepseek.opencl``, ``deepseek.cuda``...: the same small
surface as ``torch.cuda`` (``is_available``, ``device_count``, ``synchronize``, memory
statistics), answered by the backend plugin. Nothing here loads a plugin until called."""
from __future__ import annotations

import types


class DeviceModule(types.ModuleType):
    """``deepseek.<name>`` for backend ``name``."""

    def __init__(self, name: str):
        super().__init__(f"deepseek.{name}", f"The {name} backend's devices (see deepseek.backends).")
        self._name = name

    def _dev(self, device=None) -> str:
        from .backends import ensure_device

        if device is None:
            device = f"{self._name}:0"
        elif isinstance(device, int) and not isinstance(device, bool):
            device = f"{self._name}:{device}"
        return ensure_device(str(device))

    def is_available(self) -> bool:
        """Whether the backend is installed, its probe succeeds and it sees a device."""
        from . import backends

        if not backends.is_available(self._name):
            return False
        try:
            return backends.get_backend(self._name).device_count() > 0
        except RuntimeError:
            return False

    def device_count(self) -> int:
        """How many devices the backend sees (0 when it is unavailable)."""
        from . import backends

        if not backends.is_available(self._name):
            return 0
        try:
            return backends.get_backend(self._name).device_count()
        except RuntimeError:
            return 0

    def current_device(self) -> int:
        return 0

    def synchronize(self, device=None) -> None:
        """Waits for every kernel and copy queued on the device."""
        from . import _core

        _core.synchronize(self._dev(device))

    def memory_stats(self, device=None) -> dict:
        from . import memory

        return memory.stats(self._dev(device))

    def memory_allocated(self, device=None) -> int:
        return self.memory_stats(device)["allocated_bytes.all.current"]

    def max_memory_allocated(self, device=None) -> int:
        return self.memory_stats(device)["allocated_bytes.all.peak"]

    def memory_reserved(self, device=None) -> int:
        return self.memory_stats(device)["reserved_bytes.all.current"]

    def empty_cache(self, device=None) -> None:
        from . import memory

        memory.empty_cache(self._dev(device))

    def reset_peak_memory_stats(self, device=None) -> None:
        from . import memory

        memory.reset_peak_memory_stats(self._dev(device))

    def __repr__(self):
        return f"<module 'deepseek.{self._name}' (backend devices)>"
