"""Reading and validating an ONNX model before it is imported.

Every problem a user can hit becomes one clear exception: a missing file (FileNotFoundError), a
file that is not ONNX or is cut short (ValueError), an operator domain deepseek does not know, a
value no node, input or initializer provides (ValueError), and the ONNX ops deepseek cannot run
(:class:`~deepseek.onnx.errors.UnsupportedOperatorError`, all of them in one message).
"""
from __future__ import annotations

import os
from collections import Counter

from .errors import UnsupportedOperatorError
from ._registry import OPS

DEFAULT_DOMAINS = ("", "ai.onnx")
MIN_OPSET = 7


def _onnx():
    try:
        import onnx
    except ImportError:  # pragma: no cover - the extra is missing
        raise ImportError("deepseek.onnx needs the 'onnx' package: pip install 'deepseek[onnx]'") from None
    return onnx


def read_model(f):
    """The ``ModelProto`` of ``f`` (a path, a file object, bytes or a ``ModelProto``), parsed and
    checked; local functions are inlined."""
    model, where = parse_model(f)
    # onnx.checker is stricter than the runtimes (it wants every output's shape, for one), so
    # the import checks what it relies on itself
    check_structure(model, where)
    if model.functions:
        from onnx import inliner

        model = inliner.inline_local_functions(model)
    return model


def parse_model(f, load_external_data=True):
    """(``ModelProto``, a description of where it came from) for ``f``; a file that does not
    parse, or that lacks what every ONNX model has, is a ValueError."""
    onnx = _onnx()
    if isinstance(f, onnx.ModelProto):
        model, where = f, "the ModelProto"
    else:
        where = repr(os.fspath(f)) if isinstance(f, (str, os.PathLike)) else "the given bytes"
        try:
            if isinstance(f, (bytes, bytearray)):
                model = onnx.load_model_from_string(bytes(f))
            else:
                if isinstance(f, (str, os.PathLike)) and not os.path.exists(f):
                    raise FileNotFoundError(f"deepseek.onnx: no such file: {where}")
                model = onnx.load(f, load_external_data=load_external_data)
        except FileNotFoundError:
            raise
        except Exception as e:  # DecodeError, a missing external data file ...
            raise ValueError(f"deepseek.onnx: {where} is not a readable ONNX model "
                             f"(truncated or not ONNX?): {type(e).__name__}: {e}") from None
    if not model.HasField("graph") or model.ir_version <= 0 or not model.graph.output:
        raise ValueError(f"deepseek.onnx: {where} is not an ONNX model (no graph, IR version or graph "
                         "output; truncated or not ONNX?)")
    if not model.opset_import and model.ir_version >= 3:
        raise ValueError(f"deepseek.onnx: {where} declares no opset (IR version {model.ir_version}; "
                         "truncated or not ONNX?)")
    return model, where


def opset_of(model):
    """The model's default-domain (ai.onnx) opset version."""
    for imp in model.opset_import:
        if imp.domain in DEFAULT_DOMAINS:
            return imp.version
    return 1  # IR versions without opset imports meant opset 1


def check_structure(model, where="the model"):
    """Raises on unknown domains, too old an opset, and values that nothing defines."""
    graph = model.graph
    opset = opset_of(model)
    local = {(fn.domain, fn.name) for fn in model.functions}
    foreign = sorted({n.domain for n in graph.node
                      if n.domain not in DEFAULT_DOMAINS and (n.domain, n.op_type) not in local})
    if foreign:
        declared = {imp.domain: imp.version for imp in model.opset_import}
        users = sorted({f"{n.domain}::{n.op_type}" for n in graph.node if n.domain in foreign})
        raise ValueError(
            f"deepseek.onnx: {where} uses operator domain(s) {foreign} that deepseek does not know "
            f"(declared opsets {declared}; ops {users}); only the default ONNX domain (ai.onnx) is supported")
    if opset < MIN_OPSET:
        raise ValueError(f"deepseek.onnx: {where} is at opset {opset}; opsets {MIN_OPSET} and newer are supported "
                         "(convert it with onnx.version_converter)")
    defined = {i.name for i in graph.input} | {t.name for t in graph.initializer} | {""}
    defined |= {t.values.name for t in graph.sparse_initializer}
    for node in graph.node:
        missing = [i for i in node.input if i not in defined]
        if missing:
            raise ValueError(
                f"deepseek.onnx: {node.op_type} node '{node.name}' reads {missing}, which no graph input, "
                "initializer or earlier node provides (a missing initializer, or nodes out of order)")
        defined.update(node.output)
    missing = [o.name for o in graph.output if o.name not in defined]
    if missing:
        raise ValueError(f"deepseek.onnx: graph outputs {missing} are produced by no node, input or initializer")
    if graph.sparse_initializer:
        raise ValueError("deepseek.onnx: sparse initializers are not supported "
                         f"({[t.values.name for t in graph.sparse_initializer]})")


def _all_nodes(graph):
    """The nodes of ``graph`` and of its nodes' subgraphs (a Scan's body), depth first."""
    for n in graph.node:
        yield n
        for a in n.attribute:
            for g in ([a.g] if a.type == a.GRAPH else list(a.graphs) if a.type == a.GRAPHS else []):
                yield from _all_nodes(g)


def unsupported_ops(model):
    """Counter of the op types (domain-qualified when not ai.onnx) deepseek has no rule for,
    subgraphs included."""
    return Counter(n.op_type if n.domain in DEFAULT_DOMAINS else f"{n.domain}::{n.op_type}"
                   for n in _all_nodes(model.graph)
                   if n.domain not in DEFAULT_DOMAINS or n.op_type not in OPS)


def check_supported(model):
    bad = unsupported_ops(model)
    if bad:
        listed = ", ".join(f"{op} (x{n})" if n > 1 else op for op, n in sorted(bad.items()))
        raise UnsupportedOperatorError(
            f"deepseek.onnx: the model uses {len(bad)} ONNX op type(s) deepseek does not run: {listed}")
