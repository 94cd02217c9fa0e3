"""``deepseek.save`` / ``deepseek.load`` in the safetensors format (never pickle).

A checkpoint is one safetensors file: an 8-byte little-endian header length, a JSON header
naming each tensor's dtype, shape and byte range, then the raw bytes. Nested objects (an
optimizer's state_dict, a dict of several state_dicts) are flattened to dotted tensor keys,
and the non-tensor structure is kept as JSON in the header's ``__metadata__``, so files that
hold a plain state_dict are read by any safetensors reader and files written by PyTorch or
Hugging Face (``safetensors.torch.save_file``) load here. Writes are atomic: a temporary file
in the same directory is fsynced and renamed over the target.
"""
from __future__ import annotations

import json
import os
import struct
import tempfile

from . import _core
from ._core import Tensor

_ST_DTYPE = {
    "bool": "BOOL", "uint8": "U8", "int8": "I8", "int16": "I16", "int32": "I32", "int64": "I64",
    "float16": "F16", "bfloat16": "BF16", "float32": "F32", "float64": "F64",
}
_FROM_ST = {v: k for k, v in _ST_DTYPE.items()}
_STRUCT_KEY = "deepseek.structure"


def _flatten(obj, prefix, tensors):
    """Replaces tensors by {"__tensor__": key} and collects them."""
    if isinstance(obj, Tensor):
        key = prefix or "tensor"
        tensors[key] = obj
        return {"__tensor__": key}
    if isinstance(obj, dict):
        items = {}
        for k, v in obj.items():
            if not isinstance(k, (str, int)):
                raise TypeError(f"deepseek.save: dict keys must be str or int, got {type(k).__name__}")
            items[str(k)] = _flatten(v, f"{prefix}.{k}" if prefix else str(k), tensors)
        return {"__dict__": items, "__intkeys__": [str(k) for k in obj if isinstance(k, int)]}
    if isinstance(obj, (list, tuple)):
        return {"__list__": [_flatten(v, f"{prefix}.{i}" if prefix else str(i), tensors) for i, v in enumerate(obj)], "__tuple__": isinstance(obj, tuple)}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"deepseek.save: cannot store objects of type {type(obj).__name__} (tensors, numbers, strings, lists and dicts only)")


def _unflatten(node, tensors):
    if isinstance(node, dict):
        if "__tensor__" in node:
            return tensors[node["__tensor__"]]
        if "__dict__" in node:
            ints = set(node.get("__intkeys__", []))
            return {(int(k) if k in ints else k): _unflatten(v, tensors) for k, v in node["__dict__"].items()}
        if "__list__" in node:
            vals = [_unflatten(v, tensors) for v in node["__list__"]]
            return tuple(vals) if node.get("__tuple__") else vals
    return node


def save(obj, f) -> None:
    """save(obj, path): writes tensors, state_dicts, optimizer states (nested dicts/lists of
    tensors and plain values) as safetensors, atomically."""
    tensors = {}
    structure = _flatten(obj, "", tensors)
    header = {}
    off = 0
    blobs = []
    for k, t in tensors.items():
        b = _core.to_bytes(t.detach())
        header[k] = {"dtype": _ST_DTYPE[t._dtype], "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        off += len(b)
        blobs.append(b)
    plain_state_dict = isinstance(obj, dict) and all(isinstance(v, Tensor) for v in obj.values()) and all(isinstance(k, str) for k in obj)
    meta = {"format": "pt"}
    if not plain_state_dict:
        meta[_STRUCT_KEY] = json.dumps(structure)
    header["__metadata__"] = meta
    hb = json.dumps(header, separators=(",", ":")).encode()
    hb += b" " * ((8 - len(hb) % 8) % 8)
    path = os.fspath(f)
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".deepseek-save-", dir=d)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(struct.pack("<Q", len(hb)))
            fh.write(hb)
            for b in blobs:
                fh.write(b)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load(f, map_location=None, weights_only=True, mmap=None):
    """load(path, map_location=None): reads a file written by ``save`` or any safetensors file.
    A truncated or corrupt file raises a RuntimeError saying what is wrong."""
    target = None
    if map_location is not None and str(map_location) != "cpu":
        from ._tensor import _device_name

        target = _device_name(str(map_location))
    path = os.fspath(f)
    with open(path, "rb") as fh:
        data = fh.read()
    if len(data) < 8:
        raise RuntimeError(f"deepseek.load: '{path}' is not a safetensors file (only {len(data)} bytes)")
    (n,) = struct.unpack("<Q", data[:8])
    if n > len(data) - 8:
        raise RuntimeError(f"deepseek.load: '{path}' is truncated or corrupt (header claims {n} bytes, file has {len(data) - 8})")
    try:
        header = json.loads(data[8 : 8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise RuntimeError(f"deepseek.load: '{path}' has a corrupt header ({e})") from None
    if not isinstance(header, dict):
        raise RuntimeError(f"deepseek.load: '{path}' has a corrupt header")
    meta = header.pop("__metadata__", {}) or {}
    body = data[8 + n :]
    tensors = {}
    for k, info in header.items():
        try:
            dt = _FROM_ST[info["dtype"]]
            shape = [int(s) for s in info["shape"]]
            a, b = info["data_offsets"]
        except (KeyError, TypeError, ValueError):
            raise RuntimeError(f"deepseek.load: '{path}': entry '{k}' is malformed") from None
        numel = 1
        for s in shape:
            numel *= s
        itemsize = {"bool": 1, "uint8": 1, "int8": 1, "int16": 2, "int32": 4, "int64": 8, "float16": 2, "bfloat16": 2, "float32": 4, "float64": 8}[dt]
        if not (0 <= a <= b <= len(body)) or b - a != numel * itemsize:
            raise RuntimeError(f"deepseek.load: '{path}' is truncated or corrupt (tensor '{k}' needs bytes {a}..{b}, data section has {len(body)})")
        tensors[k] = _core.from_bytes(body[a:b], shape, dt)
        if target is not None:
            tensors[k] = _core.to_device(tensors[k], target)
    if _STRUCT_KEY in meta:
        return _unflatten(json.loads(meta[_STRUCT_KEY]), tensors)
    return tensors
