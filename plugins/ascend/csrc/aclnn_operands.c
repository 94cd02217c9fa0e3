/* aclnn_operands.c: a launch's operands as aclnn descriptors (aclCreateTensor with shape,
 * strides and offset, so views are not copied; negative-stride views flipped into scratch),
 * scalars and int arrays, all destroyed at the end of the launch; scratch memory released
 * stream-ordered; running an operator's second phase; error messages. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "launch_ctx.h"

const int32_t ACL_DTYPE[10] = {ACL_BOOL, ACL_UINT8, ACL_INT8, ACL_INT16, ACL_INT32,
                                      ACL_INT64, ACL_FLOAT16, ACL_BF16, ACL_FLOAT, ACL_DOUBLE};
const char *const DTYPE_NAME[10] = {"bool", "uint8", "int8", "int16", "int32",
                                           "int64", "float16", "bfloat16", "float32", "float64"};
const int32_t DTYPE_SIZE[10] = {1, 1, 1, 2, 4, 8, 2, 2, 4, 8};


/* ---- errors ---------------------------------------------------------------------------- */

const char *asc_status_name(aclnnStatus s) {
    switch (s) {
    case ACLNN_ERR_PARAM_NULLPTR: return "ACLNN_ERR_PARAM_NULLPTR";
    case ACLNN_ERR_PARAM_INVALID: return "ACLNN_ERR_PARAM_INVALID";
    case ACLNN_ERR_RUNTIME_ERROR: return "ACLNN_ERR_RUNTIME_ERROR";
    case ACLNN_ERR_INNER: return "ACLNN_ERR_INNER";
    default: return "aclnn error";
    }
}

/* "float32[2, 3]" for each operand of the launch, outputs first */
void asc_describe(const asc_ctx *c, char *buf, size_t cap) {
    size_t at = 0;
    for (int i = 0; i < c->n && at + 32 < cap; i++) {
        const ds_tensor_desc *d = &c->t[i];
        const char *dt = d->dtype >= 0 && d->dtype < 10 ? DTYPE_NAME[d->dtype] : "?";
        at += (size_t)snprintf(buf + at, cap - at, "%s%s[", i ? ", " : "", dt);
        for (int k = 0; k < d->ndim && at + 24 < cap; k++)
            at += (size_t)snprintf(buf + at, cap - at, "%s%lld", k ? ", " : "", (long long)d->shape[k]);
        if (at + 2 < cap)
            at += (size_t)snprintf(buf + at, cap - at, "]");
    }
}

void asc_fail_aclnn(asc_ctx *c, int32_t k, const char *phase, aclnnStatus s) {
    char ops[1024] = "";
    asc_describe(c, ops, sizeof ops);
    const char *m = ASC.aclGetRecentErrMsg ? ASC.aclGetRecentErrMsg() : NULL;
    c->status = asc_fail(DS_ERROR, "%s%s returned %d (%s) on %s: %s", ASC_OPERATORS[k], phase, s, asc_status_name(s), ops,
                         m && *m ? m : "no message from aclGetRecentErrMsg");
}

/* ---- descriptors ----------------------------------------------------------------------- */

void asc_keep(asc_ctx *c, void *obj, int32_t kind) {
    if (!obj) {
        if (!c->status) {
            const char *m = ASC.aclGetRecentErrMsg ? ASC.aclGetRecentErrMsg() : NULL;
            c->status = asc_fail(DS_ERROR, "creating an aclnn descriptor failed: %s", m && *m ? m : "no message");
        }
        return;
    }
    if (c->n_objs == ASC_MAX_OBJS) {
        c->status = asc_fail(DS_ERROR_NOT_IMPLEMENTED, "too many descriptors for one launch");
        return;
    }
    c->objs[c->n_objs] = obj;
    c->kinds[c->n_objs++] = kind;
}

void asc_destroy_all(asc_ctx *c) {
    for (int i = c->n_objs - 1; i >= 0; i--) {
        switch (c->kinds[i]) {
        case OBJ_TENSOR: ASC.aclDestroyTensor(c->objs[i]); break;
        case OBJ_SCALAR: ASC.aclDestroyScalar(c->objs[i]); break;
        case OBJ_INTS: ASC.aclDestroyIntArray(c->objs[i]); break;
        case OBJ_BOOLS: ASC.aclDestroyBoolArray(c->objs[i]); break;
        case OBJ_LIST: ASC.aclDestroyTensorList(c->objs[i]); break; /* and the tensors in it */
        default: break;
        }
    }
    c->n_objs = 0;
}

aclTensor *asc_view(asc_ctx *c, void *ptr, int32_t dtype, int32_t ndim, const int64_t *shape,
                       const int64_t *strides, int64_t offset) {
    int64_t extent = offset + 1, none = 0;
    for (int k = 0; k < ndim; k++) {
        if (shape[k] == 0)
            extent = offset;
        if (extent > offset)
            extent += (shape[k] - 1) * strides[k];
    }
    aclTensor *t = ASC.aclCreateTensor(ndim ? shape : &none, (uint64_t)ndim, ACL_DTYPE[dtype], ndim ? strides : &none,
                                       offset, ACL_FORMAT_ND, &extent, 1, ptr);
    asc_keep(c, t, OBJ_TENSOR);
    return t;
}

void asc_contiguous_strides(int32_t ndim, const int64_t *shape, int64_t *strides) {
    int64_t s = 1;
    for (int k = ndim - 1; k >= 0; k--) {
        strides[k] = s;
        s *= shape[k] > 0 ? shape[k] : 1;
    }
}

int64_t asc_numel(int32_t ndim, const int64_t *shape) {
    int64_t n = 1;
    for (int k = 0; k < ndim; k++)
        n *= shape[k];
    return n;
}

void *asc_scratch(asc_ctx *c, uint64_t nbytes) {
    void *p = NULL;
    if (c->status)
        return NULL;
    if (c->n_scratch == ASC_MAX_SCRATCH) {
        c->status = asc_fail(DS_ERROR_NOT_IMPLEMENTED, "too many scratch blocks for one launch");
        return NULL;
    }
    c->status = asc_scratch_alloc(c->device, &nbytes, &p, c->stream);
    if (c->status)
        return NULL;
    c->scratch[c->n_scratch] = p;
    c->scratch_bytes[c->n_scratch++] = nbytes;
    return p;
}

/* A contiguous scratch tensor of `shape`. */
aclTensor *asc_temp(asc_ctx *c, int32_t dtype, int32_t ndim, const int64_t *shape) {
    int64_t strides[16];
    asc_contiguous_strides(ndim, shape, strides);
    void *p = asc_scratch(c, (uint64_t)asc_numel(ndim, shape) * DTYPE_SIZE[dtype]);
    return c->status ? NULL : asc_view(c, p, dtype, ndim, shape, strides, 0);
}

aclIntArray *asc_ints(asc_ctx *c, const int64_t *v, uint64_t n) {
    int64_t none = 0;
    aclIntArray *a = ASC.aclCreateIntArray(n ? v : &none, n);
    asc_keep(c, a, OBJ_INTS);
    return a;
}

aclScalar *asc_scalar_i64(asc_ctx *c, int64_t v) {
    aclScalar *s = ASC.aclCreateScalar(&v, ACL_INT64);
    asc_keep(c, s, OBJ_SCALAR);
    return s;
}

aclScalar *asc_scalar_f64(asc_ctx *c, double v) {
    aclScalar *s = ASC.aclCreateScalar(&v, ACL_DOUBLE);
    asc_keep(c, s, OBJ_SCALAR);
    return s;
}

aclScalar *asc_scalar_of(asc_ctx *c, const ds_scalar *v) {
    if (v->kind == DS_SCALAR_FLOAT)
        return asc_scalar_f64(c, v->value.f);
    if (v->kind == DS_SCALAR_BOOL) {
        bool b = v->value.i != 0;
        aclScalar *s = ASC.aclCreateScalar(&b, ACL_BOOL);
        asc_keep(c, s, OBJ_SCALAR);
        return s;
    }
    return asc_scalar_i64(c, v->value.i);
}

/* ---- running an operator --------------------------------------------------------------- */

/* The second phase: workspace from scratch memory, <op> on the stream. The workspace is
 * released stream-ordered, once the stream has run the op. */
void asc_run(asc_ctx *c, int32_t k, aclnnStatus s, uint64_t ws_size, aclOpExecutor *ex) {
    if (s != 0) {
        asc_fail_aclnn(c, k, "GetWorkspaceSize", s);
        return;
    }
    void *ws = ws_size ? asc_scratch(c, ws_size) : NULL;
    if (c->status)
        return;
    s = ASC.run_fn[k](ws, ws_size, ex, c->stream);
    if (s != 0)
        asc_fail_aclnn(c, k, "", s);
}

/* ---- operands -------------------------------------------------------------------------- */

/* Operand i of the launch as an aclTensor. aclnn takes non-negative strides only: a view
 * with negative ones is described over the same memory with positive strides and flipped
 * (aclnnFlip) into contiguous scratch. */
aclTensor *asc_in(asc_ctx *c, int i) {
    const ds_tensor_desc *d = &c->t[i];
    int64_t strides[16] = {0}, dims[16], off = d->offset;
    int32_t nd = 0;
    if (c->status)
        return NULL;
    for (int k = 0; k < d->ndim; k++) {
        strides[k] = d->strides[k];
        if (strides[k] < 0) {
            strides[k] = -strides[k];
            if (d->shape[k] > 1) {
                off -= (d->shape[k] - 1) * strides[k];
                dims[nd++] = k;
            }
        }
    }
    aclTensor *v = asc_view(c, d->ptr, d->dtype, d->ndim, d->shape, strides, off);
    if (nd == 0 || asc_numel(d->ndim, d->shape) == 0)
        return v;
    aclTensor *tmp = asc_temp(c, d->dtype, d->ndim, d->shape);
    aclIntArray *fd = asc_ints(c, dims, (uint64_t)nd);
    CALL(ASC_OPERATOR_FLIP, FN(cT, const aclIntArray *, oT), v, fd, tmp);
    return tmp;
}

/* Output i: written in place when its strides are non-negative, else computed into scratch
 * and flipped into the view after the op. */
aclTensor *asc_out(asc_ctx *c, int i) {
    const ds_tensor_desc *d = &c->t[i];
    int64_t strides[16] = {0}, dims[16], off = d->offset;
    int32_t nd = 0;
    if (c->status)
        return NULL;
    for (int k = 0; k < d->ndim; k++) {
        strides[k] = d->strides[k];
        if (strides[k] < 0) {
            strides[k] = -strides[k];
            if (d->shape[k] > 1) {
                off -= (d->shape[k] - 1) * strides[k];
                dims[nd++] = k;
            }
        }
    }
    aclTensor *v = asc_view(c, d->ptr, d->dtype, d->ndim, d->shape, strides, off);
    if (nd == 0)
        return v;
    if (c->n_post == ASC_MAX_POST) {
        c->status = asc_fail(DS_ERROR_NOT_IMPLEMENTED, "too many flipped outputs");
        return NULL;
    }
    aclTensor *tmp = asc_temp(c, d->dtype, d->ndim, d->shape);
    c->post_src[c->n_post] = tmp;
    c->post_dst[c->n_post] = v;
    c->post_dims[c->n_post++] = asc_ints(c, dims, (uint64_t)nd);
    return tmp;
}

/* An operand that is both read and written in place (an in-place operator's selfRef). */
aclTensor *asc_inout(asc_ctx *c, int i) { return asc_out(c, i); }
