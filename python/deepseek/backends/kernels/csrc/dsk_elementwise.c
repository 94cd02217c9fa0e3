/* dsk_elementwise.c: unary, polygamma, binary (arithmetic, compare, logical), where, cast, copy,
 * fill, arange, cat, pad and the random ops. */
#include <math.h>
#include <string.h>

#include "dsk_planner.h"

static int dsk_is_float(int32_t dtype) { return dtype >= DS_FLOAT16; }

static int dsk_defined(const dsk_launch *L, int32_t dtype) { return L->reg->defined[L->op * DSK_N_DTYPES + dtype]; }

int dsk_run_unary(dsk_launch *L) {
    if (L->nt != 2) return DSK_PUNT;
    dsk_tensor *out = &L->t[0], *x = &L->t[1], *ts[2] = {out, x};
    if (!dsk_same_shape(out, x)) return DSK_PUNT;
    if (L->kind == DSK_LOGICAL_NOT ? out->dtype != DS_BOOL : out->dtype != x->dtype || !dsk_defined(L, x->dtype))
        return DSK_PUNT;
    if (!dsk_supports(L, x->dtype)) return DSK_PUNT;
    if (L->kind == DSK_LOGICAL_NOT) return dsk_ew(L, x->dtype, DSK_k_logical_not, ts, 2, out->shape, out->ndim, NULL, 0);
    int32_t code = L->code;
    dsk_arg extra = DSK_INT(code);
    return dsk_ew(L, x->dtype, DSK_k_unary, ts, 2, out->shape, out->ndim, &extra, 1);
}

/* polygamma of order n >= 1, for floats */
int dsk_run_polygamma(dsk_launch *L) {
    if (L->nt != 2 || L->attrs == NULL) return DSK_PUNT;
    dsk_tensor *out = &L->t[0], *x = &L->t[1], *ts[2] = {out, x};
    int64_t n = ((const ds_polygamma_attrs *)L->attrs)->n;
    if (!dsk_same_shape(out, x) || out->dtype != x->dtype || !dsk_is_float(x->dtype) || n < 1 || !dsk_supports(L, x->dtype))
        return DSK_PUNT;
    dsk_arg extra = DSK_LONG(n);
    return dsk_ew(L, x->dtype, DSK_k_polygamma, ts, 2, out->shape, out->ndim, &extra, 1);
}

/* arithmetic (k_binary), compare and logical ops (k_predicate, bool out) */
int dsk_run_binary(dsk_launch *L) {
    if (L->nt != 3) return DSK_PUNT;
    dsk_tensor *out = &L->t[0], *a = &L->t[1], *b = &L->t[2], *ts[3] = {out, a, b};
    if (!dsk_same_shape(out, a) || !dsk_same_shape(out, b) || a->dtype != b->dtype) return DSK_PUNT;
    if (L->kind == DSK_PREDICATE ? out->dtype != DS_BOOL : out->dtype != a->dtype) return DSK_PUNT;
    if (!dsk_defined(L, a->dtype) || !dsk_supports(L, a->dtype)) return DSK_PUNT;
    int32_t code = L->code;
    dsk_arg extra = DSK_INT(code);
    return dsk_ew(L, a->dtype, L->kind == DSK_PREDICATE ? DSK_k_predicate : DSK_k_binary, ts, 3, out->shape,
                  out->ndim, &extra, 1);
}

int dsk_run_where(dsk_launch *L) {
    if (L->nt != 4) return DSK_PUNT;
    dsk_tensor *out = &L->t[0], *c = &L->t[1], *a = &L->t[2], *b = &L->t[3], *ts[4] = {out, c, a, b};
    if (!dsk_same_shape(out, c) || !dsk_same_shape(out, a) || !dsk_same_shape(out, b)) return DSK_PUNT;
    if (c->dtype != DS_BOOL || out->dtype != a->dtype || a->dtype != b->dtype || !dsk_supports(L, a->dtype))
        return DSK_PUNT;
    return dsk_ew(L, a->dtype, DSK_k_where, ts, 4, out->shape, out->ndim, NULL, 0);
}

int dsk_run_cast_copy(dsk_launch *L) {
    if (L->nt != 2 || !dsk_same_shape(&L->t[0], &L->t[1])) return DSK_PUNT;
    if (L->kind == DSK_CAST) return dsk_cast(L, &L->t[0], &L->t[1]);
    if (!dsk_supports(L, L->t[1].dtype)) return DSK_PUNT;
    return dsk_copy(L, &L->t[0], &L->t[1]);
}

int dsk_run_fill(dsk_launch *L) {
    if (L->nt != 1 || L->attrs == NULL) return DSK_PUNT;
    const ds_scalar *v = &((const ds_fill_attrs *)L->attrs)->value;
    return dsk_fill(L, &L->t[0], v->kind, v->value.i, v->value.f);
}

/* A scalar attribute as Python's float() or int() reads it (NaN, infinities and floats
 * beyond int64 have no int64: DSK_PUNT). */
static double dsk_scalar_float(const ds_scalar *s) {
    return s->kind == DS_SCALAR_FLOAT ? s->value.f : s->kind == DS_SCALAR_BOOL ? (double)(s->value.i != 0)
                                                                                : (double)s->value.i;
}

static int dsk_scalar_int(const ds_scalar *s, int64_t *out) {
    if (s->kind != DS_SCALAR_FLOAT) {
        *out = s->kind == DS_SCALAR_BOOL ? s->value.i != 0 : s->value.i;
        return DSK_DONE;
    }
    double t = trunc(s->value.f);
    if (!(t >= -9223372036854775808.0 && t < 9223372036854775808.0)) return DSK_PUNT;
    *out = (int64_t)t;
    return DSK_DONE;
}

int dsk_run_arange(dsk_launch *L) {
    if (L->nt != 1 || L->attrs == NULL) return DSK_PUNT;
    dsk_tensor *out = &L->t[0];
    const ds_arange_attrs *a = L->attrs;
    if (out->ndim != 1 || !dsk_supports(L, out->dtype)) return DSK_PUNT;
    int64_t n = out->shape[0], stride = out->strides[0], offset = out->offset;
    if (n == 0) return DSK_DONE;
    if (n > INT64_MAX / 2) return DSK_PUNT;
    dsk_arg args[6] = {DSK_MEM(out), DSK_LONG(n), DSK_LONG(stride), DSK_LONG(offset)};
    size_t g = dsk_roundup(n, DSK_LS);
    if (dsk_is_float(out->dtype)) {
        double d[2] = {dsk_scalar_float(&a->start), dsk_scalar_float(&a->step)};
        float f[2] = {(float)d[0], (float)d[1]};
        int fp64 = dsk_supports(L, DS_FLOAT64); /* the kernel takes double, or float without fp64 */
        args[4] = fp64 ? (dsk_arg){8, &d[0]} : (dsk_arg){4, &f[0]};
        args[5] = fp64 ? (dsk_arg){8, &d[1]} : (dsk_arg){4, &f[1]};
        return dsk_enqueue(L, out->dtype, DSK_k_arange_f, args, 6, 1, &g, NULL);
    }
    int64_t start, step;
    DSK_ANSWER(dsk_scalar_int(&a->start, &start));
    DSK_ANSWER(dsk_scalar_int(&a->step, &step));
    args[4] = DSK_LONG(start);
    args[5] = DSK_LONG(step);
    return dsk_enqueue(L, out->dtype, DSK_k_arange_i, args, 6, 1, &g, NULL);
}

/* out, x1 ... xn joined along dim: one copy into a view of out per input */
int dsk_run_cat(dsk_launch *L) {
    if (L->nt < 2 || L->attrs == NULL) return DSK_PUNT;
    dsk_tensor *out = &L->t[0];
    int dim;
    if (out->ndim == 0) return DSK_PUNT;
    DSK_ANSWER(dsk_dim(((const ds_cat_attrs *)L->attrs)->dim, out->ndim, &dim));
    int64_t pos = 0, offsets[DSK_MAX_TENSORS];
    for (int i = 1; i < L->nt; ++i) {
        const dsk_tensor *x = &L->t[i];
        if (x->ndim != out->ndim || x->dtype != out->dtype) return DSK_PUNT;
        for (int d = 0; d < out->ndim; ++d)
            if (d != dim && x->shape[d] != out->shape[d]) return DSK_PUNT;
        int64_t step;
        if (__builtin_mul_overflow(pos, out->strides[dim], &step) ||
            __builtin_add_overflow(out->offset, step, &offsets[i]) || __builtin_add_overflow(pos, x->shape[dim], &pos))
            return DSK_PUNT;
    }
    if (pos != out->shape[dim] || !dsk_supports(L, out->dtype)) return DSK_PUNT;
    for (int i = 1; i < L->nt; ++i) {
        dsk_tensor v;
        DSK_ANSWER(dsk_view(out, L->t[i].shape, out->ndim, out->strides, offsets[i], &v));
        DSK_ANSWER(dsk_copy(L, &v, &L->t[i]));
    }
    return DSK_DONE;
}

/* out = value, then x copied in at offset before_d along each dim */
int dsk_run_pad(dsk_launch *L) {
    if (L->nt != 2 || L->attrs == NULL) return DSK_PUNT;
    dsk_tensor *out = &L->t[0], *x = &L->t[1];
    const ds_pad_attrs *a = L->attrs;
    if (a->n_pads < 2 * (int64_t)x->ndim || (x->ndim > 0 && a->pads == NULL)) return DSK_PUNT;
    if (out->ndim != x->ndim || out->dtype != x->dtype) return DSK_PUNT;
    int64_t offset = out->offset, size, step;
    for (int d = 0; d < x->ndim; ++d) {
        int64_t before = a->pads[2 * d], after = a->pads[2 * d + 1];
        if (before < 0 || after < 0 || __builtin_add_overflow(x->shape[d], before, &size) ||
            __builtin_add_overflow(size, after, &size) || size != out->shape[d])
            return DSK_PUNT;
        if (__builtin_mul_overflow(before, out->strides[d], &step) || __builtin_add_overflow(offset, step, &offset))
            return DSK_PUNT;
    }
    dsk_tensor v;
    DSK_ANSWER(dsk_view(out, x->shape, x->ndim, out->strides, offset, &v));
    DSK_ANSWER(dsk_fill(L, out, DS_SCALAR_FLOAT, 0, a->value));
    return dsk_copy(L, &v, x);
}

/* rand, randn, randint, randperm, bernoulli (code: index in kernels.RANDOM): the core's
 * Philox stream, which needs cl_khr_fp64 to match the CPU bit for bit */
int dsk_run_random(dsk_launch *L) {
    enum { RAND, RANDN, RANDINT, RANDPERM, BERNOULLI };
    int op = L->code;
    if (!dsk_supports(L, DS_FLOAT64) || L->attrs == NULL || L->nt != (op == BERNOULLI ? 2 : 1)) return DSK_PUNT;
    const ds_random_attrs *a = L->attrs;
    dsk_tensor *out = &L->t[0];
    uint64_t seed = a->seed, off = a->offset;
    if ((op == RAND || op == RANDN || op == BERNOULLI) && !dsk_is_float(out->dtype)) return DSK_PUNT;
    int64_t n = out->numel;
    if (op == RANDPERM) {
        if (out->ndim != 1) return DSK_PUNT;
        if (n == 0) return DSK_DONE;
        int64_t stride = out->strides[0], offset = out->offset;
        dsk_arg args[6] = {DSK_MEM(out), DSK_LONG(n), DSK_LONG(stride), DSK_LONG(offset), DSK_LONG(seed), DSK_LONG(off)};
        size_t one = 1;
        return dsk_enqueue(L, out->dtype, DSK_k_randperm, args, 6, 1, &one, &one);
    }
    if (n == 0) return DSK_DONE;
    dsk_arg extra[4] = {DSK_LONG(seed), DSK_LONG(off)};
    if (op == RAND) {
        double top = L->reg->rand_top[out->dtype];
        extra[2] = (dsk_arg){sizeof top, &top};
        return dsk_ew(L, out->dtype, DSK_k_rand, &out, 1, out->shape, out->ndim, extra, 3);
    }
    if (op == RANDN) {
        int64_t meta[DSK_META_LONGS(1)];
        const int64_t *strides[1] = {out->strides};
        DSK_ANSWER(dsk_make_meta(out->shape, out->ndim, 1, strides, &out->offset, meta));
        dsk_arg args[5] = {DSK_MEM(out), {sizeof meta, meta}, DSK_LONG(n), DSK_LONG(seed), DSK_LONG(off)};
        size_t g = dsk_roundup((n + 1) / 2, DSK_LS);
        return dsk_enqueue(L, out->dtype, DSK_k_randn, args, 5, 1, &g, NULL);
    }
    if (op == RANDINT) {
        int64_t low = a->low;
        uint64_t span = (uint64_t)a->high - (uint64_t)a->low;
        if (a->high <= a->low) return DSK_PUNT;
        extra[2] = DSK_LONG(low);
        extra[3] = DSK_LONG(span);
        return dsk_ew(L, out->dtype, DSK_k_randint, &out, 1, out->shape, out->ndim, extra, 4);
    }
    dsk_tensor *p = &L->t[1], *ts[2] = {out, p};
    if (op != BERNOULLI || !dsk_same_shape(out, p) || p->dtype != out->dtype) return DSK_PUNT;
    return dsk_ew(L, out->dtype, DSK_k_bernoulli, ts, 2, out->shape, out->ndim, extra, 2);
}
