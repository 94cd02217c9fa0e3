"""``python -m deepseek.onnx info model.onnx``: what a model holds and what deepseek can run of it."""
from __future__ import annotations

import argparse
import sys
from collections import Counter


def _type_str(value_info):
    from ._registry import _ONNX_TYPE_NAMES

    t = value_info.type
    if not t.HasField("tensor_type"):
        return t.WhichOneof("value") or "?"
    tt = t.tensor_type
    elem = _ONNX_TYPE_NAMES.get(tt.elem_type, str(tt.elem_type)).lower()
    if not tt.HasField("shape"):
        return f"{elem}[?]"
    dims = [str(d.dim_value) if d.HasField("dim_value") else (d.dim_param or "?") for d in tt.shape.dim]
    return f"{elem}[{', '.join(dims)}]"


def describe(model):
    """The ``info`` report of a ``ModelProto`` as a string."""
    from ._reader import DEFAULT_DOMAINS, opset_of
    from ._registry import OPS
    from . import _module  # noqa: F401  (registers every op rule)

    g = model.graph
    inits = {t.name for t in g.initializer}
    n_params = sum(int(_numel(t)) for t in g.initializer)
    lines = [
        f"producer: {model.producer_name or '?'} {model.producer_version}".rstrip(),
        f"ir_version: {model.ir_version}",
        "opsets: " + ", ".join(f"{imp.domain or 'ai.onnx'} {imp.version}" for imp in model.opset_import),
        f"default opset: {opset_of(model)}",
        "inputs:",
    ]
    lines += [f"  {i.name}: {_type_str(i)}" for i in g.input if i.name not in inits] or ["  (none)"]
    lines.append("outputs:")
    lines += [f"  {o.name}: {_type_str(o)}" for o in g.output]
    lines.append(f"initializers: {len(g.initializer)} ({n_params} values)")
    counts = Counter(n.op_type if n.domain in DEFAULT_DOMAINS else f"{n.domain}::{n.op_type}" for n in g.node)
    lines.append(f"nodes: {len(g.node)}")
    width = max((len(op) for op in counts), default=0)
    for op, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        runs = "::" not in op and op in OPS
        lines.append(f"  {op:<{width}}  {n:>5}  {'runs' if runs else 'NOT SUPPORTED'}")
    missing = sorted(op for op in counts if "::" in op or op not in OPS)
    lines.append("deepseek runs every op" if not missing else
                 f"deepseek does not run: {', '.join(missing)}")
    return "\n".join(lines)


def _numel(t):
    n = 1
    for d in t.dims:
        n *= d
    return n


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m deepseek.onnx", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    info = sub.add_parser("info", help="describe an ONNX model: opset, inputs, outputs, ops and support")
    info.add_argument("model", help="path of an .onnx file")
    args = parser.parse_args(argv)
    from ._reader import check_structure, parse_model

    try:
        # external data is not needed to describe the graph
        model, where = parse_model(args.model, load_external_data=False)
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(describe(model))
    try:
        check_structure(model, where)
    except ValueError as e:
        print(f"import would fail: {e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
