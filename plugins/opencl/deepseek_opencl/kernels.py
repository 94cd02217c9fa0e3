"""OpenCL C sources of the primitive ops, generated per dtype.

One program per (device, dtype) holds every kernel whose main operand has that dtype (the
input of unary ops, the source of casts, the output of random ops...). Building a program is
the expensive, fixed-cost step on most drivers (PoCL: ~1 s), and drivers compile each kernel
of a program lazily on first launch, so a few large programs cost far less than many small
ones. Strided operands get their shape, strides and offsets through ``MetaN`` (N tensors), a
struct passed by value (at most ``MAXD`` dims and ``MAXT`` tensors after dimension
coalescing); other integer parameters through ``P8``/``P16``/``P32``. Every kernel's
arguments fit in 1024 bytes, the smallest ``CL_DEVICE_MAX_PARAMETER_SIZE`` OpenCL allows.
"""
from __future__ import annotations

MAXD = 8
MAXT = 6
PARAM_SIZES = (8, 16, 32)  # the P8, P16, P32 parameter blocks
LS = 128  # the work-group size of 1-d kernels, or the largest power of two a kernel allows below it


def meta_longs(nt: int) -> int:
    """Length of MetaN in longs: sh[MAXD], st[N][MAXD], off[N], nd."""
    return MAXD + nt * MAXD + nt + 1
# matmul: a work-group of (MW, MW) work items computes a (MT, MT) tile of the output, each
# work item an (MR, MR) block (rows ty + MW*i, cols tx + MW*j); K advances MK at a time
# through local memory.
MW, MR, MK = 8, 4, 16
MT = MW * MR
MD, MDW = 4, 64  # the direct (CPU) matmul: rows per work item, work-group size
SORT_RANK_MAX, SORT_BLOCK = 1024, 256  # longer sorted dims: rank in blocks, then merge passes

DTYPES = ("bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16", "float32", "float64")


class DT:
    def __init__(self, name, st, ct, kind, size, ut):
        self.name, self.st, self.ct, self.kind, self.size, self.ut = name, st, ct, kind, size, ut
        self.wt = "ulong" if size == 8 else "uint"  # wrapping accumulator of integer kinds
        self.ctsize = {"float": 4, "double": 8, "uchar": 1, "char": 1, "short": 2, "int": 4, "long": 8}[ct]

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
    "bool": DT("bool", "uchar", "uchar", "b", 1, "uchar"),
    "uint8": DT("uint8", "uchar", "uchar", "u", 1, "uchar"),
    "int8": DT("int8", "char", "char", "i", 1, "uchar"),
    "int16": DT("int16", "short", "short", "i", 2, "ushort"),
    "int32": DT("int32", "int", "int", "i", 4, "uint"),
    "int64": DT("int64", "long", "long", "i", 8, "ulong"),
    "float16": DT("float16", "half", "float", "f", 2, "ushort"),
    "bfloat16": DT("bfloat16", "ushort", "float", "f", 2, "ushort"),
    "float32": DT("float32", "float", "float", "f", 4, "uint"),
    "float64": DT("float64", "double", "double", "f", 8, "ulong"),
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
    if dt.name == "float16":
        return f"vload_half({i}, {p})"
    if dt.name == "bfloat16":
        return f"bf2f({p}[{i}])"
    if dt.kind == "b":
        return f"((uchar)({p}[{i}] != 0))"
    return f"{p}[{i}]"


def st(dt: DT, p: str, i: str, e: str, src: str, fp64: bool) -> str:
    """Statement storing value ``e`` of category ``src`` ('f', 'd', 'i') at ``p[i]`` of dtype ``dt``."""
    fp = "double" if fp64 else "float"
    if dt.kind == "b":
        return f"{p}[{i}] = (uchar)(({e}) != 0);"
    if dt.kind in "ui":
        if src in "fd":
            return f"{p}[{i}] = convert_{dt.ct}_sat_rtz({e});"
        return f"{p}[{i}] = ({dt.ct})({e});"
    if dt.name == "float16":
        if src == "i":
            e = f"(({fp})({e}))"
        return f"vstore_half_rte({e}, {i}, {p});"
    if dt.name == "bfloat16":
        if src == "f":
            return f"{p}[{i}] = f2bf({e});"
        if src == "d" or fp64:
            return f"{p}[{i}] = d2bf((double)({e}));"
        return f"{p}[{i}] = f2bf((float)({e}));"
    return f"{p}[{i}] = ({dt.ct})({e});"


PRELUDE = r"""
#pragma OPENCL FP_CONTRACT OFF
#define MAXD %(MAXD)d
#define MAXT %(MAXT)d
/* MetaN: shape, strides and offsets of N tensors over one iteration space, passed by value */
#define DEFINE_META(N) \
typedef struct { long sh[MAXD]; long st[N][MAXD]; long off[N]; long nd; } Meta##N; \
void offs##N(const Meta##N *m, long g, long *of) { \
    for (int t = 0; t < N; ++t) of[t] = m->off[t]; \
    int nd = (int)m->nd; \
    for (int d = nd - 1; d > 0; --d) { \
        long s = m->sh[d]; \
        long q = g / s; \
        long c = g - q * s; \
        g = q; \
        for (int t = 0; t < N; ++t) of[t] += c * m->st[t][d]; \
    } \
    if (nd > 0) \
        for (int t = 0; t < N; ++t) of[t] += g * m->st[t][0]; \
}
DEFINE_META(1)
DEFINE_META(2)
DEFINE_META(3)
DEFINE_META(4)
DEFINE_META(5)
DEFINE_META(6)
typedef struct { long v[8]; } P8;
typedef struct { long v[16]; } P16;
typedef struct { long v[32]; } P32;

float bf2f(ushort h) { return as_float(((uint)h) << 16); }
ushort f2bf(float f) {
    uint u = as_uint(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (ushort)((u >> 16) | 0x40u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (ushort)(u >> 16);
}
float frem_float(float x, float y) {
    float r = fmod(x, y);
    return (r != 0.0f && ((r < 0.0f) != (y < 0.0f))) ? r + y : r;
}
/* floor division from fmod, as the CPU core (inf // 3 is NaN, -3 // inf is -1) */
float fdivfloor_float(float a, float b) {
    if (b == 0.0f) return a / b;
    float m = fmod(a, b);
    float d = (a - m) / b;
    if (m != 0.0f && ((b < 0.0f) != (m < 0.0f))) d -= 1.0f;
    if (d == 0.0f) return signbit(a / b) ? -0.0f : 0.0f;
    float f = floor(d);
    return (d - f > 0.5f) ? f + 1.0f : f;
}
"""

PRELUDE_FP64 = r"""
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
/* double -> bfloat16, rounding to nearest even: round to odd into float first (exact for
   the final rounding since float keeps more than bfloat16's bits + 2). */
ushort d2bf(double d) {
    if (isnan(d)) return f2bf((float)d);
    float f = convert_float_rtz(d);
    if ((double)f != d && !isinf(f)) f = as_float(as_uint(f) | 1u);
    return f2bf(f);
}
double frem_double(double x, double y) {
    double r = fmod(x, y);
    return (r != 0.0 && ((r < 0.0) != (y < 0.0))) ? r + y : r;
}
double fdivfloor_double(double a, double b) {
    if (b == 0.0) return a / b;
    double m = fmod(a, b);
    double d = (a - m) / b;
    if (m != 0.0 && ((b < 0.0) != (m < 0.0))) d -= 1.0;
    if (d == 0.0) return signbit(a / b) ? -0.0 : 0.0;
    double f = floor(d);
    return (d - f > 0.5) ? f + 1.0 : f;
}
uint4 philox(uint4 c, uint2 k) {
    for (int i = 0; i < 10; ++i) {
        uint lo0 = c.x * 0xD2511F53u, hi0 = mul_hi(c.x, 0xD2511F53u);
        uint lo1 = c.z * 0xCD9E8D57u, hi1 = mul_hi(c.z, 0xCD9E8D57u);
        c = (uint4)(hi1 ^ c.y ^ k.x, lo1, hi0 ^ c.w ^ k.y, lo0);
        k.x += 0x9E3779B9u;
        k.y += 0xBB67AE85u;
    }
    return c;
}
uint4 rblock(ulong seed, ulong blk) {
    return philox((uint4)((uint)blk, (uint)(blk >> 32), 0u, 0u), (uint2)((uint)seed, (uint)(seed >> 32)));
}
double unif2(uint a, uint b) {
    return (double)((((ulong)(a >> 5)) << 26) | (ulong)(b >> 6)) * (1.0 / 9007199254740992.0);
}
/* uniform number i of the stream: words 2i and 2i+1 */
double unif_i(ulong seed, ulong off, ulong i) {
    uint4 r = rblock(seed, off + i / 2);
    return (i & 1) ? unif2(r.z, r.w) : unif2(r.x, r.y);
}
"""


def _int_helpers(dt: DT) -> str:
    """floor_divide, fmod, remainder and pow for an integer dtype (wrapping like the CPU)."""
    c, w = dt.ct, dt.wt
    signed = dt.kind == "i"
    neg1 = f"(y == ({c})-1)" if signed else "0"
    return f"""
{c} ifdiv(const {c} x, const {c} y) {{
    if ({neg1}) return ({c})(({w})0 - ({w})x);
    {c} q = x / y;
    if ({'1' if signed else '0'} && (x % y != 0) && ((x < 0) != (y < 0))) q = q - 1;
    return q;
}}
{c} ifmod(const {c} x, const {c} y) {{ return {neg1} ? ({c})0 : ({c})(x % y); }}
{c} irem(const {c} x, const {c} y) {{
    if ({neg1}) return 0;
    {c} r = x % y;
    if ({'1' if signed else '0'} && r != 0 && ((r < 0) != (y < 0))) r = r + y;
    return r;
}}
{c} ipow(const {c} x, const {c} y) {{
    ulong e = (y < 0) ? 0 : (ulong)y;
    {w} base = ({w})x, acc = 1;
    while (e > 0) {{ if (e & 1) acc = acc * base; base = base * base; e >>= 1; }}
    return ({c})acc;
}}
"""


def _float_helpers(ct: str) -> str:
    """digamma and polygamma in the compute type ``ct``, as the CPU core computes them:
    digamma by recurrence up to x >= 10, the asymptotic series there and reflection below
    0; polygamma through the Hurwitz zeta function (direct sum, then Euler-Maclaurin)."""
    pi = "3.14159265358979323846"
    return f"""
{ct} ds_digamma_{ct}({ct} x) {{
    if (x == ({ct})0) return signbit(x) ? INFINITY : -INFINITY;
    if (isnan(x) || x == -INFINITY) return NAN;
    {ct} acc = 0;
    if (x < 0) {{
        if (x == floor(x)) return NAN;
        acc = -({ct}){pi} / tan(({ct}){pi} * (x - rint(x)));  /* reduced exactly first */
        x = ({ct})1 - x;
    }}
    while (x < ({ct})10) {{ acc -= ({ct})1 / x; x += ({ct})1; }}
    {ct} r = ({ct})1 / (x * x);
    {ct} s = r * (({ct})1 / 12 - r * (({ct})1 / 120 - r * (({ct})1 / 252 - r * (({ct})1 / 240
           - r * (({ct})1 / 132 - r * (({ct})691 / 32760 - r / ({ct})12))))));
    return acc + log(x) - ({ct})0.5 / x - s;
}}
{ct} ds_hurwitz_zeta_{ct}({ct} s, {ct} q) {{
    if (isnan(s) || isnan(q) || s <= ({ct})1 || q == -INFINITY) return NAN;
    if (q <= 0) {{
        if (q == floor(q)) return INFINITY;
        if (s != floor(s)) return NAN;
    }}
    if (q == INFINITY) return 0;
    {ct} sum = 0, w = q;
    for (int i = 0; i < 9 || w <= ({ct})9; i++) {{ sum += pow(w, -s); w += ({ct})1; }}
    const {ct} B[7] = {{({ct})1 / 12, ({ct})-1 / 720, ({ct})1 / 30240, ({ct})-1 / 1209600, ({ct})1 / 47900160,
                        ({ct})-691 / ({ct})1307674368000L, ({ct})1 / ({ct})74724249600L}};
    {ct} tail = pow(w, ({ct})1 - s) / (s - ({ct})1) + ({ct})0.5 * pow(w, -s);
    {ct} rising = s, p = pow(w, -s - ({ct})1);
    for (int j = 0; j < 7; j++) {{
        {ct} t = B[j] * rising * p;
        tail += t;
        {ct} k = ({ct})(2 * j + 1);
        rising *= (s + k) * (s + k + ({ct})1);
        p /= w * w;
    }}
    return sum + tail;
}}
{ct} ds_polygamma_{ct}(long n, {ct} x) {{
    if (n == 0) return ds_digamma_{ct}(x);
    {ct} fact = exp(lgamma(({ct})(n + 1)));
    return (n % 2 == 1 ? fact : -fact) * ds_hurwitz_zeta_{ct}(({ct})(n + 1), x);
}}
"""


def unary_expr(op: str, dt: DT):
    """Expression of ``x`` (compute type) giving op(x) in the compute type, or None."""
    if dt.kind == "f":
        if op == "bitwise_not":
            return None
        return FLOAT_UNARY[op].replace("CT", dt.ct)
    if dt.kind == "b":
        if op == "bitwise_not":
            return "(uchar)(!x)"
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


def ew_kernel(name: str, ptrs, nt: int, body: str, extra: str = "") -> str:
    """An elementwise kernel over ``n`` positions; ``of[t]`` is tensor t's element offset."""
    args = ", ".join(ptrs)
    return f"""
__kernel void {name}({args}, Meta{nt} m, long n{extra}) {{
    long g = get_global_id(0);
    if (g >= n) return;
    long of[{nt}];
    offs{nt}(&m, g, of);
    {body}
}}
"""


def acc_type(dt: DT) -> str:
    """Accumulator of reductions and scans: the compute type of floats, long (wrapping) for
    integers, uchar for bool."""
    return dt.ct if dt.kind == "f" else ("uchar" if dt.kind == "b" else "long")


def program_source(name: str, fp64: bool) -> str:
    dt = D[name]
    C, S = dt.ct, dt.st
    out = [PRELUDE % {"MAXD": MAXD, "MAXT": MAXT}]
    if fp64:
        out.append(PRELUDE_FP64)
    if dt.kind in "ui":
        out.append(_int_helpers(dt))
    if dt.kind == "f":
        out.append(_float_helpers(dt.ct))
    X = f"__global const {S} *a"
    O = f"__global {S} *o"

    def ST(p, i, e, src=None):
        return st(dt, p, i, e, src or dt.cat, fp64)

    def LD(p, i):
        return ld(dt, p, i)

    # One kernel per family, the op chosen by a uniform `op` argument (its index in the
    # family's tuple): drivers compile each kernel on first launch, so this keeps the
    # number of compilations small; a uniform switch costs little at run time.
    cases = [f"case {i}: {ST('o', 'of[0]', e)} break;" for i, op in enumerate(UNARY)
             if (e := unary_expr(op, dt)) is not None]
    out.append(ew_kernel("k_unary", [O, X], 2, f"{C} x = {LD('a', 'of[1]')};\n    switch (op) {{\n    "
                         + "\n    ".join(cases) + "\n    }", ", int op"))
    if dt.kind == "f":
        out.append(ew_kernel("k_polygamma", [O, X], 2, f"{C} x = {LD('a', 'of[1]')};\n    "
                             + ST("o", "of[0]", f"ds_polygamma_{C}(pn, x)"), ", long pn"))
    out.append(ew_kernel("k_logical_not", ["__global uchar *o", X], 2,
                         f"{C} x = {LD('a', 'of[1]')};\n    o[of[0]] = (uchar)(x == 0);"))
    XY = f"{C} x = {LD('a', 'of[1]')}, y = {LD('b', 'of[2]')};\n    switch (op) {{\n    "
    cases = [f"case {i}: {ST('o', 'of[0]', e)} break;" for i, op in enumerate(BINARY)
             if (e := binary_expr(op, dt)) is not None]
    out.append(ew_kernel("k_binary", [O, X, f"__global const {S} *b"], 3, XY + "\n    ".join(cases) + "\n    }",
                         ", int op"))
    cases = [f"case {i}: o[of[0]] = (uchar)({binary_expr(op, dt)}); break;" for i, op in enumerate(PREDICATES)]
    out.append(ew_kernel("k_predicate", ["__global uchar *o", X, f"__global const {S} *b"], 3,
                         XY + "\n    ".join(cases) + "\n    }", ", int op"))
    # where
    sel = "c[of[1]] ? " + LD("a", "of[2]") + " : " + LD("b", "of[3]")
    out.append(ew_kernel("k_where", [O, "__global const uchar *c", X, f"__global const {S} *b"], 4,
                         ST("o", "of[0]", sel)))
    # casts from this dtype: `dst` is the index of the destination dtype in DTYPES
    cases = []
    for i, dst in enumerate(DTYPES):
        if dst == "float64" and not fp64:
            continue
        d = D[dst]
        cases.append(f"case {i}: {{ __global {d.st} *p = (__global {d.st} *)o; "
                     f"{st(d, 'p', 'of[0]', 'x', dt.cat, fp64)} }} break;")
    out.append(ew_kernel("k_cast", ["__global uchar *o", X], 2, f"{C} x = {LD('a', 'of[1]')};\n    switch (dst) {{\n    "
                         + "\n    ".join(cases) + "\n    }", ", int dst"))
    # raw copy and fill
    U = dt.ut
    out.append(ew_kernel("k_copy", [f"__global {U} *o", f"__global const {U} *a"], 2, "o[of[0]] = a[of[1]];"))
    out.append(ew_kernel("k_fill", [f"__global {U} *o"], 1, "o[of[0]] = v;", f", {U} v"))
    # arange
    fp = "double" if fp64 else "float"
    out.append(f"""
__kernel void k_arange_f({O}, long n, long so, long oo, {fp} start, {fp} step) {{
    long g = get_global_id(0);
    if (g >= n) return;
    {st(dt, 'o', 'oo + g * so', f'start + ({fp})g * step', 'd' if fp64 else 'f', fp64)}
}}
__kernel void k_arange_i({O}, long n, long so, long oo, long start, long step) {{
    long g = get_global_id(0);
    if (g >= n) return;
    {st(dt, 'o', 'oo + g * so', '(long)((ulong)start + (ulong)g * (ulong)step)', 'i', fp64)}
}}
""")
    # reductions (op: index in REDUCE): k_red (direct, or partial sums of P chunks) and k_redf
    # (combines the partials); cumulative ops reuse the sum/prod combine
    at, cat = acc_type(dt), ("i" if dt.kind != "f" else dt.cat)
    if dt.kind == "f":
        combs = ["a + v", "a * v", "((isnan(a) || isnan(v)) ? a + v : (v > a ? v : a))",
                 "((isnan(a) || isnan(v)) ? a + v : (v < a ? v : a))"]
        inits = [f"({C})0", f"({C})1", f"-({C})INFINITY", f"({C})INFINITY"]
    elif dt.kind == "b":
        combs = ["(a | v)", "(a & v)", "(a | v)", "(a & v)"]
        inits = ["0", "1", "0", "1"]
    else:
        combs = ["(long)((ulong)a + (ulong)v)", "(long)((ulong)a * (ulong)v)", "(v > a ? v : a)", "(v < a ? v : a)"]
        inits = ["0", "1", "first", "first"]
    comb_cases = " ".join(f"case {i}: return {e};" for i, e in enumerate(combs))
    init_cases = " ".join(f"case {i}: return {e};" for i, e in enumerate(inits))
    out.append(f"""
{at} rcomb(int op, {at} a, {at} v) {{ switch (op) {{ {comb_cases} }} return a; }}
{at} rinit(int op, {at} first) {{ switch (op) {{ {init_cases} }} return first; }}
__kernel void k_red({O}, __global const {S} *x, __global {at} *part, Meta2 mo, Meta1 mi, long nout, long nred,
                    long P, long chunk, int op) {{
    long g = get_global_id(0);
    if (g >= nout * P) return;
    long oi = g / P, c = g - oi * P;
    long of[2];
    offs2(&mo, oi, of);
    long r0 = c * chunk, r1 = min(nred, r0 + chunk);
    long x0 = of[1];
    {at} a = rinit(op, (op >= 2 && nred > 0) ? ({at}){LD('x', 'x0')} : ({at})0);
    if (mi.nd <= 1) {{
        long s = mi.st[0][0];
        for (long r = r0; r < r1; ++r) a = rcomb(op, a, ({at}){LD('x', 'x0 + r * s')});
    }} else {{
        for (long r = r0; r < r1; ++r) {{
            long q[1];
            offs1(&mi, r, q);
            a = rcomb(op, a, ({at}){LD('x', 'x0 + q[0]')});
        }}
    }}
    if (P == 1) {{ {st(dt, 'o', 'of[0]', 'a', cat, fp64)} }} else part[g] = a;
}}
__kernel void k_redf({O}, __global const {at} *part, Meta1 mo, long nout, long P, int op) {{
    long g = get_global_id(0);
    if (g >= nout) return;
    long of[1];
    offs1(&mo, g, of);
    {at} a = part[g * P];
    for (long c = 1; c < P; ++c) a = rcomb(op, a, part[g * P + c]);
    {st(dt, 'o', 'of[0]', 'a', cat, fp64)}
}}
__kernel void k_cumulative({O}, __global const {S} *x, Meta2 mo, long nlines, long L, long so, long sx, int op) {{
    long g = get_global_id(0);
    if (g >= nlines) return;
    long of[2];
    offs2(&mo, g, of);
    {at} a = rinit(op, 0);
    for (long i = 0; i < L; ++i) {{
        a = rcomb(op, a, ({at}){LD('x', 'of[1] + i * sx')});
        {st(dt, 'o', 'of[0] + i * so', 'a', cat, fp64)}
    }}
}}
""")
    # arg reductions: the index of the first extreme, a NaN counting as one
    if dt.kind == "f":
        better = "(!isnan(best) && (isnan(v) || (ismin ? v < best : v > best)))"
    else:
        better = "(ismin ? v < best : v > best)"
    out.append(f"""
__kernel void k_argreduce(__global long *o, __global const {S} *x, Meta2 mo, long nout, long L, long sx, int ismin) {{
    long g = get_global_id(0);
    if (g >= nout) return;
    long of[2];
    offs2(&mo, g, of);
    long bi = 0;
    if (L > 0) {{
        {C} best = {LD('x', 'of[1]')};
        for (long i = 1; i < L; ++i) {{
            {C} v = {LD('x', 'of[1] + i * sx')};
            if {better} {{ best = v; bi = i; }}
        }}
    }}
    o[of[0]] = bi;
}}
""")
    # matmul, conv: float and integer kinds
    if dt.kind != "b":
        at = C if dt.kind == "f" else dt.wt
        cat = dt.cat
        out.append(_matmul_source(dt, fp64))
        out.append(_matmul_direct_source(dt, fp64))
        out.append(_conv_source(dt, fp64))
    # gather / index_select (k_take), scatter, scatter_add / index_add
    ZERO = f"({C})0"
    out.append(ew_kernel("k_take", [O, X, "__global const long *idx"], 3, f"""long i = idx[of[2]];
    {C} v = (i >= 0 && i < size) ? {LD('a', 'of[1] + i * xsd')} : {ZERO};
    {ST('o', 'of[0]', 'v')}""", ", long xsd, long size"))
    add = binary_expr("add", dt)
    out.append(ew_kernel("k_scatter", [O, "__global const long *idx", f"__global const {S} *src"], 3,
                         f"""for (long j = 0; j < L; ++j) {{
        long i = idx[of[1] + j * sid];
        if (i < 0 || i >= size) continue;
        long oo = of[0] + i * osd;
        {C} v = {LD('src', 'of[2] + j * ssd')};
        if (accumulate) {{ {C} x = {LD('o', 'oo')}, y = v; {ST('o', 'oo', add)} }}
        else {{ {ST('o', 'oo', 'v')} }}
    }}""", ", long L, long sid, long ssd, long osd, long size, int accumulate"))
    # advanced indexing with k index tensors
    for k in range(1, MAXT - 1):
        iargs = [f"__global const long *i{m}" for m in range(k)]
        body = [f"long xo = of[1]; int ok = 1;"]
        for m in range(k):
            body.append(f"{{ long i = i{m}[of[{m + 2}]]; ok &= (i >= 0 && i < p.v[{k + m}]); xo += i * p.v[{m}]; }}")
        body.append(f"{C} v = ok ? {LD('a', 'xo')} : {ZERO};")
        body.append(ST("o", "of[0]", "v"))
        out.append(ew_kernel(f"k_index{k}", [O, X] + iargs, k + 2, "\n    ".join(body), ", P8 p"))
        # index_put: mo over the trailing dims (o, values); mi over the index shape (values, i...)
        ibody = []
        for m in range(k):
            ibody.append(f"{{ long i = i{m}[q[{m + 1}]]; ok &= (i >= 0 && i < p.v[{k + m}]); oo += i * p.v[{m}]; }}")
        ibody = "\n            ".join(ibody)
        out.append(f"""
__kernel void k_index_put{k}({O}, __global const {S} *val, {', '.join(iargs)}, Meta2 mo, Meta{k + 1} mi, long nrest, long nI,
                             P8 p, int accumulate) {{
    long g = get_global_id(0);
    if (g >= nrest) return;
    long of[2];
    offs2(&mo, g, of);
    for (long j = 0; j < nI; ++j) {{
        long q[{k + 1}];
        offs{k + 1}(&mi, j, q);
        long oo = of[0];
        int ok = 1;
        {ibody}
        if (!ok) continue;
        {C} v = {LD('val', 'of[1] + q[0]')};
        if (accumulate) {{ {C} x = {LD('o', 'oo')}, y = v; {ST('o', 'oo', add)} }}
        else {{ {ST('o', 'oo', 'v')} }}
    }}
}}
""")
    # sort / topk by stable rank
    if dt.kind == "f":
        less = "(!isnan(A) && (isnan(B) || A < B))"
        eq = "(A == B || (isnan(A) && isnan(B)))"
    else:
        less, eq = "(A < B)", "(A == B)"

    def sub(e, a, b):
        return e.replace("A", a).replace("B", b)
    out.append(f"""
__kernel void k_sort(__global {S} *vo, __global long *io, __global const {S} *x, Meta3 m, long nlines, long L,
                     long svo, long sio, long sx, long k, int desc) {{
    long g = get_global_id(0);
    if (g >= nlines * L) return;
    long line = g / L, i = g - line * L;
    long of[3];
    offs3(&m, line, of);
    {C} xi = {LD('x', 'of[2] + i * sx')};
    long rank = 0;
    for (long j = 0; j < L; ++j) {{
        {C} xj = {LD('x', 'of[2] + j * sx')};
        int before = desc ? {sub(less, 'xi', 'xj')} : {sub(less, 'xj', 'xi')};
        if (before || (j < i && {sub(eq, 'xj', 'xi')})) ++rank;
    }}
    if (rank < k) {{
        {ST('vo', 'of[0] + rank * svo', 'xi')}
        io[of[1] + rank * sio] = i;
    }}
}}
""")
    # long sorts: stable rank inside blocks of B, then merge passes (each element finds its
    # place in the partner run by binary search), on (key, index) pairs in scratch buffers
    bef = sub(less, "a", "b")
    out.append(f"""
int sbefore({C} a, {C} b, int desc) {{ return desc ? {sub(less, 'b', 'a')} : {bef}; }}
__kernel void k_sort_block(__global {C} *ko, __global long *iout, __global const {S} *x, Meta1 m, long nlines,
                           long L, long sx, long B, int desc) {{
    long g = get_global_id(0);
    if (g >= nlines * L) return;
    long line = g / L, i = g - line * L;
    long of[1];
    offs1(&m, line, of);
    {C} xi = {LD('x', 'of[0] + i * sx')};
    long b0 = (i / B) * B, b1 = min(b0 + B, L), rank = 0;
    for (long j = b0; j < b1; ++j) {{
        {C} xj = {LD('x', 'of[0] + j * sx')};
        if (sbefore(xj, xi, desc) || (j < i && {sub(eq, 'xj', 'xi')})) ++rank;
    }}
    ko[line * L + b0 + rank] = xi;
    iout[line * L + b0 + rank] = i;
}}
__kernel void k_sort_merge(__global {C} *ko, __global long *iout, __global const {C} *ki, __global const long *ii,
                           long nlines, long L, long w, int desc) {{
    long g = get_global_id(0);
    if (g >= nlines * L) return;
    long line = g / L, i = g - line * L, base = line * L;
    long s = (i / (2 * w)) * (2 * w);
    {C} xi = ki[base + i];
    long pos;
    if (i < s + w) {{  /* left run: after the right run's elements strictly before it */
        long r0 = s + w, lo = r0, hi = min(s + 2 * w, L);
        while (lo < hi) {{ long mid = (lo + hi) / 2; if (sbefore(ki[base + mid], xi, desc)) lo = mid + 1; else hi = mid; }}
        pos = i + (lo - (r0 < L ? r0 : lo));
    }} else {{  /* right run: after the left run's elements not after it (ties keep the left first) */
        long lo = s, hi = s + w;
        while (lo < hi) {{ long mid = (lo + hi) / 2; if (!sbefore(xi, ki[base + mid], desc)) lo = mid + 1; else hi = mid; }}
        pos = s + (i - s - w) + (lo - s);
    }}
    ko[base + pos] = xi;
    iout[base + pos] = ii[base + i];
}}
__kernel void k_sort_final(__global {S} *vo, __global long *io, __global const {C} *ks, __global const long *is,
                           Meta2 m, long nlines, long L, long k, long svo, long sio) {{
    long g = get_global_id(0);
    if (g >= nlines * k) return;
    long line = g / k, r = g - line * k;
    long of[2];
    offs2(&m, line, of);
    {ST('vo', 'of[0] + r * svo', 'ks[line * L + r]')}
    io[of[1] + r * sio] = is[line * L + r];
}}
""")
    if fp64:
        out.append(_random_source(dt, fp64))
    return "".join(out)


def _matmul_source(dt: DT, fp64: bool) -> str:
    S = dt.st
    at = dt.ct if dt.kind == "f" else dt.wt
    cat = dt.cat if dt.kind == "f" else "i"
    loads = MT * MK // (MW * MW)
    return f"""
/* p: M N K | a off sb sm sk | b off sb sk sn | o off sb sm sn */
__kernel __attribute__((reqd_work_group_size({MW}, {MW}, 1)))
void k_matmul(__global {S} *o, __global const {S} *a, __global const {S} *b, P16 p) {{
    const long M = p.v[0], N = p.v[1], K = p.v[2];
    const int tx = get_local_id(0), ty = get_local_id(1), lid = ty * {MW} + tx;
    const long m0 = get_group_id(1) * {MT}, n0 = get_group_id(0) * {MT}, bat = get_global_id(2);
    const long ab = p.v[3] + bat * p.v[4], asm_ = p.v[5], ask = p.v[6];
    const long bb = p.v[7] + bat * p.v[8], bsk = p.v[9], bsn = p.v[10];
    __local {at} As[{MK}][{MT}];
    __local {at} Bs[{MK}][{MT}];
    {at} acc[{MR}][{MR}];
    for (int i = 0; i < {MR}; ++i)
        for (int j = 0; j < {MR}; ++j) acc[i][j] = 0;
    for (long k0 = 0; k0 < K; k0 += {MK}) {{
        for (int r = 0; r < {loads}; ++r) {{
            int e = lid + r * {MW * MW};
            int mm = e / {MK}, ka = e % {MK};
            long gm = m0 + mm, gk = k0 + ka;
            As[ka][mm] = (gm < M && gk < K) ? ({at}){ld(dt, 'a', 'ab + gm * asm_ + gk * ask')} : ({at})0;
            int kb = e / {MT}, nn = e % {MT};
            long gn = n0 + nn, gkb = k0 + kb;
            Bs[kb][nn] = (gn < N && gkb < K) ? ({at}){ld(dt, 'b', 'bb + gkb * bsk + gn * bsn')} : ({at})0;
        }}
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int kk = 0; kk < {MK}; ++kk) {{
            {at} ar[{MR}], br[{MR}];
            for (int i = 0; i < {MR}; ++i) ar[i] = As[kk][ty + {MW} * i];
            for (int j = 0; j < {MR}; ++j) br[j] = Bs[kk][tx + {MW} * j];
            for (int i = 0; i < {MR}; ++i)
                for (int j = 0; j < {MR}; ++j) acc[i][j] += ar[i] * br[j];
        }}
        barrier(CLK_LOCAL_MEM_FENCE);
    }}
    const long ob = p.v[11] + bat * p.v[12];
    for (int i = 0; i < {MR}; ++i) {{
        long row = m0 + ty + {MW} * i;
        if (row >= M) continue;
        for (int j = 0; j < {MR}; ++j) {{
            long col = n0 + tx + {MW} * j;
            if (col < N) {{ {st(dt, 'o', 'ob + row * p.v[13] + col * p.v[14]', 'acc[i][j]', cat, fp64)} }}
        }}
    }}
}}
"""


def _matmul_direct_source(dt: DT, fp64: bool) -> str:
    """The matmul for CPU drivers (PoCL): no local memory, each work item MD rows of one
    column; work items next to each other take neighbouring columns, which the driver's
    vectoriser turns into SIMD loads of b and broadcasts of a."""
    S = dt.st
    at = dt.ct if dt.kind == "f" else dt.wt
    cat = dt.cat if dt.kind == "f" else "i"
    return f"""
__kernel __attribute__((reqd_work_group_size({MDW}, 1, 1)))
void k_matmul_direct(__global {S} *o, __global const {S} *a, __global const {S} *b, P16 p) {{
    const long M = p.v[0], N = p.v[1], K = p.v[2];
    const long col = get_global_id(0), r0 = get_global_id(1) * {MD}, bat = get_global_id(2);
    const long ab = p.v[3] + bat * p.v[4], asm_ = p.v[5], ask = p.v[6];
    const long bb = p.v[7] + bat * p.v[8], bsk = p.v[9], bsn = p.v[10];
    const long cc = col < N ? col : N - 1;
    long rows[{MD}];
    for (int i = 0; i < {MD}; ++i) rows[i] = ab + (r0 + i < M ? r0 + i : M - 1) * asm_;
    {at} acc[{MD}];
    for (int i = 0; i < {MD}; ++i) acc[i] = 0;
    for (long k = 0; k < K; ++k) {{
        {at} bv = ({at}){ld(dt, 'b', 'bb + k * bsk + cc * bsn')};
        for (int i = 0; i < {MD}; ++i) acc[i] += ({at}){ld(dt, 'a', 'rows[i] + k * ask')} * bv;
    }}
    if (col >= N) return;
    const long ob = p.v[11] + bat * p.v[12] + col * p.v[14];
    for (int i = 0; i < {MD}; ++i)
        if (r0 + i < M) {{ {st(dt, 'o', 'ob + (r0 + i) * p.v[13]', 'acc[i]', cat, fp64)} }}
}}
"""


def _conv_source(dt: DT, fp64: bool) -> str:
    C, S = dt.ct, dt.st
    at = C if dt.kind == "f" else dt.wt
    cat = dt.cat if dt.kind == "f" else "i"
    head = """
    const long N = p.v[0], Cc = p.v[1], H = p.v[2], W = p.v[3], O = p.v[4], OH = p.v[5], OW = p.v[6];
    const long KH = p.v[7], KW = p.v[8], sh = p.v[9], sw = p.v[10], ph = p.v[11], pw = p.v[12];
    const long dh = p.v[13], dw = p.v[14], G = p.v[15];
    const long Cg = Cc / G, Og = O / G;
    /* strides: y (N,O,OH,OW) 16..20, x (N,C,H,W) 21..25, w (O,Cg,KH,KW) 26..30: 4 strides, then offset */
    #define YI(n, c, h, w_) (p.v[20] + (n) * p.v[16] + (c) * p.v[17] + (h) * p.v[18] + (w_) * p.v[19])
    #define XI(n, c, h, w_) (p.v[25] + (n) * p.v[21] + (c) * p.v[22] + (h) * p.v[23] + (w_) * p.v[24])
    #define WI(n, c, h, w_) (p.v[30] + (n) * p.v[26] + (c) * p.v[27] + (h) * p.v[28] + (w_) * p.v[29])
"""
    tail = "\n    #undef YI\n    #undef XI\n    #undef WI\n"
    mul = "(({at}){a}) * (({at}){b})"

    def m(a, b):
        return mul.format(at=at, a=a, b=b)
    return f"""
__kernel void k_conv2d(__global {S} *y, __global const {S} *x, __global const {S} *w, P32 p) {{
    {head}
    long g = get_global_id(0);
    if (g >= N * O * OH * OW) return;
    long ow = g % OW, t = g / OW, oh = t % OH; t /= OH;
    long oc = t % O, n = t / O, grp = oc / Og;
    {at} acc = 0;
    /* branch-free taps (clamped address, zero weight outside): drivers vectorise across work items */
    for (long c = 0; c < Cg; ++c) {{
        long ci = grp * Cg + c;
        for (long kh = 0; kh < KH; ++kh) {{
            long ih = oh * sh - ph + kh * dh;
            int okh = ih >= 0 && ih < H;
            long ihc = okh ? ih : 0;
            for (long kw = 0; kw < KW; ++kw) {{
                long iw = ow * sw - pw + kw * dw;
                int ok = okh && iw >= 0 && iw < W;
                {at} xv = ({at}){ld(dt, 'x', 'XI(n, ci, ihc, ok ? iw : 0)')};
                {at} wv = ({at}){ld(dt, 'w', 'WI(oc, c, kh, kw)')};
                acc += ok ? xv * wv : ({at})0;
            }}
        }}
    }}
    {st(dt, 'y', 'YI(n, oc, oh, ow)', 'acc', cat, fp64)}
    {tail}
}}
__kernel void k_conv2d_input_grad(__global {S} *x, __global const {S} *y, __global const {S} *w, P32 p) {{
    {head}
    long g = get_global_id(0);
    if (g >= N * Cc * H * W) return;
    long iw = g % W, t = g / W, ih = t % H; t /= H;
    long c = t % Cc, n = t / Cc, grp = c / Cg, cc = c - grp * Cg;
    {at} acc = 0;
    for (long oc = grp * Og; oc < (grp + 1) * Og; ++oc) {{
        for (long kh = 0; kh < KH; ++kh) {{
            long th = ih + ph - kh * dh;
            if (th < 0 || th % sh != 0) continue;
            long oh = th / sh;
            if (oh >= OH) continue;
            for (long kw = 0; kw < KW; ++kw) {{
                long tw = iw + pw - kw * dw;
                if (tw < 0 || tw % sw != 0) continue;
                long ow = tw / sw;
                if (ow >= OW) continue;
                acc += {m(ld(dt, 'y', 'YI(n, oc, oh, ow)'), ld(dt, 'w', 'WI(oc, cc, kh, kw)'))};
            }}
        }}
    }}
    {st(dt, 'x', 'XI(n, c, ih, iw)', 'acc', cat, fp64)}
    {tail}
}}
/* conv as GEMM (groups == 1): im2col of the batches [n0, n0 + nb) into cols (nb, C*KH*KW, OH*OW),
   or (nb, OH*OW, C*KH*KW) when tr; raw bits, zeros for padding */
__kernel void k_im2col(__global {dt.ut} *cols, __global const {dt.ut} *x, P32 p, long n0, long nb, int tr) {{
    {head}
    const long PQ = OH * OW, Kc = Cc * KH * KW;
    long g = get_global_id(0);
    if (g >= nb * Kc * PQ) return;
    long nn, kidx, pq;
    if (tr) {{ kidx = g % Kc; long t = g / Kc; pq = t % PQ; nn = t / PQ; }}
    else {{ pq = g % PQ; long t = g / PQ; kidx = t % Kc; nn = t / Kc; }}
    long kw = kidx % KW, t2 = kidx / KW, kh = t2 % KH, c = t2 / KH;
    long oh = pq / OW, ow = pq - oh * OW;
    long ih = oh * sh - ph + kh * dh, iw = ow * sw - pw + kw * dw;
    cols[g] = (ih >= 0 && ih < H && iw >= 0 && iw < W) ? x[XI(n0 + nn, c, ih, iw)] : ({dt.ut})0;
    {tail}
}}
/* gx of the batches [n0, n0 + nb) from column gradients cols (nb, C*KH*KW, OH*OW) */
__kernel void k_col2im(__global {S} *x, __global const {S} *cols, P32 p, long n0, long nb) {{
    {head}
    const long PQ = OH * OW, Kc = Cc * KH * KW;
    long g = get_global_id(0);
    if (g >= nb * Cc * H * W) return;
    long iw = g % W, t = g / W, ih = t % H; t /= H;
    long c = t % Cc, nn = t / Cc;
    {at} acc = 0;
    for (long kh = 0; kh < KH; ++kh) {{
        long th = ih + ph - kh * dh;
        if (th < 0 || th % sh != 0) continue;
        long oh = th / sh;
        if (oh >= OH) continue;
        for (long kw = 0; kw < KW; ++kw) {{
            long tw = iw + pw - kw * dw;
            if (tw < 0 || tw % sw != 0) continue;
            long ow = tw / sw;
            if (ow >= OW) continue;
            acc += ({at}){ld(dt, 'cols', '(nn * Kc + (c * KH + kh) * KW + kw) * PQ + oh * OW + ow')};
        }}
    }}
    {st(dt, 'x', 'XI(n0 + nn, c, ih, iw)', 'acc', cat, fp64)}
    {tail}
}}
/* the batch is split in P parts; P > 1 writes partial sums to part[g] (combined by k_redf) */
__kernel void k_conv2d_weight_grad(__global {S} *w, __global const {S} *y, __global const {S} *x, P32 p,
                                   __global {at} *part, long P) {{
    {head}
    long g = get_global_id(0);
    long nw = O * Cg * KH * KW;
    if (g >= nw * P) return;
    long wi = g / P, s = g - wi * P;
    long kw = wi % KW, t = wi / KW, kh = t % KH; t /= KH;
    long c = t % Cg, oc = t / Cg, grp = oc / Og, ci = grp * Cg + c;
    long chunk = (N + P - 1) / P, n0 = s * chunk, n1 = min(N, n0 + chunk);
    {at} acc = 0;
    for (long n = n0; n < n1; ++n) {{
        for (long oh = 0; oh < OH; ++oh) {{
            long ih = oh * sh - ph + kh * dh;
            if (ih < 0 || ih >= H) continue;
            for (long ow = 0; ow < OW; ++ow) {{
                long iw = ow * sw - pw + kw * dw;
                if (iw < 0 || iw >= W) continue;
                acc += {m(ld(dt, 'y', 'YI(n, oc, oh, ow)'), ld(dt, 'x', 'XI(n, ci, ih, iw)'))};
            }}
        }}
    }}
    if (P == 1) {{ {st(dt, 'w', 'WI(oc, c, kh, kw)', 'acc', cat, fp64)} }} else part[g] = acc;
    {tail}
}}
"""


def _random_source(dt: DT, fp64: bool) -> str:
    S = dt.st
    O = f"__global {S} *o"

    def STD(i, e):
        return st(dt, "o", i, e, "d", fp64)

    def STI(i, e):
        return st(dt, "o", i, e, "i", fp64)
    return f"""
__kernel void k_rand({O}, Meta1 m, long n, ulong seed, ulong off, double top) {{
    long g = get_global_id(0);
    if (g >= n) return;
    long of[1];
    offs1(&m, g, of);
    double u = min(unif_i(seed, off, (ulong)g), top);
    {STD('of[0]', 'u')}
}}
__kernel void k_randn({O}, Meta1 m, long n, ulong seed, ulong off) {{
    long j = get_global_id(0);
    if (2 * j >= n) return;
    uint4 r = rblock(seed, off + (ulong)j);
    double u0 = unif2(r.x, r.y), u1 = unif2(r.z, r.w);
    double rad = sqrt(-2.0 * log(1.0 - u0));
    double th = (2.0 * M_PI) * u1;
    long of[1];
    offs1(&m, 2 * j, of);
    {STD('of[0]', 'rad * cos(th)')}
    if (2 * j + 1 < n) {{
        offs1(&m, 2 * j + 1, of);
        {STD('of[0]', 'rad * sin(th)')}
    }}
}}
__kernel void k_randint({O}, Meta1 m, long n, ulong seed, ulong off, long low, ulong span) {{
    long g = get_global_id(0);
    if (g >= n) return;
    long of[1];
    offs1(&m, g, of);
    uint4 r = rblock(seed, off + (ulong)g / 2);
    ulong w = (g & 1) ? ((((ulong)r.z) << 32) | r.w) : ((((ulong)r.x) << 32) | r.y);
    long v = (long)((ulong)low + w % span);
    {STI('of[0]', 'v')}
}}
__kernel void k_bernoulli({O}, __global const {S} *a, Meta2 m, long n, ulong seed, ulong off) {{
    long g = get_global_id(0);
    if (g >= n) return;
    long of[2];
    offs2(&m, g, of);
    double u = unif_i(seed, off, (ulong)g);
    double pv = (double)({ld(dt, 'a', 'of[1]')});
    {STI('of[0]', '(u < pv ? 1 : 0)')}
}}
__kernel void k_randperm({O}, long n, long so, long oo, ulong seed, ulong off) {{
    if (get_global_id(0) != 0) return;
    for (long k = 0; k < n; ++k) {{ {STI('oo + k * so', 'k')} }}
    for (long i = n - 1; i >= 1; --i) {{
        double u = unif_i(seed, off, (ulong)i);
        long j = (long)(u * (double)(i + 1));
        if (j > i) j = i;
        {dt.ct} vi = {ld(dt, 'o', 'oo + i * so')}, vj = {ld(dt, 'o', 'oo + j * so')};
        {st(dt, 'o', 'oo + i * so', 'vj', dt.cat, fp64)}
        {st(dt, 'o', 'oo + j * so', 'vi', dt.cat, fp64)}
    }}
}}
"""
