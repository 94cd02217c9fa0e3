/* reduce.c: sum, prod, amax, amin (k_red, and k_redf over partial results), argmax,
 * argmin and cumsum, cumprod, as deepseek_opencl/ops.py runs them. */
#include <string.h>

#include "launch.h"

/* code: index in kernels.REDUCE; reduces every dim where out has size 1 and x does not */
int ocl_run_reduce(ocl_launch *L) {
    if (L->nt != 2) return OCL_PUNT;
    ocl_tensor *out = &L->t[0], *x = &L->t[1];
    if (out->ndim != x->ndim || out->dtype != x->dtype) return OCL_PUNT;
    int64_t ishape[OCL_MAX_DIMS], istride[OCL_MAX_DIMS], nout = out->numel, nred, zero = 0;
    int nr = 0;
    for (int d = 0; d < x->ndim; ++d) {
        if (out->shape[d] == 1 && x->shape[d] != 1) {
            ishape[nr] = x->shape[d];
            istride[nr++] = x->strides[d];
        } else if (out->shape[d] != x->shape[d]) {
            return OCL_PUNT;
        }
    }
    if (!ocl_supports(L, x->dtype)) return OCL_PUNT;
    if (nout == 0) return OCL_DONE;
    OCL_ANSWER(ocl_prod(ishape, nr, &nred));
    if (nred == 0 && L->code >= 2) return OCL_PUNT; /* amax, amin of nothing */
    int64_t mo[OCL_META_LONGS(2)], mi[OCL_META_LONGS(1)], mf[OCL_META_LONGS(1)];
    const int64_t *so[2] = {out->strides, x->strides}, *si[1] = {istride}, *sf[1] = {out->strides};
    int64_t oo[2] = {out->offset, x->offset};
    OCL_ANSWER(ocl_make_meta(out->shape, out->ndim, 2, so, oo, mo));
    OCL_ANSWER(ocl_make_meta(ishape, nr, 1, si, &zero, mi));
    OCL_ANSWER(ocl_make_meta(out->shape, out->ndim, 1, sf, &out->offset, mf));
    /* few outputs over long rows: P work items per output reduce chunks into partial results */
    int64_t P = 1, chunk;
    if (nout < 1024 && nred >= 8192) {
        P = nred / 2048 < 4096 / nout ? nred / 2048 : 4096 / nout;
        if (P < 1) P = 1;
    }
    chunk = nred ? (nred + P - 1) / P : 0;
    if (chunk) P = (nred + chunk - 1) / chunk;
    ocl_tensor part = {0};
    if (P > 1) {
        cl_int err = CL_SUCCESS;
        part.mem = ocl_cl.clCreateBuffer(ocl_context(L), CL_MEM_READ_WRITE,
                                         (size_t)(nout * P * ocl_acc_size[x->dtype]), NULL, &err);
        if (err != CL_SUCCESS) return OCL_PUNT;
    }
    int32_t code = L->code;
    ocl_arg args[10] = {OCL_MEM(out), OCL_MEM(x), OCL_MEM(&part), {sizeof mo, mo}, {sizeof mi, mi},
                        OCL_LONG(nout), OCL_LONG(nred), OCL_LONG(P), OCL_LONG(chunk), OCL_INT(code)};
    size_t g = ocl_roundup(nout * P, OCL_LS);
    int r = ocl_enqueue(L, x->dtype, OCL_k_red, args, 10, 1, &g, NULL);
    if (r == OCL_DONE && P > 1) {
        ocl_arg fargs[6] = {OCL_MEM(out), OCL_MEM(&part), {sizeof mf, mf}, OCL_LONG(nout), OCL_LONG(P), OCL_INT(code)};
        g = ocl_roundup(nout, OCL_LS);
        r = ocl_enqueue(L, x->dtype, OCL_k_redf, fargs, 6, 1, &g, NULL);
    }
    if (part.mem) ocl_cl.clReleaseMemObject(part.mem); /* OpenCL keeps it until the kernels finish */
    return r;
}

/* argmax, argmin (code 1): out is int64 with size 1 at dim */
int ocl_run_arg_reduce(ocl_launch *L) {
    if (L->nt != 2 || L->attrs == NULL) return OCL_PUNT;
    ocl_tensor *out = &L->t[0], *x = &L->t[1];
    int dim;
    if (out->dtype != DS_INT64) return OCL_PUNT;
    OCL_ANSWER(ocl_dim(((const ds_arg_reduce_attrs *)L->attrs)->dim, x->ndim, &dim));
    ocl_lift(out);
    ocl_lift(x);
    if (out->ndim != x->ndim) return OCL_PUNT;
    for (int d = 0; d < x->ndim; ++d)
        if (out->shape[d] != (d == dim ? 1 : x->shape[d])) return OCL_PUNT;
    if (!ocl_supports(L, x->dtype)) return OCL_PUNT;
    int64_t nout = out->numel, len = x->shape[dim], sx = x->strides[dim];
    if (nout == 0) return OCL_DONE;
    if (len == 0) return OCL_PUNT;
    int64_t mo[OCL_META_LONGS(2)], oo[2] = {out->offset, x->offset};
    const int64_t *so[2] = {out->strides, x->strides};
    OCL_ANSWER(ocl_make_meta(out->shape, out->ndim, 2, so, oo, mo));
    int32_t code = L->code;
    ocl_arg args[7] = {OCL_MEM(out), OCL_MEM(x), {sizeof mo, mo}, OCL_LONG(nout), OCL_LONG(len), OCL_LONG(sx),
                       OCL_INT(code)};
    size_t g = ocl_roundup(nout, OCL_LS);
    return ocl_enqueue(L, x->dtype, OCL_k_argreduce, args, 7, 1, &g, NULL);
}

/* cumsum, cumprod (code 1): one work item per line along dim */
int ocl_run_cumulative(ocl_launch *L) {
    if (L->nt != 2 || L->attrs == NULL) return OCL_PUNT;
    ocl_tensor *out = &L->t[0], *x = &L->t[1];
    int dim;
    if (!ocl_same_shape(out, x) || out->dtype != x->dtype) return OCL_PUNT;
    OCL_ANSWER(ocl_dim(((const ds_cumulative_attrs *)L->attrs)->dim, x->ndim, &dim));
    ocl_lift(out);
    ocl_lift(x);
    if (!ocl_supports(L, x->dtype)) return OCL_PUNT;
    if (x->numel == 0) return OCL_DONE;
    int64_t lines[OCL_MAX_DIMS], n, len = x->shape[dim], so_d = out->strides[dim], sx_d = x->strides[dim];
    memcpy(lines, x->shape, sizeof(int64_t) * x->ndim);
    lines[dim] = 1;
    OCL_ANSWER(ocl_prod(lines, x->ndim, &n));
    int64_t mo[OCL_META_LONGS(2)], oo[2] = {out->offset, x->offset};
    const int64_t *so[2] = {out->strides, x->strides};
    OCL_ANSWER(ocl_make_meta(lines, x->ndim, 2, so, oo, mo));
    int32_t code = L->code;
    ocl_arg args[8] = {OCL_MEM(out), OCL_MEM(x), {sizeof mo, mo}, OCL_LONG(n), OCL_LONG(len), OCL_LONG(so_d),
                       OCL_LONG(sx_d), OCL_INT(code)};
    size_t g = ocl_roundup(n, OCL_LS);
    return ocl_enqueue(L, x->dtype, OCL_k_cumulative, args, 8, 1, &g, NULL);
}
