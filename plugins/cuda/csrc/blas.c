/* blas.c: matmul through cuBLAS when it is installed (nvidia-cublas-cu12, or the system's
 * libcublas.so.12), dlopened like the driver. float32 computes in float32 unless
 * deepseek.backends.cuda.matmul.allow_tf32 is set (TensorFloat-32); float16 and bfloat16
 * accumulate in float32; float64 in float64. A matmul whose operands cuBLAS cannot take as
 * they are (no unit stride in a matrix, sizes past int) goes to the portable kernel: the GPU
 * host layer decides that and maps the operands (dsg_blas.c); this file runs the GEMM it hands
 * over (cublasGemmStridedBatchedEx on the launch's stream).
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "cu_api.h"
#include "dsg_internal.h"

typedef int cublasStatus_t;
typedef struct cublasContext *cublasHandle_t;

#define BLAS_FUNCTIONS(X)                                                                                  \
    X(cublasStatus_t, cublasCreate_v2, (cublasHandle_t *))                                                 \
    X(cublasStatus_t, cublasSetStream_v2, (cublasHandle_t, CUstream))                                      \
    X(cublasStatus_t, cublasGemmStridedBatchedEx,                                                          \
      (cublasHandle_t, int, int, int, int, int, const void *, const void *, int, int, long long, const void *, \
       int, int, long long, const void *, void *, int, int, long long, int, int, int))                     \
    X(const char *, cublasGetStatusString, (cublasStatus_t))

static struct {
#define BLAS_FIELD(ret, name, params) ret(*name) params;
    BLAS_FUNCTIONS(BLAS_FIELD)
#undef BLAS_FIELD
} blas;

static int blas_loaded, allow_tf32;
static int64_t blas_calls;
static pthread_mutex_t blas_lock = PTHREAD_MUTEX_INITIALIZER;
static cublasHandle_t handles[64]; /* by device, created on first use */

enum { CUDA_R_32F = 0, CUDA_R_64F = 1, CUDA_R_16F = 2, CUDA_R_16BF = 14 };
enum { COMPUTE_32F = 68, COMPUTE_32F_FAST_TF32 = 77, COMPUTE_64F = 70, OP_N = 0, OP_T = 1, GEMM_DEFAULT = -1 };

int32_t cuda_open_cublas(const char *path) {
    pthread_mutex_lock(&blas_lock);
    ds_status st = DS_OK;
    if (!blas_loaded) {
        void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        if (!h) {
            const char *why = dlerror();
            st = dsg_fail(DS_ERROR, "cuBLAS not loaded: %s", why ? why : path);
        }
#define BLAS_RESOLVE(ret, name, params) \
    if (st == DS_OK && !(*(void **)&blas.name = dlsym(h, #name))) st = dsg_fail(DS_ERROR, "%s has no %s", path, #name);
        BLAS_FUNCTIONS(BLAS_RESOLVE)
#undef BLAS_RESOLVE
        if (st == DS_OK)
            blas_loaded = 1;
        else if (h)
            dlclose(h);
    }
    pthread_mutex_unlock(&blas_lock);
    return st;
}

int32_t cuda_cublas_loaded(void) { return blas_loaded; }
void cuda_set_allow_tf32(int32_t on) { __atomic_store_n(&allow_tf32, on != 0, __ATOMIC_RELAXED); }
int64_t cuda_cublas_calls(void) { return __atomic_load_n(&blas_calls, __ATOMIC_RELAXED); }

/* cuBLAS's half of the GPU host layer's gemm hook: the layer maps a matmul's operands to one
 * column-major strided batched GEMM (dsg_blas.c) and calls this with the device current.
 * DS_ERROR_NOT_IMPLEMENTED while cuBLAS is not loaded (the portable kernel runs instead). */
ds_status cuda_blas_gemm(int32_t device, const dsg_gemm *g, void *stream) {
    if (!blas_loaded || device < 0 || device >= 64) return DS_ERROR_NOT_IMPLEMENTED;
    int type, compute;
    switch (g->dtype) {
    case DS_FLOAT32: type = CUDA_R_32F, compute = allow_tf32 ? COMPUTE_32F_FAST_TF32 : COMPUTE_32F; break;
    case DS_FLOAT64: type = CUDA_R_64F, compute = COMPUTE_64F; break;
    case DS_FLOAT16: type = CUDA_R_16F, compute = COMPUTE_32F; break;
    case DS_BFLOAT16: type = CUDA_R_16BF, compute = COMPUTE_32F; break;
    default: return DS_ERROR_NOT_IMPLEMENTED;
    }
    pthread_mutex_lock(&blas_lock);
    ds_status st = DS_OK;
    if (!handles[device]) {
        cublasStatus_t s = blas.cublasCreate_v2(&handles[device]);
        if (s != 0) {
            handles[device] = NULL;
            st = dsg_fail(DS_ERROR, "cublasCreate_v2 on cuda:%d: %s", device, blas.cublasGetStatusString(s));
        }
    }
    cublasHandle_t h = handles[device];
    pthread_mutex_unlock(&blas_lock);
    if (st != DS_OK) return st;
    float one_f = 1.0f, zero_f = 0.0f;
    double one_d = 1.0, zero_d = 0.0;
    const void *alpha = compute == COMPUTE_64F ? (const void *)&one_d : (const void *)&one_f;
    const void *beta = compute == COMPUTE_64F ? (const void *)&zero_d : (const void *)&zero_f;
    /* the handle is shared by the device's threads: stream and call under one lock */
    pthread_mutex_lock(&blas_lock);
    cublasStatus_t s = blas.cublasSetStream_v2(h, stream);
    if (s == 0)
        s = blas.cublasGemmStridedBatchedEx(h, g->trans_a ? OP_T : OP_N, g->trans_b ? OP_T : OP_N, g->m, g->n, g->k,
                                            alpha, (const void *)(uintptr_t)g->a, type, (int)g->lda, g->stride_a,
                                            (const void *)(uintptr_t)g->b, type, (int)g->ldb, g->stride_b, beta,
                                            (void *)(uintptr_t)g->c, type, (int)g->ldc, g->stride_c, g->batch, compute,
                                            GEMM_DEFAULT);
    pthread_mutex_unlock(&blas_lock);
    __atomic_add_fetch(&blas_calls, 1, __ATOMIC_RELAXED);
    /* named as the row-major product out (M x N) = a (M x K) @ b (K x N): M is the GEMM's n */
    if (s != 0)
        return dsg_fail(DS_ERROR, "matmul (cublasGemmStridedBatchedEx, %dx%dx%d, batch %d) on cuda:%d: %s", g->n, g->m,
                        g->k, g->batch, device, blas.cublasGetStatusString(s));
    return DS_OK;
}
