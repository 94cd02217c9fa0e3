"""Helper code every program shares, in the portable dialect: the MetaN and P blocks, the
bfloat16 conversions, float remainder and floor division, the integer helpers, digamma and
polygamma, and the core's Philox stream (which needs double precision)."""
from __future__ import annotations

from .dtypes import DT
from .geometry import MAXD, MAXT

SHARED = r"""
#define MAXD %(MAXD)d
#define MAXT %(MAXT)d
/* MetaN: shape, strides and offsets of N tensors over one iteration space, passed by value */
#define DEFINE_META(N) \
typedef struct { i64 sh[MAXD]; i64 st[N][MAXD]; i64 off[N]; i64 nd; } Meta##N; \
DS_FN void offs##N(const Meta##N *m, i64 g, i64 *of) { \
    for (int t = 0; t < N; ++t) of[t] = m->off[t]; \
    int nd = (int)m->nd; \
    for (int d = nd - 1; d > 0; --d) { \
        i64 s = m->sh[d]; \
        i64 q = g / s; \
        i64 c = g - q * s; \
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
typedef struct { i64 v[8]; } P8;
typedef struct { i64 v[16]; } P16;
typedef struct { i64 v[32]; } P32;
DS_FN i64 ds_min_i64(i64 a, i64 b) { return a < b ? a : b; }

DS_FN float bf2f(u16 h) { return ds_as_f32(((u32)h) << 16); }
DS_FN u16 f2bf(float f) {
    u32 u = ds_as_u32(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (u16)((u >> 16) | 0x40u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (u16)(u >> 16);
}
DS_FN float frem_float(float x, float y) {
    float r = fmod(x, y);
    return (r != 0.0f && ((r < 0.0f) != (y < 0.0f))) ? r + y : r;
}
/* floor division from fmod, as the CPU core (inf // 3 is NaN, -3 // inf is -1) */
DS_FN float fdivfloor_float(float a, float b) {
    if (b == 0.0f) return a / b;
    float m = fmod(a, b);
    float d = (a - m) / b;
    if (m != 0.0f && ((b < 0.0f) != (m < 0.0f))) d -= 1.0f;
    if (d == 0.0f) return signbit(a / b) ? -0.0f : 0.0f;
    float f = floor(d);
    return (d - f > 0.5f) ? f + 1.0f : f;
}
""" % {"MAXD": MAXD, "MAXT": MAXT}

SHARED_FP64 = r"""
/* double -> bfloat16, rounding to nearest even: round to odd into float first (exact for
   the final rounding since float keeps more than bfloat16's bits + 2). */
DS_FN u16 d2bf(double d) {
    if (isnan(d)) return f2bf((float)d);
    float f = ds_d2f_rz(d);
    if ((double)f != d && !isinf(f)) f = ds_as_f32(ds_as_u32(f) | 1u);
    return f2bf(f);
}
DS_FN double frem_double(double x, double y) {
    double r = fmod(x, y);
    return (r != 0.0 && ((r < 0.0) != (y < 0.0))) ? r + y : r;
}
DS_FN double fdivfloor_double(double a, double b) {
    if (b == 0.0) return a / b;
    double m = fmod(a, b);
    double d = (a - m) / b;
    if (m != 0.0 && ((b < 0.0) != (m < 0.0))) d -= 1.0;
    if (d == 0.0) return signbit(a / b) ? -0.0 : 0.0;
    double f = floor(d);
    return (d - f > 0.5) ? f + 1.0 : f;
}
/* the core's counter-based generator: Philox-4x32 with 10 rounds */
typedef struct { u32 x, y, z, w; } ds_u32x4;
DS_FN ds_u32x4 philox(ds_u32x4 c, u32 k0, u32 k1) {
    for (int i = 0; i < 10; ++i) {
        u32 lo0 = c.x * 0xD2511F53u, hi0 = ds_mulhi_u32(c.x, 0xD2511F53u);
        u32 lo1 = c.z * 0xCD9E8D57u, hi1 = ds_mulhi_u32(c.z, 0xCD9E8D57u);
        ds_u32x4 n;
        n.x = hi1 ^ c.y ^ k0;
        n.y = lo1;
        n.z = hi0 ^ c.w ^ k1;
        n.w = lo0;
        c = n;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    return c;
}
DS_FN ds_u32x4 rblock(u64 seed, u64 blk) {
    ds_u32x4 c;
    c.x = (u32)blk;
    c.y = (u32)(blk >> 32);
    c.z = 0u;
    c.w = 0u;
    return philox(c, (u32)seed, (u32)(seed >> 32));
}
DS_FN double unif2(u32 a, u32 b) {
    return (double)((((u64)(a >> 5)) << 26) | (u64)(b >> 6)) * (1.0 / 9007199254740992.0);
}
/* uniform number i of the stream: words 2i and 2i+1 */
DS_FN double unif_i(u64 seed, u64 off, u64 i) {
    ds_u32x4 r = rblock(seed, off + i / 2);
    return (i & 1) ? unif2(r.z, r.w) : unif2(r.x, r.y);
}
"""


def int_helpers(dt: DT) -> str:
    """floor_divide, fmod, remainder and pow for an integer dtype (wrapping like the CPU)."""
    c, w = dt.ct, dt.wt
    signed = dt.kind == "i"
    neg1 = f"(y == ({c})-1)" if signed else "0"
    return f"""
DS_FN {c} ifdiv(const {c} x, const {c} y) {{
    if ({neg1}) return ({c})(({w})0 - ({w})x);
    {c} q = x / y;
    if ({'1' if signed else '0'} && (x % y != 0) && ((x < 0) != (y < 0))) q = q - 1;
    return q;
}}
DS_FN {c} ifmod(const {c} x, const {c} y) {{ return {neg1} ? ({c})0 : ({c})(x % y); }}
DS_FN {c} irem(const {c} x, const {c} y) {{
    if ({neg1}) return 0;
    {c} r = x % y;
    if ({'1' if signed else '0'} && r != 0 && ((r < 0) != (y < 0))) r = r + y;
    return r;
}}
DS_FN {c} ipow(const {c} x, const {c} y) {{
    /* a negative exponent (signed types only), as PyTorch: 1 and -1 keep their magnitude,
       every other base truncates to 0 */
    if (y < 0) return x == 1 ? ({c})1 : (x == ({c})-1 ? (((({w})0 - ({w})y) & 1) ? ({c})-1 : ({c})1) : ({c})0);
    u64 e = (u64)y;
    {w} base = ({w})x, acc = 1;
    while (e > 0) {{ if (e & 1) acc = acc * base; base = base * base; e >>= 1; }}
    return ({c})acc;
}}
"""


def float_helpers(ct: str) -> str:
    """digamma and polygamma in the compute type ``ct``, as the CPU core computes them:
    digamma by recurrence up to x >= 10, the asymptotic series there and reflection below
    0; polygamma through the Hurwitz zeta function (direct sum, then Euler-Maclaurin)."""
    pi = "3.14159265358979323846"
    return f"""
DS_FN {ct} ds_digamma_{ct}({ct} x) {{
    if (x == ({ct})0) return signbit(x) ? DS_INFINITY : -DS_INFINITY;
    if (isnan(x) || x == -DS_INFINITY) return DS_NAN;
    {ct} acc = 0;
    if (x < 0) {{
        if (x == floor(x)) return DS_NAN;
        acc = -({ct}){pi} / tan(({ct}){pi} * (x - rint(x)));  /* reduced exactly first */
        x = ({ct})1 - x;
    }}
    while (x < ({ct})10) {{ acc -= ({ct})1 / x; x += ({ct})1; }}
    {ct} r = ({ct})1 / (x * x);
    {ct} s = r * (({ct})1 / 12 - r * (({ct})1 / 120 - r * (({ct})1 / 252 - r * (({ct})1 / 240
           - r * (({ct})1 / 132 - r * (({ct})691 / 32760 - r / ({ct})12))))));
    return acc + log(x) - ({ct})0.5 / x - s;
}}
DS_FN {ct} ds_hurwitz_zeta_{ct}({ct} s, {ct} q) {{
    if (isnan(s) || isnan(q) || s <= ({ct})1 || q == -DS_INFINITY) return DS_NAN;
    if (q <= 0) {{
        if (q == floor(q)) return DS_INFINITY;
        if (s != floor(s)) return DS_NAN;
    }}
    if (q == DS_INFINITY) return 0;
    {ct} sum = 0, w = q;
    for (int i = 0; i < 9 || w <= ({ct})9; i++) {{ sum += pow(w, -s); w += ({ct})1; }}
    const {ct} B[7] = {{({ct})1 / 12, ({ct})-1 / 720, ({ct})1 / 30240, ({ct})-1 / 1209600, ({ct})1 / 47900160,
                        ({ct})-691 / ({ct})1307674368000.0, ({ct})1 / ({ct})74724249600.0}};
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
DS_FN {ct} ds_polygamma_{ct}(i64 n, {ct} x) {{
    if (n == 0) return ds_digamma_{ct}(x);
    {ct} fact = exp(lgamma(({ct})(n + 1)));
    return (n % 2 == 1 ? fact : -fact) * ds_hurwitz_zeta_{ct}(({ct})(n + 1), x);
}}
"""
