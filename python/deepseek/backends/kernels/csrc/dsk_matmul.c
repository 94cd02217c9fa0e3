/* dsk_matmul.c: out (B, M, N) = a (B, M, K) @ b (B, K, N), any strides, as ops._launch_matmul:
 * the tiled kernel, or the direct one where the backend says so (CPU drivers). */
#include "dsk_planner.h"

int dsk_matmul(dsk_launch *L, dsk_tensor *out, dsk_tensor *a, dsk_tensor *b) {
    if (out->numel == 0) return DSK_DONE;
    int64_t B = out->shape[0], M = out->shape[1], N = out->shape[2], K = a->shape[2];
    int64_t v[15] = {M, N, K, a->offset, a->strides[0], a->strides[1], a->strides[2],
                     b->offset, b->strides[0], b->strides[1], b->strides[2],
                     out->offset, out->strides[0], out->strides[1], out->strides[2]};
    int64_t p[16];
    int np = dsk_make_params(v, 15, p);
    dsk_arg args[4] = {DSK_MEM(out), DSK_MEM(a), DSK_MEM(b), {sizeof(int64_t) * np, p}};
    if (L->hooks->direct_matmul(L->ctx)) {
        size_t g[3] = {dsk_roundup(N, DSK_MDW), (size_t)((M + DSK_MD - 1) / DSK_MD), (size_t)B};
        size_t l[3] = {DSK_MDW, 1, 1};
        return dsk_enqueue(L, a->dtype, DSK_k_matmul_direct, args, 4, 3, g, l);
    }
    size_t g[3] = {(size_t)((N + DSK_MT - 1) / DSK_MT * DSK_MW), (size_t)((M + DSK_MT - 1) / DSK_MT * DSK_MW),
                   (size_t)B};
    size_t l[3] = {DSK_MW, DSK_MW, 1};
    return dsk_enqueue(L, a->dtype, DSK_k_matmul, args, 4, 3, g, l);
}

int dsk_run_matmul(dsk_launch *L) {
    if (L->nt != 3) return DSK_PUNT;
    dsk_tensor *out = &L->t[0], *a = &L->t[1], *b = &L->t[2];
    if (out->ndim != 3 || a->ndim != 3 || b->ndim != 3) return DSK_PUNT;
    int64_t B = out->shape[0], M = out->shape[1], N = out->shape[2], K = a->shape[2];
    if (a->shape[0] != B || a->shape[1] != M || b->shape[0] != B || b->shape[1] != K || b->shape[2] != N)
        return DSK_PUNT;
    if (out->dtype != a->dtype || a->dtype != b->dtype || out->dtype == DS_BOOL || !dsk_supports(L, a->dtype))
        return DSK_PUNT;
    return dsk_matmul(L, out, a, b);
}
