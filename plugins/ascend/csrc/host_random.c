/* host_random.c: the core's counter-based random stream (Philox-4x32-10, docs/backends.md
 * "Random numbers"; core-rs/src/ops/random.rs) drawn on the host. aclnn's generators draw
 * other streams, so rand, randn, randint, randperm and bernoulli's uniforms are computed here
 * and copied to the device: every device draws the CPU's numbers for the same seed. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ascend.h"

static void philox(uint32_t c[4], uint32_t k0, uint32_t k1) {
    for (int r = 0; r < 10; r++) {
        uint64_t p0 = (uint64_t)c[0] * 0xD2511F53u, p1 = (uint64_t)c[2] * 0xCD9E8D57u;
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c[1] ^ k0, n2 = (uint32_t)(p0 >> 32) ^ c[3] ^ k1;
        c[0] = n0, c[1] = (uint32_t)p1, c[2] = n2, c[3] = (uint32_t)p0;
        k0 += 0x9E3779B9u, k1 += 0xBB67AE85u;
    }
}

/* word i of the stream at (seed, offset) */
static uint32_t word(uint64_t seed, uint64_t offset, uint64_t i) {
    uint64_t blk = offset + i / 4;
    uint32_t c[4] = {(uint32_t)blk, (uint32_t)(blk >> 32), 0, 0};
    philox(c, (uint32_t)seed, (uint32_t)(seed >> 32));
    return c[i % 4];
}

void asc_host_uniform(uint64_t seed, uint64_t offset, int64_t n, double *out) {
    for (int64_t i = 0; i < n; i++) {
        uint64_t hi = word(seed, offset, 2 * (uint64_t)i) >> 5, lo = word(seed, offset, 2 * (uint64_t)i + 1) >> 6;
        out[i] = (double)((hi << 26) | lo) * (1.0 / 9007199254740992.0);
    }
}

static uint16_t to_half(double v) { /* round to nearest even, through float */
    float f = (float)v;
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u, exp = (x >> 23) & 0xffu, man = x & 0x7fffffu;
    if (exp == 0xff)
        return (uint16_t)(sign | 0x7c00u | (man ? 0x200u : 0));
    int32_t e = (int32_t)exp - 127 + 15;
    if (e >= 31)
        return (uint16_t)(sign | 0x7c00u);
    if (e <= 0) {
        if (e < -10)
            return (uint16_t)sign;
        man |= 0x800000u;
        uint32_t shift = (uint32_t)(14 - e), half = 1u << (shift - 1), rest = man & ((1u << shift) - 1);
        uint32_t h = man >> shift;
        if (rest > half || (rest == half && (h & 1)))
            h++;
        return (uint16_t)(sign | h);
    }
    uint32_t h = ((uint32_t)e << 10) | (man >> 13), rest = man & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1)))
        h++;
    return (uint16_t)(sign | h);
}

static uint16_t to_bf16(double v) {
    float f = (float)v;
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((x >> 16) | 0x40);
    return (uint16_t)((x + 0x7fffu + ((x >> 16) & 1)) >> 16);
}

static void store(int32_t dtype, void *out, int64_t i, double f, int64_t n) {
    switch (dtype) {
    case DS_UINT8: ((uint8_t *)out)[i] = (uint8_t)n; break;
    case DS_INT8: ((int8_t *)out)[i] = (int8_t)n; break;
    case DS_INT16: ((int16_t *)out)[i] = (int16_t)n; break;
    case DS_INT32: ((int32_t *)out)[i] = (int32_t)n; break;
    case DS_INT64: ((int64_t *)out)[i] = n; break;
    case DS_FLOAT16: ((uint16_t *)out)[i] = to_half(f); break;
    case DS_BFLOAT16: ((uint16_t *)out)[i] = to_bf16(f); break;
    case DS_FLOAT32: ((float *)out)[i] = (float)f; break;
    case DS_FLOAT64: ((double *)out)[i] = f; break;
    default: ((uint8_t *)out)[i] = f != 0 || n != 0; break;
    }
}

int32_t asc_host_random(int32_t op, const ds_random_attrs *a, int32_t dtype, int64_t n, void *out) {
    int is_float = dtype >= DS_FLOAT16;
    if (op == DS_OP_RAND || op == DS_OP_RANDN) {
        if (!is_float)
            return 1;
        int64_t m = op == DS_OP_RANDN ? n + (n & 1) : n;
        double *u = malloc((size_t)(m ? m : 1) * sizeof(double));
        if (!u)
            return 1;
        asc_host_uniform(a->seed, a->offset, m, u);
        /* the largest value below 1 of each dtype: rand never rounds up to 1 */
        double top = dtype == DS_FLOAT32 ? 1.0 - 5.9604644775390625e-8 : dtype == DS_FLOAT16 ? 1.0 - 0.00048828125
                   : dtype == DS_BFLOAT16 ? 1.0 - 0.00390625 : 1.0;
        for (int64_t i = 0; i < n; i++) {
            double v;
            if (op == DS_OP_RAND)
                v = u[i] < top ? u[i] : top;
            else {
                int64_t j = i / 2;
                double r = sqrt(-2.0 * log(1.0 - u[2 * j])), t = 2.0 * 3.14159265358979323846 * u[2 * j + 1];
                v = i % 2 ? r * sin(t) : r * cos(t);
            }
            store(dtype, out, i, v, 0);
        }
        free(u);
        return 0;
    }
    if (op == DS_OP_RANDINT) {
        uint64_t span = (uint64_t)(a->high - a->low);
        if (a->high <= a->low)
            return 1;
        for (int64_t i = 0; i < n; i++) {
            uint64_t r = ((uint64_t)word(a->seed, a->offset, 2 * (uint64_t)i) << 32) | word(a->seed, a->offset, 2 * (uint64_t)i + 1);
            int64_t v = a->low + (int64_t)(r % span);
            store(dtype, out, i, (double)v, v);
        }
        return 0;
    }
    if (op == DS_OP_RANDPERM) {
        int64_t *p = malloc((size_t)(n ? n : 1) * sizeof(int64_t));
        double *u = malloc((size_t)(n ? n : 1) * sizeof(double));
        if (!p || !u) {
            free(p), free(u);
            return 1;
        }
        asc_host_uniform(a->seed, a->offset, n, u);
        for (int64_t i = 0; i < n; i++)
            p[i] = i;
        for (int64_t i = n - 1; i >= 1; i--) {
            int64_t j = (int64_t)(u[i] * (double)(i + 1));
            if (j > i)
                j = i;
            int64_t t = p[i];
            p[i] = p[j], p[j] = t;
        }
        for (int64_t i = 0; i < n; i++)
            store(dtype, out, i, (double)p[i], p[i]);
        free(p), free(u);
        return 0;
    }
    return 1;
}
