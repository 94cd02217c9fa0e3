/* fake_cublas.c: a stand-in for libcublas.so.12 beside the fake driver (fake_cuda.c), built by
 * the tests. Device pointers of the fake driver are host addresses, so its GEMM really
 * computes, in column-major order as cuBLAS defines it, and the tests compare the product with
 * NumPy. float32, float64 and bfloat16 (accumulating in float32, like compute type 32F);
 * every call is appended to $FAKE_CUDA_LOG; FAKE_CUBLAS_FAIL=<status> makes the GEMM fail. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int cublasStatus_t;
static int handles;

static void logline(const char *line) {
    const char *path = getenv("FAKE_CUDA_LOG");
    FILE *f = path && *path ? fopen(path, "a") : NULL;
    if (f) fprintf(f, "%s\n", line), fclose(f);
}

cublasStatus_t cublasCreate_v2(void **handle) {
    *handle = (void *)(uintptr_t)(++handles);
    logline("cublasCreate_v2 -> 0");
    return 0;
}

cublasStatus_t cublasDestroy_v2(void *handle) { return handle ? 0 : 1; }

cublasStatus_t cublasSetStream_v2(void *handle, void *stream) { return handle ? 0 : 1; }

const char *cublasGetStatusString(cublasStatus_t s) {
    switch (s) {
    case 0: return "CUBLAS_STATUS_SUCCESS";
    case 7: return "CUBLAS_STATUS_INVALID_VALUE";
    case 13: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case 15: return "CUBLAS_STATUS_NOT_SUPPORTED";
    default: return "CUBLAS_STATUS_UNKNOWN";
    }
}

static double load(const void *p, int type, int64_t i) {
    if (type == 0) return ((const float *)p)[i];
    if (type == 1) return ((const double *)p)[i];
    uint32_t bits = (uint32_t)((const uint16_t *)p)[i] << 16; /* bfloat16 */
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static void store(void *p, int type, int64_t i, double v) {
    if (type == 0) ((float *)p)[i] = (float)v;
    else if (type == 1) ((double *)p)[i] = v;
    else {
        float f = (float)v;
        uint32_t bits;
        memcpy(&bits, &f, 4);
        bits += 0x7fff + ((bits >> 16) & 1); /* round to nearest even */
        ((uint16_t *)p)[i] = (uint16_t)(bits >> 16);
    }
}

cublasStatus_t cublasGemmStridedBatchedEx(void *handle, int transa, int transb, int m, int n, int k,
                                          const void *alpha, const void *A, int atype, int lda, long long sa,
                                          const void *B, int btype, int ldb, long long sb, const void *beta, void *C,
                                          int ctype, int ldc, long long sc, int batch, int compute, int algo) {
    char line[512];
    int rc = 0;
    const char *fail = getenv("FAKE_CUBLAS_FAIL");
    if (fail && *fail) rc = atoi(fail);
    if (!rc && (atype != btype || btype != ctype || !(atype == 0 || atype == 1 || atype == 14))) rc = 15;
    if (!rc && (m < 0 || n < 0 || k < 0 || lda < (transa ? k : m) || ldb < (transb ? n : k) || ldc < m)) rc = 7;
    int esize = atype == 0 ? 4 : atype == 1 ? 8 : 2;
    double al = atype == 1 ? *(const double *)alpha : *(const float *)alpha;
    double be = atype == 1 ? *(const double *)beta : *(const float *)beta;
    for (int p = 0; !rc && p < batch; p++) {
        const char *a = (const char *)A + p * sa * esize, *b = (const char *)B + p * sb * esize;
        char *c = (char *)C + p * sc * esize;
        for (int j = 0; j < n; j++)
            for (int i = 0; i < m; i++) {
                double acc = 0;
                for (int l = 0; l < k; l++) {
                    double x = load(a, atype, transa ? l + (int64_t)i * lda : i + (int64_t)l * lda);
                    double y = load(b, btype, transb ? j + (int64_t)l * ldb : l + (int64_t)j * ldb);
                    acc = atype == 1 ? acc + x * y : (double)(float)(acc + (double)(float)(x * y));
                }
                double old = be != 0 ? load(c, ctype, i + (int64_t)j * ldc) : 0;
                store(c, ctype, i + (int64_t)j * ldc, al * acc + be * old);
            }
    }
    snprintf(line, sizeof line,
             "cublasGemmStridedBatchedEx transa=%d transb=%d m=%d n=%d k=%d lda=%d ldb=%d ldc=%d strideA=%lld "
             "strideB=%lld strideC=%lld type=%d compute=%d batch=%d -> %d",
             transa, transb, m, n, k, lda, ldb, ldc, sa, sb, sc, atype, compute, batch, rc);
    logline(line);
    return rc;
}
