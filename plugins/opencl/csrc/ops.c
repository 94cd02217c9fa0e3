/* ops.c: the dispatch of the op kinds C runs, and what their transcriptions of
 * deepseek_opencl/ops.py share (its Launch helpers ew, copy, cast, fill, and _dim, _lift,
 * views). Each family answers OCL_PUNT, before enqueueing, for anything ops.py would reject
 * (launch.h). Families: elementwise.c, reduce.c, matmul.c, index.c. */
#include <string.h>

#include "launch.h"

static const int64_t ONE[1] = {1}, ZERO[1] = {0};

/* Launch.ew: kernel `name` over `shape`, operands through one MetaN, then `extra` arguments;
 * nothing for 0 elements. */
int ocl_ew(ocl_launch *L, int32_t dtype, int name, ocl_tensor *const *ts, int nt, const int64_t *shape, int ndim,
           const ocl_arg *extra, int nextra) {
    int64_t n, meta[OCL_META_LONGS(OCL_MAXT)], offsets[OCL_MAXT];
    const int64_t *strides[OCL_MAXT];
    OCL_ANSWER(ocl_prod(shape, ndim, &n));
    if (n == 0) return OCL_DONE;
    if (nt > OCL_MAXT || n > INT64_MAX / 2 || nt + 2 + nextra > OCL_MAX_ARGS) return OCL_PUNT;
    for (int t = 0; t < nt; ++t) {
        strides[t] = ts[t]->strides;
        offsets[t] = ts[t]->offset;
    }
    OCL_ANSWER(ocl_make_meta(shape, ndim, nt, strides, offsets, meta));
    ocl_arg args[OCL_MAX_ARGS];
    int na = 0;
    for (int t = 0; t < nt; ++t) args[na++] = OCL_MEM(ts[t]);
    args[na++] = (ocl_arg){sizeof(int64_t) * OCL_META_LONGS(nt), meta};
    args[na++] = OCL_LONG(n);
    for (int i = 0; i < nextra; ++i) args[na++] = extra[i];
    size_t g = ocl_roundup(n, OCL_LS);
    return ocl_enqueue(L, dtype, name, args, na, 1, &g, NULL);
}

/* Launch.cast */
int ocl_cast(ocl_launch *L, ocl_tensor *out, ocl_tensor *x) {
    if (!ocl_supports(L, x->dtype) || !ocl_supports(L, out->dtype)) return OCL_PUNT;
    ocl_tensor *ts[2] = {out, x};
    int32_t dst = out->dtype; /* kernels.DTYPES is the ABI's dtype order */
    ocl_arg extra = OCL_INT(dst);
    return ocl_ew(L, x->dtype, OCL_k_cast, ts, 2, out->shape, out->ndim, &extra, 1);
}

/* Launch.copy: nothing for the same view, a raw copy, or a cast */
int ocl_copy(ocl_launch *L, ocl_tensor *out, ocl_tensor *x) {
    if (out->numel == 0) return OCL_DONE;
    if (out->mem == x->mem && out->offset == x->offset && out->dtype == x->dtype &&
        memcmp(out->strides, x->strides, sizeof(int64_t) * out->ndim) == 0)
        return OCL_DONE;
    if (out->dtype != x->dtype) return ocl_cast(L, out, x);
    ocl_tensor *ts[2] = {out, x};
    return ocl_ew(L, x->dtype, OCL_k_copy, ts, 2, out->shape, out->ndim, NULL, 0);
}

/* Launch.fill with a ds_scalar's (kind, i, f) */
int ocl_fill(ocl_launch *L, ocl_tensor *out, int32_t kind, int64_t i, double f) {
    if (!ocl_supports(L, out->dtype)) return OCL_PUNT;
    uint64_t bits = ocl_fill_bits(out->dtype, kind, i, f);
    uint8_t u8 = (uint8_t)bits;
    uint16_t u16 = (uint16_t)bits;
    uint32_t u32 = (uint32_t)bits;
    int size = ocl_dtype_size[out->dtype];
    ocl_arg extra = {(size_t)size, size == 1 ? (const void *)&u8 : size == 2 ? (const void *)&u16
                                   : size == 4 ? (const void *)&u32 : (const void *)&bits};
    return ocl_ew(L, out->dtype, OCL_k_fill, &out, 1, out->shape, out->ndim, &extra, 1);
}

/* ops._dim: a dim in [-n, n) for n = max(ndim, 1), as a non-negative index */
int ocl_dim(int64_t d, int ndim, int *out) {
    int64_t n = ndim > 1 ? ndim : 1;
    if (d < -n || d >= n) return OCL_PUNT;
    *out = (int)(d < 0 ? d + n : d);
    return OCL_DONE;
}

/* ops._lift: a 0-dim operand as a 1-d one of one element */
void ocl_lift(ocl_tensor *t) {
    if (t->ndim == 0) {
        t->ndim = 1;
        t->shape = ONE;
        t->strides = ZERO;
    }
}

/* Tensor.view: t's buffer and dtype with another shape, strides and offset (the arrays
 * must outlive the view). */
int ocl_view(const ocl_tensor *t, const int64_t *shape, int ndim, const int64_t *strides, int64_t offset,
             ocl_tensor *view) {
    *view = *t;
    view->shape = shape;
    view->ndim = ndim;
    view->strides = strides;
    view->offset = offset;
    return ocl_prod(shape, ndim, &view->numel);
}

int ocl_run(ocl_launch *L) {
    switch (L->kind) {
    case OCL_UNARY: case OCL_LOGICAL_NOT: return ocl_run_unary(L);
    case OCL_POLYGAMMA: return ocl_run_polygamma(L);
    case OCL_BINARY: case OCL_PREDICATE: return ocl_run_binary(L);
    case OCL_WHERE: return ocl_run_where(L);
    case OCL_CAST: case OCL_COPY: return ocl_run_cast_copy(L);
    case OCL_FILL: return ocl_run_fill(L);
    case OCL_ARANGE: return ocl_run_arange(L);
    case OCL_CAT: return ocl_run_cat(L);
    case OCL_PAD: return ocl_run_pad(L);
    case OCL_RANDOM: return ocl_run_random(L);
    case OCL_REDUCE: return ocl_run_reduce(L);
    case OCL_ARG_REDUCE: return ocl_run_arg_reduce(L);
    case OCL_CUMULATIVE: return ocl_run_cumulative(L);
    case OCL_MATMUL: return ocl_run_matmul(L);
    case OCL_GATHER: return ocl_run_gather(L);
    case OCL_INDEX_SELECT: return ocl_run_index_select(L);
    case OCL_SCATTER: return ocl_run_scatter(L);
    case OCL_INDEX_ADD: return ocl_run_index_add(L);
    default: return OCL_PUNT;
    }
}
