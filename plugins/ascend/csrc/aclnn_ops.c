/* aclnn_ops.c: launch(): one primitive op as aclnn calls. The op's way (chosen at load from
 * the generated ASC_MAPPING, aclnn_table.h) names a calling convention below; each describes
 * its operands (aclnn_operands.c), asks <op>GetWorkspaceSize for the workspace and an
 * executor, runs <op> on the stream, and the launch destroys every descriptor it created. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "launch_ctx.h"

static int32_t operator_of(const asc_ctx *c, int32_t need) {
    return ASC_MAPPING[c->op->id].ways[asc_way_of[c->op->id]].needs[need];
}

/* The dims reduced into output 0 from input 1 (out size 1 where x is not), as aclnn dims. */
static int32_t reduced_dims(const asc_ctx *c, int64_t *dims) {
    const ds_tensor_desc *o = &c->t[0], *x = &c->t[1];
    int32_t n = 0;
    for (int k = 0; k < x->ndim; k++)
        if (o->shape[k] == 1 && x->shape[k] != 1)
            dims[n++] = k;
    return n;
}

/* ---- the calling conventions ----------------------------------------------------------- */

static void copy_into(asc_ctx *c, aclTensor *dst, aclTensor *src) {
    CALL(ASC_OPERATOR_INPLACECOPY, FN(oT, cT), dst, src);
}

static void conv_reduce(asc_ctx *c, int32_t k) {
    int64_t dims[16];
    int32_t nd = reduced_dims(c, dims);
    aclTensor *x = asc_in(c, 1), *o = asc_out(c, 0);
    if (nd == 0) {
        copy_into(c, o, x);
        return;
    }
    aclIntArray *d = asc_ints(c, dims, (uint64_t)nd);
    if (c->way_arg == 0)
        CALL(k, FN(cT, const aclIntArray *, bool, int, oT), x, d, true, ACL_DTYPE[c->t[0].dtype], o);
    else
        CALL(k, FN(cT, const aclIntArray *, bool, oT), x, d, true, o);
}

static void conv_prod(asc_ctx *c, int32_t k) {
    int64_t dims[16], shape[16];
    int32_t nd = reduced_dims(c, dims);
    const ds_tensor_desc *x = &c->t[1];
    aclTensor *cur = asc_in(c, 1), *o = asc_out(c, 0);
    if (nd == 0) {
        copy_into(c, o, cur);
        return;
    }
    memcpy(shape, x->shape, sizeof(int64_t) * (size_t)x->ndim);
    for (int i = 0; i < nd && !c->status; i++) { /* one dim at a time, through scratch */
        shape[dims[i]] = 1;
        aclTensor *next = i == nd - 1 ? o : asc_temp(c, x->dtype, x->ndim, shape);
        CALL(k, FN(cT, int64_t, bool, int, oT), cur, dims[i], true, ACL_DTYPE[x->dtype], next);
        cur = next;
    }
}

static void conv_pad(asc_ctx *c, int32_t k) {
    const ds_pad_attrs *a = c->op->attrs;
    int64_t pads[32];
    int32_t nd = (int32_t)(a->n_pads / 2);
    for (int d = 0; d < nd; d++) { /* torch's order: the last dim first */
        pads[2 * d] = a->pads[2 * (nd - 1 - d)];
        pads[2 * d + 1] = a->pads[2 * (nd - 1 - d) + 1];
    }
    aclTensor *x = asc_in(c, 1), *o = asc_out(c, 0);
    aclIntArray *p = asc_ints(c, pads, (uint64_t)(2 * nd));
    aclScalar *v = IS_FLOAT(c->t[0].dtype) ? asc_scalar_f64(c, a->value) : asc_scalar_i64(c, (int64_t)a->value);
    CALL(k, FN(cT, const aclIntArray *, const aclScalar *, oT), x, p, v, o);
}

static void conv_conv(asc_ctx *c, int32_t k, int grad) {
    const ds_conv_attrs *a = c->op->attrs;
    int64_t st[2] = {a->stride_h, a->stride_w}, pd[2] = {a->pad_h, a->pad_w}, dl[2] = {a->dilation_h, a->dilation_w};
    int64_t zero[2] = {0, 0};
    aclIntArray *s = asc_ints(c, st, 2), *p = asc_ints(c, pd, 2), *d = asc_ints(c, dl, 2), *op = asc_ints(c, zero, 2);
    if (!grad) {
        aclTensor *x = asc_in(c, 1), *w = asc_in(c, 2), *o = asc_out(c, 0);
        CALL(k, FN(cT, cT, cT, const aclIntArray *, const aclIntArray *, const aclIntArray *, bool,
                   const aclIntArray *, int64_t, oT, int8_t),
             x, w, (cT)NULL, s, p, d, false, op, a->groups, o, (int8_t)0);
        return;
    }
    /* gx = (out, gy, w) with mask [1, 0, 0]; gw = (out, gy, x) with mask [0, 1, 0]; the
     * output's descriptor stands for the operand only its shape is read from */
    bool mask[3] = {c->way_arg == 0, c->way_arg == 1, false};
    aclBoolArray *m = ASC.aclCreateBoolArray(mask, 3);
    asc_keep(c, m, OBJ_BOOLS);
    aclTensor *gy = asc_in(c, 1), *other = asc_in(c, 2), *o = asc_out(c, 0);
    aclTensor *shape_only = asc_view(c, c->t[0].ptr, c->t[0].dtype, c->t[0].ndim, c->t[0].shape, c->t[0].strides, c->t[0].offset);
    cT input = c->way_arg == 0 ? shape_only : other, weight = c->way_arg == 0 ? other : shape_only;
    CALL(k, FN(cT, cT, cT, const aclIntArray *, const aclIntArray *, const aclIntArray *, const aclIntArray *,
               bool, const aclIntArray *, int, const aclBoolArray *, int8_t, oT, oT, oT),
         gy, input, weight, (const aclIntArray *)NULL, s, p, d, false, op, (int)a->groups, m, (int8_t)0,
         c->way_arg == 0 ? o : (oT)NULL, c->way_arg == 1 ? o : (oT)NULL, (oT)NULL);
}

/* A tensor list of operands first .. first + count - 1; the list owns (and destroys) them. */
static aclTensorList *list_of(asc_ctx *c, int first, int count) {
    aclTensor *ts[256];
    if (count > 256) {
        c->status = asc_fail(DS_ERROR_NOT_IMPLEMENTED, "more than 256 tensors in one list");
        return NULL;
    }
    for (int i = 0; i < count; i++)
        ts[i] = asc_in(c, first + i);
    if (c->status)
        return NULL;
    aclTensorList *l = ASC.aclCreateTensorList((const aclTensor *const *)ts, (uint64_t)count);
    if (l)
        for (int j = 0; j < c->n_objs; j++)
            for (int i = 0; i < count; i++)
                if (c->objs[j] == ts[i])
                    c->kinds[j] = OBJ_OWNED;
    asc_keep(c, l, OBJ_LIST);
    return l;
}

static void conv_index_put(asc_ctx *c) {
    /* out = x (aclnnInplaceCopy), then aclnnIndexPutImpl on out; tensors: out, x, values, i_1.. */
    const ds_index_put_attrs *a = c->op->attrs;
    aclTensor *o = asc_inout(c, 0), *x = asc_in(c, 1), *v = asc_in(c, 2);
    copy_into(c, o, x);
    aclTensorList *l = list_of(c, 3, c->n - 3);
    CALL(operator_of(c, 1), FN(oT, const aclTensorList *, cT, bool, bool), o, l, v, a->accumulate != 0, false);
}

/* host memory into device memory, after the work queued on the launch's stream */
static ds_status asc_upload(asc_ctx *c, void *dst, const void *host, uint64_t nbytes) {
    ds_status st = asc_acl_check(ASC.aclrtSynchronizeStream(c->stream), "aclrtSynchronizeStream");
    return st ? st : asc_acl_check(ASC.aclrtMemcpy(dst, nbytes, host, nbytes, ACL_MEMCPY_HOST_TO_DEVICE), "aclrtMemcpy");
}

static void conv_random(asc_ctx *c) {
    const ds_tensor_desc *o = &c->t[0];
    int64_t n = asc_numel(o->ndim, o->shape), strides[16];
    asc_contiguous_strides(o->ndim, o->shape, strides);
    for (int k = 0; k < o->ndim; k++)
        if (o->shape[k] > 1 && o->strides[k] != strides[k]) {
            c->status = asc_fail(DS_ERROR_NOT_IMPLEMENTED, "random ops write contiguous outputs only");
            return;
        }
    uint64_t nbytes = (uint64_t)n * DTYPE_SIZE[o->dtype];
    void *host = malloc(nbytes ? nbytes : 1);
    if (!host) {
        c->status = asc_fail(DS_ERROR_OUT_OF_MEMORY, "no host memory for %llu bytes", (unsigned long long)nbytes);
        return;
    }
    if (asc_host_random(c->op->id, c->op->attrs, o->dtype, n, host)) {
        free(host);
        c->status = asc_fail(DS_ERROR_NOT_IMPLEMENTED, "no host stream for this op and dtype");
        return;
    }
    char *dst = (char *)o->ptr + o->offset * DTYPE_SIZE[o->dtype];
    c->status = asc_upload(c, dst, host, nbytes);
    free(host);
}

static void conv_bernoulli(asc_ctx *c, int32_t k) {
    /* out = (u < p) with u the core's uniforms, drawn on the host as float64 */
    const ds_tensor_desc *p = &c->t[1];
    const ds_random_attrs *a = c->op->attrs;
    int64_t n = asc_numel(p->ndim, p->shape);
    double *host = malloc((size_t)(n ? n : 1) * sizeof(double));
    if (!host) {
        c->status = asc_fail(DS_ERROR_OUT_OF_MEMORY, "no host memory for bernoulli's uniforms");
        return;
    }
    asc_host_uniform(a->seed, a->offset, n, host);
    aclTensor *u = asc_temp(c, DS_FLOAT64, p->ndim, p->shape);
    void *dev = c->status ? NULL : c->scratch[c->n_scratch - 1];
    if (!c->status)
        c->status = asc_upload(c, dev, host, (uint64_t)n * 8);
    free(host);
    aclTensor *pt = asc_in(c, 1), *o = asc_out(c, 0);
    CALL(k, FN(cT, cT, oT), u, pt, o);
}

static void dispatch(asc_ctx *c) {
    const asc_way *w = &ASC_MAPPING[c->op->id].ways[asc_way_of[c->op->id]];
    const void *attrs = c->op->attrs;
    int32_t k = w->needs[0];
    c->way_arg = w->arg;
    switch (w->conv) {
    case ASC_UNARY: {
        aclTensor *x = asc_in(c, 1), *o = asc_out(c, 0);
        CALL(k, FN(cT, oT), x, o);
        break;
    }
    case ASC_POLYGAMMA: {
        aclTensor *x = asc_in(c, 1), *o = asc_out(c, 0);
        CALL(k, FN(int64_t, cT, oT), ((const ds_polygamma_attrs *)attrs)->n, x, o);
        break;
    }
    case ASC_BINARY: {
        aclTensor *a = asc_in(c, 1), *b = asc_in(c, 2), *o = asc_out(c, 0);
        CALL(k, FN(cT, cT, oT), a, b, o);
        break;
    }
    case ASC_BINARY_ALPHA: {
        aclTensor *a = asc_in(c, 1), *b = asc_in(c, 2), *o = asc_out(c, 0);
        aclScalar *alpha = IS_FLOAT(c->t[0].dtype) ? asc_scalar_f64(c, (double)w->arg) : asc_scalar_i64(c, w->arg);
        CALL(k, FN(cT, cT, const aclScalar *, oT), a, b, alpha, o);
        break;
    }
    case ASC_WHERE: {
        aclTensor *cond = asc_in(c, 1), *a = asc_in(c, 2), *b = asc_in(c, 3), *o = asc_out(c, 0);
        CALL(k, FN(cT, cT, cT, oT), cond, a, b, o);
        break;
    }
    case ASC_CAST: {
        aclTensor *x = asc_in(c, 1), *o = asc_out(c, 0);
        CALL(k, FN(cT, int, oT), x, ACL_DTYPE[c->t[0].dtype], o);
        break;
    }
    case ASC_COPY: {
        aclTensor *x = asc_in(c, 1), *o = asc_inout(c, 0);
        copy_into(c, o, x);
        break;
    }
    case ASC_FILL: {
        aclTensor *o = asc_inout(c, 0);
        aclScalar *v = asc_scalar_of(c, &((const ds_fill_attrs *)attrs)->value);
        CALL(k, FN(oT, const aclScalar *), o, v);
        break;
    }
    case ASC_ARANGE: {
        const ds_arange_attrs *a = attrs;
        int64_t len = c->t[0].shape[0];
        aclTensor *o = asc_out(c, 0);
        aclScalar *start, *end, *step;
        if (a->start.kind == DS_SCALAR_FLOAT || a->step.kind == DS_SCALAR_FLOAT) {
            double s0 = a->start.kind == DS_SCALAR_FLOAT ? a->start.value.f : (double)a->start.value.i;
            double d = a->step.kind == DS_SCALAR_FLOAT ? a->step.value.f : (double)a->step.value.i;
            /* half a step short of the next element: ceil((end - start) / step) is len for sure */
            start = asc_scalar_f64(c, s0), end = asc_scalar_f64(c, s0 + ((double)len - 0.5) * d), step = asc_scalar_f64(c, d);
        } else {
            start = asc_scalar_i64(c, a->start.value.i), step = asc_scalar_i64(c, a->step.value.i);
            end = asc_scalar_i64(c, a->start.value.i + len * a->step.value.i);
        }
        CALL(k, FN(const aclScalar *, const aclScalar *, const aclScalar *, oT), start, end, step, o);
        break;
    }
    case ASC_CAT: {
        aclTensorList *l = list_of(c, 1, c->n - 1);
        aclTensor *o = asc_out(c, 0);
        CALL(k, FN(const aclTensorList *, int64_t, oT), l, ((const ds_cat_attrs *)attrs)->dim, o);
        break;
    }
    case ASC_PAD: conv_pad(c, k); break;
    case ASC_REDUCE: conv_reduce(c, k); break;
    case ASC_PROD: conv_prod(c, k); break;
    case ASC_ARG: {
        aclTensor *x = asc_in(c, 1), *o = asc_out(c, 0);
        CALL(k, FN(cT, int64_t, bool, oT), x, ((const ds_arg_reduce_attrs *)attrs)->dim, true, o);
        break;
    }
    case ASC_CUMSUM: {
        aclTensor *x = asc_in(c, 1), *o = asc_out(c, 0);
        CALL(k, FN(cT, int64_t, int, oT), x, ((const ds_cumulative_attrs *)attrs)->dim, ACL_DTYPE[c->t[0].dtype], o);
        break;
    }
    case ASC_CUMPROD: {
        aclTensor *x = asc_in(c, 1), *o = asc_out(c, 0);
        int32_t dim = (int32_t)((const ds_cumulative_attrs *)attrs)->dim;
        aclScalar *d = ASC.aclCreateScalar(&dim, ACL_INT32);
        asc_keep(c, d, OBJ_SCALAR);
        CALL(k, FN(cT, const aclScalar *, int, oT), x, d, ACL_DTYPE[c->t[0].dtype], o);
        break;
    }
    case ASC_MATMUL: {
        int32_t dt = c->t[0].dtype;
        if (dt != DS_FLOAT16 && dt != DS_BFLOAT16 && dt != DS_FLOAT32) { /* aclnnBatchMatMul's dtypes */
            asc_matmul_products(c);
            break;
        }
        aclTensor *a = asc_in(c, 1), *b = asc_in(c, 2), *o = asc_out(c, 0);
        CALL(k, FN(cT, cT, oT, int8_t), a, b, o, (int8_t)0);
        break;
    }
    case ASC_CONV:
    case ASC_CONV_GRAD: {
        int32_t dt = c->t[0].dtype, which = w->conv == ASC_CONV ? 0 : 1 + w->arg;
        if (dt != DS_FLOAT16 && dt != DS_BFLOAT16 && dt != DS_FLOAT32) /* aclnnConvolution's dtypes */
            asc_conv_products(c, which);
        else
            conv_conv(c, k, which != 0);
        break;
    }
    case ASC_GATHER: {
        aclTensor *x = asc_in(c, 1), *i = asc_in(c, 2), *o = asc_out(c, 0);
        CALL(k, FN(cT, int64_t, cT, oT), x, ((const ds_gather_attrs *)attrs)->dim, i, o);
        break;
    }
    case ASC_SCATTER: {
        aclTensor *x = asc_in(c, 1), *i = asc_in(c, 2), *s = asc_in(c, 3), *o = asc_out(c, 0);
        CALL(k, FN(cT, int64_t, cT, cT, int64_t, oT), x, ((const ds_scatter_attrs *)attrs)->dim, i, s, (int64_t)w->arg, o);
        break;
    }
    case ASC_SCATTER_ADD: {
        aclTensor *x = asc_in(c, 1), *i = asc_in(c, 2), *s = asc_in(c, 3), *o = asc_out(c, 0);
        CALL(k, FN(cT, int64_t, cT, cT, oT), x, ((const ds_scatter_attrs *)attrs)->dim, i, s, o);
        break;
    }
    case ASC_INDEX_SELECT: {
        aclTensor *x = asc_in(c, 1), *i = asc_in(c, 2), *o = asc_out(c, 0);
        CALL(k, FN(cT, int64_t, cT, oT), x, ((const ds_index_select_attrs *)attrs)->dim, i, o);
        break;
    }
    case ASC_INDEX_ADD: {
        aclTensor *x = asc_in(c, 1), *i = asc_in(c, 2), *s = asc_in(c, 3), *o = asc_out(c, 0);
        aclScalar *alpha = IS_FLOAT(c->t[0].dtype) ? asc_scalar_f64(c, 1.0) : asc_scalar_i64(c, 1);
        CALL(k, FN(cT, int64_t, cT, cT, const aclScalar *, oT), x, ((const ds_index_add_attrs *)attrs)->dim, i, s, alpha, o);
        break;
    }
    case ASC_INDEX: {
        aclTensor *x = asc_in(c, 1);
        aclTensorList *l = list_of(c, 2, c->n - 2);
        aclTensor *o = asc_out(c, 0);
        CALL(k, FN(cT, const aclTensorList *, oT), x, l, o);
        break;
    }
    case ASC_INDEX_PUT: conv_index_put(c); break;
    case ASC_SORT: {
        const ds_sort_attrs *a = attrs;
        aclTensor *x = asc_in(c, 2), *v = asc_out(c, 0), *i = asc_out(c, 1);
        CALL(k, FN(cT, bool, int64_t, bool, oT, oT), x, true, a->dim, a->descending != 0, v, i);
        break;
    }
    case ASC_TOPK: {
        const ds_topk_attrs *a = attrs;
        aclTensor *x = asc_in(c, 2), *v = asc_out(c, 0), *i = asc_out(c, 1);
        CALL(k, FN(cT, int64_t, int64_t, bool, bool, oT, oT), x, a->k, a->dim, a->largest != 0, true, v, i);
        break;
    }
    case ASC_HOST_RANDOM: conv_random(c); break;
    case ASC_BERNOULLI: conv_bernoulli(c, k); break;
    default:
        c->status = asc_fail(DS_ERROR_NOT_IMPLEMENTED, "no calling convention %d", w->conv);
    }
}

ds_status asc_launch(int32_t device, const ds_op *op, const ds_tensor_desc *tensors, int32_t n, void *stream) {
    if (!op || op->id < 0 || op->id >= DS_N_OPS || op->id >= ASC_N_MAPPED || asc_way_of[op->id] < 0)
        return asc_fail(DS_ERROR_NOT_IMPLEMENTED, "op %d is not declared by deepseek-ascend", op ? op->id : -1);
    for (int i = 0; i < n; i++)
        if (tensors[i].dtype < 0 || tensors[i].dtype > DS_FLOAT64 || tensors[i].ndim > 16 || tensors[i].ndim < 0)
            return asc_fail(DS_ERROR_INVALID_ARGUMENT, "operand %d: dtype %d, %d dims", i, tensors[i].dtype, tensors[i].ndim);
    /* nothing to write: every output is empty */
    int32_t n_out = op->id == DS_OP_SORT || op->id == DS_OP_TOPK ? 2 : 1, empty = 1;
    for (int i = 0; i < n_out && i < n; i++)
        empty &= asc_numel(tensors[i].ndim, tensors[i].shape) == 0;
    if (empty)
        return DS_OK;
    ds_status st = asc_use_device(device);
    if (st)
        return st;
    asc_ctx ctx, *c = &ctx;
    memset(c, 0, sizeof ctx);
    c->device = device;
    c->stream = stream ? stream : asc_default_stream(device);
    c->op = op;
    c->t = tensors;
    c->n = n;
    dispatch(c);
    for (int i = 0; i < c->n_post; i++)
        CALL(ASC_OPERATOR_FLIP, FN(cT, const aclIntArray *, oT), c->post_src[i], c->post_dims[i], c->post_dst[i]);
    asc_destroy_all(c);
    for (int i = 0; i < c->n_scratch; i++)
        asc_scratch_release(device, c->scratch[i], c->scratch_bytes[i], c->stream);
    return c->status;
}
