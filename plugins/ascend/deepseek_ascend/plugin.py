"""The pluggy hooks deepseek calls (entry point ``ascend`` in group ``deepseek.backends``)."""
from __future__ import annotations

from deepseek.backends import hookimpl

from . import __version__, runtime

NAME = "ascend"


def route_summary(routes: dict) -> str:
    """How many primitive ops run natively here (on aclnn operators, or drawn on the host for
    the random ops aclnn has no generator for), and what a missing operator changed: the ops
    decomposed into other operators, the ops left to the CPU."""
    native = [op for op, (way, _) in routes.items() if way >= 0]
    host = [op for op, (way, syms) in routes.items() if way >= 0 and not syms]
    text = (f"{len(native)}/{len(routes)} primitive ops native: {len(native) - len(host)} on aclnn operators, "
            f"{len(host)} drawn on the host ({', '.join(host)})")
    other = [f"{op} (via {' + '.join(syms)})" for op, (way, syms) in routes.items() if way > 0]
    cpu = [f"{op} ({', '.join(syms)} missing)" for op, (way, syms) in routes.items() if way < 0]
    if other:
        text += "; decomposed for missing operators: " + ", ".join(other)
    if cpu:
        text += "; on the CPU: " + ", ".join(cpu)
    return text


@hookimpl
def deepseek_backend_info():
    return {"name": NAME, "version": __version__, "abi_version": (2, 0)}


@hookimpl
def deepseek_backend_probe():
    ok, why = runtime.open_cann()
    if not ok:
        return False, why
    try:
        n = runtime.device_count()
    except runtime.AscendError as exc:
        return False, f"querying Ascend devices failed: {exc}"
    if n == 0:
        return False, "CANN sees no Ascend NPU"
    return True, f"{n} device(s): {runtime.soc_name() or 'Ascend NPU'}; " + route_summary(runtime.routes())


@hookimpl
def deepseek_backend_load():
    ok, why = runtime.open_cann()
    if not ok:
        raise RuntimeError(why)
    return int(runtime.ffi.cast("uintptr_t", runtime.lib.asc_table()))


@hookimpl(optionalhook=True)
def deepseek_backend_device_api():
    """Device names, properties and free memory from the ACL runtime."""
    from .device import AscendDeviceAPI

    return AscendDeviceAPI()
