/* ops.c: the op families C runs, each a transcription of its function in
 * deepseek_opencl/ops.py (same checks, kernels, arguments and work sizes). Anything the
 * Python code would reject answers OCL_PUNT before a kernel is enqueued (launch.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "launch.h"

#define MEM(t) ((ocl_arg){sizeof(cl_mem), &(t)->mem})
#define LONG(v) ((ocl_arg){sizeof(int64_t), &(v)})
#define INT(v) ((ocl_arg){sizeof(int32_t), &(v)})
#define ANSWER(e) do { if ((e) != OCL_DONE) return OCL_PUNT; } while (0)

static const int64_t ONE[1] = {1}, ZERO[1] = {0};

static int is_float(int32_t dtype) { return dtype >= DS_FLOAT16; }

/* Launch.ew: kernel `name` over out.shape (numel > 0), operands through one MetaN. */
static int ew(ocl_launch *L, int32_t dtype, int name, ocl_tensor *const *ts, int nt, const int64_t *shape,
              int ndim, const ocl_arg *extra, int nextra) {
    int64_t n, meta[OCL_META_LONGS(OCL_MAXT)], offsets[OCL_MAXT];
    const int64_t *strides[OCL_MAXT];
    ANSWER(ocl_prod(shape, ndim, &n));
    if (n == 0) return OCL_DONE;
    if (nt > OCL_MAXT || n > INT64_MAX / 2) return OCL_PUNT;
    for (int t = 0; t < nt; ++t) {
        strides[t] = ts[t]->strides;
        offsets[t] = ts[t]->offset;
    }
    ANSWER(ocl_make_meta(shape, ndim, nt, strides, offsets, meta));
    ocl_arg args[OCL_MAX_ARGS];
    int na = 0;
    for (int t = 0; t < nt; ++t) args[na++] = MEM(ts[t]);
    args[na++] = (ocl_arg){sizeof(int64_t) * OCL_META_LONGS(nt), meta};
    args[na++] = LONG(n);
    for (int i = 0; i < nextra; ++i) args[na++] = extra[i];
    size_t g = ocl_roundup(n, OCL_LS);
    return ocl_enqueue(L, dtype, name, args, na, 1, &g, NULL);
}

static int defined(const ocl_launch *L, int32_t dtype) { return ocl_defined[L->op * OCL_N_DTYPES + dtype]; }

static int run_unary(ocl_launch *L) {
    if (L->nt != 2) return OCL_PUNT;
    ocl_tensor *out = &L->t[0], *x = &L->t[1], *ts[2] = {out, x};
    if (!ocl_same_shape(out, x)) return OCL_PUNT;
    if (L->kind == OCL_LOGICAL_NOT ? out->dtype != DS_BOOL : out->dtype != x->dtype || !defined(L, x->dtype))
        return OCL_PUNT;
    if (!ocl_supports(L, x->dtype)) return OCL_PUNT;
    if (L->kind == OCL_LOGICAL_NOT) return ew(L, x->dtype, OCL_k_logical_not, ts, 2, out->shape, out->ndim, NULL, 0);
    int32_t code = L->code;
    ocl_arg extra = INT(code);
    return ew(L, x->dtype, OCL_k_unary, ts, 2, out->shape, out->ndim, &extra, 1);
}

/* arithmetic (k_binary), compare and logical ops (k_predicate, bool out) */
static int run_binary(ocl_launch *L) {
    if (L->nt != 3) return OCL_PUNT;
    ocl_tensor *out = &L->t[0], *a = &L->t[1], *b = &L->t[2], *ts[3] = {out, a, b};
    if (!ocl_same_shape(out, a) || !ocl_same_shape(out, b) || a->dtype != b->dtype) return OCL_PUNT;
    if (L->kind == OCL_PREDICATE ? out->dtype != DS_BOOL : out->dtype != a->dtype) return OCL_PUNT;
    if (!defined(L, a->dtype) || !ocl_supports(L, a->dtype)) return OCL_PUNT;
    int32_t code = L->code;
    ocl_arg extra = INT(code);
    return ew(L, a->dtype, L->kind == OCL_PREDICATE ? OCL_k_predicate : OCL_k_binary, ts, 3, out->shape, out->ndim,
              &extra, 1);
}

static int run_where(ocl_launch *L) {
    if (L->nt != 4) return OCL_PUNT;
    ocl_tensor *out = &L->t[0], *c = &L->t[1], *a = &L->t[2], *b = &L->t[3], *ts[4] = {out, c, a, b};
    if (!ocl_same_shape(out, c) || !ocl_same_shape(out, a) || !ocl_same_shape(out, b)) return OCL_PUNT;
    if (c->dtype != DS_BOOL || out->dtype != a->dtype || a->dtype != b->dtype || !ocl_supports(L, a->dtype))
        return OCL_PUNT;
    return ew(L, a->dtype, OCL_k_where, ts, 4, out->shape, out->ndim, NULL, 0);
}

/* Launch.cast */
static int cast(ocl_launch *L, ocl_tensor *out, ocl_tensor *x) {
    if (!ocl_supports(L, x->dtype) || !ocl_supports(L, out->dtype)) return OCL_PUNT;
    ocl_tensor *ts[2] = {out, x};
    int32_t dst = out->dtype; /* kernels.DTYPES is the ABI's dtype order */
    ocl_arg extra = INT(dst);
    return ew(L, x->dtype, OCL_k_cast, ts, 2, out->shape, out->ndim, &extra, 1);
}

/* Launch.copy: nothing for the same view, a raw copy, or a cast */
static int copy(ocl_launch *L, ocl_tensor *out, ocl_tensor *x) {
    if (out->numel == 0) return OCL_DONE;
    if (out->mem == x->mem && out->offset == x->offset && out->dtype == x->dtype &&
        memcmp(out->strides, x->strides, sizeof(int64_t) * out->ndim) == 0)
        return OCL_DONE;
    if (out->dtype != x->dtype) return cast(L, out, x);
    ocl_tensor *ts[2] = {out, x};
    return ew(L, x->dtype, OCL_k_copy, ts, 2, out->shape, out->ndim, NULL, 0);
}

static int run_cast_copy(ocl_launch *L) {
    if (L->nt != 2 || !ocl_same_shape(&L->t[0], &L->t[1])) return OCL_PUNT;
    if (L->kind == OCL_CAST) return cast(L, &L->t[0], &L->t[1]);
    if (!ocl_supports(L, L->t[1].dtype)) return OCL_PUNT;
    return copy(L, &L->t[0], &L->t[1]);
}

static int run_fill(ocl_launch *L) {
    if (L->nt != 1 || L->attrs == NULL) return OCL_PUNT;
    ocl_tensor *out = &L->t[0];
    const ds_scalar *v = &((const ds_fill_attrs *)L->attrs)->value;
    if (!ocl_supports(L, out->dtype)) return OCL_PUNT;
    uint64_t bits = ocl_fill_bits(out->dtype, v->kind, v->value.i, v->value.f);
    uint8_t u8 = (uint8_t)bits;
    uint16_t u16 = (uint16_t)bits;
    uint32_t u32 = (uint32_t)bits;
    int size = ocl_dtype_size[out->dtype];
    ocl_arg extra = {(size_t)size, size == 1 ? (const void *)&u8 : size == 2 ? (const void *)&u16
                                   : size == 4 ? (const void *)&u32 : (const void *)&bits};
    return ew(L, out->dtype, OCL_k_fill, &out, 1, out->shape, out->ndim, &extra, 1);
}

/* A fill value as Python's float() or int() reads it (NaN, infinities and floats beyond
 * int64 have no int: OCL_PUNT). */
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

static int run_arange(ocl_launch *L) {
    if (L->nt != 1 || L->attrs == NULL) return OCL_PUNT;
    ocl_tensor *out = &L->t[0];
    const ds_arange_attrs *a = L->attrs;
    if (out->ndim != 1 || !ocl_supports(L, out->dtype)) return OCL_PUNT;
    int64_t n = out->shape[0], stride = out->strides[0], offset = out->offset;
    if (n == 0) return OCL_DONE;
    if (n > INT64_MAX / 2) return OCL_PUNT;
    ocl_arg args[6] = {MEM(out), LONG(n), LONG(stride), LONG(offset)};
    size_t g = ocl_roundup(n, OCL_LS);
    if (is_float(out->dtype)) {
        double d[2] = {scalar_float(&a->start), scalar_float(&a->step)};
        float f[2] = {(float)d[0], (float)d[1]};
        int fp64 = ocl_supports(L, DS_FLOAT64);
        args[4] = fp64 ? (ocl_arg){8, &d[0]} : (ocl_arg){4, &f[0]};
        args[5] = fp64 ? (ocl_arg){8, &d[1]} : (ocl_arg){4, &f[1]};
        return ocl_enqueue(L, out->dtype, OCL_k_arange_f, args, 6, 1, &g, NULL);
    }
    int64_t start, step;
    ANSWER(scalar_int(&a->start, &start));
    ANSWER(scalar_int(&a->step, &step));
    args[4] = LONG(start);
    args[5] = LONG(step);
    return ocl_enqueue(L, out->dtype, OCL_k_arange_i, args, 6, 1, &g, NULL);
}

static int run_reduce(ocl_launch *L) {
    if (L->nt != 2) return OCL_PUNT;
    ocl_tensor *out = &L->t[0], *x = &L->t[1];
    if (out->ndim != x->ndim || out->dtype != x->dtype) return OCL_PUNT;
    int64_t ishape[OCL_MAX_DIMS], istride[OCL_MAX_DIMS], nout = out->numel, nred, zero = 0;
    int nr = 0;
    for (int d = 0; d < x->ndim; ++d) {
        if (out->shape[d] == 1 && x->shape[d] != 1) {
            ishape[nr] = x->shape[d];
            istride[nr++] = x->strides[d];
        } else if (out->shape[d] != x->shape[d]) {
            return OCL_PUNT;
        }
    }
    if (!ocl_supports(L, x->dtype)) return OCL_PUNT;
    if (nout == 0) return OCL_DONE;
    ANSWER(ocl_prod(ishape, nr, &nred));
    if (nred == 0 && L->code >= 2) return OCL_PUNT; /* amax, amin of nothing */
    int64_t mo[OCL_META_LONGS(2)], mi[OCL_META_LONGS(1)], mf[OCL_META_LONGS(1)];
    const int64_t *so[2] = {out->strides, x->strides}, *si[1] = {istride}, *sf[1] = {out->strides};
    int64_t oo[2] = {out->offset, x->offset}, of[1] = {out->offset};
    ANSWER(ocl_make_meta(out->shape, out->ndim, 2, so, oo, mo));
    ANSWER(ocl_make_meta(ishape, nr, 1, si, &zero, mi));
    ANSWER(ocl_make_meta(out->shape, out->ndim, 1, sf, of, mf));
    int64_t P = 1, chunk;
    if (nout < 1024 && nred >= 8192) {
        P = nred / 2048 < 4096 / nout ? nred / 2048 : 4096 / nout;
        if (P < 1) P = 1;
    }
    chunk = nred ? (nred + P - 1) / P : 0;
    if (chunk) P = (nred + chunk - 1) / chunk;
    ocl_tensor part = {0};
    if (P > 1) {
        cl_int err = CL_SUCCESS;
        part.mem = ocl_cl.clCreateBuffer(ocl_context(L), CL_MEM_READ_WRITE,
                                         (size_t)(nout * P * ocl_acc_size[x->dtype]), NULL, &err);
        if (err != CL_SUCCESS) return OCL_PUNT;
    }
    int32_t code = L->code;
    ocl_arg args[10] = {MEM(out), MEM(x), MEM(&part), {sizeof mo, mo}, {sizeof mi, mi},
                        LONG(nout), LONG(nred), LONG(P), LONG(chunk), INT(code)};
    size_t g = ocl_roundup(nout * P, OCL_LS);
    int r = ocl_enqueue(L, x->dtype, OCL_k_red, args, 10, 1, &g, NULL);
    if (r == OCL_DONE && P > 1) {
        ocl_arg fargs[6] = {MEM(out), MEM(&part), {sizeof mf, mf}, LONG(nout), LONG(P), INT(code)};
        g = ocl_roundup(nout, OCL_LS);
        r = ocl_enqueue(L, x->dtype, OCL_k_redf, fargs, 6, 1, &g, NULL);
    }
    if (part.mem) ocl_cl.clReleaseMemObject(part.mem); /* OpenCL keeps it until the kernels finish */
    return r;
}

/* ops._dim: a dim in [-n, n) for n = max(ndim, 1), as a non-negative index */
static int dim_of(int64_t d, int ndim, int *out) {
    int64_t n = ndim > 1 ? ndim : 1;
    if (d < -n || d >= n) return OCL_PUNT;
    *out = (int)(d < 0 ? d + n : d);
    return OCL_DONE;
}

/* ops._lift: a 0-dim operand as a 1-d one of one element */
static void lift(ocl_tensor *t) {
    if (t->ndim == 0) {
        t->ndim = 1;
        t->shape = ONE;
        t->strides = ZERO;
    }
}

/* argmax, argmin (code 1) */
static int run_arg_reduce(ocl_launch *L) {
    if (L->nt != 2 || L->attrs == NULL) return OCL_PUNT;
    ocl_tensor *out = &L->t[0], *x = &L->t[1];
    int dim;
    if (out->dtype != DS_INT64) return OCL_PUNT;
    ANSWER(dim_of(((const ds_arg_reduce_attrs *)L->attrs)->dim, x->ndim, &dim));
    lift(out);
    lift(x);
    if (out->ndim != x->ndim) return OCL_PUNT;
    for (int d = 0; d < x->ndim; ++d)
        if (out->shape[d] != (d == dim ? 1 : x->shape[d])) return OCL_PUNT;
    if (!ocl_supports(L, x->dtype)) return OCL_PUNT;
    int64_t nout = out->numel, len = x->shape[dim], sx = x->strides[dim];
    if (nout == 0) return OCL_DONE;
    if (len == 0) return OCL_PUNT;
    int64_t mo[OCL_META_LONGS(2)], oo[2] = {out->offset, x->offset};
    const int64_t *so[2] = {out->strides, x->strides};
    ANSWER(ocl_make_meta(out->shape, out->ndim, 2, so, oo, mo));
    int32_t code = L->code;
    ocl_arg args[7] = {MEM(out), MEM(x), {sizeof mo, mo}, LONG(nout), LONG(len), LONG(sx), INT(code)};
    size_t g = ocl_roundup(nout, OCL_LS);
    return ocl_enqueue(L, x->dtype, OCL_k_argreduce, args, 7, 1, &g, NULL);
}

/* cumsum, cumprod (code 1) */
static int run_cumulative(ocl_launch *L) {
    if (L->nt != 2 || L->attrs == NULL) return OCL_PUNT;
    ocl_tensor *out = &L->t[0], *x = &L->t[1];
    int dim;
    if (!ocl_same_shape(out, x) || out->dtype != x->dtype) return OCL_PUNT;
    ANSWER(dim_of(((const ds_cumulative_attrs *)L->attrs)->dim, x->ndim, &dim));
    lift(out);
    lift(x);
    if (!ocl_supports(L, x->dtype)) return OCL_PUNT;
    if (x->numel == 0) return OCL_DONE;
    int64_t lines[OCL_MAX_DIMS], n, len = x->shape[dim], so_d = out->strides[dim], sx_d = x->strides[dim];
    memcpy(lines, x->shape, sizeof(int64_t) * x->ndim);
    lines[dim] = 1;
    ANSWER(ocl_prod(lines, x->ndim, &n));
    int64_t mo[OCL_META_LONGS(2)], oo[2] = {out->offset, x->offset};
    const int64_t *so[2] = {out->strides, x->strides};
    ANSWER(ocl_make_meta(lines, x->ndim, 2, so, oo, mo));
    int32_t code = L->code;
    ocl_arg args[8] = {MEM(out), MEM(x), {sizeof mo, mo}, LONG(n), LONG(len), LONG(so_d), LONG(sx_d), INT(code)};
    size_t g = ocl_roundup(n, OCL_LS);
    return ocl_enqueue(L, x->dtype, OCL_k_cumulative, args, 8, 1, &g, NULL);
}

static int run_matmul(ocl_launch *L) {
    if (L->nt != 3) return OCL_PUNT;
    ocl_tensor *out = &L->t[0], *a = &L->t[1], *b = &L->t[2];
    if (out->ndim != 3 || a->ndim != 3 || b->ndim != 3) return OCL_PUNT;
    int64_t B = out->shape[0], M = out->shape[1], N = out->shape[2], K = a->shape[2];
    if (a->shape[0] != B || a->shape[1] != M || b->shape[0] != B || b->shape[1] != K || b->shape[2] != N)
        return OCL_PUNT;
    if (out->dtype != a->dtype || a->dtype != b->dtype || out->dtype == DS_BOOL || !ocl_supports(L, a->dtype))
        return OCL_PUNT;
    if (out->numel == 0) return OCL_DONE;
    int64_t v[15] = {M, N, K, a->offset, a->strides[0], a->strides[1], a->strides[2],
                     b->offset, b->strides[0], b->strides[1], b->strides[2],
                     out->offset, out->strides[0], out->strides[1], out->strides[2]};
    int64_t p[16];
    int np = ocl_make_params(v, 15, p);
    ocl_arg args[4] = {MEM(out), MEM(a), MEM(b), {sizeof(int64_t) * np, p}};
    /* read per launch, like os.environ in ops.py; empty means the default */
    const char *variant = getenv("DEEPSEEK_OPENCL_MATMUL");
    int direct = variant && *variant ? strcmp(variant, "direct") == 0 : ocl_is_cpu(L);
    if (direct) {
        size_t g[3] = {ocl_roundup(N, OCL_MDW), (size_t)((M + OCL_MD - 1) / OCL_MD), (size_t)B}, l[3] = {OCL_MDW, 1, 1};
        return ocl_enqueue(L, a->dtype, OCL_k_matmul_direct, args, 4, 3, g, l);
    }
    size_t g[3] = {(size_t)((N + OCL_MT - 1) / OCL_MT * OCL_MW), (size_t)((M + OCL_MT - 1) / OCL_MT * OCL_MW), (size_t)B};
    size_t l[3] = {OCL_MW, OCL_MW, 1};
    return ocl_enqueue(L, a->dtype, OCL_k_matmul, args, 4, 3, g, l);
}

int ocl_run(ocl_launch *L) {
    switch (L->kind) {
    case OCL_UNARY: case OCL_LOGICAL_NOT: return run_unary(L);
    case OCL_BINARY: case OCL_PREDICATE: return run_binary(L);
    case OCL_WHERE: return run_where(L);
    case OCL_CAST: case OCL_COPY: return run_cast_copy(L);
    case OCL_FILL: return run_fill(L);
    case OCL_ARANGE: return run_arange(L);
    case OCL_REDUCE: return run_reduce(L);
    case OCL_ARG_REDUCE: return run_arg_reduce(L);
    case OCL_CUMULATIVE: return run_cumulative(L);
    case OCL_MATMUL: return run_matmul(L);
    default: return OCL_PUNT;
    }
}
