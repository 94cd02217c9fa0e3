"""The core's primitive ops, by family: what a backend's ``launch`` may implement natively.

Names are the ones the Rust core uses (``UnaryOp::name``, ``BinaryOp::name``,
``ReduceOp::name`` in ``core-rs/src/ops``); ``tests/test_backends.py`` reads those enums and
fails when this table drifts from them. Views (reshape, permute, slice...) are not here: they
only change a layout and never reach a backend.
"""
from __future__ import annotations

PRIMITIVE_OPS: dict = {
    "unary": (
        "neg", "abs", "sign", "exp", "log", "log1p", "expm1", "sqrt", "rsqrt", "sin", "cos", "tan",
        "tanh", "sigmoid", "erf", "floor", "ceil", "round", "trunc", "reciprocal", "relu",
        "logical_not", "bitwise_not", "asin", "acos", "atan", "sinh", "cosh", "log2", "exp2",
    ),
    "binary": (
        "add", "sub", "mul", "div", "floor_divide", "pow", "maximum", "minimum", "fmod", "remainder",
        "atan2", "bitwise_and", "bitwise_or", "bitwise_xor", "logical_and", "logical_or", "logical_xor",
    ),
    "compare": ("eq", "ne", "lt", "le", "gt", "ge"),
    "where": ("where",),
    "cast": ("cast",),
    "copy": ("copy",),
    "fill": ("fill",),
    "arange": ("arange",),
    "cat": ("cat",),
    "pad": ("pad",),
    "reduce": ("sum", "prod", "amax", "amin"),
    "arg_reduce": ("argmax", "argmin"),
    "cumulative": ("cumsum", "cumprod"),
    "matmul": ("matmul",),
    "conv": ("conv2d", "conv2d_input_grad", "conv2d_weight_grad"),
    "gather": ("gather",),
    "scatter": ("scatter", "scatter_add"),
    "index_select": ("index_select", "index_add"),
    "index": ("index", "index_put"),
    "sort": ("sort", "topk"),
    "random": ("rand", "randn", "randint", "randperm", "bernoulli"),
}

#: Every primitive op name, in family order.
PRIMITIVE_OP_NAMES: tuple = tuple(op for ops in PRIMITIVE_OPS.values() for op in ops)


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
