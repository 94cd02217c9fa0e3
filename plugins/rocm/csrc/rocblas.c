/* rocblas.c: matmul through rocBLAS when the user's ROCm has it (librocblas.so, dlopened like
 * the runtime): the GPU host layer maps a matmul's operands to one strided batched GEMM
 * (dsg_blas.c) and calls rocm_gemm with the device current; rocblas_gemm_strided_batched_ex
 * runs it on the launch's stream. float32 and float64 compute in their own precision; float16
 * and bfloat16 accumulate in float32. One rocBLAS handle per device, made on its first GEMM.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dsg_internal.h"
#include "rocm.h"

typedef int rocblas_status;
typedef struct _rocblas_handle *rocblas_handle;

enum { ROCBLAS_NONE = 111, ROCBLAS_TRANSPOSE = 112 };                         /* rocblas_operation */
enum { ROCBLAS_F16 = 150, ROCBLAS_F32 = 151, ROCBLAS_F64 = 152, ROCBLAS_BF16 = 168 }; /* rocblas_datatype */
enum { ROCBLAS_MEMORY_ERROR = 5 };

#define ROCBLAS_FUNCTIONS(X)                                                                              \
    X(rocblas_status, rocblas_create_handle, (rocblas_handle *))                                          \
    X(rocblas_status, rocblas_set_stream, (rocblas_handle, void *))                                       \
    X(rocblas_status, rocblas_gemm_strided_batched_ex,                                                    \
      (rocblas_handle, int, int, int, int, int, const void *, const void *, int, int, int64_t, const void *, \
       int, int, int64_t, const void *, const void *, int, int, int64_t, void *, int, int, int64_t, int, int, \
       int, int32_t, uint32_t))                                                                           \
    X(const char *, rocblas_status_to_string, (rocblas_status))

static struct {
#define ROCBLAS_FIELD(ret, name, params) ret(*name) params;
    ROCBLAS_FUNCTIONS(ROCBLAS_FIELD)
#undef ROCBLAS_FIELD
} rb;

static pthread_mutex_t blas_lock = PTHREAD_MUTEX_INITIALIZER;
static char blas_path[1024];
static rocblas_handle *handles; /* by device */
static int n_handles;

/* set by hip_vendor.c's rocm_set_gemm */
void rocm_set_gemm(ds_status (*gemm)(int32_t, const dsg_gemm *, void *));

static const char *status_text(rocblas_status s) {
    const char *t = rb.rocblas_status_to_string ? rb.rocblas_status_to_string(s) : NULL;
    return t ? t : "unknown rocblas_status";
}

static rocblas_handle handle_of(int32_t device, ds_status *st) {
    pthread_mutex_lock(&blas_lock);
    rocblas_handle h = device < n_handles ? handles[device] : NULL;
    if (!h) {
        rocblas_status s = rb.rocblas_create_handle(&h);
        if (s != 0) {
            *st = dsg_fail(s == ROCBLAS_MEMORY_ERROR ? DS_ERROR_OUT_OF_MEMORY : DS_ERROR,
                           "rocblas_create_handle on rocm:%d: %s", device, status_text(s));
            h = NULL;
        } else {
            handles[device] = h;
        }
    }
    pthread_mutex_unlock(&blas_lock);
    return h;
}

static ds_status rocm_gemm(int32_t device, const dsg_gemm *g, void *stream) {
    static const int types[10] = {0, 0, 0, 0, 0, 0, ROCBLAS_F16, ROCBLAS_BF16, ROCBLAS_F32, ROCBLAS_F64};
    if (device < 0 || device >= n_handles) return DS_ERROR_NOT_IMPLEMENTED;
    ds_status st = DS_OK;
    rocblas_handle h = handle_of(device, &st);
    if (!h) return st;
    int type = types[g->dtype], compute = g->dtype == DS_FLOAT64 ? ROCBLAS_F64 : ROCBLAS_F32;
    float alpha_f = 1.0f, beta_f = 0.0f;
    double alpha_d = 1.0, beta_d = 0.0;
    const void *alpha = compute == ROCBLAS_F64 ? (const void *)&alpha_d : (const void *)&alpha_f;
    const void *beta = compute == ROCBLAS_F64 ? (const void *)&beta_d : (const void *)&beta_f;
    const char *what = "rocblas_set_stream";
    rocblas_status s = rb.rocblas_set_stream(h, stream);
    if (s == 0) {
        void *c = (void *)(uintptr_t)g->c;
        what = "rocblas_gemm_strided_batched_ex";
        s = rb.rocblas_gemm_strided_batched_ex(
            h, g->trans_a ? ROCBLAS_TRANSPOSE : ROCBLAS_NONE, g->trans_b ? ROCBLAS_TRANSPOSE : ROCBLAS_NONE, g->m, g->n,
            g->k, alpha, (const void *)(uintptr_t)g->a, type, (int)g->lda, g->stride_a, (const void *)(uintptr_t)g->b,
            type, (int)g->ldb, g->stride_b, beta, c, type, (int)g->ldc, g->stride_c, c, type, (int)g->ldc, g->stride_c,
            g->batch, compute, 0 /* rocblas_gemm_algo_standard */, 0, 0);
    }
    if (s != 0)
        return dsg_fail(s == ROCBLAS_MEMORY_ERROR ? DS_ERROR_OUT_OF_MEMORY : DS_ERROR,
                        "%s(m=%d, n=%d, k=%d, batch=%d) for matmul on rocm:%d: %s", what, g->m, g->n, g->k, g->batch,
                        device, status_text(s));
    return DS_OK;
}

int32_t rocm_open_blas(const char *const *candidates, int32_t n) {
    int32_t count = 0;
    if (dsg_device_count(&count) != DS_OK) return DS_ERROR;
    for (int32_t i = 0; i < n; i++) {
        void *h = dlopen(candidates[i], RTLD_NOW | RTLD_LOCAL);
        if (!h) continue;
        int complete = 1;
#define ROCBLAS_RESOLVE(ret, name, params) complete = complete && (*(void **)&rb.name = dlsym(h, #name)) != NULL;
        ROCBLAS_FUNCTIONS(ROCBLAS_RESOLVE)
#undef ROCBLAS_RESOLVE
        if (!complete) {
            memset(&rb, 0, sizeof rb);
            dlclose(h);
            continue;
        }
        if (!(handles = calloc(count > 0 ? count : 1, sizeof *handles)))
            return dsg_fail(DS_ERROR_OUT_OF_MEMORY, "out of host memory");
        n_handles = count;
        snprintf(blas_path, sizeof blas_path, "%s", candidates[i]);
        rocm_set_gemm(rocm_gemm);
        return DS_OK;
    }
    return dsg_fail(DS_ERROR_NOT_IMPLEMENTED, "no rocBLAS among %d candidates", n);
}

const char *rocm_blas_path(void) { return blas_path; }
