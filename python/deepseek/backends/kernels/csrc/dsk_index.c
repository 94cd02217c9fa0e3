/* dsk_index.c: gather, index_select (k_take) and scatter, scatter_add, index_add (k_scatter). */
#include <string.h>

#include "dsk_planner.h"

/* x's strides with 0 at dim: x read at each output position, the index picking along dim */
static void dsk_strides_without(const dsk_tensor *x, int dim, int64_t *strides) {
    memcpy(strides, x->strides, sizeof(int64_t) * x->ndim);
    strides[dim] = 0;
}

int dsk_run_gather(dsk_launch *L) {
    if (L->nt != 3 || L->attrs == NULL) return DSK_PUNT;
    dsk_tensor *out = &L->t[0], *x = &L->t[1], *idx = &L->t[2], xv;
    int dim;
    if (idx->dtype != DS_INT64) return DSK_PUNT;
    DSK_ANSWER(dsk_dim(((const ds_gather_attrs *)L->attrs)->dim, x->ndim, &dim));
    dsk_lift(out);
    dsk_lift(x);
    dsk_lift(idx);
    if (out->ndim != x->ndim || x->ndim != idx->ndim || !dsk_same_shape(out, idx) || out->dtype != x->dtype)
        return DSK_PUNT;
    for (int d = 0; d < x->ndim; ++d)
        if (d != dim && idx->shape[d] > x->shape[d]) return DSK_PUNT;
    if (!dsk_supports(L, x->dtype)) return DSK_PUNT;
    int64_t xs[DSK_MAX_DIMS], sd = x->strides[dim], size = x->shape[dim];
    dsk_strides_without(x, dim, xs);
    DSK_ANSWER(dsk_view(x, out->shape, out->ndim, xs, x->offset, &xv));
    dsk_tensor *ts[3] = {out, &xv, idx};
    dsk_arg extra[2] = {DSK_LONG(sd), DSK_LONG(size)};
    return dsk_ew(L, x->dtype, DSK_k_take, ts, 3, out->shape, out->ndim, extra, 2);
}

int dsk_run_index_select(dsk_launch *L) {
    if (L->nt != 3 || L->attrs == NULL) return DSK_PUNT;
    dsk_tensor *out = &L->t[0], *x = &L->t[1], *idx = &L->t[2], xv, iv;
    int dim;
    if (idx->dtype != DS_INT64 || idx->ndim > 1) return DSK_PUNT;
    DSK_ANSWER(dsk_dim(((const ds_index_select_attrs *)L->attrs)->dim, x->ndim, &dim));
    dsk_lift(out);
    dsk_lift(x);
    dsk_lift(idx);
    if (out->ndim != x->ndim || out->dtype != x->dtype) return DSK_PUNT;
    for (int d = 0; d < x->ndim; ++d)
        if (out->shape[d] != (d == dim ? idx->shape[0] : x->shape[d])) return DSK_PUNT;
    if (!dsk_supports(L, x->dtype)) return DSK_PUNT;
    int64_t xs[DSK_MAX_DIMS], is[DSK_MAX_DIMS] = {0}, sd = x->strides[dim], size = x->shape[dim];
    dsk_strides_without(x, dim, xs);
    is[dim] = idx->strides[0];
    DSK_ANSWER(dsk_view(x, out->shape, out->ndim, xs, x->offset, &xv));
    DSK_ANSWER(dsk_view(idx, out->shape, out->ndim, is, idx->offset, &iv));
    dsk_tensor *ts[3] = {out, &xv, &iv};
    dsk_arg extra[2] = {DSK_LONG(sd), DSK_LONG(size)};
    return dsk_ew(L, x->dtype, DSK_k_take, ts, 3, out->shape, out->ndim, extra, 2);
}

/* out = x, then src scattered along dim at index (added for scatter_add, code 1) */
int dsk_run_scatter(dsk_launch *L) {
    if (L->nt != 4 || L->attrs == NULL) return DSK_PUNT;
    dsk_tensor *out = &L->t[0], *x = &L->t[1], *idx = &L->t[2], *src = &L->t[3];
    int dim;
    if (idx->dtype != DS_INT64 || !dsk_same_shape(out, x)) return DSK_PUNT;
    DSK_ANSWER(dsk_dim(((const ds_scatter_attrs *)L->attrs)->dim, x->ndim, &dim));
    dsk_lift(out);
    dsk_lift(x);
    dsk_lift(idx);
    dsk_lift(src);
    if (out->ndim != idx->ndim || idx->ndim != src->ndim || out->dtype != x->dtype || x->dtype != src->dtype)
        return DSK_PUNT;
    for (int d = 0; d < idx->ndim; ++d)
        if (idx->shape[d] > src->shape[d] || (d != dim && idx->shape[d] > out->shape[d])) return DSK_PUNT;
    if (!dsk_supports(L, x->dtype)) return DSK_PUNT;
    int64_t lines[DSK_MAX_DIMS], len = idx->shape[dim], sid = idx->strides[dim], ssd = src->strides[dim],
                                 osd = out->strides[dim], size = out->shape[dim];
    int32_t accumulate = L->code;
    memcpy(lines, idx->shape, sizeof(int64_t) * idx->ndim);
    lines[dim] = 1;
    DSK_ANSWER(dsk_copy(L, out, x));
    if (idx->numel == 0) return DSK_DONE;
    dsk_tensor *ts[3] = {out, idx, src};
    dsk_arg extra[6] = {DSK_LONG(len), DSK_LONG(sid), DSK_LONG(ssd), DSK_LONG(osd), DSK_LONG(size), DSK_INT(accumulate)};
    return dsk_ew(L, x->dtype, DSK_k_scatter, ts, 3, lines, idx->ndim, extra, 6);
}

/* out = x, then slice index[i] of out along dim += slice i of src */
int dsk_run_index_add(dsk_launch *L) {
    if (L->nt != 4 || L->attrs == NULL) return DSK_PUNT;
    dsk_tensor *out = &L->t[0], *x = &L->t[1], *idx = &L->t[2], *src = &L->t[3], iv;
    int dim;
    if (idx->dtype != DS_INT64 || !dsk_same_shape(out, x) || idx->ndim > 1) return DSK_PUNT;
    DSK_ANSWER(dsk_dim(((const ds_index_add_attrs *)L->attrs)->dim, x->ndim, &dim));
    dsk_lift(out);
    dsk_lift(x);
    dsk_lift(idx);
    dsk_lift(src);
    if (src->ndim != x->ndim || out->dtype != x->dtype || x->dtype != src->dtype) return DSK_PUNT;
    for (int d = 0; d < x->ndim; ++d)
        if (src->shape[d] != (d == dim ? idx->shape[0] : x->shape[d])) return DSK_PUNT;
    if (!dsk_supports(L, x->dtype)) return DSK_PUNT;
    int64_t lines[DSK_MAX_DIMS], zeros[DSK_MAX_DIMS] = {0}, len = idx->shape[0], sid = idx->strides[0],
                                 ssd = src->strides[dim], osd = out->strides[dim], size = out->shape[dim];
    int32_t accumulate = 1;
    memcpy(lines, x->shape, sizeof(int64_t) * x->ndim);
    lines[dim] = 1;
    DSK_ANSWER(dsk_copy(L, out, x));
    if (len == 0) return DSK_DONE;
    DSK_ANSWER(dsk_view(idx, lines, x->ndim, zeros, idx->offset, &iv));
    dsk_tensor *ts[3] = {out, &iv, src};
    dsk_arg extra[6] = {DSK_LONG(len), DSK_LONG(sid), DSK_LONG(ssd), DSK_LONG(osd), DSK_LONG(size), DSK_INT(accumulate)};
    return dsk_ew(L, x->dtype, DSK_k_scatter, ts, 3, lines, x->ndim, extra, 6);
}
