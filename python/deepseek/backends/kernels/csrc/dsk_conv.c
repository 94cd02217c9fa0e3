/* dsk_conv.c: conv2d, conv2d_input_grad and conv2d_weight_grad, as deepseek_opencl/ops.py runs
 * them: im2col (col2im) + matmul for one group, float dtypes and the usual layouts, in chunks of
 * the batch whose columns fit DSK_CONV_SCRATCH bytes; the direct kernels otherwise. */
#include <string.h>

#include "dsk_planner.h"

#define DSK_CONV_SCRATCH ((int64_t)64 << 20) /* ops.CONV_SCRATCH */

/* The sizes of one convolution (x (N, C, H, W), w (O, Cg, KH, KW), y (N, O, OH, OW)) and its
 * P32 block of k_conv2d*, k_im2col and k_col2im. */
typedef struct dsk_conv {
    int64_t N, C, H, W, O, OH, OW, KH, KW, G;
    int64_t p[32];
} dsk_conv;

/* floor((in + 2 pad - dil (k - 1) - 1) / stride) + 1, as Python computes it; DSK_PUNT on overflow */
static int dsk_conv_out(int64_t in, int64_t pad, int64_t dil, int64_t k, int64_t stride, int64_t *out) {
    int64_t span, v;
    if (__builtin_mul_overflow(dil, k - 1, &span) || __builtin_mul_overflow(pad, 2, &v) ||
        __builtin_add_overflow(in, v, &v) || __builtin_sub_overflow(v, span, &v) || __builtin_sub_overflow(v, 1, &v))
        return DSK_PUNT;
    int64_t q = v / stride;
    if (v % stride != 0 && v < 0) --q;
    *out = q + 1;
    return DSK_DONE;
}

/* ops._conv_params over (y, x, w): attributes, shapes and dtypes that fit, else DSK_PUNT. */
static int dsk_conv_params(dsk_launch *L, const dsk_tensor *y, const dsk_tensor *x, const dsk_tensor *w, dsk_conv *c) {
    const ds_conv_attrs *a = L->attrs;
    if (L->nt != 3 || a == NULL || y->ndim != 4 || x->ndim != 4 || w->ndim != 4) return DSK_PUNT;
    if (y->dtype != x->dtype || x->dtype != w->dtype || x->dtype == DS_BOOL) return DSK_PUNT;
    int64_t sh = a->stride_h, sw = a->stride_w, ph = a->pad_h, pw = a->pad_w, dh = a->dilation_h, dw = a->dilation_w;
    c->G = a->groups;
    if (c->G < 1 || sh < 1 || sw < 1 || dh < 1 || dw < 1 || ph < 0 || pw < 0) return DSK_PUNT;
    c->N = x->shape[0], c->C = x->shape[1], c->H = x->shape[2], c->W = x->shape[3];
    c->O = w->shape[0], c->KH = w->shape[2], c->KW = w->shape[3];
    int64_t cg;
    if (__builtin_mul_overflow(w->shape[1], c->G, &cg) || cg != c->C || c->O % c->G) return DSK_PUNT;
    DSK_ANSWER(dsk_conv_out(c->H, ph, dh, c->KH, sh, &c->OH));
    DSK_ANSWER(dsk_conv_out(c->W, pw, dw, c->KW, sw, &c->OW));
    if (y->shape[0] != c->N || y->shape[1] != c->O || y->shape[2] != c->OH || y->shape[3] != c->OW) return DSK_PUNT;
    if (!dsk_supports(L, x->dtype)) return DSK_PUNT;
    int64_t v[31] = {c->N, c->C, c->H, c->W, c->O, c->OH, c->OW, c->KH, c->KW, sh, sw, ph, pw, dh, dw, c->G};
    const dsk_tensor *ts[3] = {y, x, w};
    for (int t = 0; t < 3; ++t) {
        memcpy(v + 16 + 5 * t, ts[t]->strides, 4 * sizeof(int64_t));
        v[20 + 5 * t] = ts[t]->offset;
    }
    dsk_make_params(v, 31, c->p);
    return DSK_DONE;
}

static int dsk_mul_is(int64_t a, int64_t b, int64_t want) {
    int64_t p;
    return !__builtin_mul_overflow(a, b, &p) && p == want;
}

/* ops._gemm_ok over (y, w): one group, a float dtype, output planes with one stride per
 * position, (C, KH, KW) of the weight in one stride; and the backend allows it. */
static int dsk_gemm_ok(dsk_launch *L, const dsk_conv *c, const dsk_tensor *y, const dsk_tensor *w) {
    if (L->hooks->conv_gemm != NULL && !L->hooks->conv_gemm(L->ctx)) return 0;
    if (c->G != 1 || y->dtype < DS_FLOAT16 || y->numel == 0 || w->numel == 0) return 0;
    int planes = c->OH == 1 || c->OW == 1 || dsk_mul_is(c->OW, y->strides[3], y->strides[2]);
    int kernel = (c->KH == 1 || dsk_mul_is(c->KW, w->strides[3], w->strides[2])) &&
                 (w->shape[1] == 1 || dsk_mul_is(c->KH * c->KW, w->strides[3], w->strides[1]));
    return planes && kernel;
}

/* ops._plane_stride: the stride of the flattened (OH*OW) position of a one-stride-plane tensor */
static int64_t dsk_plane_stride(const dsk_tensor *t) { return t->shape[3] > 1 ? t->strides[3] : t->strides[2]; }

/* ops._conv_chunks: batch items per chunk so that one chunk's columns fit the scratch size */
static int64_t dsk_conv_chunk(int64_t N, int64_t per_item) {
    int64_t nb = DSK_CONV_SCRATCH / (per_item > 1 ? per_item : 1);
    nb = nb < N ? nb : N;
    return nb > 1 ? nb : 1;
}

/* A 3-d tensor over arrays the caller keeps. */
static void dsk_tensor3(dsk_tensor *t, dsk_mem mem, int32_t dtype, int64_t *shape, int64_t *strides, int64_t offset) {
    t->mem = mem;
    t->dtype = dtype;
    t->ndim = 3;
    t->shape = shape;
    t->strides = strides;
    t->offset = offset;
    t->numel = shape[0] * shape[1] * shape[2];
}

/* The bytes of (PQ, Kc) sized columns for nb batch items; DSK_PUNT on overflow. */
static int dsk_cols_bytes(int64_t a, int64_t b, int64_t item, int64_t *out) {
    return __builtin_mul_overflow(a, b, out) || __builtin_mul_overflow(*out, item, out) ? DSK_PUNT : DSK_DONE;
}

static int dsk_im2col(dsk_launch *L, dsk_tensor *cols, dsk_tensor *x, dsk_conv *c, int64_t n0, int64_t m,
                      int64_t per_item, int32_t tr) {
    dsk_arg args[6] = {DSK_MEM(cols), DSK_MEM(x), {sizeof c->p, c->p}, DSK_LONG(n0), DSK_LONG(m), DSK_INT(tr)};
    size_t g = dsk_roundup(m * per_item, DSK_LS);
    return dsk_enqueue(L, x->dtype, DSK_k_im2col, args, 6, 1, &g, NULL);
}

int dsk_run_conv2d(dsk_launch *L) {
    dsk_tensor *y = &L->t[0], *x = &L->t[1], *w = &L->t[2];
    dsk_conv c;
    DSK_ANSWER(dsk_conv_params(L, y, x, w, &c));
    if (dsk_gemm_ok(L, &c, y, w)) {
        int64_t PQ = c.OH * c.OW, Kc = w->shape[1] * c.KH * c.KW, item = dsk_dtype_size[x->dtype], per, bytes;
        DSK_ANSWER(dsk_cols_bytes(Kc, PQ, item, &per));
        int64_t nb = dsk_conv_chunk(c.N, per);
        DSK_ANSWER(dsk_cols_bytes(nb, per, 1, &bytes));
        dsk_tensor cols;
        DSK_ANSWER(dsk_temp(L, bytes, &cols, x->dtype));
        int r = DSK_DONE;
        for (int64_t n0 = 0; n0 < c.N && r == DSK_DONE; n0 += nb) {
            int64_t m = c.N - n0 < nb ? c.N - n0 : nb;
            r = dsk_im2col(L, &cols, x, &c, n0, m, Kc * PQ, 0);
            int64_t ys[3] = {m, c.O, PQ}, yst[3] = {y->strides[0], y->strides[1], dsk_plane_stride(y)};
            int64_t ws[3] = {m, c.O, Kc}, wst[3] = {0, w->strides[0], w->strides[3]};
            int64_t cs[3] = {m, Kc, PQ}, cst[3] = {Kc * PQ, PQ, 1};
            dsk_tensor yv, wv, cv;
            dsk_tensor3(&yv, y->mem, y->dtype, ys, yst, y->offset + n0 * y->strides[0]);
            dsk_tensor3(&wv, w->mem, w->dtype, ws, wst, w->offset);
            dsk_tensor3(&cv, cols.mem, x->dtype, cs, cst, 0);
            if (r == DSK_DONE) r = dsk_matmul(L, &yv, &wv, &cv);
        }
        dsk_release(L, &cols);
        return r;
    }
    if (y->numel == 0) return DSK_DONE;
    dsk_arg args[4] = {DSK_MEM(y), DSK_MEM(x), DSK_MEM(w), {sizeof c.p, c.p}};
    size_t g = dsk_roundup(y->numel, DSK_LS);
    return dsk_enqueue(L, x->dtype, DSK_k_conv2d, args, 4, 1, &g, NULL);
}

int dsk_run_conv2d_input_grad(dsk_launch *L) {
    dsk_tensor *gx = &L->t[0], *gy = &L->t[1], *w = &L->t[2];
    dsk_conv c;
    DSK_ANSWER(dsk_conv_params(L, gy, gx, w, &c));
    if (gx->numel == 0) return DSK_DONE;
    if (dsk_gemm_ok(L, &c, gy, w)) {
        int64_t PQ = c.OH * c.OW, Kc = w->shape[1] * c.KH * c.KW, item = dsk_dtype_size[gx->dtype], per, bytes;
        DSK_ANSWER(dsk_cols_bytes(Kc, PQ, item, &per));
        int64_t nb = dsk_conv_chunk(c.N, per), per_x = gx->numel / c.N;
        DSK_ANSWER(dsk_cols_bytes(nb, per, 1, &bytes));
        dsk_tensor cols;
        DSK_ANSWER(dsk_temp(L, bytes, &cols, gx->dtype));
        int r = DSK_DONE;
        for (int64_t n0 = 0; n0 < c.N && r == DSK_DONE; n0 += nb) {
            int64_t m = c.N - n0 < nb ? c.N - n0 : nb;
            int64_t cs[3] = {m, Kc, PQ}, cst[3] = {Kc * PQ, PQ, 1};
            int64_t ws[3] = {m, Kc, c.O}, wst[3] = {0, w->strides[3], w->strides[0]};
            int64_t ys[3] = {m, c.O, PQ}, yst[3] = {gy->strides[0], gy->strides[1], dsk_plane_stride(gy)};
            dsk_tensor cv, wv, yv;
            dsk_tensor3(&cv, cols.mem, gx->dtype, cs, cst, 0);
            dsk_tensor3(&wv, w->mem, w->dtype, ws, wst, w->offset);
            dsk_tensor3(&yv, gy->mem, gy->dtype, ys, yst, gy->offset + n0 * gy->strides[0]);
            r = dsk_matmul(L, &cv, &wv, &yv);
            dsk_arg args[5] = {DSK_MEM(gx), DSK_MEM(&cols), {sizeof c.p, c.p}, DSK_LONG(n0), DSK_LONG(m)};
            size_t g = dsk_roundup(m * per_x, DSK_LS);
            if (r == DSK_DONE) r = dsk_enqueue(L, gx->dtype, DSK_k_col2im, args, 5, 1, &g, NULL);
        }
        dsk_release(L, &cols);
        return r;
    }
    dsk_arg args[4] = {DSK_MEM(gx), DSK_MEM(gy), DSK_MEM(w), {sizeof c.p, c.p}};
    size_t g = dsk_roundup(gx->numel, DSK_LS);
    return dsk_enqueue(L, gx->dtype, DSK_k_conv2d_input_grad, args, 4, 1, &g, NULL);
}

/* gw (O, C*KH*KW) = sum over the batch of gy_n (O, OH*OW) @ cols_n^T: one matmul per chunk of
 * the batch with K = the chunk's positions; chunks after the first are added in. */
static int dsk_weight_grad_gemm(dsk_launch *L, dsk_conv *c, dsk_tensor *gw, dsk_tensor *gy, dsk_tensor *x) {
    int64_t PQ = c->OH * c->OW, Kc = gw->shape[1] * c->KH * c->KW, item = dsk_dtype_size[x->dtype];
    int64_t per, cols_bytes, g2_bytes, part_bytes;
    DSK_ANSWER(dsk_cols_bytes(Kc > c->O ? Kc : c->O, PQ, item, &per));
    int64_t nb = dsk_conv_chunk(c->N, per);
    DSK_ANSWER(dsk_cols_bytes(nb * PQ, Kc, item, &cols_bytes));
    DSK_ANSWER(dsk_cols_bytes(nb * PQ, c->O, item, &g2_bytes));
    DSK_ANSWER(dsk_cols_bytes(c->O, Kc, item, &part_bytes));
    dsk_tensor cols, g2, part = {0};
    DSK_ANSWER(dsk_temp(L, cols_bytes, &cols, x->dtype));
    if (dsk_temp(L, g2_bytes, &g2, x->dtype) != DSK_DONE) {
        dsk_release(L, &cols);
        return DSK_PUNT;
    }
    if (nb < c->N && dsk_temp(L, part_bytes, &part, x->dtype) != DSK_DONE) {
        dsk_release(L, &cols);
        dsk_release(L, &g2);
        return DSK_PUNT;
    }
    int64_t gw2s[2] = {c->O, Kc}, gw2st[2] = {gw->strides[0], gw->strides[3]}, ps[2] = {c->O, Kc}, pst[2] = {Kc, 1};
    dsk_tensor gw2 = *gw, pv = part;
    gw2.ndim = pv.ndim = 2;
    gw2.shape = gw2s;
    gw2.strides = gw2st;
    gw2.numel = pv.numel = c->O * Kc;
    pv.shape = ps;
    pv.strides = pst;
    pv.offset = 0;
    int32_t add = 0; /* kernels.BINARY.index("add") */
    int r = DSK_DONE;
    for (int64_t n0 = 0; n0 < c->N && r == DSK_DONE; n0 += nb) {
        int64_t m = c->N - n0 < nb ? c->N - n0 : nb;
        r = dsk_im2col(L, &cols, x, c, n0, m, Kc * PQ, 1);
        int64_t gs[3] = {c->O, m, PQ}, gst[3] = {m * PQ, PQ, 1};
        int64_t ys[3] = {c->O, m, PQ}, yst[3] = {gy->strides[1], gy->strides[0], dsk_plane_stride(gy)};
        int64_t as[3] = {1, c->O, m * PQ}, ast[3] = {0, m * PQ, 1};
        int64_t bs[3] = {1, m * PQ, Kc}, bst[3] = {0, Kc, 1};
        int64_t os[3] = {1, c->O, Kc}, ost[3] = {0, gw->strides[0], gw->strides[3]}, pst3[3] = {0, Kc, 1};
        dsk_tensor g2t, yv, av, bv, ov;
        dsk_tensor3(&g2t, g2.mem, gy->dtype, gs, gst, 0);
        dsk_tensor3(&yv, gy->mem, gy->dtype, ys, yst, gy->offset + n0 * gy->strides[0]);
        dsk_tensor3(&av, g2.mem, gy->dtype, as, ast, 0);
        dsk_tensor3(&bv, cols.mem, x->dtype, bs, bst, 0);
        if (r == DSK_DONE) r = dsk_copy(L, &g2t, &yv);
        if (n0 == 0) {
            dsk_tensor3(&ov, gw->mem, gw->dtype, os, ost, gw->offset);
            if (r == DSK_DONE) r = dsk_matmul(L, &ov, &av, &bv);
        } else {
            dsk_tensor3(&ov, part.mem, gw->dtype, os, pst3, 0);
            if (r == DSK_DONE) r = dsk_matmul(L, &ov, &av, &bv);
            dsk_tensor *ts[3] = {&gw2, &gw2, &pv};
            dsk_arg extra = DSK_INT(add);
            if (r == DSK_DONE) r = dsk_ew(L, gw->dtype, DSK_k_binary, ts, 3, gw2s, 2, &extra, 1);
        }
    }
    dsk_release(L, &cols);
    dsk_release(L, &g2);
    dsk_release(L, &part);
    return r;
}

int dsk_run_conv2d_weight_grad(dsk_launch *L) {
    dsk_tensor *gw = &L->t[0], *gy = &L->t[1], *x = &L->t[2];
    dsk_conv c;
    DSK_ANSWER(dsk_conv_params(L, gy, x, gw, &c));
    int64_t nw = gw->numel;
    if (nw == 0) return DSK_DONE;
    if (dsk_gemm_ok(L, &c, gy, gw)) return dsk_weight_grad_gemm(L, &c, gw, gy, x);
    int is_float = x->dtype >= DS_FLOAT16;
    int64_t P = 1;
    if (is_float && nw < 4096 && c.N > 1) {
        P = (4096 + nw - 1) / nw;
        P = P < c.N ? P : c.N;
    }
    dsk_tensor part = {0};
    if (P > 1) DSK_ANSWER(dsk_temp(L, nw * P * dsk_compute_size[x->dtype], &part, x->dtype));
    int64_t mf[DSK_META_LONGS(1)];
    const int64_t *sf[1] = {gw->strides};
    if (P > 1 && dsk_make_meta(gw->shape, gw->ndim, 1, sf, &gw->offset, mf) != DSK_DONE) {
        dsk_release(L, &part);
        return DSK_PUNT;
    }
    dsk_arg args[6] = {DSK_MEM(gw), DSK_MEM(gy), DSK_MEM(x), {sizeof c.p, c.p}, DSK_MEM(&part), DSK_LONG(P)};
    size_t g = dsk_roundup(nw * P, DSK_LS);
    int r = dsk_enqueue(L, x->dtype, DSK_k_conv2d_weight_grad, args, 6, 1, &g, NULL);
    if (r == DSK_DONE && P > 1) {
        int32_t op = 0;
        dsk_arg fargs[6] = {DSK_MEM(gw), DSK_MEM(&part), {sizeof mf, mf}, DSK_LONG(nw), DSK_LONG(P), DSK_INT(op)};
        g = dsk_roundup(nw, DSK_LS);
        r = dsk_enqueue(L, x->dtype, DSK_k_redf, fargs, 6, 1, &g, NULL);
    }
    dsk_release(L, &part);
    return r;
}
