/* ascend.h: what the files of deepseek_ascend._ascend share (runtime.c: the libraries, the
 * table, memory and streams; aclnn_ops.c: the launch path; host_random.c: the core's random
 * stream on the host). */
#ifndef ASC_ASCEND_H
#define ASC_ASCEND_H

#include <stdint.h>

#include "acl_api.h"
#include "aclnn_table.h"
#include "deepseek_backend.h"

#define ASC_MAX_DEVICES 64

/* The resolved CANN functions. */
typedef struct asc_acl {
#define ASC_FIELD(ret, name, args) ret(*name) args;
    ASC_ACL_FUNCTIONS(ASC_FIELD)
#undef ASC_FIELD
    void *workspace_fn[ASC_N_OPERATORS]; /* <op>GetWorkspaceSize, NULL when missing */
    aclnn_run_fn run_fn[ASC_N_OPERATORS]; /* <op> */
} asc_acl;

extern asc_acl ASC;
extern int32_t asc_way_of[DS_N_OPS]; /* the chosen way of each op, -1: not declared */
extern uint64_t asc_product_bytes;  /* the scratch a decomposed matmul's products may take */

/* Keeps a message for last_error() (printf-style) and returns `status`. */
ds_status asc_fail(ds_status status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* ds_status of an aclError from a runtime call named `what` (out of memory kept apart). */
ds_status asc_acl_check(aclError err, const char *what);

aclrtStream asc_default_stream(int32_t device);
/* Makes `device` current on the calling thread. */
ds_status asc_use_device(int32_t device);
/* Device scratch memory, released once the work queued on `stream` so far has run. */
/* *nbytes in: the size wanted; out: the block's size (a reused block may be larger) */
ds_status asc_scratch_alloc(int32_t device, uint64_t *nbytes, void **ptr, aclrtStream stream);
void asc_scratch_release(int32_t device, void *ptr, uint64_t nbytes, aclrtStream stream);

ds_status asc_launch(int32_t device, const ds_op *op, const ds_tensor_desc *tensors, int32_t n, void *stream);

/* host_random.c: out (contiguous, numel n) gets op's values of the core's stream. */
int32_t asc_host_random(int32_t op_id, const ds_random_attrs *a, int32_t dtype, int64_t n, void *out);
/* n uniforms in [0, 1) of the core's stream, as float64 */
void asc_host_uniform(uint64_t seed, uint64_t offset, int64_t n, double *out);

#endif /* ASC_ASCEND_H */
