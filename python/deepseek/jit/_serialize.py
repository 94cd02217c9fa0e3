"""``deepseek.jit.save`` / ``load``: a traced graph and its tensors in one safetensors file.

The file is a ``deepseek.save`` checkpoint (so every tensor and the structure are CRC-checked)
holding: ``"deepseek.jit"``, the graph as versioned JSON (``FORMAT_VERSION``, the op table's
hash, buffers, values, nodes, inputs, outputs, state names, the output structure); its SHA-256;
and the raw bytes of every constant and state buffer. Loading needs only deepseek: no Python
code of the traced model.
"""
from __future__ import annotations

import hashlib
import json
import os

from .. import _core
from ._module import GraphModule

FORMAT_VERSION = 1
_KEY = "deepseek.jit"


def op_table_hash() -> str:
    """A hash of the op table (names, ids, families and attributes): graphs name the table they
    were traced against."""
    ops, fams = _core.op_table()
    text = json.dumps([[o["id"], o["name"], o["family"]] for o in ops] + [[f["name"], [list(a[:2]) for a in f["attrs"]]] for f in fams])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def save(gm, f) -> None:
    """save(graph_module, f) -> None

    Writes a traced ``GraphModule`` (its forward graph, constants and state) to ``f`` (a path)
    as one safetensors file. ``deepseek.jit.load`` runs it in a process that cannot import the
    model's code.

    Example::

        >>> g = deepseek.jit.trace(model.eval(), (x,))
        >>> deepseek.jit.save(g, "model.dsg")
    """
    if not isinstance(gm, GraphModule):
        raise TypeError(f"deepseek.jit.save: expected a GraphModule (from deepseek.jit.trace), got {type(gm).__name__}")
    g = gm._g
    entries = g.state_entries()
    desc = {
        "format": _KEY,
        "format_version": FORMAT_VERSION,
        "op_table": op_table_hash(),
        "buffers": g.buffers(),
        "values": g.values(),
        "nodes": g.nodes(),
        "inputs": g.inputs(),
        "outputs": g.outputs(),
        "state": [[name, vid] for name, vid in entries],
        "spec": gm._spec,
    }
    text = json.dumps(desc, sort_keys=True, separators=(",", ":"))
    tensors = {f"constant.{i}": g.constant_bytes(i) for i in range(g.n_constants())}
    for i, (name, _) in enumerate(entries):
        t = gm._state[i] if name is not None else g.captured(i)
        tensors[f"state.{i}"] = _core.graph_storage_bytes(t.detach())
    from .. import serialization

    serialization.save({_KEY: text, "sha256": hashlib.sha256(text.encode()).hexdigest(), "tensors": tensors}, f)


def _fail(where, why):
    return RuntimeError(f"deepseek.jit.load: {where}: {why}")


def load(f, map_location=None):
    """load(f, map_location=None) -> GraphModule

    Reads a graph written by ``deepseek.jit.save``. ``map_location`` (a device or its name)
    places every buffer there instead of where it was traced. A file that is truncated,
    altered, of a newer format or naming an op this deepseek lacks raises a RuntimeError.
    """
    from .. import serialization

    where = os.fspath(f) if isinstance(f, (str, os.PathLike)) else "<file>"
    try:
        obj = serialization.load(f, map_location=map_location)
    except Exception as e:  # any failure to read the container means a damaged file
        raise _fail(where, f"not a readable graph file ({type(e).__name__}: {e})") from e
    if not isinstance(obj, dict) or not isinstance(obj.get(_KEY), str) or not isinstance(obj.get("tensors", {}), dict):
        raise _fail(where, "not a deepseek.jit graph file (no graph description)")
    text = obj[_KEY]
    if hashlib.sha256(text.encode()).hexdigest() != obj.get("sha256"):
        raise _fail(where, "the graph description does not match its checksum (the file was altered)")
    try:
        desc = json.loads(text)
    except ValueError as e:
        raise _fail(where, f"the graph description is not valid JSON ({e})") from e
    version = desc.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise _fail(where, f"graph format version {version!r} is newer than this deepseek reads ({FORMAT_VERSION}); upgrade deepseek")
    known = {o["name"] for o in _core.op_table()[0]}
    for i, n in enumerate(desc.get("nodes") or []):
        ops = [n.get("op")] if isinstance(n, dict) and n.get("kind") == "launch" else []
        if isinstance(n, dict) and n.get("kind") == "elementwise" and isinstance(n.get("attrs"), dict):
            ops = list(n["attrs"].get("ops") or [])
        for op in ops:
            if op not in known:
                raise _fail(where, f"node {i} runs the op {op!r}, which this deepseek's op table lacks "
                                   f"(the file names op table {desc.get('op_table')!r}, this build has {op_table_hash()!r}); upgrade deepseek")
    try:
        gm = _rebuild(desc, obj.get("tensors", {}), map_location)
    except (KeyError, TypeError, IndexError, ValueError, RuntimeError) as e:
        raise _fail(where, f"malformed graph ({type(e).__name__}: {e})") from e
    return gm  # its fused nodes compiled for the device as GraphModule attached them


def _rebuild(desc, tensors, map_location):
    buffers = desc["buffers"]
    if map_location is not None:
        dev = str(map_location if not hasattr(map_location, "type") else map_location)
        for b in buffers:
            b["device"] = dev
    values = desc["values"]
    state = [(name, vid) for name, vid in desc["state"]]
    n_const = max([b["index"] + 1 for b in buffers if b["role"] == "constant"], default=0)
    constants = [tensors[f"constant.{i}"] for i in range(n_const)]

    def bound(i, vid):
        v = values[vid]
        return _core.graph_reinterpret(tensors[f"state.{i}"], v["dtype"], v["shape"], v["strides"], v["offset"])

    state_tensors = [bound(i, vid) for i, (_, vid) in enumerate(state)]
    captured = [t if name is None else None for (name, _), t in zip(state, state_tensors)]
    g = _core.graph_from_parts(buffers, values, desc["nodes"], desc["inputs"], state, desc["outputs"], constants, captured)
    named = [t if name is not None else None for (name, _), t in zip(state, state_tensors)]
    return GraphModule(g, named, _spec(desc["spec"]))


def _spec(s):
    """The output structure as JSON wrote it (tuples became lists)."""
    if isinstance(s, str):
        return s
    kind, items = s
    if kind == "dict":
        return (kind, [(k, _spec(v)) for k, v in items])
    return (kind, [_spec(v) for v in items])
