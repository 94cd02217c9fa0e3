/* products.c: ops whose aclnn operator lacks the dtype, made of aclnnMul of broadcast views
 * (no copies) and aclnnReduceSum: matmul outside aclnnBatchMatMul's float16/bfloat16/float32,
 * and 2-d convolution and its gradients outside aclnnConvolution's. */
#include <string.h>

#include "launch_ctx.h"

/* Operand i's memory as (ptr, strides, offset) with no negative stride: the operand itself, or
 * the contiguous scratch copy asc_in flipped it into. */
aclTensor *asc_plain(asc_ctx *c, int i, void **ptr, int64_t *strides, int64_t *offset) {
    const ds_tensor_desc *d = &c->t[i];
    int32_t before = c->n_scratch;
    aclTensor *t = asc_in(c, i);
    if (c->n_scratch > before) { /* flipped into the first scratch block asc_in took (then its workspace) */
        *ptr = c->scratch[before], *offset = 0;
        asc_contiguous_strides(d->ndim, d->shape, strides);
    } else {
        *ptr = d->ptr, *offset = d->offset;
        for (int k = 0; k < d->ndim; k++)
            strides[k] = d->strides[k] < 0 ? -d->strides[k] : d->strides[k]; /* size-1 dims only */
    }
    return t;
}

/* Matmul in dtypes aclnnBatchMatMul lacks (integers, float64): out[b, m, n] is the sum over k of
 * a[b, m, k, .] * b[b, ., k, n], the products of two broadcast views of the operands
 * (aclnnMul) summed over k (aclnnReduceSum), a block of rows at a time so the products stay
 * under asc_product_bytes of scratch (64 MiB; $DEEPSEEK_ASCEND_PRODUCT_BYTES). */
void asc_matmul_products(asc_ctx *c) {
    const int32_t mul = ASC_OPERATOR_MUL, sum = ASC_OPERATOR_REDUCESUM;
    const ds_tensor_desc *o = &c->t[0], *a = &c->t[1], *b = &c->t[2];
    int64_t sa[3], sb[3], oa, ob, B = o->shape[0], M = o->shape[1], N = o->shape[2], K = a->shape[2];
    void *pa, *pb;
    asc_plain(c, 1, &pa, sa, &oa);
    asc_plain(c, 2, &pb, sb, &ob);
    int32_t dt = o->dtype;
    int64_t row = B * (K ? K : 1) * (N ? N : 1) * DTYPE_SIZE[dt], mb = (int64_t)asc_product_bytes / row;
    mb = mb < 1 ? 1 : mb > M ? M : mb;
    int64_t tshape[4] = {B, mb, K, N}, tstrides[4];
    asc_contiguous_strides(4, tshape, tstrides);
    void *tp = asc_scratch(c, (uint64_t)(B * mb * K * N) * DTYPE_SIZE[dt]);
    int64_t dim2 = 2;
    aclIntArray *red = asc_ints(c, &dim2, 1);
    for (int64_t m0 = 0; m0 < M && !c->status; m0 += mb) {
        int64_t rows = M - m0 < mb ? M - m0 : mb;
        int64_t ash[4] = {a->shape[0], rows, K, 1}, ast[4] = {sa[0], sa[1], sa[2], 0};
        int64_t bsh[4] = {b->shape[0], 1, K, N}, bst[4] = {sb[0], 0, sb[1], sb[2]};
        int64_t psh[4] = {B, rows, K, N}, osh[3] = {B, rows, N};
        aclTensor *av = asc_view(c, pa, dt, 4, ash, ast, oa + m0 * sa[1]);
        aclTensor *bv = asc_view(c, pb, dt, 4, bsh, bst, ob);
        aclTensor *pv = asc_view(c, tp, dt, 4, psh, tstrides, 0);
        aclTensor *ov = asc_view(c, o->ptr, dt, 3, osh, o->strides, o->offset + m0 * o->strides[1]);
        CALL(mul, FN(cT, cT, oT), av, bv, pv);
        CALL(sum, FN(cT, const aclIntArray *, bool, int, oT), pv, red, false, ACL_DTYPE[dt], ov);
    }
}

static void put4(int64_t *a, int64_t x0, int64_t x1, int64_t x2, int64_t x3) { a[0] = x0, a[1] = x1, a[2] = x2, a[3] = x3; }

/* 2-d convolution by products (which: 0 forward, 1 input gradient, 2 weight gradient; tensors
 * as the op's, outputs first). The zero-padded input's windows are one strided view
 * cols[n, c, kh, kw, oh, ow] (an aclnnConstantPadNd copy when there is padding), so
 *   out[n, o, oh, ow] = sum over c, kh, kw of w[o, c, kh, kw] cols[n, c, kh, kw, oh, ow],
 *   gw[o, c, kh, kw]  = sum over n, oh, ow of gy[n, o, oh, ow] cols[n, c, kh, kw, oh, ow],
 * group by group; the input gradient adds, for each (kh, kw), the sum over o of gy * w into
 * the strided view of a zeroed padded buffer those windows read (aclnnInplaceAdd), then copies
 * its interior out. Products past asc_product_bytes answer not implemented (the CPU runs it). */
void asc_conv_products(asc_ctx *c, int which) {
    const ds_conv_attrs *a = c->op->attrs;
    const ds_tensor_desc *o = &c->t[0];
    const ds_tensor_desc *xd = which == 1 ? &c->t[0] : &c->t[which == 0 ? 1 : 2];
    const ds_tensor_desc *wd = which == 2 ? &c->t[0] : &c->t[2];
    const ds_tensor_desc *yd = which == 0 ? &c->t[0] : &c->t[1];
    int32_t dt = o->dtype, es = DTYPE_SIZE[dt];
    int64_t N = xd->shape[0], C = xd->shape[1], H = xd->shape[2], W = xd->shape[3];
    int64_t O = wd->shape[0], Cg = wd->shape[1], KH = wd->shape[2], KW = wd->shape[3];
    int64_t OH = yd->shape[2], OW = yd->shape[3], G = a->groups, Og = O / G;
    int64_t ph = a->pad_h, pw = a->pad_w, Hp = H + 2 * ph, Wp = W + 2 * pw;
    if (N * Og * Cg * KH * KW * OH * OW * es > (int64_t)asc_product_bytes) {
        c->status = asc_fail(DS_ERROR_NOT_IMPLEMENTED, "a %s convolution past %llu bytes of products",
                             DTYPE_NAME[dt], (unsigned long long)asc_product_bytes);
        return;
    }
    void *pw_, *py, *px = NULL;
    int64_t sw[4], sy[4], sx[4] = {C * Hp * Wp, Hp * Wp, Wp, 1}, ow_, oy, ox = 0;
    if (which != 2)
        asc_plain(c, 2, &pw_, sw, &ow_);
    if (which != 0)
        asc_plain(c, 1, &py, sy, &oy);
    int64_t xshape[4] = {N, C, Hp, Wp};
    if (which == 1) { /* the zeroed padded buffer the gradient is added into */
        aclTensor *buf = asc_temp(c, dt, 4, xshape);
        px = c->status ? NULL : c->scratch[c->n_scratch - 1];
        aclScalar *zero = asc_scalar_f64(c, 0.0);
        CALL(ASC_OPERATOR_INPLACEFILLSCALAR, FN(oT, const aclScalar *), buf, zero);
    } else {
        int64_t xs[4], xo;
        void *xp;
        aclTensor *x = asc_plain(c, which == 0 ? 1 : 2, &xp, xs, &xo);
        if (ph || pw) {
            int64_t pads[4] = {pw, pw, ph, ph};
            aclTensor *padded = asc_temp(c, dt, 4, xshape);
            px = c->status ? NULL : c->scratch[c->n_scratch - 1];
            aclIntArray *p = asc_ints(c, pads, 4);
            aclScalar *zero = asc_scalar_f64(c, 0.0);
            CALL(ASC_OPERATOR_CONSTANTPADND, FN(cT, const aclIntArray *, const aclScalar *, oT), x, p, zero, padded);
        } else
            px = xp, ox = xo, memcpy(sx, xs, sizeof sx);
    }
    if (c->status)
        return;
    const int64_t sh = a->stride_h, sv = a->stride_w, dh = a->dilation_h, dv = a->dilation_w;
    for (int64_t g = 0; g < G && !c->status; g++) {
        int64_t xoff = ox + g * Cg * sx[1];
        int64_t cols_st[7] = {sx[0], 0, sx[1], dh * sx[2], dv * sx[3], sh * sx[2], sv * sx[3]};
        int64_t cols_sh[7] = {N, 1, Cg, KH, KW, OH, OW}, prod_sh[7] = {N, Og, Cg, KH, KW, OH, OW};
        if (which == 0 || which == 2) {
            aclTensor *cols = asc_view(c, px, dt, 7, cols_sh, cols_st, xoff);
            aclTensor *other, *dst;
            int64_t red[3];
            if (which == 0) { /* w[o, c, kh, kw] as (1, Og, Cg, KH, KW, 1, 1) */
                int64_t s7[7] = {0, sw[0], sw[1], sw[2], sw[3], 0, 0}, h7[7] = {1, Og, Cg, KH, KW, 1, 1}, osh[4], ost[4];
                other = asc_view(c, pw_, dt, 7, h7, s7, ow_ + g * Og * sw[0]);
                put4(osh, N, Og, OH, OW), memcpy(ost, o->strides, sizeof ost);
                dst = asc_view(c, o->ptr, dt, 4, osh, ost, o->offset + g * Og * o->strides[1]);
                red[0] = 2, red[1] = 3, red[2] = 4;
            } else { /* gy[n, o, oh, ow] as (N, Og, 1, 1, 1, OH, OW) */
                int64_t s7[7] = {sy[0], sy[1], 0, 0, 0, sy[2], sy[3]}, h7[7] = {N, Og, 1, 1, 1, OH, OW}, gsh[4], gst[4];
                other = asc_view(c, py, dt, 7, h7, s7, oy + g * Og * sy[1]);
                put4(gsh, Og, Cg, KH, KW), memcpy(gst, o->strides, sizeof gst);
                dst = asc_view(c, o->ptr, dt, 4, gsh, gst, o->offset + g * Og * o->strides[0]);
                red[0] = 0, red[1] = 5, red[2] = 6;
            }
            aclTensor *prod = asc_temp(c, dt, 7, prod_sh);
            aclIntArray *r = asc_ints(c, red, 3);
            CALL(ASC_OPERATOR_MUL, FN(cT, cT, oT), other, cols, prod);
            CALL(ASC_OPERATOR_REDUCESUM, FN(cT, const aclIntArray *, bool, int, oT), prod, r, false, ACL_DTYPE[dt], dst);
            continue;
        }
        /* the input gradient: for each (kh, kw), sum over o of gy[n, o, oh, ow] w[o, c, kh, kw] */
        int64_t p5[5] = {N, Og, Cg, OH, OW}, s5sh[4] = {N, Cg, OH, OW};
        aclTensor *prod = asc_temp(c, dt, 5, p5), *part = asc_temp(c, dt, 4, s5sh);
        int64_t one = 1;
        aclIntArray *r = asc_ints(c, &one, 1);
        aclScalar *alpha = asc_scalar_f64(c, 1.0);
        for (int64_t kh = 0; kh < KH && !c->status; kh++)
            for (int64_t kw = 0; kw < KW && !c->status; kw++) {
                int64_t gys[5] = {sy[0], sy[1], 0, sy[2], sy[3]}, gyh[5] = {N, Og, 1, OH, OW};
                int64_t ws5[5] = {0, sw[0], sw[1], 0, 0}, wh5[5] = {1, Og, Cg, 1, 1};
                aclTensor *gv = asc_view(c, py, dt, 5, gyh, gys, oy + g * Og * sy[1]);
                aclTensor *wv = asc_view(c, pw_, dt, 5, wh5, ws5, ow_ + g * Og * sw[0] + kh * sw[2] + kw * sw[3]);
                int64_t at[4] = {sx[0], sx[1], sh * sx[2], sv * sx[3]};
                aclTensor *win = asc_view(c, px, dt, 4, s5sh, at, xoff + kh * dh * sx[2] + kw * dv * sx[3]);
                CALL(ASC_OPERATOR_MUL, FN(cT, cT, oT), gv, wv, prod);
                CALL(ASC_OPERATOR_REDUCESUM, FN(cT, const aclIntArray *, bool, int, oT), prod, r, false, ACL_DTYPE[dt], part);
                CALL(ASC_OPERATOR_INPLACEADD, FN(oT, cT, const aclScalar *), win, part, alpha);
            }
    }
    if (which == 1 && !c->status) { /* the interior of the padded buffer is the gradient */
        int64_t ish[4] = {N, C, H, W};
        aclTensor *inner = asc_view(c, px, dt, 4, ish, sx, ph * sx[2] + pw * sx[3]);
        aclTensor *gx = asc_out(c, 0);
        CALL(ASC_OPERATOR_INPLACECOPY, FN(oT, cT), gx, inner);
    }
}
