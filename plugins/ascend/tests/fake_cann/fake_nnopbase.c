/* fake_nnopbase.c: libnnopbase.so of the fake CANN: aclCreate... and aclDestroy... of tensors,
 * scalars, int and bool arrays and tensor lists, checked as CANN documents them (a null
 * pointer or a bad dtype gives NULL and a message; destroying twice fails). Every create and
 * destroy is logged with the object's id, so a test can pair them. Objects are never freed:
 * a destroyed one stays marked dead, so a later use of it is caught. */
#include <stdlib.h>
#include <string.h>

#include "fake_cann.h"

void *aclCreateTensor(const int64_t *dims, uint64_t nd, int dtype, const int64_t *strides, int64_t offset,
                      int format, const int64_t *sdims, uint64_t snd, void *data) {
    const char *bad = NULL;
    if ((nd && (!dims || !strides)) || (snd && !sdims))
        bad = "viewDims, stride or storageDims is nullptr";
    else if (nd > FMAX_DIMS || snd > FMAX_DIMS)
        bad = "more than 16 dims";
    else if (!fake_dtype_size(dtype))
        bad = "unsupported dataType";
    for (uint64_t k = 0; k < nd && !bad; k++)
        if (dims[k] < 0)
            bad = "a negative view dim";
    if (bad) {
        fake_error(E_INVALID, "EZ1001: aclCreateTensor: %s", bad);
        fake_log("aclCreateTensor id=0 -> %d", E_INVALID);
        return NULL;
    }
    FTensor *t = calloc(1, sizeof *t);
    t->magic = M_TENSOR, t->id = fake_next_id(), t->alive = 1;
    t->ndim = (int32_t)nd, t->dtype = dtype, t->format = format, t->offset = offset, t->data = data;
    memcpy(t->dims, dims, nd * sizeof(int64_t));
    memcpy(t->strides, strides, nd * sizeof(int64_t));
    t->storage = 1;
    for (uint64_t k = 0; k < snd; k++)
        t->storage *= sdims[k];
    fake_log("aclCreateTensor id=%d ndim=%d dtype=%d offset=%lld storage=%lld -> 0", t->id, t->ndim, dtype,
             (long long)offset, (long long)t->storage);
    return t;
}

void *aclCreateScalar(void *value, int dtype) {
    if (!value || !fake_dtype_size(dtype)) {
        fake_error(value ? E_INVALID : E_NULLPTR, "EZ1001: aclCreateScalar: %s", value ? "unsupported dataType" : "value is nullptr");
        fake_log("aclCreateScalar id=0 -> %d", value ? E_INVALID : E_NULLPTR);
        return NULL;
    }
    FScalar *s = calloc(1, sizeof *s);
    s->magic = M_SCALAR, s->id = fake_next_id(), s->alive = 1, s->dtype = dtype;
    switch (dtype) {
    case F_DOUBLE: s->f = *(double *)value; s->i = (int64_t)s->f; break;
    case F_FLOAT: s->f = *(float *)value; s->i = (int64_t)s->f; break;
    case F_INT64: s->i = *(int64_t *)value; s->f = (double)s->i; break;
    case F_INT32: s->i = *(int32_t *)value; s->f = (double)s->i; break;
    case F_BOOL: s->i = *(bool *)value; s->f = (double)s->i; break;
    default:
        fake_error(E_INVALID, "EZ1001: aclCreateScalar: dataType %d is not modelled by the fake", dtype);
        free(s);
        fake_log("aclCreateScalar id=0 -> %d", E_INVALID);
        return NULL;
    }
    fake_log("aclCreateScalar id=%d dtype=%d -> 0", s->id, dtype);
    return s;
}

void *aclCreateIntArray(const int64_t *v, uint64_t n) {
    if (!v || n > 64) {
        fake_error(v ? E_INVALID : E_NULLPTR, "EZ1001: aclCreateIntArray: value is nullptr or too long");
        fake_log("aclCreateIntArray id=0 -> %d", v ? E_INVALID : E_NULLPTR);
        return NULL;
    }
    FIntArray *a = calloc(1, sizeof *a);
    a->magic = M_INTS, a->id = fake_next_id(), a->alive = 1, a->n = (int64_t)n;
    memcpy(a->v, v, n * sizeof(int64_t));
    fake_log("aclCreateIntArray id=%d size=%llu -> 0", a->id, (unsigned long long)n);
    return a;
}

void *aclCreateBoolArray(const bool *v, uint64_t n) {
    if (!v || n > 16) {
        fake_error(v ? E_INVALID : E_NULLPTR, "EZ1001: aclCreateBoolArray: value is nullptr or too long");
        fake_log("aclCreateBoolArray id=0 -> %d", v ? E_INVALID : E_NULLPTR);
        return NULL;
    }
    FBoolArray *a = calloc(1, sizeof *a);
    a->magic = M_BOOLS, a->id = fake_next_id(), a->alive = 1, a->n = (int64_t)n;
    memcpy(a->v, v, n * sizeof(bool));
    fake_log("aclCreateBoolArray id=%d size=%llu -> 0", a->id, (unsigned long long)n);
    return a;
}

void *aclCreateTensorList(void *const *v, uint64_t n) {
    int bad = !v || n > 256;
    for (uint64_t i = 0; i < n && !bad; i++)
        bad = !v[i] || ((FTensor *)v[i])->magic != M_TENSOR || !((FTensor *)v[i])->alive || ((FTensor *)v[i])->in_list;
    if (bad) {
        fake_error(E_NULLPTR, "EZ1001: aclCreateTensorList: a tensor is nullptr, destroyed or in another list");
        fake_log("aclCreateTensorList id=0 -> %d", E_NULLPTR);
        return NULL;
    }
    FTensorList *l = calloc(1, sizeof *l);
    l->magic = M_LIST, l->id = fake_next_id(), l->alive = 1, l->n = (int64_t)n;
    for (uint64_t i = 0; i < n; i++) {
        l->v[i] = v[i];
        l->v[i]->in_list = l->id;
    }
    fake_log("aclCreateTensorList id=%d size=%llu -> 0", l->id, (unsigned long long)n);
    return l;
}

#define DESTROY(NAME, TYPE, MAGIC)                                                                  \
    int NAME(const void *p) {                                                                       \
        TYPE *o = (TYPE *)p;                                                                        \
        int rc = 0;                                                                                 \
        if (!o)                                                                                     \
            rc = 0; /* CANN accepts a null pointer */                                               \
        else if (o->magic != MAGIC || !o->alive)                                                    \
            rc = fake_error(E_INVALID, "EZ1001: " #NAME ": not a live object (destroyed twice?)"); \
        else                                                                                        \
            o->alive = 0;                                                                           \
        fake_log(#NAME " id=%d -> %d", o && o->magic == MAGIC ? o->id : 0, rc);                     \
        return rc;                                                                                  \
    }

int aclDestroyTensor(const void *p) {
    FTensor *t = (FTensor *)p;
    int rc = 0;
    if (t && (t->magic != M_TENSOR || !t->alive))
        rc = fake_error(E_INVALID, "EZ1001: aclDestroyTensor: not a live tensor (destroyed twice?)");
    else if (t && t->in_list)
        rc = fake_error(E_INVALID, "EZ1001: aclDestroyTensor: tensor %d belongs to tensor list %d", t->id, t->in_list);
    else if (t)
        t->alive = 0;
    fake_log("aclDestroyTensor id=%d -> %d", t && t->magic == M_TENSOR ? t->id : 0, rc);
    return rc;
}
DESTROY(aclDestroyScalar, FScalar, M_SCALAR)
DESTROY(aclDestroyIntArray, FIntArray, M_INTS)
DESTROY(aclDestroyBoolArray, FBoolArray, M_BOOLS)

int aclDestroyTensorList(const void *p) {
    FTensorList *l = (FTensorList *)p;
    int rc = 0;
    if (l && (l->magic != M_LIST || !l->alive))
        rc = fake_error(E_INVALID, "EZ1001: aclDestroyTensorList: not a live list");
    else if (l) {
        l->alive = 0;
        for (int64_t i = 0; i < l->n; i++) { /* the list owns its tensors */
            l->v[i]->alive = 0;
            fake_log("aclDestroyTensor id=%d via=list -> 0", l->v[i]->id);
        }
    }
    fake_log("aclDestroyTensorList id=%d -> %d", l && l->magic == M_LIST ? l->id : 0, rc);
    return rc;
}
