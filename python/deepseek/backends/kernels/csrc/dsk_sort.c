/* dsk_sort.c: advanced indexing (index, index_put with k index tensors) and sort, topk, as
 * deepseek_opencl/ops.py runs them: lines up to SORT_RANK_MAX long are sorted by stable rank in
 * one kernel; longer ones by rank in blocks of SORT_BLOCK, then merge passes over (key, index)
 * pairs in scratch buffers. */
#include <string.h>

#include "dsk_planner.h"

/* The k index tensors (int64, of one shape) of index and index_put, from L->t[first]. */
static int dsk_indices(dsk_launch *L, int first, int *k) {
    *k = L->nt - first;
    if (*k < 1 || *k > DSK_MAXT - 2) return DSK_PUNT;
    for (int i = first; i < L->nt; ++i)
        if (L->t[i].dtype != DS_INT64 || !dsk_same_shape(&L->t[i], &L->t[first])) return DSK_PUNT;
    return DSK_DONE;
}

/* out = x[i0, ..., ik-1]: out has the index shape I, then x's dims after the k indexed ones */
int dsk_run_index(dsk_launch *L) {
    int k;
    if (L->nt < 3) return DSK_PUNT;
    dsk_tensor *out = &L->t[0], *x = &L->t[1];
    DSK_ANSWER(dsk_indices(L, 2, &k));
    const dsk_tensor *i0 = &L->t[2];
    int ni = i0->ndim, rest = x->ndim - k;
    if (k > x->ndim || out->ndim != ni + rest || out->dtype != x->dtype) return DSK_PUNT;
    for (int d = 0; d < out->ndim; ++d)
        if (out->shape[d] != (d < ni ? i0->shape[d] : x->shape[k + d - ni])) return DSK_PUNT;
    if (!dsk_supports(L, x->dtype)) return DSK_PUNT;
    int64_t xs[DSK_MAX_DIMS] = {0}, is[DSK_MAXT - 2][DSK_MAX_DIMS], v[8] = {0}, p[8];
    memcpy(xs + ni, x->strides + k, sizeof(int64_t) * rest);
    dsk_tensor xv, iv[DSK_MAXT - 2], *ts[DSK_MAXT];
    DSK_ANSWER(dsk_view(x, out->shape, out->ndim, xs, x->offset, &xv));
    ts[0] = out;
    ts[1] = &xv;
    for (int m = 0; m < k; ++m) {
        const dsk_tensor *id = &L->t[2 + m];
        memset(is[m], 0, sizeof is[m]);
        memcpy(is[m], id->strides, sizeof(int64_t) * ni);
        DSK_ANSWER(dsk_view(id, out->shape, out->ndim, is[m], id->offset, &iv[m]));
        ts[2 + m] = &iv[m];
        v[m] = x->strides[m];
        v[k + m] = x->shape[m];
    }
    int np = dsk_make_params(v, 2 * k, p);
    dsk_arg extra = {sizeof(int64_t) * np, p};
    return dsk_ew(L, x->dtype, DSK_k_index1 + (k - 1), ts, 2 + k, out->shape, out->ndim, &extra, 1);
}

/* out = x, then out[i0, ..., ik-1] = values (added with accumulate) */
int dsk_run_index_put(dsk_launch *L) {
    int k;
    if (L->nt < 4 || L->attrs == NULL) return DSK_PUNT;
    dsk_tensor *out = &L->t[0], *x = &L->t[1], *val = &L->t[2];
    DSK_ANSWER(dsk_indices(L, 3, &k));
    const dsk_tensor *i0 = &L->t[3];
    int ni = i0->ndim, rest = x->ndim - k;
    if (!dsk_same_shape(out, x) || k > x->ndim || val->ndim != ni + rest) return DSK_PUNT;
    if (out->dtype != x->dtype || x->dtype != val->dtype) return DSK_PUNT;
    for (int d = 0; d < val->ndim; ++d)
        if (val->shape[d] != (d < ni ? i0->shape[d] : x->shape[k + d - ni])) return DSK_PUNT;
    if (!dsk_supports(L, x->dtype)) return DSK_PUNT;
    int64_t nrest, nI, zero = 0;
    DSK_ANSWER(dsk_prod(x->shape + k, rest, &nrest));
    DSK_ANSWER(dsk_prod(i0->shape, ni, &nI));
    /* every block before the first enqueue, so that a punt leaves nothing behind */
    int64_t mo[DSK_META_LONGS(2)], mi[DSK_META_LONGS(DSK_MAXT - 1)], v[8] = {0}, p[8], offs[DSK_MAXT];
    const int64_t *so[2] = {out->strides + k, val->strides + ni}, *si[DSK_MAXT];
    int64_t oo[2] = {out->offset, val->offset};
    si[0] = val->strides;
    offs[0] = zero;
    for (int m = 0; m < k; ++m) {
        si[1 + m] = L->t[3 + m].strides;
        offs[1 + m] = L->t[3 + m].offset;
        v[m] = out->strides[m];
        v[k + m] = out->shape[m];
    }
    int32_t accumulate = ((const ds_index_put_attrs *)L->attrs)->accumulate != 0;
    if (nrest > 0 && nI > 0) {
        DSK_ANSWER(dsk_make_meta(x->shape + k, rest, 2, so, oo, mo));
        DSK_ANSWER(dsk_make_meta(i0->shape, ni, k + 1, si, offs, mi));
    }
    int np = dsk_make_params(v, 2 * k, p);
    DSK_ANSWER(dsk_copy(L, out, x));
    if (nrest == 0 || nI == 0) return DSK_DONE;
    dsk_arg args[DSK_MAX_ARGS];
    int na = 0;
    args[na++] = DSK_MEM(out);
    args[na++] = DSK_MEM(val);
    for (int m = 0; m < k; ++m) args[na++] = DSK_MEM(&L->t[3 + m]);
    args[na++] = (dsk_arg){sizeof(int64_t) * DSK_META_LONGS(2), mo};
    args[na++] = (dsk_arg){sizeof(int64_t) * DSK_META_LONGS(k + 1), mi};
    args[na++] = DSK_LONG(nrest);
    args[na++] = DSK_LONG(nI);
    args[na++] = (dsk_arg){sizeof(int64_t) * np, p};
    args[na++] = DSK_INT(accumulate);
    size_t g = dsk_roundup(nrest, DSK_LS);
    return dsk_enqueue(L, x->dtype, DSK_k_index_put1 + (k - 1), args, na, 1, &g, NULL);
}

/* Long lines: rank in blocks, merge passes, then the first k of each line written out. */
static int dsk_merge_sort(dsk_launch *L, dsk_tensor *vo, dsk_tensor *io, dsk_tensor *x, int dim, const int64_t *lines,
                          int64_t nl, int64_t n, int64_t k, int32_t desc) {
    int64_t total = nl * n, mx[DSK_META_LONGS(1)], mo[DSK_META_LONGS(2)];
    const int64_t *sx[1] = {x->strides}, *so[2] = {vo->strides, io->strides};
    int64_t oo[2] = {vo->offset, io->offset};
    DSK_ANSWER(dsk_make_meta(lines, x->ndim, 1, sx, &x->offset, mx));
    DSK_ANSWER(dsk_make_meta(lines, x->ndim, 2, so, oo, mo));
    dsk_tensor keys[2] = {{0}}, idx[2] = {{0}};
    int r = DSK_DONE;
    for (int b = 0; b < 2 && r == DSK_DONE; ++b) {
        r = dsk_temp(L, total * dsk_compute_size[x->dtype], &keys[b], x->dtype);
        if (r == DSK_DONE) r = dsk_temp(L, total * 8, &idx[b], DS_INT64);
    }
    int64_t block = DSK_SORT_BLOCK, sxd = x->strides[dim];
    size_t g = dsk_roundup(total, DSK_LS);
    if (r == DSK_DONE) {
        dsk_arg args[9] = {DSK_MEM(&keys[0]), DSK_MEM(&idx[0]), DSK_MEM(x), {sizeof mx, mx}, DSK_LONG(nl),
                           DSK_LONG(n), DSK_LONG(sxd), DSK_LONG(block), DSK_INT(desc)};
        r = dsk_enqueue(L, x->dtype, DSK_k_sort_block, args, 9, 1, &g, NULL);
    }
    int cur = 0;
    for (int64_t w = DSK_SORT_BLOCK; w < n && r == DSK_DONE; w *= 2, cur = 1 - cur) {
        dsk_arg args[8] = {DSK_MEM(&keys[1 - cur]), DSK_MEM(&idx[1 - cur]), DSK_MEM(&keys[cur]), DSK_MEM(&idx[cur]),
                           DSK_LONG(nl), DSK_LONG(n), DSK_LONG(w), DSK_INT(desc)};
        r = dsk_enqueue(L, x->dtype, DSK_k_sort_merge, args, 8, 1, &g, NULL);
    }
    if (r == DSK_DONE) {
        int64_t svo = vo->strides[dim], sio = io->strides[dim];
        dsk_arg args[10] = {DSK_MEM(vo), DSK_MEM(io), DSK_MEM(&keys[cur]), DSK_MEM(&idx[cur]), {sizeof mo, mo},
                            DSK_LONG(nl), DSK_LONG(n), DSK_LONG(k), DSK_LONG(svo), DSK_LONG(sio)};
        size_t gk = dsk_roundup(nl * k, DSK_LS);
        r = dsk_enqueue(L, x->dtype, DSK_k_sort_final, args, 10, 1, &gk, NULL);
    }
    for (int b = 0; b < 2; ++b) {
        dsk_release(L, &keys[b]);
        dsk_release(L, &idx[b]);
    }
    return r;
}

/* sort (code 0) and topk (code 1): values vo and int64 indices io of the first k along dim */
int dsk_run_sort(dsk_launch *L) {
    if (L->nt != 3 || L->attrs == NULL) return DSK_PUNT;
    dsk_tensor *vo = &L->t[0], *io = &L->t[1], *x = &L->t[2];
    int64_t d, k = -1;
    int32_t desc;
    if (L->code == 0) {
        const ds_sort_attrs *a = L->attrs;
        d = a->dim;
        desc = a->descending != 0;
    } else {
        const ds_topk_attrs *a = L->attrs;
        k = a->k;
        d = a->dim;
        desc = a->largest != 0;
    }
    int dim;
    if (io->dtype != DS_INT64) return DSK_PUNT;
    DSK_ANSWER(dsk_dim(d, x->ndim, &dim));
    dsk_lift(vo);
    dsk_lift(io);
    dsk_lift(x);
    int64_t n = x->shape[dim];
    if (L->code == 0) k = n;
    if (k < 0 || k > n || vo->ndim != x->ndim || io->ndim != x->ndim || vo->dtype != x->dtype) return DSK_PUNT;
    for (int i = 0; i < x->ndim; ++i) {
        int64_t want = i == dim ? k : x->shape[i];
        if (vo->shape[i] != want || io->shape[i] != want) return DSK_PUNT;
    }
    if (!dsk_supports(L, x->dtype)) return DSK_PUNT;
    int64_t lines[DSK_MAX_DIMS], nl;
    memcpy(lines, x->shape, sizeof(int64_t) * x->ndim);
    lines[dim] = 1;
    DSK_ANSWER(dsk_prod(lines, x->ndim, &nl));
    if (nl == 0 || n == 0 || k == 0) return DSK_DONE;
    if (n > DSK_SORT_RANK_MAX) return dsk_merge_sort(L, vo, io, x, dim, lines, nl, n, k, desc);
    int64_t m[DSK_META_LONGS(3)], oo[3] = {vo->offset, io->offset, x->offset};
    const int64_t *so[3] = {vo->strides, io->strides, x->strides};
    DSK_ANSWER(dsk_make_meta(lines, x->ndim, 3, so, oo, m));
    int64_t svo = vo->strides[dim], sio = io->strides[dim], sxd = x->strides[dim];
    dsk_arg args[11] = {DSK_MEM(vo), DSK_MEM(io), DSK_MEM(x), {sizeof m, m}, DSK_LONG(nl), DSK_LONG(n), DSK_LONG(svo),
                        DSK_LONG(sio), DSK_LONG(sxd), DSK_LONG(k), DSK_INT(desc)};
    size_t g = dsk_roundup(nl * n, DSK_LS);
    return dsk_enqueue(L, x->dtype, DSK_k_sort, args, 11, 1, &g, NULL);
}
