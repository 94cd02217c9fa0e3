"""The pluggy hooks deepseek calls (entry point ``opencl`` in group ``deepseek.backends``)."""
from __future__ import annotations

from deepseek.backends import hookimpl

from . import __version__, cl

NAME = "opencl"


@hookimpl
def deepseek_backend_info():
    return {"name": NAME, "version": __version__, "abi_version": (2, 1)}


@hookimpl
def deepseek_backend_probe():
    lib, why = cl.open_library()
    if lib is None:
        return False, why
    try:
        found = cl.all_devices(lib)
    except cl.CLError as exc:
        if exc.code == -1001:  # the ICD loader found no driver
            return False, f"no OpenCL platforms ({exc}): install an ICD such as pocl-opencl-icd"
        return False, f"querying OpenCL devices failed: {exc}"
    if not found:
        return False, "no OpenCL platforms with devices: install an ICD such as pocl-opencl-icd"
    return True, f"{len(found)} device(s): " + "; ".join(f"{dname} [{pname}]" for pname, _, dname in found)


@hookimpl
def deepseek_backend_load():
    from .table import load

    lib, why = cl.open_library()
    if lib is None:
        raise RuntimeError(why)
    return load(NAME, lib)


@hookimpl
def deepseek_backend_device_api():
    """The devices behind the loaded table answer the device module's questions (names,
    properties, free memory, events, stream queries)."""
    from . import table

    if table._devices is None:
        raise RuntimeError("the OpenCL backend is not loaded")
    return table._devices
