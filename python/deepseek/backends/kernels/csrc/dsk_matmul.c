/* dsk_matmul.c: out (B, M, N) = a (B, M, K) @ b (B, K, N), any strides, as the Python planner's
 * _launch_matmul: the tiled kernel, or the direct one where the backend says so (CPU drivers);
 * one launch per block of at most DSK_MAX_GROUPS_YZ batches and work-groups of rows (the grid
 * limit of CUDA and HIP on axes 1 and 2). */
#include "dsk_planner.h"

int dsk_matmul(dsk_launch *L, dsk_tensor *out, dsk_tensor *a, dsk_tensor *b) {
    if (out->numel == 0) return DSK_DONE;
    int64_t B = out->shape[0], M = out->shape[1], N = out->shape[2], K = a->shape[2];
    int direct = L->hooks->direct_matmul(L->ctx);
    int64_t rows = (int64_t)(direct ? DSK_MD : DSK_MT) * DSK_MAX_GROUPS_YZ;
    int r = DSK_DONE;
    /* the offsets stay inside the operands, which were checked against their buffers */
    for (int64_t b0 = 0; b0 < B && r == DSK_DONE; b0 += DSK_MAX_GROUPS_YZ) {
        for (int64_t m0 = 0; m0 < M && r == DSK_DONE; m0 += rows) {
            int64_t nb = B - b0 < DSK_MAX_GROUPS_YZ ? B - b0 : DSK_MAX_GROUPS_YZ, nm = M - m0 < rows ? M - m0 : rows;
            int64_t v[15] = {nm, N, K, a->offset + b0 * a->strides[0] + m0 * a->strides[1], a->strides[0],
                             a->strides[1], a->strides[2], b->offset + b0 * b->strides[0], b->strides[0],
                             b->strides[1], b->strides[2], out->offset + b0 * out->strides[0] + m0 * out->strides[1],
                             out->strides[0], out->strides[1], out->strides[2]};
            int64_t p[16];
            int np = dsk_make_params(v, 15, p);
            dsk_arg args[4] = {DSK_MEM(out), DSK_MEM(a), DSK_MEM(b), {sizeof(int64_t) * np, p}};
            if (direct) {
                size_t g[3] = {dsk_roundup(N, DSK_MDW), (size_t)((nm + DSK_MD - 1) / DSK_MD), (size_t)nb};
                size_t l[3] = {DSK_MDW, 1, 1};
                r = dsk_enqueue(L, a->dtype, DSK_k_matmul_direct, args, 4, 3, g, l);
            } else {
                size_t g[3] = {(size_t)((N + DSK_MT - 1) / DSK_MT * DSK_MW),
                               (size_t)((nm + DSK_MT - 1) / DSK_MT * DSK_MW), (size_t)nb};
                size_t l[3] = {DSK_MW, DSK_MW, 1};
                r = dsk_enqueue(L, a->dtype, DSK_k_matmul, args, 4, 3, g, l);
            }
        }
    }
    return r;
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
