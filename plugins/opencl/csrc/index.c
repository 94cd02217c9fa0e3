/* index.c: gather, index_select (k_take) and scatter, scatter_add, index_add (k_scatter),
 * as deepseek_opencl/ops.py runs them. */
#include <string.h>

#include "launch.h"

/* x's strides with 0 at dim: x read at each output position, the index picking along dim */
static void strides_without(const ocl_tensor *x, int dim, int64_t *strides) {
    memcpy(strides, x->strides, sizeof(int64_t) * x->ndim);
    strides[dim] = 0;
}

int ocl_run_gather(ocl_launch *L) {
    if (L->nt != 3 || L->attrs == NULL) return OCL_PUNT;
    ocl_tensor *out = &L->t[0], *x = &L->t[1], *idx = &L->t[2], xv;
    int dim;
    if (idx->dtype != DS_INT64) return OCL_PUNT;
    OCL_ANSWER(ocl_dim(((const ds_gather_attrs *)L->attrs)->dim, x->ndim, &dim));
    ocl_lift(out);
    ocl_lift(x);
    ocl_lift(idx);
    if (out->ndim != x->ndim || x->ndim != idx->ndim || !ocl_same_shape(out, idx) || out->dtype != x->dtype)
        return OCL_PUNT;
    for (int d = 0; d < x->ndim; ++d)
        if (d != dim && idx->shape[d] > x->shape[d]) return OCL_PUNT;
    if (!ocl_supports(L, x->dtype)) return OCL_PUNT;
    int64_t xs[OCL_MAX_DIMS], sd = x->strides[dim], size = x->shape[dim];
    strides_without(x, dim, xs);
    OCL_ANSWER(ocl_view(x, out->shape, out->ndim, xs, x->offset, &xv));
    ocl_tensor *ts[3] = {out, &xv, idx};
    ocl_arg extra[2] = {OCL_LONG(sd), OCL_LONG(size)};
    return ocl_ew(L, x->dtype, OCL_k_take, ts, 3, out->shape, out->ndim, extra, 2);
}

int ocl_run_index_select(ocl_launch *L) {
    if (L->nt != 3 || L->attrs == NULL) return OCL_PUNT;
    ocl_tensor *out = &L->t[0], *x = &L->t[1], *idx = &L->t[2], xv, iv;
    int dim;
    if (idx->dtype != DS_INT64 || idx->ndim > 1) return OCL_PUNT;
    OCL_ANSWER(ocl_dim(((const ds_index_select_attrs *)L->attrs)->dim, x->ndim, &dim));
    ocl_lift(out);
    ocl_lift(x);
    ocl_lift(idx);
    if (out->ndim != x->ndim || out->dtype != x->dtype) return OCL_PUNT;
    for (int d = 0; d < x->ndim; ++d)
        if (out->shape[d] != (d == dim ? idx->shape[0] : x->shape[d])) return OCL_PUNT;
    if (!ocl_supports(L, x->dtype)) return OCL_PUNT;
    int64_t xs[OCL_MAX_DIMS], is[OCL_MAX_DIMS] = {0}, sd = x->strides[dim], size = x->shape[dim];
    strides_without(x, dim, xs);
    is[dim] = idx->strides[0];
    OCL_ANSWER(ocl_view(x, out->shape, out->ndim, xs, x->offset, &xv));
    OCL_ANSWER(ocl_view(idx, out->shape, out->ndim, is, idx->offset, &iv));
    ocl_tensor *ts[3] = {out, &xv, &iv};
    ocl_arg extra[2] = {OCL_LONG(sd), OCL_LONG(size)};
    return ocl_ew(L, x->dtype, OCL_k_take, ts, 3, out->shape, out->ndim, extra, 2);
}

/* out = x, then src scattered along dim at index (added for scatter_add, code 1) */
int ocl_run_scatter(ocl_launch *L) {
    if (L->nt != 4 || L->attrs == NULL) return OCL_PUNT;
    ocl_tensor *out = &L->t[0], *x = &L->t[1], *idx = &L->t[2], *src = &L->t[3];
    int dim;
    if (idx->dtype != DS_INT64 || !ocl_same_shape(out, x)) return OCL_PUNT;
    OCL_ANSWER(ocl_dim(((const ds_scatter_attrs *)L->attrs)->dim, x->ndim, &dim));
    ocl_lift(out);
    ocl_lift(x);
    ocl_lift(idx);
    ocl_lift(src);
    if (out->ndim != idx->ndim || idx->ndim != src->ndim || out->dtype != x->dtype || x->dtype != src->dtype)
        return OCL_PUNT;
    for (int d = 0; d < idx->ndim; ++d)
        if (idx->shape[d] > src->shape[d] || (d != dim && idx->shape[d] > out->shape[d])) return OCL_PUNT;
    if (!ocl_supports(L, x->dtype)) return OCL_PUNT;
    int64_t lines[OCL_MAX_DIMS], len = idx->shape[dim], sid = idx->strides[dim], ssd = src->strides[dim],
                                 osd = out->strides[dim], size = out->shape[dim];
    int32_t accumulate = L->code;
    memcpy(lines, idx->shape, sizeof(int64_t) * idx->ndim);
    lines[dim] = 1;
    OCL_ANSWER(ocl_copy(L, out, x));
    if (idx->numel == 0) return OCL_DONE;
    ocl_tensor *ts[3] = {out, idx, src};
    ocl_arg extra[6] = {OCL_LONG(len), OCL_LONG(sid), OCL_LONG(ssd), OCL_LONG(osd), OCL_LONG(size), OCL_INT(accumulate)};
    return ocl_ew(L, x->dtype, OCL_k_scatter, ts, 3, lines, idx->ndim, extra, 6);
}

/* out = x, then slice index[i] of out along dim += slice i of src */
int ocl_run_index_add(ocl_launch *L) {
    if (L->nt != 4 || L->attrs == NULL) return OCL_PUNT;
    ocl_tensor *out = &L->t[0], *x = &L->t[1], *idx = &L->t[2], *src = &L->t[3], iv;
    int dim;
    if (idx->dtype != DS_INT64 || !ocl_same_shape(out, x) || idx->ndim > 1) return OCL_PUNT;
    OCL_ANSWER(ocl_dim(((const ds_index_add_attrs *)L->attrs)->dim, x->ndim, &dim));
    ocl_lift(out);
    ocl_lift(x);
    ocl_lift(idx);
    ocl_lift(src);
    if (src->ndim != x->ndim || out->dtype != x->dtype || x->dtype != src->dtype) return OCL_PUNT;
    for (int d = 0; d < x->ndim; ++d)
        if (src->shape[d] != (d == dim ? idx->shape[0] : x->shape[d])) return OCL_PUNT;
    if (!ocl_supports(L, x->dtype)) return OCL_PUNT;
    int64_t lines[OCL_MAX_DIMS], zeros[OCL_MAX_DIMS] = {0}, len = idx->shape[0], sid = idx->strides[0],
                                 ssd = src->strides[dim], osd = out->strides[dim], size = out->shape[dim];
    int32_t accumulate = 1;
    memcpy(lines, x->shape, sizeof(int64_t) * x->ndim);
    lines[dim] = 1;
    OCL_ANSWER(ocl_copy(L, out, x));
    if (len == 0) return OCL_DONE;
    OCL_ANSWER(ocl_view(idx, lines, x->ndim, zeros, idx->offset, &iv));
    ocl_tensor *ts[3] = {out, &iv, src};
    ocl_arg extra[6] = {OCL_LONG(len), OCL_LONG(sid), OCL_LONG(ssd), OCL_LONG(osd), OCL_LONG(size), OCL_INT(accumulate)};
    return ocl_ew(L, x->dtype, OCL_k_scatter, ts, 3, lines, x->ndim, extra, 6);
}
