"""CANN as the C module ``deepseek_ascend._ascend`` opened it: where the libraries were found,
the devices, and which aclnn operators this install has. Everything raises
:class:`AscendError` with the C side's message (the failing ACL call, its code and
``aclGetRecentErrMsg()``'s text)."""
from __future__ import annotations

import os
import threading

try:
    from ._ascend import ffi, lib
except ImportError as exc:  # a source checkout that was never built
    ffi = lib = None
    NOT_BUILT = f"deepseek_ascend._ascend is not built ({exc}): pip install plugins/ascend builds it"
else:
    NOT_BUILT = ""

DS_OK, DS_ERROR_OUT_OF_MEMORY, DS_ERROR_NOT_IMPLEMENTED = 0, 2, 3
ENV_DIRS = ("ASCEND_HOME_PATH", "ASCEND_TOOLKIT_HOME")
_lock = threading.Lock()
_opened = None  # (ok, reason) once tried


class AscendError(RuntimeError):
    """A CANN call failed; ``status`` is the ds_status the C side answered."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


def _message() -> str:
    return ffi.string(lib.asc_error()).decode("utf-8", "replace")


def check(status: int) -> None:
    """Raises the C side's last error unless ``status`` is DS_OK (MemoryError for out of memory)."""
    if status == DS_OK:
        return
    if status == DS_ERROR_OUT_OF_MEMORY:
        raise MemoryError(_message())
    raise AscendError(_message(), status)


def library_dirs() -> list:
    """Where libascendcl.so is looked for, in order: ``$ASCEND_HOME_PATH/lib64`` and
    ``$ASCEND_TOOLKIT_HOME/lib64`` (set by CANN's ``set_env.sh``), then the loader path."""
    dirs = []
    for var in ENV_DIRS:
        base = os.environ.get(var)
        if base:
            dirs += [os.path.join(base, "lib64"), base]
    return dirs


def open_cann():
    """``(True, "")`` once CANN is open and initialised (the first call opens it), else
    ``(False, reason)``: "no CANN: libascendcl.so not found in ..." without a toolkit."""
    global _opened
    with _lock:
        if _opened is not None:
            return _opened
        if lib is None:
            _opened = (False, NOT_BUILT)
            return _opened
        dirs = library_dirs()
        keep = [ffi.new("char[]", d.encode()) for d in dirs]
        status = lib.asc_open(ffi.new("char *[]", keep) if keep else ffi.NULL, len(keep))
        if status == DS_ERROR_NOT_IMPLEMENTED:
            where = ", ".join(dirs) if dirs else "$ASCEND_HOME_PATH/lib64 (unset)"
            _opened = (False, f"no CANN: {_message()} (looked in {where} and the loader path; "
                              "source the CANN toolkit's set_env.sh)")
        elif status != DS_OK:
            _opened = (False, f"CANN could not be opened: {_message()}")
        else:
            status = lib.asc_init()
            _opened = (True, "") if status == DS_OK else (False, f"CANN did not initialise: {_message()}")
        return _opened


def device_count() -> int:
    out = ffi.new("int32_t *")
    check(lib.asc_device_count(out))
    return out[0]


def soc_name() -> str:
    """The chip's name as CANN reports it (``Ascend910B1``...)."""
    return ffi.string(lib.asc_soc_name()).decode("utf-8", "replace")


def mem_get_info(device: int) -> tuple:
    """``(free, total)`` bytes of the device's HBM, as the runtime counts them."""
    free, total = ffi.new("uint64_t *"), ffi.new("uint64_t *")
    check(lib.asc_mem_get_info(device, free, total))
    return free[0], total[0]


def operators() -> dict:
    """aclnn operator name -> whether this CANN install has it."""
    out, i = {}, 0
    while (p := lib.asc_operator_name(i)) != ffi.NULL:
        out[ffi.string(p).decode()] = bool(lib.asc_operator_found(i))
        i += 1
    return out


def routes() -> dict:
    """Primitive op -> how it runs here: ``(way, operators)`` with ``way`` 0 for the mapping's
    first choice, a higher index for a decomposition used because an operator is missing, and
    -1 (operators: the missing ones) for an op left to the CPU."""
    from deepseek.backends.primitives import OP_IDS

    from .mapping import MAPPING

    have = operators()
    out = {}
    for op, ways in MAPPING.items():
        way = lib.asc_op_way(OP_IDS[op]) if op in OP_IDS else -1
        if way >= 0:
            out[op] = (way, list(ways[way][1]))
        else:
            out[op] = (-1, sorted({s for _, syms, _, _ in ways for s in syms if not have.get(s)}))
    return out
