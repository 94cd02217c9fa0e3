"""The pluggy hooks deepseek calls (entry point ``cuda`` in group ``deepseek.backends``)."""
from __future__ import annotations

from deepseek.backends import hookimpl

from . import __version__, driver

NAME = "cuda"


@hookimpl
def deepseek_backend_info():
    return {"name": NAME, "version": __version__, "abi_version": (2, 1)}


@hookimpl
def deepseek_backend_probe():
    ok, why = driver.open_driver()
    if not ok:
        return False, why
    try:
        n = driver.device_count()
        if n == 0:
            return False, f"the NVIDIA driver ({driver.driver_path()}) sees no GPU"
        found = []
        for i in range(n):
            major, minor = driver.capability(i)
            found.append(f"{driver.name(i)} (sm_{major}{minor}, {driver.total_memory(i) / 2**30:.1f} GiB)")
    except driver.CudaError as exc:
        return False, f"querying CUDA devices failed: {exc}"
    return True, f"{n} device(s): " + "; ".join(found) + f"; CUDA driver {driver.driver_version()}"


@hookimpl
def deepseek_backend_load():
    from .table import load

    ok, why = driver.open_driver()
    if not ok:
        raise RuntimeError(why)
    return load()


@hookimpl(optionalhook=True)  # a core older than this hook ignores it rather than refusing the plugin
def deepseek_backend_device_api():
    """Device names, properties, free memory, events and stream queries from the driver."""
    from .device import CudaDeviceAPI

    return CudaDeviceAPI()
