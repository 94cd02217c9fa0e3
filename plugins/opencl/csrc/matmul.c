/* matmul.c: out (B, M, N) = a (B, M, K) @ b (B, K, N), any strides, as ops._launch_matmul:
 * the tiled kernel, or on CPU drivers the direct one (DEEPSEEK_OPENCL_MATMUL forces one). */
#include <stdlib.h>
#include <string.h>

#include "launch.h"

int ocl_run_matmul(ocl_launch *L) {
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
    ocl_arg args[4] = {OCL_MEM(out), OCL_MEM(a), OCL_MEM(b), {sizeof(int64_t) * np, p}};
    /* read per launch, as ops.py reads os.environ; empty means the default */
    const char *variant = getenv("DEEPSEEK_OPENCL_MATMUL");
    if (variant && *variant ? strcmp(variant, "direct") == 0 : ocl_is_cpu(L)) {
        size_t g[3] = {ocl_roundup(N, OCL_MDW), (size_t)((M + OCL_MD - 1) / OCL_MD), (size_t)B};
        size_t l[3] = {OCL_MDW, 1, 1};
        return ocl_enqueue(L, a->dtype, OCL_k_matmul_direct, args, 4, 3, g, l);
    }
    size_t g[3] = {(size_t)((N + OCL_MT - 1) / OCL_MT * OCL_MW), (size_t)((M + OCL_MT - 1) / OCL_MT * OCL_MW),
                   (size_t)B};
    size_t l[3] = {OCL_MW, OCL_MW, 1};
    return ocl_enqueue(L, a->dtype, OCL_k_matmul, args, 4, 3, g, l);
}
