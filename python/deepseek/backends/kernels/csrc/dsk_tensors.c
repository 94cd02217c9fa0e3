/* dsk_tensors.c: operands and argument blocks, as deepseek_opencl/ops.py builds them: descriptor
 * parsing and bounds checks, dimension coalescing into MetaN blocks, P8/P16/P32 parameter
 * blocks, and fill values converted on the host. Any overflow of int64 (where Python's ints
 * would grow) is answered DSK_PUNT, so the Python path decides. */
#include <math.h>
#include <string.h>

#include "dsk_planner.h"

const int dsk_dtype_size[DSK_N_DTYPES] = {1, 1, 1, 2, 4, 8, 2, 2, 4, 8};
const int dsk_compute_size[DSK_N_DTYPES] = {1, 1, 1, 2, 4, 8, 4, 4, 4, 8};

/* The product of n sizes (0 if any is 0); DSK_PUNT when it overflows int64. */
int dsk_prod(const int64_t *shape, int n, int64_t *out) {
    int64_t p = 1;
    for (int i = 0; i < n; ++i)
        if (shape[i] == 0) {
            *out = 0;
            return DSK_DONE;
        }
    for (int i = 0; i < n; ++i)
        if (__builtin_mul_overflow(p, shape[i], &p)) return DSK_PUNT;
    *out = p;
    return DSK_DONE;
}

/* ops.parse: a known dtype, ndim >= 0 and sizes >= 0. */
int dsk_parse(const ds_tensor_desc *d, dsk_tensor *t) {
    if (d->dtype < 0 || d->dtype >= DSK_N_DTYPES || d->ndim < 0 || d->ndim > DSK_MAX_DIMS) return DSK_PUNT;
    if (d->ndim > 0 && (d->shape == NULL || d->strides == NULL)) return DSK_PUNT;
    for (int i = 0; i < d->ndim; ++i)
        if (d->shape[i] < 0) return DSK_PUNT;
    t->mem = (dsk_mem)d->ptr;
    t->dtype = d->dtype;
    t->ndim = d->ndim;
    t->shape = d->shape;
    t->strides = d->strides;
    t->offset = d->offset;
    return dsk_prod(d->shape, d->ndim, &t->numel);
}

/* ops.check_bounds: every element of t lies inside its buffer. */
int dsk_in_bounds(dsk_launch *L, const dsk_tensor *t) {
    if (t->numel == 0) return DSK_DONE;
    if (t->mem == 0) return DSK_PUNT;
    int64_t lo = t->offset, hi = t->offset, span;
    for (int d = 0; d < t->ndim; ++d) {
        if (__builtin_mul_overflow(t->shape[d] - 1, t->strides[d], &span)) return DSK_PUNT;
        if (__builtin_add_overflow(span < 0 ? lo : hi, span, span < 0 ? &lo : &hi)) return DSK_PUNT;
    }
    uint64_t size = 0;
    if (L->hooks->buffer_size(L->ctx, t->mem, &size) != DSK_DONE) return DSK_PUNT;
    if (lo < 0 || ((__int128)hi + 1) * dsk_dtype_size[t->dtype] > (__int128)size) return DSK_PUNT;
    return DSK_DONE;
}

int dsk_same_shape(const dsk_tensor *a, const dsk_tensor *b) {
    if (a->ndim != b->ndim) return 0;
    for (int d = 0; d < a->ndim; ++d)
        if (a->shape[d] != b->shape[d]) return 0;
    return 1;
}

/* ops.make_meta: MetaN of nt tensors over `shape` after coalescing (size-1 dims dropped,
 * adjacent dims contiguous in every tensor merged, keeping the inner dim's strides);
 * DSK_PUNT beyond DSK_MAXD dims or DSK_FMAXT tensors (the family kernels take at most
 * DSK_MAXT; a generated program up to DSK_FMAXT). meta holds DSK_META_LONGS(nt). */
int dsk_make_meta(const int64_t *shape, int ndim, int nt, const int64_t *const *strides,
                  const int64_t *offsets, int64_t *meta) {
    if (nt > DSK_FMAXT) return DSK_PUNT;
    int64_t sh[DSK_MAXD], st[DSK_FMAXT][DSK_MAXD];
    int nd = 0;
    for (int d = 0; d < ndim; ++d) {
        int64_t s = shape[d];
        if (s == 1) continue;
        int merge = nd > 0;
        for (int t = 0; t < nt && merge; ++t) {
            int64_t c;
            merge = !__builtin_mul_overflow(strides[t][d], s, &c) && st[t][nd - 1] == c;
        }
        if (merge) {
            if (__builtin_mul_overflow(sh[nd - 1], s, &sh[nd - 1])) return DSK_PUNT;
        } else {
            if (nd == DSK_MAXD) return DSK_PUNT; /* merging never shrinks the count again */
            sh[nd++] = s;
        }
        for (int t = 0; t < nt; ++t) st[t][nd - 1] = strides[t][d];
    }
    memset(meta, 0, sizeof(int64_t) * DSK_META_LONGS(nt));
    memcpy(meta, sh, sizeof(int64_t) * nd);
    for (int t = 0; t < nt; ++t) {
        memcpy(meta + DSK_MAXD + t * DSK_MAXD, st[t], sizeof(int64_t) * nd);
        meta[DSK_MAXD + nt * DSK_MAXD + t] = offsets[t];
    }
    meta[DSK_MAXD + nt * DSK_MAXD + nt] = nd;
    return DSK_DONE;
}

/* ops.make_params: the smallest parameter block holding n values, zero-padded; its length. */
int dsk_make_params(const int64_t *values, int n, int64_t *params) {
    static const int sizes[] = {DSK_PARAM_SIZES};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; ++i)
        if (sizes[i] >= n) {
            memset(params, 0, sizeof(int64_t) * sizes[i]);
            memcpy(params, values, sizeof(int64_t) * n);
            return sizes[i];
        }
    return -1;
}

size_t dsk_roundup(int64_t n, int64_t m) { return (size_t)((n + m - 1) / m * m); }

/* --- fill values (ops.fill_bits) ------------------------------------------------------- */

static uint32_t dsk_f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static uint16_t dsk_bf16_of_f32_bits(uint32_t u) {
    if ((u & 0x7FFFFFFFu) > 0x7F800000u) return (uint16_t)((u >> 16) | 0x40u);
    u += 0x7FFFu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

/* double -> bfloat16 to nearest even: round to odd into float32 first (ops.fill_bits). */
static uint16_t dsk_bf16_of_double(double x) {
    if (isnan(x)) return dsk_bf16_of_f32_bits(0x7FC00000u | (signbit(x) ? 0x80000000u : 0u));
    float f;
    if (isinf(x)) {
        f = (float)x;
    } else if (fabs(x) >= 3.4028234663852886e38) {
        f = x < 0 ? -3.4028234663852886e38f : 3.4028234663852886e38f;
    } else {
        f = (float)x;
        if (fabsf(f) > fabs(x)) { /* rounded away from zero: step back one ulp */
            uint32_t u = dsk_f32_bits(f) - 1;
            memcpy(&f, &u, 4);
        }
    }
    uint32_t u = dsk_f32_bits(f);
    if ((double)f != x && !isinf(f)) u |= 1u;
    return dsk_bf16_of_f32_bits(u);
}

/* double -> float16 to nearest even, as NumPy's astype(float16) rounds (one rounding). */
static uint16_t dsk_f16_of_double(double x) {
    uint64_t d;
    memcpy(&d, &x, 8);
    uint16_t sgn = (uint16_t)((d & 0x8000000000000000ull) >> 48);
    uint64_t exp = d & 0x7ff0000000000000ull, sig;
    if (exp >= 0x40f0000000000000ull) {
        if (exp == 0x7ff0000000000000ull && (d & 0x000fffffffffffffull)) {
            uint16_t r = (uint16_t)(0x7c00u + ((d & 0x000fffffffffffffull) >> 42)); /* NaN keeps its payload */
            return (uint16_t)(sgn + (r == 0x7c00u ? r + 1 : r));
        }
        return (uint16_t)(sgn + 0x7c00u); /* inf, or overflow to inf */
    }
    if (exp <= 0x3f00000000000000ull) { /* subnormal half or signed zero */
        if (exp < 0x3e60000000000000ull) return sgn;
        exp >>= 52;
        sig = 0x0010000000000000ull + (d & 0x000fffffffffffffull);
        sig <<= (exp - 998);
        if ((sig & 0x003fffffffffffffull) != 0x0010000000000000ull) sig += 0x0010000000000000ull;
        return (uint16_t)(sgn + (uint16_t)(sig >> 53));
    }
    uint16_t hexp = (uint16_t)((exp - 0x3f00000000000000ull) >> 42);
    sig = d & 0x000fffffffffffffull;
    if ((sig & 0x000007ffffffffffull) != 0x0000020000000000ull) sig += 0x0000020000000000ull;
    return (uint16_t)(sgn + hexp + (uint16_t)(sig >> 42));
}

/* ds_scalar (kind, i, f) stored as dtype: bool is `value != 0`; a float to an integer
 * truncates and saturates (NaN -> 0), like the CPU core's casts; ints wrap to the width. */
uint64_t dsk_fill_bits(int32_t dtype, int32_t kind, int64_t i, double f) {
    int is_float = kind == DS_SCALAR_FLOAT;
    if (kind == DS_SCALAR_BOOL) i = i != 0;
    double x = is_float ? f : (double)i;
    switch (dtype) {
    case DS_BOOL:
        return is_float ? (uint64_t)(f != 0) : (uint64_t)(i != 0);
    case DS_UINT8: case DS_INT8: case DS_INT16: case DS_INT32: case DS_INT64: {
        int bits = 8 * dsk_dtype_size[dtype];
        uint64_t mask = bits == 64 ? ~0ull : (1ull << bits) - 1;
        int64_t v = i;
        if (is_float) {
            int64_t lo = dtype == DS_UINT8 ? 0 : (bits == 64 ? INT64_MIN : -(INT64_C(1) << (bits - 1)));
            int64_t hi = dtype == DS_UINT8 ? 255 : (bits == 64 ? INT64_MAX : (INT64_C(1) << (bits - 1)) - 1);
            double t = trunc(f);
            v = isnan(f) ? 0 : t <= (double)lo ? lo : t >= (double)hi ? hi : (int64_t)t;
        }
        return (uint64_t)v & mask;
    }
    case DS_FLOAT16:
        return dsk_f16_of_double(x);
    case DS_BFLOAT16:
        return dsk_bf16_of_double(x);
    case DS_FLOAT32:
        return dsk_f32_bits((float)x);
    default: {
        uint64_t u;
        memcpy(&u, &x, 8);
        return u;
    }
    }
}
