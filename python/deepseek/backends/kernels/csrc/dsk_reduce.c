/* reduce.c: sum, prod, amax, amin (k_red, and k_redf over partial results), argmax,
 * argmin and cumsum, cumprod. */
#include <string.h>

#include "dsk_planner.h"

/* code: index in kernels.REDUCE; reduces every dim where out has size 1 and x does not */
int dsk_run_reduce(dsk_launch *L) {
    if (L->nt != 2) return DSK_PUNT;
    dsk_tensor *out = &L->t[0], *x = &L->t[1];
    if (out->ndim != x->ndim || out->dtype != x->dtype) return DSK_PUNT;
    int64_t ishape[DSK_MAX_DIMS], istride[DSK_MAX_DIMS], nout = out->numel, nred, zero = 0;
    int nr = 0;
    for (int d = 0; d < x->ndim; ++d) {
        if (out->shape[d] == 1 && x->shape[d] != 1) {
            ishape[nr] = x->shape[d];
            istride[nr++] = x->strides[d];
        } else if (out->shape[d] != x->shape[d]) {
            return DSK_PUNT;
        }
    }
    if (!dsk_supports(L, x->dtype)) return DSK_PUNT;
    if (nout == 0) return DSK_DONE;
    DSK_ANSWER(dsk_prod(ishape, nr, &nred));
    if (nred == 0 && L->code >= 2) return DSK_PUNT; /* amax, amin of nothing */
    int64_t mo[DSK_META_LONGS(2)], mi[DSK_META_LONGS(1)], mf[DSK_META_LONGS(1)];
    const int64_t *so[2] = {out->strides, x->strides}, *si[1] = {istride}, *sf[1] = {out->strides};
    int64_t oo[2] = {out->offset, x->offset};
    DSK_ANSWER(dsk_make_meta(out->shape, out->ndim, 2, so, oo, mo));
    DSK_ANSWER(dsk_make_meta(ishape, nr, 1, si, &zero, mi));
    DSK_ANSWER(dsk_make_meta(out->shape, out->ndim, 1, sf, &out->offset, mf));
    /* few outputs over long rows: P work items per output reduce chunks into partial results */
    int64_t P = 1, chunk;
    if (nout < 1024 && nred >= 8192) {
        P = nred / 2048 < 4096 / nout ? nred / 2048 : 4096 / nout;
        if (P < 1) P = 1;
    }
    chunk = nred ? (nred + P - 1) / P : 0;
    if (chunk) P = (nred + chunk - 1) / chunk;
    dsk_tensor part = {0};
    if (P > 1) {
        DSK_ANSWER(L->hooks->temp_alloc(L->ctx, (uint64_t)(nout * P * L->reg->acc_size[x->dtype]), &part.mem));
    }
    int32_t code = L->code;
    dsk_arg args[10] = {DSK_MEM(out), DSK_MEM(x), DSK_MEM(&part), {sizeof mo, mo}, {sizeof mi, mi},
                        DSK_LONG(nout), DSK_LONG(nred), DSK_LONG(P), DSK_LONG(chunk), DSK_INT(code)};
    size_t g = dsk_roundup(nout * P, DSK_LS);
    int r = dsk_enqueue(L, x->dtype, DSK_k_red, args, 10, 1, &g, NULL);
    if (r == DSK_DONE && P > 1) {
        dsk_arg fargs[6] = {DSK_MEM(out), DSK_MEM(&part), {sizeof mf, mf}, DSK_LONG(nout), DSK_LONG(P), DSK_INT(code)};
        g = dsk_roundup(nout, DSK_LS);
        r = dsk_enqueue(L, x->dtype, DSK_k_redf, fargs, 6, 1, &g, NULL);
    }
    if (part.mem) L->hooks->temp_free(L->ctx, part.mem); /* the backend keeps it until the kernels finish */
    return r;
}

/* argmax, argmin (code 1): out is int64 with size 1 at dim */
int dsk_run_arg_reduce(dsk_launch *L) {
    if (L->nt != 2 || L->attrs == NULL) return DSK_PUNT;
    dsk_tensor *out = &L->t[0], *x = &L->t[1];
    int dim;
    if (out->dtype != DS_INT64) return DSK_PUNT;
    DSK_ANSWER(dsk_dim(((const ds_arg_reduce_attrs *)L->attrs)->dim, x->ndim, &dim));
    dsk_lift(out);
    dsk_lift(x);
    if (out->ndim != x->ndim) return DSK_PUNT;
    for (int d = 0; d < x->ndim; ++d)
        if (out->shape[d] != (d == dim ? 1 : x->shape[d])) return DSK_PUNT;
    if (!dsk_supports(L, x->dtype)) return DSK_PUNT;
    int64_t nout = out->numel, len = x->shape[dim], sx = x->strides[dim];
    if (nout == 0) return DSK_DONE;
    if (len == 0) return DSK_PUNT;
    int64_t mo[DSK_META_LONGS(2)], oo[2] = {out->offset, x->offset};
    const int64_t *so[2] = {out->strides, x->strides};
    DSK_ANSWER(dsk_make_meta(out->shape, out->ndim, 2, so, oo, mo));
    int32_t code = L->code;
    dsk_arg args[7] = {DSK_MEM(out), DSK_MEM(x), {sizeof mo, mo}, DSK_LONG(nout), DSK_LONG(len), DSK_LONG(sx),
                       DSK_INT(code)};
    size_t g = dsk_roundup(nout, DSK_LS);
    return dsk_enqueue(L, x->dtype, DSK_k_argreduce, args, 7, 1, &g, NULL);
}

/* cumsum, cumprod (code 1): one work item per line along dim */
int dsk_run_cumulative(dsk_launch *L) {
    if (L->nt != 2 || L->attrs == NULL) return DSK_PUNT;
    dsk_tensor *out = &L->t[0], *x = &L->t[1];
    int dim;
    if (!dsk_same_shape(out, x) || out->dtype != x->dtype) return DSK_PUNT;
    DSK_ANSWER(dsk_dim(((const ds_cumulative_attrs *)L->attrs)->dim, x->ndim, &dim));
    dsk_lift(out);
    dsk_lift(x);
    if (!dsk_supports(L, x->dtype)) return DSK_PUNT;
    if (x->numel == 0) return DSK_DONE;
    int64_t lines[DSK_MAX_DIMS], n, len = x->shape[dim], so_d = out->strides[dim], sx_d = x->strides[dim];
    memcpy(lines, x->shape, sizeof(int64_t) * x->ndim);
    lines[dim] = 1;
    DSK_ANSWER(dsk_prod(lines, x->ndim, &n));
    int64_t mo[DSK_META_LONGS(2)], oo[2] = {out->offset, x->offset};
    const int64_t *so[2] = {out->strides, x->strides};
    DSK_ANSWER(dsk_make_meta(lines, x->ndim, 2, so, oo, mo));
    int32_t code = L->code;
    dsk_arg args[8] = {DSK_MEM(out), DSK_MEM(x), {sizeof mo, mo}, DSK_LONG(n), DSK_LONG(len), DSK_LONG(so_d),
                       DSK_LONG(sx_d), DSK_INT(code)};
    size_t g = dsk_roundup(n, DSK_LS);
    return dsk_enqueue(L, x->dtype, DSK_k_cumulative, args, 8, 1, &g, NULL);
}
