"""``deepseek.save`` / ``deepseek.load`` in the safetensors format (never pickle).

A checkpoint is one safetensors file: an 8-byte little-endian header length, a JSON header
naming each tensor's dtype, shape and byte range, then the raw bytes. Nested objects (an
optimizer's state_dict, a dict of several state_dicts) are flattened to dotted tensor keys,
and the non-tensor structure is kept as JSON in the header's ``__metadata__``, so files that
hold a plain state_dict are read by any safetensors reader and files written by PyTorch or
Hugging Face (``safetensors.torch.save_file``) load here.

Safety:
- Writes are atomic: a temporary file in the target's directory is fsynced and renamed over
  the target, so a crash leaves either the old file or the new one. The temporary's name
  carries a tag of the target's name, of the host and the writer's pid; a save removes the
  temporaries of earlier saves of the same file whose writer has died (a killed save), and
  never touches any other file.
- ``load`` validates the whole header as the format specifies before reading any data (byte
  ranges that tile the data section exactly, no duplicate names, shapes and dtypes that
  match each range, a ``__metadata__`` of strings) and raises a RuntimeError naming the
  problem.
- ``save`` records in the metadata a CRC-32 of each tensor (its bytes, dtype and shape) and of
  the structure; ``load`` verifies them when present, so a flipped bit raises an error naming
  the tensor instead of loading a different value quietly.

Devices: ``save`` records the device of each tensor not on the CPU (``deepseek.devices``,
checksummed too), and ``load`` puts tensors back there unless ``map_location`` says otherwise,
as ``torch.load`` does.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import socket
import struct
import zlib

from . import _core
from ._core import Tensor
from ._layout import sparse_coo
from .sparse._tensor import SparseTensor

_ST_DTYPE = {
    "bool": "BOOL", "uint8": "U8", "int8": "I8", "int16": "I16", "int32": "I32", "int64": "I64",
    "float16": "F16", "bfloat16": "BF16", "float32": "F32", "float64": "F64", "complex64": "C64",
}
_FROM_ST = {v: k for k, v in _ST_DTYPE.items()}
_ITEMSIZE = {"bool": 1, "uint8": 1, "int8": 1, "int16": 2, "int32": 4, "int64": 8, "float16": 2, "bfloat16": 2, "float32": 4, "float64": 8, "complex64": 8}
# safetensors dtypes that are valid in a file but have no deepseek dtype
_ST_UNSUPPORTED = {"U16", "U32", "U64", "F8_E4M3", "F8_E5M2", "F8_E8M0", "F6_E2M3", "F6_E3M2", "F4"}
# safetensors has no complex128: such tensors are stored as their float64 view (shape + [2])
# and named in this metadata entry, so load restores them
_C128_KEY = "deepseek.complex128"
_STRUCT_KEY = "deepseek.structure"
_CRC_KEY = "deepseek.crc32"
_DEVICES_KEY = "deepseek.devices"
_MAX_HEADER = 100_000_000  # the safetensors limit on the header's size
_TEMP_PREFIX = ".deepseek-save-"
_TEMP_NAME = re.compile(r"\.deepseek-save-(?P<target>[0-9a-f]{16})-(?P<host>[0-9a-f]{8})-(?P<pid>[0-9]+)-[0-9a-f]{8}")


# ---------------- structure: nested objects <-> flat tensor names ----------------

def _flatten(obj, prefix, tensors):
    """Replaces tensors by {"__tensor__": name} and collects them under unique names."""
    if isinstance(obj, Tensor):
        key = prefix or "tensor"
        if key in tensors or key == "__metadata__":
            # {"a.b": x, "a": {"b": y}} flattens both to "a.b": the second gets a suffix, and
            # the structure records which name is which
            n = 1
            while f"{key}#{n}" in tensors:
                n += 1
            key = f"{key}#{n}"
        tensors[key] = obj
        return {"__tensor__": key}
    if isinstance(obj, SparseTensor):
        # a sparse tensor is its index and value tensors plus a layout tag in the structure
        parts = ("indices", "values") if obj.layout is sparse_coo else ("crow_indices", "col_indices", "values")
        raw = {"indices": obj._ind, "crow_indices": obj._crow, "col_indices": obj._col, "values": obj._vals}
        key = prefix or "tensor"
        return {"__sparse__": obj.layout.name, "size": list(obj.shape), "coalesced": obj._coalesced if obj.is_sparse else True,
                "parts": {p: _flatten(raw[p], f"{key}.{p}", tensors) for p in parts}}
    if isinstance(obj, dict):
        items = {}
        for k, v in obj.items():
            if isinstance(k, bool) or not isinstance(k, (str, int)):
                raise TypeError(f"deepseek.save: dict keys must be str or int, got {type(k).__name__} ({k!r})")
            if str(k) in items:
                other = next(o for o in obj if o is not k and str(o) == str(k))
                raise TypeError(f"deepseek.save: a dict has both the keys {other!r} and {k!r}, which would be stored under one name")
            items[str(k)] = _flatten(v, f"{prefix}.{k}" if prefix else str(k), tensors)
        return {"__dict__": items, "__intkeys__": [str(k) for k in obj if isinstance(k, int)]}
    if isinstance(obj, (list, tuple)):
        return {"__list__": [_flatten(v, f"{prefix}.{i}" if prefix else str(i), tensors) for i, v in enumerate(obj)], "__tuple__": isinstance(obj, tuple)}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"deepseek.save: cannot store objects of type {type(obj).__name__} (tensors, numbers, strings, lists and dicts only)")


def _unflatten(node, tensors, where):
    if isinstance(node, dict):
        if "__tensor__" in node:
            if node["__tensor__"] not in tensors:
                raise RuntimeError(f"deepseek.load: {where} is corrupt: its structure names a tensor '{node['__tensor__']}' the file does not hold")
            return tensors[node["__tensor__"]]
        if "__sparse__" in node:
            return _sparse_from(node, tensors, where)
        if "__dict__" in node:
            ints = set(node.get("__intkeys__", []))
            return {(int(k) if k in ints else k): _unflatten(v, tensors, where) for k, v in node["__dict__"].items()}
        if "__list__" in node:
            vals = [_unflatten(v, tensors, where) for v in node["__list__"]]
            return tuple(vals) if node.get("__tuple__") else vals
    return node


def _sparse_from(node, tensors, where):
    """A sparse tensor from its saved parts, its invariants checked as on construction."""
    from .sparse import sparse_coo_tensor, sparse_csr_tensor

    try:
        p = {k: _unflatten(v, tensors, where) for k, v in node["parts"].items()}
        if node["__sparse__"] == "sparse_coo":
            return sparse_coo_tensor(p["indices"], p["values"], node["size"], is_coalesced=node.get("coalesced") or None)
        if node["__sparse__"] == "sparse_csr":
            return sparse_csr_tensor(p["crow_indices"], p["col_indices"], p["values"], node["size"])
    except (KeyError, TypeError) as e:
        raise RuntimeError(f"deepseek.load: {where} is corrupt: a sparse tensor's entry lacks {e}") from None
    raise RuntimeError(f"deepseek.load: {where} holds a sparse tensor of unknown layout {node['__sparse__']!r}")


def _device_type():
    from ._dtype import device

    return device


# ---------------- save ----------------

def save(obj, f) -> None:
    """save(obj, f) -> None

    Writes a tensor, a state_dict, an optimizer state or any nesting of dicts, lists and tuples
    of tensors and plain values (None, bools, numbers, strings) to ``f`` (a path or a writable
    binary file object) as safetensors. A sparse tensor is stored as its index and value
    tensors (``name.indices``/``name.values``, or ``name.crow_indices``/``name.col_indices``/
    ``name.values``) with its layout and size in the structure. Saving to a path is atomic: the previous file stays
    intact until the new one is complete on disk.

    Example::

        >>> deepseek.save({"model": model.state_dict(), "step": 7}, "ckpt.safetensors")
    """
    tensors = {}
    structure = _flatten(obj, "", tensors)
    header, blobs, crcs = {}, [], {}
    off = 0
    c128 = []
    for k, t in tensors.items():
        b = _core.to_bytes(t.detach())
        st, shape = _ST_DTYPE.get(t._dtype), list(t.shape)
        if t._dtype == "complex128":
            st, shape = "F64", shape + [2]
            c128.append(k)
        header[k] = {"dtype": st, "shape": shape, "data_offsets": [off, off + len(b)]}
        crcs[k] = _tensor_crc(header[k]["dtype"], header[k]["shape"], b)
        off += len(b)
        blobs.append(b)
    plain_state_dict = (
        isinstance(obj, dict) and all(isinstance(k, str) for k in obj) and all(isinstance(v, Tensor) for v in obj.values())
        and list(tensors) == list(obj)
    )
    meta = {"format": "pt"}
    if c128:
        meta[_C128_KEY] = json.dumps(c128, separators=(",", ":"))
    checks = {"tensors": crcs, "structure": None}
    if not plain_state_dict:
        meta[_STRUCT_KEY] = json.dumps(structure)
        checks["structure"] = _crc(meta[_STRUCT_KEY].encode("utf-8", "surrogatepass"))
    devices = {k: t._device for k, t in tensors.items() if t._device != "cpu"}
    if devices:  # where each tensor was, for load's default and map_location; CPU ones unrecorded
        meta[_DEVICES_KEY] = json.dumps(devices, separators=(",", ":"))
        checks["devices"] = _crc(meta[_DEVICES_KEY].encode())
    meta[_CRC_KEY] = json.dumps(checks, separators=(",", ":"))
    header["__metadata__"] = meta
    hb = json.dumps(header, separators=(",", ":")).encode()
    hb += b" " * ((8 - len(hb) % 8) % 8)
    if len(hb) > _MAX_HEADER:
        raise RuntimeError(f"deepseek.save: the header would take {len(hb)} bytes, more than safetensors' limit of {_MAX_HEADER}")
    chunks = [struct.pack("<Q", len(hb)), hb] + blobs
    if hasattr(f, "write"):
        for c in chunks:
            f.write(c)
        return
    _write_atomically(os.fspath(f), chunks)


def _crc(b, start=0):
    return f"{zlib.crc32(b, start):08x}"


def _tensor_crc(st_dtype, shape, b):
    """The CRC-32 of a tensor's bytes, seeded with its dtype and shape (a flipped dim is caught too)."""
    return _crc(b, zlib.crc32(json.dumps([st_dtype, shape]).encode()))


def _tag(text, n):
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:n]


def _write_atomically(path, chunks):
    if os.path.islink(path):
        path = os.path.realpath(path)  # replace the file the link names, not the link
    directory = os.path.dirname(os.path.abspath(path))
    target, host = _tag(os.path.basename(path), 16), _tag(socket.gethostname(), 8)
    _remove_stale_temps(directory, target, host)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = os.path.join(directory, f"{_TEMP_PREFIX}{target}-{host}-{os.getpid()}-{secrets.token_hex(4)}")
        try:
            fd = os.open(tmp, flags, 0o666)
            break
        except FileExistsError:
            continue
    try:
        try:
            os.chmod(tmp, os.stat(path).st_mode & 0o7777)  # keep the permissions of the file replaced
        except OSError:
            pass
        with os.fdopen(fd, "wb") as fh:
            for c in chunks:
                fh.write(c)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    if hasattr(os, "O_DIRECTORY"):  # make the rename itself durable
        try:
            dfd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:
            return
        try:
            os.fsync(dfd)
        except OSError:
            pass
        finally:
            os.close(dfd)


def _pid_alive(pid):
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True


def _remove_stale_temps(directory, target, host):
    """Deletes the temporaries that earlier saves of this same file on this host left behind
    when their process died mid-write. Best effort: a save never fails because of it."""
    if os.name != "posix":
        return  # no safe liveness probe (os.kill there terminates)
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        m = _TEMP_NAME.fullmatch(name)
        if m is None or m["target"] != target or m["host"] != host or _pid_alive(int(m["pid"])):
            continue
        try:
            os.unlink(os.path.join(directory, name))
        except OSError:
            pass


# ---------------- load ----------------

def _reject_duplicates(pairs):
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        dup = next(k for k in keys if keys.count(k) > 1)
        raise _HeaderError(f"has a corrupt header: the name '{dup}' appears twice")
    return dict(pairs)


class _HeaderError(Exception):
    pass


def _reject_constant(c):
    raise _HeaderError(f"has a corrupt header: {c} is not JSON")


def _is_index(v):
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _parse_header(data, where):
    """The validated header of safetensors bytes ``data``: (entries in file order as
    (name, dtype, shape, start, end), metadata dict, offset of the data section). Everything
    the format requires is checked before any tensor is read."""
    def bad(why):
        raise RuntimeError(f"deepseek.load: {where} {why}")

    if len(data) < 8:
        bad(f"is not a safetensors file (only {len(data)} bytes)")
    (n,) = struct.unpack("<Q", data[:8])
    if n > _MAX_HEADER:
        bad(f"has a corrupt header: its length {n} is past the format's limit of {_MAX_HEADER} bytes")
    if n > len(data) - 8:
        bad(f"is truncated or corrupt (header claims {n} bytes, file has {len(data) - 8})")
    raw = data[8 : 8 + n]
    if not raw.startswith(b"{"):
        bad("has a corrupt header (it must be a JSON object starting with '{')")
    try:
        header = json.loads(raw.decode("utf-8"), object_pairs_hook=_reject_duplicates, parse_constant=_reject_constant)
    except _HeaderError as e:
        bad(str(e))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        bad(f"has a corrupt header ({e})")
    if not isinstance(header, dict):
        bad("has a corrupt header (not a JSON object)")
    meta = header.pop("__metadata__", None)
    if meta is None:
        meta = {}
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        bad("has a corrupt header: __metadata__ must be an object mapping strings to strings")
    entries = []
    for k, info in header.items():
        if not isinstance(info, dict) or not {"dtype", "shape", "data_offsets"} <= set(info):
            bad(f"has a corrupt header: entry '{k}' must be an object with dtype, shape and data_offsets")
        st, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
        if st in _ST_UNSUPPORTED:
            bad(f"holds tensor '{k}' of safetensors dtype {st}, which deepseek does not support")
        if st not in _FROM_ST:
            bad(f"has a corrupt header: tensor '{k}' has an unknown dtype {st!r}")
        if not isinstance(shape, list) or not all(_is_index(s) for s in shape):
            bad(f"has a corrupt header: tensor '{k}' has shape {shape!r} (a list of non-negative integers is needed)")
        if not isinstance(offsets, list) or len(offsets) != 2 or not all(_is_index(o) for o in offsets) or offsets[1] < offsets[0]:
            bad(f"has a corrupt header: tensor '{k}' has data_offsets {offsets!r} (a pair [begin, end] of integers with begin <= end is needed)")
        dt = _FROM_ST[st]
        numel = 1
        for s in shape:
            numel *= s
        if numel * _ITEMSIZE[dt] != offsets[1] - offsets[0]:
            bad(
                f"has a corrupt header: tensor '{k}' of dtype {st} and shape {shape} needs {numel * _ITEMSIZE[dt]} bytes, "
                f"but its data_offsets {offsets} cover {offsets[1] - offsets[0]}"
            )
        entries.append((k, dt, shape, offsets[0], offsets[1]))
    # the byte ranges must tile the data section: no overlap, no hole, nothing after the last
    pos = 0
    for k, _, _, a, b in sorted(entries, key=lambda e: (e[3], e[4])):
        if a < pos:
            bad(f"has a corrupt header: tensor '{k}' (bytes {a}..{b}) overlaps the tensor before it (which ends at {pos})")
        if a > pos:
            bad(f"has a corrupt header: bytes {pos}..{a} of the data section belong to no tensor (before '{k}')")
        pos = b
    body = len(data) - 8 - n
    if pos > body:
        bad(f"is truncated or corrupt (the tensors need {pos} bytes of data, the data section has {body})")
    if pos < body:
        bad(f"is corrupt: {body - pos} bytes of trailing data follow the last tensor")
    return entries, meta, 8 + n


def _checksums(meta, entries, where):
    """The checksums ``save`` recorded, checked against the header (same tensor names, the
    structure's CRC), or None for files written without them (other writers, older versions)."""
    if _CRC_KEY not in meta:
        return None

    def bad(why):
        raise RuntimeError(f"deepseek.load: {where} is corrupt: {why}")

    try:
        checks = json.loads(meta[_CRC_KEY])
    except json.JSONDecodeError:
        checks = None
    if not isinstance(checks, dict) or not isinstance(checks.get("tensors"), dict):
        bad(f"its metadata {_CRC_KEY} is not a record of checksums")
    names = {e[0] for e in entries}
    if set(checks["tensors"]) != names:
        missing, extra = sorted(set(checks["tensors"]) - names), sorted(names - set(checks["tensors"]))
        bad(f"the tensor names differ from those saved (missing {missing}, not saved {extra})")
    structure = meta.get(_STRUCT_KEY)
    if checks.get("structure") != (None if structure is None else _crc(structure.encode("utf-8", "surrogatepass"))):
        bad("the saved structure (the non-tensor values and nesting) does not match its checksum")
    devices = meta.get(_DEVICES_KEY)
    if checks.get("devices") != (None if devices is None else _crc(devices.encode("utf-8", "surrogatepass"))):
        bad(f"its record of the devices the tensors were saved from ({_DEVICES_KEY}) does not match its checksum")
    return checks


def _saved_devices(meta, names, where) -> dict:
    """Tensor name -> the device it was saved from ("cpu" unless ``save`` recorded another)."""
    raw = meta.get(_DEVICES_KEY)
    if raw is None:
        return {}
    try:
        devices = json.loads(raw)
    except json.JSONDecodeError as e:
        raise RuntimeError(f"deepseek.load: {where} has corrupt metadata ({_DEVICES_KEY}: {e})") from None
    if not isinstance(devices, dict) or not all(isinstance(v, str) for v in devices.values()) \
            or not set(devices) <= set(names):
        raise RuntimeError(f"deepseek.load: {where} has corrupt metadata ({_DEVICES_KEY} must map saved tensor names "
                           "to device strings)")
    return devices


def _location(dev) -> str:
    """A device as a location string: "cpu", or "type:index" (index 0 when not given)."""
    from ._dtype import device

    d = dev if isinstance(dev, device) else device(dev)
    return "cpu" if d.type == "cpu" else f"{d.type}:{d.index or 0}"


def _check_map_location(map_location):
    from ._dtype import device

    if map_location is None or callable(map_location) or isinstance(map_location, (str, device)):
        return map_location
    if isinstance(map_location, dict):
        if not all(isinstance(k, (str, device)) and isinstance(v, (str, device)) for k, v in map_location.items()):
            raise TypeError("deepseek.load: a map_location dict must map device strings (or deepseek.device) "
                            f"to device strings, got {map_location!r}")
        return {_location(k): v for k, v in map_location.items()}
    raise TypeError(f"deepseek.load: map_location must be None, a device string, a deepseek.device, a dict or a "
                    f"callable, got {type(map_location).__name__}")


class _Placer:
    """Moves each loaded (CPU) tensor where ``map_location`` says, given where it was saved."""

    def __init__(self, map_location, where):
        self.map, self.where, self._names = map_location, where, {}

    def _target(self, dev, saved) -> str:
        """The core's name for device ``dev``; an unavailable one says why and how to load elsewhere."""
        key = str(dev)
        if key not in self._names:
            from ._tensor import _device_name

            try:
                self._names[key] = _device_name(dev)
            except RuntimeError as exc:
                why = (f"it holds tensors saved on {saved}, and that device is not available here: {exc}. Pass "
                       "map_location='cpu' (or another device) to load them elsewhere") if self.map is None else \
                    f"map_location sends tensors to '{dev}', which is not available here: {exc}"
                raise RuntimeError(f"deepseek.load: {self.where}: {why}") from None
        return self._names[key]

    def place(self, name, t, saved):
        m = self.map
        if callable(m) and not isinstance(m, (str, dict)):
            out = m(t, saved)
            if out is None:
                dev = saved
            elif not isinstance(out, Tensor):
                raise TypeError(f"deepseek.load: map_location returned {type(out).__name__} for tensor '{name}' "
                                "(a tensor or None is needed)")
            elif tuple(out.shape) != tuple(t.shape) or out._dtype != t._dtype:
                raise RuntimeError(f"deepseek.load: map_location returned a tensor of shape {tuple(out.shape)} and "
                                   f"dtype {out._dtype} for tensor '{name}', saved with shape {tuple(t.shape)} and "
                                   f"dtype {t._dtype}; it may move a tensor, not change it")
            else:
                return out
        elif isinstance(m, dict):
            dev = m.get(saved, saved)
        else:
            dev = saved if m is None else m
        target = self._target(dev, saved)
        return t if target == "cpu" else _core.to_device(t, target)


def load(f, map_location=None, weights_only=True, mmap=None):
    """load(f, map_location=None) -> object

    Reads a file written by ``save`` or any safetensors file (``f``: a path or a readable
    binary file object). A truncated, corrupt or tampered file raises a RuntimeError saying
    what is wrong. PyTorch's own zip checkpoints (``torch.save``'s ``.pt``/``.bin``) are read
    weights-only: tensors, dicts, lists and numbers are rebuilt, any other object is refused
    with an ``UnpicklingError`` and no code from the file runs.

    Tensors go back to the device they were saved from (files of other writers hold CPU
    tensors), unless ``map_location``, as in PyTorch, says otherwise:

    - a device string or ``deepseek.device`` (``"cpu"``, ``"cuda:0"``, ``"cuda"`` for the
      current device): every tensor goes there;
    - a dict from saved locations to devices (``{"cuda:1": "cuda:0"}``); other tensors stay
      where they were saved;
    - a callable ``fn(tensor, location)`` receiving each tensor on the CPU and the device it
      was saved from, returning the tensor moved (same shape and dtype) or None for the
      default.

    A device that is not available here raises a RuntimeError saying why.

        >>> sd = deepseek.load("ckpt.safetensors", map_location="cpu")   # doctest: +SKIP
    """
    map_location = _check_map_location(map_location)
    if hasattr(f, "read"):
        data, where = f.read(), f"'{getattr(f, 'name', 'file object')}'"
    else:
        path = os.fspath(f)
        with open(path, "rb") as fh:
            data = fh.read()
        where = f"'{path}'"
    if data[:4] == b"PK\x03\x04":  # PyTorch's zip checkpoint (.pt / .bin): weights only
        from ._torch_checkpoint import load_torch_zip

        placer = _Placer(map_location, where)
        return load_torch_zip(data, where, placer.place)
    if data[:14] == b"\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19":  # the legacy format's pickled magic number
        raise RuntimeError(f"deepseek.load: {where} looks like a legacy (pre-1.6, non-zip) PyTorch checkpoint, which is "
                           "not supported; re-save it with torch.save (zip format) or as safetensors")
    entries, meta, base = _parse_header(data, where)
    checks = _checksums(meta, entries, where)
    saved = _saved_devices(meta, [e[0] for e in entries], where)
    try:
        c128 = set(json.loads(meta.get(_C128_KEY, "[]")))
    except json.JSONDecodeError as e:
        raise RuntimeError(f"deepseek.load: {where} has corrupt metadata ({_C128_KEY}: {e})") from None
    placer = _Placer(map_location, where)
    if isinstance(map_location, (str, _device_type())):
        placer._target(map_location, "cpu")  # an unavailable device fails before any tensor is read
    tensors = {}
    for k, dt, shape, a, b in entries:
        blob = data[base + a : base + b]
        if checks is not None and checks["tensors"][k] != _tensor_crc(_ST_DTYPE[dt], shape, blob):
            raise RuntimeError(
                f"deepseek.load: {where} is corrupt: tensor '{k}' does not match its checksum (its bytes, dtype or shape changed)"
            )
        t = _core.from_bytes(blob, shape, dt)
        if k in c128:
            if dt != "float64" or not shape or shape[-1] != 2:
                raise RuntimeError(f"deepseek.load: {where} has corrupt metadata: complex128 tensor '{k}' is stored as {dt} {shape}, not float64 [..., 2]")
            t = _core.view_as_complex(t)
        tensors[k] = placer.place(k, t, saved.get(k, "cpu"))
    if _STRUCT_KEY in meta:
        try:
            structure = json.loads(meta[_STRUCT_KEY])
        except json.JSONDecodeError as e:
            raise RuntimeError(f"deepseek.load: {where} has corrupt metadata ({_STRUCT_KEY}: {e})") from None
        return _unflatten(structure, tensors, where)
    return tensors
