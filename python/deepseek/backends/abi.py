"""The C ABI of ``include/deepseek_backend.h`` as seen from Python, through cffi.

``ffi`` is the header parsed by cffi; :func:`build_table` fills a ``ds_backend_table`` from
Python callables, and :func:`as_table` / :func:`check_table` turn what a plugin's load hook
returned into a checked table, refusing ABI skew with both versions named.
"""
from __future__ import annotations

import re
import threading
from pathlib import Path

import cffi

HEADER = Path(__file__).with_name("include") / "deepseek_backend.h"


def _cdef_source(text: str) -> str:
    # cffi's cdef takes no preprocessor lines except integer #defines.
    keep = [ln for ln in text.splitlines() if not ln.startswith("#") or re.match(r"#define \w+ \d+$", ln)]
    return "\n".join(keep)


ffi = cffi.FFI()
ffi.cdef(_cdef_source(HEADER.read_text()))
_lib = ffi.dlopen(None)  # gives access to the header's integer constants

ABI_VERSION = (_lib.DS_BACKEND_ABI_MAJOR, _lib.DS_BACKEND_ABI_MINOR)
# The oldest minor accepted, and the table size it had: later fields are optional.
ABI_MINOR_MIN = _lib.DS_BACKEND_ABI_MINOR_MIN
TABLE_SIZE_MIN = ffi.offsetof("ds_backend_table", "last_error") + ffi.sizeof("void *")
DS_OK = _lib.DS_OK
DS_ERROR = _lib.DS_ERROR
DS_ERROR_OUT_OF_MEMORY = _lib.DS_ERROR_OUT_OF_MEMORY
DS_ERROR_NOT_IMPLEMENTED = _lib.DS_ERROR_NOT_IMPLEMENTED
DS_ERROR_INVALID_ARGUMENT = _lib.DS_ERROR_INVALID_ARGUMENT
DS_SCALAR_BOOL, DS_SCALAR_INT, DS_SCALAR_FLOAT = _lib.DS_SCALAR_BOOL, _lib.DS_SCALAR_INT, _lib.DS_SCALAR_FLOAT
DTYPES = ("bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16", "float32", "float64")
FUNCTIONS = ("device_count", "alloc", "free", "memcpy_h2d", "memcpy_d2h", "memcpy_d2d", "synchronize",
             "stream_create", "stream_destroy", "launch", "last_error")
# ABI 2.1's optional entries (generated elementwise programs): all three or none.
PROGRAM_FUNCTIONS = ("compile_program", "launch_program", "release_program")

# Everything a table built here points to, by table address: C only borrows these.
_KEEPALIVE: dict = {}


class ABIError(RuntimeError):
    """A plugin's table or declared ABI version does not fit this core."""


def abi_mismatch(who: str, version) -> str:
    """The message for a plugin built against another ABI, or ``""`` when it fits.

    Same major and a minor at least ``ABI_MINOR_MIN`` fit: minors only append fields, which
    the core reads only where the table's ``struct_size`` covers them.
    """
    major, minor = version
    if major == ABI_VERSION[0] and minor >= ABI_MINOR_MIN:
        return ""
    return (f"{who} is built for backend ABI {major}.{minor}, but this deepseek uses backend ABI "
            f"{ABI_VERSION[0]}.{ABI_VERSION[1]} and accepts {ABI_VERSION[0]}.x plugins with x >= {ABI_MINOR_MIN}")


def _status_of(exc: BaseException) -> int:
    if isinstance(exc, MemoryError):
        return DS_ERROR_OUT_OF_MEMORY
    if isinstance(exc, NotImplementedError):
        return DS_ERROR_NOT_IMPLEMENTED
    if isinstance(exc, (ValueError, IndexError)):
        return DS_ERROR_INVALID_ARGUMENT
    return DS_ERROR


def _scalar_value(s):
    if s.kind == DS_SCALAR_FLOAT:
        return s.value.f
    if s.kind == DS_SCALAR_BOOL:
        return bool(s.value.i)
    return s.value.i


def op_attrs(op) -> tuple:
    """``(name, {attribute: value})`` of a ``const ds_op *``: the op's name from the op table
    and its attributes as Python values (lists for list attributes)."""
    from .primitives import FAMILIES, OP_FAMILY, PRIMITIVE_OP_NAMES

    if not 0 <= op.id < len(PRIMITIVE_OP_NAMES):
        raise NotImplementedError(f"op id {op.id} is not a primitive op this deepseek knows")
    name = PRIMITIVE_OP_NAMES[op.id]
    fam = FAMILIES[OP_FAMILY[name]]
    if not fam["attrs"]:
        return name, {}
    a = ffi.cast(fam["attrs_struct"] + " *", op.attrs)
    values = {}
    for attr, ty, _ in fam["attrs"]:
        if ty == "i64_list":
            n = getattr(a, "n_" + attr)
            values[attr] = [getattr(a, attr)[i] for i in range(n)]
        elif ty == "scalar":
            values[attr] = _scalar_value(getattr(a, attr))
        elif ty == "bool":
            values[attr] = bool(getattr(a, attr))
        else:
            values[attr] = getattr(a, attr)
    return name, values


def encode_attrs(name: str, attrs: dict, keep: list):
    """A ``const void *`` to the attribute struct of op ``name`` filled from ``attrs`` (NULL for
    ops without attributes); what it points to is appended to ``keep``."""
    from .primitives import FAMILIES, OP_FAMILY

    fam = FAMILIES[OP_FAMILY[name]]
    if not fam["attrs"]:
        return ffi.NULL
    known = {a for a, _, _ in fam["attrs"]}
    unknown = set(attrs) - known
    if unknown:
        raise ValueError(f"{name}: unknown attribute(s) {sorted(unknown)}; the op takes {sorted(known)}")
    s = ffi.new(fam["attrs_struct"] + " *")
    keep.append(s)
    for attr, ty, _ in fam["attrs"]:
        if attr not in attrs:
            raise ValueError(f"{name}: missing attribute '{attr}' ({ty})")
        v = attrs[attr]
        if ty == "i64_list":
            arr = ffi.new("int64_t[]", list(v) or [0])
            keep.append(arr)
            setattr(s, "n_" + attr, len(v))
            setattr(s, attr, arr)
        elif ty == "scalar":
            c = getattr(s, attr)
            if isinstance(v, bool):
                c.kind, c.value.i = DS_SCALAR_BOOL, int(v)
            elif isinstance(v, int):
                c.kind, c.value.i = DS_SCALAR_INT, v
            else:
                c.kind, c.value.f = DS_SCALAR_FLOAT, float(v)
        else:
            setattr(s, attr, int(v) if ty in ("i64", "u64", "bool") else float(v))
    return ffi.cast("const void *", s)


def build_table(name: str, ops, *, device_count, alloc, free, memcpy_h2d, memcpy_d2h, memcpy_d2d,
                synchronize, stream_create, stream_destroy, launch):
    """Fills a ``ds_backend_table *`` whose entries call the given Python functions.

    The functions take Python values and raise on failure; the table turns a raise into a
    ``ds_status`` (``MemoryError`` -> out of memory, ``NotImplementedError`` -> not
    implemented, ``ValueError``/``IndexError`` -> invalid argument, else error) and keeps the
    message for ``last_error``, per thread. Device pointers and streams are ints (0 = NULL).

    Signatures: ``device_count() -> int``; ``alloc(device, nbytes) -> ptr``;
    ``free(device, ptr)``; ``memcpy_h2d(device, dst, dst_offset, src, nbytes, stream)`` where
    ``src`` is a cffi ``const void *``; ``memcpy_d2h(device, dst, src, src_offset, nbytes,
    stream)`` where ``dst`` is a cffi ``void *``; ``memcpy_d2d(device, dst, dst_offset, src,
    src_offset, nbytes, stream)``; ``synchronize(device)``; ``stream_create(device) -> stream``;
    ``stream_destroy(device, stream)``; ``launch(device, op, attrs, tensors, stream)`` with
    ``op`` the op's name, ``attrs`` a dict of its attributes (Python values) and ``tensors``
    a list of ``ds_tensor_desc`` cdata. ``ops`` are op names (``PRIMITIVE_OP_NAMES``).

    Python runs on every launch of such a table: fine for tests and prototypes, while a
    production backend compiles its table in C (cffi's API mode) and returns its address.

        >>> t = build_table("toy", ["add"], device_count=lambda: 1, ...)  # doctest: +SKIP
    """
    local = threading.local()
    empty = ffi.new("char[]", b"")

    def fail(exc):
        msg = str(exc) if isinstance(exc, (RuntimeError, MemoryError)) and str(exc) else f"{type(exc).__name__}: {exc}"
        local.message = ffi.new("char[]", msg.encode("utf-8", "replace"))
        return _status_of(exc)

    def guarded(fn):
        def call(*args):
            try:
                fn(*args)
            except Exception as exc:  # noqa: BLE001 - every failure must become a status
                return fail(exc)
            return DS_OK
        return call

    def ptr(p):
        return int(ffi.cast("uintptr_t", p))

    def c_device_count(out):
        out[0] = device_count()

    def c_alloc(dev, nbytes, out):
        out[0] = ffi.cast("void *", alloc(dev, nbytes) or 0)

    def c_stream_create(dev, out):
        out[0] = ffi.cast("void *", stream_create(dev) or 0)

    def c_launch(dev, op, tensors, n_tensors, stream):
        name, attrs = op_attrs(op)
        launch(dev, name, attrs, [tensors[i] for i in range(n_tensors)], ptr(stream))

    def c_last_error():
        return getattr(local, "message", empty)

    t = ffi.typeof("ds_backend_table")
    callbacks = {
        "device_count": guarded(c_device_count),
        "alloc": guarded(c_alloc),
        "free": guarded(lambda d, p: free(d, ptr(p))),
        "memcpy_h2d": guarded(lambda d, dst, do, src, n, s: memcpy_h2d(d, ptr(dst), do, src, n, ptr(s))),
        "memcpy_d2h": guarded(lambda d, dst, src, so, n, s: memcpy_d2h(d, dst, ptr(src), so, n, ptr(s))),
        "memcpy_d2d": guarded(lambda d, dst, do, src, so, n, s: memcpy_d2d(d, ptr(dst), do, ptr(src), so, n, ptr(s))),
        "synchronize": guarded(lambda d: synchronize(d)),
        "stream_create": guarded(c_stream_create),
        "stream_destroy": guarded(lambda d, s: stream_destroy(d, ptr(s))),
        "launch": guarded(c_launch),
    }
    keep = [empty]
    table = ffi.new("ds_backend_table *")
    for field, fn in callbacks.items():
        cb = ffi.callback(dict(t.fields)[field].type, fn, error=DS_ERROR)
        keep.append(cb)
        setattr(table, field, cb)
    cb = ffi.callback("const char *(*)(void)", c_last_error)
    keep.append(cb)
    table.last_error = cb
    c_name = ffi.new("char[]", name.encode())
    from .primitives import OP_IDS

    unknown = [op for op in ops if op not in OP_IDS]
    if unknown:
        raise ValueError(f"build_table: {', '.join(map(repr, unknown))} are not primitive ops (see deepseek.backends.PRIMITIVE_OP_NAMES)")
    c_ops = [OP_IDS[op] for op in ops]
    op_array = ffi.new("const int32_t[]", c_ops) if c_ops else ffi.NULL
    keep += [c_name, op_array, table]
    table.struct_size = ffi.sizeof("ds_backend_table")
    table.abi_major, table.abi_minor = ABI_VERSION
    table.name = c_name
    table.n_ops = len(c_ops)
    table.ops = op_array
    _KEEPALIVE[ptr(table)] = keep
    return table


def as_table(obj):
    """What a load hook returned, as this module's ``ds_backend_table *``.

    Accepts a table from :func:`build_table`, a ``ds_backend_table *`` built with another
    cffi ``FFI`` from the same header, or the table's address as an int (a C extension's).
    """
    if isinstance(obj, ffi.CData):
        if ffi.typeof(obj) is ffi.typeof("ds_backend_table *"):
            return obj
        obj = int(ffi.cast("uintptr_t", obj))
    if isinstance(obj, int) and not isinstance(obj, bool):
        if obj == 0:
            raise ABIError("the load hook returned a NULL table")
        return ffi.cast("ds_backend_table *", obj)
    raise ABIError(f"the load hook returned {type(obj).__name__}, not a ds_backend_table * (build one with "
                   "deepseek.backends.abi.build_table)")


def check_table(table, who: str, expected_name: str) -> None:
    """Raises :class:`ABIError` unless ``table`` fits this core: ABI version, size, name, entries."""
    problem = abi_mismatch(who + "'s table", (table.abi_major, table.abi_minor))
    if problem:
        raise ABIError(problem)
    if table.struct_size < TABLE_SIZE_MIN:
        raise ABIError(f"{who}'s table is {table.struct_size} bytes, smaller than backend ABI "
                       f"{ABI_VERSION[0]}.{ABI_MINOR_MIN}'s {TABLE_SIZE_MIN}")
    name = ffi.string(table.name).decode() if table.name != ffi.NULL else "<NULL>"
    if name != expected_name:
        raise ABIError(f"{who}'s table is named '{name}', but the plugin registered '{expected_name}'")
    missing = [f for f in FUNCTIONS if getattr(table, f) == ffi.NULL]
    if missing:
        raise ABIError(f"{who}'s table leaves NULL: {', '.join(missing)}")
    if table.struct_size >= ffi.sizeof("ds_backend_table"):
        programs = [getattr(table, f) != ffi.NULL for f in PROGRAM_FUNCTIONS]
        if any(programs) and not all(programs):
            missing = [f for f, set_ in zip(PROGRAM_FUNCTIONS, programs) if not set_]
            raise ABIError(f"{who}'s table sets some program entries but leaves NULL: {', '.join(missing)}")
    if table.n_ops < 0 or (table.n_ops > 0 and table.ops == ffi.NULL):
        raise ABIError(f"{who}'s table declares {table.n_ops} ops but no valid op list")
