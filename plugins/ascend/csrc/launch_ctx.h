/* launch_ctx.h: one launch's state in aclnn_ops.c: the descriptors it created (all destroyed
 * at the end), its scratch memory (released stream-ordered), the write-backs of outputs with
 * negative strides, and what an error message names. */
#ifndef ASC_LAUNCH_CTX_H
#define ASC_LAUNCH_CTX_H

#include "ascend.h"

#define ASC_MAX_OBJS 1024
#define ASC_MAX_SCRATCH 512
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

#define IS_FLOAT(dt) ((dt) >= DS_FLOAT16)
extern const int32_t ACL_DTYPE[10], DTYPE_SIZE[10];
extern const char *const DTYPE_NAME[10];

/* aclnn_operands.c: each records what it creates in the launch (destroyed by asc_destroy_all)
 * and, after a failure, does nothing and returns NULL */
void asc_keep(asc_ctx *c, void *obj, int32_t kind);
void asc_destroy_all(asc_ctx *c);
aclTensor *asc_view(asc_ctx *c, void *ptr, int32_t dtype, int32_t ndim, const int64_t *shape,
                    const int64_t *strides, int64_t offset);
void asc_contiguous_strides(int32_t ndim, const int64_t *shape, int64_t *strides);
int64_t asc_numel(int32_t ndim, const int64_t *shape);
void *asc_scratch(asc_ctx *c, uint64_t nbytes);
aclTensor *asc_temp(asc_ctx *c, int32_t dtype, int32_t ndim, const int64_t *shape);
aclIntArray *asc_ints(asc_ctx *c, const int64_t *v, uint64_t n);
aclScalar *asc_scalar_i64(asc_ctx *c, int64_t v);
aclScalar *asc_scalar_f64(asc_ctx *c, double v);
aclScalar *asc_scalar_of(asc_ctx *c, const ds_scalar *v);
aclTensor *asc_in(asc_ctx *c, int i);    /* operand i, read */
aclTensor *asc_out(asc_ctx *c, int i);   /* operand i, written */
aclTensor *asc_inout(asc_ctx *c, int i); /* operand i, read and written in place */
/* products.c: operand i's memory with no negative stride (a flipped scratch copy if need be) */
aclTensor *asc_plain(asc_ctx *c, int i, void **ptr, int64_t *strides, int64_t *offset);
void asc_matmul_products(asc_ctx *c);
void asc_conv_products(asc_ctx *c, int which);
/* the second phase of operator k after its first phase answered s, ws_size, ex */
void asc_run(asc_ctx *c, int32_t k, aclnnStatus s, uint64_t ws_size, aclOpExecutor *ex);

/* the type of a first phase taking these arguments, then workspaceSize and executor */
#define FN(...) aclnnStatus (*)(__VA_ARGS__, uint64_t *, aclOpExecutor **)
#define CALL(k, TYPE, ...)                                                                                   \
    do {                                                                                                     \
        if (c->status)                                                                                       \
            break;                                                                                           \
        if (!ASC.workspace_fn[k]) {                                                                          \
            c->status = asc_fail(DS_ERROR_NOT_IMPLEMENTED, "%s is not in this CANN install", ASC_OPERATORS[k]); \
            break;                                                                                           \
        }                                                                                                    \
        uint64_t ws_ = 0;                                                                                    \
        aclOpExecutor *ex_ = NULL;                                                                           \
        aclnnStatus s_ = ((TYPE)ASC.workspace_fn[k])(__VA_ARGS__, &ws_, &ex_);                              \
        asc_run(c, k, s_, ws_, ex_);                                                                         \
    } while (0)

typedef const aclTensor *cT;
typedef aclTensor *oT;


#endif /* ASC_LAUNCH_CTX_H */
