/* dsk_ops.c: the entry point (dsk_plan), the dispatch of the op kinds, and what the families
 * share: the elementwise launch, copy, cast, fill, dims and views (the Launch helpers of
 * deepseek_opencl/ops.py, which the planner transcribes). Each family answers DSK_PUNT, before
 * enqueueing, for anything the Python planner would reject (dsk_plan.h). Families:
 * dsk_elementwise.c, dsk_reduce.c, dsk_matmul.c, dsk_index.c. */
#include <string.h>

#include "dsk_planner.h"

static const int64_t dsk_one[1] = {1}, dsk_zero[1] = {0};

int dsk_supports(dsk_launch *L, int32_t dtype) { return L->hooks->supports(L->ctx, dtype); }

int dsk_temp(dsk_launch *L, int64_t nbytes, dsk_tensor *t, int32_t dtype) {
    memset(t, 0, sizeof *t);
    t->dtype = dtype;
    if (nbytes <= 0) return DSK_PUNT;
    return L->hooks->temp_alloc(L->ctx, (uint64_t)nbytes, &t->mem);
}

void dsk_release(dsk_launch *L, dsk_tensor *t) {
    if (t->mem) L->hooks->temp_free(L->ctx, t->mem);
    t->mem = 0;
}

int dsk_enqueue(dsk_launch *L, int32_t dtype, int32_t kernel, const dsk_arg *args, int nargs, uint32_t dims,
                const size_t *global, const size_t *local) {
    return L->hooks->enqueue(L->ctx, dtype, kernel, args, nargs, dims, global, local);
}

/* Launch.ew: kernel `name` over `shape`, operands through one MetaN, then `extra` arguments;
 * nothing for 0 elements. */
int dsk_ew(dsk_launch *L, int32_t dtype, int32_t name, dsk_tensor *const *ts, int nt, const int64_t *shape, int ndim,
           const dsk_arg *extra, int nextra) {
    int64_t n, meta[DSK_META_LONGS(DSK_MAXT)], offsets[DSK_MAXT];
    const int64_t *strides[DSK_MAXT];
    DSK_ANSWER(dsk_prod(shape, ndim, &n));
    if (n == 0) return DSK_DONE;
    if (nt > DSK_MAXT || n > INT64_MAX / 2 || nt + 2 + nextra > DSK_MAX_ARGS) return DSK_PUNT;
    for (int t = 0; t < nt; ++t) {
        strides[t] = ts[t]->strides;
        offsets[t] = ts[t]->offset;
    }
    DSK_ANSWER(dsk_make_meta(shape, ndim, nt, strides, offsets, meta));
    dsk_arg args[DSK_MAX_ARGS];
    int na = 0;
    for (int t = 0; t < nt; ++t) args[na++] = DSK_MEM(ts[t]);
    args[na++] = (dsk_arg){sizeof(int64_t) * DSK_META_LONGS(nt), meta};
    args[na++] = DSK_LONG(n);
    for (int i = 0; i < nextra; ++i) args[na++] = extra[i];
    size_t g = dsk_roundup(n, DSK_LS);
    return dsk_enqueue(L, dtype, name, args, na, 1, &g, NULL);
}

/* Launch.cast */
int dsk_cast(dsk_launch *L, dsk_tensor *out, dsk_tensor *x) {
    if (!dsk_supports(L, x->dtype) || !dsk_supports(L, out->dtype)) return DSK_PUNT;
    dsk_tensor *ts[2] = {out, x};
    int32_t dst = out->dtype; /* kernels.DTYPES is the ABI's dtype order */
    dsk_arg extra = DSK_INT(dst);
    return dsk_ew(L, x->dtype, DSK_k_cast, ts, 2, out->shape, out->ndim, &extra, 1);
}

/* Launch.copy: nothing for the same view, a raw copy, or a cast */
int dsk_copy(dsk_launch *L, dsk_tensor *out, dsk_tensor *x) {
    if (out->numel == 0) return DSK_DONE;
    if (out->mem == x->mem && out->offset == x->offset && out->dtype == x->dtype &&
        memcmp(out->strides, x->strides, sizeof(int64_t) * out->ndim) == 0)
        return DSK_DONE;
    if (out->dtype != x->dtype) return dsk_cast(L, out, x);
    dsk_tensor *ts[2] = {out, x};
    return dsk_ew(L, x->dtype, DSK_k_copy, ts, 2, out->shape, out->ndim, NULL, 0);
}

/* Launch.fill with a ds_scalar's (kind, i, f) */
int dsk_fill(dsk_launch *L, dsk_tensor *out, int32_t kind, int64_t i, double f) {
    if (!dsk_supports(L, out->dtype)) return DSK_PUNT;
    uint64_t bits = dsk_fill_bits(out->dtype, kind, i, f);
    uint8_t u8 = (uint8_t)bits;
    uint16_t u16 = (uint16_t)bits;
    uint32_t u32 = (uint32_t)bits;
    int size = dsk_dtype_size[out->dtype];
    dsk_arg extra = {(size_t)size, size == 1 ? (const void *)&u8 : size == 2 ? (const void *)&u16
                                   : size == 4 ? (const void *)&u32 : (const void *)&bits};
    return dsk_ew(L, out->dtype, DSK_k_fill, &out, 1, out->shape, out->ndim, &extra, 1);
}

/* ops._dim: a dim in [-n, n) for n = max(ndim, 1), as a non-negative index */
int dsk_dim(int64_t d, int ndim, int *out) {
    int64_t n = ndim > 1 ? ndim : 1;
    if (d < -n || d >= n) return DSK_PUNT;
    *out = (int)(d < 0 ? d + n : d);
    return DSK_DONE;
}

/* ops._lift: a 0-dim operand as a 1-d one of one element */
void dsk_lift(dsk_tensor *t) {
    if (t->ndim == 0) {
        t->ndim = 1;
        t->shape = dsk_one;
        t->strides = dsk_zero;
    }
}

/* Tensor.view: t's buffer and dtype with another shape, strides and offset (the arrays
 * must outlive the view). */
int dsk_view(const dsk_tensor *t, const int64_t *shape, int ndim, const int64_t *strides, int64_t offset,
             dsk_tensor *view) {
    *view = *t;
    view->shape = shape;
    view->ndim = ndim;
    view->strides = strides;
    view->offset = offset;
    return dsk_prod(shape, ndim, &view->numel);
}

static int dsk_run(dsk_launch *L) {
    switch (L->kind) {
    case DSK_UNARY: case DSK_LOGICAL_NOT: return dsk_run_unary(L);
    case DSK_POLYGAMMA: return dsk_run_polygamma(L);
    case DSK_BINARY: case DSK_PREDICATE: return dsk_run_binary(L);
    case DSK_WHERE: return dsk_run_where(L);
    case DSK_CAST: case DSK_COPY: return dsk_run_cast_copy(L);
    case DSK_FILL: return dsk_run_fill(L);
    case DSK_ARANGE: return dsk_run_arange(L);
    case DSK_CAT: return dsk_run_cat(L);
    case DSK_PAD: return dsk_run_pad(L);
    case DSK_RANDOM: return dsk_run_random(L);
    case DSK_REDUCE: return dsk_run_reduce(L);
    case DSK_ARG_REDUCE: return dsk_run_arg_reduce(L);
    case DSK_CUMULATIVE: return dsk_run_cumulative(L);
    case DSK_MATMUL: return dsk_run_matmul(L);
    case DSK_GATHER: return dsk_run_gather(L);
    case DSK_INDEX_SELECT: return dsk_run_index_select(L);
    case DSK_SCATTER: return dsk_run_scatter(L);
    case DSK_INDEX_ADD: return dsk_run_index_add(L);
    case DSK_INDEX: return dsk_run_index(L);
    case DSK_INDEX_PUT: return dsk_run_index_put(L);
    case DSK_CONV2D: return dsk_run_conv2d(L);
    case DSK_CONV2D_INPUT_GRAD: return dsk_run_conv2d_input_grad(L);
    case DSK_CONV2D_WEIGHT_GRAD: return dsk_run_conv2d_weight_grad(L);
    case DSK_SORT: return dsk_run_sort(L);
    default: return DSK_PUNT;
    }
}

static const char *const dsk_kernel_names[DSK_N_KERNELS] = {
    "k_unary", "k_logical_not", "k_binary", "k_predicate", "k_where", "k_cast", "k_copy",
    "k_fill", "k_arange_f", "k_arange_i", "k_red", "k_redf", "k_argreduce", "k_cumulative",
    "k_matmul", "k_matmul_direct", "k_take", "k_scatter", "k_rand", "k_randn", "k_randint",
    "k_randperm", "k_bernoulli", "k_polygamma", "k_conv2d", "k_conv2d_input_grad",
    "k_conv2d_weight_grad", "k_im2col", "k_col2im", "k_index1", "k_index2", "k_index3", "k_index4",
    "k_index_put1", "k_index_put2", "k_index_put3", "k_index_put4", "k_sort", "k_sort_block",
    "k_sort_merge", "k_sort_final",
};

const char *dsk_kernel_name(int32_t kernel) {
    return kernel >= 0 && kernel < DSK_N_KERNELS ? dsk_kernel_names[kernel] : NULL;
}

int dsk_plan(const dsk_hooks *hooks, void *ctx, const dsk_registry *reg, const ds_op *op,
             const ds_tensor_desc *tensors, int32_t n) {
    if (!dsk_handles(reg, op)) return DSK_PUNT;
    if (n < 0 || n > DSK_MAX_TENSORS || (n > 0 && tensors == NULL)) return DSK_PUNT;
    dsk_launch L;
    L.hooks = hooks;
    L.ctx = ctx;
    L.reg = reg;
    L.op = op->id;
    L.kind = reg->kinds[op->id];
    L.code = reg->codes[op->id];
    L.attrs = op->attrs;
    L.nt = n;
    for (int i = 0; i < n; ++i)
        if (dsk_parse(&tensors[i], &L.t[i]) != DSK_DONE) return DSK_PUNT;
    for (int i = 0; i < n; ++i)
        if (dsk_in_bounds(&L, &L.t[i]) != DSK_DONE) return DSK_PUNT;
    return dsk_run(&L);
}
