"""matmul (tiled through local memory, and direct for CPU drivers) and 2-d convolution
(direct kernels, im2col/col2im for convolution as GEMM), in the portable dialect."""
from __future__ import annotations

from .dtypes import DT, ld, st
from .geometry import MD, MDW, MK, MR, MT, MW


def matmul_source(dt: DT, fp64: bool) -> str:
    """k_matmul: (MW, MW) work-groups each computing an (MT, MT) tile of the output through
    local memory, accumulating in the compute type (wrapping for integers)."""
    S = dt.st
    at = dt.ct if dt.kind == "f" else dt.wt
    cat = dt.cat if dt.kind == "f" else "i"
    loads = MT * MK // (MW * MW)
    return f"""
/* p: M N K | a off sb sm sk | b off sb sk sn | o off sb sm sn */
DS_KERNEL_WG({MW}, {MW}, 1) k_matmul(DS_GLOBAL {S} *o, DS_GLOBAL const {S} *a, DS_GLOBAL const {S} *b, P16 p) {{
    const i64 M = p.v[0], N = p.v[1], K = p.v[2];
    const int tx = DS_LID(0), ty = DS_LID(1), lid = ty * {MW} + tx;
    const i64 m0 = DS_GROUP(1) * {MT}, n0 = DS_GROUP(0) * {MT}, bat = DS_GID(2);
    const i64 ab = p.v[3] + bat * p.v[4], asm_ = p.v[5], ask = p.v[6];
    const i64 bb = p.v[7] + bat * p.v[8], bsk = p.v[9], bsn = p.v[10];
    DS_LOCAL {at} As[{MK}][{MT}];
    DS_LOCAL {at} Bs[{MK}][{MT}];
    {at} acc[{MR}][{MR}];
    for (int i = 0; i < {MR}; ++i)
        for (int j = 0; j < {MR}; ++j) acc[i][j] = 0;
    for (i64 k0 = 0; k0 < K; k0 += {MK}) {{
        for (int r = 0; r < {loads}; ++r) {{
            int e = lid + r * {MW * MW};
            int mm = e / {MK}, ka = e % {MK};
            i64 gm = m0 + mm, gk = k0 + ka;
            As[ka][mm] = (gm < M && gk < K) ? ({at}){ld(dt, 'a', 'ab + gm * asm_ + gk * ask')} : ({at})0;
            int kb = e / {MT}, nn = e % {MT};
            i64 gn = n0 + nn, gkb = k0 + kb;
            Bs[kb][nn] = (gn < N && gkb < K) ? ({at}){ld(dt, 'b', 'bb + gkb * bsk + gn * bsn')} : ({at})0;
        }}
        DS_BARRIER();
        for (int kk = 0; kk < {MK}; ++kk) {{
            {at} ar[{MR}], br[{MR}];
            for (int i = 0; i < {MR}; ++i) ar[i] = As[kk][ty + {MW} * i];
            for (int j = 0; j < {MR}; ++j) br[j] = Bs[kk][tx + {MW} * j];
            for (int i = 0; i < {MR}; ++i)
                for (int j = 0; j < {MR}; ++j) acc[i][j] += ar[i] * br[j];
        }}
        DS_BARRIER();
    }}
    const i64 ob = p.v[11] + bat * p.v[12];
    for (int i = 0; i < {MR}; ++i) {{
        i64 row = m0 + ty + {MW} * i;
        if (row >= M) continue;
        for (int j = 0; j < {MR}; ++j) {{
            i64 col = n0 + tx + {MW} * j;
            if (col < N) {{ {st(dt, 'o', 'ob + row * p.v[13] + col * p.v[14]', 'acc[i][j]', cat, fp64)} }}
        }}
    }}
}}
"""


def matmul_direct_source(dt: DT, fp64: bool) -> str:
    """The matmul for CPU drivers (PoCL): no local memory, each work item MD rows of one
    column; work items next to each other take neighbouring columns, which the driver's
    vectoriser turns into SIMD loads of b and broadcasts of a."""
    S = dt.st
    at = dt.ct if dt.kind == "f" else dt.wt
    cat = dt.cat if dt.kind == "f" else "i"
    return f"""
DS_KERNEL_WG({MDW}, 1, 1) k_matmul_direct(DS_GLOBAL {S} *o, DS_GLOBAL const {S} *a, DS_GLOBAL const {S} *b, P16 p) {{
    const i64 M = p.v[0], N = p.v[1], K = p.v[2];
    const i64 col = DS_GID(0), r0 = DS_GID(1) * {MD}, bat = DS_GID(2);
    const i64 ab = p.v[3] + bat * p.v[4], asm_ = p.v[5], ask = p.v[6];
    const i64 bb = p.v[7] + bat * p.v[8], bsk = p.v[9], bsn = p.v[10];
    const i64 cc = col < N ? col : N - 1;
    i64 rows[{MD}];
    for (int i = 0; i < {MD}; ++i) rows[i] = ab + (r0 + i < M ? r0 + i : M - 1) * asm_;
    {at} acc[{MD}];
    for (int i = 0; i < {MD}; ++i) acc[i] = 0;
    for (i64 k = 0; k < K; ++k) {{
        {at} bv = ({at}){ld(dt, 'b', 'bb + k * bsk + cc * bsn')};
        for (int i = 0; i < {MD}; ++i) acc[i] += ({at}){ld(dt, 'a', 'rows[i] + k * ask')} * bv;
    }}
    if (col >= N) return;
    const i64 ob = p.v[11] + bat * p.v[12] + col * p.v[14];
    for (int i = 0; i < {MD}; ++i)
        if (r0 + i < M) {{ {st(dt, 'o', 'ob + (r0 + i) * p.v[13]', 'acc[i]', cat, fp64)} }}
}}
"""


def conv_source(dt: DT, fp64: bool) -> str:
    """The 2-d convolution kernels: direct forward and input gradient, im2col/col2im for
    convolution as GEMM, and the weight gradient with partial sums over chunks of the batch."""
    C, S = dt.ct, dt.st
    at = C if dt.kind == "f" else dt.wt
    cat = dt.cat if dt.kind == "f" else "i"
    head = """
    const i64 N = p.v[0], Cc = p.v[1], H = p.v[2], W = p.v[3], O = p.v[4], OH = p.v[5], OW = p.v[6];
    const i64 KH = p.v[7], KW = p.v[8], sh = p.v[9], sw = p.v[10], ph = p.v[11], pw = p.v[12];
    const i64 dh = p.v[13], dw = p.v[14], G = p.v[15];
    const i64 Cg = Cc / G, Og = O / G;
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
DS_KERNEL k_conv2d(DS_GLOBAL {S} *y, DS_GLOBAL const {S} *x, DS_GLOBAL const {S} *w, P32 p) {{
    {head}
    i64 g = DS_GID(0);
    if (g >= N * O * OH * OW) return;
    i64 ow = g % OW, t = g / OW, oh = t % OH; t /= OH;
    i64 oc = t % O, n = t / O, grp = oc / Og;
    {at} acc = 0;
    /* branch-free taps (clamped address, zero weight outside): drivers vectorise across work items */
    for (i64 c = 0; c < Cg; ++c) {{
        i64 ci = grp * Cg + c;
        for (i64 kh = 0; kh < KH; ++kh) {{
            i64 ih = oh * sh - ph + kh * dh;
            int okh = ih >= 0 && ih < H;
            i64 ihc = okh ? ih : 0;
            for (i64 kw = 0; kw < KW; ++kw) {{
                i64 iw = ow * sw - pw + kw * dw;
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
DS_KERNEL k_conv2d_input_grad(DS_GLOBAL {S} *x, DS_GLOBAL const {S} *y, DS_GLOBAL const {S} *w, P32 p) {{
    {head}
    i64 g = DS_GID(0);
    if (g >= N * Cc * H * W) return;
    i64 iw = g % W, t = g / W, ih = t % H; t /= H;
    i64 c = t % Cc, n = t / Cc, grp = c / Cg, cc = c - grp * Cg;
    {at} acc = 0;
    for (i64 oc = grp * Og; oc < (grp + 1) * Og; ++oc) {{
        for (i64 kh = 0; kh < KH; ++kh) {{
            i64 th = ih + ph - kh * dh;
            if (th < 0 || th % sh != 0) continue;
            i64 oh = th / sh;
            if (oh >= OH) continue;
            for (i64 kw = 0; kw < KW; ++kw) {{
                i64 tw = iw + pw - kw * dw;
                if (tw < 0 || tw % sw != 0) continue;
                i64 ow = tw / sw;
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
DS_KERNEL k_im2col(DS_GLOBAL {dt.ut} *cols, DS_GLOBAL const {dt.ut} *x, P32 p, i64 n0, i64 nb, int tr) {{
    {head}
    const i64 PQ = OH * OW, Kc = Cc * KH * KW;
    i64 g = DS_GID(0);
    if (g >= nb * Kc * PQ) return;
    i64 nn, kidx, pq;
    if (tr) {{ kidx = g % Kc; i64 t = g / Kc; pq = t % PQ; nn = t / PQ; }}
    else {{ pq = g % PQ; i64 t = g / PQ; kidx = t % Kc; nn = t / Kc; }}
    i64 kw = kidx % KW, t2 = kidx / KW, kh = t2 % KH, c = t2 / KH;
    i64 oh = pq / OW, ow = pq - oh * OW;
    i64 ih = oh * sh - ph + kh * dh, iw = ow * sw - pw + kw * dw;
    cols[g] = (ih >= 0 && ih < H && iw >= 0 && iw < W) ? x[XI(n0 + nn, c, ih, iw)] : ({dt.ut})0;
    {tail}
}}
/* gx of the batches [n0, n0 + nb) from column gradients cols (nb, C*KH*KW, OH*OW) */
DS_KERNEL k_col2im(DS_GLOBAL {S} *x, DS_GLOBAL const {S} *cols, P32 p, i64 n0, i64 nb) {{
    {head}
    const i64 PQ = OH * OW, Kc = Cc * KH * KW;
    i64 g = DS_GID(0);
    if (g >= nb * Cc * H * W) return;
    i64 iw = g % W, t = g / W, ih = t % H; t /= H;
    i64 c = t % Cc, nn = t / Cc;
    {at} acc = 0;
    for (i64 kh = 0; kh < KH; ++kh) {{
        i64 th = ih + ph - kh * dh;
        if (th < 0 || th % sh != 0) continue;
        i64 oh = th / sh;
        if (oh >= OH) continue;
        for (i64 kw = 0; kw < KW; ++kw) {{
            i64 tw = iw + pw - kw * dw;
            if (tw < 0 || tw % sw != 0) continue;
            i64 ow = tw / sw;
            if (ow >= OW) continue;
            acc += ({at}){ld(dt, 'cols', '(nn * Kc + (c * KH + kh) * KW + kw) * PQ + oh * OW + ow')};
        }}
    }}
    {st(dt, 'x', 'XI(n0 + nn, c, ih, iw)', 'acc', cat, fp64)}
    {tail}
}}
/* the batch is split in P parts; P > 1 writes partial sums to part[g] (combined by k_redf) */
DS_KERNEL k_conv2d_weight_grad(DS_GLOBAL {S} *w, DS_GLOBAL const {S} *y, DS_GLOBAL const {S} *x, P32 p,
                                   DS_GLOBAL {at} *part, i64 P) {{
    {head}
    i64 g = DS_GID(0);
    i64 nw = O * Cg * KH * KW;
    if (g >= nw * P) return;
    i64 wi = g / P, s = g - wi * P;
    i64 kw = wi % KW, t = wi / KW, kh = t % KH; t /= KH;
    i64 c = t % Cg, oc = t / Cg, grp = oc / Og, ci = grp * Cg + c;
    i64 chunk = (N + P - 1) / P, n0 = s * chunk, n1 = ds_min_i64(N, n0 + chunk);
    {at} acc = 0;
    for (i64 n = n0; n < n1; ++n) {{
        for (i64 oh = 0; oh < OH; ++oh) {{
            i64 ih = oh * sh - ph + kh * dh;
            if (ih < 0 || ih >= H) continue;
            for (i64 ow = 0; ow < OW; ++ow) {{
                i64 iw = ow * sw - pw + kw * dw;
                if (iw < 0 || iw >= W) continue;
                acc += {m(ld(dt, 'y', 'YI(n, oc, oh, ow)'), ld(dt, 'x', 'XI(n, ci, ih, iw)'))};
            }}
        }}
    }}
    if (P == 1) {{ {st(dt, 'w', 'WI(oc, c, kh, kw)', 'acc', cat, fp64)} }} else part[g] = acc;
    {tail}
}}
"""


