/* fake_rocblas.c: a stand-in for librocblas.so beside the fake HIP runtime (fake_hip.c), built
 * by the tests and named by DEEPSEEK_ROCM_ROCBLAS. Device memory is host memory there, so the
 * GEMM really runs here, on the CPU in double precision, and the tests compare its results
 * with NumPy: what is checked is the plugin's mapping of a matmul's operands to BLAS's
 * column-major strided batched GEMM. Calls go to the fake runtime's log (FAKE_HIP_LOG) and take
 * its injections (FAKE_HIP_FAIL), e.g. "rocblas_gemm_strided_batched_ex:6".
 */
#define _GNU_SOURCE
#define FG_ENV "FAKE_HIP_"
#include "fake_gpu.c"

typedef int rocblas_status;
typedef struct handle { void *stream; } handle;

enum { NONE = 111, TRANSPOSE = 112, F16 = 150, F32 = 151, F64 = 152, BF16 = 168 };

static const char *const STATUS[] = {"rocblas_status_success", "rocblas_status_invalid_handle",
                                     "rocblas_status_not_implemented", "rocblas_status_invalid_pointer",
                                     "rocblas_status_invalid_size", "rocblas_status_memory_error",
                                     "rocblas_status_internal_error"};

#define ENTER(name) fg_lock(); int rc = fg_injected(name);
#define LEAVE(fmt, ...)                                       \
    fg_log("%s " fmt " -> %d", __func__, ##__VA_ARGS__, rc); \
    fg_unlock();                                              \
    return rc;

static int stream_id(void *s) { return s ? *(int *)s : 0; } /* fake_hip.c's streams start with their id */

rocblas_status rocblas_create_handle(handle **out) {
    ENTER("rocblas_create_handle");
    handle *h = NULL;
    if (!rc && !(h = calloc(1, sizeof *h))) rc = 5;
    if (!rc) *out = h;
    LEAVE("handle=%p", (void *)h);
}

rocblas_status rocblas_set_stream(handle *h, void *stream) {
    ENTER("rocblas_set_stream");
    if (!rc && !h) rc = 1;
    if (!rc) h->stream = stream;
    LEAVE("stream=%d", stream_id(stream));
}

const char *rocblas_status_to_string(rocblas_status s) {
    return s >= 0 && s < (int)(sizeof STATUS / sizeof *STATUS) ? STATUS[s] : "rocblas_status_unknown";
}

static double half_to_double(uint16_t h) {
    int e = (h >> 10) & 31, m = h & 1023;
    double v = e == 0    ? m / 1024.0 / 16384.0 /* subnormal: m * 2^-24 */
               : e == 31 ? (m ? 0.0 / 0.0 : 1.0 / 0.0)
                         : (1 + m / 1024.0) * (double)(1 << e) / 32768.0;
    return h & 0x8000 ? -v : v;
}

static uint16_t float_to_half(float f) { /* round to nearest even, as the kernels store */
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000, e = (x >> 23) & 255, m = x & 0x7FFFFF;
    if (e == 255) return sign | 0x7C00 | (m ? 0x200 : 0);
    int he = (int)e - 127 + 15;
    if (he >= 31) return sign | 0x7C00;
    if (he <= 0) {
        if (he < -10) return sign;
        m |= 0x800000;
        int shift = 14 - he;
        uint32_t q = m >> shift, rest = m & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rest > half || (rest == half && (q & 1))) q++;
        return sign | q;
    }
    uint32_t q = (he << 10) | (m >> 13), rest = m & 0x1FFF;
    if (rest > 0x1000 || (rest == 0x1000 && (q & 1))) q++;
    return sign | q;
}

static double load(const void *base, int type, int64_t i) {
    if (type == F32) return ((const float *)base)[i];
    if (type == F64) return ((const double *)base)[i];
    uint16_t h = ((const uint16_t *)base)[i];
    if (type == F16) return half_to_double(h);
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static void store(void *base, int type, int64_t i, double v) {
    if (type == F64) { ((double *)base)[i] = v; return; }
    float f = (float)v;
    if (type == F32) { ((float *)base)[i] = f; return; }
    if (type == F16) { ((uint16_t *)base)[i] = float_to_half(f); return; }
    uint32_t bits;
    memcpy(&bits, &f, 4);
    bits += 0x7FFF + ((bits >> 16) & 1); /* bfloat16: round to nearest even */
    ((uint16_t *)base)[i] = (uint16_t)(bits >> 16);
}

rocblas_status rocblas_gemm_strided_batched_ex(handle *h, int ta, int tb, int m, int n, int k, const void *alpha,
                                               const void *a, int a_type, int lda, int64_t sa, const void *b,
                                               int b_type, int ldb, int64_t sb, const void *beta, const void *c,
                                               int c_type, int ldc, int64_t sc, void *d, int d_type, int ldd,
                                               int64_t sd, int batch, int compute, int algo, int32_t solution,
                                               uint32_t flags) {
    ENTER("rocblas_gemm_strided_batched_ex");
    int valid = (a_type == F16 || a_type == BF16 || a_type == F32 || a_type == F64) && b_type == a_type &&
                c_type == a_type && d_type == a_type && compute == (a_type == F64 ? F64 : F32);
    if (!rc && !h) rc = 1;
    if (!rc && (!valid || (ta != NONE && ta != TRANSPOSE) || (tb != NONE && tb != TRANSPOSE))) rc = 2;
    if (!rc && (m < 0 || n < 0 || k < 0 || batch < 0 || lda < (ta == NONE ? m : k) || lda < 1 ||
                ldb < (tb == NONE ? k : n) || ldb < 1 || ldc < m || ldd < m || ldc < 1)) rc = 4;
    if (!rc && (!a || !b || !d || !alpha || !beta)) rc = 3;
    double al = 0, be = 0;
    if (!rc) al = compute == F64 ? *(const double *)alpha : *(const float *)alpha;
    if (!rc) be = compute == F64 ? *(const double *)beta : *(const float *)beta;
    for (int64_t p = 0; !rc && p < batch; p++)
        for (int64_t j = 0; j < n; j++)
            for (int64_t i = 0; i < m; i++) {
                double sum = 0;
                for (int64_t q = 0; q < k; q++) {
                    double x = load(a, a_type, p * sa + (ta == NONE ? i + q * lda : q + i * lda));
                    double y = load(b, b_type, p * sb + (tb == NONE ? q + j * ldb : j + q * ldb));
                    sum += x * y;
                }
                double prior = be != 0 ? load(c, c_type, p * sc + i + j * ldc) : 0;
                store(d, d_type, p * sd + i + j * ldd, al * sum + be * prior);
            }
    LEAVE("transA=%d transB=%d m=%d n=%d k=%d lda=%d ldb=%d ldc=%d stride_a=%lld stride_b=%lld stride_c=%lld batch=%d "
          "type=%d compute=%d algo=%d solution=%d flags=%u alpha=%g beta=%g stream=%d",
          ta, tb, m, n, k, lda, ldb, ldc, (long long)sa, (long long)sb, (long long)sc, batch, a_type, compute, algo,
          solution, flags, al, be, stream_id(h ? h->stream : NULL));
}
