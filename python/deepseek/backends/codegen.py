"""Writes the committed copies of the op table: the op ids and attribute structs of
``include/deepseek_backend.h``, the kernel-contract table of ``docs/backends.md`` and the
op-name types of ``deepseek/_core.pyi``.

The table itself is ``core-rs/ops/primitives.toml``, compiled into the core; this module
renders it from ``deepseek._core.op_table()``. ``python -m deepseek.backends.codegen --write``
rewrites the generated parts in place; ``--check`` (what ``make test`` runs, through
``tests/test_op_table.py``) fails when one is stale.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .primitives import FAMILIES, OP_IDS, PRIMITIVE_OPS

HEADER = Path(__file__).with_name("include") / "deepseek_backend.h"
STUBS = Path(__file__).resolve().parents[1] / "_core.pyi"
#: docs/backends.md of a source checkout (absent from an installed package)
DOCS = Path(__file__).resolve().parents[3] / "docs" / "backends.md"

_C_TYPES = {"i64": "int64_t", "u64": "uint64_t", "f64": "double", "bool": "uint8_t", "scalar": "ds_scalar"}
_HEADER_MARKS = ("/* BEGIN GENERATED from core-rs/ops/primitives.toml: do not edit */",
                 "/* END GENERATED */")
_STUB_MARKS = ("# BEGIN GENERATED from core-rs/ops/primitives.toml: do not edit", "# END GENERATED")
_DOCS_MARKS = ("<!-- BEGIN GENERATED from core-rs/ops/primitives.toml: do not edit -->",
               "<!-- END GENERATED -->")


def _c_fields(attrs) -> list:
    lines = []
    for name, ty, doc in attrs:
        note = f" /* {doc} */" if doc else ""
        if ty == "i64_list":
            lines.append(f"    int64_t n_{name};")
            lines.append(f"    const int64_t *{name};{note}")
        else:
            note = note or (" /* 0 or 1 */" if ty == "bool" else "")
            lines.append(f"    {_C_TYPES[ty]} {name};{note}")
    return lines


def render_header() -> str:
    """The generated part of deepseek_backend.h: op ids, then one attribute struct per family."""
    out = ["/* ds_op.id values: every primitive op (deepseek.backends.PRIMITIVE_OP_NAMES). Ids never",
           " * change; new ops get new ids at the end. */",
           "enum {"]
    for name, i in OP_IDS.items():
        out.append(f"    DS_OP_{name.upper()} = {i},")
    out.append(f"    DS_N_OPS = {len(OP_IDS)}")
    out.append("};")
    for fam in FAMILIES.values():
        if not fam["attrs_struct"]:
            continue
        s = fam["attrs_struct"]
        out.append("")
        out.append(f"/* ds_op.attrs of {', '.join(PRIMITIVE_OPS[fam['name']])} */")
        out.append(f"typedef struct {s} {{")
        out += _c_fields(fam["attrs"])
        out.append(f"}} {s};")
    return "\n".join(out)


def render_stubs() -> str:
    """The op-name types of _core.pyi: one Literal per family with an enum, and all names."""
    def literal(alias, names):
        body = ", ".join(f'"{n}"' for n in names)
        lines, line = [], f"{alias}: TypeAlias = Literal["
        for word in body.split(" "):
            if len(line) + len(word) > 99:
                lines.append(line.rstrip())
                line = "    "
            line += word + " "
        lines.append(line.rstrip() + "]")
        return "\n".join(lines)

    out = []
    for fam in FAMILIES.values():
        if fam["enum"]:
            out.append(literal(f"_{fam['enum']}Name", PRIMITIVE_OPS[fam["name"]]))
    out.append(literal("_PrimitiveOpName", OP_IDS))
    return "\n".join(out)


def _attr_cell(fam) -> str:
    if not fam["attrs"]:
        return "—"
    parts = []
    for name, ty, doc in fam["attrs"]:
        t = "int list" if ty == "i64_list" else {"i64": "int", "u64": "uint", "f64": "float"}.get(ty, ty)
        parts.append(f"`{name}` ({t}{': ' + doc if doc else ''})")
    return f"`{fam['attrs_struct']}`: " + ", ".join(parts)


def render_docs() -> str:
    """The kernel-contract table of docs/backends.md."""
    rows = [f"{len(OP_IDS)} primitive ops in {len(FAMILIES)} families. The attributes arrive as the "
            "family's struct through `op->attrs` (NULL for families without attributes).",
            "",
            "| ops (family) | tensors (outputs first) | attributes | meaning |",
            "|---|---|---|---|"]
    for fam in FAMILIES.values():
        names = " ".join(PRIMITIVE_OPS[fam["name"]])
        esc = lambda s: s.replace("|", "\\|")  # noqa: E731
        rows.append(f"| {fam['name']}: {names} | {esc(fam['tensors'])} | {esc(_attr_cell(fam))} | {esc(fam['meaning'])} |")
    return "\n".join(rows)


def _splice(text: str, marks, body: str, where: Path) -> str:
    begin, end = marks
    try:
        a = text.index(begin) + len(begin)
        b = text.index(end, a)
    except ValueError:
        raise RuntimeError(f"{where}: generated-section markers {begin!r} ... {end!r} not found") from None
    return text[:a] + "\n" + body + "\n" + text[b:]


def targets() -> list:
    """``(path, current text, expected text)`` for every committed copy that exists here."""
    out = []
    for path, marks, render in ((HEADER, _HEADER_MARKS, render_header), (DOCS, _DOCS_MARKS, render_docs),
                                (STUBS, _STUB_MARKS, render_stubs)):
        if path.exists():
            text = path.read_text()
            out.append((path, text, _splice(text, marks, render(), path)))
    return out


def stale() -> list:
    """The committed copies that differ from the op table."""
    return [p for p, cur, want in targets() if cur != want]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m deepseek.backends.codegen", description=__doc__.split("\n\n")[0])
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--write", action="store_true", help="rewrite the generated parts in place")
    g.add_argument("--check", action="store_true", help="exit 1 if a generated part is stale")
    args = ap.parse_args(argv)
    if args.write:
        for path, cur, want in targets():
            if cur != want:
                path.write_text(want)
                print(f"wrote {path}")
        return 0
    bad = stale()
    for p in bad:
        print(f"stale: {p} (run python -m deepseek.backends.codegen --write)", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
