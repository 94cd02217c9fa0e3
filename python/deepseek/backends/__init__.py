"""Accelerator backends as plugins.

Each backend ships as its own package (``deepseek-opencl``, ``deepseek-cuda`` ...) that
registers an entry point in the group ``deepseek.backends`` and implements the pluggy hooks in
:mod:`deepseek.backends.hookspecs`; its ``load`` hook returns the C table declared in
``include/deepseek_backend.h``. Plugins are discovered on first use, never at
``import deepseek``, and a broken one only shows up in :func:`available` with its reason.

Tensors live on a plugin's devices once :func:`ensure_device` (called by ``.to("opencl:0")``
and every ``device=`` argument) has registered the backend's table with the core; the core
then allocates through the plugin and launches its kernels. :func:`get_backend` gives the raw
device API (memory, copies, streams, kernels) for tests and tools.

    >>> import deepseek
    >>> deepseek.backends.available()["cpu"]
    'available (built in)'
"""
from __future__ import annotations

import threading
from pathlib import Path

from .primitives import PRIMITIVE_OPS, PRIMITIVE_OP_NAMES, coverage  # noqa: F401
from .registry import GROUP, refresh  # noqa: F401
from . import registry as _registry

INCLUDE_DIR = Path(__file__).with_name("include")
HEADER = INCLUDE_DIR / "deepseek_backend.h"

# Backends with a package of ours; any other name is also found if a plugin registers it.
_INSTALL = {
    "cuda": 'pip install "deepseek[cuda]==0.1.0"',
    "rocm": 'pip install "deepseek[rocm]==0.1.0"',
    "ascend": 'pip install "deepseek[ascend]==0.1.0"',
    "opencl": 'pip install "deepseek[opencl]==0.1.0"',
}


def __getattr__(name):
    # pluggy is imported only when a plugin asks for the marker.
    if name == "hookimpl":
        from .hookspecs import hookimpl

        return hookimpl
    if name == "cuda":  # deepseek.backends.cuda.matmul.allow_tf32, as torch.backends.cuda
        import importlib

        return importlib.import_module(f"{__name__}.cuda")
    raise AttributeError(f"module 'deepseek.backends' has no attribute '{name}'")


def get_include() -> str:
    """The folder holding ``deepseek_backend.h``, for a plugin's C compiler or cffi cdef."""
    return str(INCLUDE_DIR)


def available() -> dict:
    """Every backend installed here and its status, e.g. ``{"cpu": "available (built in)",
    "opencl": "unavailable: libOpenCL not found: ..."}``.

    Status strings start with ``available``, ``unavailable``, ``incompatible`` (ABI skew) or
    ``error`` (the plugin raised), followed by the plugin's own reason.
    """
    out = {"cpu": "available (built in)"}
    for name, plugin in _registry.plugins().items():
        out[name] = str(plugin.status())
    return out


def is_available(name: str) -> bool:
    """Whether backend ``name`` is installed and its probe says it can run here."""
    if name == "cpu":
        return True
    plugin = _registry.plugins().get(name)
    return plugin is not None and plugin.status().available


def get_backend(name: str):
    """The loaded :class:`~deepseek.backends.backend.Backend` for ``name``.

    Raises RuntimeError naming how to install a missing backend, or the plugin's own reason
    when it is unavailable, incompatible or broken.
    """
    plugin = _registry.plugins().get(name)
    if plugin is None:
        hint = _INSTALL.get(name)
        if hint:
            raise RuntimeError(f"the deepseek-{name} backend is not installed. Install it with: {hint}")
        known = ", ".join(["cpu", *sorted(set(_INSTALL) | set(_registry.plugins()))])
        raise RuntimeError(f"unknown device type '{name}'; known: {known}")
    backend = plugin.load()
    if not backend._device_api_asked:
        _attach_device_api(plugin, backend)
    return backend


class _BrokenDeviceAPI:
    """Stands for a device API whose hook raised: every optional method reports that."""

    def __init__(self, why: str):
        self._why = why

    def __getattr__(self, method):
        if method.startswith("__"):
            raise AttributeError(method)

        def fail(*args):
            raise RuntimeError(self._why)
        return fail


def _attach_device_api(plugin, backend) -> None:
    """Asks the plugin's optional ``deepseek_backend_device_api`` hook once, after loading.
    A hook that raises leaves tensors working; only the device-module questions report it."""
    with _registry._lock:
        if backend._device_api_asked:
            return
        backend._device_api_asked = True
        caller = getattr(plugin._hook, "deepseek_backend_device_api", None)
        if caller is None or not caller.get_hookimpls():
            return
        try:
            results = caller()
            backend.device_api = results[0] if results else None
        except Exception as exc:  # noqa: BLE001 - reported when a device question is asked
            backend.device_api = _BrokenDeviceAPI(
                f"backend '{plugin.name}' ({plugin.label}): deepseek_backend_device_api() failed: {type(exc).__name__}: {exc}")


_REGISTERED: dict = {}  # (name, table address, device index) -> the backend's number in the core
_current = threading.local()  # per thread: device type -> current index (deepseek.cuda.set_device)


def current_device_index(kind: str) -> int:
    """The index a device of type ``kind`` without one ("cuda") means in this thread: 0, or
    what ``deepseek.<kind>.set_device`` chose."""
    return getattr(_current, "index", {}).get(kind, 0)


def set_current_device_index(kind: str, index: int) -> None:
    """Sets :func:`current_device_index` for this thread (``deepseek.<kind>.set_device``)."""
    if not hasattr(_current, "index"):
        _current.index = {}
    _current.index[kind] = int(index)


def ensure_device(dev) -> str:
    """Makes device ``dev`` usable for tensors and returns the core's name for it ("opencl:0").

    Loads its backend on first use and registers the backend's C table with the core. A
    device without an index is the thread's current one (:func:`current_device_index`). A
    missing backend says how to install it, an unavailable one gives the plugin's reason, an
    index past the device count says so.
    """
    from .._dtype import device as _device

    dev = dev if isinstance(dev, _device) else _device(dev)
    kind = dev.type
    if kind == "cpu":
        return "cpu"
    if kind not in _registry.plugins() and kind in _INSTALL:
        raise RuntimeError(
            f"device '{dev}' needs the deepseek-{kind} backend, which is not installed. Install it with: {_INSTALL[kind]}"
        )
    try:
        backend = get_backend(kind)
    except RuntimeError as exc:
        raise RuntimeError(f"device '{dev}' is not available: {exc}") from None
    index = dev.index if dev.index is not None else current_device_index(kind)
    if index < 0:
        raise RuntimeError(f"device '{dev}': a device index must not be negative")
    key = (kind, backend.table_address(), index)
    if key not in _REGISTERED:
        count = backend.device_count()
        if index >= count:
            raise RuntimeError(f"device '{dev}' does not exist: the {kind} backend ({backend.distribution} "
                               f"{backend.version}) sees {count} device(s)")
        from .. import _core

        _REGISTERED[key] = _core.register_backend(kind, backend.table_address())
    return f"{kind}:{index}"



def set_strict(on: bool = True) -> None:
    """Strict device mode: an op a backend has no kernel for raises RuntimeError instead of
    running on the CPU with a one-time warning. Also set by ``DEEPSEEK_STRICT_DEVICE=1``."""
    from .. import _core

    _core.set_strict_device(bool(on))


def is_strict() -> bool:
    """Whether strict device mode is on (see :func:`set_strict`)."""
    from .. import _core

    return _core.is_strict_device()
