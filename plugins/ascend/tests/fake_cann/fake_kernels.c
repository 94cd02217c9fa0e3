/* fake_kernels.c: the fake aclnn operators' arithmetic, on the CPU, read and written through
 * each descriptor's dims, strides, offset and dtype (so a wrongly described operand gives
 * wrong numbers). A few shared loops: elementwise (unary, binary, where, cast, copy),
 * reductions and scans along dims, and the index/sort/conv/matmul families. Floats compute
 * in double, integers in int64 (wrapping to the dtype on store). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fake_opapi.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

/* ---- element access -------------------------------------------------------------------- */

int fk_isfloat(int32_t dt) { return dt == F_FLOAT || dt == F_FLOAT16 || dt == F_BF16 || dt == F_DOUBLE; }

int64_t fk_numel(const FTensor *t) {
    int64_t n = 1;
    for (int k = 0; k < t->ndim; k++)
        n *= t->dims[k];
    return n;
}

static char *addr(const FTensor *t, const int64_t *idx) {
    int64_t o = t->offset;
    for (int k = 0; k < t->ndim; k++)
        o += idx[k] * t->strides[k];
    return (char *)t->data + o * fake_dtype_size(t->dtype);
}

static float half_to_float(uint16_t h) {
    uint32_t s = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu, x;
    if (e == 0) {
        if (m == 0)
            x = s;
        else {
            e = 113;
            while (!(m & 0x400u))
                m <<= 1, e--;
            x = s | (e << 23) | ((m & 0x3ffu) << 13);
        }
    } else if (e == 31)
        x = s | 0x7f800000u | (m << 13);
    else
        x = s | ((e + 112) << 23) | (m << 13);
    float f;
    memcpy(&f, &x, 4);
    return f;
}

static uint16_t float_to_half(float f) {
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
        uint32_t shift = (uint32_t)(14 - e), halfway = 1u << (shift - 1), rest = man & ((1u << shift) - 1);
        uint32_t h = man >> shift;
        if (rest > halfway || (rest == halfway && (h & 1)))
            h++;
        return (uint16_t)(sign | h);
    }
    uint32_t h = ((uint32_t)e << 10) | (man >> 13), rest = man & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1)))
        h++;
    return (uint16_t)(sign | h);
}

static float bf16_to_float(uint16_t b) {
    uint32_t x = (uint32_t)b << 16;
    float f;
    memcpy(&f, &x, 4);
    return f;
}

static uint16_t float_to_bf16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((x >> 16) | 0x40);
    return (uint16_t)((x + 0x7fffu + ((x >> 16) & 1)) >> 16);
}

double fk_getf(const FTensor *t, const int64_t *idx) {
    const char *p = addr(t, idx);
    switch (t->dtype) {
    case F_FLOAT: return *(const float *)p;
    case F_DOUBLE: return *(const double *)p;
    case F_FLOAT16: return half_to_float(*(const uint16_t *)p);
    case F_BF16: return bf16_to_float(*(const uint16_t *)p);
    default: return (double)fk_geti(t, idx);
    }
}

int64_t fk_geti(const FTensor *t, const int64_t *idx) {
    const char *p = addr(t, idx);
    switch (t->dtype) {
    case F_BOOL: return *(const uint8_t *)p != 0;
    case F_UINT8: return *(const uint8_t *)p;
    case F_INT8: return *(const int8_t *)p;
    case F_INT16: return *(const int16_t *)p;
    case F_INT32: return *(const int32_t *)p;
    case F_INT64: return *(const int64_t *)p;
    default: return (int64_t)fk_getf(t, idx);
    }
}

void fk_puti(const FTensor *t, const int64_t *idx, int64_t v) {
    char *p = addr(t, idx);
    switch (t->dtype) {
    case F_BOOL: *(uint8_t *)p = v != 0; break;
    case F_UINT8: *(uint8_t *)p = (uint8_t)v; break;
    case F_INT8: *(int8_t *)p = (int8_t)v; break;
    case F_INT16: *(int16_t *)p = (int16_t)v; break;
    case F_INT32: *(int32_t *)p = (int32_t)v; break;
    case F_INT64: *(int64_t *)p = v; break;
    default: fk_putf(t, idx, (double)v); break;
    }
}

void fk_putf(const FTensor *t, const int64_t *idx, double v) {
    char *p = addr(t, idx);
    switch (t->dtype) {
    case F_FLOAT: *(float *)p = (float)v; break;
    case F_DOUBLE: *(double *)p = v; break;
    case F_FLOAT16: *(uint16_t *)p = float_to_half((float)v); break;
    case F_BF16: *(uint16_t *)p = float_to_bf16((float)v); break;
    case F_BOOL: *(uint8_t *)p = v != 0; break;
    default: fk_puti(t, idx, isnan(v) ? 0 : (int64_t)trunc(v)); break;
    }
}

static void unravel(int64_t lin, int nd, const int64_t *dims, int64_t *idx) {
    for (int k = nd - 1; k >= 0; k--) {
        idx[k] = dims[k] ? lin % dims[k] : 0;
        lin = dims[k] ? lin / dims[k] : 0;
    }
}

/* index into `in` for output index `oidx` of an `ond`-dim output, broadcasting from the right */
static void bcast(const FTensor *in, int ond, const int64_t *oidx, int64_t *iidx) {
    for (int k = 0; k < in->ndim; k++)
        iidx[k] = in->dims[k] == 1 ? 0 : oidx[ond - in->ndim + k];
}

/* element idx of dst = element sidx of src (the same bits for one dtype) */
static void move(const FTensor *dst, const int64_t *idx, const FTensor *src, const int64_t *sidx) {
    if (dst->dtype == src->dtype)
        memcpy(addr(dst, idx), addr(src, sidx), (size_t)fake_dtype_size(dst->dtype));
    else if (fk_isfloat(src->dtype))
        fk_putf(dst, idx, fk_getf(src, sidx));
    else
        fk_puti(dst, idx, fk_geti(src, sidx));
}

/* ---- elementwise ----------------------------------------------------------------------- */

static double digamma(double x) {
    if (x == 0)
        return -INFINITY;
    if (x < 0 && x == floor(x))
        return NAN;
    if (x < 0)
        return digamma(1 - x) - M_PI / tan(M_PI * x);
    double r = 0;
    while (x < 10)
        r -= 1 / x, x += 1;
    double f = 1 / (x * x);
    return r + log(x) - 0.5 / x - f * (1.0 / 12 - f * (1.0 / 120 - f * (1.0 / 252 - f * (1.0 / 240 - f / 132))));
}

/* the Hurwitz zeta function by Euler-Maclaurin summation (s > 1, q > 0) */
static double hurwitz(double s, double q) {
    static const double B[8] = {1.0 / 6, -1.0 / 30, 1.0 / 42, -1.0 / 30, 5.0 / 66, -691.0 / 2730, 7.0 / 6, -3617.0 / 510};
    const int n = 12;
    double sum = 0, a = q + n, fact = 1, poch = s, p = pow(a, -s - 1);
    for (int k = 0; k < n; k++)
        sum += pow(q + k, -s);
    sum += pow(a, 1 - s) / (s - 1) + 0.5 * pow(a, -s);
    for (int j = 1; j <= 8; j++) {
        fact *= (2.0 * j - 1) * (2.0 * j);
        sum += B[j - 1] / fact * poch * p;
        poch *= (s + 2 * j - 1) * (s + 2 * j);
        p /= a * a;
    }
    return sum;
}

/* PyTorch's floor division of floats: from fmod, so a / b's rounding cannot move the floor */
static double floor_divide(double a, double b) {
    if (b == 0)
        return a == 0 || isnan(a) ? NAN : copysign(INFINITY, a) * copysign(1.0, b);
    double m = fmod(a, b), d = (a - m) / b;
    if (m != 0 && (b < 0) != (m < 0))
        d -= 1.0;
    if (d == 0)
        return copysign(0.0, a / b);
    double f = floor(d);
    return d - f > 0.5 ? f + 1.0 : f;
}

static double unary_f(const char *op, double x) {
    op += 5; /* after "aclnn" */
    if (!strcmp(op, "Neg")) return -x;
    if (!strcmp(op, "Abs")) return fabs(x);
    if (!strcmp(op, "Sign")) return x > 0 ? 1 : x < 0 ? -1 : 0; /* NaN and -0 give 0 */
    if (!strcmp(op, "Exp")) return exp(x);
    if (!strcmp(op, "Log")) return log(x);
    if (!strcmp(op, "Log1p")) return log1p(x);
    if (!strcmp(op, "Expm1")) return expm1(x);
    if (!strcmp(op, "Sqrt")) return sqrt(x);
    if (!strcmp(op, "Rsqrt")) return 1 / sqrt(x);
    if (!strcmp(op, "Sin")) return sin(x);
    if (!strcmp(op, "Cos")) return cos(x);
    if (!strcmp(op, "Tan")) return tan(x);
    if (!strcmp(op, "Tanh")) return tanh(x);
    if (!strcmp(op, "Sigmoid")) return 1 / (1 + exp(-x));
    if (!strcmp(op, "Erf")) return erf(x);
    if (!strcmp(op, "Erfc")) return erfc(x);
    if (!strcmp(op, "Floor")) return floor(x);
    if (!strcmp(op, "Ceil")) return ceil(x);
    if (!strcmp(op, "Round")) return nearbyint(x);
    if (!strcmp(op, "Trunc")) return trunc(x);
    if (!strcmp(op, "Reciprocal")) return 1 / x;
    if (!strcmp(op, "Relu")) return x > 0 ? x : (isnan(x) ? x : 0);
    if (!strcmp(op, "LogicalNot")) return x == 0;
    if (!strcmp(op, "Asin")) return asin(x);
    if (!strcmp(op, "Acos")) return acos(x);
    if (!strcmp(op, "Atan")) return atan(x);
    if (!strcmp(op, "Sinh")) return sinh(x);
    if (!strcmp(op, "Cosh")) return cosh(x);
    if (!strcmp(op, "Log2")) return log2(x);
    if (!strcmp(op, "Exp2")) return exp2(x);
    if (!strcmp(op, "Lgamma")) return lgamma(x);
    if (!strcmp(op, "Digamma")) return digamma(x);
    return NAN;
}

static int64_t unary_i(const char *op, int64_t x, int is_bool) {
    op += 5;
    if (!strcmp(op, "Neg")) return -x;
    if (!strcmp(op, "Abs")) return x < 0 ? -x : x;
    if (!strcmp(op, "Sign")) return (x > 0) - (x < 0);
    if (!strcmp(op, "Relu")) return x > 0 ? x : 0;
    if (!strcmp(op, "LogicalNot")) return x == 0;
    if (!strcmp(op, "BitwiseNot")) return is_bool ? !x : ~x;
    return x; /* Floor, Ceil, Round, Trunc of an integer */
}

void k_unary(FExec *e) {
    const FTensor *x = &e->t[0], *o = &e->t[1];
    int64_t idx[FMAX_DIMS], n = fk_numel(o);
    for (int64_t l = 0; l < n; l++) {
        unravel(l, o->ndim, o->dims, idx);
        if (fk_isfloat(x->dtype))
            fk_putf(o, idx, unary_f(e->op, fk_getf(x, idx)));
        else
            fk_puti(o, idx, unary_i(e->op, fk_geti(x, idx), x->dtype == F_BOOL));
    }
}

void k_polygamma(FExec *e) {
    const FTensor *x = &e->t[0], *o = &e->t[1];
    int64_t idx[FMAX_DIMS], n = fk_numel(o), order = e->i[0];
    double fact = 1;
    for (int k = 2; k <= order; k++)
        fact *= k;
    for (int64_t l = 0; l < n; l++) {
        unravel(l, o->ndim, o->dims, idx);
        double v = fk_getf(x, idx);
        double r = v <= 0 && v == floor(v) ? INFINITY : (order % 2 ? 1 : -1) * fact * hurwitz(order + 1.0, v);
        fk_putf(o, idx, r);
    }
}

static double binary_f(const char *op, double a, double b, double alpha) {
    op += 5;
    if (!strcmp(op, "Add") || !strcmp(op, "InplaceAdd")) return a + alpha * b;
    if (!strcmp(op, "Sub")) return a - alpha * b;
    if (!strcmp(op, "Mul")) return a * b;
    if (!strcmp(op, "Div")) return a / b;
    if (!strcmp(op, "FloorDivide")) return floor_divide(a, b);
    if (!strcmp(op, "PowTensorTensor")) return pow(a, b);
    if (!strcmp(op, "Maximum")) return isnan(a) || isnan(b) ? NAN : a < b ? b : a; /* max(-0, 0) is -0 */
    if (!strcmp(op, "Minimum")) return isnan(a) || isnan(b) ? NAN : b < a ? b : a;
    if (!strcmp(op, "FmodTensor")) return fmod(a, b);
    if (!strcmp(op, "RemainderTensorTensor")) {
        double r = fmod(a, b);
        return r != 0 && ((r < 0) != (b < 0)) ? r + b : r;
    }
    if (!strcmp(op, "Atan2")) return atan2(a, b);
    if (!strcmp(op, "EqTensor")) return a == b;
    if (!strcmp(op, "NeTensor")) return a != b;
    if (!strcmp(op, "LtTensor")) return a < b;
    if (!strcmp(op, "LeTensor")) return a <= b;
    if (!strcmp(op, "GtTensor")) return a > b;
    if (!strcmp(op, "GeTensor")) return a >= b;
    if (!strcmp(op, "LogicalAnd")) return a != 0 && b != 0;
    if (!strcmp(op, "LogicalOr")) return a != 0 || b != 0;
    if (!strcmp(op, "LogicalXor")) return (a != 0) != (b != 0);
    return NAN;
}

static int64_t ipow(int64_t a, int64_t b) {
    if (b < 0)
        return a == 1 ? 1 : a == -1 ? (b % 2 ? -1 : 1) : 0;
    int64_t r = 1;
    while (b--)
        r = (int64_t)((uint64_t)r * (uint64_t)a);
    return r;
}

static int64_t binary_i(const char *op, int64_t a, int64_t b, int64_t alpha) {
    const char *o = op + 5;
    if (!strcmp(o, "Add") || !strcmp(o, "InplaceAdd")) return (int64_t)((uint64_t)a + (uint64_t)alpha * (uint64_t)b);
    if (!strcmp(o, "Sub")) return (int64_t)((uint64_t)a - (uint64_t)alpha * (uint64_t)b);
    if (!strcmp(o, "Mul")) return (int64_t)((uint64_t)a * (uint64_t)b);
    if (!strcmp(o, "FloorDivide")) return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
    if (!strcmp(o, "PowTensorTensor")) return ipow(a, b);
    if (!strcmp(o, "Maximum")) return a > b ? a : b;
    if (!strcmp(o, "Minimum")) return a < b ? a : b;
    if (!strcmp(o, "FmodTensor")) return a % b;
    if (!strcmp(o, "RemainderTensorTensor")) {
        int64_t r = a % b;
        return r != 0 && ((r < 0) != (b < 0)) ? r + b : r;
    }
    if (!strcmp(o, "BitwiseAndTensor")) return a & b;
    if (!strcmp(o, "BitwiseOrTensor")) return a | b;
    if (!strcmp(o, "BitwiseXorTensor")) return a ^ b;
    return (int64_t)binary_f(op, (double)a, (double)b, (double)alpha);
}

void k_binary(FExec *e) {
    /* (self, other, out), or (self, other, alpha, out) for Add/Sub */
    const FTensor *a = &e->t[0], *b = &e->t[1], *o = &e->t[2];
    int64_t idx[FMAX_DIMS], ia[FMAX_DIMS], ib[FMAX_DIMS], n = fk_numel(o);
    int fl = fk_isfloat(a->dtype) || fk_isfloat(b->dtype);
    double alpha = e->ns ? e->s[0].f : 1;
    int64_t ialpha = e->ns ? e->s[0].i : 1;
    for (int64_t l = 0; l < n; l++) {
        unravel(l, o->ndim, o->dims, idx);
        bcast(a, o->ndim, idx, ia);
        bcast(b, o->ndim, idx, ib);
        if (fl)
            fk_putf(o, idx, binary_f(e->op, fk_getf(a, ia), fk_getf(b, ib), alpha));
        else
            fk_puti(o, idx, binary_i(e->op, fk_geti(a, ia), fk_geti(b, ib), ialpha));
    }
}

void k_where(FExec *e) {
    const FTensor *c = &e->t[0], *a = &e->t[1], *b = &e->t[2], *o = &e->t[3];
    int64_t idx[FMAX_DIMS], ic[FMAX_DIMS], ia[FMAX_DIMS], n = fk_numel(o);
    for (int64_t l = 0; l < n; l++) {
        unravel(l, o->ndim, o->dims, idx);
        bcast(c, o->ndim, idx, ic);
        const FTensor *s = fk_geti(c, ic) ? a : b;
        bcast(s, o->ndim, idx, ia);
        move(o, idx, s, ia);
    }
}

void k_cast(FExec *e) { /* (self, out): move() converts */
    const FTensor *x = &e->t[0], *o = &e->t[1];
    int64_t idx[FMAX_DIMS], n = fk_numel(o);
    for (int64_t l = 0; l < n; l++) {
        unravel(l, o->ndim, o->dims, idx);
        if (o->dtype == F_BOOL)
            fk_puti(o, idx, fk_isfloat(x->dtype) ? fk_getf(x, idx) != 0 : fk_geti(x, idx) != 0);
        else
            move(o, idx, x, idx);
    }
}

void k_copy(FExec *e) { /* (selfRef, src), src broadcast */
    const FTensor *o = &e->t[0], *x = &e->t[1];
    int64_t idx[FMAX_DIMS], ix[FMAX_DIMS], n = fk_numel(o);
    for (int64_t l = 0; l < n; l++) {
        unravel(l, o->ndim, o->dims, idx);
        bcast(x, o->ndim, idx, ix);
        move(o, idx, x, ix);
    }
}

void k_fill(FExec *e) {
    const FTensor *o = &e->t[0];
    int64_t idx[FMAX_DIMS], n = fk_numel(o);
    for (int64_t l = 0; l < n; l++) {
        unravel(l, o->ndim, o->dims, idx);
        if (fk_isfloat(o->dtype))
            fk_putf(o, idx, e->s[0].f);
        else
            fk_puti(o, idx, e->s[0].dtype == F_DOUBLE || e->s[0].dtype == F_FLOAT ? (int64_t)e->s[0].f : e->s[0].i);
    }
}

void k_arange(FExec *e) {
    const FTensor *o = &e->t[0];
    for (int64_t i = 0; i < o->dims[0]; i++) {
        if (fk_isfloat(o->dtype))
            fk_putf(o, &i, e->s[0].f + (double)i * e->s[2].f);
        else
            fk_puti(o, &i, e->s[0].i + i * e->s[2].i);
    }
}

void k_flip(FExec *e) {
    const FTensor *x = &e->t[0], *o = &e->t[1];
    int64_t idx[FMAX_DIMS], ix[FMAX_DIMS], n = fk_numel(o);
    for (int64_t l = 0; l < n; l++) {
        unravel(l, o->ndim, o->dims, idx);
        memcpy(ix, idx, sizeof ix);
        for (int64_t k = 0; k < e->a[0].n; k++) {
            int64_t d = e->a[0].v[k] < 0 ? e->a[0].v[k] + x->ndim : e->a[0].v[k];
            ix[d] = x->dims[d] - 1 - idx[d];
        }
        move(o, idx, x, ix);
    }
}

void k_cat(FExec *e) { /* (tensors, dim, out) */
    const FTensor *o = &e->t[e->list_first + e->list_n];
    int64_t d = e->i[0] < 0 ? e->i[0] + o->ndim : e->i[0], at = 0, idx[FMAX_DIMS];
    for (int j = 0; j < e->list_n; j++) {
        const FTensor *x = &e->t[e->list_first + j];
        int64_t n = fk_numel(x);
        for (int64_t l = 0; l < n; l++) {
            int64_t ox[FMAX_DIMS];
            unravel(l, x->ndim, x->dims, idx);
            memcpy(ox, idx, sizeof ox);
            ox[d] += at;
            move(o, ox, x, idx);
        }
        at += x->ndim ? x->dims[d] : 0;
    }
}

void k_pad(FExec *e) { /* pad: torch's order, last dim first */
    const FTensor *x = &e->t[0], *o = &e->t[1];
    int64_t idx[FMAX_DIMS], ix[FMAX_DIMS], n = fk_numel(o);
    for (int64_t l = 0; l < n; l++) {
        unravel(l, o->ndim, o->dims, idx);
        int inside = 1;
        for (int k = 0; k < o->ndim; k++) {
            int64_t j = o->ndim - 1 - k, before = 2 * j < e->a[0].n ? e->a[0].v[2 * j] : 0;
            ix[k] = idx[k] - before;
            inside &= ix[k] >= 0 && ix[k] < x->dims[k];
        }
        if (inside)
            move(o, idx, x, ix);
        else if (fk_isfloat(o->dtype))
            fk_putf(o, idx, e->s[0].f);
        else
            fk_puti(o, idx, e->s[0].dtype == F_DOUBLE ? (int64_t)e->s[0].f : e->s[0].i);
    }
}
