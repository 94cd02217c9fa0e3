"""The dtype table of the kernels and the expressions of the elementwise ops, in the portable
dialect (:mod:`.dialect`): integer types by width (``i8 u8 i16 u16 i32 u32 i64 u64``), ``f16``
as the storage type of float16, ``float``/``double`` as themselves.

Half types are computed in float: float16 through ``DS_LOAD_F16``/``DS_STORE_F16`` (rounding
to nearest even), bfloat16 through the shared ``bf2f``/``f2bf``/``d2bf`` bit conversions.
"""
from __future__ import annotations

# The ABI's dtype order (deepseek_backend.h): k_cast takes the destination's index in it.
DTYPES = ("bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16", "float32", "float64")

_SIZES = {"float": 4, "double": 8, "u8": 1, "i8": 1, "i16": 2, "i32": 4, "i64": 8}


class DT:
    """One dtype as the kernels see it: ``st`` the storage type, ``ct`` the compute type,
    ``kind`` ('b' bool, 'u' unsigned, 'i' signed, 'f' float), ``size`` in bytes, ``ut`` the
    unsigned type of the same size (raw copies and fills), ``wt`` the wrapping accumulator of
    integer kinds."""

    def __init__(self, name, st, ct, kind, size, ut):
        self.name, self.st, self.ct, self.kind, self.size, self.ut = name, st, ct, kind, size, ut
        self.wt = "u64" if size == 8 else "u32"
        self.ctsize = _SIZES[ct]

    @property
    def is_float(self):
        return self.kind == "f"

    @property
    def cat(self):
        """Category of the compute value: 'd' double, 'f' float, 'i' integer."""
        if self.kind == "f":
            return "d" if self.ct == "double" else "f"
        return "i"


D = {
    "bool": DT("bool", "u8", "u8", "b", 1, "u8"),
    "uint8": DT("uint8", "u8", "u8", "u", 1, "u8"),
    "int8": DT("int8", "i8", "i8", "i", 1, "u8"),
    "int16": DT("int16", "i16", "i16", "i", 2, "u16"),
    "int32": DT("int32", "i32", "i32", "i", 4, "u32"),
    "int64": DT("int64", "i64", "i64", "i", 8, "u64"),
    "float16": DT("float16", "f16", "float", "f", 2, "u16"),
    "bfloat16": DT("bfloat16", "u16", "float", "f", 2, "u16"),
    "float32": DT("float32", "float", "float", "f", 4, "u32"),
    "float64": DT("float64", "double", "double", "f", 8, "u64"),
}

UNARY = ("neg", "abs", "sign", "exp", "log", "log1p", "expm1", "sqrt", "rsqrt", "sin", "cos", "tan", "tanh",
         "sigmoid", "erf", "floor", "ceil", "round", "trunc", "reciprocal", "relu", "bitwise_not", "asin",
         "acos", "atan", "sinh", "cosh", "log2", "exp2", "erfc", "lgamma", "digamma")
FLOAT_UNARY = {
    "exp": "exp(x)", "log": "log(x)", "log1p": "log1p(x)", "expm1": "expm1(x)", "sqrt": "sqrt(x)",
    "rsqrt": "(CT)1 / sqrt(x)", "sin": "sin(x)", "cos": "cos(x)", "tan": "tan(x)", "tanh": "tanh(x)",
    "sigmoid": "(CT)1 / ((CT)1 + exp(-x))", "erf": "erf(x)", "floor": "floor(x)", "ceil": "ceil(x)",
    "round": "rint(x)", "trunc": "trunc(x)", "reciprocal": "(CT)1 / x", "asin": "asin(x)", "acos": "acos(x)",
    "atan": "atan(x)", "sinh": "sinh(x)", "cosh": "cosh(x)", "log2": "log2(x)", "exp2": "exp2(x)",
    "neg": "-x", "abs": "fabs(x)", "sign": "(x > (CT)0 ? (CT)1 : (x < (CT)0 ? (CT)-1 : (CT)0))",
    "relu": "(x > (CT)0 || isnan(x) ? x : (CT)0)",
    "erfc": "erfc(x)", "lgamma": "lgamma(x)", "digamma": "ds_digamma_CT(x)",
}
BINARY = ("add", "sub", "mul", "div", "floor_divide", "pow", "maximum", "minimum", "fmod", "remainder", "atan2",
          "bitwise_and", "bitwise_or", "bitwise_xor")
LOGICAL = {"logical_and": "((x != 0) && (y != 0))", "logical_or": "((x != 0) || (y != 0))",
           "logical_xor": "((x != 0) != (y != 0))"}
COMPARE = {"eq": "(x == y)", "ne": "(x != y)", "lt": "(x < y)", "le": "(x <= y)", "gt": "(x > y)", "ge": "(x >= y)"}
FLOAT_BINARY = {
    "add": "x + y", "sub": "x - y", "mul": "x * y", "div": "x / y", "floor_divide": "fdivfloor_CT(x, y)",
    "pow": "pow(x, y)", "maximum": "((isnan(x) || isnan(y)) ? x + y : (x < y ? y : x))",
    "minimum": "((isnan(x) || isnan(y)) ? x + y : (y < x ? y : x))", "fmod": "fmod(x, y)",
    "remainder": "frem_CT(x, y)", "atan2": "atan2(x, y)",
}
BOOL_BINARY = {"add": "(x | y)", "bitwise_or": "(x | y)", "maximum": "(x | y)", "mul": "(x & y)",
               "bitwise_and": "(x & y)", "minimum": "(x & y)", "bitwise_xor": "(x ^ y)"}
PREDICATES = tuple(COMPARE) + tuple(LOGICAL)
REDUCE = ("sum", "prod", "amax", "amin")
RANDOM = ("rand", "randn", "randint", "randperm", "bernoulli")


def ld(dt: DT, p: str, i: str) -> str:
    """Expression loading ``p[i]`` of dtype ``dt`` as its compute type."""
    if dt.name == "float16":
        return f"DS_LOAD_F16({p}, {i})"
    if dt.name == "bfloat16":
        return f"bf2f({p}[{i}])"
    if dt.kind == "b":
        return f"((u8)({p}[{i}] != 0))"
    return f"{p}[{i}]"


def st(dt: DT, p: str, i: str, e: str, src: str, fp64: bool) -> str:
    """Statement storing value ``e`` of category ``src`` ('f', 'd', 'i') at ``p[i]`` of dtype ``dt``."""
    fp = "double" if fp64 else "float"
    if dt.kind == "b":
        return f"{p}[{i}] = (u8)(({e}) != 0);"
    if dt.kind in "ui":
        if src in "fd":
            return f"{p}[{i}] = ds_sat_{dt.ct}({e});"
        return f"{p}[{i}] = ({dt.ct})({e});"
    if dt.name == "float16":
        if src == "i":
            e = f"(({fp})({e}))"
        return f"DS_STORE_F16({p}, {i}, {e});"
    if dt.name == "bfloat16":
        if src == "f":
            return f"{p}[{i}] = f2bf({e});"
        if src == "d" or fp64:
            return f"{p}[{i}] = d2bf((double)({e}));"
        return f"{p}[{i}] = f2bf((float)({e}));"
    return f"{p}[{i}] = ({dt.ct})({e});"


def unary_expr(op: str, dt: DT):
    """Expression of ``x`` (compute type) giving op(x) in the compute type, or None where the
    op is not defined for the dtype."""
    if dt.kind == "f":
        if op == "bitwise_not":
            return None
        return FLOAT_UNARY[op].replace("CT", dt.ct)
    if dt.kind == "b":
        if op == "bitwise_not":
            return "(u8)(!x)"
        if op in ("abs", "relu", "floor", "ceil", "round", "trunc", "sign"):
            return "x"
        return None
    c, w = dt.ct, dt.wt
    neg = f"({c})(({w})0 - ({w})x)"
    signed = dt.kind == "i"
    return {
        "neg": neg,
        "abs": f"(x < 0 ? {neg} : x)" if signed else "x",
        "sign": f"({c})(x > 0 ? 1 : (x < 0 ? -1 : 0))" if signed else f"({c})(x > 0 ? 1 : 0)",
        "floor": "x", "ceil": "x", "round": "x", "trunc": "x",
        "relu": f"(x > 0 ? x : ({c})0)",
        "bitwise_not": f"({c})(~x)",
    }.get(op)


def binary_expr(op: str, dt: DT):
    """Expression of ``x`` and ``y`` giving op(x, y), or None where it is not defined."""
    if op in LOGICAL:
        return LOGICAL[op]
    if op in COMPARE:
        return COMPARE[op]
    if dt.kind == "f":
        e = FLOAT_BINARY.get(op)
        return e.replace("CT", dt.ct) if e else None
    if dt.kind == "b":
        return BOOL_BINARY.get(op)
    c, w = dt.ct, dt.wt
    return {
        "add": f"({c})(({w})x + ({w})y)", "sub": f"({c})(({w})x - ({w})y)", "mul": f"({c})(({w})x * ({w})y)",
        "floor_divide": "ifdiv(x, y)", "fmod": "ifmod(x, y)", "remainder": "irem(x, y)", "pow": "ipow(x, y)",
        "maximum": "(x > y ? x : y)", "minimum": "(x < y ? x : y)",
        "bitwise_and": f"({c})(x & y)", "bitwise_or": f"({c})(x | y)", "bitwise_xor": f"({c})(x ^ y)",
    }.get(op)


def acc_type(dt: DT) -> str:
    """Accumulator of reductions and scans: the compute type of floats, i64 (wrapping) for
    integers, u8 for bool."""
    return dt.ct if dt.kind == "f" else ("u8" if dt.kind == "b" else "i64")


def acc_size(dt: DT) -> int:
    """Bytes of :func:`acc_type` (the partial-result buffers of split reductions)."""
    return _SIZES[acc_type(dt)]
