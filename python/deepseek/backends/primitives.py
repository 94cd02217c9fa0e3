"""The core's primitive ops, by family: what a backend's ``launch`` may implement natively.

Read from the core's op table (``core-rs/ops/primitives.toml``, through
``deepseek._core.op_table()``), so this module never drifts from it. Views (reshape,
permute, slice...) are not here: they only change a layout and never reach a backend.
"""
from __future__ import annotations

from .. import _core

_OPS, _FAMILIES = _core.op_table()

#: Every op family of the table, in declaration order: name -> dict with ``enum``,
#: ``outputs``, ``inputs``, ``variadic``, ``tensors``, ``meaning``, ``attrs`` (a tuple of
#: ``(name, type, doc)``) and ``attrs_struct`` (the C struct of the attributes, or None).
FAMILIES: dict = {f["name"]: f for f in _FAMILIES}

#: Op name -> ``DS_OP_*`` id in the C ABI.
OP_IDS: dict = {o["name"]: o["id"] for o in _OPS}

#: Op name -> family name.
OP_FAMILY: dict = {o["name"]: o["family"] for o in _OPS}

#: Family name -> the names of its ops, in id order.
PRIMITIVE_OPS: dict = {name: tuple(o["name"] for o in _OPS if o["family"] == name) for name in FAMILIES}

#: Every primitive op name, in id order.
PRIMITIVE_OP_NAMES: tuple = tuple(o["name"] for o in _OPS)


def coverage(native) -> tuple:
    """Splits the primitive ops into ``(native, missing)`` for a backend declaring ``native``.

    Names a backend declares that are not primitive ops are ignored here; ``Backend.ops``
    keeps them.

        >>> coverage(["add", "mul", "fused_thing"])[0]
        ('add', 'mul')
    """
    declared = set(native)
    have = tuple(op for op in PRIMITIVE_OP_NAMES if op in declared)
    missing = tuple(op for op in PRIMITIVE_OP_NAMES if op not in declared)
    return have, missing
