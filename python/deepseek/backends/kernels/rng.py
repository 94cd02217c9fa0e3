"""The random ops on the core's Philox stream (``unif_i``, ``rblock`` of :mod:`.common`), so
every device draws the numbers the CPU draws for the same seed and offset."""
from __future__ import annotations

from .dtypes import DT, ld, st


def random_source(dt: DT, fp64: bool) -> str:
    """k_rand, k_randn, k_randint, k_bernoulli and k_randperm over the Philox stream."""
    S = dt.st
    O = f"DS_GLOBAL {S} *o"

    def STD(i, e):
        return st(dt, "o", i, e, "d", fp64)

    def STI(i, e):
        return st(dt, "o", i, e, "i", fp64)
    return f"""
DS_KERNEL k_rand({O}, Meta1 m, i64 n, u64 seed, u64 off, double top) {{
    i64 g = DS_GID(0);
    if (g >= n) return;
    i64 of[1];
    offs1(&m, g, of);
    double u = fmin(unif_i(seed, off, (u64)g), top);
    {STD('of[0]', 'u')}
}}
DS_KERNEL k_randn({O}, Meta1 m, i64 n, u64 seed, u64 off) {{
    i64 j = DS_GID(0);
    if (2 * j >= n) return;
    ds_u32x4 r = rblock(seed, off + (u64)j);
    double u0 = unif2(r.x, r.y), u1 = unif2(r.z, r.w);
    double rad = sqrt(-2.0 * log(1.0 - u0));
    double th = (2.0 * 3.14159265358979323846) * u1;
    i64 of[1];
    offs1(&m, 2 * j, of);
    {STD('of[0]', 'rad * cos(th)')}
    if (2 * j + 1 < n) {{
        offs1(&m, 2 * j + 1, of);
        {STD('of[0]', 'rad * sin(th)')}
    }}
}}
DS_KERNEL k_randint({O}, Meta1 m, i64 n, u64 seed, u64 off, i64 low, u64 span) {{
    i64 g = DS_GID(0);
    if (g >= n) return;
    i64 of[1];
    offs1(&m, g, of);
    ds_u32x4 r = rblock(seed, off + (u64)g / 2);
    u64 w = (g & 1) ? ((((u64)r.z) << 32) | r.w) : ((((u64)r.x) << 32) | r.y);
    i64 v = (i64)((u64)low + w % span);
    {STI('of[0]', 'v')}
}}
DS_KERNEL k_bernoulli({O}, DS_GLOBAL const {S} *a, Meta2 m, i64 n, u64 seed, u64 off) {{
    i64 g = DS_GID(0);
    if (g >= n) return;
    i64 of[2];
    offs2(&m, g, of);
    double u = unif_i(seed, off, (u64)g);
    double pv = (double)({ld(dt, 'a', 'of[1]')});
    {STI('of[0]', '(u < pv ? 1 : 0)')}
}}
DS_KERNEL k_randperm({O}, i64 n, i64 so, i64 oo, u64 seed, u64 off) {{
    if (DS_GID(0) != 0) return;
    for (i64 k = 0; k < n; ++k) {{ {STI('oo + k * so', 'k')} }}
    for (i64 i = n - 1; i >= 1; --i) {{
        double u = unif_i(seed, off, (u64)i);
        i64 j = (i64)(u * (double)(i + 1));
        if (j > i) j = i;
        {dt.ct} vi = {ld(dt, 'o', 'oo + i * so')}, vj = {ld(dt, 'o', 'oo + j * so')};
        {st(dt, 'o', 'oo + i * so', 'vj', dt.cat, fp64)}
        {st(dt, 'o', 'oo + j * so', 'vi', dt.cat, fp64)}
    }}
}}
"""
