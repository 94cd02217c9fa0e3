"""The registry of the C launch planner (``csrc/dsk_plan.h``): which op the planner runs, with
which kernel and op code, and the per-dtype facts it needs. A backend computes it once at load
time, by op id, and hands the arrays to its C table.
"""
from __future__ import annotations

from .dtypes import BINARY, D, DTYPES, PREDICATES, RANDOM, REDUCE, UNARY, acc_size, binary_expr, unary_expr

# enum dsk_kind of csrc/dsk_plan.h (tests/test_kernels_dialect.py checks the two agree)
KINDS = {
    "fallback": 0, "unary": 1, "logical_not": 2, "binary": 3, "predicate": 4, "where": 5, "cast": 6, "copy": 7,
    "fill": 8, "reduce": 9, "matmul": 10, "arange": 11, "arg_reduce": 12, "cumulative": 13, "cat": 14, "pad": 15,
    "gather": 16, "index_select": 17, "scatter": 18, "index_add": 19, "random": 20, "polygamma": 21,
    "conv2d": 22, "conv2d_input_grad": 23, "conv2d_weight_grad": 24, "index": 25, "index_put": 26, "sort": 27,
}
# ops that are their own kind, with code 0
_SINGLE = ("where", "cast", "copy", "fill", "arange", "matmul", "cat", "pad", "gather", "index_select", "index_add",
           "polygamma", "conv2d", "conv2d_input_grad", "conv2d_weight_grad", "index", "index_put")
# ops whose kind has two members: code 0 and code 1
_PAIRS = {"argmax": ("arg_reduce", 0), "argmin": ("arg_reduce", 1), "cumsum": ("cumulative", 0),
          "cumprod": ("cumulative", 1), "scatter": ("scatter", 0), "scatter_add": ("scatter", 1),
          "sort": ("sort", 0), "topk": ("sort", 1)}

# The largest uniform number rand stores, by dtype: below 1 after rounding to the dtype.
RAND_TOP = {"float64": 1.0, "float32": 1.0 - 2.0 ** -24, "float16": 1.0 - 2.0 ** -11, "bfloat16": 1.0 - 2.0 ** -8}


def plan_kind(op: str) -> tuple:
    """``(kind, code)`` of primitive op ``op`` in the planner: ``kind`` a value of
    :data:`KINDS` (0: the planner punts it, the backend runs it another way), ``code`` the op's
    index in its kernel's switch."""
    if op == "logical_not":
        return KINDS["logical_not"], 0
    if op in UNARY:
        return KINDS["unary"], UNARY.index(op)
    if op in PREDICATES:
        return KINDS["predicate"], PREDICATES.index(op)
    if op in BINARY:
        return KINDS["binary"], BINARY.index(op)
    if op in REDUCE:
        return KINDS["reduce"], REDUCE.index(op)
    if op in RANDOM:
        return KINDS["random"], RANDOM.index(op)
    if op in _PAIRS:
        kind, code = _PAIRS[op]
        return KINDS[kind], code
    if op in _SINGLE:
        return KINDS[op], 0
    return KINDS["fallback"], 0


def defined(op: str, dtype: str) -> bool:
    """Whether the unary or binary kernel has a case for ``op`` on ``dtype`` (other ops: True)."""
    dt = D[dtype]
    if op in UNARY:
        return unary_expr(op, dt) is not None
    if op in BINARY or op in PREDICATES:
        return binary_expr(op, dt) is not None
    return True


def plan_registry(op_names) -> dict:
    """The planner's registry over ``op_names`` (the core's ops in op-id order,
    ``deepseek.backends.primitives.PRIMITIVE_OP_NAMES``), as the lists of ``dsk_registry``:
    ``kinds`` and ``codes`` by op id, ``defined`` by op id and dtype (``len(op_names) * 10``),
    ``acc_sizes`` and ``rand_tops`` by dtype."""
    pairs = [plan_kind(op) for op in op_names]
    return {
        "kinds": [k for k, _ in pairs],
        "codes": [c for _, c in pairs],
        "defined": [int(defined(op, dt)) for op in op_names for dt in DTYPES],
        "acc_sizes": [acc_size(D[dt]) for dt in DTYPES],
        "rand_tops": [RAND_TOP.get(dt, 0.0) for dt in DTYPES],
    }
