/* launch_ctx.h: one launch's state in aclnn_ops.c: the descriptors it created (all destroyed
 * at the end), its scratch memory (released stream-ordered), the write-backs of outputs with
 * negative strides, and what an error message names. */
#ifndef ASC_LAUNCH_CTX_H
#define ASC_LAUNCH_CTX_H

#include "ascend.h"

#define ASC_MAX_OBJS 96
#define ASC_MAX_SCRATCH 16
#define ASC_MAX_POST 4

enum { OBJ_TENSOR, OBJ_SCALAR, OBJ_INTS, OBJ_BOOLS, OBJ_LIST, OBJ_OWNED };

typedef struct asc_ctx {
    int32_t device;
    aclrtStream stream;
    const ds_op *op;
    const ds_tensor_desc *t;
    int32_t n;
    int32_t way_arg;
    ds_status status; /* the first failure; later steps are skipped */
    void *objs[ASC_MAX_OBJS];
    int32_t kinds[ASC_MAX_OBJS];
    int32_t n_objs;
    void *scratch[ASC_MAX_SCRATCH];
    uint64_t scratch_bytes[ASC_MAX_SCRATCH];
    int32_t n_scratch;
    /* outputs computed into scratch, flipped into their view afterwards */
    aclTensor *post_src[ASC_MAX_POST], *post_dst[ASC_MAX_POST];
    aclIntArray *post_dims[ASC_MAX_POST];
    int32_t n_post;
} asc_ctx;

#endif /* ASC_LAUNCH_CTX_H */
