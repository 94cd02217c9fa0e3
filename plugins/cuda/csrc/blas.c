/* blas.c: matmul through cuBLAS when it is installed (nvidia-cublas-cu12, or the system's
 * libcublas.so.12), dlopened like the driver. float32 computes in float32 unless
 * deepseek.backends.cuda.matmul.allow_tf32 is set (TensorFloat-32); float16 and bfloat16
 * accumulate in float32; float64 in float64. A matmul whose operands cuBLAS cannot take as
 * they are (no unit stride in a matrix, sizes past int) goes to the portable kernel.
 *
 * Row-major out = a @ b is column-major out^T = b^T a^T: cuBLAS gets b as its first operand
 * and a as its second, each transposed or not by which of its strides is 1.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "plugin.h"

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
            st = fail(DS_ERROR, "cuBLAS not loaded: %s", why ? why : path);
        }
#define BLAS_RESOLVE(ret, name, params) \
    if (st == DS_OK && !(*(void **)&blas.name = dlsym(h, #name))) st = fail(DS_ERROR, "%s has no %s", path, #name);
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

/* One matrix operand (rows x cols, strides sr, sc) as cuBLAS takes it: `op` and `ld` for its
 * column-major transpose; 0 when neither stride is usable. */
static int as_blas(int64_t rows, int64_t cols, int64_t sr, int64_t sc, int *op, int64_t *ld) {
    if (sc == 1 || cols == 1) { /* row-major: its memory is the column-major transpose */
        *op = OP_N;
        *ld = rows == 1 ? (cols > 1 ? cols : 1) : sr;
        return *ld >= (cols > 1 ? cols : 1);
    }
    if (sr == 1 || rows == 1) { /* column-major */
        *op = OP_T;
        *ld = cols == 1 ? (rows > 1 ? rows : 1) : sc;
        return *ld >= (rows > 1 ? rows : 1);
    }
    return 0;
}

static int fits_int(int64_t v) { return v >= 0 && v <= 0x7fffffff; }

/* DS_ERROR_NOT_IMPLEMENTED when cuBLAS is not there or cannot take these operands (the caller
 * then uses the portable kernel); else the call's status. */
ds_status cuda_blas_matmul(cu_device *d, int32_t device, const ds_tensor_desc *t, int32_t n, CUstream stream) {
    if (!blas_loaded || n != 3 || device < 0 || device >= 64) return DS_ERROR_NOT_IMPLEMENTED;
    const ds_tensor_desc *o = &t[0], *a = &t[1], *b = &t[2];
    if (o->ndim != 3 || a->ndim != 3 || b->ndim != 3 || o->dtype != a->dtype || a->dtype != b->dtype)
        return DS_ERROR_NOT_IMPLEMENTED;
    int type, compute, esize;
    switch (o->dtype) {
    case DS_FLOAT32: type = CUDA_R_32F, esize = 4, compute = allow_tf32 ? COMPUTE_32F_FAST_TF32 : COMPUTE_32F; break;
    case DS_FLOAT64: type = CUDA_R_64F, esize = 8, compute = COMPUTE_64F; break;
    case DS_FLOAT16: type = CUDA_R_16F, esize = 2, compute = COMPUTE_32F; break;
    case DS_BFLOAT16: type = CUDA_R_16BF, esize = 2, compute = COMPUTE_32F; break;
    default: return DS_ERROR_NOT_IMPLEMENTED;
    }
    int64_t B = o->shape[0], M = o->shape[1], N = o->shape[2], K = a->shape[2];
    if (a->shape[0] != B || a->shape[1] != M || b->shape[0] != B || b->shape[1] != K || b->shape[2] != N)
        return DS_ERROR_NOT_IMPLEMENTED;
    if (B == 0 || M == 0 || N == 0 || K == 0 || !fits_int(B) || !fits_int(M) || !fits_int(N) || !fits_int(K))
        return DS_ERROR_NOT_IMPLEMENTED; /* empty products are the kernel's (it writes the zeros) */
    int op_a, op_b, op_o;
    int64_t ld_a, ld_b, ld_o;
    if (!as_blas(M, K, a->strides[1], a->strides[2], &op_a, &ld_a) ||
        !as_blas(K, N, b->strides[1], b->strides[2], &op_b, &ld_b) ||
        !as_blas(M, N, o->strides[1], o->strides[2], &op_o, &ld_o) || op_o != OP_N || !fits_int(ld_a) ||
        !fits_int(ld_b) || !fits_int(ld_o) || a->strides[0] < 0 || b->strides[0] < 0 || o->strides[0] < 0 ||
        a->offset < 0 || b->offset < 0 || o->offset < 0)
        return DS_ERROR_NOT_IMPLEMENTED;
    if (B > 1 && o->strides[0] < M * ld_o) return DS_ERROR_NOT_IMPLEMENTED; /* batches of out overlap */
    pthread_mutex_lock(&blas_lock);
    ds_status st = DS_OK;
    if (!handles[device]) {
        cublasStatus_t s = blas.cublasCreate_v2(&handles[device]);
        if (s != 0) {
            handles[device] = NULL;
            st = fail(DS_ERROR, "cublasCreate_v2 on cuda:%d: %s", device, blas.cublasGetStatusString(s));
        }
    }
    cublasHandle_t h = handles[device];
    pthread_mutex_unlock(&blas_lock);
    if (st != DS_OK) return st;
    float one_f = 1.0f, zero_f = 0.0f;
    double one_d = 1.0, zero_d = 0.0;
    const void *alpha = compute == COMPUTE_64F ? (const void *)&one_d : (const void *)&one_f;
    const void *beta = compute == COMPUTE_64F ? (const void *)&zero_d : (const void *)&zero_f;
    const char *pa = (const char *)(uintptr_t)a->ptr + a->offset * esize;
    const char *pb = (const char *)(uintptr_t)b->ptr + b->offset * esize;
    char *po = (char *)(uintptr_t)o->ptr + o->offset * esize;
    char label[CUDA_MAX_LABEL];
    snprintf(label, sizeof label, "matmul (cublasGemmStridedBatchedEx, %lldx%lldx%lld, batch %lld)", (long long)M,
             (long long)N, (long long)K, (long long)B);
    snprintf(d->last_launch, sizeof d->last_launch, "%s", label);
    /* the handle is shared by the device's threads: stream and call under one lock */
    pthread_mutex_lock(&blas_lock);
    cublasStatus_t s = blas.cublasSetStream_v2(h, stream);
    if (s == 0)
        s = blas.cublasGemmStridedBatchedEx(h, op_b, op_a, (int)N, (int)M, (int)K, alpha, pb, type, (int)ld_b,
                                            B > 1 ? b->strides[0] : 0, pa, type, (int)ld_a, B > 1 ? a->strides[0] : 0,
                                            beta, po, type, (int)ld_o, B > 1 ? o->strides[0] : 0, (int)B, compute,
                                            GEMM_DEFAULT);
    pthread_mutex_unlock(&blas_lock);
    __atomic_add_fetch(&blas_calls, 1, __ATOMIC_RELAXED);
    if (s != 0) return fail(DS_ERROR, "%s on cuda:%d: %s", label, device, blas.cublasGetStatusString(s));
    return DS_OK;
}
