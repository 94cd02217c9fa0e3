"""The op table: every fuzzed op declared once, with the strategy that draws its calls and
its NumPy/SciPy reference (PyTorch's semantics). One module per op family; ``all_ops()``
gathers them."""
from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Callable

from hypothesis import strategies as st


@dataclass
class OpSpec:
    """``name`` is what the report groups by (``add``, ``add_``, ``F.avg_pool2d``);
    ``strategy`` draws a :class:`~fuzz.case.Call`; ``reference`` maps a call to an
    :class:`~fuzz.expect.Expect` or raises ``Raises``/``Skip``."""

    name: str
    strategy: st.SearchStrategy
    reference: Callable
    family: str = ""


FAMILIES = ("unary", "binary", "pointwise", "reduce", "shape", "joins", "linalg", "index", "creation", "functional", "pooling", "losses", "conv", "autograd")


def all_ops():
    import importlib

    ops = []
    for name in FAMILIES:
        ops.extend(importlib.import_module(f"{__name__}.{name}").OPS)
    names = [o.name for o in ops]
    dup = {n for n in names if names.count(n) > 1}
    assert not dup, f"ops declared twice: {sorted(dup)}"
    return ops


def select(ops, pattern):
    """Ops whose name matches any comma-separated glob (``add*,F.*``) or contains it."""
    if not pattern:
        return ops
    pats = [p.strip() for p in pattern.split(",") if p.strip()]
    return [o for o in ops if any(fnmatch.fnmatchcase(o.name, p) or (not any(c in p for c in "*?[") and p == o.name)
                                  for p in pats)]
