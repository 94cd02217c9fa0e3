/* fake_kernels_nd.c: the fake aclnn operators that work along dims: reductions, arg-reductions
 * and scans, matmul and convolution, gather/scatter/index, sort and top-k, on the CPU through
 * each descriptor's strides (fake_kernels.c has the element access). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fake_opapi.h"

static void unravel(int64_t lin, int nd, const int64_t *dims, int64_t *idx) {
    for (int k = nd - 1; k >= 0; k--) {
        idx[k] = dims[k] ? lin % dims[k] : 0;
        lin = dims[k] ? lin / dims[k] : 0;
    }
}

static int64_t wrap_dim(int64_t d, int nd) { return d < 0 ? d + nd : d; }

static void move(const FTensor *dst, const int64_t *idx, const FTensor *src, const int64_t *sidx) {
    if (fk_isfloat(src->dtype))
        fk_putf(dst, idx, fk_getf(src, sidx));
    else
        fk_puti(dst, idx, fk_geti(src, sidx));
}

/* ---- reductions: an accumulator per output element, the input visited in order --------- */

typedef struct acc { double f; int64_t i; int64_t at; int set; } acc;

/* output index of input index `idx` when dims in `red` (flags) are reduced, with keepdim */
static void out_index(const FTensor *x, const int *red, int keep, const int64_t *idx, int64_t *oidx) {
    int j = 0;
    for (int k = 0; k < x->ndim; k++) {
        if (red[k]) {
            if (keep)
                oidx[j++] = 0;
        } else
            oidx[j++] = idx[k];
    }
}

static int64_t linear(const FTensor *o, const int64_t *oidx) {
    int64_t l = 0;
    for (int k = 0; k < o->ndim; k++)
        l = l * o->dims[k] + oidx[k];
    return l;
}

/* kind: 's' sum, 'p' prod, '>' amax, '<' amin, 'M' argmax, 'm' argmin (index along dim `arg`) */
static void reduce(const FTensor *x, const FTensor *o, const int *red, int keep, char kind, int64_t arg) {
    int64_t no = fk_numel(o), nx = fk_numel(x), idx[FMAX_DIMS], oidx[FMAX_DIMS];
    int fl = fk_isfloat(x->dtype);
    acc *a = calloc((size_t)(no ? no : 1), sizeof *a);
    for (int64_t l = 0; l < no; l++)
        a[l].f = kind == 'p' ? 1 : 0, a[l].i = kind == 'p' ? 1 : 0;
    for (int64_t l = 0; l < nx; l++) {
        unravel(l, x->ndim, x->dims, idx);
        out_index(x, red, keep, idx, oidx);
        acc *c = &a[linear(o, oidx)];
        double v = fl ? fk_getf(x, idx) : 0;
        int64_t w = fl ? 0 : fk_geti(x, idx);
        switch (kind) {
        case 's': c->f += v, c->i = (int64_t)((uint64_t)c->i + (uint64_t)w); break;
        case 'p': c->f *= v, c->i = (int64_t)((uint64_t)c->i * (uint64_t)w); break;
        case '>': case '<':
            if (!c->set || (fl && (isnan(v) || (!isnan(c->f) && (kind == '>' ? v > c->f : v < c->f)))) ||
                (!fl && (kind == '>' ? w > c->i : w < c->i)))
                c->f = v, c->i = w;
            c->set = 1;
            break;
        default: { /* arg-reductions: the first extreme; a NaN is the extreme */
            int better = !c->set;
            if (!better && fl)
                better = !isnan(c->f) && (isnan(v) || (kind == 'M' ? v > c->f : v < c->f));
            else if (!better)
                better = kind == 'M' ? w > c->i : w < c->i;
            if (better)
                c->f = v, c->i = w, c->at = idx[arg];
            c->set = 1;
        }
        }
    }
    for (int64_t l = 0; l < no; l++) {
        unravel(l, o->ndim, o->dims, oidx);
        if (kind == 'M' || kind == 'm')
            fk_puti(o, oidx, a[l].at);
        else if (fl)
            fk_putf(o, oidx, a[l].f);
        else
            fk_puti(o, oidx, a[l].i);
    }
    free(a);
}

void k_reduce(FExec *e) { /* ReduceSum (self, dims, keepDim, dtype, out), Amax/Amin (self, dims, keepDim, out) */
    const FTensor *x = &e->t[0], *o = &e->t[1];
    int red[FMAX_DIMS] = {0};
    for (int64_t k = 0; k < e->a[0].n; k++)
        red[wrap_dim(e->a[0].v[k], x->ndim)] = 1;
    const char *op = e->op + 5;
    reduce(x, o, red, e->b[0], !strcmp(op, "ReduceSum") ? 's' : !strcmp(op, "Amax") ? '>' : '<', 0);
}

void k_prod_dim(FExec *e) {
    const FTensor *x = &e->t[0], *o = &e->t[1];
    int red[FMAX_DIMS] = {0};
    red[wrap_dim(e->i[0], x->ndim)] = 1;
    reduce(x, o, red, e->b[0], 'p', 0);
}

void k_arg(FExec *e) {
    const FTensor *x = &e->t[0], *o = &e->t[1];
    int red[FMAX_DIMS] = {0};
    int64_t d = wrap_dim(e->i[0], x->ndim);
    red[d] = 1;
    reduce(x, o, red, e->b[0], !strcmp(e->op, "aclnnArgMax") ? 'M' : 'm', d);
}

void k_cum(FExec *e) { /* Cumsum (self, dim, dtype, out); Cumprod (self, dim scalar, dtype, out) */
    const FTensor *x = &e->t[0], *o = &e->t[1];
    int prod = !strcmp(e->op, "aclnnCumprod");
    int64_t d = wrap_dim(prod ? e->s[0].i : e->i[0], x->ndim), lines[FMAX_DIMS], idx[FMAX_DIMS];
    int fl = fk_isfloat(x->dtype);
    memcpy(lines, x->dims, sizeof lines);
    lines[d] = 1;
    int64_t nl = 1;
    for (int k = 0; k < x->ndim; k++)
        nl *= lines[k];
    for (int64_t l = 0; l < nl; l++) {
        unravel(l, x->ndim, lines, idx);
        double f = prod;
        int64_t i = prod;
        for (idx[d] = 0; idx[d] < x->dims[d]; idx[d]++) {
            if (fl) {
                f = prod ? f * fk_getf(x, idx) : f + fk_getf(x, idx);
                fk_putf(o, idx, f);
            } else {
                int64_t v = fk_geti(x, idx);
                i = (int64_t)(prod ? (uint64_t)i * (uint64_t)v : (uint64_t)i + (uint64_t)v);
                fk_puti(o, idx, i);
            }
        }
    }
}

/* ---- matmul and convolution ------------------------------------------------------------ */

void k_bmm(FExec *e) { /* (self (B, M, K), mat2 (B, K, N), out (B, M, N)); a batch of 1 broadcasts */
    const FTensor *a = &e->t[0], *b = &e->t[1], *o = &e->t[2];
    int64_t B = o->dims[0], M = o->dims[1], N = o->dims[2], K = a->dims[2];
    int fl = fk_isfloat(a->dtype);
    for (int64_t bt = 0; bt < B; bt++)
        for (int64_t m = 0; m < M; m++)
            for (int64_t n = 0; n < N; n++) {
                double f = 0;
                int64_t s = 0;
                for (int64_t k = 0; k < K; k++) {
                    int64_t ia[3] = {a->dims[0] == 1 ? 0 : bt, m, k}, ib[3] = {b->dims[0] == 1 ? 0 : bt, k, n};
                    if (fl)
                        f += fk_getf(a, ia) * fk_getf(b, ib);
                    else
                        s = (int64_t)((uint64_t)s + (uint64_t)fk_geti(a, ia) * (uint64_t)fk_geti(b, ib));
                }
                int64_t io[3] = {bt, m, n};
                if (fl)
                    fk_putf(o, io, f);
                else
                    fk_puti(o, io, s);
            }
}

/* Every (output, input, weight) product of a 2-d convolution; mode 0 forward into out,
 * 1 into the input's gradient, 2 into the weight's, each accumulated in double. */
static void conv_loops(const FTensor *x, const FTensor *w, const FTensor *y, const int64_t *st, const int64_t *pd,
                       const int64_t *dl, int64_t groups, int mode, double *acc) {
    int64_t N = x->dims[0], C = x->dims[1], H = x->dims[2], W = x->dims[3];
    int64_t O = w->dims[0], Cg = w->dims[1], KH = w->dims[2], KW = w->dims[3], OH = y->dims[2], OW = y->dims[3];
    int64_t Og = O / groups;
    for (int64_t n = 0; n < N; n++)
        for (int64_t o = 0; o < O; o++)
            for (int64_t oh = 0; oh < OH; oh++)
                for (int64_t ow = 0; ow < OW; ow++) {
                    int64_t iy[4] = {n, o, oh, ow};
                    double gy = mode ? fk_getf(y, iy) : 0, sum = 0;
                    for (int64_t c = 0; c < Cg; c++)
                        for (int64_t kh = 0; kh < KH; kh++)
                            for (int64_t kw = 0; kw < KW; kw++) {
                                int64_t h = oh * st[0] - pd[0] + kh * dl[0], ww = ow * st[1] - pd[1] + kw * dl[1];
                                if (h < 0 || h >= H || ww < 0 || ww >= W)
                                    continue;
                                int64_t ci = (o / Og) * Cg + c, ix[4] = {n, ci, h, ww}, iw[4] = {o, c, kh, kw};
                                if (mode == 0)
                                    sum += fk_getf(x, ix) * fk_getf(w, iw);
                                else if (mode == 1)
                                    acc[((n * C + ci) * H + h) * W + ww] += gy * fk_getf(w, iw);
                                else
                                    acc[((o * Cg + c) * KH + kh) * KW + kw] += gy * fk_getf(x, ix);
                            }
                    if (mode == 0)
                        fk_putf(y, iy, sum);
                }
}

static void put_all(const FTensor *t, const double *v) {
    int64_t idx[FMAX_DIMS], n = fk_numel(t);
    for (int64_t l = 0; l < n; l++) {
        unravel(l, t->ndim, t->dims, idx);
        fk_putf(t, idx, v[l]);
    }
}

void k_conv(FExec *e) { /* (input, weight, bias, stride, padding, dilation, ..., groups, output) */
    conv_loops(&e->t[0], &e->t[1], &e->t[3], e->a[0].v, e->a[1].v, e->a[2].v, e->i[0], 0, NULL);
}

void k_conv_bwd(FExec *e) { /* (gradOutput, input, weight, ..., gradInput, gradWeight, gradBias) */
    const FTensor *gy = &e->t[0], *x = &e->t[1], *w = &e->t[2];
    for (int which = 0; which < 2; which++) {
        if (!e->mask.v[which] || !e->present[3 + which])
            continue;
        const FTensor *g = &e->t[3 + which];
        double *acc = calloc((size_t)(fk_numel(g) ? fk_numel(g) : 1), sizeof(double));
        conv_loops(x, w, gy, e->a[0].v, e->a[1].v, e->a[2].v, e->i[0], 1 + which, acc);
        put_all(g, acc);
        free(acc);
    }
}

/* ---- gather, scatter, index ------------------------------------------------------------ */

void k_gather(FExec *e) { /* (self, dim, index, out) */
    const FTensor *x = &e->t[0], *ix = &e->t[1], *o = &e->t[2];
    int64_t d = wrap_dim(e->i[0], x->ndim), idx[FMAX_DIMS], src[FMAX_DIMS], n = fk_numel(o);
    for (int64_t l = 0; l < n; l++) {
        unravel(l, o->ndim, o->dims, idx);
        memcpy(src, idx, sizeof src);
        src[d] = fk_geti(ix, idx);
        move(o, idx, x, src);
    }
}

void k_index_select(FExec *e) { /* (self, dim, index (1-d), out) */
    const FTensor *x = &e->t[0], *ix = &e->t[1], *o = &e->t[2];
    int64_t d = wrap_dim(e->i[0], x->ndim), idx[FMAX_DIMS], src[FMAX_DIMS], n = fk_numel(o);
    for (int64_t l = 0; l < n; l++) {
        unravel(l, o->ndim, o->dims, idx);
        memcpy(src, idx, sizeof src);
        src[d] = fk_geti(ix, &idx[d]);
        move(o, idx, x, src);
    }
}

static void copy_all(const FTensor *o, const FTensor *x) {
    int64_t idx[FMAX_DIMS], n = fk_numel(o);
    for (int64_t l = 0; l < n; l++) {
        unravel(l, o->ndim, o->dims, idx);
        move(o, idx, x, idx);
    }
}

static void add_into(const FTensor *o, const int64_t *at, const FTensor *s, const int64_t *sidx, double alpha, int64_t ialpha) {
    if (fk_isfloat(o->dtype))
        fk_putf(o, at, fk_getf(o, at) + alpha * fk_getf(s, sidx));
    else
        fk_puti(o, at, (int64_t)((uint64_t)fk_geti(o, at) + (uint64_t)ialpha * (uint64_t)fk_geti(s, sidx)));
}

void k_scatter(FExec *e) { /* Scatter (self, dim, index, src, reduce, out); ScatterAdd (self, dim, index, src, out) */
    const FTensor *x = &e->t[0], *ix = &e->t[1], *s = &e->t[2], *o = &e->t[3];
    int add = !strcmp(e->op, "aclnnScatterAdd") || (e->ni > 1 && e->i[1] == 1);
    int64_t d = wrap_dim(e->i[0], x->ndim), idx[FMAX_DIMS], at[FMAX_DIMS], n = fk_numel(ix);
    copy_all(o, x);
    for (int64_t l = 0; l < n; l++) {
        unravel(l, ix->ndim, ix->dims, idx);
        memcpy(at, idx, sizeof at);
        at[d] = fk_geti(ix, idx);
        if (add)
            add_into(o, at, s, idx, 1, 1);
        else
            move(o, at, s, idx);
    }
}

void k_index_add(FExec *e) { /* (self, dim, index, source, alpha, out) */
    const FTensor *x = &e->t[0], *ix = &e->t[1], *s = &e->t[2], *o = &e->t[3];
    int64_t d = wrap_dim(e->i[0], x->ndim), idx[FMAX_DIMS], at[FMAX_DIMS], n = fk_numel(s);
    copy_all(o, x);
    for (int64_t l = 0; l < n; l++) {
        unravel(l, s->ndim, s->dims, idx);
        memcpy(at, idx, sizeof at);
        at[d] = fk_geti(ix, &idx[d]);
        add_into(o, at, s, idx, e->s[0].f, e->s[0].i);
    }
}

/* x's index for element `j` of the index tensors (shape I) and trailing index `rest` */
static void advanced(const FExec *e, const FTensor *x, const int64_t *ji, const int64_t *rest, int64_t *xi) {
    int k = e->list_n;
    for (int m = 0; m < k; m++) {
        int64_t v = fk_geti(&e->t[e->list_first + m], ji);
        xi[m] = v < 0 ? v + x->dims[m] : v;
    }
    for (int m = k; m < x->ndim; m++)
        xi[m] = rest[m - k];
}

void k_index(FExec *e) { /* (self, indices, out): out = I + self.shape[k:] */
    const FTensor *x = &e->t[0], *o = &e->t[e->list_first + e->list_n], *i0 = &e->t[e->list_first];
    int64_t idx[FMAX_DIMS], xi[FMAX_DIMS], n = fk_numel(o);
    for (int64_t l = 0; l < n; l++) {
        unravel(l, o->ndim, o->dims, idx);
        advanced(e, x, idx, idx + i0->ndim, xi);
        move(o, idx, x, xi);
    }
}

void k_index_put(FExec *e) { /* (selfRef, indices, values, accumulate, unsafe), in place */
    const FTensor *x = &e->t[0], *i0 = &e->t[e->list_first], *v = &e->t[e->list_first + e->list_n];
    int64_t I = fk_numel(i0), tail[FMAX_DIMS], nt = 1, ji[FMAX_DIMS], rest[FMAX_DIMS], xi[FMAX_DIMS], vi[FMAX_DIMS];
    int tn = x->ndim - e->list_n;
    for (int m = 0; m < tn; m++)
        tail[m] = x->dims[e->list_n + m], nt *= tail[m];
    for (int64_t j = 0; j < I; j++) {
        unravel(j, i0->ndim, i0->dims, ji);
        for (int64_t r = 0; r < nt; r++) {
            unravel(r, tn, tail, rest);
            advanced(e, x, ji, rest, xi);
            int64_t full[FMAX_DIMS];
            memcpy(full, ji, sizeof(int64_t) * (size_t)i0->ndim);
            memcpy(full + i0->ndim, rest, sizeof(int64_t) * (size_t)tn);
            for (int k = 0; k < v->ndim; k++) /* values broadcast from the right */
                vi[k] = v->dims[k] == 1 ? 0 : full[i0->ndim + tn - v->ndim + k];
            if (e->b[0])
                add_into(x, xi, v, vi, 1, 1);
            else
                move(x, xi, v, vi);
        }
    }
}

/* ---- sort and top-k -------------------------------------------------------------------- */

typedef struct item { double f; int64_t i, at; } item;
static int g_desc, g_float;

/* NaN sorts as the largest; ties keep their order (the merge sort below is stable) */
static int before(const item *a, const item *b) {
    if (g_float) {
        int an = isnan(a->f), bn = isnan(b->f);
        if (an || bn)
            return g_desc ? an && !bn : !an && bn;
        return g_desc ? a->f > b->f : a->f < b->f;
    }
    return g_desc ? a->i > b->i : a->i < b->i;
}

static void merge_sort(item *v, item *tmp, int64_t n) {
    if (n < 2)
        return;
    int64_t h = n / 2, i = 0, j = h, k = 0;
    merge_sort(v, tmp, h);
    merge_sort(v + h, tmp, n - h);
    while (i < h || j < n)
        tmp[k++] = (j >= n || (i < h && !before(&v[j], &v[i]))) ? v[i++] : v[j++];
    memcpy(v, tmp, (size_t)n * sizeof *v);
}

void k_sort(FExec *e) {
    /* Sort (self, stable, dim, descending, values, indices); Topk (self, k, dim, largest, sorted, values, indices) */
    int topk = !strcmp(e->op, "aclnnTopk");
    const FTensor *x = &e->t[0], *vo = &e->t[1], *io = &e->t[2];
    int64_t d = wrap_dim(topk ? e->i[1] : e->i[0], x->ndim), k = topk ? e->i[0] : (x->ndim ? x->dims[d] : 1);
    int64_t lines[FMAX_DIMS], idx[FMAX_DIMS], len = x->ndim ? x->dims[d] : 1, nl = 1;
    g_desc = topk ? e->b[0] : e->b[1];
    g_float = fk_isfloat(x->dtype);
    memcpy(lines, x->dims, sizeof lines);
    if (x->ndim)
        lines[d] = 1;
    for (int m = 0; m < x->ndim; m++)
        nl *= lines[m];
    item *v = malloc((size_t)(len + 1) * sizeof *v), *tmp = malloc((size_t)(len + 1) * sizeof *v);
    for (int64_t l = 0; l < nl; l++) {
        unravel(l, x->ndim, lines, idx);
        for (int64_t j = 0; j < len; j++) {
            if (x->ndim)
                idx[d] = j;
            v[j] = (item){g_float ? fk_getf(x, idx) : 0, g_float ? 0 : fk_geti(x, idx), j};
        }
        merge_sort(v, tmp, len);
        for (int64_t j = 0; j < k; j++) {
            if (x->ndim)
                idx[d] = j;
            int64_t src[FMAX_DIMS];
            memcpy(src, idx, sizeof src);
            if (x->ndim)
                src[d] = v[j].at;
            move(vo, idx, x, src);
            fk_puti(io, idx, v[j].at);
        }
    }
    free(v);
    free(tmp);
}
