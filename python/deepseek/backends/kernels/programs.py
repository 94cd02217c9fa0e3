"""The programs: one per dtype, holding every kernel whose main operand has that dtype (the
input of unary ops, the source of casts, the output of random ops...), in the portable dialect.

Building a program is the expensive, fixed-cost step on most drivers (PoCL: ~1 s), and drivers
compile each kernel of a program lazily on first launch, so a few large programs cost far less
than many small ones. Strided operands get their shape, strides and offsets through ``MetaN``
(N tensors), a struct passed by value (at most ``MAXD`` dims and ``MAXT`` tensors after
dimension coalescing); other integer parameters through ``P8``/``P16``/``P32``. Every kernel's
arguments fit in 1024 bytes, the smallest ``CL_DEVICE_MAX_PARAMETER_SIZE`` OpenCL allows.
"""
from __future__ import annotations

from .common import SHARED, SHARED_FP64, float_helpers, int_helpers
from .dtypes import (BINARY, D, DTYPES, PREDICATES, UNARY, DT, acc_type, binary_expr, ld, st,
                     unary_expr)
from .geometry import MAXT
from .linalg import conv_source, matmul_direct_source, matmul_source
from .rng import random_source


def ew_kernel(name: str, ptrs, nt: int, body: str, extra: str = "") -> str:
    """An elementwise kernel over ``n`` positions; ``of[t]`` is tensor t's element offset."""
    args = ", ".join(ptrs)
    return f"""
DS_KERNEL {name}({args}, Meta{nt} m, i64 n{extra}) {{
    i64 g = DS_GID(0);
    if (g >= n) return;
    i64 of[{nt}];
    offs{nt}(&m, g, of);
    {body}
}}
"""


def program_body(name: str, fp64: bool) -> str:
    """The dialect-independent text of dtype ``name``'s program (without a prelude);
    ``fp64`` False leaves out everything that needs double precision."""
    dt = D[name]
    C, S = dt.ct, dt.st
    out = [SHARED]
    if fp64:
        out.append(SHARED_FP64)
    if dt.kind in "ui":
        out.append(int_helpers(dt))
    if dt.kind == "f":
        out.append(float_helpers(dt.ct))
    X = f"DS_GLOBAL const {S} *a"
    O = f"DS_GLOBAL {S} *o"

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
                             + ST("o", "of[0]", f"ds_polygamma_{C}(pn, x)"), ", i64 pn"))
    out.append(ew_kernel("k_logical_not", ["DS_GLOBAL u8 *o", X], 2,
                         f"{C} x = {LD('a', 'of[1]')};\n    o[of[0]] = (u8)(x == 0);"))
    XY = f"{C} x = {LD('a', 'of[1]')}, y = {LD('b', 'of[2]')};\n    switch (op) {{\n    "
    cases = [f"case {i}: {ST('o', 'of[0]', e)} break;" for i, op in enumerate(BINARY)
             if (e := binary_expr(op, dt)) is not None]
    out.append(ew_kernel("k_binary", [O, X, f"DS_GLOBAL const {S} *b"], 3, XY + "\n    ".join(cases) + "\n    }",
                         ", int op"))
    cases = [f"case {i}: o[of[0]] = (u8)({binary_expr(op, dt)}); break;" for i, op in enumerate(PREDICATES)]
    out.append(ew_kernel("k_predicate", ["DS_GLOBAL u8 *o", X, f"DS_GLOBAL const {S} *b"], 3,
                         XY + "\n    ".join(cases) + "\n    }", ", int op"))
    # where
    sel = "c[of[1]] ? " + LD("a", "of[2]") + " : " + LD("b", "of[3]")
    out.append(ew_kernel("k_where", [O, "DS_GLOBAL const u8 *c", X, f"DS_GLOBAL const {S} *b"], 4,
                         ST("o", "of[0]", sel)))
    # casts from this dtype: `dst` is the index of the destination dtype in DTYPES
    cases = []
    for i, dst in enumerate(DTYPES):
        if dst == "float64" and not fp64:
            continue
        d = D[dst]
        cases.append(f"case {i}: {{ DS_GLOBAL {d.st} *p = (DS_GLOBAL {d.st} *)o; "
                     f"{st(d, 'p', 'of[0]', 'x', dt.cat, fp64)} }} break;")
    out.append(ew_kernel("k_cast", ["DS_GLOBAL u8 *o", X], 2, f"{C} x = {LD('a', 'of[1]')};\n    switch (dst) {{\n    "
                         + "\n    ".join(cases) + "\n    }", ", int dst"))
    # raw copy and fill
    U = dt.ut
    out.append(ew_kernel("k_copy", [f"DS_GLOBAL {U} *o", f"DS_GLOBAL const {U} *a"], 2, "o[of[0]] = a[of[1]];"))
    out.append(ew_kernel("k_fill", [f"DS_GLOBAL {U} *o"], 1, "o[of[0]] = v;", f", {U} v"))
    # arange
    fp = "double" if fp64 else "float"
    out.append(f"""
DS_KERNEL k_arange_f({O}, i64 n, i64 so, i64 oo, {fp} start, {fp} step) {{
    i64 g = DS_GID(0);
    if (g >= n) return;
    {st(dt, 'o', 'oo + g * so', f'start + ({fp})g * step', 'd' if fp64 else 'f', fp64)}
}}
DS_KERNEL k_arange_i({O}, i64 n, i64 so, i64 oo, i64 start, i64 step) {{
    i64 g = DS_GID(0);
    if (g >= n) return;
    {st(dt, 'o', 'oo + g * so', '(i64)((u64)start + (u64)g * (u64)step)', 'i', fp64)}
}}
""")
    # reductions (op: index in REDUCE): k_red (direct, or partial sums of P chunks) and k_redf
    # (combines the partials); cumulative ops reuse the sum/prod combine
    at, cat = acc_type(dt), ("i" if dt.kind != "f" else dt.cat)
    if dt.kind == "f":
        combs = ["a + v", "a * v", "((isnan(a) || isnan(v)) ? a + v : (v > a ? v : a))",
                 "((isnan(a) || isnan(v)) ? a + v : (v < a ? v : a))"]
        inits = [f"({C})0", f"({C})1", f"-({C})DS_INFINITY", f"({C})DS_INFINITY"]
    elif dt.kind == "b":
        combs = ["(a | v)", "(a & v)", "(a | v)", "(a & v)"]
        inits = ["0", "1", "0", "1"]
    else:
        combs = ["(i64)((u64)a + (u64)v)", "(i64)((u64)a * (u64)v)", "(v > a ? v : a)", "(v < a ? v : a)"]
        inits = ["0", "1", "first", "first"]
    comb_cases = " ".join(f"case {i}: return {e};" for i, e in enumerate(combs))
    init_cases = " ".join(f"case {i}: return {e};" for i, e in enumerate(inits))
    out.append(f"""
DS_FN {at} rcomb(int op, {at} a, {at} v) {{ switch (op) {{ {comb_cases} }} return a; }}
DS_FN {at} rinit(int op, {at} first) {{ switch (op) {{ {init_cases} }} return first; }}
DS_KERNEL k_red({O}, DS_GLOBAL const {S} *x, DS_GLOBAL {at} *part, Meta2 mo, Meta1 mi, i64 nout, i64 nred,
                    i64 P, i64 chunk, int op) {{
    i64 g = DS_GID(0);
    if (g >= nout * P) return;
    i64 oi = g / P, c = g - oi * P;
    i64 of[2];
    offs2(&mo, oi, of);
    i64 r0 = c * chunk, r1 = ds_min_i64(nred, r0 + chunk);
    i64 x0 = of[1];
    {at} a = rinit(op, (op >= 2 && nred > 0) ? ({at}){LD('x', 'x0')} : ({at})0);
    if (mi.nd <= 1) {{
        i64 s = mi.st[0][0];
        for (i64 r = r0; r < r1; ++r) a = rcomb(op, a, ({at}){LD('x', 'x0 + r * s')});
    }} else {{
        for (i64 r = r0; r < r1; ++r) {{
            i64 q[1];
            offs1(&mi, r, q);
            a = rcomb(op, a, ({at}){LD('x', 'x0 + q[0]')});
        }}
    }}
    if (P == 1) {{ {st(dt, 'o', 'of[0]', 'a', cat, fp64)} }} else part[g] = a;
}}
DS_KERNEL k_redf({O}, DS_GLOBAL const {at} *part, Meta1 mo, i64 nout, i64 P, int op) {{
    i64 g = DS_GID(0);
    if (g >= nout) return;
    i64 of[1];
    offs1(&mo, g, of);
    {at} a = part[g * P];
    for (i64 c = 1; c < P; ++c) a = rcomb(op, a, part[g * P + c]);
    {st(dt, 'o', 'of[0]', 'a', cat, fp64)}
}}
DS_KERNEL k_cumulative({O}, DS_GLOBAL const {S} *x, Meta2 mo, i64 nlines, i64 L, i64 so, i64 sx, int op) {{
    i64 g = DS_GID(0);
    if (g >= nlines) return;
    i64 of[2];
    offs2(&mo, g, of);
    {at} a = rinit(op, 0);
    for (i64 i = 0; i < L; ++i) {{
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
DS_KERNEL k_argreduce(DS_GLOBAL i64 *o, DS_GLOBAL const {S} *x, Meta2 mo, i64 nout, i64 L, i64 sx, int ismin) {{
    i64 g = DS_GID(0);
    if (g >= nout) return;
    i64 of[2];
    offs2(&mo, g, of);
    i64 bi = 0;
    if (L > 0) {{
        {C} best = {LD('x', 'of[1]')};
        for (i64 i = 1; i < L; ++i) {{
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
        out.append(matmul_source(dt, fp64))
        out.append(matmul_direct_source(dt, fp64))
        out.append(conv_source(dt, fp64))
    # gather / index_select (k_take), scatter, scatter_add / index_add
    ZERO = f"({C})0"
    out.append(ew_kernel("k_take", [O, X, "DS_GLOBAL const i64 *idx"], 3, f"""i64 i = idx[of[2]];
    {C} v = (i >= 0 && i < size) ? {LD('a', 'of[1] + i * xsd')} : {ZERO};
    {ST('o', 'of[0]', 'v')}""", ", i64 xsd, i64 size"))
    add = binary_expr("add", dt)
    out.append(ew_kernel("k_scatter", [O, "DS_GLOBAL const i64 *idx", f"DS_GLOBAL const {S} *src"], 3,
                         f"""for (i64 j = 0; j < L; ++j) {{
        i64 i = idx[of[1] + j * sid];
        if (i < 0 || i >= size) continue;
        i64 oo = of[0] + i * osd;
        {C} v = {LD('src', 'of[2] + j * ssd')};
        if (accumulate) {{ {C} x = {LD('o', 'oo')}, y = v; {ST('o', 'oo', add)} }}
        else {{ {ST('o', 'oo', 'v')} }}
    }}""", ", i64 L, i64 sid, i64 ssd, i64 osd, i64 size, int accumulate"))
    # advanced indexing with k index tensors
    for k in range(1, MAXT - 1):
        iargs = [f"DS_GLOBAL const i64 *i{m}" for m in range(k)]
        body = [f"i64 xo = of[1]; int ok = 1;"]
        for m in range(k):
            body.append(f"{{ i64 i = i{m}[of[{m + 2}]]; ok &= (i >= 0 && i < p.v[{k + m}]); xo += i * p.v[{m}]; }}")
        body.append(f"{C} v = ok ? {LD('a', 'xo')} : {ZERO};")
        body.append(ST("o", "of[0]", "v"))
        out.append(ew_kernel(f"k_index{k}", [O, X] + iargs, k + 2, "\n    ".join(body), ", P8 p"))
        # index_put: mo over the trailing dims (o, values); mi over the index shape (values, i...)
        ibody = []
        for m in range(k):
            ibody.append(f"{{ i64 i = i{m}[q[{m + 1}]]; ok &= (i >= 0 && i < p.v[{k + m}]); oo += i * p.v[{m}]; }}")
        ibody = "\n            ".join(ibody)
        out.append(f"""
DS_KERNEL k_index_put{k}({O}, DS_GLOBAL const {S} *val, {', '.join(iargs)}, Meta2 mo, Meta{k + 1} mi, i64 nrest, i64 nI,
                             P8 p, int accumulate) {{
    i64 g = DS_GID(0);
    if (g >= nrest) return;
    i64 of[2];
    offs2(&mo, g, of);
    for (i64 j = 0; j < nI; ++j) {{
        i64 q[{k + 1}];
        offs{k + 1}(&mi, j, q);
        i64 oo = of[0];
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
DS_KERNEL k_sort(DS_GLOBAL {S} *vo, DS_GLOBAL i64 *io, DS_GLOBAL const {S} *x, Meta3 m, i64 nlines, i64 L,
                     i64 svo, i64 sio, i64 sx, i64 k, int desc) {{
    i64 g = DS_GID(0);
    if (g >= nlines * L) return;
    i64 line = g / L, i = g - line * L;
    i64 of[3];
    offs3(&m, line, of);
    {C} xi = {LD('x', 'of[2] + i * sx')};
    i64 rank = 0;
    for (i64 j = 0; j < L; ++j) {{
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
    # i64 sorts: stable rank inside blocks of B, then merge passes (each element finds its
    # place in the partner run by binary search), on (key, index) pairs in scratch buffers
    bef = sub(less, "a", "b")
    out.append(f"""
DS_FN int sbefore({C} a, {C} b, int desc) {{ return desc ? {sub(less, 'b', 'a')} : {bef}; }}
DS_KERNEL k_sort_block(DS_GLOBAL {C} *ko, DS_GLOBAL i64 *iout, DS_GLOBAL const {S} *x, Meta1 m, i64 nlines,
                           i64 L, i64 sx, i64 B, int desc) {{
    i64 g = DS_GID(0);
    if (g >= nlines * L) return;
    i64 line = g / L, i = g - line * L;
    i64 of[1];
    offs1(&m, line, of);
    {C} xi = {LD('x', 'of[0] + i * sx')};
    i64 b0 = (i / B) * B, b1 = ds_min_i64(b0 + B, L), rank = 0;
    for (i64 j = b0; j < b1; ++j) {{
        {C} xj = {LD('x', 'of[0] + j * sx')};
        if (sbefore(xj, xi, desc) || (j < i && {sub(eq, 'xj', 'xi')})) ++rank;
    }}
    ko[line * L + b0 + rank] = xi;
    iout[line * L + b0 + rank] = i;
}}
DS_KERNEL k_sort_merge(DS_GLOBAL {C} *ko, DS_GLOBAL i64 *iout, DS_GLOBAL const {C} *ki, DS_GLOBAL const i64 *ii,
                           i64 nlines, i64 L, i64 w, int desc) {{
    i64 g = DS_GID(0);
    if (g >= nlines * L) return;
    i64 line = g / L, i = g - line * L, base = line * L;
    i64 s = (i / (2 * w)) * (2 * w);
    {C} xi = ki[base + i];
    i64 pos;
    if (i < s + w) {{  /* left run: after the right run's elements strictly before it */
        i64 r0 = s + w, lo = r0, hi = ds_min_i64(s + 2 * w, L);
        while (lo < hi) {{ i64 mid = (lo + hi) / 2; if (sbefore(ki[base + mid], xi, desc)) lo = mid + 1; else hi = mid; }}
        pos = i + (lo - (r0 < L ? r0 : lo));
    }} else {{  /* right run: after the left run's elements not after it (ties keep the left first) */
        i64 lo = s, hi = s + w;
        while (lo < hi) {{ i64 mid = (lo + hi) / 2; if (!sbefore(xi, ki[base + mid], desc)) lo = mid + 1; else hi = mid; }}
        pos = s + (i - s - w) + (lo - s);
    }}
    ko[base + pos] = xi;
    iout[base + pos] = ii[base + i];
}}
DS_KERNEL k_sort_final(DS_GLOBAL {S} *vo, DS_GLOBAL i64 *io, DS_GLOBAL const {C} *ks, DS_GLOBAL const i64 *is,
                           Meta2 m, i64 nlines, i64 L, i64 k, i64 svo, i64 sio) {{
    i64 g = DS_GID(0);
    if (g >= nlines * k) return;
    i64 line = g / k, r = g - line * k;
    i64 of[2];
    offs2(&m, line, of);
    {ST('vo', 'of[0] + r * svo', 'ks[line * L + r]')}
    io[of[1] + r * sio] = is[line * L + r];
}}
""")
    if fp64:
        out.append(random_source(dt, fp64))
    return "".join(out)


