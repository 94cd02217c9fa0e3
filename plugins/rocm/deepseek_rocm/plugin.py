"""The pluggy hooks deepseek calls (entry point ``rocm`` in group ``deepseek.backends``)."""
from __future__ import annotations

from deepseek.backends import hookimpl

from . import __version__, runtime

NAME = "rocm"


@hookimpl
def deepseek_backend_info():
    return {"name": NAME, "version": __version__, "abi_version": (2, 1)}


@hookimpl
def deepseek_backend_probe():
    """Available with the devices found, or the reason: the runtime missing (and where it was
    looked for), no device, or a runtime that did not start."""
    ok, why = runtime.open_runtime()
    if not ok:
        return False, why
    try:
        n = runtime.device_count()
        found = [f"{runtime.name(i)} ({runtime.arch(i)}, {runtime.total_memory(i) / 2**30:.1f} GiB)" for i in range(n)]
    except runtime.RocmError as exc:
        return False, f"querying ROCm devices failed: {exc}"
    return True, f"{n} device(s) through {runtime.runtime_path()}: " + "; ".join(found)


@hookimpl
def deepseek_backend_load():
    from .table import load

    ok, why = runtime.open_runtime()
    if not ok:
        raise RuntimeError(why)
    return load()


@hookimpl(optionalhook=True)  # a core older than this hook ignores it rather than refusing the plugin
def deepseek_backend_device_api():
    """Device names, properties (gfx architecture), free memory, events and stream queries."""
    from .device import RocmDeviceAPI

    return RocmDeviceAPI()
