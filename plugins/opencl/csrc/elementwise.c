/* elementwise.c: unary, polygamma, binary (arithmetic, compare, logical), where, cast, copy, fill,
 * arange, cat, pad and the random ops, as deepseek_opencl/ops.py runs them. */
#include <math.h>
#include <string.h>

#include "launch.h"

static int is_float(int32_t dtype) { return dtype >= DS_FLOAT16; }

static int defined(const ocl_launch *L, int32_t dtype) { return ocl_defined[L->op * OCL_N_DTYPES + dtype]; }

int ocl_run_unary(ocl_launch *L) {
    if (L->nt != 2) return OCL_PUNT;
    ocl_tensor *out = &L->t[0], *x = &L->t[1], *ts[2] = {out, x};
    if (!ocl_same_shape(out, x)) return OCL_PUNT;
    if (L->kind == OCL_LOGICAL_NOT ? out->dtype != DS_BOOL : out->dtype != x->dtype || !defined(L, x->dtype))
        return OCL_PUNT;
    if (!ocl_supports(L, x->dtype)) return OCL_PUNT;
    if (L->kind == OCL_LOGICAL_NOT) return ocl_ew(L, x->dtype, OCL_k_logical_not, ts, 2, out->shape, out->ndim, NULL, 0);
    int32_t code = L->code;
    ocl_arg extra = OCL_INT(code);
    return ocl_ew(L, x->dtype, OCL_k_unary, ts, 2, out->shape, out->ndim, &extra, 1);
}

/* polygamma of order n >= 1, for floats */
int ocl_run_polygamma(ocl_launch *L) {
    if (L->nt != 2 || L->attrs == NULL) return OCL_PUNT;
    ocl_tensor *out = &L->t[0], *x = &L->t[1], *ts[2] = {out, x};
    int64_t n = ((const ds_polygamma_attrs *)L->attrs)->n;
    if (!ocl_same_shape(out, x) || out->dtype != x->dtype || !is_float(x->dtype) || n < 1 || !ocl_supports(L, x->dtype))
        return OCL_PUNT;
    ocl_arg extra = OCL_LONG(n);
    return ocl_ew(L, x->dtype, OCL_k_polygamma, ts, 2, out->shape, out->ndim, &extra, 1);
}

/* arithmetic (k_binary), compare and logical ops (k_predicate, bool out) */
int ocl_run_binary(ocl_launch *L) {
    if (L->nt != 3) return OCL_PUNT;
    ocl_tensor *out = &L->t[0], *a = &L->t[1], *b = &L->t[2], *ts[3] = {out, a, b};
    if (!ocl_same_shape(out, a) || !ocl_same_shape(out, b) || a->dtype != b->dtype) return OCL_PUNT;
    if (L->kind == OCL_PREDICATE ? out->dtype != DS_BOOL : out->dtype != a->dtype) return OCL_PUNT;
    if (!defined(L, a->dtype) || !ocl_supports(L, a->dtype)) return OCL_PUNT;
    int32_t code = L->code;
    ocl_arg extra = OCL_INT(code);
    return ocl_ew(L, a->dtype, L->kind == OCL_PREDICATE ? OCL_k_predicate : OCL_k_binary, ts, 3, out->shape,
                  out->ndim, &extra, 1);
}

int ocl_run_where(ocl_launch *L) {
    if (L->nt != 4) return OCL_PUNT;
    ocl_tensor *out = &L->t[0], *c = &L->t[1], *a = &L->t[2], *b = &L->t[3], *ts[4] = {out, c, a, b};
    if (!ocl_same_shape(out, c) || !ocl_same_shape(out, a) || !ocl_same_shape(out, b)) return OCL_PUNT;
    if (c->dtype != DS_BOOL || out->dtype != a->dtype || a->dtype != b->dtype || !ocl_supports(L, a->dtype))
        return OCL_PUNT;
    return ocl_ew(L, a->dtype, OCL_k_where, ts, 4, out->shape, out->ndim, NULL, 0);
}

int ocl_run_cast_copy(ocl_launch *L) {
    if (L->nt != 2 || !ocl_same_shape(&L->t[0], &L->t[1])) return OCL_PUNT;
    if (L->kind == OCL_CAST) return ocl_cast(L, &L->t[0], &L->t[1]);
    if (!ocl_supports(L, L->t[1].dtype)) return OCL_PUNT;
    return ocl_copy(L, &L->t[0], &L->t[1]);
}

int ocl_run_fill(ocl_launch *L) {
    if (L->nt != 1 || L->attrs == NULL) return OCL_PUNT;
    const ds_scalar *v = &((const ds_fill_attrs *)L->attrs)->value;
    return ocl_fill(L, &L->t[0], v->kind, v->value.i, v->value.f);
}

/* A scalar attribute as Python's float() or int() reads it (NaN, infinities and floats
 * beyond int64 have no int64: OCL_PUNT). */
static double scalar_float(const ds_scalar *s) {
    return s->kind == DS_SCALAR_FLOAT ? s->value.f : s->kind == DS_SCALAR_BOOL ? (double)(s->value.i != 0)
                                                                                : (double)s->value.i;
}

static int scalar_int(const ds_scalar *s, int64_t *out) {
    if (s->kind != DS_SCALAR_FLOAT) {
        *out = s->kind == DS_SCALAR_BOOL ? s->value.i != 0 : s->value.i;
        return OCL_DONE;
    }
    double t = trunc(s->value.f);
    if (!(t >= -9223372036854775808.0 && t < 9223372036854775808.0)) return OCL_PUNT;
    *out = (int64_t)t;
    return OCL_DONE;
}

int ocl_run_arange(ocl_launch *L) {
    if (L->nt != 1 || L->attrs == NULL) return OCL_PUNT;
    ocl_tensor *out = &L->t[0];
    const ds_arange_attrs *a = L->attrs;
    if (out->ndim != 1 || !ocl_supports(L, out->dtype)) return OCL_PUNT;
    int64_t n = out->shape[0], stride = out->strides[0], offset = out->offset;
    if (n == 0) return OCL_DONE;
    if (n > INT64_MAX / 2) return OCL_PUNT;
    ocl_arg args[6] = {OCL_MEM(out), OCL_LONG(n), OCL_LONG(stride), OCL_LONG(offset)};
    size_t g = ocl_roundup(n, OCL_LS);
    if (is_float(out->dtype)) {
        double d[2] = {scalar_float(&a->start), scalar_float(&a->step)};
        float f[2] = {(float)d[0], (float)d[1]};
        int fp64 = ocl_supports(L, DS_FLOAT64); /* the kernel takes double, or float without fp64 */
        args[4] = fp64 ? (ocl_arg){8, &d[0]} : (ocl_arg){4, &f[0]};
        args[5] = fp64 ? (ocl_arg){8, &d[1]} : (ocl_arg){4, &f[1]};
        return ocl_enqueue(L, out->dtype, OCL_k_arange_f, args, 6, 1, &g, NULL);
    }
    int64_t start, step;
    OCL_ANSWER(scalar_int(&a->start, &start));
    OCL_ANSWER(scalar_int(&a->step, &step));
    args[4] = OCL_LONG(start);
    args[5] = OCL_LONG(step);
    return ocl_enqueue(L, out->dtype, OCL_k_arange_i, args, 6, 1, &g, NULL);
}

/* out, x1 ... xn joined along dim: one copy into a view of out per input */
int ocl_run_cat(ocl_launch *L) {
    if (L->nt < 2 || L->attrs == NULL) return OCL_PUNT;
    ocl_tensor *out = &L->t[0];
    int dim;
    if (out->ndim == 0) return OCL_PUNT;
    OCL_ANSWER(ocl_dim(((const ds_cat_attrs *)L->attrs)->dim, out->ndim, &dim));
    int64_t pos = 0, offsets[OCL_MAX_TENSORS];
    for (int i = 1; i < L->nt; ++i) {
        const ocl_tensor *x = &L->t[i];
        if (x->ndim != out->ndim || x->dtype != out->dtype) return OCL_PUNT;
        for (int d = 0; d < out->ndim; ++d)
            if (d != dim && x->shape[d] != out->shape[d]) return OCL_PUNT;
        int64_t step;
        if (__builtin_mul_overflow(pos, out->strides[dim], &step) ||
            __builtin_add_overflow(out->offset, step, &offsets[i]) || __builtin_add_overflow(pos, x->shape[dim], &pos))
            return OCL_PUNT;
    }
    if (pos != out->shape[dim] || !ocl_supports(L, out->dtype)) return OCL_PUNT;
    for (int i = 1; i < L->nt; ++i) {
        ocl_tensor v;
        OCL_ANSWER(ocl_view(out, L->t[i].shape, out->ndim, out->strides, offsets[i], &v));
        OCL_ANSWER(ocl_copy(L, &v, &L->t[i]));
    }
    return OCL_DONE;
}

/* out = value, then x copied in at offset before_d along each dim */
int ocl_run_pad(ocl_launch *L) {
    if (L->nt != 2 || L->attrs == NULL) return OCL_PUNT;
    ocl_tensor *out = &L->t[0], *x = &L->t[1];
    const ds_pad_attrs *a = L->attrs;
    if (a->n_pads < 2 * (int64_t)x->ndim || (x->ndim > 0 && a->pads == NULL)) return OCL_PUNT;
    if (out->ndim != x->ndim || out->dtype != x->dtype) return OCL_PUNT;
    int64_t offset = out->offset, size, step;
    for (int d = 0; d < x->ndim; ++d) {
        int64_t before = a->pads[2 * d], after = a->pads[2 * d + 1];
        if (before < 0 || after < 0 || __builtin_add_overflow(x->shape[d], before, &size) ||
            __builtin_add_overflow(size, after, &size) || size != out->shape[d])
            return OCL_PUNT;
        if (__builtin_mul_overflow(before, out->strides[d], &step) || __builtin_add_overflow(offset, step, &offset))
            return OCL_PUNT;
    }
    ocl_tensor v;
    OCL_ANSWER(ocl_view(out, x->shape, x->ndim, out->strides, offset, &v));
    OCL_ANSWER(ocl_fill(L, out, DS_SCALAR_FLOAT, 0, a->value));
    return ocl_copy(L, &v, x);
}

/* rand, randn, randint, randperm, bernoulli (code: index in kernels.RANDOM): the core's
 * Philox stream, which needs cl_khr_fp64 to match the CPU bit for bit */
int ocl_run_random(ocl_launch *L) {
    enum { RAND, RANDN, RANDINT, RANDPERM, BERNOULLI };
    int op = L->code;
    if (!ocl_supports(L, DS_FLOAT64) || L->attrs == NULL || L->nt != (op == BERNOULLI ? 2 : 1)) return OCL_PUNT;
    const ds_random_attrs *a = L->attrs;
    ocl_tensor *out = &L->t[0];
    uint64_t seed = a->seed, off = a->offset;
    if ((op == RAND || op == RANDN || op == BERNOULLI) && !is_float(out->dtype)) return OCL_PUNT;
    int64_t n = out->numel;
    if (op == RANDPERM) {
        if (out->ndim != 1) return OCL_PUNT;
        if (n == 0) return OCL_DONE;
        int64_t stride = out->strides[0], offset = out->offset;
        ocl_arg args[6] = {OCL_MEM(out), OCL_LONG(n), OCL_LONG(stride), OCL_LONG(offset), OCL_LONG(seed), OCL_LONG(off)};
        size_t one = 1;
        return ocl_enqueue(L, out->dtype, OCL_k_randperm, args, 6, 1, &one, &one);
    }
    if (n == 0) return OCL_DONE;
    ocl_arg extra[4] = {OCL_LONG(seed), OCL_LONG(off)};
    if (op == RAND) {
        double top = ocl_rand_top[out->dtype];
        extra[2] = (ocl_arg){sizeof top, &top};
        return ocl_ew(L, out->dtype, OCL_k_rand, &out, 1, out->shape, out->ndim, extra, 3);
    }
    if (op == RANDN) {
        int64_t meta[OCL_META_LONGS(1)];
        const int64_t *strides[1] = {out->strides};
        OCL_ANSWER(ocl_make_meta(out->shape, out->ndim, 1, strides, &out->offset, meta));
        ocl_arg args[5] = {OCL_MEM(out), {sizeof meta, meta}, OCL_LONG(n), OCL_LONG(seed), OCL_LONG(off)};
        size_t g = ocl_roundup((n + 1) / 2, OCL_LS);
        return ocl_enqueue(L, out->dtype, OCL_k_randn, args, 5, 1, &g, NULL);
    }
    if (op == RANDINT) {
        int64_t low = a->low;
        uint64_t span = (uint64_t)a->high - (uint64_t)a->low;
        if (a->high <= a->low) return OCL_PUNT;
        extra[2] = OCL_LONG(low);
        extra[3] = OCL_LONG(span);
        return ocl_ew(L, out->dtype, OCL_k_randint, &out, 1, out->shape, out->ndim, extra, 4);
    }
    ocl_tensor *p = &L->t[1], *ts[2] = {out, p};
    if (op != BERNOULLI || !ocl_same_shape(out, p) || p->dtype != out->dtype) return OCL_PUNT;
    return ocl_ew(L, out->dtype, OCL_k_bernoulli, ts, 2, out->shape, out->ndim, extra, 2);
}
